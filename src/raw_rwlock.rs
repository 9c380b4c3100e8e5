//! [`RawRwLock`] as a [`lock_api`] raw reader-writer lock (feature
//! `lock_api`), with the upgradable, downgrade and timed traits, so that
//! `lock_api::RwLock<polysync::RawRwLock, T>` and code written generically
//! over [`lock_api::RawRwLock`] work with it in every world the crate
//! serves: a `read()` or `write()` in a may coroutine or a green thread
//! parks the coroutine, not its carrier thread.
//!
//! The raw type is [`RawRwLock`] itself (not `RwLock<()>`): lock_api keeps
//! the data, and `RawRwLock` is `const`-constructible, as `INIT` needs.
//!
//! ```
//! use lock_api::RwLockUpgradableReadGuard;
//!
//! let lock: lock_api::RwLock<polysync::RawRwLock, Vec<u32>> = lock_api::RwLock::new(vec![1]);
//! std::thread::scope(|s| {
//!     for i in 2..4 {
//!         let lock = &lock;
//!         s.spawn(move || lock.write().push(i));
//!     }
//! });
//! let u = lock.upgradable_read();
//! assert_eq!(lock.read().len(), 3); // readers share with it
//! let mut w = RwLockUpgradableReadGuard::upgrade(u);
//! w.push(4);
//! assert_eq!(w.len(), 4);
//! ```
//!
//! The fairness is the lock's own (strict FIFO with direct hand-off for
//! `INIT`, [`RawRwLock::new`]; bounded fairness for a lock made with
//! [`RawRwLock::new_bounded`] and wrapped with `lock_api::RwLock::from_raw`;
//! an upgrade goes first in both). Not reentrant, as [`RawRwLock`]: a unit that holds
//! the write lock and asks again, or holds the upgradable read and asks for
//! the write lock or another upgradable read, is refused.
//!
//! # What aborts
//! As for [`Lock`](crate::Lock)'s lock_api impl: lock_api re-locks while a
//! guard is alive that released the lock just before (`unlocked`), and
//! that guard must not survive an unwind without what it releases. So:
//! - a `lock_shared`/`lock_exclusive`/`lock_upgradable` whose wait fails
//!   (the unit's waiter reports cancellation; a backend refuses to block)
//!   **aborts** the process with a message;
//! - a release or downgrade whose wake-up of the next waiters panics (a
//!   user's waker) aborts;
//! - a refused re-entry panics when the hold it found is of the kind being
//!   asked for (a write lock asked again for writing, an upgradable read
//!   asked again for an upgradable read: a guard that survives the unwind
//!   releases that same hold of its own unit), and aborts otherwise (a read
//!   or upgradable guard would release a hold of another kind).
//!
//! An `upgrade` whose wait fails unwinds (or `try_upgrade_for` returns
//! `false`): the upgrade is withdrawn and the upgradable read is still held,
//! which is what the surviving upgradable guard releases. Where a wait may
//! be cancelled or refused, use polysync's own forms (`read_with`,
//! `try_write_for`, `write().await`, ...), which report it.

use crate::RawRwLock;
use crate::lowlevel::wait::{Protocol, blocking};
use crate::lowlevel::{Owner, current_unit, deadline_after, with_current_waiter};
use crate::rwlock::Role;
use std::time::{Duration, Instant};

impl RawRwLock {
    /// The lock_api wait for `role`: refuses a re-entry (see the module
    /// docs: panic or abort), then waits with the current unit's waiter and
    /// never returns or unwinds without what it waited for.
    #[track_caller]
    fn lock_api_lock(&self, role: Role, what: &'static str) {
        if self.try_fast(role, &()).is_some() {
            self.record(role, Owner::of(current_unit()));
            return;
        }
        if let Some(writer) = self.held_by(Owner::of(current_unit()), role) {
            let same_kind = match role {
                Role::Write => writer,
                Role::Upgradable => !writer,
                _ => false,
            };
            if !same_kind {
                abort(
                    what,
                    "the current execution unit holds this lock in another mode (re-entry)",
                );
            }
            self.refuse_current(role, what);
        }
        let bomb = AbortOnUnwind(what);
        let got = with_current_waiter(|w| self.wait_as(w, None, role, what));
        std::mem::forget(bomb);
        if let Err(error) = got {
            abort(what, &format!("the wait failed ({error:?})"));
        }
    }

    /// Runs a release or downgrade that wakes the next waiters: a user's
    /// waker that panics aborts instead of unwinding past a lock_api guard.
    #[inline]
    fn no_unwind(&self, what: &'static str, change: impl FnOnce(&RawRwLock)) {
        let bomb = AbortOnUnwind(what);
        change(self);
        std::mem::forget(bomb);
    }
}

// SAFETY: `lock_shared`/`lock_exclusive` and the successful `try_*` forms
// return only once the caller holds a read share / the write lock, which
// exclude each other (the word's WRITER bit and reader count, see
// `rwlock/raw.rs`). The unlocks release exactly one such hold, and never
// unwind (a waker that panics as the release hands the lock over aborts),
// so lock_api's `unlocked` cannot unwind from them with its guard alive and
// the lock handed away. The waits never return or unwind without the lock
// (`lock_api_lock`), except for a re-entry panic, which fires only when the
// calling unit holds the lock in the very mode it asks for (the `owner`
// hint can miss a holder, never invent one), so a guard that survives that
// unwind releases its own unit's hold of its own kind; a re-entry of
// another kind aborts. A share or the write lock may be released from any
// thread (the hand-off does not care which), so guards may be sent.
unsafe impl ::lock_api::RawRwLock for RawRwLock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: RawRwLock = RawRwLock::new();

    type GuardMarker = ::lock_api::GuardSend;

    #[track_caller]
    fn lock_shared(&self) {
        self.lock_api_lock(Role::Read, "lock_shared");
    }

    fn try_lock_shared(&self) -> bool {
        self.try_read().map(std::mem::forget).is_some()
    }

    unsafe fn unlock_shared(&self) {
        self.no_unwind("unlock_shared", RawRwLock::unlock_read);
    }

    #[track_caller]
    fn lock_exclusive(&self) {
        self.lock_api_lock(Role::Write, "lock_exclusive");
    }

    fn try_lock_exclusive(&self) -> bool {
        self.try_write().map(std::mem::forget).is_some()
    }

    unsafe fn unlock_exclusive(&self) {
        self.no_unwind("unlock_exclusive", RawRwLock::unlock_write);
    }

    fn is_locked(&self) -> bool {
        RawRwLock::is_locked(self)
    }

    fn is_locked_exclusive(&self) -> bool {
        self.is_write_locked()
    }
}

