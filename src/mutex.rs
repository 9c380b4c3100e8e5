//! [`Mutex<T>`]: data protected by a [`Lock`].

use crate::lock::{self, Caller, Lock, LockGuard};
use crate::lowlevel::sync::const_fn;
use crate::lowlevel::wait::blocking;
use crate::lowlevel::{WaitError, Waiter, deadline_after};
use crate::owned::ArcWait;
use std::cell::UnsafeCell;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A value protected by a [`Lock`], lockable from threads, async tasks
/// of any executor and green threads at the same time.
///
/// Same semantics as [`Lock`]: bounded fairness by default (a running unit
/// may take a just-released mutex before the woken waiter, within
/// [`lock::OVERTAKE_BOUND`]; see [`Lock`] for why and the numbers), strict
/// FIFO hand-off with [`new_fair`](Mutex::new_fair),
/// cancel-safe futures,
/// no poisoning, a panic instead of a deadlock when a unit re-locks what it
/// holds (a blocking call by the same unit, or `lock().await` by the same
/// task when the task has an identity).
///
/// ```
/// use polysync::Mutex;
/// use std::sync::Arc;
///
/// let counter = Arc::new(Mutex::new(0));
/// let threads: Vec<_> = (0..2)
///     .map(|_| {
///         let counter = counter.clone();
///         std::thread::spawn(move || *counter.lock_blocking() += 1)
///     })
///     .collect();
/// futures_lite::future::block_on(async { *counter.lock().await += 1 });
/// threads.into_iter().for_each(|t| t.join().unwrap());
/// assert_eq!(*counter.lock_blocking(), 3);
/// ```
pub struct Mutex<T: ?Sized> {
    lock: Lock,
    data: UnsafeCell<T>,
}

