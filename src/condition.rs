//! [`Condition`]: a condition variable for polysync's [`Lock`](crate::Lock), [`Mutex<T>`](crate::Mutex)
//! and [`RLock`](crate::RLock) that threads, async tasks and green threads wait on together.
//!
//! # How a wait moves
//!
//! A waiter queues an entry (its node, the lock it must get back, and the
//! notify round it arrived in) on the condition's queue, then releases the
//! lock. `notify` takes entries from the front of the condition's queue and,
//! holding both queue locks, either hands the lock straight to the entry (if
//! the lock is free) or appends the entry to the lock's own queue without
//! waking it. The waiter therefore wakes exactly once, already owning the
//! lock, in FIFO order: no thundering herd, no second race for the lock.
//!
//! While an entry sits in the condition's queue its `in_condition` flag is
//! set; `notify` clears it while it holds the condition's lock, so a waiter
//! that reads the flag under that lock knows which queue it is in. The
//! waiter never reads its node's data while the node is queued: once moved,
//! the lock's release path owns that data (it writes the next owner there).

use crate::lock::LockGuard;
use crate::lowlevel::queue::{Batch, QueueGuard, WAITING, WaitQueue, wake_in_batches};
use crate::lowlevel::sync::{AtomicBool, AtomicU32, Ordering, const_fn};
use crate::lowlevel::wait::{Entry, Protocol, Wait, Withdraw, drive};
use crate::lowlevel::{
    Owner, WaitError, Waiter, current_task, current_unit, deadline_after, with_current_waiter,
};
use crate::mutex::MutexGuard;
use crate::rlock::RLockGuard;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

/// A condition variable usable from every world at once.
///
/// - Wait with a guard of a polysync [`Lock`](crate::Lock), [`Mutex<T>`](crate::Mutex) or [`RLock`](crate::RLock)
///   (the guard proves you hold the lock, so waiting without it cannot
///   compile; an `RLock` owner gives up all its levels while it waits and
///   gets them all back; waiting with an `RLock` guard that was moved to a
///   unit that does not own the lock panics): async
///   [`wait`](Condition::wait), [`wait_blocking`](Condition::wait_blocking),
///   timed [`try_wait_for`](Condition::try_wait_for) / [`try_wait_until`](Condition::try_wait_until),
///   and the predicate forms [`wait_while`](Condition::wait_while),
///   [`wait_while_blocking`](Condition::wait_while_blocking),
///   [`try_wait_while_for`](Condition::try_wait_while_for).
/// - [`notify(n)`](Condition::notify) returns how many waiters it woke;
///   [`notify_all`](Condition::notify_all). Waiters that start waiting while a
///   notify runs are not woken by it.
/// - A notified waiter is moved to the lock's queue and resumes already
///   owning the lock, in FIFO order.
/// - A timed-out blocking wait returns with the lock held again. A dropped
///   async wait gives up its place; if it had been notified, it passes the
///   notification on (and releases the lock if it was handed over), so no
///   notification is lost.
/// - Notifying does not require holding the lock (unlike aiologic, which
///   raises): the woken waiter queues for the lock anyway, so a notify without
///   the lock is safe, as with `std::sync::Condvar`.
/// - One condition may serve several locks; each waiter returns to its own.
///
/// ```
/// use polysync::{Condition, Mutex};
/// use std::sync::Arc;
///
/// let state = Arc::new((Mutex::new(false), Condition::new()));
/// let waiter = {
///     let state = state.clone();
///     std::thread::spawn(move || {
///         let (ready, cond) = &*state;
///         let guard = cond.wait_while_blocking(ready.lock_blocking(), |ready| !**ready);
///         assert!(*guard);
///     })
/// };
/// futures_lite::future::block_on(async {
///     let (ready, cond) = &*state;
///     *ready.lock().await = true;
///     cond.notify_all();
/// });
/// waiter.join().unwrap();
/// ```
pub struct Condition {
    /// User bits: the notify round (see the table below).
    queue: WaitQueue,
}

