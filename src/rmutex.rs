//! [`RMutex<T>`]: the data-carrying form of [`RLock`], as [`Mutex<T>`](crate::Mutex)
//! is of [`Lock`](crate::Lock).

use crate::lowlevel::sync::const_fn;
use crate::lowlevel::{NoTaskIdentity, WaitError, Waiter};
use crate::owned::ArcWait;
use crate::rlock::{LocalRLockGuard, RLock, RLockAcquire, RLockGuard};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A reentrant mutex that protects a `T` and gives its owner shared access
/// (`&T`, like parking_lot's `ReentrantMutex`): the owner may hold several
/// guards at once, so there is no `&mut T`; put a `Cell` or `RefCell` inside
/// for mutation. Built on [`RLock`], with the same five wait forms, owner
/// rules (async tasks need [`identified`](crate::lowlevel::identified)) and
/// both fairness modes: strict FIFO hand-off ([`new`](RMutex::new) today,
/// [`new_fair`](RMutex::new_fair)) or bounded fairness
/// ([`new_bounded`](RMutex::new_bounded); see [`RLock`] for both).
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
/// let outer = log.lock_blocking();
/// outer.borrow_mut().push(1);
/// {
///     let inner = log.lock_blocking(); // re-entry by the owner
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
        /// An unlocked reentrant mutex holding `value`, in the default mode
        /// of [`RLock::new`] (today strict FIFO hand-off). `const`.
        ///
        /// ```
        /// static COUNTER: polysync::RMutex<std::sync::atomic::AtomicU32> =
        ///     polysync::RMutex::new(std::sync::atomic::AtomicU32::new(0));
        /// assert!(!COUNTER.is_locked());
        /// ```
        pub fn new(value: T) -> RMutex<T> {
            RMutex { lock: RLock::new(), data: value }
        }
    }

    const_fn! {
        /// An unlocked reentrant mutex holding `value`, with strict FIFO
        /// hand-off (see [`RLock::new_fair`]). `const`.
        ///
        /// ```
        /// let m = polysync::RMutex::new_fair(1);
        /// assert!(m.is_fair());
        /// assert_eq!(*m.lock_blocking(), 1);
        /// ```
        pub fn new_fair(value: T) -> RMutex<T> {
            RMutex { lock: RLock::new_fair(), data: value }
        }
    }

    const_fn! {
        /// An unlocked reentrant mutex holding `value`, with bounded
        /// fairness (see [`RLock::new_bounded`]): an unlock of the last
        /// level with waiters wakes the oldest to compete, and a running
        /// unit may take the mutex first. `const`.
        ///
        /// ```
        /// let m = polysync::RMutex::new_bounded(1);
        /// assert!(!m.is_fair());
        /// let a = m.lock_blocking();
        /// let b = m.lock_blocking(); // re-entry
        /// assert_eq!(*a + *b, 2);
        /// ```
        pub fn new_bounded(value: T) -> RMutex<T> {
            RMutex { lock: RLock::new_bounded(), data: value }
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
    ///     let a = m.lock().await.unwrap();
    ///     let b = m.lock().await.unwrap();
    ///     assert_eq!(*a + *b, 10);
    /// })
    /// .await;
    /// # });
    /// ```
    pub fn lock(&self) -> RMutexLockFuture<'_, T> {
        RMutexLockFuture {
            inner: self.lock.acquire(),
            data: &self.data,
        }
    }

    /// Acquires one level, blocking the current unit; see [`RLock::acquire_blocking`].
    ///
    /// ```
    /// let m = polysync::RMutex::new(1);
    /// assert_eq!(*m.lock_blocking(), 1);
    /// ```
    pub fn lock_blocking(&self) -> RMutexGuard<'_, T> {
        self.guard(self.lock.acquire_blocking())
    }

    /// Acquires one level without waiting; see [`RLock::try_acquire`].
    ///
    /// ```
    /// let m = polysync::RMutex::new(1);
    /// let a = m.try_lock().unwrap();
    /// assert!(m.try_lock().is_some()); // re-entry
    /// ```
    pub fn try_lock(&self) -> Option<RMutexGuard<'_, T>> {
        self.lock.try_acquire().map(|g| self.guard(g))
    }

    /// Acquires one level, giving up after `timeout`; see [`RLock::try_acquire_for`].
    ///
    /// ```
    /// let m = polysync::RMutex::new(1);
    /// assert!(m.try_lock_for(std::time::Duration::ZERO).is_some());
    /// ```
    pub fn try_lock_for(&self, timeout: Duration) -> Option<RMutexGuard<'_, T>> {
        self.lock.try_acquire_for(timeout).map(|g| self.guard(g))
    }

    /// Acquires one level, giving up at `deadline`; see [`RLock::try_acquire_until`].
    ///
    /// ```
    /// let m = polysync::RMutex::new(1);
    /// assert!(m.try_lock_until(std::time::Instant::now()).is_some());
    /// ```
    pub fn try_lock_until(&self, deadline: Instant) -> Option<RMutexGuard<'_, T>> {
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
    /// let value = ThreadWaiter::with_current(|w| *m.lock_with(w, None).unwrap());
    /// assert_eq!(value, 1);
    /// ```
    pub fn lock_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<RMutexGuard<'_, T>, WaitError> {
        self.lock
            .acquire_with(waiter, deadline)
            .map(|g| self.guard(g))
    }

    /// Acquires one thread-bound level, blocking the current unit: as
    /// [`lock_blocking`](RMutex::lock_blocking), but the guard, a
    /// [`LocalRMutexGuard`], is `!Send` and the owner's re-entries cost
    /// plain loads and stores (see [`RLock::acquire_local_blocking`]; the
    /// two kinds of guards mix).
    ///
    /// ```
    /// use polysync::RMutex;
    /// use std::cell::Cell;
    ///
    /// let m = RMutex::new(Cell::new(0));
    /// let outer = m.lock_local_blocking();
    /// outer.set(1);
    /// let inner = m.lock_local_blocking(); // re-entry: a plain store
    /// inner.set(inner.get() + 1);
    /// assert_eq!(m.count(), 2);
    /// drop(inner);
    /// drop(outer);
    /// assert_eq!(m.into_inner().get(), 2);
    /// ```
    ///
    /// The guard cannot leave its thread:
    ///
    /// ```compile_fail
    /// let m = polysync::RMutex::new(1);
    /// let guard = m.lock_local_blocking();
    /// std::thread::scope(|s| {
    ///     s.spawn(move || assert_eq!(*guard, 1));
    /// });
    /// ```
    #[inline]
    pub fn lock_local_blocking(&self) -> LocalRMutexGuard<'_, T> {
        self.local_guard(self.lock.acquire_local_blocking())
    }

    /// Acquires one thread-bound level without waiting; see
    /// [`RLock::try_acquire_local`].
    ///
    /// ```
    /// let m = polysync::RMutex::new(1);
    /// let a = m.try_lock_local().unwrap();
    /// assert!(m.try_lock_local().is_some()); // re-entry
    /// ```
    #[inline]
    pub fn try_lock_local(&self) -> Option<LocalRMutexGuard<'_, T>> {
        self.lock.try_acquire_local().map(|g| self.local_guard(g))
    }

    /// Acquires one thread-bound level, giving up after `timeout`; see
    /// [`RLock::try_acquire_local_for`].
    ///
    /// ```
    /// let m = polysync::RMutex::new(1);
    /// assert!(m.try_lock_local_for(std::time::Duration::ZERO).is_some());
    /// ```
    pub fn try_lock_local_for(&self, timeout: Duration) -> Option<LocalRMutexGuard<'_, T>> {
        self.lock
            .try_acquire_local_for(timeout)
            .map(|g| self.local_guard(g))
    }

    /// Acquires one thread-bound level, giving up at `deadline`; see
    /// [`RLock::try_acquire_local_until`].
    ///
    /// ```
    /// let m = polysync::RMutex::new(1);
    /// assert!(m.try_lock_local_until(std::time::Instant::now()).is_some());
    /// ```
    pub fn try_lock_local_until(&self, deadline: Instant) -> Option<LocalRMutexGuard<'_, T>> {
        self.lock
            .try_acquire_local_until(deadline)
            .map(|g| self.local_guard(g))
    }

    /// Acquires one thread-bound level on `waiter`; see
    /// [`RLock::acquire_local_with`].
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] or [`WaitError::Cancelled`]; the wait is
    /// withdrawn either way.
    ///
    /// ```
    /// use polysync::lowlevel::ThreadWaiter;
    /// let m = polysync::RMutex::new(1);
    /// let value = ThreadWaiter::with_current(|w| *m.lock_local_with(w, None).unwrap());
    /// assert_eq!(value, 1);
    /// ```
    pub fn lock_local_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<LocalRMutexGuard<'_, T>, WaitError> {
        self.lock
            .acquire_local_with(waiter, deadline)
            .map(|g| self.local_guard(g))
    }

    /// [`lock`](RMutex::lock) on a mutex in an `Arc`: the future and
    /// its [`OwnedRMutexGuard`] are `'static`. Ownership stays with the
    /// acquiring task (see [`RLock::acquire_owned`]).
    ///
    /// ```
    /// use polysync::{RMutex, lowlevel::identified};
    /// use std::sync::Arc;
    /// # futures_lite::future::block_on(async {
    /// let m = Arc::new(RMutex::new(7));
    /// let guard = identified(m.lock_owned()).await.unwrap();
    /// assert_eq!(std::thread::spawn(move || *guard).join().unwrap(), 7);
    /// assert!(!m.is_locked());
    /// # });
    /// ```
    ///
    /// # Cancel safety
    /// As for [`lock`](RMutex::lock); the `Arc` clone it holds is
    /// dropped with it.
    ///
    /// # Errors
    /// [`NoTaskIdentity`] outside an identified task.
    pub fn lock_owned(self: &Arc<Self>) -> OwnedRMutexLockFuture<T> {
        OwnedRMutexLockFuture::new(self)
    }

    /// [`lock_blocking`](RMutex::lock_blocking), returning an
    /// [`OwnedRMutexGuard`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// let m = Arc::new(polysync::RMutex::new(1));
    /// let a = m.lock_owned_blocking();
    /// let b = m.lock_owned_blocking(); // re-entered
    /// assert_eq!(*a + *b, 2);
    /// ```
    pub fn lock_owned_blocking(self: &Arc<Self>) -> OwnedRMutexGuard<T> {
        OwnedRMutexGuard::adopt(self.lock.acquire_blocking(), self)
    }

    /// [`try_lock`](RMutex::try_lock), returning an
    /// [`OwnedRMutexGuard`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// let m = Arc::new(polysync::RMutex::new(1));
    /// assert!(m.try_lock_owned().is_some());
    /// ```
    pub fn try_lock_owned(self: &Arc<Self>) -> Option<OwnedRMutexGuard<T>> {
        self.lock
            .try_acquire()
            .map(|g| OwnedRMutexGuard::adopt(g, self))
    }

    /// [`try_lock_for`](RMutex::try_lock_for), returning an
    /// [`OwnedRMutexGuard`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// let m = Arc::new(polysync::RMutex::new(1));
    /// assert!(m.try_lock_owned_for(std::time::Duration::ZERO).is_some());
    /// ```
    pub fn try_lock_owned_for(self: &Arc<Self>, timeout: Duration) -> Option<OwnedRMutexGuard<T>> {
        self.lock
            .try_acquire_for(timeout)
            .map(|g| OwnedRMutexGuard::adopt(g, self))
    }

    /// [`try_lock_until`](RMutex::try_lock_until), returning an
    /// [`OwnedRMutexGuard`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// let m = Arc::new(polysync::RMutex::new(1));
    /// assert!(m.try_lock_owned_until(std::time::Instant::now()).is_some());
    /// ```
    pub fn try_lock_owned_until(
        self: &Arc<Self>,
        deadline: Instant,
    ) -> Option<OwnedRMutexGuard<T>> {
        self.lock
            .try_acquire_until(deadline)
            .map(|g| OwnedRMutexGuard::adopt(g, self))
    }

    /// [`lock_with`](RMutex::lock_with), returning an
    /// [`OwnedRMutexGuard`].
    ///
    /// # Errors
    /// As for [`lock_with`](RMutex::lock_with).
    ///
    /// ```
    /// use polysync::lowlevel::ThreadWaiter;
    /// use std::sync::Arc;
    /// let m = Arc::new(polysync::RMutex::new(3));
    /// let g = ThreadWaiter::with_current(|w| m.lock_owned_with(w, None)).unwrap();
    /// assert_eq!(*g, 3);
    /// ```
    pub fn lock_owned_with<W: Waiter + ?Sized>(
        self: &Arc<Self>,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<OwnedRMutexGuard<T>, WaitError> {
        self.lock
            .acquire_with(waiter, deadline)
            .map(|g| OwnedRMutexGuard::adopt(g, self))
    }

    /// Mutable access without locking: `&mut self` proves nobody holds it.
    ///
    /// ```
    /// let mut m = polysync::RMutex::new(1);
    /// *m.get_mut() += 1;
    /// assert_eq!(*m.lock_blocking(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.data
    }

    /// The levels its owner holds (see [`RLock::count`]).
    ///
    /// ```
    /// let m = polysync::RMutex::new(());
    /// let _a = m.lock_blocking();
    /// assert_eq!(m.count(), 1);
    /// ```
    pub fn count(&self) -> usize {
        self.lock.count()
    }

    /// Whether this mutex hands over in strict FIFO order rather than with
    /// bounded fairness (see [`RLock::is_fair`]).
    ///
    /// ```
    /// assert!(polysync::RMutex::new_fair(()).is_fair());
    /// assert!(!polysync::RMutex::new_bounded(()).is_fair());
    /// ```
    pub fn is_fair(&self) -> bool {
        self.lock.is_fair()
    }

    /// Whether the mutex is held (a snapshot).
    ///
    /// ```
    /// assert!(!polysync::RMutex::new(()).is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.lock.is_locked()
    }

    /// How many units wait for the mutex now (a snapshot).
    ///
    /// ```
    /// assert_eq!(polysync::RMutex::new(()).waiting(), 0);
    /// ```
    pub fn waiting(&self) -> usize {
        self.lock.waiting()
    }

    #[inline]
    fn local_guard<'a>(&'a self, guard: LocalRLockGuard<'a>) -> LocalRMutexGuard<'a, T> {
        LocalRMutexGuard {
            _guard: guard,
            data: &self.data,
        }
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
            .field("locked", &self.is_locked())
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

impl<'a, T: ?Sized> RMutexGuard<'a, T> {
    /// Narrows the guard to a part of the value, with shared access only
    /// (as the guard itself): the level stays held until the returned
    /// guard is dropped. An associated function, so that it does not
    /// shadow a method of `T`. `Send` only when `U: Sync` (the owner may
    /// hold other guards of the same value).
    ///
    /// ```
    /// use polysync::{RMutex, RMutexGuard};
    /// let m = RMutex::new((1, String::from("a")));
    /// let name = RMutexGuard::map(m.lock_blocking(), |pair| &pair.1);
    /// assert_eq!(*name, "a");
    /// ```
    pub fn map<U: ?Sized>(this: Self, f: impl FnOnce(&T) -> &U) -> RMutexGuard<'a, U> {
        RMutexGuard {
            data: f(this.data),
            _guard: this._guard,
        }
    }

    /// Like [`map`](RMutexGuard::map), when `f` may find nothing.
    ///
    /// # Errors
    /// The original guard, when `f` returns `None`.
    ///
    /// ```
    /// use polysync::{RMutex, RMutexGuard};
    /// let m = RMutex::new(vec![1, 2]);
    /// let g = RMutexGuard::try_map(m.lock_blocking(), |v| v.get(7)).unwrap_err();
    /// let second = RMutexGuard::try_map(g, |v| v.get(1)).unwrap();
    /// assert_eq!(*second, 2);
    /// ```
    pub fn try_map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&T) -> Option<&U>,
    ) -> Result<RMutexGuard<'a, U>, Self> {
        match f(this.data) {
            Some(data) => Ok(RMutexGuard {
                data,
                _guard: this._guard,
            }),
            None => Err(this),
        }
    }
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

