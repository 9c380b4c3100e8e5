//! Send permits: [`Sender::reserve`] and its forms wait for a place in the
//! channel without a value, and return a [`Permit`] (or an
//! [`OwnedPermit`]) whose `send` then never waits and never fails. A send
//! that cannot lose its value to cancellation: the value is only moved
//! once the place is there, so a reserve that is dropped, times out or is
//! cancelled has nothing to lose.
//!
//! # How a permit holds its place
//! A permit is a place of the channel's queue taken without an item (the
//! queue's `reserve_locked`): in a bounded channel it counts in the
//! capacity like a stored value, so `len()` plus the permits out never
//! exceeds the capacity. `send` puts the value into that place
//! (`put_in_place`: to the oldest waiting receiver, or stored at the back:
//! the value's place in the FIFO order is taken at the time of `send`,
//! not of `reserve`); dropping an unused permit frees the place
//! (`free_place`) for the oldest waiting sender or reserver. A waiting
//! reserve stands in the senders' line: sends and reserves are served in
//! one arrival order, so neither starves the other.
//!
//! # Closing
//! As tokio's: a permit taken before the channel closed may still send.
//! - [`Sender::close`] or [`Receiver::close`](super::Receiver::close): the
//!   value goes in, and receivers take it (while a permit is out, a
//!   receiver of a closed, empty channel waits for it instead of failing;
//!   the last permit's send or drop lets them fail).
//! - The last receiver dropped: nobody can take the value, and `send`
//!   drops it (at once if `send` sees no receiver, else with the channel).
//!
//! A reserve on a closed channel fails ([`SendError`],
//! [`TrySendError::Disconnected`]), as a send does; a waiting reserve wakes
//! with that error when the channel closes.

use super::error::{SendError, TrySendError};
use super::{Sender, Shared};
use crate::Queue;
use crate::lowlevel::sync::Ordering;
use crate::lowlevel::wait::{Wait, Withdraw, drive};
use crate::lowlevel::{WaitError, Waiter, deadline_after, green_checkpoint, with_current_waiter};
use crate::owned::ArcWait;
use crate::queue::{Item, Role};
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

/// The wait of a reserve: a node tagged `Reserver` in the channel queue's
/// putters' line, with an empty slot. Completes with `Ok(())` once it was
/// given a place (the caller owns it then and must send into it or free
/// it), or `Err` if the channel is or gets closed. Its output holds no
/// reference (the owned future relies on it: see `ArcWait::new`).
struct Reserve<'a, T> {
    /// Structurally pinned.
    wait: Wait<'a, Queue<T>>,
}

impl<'a, T> Reserve<'a, T> {
    fn new(queue: &'a Queue<T>) -> Self {
        Reserve {
            wait: Wait::with_slot(queue, Role::Reserver, Item::new(None)),
        }
    }

    fn wait(self: Pin<&mut Self>) -> Pin<&mut Wait<'a, Queue<T>>> {
        // SAFETY: structural pinning: the wait is never moved out of `self`,
        // and `Reserve` has no `Drop` or `Unpin` impl of its own.
        unsafe { self.map_unchecked_mut(|s| &mut s.wait) }
    }

    /// The outcome of a finished reserve: `Granted` (a place) or `Closed`.
    fn finish(wait: &Wait<'a, Queue<T>>) -> Result<(), SendError<()>> {
        if wait.entry().node.data::<Role>() == Role::Granted {
            Ok(())
        } else {
            Err(SendError(()))
        }
    }
}

impl<T> Future for Reserve<'_, T> {
    type Output = Result<(), SendError<()>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut wait = self.wait();
        ready!(wait.as_mut().poll(cx));
        Poll::Ready(Self::finish(&wait))
    }
}

impl<T> Withdraw for Reserve<'_, T> {
    type Left = ();

    /// Gives the reserve up: `Err(())` if withdrawn with no place, else the
    /// outcome a notifier settled first (a place the caller owns now, or
    /// closed).
    fn withdraw(self: Pin<&mut Self>) -> Result<Result<(), SendError<()>>, ()> {
        let mut wait = self.wait();
        wait.as_mut().withdraw()?;
        Ok(Self::finish(&wait))
    }
}

