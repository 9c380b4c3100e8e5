//! [`RMutex<T>`]: the data-carrying form of [`RLock`], as [`Mutex<T>`](crate::Mutex)
//! is of [`Lock`](crate::Lock).

use crate::lowlevel::sync::const_fn;
use crate::lowlevel::{NoTaskIdentity, WaitError, Waiter};
use crate::rlock::{RLock, RLockAcquire, RLockGuard};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A reentrant mutex that protects a `T` and gives its owner shared access
/// (`&T`, like parking_lot's `ReentrantMutex`): the owner may hold several
/// guards at once, so there is no `&mut T`; put a `Cell` or `RefCell` inside
/// for mutation. Built on [`RLock`], with the same five wait forms, owner
/// rules (async tasks need [`identified`](crate::lowlevel::identified)) and
/// fairness.
///
/// `RMutex<T>` is `Sync` when `T: Send`: only one unit at a time sees the
/// value. A guard is `Send` only when `T: Sync`, since two guards of one
/// owner could otherwise reach the value from two threads at once.
///
/// ```
/// use polysync::RMutex;
/// use std::cell::RefCell;
///
/// let log = RMutex::new(RefCell::new(Vec::new()));
/// let outer = log.acquire_blocking();
/// outer.borrow_mut().push(1);
/// {
///     let inner = log.acquire_blocking(); // re-entry by the owner
///     inner.borrow_mut().push(2);
/// }
/// drop(outer);
/// assert_eq!(log.into_inner().into_inner(), vec![1, 2]);
/// ```
pub struct RMutex<T: ?Sized> {
    lock: RLock,
    data: T,
}

// SAFETY: the lock gives `&T` to one execution unit at a time (guards are
// `Send` only for `T: Sync`, see `RMutexGuard`), so sharing the mutex only
// ever moves access to the value between threads: `T: Send` suffices.
unsafe impl<T: ?Sized + Send> Sync for RMutex<T> {}

impl<T> RMutex<T> {
    const_fn! {
        /// An unlocked reentrant mutex holding `value`. `const`.
        ///
        /// ```
        /// static COUNTER: polysync::RMutex<std::sync::atomic::AtomicU32> =
        ///     polysync::RMutex::new(std::sync::atomic::AtomicU32::new(0));
        /// assert!(!COUNTER.locked());
        /// ```
        pub fn new(value: T) -> RMutex<T> {
            RMutex { lock: RLock::new(), data: value }
        }
    }

    /// Consumes the mutex and returns the value.
    ///
    /// ```
    /// assert_eq!(polysync::RMutex::new(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.data
    }
}

