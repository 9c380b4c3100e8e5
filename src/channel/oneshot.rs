//! A channel for a single value: [`channel`] (also
//! [`polysync::channel::oneshot`](fn@super::oneshot)) returns a [`Sender`]
//! whose [`send`](Sender::send) never waits and a [`Receiver`] that waits
//! for the value in five forms. Both ends work from any world: a thread can
//! send to a tokio task, a task to a green thread, and so on.
//!
//! - Dropping the sender without sending wakes the receiver with
//!   [`RecvError`] ([`TryRecvError::Disconnected`] from the forms that may
//!   give up).
//! - Dropping the receiver makes `send` fail and give the value back; a
//!   value sent but never received is dropped with the receiver. A sender
//!   waits for that with [`Sender::closed`].
//! - The [`Receiver`] is itself a future, as tokio's: `rx.await` (or
//!   `(&mut rx).await`, e.g. in a `select!`) waits for the value.
//!
//! ```
//! use polysync::channel::{RecvError, TryRecvError, oneshot};
//!
//! let (tx, rx) = oneshot::channel();
//! let worker = std::thread::spawn(move || tx.send(6 * 7).unwrap());
//! let answer = futures_lite::future::block_on(rx.recv());
//! assert_eq!(answer, Ok(42));
//! worker.join().unwrap();
//!
//! let (tx, rx) = oneshot::channel::<u8>();
//! drop(tx); // never sent
//! assert_eq!(rx.recv_blocking(), Err(RecvError));
//! assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
//!
//! let (tx, rx) = oneshot::channel();
//! drop(rx);
//! assert_eq!(tx.send("lost?"), Err("lost?")); // given back
//! ```
//!
//! # Design
//!
//! One [`GenericQueue`] of capacity 1 over a one-value storage, behind an
//! `Arc`: `send` is its non-blocking put, the receives are its gets (so the
//! receiver may wait, time out and wait again, from any world, with the
//! queue's cancel safety), and each end closes the queue when it drops.
//! Beside it, an [`Event`] that the receiver's drop sets (what
//! [`Sender::closed`] waits for), and the waker of the receiver polled as a
//! future: a receiver cannot hold a queue get that borrows its own `Arc`,
//! so its `poll` takes the value when it is there and otherwise leaves its
//! waker, which the sender wakes after it sent or dropped (the value, or the
//! close, is in the queue before the waker is taken; the receiver checks
//! the queue again after it left its waker, so one of the two sees the
//! other).
//! [`Signal`](crate::lowlevel::Signal) was the other candidate, but a
//! signal can be waited on only once and a wait that gives up cancels it,
//! where a receiver that timed out must be able to wait again.

use super::error::{RecvError, TryRecvError};
use super::sender::ClosedFuture;
use crate::Event;
use crate::lowlevel::sync::Mutex;
use crate::lowlevel::{WaitError, Waiter, checkpoint};
use crate::queue::{GenericQueue, Get, Storage, TryGetError, TryPutError};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// The storage of a oneshot channel's queue: at most one value (the queue's
/// capacity of 1 keeps it so).
struct OneValue<T>(Option<T>);

impl<T> Default for OneValue<T> {
    fn default() -> Self {
        OneValue(None)
    }
}

