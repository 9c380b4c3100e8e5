//! The futures of [`GenericQueue::put`] and [`GenericQueue::get`], and the
//! poll and withdraw logic they share.

use super::entry::{Entry, Role};
use super::error::{GetError, PutError};
use super::generic::{GenericQueue, wake};
use super::storage::{Fifo, Storage};
use crate::lowlevel::queue::{DONE, IDLE, NOTIFIED, QueueGuard, WAITING, node_of, refresh_waker};
use crate::lowlevel::wait::Withdraw;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// The shared poll logic of [`Put`] and [`Get`]: `first` runs under the lock
/// on the first poll (twice if the first attempt must wait: once before and
/// once after cloning the waker) and either completes or lets the entry be
/// queued.
fn poll_entry<T, S, R>(
    queue: &GenericQueue<T, S>,
    entry: Pin<&Entry<T>>,
    cx: &mut Context<'_>,
    mut first: impl FnMut(&mut QueueGuard<'_>) -> Option<(R, Option<Waker>)>,
    finish: impl FnOnce(&Entry<T>) -> R,
) -> Poll<R> {
    let node = &entry.node;
    match node.state() {
        NOTIFIED => {
            node.set_done();
            Poll::Ready(finish(&entry))
        }
        WAITING => {
            let queued = refresh_waker(node, cx.waker(), || {
                let guard = queue.queue.lock();
                (node.state() == WAITING).then_some(guard)
            });
            if queued {
                return Poll::Pending;
            }
            node.set_done();
            Poll::Ready(finish(&entry))
        }
        IDLE => {
            // First try without a waker: most operations complete at once,
            // and cloning and dropping a task's waker costs two atomic
            // operations on a cache line its scheduler also writes.
            let mut guard = queue.queue.lock();
            let mut attempt = first(&mut guard);
            let mut waker = None;
            if attempt.is_none() {
                // It must wait. Clone outside the critical section (a
                // waker's clone is user code), then try once more.
                drop(guard);
                waker = Some(cx.waker().clone());
                guard = queue.queue.lock();
                attempt = first(&mut guard);
            }
            if let Some((out, wake_after)) = attempt {
                drop(guard);
                node.set_done();
                drop(waker);
                wake(wake_after);
                return Poll::Ready(out);
            }
            // No spin hint: a blocking queue waiter parks at once. Spinning
            // after queueing turns a consumer that would drain a batch per
            // wake-up into one hand-off per item, and on 2 vCPUs the spinner
            // holds the core a just-woken tokio worker is placed on
            // (measured in BENCHMARKS.md, "Issue 4 queues"). Clear a hint an
            // earlier wait on this thread may have left behind.
            crate::lowlevel::set_spin_hint(false);
            let waker = waker.expect("cloned before the second attempt");
            // SAFETY: the entry is pinned inside its future, whose `Drop`
            // removes the node (or consumes its notification) before the
            // memory goes away. Notifiers read the item slot beside the node:
            // the pointer is derived from the whole entry.
            unsafe { guard.push_back(node_of(entry.get_ref()), waker) };
            Poll::Pending
        }
        _ => panic!("polysync: a queue future was polled after it completed"),
    }
}

/// Gives up a wait: removes a still-queued node (returns `true`), or reports
/// that it was notified (`false`; the caller owns the outcome).
fn withdraw_entry<T, S: Storage<T>>(queue: &GenericQueue<T, S>, entry: &Entry<T>) -> bool {
    let node = &entry.node;
    if node.state() != WAITING {
        return false;
    }
    let mut guard = queue.queue.lock();
    if node.state() == NOTIFIED {
        return false;
    }
    // SAFETY: under the lock the node is still WAITING, so it is linked here.
    let waker = unsafe { guard.remove(node) };
    drop(guard);
    drop(waker);
    true
}

/// Ends a wait for good: withdraws the entry if it is still queued, marks
/// it done, and returns whatever item its slot holds.
fn cancel_entry<T, S: Storage<T>>(queue: &GenericQueue<T, S>, entry: &Entry<T>) -> Option<T> {
    withdraw_entry(queue, entry);
    // The entry is ours now: it is not queued, and a notification that
    // landed has been published before the node was marked notified.
    entry.node.set_done();
    entry.take()
}

/// The future of [`GenericQueue::put`]: completes when the item is in the
/// queue (or handed to a getter), or with [`PutError::Closed`].
///
/// ```
/// use polysync::queue::{PutError, Queue};
/// # futures_lite::future::block_on(async {
/// let q = Queue::bounded(1);
/// let put = q.put(1);
/// put.await.unwrap();
/// q.close();
/// assert_eq!(q.put(2).await, Err(PutError::Closed(2)));
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Put<'a, T, S: Storage<T> = Fifo<T>> {
    queue: &'a GenericQueue<T, S>,
    entry: Entry<T>,
}

