//! The async acquisitions ([`Acquire`], [`AcquireMany`] and their owned
//! forms) and the one blocking acquisition every blocking form runs
//! ([`acquire_with`]). All of them run the core `Wait` with the
//! semaphores' one protocol (`raw.rs`).

use super::error::{AcquireError, TryAcquireError};
use super::permit::{OwnedPermit, Permit, PermitSource};
use super::raw::{Refused, Want};
use crate::lowlevel::wait::{Wait, blocking, drive};
use crate::lowlevel::{WaitError, Waiter};
use crate::owned::ArcWait;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

/// The number of permits a `*_many` call asks for, checked against what
/// `sem` can ever hold: a request for more could never be served.
///
/// # Panics
/// If `n` exceeds the semaphore's maximum.
#[inline]
#[track_caller]
pub(super) fn checked<S: PermitSource + ?Sized>(sem: &S, n: usize) -> u64 {
    match u64::try_from(n) {
        Ok(n) if n <= sem.max() => n,
        _ => panic!(
            "polysync: acquire_many({n}) on a semaphore that never holds more than {} permits",
            sem.max()
        ),
    }
}

/// The one blocking acquisition: `n` permits on `waiter`, giving up at
/// `deadline`. Tries lock-free first (no waiter needed); otherwise queues
/// and drives the core wait.
pub(super) fn acquire_with<'a, S: PermitSource, W: Waiter + ?Sized>(
    sem: &'a S,
    n: u64,
    waiter: &W,
    deadline: Option<Instant>,
) -> Result<Permit<'a, S>, TryAcquireError> {
    match sem.raw().try_take(n) {
        Ok(()) => return Ok(Permit::new(sem, n)),
        Err(Refused::Closed) => return Err(TryAcquireError::Closed),
        Err(Refused::Unavailable) => {}
    }
    let mut wait = pin!(Wait::new(sem, Want::of(n)));
    match drive(waiter, wait.as_mut(), deadline) {
        // Completed, also by a hand-off that landed as the wait gave up.
        Ok(()) => Permit::granted(
            sem,
            wait.outcome().expect("a completed wait has its outcome"),
        )
        .ok_or(TryAcquireError::Closed),
        Err((WaitError::TimedOut, ())) => Err(TryAcquireError::Unavailable),
        Err((WaitError::Cancelled, ())) => Err(TryAcquireError::Cancelled),
    }
}

/// The non-blocking acquisition of `n` permits.
#[inline]
pub(super) fn try_acquire<S: PermitSource>(
    sem: &S,
    n: u64,
) -> Result<Permit<'_, S>, TryAcquireError> {
    match sem.raw().try_take(n) {
        Ok(()) => Ok(Permit::new(sem, n)),
        Err(Refused::Closed) => Err(TryAcquireError::Closed),
        Err(Refused::Unavailable) => Err(TryAcquireError::Unavailable),
    }
}

/// The untimed blocking acquisition of `n` permits on the current unit's
/// waiter (`acquire_blocking`, `acquire_many_blocking`): the lock-free
/// attempt first (no waiter lookup), then the wait. It can only fail by the
/// closing: without a deadline it never times out, and a cancelled green
/// unit unwinds inside `blocking`.
#[inline]
pub(super) fn acquire_blocking<S: PermitSource>(
    sem: &S,
    n: u64,
) -> Result<Permit<'_, S>, AcquireError> {
    // A green unit takes its checkpoint first, never while it holds what
    // the call took.
    crate::lowlevel::green_checkpoint();
    match try_acquire(sem, n) {
        Ok(permit) => Ok(permit),
        Err(TryAcquireError::Unavailable) => acquire_blocking_wait(sem, n),
        Err(_) => Err(AcquireError),
    }
}

/// The waiting half of [`acquire_blocking`], out of line so that the
/// no-wait path stays small (it is inlined into every caller).
#[cold]
#[inline(never)]
fn acquire_blocking_wait<S: PermitSource>(sem: &S, n: u64) -> Result<Permit<'_, S>, AcquireError> {
    blocking(|w| as_wait_result(acquire_with(sem, n, w, None)))
        .expect("a wait without a deadline does not time out")
        .map_err(|e| {
            debug_assert_eq!(
                e,
                TryAcquireError::Closed,
                "an untimed wait fails only by the closing"
            );
            AcquireError
        })
}

/// For the blocking forms built on [`crate::lowlevel::wait::blocking`]: a
/// wait that gave up becomes the `WaitError` that helper expects (a
/// time-out, or a cancellation it unwinds with); any other result is kept.
#[inline]
pub(super) fn as_wait_result<P>(
    r: Result<P, TryAcquireError>,
) -> Result<Result<P, TryAcquireError>, WaitError> {
    match r {
        Err(TryAcquireError::Unavailable) => Err(WaitError::TimedOut),
        Err(TryAcquireError::Cancelled) => Err(WaitError::Cancelled),
        other => Ok(other),
    }
}

/// Projects the pinned wait of a future that holds only it.
macro_rules! pinned_wait {
    ($self:ident) => {
        // SAFETY: the wait is structurally pinned: the future holds nothing
        // else and never moves it out.
        unsafe { $self.map_unchecked_mut(|this| &mut this.wait) }
    };
}

/// The poll of [`Acquire`] and [`AcquireMany`]: the core wait, then the
/// permits it was granted, or [`AcquireError`] if the semaphore closed.
#[inline]
fn poll_permit<'a, S: PermitSource>(
    mut wait: Pin<&mut Wait<'a, S>>,
    cx: &mut Context<'_>,
) -> Poll<Result<Permit<'a, S>, AcquireError>> {
    ready!(wait.as_mut().poll(cx));
    let outcome = wait.outcome().expect("completed");
    Poll::Ready(Permit::granted(wait.protocol(), outcome).ok_or(AcquireError))
}

