#![cfg(polysync_loom)]
//! loom models of `RLock`'s bounded fairness (issue 18 item 1): releasing
//! the last level wakes the front waiter to compete, a running unit may
//! barge (and re-enter: levels never touch the queue word), the front is
//! handed the lock past the bound, and a woken front that is cancelled
//! passes the wake on. tests/loom_rlock.rs runs the older models on the
//! default (strict) lock. Under loom the bounds are 1
//! (`polysync::lock::OVERTAKE_BOUND`, `LOST_RETRIES`).
//!
//! Run with:
//!
//! RUSTFLAGS="--cfg polysync_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true cargo test --release --test loom_rlock_bounded --target-dir target/loom

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering::Relaxed};
use loom::thread;
use polysync::RLock;
use polysync::lowlevel::identified;

#[path = "support/loom.rs"]
mod support;
use support::{flag_waker, model, poll_once};

struct Guarded {
    lock: RLock,
    count: loom::cell::UnsafeCell<usize>,
}

// SAFETY: `count` is only touched while `lock` is held.
unsafe impl Sync for Guarded {}

impl Guarded {
    fn new() -> Self {
        Guarded {
            lock: RLock::new_bounded(),
            count: loom::cell::UnsafeCell::new(0),
        }
    }

    /// The critical section: loom's cell reports two holders (accesses
    /// that the lock does not order). No atomic flag beside it, unlike
    /// tests/loom_lock_fairness.rs: each would multiply the interleavings,
    /// and the cell's check is the stronger one.
    fn critical(&self) {
        // SAFETY: the lock is held (that is what the model checks).
        self.count.with_mut(|p| unsafe { *p += 1 });
    }

    /// The critical section with one re-entry inside (the holder's level
    /// count must be its own, whoever barged or was woken).
    fn critical_reentered(&self) {
        let again = self.lock.try_acquire().expect("the owner re-enters");
        assert_eq!(self.lock.count(), 2);
        self.critical();
        drop(again);
    }

    fn count(&self) -> usize {
        // SAFETY: called after every other thread was joined.
        self.count.with(|p| unsafe { *p })
    }
}

/// Exclusion with a blocking waiter and a releasing owner that then tries
/// to take the lock again (a barge); the waiter, which takes the lock by a
/// won retry or a hand-off, re-enters inside. (A re-entry by the barger too
/// took the model past 20 s.)
#[test]
fn bounded_exclusion_with_a_barging_owner() {
    model(|| {
        let g = Arc::new(Guarded::new());
        let held = g.lock.try_acquire().expect("free");
        let blocking = {
            let g = g.clone();
            thread::spawn(move || {
                let _guard = g.lock.acquire_blocking();
                g.critical_reentered();
            })
        };
        g.critical();
        drop(held);
        let mut extra = 0;
        if let Some(_again) = g.lock.try_acquire() {
            g.critical();
            extra = 1;
        }
        blocking.join().unwrap();
        assert_eq!(g.count(), 2 + extra);
        assert!(!g.lock.is_locked());
        assert_eq!(g.lock.waiting(), 0);
    });
}

/// The lost wake-up of wake-to-compete designs: the front waiter (an
/// identified future the main thread polled once, so it queued first) is
/// woken by the release of the last level, a barger (the main thread
/// again) may take the free lock, and the front's future is dropped without
/// retrying; the thread queued behind it must still get the lock (with the
/// wake lost it stays parked: loom reports the deadlock).
fn woken_front_cancelled(barge: bool) {
    model(move || {
        let g = Arc::new(Guarded::new());
        let held = g.lock.try_acquire().expect("free");
        let (_flag, waker) = flag_waker();
        let mut front = Box::pin(identified(g.lock.acquire()));
        assert!(poll_once(front.as_mut(), &waker).is_pending());
        let behind = {
            let g = g.clone();
            thread::spawn(move || {
                let _guard = g.lock.acquire_blocking();
                g.critical();
            })
        };
        drop(held);
        let barger = if barge { g.lock.try_acquire() } else { None };
        if barger.is_some() {
            g.critical();
        }
        drop(front);
        drop(barger);
        behind.join().unwrap();
        assert!(!g.lock.is_locked());
        assert_eq!(g.lock.waiting(), 0);
    });
}

#[test]
fn bounded_woken_front_cancelled_on_a_free_lock() {
    woken_front_cancelled(false);
}

#[test]
fn bounded_woken_front_cancelled_while_a_barger_holds() {
    woken_front_cancelled(true);
}

/// The bound: the main thread releases to a queued blocking waiter and
/// barges back in (one barge: the bound under loom); its next release must
/// hand the lock to the waiter, so a further attempt by the main thread
/// fails unless the waiter has already been through.
#[test]
fn bounded_front_past_the_bound_is_handed_the_lock() {
    model(|| {
        let g = Arc::new(Guarded::new());
        let held = g.lock.try_acquire().expect("free");
        let done = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (g, done) = (g.clone(), done.clone());
            thread::spawn(move || {
                let _guard = g.lock.acquire_blocking();
                g.critical();
                done.store(true, Relaxed);
            })
        };
        while g.lock.waiting() == 0 {
            thread::yield_now();
        }
        g.critical();
        drop(held);
        if let Some(barged) = g.lock.try_acquire() {
            g.critical();
            drop(barged);
            if let Some(again) = g.lock.try_acquire() {
                // Only after the waiter's own release (which this
                // acquisition synchronizes with).
                assert!(done.load(Relaxed), "barged past a front owed the lock");
                drop(again);
            }
        }
        waiter.join().unwrap();
        assert!(!g.lock.is_locked());
        assert_eq!(g.lock.waiting(), 0);
    });
}