impl<T> Storage<T> for OneValue<T> {
    fn push(&mut self, item: T) {
        debug_assert!(self.0.is_none(), "polysync: a oneshot holds one value");
        self.0 = Some(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.0.take()
    }
    fn peek(&self) -> Option<&T> {
        self.0.as_ref()
    }
    fn len(&self) -> usize {
        usize::from(self.0.is_some())
    }
}

type Slot<T> = GenericQueue<T, OneValue<T>>;

/// What the two ends share.
struct Inner<T> {
    slot: Slot<T>,
    /// Set when the receiver drops (after it closed `slot`): what
    /// [`Sender::closed`] waits for.
    receiver_gone: Event,
    /// The waker of the last poll of the [`Receiver`] as a future that
    /// found nothing, taken and woken by the sender once it sent or
    /// dropped (after closing `slot`).
    waker: Mutex<Option<Waker>>,
}

impl<T> Inner<T> {
    /// Wakes the receiver polled as a future, if it waits. Called after
    /// `slot` was closed.
    fn wake_receiver(&self) {
        // A waker's `clone` is user code: if it panicked while the lock was
        // held, the slot still holds a valid `Option<Waker>`.
        let waker = self
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// A oneshot channel: a [`Sender`] for one value and its [`Receiver`].
///
/// ```
/// let (tx, rx) = polysync::channel::oneshot::channel();
/// tx.send(1).unwrap();
/// assert_eq!(rx.try_recv(), Ok(1));
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner {
        slot: Slot::bounded(1),
        receiver_gone: Event::new(),
        waker: Mutex::new(None),
    });
    (
        Sender {
            inner: Some(inner.clone()),
        },
        Receiver {
            inner,
            yielded: false,
        },
    )
}

/// The sending end of a oneshot channel: [`send`](Sender::send) consumes it.
/// Dropping it without sending wakes the receiver with [`RecvError`].
///
/// ```
/// let (tx, rx) = polysync::channel::oneshot::channel();
/// assert!(!tx.is_closed());
/// tx.send('x').unwrap();
/// assert_eq!(rx.recv_blocking(), Ok('x'));
/// ```
pub struct Sender<T> {
    /// `None` once `send` ran (it closed the queue itself).
    inner: Option<Arc<Inner<T>>>,
}

impl<T> Sender<T> {
    /// Sends `value` and wakes the receiver if it waits; never waits
    /// itself, in any world.
    ///
    /// # Errors
    /// `Err(value)` if the receiver was dropped: nobody can ever receive it.
    /// (An `Ok` only means the value went in: a receiver dropped afterwards
    /// drops it unseen.)
    ///
    /// ```
    /// let (tx, rx) = polysync::channel::oneshot::channel();
    /// drop(rx);
    /// assert_eq!(tx.send(5), Err(5));
    /// ```
    pub fn send(mut self, value: T) -> Result<(), T> {
        let inner = self.inner.take().expect("a oneshot sender sends once");
        let slot = &inner.slot;
        // The put wakes a waiting receive, whose waker is user code: if it
        // panics, the channel still closes (else a receiver that took the
        // value would wait forever for another).
        let put = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| slot.try_put(value)));
        let put = match put {
            Ok(put) => put,
            Err(panic) => {
                slot.close();
                inner.wake_receiver();
                std::panic::resume_unwind(panic);
            }
        };
        let sent = match put {
            Ok(()) => Ok(()),
            // Closed: the receiver is gone.
            Err(TryPutError::Closed(value)) => Err(value),
            Err(TryPutError::Full(_)) => {
                unreachable!("a oneshot's only put goes into an empty slot of capacity 1")
            }
            Err(TryPutError::Cancelled(_)) => {
                unreachable!("try_put never waits, so it is never cancelled")
            }
        };
        // Nothing more will come: a receiver that takes the value (or tries
        // after a failed send) next finds the channel closed.
        slot.close();
        inner.wake_receiver();
        sent
    }

    /// Whether the receiver was dropped (a [`send`](Sender::send) would
    /// fail).
    ///
    /// ```
    /// let (tx, rx) = polysync::channel::oneshot::channel::<u8>();
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(|inner| inner.slot.is_closed())
    }

    /// Waits asynchronously until the receiver is dropped (a
    /// [`send`](Sender::send) would fail): a producer uses it to stop
    /// computing a value nobody will receive, e.g. in a `select!` beside
    /// the work. Unlike tokio's, it takes `&self`.
    ///
    /// # Cancel safety
    /// Dropping the future changes nothing (it only waits).
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let (tx, rx) = polysync::channel::oneshot::channel::<u8>();
    /// std::thread::spawn(move || drop(rx));
    /// tx.closed().await;
    /// assert_eq!(tx.send(1), Err(1));
    /// # });
    /// ```
    pub fn closed(&self) -> ClosedFuture<'_> {
        ClosedFuture::new(&self.inner().receiver_gone)
    }

    /// Blocks the current execution unit until the receiver is dropped
    /// (see [`closed`](Sender::closed)): [`closed_with`](Sender::closed_with)
    /// on the unit's waiter.
    ///
    /// # Cancellation
    /// If the unit's waiter reports cancellation, the unit unwinds through
    /// [`Waiter::cancelled`].
    ///
    /// ```
    /// let (tx, rx) = polysync::channel::oneshot::channel::<u8>();
    /// std::thread::spawn(move || drop(rx));
    /// tx.closed_blocking();
    /// assert!(tx.is_closed());
    /// ```
    pub fn closed_blocking(&self) {
        self.inner().receiver_gone.wait_blocking();
    }

    /// Blocks on `waiter` until the receiver is dropped (see
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
    /// let (tx, rx) = polysync::channel::oneshot::channel::<u8>();
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
        self.inner().receiver_gone.wait_with(waiter, deadline)
    }

    fn inner(&self) -> &Inner<T> {
        self.inner
            .as_ref()
            .expect("only `send` (which consumes the sender) takes `inner`")
    }
}