/// Maps the unit error of a reserve onto `with`.
fn try_error<T, U>(error: TrySendError<T>, with: U) -> TrySendError<U> {
    match error {
        TrySendError::Full(_) => TrySendError::Full(with),
        TrySendError::Disconnected(_) => TrySendError::Disconnected(with),
        TrySendError::Cancelled(_) => TrySendError::Cancelled(with),
    }
}

impl<T> Sender<T> {
    /// Waits asynchronously for a place in the channel and returns a
    /// [`Permit`] that holds it: [`Permit::send`] then sends without
    /// waiting and cannot fail. Fails with [`SendError`] if the channel is
    /// or gets closed first. An unbounded channel always has a place.
    ///
    /// A waiting reserve stands in line with waiting sends (one FIFO order
    /// for both); the permit's value takes its place in the channel's
    /// order when it is sent, not now. See [`Permit`] for how permits
    /// meet a close.
    ///
    /// # Cancel safety
    /// Cancel-safe, and the reason to use it: no value is involved until
    /// the permit exists, so dropping the future loses nothing. A future
    /// dropped while it waits leaves the line; one that was given a place
    /// and dropped before it returned it frees the place for the next
    /// sender or reserver (the wake-up is passed on).
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let (tx, rx) = polysync::channel::bounded(1);
    /// let permit = tx.reserve().await.unwrap();
    /// assert!(tx.try_send(1).unwrap_err().is_full()); // the place is taken
    /// permit.send(2);
    /// assert_eq!(rx.recv().await, Ok(2));
    /// # });
    /// ```
    pub fn reserve(&self) -> ReserveFuture<'_, T> {
        ReserveFuture {
            reserve: Reserve::new(&self.shared.queue),
            sender: self,
        }
    }

    /// Takes a place for a [`Permit`] if the channel has one now, without
    /// waiting.
    ///
    /// # Errors
    /// [`TrySendError::Full`] or [`TrySendError::Disconnected`], with `()`.
    ///
    /// ```
    /// use polysync::channel::TrySendError;
    /// let (tx, rx) = polysync::channel::bounded(1);
    /// let permit = tx.try_reserve().unwrap();
    /// assert_eq!(tx.try_reserve().unwrap_err(), TrySendError::Full(()));
    /// drop(permit); // the place is free again
    /// tx.try_reserve().unwrap().send(7);
    /// assert_eq!(rx.try_recv(), Ok(7));
    /// ```
    pub fn try_reserve(&self) -> Result<Permit<'_, T>, TrySendError<()>> {
        self.shared
            .queue
            .try_take_place()
            .map(|()| Permit { sender: self })
            .map_err(TrySendError::from_put)
    }

    /// Waits for a place, blocking the current execution unit (an OS
    /// thread, or a green thread without blocking its carrier):
    /// [`reserve_with`](Sender::reserve_with) on the unit's waiter.
    ///
    /// # Errors
    /// [`SendError`] if the channel is or gets closed (the only way it
    /// fails).
    ///
    /// # Cancellation
    /// If the unit's waiter reports cancellation, the reserve is withdrawn
    /// (a place given to it meanwhile is freed) and the unit unwinds
    /// through [`Waiter::cancelled`] (the same holds for the timed forms).
    ///
    /// ```
    /// let (tx, rx) = polysync::channel::bounded(1);
    /// tx.reserve_blocking().unwrap().send("x");
    /// assert_eq!(rx.try_recv(), Ok("x"));
    /// rx.close();
    /// assert!(tx.reserve_blocking().is_err());
    /// ```
    pub fn reserve_blocking(&self) -> Result<Permit<'_, T>, SendError<()>> {
        match self.reserve_current(None) {
            Ok(permit) => Ok(permit),
            Err(TrySendError::Disconnected(())) => Err(SendError(())),
            Err(_) => unreachable!("an untimed reserve waits for a place, or unwinds if cancelled"),
        }
    }

    /// Waits for a place, blocking for at most `timeout`.
    ///
    /// # Errors
    /// [`TrySendError::Full`] if time ran out,
    /// [`TrySendError::Disconnected`] if the channel is or gets closed.
    ///
    /// ```
    /// use polysync::channel::TrySendError;
    /// use std::time::Duration;
    /// let (tx, _rx) = polysync::channel::bounded::<u8>(1);
    /// let permit = tx.try_reserve_for(Duration::ZERO).unwrap();
    /// let t = Duration::from_millis(1);
    /// assert_eq!(tx.try_reserve_for(t).unwrap_err(), TrySendError::Full(()));
    /// # drop(permit);
    /// ```
    pub fn try_reserve_for(&self, timeout: Duration) -> Result<Permit<'_, T>, TrySendError<()>> {
        self.reserve_current(deadline_after(timeout))
    }

    /// Waits for a place, blocking until `deadline` at the latest.
    ///
    /// # Errors
    /// As [`try_reserve_for`](Sender::try_reserve_for).
    ///
    /// ```
    /// use std::time::Instant;
    /// let (tx, _rx) = polysync::channel::bounded::<u8>(1);
    /// let permit = tx.try_reserve_until(Instant::now()).unwrap();
    /// assert!(tx.try_reserve_until(Instant::now()).unwrap_err().is_full());
    /// # drop(permit);
    /// ```
    pub fn try_reserve_until(&self, deadline: Instant) -> Result<Permit<'_, T>, TrySendError<()>> {
        self.reserve_current(Some(deadline))
    }

    /// Waits for a place, blocking on `waiter` until `deadline` at the
    /// latest: the entry point that every blocking reserve runs with the
    /// current unit's waiter. Library code that holds its own [`Waiter`]
    /// calls it directly.
    ///
    /// # Errors
    /// [`TrySendError::Disconnected`] if the channel is or gets closed,
    /// [`TrySendError::Full`] if `deadline` passed,
    /// [`TrySendError::Cancelled`] if `waiter` reported cancellation. The
    /// reserve is withdrawn either way; a place given to it while it was
    /// giving up is returned as a permit (`Ok`), never lost.
    ///
    /// ```
    /// use polysync::channel::TrySendError;
    /// use polysync::lowlevel::ThreadWaiter;
    /// use std::time::Instant;
    ///
    /// let (tx, rx) = polysync::channel::bounded::<u8>(1);
    /// ThreadWaiter::with_current(|w| {
    ///     let permit = tx.reserve_with(w, None).unwrap();
    ///     let now = Some(Instant::now());
    ///     assert_eq!(tx.reserve_with(w, now).unwrap_err(), TrySendError::Full(()));
    ///     drop(permit);
    ///     drop(rx);
    ///     assert_eq!(tx.reserve_with(w, None).unwrap_err(), TrySendError::Disconnected(()));
    /// });
    /// ```
    pub fn reserve_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<Permit<'_, T>, TrySendError<()>> {
        match self.try_reserve() {
            Err(TrySendError::Full(())) => self.reserve_wait(waiter, deadline),
            done => done,
        }
    }

    /// The plain blocking reserves: [`reserve_with`](Sender::reserve_with)
    /// on the current unit's waiter, looked up only once the reserve must
    /// wait; a cancellation unwinds.
    fn reserve_current(
        &self,
        deadline: Option<Instant>,
    ) -> Result<Permit<'_, T>, TrySendError<()>> {
        // A green unit's checkpoint comes before the attempt (never while it
        // holds a place).
        green_checkpoint();
        match self.try_reserve() {
            Err(TrySendError::Full(())) => {
                with_current_waiter(|waiter| match self.reserve_wait(waiter, deadline) {
                    Err(TrySendError::Cancelled(())) => waiter.cancelled(),
                    done => done,
                })
            }
            done => done,
        }
    }

    /// The waiting half of [`reserve_with`](Sender::reserve_with): drives a
    /// [`Reserve`] on `waiter`.
    #[cold]
    #[inline(never)]
    fn reserve_wait<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<Permit<'_, T>, TrySendError<()>> {
        let granted = match drive(waiter, pin!(Reserve::new(&self.shared.queue)), deadline) {
            // Completed, or a place (or the close) came as it gave up.
            Ok(done) => done.map_err(TrySendError::from),
            Err((WaitError::TimedOut, ())) => Err(TrySendError::Full(())),
            Err((WaitError::Cancelled, ())) => Err(TrySendError::Cancelled(())),
        };
        granted.map(|()| Permit { sender: self })
    }

    /// [`try_reserve`](Sender::try_reserve) on a sender taken by value.
    ///
    /// # Errors
    /// [`TrySendError::Full`] or [`TrySendError::Disconnected`], with the
    /// sender.
    ///
    /// ```
    /// let (tx, rx) = polysync::channel::bounded::<u8>(1);
    /// let permit = tx.try_reserve_owned().unwrap();
    /// let tx = permit.release(); // unused: the place is free again
    /// let permit = tx.try_reserve_owned().unwrap();
    /// let tx2 = permit.sender().clone();
    /// assert!(tx2.try_reserve_owned().unwrap_err().is_full());
    /// # drop(rx);
    /// ```
    pub fn try_reserve_owned(self) -> Result<OwnedPermit<T>, TrySendError<Sender<T>>> {
        let granted = self.try_reserve().map(Permit::keep_place);
        self.own(granted)
    }

    /// [`reserve_blocking`](Sender::reserve_blocking) on a sender taken by
    /// value.
    ///
    /// # Errors
    /// [`SendError`] with the sender if the channel is or gets closed.
    ///
    /// ```
    /// let (tx, rx) = polysync::channel::bounded(1);
    /// let tx = tx.reserve_owned_blocking().unwrap().send(1);
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// # drop(tx);
    /// ```
    pub fn reserve_owned_blocking(self) -> Result<OwnedPermit<T>, SendError<Sender<T>>> {
        match self.reserve_blocking().map(Permit::keep_place) {
            Ok(()) => Ok(OwnedPermit { sender: Some(self) }),
            Err(SendError(())) => Err(SendError(self)),
        }
    }

    /// [`try_reserve_for`](Sender::try_reserve_for) on a sender taken by
    /// value.
    ///
    /// # Errors
    /// As `try_reserve_for`, with the sender.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, _rx) = polysync::channel::bounded::<u8>(1);
    /// let permit = tx.try_reserve_owned_for(Duration::ZERO).unwrap();
    /// let tx2 = permit.sender().clone();
    /// let t = Duration::from_millis(1);
    /// assert!(tx2.try_reserve_owned_for(t).unwrap_err().is_full());
    /// ```
    pub fn try_reserve_owned_for(
        self,
        timeout: Duration,
    ) -> Result<OwnedPermit<T>, TrySendError<Sender<T>>> {
        self.owned_current(deadline_after(timeout))
    }

    /// [`try_reserve_until`](Sender::try_reserve_until) on a sender taken by
    /// value.
    ///
    /// # Errors
    /// As `try_reserve_until`, with the sender.
    ///
    /// ```
    /// use std::time::Instant;
    /// let (tx, rx) = polysync::channel::bounded::<u8>(1);
    /// drop(rx);
    /// let err = tx.try_reserve_owned_until(Instant::now()).unwrap_err();
    /// assert!(err.is_disconnected());
    /// ```
    pub fn try_reserve_owned_until(
        self,
        deadline: Instant,
    ) -> Result<OwnedPermit<T>, TrySendError<Sender<T>>> {
        self.owned_current(Some(deadline))
    }

    /// [`reserve_with`](Sender::reserve_with) on a sender taken by value.
    ///
    /// # Errors
    /// As `reserve_with`, with the sender.
    ///
    /// ```
    /// use polysync::lowlevel::ThreadWaiter;
    /// let (tx, rx) = polysync::channel::bounded(1);
    /// let permit = ThreadWaiter::with_current(|w| tx.reserve_owned_with(w, None)).unwrap();
    /// permit.send(5);
    /// assert_eq!(rx.try_recv(), Ok(5));
    /// ```
    pub fn reserve_owned_with<W: Waiter + ?Sized>(
        self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<OwnedPermit<T>, TrySendError<Sender<T>>> {
        let granted = self.reserve_with(waiter, deadline).map(Permit::keep_place);
        self.own(granted)
    }

    /// An owned permit over this sender if `granted` (a place it now
    /// owns), else the error with the sender.
    fn own(
        self,
        granted: Result<(), TrySendError<()>>,
    ) -> Result<OwnedPermit<T>, TrySendError<Sender<T>>> {
        match granted {
            Ok(()) => Ok(OwnedPermit { sender: Some(self) }),
            Err(error) => Err(try_error(error, self)),
        }
    }

    fn owned_current(
        self,
        deadline: Option<Instant>,
    ) -> Result<OwnedPermit<T>, TrySendError<Sender<T>>> {
        let granted = self.reserve_current(deadline).map(Permit::keep_place);
        self.own(granted)
    }
}

