//! Counting semaphores: [`Semaphore`], [`BoundedSemaphore`] and
//! [`BinarySemaphore`], all on one raw core.

use crate::lowlevel::queue::{Batch, NodeData, QueueGuard, USER_MAX, WaitQueue, wake_in_batches};
use crate::lowlevel::sync::{Ordering, const_fn};
use crate::lowlevel::wait::{Protocol, Wait, admit_if, blocking, drive};
use crate::lowlevel::{WaitError, Waiter, deadline_after};
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

// The user bits of a semaphore's queue word: the free permits `v`,
// `0..=max` (`max` is `USER_MAX`, a bounded semaphore's maximum, or 1):
//
// | `v` | queued nodes | the semaphore   | an acquisition             | `release(n)`                     |
// |-----|--------------|-----------------|----------------------------|----------------------------------|
// | > 0 | none         | permits free    | takes one: `v - 1`         | `v + n` (over `max`: an error, or capped with `saturate`) |
// | 0   | none         | all taken       | queues (data: the maximum, for `pass_on`) | `v = n` (same limit)   |
// | 0   | k > 0        | all taken, k wait | queues behind them       | hands min(n, k) permits to the oldest waiters (`v` stays 0); the rest, once nobody waits, to `v` |
// | > 0 | k > 0        | never (outside a release's critical section): permits are handed to waiters before `v` rises | - | - |
//
// `v` changes lock-free while nobody is queued (`update_if_idle`), else
// under the queue lock. A permit handed to a node whose future is then
// dropped goes back through `release(1)` (`pass_on`): to the next waiter.

/// The node data of a semaphore wait: the semaphore's maximum free count
/// (`USER_MAX`, a bounded semaphore's maximum, or 1). Written by the waiter
/// when it starts; kept as it is by a release that hands it a permit
/// (`notify_front_keep`), so a waiter that drops the permit unused gives it
/// back under the right cap (`pass_on`). Notifiers never read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Max(pub(crate) u64);

/// The word is the maximum itself (at most `USER_MAX`, so it fits).
impl NodeData for Max {
    #[inline]
    fn into_raw(self) -> usize {
        self.0 as usize
    }

    #[inline]
    fn from_raw(raw: usize) -> Max {
        Max(raw as u64)
    }
}

/// The shared core: the free permits live in the queue word's user bits
/// (see the table above). A release hands permits straight to queued
/// waiters (the free count does not rise while anyone waits), so waiters are
/// served strictly FIFO.
pub(crate) struct RawSemaphore {
    /// User bits: the free permits.
    queue: WaitQueue,
}

impl RawSemaphore {
    const_fn! {
        pub(crate) fn new(value: u64) -> RawSemaphore {
            RawSemaphore { queue: WaitQueue::new(value) }
        }
    }

    #[inline]
    pub(crate) fn value(&self) -> usize {
        self.queue.user(Ordering::Relaxed) as usize
    }

    #[inline]
    pub(crate) fn waiting(&self) -> usize {
        self.queue.len()
    }

    /// Takes a free permit if nobody is queued.
    #[inline]
    pub(crate) fn try_acquire(&self) -> bool {
        self.queue
            .update_if_idle(Ordering::Acquire, |v| v.checked_sub(1))
            .is_ok()
    }

    /// Adds `n` permits, handing them to waiters first. Fails, changing
    /// nothing, if the free count would exceed `max`; with `saturate`, the
    /// excess is dropped instead.
    pub(crate) fn release(&self, mut n: u64, max: u64, saturate: bool) -> Result<(), u64> {
        if n == 0 {
            return Ok(());
        }
        let fast = self.queue.update_if_idle(Ordering::Release, |v| {
            if v + n <= max {
                Some(v + n)
            } else if saturate {
                Some(max)
            } else {
                None
            }
        });
        if fast.is_ok() {
            return Ok(());
        }
        let guard = self.queue.lock();
        // Waiters take permits first; only what is left must fit under `max`.
        if !saturate && guard.user() + n > max + guard.len() as u64 {
            return Err(guard.user());
        }
        // Hands at most `n` permits to queued waiters, oldest first; what is
        // left once the queue is empty goes to the free count.
        wake_in_batches(&self.queue, Some(guard), |guard, wakers| {
            while n > 0 && !wakers.is_full() {
                match guard.notify_front_keep() {
                    Some(waker) => {
                        wakers.push(waker);
                        n -= 1;
                    }
                    None => break,
                }
            }
            if n > 0 && guard.is_empty() {
                guard.set_user((guard.user() + n).min(max));
                n = 0;
            }
            Batch::more_if(n > 0)
        });
        Ok(())
    }
}

