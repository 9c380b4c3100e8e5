//! [`Sender`]: changes the value; its wait for every receiver to go.

use super::value::Ref;
use super::{Receivers, SendError, Shared};
use crate::lowlevel::sync::Ordering;
use crate::lowlevel::wait::{Wait as RawWait, blocking, drive};
use crate::lowlevel::{WaitError, Waiter, deadline_after};
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The sending end of a [watch channel](super): replaces or modifies the
/// value and wakes every waiting receiver. Sends never wait for receivers
/// (only, briefly, for a live [`Ref`]). Clone it for more senders; the
/// channel closes when the last one drops.
///
/// ```
/// let (tx, rx) = polysync::watch::channel(0);
/// let tx2 = tx.clone();
/// tx2.send(1).unwrap();
/// assert_eq!(*rx.borrow(), 1);
/// drop(tx2);
/// assert!(!rx.is_closed());
/// drop(tx);
/// assert!(rx.is_closed());
/// ```
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// A sender of a channel whose sender count already includes it.
    pub(super) fn from_shared(shared: Arc<Shared<T>>) -> Self {
        Sender { shared }
    }

    /// A channel holding `init`, with no receiver yet (make them with
    /// [`subscribe`](Sender::subscribe)).
    ///
    /// ```
    /// let tx = polysync::watch::Sender::new(1);
    /// assert_eq!(tx.receiver_count(), 0);
    /// let rx = tx.subscribe();
    /// assert_eq!(*rx.borrow(), 1);
    /// ```
    pub fn new(init: T) -> Self {
        let (tx, rx) = super::channel(init);
        drop(rx);
        tx
    }

    /// Stores `value` and wakes every waiting receiver.
    ///
    /// # Errors
    /// [`SendError`] with the value if there is no receiver (it is not
    /// stored; [`send_replace`](Sender::send_replace) stores regardless).
    ///
    /// ```
    /// let (tx, rx) = polysync::watch::channel(0);
    /// tx.send(1).unwrap();
    /// assert_eq!(*rx.borrow(), 1);
    /// ```
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if self.shared.receivers.count() == 0 {
            return Err(SendError(value));
        }
        self.send_replace(value);
        Ok(())
    }

    /// Modifies the value in place with `modify` and wakes every waiting
    /// receiver, with or without receivers.
    ///
    /// # Panics
    /// If `modify` panics, the panic goes on to the caller; whatever
    /// `modify` did to the value stays, but no new version is made and
    /// nobody is woken (a later send makes the change visible). Nothing is
    /// poisoned.
    ///
    /// ```
    /// let (tx, rx) = polysync::watch::channel(vec![1]);
    /// tx.send_modify(|v| v.push(2));
    /// assert_eq!(*rx.borrow(), [1, 2]);
    /// ```
    pub fn send_modify(&self, modify: impl FnOnce(&mut T)) {
        self.send_if_modified(|value| {
            modify(value);
            true
        });
    }

    /// Runs `modify` on the value in place; if it returns `true`, makes a
    /// new version and wakes every waiting receiver. Returns what `modify`
    /// returned. With `false` the receivers are not told, so `modify` should
    /// not change the value then.
    ///
    /// # Panics
    /// As [`send_modify`](Sender::send_modify).
    ///
    /// ```
    /// let (tx, rx) = polysync::watch::channel(1);
    /// assert!(!tx.send_if_modified(|v| std::mem::replace(v, 1) != 1));
    /// assert!(!rx.has_changed().unwrap());
    /// assert!(tx.send_if_modified(|v| std::mem::replace(v, 2) != 2));
    /// assert!(rx.has_changed().unwrap());
    /// ```
    pub fn send_if_modified(&self, modify: impl FnOnce(&mut T) -> bool) -> bool {
        let changes = &self.shared.changes;
        // The version moves while the write lock is held, so a reader under
        // the read lock sees the version of the value it reads.
        let modified = self.shared.value.write(modify, |&modified| {
            if modified {
                changes.bump();
            }
        });
        if modified {
            changes.wake_all();
        }
        modified
    }

    /// Stores `value`, wakes every waiting receiver, and returns the value
    /// it replaced, with or without receivers.
    ///
    /// ```
    /// let (tx, rx) = polysync::watch::channel(1);
    /// drop(rx);
    /// assert_eq!(tx.send_replace(2), 1);
    /// assert_eq!(*tx.borrow(), 2);
    /// ```
    pub fn send_replace(&self, mut value: T) -> T {
        self.send_modify(|old| std::mem::swap(old, &mut value));
        value
    }

    /// Borrows the current value (see [`Ref`] for how briefly to hold it).
    /// Its [`has_changed`](Ref::has_changed) is always `false`.
    ///
    /// ```
    /// let (tx, _rx) = polysync::watch::channel("a");
    /// assert_eq!(*tx.borrow(), "a");
    /// ```
    pub fn borrow(&self) -> Ref<'_, T> {
        Ref {
            guard: self.shared.value.read(),
            has_changed: false,
        }
    }

    /// Whether every receiver is gone (a later
    /// [`subscribe`](Sender::subscribe) reopens the channel).
    ///
    /// ```
    /// let (tx, rx) = polysync::watch::channel(0);
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.receivers.count() == 0
    }

    /// Waits asynchronously until every receiver is gone. Returns at once
    /// if none is left.
    ///
    /// # Cancel safety
    /// Cancel-safe: dropping the future leaves the queue and consumes
    /// nothing (the last receiver's drop wakes every waiter).
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let (tx, rx) = polysync::watch::channel(0);
    /// std::thread::spawn(move || drop(rx));
    /// tx.closed().await;
    /// assert!(tx.send(1).is_err());
    /// # });
    /// ```
    #[inline]
    pub fn closed(&self) -> Closed<'_> {
        Closed {
            wait: RawWait::new(&self.shared.receivers, ()),
        }
    }

    /// Blocks the current execution unit until every receiver is gone.
    ///
    /// ```
    /// let (tx, rx) = polysync::watch::channel(0);
    /// std::thread::spawn(move || drop(rx));
    /// tx.closed_blocking();
    /// ```
    pub fn closed_blocking(&self) {
        blocking(|w| self.closed_with(w, None));
    }

    /// Blocks until every receiver is gone or `timeout` passes; returns
    /// whether they are gone.
    ///
    /// ```
    /// let (tx, rx) = polysync::watch::channel(0);
    /// assert!(!tx.try_closed_for(std::time::Duration::from_millis(1)));
    /// drop(rx);
    /// assert!(tx.try_closed_for(std::time::Duration::from_secs(60)));
    /// ```
    pub fn try_closed_for(&self, timeout: Duration) -> bool {
        let deadline = deadline_after(timeout);
        blocking(|w| self.closed_with(w, deadline)).is_some()
    }

    /// Blocks until every receiver is gone or `deadline` passes; returns
    /// whether they are gone.
    ///
    /// ```
    /// let (tx, rx) = polysync::watch::channel(0);
    /// assert!(!tx.try_closed_until(std::time::Instant::now()));
    /// drop(rx);
    /// assert!(tx.try_closed_until(std::time::Instant::now()));
    /// ```
    pub fn try_closed_until(&self, deadline: Instant) -> bool {
        blocking(|w| self.closed_with(w, Some(deadline))).is_some()
    }

    /// Blocks on `waiter` until every receiver is gone, `deadline` passes
    /// or the waiter reports cancellation: the entry point of every
    /// blocking form.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] or [`WaitError::Cancelled`]; the wait is
    /// withdrawn either way. A last receiver that goes while the wait gives
    /// up still counts as success.
    ///
    /// ```
    /// use polysync::lowlevel::{ThreadWaiter, WaitError};
    /// use std::time::Instant;
    ///
    /// let (tx, rx) = polysync::watch::channel(0);
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
        let receivers = &self.shared.receivers;
        loop {
            if receivers.count() == 0 {
                return Ok(());
            }
            let wait = pin!(RawWait::new(receivers, ()));
            if let Err((why, ())) = drive(waiter, wait, deadline) {
                return if receivers.count() == 0 {
                    Ok(())
                } else {
                    Err(why)
                };
            }
            // Woken: count again (a subscribe may have reopened it).
        }
    }

    /// A new receiver, which has seen the current value (its first
    /// [`changed`](super::Receiver::changed) waits for the next send).
    ///
    /// # Panics
    /// With 2^32 - 1 receivers alive already.
    ///
    /// ```
    /// let (tx, _rx) = polysync::watch::channel(0);
    /// let rx2 = tx.subscribe();
    /// assert!(!rx2.has_changed().unwrap());
    /// assert_eq!(tx.receiver_count(), 2);
    /// ```
    #[track_caller]
    pub fn subscribe(&self) -> super::Receiver<T> {
        // The version is read under the read lock, with the value it goes
        // with (as `borrow_and_update` does).
        let seen = {
            let _guard = self.shared.value.read();
            self.shared.changes.load().0
        };
        super::Receiver::counted(self.shared.clone(), seen)
    }

    /// The number of live receivers.
    ///
    /// ```
    /// let (tx, rx) = polysync::watch::channel(0);
    /// let rx2 = rx.clone();
    /// assert_eq!(tx.receiver_count(), 2);
    /// drop((rx, rx2));
    /// assert_eq!(tx.receiver_count(), 0);
    /// ```
    pub fn receiver_count(&self) -> usize {
        self.shared.receivers.count() as usize
    }

    /// The number of live senders.
    ///
    /// ```
    /// let (tx, _rx) = polysync::watch::channel(0);
    /// let tx2 = tx.clone();
    /// assert_eq!(tx2.sender_count(), 2);
    /// ```
    pub fn sender_count(&self) -> usize {
        self.shared.senders.load(Ordering::Relaxed) as usize
    }

    /// How many receivers wait for a change now (a snapshot, for
    /// diagnostics and tests).
    ///
    /// ```
    /// let (tx, mut rx) = polysync::watch::channel(0);
    /// let t = std::thread::spawn(move || rx.changed_blocking());
    /// while tx.receiving() == 0 {
    ///     std::thread::yield_now();
    /// }
    /// tx.send(1).unwrap();
    /// t.join().unwrap().unwrap();
    /// ```
    pub fn receiving(&self) -> usize {
        self.shared.changes.waiting()
    }

    /// How many units wait in [`closed`](Sender::closed) (or its forms) now
    /// (a snapshot, for diagnostics and tests).
    ///
    /// ```
    /// let (tx, _rx) = polysync::watch::channel(0);
    /// assert_eq!(tx.waiting_closed(), 0);
    /// ```
    pub fn waiting_closed(&self) -> usize {
        self.shared.receivers.waiting()
    }

    /// Whether `other` sends on the same channel.
    ///
    /// ```
    /// let (tx, _rx) = polysync::watch::channel(0);
    /// assert!(tx.same_channel(&tx.clone()));
    /// assert!(!tx.same_channel(&polysync::watch::channel(0).0));
    /// ```
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T> Clone for Sender<T> {
    /// Another sender; the channel stays open while any is alive.
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    /// The last sender closes the channel and wakes every waiting receiver.
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.changes.close();
        }
    }
}

