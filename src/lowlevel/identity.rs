//! Identities of execution units, used where ownership matters (a lock's
//! owner for the re-entry check). Threads and every backend's units draw
//! from one counter, so identities never collide.

use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};

/// The identity of an execution unit (an OS thread, a coroutine, a green
/// thread). Nonzero and below 2^31, so it packs into a primitive's state word.
///
/// ```
/// use polysync::lowlevel::UnitId;
/// let here = UnitId::current_thread();
/// assert_eq!(here, UnitId::current_thread());
/// let there = std::thread::spawn(UnitId::current_thread).join().unwrap();
/// assert_ne!(here, there);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnitId(NonZeroU32);

static NEXT: AtomicU32 = AtomicU32::new(1);

#[cfg(not(polysync_loom))]
std::thread_local! {
    static THREAD_ID: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}
#[cfg(polysync_loom)]
loom::thread_local! {
    static THREAD_ID: std::cell::Cell<u32> = std::cell::Cell::new(0);
}

impl UnitId {
    /// The largest identity; after 2^31 - 1 allocations the counter wraps.
    pub const MAX: u32 = (1 << 31) - 1;

    /// Allocates a fresh identity (for a backend's new unit).
    pub fn allocate() -> UnitId {
        loop {
            let raw = NEXT.fetch_add(1, Ordering::Relaxed) & Self::MAX;
            if let Some(id) = NonZeroU32::new(raw) {
                return UnitId(id);
            }
        }
    }

    /// The identity of the calling OS thread, allocated on first use.
    #[inline]
    pub fn current_thread() -> UnitId {
        THREAD_ID
            .try_with(|cell| match NonZeroU32::new(cell.get()) {
                Some(id) => UnitId(id),
                None => {
                    let id = UnitId::allocate();
                    cell.set(id.get());
                    id
                }
            })
            // Thread-locals are being torn down: a fresh identity is still
            // unique, it just will not be remembered.
            .unwrap_or_else(|_| UnitId::allocate())
    }

    /// The raw value, in `1..=UnitId::MAX`.
    #[inline]
    pub const fn get(self) -> u32 {
        self.0.get()
    }

    /// Rebuilds an identity from [`UnitId::get`]; `None` for 0 or values above `MAX`.
    #[inline]
    pub const fn from_raw(raw: u32) -> Option<UnitId> {
        if raw > Self::MAX {
            return None;
        }
        match NonZeroU32::new(raw) {
            Some(id) => Some(UnitId(id)),
            None => None,
        }
    }
}

// ---------------------------------------------------------------------------
// Async task identity
// ---------------------------------------------------------------------------

#[cfg(not(polysync_loom))]
std::thread_local! {
    /// The identity of the [`Identified`] future being polled on this thread
    /// right now (0: none). Set and restored around every inner poll.
    static TASK_ID: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}
#[cfg(polysync_loom)]
loom::thread_local! {
    static TASK_ID: std::cell::Cell<u32> = std::cell::Cell::new(0);
}

/// The identity of the [`Identified`] future being polled on this thread, if any.
#[inline]
pub(crate) fn polled_task() -> Option<UnitId> {
    TASK_ID
        .try_with(|cell| UnitId::from_raw(cell.get()))
        .ok()
        .flatten()
}

/// Wraps a future so that it is an execution unit of its own, on any executor.
///
/// An async task has no identity that works on every executor, and the
/// thread that polls it says nothing (a task can migrate between worker
/// threads, and one thread polls many tasks). `Identified` gives the wrapped
/// future one [`UnitId`], allocated once when it is created, and makes
/// [`current_unit`](crate::lowlevel::current_unit) and
/// [`current_task`](crate::lowlevel::current_task) return it **during each of
/// its polls**: a thread-local is set before the inner poll and restored
/// after it (also on panic), so it is read afresh after every suspension
/// and never leaks into other tasks polled by the same thread. Nested
/// wrappers: the innermost one wins while it is polled.
///
/// Reentrant primitives ([`RLock`](crate::RLock),
/// [`CapacityLimiter`](crate::CapacityLimiter), ...) use it to recognise their
/// owner. Wrap the whole task once, at spawn time:
///
/// ```
/// use polysync::lowlevel::{current_task, identified};
///
/// # futures_lite::future::block_on(async {
/// let task = identified(async {
///     let me = current_task().unwrap();
///     futures_lite::future::yield_now().await;
///     assert_eq!(current_task(), Some(me)); // same identity after a suspension
///     me
/// });
/// let id = task.unit();
/// assert_eq!(task.await, id);
/// assert_eq!(current_task(), None); // outside the wrapper: no task identity
/// # });
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Identified<F> {
    inner: F,
    id: UnitId,
}

/// Wraps `fut` in an [`Identified`] with a freshly allocated identity.
///
/// ```
/// let a = polysync::lowlevel::identified(async {});
/// let b = polysync::lowlevel::identified(async {});
/// assert_ne!(a.unit(), b.unit());
/// ```
pub fn identified<F: Future>(fut: F) -> Identified<F> {
    Identified::with_unit(fut, UnitId::allocate())
}

impl<F> Identified<F> {
    /// Wraps `fut` with a given identity (for instance one a task already
    /// has, to let several futures act as one unit).
    ///
    /// ```
    /// use polysync::lowlevel::{Identified, UnitId};
    /// let id = UnitId::allocate();
    /// let fut = Identified::with_unit(async {}, id);
    /// assert_eq!(fut.unit(), id);
    /// ```
    pub const fn with_unit(fut: F, id: UnitId) -> Identified<F> {
        Identified { inner: fut, id }
    }

    /// The identity the wrapped future has during its polls.
    ///
    /// ```
    /// let fut = polysync::lowlevel::identified(async {});
    /// let _ = fut.unit();
    /// ```
    pub const fn unit(&self) -> UnitId {
        self.id
    }

    /// Unwraps the future.
    ///
    /// ```
    /// let fut = polysync::lowlevel::identified(async { 5 });
    /// assert_eq!(futures_lite::future::block_on(fut.into_inner()), 5);
    /// ```
    pub fn into_inner(self) -> F {
        self.inner
    }
}

/// Restores the previous task identity when dropped (also during unwinding).
struct Restore(u32);

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = TASK_ID.try_with(|cell| cell.set(self.0));
    }
}

impl<F: Future> Future for Identified<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is structurally pinned: never moved out of `self`.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        let id = this.id.get();
        let _restore = TASK_ID.try_with(|cell| Restore(cell.replace(id))).ok();
        inner.poll(cx)
    }
}
