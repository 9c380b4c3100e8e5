//! What a borrow hands out ([`LimiterToken`]), the async borrow
//! ([`LimiterAcquire`]) and the one blocking borrow both limiters run.

use super::raw::{Borrow, HasRaw, Outcome, RawLimiter};
use super::*;
use crate::lowlevel::wait::{Wait, blocking, drive};
use crate::lowlevel::{WaitError, Waiter, current_task, with_current_waiter};
use crate::owned::ArcWait;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
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
    /// The borrower named by an `acquire_on_behalf_of`, else 0: the current
    /// task, read at the first poll.
    borrower: u64,
    /// Created at the first poll, once the borrower is known.
    wait: Option<Outcome<'a>>,
}

impl<'a> LimiterAcquire<'a> {
    pub(super) fn new(raw: &'a RawLimiter) -> Self {
        LimiterAcquire {
            raw,
            borrower: 0,
            wait: None,
        }
    }

    /// A borrow for `borrower` (a raw `UnitId`), whoever polls it.
    pub(super) fn on_behalf_of(raw: &'a RawLimiter, borrower: UnitId) -> Self {
        LimiterAcquire {
            raw,
            borrower: borrower.get(),
            wait: None,
        }
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
            let me = match this.borrower {
                0 => match current_task() {
                    Some(me) => me.get(),
                    None => return Poll::Ready(Err(BorrowError::NoTaskIdentity)),
                },
                named => named,
            };
            this.wait = Some(Outcome(Wait::new(raw, Borrow::by(me))));
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
    me: u64,
    waiter: &W,
    deadline: Option<Instant>,
) -> Result<Result<LimiterToken<'a>, BorrowError>, WaitError> {
    // Fast path: a free token (or an error) needs no waiter at all.
    if let Ok(data) = raw.try_borrow(me) {
        return Ok(outcome(raw, data));
    }
    wait_with(raw, me, waiter, deadline)
}

/// The waiting half of [`borrow_with`], once the attempt failed: out of
/// line, so that the no-wait path stays small.
#[cold]
#[inline(never)]
fn wait_with<'a, W: Waiter + ?Sized>(
    raw: &'a RawLimiter,
    me: u64,
    waiter: &W,
    deadline: Option<Instant>,
) -> Result<Result<LimiterToken<'a>, BorrowError>, WaitError> {
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
    me: u64,
    waiter: &W,
    deadline: Option<Instant>,
) -> Result<LimiterToken<'a>, BorrowError> {
    unavailable(borrow_with(raw, me, waiter, deadline))
}

fn unavailable<'a>(
    r: Result<Result<LimiterToken<'a>, BorrowError>, WaitError>,
) -> Result<LimiterToken<'a>, BorrowError> {
    match r {
        Ok(outcome) => outcome,
        Err(WaitError::TimedOut) => Err(BorrowError::Unavailable),
        Err(WaitError::Cancelled) => Err(BorrowError::Cancelled),
    }
}

/// A plain blocking borrow of the non-reentrant limiter: the attempt first
/// (no waiter lookup; a green unit takes its checkpoint before it, never
/// while it holds the token), then the wait on the current unit's waiter;
/// a cancellation unwinds (see `lowlevel::wait::blocking`).
pub(super) fn borrow_until(
    raw: &RawLimiter,
    me: u64,
    deadline: Option<Instant>,
) -> Result<LimiterToken<'_>, BorrowError> {
    crate::lowlevel::green_checkpoint();
    if let Ok(data) = raw.try_borrow(me) {
        return outcome(raw, data);
    }
    with_current_waiter(
        |waiter| match unavailable(wait_with(raw, me, waiter, deadline)) {
            Err(BorrowError::Cancelled) => waiter.cancelled(),
            outcome => outcome,
        },
    )
}

/// A plain blocking borrow of the reentrant limiter (which never answers
/// `AlreadyBorrowing`), as [`borrow_until`]: `None` on a time-out.
pub(super) fn reborrow_until(
    raw: &RawLimiter,
    me: u64,
    deadline: Option<Instant>,
) -> Option<LimiterToken<'_>> {
    crate::lowlevel::green_checkpoint();
    fn reentrant(r: Result<LimiterToken<'_>, BorrowError>) -> LimiterToken<'_> {
        r.expect("a reentrant borrow never reports AlreadyBorrowing")
    }
    if let Ok(data) = raw.try_borrow(me) {
        return Some(reentrant(outcome(raw, data)));
    }
    blocking(|waiter| wait_with(raw, me, waiter, deadline).map(reentrant))
}

pub(super) fn try_borrow(raw: &RawLimiter, me: u64) -> Result<LimiterToken<'_>, BorrowError> {
    match raw.try_borrow(me) {
        Ok(data) => outcome(raw, data),
        Err(_) => Err(BorrowError::Unavailable),
    }
}

/// The limiters whose tokens can be owned: [`CapacityLimiter`] and
/// [`RCapacityLimiter`]. Sealed.
pub trait TokenSource: HasRaw + Sync {}

impl HasRaw for CapacityLimiter {
    fn raw(&self) -> &RawLimiter {
        &self.raw
    }
}
impl TokenSource for CapacityLimiter {}

impl HasRaw for RCapacityLimiter {
    fn raw(&self) -> &RawLimiter {
        &self.raw
    }
}
impl TokenSource for RCapacityLimiter {}

