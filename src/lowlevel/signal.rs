//! A one-shot signal: set once, waited on once, blocking or async.

use super::queue::{QueueGuard, WaitQueue, WakeList};
use super::sync::{Ordering, const_fn};
use super::wait::{Protocol, Wait, admit_if, blocking, drive};
use super::waiter::{WaitError, Waiter};
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

// The user bits of a signal's queue word. Each goes from 0 to 1 at most
// once, and SET and CANCELLED exclude each other:
//
// | CLAIMED | SET | CANCELLED | the signal                                  | a new wait              | `set()`        |
// |---------|-----|-----------|---------------------------------------------|-------------------------|----------------|
// | 0       | 0   | 0         | fresh                                       | starts (claims)         | wins           |
// | 0       | 1   | 0         | set before anyone waited                    | starts, returns at once | `false`        |
// | 1       | 0   | 0         | its one wait started and has not given up   | `AlreadyWaited`         | wins, wakes it |
// | 1       | 1   | 0         | set; the wait completes (or completed)      | `AlreadyWaited`         | `false`        |
// | 1       | 0   | 1         | the wait gave up first (time-out, cancelled unit, dropped future) | `AlreadyWaited` | `false` |
//
// CLAIMED is set under the queue lock by the first wait (`claim`). SET is set
// by the winning `set()`: lock-free while nobody is queued, else under the
// lock, where it also hands the queued node its notification, so a withdrawn
// node (`Protocol::cancelled`, which sets CANCELLED under the lock) never
// misses a `set()` that came first.
const SET: u64 = 1;
const CANCELLED: u64 = 2;
const CLAIMED: u64 = 4;

/// A one-shot, race-free signal between one waiter and any number of setters.
///
/// - [`set`](Signal::set) returns `true` for exactly one caller, and only if the
///   waiter has not given up.
/// - It can be waited on once, in any world: [`wait`](Signal::wait) (async),
///   [`wait_blocking`](Signal::wait_blocking), [`try_wait_for`](Signal::try_wait_for),
///   [`try_wait_until`](Signal::try_wait_until), or [`wait_with`](Signal::wait_with)
///   on an explicit waiter. A second wait is a [`SignalError::AlreadyWaited`].
/// - A wait that times out, is cancelled (its waiter reports cancellation)
///   or is dropped before the signal is set cancels the signal:
///   [`is_cancelled`](Signal::is_cancelled) becomes `true` and later `set()`
///   calls return `false`. If a `set()` wins that race, the signal counts as
///   set and the wait reports success.
///
/// ```
/// use polysync::lowlevel::Signal;
/// use std::sync::Arc;
///
/// let signal = Arc::new(Signal::new());
/// let setter = {
///     let signal = signal.clone();
///     std::thread::spawn(move || signal.set())
/// };
/// signal.wait_blocking().unwrap();
/// assert!(setter.join().unwrap());
/// assert!(!signal.set()); // only one caller wins
/// ```
pub struct Signal {
    /// User bits: `CLAIMED`, `SET`, `CANCELLED` (see the table above).
    queue: WaitQueue,
}

/// Why a [`Signal`] wait could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignalError {
    /// The signal was already waited on; it supports one wait.
    AlreadyWaited,
}

impl std::fmt::Display for SignalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("polysync: a one-shot signal can be waited on only once")
    }
}

impl std::error::Error for SignalError {}

impl Signal {
    const_fn! {
        /// A signal that is neither set nor cancelled.
        pub fn new() -> Signal {
            Signal { queue: WaitQueue::new(0) }
        }
    }

    /// Sets the signal and wakes its waiter. Returns `true` for the one call
    /// that set it; `false` if it was set already or its waiter gave up.
    pub fn set(&self) -> bool {
        match self.queue.update_if_idle(Ordering::Release, |u| {
            (u & (SET | CANCELLED) == 0).then_some(u | SET)
        }) {
            Ok(_) => return true,
            Err(u) if u & (SET | CANCELLED) != 0 => return false,
            Err(_) => {}
        }
        let mut guard = self.queue.lock();
        if guard.user() & (SET | CANCELLED) != 0 {
            return false;
        }
        guard.set_user(guard.user() | SET);
        let mut wakers = WakeList::new();
        if let Some(waker) = guard.notify_front(()) {
            wakers.push(waker);
        }
        drop(guard);
        wakers.wake_all();
        true
    }

