//! The futures of [`GenericQueue::put`] and [`GenericQueue::get`]: the
//! crate's one wait state machine ([`Wait`]) run with the queue's protocol
//! (`protocol.rs`), plus what each side makes of a finished entry.

use super::entry::{Entry, Item, Role};
use super::error::{GetError, PutError};
use super::generic::GenericQueue;
use super::storage::{Fifo, Storage};
use crate::lowlevel::wait::{Wait, Withdraw};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// The core wait of a put or a get, projected from its pinned future.
type QueueWait<'a, T, S> = Wait<'a, GenericQueue<T, S>>;

/// The future of [`GenericQueue::put`]: completes when the item is in the
/// queue (or handed to a getter), or with a [`PutError`] (the item inside)
/// if the queue is or gets closed first. It waits as long as it takes: no
/// other error is possible.
///
/// ```
/// use polysync::queue::{PutError, Queue};
/// # futures_lite::future::block_on(async {
/// let q = Queue::bounded(1);
/// let put = q.put(1);
/// put.await.unwrap();
/// q.close();
/// assert_eq!(q.put(2).await, Err(PutError(2)));
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Put<'a, T, S: Storage<T> = Fifo<T>> {
    /// Structurally pinned.
    wait: QueueWait<'a, T, S>,
}

impl<'a, T, S: Storage<T>> Put<'a, T, S> {
    pub(super) fn new(queue: &'a GenericQueue<T, S>, item: T) -> Self {
        Put {
            wait: Wait::with_slot(queue, Role::Putter, Item::new(Some(item))),
        }
    }

    fn wait(self: Pin<&mut Self>) -> Pin<&mut QueueWait<'a, T, S>> {
        // SAFETY: structural pinning: the wait is never moved out.
        unsafe { self.map_unchecked_mut(|s| &mut s.wait) }
    }

    fn finish(entry: &Entry<Item<T>>) -> Result<(), PutError<T>> {
        if entry.node.data::<Role>() == Role::Handed {
            Ok(())
        } else {
            Err(PutError(
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
        let mut wait = self.wait();
        let _ = wait.as_mut().withdraw();
        // A notifier that handed the item over took it from the slot; in
        // every other case it is still there.
        wait.entry().take()
    }
}

impl<T, S: Storage<T>> Withdraw for Put<'_, T, S> {
    /// The item, given back when the put is withdrawn before it went in.
    type Left = T;

    /// Gives the put up (after a time-out or a cancelled wait): `Err(item)`
    /// if it was withdrawn with the item still in hand, else the outcome a
    /// notifier settled first (`Ok(())`: the item went in; or
    /// `Err(PutError(item))`: closed).
    fn withdraw(self: Pin<&mut Self>) -> Result<Result<(), PutError<T>>, T> {
        let mut wait = self.wait();
        match wait.as_mut().withdraw() {
            Ok(()) => Ok(Self::finish(wait.entry())),
            Err(()) => Err(wait
                .entry()
                .take()
                .expect("a putter that was not served has its item")),
        }
    }
}

impl<T, S: Storage<T>> Future for Put<'_, T, S> {
    type Output = Result<(), PutError<T>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut wait = self.wait();
        ready!(wait.as_mut().poll(cx));
        Poll::Ready(Self::finish(wait.entry()))
    }
}

impl<T, S: Storage<T>> std::fmt::Debug for Put<'_, T, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Put")
            .field("node", &self.wait.entry().node)
            .finish_non_exhaustive()
    }
}

/// The future of [`GenericQueue::get`]: completes with the next item, or
/// with [`GetError`] once the queue is closed and drained. It waits as long
/// as it takes: no other error is possible.
///
/// ```
/// use polysync::queue::{GetError, Queue};
/// # futures_lite::future::block_on(async {
/// let q = Queue::unbounded();
/// q.try_put("hi").unwrap();
/// let get = q.get();
/// assert_eq!(get.await, Ok("hi"));
/// q.close();
/// assert_eq!(q.get().await, Err(GetError));
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Get<'a, T, S: Storage<T> = Fifo<T>> {
    /// Structurally pinned.
    wait: QueueWait<'a, T, S>,
}

impl<'a, T, S: Storage<T>> Get<'a, T, S> {
    pub(super) fn new(queue: &'a GenericQueue<T, S>) -> Self {
        Get {
            wait: Wait::with_slot(queue, Role::Getter, Item::new(None)),
        }
    }

    fn wait(self: Pin<&mut Self>) -> Pin<&mut QueueWait<'a, T, S>> {
        // SAFETY: structural pinning: the wait is never moved out.
        unsafe { self.map_unchecked_mut(|s| &mut s.wait) }
    }

    /// The outcome of a finished get. An item leaves the slot here, so the
    /// place it held in a bounded queue is freed (`release_held`).
    #[inline]
    fn finish(queue: &GenericQueue<T, S>, entry: &Entry<Item<T>>) -> Result<T, GetError> {
        if entry.node.data::<Role>() == Role::Handed {
            let item = entry.take().expect("a handed getter has its item");
            Ok(queue.release_held(item))
        } else {
            Err(GetError)
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
        let mut wait = self.wait();
        let _ = wait.as_mut().withdraw();
        // Only a hand-off fills a getter's slot; the item leaves it here.
        let item = wait.entry().take();
        item.map(|item| wait.protocol().release_held(item))
    }
}

impl<T, S: Storage<T>> Withdraw for Get<'_, T, S> {
    type Left = ();

    /// Gives the get up (after a time-out or a cancelled wait): `Err(())` if
    /// it was withdrawn with nothing handed to it, else the outcome a
    /// notifier settled first (the item it handed over, which the caller
    /// now owns, or `Err(GetError)`: closed and drained).
    fn withdraw(self: Pin<&mut Self>) -> Result<Result<T, GetError>, ()> {
        let mut wait = self.wait();
        wait.as_mut().withdraw()?;
        Ok(Self::finish(wait.protocol(), wait.entry()))
    }
}

impl<T, S: Storage<T>> Future for Get<'_, T, S> {
    type Output = Result<T, GetError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut wait = self.wait();
        ready!(wait.as_mut().poll(cx));
        Poll::Ready(Self::finish(wait.protocol(), wait.entry()))
    }
}

impl<T, S: Storage<T>> std::fmt::Debug for Get<'_, T, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Get")
            .field("node", &self.wait.entry().node)
            .finish_non_exhaustive()
    }
}
