//! [`Lock`] as a [`lock_api`] raw mutex (feature `lock_api`), so that
//! `lock_api::Mutex<polysync::Lock, T>` and code written generically over
//! [`lock_api::RawMutex`] work with it, in every world the crate serves: a
//! `lock()` in a may coroutine or a green thread parks the coroutine, not
//! its carrier thread.
//!
//! ```
//! let m: lock_api::Mutex<polysync::Lock, Vec<u32>> = lock_api::Mutex::new(Vec::new());
//! std::thread::scope(|s| {
//!     for i in 0..4 {
//!         let m = &m;
//!         s.spawn(move || m.lock().push(i));
//!     }
//! });
//! assert_eq!(m.lock().len(), 4);
//! ```
//!
//! `unlock` releases as the lock's mode says (the oldest waiter woken to
//! compete for [`Lock::new`], which `INIT` uses, and [`Lock::new_bounded`];
//! strict hand-off for [`Lock::new_fair`]); [`unlock_fair`](lock_api::RawMutexFair::unlock_fair)
//! and [`bump`](lock_api::RawMutexFair::bump) always hand the lock straight
//! to the oldest waiter, as lock_api documents them. Locking a `Lock` its caller already holds panics, as
//! [`Lock::acquire_blocking`] does, instead of deadlocking.
//!
//! # A `lock()` that cannot wait aborts
//! lock_api's `lock()` cannot fail, and lock_api calls it while a guard is
//! alive that released the lock just before (`MutexGuard::bump`,
//! `MutexGuard::unlocked`): if it unwound without the lock, that guard
//! would survive and free (or read through) the lock of the unit that was
//! handed it. So when the wait itself fails (the unit's waiter reports
//! cancellation, as a cancelled may coroutine's does; a backend refuses to
//! block there, as polysync-tokio does on a current-thread runtime) the
//! process **aborts** with a message, instead of panicking as
//! [`Lock::acquire_blocking`] would. The re-entry panic stays a panic (the
//! unit that unwinds is the holder, so no other unit's lock is touched).
//! Where a wait may be cancelled or refused, use polysync's own forms
//! ([`Lock::acquire_with`], [`Lock::try_acquire_for`], `acquire().await`),
//! which report it. For the same reason a release through lock_api
//! (`unlock`, `unlock_fair`, `bump`) whose wake-up of the next waiter
//! panics (a user's waker) aborts instead of unwinding.

use crate::Lock;
use crate::lock::Caller;
use crate::lowlevel::wait::Protocol;
use crate::lowlevel::{Owner, current_unit, with_current_waiter};
use std::time::{Duration, Instant};

// SAFETY: `lock` and the successful `try_*` forms return only once the lock
// is held by the caller, and nobody else can hold it until `unlock`; the
// lock is not reentrant (a second `lock` by the holder panics rather than
// returning). `unlock` releases exactly one hold, and never unwinds (a
// waker that panics as the release hands the lock over aborts, in
// `AbortOnUnwind`), so lock_api's `unlocked` cannot unwind from it with
// its guard alive and the lock handed away. lock_api calls it only
// while its guard holds the lock, and that stays true along the paths
// where lock_api releases and re-locks with the guard alive (`bump`,
// `MutexGuard::unlocked`): `lock` never returns or unwinds without the
// lock, except for the re-entry panic, which only fires when the calling
// unit is the holder (the `owner` hint can miss a holder, never invent
// one), so the guard that survives that unwind releases its own unit's
// hold. Every other failure of the wait (a waiter that reports
// `Cancelled`, a backend that refuses to block and panics, a green
// thread's cancellation unwinding) aborts the process in `lock_or_abort`
// instead of unwinding without the lock. A `Lock` may be released from
// another thread than the one that took it (its hand-off does not care
// which thread releases), so guards may be sent (`GuardSend`).
unsafe impl ::lock_api::RawMutex for Lock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Lock = Lock::new();

    type GuardMarker = ::lock_api::GuardSend;

    #[track_caller]
    fn lock(&self) {
        let me = Owner::of(current_unit());
        if self.try_fast(me, &()).is_some() {
            return;
        }
        // The one panic: the caller holds the lock (see the SAFETY above).
        self.refuse_holder(me, Caller::LockApiLock);
        self.lock_or_abort("lock");
    }

    fn try_lock(&self) -> bool {
        self.try_acquire().map(std::mem::forget).is_some()
    }

    unsafe fn unlock(&self) {
        // A release wakes the waiter it hands the lock to, and a user's
        // waker may panic; lock_api's `unlocked` releases with its guard
        // alive, so that unwind would leave the guard without the lock.
        let bomb = AbortOnUnwind("unlock");
        self.release();
        std::mem::forget(bomb);
    }

    fn is_locked(&self) -> bool {
        Lock::is_locked(self)
    }
}

