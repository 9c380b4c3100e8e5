//! [`RwLock<T>`]: data shared by many readers or one writer, and
//! [`RawRwLock`], the same lock without data. Threads, async tasks of any
//! executor and green threads wait on one lock at the same time.
//!
//! # Fairness
//!
//! Two modes, fixed per lock at construction: strict FIFO
//! ([`RwLock::new`], the default today, and [`RwLock::new_fair`]) and
//! bounded fairness ([`RwLock::new_bounded`], see
//! [below](#bounded-fairness)); [`RwLock::is_fair`] tells which.
//!
//! **Strict FIFO ("task-fair", writer-preferring FIFO)** across readers and
//! writers of every world, by direct hand-off:
//!
//! - a reader that arrives while anyone is queued queues behind them, so a
//!   stream of readers cannot starve a writer: a queued writer gets the
//!   lock as soon as the readers that were there before it leave;
//! - a release hands the lock to the front of the queue: to the writer
//!   there, or to **every reader queued consecutively at the front** (one
//!   batch, up to the next queued writer), so a stream of writers cannot
//!   starve a reader either: a reader queued behind a writer gets in when
//!   that writer leaves, together with the readers next to it;
//! - the word already counts the waiters a release admits before they wake,
//!   so nobody barges in between, and a waiter that gives up after it was
//!   handed its share passes the share on.
//!
//! Why not phase-fair (a writer's release admits *all* queued readers, also
//! those queued behind later writers)? It bounds a reader's wait to one
//! writer phase, but it serves readers ahead of writers that queued before
//! them, which breaks the crate's promise of strict FIFO across all waiters
//! (and makes the order of a mixed queue depend on its kinds). With FIFO
//! each waiter's wait is bounded by the holds queued ahead of it, readers
//! ahead of a writer share one phase, and the order is the arrival order.
//! This is tokio's `RwLock` policy; parking_lot's is eventually fair.
//!
//! # Bounded fairness
//!
//! The strict hand-off puts a whole wake-up on the critical path of every
//! contended acquisition: the lock belongs to a waiter that is not running
//! yet, and everyone else queues behind it (a lock convoy). With
//! [`RwLock::new_bounded`] (or [`RawRwLock::new_bounded`]):
//!
//! - a release that lets the **writer** at the front of the queue in frees
//!   the lock and wakes that writer to compete; a reader or writer that is
//!   running meanwhile may take the free lock first (it *barges*), and
//!   readers may join one another while that writer is being scheduled; a
//!   writer asleep in the queue (the lock was held when it came) is never
//!   passed, so a stream of readers cannot keep a writer out;
//! - the woken writer keeps its place: waiters stay in FIFO order among
//!   themselves, and only units that were not queued barge;
//! - nothing starves: once the woken writer has been overtaken
//!   [`OVERTAKE_BOUND`] times, or has lost [`LOST_RETRIES`] retries,
//!   nobody barges and the releases hand it the lock directly, as in strict
//!   mode;
//! - **readers** at the front (behind a writer that left, or an upgradable
//!   reader) are still admitted as one batch by direct hand-off, and the
//!   **upgradable read** and its upgrade keep the strict rules in both
//!   modes: an upgradable reader queues behind anyone queued (it does not
//!   barge), and an upgrade is handed the write lock as soon as the plain
//!   readers left;
//! - cancellation stays safe: a writer woken to compete that gives up
//!   passes the wake-up on to the next waiter.
//!
//! The default stays strict (flipping it is the one line in
//! [`RawRwLock::new`]): on this project's 2-core VM, with 9 reads to 1
//! write and a thread's short spin before it queues (both modes), the
//! strict lock took 11.2 / 13.7 ns per operation with 2 / 4 threads while
//! a park/unpark round trip cost 4 µs, and 15.7 / 10.8 ns while it cost
//! 35 µs; bounded fairness 10.9 / 14.7 and 17.1 / 26.1 ns (parking_lot
//! 22.1 / 7.9 and 10.7 / 14.3 ns; BENCHMARKS.md, "Issue 18: RwLock bounded
//! fairness").
//!
//! # Forms
//!
//! Each of [`read`](RwLock::read) and [`write`](RwLock::write) comes in the
//! five forms of the crate (async, `_blocking`, `try_`, `try_..._for`,
//! `try_..._until`) plus `_with` (an explicit [`Waiter`]), and in `_owned`
//! forms on an `Arc<RwLock<T>>` ([`read_owned`](RwLock::read_owned), ...)
//! whose guards are `'static`. Guards can be mapped to a part of the data
//! ([`RwLockReadGuard::map`], [`RwLockWriteGuard::map`]) and a write guard
//! can be downgraded ([`RwLockWriteGuard::downgrade`]).
//!
//! # Upgradable read
//!
//! [`upgradable_read`](RwLock::upgradable_read) (all forms) takes a read
//! share that excludes writers and other upgradable readers, beside any
//! number of plain readers, and queues in the same FIFO line. Its guard
//! ([`RwLockUpgradableReadGuard`]) upgrades to the write lock
//! ([`upgrade`](RwLockUpgradableReadGuard::upgrade), async, `_blocking`,
//! `try_`, timed, `_with`) once the plain readers left. The upgrade does not
//! queue in line: every queued writer and upgradable reader waits for it
//! anyway, so it goes first, and from the moment it waits no plain reader
//! is admitted (not even one queued before it), so readers cannot starve
//! it. The upgrade **borrows** the guard and resolves to a
//! [`RwLockUpgradedGuard`] that turns back into the upgradable read when
//! dropped; so a dropped upgrade future, a timed-out or cancelled upgrade
//! leaves the guard holding the upgradable read, as before (our choice
//! over async-lock's consuming `upgrade(guard)`, whose cancelled future
//! drops the guard). The upgradable reader is tracked like the writer: a
//! unit holding it that asks for the write lock or a second upgradable
//! read (blocking, timed, `_with` forms) panics; its own plain read is
//! granted as any reader's second share. No owned form yet.
//!
//! Not reentrant, and loud where it can be: a unit that holds the **write**
//! lock and asks for it again, or for a read share, panics ("already holds
//! this RwLock's write lock ... would deadlock") instead of waiting forever
//! behind itself. That covers every blocking, timed (`try_..._for`,
//! `try_..._until`) and `_with` form, called by the unit that took the write
//! lock (a thread, a green thread, or a task that took it, in any form, and
//! then calls a blocking form), as [`Lock`](crate::Lock) does.
//! `read().await`/`write().await` never panic: two branches of one task
//! (`join!`, `select!`) may contend for the lock, and the one that waits is
//! released by the other (misuse detection has no false positives), so an
//! async wait is never refused, even by a task with an identity.
//! `try_read`/`try_write` never panic: they fail. What can still hang: a
//! task that awaits a lock it holds itself in the same chain of futures
//! (it cannot be told from two branches); a write lock held
//! through an owned guard (made to move between units, it records no
//! writer); a guard moved to another unit (the unit that took it still
//! counts as the writer until it is dropped); and **readers**, which are not
//! tracked (that would need per-reader bookkeeping): a reader that asks for
//! `write` waits for itself, and a reader that asks for `read` again waits
//! forever if a writer queued behind its first share (with nobody queued it
//! just takes a second share, also after a
//! [`downgrade`](RwLockWriteGuard::downgrade), which turns the writer into
//! such an untracked reader). No poisoning.
//!
//! # No `Condition`
//!
//! A [`Condition`](crate::Condition) waits with a [`Lock`](crate::Lock),
//! [`Mutex`](crate::Mutex) or [`RLock`](crate::RLock) guard, not with an
//! `RwLock` guard, as `std`'s and parking_lot's condition variables take
//! only their mutex. The reason is how a notify works here: it moves the
//! waiter, without waking it, into the lock's own queue, as an entry that
//! asks for exclusive ownership, and that lock hands itself to it. An
//! `RwLock` queue holds entries of another kind (readers and writers,
//! admitted in batches), so a condition would need a second move path for
//! one lock type. For "wait until the shared state says so", keep the state
//! in a [`Mutex`](crate::Mutex) with a `Condition`, or pair the `RwLock`
//! with an [`REvent`](crate::REvent) (or a one-time
//! [`Event`](crate::Event)) that writers set after changing it.