impl LimiterToken<'_> {
    /// The owned form of this token, given the `Arc` of its limiter.
    ///
    /// # Panics
    /// If `limiter` is not the limiter this token was borrowed from.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let limiter = Arc::new(polysync::CapacityLimiter::new(1));
    /// let token = limiter.try_acquire().unwrap().into_owned(&limiter);
    /// std::thread::spawn(move || drop(token)).join().unwrap();
    /// assert_eq!(limiter.available_tokens(), 1);
    /// ```
    #[track_caller]
    pub fn into_owned<L: TokenSource>(self, limiter: &Arc<L>) -> OwnedLimiterToken<L> {
        assert!(
            std::ptr::eq(self.raw, limiter.raw()),
            "polysync: LimiterToken::into_owned with another limiter's Arc"
        );
        let borrower = self.borrower;
        std::mem::forget(self);
        OwnedLimiterToken {
            limiter: Arc::clone(limiter),
            borrower,
        }
    }
}

/// A borrowed token (or one level of a reentrant borrow) of a limiter held
/// through an `Arc`: `'static` and `Send`, so it can move into a spawned
/// task or thread; given back when dropped (also when that task panics, as
/// it unwinds), to the oldest waiter if any. The borrower stays the unit it
/// was lent to (the token, not the unit that drops it, proves the borrow).
///
/// ```
/// use polysync::CapacityLimiter;
/// use std::sync::Arc;
///
/// let limiter = Arc::new(CapacityLimiter::new(1));
/// let token = limiter.acquire_owned_blocking().unwrap();
/// std::thread::spawn(move || drop(token)).join().unwrap();
/// assert_eq!(limiter.available_tokens(), 1);
/// ```
#[must_use = "the token is given back as soon as it is dropped"]
pub struct OwnedLimiterToken<L: TokenSource> {
    limiter: Arc<L>,
    borrower: u64,
}

impl<L: TokenSource> OwnedLimiterToken<L> {
    /// The borrower the token was lent to.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let limiter = Arc::new(polysync::CapacityLimiter::new(1));
    /// let token = limiter.try_acquire_owned().unwrap();
    /// assert_eq!(token.borrower(), polysync::lowlevel::current_unit());
    /// ```
    pub fn borrower(&self) -> UnitId {
        // Stored from `UnitId::get` when the token was lent.
        UnitId::from_stored(self.borrower).expect("borrowers are valid ids")
    }

    /// The limiter the token belongs to.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let limiter = Arc::new(polysync::RCapacityLimiter::new(1));
    /// let token = limiter.acquire_owned_blocking();
    /// assert!(Arc::ptr_eq(token.limiter(), &limiter));
    /// ```
    pub fn limiter(&self) -> &Arc<L> {
        &self.limiter
    }

    /// Keeps the token borrowed without a guard; give it back later with
    /// the limiter's `release` from the borrowing unit.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let limiter = Arc::new(polysync::CapacityLimiter::new(1));
    /// limiter.try_acquire_owned().unwrap().forget();
    /// assert_eq!(limiter.available_tokens(), 0);
    /// limiter.release().unwrap();
    /// ```
    pub fn forget(self) {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again: only the `Arc` is
        // dropped; the borrow stays.
        drop(unsafe { std::ptr::read(&this.limiter) });
    }
}

impl<L: TokenSource> Drop for OwnedLimiterToken<L> {
    fn drop(&mut self) {
        let _ = self.limiter.raw().release(self.borrower, 1);
    }
}

impl<L: TokenSource> std::fmt::Debug for OwnedLimiterToken<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedLimiterToken")
            .field("borrower", &self.borrower())
            .field("limiter", self.limiter.raw())
            .finish()
    }
}

/// The future of the limiters' `acquire_owned`: [`LimiterAcquire`] run
/// against a limiter in an `Arc`; `'static`, resolves to an
/// [`OwnedLimiterToken`].
#[must_use = "futures do nothing unless polled"]
pub struct OwnedLimiterAcquire<L: TokenSource> {
    inner: ArcWait<L, LimiterAcquire<'static>>,
}

impl<L: TokenSource> OwnedLimiterAcquire<L> {
    pub(super) fn new(limiter: &Arc<L>, borrower: Option<UnitId>) -> Self {
        let limiter = Arc::clone(limiter);
        // SAFETY: the reference points into `limiter`'s allocation (its raw
        // core); the future that holds it is stored with `limiter` in an
        // `ArcWait`, whose output goes only to the closure in `poll`, which
        // forgets the borrowed token: the rules of `ArcWait::new`.
        let raw = unsafe { crate::owned::extend(limiter.raw()) };
        let fut = match borrower {
            Some(id) => LimiterAcquire::on_behalf_of(raw, id),
            None => LimiterAcquire::new(raw),
        };
        OwnedLimiterAcquire {
            // SAFETY: as above.
            inner: unsafe { ArcWait::new(limiter, fut) },
        }
    }
}

impl<L: TokenSource> Future for OwnedLimiterAcquire<L> {
    type Output = Result<OwnedLimiterToken<L>, BorrowError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `inner` is structurally pinned; nothing else is here.
        let inner = unsafe { self.map_unchecked_mut(|this| &mut this.inner) };
        inner.poll_with(cx, |out, limiter| {
            out.map(|token| {
                let borrower = token.borrower;
                // The owned token gives the borrow back itself.
                std::mem::forget(token);
                OwnedLimiterToken { limiter, borrower }
            })
        })
    }
}

impl<L: TokenSource> std::fmt::Debug for OwnedLimiterAcquire<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedLimiterAcquire")
            .field("acquire", &self.inner.future())
            .finish()
    }
}
