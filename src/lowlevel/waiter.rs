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
/// # One wake token, nested drives
/// A waiter has one wake token (a thread's wake flag, a green thread's
/// place in its scheduler's queue, a may coroutine's blocker): every waker
/// it hands out sets it, and each `wait` consumes it. A blocking call made
/// inside a future that a polysync driver polls with this waiter (a
/// [`block_on`] whose future blocks) waits on the same token in the middle
/// of the outer poll, and can consume a wake meant for the outer future.
/// polysync's drivers keep it: a waiter counts its waits
/// ([`waits`](Waiter::waits)), the driver reads the count before each poll,
/// and a driver whose poll returned `Pending` after the count moved polls
/// again instead of waiting (at worst one poll for nothing). The count
/// belongs to the unit (it lives in the waiter), so it holds wherever the
/// unit resumes: a may coroutine that moves to another worker between the
/// nested wait and the end of the poll keeps it, whatever switches of its
/// own runtime it made meanwhile.
///
/// A waiter that does not count (`waits` returns `None`, the default) falls
/// back to a per-OS-thread record of switches: every wait a driver makes
/// goes through [`switching_out`](super::switching_out), which records the
/// switch, and the driver polls again after a poll that switched. That is
/// exact only for units that never change OS thread, and only sees switches
/// that go through `switching_out`: code that calls `wait` (or otherwise
/// switches its unit out) inside a future that a driver polls wraps the
/// call in it. A waiter whose unit can move between threads, or whose
/// token other switches consume, implements `waits`.
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

    /// How many times this unit has made a switch that can consume the
    /// waiter's wake token: every [`wait`](Waiter::wait) on it, and any
    /// other switch that takes the token (a green thread's yield, which
    /// clears its place in the ready queue), or `None` if the waiter does
    /// not count (the default). The blocking driver reads it before and
    /// after each poll: a poll after which it moved may have consumed a wake
    /// meant for the polled future, so the driver polls again instead of
    /// waiting (see "One wake token, nested drives" above).
    ///
    /// Only the unit itself changes the count, and only needs to read it:
    /// the value means nothing but "changed or not". Return `Some` always
    /// or `None` always. Wrapping is harmless (2^64 waits in one poll).
    ///
    /// ```
    /// use polysync::lowlevel::{ThreadWaiter, Waiter};
    ///
    /// ThreadWaiter::with_current(|w| {
    ///     let before = w.waits().unwrap();
    ///     w.waker().wake();
    ///     let _ = w.wait(None); // consumes the wake: counted
    ///     assert_ne!(w.waits(), Some(before));
    /// });
    /// ```
    fn waits(&self) -> Option<u64> {
        None
    }
}

