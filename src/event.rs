//! [`Event`]: a one-time event that wakes every waiter, of every world.

use crate::lowlevel::queue::{QueueGuard, WaitQueue, WakeList};
use crate::lowlevel::sync::{Ordering, const_fn};
use crate::lowlevel::wait::{Protocol, Wait as RawWait, blocking, drive};
use crate::lowlevel::{WaitError, Waiter, deadline_after};
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

const SET: u64 = 1;

/// A one-time event: once [`set`](Event::set), it stays set, every waiter
/// wakes, and every later wait returns at once. It cannot be cleared.
///
/// Waiters of every kind share it: [`wait`](Event::wait) (async),
/// [`wait_blocking`](Event::wait_blocking), [`try_wait`](Event::try_wait),
/// [`try_wait_for`](Event::try_wait_for), [`try_wait_until`](Event::try_wait_until).
///
/// ```
/// use polysync::Event;
/// use std::sync::Arc;
///
/// let ready = Arc::new(Event::new());
/// let worker = {
///     let ready = ready.clone();
///     std::thread::spawn(move || ready.wait_blocking())
/// };
/// ready.set();
/// worker.join().unwrap();
/// futures_lite::future::block_on(ready.wait()); // returns at once
/// ```
pub struct Event {
    queue: WaitQueue,
}

impl Event {
    const_fn! {
        /// An event that is not set.
        pub fn new() -> Event {
            Event { queue: WaitQueue::new(0) }
        }
    }

    /// Sets the event and wakes all waiters. Returns `true` if this call set
    /// it, `false` if it was set already.
    ///
    /// ```
    /// let e = polysync::Event::new();
    /// assert!(e.set());
    /// assert!(!e.set());
    /// ```
    pub fn set(&self) -> bool {
        match self
            .queue
            .update_if_idle(Ordering::Release, |u| (u & SET == 0).then_some(u | SET))
        {
            Ok(_) => return true,
            Err(u) if u & SET != 0 => return false,
            Err(_) => {}
        }
        let mut guard = self.queue.lock();
        if guard.user() & SET != 0 {
            return false;
        }
        guard.set_user(SET);
        // Wake in batches, never under the lock. Once SET is published no
        // new waiter queues, so the loop ends.
        let mut wakers = WakeList::new();
        loop {
            while !wakers.is_full() {
                match guard.notify_front(0) {
                    Some(waker) => wakers.push(waker),
                    None => break,
                }
            }
            let more = !guard.is_empty();
            drop(guard);
            wakers.wake_all();
            if !more {
                return true;
            }
            guard = self.queue.lock();
        }
    }

    /// Whether the event is set.
    ///
    /// ```
    /// assert!(!polysync::Event::new().is_set());
    /// ```
    #[inline]
    pub fn is_set(&self) -> bool {
        self.queue.user(Ordering::Acquire) & SET != 0
    }

    /// Waits asynchronously until the event is set; cancel-safe.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let e = polysync::Event::new();
    /// e.set();
    /// e.wait().await;
    /// # });
    /// ```
    #[inline]
    pub fn wait(&self) -> Wait<'_> {
        Wait {
            wait: RawWait::new(self, 0),
        }
    }

    /// Blocks the current execution unit until the event is set.
    ///
    /// # Cancellation
    /// If the unit's waiter reports cancellation, the wait is withdrawn and
    /// the unit unwinds through [`Waiter::cancelled`]. The same holds for
    /// every plain blocking form of the crate.
    ///
    /// ```
    /// let e = polysync::Event::new();
    /// e.set();
    /// e.wait_blocking();
    /// ```
    pub fn wait_blocking(&self) {
        blocking(|w| self.wait_with(w, None));
    }

    /// Whether the event is set, without waiting (the `try_` form of `wait`).
    ///
    /// ```
    /// assert!(!polysync::Event::new().try_wait());
    /// ```
    #[inline]
    pub fn try_wait(&self) -> bool {
        self.is_set()
    }

    /// Blocks until the event is set or `timeout` passes; returns whether it is set.
    ///
    /// ```
    /// let e = polysync::Event::new();
    /// assert!(!e.try_wait_for(std::time::Duration::from_millis(1)));
    /// ```
    pub fn try_wait_for(&self, timeout: Duration) -> bool {
        blocking(|w| self.wait_with(w, deadline_after(timeout))).is_some()
    }

    /// Blocks until the event is set or `deadline` passes; returns whether it is set.
    ///
    /// ```
    /// let e = polysync::Event::new();
    /// e.set();
    /// assert!(e.try_wait_until(std::time::Instant::now()));
    /// ```
    pub fn try_wait_until(&self, deadline: Instant) -> bool {
        blocking(|w| self.wait_with(w, Some(deadline))).is_some()
    }

    /// Blocks on `waiter` until the event is set, `deadline` passes or the
    /// waiter reports cancellation: the entry point that every blocking form
    /// runs with the current unit's waiter. Library code that knows its
    /// waiter calls it directly.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] or [`WaitError::Cancelled`]; the wait is
    /// withdrawn either way. A `set()` that lands while the wait gives up
    /// still counts as success.
    ///
    /// ```
    /// use polysync::lowlevel::{ThreadWaiter, WaitError};
    /// use std::time::Instant;
    ///
    /// let e = polysync::Event::new();
    /// ThreadWaiter::with_current(|w| {
    ///     assert_eq!(e.wait_with(w, Some(Instant::now())), Err(WaitError::TimedOut));
    ///     e.set();
    ///     assert_eq!(e.wait_with(w, None), Ok(()));
    /// });
    /// ```
    pub fn wait_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<(), WaitError> {
        if self.is_set() {
            return Ok(());
        }
        match drive(waiter, pin!(RawWait::new(self, 0)), deadline) {
            Ok(()) => Ok(()),
            // Covers a `set()` that lands between the last poll and the
            // withdrawal.
            Err(_) if self.is_set() => Ok(()),
            Err((error, ())) => Err(error),
        }
    }

    /// How many units wait for the event now (a snapshot).
    ///
    /// ```
    /// assert_eq!(polysync::Event::new().waiting(), 0);
    /// ```
    pub fn waiting(&self) -> usize {
        self.queue.len()
    }
}

impl Protocol for Event {
    fn queue(&self) -> &WaitQueue {
        &self.queue
    }

    #[inline]
    fn try_fast(&self, _: usize) -> bool {
        self.is_set()
    }

    fn try_locked(&self, guard: &mut QueueGuard<'_>, _: usize) -> bool {
        guard.user() & SET != 0
    }

    fn pass_on(&self, _: usize) {
        // Everyone was woken; there is nothing to hand on.
    }
}

impl Default for Event {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .field("waiting", &self.waiting())
            .finish()
    }
}

/// The future of [`Event::wait`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct Wait<'a> {
    wait: RawWait<'a, Event>,
}

impl Future for Wait<'_> {
    type Output = ();

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `wait` is structurally pinned: never moved out of `self`.
        unsafe { self.map_unchecked_mut(|this| &mut this.wait) }.poll(cx)
    }
}