// The user bits of a condition's queue word: `r`, the notify round, a `u32`
// that wraps. Written only under the condition's lock.
//
// | the round | a new wait                          | `notify(n)`, at its first batch | its later batches |
// |-----------|-------------------------------------|---------------------------------|-------------------|
// | `r`       | queues with `Entry::round = r`      | takes `current = r`, sets `r + 1` | serve, from the front, entries whose round is at most `current` (a distance below 2^31), stopping at the first newer one |
//
// So entries queue in round order, and a notify never wakes a wait that
// started while it ran (those carry `current + 1` or later). The distance
// cannot reach 2^31 for a queued entry: every notify serves at least the
// front entry, and fewer than 2^31 entries queue at once.
//
// Where an entry stands, from its `in_condition` flag and its node's state
// (the waiter reads the flag under the condition's lock):
//
// | `in_condition` | node state | the entry                          | its node belongs to     |
// |----------------|------------|------------------------------------|-------------------------|
// | 0              | `IDLE`     | not queued yet (or withdrawn)      | its waiter              |
// | 1              | `WAITING`  | in the condition's queue           | the condition's lock    |
// | 0              | `WAITING`  | moved by `notify` to its lock's queue, asleep | that queue's lock (both locks while it moves) |
// | 0              | `NOTIFIED` | handed the lock (by `notify` or by the lock's release) | its waiter |
// | 0              | `DONE`     | finished                           | its waiter              |

/// The wait protocol of a lock a condition waiter returns to (`Lock` or
/// `RLock`): both queue [`Owner`]s, so an entry's node keeps its one
/// meaning, the owner to hand the lock to, in either queue.
pub(crate) type LockProtocol<'a> = dyn Protocol<Tag = Owner, Outcome = Owner, Slot = ()> + 'a;

/// What a condition waiter keeps beside its node: the slot of its core
/// [`Entry`], which `notify` reaches from the node pointer (the entry is
/// queued with [`node_of`], whose provenance covers the whole entry). The
/// node's data is the owner identity to hand the lock to, in either queue;
/// it is owned as `Node` says: under the condition's lock while queued
/// there, under both locks while `notify` moves it, under the lock's queue
/// lock after.
pub(crate) struct Return {
    /// The lock to return to, as the wait protocol it runs (`Lock` or
    /// `RLock`), its lifetime erased (see [`Return::lock`]). Written when
    /// the wait is made; read-only after.
    lock: *const LockProtocol<'static>,
    /// The notify round the entry arrived in. Written by `arrive_locked`
    /// (under the condition's lock, before the entry is queued); read by
    /// `notify` under the same lock. An atomic so that this needs no
    /// `unsafe` argument; every access is `Relaxed` under the lock.
    round: AtomicU32,
    /// Set while the node is linked in the condition's queue; cleared by
    /// `notify` (under the condition's lock) when it moves the node to the
    /// lock. Read and written only under the condition's lock while the
    /// node is queued; read by the waiter once its node is no longer queued.
    in_condition: AtomicBool,
}

// SAFETY: `lock` points to a `Lock` or `RLock`, which are `Sync`; the other
// fields are atomics. So the slot may move to, and be read from, any thread.
unsafe impl Send for Return {}
// SAFETY: as above.
unsafe impl Sync for Return {}

impl Return {
    /// The slot of a wait that returns to `lock`.
    fn new<'a>(lock: &'a LockProtocol<'a>) -> Self {
        let lock: *const LockProtocol<'a> = lock;
        // SAFETY: only the trait object's lifetime bound changes (same
        // layout). The pointer is followed only through `Return::lock`,
        // whose borrow cannot outlive the slot, and the slot lives inside a
        // `ConditionWait<'a, _>`, which borrows the lock for `'a`.
        let lock = unsafe {
            std::mem::transmute::<*const LockProtocol<'a>, *const LockProtocol<'static>>(lock)
        };
        Return {
            lock,
            round: AtomicU32::new(0),
            in_condition: AtomicBool::new(false),
        }
    }

    /// The lock to return to.
    fn lock(&self) -> &LockProtocol<'_> {
        // SAFETY: the slot lives inside the `ConditionWait` that made it
        // (`Return::new`), which borrows the lock for longer than itself;
        // whoever holds `&self` reached the slot through that wait, or
        // through a queue in which its entry is linked (so the wait is
        // alive: it unlinks its entry before it goes away).
        unsafe { &*self.lock }
    }
}

/// A guard that a [`Condition`] can wait with: [`LockGuard`], [`MutexGuard`]
/// or [`RLockGuard`] (a reentrant lock gives up all its levels while it
/// waits and gets them all back). Sealed: the crate implements it.
pub trait ConditionGuard<'a>: sealed::Guard<'a> {}

impl<'a, G: sealed::Guard<'a>> ConditionGuard<'a> for G {}

