//! Counting semaphores: [`Semaphore`], [`BoundedSemaphore`] and
//! [`BinarySemaphore`], all on one raw core.
//!
//! Every acquisition takes one permit (`acquire*`) or many at once
//! (`acquire_many*`), borrowed ([`Permit`]) or owned through an `Arc`
//! ([`OwnedPermit`], `'static`), in the five wait forms. Waiters are served
//! strictly FIFO, each request all at once: a large request at the head of
//! the line is never overtaken by smaller ones behind it. A semaphore can
//! be closed: its waiters and later acquisitions fail with a typed error
//! ([`AcquireError`] from the untimed forms, [`TryAcquireError::Closed`]
//! from the `try_*_many` and `*_with` forms, `None` from the one-permit
//! `try_*` forms); nothing panics.
//!
//! Layout: `raw.rs` (the queue word, the one wait protocol, release and
//! close), `futures.rs` (the async acquisitions and the one blocking
//! acquisition), `permit.rs` ([`Permit`], [`OwnedPermit`]), `error.rs`,
//! `methods.rs` (the methods all three types share, written once), and
//! here the three public types.

#[macro_use]
mod methods;
mod error;
mod futures;
mod permit;
mod raw;

pub use error::{AcquireError, TooManyReleases, TryAcquireError};
pub use futures::{Acquire, AcquireMany, OwnedAcquire, OwnedAcquireMany};
pub use permit::{OwnedPermit, Permit, PermitSource};

use crate::lowlevel::sync::const_fn;
use crate::lowlevel::wait::blocking;
use crate::lowlevel::{Waiter, deadline_after};
use raw::{FREE, Kind, RawSemaphore};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A counting semaphore shared by threads, async tasks and green threads.
///
/// Anyone may [`release`](Semaphore::release) permits (there is no owner);
/// [`acquire`](Semaphore::acquire) and its blocking forms return a [`Permit`]
/// that gives its permit back on drop, unless [`forgotten`](Permit::forget);
/// [`acquire_many`](Semaphore::acquire_many) takes several at once. Owned
/// forms ([`acquire_owned`](Semaphore::acquire_owned), ...) on an
/// `Arc<Semaphore>` return an [`OwnedPermit`] that can move into a spawned
/// task. Waiters are served strictly FIFO by direct hand-off, each request
/// all at once. [`close`](Semaphore::close) fails every waiter with a typed
/// error. At most
/// [`Semaphore::MAX_PERMITS`] permits.
///
/// ```
/// use polysync::Semaphore;
/// use std::sync::Arc;
///
/// let sem = Arc::new(Semaphore::new(0));
/// let waiter = {
///     let sem = sem.clone();
///     std::thread::spawn(move || sem.acquire_blocking().unwrap().forget())
/// };
/// sem.release(1);
/// waiter.join().unwrap();
/// assert_eq!(sem.value(), 0);
/// ```
pub struct Semaphore {
    raw: RawSemaphore,
}

impl Semaphore {
    /// The largest number of permits a semaphore holds: `2^31 - 1` (the
    /// queue word keeps one bit for [`close`](Semaphore::close)).
    pub const MAX_PERMITS: usize = FREE as usize;

    const_fn! {
        /// A semaphore with `permits` free permits.
        ///
        /// # Panics
        /// If `permits > Semaphore::MAX_PERMITS`.
        #[track_caller]
        pub fn new(permits: usize) -> Semaphore {
            assert!(permits <= Semaphore::MAX_PERMITS, "polysync: too many permits");
            Semaphore { raw: RawSemaphore::new(permits as u64) }
        }
    }

    acquire_methods!(Semaphore, "Semaphore::new(1)", "Semaphore::new(3)", "3");

    /// Adds `n` permits: hands them to waiters in FIFO order (a waiter for
    /// many permits is served once all of its request fits), and frees the
    /// rest.
    ///
    /// # Panics
    /// If the free permits would exceed [`Semaphore::MAX_PERMITS`].
    ///
    /// ```
    /// let sem = polysync::Semaphore::new(0);
    /// sem.release(3);
    /// assert_eq!(sem.value(), 3);
    /// ```
    #[track_caller]
    pub fn release(&self, n: usize) {
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        if self.raw.release(n.min(FREE + 1), FREE, false).is_err() {
            panic!("polysync: Semaphore::release would exceed MAX_PERMITS");
        }
    }

    /// Adds `n` permits: the same as [`release`](Semaphore::release), under
    /// the name tokio's semaphore uses.
    ///
    /// # Panics
    /// If the free permits would exceed [`Semaphore::MAX_PERMITS`].
    ///
    /// ```
    /// let sem = polysync::Semaphore::new(0);
    /// sem.add_permits(2);
    /// assert_eq!(sem.value(), 2);
    /// ```
    #[track_caller]
    pub fn add_permits(&self, n: usize) {
        self.release(n);
    }
}

