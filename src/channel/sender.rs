//! The sending end of a channel: [`Sender`], [`WeakSender`] and the future
//! of an async send, [`SendFuture`].

use super::error::{SendError, TrySendError};
use super::{Shared, count_down, count_up};
use crate::lowlevel::sync::Ordering;
use crate::lowlevel::wait::Withdraw;
use crate::lowlevel::{WaitError, Waiter};
use crate::queue::Put;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The sending end of a channel ([`bounded`](super::bounded) or
/// [`unbounded`](super::unbounded)). Clone it for more producers; the
/// channel closes when the last clone drops (see the [module
/// docs](super#closing)). Every send comes in five forms (async, blocking,
/// non-blocking, with a timeout, with a deadline) plus the explicit-waiter
/// form [`send_with`](Sender::send_with); a send that fails gives the value
/// back, in a [`SendError`] (async and blocking: disconnected) or a
/// [`TrySendError`] (the forms that may give up).
///
/// ```
/// let (tx, rx) = polysync::channel::unbounded();
/// let tx2 = tx.clone();
/// std::thread::spawn(move || tx2.send_blocking(1).unwrap()).join().unwrap();
/// tx.try_send(2).unwrap();
/// drop(tx);
/// assert_eq!(rx.recv_blocking(), Ok(1));
/// assert_eq!(rx.recv_blocking(), Ok(2));
/// assert!(rx.recv_blocking().is_err()); // both senders are gone
/// ```
pub struct Sender<T> {
    pub(super) shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// A sender over `shared`, whose sender count already includes it.
    pub(super) fn from_shared(shared: Arc<Shared<T>>) -> Self {
        Sender { shared }
    }

    /// Sends `value`, waiting asynchronously while the channel is full.
    /// Fails with [`SendError`] (the value inside) if the channel is or gets
    /// closed first; it waits as long as it takes, so no other error is
    /// possible.
    ///
    /// # Cancel safety
    /// Dropping the future before it completed withdraws the send: the
    /// value was either sent (it went in before the drop) or is dropped with
    /// the future, never sent twice or half-sent. To get the value back
    /// instead, call [`SendFuture::cancel`] on the pinned future.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let (tx, rx) = polysync::channel::bounded(1);
    /// tx.send(5).await.unwrap();
    /// assert_eq!(rx.recv().await, Ok(5));
    /// # });
    /// ```
    pub fn send(&self, value: T) -> SendFuture<'_, T> {
        SendFuture {
            put: self.shared.queue.put(value),
        }
    }

    /// Sends `value`, blocking the current execution unit (an OS thread, or
    /// a green thread without blocking its carrier) while the channel is
    /// full: [`send_with`](Sender::send_with) on the unit's waiter.
    ///
    /// # Errors
    /// [`SendError`] with the value if the channel is or gets closed (the
    /// only way it fails).
    ///
    /// # Cancellation
    /// If the unit's waiter reports cancellation, the send is withdrawn, the
    /// value dropped, and the unit unwinds through [`Waiter::cancelled`]
    /// (the same holds for the timed forms). Call `send_with` to get the
    /// value back in [`TrySendError::Cancelled`] instead.
    ///
    /// ```
    /// use polysync::channel::SendError;
    /// let (tx, rx) = polysync::channel::bounded(1);
    /// tx.send_blocking("x").unwrap();
    /// assert_eq!(rx.try_recv(), Ok("x"));
    /// rx.close();
    /// assert_eq!(tx.send_blocking("y"), Err(SendError("y")));
    /// ```
    pub fn send_blocking(&self, value: T) -> Result<(), SendError<T>> {
        self.shared
            .queue
            .put_blocking(value)
            .map_err(SendError::from_put)
    }

    /// Sends `value` if the channel has room now, without waiting.
    ///
    /// # Errors
    /// [`TrySendError::Full`] or [`TrySendError::Disconnected`], with the
    /// value.
    ///
    /// ```
    /// use polysync::channel::TrySendError;
    /// let (tx, _rx) = polysync::channel::bounded(1);
    /// assert_eq!(tx.try_send(1), Ok(()));
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.shared
            .queue
            .try_put(value)
            .map_err(TrySendError::from_put)
    }

    /// Sends `value`, blocking for at most `timeout` while the channel is
    /// full.
    ///
    /// # Errors
    /// [`TrySendError::Full`] if time ran out,
    /// [`TrySendError::Disconnected`] if the channel is or gets closed; the
    /// value comes back in both.
    ///
    /// ```
    /// use polysync::channel::TrySendError;
    /// use std::time::Duration;
    /// let (tx, _rx) = polysync::channel::bounded(1);
    /// tx.try_send_for(1, Duration::ZERO).unwrap();
    /// assert_eq!(tx.try_send_for(2, Duration::from_millis(1)), Err(TrySendError::Full(2)));
    /// ```
    pub fn try_send_for(&self, value: T, timeout: Duration) -> Result<(), TrySendError<T>> {
        self.shared
            .queue
            .try_put_for(value, timeout)
            .map_err(TrySendError::from_put)
    }

    /// Sends `value`, blocking until `deadline` at the latest while the
    /// channel is full.
    ///
    /// # Errors
    /// As [`try_send_for`](Sender::try_send_for).
    ///
    /// ```
    /// use std::time::Instant;
    /// let (tx, _rx) = polysync::channel::bounded(1);
    /// assert!(tx.try_send_until(1, Instant::now()).is_ok());
    /// assert!(tx.try_send_until(2, Instant::now()).is_err());
    /// ```
    pub fn try_send_until(&self, value: T, deadline: Instant) -> Result<(), TrySendError<T>> {
        self.shared
            .queue
            .try_put_until(value, deadline)
            .map_err(TrySendError::from_put)
    }

    /// Sends `value`, blocking on `waiter` while the channel is full, until
    /// `deadline` at the latest: the entry point that every blocking send
    /// runs with the current unit's waiter. Library code that holds its own
    /// [`Waiter`] calls it directly.
    ///
    /// # Errors
    /// The value comes back in every error: [`TrySendError::Disconnected`]
    /// if the channel is or gets closed, [`TrySendError::Full`] if
    /// `deadline` passed, [`TrySendError::Cancelled`] if `waiter` reported
    /// cancellation.
    /// The send is withdrawn either way; if the value went in while the send
    /// was giving up, the send succeeded.
    ///
    /// ```
    /// use polysync::channel::TrySendError;
    /// use polysync::lowlevel::ThreadWaiter;
    /// use std::time::Instant;
    ///
    /// let (tx, rx) = polysync::channel::bounded(1);
    /// ThreadWaiter::with_current(|w| {
    ///     tx.send_with(1, w, None).unwrap();
    ///     let now = Some(Instant::now());
    ///     assert_eq!(tx.send_with(2, w, now), Err(TrySendError::Full(2)));
    ///     drop(rx);
    ///     assert_eq!(tx.send_with(3, w, None), Err(TrySendError::Disconnected(3)));
    /// });
    /// ```
    pub fn send_with<W: Waiter + ?Sized>(
        &self,
        value: T,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<(), TrySendError<T>> {
        self.shared
            .queue
            .put_with(value, waiter, deadline)
            .map_err(TrySendError::from_put)
    }

    /// Sends `value`, waiting asynchronously while the channel is full, but
    /// only until `timer` completes: the async send with a timeout, which
    /// gives the value back when time runs out. polysync has no clock of
    /// its own, so `timer` is any future that completes when the time is up
    /// (its output is ignored): `tokio::time::sleep(d)`,
    /// `async_io::Timer::after(d)`, or any other "give up now" signal.
    ///
    /// The send is tried first: a send that can go in at once succeeds
    /// even if `timer` is already complete.
    ///
    /// # Errors
    /// The value comes back in every error: [`TrySendError::Full`] if
    /// `timer` completed first (as the blocking
    /// [`try_send_for`](Sender::try_send_for) says it),
    /// [`TrySendError::Disconnected`] if the channel is or gets closed. Never
    /// [`TrySendError::Cancelled`].
    ///
    /// # Cancel safety
    /// As [`send`](Sender::send): dropping the future before it completed
    /// withdraws the send, and the value is either sent or dropped with the
    /// future. [`SendTimeoutFuture::cancel`] gives it back instead.
    ///
    /// ```
    /// use polysync::channel::TrySendError;
    /// # futures_lite::future::block_on(async {
    /// let (tx, rx) = polysync::channel::bounded(1);
    /// // A timer that has run out already: the send cannot wait.
    /// let expired = std::future::ready(());
    /// assert_eq!(tx.send_timeout(1, expired).await, Ok(())); // room: sent
    /// let expired = std::future::ready(());
    /// assert_eq!(tx.send_timeout(2, expired).await, Err(TrySendError::Full(2)));
    /// drop(rx);
    /// let never = std::future::pending::<()>();
    /// assert_eq!(tx.send_timeout(3, never).await, Err(TrySendError::Disconnected(3)));
    /// # });
    /// ```
    pub fn send_timeout<F: Future>(&self, value: T, timer: F) -> SendTimeoutFuture<'_, T, F> {
        SendTimeoutFuture {
            put: self.shared.queue.put(value),
            timer,
            done: false,
        }
    }

    /// Waits asynchronously until the channel is closed: every
    /// [`Receiver`](super::Receiver) dropped, or [`close`](Sender::close)
    /// called on either end. From then on every send fails (and
    /// [`is_closed`](Sender::is_closed) is `true`). A producer uses it to
    /// stop work nobody will receive, e.g. in a `select!` beside the work.
    ///
    /// tokio's `Sender::closed` resolves in the same cases.
    ///
    /// # Cancel safety
    /// Dropping the future changes nothing (it only waits).
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let (tx, rx) = polysync::channel::unbounded::<u8>();
    /// std::thread::spawn(move || drop(rx));
    /// tx.closed().await; // the receiver is gone
    /// assert!(tx.try_send(1).unwrap_err().is_disconnected());
    /// # });
    /// ```
    pub fn closed(&self) -> ClosedFuture<'_> {
        ClosedFuture::new(self.shared.queue.closed_event())
    }

    /// Blocks the current execution unit until the channel is closed (see
    /// [`closed`](Sender::closed)): [`closed_with`](Sender::closed_with) on
    /// the unit's waiter.
    ///
    /// # Cancellation
    /// If the unit's waiter reports cancellation, the unit unwinds through
    /// [`Waiter::cancelled`].
    ///
    /// ```
    /// let (tx, rx) = polysync::channel::bounded::<u8>(1);
    /// std::thread::spawn(move || rx.close());
    /// tx.closed_blocking();
    /// assert!(tx.is_closed());
    /// ```
    pub fn closed_blocking(&self) {
        self.shared.queue.closed_event().wait_blocking();
    }

    /// Blocks on `waiter` until the channel is closed (see
    /// [`closed`](Sender::closed)), until `deadline` at the latest.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] if `deadline` passed first,
    /// [`WaitError::Cancelled`] if `waiter` reported cancellation.
    ///
    /// ```
    /// use polysync::lowlevel::{ThreadWaiter, WaitError};
    /// use std::time::Instant;
    ///
    /// let (tx, rx) = polysync::channel::unbounded::<u8>();
    /// ThreadWaiter::with_current(|w| {
    ///     assert_eq!(tx.closed_with(w, Some(Instant::now())), Err(WaitError::TimedOut));
    ///     drop(rx);
    ///     assert_eq!(tx.closed_with(w, None), Ok(()));
    /// });
    /// ```
    pub fn closed_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<(), WaitError> {
        self.shared.queue.closed_event().wait_with(waiter, deadline)
    }

    // `close`, `is_closed`, `len`, `is_empty`, `is_full`, `capacity`,
    // `sender_count`, `receiver_count`, `sending`, `receiving`: alike on
    // both ends, defined once (`state.rs`).
    end_state_methods!("tx", "rx");

    /// Whether `other` sends into the same channel.
    ///
    /// ```
    /// let (a, _rx) = polysync::channel::unbounded::<u8>();
    /// let (b, _rx2) = polysync::channel::unbounded::<u8>();
    /// assert!(a.same_channel(&a.clone()));
    /// assert!(!a.same_channel(&b));
    /// ```
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// A [`WeakSender`] of this channel: it does not keep the channel open,
    /// and [`upgrade`](WeakSender::upgrade)s to a `Sender` while some other
    /// sender is alive.
    ///
    /// ```
    /// let (tx, rx) = polysync::channel::unbounded::<u8>();
    /// let weak = tx.downgrade();
    /// assert!(weak.upgrade().is_some());
    /// drop(tx);
    /// assert!(weak.upgrade().is_none());
    /// assert!(rx.recv_blocking().is_err()); // closed by the last (strong) sender
    /// ```
    pub fn downgrade(&self) -> WeakSender<T> {
        WeakSender {
            shared: self.shared.clone(),
        }
    }

    #[cfg(feature = "stream")]
    pub(super) fn shared(&self) -> &Arc<Shared<T>> {
        &self.shared
    }
}

