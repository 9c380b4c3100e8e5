//! The receiving end of a broadcast channel: [`Receiver`] and the future of
//! an async receive, [`Recv`].

use super::error::{RecvError, TryRecvError};
use super::{Cursor, Progress, Rewait, Shared};
use crate::lowlevel::sync::{Ordering, RwLockReadGuard};
use crate::lowlevel::wait::{Wait as RawWait, blocking, drive};
use crate::lowlevel::{WaitError, Waiter, deadline_after, green_checkpoint};
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::{Arc, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A receiving end of a [broadcast channel](super): it sees every message
/// sent after it subscribed, in order, unless it falls more than the ring's
/// capacity behind ([`RecvError::Lagged`]). Get more with
/// [`Sender::subscribe`](super::Sender::subscribe) or
/// [`resubscribe`](Receiver::resubscribe) (a receiver is not `Clone`: a
/// clone's position would be ambiguous, as in tokio).
///
/// Receiving needs `&mut self` and `T: Clone`: each receiver gets its own
/// clone of each message.
///
/// ```
/// let (tx, mut rx) = polysync::broadcast::channel(8);
/// tx.send("hi").unwrap();
/// assert_eq!(rx.recv_blocking(), Ok("hi"));
/// ```
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// The position of the next message this receiver reads.
    next: u64,
}

/// A message this receiver is owed and has claimed (its position is
/// already behind the receiver), held under the slot's read lock. Dropping
/// it gives the claim up: the last receiver owed the message drops the
/// value, also when a `clone` panicked.
struct Claim<'a, T> {
    shared: &'a Shared<T>,
    pos: u64,
    slot: Option<RwLockReadGuard<'a, super::Slot<T>>>,
}

impl<T> Drop for Claim<'_, T> {
    fn drop(&mut self) {
        let Some(slot) = self.slot.take() else { return };
        let last = slot.rem.fetch_sub(1, Ordering::AcqRel) == 1;
        drop(slot);
        // A value without drop glue stays until overwritten: taking the
        // write lock to drop nothing would cost every message a lock.
        if last && std::mem::needs_drop::<T>() {
            self.shared.drop_value(self.pos);
        }
    }
}

/// Reads the message at `*next` if there is one: `Ok` with a claim on it
/// (`*next` moved past it), or why not (`Lagged` moved `*next` to the
/// oldest message kept).
fn claim<'a, T>(shared: &'a Shared<T>, next: &mut u64) -> Result<Claim<'a, T>, TryRecvError> {
    let (tail, closed) = shared.progress.load();
    let pos = *next;
    if pos >= tail {
        return Err(if closed {
            TryRecvError::Closed
        } else {
            TryRecvError::Empty
        });
    }
    let slot = shared
        .slot(pos)
        .read()
        .unwrap_or_else(PoisonError::into_inner);
    // The slot was written before `tail` passed `pos` (see `Progress`), so
    // it holds `pos` or, if overwritten since, a later position.
    debug_assert!(slot.pos != u64::MAX && slot.pos >= pos);
    if slot.pos != pos {
        // Overwritten: the oldest message kept is `capacity` behind the
        // tail, which is past the message that overwrote this one.
        let (tail, _) = shared.progress.load();
        let tail = tail.max(slot.pos + 1);
        let oldest = tail - shared.capacity();
        *next = oldest;
        return Err(TryRecvError::Lagged(oldest - pos));
    }
    *next = pos + 1;
    Ok(Claim {
        shared,
        pos,
        slot: Some(slot),
    })
}

/// [`claim`] and clone: the one receive of every form.
fn take<T: Clone>(shared: &Shared<T>, next: &mut u64) -> Result<T, TryRecvError> {
    let claim = claim(shared, next)?;
    let slot = claim.slot.as_ref().expect("a claim holds its slot");
    let value = slot
        .val
        .as_ref()
        .expect("a message stays until every receiver owed it let go")
        .clone();
    drop(claim);
    Ok(value)
}

/// A receive's outcome once it does not wait: `None` while empty.
fn settled<T>(out: Result<T, TryRecvError>) -> Option<Result<T, RecvError>> {
    match out {
        Ok(value) => Some(Ok(value)),
        Err(TryRecvError::Closed) => Some(Err(RecvError::Closed)),
        Err(TryRecvError::Lagged(n)) => Some(Err(RecvError::Lagged(n))),
        Err(TryRecvError::Empty | TryRecvError::Cancelled) => None,
    }
}

impl<T> Receiver<T> {
    /// A receiver that reads from `next` on (already counted).
    pub(super) fn from_shared(shared: Arc<Shared<T>>, next: u64) -> Self {
        Receiver { shared, next }
    }

