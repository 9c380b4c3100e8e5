//! The one state machine every waiting operation of every primitive runs
//! ([`Wait`]): try without the lock, try again under the queue lock (so a
//! release cannot slip between the check and the enqueue), enqueue an
//! [`Entry`], and on wake-up own whatever was handed over; on withdrawal or
//! drop, leave whichever queue holds the entry or pass on what was handed
//! over. A primitive plugs in through [`Protocol`]: its queue, its attempts,
//! what its entries carry beside the node (a queue's item, a condition's
//! lock), which queue holds an entry (a condition waiter moves to its lock's
//! queue), and how it passes things on. Async methods return the future
//! (wrapped in a primitive's own type that turns the outcome into a guard or
//! an item); blocking methods drive the same future with a
//! [`Waiter`](super::Waiter) ([`drive`]). The loom models of every
//! primitive therefore exercise this one machine.

use super::backend::with_current_waiter;
use super::queue::{
    DONE, IDLE, NOTIFIED, Node, NodeData, QueueGuard, WAITING, WaitQueue, node_of, refresh_waker,
    refresh_waker_then,
};
use super::waiter::{WaitError, Waiter, poll_until};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

/// The body of every plain blocking form (`*_blocking`, `try_*_for`,
/// `try_*_until`): runs a primitive's `*_with` entry point with the current
/// execution unit's waiter (see [`with_current_waiter`]). `Some` on
/// success, `None` on a time-out; a cancelled wait (already withdrawn by the
/// entry point) unwinds through [`Waiter::cancelled`], since these forms
/// have no way to report it.
pub(crate) fn blocking<R>(with: impl FnOnce(&dyn Waiter) -> Result<R, WaitError>) -> Option<R> {
    with_current_waiter(|waiter| match with(waiter) {
        Ok(out) => Some(out),
        Err(WaitError::TimedOut) => None,
        Err(WaitError::Cancelled) => waiter.cancelled(),
    })
}

/// The common `arrive_locked` outcome of a primitive whose outcome is its
/// tag: complete with the node's data kept if `admitted`, else queue with
/// it kept.
#[inline]
pub(crate) fn admit_if<D: NodeData>(data: D, admitted: bool) -> Result<D, D> {
    if admitted { Ok(data) } else { Err(data) }
}

/// A wait that a blocking driver can give up: what [`drive`] needs beyond
/// [`Future`]. Every wait future of the crate implements it.
pub(crate) trait Withdraw: Future {
    /// What a withdrawn wait gives back to its caller (a put's item); `()`
    /// for most waits.
    type Left;

    /// Gives the wait up for good, without blocking: `Err(left)` if it was
    /// withdrawn with nothing handed over, or `Ok(output)` if a hand-off
    /// landed first (the wait completed after all; the caller owns the
    /// output). Either way the future is finished: dropping it does nothing
    /// more, and polling it again is a bug.
    fn withdraw(self: Pin<&mut Self>) -> Result<Self::Output, Self::Left>;
}

/// Drives a wait on `waiter` until it completes, `deadline` passes, or the
/// waiter reports cancellation; then withdraws it (see [`Withdraw`]). This
/// is the one blocking loop of the crate: every blocking form of every
/// primitive ends here.
///
/// A `TimedOut` from a waiter without a deadline counts as a spurious
/// wake-up, so with `deadline == None` the only error is `Cancelled`.
pub(crate) fn drive<W: Waiter + ?Sized, F: Withdraw>(
    waiter: &W,
    mut fut: Pin<&mut F>,
    deadline: Option<Instant>,
) -> Result<F::Output, (WaitError, F::Left)> {
    match poll_until(waiter, fut.as_mut(), deadline) {
        Ok(out) => Ok(out),
        // A hand-off may have landed as we gave up: `withdraw` takes it.
        Err(error) => fut.withdraw().map_err(|left| (error, left)),
    }
}

/// A waiter's place in a wait list: its [`Node`], then what the primitive
/// keeps beside it (its [`Protocol::Slot`]). `repr(C)` with the node first,
/// and queued through [`node_of`] on the whole entry, so a notifier that
/// finds the node in its list may cast the pointer back to the entry and
/// reach the slot (a queue getter's item, a condition waiter's lock).
///
/// The slot has the node's owners (see [`Node`]): the waiter while the node
/// is not `WAITING`, the lock of the queue it waits in while it is. A slot
/// that a notifier writes is a cell, with an owner-side accessor checked in
/// debug builds and an `unsafe` notifier-side one that takes the guard.
#[repr(C)]
pub(crate) struct Entry<S> {
    pub(crate) node: Node,
    pub(crate) slot: S,
}