// SAFETY: the mutex hands out access to `T` to one owner at a time, possibly
// on another thread, so `T: Send` is required and sufficient (as for std's Mutex).
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    const_fn! {
        /// A new unlocked mutex holding `value`, with bounded fairness (the
        /// default; the same as [`new_bounded`](Mutex::new_bounded)).
        ///
        /// ```
        /// static CONFIG: polysync::Mutex<Vec<u8>> = polysync::Mutex::new(Vec::new());
        /// CONFIG.lock_blocking().push(1);
        /// ```
        pub fn new(value: T) -> Self {
            Self { lock: Lock::new(), data: UnsafeCell::new(value) }
        }
    }

    const_fn! {
        /// A new unlocked mutex holding `value`, with bounded fairness (see
        /// [`Lock::new_bounded`]): an unlock with waiters wakes the oldest
        /// one to compete, and a running unit may take the mutex first. The
        /// default today ([`new`](Mutex::new)).
        ///
        /// ```
        /// let m = polysync::Mutex::new_bounded(0);
        /// assert!(!m.is_fair());
        /// *m.lock_blocking() += 1;
        /// ```
        pub fn new_bounded(value: T) -> Self {
            Self { lock: Lock::new_bounded(), data: UnsafeCell::new(value) }
        }
    }

    const_fn! {
        /// A new unlocked mutex holding `value`, with strict FIFO hand-off
        /// (see [`Lock::new_fair`]):
        /// every unlock with waiters hands the mutex straight to the oldest
        /// one.
        ///
        /// ```
        /// static LOG: polysync::Mutex<Vec<u8>> = polysync::Mutex::new_fair(Vec::new());
        /// LOG.lock_blocking().push(1);
        /// assert!(LOG.is_fair());
        /// ```
        pub fn new_fair(value: T) -> Self {
            Self { lock: Lock::new_fair(), data: UnsafeCell::new(value) }
        }
    }

    /// Consumes the mutex and returns the value.
    ///
    /// ```
    /// assert_eq!(polysync::Mutex::new(5).into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks asynchronously, in FIFO order with every other waiter.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let m = polysync::Mutex::new(1);
    /// *m.lock().await += 1;
    /// assert_eq!(*m.lock().await, 2);
    /// # });
    /// ```
    ///
    /// # Cancel safety
    /// As for [`Lock::acquire`]: dropping the future gives up its place in
    /// line and nothing else. Before its first poll nothing happened; while
    /// queued it leaves the queue; after a release handed it the mutex,
    /// before it was polled again, the drop unlocks it at once (to the next
    /// waiter). The value is untouched in every case.
    ///
    /// # Re-entry
    /// Never panics, also in a task that holds the mutex: another branch of
    /// the same task (`join!`, `select!`) may hold it and release it, and
    /// then this wait is let in (see [`Lock::acquire`]). Two branches take
    /// turns:
    ///
    /// ```
    /// # futures_lite::future::block_on(polysync::lowlevel::identified(async {
    /// let m = polysync::Mutex::new(0);
    /// let first = async {
    ///     let mut g = m.lock().await;
    ///     futures_lite::future::yield_now().await; // the other branch queues
    ///     *g += 1;
    /// };
    /// let second = async { *m.lock().await += 1 };
    /// futures_lite::future::zip(first, second).await;
    /// assert_eq!(*m.lock().await, 2);
    /// # }));
    /// ```
    #[inline]
    pub fn lock(&self) -> LockFuture<'_, T> {
        LockFuture {
            acquire: lock::Acquire::new(&self.lock, Caller::MutexLock),
            mutex: self,
        }
    }

    /// Blocks the current execution unit until locked.
    ///
    /// # Panics
    /// If the calling unit already holds this mutex (it would deadlock).
    ///
    /// ```
    /// let m = polysync::Mutex::new(String::new());
    /// m.lock_blocking().push('a');
    /// assert_eq!(*m.lock_blocking(), "a");
    /// ```
    #[inline]
    #[track_caller]
    pub fn lock_blocking(&self) -> MutexGuard<'_, T> {
        // A free mutex needs no waiter: skip the registry lookup
        // (a green unit takes its checkpoint first, never while it holds
        // what the call took).
        crate::lowlevel::green_checkpoint();
        if let Some(guard) = self.try_lock() {
            return guard;
        }
        self.lock.refuse_current(Caller::MutexLockBlocking);
        let guard = blocking(|w| {
            self.lock
                .acquire_with_as(w, None, Caller::MutexLockBlocking)
        })
        .expect("a wait without a deadline does not time out");
        self.guard(guard)
    }

    /// Locks if free, without waiting.
    ///
    /// ```
    /// let m = polysync::Mutex::new(());
    /// let g = m.try_lock().unwrap();
    /// assert!(m.try_lock().is_none());
    /// ```
    #[inline]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.lock.try_acquire().map(|g| self.guard(g))
    }

    /// Blocks until locked or `timeout` passes.
    ///
    /// # Panics
    /// Like [`lock_blocking`](Mutex::lock_blocking).
    ///
    /// ```
    /// let m = polysync::Mutex::new(0);
    /// assert!(m.try_lock_for(std::time::Duration::ZERO).is_some());
    /// ```
    #[track_caller]
    pub fn try_lock_for(&self, timeout: Duration) -> Option<MutexGuard<'_, T>> {
        self.lock.refuse_current(Caller::MutexTryFor);
        blocking(|w| {
            self.lock
                .acquire_with_as(w, deadline_after(timeout), Caller::MutexTryFor)
        })
        .map(|g| self.guard(g))
    }

    /// Blocks until locked or `deadline` passes.
    ///
    /// # Panics
    /// Like [`lock_blocking`](Mutex::lock_blocking).
    ///
    /// ```
    /// let m = polysync::Mutex::new(0);
    /// assert!(m.try_lock_until(std::time::Instant::now()).is_some());
    /// ```
    #[track_caller]
    pub fn try_lock_until(&self, deadline: Instant) -> Option<MutexGuard<'_, T>> {
        self.lock.refuse_current(Caller::MutexTryUntil);
        blocking(|w| {
            self.lock
                .acquire_with_as(w, Some(deadline), Caller::MutexTryUntil)
        })
        .map(|g| self.guard(g))
    }

    /// Blocks on `waiter` until locked, `deadline` passes or the waiter
    /// reports cancellation: the entry point that every blocking form runs
    /// with the current unit's waiter (see [`Lock::acquire_with`]).
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] or [`WaitError::Cancelled`]; the wait is
    /// withdrawn either way.
    ///
    /// # Panics
    /// Like [`lock_blocking`](Mutex::lock_blocking).
    ///
    /// ```
    /// use polysync::lowlevel::ThreadWaiter;
    /// let m = polysync::Mutex::new(1);
    /// ThreadWaiter::with_current(|w| *m.lock_with(w, None).unwrap() += 1);
    /// assert_eq!(*m.lock_blocking(), 2);
    /// ```
    #[track_caller]
    pub fn lock_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<MutexGuard<'_, T>, WaitError> {
        self.lock
            .acquire_with_as(waiter, deadline, Caller::MutexLockWith)
            .map(|g| self.guard(g))
    }

    /// [`lock`](Mutex::lock) on a mutex in an `Arc`: the future and its
    /// [`OwnedMutexGuard`] are `'static` (they hold a clone of the `Arc`),
    /// so the guard can move into a spawned task or thread. As for
    /// [`Lock::acquire_owned`], an owned lock records no holder for the
    /// re-entry check.
    ///
    /// ```
    /// use polysync::Mutex;
    /// use std::sync::Arc;
    /// # futures_lite::future::block_on(async {
    /// let m = Arc::new(Mutex::new(0));
    /// let mut guard = m.lock_owned().await;
    /// std::thread::spawn(move || *guard += 1).join().unwrap();
    /// assert_eq!(*m.lock().await, 1);
    /// # });
    /// ```
    ///
    /// # Cancel safety
    /// As for [`lock`](Mutex::lock); the `Arc` clone it holds is dropped
    /// with it.
    ///
    /// Like [`lock`](Mutex::lock), it never panics: it waits.
    #[inline]
    pub fn lock_owned(self: &Arc<Self>) -> OwnedLockFuture<T> {
        OwnedLockFuture::new(self)
    }

    /// [`lock_blocking`](Mutex::lock_blocking), returning an
    /// [`OwnedMutexGuard`].
    ///
    /// # Panics
    /// If the calling unit holds the mutex through a borrowed guard.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let m = Arc::new(polysync::Mutex::new(vec![1]));
    /// let mut guard = m.lock_owned_blocking();
    /// std::thread::spawn(move || guard.push(2)).join().unwrap();
    /// assert_eq!(*m.lock_blocking(), [1, 2]);
    /// ```
    #[track_caller]
    pub fn lock_owned_blocking(self: &Arc<Self>) -> OwnedMutexGuard<T> {
        crate::lowlevel::green_checkpoint();
        if let Some(guard) = self.try_lock_owned() {
            return guard;
        }
        self.lock.refuse_current(Caller::MutexLockOwnedBlocking);
        blocking(|w| {
            self.lock
                .acquire_with_as(w, None, Caller::MutexLockOwnedBlocking)
        })
        .map(|g| OwnedMutexGuard::adopt(g, self))
        .expect("a wait without a deadline does not time out")
    }

    /// [`try_lock`](Mutex::try_lock), returning an [`OwnedMutexGuard`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// let m = Arc::new(polysync::Mutex::new(()));
    /// let guard = m.try_lock_owned().unwrap();
    /// assert!(m.try_lock_owned().is_none());
    /// ```
    #[inline]
    pub fn try_lock_owned(self: &Arc<Self>) -> Option<OwnedMutexGuard<T>> {
        let lock: &Lock = &self.lock;
        lock.try_fast_unrecorded().then(|| OwnedMutexGuard {
            mutex: Arc::clone(self),
        })
    }

    /// [`try_lock_for`](Mutex::try_lock_for), returning an
    /// [`OwnedMutexGuard`].
    ///
    /// # Panics
    /// Like [`lock_owned_blocking`](Mutex::lock_owned_blocking).
    ///
    /// ```
    /// use std::sync::Arc;
    /// let m = Arc::new(polysync::Mutex::new(0));
    /// assert!(m.try_lock_owned_for(std::time::Duration::ZERO).is_some());
    /// ```
    #[track_caller]
    pub fn try_lock_owned_for(self: &Arc<Self>, timeout: Duration) -> Option<OwnedMutexGuard<T>> {
        self.lock.refuse_current(Caller::MutexTryOwnedFor);
        blocking(|w| {
            self.lock
                .acquire_with_as(w, deadline_after(timeout), Caller::MutexTryOwnedFor)
        })
        .map(|g| OwnedMutexGuard::adopt(g, self))
    }

    /// [`try_lock_until`](Mutex::try_lock_until), returning an
    /// [`OwnedMutexGuard`].
    ///
    /// # Panics
    /// Like [`lock_owned_blocking`](Mutex::lock_owned_blocking).
    ///
    /// ```
    /// use std::sync::Arc;
    /// let m = Arc::new(polysync::Mutex::new(0));
    /// assert!(m.try_lock_owned_until(std::time::Instant::now()).is_some());
    /// ```
    #[track_caller]
    pub fn try_lock_owned_until(self: &Arc<Self>, deadline: Instant) -> Option<OwnedMutexGuard<T>> {
        self.lock.refuse_current(Caller::MutexTryOwnedUntil);
        blocking(|w| {
            self.lock
                .acquire_with_as(w, Some(deadline), Caller::MutexTryOwnedUntil)
        })
        .map(|g| OwnedMutexGuard::adopt(g, self))
    }

    /// [`lock_with`](Mutex::lock_with), returning an [`OwnedMutexGuard`].
    ///
    /// # Errors
    /// As for [`lock_with`](Mutex::lock_with).
    ///
    /// # Panics
    /// Like [`lock_owned_blocking`](Mutex::lock_owned_blocking).
    ///
    /// ```
    /// use polysync::lowlevel::ThreadWaiter;
    /// use std::sync::Arc;
    /// let m = Arc::new(polysync::Mutex::new(1));
    /// let guard = ThreadWaiter::with_current(|w| m.lock_owned_with(w, None)).unwrap();
    /// assert_eq!(*guard, 1);
    /// ```
    #[track_caller]
    pub fn lock_owned_with<W: Waiter + ?Sized>(
        self: &Arc<Self>,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<OwnedMutexGuard<T>, WaitError> {
        self.lock
            .acquire_with_as(waiter, deadline, Caller::MutexLockOwnedWith)
            .map(|g| OwnedMutexGuard::adopt(g, self))
    }

    /// Whether the mutex is locked (a snapshot). Between an unlock that
    /// woke a waiter to compete and that waiter's retry it reads `false`
    /// while [`waiting`](Mutex::waiting) still counts the waiter (see
    /// [`Lock::is_locked`]).
    ///
    /// ```
    /// assert!(!polysync::Mutex::new(0).is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.lock.is_locked()
    }

    /// Whether this mutex hands over in strict FIFO order (made by
    /// [`new_fair`](Mutex::new_fair)) rather than with bounded fairness
    /// ([`new`](Mutex::new), [`new_bounded`](Mutex::new_bounded)).
    ///
    /// ```
    /// assert!(!polysync::Mutex::new(0).is_fair());
    /// assert!(polysync::Mutex::new_fair(0).is_fair());
    /// assert!(!polysync::Mutex::new_bounded(0).is_fair());
    /// ```
    pub fn is_fair(&self) -> bool {
        self.lock.is_fair()
    }

    /// How many units wait for the mutex (a snapshot).
    ///
    /// ```
    /// assert_eq!(polysync::Mutex::new(0).waiting(), 0);
    /// ```
    pub fn waiting(&self) -> usize {
        self.lock.waiting()
    }

    /// Mutable access without locking: `&mut self` proves exclusivity.
    ///
    /// ```
    /// let mut m = polysync::Mutex::new(1);
    /// *m.get_mut() = 2;
    /// assert_eq!(m.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// The lock behind the mutex.
    pub(crate) fn raw_lock(&self) -> &Lock {
        &self.lock
    }

    fn guard<'a>(&'a self, guard: LockGuard<'a>) -> MutexGuard<'a, T> {
        // The mutex guard releases the lock itself.
        std::mem::forget(guard);
        MutexGuard { mutex: self }
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.field("waiting", &self.waiting()).finish()
    }
}

