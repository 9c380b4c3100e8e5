//! [`CountdownEvent`]: an event that is set while a counter is at zero.

use crate::lowlevel::queue::{QueueGuard, USER_MAX, WaitQueue};
use crate::lowlevel::sync::{Ordering, const_fn};
use crate::lowlevel::wait::{Protocol, admit_if};
use crate::revent::{Broadcast, Epoch, EpochWait, Round};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

// The user bits of a countdown's queue word: its value, `0..=MAX`, with an
// `Epoch` beside it (as for `REvent`, "set" meaning "the value is 0"):
//
// | value | the event | a new wait                              | reaching it                          |
// |-------|-----------|-----------------------------------------|--------------------------------------|
// | 0     | set       | returns at once                         | `down` to 0 or `clear` starts a round (epoch + 1) that wakes every queued node |
// | > 0   | not set   | queues, its data the epoch at its start | `up` (never wakes anyone)            |
//
// The value changes lock-free while nobody is queued, else under the queue
// lock, where a round starts.

/// A counter that waiters wait on until it reaches zero: the event is *set*
/// while the value is 0.
///
/// [`up`](CountdownEvent::up) raises the value (O(1)), [`down`](CountdownEvent::down)
/// lowers it by one, [`clear`](CountdownEvent::clear) drops it to zero.
/// Waiters of every kind share it: [`wait`](CountdownEvent::wait) (async),
/// [`wait_blocking`](CountdownEvent::wait_blocking),
/// [`try_wait`](CountdownEvent::try_wait),
/// [`try_wait_for`](CountdownEvent::try_wait_for),
/// [`try_wait_until`](CountdownEvent::try_wait_until);
/// [`wait_with`](CountdownEvent::wait_with) takes an explicit waiter.
///
/// # Semantics
///
/// - A wait *starts* when it is called (blocking forms) or first polled
///   (async form); if the value is 0 then, it completes at once.
/// - When the value reaches 0, every wait that started before is woken,
///   even if `up` raises the value again right after. Waits that start
///   after that `up` block until the value reaches 0 again, even while the
///   wake-up of the earlier waiters is still running (it runs in batches).
///   (A wait whose start overlaps an `up` or `down` may fall on either side.)
/// - Dropping a wait future, or a blocking wait that times out or is
///   cancelled, just leaves the queue.
///
/// ```
/// use polysync::countdown::CountdownEvent;
/// use std::sync::Arc;
///
/// let done = Arc::new(CountdownEvent::new(3));
/// let workers: Vec<_> = (0..3)
///     .map(|_| {
///         let done = done.clone();
///         std::thread::spawn(move || {
///             done.down().unwrap();
///         })
///     })
///     .collect();
/// done.wait_blocking(); // until all three are done
/// assert_eq!(done.value(), 0);
/// assert!(done.down().is_err()); // one `down` too many
/// # for w in workers { w.join().unwrap(); }
/// ```
pub struct CountdownEvent {
    /// User bits: the value (see the table above).
    queue: WaitQueue,
    epoch: Epoch,
}

/// [`CountdownEvent::down`] was called while the value was already zero.
///
/// ```
/// use polysync::countdown::{CountdownEvent, TooManyDowns};
/// let c = CountdownEvent::new(0);
/// let err: TooManyDowns = c.down().unwrap_err();
/// assert!(err.to_string().contains("already zero"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TooManyDowns;

impl std::fmt::Display for TooManyDowns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("polysync: CountdownEvent::down() called while the value is already zero")
    }
}

impl std::error::Error for TooManyDowns {}

impl CountdownEvent {
    /// The largest value a countdown holds (2^32 - 1).
    ///
    /// ```
    /// use polysync::countdown::CountdownEvent;
    /// let c = CountdownEvent::new(CountdownEvent::MAX);
    /// assert_eq!(c.value(), u32::MAX as usize);
    /// ```
    pub const MAX: usize = USER_MAX as usize;

    const_fn! {
        /// A countdown starting at `initial` (set if `initial` is 0).
        ///
        /// # Panics
        /// If `initial > CountdownEvent::MAX`.
        ///
        /// ```
        /// static PENDING: polysync::countdown::CountdownEvent =
        ///     polysync::countdown::CountdownEvent::new(2);
        /// assert_eq!(PENDING.value(), 2);
        /// ```
        #[track_caller]
        pub fn new(initial: usize) -> CountdownEvent {
            assert!(initial <= CountdownEvent::MAX, "polysync: CountdownEvent value too large");
            CountdownEvent { queue: WaitQueue::new(initial as u64), epoch: Epoch::new() }
        }
    }

