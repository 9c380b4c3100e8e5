//! The upgradable read of [`RwLock<T>`]: its forms, its guard, the guard of
//! an upgrade and their futures, each a thin layer over the raw ones
//! (`raw_upgrade.rs`).

use super::RwLock;
use super::guards::RwLockReadGuard;
use super::raw_upgrade::{RawUpgradableRead, RawUpgradableReadGuard, RawUpgrade};
use crate::lowlevel::wait::blocking;
use crate::lowlevel::{WaitError, Waiter, deadline_after};
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

impl<T: ?Sized> RwLock<T> {
    /// Takes the upgradable read asynchronously, in FIFO order with every
    /// other waiter: shared access that excludes writers and other
    /// upgradable readers (plain readers share the lock with it), and that
    /// can be [upgraded](RwLockUpgradableReadGuard::upgrade) to the write
    /// lock without letting a writer in between: for "read, decide, maybe
    /// write" (async-lock's `upgradable_read`).
    ///
    /// ```
    /// use polysync::{RwLock, RwLockUpgradableReadGuard};
    /// # futures_lite::future::block_on(async {
    /// let lock = RwLock::new(1);
    /// let mut u = lock.upgradable_read().await;
    /// assert_eq!(*lock.read().await, 1); // readers share
    /// if *u == 1 {
    ///     *RwLockUpgradableReadGuard::upgrade(&mut u).await = 2;
    /// }
    /// assert_eq!(*u, 2);
    /// # });
    /// ```
    ///
    /// # Cancel safety
    /// As [`write`](RwLock::write): dropping the future gives up its place
    /// in line, and an upgradable read handed to it before it was polled
    /// again is given back at once. The value is untouched in every case.
    #[inline]
    pub fn upgradable_read(&self) -> UpgradableRead<'_, T> {
        UpgradableRead {
            raw: self.raw().upgradable_read(),
            lock: self,
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
    /// let lock = polysync::RwLock::new(1);
    /// let u = lock.upgradable_read_blocking();
    /// assert_eq!(*u, 1);
    /// ```
    #[inline]
    #[track_caller]
    pub fn upgradable_read_blocking(&self) -> RwLockUpgradableReadGuard<'_, T> {
        let raw = self.raw().upgradable_read_blocking();
        RwLockUpgradableReadGuard::new(self, raw)
    }

    /// Takes the upgradable read if no writer and no upgradable reader
    /// holds the lock and nobody waits, without waiting.
    ///
    /// ```
    /// let lock = polysync::RwLock::new(1);
    /// let u = lock.try_upgradable_read().unwrap();
    /// assert!(lock.try_upgradable_read().is_none());
    /// assert!(lock.try_read().is_some());
    /// # drop(u);
    /// ```
    #[inline]
    pub fn try_upgradable_read(&self) -> Option<RwLockUpgradableReadGuard<'_, T>> {
        let raw = self.raw().try_upgradable_read()?;
        Some(RwLockUpgradableReadGuard::new(self, raw))
    }

    /// Blocks until the upgradable read is taken or `timeout` passes.
    ///
    /// # Panics
    /// As [`upgradable_read_blocking`](RwLock::upgradable_read_blocking).
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = polysync::RwLock::new(1);
    /// assert!(lock.try_upgradable_read_for(Duration::ZERO).is_some());
    /// ```
    #[inline]
    #[track_caller]
    pub fn try_upgradable_read_for(
        &self,
        timeout: Duration,
    ) -> Option<RwLockUpgradableReadGuard<'_, T>> {
        let raw = self.raw().try_upgradable_read_for(timeout)?;
        Some(RwLockUpgradableReadGuard::new(self, raw))
    }

    /// Blocks until the upgradable read is taken or `deadline` passes.
    ///
    /// # Panics
    /// As [`upgradable_read_blocking`](RwLock::upgradable_read_blocking).
    ///
    /// ```
    /// let lock = polysync::RwLock::new(1);
    /// assert!(lock.try_upgradable_read_until(std::time::Instant::now()).is_some());
    /// ```
    #[inline]
    #[track_caller]
    pub fn try_upgradable_read_until(
        &self,
        deadline: Instant,
    ) -> Option<RwLockUpgradableReadGuard<'_, T>> {
        let raw = self.raw().try_upgradable_read_until(deadline)?;
        Some(RwLockUpgradableReadGuard::new(self, raw))
    }

    /// Blocks on `waiter` until the upgradable read is taken, `deadline`
    /// passes or the waiter reports cancellation (see
    /// [`RawRwLock::upgradable_read_with`](super::RawRwLock::upgradable_read_with)).
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] or [`WaitError::Cancelled`]; the wait is
    /// withdrawn either way.
    ///
    /// # Panics
    /// As [`upgradable_read_blocking`](RwLock::upgradable_read_blocking).
    ///
    /// ```
    /// use polysync::lowlevel::ThreadWaiter;
    /// let lock = polysync::RwLock::new(1);
    /// let v = ThreadWaiter::with_current(|w| *lock.upgradable_read_with(w, None).unwrap());
    /// assert_eq!(v, 1);
    /// ```
    #[track_caller]
    pub fn upgradable_read_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<RwLockUpgradableReadGuard<'_, T>, WaitError> {
        let raw = self.raw().upgradable_read_with(waiter, deadline)?;
        Ok(RwLockUpgradableReadGuard::new(self, raw))
    }

    /// Whether the upgradable read is held now (a snapshot).
    ///
    /// ```
    /// let lock = polysync::RwLock::new(0);
    /// let _u = lock.upgradable_read_blocking();
    /// assert!(lock.is_upgradable_locked());
    /// ```
    #[inline]
    pub fn is_upgradable_locked(&self) -> bool {
        self.raw().is_upgradable_locked()
    }
}

