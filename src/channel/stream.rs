//! A channel's ends as a `futures_core::Stream` ([`RecvStream`]) and a
//! `futures_sink::Sink` ([`SendSink`]) (cargo feature `stream`).

use super::error::{SendError, TrySendError};
use super::receiver::Receiver;
use super::sender::Sender;
use crate::Queue;
use crate::queue::{Get, Put};
use futures_core::{FusedStream, Stream};
use futures_sink::Sink;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// The channel's queue, borrowed for as long as the caller says.
///
/// # Safety
/// The caller keeps an end of the channel (`shared`'s `Arc`) alive for
/// `'static` as far as the returned reference is used: every future made
/// from it is dropped before that end.
unsafe fn extend<T: 'static>(queue: &Queue<T>) -> &'static Queue<T> {
    // SAFETY: the queue lives inside an `Arc` (it never moves) that the
    // caller keeps alive while the reference is used (the contract).
    unsafe { &*(queue as *const Queue<T>) }
}

impl<T: 'static> Receiver<T> {
    /// This receiver as a [`Stream`] (cargo feature `stream`): yields the
    /// values in order and ends once the channel is closed and drained.
    /// Several streams (and other receivers) may share a channel; each
    /// value goes to one of them.
    ///
    /// ```
    /// use futures_lite::StreamExt;
    /// # futures_lite::future::block_on(async {
    /// let (tx, rx) = polysync::channel::unbounded();
    /// for i in 1..=3 {
    ///     tx.try_send(i).unwrap();
    /// }
    /// drop(tx);
    /// let doubled: Vec<i32> = rx.into_stream().map(|i| i * 2).collect().await;
    /// assert_eq!(doubled, [2, 4, 6]);
    /// # });
    /// ```
    pub fn into_stream(self) -> RecvStream<T> {
        RecvStream {
            get: None,
            ended: false,
            receiver: self,
        }
    }
}

/// A [`Receiver`] as a [`Stream`] (cargo feature `stream`), made by
/// [`Receiver::into_stream`]. It is `Unpin` and owns its receiver, so it
/// can be moved into a task.
///
/// # Cancel safety
/// Dropping the stream (or a `next()` future) while it waits loses nothing:
/// a value already handed to it goes back into the channel as the next one
/// out, or to the next waiting receiver. Each `poll_next` registers the
/// waker it was given (the latest one is woken).
///
/// ```
/// use futures_lite::StreamExt;
/// # futures_lite::future::block_on(async {
/// let (tx, rx) = polysync::channel::bounded(2);
/// let mut values = rx.into_stream();
/// std::thread::spawn(move || {
///     for c in ['a', 'b', 'c'] {
///         tx.send_blocking(c).unwrap();
///     }
/// });
/// assert_eq!(values.next().await, Some('a'));
/// assert_eq!(values.next().await, Some('b'));
/// assert_eq!(values.next().await, Some('c'));
/// assert_eq!(values.next().await, None);
/// # });
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct RecvStream<T: 'static> {
    /// The receive in progress. Boxed once per stream and reused for every
    /// value (no allocation per value). It borrows the queue of `receiver`
    /// (see [`extend`]): declared before `receiver`, so it drops first, and
    /// never moved out or replaced by anything but a fresh receive of the
    /// same queue.
    get: Option<Pin<Box<Get<'static, T>>>>,
    ended: bool,
    receiver: Receiver<T>,
}

impl<T: 'static> RecvStream<T> {
    /// The receiver back. A value already handed to a receive in progress
    /// goes back into the channel first (nothing is lost).
    ///
    /// ```
    /// let (tx, rx) = polysync::channel::unbounded();
    /// tx.try_send(1).unwrap();
    /// let rx = rx.into_stream().into_receiver();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn into_receiver(self) -> Receiver<T> {
        let RecvStream { get, receiver, .. } = self;
        drop(get);
        receiver
    }
}

impl<T: 'static> Stream for RecvStream<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        // SAFETY: the gets made from `queue` live in `this.get`, which drops
        // before `this.receiver` (field order), the end that keeps the queue
        // alive; `into_receiver` drops it first too.
        let queue = unsafe { extend(&this.receiver.shared().queue) };
        let get = this.get.get_or_insert_with(|| Box::pin(queue.get()));
        let result = ready!(get.as_mut().poll(cx));
        match result {
            Ok(value) => {
                // Ready for the next value: a fresh (unqueued) receive in
                // the same box.
                get.set(queue.get());
                Poll::Ready(Some(value))
            }
            Err(_) => {
                this.ended = true;
                this.get = None;
                Poll::Ready(None)
            }
        }
    }
}

impl<T: 'static> FusedStream for RecvStream<T> {
    fn is_terminated(&self) -> bool {
        self.ended
    }
}

impl<T: 'static> std::fmt::Debug for RecvStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvStream")
            .field("receiver", &self.receiver)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl<T: 'static> Sender<T> {
    /// This sender as a [`Sink`] (cargo feature `stream`). The sink holds at
    /// most one value in flight: `start_send` sends at once if the channel
    /// has room, else keeps the value in a pending send that `poll_ready`,
    /// `poll_flush` and `poll_close` drive. `poll_close` flushes and then
    /// drops the sender (closing the channel if it was the last one).
    ///
    /// ```
    /// use futures_sink::Sink;
    /// use std::future::poll_fn;
    /// use std::pin::Pin;
    /// # futures_lite::future::block_on(async {
    /// let (tx, rx) = polysync::channel::bounded(1);
    /// let consumer = std::thread::spawn(move || {
    ///     std::iter::from_fn(|| rx.recv_blocking().ok()).collect::<Vec<_>>()
    /// });
    /// let mut sink = tx.into_sink();
    /// // What `futures::SinkExt::send` does, by hand:
    /// for v in 1..=3 {
    ///     poll_fn(|cx| Pin::new(&mut sink).poll_ready(cx)).await.unwrap();
    ///     Pin::new(&mut sink).start_send(v).unwrap();
    /// }
    /// poll_fn(|cx| Pin::new(&mut sink).poll_close(cx)).await.unwrap();
    /// assert_eq!(consumer.join().unwrap(), [1, 2, 3]);
    /// # });
    /// ```
    pub fn into_sink(self) -> SendSink<T> {
        SendSink {
            put: None,
            pending: false,
            sender: Some(self),
        }
    }
}