/// Drives `fut` to completion on `waiter`, giving up at `deadline`.
///
/// Returns `None` when the deadline passed or the waiter reported
/// cancellation and one last poll did not complete the future. The caller
/// then drops the future, which withdraws it (polysync futures pass on
/// anything that was handed to them in the meantime).
///
/// Nesting is allowed, as for [`block_on`]: the future may itself make
/// blocking calls on `waiter` (a `*_with(waiter, ..)` form, another
/// `block_on_with`), and no wake of the outer future is lost.
///
/// ```
/// use polysync::lowlevel::{ThreadWaiter, block_on_with};
/// use std::pin::pin;
///
/// let (sem, event) = (polysync::Semaphore::new(1), polysync::Event::new());
/// event.set();
/// let out = ThreadWaiter::with_current(|w| {
///     let fut = pin!(async {
///         event.wait_with(w, None).unwrap(); // a nested blocking call on `w`
///         sem.acquire().await.unwrap().forget();
///         "done"
///     });
///     block_on_with(w, fut, None)
/// });
/// assert_eq!(out, Some("done"));
/// ```
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
    // How this drive learns that a poll may have consumed its wake.
    let mut kept = Kept::new(waiter);
    // Clear a hint that an async poll on this thread may have left behind.
    super::thread::take_spin_hint();
    loop {
        let mark = kept.before_poll(waiter);
        // A blocking driver's poll: no async checkpoint inside.
        let polled = super::checkpoint::as_blocking(|| fut.as_mut().poll(&mut cx));
        // Read (and clear) the hint the poll left on this thread before
        // anything can switch units, so it never leaks to another wait.
        let next = super::thread::take_spin_hint();
        // Whether the poll may have consumed a wake of this drive.
        let consumed = kept.after_poll(waiter, mark);
        if let Poll::Ready(out) = polled {
            return Ok(out);
        }
        if consumed {
            // The wake may be gone: poll again rather than wait for it.
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(WaitError::TimedOut);
            }
            continue;
        }
        waiter.next_in_line(next);
        // The unit may switch out here: no identity of a task polled on
        // this thread may stay behind for the next unit.
        let woke = super::identity::switching_out(|| waiter.wait(deadline));
        kept.after_wait();
        super::checkpoint::note_waited();
        match woke {
            WaitResult::Woken => {}
            WaitResult::TimedOut if deadline.is_none() => {}
            WaitResult::TimedOut => return Err(WaitError::TimedOut),
            WaitResult::Cancelled => return Err(WaitError::Cancelled),
        }
    }
}

/// How a blocking driver keeps its wake across a switch inside its poll
/// (issue 17: a blocking call inside a future that `block_on` drives).
///
/// A unit has one wake token (see [`Waiter`], "One wake token, nested
/// drives"): every waker its waiter hands out sets it, and every wait
/// consumes it; a green thread's yield consumes it too. A future that a
/// driver polls can switch the unit out in the middle of its poll: a nested
/// blocking call that waits (a second drive on the same token), a green
/// yield or sleep, a checkpoint of a nested call. A wake meant for the
/// polled future (it registered its waker earlier in the poll) can land
/// during that switch and be consumed by it; the poll then returns
/// `Pending`, and a driver that waited now would wait for a wake that
/// already came and went. So a driver whose poll may have consumed its
/// wake polls again instead of waiting: the new poll sees what the lost
/// wake announced. The cost is one more poll after such a poll; a poll that
/// did not switch (every poll of a plain blocking call) is followed by a
/// wait as before.
enum Kept {
    /// The waiter counts its waits ([`Waiter::waits`]): a poll consumed
    /// nothing if the count did not move. The count is the unit's, kept by
    /// its waiter, so a unit that resumes on another OS thread (a may
    /// coroutine, moved by may's own switches that polysync never sees)
    /// still finds it. Nothing on the OS thread is read or written.
    Counted,
    /// The fallback for a waiter that does not count: a per-OS-thread flag
    /// that every switch through
    /// [`switching_out`](super::identity::switching_out) sets as the unit
    /// resumes ([`note_switched`]). A drive nested in another's poll
    /// switched if it waited or if one of its polls switched, and reports
    /// that to the outer poll as it returns (`Drop`, also when it unwinds),
    /// together with what the outer poll had switched before it began.
    Flag(Switched),
}

impl Kept {
    fn new<W: Waiter + ?Sized>(waiter: &W) -> Kept {
        match waiter.waits() {
            Some(_) => Kept::Counted,
            None => Kept::Flag(Switched {
                outer: take_switched(),
                here: false,
            }),
        }
    }

    /// What to compare with after the poll.
    #[inline]
    fn before_poll<W: Waiter + ?Sized>(&self, waiter: &W) -> Option<u64> {
        match self {
            Kept::Counted => waiter.waits(),
            Kept::Flag(_) => None,
        }
    }

