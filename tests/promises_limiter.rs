//! Issue 21, point 2: a limiter waiter whose borrower holds a token is not
//! stranded when the waiter ahead of it gives up.
//!
//! The scenario, on a limiter with one token: a holder borrows it; then the
//! queue is `[job (first wait), other unit, job (second wait)]`. The holder
//! releases: the first job wait gets the token (the limiter's only one), the
//! other unit stays queued (no token), and the second job wait behind it
//! stays queued too (strict FIFO, see the limiters' "Order" docs). Then the
//! other unit gives up (a dropped future, a waiter that reports
//! cancellation, a timeout): the second job wait is now at the front and its
//! borrower holds a token, so it completes at once, without a release:
//! one more level (`RCapacityLimiter`) or `AlreadyBorrowing`
//! (`CapacityLimiter`). Before the fix it stayed queued until an unrelated
//! release, and a job that waited for it before releasing deadlocked.
//!
//! The second job wait runs in every waiting form: a hand-polled future,
//! `.await` under `futures_lite::block_on` on a thread and in a tokio task,
//! `_blocking`, `try_x_for`, `try_x_until` and `_with`. A wait that is still
//! queued after a generous bound fails the test (a watchdog per wait), so the
//! old code fails instead of hanging.

#[path = "support/cancel.rs"]
mod cancel;
#[path = "support/worlds.rs"]
mod worlds;

use cancel::Cancellable;
use polysync::lowlevel::{ThreadWaiter, UnitId, Waiter};
use polysync::{BorrowError, CapacityLimiter, RCapacityLimiter};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};
use worlds::{Watchdog, wait_until};

/// How long a wait that should complete may take before the test calls it
/// stranded (only a bound for a failure: a passing run never waits on it).
const STRANDED: Duration = Duration::from_secs(10);
/// A timeout that does not expire in a passing run.
const LONG: Duration = Duration::from_secs(60);

/// What a borrow attempt produced.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Got {
    /// A token or one more level (forgotten: the test counts levels).
    Level,
    /// `CapacityLimiter`'s `AlreadyBorrowing`.
    Already,
    /// Not served: timed out, cancelled, or no token (`try_`).
    Nothing,
}

/// The waiting forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `.await` under `futures_lite::block_on`, on a thread.
    Await,
    /// `.await` in a tokio task (a multi-thread runtime).
    Tokio,
    Blocking,
    For,
    Until,
    With,
}

const WAITING_FORMS: [Form; 6] = [
    Form::Await,
    Form::Tokio,
    Form::Blocking,
    Form::For,
    Form::Until,
    Form::With,
];

type BoxFut<'a> = Pin<Box<dyn Future<Output = Got> + Send + 'a>>;

/// Both limiters behind one face, borrowing on behalf of a `UnitId`.
trait Limiter: Send + Sync + 'static {
    fn new(total: usize) -> Self;
    fn fut(&self, b: UnitId) -> BoxFut<'_>;
    fn blocking(&self, b: UnitId, form: Form, timeout: Duration) -> Got;
    fn with(&self, b: UnitId, w: &dyn Waiter) -> Got;
    fn try_now(&self, b: UnitId) -> Got;
    fn levels(&self, b: UnitId) -> usize;
    fn release(&self, b: UnitId);
    fn waiting(&self) -> usize;
    /// What a wait of a borrower that holds a token completes with.
    const REENTRY: Got;
}

fn got_c(r: Result<polysync::LimiterToken<'_>, BorrowError>) -> Got {
    match r {
        Ok(t) => {
            t.forget();
            Got::Level
        }
        Err(BorrowError::AlreadyBorrowing) => Got::Already,
        Err(_) => Got::Nothing,
    }
}

fn got_r(r: Option<polysync::LimiterToken<'_>>) -> Got {
    match r {
        Some(t) => {
            t.forget();
            Got::Level
        }
        None => Got::Nothing,
    }
}