    /// Whether the signal was set.
    pub fn is_set(&self) -> bool {
        self.queue.user(Ordering::Acquire) & SET != 0
    }

    /// Whether the waiter gave up before the signal was set.
    pub fn is_cancelled(&self) -> bool {
        self.queue.user(Ordering::Acquire) & CANCELLED != 0
    }

    /// Waits asynchronously until the signal is set.
    ///
    /// # Errors
    /// [`SignalError::AlreadyWaited`] if a wait started before (checked at
    /// the first poll).
    ///
    /// # Cancel safety
    /// Dropping the future before its first poll changes nothing: the wait
    /// never started. Dropping it after its first poll, before it completed,
    /// **cancels the signal** (unless a `set()` landed first, which then
    /// counts): [`is_cancelled`](Signal::is_cancelled) becomes `true` and
    /// every later `set()` returns `false`, so setters learn that nobody will
    /// see the signal.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let signal = polysync::lowlevel::Signal::new();
    /// signal.set();
    /// signal.wait().await.unwrap();
    /// # });
    /// ```
    pub fn wait(&self) -> SignalWait<'_> {
        SignalWait {
            claimed: false,
            wait: Wait::new(self, ()),
        }
    }

    /// Blocks the current execution unit until the signal is set.
    ///
    /// # Errors
    /// [`SignalError::AlreadyWaited`] if a wait started before.
    ///
    /// # Cancellation
    /// If the unit's waiter reports cancellation, the wait gives up (which
    /// cancels the signal, unless it was set first) and the unit unwinds
    /// through [`Waiter::cancelled`]. The same holds for
    /// [`try_wait_for`](Signal::try_wait_for) and [`try_wait_until`](Signal::try_wait_until).
    ///
    /// ```
    /// let signal = polysync::lowlevel::Signal::new();
    /// signal.set();
    /// signal.wait_blocking().unwrap();
    /// ```
    pub fn wait_blocking(&self) -> Result<(), SignalError> {
        self.wait_blocking_until(None).map(|_| ())
    }

    /// Blocks until the signal is set or `timeout` passes; `Ok(false)` on
    /// timeout, after which the signal is cancelled.
    ///
    /// ```
    /// use std::time::Duration;
    /// let signal = polysync::lowlevel::Signal::new();
    /// assert_eq!(signal.try_wait_for(Duration::from_millis(1)), Ok(false));
    /// assert!(signal.is_cancelled());
    /// assert!(!signal.set());
    /// ```
    ///
    /// # Errors
    /// [`SignalError::AlreadyWaited`] if a wait started before.
    pub fn try_wait_for(&self, timeout: Duration) -> Result<bool, SignalError> {
        self.wait_blocking_until(super::deadline_after(timeout))
    }

    /// Like [`try_wait_for`](Signal::try_wait_for) with a deadline.
    ///
    /// ```
    /// use std::time::Instant;
    /// let signal = polysync::lowlevel::Signal::new();
    /// signal.set();
    /// assert_eq!(signal.try_wait_until(Instant::now()), Ok(true));
    /// ```
    ///
    /// # Errors
    /// [`SignalError::AlreadyWaited`] if a wait started before.
    pub fn try_wait_until(&self, deadline: Instant) -> Result<bool, SignalError> {
        self.wait_blocking_until(Some(deadline))
    }

    /// Blocks on `waiter` until the signal is set, `deadline` passes or the
    /// waiter reports cancellation: the entry point that every blocking form
    /// runs with the current unit's waiter.
    ///
    /// The result has two layers, as [`try_wait_for`](Signal::try_wait_for)'s does:
    /// the outer one says whether the wait could start
    /// ([`SignalError::AlreadyWaited`] if a wait started before), the inner
    /// one how it ended: `Ok(())` when the signal was set (where `try_wait_for`
    /// says `Ok(true)`), or [`WaitError::TimedOut`] (`Ok(false)`) or
    /// [`WaitError::Cancelled`] when it gave up. Giving up cancels the signal
    /// just as a dropped async wait does, unless a `set()` landed first:
    /// then the wait reports success.
    ///
    /// # Errors
    /// [`SignalError::AlreadyWaited`] if a wait started before.
    ///
    /// ```
    /// use polysync::lowlevel::{Signal, SignalError, ThreadWaiter, WaitError};
    /// use std::time::Instant;
    ///
    /// let signal = Signal::new();
    /// ThreadWaiter::with_current(|w| {
    ///     assert_eq!(signal.wait_with(w, Some(Instant::now())), Ok(Err(WaitError::TimedOut)));
    ///     assert_eq!(signal.wait_with(w, None), Err(SignalError::AlreadyWaited));
    /// });
    /// assert!(signal.is_cancelled());
    ///
    /// let signal = Signal::new();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| signal.set());
    ///     let set = ThreadWaiter::with_current(|w| signal.wait_with(w, None));
    ///     assert_eq!(set, Ok(Ok(())));
    /// });
    /// ```
    pub fn wait_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<Result<(), WaitError>, SignalError> {
        self.claim()?;
        // The withdrawal takes a `set()` that landed before it as success;
        // afterwards the signal is cancelled and no `set()` can land.
        Ok(drive(waiter, pin!(Wait::new(self, ())), deadline).map_err(|(why, ())| why))
    }

    /// The plain blocking forms: `Ok(true)` if the signal was set,
    /// `Ok(false)` on a time-out; a cancelled unit unwinds (see [`blocking`]).
    fn wait_blocking_until(&self, deadline: Option<Instant>) -> Result<bool, SignalError> {
        blocking(|w| match self.wait_with(w, deadline) {
            Ok(Err(why)) => Err(why),
            Ok(Ok(())) => Ok(Ok(())),
            Err(misuse) => Ok(Err(misuse)),
        })
        .map_or(Ok(false), |started| started.map(|()| true))
    }

    fn claim(&self) -> Result<(), SignalError> {
        let mut guard = self.queue.lock();
        if guard.user() & CLAIMED != 0 {
            return Err(SignalError::AlreadyWaited);
        }
        guard.set_user(guard.user() | CLAIMED);
        Ok(())
    }
}

