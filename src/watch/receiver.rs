//! [`Receiver`]: follows the value; its waits for a change, in every form.

use super::value::Ref;
use super::{ChangedError, Changes, INITIAL, MARKED, RecvError, Seen, Shared};
use crate::lowlevel::checkpoint;
use crate::lowlevel::wait::{Wait as RawWait, blocking, drive};
use crate::lowlevel::{WaitError, Waiter, deadline_after};
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

/// The receiving end of a [watch channel](super): reads the current value
/// and waits for the next one. It remembers the version it has seen; a
/// clone starts with the same one. Made by [`channel`](super::channel),
/// [`Sender::subscribe`](super::Sender::subscribe) or `clone`.
///
/// ```
/// let (tx, mut rx) = polysync::watch::channel(1);
/// let mut rx2 = rx.clone();
/// tx.send(2).unwrap();
/// assert_eq!(*rx.borrow_and_update(), 2);
/// assert!(!rx.has_changed().unwrap());
/// assert!(rx2.has_changed().unwrap()); // each receiver has its own "seen"
/// ```
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// The version this receiver has seen, or [`MARKED`].
    seen: u64,
}

impl<T> Receiver<T> {
    /// A receiver that has seen `seen` (the channel already counts it).
    pub(super) fn new(shared: Arc<Shared<T>>, seen: u64) -> Self {
        Receiver { shared, seen }
    }

    /// A receiver that has seen `seen`, counted now.
    #[track_caller]
    pub(super) fn counted(shared: Arc<Shared<T>>, seen: u64) -> Self {
        shared.receivers.add();
        Receiver::new(shared, seen)
    }

