//! [`RLock`]: a fair reentrant lock owned by an execution unit (an OS thread,
//! an async task, a green thread).

use crate::lock::{LOST_RETRIES, OVERTAKE_BOUND};
use crate::lowlevel::queue::{QueueGuard, WaitQueue, WakeList};
use crate::lowlevel::spin::spin_before_queueing;
use crate::lowlevel::sync::{AtomicU64, MAY_SPIN, Ordering, backoff, const_fn};
use crate::lowlevel::wait::{Protocol, Wait, admit_if, blocking, drive};
use crate::lowlevel::{
    NoTaskIdentity, Owner, UnitId, WaitError, Waiter, current_task, current_unit, deadline_after,
};
use crate::owned::ArcWait;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A fair reentrant lock: the execution unit that holds it may acquire it
/// again, any number of times, and must release it as many times.
///
/// The owner is an execution unit as [`current_unit`] sees it: an OS thread,
/// a green thread of a registered backend, or an async task. Async tasks
/// need an identity that works on every executor: wrap the task in
/// [`identified`](crate::lowlevel::identified) (or register a
/// [`TaskIdentity`](crate::lowlevel::TaskIdentity) provider). Without one,
/// [`acquire`](RLock::acquire) fails with [`NoTaskIdentity`] instead of
/// guessing: the polling thread is not a safe guess, since two tasks on one
/// thread would both count as the owner and break mutual exclusion.
///
/// - Five ways to wait: [`acquire`](RLock::acquire) (async),
///   [`acquire_blocking`](RLock::acquire_blocking),
///   [`try_acquire`](RLock::try_acquire),
///   [`try_acquire_for`](RLock::try_acquire_for),
///   [`try_acquire_until`](RLock::try_acquire_until). The owner's
///   re-acquisitions succeed at once in every form.
/// - Every acquisition returns an [`RLockGuard`] that releases one level
///   when dropped; [`RLockGuard::forget`] keeps the level, to be released
///   later with [`release`](RLock::release) (which checks the owner and
///   reports over-release as [`RLockReleaseError`]).
/// - Two modes, fixed per lock, as for [`Lock`](crate::Lock). **Strict FIFO
///   with direct hand-off** ([`RLock::new`], the default today, and
///   [`RLock::new_fair`]): releasing the last level gives the lock straight
///   to the oldest waiter, whatever its world, and nobody can take it
///   meanwhile. **Bounded fairness** ([`RLock::new_bounded`]): releasing the
///   last level with waiters frees the lock and wakes the oldest waiter to
///   compete; a unit that is running meanwhile may take the free lock first
///   (it *barges*), so the lock does not sit idle while the waiter is being
///   scheduled. Waiters keep their FIFO order; once the oldest has been
///   overtaken [`OVERTAKE_BOUND`] times, or has
///   woken and found the lock taken again
///   [`LOST_RETRIES`] times, the next release
///   hands the lock to it directly, so nothing starves. The numbers of both
///   modes are in BENCHMARKS.md ("Issue 18: RLock/RMutex").
/// - With bounded fairness, an OS thread whose blocking acquire finds the
///   lock held by another unit spins a few bounded rounds (as
///   [`Lock`](crate::Lock)'s) before it queues, only while nobody is
///   queued; tasks and green threads never spin. A strict lock does not
///   spin: it behaves exactly as before bounded fairness existed (with the
///   spin, two threads stopped forming the hand-off convoy that
///   tests/alloc_count_rlock.rs relies on to see contended waits).
/// - **Thread-bound levels**: the `acquire_local*` forms
///   ([`acquire_local_blocking`](RLock::acquire_local_blocking),
///   [`try_acquire_local`](RLock::try_acquire_local), ...) return a `!Send`
///   [`LocalRLockGuard`], whose re-entries and releases cost plain loads
///   and stores (parking_lot's contract and speed); they mix with ordinary
///   levels.
/// - Re-entry, the owner check of [`release`](RLock::release), cancel-safe
///   futures and no poisoning hold in both modes.
///
/// ```
/// use polysync::RLock;
///
/// let rlock = RLock::new();
/// let outer = rlock.acquire_blocking();
/// let inner = rlock.acquire_blocking(); // the owner re-enters
/// assert_eq!(rlock.count(), 2);
/// std::thread::scope(|s| {
///     s.spawn(|| assert!(rlock.try_acquire().is_none())); // others wait
/// });
/// drop(inner);
/// drop(outer);
/// assert!(!rlock.is_locked());
/// ```
pub struct RLock {
    /// User bits: [`HELD`] while the lock is held, [`WOKEN`] and the
    /// front's debt with bounded fairness (see the comments above `HELD`).
    /// Who holds it is in `owner` (a 64-bit identity does not fit the
    /// word).
    queue: WaitQueue,
    /// The owner's [`UnitId`] (raw), 0 while nobody owns it (free, or between
    /// a release and the hand-off or unlock that follows it); [`BUSY`] is
    /// set while a unit changes `count`. See "Levels" below.
    owner: AtomicU64,
    /// Levels held by the owner. Written only by the unit that set [`BUSY`]
    /// in `owner`, or by the unit that makes a new owner (the acquirer after
    /// its compare-exchange of the queue word, the releaser of a hand-off
    /// under the queue lock) before it publishes `owner`.
    count: AtomicU64,
    /// Thread-bound levels ([`LocalRLockGuard`]) of the owner, 0 when it
    /// holds none; together they hold one level of `count`. Written only
    /// by the owner, with plain loads and stores (see "Thread-bound levels"
    /// below).
    local: AtomicU64,
    /// Strict FIFO hand-off (`true`) or bounded fairness; fixed at
    /// construction (see "Bounded fairness" above).
    fair: bool,
}

// Levels. A guard is `Send`, so a level may be released by another unit
// (the guard was moved there) at the very moment the owner re-enters. A
// separate load and store of `count` then lose one of the two updates, and
// the owner is left with a guard of an unlocked lock (issue 8, defect 4).
// Forbidding the guard to leave its unit would need a run-time check in
// every drop (a `Send` guard is required: an identified task holds it across
// `.await` on a multi-thread runtime) and could only turn the misuse into a
// leak. Instead the owner word doubles as a tiny lock over `count`: a unit
// changes `count` only after a compare-exchange of `owner` from `id` to
// `id | BUSY`, which succeeds only if `id` owns the lock at that instant;
// it publishes the new count by storing `id` back, or 0 (then unlocks) when
// it released the last level. Identities are never reused, so the
// compare-exchange cannot succeed on a stale view of a past ownership (no
// ABA), and a re-entry and a release are ordered one after the other: the
// re-entry either adds to a live level or finds the owner gone and takes
// the slow path. When only the owner touches its lock (the normal case) the
// exchange never fails; a foreign release holds `BUSY` for a few
// instructions and a concurrent re-entry backs off meanwhile.

// Thread-bound levels. `LocalRLockGuard` is `!Send`, so it is dropped by
// the unit that acquired it, or by another unit on the same OS thread that
// it was handed to (never concurrently with that unit: one thread runs one
// of them at a time). So the owner's thread-bound levels can be counted in
// `local` with a plain load and store, no read-modify-write, as
// parking_lot's `ReentrantMutex` counts in a `Cell`:
// - all the thread-bound levels of the owner together hold ONE ordinary
//   level (in `count`, taken and released through the protocol above, with
//   its `BUSY` exchange). The first thread-bound acquisition takes that
//   level (re-entering, or acquiring as any acquisition, waiting if it must)
//   and then stores `local` = 1; the drop that brings `local` to 0 releases
//   it. While `local` > 0 the lock is owned by the unit that stored it, so
//   no other unit writes `local` then;
// - a re-entry by `me`: `local` > 0 (Acquire) and `owner` is `me` (BUSY
//   masked: a moved ordinary guard of `me`'s may be changing `count`, which
//   does not touch `local`); then `local` + 1. If `me` holds thread-bound
//   levels both hold (it wrote `local` itself; `owner` cannot change while
//   the level they hold lives). If not, it does not see both: a `local` > 0
//   stored by another owner was stored (Release) after that owner took the
//   lock, after `me`'s last level was released, so the Acquire load of
//   `local` makes the following load of `owner` see that ownership or a
//   later one, never `me` again (identities are never reused);
// - a new owner sees `local` = 0: the last drop stored 0 before releasing
//   the backing level, and the lock's release/acquire orders the two;
// - the last drop releases the backing level without the `BUSY` exchange
//   when it is the owner's only level (`release_backing_level`: nobody else
//   holds a level then, so nobody else writes `owner` or `count`), else
//   through `release_level`;
// - a moved ordinary (`Send`) guard of the owner never touches `local`: its
//   drop changes `count` under `BUSY` and cannot release the backing level
//   (loom_rlock's `rlock_local_levels_vs_foreign_drop`);
// - `release(levels)` never releases the backing level (it reports
//   `TooManyReleases`), and a `Condition` wait, which gives every level up,
//   saves `local` with `count` and restores both (`release_all_levels`).
// A green thread that moves between OS threads (may) carries its guards with
// it; the switch synchronizes, as for any of its data.

