#![cfg(polysync_loom)]
//! loom models of the limiters: the cancellation hook (issue 21, point 2):
//! a waiter whose borrower gained a token while it stood queued behind
//! another unit is served when that unit gives up, whichever of the release
//! and the cancellation comes first; and bounded fairness (issue 18, item 1;
//! src/limiter/raw.rs, "Bounded fairness"): a token back wakes the front to
//! compete, a running unit may barge, a woken front that gives up passes
//! the wake on, a front that wins its retry wakes the next if a token is
//! left. Under loom the bounds are 1 (`polysync::lock::OVERTAKE_BOUND`,
//! `LOST_RETRIES`), so one barge or one lost retry earns the hand-off.
//!
//! Run with:
//!
//! RUSTFLAGS="--cfg polysync_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test loom_limiter --target-dir target/loom
//!
//! The same loom rules as tests/loom.rs: the main thread never waits (it
//! polls, drops and joins), preemption bound 2.

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use loom::thread;
use polysync::lowlevel::UnitId;
use polysync::{BorrowError, CapacityLimiter, RCapacityLimiter};
use std::task::Poll;

#[path = "support/loom.rs"]
mod support;

use support::{flag_waker, model, poll_once};

/// The queue `[job, other, job]` behind a holder: a thread releases the
/// holder's token (the first job wait gets it) while the main thread drops
/// the other unit's wait. In every order the second job wait ends served at
/// the front (one more level), without any further release.
#[test]
fn reentrant_second_wait_is_served_whether_the_cancel_or_the_release_comes_first() {
    model(|| {
        let limiter = Arc::new(RCapacityLimiter::new(1));
        let (holder, job, other) = (UnitId::allocate(), UnitId::allocate(), UnitId::allocate());
        limiter.try_acquire_on_behalf_of(holder).unwrap().forget();
        let (_flag, waker) = flag_waker();
        let mut first = Box::pin(limiter.acquire_on_behalf_of(job));
        let mut ahead = Box::pin(limiter.acquire_on_behalf_of(other));
        let mut second = Box::pin(limiter.acquire_on_behalf_of(job));
        assert!(poll_once(first.as_mut(), &waker).is_pending());
        assert!(poll_once(ahead.as_mut(), &waker).is_pending());
        assert!(poll_once(second.as_mut(), &waker).is_pending());
        let releaser = {
            let limiter = limiter.clone();
            thread::spawn(move || limiter.release_on_behalf_of(holder, 1).unwrap())
        };
        drop(ahead);
        releaser.join().unwrap();
        let Poll::Ready(a) = poll_once(first.as_mut(), &waker) else {
            panic!("the first job wait was not served");
        };
        let Poll::Ready(b) = poll_once(second.as_mut(), &waker) else {
            panic!("the second job wait is stranded at the front");
        };
        a.unwrap().forget();
        b.unwrap().forget();
        assert_eq!(limiter.borrowers(), vec![(job, 2)]);
        assert_eq!(limiter.waiting(), 0);
    });
}

/// The same race on the non-reentrant limiter: the second job wait ends
/// with `AlreadyBorrowing`, holding nothing.
#[test]
fn non_reentrant_second_wait_is_answered_whether_the_cancel_or_the_release_comes_first() {
    model(|| {
        let limiter = Arc::new(CapacityLimiter::new(1));
        let (holder, job, other) = (UnitId::allocate(), UnitId::allocate(), UnitId::allocate());
        limiter.try_acquire_on_behalf_of(holder).unwrap().forget();
        let (_flag, waker) = flag_waker();
        let mut first = Box::pin(limiter.acquire_on_behalf_of(job));
        let mut ahead = Box::pin(limiter.acquire_on_behalf_of(other));
        let mut second = Box::pin(limiter.acquire_on_behalf_of(job));
        assert!(poll_once(first.as_mut(), &waker).is_pending());
        assert!(poll_once(ahead.as_mut(), &waker).is_pending());
        assert!(poll_once(second.as_mut(), &waker).is_pending());
        let releaser = {
            let limiter = limiter.clone();
            thread::spawn(move || limiter.release_on_behalf_of(holder).unwrap())
        };
        drop(ahead);
        releaser.join().unwrap();
        let Poll::Ready(a) = poll_once(first.as_mut(), &waker) else {
            panic!("the first job wait was not served");
        };
        let Poll::Ready(b) = poll_once(second.as_mut(), &waker) else {
            panic!("the second job wait is stranded at the front");
        };
        a.unwrap().forget();
        assert_eq!(b.unwrap_err(), BorrowError::AlreadyBorrowing);
        assert_eq!(limiter.borrowers(), vec![job]);
        assert_eq!(limiter.waiting(), 0);
    });
}

