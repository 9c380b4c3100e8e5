#![cfg(polysync_loom)]
//! loom models of `Latch`, `Barrier` and `RBarrier`.
//!
//! Run with:
//!
//! RUSTFLAGS="--cfg polysync_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true cargo test --release --test loom_barrier --target-dir target/loom
//!
//! Under `--cfg polysync_loom` the crate's atomics, cells (including the
//! barrier's ticket cell), `thread` and `thread_local!` come from loom, so
//! these models check the real barrier code, wait future and thread waiter.
//! loom has no clock: a cancellation is a future polled once and dropped, and
//! a timeout is a blocking call whose waiter reports `TimedOut` at once unless
//! a wake is already pending (a green backend that claims the thread).
//!
//! The main thread never parks as a waiter (unparking it in `join` trips
//! tokio-rs/loom#249). It may be a party without parking: it polls a wait
//! future once *before* spawning the other threads, and polls it again after
//! joining them (then it must be ready, and its waker must have been woken).
//!
//! At most two threads take the queue lock concurrently in any model: with
//! three, loom can starve a lock holder that it preempted right before its
//! unlocking store, by alternating two threads that spin (and yield) on the
//! lock forever, and reports "exceeded maximum number of branches" for a
//! schedule no real scheduler produces (see the report on `WaitQueue::lock`).

#[path = "support/loom.rs"]
mod support;

use loom::sync::Arc;
use loom::thread;
use polysync::barrier::{Barrier, BarrierWaitError, BarrierWaitResult, Latch, RBarrier};
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

use support::{Flag, flag_waker, model};

/// Polls `fut` once, then drops it: a cancelled async wait.
fn poll_once_then_drop<F: Future>(fut: F) -> Option<F::Output> {
    let (_flag, waker) = flag_waker();
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(&waker)) {
        Poll::Ready(out) => Some(out),
        Poll::Pending => None,
    }
}

/// Polls `fut` with a flag waker; returns the flag.
fn first_poll<F: Future>(fut: Pin<&mut F>) -> (std::sync::Arc<Flag>, Waker, Poll<F::Output>) {
    let (flag, waker) = flag_waker();
    let out = fut.poll(&mut Context::from_waker(&waker));
    (flag, waker, out)
}

/// Polls a future that was pending once more, after every other party is
/// done: it must be ready, and its waker must have been woken.
fn last_poll<F: Future>(fut: Pin<&mut F>, flag: &Flag, waker: &Waker) -> F::Output {
    match fut.poll(&mut Context::from_waker(waker)) {
        Poll::Ready(out) => {
            assert!(flag.take(), "completed without a wake-up (lost wake-up)");
            out
        }
        Poll::Pending => panic!("a party is left hanging"),
    }
}

/// Drives two futures in one task (one thread), polling the first first.
fn join2<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    loom::future::block_on(async {
        let (mut a, mut b) = (pin!(a), pin!(b));
        let (mut ra, mut rb) = (None, None);
        std::future::poll_fn(|cx| {
            if ra.is_none() {
                if let Poll::Ready(v) = a.as_mut().poll(cx) {
                    ra = Some(v);
                }
            }
            if rb.is_none() {
                if let Poll::Ready(v) = b.as_mut().poll(cx) {
                    rb = Some(v);
                }
            }
            if ra.is_some() && rb.is_some() {
                Poll::Ready((ra.take().unwrap(), rb.take().unwrap()))
            } else {
                Poll::Pending
            }
        })
        .await
    })
}

use support::{SOON, timing_out};

/// A cyclic barrier's result as its arrival index (the models check indices).
trait Ix<E> {
    fn ix(self) -> Result<usize, E>;
}

impl<E> Ix<E> for Result<BarrierWaitResult, E> {
    fn ix(self) -> Result<usize, E> {
        self.map(|r| r.index())
    }
}

fn sorted(mut v: Vec<usize>) -> Vec<usize> {
    v.sort_unstable();
    v
}

// ---------------------------------------------------------------------------
// Phases
// ---------------------------------------------------------------------------