// The user bits of a reentrant lock's queue word, with the `owner` and
// `count` words beside it:
//
// | HELD | `owner`     | `count`   | the lock                                   | a re-entry by `id`     | an acquisition by another unit | releasing the last level |
// |------|-------------|-----------|--------------------------------------------|------------------------|--------------------------------|--------------------------|
// | 0    | 0           | (stale)   | free (nobody is queued)                    | -                      | sets HELD, `count` = 1, then `owner` | -                  |
// | 1    | 0           | (stale)   | changing hands: the last level was released and the unlock or hand-off is under way, or an acquirer set HELD and has not published `owner` yet | fails: takes the slow path (queues) | queues | - |
// | 1    | `id`        | levels, ≥ 1 | owned by `id`                            | sets BUSY, `count` + 1, clears BUSY | queues            | sets BUSY, `count` = 0, `owner` = 0, then unlocks or hands off |
// | 1    | `id \| BUSY` | changing | a unit holding a level of `id`'s (the owner, or a moved guard) changes `count` | backs off until BUSY clears | queues | (that unit is the releaser) |
// | 0    | non-zero    | -         | never: `owner` is published after HELD is set and cleared before HELD is | - | - | - |
//
// HELD is set by the winner of the idle word's compare-exchange
// (`try_fast`) or under the queue lock (`arrive_locked`) and cleared by
// `unlock`: by a compare-exchange while nobody is queued, else under the
// queue lock. A hand-off keeps HELD set and, under the queue lock, stores
// `count` = 1 and then the front node's identity to `owner` (`Release`), so
// the new owner (or a re-entry of the same unit that races its queued wait)
// sees its one level. Only the unit that set BUSY, or the one making a new
// owner before it publishes `owner`, writes `count` (see "Levels" below).
//
// Bounded fairness. The queue word's user bits are those of `Lock` (see
// the header of lock.rs), with HELD for its LOCKED, but the mode is not a
// bit of the word: it is the plain field `fair`, fixed at construction, so
// that a strict lock runs the atomic operations it ran before bounded
// fairness existed, one for one (no load of the word to learn the mode;
// its loom models explore what they explored before), at the price of 8
// bytes:
//
//  31                                  2       1       0
// +-------------------------------------+-------+------+
// |  debt (the front's unfairness)      | WOKEN | HELD |
// +-------------------------------------+-------+------+
//
// - `fair` (`RLock::new`, `RLock::new_fair`): the strict hand-off above.
//   WOKEN and the debt stay 0.
// - Without `fair` (`RLock::new_bounded`), releasing the last level with
//   waiters clears HELD and wakes the front without unlinking it (WOKEN);
//   a unit that arrives meanwhile may take the free lock (a barge: one
//   compare-exchange of the queue word while its lock is free, `try_barge`,
//   or `arrive_locked` under it), adding DEBT_UNIT to the front's debt. The
//   woken front retries under the queue lock (`retry_front_locked`): it
//   takes a free lock (HELD, `count` = 1, then `owner`, as every new owner),
//   or adds LOST_RETRY to its debt and sleeps until the next release wakes
//   it. Once the debt reaches DEBT_BOUND nobody barges and the next release
//   hands the lock over as the strict mode does.
// - The invariant that rules out a lost wake-up is Lock's: while HELD is
//   clear and a node is queued, WOKEN is set. A release that clears HELD
//   sets it (waking the front only if it was clear); the front clears it
//   when it retries; a front that leaves while it is set passes the wake on
//   to the new front if the lock is free (`cancelled_at`).
// - Levels, re-entry and the owner check do not change: they work on
//   `owner` and `count`, which a barge or a won retry writes exactly as an
//   idle acquisition does, after HELD is set; a re-entry never touches the
//   queue word, so it neither barges nor adds to a debt.

/// The queue word's user bits while the lock is held.
const HELD: u64 = 1;
/// The front node was woken to compete and has not retried yet (bounded
/// fairness; see "Bounded fairness" above).
const WOKEN: u64 = 2;
/// One barge past the front.
const DEBT_UNIT: u64 = 4;
/// The front's debt at which releases hand it the lock ([`OVERTAKE_BOUND`]
/// barges, as for [`Lock`](crate::Lock)).
const DEBT_BOUND: u64 = OVERTAKE_BOUND * DEBT_UNIT;
/// One retry lost by the front ([`LOST_RETRIES`] of them reach the bound).
const LOST_RETRY: u64 = DEBT_BOUND / LOST_RETRIES;
/// The bits below the debt.
const FLAGS: u64 = DEBT_UNIT - 1;

/// Set in `RLock::owner` while a unit changes `RLock::count`. Identities
/// are at most `UnitId::MAX < 2^63`, so bit 63 is free.
const BUSY: u64 = 1 << 63;

/// [`RLock::release`] was misused: the caller does not own the lock, or
/// holds fewer levels than it tried to release. Nothing was released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RLockReleaseError {
    /// The current execution unit does not hold the lock.
    NotOwner,
    /// The owner tried to release more levels than it holds.
    TooManyReleases {
        /// The levels the owner holds (and still holds).
        held: usize,
    },
}

impl std::fmt::Display for RLockReleaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotOwner => {
                f.write_str("polysync: RLock released by a unit that does not hold it")
            }
            Self::TooManyReleases { held } => write!(
                f,
                "polysync: RLock released too many times (the owner holds {held} level(s))"
            ),
        }
    }
}

impl std::error::Error for RLockReleaseError {}

impl RLock {
    const_fn! {
        /// An unlocked reentrant lock in the default mode: today strict
        /// FIFO hand-off, the same as [`new_fair`](RLock::new_fair) (see
        /// [`RLock`] for both modes). `const`, so it can be a `static`.
        ///
        /// ```
        /// static LOCK: polysync::RLock = polysync::RLock::new();
        /// assert!(!LOCK.is_locked());
        /// assert!(LOCK.is_fair());
        /// ```
        pub fn new() -> RLock {
            // The default mode: this one line decides it.
            RLock::new_fair()
        }
    }

    const_fn! {
        /// An unlocked reentrant lock with strict FIFO hand-off: releasing
        /// the last level with waiters hands the lock straight to the
        /// oldest one, and nobody can take it meanwhile (see [`RLock`]).
        /// Name it where the hand-off itself matters, whatever the default
        /// is. `const`, so it can be a `static`.
        ///
        /// ```
        /// let rlock = polysync::RLock::new_fair();
        /// assert!(rlock.is_fair());
        /// drop(rlock.acquire_blocking());
        /// ```
        pub fn new_fair() -> RLock {
            RLock {
                queue: WaitQueue::new(0),
                owner: AtomicU64::new(0),
                count: AtomicU64::new(0),
                local: AtomicU64::new(0),
                fair: true,
            }
        }
    }

    const_fn! {
        /// An unlocked reentrant lock with bounded fairness: releasing the
        /// last level wakes the oldest waiter to compete, a running unit
        /// may take the free lock first, and the oldest waiter is handed
        /// the lock once overtaken too often (see [`RLock`] for the bounds).
        /// `const`, so it can be a `static`.
        ///
        /// ```
        /// let rlock = polysync::RLock::new_bounded();
        /// assert!(!rlock.is_fair());
        /// let a = rlock.acquire_blocking();
        /// let b = rlock.acquire_blocking(); // re-entry, as in every mode
        /// assert_eq!(rlock.count(), 2);
        /// ```
        pub fn new_bounded() -> RLock {
            RLock {
                queue: WaitQueue::new(0),
                owner: AtomicU64::new(0),
                count: AtomicU64::new(0),
                local: AtomicU64::new(0),
                fair: false,
            }
        }
    }