impl Kind for Semaphore {
    #[inline]
    fn raw(&self) -> &RawSemaphore {
        &self.raw
    }

    #[inline]
    fn max(&self) -> u64 {
        FREE
    }
}
impl PermitSource for Semaphore {}

/// A semaphore whose free permits may never exceed a maximum: releasing past
/// it is a [`TooManyReleases`] error (it catches unbalanced releases).
///
/// ```
/// use polysync::BoundedSemaphore;
/// let sem = BoundedSemaphore::new(1, 1);
/// let permit = sem.acquire_blocking().unwrap();
/// drop(permit);
/// assert!(sem.release(1).is_err());
/// assert_eq!(sem.value(), 1);
/// ```
pub struct BoundedSemaphore {
    raw: RawSemaphore,
    max: u32,
}

impl BoundedSemaphore {
    const_fn! {
        /// A semaphore with `permits` free permits that never holds more than `max`.
        ///
        /// # Panics
        /// If `permits > max` or `max > Semaphore::MAX_PERMITS`.
        #[track_caller]
        pub fn new(permits: usize, max: usize) -> BoundedSemaphore {
            assert!(permits <= max, "polysync: initial permits above the maximum");
            assert!(max <= Semaphore::MAX_PERMITS, "polysync: too many permits");
            BoundedSemaphore { raw: RawSemaphore::new(permits as u64), max: max as u32 }
        }
    }

    acquire_methods!(
        BoundedSemaphore,
        "BoundedSemaphore::new(1, 1)",
        "BoundedSemaphore::new(3, 3)",
        "3"
    );

    /// The maximum number of free permits.
    ///
    /// ```
    /// assert_eq!(polysync::BoundedSemaphore::new(0, 4).max_value(), 4);
    /// ```
    pub fn max_value(&self) -> usize {
        self.max as usize
    }

    /// Adds `n` permits (handing them to waiters first).
    ///
    /// # Errors
    /// [`TooManyReleases`], changing nothing, if the free permits would
    /// exceed the maximum once the waiters that the release serves have
    /// taken theirs.
    ///
    /// ```
    /// let sem = polysync::BoundedSemaphore::new(0, 2);
    /// sem.release(2).unwrap();
    /// assert!(sem.release(1).is_err());
    /// ```
    pub fn release(&self, n: usize) -> Result<(), TooManyReleases> {
        let n = u64::try_from(n).unwrap_or(u64::MAX).min(FREE + 1);
        self.raw
            .release(n, u64::from(self.max), false)
            .map_err(|_| TooManyReleases {
                max: self.max as usize,
            })
    }
}

impl Kind for BoundedSemaphore {
    #[inline]
    fn raw(&self) -> &RawSemaphore {
        &self.raw
    }

    #[inline]
    fn max(&self) -> u64 {
        u64::from(self.max)
    }
}
impl PermitSource for BoundedSemaphore {}

/// A semaphore with at most one free permit. Releasing while the permit is
/// already free has no effect (use [`BoundedSemaphore`]`::new(_, 1)` to get an error instead).
///
/// ```
/// use polysync::BinarySemaphore;
/// let sem = BinarySemaphore::new(false);
/// sem.release();
/// sem.release(); // still one permit
/// assert_eq!(sem.value(), 1);
/// ```
pub struct BinarySemaphore {
    raw: RawSemaphore,
}

impl BinarySemaphore {
    const_fn! {
        /// A binary semaphore, with its permit free if `available`.
        pub fn new(available: bool) -> BinarySemaphore {
            BinarySemaphore { raw: RawSemaphore::new(available as u64) }
        }
    }

    acquire_methods!(
        BinarySemaphore,
        "BinarySemaphore::new(true)",
        "BinarySemaphore::new(true)",
        "1"
    );

    /// Makes the permit available (to the oldest waiter, if any).
    ///
    /// ```
    /// let sem = polysync::BinarySemaphore::new(false);
    /// sem.release();
    /// assert_eq!(sem.value(), 1);
    /// ```
    pub fn release(&self) {
        let _ = self.raw.release(1, 1, true);
    }
}

impl Kind for BinarySemaphore {
    #[inline]
    fn raw(&self) -> &RawSemaphore {
        &self.raw
    }

    #[inline]
    fn max(&self) -> u64 {
        1
    }
}
impl PermitSource for BinarySemaphore {}

macro_rules! common_impls {
    ($($ty:ident),*) => {$(
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut d = f.debug_struct(stringify!($ty));
                d.field("value", &self.value()).field("waiting", &self.waiting());
                if self.is_closed() {
                    d.field("closed", &true);
                }
                d.finish()
            }
        }
    )*};
}
common_impls!(Semaphore, BoundedSemaphore, BinarySemaphore);

impl Default for Semaphore {
    /// A semaphore with one permit.
    fn default() -> Self {
        Self::new(1)
    }
}

impl Default for BinarySemaphore {
    /// A binary semaphore with its permit free.
    fn default() -> Self {
        Self::new(true)
    }
}
