//! [`REvent`]: a reusable event that can be set and cleared again, waited on
//! by every world at once.
//!
//! This module also holds the machinery that [`REvent`] and
//! [`CountdownEvent`](crate::countdown::CountdownEvent) share: an *epoch*
//! that tells the waiters of one wake-up round from those that queued after
//! it, so that a round woken in batches never wakes a waiter that arrived
//! after the event was cleared again.

use crate::lowlevel::queue::{Batch, NodeData, QueueGuard, WaitQueue, wake_in_batches};
use crate::lowlevel::sync::{AtomicU64, Ordering, const_fn};
use crate::lowlevel::wait::{Protocol, Wait as RawWait, admit_if};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

// The user bits of an `REvent`'s queue word, with the `Epoch` beside it:
//
// | SET | the event | a new wait                              | `set()`                                   | `clear()`   |
// |-----|-----------|-----------------------------------------|-------------------------------------------|-------------|
// | 0   | clear     | queues, its data the epoch at its start | sets SET; if nodes are queued, starts a round (epoch + 1) that wakes them | `false` |
// | 1   | set       | returns at once                         | `false`                                   | clears SET  |
//
// SET changes lock-free while nobody is queued, else under the queue lock.
// A queued node whose data differs from the epoch was reached by a round:
// it counts as woken even if SET was cleared since (see `Epoch`).
const SET: u64 = 1;

/// The wake-up round counter of a broadcast event.
///
/// - It advances only under the queue lock, and only when a round of
///   waiters is woken (the condition became true while nodes were queued).
/// - A waiter reads it when its wait starts (first poll) and keeps the value
///   as its node's data. Under the lock, just before queueing, it checks that
///   no round started since: if one did, that round began after the wait
///   began, so the wait completes at once (as if woken by it). Hence every
///   queued node's data equals the epoch at the time it was queued, and the
///   queue is sorted by epoch.
/// - A round started at epoch `e` wakes, from the front, exactly the nodes
///   whose data is not `e`: those queued before it. The lock is released
///   between batches (see [`wake_in_batches`]); nodes queued meanwhile carry
///   `e` and stay queued. If, at a batch boundary, the epoch has moved on, a
///   newer round owns the rest of the queue (it wakes everything older than
///   itself) and the older round stops.
///
/// A wrap-around would need 2^64 rounds (2^32 on 32-bit targets, where node
/// data is a `usize`) while one node stays queued and unreached; each round
/// reaches at least one batch of nodes, so this cannot happen.
pub(crate) struct Epoch(AtomicU64);

/// The node data of a broadcast wait ([`REvent`], [`CountdownEvent`](crate::CountdownEvent),
/// a queue's `join`): the [`Epoch`] at the moment the wait started, truncated
/// to a `usize`. Written by the waiter when it starts; read by a wake-up
/// round at the front of the queue (nodes of an older round are woken, see
/// `Epoch`) and by the waiter's check under the lock; a round leaves it in
/// place (`notify_front_keep`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Round(usize);

/// The word is the round itself.
impl NodeData for Round {
    #[inline]
    fn into_raw(self) -> usize {
        self.0
    }

    #[inline]
    fn from_raw(raw: usize) -> Round {
        Round(raw)
    }
}

impl Epoch {
    const_fn! {
        pub(crate) fn new() -> Epoch {
            Epoch(AtomicU64::new(0))
        }
    }

    /// The epoch as a waiter sees it when its wait starts (its node's data).
    /// `Relaxed` is enough: a stale value only makes the wait complete at its
    /// check under the lock, and a wait that starts after a round (in
    /// happens-before order) sees that round's epoch by coherence.
    #[inline]
    pub(crate) fn snapshot(&self) -> Round {
        Round(self.0.load(Ordering::Relaxed) as usize)
    }

    /// Under the queue lock: whether a round started since `start` was taken.
    #[inline]
    pub(crate) fn moved(&self, _guard: &QueueGuard<'_>, start: Round) -> bool {
        // Written only under the lock we hold: this load is exact.
        self.0.load(Ordering::Relaxed) as usize != start.0
    }

