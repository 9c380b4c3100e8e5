//! Identities of execution units, used where ownership matters (a lock's
//! owner for the re-entry check). Threads and every backend's units draw
//! from one counter, so identities never collide.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};

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
