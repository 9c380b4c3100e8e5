//! [`Lock`]: a non-reentrant lock that threads, tasks and green threads
//! share, with bounded fairness (the default) or strict FIFO hand-off.

use crate::lowlevel::queue::{QueueGuard, WaitQueue, WakeList};
use crate::lowlevel::spin::spin_before_queueing;
use crate::lowlevel::sync::{AtomicU64, MAY_SPIN, Ordering, const_fn};
use crate::lowlevel::wait::{Protocol, Wait, admit_if, blocking, drive};
use crate::lowlevel::{Owner, WaitError, Waiter, current_task, current_unit, deadline_after};
use crate::owned::ArcWait;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

// The user bits of a lock's queue word, with the `owner` word beside it (a
// 64-bit identity does not fit in the user bits):
//
// ```text
//  31                               3   2       1       0
// +----------------------------------+------+-------+--------+
// |  debt (the front's unfairness)   | FAIR | WOKEN | LOCKED |
// +----------------------------------+------+-------+--------+
// ```
//
// - `LOCKED`: held. Set by a compare-exchange of the word while the queue
//   lock is free (`try_barge`, the one attempt of `try_fast`): the idle
//   word, or a barge past a woken front; or under the queue lock
//   (`arrive_locked`, or the front's `retry_front_locked`). Cleared by a
//   release: by a compare-exchange while nobody is queued, or while the
//   front is awake already (`WOKEN`, `release_unlocked`: nobody to wake),
//   else under the queue lock. A thread that finds the lock held spins a
//   few rounds for it before it queues (`spin_acquire`), only while
//   nobody is queued. So under contention the lock word alone serves the running
//   units: only a release that must wake the front, and the front's retry,
//   take the queue lock.
// - `FAIR`: fixed at construction ([`Lock::new_fair`]): strict FIFO with
//   direct hand-off. A release with waiters leaves `LOCKED` set and, under
//   the queue lock, writes the front node's identity to `owner` and
//   notifies it: nobody can barge in. `WOKEN` and the debt stay 0.
// - Without `FAIR` ([`Lock::new`], [`Lock::new_bounded`]: bounded fairness), a release with waiters
//   clears `LOCKED` and wakes the front node without unlinking it
//   (`WOKEN`), and the woken front competes: a unit that arrives meanwhile
//   may take the free lock (it barges). The front
//   keeps its place; when it has been treated unfairly enough (`debt` has
//   reached `DEBT_BOUND`), the next release hands it the lock directly, as
//   `FAIR` does, and nobody barges meanwhile.
// - `WOKEN`: the front node was woken to compete and has not retried yet
//   (it owes a retry). The invariant that rules out a lost wake-up:
//   **while `LOCKED` is clear and a node is queued, `WOKEN` is set**. A
//   release sets it when it clears `LOCKED` (waking the front only if it
//   was clear: a woken front is already on its way); the front clears it
//   when it retries (it takes a free lock, or stays queued, awake again at
//   the next release); a front that leaves (cancelled, timed out, dropped)
//   while `WOKEN` is set passes the wake on to the new front if the lock is
//   free.
// - `debt`: what the current front has suffered: one `DEBT_UNIT` per barge
//   that overtook it, `LOST_RETRY` per retry it lost. Reset when the front
//   changes (it takes the lock or leaves).
//
// | LOCKED | `owner` | the lock | a new acquisition | a release |
// |--------|---------|----------|-------------------|-----------|
// | 0      | 0       | free (a queued front, if any, is WOKEN) | sets LOCKED, then `owner` (with waiters: a barge, if the debt allows and the lock is not `FAIR`) | - |
// | 1      | 0       | held by a unit without identity (an async task without one, an owned guard), or changing hands | queues (its data: its identity, 0 if none) | see the next row |
// | 1      | `id`    | held by unit `id` | by `id` itself: panics (it would deadlock); else queues | clears `owner`; nobody queued: clears LOCKED; else wakes or hands over (above) |
// | 0      | `id`    | never: `owner` is written after LOCKED is set and cleared before LOCKED is | - | - |
//
// `owner` is only a hint for the re-entry check: a stale read can miss a
// holder, never invent one (see the field).
const LOCKED: u64 = 1;
/// The front node was woken to compete and has not retried yet.
const WOKEN: u64 = 2;
/// Strict FIFO hand-off (fixed at construction).
const FAIR: u64 = 4;
/// One barge past the front.
const DEBT_UNIT: u64 = 8;
/// How many times the oldest waiter of a [`Lock`] (or [`Mutex`](crate::Mutex))
/// with bounded fairness can be overtaken by units that take the free lock
/// before it retries: once it has been overtaken this often (or has lost
/// [`LOST_RETRIES`] retries), the next release hands it the lock directly.
/// A waiter with `k` waiters ahead of it is therefore let in after at most
/// about `(k + 1) * (OVERTAKE_BOUND + 1)` acquisitions by others.
///
/// (Under loom, `--cfg polysync_loom`, the bound is 1, and
/// [`LOST_RETRIES`] too, so that the models reach the direct hand-off.)
///
/// ```
/// assert_eq!(polysync::lock::OVERTAKE_BOUND, 1 << 16);
/// ```
pub const OVERTAKE_BOUND: u64 = if cfg!(polysync_loom) { 1 } else { 1 << 16 };
const DEBT_BOUND: u64 = OVERTAKE_BOUND * DEBT_UNIT;
/// How many retries the oldest waiter of a [`Lock`] with bounded fairness
/// may lose (woken to compete, it found the lock taken again) before the
/// next release hands it the lock directly. Each lost retry costs the
/// waiter a wake-up, so this bounds its wait in wake-ups, whatever the
/// speed of the units that overtake it (see [`OVERTAKE_BOUND`] for the
/// count bound).
///
/// ```
/// assert_eq!(polysync::lock::LOST_RETRIES, 8);
/// ```
pub const LOST_RETRIES: u64 = if cfg!(polysync_loom) { 1 } else { 8 };
const LOST_RETRY: u64 = DEBT_BOUND / LOST_RETRIES;
/// The bits below the debt.
const FLAGS: u64 = DEBT_UNIT - 1;
/// The lock's mode again, in the top bit of `owner` (identities leave it
/// free: `UnitId::MAX` is `2^63 - 1`): [`FAIR`] shifted there. Every write of
/// `owner` keeps it, so the fast paths can guess the idle queue word from
/// it without loading the word first (see `Lock::mode_hint`).
const OWNER_FAIR: u64 = FAIR << 61;
const _: () = assert!(OWNER_FAIR == 1 << 63 && crate::lowlevel::UnitId::MAX < OWNER_FAIR);