// The sealed trait below names the crate-private `Protocol` in its methods.
// Nobody outside the crate can name the trait or call them (the module is
// private), so the lint's concern, an unusable public signature, cannot arise.
#[allow(private_interfaces)]
mod sealed {
    use super::LockProtocol;
    use crate::lowlevel::{Owner, WaitError, Waiter};

    /// What a condition wait needs from a guard. In a private module, so
    /// nobody outside the crate can implement or call it.
    ///
    /// While it waits, the wait keeps the guard itself as a token of its
    /// lock (never dropped as a guard while the lock is given up), so the
    /// wait's type names only the guard: no associated types, which would
    /// make a task that holds the wait across an `.await` fail rustc's
    /// `Send` proof for every lifetime.
    pub trait Guard<'a>: Sized {
        /// The lock, as the wait protocol it runs.
        fn raw_lock(&self) -> &'a LockProtocol<'a>;
        /// The owner identity an async wait queues with.
        fn async_owner() -> Owner;
        /// Releases the lock completely (the guard stays, as a token);
        /// returns the levels to restore (an RLock's; 1 otherwise).
        fn give_up(&self) -> usize;
        /// The lock was handed back (as a hand-off gives it: one level, the
        /// owner recorded): restore `levels`.
        fn take_back(&self, levels: usize);
        /// After a wait that gave up: take the lock again on `waiter`, with
        /// no deadline (fails only when the waiter reports cancellation),
        /// and restore `levels`.
        fn reacquire_with<W: Waiter + ?Sized>(
            &self,
            levels: usize,
            waiter: &W,
        ) -> Result<(), WaitError>;
    }
}

#[allow(private_interfaces)] // see `mod sealed`
impl<'a> sealed::Guard<'a> for LockGuard<'a> {
    fn raw_lock(&self) -> &'a LockProtocol<'a> {
        self.lock()
    }
    fn async_owner() -> Owner {
        // As for `Lock::acquire`: the task, if it has an identity.
        current_task().map_or(Owner::UNKNOWN, Owner::of)
    }
    fn give_up(&self) -> usize {
        self.lock().release();
        1
    }
    fn take_back(&self, _: usize) {}
    fn reacquire_with<W: Waiter + ?Sized>(&self, _: usize, waiter: &W) -> Result<(), WaitError> {
        // The guard (the token) holds the lock again: forget the new one.
        self.lock().acquire_with(waiter, None).map(std::mem::forget)
    }
}

#[allow(private_interfaces)] // see `mod sealed`
impl<'a, T: ?Sized + 'a> sealed::Guard<'a> for MutexGuard<'a, T> {
    fn raw_lock(&self) -> &'a LockProtocol<'a> {
        self.mutex().raw_lock()
    }
    fn async_owner() -> Owner {
        current_task().map_or(Owner::UNKNOWN, Owner::of)
    }
    fn give_up(&self) -> usize {
        self.mutex().raw_lock().release();
        1
    }
    fn take_back(&self, _: usize) {}
    fn reacquire_with<W: Waiter + ?Sized>(&self, _: usize, waiter: &W) -> Result<(), WaitError> {
        self.mutex().lock_with(waiter, None).map(std::mem::forget)
    }
}

#[allow(private_interfaces)] // see `mod sealed`
impl<'a> sealed::Guard<'a> for RLockGuard<'a> {
    fn raw_lock(&self) -> &'a LockProtocol<'a> {
        self.rlock()
    }
    fn async_owner() -> Owner {
        // The guard's owner is the unit polling us (an identified task).
        Owner::of(current_unit())
    }
    fn give_up(&self) -> usize {
        self.release_all_levels()
    }
    fn take_back(&self, levels: usize) {
        std::mem::forget(RLockGuard::restore(self.rlock(), levels));
    }
    fn reacquire_with<W: Waiter + ?Sized>(
        &self,
        levels: usize,
        waiter: &W,
    ) -> Result<(), WaitError> {
        std::mem::forget(self.rlock().acquire_with(waiter, None)?);
        self.take_back(levels);
        Ok(())
    }
}

/// A guard kept by a condition wait: live (its drop releases the lock)
/// until the first poll gives the lock up, then a token of the lock that is
/// never dropped as a guard, until the lock is back and the guard is handed
/// out again. Its own `Drop` needs no bound on `G`, so the wait that holds
/// it needs none either (see `sealed::Guard`).
pub(crate) struct Kept<G> {
    guard: ManuallyDrop<G>,
    /// Whether the guard holds its lock (and must be dropped as a guard).
    live: bool,
}

