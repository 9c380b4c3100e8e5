//! The explicit-waiter forms (`wait_with`) of the barriers, the events and
//! `lowlevel::Signal`, against their plain blocking forms:
//!
//! - the same scenarios through `try_wait_for` / `wait_blocking` and through
//!   `wait_with(ThreadWaiter)` give the same answers: time-outs, successes,
//!   the last re-check (an event set while the wait gives up still reports
//!   success; a latch that passes while its party gives up lets it pass), a
//!   barrier time-out breaks the barrier;
//! - a waiter that reports `WaitResult::Cancelled` makes every `wait_with`
//!   report `Cancelled` and leaves the primitive consistent (nobody queued, a
//!   barrier broken, a signal cancelled), while a hand-off that lands inside
//!   the waiter's `wait` before it reports cancellation still completes.
//!
//! The plain blocking forms under a cancelling green backend are in
//! `barrier_events_cancel_backend.rs` (registration is process-wide).

#[path = "support/worlds.rs"]
mod worlds;

use polysync::Event;
use polysync::barrier::{Barrier, BarrierWaitError, Latch, RBarrier};
use polysync::countdown::CountdownEvent;
use polysync::lowlevel::{Signal, SignalError, ThreadWaiter, WaitError, WaitResult, Waiter};
use polysync::revent::REvent;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};
use worlds::{Watchdog, wait_until};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// How a blocking wait is made: the plain form (current unit's waiter) or
/// `wait_with` on this thread's `ThreadWaiter`.
#[derive(Clone, Copy, Debug)]
enum Form {
    Plain,
    With,
}

const FORMS: [Form; 2] = [Form::Plain, Form::With];

/// A timed event wait in either form: whether it succeeded.
trait TimedEvent: Sync {
    fn plain_until(&self, deadline: Instant) -> bool;
    fn with(&self, w: &ThreadWaiter, deadline: Option<Instant>) -> Result<(), WaitError>;
    fn waiting(&self) -> usize;

    fn timed(&self, form: Form, deadline: Instant) -> bool {
        match form {
            Form::Plain => self.plain_until(deadline),
            Form::With => ThreadWaiter::with_current(|w| self.with(w, Some(deadline))).is_ok(),
        }
    }
}

macro_rules! timed_event {
    ($($ty:ty),*) => {$(
        impl TimedEvent for $ty {
            fn plain_until(&self, deadline: Instant) -> bool {
                self.try_wait_until(deadline)
            }
            fn with(&self, w: &ThreadWaiter, deadline: Option<Instant>) -> Result<(), WaitError> {
                self.wait_with(w, deadline)
            }
            fn waiting(&self) -> usize {
                self.waiting()
            }
        }
    )*};
}
timed_event!(Event, REvent, CountdownEvent);

/// A timed barrier wait in either form, with the arrival index (a latch
/// reports 0).
trait TimedParty: Sync {
    fn plain_until(&self, deadline: Instant) -> Result<usize, BarrierWaitError>;
    fn with<W: Waiter + ?Sized>(
        &self,
        w: &W,
        deadline: Option<Instant>,
    ) -> Result<usize, BarrierWaitError>;
    /// One arrival that never waits (`try_wait`): `Some` if it passed.
    fn arrive_now(&self) -> Option<usize>;
    fn is_broken(&self) -> bool;
    fn waiting(&self) -> usize;
    fn wait_async(&self) -> Pin<Box<dyn Future<Output = Result<usize, ()>> + Send + '_>>;

    fn timed(&self, form: Form, deadline: Instant) -> Result<usize, BarrierWaitError> {
        match form {
            Form::Plain => self.plain_until(deadline),
            Form::With => ThreadWaiter::with_current(|w| self.with(w, Some(deadline))),
        }
    }
}