/// A mutual-exclusion lock without data (see [`Mutex`](crate::Mutex)
/// for the data-carrying form), usable at the same time from OS threads, async
/// tasks of any executor, and green threads.
///
/// - Every way to wait: [`acquire`](Lock::acquire) (async),
///   [`acquire_blocking`](Lock::acquire_blocking), [`try_acquire`](Lock::try_acquire),
///   [`try_acquire_for`](Lock::try_acquire_for), [`try_acquire_until`](Lock::try_acquire_until).
/// - **Bounded fairness** ([`Lock::new`], the default, and
///   [`Lock::new_bounded`]): a release with
///   waiters frees the lock and wakes the oldest waiter, whatever its world,
///   which then takes it; a unit that is running meanwhile may take the
///   free lock first (it *barges*), so the lock never sits idle while a
///   waiter is being scheduled (a lock convoy). Waiters stay in FIFO order
///   among themselves: the woken waiter keeps its place at the front, and
///   only units that were not queued barge. Nothing starves: once the
///   oldest waiter has been overtaken [`OVERTAKE_BOUND`] times, or has
///   woken and found the lock taken again [`LOST_RETRIES`] times, the next
///   release hands the lock to it directly.
/// - **Strict FIFO with direct hand-off** ([`Lock::new_fair`], aiologic's
///   semantics, opt-in): a release gives the lock straight to the oldest
///   waiter; [`is_locked`](Lock::is_locked) stays `true` across the
///   hand-off and nobody can barge in. Choose it where the order of
///   acquisitions itself matters.
/// - **Why bounded is the default:** a hand-off puts a whole wake-up on
///   the critical path of every contended acquisition. Measured side by
///   side on this project's 2-core VM (BENCHMARKS.md, "Issue 18" and its
///   slices), bounded fairness beats the hand-off or ties it on every
///   contended row, whatever a wake-up costs. While a park/unpark round
///   trip cost 26-30 µs: 4 threads on one `Mutex` 10.6-12.6 ns per
///   lock/unlock bounded, 36.5-43.6 ns strict (parking_lot 7.1 ns); 64
///   tokio tasks 14.8-15.7 ns and 91-107 ns (async-lock 27-39 ns); 2
///   threads beside 2 tokio tasks 11-12 ns and 1.4-1.8 µs. While it cost
///   4-8 µs: 4 threads 11.4-14.1 ns bounded, 13.7-15.1 ns strict
///   (parking_lot 10.5-11.0 ns); 2 threads 9.8-11.4 and 9.8-12.4 ns.
/// - **Spinning** (both modes): an OS thread (a [`Waiter`] that
///   [spins](Waiter::spins)) whose blocking acquire finds the lock held
///   spins a few rounds (growing pauses, then rounds that yield its core,
///   to the holder if it was preempted) and takes the lock if it is freed
///   meanwhile, before it queues; only while nobody is
///   queued (a strict lock then hands over to the queued waiter, and a
///   bounded one would only add to the oldest waiter's debt), and not once
///   the deadline of a timed form has passed. Green threads and tasks never
///   spin (they would hold their carrier thread).
/// - Cancellation is safe in both modes: dropping an `acquire()` future, or
///   a timed-out blocking acquire, never loses a hand-off (it is passed
///   on), and a waiter that was woken to compete and gives up passes the
///   wake-up on to the next waiter.
/// - Not reentrant: a blocking call (`acquire_blocking`, the timed and
///   `_with` forms) by the execution unit that holds the lock panics instead
///   of deadlocking; that includes a task with an identity
///   ([`identified`](crate::lowlevel::identified), or a registered
///   [`TaskIdentity`](crate::lowlevel::TaskIdentity) such as polysync-tokio's)
///   that took the lock in any form. `acquire().await` never panics: two
///   branches of one task (`join!`, `select!`, `FuturesUnordered`) may
///   contend for the lock, and the branch that waits is let in when the
///   other releases, so misuse detection, which must have no false
///   positives, cannot tell that from a real self-deadlock; an async
///   acquire by the holder's own chain of futures waits forever, as with
///   tokio's locks. The check follows the acquiring unit; if you move a
///   guard to another unit, the original one still counts as the owner
///   until the guard is dropped.
/// - No poisoning. 24 bytes in both modes (the mode is a bit of the
///   queue word).
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
/// assert!(!lock.is_locked());
/// ```
///
/// With the feature `lock_api`, `Lock` implements `lock_api::RawMutex`,
/// `RawMutexFair` and `RawMutexTimed`, so `lock_api::Mutex<polysync::Lock, T>`
/// and code generic over those traits work with it (in every world: in a
/// green thread its `lock()` switches, not blocks, the carrier thread).
#[cfg_attr(
    feature = "lock_api",
    doc = r#"
```
let m: lock_api::Mutex<polysync::Lock, Vec<u32>> = lock_api::Mutex::new(Vec::new());
std::thread::scope(|s| {
    for i in 0..4 {
        let m = &m;
        s.spawn(move || m.lock().push(i));
    }
});
assert_eq!(m.lock().len(), 4);
```
"#
)]
pub struct Lock {
    /// User bits: `LOCKED` (see the table above).
    queue: WaitQueue,
    /// The raw [`UnitId`](crate::lowlevel::UnitId) the lock was given to,
    /// when known (blocking and `try_*` calls: the current unit; async: the
    /// task, if it has an identity), else 0. Used only to refuse a
    /// re-acquisition by the holder. Written by whoever gives the lock (the
    /// acquirer after winning the queue word, or a releaser under the queue
    /// lock at a hand-off) and cleared by the releaser before the lock is
    /// released, so a unit that sees the lock held and `owner` equal to its
    /// own identity (identities are never reused) holds the lock itself.
    /// Its top bit is the lock's mode (`OWNER_FAIR`, fixed at
    /// construction, kept by every write), from which the fast paths guess
    /// the queue word (`Lock::mode_hint`); readers of the identity mask it
    /// off (`Lock::holder_id`).
    owner: AtomicU64,
}