impl<G> Kept<G> {
    fn live(guard: G) -> Self {
        Kept {
            guard: ManuallyDrop::new(guard),
            live: true,
        }
    }

    /// Hands the guard out (it holds its lock again): the slot is empty
    /// from now on and must not be used.
    fn take(&mut self) -> G {
        self.live = false;
        // SAFETY: `live` is now false, and every caller hands the guard out
        // at most once (the wait is finished afterwards; a second `take`
        // would be a bug of this module), so the slot is never read again
        // nor dropped.
        unsafe { ManuallyDrop::take(&mut self.guard) }
    }
}

impl<G> Drop for Kept<G> {
    fn drop(&mut self) {
        if self.live {
            // SAFETY: a live guard was never taken out; this is its one drop.
            unsafe { ManuallyDrop::drop(&mut self.guard) }
        }
    }
}

impl Condition {
    const_fn! {
        /// A condition with no waiters.
        pub fn new() -> Condition {
            Condition { queue: WaitQueue::new(0) }
        }
    }

    /// Releases the guard's lock, waits for a notification, and returns with
    /// the lock held again. The lock is released at the first poll, once the
    /// wait is queued (so a notify after that poll reaches it).
    ///
    /// # Cancel safety
    /// Dropping the future never loses a notification, and **never leaves
    /// the lock held**: the guard was moved into the future, so a dropped
    /// wait returns nothing. At each point:
    /// - before its first poll: the guard drops with it, which releases the
    ///   lock; nothing was queued;
    /// - while it waits in the condition's queue: it leaves the queue (the
    ///   lock was released at the first poll);
    /// - after a notify moved it to the lock's queue, before the lock was
    ///   handed to it: it leaves that queue and passes the notification on
    ///   (`notify(1)`), so another waiter is woken in its place;
    /// - after the lock was handed to it, before it was polled again: it
    ///   releases the lock (to the lock's next waiter) and passes the
    ///   notification on.
    ///
    /// To give up a wait and keep the lock, use a timed blocking form
    /// ([`try_wait_for`](Condition::try_wait_for)), which takes the lock again.
    ///
    /// ```
    /// use polysync::{Condition, Lock};
    /// # futures_lite::future::block_on(async {
    /// let (lock, cond) = (Lock::new(), Condition::new());
    /// let guard = lock.acquire().await;
    /// let wait = cond.wait(guard);
    /// let (guard, _) = futures_lite::future::zip(wait, async {
    ///     while cond.notify(1) == 0 {
    ///         futures_lite::future::yield_now().await;
    ///     }
    /// })
    /// .await;
    /// assert!(lock.is_locked());
    /// drop(guard);
    /// # });
    /// ```
    pub fn wait<'a, G: ConditionGuard<'a>>(&'a self, guard: G) -> ConditionWait<'a, G> {
        ConditionWait::new(self, guard, None)
    }

    /// Blocks the current execution unit until notified; returns with the
    /// lock held again.
    ///
    /// ```
    /// use polysync::{Condition, Mutex};
    /// use std::sync::Arc;
    /// let pair = Arc::new((Mutex::new(0), Condition::new()));
    /// let t = {
    ///     let pair = pair.clone();
    ///     std::thread::spawn(move || {
    ///         let (m, c) = &*pair;
    ///         let mut g = m.lock_blocking();
    ///         while *g == 0 {
    ///             g = c.wait_blocking(g);
    ///         }
    ///     })
    /// };
    /// *pair.0.lock_blocking() = 1;
    /// pair.1.notify_all();
    /// t.join().unwrap();
    /// ```
    pub fn wait_blocking<'a, G: ConditionGuard<'a>>(&'a self, guard: G) -> G {
        // Without a deadline only a notification ends the wait.
        self.wait_until_inner(guard, None)
            .unwrap_or_else(|guard| guard)
    }

    /// Blocks on `waiter` until notified, `deadline` passes or the waiter
    /// reports cancellation: the entry point that every blocking wait runs
    /// with the current unit's waiter. Returns the guard with the lock held
    /// again after a notification.
    ///
    /// # Errors
    /// - [`ConditionWaitError::TimedOut`]: the deadline passed; the lock is
    ///   held again (the guard is in the error). If a notification had
    ///   already handed the lock back as the wait gave up, it counts: the
    ///   result is `Ok`. A notification that had only moved the wait to the
    ///   lock's queue is passed on to another waiter (never lost), and the
    ///   lock is taken again as after a time-out.
    /// - [`ConditionWaitError::Cancelled`]: the waiter reported
    ///   cancellation, while waiting for the notification or for the lock
    ///   afterwards. The lock is **not** held (the guard is gone) and a
    ///   notification the wait had received is passed on to another waiter.
    ///
    /// ```
    /// use polysync::condition::ConditionWaitError;
    /// use polysync::lowlevel::ThreadWaiter;
    /// use std::time::Instant;
    ///
    /// let (m, cond) = (polysync::Mutex::new(0), polysync::Condition::new());
    /// ThreadWaiter::with_current(|w| {
    ///     let guard = m.lock_blocking();
    ///     match cond.wait_with(guard, w, Some(Instant::now())) {
    ///         Err(ConditionWaitError::TimedOut(guard)) => assert_eq!(*guard, 0),
    ///         _ => unreachable!("nobody notifies"),
    ///     }
    /// });
    /// ```
    pub fn wait_with<'a, G: ConditionGuard<'a>, W: Waiter + ?Sized>(
        &'a self,
        guard: G,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<G, ConditionWaitError<G>> {
        let owner = Owner::of(current_unit());
        let wait = pin!(ConditionWait::new(self, guard, Some(owner)));
        let (error, left) = match drive(waiter, wait, deadline) {
            Ok(guard) => return Ok(guard),
            Err(gave_up) => gave_up,
        };
        let (mut kept, levels) = left;
        if error == WaitError::Cancelled {
            // Withdrawn: a notification it had received was passed on.
            return Err(ConditionWaitError::Cancelled);
        }
        match kept.guard.reacquire_with(levels, waiter) {
            Ok(()) => Err(ConditionWaitError::TimedOut(kept.take())),
            Err(_) => Err(ConditionWaitError::Cancelled),
        }
    }

    /// Like [`wait_blocking`](Condition::wait_blocking), giving up after
    /// `timeout`. The lock is held again either way: `Ok(guard)` if
    /// notified, `Err(guard)` if the time ran out (the crate's timed forms
    /// say "timed out" the way the plain form says "not now"; a condition
    /// has no plain form, and must give the guard back either way).
    ///
    /// ```
    /// use std::time::Duration;
    /// let (lock, cond) = (polysync::Lock::new(), polysync::Condition::new());
    /// let guard = cond
    ///     .try_wait_for(lock.acquire_blocking(), Duration::from_millis(5))
    ///     .unwrap_err(); // nobody notified
    /// assert!(lock.is_locked()); // held again after the timeout
    /// drop(guard);
    /// ```
    pub fn try_wait_for<'a, G: ConditionGuard<'a>>(
        &'a self,
        guard: G,
        timeout: Duration,
    ) -> Result<G, G> {
        self.wait_until_inner(guard, deadline_after(timeout))
    }

    /// Like [`try_wait_for`](Condition::try_wait_for) with a deadline.
    ///
    /// ```
    /// let (lock, cond) = (polysync::Lock::new(), polysync::Condition::new());
    /// let timed_out = cond.try_wait_until(lock.acquire_blocking(), std::time::Instant::now());
    /// assert!(timed_out.is_err());
    /// ```
    pub fn try_wait_until<'a, G: ConditionGuard<'a>>(
        &'a self,
        guard: G,
        deadline: Instant,
    ) -> Result<G, G> {
        self.wait_until_inner(guard, Some(deadline))
    }

    /// Waits asynchronously while `condition` returns `true` (aiologic's
    /// `wait_for(predicate)` with the predicate negated, std's `wait_while`).
    /// The predicate runs with the lock held.
    ///
    /// # Cancel safety
    /// The future holds the guard, or one [`wait`](Condition::wait) at a
    /// time, so dropping it is dropping one of those: before its first
    /// poll, the guard drops and the lock is released; while it waits, as
    /// for [`wait`](Condition::wait): it leaves whichever queue it is in,
    /// passes on a notification it received (and the lock, if it was
    /// handed over), and the lock is not held afterwards. No notification
    /// is lost; the predicate is not called again.
    ///
    /// ```
    /// use polysync::{Condition, Mutex};
    /// # futures_lite::future::block_on(async {
    /// let (items, cond) = (Mutex::new(vec![1]), Condition::new());
    /// let guard = cond.wait_while(items.lock().await, |items| items.is_empty()).await;
    /// assert_eq!(*guard, [1]); // the predicate was already false: no wait
    /// # });
    /// ```
    pub async fn wait_while<'a, G: ConditionGuard<'a>>(
        &'a self,
        mut guard: G,
        mut condition: impl FnMut(&mut G) -> bool,
    ) -> G {
        while condition(&mut guard) {
            guard = self.wait(guard).await;
        }
        guard
    }

    /// Blocks while `condition` returns `true`.
    ///
    /// ```
    /// let (m, c) = (polysync::Mutex::new(1), polysync::Condition::new());
    /// let g = c.wait_while_blocking(m.lock_blocking(), |v| **v == 0);
    /// assert_eq!(*g, 1);
    /// ```
    pub fn wait_while_blocking<'a, G: ConditionGuard<'a>>(
        &'a self,
        mut guard: G,
        mut condition: impl FnMut(&mut G) -> bool,
    ) -> G {
        while condition(&mut guard) {
            guard = self.wait_blocking(guard);
        }
        guard
    }

    /// Blocks while `condition` returns `true`, at most for `timeout`.
    /// The lock is held again either way: `Ok(guard)` once the condition is
    /// false, `Err(guard)` if the time ran out while it was still true.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (m, c) = (polysync::Mutex::new(0), polysync::Condition::new());
    /// let g = c
    ///     .try_wait_while_for(m.lock_blocking(), Duration::from_millis(5), |v| **v == 0)
    ///     .unwrap_err(); // still 0
    /// assert_eq!(*g, 0);
    /// ```
    pub fn try_wait_while_for<'a, G: ConditionGuard<'a>>(
        &'a self,
        mut guard: G,
        timeout: Duration,
        mut condition: impl FnMut(&mut G) -> bool,
    ) -> Result<G, G> {
        let deadline = deadline_after(timeout);
        while condition(&mut guard) {
            match self.wait_until_inner(guard, deadline) {
                Ok(next) => guard = next,
                Err(mut next) => {
                    return if condition(&mut next) {
                        Err(next)
                    } else {
                        Ok(next)
                    };
                }
            }
        }
        Ok(guard)
    }

    fn wait_until_inner<'a, G: ConditionGuard<'a>>(
        &'a self,
        guard: G,
        deadline: Option<Instant>,
    ) -> Result<G, G> {
        with_current_waiter(|waiter| match self.wait_with(guard, waiter, deadline) {
            Ok(guard) => Ok(guard),
            Err(ConditionWaitError::TimedOut(guard)) => Err(guard),
            Err(ConditionWaitError::Cancelled) => waiter.cancelled(),
        })
    }

    /// Wakes up to `n` waiters, oldest first, and returns how many it woke.
    /// Each is moved to its lock's queue (or handed the lock if it is free);
    /// waiters that arrive while this runs are not woken by it.
    ///
    /// ```
    /// let c = polysync::Condition::new();
    /// assert_eq!(c.notify(3), 0); // nobody waits
    /// ```
    pub fn notify(&self, n: usize) -> usize {
        if n == 0 || self.queue.len() == 0 {
            return 0;
        }
        let mut woken = 0;
        let mut round = None;
        wake_in_batches(&self.queue, None, |guard, wakers| {
            // This notify serves the waiters queued up to now; it moves the
            // round on, so waiters that queue while it runs are skipped.
            let current = *round.get_or_insert_with(|| {
                let current = guard.user() as u32;
                guard.set_user(u64::from(current.wrapping_add(1)));
                current
            });
            while woken < n {
                if wakers.is_full() {
                    return Batch::More;
                }
                let entry = guard.front_node().cast::<Entry<Return>>();
                if entry.is_null() {
                    return Batch::Last;
                }
                // SAFETY: the entry is queued here and we hold this queue's
                // lock, so it is alive, and it was queued through `node_of`,
                // so the pointer covers the whole entry, slot included.
                let slot = unsafe { &(*entry).slot };
                let (entry_round, lock) = (slot.round.load(Ordering::Relaxed), slot.lock());
                let in_condition = &slot.in_condition;
                if current.wrapping_sub(entry_round) >= 1 << 31 {
                    return Batch::Last; // queued after this notify began
                }
                let mut node = guard.detach_front().expect("the front exists");
                // Under the condition's lock: the waiter reads it there.
                in_condition.store(false, Ordering::Relaxed);
                let owner: Owner = node.data();
                let mut lock_queue = Protocol::queue(lock).lock();
                if Protocol::arrive_moved_locked(lock, &mut lock_queue, owner, &()).is_ok() {
                    // The lock is free: hand it over at once.
                    // SAFETY: the waiter looks at its node only under the
                    // condition's lock (its `in_condition` check), which
                    // `node` keeps held (it borrows `guard`).
                    wakers.push(unsafe { lock_queue.notify_detached(node, owner) });
                } else {
                    // Queue it for the lock, asleep: the lock's release wakes it.
                    node.set_data(owner);
                    // SAFETY: as above.
                    unsafe { lock_queue.attach(node) };
                }
                drop(lock_queue);
                woken += 1;
            }
            Batch::Last
        });
        woken
    }

    /// Wakes every waiter that is waiting now; returns how many.
    ///
    /// ```
    /// assert_eq!(polysync::Condition::new().notify_all(), 0);
    /// ```
    pub fn notify_all(&self) -> usize {
        self.notify(usize::MAX)
    }

    /// How many units wait on the condition now (a snapshot; notified waiters
    /// queued for their lock are no longer counted here).
    ///
    /// ```
    /// assert_eq!(polysync::Condition::new().waiting(), 0);
    /// ```
    pub fn waiting(&self) -> usize {
        self.queue.len()
    }
}

impl Default for Condition {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Condition")
            .field("waiting", &self.waiting())
            .finish()
    }
}

/// Why [`Condition::wait_with`] returned without a notification.
#[derive(Debug, PartialEq, Eq)]
pub enum ConditionWaitError<G> {
    /// The deadline passed. The lock is held again: here is the guard.
    TimedOut(G),
    /// The waiter reported cancellation. The lock is not held; a
    /// notification the wait had received was passed on.
    Cancelled,
}

impl<G> std::fmt::Display for ConditionWaitError<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConditionWaitError::TimedOut(_) => "polysync: the condition wait timed out",
            ConditionWaitError::Cancelled => {
                "polysync: the condition wait was cancelled (the lock is not held)"
            }
        })
    }
}

