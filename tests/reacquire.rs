//! A non-reentrant lock re-acquired by the unit that holds it: a blocking
//! form panics ("already holds"), also inside a task with a known identity
//! (inside `identified(..)`, or a registered task identity) that holds it
//! through an async acquisition: blocking there can only deadlock. An async
//! acquire by that task never panics: another branch of the same task
//! (`join!`, `select!`) may hold the lock and release it, so it waits
//! (no false positives; tests/async_branches.rs). Different tasks on one
//! thread, and tasks without an identity, just wait.
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
fn identified_task_reacquiring_a_lock_asynchronously_waits() {
    let _w = Watchdog::new("reacquire lock", std::time::Duration::from_secs(30));
    let lock = Lock::new();
    block_on(identified(async {
        let held = lock.acquire().await;
        // Another branch of this task could hold it: wait, do not panic.
        assert!(poll_once(lock.acquire()).await.is_none());
        drop(held);
        let _again = lock.acquire().await;
    }));
    assert!(!lock.is_locked());
    assert_eq!(lock.waiting(), 0);
}

#[test]
fn identified_task_reacquiring_a_mutex_asynchronously_waits() {
    let _w = Watchdog::new(
        "identified_task_reacquiring_a_mutex_asynchronously_waits",
        std::time::Duration::from_secs(30),
    );
    let mutex = Mutex::new(0);
    block_on(identified(async {
        let mut held = mutex.lock().await;
        *held += 1;
        assert!(poll_once(mutex.lock()).await.is_none());
    }));
    assert!(!mutex.is_locked());
    assert_eq!(mutex.into_inner(), 1);
}

#[test]
fn every_blocking_form_on_a_holding_unit_is_caught() {
    let _w = Watchdog::new(
        "every_blocking_form_on_a_holding_unit_is_caught",
        std::time::Duration::from_secs(30),
    );
    let lock = Lock::new();
    // Taken with `try_acquire` inside the task (the task is the unit), then
    // async: it waits (a sibling branch could hold it).
    block_on(identified(async {
        let _held = lock.try_acquire().unwrap();
        assert!(poll_once(lock.acquire()).await.is_none());
    }));
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
                lock.try_acquire_for(std::time::Duration::from_secs(5))
                    .map(drop)
            }))
        },
        &["Lock::try_acquire_for", "already holds"],
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
