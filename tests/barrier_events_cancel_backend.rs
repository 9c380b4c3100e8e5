//! The plain blocking forms (`wait_blocking`, `try_wait_for`,
//! `try_wait_until`; `wait_for` / `wait_until` for `Signal`) of the barriers,
//! the events and `lowlevel::Signal` when the current unit's waiter reports
//! cancellation: the wait is withdrawn (nothing stays queued; a barrier
//! party breaks its barrier; a signal is cancelled), then the unit unwinds
//! with the payload `lowlevel::UnitCancelled`.
//!
//! The cancelling unit is reached through a registered green backend that
//! claims the current thread only while a thread-local flag is set.
//! Registration is process-wide, so these tests have their own binary.

#[path = "support/worlds.rs"]
mod worlds;

use polysync::Event;
use polysync::barrier::{Barrier, Latch, RBarrier};
use polysync::countdown::CountdownEvent;
use polysync::lowlevel::{
    GreenBackend, Signal, ThreadWaiter, UnitCancelled, UnitId, WaitResult, Waiter, register_backend,
};
use polysync::revent::REvent;
use std::cell::Cell;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use worlds::Watchdog;

std::thread_local! {
    /// Whether the backend claims this thread: the unit is being cancelled.
    static CANCELLING: Cell<bool> = const { Cell::new(false) };
}

/// `wait` calls made on a cancelling waiter, process-wide.
static WAITS: AtomicUsize = AtomicUsize::new(0);

/// The waiter of a unit that is being cancelled: a real waker (this
/// thread's `ThreadWaiter`'s); `wait` reports `Cancelled`. Its `cancelled`
/// is the default one: unwind with `UnitCancelled`.
struct Cancelling(Waker);

impl Waiter for Cancelling {
    fn waker(&self) -> Waker {
        self.0.clone()
    }

    fn wait(&self, _deadline: Option<Instant>) -> WaitResult {
        WAITS.fetch_add(1, Ordering::Relaxed);
        WaitResult::Cancelled
    }
}

struct CancellingBackend;

// SAFETY: `current_unit` returns `None`: the claimed thread keeps its own
// identity, so no identity is made up here.
unsafe impl GreenBackend for CancellingBackend {
    fn name(&self) -> &'static str {
        "test-cancelling-units"
    }

    fn with_waiter(&self, f: &mut dyn FnMut(&dyn Waiter)) -> bool {
        if !CANCELLING.with(Cell::get) {
            return false;
        }
        let waiter = Cancelling(ThreadWaiter::with_current(|w| w.waker()));
        f(&waiter);
        true
    }

    fn current_unit(&self) -> Option<UnitId> {
        None
    }
}

static BACKEND: CancellingBackend = CancellingBackend;

/// Clears the flag even when the call unwinds.
struct Claimed;

impl Drop for Claimed {
    fn drop(&mut self) {
        CANCELLING.with(|c| c.set(false));
    }
}

/// Runs `call` as a unit that is being cancelled: it must unwind with
/// `UnitCancelled` after exactly one `wait` (the wait gave up at once).
#[track_caller]
fn unwinds<R: std::fmt::Debug>(what: &str, call: impl FnOnce() -> R) {
    register_backend(&BACKEND).unwrap();
    let before = WAITS.load(Ordering::Relaxed);
    let out = {
        CANCELLING.with(|c| c.set(true));
        let _claimed = Claimed;
        catch_unwind(AssertUnwindSafe(call))
    };
    match out {
        Ok(out) => panic!("{what}: returned {out:?} instead of unwinding"),
        Err(payload) => assert!(
            payload.is::<UnitCancelled>(),
            "{what}: unwound with another payload"
        ),
    }
    assert!(
        WAITS.load(Ordering::Relaxed) > before,
        "{what}: the backend's waiter was not asked"
    );
}