/// What a primitive plugs into [`Wait`]: the one wait state machine of the
/// crate (lock-free attempt, attempt under the lock, enqueue, wake-up,
/// withdrawal, drop), which every waiting operation of every primitive
/// runs.
///
/// A node's data has two typed meanings over its life, each a [`NodeData`]
/// type of the primitive: its [`Tag`](Protocol::Tag) until it completes,
/// then its [`Outcome`](Protocol::Outcome).
pub(crate) trait Protocol {
    /// What a waiting node carries: written by its waiter ([`Wait::new`],
    /// or `arrive_locked`'s `Err`), read under the queue lock by notifiers
    /// (`guard.front().map(|f| f.data::<Tag>())`) and by
    /// [`cancelled`](Protocol::cancelled), and by `try_fast` and
    /// `arrive_locked` before the node is queued.
    type Tag: NodeData;

    /// What a completed node carries: `try_fast`'s `Some`,
    /// `arrive_locked`'s `Ok`, or what a notifier handed over
    /// (`notify_front(outcome)`); read by its waiter ([`Wait::outcome`],
    /// [`pass_on`](Protocol::pass_on)). A primitive whose notifiers leave
    /// the data in place (`notify_front_keep`) has `Outcome = Tag`.
    type Outcome: NodeData;

    /// What an [`Entry`] carries beside its node, for notifiers to read or
    /// fill through the entry pointer: `()` for most primitives; a queue
    /// waiter's item; a condition waiter's lock and round.
    type Slot;

    /// Whether a blocking waiter that queues at the head of an empty list
    /// is told it is next in line ([`Waiter::next_in_line`]), so a spinning
    /// waiter spins before it sleeps. `false` where spinning after queueing
    /// costs more than it saves (a queue's consumer: see `queue/spin.rs`).
    /// (A method, not an associated constant, so that the trait stays
    /// usable as `dyn Protocol`.)
    #[inline]
    fn hint_next_in_line(&self) -> bool {
        true
    }

    /// The queue the waiters of this primitive stand in (first).
    fn queue(&self) -> &WaitQueue;

    /// An attempt to complete at once, before the waker is cloned:
    /// `Some(outcome)` completes the wait. `tag` is the node's data; the
    /// entry is the waiter's own (not queued), so its slot may be used.
    /// Also what a primitive's non-blocking `try_*` form calls (with `&()`
    /// where it has no slot).
    fn try_fast(&self, tag: Self::Tag, slot: &Self::Slot) -> Option<Self::Outcome>;

    /// The attempt under the queue lock, made just before the node would be
    /// queued (after `try_fast` failed): `Ok(outcome)` completes the wait
    /// now, `Err(tag)` queues the node. Either value becomes the node's data
    /// from then on: the waiter reads an outcome with [`Wait::outcome`];
    /// notifiers (`front().data()`) and `cancelled` see a tag, so a
    /// primitive can record where a waiter stands (an arrival ticket) when
    /// it is queued. Most primitives keep the data either way
    /// ([`admit_if`]). The entry is still the waiter's own: its slot may be
    /// filled or emptied. It must not run user code (the queue lock is
    /// held); it may change the user bits, and it wakes another waiter
    /// only through [`QueueGuard::wake_after_unlock`].
    fn arrive_locked(
        &self,
        guard: &mut QueueGuard<'_>,
        tag: Self::Tag,
        slot: &Self::Slot,
    ) -> Result<Self::Outcome, Self::Tag>;

    /// [`arrive_locked`](Protocol::arrive_locked) for a waiter that was
    /// already waiting elsewhere and is moved here (a condition waiter
    /// notified into its lock's queue): it is not a running unit, so a
    /// primitive with bounded fairness does not let it barge past the
    /// waiters queued here. The default is `arrive_locked`.
    fn arrive_moved_locked(
        &self,
        guard: &mut QueueGuard<'_>,
        tag: Self::Tag,
        slot: &Self::Slot,
    ) -> Result<Self::Outcome, Self::Tag> {
        self.arrive_locked(guard, tag, slot)
    }