/// Access to a [`Mutex`]'s value; unlocks (handing over to the next waiter)
/// when dropped.
#[must_use = "the mutex is unlocked as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard locks.
    pub(crate) fn mutex(&self) -> &'a Mutex<T> {
        self.mutex
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// Narrows the guard to a part of the value (a field, an element): the
    /// mutex stays locked until the returned guard is dropped. An
    /// associated function (`MutexGuard::map(guard, f)`), so that it does
    /// not shadow a method of `T`. If `f` panics, the mutex is unlocked as
    /// the guard unwinds.
    ///
    /// ```
    /// use polysync::{Mutex, MutexGuard};
    /// let m = Mutex::new((1, String::from("a")));
    /// let mut name = MutexGuard::map(m.lock_blocking(), |pair| &mut pair.1);
    /// name.push('b');
    /// drop(name);
    /// assert_eq!(m.lock_blocking().1, "ab");
    /// ```
    pub fn map<U: ?Sized>(this: Self, f: impl FnOnce(&mut T) -> &mut U) -> MappedMutexGuard<'a, U> {
        // SAFETY: the guard proves the lock is held by us, and consuming it
        // proves nobody else borrows through it.
        let data = NonNull::from(f(unsafe { &mut *this.mutex.data.get() }));
        let lock = &this.mutex.lock;
        // The mapped guard releases the lock itself.
        std::mem::forget(this);
        MappedMutexGuard {
            lock,
            data,
            _marker: PhantomData,
        }
    }

    /// Like [`map`](MutexGuard::map), when `f` may find nothing to narrow
    /// to: `Err` gives the guard back unchanged.
    ///
    /// # Errors
    /// The original guard, when `f` returns `None`.
    ///
    /// ```
    /// use polysync::{Mutex, MutexGuard};
    /// let m = Mutex::new(vec![1, 2]);
    /// let guard = MutexGuard::try_map(m.lock_blocking(), |v| v.get_mut(5)).unwrap_err();
    /// let mut second = MutexGuard::try_map(guard, |v| v.get_mut(1)).unwrap();
    /// *second = 20;
    /// drop(second);
    /// assert_eq!(*m.lock_blocking(), [1, 20]);
    /// ```
    pub fn try_map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&mut T) -> Option<&mut U>,
    ) -> Result<MappedMutexGuard<'a, U>, Self> {
        // SAFETY: as in `map`.
        let Some(data) = f(unsafe { &mut *this.mutex.data.get() }).map(NonNull::from) else {
            return Err(this);
        };
        let lock = &this.mutex.lock;
        std::mem::forget(this);
        Ok(MappedMutexGuard {
            lock,
            data,
            _marker: PhantomData,
        })
    }
}