// SAFETY: the caller holds the write lock; `downgrade` turns it into one
// read share without letting a writer in, and never unwinds (see above).
unsafe impl ::lock_api::RawRwLockDowngrade for RawRwLock {
    unsafe fn downgrade(&self) {
        self.no_unwind("downgrade", RawRwLock::downgrade);
    }
}

// SAFETY: `lock_upgradable` and the successful `try_lock_upgradable` return
// only once the caller holds the upgradable read, which excludes writers
// and other upgradable readers; the plain readers it admits beside it only
// read. `upgrade` returns only once the plain readers left and the caller
// holds the write lock in its place; if its wait fails it unwinds with the
// upgrade withdrawn (or, if the write lock was handed over as it gave up,
// turned back), so the caller still holds exactly the upgradable read its
// guard releases. `try_upgrade` holds the write lock exactly when it
// returns `true`. Releases never unwind (see above).
unsafe impl ::lock_api::RawRwLockUpgrade for RawRwLock {
    #[track_caller]
    fn lock_upgradable(&self) {
        self.lock_api_lock(Role::Upgradable, "lock_upgradable");
    }

    fn try_lock_upgradable(&self) -> bool {
        self.try_upgradable_read().map(std::mem::forget).is_some()
    }

    unsafe fn unlock_upgradable(&self) {
        self.no_unwind("unlock_upgradable", RawRwLock::unlock_upgradable);
    }

    unsafe fn upgrade(&self) {
        blocking(|w| self.upgrade_wait(w, None))
            .expect("a wait without a deadline does not time out");
    }

    unsafe fn try_upgrade(&self) -> bool {
        self.try_upgrade_now()
    }
}

// SAFETY: each turns the caller's hold into the other without a gap (the
// word changes once, under the queue lock or by one CAS), and never
// unwinds (see above).
unsafe impl ::lock_api::RawRwLockUpgradeDowngrade for RawRwLock {
    unsafe fn downgrade_upgradable(&self) {
        self.no_unwind("downgrade_upgradable", RawRwLock::downgrade_upgradable);
    }

    unsafe fn downgrade_to_upgradable(&self) {
        self.no_unwind(
            "downgrade_to_upgradable",
            RawRwLock::downgrade_to_upgradable,
        );
    }
}

// SAFETY: the timed forms hold what they asked for exactly when they return
// `true`; lock_api never calls them with a guard alive that released it.
unsafe impl ::lock_api::RawRwLockTimed for RawRwLock {
    type Duration = Duration;
    type Instant = Instant;

    fn try_lock_shared_for(&self, timeout: Duration) -> bool {
        self.try_read_for(timeout).map(std::mem::forget).is_some()
    }

    fn try_lock_shared_until(&self, deadline: Instant) -> bool {
        self.try_read_until(deadline)
            .map(std::mem::forget)
            .is_some()
    }

    fn try_lock_exclusive_for(&self, timeout: Duration) -> bool {
        self.try_write_for(timeout).map(std::mem::forget).is_some()
    }

    fn try_lock_exclusive_until(&self, deadline: Instant) -> bool {
        self.try_write_until(deadline)
            .map(std::mem::forget)
            .is_some()
    }
}

// SAFETY: as for `RawRwLockUpgrade` and `RawRwLockTimed`: a timed upgrade
// that gives up leaves the upgradable read held.
unsafe impl ::lock_api::RawRwLockUpgradeTimed for RawRwLock {
    fn try_lock_upgradable_for(&self, timeout: Duration) -> bool {
        self.try_upgradable_read_for(timeout)
            .map(std::mem::forget)
            .is_some()
    }

    fn try_lock_upgradable_until(&self, deadline: Instant) -> bool {
        self.try_upgradable_read_until(deadline)
            .map(std::mem::forget)
            .is_some()
    }

    unsafe fn try_upgrade_for(&self, timeout: Duration) -> bool {
        blocking(|w| self.upgrade_wait(w, deadline_after(timeout))).is_some()
    }

    unsafe fn try_upgrade_until(&self, deadline: Instant) -> bool {
        blocking(|w| self.upgrade_wait(w, Some(deadline))).is_some()
    }
}

/// Aborts the process if dropped during an unwind from the lock_api call
/// it guards (it is forgotten when the call returns).
struct AbortOnUnwind(&'static str);

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        abort(self.0, "it unwound (see the panic above)");
    }
}

#[cold]
fn abort(what: &str, why: &str) -> ! {
    eprintln!(
        "polysync: lock_api `{what}` on a polysync::RawRwLock: {why}. lock_api cannot report \
         that, and may hold a guard that no longer holds the lock (`unlocked`), which would \
         then release or read through the lock of another unit, so the process aborts. Use \
         polysync's own forms (`RwLock::read_with`, `try_write_for`, `write().await`) where a \
         wait may be cancelled or refused."
    );
    std::process::abort()
}
