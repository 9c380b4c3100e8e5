#![cfg(polysync_loom)]
//! loom models of many-permit acquisitions, their cancellation, owned
//! futures and closing.
//!
//! Run with:
//!
//! RUSTFLAGS="--cfg polysync_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true cargo test --release --test loom_semaphore_many --target-dir target/loom
//!
//! The design they check (src/semaphore/raw.rs): a many-permit request is
//! served all at once; while it waits at the head of the line the free
//! permits stay in the word, kept for it (no later request takes them); a
//! head that gives up lets them go to the waiters behind it
//! (`after_cancelled`); a served request dropped unpolled gives all of it
//! back; `close` completes every waiter. The same loom rules as tests/loom.rs
//! (at most 4 spawned threads, the main thread never waits, preemption
//! bound 2).

use loom::sync::Arc;
use loom::thread;
use polysync::{AcquireError, Semaphore, TryAcquireError};
use std::pin::pin;
use std::task::Poll;

#[path = "support/loom.rs"]
mod support;

use support::{SOON, flag_waker, model, poll_once, timing_out};

/// A head that wants 2 and a one-permit waiter queued behind it, fed by two
/// releases of one permit on two threads: the head is always served first
/// (never overtaken), both are served in the end, nothing is lost.
#[test]
fn many_head_is_not_overtaken_by_a_later_single() {
    model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let (flag, waker) = flag_waker();
        let mut head = Box::pin(sem.acquire_many(2));
        assert!(poll_once(head.as_mut(), &waker).is_pending());
        let mut single = Box::pin(sem.acquire());
        assert!(poll_once(single.as_mut(), &waker).is_pending());
        let releasers: Vec<_> = (0..3)
            .map(|_| {
                let sem = sem.clone();
                thread::spawn(move || sem.release(1))
            })
            .collect();
        for r in releasers {
            r.join().unwrap();
        }
        assert!(flag.peek(), "a served waiter was not woken");
        // Both served: the head with 2 (it was first), the single with 1.
        let Poll::Ready(big) = poll_once(head.as_mut(), &waker) else {
            panic!("the head was not served");
        };
        assert_eq!(big.unwrap().num_permits(), 2);
        let Poll::Ready(one) = poll_once(single.as_mut(), &waker) else {
            panic!("the single was not served");
        };
        drop(one.unwrap());
        assert_eq!(sem.value(), 3);
        assert_eq!(sem.waiting(), 0);
    });
}

/// The head (wants 2) is dropped on one thread while a release of 2 lands
/// on another, with a one-permit waiter behind it: whether the head was
/// served (and gives back) or left while queued (its kept permits go on),
/// the waiter behind is served and no permit is lost.
#[test]
fn many_head_cancel_vs_release_lets_the_next_through() {
    model(|| {
        // A std `Arc`, for the owned future (its count is not part of the
        // model; the semaphore's atomics are).
        let sem = std::sync::Arc::new(Semaphore::new(0));
        let head = {
            let sem = sem.clone();
            thread::spawn(move || {
                let (_flag, waker) = flag_waker();
                let mut fut = pin!(sem.acquire_many_owned(2));
                // Served at once (the release came first: the permit is
                // given back as it drops), or dropped while queued or after
                // a hand-off it did not consume: leaves the queue or gives
                // its grant back.
                if let Poll::Ready(permit) = poll_once(fut.as_mut(), &waker) {
                    assert_eq!(permit.unwrap().num_permits(), 2);
                }
            })
        };
        let behind = {
            let sem = sem.clone();
            thread::spawn(move || {
                loom::future::block_on(sem.acquire_many(1))
                    .unwrap()
                    .forget()
            })
        };
        sem.release(2);
        head.join().unwrap();
        // Never stranded behind the head that left: this join returns.
        behind.join().unwrap();
        assert_eq!(sem.value() + 1, 2, "permits lost or created");
        assert_eq!(sem.waiting(), 0);
    });
}