    /// Locks the queue that holds `entry` and returns its guard, or `None`
    /// once the node is no longer `WAITING` there (it was notified: no
    /// lock is kept). The default is right for a node that only ever waits
    /// in [`queue`](Protocol::queue); a condition's waiter moves to its
    /// lock's queue when notified and says which queue holds it now.
    fn lock_holding<'s>(&'s self, entry: &'s Entry<Self::Slot>) -> Option<QueueGuard<'s>> {
        let guard = self.queue().lock();
        (entry.node.state() == WAITING).then_some(guard)
    }

    /// A waiter that was already notified gives up (dropped future): pass
    /// what it was handed on. Called without any queue lock. `outcome` is
    /// the node's data after the notification; the entry is the waiter's
    /// own again (a queue getter's item is in its `slot`).
    fn pass_on(&self, outcome: Self::Outcome, slot: &Self::Slot);

    /// A waiter that was not notified gives up; its node has just been
    /// removed. Called under the lock of the queue that held it.
    fn cancelled(&self, guard: &mut QueueGuard<'_>, tag: Self::Tag) {
        let _ = (guard, tag);
    }

    /// [`cancelled`](Protocol::cancelled), told whether the node that left
    /// was the front of the queue: what a primitive that wakes its front
    /// waiter to compete (see [`retry_front_locked`](Protocol::retry_front_locked))
    /// needs to pass that wake on. Called under the lock of the queue that
    /// held the node; the same limits as `cancelled` (no user code; wake
    /// only through [`QueueGuard::wake_after_unlock`]). The default calls
    /// `cancelled`.
    fn cancelled_at(
        &self,
        guard: &mut QueueGuard<'_>,
        tag: Self::Tag,
        slot: &Self::Slot,
        was_front: bool,
    ) {
        let _ = (slot, was_front);
        self.cancelled(guard, tag);
    }

    /// Whether a queued waiter of this primitive may be woken without being
    /// notified, to compete for what was released (bounded fairness, see
    /// `lock.rs`): then each poll of a queued node first puts the task's
    /// waker in place, then, if the node is the front of its queue, calls
    /// [`retry_front_locked`](Protocol::retry_front_locked) under the same
    /// lock hold. `false` (the default) keeps the plain path: a queued node
    /// completes only when a notifier hands it something.
    #[inline]
    fn retries(&self) -> bool {
        false
    }

    /// The front of the queue, woken to compete (or polled for any other
    /// reason), tries again under the lock of the queue that holds it; its
    /// waker is already in place. `Some(outcome)` completes the wait: the
    /// node is removed from the queue by the caller and handed `outcome`.
    /// `None` keeps it queued at the front, asleep until the next wake. The
    /// same limits as `arrive_locked` (no user code, no waking but through
    /// [`QueueGuard::wake_after_unlock`]). Called only if
    /// [`retries`](Protocol::retries); the default never completes.
    fn retry_front_locked(
        &self,
        guard: &mut QueueGuard<'_>,
        tag: Self::Tag,
        slot: &Self::Slot,
    ) -> Option<Self::Outcome> {
        let _ = (guard, tag, slot);
        None
    }

    /// Runs after [`cancelled`](Protocol::cancelled), once the queue lock is
    /// released and the removed node's waker dropped: the place to wake
    /// other waiters because of the cancellation (a barrier that a cancelled
    /// party breaks, a condition waiter that had been notified passing the
    /// notification on). `tag` is what `cancelled` saw. The default does
    /// nothing.
    fn after_cancelled(&self, tag: Self::Tag, slot: &Self::Slot) {
        let _ = (tag, slot);
    }
}

/// A future that completes when the primitive's protocol lets it through.
/// Dropping it at any point is safe: a notification that it received but did
/// not consume is passed on.
pub(crate) struct Wait<'a, P: Protocol + ?Sized> {
    proto: &'a P,
    entry: Entry<P::Slot>,
}

impl<'a, P: Protocol<Slot = ()> + ?Sized> Wait<'a, P> {
    /// A wait whose node will queue with `tag` (unless `arrive_locked`
    /// changes it).
    #[inline]
    pub(crate) fn new(proto: &'a P, tag: P::Tag) -> Self {
        Self::with_slot(proto, tag, ())
    }
}

impl<'a, P: Protocol + ?Sized> Wait<'a, P> {
    /// A wait whose node will queue with `tag`, with `slot` beside it.
    #[inline]
    pub(crate) fn with_slot(proto: &'a P, tag: P::Tag, slot: P::Slot) -> Self {
        Self {
            proto,
            entry: Entry {
                node: Node::new(tag),
                slot,
            },
        }
    }

