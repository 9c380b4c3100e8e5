//! The thread bridge: run blocking work on a pool thread from any world,
//! and wait for it in that world's own way.
//!
//! An event loop must never block, yet file I/O, blocking libraries and
//! CPU-heavy work must run somewhere. [`to_thread`] runs a closure on a
//! pool thread and gives its result back: a tokio, smol or futures-lite
//! task `.await`s it; a plain thread, a may coroutine or a corosensei green
//! thread calls [`to_thread_blocking`] and suspends only itself (its carrier
//! keeps running its other coroutines).
//!
//! | form | call |
//! |---|---|
//! | async | `to_thread(f).await` |
//! | blocking | `to_thread_blocking(f)` |
//! | blocking with timeout | `try_to_thread_for(f, Duration)` |
//! | blocking with deadline | `try_to_thread_until(f, Instant)` |
//! | explicit waiter | `to_thread_with(f, &waiter, deadline)` |
//!
//! (No non-blocking `try_` form: a job's result is never ready at once.)
//!
//! **Bounded by a limiter, not by a second pool.** Every call borrows a
//! token of a [`CapacityLimiter`] for the job
//! before it is queued, and the job gives it back when it ends, so at most
//! `total_tokens` jobs of one limiter run at once, and the ordinary limiter
//! API governs them (FIFO waits, `borrowed_tokens()`, `set_total_tokens` at
//! run time). The free functions use [`default_limiter`] (40 tokens, as
//! anyio's); an [`Offload`] uses the caller's (`CapacityLimiter::new(5)`:
//! "at most 5 file operations at once") and optionally its own
//! [`ThreadPool`]. Each job borrows as a fresh unit
//! ([`UnitId::allocate`](crate::lowlevel::UnitId::allocate)), so the caller
//! needs no task identity and may hold the same limiter's token itself.
//!
//! # Cancellation
//! A caller gives up when its future is dropped, its deadline passes or its
//! unit is cancelled. Then:
//! - a job still waiting for its token never runs (its wait leaves the
//!   limiter's queue, the closure is dropped by the caller);
//! - a job that holds its token but has not started yet is skipped by the
//!   pool thread that takes it (the closure and the token drop there);
//! - a job that started runs to completion (a thread cannot be stopped),
//!   keeps its token until it ends, and its result is dropped on the pool
//!   thread (tokio's and anyio's `abandon_on_cancel` rule, not anyio's
//!   default of keeping the caller until the job ends). If the caller gives
//!   up in the instant the job completes, the result drops wherever the last
//!   reference to the job goes (the caller or the pool thread).
//!
//! A long job can poll [`is_cancelled`] to stop early.
//!
//! # Panics
//! A panic in the closure is caught on the pool thread and comes back as a
//! typed error, [`JobPanicked`] (call [`JobPanicked::resume`] to re-raise
//! it): the caller decides, and a pool thread never dies of a job.
//!
//! ```
//! use polysync::bridge::to_thread;
//! # futures_lite::future::block_on(async {
//! let text = to_thread(|| std::fs::read_to_string("Cargo.toml")).await.unwrap();
//! assert!(text.unwrap().contains("polysync"));
//! # });
//! ```

mod job;
mod pool;
mod spawner;

pub use job::{JobPanicked, RunError, is_cancelled};
pub use pool::{ThreadPool, ThreadPoolBuilder};
pub use spawner::{BoxedTask, FromThreadError, Spawner, run_on, run_on_with, try_run_on_for};

use crate::lowlevel::wait::blocking;
use crate::lowlevel::{UnitId, WaitError, Waiter, deadline_after};
use crate::{BorrowError, CapacityLimiter};
use job::Job;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How many tokens [`default_limiter`] starts with: 40, as anyio's default
/// thread limiter (enough to keep a few disks and blocking libraries busy,
/// far below the pool's 512-thread cap).
pub const DEFAULT_TOKENS: usize = 40;

/// The limiter that [`to_thread`] and a default [`Offload`] borrow from:
/// [`DEFAULT_TOKENS`] tokens at first; change it at run time with
/// `default_limiter().set_total_tokens(n)`.
///
/// ```
/// let limiter = polysync::bridge::default_limiter();
/// assert!(limiter.total_tokens() > 0);
/// ```
pub fn default_limiter() -> &'static Arc<CapacityLimiter> {
    static DEFAULT: OnceLock<Arc<CapacityLimiter>> = OnceLock::new();
    DEFAULT.get_or_init(|| Arc::new(CapacityLimiter::new(DEFAULT_TOKENS)))
}