impl<T> Clone for Sender<T> {
    /// Another sender of the same channel.
    ///
    /// ```
    /// let (tx, _rx) = polysync::channel::unbounded::<u8>();
    /// assert!(tx.clone().same_channel(&tx));
    /// ```
    fn clone(&self) -> Self {
        count_up(&self.shared.senders);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    /// The last sender closes the channel (see the [module docs](super#closing)).
    fn drop(&mut self) {
        if count_down(&self.shared.senders) {
            self.shared.queue.close();
        }
    }
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("senders", &self.sender_count())
            .field("receivers", &self.receiver_count())
            .field("queue", &self.shared.queue)
            .finish()
    }
}

/// A sender that does not keep its channel open: the channel closes when
/// the last [`Sender`] drops, weak ones or not.
/// [`upgrade`](WeakSender::upgrade) gives a `Sender` while a strong one is
/// still alive. Made by [`Sender::downgrade`].
///
/// ```
/// let (tx, rx) = polysync::channel::unbounded();
/// let weak = tx.downgrade();
/// weak.upgrade().unwrap().try_send(1).unwrap();
/// drop(tx);
/// assert!(weak.upgrade().is_none());
/// assert_eq!(rx.try_recv(), Ok(1));
/// ```
pub struct WeakSender<T> {
    /// Keeps the memory alive, not the channel open: it is not counted in
    /// `senders`.
    shared: Arc<Shared<T>>,
}