/// A blocking and an async party: both pass with indices {0, 1}.
#[test]
fn barrier2_blocking_and_async() {
    model(|| {
        let b = Arc::new(Barrier::new(2));
        let blocking = {
            let b = b.clone();
            thread::spawn(move || b.wait_blocking().unwrap().index())
        };
        let task = {
            let b = b.clone();
            thread::spawn(move || loom::future::block_on(b.wait()).unwrap().index())
        };
        let got = sorted(vec![blocking.join().unwrap(), task.join().unwrap()]);
        assert_eq!(got, [0, 1]);
        assert_eq!(b.waiting(), 0);
        assert!(!b.is_broken());
    });
}

/// Three parties: the main thread's future queues first, then a blocking
/// and an async party race to arrive; one of them opens the phase. Indices
/// {0, 1, 2}, the main party's is 0, and it was woken.
#[test]
fn barrier3_three_parties() {
    model(|| {
        let b = Arc::new(Barrier::new(3));
        let mut first = pin!(b.wait());
        let (flag, waker, out) = first_poll(first.as_mut());
        assert!(out.is_pending());
        let blocking = {
            let b = b.clone();
            thread::spawn(move || b.wait_blocking().unwrap().index())
        };
        let task = {
            let b = b.clone();
            thread::spawn(move || loom::future::block_on(b.wait()).unwrap().index())
        };
        let (x, y) = (blocking.join().unwrap(), task.join().unwrap());
        assert_eq!(last_poll(first.as_mut(), &flag, &waker).ix(), Ok(0));
        assert_eq!(sorted(vec![x, y]), [1, 2]);
        assert_eq!(b.waiting(), 0);
        assert!(!b.is_broken());
    });
}

/// Two parties, two phases each: an early arrival for phase 2 never joins
/// phase 1; each phase hands out {0, 1}.
#[test]
fn barrier2_two_phases() {
    model(|| {
        let b = Arc::new(Barrier::new(2));
        let blocking = {
            let b = b.clone();
            thread::spawn(move || {
                [
                    b.wait_blocking().unwrap().index(),
                    b.wait_blocking().unwrap().index(),
                ]
            })
        };
        let task = {
            let b = b.clone();
            thread::spawn(move || {
                loom::future::block_on(async {
                    [
                        b.wait().await.unwrap().index(),
                        b.wait().await.unwrap().index(),
                    ]
                })
            })
        };
        let (x, y) = (blocking.join().unwrap(), task.join().unwrap());
        assert_eq!(sorted(vec![x[0], y[0]]), [0, 1], "phase 1");
        assert_eq!(sorted(vec![x[1], y[1]]), [0, 1], "phase 2");
        assert_eq!(b.waiting(), 0);
    });
}

// ---------------------------------------------------------------------------
// Abort, cancel, timeout vs arrivals
// ---------------------------------------------------------------------------

/// `abort` (from another thread) races the arrival that would open the
/// phase of a queued party: either the phase opened first (both keep their
/// indices) or both get the broken error; nobody hangs.
#[test]
fn barrier_abort_vs_arrival() {
    model(|| {
        let b = Arc::new(Barrier::new(2));
        let mut first = pin!(b.wait());
        let (flag, waker, out) = first_poll(first.as_mut());
        assert!(out.is_pending());
        let arrival = {
            let b = b.clone();
            thread::spawn(move || loom::future::block_on(b.wait()).ix())
        };
        let aborter = {
            let b = b.clone();
            thread::spawn(move || b.abort())
        };
        let y = arrival.join().unwrap();
        aborter.join().unwrap();
        let x = last_poll(first.as_mut(), &flag, &waker).ix();
        match (x, y) {
            (Ok(x), Ok(y)) => assert_eq!((x, y), (0, 1)),
            (Err(_), Err(_)) => {}
            other => panic!("a phase half passed: {other:?}"),
        }
        assert!(b.is_broken());
        assert_eq!(b.waiting(), 0);
    });
}