impl TimedParty for Latch {
    fn plain_until(&self, deadline: Instant) -> Result<usize, BarrierWaitError> {
        self.try_wait_until(deadline).map(|()| 0)
    }
    fn with<W: Waiter + ?Sized>(
        &self,
        w: &W,
        deadline: Option<Instant>,
    ) -> Result<usize, BarrierWaitError> {
        self.wait_with(w, deadline).map(|()| 0)
    }
    fn arrive_now(&self) -> Option<usize> {
        self.try_wait().unwrap().then_some(0)
    }
    fn is_broken(&self) -> bool {
        self.is_broken()
    }
    fn waiting(&self) -> usize {
        self.waiting()
    }
    fn wait_async(&self) -> Pin<Box<dyn Future<Output = Result<usize, ()>> + Send + '_>> {
        Box::pin(async { self.wait().await.map(|()| 0).map_err(|_| ()) })
    }
}

macro_rules! timed_cyclic {
    ($($ty:ty),*) => {$(
        impl TimedParty for $ty {
            fn plain_until(&self, deadline: Instant) -> Result<usize, BarrierWaitError> {
                self.try_wait_until(deadline).map(|r| r.index())
            }
            fn with<W: Waiter + ?Sized>(
                &self,
                w: &W,
                deadline: Option<Instant>,
            ) -> Result<usize, BarrierWaitError> {
                self.wait_with(w, deadline).map(|r| r.index())
            }
            fn arrive_now(&self) -> Option<usize> {
                self.try_wait().unwrap().map(|r| r.index())
            }
            fn is_broken(&self) -> bool {
                self.is_broken()
            }
            fn waiting(&self) -> usize {
                self.waiting()
            }
            fn wait_async(&self) -> Pin<Box<dyn Future<Output = Result<usize, ()>> + Send + '_>> {
                Box::pin(async { self.wait().await.map(|r| r.index()).map_err(|_| ()) })
            }
        }
    )*};
}
timed_cyclic!(Barrier, RBarrier);

fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

fn soon() -> Instant {
    Instant::now() + Duration::from_millis(20)
}

/// A waker whose first `wake` blocks until the gate opens: the wake-up round
/// that reaches it stalls between two batches, with the condition already
/// published and the later waiters not yet notified.
#[derive(Default)]
struct Gate {
    state: Mutex<(Option<Instant>, bool)>, // (first entered, open)
    cv: Condvar,
}

impl Wake for Gate {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut state = self.state.lock().unwrap();
        if state.0.is_some() {
            // Only the first wake stalls: a party that helps with the
            // wake-up while it gives up must not.
            return;
        }
        state.0 = Some(Instant::now());
        self.cv.notify_all();
        while !state.1 {
            state = self.cv.wait(state).unwrap();
        }
    }
}

impl Gate {
    /// Blocks until a wake entered the gate; returns when it did.
    fn entered(&self) -> Instant {
        let mut state = self.state.lock().unwrap();
        loop {
            if let Some(at) = state.0 {
                return at;
            }
            state = self.cv.wait(state).unwrap();
        }
    }

    fn open(&self) {
        self.state.lock().unwrap().1 = true;
        self.cv.notify_all();
    }
}

/// More queued async waiters than one wake batch holds, so a wait queued
/// after them is notified only in a later batch.
const FILL: usize = 40;

/// How long the stalled-round scenarios give their timed wait: it must give
/// up while the wake-up round is stalled in the gate.
const STALL_WAIT: Duration = Duration::from_millis(400);

/// Runs a stalled-round scenario until the round stalled before the timed
/// wait's deadline (on a loaded machine it may not, and then the scenario
/// says nothing); returns the timed wait's result.
fn stalled_round<T>(mut attempt: impl FnMut(Instant) -> Option<T>) -> T {
    for _ in 0..5 {
        if let Some(out) = attempt(Instant::now() + STALL_WAIT) {
            return out;
        }
    }
    panic!("the wake-up round never stalled before the deadline");
}