impl<T> WeakSender<T> {
    /// A [`Sender`] of the channel, if any strong sender is still alive;
    /// `None` once the last one dropped (the channel is closed for good by
    /// then). An explicitly [closed](Sender::close) channel with live senders
    /// still upgrades; its sends fail.
    ///
    /// ```
    /// let (tx, _rx) = polysync::channel::unbounded::<u8>();
    /// let weak = tx.downgrade();
    /// let tx2 = weak.upgrade().unwrap();
    /// assert_eq!(tx.sender_count(), 2);
    /// drop((tx, tx2));
    /// assert!(weak.upgrade().is_none());
    /// ```
    pub fn upgrade(&self) -> Option<Sender<T>> {
        let count = &self.shared.senders;
        let mut now = count.load(Ordering::Relaxed);
        loop {
            if now == 0 {
                // The last sender dropped and closed the channel: a new
                // sender must not bring it back.
                return None;
            }
            match count.compare_exchange_weak(now, now + 1, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Some(Sender::from_shared(self.shared.clone())),
                Err(actual) => now = actual,
            }
        }
    }

    /// The number of live (strong) [`Sender`]s of this channel (a snapshot).
    ///
    /// ```
    /// let (tx, _rx) = polysync::channel::unbounded::<u8>();
    /// let weak = tx.downgrade();
    /// assert_eq!(weak.sender_count(), 1);
    /// drop(tx);
    /// assert_eq!(weak.sender_count(), 0);
    /// ```
    pub fn sender_count(&self) -> usize {
        self.shared.senders.load(Ordering::Relaxed) as usize
    }
}

