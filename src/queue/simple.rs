//! [`SimpleQueue`]: an unbounded FIFO queue whose puts never wait or fail.

use super::futures::Get;
use super::generic::GenericQueue;
use super::storage::Fifo;
use crate::lowlevel::{WaitError, Waiter};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// An unbounded FIFO queue with the smallest interface, as Python's
/// `queue.SimpleQueue`: [`put`](SimpleQueue::put) never waits and never
/// fails, gets come in the five forms and cannot fail except by timing out
/// (a simple queue is never closed). No task tracking.
///
/// ```
/// use polysync::SimpleQueue;
/// use std::sync::Arc;
///
/// let q = Arc::new(SimpleQueue::new());
/// let q2 = q.clone();
/// let consumer = std::thread::spawn(move || q2.get_blocking() + q2.get_blocking());
/// futures_lite::future::block_on(async {
///     q.put(1);
///     q.put(2);
/// });
/// assert_eq!(consumer.join().unwrap(), 3);
/// ```
pub struct SimpleQueue<T> {
    inner: GenericQueue<T, Fifo<T>>,
}

impl<T> SimpleQueue<T> {
    /// An empty queue.
    ///
    /// ```
    /// let q = polysync::SimpleQueue::<u8>::new();
    /// assert!(q.is_empty());
    /// ```
    pub fn new() -> Self {
        SimpleQueue {
            inner: GenericQueue::unbounded(),
        }
    }

    /// Adds `item`, handing it to the oldest waiting getter if there is one.
    /// Never waits, never fails.
    ///
    /// ```
    /// let q = polysync::SimpleQueue::new();
    /// q.put("x");
    /// assert_eq!(q.len(), 1);
    /// ```
    pub fn put(&self, item: T) {
        if self.inner.try_put(item).is_err() {
            unreachable!("an unbounded queue that is never closed accepts every put");
        }
    }

