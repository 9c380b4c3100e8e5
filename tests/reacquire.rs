//! A non-reentrant lock re-acquired by the unit that holds it: the blocking
//! forms always panicked ("already holds"); an async acquire by a task with
//! a known identity (inside `identified(..)`, or a registered task identity)
//! must fail the same loud way instead of waiting forever. Different tasks
//! on one thread, and tasks without an identity, still just wait.
//!
//! (tokio tasks after `polysync_tokio::install()`: backends/tokio/tests/reacquire.rs.)

use futures_lite::future::{block_on, poll_once, zip};
use polysync::lowlevel::identified;
use polysync::{Condition, Lock, Mutex};

#[path = "support/panics.rs"]
mod panics;
#[path = "support/worlds.rs"]
mod worlds;
use panics::expect_panic;
use worlds::Watchdog;

#[test]
fn identified_task_reacquiring_a_lock_asynchronously_panics() {
    let _w = Watchdog::new("reacquire lock", std::time::Duration::from_secs(30));
    let lock = Lock::new();
    expect_panic(
        || {
            block_on(identified(async {
                let _held = lock.acquire().await;
                // Polled once: without the check it stays Pending forever.
                poll_once(lock.acquire()).await.map(drop)
            }))
        },
        &["Lock::acquire", "already holds"],
    );
    assert!(!lock.is_locked(), "the guard was released while unwinding");
    assert_eq!(lock.waiting(), 0);
}

#[test]
fn identified_task_reacquiring_a_mutex_asynchronously_panics() {
    let _w = Watchdog::new(
        "identified_task_reacquiring_a_mutex_asynchronously_panics",
        std::time::Duration::from_secs(30),
    );
    let mutex = Mutex::new(0);
    expect_panic(
        || {
            block_on(identified(async {
                let mut held = mutex.lock().await;
                *held += 1;
                poll_once(mutex.lock()).await.map(drop)
            }))
        },
        &["Mutex::lock", "already holds"],
    );
    assert!(!mutex.is_locked());
    assert_eq!(mutex.into_inner(), 1);
}

#[test]
fn every_mix_of_blocking_and_async_forms_is_caught() {
    let _w = Watchdog::new(
        "every_mix_of_blocking_and_async_forms_is_caught",
        std::time::Duration::from_secs(30),
    );
    let lock = Lock::new();
    // Taken with `try_acquire` inside the task (the task is the unit), then async.
    expect_panic(
        || {
            block_on(identified(async {
                let _held = lock.try_acquire().unwrap();
                poll_once(lock.acquire()).await.map(drop)
            }))
        },
        &["Lock::acquire", "already holds"],
    );
    // Taken async, then a blocking form inside the same task.
    expect_panic(
        || {
            block_on(identified(async {
                let _held = lock.acquire().await;
                lock.try_acquire_for(std::time::Duration::from_secs(5))
                    .map(drop)
            }))
        },
        &["already holds"],
    );
    let mutex = Mutex::new(());
    expect_panic(
        || {
            block_on(identified(async {
                let _held = mutex.lock().await;
                drop(mutex.lock_blocking());
            }))
        },
        &["Mutex::lock_blocking", "already holds"],
    );
    assert!(!lock.is_locked());
    assert!(!mutex.is_locked());
}

#[test]
fn a_lock_handed_back_by_a_condition_still_knows_its_task() {
    let _w = Watchdog::new(
        "a_lock_handed_back_by_a_condition_still_knows_its_task",
        std::time::Duration::from_secs(30),
    );
    let (lock, cond) = (Lock::new(), Condition::new());
    expect_panic(
        || {
            block_on(identified(async {
                let guard = lock.acquire().await;
                let (guard, ()) = zip(cond.wait(guard), async {
                    while cond.notify(1) == 0 {
                        futures_lite::future::yield_now().await;
                    }
                })
                .await;
                let _held = guard;
                poll_once(lock.acquire()).await.map(drop)
            }))
        },
        &["Lock::acquire", "already holds"],
    );
    assert!(!lock.is_locked());
}

#[test]
fn two_identified_tasks_on_one_thread_still_wait_for_each_other() {
    let _w = Watchdog::new(
        "two_identified_tasks_on_one_thread_still_wait_for_each_other",
        std::time::Duration::from_secs(30),
    );
    let lock = Lock::new();
    let mutex = Mutex::new(Vec::new());
    let (first, second) = block_on(zip(
        identified(async {
            let held = lock.acquire().await;
            let mut data = mutex.lock().await;
            // Let the other task run into the held lock and mutex.
            for _ in 0..10 {
                futures_lite::future::yield_now().await;
            }
            data.push(1);
            drop(data);
            drop(held);
            "first"
        }),
        identified(async {
            futures_lite::future::yield_now().await;
            assert!(lock.is_locked(), "the other task holds it now");
            let _held = lock.acquire().await; // waits, no panic
            mutex.lock().await.push(2);
            "second"
        }),
    ));
    assert_eq!((first, second), ("first", "second"));
    assert_eq!(mutex.into_inner(), vec![1, 2]);
    assert!(!lock.is_locked());
}

#[test]
fn tasks_without_identity_wait_and_are_never_blamed() {
    let _w = Watchdog::new(
        "tasks_without_identity_wait_and_are_never_blamed",
        std::time::Duration::from_secs(30),
    );
    let lock = Lock::new();
    block_on(async {
        let held = lock.acquire().await;
        // Same thread, no identity: nothing to compare, so it waits.
        assert!(poll_once(lock.acquire()).await.is_none());
        drop(held);
        let _again = lock.acquire().await;
    });
    // A task that released the lock may take it again.
    block_on(identified(async {
        drop(lock.acquire().await);
        let _again = lock.acquire().await;
        assert!(lock.is_locked());
    }));
    // And the thread that polled an identified task is not its owner.
    let held = block_on(identified(async { lock.acquire().await }));
    std::thread::scope(|s| {
        s.spawn(|| assert!(lock.try_acquire().is_none()));
    });
    assert!(
        lock.try_acquire_for(std::time::Duration::from_millis(1))
            .is_none()
    );
    drop(held);
    assert!(!lock.is_locked());
}