impl<G: std::fmt::Debug> std::error::Error for ConditionWaitError<G> {}

/// The future of [`Condition::wait`]; resolves to the guard, with the lock
/// held again.
#[must_use = "futures do nothing unless polled"]
pub struct ConditionWait<'a, G> {
    /// The crate's one wait state machine with the condition's protocol.
    /// Structurally pinned.
    wait: Wait<'a, Condition>,
    /// The guard: live until the first poll gives the lock up, then kept
    /// as a token of the lock until the lock is back.
    guard: Kept<G>,
    /// The levels to restore (set by the first poll).
    levels: usize,
}

impl<'a, G: ConditionGuard<'a>> ConditionWait<'a, G> {
    fn new(cond: &'a Condition, guard: G, owner: Option<Owner>) -> Self {
        ConditionWait {
            wait: Wait::with_slot(
                cond,
                owner.unwrap_or(Owner::UNKNOWN),
                Return::new(guard.raw_lock()),
            ),
            guard: Kept::live(guard),
            levels: 0,
        }
    }
}

impl<'a, G> ConditionWait<'a, G> {
    /// The pinned core wait and the unpinned rest.
    fn project(self: Pin<&mut Self>) -> (Pin<&mut Wait<'a, Condition>>, &mut Kept<G>, &mut usize) {
        // SAFETY: `wait` is structurally pinned: it is never moved out of
        // this future, and the pin is only handed to it. The other fields
        // are not pinned and are only read or replaced in place.
        unsafe {
            let this = self.get_unchecked_mut();
            (
                Pin::new_unchecked(&mut this.wait),
                &mut this.guard,
                &mut this.levels,
            )
        }
    }
}