impl Limiter for CapacityLimiter {
    const REENTRY: Got = Got::Already;
    fn new(total: usize) -> Self {
        CapacityLimiter::new(total)
    }
    fn fut(&self, b: UnitId) -> BoxFut<'_> {
        Box::pin(async move { got_c(self.acquire_on_behalf_of(b).await) })
    }
    fn blocking(&self, b: UnitId, form: Form, timeout: Duration) -> Got {
        match form {
            Form::Blocking => got_c(self.acquire_on_behalf_of_blocking(b)),
            Form::For => got_c(self.try_acquire_on_behalf_of_for(b, timeout)),
            Form::Until => got_c(self.try_acquire_on_behalf_of_until(b, Instant::now() + timeout)),
            Form::With => ThreadWaiter::with_current(|w| {
                got_c(self.acquire_on_behalf_of_with(b, w, Some(Instant::now() + timeout)))
            }),
            Form::Await | Form::Tokio => unreachable!(),
        }
    }
    fn with(&self, b: UnitId, w: &dyn Waiter) -> Got {
        got_c(self.acquire_on_behalf_of_with(b, w, None))
    }
    fn try_now(&self, b: UnitId) -> Got {
        got_c(self.try_acquire_on_behalf_of(b))
    }
    fn levels(&self, b: UnitId) -> usize {
        self.borrowers().iter().filter(|&&u| u == b).count()
    }
    fn release(&self, b: UnitId) {
        self.release_on_behalf_of(b).unwrap();
    }
    fn waiting(&self) -> usize {
        CapacityLimiter::waiting(self)
    }
}

impl Limiter for RCapacityLimiter {
    const REENTRY: Got = Got::Level;
    fn new(total: usize) -> Self {
        RCapacityLimiter::new(total)
    }
    fn fut(&self, b: UnitId) -> BoxFut<'_> {
        Box::pin(async move { got_r(self.acquire_on_behalf_of(b).await.ok()) })
    }
    fn blocking(&self, b: UnitId, form: Form, timeout: Duration) -> Got {
        match form {
            Form::Blocking => got_r(Some(self.acquire_on_behalf_of_blocking(b))),
            Form::For => got_r(self.try_acquire_on_behalf_of_for(b, timeout)),
            Form::Until => got_r(self.try_acquire_on_behalf_of_until(b, Instant::now() + timeout)),
            Form::With => ThreadWaiter::with_current(|w| {
                got_r(
                    self.acquire_on_behalf_of_with(b, w, Some(Instant::now() + timeout))
                        .ok(),
                )
            }),
            Form::Await | Form::Tokio => unreachable!(),
        }
    }
    fn with(&self, b: UnitId, w: &dyn Waiter) -> Got {
        got_r(self.acquire_on_behalf_of_with(b, w, None).ok())
    }
    fn try_now(&self, b: UnitId) -> Got {
        got_r(self.try_acquire_on_behalf_of(b))
    }
    fn levels(&self, b: UnitId) -> usize {
        self.borrowers()
            .iter()
            .find(|e| e.0 == b)
            .map_or(0, |e| e.1)
    }
    fn release(&self, b: UnitId) {
        self.release_on_behalf_of(b, self.levels(b)).unwrap();
    }
    fn waiting(&self) -> usize {
        RCapacityLimiter::waiting(self)
    }
}

/// Polls a future once with a waker that does nothing.
fn poll_once<F: Future + ?Sized + Unpin>(f: &mut F) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(Waker::noop()))
}

/// A queued wait of some unit that gives up on demand.
enum Other<'a> {
    /// A future polled once, then dropped.
    Dropped(BoxFut<'a>),
    /// A thread waiting with `_with` on a waiter that reports cancellation.
    Cancelled(
        Arc<AtomicBool>,
        Arc<Mutex<Option<Waker>>>,
        thread::JoinHandle<Got>,
    ),
    /// A thread in `try_x_for` that gives up when its timeout expires.
    TimedOut(thread::JoinHandle<Got>),
}