/// The head wants 2 while 1 is free (kept for it); a one-permit waiter
/// arrives behind it as the head gives up, with no release at all: the
/// kept permit must reach the waiter behind (the head's leaving serves
/// it), whichever comes first.
#[test]
fn kept_permits_go_to_the_next_when_the_head_leaves() {
    model(|| {
        let sem = std::sync::Arc::new(Semaphore::new(1));
        let head = {
            let sem = sem.clone();
            thread::spawn(move || {
                let (_flag, waker) = flag_waker();
                let mut fut = pin!(sem.acquire_many_owned(2));
                assert!(poll_once(fut.as_mut(), &waker).is_pending());
            })
        };
        let behind = {
            let sem = sem.clone();
            thread::spawn(move || drop(loom::future::block_on(sem.acquire_many(1)).unwrap()))
        };
        head.join().unwrap();
        behind.join().unwrap(); // a stranded permit: loom reports a deadlock
        assert_eq!(sem.value(), 1);
        assert_eq!(sem.waiting(), 0);
    });
}

/// A blocking many-permit wait that times out (at once) races a release:
/// either it takes both permits, or they stay free; never half.
#[test]
fn many_timeout_vs_release() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let waiter = {
            let sem = sem.clone();
            thread::spawn(
                move || match timing_out(|| sem.try_acquire_many_for(2, SOON)) {
                    Ok(permit) => {
                        permit.forget();
                        2
                    }
                    Err(e) => {
                        assert_eq!(e, TryAcquireError::Unavailable);
                        0
                    }
                },
            )
        };
        sem.release(1);
        let held = waiter.join().unwrap();
        assert_eq!(sem.value() + held, 2, "permits lost or created");
        assert_eq!(sem.waiting(), 0);
    });
}

/// `close` races a blocking many-permit waiter and a release: the waiter
/// either got its permits before the close or fails with `Closed`; it never
/// hangs, and the permits are all accounted for.
#[test]
fn close_vs_waiter_and_release() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let waiter = {
            let sem = sem.clone();
            thread::spawn(move || match sem.acquire_many_blocking(2) {
                Ok(permit) => {
                    permit.forget();
                    2
                }
                Err(e) => {
                    assert_eq!(e, AcquireError);
                    0
                }
            })
        };
        let releaser = {
            let sem = sem.clone();
            thread::spawn(move || sem.release(1))
        };
        sem.close();
        let held = waiter.join().unwrap();
        releaser.join().unwrap();
        assert!(sem.is_closed());
        assert_eq!(sem.value() + held, 2);
        assert_eq!(sem.waiting(), 0);
    });
}

/// `close` races a queued one-permit acquisition (a future polled once on
/// its thread, then driven by the blocking driver) and a release: the
/// waiter either got the permit or fails with `AcquireError`; it never
/// hangs (a wake that `close` skipped is a loom deadlock), and the permit
/// is never lost or duplicated.
#[test]
fn close_vs_queued_single_and_release() {
    model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let waiter = {
            let sem = sem.clone();
            thread::spawn(move || {
                let (_flag, waker) = flag_waker();
                let mut fut = pin!(sem.acquire());
                let out = match poll_once(fut.as_mut(), &waker) {
                    Poll::Ready(out) => out,
                    Poll::Pending => polysync::lowlevel::block_on(fut, None).unwrap(),
                };
                match out {
                    Ok(permit) => {
                        permit.forget();
                        1
                    }
                    Err(AcquireError) => 0,
                }
            })
        };
        let releaser = {
            let sem = sem.clone();
            thread::spawn(move || sem.release(1))
        };
        sem.close();
        let held = waiter.join().unwrap();
        releaser.join().unwrap();
        assert!(sem.is_closed());
        assert_eq!(sem.value() + held, 1, "permit lost or duplicated");
        assert_eq!(sem.waiting(), 0);
    });
}

/// `close` races a blocking one-permit waiter on a semaphore without
/// permits (nobody releases): whether the waiter queued before the close or
/// arrives after it, it ends with `AcquireError` (a queued waiter that
/// `close` does not wake is a loom deadlock).
#[test]
fn close_wakes_a_queued_blocking_single() {
    model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let waiter = {
            let sem = sem.clone();
            thread::spawn(move || sem.acquire_blocking().map(|p| p.forget()))
        };
        sem.close();
        assert_eq!(waiter.join().unwrap(), Err(AcquireError));
        assert_eq!((sem.value(), sem.waiting()), (0, 0));
    });
}