impl<T: 'static> Sender<T> {
    /// [`reserve`](Sender::reserve) on a sender taken by value: the future
    /// and the [`OwnedPermit`] it returns are `'static` (they own the
    /// sender), so they can move into a spawned task. A failed reserve
    /// gives the sender back in the [`SendError`].
    ///
    /// The future holds a reference into the channel that its sender keeps
    /// alive, so `T: 'static` here (the blocking owned forms do without).
    ///
    /// # Cancel safety
    /// As [`reserve`](Sender::reserve); dropping the future also drops the
    /// sender it owns.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let (tx, rx) = polysync::channel::bounded(1);
    /// let permit = tx.reserve_owned().await.unwrap();
    /// let tx = permit.send(3); // the sender comes back
    /// assert_eq!(rx.recv().await, Ok(3));
    /// drop(rx);
    /// let tx = tx.reserve_owned().await.unwrap_err().into_inner();
    /// assert!(tx.is_closed());
    /// # });
    /// ```
    pub fn reserve_owned(self) -> ReserveOwnedFuture<T> {
        let shared = self.shared.clone();
        // SAFETY: the reference points into `shared`'s allocation, and the
        // future holding it is stored with `shared` in an `ArcWait`; the
        // future's output (`Result<(), SendError<()>>`) holds no reference:
        // the rules of `ArcWait::new`.
        let queue: &'static Queue<T> = unsafe { crate::owned::extend(&*shared.queue) };
        ReserveOwnedFuture {
            // SAFETY: as above.
            inner: unsafe { ArcWait::new(shared, Reserve::new(queue)) },
            sender: Some(self),
        }
    }
}