/// Runs `call` as a cancelled unit when it never has to wait: it returns.
fn returns<R>(call: impl FnOnce() -> R) -> R {
    register_backend(&BACKEND).unwrap();
    CANCELLING.with(|c| c.set(true));
    let _claimed = Claimed;
    call()
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn events_unwind_when_the_unit_is_cancelled() {
    let _dog = Watchdog::new(
        "events_unwind_when_the_unit_is_cancelled",
        Duration::from_secs(60),
    );
    let e = Event::new();
    unwinds("Event::wait_blocking", || e.wait_blocking());
    unwinds("Event::try_wait_for", || {
        e.try_wait_for(Duration::from_secs(60))
    });
    unwinds("Event::try_wait_until", || e.try_wait_until(far()));
    assert_eq!(e.waiting(), 0);
    e.set();
    returns(|| {
        e.wait_blocking();
        assert!(e.try_wait_for(Duration::from_secs(60)));
    });

    let e = REvent::new();
    unwinds("REvent::wait_blocking", || e.wait_blocking());
    unwinds("REvent::try_wait_for", || {
        e.try_wait_for(Duration::from_secs(60))
    });
    unwinds("REvent::try_wait_until", || e.try_wait_until(far()));
    assert_eq!(e.waiting(), 0);
    e.set();
    returns(|| assert!(e.try_wait_until(far())));

    let c = CountdownEvent::new(1);
    unwinds("CountdownEvent::wait_blocking", || c.wait_blocking());
    unwinds("CountdownEvent::try_wait_for", || {
        c.try_wait_for(Duration::from_secs(60))
    });
    unwinds("CountdownEvent::try_wait_until", || c.try_wait_until(far()));
    assert_eq!(c.waiting(), 0);
    c.down().unwrap();
    returns(|| c.wait_blocking());
}

#[test]
fn barrier_parties_break_the_barrier_then_unwind() {
    let _dog = Watchdog::new(
        "barrier_parties_break_the_barrier_then_unwind",
        Duration::from_secs(60),
    );
    type Form<'a, B> = (&'static str, &'a dyn Fn(&B) -> String);
    let latch_forms: [Form<'_, Latch>; 3] = [
        ("Latch::wait_blocking", &|l| {
            format!("{:?}", l.wait_blocking())
        }),
        ("Latch::try_wait_for", &|l| {
            format!("{:?}", l.try_wait_for(Duration::from_secs(60)))
        }),
        ("Latch::try_wait_until", &|l| {
            format!("{:?}", l.try_wait_until(far()))
        }),
    ];
    for (what, form) in latch_forms {
        let l = Latch::new(3);
        let mut other = pin!(l.wait());
        assert!(poll_once(other.as_mut()).is_pending());
        unwinds(what, || form(&l));
        assert!(l.is_broken(), "{what}: a cancelled party breaks the latch");
        assert_eq!(l.waiting(), 0, "{what}");
        assert!(
            matches!(poll_once(other.as_mut()), Poll::Ready(Err(_))),
            "{what}"
        );
    }

    macro_rules! cyclic {
        ($ty:ident) => {{
            let forms: [Form<'_, $ty>; 3] = [
                (concat!(stringify!($ty), "::wait_blocking"), &|b| {
                    format!("{:?}", b.wait_blocking())
                }),
                (concat!(stringify!($ty), "::try_wait_for"), &|b| {
                    format!("{:?}", b.try_wait_for(Duration::from_secs(60)))
                }),
                (concat!(stringify!($ty), "::try_wait_until"), &|b| {
                    format!("{:?}", b.try_wait_until(far()))
                }),
            ];
            for (what, form) in forms {
                let b = $ty::new(3);
                let mut other = pin!(b.wait());
                assert!(poll_once(other.as_mut()).is_pending());
                unwinds(what, || form(&b));
                assert!(
                    b.is_broken(),
                    "{what}: a cancelled party breaks the barrier"
                );
                assert_eq!(b.waiting(), 0, "{what}");
                assert!(
                    matches!(poll_once(other.as_mut()), Poll::Ready(Err(_))),
                    "{what}"
                );
            }
            // A party that passes without waiting does not unwind.
            let b = $ty::new(1);
            assert_eq!(returns(|| b.wait_blocking().map(|r| r.index())), Ok(0));
        }};
    }
    cyclic!(Barrier);
    cyclic!(RBarrier);
}

#[test]
fn signal_is_cancelled_then_the_unit_unwinds() {
    let _dog = Watchdog::new(
        "signal_is_cancelled_then_the_unit_unwinds",
        Duration::from_secs(60),
    );
    type Form<'a> = (&'static str, &'a dyn Fn(&Signal) -> String);
    let forms: [Form<'_>; 3] = [
        ("Signal::wait_blocking", &|s| {
            format!("{:?}", s.wait_blocking())
        }),
        ("Signal::wait_for", &|s| {
            format!("{:?}", s.try_wait_for(Duration::from_secs(60)))
        }),
        ("Signal::wait_until", &|s| {
            format!("{:?}", s.try_wait_until(far()))
        }),
    ];
    for (what, form) in forms {
        let s = Signal::new();
        unwinds(what, || form(&s));
        assert!(s.is_cancelled(), "{what}: the wait gave up");
        assert!(!s.set(), "{what}");
    }
    let s = Signal::new();
    s.set();
    assert_eq!(
        returns(|| s.try_wait_for(Duration::from_secs(60))),
        Ok(true)
    );
}
