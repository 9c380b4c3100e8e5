//! The upgradable read of [`RawRwLock`]: its forms, its guard, the guard of
//! an upgrade, and their futures. The protocol (the `UPGRADABLE` and
//! `UPGRADING` bits, the upgrade's place outside the FIFO line) is in
//! `raw.rs`.

use super::raw::{RawReadGuard, RawRwLock, Role};
use crate::lowlevel::wait::{Protocol, Wait, blocking, drive};
use crate::lowlevel::{Owner, WaitError, Waiter, current_task, current_unit, deadline_after};
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

impl RawRwLock {
    /// Takes the upgradable read asynchronously, in FIFO order with every
    /// other waiter: a read share that excludes writers and other
    /// upgradable readers, and that can later be
    /// [upgraded](RawUpgradableReadGuard::upgrade) to the write lock without
    /// letting a writer in between. Plain readers share the lock with it.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let lock = polysync::RawRwLock::new();
    /// let u = lock.upgradable_read().await;
    /// assert!(lock.try_read().is_some()); // plain readers share
    /// assert!(lock.try_upgradable_read().is_none());
    /// assert!(lock.try_write().is_none());
    /// drop(u);
    /// # });
    /// ```
    ///
    /// # Cancel safety
    /// As [`write`](RawRwLock::write): dropping the future gives up its
    /// place in line (readers queued right behind it get in at once), and
    /// an upgradable read handed to it before it was polled again is given
    /// back at once.
    #[inline]
    pub fn upgradable_read(&self) -> RawUpgradableRead<'_> {
        RawUpgradableRead {
            wait: Wait::new(self, Role::Upgradable),
        }
    }

    /// Blocks the current execution unit until it holds the upgradable
    /// read.
    ///
    /// # Panics
    /// If the current unit holds this lock's write lock or its upgradable
    /// read (the wait would never end).
    ///
    /// ```
    /// let lock = polysync::RawRwLock::new();
    /// let u = lock.upgradable_read_blocking();
    /// assert!(lock.is_upgradable_locked());
    /// # drop(u);
    /// ```
    #[track_caller]
    pub fn upgradable_read_blocking(&self) -> RawUpgradableReadGuard<'_> {
        crate::lowlevel::green_checkpoint();
        if let Some(guard) = self.try_upgradable_read() {
            return guard;
        }
        self.refuse_current(Role::Upgradable, "RwLock::upgradable_read_blocking()");
        blocking(|w| {
            self.wait_as(
                w,
                None,
                Role::Upgradable,
                "RwLock::upgradable_read_blocking()",
            )
        })
        .map(|()| RawUpgradableReadGuard { lock: self })
        .expect("a wait without a deadline does not time out")
    }

    /// Takes the upgradable read if no writer and no upgradable reader
    /// holds the lock and nobody waits, without waiting.
    ///
    /// ```
    /// let lock = polysync::RawRwLock::new();
    /// let r = lock.try_read().unwrap();
    /// let u = lock.try_upgradable_read().unwrap(); // beside a reader
    /// assert!(lock.try_upgradable_read().is_none());
    /// # drop((r, u));
    /// ```
    #[inline]
    pub fn try_upgradable_read(&self) -> Option<RawUpgradableReadGuard<'_>> {
        self.try_fast(Role::Upgradable, &())?;
        self.record(Role::Upgradable, Owner::of(current_unit()));
        Some(RawUpgradableReadGuard { lock: self })
    }

    /// Blocks until the upgradable read is taken or `timeout` passes.
    ///
    /// # Panics
    /// As [`upgradable_read_blocking`](RawRwLock::upgradable_read_blocking).
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = polysync::RawRwLock::new();
    /// let w = lock.write_blocking();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(lock.try_upgradable_read_for(Duration::from_millis(1)).is_none()));
    /// });
    /// drop(w);
    /// assert!(lock.try_upgradable_read_for(Duration::ZERO).is_some());
    /// ```
    #[track_caller]
    pub fn try_upgradable_read_for(&self, timeout: Duration) -> Option<RawUpgradableReadGuard<'_>> {
        self.refuse_current(Role::Upgradable, "RwLock::try_upgradable_read_for()");
        blocking(|w| {
            self.wait_as(
                w,
                deadline_after(timeout),
                Role::Upgradable,
                "RwLock::try_upgradable_read_for()",
            )
        })
        .map(|()| RawUpgradableReadGuard { lock: self })
    }

    /// Blocks until the upgradable read is taken or `deadline` passes.
    ///
    /// # Panics
    /// As [`upgradable_read_blocking`](RawRwLock::upgradable_read_blocking).
    ///
    /// ```
    /// let lock = polysync::RawRwLock::new();
    /// assert!(lock.try_upgradable_read_until(std::time::Instant::now()).is_some());
    /// ```
    #[track_caller]
    pub fn try_upgradable_read_until(
        &self,
        deadline: Instant,
    ) -> Option<RawUpgradableReadGuard<'_>> {
        self.refuse_current(Role::Upgradable, "RwLock::try_upgradable_read_until()");
        blocking(|w| {
            self.wait_as(
                w,
                Some(deadline),
                Role::Upgradable,
                "RwLock::try_upgradable_read_until()",
            )
        })
        .map(|()| RawUpgradableReadGuard { lock: self })
    }

    /// Blocks on `waiter` until the upgradable read is taken, `deadline`
    /// passes or the waiter reports cancellation.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] or [`WaitError::Cancelled`]; the wait is
    /// withdrawn either way (if the upgradable read was handed to it just
    /// as it gave up, it completes with it instead: nothing is lost).
    ///
    /// # Panics
    /// As [`upgradable_read_blocking`](RawRwLock::upgradable_read_blocking).
    ///
    /// ```
    /// use polysync::lowlevel::ThreadWaiter;
    /// let lock = polysync::RawRwLock::new();
    /// let u = ThreadWaiter::with_current(|t| lock.upgradable_read_with(t, None)).unwrap();
    /// # drop(u);
    /// ```
    #[track_caller]
    pub fn upgradable_read_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<RawUpgradableReadGuard<'_>, WaitError> {
        self.wait_as(
            waiter,
            deadline,
            Role::Upgradable,
            "RwLock::upgradable_read_with()",
        )
        .map(|()| RawUpgradableReadGuard { lock: self })
    }

    /// The upgradable reader waits on `waiter` for the write lock.
    pub(crate) fn upgrade_wait<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<(), WaitError> {
        if self.try_upgrade_now() {
            return Ok(());
        }
        drive(waiter, pin!(Wait::new(self, Role::Upgrade)), deadline).map_err(|(error, ())| error)
    }
}

