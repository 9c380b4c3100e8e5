#![cfg(polysync_loom)]
//! loom models of the semaphores' bounded fairness (issue 18, item 1;
//! src/semaphore/raw.rs, "Bounded fairness"): a release with waiters frees
//! its permits and wakes the front if its request fits, a running unit may
//! barge, a woken front that gives up passes the wake on, a front that wins
//! its retry wakes the next if what is left fits, and a many-permit front
//! is served past the bound. Under loom the bounds are 1
//! (`polysync::lock::OVERTAKE_BOUND`, `LOST_RETRIES`), so one barge or one
//! lost retry earns the hand-off. The exclusion model runs in both modes.
//!
//! Run with:
//!
//! RUSTFLAGS="--cfg polysync_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true cargo test --release --test loom_semaphore_bounded --target-dir target/loom

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use loom::thread;
use polysync::Semaphore;
use std::task::Poll;

#[path = "support/loom.rs"]
mod support;
use support::{flag_waker, model, poll_once};

fn make(fair: bool, permits: usize) -> Semaphore {
    if fair {
        Semaphore::new_fair(permits)
    } else {
        Semaphore::new_bounded(permits)
    }
}

/// Accounting with one permit: a blocking waiter and a holder that
/// releases and then tries to take a permit again (a barge, where the mode
/// allows it). The permits held, counted inside, never exceed 1, and the
/// permit comes back.
fn accounting(fair: bool) {
    model(move || {
        let sem = Arc::new(make(fair, 1));
        let inside = Arc::new(AtomicUsize::new(0));
        let held = sem.try_acquire().expect("free");
        inside.fetch_add(1, Relaxed);
        let blocking = {
            let (sem, inside) = (sem.clone(), inside.clone());
            thread::spawn(move || {
                let _permit = sem.acquire_blocking().unwrap();
                assert_eq!(inside.fetch_add(1, Relaxed), 0, "two permits of one");
                inside.fetch_sub(1, Relaxed);
            })
        };
        inside.fetch_sub(1, Relaxed);
        drop(held);
        if let Some(_again) = sem.try_acquire() {
            assert_eq!(inside.fetch_add(1, Relaxed), 0, "two permits of one");
            inside.fetch_sub(1, Relaxed);
        }
        blocking.join().unwrap();
        assert_eq!(sem.value(), 1);
        assert_eq!(sem.waiting(), 0);
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
/// retrying; the thread queued behind it must still get its permit (with
/// the wake lost it stays parked: loom reports the deadlock).
fn woken_front_cancelled(barge: bool) {
    model(move || {
        let sem = Arc::new(Semaphore::new_bounded(0));
        let (_flag, waker) = flag_waker();
        let mut front = Box::pin(sem.acquire());
        assert!(poll_once(front.as_mut(), &waker).is_pending());
        let behind = {
            let sem = sem.clone();
            thread::spawn(move || drop(sem.acquire_blocking().unwrap()))
        };
        let releaser = {
            let sem = sem.clone();
            thread::spawn(move || sem.release(1))
        };
        let barged = if barge { sem.try_acquire() } else { None };
        drop(front);
        drop(barged);
        releaser.join().unwrap();
        behind.join().unwrap();
        assert_eq!(sem.value(), 1);
        assert_eq!(sem.waiting(), 0);
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

/// Two queued one-permit futures and two releases of one permit on two
/// threads: the releases wake the front (not the second: only the front
/// retries), the front's winning retry wakes the second if a permit is
/// left, and both are served in the end. A lost wake shows as a waiter
/// whose flag is clear while its permit is free.
#[test]
fn bounded_winning_front_wakes_the_next() {
    model(|| {
        let sem = Arc::new(Semaphore::new_bounded(0));
        let (flag_a, waker_a) = flag_waker();
        let (flag_b, waker_b) = flag_waker();
        let mut a = Box::pin(sem.acquire());
        let mut b = Box::pin(sem.acquire());
        assert!(poll_once(a.as_mut(), &waker_a).is_pending());
        assert!(poll_once(b.as_mut(), &waker_b).is_pending());
        let releasers: Vec<_> = (0..2)
            .map(|_| {
                let sem = sem.clone();
                thread::spawn(move || sem.release(1))
            })
            .collect();
        // The front may retry while the releases run.
        let first = poll_once(a.as_mut(), &waker_a);
        for r in releasers {
            r.join().unwrap();
        }
        let a_permit = match first {
            Poll::Ready(p) => p.unwrap(),
            Poll::Pending => {
                assert!(flag_a.take(), "the front fits and was not woken");
                let Poll::Ready(p) = poll_once(a.as_mut(), &waker_a) else {
                    panic!("the woken front's retry lost with nobody barging");
                };
                p.unwrap()
            }
        };
        assert!(flag_b.take(), "the second fits and was not woken");
        let Poll::Ready(b_permit) = poll_once(b.as_mut(), &waker_b) else {
            panic!("the woken second's retry lost with nobody barging");
        };
        drop((a_permit, b_permit.unwrap()));
        assert_eq!(sem.value(), 2);
        assert_eq!(sem.waiting(), 0);
    });
}

/// A front that wants 2, fed by two one-permit releases on one thread while
/// another thread barges (takes one permit and gives it back): under loom
/// one barge past the front earns it the hand-off. Whatever the
/// interleaving, the front is woken once its request fits, and served.
#[test]
fn bounded_many_permit_front_served_past_a_barge() {
    model(|| {
        let sem = Arc::new(Semaphore::new_bounded(0));
        let (flag, waker) = flag_waker();
        let mut head = Box::pin(sem.acquire_many(2));
        assert!(poll_once(head.as_mut(), &waker).is_pending());
        let releaser = {
            let sem = sem.clone();
            thread::spawn(move || {
                sem.release(1);
                sem.release(1);
            })
        };
        let barger = {
            let sem = sem.clone();
            thread::spawn(move || drop(sem.try_acquire()))
        };
        releaser.join().unwrap();
        barger.join().unwrap();
        assert!(flag.take(), "the head fits and was not woken");
        let Poll::Ready(permit) = poll_once(head.as_mut(), &waker) else {
            panic!("the woken head's retry lost with nobody barging");
        };
        assert_eq!(permit.unwrap().num_permits(), 2);
        assert_eq!(sem.value(), 2);
        assert_eq!(sem.waiting(), 0);
    });
}