/// A [`Sender`] as a [`Sink`] (cargo feature `stream`), made by
/// [`Sender::into_sink`]; `Unpin`, and it owns its sender. Its error is
/// [`SendError`], as for an awaited send: the channel is disconnected, with
/// the value that could not be sent inside.
///
/// # Cancel safety
/// A value accepted by `start_send` that did not fit yet waits in the sink
/// until a `poll_ready`, `poll_flush` or `poll_close` completes its send.
/// Dropping the sink then drops that value, as with any sink that was not
/// flushed; [`cancel`](SendSink::cancel) takes it back instead.
///
/// ```
/// use futures_sink::Sink;
/// use std::pin::Pin;
/// use std::task::{Context, Poll, Waker};
///
/// let (tx, rx) = polysync::channel::bounded(1);
/// let mut sink = tx.into_sink();
/// let mut cx = Context::from_waker(Waker::noop());
/// Pin::new(&mut sink).start_send(1).unwrap(); // fits: sent at once
/// Pin::new(&mut sink).start_send(2).unwrap(); // full: pending in the sink
/// assert!(Pin::new(&mut sink).poll_flush(&mut cx).is_pending());
/// assert_eq!(rx.try_recv(), Ok(1)); // makes room: the pending send goes in
/// assert!(Pin::new(&mut sink).poll_flush(&mut cx).is_ready());
/// assert_eq!(rx.try_recv(), Ok(2));
/// ```
#[must_use = "sinks do nothing unless polled"]
pub struct SendSink<T: 'static> {
    /// The box of the pending send, made once per sink and reused. It
    /// borrows the queue of `sender` (see [`extend`]): declared before
    /// `sender` (so it drops first), and dropped before `sender` is taken.
    put: Option<Pin<Box<Put<'static, T>>>>,
    /// Whether `put` holds a send that has not completed.
    pending: bool,
    /// `None` after `poll_close`.
    sender: Option<Sender<T>>,
}

impl<T: 'static> SendSink<T> {
    /// Takes back the value of a pending send, unless it already went in
    /// (`None` then, or when nothing was pending).
    ///
    /// ```
    /// use futures_sink::Sink;
    /// use std::pin::Pin;
    /// let (tx, _rx) = polysync::channel::bounded(1);
    /// let mut sink = tx.into_sink();
    /// Pin::new(&mut sink).start_send('a').unwrap();
    /// Pin::new(&mut sink).start_send('b').unwrap(); // full: pending
    /// assert_eq!(sink.cancel(), Some('b'));
    /// assert_eq!(sink.cancel(), None);
    /// ```
    pub fn cancel(&mut self) -> Option<T> {
        if !std::mem::take(&mut self.pending) {
            return None;
        }
        self.put.as_mut().and_then(|put| put.as_mut().cancel())
    }

    /// Drives the pending send, if any, to completion.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SendError<T>>> {
        if !self.pending {
            return Poll::Ready(Ok(()));
        }
        let put = self.put.as_mut().expect("a pending send has its box");
        let done = ready!(put.as_mut().poll(cx));
        self.pending = false;
        Poll::Ready(done.map_err(SendError::from_put))
    }
}

impl<T: 'static> Sink<T> for SendSink<T> {
    type Error = SendError<T>;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.get_mut().poll_pending(cx)
    }

    /// Sends `value` at once if the channel has room, else keeps it pending
    /// (see [`SendSink`]).
    ///
    /// # Panics
    /// If a send is still pending (`poll_ready` did not return `Ready`
    /// first).
    #[track_caller]
    fn start_send(self: Pin<&mut Self>, value: T) -> Result<(), Self::Error> {
        let this = self.get_mut();
        assert!(
            !this.pending,
            "polysync: SendSink::start_send without a successful poll_ready"
        );
        let Some(sender) = &this.sender else {
            return Err(SendError(value));
        };
        match sender.try_send(value) {
            Ok(()) => Ok(()),
            Err(TrySendError::Disconnected(value)) => Err(SendError(value)),
            Err(TrySendError::Cancelled(_)) => {
                unreachable!("try_send never waits, so it is never cancelled")
            }
            Err(TrySendError::Full(value)) => {
                // SAFETY: the put lives in `this.put`, which drops before
                // `this.sender` (field order) and is cleared before the
                // sender is taken (`poll_close`).
                let queue = unsafe { extend(&sender.shared().queue) };
                let put = queue.put(value);
                match &mut this.put {
                    Some(boxed) => boxed.set(put),
                    None => this.put = Some(Box::pin(put)),
                }
                this.pending = true;
                Ok(())
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.get_mut().poll_pending(cx)
    }

    /// Flushes, then drops the sender (the last sender closes the channel).
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        this.put = None;
        this.sender = None;
        Poll::Ready(Ok(()))
    }
}

impl<T: 'static> std::fmt::Debug for SendSink<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendSink")
            .field("sender", &self.sender)
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}
