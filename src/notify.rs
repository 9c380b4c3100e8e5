//! [`Notify`]: tokio's `Notify` for every world: a task, a thread or a
//! green thread waits to be notified; [`notify_one`](Notify::notify_one)
//! wakes one waiter or stores one permit, and
//! [`notify_waiters`](Notify::notify_waiters) wakes everyone waiting now.
//!
//! No existing primitive has exactly these semantics: an [`Event`](crate::Event)
//! stays set, a [`BinarySemaphore`](crate::BinarySemaphore) has the permit
//! but no "wake those waiting now, store nothing", and a
//! [`REvent`](crate::REvent)'s `set` + `clear` would let a waiter that
//! arrives between the two through. So `Notify` is its own small protocol
//! over the core wait queue.

use crate::lowlevel::queue::{Batch, NodeData, QueueGuard, WaitQueue, wake_in_batches};
use crate::lowlevel::sync::{Ordering, const_fn, fence};
use crate::lowlevel::wait::{Protocol, Wait as RawWait, blocking, drive};
use crate::lowlevel::{WaitError, Waiter, deadline_after};
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

// The user bits of a notify's queue word (32 bits):
//
// | bits  | name   | meaning                                                  |
// |-------|--------|----------------------------------------------------------|
// | 0     | PERMIT | a `notify_one` that found no waiter is stored (at most 1) |
// | 1..32 | epoch  | how many `notify_waiters` calls there were (wrapping)     |
//
// Invariant under the lock: PERMIT set => no waiter of the current epoch is
// queued (a waiter that arrives takes the permit instead of queueing, and a
// `notify_one` that finds a waiter wakes it instead of storing).
//
// Queued nodes carry the epoch they queued in (their tag). Nodes queue in
// epoch order, so those of older epochs (woken by a `notify_waiters` that is
// still working through its batches) are all at the front. A future
// records the epoch when it is created; if the epoch has moved by its first
// poll, a `notify_waiters` came after its creation and it completes at
// once (tokio's rule: a `Notified` receives `notify_waiters` from the
// moment it is created, polled or not).
const PERMIT: u64 = 1;
const EPOCH_SHIFT: u32 = 1;
const EPOCH_MASK: u32 = u32::MAX >> EPOCH_SHIFT;

/// A notify's epoch: the number of `notify_waiters` calls, modulo 2^31. A
/// node's tag: the epoch its wait started in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Epoch(u32);

impl Epoch {
    #[inline]
    fn of(user: u64) -> Epoch {
        Epoch((user >> EPOCH_SHIFT) as u32 & EPOCH_MASK)
    }

    /// The user bits with the epoch moved on by one (PERMIT kept).
    #[inline]
    fn bump(user: u64) -> u64 {
        let next = (Epoch::of(user).0.wrapping_add(1) & EPOCH_MASK) as u64;
        (user & PERMIT) | (next << EPOCH_SHIFT)
    }

    /// Whether a node tagged `self` started before the epoch `now` (within
    /// half the epoch space: nodes queued more than 2^30 `notify_waiters`
    /// calls ago cannot be queued still, each of those calls woke them).
    #[inline]
    fn before(self, now: Epoch) -> bool {
        let behind = now.0.wrapping_sub(self.0) & EPOCH_MASK;
        behind != 0 && behind <= EPOCH_MASK / 2
    }
}

/// A node's tag: the epoch, stored as its word.
impl NodeData for Epoch {
    #[inline]
    fn into_raw(self) -> usize {
        self.0 as usize
    }

    #[inline]
    fn from_raw(raw: usize) -> Epoch {
        Epoch(raw as u32)
    }
}

/// What completed a wait (a node's outcome).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woken {
    /// A `notify_one` (or the stored permit): passed on (to the oldest
    /// waiter) if the waiter gives up before consuming it.
    One,
    /// A `notify_last`: passed on to the newest waiter, likewise.
    Last,
    /// A `notify_waiters`: nothing to pass on.
    All,
}

/// A node's outcome: `One` is 0, `All` is 1, `Last` is 2.
impl NodeData for Woken {
    #[inline]
    fn into_raw(self) -> usize {
        match self {
            Woken::One => 0,
            Woken::All => 1,
            Woken::Last => 2,
        }
    }

    #[inline]
    fn from_raw(raw: usize) -> Woken {
        match raw {
            0 => Woken::One,
            1 => Woken::All,
            _ => Woken::Last,
        }
    }
}