/// The upgradable read of a [`RawRwLock`]: a read share that excludes
/// writers and other upgradable readers and can be upgraded to the write
/// lock; given back when dropped.
///
/// # Upgrading
/// [`upgrade`](Self::upgrade) and its forms borrow the guard and resolve to
/// a [`RawUpgradedGuard`], the write lock, which turns back into the
/// upgradable read when dropped. The upgrade waits for the plain readers to
/// leave, and it does not queue in line: it goes before every queued
/// waiter (they all wait for the upgradable read anyway); plain readers
/// that arrive while it waits queue behind it, so they cannot starve it.
///
/// Not checked (these hang): an upgrade by a unit that also holds a plain
/// read share of the same lock (readers are not tracked).
#[must_use = "the upgradable read is given back as soon as the guard is dropped"]
pub struct RawUpgradableReadGuard<'a> {
    lock: &'a RawRwLock,
}

impl<'a> RawUpgradableReadGuard<'a> {
    /// The guard of the upgradable read of `lock` that the caller holds
    /// (and hands to this guard).
    #[inline]
    pub(crate) fn assume(lock: &'a RawRwLock) -> Self {
        Self { lock }
    }

    /// The lock this guard holds the upgradable read of.
    ///
    /// ```
    /// let lock = polysync::RawRwLock::new();
    /// let u = lock.upgradable_read_blocking();
    /// assert!(std::ptr::eq(u.lock(), &lock));
    /// ```
    pub fn lock(&self) -> &'a RawRwLock {
        self.lock
    }

    /// Waits asynchronously until the plain readers left, then holds the
    /// write lock (see [Upgrading](Self#upgrading)).
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let lock = polysync::RawRwLock::new();
    /// let mut u = lock.upgradable_read().await;
    /// let w = u.upgrade().await;
    /// assert!(lock.is_write_locked());
    /// drop(w); // back to the upgradable read
    /// assert!(lock.is_upgradable_locked());
    /// # drop(u);
    /// # });
    /// ```
    ///
    /// # Cancel safety
    /// Dropping the future leaves the upgradable read held by this guard,
    /// as it was: before its first poll nothing happened; while it waits it
    /// withdraws (plain readers queued behind it are admitted); after the
    /// readers left and it was handed the write lock, before it was polled
    /// again, the write lock turns back into the upgradable read.
    #[inline]
    pub fn upgrade(&mut self) -> RawUpgrade<'_> {
        RawUpgrade::new(self.lock)
    }

    /// Blocks the current execution unit until the plain readers left, then
    /// holds the write lock.
    ///
    /// ```
    /// let lock = polysync::RawRwLock::new();
    /// let mut u = lock.upgradable_read_blocking();
    /// let w = u.upgrade_blocking();
    /// assert!(lock.is_write_locked());
    /// # drop(w);
    /// ```
    pub fn upgrade_blocking(&mut self) -> RawUpgradedGuard<'_> {
        crate::lowlevel::green_checkpoint();
        // Free of plain readers: no waiter needed (skip its lookup).
        if !self.lock.try_upgrade_now() {
            blocking(|w| self.lock.upgrade_wait(w, None))
                .expect("a wait without a deadline does not time out");
        }
        RawUpgradedGuard { lock: self.lock }
    }

    /// Takes the write lock if no plain reader holds a share, without
    /// waiting.
    ///
    /// ```
    /// let lock = polysync::RawRwLock::new();
    /// let mut u = lock.upgradable_read_blocking();
    /// let r = lock.read_blocking();
    /// assert!(u.try_upgrade().is_none());
    /// drop(r);
    /// assert!(u.try_upgrade().is_some());
    /// ```
    #[inline]
    pub fn try_upgrade(&mut self) -> Option<RawUpgradedGuard<'_>> {
        self.lock
            .try_upgrade_now()
            .then(|| RawUpgradedGuard { lock: self.lock })
    }

    /// Blocks until the plain readers left (then holds the write lock) or
    /// `timeout` passes (then the guard keeps the upgradable read).
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = polysync::RawRwLock::new();
    /// let mut u = lock.upgradable_read_blocking();
    /// let r = lock.read_blocking();
    /// assert!(u.try_upgrade_for(Duration::from_millis(1)).is_none());
    /// drop(r);
    /// assert!(u.try_upgrade_for(Duration::ZERO).is_some());
    /// ```
    pub fn try_upgrade_for(&mut self, timeout: Duration) -> Option<RawUpgradedGuard<'_>> {
        blocking(|w| self.lock.upgrade_wait(w, deadline_after(timeout)))
            .map(|()| RawUpgradedGuard { lock: self.lock })
    }

    /// Blocks until the plain readers left (then holds the write lock) or
    /// `deadline` passes (then the guard keeps the upgradable read).
    ///
    /// ```
    /// let lock = polysync::RawRwLock::new();
    /// let mut u = lock.upgradable_read_blocking();
    /// assert!(u.try_upgrade_until(std::time::Instant::now()).is_some());
    /// ```
    pub fn try_upgrade_until(&mut self, deadline: Instant) -> Option<RawUpgradedGuard<'_>> {
        blocking(|w| self.lock.upgrade_wait(w, Some(deadline)))
            .map(|()| RawUpgradedGuard { lock: self.lock })
    }

    /// Blocks on `waiter` until the plain readers left (then holds the
    /// write lock), `deadline` passes or the waiter reports cancellation.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] or [`WaitError::Cancelled`]; the upgrade is
    /// withdrawn either way and the guard keeps the upgradable read (if the
    /// write lock was handed to it just as it gave up, it completes with it
    /// instead).
    ///
    /// ```
    /// use polysync::lowlevel::{ThreadWaiter, WaitError};
    /// use std::time::Instant;
    ///
    /// let lock = polysync::RawRwLock::new();
    /// let mut u = lock.upgradable_read_blocking();
    /// let r = lock.read_blocking();
    /// ThreadWaiter::with_current(|t| {
    ///     let out = u.upgrade_with(t, Some(Instant::now()));
    ///     assert_eq!(out.unwrap_err(), WaitError::TimedOut);
    /// });
    /// drop(r);
    /// let w = ThreadWaiter::with_current(|t| u.upgrade_with(t, None)).unwrap();
    /// # drop(w);
    /// ```
    pub fn upgrade_with<W: Waiter + ?Sized>(
        &mut self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<RawUpgradedGuard<'_>, WaitError> {
        self.lock
            .upgrade_wait(waiter, deadline)
            .map(|()| RawUpgradedGuard { lock: self.lock })
    }

    /// Turns the upgradable read into a plain read share; an upgradable
    /// reader or readers queued at the front get in at once.
    ///
    /// ```
    /// let lock = polysync::RawRwLock::new();
    /// let u = lock.upgradable_read_blocking();
    /// let r = u.downgrade();
    /// assert_eq!(lock.readers(), 1);
    /// assert!(lock.try_upgradable_read().is_some());
    /// # drop(r);
    /// ```
    pub fn downgrade(self) -> RawReadGuard<'a> {
        let lock = self.lock;
        std::mem::forget(self);
        lock.downgrade_upgradable();
        RawReadGuard::assume(lock)
    }
}