impl Protocol for RawSemaphore {
    type Tag = Max;
    /// The same maximum, left in place by the release that hands a permit.
    type Outcome = Max;
    type Slot = ();

    fn queue(&self) -> &WaitQueue {
        &self.queue
    }

    #[inline]
    fn try_fast(&self, max: Max, _: &()) -> Option<Max> {
        self.try_acquire().then_some(max)
    }

    fn arrive_locked(&self, guard: &mut QueueGuard<'_>, max: Max, _: &()) -> Result<Max, Max> {
        admit_if(max, {
            match guard.user().checked_sub(1) {
                Some(v) => {
                    guard.set_user(v);
                    true
                }
                None => false,
            }
        })
    }

    fn pass_on(&self, Max(max): Max, _: &()) {
        // The permit was handed to us: give it back (to the next waiter),
        // under the semaphore's maximum.
        let _ = self.release(1, max, true);
    }
}

/// A future that takes one permit from a [`RawSemaphore`].
pub(crate) type RawAcquire<'a> = Wait<'a, RawSemaphore>;

macro_rules! acquire_methods {
    ($permit:ident, $ctor:literal, $max:expr) => {
        /// Takes one permit asynchronously, in FIFO order with every other
        /// waiter.
        ///
        /// ```
        /// # futures_lite::future::block_on(async {
        #[doc = concat!("let sem = polysync::", $ctor, ";")]
        /// let permit = sem.acquire().await;
        /// assert_eq!(sem.value(), 0);
        /// drop(permit);
        /// assert_eq!(sem.value(), 1);
        /// # });
        /// ```
        ///
        /// # Cancel safety
        /// Dropping the future gives up its place in line and loses no
        /// permit:
        /// - before its first poll: nothing happened;
        /// - while queued: it leaves the queue; the waiters behind it keep
        ///   their order;
        /// - after a release handed it a permit, before it was polled
        ///   again: the permit is released at once, to the next waiter (or
        ///   back to the free count).
        #[inline]
        pub fn acquire(&self) -> Acquire<'_, Self> {
            Acquire {
                owner: self,
                wait: Wait::new(&self.raw, Max(($max)(self))),
            }
        }

        /// Blocks the current execution unit until a permit is taken.
        ///
        /// ```
        #[doc = concat!("let sem = polysync::", $ctor, ";")]
        /// sem.acquire_blocking().forget();
        /// assert_eq!(sem.value(), 0);
        /// ```
        pub fn acquire_blocking(&self) -> Permit<'_, Self> {
            // A free permit needs no waiter: skip the registry lookup
            // (a green unit may still take its checkpoint).
            if let Some(permit) = self.try_acquire() {
                $crate::lowlevel::green_checkpoint();
                return permit;
            }
            blocking(|w| self.acquire_with(w, None))
                .expect("a wait without a deadline does not time out")
        }

        /// Takes a permit if one is free, without waiting or barging past
        /// queued waiters.
        ///
        /// ```
        #[doc = concat!("let sem = polysync::", $ctor, ";")]
        /// let p = sem.try_acquire().unwrap();
        /// assert!(sem.try_acquire().is_none());
        /// ```
        #[inline]
        pub fn try_acquire(&self) -> Option<Permit<'_, Self>> {
            self.raw.try_acquire().then(|| Permit { owner: self })
        }

        /// Blocks until a permit is taken or `timeout` passes. A zero timeout
        /// still takes a free permit.
        ///
        /// ```
        #[doc = concat!("let sem = polysync::", $ctor, ";")]
        /// let p = sem.try_acquire_for(std::time::Duration::ZERO).unwrap();
        /// assert!(sem.try_acquire_for(std::time::Duration::from_millis(1)).is_none());
        /// ```
        pub fn try_acquire_for(&self, timeout: Duration) -> Option<Permit<'_, Self>> {
            blocking(|w| self.acquire_with(w, deadline_after(timeout)))
        }

        /// Blocks until a permit is taken or `deadline` passes.
        ///
        /// ```
        #[doc = concat!("let sem = polysync::", $ctor, ";")]
        /// assert!(sem.try_acquire_until(std::time::Instant::now()).is_some());
        /// ```
        pub fn try_acquire_until(&self, deadline: Instant) -> Option<Permit<'_, Self>> {
            blocking(|w| self.acquire_with(w, Some(deadline)))
        }

        /// Blocks on `waiter` until a permit is taken, `deadline` passes or
        /// the waiter reports cancellation: the entry point that every
        /// blocking form runs with the current unit's waiter.
        ///
        /// # Errors
        /// [`WaitError::TimedOut`] or [`WaitError::Cancelled`]; the wait is
        /// withdrawn either way, and a permit handed to it meanwhile goes to
        /// the next waiter.
        ///
        /// ```
        /// use polysync::lowlevel::{ThreadWaiter, WaitError};
        #[doc = concat!("let sem = polysync::", $ctor, ";")]
        /// ThreadWaiter::with_current(|w| {
        ///     let permit = sem.acquire_with(w, None).unwrap();
        ///     let now = Some(std::time::Instant::now());
        ///     assert_eq!(sem.acquire_with(w, now).unwrap_err(), WaitError::TimedOut);
        ///     drop(permit);
        /// });
        /// ```
        pub fn acquire_with<W: Waiter + ?Sized>(
            &self,
            waiter: &W,
            deadline: Option<Instant>,
        ) -> Result<Permit<'_, Self>, WaitError> {
            if let Some(permit) = self.try_acquire() {
                return Ok(permit);
            }
            let wait = pin!(Wait::new(&self.raw, Max(($max)(self))));
            drive(waiter, wait, deadline)
                .map(|()| Permit { owner: self })
                .map_err(|(error, ())| error)
        }

        /// Free permits now (a snapshot). Permits handed straight to waiters
        /// never show up here.
        ///
        /// ```
        #[doc = concat!("assert_eq!(polysync::", $ctor, ".value(), 1);")]
        /// ```
        #[inline]
        pub fn value(&self) -> usize {
            self.raw.value()
        }

        /// How many units wait for a permit now (a snapshot).
        ///
        /// ```
        #[doc = concat!("assert_eq!(polysync::", $ctor, ".waiting(), 0);")]
        /// ```
        #[inline]
        pub fn waiting(&self) -> usize {
            self.raw.waiting()
        }
    };
}

