//! An RwLock's write lock asked for again (to write or to read) by the unit
//! that holds it: the wait would never end, so it panics ("already holds
//! this RwLock's write lock"). Blocking forms always know their unit; an
//! async wait is never refused (a sibling branch of the same task may hold
//! the lock: no false positives), it waits.
//! Other units still just wait, also after a hand-off and a downgrade, and
//! `try_*` forms only fail. Every test has a watchdog: a lost check hangs.

use futures_lite::future::{block_on, poll_once};
use polysync::lowlevel::identified;
use polysync::{RawRwLock, RwLock};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

#[path = "support/panics.rs"]
mod panics;
#[path = "support/worlds.rs"]
mod worlds;
use panics::{expect_panic, message};
use worlds::{Watchdog, wait_until};

const HOLDS: &str = "already holds this RwLock's write lock";

fn consistent(lock: &RwLock<u32>, value: u32) {
    assert!(!lock.is_locked(), "the guard was released while unwinding");
    assert_eq!(lock.waiting(), 0);
    assert_eq!(*lock.try_write().expect("free again"), value);
}

#[test]
fn writer_thread_asking_again_panics() {
    let _w = Watchdog::new("writer_thread_asking_again_panics", Duration::from_secs(10));
    let lock = RwLock::new(0);
    expect_panic(
        || {
            let mut held = lock.write_blocking();
            *held += 1;
            drop(lock.write_blocking());
        },
        &[
            "RwLock::write_blocking()",
            "execution unit",
            HOLDS,
            "deadlock",
        ],
    );
    consistent(&lock, 1);
    expect_panic(
        || {
            let _held = lock.write_blocking();
            drop(lock.read_blocking());
        },
        &["RwLock::read_blocking()", HOLDS],
    );
    consistent(&lock, 1);
    // Timed and `_with` forms as well (as `Lock`'s timed forms).
    expect_panic(
        || {
            let _held = lock.try_write().unwrap();
            lock.try_read_for(Duration::from_secs(5)).map(drop)
        },
        &["RwLock::try_read_for()", HOLDS],
    );
    expect_panic(
        || {
            let _held = lock.write_blocking();
            lock.try_write_for(Duration::from_secs(5)).map(drop)
        },
        &["RwLock::try_write_for()", HOLDS],
    );
    consistent(&lock, 1);
    // `try_*` forms only fail.
    let held = lock.write_blocking();
    assert!(lock.try_write().is_none());
    assert!(lock.try_read().is_none());
    drop(held);
    // The raw lock, and a panicking thread whose join reports it.
    let raw = Arc::new(RawRwLock::new());
    let err = {
        let raw = raw.clone();
        thread::spawn(move || {
            let _held = raw.write_blocking();
            let _again = raw.read_blocking();
        })
        .join()
        .unwrap_err()
    };
    assert!(message(err).contains(HOLDS));
    assert!(!raw.is_locked());
}

#[test]
fn identified_task_asking_again_asynchronously_waits() {
    let _w = Watchdog::new(
        "identified_task_asking_again_asynchronously_waits",
        Duration::from_secs(10),
    );
    let lock = RwLock::new(0);
    // An async wait never panics: another branch of the same task (`join!`,
    // `select!`) may hold the write lock and release it (no false
    // positives; tests/async_branches.rs). Polled once, it just waits.
    block_on(identified(async {
        *lock.write().await += 1;
        let _held = lock.write().await;
        assert!(poll_once(lock.write()).await.is_none());
        assert!(poll_once(lock.read()).await.is_none());
    }));
    consistent(&lock, 1);
    // Taken with `try_write` inside the task (the task is the unit), then async.
    block_on(identified(async {
        let _held = lock.try_write().unwrap();
        assert!(poll_once(lock.read()).await.is_none());
    }));
    consistent(&lock, 1);
    // Taken async, then a blocking form inside the same task: certain.
    expect_panic(
        || {
            block_on(identified(async {
                let _held = lock.write().await;
                drop(lock.write_blocking());
            }))
        },
        &["RwLock::write_blocking()", HOLDS],
    );
    consistent(&lock, 1);
    // Without an identity the task is not checked either: it just waits.
    block_on(async {
        let _held = lock.write().await;
        assert!(poll_once(lock.read()).await.is_none());
    });
    // Owned write guards record no writer: a blocking wait is not refused
    // (that one is a silent self-deadlock; try_read only fails).
    let arc = Arc::new(RwLock::new(0));
    block_on(identified(async {
        let _held = arc.write_owned().await;
        assert!(poll_once(arc.read()).await.is_none());
        assert!(arc.try_read().is_none());
    }));
    consistent(&lock, 1);
}

#[test]
fn other_threads_still_wait() {
    let _w = Watchdog::new("other_threads_still_wait", Duration::from_secs(10));
    let lock = Arc::new(RwLock::new(0));
    // A plain wait behind another thread's write lock.
    let held = lock.write_blocking();
    let reader = {
        let lock = lock.clone();
        thread::spawn(move || *lock.read_blocking())
    };
    wait_until("the reader queues", || lock.waiting() == 1);
    drop(held);
    assert_eq!(reader.join().unwrap(), 0);

    // A write handed to a queued writer: the new writer is recorded (it
    // panics when it asks again), the old one is not (it just waits).
    let held = lock.write_blocking();
    let writer = {
        let lock = lock.clone();
        thread::spawn(move || {
            let mut w = lock.write_blocking();
            *w += 1;
            let again = catch_unwind(AssertUnwindSafe(|| drop(lock.read_blocking())));
            assert!(message(again.unwrap_err()).contains(HOLDS));
            // Keep the lock until the old writer queues behind it.
            wait_until("the old writer queues", || lock.waiting() == 1);
        })
    };
    wait_until("the writer queues", || lock.waiting() == 1);
    drop(held);
    wait_until("the writer takes it", || lock.waiting() == 0);
    // The old writer asks again while the new one holds it: it just waits.
    let w = lock.write_blocking();
    assert_eq!(*w, 1);
    writer.join().unwrap();
    drop(w);

    // A downgraded writer holds a read share: `read` again does not panic
    // (nobody is queued), and neither does a reader of another thread.
    let w = lock.write_blocking();
    let r = polysync::RwLockWriteGuard::downgrade(w);
    let again = lock.read_blocking();
    assert_eq!(lock.readers(), 2);
    let other = {
        let lock = lock.clone();
        thread::spawn(move || *lock.read_blocking())
    };
    assert_eq!(other.join().unwrap(), 1);
    drop((r, again));
    // And a downgraded async writer in an identified task.
    block_on(identified(async {
        let w = lock.write().await;
        let r = polysync::RwLockWriteGuard::downgrade(w);
        let again = lock.read().await;
        drop((r, again));
    }));
    assert!(!lock.is_locked());
}