    /// Takes the oldest item, waiting asynchronously while the queue is
    /// empty.
    ///
    /// # Cancel safety
    /// Dropping the future never loses an item: it withdraws the get, and
    /// an item already handed to it goes back to the front of the queue (or
    /// straight to the next waiting getter).
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let q = polysync::SimpleQueue::new();
    /// q.put(7);
    /// assert_eq!(q.get().await, 7);
    /// # });
    /// ```
    pub fn get(&self) -> SimpleGet<'_, T> {
        SimpleGet {
            get: self.inner.get(),
        }
    }

    /// Takes the oldest item, blocking the current execution unit while the
    /// queue is empty: [`get_with`](SimpleQueue::get_with) on the unit's
    /// waiter.
    ///
    /// # Cancellation
    /// If the unit's waiter reports cancellation, the get is withdrawn
    /// (nothing is taken) and the unit unwinds through
    /// [`Waiter::cancelled`]; the same holds for `try_get_for` and
    /// `try_get_until`.
    ///
    /// ```
    /// let q = polysync::SimpleQueue::new();
    /// q.put(1);
    /// assert_eq!(q.get_blocking(), 1);
    /// ```
    pub fn get_blocking(&self) -> T {
        match self.inner.get_blocking() {
            Ok(item) => item,
            Err(super::GetError) => unreachable!("a SimpleQueue is never closed"),
        }
    }

    /// Takes the oldest item if there is one, without waiting.
    ///
    /// ```
    /// let q = polysync::SimpleQueue::new();
    /// assert_eq!(q.try_get(), None);
    /// q.put(1);
    /// assert_eq!(q.try_get(), Some(1));
    /// ```
    pub fn try_get(&self) -> Option<T> {
        never_closed(self.inner.try_get())
    }

    /// Takes the oldest item, blocking for at most `timeout` while the
    /// queue is empty; `None` if time ran out.
    ///
    /// ```
    /// let q = polysync::SimpleQueue::<u8>::new();
    /// assert_eq!(q.try_get_for(std::time::Duration::from_millis(1)), None);
    /// ```
    pub fn try_get_for(&self, timeout: Duration) -> Option<T> {
        never_closed(
            self.inner
                .get_current(crate::lowlevel::deadline_after(timeout)),
        )
    }

    /// Takes the oldest item, blocking until `deadline` at the latest while
    /// the queue is empty; `None` if time ran out.
    ///
    /// ```
    /// let q = polysync::SimpleQueue::new();
    /// q.put(2);
    /// assert_eq!(q.try_get_until(std::time::Instant::now()), Some(2));
    /// ```
    pub fn try_get_until(&self, deadline: Instant) -> Option<T> {
        never_closed(self.inner.get_current(Some(deadline)))
    }

    /// Takes the oldest item, blocking on `waiter` while the queue is
    /// empty, until `deadline` at the latest: the entry point that every
    /// blocking get runs with the current unit's waiter. Library code that
    /// knows its waiter calls it directly.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] or [`WaitError::Cancelled`]; the get is
    /// withdrawn either way, and an item handed to it while it was giving
    /// up is returned (`Ok`), never lost.
    ///
    /// ```
    /// use polysync::lowlevel::{ThreadWaiter, WaitError};
    /// use std::time::Instant;
    ///
    /// let q = polysync::SimpleQueue::new();
    /// q.put('a');
    /// ThreadWaiter::with_current(|w| {
    ///     assert_eq!(q.get_with(w, None), Ok('a'));
    ///     assert_eq!(q.get_with(w, Some(Instant::now())), Err(WaitError::TimedOut));
    /// });
    /// assert_eq!(q.getting(), 0);
    /// ```
    pub fn get_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<T, WaitError> {
        match self.inner.get_with(waiter, deadline) {
            Ok(item) => Ok(item),
            Err(super::TryGetError::Empty) => Err(WaitError::TimedOut),
            Err(super::TryGetError::Cancelled) => Err(WaitError::Cancelled),
            Err(super::TryGetError::Closed) => unreachable!("a SimpleQueue is never closed"),
        }
    }

    /// The number of items in the queue now (a snapshot).
    ///
    /// ```
    /// let q = polysync::SimpleQueue::new();
    /// q.put(());
    /// assert_eq!(q.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether the queue holds no item now (a snapshot).
    ///
    /// ```
    /// assert!(polysync::SimpleQueue::<u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// How many units wait to get now (a snapshot).
    ///
    /// ```
    /// assert_eq!(polysync::SimpleQueue::<u8>::new().getting(), 0);
    /// ```
    pub fn getting(&self) -> usize {
        self.inner.getting()
    }
}

/// A plain get's result when the queue cannot be closed: `Empty` means the
/// wait timed out (a cancelled plain get unwinds instead of returning).
fn never_closed<T>(result: Result<T, super::TryGetError>) -> Option<T> {
    match result {
        Ok(item) => Some(item),
        Err(super::TryGetError::Empty) => None,
        Err(super::TryGetError::Closed) => unreachable!("a SimpleQueue is never closed"),
        Err(super::TryGetError::Cancelled) => unreachable!("a cancelled plain get unwinds"),
    }
}

impl<T> Default for SimpleQueue<T> {
    /// An empty queue.
    ///
    /// ```
    /// let q: polysync::SimpleQueue<u8> = Default::default();
    /// assert!(q.is_empty());
    /// ```
    fn default() -> Self {
        Self::new()
    }
}

impl<T> std::fmt::Debug for SimpleQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimpleQueue")
            .field("len", &self.len())
            .field("getting", &self.getting())
            .finish()
    }
}

/// The future of [`SimpleQueue::get`]: completes with the oldest item.
///
/// ```
/// # futures_lite::future::block_on(async {
/// let q = polysync::SimpleQueue::new();
/// let get = q.get();
/// q.put('a');
/// assert_eq!(get.await, 'a');
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct SimpleGet<'a, T> {
    get: Get<'a, T>,
}

impl<T> Future for SimpleGet<'_, T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        // SAFETY: structural pinning: `get` is never moved out of `self`.
        let get = unsafe { self.map_unchecked_mut(|s| &mut s.get) };
        get.poll(cx).map(|result| match result {
            Ok(item) => item,
            Err(super::GetError) => unreachable!("a SimpleQueue is never closed"),
        })
    }
}