/// Shared access to an [`RMutex`]'s value through a thread-bound level
/// (from [`lock_local_blocking`](RMutex::lock_local_blocking) and the
/// other `*_local*` forms); releases that level when dropped. `!Send`
/// (see [`LocalRLockGuard`]); `Sync` only when `T: Sync`.
///
/// ```
/// let m = polysync::RMutex::new(String::from("a"));
/// let guard = m.lock_local_blocking();
/// assert_eq!(guard.len(), 1);
/// ```
///
/// ```compile_fail
/// fn send<T: Send>(_: T) {}
/// let m = polysync::RMutex::new(1);
/// send(m.lock_local_blocking());
/// ```
#[must_use = "the level is released as soon as the guard is dropped"]
pub struct LocalRMutexGuard<'a, T: ?Sized> {
    _guard: LocalRLockGuard<'a>,
    /// `&T`: makes the guard `Sync` only when `T: Sync`.
    data: &'a T,
}

impl<T: ?Sized> std::ops::Deref for LocalRMutexGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        self.data
    }
}

impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for LocalRMutexGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.data, f)
    }
}

/// The future of [`RMutex::lock`].
#[must_use = "futures do nothing unless polled"]
pub struct RMutexLockFuture<'a, T: ?Sized> {
    inner: RLockAcquire<'a>,
    data: &'a T,
}