/// What a permit gives back to when it drops.
pub trait PermitSource: sealed::Sealed {
    #[doc(hidden)]
    fn give_back(&self);
}

mod sealed {
    pub trait Sealed {}
}

/// A counting semaphore shared by threads, async tasks and green threads.
///
/// Anyone may [`release`](Semaphore::release) permits (there is no owner);
/// [`acquire`](Semaphore::acquire) and its blocking forms return a [`Permit`]
/// that gives its permit back on drop, unless [`forgotten`](Permit::forget).
/// Waiters are served strictly FIFO by direct hand-off. At most
/// [`Semaphore::MAX_PERMITS`] permits.
///
/// ```
/// use polysync::Semaphore;
/// use std::sync::Arc;
///
/// let sem = Arc::new(Semaphore::new(0));
/// let waiter = {
///     let sem = sem.clone();
///     std::thread::spawn(move || sem.acquire_blocking().forget())
/// };
/// sem.release(1);
/// waiter.join().unwrap();
/// assert_eq!(sem.value(), 0);
/// ```
pub struct Semaphore {
    raw: RawSemaphore,
}

impl Semaphore {
    /// The largest number of permits a semaphore holds.
    pub const MAX_PERMITS: usize = USER_MAX as usize;

    const_fn! {
        /// A semaphore with `permits` free permits.
        ///
        /// # Panics
        /// If `permits > Semaphore::MAX_PERMITS`.
        pub fn new(permits: usize) -> Semaphore {
            assert!(permits <= Semaphore::MAX_PERMITS, "polysync: too many permits");
            Semaphore { raw: RawSemaphore::new(permits as u64) }
        }
    }

