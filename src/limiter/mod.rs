//! Capacity limiters: [`CapacityLimiter`] (at most one token per borrower)
//! and [`RCapacityLimiter`] (reentrant: a borrower counts levels), as in
//! trio and aiologic. Borrowers are execution units ([`current_unit`]);
//! async tasks need an identity (see [`identified`](crate::lowlevel::identified)).

//!
//! # Fairness: two modes
//!
//! Both limiters have two modes, chosen per object at construction:
//!
//! - **Strict FIFO** (`new_fair`; `new` and `Default`, for now): a token
//!   given back while units wait goes straight to the oldest waiter (direct
//!   hand-off), so tokens go to waiters exactly in arrival order; but each
//!   contended borrow waits for a wake-up with the token already its own,
//!   idle meanwhile.
//! - **Bounded fairness** (`new_bounded`): a token given back wakes the
//!   oldest waiter to compete for it, and a unit that is running may take
//!   it first (it *barges*). The oldest waiter is handed a token directly
//!   once [`OVERTAKE_BOUND`](crate::lock::OVERTAKE_BOUND) units have taken
//!   one past it, or it has woken and lost [`LOST_RETRIES`](crate::lock::LOST_RETRIES)
//!   retries, or a mix of the two (each barge counts `1 / OVERTAKE_BOUND`
//!   of the bound, each lost retry `1 / LOST_RETRIES`). The count is kept
//!   under the queue lock, so the bound is exact. Waiters keep their order
//!   among themselves.
//!
//! `new` stays strict for now: on two threads contending for one limiter
//! the bounded mode measured 30-41 ns per borrow against strict's 34-47 ns
//! in the same runs, no difference past the noise of the machine it was
//! measured on, and only with cheap wake-ups (BENCHMARKS.md, "Issue 18/19:
//! limiters"). One constant flips the default.
//!
//! In both modes: a unit that borrows already is answered at once
//! (`AlreadyBorrowing`, or one more level of an [`RCapacityLimiter`]), never
//! counted as a barge; growing the total hands the new tokens to the
//! waiters directly, oldest first; every wait is cancel-safe (a woken
//! waiter that gives up passes its wake-up on to the next one); an async
//! wait takes its checkpoint before its attempt, never while it holds the
//! token; waiting never allocates.
//!
//! Layout: `raw.rs` (the shared core and its wait protocol), `token.rs`
//! (tokens, the async borrow and the one blocking borrow), `error.rs`, and
//! here the two public types.

mod error;
mod raw;
mod token;

pub use error::{BorrowError, LimiterReleaseError};
use raw::{DEFAULT_FAIR, RawLimiter};
pub use token::{
    LimiterAcquire, LimiterToken, OwnedLimiterAcquire, OwnedLimiterToken, TokenSource,
};
use token::{borrow_or_unavailable, borrow_until, borrow_with, reborrow_until, try_borrow};

use crate::lowlevel::sync::const_fn;
use crate::lowlevel::{UnitId, WaitError, Waiter, current_unit, deadline_after};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The current unit, as a borrower.
#[inline]
fn me() -> u64 {
    current_unit().get()
}

macro_rules! common_methods {
    ($ty:ident, $ctor:literal) => {
        /// Tokens free now: `total_tokens - borrowed_tokens`, or 0 while the
        /// total is below what is borrowed (a snapshot).
        ///
        /// ```
        #[doc = concat!("let limiter = polysync::", $ctor, ";")]
        /// assert_eq!(limiter.available_tokens(), 2);
        /// ```
        #[inline]
        pub fn available_tokens(&self) -> usize {
            self.raw.total().saturating_sub(self.raw.borrowed())
        }

        /// Tokens borrowed now, one per borrower (a snapshot).
        ///
        /// ```
        #[doc = concat!("let limiter = polysync::", $ctor, ";")]
        /// let _t = limiter.acquire_blocking();
        /// assert_eq!(limiter.borrowed_tokens(), 1);
        /// ```
        #[inline]
        pub fn borrowed_tokens(&self) -> usize {
            self.raw.borrowed()
        }

        /// The total number of tokens.
        ///
        /// ```
        #[doc = concat!("assert_eq!(polysync::", $ctor, ".total_tokens(), 2);")]
        /// ```
        #[inline]
        pub fn total_tokens(&self) -> usize {
            self.raw.total()
        }

        /// Changes the total number of tokens. Growing hands the new tokens
        /// to waiters at once (oldest first); shrinking takes nothing back
        /// from current borrowers, but later acquirers wait until the
        /// borrowed tokens fall below the new total.
        ///
        /// # Panics
        /// If `total` exceeds `u32::MAX`.
        ///
        /// ```
        #[doc = concat!("let limiter = polysync::", $ctor, ";")]
        /// limiter.set_total_tokens(5);
        /// assert_eq!(limiter.available_tokens(), 5);
        /// ```
        #[track_caller]
        pub fn set_total_tokens(&self, total: usize) {
            self.raw.set_total(total);
        }

        /// Whether the limiter is strictly FIFO (`new_fair`, and `new` for
        /// now) rather than boundedly fair (`new_bounded`); see [the
        /// modes](crate::limiter#fairness-two-modes).
        ///
        /// ```
        #[doc = concat!("assert!(polysync::", $ctor, ".is_fair());")]
        /// ```
        #[inline]
        pub fn is_fair(&self) -> bool {
            self.raw.is_fair()
        }

        /// How many execution units wait for a token now (a snapshot).
        ///
        /// ```
        #[doc = concat!("assert_eq!(polysync::", $ctor, ".waiting(), 0);")]
        /// ```
        #[inline]
        pub fn waiting(&self) -> usize {
            self.raw.queue.len()
        }

        /// Whether the current execution unit holds a token.
        ///
        /// ```
        #[doc = concat!("let limiter = polysync::", $ctor, ";")]
        /// let _t = limiter.acquire_blocking();
        /// assert!(limiter.is_borrowing());
        /// ```
        pub fn is_borrowing(&self) -> bool {
            self.raw.levels_of(current_unit().get()) > 0
        }
    };
}