impl<'a, T, S: Storage<T>> Put<'a, T, S> {
    pub(super) fn new(queue: &'a GenericQueue<T, S>, item: T) -> Self {
        Put {
            queue,
            entry: Entry::new(Role::Putter, Some(item)),
        }
    }

    fn entry(self: Pin<&Self>) -> Pin<&Entry<T>> {
        // SAFETY: structural pinning: the entry is never moved out.
        unsafe { self.map_unchecked(|s| &s.entry) }
    }

    fn finish(entry: &Entry<T>) -> Result<(), PutError<T>> {
        if entry.node.data::<Role>() == Role::Handed {
            Ok(())
        } else {
            Err(PutError::Closed(
                entry.take().expect("a closed putter keeps its item"),
            ))
        }
    }

    /// Stops the put and gives the item back unless it is already in the
    /// queue (or with a getter): the cancel-safe way to give up a put, e.g.
    /// in a `select!`. `None` means the item was put. Polling the future
    /// after `cancel` panics; dropping it is fine.
    ///
    /// ```
    /// use std::pin::pin;
    /// use std::task::{Context, Waker};
    ///
    /// let q = polysync::Queue::bounded(1);
    /// q.try_put(1).unwrap();
    /// let mut put = pin!(q.put(2));
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(put.as_mut().poll(&mut cx).is_pending()); // waits: full
    /// assert_eq!(put.as_mut().cancel(), Some(2)); // not lost
    /// assert_eq!(q.putting(), 0);
    /// ```
    pub fn cancel(self: Pin<&mut Self>) -> Option<T> {
        let this = self.into_ref();
        // A notifier that handed the item over took it from the slot; in
        // every other case it is still there.
        cancel_entry(this.queue, &this.entry())
    }
}

impl<T, S: Storage<T>> Withdraw for Put<'_, T, S> {
    /// The item, given back when the put is withdrawn before it went in.
    type Left = T;

    /// Gives the put up (after a time-out or a cancelled wait): `Err(item)`
    /// if it was withdrawn with the item still in hand, else the outcome a
    /// notifier settled first (`Ok(())`: the item went in; or
    /// `Err(PutError::Closed(item))`).
    fn withdraw(self: Pin<&mut Self>) -> Result<Result<(), PutError<T>>, T> {
        let this = self.into_ref();
        let entry = this.entry();
        let node = &entry.node;
        // Never queued (IDLE): the item is still in the slot. Queued: a
        // node that cannot be removed any more was notified.
        let settled = match node.state() {
            IDLE => false,
            DONE => panic!("polysync: a queue future was withdrawn after it completed"),
            _ => !withdraw_entry(this.queue, &entry),
        };
        // The entry is ours now: not queued, and a notification that landed
        // was published before the node was marked notified.
        node.set_done();
        if settled {
            Ok(Self::finish(&entry))
        } else {
            Err(entry
                .take()
                .expect("a putter that was not served has its item"))
        }
    }
}

impl<T, S: Storage<T>> Future for Put<'_, T, S> {
    type Output = Result<(), PutError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.into_ref();
        let queue = this.queue;
        let entry = this.entry();
        poll_entry(
            queue,
            entry,
            cx,
            |guard| {
                let item = entry.take().expect("an unpolled putter has its item");
                match queue.put_locked(guard, item) {
                    Ok(waker) => Some((Ok(()), waker)),
                    Err(PutError::Full(item)) => {
                        // The node is IDLE: the entry is ours alone.
                        entry.fill(item);
                        None
                    }
                    // Closed (a put under the lock is never cancelled).
                    Err(error) => Some((Err(error), None)),
                }
            },
            Self::finish,
        )
    }
}

impl<T, S: Storage<T>> Drop for Put<'_, T, S> {
    fn drop(&mut self) {
        // A queued putter leaves; its item drops with the entry. A notified
        // one was either handed over (nothing to do) or closed (same).
        withdraw_entry(self.queue, &self.entry);
    }
}