/// Where offloaded jobs run: a limiter that bounds how many run at once,
/// and a pool that gives them threads. Cheap to clone.
///
/// ```
/// use polysync::CapacityLimiter;
/// use polysync::bridge::Offload;
/// use std::sync::Arc;
///
/// // At most 5 file operations at once, beside the default limiter.
/// let files = Offload::new(Arc::new(CapacityLimiter::new(5)));
/// let len = files.run_blocking(|| std::fs::metadata("Cargo.toml").map(|m| m.len()));
/// assert!(len.unwrap().unwrap() > 0);
/// ```
#[derive(Clone)]
pub struct Offload {
    limiter: Arc<CapacityLimiter>,
    /// `None`: the [global pool](ThreadPool::global), looked up when a job
    /// is submitted (so an `Offload` given a pool of its own never creates
    /// the global one; under loom, a model never touches a `static` pool).
    pool: Option<ThreadPool>,
}

impl std::fmt::Debug for Offload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Offload")
            .field("limiter", &self.limiter)
            .field("pool", self.pool())
            .finish()
    }
}

impl Default for Offload {
    /// The [`default_limiter`] and the [global pool](ThreadPool::global).
    fn default() -> Self {
        Self::new(default_limiter().clone())
    }
}

impl Offload {
    /// Jobs bounded by `limiter`, on the [global pool](ThreadPool::global).
    ///
    /// ```
    /// use std::sync::Arc;
    /// let offload = polysync::bridge::Offload::new(Arc::new(polysync::CapacityLimiter::new(2)));
    /// assert_eq!(offload.limiter().total_tokens(), 2);
    /// ```
    pub fn new(limiter: Arc<CapacityLimiter>) -> Self {
        Self {
            limiter,
            pool: None,
        }
    }

    /// The same limiter, on `pool`.
    ///
    /// ```
    /// use polysync::bridge::{Offload, ThreadPool};
    /// let offload = Offload::default().with_pool(ThreadPool::builder().max_threads(1).build());
    /// assert_eq!(offload.pool().max_threads(), 1);
    /// ```
    pub fn with_pool(mut self, pool: ThreadPool) -> Self {
        self.pool = Some(pool);
        self
    }

    /// The limiter the jobs borrow from.
    ///
    /// ```
    /// let offload = polysync::bridge::Offload::default();
    /// assert_eq!(offload.limiter().borrowed_tokens(), 0);
    /// ```
    pub fn limiter(&self) -> &Arc<CapacityLimiter> {
        &self.limiter
    }

    /// The pool the jobs run on.
    ///
    /// ```
    /// let offload = polysync::bridge::Offload::default();
    /// assert!(offload.pool().max_threads() > 0);
    /// ```
    pub fn pool(&self) -> &ThreadPool {
        self.pool.as_ref().unwrap_or_else(|| ThreadPool::global())
    }

