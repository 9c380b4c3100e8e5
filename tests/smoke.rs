//! A first look: a lock shared by threads and tasks really excludes, a
//! semaphore times out, an event wakes a blocked thread, re-acquiring panics.
//! Every test has a watchdog: a lost wake-up fails it instead of hanging.

#[path = "support/worlds.rs"]
mod worlds;
use worlds::{Watchdog, wait_until};

use polysync::{Event, Lock, Semaphore};
use std::cell::UnsafeCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A counter with no synchronization of its own: only the lock protects it.
struct Unguarded(UnsafeCell<u64>);

// SAFETY: every access happens while holding the test's lock (which is what
// the test checks; a second holder would be caught by `inside` first).
unsafe impl Sync for Unguarded {}

#[test]
fn lock_threads_and_tasks() {
    let _dog = Watchdog::new("lock_threads_and_tasks", Duration::from_secs(60));
    const ROUNDS: u64 = 2000;
    let lock = Arc::new(Lock::new());
    let counter = Arc::new(Unguarded(UnsafeCell::new(0)));
    // Holders inside the critical section: must be 0 on entry.
    let inside = Arc::new(AtomicUsize::new(0));
    let critical = |counter: &Unguarded, inside: &AtomicUsize| {
        assert_eq!(
            inside.fetch_add(1, Ordering::SeqCst),
            0,
            "two holders at once"
        );
        // A non-atomic read-modify-write with a yield in the middle: another
        // holder running meanwhile would lose an increment.
        // SAFETY: we hold the lock (see `Unguarded`).
        let seen = unsafe { *counter.0.get() };
        std::thread::yield_now();
        // SAFETY: as above.
        unsafe { *counter.0.get() = seen + 1 };
        inside.fetch_sub(1, Ordering::SeqCst);
    };
    let mut handles = vec![];
    for i in 0..4 {
        let (lock, counter, inside) = (lock.clone(), counter.clone(), inside.clone());
        handles.push(std::thread::spawn(move || {
            for _ in 0..ROUNDS {
                if i % 2 == 0 {
                    let _g = lock.acquire_blocking();
                    critical(&counter, &inside);
                } else {
                    futures_lite::future::block_on(async {
                        let _g = lock.acquire().await;
                        critical(&counter, &inside);
                    });
                }
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    assert!(!lock.is_locked());
    assert_eq!(lock.waiting(), 0);
    let _g = lock.acquire_blocking();
    // SAFETY: we hold the lock and every other holder has finished.
    assert_eq!(
        unsafe { *counter.0.get() },
        4 * ROUNDS,
        "lost increments: two holders overlapped"
    );
}

#[test]
fn semaphore_timeout_and_event() {
    let _dog = Watchdog::new("semaphore_timeout_and_event", Duration::from_secs(60));
    let sem = Semaphore::new(0);
    assert!(sem.try_acquire_for(Duration::from_millis(5)).is_none());
    assert_eq!(sem.waiting(), 0);
    sem.release(1);
    assert_eq!(sem.value(), 1);
    let e = Arc::new(Event::new());
    let e2 = e.clone();
    let t = std::thread::spawn(move || e2.wait_blocking());
    // The thread really waits before the set: the wake-up is what ends it.
    wait_until("the thread waits", || e.waiting() == 1);
    e.set();
    t.join().unwrap();
    assert_eq!(e.waiting(), 0);
}

#[test]
#[should_panic(expected = "already holds")]
fn reacquire_panics() {
    let _dog = Watchdog::new("reacquire_panics", Duration::from_secs(60));
    let lock = Lock::new();
    let _g = lock.acquire_blocking();
    let _h = lock.acquire_blocking();
}