/// The condition's side of the crate's wait state machine: a waiter queues
/// in the condition's queue; `notify` moves it to its lock's queue (or hands
/// it the lock at once); its node's data is the owner to hand the lock to.
impl Protocol for Condition {
    type Tag = Owner;
    type Outcome = Owner;
    type Slot = Return;

    fn queue(&self) -> &WaitQueue {
        &self.queue
    }

    /// A condition wait always waits for a notification.
    fn try_fast(&self, _: Owner, _: &Return) -> Option<Owner> {
        None
    }

    /// Records the round it arrives in and that it is in the condition's
    /// queue; then it queues.
    fn arrive_locked(
        &self,
        guard: &mut QueueGuard<'_>,
        owner: Owner,
        slot: &Return,
    ) -> Result<Owner, Owner> {
        slot.round.store(guard.user() as u32, Ordering::Relaxed);
        slot.in_condition.store(true, Ordering::Relaxed);
        Err(owner)
    }

    /// The condition's queue while `in_condition` is set (read under its
    /// lock), else the lock's queue, whose lock then guards the node.
    fn lock_holding<'s>(&'s self, entry: &'s Entry<Return>) -> Option<QueueGuard<'s>> {
        let queue = self.queue.lock();
        if entry.slot.in_condition.load(Ordering::Relaxed) {
            return Some(queue);
        }
        drop(queue);
        let queue = Protocol::queue(entry.slot.lock()).lock();
        (entry.node.state() == WAITING).then_some(queue)
    }