/// A party polls once and drops its wait, racing a blocking arrival: if the
/// dropped party completed, the phase passed for both; otherwise the barrier
/// ends broken, and the other party either passed (the phase opened just
/// before the drop) or got the broken error. Nobody hangs.
#[test]
fn barrier_cancel_vs_arrival() {
    model(|| {
        let b = Arc::new(Barrier::new(2));
        let canceller = {
            let b = b.clone();
            thread::spawn(move || poll_once_then_drop(b.wait()).map(Ix::ix))
        };
        let blocking = {
            let b = b.clone();
            thread::spawn(move || b.wait_blocking().ix())
        };
        let (c, x) = (canceller.join().unwrap(), blocking.join().unwrap());
        match c {
            Some(c) => {
                let c = c.expect("nobody broke the barrier before the phase");
                assert_eq!(sorted(vec![c, x.unwrap()]), [0, 1]);
                assert!(!b.is_broken());
            }
            None => {
                assert!(b.is_broken(), "a dropped wait must break the barrier");
                if let Ok(x) = x {
                    assert_eq!(x, 1, "the blocking party opened the phase");
                }
            }
        }
        assert_eq!(b.waiting(), 0);
    });
}

/// A blocking wait that times out races an arrival: success gives matching
/// indices; a timeout breaks the barrier; nobody hangs.
#[test]
fn barrier_timeout_vs_arrival() {
    model(|| {
        let b = Arc::new(Barrier::new(2));
        let timed = {
            let b = b.clone();
            thread::spawn(move || timing_out(|| b.try_wait_for(SOON).ix()))
        };
        let blocking = {
            let b = b.clone();
            thread::spawn(move || b.wait_blocking().ix())
        };
        let (t, x) = (timed.join().unwrap(), blocking.join().unwrap());
        match t {
            Ok(t) => {
                assert_eq!(sorted(vec![t, x.unwrap()]), [0, 1]);
                assert!(!b.is_broken());
            }
            Err(e) => {
                assert_eq!(e, BarrierWaitError::TimedOut, "nobody else breaks it");
                assert!(b.is_broken());
                if let Ok(x) = x {
                    assert_eq!(x, 1);
                }
            }
        }
        assert_eq!(b.waiting(), 0);
    });
}

/// A party queued first; one thread resets then aborts, another brings two
/// more parties (one task). Arrivals after the reset may meet while the
/// party it broke is still queued: the last of them then queues too, and the
/// thread that wakes the broken party opens their phase (the deferred
/// opening). Every party returns; the successes are whole phases with
/// indices {0, 1}.
#[test]
fn rbarrier_reset_and_abort_vs_arrivals() {
    model(|| {
        let b = Arc::new(RBarrier::new(2));
        let mut first = pin!(b.wait());
        let (flag, waker, out) = first_poll(first.as_mut());
        assert!(out.is_pending());
        let breaker = {
            let b = b.clone();
            thread::spawn(move || {
                b.reset();
                b.abort();
            })
        };
        let arrivals = {
            let b = b.clone();
            thread::spawn(move || {
                let (x, y) = join2(b.wait(), b.wait());
                (x.ix(), y.ix())
            })
        };
        let (g1, g2) = arrivals.join().unwrap();
        breaker.join().unwrap();
        let f0 = last_poll(first.as_mut(), &flag, &waker).ix();
        let got = [f0, g1, g2];
        let ok: Vec<usize> = got.iter().filter_map(|r| r.ok()).collect();
        match ok.len() {
            0 => {}
            2 => assert_eq!(sorted(ok), [0, 1], "{got:?}"),
            _ => panic!("not whole phases: {got:?}"),
        }
        if f0.is_ok() {
            assert_eq!(
                (f0, g1),
                (Ok(0), Ok(1)),
                "the queued party met the first arrival"
            );
        }
        assert!(b.is_broken());
        assert_eq!(b.waiting(), 0);
    });
}

