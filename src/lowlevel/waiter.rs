//! How a blocking call suspends the current execution unit, and the driver
//! that runs a primitive's wait future on it.

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// Why [`Waiter::wait`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WaitResult {
    /// A wake arrived (or the return was spurious): re-check the condition.
    Woken,
    /// The deadline passed.
    TimedOut,
    /// The execution unit is being cancelled (for example a cancelled `may`
    /// coroutine); the wait should be abandoned.
    Cancelled,
}

/// Why a blocking wait given a [`Waiter`] (the `*_with` forms of every
/// primitive) did not complete. Either way the wait was withdrawn cleanly,
/// with nothing handed to it (an item to put is given back). A hand-off that
/// landed just as the wait gave up is not an error: the wait then completes
/// with it (`Ok`), and the caller owns it (a cancelled unit that unwinds
/// drops it, which passes a lock or permit on).
///
/// ```
/// use polysync::lowlevel::{ThreadWaiter, WaitError};
/// use std::time::Instant;
///
/// let event = polysync::Event::new();
/// ThreadWaiter::with_current(|w| {
///     let out = event.wait_with(w, Some(Instant::now()));
///     assert_eq!(out.unwrap_err(), WaitError::TimedOut);
/// });
/// assert_eq!(event.waiting(), 0); // withdrawn
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WaitError {
    /// The deadline passed first.
    TimedOut,
    /// The waiter reported that its execution unit is being cancelled
    /// ([`WaitResult::Cancelled`]).
    Cancelled,
}

impl std::fmt::Display for WaitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WaitError::TimedOut => "polysync: the wait timed out",
            WaitError::Cancelled => "polysync: the waiting execution unit was cancelled",
        })
    }
}

impl std::error::Error for WaitError {}

/// The panic payload with which a plain blocking form (`*_blocking`,
/// `try_*_for`, `try_*_until`) unwinds when the current unit's waiter
/// reports cancellation and the backend does not raise its own
/// cancellation instead (see [`Waiter::cancelled`]). The wait was withdrawn
/// cleanly before the unwind began.
///
/// ```
/// let payload: Box<dyn std::any::Any + Send> = Box::new(polysync::lowlevel::UnitCancelled);
/// assert!(payload.is::<polysync::lowlevel::UnitCancelled>());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnitCancelled;

impl std::fmt::Display for UnitCancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("polysync: a blocking wait was cancelled by its execution unit's backend")
    }
}