    /// In the lock's queue, a waiter is the lock's: it retries as the
    /// lock's own waiters do (bounded fairness).
    fn retries(&self) -> bool {
        true
    }

    /// In the lock's queue (the caller holds its lock): the lock's retry.
    /// In the condition's queue: never (a notification moves it).
    fn retry_front_locked(
        &self,
        guard: &mut QueueGuard<'_>,
        owner: Owner,
        slot: &Return,
    ) -> Option<Owner> {
        if slot.in_condition.load(Ordering::Relaxed) {
            return None;
        }
        slot.lock().retry_front_locked(guard, owner, &())
    }

    /// Left the lock's queue: the lock's bookkeeping (a wake it owed a
    /// retry for is passed on). Left the condition's queue: nothing.
    fn cancelled_at(
        &self,
        guard: &mut QueueGuard<'_>,
        owner: Owner,
        slot: &Return,
        was_front: bool,
    ) {
        if !guard.locks(&self.queue) {
            slot.lock().cancelled_at(guard, owner, &(), was_front);
        }
    }

    /// Handed the lock and the notification, then dropped: give both back.
    fn pass_on(&self, owner: Owner, slot: &Return) {
        slot.lock().pass_on(owner, &());
        self.notify(1);
    }

    /// Left the lock's queue, where a notification had moved it: the
    /// notification must not be lost. (Left the condition's queue: it was
    /// never notified.)
    fn after_cancelled(&self, _: Owner, slot: &Return) {
        if !slot.in_condition.load(Ordering::Relaxed) {
            self.notify(1);
        }
    }
}