#[derive(Debug, Clone, Copy)]
enum OtherKind {
    Dropped,
    Cancelled,
    TimedOut,
}

/// Starts `b`'s wait and returns once it is queued (`waiting` went up).
fn queue_other<L: Limiter>(limiter: &Arc<L>, b: UnitId, kind: OtherKind) -> Other<'_> {
    let before = limiter.waiting();
    let other = match kind {
        OtherKind::Dropped => {
            let mut f = limiter.fut(b);
            assert_eq!(poll_once(&mut f), Poll::Pending);
            Other::Dropped(f)
        }
        OtherKind::Cancelled => {
            let cancel = Arc::new(AtomicBool::new(false));
            let waker = Arc::new(Mutex::new(None));
            let (l, c, wk) = (limiter.clone(), cancel.clone(), waker.clone());
            let h = thread::spawn(move || {
                ThreadWaiter::with_current(|inner| {
                    *wk.lock().unwrap() = Some(inner.waker());
                    l.with(b, &Cancellable { inner, cancel: &c })
                })
            });
            Other::Cancelled(cancel, waker, h)
        }
        OtherKind::TimedOut => {
            // The timeout only decides whether the run is the scenario
            // described (it expires after the release, as it does unless the
            // machine stalls for a second); a run where it expires earlier
            // checks a simpler order, with the same final outcome.
            let l = limiter.clone();
            Other::TimedOut(thread::spawn(move || {
                l.blocking(b, Form::For, Duration::from_secs(1))
            }))
        }
    };
    wait_until("the other unit queues", || limiter.waiting() == before + 1);
    other
}

fn give_up(other: Other<'_>) {
    match other {
        Other::Dropped(f) => drop(f),
        Other::Cancelled(cancel, waker, h) => {
            cancel.store(true, Ordering::SeqCst);
            waker.lock().unwrap().take().unwrap().wake();
            assert_eq!(h.join().unwrap(), Got::Nothing);
        }
        Other::TimedOut(h) => assert_eq!(h.join().unwrap(), Got::Nothing),
    }
}

/// Starts the job's second wait in `form`; its outcome arrives on the
/// returned channel.
fn second_wait<L: Limiter>(limiter: &Arc<L>, job: UnitId, form: Form) -> mpsc::Receiver<Got> {
    let (tx, rx) = mpsc::channel();
    let l = limiter.clone();
    match form {
        Form::Await => {
            thread::spawn(move || {
                let _ = tx.send(futures_lite::future::block_on(l.fut(job)));
            });
        }
        Form::Tokio => {
            thread::spawn(move || {
                let rt = worlds::multi_thread_rt();
                let l2 = l.clone();
                let got = rt.block_on(async move {
                    tokio::spawn(async move { l2.fut(job).await })
                        .await
                        .unwrap()
                });
                let _ = tx.send(got);
            });
        }
        form => {
            thread::spawn(move || {
                let _ = tx.send(l.blocking(job, form, LONG));
            });
        }
    }
    rx
}