impl<T> Clone for WeakSender<T> {
    /// Another weak sender of the same channel.
    ///
    /// ```
    /// let (tx, _rx) = polysync::channel::unbounded::<u8>();
    /// let weak = tx.downgrade().clone();
    /// assert!(weak.upgrade().unwrap().same_channel(&tx));
    /// ```
    fn clone(&self) -> Self {
        WeakSender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> std::fmt::Debug for WeakSender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeakSender")
            .field("senders", &self.sender_count())
            .finish_non_exhaustive()
    }
}

/// The future of [`Sender::send`]: completes when the value is in the
/// channel (or handed to a waiting receiver), or with a [`SendError`] (the
/// value inside) if the channel is or gets disconnected first. It waits as
/// long as it takes: no other error is possible.
///
/// ```
/// use polysync::channel::SendError;
/// # futures_lite::future::block_on(async {
/// let (tx, rx) = polysync::channel::bounded(1);
/// let send = tx.send(1);
/// send.await.unwrap();
/// drop(rx);
/// assert_eq!(tx.send(2).await, Err(SendError(2)));
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct SendFuture<'a, T> {
    /// Structurally pinned.
    put: Put<'a, T>,
}

impl<'a, T> SendFuture<'a, T> {
    fn put(self: Pin<&mut Self>) -> Pin<&mut Put<'a, T>> {
        // SAFETY: structural pinning: `put` is never moved out of `self`,
        // and `SendFuture` has no `Drop` or `Unpin` impl of its own.
        unsafe { self.map_unchecked_mut(|s| &mut s.put) }
    }

    /// Stops the send and gives the value back unless it is already in the
    /// channel (or with a receiver): the cancel-safe way to give up a send,
    /// e.g. in a `select!`. `None` means the value was sent. Polling the
    /// future after `cancel` panics; dropping it is fine.
    ///
    /// ```
    /// use std::pin::pin;
    /// use std::task::{Context, Waker};
    ///
    /// let (tx, rx) = polysync::channel::bounded(1);
    /// tx.try_send(1).unwrap();
    /// let mut send = pin!(tx.send(2));
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(send.as_mut().poll(&mut cx).is_pending()); // full: waits
    /// assert_eq!(send.as_mut().cancel(), Some(2)); // not lost
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn cancel(self: Pin<&mut Self>) -> Option<T> {
        self.put().cancel()
    }
}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.put()
            .poll(cx)
            .map(|done| done.map_err(SendError::from_put))
    }
}

