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

    /// Receives up to `limit` values into `buffer` (appended; what it held
    /// stays), waiting asynchronously while the channel is empty: once one
    /// value came, it takes those that are in the channel now, up to
    /// `limit` in all, without waiting again. Returns how many it appended:
    /// `0` only if `limit == 0` (at once, without waiting) or once the
    /// channel is closed and drained (tokio's `recv_many` contract).
    ///
    /// `buffer` grows as `Vec::push` grows it (the wait itself allocates
    /// nothing): reserve it beforehand to make it allocation-free.
    ///
    /// # Cancel safety
    /// As [`recv`](Receiver::recv): dropping the future never loses a
    /// value, and `buffer` is written only when the future completes.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let (tx, rx) = polysync::channel::unbounded();
    /// for i in 0..5 {
    ///     tx.try_send(i).unwrap();
    /// }
    /// let mut buffer = Vec::with_capacity(3);
    /// assert_eq!(rx.recv_many(&mut buffer, 3).await, 3);
    /// assert_eq!(rx.recv_many(&mut buffer, 3).await, 2); // all there is
    /// assert_eq!(buffer, [0, 1, 2, 3, 4]);
    /// drop(tx);
    /// assert_eq!(rx.recv_many(&mut buffer, 3).await, 0); // closed and drained
    /// # });
    /// ```
    pub fn recv_many<'b>(&self, buffer: &'b mut Vec<T>, limit: usize) -> RecvManyFuture<'_, 'b, T> {
        RecvManyFuture {
            get: self.shared.queue.get(),
            receiver: self,
            buffer,
            limit,
        }
    }

    /// Receives up to `limit` values into `buffer`, blocking the current
    /// execution unit while the channel is empty; returns how many, as
    /// [`recv_many`](Receiver::recv_many) (`0` only if `limit == 0` or once
    /// the channel is closed and drained).
    ///
    /// # Cancellation
    /// As [`recv_blocking`](Receiver::recv_blocking): the unit unwinds
    /// through [`Waiter::cancelled`], nothing taken.
    ///
    /// ```
    /// let (tx, rx) = polysync::channel::bounded(4);
    /// std::thread::spawn(move || {
    ///     for i in 0..3 {
    ///         tx.send_blocking(i).unwrap();
    ///     }
    /// });
    /// let mut buffer = Vec::new();
    /// while rx.recv_many_blocking(&mut buffer, 2) > 0 {}
    /// assert_eq!(buffer, [0, 1, 2]);
    /// ```
    pub fn recv_many_blocking(&self, buffer: &mut Vec<T>, limit: usize) -> usize {
        if limit == 0 {
            return 0;
        }
        match self.recv_blocking() {
            Ok(first) => self.take_more(buffer, first, limit),
            Err(RecvError) => 0,
        }
    }

    /// Receives up to `limit` values into `buffer` without waiting; returns
    /// how many (at least 1, or `0` if `limit == 0`).
    ///
    /// # Errors
    /// As [`try_recv`](Receiver::try_recv) when no value is there:
    /// [`TryRecvError::Empty`], or [`TryRecvError::Disconnected`] once the
    /// channel is closed and drained.
    ///
    /// ```
    /// use polysync::channel::TryRecvError;
    /// let (tx, rx) = polysync::channel::unbounded();
    /// let mut buffer = Vec::new();
    /// assert_eq!(rx.try_recv_many(&mut buffer, 8), Err(TryRecvError::Empty));
    /// tx.try_send('a').unwrap();
    /// tx.try_send('b').unwrap();
    /// assert_eq!(rx.try_recv_many(&mut buffer, 8), Ok(2));
    /// assert_eq!(buffer, ['a', 'b']);
    /// ```
    pub fn try_recv_many(&self, buffer: &mut Vec<T>, limit: usize) -> Result<usize, TryRecvError> {
        if limit == 0 {
            return Ok(0);
        }
        let first = self.try_recv()?;
        Ok(self.take_more(buffer, first, limit))
    }

    /// Receives up to `limit` values into `buffer`, blocking for at most
    /// `timeout` while the channel is empty; returns how many.
    ///
    /// # Errors
    /// As [`try_recv_for`](Receiver::try_recv_for).
    ///
    /// ```
    /// use polysync::channel::TryRecvError;
    /// use std::time::Duration;
    /// let (tx, rx) = polysync::channel::unbounded();
    /// let mut buffer = Vec::new();
    /// let short = Duration::from_millis(1);
    /// assert_eq!(rx.try_recv_many_for(&mut buffer, 2, short), Err(TryRecvError::Empty));
    /// tx.try_send(1).unwrap();
    /// assert_eq!(rx.try_recv_many_for(&mut buffer, 2, short), Ok(1));
    /// ```
    pub fn try_recv_many_for(
        &self,
        buffer: &mut Vec<T>,
        limit: usize,
        timeout: Duration,
    ) -> Result<usize, TryRecvError> {
        if limit == 0 {
            return Ok(0);
        }
        let first = self.try_recv_for(timeout)?;
        Ok(self.take_more(buffer, first, limit))
    }

    /// Receives up to `limit` values into `buffer`, blocking until
    /// `deadline` at the latest while the channel is empty; returns how
    /// many.
    ///
    /// # Errors
    /// As [`try_recv_until`](Receiver::try_recv_until).
    ///
    /// ```
    /// let (tx, rx) = polysync::channel::unbounded();
    /// tx.try_send(1).unwrap();
    /// let mut buffer = Vec::new();
    /// let now = std::time::Instant::now();
    /// assert_eq!(rx.try_recv_many_until(&mut buffer, 2, now), Ok(1));
    /// ```
    pub fn try_recv_many_until(
        &self,
        buffer: &mut Vec<T>,
        limit: usize,
        deadline: Instant,
    ) -> Result<usize, TryRecvError> {
        if limit == 0 {
            return Ok(0);
        }
        let first = self.try_recv_until(deadline)?;
        Ok(self.take_more(buffer, first, limit))
    }

    /// Receives up to `limit` values into `buffer`, blocking on `waiter`
    /// while the channel is empty, until `deadline` at the latest; returns
    /// how many (`Ok(0)` only if `limit == 0`).
    ///
    /// # Errors
    /// As [`recv_with`](Receiver::recv_with).
    ///
    /// ```
    /// use polysync::channel::TryRecvError;
    /// use polysync::lowlevel::ThreadWaiter;
    ///
    /// let (tx, rx) = polysync::channel::unbounded();
    /// tx.try_send(1).unwrap();
    /// let mut buffer = Vec::new();
    /// ThreadWaiter::with_current(|w| {
    ///     assert_eq!(rx.recv_many_with(&mut buffer, 4, w, None), Ok(1));
    ///     drop(tx);
    ///     assert_eq!(rx.recv_many_with(&mut buffer, 4, w, None), Err(TryRecvError::Disconnected));
    /// });
    /// ```
    pub fn recv_many_with<W: Waiter + ?Sized>(
        &self,
        buffer: &mut Vec<T>,
        limit: usize,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<usize, TryRecvError> {
        if limit == 0 {
            return Ok(0);
        }
        let first = self.recv_with(waiter, deadline)?;
        Ok(self.take_more(buffer, first, limit))
    }

    /// Appends `first`, then the values in the channel now, up to `limit`
    /// (at least 1) in all, without waiting; returns how many.
    fn take_more(&self, buffer: &mut Vec<T>, first: T, limit: usize) -> usize {
        buffer.push(first);
        let mut taken = 1;
        while taken < limit {
            match self.shared.queue.try_get() {
                Ok(value) => {
                    buffer.push(value);
                    taken += 1;
                }
                Err(_) => break,
            }
        }
        taken
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

/// The future of [`Receiver::recv_many`]: completes with the number of
/// values it appended to the buffer, `0` only if the limit is `0` or once
/// the channel is closed and drained.
///
/// ```
/// # futures_lite::future::block_on(async {
/// let (tx, rx) = polysync::channel::unbounded();
/// tx.try_send(1).unwrap();
/// let mut buffer = Vec::new();
/// let many = rx.recv_many(&mut buffer, 10);
/// assert_eq!(many.await, 1);
/// assert_eq!(buffer, [1]);
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct RecvManyFuture<'a, 'b, T> {
    /// Structurally pinned.
    get: Get<'a, T>,
    receiver: &'a Receiver<T>,
    buffer: &'b mut Vec<T>,
    limit: usize,
}

impl<T> Future for RecvManyFuture<'_, '_, T> {
    type Output = usize;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        // SAFETY: structural pinning of `get` only: it is never moved out of
        // `self`, and `RecvManyFuture` has no `Drop` or `Unpin` impl of its
        // own; the other fields are not pinned (references and a number).
        let this = unsafe { self.get_unchecked_mut() };
        if this.limit == 0 {
            return Poll::Ready(0);
        }
        // SAFETY: as above: `get` stays where it is.
        let get = unsafe { Pin::new_unchecked(&mut this.get) };
        match get.poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(first)) => {
                Poll::Ready(this.receiver.take_more(this.buffer, first, this.limit))
            }
            Poll::Ready(Err(_)) => Poll::Ready(0),
        }
    }
}

impl<T> std::fmt::Debug for RecvManyFuture<'_, '_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvManyFuture")
            .field("get", &self.get)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}
