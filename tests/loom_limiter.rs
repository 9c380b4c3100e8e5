#![cfg(polysync_loom)]
//! loom model of the limiter's cancellation hook (issue 21, point 2): a
//! waiter whose borrower gained a token while it stood queued behind another
//! unit is served when that unit gives up, whichever of the release and
//! the cancellation comes first.
//!
//! Run with:
//!
//! RUSTFLAGS="--cfg polysync_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test loom_limiter --target-dir target/loom
//!
//! The same loom rules as tests/loom.rs: the main thread never waits (it
//! polls, drops and joins), preemption bound 2.

use loom::sync::Arc;
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