/// Exclusion with one token, in both modes: a blocking waiter and a holder
/// that gives its token back and then tries to borrow again (a barge, in
/// bounded mode). The borrowers, counted inside, never exceed 1, and the
/// token comes back.
fn accounting(fair: bool) {
    model(move || {
        let limiter = Arc::new(if fair {
            CapacityLimiter::new_fair(1)
        } else {
            CapacityLimiter::new_bounded(1)
        });
        let inside = Arc::new(AtomicUsize::new(0));
        let holder = UnitId::allocate();
        let held = limiter.try_acquire_on_behalf_of(holder).unwrap();
        inside.fetch_add(1, Relaxed);
        let blocking = {
            let (limiter, inside) = (limiter.clone(), inside.clone());
            thread::spawn(move || {
                let _token = limiter
                    .acquire_on_behalf_of_blocking(UnitId::allocate())
                    .unwrap();
                assert_eq!(inside.fetch_add(1, Relaxed), 0, "two borrowers of one");
                inside.fetch_sub(1, Relaxed);
            })
        };
        inside.fetch_sub(1, Relaxed);
        drop(held);
        if let Ok(_again) = limiter.try_acquire_on_behalf_of(holder) {
            assert_eq!(inside.fetch_add(1, Relaxed), 0, "two borrowers of one");
            inside.fetch_sub(1, Relaxed);
        }
        blocking.join().unwrap();
        assert_eq!(limiter.available_tokens(), 1);
        assert_eq!(limiter.waiting(), 0);
    });
}

#[test]
fn bounded_accounting_with_a_barging_holder() {
    accounting(false);
}

#[test]
fn fair_accounting_with_a_retaking_holder() {
    accounting(true);
}

/// The lost wake-up of wake-to-compete designs: the front (a future the
/// main thread polled once) is woken by a release on another thread, the
/// main thread may barge, and the front's future is dropped without
/// retrying; the thread queued behind it must still get its token (with
/// the wake lost it stays parked: loom reports the deadlock).
fn woken_front_cancelled(barge: bool) {
    model(move || {
        let limiter = Arc::new(RCapacityLimiter::new_bounded(1));
        let holder = UnitId::allocate();
        limiter.try_acquire_on_behalf_of(holder).unwrap().forget();
        let (_flag, waker) = flag_waker();
        let mut front = Box::pin(limiter.acquire_on_behalf_of(UnitId::allocate()));
        assert!(poll_once(front.as_mut(), &waker).is_pending());
        let behind = {
            let limiter = limiter.clone();
            thread::spawn(move || drop(limiter.acquire_on_behalf_of_blocking(UnitId::allocate())))
        };
        let releaser = {
            let limiter = limiter.clone();
            thread::spawn(move || limiter.release_on_behalf_of(holder, 1).unwrap())
        };
        let barged = if barge {
            limiter.try_acquire_on_behalf_of(UnitId::allocate())
        } else {
            None
        };
        drop(front);
        drop(barged);
        releaser.join().unwrap();
        behind.join().unwrap();
        assert_eq!(limiter.available_tokens(), 1);
        assert_eq!(limiter.waiting(), 0);
    });
}

#[test]
fn bounded_woken_front_cancelled() {
    woken_front_cancelled(false);
}

#[test]
fn bounded_woken_front_cancelled_while_a_barger_holds() {
    woken_front_cancelled(true);
}

/// Two queued futures and two tokens given back on two threads: the
/// releases wake the front (not the second: only the front retries), the
/// front's winning retry wakes the second if a token is left, and both are
/// served in the end. A lost wake shows as a waiter whose flag is clear
/// while a token is free.
#[test]
fn bounded_winning_front_wakes_the_next() {
    model(|| {
        let limiter = Arc::new(CapacityLimiter::new_bounded(2));
        let holders = [UnitId::allocate(), UnitId::allocate()];
        for h in holders {
            limiter.try_acquire_on_behalf_of(h).unwrap().forget();
        }
        let (flag_a, waker_a) = flag_waker();
        let (flag_b, waker_b) = flag_waker();
        let mut a = Box::pin(limiter.acquire_on_behalf_of(UnitId::allocate()));
        let mut b = Box::pin(limiter.acquire_on_behalf_of(UnitId::allocate()));
        assert!(poll_once(a.as_mut(), &waker_a).is_pending());
        assert!(poll_once(b.as_mut(), &waker_b).is_pending());
        let releasers: Vec<_> = holders
            .into_iter()
            .map(|h| {
                let limiter = limiter.clone();
                thread::spawn(move || limiter.release_on_behalf_of(h).unwrap())
            })
            .collect();
        // The front may retry while the releases run.
        let first = poll_once(a.as_mut(), &waker_a);
        for r in releasers {
            r.join().unwrap();
        }
        let a_token = match first {
            Poll::Ready(t) => t.unwrap(),
            Poll::Pending => {
                assert!(flag_a.take(), "a token is free and the front was not woken");
                let Poll::Ready(t) = poll_once(a.as_mut(), &waker_a) else {
                    panic!("the woken front's retry lost with nobody barging");
                };
                t.unwrap()
            }
        };
        assert!(
            flag_b.take(),
            "a token is free and the second was not woken"
        );
        let Poll::Ready(b_token) = poll_once(b.as_mut(), &waker_b) else {
            panic!("the woken second's retry lost with nobody barging");
        };
        drop((a_token, b_token.unwrap()));
        assert_eq!(limiter.available_tokens(), 2);
        assert_eq!(limiter.waiting(), 0);
    });
}