/// Notifies one waiter, or every waiter waiting now, in any world: tokio's
/// `Notify` semantics, with the five wait forms of the crate.
///
/// - [`notify_one`](Notify::notify_one) wakes the oldest waiter; if nobody
///   waits, it stores **one** permit (more calls store nothing more), which
///   the next wait consumes at once.
/// - [`notify_last`](Notify::notify_last) is the same, waking the newest
///   waiter.
/// - [`notify_waiters`](Notify::notify_waiters) wakes every wait that
///   exists now (a [`Notified`] future counts from its creation, even if not
///   polled yet) and stores nothing.
///
/// Waits: [`notified`](Notify::notified) (async, with tokio's
/// [`Notified::enable`]), [`notified_blocking`](Notify::notified_blocking),
/// [`try_notified`](Notify::try_notified) (takes a stored permit),
/// [`try_notified_for`](Notify::try_notified_for),
/// [`try_notified_until`](Notify::try_notified_until) and
/// [`notified_with`](Notify::notified_with).
///
/// ```
/// use polysync::Notify;
/// use std::sync::Arc;
///
/// let notify = Arc::new(Notify::new());
/// let thread = {
///     let notify = notify.clone();
///     std::thread::spawn(move || notify.notified_blocking())
/// };
/// notify.notify_one(); // wakes the thread, or leaves it a permit
/// thread.join().unwrap();
///
/// notify.notify_one(); // nobody waits: stored
/// futures_lite::future::block_on(notify.notified()); // consumes it at once
/// ```
pub struct Notify {
    /// User bits: `PERMIT` and the epoch (see the table above). The epoch
    /// moves only under the lock or lock-free while nobody is queued;
    /// PERMIT is set and cleared likewise.
    queue: WaitQueue,
}

impl Notify {
    const_fn! {
        /// A notify with no permit stored.
        ///
        /// ```
        /// static NOTIFY: polysync::Notify = polysync::Notify::new();
        /// assert!(!NOTIFY.try_notified());
        /// ```
        pub fn new() -> Notify {
            Notify { queue: WaitQueue::new(0) }
        }
    }

    /// Wakes the oldest waiter, or, if nobody waits, stores one permit
    /// (at most one: a second `notify_one` with nobody waiting adds
    /// nothing). Never blocks.
    ///
    /// ```
    /// let notify = polysync::Notify::new();
    /// notify.notify_one();
    /// notify.notify_one();
    /// assert!(notify.try_notified());
    /// assert!(!notify.try_notified()); // one permit, not two
    /// ```
    pub fn notify_one(&self) {
        // Nobody queued: store the permit (a Release CAS even if it is
        // there already, so that the consumer sees this call's writes).
        if self
            .queue
            .update_if_idle(Ordering::Release, |u| Some(u | PERMIT))
            .is_ok()
        {
            return;
        }
        self.notify_slow(Woken::One, |guard| {
            let now = Epoch::of(guard.user());
            // Skip the nodes of older epochs: a `notify_waiters` still
            // working through its batches wakes them.
            guard
                .waiting()
                .find(|w| w.data::<Epoch>() == now)
                .map(|w| w.node())
        });
    }

    /// Like [`notify_one`](Notify::notify_one), but wakes the newest waiter
    /// (tokio's `notify_last`; a waiter that drops the notification
    /// unconsumed passes it on to the newest waiter too). Finding it walks the queue under its lock
    /// (O(waiters)).
    ///
    /// ```
    /// let notify = polysync::Notify::new();
    /// notify.notify_last(); // nobody waits: stored
    /// assert!(notify.try_notified());
    /// ```
    pub fn notify_last(&self) {
        if self
            .queue
            .update_if_idle(Ordering::Release, |u| Some(u | PERMIT))
            .is_ok()
        {
            return;
        }
        self.notify_slow(Woken::Last, |guard| {
            let now = Epoch::of(guard.user());
            guard
                .waiting()
                .filter(|w| w.data::<Epoch>() == now)
                .last()
                .map(|w| w.node())
        });
    }

