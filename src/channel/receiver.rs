//! The receiving end of a channel: [`Receiver`] and the future of an async
//! receive, [`RecvFuture`].

use super::error::{RecvError, TryRecvError};
use super::{Shared, count_down, count_up};
use crate::lowlevel::Waiter;
use crate::queue::Get;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The receiving end of a channel ([`bounded`](super::bounded) or
/// [`unbounded`](super::unbounded)). Clone it for more consumers: each value
/// goes to exactly one of them, waiting receivers served strictly FIFO
/// across threads, tasks and green threads. When the last clone drops, the
/// channel closes and the values left in it are dropped (see the [module
/// docs](super#closing)). Every receive comes in five forms plus
/// [`recv_with`](Receiver::recv_with); a receive that fails says why, in a
/// [`RecvError`] (async and blocking: disconnected and drained) or a
/// [`TryRecvError`] (the forms that may give up).
///
/// ```
/// use polysync::channel::TryRecvError;
/// use std::time::Duration;
///
/// let (tx, rx) = polysync::channel::bounded(8);
/// let rx2 = rx.clone();
/// tx.try_send(1).unwrap();
/// tx.try_send(2).unwrap();
/// assert_eq!(rx.try_recv(), Ok(1));
/// assert_eq!(rx2.recv_blocking(), Ok(2));
/// assert_eq!(rx.try_recv_for(Duration::from_millis(1)), Err(TryRecvError::Empty));
/// ```
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Receiver<T> {
    /// A receiver over `shared`, whose receiver count already includes it.
    pub(super) fn from_shared(shared: Arc<Shared<T>>) -> Self {
        Receiver { shared }
    }

    /// Receives the next value, waiting asynchronously while the channel is
    /// empty. Fails with [`RecvError`] once the channel is closed (every
    /// sender dropped) and drained; it waits as long as it takes, so no
    /// other error is possible.
    ///
    /// # Cancel safety
    /// Dropping the future never loses a value: it withdraws the receive,
    /// and a value already handed to it goes back into the channel as the
    /// next one out, or straight to the next waiting receiver. To keep such
    /// a value instead, call [`RecvFuture::cancel`] on the pinned future.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let (tx, rx) = polysync::channel::unbounded();
    /// tx.try_send(3).unwrap();
    /// assert_eq!(rx.recv().await, Ok(3));
    /// drop(tx);
    /// assert!(rx.recv().await.is_err()); // disconnected and drained
    /// # });
    /// ```
    pub fn recv(&self) -> RecvFuture<'_, T> {
        RecvFuture {
            get: self.shared.queue.get(),
        }
    }

    /// Receives the next value, blocking the current execution unit while
    /// the channel is empty: [`recv_with`](Receiver::recv_with) on the
    /// unit's waiter.
    ///
    /// # Errors
    /// [`RecvError`] once the channel is closed and drained (the only way
    /// it fails).
    ///
    /// # Cancellation
    /// If the unit's waiter reports cancellation, the receive is withdrawn
    /// (nothing is taken) and the unit unwinds through
    /// [`Waiter::cancelled`]; the same holds for the timed forms. A value
    /// handed over just before is returned instead.
    ///
    /// ```
    /// let (tx, rx) = polysync::channel::unbounded();
    /// std::thread::spawn(move || tx.send_blocking(1).unwrap());
    /// assert_eq!(rx.recv_blocking(), Ok(1));
    /// assert!(rx.recv_blocking().is_err()); // disconnected and drained
    /// ```
    pub fn recv_blocking(&self) -> Result<T, RecvError> {
        self.shared
            .queue
            .get_blocking()
            .map_err(RecvError::from_get)
    }

    /// Receives the next value if there is one, without waiting.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`], or [`TryRecvError::Disconnected`] once the
    /// channel is closed and drained.
    ///
    /// ```
    /// use polysync::channel::TryRecvError;
    /// let (tx, rx) = polysync::channel::unbounded();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.try_send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.shared.queue.try_get().map_err(TryRecvError::from_get)
    }

    /// Receives the next value, blocking for at most `timeout` while the
    /// channel is empty.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] if time ran out,
    /// [`TryRecvError::Disconnected`] once the channel is closed and
    /// drained.
    ///
    /// ```
    /// use polysync::channel::TryRecvError;
    /// use std::time::Duration;
    /// let (_tx, rx) = polysync::channel::unbounded::<u8>();
    /// assert_eq!(rx.try_recv_for(Duration::from_millis(1)), Err(TryRecvError::Empty));
    /// ```
    pub fn try_recv_for(&self, timeout: Duration) -> Result<T, TryRecvError> {
        self.shared
            .queue
            .try_get_for(timeout)
            .map_err(TryRecvError::from_get)
    }

    /// Receives the next value, blocking until `deadline` at the latest
    /// while the channel is empty.
    ///
    /// # Errors
    /// As [`try_recv_for`](Receiver::try_recv_for).
    ///
    /// ```
    /// let (tx, rx) = polysync::channel::unbounded();
    /// tx.try_send(9).unwrap();
    /// assert_eq!(rx.try_recv_until(std::time::Instant::now()), Ok(9));
    /// ```
    pub fn try_recv_until(&self, deadline: Instant) -> Result<T, TryRecvError> {
        self.shared
            .queue
            .try_get_until(deadline)
            .map_err(TryRecvError::from_get)
    }

    /// Receives the next value, blocking on `waiter` while the channel is
    /// empty, until `deadline` at the latest: the entry point that every
    /// blocking receive runs with the current unit's waiter. Library code
    /// that holds its own [`Waiter`] calls it directly.
    ///
    /// # Errors
    /// [`TryRecvError::Disconnected`] once the channel is closed and
    /// drained, [`TryRecvError::Empty`] if `deadline` passed,
    /// [`TryRecvError::Cancelled`] if `waiter` reported cancellation. The
    /// receive is withdrawn either way; a value handed to it while it was
    /// giving up is returned (`Ok`), never lost.
    ///
    /// ```
    /// use polysync::channel::TryRecvError;
    /// use polysync::lowlevel::ThreadWaiter;
    /// use std::time::Instant;
    ///
    /// let (tx, rx) = polysync::channel::unbounded();
    /// tx.try_send(1).unwrap();
    /// ThreadWaiter::with_current(|w| {
    ///     assert_eq!(rx.recv_with(w, None), Ok(1));
    ///     assert_eq!(rx.recv_with(w, Some(Instant::now())), Err(TryRecvError::Empty));
    ///     drop(tx);
    ///     assert_eq!(rx.recv_with(w, None), Err(TryRecvError::Disconnected));
    /// });
    /// ```
    pub fn recv_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<T, TryRecvError> {
        self.shared
            .queue
            .get_with(waiter, deadline)
            .map_err(TryRecvError::from_get)
    }

    // `close`, `is_closed`, `len`, `is_empty`, `is_full`, `capacity`,
    // `sender_count`, `receiver_count`, `sending`, `receiving`: alike on
    // both ends, defined once (`state.rs`).
    end_state_methods!("rx", "tx");

    /// Whether `other` receives from the same channel.
    ///
    /// ```
    /// let (_tx, rx) = polysync::channel::unbounded::<u8>();
    /// assert!(rx.same_channel(&rx.clone()));
    /// ```
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    #[cfg(feature = "stream")]
    pub(super) fn shared(&self) -> &Arc<Shared<T>> {
        &self.shared
    }
}