impl<'a, G: ConditionGuard<'a>> Withdraw for ConditionWait<'a, G> {
    /// The guard, kept as a token of its lock (not holding it), and the
    /// levels to restore: what taking the lock again needs.
    type Left = (Kept<G>, usize);

    /// `Ok(guard)` if the lock was handed back with a notification first;
    /// else `Err` (a notification that had only moved the wait to the lock's
    /// queue is passed on to another waiter; the lock is not held).
    fn withdraw(self: Pin<&mut Self>) -> Result<G, Self::Left> {
        let (wait, kept, levels) = self.project();
        assert!(
            !kept.live,
            "polysync: a condition wait withdrawn before its first poll"
        );
        match wait.withdraw() {
            Ok(()) => {
                kept.guard.take_back(*levels);
                Ok(kept.take())
            }
            Err(()) => {
                let token = Kept {
                    // SAFETY: the token leaves the future, which is finished
                    // (withdrawn) and never reads its slot again; neither
                    // copy is live, so neither is ever dropped as a guard.
                    guard: unsafe { std::ptr::read(&kept.guard) },
                    live: false,
                };
                Err((token, *levels))
            }
        }
    }
}

impl<'a, G: ConditionGuard<'a>> Future for ConditionWait<'a, G> {
    type Output = G;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<G> {
        let (mut wait, kept, levels) = self.project();
        if kept.live {
            // The first poll: queue the entry, then give the lock up.
            if wait.entry().node.data::<Owner>() == Owner::UNKNOWN {
                wait.set_tag(G::async_owner());
            }
            let queued = wait.as_mut().poll(cx).is_pending();
            debug_assert!(queued, "a condition wait always queues");
            // Only now give the lock up: a notify after this sees us.
            *levels = kept.guard.give_up();
            kept.live = false;
            return Poll::Pending;
        }
        ready!(wait.poll(cx));
        kept.guard.take_back(*levels);
        Poll::Ready(kept.take())
    }
}

impl<'a, G: ConditionGuard<'a>> std::fmt::Debug for ConditionWait<'a, G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConditionWait")
            .field("condition", self.wait.protocol())
            .field("node", &self.wait.entry().node)
            .finish()
    }
}
