//! A job: the closure, the token it runs under, its result, and the
//! one-shot [`Signal`] that tells its caller it finished.
//!
//! Who owns what (the fields of [`Job`]):
//! - `state` is a small lock held only to move things in or out, never
//!   while user code runs: `Queued(f, token)` until a pool thread takes
//!   the work out; `Done(result)` from when it stored the result until
//!   the caller (or the pool thread, if the caller gave up) takes it.
//! - `signal` is set by the pool thread once the result is stored (after
//!   the token went back), and waited on once by the caller. A caller that
//!   gives up cancels it, which is how the pool thread learns that nobody
//!   will read the result ([`Signal::set`] returns `false`).

use super::pool::Runnable;
use crate::CapacityLimiter;
use crate::limiter::OwnedLimiterToken;
use crate::lowlevel::Signal;
use crate::lowlevel::sync::{Mutex, MutexGuard, per_thread};
use std::any::Any;
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

per_thread! {
    /// The job that the current pool thread runs, for [`is_cancelled`].
    static CURRENT: RefCell<Option<Arc<dyn Runnable>>> = const { RefCell::new(None) };
}

/// Whether the caller of the job that runs on this thread gave up on it
/// (its future was dropped, its timed wait timed out, or its unit was
/// cancelled): the optional cancel token a long job can poll to stop early,
/// since its result will be dropped anyway. `false` outside a bridge job.
///
/// ```
/// use polysync::bridge::{is_cancelled, to_thread_blocking};
///
/// let steps = to_thread_blocking(|| {
///     let mut steps = 0;
///     while steps < 1_000 && !is_cancelled() {
///         steps += 1;
///     }
///     steps
/// });
/// assert_eq!(steps.unwrap(), 1_000); // nobody gave up
/// assert!(!is_cancelled());
/// ```
pub fn is_cancelled() -> bool {
    CURRENT.with(|current| {
        current
            .borrow()
            .as_ref()
            .is_some_and(|job| job.caller_gave_up())
    })
}

/// A panic of an offloaded closure (or of a future run with
/// [`run_on`](super::run_on)), caught on the pool thread and carried
/// back to the caller (the bridge's choice: a typed error, not a re-raise,
/// so that a caller decides; [`resume`](JobPanicked::resume) re-raises it).
pub struct JobPanicked(Box<dyn Any + Send + 'static>);

impl JobPanicked {
    pub(crate) fn new(payload: Box<dyn Any + Send + 'static>) -> Self {
        Self(payload)
    }

    /// The panic payload (what `std::panic::catch_unwind` gives).
    ///
    /// ```
    /// let err = polysync::bridge::to_thread_blocking(|| panic!("boom")).unwrap_err();
    /// assert_eq!(err.into_panic().downcast_ref::<&str>(), Some(&"boom"));
    /// ```
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.0
    }

    /// The panic message, if the payload is a string (as `panic!` makes).
    ///
    /// ```
    /// let err = polysync::bridge::to_thread_blocking(|| panic!("disk {}", 7)).unwrap_err();
    /// assert_eq!(err.message(), Some("disk 7"));
    /// ```
    pub fn message(&self) -> Option<&str> {
        self.0
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| self.0.downcast_ref::<String>().map(String::as_str))
    }

    /// Re-raises the panic in the caller.
    ///
    /// ```should_panic
    /// polysync::bridge::to_thread_blocking(|| panic!("boom")).unwrap_err().resume();
    /// ```
    pub fn resume(self) -> ! {
        std::panic::resume_unwind(self.0)
    }
}

impl std::fmt::Debug for JobPanicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("JobPanicked")
            .field(&self.message().unwrap_or("<non-string payload>"))
            .finish()
    }
}

impl std::fmt::Display for JobPanicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.message() {
            Some(message) => write!(f, "the job panicked: {message}"),
            None => f.write_str("the job panicked"),
        }
    }
}

impl std::error::Error for JobPanicked {}

/// Why a timed or explicit-waiter bridge call returned without a result.
#[derive(Debug)]
#[non_exhaustive]
pub enum RunError {
    /// The closure panicked.
    Panicked(JobPanicked),
    /// The deadline passed first: while the job waited for its token (it
    /// never runs), or while it ran (its result is dropped on the pool
    /// thread).
    TimedOut,
    /// The waiter reported cancellation (same consequences as `TimedOut`).
    Cancelled,
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Panicked(panicked) => panicked.fmt(f),
            RunError::TimedOut => f.write_str("the offloaded job did not finish in time"),
            RunError::Cancelled => f.write_str("the wait for the offloaded job was cancelled"),
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Panicked(panicked) => Some(panicked),
            _ => None,
        }
    }
}

/// A job's life (see the module docs).
enum State<F, R> {
    Queued(F, OwnedLimiterToken<CapacityLimiter>),
    Running,
    Done(std::thread::Result<R>),
    Taken,
}

/// One offloaded call: shared by its caller and the pool thread that runs
/// it (the one allocation of a call).
pub(crate) struct Job<F, R> {
    state: Mutex<State<F, R>>,
    pub(crate) signal: Signal,
    /// Whether the caller waits with a waiter that spins (a thread's): its
    /// next call comes within a microsecond or so, so the pool thread
    /// spins for it ([`Runnable::caller_spins`]).
    caller_spins: bool,
}

impl<F, R> Job<F, R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    /// A job that will run `f` holding `token`, for a caller whose waiter
    /// spins or not (`caller_spins`).
    pub(crate) fn new(
        f: F,
        token: OwnedLimiterToken<CapacityLimiter>,
        caller_spins: bool,
    ) -> Arc<Self> {
        Arc::new(Job {
            state: Mutex::new(State::Queued(f, token)),
            signal: Signal::new(),
            caller_spins,
        })
    }

    fn state(&self) -> MutexGuard<'_, State<F, R>> {
        // Never held across user code, so never poisoned; a poisoned lock
        // would still hold a consistent state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The result, for the caller once its wait on `signal` succeeded.
    pub(crate) fn take_result(&self) -> Result<R, JobPanicked> {
        let taken = std::mem::replace(&mut *self.state(), State::Taken);
        match taken {
            State::Done(result) => result.map_err(JobPanicked),
            _ => unreachable!("polysync: a bridge job's result was read before it was stored"),
        }
    }
}

impl<F, R> Runnable for Job<F, R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    fn caller_gave_up(&self) -> bool {
        self.signal.is_cancelled()
    }

    fn caller_spins(&self) -> bool {
        self.caller_spins
    }

    fn run(&self, this: &Arc<dyn Runnable>) -> bool {
        let State::Queued(f, token) = std::mem::replace(&mut *self.state(), State::Running) else {
            unreachable!("polysync: a bridge job ran twice");
        };
        if self.signal.is_cancelled() {
            // The caller gave up before a thread took the job: it never
            // starts (the closure and the token drop here).
            drop((f, token));
            *self.state() = State::Taken;
            return false;
        }
        let previous = CURRENT.with(|current| current.replace(Some(this.clone())));
        let result = catch_unwind(AssertUnwindSafe(f));
        CURRENT.with(|current| current.replace(previous));
        // The token goes back before the caller can see the result, so a
        // caller that got its result never sees its own token borrowed.
        drop(token);
        *self.state() = State::Done(result);
        true
    }

    fn complete(&self, stored: bool) {
        if !stored {
            return; // skipped: nobody waits
        }
        if !self.signal.set() {
            // The caller gave up while the job ran: its result is dropped
            // here, on the pool thread (the state lock is not held).
            let left = std::mem::replace(&mut *self.state(), State::Taken);
            drop(left);
        }
    }
}