// SAFETY: moving the guard to another thread moves access to `T` there, and
// releasing from any thread is allowed: `T: Send` suffices.
unsafe impl<T: ?Sized + Send> Send for MutexGuard<'_, T> {}
// SAFETY: sharing the guard shares `&T`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves the lock is held by us.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves the lock is held by us, and `&mut self`
        // proves nobody else borrows through this guard.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.lock.release();
    }
}

impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + std::fmt::Display> std::fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&**self, f)
    }
}

/// The future of [`Mutex::lock`]; resolves to a [`MutexGuard`].
#[must_use = "futures do nothing unless polled"]
pub struct LockFuture<'a, T: ?Sized> {
    acquire: lock::Acquire<'a>,
    mutex: &'a Mutex<T>,
}

impl<'a, T: ?Sized> Future for LockFuture<'a, T> {
    type Output = MutexGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        // SAFETY: `acquire` is structurally pinned; `mutex` is a plain reference.
        let this = unsafe { self.get_unchecked_mut() };
        let mutex = this.mutex;
        // SAFETY: as above, `acquire` is never moved.
        let acquire = unsafe { Pin::new_unchecked(&mut this.acquire) };
        acquire.poll(cx).map(|guard| mutex.guard(guard))
    }
}

impl<T: ?Sized> std::fmt::Debug for LockFuture<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockFuture")
            .field("acquire", &self.acquire)
            .finish()
    }
}