    /// Raises the value by `n` in O(1); `up(0)` does nothing.
    ///
    /// # Panics
    /// If the value would exceed [`CountdownEvent::MAX`] (the value is left
    /// unchanged).
    ///
    /// ```
    /// let c = polysync::countdown::CountdownEvent::new(0);
    /// c.up(2);
    /// assert_eq!(c.value(), 2);
    /// assert!(!c.try_wait());
    /// ```
    #[track_caller]
    pub fn up(&self, n: usize) {
        if n == 0 {
            return;
        }
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        let add = |v: u64| v.checked_add(n).filter(|&v| v <= USER_MAX);
        if self.queue.update_if_idle(Ordering::Release, add).is_ok() {
            return;
        }
        let mut guard = self.queue.lock();
        match add(guard.user()) {
            Some(v) => guard.set_user(v),
            None => {
                drop(guard);
                overflow();
            }
        }
    }

    /// Lowers the value by one and returns the new value; reaching zero
    /// wakes every waiter.
    ///
    /// # Errors
    /// [`TooManyDowns`], changing nothing, if the value is already zero.
    ///
    /// ```
    /// let c = polysync::countdown::CountdownEvent::new(2);
    /// assert_eq!(c.down(), Ok(1));
    /// assert_eq!(c.down(), Ok(0));
    /// assert_eq!(c.down(), Err(polysync::countdown::TooManyDowns));
    /// ```
    pub fn down(&self) -> Result<usize, TooManyDowns> {
        match self
            .queue
            .update_if_idle(Ordering::Release, |v| v.checked_sub(1))
        {
            Ok(old) => return Ok(old as usize - 1),
            Err(0) => return Err(TooManyDowns),
            Err(_) => {}
        }
        let mut guard = self.queue.lock();
        let Some(v) = guard.user().checked_sub(1) else {
            return Err(TooManyDowns);
        };
        guard.set_user(v);
        if v == 0 {
            self.epoch.wake_round(&self.queue, guard);
        }
        Ok(v as usize)
    }

    /// Drops the value to zero at once, waking every waiter. Returns the
    /// value it had.
    ///
    /// ```
    /// let c = polysync::countdown::CountdownEvent::new(5);
    /// assert_eq!(c.clear(), 5);
    /// assert!(c.try_wait());
    /// ```
    pub fn clear(&self) -> usize {
        match self
            .queue
            .update_if_idle(Ordering::Release, |v| (v != 0).then_some(0))
        {
            Ok(old) => return old as usize,
            Err(0) => return 0,
            Err(_) => {}
        }
        let mut guard = self.queue.lock();
        let old = guard.user();
        if old != 0 {
            guard.set_user(0);
            self.epoch.wake_round(&self.queue, guard);
        }
        old as usize
    }

    /// The value now (a snapshot).
    ///
    /// ```
    /// assert_eq!(polysync::countdown::CountdownEvent::new(4).value(), 4);
    /// ```
    #[inline]
    pub fn value(&self) -> usize {
        self.queue.user(Ordering::Acquire) as usize
    }

    crate::event::event_wait_forms! {
        future: Wait,
        ready: is_zero,
        start: wait_start,

        /// Waits asynchronously until the value is zero; the wait starts at the
        /// first poll.
        ///
        /// # Cancel safety
        /// Dropping the future loses nothing: the wait just leaves the queue,
        /// and other waiters are unaffected (reaching zero is never
        /// consumed: it wakes every wait that started before).
        ///
        /// ```
        /// # futures_lite::future::block_on(async {
        /// let c = polysync::countdown::CountdownEvent::new(1);
        /// c.down().unwrap();
        /// c.wait().await;
        /// # });
        /// ```
        fn wait;

        /// Blocks the current execution unit until the value is zero (or its
        /// reaching zero woke this wait, even if it went up again right after).
        ///
        /// # Cancellation
        /// If the unit's waiter reports cancellation, the wait is withdrawn and
        /// the unit unwinds through
        /// [`Waiter::cancelled`](crate::lowlevel::Waiter::cancelled); the same
        /// holds for `try_wait_for` and `try_wait_until`.
        ///
        /// ```
        /// let c = polysync::countdown::CountdownEvent::new(0);
        /// c.wait_blocking();
        /// ```
        fn wait_blocking;

        /// Whether the value is zero, without waiting (the `try_` form of `wait`).
        ///
        /// ```
        /// let c = polysync::countdown::CountdownEvent::new(1);
        /// assert!(!c.try_wait());
        /// c.down().unwrap();
        /// assert!(c.try_wait());
        /// ```
        fn try_wait;

        /// Blocks until the value is zero or `timeout` passes. Returns `true` if
        /// the value was zero or its reaching zero woke this wait.
        ///
        /// ```
        /// let c = polysync::countdown::CountdownEvent::new(1);
        /// assert!(!c.try_wait_for(std::time::Duration::from_millis(1)));
        /// assert_eq!(c.waiting(), 0);
        /// ```
        fn try_wait_for;

        /// Blocks until the value is zero or `deadline` passes. Returns `true` if
        /// the value was zero or its reaching zero woke this wait.
        ///
        /// ```
        /// let c = polysync::countdown::CountdownEvent::new(0);
        /// assert!(c.try_wait_until(std::time::Instant::now()));
        /// ```
        fn try_wait_until;

        /// Blocks on `waiter` until the value is zero (or its reaching zero
        /// woke this wait), `deadline` passes or the waiter reports
        /// cancellation: the entry point that every blocking form runs with
        /// the current unit's waiter. The wait starts when called.
        ///
        /// # Errors
        /// [`WaitError::TimedOut`](crate::lowlevel::WaitError::TimedOut) or
        /// [`WaitError::Cancelled`](crate::lowlevel::WaitError::Cancelled);
        /// the wait is withdrawn either way. A wait that gives up still
        /// succeeds if the value is zero by then, or if it reached zero since
        /// the wait started (even if it went up again).
        ///
        /// ```
        /// use polysync::countdown::CountdownEvent;
        /// use polysync::lowlevel::{ThreadWaiter, WaitError};
        /// use std::time::Instant;
        ///
        /// let c = CountdownEvent::new(1);
        /// ThreadWaiter::with_current(|w| {
        ///     assert_eq!(c.wait_with(w, Some(Instant::now())), Err(WaitError::TimedOut));
        ///     c.down().unwrap();
        ///     assert_eq!(c.wait_with(w, None), Ok(()));
        /// });
        /// ```
        fn wait_with;
    }