/// A limiter of concurrent borrowers: at most `total_tokens` execution units
/// hold a token at a time, and each holds at most one (a second acquire by
/// the same borrower is a [`BorrowError::AlreadyBorrowing`] error). The
/// total can change at run time ([`set_total_tokens`](CapacityLimiter::set_total_tokens)).
///
/// Borrowers are execution units as [`current_unit`] sees them; async tasks
/// need an identity ([`identified`](crate::lowlevel::identified), see
/// [`RLock`](crate::RLock) for why). Waiters are served strictly FIFO by
/// direct hand-off ([`new`](CapacityLimiter::new), [`new_fair`](CapacityLimiter::new_fair)),
/// or with bounded fairness ([`new_bounded`](CapacityLimiter::new_bounded):
/// see [the modes](crate::limiter#fairness-two-modes)); every wait is
/// cancel-safe; waiting never allocates (the borrower table grows only
/// when more units borrow at once than ever before;
/// [`borrowers`](CapacityLimiter::borrowers) allocates its snapshot).
///
/// # Order
/// Strict mode: tokens go to waiters strictly in arrival order, by direct
/// hand-off (bounded mode: waiters keep their order among themselves, and
/// a running unit may take a token past them, within the bound). A
/// borrower that holds a token and asks again is answered at once in every
/// form ([`AlreadyBorrowing`](BorrowError::AlreadyBorrowing)), even while
/// others wait. A wait that queued *before* its borrower held a token (a
/// job's second [`acquire_on_behalf_of`](CapacityLimiter::acquire_on_behalf_of)
/// behind its first, or two borrows one task polls at once) keeps its
/// place: once the borrower holds a token, that wait completes (with
/// `AlreadyBorrowing`) as soon as it reaches the front, when the waiters
/// ahead of it are served or give up, not before. So if one of those
/// waiters can only be served by the borrower's own release, and the
/// borrower releases only after that wait completes, the program deadlocks:
/// do not let a borrower wait on its own queued borrow while it holds a
/// token.
///
/// ```
/// use polysync::{BorrowError, CapacityLimiter};
///
/// let limiter = CapacityLimiter::new(2);
/// let token = limiter.acquire_blocking().unwrap();
/// assert_eq!(limiter.acquire_blocking().unwrap_err(), BorrowError::AlreadyBorrowing);
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         let _other = limiter.acquire_blocking().unwrap();
///         assert_eq!(limiter.available_tokens(), 0);
///     });
/// });
/// drop(token);
/// assert_eq!(limiter.available_tokens(), 2);
/// ```
pub struct CapacityLimiter {
    raw: RawLimiter,
}

impl CapacityLimiter {
    const_fn! {
        /// A limiter with `total` tokens, strictly FIFO for now (see [the
        /// modes](crate::limiter#fairness-two-modes): one constant flips the
        /// default). `const`, so it can be a `static`.
        ///
        /// # Panics
        /// If `total` exceeds `u32::MAX`.
        ///
        /// ```
        /// static LIMIT: polysync::CapacityLimiter = polysync::CapacityLimiter::new(4);
        /// assert_eq!(LIMIT.total_tokens(), 4);
        /// ```
        #[track_caller]
        pub fn new(total: usize) -> CapacityLimiter {
            CapacityLimiter { raw: RawLimiter::new(total, false, DEFAULT_FAIR) }
        }
    }

    const_fn! {
        /// A limiter with `total` tokens and strict FIFO hand-off: a token
        /// given back while units wait goes straight to the oldest waiter,
        /// and nobody can take it meanwhile (see [the modes](crate::limiter#fairness-two-modes)).
        ///
        /// # Panics
        /// If `total` exceeds `u32::MAX`.
        ///
        /// ```
        /// let limiter = polysync::CapacityLimiter::new_fair(1);
        /// assert!(limiter.is_fair());
        /// drop(limiter.acquire_blocking().unwrap());
        /// ```
        #[track_caller]
        pub fn new_fair(total: usize) -> CapacityLimiter {
            CapacityLimiter { raw: RawLimiter::new(total, false, true) }
        }
    }

    const_fn! {
        /// A limiter with `total` tokens and bounded fairness: a token given
        /// back while units wait wakes the oldest waiter to compete, a
        /// running unit may take it first, and the oldest waiter is handed
        /// one directly once overtaken too often (see [the
        /// modes](crate::limiter#fairness-two-modes) for the bounds).
        ///
        /// # Panics
        /// If `total` exceeds `u32::MAX`.
        ///
        /// ```
        /// let limiter = polysync::CapacityLimiter::new_bounded(1);
        /// assert!(!limiter.is_fair());
        /// drop(limiter.acquire_blocking().unwrap());
        /// ```
        #[track_caller]
        pub fn new_bounded(total: usize) -> CapacityLimiter {
            CapacityLimiter { raw: RawLimiter::new(total, false, false) }
        }
    }

