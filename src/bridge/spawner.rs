//! The other way: from a thread, a pool job, a may coroutine or a green
//! thread, run a future on an executor and wait for its output with the
//! caller's own kind of wait ([`run_on`]). An executor plugs in through
//! [`Spawner`]; `polysync_tokio::TokioSpawner` is tokio's (through a
//! `Handle`), and any `Fn(BoxedTask)` closure is one.

use super::job::JobPanicked;
use crate::lowlevel::wait::blocking;
use crate::lowlevel::{Signal, WaitError, Waiter, deadline_after};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A task for a [`Spawner`]: poll it to completion (or drop it).
pub type BoxedTask = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// An executor that [`run_on`] can start a future on.
///
/// Implemented for every `Fn(BoxedTask)` closure, so any executor with a
/// spawn function is one: `|task| { smol::spawn(task).detach(); }`.
///
/// ```
/// use polysync::bridge::{BoxedTask, Spawner, run_on};
///
/// // A "executor" that runs each task on a thread of its own.
/// let spawner = |task: BoxedTask| {
///     std::thread::spawn(move || futures_lite::future::block_on(task));
/// };
/// assert_eq!(run_on(&spawner, async { 40 + 2 }).unwrap(), 42);
/// ```
pub trait Spawner {
    /// Starts `task` on the executor. The executor polls it to completion,
    /// or drops it (say, at shutdown: the caller then gets
    /// [`FromThreadError::Dropped`]).
    fn spawn(&self, task: BoxedTask);

    /// Whether the current thread runs this executor's tasks in a way that
    /// blocking it would stop them (a current-thread runtime's own thread):
    /// [`run_on`] then panics instead of deadlocking. The default says no.
    fn drives_current_thread(&self) -> bool {
        false
    }
}

impl<S: Fn(BoxedTask) + ?Sized> Spawner for S {
    fn spawn(&self, task: BoxedTask) {
        self(task)
    }
}

/// Why [`run_on`] (or its timed and explicit-waiter forms) returned no
/// output.
#[derive(Debug)]
#[non_exhaustive]
pub enum FromThreadError {
    /// The future panicked (the payload is inside).
    Panicked(JobPanicked),
    /// The executor dropped the future before it completed (it shut down).
    Dropped,
    /// The deadline passed first; the future is dropped at its next poll.
    TimedOut,
    /// The waiter reported cancellation; the future is dropped at its next
    /// poll.
    Cancelled,
}

impl std::fmt::Display for FromThreadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FromThreadError::Panicked(panicked) => panicked.fmt(f),
            FromThreadError::Dropped => f.write_str("the executor dropped the future"),
            FromThreadError::TimedOut => f.write_str("the future did not complete in time"),
            FromThreadError::Cancelled => f.write_str("the wait for the future was cancelled"),
        }
    }
}

impl std::error::Error for FromThreadError {}

/// What the task and its caller share.
struct Returned<T> {
    /// Set by the task once `slot` holds the outcome; cancelled by a caller
    /// that gives up.
    signal: Signal,
    slot: Mutex<Option<Result<T, FromThreadError>>>,
}

impl<T> Returned<T> {
    fn fill(&self, outcome: Result<T, FromThreadError>) {
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
        if !self.signal.set() {
            // The caller gave up: the outcome drops here.
            drop(self.slot.lock().unwrap_or_else(|e| e.into_inner()).take());
        }
    }
}

/// The future handed to the executor: polls the user's future, catches its
/// panic, and reports the outcome (or its own drop) through `Returned`.
struct Task<F: Future> {
    fut: Pin<Box<F>>,
    ret: Option<Arc<Returned<F::Output>>>,
}

impl<F: Future> Future for Task<F> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let Some(ret) = this.ret.as_ref() else {
            return Poll::Ready(());
        };
        if ret.signal.is_cancelled() {
            // Its caller gave up: stop here (the future drops with the task).
            this.ret = None;
            return Poll::Ready(());
        }
        let outcome = match catch_unwind(AssertUnwindSafe(|| this.fut.as_mut().poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(out)) => Ok(out),
            Err(payload) => Err(FromThreadError::Panicked(JobPanicked::new(payload))),
        };
        if let Some(ret) = this.ret.take() {
            ret.fill(outcome);
        }
        Poll::Ready(())
    }
}

impl<F: Future> Drop for Task<F> {
    fn drop(&mut self) {
        if let Some(ret) = self.ret.take() {
            ret.fill(Err(FromThreadError::Dropped));
        }
    }
}