mod futures;
mod guards;
mod raw;
mod raw_upgrade;
mod upgrade;

pub use futures::{Read, ReadOwned, Write, WriteOwned};
pub use guards::{
    MappedRwLockWriteGuard, OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLockReadGuard,
    RwLockWriteGuard,
};
#[cfg(all(feature = "lock_api", not(polysync_loom)))]
pub(crate) use raw::Role;
pub use raw::{
    LOST_RETRIES, MAX_READERS, OVERTAKE_BOUND, RawRead, RawReadGuard, RawRwLock, RawWrite,
    RawWriteGuard,
};
pub use raw_upgrade::{RawUpgradableRead, RawUpgradableReadGuard, RawUpgrade, RawUpgradedGuard};
pub use upgrade::{RwLockUpgradableReadGuard, RwLockUpgradedGuard, UpgradableRead, Upgrade};

use crate::lowlevel::sync::const_fn;
use crate::lowlevel::{WaitError, Waiter};
use std::cell::UnsafeCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A value shared by many readers or one writer, lockable from threads,
/// async tasks of any executor and green threads at the same time.
///
/// Strict FIFO with direct hand-off (see [the module docs](self#fairness)),
/// cancel-safe futures, no poisoning. `Send` if `T: Send`, `Sync` if
/// `T: Send + Sync`, like [`std::sync::RwLock`].
///
/// ```
/// use polysync::RwLock;
/// use std::sync::Arc;
///
/// let config = Arc::new(RwLock::new(vec![1, 2]));
/// let writer = {
///     let config = config.clone();
///     std::thread::spawn(move || config.write_blocking().push(3))
/// };
/// futures_lite::future::block_on(async {
///     let len = config.read().await.len();
///     assert!(len == 2 || len == 3);
/// });
/// writer.join().unwrap();
/// assert_eq!(*config.read_blocking(), [1, 2, 3]);
/// ```
pub struct RwLock<T: ?Sized> {
    raw: RawRwLock,
    data: UnsafeCell<T>,
}