    /// The locked half of `notify_one`/`notify_last`: wakes the node `pick`
    /// chooses, or stores the permit.
    #[cold]
    fn notify_slow(
        &self,
        how: Woken,
        pick: impl FnOnce(&QueueGuard<'_>) -> Option<*const crate::lowlevel::queue::Node>,
    ) {
        let mut guard = self.queue.lock();
        match pick(&guard) {
            Some(node) => {
                // SAFETY: `pick` found the node WAITING in this queue under
                // this guard, which is still held.
                let waker = unsafe { guard.notify_waiting(node, how) };
                drop(guard);
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
            None => {
                let user = guard.user();
                guard.set_user(user | PERMIT);
            }
        }
    }

    /// Wakes every wait that exists now: queued waiters, and [`Notified`]
    /// futures created before this call even if they were never polled.
    /// Stores no permit (and leaves a stored one in place). Waits that
    /// start after this call are not woken.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let notify = polysync::Notify::new();
    /// let early = notify.notified(); // created before the call: notified
    /// notify.notify_waiters();
    /// early.await;
    /// assert!(!notify.try_notified()); // nothing stored
    /// # });
    /// ```
    pub fn notify_waiters(&self) {
        if self
            .queue
            .update_if_idle(Ordering::Release, |u| Some(Epoch::bump(u)))
            .is_ok()
        {
            return;
        }
        let mut guard = self.queue.lock();
        let user = Epoch::bump(guard.user());
        guard.set_user(user);
        let now = Epoch::of(user);
        // Wake the nodes of the epochs before `now`; they are at the front.
        // Nodes that queue between two batches carry `now` (or a later
        // epoch), so the batches end.
        let older = |guard: &QueueGuard<'_>| {
            guard
                .front()
                .is_some_and(|front| front.data::<Epoch>().before(now))
        };
        wake_in_batches(&self.queue, Some(guard), |guard, wakers| {
            while !wakers.is_full() && older(guard) {
                wakers.push(guard.notify_front(Woken::All).flatten());
            }
            Batch::more_if(older(guard))
        });
    }

    /// A future that completes when this notify is notified (see the type's
    /// docs). It receives [`notify_waiters`](Notify::notify_waiters) from
    /// its creation on; it queues for [`notify_one`](Notify::notify_one) at
    /// its first poll (or [`Notified::enable`]).
    ///
    /// # Cancel safety
    /// Dropping the future loses nothing: a queued wait leaves the queue,
    /// and a `notify_one` it had received but not returned is passed on (to
    /// the next waiter, or stored as the permit), as tokio does.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let notify = polysync::Notify::new();
    /// notify.notify_one();
    /// notify.notified().await;
    /// # });
    /// ```
    #[inline]
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            wait: RawWait::new(self, self.epoch()),
            done: false,
        }
    }

    /// The current epoch (the tag of a wait that starts now).
    #[inline]
    fn epoch(&self) -> Epoch {
        Epoch::of(self.queue.user(Ordering::Acquire))
    }

    /// Blocks the current execution unit until it is notified (a
    /// `notify_one`, a stored permit, or a `notify_waiters` after this call
    /// started).
    ///
    /// ```
    /// let notify = polysync::Notify::new();
    /// notify.notify_one();
    /// notify.notified_blocking(); // takes the permit
    /// ```
    pub fn notified_blocking(&self) {
        blocking(|w| self.notified_with(w, None));
    }

    /// Takes the stored permit, if there is one, without waiting.
    ///
    /// ```
    /// let notify = polysync::Notify::new();
    /// assert!(!notify.try_notified());
    /// notify.notify_one();
    /// assert!(notify.try_notified());
    /// ```
    pub fn try_notified(&self) -> bool {
        match self.queue.update_if_idle(Ordering::Acquire, |u| {
            (u & PERMIT != 0).then_some(u & !PERMIT)
        }) {
            Ok(_) => true,
            // No permit: a queued waiter or a notifier holding the lock
            // could change that only concurrently with this call.
            Err(u) if u & PERMIT == 0 => false,
            Err(_) => {
                let mut guard = self.queue.lock();
                let user = guard.user();
                guard.set_user(user & !PERMIT);
                user & PERMIT != 0
            }
        }
    }

    /// Blocks until notified or `timeout` passes; returns whether it was
    /// notified.
    ///
    /// ```
    /// let notify = polysync::Notify::new();
    /// assert!(!notify.try_notified_for(std::time::Duration::from_millis(1)));
    /// ```
    pub fn try_notified_for(&self, timeout: Duration) -> bool {
        let deadline = deadline_after(timeout);
        blocking(|w| self.notified_with(w, deadline)).is_some()
    }

    /// Blocks until notified or `deadline` passes; returns whether it was
    /// notified.
    ///
    /// ```
    /// let notify = polysync::Notify::new();
    /// notify.notify_one();
    /// assert!(notify.try_notified_until(std::time::Instant::now()));
    /// ```
    pub fn try_notified_until(&self, deadline: Instant) -> bool {
        blocking(|w| self.notified_with(w, Some(deadline))).is_some()
    }

    /// Blocks on `waiter` until notified, `deadline` passes or the waiter
    /// reports cancellation: the entry point that every blocking form runs
    /// with the current unit's waiter. A `notify_waiters` counts from the
    /// start of this call.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] or [`WaitError::Cancelled`]; the wait is
    /// withdrawn either way. A `notify_one` that reached it as it gave up
    /// counts as success (it is not lost).
    ///
    /// ```
    /// use polysync::lowlevel::{ThreadWaiter, WaitError};
    /// let notify = polysync::Notify::new();
    /// ThreadWaiter::with_current(|w| {
    ///     let now = Some(std::time::Instant::now());
    ///     assert_eq!(notify.notified_with(w, now), Err(WaitError::TimedOut));
    ///     notify.notify_one();
    ///     assert_eq!(notify.notified_with(w, None), Ok(()));
    /// });
    /// ```
    pub fn notified_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<(), WaitError> {
        let epoch = self.epoch();
        if self.try_fast(epoch, &()).is_some() {
            return Ok(());
        }
        drive(waiter, pin!(RawWait::new(self, epoch)), deadline).map_err(|(why, ())| why)
    }

    /// How many units wait now (a snapshot).
    ///
    /// ```
    /// assert_eq!(polysync::Notify::new().waiting(), 0);
    /// ```
    pub fn waiting(&self) -> usize {
        self.queue.len()
    }

    /// Whether a permit is stored now (a snapshot).
    fn has_permit(&self) -> bool {
        self.queue.user(Ordering::Relaxed) & PERMIT != 0
    }
}