impl<T> Clone for Receiver<T> {
    /// Another receiver of the same channel.
    ///
    /// ```
    /// let (_tx, rx) = polysync::channel::unbounded::<u8>();
    /// assert!(rx.clone().same_channel(&rx));
    /// ```
    fn clone(&self) -> Self {
        count_up(&self.shared.receivers);
        Receiver {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Receiver<T> {
    /// The last receiver closes the channel and drops the values left in it
    /// (see the [module docs](super#closing)).
    fn drop(&mut self) {
        if count_down(&self.shared.receivers) {
            self.shared.close_and_drain();
        }
    }
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("senders", &self.sender_count())
            .field("receivers", &self.receiver_count())
            .field("queue", &self.shared.queue)
            .finish()
    }
}

/// The future of [`Receiver::recv`]: completes with the next value, or with
/// [`RecvError`] once the channel is closed and drained. It waits as long as
/// it takes: no other error is possible.
///
/// ```
/// use polysync::channel::RecvError;
/// # futures_lite::future::block_on(async {
/// let (tx, rx) = polysync::channel::unbounded();
/// tx.try_send("hi").unwrap();
/// let recv = rx.recv();
/// assert_eq!(recv.await, Ok("hi"));
/// drop(tx);
/// assert_eq!(rx.recv().await, Err(RecvError));
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct RecvFuture<'a, T> {
    /// Structurally pinned.
    get: Get<'a, T>,
}

impl<'a, T> RecvFuture<'a, T> {
    fn get(self: Pin<&mut Self>) -> Pin<&mut Get<'a, T>> {
        // SAFETY: structural pinning: `get` is never moved out of `self`,
        // and `RecvFuture` has no `Drop` or `Unpin` impl of its own.
        unsafe { self.map_unchecked_mut(|s| &mut s.get) }
    }

    /// Stops the receive and returns the value already handed to it, if
    /// any (dropping the future instead would put that value back into the
    /// channel). Polling the future after `cancel` panics; dropping it is
    /// fine.
    ///
    /// ```
    /// use std::pin::pin;
    /// use std::task::{Context, Waker};
    ///
    /// let (tx, rx) = polysync::channel::unbounded();
    /// let mut recv = pin!(rx.recv());
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(recv.as_mut().poll(&mut cx).is_pending());
    /// tx.try_send(5).unwrap(); // handed straight to the waiting receive
    /// assert_eq!(recv.as_mut().cancel(), Some(5));
    /// ```
    pub fn cancel(self: Pin<&mut Self>) -> Option<T> {
        self.get().cancel()
    }
}

impl<T> Future for RecvFuture<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get()
            .poll(cx)
            .map(|done| done.map_err(RecvError::from_get))
    }
}

impl<T> std::fmt::Debug for RecvFuture<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvFuture")
            .field("get", &self.get)
            .finish()
    }
}