impl Drop for RawUpgradableReadGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.lock.unlock_upgradable();
    }
}

impl std::fmt::Debug for RawUpgradableReadGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawUpgradableReadGuard")
            .field("lock", self.lock)
            .finish()
    }
}

/// The write lock of a [`RawRwLock`] taken by upgrading a
/// [`RawUpgradableReadGuard`], which it borrows; turns back into the
/// upgradable read when dropped (the plain readers queued at the front get
/// in at once).
#[must_use = "the write lock turns back into the upgradable read as soon as the guard is dropped"]
pub struct RawUpgradedGuard<'g> {
    lock: &'g RawRwLock,
}

impl<'g> RawUpgradedGuard<'g> {
    /// The lock this guard holds.
    ///
    /// ```
    /// let lock = polysync::RawRwLock::new();
    /// let mut u = lock.upgradable_read_blocking();
    /// let w = u.upgrade_blocking();
    /// assert!(std::ptr::eq(w.lock(), &lock));
    /// ```
    pub fn lock(&self) -> &'g RawRwLock {
        self.lock
    }
}

impl Drop for RawUpgradedGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.lock.downgrade_to_upgradable();
    }
}

impl std::fmt::Debug for RawUpgradedGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawUpgradedGuard")
            .field("lock", self.lock)
            .finish()
    }
}