    /// Starts a wake-up round: wakes every node queued now, in batches,
    /// never under the lock. The caller has already made the condition true
    /// in `guard`'s user bits; it is published when the first batch is.
    pub(crate) fn wake_round<'a>(&self, queue: &'a WaitQueue, guard: QueueGuard<'a>) {
        if guard.is_empty() {
            return;
        }
        let now = self.0.load(Ordering::Relaxed).wrapping_add(1);
        self.0.store(now, Ordering::Relaxed);
        let mine = Round(now as usize);
        wake_in_batches(queue, Some(guard), |guard, wakers| {
            if self.0.load(Ordering::Relaxed) != now {
                // A newer round started (between two batches; never before
                // the first, which runs under the lock that set `now`): it
                // wakes all that is left of ours.
                return Batch::Last;
            }
            while !wakers.is_full() && older_front(guard, mine) {
                wakers.push(guard.notify_front_keep().expect("front is queued"));
            }
            Batch::more_if(older_front(guard, mine))
        });
    }

    fn value(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Whether the oldest queued node belongs to a round before `mine`.
#[inline]
fn older_front(guard: &QueueGuard<'_>, mine: Round) -> bool {
    guard
        .front()
        .is_some_and(|node| node.data::<Round>() != mine)
}

/// A primitive whose waiters are woken in [`Epoch`] rounds.
pub(crate) trait Broadcast: Protocol<Tag = Round, Slot = ()> {
    fn epoch(&self) -> &Epoch;
}

/// The wait future shared by the broadcast events: its node is made on the
/// first poll, with the epoch of that moment as its data, so "when the wait
/// started" means "when it was first polled" for every kind of waiter.
pub(crate) struct EpochWait<'a, P: Broadcast> {
    proto: &'a P,
    /// Structurally pinned once `Some`; never moved out.
    raw: Option<RawWait<'a, P>>,
}

impl<'a, P: Broadcast> EpochWait<'a, P> {
    #[inline]
    pub(crate) fn new(proto: &'a P) -> Self {
        Self { proto, raw: None }
    }

    pub(crate) fn is_queued(&self) -> bool {
        self.raw.as_ref().is_some_and(RawWait::is_queued)
    }
}

impl<P: Broadcast> Future for EpochWait<'_, P> {
    type Output = ();

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `raw` is structurally pinned: it is written only while it
        // is `None` (nothing pinned there yet) and never moved out; `proto`
        // is a plain reference.
        let this = unsafe { self.get_unchecked_mut() };
        let raw = match &mut this.raw {
            Some(raw) => raw,
            slot @ None => slot.insert(RawWait::new(this.proto, this.proto.epoch().snapshot())),
        };
        // SAFETY: see above; `this` came from a pinned reference.
        unsafe { Pin::new_unchecked(raw) }.poll(cx)
    }
}

impl<P: Broadcast> std::fmt::Debug for EpochWait<'_, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wait")
            .field("started", &self.raw.is_some())
            .field("queued", &self.is_queued())
            .finish()
    }
}

/// A reusable event: [`set`](REvent::set) wakes everyone waiting,
/// [`clear`](REvent::clear) makes later waits block again.
///
/// Waiters of every kind share it: [`wait`](REvent::wait) (async),
/// [`wait_blocking`](REvent::wait_blocking), [`try_wait`](REvent::try_wait),
/// [`try_wait_for`](REvent::try_wait_for),
/// [`try_wait_until`](REvent::try_wait_until); [`wait_with`](REvent::wait_with)
/// takes an explicit waiter.
///
/// # Semantics
///
/// - A wait *starts* when it is called (blocking forms) or first polled
///   (async form). If the event is set then, it completes at once.
/// - `set()` wakes exactly the waits that started before it. They complete
///   even if `clear()` follows at once: `set(); clear();` is a pulse that
///   releases everyone waiting and nobody else. (A wait whose start overlaps
///   a `set` or `clear` in time may fall on either side.)
/// - A wait that starts after `clear()` blocks until the next `set()`, even
///   while the wake-up of an earlier `set()` is still running (waiters are
///   woken in batches).
/// - A wait future that was created but not polled yet has not started: it
///   is not woken by a `set(); clear();` that happens before its first poll.
/// - Dropping a wait future, or a blocking wait that times out or is
///   cancelled, just leaves the queue; other waiters are unaffected.
///
/// ```
/// use polysync::revent::REvent;
/// use std::sync::Arc;
///
/// let event = Arc::new(REvent::new());
/// let worker = {
///     let event = event.clone();
///     std::thread::spawn(move || event.wait_blocking())
/// };
/// while event.waiting() == 0 {
///     std::thread::yield_now();
/// }
/// event.set();
/// event.clear(); // the worker, waiting before the set, still wakes
/// worker.join().unwrap();
/// assert!(!event.try_wait_for(std::time::Duration::from_millis(1)));
/// ```
pub struct REvent {
    /// User bits: `SET` (see the table above), with `epoch` beside it.
    queue: WaitQueue,
    epoch: Epoch,
}