    /// Borrows the current value, without marking it seen. See [`Ref`] for
    /// how long to hold it (briefly: a send waits for it).
    ///
    /// ```
    /// let (tx, rx) = polysync::watch::channel("a");
    /// tx.send("b").unwrap();
    /// let r = rx.borrow();
    /// assert_eq!(*r, "b");
    /// assert!(r.has_changed());
    /// drop(r);
    /// assert!(rx.has_changed().unwrap()); // still unseen
    /// ```
    pub fn borrow(&self) -> Ref<'_, T> {
        let guard = self.shared.value.read();
        // Under the read lock no send runs, so this version is the value's.
        let (version, _) = self.shared.changes.load();
        Ref {
            guard,
            has_changed: version != self.seen,
        }
    }

    /// Borrows the current value and marks it seen: the next
    /// [`changed`](Receiver::changed) waits for a newer one.
    ///
    /// ```
    /// let (tx, mut rx) = polysync::watch::channel("a");
    /// tx.send("b").unwrap();
    /// assert_eq!(*rx.borrow_and_update(), "b");
    /// assert!(!rx.has_changed().unwrap());
    /// ```
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        let guard = self.shared.value.read();
        let (version, _) = self.shared.changes.load();
        let has_changed = version != self.seen;
        self.seen = version;
        Ref { guard, has_changed }
    }

    /// Whether a value this receiver has not seen is there.
    ///
    /// # Errors
    /// [`RecvError`] once the channel is closed (every sender gone), even
    /// if the last value is unseen (tokio's rule; [`changed`](Receiver::changed)
    /// still reports that value).
    ///
    /// ```
    /// let (tx, rx) = polysync::watch::channel(0);
    /// assert_eq!(rx.has_changed(), Ok(false));
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.has_changed(), Ok(true));
    /// drop(tx);
    /// assert!(rx.has_changed().is_err());
    /// ```
    pub fn has_changed(&self) -> Result<bool, RecvError> {
        match self.shared.changes.load() {
            (_, true) => Err(RecvError),
            (version, false) => Ok(version != self.seen),
        }
    }

    /// Whether the channel is closed: every [`Sender`](super::Sender) is gone.
    ///
    /// ```
    /// let (tx, rx) = polysync::watch::channel(0);
    /// assert!(!rx.is_closed());
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.changes.load().1
    }

    /// Marks the current value unseen: the next
    /// [`changed`](Receiver::changed) returns at once, and
    /// [`has_changed`](Receiver::has_changed) says `true`, until the value
    /// is seen again.
    ///
    /// ```
    /// let (_tx, mut rx) = polysync::watch::channel(0);
    /// rx.mark_changed();
    /// assert!(rx.has_changed().unwrap());
    /// ```
    pub fn mark_changed(&mut self) {
        self.seen = MARKED;
    }

    /// Marks the current value seen, without borrowing it.
    ///
    /// ```
    /// let (tx, mut rx) = polysync::watch::channel(0);
    /// tx.send(1).unwrap();
    /// rx.mark_unchanged();
    /// assert!(!rx.has_changed().unwrap());
    /// ```
    pub fn mark_unchanged(&mut self) {
        self.seen = self.shared.changes.load().0;
    }

    /// Waits asynchronously for a value this receiver has not seen, and
    /// marks it seen (borrow it with [`borrow`](Receiver::borrow) or
    /// [`borrow_and_update`](Receiver::borrow_and_update)). Returns at once
    /// if one is there already.
    ///
    /// # Errors
    /// [`RecvError`] if the channel is closed and the current value was
    /// seen: no change can come any more. A value sent just before the
    /// close is still reported first.
    ///
    /// # Cancel safety
    /// Cancel-safe: dropping the future leaves the queue and loses nothing
    /// (a change wakes every waiter and stays visible, and the receiver's
    /// "seen" version moves only when the future returns `Ok`). Use it in
    /// `select!` freely.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let (tx, mut rx) = polysync::watch::channel(0);
    /// let waiter = std::thread::spawn(move || {
    ///     futures_lite::future::block_on(async {
    ///         rx.changed().await.unwrap();
    ///         *rx.borrow()
    ///     })
    /// });
    /// tx.send(7).unwrap();
    /// assert_eq!(waiter.join().unwrap(), 7);
    /// # });
    /// ```
    #[inline]
    pub fn changed(&mut self) -> Changed<'_> {
        let Receiver { shared, seen } = self;
        Changed::new(&shared.changes, seen)
    }

    /// Blocks the current execution unit (thread, coroutine, green thread)
    /// until a value this receiver has not seen is there, and marks it
    /// seen.
    ///
    /// # Errors
    /// [`RecvError`] as [`changed`](Receiver::changed).
    ///
    /// ```
    /// let (tx, mut rx) = polysync::watch::channel(0);
    /// let t = std::thread::spawn(move || tx.send(1).unwrap());
    /// rx.changed_blocking().unwrap();
    /// assert_eq!(*rx.borrow(), 1);
    /// t.join().unwrap();
    /// ```
    pub fn changed_blocking(&mut self) -> Result<(), RecvError> {
        blocking(|w| self.changed_inner(w, None)).expect("a wait without deadline timed out")
    }

    /// Whether a value this receiver has not seen is there, without
    /// waiting: `Ok(true)` marks it seen (as a completed
    /// [`changed`](Receiver::changed) does).
    ///
    /// # Errors
    /// [`RecvError`] if the channel is closed and the current value was seen.
    ///
    /// ```
    /// let (tx, mut rx) = polysync::watch::channel(0);
    /// assert_eq!(rx.try_changed(), Ok(false));
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_changed(), Ok(true));
    /// assert_eq!(rx.try_changed(), Ok(false));
    /// ```
    pub fn try_changed(&mut self) -> Result<bool, RecvError> {
        match self.shared.changes.check(&mut self.seen) {
            Some(Ok(())) => Ok(true),
            Some(Err(e)) => Err(e),
            None => Ok(false),
        }
    }

    /// Blocks until a value this receiver has not seen is there (then marks
    /// it seen: `Ok(true)`) or `timeout` passes (`Ok(false)`).
    ///
    /// # Errors
    /// [`RecvError`] if the channel is closed and the current value was seen.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, mut rx) = polysync::watch::channel(0);
    /// assert_eq!(rx.try_changed_for(Duration::from_millis(1)), Ok(false));
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_changed_for(Duration::from_secs(60)), Ok(true));
    /// ```
    pub fn try_changed_for(&mut self, timeout: Duration) -> Result<bool, RecvError> {
        let deadline = deadline_after(timeout);
        self.timed(deadline)
    }

    /// Blocks until a value this receiver has not seen is there (then marks
    /// it seen: `Ok(true)`) or `deadline` passes (`Ok(false)`).
    ///
    /// # Errors
    /// [`RecvError`] if the channel is closed and the current value was seen.
    ///
    /// ```
    /// use std::time::Instant;
    /// let (tx, mut rx) = polysync::watch::channel(0);
    /// assert_eq!(rx.try_changed_until(Instant::now()), Ok(false));
    /// drop(tx);
    /// assert!(rx.try_changed_until(Instant::now()).is_err());
    /// ```
    pub fn try_changed_until(&mut self, deadline: Instant) -> Result<bool, RecvError> {
        self.timed(Some(deadline))
    }

    fn timed(&mut self, deadline: Option<Instant>) -> Result<bool, RecvError> {
        match blocking(|w| self.changed_inner(w, deadline)) {
            Some(r) => r.map(|()| true),
            None => Ok(false),
        }
    }

    /// Blocks on `waiter` until a value this receiver has not seen is there
    /// (then marks it seen), `deadline` passes or the waiter reports
    /// cancellation: the entry point that every blocking form runs with the
    /// current unit's waiter.
    ///
    /// # Errors
    /// [`ChangedError::Closed`] (closed, current value seen),
    /// [`ChangedError::TimedOut`], [`ChangedError::Cancelled`]; the wait is
    /// withdrawn in each case, and a change that lands while it gives up
    /// still counts as success.
    ///
    /// ```
    /// use polysync::lowlevel::ThreadWaiter;
    /// use polysync::watch::ChangedError;
    /// use std::time::Instant;
    ///
    /// let (tx, mut rx) = polysync::watch::channel(0);
    /// ThreadWaiter::with_current(|w| {
    ///     assert_eq!(rx.changed_with(w, Some(Instant::now())), Err(ChangedError::TimedOut));
    ///     tx.send(1).unwrap();
    ///     assert_eq!(rx.changed_with(w, None), Ok(()));
    /// });
    /// ```
    pub fn changed_with<W: Waiter + ?Sized>(
        &mut self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<(), ChangedError> {
        Ok(self.changed_inner(waiter, deadline)??)
    }

    /// The body of every blocking form (see [`changed_on`]).
    fn changed_inner<W: Waiter + ?Sized>(
        &mut self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<Result<(), RecvError>, WaitError> {
        let Receiver { shared, seen } = self;
        changed_on(&shared.changes, seen, waiter, deadline)
    }

    /// Waits asynchronously until the value satisfies `f`, and returns it
    /// borrowed (marked seen). `f` sees the current value first (seen or
    /// not), then each new version; a `Ref` is held only while `f` runs and
    /// in the result.
    ///
    /// # Errors
    /// [`RecvError`] if the channel closes before a value satisfies `f` (the
    /// last value is checked first).
    ///
    /// # Checkpoint
    /// With checkpoints on (see [`checkpoint`]), it takes its checkpoint
    /// before its first look, never while it holds the borrow; a call that
    /// then has to wait also yields while it waits.
    ///
    /// # Cancel safety
    /// Cancel-safe as [`changed`](Receiver::changed): a dropped future
    /// leaves only the receiver's "seen" version moved to the last value
    /// `f` was shown.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let (tx, mut rx) = polysync::watch::channel(0);
    /// let t = std::thread::spawn(move || (1..=3).for_each(|i| tx.send(i).unwrap()));
    /// assert_eq!(*rx.wait_for(|v| *v == 3).await.unwrap(), 3);
    /// t.join().unwrap();
    /// # });
    /// ```
    pub async fn wait_for(
        &mut self,
        mut f: impl FnMut(&T) -> bool,
    ) -> Result<Ref<'_, T>, RecvError> {
        // The checkpoint comes first: the result holds the read lock, which
        // must never be held across a yield.
        std::future::poll_fn(checkpoint::poll).await;
        let Receiver { shared, seen } = self;
        let shared: &Shared<T> = shared;
        loop {
            if let Some(found) = Self::look(shared, seen, &mut f) {
                return Ok(found);
            }
            Changed::new(&shared.changes, seen).await?;
        }
    }

    /// Blocks until the value satisfies `f`, and returns it borrowed
    /// (marked seen): the blocking form of [`wait_for`](Receiver::wait_for).
    ///
    /// # Errors
    /// [`RecvError`] if the channel closes before a value satisfies `f`.
    ///
    /// ```
    /// let (tx, mut rx) = polysync::watch::channel(0);
    /// let t = std::thread::spawn(move || (1..=3).for_each(|i| tx.send(i).unwrap()));
    /// assert_eq!(*rx.wait_for_blocking(|v| *v == 3).unwrap(), 3);
    /// t.join().unwrap();
    /// ```
    pub fn wait_for_blocking(
        &mut self,
        mut f: impl FnMut(&T) -> bool,
    ) -> Result<Ref<'_, T>, RecvError> {
        let Receiver { shared, seen } = self;
        let shared: &Shared<T> = shared;
        loop {
            if let Some(found) = Self::look(shared, seen, &mut f) {
                return Ok(found);
            }
            blocking(|w| changed_on(&shared.changes, seen, w, None))
                .expect("a wait without deadline timed out")?;
        }
    }

    /// One look of `wait_for`: the current value, marked seen, if `f` likes it.
    fn look<'s>(
        shared: &'s Shared<T>,
        seen: &mut u64,
        f: &mut impl FnMut(&T) -> bool,
    ) -> Option<Ref<'s, T>> {
        let guard = shared.value.read();
        let (version, _) = shared.changes.load();
        let has_changed = version != *seen;
        *seen = version;
        f(&guard).then_some(Ref { guard, has_changed })
    }

    /// Whether `other` receives from the same channel.
    ///
    /// ```
    /// let (tx, rx) = polysync::watch::channel(0);
    /// assert!(rx.same_channel(&tx.subscribe()));
    /// assert!(!rx.same_channel(&polysync::watch::channel(0).1));
    /// ```
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// How many receivers of this channel wait for a change now (a
    /// snapshot, for diagnostics and tests).
    ///
    /// ```
    /// let (_tx, rx) = polysync::watch::channel(0);
    /// assert_eq!(rx.receiving(), 0);
    /// ```
    pub fn receiving(&self) -> usize {
        self.shared.changes.waiting()
    }
}