impl<'a, T: ?Sized> Future for RMutexLockFuture<'a, T> {
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

impl<T: ?Sized> std::fmt::Debug for RMutexLockFuture<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RMutexLockFuture")
            .field("inner", &self.inner)
            .finish()
    }
}

/// Shared access to the value of an [`RMutex`] held through an `Arc`:
/// `'static`, and `Send` when `T: Send + Sync`; releases one level when
/// dropped (also when its task panics, as it unwinds). The rules of
/// [`OwnedRLockGuard`](crate::rlock::OwnedRLockGuard) hold: ownership stays
/// with the acquiring unit.
///
/// ```
/// use polysync::RMutex;
/// use std::sync::Arc;
///
/// let m = Arc::new(RMutex::new(vec![1, 2]));
/// let guard = m.lock_owned_blocking();
/// let len = std::thread::spawn(move || guard.len()).join().unwrap();
/// assert_eq!(len, 2);
/// assert!(!m.is_locked());
/// ```
#[must_use = "the level is released as soon as the guard is dropped"]
pub struct OwnedRMutexGuard<T: ?Sized> {
    mutex: Arc<RMutex<T>>,
}

// SAFETY: the guard gives `&T` (so moving it to another thread needs
// `T: Sync`: the owner may keep other guards of the same value) and holds
// the `Arc` (which needs `T: Send`); a level may be released from any unit.
unsafe impl<T: ?Sized + Send + Sync> Send for OwnedRMutexGuard<T> {}
// SAFETY: sharing the guard shares `&T` and the `Arc`.
unsafe impl<T: ?Sized + Send + Sync> Sync for OwnedRMutexGuard<T> {}

