//! The one state machine every waiting operation runs: try without the lock,
//! try again under the queue lock (so a release cannot slip between the check
//! and the enqueue), enqueue a node, and on wake-up own whatever was handed
//! over. Async methods return it as a future; blocking methods drive the same
//! future with the current [`Waiter`](super::Waiter).

use super::backend::with_current_waiter;
use super::queue::{
    DONE, IDLE, NOTIFIED, Node, NodeData, QueueGuard, WAITING, WaitQueue, refresh_waker,
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

/// What a primitive plugs into [`Wait`].
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

    /// What a completed node carries: `arrive_locked`'s `Ok`, or what a
    /// notifier handed over (`notify_front(outcome)`); read by its waiter
    /// ([`Wait::outcome`], [`pass_on`](Protocol::pass_on)). A primitive
    /// whose notifiers leave the data in place (`notify_front_keep`) has
    /// `Outcome = Tag`.
    type Outcome: NodeData;

    /// The queue the waiters of this primitive stand in.
    fn queue(&self) -> &WaitQueue;

    /// A lock-free attempt to complete at once. `tag` is the node's data.
    fn try_fast(&self, tag: Self::Tag) -> bool;

    /// A waiter that was already notified gives up (dropped future, timeout,
    /// cancelled coroutine): pass what it was handed on. Called without the
    /// queue lock. `outcome` is the node's data after the notification.
    fn pass_on(&self, outcome: Self::Outcome);

    /// A waiter that was not notified gives up; its node has just been
    /// removed. Called under the queue lock.
    fn cancelled(&self, guard: &mut QueueGuard<'_>, tag: Self::Tag) {
        let _ = (guard, tag);
    }

    /// The attempt under the queue lock, made just before the node would be
    /// queued (after `try_fast` failed): `Ok(outcome)` completes the wait
    /// now, `Err(tag)` queues the node. Either value becomes the node's data
    /// from then on: the waiter reads an outcome with [`Wait::outcome`];
    /// notifiers (`front().data()`) and `cancelled` see a tag, so a
    /// primitive can record where a waiter stands (an arrival ticket) when
    /// it is queued. Most primitives keep the data either way
    /// ([`admit_if`]). It must not wake anyone or run user code (the queue
    /// lock is held); it may change the user bits.
    fn arrive_locked(
        &self,
        guard: &mut QueueGuard<'_>,
        tag: Self::Tag,
    ) -> Result<Self::Outcome, Self::Tag>;

    /// Runs after [`cancelled`](Protocol::cancelled), once the queue lock is
    /// released and the removed node's waker dropped: the place to wake
    /// other waiters because of the cancellation (a barrier that a cancelled
    /// party breaks). `tag` is what `cancelled` saw. The default does nothing.
    fn after_cancelled(&self, tag: Self::Tag) {
        let _ = tag;
    }
}

/// A future that completes when the primitive's protocol lets it through.
/// Dropping it at any point is safe: a notification that it received but did
/// not consume is passed on.
pub(crate) struct Wait<'a, P: Protocol + ?Sized> {
    proto: &'a P,
    node: Node,
}

impl<'a, P: Protocol + ?Sized> Wait<'a, P> {
    /// A wait whose node will queue with `tag` (unless `arrive_locked`
    /// changes it).
    #[inline]
    pub(crate) fn new(proto: &'a P, tag: P::Tag) -> Self {
        Self {
            proto,
            node: Node::new(tag),
        }
    }