/// The scenario of the module docs, for one kind of other unit and one form
/// of the second job wait.
fn stranded_case<L: Limiter>(kind: OtherKind, form: Form) {
    let limiter = Arc::new(L::new(1));
    let (holder, job, other_id) = (UnitId::allocate(), UnitId::allocate(), UnitId::allocate());
    assert_eq!(limiter.try_now(holder), Got::Level);
    let mut first = limiter.fut(job);
    assert_eq!(poll_once(&mut first), Poll::Pending);
    let other = queue_other(&limiter, other_id, kind);
    let second = second_wait(&limiter, job, form);
    let timed_out = |o: &Other<'_>| matches!(o, Other::TimedOut(h) if h.is_finished());
    wait_until("the second job wait queues", || {
        limiter.waiting() == 3 || timed_out(&other)
    });
    if timed_out(&other) {
        // The degenerate order: the second job wait may be right behind the
        // first one; wait until it is queued at all.
        wait_until("the second job wait queues", || limiter.waiting() == 2);
    }

    limiter.release(holder);
    assert_eq!(
        poll_once(&mut first),
        Poll::Ready(Got::Level),
        "{kind:?} {form:?}"
    );

    give_up(other);
    let got = second.recv_timeout(STRANDED).unwrap_or_else(|_| {
        panic!("{kind:?} {form:?}: the second job wait is stranded at the front")
    });
    assert_eq!(got, L::REENTRY, "{kind:?} {form:?}");
    let levels = if L::REENTRY == Got::Level { 2 } else { 1 };
    assert_eq!(limiter.levels(job), levels, "{kind:?} {form:?}");
    assert_eq!(limiter.waiting(), 0);
    limiter.release(job);
    assert_eq!(limiter.try_now(other_id), Got::Level, "the token came back");
}

fn stranded_all_forms<L: Limiter>(kind: OtherKind) {
    let _dog = Watchdog::new("stranded_all_forms", Duration::from_secs(120));
    for form in WAITING_FORMS {
        stranded_case::<L>(kind, form);
    }
}

/// The whole scenario on hand-polled futures: deterministic, no threads.
fn stranded_polled<L: Limiter>() {
    let limiter = L::new(1);
    let (holder, job, other_id) = (UnitId::allocate(), UnitId::allocate(), UnitId::allocate());
    assert_eq!(limiter.try_now(holder), Got::Level);
    let mut first = limiter.fut(job);
    let mut other = limiter.fut(other_id);
    let mut second = limiter.fut(job);
    for f in [&mut first, &mut other, &mut second] {
        assert_eq!(poll_once(f), Poll::Pending);
    }
    assert_eq!(limiter.waiting(), 3);
    limiter.release(holder);
    assert_eq!(poll_once(&mut first), Poll::Ready(Got::Level));
    // Strict FIFO: the second job wait stands behind the other unit.
    assert_eq!(poll_once(&mut second), Poll::Pending);
    assert_eq!(limiter.waiting(), 2);
    drop(other);
    assert_eq!(limiter.waiting(), 0, "the front re-entry is served at once");
    assert_eq!(poll_once(&mut second), Poll::Ready(L::REENTRY));
}

#[test]
fn polled_reentrant_second_wait_is_served_when_the_unit_ahead_drops() {
    stranded_polled::<RCapacityLimiter>();
}

#[test]
fn polled_non_reentrant_second_wait_is_served_when_the_unit_ahead_drops() {
    stranded_polled::<CapacityLimiter>();
}

#[test]
fn reentrant_second_wait_in_every_form_after_a_dropped_future_ahead() {
    stranded_all_forms::<RCapacityLimiter>(OtherKind::Dropped);
}

#[test]
fn reentrant_second_wait_in_every_form_after_a_cancelled_waiter_ahead() {
    stranded_all_forms::<RCapacityLimiter>(OtherKind::Cancelled);
}

#[test]
fn reentrant_second_wait_in_every_form_after_a_timeout_ahead() {
    stranded_all_forms::<RCapacityLimiter>(OtherKind::TimedOut);
}

#[test]
fn non_reentrant_second_wait_in_every_form_after_a_dropped_future_ahead() {
    stranded_all_forms::<CapacityLimiter>(OtherKind::Dropped);
}

#[test]
fn non_reentrant_second_wait_in_every_form_after_a_cancelled_waiter_ahead() {
    stranded_all_forms::<CapacityLimiter>(OtherKind::Cancelled);
}

#[test]
fn non_reentrant_second_wait_in_every_form_after_a_timeout_ahead() {
    stranded_all_forms::<CapacityLimiter>(OtherKind::TimedOut);
}