impl<T> std::fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendFuture")
            .field("put", &self.put)
            .finish()
    }
}

/// The future of [`Sender::send_timeout`]: completes when the value is in
/// the channel, or with [`TrySendError::Full`] (the value inside) once its
/// timer completed first, or [`TrySendError::Disconnected`] (the value
/// inside) if the channel is or gets closed.
///
/// ```
/// use polysync::channel::TrySendError;
/// # futures_lite::future::block_on(async {
/// let (tx, _rx) = polysync::channel::bounded(1);
/// tx.try_send(0).unwrap(); // full from now on
/// let send = tx.send_timeout(1, std::future::ready(()));
/// assert_eq!(send.await, Err(TrySendError::Full(1)));
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct SendTimeoutFuture<'a, T, F> {
    /// Structurally pinned.
    put: Put<'a, T>,
    /// Structurally pinned.
    timer: F,
    /// The put was withdrawn (the timer completed): polling again is a bug.
    done: bool,
}

impl<'a, T, F> SendTimeoutFuture<'a, T, F> {
    fn project(self: Pin<&mut Self>) -> (Pin<&mut Put<'a, T>>, Pin<&mut F>, &mut bool) {
        // SAFETY: structural pinning of `put` and `timer`: neither is ever
        // moved out of `self`, and `SendTimeoutFuture` has no `Drop` or
        // `Unpin` impl of its own; `done` is not pinned (a plain `bool`).
        unsafe {
            let this = self.get_unchecked_mut();
            (
                Pin::new_unchecked(&mut this.put),
                Pin::new_unchecked(&mut this.timer),
                &mut this.done,
            )
        }
    }

