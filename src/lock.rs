//! [`Lock`]: a fair, non-reentrant lock that threads, tasks and green threads
//! share.

use crate::lowlevel::queue::{QueueGuard, WaitQueue, WakeList};
use crate::lowlevel::sync::{Ordering, const_fn};
use crate::lowlevel::wait::{Protocol, Wait, blocking, drive};
use crate::lowlevel::{WaitError, Waiter, current_unit, deadline_after};
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// User bits of the lock's queue word: bit 0 is "locked", bits 1..=31 hold
/// the owner's [`UnitId`] when a blocking or `try_*` call took it (0 for async
/// acquisitions, whose owner is a task, not the thread that polled it).
const LOCKED: u64 = 1;

#[inline]
fn held_by(owner: u32) -> u64 {
    LOCKED | (u64::from(owner) << 1)
}

/// A fair mutual-exclusion lock without data (see [`Mutex`](crate::Mutex)
/// for the data-carrying form), usable at the same time from OS threads, async
/// tasks of any executor, and green threads.
///
/// - Every way to wait: [`acquire`](Lock::acquire) (async),
///   [`acquire_blocking`](Lock::acquire_blocking), [`try_acquire`](Lock::try_acquire),
///   [`try_acquire_for`](Lock::try_acquire_for), [`try_acquire_until`](Lock::try_acquire_until).
/// - **Strict FIFO with direct hand-off**: a release gives the lock straight
///   to the oldest waiter, whatever its world; [`locked`](Lock::locked) stays
///   `true` across the hand-off and nobody can barge in.
/// - Cancellation is safe: dropping an `acquire()` future, or a timed-out
///   blocking acquire, never loses a hand-off (it is passed on).
/// - Not reentrant: a blocking acquire by the execution unit that already
///   holds the lock through a blocking or `try_*` call panics instead of
///   deadlocking. (That check follows the acquiring unit; if you move such a
///   guard to another thread, the original thread still counts as the owner
///   until the guard is dropped.)
/// - No poisoning. 16 bytes.
///
/// ```
/// use polysync::Lock;
/// use std::sync::Arc;
///
/// let lock = Arc::new(Lock::new());
/// let thread = {
///     let lock = lock.clone();
///     std::thread::spawn(move || {
///         let _guard = lock.acquire_blocking();
///     })
/// };
/// futures_lite::future::block_on(async {
///     let _guard = lock.acquire().await;
/// });
/// thread.join().unwrap();
/// assert!(!lock.locked());
/// ```
pub struct Lock {
    queue: WaitQueue,
}

impl Lock {
    const_fn! {
        /// An unlocked lock. `const`, so it can be a `static`.
        pub fn new() -> Lock {
            Lock { queue: WaitQueue::new(0) }
        }
    }

