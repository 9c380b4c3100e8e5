//! The sending end of a broadcast channel: [`Sender`] and the future of
//! [`Sender::closed`], [`Closed`].

use super::error::SendError;
use super::{NoReceivers, Receiver, Rewait, Shared};
use crate::lowlevel::wait::{Wait as RawWait, blocking, drive};
use crate::lowlevel::{WaitError, Waiter, deadline_after};
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A sending end of a [broadcast channel](super). Clone it for more
/// senders; the channel closes when the last one drops.
///
/// A send never waits, from any world: when the ring is full it overwrites
/// the oldest message (receivers that had not read it get
/// [`Lagged`](super::RecvError::Lagged)); see the [module docs](super) for
/// why.
///
/// ```
/// let (tx, mut rx) = polysync::broadcast::channel(4);
/// let tx2 = tx.clone();
/// tx.send(1).unwrap();
/// tx2.send(2).unwrap();
/// assert_eq!(rx.try_recv(), Ok(1));
/// assert_eq!(rx.try_recv(), Ok(2));
/// ```
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// A channel with no receiver yet, whose ring keeps the last
    /// `capacity.next_power_of_two()` messages; receivers come from
    /// [`subscribe`](Sender::subscribe).
    ///
    /// # Panics
    /// If `capacity` is 0 or greater than `usize::MAX / 2`.
    ///
    /// ```
    /// let tx = polysync::broadcast::Sender::new(8);
    /// assert!(tx.send(1).is_err()); // nobody listens yet
    /// let mut rx = tx.subscribe();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(2));
    /// ```
    #[track_caller]
    pub fn new(capacity: usize) -> Self {
        Sender {
            shared: Shared::new(capacity),
        }
    }

    /// Sends `value` to every receiver; returns how many there are. Never
    /// waits: a full ring drops its oldest message.
    ///
    /// # Errors
    /// [`SendError`] with the value if there is no receiver (the value is
    /// not kept: a later subscriber would not see it).
    ///
    /// ```
    /// let (tx, rx) = polysync::broadcast::channel(4);
    /// assert_eq!(tx.send(1), Ok(1));
    /// drop(rx);
    /// assert_eq!(tx.send(2).unwrap_err().into_inner(), 2);
    /// ```
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        self.shared.send(value)
    }

    /// A new receiver that sees every message sent from now on.
    ///
    /// ```
    /// let (tx, _rx) = polysync::broadcast::channel(4);
    /// tx.send(1).unwrap();
    /// let mut rx2 = tx.subscribe();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx2.try_recv(), Ok(2));
    /// ```
    pub fn subscribe(&self) -> Receiver<T> {
        let next = self.shared.subscribe();
        Receiver::from_shared(self.shared.clone(), next)
    }

    /// How many messages some receiver has not read yet (at most the ring's
    /// capacity), as tokio's: the kept messages from the oldest one that a
    /// receiver still waits for.
    ///
    /// ```
    /// let (tx, mut rx) = polysync::broadcast::channel(4);
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(tx.len(), 2);
    /// rx.try_recv().unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.shared.sender_len()
    }

    /// Whether every receiver has read every kept message.
    ///
    /// ```
    /// let (tx, _rx) = polysync::broadcast::channel(4);
    /// assert!(tx.is_empty());
    /// tx.send(1).unwrap();
    /// assert!(!tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many receivers there are now.
    ///
    /// ```
    /// let (tx, rx) = polysync::broadcast::channel::<u8>(4);
    /// let rx2 = tx.subscribe();
    /// assert_eq!(tx.receiver_count(), 2);
    /// drop((rx, rx2));
    /// assert_eq!(tx.receiver_count(), 0);
    /// ```
    pub fn receiver_count(&self) -> usize {
        self.shared.lock_tail().rx_cnt
    }

    /// How many receives wait for a message now, in every world (a
    /// snapshot; not in tokio).
    ///
    /// ```
    /// let (tx, mut rx) = polysync::broadcast::channel::<u8>(4);
    /// assert_eq!(tx.receiving(), 0);
    /// let waiting = std::thread::spawn(move || rx.recv_blocking());
    /// while tx.receiving() == 0 {
    ///     std::thread::yield_now();
    /// }
    /// tx.send(1).unwrap();
    /// assert_eq!(waiting.join().unwrap(), Ok(1));
    /// ```
    pub fn receiving(&self) -> usize {
        self.shared.progress.queue.len()
    }

    /// Whether both send on the same channel.
    ///
    /// ```
    /// let (tx, _rx) = polysync::broadcast::channel::<u8>(4);
    /// assert!(tx.same_channel(&tx.clone()));
    /// ```
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Waits asynchronously until there is no receiver (at once if there is
    /// none now). A receiver subscribed after the last one dropped but
    /// before the wait looked again makes it wait on, as tokio's.
    ///
    /// # Cancel safety
    /// Dropping the future loses nothing: it leaves the queue, and the
    /// state it waits for is not consumed.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let (tx, rx) = polysync::broadcast::channel::<u8>(4);
    /// drop(rx);
    /// tx.closed().await;
    /// # });
    /// ```
    pub fn closed(&self) -> Closed<'_> {
        Closed {
            proto: &self.shared.no_receivers,
            wait: Rewait::new(),
            yielded: false,
        }
    }

    /// Blocks the current execution unit until there is no receiver:
    /// [`closed_with`](Sender::closed_with) on the unit's waiter.
    ///
    /// # Cancellation
    /// If the unit's waiter reports cancellation, the wait is withdrawn and
    /// the unit unwinds through [`Waiter::cancelled`].
    ///
    /// ```
    /// let (tx, rx) = polysync::broadcast::channel::<u8>(4);
    /// std::thread::spawn(move || drop(rx));
    /// tx.closed_blocking();
    /// assert_eq!(tx.receiver_count(), 0);
    /// ```
    pub fn closed_blocking(&self) {
        crate::lowlevel::green_checkpoint();
        if self.shared.no_receivers.is_set() {
            return;
        }
        blocking(|w| self.closed_with(w, None));
    }

    /// Blocks until there is no receiver or `timeout` passes; returns
    /// whether there is none.
    ///
    /// ```
    /// let (tx, _rx) = polysync::broadcast::channel::<u8>(4);
    /// assert!(!tx.try_closed_for(std::time::Duration::from_millis(1)));
    /// ```
    pub fn try_closed_for(&self, timeout: Duration) -> bool {
        let deadline = deadline_after(timeout);
        blocking(|w| self.closed_with(w, deadline)).is_some()
    }

    /// Blocks until there is no receiver or `deadline` passes; returns
    /// whether there is none.
    ///
    /// ```
    /// let tx = polysync::broadcast::Sender::<u8>::new(4);
    /// assert!(tx.try_closed_until(std::time::Instant::now()));
    /// ```
    pub fn try_closed_until(&self, deadline: Instant) -> bool {
        blocking(|w| self.closed_with(w, Some(deadline))).is_some()
    }

    /// Blocks on `waiter` until there is no receiver, `deadline` passes or
    /// the waiter reports cancellation.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] or [`WaitError::Cancelled`]; the wait is
    /// withdrawn either way. The last receiver dropping while the wait gives
    /// up still counts as success.
    ///
    /// ```
    /// use polysync::lowlevel::{ThreadWaiter, WaitError};
    /// use std::time::Instant;
    ///
    /// let (tx, rx) = polysync::broadcast::channel::<u8>(4);
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
        let proto = &self.shared.no_receivers;
        loop {
            if proto.is_set() {
                return Ok(());
            }
            if let Err((why, ())) = drive(waiter, pin!(RawWait::new(proto, ())), deadline) {
                return if proto.is_set() { Ok(()) } else { Err(why) };
            }
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.lock_tail().tx_cnt += 1;
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut tail = self.shared.lock_tail();
        tail.tx_cnt -= 1;
        if tail.tx_cnt > 0 {
            return;
        }
        tail.closed = true;
        let waiters = self.shared.progress.publish(tail.pos, true);
        drop(tail);
        if waiters {
            self.shared.progress.wake();
        }
    }
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tail = self.shared.lock_tail();
        f.debug_struct("Sender")
            .field("tail", &tail.pos)
            .field("receivers", &tail.rx_cnt)
            .field("senders", &tail.tx_cnt)
            .field("capacity", &self.shared.capacity())
            .finish()
    }
}

/// The future of [`Sender::closed`].
#[must_use = "futures do nothing unless polled"]
pub struct Closed<'a> {
    proto: &'a NoReceivers,
    /// Structurally pinned.
    wait: Rewait<'a, NoReceivers>,
    /// As [`Recv`](super::Recv)'s: one checkpoint per call.
    yielded: bool,
}

impl Future for Closed<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: only `wait` is structurally pinned (re-pinned below and
        // never moved); the other fields are a reference and a flag.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: `wait` lives in the pinned future and is never moved out.
        let mut wait = unsafe { Pin::new_unchecked(&mut this.wait) };
        loop {
            if this.proto.is_set() {
                if !this.yielded && crate::lowlevel::checkpoint::poll(cx).is_pending() {
                    this.yielded = true;
                    return Poll::Pending;
                }
                return Poll::Ready(());
            }
            let pending = wait.as_mut().poll(this.proto, (), cx).is_pending();
            this.yielded = true;
            if pending {
                return Poll::Pending;
            }
        }
    }
}

impl std::fmt::Debug for Closed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Closed")
            .field("no_receivers", &self.proto.is_set())
            .field("queued", &self.wait.is_queued())
            .finish()
    }
}