/// Shared access to an [`RwLock`]'s value that excludes writers and other
/// upgradable readers and can be upgraded to exclusive access; gives the
/// upgradable read back when dropped.
///
/// # Upgrading
/// [`upgrade`](Self::upgrade) and its forms (associated functions, so they
/// do not hide methods of `T`) borrow the guard and resolve to a
/// [`RwLockUpgradedGuard`], exclusive access, which turns back into the
/// upgradable read when dropped. An upgrade waits for the plain readers to
/// leave and goes before every queued waiter (they all wait for the
/// upgradable read anyway); plain readers that arrive meanwhile queue
/// behind it, so they cannot starve it. Because it borrows, a dropped or
/// timed-out upgrade leaves this guard as it was.
///
/// Not checked (it hangs): an upgrade by a unit that also holds a plain
/// read guard of the same lock (readers are not tracked).
///
/// `Send` and `Sync` if `T: Send + Sync` (an upgrade hands out `&mut T`).
#[must_use = "the upgradable read is given back as soon as the guard is dropped"]
pub struct RwLockUpgradableReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

impl<'a, T: ?Sized> RwLockUpgradableReadGuard<'a, T> {
    /// The guard of `lock` that owns the upgradable read `raw`.
    #[inline]
    fn new(lock: &'a RwLock<T>, raw: RawUpgradableReadGuard<'a>) -> Self {
        assert!(std::ptr::eq(raw.lock(), lock.raw()));
        // The guard gives the upgradable read back itself.
        std::mem::forget(raw);
        Self { lock }
    }