impl<T> Drop for Sender<T> {
    /// A sender dropped without sending closes the channel: the receiver
    /// wakes with [`RecvError`].
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            inner.slot.close();
            inner.wake_receiver();
        }
    }
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("oneshot::Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The receiving end of a oneshot channel: waits for the value in five
/// forms, from any world, as often as needed (a receive that timed out can
/// be tried again). Once the value was received, or the sender dropped
/// without sending, every receive fails: with [`RecvError`] (async and
/// blocking) or [`TryRecvError::Disconnected`] (the forms that may give up).
/// Dropping the receiver drops a value that was sent and not received.
///
/// The receiver is also a [`Future`] of the value, as tokio's: `rx.await`,
/// or `(&mut rx).await` to keep it (its `Future` impl below says how it
/// behaves when polled again, and its cancel safety).
///
/// ```
/// use polysync::channel::{RecvError, TryRecvError};
/// use std::time::Duration;
///
/// let (tx, rx) = polysync::channel::oneshot::channel();
/// assert_eq!(rx.try_recv_for(Duration::from_millis(1)), Err(TryRecvError::Empty));
/// tx.send(3).unwrap();
/// assert_eq!(rx.try_recv(), Ok(3));
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
/// assert_eq!(rx.recv_blocking(), Err(RecvError));
/// ```
pub struct Receiver<T> {
    inner: Arc<Inner<T>>,
    /// Whether the wait in progress as a future returned `Pending` once
    /// already (a wait or its checkpoint): it does not yield again at its
    /// checkpoint. Cleared when it completes.
    yielded: bool,
}

impl<T> Receiver<T> {
    /// Waits asynchronously for the value.
    ///
    /// # Errors
    /// [`RecvError`] if the sender dropped without sending, or the value was
    /// already received (the only way it fails: it waits as long as it
    /// takes).
    ///
    /// # Cancel safety
    /// Dropping the future loses nothing: a value handed to it goes back
    /// into the channel for the next receive. [`RecvFuture::cancel`]
    /// returns such a value instead.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let (tx, rx) = polysync::channel::oneshot::channel();
    /// tx.send("hi").unwrap();
    /// assert_eq!(rx.recv().await, Ok("hi"));
    /// # });
    /// ```
    pub fn recv(&self) -> RecvFuture<'_, T> {
        RecvFuture {
            get: self.inner.slot.get(),
        }
    }

    /// Blocks the current execution unit until the value comes:
    /// [`recv_with`](Receiver::recv_with) on the unit's waiter.
    ///
    /// # Errors
    /// As [`recv`](Receiver::recv).
    ///
    /// # Cancellation
    /// If the unit's waiter reports cancellation, the receive is withdrawn
    /// and the unit unwinds through [`Waiter::cancelled`] (also for the
    /// timed forms); the value stays in the channel.
    ///
    /// ```
    /// let (tx, rx) = polysync::channel::oneshot::channel();
    /// std::thread::spawn(move || tx.send(1).unwrap());
    /// assert_eq!(rx.recv_blocking(), Ok(1));
    /// assert!(rx.recv_blocking().is_err()); // received already
    /// ```
    pub fn recv_blocking(&self) -> Result<T, RecvError> {
        self.inner.slot.get_blocking().map_err(RecvError::from_get)
    }

    /// Takes the value if it was sent, without waiting.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] if it was not sent yet,
    /// [`TryRecvError::Disconnected`] as for [`recv`](Receiver::recv).
    ///
    /// ```
    /// use polysync::channel::TryRecvError;
    /// let (tx, rx) = polysync::channel::oneshot::channel();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(2));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.inner.slot.try_get().map_err(TryRecvError::from_get)
    }

    /// Waits for the value for at most `timeout`.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] if time ran out (the receiver can wait
    /// again), [`TryRecvError::Disconnected`] as for
    /// [`recv`](Receiver::recv).
    ///
    /// ```
    /// use polysync::channel::TryRecvError;
    /// use std::time::Duration;
    /// let (_tx, rx) = polysync::channel::oneshot::channel::<u8>();
    /// assert_eq!(rx.try_recv_for(Duration::from_millis(1)), Err(TryRecvError::Empty));
    /// ```
    pub fn try_recv_for(&self, timeout: Duration) -> Result<T, TryRecvError> {
        self.inner
            .slot
            .try_get_for(timeout)
            .map_err(TryRecvError::from_get)
    }

    /// Waits for the value until `deadline` at the latest.
    ///
    /// # Errors
    /// As [`try_recv_for`](Receiver::try_recv_for).
    ///
    /// ```
    /// let (tx, rx) = polysync::channel::oneshot::channel();
    /// tx.send(9).unwrap();
    /// assert_eq!(rx.try_recv_until(std::time::Instant::now()), Ok(9));
    /// ```
    pub fn try_recv_until(&self, deadline: Instant) -> Result<T, TryRecvError> {
        self.inner
            .slot
            .try_get_until(deadline)
            .map_err(TryRecvError::from_get)
    }

    /// Waits for the value on `waiter`, until `deadline` at the latest: the
    /// entry point that every blocking receive runs with the current unit's
    /// waiter.
    ///
    /// # Errors
    /// [`TryRecvError::Disconnected`] as for [`recv`](Receiver::recv),
    /// [`TryRecvError::Empty`] if `deadline` passed,
    /// [`TryRecvError::Cancelled`] if `waiter` reported cancellation (the
    /// value, if it arrives, stays for the next receive).
    ///
    /// ```
    /// use polysync::channel::TryRecvError;
    /// use polysync::lowlevel::ThreadWaiter;
    /// use std::time::Instant;
    ///
    /// let (tx, rx) = polysync::channel::oneshot::channel();
    /// ThreadWaiter::with_current(|w| {
    ///     assert_eq!(rx.recv_with(w, Some(Instant::now())), Err(TryRecvError::Empty));
    ///     tx.send(4).unwrap();
    ///     assert_eq!(rx.recv_with(w, None), Ok(4));
    /// });
    /// ```
    pub fn recv_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<T, TryRecvError> {
        self.inner
            .slot
            .get_with(waiter, deadline)
            .map_err(TryRecvError::from_get)
    }

    /// Whether the sender is gone (it sent, or dropped without sending). A
    /// sent value may still be waiting: `try_recv` tells.
    ///
    /// ```
    /// let (tx, rx) = polysync::channel::oneshot::channel();
    /// assert!(!rx.is_closed());
    /// tx.send(()).unwrap();
    /// assert!(rx.is_closed());
    /// assert_eq!(rx.try_recv(), Ok(()));
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.slot.is_closed()
    }
}