impl REvent {
    const_fn! {
        /// An event that is not set.
        ///
        /// ```
        /// static EVENT: polysync::revent::REvent = polysync::revent::REvent::new();
        /// assert!(!EVENT.is_set());
        /// ```
        pub fn new() -> REvent {
            REvent { queue: WaitQueue::new(0), epoch: Epoch::new() }
        }
    }

    const_fn! {
        /// An event that is set if `set` is true.
        ///
        /// ```
        /// assert!(polysync::revent::REvent::with_state(true).is_set());
        /// ```
        pub fn with_state(set: bool) -> REvent {
            REvent { queue: WaitQueue::new(set as u64), epoch: Epoch::new() }
        }
    }

    /// Sets the event and wakes every wait that started before. Returns
    /// `true` if this call set it, `false` if it was set already.
    ///
    /// ```
    /// let e = polysync::revent::REvent::new();
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
        guard.set_user(guard.user() | SET);
        self.epoch.wake_round(&self.queue, guard);
        true
    }

    /// Clears the event: waits that start from now on block until the next
    /// [`set`](REvent::set). Waits already woken by an earlier `set` still
    /// complete. Returns `true` if this call cleared it.
    ///
    /// ```
    /// let e = polysync::revent::REvent::with_state(true);
    /// assert!(e.clear());
    /// assert!(!e.is_set());
    /// assert!(!e.clear());
    /// ```
    pub fn clear(&self) -> bool {
        if !self.is_set() {
            return false;
        }
        match self
            .queue
            .update_if_idle(Ordering::Release, |u| (u & SET != 0).then_some(u & !SET))
        {
            Ok(_) => return true,
            Err(u) if u & SET == 0 => return false,
            Err(_) => {}
        }
        let mut guard = self.queue.lock();
        if guard.user() & SET == 0 {
            return false;
        }
        guard.set_user(guard.user() & !SET);
        true
    }

    /// Whether the event is set.
    ///
    /// ```
    /// assert!(!polysync::revent::REvent::new().is_set());
    /// ```
    #[inline]
    pub fn is_set(&self) -> bool {
        self.queue.user(Ordering::Acquire) & SET != 0
    }

    crate::event::event_wait_forms! {
        future: Wait,
        ready: is_set,
        start: wait_start,

        /// Waits asynchronously until the event is set; the wait starts at the
        /// first poll.
        ///
        /// # Cancel safety
        /// Dropping the future loses nothing: the wait just leaves the queue,
        /// and other waiters are unaffected (a `set()` is never consumed: it
        /// wakes every wait that started before it).
        ///
        /// ```
        /// # futures_lite::future::block_on(async {
        /// let e = polysync::revent::REvent::new();
        /// e.set();
        /// e.wait().await;
        /// # });
        /// ```
        fn wait;

        /// Blocks the current execution unit until the event is set (or a `set`
        /// wakes it, even if the event was cleared again right after).
        ///
        /// # Cancellation
        /// If the unit's waiter reports cancellation, the wait is withdrawn and
        /// the unit unwinds through [`Waiter::cancelled`](crate::lowlevel::Waiter::cancelled); the same holds for
        /// `try_wait_for` and `try_wait_until`.
        ///
        /// ```
        /// let e = polysync::revent::REvent::with_state(true);
        /// e.wait_blocking();
        /// ```
        fn wait_blocking;

        /// Whether the event is set, without waiting (the `try_` form of `wait`).
        ///
        /// ```
        /// let e = polysync::revent::REvent::new();
        /// assert!(!e.try_wait());
        /// e.set();
        /// assert!(e.try_wait());
        /// ```
        fn try_wait;

        /// Blocks until the event is set or `timeout` passes. Returns `true` if
        /// the event was set or a `set` woke this wait.
        ///
        /// ```
        /// let e = polysync::revent::REvent::new();
        /// assert!(!e.try_wait_for(std::time::Duration::from_millis(1)));
        /// assert_eq!(e.waiting(), 0);
        /// ```
        fn try_wait_for;

        /// Blocks until the event is set or `deadline` passes. Returns `true` if
        /// the event was set or a `set` woke this wait.
        ///
        /// ```
        /// let e = polysync::revent::REvent::with_state(true);
        /// assert!(e.try_wait_until(std::time::Instant::now()));
        /// ```
        fn try_wait_until;

        /// Blocks on `waiter` until the event is set (or a `set` wakes this
        /// wait), `deadline` passes or the waiter reports cancellation: the
        /// entry point that every blocking form runs with the current unit's
        /// waiter. The wait starts when called.
        ///
        /// # Errors
        /// [`WaitError::TimedOut`](crate::lowlevel::WaitError::TimedOut) or
        /// [`WaitError::Cancelled`](crate::lowlevel::WaitError::Cancelled); the wait is
        /// withdrawn either way. A wait that gives up still succeeds if the
        /// event is set by then, or if a `set` happened since the wait
        /// started (even if `clear` followed).
        ///
        /// ```
        /// use polysync::lowlevel::{ThreadWaiter, WaitError};
        /// use polysync::revent::REvent;
        /// use std::time::Instant;
        ///
        /// let e = REvent::new();
        /// ThreadWaiter::with_current(|w| {
        ///     assert_eq!(e.wait_with(w, Some(Instant::now())), Err(WaitError::TimedOut));
        ///     e.set();
        ///     assert_eq!(e.wait_with(w, None), Ok(()));
        /// });
        /// assert_eq!(e.waiting(), 0);
        /// ```
        fn wait_with;
    }

    /// The data of a wait's node: the epoch when it starts.
    #[inline]
    fn wait_start(&self) -> Round {
        self.epoch.snapshot()
    }

    /// How many units wait for the event now (a snapshot).
    ///
    /// ```
    /// assert_eq!(polysync::revent::REvent::new().waiting(), 0);
    /// ```
    #[inline]
    pub fn waiting(&self) -> usize {
        self.queue.len()
    }
}

