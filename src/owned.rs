//! The one piece every owned async acquisition shares ([`ArcWait`]): the
//! borrowed wait future of a primitive, run against a primitive that an
//! `Arc` keeps alive, so that the future (and the guard it resolves to) is
//! `'static` and can move into `tokio::spawn`.
//!
//! The borrowed futures (`lock::Acquire<'a>`, `semaphore::Acquire<'a, S>`,
//! ...) hold `&'a Primitive` next to their queue node. An owned future
//! stores the `Arc` beside such a future whose lifetime was extended to
//! `'static`; that is a self-referential struct, sound only under the rules
//! written on [`ArcWait::new`]. Writing it once here keeps the wait logic in
//! one place (the core `Wait`): an owned future is the borrowed wait plus an
//! `Arc`, nothing else.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A borrowed wait future `F` whose borrows point into `*arc`, stored with
/// the `Arc` that keeps that memory alive.
///
/// Field order is part of the soundness argument: `fut` is declared first,
/// so it is dropped before `arc` (a future dropped while it waits, or after
/// a hand-off it did not consume, still uses the primitive to leave the
/// queue or pass the hand-off on).
pub(crate) struct ArcWait<T: ?Sized, F> {
    /// The borrowed future, its lifetime extended to `'static`; structurally
    /// pinned (it holds a queue node). `None` once it completed: it is
    /// dropped in place before the `Arc` is handed to the output, so no
    /// reference into the primitive outlives the `Arc` it came from.
    fut: Option<F>,
    /// The primitive; `None` once handed to the output. Not pinned.
    arc: Option<Arc<T>>,
}

impl<T: ?Sized, F: Future> ArcWait<T, F> {
    /// Stores `fut` with `arc`.
    ///
    /// # Safety
    /// - Every reference inside `fut` (and inside its output) with a
    ///   lifetime extended to `'static` points into the allocation that
    ///   `arc` owns: into `*arc`. An `Arc`'s target never moves and lives as
    ///   long as any clone, and this struct keeps `arc` until `fut` is gone
    ///   (dropped first, see the type), so those references are valid for
    ///   as long as they exist.
    /// - The output of `fut` is only ever given to the `finish` of
    ///   [`poll_with`](ArcWait::poll_with), which turns it into a value that
    ///   holds no such reference (it forgets a borrowed guard and builds an
    ///   owned one around the `Arc`): no `'static` reference escapes to the
    ///   user.
    #[inline]
    pub(crate) unsafe fn new(arc: Arc<T>, fut: F) -> Self {
        ArcWait {
            fut: Some(fut),
            arc: Some(arc),
        }
    }

    /// Polls the borrowed future; when it completes, drops it in place and
    /// hands its output, with the `Arc`, to `finish`.
    ///
    /// # Panics
    /// If polled again after it completed (as every wait future of the
    /// crate does).
    #[inline]
    pub(crate) fn poll_with<R>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        finish: impl FnOnce(F::Output, Arc<T>) -> R,
    ) -> Poll<R> {
        // SAFETY: `fut` is structurally pinned: it is never moved out of
        // `self` (only dropped in place, below); `arc` is not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let Some(fut) = this.fut.as_mut() else {
            panic!("polysync: an owned wait future was polled after it completed");
        };
        // SAFETY: as above, `fut` stays where it is until dropped in place.
        let out = match unsafe { Pin::new_unchecked(fut) }.poll(cx) {
            Poll::Ready(out) => out,
            Poll::Pending => return Poll::Pending,
        };
        // The finished future is dropped in place (allowed for a pinned
        // value) while `arc` still keeps the primitive alive; from here on
        // nothing in `self` refers into it. A finished wait's drop does
        // nothing (its node is done).
        this.fut = None;
        let arc = this
            .arc
            .take()
            .expect("the Arc stays until the future completes");
        Poll::Ready(finish(out, arc))
    }

    /// The borrowed future, for `Debug`: `None` once completed.
    pub(crate) fn future(&self) -> Option<&F> {
        self.fut.as_ref()
    }

    /// The primitive, for `Debug`: `None` once completed.
    pub(crate) fn target(&self) -> Option<&T> {
        self.arc.as_deref()
    }
}

/// Extends the lifetime of a borrow of an `Arc`'s target to `'static`, for
/// [`ArcWait::new`].
///
/// # Safety
/// `r` points into the allocation of an `Arc` that the caller stores in an
/// [`ArcWait`] together with everything that holds the returned reference,
/// under the rules of [`ArcWait::new`].
#[inline]
pub(crate) unsafe fn extend<U: ?Sized>(r: &U) -> &'static U {
    // SAFETY: by the caller's contract, the reference is used only while
    // the `Arc` that owns its target is alive.
    unsafe { &*std::ptr::from_ref(r) }
}
