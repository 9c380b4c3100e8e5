#![cfg(polysync_loom)]
//! loom models of `REvent` and `CountdownEvent` (the epoch rounds, the
//! batched wake-up, set/clear/up/down racing waits and cancellations).
//!
//! Run with:
//!
//! RUSTFLAGS="--cfg polysync_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true cargo test --release --test loom_events --target-dir target/loom
//!
//! Under `--cfg polysync_loom` the crate's atomics, cells, `thread` and
//! `thread_local!` come from loom, so these models check the real queue,
//! wait future and thread waiter. loom has no clock: a timeout is a `Waiter`
//! whose `wait` reports `TimedOut` unless a wake is pending, and a
//! cancellation is a future polled once and dropped. The main thread never
//! parks (tokio-rs/loom#249): it only notifies, polls with flag wakers, and
//! joins. The batch models queue 17 futures (one more than a wake batch) so
//! that the wake-up really runs in two batches with the lock released between.

#[path = "support/loom.rs"]
mod support;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
use loom::thread;
use polysync::countdown::{CountdownEvent, TooManyDowns};
use polysync::revent::REvent;
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Wake, Waker};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

use support::{flag_waker, model};

/// A waker that counts wakes in a std atomic: not a loom scheduling point.
/// Only for counts read after a `join` (which orders them).
struct StdFlag(std::sync::atomic::AtomicUsize);

impl StdFlag {
    /// How many wakes arrived since the last `take`; clears the count.
    fn take(&self) -> usize {
        self.0.swap(0, std::sync::atomic::Ordering::SeqCst)
    }

    /// How many wakes arrived since the last `take`.
    fn wakes(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Wake for StdFlag {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

fn std_flag_waker() -> (std::sync::Arc<StdFlag>, Waker) {
    let flag = std::sync::Arc::new(StdFlag(std::sync::atomic::AtomicUsize::new(0)));
    let waker = Waker::from(flag.clone());
    (flag, waker)
}

/// A marker in a std atomic (not a loom scheduling point): set by one thread
/// before an operation, read by another after it observed that operation's
/// effect. loom runs one thread at a time, so the read sees the store.
fn marker() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false))
}

fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

/// The waker of the oldest waiter in the batch models. Its first wake runs
/// inside the notifier, between two wake batches: it says so and holds the
/// notifier there until [`Gate::resume`].
struct Gate {
    wakes: std::sync::atomic::AtomicUsize,
    between: AtomicBool,
    resume: AtomicBool,
}

impl Gate {
    fn new() -> std::sync::Arc<Gate> {
        std::sync::Arc::new(Gate {
            wakes: std::sync::atomic::AtomicUsize::new(0),
            between: AtomicBool::new(false),
            resume: AtomicBool::new(false),
        })
    }

    fn waker(self: &std::sync::Arc<Self>) -> Waker {
        Waker::from(self.clone())
    }

    /// Spins (yielding to loom) until the notifier is between two batches.
    fn wait_between(&self) {
        while !self.between.load(SeqCst) {
            thread::yield_now();
        }
    }

    fn resume(&self) {
        self.resume.store(true, SeqCst);
    }

