#![cfg(polysync_loom)]
//! loom models of `Lock`'s two modes (issue 18): bounded fairness (the
//! default: a release wakes the front waiter to compete, a running unit may
//! barge, the front is handed the lock past the bound) and strict FIFO
//! hand-off (`Lock::new_fair`). tests/loom.rs runs the older Lock models on
//! the default lock; these add the fair mode and what only bounded
//! fairness has: a woken front that is cancelled, and the bound's hand-off.
//! Under loom the bounds are 1 (`polysync::lock::OVERTAKE_BOUND`,
//! `LOST_RETRIES`), so one barge or one lost retry earns the hand-off.
//!
//! Run with:
//!
//! RUSTFLAGS="--cfg polysync_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true cargo test --release --test loom_lock_fairness --target-dir target/loom

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering::Relaxed};
use loom::thread;
use polysync::Lock;

#[path = "support/loom.rs"]
mod support;
use support::{flag_waker, model, poll_once};

struct Guarded {
    lock: Lock,
    count: loom::cell::UnsafeCell<usize>,
    inside: AtomicBool,
}

// SAFETY: `count` is only touched while `lock` is held.
unsafe impl Sync for Guarded {}

impl Guarded {
    fn new(fair: bool) -> Self {
        Guarded {
            lock: if fair {
                Lock::new_fair()
            } else {
                Lock::new_bounded()
            },
            count: loom::cell::UnsafeCell::new(0),
            inside: AtomicBool::new(false),
        }
    }

    /// The critical section (see tests/loom.rs): two holders trip the
    /// `Relaxed` swaps, and loom checks that the lock orders `count`.
    fn critical(&self) {
        assert!(!self.inside.swap(true, Relaxed), "two holders at once");
        // SAFETY: the lock is held (that is what the model checks).
        self.count.with_mut(|p| unsafe { *p += 1 });
        assert!(self.inside.swap(false, Relaxed), "two holders at once");
    }

    fn count(&self) -> usize {
        // SAFETY: called after every other thread was joined.
        self.count.with(|p| unsafe { *p })
    }
}

/// Exclusion with a blocking waiter and a releasing holder that then
/// tries to take the lock again (a barge, where the mode allows it; a fair
/// lock handed it to the waiter, so the attempt fails unless the waiter is
/// through). Two threads: loom explores them fully at two preemptions.
fn exclusion(fair: bool) {
    model(move || {
        let g = Arc::new(Guarded::new(fair));
        let held = g.lock.try_acquire().expect("free");
        let blocking = {
            let g = g.clone();
            thread::spawn(move || {
                let _guard = g.lock.acquire_blocking();
                g.critical();
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

#[test]
fn bounded_exclusion_with_a_barging_holder() {
    exclusion(false);
}

#[test]
fn fair_exclusion_with_a_retaking_holder() {
    exclusion(true);
}

/// The lost wake-up of wake-to-compete designs: the front waiter (a
/// future the main thread polled once, so it queued first) is woken by the
/// release, a barger (the main thread again) may take the free lock, and
/// the front's future is dropped without retrying; the thread queued behind
/// it must still get the lock (with the wake lost it stays parked: loom
/// reports the deadlock). The main thread only polls with a flag waker,
/// never parks. Both modes (fair: the hand-off to the dropped front is
/// passed on).
fn woken_front_cancelled(fair: bool, barge: bool) {
    model(move || {
        let g = Arc::new(Guarded::new(fair));
        let held = g.lock.try_acquire().expect("free");
        let (_flag, waker) = flag_waker();
        let mut front = Box::pin(g.lock.acquire());
        assert!(poll_once(front.as_mut(), &waker).is_pending());
        let behind = {
            let g = g.clone();
            thread::spawn(move || {
                let _guard = g.lock.acquire_blocking();
                g.critical();
            })
        };
        g.critical();
        drop(held);
        // A running unit takes the lock while the front may be woken (on
        // a fair lock it was handed to the front: this fails).
        let barger = if barge { g.lock.try_acquire() } else { None };
        if barger.is_some() {
            g.critical();
        }
        // The front gives up without retrying.
        drop(front);
        drop(barger);
        behind.join().unwrap();
        assert!(!g.lock.is_locked());
        assert_eq!(g.lock.waiting(), 0);
    });
}

#[test]
fn bounded_woken_front_cancelled_on_a_free_lock() {
    woken_front_cancelled(false, false);
}

#[test]
fn bounded_woken_front_cancelled_while_a_barger_holds() {
    woken_front_cancelled(false, true);
}

#[test]
fn fair_cancelled_handoff_passes_the_lock_on() {
    woken_front_cancelled(true, true);
}

/// The bound: the main thread releases to a queued blocking waiter and
/// barges back in (one barge: the bound under loom); its next release must
/// hand the lock to the waiter, so a further attempt by the main thread
/// fails unless the waiter has already been through.
#[test]
fn bounded_front_past_the_bound_is_handed_the_lock() {
    model(|| {
        let g = Arc::new(Guarded::new(false));
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