impl Protocol for Notify {
    /// The epoch the wait started in.
    type Tag = Epoch;
    /// What woke it.
    type Outcome = Woken;
    type Slot = ();

    fn queue(&self) -> &WaitQueue {
        &self.queue
    }

    #[inline]
    fn try_fast(&self, epoch: Epoch, _: &()) -> Option<Woken> {
        let taken = self.queue.update_if_idle(Ordering::Acquire, |u| {
            (Epoch::of(u) == epoch && u & PERMIT != 0).then_some(u & !PERMIT)
        });
        match taken {
            Ok(_) => Some(Woken::One),
            Err(u) if Epoch::of(u) != epoch => {
                // `update_if_idle` read the word `Relaxed`; the epoch it saw
                // was stored by a `notify_waiters` (its compare-exchange or
                // its unlock, both `Release`): acquire what the notifier
                // wrote before the call, as a woken waiter would.
                fence(Ordering::Acquire);
                Some(Woken::All)
            }
            Err(_) => None,
        }
    }

    fn arrive_locked(
        &self,
        guard: &mut QueueGuard<'_>,
        epoch: Epoch,
        _: &(),
    ) -> Result<Woken, Epoch> {
        let user = guard.user();
        if Epoch::of(user) != epoch {
            Ok(Woken::All)
        } else if user & PERMIT != 0 {
            guard.set_user(user & !PERMIT);
            Ok(Woken::One)
        } else {
            Err(epoch)
        }
    }

    fn pass_on(&self, woken: Woken, _: &()) {
        match woken {
            Woken::One => self.notify_one(),
            Woken::Last => self.notify_last(),
            Woken::All => {}
        }
    }
}

impl Default for Notify {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Notify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notify")
            .field("permit", &self.has_permit())
            .field("waiting", &self.waiting())
            .finish()
    }
}

/// The future of [`Notify::notified`].
///
/// Polling it again after it completed returns `Ready` again (as tokio's).
#[must_use = "futures do nothing unless polled"]
pub struct Notified<'a> {
    /// Structurally pinned.
    wait: RawWait<'a, Notify>,
    /// Completed (the core wait is finished; polls return `Ready`).
    done: bool,
}

impl Notified<'_> {
    /// Queues this future for [`notify_one`](Notify::notify_one) now, as
    /// its first poll would, without a waker (tokio's `enable`): a
    /// `notify_one` that comes after this call wakes it (or, if it is the
    /// oldest, picks it) instead of storing a permit. Returns whether it is
    /// already notified (its next poll returns `Ready`). Takes a stored
    /// permit, if any. Calling it again (or after a poll) does nothing more.
    ///
    /// Given exactly: register without a waker, consume a permit; what is
    /// not given: a `true` for a notification that arrived while the
    /// runtime's checkpoint made the first poll yield (the next poll
    /// returns `Ready` anyway).
    ///
    /// ```
    /// use std::pin::pin;
    /// let notify = polysync::Notify::new();
    /// let mut notified = pin!(notify.notified());
    /// assert!(!notified.as_mut().enable());
    /// notify.notify_one(); // picks the enabled future: no permit stored
    /// assert!(!notify.try_notified());
    /// assert!(notified.as_mut().enable());
    /// futures_lite::future::block_on(notified);
    /// ```
    pub fn enable(self: Pin<&mut Self>) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        self.poll(&mut cx).is_ready()
    }
}

impl std::fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notified")
            .field("queued", &self.wait.is_queued())
            .field("done", &self.done)
            .finish()
    }
}

impl Future for Notified<'_> {
    type Output = ();

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `wait` is structurally pinned (never moved out of `self`);
        // `done` is a plain `bool`, not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        if this.done {
            return Poll::Ready(());
        }
        // SAFETY: as above: `wait` stays where it is.
        let wait = unsafe { Pin::new_unchecked(&mut this.wait) };
        let poll = wait.poll(cx);
        this.done = poll.is_ready();
        poll
    }
}