    /// How many times the oldest waiter was woken.
    fn wakes(&self) -> usize {
        self.wakes.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Wake for Gate {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        if self.wakes.fetch_add(1, std::sync::atomic::Ordering::SeqCst) != 0 {
            return;
        }
        self.between.store(true, SeqCst);
        while !self.resume.load(SeqCst) {
            thread::yield_now();
        }
    }
}

use support::{SOON, timing_out};

/// One more than a wake batch.
const BATCH_PLUS_ONE: usize = 17;

// ---------------------------------------------------------------------------
// REvent
// ---------------------------------------------------------------------------

/// `set` vs a blocking and an async waiter: both return.
#[test]
fn revent_set_vs_blocking_and_async_waiters() {
    model(|| {
        let ev = Arc::new(REvent::new());
        let blocking = {
            let ev = ev.clone();
            thread::spawn(move || ev.wait_blocking())
        };
        let task = {
            let ev = ev.clone();
            thread::spawn(move || loom::future::block_on(ev.wait()))
        };
        assert!(ev.set());
        blocking.join().unwrap();
        task.join().unwrap();
        assert_eq!(ev.waiting(), 0);
    });
}

/// A queued blocking waiter, then `set(); clear();` racing its wake-up and a
/// late waiter (the main thread's first poll after the clear): the queued
/// waiter returns (a miss is a loom deadlock), the late one stays pending
/// until the next `set`.
#[test]
fn revent_pulse_wakes_queued_waiter_not_latecomer() {
    model(|| {
        let ev = Arc::new(REvent::new());
        let waiter = {
            let ev = ev.clone();
            thread::spawn(move || ev.wait_blocking())
        };
        while ev.waiting() == 0 {
            thread::yield_now();
        }
        assert!(ev.set());
        assert!(ev.clear());
        let (flag, waker) = flag_waker();
        let mut late = pin!(ev.wait());
        assert!(
            poll_once(late.as_mut(), &waker).is_pending(),
            "a wait that started after the clear completed"
        );
        waiter.join().unwrap();
        assert_eq!(flag.wakes(), 0, "the late waiter was woken by the old set");
        assert_eq!(ev.waiting(), 1);
        assert!(ev.set());
        assert_eq!(
            flag.wakes(),
            1,
            "the late waiter was not woken exactly once"
        );
        assert!(poll_once(late.as_mut(), &waker).is_ready());
        assert_eq!(ev.waiting(), 0);
    });
}

/// A waiter that cancels (poll once, drop) and a blocking waiter race
/// `set(); clear(); set();`: the blocking one returns, the cancelled one
/// leaves no node behind.
#[test]
fn revent_set_clear_vs_cancel_and_waiter() {
    model(|| {
        let ev = Arc::new(REvent::new());
        let setting = marker();
        let canceller = {
            let (ev, setting) = (ev.clone(), setting.clone());
            thread::spawn(move || {
                let (_flag, waker) = flag_waker();
                let mut fut = pin!(ev.wait());
                if poll_once(fut.as_mut(), &waker).is_ready() {
                    assert!(
                        setting.load(std::sync::atomic::Ordering::SeqCst),
                        "ready before any set"
                    );
                }
            })
        };
        let blocking = {
            let ev = ev.clone();
            thread::spawn(move || ev.wait_blocking())
        };
        setting.store(true, std::sync::atomic::Ordering::SeqCst);
        ev.set();
        ev.clear();
        ev.set();
        canceller.join().unwrap();
        blocking.join().unwrap();
        assert_eq!(ev.waiting(), 0);
        assert!(ev.is_set());
    });
}

/// `set` (main) vs `clear` (a thread) vs a timed-out wait (a thread): any
/// order; the queue is left empty, and the state is what the last of the
/// two operations made it.
#[test]
fn revent_set_vs_clear_vs_timeout() {
    model(|| {
        let ev = Arc::new(REvent::new());
        let setting = marker();
        let waiter = {
            let (ev, setting) = (ev.clone(), setting.clone());
            thread::spawn(move || {
                let woken = timing_out(|| ev.try_wait_for(SOON));
                // A wait that reports success saw the one set.
                assert!(
                    !woken || setting.load(std::sync::atomic::Ordering::SeqCst),
                    "the timed wait succeeded before any set"
                );
            })
        };
        let clearer = {
            let ev = ev.clone();
            thread::spawn(move || ev.clear())
        };
        setting.store(true, std::sync::atomic::Ordering::SeqCst);
        let set = ev.set();
        let cleared = clearer.join().unwrap();
        waiter.join().unwrap(); // it checked its result itself
        assert!(set, "only this thread sets");
        assert_eq!(ev.is_set(), !cleared, "clear() reports what it did");
        assert_eq!(ev.waiting(), 0);
    });
}

/// 17 futures queued (two wake batches); a thread `set()`s. The oldest
/// waiter's waker is a [`Gate`]: it runs in the setter between the two
/// batches (no queue lock held) and holds the setter there until the main
/// thread has cleared the event and started a late wait (`newer`: then set,
/// clear and start a second late wait) — or, with `race`, lets the setter go on at once so that its
/// second batch races the clear and the late wait. The late waiter must not
/// be woken by the old round; every early waiter is woken exactly once.
///
/// A gate rather than plain scheduling: loom 0.7's DPOR misses interleavings
/// where a thread's store follows its own load of the same atomic (see
/// tokio-rs/loom#392), which is how the queue lock starts, so it would not
/// reliably reach "between two batches" by itself. The other wakers are
/// plain std flags, read only after `join`, so waking is not a scheduling
/// point.
fn revent_batches(newer: bool, race: bool) {
    model(move || {
        let ev = Arc::new(REvent::new());
        let gate = Gate::new();
        let mut early = Vec::new();
        for i in 0..BATCH_PLUS_ONE {
            let (flag, mut waker) = std_flag_waker();
            if i == 0 {
                waker = gate.waker();
            }
            let mut fut = Box::pin(ev.wait());
            assert!(poll_once(fut.as_mut(), &waker).is_pending());
            early.push((fut, flag, waker));
        }
        let setter = {
            let ev = ev.clone();
            thread::spawn(move || ev.set())
        };
        gate.wait_between();
        if race {
            gate.resume();
        }
        assert!(ev.clear(), "set() publishes the state before it wakes");
        let (late_flag, late_waker) = std_flag_waker();
        let mut late = pin!(ev.wait());
        assert!(
            poll_once(late.as_mut(), &late_waker).is_pending(),
            "a wait that started after the clear completed"
        );
        // With `newer`: a second round starts, then a second late wait that
        // neither round may wake (the old round must stop: the newer owns
        // what is left of the queue).
        let (late2_flag, late2_waker) = std_flag_waker();
        let mut late2 = pin!(ev.wait());
        if newer {
            assert!(ev.set());
            assert!(ev.clear());
            assert!(poll_once(late2.as_mut(), &late2_waker).is_pending());
        }
        gate.resume();
        assert!(setter.join().unwrap());
        assert_eq!(
            gate.wakes(),
            1,
            "the oldest waiter was not woken exactly once"
        );
        for (i, (fut, flag, waker)) in early.iter_mut().enumerate() {
            if i != 0 {
                let n = flag.take();
                assert_eq!(n, 1, "early waiter #{i} woken {n} times, not once");
            }
            assert!(poll_once(fut.as_mut(), waker).is_ready());
        }
        if newer {
            assert_eq!(
                late_flag.take(),
                1,
                "the newer set did not wake the late waiter exactly once"
            );
            assert_eq!(
                late2_flag.wakes(),
                0,
                "a waiter that came after both sets was woken"
            );
            assert_eq!(ev.waiting(), 1);
            assert!(ev.set());
            assert_eq!(late2_flag.take(), 1);
            assert!(poll_once(late2.as_mut(), &late2_waker).is_ready());
        } else {
            assert_eq!(
                late_flag.wakes(),
                0,
                "the late waiter was woken by the old set"
            );
            assert_eq!(ev.waiting(), 1);
            assert!(ev.set());
            assert_eq!(late_flag.take(), 1);
        }
        assert!(poll_once(late.as_mut(), &late_waker).is_ready());
        assert_eq!(ev.waiting(), 0);
    });
}

#[test]
fn revent_clear_and_latecomer_between_batches() {
    revent_batches(false, false);
}

#[test]
fn revent_clear_and_latecomer_racing_second_batch() {
    revent_batches(false, true);
}

#[test]
fn revent_newer_set_between_batches_takes_over() {
    revent_batches(true, false);
}

// ---------------------------------------------------------------------------
// CountdownEvent
// ---------------------------------------------------------------------------

/// Two `down`s (a thread and main) vs a blocking waiter: exactly one
/// reaches zero, the waiter returns, a third `down` errs.
#[test]
fn countdown_two_downs_vs_blocking_waiter() {
    model(|| {
        let cd = Arc::new(CountdownEvent::new(2));
        let waiter = {
            let cd = cd.clone();
            thread::spawn(move || cd.wait_blocking())
        };
        let downer = {
            let cd = cd.clone();
            thread::spawn(move || cd.down().unwrap())
        };
        let mine = cd.down().unwrap();
        let theirs = downer.join().unwrap();
        assert_eq!(mine + theirs, 1, "values {mine} and {theirs}");
        waiter.join().unwrap();
        assert_eq!(cd.down(), Err(TooManyDowns));
        assert_eq!(cd.waiting(), 0);
    });
}

/// `up(1); down()` in a thread vs `down()` in main vs an async waiter: the
/// value ends at zero, so the waiter returns whatever the interleaving.
#[test]
fn countdown_up_down_vs_async_waiter() {
    model(|| {
        let cd = Arc::new(CountdownEvent::new(1));
        let waiter = {
            let cd = cd.clone();
            thread::spawn(move || loom::future::block_on(cd.wait()))
        };
        let worker = {
            let cd = cd.clone();
            thread::spawn(move || {
                cd.up(1);
                cd.down().unwrap();
            })
        };
        cd.down().unwrap();
        worker.join().unwrap();
        waiter.join().unwrap();
        assert_eq!(cd.value(), 0);
        assert_eq!(cd.waiting(), 0);
    });
}

/// A cancelled waiter and a timed-out waiter vs the `down` to zero: no node
/// is left, and a wait that reports success saw zero.
#[test]
fn countdown_down_vs_cancel_and_timeout() {
    model(|| {
        let cd = Arc::new(CountdownEvent::new(1));
        let canceller = {
            let cd = cd.clone();
            thread::spawn(move || {
                let (_flag, waker) = flag_waker();
                let mut fut = pin!(cd.wait());
                if poll_once(fut.as_mut(), &waker).is_ready() {
                    assert_eq!(cd.value(), 0, "a wait that completed saw zero");
                }
            })
        };
        let timed = {
            let cd = cd.clone();
            thread::spawn(move || {
                if timing_out(|| cd.try_wait_for(SOON)) {
                    assert_eq!(cd.value(), 0);
                }
            })
        };
        assert_eq!(cd.down(), Ok(0));
        canceller.join().unwrap();
        timed.join().unwrap();
        assert_eq!(cd.waiting(), 0);
    });
}

/// 17 futures queued; a thread `down()`s from 1 to zero. As in
/// [`revent_batches`], a [`Gate`] holds the round between its two batches
/// while the main thread does `up(1)` and starts a late wait (`newer`: then
/// `down()`s to zero again, `up(1)`, and starts a second late wait); with `race` the round goes on at once. The
/// late waiter must not be woken by the old round.
fn countdown_batches(newer: bool, race: bool) {
    model(move || {
        let cd = Arc::new(CountdownEvent::new(1));
        let gate = Gate::new();
        let mut early = Vec::new();
        for i in 0..BATCH_PLUS_ONE {
            let (flag, mut waker) = std_flag_waker();
            if i == 0 {
                waker = gate.waker();
            }
            let mut fut = Box::pin(cd.wait());
            assert!(poll_once(fut.as_mut(), &waker).is_pending());
            early.push((fut, flag, waker));
        }
        let downer = {
            let cd = cd.clone();
            thread::spawn(move || cd.down())
        };
        gate.wait_between();
        if race {
            gate.resume();
        }
        assert_eq!(cd.value(), 0, "down() publishes the value before it wakes");
        cd.up(1);
        let (late_flag, late_waker) = std_flag_waker();
        let mut late = pin!(cd.wait());
        assert!(
            poll_once(late.as_mut(), &late_waker).is_pending(),
            "a wait that started after the up completed"
        );
        // With `newer`: a second zero, an `up`, and a second late wait that
        // neither round may wake.
        let (late2_flag, late2_waker) = std_flag_waker();
        let mut late2 = pin!(cd.wait());
        if newer {
            assert_eq!(cd.down(), Ok(0));
            cd.up(1);
            assert!(poll_once(late2.as_mut(), &late2_waker).is_pending());
        }
        gate.resume();
        assert_eq!(downer.join().unwrap(), Ok(0));
        assert_eq!(
            gate.wakes(),
            1,
            "the oldest waiter was not woken exactly once"
        );
        for (i, (fut, flag, waker)) in early.iter_mut().enumerate() {
            if i != 0 {
                let n = flag.take();
                assert_eq!(n, 1, "early waiter #{i} woken {n} times, not once");
            }
            assert!(poll_once(fut.as_mut(), waker).is_ready());
        }
        if newer {
            assert_eq!(
                late_flag.take(),
                1,
                "the newer zero did not wake the late waiter exactly once"
            );
            assert_eq!(
                late2_flag.wakes(),
                0,
                "a waiter that came after both zeros was woken"
            );
            assert_eq!(cd.waiting(), 1);
            assert_eq!(cd.down(), Ok(0));
            assert_eq!(late2_flag.take(), 1);
            assert!(poll_once(late2.as_mut(), &late2_waker).is_ready());
        } else {
            assert_eq!(
                late_flag.wakes(),
                0,
                "the late waiter was woken by the old round"
            );
            assert_eq!(cd.waiting(), 1);
            assert_eq!(cd.down(), Ok(0));
            assert_eq!(late_flag.take(), 1);
        }
        assert!(poll_once(late.as_mut(), &late_waker).is_ready());
        assert_eq!(cd.waiting(), 0);
    });
}

#[test]
fn countdown_up_and_latecomer_between_batches() {
    countdown_batches(false, false);
}

#[test]
fn countdown_up_and_latecomer_racing_second_batch() {
    countdown_batches(false, true);
}

#[test]
fn countdown_newer_zero_between_batches_takes_over() {
    countdown_batches(true, false);
}