// SAFETY: moving the lock moves the `T` it owns: `T: Send` suffices.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: a shared lock hands `&T` to readers on several threads at once
// (`T: Sync`) and `&mut T` to a writer on any thread (`T: Send`), as std's
// RwLock.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

impl<T> RwLock<T> {
    const_fn! {
        /// A new unlocked lock holding `value`. `const`, so it can be a `static`.
        ///
        /// ```
        /// static NAMES: polysync::RwLock<Vec<&str>> = polysync::RwLock::new(Vec::new());
        /// NAMES.write_blocking().push("a");
        /// assert_eq!(NAMES.read_blocking().len(), 1);
        /// ```
        pub fn new(value: T) -> Self {
            Self { raw: RawRwLock::new(), data: UnsafeCell::new(value) }
        }
    }

    const_fn! {
        /// A new unlocked lock holding `value`, with strict FIFO hand-off
        /// whatever the default is (see [the module docs](self#fairness)).
        /// `const`, so it can be a `static`.
        ///
        /// ```
        /// let lock = polysync::RwLock::new_fair(1);
        /// assert!(lock.is_fair());
        /// assert_eq!(*lock.read_blocking(), 1);
        /// ```
        pub fn new_fair(value: T) -> Self {
            Self { raw: RawRwLock::new_fair(), data: UnsafeCell::new(value) }
        }
    }

    const_fn! {
        /// A new unlocked lock holding `value`, with bounded fairness (see
        /// [the module docs](self#bounded-fairness)). `const`, so it can be
        /// a `static`.
        ///
        /// ```
        /// let lock = polysync::RwLock::new_bounded(1);
        /// assert!(!lock.is_fair());
        /// *lock.write_blocking() += 1;
        /// assert_eq!(*lock.read_blocking(), 2);
        /// ```
        pub fn new_bounded(value: T) -> Self {
            Self { raw: RawRwLock::new_bounded(), data: UnsafeCell::new(value) }
        }
    }

    /// Consumes the lock and returns the value.
    ///
    /// ```
    /// assert_eq!(polysync::RwLock::new(5).into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Whether this lock hands over in strict FIFO order (made by
    /// [`new`](RwLock::new) or [`new_fair`](RwLock::new_fair)) rather than
    /// with bounded fairness ([`new_bounded`](RwLock::new_bounded)).
    ///
    /// ```
    /// assert!(polysync::RwLock::new_fair(()).is_fair());
    /// assert!(!polysync::RwLock::new_bounded(()).is_fair());
    /// ```
    #[inline]
    pub fn is_fair(&self) -> bool {
        self.raw.is_fair()
    }