impl<T> Drop for Receiver<T> {
    /// Closes the channel (a later `send` gives its value back) and drops a
    /// value that was sent and not received, outside the channel's lock.
    fn drop(&mut self) {
        self.inner.slot.close();
        // After the close: a sender woken by `closed` finds its send fails.
        self.inner.receiver_gone.set();
        // Closed: no put can land after this, so one get drains it.
        drop(self.inner.slot.try_get());
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    /// Waits for the value, as [`recv`](Receiver::recv)`.await` does:
    /// `Ok(value)`, or [`RecvError`] if the sender dropped without sending.
    /// Polling it again after it completed returns [`RecvError`] (the value
    /// was received already), as every receive then does; it never panics.
    /// It yields once at its checkpoint if it completes without waiting,
    /// as every async wait of the crate (see
    /// [`checkpoint`]).
    ///
    /// # Cancel safety
    /// Dropping the receiver (or stopping to poll it) while it waits loses
    /// nothing that could be received: the value is taken only by the poll
    /// that returns it, and a value sent to a dropped receiver is dropped
    /// with it, as for any receiver. The sender's [`send`](Sender::send)
    /// then fails if the receiver was dropped first.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let (tx, rx) = polysync::channel::oneshot::channel();
    /// std::thread::spawn(move || tx.send("ready").unwrap());
    /// assert_eq!(rx.await, Ok("ready"));
    ///
    /// let (tx, mut rx) = polysync::channel::oneshot::channel::<u8>();
    /// drop(tx);
    /// assert!((&mut rx).await.is_err()); // never sent
    /// assert!(rx.is_closed());
    /// # });
    /// ```
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let slot = &this.inner.slot;
        if !this.yielded && (!slot.is_empty() || slot.is_closed()) {
            // Completes without waiting: its checkpoint first, before it
            // takes the value (which stays in the channel meanwhile).
            if checkpoint::poll(cx).is_pending() {
                this.yielded = true;
                return Poll::Pending;
            }
        }
        let taken = match slot.try_get() {
            Err(TryGetError::Empty) => {
                // Leave the waker, then look again: a sender that sent (or
                // dropped) before it took the waker is seen here.
                {
                    let mut waker = this
                        .inner
                        .waker
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    match &mut *waker {
                        Some(old) if old.will_wake(cx.waker()) => {}
                        other => *other = Some(cx.waker().clone()),
                    }
                }
                slot.try_get()
            }
            taken => taken,
        };
        let done = match taken {
            Ok(value) => Ok(value),
            Err(TryGetError::Empty) => {
                this.yielded = true;
                return Poll::Pending;
            }
            Err(TryGetError::Closed) => Err(RecvError),
            Err(TryGetError::Cancelled) => unreachable!("try_get never waits"),
        };
        this.yielded = false;
        Poll::Ready(done)
    }
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("oneshot::Receiver")
            .field("closed", &self.is_closed())
            .field("sent", &!self.inner.slot.is_empty())
            .finish()
    }
}