impl Lock {
    const_fn! {
        /// An unlocked lock with bounded fairness (the default; the same as
        /// [`new_bounded`](Lock::new_bounded); see [`Lock`] for why).
        /// `const`, so it can be a `static`.
        ///
        /// ```
        /// static LOCK: polysync::Lock = polysync::Lock::new();
        /// drop(LOCK.acquire_blocking());
        /// assert!(!LOCK.is_fair());
        /// ```
        pub fn new() -> Lock {
            Lock::new_bounded()
        }
    }

    const_fn! {
        /// An unlocked lock with bounded fairness: a release wakes the
        /// oldest waiter to compete, a running unit may take the free lock
        /// first, and the oldest waiter is handed the lock once overtaken
        /// too often (see [`Lock`] for the bounds and the numbers). The
        /// default today ([`new`](Lock::new)); name it where the mode
        /// matters, whatever the default becomes. `const`, so it can be a
        /// `static`.
        ///
        /// ```
        /// let lock = polysync::Lock::new_bounded();
        /// assert!(!lock.is_fair());
        /// drop(lock.acquire_blocking());
        /// ```
        pub fn new_bounded() -> Lock {
            Lock { queue: WaitQueue::new(0), owner: AtomicU64::new(0) }
        }
    }

    const_fn! {
        /// An unlocked lock with strict FIFO hand-off: every release with
        /// waiters hands the lock straight to the oldest one, whatever its
        /// world, and nobody can take it meanwhile (see [`Lock`] for the
        /// price). `const`, so it can be a `static`.
        ///
        /// ```
        /// let lock = polysync::Lock::new_fair();
        /// assert!(lock.is_fair());
        /// drop(lock.acquire_blocking());
        /// ```
        pub fn new_fair() -> Lock {
            Lock { queue: WaitQueue::new(FAIR), owner: AtomicU64::new(OWNER_FAIR) }
        }
    }