    /// Takes a read share asynchronously, in FIFO order with every other
    /// waiter (on a strict lock a reader never passes a queued writer; with
    /// [bounded fairness](self#bounded-fairness) an arriving reader may
    /// barge, within the bound).
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let lock = polysync::RwLock::new(1);
    /// let a = lock.read().await;
    /// let b = lock.read().await; // readers share
    /// assert_eq!(*a + *b, 2);
    /// # });
    /// ```
    ///
    /// # Cancel safety
    /// Dropping the future gives up its place in line and nothing else:
    /// before its first poll nothing happened; while queued it leaves the
    /// queue (the waiters behind it keep their order); after a release
    /// handed it a share, before it was polled again, the drop gives the
    /// share back at once (to a writer waiting for the last reader). The
    /// value is untouched in every case.
    #[inline]
    pub fn read(&self) -> Read<'_, T> {
        Read::new(self)
    }

    /// Takes the write lock asynchronously, in FIFO order with every other
    /// waiter.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let lock = polysync::RwLock::new(1);
    /// *lock.write().await += 1;
    /// assert_eq!(*lock.read().await, 2);
    /// # });
    /// ```
    ///
    /// # Cancel safety
    /// Dropping the future gives up its place in line and nothing else:
    /// before its first poll nothing happened; while queued it leaves the
    /// queue (readers queued right behind it get in at once if the lock is
    /// read-held); after a release handed it the lock, before it was polled
    /// again, the drop releases the lock at once, to the next waiters. The
    /// value is untouched in every case.
    #[inline]
    pub fn write(&self) -> Write<'_, T> {
        Write::new(self)
    }

    /// Blocks the current execution unit until it holds a read share.
    ///
    /// ```
    /// let lock = polysync::RwLock::new("a");
    /// assert_eq!(*lock.read_blocking(), "a");
    /// ```
    #[inline]
    #[track_caller]
    pub fn read_blocking(&self) -> RwLockReadGuard<'_, T> {
        let raw = self.raw.read_blocking();
        // SAFETY: `raw` is a read share of this lock.
        unsafe { RwLockReadGuard::new(self, raw) }
    }

    /// Blocks the current execution unit until it holds the write lock.
    ///
    /// ```
    /// let lock = polysync::RwLock::new(String::new());
    /// lock.write_blocking().push('a');
    /// assert_eq!(*lock.read_blocking(), "a");
    /// ```
    #[inline]
    #[track_caller]
    pub fn write_blocking(&self) -> RwLockWriteGuard<'_, T> {
        let raw = self.raw.write_blocking();
        // SAFETY: `raw` is the write lock of this lock.
        unsafe { RwLockWriteGuard::new(self, raw) }
    }

    /// Takes a read share if no writer holds the lock and nobody waits,
    /// without waiting.
    ///
    /// ```
    /// let lock = polysync::RwLock::new(0);
    /// let w = lock.try_write().unwrap();
    /// assert!(lock.try_read().is_none());
    /// drop(w);
    /// assert!(lock.try_read().is_some());
    /// ```
    #[inline]
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        // SAFETY: a read share of this lock.
        self.raw
            .try_read()
            .map(|raw| unsafe { RwLockReadGuard::new(self, raw) })
    }

    /// Takes the write lock if it is free, without waiting.
    ///
    /// ```
    /// let lock = polysync::RwLock::new(0);
    /// let r = lock.try_read().unwrap();
    /// assert!(lock.try_write().is_none());
    /// drop(r);
    /// *lock.try_write().unwrap() = 1;
    /// ```
    #[inline]
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        // SAFETY: the write lock of this lock.
        self.raw
            .try_write()
            .map(|raw| unsafe { RwLockWriteGuard::new(self, raw) })
    }

    /// Blocks until a read share is taken or `timeout` passes. A zero
    /// timeout still takes a share that is free.
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = polysync::RwLock::new(0);
    /// let w = lock.write_blocking();
    /// // Another thread waits: the writer's own wait would panic.
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(lock.try_read_for(Duration::from_millis(1)).is_none()));
    /// });
    /// # drop(w);
    /// ```
    #[track_caller]
    pub fn try_read_for(&self, timeout: Duration) -> Option<RwLockReadGuard<'_, T>> {
        // SAFETY: a read share of this lock.
        self.raw
            .try_read_for(timeout)
            .map(|raw| unsafe { RwLockReadGuard::new(self, raw) })
    }

    /// Blocks until the write lock is taken or `timeout` passes.
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = polysync::RwLock::new(0);
    /// let r = lock.read_blocking();
    /// assert!(lock.try_write_for(Duration::from_millis(1)).is_none());
    /// ```
    #[track_caller]
    pub fn try_write_for(&self, timeout: Duration) -> Option<RwLockWriteGuard<'_, T>> {
        // SAFETY: the write lock of this lock.
        self.raw
            .try_write_for(timeout)
            .map(|raw| unsafe { RwLockWriteGuard::new(self, raw) })
    }

    /// Blocks until a read share is taken or `deadline` passes.
    ///
    /// ```
    /// let lock = polysync::RwLock::new(0);
    /// assert!(lock.try_read_until(std::time::Instant::now()).is_some());
    /// ```
    #[track_caller]
    pub fn try_read_until(&self, deadline: Instant) -> Option<RwLockReadGuard<'_, T>> {
        // SAFETY: a read share of this lock.
        self.raw
            .try_read_until(deadline)
            .map(|raw| unsafe { RwLockReadGuard::new(self, raw) })
    }

    /// Blocks until the write lock is taken or `deadline` passes.
    ///
    /// ```
    /// let lock = polysync::RwLock::new(0);
    /// assert!(lock.try_write_until(std::time::Instant::now()).is_some());
    /// ```
    #[track_caller]
    pub fn try_write_until(&self, deadline: Instant) -> Option<RwLockWriteGuard<'_, T>> {
        // SAFETY: the write lock of this lock.
        self.raw
            .try_write_until(deadline)
            .map(|raw| unsafe { RwLockWriteGuard::new(self, raw) })
    }

    /// Blocks on `waiter` until a read share is taken, `deadline` passes or
    /// the waiter reports cancellation: the entry point that every blocking
    /// read form runs with the current unit's waiter (see
    /// [`RawRwLock::read_with`]).
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] or [`WaitError::Cancelled`]; the wait is
    /// withdrawn either way.
    ///
    /// ```
    /// use polysync::lowlevel::ThreadWaiter;
    /// let lock = polysync::RwLock::new(1);
    /// let v = ThreadWaiter::with_current(|w| *lock.read_with(w, None).unwrap());
    /// assert_eq!(v, 1);
    /// ```
    #[track_caller]
    pub fn read_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<RwLockReadGuard<'_, T>, WaitError> {
        let raw = self.raw.read_with(waiter, deadline)?;
        // SAFETY: a read share of this lock.
        Ok(unsafe { RwLockReadGuard::new(self, raw) })
    }

    /// Blocks on `waiter` until the write lock is taken, `deadline` passes
    /// or the waiter reports cancellation: the entry point that every
    /// blocking write form runs with the current unit's waiter (see
    /// [`RawRwLock::write_with`]).
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] or [`WaitError::Cancelled`]; the wait is
    /// withdrawn either way.
    ///
    /// ```
    /// use polysync::lowlevel::ThreadWaiter;
    /// let lock = polysync::RwLock::new(1);
    /// ThreadWaiter::with_current(|w| *lock.write_with(w, None).unwrap() += 1);
    /// assert_eq!(*lock.read_blocking(), 2);
    /// ```
    #[track_caller]
    pub fn write_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<RwLockWriteGuard<'_, T>, WaitError> {
        let raw = self.raw.write_with(waiter, deadline)?;
        // SAFETY: the write lock of this lock.
        Ok(unsafe { RwLockWriteGuard::new(self, raw) })
    }

    /// How many readers hold the lock now (a snapshot).
    ///
    /// ```
    /// let lock = polysync::RwLock::new(0);
    /// let _r = lock.read_blocking();
    /// assert_eq!(lock.readers(), 1);
    /// ```
    #[inline]
    pub fn readers(&self) -> usize {
        self.raw.readers()
    }

    /// Whether a writer holds the lock now (a snapshot).
    ///
    /// ```
    /// let lock = polysync::RwLock::new(0);
    /// let _w = lock.write_blocking();
    /// assert!(lock.is_write_locked());
    /// ```
    #[inline]
    pub fn is_write_locked(&self) -> bool {
        self.raw.is_write_locked()
    }

    /// Whether anyone holds the lock now (a snapshot).
    ///
    /// ```
    /// assert!(!polysync::RwLock::new(0).is_locked());
    /// ```
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// How many units wait for the lock, readers and writers (a snapshot).
    ///
    /// ```
    /// assert_eq!(polysync::RwLock::new(0).waiting(), 0);
    /// ```
    #[inline]
    pub fn waiting(&self) -> usize {
        self.raw.waiting()
    }

    /// Mutable access without locking: `&mut self` proves exclusivity.
    ///
    /// ```
    /// let mut lock = polysync::RwLock::new(1);
    /// *lock.get_mut() = 2;
    /// assert_eq!(lock.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// A pointer to the data (for the guards).
    #[inline]
    pub(crate) fn data_ptr(&self) -> *mut T {
        self.data.get()
    }

    /// The lock behind the data.
    #[inline]
    pub(crate) fn raw(&self) -> &RawRwLock {
        &self.raw
    }
}