// ---------------------------------------------------------------------------
// (a) plain forms and wait_with(ThreadWaiter) agree: events
// ---------------------------------------------------------------------------

/// Ready, not ready, readied by another thread: both forms agree.
fn event_basics<E: TimedEvent>(make: impl Fn() -> E, ready: impl Fn(&E) + Sync) {
    for form in FORMS {
        let e = make();
        assert!(!e.timed(form, soon()), "{form:?}: not ready: times out");
        assert_eq!(e.waiting(), 0, "{form:?}: withdrawn");
        ready(&e);
        assert!(e.timed(form, Instant::now()), "{form:?}: ready: at once");

        let e = make();
        thread::scope(|s| {
            let waiter = s.spawn(|| e.timed(form, Instant::now() + Duration::from_secs(20)));
            wait_until("queued", || e.waiting() == 1);
            ready(&e);
            assert!(waiter.join().unwrap(), "{form:?}: readied while waiting");
        });
        assert_eq!(e.waiting(), 0);
    }
}

#[test]
fn event_forms_agree() {
    let _dog = Watchdog::new("event_forms_agree", Duration::from_secs(60));
    event_basics(Event::new, |e| {
        e.set();
    });
    event_basics(REvent::new, |e| {
        e.set();
    });
    event_basics(
        || CountdownEvent::new(1),
        |c| {
            c.down().unwrap();
        },
    );
}

/// The last re-check: `FILL` async waiters and then a timed wait queue; a
/// thread readies the event, and its wake-up round stalls in the first
/// batch (the gate), so the timed wait is not notified; `meanwhile` then
/// runs (a `clear` that turns the round into a pulse). The timed wait gives
/// up during the stall: it must still report success.
fn event_recheck<E: TimedEvent>(
    form: Form,
    make: impl Fn() -> E,
    ready: impl Fn(&E) + Sync,
    meanwhile: impl Fn(&E),
    async_wait: impl for<'e> Fn(&'e E) -> Pin<Box<dyn Future<Output = ()> + 'e>>,
) {
    let ok = stalled_round(|deadline| {
        let e = make();
        let gate = Arc::new(Gate::default());
        let waker = Waker::from(gate.clone());
        let mut fill: Vec<_> = (0..FILL).map(|_| async_wait(&e)).collect();
        for f in &mut fill {
            assert!(poll_once(f.as_mut(), &waker).is_pending());
        }
        thread::scope(|s| {
            let timed = s.spawn(|| e.timed(form, deadline));
            wait_until("the timed wait queued", || e.waiting() == FILL + 1);
            let readier = s.spawn(|| ready(&e));
            let stalled_at = gate.entered();
            meanwhile(&e);
            let ok = timed.join().unwrap();
            gate.open();
            readier.join().unwrap();
            for f in &mut fill {
                assert_eq!(poll_once(f.as_mut(), &waker), Poll::Ready(()), "{form:?}");
            }
            assert_eq!(e.waiting(), 0, "{form:?}");
            (stalled_at < deadline).then_some(ok)
        })
    });
    assert!(
        ok,
        "{form:?}: a wait that gives up after the event was readied must succeed"
    );
}

#[test]
fn event_set_while_the_wait_gives_up_counts() {
    let _dog = Watchdog::new(
        "event_set_while_the_wait_gives_up_counts",
        Duration::from_secs(60),
    );
    for form in FORMS {
        event_recheck(
            form,
            Event::new,
            |e| {
                e.set();
            },
            |_| {},
            |e| Box::pin(e.wait()),
        );
    }
}

#[test]
fn revent_pulse_while_the_wait_gives_up_counts() {
    let _dog = Watchdog::new(
        "revent_pulse_while_the_wait_gives_up_counts",
        Duration::from_secs(60),
    );
    for form in FORMS {
        // `set(); clear();` while the wait gives up: the set happened after
        // the wait started, so it woke it, even though the event is clear by
        // the time the wait looks.
        event_recheck(
            form,
            REvent::new,
            |e| {
                e.set();
            },
            |e| {
                assert!(e.clear());
            },
            |e| Box::pin(e.wait()),
        );
    }
}