    /// Whether this lock hands over in strict FIFO order (made by
    /// [`new`](RLock::new) today, or [`new_fair`](RLock::new_fair)) rather
    /// than with bounded fairness ([`new_bounded`](RLock::new_bounded)).
    ///
    /// ```
    /// assert!(polysync::RLock::new_fair().is_fair());
    /// assert!(!polysync::RLock::new_bounded().is_fair());
    /// ```
    #[inline]
    pub fn is_fair(&self) -> bool {
        self.fair
    }

    /// Acquires one level asynchronously, as the current task (see
    /// [`current_task`]): at once if the task owns the lock already,
    /// otherwise in FIFO order (with bounded fairness a unit that was not
    /// queued may take the free lock first: see [`RLock`]). The identity is
    /// read at the first poll.
    ///
    /// # Cancel safety
    /// Dropping the future gives up its place in line and nothing else; no
    /// level is left held by a dropped future:
    /// - before its first poll: nothing happened (the identity was not even
    ///   read);
    /// - while queued: it leaves the queue; the waiters behind it keep
    ///   their order;
    /// - after a release handed it the lock (with one level), before it was
    ///   polled again: that level is released at once, so the lock goes to
    ///   the next waiter (or is unlocked);
    /// - after a release woke it to compete (bounded fairness), before it
    ///   retried: it leaves the queue and the wake-up goes to the next
    ///   waiter if the lock is still free (if a barger holds it, that
    ///   barger's release wakes the next waiter).
    ///
    /// A re-entry, or the [`NoTaskIdentity`] error, completes at the first
    /// poll: there is nothing to cancel.
    ///
    /// # Errors
    /// [`NoTaskIdentity`] (at the first poll) if the future is not polled
    /// inside an [`Identified`](crate::lowlevel::Identified) future or a
    /// task of a registered [`TaskIdentity`](crate::lowlevel::TaskIdentity)
    /// provider.
    ///
    /// ```
    /// use polysync::{RLock, lowlevel::identified};
    /// # futures_lite::future::block_on(async {
    /// let rlock = RLock::new();
    /// identified(async {
    ///     let a = rlock.acquire().await.unwrap();
    ///     let b = rlock.acquire().await.unwrap();
    ///     assert_eq!(rlock.count(), 2);
    /// })
    /// .await;
    /// assert!(!rlock.is_locked());
    /// # });
    /// ```
    #[inline]
    pub fn acquire(&self) -> RLockAcquire<'_> {
        RLockAcquire {
            lock: self,
            wait: None,
            reentered: false,
        }
    }

    /// Acquires one level, blocking the current execution unit
    /// ([`current_unit`]) until it owns the lock; returns at once if it
    /// owns it already.
    ///
    /// ```
    /// let rlock = polysync::RLock::new();
    /// let a = rlock.acquire_blocking();
    /// let b = rlock.acquire_blocking();
    /// assert_eq!(rlock.count(), 2);
    /// ```
    pub fn acquire_blocking(&self) -> RLockGuard<'_> {
        // An owned or free lock needs no waiter: skip the registry lookup
        // (a green unit takes its checkpoint first, never while it holds
        // what the call took).
        crate::lowlevel::green_checkpoint();
        if let Some(guard) = self.try_acquire() {
            return guard;
        }
        blocking(|w| self.acquire_with(w, None))
            .expect("a wait without a deadline does not time out")
    }

    /// Acquires one level if the current unit owns the lock or it is free,
    /// without waiting. A strict lock with waiters is never free (its
    /// releases hand over); with bounded fairness this takes a lock freed
    /// for a woken waiter unless that waiter is owed it (see [`RLock`]).
    ///
    /// ```
    /// let rlock = polysync::RLock::new();
    /// let a = rlock.try_acquire().unwrap();
    /// let b = rlock.try_acquire().unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(rlock.try_acquire().is_none()));
    /// });
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Option<RLockGuard<'_>> {
        let me = current_unit();
        (self.reenter(me.get()) || self.try_take(Owner::of(me))).then(|| RLockGuard { lock: self })
    }

    /// Takes a free lock for `me` without waiting: the lock-free attempt,
    /// then, if the lock looked free but the word was busy (its queue lock
    /// held), the attempt under the queue lock.
    #[inline]
    fn try_take(&self, me: Owner) -> bool {
        self.try_fast(me, &()).is_some() || self.try_take_slow(me)
    }

    #[cold]
    fn try_take_slow(&self, me: Owner) -> bool {
        if self.queue.user(Ordering::Relaxed) & HELD != 0 {
            return false;
        }
        let mut guard = self.queue.lock();
        self.arrive_locked(&mut guard, me, &()).is_ok()
    }

    /// The spin of a thread before it queues on a bounded lock, as `Lock`'s
    /// (a strict lock does not spin, see [`RLock`]): a few rounds of
    /// growing pauses, then rounds that yield the core (to the holder, if
    /// it was preempted), each followed by an attempt if the lock looks
    /// free; a few rounds at most (`lowlevel/spin.rs`). It gives up when a waiter is queued
    /// (a strict lock hands over to it; a bounded one would only add to its
    /// debt) or the deadline has passed. `true` if it took the lock. Never
    /// under loom ([`MAY_SPIN`] is `false` there).
    #[inline(never)]
    fn spin_acquire(&self, me: Owner, deadline: Option<Instant>) -> bool {
        spin_before_queueing(&self.queue, deadline, |user| {
            user & HELD == 0 && self.try_fast(me, &()).is_some()
        })
    }

    /// Like [`acquire_blocking`](RLock::acquire_blocking), giving up after
    /// `timeout`. A zero timeout still takes a free (or owned) lock.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rlock = polysync::RLock::new();
    /// let guard = rlock.try_acquire_for(Duration::ZERO).unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(rlock.try_acquire_for(Duration::from_millis(5)).is_none()));
    /// });
    /// ```
    pub fn try_acquire_for(&self, timeout: Duration) -> Option<RLockGuard<'_>> {
        blocking(|w| self.acquire_with(w, deadline_after(timeout)))
    }

    /// Like [`acquire_blocking`](RLock::acquire_blocking), giving up at `deadline`.
    ///
    /// ```
    /// let rlock = polysync::RLock::new();
    /// assert!(rlock.try_acquire_until(std::time::Instant::now()).is_some());
    /// ```
    pub fn try_acquire_until(&self, deadline: Instant) -> Option<RLockGuard<'_>> {
        blocking(|w| self.acquire_with(w, Some(deadline)))
    }

    /// Blocks on `waiter` until the current execution unit holds one more
    /// level, `deadline` passes or the waiter reports cancellation: the
    /// entry point that every blocking form runs with the current unit's
    /// waiter. The owner is the current unit ([`current_unit`]), whichever
    /// waiter waits.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] or [`WaitError::Cancelled`]; the wait is
    /// withdrawn either way. If the lock was handed to it just as it gave
    /// up, the wait completes with it instead (`Ok`): nothing is lost, and
    /// the caller decides (a cancelled unit drops the guard as it unwinds,
    /// passing the lock on).
    ///
    /// ```
    /// use polysync::lowlevel::ThreadWaiter;
    /// let rlock = polysync::RLock::new();
    /// ThreadWaiter::with_current(|w| {
    ///     let a = rlock.acquire_with(w, None).unwrap();
    ///     let b = rlock.acquire_with(w, None).unwrap(); // re-entered
    ///     assert_eq!(rlock.count(), 2);
    /// });
    /// ```
    pub fn acquire_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<RLockGuard<'_>, WaitError> {
        let me = Owner::of(current_unit());
        if self.reenter(me.get()) || self.try_fast(me, &()).is_some() {
            return Ok(RLockGuard { lock: self });
        }
        if MAY_SPIN && !self.fair && waiter.spins() && self.spin_acquire(me, deadline) {
            return Ok(RLockGuard { lock: self });
        }
        drive(waiter, pin!(Wait::new(self, me)), deadline)
            .map(|()| RLockGuard { lock: self })
            .map_err(|(error, ())| error)
    }

    /// [`acquire`](RLock::acquire) on a lock in an `Arc`: the future and
    /// its [`OwnedRLockGuard`] are `'static` (they hold a clone of the
    /// `Arc`), so the guard can move into a spawned task.
    ///
    /// Ownership stays with the execution unit that acquired (here: the
    /// current task, which needs an identity), as for every
    /// [`RLockGuard`]: the unit that receives a moved owned guard may drop
    /// it (releasing one of the owner's levels) but does not own the lock
    /// and cannot re-enter it.
    ///
    /// ```
    /// use polysync::{RLock, lowlevel::identified};
    /// use std::sync::Arc;
    /// # futures_lite::future::block_on(async {
    /// let rlock = Arc::new(RLock::new());
    /// let guard = identified(rlock.acquire_owned()).await.unwrap();
    /// std::thread::spawn(move || drop(guard)).join().unwrap();
    /// assert!(!rlock.is_locked());
    /// # });
    /// ```
    ///
    /// # Cancel safety
    /// As for [`acquire`](RLock::acquire); the `Arc` clone it holds is
    /// dropped with it.
    ///
    /// # Errors
    /// [`NoTaskIdentity`], as for [`acquire`](RLock::acquire).
    #[inline]
    pub fn acquire_owned(self: &Arc<Self>) -> OwnedRLockAcquire {
        OwnedRLockAcquire::new(self)
    }

    /// [`acquire_blocking`](RLock::acquire_blocking), returning an
    /// [`OwnedRLockGuard`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// let rlock = Arc::new(polysync::RLock::new());
    /// let a = rlock.acquire_owned_blocking();
    /// let b = rlock.acquire_owned_blocking(); // re-entered
    /// assert_eq!(rlock.count(), 2);
    /// ```
    pub fn acquire_owned_blocking(self: &Arc<Self>) -> OwnedRLockGuard {
        OwnedRLockGuard::adopt(self.acquire_blocking(), self)
    }

    /// [`try_acquire`](RLock::try_acquire), returning an
    /// [`OwnedRLockGuard`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// let rlock = Arc::new(polysync::RLock::new());
    /// let guard = rlock.try_acquire_owned().unwrap();
    /// assert_eq!(rlock.count(), 1);
    /// ```
    pub fn try_acquire_owned(self: &Arc<Self>) -> Option<OwnedRLockGuard> {
        self.try_acquire().map(|g| OwnedRLockGuard::adopt(g, self))
    }

    /// [`try_acquire_for`](RLock::try_acquire_for), returning an
    /// [`OwnedRLockGuard`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// let rlock = Arc::new(polysync::RLock::new());
    /// assert!(rlock.try_acquire_owned_for(std::time::Duration::ZERO).is_some());
    /// ```
    pub fn try_acquire_owned_for(self: &Arc<Self>, timeout: Duration) -> Option<OwnedRLockGuard> {
        self.try_acquire_for(timeout)
            .map(|g| OwnedRLockGuard::adopt(g, self))
    }

    /// [`try_acquire_until`](RLock::try_acquire_until), returning an
    /// [`OwnedRLockGuard`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// let rlock = Arc::new(polysync::RLock::new());
    /// assert!(rlock.try_acquire_owned_until(std::time::Instant::now()).is_some());
    /// ```
    pub fn try_acquire_owned_until(self: &Arc<Self>, deadline: Instant) -> Option<OwnedRLockGuard> {
        self.try_acquire_until(deadline)
            .map(|g| OwnedRLockGuard::adopt(g, self))
    }

    /// [`acquire_with`](RLock::acquire_with), returning an
    /// [`OwnedRLockGuard`].
    ///
    /// # Errors
    /// As for [`acquire_with`](RLock::acquire_with).
    ///
    /// ```
    /// use polysync::lowlevel::ThreadWaiter;
    /// use std::sync::Arc;
    /// let rlock = Arc::new(polysync::RLock::new());
    /// let g = ThreadWaiter::with_current(|w| rlock.acquire_owned_with(w, None)).unwrap();
    /// assert!(rlock.is_owned_by_current_unit());
    /// ```
    pub fn acquire_owned_with<W: Waiter + ?Sized>(
        self: &Arc<Self>,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<OwnedRLockGuard, WaitError> {
        self.acquire_with(waiter, deadline)
            .map(|g| OwnedRLockGuard::adopt(g, self))
    }

    /// Acquires one **thread-bound** level, blocking the current execution
    /// unit ([`current_unit`]) until it owns the lock, as
    /// [`acquire_blocking`](RLock::acquire_blocking) does; returns at once if
    /// it owns it already. The guard, a [`LocalRLockGuard`], is `!Send`
    /// (parking_lot's `ReentrantMutexGuard` contract), which makes the
    /// owner's re-entries and releases of thread-bound levels plain loads
    /// and stores instead of read-modify-writes: use it where guards stay
    /// in the unit that took them (the numbers are in BENCHMARKS.md, "Item
    /// 3, third pass").
    ///
    /// Thread-bound and ordinary ([`RLockGuard`]) levels mix freely, in any
    /// order: all the thread-bound levels of the owner together hold one
    /// ordinary level, taken by the first (through the ordinary protocol,
    /// waiting as [`acquire_blocking`](RLock::acquire_blocking) does, in any
    /// world: a green thread blocks as itself) and released by the drop of
    /// the last, so the lock stays owned while any of them lives.
    /// [`count`](RLock::count) counts them all, one per guard;
    /// [`release`](RLock::release) releases only ordinary levels.
    ///
    /// There is no async form: the guard would make the future `!Send`.
    /// The blocking forms work inside an identified task (the owner is the
    /// task), but an async task normally takes [`acquire`](RLock::acquire),
    /// whose guard may cross `.await` on any executor.
    ///
    /// ```
    /// use polysync::{RLock, RLockReleaseError};
    ///
    /// let rlock = RLock::new();
    /// let outer = rlock.acquire_local_blocking();
    /// let inner = rlock.acquire_local_blocking(); // re-entry: a plain store
    /// let ordinary = rlock.acquire_blocking(); // levels of both kinds mix
    /// assert_eq!(rlock.count(), 3);
    /// ordinary.forget();
    /// // `release` gives back the forgotten level, never a thread-bound one.
    /// assert_eq!(rlock.release(2), Err(RLockReleaseError::TooManyReleases { held: 1 }));
    /// rlock.release(1).unwrap();
    /// drop(inner);
    /// assert!(rlock.is_locked());
    /// drop(outer); // the last level
    /// assert!(!rlock.is_locked());
    /// ```
    ///
    /// The guard cannot leave its thread:
    ///
    /// ```compile_fail
    /// let rlock = polysync::RLock::new();
    /// let guard = rlock.acquire_local_blocking();
    /// std::thread::scope(|s| {
    ///     s.spawn(move || drop(guard));
    /// });
    /// ```
    #[inline]
    pub fn acquire_local_blocking(&self) -> LocalRLockGuard<'_> {
        // As `acquire_blocking`: a green unit takes its checkpoint first.
        crate::lowlevel::green_checkpoint();
        let me = current_unit();
        if self.reenter_local(me.get()) {
            return LocalRLockGuard::new(self);
        }
        self.acquire_first_local(me)
    }

    /// The first thread-bound level of `me` (the current unit): one
    /// ordinary level, at once if the lock is ours or free (one identity
    /// lookup for both attempts), else waiting. Out of line, so that the
    /// re-entry inlines.
    #[inline(never)]
    fn acquire_first_local(&self, me: UnitId) -> LocalRLockGuard<'_> {
        if self.reenter(me.get()) || self.try_take(Owner::of(me)) {
            return self.bind_local(RLockGuard { lock: self });
        }
        self.bind_local(self.acquire_local_blocking_slow())
    }

    #[cold]
    #[inline(never)]
    fn acquire_local_blocking_slow(&self) -> RLockGuard<'_> {
        blocking(|w| self.acquire_with(w, None))
            .expect("a wait without a deadline does not time out")
    }

    /// Acquires one thread-bound level (see
    /// [`acquire_local_blocking`](RLock::acquire_local_blocking)) if the
    /// current unit owns the lock or it is free, without waiting (as
    /// [`try_acquire`](RLock::try_acquire)).
    ///
    /// ```
    /// let rlock = polysync::RLock::new();
    /// let a = rlock.try_acquire_local().unwrap();
    /// let b = rlock.try_acquire_local().unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(rlock.try_acquire_local().is_none()));
    /// });
    /// assert_eq!(rlock.count(), 2);
    /// ```
    #[inline]
    pub fn try_acquire_local(&self) -> Option<LocalRLockGuard<'_>> {
        let me = current_unit();
        if self.reenter_local(me.get()) {
            return Some(LocalRLockGuard::new(self));
        }
        (self.reenter(me.get()) || self.try_take(Owner::of(me)))
            .then(|| self.bind_local(RLockGuard { lock: self }))
    }

    /// Like [`acquire_local_blocking`](RLock::acquire_local_blocking),
    /// giving up after `timeout`. A zero timeout still takes a free (or
    /// owned) lock.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rlock = polysync::RLock::new();
    /// let guard = rlock.try_acquire_local_for(Duration::ZERO).unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(rlock.try_acquire_local_for(Duration::from_millis(5)).is_none()));
    /// });
    /// ```
    pub fn try_acquire_local_for(&self, timeout: Duration) -> Option<LocalRLockGuard<'_>> {
        if self.reenter_local(current_unit().get()) {
            return Some(LocalRLockGuard::new(self));
        }
        self.try_acquire_for(timeout).map(|g| self.bind_local(g))
    }

    /// Like [`acquire_local_blocking`](RLock::acquire_local_blocking),
    /// giving up at `deadline`.
    ///
    /// ```
    /// let rlock = polysync::RLock::new();
    /// assert!(rlock.try_acquire_local_until(std::time::Instant::now()).is_some());
    /// ```
    pub fn try_acquire_local_until(&self, deadline: Instant) -> Option<LocalRLockGuard<'_>> {
        if self.reenter_local(current_unit().get()) {
            return Some(LocalRLockGuard::new(self));
        }
        self.try_acquire_until(deadline).map(|g| self.bind_local(g))
    }

    /// [`acquire_with`](RLock::acquire_with) for a thread-bound level (see
    /// [`acquire_local_blocking`](RLock::acquire_local_blocking)): blocks
    /// on `waiter` unless the current unit re-enters.
    ///
    /// # Errors
    /// As for [`acquire_with`](RLock::acquire_with).
    ///
    /// ```
    /// use polysync::lowlevel::ThreadWaiter;
    /// let rlock = polysync::RLock::new();
    /// ThreadWaiter::with_current(|w| {
    ///     let a = rlock.acquire_local_with(w, None).unwrap();
    ///     let b = rlock.acquire_local_with(w, None).unwrap(); // re-entered
    ///     assert_eq!(rlock.count(), 2);
    /// });
    /// ```
    pub fn acquire_local_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<LocalRLockGuard<'_>, WaitError> {
        if self.reenter_local(current_unit().get()) {
            return Ok(LocalRLockGuard::new(self));
        }
        self.acquire_with(waiter, deadline)
            .map(|g| self.bind_local(g))
    }

    /// One more thread-bound level for `me`, if `me` holds one already
    /// (see "Thread-bound levels").
    #[inline]
    fn reenter_local(&self, me: u64) -> bool {
        // Acquire: a `local` stored by another owner orders our load of
        // `owner` after that ownership began.
        let local = self.local.load(Ordering::Acquire);
        if local == 0 || self.owner.load(Ordering::Relaxed) & !BUSY != me {
            return false;
        }
        self.local.store(local + 1, Ordering::Release);
        true
    }

    /// Makes `guard`'s ordinary level, just acquired by the current unit
    /// (which holds no thread-bound level), the one that its thread-bound
    /// levels hold, and the first of them.
    #[inline]
    fn bind_local<'a>(&'a self, guard: RLockGuard<'a>) -> LocalRLockGuard<'a> {
        // The level now belongs to the thread-bound levels: the last of
        // them releases it.
        std::mem::forget(guard);
        debug_assert_eq!(self.local.load(Ordering::Relaxed), 0);
        self.local.store(1, Ordering::Release);
        LocalRLockGuard::new(self)
    }

    /// Releases one thread-bound level (the caller drops its guard).
    #[inline]
    fn release_local(&self) {
        // Our own count (the guard is `!Send`): a plain load and store.
        let local = self.local.load(Ordering::Relaxed);
        debug_assert!(
            local > 0,
            "released a thread-bound RLock level that is not held"
        );
        self.local.store(local - 1, Ordering::Release);
        if local == 1 {
            // The last one: the ordinary level they held goes.
            self.release_backing_level();
        }
    }

    /// Releases the ordinary level that the thread-bound levels held (the
    /// last of them was just dropped). When it is the owner's only level,
    /// no other unit holds one (every level is a guard or a forgotten level
    /// of the owner's, and only the owner adds levels): nobody else can
    /// change `count` or `owner` any more, so the owner word is cleared with
    /// a plain store, without the `BUSY` exchange. The count must be read
    /// as 1 with `Acquire`: a moved guard that has just released the level
    /// before ours stored it (`Release`, in `set_levels`) after setting
    /// `BUSY`, so `owner` is then read as `BUSY` (that unit is still inside:
    /// the general path waits for it) or as cleared by it (it is done).
    #[inline(never)]
    fn release_backing_level(&self) {
        if self.count.load(Ordering::Acquire) == 1 {
            let owner = self.owner.load(Ordering::Relaxed);
            if owner & BUSY == 0 {
                debug_assert_ne!(owner, 0, "released an RLock level that is not held");
                // As `set_levels` with 0 levels (`count` is left stale, as
                // whenever nobody owns the lock).
                self.owner.store(0, Ordering::Release);
                self.unlock();
                return;
            }
        }
        self.release_level();
    }

    /// Releases `levels` levels held by the current execution unit (levels
    /// kept with [`RLockGuard::forget`]). Releasing the last level hands the
    /// lock to the oldest waiter. Releasing 0 levels only checks ownership.
    ///
    /// Thread-bound levels ([`LocalRLockGuard`]) are not released here: only
    /// their guards release them, so `release` never frees a lock that a
    /// live thread-bound guard still holds (see the example of
    /// [`acquire_local_blocking`](RLock::acquire_local_blocking)).
    ///
    /// # Errors
    /// [`RLockReleaseError::NotOwner`] if the current unit does not hold the
    /// lock; [`RLockReleaseError::TooManyReleases`] if it holds fewer than
    /// `levels` other than thread-bound ones (its `held` counts those
    /// others). Nothing is released then.
    ///
    /// ```
    /// use polysync::{RLock, RLockReleaseError};
    /// let rlock = RLock::new();
    /// for _ in 0..3 {
    ///     rlock.acquire_blocking().forget();
    /// }
    /// rlock.release(2).unwrap();
    /// assert_eq!(rlock.count(), 1);
    /// assert_eq!(rlock.release(2), Err(RLockReleaseError::TooManyReleases { held: 1 }));
    /// rlock.release(1).unwrap();
    /// assert_eq!(rlock.release(1), Err(RLockReleaseError::NotOwner));
    /// ```
    pub fn release(&self, levels: usize) -> Result<(), RLockReleaseError> {
        let me = current_unit().get();
        if !self.lock_levels_of(me) {
            return Err(RLockReleaseError::NotOwner);
        }
        let held = self.count.load(Ordering::Relaxed);
        // The level that the thread-bound ones hold is theirs (only the
        // owner writes `local`: this is our own count).
        let bound = u64::from(self.local.load(Ordering::Relaxed) > 0);
        let levels = levels as u64;
        if levels > held - bound {
            self.set_levels(me, held);
            return Err(RLockReleaseError::TooManyReleases {
                held: (held - bound) as usize,
            });
        }
        self.set_levels(me, held - levels);
        Ok(())
    }

    /// The levels its owner holds now, thread-bound ones
    /// ([`LocalRLockGuard`]) included, one per guard or forgotten level; 0
    /// when unlocked (a snapshot when read by another unit).
    ///
    /// ```
    /// let rlock = polysync::RLock::new();
    /// assert_eq!(rlock.count(), 0);
    /// let _g = rlock.acquire_blocking();
    /// let _l = rlock.acquire_local_blocking();
    /// assert_eq!(rlock.count(), 2);
    /// ```
    #[inline]
    pub fn count(&self) -> usize {
        if !self.is_locked() {
            return 0;
        }
        let count = self.count.load(Ordering::Relaxed);
        // The thread-bound levels hold one level of `count` together.
        let count = match self.local.load(Ordering::Relaxed) {
            0 => count,
            local => count.saturating_sub(1).saturating_add(local),
        };
        count as usize
    }

    /// The owner, if the lock is held (a snapshot).
    ///
    /// ```
    /// use polysync::lowlevel::current_unit;
    /// let rlock = polysync::RLock::new();
    /// let _g = rlock.acquire_blocking();
    /// assert_eq!(rlock.owner(), Some(current_unit()));
    /// ```
    #[inline]
    pub fn owner(&self) -> Option<UnitId> {
        // Only identities (`UnitId::get`) are stored in `owner`.
        UnitId::from_stored(self.owner.load(Ordering::Relaxed) & !BUSY)
    }

    /// Whether the current execution unit holds the lock.
    ///
    /// ```
    /// let rlock = polysync::RLock::new();
    /// let _g = rlock.acquire_blocking();
    /// assert!(rlock.is_owned_by_current_unit());
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(!rlock.is_owned_by_current_unit()));
    /// });
    /// ```
    #[inline]
    pub fn is_owned_by_current_unit(&self) -> bool {
        self.owner() == Some(current_unit())
    }

    /// Whether the lock is held (a snapshot).
    ///
    /// With bounded fairness ([`new_bounded`](RLock::new_bounded)),
    /// releasing the last level with waiters frees the lock and wakes the
    /// oldest waiter, which then takes it: in that window `is_locked()` is
    /// `false` while [`waiting()`](RLock::waiting) still counts the woken
    /// waiter. A strict lock stays locked across its hand-off.
    ///
    /// ```
    /// assert!(!polysync::RLock::new().is_locked());
    /// ```
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.queue.user(Ordering::Relaxed) & HELD != 0
    }

    /// How many execution units wait for the lock now (a snapshot).
    ///
    /// ```
    /// assert_eq!(polysync::RLock::new().waiting(), 0);
    /// ```
    #[inline]
    pub fn waiting(&self) -> usize {
        self.queue.len()
    }

    /// One more level for `me`, if `me` owns the lock (see "Levels").
    #[inline]
    fn reenter(&self, me: u64) -> bool {
        // A plain load first: units that do not own the lock give up without
        // writing to its cache line. Reading `me` here may be stale (our
        // level was just released elsewhere); the exchange below decides.
        if self.owner.load(Ordering::Relaxed) & !BUSY != me || !self.lock_levels_of(me) {
            return false;
        }
        let c = self.count.load(Ordering::Relaxed);
        self.set_levels(me, c + 1);
        true
    }

    /// Sets [`BUSY`] in `owner` if `me` owns the lock right now; then the
    /// caller alone may change `count`, and must end with
    /// [`set_levels`](RLock::set_levels). Backs off while another unit (one
    /// that holds a guard of `me`'s) has it set.
    #[inline]
    fn lock_levels_of(&self, me: u64) -> bool {
        let mut step = 0;
        loop {
            // Acquire: see the count that the last holder of `BUSY` (or the
            // hand-off that made `me` the owner) published.
            match self.owner.compare_exchange_weak(
                me,
                me | BUSY,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(seen) if seen == me | BUSY => backoff(&mut step),
                Err(seen) if seen == me => {} // spurious failure
                Err(_) => return false,
            }
        }
    }

    /// Sets [`BUSY`] for a caller that holds a level (a guard, or a hand-off
    /// it was given), whichever unit it is: the lock has an owner, which
    /// cannot change before that level is released. Returns the owner.
    #[inline]
    fn lock_levels_held(&self) -> u64 {
        let mut step = 0;
        let mut seen = self.owner.load(Ordering::Relaxed);
        loop {
            let owner = seen & !BUSY;
            // Only a guard moved to another unit can see this: dropped while
            // its owner waits on a `Condition`, which gave up every level.
            assert!(
                owner != 0,
                "polysync: an RLock level was released while nobody owns the lock \
                 (a guard moved to another unit, dropped during its owner's Condition wait?)"
            );
            if seen & BUSY != 0 {
                backoff(&mut step);
                seen = self.owner.load(Ordering::Relaxed);
                continue;
            }
            // Acquire: as in `lock_levels_of`.
            match self.owner.compare_exchange_weak(
                owner,
                owner | BUSY,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return owner,
                Err(now) => seen = now,
            }
        }
    }

    /// Ends a change begun by `lock_levels_*`: `owner` keeps `levels` (its
    /// `BUSY` is cleared), or, with 0 levels, gives the lock up (to the
    /// oldest waiter, or unlocks).
    #[inline]
    fn set_levels(&self, owner: u64, levels: u64) {
        // Release: see `release_backing_level`.
        self.count.store(levels, Ordering::Release);
        if levels > 0 {
            // Release: publishes `count` to the next unit that sets `BUSY`.
            self.owner.store(owner, Ordering::Release);
        } else {
            // Nobody owns it until the unlock or hand-off below: re-entries
            // fail, and queued or new acquirers wait for the queue word.
            self.owner.store(0, Ordering::Release);
            self.unlock();
        }
    }

    /// Releases one level (the caller is the owner or holds its guard).
    #[inline]
    pub(crate) fn release_level(&self) {
        let owner = self.lock_levels_held();
        let c = self.count.load(Ordering::Relaxed);
        debug_assert!(c > 0, "released an RLock level that is not held");
        self.set_levels(owner, c - 1);
    }

    /// Gives up ownership (`owner` is 0 already): unlocks; with waiters,
    /// hands the lock to the oldest (strict, or once it is owed the lock)
    /// or wakes it to compete (bounded fairness).
    #[inline]
    fn unlock(&self) {
        let unlocked = if self.fair {
            // Nobody queued: one compare-exchange of the idle word.
            self.queue.cas_idle(HELD, 0, Ordering::Release)
        } else {
            self.release_unlocked()
        };
        if !unlocked {
            self.unlock_slow();
        }
    }

    /// Frees a bounded lock without the queue lock, in one compare-exchange
    /// of the queue word while its lock is free: when nobody is queued, or
    /// when the front was woken already and has not retried yet (WOKEN) and
    /// is not owed a hand-off: nobody to wake, and the invariant (a free
    /// lock with a node queued has WOKEN set) holds as soon as HELD is
    /// clear.
    #[inline]
    fn release_unlocked(&self) -> bool {
        self.queue
            .update_unlocked(Ordering::Release, |user, queued| {
                if queued == 0 {
                    Some(0)
                } else if user & !FLAGS < DEBT_BOUND && user & (HELD | WOKEN) == HELD | WOKEN {
                    Some(user & !HELD)
                } else {
                    None
                }
            })
            .is_ok()
    }

    /// Takes a bounded lock without the queue lock: the idle lock (nobody
    /// queued), or the free lock past its woken front while the front's
    /// debt is below the bound (a barge; the front stays WOKEN and
    /// retries). One compare-exchange of the queue word, which fails while
    /// its lock is held (no race with an edit under it). Then the new
    /// owner's one level, published as every new owner's.
    #[inline]
    fn try_barge(&self, me: Owner) -> Option<Owner> {
        self.queue
            .update_unlocked(Ordering::Acquire, |user, queued| {
                if user & HELD != 0 {
                    None
                } else if queued == 0 {
                    Some(user | HELD)
                } else if user & !FLAGS < DEBT_BOUND {
                    Some((user + DEBT_UNIT) | HELD)
                } else {
                    // The front is owed a hand-off.
                    None
                }
            })
            .ok()
            .map(|_| {
                self.own(me);
                me
            })
    }

    /// Makes `me` the owner with one level: the lock was just taken (HELD
    /// set by the caller, or kept by a hand-off) and nobody owns it yet.
    #[inline]
    fn own(&self, me: Owner) {
        self.count.store(1, Ordering::Relaxed);
        // Release: a unit that sets BUSY (or re-enters) after seeing `me`
        // sees the count of 1.
        self.owner.store(me.get(), Ordering::Release);
    }

    #[cold]
    fn unlock_slow(&self) {
        let mut guard = self.queue.lock();
        let user = guard.user();
        debug_assert!(user & HELD != 0, "released an unlocked RLock");
        let mut wakers = WakeList::new();
        match guard.front().map(|waiter| waiter.data::<Owner>()) {
            Some(next) if self.fair || user & !FLAGS >= DEBT_BOUND => {
                // Direct hand-off: the lock stays held; the next owner starts
                // with one level (counted from now on, even before its
                // waiter sees the notification).
                self.count.store(1, Ordering::Relaxed);
                // The same unit may see itself as the owner before its
                // queued wait completes (a task polling a second acquisition,
                // or calling `try_acquire`, meanwhile) and re-enter: its
                // acquire exchange of `owner` then synchronizes with this
                // release store and sees the count of 1.
                self.owner.store(next.get(), Ordering::Release);
                // The next front starts with no debt and no wake.
                guard.set_user(HELD);
                wakers.push(guard.notify_front(next).expect("front exists"));
            }
            Some(_) => {
                // Bounded fairness: free the lock and wake the front to
                // compete, unless it is awake already (it owes a retry).
                // Either way WOKEN is set while the lock is free.
                if user & WOKEN == 0 {
                    wakers.push(guard.take_front_waker());
                }
                guard.set_user((user & !HELD) | WOKEN);
            }
            None => guard.set_user(0),
        }
        drop(guard);
        wakers.wake_all();
    }
}