    /// Whether the value is zero (the event is set).
    #[inline]
    fn is_zero(&self) -> bool {
        self.value() == 0
    }

    /// The data of a wait's node: the epoch when it starts.
    #[inline]
    fn wait_start(&self) -> Round {
        self.epoch.snapshot()
    }

    /// How many units wait for zero now (a snapshot).
    ///
    /// ```
    /// assert_eq!(polysync::countdown::CountdownEvent::new(1).waiting(), 0);
    /// ```
    #[inline]
    pub fn waiting(&self) -> usize {
        self.queue.len()
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn overflow() -> ! {
    panic!("polysync: CountdownEvent::up would exceed CountdownEvent::MAX")
}

impl Protocol for CountdownEvent {
    /// The round the wait started in.
    type Tag = Round;
    /// The same round, left in place by the round that wakes it.
    type Outcome = Round;
    type Slot = ();

    fn queue(&self) -> &WaitQueue {
        &self.queue
    }

    #[inline]
    fn try_fast(&self, start: Round, _: &()) -> Option<Round> {
        self.is_zero().then_some(start)
    }

    fn arrive_locked(
        &self,
        guard: &mut QueueGuard<'_>,
        start: Round,
        _: &(),
    ) -> Result<Round, Round> {
        admit_if(start, guard.user() == 0 || self.epoch.moved(guard, start))
    }

    fn pass_on(&self, _: Round, _: &()) {
        // A wake-up round wakes everyone it concerns: nothing to hand on.
    }
}

impl Broadcast for CountdownEvent {
    #[inline]
    fn epoch(&self) -> &Epoch {
        &self.epoch
    }
}

impl Default for CountdownEvent {
    /// A countdown at zero (set).
    fn default() -> Self {
        Self::new(0)
    }
}

impl std::fmt::Debug for CountdownEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CountdownEvent")
            .field("value", &self.value())
            .field("waiting", &self.waiting())
            .finish()
    }
}

/// The future of [`CountdownEvent::wait`]. Its `Debug` shows whether the
/// wait has started (been polled) and whether it is queued.
///
/// ```
/// use std::task::{Context, Poll, Waker};
/// let c = polysync::countdown::CountdownEvent::new(1);
/// let mut wait = Box::pin(c.wait());
/// let mut cx = Context::from_waker(Waker::noop());
/// assert!(wait.as_mut().poll(&mut cx).is_pending());
/// c.down().unwrap();
/// c.up(1); // too late to hold back a waiter that was woken
/// assert_eq!(wait.as_mut().poll(&mut cx), Poll::Ready(()));
/// ```
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct Wait<'a> {
    /// Structurally pinned.
    wait: EpochWait<'a, CountdownEvent>,
}

impl<'a> Wait<'a> {
    #[inline]
    fn new(countdown: &'a CountdownEvent) -> Self {
        Wait {
            wait: EpochWait::new(countdown),
        }
    }
}

impl Future for Wait<'_> {
    type Output = ();

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `wait` is structurally pinned: never moved out of `self`.
        unsafe { self.map_unchecked_mut(|this| &mut this.wait) }.poll(cx)
    }
}