#[test]
fn countdown_zero_while_the_wait_gives_up_counts() {
    let _dog = Watchdog::new(
        "countdown_zero_while_the_wait_gives_up_counts",
        Duration::from_secs(60),
    );
    for form in FORMS {
        event_recheck(
            form,
            || CountdownEvent::new(1),
            |c| {
                c.down().unwrap();
            },
            |c| c.up(1),
            |c| Box::pin(c.wait()),
        );
    }
}

// ---------------------------------------------------------------------------
// (a) plain forms and wait_with(ThreadWaiter) agree: barriers
// ---------------------------------------------------------------------------

/// A lonely timed party times out and breaks the barrier; a party that was
/// waiting with it gets `Broken`; later waits fail at once; with a partner
/// the phase passes.
fn party_basics<B: TimedParty>(make: impl Fn(usize) -> B) {
    for form in FORMS {
        let b = make(2);
        assert_eq!(
            b.timed(form, soon()),
            Err(BarrierWaitError::TimedOut),
            "{form:?}"
        );
        assert!(b.is_broken(), "{form:?}: a time-out breaks it");
        assert_eq!(b.waiting(), 0);
        assert_eq!(
            b.timed(form, soon()),
            Err(BarrierWaitError::Broken),
            "{form:?}"
        );

        let b = make(3);
        let mut other = b.wait_async();
        let waker = Waker::noop();
        assert!(poll_once(other.as_mut(), waker).is_pending());
        assert_eq!(
            b.timed(form, soon()),
            Err(BarrierWaitError::TimedOut),
            "{form:?}"
        );
        assert!(b.is_broken());
        assert_eq!(
            poll_once(other.as_mut(), waker),
            Poll::Ready(Err(())),
            "{form:?}"
        );
        assert_eq!(b.waiting(), 0);

        let b = make(2);
        let far = Instant::now() + Duration::from_secs(20);
        let mut got = thread::scope(|s| {
            let other = s.spawn(|| b.timed(form, far).unwrap());
            vec![b.timed(form, far).unwrap(), other.join().unwrap()]
        });
        got.sort();
        assert!(got == [0, 1] || got == [0, 0], "{form:?}: {got:?}");
        assert!(!b.is_broken());
    }
}

#[test]
fn barrier_forms_agree() {
    let _dog = Watchdog::new("barrier_forms_agree", Duration::from_secs(60));
    party_basics(Latch::new);
    party_basics(Barrier::new);
    party_basics(RBarrier::new);
}

/// `FILL` async parties and a timed party queue; the last party arrives
/// (`try_wait`) and its wake-up stalls in the first batch; the timed party
/// gives up during the stall. Returns its result, the async parties'
/// results and whether the barrier ended broken.
fn party_in_stalled_round<B: TimedParty>(
    form: Form,
    make: impl Fn(usize) -> B,
) -> (
    Result<usize, BarrierWaitError>,
    Vec<Result<usize, ()>>,
    bool,
) {
    stalled_round(|deadline| {
        let b = make(FILL + 2);
        let gate = Arc::new(Gate::default());
        let waker = Waker::from(gate.clone());
        let mut fill: Vec<_> = (0..FILL).map(|_| b.wait_async()).collect();
        for f in &mut fill {
            assert!(poll_once(f.as_mut(), &waker).is_pending());
        }
        thread::scope(|s| {
            let timed = s.spawn(|| b.timed(form, deadline));
            wait_until("the timed party queued", || b.waiting() == FILL + 1);
            let last = s.spawn(|| b.arrive_now());
            let stalled_at = gate.entered();
            let mine = timed.join().unwrap();
            gate.open();
            assert!(last.join().unwrap().is_some(), "the last party passes");
            let others = fill
                .iter_mut()
                .map(|f| match poll_once(f.as_mut(), &waker) {
                    Poll::Ready(out) => out,
                    Poll::Pending => panic!("{form:?}: an async party was left waiting"),
                })
                .collect();
            assert_eq!(b.waiting(), 0);
            (stalled_at < deadline).then_some((mine, others, b.is_broken()))
        })
    })
}