impl Protocol for RLock {
    /// The unit that waits to own the lock (never unknown: an async wait
    /// needs a task identity).
    type Tag = Owner;
    /// The same unit, handed back with the lock (the waiter ignores it).
    type Outcome = Owner;
    type Slot = ();

    fn queue(&self) -> &WaitQueue {
        &self.queue
    }

    #[inline]
    fn try_fast(&self, me: Owner, _: &()) -> Option<Owner> {
        if !self.fair {
            return self.try_barge(me);
        }
        // Strict: only the idle lock is free (releases with waiters hand
        // over), in one compare-exchange.
        if self.queue.cas_idle(0, HELD, Ordering::Acquire) {
            self.own(me);
            Some(me)
        } else {
            None
        }
    }

    fn arrive_locked(&self, guard: &mut QueueGuard<'_>, me: Owner, _: &()) -> Result<Owner, Owner> {
        let user = guard.user();
        let admitted = if user & HELD != 0 {
            false
        } else if guard.is_empty() || self.fair {
            // Nobody to overtake (a strict lock with waiters is never free).
            guard.set_user(user | HELD);
            true
        } else if user & !FLAGS < DEBT_BOUND {
            // A barge past the woken front, which stays WOKEN.
            guard.set_user((user + DEBT_UNIT) | HELD);
            true
        } else {
            // The front is owed the lock: it takes it when it retries.
            false
        };
        if admitted {
            self.own(me);
        }
        admit_if(me, admitted)
    }