impl<T: ?Sized> OwnedRMutexGuard<T> {
    /// The owned form of `guard`, a level of `mutex`'s lock.
    #[inline]
    fn adopt(guard: RLockGuard<'_>, mutex: &Arc<RMutex<T>>) -> Self {
        debug_assert!(std::ptr::eq(guard.rlock(), &mutex.lock));
        // The owned guard releases the level itself.
        std::mem::forget(guard);
        OwnedRMutexGuard {
            mutex: Arc::clone(mutex),
        }
    }

    /// The mutex this guard holds a level of.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let m = Arc::new(polysync::RMutex::new(0));
    /// let g = m.lock_owned_blocking();
    /// assert!(Arc::ptr_eq(g.rmutex(), &m));
    /// ```
    pub fn rmutex(&self) -> &Arc<RMutex<T>> {
        &self.mutex
    }
}

impl<T: ?Sized> std::ops::Deref for OwnedRMutexGuard<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.mutex.data
    }
}

impl<T: ?Sized> Drop for OwnedRMutexGuard<T> {
    fn drop(&mut self) {
        self.mutex.lock.release_level();
    }
}

impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for OwnedRMutexGuard<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

/// The future of [`RMutex::lock_owned`]; `'static`, resolves to an
/// [`OwnedRMutexGuard`].
#[must_use = "futures do nothing unless polled"]
pub struct OwnedRMutexLockFuture<T: ?Sized> {
    inner: ArcWait<RMutex<T>, RLockAcquire<'static>>,
}