/// The owned forms: on an `Arc<RwLock<T>>`, each returns a guard that keeps
/// its own clone of the `Arc` (`'static` if `T` is), so it can move into a
/// spawned task or thread. They take `&Arc<Self>` and clone it.
impl<T: ?Sized> RwLock<T> {
    /// [`read`](RwLock::read) with an owned guard.
    ///
    /// ```
    /// use std::sync::Arc;
    /// # futures_lite::future::block_on(async {
    /// let lock = Arc::new(polysync::RwLock::new(1));
    /// let guard = lock.read_owned().await;
    /// std::thread::spawn(move || assert_eq!(*guard, 1)).join().unwrap();
    /// # });
    /// ```
    ///
    /// # Cancel safety
    /// As for [`read`](RwLock::read).
    #[inline]
    pub fn read_owned(self: &Arc<Self>) -> ReadOwned<T> {
        ReadOwned::new(self.clone())
    }

    /// [`write`](RwLock::write) with an owned guard.
    ///
    /// ```
    /// use std::sync::Arc;
    /// # futures_lite::future::block_on(async {
    /// let lock = Arc::new(polysync::RwLock::new(1));
    /// let mut guard = lock.write_owned().await;
    /// std::thread::spawn(move || *guard += 1).join().unwrap();
    /// assert_eq!(*lock.read().await, 2);
    /// # });
    /// ```
    ///
    /// # Cancel safety
    /// As for [`write`](RwLock::write).
    #[inline]
    pub fn write_owned(self: &Arc<Self>) -> WriteOwned<T> {
        WriteOwned::new(self.clone())
    }