#[test]
fn latch_that_passes_while_its_party_gives_up_lets_it_pass() {
    let _dog = Watchdog::new(
        "latch_that_passes_while_its_party_gives_up_lets_it_pass",
        Duration::from_secs(60),
    );
    for form in FORMS {
        let (mine, others, broken) = party_in_stalled_round(form, Latch::new);
        assert_eq!(
            mine,
            Ok(0),
            "{form:?}: the latch passed with this party counted in"
        );
        assert!(others.iter().all(|o| *o == Ok(0)), "{form:?}");
        assert!(!broken, "{form:?}");
    }
}

#[test]
fn barrier_party_that_gives_up_in_an_opened_phase_breaks_the_next() {
    let _dog = Watchdog::new(
        "barrier_party_that_gives_up_in_an_opened_phase_breaks_the_next",
        Duration::from_secs(60),
    );
    for form in FORMS {
        let (mine, others, broken) = party_in_stalled_round(form, Barrier::new);
        // Documented: the opening had not reached it, so it reports its
        // time-out; the others of its phase keep their indices; the barrier
        // is broken for the next phase.
        assert_eq!(mine, Err(BarrierWaitError::TimedOut), "{form:?}");
        let mut indices: Vec<_> = others.into_iter().map(Result::unwrap).collect();
        indices.sort();
        assert_eq!(indices, (0..FILL).collect::<Vec<_>>(), "{form:?}");
        assert!(broken, "{form:?}");
    }
}

// ---------------------------------------------------------------------------
// (a) plain forms and wait_with(ThreadWaiter) agree: Signal
// ---------------------------------------------------------------------------

#[test]
fn signal_forms_agree() {
    let _dog = Watchdog::new("signal_forms_agree", Duration::from_secs(60));
    // Time-out: cancels the signal; a second wait is refused.
    let s = Signal::new();
    assert_eq!(s.try_wait_until(soon()), Ok(false));
    assert!(s.is_cancelled() && !s.set());
    assert_eq!(s.try_wait_until(soon()), Err(SignalError::AlreadyWaited));
    let s = Signal::new();
    ThreadWaiter::with_current(|w| {
        assert_eq!(s.wait_with(w, Some(soon())), Ok(Err(WaitError::TimedOut)));
        assert_eq!(s.wait_with(w, None), Err(SignalError::AlreadyWaited));
    });
    assert!(s.is_cancelled() && !s.set());

    // Set before: at once.
    let s = Signal::new();
    s.set();
    assert_eq!(s.try_wait_until(Instant::now()), Ok(true));
    let s = Signal::new();
    s.set();
    ThreadWaiter::with_current(|w| assert_eq!(s.wait_with(w, Some(Instant::now())), Ok(Ok(()))));

    // Set by another thread while waiting.
    for form in FORMS {
        let s = Signal::new();
        thread::scope(|scope| {
            let setter = scope.spawn(|| {
                thread::sleep(Duration::from_millis(5));
                s.set()
            });
            let set = match form {
                Form::Plain => s.wait_blocking().map(|()| true),
                Form::With => {
                    ThreadWaiter::with_current(|w| s.wait_with(w, None)).map(|r| r.is_ok())
                }
            };
            assert_eq!(set, Ok(true), "{form:?}");
            assert!(setter.join().unwrap());
        });
        assert!(!s.is_cancelled());
    }
}

// ---------------------------------------------------------------------------
// (b) a waiter that reports cancellation
// ---------------------------------------------------------------------------

