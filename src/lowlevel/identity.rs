//! Identities of execution units, used where ownership matters (a lock's
//! owner for the re-entry check).
//!
//! The space of [`UnitId`]s (`1..2^31`) is split in two halves that never
//! overlap:
//!
//! - `1..2^30` (bit 30 clear): [`UnitId::allocate`], one process-wide
//!   counter shared by OS threads, [`identified`] futures and the units of
//!   green backends.
//! - `2^30..2^31` (bit 30 set): [`UnitId::from_task_counter`], the image of
//!   an executor's own sequential task counter (tokio's task ids, through
//!   `polysync-tokio`), so that a task needs no allocation and no table.

use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};

/// The identity of an execution unit (an OS thread, a coroutine, a green
/// thread, an async task). Nonzero and below 2^31, so it packs into a
/// primitive's state word.
///
/// Two sources fill two disjoint halves of that range, so an identity from
/// one never equals an identity from the other:
///
/// | source | range | bit 30 |
/// |---|---|---|
/// | [`UnitId::allocate`] (threads, [`identified`] futures, green backends) | `1 ..= 2^30 - 1` | clear |
/// | [`UnitId::from_task_counter`] (an executor's task ids, e.g. tokio's) | `2^30 ..= 2^31 - 1` | set |
///
/// # When two live units can share an identity
///
/// Identities are compared only while a unit owns something (an
/// [`RLock`](crate::RLock) level, a limiter token), so a repeated value is
/// harmful only if the *older* unit still owns something when the newer one
/// appears.
///
/// - **Allocated identities** repeat with period 2^30 - 1: the n-th
///   allocation in the process gets `(n - 1) mod (2^30 - 1) + 1`, so two
///   allocations collide exactly when a multiple of 1,073,741,823 other
///   allocations happened between them. Each thread allocates once (on its
///   first ownership-related call), each [`identified`] wrapper once, each
///   green unit once.
/// - **Task-counter identities**: raw counters `a` and `b` give the same
///   identity exactly when `a ≡ b (mod 2^30)`. For tokio, whose task ids
///   come from one process-wide counter incremented for every spawned task
///   (also `spawn_blocking` ones, on every runtime), two tasks collide only
///   if a multiple of 2^30 (about 1.07e9) tasks were spawned between them
///   while the older one still owns something.
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
    /// The largest raw value of an identity, `2^31 - 1` (the largest
    /// [`from_task_counter`](UnitId::from_task_counter) value; allocated
    /// identities stay below `2^30`).
    pub const MAX: u32 = (1 << 31) - 1;

    /// Bit 30: set in identities made by
    /// [`from_task_counter`](UnitId::from_task_counter), clear in allocated ones.
    const TASK_BIT: u32 = 1 << 30;

    /// The low 30 bits: the part an allocation or a task counter fills in.
    const LOW_MASK: u32 = Self::TASK_BIT - 1;

    /// Allocates a fresh identity (for a thread, an
    /// [`identified`] future or a backend's new unit), in `1 ..= 2^30 - 1`.
    /// The process-wide counter wraps within that range after 2^30 - 1
    /// allocations (see [`UnitId`] for when that matters).
    ///
    /// ```
    /// use polysync::lowlevel::UnitId;
    /// let a = UnitId::allocate();
    /// let b = UnitId::allocate();
    /// assert_ne!(a, b);
    /// assert!(a.get() < 1 << 30 && b.get() < 1 << 30);
    /// ```
    pub fn allocate() -> UnitId {
        loop {
            // u32 wrap-around is a multiple of 2^30: the masked sequence
            // stays periodic. The counter value 0 (mod 2^30) is skipped.
            if let Some(id) = Self::from_allocation(NEXT.fetch_add(1, Ordering::Relaxed)) {
                return id;
            }
        }
    }

    /// The identity a raw counter value of [`allocate`](UnitId::allocate)
    /// stands for; `None` for the value that is skipped.
    #[inline]
    const fn from_allocation(counter: u32) -> Option<UnitId> {
        match NonZeroU32::new(counter & Self::LOW_MASK) {
            Some(id) => Some(UnitId(id)),
            None => None,
        }
    }

    /// Maps an executor's **sequential** task counter (such as the number
    /// in a tokio `task::Id`) to an identity in `2^30 ..= 2^31 - 1`:
    /// `2^30 | (raw mod 2^30)`. Every `raw` (0 included) gives a valid
    /// identity, never one that [`allocate`](UnitId::allocate) returns.
    /// `raw` and `raw + k·2^30` give the same identity: with a counter that
    /// grows by one per task, two tasks collide only if a multiple of 2^30
    /// tasks were created between them (see [`UnitId`]). A counter that is
    /// not sequential (a hash, an address) gets no such guarantee.
    ///
    /// ```
    /// use polysync::lowlevel::UnitId;
    /// let a = UnitId::from_task_counter(1);
    /// assert_eq!(a.get(), (1 << 30) | 1);
    /// assert_ne!(a, UnitId::from_task_counter(2));
    /// assert_eq!(a, UnitId::from_task_counter(1 + (1 << 30))); // wraps
    /// assert_eq!(UnitId::from_task_counter(0).get(), 1 << 30);
    /// assert_eq!(UnitId::from_task_counter(u64::MAX).get(), UnitId::MAX);
    /// assert_ne!(UnitId::from_task_counter(7), UnitId::allocate()); // disjoint halves
    /// ```
    #[inline]
    pub const fn from_task_counter(raw: u64) -> UnitId {
        let low = (raw & Self::LOW_MASK as u64) as u32;
        match NonZeroU32::new(Self::TASK_BIT | low) {
            Some(id) => UnitId(id),
            // Bit 30 is set: never zero.
            None => unreachable!(),
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

#[cfg(all(test, not(polysync_loom)))]
mod tests {
    use super::UnitId;

    const BIT30: u32 = 1 << 30;

    #[test]
    fn allocated_ids_never_have_bit_30() {
        for _ in 0..10_000 {
            let id = UnitId::allocate();
            assert_eq!(id.get() & BIT30, 0, "{id:?}");
            assert!(id.get() <= UnitId::MAX);
        }
        let counters = [0, 1, 2, BIT30 - 1, BIT30, BIT30 + 1, 1 << 31, u32::MAX];
        for counter in counters {
            if let Some(id) = UnitId::from_allocation(counter) {
                assert_eq!(id.get() & BIT30, 0, "counter {counter}");
                assert_eq!(UnitId::from_raw(id.get()), Some(id));
            }
        }
    }

    #[test]
    fn allocation_wraps_within_the_low_half() {
        // Exactly the multiples of 2^30 are skipped (they would be 0).
        for skipped in [0, BIT30, 2 * BIT30, 3 * BIT30] {
            assert_eq!(UnitId::from_allocation(skipped), None);
        }
        assert_eq!(UnitId::from_allocation(BIT30 - 1).unwrap().get(), BIT30 - 1);
        assert_eq!(UnitId::from_allocation(BIT30 + 1).unwrap().get(), 1);
        assert_eq!(UnitId::from_allocation(u32::MAX).unwrap().get(), BIT30 - 1);
        // After u32 overflow the sequence continues at 1.
        assert_eq!(
            UnitId::from_allocation(u32::MAX.wrapping_add(2))
                .unwrap()
                .get(),
            1
        );
    }

    #[test]
    fn task_counter_ids_always_have_bit_30() {
        let raws = [
            0,
            1,
            2,
            u64::from(BIT30) - 1,
            u64::from(BIT30),
            u64::from(BIT30) + 1,
            u64::from(u32::MAX),
            1 << 40,
            u64::MAX - 1,
            u64::MAX,
        ];
        for raw in raws {
            let id = UnitId::from_task_counter(raw);
            assert_ne!(id.get() & BIT30, 0, "raw {raw}");
            assert!(id.get() <= UnitId::MAX, "raw {raw}");
            assert_eq!(UnitId::from_raw(id.get()), Some(id), "raw {raw}");
            assert_eq!(u64::from(id.get() & (BIT30 - 1)), raw % u64::from(BIT30));
        }
        assert_eq!(UnitId::from_task_counter(0).get(), BIT30);
        assert_eq!(UnitId::from_task_counter(u64::from(BIT30)).get(), BIT30);
        assert_eq!(
            UnitId::from_task_counter(5),
            UnitId::from_task_counter(5 + 3 * u64::from(BIT30))
        );
        assert_ne!(UnitId::from_task_counter(5), UnitId::from_task_counter(6));
    }

    #[test]
    fn thread_ids_are_allocated() {
        let here = UnitId::current_thread();
        let there = std::thread::spawn(UnitId::current_thread).join().unwrap();
        assert_eq!(here.get() & BIT30, 0);
        assert_eq!(there.get() & BIT30, 0);
    }
}