    /// How many messages this receiver has not read yet: the distance to
    /// the tail, counted from its position even if some of those were
    /// overwritten (then its next receive says `Lagged`).
    ///
    /// ```
    /// let (tx, mut rx) = polysync::broadcast::channel(2);
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// tx.send(3).unwrap();
    /// assert_eq!(rx.len(), 3);
    /// assert!(rx.try_recv().is_err()); // lagged by one
    /// assert_eq!(rx.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        let (tail, _) = self.shared.progress.load();
        (tail - self.next) as usize
    }

    /// Whether this receiver has read every message sent so far.
    ///
    /// ```
    /// let (tx, mut rx) = polysync::broadcast::channel(2);
    /// assert!(rx.is_empty());
    /// tx.send(1).unwrap();
    /// assert!(!rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every sender is gone (messages may still be waiting for this
    /// receiver).
    ///
    /// ```
    /// let (tx, rx) = polysync::broadcast::channel::<u8>(2);
    /// assert!(!rx.is_closed());
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.progress.load().1
    }

    /// Whether both receive from the same channel.
    ///
    /// ```
    /// let (tx, rx) = polysync::broadcast::channel::<u8>(2);
    /// assert!(rx.same_channel(&tx.subscribe()));
    /// ```
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// A new receiver of the same channel that starts at the next message
    /// sent (not at this receiver's position), as tokio's.
    ///
    /// ```
    /// let (tx, mut rx) = polysync::broadcast::channel(4);
    /// tx.send(1).unwrap();
    /// let mut late = rx.resubscribe();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// assert_eq!(late.try_recv(), Ok(2));
    /// ```
    pub fn resubscribe(&self) -> Receiver<T> {
        let next = self.shared.subscribe();
        Receiver::from_shared(self.shared.clone(), next)
    }
}