/// Sends `value` into the place a permit holds (see the module docs):
/// dropped instead if no receiver is left.
fn send_in_place<T>(shared: &Shared<T>, value: T) {
    if shared.receivers.load(Ordering::Acquire) == 0 {
        // Nobody can take it: free the place, drop the value (user code)
        // outside the queue lock.
        shared.queue.free_place();
        drop(value);
    } else {
        shared.queue.put_in_place(value);
    }
}

/// A place in a channel, taken by [`Sender::reserve`] (or its other
/// forms): [`send`](Permit::send) fills it without waiting; dropping the
/// permit unused frees it for the next waiting sender or reserver. It
/// borrows its sender, so the channel cannot close by the last sender's
/// drop while the permit lives.
///
/// # Capacity and order
/// In a bounded channel a permit counts in the capacity like a stored
/// value: `len()` plus [`reserved()`](Sender::reserved) never exceeds it.
/// The value takes its place in the channel's FIFO order when it is sent,
/// not when the place was reserved.
///
/// # Closing
/// As tokio's, a permit taken before the channel closed may still send:
/// - closed by [`Sender::close`] or
///   [`Receiver::close`](super::Receiver::close): the value goes in and
///   receivers take it. While a permit is out, a receiver of a closed,
///   empty channel waits for it instead of failing; the last permit's send
///   or drop lets the receivers fail.
/// - every receiver gone: nobody can take the value, and `send` drops it
///   (at once if it sees no receiver left, else with the channel).
///
/// A reserve on a closed channel fails, as a send does.
///
/// ```
/// let (tx, rx) = polysync::channel::bounded(2);
/// let a = tx.try_reserve().unwrap();
/// let b = tx.try_reserve().unwrap();
/// b.send('b'); // the order is the order of the sends
/// a.send('a');
/// assert_eq!(rx.try_recv(), Ok('b'));
/// assert_eq!(rx.try_recv(), Ok('a'));
/// ```
#[must_use = "a permit holds a place in the channel until it is used or dropped"]
pub struct Permit<'a, T> {
    sender: &'a Sender<T>,
}