    /// A condition waiter moved here takes only a lock that nobody waits
    /// for: it does not barge past the queued waiters.
    fn arrive_moved_locked(
        &self,
        guard: &mut QueueGuard<'_>,
        me: Owner,
        _: &(),
    ) -> Result<Owner, Owner> {
        let user = guard.user();
        let admitted = user & HELD == 0 && (guard.is_empty() || self.fair);
        if admitted {
            guard.set_user(user | HELD);
            self.own(me);
        }
        admit_if(me, admitted)
    }

    #[inline]
    fn retries(&self) -> bool {
        !self.fair
    }

    fn retry_front_locked(&self, guard: &mut QueueGuard<'_>, me: Owner, _: &()) -> Option<Owner> {
        if self.fair {
            return None;
        }
        let user = guard.user();
        if user & HELD == 0 {
            // Ours: the next front starts with no debt and no wake.
            guard.set_user(HELD);
            self.own(me);
            return Some(me);
        }
        // Lost to a barger (or a re-entry of the unit that barged): wait
        // for its last release, which wakes us (WOKEN being clear), one step
        // nearer to a direct hand-off.
        let debt = (user & !FLAGS).saturating_add(LOST_RETRY).min(DEBT_BOUND);
        guard.set_user(debt | (user & FLAGS & !WOKEN));
        None
    }