/// The future of [`Receiver::recv`].
///
/// ```
/// # futures_lite::future::block_on(async {
/// let (tx, rx) = polysync::channel::oneshot::channel();
/// let recv = rx.recv();
/// tx.send(1).unwrap();
/// assert_eq!(recv.await, Ok(1));
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct RecvFuture<'a, T> {
    /// Structurally pinned.
    get: Get<'a, T, OneValue<T>>,
}

impl<'a, T> RecvFuture<'a, T> {
    fn get(self: Pin<&mut Self>) -> Pin<&mut Get<'a, T, OneValue<T>>> {
        // SAFETY: structural pinning: `get` is never moved out of `self`,
        // and `RecvFuture` has no `Drop` or `Unpin` impl of its own.
        unsafe { self.map_unchecked_mut(|s| &mut s.get) }
    }

    /// Stops the receive and returns the value if it was already handed to
    /// it (dropping the future instead would leave the value in the channel
    /// for the next receive). Polling the future after `cancel` panics.
    ///
    /// ```
    /// use std::pin::pin;
    /// use std::task::{Context, Waker};
    ///
    /// let (tx, rx) = polysync::channel::oneshot::channel();
    /// let mut recv = pin!(rx.recv());
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(recv.as_mut().poll(&mut cx).is_pending());
    /// tx.send(5).unwrap(); // handed straight to the waiting receive
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
        f.debug_struct("oneshot::RecvFuture")
            .field("get", &self.get)
            .finish()
    }
}