impl Protocol for REvent {
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
        self.is_set().then_some(start)
    }

    fn arrive_locked(
        &self,
        guard: &mut QueueGuard<'_>,
        start: Round,
        _: &(),
    ) -> Result<Round, Round> {
        admit_if(start, {
            guard.user() & SET != 0 || self.epoch.moved(guard, start)
        })
    }

    fn pass_on(&self, _: Round, _: &()) {
        // A wake-up round wakes everyone it concerns: nothing to hand on.
    }
}

impl Broadcast for REvent {
    #[inline]
    fn epoch(&self) -> &Epoch {
        &self.epoch
    }
}

impl Default for REvent {
    /// An event that is not set.
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for REvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("REvent")
            .field("set", &self.is_set())
            .field("waiting", &self.waiting())
            .field("rounds", &self.epoch.value())
            .finish()
    }
}

/// The future of [`REvent::wait`]. Its `Debug` shows whether the wait has
/// started (been polled) and whether it is queued.
///
/// ```
/// use std::task::{Context, Poll, Waker};
/// let e = polysync::revent::REvent::new();
/// let mut wait = Box::pin(e.wait());
/// let mut cx = Context::from_waker(Waker::noop());
/// assert!(wait.as_mut().poll(&mut cx).is_pending());
/// assert_eq!(e.waiting(), 1);
/// e.set();
/// e.clear();
/// assert_eq!(wait.as_mut().poll(&mut cx), Poll::Ready(()));
/// ```
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct Wait<'a> {
    /// Structurally pinned.
    wait: EpochWait<'a, REvent>,
}

impl<'a> Wait<'a> {
    #[inline]
    fn new(event: &'a REvent) -> Self {
        Wait {
            wait: EpochWait::new(event),
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
