//! The only place that names `std::sync::atomic`, `std::cell::UnsafeCell`,
//! `std::thread` and `thread_local!` for the waiting machinery, and the only
//! place that says `polysync_loom`. Under `--cfg polysync_loom` the same
//! names come from loom, so the loom models check the real code, and the
//! primitives read the same in both builds.
//!
//! What differs under loom, all of it here:
//! - the atomics, `UnsafeCell`, threads, parking and thread-locals are
//!   loom's, which it tracks;
//! - nothing spins ([`MAY_SPIN`] is `false`, [`backoff`] only yields): loom
//!   cannot bound a spin loop whose yields cost no preemption;
//! - a contended queue lock blocks on a loom mutex ([`Serial`]) instead of
//!   spinning, for the same reason;
//! - constructors are not `const` ([`const_fn!`]): loom's atomics have no
//!   `const` constructors;
//! - there is no clock: [`park_until`] ignores deadlines (the models use none),
//!   and [`wait_timeout`] on a condvar (the bridge pool's idle wait) waits
//!   without a deadline, except that a zero timeout gives the lock up for a
//!   moment and reports a time-out: that is how a model lets an idle
//!   thread's timeout fire anywhere while the lock is free.
//!
//! (Unit tests of crate internals are gated `cfg(all(test, not(polysync_loom)))`:
//! they run on real threads and are not loom models.)

#[cfg(not(polysync_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering, fence};
#[cfg(not(polysync_loom))]
pub(crate) use std::thread;

#[cfg(polysync_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering, fence};
#[cfg(polysync_loom)]
pub(crate) use loom::thread;

// The blocking locks of the primitives that keep user values in slots a
// lock guards (the broadcast ring, the oneshot receiver's waker slot):
// std's, or loom's in the models.
#[cfg(polysync_loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard};
#[cfg(not(polysync_loom))]
pub(crate) use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard};

// The bridge pool's monitor (its lock is the `Mutex` above): std's
// condvar, or loom's in the models.
#[cfg(polysync_loom)]
pub(crate) use loom::sync::Condvar;
#[cfg(not(polysync_loom))]
pub(crate) use std::sync::Condvar;

/// Waits on `condvar` (releasing `guard`, a guard of `mutex`) until it is
/// notified or `timeout` passes; returns the guard again and whether the
/// wait timed out. A poisoned lock is taken anyway (its holder's data is
/// the caller's to judge). The caller must re-check its condition either
/// way: like std's, the wait may end spuriously, and a notification may
/// race the time-out (both happened: `true` is reported).
///
/// Under loom, which has no clock (and whose `wait_timeout` never times
/// out), a non-zero `timeout` waits for a notification only, and a zero
/// `timeout` releases the lock, yields and takes it again, then reports a
/// time-out (std also times a zero wait out at once): so a model chooses
/// where the time-out fires by the schedule, with the lock free meanwhile.
pub(crate) fn wait_timeout<'a, T>(
    condvar: &Condvar,
    mutex: &'a Mutex<T>,
    guard: MutexGuard<'a, T>,
    timeout: std::time::Duration,
) -> (MutexGuard<'a, T>, bool) {
    #[cfg(not(polysync_loom))]
    {
        let _ = mutex;
        let (guard, wait) = condvar
            .wait_timeout(guard, timeout)
            .unwrap_or_else(|e| e.into_inner());
        (guard, wait.timed_out())
    }
    #[cfg(polysync_loom)]
    {
        if timeout.is_zero() {
            drop(guard);
            thread::yield_now();
            (mutex.lock().unwrap_or_else(|e| e.into_inner()), true)
        } else {
            (
                condvar.wait(guard).unwrap_or_else(|e| e.into_inner()),
                false,
            )
        }
    }
}