    /// Acquires the lock asynchronously. The future is cancel-safe: dropping
    /// it gives up its place (or passes on a hand-off it already received).
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let lock = polysync::Lock::new();
    /// let guard = lock.acquire().await;
    /// assert!(lock.locked());
    /// drop(guard);
    /// assert!(!lock.locked());
    /// # });
    /// ```
    #[inline]
    pub fn acquire(&self) -> Acquire<'_> {
        Acquire {
            wait: Wait::new(self, 0),
        }
    }

    /// Blocks the current execution unit until the lock is acquired.
    ///
    /// # Panics
    /// If the calling unit already holds this lock through a blocking or
    /// `try_*` acquisition (it would deadlock).
    ///
    /// ```
    /// let lock = polysync::Lock::new();
    /// let guard = lock.acquire_blocking();
    /// assert!(lock.try_acquire().is_none());
    /// drop(guard);
    /// ```
    pub fn acquire_blocking(&self) -> LockGuard<'_> {
        blocking(|w| self.acquire_with(w, None))
            .expect("a wait without a deadline does not time out")
    }

    /// Acquires the lock if it is free, without waiting.
    ///
    /// ```
    /// let lock = polysync::Lock::new();
    /// let guard = lock.try_acquire().unwrap();
    /// assert!(lock.try_acquire().is_none());
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Option<LockGuard<'_>> {
        let owner = current_unit();
        self.queue
            .cas_idle(0, held_by(owner.get()), Ordering::Acquire)
            .then(|| LockGuard { lock: self })
    }

    /// Blocks until the lock is acquired or `timeout` passes. A zero timeout
    /// still takes a free lock.
    ///
    /// # Panics
    /// Like [`acquire_blocking`](Lock::acquire_blocking).
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = polysync::Lock::new();
    /// let guard = lock.try_acquire_for(Duration::ZERO).unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(lock.try_acquire_for(Duration::from_millis(10)).is_none()));
    /// });
    /// drop(guard);
    /// ```
    pub fn try_acquire_for(&self, timeout: Duration) -> Option<LockGuard<'_>> {
        blocking(|w| self.acquire_with(w, deadline_after(timeout)))
    }

    /// Blocks until the lock is acquired or `deadline` passes.
    ///
    /// # Panics
    /// Like [`acquire_blocking`](Lock::acquire_blocking).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let lock = polysync::Lock::new();
    /// assert!(lock.try_acquire_until(Instant::now() + Duration::from_millis(1)).is_some());
    /// ```
    pub fn try_acquire_until(&self, deadline: Instant) -> Option<LockGuard<'_>> {
        blocking(|w| self.acquire_with(w, Some(deadline)))
    }

    /// Blocks on `waiter` until the lock is acquired, `deadline` passes or
    /// the waiter reports cancellation: the entry point that every blocking
    /// form runs with the current unit's waiter. The current execution unit
    /// becomes the owner (for the re-entry check), whichever waiter waits.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] or [`WaitError::Cancelled`]; the wait is
    /// withdrawn either way, and a hand-off that reached it meanwhile goes
    /// to the next waiter.
    ///
    /// # Panics
    /// Like [`acquire_blocking`](Lock::acquire_blocking).
    ///
    /// ```
    /// use polysync::lowlevel::{ThreadWaiter, WaitError};
    /// use std::time::Instant;
    ///
    /// let lock = polysync::Lock::new();
    /// let held = lock.acquire_blocking();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         let out = ThreadWaiter::with_current(|w| lock.acquire_with(w, Some(Instant::now())));
    ///         assert_eq!(out.unwrap_err(), WaitError::TimedOut);
    ///     });
    /// });
    /// drop(held);
    /// let guard = ThreadWaiter::with_current(|w| lock.acquire_with(w, None)).unwrap();
    /// assert!(lock.locked());
    /// # drop(guard);
    /// ```
    pub fn acquire_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<LockGuard<'_>, WaitError> {
        let me = current_unit().get();
        if self.queue.cas_idle(0, held_by(me), Ordering::Acquire) {
            return Ok(LockGuard { lock: self });
        }
        let user = self.queue.user(Ordering::Relaxed);
        if user & LOCKED != 0 && (user >> 1) as u32 == me {
            panic!(
                "polysync::Lock: the current execution unit already holds this lock; \
                 acquiring it again would deadlock (use a reentrant lock instead)"
            );
        }
        drive(waiter, pin!(Wait::new(self, me as usize)), deadline)
            .map(|()| LockGuard { lock: self })
            .map_err(|(error, ())| error)
    }

    /// Whether the lock is held (racy by nature: a snapshot).
    ///
    /// ```
    /// let lock = polysync::Lock::new();
    /// assert!(!lock.locked());
    /// ```
    #[inline]
    pub fn locked(&self) -> bool {
        self.queue.user(Ordering::Relaxed) & LOCKED != 0
    }

    /// How many execution units wait for the lock now (a snapshot).
    ///
    /// ```
    /// let lock = polysync::Lock::new();
    /// assert_eq!(lock.waiting(), 0);
    /// ```
    #[inline]
    pub fn waiting(&self) -> usize {
        self.queue.len()
    }

    /// Releases the lock: hands it to the oldest waiter, or unlocks it.
    #[inline]
    pub(crate) fn release(&self) {
        let user = self.queue.user(Ordering::Relaxed);
        if self.queue.cas_idle(user, 0, Ordering::Release) {
            return;
        }
        self.release_slow();
    }

    #[cold]
    fn release_slow(&self) {
        let mut guard = self.queue.lock();
        debug_assert!(guard.user() & LOCKED != 0, "released an unlocked Lock");
        let mut wakers = WakeList::new();
        match guard.front().map(|waiter| waiter.data()) {
            Some(owner) => {
                // Direct hand-off: the lock stays locked, the owner changes.
                guard.set_user(held_by(owner as u32));
                wakers.push(guard.notify_front(owner).expect("front exists"));
            }
            None => guard.set_user(0),
        }
        drop(guard);
        wakers.wake_all();
    }
}

impl Protocol for Lock {
    fn queue(&self) -> &WaitQueue {
        &self.queue
    }

    #[inline]
    fn try_fast(&self, owner: usize) -> bool {
        self.queue
            .cas_idle(0, held_by(owner as u32), Ordering::Acquire)
    }

    fn try_locked(&self, guard: &mut QueueGuard<'_>, owner: usize) -> bool {
        if guard.user() & LOCKED == 0 {
            guard.set_user(held_by(owner as u32));
            true
        } else {
            false
        }
    }

    fn pass_on(&self, _: usize) {
        self.release();
    }
}

impl Default for Lock {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Lock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lock")
            .field("locked", &self.locked())
            .field("waiting", &self.waiting())
            .finish()
    }
}

/// Holds a [`Lock`]; releases it (to the next waiter, if any) when dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard<'a> {
    lock: &'a Lock,
}

impl<'a> LockGuard<'a> {
    /// A guard for a lock the caller already holds (handed over by a
    /// condition wait, say).
    pub(crate) fn assume_held(lock: &'a Lock) -> Self {
        LockGuard { lock }
    }

    /// The lock this guard holds.
    ///
    /// ```
    /// let lock = polysync::Lock::new();
    /// let guard = lock.acquire_blocking();
    /// assert!(std::ptr::eq(guard.lock(), &lock));
    /// ```
    pub fn lock(&self) -> &'a Lock {
        self.lock
    }
}

impl Drop for LockGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.lock.release();
    }
}

impl std::fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard")
            .field("lock", self.lock)
            .finish()
    }
}

/// The future of [`Lock::acquire`]; resolves to a [`LockGuard`].
#[must_use = "futures do nothing unless polled"]
pub struct Acquire<'a> {
    wait: Wait<'a, Lock>,
}

impl<'a> Future for Acquire<'a> {
    type Output = LockGuard<'a>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<LockGuard<'a>> {
        // SAFETY: `wait` is structurally pinned: it is never moved out of `self`.
        let wait = unsafe { self.map_unchecked_mut(|this| &mut this.wait) };
        let lock = wait.protocol();
        wait.poll(cx).map(|()| LockGuard { lock })
    }
}

impl std::fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acquire")
            .field("lock", self.wait.protocol())
            .field("queued", &self.wait.is_queued())
            .finish()
    }
}