impl<T> Permit<'_, T> {
    /// Sends `value` into the place this permit holds: it never waits and
    /// never fails. The value goes to the oldest waiting receiver, or in
    /// at the back of the channel (its place in the order is taken now).
    /// If the channel was closed after the permit was taken, the value
    /// still goes in and receivers take it; if every receiver is gone, the
    /// value is dropped, as tokio's `Permit::send` does.
    ///
    /// ```
    /// let (tx, rx) = polysync::channel::bounded(1);
    /// let permit = tx.try_reserve().unwrap();
    /// rx.close();
    /// permit.send(1); // taken before the close: still goes in
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// assert!(rx.try_recv().unwrap_err().is_disconnected());
    /// ```
    pub fn send(self, value: T) {
        let shared = &*self.sender.shared;
        self.keep_place();
        send_in_place(shared, value);
    }

    /// Ends the permit without freeing its place: the caller now owns the
    /// place (an owned permit takes it over).
    fn keep_place(self) {
        std::mem::forget(self);
    }
}

impl<T> Drop for Permit<'_, T> {
    /// An unused permit frees its place: the oldest waiting sender or
    /// reserver takes it.
    fn drop(&mut self) {
        self.sender.shared.queue.free_place();
    }
}

impl<T> std::fmt::Debug for Permit<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit")
            .field("sender", self.sender)
            .finish()
    }
}