/// A [`MutexGuard`] narrowed to a part of the value
/// ([`MutexGuard::map`]): the mutex stays locked until it is dropped.
/// `Send` when `U: Send`, `Sync` when `U: Sync`. It cannot wait on a
/// [`Condition`](crate::Condition) (which needs the whole guard back).
///
/// ```
/// use polysync::{Mutex, MutexGuard};
/// let m = Mutex::new([0u8; 4]);
/// let mut tail = MutexGuard::map(m.lock_blocking(), |a| &mut a[2..]);
/// tail.fill(7);
/// drop(tail);
/// assert_eq!(*m.lock_blocking(), [0, 0, 7, 7]);
/// ```
#[must_use = "the mutex is unlocked as soon as the guard is dropped"]
pub struct MappedMutexGuard<'a, U: ?Sized> {
    lock: &'a Lock,
    /// Points into the value behind the lock (or at something `'a`), valid
    /// while the lock is held, which it is until this guard drops.
    data: NonNull<U>,
    /// Behaves as the `&'a mut U` it stands for.
    _marker: PhantomData<&'a mut U>,
}

// SAFETY: the guard gives exclusive access to the `U` it points at, and the
// lock may be released from any thread: as for `&mut U`, `U: Send` suffices.
unsafe impl<U: ?Sized + Send> Send for MappedMutexGuard<'_, U> {}
// SAFETY: sharing the guard shares `&U`.
unsafe impl<U: ?Sized + Sync> Sync for MappedMutexGuard<'_, U> {}