impl<T: Clone> Receiver<T> {
    /// Receives the next message, waiting asynchronously until one is sent.
    /// `Err(Lagged(n))` if `n` messages for this receiver were overwritten
    /// (the next receive returns the oldest kept); `Err(Closed)` once every
    /// sender is gone and every message kept for this receiver was read.
    ///
    /// # Cancel safety
    /// Dropping the future loses no message: a receive takes its message
    /// only in the poll that returns it, and a wake-up that a dropped
    /// future received is not consumed (every waiter of a position is woken,
    /// and the message stays in the ring for the next receive).
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let (tx, mut rx) = polysync::broadcast::channel(4);
    /// tx.send(5).unwrap();
    /// assert_eq!(rx.recv().await, Ok(5));
    /// # });
    /// ```
    pub fn recv(&mut self) -> Recv<'_, T> {
        Recv {
            shared: &self.shared,
            next: &mut self.next,
            wait: Rewait::new(),
            yielded: false,
        }
    }

    /// Receives the next message, blocking the current execution unit
    /// until one is sent: [`recv_with`](Receiver::recv_with) on the unit's
    /// waiter (tokio's `blocking_recv`; in a may coroutine or a green
    /// thread it suspends only that unit).
    ///
    /// # Errors
    /// As [`recv`](Receiver::recv).
    ///
    /// # Cancellation
    /// If the unit's waiter reports cancellation, the receive is withdrawn
    /// and the unit unwinds through [`Waiter::cancelled`].
    ///
    /// ```
    /// let (tx, mut rx) = polysync::broadcast::channel(4);
    /// std::thread::spawn(move || tx.send(1).unwrap());
    /// assert_eq!(rx.recv_blocking(), Ok(1));
    /// ```
    pub fn recv_blocking(&mut self) -> Result<T, RecvError> {
        green_checkpoint();
        if let Some(out) = settled(take(&self.shared, &mut self.next)) {
            return out;
        }
        blocking(|w| self.recv_inner(w, None)).expect("a wait without a deadline does not time out")
    }

    /// Receives the next message if there is one, without waiting.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] if none was sent since this receiver's last
    /// one; `Lagged` and `Closed` as [`recv`](Receiver::recv).
    ///
    /// ```
    /// use polysync::broadcast::TryRecvError;
    /// let (tx, mut rx) = polysync::broadcast::channel(4);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        take(&self.shared, &mut self.next)
    }

    /// Receives the next message, blocking until one is sent or `timeout`
    /// passes.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] on a time-out; `Lagged` and `Closed` as
    /// [`recv`](Receiver::recv).
    ///
    /// ```
    /// use polysync::broadcast::TryRecvError;
    /// use std::time::Duration;
    /// let (tx, mut rx) = polysync::broadcast::channel::<u8>(4);
    /// assert_eq!(rx.try_recv_for(Duration::from_millis(1)), Err(TryRecvError::Empty));
    /// ```
    pub fn try_recv_for(&mut self, timeout: Duration) -> Result<T, TryRecvError> {
        self.recv_deadline(deadline_after(timeout))
    }

    /// Receives the next message, blocking until one is sent or `deadline`
    /// passes.
    ///
    /// # Errors
    /// As [`try_recv_for`](Receiver::try_recv_for).
    ///
    /// ```
    /// let (tx, mut rx) = polysync::broadcast::channel(4);
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.try_recv_until(std::time::Instant::now()), Ok(2));
    /// ```
    pub fn try_recv_until(&mut self, deadline: Instant) -> Result<T, TryRecvError> {
        self.recv_deadline(Some(deadline))
    }

    /// Receives the next message, blocking on `waiter` until one is sent,
    /// `deadline` passes or the waiter reports cancellation: the entry
    /// point every blocking form runs with the current unit's waiter.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] on a time-out, [`TryRecvError::Cancelled`]
    /// on a cancellation (the receive was withdrawn with nothing taken),
    /// `Lagged` and `Closed` as [`recv`](Receiver::recv). A message or a
    /// close that lands while the wait gives up is returned instead.
    ///
    /// ```
    /// use polysync::broadcast::TryRecvError;
    /// use polysync::lowlevel::ThreadWaiter;
    /// use std::time::Instant;
    ///
    /// let (tx, mut rx) = polysync::broadcast::channel(4);
    /// ThreadWaiter::with_current(|w| {
    ///     assert_eq!(rx.recv_with(w, Some(Instant::now())), Err(TryRecvError::Empty));
    ///     tx.send(3).unwrap();
    ///     assert_eq!(rx.recv_with(w, None), Ok(3));
    /// });
    /// ```
    pub fn recv_with<W: Waiter + ?Sized>(
        &mut self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<T, TryRecvError> {
        match self.recv_inner(waiter, deadline) {
            Ok(out) => out.map_err(TryRecvError::from),
            Err(WaitError::TimedOut) => Err(TryRecvError::Empty),
            Err(WaitError::Cancelled) => Err(TryRecvError::Cancelled),
        }
    }

    /// The timed forms: a time-out is `Empty`.
    fn recv_deadline(&mut self, deadline: Option<Instant>) -> Result<T, TryRecvError> {
        green_checkpoint();
        if let Some(out) = settled(take(&self.shared, &mut self.next)) {
            return out.map_err(TryRecvError::from);
        }
        match blocking(|w| self.recv_inner(w, deadline)) {
            Some(out) => out.map_err(TryRecvError::from),
            None => Err(TryRecvError::Empty),
        }
    }

    /// The body of every blocking form: receive, else wait for the tail to
    /// pass this receiver (or the close) and receive again. A wait that
    /// gives up looks once more, so what landed meanwhile is not missed.
    fn recv_inner<W: Waiter + ?Sized>(
        &mut self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<Result<T, RecvError>, WaitError> {
        loop {
            if let Some(out) = settled(take(&self.shared, &mut self.next)) {
                return Ok(out);
            }
            let wait = pin!(RawWait::new(&self.shared.progress, Cursor::of(self.next)));
            if let Err((why, ())) = drive(waiter, wait, deadline) {
                return settled(take(&self.shared, &mut self.next)).ok_or(why);
            }
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let (tail, last) = {
            let mut tail = self.shared.lock_tail();
            tail.rx_cnt -= 1;
            let last = tail.rx_cnt == 0;
            if last {
                self.shared.no_receivers.set(true);
            }
            (tail.pos, last)
        };
        // Give up the messages this receiver was still owed (only those
        // still kept: the others were overwritten), so their values drop
        // with their last reader.
        let start = self.next.max(tail.saturating_sub(self.shared.capacity()));
        for pos in start..tail {
            let slot = self
                .shared
                .slot(pos)
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if slot.pos == pos {
                drop(Claim {
                    shared: &self.shared,
                    pos,
                    slot: Some(slot),
                });
            }
        }
        if last {
            self.shared.no_receivers.wake();
        }
    }
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("next", &self.next)
            .field("len", &self.len())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The future of [`Receiver::recv`].
#[must_use = "futures do nothing unless polled"]
pub struct Recv<'a, T> {
    shared: &'a Shared<T>,
    next: &'a mut u64,
    /// Structurally pinned.
    wait: Rewait<'a, Progress>,
    /// Whether this receive has yielded (or its wait took the checkpoint):
    /// a receive that completes at its first poll takes one first.
    yielded: bool,
}

impl<T: Clone> Future for Recv<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: only `wait` is structurally pinned (re-pinned below and
        // never moved); the other fields are plain references and flags,
        // moved nowhere either.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: `wait` lives in the pinned future and is never moved out.
        let mut wait = unsafe { Pin::new_unchecked(&mut this.wait) };
        loop {
            if this.shared.progress.ready(Cursor::of(*this.next)) {
                if !this.yielded && crate::lowlevel::checkpoint::poll(cx).is_pending() {
                    this.yielded = true;
                    return Poll::Pending;
                }
                if let Some(out) = settled(take(this.shared, this.next)) {
                    return Poll::Ready(out);
                }
            }
            let pending = wait
                .as_mut()
                .poll(&this.shared.progress, Cursor::of(*this.next), cx)
                .is_pending();
            // Either it yields now, or its wait completed (woken, or at
            // once after the core wait's own checkpoint).
            this.yielded = true;
            if pending {
                return Poll::Pending;
            }
        }
    }
}

impl<T> std::fmt::Debug for Recv<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recv")
            .field("next", &*self.next)
            .field("queued", &self.wait.is_queued())
            .finish()
    }
}