    /// Runs `f` on a pool thread once a token is free; the future resolves
    /// to its result. Works on any executor (no task identity needed).
    ///
    /// # Errors
    /// [`JobPanicked`] if `f` panicked.
    ///
    /// # Cancel safety
    /// Dropping the future gives the job up (see the [module
    /// docs](self#cancellation)): before its first poll, or while it waits
    /// for its token, `f` never runs; once queued with its token, it is
    /// skipped if no thread took it yet; once started, it runs to
    /// completion and its result is dropped on the pool thread.
    ///
    /// ```
    /// use polysync::bridge::Offload;
    /// # futures_lite::future::block_on(async {
    /// assert_eq!(Offload::default().run(|| 1 + 1).await.unwrap(), 2);
    /// # });
    /// ```
    pub fn run<F, R>(&self, f: F) -> impl Future<Output = Result<R, JobPanicked>> + Send + use<F, R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (limiter, pool) = (self.limiter.clone(), self.pool().clone());
        async move {
            let borrower = UnitId::allocate();
            let token = match limiter.acquire_on_behalf_of(borrower).await {
                Ok(token) => token.into_owned(&limiter),
                Err(error) => unreachable!("polysync: a fresh job unit could not borrow: {error}"),
            };
            // A task's next call comes through its executor's wake-up: the
            // pool thread does not spin for it.
            let job = Job::new(f, token, false);
            pool.submit(job.clone());
            job.signal
                .wait()
                .await
                .expect("polysync: a bridge job is waited on once");
            job.take_result()
        }
    }

    /// Runs `f` on a pool thread, blocking the current execution unit (a
    /// green thread suspends only itself) until it returns.
    ///
    /// # Errors
    /// [`JobPanicked`] if `f` panicked.
    ///
    /// # Cancellation
    /// If the unit's waiter reports cancellation, the call gives the job up
    /// (see the [module docs](self#cancellation)) and the unit unwinds
    /// through [`Waiter::cancelled`].
    ///
    /// ```
    /// let offload = polysync::bridge::Offload::default();
    /// assert_eq!(offload.run_blocking(|| "done").unwrap(), "done");
    /// ```
    pub fn run_blocking<F, R>(&self, f: F) -> Result<R, JobPanicked>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.run_until_inner(f, None)
            .expect("polysync: a wait without a deadline timed out")
    }

    /// Like [`run_blocking`](Offload::run_blocking), giving the job up
    /// after `timeout` ([`RunError::TimedOut`]).
    ///
    /// # Errors
    /// [`RunError::Panicked`] or [`RunError::TimedOut`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let offload = polysync::bridge::Offload::default();
    /// let r = offload.try_run_for(|| 5, Duration::from_secs(60));
    /// assert_eq!(r.unwrap(), 5);
    /// ```
    pub fn try_run_for<F, R>(&self, f: F, timeout: Duration) -> Result<R, RunError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.try_run_until_inner(f, deadline_after(timeout))
    }

    /// Like [`run_blocking`](Offload::run_blocking), giving the job up at
    /// `deadline` ([`RunError::TimedOut`]).
    ///
    /// # Errors
    /// [`RunError::Panicked`] or [`RunError::TimedOut`].
    ///
    /// ```
    /// use polysync::bridge::{Offload, RunError};
    /// use std::time::Instant;
    /// let offload = Offload::new(std::sync::Arc::new(polysync::CapacityLimiter::new(0)));
    /// // No token ever: the job is withdrawn from the limiter and never runs.
    /// let r = offload.try_run_until(|| unreachable!(), Instant::now());
    /// assert!(matches!(r, Err(RunError::TimedOut)));
    /// ```
    pub fn try_run_until<F, R>(&self, f: F, deadline: Instant) -> Result<R, RunError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.try_run_until_inner(f, Some(deadline))
    }

    /// Runs `f` on a pool thread, waiting on `waiter` until it returns or
    /// `deadline` passes: the entry point of every blocking form.
    ///
    /// # Errors
    /// [`RunError::Panicked`]; [`RunError::TimedOut`] when the deadline
    /// passed; [`RunError::Cancelled`] when the waiter reported
    /// cancellation. The job is given up in the last two cases (see the
    /// [module docs](self#cancellation)).
    ///
    /// ```
    /// use polysync::lowlevel::ThreadWaiter;
    /// let offload = polysync::bridge::Offload::default();
    /// let r = ThreadWaiter::with_current(|w| offload.run_with(|| 3, w, None));
    /// assert_eq!(r.unwrap(), 3);
    /// ```
    pub fn run_with<F, R, W>(
        &self,
        f: F,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<R, RunError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
        W: Waiter + ?Sized,
    {
        let borrower = UnitId::allocate();
        let token = match self
            .limiter
            .acquire_on_behalf_of_with(borrower, waiter, deadline)
        {
            Ok(token) => token.into_owned(&self.limiter),
            Err(BorrowError::Unavailable) => return Err(RunError::TimedOut),
            Err(BorrowError::Cancelled) => return Err(RunError::Cancelled),
            Err(error) => unreachable!("polysync: a fresh job unit could not borrow: {error}"),
        };
        let job = Job::new(f, token, waiter.spins());
        self.pool().submit(job.clone());
        match job
            .signal
            .wait_with(waiter, deadline)
            .expect("polysync: a bridge job is waited on once")
        {
            Ok(()) => job.take_result().map_err(RunError::Panicked),
            Err(WaitError::TimedOut) => Err(RunError::TimedOut),
            Err(WaitError::Cancelled) => Err(RunError::Cancelled),
        }
    }

    /// The plain blocking forms: `None` on a time-out; a cancelled unit
    /// unwinds (see [`blocking`]).
    fn run_until_inner<F, R>(
        &self,
        f: F,
        deadline: Option<Instant>,
    ) -> Option<Result<R, JobPanicked>>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        blocking(|w| match self.run_with(f, w, deadline) {
            Ok(out) => Ok(Ok(out)),
            Err(RunError::Panicked(panicked)) => Ok(Err(panicked)),
            Err(RunError::TimedOut) => Err(WaitError::TimedOut),
            Err(RunError::Cancelled) => Err(WaitError::Cancelled),
        })
    }

    fn try_run_until_inner<F, R>(&self, f: F, deadline: Option<Instant>) -> Result<R, RunError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        match self.run_until_inner(f, deadline) {
            Some(out) => out.map_err(RunError::Panicked),
            None => Err(RunError::TimedOut),
        }
    }
}