/// A waiter whose unit is being cancelled: its waker is a real one (this
/// thread's `ThreadWaiter`'s); `wait` runs `during` (a hand-off that lands
/// while the unit is being cancelled), then reports `Cancelled`.
struct Cancelling<'a> {
    waker: Waker,
    during: Box<dyn Fn() + 'a>,
    waits: Cell<usize>,
}

impl<'a> Cancelling<'a> {
    fn new(during: impl Fn() + 'a) -> Self {
        Cancelling {
            waker: ThreadWaiter::with_current(|w| w.waker()),
            during: Box::new(during),
            waits: Cell::new(0),
        }
    }

    fn plain() -> Self {
        Self::new(|| {})
    }
}

impl Waiter for Cancelling<'_> {
    fn waker(&self) -> Waker {
        self.waker.clone()
    }

    fn wait(&self, _deadline: Option<Instant>) -> WaitResult {
        self.waits.set(self.waits.get() + 1);
        (self.during)();
        WaitResult::Cancelled
    }
}

fn deadlines() -> [Option<Instant>; 2] {
    [None, Some(Instant::now() + Duration::from_secs(60))]
}

/// Every event: `Cancelled`, withdrawn, the event still works; a hand-off
/// inside `wait` completes.
fn event_cancelled<E: Sync>(
    make: impl Fn() -> E,
    with: impl Fn(&E, &Cancelling<'_>, Option<Instant>) -> Result<(), WaitError>,
    waiting: impl Fn(&E) -> usize,
    ready: impl Fn(&E),
    is_ready: impl Fn(&E) -> bool,
    async_wait: impl for<'e> Fn(&'e E) -> Pin<Box<dyn Future<Output = ()> + 'e>>,
) {
    for deadline in deadlines() {
        let e = make();
        let mut other = async_wait(&e);
        assert!(poll_once(other.as_mut(), Waker::noop()).is_pending());
        let w = Cancelling::plain();
        assert_eq!(with(&e, &w, deadline), Err(WaitError::Cancelled));
        assert_eq!(w.waits.get(), 1);
        assert_eq!(waiting(&e), 1, "withdrawn; the other waiter stays");
        assert!(!is_ready(&e));
        ready(&e);
        assert_eq!(poll_once(other.as_mut(), Waker::noop()), Poll::Ready(()));
        assert_eq!(waiting(&e), 0);

        // Readied inside `wait`, before it reports cancellation: success.
        let e = make();
        let w = Cancelling::new(|| ready(&e));
        assert_eq!(with(&e, &w, deadline), Ok(()));
        assert_eq!(w.waits.get(), 1);
        assert_eq!(waiting(&e), 0);
    }
}

#[test]
fn events_under_a_cancelling_waiter() {
    let _dog = Watchdog::new("events_under_a_cancelling_waiter", Duration::from_secs(60));
    event_cancelled(
        Event::new,
        |e, w, d| e.wait_with(w, d),
        Event::waiting,
        |e| {
            e.set();
        },
        Event::is_set,
        |e| Box::pin(e.wait()),
    );
    event_cancelled(
        REvent::new,
        |e, w, d| e.wait_with(w, d),
        REvent::waiting,
        |e| {
            e.set();
        },
        REvent::is_set,
        |e| Box::pin(e.wait()),
    );
    // A pulse inside `wait`: the set woke the wait, the clear does not undo it.
    let e = REvent::new();
    let w = Cancelling::new(|| {
        e.set();
        e.clear();
    });
    assert_eq!(e.wait_with(&w, None), Ok(()));
    assert_eq!(e.waiting(), 0);
    event_cancelled(
        || CountdownEvent::new(1),
        |c, w, d| c.wait_with(w, d),
        CountdownEvent::waiting,
        |c| {
            c.down().unwrap();
        },
        |c| c.value() == 0,
        |c| Box::pin(c.wait()),
    );
    let c = CountdownEvent::new(1);
    let w = Cancelling::new(|| {
        c.down().unwrap();
        c.up(1);
    });
    assert_eq!(c.wait_with(&w, None), Ok(()));
    assert_eq!(c.waiting(), 0);
}