    /// Waits asynchronously until the plain readers left, then gives
    /// exclusive access (see [Upgrading](Self#upgrading)).
    ///
    /// ```
    /// use polysync::{RwLock, RwLockUpgradableReadGuard};
    /// # futures_lite::future::block_on(async {
    /// let lock = RwLock::new(vec![1]);
    /// let mut u = lock.upgradable_read().await;
    /// RwLockUpgradableReadGuard::upgrade(&mut u).await.push(2);
    /// assert_eq!(*u, [1, 2]);
    /// # });
    /// ```
    ///
    /// # Cancel safety
    /// Dropping the future leaves the upgradable read held by this guard,
    /// as it was: before its first poll nothing happened; while it waits it
    /// withdraws (plain readers queued behind it are admitted); after the
    /// readers left and it was handed the write lock, before it was polled
    /// again, the write lock turns back into the upgradable read. The value
    /// is untouched in every case.
    #[inline]
    pub fn upgrade<'g>(this: &'g mut Self) -> Upgrade<'g, T> {
        let lock = this.lock;
        Upgrade {
            raw: RawUpgrade::new(lock.raw()),
            lock,
        }
    }

    /// Blocks the current execution unit until the plain readers left,
    /// then gives exclusive access.
    ///
    /// ```
    /// use polysync::{RwLock, RwLockUpgradableReadGuard};
    /// let lock = RwLock::new(1);
    /// let mut u = lock.upgradable_read_blocking();
    /// *RwLockUpgradableReadGuard::upgrade_blocking(&mut u) += 1;
    /// assert_eq!(*u, 2);
    /// ```
    pub fn upgrade_blocking(this: &mut Self) -> RwLockUpgradedGuard<'_, T> {
        let lock = this.lock;
        crate::lowlevel::green_checkpoint();
        // Free of plain readers: no waiter needed (skip its lookup).
        if !lock.raw().try_upgrade_now() {
            blocking(|w| lock.raw().upgrade_wait(w, None))
                .expect("a wait without a deadline does not time out");
        }
        RwLockUpgradedGuard { lock }
    }

    /// Gives exclusive access if no plain reader holds a share, without
    /// waiting.
    ///
    /// ```
    /// use polysync::{RwLock, RwLockUpgradableReadGuard};
    /// let lock = RwLock::new(1);
    /// let mut u = lock.upgradable_read_blocking();
    /// let r = lock.read_blocking();
    /// assert!(RwLockUpgradableReadGuard::try_upgrade(&mut u).is_none());
    /// drop(r);
    /// assert!(RwLockUpgradableReadGuard::try_upgrade(&mut u).is_some());
    /// ```
    #[inline]
    pub fn try_upgrade(this: &mut Self) -> Option<RwLockUpgradedGuard<'_, T>> {
        let lock = this.lock;
        lock.raw()
            .try_upgrade_now()
            .then(|| RwLockUpgradedGuard { lock })
    }

    /// Blocks until the plain readers left (then gives exclusive access) or
    /// `timeout` passes (then the guard keeps the upgradable read).
    ///
    /// ```
    /// use polysync::{RwLock, RwLockUpgradableReadGuard};
    /// use std::time::Duration;
    /// let lock = RwLock::new(1);
    /// let mut u = lock.upgradable_read_blocking();
    /// let r = lock.read_blocking();
    /// assert!(RwLockUpgradableReadGuard::try_upgrade_for(&mut u, Duration::from_millis(1)).is_none());
    /// drop(r);
    /// assert!(RwLockUpgradableReadGuard::try_upgrade_for(&mut u, Duration::ZERO).is_some());
    /// ```
    pub fn try_upgrade_for(
        this: &mut Self,
        timeout: Duration,
    ) -> Option<RwLockUpgradedGuard<'_, T>> {
        let lock = this.lock;
        blocking(|w| lock.raw().upgrade_wait(w, deadline_after(timeout)))
            .map(|()| RwLockUpgradedGuard { lock })
    }

    /// Blocks until the plain readers left (then gives exclusive access) or
    /// `deadline` passes (then the guard keeps the upgradable read).
    ///
    /// ```
    /// use polysync::{RwLock, RwLockUpgradableReadGuard};
    /// let lock = RwLock::new(1);
    /// let mut u = lock.upgradable_read_blocking();
    /// let now = std::time::Instant::now();
    /// assert!(RwLockUpgradableReadGuard::try_upgrade_until(&mut u, now).is_some());
    /// ```
    pub fn try_upgrade_until(
        this: &mut Self,
        deadline: Instant,
    ) -> Option<RwLockUpgradedGuard<'_, T>> {
        let lock = this.lock;
        blocking(|w| lock.raw().upgrade_wait(w, Some(deadline)))
            .map(|()| RwLockUpgradedGuard { lock })
    }

    /// Blocks on `waiter` until the plain readers left (then gives
    /// exclusive access), `deadline` passes or the waiter reports
    /// cancellation.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] or [`WaitError::Cancelled`]; the upgrade is
    /// withdrawn either way and the guard keeps the upgradable read.
    ///
    /// ```
    /// use polysync::lowlevel::ThreadWaiter;
    /// use polysync::{RwLock, RwLockUpgradableReadGuard};
    /// let lock = RwLock::new(1);
    /// let mut u = lock.upgradable_read_blocking();
    /// ThreadWaiter::with_current(|t| {
    ///     *RwLockUpgradableReadGuard::upgrade_with(&mut u, t, None).unwrap() = 5;
    /// });
    /// assert_eq!(*u, 5);
    /// ```
    pub fn upgrade_with<'g, W: Waiter + ?Sized>(
        this: &'g mut Self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<RwLockUpgradedGuard<'g, T>, WaitError> {
        let lock = this.lock;
        lock.raw()
            .upgrade_wait(waiter, deadline)
            .map(|()| RwLockUpgradedGuard { lock })
    }

    /// Turns the upgradable read into a plain read share; an upgradable
    /// reader or readers queued at the front get in at once.
    ///
    /// ```
    /// use polysync::{RwLock, RwLockUpgradableReadGuard};
    /// let lock = RwLock::new(1);
    /// let u = lock.upgradable_read_blocking();
    /// let r = RwLockUpgradableReadGuard::downgrade(u);
    /// assert_eq!(*r, 1);
    /// assert!(lock.try_upgradable_read().is_some());
    /// ```
    pub fn downgrade(this: Self) -> RwLockReadGuard<'a, T> {
        let lock = this.lock;
        std::mem::forget(this);
        let raw = RawUpgradableReadGuard::assume(lock.raw()).downgrade();
        // SAFETY: `raw` is a read share of `lock`'s raw lock.
        unsafe { RwLockReadGuard::new(lock, raw) }
    }
}