/// A reset races a cancelled wait (poll once, drop). Whatever the order, a
/// second reset leaves the barrier usable: a full phase then passes.
#[test]
fn rbarrier_reset_vs_cancel_then_phase() {
    model(|| {
        let b = Arc::new(RBarrier::new(2));
        let canceller = {
            let b = b.clone();
            thread::spawn(move || poll_once_then_drop(b.wait()).map(Ix::ix))
        };
        b.reset();
        // Two parties: a single wait can only queue (or fail if broken).
        assert!(matches!(canceller.join().unwrap(), None | Some(Err(_))));
        assert_eq!(b.waiting(), 0);
        b.reset();
        assert!(!b.is_broken());
        let x = {
            let b = b.clone();
            thread::spawn(move || b.wait_blocking().ix())
        };
        let y = {
            let b = b.clone();
            thread::spawn(move || loom::future::block_on(b.wait()).ix())
        };
        let got = sorted(vec![x.join().unwrap().unwrap(), y.join().unwrap().unwrap()]);
        assert_eq!(got, [0, 1]);
        assert_eq!(b.waiting(), 0);
    });
}

// ---------------------------------------------------------------------------
// Latch
// ---------------------------------------------------------------------------

/// Three latch parties: the main thread's queues first, a blocking and an
/// async party race to be the last. All pass; the queued ones were woken.
#[test]
fn latch3_three_parties() {
    model(|| {
        let l = Arc::new(Latch::new(3));
        let mut first = pin!(l.wait());
        let (flag, waker, out) = first_poll(first.as_mut());
        assert!(out.is_pending());
        let blocking = {
            let l = l.clone();
            thread::spawn(move || l.wait_blocking())
        };
        let task = {
            let l = l.clone();
            thread::spawn(move || loom::future::block_on(l.wait()))
        };
        assert_eq!(blocking.join().unwrap(), Ok(()));
        assert_eq!(task.join().unwrap(), Ok(()));
        assert_eq!(last_poll(first.as_mut(), &flag, &waker), Ok(()));
        assert_eq!(l.try_wait(), Ok(true));
        assert_eq!(l.waiting(), 0);
    });
}

/// `abort` races the arrival that passes a latch with one queued party:
/// both pass or both fail; afterwards every wait fails.
#[test]
fn latch_abort_vs_arrival() {
    model(|| {
        let l = Arc::new(Latch::new(2));
        let mut first = pin!(l.wait());
        let (flag, waker, out) = first_poll(first.as_mut());
        assert!(out.is_pending());
        let arrival = {
            let l = l.clone();
            thread::spawn(move || l.wait_blocking())
        };
        let aborter = {
            let l = l.clone();
            thread::spawn(move || l.abort())
        };
        let y = arrival.join().unwrap();
        aborter.join().unwrap();
        let x = last_poll(first.as_mut(), &flag, &waker);
        assert_eq!(x.is_ok(), y.is_ok(), "{x:?} {y:?}");
        assert!(l.is_broken());
        assert_eq!(l.waiting(), 0);
        assert!(l.try_wait().is_err());
    });
}

/// A latch party polls once and drops, racing a blocking arrival: the
/// blocking party passes exactly when the latch is not broken.
#[test]
fn latch_cancel_vs_arrival() {
    model(|| {
        let l = Arc::new(Latch::new(2));
        let canceller = {
            let l = l.clone();
            thread::spawn(move || poll_once_then_drop(l.wait()))
        };
        let blocking = {
            let l = l.clone();
            thread::spawn(move || l.wait_blocking())
        };
        let (c, x) = (canceller.join().unwrap(), blocking.join().unwrap());
        assert_eq!(x.is_ok(), !l.is_broken(), "{c:?} {x:?}");
        if c.is_some() {
            assert_eq!(c, Some(Ok(())));
            assert!(x.is_ok());
        }
        assert_eq!(l.waiting(), 0);
    });
}

/// A latch wait that times out races an arrival.
#[test]
fn latch_timeout_vs_arrival() {
    model(|| {
        let l = Arc::new(Latch::new(2));
        let timed = {
            let l = l.clone();
            thread::spawn(move || timing_out(|| l.try_wait_for(SOON)))
        };
        let task = {
            let l = l.clone();
            thread::spawn(move || loom::future::block_on(l.wait()))
        };
        let (t, x) = (timed.join().unwrap(), task.join().unwrap());
        if t.is_ok() {
            assert!(x.is_ok());
        }
        assert_eq!(x.is_ok(), !l.is_broken(), "{t:?} {x:?}");
        assert_eq!(l.waiting(), 0);
    });
}