    /// The primitive this future waits on.
    #[inline]
    pub(crate) fn protocol(&self) -> &'a P {
        self.proto
    }

    /// The entry, for its owner: read the slot once the wait is finished
    /// (or before it started). Its accessors check ownership.
    #[inline]
    pub(crate) fn entry(&self) -> &Entry<P::Slot> {
        &self.entry
    }

    /// Replaces the tag of a wait that has not been polled yet (it is not
    /// queued, so its data is the waiter's).
    pub(crate) fn set_tag(&self, tag: P::Tag) {
        debug_assert_eq!(self.entry.node.state(), IDLE);
        self.entry.node.set_data(tag);
    }

    /// Whether the node is queued right now (for `Debug`).
    pub(crate) fn is_queued(&self) -> bool {
        self.entry.node.state() == WAITING
    }

    /// The outcome of a wait that completed (what `arrive_locked` returned,
    /// or what a notifier handed over). `None` until it finished (before
    /// the first poll the node holds a tag; while queued a notifier may be
    /// writing it). Meaningless after a withdrawal that returned `Err`
    /// (the node kept its tag).
    pub(crate) fn outcome(&self) -> Option<P::Outcome> {
        (self.entry.node.state() == DONE).then(|| self.entry.node.data())
    }

    /// The first poll after the lock-free attempt failed: lock, try again,
    /// then queue the node. Kept out of line so the fast path stays small.
    #[inline(never)]
    fn poll_idle_slow(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Shared access suffices: the node's fields are cells.
        let this = self.into_ref().get_ref();
        let proto = this.proto;
        let entry = &this.entry;
        let tag: P::Tag = entry.node.data();
        // Clone outside the critical section: a waker's clone is user code.
        let waker = cx.waker().clone();
        let mut guard = proto.queue().lock();
        let arrival = proto.arrive_locked(&mut guard, tag, &entry.slot);
        let new = match arrival {
            Ok(outcome) => outcome.into_raw(),
            Err(tag) => tag.into_raw(),
        };
        if new != tag.into_raw() {
            // The node is not queued: its owner may set its data (to the
            // outcome or the new tag, whose word `new` is).
            match arrival {
                Ok(outcome) => entry.node.set_data(outcome),
                Err(tag) => entry.node.set_data(tag),
            }
        }
        if arrival.is_ok() {
            drop(guard);
            return Self::completed_at_once(&entry.node);
        }
        super::thread::set_spin_hint(proto.hint_next_in_line() && guard.is_empty());
        // SAFETY: the entry lives in this pinned future, which cannot move;
        // `Drop` removes it from whichever queue holds it (or consumes the
        // notification) before the memory goes away. The pointer comes from
        // the whole entry, so it covers the slot that notifiers may reach.
        unsafe { guard.push_back(node_of(entry), waker) };
        Poll::Pending
    }

    /// A wait that completed without queueing: its checkpoint was taken
    /// before the attempt (see `poll`), so it returns at once.
    #[inline]
    fn completed_at_once(node: &Node) -> Poll<()> {
        node.set_done();
        Poll::Ready(())
    }

    /// A queued node's poll for a primitive that [`retries`](Protocol::retries):
    /// put the waker in place, then, under the same lock hold, let the
    /// front try again. The order matters: a front woken to compete that
    /// loses its retry stays queued with a waker the next release can take
    /// (were the waker refreshed after the retry, a release in between
    /// could find none and its wake-up would be lost).
    #[cold]
    fn poll_retry(&self, cx: &mut Context<'_>) -> Poll<()> {
        let (proto, entry) = (self.proto, &self.entry);
        let node = &entry.node;
        let settled = refresh_waker_then(
            node,
            cx.waker(),
            || proto.lock_holding(entry),
            |guard| {
                if !std::ptr::eq(guard.front_node(), node) {
                    return None;
                }
                // The node is WAITING in this guard's queue: the lock owns
                // its data (read here as the tag it queued with).
                let tag: P::Tag = guard.front().expect("the node is the front").data();
                let Some(outcome) = proto.retry_front_locked(guard, tag, &entry.slot) else {
                    // Lost to a unit that took the primitive first: still
                    // next in line, so a thread may spin for the release
                    // that wakes it rather than park for it.
                    super::thread::set_spin_hint(proto.hint_next_in_line());
                    return None;
                };
                // SAFETY: the node is WAITING in the queue this guard locks
                // (it is its front).
                Some((outcome, unsafe { guard.remove(node) }))
            },
        );
        match settled {
            // Still queued (woken for nothing, or the retry lost).
            Some(None) => Poll::Pending,
            // The retry won: the node is ours again (IDLE, unlinked).
            Some(Some((outcome, waker))) => {
                drop(waker);
                node.set_data(outcome);
                node.set_done();
                Poll::Ready(())
            }
            // Notified meanwhile (a hand-off): the outcome is in the node.
            None => {
                node.set_done();
                Poll::Ready(())
            }
        }
    }

    /// Gives up a node that is `WAITING` (or was, a moment ago): removes
    /// it from the queue that holds it and runs the protocol's cancellation
    /// hooks (`Err(())`), or finds it notified (`Ok(outcome)`, owned by the
    /// caller now). Either way the node is no longer queued.
    fn leave(&self) -> Result<P::Outcome, ()> {
        let (proto, entry) = (self.proto, &self.entry);
        let Some(mut guard) = proto.lock_holding(entry) else {
            return Ok(entry.node.data());
        };
        let was_front = std::ptr::eq(guard.front_node(), &entry.node);
        // SAFETY: `lock_holding` returned the guard of the queue in which the
        // node is still WAITING.
        let waker = unsafe { guard.remove(&entry.node) };
        let tag: P::Tag = entry.node.data();
        proto.cancelled_at(&mut guard, tag, &entry.slot, was_front);
        drop(guard);
        drop(waker);
        proto.after_cancelled(tag, &entry.slot);
        Err(())
    }
}