/// Every barrier: a cancelled party reports `Cancelled` and breaks the
/// barrier (the party waiting with it gets `Broken`); a phase that opens
/// inside `wait` lets it pass, unbroken.
fn party_cancelled<B: TimedParty>(make: impl Fn(usize) -> B) {
    for deadline in deadlines() {
        let b = make(3);
        let mut other = b.wait_async();
        assert!(poll_once(other.as_mut(), Waker::noop()).is_pending());
        let w = Cancelling::plain();
        let out = b.with(&w, deadline);
        assert_eq!(out, Err(BarrierWaitError::Cancelled));
        assert!(out.unwrap_err().is_cancelled() && !out.unwrap_err().is_timeout());
        assert_eq!(w.waits.get(), 1);
        assert!(b.is_broken(), "a cancelled party breaks the barrier");
        assert_eq!(
            poll_once(other.as_mut(), Waker::noop()),
            Poll::Ready(Err(()))
        );
        assert_eq!(b.waiting(), 0);
        assert_eq!(
            b.with(&Cancelling::plain(), deadline),
            Err(BarrierWaitError::Broken)
        );

        // The last party arrives inside `wait`: this party passes first.
        let b = make(2);
        let w = Cancelling::new(|| assert!(b.arrive_now().is_some()));
        let out = b.with(&w, deadline);
        assert_eq!(out, Ok(0));
        assert!(!b.is_broken(), "a party that passed breaks nothing");
        assert_eq!(b.waiting(), 0);
    }
}

#[test]
fn barriers_under_a_cancelling_waiter() {
    let _dog = Watchdog::new(
        "barriers_under_a_cancelling_waiter",
        Duration::from_secs(60),
    );
    party_cancelled(Latch::new);
    party_cancelled(Barrier::new);
    party_cancelled(RBarrier::new);

    // A reset repairs an RBarrier that a cancelled party broke.
    let b = RBarrier::new(2);
    assert_eq!(
        b.wait_with(&Cancelling::plain(), None),
        Err(BarrierWaitError::Cancelled)
    );
    assert!(b.is_broken());
    b.reset();
    let mut got = thread::scope(|s| {
        let other = s.spawn(|| ThreadWaiter::with_current(|w| b.wait_with(w, None)).unwrap());
        vec![
            ThreadWaiter::with_current(|w| b.wait_with(w, None))
                .unwrap()
                .index(),
            other.join().unwrap().index(),
        ]
    });
    got.sort();
    assert_eq!(got, [0, 1]);
}

#[test]
fn signal_under_a_cancelling_waiter() {
    let _dog = Watchdog::new("signal_under_a_cancelling_waiter", Duration::from_secs(60));
    for deadline in deadlines() {
        let s = Signal::new();
        let w = Cancelling::plain();
        assert_eq!(s.wait_with(&w, deadline), Ok(Err(WaitError::Cancelled)));
        assert_eq!(w.waits.get(), 1);
        assert!(s.is_cancelled(), "giving up cancels the signal");
        assert!(!s.set() && !s.is_set());
        assert_eq!(s.wait_with(&w, deadline), Err(SignalError::AlreadyWaited));

        // Set inside `wait`, before the cancellation: it counts.
        let s = Signal::new();
        let won = AtomicUsize::new(0);
        let w = Cancelling::new(|| {
            if s.set() {
                won.fetch_add(1, Ordering::Relaxed);
            }
        });
        assert_eq!(s.wait_with(&w, deadline), Ok(Ok(())));
        assert_eq!(won.load(Ordering::Relaxed), 1);
        assert!(s.is_set() && !s.is_cancelled());
    }
}