    /// Borrows a token asynchronously for the current task (its identity is
    /// read at the first poll), in FIFO order with every other borrower.
    ///
    /// # Cancel safety
    /// Dropping the future gives up its place in line and loses no token:
    /// - before its first poll: nothing happened;
    /// - while queued: it leaves the queue; the borrowers behind it keep
    ///   their order;
    /// - after a release handed it a token, before it was polled again: the
    ///   token is released at once, to the next borrower in line (or back
    ///   to the free tokens). An [`AlreadyBorrowing`](BorrowError::AlreadyBorrowing)
    ///   outcome holds nothing, so nothing is released.
    ///
    /// # Errors
    /// [`BorrowError::AlreadyBorrowing`] if the task holds a token already;
    /// [`BorrowError::NoTaskIdentity`] outside an identified task.
    ///
    /// ```
    /// use polysync::{CapacityLimiter, lowlevel::identified};
    /// # futures_lite::future::block_on(async {
    /// let limiter = CapacityLimiter::new(1);
    /// identified(async {
    ///     let token = limiter.acquire().await.unwrap();
    ///     assert!(limiter.acquire().await.is_err());
    /// })
    /// .await;
    /// # });
    /// ```
    #[inline]
    pub fn acquire(&self) -> LimiterAcquire<'_> {
        LimiterAcquire::new(&self.raw)
    }

    /// Borrows a token, blocking the current execution unit until one is free.
    ///
    /// # Errors
    /// [`BorrowError::AlreadyBorrowing`] if the unit holds a token already.
    ///
    /// ```
    /// let limiter = polysync::CapacityLimiter::new(1);
    /// let token = limiter.acquire_blocking().unwrap();
    /// ```
    pub fn acquire_blocking(&self) -> Result<LimiterToken<'_>, BorrowError> {
        borrow_until(&self.raw, me(), None)
    }

    /// Borrows a token if one is free, without waiting.
    ///
    /// # Errors
    /// [`BorrowError::Unavailable`] or [`BorrowError::AlreadyBorrowing`].
    ///
    /// ```
    /// use polysync::BorrowError;
    /// let limiter = polysync::CapacityLimiter::new(0);
    /// assert_eq!(limiter.try_acquire().unwrap_err(), BorrowError::Unavailable);
    /// ```
    pub fn try_acquire(&self) -> Result<LimiterToken<'_>, BorrowError> {
        try_borrow(&self.raw, me())
    }

    /// Like [`acquire_blocking`](CapacityLimiter::acquire_blocking), giving
    /// up after `timeout` with [`BorrowError::Unavailable`].
    ///
    /// ```
    /// let limiter = polysync::CapacityLimiter::new(0);
    /// assert!(limiter.try_acquire_for(std::time::Duration::from_millis(1)).is_err());
    /// ```
    pub fn try_acquire_for(&self, timeout: Duration) -> Result<LimiterToken<'_>, BorrowError> {
        borrow_until(&self.raw, me(), deadline_after(timeout))
    }

    /// Like [`acquire_blocking`](CapacityLimiter::acquire_blocking), giving
    /// up at `deadline` with [`BorrowError::Unavailable`].
    ///
    /// ```
    /// let limiter = polysync::CapacityLimiter::new(1);
    /// assert!(limiter.try_acquire_until(std::time::Instant::now()).is_ok());
    /// ```
    pub fn try_acquire_until(&self, deadline: Instant) -> Result<LimiterToken<'_>, BorrowError> {
        borrow_until(&self.raw, me(), Some(deadline))
    }

    /// Borrows a token on `waiter`, giving up at `deadline`: the entry point
    /// that every blocking form runs with the current unit's waiter. The
    /// borrower is the current unit, whichever waiter waits.
    ///
    /// # Errors
    /// [`BorrowError::AlreadyBorrowing`]; [`BorrowError::Unavailable`] when
    /// the deadline passed; [`BorrowError::Cancelled`] when the waiter
    /// reported cancellation. The wait is withdrawn either way.
    ///
    /// ```
    /// use polysync::BorrowError;
    /// use polysync::lowlevel::ThreadWaiter;
    /// let limiter = polysync::CapacityLimiter::new(1);
    /// ThreadWaiter::with_current(|w| {
    ///     let token = limiter.acquire_with(w, None).unwrap();
    ///     assert_eq!(limiter.acquire_with(w, None).unwrap_err(), BorrowError::AlreadyBorrowing);
    /// });
    /// ```
    pub fn acquire_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<LimiterToken<'_>, BorrowError> {
        borrow_or_unavailable(&self.raw, me(), waiter, deadline)
    }

    /// Gives back the current unit's token (one kept with
    /// [`LimiterToken::forget`]).
    ///
    /// # Errors
    /// [`LimiterReleaseError::NotBorrowing`] if the unit holds no token.
    ///
    /// ```
    /// let limiter = polysync::CapacityLimiter::new(1);
    /// assert!(limiter.release().is_err());
    /// ```
    pub fn release(&self) -> Result<(), LimiterReleaseError> {
        self.raw.release(current_unit().get(), 1)
    }

    /// A snapshot of the borrowers, in no particular order (allocates the
    /// list).
    ///
    /// ```
    /// let limiter = polysync::CapacityLimiter::new(1);
    /// let _t = limiter.acquire_blocking().unwrap();
    /// assert_eq!(limiter.borrowers(), vec![polysync::lowlevel::current_unit()]);
    /// ```
    pub fn borrowers(&self) -> Vec<UnitId> {
        self.raw.snapshot().into_iter().map(|(id, _)| id).collect()
    }

    /// [`acquire`](CapacityLimiter::acquire) on a limiter in an `Arc`: the
    /// future and its [`OwnedLimiterToken`] are `'static`, so the token can
    /// move into a spawned task. The borrower is the acquiring task.
    ///
    /// ```
    /// use polysync::{CapacityLimiter, lowlevel::identified};
    /// use std::sync::Arc;
    /// # futures_lite::future::block_on(async {
    /// let limiter = Arc::new(CapacityLimiter::new(1));
    /// let token = identified(limiter.acquire_owned()).await.unwrap();
    /// std::thread::spawn(move || drop(token)).join().unwrap();
    /// assert_eq!(limiter.available_tokens(), 1);
    /// # });
    /// ```
    ///
    /// # Cancel safety
    /// As for [`acquire`](CapacityLimiter::acquire); the `Arc` clone it
    /// holds is dropped with it.
    ///
    /// # Errors
    /// As for [`acquire`](CapacityLimiter::acquire).
    pub fn acquire_owned(self: &Arc<Self>) -> OwnedLimiterAcquire<Self> {
        OwnedLimiterAcquire::new(self, None)
    }

    /// [`acquire_blocking`](CapacityLimiter::acquire_blocking), returning an
    /// [`OwnedLimiterToken`].
    ///
    /// # Errors
    /// As for [`acquire_blocking`](CapacityLimiter::acquire_blocking).
    ///
    /// ```
    /// use std::sync::Arc;
    /// let limiter = Arc::new(polysync::CapacityLimiter::new(1));
    /// let token = limiter.acquire_owned_blocking().unwrap();
    /// ```
    pub fn acquire_owned_blocking(
        self: &Arc<Self>,
    ) -> Result<OwnedLimiterToken<Self>, BorrowError> {
        self.acquire_blocking().map(|t| t.into_owned(self))
    }

    /// [`try_acquire`](CapacityLimiter::try_acquire), returning an
    /// [`OwnedLimiterToken`].
    ///
    /// # Errors
    /// As for [`try_acquire`](CapacityLimiter::try_acquire).
    ///
    /// ```
    /// use std::sync::Arc;
    /// let limiter = Arc::new(polysync::CapacityLimiter::new(1));
    /// assert!(limiter.try_acquire_owned().is_ok());
    /// ```
    pub fn try_acquire_owned(self: &Arc<Self>) -> Result<OwnedLimiterToken<Self>, BorrowError> {
        self.try_acquire().map(|t| t.into_owned(self))
    }

    /// [`try_acquire_for`](CapacityLimiter::try_acquire_for), returning an
    /// [`OwnedLimiterToken`].
    ///
    /// # Errors
    /// As for [`try_acquire_for`](CapacityLimiter::try_acquire_for).
    ///
    /// ```
    /// use std::sync::Arc;
    /// let limiter = Arc::new(polysync::CapacityLimiter::new(1));
    /// assert!(limiter.try_acquire_owned_for(std::time::Duration::ZERO).is_ok());
    /// ```
    pub fn try_acquire_owned_for(
        self: &Arc<Self>,
        timeout: Duration,
    ) -> Result<OwnedLimiterToken<Self>, BorrowError> {
        self.try_acquire_for(timeout).map(|t| t.into_owned(self))
    }

    /// [`try_acquire_until`](CapacityLimiter::try_acquire_until), returning
    /// an [`OwnedLimiterToken`].
    ///
    /// # Errors
    /// As for [`try_acquire_until`](CapacityLimiter::try_acquire_until).
    ///
    /// ```
    /// use std::sync::Arc;
    /// let limiter = Arc::new(polysync::CapacityLimiter::new(1));
    /// assert!(limiter.try_acquire_owned_until(std::time::Instant::now()).is_ok());
    /// ```
    pub fn try_acquire_owned_until(
        self: &Arc<Self>,
        deadline: Instant,
    ) -> Result<OwnedLimiterToken<Self>, BorrowError> {
        self.try_acquire_until(deadline).map(|t| t.into_owned(self))
    }

    /// [`acquire_with`](CapacityLimiter::acquire_with), returning an
    /// [`OwnedLimiterToken`].
    ///
    /// # Errors
    /// As for [`acquire_with`](CapacityLimiter::acquire_with).
    ///
    /// ```
    /// use polysync::lowlevel::ThreadWaiter;
    /// use std::sync::Arc;
    /// let limiter = Arc::new(polysync::CapacityLimiter::new(1));
    /// let t = ThreadWaiter::with_current(|w| limiter.acquire_owned_with(w, None)).unwrap();
    /// ```
    pub fn acquire_owned_with<W: Waiter + ?Sized>(
        self: &Arc<Self>,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<OwnedLimiterToken<Self>, BorrowError> {
        self.acquire_with(waiter, deadline)
            .map(|t| t.into_owned(self))
    }

    /// Borrows a token asynchronously for `borrower` rather than the
    /// current task (aiologic's `acquire_on_behalf_of`): any unit may poll
    /// it, and no task identity is needed. `borrower` is any
    /// [`UnitId`]: another unit's ([`current_unit`] there), or a fresh one
    /// for a job that is not a unit ([`UnitId::allocate`]). Release it with
    /// [`release_on_behalf_of`](CapacityLimiter::release_on_behalf_of) or by
    /// dropping the token.
    ///
    /// ```
    /// use polysync::{CapacityLimiter, lowlevel::UnitId};
    /// # futures_lite::future::block_on(async {
    /// let limiter = CapacityLimiter::new(1);
    /// let job = UnitId::allocate();
    /// limiter.acquire_on_behalf_of(job).await.unwrap().forget();
    /// assert_eq!(limiter.borrowers(), vec![job]);
    /// limiter.release_on_behalf_of(job).unwrap();
    /// # });
    /// ```
    ///
    /// # Cancel safety
    /// As for [`acquire`](CapacityLimiter::acquire).
    ///
    /// # Errors
    /// [`BorrowError::AlreadyBorrowing`] if `borrower` holds a token already.
    pub fn acquire_on_behalf_of(&self, borrower: UnitId) -> LimiterAcquire<'_> {
        LimiterAcquire::on_behalf_of(&self.raw, borrower)
    }

    /// Borrows a token for `borrower`, blocking the current unit until one
    /// is free (see [`acquire_on_behalf_of`](CapacityLimiter::acquire_on_behalf_of)).
    ///
    /// # Errors
    /// [`BorrowError::AlreadyBorrowing`].
    ///
    /// ```
    /// use polysync::lowlevel::UnitId;
    /// let limiter = polysync::CapacityLimiter::new(2);
    /// let job = UnitId::allocate();
    /// let token = limiter.acquire_on_behalf_of_blocking(job).unwrap();
    /// assert_eq!(token.borrower(), job);
    /// assert!(!limiter.is_borrowing()); // the current unit borrows nothing
    /// ```
    pub fn acquire_on_behalf_of_blocking(
        &self,
        borrower: UnitId,
    ) -> Result<LimiterToken<'_>, BorrowError> {
        borrow_until(&self.raw, borrower.get(), None)
    }

    /// Borrows a token for `borrower` if one is free, without waiting.
    ///
    /// # Errors
    /// [`BorrowError::Unavailable`] or [`BorrowError::AlreadyBorrowing`].
    ///
    /// ```
    /// use polysync::{BorrowError, lowlevel::UnitId};
    /// let limiter = polysync::CapacityLimiter::new(1);
    /// let job = UnitId::allocate();
    /// let token = limiter.try_acquire_on_behalf_of(job).unwrap();
    /// assert_eq!(limiter.try_acquire_on_behalf_of(job).unwrap_err(), BorrowError::AlreadyBorrowing);
    /// ```
    pub fn try_acquire_on_behalf_of(
        &self,
        borrower: UnitId,
    ) -> Result<LimiterToken<'_>, BorrowError> {
        try_borrow(&self.raw, borrower.get())
    }

    /// Like [`acquire_on_behalf_of_blocking`](CapacityLimiter::acquire_on_behalf_of_blocking),
    /// giving up after `timeout` with [`BorrowError::Unavailable`].
    ///
    /// # Errors
    /// [`BorrowError::Unavailable`] or [`BorrowError::AlreadyBorrowing`].
    ///
    /// ```
    /// use polysync::lowlevel::UnitId;
    /// let limiter = polysync::CapacityLimiter::new(0);
    /// let r = limiter.try_acquire_on_behalf_of_for(UnitId::allocate(), std::time::Duration::from_millis(1));
    /// assert!(r.is_err());
    /// ```
    pub fn try_acquire_on_behalf_of_for(
        &self,
        borrower: UnitId,
        timeout: Duration,
    ) -> Result<LimiterToken<'_>, BorrowError> {
        borrow_until(&self.raw, borrower.get(), deadline_after(timeout))
    }

    /// Like [`acquire_on_behalf_of_blocking`](CapacityLimiter::acquire_on_behalf_of_blocking),
    /// giving up at `deadline` with [`BorrowError::Unavailable`].
    ///
    /// # Errors
    /// [`BorrowError::Unavailable`] or [`BorrowError::AlreadyBorrowing`].
    ///
    /// ```
    /// use polysync::lowlevel::UnitId;
    /// let limiter = polysync::CapacityLimiter::new(1);
    /// let now = std::time::Instant::now();
    /// assert!(limiter.try_acquire_on_behalf_of_until(UnitId::allocate(), now).is_ok());
    /// ```
    pub fn try_acquire_on_behalf_of_until(
        &self,
        borrower: UnitId,
        deadline: Instant,
    ) -> Result<LimiterToken<'_>, BorrowError> {
        borrow_until(&self.raw, borrower.get(), Some(deadline))
    }

    /// Borrows a token for `borrower` on `waiter`, giving up at `deadline`.
    ///
    /// # Errors
    /// As for [`acquire_with`](CapacityLimiter::acquire_with).
    ///
    /// ```
    /// use polysync::lowlevel::{ThreadWaiter, UnitId};
    /// let limiter = polysync::CapacityLimiter::new(1);
    /// let job = UnitId::allocate();
    /// let t = ThreadWaiter::with_current(|w| limiter.acquire_on_behalf_of_with(job, w, None));
    /// assert_eq!(t.unwrap().borrower(), job);
    /// ```
    pub fn acquire_on_behalf_of_with<W: Waiter + ?Sized>(
        &self,
        borrower: UnitId,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<LimiterToken<'_>, BorrowError> {
        borrow_or_unavailable(&self.raw, borrower.get(), waiter, deadline)
    }

    /// Gives back `borrower`'s token (one kept with [`LimiterToken::forget`]),
    /// from any unit.
    ///
    /// # Errors
    /// [`LimiterReleaseError::NotBorrowing`] if `borrower` holds no token.
    ///
    /// ```
    /// use polysync::lowlevel::UnitId;
    /// let limiter = polysync::CapacityLimiter::new(1);
    /// let job = UnitId::allocate();
    /// limiter.acquire_on_behalf_of_blocking(job).unwrap().forget();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| limiter.release_on_behalf_of(job).unwrap());
    /// });
    /// assert_eq!(limiter.available_tokens(), 1);
    /// ```
    pub fn release_on_behalf_of(&self, borrower: UnitId) -> Result<(), LimiterReleaseError> {
        self.raw.release(borrower.get(), 1)
    }

    common_methods!(CapacityLimiter, "CapacityLimiter::new(2)");
}