    fn cancelled_at(&self, guard: &mut QueueGuard<'_>, _: Owner, _: &(), was_front: bool) {
        if !was_front || self.fair {
            return;
        }
        let user = guard.user();
        // A new front (or none): no debt. A wake the old front owed a retry
        // for goes to the new front if the lock is free (the invariant); if
        // it is held, its last release wakes the new front.
        let mut next = user & HELD;
        if user & (WOKEN | HELD) == WOKEN && !guard.is_empty() {
            next |= WOKEN;
            let waker = guard.take_front_waker();
            guard.wake_after_unlock(waker);
        }
        guard.set_user(next);
    }

    fn pass_on(&self, _: Owner, _: &()) {
        // We were handed the lock with one level: give it to the next waiter.
        self.release_level();
    }
}

impl Default for RLock {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for RLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RLock")
            .field("locked", &self.is_locked())
            .field("fair", &self.is_fair())
            .field("owner", &self.owner())
            .field("count", &self.count())
            .field("waiting", &self.waiting())
            .finish()
    }
}

/// One level of an [`RLock`]; released when dropped (the lock is handed to
/// the next waiter when its owner's last level goes).
///
/// The guard is `Send` so that an identified async task can hold it across
/// `.await` on a multi-thread runtime; the guard, not the thread that drops
/// it, proves ownership. A guard dropped by another unit releases one of the
/// owner's levels, also while the owner re-enters at the same moment (the
/// two updates are ordered, never lost).
#[must_use = "the level is released as soon as the guard is dropped"]
pub struct RLockGuard<'a> {
    lock: &'a RLock,
}