/// The body of every blocking wait for a change, on a receiver's split
/// fields: the outer error is the wait's, the inner one the channel's.
fn changed_on<W: Waiter + ?Sized>(
    changes: &Changes,
    seen: &mut u64,
    waiter: &W,
    deadline: Option<Instant>,
) -> Result<Result<(), RecvError>, WaitError> {
    loop {
        if let Some(r) = changes.check(seen) {
            return Ok(r);
        }
        let wait = pin!(RawWait::new(changes, Seen::of(*seen)));
        if let Err((why, ())) = drive(waiter, wait, deadline) {
            return changes.check(seen).ok_or(why);
        }
    }
}

impl<T> Clone for Receiver<T> {
    /// Another receiver of the same channel, which has seen what this one
    /// has.
    ///
    /// # Panics
    /// With 2^32 - 1 receivers alive already.
    #[track_caller]
    fn clone(&self) -> Self {
        Receiver::counted(self.shared.clone(), self.seen)
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.receivers.remove();
    }
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (version, closed) = self.shared.changes.load();
        let mut d = f.debug_struct("Receiver");
        if self.seen == MARKED {
            d.field("seen", &"marked changed");
        } else {
            d.field("seen", &self.seen);
        }
        d.field("version", &version)
            .field("closed", &closed)
            .finish_non_exhaustive()
    }
}