/// A reentrant capacity limiter: like [`CapacityLimiter`], but a borrower
/// that holds a token may acquire again at once (in every form), counting
/// levels; its token goes back when its last level is released.
///
/// # Order
/// Strict mode ([`new`](RCapacityLimiter::new), [`new_fair`](RCapacityLimiter::new_fair)):
/// tokens go to waiters strictly in arrival order, by direct hand-off
/// (bounded mode, [`new_bounded`](RCapacityLimiter::new_bounded): waiters
/// keep their order among themselves, and a running unit may take a token
/// past them, within the bound; see [the modes](crate::limiter#fairness-two-modes)).
/// A borrower that holds a token and acquires again gets one more level at
/// once in every form (`.await`, `_blocking`, `try_`, `try_x_for`,
/// `try_x_until`, `_with`), even while others wait. A wait that queued
/// *before* its borrower held a token (a job's second
/// [`acquire_on_behalf_of`](RCapacityLimiter::acquire_on_behalf_of) behind
/// its first, or two borrows one task polls at once) keeps its place: once
/// the borrower holds a token, that wait gets its level as soon as it
/// reaches the front, when the waiters ahead of it are served or give up
/// (a timeout, a dropped future, a cancelled waiter), not before. So if one
/// of those waiters can only be served by the borrower's own release, and
/// the borrower releases only after that wait completes, the program
/// deadlocks: do not let a borrower wait on its own queued borrow while it
/// holds a token.
///
/// ```
/// use polysync::RCapacityLimiter;
///
/// let limiter = RCapacityLimiter::new(1);
/// let a = limiter.acquire_blocking();
/// let b = limiter.acquire_blocking(); // the same borrower re-enters
/// assert_eq!(limiter.count(), 2);
/// assert_eq!(limiter.borrowed_tokens(), 1);
/// drop((a, b));
/// assert_eq!(limiter.available_tokens(), 1);
/// ```
pub struct RCapacityLimiter {
    raw: RawLimiter,
}