/// How the current execution unit (an OS thread, a coroutine, a green thread)
/// suspends until it is woken.
///
/// Async code needs no `Waiter`: a future registers `cx.waker()`. Blocking
/// calls ask the backend registry for the current unit's waiter and drive the
/// primitive's future with it (see [`block_on`]).
///
/// # Contract
/// - [`waker`](Waiter::waker) returns a handle that wakes this waiter from any
///   thread; a wake that arrives before [`wait`](Waiter::wait) is not lost.
/// - `wait` may return [`WaitResult::Woken`] spuriously: callers always
///   re-check their own state.
///
/// # Example
/// A waiter built on a `std` mutex and condition variable (a real backend
/// would switch to its scheduler instead). A thread waits on it for a
/// semaphore permit that another thread releases:
/// ```
/// use polysync::lowlevel::{WaitResult, Waiter};
/// use std::sync::{Arc, Condvar, Mutex};
/// use std::task::{Wake, Waker};
/// use std::time::Instant;
///
/// #[derive(Default)]
/// struct Bell {
///     rung: Mutex<bool>,
///     cv: Condvar,
/// }
/// impl Wake for Bell {
///     fn wake(self: Arc<Self>) {
///         *self.rung.lock().unwrap() = true;
///         self.cv.notify_one();
///     }
/// }
/// struct BellWaiter(Arc<Bell>);
/// impl Waiter for BellWaiter {
///     fn waker(&self) -> Waker {
///         Waker::from(self.0.clone())
///     }
///     fn wait(&self, deadline: Option<Instant>) -> WaitResult {
///         let mut rung = self.0.rung.lock().unwrap();
///         while !*rung {
///             match deadline {
///                 None => rung = self.0.cv.wait(rung).unwrap(),
///                 Some(d) => {
///                     let now = Instant::now();
///                     if now >= d {
///                         return WaitResult::TimedOut;
///                     }
///                     rung = self.0.cv.wait_timeout(rung, d - now).unwrap().0;
///                 }
///             }
///         }
///         *rung = false; // consume the wake
///         WaitResult::Woken
///     }
/// }
///
/// let sem = polysync::Semaphore::new(0);
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         while sem.waiting() == 0 {
///             std::thread::yield_now();
///         }
///         sem.release(1); // wakes the waiter below through its Bell
///     });
///     let waiter = BellWaiter(Arc::new(Bell::default()));
///     let permit = sem.acquire_with(&waiter, None).unwrap();
///     permit.forget();
/// });
/// assert_eq!(sem.value(), 0);
/// ```
pub trait Waiter {
    /// A handle that wakes this waiter from any thread.
    fn waker(&self) -> Waker;

    /// Suspends until woken, the deadline passes, or the unit is cancelled.
    /// May return `Woken` spuriously.
    fn wait(&self, deadline: Option<Instant>) -> WaitResult;

    /// Whether a wait on this waiter may keep its OS thread busy for a few
    /// microseconds (spin) before it suspends, when a wake is likely soon.
    /// An OS thread may ([`ThreadWaiter`](super::ThreadWaiter) returns
    /// `true`); a green thread must not, since spinning would hold the
    /// carrier thread that its siblings run on. The default is `false`.
    fn spins(&self) -> bool {
        false
    }

    /// A hint given before each [`wait`](Waiter::wait) of a primitive's
    /// wait: whether the waiting node went in at the head of its queue (it
    /// is next in line, so a wake is likely soon). A waiter that
    /// [`spins`](Waiter::spins) spins only when this is `true`. The default
    /// ignores it.
    fn next_in_line(&self, next: bool) {
        let _ = next;
    }

    /// What a plain blocking form (`*_blocking`, `try_*_for`,
    /// `try_*_until`), which has no way to report cancellation in its
    /// result, does after this waiter reported [`WaitResult::Cancelled`] and
    /// the wait was withdrawn: unwind the unit. The default resumes an
    /// unwind with the payload [`UnitCancelled`]; a backend overrides it to
    /// raise its own runtime's cancellation (a `may` coroutine's cancel
    /// unwinding, say). The `*_with` forms report
    /// [`WaitError::Cancelled`] instead and never call this.
    fn cancelled(&self) -> ! {
        std::panic::resume_unwind(Box::new(UnitCancelled))
    }

    /// A checkpoint: what a blocking form run with this waiter does after
    /// it completed without having to wait, when checkpoints are on for its
    /// backend (see [`checkpoint`](super::checkpoint) and
    /// [`GreenBackend::checkpoints_by_default`](super::GreenBackend::checkpoints_by_default)).
    /// A green waiter yields to its scheduler here (a `may` coroutine:
    /// `may::coroutine::yield_now`; a hub: requeue); the default does
    /// nothing, which is right for an OS thread.
    fn checkpoint(&self) {}
}

/// Drives `fut` to completion on `waiter`, giving up at `deadline`.
///
/// Returns `None` when the deadline passed or the waiter reported
/// cancellation and one last poll did not complete the future. The caller
/// then drops the future, which withdraws it (polysync futures pass on
/// anything that was handed to them in the meantime).
pub fn block_on_with<W: Waiter + ?Sized, F: Future>(
    waiter: &W,
    mut fut: Pin<&mut F>,
    deadline: Option<Instant>,
) -> Option<F::Output> {
    match poll_until(waiter, fut.as_mut(), deadline) {
        Ok(out) => Some(out),
        // A notification may have landed just as we gave up: take it.
        Err(_) => match fut.poll(&mut Context::from_waker(&waiter.waker())) {
            Poll::Ready(out) => Some(out),
            Poll::Pending => None,
        },
    }
}

/// The loop both blocking drivers share ([`block_on_with`] here, and the
/// crate's `drive`, which then withdraws): polls `fut` and waits on
/// `waiter` between polls until the future is ready or the waiter gives up.
/// A `TimedOut` without a deadline counts as a spurious wake-up. After an
/// `Err` the future is still pending, and may have been handed something
/// since its last poll: the caller decides what to do with it.
pub(crate) fn poll_until<W: Waiter + ?Sized, F: Future + ?Sized>(
    waiter: &W,
    mut fut: Pin<&mut F>,
    deadline: Option<Instant>,
) -> Result<F::Output, WaitError> {
    let waker = waiter.waker();
    let mut cx = Context::from_waker(&waker);
    // Clear a hint that an async poll on this thread may have left behind.
    super::thread::take_spin_hint();
    loop {
        // A blocking driver's poll: no async checkpoint inside.
        let polled = super::checkpoint::as_blocking(|| fut.as_mut().poll(&mut cx));
        // Read (and clear) the hint the poll left on this thread before
        // anything can switch units, so it never leaks to another wait.
        let next = super::thread::take_spin_hint();
        if let Poll::Ready(out) = polled {
            return Ok(out);
        }
        waiter.next_in_line(next);
        // The unit may switch out here: no identity of a task polled on
        // this thread may stay behind for the next unit.
        let woke = super::identity::switching_out(|| waiter.wait(deadline));
        super::checkpoint::note_waited();
        match woke {
            WaitResult::Woken => {}
            WaitResult::TimedOut if deadline.is_none() => {}
            WaitResult::TimedOut => return Err(WaitError::TimedOut),
            WaitResult::Cancelled => return Err(WaitError::Cancelled),
        }
    }
}

/// Drives `fut` on the current execution unit's waiter: the registered green
/// backend whose unit this is (a coroutine, a green thread), otherwise the OS
/// thread. Returns `None` if `deadline` passed first.
///
/// This is what every `*_blocking` and `try_*_for` method of polysync uses.
///
/// ```
/// let sem = polysync::Semaphore::new(1);
/// let out = polysync::lowlevel::block_on(async { sem.acquire().await.unwrap().forget(); 7 }, None);
/// assert_eq!(out, Some(7));
/// assert_eq!(sem.value(), 0);
/// ```
pub fn block_on<F: Future>(fut: F, deadline: Option<Instant>) -> Option<F::Output> {
    let fut = pin!(fut);
    super::backend::with_current_waiter(|waiter| block_on_with(waiter, fut, deadline))
}
