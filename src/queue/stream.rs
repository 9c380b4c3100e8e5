//! [`QueueStream`]: a queue's getting side as a `futures_core::Stream`
//! (cargo feature `stream`).

use super::futures::Get;
use super::generic::GenericQueue;
use super::storage::{Fifo, Storage};
use futures_core::{FusedStream, Stream};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

impl<T, S: Storage<T>> GenericQueue<T, S> {
    /// The getting side as a [`Stream`] (cargo feature `stream`): yields items in the queue's order
    /// and ends once the queue is closed and drained. Several streams (and
    /// other getters) may share a queue; each item goes to one of them.
    ///
    /// # Cancel safety
    /// Dropping the stream (or a `next()` future) while it waits loses
    /// nothing: an item already handed to it goes back into the queue as
    /// the next one out, or to the next waiting getter.
    ///
    /// The stream borrows the queue. For a `'static` stream over an
    /// `Arc<Queue<T>>`, `futures_lite::stream::unfold(queue, |q| async move
    /// { q.get().await.ok().map(|item| (item, q)) })` does the same.
    ///
    /// ```
    /// use futures_lite::StreamExt;
    /// # futures_lite::future::block_on(async {
    /// let q = polysync::Queue::unbounded();
    /// for i in 1..=3 {
    ///     q.try_put(i).unwrap();
    /// }
    /// q.close();
    /// let doubled: Vec<i32> = q.stream().map(|i| i * 2).collect().await;
    /// assert_eq!(doubled, [2, 4, 6]);
    /// # });
    /// ```
    pub fn stream(&self) -> QueueStream<'_, T, S> {
        QueueStream {
            queue: self,
            get: None,
            ended: false,
        }
    }
}

/// The [`Stream`] of [`GenericQueue::stream`].
///
/// ```
/// use futures_lite::StreamExt;
/// # futures_lite::future::block_on(async {
/// let q = polysync::LifoQueue::unbounded();
/// q.try_put('a').unwrap();
/// q.try_put('b').unwrap();
/// let mut items = q.stream();
/// assert_eq!(items.next().await, Some('b'));
/// # });
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct QueueStream<'a, T, S: Storage<T> = Fifo<T>> {
    queue: &'a GenericQueue<T, S>,
    /// The get in progress. Boxed once per stream and reused for every item
    /// (no allocation per item), so that the stream itself is `Unpin` and
    /// `StreamExt::next` works on it without pinning.
    get: Option<Pin<Box<Get<'a, T, S>>>>,
    ended: bool,
}

impl<T, S: Storage<T>> Stream for QueueStream<'_, T, S> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        let queue = this.queue;
        let get = this.get.get_or_insert_with(|| Box::pin(queue.get()));
        let result = std::task::ready!(get.as_mut().poll(cx));
        // Ready for the next item: a fresh get in the same box.
        get.set(queue.get());
        match result {
            Ok(item) => Poll::Ready(Some(item)),
            Err(_) => {
                this.ended = true;
                this.get = None;
                Poll::Ready(None)
            }
        }
    }
}

impl<T, S: Storage<T>> FusedStream for QueueStream<'_, T, S> {
    fn is_terminated(&self) -> bool {
        self.ended
    }
}

impl<T, S: Storage<T>> std::fmt::Debug for QueueStream<'_, T, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueStream")
            .field("queue", self.queue)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}