/// The future of [`RawRwLock::upgradable_read`]; resolves to a
/// [`RawUpgradableReadGuard`].
#[must_use = "futures do nothing unless polled"]
pub struct RawUpgradableRead<'a> {
    wait: Wait<'a, RawRwLock>,
}

/// The future of [`RawUpgradableReadGuard::upgrade`]; resolves to a
/// [`RawUpgradedGuard`]. Dropping it leaves the upgradable read held.
#[must_use = "futures do nothing unless polled"]
pub struct RawUpgrade<'g> {
    wait: Wait<'g, RawRwLock>,
}

impl<'a> RawUpgradableRead<'a> {
    /// The lock this future waits on.
    pub(crate) fn lock(&self) -> &'a RawRwLock {
        self.wait.protocol()
    }

    fn project(self: Pin<&mut Self>) -> Pin<&mut Wait<'a, RawRwLock>> {
        // SAFETY: `wait` is structurally pinned: never moved out of `self`,
        // and `RawUpgradableRead` has no `Drop` or `Unpin` impl of its own.
        unsafe { self.map_unchecked_mut(|this| &mut this.wait) }
    }
}

impl<'g> RawUpgrade<'g> {
    /// The upgrade of `lock`'s upgradable read, which the caller holds and
    /// keeps borrowed for `'g`.
    #[inline]
    pub(crate) fn new(lock: &'g RawRwLock) -> Self {
        RawUpgrade {
            wait: Wait::new(lock, Role::Upgrade),
        }
    }

    /// The lock this future waits on.
    pub(crate) fn lock(&self) -> &'g RawRwLock {
        self.wait.protocol()
    }

    fn project(self: Pin<&mut Self>) -> Pin<&mut Wait<'g, RawRwLock>> {
        // SAFETY: as in `RawUpgradableRead::project`.
        unsafe { self.map_unchecked_mut(|this| &mut this.wait) }
    }
}

impl<'a> Future for RawUpgradableRead<'a> {
    type Output = RawUpgradableReadGuard<'a>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<RawUpgradableReadGuard<'a>> {
        let lock = self.lock();
        // Never refused (see `RawRead`'s poll); recorded as the writer is.
        let me = current_task().map_or(Owner::UNKNOWN, Owner::of);
        self.project().poll(cx).map(|()| {
            lock.record(Role::Upgradable, me);
            RawUpgradableReadGuard { lock }
        })
    }
}

impl<'g> Future for RawUpgrade<'g> {
    type Output = RawUpgradedGuard<'g>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<RawUpgradedGuard<'g>> {
        let lock = self.lock();
        // The upgradable reader stays the recorded holder.
        self.project().poll(cx).map(|()| RawUpgradedGuard { lock })
    }
}

impl std::fmt::Debug for RawUpgradableRead<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawUpgradableRead")
            .field("lock", self.lock())
            .field("queued", &self.wait.is_queued())
            .finish()
    }
}

impl std::fmt::Debug for RawUpgrade<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawUpgrade")
            .field("lock", self.lock())
            .field("queued", &self.wait.is_queued())
            .finish()
    }
}