impl RCapacityLimiter {
    const_fn! {
        /// A reentrant limiter with `total` tokens, strictly FIFO for now
        /// (see [the modes](crate::limiter#fairness-two-modes)). `const`.
        ///
        /// # Panics
        /// If `total` exceeds `u32::MAX`.
        ///
        /// ```
        /// static LIMIT: polysync::RCapacityLimiter = polysync::RCapacityLimiter::new(3);
        /// assert_eq!(LIMIT.total_tokens(), 3);
        /// ```
        #[track_caller]
        pub fn new(total: usize) -> RCapacityLimiter {
            RCapacityLimiter { raw: RawLimiter::new(total, true, DEFAULT_FAIR) }
        }
    }

    const_fn! {
        /// A limiter with `total` tokens and strict FIFO hand-off: a token
        /// given back while units wait goes straight to the oldest waiter,
        /// and nobody can take it meanwhile (see [the modes](crate::limiter#fairness-two-modes)).
        ///
        /// # Panics
        /// If `total` exceeds `u32::MAX`.
        ///
        /// ```
        /// let limiter = polysync::RCapacityLimiter::new_fair(1);
        /// assert!(limiter.is_fair());
        /// drop(limiter.acquire_blocking());
        /// ```
        #[track_caller]
        pub fn new_fair(total: usize) -> RCapacityLimiter {
            RCapacityLimiter { raw: RawLimiter::new(total, true, true) }
        }
    }