/// The future of [`Receiver::changed`]: `Ok(())` once a value the receiver
/// has not seen is there (marked seen then), [`RecvError`] if the channel
/// closed with the last value seen.
#[must_use = "futures do nothing unless polled"]
pub struct Changed<'a> {
    changes: &'a Changes,
    /// The receiver's "seen" version: moved only on `Ok`.
    seen: &'a mut u64,
    /// Structurally pinned.
    wait: RawWait<'a, Changes>,
}

impl<'a> Changed<'a> {
    fn new(changes: &'a Changes, seen: &'a mut u64) -> Self {
        let wait = RawWait::new(changes, Seen::of(*seen));
        Changed {
            changes,
            seen,
            wait,
        }
    }
}

impl Future for Changed<'_> {
    type Output = Result<(), RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `wait` is structurally pinned (only ever used through the
        // `Pin` made here, and replaced in place with `Pin::set`); the other
        // fields are references, moved freely.
        let this = unsafe { self.get_unchecked_mut() };
        loop {
            // SAFETY: as above: `this` lives in the pinned future.
            let mut wait = unsafe { Pin::new_unchecked(&mut this.wait) };
            ready!(wait.as_mut().poll(cx));
            if let Some(r) = this.changes.check(this.seen) {
                return Poll::Ready(r);
            }
            // Woken, and no change for this receiver (see `wake_queued`):
            // wait again with a fresh node.
            wait.set(RawWait::new(this.changes, Seen::of(*this.seen)));
        }
    }
}

impl std::fmt::Debug for Changed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Changed")
            .field("seen", &*self.seen)
            .field("queued", &self.wait.is_queued())
            .finish()
    }
}

const _: () = assert!(INITIAL != MARKED);
