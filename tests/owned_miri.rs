//! The Miri-sized set for owned and mapped guards: the self-referential
//! owned futures (`ArcWait`: a borrowed wait whose lifetime was extended to
//! `'static`, stored beside the `Arc` that keeps its primitive alive) polled
//! by hand and dropped at the awkward moments (queued; handed the resource
//! but not polled again; completed, with the guard outliving every other
//! `Arc`), from two threads; mapped guards; many-permit hand-offs.
//!
//! Run under Miri with
//! `cargo +nightly miri test --test owned_miri` (Stacked Borrows) and with
//! `MIRIFLAGS=-Zmiri-tree-borrows`; it also runs natively with the suite.
//! No tokio here: futures are polled by hand or by
//! `futures_lite::future::block_on`, and threads are std threads.

use futures_lite::future::{block_on, poll_once};
use polysync::lowlevel::identified;
use polysync::{Lock, Mutex, MutexGuard, OwnedMutexGuard, RLock, RMutex, Semaphore};
use std::sync::Arc;
use std::thread;

const ROUNDS: usize = if cfg!(miri) { 3 } else { 200 };

#[test]
fn an_owned_guard_outlives_every_other_arc() {
    // The future completes, the caller drops its own `Arc`: the guard's
    // `Arc` is the last one, and dropping the guard frees the lock.
    let guard = {
        let lock = Arc::new(Lock::new());
        block_on(lock.acquire_owned())
    };
    assert!(guard.lock().is_locked());
    drop(guard);

    let permit = {
        let sem = Arc::new(Semaphore::new(3));
        block_on(sem.acquire_many_owned(2)).unwrap()
    };
    assert_eq!(permit.num_permits(), 2);
    drop(permit);

    let mapped = {
        let m = Arc::new(Mutex::new((1u8, vec![2u8])));
        OwnedMutexGuard::map(block_on(m.lock_owned()), |p| &mut p.1)
    };
    assert_eq!(*mapped, [2]);
    drop(mapped);
}

#[test]
fn owned_futures_dropped_while_queued_and_after_a_hand_off() {
    for _ in 0..ROUNDS {
        let lock = Arc::new(Lock::new());
        let held = lock.acquire_owned_blocking();
        // Queued, then dropped while queued: leaves the queue.
        let mut queued = Box::pin(lock.acquire_owned());
        assert!(block_on(poll_once(queued.as_mut())).is_none());
        drop(queued);
        // Queued, handed the lock by a release on another thread, then
        // dropped unpolled: passes the lock on (here: unlocks).
        let mut handed = Box::pin(lock.acquire_owned());
        assert!(block_on(poll_once(handed.as_mut())).is_none());
        thread::spawn(move || drop(held)).join().unwrap();
        drop(handed);
        assert!(!lock.is_locked());
        assert_eq!(Arc::strong_count(&lock), 1);
    }
}

#[test]
fn owned_semaphore_futures_race_a_release_from_another_thread() {
    for i in 0..ROUNDS {
        let sem = Arc::new(Semaphore::new(0));
        let mut big = Box::pin(sem.acquire_many_owned(2));
        let mut small = Box::pin(sem.acquire_owned());
        assert!(block_on(poll_once(big.as_mut())).is_none());
        assert!(block_on(poll_once(small.as_mut())).is_none());
        let releaser = thread::spawn({
            let sem = sem.clone();
            move || sem.release(3)
        });
        if i % 2 == 0 {
            // The head gives up, maybe after it was served.
            drop(big);
        } else {
            let permit = block_on(big).unwrap();
            assert_eq!(permit.num_permits(), 2);
        }
        releaser.join().unwrap();
        let permit = block_on(small).unwrap();
        assert_eq!(permit.num_permits(), 1);
        drop(permit);
        assert_eq!(sem.value(), 3);
        assert_eq!(Arc::strong_count(&sem), 1);
    }
}

#[test]
fn owned_mutex_guards_cross_threads() {
    let m = Arc::new(Mutex::new(0u32));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let m = m.clone();
            thread::spawn(move || {
                for _ in 0..ROUNDS {
                    let mut g = block_on(m.lock_owned());
                    *g += 1;
                    let mut first = OwnedMutexGuard::map(g, |v| v);
                    *first += 1;
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(*m.lock_blocking(), 4 * ROUNDS as u32);
}

#[test]
fn mapped_borrowed_guards() {
    let m = Mutex::new([1u8, 2, 3]);
    let mut tail = MutexGuard::map(m.lock_blocking(), |a| &mut a[1..]);
    tail[0] = 9;
    drop(tail);
    let g = MutexGuard::try_map(m.lock_blocking(), |a| a.get_mut(7)).unwrap_err();
    assert_eq!(*g, [1, 9, 3]);
}

#[test]
fn owned_reentrant_guards() {
    let rlock = Arc::new(RLock::new());
    let rm = Arc::new(RMutex::new(5u8));
    let (a, b) = block_on(identified(async {
        let a = rlock.acquire_owned().await.unwrap();
        let b = rm.lock_owned().await.unwrap();
        (a, b)
    }));
    thread::spawn(move || {
        assert_eq!(*b, 5);
        drop((a, b));
    })
    .join()
    .unwrap();
    assert!(!rlock.is_locked());
    assert!(!rm.is_locked());
}

/// The owned future holds the last `Arc` when it is dropped after a
/// hand-off it did not consume: its borrowed wait must pass the lock on
/// (touching the lock) before the `Arc` frees it. Under Miri, dropping the
/// `Arc` first is a use after free.
#[test]
fn a_handed_off_owned_future_holding_the_last_arc_is_dropped() {
    for _ in 0..ROUNDS {
        let lock = Arc::new(Lock::new());
        let held = lock.acquire_owned_blocking();
        let mut fut = Box::pin(lock.acquire_owned());
        assert!(block_on(poll_once(fut.as_mut())).is_none());
        drop(lock);
        drop(held); // hands the lock to `fut`, whose Arc is the last now
        drop(fut);

        let sem = Arc::new(Semaphore::new(0));
        let mut fut = Box::pin(sem.acquire_many_owned(2));
        assert!(block_on(poll_once(fut.as_mut())).is_none());
        let releaser = sem.clone();
        drop(sem);
        releaser.release(2);
        drop(releaser);
        drop(fut);
    }
}