    const_fn! {
        /// A limiter with `total` tokens and bounded fairness: a token given
        /// back while units wait wakes the oldest waiter to compete, a
        /// running unit may take it first, and the oldest waiter is handed
        /// one directly once overtaken too often (see [the
        /// modes](crate::limiter#fairness-two-modes) for the bounds).
        ///
        /// # Panics
        /// If `total` exceeds `u32::MAX`.
        ///
        /// ```
        /// let limiter = polysync::RCapacityLimiter::new_bounded(1);
        /// assert!(!limiter.is_fair());
        /// drop(limiter.acquire_blocking());
        /// ```
        #[track_caller]
        pub fn new_bounded(total: usize) -> RCapacityLimiter {
            RCapacityLimiter { raw: RawLimiter::new(total, true, false) }
        }
    }

    /// Borrows (one more level of) a token asynchronously for the current
    /// task: at once if the task borrows already, otherwise in FIFO order.
    ///
    /// # Cancel safety
    /// Dropping the future gives up its place in line and loses no token:
    /// - before its first poll: nothing happened;
    /// - while queued: it leaves the queue; the borrowers behind it keep
    ///   their order;
    /// - after it was handed a level (a token from a release, or one more
    ///   level of the task's own borrow), before it was polled again: that
    ///   level is released at once; if it was the borrow's last, the token
    ///   goes to the next borrower in line (or back to the free tokens).
    ///
    /// # Errors
    /// [`BorrowError::NoTaskIdentity`] outside an identified task (the only error).
    ///
    /// ```
    /// use polysync::{RCapacityLimiter, lowlevel::identified};
    /// # futures_lite::future::block_on(async {
    /// let limiter = RCapacityLimiter::new(1);
    /// identified(async {
    ///     let a = limiter.acquire().await.unwrap();
    ///     let b = limiter.acquire().await.unwrap();
    ///     assert_eq!(limiter.count(), 2);
    /// })
    /// .await;
    /// # });
    /// ```
    #[inline]
    pub fn acquire(&self) -> LimiterAcquire<'_> {
        LimiterAcquire::new(&self.raw)
    }

    /// Borrows (one more level of) a token, blocking the current unit.
    ///
    /// ```
    /// let limiter = polysync::RCapacityLimiter::new(1);
    /// let t = limiter.acquire_blocking();
    /// ```
    pub fn acquire_blocking(&self) -> LimiterToken<'_> {
        reborrow_until(&self.raw, me(), None).expect("a wait without a deadline does not time out")
    }

    /// Borrows (one more level of) a token if the unit has one or one is free.
    ///
    /// ```
    /// let limiter = polysync::RCapacityLimiter::new(0);
    /// assert!(limiter.try_acquire().is_none());
    /// ```
    pub fn try_acquire(&self) -> Option<LimiterToken<'_>> {
        try_borrow(&self.raw, me()).ok()
    }

    /// Like [`acquire_blocking`](RCapacityLimiter::acquire_blocking), giving up after `timeout`.
    ///
    /// ```
    /// let limiter = polysync::RCapacityLimiter::new(0);
    /// assert!(limiter.try_acquire_for(std::time::Duration::from_millis(1)).is_none());
    /// ```
    pub fn try_acquire_for(&self, timeout: Duration) -> Option<LimiterToken<'_>> {
        reborrow_until(&self.raw, me(), deadline_after(timeout))
    }

    /// Like [`acquire_blocking`](RCapacityLimiter::acquire_blocking), giving up at `deadline`.
    ///
    /// ```
    /// let limiter = polysync::RCapacityLimiter::new(1);
    /// assert!(limiter.try_acquire_until(std::time::Instant::now()).is_some());
    /// ```
    pub fn try_acquire_until(&self, deadline: Instant) -> Option<LimiterToken<'_>> {
        reborrow_until(&self.raw, me(), Some(deadline))
    }

    /// Borrows (one more level of) a token on `waiter`, giving up at
    /// `deadline`: the entry point that every blocking form runs with the
    /// current unit's waiter.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] or [`WaitError::Cancelled`]; the wait is
    /// withdrawn either way.
    ///
    /// ```
    /// use polysync::lowlevel::ThreadWaiter;
    /// let limiter = polysync::RCapacityLimiter::new(1);
    /// ThreadWaiter::with_current(|w| {
    ///     let a = limiter.acquire_with(w, None).unwrap();
    ///     let b = limiter.acquire_with(w, None).unwrap(); // one more level
    ///     assert_eq!(limiter.count(), 2);
    /// });
    /// ```
    pub fn acquire_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<LimiterToken<'_>, WaitError> {
        borrow_with(&self.raw, me(), waiter, deadline)
            .map(|outcome| outcome.expect("a reentrant borrow never reports AlreadyBorrowing"))
    }

    /// Releases `levels` levels of the current unit's borrow (kept with
    /// [`LimiterToken::forget`]); the last one gives the token back.
    ///
    /// # Errors
    /// [`LimiterReleaseError::NotBorrowing`] or
    /// [`LimiterReleaseError::TooManyReleases`]; nothing is released then.
    ///
    /// ```
    /// use polysync::{LimiterReleaseError, RCapacityLimiter};
    /// let limiter = RCapacityLimiter::new(1);
    /// for _ in 0..3 {
    ///     limiter.acquire_blocking().forget();
    /// }
    /// limiter.release(2).unwrap();
    /// assert_eq!(limiter.count(), 1);
    /// assert_eq!(limiter.release(2), Err(LimiterReleaseError::TooManyReleases { held: 1 }));
    /// limiter.release(1).unwrap();
    /// assert_eq!(limiter.release(1), Err(LimiterReleaseError::NotBorrowing));
    /// ```
    pub fn release(&self, levels: usize) -> Result<(), LimiterReleaseError> {
        self.raw.release(current_unit().get(), levels as u64)
    }

    /// The levels the current unit holds (0 if it is not a borrower).
    ///
    /// ```
    /// let limiter = polysync::RCapacityLimiter::new(1);
    /// assert_eq!(limiter.count(), 0);
    /// ```
    pub fn count(&self) -> usize {
        self.raw.levels_of(current_unit().get())
    }

    /// A snapshot of the borrowers with their levels, in no particular
    /// order (allocates the list).
    ///
    /// ```
    /// let limiter = polysync::RCapacityLimiter::new(1);
    /// let _a = limiter.acquire_blocking();
    /// let _b = limiter.acquire_blocking();
    /// assert_eq!(limiter.borrowers(), vec![(polysync::lowlevel::current_unit(), 2)]);
    /// ```
    pub fn borrowers(&self) -> Vec<(UnitId, usize)> {
        self.raw.snapshot()
    }

    /// [`acquire`](RCapacityLimiter::acquire) on a limiter in an `Arc`: the
    /// future and its [`OwnedLimiterToken`] are `'static`.
    ///
    /// ```
    /// use polysync::{RCapacityLimiter, lowlevel::identified};
    /// use std::sync::Arc;
    /// # futures_lite::future::block_on(async {
    /// let limiter = Arc::new(RCapacityLimiter::new(1));
    /// let token = identified(limiter.acquire_owned()).await.unwrap();
    /// std::thread::spawn(move || drop(token)).join().unwrap();
    /// assert_eq!(limiter.available_tokens(), 1);
    /// # });
    /// ```
    ///
    /// # Cancel safety
    /// As for [`acquire`](RCapacityLimiter::acquire).
    ///
    /// # Errors
    /// [`BorrowError::NoTaskIdentity`] outside an identified task.
    pub fn acquire_owned(self: &Arc<Self>) -> OwnedLimiterAcquire<Self> {
        OwnedLimiterAcquire::new(self, None)
    }

    /// [`acquire_blocking`](RCapacityLimiter::acquire_blocking), returning
    /// an [`OwnedLimiterToken`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// let limiter = Arc::new(polysync::RCapacityLimiter::new(1));
    /// let a = limiter.acquire_owned_blocking();
    /// let b = limiter.acquire_owned_blocking(); // one more level
    /// assert_eq!(limiter.count(), 2);
    /// ```
    pub fn acquire_owned_blocking(self: &Arc<Self>) -> OwnedLimiterToken<Self> {
        self.acquire_blocking().into_owned(self)
    }

    /// [`try_acquire`](RCapacityLimiter::try_acquire), returning an
    /// [`OwnedLimiterToken`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// let limiter = Arc::new(polysync::RCapacityLimiter::new(1));
    /// assert!(limiter.try_acquire_owned().is_some());
    /// ```
    pub fn try_acquire_owned(self: &Arc<Self>) -> Option<OwnedLimiterToken<Self>> {
        self.try_acquire().map(|t| t.into_owned(self))
    }

    /// [`try_acquire_for`](RCapacityLimiter::try_acquire_for), returning an
    /// [`OwnedLimiterToken`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// let limiter = Arc::new(polysync::RCapacityLimiter::new(1));
    /// assert!(limiter.try_acquire_owned_for(std::time::Duration::ZERO).is_some());
    /// ```
    pub fn try_acquire_owned_for(
        self: &Arc<Self>,
        timeout: Duration,
    ) -> Option<OwnedLimiterToken<Self>> {
        self.try_acquire_for(timeout).map(|t| t.into_owned(self))
    }

    /// [`try_acquire_until`](RCapacityLimiter::try_acquire_until), returning
    /// an [`OwnedLimiterToken`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// let limiter = Arc::new(polysync::RCapacityLimiter::new(1));
    /// assert!(limiter.try_acquire_owned_until(std::time::Instant::now()).is_some());
    /// ```
    pub fn try_acquire_owned_until(
        self: &Arc<Self>,
        deadline: Instant,
    ) -> Option<OwnedLimiterToken<Self>> {
        self.try_acquire_until(deadline).map(|t| t.into_owned(self))
    }

    /// [`acquire_with`](RCapacityLimiter::acquire_with), returning an
    /// [`OwnedLimiterToken`].
    ///
    /// # Errors
    /// As for [`acquire_with`](RCapacityLimiter::acquire_with).
    ///
    /// ```
    /// use polysync::lowlevel::ThreadWaiter;
    /// use std::sync::Arc;
    /// let limiter = Arc::new(polysync::RCapacityLimiter::new(1));
    /// let t = ThreadWaiter::with_current(|w| limiter.acquire_owned_with(w, None)).unwrap();
    /// ```
    pub fn acquire_owned_with<W: Waiter + ?Sized>(
        self: &Arc<Self>,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<OwnedLimiterToken<Self>, WaitError> {
        self.acquire_with(waiter, deadline)
            .map(|t| t.into_owned(self))
    }

    /// Borrows (one more level of) a token asynchronously for `borrower`
    /// rather than the current task (see
    /// [`CapacityLimiter::acquire_on_behalf_of`]); no task identity needed.
    ///
    /// ```
    /// use polysync::{RCapacityLimiter, lowlevel::UnitId};
    /// # futures_lite::future::block_on(async {
    /// let limiter = RCapacityLimiter::new(1);
    /// let job = UnitId::allocate();
    /// let a = limiter.acquire_on_behalf_of(job).await.unwrap();
    /// let b = limiter.acquire_on_behalf_of(job).await.unwrap(); // one more level
    /// assert_eq!(limiter.borrowers(), vec![(job, 2)]);
    /// # });
    /// ```
    ///
    /// # Cancel safety
    /// As for [`acquire`](RCapacityLimiter::acquire).
    ///
    /// # Errors
    /// None in practice: the output is a `Result` only to share the future
    /// type with [`acquire`](RCapacityLimiter::acquire).
    pub fn acquire_on_behalf_of(&self, borrower: UnitId) -> LimiterAcquire<'_> {
        LimiterAcquire::on_behalf_of(&self.raw, borrower)
    }

    /// Borrows (one more level of) a token for `borrower`, blocking the
    /// current unit.
    ///
    /// ```
    /// use polysync::lowlevel::UnitId;
    /// let limiter = polysync::RCapacityLimiter::new(1);
    /// let job = UnitId::allocate();
    /// let t = limiter.acquire_on_behalf_of_blocking(job);
    /// assert_eq!(t.borrower(), job);
    /// ```
    pub fn acquire_on_behalf_of_blocking(&self, borrower: UnitId) -> LimiterToken<'_> {
        reborrow_until(&self.raw, borrower.get(), None)
            .expect("a wait without a deadline does not time out")
    }

    /// Borrows (one more level of) a token for `borrower` if it has one or
    /// one is free.
    ///
    /// ```
    /// use polysync::lowlevel::UnitId;
    /// let limiter = polysync::RCapacityLimiter::new(0);
    /// assert!(limiter.try_acquire_on_behalf_of(UnitId::allocate()).is_none());
    /// ```
    pub fn try_acquire_on_behalf_of(&self, borrower: UnitId) -> Option<LimiterToken<'_>> {
        try_borrow(&self.raw, borrower.get()).ok()
    }

    /// Like [`acquire_on_behalf_of_blocking`](RCapacityLimiter::acquire_on_behalf_of_blocking),
    /// giving up after `timeout`.
    ///
    /// ```
    /// use polysync::lowlevel::UnitId;
    /// let limiter = polysync::RCapacityLimiter::new(0);
    /// let t = limiter.try_acquire_on_behalf_of_for(UnitId::allocate(), std::time::Duration::from_millis(1));
    /// assert!(t.is_none());
    /// ```
    pub fn try_acquire_on_behalf_of_for(
        &self,
        borrower: UnitId,
        timeout: Duration,
    ) -> Option<LimiterToken<'_>> {
        reborrow_until(&self.raw, borrower.get(), deadline_after(timeout))
    }

    /// Like [`acquire_on_behalf_of_blocking`](RCapacityLimiter::acquire_on_behalf_of_blocking),
    /// giving up at `deadline`.
    ///
    /// ```
    /// use polysync::lowlevel::UnitId;
    /// let limiter = polysync::RCapacityLimiter::new(1);
    /// let now = std::time::Instant::now();
    /// assert!(limiter.try_acquire_on_behalf_of_until(UnitId::allocate(), now).is_some());
    /// ```
    pub fn try_acquire_on_behalf_of_until(
        &self,
        borrower: UnitId,
        deadline: Instant,
    ) -> Option<LimiterToken<'_>> {
        reborrow_until(&self.raw, borrower.get(), Some(deadline))
    }

    /// Borrows (one more level of) a token for `borrower` on `waiter`,
    /// giving up at `deadline`.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] or [`WaitError::Cancelled`].
    ///
    /// ```
    /// use polysync::lowlevel::{ThreadWaiter, UnitId};
    /// let limiter = polysync::RCapacityLimiter::new(1);
    /// let job = UnitId::allocate();
    /// let t = ThreadWaiter::with_current(|w| limiter.acquire_on_behalf_of_with(job, w, None));
    /// assert_eq!(t.unwrap().borrower(), job);
    /// ```
    pub fn acquire_on_behalf_of_with<W: Waiter + ?Sized>(
        &self,
        borrower: UnitId,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<LimiterToken<'_>, WaitError> {
        borrow_with(&self.raw, borrower.get(), waiter, deadline)
            .map(|outcome| outcome.expect("a reentrant borrow never reports AlreadyBorrowing"))
    }

    /// Releases `levels` levels of `borrower`'s borrow, from any unit.
    ///
    /// # Errors
    /// [`LimiterReleaseError::NotBorrowing`] or
    /// [`LimiterReleaseError::TooManyReleases`]; nothing is released then.
    ///
    /// ```
    /// use polysync::lowlevel::UnitId;
    /// let limiter = polysync::RCapacityLimiter::new(1);
    /// let job = UnitId::allocate();
    /// limiter.acquire_on_behalf_of_blocking(job).forget();
    /// limiter.acquire_on_behalf_of_blocking(job).forget();
    /// limiter.release_on_behalf_of(job, 2).unwrap();
    /// assert_eq!(limiter.available_tokens(), 1);
    /// ```
    pub fn release_on_behalf_of(
        &self,
        borrower: UnitId,
        levels: usize,
    ) -> Result<(), LimiterReleaseError> {
        self.raw.release(borrower.get(), levels as u64)
    }

    common_methods!(RCapacityLimiter, "RCapacityLimiter::new(2)");
}

impl Default for CapacityLimiter {
    /// A limiter with one token.
    fn default() -> Self {
        Self::new(1)
    }
}

impl Default for RCapacityLimiter {
    /// A limiter with one token.
    fn default() -> Self {
        Self::new(1)
    }
}

macro_rules! debug_impls {
    ($($ty:ident),*) => {$(
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("total_tokens", &self.total_tokens())
                    .field("borrowed_tokens", &self.borrowed_tokens())
                    .field("waiting", &self.waiting())
                    .finish()
            }
        }
    )*};
}
debug_impls!(CapacityLimiter, RCapacityLimiter);