    /// [`read_blocking`](RwLock::read_blocking) with an owned guard.
    ///
    /// ```
    /// let lock = std::sync::Arc::new(polysync::RwLock::new(1));
    /// let guard = lock.read_owned_blocking();
    /// assert_eq!(*guard, 1);
    /// ```
    #[track_caller]
    pub fn read_owned_blocking(self: &Arc<Self>) -> OwnedRwLockReadGuard<T> {
        OwnedRwLockReadGuard::from_guard(self, self.read_blocking())
    }

    /// [`write_blocking`](RwLock::write_blocking) with an owned guard.
    ///
    /// ```
    /// let lock = std::sync::Arc::new(polysync::RwLock::new(1));
    /// *lock.write_owned_blocking() += 1;
    /// assert_eq!(*lock.read_blocking(), 2);
    /// ```
    #[track_caller]
    pub fn write_owned_blocking(self: &Arc<Self>) -> OwnedRwLockWriteGuard<T> {
        OwnedRwLockWriteGuard::from_guard(self, self.write_blocking())
    }

    /// [`try_read`](RwLock::try_read) with an owned guard.
    ///
    /// ```
    /// let lock = std::sync::Arc::new(polysync::RwLock::new(1));
    /// let w = lock.try_write_owned().unwrap();
    /// assert!(lock.try_read_owned().is_none());
    /// ```
    pub fn try_read_owned(self: &Arc<Self>) -> Option<OwnedRwLockReadGuard<T>> {
        self.try_read()
            .map(|g| OwnedRwLockReadGuard::from_guard(self, g))
    }

    /// [`try_write`](RwLock::try_write) with an owned guard.
    ///
    /// ```
    /// let lock = std::sync::Arc::new(polysync::RwLock::new(1));
    /// let r = lock.try_read_owned().unwrap();
    /// assert!(lock.try_write_owned().is_none());
    /// ```
    pub fn try_write_owned(self: &Arc<Self>) -> Option<OwnedRwLockWriteGuard<T>> {
        self.try_write()
            .map(|g| OwnedRwLockWriteGuard::from_guard(self, g))
    }