impl<'a, U: ?Sized> MappedMutexGuard<'a, U> {
    /// Narrows further (see [`MutexGuard::map`]).
    ///
    /// ```
    /// use polysync::{MappedMutexGuard, Mutex, MutexGuard};
    /// let m = Mutex::new(((1, 2), 3));
    /// let inner = MutexGuard::map(m.lock_blocking(), |v| &mut v.0);
    /// let mut second = MappedMutexGuard::map(inner, |p| &mut p.1);
    /// *second = 5;
    /// drop(second);
    /// assert_eq!(m.lock_blocking().0, (1, 5));
    /// ```
    pub fn map<V: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut U) -> &mut V,
    ) -> MappedMutexGuard<'a, V> {
        // SAFETY: `data` is valid and exclusively ours while the lock is held.
        let data = NonNull::from(f(unsafe { this.data.as_mut() }));
        let lock = this.lock;
        std::mem::forget(this);
        MappedMutexGuard {
            lock,
            data,
            _marker: PhantomData,
        }
    }

    /// Narrows further when `f` finds something (see
    /// [`MutexGuard::try_map`]).
    ///
    /// # Errors
    /// The guard unchanged, when `f` returns `None`.
    ///
    /// ```
    /// use polysync::{MappedMutexGuard, Mutex, MutexGuard};
    /// let m = Mutex::new((vec![1], 0));
    /// let v = MutexGuard::map(m.lock_blocking(), |p| &mut p.0);
    /// assert!(MappedMutexGuard::try_map(v, |v| v.get_mut(3)).is_err());
    /// ```
    pub fn try_map<V: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut U) -> Option<&mut V>,
    ) -> Result<MappedMutexGuard<'a, V>, Self> {
        // SAFETY: as in `map`.
        let Some(data) = f(unsafe { this.data.as_mut() }).map(NonNull::from) else {
            return Err(this);
        };
        let lock = this.lock;
        std::mem::forget(this);
        Ok(MappedMutexGuard {
            lock,
            data,
            _marker: PhantomData,
        })
    }
}

impl<U: ?Sized> Deref for MappedMutexGuard<'_, U> {
    type Target = U;
    fn deref(&self) -> &U {
        // SAFETY: valid while the lock is held (see `data`).
        unsafe { self.data.as_ref() }
    }
}

impl<U: ?Sized> DerefMut for MappedMutexGuard<'_, U> {
    fn deref_mut(&mut self) -> &mut U {
        // SAFETY: valid and exclusively ours while the lock is held.
        unsafe { self.data.as_mut() }
    }
}

impl<U: ?Sized> Drop for MappedMutexGuard<'_, U> {
    fn drop(&mut self) {
        self.lock.release();
    }
}

impl<U: ?Sized + std::fmt::Debug> std::fmt::Debug for MappedMutexGuard<'_, U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

/// Access to the value of a [`Mutex`] held through an `Arc`: `'static`,
/// and `Send` when `T: Send`, so it can move into a spawned task or thread;
/// unlocks (handing over to the next waiter) when dropped, also when that
/// task panics (the drop runs as it unwinds). Returned by the
/// `lock_owned*` forms.
///
/// ```
/// use polysync::Mutex;
/// use std::sync::Arc;
///
/// let m = Arc::new(Mutex::new(0));
/// let mut guard = m.lock_owned_blocking();
/// std::thread::spawn(move || *guard += 1).join().unwrap();
/// assert_eq!(*m.lock_blocking(), 1);
/// ```
#[must_use = "the mutex is unlocked as soon as the guard is dropped"]
pub struct OwnedMutexGuard<T: ?Sized> {
    mutex: Arc<Mutex<T>>,
}