impl<T, S: Storage<T>> std::fmt::Debug for Put<'_, T, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Put")
            .field("node", &self.entry.node)
            .finish_non_exhaustive()
    }
}

/// The future of [`GenericQueue::get`]: completes with the next item, or
/// with [`GetError::Closed`] once the queue is closed and drained.
///
/// ```
/// use polysync::queue::{GetError, Queue};
/// # futures_lite::future::block_on(async {
/// let q = Queue::unbounded();
/// q.try_put("hi").unwrap();
/// let get = q.get();
/// assert_eq!(get.await, Ok("hi"));
/// q.close();
/// assert_eq!(q.get().await, Err(GetError::Closed));
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Get<'a, T, S: Storage<T> = Fifo<T>> {
    queue: &'a GenericQueue<T, S>,
    entry: Entry<T>,
}

impl<'a, T, S: Storage<T>> Get<'a, T, S> {
    pub(super) fn new(queue: &'a GenericQueue<T, S>) -> Self {
        Get {
            queue,
            entry: Entry::new(Role::Getter, None),
        }
    }

    fn entry(self: Pin<&Self>) -> Pin<&Entry<T>> {
        // SAFETY: structural pinning: the entry is never moved out.
        unsafe { self.map_unchecked(|s| &s.entry) }
    }

    fn finish(entry: &Entry<T>) -> Result<T, GetError> {
        if entry.node.data::<Role>() == Role::Handed {
            Ok(entry.take().expect("a handed getter has its item"))
        } else {
            Err(GetError::Closed)
        }
    }

    /// Stops the get and returns the item already handed to it, if any
    /// (dropping the future instead would put that item back into the
    /// queue). Polling the future after `cancel` panics; dropping it is fine.
    ///
    /// ```
    /// use std::pin::pin;
    /// use std::task::{Context, Waker};
    ///
    /// let q = polysync::Queue::unbounded();
    /// let mut get = pin!(q.get());
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(get.as_mut().poll(&mut cx).is_pending());
    /// q.try_put(5).unwrap(); // handed straight to the waiting get
    /// assert_eq!(get.as_mut().cancel(), Some(5));
    /// assert!(q.is_empty());
    /// ```
    pub fn cancel(self: Pin<&mut Self>) -> Option<T> {
        let this = self.into_ref();
        // Only a hand-off fills a getter's slot.
        cancel_entry(this.queue, &this.entry())
    }
}

impl<T, S: Storage<T>> Withdraw for Get<'_, T, S> {
    type Left = ();

    /// Gives the get up (after a time-out or a cancelled wait): `Err(())` if
    /// it was withdrawn with nothing handed to it, else the outcome a
    /// notifier settled first (the item it handed over, which the caller
    /// now owns, or `Err(GetError::Closed)`).
    fn withdraw(self: Pin<&mut Self>) -> Result<Result<T, GetError>, ()> {
        let this = self.into_ref();
        let entry = this.entry();
        let node = &entry.node;
        let settled = match node.state() {
            IDLE => false,
            DONE => panic!("polysync: a queue future was withdrawn after it completed"),
            _ => !withdraw_entry(this.queue, &entry),
        };
        node.set_done();
        if settled {
            Ok(Self::finish(&entry))
        } else {
            Err(())
        }
    }
}

impl<T, S: Storage<T>> Future for Get<'_, T, S> {
    type Output = Result<T, GetError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.into_ref();
        let queue = this.queue;
        poll_entry(
            queue,
            this.entry(),
            cx,
            |guard| match queue.get_locked(guard) {
                Ok((item, waker)) => Some((Ok(item), waker)),
                Err(GetError::Empty) => None,
                // Closed (a get under the lock is never cancelled).
                Err(error) => Some((Err(error), None)),
            },
            Self::finish,
        )
    }
}

impl<T, S: Storage<T>> Drop for Get<'_, T, S> {
    fn drop(&mut self) {
        let entry = &self.entry;
        if withdraw_entry(self.queue, entry) || entry.node.state() != NOTIFIED {
            return;
        }
        // Handed an item it will never return: put it back (or hand it to
        // the next getter).
        let item = if entry.node.data::<Role>() == Role::Handed {
            entry.take()
        } else {
            None
        };
        if let Some(item) = item {
            self.queue.restore(item);
        }
    }
}

impl<T, S: Storage<T>> std::fmt::Debug for Get<'_, T, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Get")
            .field("node", &self.entry.node)
            .finish_non_exhaustive()
    }
}