    /// The primitive this future waits on.
    #[inline]
    pub(crate) fn protocol(&self) -> &'a P {
        self.proto
    }

    /// Whether the node is queued right now (for `Debug`).
    pub(crate) fn is_queued(&self) -> bool {
        self.node.state() == WAITING
    }

    /// The outcome of a wait that completed (what `arrive_locked` returned,
    /// or what a notifier handed over). `None` until it finished (before
    /// the first poll the node holds a tag; while queued a notifier may be
    /// writing it). Meaningless after a withdrawal that returned `Err`
    /// (the node kept its tag).
    pub(crate) fn outcome(&self) -> Option<P::Outcome> {
        (self.node.state() == DONE).then(|| self.node.data())
    }

    /// The first poll after the lock-free attempt failed: lock, try again,
    /// then queue the node. Kept out of line so the fast path stays small.
    #[inline(never)]
    fn poll_idle_slow(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Shared access suffices: the node's fields are cells.
        let this = self.into_ref().get_ref();
        let proto = this.proto;
        let tag: P::Tag = this.node.data();
        // Clone outside the critical section: a waker's clone is user code.
        let waker = cx.waker().clone();
        let mut guard = proto.queue().lock();
        let arrival = proto.arrive_locked(&mut guard, tag);
        let new = match arrival {
            Ok(outcome) => outcome.into_raw(),
            Err(tag) => tag.into_raw(),
        };
        if new != tag.into_raw() {
            // The node is not queued: its owner may set its data (to the
            // outcome or the new tag, whose word `new` is).
            match arrival {
                Ok(outcome) => this.node.set_data(outcome),
                Err(tag) => this.node.set_data(tag),
            }
        }
        let node = &this.node;
        if arrival.is_ok() {
            drop(guard);
            node.set_done();
            return Poll::Ready(());
        }
        super::thread::set_spin_hint(guard.is_empty());
        // SAFETY: the node lives in this pinned future, which cannot
        // move; `Drop` removes it from the queue (or consumes the
        // notification) before the memory goes away. Notifiers of a `Wait`
        // read only the node, so a pointer from the node covers all they read.
        unsafe { guard.push_back(node, waker) };
        Poll::Pending
    }
}

impl<P: Protocol + ?Sized> Future for Wait<'_, P> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let state = self.node.state();
        if state == IDLE {
            if self.proto.try_fast(self.node.data()) {
                self.node.set_done();
                return Poll::Ready(());
            }
            return self.poll_idle_slow(cx);
        }
        // From here on only shared access is needed (the node may be queued,
        // so other threads see it): every field the node changes is a cell.
        let this = self.into_ref().get_ref();
        let node = &this.node;
        match state {
            WAITING => {
                let queue = this.proto.queue();
                let queued = refresh_waker(node, cx.waker(), || {
                    let guard = queue.lock();
                    (node.state() == WAITING).then_some(guard)
                });
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
        let node = &this.node;
        match node.state() {
            // Never queued (not polled yet): nothing to give up.
            IDLE => {
                node.set_done();
                Err(())
            }
            NOTIFIED => {
                node.set_done();
                Ok(())
            }
            WAITING => {
                let mut guard = this.proto.queue().lock();
                if node.state() == NOTIFIED {
                    drop(guard);
                    node.set_done();
                    return Ok(());
                }
                // SAFETY: under the lock the node is still WAITING, so it is
                // linked in this queue.
                let waker = unsafe { guard.remove(node) };
                let tag: P::Tag = node.data();
                this.proto.cancelled(&mut guard, tag);
                drop(guard);
                drop(waker);
                node.set_done();
                this.proto.after_cancelled(tag);
                Err(())
            }
            DONE => Ok(()), // it completed earlier
        }
    }
}

impl<P: Protocol + ?Sized> Drop for Wait<'_, P> {
    fn drop(&mut self) {
        let node = &self.node;
        match node.state() {
            WAITING => {
                let mut guard = self.proto.queue().lock();
                if node.state() == NOTIFIED {
                    drop(guard);
                    self.proto.pass_on(node.data());
                } else {
                    // SAFETY: under the lock the node is still WAITING, so it
                    // is linked in this queue.
                    let waker = unsafe { guard.remove(node) };
                    let tag: P::Tag = node.data();
                    self.proto.cancelled(&mut guard, tag);
                    drop(guard);
                    drop(waker);
                    self.proto.after_cancelled(tag);
                }
            }
            NOTIFIED => self.proto.pass_on(node.data()),
            _ => {}
        }
    }
}

impl<P: Protocol + ?Sized> std::fmt::Debug for Wait<'_, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wait").field("node", &self.node).finish()
    }
}