// SAFETY: as for `MutexGuard`: moving the guard moves access to `T` (and
// the `Arc`, which is `Send` for `T: Send`).
unsafe impl<T: ?Sized + Send> Send for OwnedMutexGuard<T> {}
// SAFETY: sharing the guard shares `&T` (and the `Arc`).
unsafe impl<T: ?Sized + Send + Sync> Sync for OwnedMutexGuard<T> {}

impl<T: ?Sized> OwnedMutexGuard<T> {
    /// The owned form of `guard`, whose mutex's lock it holds.
    #[inline]
    fn adopt(guard: LockGuard<'_>, mutex: &Arc<Mutex<T>>) -> Self {
        debug_assert!(std::ptr::eq(guard.lock(), &mutex.lock));
        // The owned guard releases the lock itself.
        std::mem::forget(guard);
        OwnedMutexGuard {
            mutex: Arc::clone(mutex),
        }
    }

    /// The mutex this guard locks.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let m = Arc::new(polysync::Mutex::new(0));
    /// let guard = m.lock_owned_blocking();
    /// assert!(Arc::ptr_eq(guard.mutex(), &m));
    /// ```
    pub fn mutex(&self) -> &Arc<Mutex<T>> {
        &self.mutex
    }

    /// Narrows the guard to a part of the value, keeping the `Arc` (see
    /// [`MutexGuard::map`]): the result is still `'static`.
    ///
    /// ```
    /// use polysync::{Mutex, OwnedMutexGuard};
    /// use std::sync::Arc;
    /// let m = Arc::new(Mutex::new((0, vec![1])));
    /// let mut v = OwnedMutexGuard::map(m.lock_owned_blocking(), |p| &mut p.1);
    /// std::thread::spawn(move || v.push(2)).join().unwrap();
    /// assert_eq!(m.lock_blocking().1, [1, 2]);
    /// ```
    pub fn map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&mut T) -> &mut U,
    ) -> OwnedMappedMutexGuard<T, U> {
        // SAFETY: the guard proves the lock is held by us; consuming it
        // proves nobody else borrows through it.
        let data = NonNull::from(f(unsafe { &mut *this.mutex.data.get() }));
        let this = std::mem::ManuallyDrop::new(this);
        OwnedMappedMutexGuard {
            data,
            // SAFETY: `this` is never used or dropped again: the `Arc` moves
            // into the mapped guard, which releases the lock.
            mutex: unsafe { std::ptr::read(&this.mutex) },
        }
    }

    /// Like [`map`](OwnedMutexGuard::map), when `f` may find nothing.
    ///
    /// # Errors
    /// The original guard, when `f` returns `None`.
    ///
    /// ```
    /// use polysync::{Mutex, OwnedMutexGuard};
    /// use std::sync::Arc;
    /// let m = Arc::new(Mutex::new(vec![1]));
    /// let g = OwnedMutexGuard::try_map(m.lock_owned_blocking(), |v| v.get_mut(9)).unwrap_err();
    /// assert_eq!(*g, [1]);
    /// ```
    pub fn try_map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&mut T) -> Option<&mut U>,
    ) -> Result<OwnedMappedMutexGuard<T, U>, Self> {
        // SAFETY: as in `map`.
        let Some(data) = f(unsafe { &mut *this.mutex.data.get() }).map(NonNull::from) else {
            return Err(this);
        };
        let this = std::mem::ManuallyDrop::new(this);
        Ok(OwnedMappedMutexGuard {
            data,
            // SAFETY: as in `map`.
            mutex: unsafe { std::ptr::read(&this.mutex) },
        })
    }
}

impl<T: ?Sized> Deref for OwnedMutexGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves the lock is held by us.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for OwnedMutexGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves the lock is held by us, and `&mut self`
        // proves nobody else borrows through this guard.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for OwnedMutexGuard<T> {
    fn drop(&mut self) {
        self.mutex.lock.release();
    }
}

impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for OwnedMutexGuard<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + std::fmt::Display> std::fmt::Display for OwnedMutexGuard<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&**self, f)
    }
}