    /// [`try_read_for`](RwLock::try_read_for) with an owned guard.
    ///
    /// ```
    /// let lock = std::sync::Arc::new(polysync::RwLock::new(1));
    /// assert!(lock.try_read_owned_for(std::time::Duration::ZERO).is_some());
    /// ```
    #[track_caller]
    pub fn try_read_owned_for(
        self: &Arc<Self>,
        timeout: Duration,
    ) -> Option<OwnedRwLockReadGuard<T>> {
        self.try_read_for(timeout)
            .map(|g| OwnedRwLockReadGuard::from_guard(self, g))
    }

    /// [`try_write_for`](RwLock::try_write_for) with an owned guard.
    ///
    /// ```
    /// let lock = std::sync::Arc::new(polysync::RwLock::new(1));
    /// assert!(lock.try_write_owned_for(std::time::Duration::ZERO).is_some());
    /// ```
    #[track_caller]
    pub fn try_write_owned_for(
        self: &Arc<Self>,
        timeout: Duration,
    ) -> Option<OwnedRwLockWriteGuard<T>> {
        self.try_write_for(timeout)
            .map(|g| OwnedRwLockWriteGuard::from_guard(self, g))
    }

    /// [`try_read_until`](RwLock::try_read_until) with an owned guard.
    ///
    /// ```
    /// let lock = std::sync::Arc::new(polysync::RwLock::new(1));
    /// assert!(lock.try_read_owned_until(std::time::Instant::now()).is_some());
    /// ```
    #[track_caller]
    pub fn try_read_owned_until(
        self: &Arc<Self>,
        deadline: Instant,
    ) -> Option<OwnedRwLockReadGuard<T>> {
        self.try_read_until(deadline)
            .map(|g| OwnedRwLockReadGuard::from_guard(self, g))
    }

    /// [`try_write_until`](RwLock::try_write_until) with an owned guard.
    ///
    /// ```
    /// let lock = std::sync::Arc::new(polysync::RwLock::new(1));
    /// assert!(lock.try_write_owned_until(std::time::Instant::now()).is_some());
    /// ```
    #[track_caller]
    pub fn try_write_owned_until(
        self: &Arc<Self>,
        deadline: Instant,
    ) -> Option<OwnedRwLockWriteGuard<T>> {
        self.try_write_until(deadline)
            .map(|g| OwnedRwLockWriteGuard::from_guard(self, g))
    }

    /// [`read_with`](RwLock::read_with) with an owned guard.
    ///
    /// # Errors
    /// As for [`read_with`](RwLock::read_with).
    ///
    /// ```
    /// use polysync::lowlevel::ThreadWaiter;
    /// let lock = std::sync::Arc::new(polysync::RwLock::new(1));
    /// let g = ThreadWaiter::with_current(|w| lock.read_owned_with(w, None)).unwrap();
    /// assert_eq!(*g, 1);
    /// ```
    #[track_caller]
    pub fn read_owned_with<W: Waiter + ?Sized>(
        self: &Arc<Self>,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<OwnedRwLockReadGuard<T>, WaitError> {
        self.read_with(waiter, deadline)
            .map(|g| OwnedRwLockReadGuard::from_guard(self, g))
    }

    /// [`write_with`](RwLock::write_with) with an owned guard.
    ///
    /// # Errors
    /// As for [`write_with`](RwLock::write_with).
    ///
    /// ```
    /// use polysync::lowlevel::ThreadWaiter;
    /// let lock = std::sync::Arc::new(polysync::RwLock::new(1));
    /// let mut g = ThreadWaiter::with_current(|w| lock.write_owned_with(w, None)).unwrap();
    /// *g = 2;
    /// ```
    #[track_caller]
    pub fn write_owned_with<W: Waiter + ?Sized>(
        self: &Arc<Self>,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<OwnedRwLockWriteGuard<T>, WaitError> {
        self.write_with(waiter, deadline)
            .map(|g| OwnedRwLockWriteGuard::from_guard(self, g))
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (readers, writer, waiting) = (self.readers(), self.is_write_locked(), self.waiting());
        let mut d = f.debug_struct("RwLock");
        // The value is shown only if a share is free right now; the guard
        // (not a queue lock) is held while `T`'s Debug runs.
        match self.try_read() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.field("readers", &readers)
            .field("writer", &writer)
            .field("waiting", &waiting)
            .finish()
    }
}
