//! The futures of [`RwLock<T>`]: each wraps a raw wait ([`RawRead`],
//! [`RawWrite`]) and turns its guard into a data guard.

use super::RwLock;
use super::guards::{
    OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLockReadGuard, RwLockWriteGuard,
};
use super::raw::{RawRead, RawRwLock, RawWrite};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The future of [`RwLock::read`]; resolves to a [`RwLockReadGuard`].
#[must_use = "futures do nothing unless polled"]
pub struct Read<'a, T: ?Sized> {
    raw: RawRead<'a>,
    lock: &'a RwLock<T>,
}

/// The future of [`RwLock::write`]; resolves to a [`RwLockWriteGuard`].
#[must_use = "futures do nothing unless polled"]
pub struct Write<'a, T: ?Sized> {
    raw: RawWrite<'a>,
    lock: &'a RwLock<T>,
}

impl<'a, T: ?Sized> Read<'a, T> {
    #[inline]
    pub(crate) fn new(lock: &'a RwLock<T>) -> Self {
        Self {
            raw: lock.raw().read(),
            lock,
        }
    }

    /// The one projection: `raw` is structurally pinned, `lock` is not.
    #[inline]
    fn project(self: Pin<&mut Self>) -> (Pin<&mut RawRead<'a>>, &'a RwLock<T>) {
        // SAFETY: `raw` is never moved out of `self` (no `Drop` or `Unpin`
        // impl here moves it); `lock` is a plain reference, copied out.
        unsafe {
            let this = self.get_unchecked_mut();
            (Pin::new_unchecked(&mut this.raw), this.lock)
        }
    }
}

impl<'a, T: ?Sized> Write<'a, T> {
    #[inline]
    pub(crate) fn new(lock: &'a RwLock<T>) -> Self {
        Self {
            raw: lock.raw().write(),
            lock,
        }
    }

    /// The one projection: `raw` is structurally pinned, `lock` is not.
    #[inline]
    fn project(self: Pin<&mut Self>) -> (Pin<&mut RawWrite<'a>>, &'a RwLock<T>) {
        // SAFETY: as in `Read::project`.
        unsafe {
            let this = self.get_unchecked_mut();
            (Pin::new_unchecked(&mut this.raw), this.lock)
        }
    }
}

impl<'a, T: ?Sized> Future for Read<'a, T> {
    type Output = RwLockReadGuard<'a, T>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (raw, lock) = self.project();
        // SAFETY: the raw guard is a read share of `lock`.
        raw.poll(cx)
            .map(|raw| unsafe { RwLockReadGuard::new(lock, raw) })
    }
}

impl<'a, T: ?Sized> Future for Write<'a, T> {
    type Output = RwLockWriteGuard<'a, T>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (raw, lock) = self.project();
        // SAFETY: the raw guard is the write lock of `lock`.
        raw.poll(cx)
            .map(|raw| unsafe { RwLockWriteGuard::new(lock, raw) })
    }
}

/// The lock inside `lock`'s allocation, for a future that keeps `lock`
/// beside the wait that borrows it.
///
/// # Safety
/// The caller keeps this `Arc` (or a clone) alive, in a field dropped after
/// every use of the reference, and never lets the `'static` lifetime reach
/// its own callers.
unsafe fn raw_of<T: ?Sized>(lock: &Arc<RwLock<T>>) -> &'static RawRwLock {
    // SAFETY: the `RawRwLock` sits in the `Arc`'s heap allocation, which
    // does not move and lives as long as the caller's `Arc` (the contract).
    unsafe { &*std::ptr::from_ref(lock.raw()) }
}

/// The future of [`RwLock::read_owned`]; resolves to an
/// [`OwnedRwLockReadGuard`].
#[must_use = "futures do nothing unless polled"]
pub struct ReadOwned<T: ?Sized> {
    /// Borrows the lock inside `lock`'s allocation; declared first, so it
    /// is dropped (and passes on a share it was handed) before `lock`.
    raw: RawRead<'static>,
    lock: Arc<RwLock<T>>,
}

/// The future of [`RwLock::write_owned`]; resolves to an
/// [`OwnedRwLockWriteGuard`].
#[must_use = "futures do nothing unless polled"]
pub struct WriteOwned<T: ?Sized> {
    /// As in [`ReadOwned`]: dropped before `lock`.
    raw: RawWrite<'static>,
    lock: Arc<RwLock<T>>,
}

impl<T: ?Sized> ReadOwned<T> {
    pub(crate) fn new(lock: Arc<RwLock<T>>) -> Self {
        // SAFETY: `lock` is kept in this future, after `raw` (dropped later),
        // and the `'static` borrow never leaves it (`poll` forgets the raw
        // guard and builds the output from `lock`).
        let raw = unsafe { raw_of(&lock) }.read();
        Self { raw, lock }
    }

    #[inline]
    fn project(self: Pin<&mut Self>) -> (Pin<&mut RawRead<'static>>, &Arc<RwLock<T>>) {
        // SAFETY: `raw` is structurally pinned (never moved out); `lock` is
        // only read.
        unsafe {
            let this = self.get_unchecked_mut();
            (Pin::new_unchecked(&mut this.raw), &this.lock)
        }
    }
}

impl<T: ?Sized> WriteOwned<T> {
    pub(crate) fn new(lock: Arc<RwLock<T>>) -> Self {
        // SAFETY: as in `ReadOwned::new`.
        let raw = unsafe { raw_of(&lock) }.write();
        Self { raw, lock }
    }

    #[inline]
    fn project(self: Pin<&mut Self>) -> (Pin<&mut RawWrite<'static>>, &Arc<RwLock<T>>) {
        // SAFETY: as in `ReadOwned::project`.
        unsafe {
            let this = self.get_unchecked_mut();
            (Pin::new_unchecked(&mut this.raw), &this.lock)
        }
    }
}

impl<T: ?Sized> Future for ReadOwned<T> {
    type Output = OwnedRwLockReadGuard<T>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (raw, lock) = self.project();
        raw.poll(cx).map(|raw| {
            // The owned guard gives the share back itself.
            std::mem::forget(raw);
            OwnedRwLockReadGuard::assume(lock.clone())
        })
    }
}

impl<T: ?Sized> Future for WriteOwned<T> {
    type Output = OwnedRwLockWriteGuard<T>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (raw, lock) = self.project();
        raw.poll(cx).map(|raw| {
            std::mem::forget(raw);
            OwnedRwLockWriteGuard::assume(lock.clone())
        })
    }
}

macro_rules! debug_impls {
    ($($fut:ident $(<$lt:lifetime>)?),*) => {$(
        impl<$($lt,)? T: ?Sized> std::fmt::Debug for $fut<$($lt,)? T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($fut)).field("raw", &self.raw).finish()
            }
        }
    )*};
}
debug_impls!(Read<'a>, Write<'a>, ReadOwned, WriteOwned);