    /// Acquires the lock asynchronously, in FIFO order with every other
    /// waiter (a unit that was not queued may still take a free lock first,
    /// unless the lock is [`new_fair`](Lock::new_fair): see [`Lock`]).
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let lock = polysync::Lock::new();
    /// let guard = lock.acquire().await;
    /// assert!(lock.is_locked());
    /// drop(guard);
    /// assert!(!lock.is_locked());
    /// # });
    /// ```
    ///
    /// # Cancel safety
    /// Dropping the future gives up its place in line and nothing else; the
    /// lock is never left held by a dropped future:
    /// - before its first poll: nothing happened (not even the re-entry
    ///   check);
    /// - while queued: it leaves the queue; the waiters behind it keep
    ///   their order;
    /// - after a release handed it the lock, before it was polled again:
    ///   it owns the lock already, so the drop releases it at once, to the
    ///   next waiter (or unlocks it);
    /// - after a release woke it to compete (bounded fairness), before it
    ///   retried: it leaves the queue and the wake-up goes to the next
    ///   waiter if the lock is still free (if a barger holds it, that
    ///   barger's release wakes the next waiter).
    ///
    /// So it can be raced in a `select!` or under a timeout: losing costs
    /// only the place in line.
    ///
    /// # Re-entry
    /// Never panics, also in a task that holds the lock: another branch of
    /// the same task (`join!`, `select!`) may hold it and release it, and
    /// then this wait is let in. So two branches simply take turns:
    ///
    /// ```
    /// # futures_lite::future::block_on(polysync::lowlevel::identified(async {
    /// let lock = polysync::Lock::new();
    /// let first = async {
    ///     let _held = lock.acquire().await;
    ///     futures_lite::future::yield_now().await; // the other branch queues
    /// };
    /// let second = async { drop(lock.acquire().await) };
    /// futures_lite::future::zip(first, second).await;
    /// assert!(!lock.is_locked());
    /// # }));
    /// ```
    #[inline]
    pub fn acquire(&self) -> Acquire<'_> {
        Acquire::new(self, Caller::LockAcquire)
    }

    /// Blocks the current execution unit until the lock is acquired.
    ///
    /// # Panics
    /// If the calling unit already holds this lock (it would deadlock).
    ///
    /// ```
    /// let lock = polysync::Lock::new();
    /// let guard = lock.acquire_blocking();
    /// assert!(lock.try_acquire().is_none());
    /// drop(guard);
    /// ```
    #[track_caller]
    pub fn acquire_blocking(&self) -> LockGuard<'_> {
        // A free lock needs no waiter: skip the registry lookup
        // (a green unit takes its checkpoint first, never while it holds
        // what the call took).
        crate::lowlevel::green_checkpoint();
        if let Some(guard) = self.try_acquire() {
            return guard;
        }
        self.refuse_current(Caller::LockAcquireBlocking);
        blocking(|w| self.acquire_with_as(w, None, Caller::LockAcquireBlocking))
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
        // `then`, not `then_some`: a guard built eagerly would release the
        // lock when dropped.
        self.try_take(Owner::of(current_unit()))
            .then(|| LockGuard { lock: self })
    }

    /// Takes the lock for `owner` if it is free, without waiting: the
    /// lock-free attempt, then, if the lock looked free but the word was
    /// busy (waiters queued, or the queue lock held), the attempt under the
    /// queue lock (a barge past a woken front, when allowed).
    #[inline]
    pub(crate) fn try_take(&self, owner: Owner) -> bool {
        self.try_fast(owner, &()).is_some() || self.try_take_slow(owner)
    }

    #[cold]
    fn try_take_slow(&self, owner: Owner) -> bool {
        if self.queue.user(Ordering::Relaxed) & LOCKED != 0 {
            return false;
        }
        let mut guard = self.queue.lock();
        self.arrive_locked(&mut guard, owner, &()).is_ok()
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
    #[track_caller]
    pub fn try_acquire_for(&self, timeout: Duration) -> Option<LockGuard<'_>> {
        self.refuse_current(Caller::LockTryFor);
        blocking(|w| self.acquire_with_as(w, deadline_after(timeout), Caller::LockTryFor))
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
    #[track_caller]
    pub fn try_acquire_until(&self, deadline: Instant) -> Option<LockGuard<'_>> {
        self.refuse_current(Caller::LockTryUntil);
        blocking(|w| self.acquire_with_as(w, Some(deadline), Caller::LockTryUntil))
    }

    /// Blocks on `waiter` until the lock is acquired, `deadline` passes or
    /// the waiter reports cancellation: the entry point that every blocking
    /// form runs with the current unit's waiter. The current execution unit
    /// becomes the owner (for the re-entry check), whichever waiter waits.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] or [`WaitError::Cancelled`]; the wait is
    /// withdrawn either way. If the lock was handed to it just as it gave
    /// up, the wait completes with it instead (`Ok`): nothing is lost, and
    /// the caller decides (a cancelled unit drops the guard as it unwinds,
    /// passing the lock on).
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
    /// assert!(lock.is_locked());
    /// # drop(guard);
    /// ```
    #[track_caller]
    pub fn acquire_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<LockGuard<'_>, WaitError> {
        self.acquire_with_as(waiter, deadline, Caller::LockAcquireWith)
    }

    /// [`acquire_with`](Lock::acquire_with), naming `caller` if it must
    /// refuse a re-acquisition by the holder.
    #[track_caller]
    pub(crate) fn acquire_with_as<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
        caller: Caller,
    ) -> Result<LockGuard<'_>, WaitError> {
        let me = Owner::of(current_unit());
        let holder = caller.holder(me);
        if self.try_fast(holder, &()).is_some() {
            return Ok(LockGuard { lock: self });
        }
        self.refuse_holder(me, caller);
        if MAY_SPIN && waiter.spins() && self.spin_acquire(holder, deadline) {
            return Ok(LockGuard { lock: self });
        }
        drive(waiter, pin!(Wait::new(self, holder)), deadline)
            .map(|()| LockGuard { lock: self })
            .map_err(|(error, ())| error)
    }

    /// [`acquire`](Lock::acquire) on a lock in an `Arc`: the future and its
    /// [`OwnedLockGuard`] are `'static` (they hold a clone of the `Arc`), so
    /// the guard can move into a spawned task or thread and be released
    /// there.
    ///
    /// An owned guard is made to move between execution units, so an owned
    /// acquisition does not record its unit as the holder: the re-entry
    /// check (see [`Lock`]) does not see it, and a unit that acquires again
    /// while it keeps an owned guard waits for itself. The acquisition still
    /// refuses a unit that holds the lock through a borrowed guard.
    ///
    /// ```
    /// use polysync::Lock;
    /// use std::sync::Arc;
    /// # futures_lite::future::block_on(async {
    /// let lock = Arc::new(Lock::new());
    /// let guard = lock.acquire_owned().await;
    /// std::thread::spawn(move || drop(guard)).join().unwrap();
    /// assert!(!lock.is_locked());
    /// # });
    /// ```
    ///
    /// # Cancel safety
    /// As for [`acquire`](Lock::acquire): dropping the future gives up its
    /// place in line and nothing else (a hand-off it did not consume goes
    /// to the next waiter); the `Arc` clone it holds is dropped with it.
    ///
    /// Like [`acquire`](Lock::acquire), it never panics: it waits.
    #[inline]
    pub fn acquire_owned(self: &Arc<Self>) -> OwnedAcquire {
        OwnedAcquire::new(self)
    }

    /// [`acquire_blocking`](Lock::acquire_blocking), returning an
    /// [`OwnedLockGuard`] (see [`acquire_owned`](Lock::acquire_owned)).
    ///
    /// # Panics
    /// If the calling unit holds the lock through a borrowed guard.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let lock = Arc::new(polysync::Lock::new());
    /// let guard = lock.acquire_owned_blocking();
    /// std::thread::spawn(move || drop(guard)).join().unwrap();
    /// assert!(!lock.is_locked());
    /// ```
    #[track_caller]
    pub fn acquire_owned_blocking(self: &Arc<Self>) -> OwnedLockGuard {
        crate::lowlevel::green_checkpoint();
        if let Some(guard) = self.try_acquire_owned() {
            return guard;
        }
        self.refuse_current(Caller::LockAcquireOwnedBlocking);
        blocking(|w| self.acquire_with_as(w, None, Caller::LockAcquireOwnedBlocking))
            .map(|g| OwnedLockGuard::adopt(g, self))
            .expect("a wait without a deadline does not time out")
    }

    /// [`try_acquire`](Lock::try_acquire), returning an [`OwnedLockGuard`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// let lock = Arc::new(polysync::Lock::new());
    /// let guard = lock.try_acquire_owned().unwrap();
    /// assert!(lock.try_acquire_owned().is_none());
    /// ```
    #[inline]
    pub fn try_acquire_owned(self: &Arc<Self>) -> Option<OwnedLockGuard> {
        self.try_fast_unrecorded().then(|| OwnedLockGuard {
            lock: Arc::clone(self),
        })
    }

    /// [`try_acquire_for`](Lock::try_acquire_for), returning an
    /// [`OwnedLockGuard`].
    ///
    /// # Panics
    /// Like [`acquire_owned_blocking`](Lock::acquire_owned_blocking).
    ///
    /// ```
    /// use std::sync::Arc;
    /// let lock = Arc::new(polysync::Lock::new());
    /// assert!(lock.try_acquire_owned_for(std::time::Duration::ZERO).is_some());
    /// ```
    #[track_caller]
    pub fn try_acquire_owned_for(self: &Arc<Self>, timeout: Duration) -> Option<OwnedLockGuard> {
        self.refuse_current(Caller::LockTryOwnedFor);
        blocking(|w| self.acquire_with_as(w, deadline_after(timeout), Caller::LockTryOwnedFor))
            .map(|g| OwnedLockGuard::adopt(g, self))
    }

    /// [`try_acquire_until`](Lock::try_acquire_until), returning an
    /// [`OwnedLockGuard`].
    ///
    /// # Panics
    /// Like [`acquire_owned_blocking`](Lock::acquire_owned_blocking).
    ///
    /// ```
    /// use std::sync::Arc;
    /// let lock = Arc::new(polysync::Lock::new());
    /// assert!(lock.try_acquire_owned_until(std::time::Instant::now()).is_some());
    /// ```
    #[track_caller]
    pub fn try_acquire_owned_until(self: &Arc<Self>, deadline: Instant) -> Option<OwnedLockGuard> {
        self.refuse_current(Caller::LockTryOwnedUntil);
        blocking(|w| self.acquire_with_as(w, Some(deadline), Caller::LockTryOwnedUntil))
            .map(|g| OwnedLockGuard::adopt(g, self))
    }

    /// [`acquire_with`](Lock::acquire_with), returning an
    /// [`OwnedLockGuard`].
    ///
    /// # Errors
    /// As for [`acquire_with`](Lock::acquire_with).
    ///
    /// # Panics
    /// Like [`acquire_owned_blocking`](Lock::acquire_owned_blocking).
    ///
    /// ```
    /// use polysync::lowlevel::ThreadWaiter;
    /// use std::sync::Arc;
    /// let lock = Arc::new(polysync::Lock::new());
    /// let guard = ThreadWaiter::with_current(|w| lock.acquire_owned_with(w, None)).unwrap();
    /// assert!(lock.is_locked());
    /// ```
    #[track_caller]
    pub fn acquire_owned_with<W: Waiter + ?Sized>(
        self: &Arc<Self>,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<OwnedLockGuard, WaitError> {
        self.acquire_with_as(waiter, deadline, Caller::LockAcquireOwnedWith)
            .map(|g| OwnedLockGuard::adopt(g, self))
    }

    /// The adaptive spin of a waiter that may spin (an OS thread, see
    /// [`Waiter::spins`]) before it queues: a few rounds of growing pauses,
    /// then rounds that yield the core (to the holder, if it was preempted),
    /// each followed by an attempt if the lock looks free; a few rounds at
    /// most (`lowlevel/spin.rs`, shared with RLock and RwLock). It gives up as soon as spinning is unlikely to pay:
    /// when a waiter sleeps in the queue (a strict lock then hands over to
    /// it, so an arrival cannot get in; a bounded one would only add to
    /// the front's debt), or when the deadline has passed. `true` if it took
    /// the lock. Never under loom ([`MAY_SPIN`] is `false` there, as for
    /// the thread waiter's spin: loom cannot bound a spin loop); the
    /// attempts it repeats are `try_fast`'s, which the models check.
    #[inline(never)]
    fn spin_acquire(&self, holder: Owner, deadline: Option<Instant>) -> bool {
        spin_before_queueing(&self.queue, deadline, |user| {
            user & LOCKED == 0 && self.try_fast(holder, &()).is_some()
        })
    }

    /// Takes a free lock for an owned guard (no holder recorded).
    #[inline]
    pub(crate) fn try_fast_unrecorded(&self) -> bool {
        self.try_take(Owner::UNKNOWN)
    }

    /// [`refuse_holder`](Lock::refuse_holder) for the current unit, called
    /// by the blocking forms before their wait closure, so that the panic
    /// names the caller's line (`#[track_caller]` does not pass through the
    /// closure). The unit is looked up only if the lock is held by a known
    /// unit: one load on a free lock.
    #[inline]
    #[track_caller]
    pub(crate) fn refuse_current(&self, caller: Caller) {
        if self.queue.user(Ordering::Relaxed) & LOCKED != 0 && self.holder_id() != 0 {
            self.refuse_holder(Owner::of(current_unit()), caller);
        }
    }

    /// Panics if the unit `me` (possibly [`Owner::UNKNOWN`]) holds the lock:
    /// its wait would never end. Reads `owner` only when the lock is held; a
    /// stale view can only miss a holder, never invent one (see the field).
    #[inline]
    #[track_caller]
    pub(crate) fn refuse_holder(&self, me: Owner, caller: Caller) {
        // Acquire: the release that cleared our own earlier identity (if we
        // held the lock before) happens before this read of `owner`.
        if me != Owner::UNKNOWN
            && self.queue.user(Ordering::Acquire) & LOCKED != 0
            && self.holder_id() == me.get()
        {
            panic!(
                "polysync: {}: the current {} already holds this lock; acquiring it again \
                 would deadlock (use an RLock/RMutex to re-enter)",
                caller.name(),
                caller.unit(),
            );
        }
    }

    /// Whether the lock is held (racy by nature: a snapshot).
    ///
    /// With bounded fairness ([`new`](Lock::new), [`new_bounded`](Lock::new_bounded)), a release that finds waiters
    /// frees the lock and wakes the oldest waiter, which then takes it: in
    /// that window `is_locked()` is `false` while
    /// [`waiting()`](Lock::waiting) still counts the woken waiter, and a
    /// unit that arrives then may take the lock first. A
    /// strict lock ([`new_fair`](Lock::new_fair)) hands
    /// over directly and stays locked across the hand-off.
    ///
    /// ```
    /// let lock = polysync::Lock::new();
    /// assert!(!lock.is_locked());
    /// ```
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.queue.user(Ordering::Relaxed) & LOCKED != 0
    }

    /// Whether this lock hands over in strict FIFO order (made by
    /// [`new_fair`](Lock::new_fair)) rather than with bounded fairness
    /// ([`new`](Lock::new), [`new_bounded`](Lock::new_bounded)).
    ///
    /// ```
    /// assert!(!polysync::Lock::new().is_fair());
    /// assert!(polysync::Lock::new_fair().is_fair());
    /// assert!(!polysync::Lock::new_bounded().is_fair());
    /// ```
    #[inline]
    pub fn is_fair(&self) -> bool {
        self.queue.user(Ordering::Relaxed) & FAIR != 0
    }

    /// How many execution units wait for the lock now (a snapshot). A
    /// waiter woken to compete (see [`is_locked`](Lock::is_locked)) counts
    /// until it has the lock.
    ///
    /// ```
    /// let lock = polysync::Lock::new();
    /// assert_eq!(lock.waiting(), 0);
    /// ```
    #[inline]
    pub fn waiting(&self) -> usize {
        self.queue.len()
    }

    /// Releases the lock: unlocks it, and with waiters wakes the oldest to
    /// take it (or, on a fair lock or once the oldest has waited past the
    /// bound, hands it over directly).
    #[inline]
    pub(crate) fn release(&self) {
        // Before the release publishes the free lock (see `Lock::owner`).
        let mode = self.clear_owner();
        if !self.release_unlocked(mode) {
            self.release_slow(false);
        }
    }

    /// Clears the holder's identity from `owner` (before a release
    /// publishes the free lock), keeping the mode bit; returns the mode
    /// ([`FAIR`] or 0).
    #[inline]
    fn clear_owner(&self) -> u64 {
        let mode = self.owner.load(Ordering::Relaxed) & OWNER_FAIR;
        self.owner.store(mode, Ordering::Relaxed);
        mode >> 61
    }

    /// Records `owner` as the holder of a lock whose user bits are (or
    /// were, when it was taken) `user`, keeping the mode bit.
    #[inline]
    fn set_owner(&self, owner: Owner, user: u64) {
        self.owner
            .store(owner.get() | ((user & FAIR) << 61), Ordering::Relaxed);
    }

    /// The identity of the holder (0 if unknown or free): `owner` without
    /// its mode bit.
    #[inline]
    fn holder_id(&self) -> u64 {
        self.owner.load(Ordering::Relaxed) & !OWNER_FAIR
    }

    /// The lock's mode ([`FAIR`] or 0) from `owner`'s mode bit, which every
    /// write keeps (any value read has it right), so the fast paths can
    /// guess the queue word from it instead of loading the word first (see
    /// [`WaitQueue::update_unlocked_guess`]; a wrong guess would only cost a
    /// failed compare-exchange: the mode is part of the word compared).
    #[inline]
    fn mode_hint(&self) -> u64 {
        (self.owner.load(Ordering::Relaxed) & OWNER_FAIR) >> 61
    }

    /// Releases the lock with a direct hand-off to the oldest waiter, if
    /// any, whatever the lock's mode: lock_api's `unlock_fair` and `bump`.
    #[cfg_attr(not(feature = "lock_api"), allow(dead_code))]
    pub(crate) fn release_fair(&self) {
        self.clear_owner();
        let user = self.queue.user(Ordering::Relaxed);
        if self.queue.cas_idle(user, user & FAIR, Ordering::Release) {
            return;
        }
        self.release_slow(true);
    }

    /// Takes the free lock without the queue lock, in either mode: the idle
    /// lock (nobody queued), or, with bounded fairness, the free lock past
    /// its woken front (a barge). The user bits alone decide (the front's
    /// debt is below the bound, so nobody is owed a hand-off), and the
    /// woken front stays `WOKEN` (it retries, finds the lock held, and
    /// waits for this holder's release). `LOCKED` and the debt change in
    /// one compare-exchange of the queue word that fails whenever the queue
    /// lock is held, so it never races an edit under that lock.
    #[inline]
    fn try_barge(&self, owner: Owner) -> Option<Owner> {
        // Guessed idle (nobody queued, no debt, not held): one
        // compare-exchange of the word when that holds, without loading
        // it first.
        self.queue
            .update_unlocked_guess(self.mode_hint(), Ordering::Acquire, |user, queued| {
                if user & LOCKED != 0 {
                    None
                } else if queued == 0 {
                    // Nobody to overtake, in either mode.
                    Some(user | LOCKED)
                } else if user & FAIR == 0 && user & !FLAGS < DEBT_BOUND {
                    Some((user + DEBT_UNIT) | LOCKED)
                } else {
                    // Strict with waiters (never free: releases hand
                    // over), or the front is owed a hand-off.
                    None
                }
            })
            .ok()
            .map(|user| {
                self.set_owner(owner, user);
                owner
            })
    }

    /// Frees the lock without the queue lock, in one compare-exchange of
    /// the queue word while its lock is free: when nobody is queued (either
    /// mode; the word goes back to idle: no debt, no wake), or, with
    /// bounded fairness, when the front was woken already and has not retried yet (`WOKEN`)
    /// and is not owed a hand-off (its debt is below the bound): there is
    /// nobody to wake, and the invariant (a free lock with a node queued
    /// has `WOKEN` set) holds as soon as `LOCKED` is clear. Under
    /// contention most releases are of these kinds: the holder that barged
    /// in releases while the front it overtook is still being scheduled.
    #[inline]
    fn release_unlocked(&self, mode: u64) -> bool {
        // Guessed held with nobody queued: one compare-exchange of the
        // word when that holds, without loading it first.
        self.queue
            .update_unlocked_guess(mode | LOCKED, Ordering::Release, |user, queued| {
                if queued == 0 {
                    Some(user & FAIR)
                } else if user & !FLAGS < DEBT_BOUND
                    && user & (LOCKED | WOKEN | FAIR) == LOCKED | WOKEN
                {
                    Some(user & !LOCKED)
                } else {
                    None
                }
            })
            .is_ok()
    }

    #[cold]
    fn release_slow(&self, hand_off: bool) {
        let mut guard = self.queue.lock();
        let user = guard.user();
        debug_assert!(user & LOCKED != 0, "released an unlocked Lock");
        let mut wakers = WakeList::new();
        match guard.front().map(|waiter| waiter.data::<Owner>()) {
            Some(owner) if hand_off || user & FAIR != 0 || user & !FLAGS >= DEBT_BOUND => {
                // Direct hand-off: the lock stays locked, the owner changes;
                // the next front starts with no debt and no wake.
                self.set_owner(owner, user);
                guard.set_user(LOCKED | (user & FAIR));
                wakers.push(guard.notify_front(owner).expect("front exists"));
            }
            Some(_) => {
                // Wake the front to compete, unless it is already awake
                // (it owes a retry). Either way the lock is free and WOKEN
                // set: the invariant (see the table).
                if user & WOKEN == 0 {
                    wakers.push(guard.take_front_waker());
                }
                guard.set_user((user & !LOCKED) | WOKEN);
            }
            None => guard.set_user(user & FAIR),
        }
        drop(guard);
        wakers.wake_all();
    }
}