/// The bits of a condition wait's saved levels that hold the ordinary
/// levels; the thread-bound ones are above them (`usize`, the type the
/// condition keeps, is all there is; 2^32 levels on 64-bit targets).
const LEVEL_BITS: u32 = usize::BITS / 2;

/// Packs the levels a condition wait gives up into one `usize`.
#[track_caller]
fn pack_levels(levels: u64, local: u64) -> usize {
    assert!(
        levels < 1 << LEVEL_BITS && local < 1 << LEVEL_BITS,
        "polysync: Condition::wait with an RLock held {levels} level(s), {local} of them \
         thread-bound: too many to save"
    );
    (levels | local << LEVEL_BITS) as usize
}

/// The inverse of [`pack_levels`]: (ordinary levels, thread-bound levels).
fn unpack_levels(packed: usize) -> (u64, u64) {
    let packed = packed as u64;
    (packed & ((1 << LEVEL_BITS) - 1), packed >> LEVEL_BITS)
}

impl<'a> RLockGuard<'a> {
    /// For a condition wait: gives up every level the owner holds (this
    /// guard's and any others) and returns how many, to restore later. The
    /// guard itself is kept by the wait as a token (not dropped as a guard).
    ///
    /// # Panics
    /// If the current unit does not own the lock (the guard was moved to
    /// another unit): it would give the owner's levels away, including those
    /// of guards the owner still uses. The guard then drops with the wait
    /// while unwinding, releasing its one level.
    pub(crate) fn release_all_levels(&self) -> usize {
        let lock = self.lock;
        let me = current_unit().get();
        // Atomic with respect to a foreign release (see "Levels").
        if !lock.lock_levels_of(me) {
            panic!(
                "polysync: Condition::wait with an RLockGuard: the current execution unit \
                 does not own the RLock (a guard moved to another unit cannot wait for it)"
            );
        }
        let levels = lock.count.load(Ordering::Relaxed);
        // The thread-bound levels go too (the next owner must see 0: see
        // "Thread-bound levels"); we are the owner, the only writer.
        let local = lock.local.load(Ordering::Relaxed);
        lock.local.store(0, Ordering::Relaxed);
        lock.set_levels(me, 0);
        pack_levels(levels, local)
    }

    /// After a condition wait got the lock back (with one level, as every
    /// hand-off gives): restores the levels it held before, thread-bound
    /// ones included (`levels` from [`release_all_levels`](Self::release_all_levels)).
    pub(crate) fn restore(lock: &'a RLock, levels: usize) -> Self {
        let (levels, local) = unpack_levels(levels);
        let owner = lock.lock_levels_held();
        // The owner (the waiting unit, back) is the only writer of `local`.
        lock.local.store(local, Ordering::Release);
        lock.set_levels(owner, levels);
        RLockGuard { lock }
    }

    /// The lock this guard holds a level of.
    ///
    /// ```
    /// let rlock = polysync::RLock::new();
    /// let guard = rlock.acquire_blocking();
    /// assert!(std::ptr::eq(guard.rlock(), &rlock));
    /// ```
    pub fn rlock(&self) -> &'a RLock {
        self.lock
    }

    /// Keeps the level held without a guard; release it later with
    /// [`RLock::release`] from the owning unit.
    ///
    /// ```
    /// let rlock = polysync::RLock::new();
    /// rlock.acquire_blocking().forget();
    /// assert_eq!(rlock.count(), 1);
    /// rlock.release(1).unwrap();
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for RLockGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.lock.release_level();
    }
}

impl std::fmt::Debug for RLockGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RLockGuard")
            .field("rlock", self.lock)
            .finish()
    }
}