/// Runs `fut` on `spawner`'s executor and blocks the current execution unit
/// (a thread parks, a green thread suspends only itself) until it completes.
///
/// # Errors
/// [`FromThreadError::Panicked`] if the future panicked;
/// [`FromThreadError::Dropped`] if the executor dropped it.
///
/// # Panics
/// If the spawner reports that the current thread drives its executor
/// ([`Spawner::drives_current_thread`]): waiting there would deadlock.
///
/// ```
/// use polysync::bridge::{BoxedTask, run_on};
/// let spawner = |task: BoxedTask| {
///     std::thread::spawn(move || futures_lite::future::block_on(task));
/// };
/// let err = run_on(&spawner, async { panic!("in the task") }).unwrap_err();
/// assert!(matches!(err, polysync::bridge::FromThreadError::Panicked(_)));
/// ```
#[track_caller]
pub fn run_on<S, F>(spawner: &S, fut: F) -> Result<F::Output, FromThreadError>
where
    S: Spawner + ?Sized,
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    run_on_until(spawner, fut, None).expect("polysync: a wait without a deadline timed out")
}

/// [`run_on`], giving up after `timeout` ([`FromThreadError::TimedOut`]).
///
/// # Errors
/// As for [`run_on`], and [`FromThreadError::TimedOut`].
///
/// # Panics
/// As for [`run_on`].
///
/// ```
/// use polysync::bridge::{BoxedTask, FromThreadError, try_run_on_for};
/// use std::time::Duration;
/// let never = |task: BoxedTask| std::mem::forget(task); // never polls
/// let r = try_run_on_for(&never, async { 1 }, Duration::from_millis(1));
/// assert!(matches!(r, Err(FromThreadError::TimedOut)));
/// ```
#[track_caller]
pub fn try_run_on_for<S, F>(
    spawner: &S,
    fut: F,
    timeout: Duration,
) -> Result<F::Output, FromThreadError>
where
    S: Spawner + ?Sized,
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    run_on_until(spawner, fut, deadline_after(timeout)).unwrap_or(Err(FromThreadError::TimedOut))
}

#[track_caller]
fn run_on_until<S, F>(
    spawner: &S,
    fut: F,
    deadline: Option<Instant>,
) -> Option<Result<F::Output, FromThreadError>>
where
    S: Spawner + ?Sized,
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    refuse_own_thread(spawner);
    let ret = start(spawner, fut);
    blocking(|w| match wait(&ret, w, deadline) {
        Err(FromThreadError::TimedOut) => Err(WaitError::TimedOut),
        Err(FromThreadError::Cancelled) => Err(WaitError::Cancelled),
        other => Ok(other),
    })
}

/// [`run_on`] on an explicit waiter, giving up at `deadline`.
///
/// # Errors
/// As for [`run_on`], [`FromThreadError::TimedOut`] and
/// [`FromThreadError::Cancelled`].
///
/// # Panics
/// As for [`run_on`].
///
/// ```
/// use polysync::bridge::{BoxedTask, run_on_with};
/// use polysync::lowlevel::ThreadWaiter;
/// let spawner = |task: BoxedTask| {
///     std::thread::spawn(move || futures_lite::future::block_on(task));
/// };
/// let r = ThreadWaiter::with_current(|w| run_on_with(&spawner, async { 7 }, w, None));
/// assert_eq!(r.unwrap(), 7);
/// ```
#[track_caller]
pub fn run_on_with<S, F, W>(
    spawner: &S,
    fut: F,
    waiter: &W,
    deadline: Option<Instant>,
) -> Result<F::Output, FromThreadError>
where
    S: Spawner + ?Sized,
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    W: Waiter + ?Sized,
{
    refuse_own_thread(spawner);
    let ret = start(spawner, fut);
    wait(&ret, waiter, deadline)
}

#[track_caller]
fn refuse_own_thread<S: Spawner + ?Sized>(spawner: &S) {
    assert!(
        !spawner.drives_current_thread(),
        "polysync: run_on called on a thread that drives the target executor; waiting here \
         would deadlock (from async code on that executor, spawn the future or .await it)"
    );
}

fn start<S, F>(spawner: &S, fut: F) -> Arc<Returned<F::Output>>
where
    S: Spawner + ?Sized,
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let ret = Arc::new(Returned {
        signal: Signal::new(),
        slot: Mutex::new(None),
    });
    spawner.spawn(Box::pin(Task {
        fut: Box::pin(fut),
        ret: Some(ret.clone()),
    }));
    ret
}

fn wait<T, W: Waiter + ?Sized>(
    ret: &Returned<T>,
    waiter: &W,
    deadline: Option<Instant>,
) -> Result<T, FromThreadError> {
    match ret
        .signal
        .wait_with(waiter, deadline)
        .expect("polysync: a task's outcome is waited on once")
    {
        Ok(()) => ret
            .slot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .expect("polysync: a task's outcome is stored before its signal"),
        Err(WaitError::TimedOut) => Err(FromThreadError::TimedOut),
        Err(WaitError::Cancelled) => Err(FromThreadError::Cancelled),
    }
}