impl<P: Protocol + ?Sized> Future for Wait<'_, P> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let state = self.entry.node.state();
        if state == IDLE {
            // The checkpoint comes before the attempt, never after it: a
            // wait that yields there holds nothing meanwhile (a lock taken
            // and then held across the yield would block every other unit
            // for a whole scheduling round, once per coop budget on tokio).
            // Taken once: the poll after the yield attempts at once, and a
            // wait that then queues does not yield a second time.
            let node = &self.entry.node;
            if !node.checkpointed() {
                node.set_checkpointed();
                if super::checkpoint::poll(cx).is_pending() {
                    return Poll::Pending;
                }
            }
            let tag = self.entry.node.data();
            if let Some(outcome) = self.proto.try_fast(tag, &self.entry.slot) {
                let node = &self.entry.node;
                if outcome.into_raw() != tag.into_raw() {
                    node.set_data(outcome);
                }
                return Self::completed_at_once(node);
            }
            return self.poll_idle_slow(cx);
        }
        // From here on only shared access is needed (the node may be queued,
        // so other threads see it): every field the node changes is a cell.
        let this = self.into_ref().get_ref();
        let node = &this.entry.node;
        match state {
            WAITING if this.proto.retries() => this.poll_retry(cx),
            WAITING => {
                let queued =
                    refresh_waker(node, cx.waker(), || this.proto.lock_holding(&this.entry));
                if queued {
                    return Poll::Pending;
                }
                node.set_done();
                Poll::Ready(())
            }
            NOTIFIED => {
                node.set_done();
                Poll::Ready(())
            }
            DONE => panic!("polysync: a wait future was polled after it completed"),
            IDLE => unreachable!("an idle node is handled above"),
        }
    }
}

impl<P: Protocol + ?Sized> Withdraw for Wait<'_, P> {
    type Left = ();

    fn withdraw(self: Pin<&mut Self>) -> Result<(), ()> {
        let this = self.into_ref().get_ref();
        let node = &this.entry.node;
        let out = match node.state() {
            // Never queued (not polled yet): nothing to give up.
            IDLE => Err(()),
            NOTIFIED => Ok(()),
            WAITING => this.leave().map(drop),
            DONE => return Ok(()), // it completed earlier
        };
        node.set_done();
        out
    }
}

impl<P: Protocol + ?Sized> Drop for Wait<'_, P> {
    fn drop(&mut self) {
        let outcome = match self.entry.node.state() {
            WAITING => self.leave(),
            NOTIFIED => Ok(self.entry.node.data()),
            _ => return,
        };
        if let Ok(outcome) = outcome {
            self.proto.pass_on(outcome, &self.entry.slot);
        }
    }
}

impl<P: Protocol + ?Sized> std::fmt::Debug for Wait<'_, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wait")
            .field("node", &self.entry.node)
            .finish()
    }
}
