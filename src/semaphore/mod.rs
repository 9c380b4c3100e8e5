//! Counting semaphores: [`Semaphore`], [`BoundedSemaphore`] and
//! [`BinarySemaphore`], all on one raw core.
//!
//! Every acquisition takes one permit (`acquire*`) or many at once
//! (`acquire_many*`), borrowed ([`Permit`]) or owned through an `Arc`
//! ([`OwnedPermit`], `'static`), in the five wait forms. Waiters are served
//! FIFO, each request all at once: a large request at the head of the line
//! is never overtaken by smaller ones behind it (strictly, or within a
//! bound: see [the two modes](#fairness-two-modes)). A semaphore can
//! be closed: its waiters and later acquisitions fail with a typed error
//! ([`AcquireError`] from the untimed forms, [`TryAcquireError::Closed`]
//! from the `try_*_many` and `*_with` forms, `None` from the one-permit
//! `try_*` forms); nothing panics.
//!
//! # Fairness: two modes
//!
//! Each semaphore is made in one of two modes, fixed for its life
//! ([`is_fair`](Semaphore::is_fair) tells which):
//!
//! - **Strict FIFO with direct hand-off** (`new_fair`, aiologic's
//!   semantics): a release gives its permits straight to the oldest
//!   waiters, each request all at once, and nobody can take them
//!   meanwhile; a later acquisition never overtakes a queued one.
//! - **Bounded fairness** (`new_bounded`): a release with waiters frees
//!   its permits and wakes the oldest waiter (if its whole request fits)
//!   to take them; a unit that is running meanwhile may take free permits
//!   first (it *barges*), so permits do not sit idle while a waiter is
//!   being scheduled (a convoy). Waiters stay in FIFO order among
//!   themselves: only units that were not queued barge. Nothing starves:
//!   once the oldest waiter has been overtaken
//!   [`OVERTAKE_BOUND`](crate::lock::OVERTAKE_BOUND) times (give or take
//!   the units barging at that same instant), or has woken and lost its
//!   retry [`LOST_RETRIES`](crate::lock::LOST_RETRIES) times, the bounds
//!   of [`Lock`](crate::Lock), barging stops and the next release after
//!   which its request fits hands the permits to it directly. Every barge
//!   past the oldest waiter counts, whether its request fits or not, so a
//!   waiter for many permits is served after at most that many one-permit
//!   barges, however many of them there are.
//!
//! `new` (and `Default`) make the default mode: **strict**, for now:
//! bounded beat strict in 15 of 16 contended cells, but only in the
//! cheap-wake state so far (BENCHMARKS.md, "Issue 18: semaphores with
//! bounded fairness"), and the project changes a default only on numbers
//! from both of its machine's states. Name `new_fair` or `new_bounded`
//! where the mode matters. Both modes keep the same close, cancel-safety
//! (a woken waiter that gives up passes its wake-up on) and checkpoint
//! rules.
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
use raw::{DEFAULT_FAIR, FREE, Kind, RawSemaphore};
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
/// task. Waiters are served FIFO, each request all at once, by direct
/// hand-off ([`new_fair`](Semaphore::new_fair)) or with bounded fairness
/// ([`new_bounded`](Semaphore::new_bounded); see [the
/// modes](crate::semaphore#fairness-two-modes)). [`close`](Semaphore::close) fails every waiter with a typed
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
        /// A semaphore with `permits` free permits, in the default mode
        /// (see [the modes](crate::semaphore#fairness-two-modes)). `const`,
        /// so it can be a `static`.
        ///
        /// # Panics
        /// If `permits > Semaphore::MAX_PERMITS`.
        ///
        /// ```
        /// static SEM: polysync::Semaphore = polysync::Semaphore::new(2);
        /// drop(SEM.acquire_blocking().unwrap());
        /// assert_eq!(SEM.value(), 2);
        /// ```
        #[track_caller]
        pub fn new(permits: usize) -> Semaphore {
            assert!(permits <= Semaphore::MAX_PERMITS, "polysync: too many permits");
            Semaphore { raw: RawSemaphore::new(permits as u64, DEFAULT_FAIR) }
        }
    }

    const_fn! {
        /// A semaphore with `permits` free permits and strict FIFO hand-off:
        /// every release with waiters hands its permits straight to the
        /// oldest ones, and nobody can take them meanwhile (see [the
        /// modes](crate::semaphore#fairness-two-modes)).
        ///
        /// # Panics
        /// If `permits > Semaphore::MAX_PERMITS`.
        ///
        /// ```
        /// let sem = polysync::Semaphore::new_fair(1);
        /// assert!(sem.is_fair());
        /// drop(sem.acquire_blocking().unwrap());
        /// ```
        #[track_caller]
        pub fn new_fair(permits: usize) -> Semaphore {
            assert!(permits <= Semaphore::MAX_PERMITS, "polysync: too many permits");
            Semaphore { raw: RawSemaphore::new(permits as u64, true) }
        }
    }

    const_fn! {
        /// A semaphore with `permits` free permits and bounded fairness: a
        /// release wakes the oldest waiter to compete, a running unit may
        /// take free permits first, and the oldest waiter is handed its
        /// permits once overtaken too often (see [the
        /// modes](crate::semaphore#fairness-two-modes) for the bounds).
        ///
        /// # Panics
        /// If `permits > Semaphore::MAX_PERMITS`.
        ///
        /// ```
        /// let sem = polysync::Semaphore::new_bounded(1);
        /// assert!(!sem.is_fair());
        /// drop(sem.acquire_blocking().unwrap());
        /// ```
        #[track_caller]
        pub fn new_bounded(permits: usize) -> Semaphore {
            assert!(permits <= Semaphore::MAX_PERMITS, "polysync: too many permits");
            Semaphore { raw: RawSemaphore::new(permits as u64, false) }
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
        /// A semaphore with `permits` free permits that never holds more
        /// than `max`, in the default mode (see [the
        /// modes](crate::semaphore#fairness-two-modes)).
        ///
        /// # Panics
        /// If `permits > max` or `max > Semaphore::MAX_PERMITS`.
        ///
        /// ```
        /// let sem = polysync::BoundedSemaphore::new(1, 2);
        /// assert_eq!((sem.value(), sem.max_value()), (1, 2));
        /// ```
        #[track_caller]
        pub fn new(permits: usize, max: usize) -> BoundedSemaphore {
            BoundedSemaphore::with_mode(permits, max, DEFAULT_FAIR)
        }
    }

    const_fn! {
        /// [`new`](BoundedSemaphore::new) with strict FIFO hand-off (see
        /// [the modes](crate::semaphore#fairness-two-modes)).
        ///
        /// # Panics
        /// If `permits > max` or `max > Semaphore::MAX_PERMITS`.
        ///
        /// ```
        /// let sem = polysync::BoundedSemaphore::new_fair(1, 1);
        /// assert!(sem.is_fair());
        /// ```
        #[track_caller]
        pub fn new_fair(permits: usize, max: usize) -> BoundedSemaphore {
            BoundedSemaphore::with_mode(permits, max, true)
        }
    }

    const_fn! {
        /// [`new`](BoundedSemaphore::new) with bounded fairness (see [the
        /// modes](crate::semaphore#fairness-two-modes)). The maximum is
        /// checked the same way: with waiters queued, released permits are
        /// free (nobody queued holds any), so a release fails if the free
        /// permits would exceed `max`.
        ///
        /// # Panics
        /// If `permits > max` or `max > Semaphore::MAX_PERMITS`.
        ///
        /// ```
        /// let sem = polysync::BoundedSemaphore::new_bounded(1, 1);
        /// assert!(!sem.is_fair());
        /// assert!(sem.release(1).is_err());
        /// ```
        #[track_caller]
        pub fn new_bounded(permits: usize, max: usize) -> BoundedSemaphore {
            BoundedSemaphore::with_mode(permits, max, false)
        }
    }

    const_fn! {
        #[track_caller]
        fn with_mode(permits: usize, max: usize, fair: bool) -> BoundedSemaphore {
            assert!(permits <= max, "polysync: initial permits above the maximum");
            assert!(max <= Semaphore::MAX_PERMITS, "polysync: too many permits");
            BoundedSemaphore { raw: RawSemaphore::new(permits as u64, fair), max: max as u32 }
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
        /// A binary semaphore, with its permit free if `available`, in the
        /// default mode (see [the modes](crate::semaphore#fairness-two-modes)).
        ///
        /// ```
        /// assert_eq!(polysync::BinarySemaphore::new(true).value(), 1);
        /// ```
        pub fn new(available: bool) -> BinarySemaphore {
            BinarySemaphore { raw: RawSemaphore::new(available as u64, DEFAULT_FAIR) }
        }
    }

    const_fn! {
        /// [`new`](BinarySemaphore::new) with strict FIFO hand-off (see [the
        /// modes](crate::semaphore#fairness-two-modes)).
        ///
        /// ```
        /// assert!(polysync::BinarySemaphore::new_fair(true).is_fair());
        /// ```
        pub fn new_fair(available: bool) -> BinarySemaphore {
            BinarySemaphore { raw: RawSemaphore::new(available as u64, true) }
        }
    }

    const_fn! {
        /// [`new`](BinarySemaphore::new) with bounded fairness (see [the
        /// modes](crate::semaphore#fairness-two-modes)).
        ///
        /// ```
        /// assert!(!polysync::BinarySemaphore::new_bounded(true).is_fair());
        /// ```
        pub fn new_bounded(available: bool) -> BinarySemaphore {
            BinarySemaphore { raw: RawSemaphore::new(available as u64, false) }
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
                if !self.is_fair() {
                    d.field("bounded", &true);
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