impl Protocol for Lock {
    /// The unit that waits to own the lock.
    type Tag = Owner;
    /// The same unit, handed back with the lock (the waiter ignores it).
    type Outcome = Owner;
    type Slot = ();

    fn queue(&self) -> &WaitQueue {
        &self.queue
    }

    #[inline]
    fn try_fast(&self, owner: Owner, _: &()) -> Option<Owner> {
        // One compare-exchange of the word from the guessed idle word; if
        // the guess is wrong, the failed one returns the word and a second
        // one barges (no load first in either case).
        self.try_barge(owner)
    }

    fn arrive_locked(
        &self,
        guard: &mut QueueGuard<'_>,
        owner: Owner,
        _: &(),
    ) -> Result<Owner, Owner> {
        let user = guard.user();
        let admitted = if user & LOCKED != 0 {
            false
        } else if guard.is_empty() || user & FAIR != 0 {
            // Nobody to overtake. (A fair lock with waiters is never free:
            // its releases hand over.)
            guard.set_user(user | LOCKED);
            true
        } else if user & !FLAGS < DEBT_BOUND {
            // A barge past the woken front, which stays WOKEN (it retries,
            // finds the lock held, and waits for this release).
            guard.set_user((user + DEBT_UNIT) | LOCKED);
            true
        } else {
            // The front has waited long enough: it takes the free lock
            // when it retries, and every release hands it over until then.
            false
        };
        if admitted {
            self.set_owner(owner, user);
        }
        admit_if(owner, admitted)
    }

