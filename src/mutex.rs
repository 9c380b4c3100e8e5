//! [`Mutex<T>`]: data protected by a [`Lock`].

use crate::lock::{self, Caller, Lock, LockGuard};
use crate::lowlevel::sync::const_fn;
use crate::lowlevel::wait::blocking;
use crate::lowlevel::{WaitError, Waiter, deadline_after};
use std::cell::UnsafeCell;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A value protected by a fair [`Lock`], lockable from threads, async tasks
/// of any executor and green threads at the same time.
///
/// Same semantics as [`Lock`]: strict FIFO hand-off, cancel-safe futures,
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
        /// A new unlocked mutex holding `value`.
        ///
        /// ```
        /// static CONFIG: polysync::Mutex<Vec<u8>> = polysync::Mutex::new(Vec::new());
        /// CONFIG.lock_blocking().push(1);
        /// ```
        pub fn new(value: T) -> Self {
            Self { lock: Lock::new(), data: UnsafeCell::new(value) }
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
    /// # Panics
    /// At the first poll, if the current task has an identity (see
    /// [`current_task`](crate::lowlevel::current_task)) and already holds this
    /// mutex: waiting would never end.
    ///
    /// ```should_panic
    /// # futures_lite::future::block_on(polysync::lowlevel::identified(async {
    /// let m = polysync::Mutex::new(1);
    /// let _held = m.lock().await;
    /// let _again = m.lock().await; // panics: this task already holds it
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
    pub fn lock_blocking(&self) -> MutexGuard<'_, T> {
        // A free mutex needs no waiter: skip the registry lookup
        // (a green unit may still take its checkpoint).
        if let Some(guard) = self.try_lock() {
            crate::lowlevel::green_checkpoint();
            return guard;
        }
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
    pub fn try_lock_for(&self, timeout: Duration) -> Option<MutexGuard<'_, T>> {
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
    pub fn try_lock_until(&self, deadline: Instant) -> Option<MutexGuard<'_, T>> {
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
    pub fn lock_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<MutexGuard<'_, T>, WaitError> {
        self.lock
            .acquire_with_as(waiter, deadline, Caller::MutexLockWith)
            .map(|g| self.guard(g))
    }

    /// Whether the mutex is locked (a snapshot).
    ///
    /// ```
    /// assert!(!polysync::Mutex::new(0).is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.lock.locked()
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