impl<T: ?Sized> OwnedRMutexLockFuture<T> {
    fn new(mutex: &Arc<RMutex<T>>) -> Self {
        let mutex = Arc::clone(mutex);
        // SAFETY: the reference points into `mutex`'s allocation (its lock);
        // the future that holds it is stored with `mutex` in an `ArcWait`,
        // whose output goes only to the closure in `poll`, which forgets
        // the borrowed guard: the rules of `ArcWait::new`.
        let lock = unsafe { crate::owned::extend(&mutex.lock) };
        let fut = lock.acquire();
        OwnedRMutexLockFuture {
            // SAFETY: as above.
            inner: unsafe { ArcWait::new(mutex, fut) },
        }
    }
}

impl<T: ?Sized> Future for OwnedRMutexLockFuture<T> {
    type Output = Result<OwnedRMutexGuard<T>, NoTaskIdentity>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `inner` is structurally pinned; nothing else is here.
        let inner = unsafe { self.map_unchecked_mut(|this| &mut this.inner) };
        inner.poll_with(cx, |out, mutex| {
            out.map(|guard| {
                // The owned guard releases the level itself.
                std::mem::forget(guard);
                OwnedRMutexGuard { mutex }
            })
        })
    }
}

impl<T: ?Sized> std::fmt::Debug for OwnedRMutexLockFuture<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedRMutexLockFuture")
            .field("acquire", &self.inner.future())
            .finish()
    }
}
