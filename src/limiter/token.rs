//! What a borrow hands out ([`LimiterToken`]), the async borrow
//! ([`LimiterAcquire`]) and the one blocking borrow both limiters run.

use super::raw::{Borrow, Outcome, RawLimiter};
use super::*;
use crate::lowlevel::wait::{Wait, drive};
use crate::lowlevel::{WaitError, Waiter, current_task, current_unit, with_current_waiter};
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::Instant;

/// A borrowed token (or one level of a reentrant borrow); given back when
/// dropped, to the oldest waiter if any. `Send`: the token, not the thread
/// that drops it, proves the borrow.
#[must_use = "the token is given back as soon as it is dropped"]
pub struct LimiterToken<'a> {
    raw: &'a RawLimiter,
    borrower: u64,
}

impl LimiterToken<'_> {
    /// The borrower the token was lent to.
    ///
    /// ```
    /// let limiter = polysync::CapacityLimiter::new(1);
    /// let token = limiter.try_acquire().unwrap();
    /// assert_eq!(token.borrower(), polysync::lowlevel::current_unit());
    /// ```
    pub fn borrower(&self) -> UnitId {
        // Stored from `UnitId::get` when the token was lent.
        UnitId::from_stored(self.borrower).expect("borrowers are valid ids")
    }

    /// Keeps the token borrowed without a guard; give it back later with the
    /// limiter's `release` from the borrowing unit.
    ///
    /// ```
    /// let limiter = polysync::CapacityLimiter::new(1);
    /// limiter.try_acquire().unwrap().forget();
    /// assert_eq!(limiter.available_tokens(), 0);
    /// limiter.release().unwrap();
    /// assert_eq!(limiter.available_tokens(), 1);
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for LimiterToken<'_> {
    fn drop(&mut self) {
        let _ = self.raw.release(self.borrower, 1);
    }
}

impl std::fmt::Debug for LimiterToken<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LimiterToken")
            .field("borrower", &self.borrower())
            .field("limiter", self.raw)
            .finish()
    }
}

/// The future of [`CapacityLimiter::acquire`] and [`RCapacityLimiter::acquire`].
#[must_use = "futures do nothing unless polled"]
pub struct LimiterAcquire<'a> {
    raw: &'a RawLimiter,
    /// Created at the first poll, once the task's identity is known.
    wait: Option<Outcome<'a>>,
}

impl<'a> LimiterAcquire<'a> {
    pub(super) fn new(raw: &'a RawLimiter) -> Self {
        LimiterAcquire { raw, wait: None }
    }
}

impl<'a> Future for LimiterAcquire<'a> {
    type Output = Result<LimiterToken<'a>, BorrowError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `wait` is structurally pinned: set in place before its first
        // poll, never moved out afterwards.
        let this = unsafe { self.get_unchecked_mut() };
        let raw = this.raw;
        if this.wait.is_none() {
            let Some(me) = current_task() else {
                return Poll::Ready(Err(BorrowError::NoTaskIdentity));
            };
            this.wait = Some(Outcome(Wait::new(raw, Borrow::by(me.get()))));
        }
        // SAFETY: as above.
        let wait = unsafe { Pin::new_unchecked(this.wait.as_mut().expect("set above")) };
        wait.poll(cx).map(|data| outcome(raw, data))
    }
}

impl std::fmt::Debug for LimiterAcquire<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LimiterAcquire")
            .field("limiter", self.raw)
            .field(
                "queued",
                &self.wait.as_ref().is_some_and(|w| w.0.is_queued()),
            )
            .finish()
    }
}

pub(super) fn outcome(raw: &RawLimiter, outcome: Borrow) -> Result<LimiterToken<'_>, BorrowError> {
    if outcome.already {
        Err(BorrowError::AlreadyBorrowing)
    } else {
        Ok(LimiterToken {
            raw,
            borrower: outcome.id,
        })
    }
}

/// The one blocking borrow: on `waiter`, for the current unit. The outer
/// error is why the wait gave up; the inner result is the borrow's outcome.
pub(super) fn borrow_with<'a, W: Waiter + ?Sized>(
    raw: &'a RawLimiter,
    waiter: &W,
    deadline: Option<Instant>,
) -> Result<Result<LimiterToken<'a>, BorrowError>, WaitError> {
    let me = current_unit().get();
    // Fast path: a free token (or an error) needs no waiter at all.
    if let Ok(data) = raw.try_borrow(me) {
        return Ok(outcome(raw, data));
    }
    let mut wait = pin!(Wait::new(raw, Borrow::by(me)));
    drive(waiter, wait.as_mut(), deadline).map_err(|(error, ())| error)?;
    Ok(outcome(
        raw,
        wait.outcome().expect("a completed wait holds its outcome"),
    ))
}

/// [`borrow_with`] for the non-reentrant limiter's result shape.
pub(super) fn borrow_or_unavailable<'a, W: Waiter + ?Sized>(
    raw: &'a RawLimiter,
    waiter: &W,
    deadline: Option<Instant>,
) -> Result<LimiterToken<'a>, BorrowError> {
    match borrow_with(raw, waiter, deadline) {
        Ok(outcome) => outcome,
        Err(WaitError::TimedOut) => Err(BorrowError::Unavailable),
        Err(WaitError::Cancelled) => Err(BorrowError::Cancelled),
    }
}

/// A plain blocking borrow of the non-reentrant limiter: on the current
/// unit's waiter; a cancellation unwinds (see `lowlevel::wait::blocking`).
pub(super) fn borrow_until(
    raw: &RawLimiter,
    deadline: Option<Instant>,
) -> Result<LimiterToken<'_>, BorrowError> {
    with_current_waiter(
        |waiter| match borrow_or_unavailable(raw, waiter, deadline) {
            Err(BorrowError::Cancelled) => waiter.cancelled(),
            outcome => outcome,
        },
    )
}

pub(super) fn try_borrow(raw: &RawLimiter) -> Result<LimiterToken<'_>, BorrowError> {
    match raw.try_borrow(current_unit().get()) {
        Ok(data) => outcome(raw, data),
        Err(_) => Err(BorrowError::Unavailable),
    }
}