impl<T: ?Sized> RMutex<T> {
    /// Acquires one level asynchronously, as the current task; see
    /// [`RLock::acquire`].
    ///
    /// # Cancel safety
    /// As for [`RLock::acquire`]: dropping the future gives up its place in
    /// line and nothing else. Before its first poll nothing happened; while
    /// queued it leaves the queue; after a release handed it the lock,
    /// before it was polled again, the drop releases that level at once (to
    /// the next waiter). The value is untouched in every case.
    ///
    /// # Errors
    /// [`NoTaskIdentity`] outside an identified task.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let m = polysync::RMutex::new(5);
    /// polysync::lowlevel::identified(async {
    ///     let a = m.acquire().await.unwrap();
    ///     let b = m.acquire().await.unwrap();
    ///     assert_eq!(*a + *b, 10);
    /// })
    /// .await;
    /// # });
    /// ```
    pub fn acquire(&self) -> RMutexAcquire<'_, T> {
        RMutexAcquire {
            inner: self.lock.acquire(),
            data: &self.data,
        }
    }

    /// Acquires one level, blocking the current unit; see [`RLock::acquire_blocking`].
    ///
    /// ```
    /// let m = polysync::RMutex::new(1);
    /// assert_eq!(*m.acquire_blocking(), 1);
    /// ```
    pub fn acquire_blocking(&self) -> RMutexGuard<'_, T> {
        self.guard(self.lock.acquire_blocking())
    }

    /// Acquires one level without waiting; see [`RLock::try_acquire`].
    ///
    /// ```
    /// let m = polysync::RMutex::new(1);
    /// let a = m.try_acquire().unwrap();
    /// assert!(m.try_acquire().is_some()); // re-entry
    /// ```
    pub fn try_acquire(&self) -> Option<RMutexGuard<'_, T>> {
        self.lock.try_acquire().map(|g| self.guard(g))
    }

    /// Acquires one level, giving up after `timeout`; see [`RLock::try_acquire_for`].
    ///
    /// ```
    /// let m = polysync::RMutex::new(1);
    /// assert!(m.try_acquire_for(std::time::Duration::ZERO).is_some());
    /// ```
    pub fn try_acquire_for(&self, timeout: Duration) -> Option<RMutexGuard<'_, T>> {
        self.lock.try_acquire_for(timeout).map(|g| self.guard(g))
    }

    /// Acquires one level, giving up at `deadline`; see [`RLock::try_acquire_until`].
    ///
    /// ```
    /// let m = polysync::RMutex::new(1);
    /// assert!(m.try_acquire_until(std::time::Instant::now()).is_some());
    /// ```
    pub fn try_acquire_until(&self, deadline: Instant) -> Option<RMutexGuard<'_, T>> {
        self.lock.try_acquire_until(deadline).map(|g| self.guard(g))
    }

    /// Acquires one level on `waiter`; see [`RLock::acquire_with`].
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] or [`WaitError::Cancelled`]; the wait is
    /// withdrawn either way.
    ///
    /// ```
    /// use polysync::lowlevel::ThreadWaiter;
    /// let m = polysync::RMutex::new(1);
    /// let value = ThreadWaiter::with_current(|w| *m.acquire_with(w, None).unwrap());
    /// assert_eq!(value, 1);
    /// ```
    pub fn acquire_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<RMutexGuard<'_, T>, WaitError> {
        self.lock
            .acquire_with(waiter, deadline)
            .map(|g| self.guard(g))
    }

    /// Mutable access without locking: `&mut self` proves nobody holds it.
    ///
    /// ```
    /// let mut m = polysync::RMutex::new(1);
    /// *m.get_mut() += 1;
    /// assert_eq!(*m.acquire_blocking(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.data
    }

    /// The levels its owner holds (see [`RLock::count`]).
    ///
    /// ```
    /// let m = polysync::RMutex::new(());
    /// let _a = m.acquire_blocking();
    /// assert_eq!(m.count(), 1);
    /// ```
    pub fn count(&self) -> usize {
        self.lock.count()
    }

    /// Whether the mutex is held (a snapshot).
    ///
    /// ```
    /// assert!(!polysync::RMutex::new(()).locked());
    /// ```
    pub fn locked(&self) -> bool {
        self.lock.locked()
    }

    /// How many units wait for the mutex now (a snapshot).
    ///
    /// ```
    /// assert_eq!(polysync::RMutex::new(()).waiting(), 0);
    /// ```
    pub fn waiting(&self) -> usize {
        self.lock.waiting()
    }

    fn guard<'a>(&'a self, guard: RLockGuard<'a>) -> RMutexGuard<'a, T> {
        RMutexGuard {
            _guard: guard,
            data: &self.data,
        }
    }
}

impl<T: Default> Default for RMutex<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T: ?Sized> std::fmt::Debug for RMutex<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RMutex")
            .field("locked", &self.locked())
            .field("count", &self.count())
            .field("waiting", &self.waiting())
            .finish_non_exhaustive()
    }
}

/// Shared access to an [`RMutex`]'s value; releases one level when dropped.
/// `Send` only when `T: Sync`.
#[must_use = "the level is released as soon as the guard is dropped"]
pub struct RMutexGuard<'a, T: ?Sized> {
    _guard: RLockGuard<'a>,
    /// `&T`: makes the guard `Send`/`Sync` only when `T: Sync`.
    data: &'a T,
}

impl<T: ?Sized> std::ops::Deref for RMutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.data
    }
}

impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for RMutexGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.data, f)
    }
}

/// The future of [`RMutex::acquire`].
#[must_use = "futures do nothing unless polled"]
pub struct RMutexAcquire<'a, T: ?Sized> {
    inner: RLockAcquire<'a>,
    data: &'a T,
}

impl<'a, T: ?Sized> Future for RMutexAcquire<'a, T> {
    type Output = Result<RMutexGuard<'a, T>, NoTaskIdentity>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `inner` is structurally pinned; `data` is a plain reference.
        let this = unsafe { self.get_unchecked_mut() };
        let data = this.data;
        // SAFETY: as above, `inner` is never moved.
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        inner.poll(cx).map(|r| {
            r.map(|guard| RMutexGuard {
                _guard: guard,
                data,
            })
        })
    }
}

impl<T: ?Sized> std::fmt::Debug for RMutexAcquire<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RMutexAcquire")
            .field("inner", &self.inner)
            .finish()
    }
}