    /// A condition waiter moved here takes only a lock that nobody waits
    /// for: it does not barge past the queued waiters (FIFO among queued
    /// waiters holds in both modes).
    fn arrive_moved_locked(
        &self,
        guard: &mut QueueGuard<'_>,
        owner: Owner,
        _: &(),
    ) -> Result<Owner, Owner> {
        let user = guard.user();
        let admitted = user & LOCKED == 0 && (guard.is_empty() || user & FAIR != 0);
        if admitted {
            guard.set_user(user | LOCKED);
            self.set_owner(owner, user);
        }
        admit_if(owner, admitted)
    }

    #[inline]
    fn retries(&self) -> bool {
        self.queue.user(Ordering::Relaxed) & FAIR == 0
    }

    fn retry_front_locked(
        &self,
        guard: &mut QueueGuard<'_>,
        owner: Owner,
        _: &(),
    ) -> Option<Owner> {
        let user = guard.user();
        if user & FAIR != 0 {
            return None;
        }
        if user & LOCKED == 0 {
            // Ours: the next front starts with no debt and no wake.
            self.set_owner(owner, user);
            guard.set_user(LOCKED);
            return Some(owner);
        }
        // Lost to a barger: wait for its release (which wakes us, WOKEN
        // being clear), one step nearer to a direct hand-off.
        let debt = (user & !FLAGS).saturating_add(LOST_RETRY).min(DEBT_BOUND);
        guard.set_user(debt | (user & FLAGS & !WOKEN));
        None
    }