/// The future of a semaphore's `acquire`; resolves to a one-permit
/// [`Permit`], or [`AcquireError`] if the semaphore is closed (before the
/// first poll or while it waits).
#[must_use = "futures do nothing unless polled"]
pub struct Acquire<'a, S: PermitSource> {
    wait: Wait<'a, S>,
}

impl<'a, S: PermitSource> Acquire<'a, S> {
    #[inline]
    pub(super) fn new(sem: &'a S) -> Self {
        Acquire {
            wait: Wait::new(sem, Want::of(1)),
        }
    }
}

impl<'a, S: PermitSource> Future for Acquire<'a, S> {
    type Output = Result<Permit<'a, S>, AcquireError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        poll_permit(pinned_wait!(self), cx)
    }
}

impl<S: PermitSource + std::fmt::Debug> std::fmt::Debug for Acquire<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acquire")
            .field("semaphore", self.wait.protocol())
            .field("queued", &self.wait.is_queued())
            .finish()
    }
}

/// The future of a semaphore's `acquire_many`; resolves to a [`Permit`] of
/// all the permits asked for, or [`AcquireError`] if the semaphore is
/// closed.
#[must_use = "futures do nothing unless polled"]
pub struct AcquireMany<'a, S: PermitSource> {
    wait: Wait<'a, S>,
}

impl<'a, S: PermitSource> AcquireMany<'a, S> {
    #[inline]
    pub(super) fn new(sem: &'a S, n: u64) -> Self {
        AcquireMany {
            wait: Wait::new(sem, Want::of(n)),
        }
    }
}

impl<'a, S: PermitSource> Future for AcquireMany<'a, S> {
    type Output = Result<Permit<'a, S>, AcquireError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        poll_permit(pinned_wait!(self), cx)
    }
}

impl<S: PermitSource + std::fmt::Debug> std::fmt::Debug for AcquireMany<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcquireMany")
            .field("semaphore", self.wait.protocol())
            .field("queued", &self.wait.is_queued())
            .finish()
    }
}

/// The future of a semaphore's `acquire_owned`: [`Acquire`] run against a
/// semaphore in an `Arc`; `'static`, resolves to an [`OwnedPermit`], or
/// [`AcquireError`] if the semaphore is closed.
#[must_use = "futures do nothing unless polled"]
pub struct OwnedAcquire<S: PermitSource + 'static> {
    inner: ArcWait<S, Acquire<'static, S>>,
}

impl<S: PermitSource + 'static> OwnedAcquire<S> {
    pub(super) fn new(sem: &Arc<S>) -> Self {
        let sem = sem.clone();
        // SAFETY: the reference points into `sem`'s allocation, and the
        // future holding it is stored with `sem` in an `ArcWait`, whose
        // output goes only to `OwnedPermit::adopt` (which forgets the
        // borrowed permit): the rules of `ArcWait::new`.
        let target = unsafe { crate::owned::extend(&*sem) };
        let fut = Acquire::new(target);
        // SAFETY: as above.
        OwnedAcquire {
            inner: unsafe { ArcWait::new(sem, fut) },
        }
    }
}

impl<S: PermitSource + 'static> Future for OwnedAcquire<S> {
    type Output = Result<OwnedPermit<S>, AcquireError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `inner` is structurally pinned; nothing else is here.
        let inner = unsafe { self.map_unchecked_mut(|this| &mut this.inner) };
        inner.poll_with(cx, |r, sem| r.map(|p| OwnedPermit::adopt(p, sem)))
    }
}

impl<S: PermitSource + std::fmt::Debug + 'static> std::fmt::Debug for OwnedAcquire<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedAcquire")
            .field("semaphore", &self.inner.target())
            .field(
                "queued",
                &self.inner.future().is_some_and(|f| f.wait.is_queued()),
            )
            .finish()
    }
}

/// The future of a semaphore's `acquire_many_owned`: [`AcquireMany`] run
/// against a semaphore in an `Arc`; `'static`, resolves to an
/// [`OwnedPermit`] or [`AcquireError`].
#[must_use = "futures do nothing unless polled"]
pub struct OwnedAcquireMany<S: PermitSource + 'static> {
    inner: ArcWait<S, AcquireMany<'static, S>>,
}

impl<S: PermitSource + 'static> OwnedAcquireMany<S> {
    pub(super) fn new(sem: &Arc<S>, n: u64) -> Self {
        let sem = sem.clone();
        // SAFETY: as in `OwnedAcquire::new`; the output goes only to
        // `OwnedPermit::adopt`.
        let target = unsafe { crate::owned::extend(&*sem) };
        let fut = AcquireMany::new(target, n);
        // SAFETY: as above.
        OwnedAcquireMany {
            inner: unsafe { ArcWait::new(sem, fut) },
        }
    }
}

impl<S: PermitSource + 'static> Future for OwnedAcquireMany<S> {
    type Output = Result<OwnedPermit<S>, AcquireError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `inner` is structurally pinned; nothing else is here.
        let inner = unsafe { self.map_unchecked_mut(|this| &mut this.inner) };
        inner.poll_with(cx, |r, sem| r.map(|p| OwnedPermit::adopt(p, sem)))
    }
}

impl<S: PermitSource + std::fmt::Debug + 'static> std::fmt::Debug for OwnedAcquireMany<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedAcquireMany")
            .field("semaphore", &self.inner.target())
            .field(
                "queued",
                &self.inner.future().is_some_and(|f| f.wait.is_queued()),
            )
            .finish()
    }
}