/// Runs `f` on a pool thread under the [`default_limiter`]; the future
/// resolves to its result, on any executor. See
/// [`Offload::run`] (errors, cancel safety).
///
/// # Errors
/// [`JobPanicked`] if `f` panicked.
///
/// # Cancel safety
/// As for [`Offload::run`].
///
/// ```
/// # futures_lite::future::block_on(async {
/// let n = polysync::bridge::to_thread(|| (1..=10).sum::<u32>()).await.unwrap();
/// assert_eq!(n, 55);
/// # });
/// ```
pub fn to_thread<F, R>(f: F) -> impl Future<Output = Result<R, JobPanicked>> + Send + 'static
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    Offload::default().run(f)
}

/// Runs `f` on a pool thread under the [`default_limiter`], blocking the
/// current execution unit until it returns ([`Offload::run_blocking`]).
///
/// # Errors
/// [`JobPanicked`] if `f` panicked.
///
/// ```
/// assert_eq!(polysync::bridge::to_thread_blocking(|| 2 * 21).unwrap(), 42);
/// ```
pub fn to_thread_blocking<F, R>(f: F) -> Result<R, JobPanicked>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    Offload::default().run_blocking(f)
}

/// [`to_thread_blocking`], giving the job up after `timeout`
/// ([`Offload::try_run_for`]).
///
/// # Errors
/// [`RunError::Panicked`] or [`RunError::TimedOut`].
///
/// ```
/// use std::time::Duration;
/// assert_eq!(polysync::bridge::try_to_thread_for(|| 1, Duration::from_secs(60)).unwrap(), 1);
/// ```
pub fn try_to_thread_for<F, R>(f: F, timeout: Duration) -> Result<R, RunError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    Offload::default().try_run_for(f, timeout)
}

/// [`to_thread_blocking`], giving the job up at `deadline`
/// ([`Offload::try_run_until`]).
///
/// # Errors
/// [`RunError::Panicked`] or [`RunError::TimedOut`].
///
/// ```
/// use std::time::{Duration, Instant};
/// let deadline = Instant::now() + Duration::from_secs(60);
/// assert_eq!(polysync::bridge::try_to_thread_until(|| 1, deadline).unwrap(), 1);
/// ```
pub fn try_to_thread_until<F, R>(f: F, deadline: Instant) -> Result<R, RunError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    Offload::default().try_run_until(f, deadline)
}

/// [`to_thread_blocking`] on an explicit waiter ([`Offload::run_with`]).
///
/// # Errors
/// As for [`Offload::run_with`].
///
/// ```
/// use polysync::lowlevel::ThreadWaiter;
/// let r = ThreadWaiter::with_current(|w| polysync::bridge::to_thread_with(|| 9, w, None));
/// assert_eq!(r.unwrap(), 9);
/// ```
pub fn to_thread_with<F, R, W>(f: F, waiter: &W, deadline: Option<Instant>) -> Result<R, RunError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
    W: Waiter + ?Sized,
{
    Offload::default().run_with(f, waiter, deadline)
}