    /// Whether the poll that began at `mark` may have consumed a wake.
    #[inline]
    fn after_poll<W: Waiter + ?Sized>(&mut self, waiter: &W, mark: Option<u64>) -> bool {
        match self {
            Kept::Counted => waiter.waits() != mark,
            Kept::Flag(switched) => {
                let poll_switched = take_switched();
                switched.here |= poll_switched;
                poll_switched
            }
        }
    }

    /// After the driver's own wait (itself a switch).
    #[inline]
    fn after_wait(&mut self) {
        if let Kept::Flag(switched) = self {
            switched.here = true;
            // A clear flag for the next poll.
            take_switched();
        }
    }
}

/// The flag fallback's state (see [`Kept::Flag`]).
struct Switched {
    /// The flag as the enclosing poll (if any) had left it.
    outer: bool,
    /// Whether this drive switched (waited, or a poll of it switched).
    here: bool,
}

impl Drop for Switched {
    fn drop(&mut self) {
        if self.outer || self.here {
            note_switched();
        }
    }
}

super::sync::per_thread! {
    /// Set when the running unit resumes from a switch (see [`Switched`]),
    /// taken by a blocking driver after each poll. It describes the running
    /// unit: set on the thread the unit resumed on, read there before the
    /// unit can switch again.
    static SWITCHED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Records that the running unit has just resumed from a switch. Never
/// inlined, like every accessor of a per-unit thread-local: a green unit
/// may resume on another OS thread, and LLVM may keep a thread-local's
/// address across an inlined call (llvm/llvm-project#98479).
#[inline(never)]
pub(crate) fn note_switched() {
    let _ = SWITCHED.try_with(|flag| flag.set(true));
}

/// Takes (and clears) the record. Never inlined (see [`note_switched`]).
#[inline(never)]
fn take_switched() -> bool {
    SWITCHED
        .try_with(|flag| flag.replace(false))
        .unwrap_or(false)
}

/// Drives `fut` on the current execution unit's waiter: the registered green
/// backend whose unit this is (a coroutine, a green thread), otherwise the OS
/// thread. Returns `None` if `deadline` passed first.
///
/// This is what every `*_blocking` and `try_*_for` method of polysync uses.
///
/// # Nesting
/// The future may make blocking calls itself (a `*_blocking` method, another
/// `block_on`): they wait on the same unit's waiter, and it works, where
/// `futures::executor::block_on` and tokio's `Runtime::block_on` refuse to
/// nest. Such a call blocks the whole `block_on` (other branches of a `join!`
/// inside it do not run meanwhile), but no wake is lost: one that is meant
/// for the outer future and lands while the inner call waits is consumed by
/// that wait, so after a poll during which the unit's waiter waited (a
/// nested wait, a green thread's yield or sleep: see [`Waiter::waits`]) the
/// driver polls again instead of waiting (at worst once for nothing). The
/// count belongs to the unit, so a may coroutine that resumes on another
/// worker keeps it. (A waiter of another crate that does not count falls
/// back to a per-thread record of switches made through
/// [`switching_out`](super::switching_out).)
///
/// ```
/// use polysync::Event;
/// use polysync::lowlevel::block_on;
/// use std::future::{Future, poll_fn};
/// use std::pin::pin;
/// use std::task::Poll;
///
/// let (outer, inner) = (Event::new(), Event::new());
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         while inner.waiting() == 0 {
///             std::thread::yield_now();
///         }
///         outer.set(); // wakes the outer future while the inner call waits
///         inner.set();
///     });
///     let mut outer_wait = pin!(outer.wait());
///     let mut blocked = false;
///     let out = block_on(
///         poll_fn(|cx| {
///             if outer_wait.as_mut().poll(cx).is_ready() {
///                 return Poll::Ready("outer set");
///             }
///             if !blocked {
///                 blocked = true;
///                 inner.wait_blocking(); // a nested blocking call
///             }
///             Poll::Pending // `outer` was unset when polled: wait for its wake
///         }),
///         None,
///     );
///     assert_eq!(out, Some("outer set"));
/// });
/// ```
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