/// A place in a channel, taken by [`Sender::reserve_owned`] (or its
/// other forms), with the sender it came from: [`send`](OwnedPermit::send)
/// fills the place and gives the sender back,
/// [`release`](OwnedPermit::release) frees it and gives the sender back;
/// dropping it frees the place and drops the sender. As [`Permit`]
/// otherwise.
///
/// ```
/// let (tx, rx) = polysync::channel::bounded(1);
/// let permit = tx.try_reserve_owned().unwrap();
/// std::thread::spawn(move || {
///     permit.send("from a thread");
/// })
/// .join()
/// .unwrap();
/// assert_eq!(rx.try_recv(), Ok("from a thread"));
/// ```
#[must_use = "a permit holds a place in the channel until it is used or dropped"]
pub struct OwnedPermit<T> {
    /// `None` only once `send` or `release` took it out.
    sender: Option<Sender<T>>,
}

impl<T> OwnedPermit<T> {
    /// Sends `value` into the place this permit holds, as [`Permit::send`]
    /// (never waits, never fails; dropped if every receiver is gone), and
    /// gives the sender back.
    ///
    /// ```
    /// let (tx, rx) = polysync::channel::bounded(1);
    /// let tx = tx.try_reserve_owned().unwrap().send(4);
    /// assert_eq!(rx.try_recv(), Ok(4));
    /// assert!(tx.try_send(5).is_ok());
    /// ```
    pub fn send(mut self, value: T) -> Sender<T> {
        let sender = self.sender.take().expect("a live permit has its sender");
        send_in_place(&sender.shared, value);
        sender
    }

    /// Frees the place unused (the next waiting sender or reserver takes
    /// it) and gives the sender back.
    ///
    /// ```
    /// let (tx, _rx) = polysync::channel::bounded::<u8>(1);
    /// let tx = tx.try_reserve_owned().unwrap().release();
    /// assert!(!tx.is_full());
    /// ```
    pub fn release(mut self) -> Sender<T> {
        let sender = self.sender.take().expect("a live permit has its sender");
        sender.shared.queue.free_place();
        sender
    }

    /// The sender this permit holds.
    ///
    /// ```
    /// let (tx, _rx) = polysync::channel::bounded::<u8>(1);
    /// let permit = tx.try_reserve_owned().unwrap();
    /// assert!(permit.sender().is_full());
    /// ```
    pub fn sender(&self) -> &Sender<T> {
        self.sender.as_ref().expect("a live permit has its sender")
    }
}

