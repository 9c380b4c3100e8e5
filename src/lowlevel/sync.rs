//! The only place that names `std::sync::atomic`, `std::cell::UnsafeCell` and
//! `std::thread` for the waiting machinery. Under `--cfg polysync_loom` the same
//! names come from loom, so the loom models check the real code.

#[cfg(not(polysync_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
#[cfg(not(polysync_loom))]
pub(crate) use std::thread;

#[cfg(polysync_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
#[cfg(polysync_loom)]
pub(crate) use loom::thread;

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
    #[cfg(polysync_loom)]
    {
        let _ = step;
        loom::thread::yield_now();
    }
    #[cfg(not(polysync_loom))]
    {
        if *step < 6 {
            for _ in 0..(1u32 << *step) {
                std::hint::spin_loop();
            }
            *step += 1;
        } else {
            // The holder was probably preempted: give it our core.
            std::thread::yield_now();
        }
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
