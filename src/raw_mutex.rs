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
//! The lock is fair: [`unlock_fair`](lock_api::RawMutexFair::unlock_fair)
//! is the same as `unlock` (every release hands the lock straight to the
//! oldest waiter). Locking a `Lock` its caller already holds panics, as
//! [`Lock::acquire_blocking`] does, instead of deadlocking.

use crate::Lock;
use std::time::{Duration, Instant};

// SAFETY: `lock` and the successful `try_*` forms return only once the lock
// is held by the caller, and nobody else can hold it until `unlock`; the
// lock is not reentrant (a second `lock` by the holder panics rather than
// returning); `unlock` releases exactly one hold, and lock_api calls it
// only while the lock is held by its guard. A `Lock` may be released from
// another thread than the one that took it (its hand-off does not care
// which thread releases), so guards may be sent (`GuardSend`).
unsafe impl ::lock_api::RawMutex for Lock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Lock = Lock::new();

    type GuardMarker = ::lock_api::GuardSend;

    fn lock(&self) {
        std::mem::forget(self.acquire_blocking());
    }

    fn try_lock(&self) -> bool {
        self.try_acquire().map(std::mem::forget).is_some()
    }

    unsafe fn unlock(&self) {
        self.release();
    }

    fn is_locked(&self) -> bool {
        Lock::is_locked(self)
    }
}

// SAFETY: as for `RawMutex`; `unlock_fair` is `unlock`, which already hands
// the lock to the oldest waiter, and `bump` gives it to the next waiter, if
// any, and takes it back at its turn.
unsafe impl ::lock_api::RawMutexFair for Lock {
    unsafe fn unlock_fair(&self) {
        self.release();
    }

    unsafe fn bump(&self) {
        if self.waiting() > 0 {
            self.release();
            ::lock_api::RawMutex::lock(self);
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