impl Protocol for Signal {
    /// Its one waiter tells the signal nothing...
    type Tag = ();
    /// ...and `set` hands it nothing: being woken is the message.
    type Outcome = ();
    type Slot = ();

    fn queue(&self) -> &WaitQueue {
        &self.queue
    }

    fn try_fast(&self, (): (), _: &()) -> Option<()> {
        self.is_set().then_some(())
    }

    fn arrive_locked(&self, guard: &mut QueueGuard<'_>, (): (), _: &()) -> Result<(), ()> {
        admit_if((), guard.user() & SET != 0)
    }

    fn pass_on(&self, (): (), _: &()) {
        // The signal stays set: nothing to hand on.
    }

    fn cancelled(&self, guard: &mut QueueGuard<'_>, (): ()) {
        guard.set_user(guard.user() | CANCELLED);
    }
}

impl Default for Signal {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signal")
            .field("set", &self.is_set())
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// The future of [`Signal::wait`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct SignalWait<'a> {
    claimed: bool,
    wait: Wait<'a, Signal>,
}

impl Future for SignalWait<'_> {
    type Output = Result<(), SignalError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `wait` is structurally pinned (never moved out of `self`);
        // `claimed` is plain data that is not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        if !this.claimed {
            this.wait.protocol().claim()?;
            this.claimed = true;
        }
        // SAFETY: see above; `this` came from a pinned reference.
        let wait = unsafe { Pin::new_unchecked(&mut this.wait) };
        wait.poll(cx).map(Ok)
    }
}