impl<T: ?Sized> Deref for RwLockUpgradableReadGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the upgradable read, so no writer exists
        // while `&self` is borrowed (an upgrade borrows the guard mutably).
        unsafe { &*self.lock.data_ptr() }
    }
}

impl<T: ?Sized> Drop for RwLockUpgradableReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.raw().unlock_upgradable();
    }
}

/// Exclusive access to an [`RwLock`]'s value, taken by upgrading a
/// [`RwLockUpgradableReadGuard`], which it borrows; turns back into the
/// upgradable read when dropped (the plain readers queued at the front get
/// in at once).
///
/// `Send` and `Sync` if `T: Send + Sync`.
#[must_use = "the write lock turns back into the upgradable read as soon as the guard is dropped"]
pub struct RwLockUpgradedGuard<'g, T: ?Sized> {
    lock: &'g RwLock<T>,
}

impl<T: ?Sized> Deref for RwLockUpgradedGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the write lock.
        unsafe { &*self.lock.data_ptr() }
    }
}

impl<T: ?Sized> DerefMut for RwLockUpgradedGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the write lock, and `&mut self` makes this
        // the only reference through it.
        unsafe { &mut *self.lock.data_ptr() }
    }
}

impl<T: ?Sized> Drop for RwLockUpgradedGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.raw().downgrade_to_upgradable();
    }
}

/// The future of [`RwLock::upgradable_read`]; resolves to a
/// [`RwLockUpgradableReadGuard`].
#[must_use = "futures do nothing unless polled"]
pub struct UpgradableRead<'a, T: ?Sized> {
    raw: RawUpgradableRead<'a>,
    lock: &'a RwLock<T>,
}

/// The future of [`RwLockUpgradableReadGuard::upgrade`]; resolves to a
/// [`RwLockUpgradedGuard`]. Dropping it leaves the upgradable read held.
#[must_use = "futures do nothing unless polled"]
pub struct Upgrade<'g, T: ?Sized> {
    raw: RawUpgrade<'g>,
    lock: &'g RwLock<T>,
}

impl<'a, T: ?Sized> Future for UpgradableRead<'a, T> {
    type Output = RwLockUpgradableReadGuard<'a, T>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `raw` is structurally pinned (never moved out of `self`;
        // no `Drop` or `Unpin` impl here moves it); `lock` is a reference,
        // copied out.
        let (raw, lock) = unsafe {
            let this = self.get_unchecked_mut();
            (Pin::new_unchecked(&mut this.raw), this.lock)
        };
        raw.poll(cx)
            .map(|raw| RwLockUpgradableReadGuard::new(lock, raw))
    }
}

impl<'g, T: ?Sized> Future for Upgrade<'g, T> {
    type Output = RwLockUpgradedGuard<'g, T>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: as in `UpgradableRead::poll`.
        let (raw, lock) = unsafe {
            let this = self.get_unchecked_mut();
            (Pin::new_unchecked(&mut this.raw), this.lock)
        };
        raw.poll(cx).map(|upgraded| {
            // The data guard turns the write lock back itself.
            std::mem::forget(upgraded);
            RwLockUpgradedGuard { lock }
        })
    }
}

impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for RwLockUpgradableReadGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for RwLockUpgradedGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized> std::fmt::Debug for UpgradableRead<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpgradableRead")
            .field("raw", &self.raw)
            .finish()
    }
}

impl<T: ?Sized> std::fmt::Debug for Upgrade<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upgrade").field("raw", &self.raw).finish()
    }
}