/// An [`OwnedMutexGuard`] narrowed to a part `U` of the value
/// ([`OwnedMutexGuard::map`]); keeps the `Arc`, so it is `'static`. `Send`
/// when `T: Send` and `U: Send`.
///
/// ```
/// use polysync::{Mutex, OwnedMutexGuard};
/// use std::sync::Arc;
/// let m = Arc::new(Mutex::new([1, 2]));
/// let first = OwnedMutexGuard::map(m.lock_owned_blocking(), |a| &mut a[0]);
/// assert_eq!(*first, 1);
/// ```
#[must_use = "the mutex is unlocked as soon as the guard is dropped"]
pub struct OwnedMappedMutexGuard<T: ?Sized, U: ?Sized> {
    /// Points into the value of `mutex` (or at something `'static`), valid
    /// while the lock is held, which it is until this guard drops.
    data: NonNull<U>,
    mutex: Arc<Mutex<T>>,
}

// SAFETY: moving the guard moves exclusive access to `U` and the `Arc`
// (`Send` for `T: Send`); the lock may be released from any thread.
unsafe impl<T: ?Sized + Send, U: ?Sized + Send> Send for OwnedMappedMutexGuard<T, U> {}
// SAFETY: sharing the guard shares `&U` and the `Arc`.
unsafe impl<T: ?Sized + Send, U: ?Sized + Sync> Sync for OwnedMappedMutexGuard<T, U> {}

impl<T: ?Sized, U: ?Sized> OwnedMappedMutexGuard<T, U> {
    /// The mutex this guard locks.
    ///
    /// ```
    /// use polysync::{Mutex, OwnedMutexGuard};
    /// use std::sync::Arc;
    /// let m = Arc::new(Mutex::new((1, 2)));
    /// let g = OwnedMutexGuard::map(m.lock_owned_blocking(), |p| &mut p.0);
    /// assert!(Arc::ptr_eq(g.mutex(), &m));
    /// ```
    pub fn mutex(&self) -> &Arc<Mutex<T>> {
        &self.mutex
    }
}

impl<T: ?Sized, U: ?Sized> Deref for OwnedMappedMutexGuard<T, U> {
    type Target = U;
    fn deref(&self) -> &U {
        // SAFETY: valid while the lock is held (see `data`).
        unsafe { self.data.as_ref() }
    }
}

impl<T: ?Sized, U: ?Sized> DerefMut for OwnedMappedMutexGuard<T, U> {
    fn deref_mut(&mut self) -> &mut U {
        // SAFETY: valid and exclusively ours while the lock is held.
        unsafe { self.data.as_mut() }
    }
}

impl<T: ?Sized, U: ?Sized> Drop for OwnedMappedMutexGuard<T, U> {
    fn drop(&mut self) {
        self.mutex.lock.release();
    }
}

impl<T: ?Sized, U: ?Sized + std::fmt::Debug> std::fmt::Debug for OwnedMappedMutexGuard<T, U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

/// The future of [`Mutex::lock_owned`]: the lock's acquisition run against
/// a mutex in an `Arc`; `'static`, resolves to an [`OwnedMutexGuard`].
#[must_use = "futures do nothing unless polled"]
pub struct OwnedLockFuture<T: ?Sized> {
    inner: ArcWait<Mutex<T>, lock::Acquire<'static>>,
}

impl<T: ?Sized> OwnedLockFuture<T> {
    fn new(mutex: &Arc<Mutex<T>>) -> Self {
        let mutex = Arc::clone(mutex);
        // SAFETY: the reference points into `mutex`'s allocation (its lock);
        // the future that holds it is stored with `mutex` in an `ArcWait`,
        // whose output goes only to the closure in `poll`, which forgets
        // the borrowed guard: the rules of `ArcWait::new`.
        let lock = unsafe { crate::owned::extend(&mutex.lock) };
        let fut = lock::Acquire::new(lock, Caller::MutexLockOwned);
        OwnedLockFuture {
            // SAFETY: as above.
            inner: unsafe { ArcWait::new(mutex, fut) },
        }
    }
}

impl<T: ?Sized> Future for OwnedLockFuture<T> {
    type Output = OwnedMutexGuard<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<OwnedMutexGuard<T>> {
        // SAFETY: `inner` is structurally pinned; nothing else is here.
        let inner = unsafe { self.map_unchecked_mut(|this| &mut this.inner) };
        inner.poll_with(cx, |guard, mutex| {
            // The owned guard releases the lock itself.
            std::mem::forget(guard);
            OwnedMutexGuard { mutex }
        })
    }
}

impl<T: ?Sized> std::fmt::Debug for OwnedLockFuture<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedLockFuture")
            .field("acquire", &self.inner.future())
            .finish()
    }
}