    /// Stops the send and gives the value back unless it is already in the
    /// channel, as [`SendFuture::cancel`]. `None` means the value was sent.
    ///
    /// ```
    /// use std::pin::pin;
    /// use std::task::{Context, Waker};
    ///
    /// let (tx, _rx) = polysync::channel::bounded(1);
    /// tx.try_send(1).unwrap();
    /// let mut send = pin!(tx.send_timeout(2, std::future::pending::<()>()));
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(send.as_mut().poll(&mut cx).is_pending()); // full: waits
    /// assert_eq!(send.as_mut().cancel(), Some(2));
    /// ```
    pub fn cancel(self: Pin<&mut Self>) -> Option<T> {
        let (put, _, done) = self.project();
        if *done {
            return None;
        }
        *done = true;
        put.cancel()
    }
}

impl<T, F: Future> Future for SendTimeoutFuture<'_, T, F> {
    type Output = Result<(), TrySendError<T>>;

    /// # Panics
    /// If polled after it completed or after [`cancel`](Self::cancel).
    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (mut put, timer, done) = self.project();
        assert!(
            !*done,
            "polysync: SendTimeoutFuture polled after it completed"
        );
        if let Poll::Ready(sent) = put.as_mut().poll(cx) {
            *done = true;
            return Poll::Ready(sent.map_err(|e| TrySendError::Disconnected(e.0)));
        }
        if timer.poll(cx).is_pending() {
            return Poll::Pending;
        }
        // Time is up: withdraw the send. A receiver or a close may have
        // settled it first; that outcome wins.
        *done = true;
        Poll::Ready(match put.withdraw() {
            Err(value) => Err(TrySendError::Full(value)),
            Ok(Ok(())) => Ok(()),
            Ok(Err(closed)) => Err(TrySendError::Disconnected(closed.0)),
        })
    }
}

impl<T, F> std::fmt::Debug for SendTimeoutFuture<'_, T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendTimeoutFuture")
            .field("put", &self.put)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// The future of [`Sender::closed`] (and of the oneshot
/// [`Sender::closed`](super::oneshot::Sender::closed)): completes once the
/// channel is closed. Dropping it changes nothing.
///
/// ```
/// # futures_lite::future::block_on(async {
/// let (tx, rx) = polysync::channel::unbounded::<u8>();
/// let closed = tx.closed();
/// drop(rx);
/// closed.await;
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct ClosedFuture<'a> {
    /// Structurally pinned.
    wait: crate::event::Wait<'a>,
}

impl<'a> ClosedFuture<'a> {
    pub(super) fn new(event: &'a crate::Event) -> Self {
        ClosedFuture { wait: event.wait() }
    }
}

impl Future for ClosedFuture<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: structural pinning: `wait` is never moved out of `self`,
        // and `ClosedFuture` has no `Drop` or `Unpin` impl of its own.
        unsafe { self.map_unchecked_mut(|s| &mut s.wait) }.poll(cx)
    }
}