/// One thread-bound level of an [`RLock`], from the `acquire_local*` forms
/// ([`RLock::acquire_local_blocking`]); released when dropped (the lock is
/// handed to the next waiter when its owner's last level goes).
///
/// `!Send`, as parking_lot's `ReentrantMutexGuard`: it is dropped on the
/// thread that made it, so the owner counts these levels with plain loads
/// and stores (see [`RLock::acquire_local_blocking`]). `Sync` (a shared
/// guard only lets its holder read [`rlock`](LocalRLockGuard::rlock)).
/// There is no `forget`: [`RLock::release`] does not release thread-bound
/// levels (a guard passed to `std::mem::forget` keeps its lock held for
/// good).
///
/// ```
/// let rlock = polysync::RLock::new();
/// let guard = rlock.acquire_local_blocking();
/// assert!(std::ptr::eq(guard.rlock(), &rlock));
/// assert!(rlock.is_owned_by_current_unit());
/// drop(guard);
/// assert!(!rlock.is_locked());
/// ```
///
/// ```compile_fail
/// fn send<T: Send>(_: T) {}
/// let rlock = polysync::RLock::new();
/// send(rlock.acquire_local_blocking());
/// ```
#[must_use = "the level is released as soon as the guard is dropped"]
pub struct LocalRLockGuard<'a> {
    lock: &'a RLock,
    /// `!Send` and `Sync`, as `std`'s `MutexGuard` (no `unsafe` needed).
    _bound: PhantomData<std::sync::MutexGuard<'static, ()>>,
}

impl<'a> LocalRLockGuard<'a> {
    #[inline]
    fn new(lock: &'a RLock) -> Self {
        LocalRLockGuard {
            lock,
            _bound: PhantomData,
        }
    }

    /// The lock this guard holds a level of.
    ///
    /// ```
    /// let rlock = polysync::RLock::new();
    /// let guard = rlock.try_acquire_local().unwrap();
    /// assert!(std::ptr::eq(guard.rlock(), &rlock));
    /// ```
    pub fn rlock(&self) -> &'a RLock {
        self.lock
    }
}

impl Drop for LocalRLockGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.lock.release_local();
    }
}

impl std::fmt::Debug for LocalRLockGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalRLockGuard")
            .field("rlock", self.lock)
            .finish()
    }
}

/// The future of [`RLock::acquire`].
#[must_use = "futures do nothing unless polled"]
pub struct RLockAcquire<'a> {
    lock: &'a RLock,
    /// Created at the first poll, once the task's identity is known.
    wait: Option<Wait<'a, RLock>>,
    /// A re-entry was made and the future yields at its checkpoint: it
    /// holds that level until its next poll returns it (or its drop
    /// releases it).
    reentered: bool,
}

impl<'a> Future for RLockAcquire<'a> {
    type Output = Result<RLockGuard<'a>, NoTaskIdentity>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `wait` is structurally pinned: it is set in place before
        // its first poll and never moved out afterwards.
        let this = unsafe { self.get_unchecked_mut() };
        let lock = this.lock;
        if this.reentered {
            // The level taken before the checkpoint's yield.
            this.reentered = false;
            return Poll::Ready(Ok(RLockGuard { lock }));
        }
        if this.wait.is_none() {
            let Some(me) = current_task() else {
                return Poll::Ready(Err(NoTaskIdentity));
            };
            if lock.reenter(me.get()) {
                if crate::lowlevel::checkpoint::poll(cx).is_pending() {
                    this.reentered = true;
                    return Poll::Pending;
                }
                return Poll::Ready(Ok(RLockGuard { lock }));
            }
            this.wait = Some(Wait::new(lock, Owner::of(me)));
        }
        let wait = this.wait.as_mut().expect("set above");
        // SAFETY: see above; `wait` stays in place until `self` is dropped.
        let wait = unsafe { Pin::new_unchecked(wait) };
        wait.poll(cx).map(|()| Ok(RLockGuard { lock }))
    }
}

impl Drop for RLockAcquire<'_> {
    fn drop(&mut self) {
        if self.reentered {
            // Dropped while yielding at its checkpoint after a re-entry.
            self.lock.release_level();
        }
    }
}

impl std::fmt::Debug for RLockAcquire<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RLockAcquire")
            .field("rlock", self.lock)
            .field("queued", &self.wait.as_ref().is_some_and(Wait::is_queued))
            .finish()
    }
}

/// One level of an [`RLock`] held through an `Arc`: `'static` and `Send`,
/// so it can move into a spawned task; released when dropped (also when
/// that task panics, as it unwinds). Returned by the `acquire_owned*`
/// forms.
///
/// The rules of [`RLockGuard`] hold: the unit that acquired owns the lock;
/// a guard moved elsewhere releases one of the owner's levels when it
/// drops (ordered with the owner's own re-entries, never lost), but its new
/// unit does not own the lock.
///
/// ```
/// use polysync::RLock;
/// use std::sync::Arc;
///
/// let rlock = Arc::new(RLock::new());
/// let guard = rlock.acquire_owned_blocking();
/// let worker = std::thread::spawn(move || {
///     assert!(!guard.rlock().is_owned_by_current_unit()); // moved, not owned
/// }); // the level is released in the worker
/// worker.join().unwrap();
/// assert!(!rlock.is_locked());
/// ```
#[must_use = "the level is released as soon as the guard is dropped"]
pub struct OwnedRLockGuard {
    lock: Arc<RLock>,
}

impl OwnedRLockGuard {
    /// The owned form of `guard`, whose lock `lock` is.
    #[inline]
    fn adopt(guard: RLockGuard<'_>, lock: &Arc<RLock>) -> Self {
        debug_assert!(std::ptr::eq(guard.lock, &**lock));
        // The owned guard releases the level itself.
        std::mem::forget(guard);
        OwnedRLockGuard {
            lock: Arc::clone(lock),
        }
    }

    /// The lock this guard holds a level of.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let rlock = Arc::new(polysync::RLock::new());
    /// let guard = rlock.acquire_owned_blocking();
    /// assert!(Arc::ptr_eq(guard.rlock(), &rlock));
    /// ```
    pub fn rlock(&self) -> &Arc<RLock> {
        &self.lock
    }

    /// Keeps the level held without a guard; release it later with
    /// [`RLock::release`] from the owning unit.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let rlock = Arc::new(polysync::RLock::new());
    /// rlock.acquire_owned_blocking().forget();
    /// assert_eq!(rlock.count(), 1);
    /// rlock.release(1).unwrap();
    /// ```
    pub fn forget(self) {
        // The `Arc` is dropped; the level stays held.
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again.
        drop(unsafe { std::ptr::read(&this.lock) });
    }
}

impl Drop for OwnedRLockGuard {
    #[inline]
    fn drop(&mut self) {
        self.lock.release_level();
    }
}

impl std::fmt::Debug for OwnedRLockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedRLockGuard")
            .field("rlock", &*self.lock)
            .finish()
    }
}

/// The future of [`RLock::acquire_owned`]: [`RLockAcquire`] run against a
/// lock in an `Arc`; `'static`, resolves to an [`OwnedRLockGuard`].
#[must_use = "futures do nothing unless polled"]
pub struct OwnedRLockAcquire {
    inner: ArcWait<RLock, RLockAcquire<'static>>,
}

impl OwnedRLockAcquire {
    fn new(lock: &Arc<RLock>) -> Self {
        let lock = Arc::clone(lock);
        // SAFETY: the reference points into `lock`'s allocation; the future
        // that holds it is stored with `lock` in an `ArcWait`, whose output
        // goes only to the closure in `poll`, which forgets the borrowed
        // guard: the rules of `ArcWait::new`.
        let target = unsafe { crate::owned::extend(&*lock) };
        let fut = target.acquire();
        OwnedRLockAcquire {
            // SAFETY: as above.
            inner: unsafe { ArcWait::new(lock, fut) },
        }
    }
}

impl Future for OwnedRLockAcquire {
    type Output = Result<OwnedRLockGuard, NoTaskIdentity>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `inner` is structurally pinned; nothing else is here.
        let inner = unsafe { self.map_unchecked_mut(|this| &mut this.inner) };
        inner.poll_with(cx, |out, lock| {
            out.map(|guard| {
                // The owned guard releases the level itself.
                std::mem::forget(guard);
                OwnedRLockGuard { lock }
            })
        })
    }
}

impl std::fmt::Debug for OwnedRLockAcquire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedRLockAcquire")
            .field("acquire", &self.inner.future())
            .finish()
    }
}