impl<T: Default> Default for Sender<T> {
    /// A channel holding `T::default()`, with no receiver yet.
    fn default() -> Self {
        Sender::new(T::default())
    }
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("version", &self.shared.changes.load().0)
            .field("receivers", &self.receiver_count())
            .field("senders", &self.sender_count())
            .field("receiving", &self.receiving())
            .field("waiting_closed", &self.waiting_closed())
            .finish_non_exhaustive()
    }
}

/// The future of [`Sender::closed`]: completes once every receiver is gone.
#[must_use = "futures do nothing unless polled"]
pub struct Closed<'a> {
    /// Structurally pinned.
    wait: RawWait<'a, Receivers>,
}

impl Future for Closed<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `wait` is structurally pinned: only used through this
        // `Pin`, and replaced in place with `Pin::set`.
        let mut wait = unsafe { self.map_unchecked_mut(|this| &mut this.wait) };
        loop {
            std::task::ready!(wait.as_mut().poll(cx));
            let receivers = wait.protocol();
            if receivers.count() == 0 {
                return Poll::Ready(());
            }
            // Woken, and a subscribe reopened the channel: wait again.
            wait.set(RawWait::new(receivers, ()));
        }
    }
}

impl std::fmt::Debug for Closed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Closed")
            .field("queued", &self.wait.is_queued())
            .finish()
    }
}