impl Lock {
    /// Waits for the lock with the current unit's waiter; never returns or
    /// unwinds without it. lock_api's `lock` cannot report a failure, and
    /// lock_api may call it with a guard alive that no longer holds the
    /// lock (`bump`, `MutexGuard::unlocked`): an unwind here would leave
    /// that guard to free, or read through, the lock of the unit that was
    /// handed it. So a wait that fails (the waiter reports `Cancelled`; it
    /// or a backend's policy panics) aborts the process, with a message.
    #[cold]
    #[inline(never)]
    fn lock_or_abort(&self, what: &'static str) {
        let bomb = AbortOnUnwind(what);
        let got = with_current_waiter(|w| self.acquire_with_as(w, None, Caller::LockApiLock));
        match got {
            Ok(guard) => {
                std::mem::forget(guard);
                std::mem::forget(bomb);
            }
            Err(error) => {
                std::mem::forget(bomb);
                abort(what, &format!("the wait failed ({error:?})"));
            }
        }
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
        "polysync: lock_api `{what}` on a polysync::Lock: {why}. lock_api cannot report that, \
         and may hold a guard that no longer holds the lock (`bump`, `MutexGuard::unlocked`), \
         which would then release or read through the lock of the unit it was handed to, so \
         the process aborts. Use polysync's own forms (`Lock::acquire_with`, \
         `try_acquire_for`, `acquire().await`) where a wait may be cancelled or refused."
    );
    std::process::abort()
}

// SAFETY: as for `RawMutex`; `unlock_fair` releases exactly one hold, as
// `unlock` does, handing the lock to the oldest waiter if there is one
// (`release_fair`), and never unwinds (`AbortOnUnwind`). `bump` releases
// the same way (to the oldest waiter)
// and re-takes the lock with `lock_or_abort`, which never returns or
// unwinds without it, so the guard that called `bump` holds the lock again
// whenever control comes back to it. The release itself can unwind only
// from a waker's panic, after it handed the lock over: that aborts too.
unsafe impl ::lock_api::RawMutexFair for Lock {
    unsafe fn unlock_fair(&self) {
        // As in `unlock`: a waker's panic must not unwind from here.
        let bomb = AbortOnUnwind("unlock_fair");
        self.release_fair();
        std::mem::forget(bomb);
    }

    unsafe fn bump(&self) {
        if self.waiting() > 0 {
            // The release wakes the waiter it hands the lock to, and a
            // user's waker may panic: that unwind, too, would leave the
            // caller's guard alive without the lock.
            let bomb = AbortOnUnwind("bump");
            self.release_fair();
            std::mem::forget(bomb);
            self.lock_or_abort("bump");
        }
    }
}

// SAFETY: as for `RawMutex`: the timed forms hold the lock exactly when
// they return `true`.
unsafe impl ::lock_api::RawMutexTimed for Lock {
    type Duration = Duration;
    type Instant = Instant;

    fn try_lock_for(&self, timeout: Duration) -> bool {
        self.try_acquire_for(timeout)
            .map(std::mem::forget)
            .is_some()
    }

    fn try_lock_until(&self, deadline: Instant) -> bool {
        self.try_acquire_until(deadline)
            .map(std::mem::forget)
            .is_some()
    }
}