    acquire_methods!(Semaphore, "Semaphore::new(1)", |_: &Self| USER_MAX);

    /// Adds `n` permits: hands them to waiters in FIFO order, and frees the rest.
    ///
    /// # Panics
    /// If the free permits would exceed [`Semaphore::MAX_PERMITS`].
    ///
    /// ```
    /// let sem = polysync::Semaphore::new(0);
    /// sem.release(3);
    /// assert_eq!(sem.value(), 3);
    /// ```
    pub fn release(&self, n: usize) {
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        if self
            .raw
            .release(n.min(USER_MAX + 1), USER_MAX, false)
            .is_err()
        {
            panic!("polysync: Semaphore::release would exceed MAX_PERMITS");
        }
    }
}

impl sealed::Sealed for Semaphore {}
impl PermitSource for Semaphore {
    fn give_back(&self) {
        self.release(1);
    }
}

/// A semaphore whose free permits may never exceed a maximum: releasing past
/// it is a [`TooManyReleases`] error (it catches unbalanced releases).
///
/// ```
/// use polysync::BoundedSemaphore;
/// let sem = BoundedSemaphore::new(1, 1);
/// let permit = sem.acquire_blocking();
/// drop(permit);
/// assert!(sem.release(1).is_err());
/// assert_eq!(sem.value(), 1);
/// ```
pub struct BoundedSemaphore {
    raw: RawSemaphore,
    max: u32,
}

/// Releasing would push a [`BoundedSemaphore`] (or [`BinarySemaphore`]) past its maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TooManyReleases {
    /// The semaphore's maximum.
    pub max: usize,
}

impl std::fmt::Display for TooManyReleases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "polysync: semaphore released too many times (maximum {})",
            self.max
        )
    }
}

impl std::error::Error for TooManyReleases {}

impl BoundedSemaphore {
    const_fn! {
        /// A semaphore with `permits` free permits that never holds more than `max`.
        ///
        /// # Panics
        /// If `permits > max` or `max > Semaphore::MAX_PERMITS`.
        pub fn new(permits: usize, max: usize) -> BoundedSemaphore {
            assert!(permits <= max, "polysync: initial permits above the maximum");
            assert!(max <= Semaphore::MAX_PERMITS, "polysync: too many permits");
            BoundedSemaphore { raw: RawSemaphore::new(permits as u64), max: max as u32 }
        }
    }

    acquire_methods!(
        BoundedSemaphore,
        "BoundedSemaphore::new(1, 1)",
        |s: &Self| u64::from(s.max)
    );

    /// The maximum number of free permits.
    ///
    /// ```
    /// assert_eq!(polysync::BoundedSemaphore::new(0, 4).max_value(), 4);
    /// ```
    pub fn max_value(&self) -> usize {
        self.max as usize
    }

    /// Adds `n` permits (handing them to waiters first).
    ///
    /// # Errors
    /// [`TooManyReleases`], changing nothing, if the free permits would exceed the maximum.
    ///
    /// ```
    /// let sem = polysync::BoundedSemaphore::new(0, 2);
    /// sem.release(2).unwrap();
    /// assert!(sem.release(1).is_err());
    /// ```
    pub fn release(&self, n: usize) -> Result<(), TooManyReleases> {
        let n = u64::try_from(n).unwrap_or(u64::MAX).min(USER_MAX + 1);
        self.raw
            .release(n, u64::from(self.max), false)
            .map_err(|_| TooManyReleases {
                max: self.max as usize,
            })
    }
}

