//! A one-shot signal: set once, waited on once, blocking or async.

use super::queue::{QueueGuard, WaitQueue, WakeList};
use super::sync::{Ordering, const_fn};
use super::wait::{Protocol, Wait};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

const SET: u64 = 1;
const CANCELLED: u64 = 2;
const CLAIMED: u64 = 4;

/// A one-shot, race-free signal between one waiter and any number of setters.
///
/// - [`set`](Signal::set) returns `true` for exactly one caller, and only if the
///   waiter has not given up.
/// - It can be waited on once, in any world: [`wait`](Signal::wait) (async),
///   [`wait_blocking`](Signal::wait_blocking), [`wait_for`](Signal::wait_for),
///   [`wait_until`](Signal::wait_until). A second wait is a
///   [`SignalError::AlreadyWaited`].
/// - A wait that times out or is dropped before the signal is set cancels the
///   signal: [`is_cancelled`](Signal::is_cancelled) becomes `true` and later
///   `set()` calls return `false`. If a `set()` wins that race, the signal
///   counts as set and the timed wait reports success.
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
        if let Some(waker) = guard.notify_front(0) {
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

    /// Waits asynchronously until the signal is set. Dropping the future
    /// after its first poll cancels the signal (unless it was set already).
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
            wait: Wait::new(self, 0),
        }
    }

    /// Blocks the current execution unit until the signal is set.
    ///
    /// # Errors
    /// [`SignalError::AlreadyWaited`] if a wait started before.
    pub fn wait_blocking(&self) -> Result<(), SignalError> {
        self.wait_until_inner(None).map(|_| ())
    }

    /// Blocks until the signal is set or `timeout` passes; `Ok(false)` on
    /// timeout, after which the signal is cancelled.
    ///
    /// ```
    /// use std::time::Duration;
    /// let signal = polysync::lowlevel::Signal::new();
    /// assert_eq!(signal.wait_for(Duration::from_millis(1)), Ok(false));
    /// assert!(signal.is_cancelled());
    /// assert!(!signal.set());
    /// ```
    ///
    /// # Errors
    /// [`SignalError::AlreadyWaited`] if a wait started before.
    pub fn wait_for(&self, timeout: Duration) -> Result<bool, SignalError> {
        self.wait_until_inner(super::deadline_after(timeout))
    }

    /// Like [`wait_for`](Signal::wait_for) with a deadline.
    ///
    /// # Errors
    /// [`SignalError::AlreadyWaited`] if a wait started before.
    pub fn wait_until(&self, deadline: Instant) -> Result<bool, SignalError> {
        self.wait_until_inner(Some(deadline))
    }

    fn wait_until_inner(&self, deadline: Option<Instant>) -> Result<bool, SignalError> {
        match super::block_on(self.wait(), deadline) {
            Some(result) => result.map(|()| true),
            // The deadline passed and the wait was withdrawn: that cancelled
            // the signal, unless a `set()` got in between the last poll and
            // the withdrawal, in which case the signal counts as set.
            None => Ok(!self.is_cancelled()),
        }
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
    fn queue(&self) -> &WaitQueue {
        &self.queue
    }

    fn try_fast(&self, _: usize) -> bool {
        self.is_set()
    }

    fn try_locked(&self, guard: &mut QueueGuard<'_>, _: usize) -> bool {
        guard.user() & SET != 0
    }

    fn pass_on(&self, _: usize) {
        // The signal stays set: nothing to hand on.
    }

    fn cancelled(&self, guard: &mut QueueGuard<'_>, _: usize) {
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