impl<T> Drop for OwnedPermit<T> {
    /// An unused permit frees its place, then drops its sender (which may
    /// be the last: then the channel closes).
    fn drop(&mut self) {
        if let Some(sender) = self.sender.take() {
            sender.shared.queue.free_place();
        }
    }
}

impl<T> std::fmt::Debug for OwnedPermit<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedPermit")
            .field("sender", &self.sender)
            .finish()
    }
}

/// The future of [`Sender::reserve`]: completes with a [`Permit`] once it
/// holds a place, or with [`SendError`] if the channel is or gets closed
/// first. Cancel-safe (see `reserve`).
///
/// ```
/// use std::pin::pin;
/// use std::task::{Context, Waker};
///
/// let (tx, rx) = polysync::channel::bounded(1);
/// tx.try_send(0).unwrap();
/// let mut reserve = pin!(tx.reserve());
/// let mut cx = Context::from_waker(Waker::noop());
/// assert!(reserve.as_mut().poll(&mut cx).is_pending()); // full: waits
/// assert_eq!(tx.sending(), 1); // in the senders' line
/// assert_eq!(rx.try_recv(), Ok(0)); // the place goes to the reserve
/// assert!(tx.try_send(1).unwrap_err().is_full());
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct ReserveFuture<'a, T> {
    /// Structurally pinned.
    reserve: Reserve<'a, T>,
    sender: &'a Sender<T>,
}

impl<'a, T> Future for ReserveFuture<'a, T> {
    type Output = Result<Permit<'a, T>, SendError<()>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: structural pinning of `reserve`: never moved out of
        // `self`; `ReserveFuture` has no `Drop` or `Unpin` impl of its own.
        // `sender` is a plain reference, not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let sender = this.sender;
        // SAFETY: as above.
        let reserve = unsafe { Pin::new_unchecked(&mut this.reserve) };
        reserve
            .poll(cx)
            .map(|granted| granted.map(|()| Permit { sender }))
    }
}

impl<T> std::fmt::Debug for ReserveFuture<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReserveFuture")
            .field("node", &self.reserve.wait.entry().node)
            .finish_non_exhaustive()
    }
}

/// The future of [`Sender::reserve_owned`]: `'static`; completes with an
/// [`OwnedPermit`] once it holds a place, or with [`SendError`] (the sender
/// inside) if the channel is or gets closed first. Cancel-safe (see
/// `reserve`).
///
/// ```
/// # futures_lite::future::block_on(async {
/// let (tx, rx) = polysync::channel::bounded(1);
/// let reserve = tx.reserve_owned();
/// let task = std::thread::spawn(move || futures_lite::future::block_on(reserve));
/// let permit = task.join().unwrap().unwrap();
/// permit.send(9);
/// assert_eq!(rx.recv().await, Ok(9));
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct ReserveOwnedFuture<T: 'static> {
    /// Structurally pinned. Declared first: dropped before `sender` (a
    /// wait dropped with a place frees it while the sender still keeps the
    /// channel open).
    inner: ArcWait<Shared<T>, Reserve<'static, T>>,
    /// Not pinned; `None` once handed to the output.
    sender: Option<Sender<T>>,
}

impl<T: 'static> Future for ReserveOwnedFuture<T> {
    type Output = Result<OwnedPermit<T>, SendError<Sender<T>>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `inner` is structurally pinned (never moved out of
        // `self`), `sender` is not; `ReserveOwnedFuture` has no `Drop` or
        // `Unpin` impl of its own.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        let granted = ready!(inner.poll_with(cx, |granted, _shared| granted));
        let sender = this
            .sender
            .take()
            .expect("the sender stays until the reserve completes");
        Poll::Ready(match granted {
            Ok(()) => Ok(OwnedPermit {
                sender: Some(sender),
            }),
            Err(SendError(())) => Err(SendError(sender)),
        })
    }
}

impl<T: 'static> std::fmt::Debug for ReserveOwnedFuture<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReserveOwnedFuture")
            .field(
                "node",
                &self
                    .inner
                    .future()
                    .map(|reserve| &reserve.wait.entry().node),
            )
            .finish_non_exhaustive()
    }
}