impl sealed::Sealed for BoundedSemaphore {}
impl PermitSource for BoundedSemaphore {
    fn give_back(&self) {
        // A permit that was taken can always come back, unless someone
        // released without acquiring meanwhile; then the excess is dropped.
        let _ = self.raw.release(1, u64::from(self.max), true);
    }
}

/// A semaphore with at most one free permit. Releasing while the permit is
/// already free has no effect (use [`BoundedSemaphore`]`::new(_, 1)` to get an error instead).
///
/// ```
/// use polysync::BinarySemaphore;
/// let sem = BinarySemaphore::new(false);
/// sem.release();
/// sem.release(); // still one permit
/// assert_eq!(sem.value(), 1);
/// ```
pub struct BinarySemaphore {
    raw: RawSemaphore,
}

impl BinarySemaphore {
    const_fn! {
        /// A binary semaphore, with its permit free if `available`.
        pub fn new(available: bool) -> BinarySemaphore {
            BinarySemaphore { raw: RawSemaphore::new(available as u64) }
        }
    }

    acquire_methods!(BinarySemaphore, "BinarySemaphore::new(true)", |_: &Self| {
        1u64
    });

    /// Makes the permit available (to the oldest waiter, if any).
    pub fn release(&self) {
        let _ = self.raw.release(1, 1, true);
    }
}

impl sealed::Sealed for BinarySemaphore {}
impl PermitSource for BinarySemaphore {
    fn give_back(&self) {
        self.release();
    }
}

macro_rules! common_impls {
    ($($ty:ident),*) => {$(
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("value", &self.value())
                    .field("waiting", &self.waiting())
                    .finish()
            }
        }
    )*};
}
common_impls!(Semaphore, BoundedSemaphore, BinarySemaphore);

impl Default for Semaphore {
    /// A semaphore with one permit.
    fn default() -> Self {
        Self::new(1)
    }
}

impl Default for BinarySemaphore {
    /// A binary semaphore with its permit free.
    fn default() -> Self {
        Self::new(true)
    }
}

/// One permit of a semaphore; gives it back when dropped.
#[must_use = "the permit is given back as soon as it is dropped"]
pub struct Permit<'a, S: PermitSource> {
    owner: &'a S,
}

impl<S: PermitSource> Permit<'_, S> {
    /// Keeps the permit taken forever: it is not given back on drop.
    ///
    /// ```
    /// let sem = polysync::Semaphore::new(1);
    /// sem.acquire_blocking().forget();
    /// assert_eq!(sem.value(), 0);
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl<S: PermitSource> Drop for Permit<'_, S> {
    fn drop(&mut self) {
        self.owner.give_back();
    }
}

impl<S: PermitSource + std::fmt::Debug> std::fmt::Debug for Permit<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit")
            .field("semaphore", self.owner)
            .finish()
    }
}

/// The future of a semaphore's `acquire`; resolves to a [`Permit`].
#[must_use = "futures do nothing unless polled"]
pub struct Acquire<'a, S: PermitSource> {
    owner: &'a S,
    wait: RawAcquire<'a>,
}

impl<'a, S: PermitSource> Future for Acquire<'a, S> {
    type Output = Permit<'a, S>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit<'a, S>> {
        // SAFETY: `wait` is structurally pinned; `owner` is a plain reference.
        let this = unsafe { self.get_unchecked_mut() };
        let owner = this.owner;
        // SAFETY: as above, `wait` is never moved.
        let wait = unsafe { Pin::new_unchecked(&mut this.wait) };
        wait.poll(cx).map(|()| Permit { owner })
    }
}

impl<S: PermitSource + std::fmt::Debug> std::fmt::Debug for Acquire<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acquire")
            .field("semaphore", self.owner)
            .field("queued", &self.wait.is_queued())
            .finish()
    }
}