/// `thread_local!` as loom sees it (`per_thread!` because `thread_local` is
/// also a built-in attribute): under loom every model thread gets its
/// own value. One `static` per invocation; a `const { ... }` initializer
/// makes a `const` thread-local in real builds (loom's macro has no such
/// form: it gets the plain expression).
macro_rules! per_thread {
    ($(#[$attr:meta])* static $name:ident: $t:ty = const $init:block;) => {
        #[cfg(not(polysync_loom))]
        ::std::thread_local! { $(#[$attr])* static $name: $t = const $init; }
        #[cfg(polysync_loom)]
        ::loom::thread_local! { $(#[$attr])* static $name: $t = $init; }
    };
    ($(#[$attr:meta])* static $name:ident: $t:ty = $init:expr;) => {
        #[cfg(not(polysync_loom))]
        ::std::thread_local! { $(#[$attr])* static $name: $t = $init; }
        #[cfg(polysync_loom)]
        ::loom::thread_local! { $(#[$attr])* static $name: $t = $init; }
    };
}
pub(crate) use per_thread;

/// Whether a waiter may spin before it sleeps. `true` on real threads;
/// `false` under loom, where a spin loop gives the model checker unbounded
/// schedules that no real scheduler produces. Spinning code tests this
/// constant instead of a `cfg`, so it is compiled (and reads the same) in
/// both builds.
pub(crate) const MAY_SPIN: bool = cfg!(not(polysync_loom));

/// One pause of a spin loop.
#[inline(always)]
pub(crate) fn spin_loop() {
    #[cfg(not(polysync_loom))]
    std::hint::spin_loop();
    #[cfg(polysync_loom)]
    loom::hint::spin_loop();
}

/// Offers the core to another thread.
#[inline]
pub(crate) fn yield_now() {
    thread::yield_now();
}

/// Parks the calling thread until it is unparked (possibly spuriously) or
/// `deadline` passes. Returns `false`, without parking, if `deadline` has
/// passed already. loom has no clock (its models never use deadlines): there
/// it just parks.
#[inline]
pub(crate) fn park_until(deadline: Option<std::time::Instant>) -> bool {
    #[cfg(not(polysync_loom))]
    match deadline {
        None => thread::park(),
        Some(deadline) => {
            let now = std::time::Instant::now();
            if now >= deadline {
                return false;
            }
            thread::park_timeout(deadline - now);
        }
    }
    #[cfg(polysync_loom)]
    {
        let _ = deadline;
        thread::park();
    }
    true
}

/// What a `WaitQueue` keeps beside its lock bit to serialize contended
/// `lock()` calls: nothing in real builds (zero-sized, free), a mutex under
/// loom. There, contended `lock()` calls block on it instead of spinning:
/// loom cannot bound a spin loop whose yields cost no preemption, and three
/// threads spinning on one bit exhaust its branch budget on schedules no
/// real scheduler produces. The lock bit and its interplay with the
/// lock-free fast paths stay exactly as in real runs.
#[cfg(not(polysync_loom))]
pub(crate) struct Serial;

/// Held by a `QueueGuard` for as long as the queue lock (see [`Serial`]).
#[cfg(not(polysync_loom))]
pub(crate) struct SerialGuard<'a>(std::marker::PhantomData<&'a ()>);

#[cfg(not(polysync_loom))]
impl Serial {
    pub(crate) const fn new() -> Serial {
        Serial
    }

    #[inline(always)]
    pub(crate) fn enter(&self) -> SerialGuard<'_> {
        SerialGuard(std::marker::PhantomData)
    }
}

#[cfg(polysync_loom)]
pub(crate) struct Serial(loom::sync::Mutex<()>);

#[cfg(polysync_loom)]
pub(crate) struct SerialGuard<'a> {
    _held: loom::sync::MutexGuard<'a, ()>,
}

#[cfg(polysync_loom)]
impl Serial {
    pub(crate) fn new() -> Serial {
        Serial(loom::sync::Mutex::new(()))
    }

    pub(crate) fn enter(&self) -> SerialGuard<'_> {
        SerialGuard {
            _held: self
                .0
                .lock()
                .expect("never poisoned: nothing panics under it"),
        }
    }
}

/// `UnsafeCell` with loom's closure-based access API, so that loom can track
/// every access to cell contents in its models.
#[cfg(not(polysync_loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(polysync_loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }

    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

#[cfg(polysync_loom)]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(loom::cell::UnsafeCell<T>);

#[cfg(polysync_loom)]
impl<T> UnsafeCell<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(loom::cell::UnsafeCell::new(value))
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        self.0.with(f)
    }

    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        self.0.with_mut(f)
    }
}

/// One step of a bounded exponential back-off used while another thread holds a
/// queue's short critical section. Under loom every step yields, so the model
/// checker can schedule the holder.
#[inline]
pub(crate) fn backoff(step: &mut u32) {
    if MAY_SPIN && *step < 6 {
        for _ in 0..(1u32 << *step) {
            spin_loop();
        }
        *step += 1;
    } else {
        // The holder was probably preempted: give it our core.
        yield_now();
    }
}

/// Declares a function `const` outside loom (so primitives can live in
/// `static`s) and non-`const` under loom, whose atomics have no `const` constructors.
macro_rules! const_fn {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($args:tt)*) -> $ret:ty $body:block) => {
        #[cfg(not(polysync_loom))]
        $(#[$meta])* $vis const fn $name($($args)*) -> $ret $body
        #[cfg(polysync_loom)]
        $(#[$meta])* $vis fn $name($($args)*) -> $ret $body
    };
}
pub(crate) use const_fn;