    fn cancelled_at(&self, guard: &mut QueueGuard<'_>, _: Owner, _: &(), was_front: bool) {
        let user = guard.user();
        if !was_front || user & FAIR != 0 {
            return;
        }
        // A new front (or none): no debt. A wake that the old front owed a
        // retry for goes to the new front if the lock is free (the
        // invariant); if it is held, its release wakes the new front.
        let mut next = user & LOCKED;
        if user & (WOKEN | LOCKED) == WOKEN && !guard.is_empty() {
            next |= WOKEN;
            let waker = guard.take_front_waker();
            guard.wake_after_unlock(waker);
        }
        guard.set_user(next);
    }

    fn pass_on(&self, _: Owner, _: &()) {
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
            .field("locked", &self.is_locked())
            .field("fair", &self.is_fair())
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

/// Which public call is acquiring, for the message of a refused re-acquisition.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Caller {
    LockAcquire,
    LockAcquireBlocking,
    LockTryFor,
    LockTryUntil,
    LockAcquireWith,
    LockAcquireOwned,
    LockAcquireOwnedBlocking,
    LockTryOwnedFor,
    LockTryOwnedUntil,
    LockAcquireOwnedWith,
    MutexLock,
    MutexLockWith,
    MutexLockBlocking,
    MutexTryFor,
    MutexTryUntil,
    MutexLockOwned,
    MutexLockOwnedWith,
    MutexLockOwnedBlocking,
    MutexTryOwnedFor,
    MutexTryOwnedUntil,
    /// `lock_api::RawMutex::lock` (feature `lock_api`).
    #[cfg_attr(not(feature = "lock_api"), allow(dead_code))]
    LockApiLock,
}

impl Caller {
    fn name(self) -> &'static str {
        match self {
            Caller::LockAcquire => "Lock::acquire().await",
            Caller::LockAcquireBlocking => "Lock::acquire_blocking()",
            Caller::LockTryFor => "Lock::try_acquire_for()",
            Caller::LockTryUntil => "Lock::try_acquire_until()",
            Caller::LockAcquireWith => "Lock::acquire_with()",
            Caller::MutexLockWith => "Mutex::lock_with()",
            Caller::MutexLock => "Mutex::lock().await",
            Caller::MutexLockBlocking => "Mutex::lock_blocking()",
            Caller::MutexTryFor => "Mutex::try_lock_for()",
            Caller::MutexTryUntil => "Mutex::try_lock_until()",
            Caller::LockAcquireOwned => "Lock::acquire_owned().await",
            Caller::LockAcquireOwnedBlocking => "Lock::acquire_owned_blocking()",
            Caller::LockTryOwnedFor => "Lock::try_acquire_owned_for()",
            Caller::LockTryOwnedUntil => "Lock::try_acquire_owned_until()",
            Caller::LockAcquireOwnedWith => "Lock::acquire_owned_with()",
            Caller::MutexLockOwned => "Mutex::lock_owned().await",
            Caller::MutexLockOwnedWith => "Mutex::lock_owned_with()",
            Caller::MutexLockOwnedBlocking => "Mutex::lock_owned_blocking()",
            Caller::MutexTryOwnedFor => "Mutex::try_lock_owned_for()",
            Caller::MutexTryOwnedUntil => "Mutex::try_lock_owned_until()",
            Caller::LockApiLock => "lock_api::RawMutex::lock()",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Caller::LockAcquire
            | Caller::MutexLock
            | Caller::LockAcquireOwned
            | Caller::MutexLockOwned => "task",
            _ => "execution unit",
        }
    }

    /// Whether the call hands out an owned guard, made to move between
    /// units: it records no holder for the re-entry check.
    fn owned(self) -> bool {
        matches!(
            self,
            Caller::LockAcquireOwned
                | Caller::LockAcquireOwnedBlocking
                | Caller::LockTryOwnedFor
                | Caller::LockTryOwnedUntil
                | Caller::LockAcquireOwnedWith
                | Caller::MutexLockOwned
                | Caller::MutexLockOwnedWith
                | Caller::MutexLockOwnedBlocking
                | Caller::MutexTryOwnedFor
                | Caller::MutexTryOwnedUntil
        )
    }

    /// The holder this call records when it gets the lock: the acquiring
    /// unit `me`, or nobody for an owned guard (see [`Lock::acquire_owned`]).
    #[inline]
    pub(crate) fn holder(self, me: Owner) -> Owner {
        if self.owned() { Owner::UNKNOWN } else { me }
    }
}

/// The future of [`Lock::acquire`]; resolves to a [`LockGuard`].
#[must_use = "futures do nothing unless polled"]
pub struct Acquire<'a> {
    state: State<'a>,
}

/// Before the first poll the task's identity is not known yet (the blocking
/// forms, which know their unit and checked it, start in `Wait`). One enum
/// rather than an `Option<Wait>` beside the lock: the future stays as small
/// as before (the `Start` data fits beside the `Wait`'s niche).
enum State<'a> {
    Start(&'a Lock, Caller),
    Wait(Wait<'a, Lock>),
}

impl<'a> Acquire<'a> {
    #[inline]
    pub(crate) fn new(lock: &'a Lock, caller: Caller) -> Self {
        Acquire {
            state: State::Start(lock, caller),
        }
    }

    fn lock(&self) -> &'a Lock {
        match &self.state {
            State::Start(lock, _) => lock,
            State::Wait(wait) => wait.protocol(),
        }
    }
}

impl<'a> Future for Acquire<'a> {
    type Output = LockGuard<'a>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<LockGuard<'a>> {
        // SAFETY: the `Wait` is structurally pinned: it is created in place
        // (replacing `Start`, which holds nothing pinned) before its first
        // poll and never moved out of `self` afterwards.
        let this = unsafe { self.get_unchecked_mut() };
        if let State::Start(lock, caller) = this.state {
            // The owner of an async hold is the task, when it has an
            // identity; the thread that polls it is not (0: unknown). It is
            // recorded for the blocking forms' re-entry check only: an
            // async acquisition never refuses, because another branch of
            // the same task (`join!`, `select!`) may hold the lock and
            // release it while this one waits (no false positives).
            let me = current_task().map_or(Owner::UNKNOWN, Owner::of);
            this.state = State::Wait(Wait::new(lock, caller.holder(me)));
        }
        let State::Wait(wait) = &mut this.state else {
            unreachable!("set above")
        };
        let lock = wait.protocol();
        // SAFETY: see above; `wait` stays in place until `self` is dropped.
        let wait = unsafe { Pin::new_unchecked(wait) };
        wait.poll(cx).map(|()| LockGuard { lock })
    }
}

impl std::fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let queued = matches!(&self.state, State::Wait(wait) if wait.is_queued());
        f.debug_struct("Acquire")
            .field("lock", self.lock())
            .field("queued", &queued)
            .finish()
    }
}

/// Holds a [`Lock`] through an `Arc`: `'static` and `Send`, so it can move
/// into a spawned task or thread; releases the lock (to the next waiter, if
/// any) when dropped, also when that task panics (the drop runs as it
/// unwinds). Returned by the `acquire_owned*` forms.
///
/// ```
/// use polysync::Lock;
/// use std::sync::Arc;
///
/// let lock = Arc::new(Lock::new());
/// let guard = lock.acquire_owned_blocking();
/// let worker = std::thread::spawn(move || {
///     assert!(guard.lock().is_locked());
/// }); // the guard is dropped, and the lock released, in the worker
/// worker.join().unwrap();
/// assert!(!lock.is_locked());
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct OwnedLockGuard {
    lock: Arc<Lock>,
}

impl OwnedLockGuard {
    /// The owned form of `guard`, whose lock `lock` is.
    #[inline]
    fn adopt(guard: LockGuard<'_>, lock: &Arc<Lock>) -> Self {
        debug_assert!(std::ptr::eq(guard.lock, &**lock));
        // The owned guard releases the lock itself.
        std::mem::forget(guard);
        OwnedLockGuard {
            lock: Arc::clone(lock),
        }
    }

    /// The lock this guard holds.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let lock = Arc::new(polysync::Lock::new());
    /// let guard = lock.acquire_owned_blocking();
    /// assert!(Arc::ptr_eq(guard.lock(), &lock));
    /// ```
    pub fn lock(&self) -> &Arc<Lock> {
        &self.lock
    }
}

impl Drop for OwnedLockGuard {
    #[inline]
    fn drop(&mut self) {
        self.lock.release();
    }
}

impl std::fmt::Debug for OwnedLockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedLockGuard")
            .field("lock", &*self.lock)
            .finish()
    }
}

/// The future of [`Lock::acquire_owned`]: [`Acquire`] run against a lock in
/// an `Arc`; `'static`, resolves to an [`OwnedLockGuard`].
#[must_use = "futures do nothing unless polled"]
pub struct OwnedAcquire {
    inner: ArcWait<Lock, Acquire<'static>>,
}

impl OwnedAcquire {
    fn new(lock: &Arc<Lock>) -> Self {
        let lock = Arc::clone(lock);
        // SAFETY: the reference points into `lock`'s allocation; the future
        // that holds it is stored with `lock` in an `ArcWait`, whose output
        // goes only to the closure in `poll`, which forgets the borrowed
        // guard: the rules of `ArcWait::new`.
        let target = unsafe { crate::owned::extend(&*lock) };
        let fut = Acquire::new(target, Caller::LockAcquireOwned);
        OwnedAcquire {
            // SAFETY: as above.
            inner: unsafe { ArcWait::new(lock, fut) },
        }
    }
}

impl Future for OwnedAcquire {
    type Output = OwnedLockGuard;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<OwnedLockGuard> {
        // SAFETY: `inner` is structurally pinned; nothing else is here.
        let inner = unsafe { self.map_unchecked_mut(|this| &mut this.inner) };
        inner.poll_with(cx, |guard, lock| {
            // The owned guard releases the lock itself.
            std::mem::forget(guard);
            OwnedLockGuard { lock }
        })
    }
}

impl std::fmt::Debug for OwnedAcquire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedAcquire")
            .field("lock", &self.inner.target())
            .field(
                "queued",
                &matches!(self.inner.future(), Some(Acquire { state: State::Wait(w) }) if w.is_queued()),
            )
            .finish()
    }
}
