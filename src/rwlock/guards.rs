//! The guards of [`RwLock<T>`]: borrowed, mapped and owned.

use super::RwLock;
use super::raw::{RawReadGuard, RawRwLock, RawWriteGuard};
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::Arc;

/// Shared access to an [`RwLock`]'s value (or, after [`map`](Self::map), to
/// a part of it); gives its read share back when dropped.
///
/// `Send` and `Sync` if `T: Sync` (it hands out `&T` wherever it goes, and
/// a share may be given back from any thread).
#[must_use = "the share is given back as soon as the guard is dropped"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    /// The data: a pointer, not `&'a T`, because the value may be written
    /// by a writer as soon as this guard has given its share back, while
    /// `'a` still runs (see std's `RwLockReadGuard::data`).
    data: NonNull<T>,
    raw: &'a RawRwLock,
    _borrow: PhantomData<&'a T>,
}

// SAFETY: the guard gives `&T` to the thread that holds it: `T: Sync`; the
// share may be given back from any thread.
unsafe impl<T: ?Sized + Sync> Send for RwLockReadGuard<'_, T> {}
// SAFETY: sharing the guard shares `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}

impl<'a, T: ?Sized> RwLockReadGuard<'a, T> {
    /// The guard of `lock` that owns the share `raw`.
    ///
    /// # Safety
    /// `raw` is a read share of `lock`'s raw lock.
    #[inline]
    pub(crate) unsafe fn new(lock: &'a RwLock<T>, raw: RawReadGuard<'a>) -> Self {
        debug_assert!(std::ptr::eq(raw.lock(), lock.raw()));
        // The guard gives the share back itself.
        std::mem::forget(raw);
        Self {
            // SAFETY: `UnsafeCell::get` is never null.
            data: unsafe { NonNull::new_unchecked(lock.data_ptr()) },
            raw: lock.raw(),
            _borrow: PhantomData,
        }
    }

    /// A guard of a part of the data, holding the same share (like
    /// `Ref::map`). An associated function, so it does not hide a method of
    /// `T`: `RwLockReadGuard::map(guard, ...)`.
    ///
    /// ```
    /// use polysync::{RwLock, RwLockReadGuard};
    /// let lock = RwLock::new((1, "one"));
    /// let name = RwLockReadGuard::map(lock.read_blocking(), |pair| &pair.1);
    /// assert_eq!(*name, "one");
    /// assert_eq!(lock.readers(), 1);
    /// ```
    #[inline]
    pub fn map<U: ?Sized, F: FnOnce(&T) -> &U>(this: Self, f: F) -> RwLockReadGuard<'a, U> {
        let data = NonNull::from(f(&*this));
        let raw = this.raw;
        std::mem::forget(this);
        RwLockReadGuard {
            data,
            raw,
            _borrow: PhantomData,
        }
    }

    /// [`map`](Self::map) to a part that may not be there: `Err` gives the
    /// original guard back.
    ///
    /// ```
    /// use polysync::{RwLock, RwLockReadGuard};
    /// let lock = RwLock::new(vec![1, 2]);
    /// let first = RwLockReadGuard::try_map(lock.read_blocking(), |v| v.first()).unwrap();
    /// assert_eq!(*first, 1);
    /// drop(first);
    /// let guard = RwLockReadGuard::try_map(lock.read_blocking(), |v| v.get(5)).unwrap_err();
    /// assert_eq!(guard.len(), 2);
    /// ```
    ///
    /// # Errors
    /// The original guard, if `f` returns `None`.
    #[inline]
    pub fn try_map<U: ?Sized, F: FnOnce(&T) -> Option<&U>>(
        this: Self,
        f: F,
    ) -> Result<RwLockReadGuard<'a, U>, Self> {
        let Some(part) = f(&*this) else {
            return Err(this);
        };
        let data = NonNull::from(part);
        let raw = this.raw;
        std::mem::forget(this);
        Ok(RwLockReadGuard {
            data,
            raw,
            _borrow: PhantomData,
        })
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds a read share, so no writer exists while it
        // lives; `data` points into the locked value.
        unsafe { self.data.as_ref() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.raw.unlock_read();
    }
}

/// Exclusive access to an [`RwLock`]'s value; releases the lock (to the
/// next waiters) when dropped.
///
/// `Send` if `T: Send + Sync` (it can be [downgraded](Self::downgrade) to
/// a read guard, which shares `&T` with other readers), `Sync` if
/// `T: Send + Sync`.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// The guard of `lock` that owns the write lock `raw`.
    ///
    /// # Safety
    /// `raw` is the write lock of `lock`'s raw lock.
    #[inline]
    pub(crate) unsafe fn new(lock: &'a RwLock<T>, raw: RawWriteGuard<'a>) -> Self {
        debug_assert!(std::ptr::eq(raw.lock(), lock.raw()));
        std::mem::forget(raw);
        Self { lock }
    }

    /// The lock this guard holds.
    fn raw(&self) -> &'a RawRwLock {
        self.lock.raw()
    }

    /// Turns the write lock into a read share without letting a writer in
    /// between; the readers queued at the front of the queue join at once.
    ///
    /// ```
    /// use polysync::{RwLock, RwLockWriteGuard};
    /// let lock = RwLock::new(1);
    /// let mut w = lock.write_blocking();
    /// *w = 2;
    /// let r = RwLockWriteGuard::downgrade(w);
    /// assert_eq!(*r, 2);
    /// assert_eq!(*lock.try_read().unwrap(), 2);
    /// ```
    pub fn downgrade(this: Self) -> RwLockReadGuard<'a, T> {
        let lock = this.lock;
        std::mem::forget(this);
        lock.raw().downgrade();
        // SAFETY: the lock's write lock just became one read share of it.
        unsafe { RwLockReadGuard::new(lock, RawReadGuard::assume(lock.raw())) }
    }

    /// A guard of a part of the data, holding the same write lock. The
    /// mapped guard cannot be downgraded (a part reached through `&mut T`
    /// may not be shareable the way `&T` is).
    ///
    /// ```
    /// use polysync::{RwLock, RwLockWriteGuard};
    /// let lock = RwLock::new((1, String::new()));
    /// let mut name = RwLockWriteGuard::map(lock.write_blocking(), |pair| &mut pair.1);
    /// name.push('a');
    /// drop(name);
    /// assert_eq!(lock.read_blocking().1, "a");
    /// ```
    #[inline]
    pub fn map<U: ?Sized, F: FnOnce(&mut T) -> &mut U>(
        mut this: Self,
        f: F,
    ) -> MappedRwLockWriteGuard<'a, U> {
        let data = NonNull::from(f(&mut *this));
        let raw = this.raw();
        std::mem::forget(this);
        MappedRwLockWriteGuard {
            data,
            raw,
            _borrow: PhantomData,
        }
    }

    /// [`map`](Self::map) to a part that may not be there: `Err` gives the
    /// original guard back.
    ///
    /// ```
    /// use polysync::{RwLock, RwLockWriteGuard};
    /// let lock = RwLock::new(vec![1]);
    /// *RwLockWriteGuard::try_map(lock.write_blocking(), |v| v.first_mut()).unwrap() = 2;
    /// assert!(RwLockWriteGuard::try_map(lock.write_blocking(), |v| v.get_mut(3)).is_err());
    /// assert_eq!(*lock.read_blocking(), [2]);
    /// ```
    ///
    /// # Errors
    /// The original guard, if `f` returns `None`.
    #[inline]
    pub fn try_map<U: ?Sized, F: FnOnce(&mut T) -> Option<&mut U>>(
        mut this: Self,
        f: F,
    ) -> Result<MappedRwLockWriteGuard<'a, U>, Self> {
        let data = match f(&mut *this) {
            Some(part) => NonNull::from(part),
            None => return Err(this),
        };
        let raw = this.raw();
        std::mem::forget(this);
        Ok(MappedRwLockWriteGuard {
            data,
            raw,
            _borrow: PhantomData,
        })
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the write lock: nobody else accesses the value.
        unsafe { &*self.lock.data_ptr() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` proves nobody else borrows
        // through this guard.
        unsafe { &mut *self.lock.data_ptr() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.raw().unlock_write();
    }
}

/// Exclusive access to a part of an [`RwLock`]'s value, from
/// [`RwLockWriteGuard::map`]; releases the lock when dropped. Cannot be
/// downgraded.
///
/// `Send` if `T: Send`, `Sync` if `T: Sync`.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MappedRwLockWriteGuard<'a, T: ?Sized> {
    /// A pointer, not `&'a mut T`: see [`RwLockReadGuard`]'s field.
    data: NonNull<T>,
    raw: &'a RawRwLock,
    _borrow: PhantomData<&'a mut T>,
}

// SAFETY: the guard moves exclusive access to `T` (`T: Send`); the lock may
// be released from any thread.
unsafe impl<T: ?Sized + Send> Send for MappedRwLockWriteGuard<'_, T> {}
// SAFETY: sharing the guard shares `&T`.
unsafe impl<T: ?Sized + Sync> Sync for MappedRwLockWriteGuard<'_, T> {}

impl<'a, T: ?Sized> MappedRwLockWriteGuard<'a, T> {
    /// Maps again, to a part of this part.
    ///
    /// ```
    /// use polysync::{MappedRwLockWriteGuard, RwLock, RwLockWriteGuard};
    /// let lock = RwLock::new(((0, 1), 2));
    /// let inner = RwLockWriteGuard::map(lock.write_blocking(), |v| &mut v.0);
    /// *MappedRwLockWriteGuard::map(inner, |p| &mut p.1) = 5;
    /// assert_eq!(lock.read_blocking().0, (0, 5));
    /// ```
    #[inline]
    pub fn map<U: ?Sized, F: FnOnce(&mut T) -> &mut U>(
        mut this: Self,
        f: F,
    ) -> MappedRwLockWriteGuard<'a, U> {
        let data = NonNull::from(f(&mut *this));
        let raw = this.raw;
        std::mem::forget(this);
        MappedRwLockWriteGuard {
            data,
            raw,
            _borrow: PhantomData,
        }
    }

    /// [`map`](Self::map) to a part that may not be there.
    ///
    /// ```
    /// use polysync::{MappedRwLockWriteGuard, RwLock, RwLockWriteGuard};
    /// let lock = RwLock::new((vec![1], 2));
    /// let v = RwLockWriteGuard::map(lock.write_blocking(), |p| &mut p.0);
    /// assert!(MappedRwLockWriteGuard::try_map(v, |v| v.get_mut(1)).is_err());
    /// ```
    ///
    /// # Errors
    /// The original guard, if `f` returns `None`.
    #[inline]
    pub fn try_map<U: ?Sized, F: FnOnce(&mut T) -> Option<&mut U>>(
        mut this: Self,
        f: F,
    ) -> Result<MappedRwLockWriteGuard<'a, U>, Self> {
        let data = match f(&mut *this) {
            Some(part) => NonNull::from(part),
            None => return Err(this),
        };
        let raw = this.raw;
        std::mem::forget(this);
        Ok(MappedRwLockWriteGuard {
            data,
            raw,
            _borrow: PhantomData,
        })
    }
}

impl<T: ?Sized> Deref for MappedRwLockWriteGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the write lock; `data` points into the
        // locked value.
        unsafe { self.data.as_ref() }
    }
}

impl<T: ?Sized> DerefMut for MappedRwLockWriteGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` is exclusive.
        unsafe { self.data.as_mut() }
    }
}

impl<T: ?Sized> Drop for MappedRwLockWriteGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.raw.unlock_write();
    }
}

/// A read guard that owns a clone of the `Arc<RwLock<T>>` it locks
/// (`'static` if `T` is): from [`RwLock::read_owned`] and its forms.
/// Gives its share back when dropped.
#[must_use = "the share is given back as soon as the guard is dropped"]
pub struct OwnedRwLockReadGuard<T: ?Sized> {
    lock: Arc<RwLock<T>>,
}

impl<T: ?Sized> OwnedRwLockReadGuard<T> {
    /// Turns a borrowed guard of `lock` into an owned one.
    pub(crate) fn from_guard(lock: &Arc<RwLock<T>>, guard: RwLockReadGuard<'_, T>) -> Self {
        debug_assert!(std::ptr::eq(guard.raw, lock.raw()));
        std::mem::forget(guard);
        Self { lock: lock.clone() }
    }

    /// The owned guard of a read share of `lock` that the caller holds.
    pub(crate) fn assume(lock: Arc<RwLock<T>>) -> Self {
        Self { lock }
    }

    /// The lock this guard holds a share of.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let lock = Arc::new(polysync::RwLock::new(0));
    /// let g = lock.read_owned_blocking();
    /// assert!(Arc::ptr_eq(g.rwlock(), &lock));
    /// ```
    pub fn rwlock(&self) -> &Arc<RwLock<T>> {
        &self.lock
    }
}

impl<T: ?Sized> Deref for OwnedRwLockReadGuard<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds a read share: no writer exists.
        unsafe { &*self.lock.data_ptr() }
    }
}

impl<T: ?Sized> Drop for OwnedRwLockReadGuard<T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.raw().unlock_read();
    }
}

/// A write guard that owns a clone of the `Arc<RwLock<T>>` it locks
/// (`'static` if `T` is): from [`RwLock::write_owned`] and its forms.
/// Releases the lock when dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct OwnedRwLockWriteGuard<T: ?Sized> {
    lock: Arc<RwLock<T>>,
}

impl<T: ?Sized> OwnedRwLockWriteGuard<T> {
    /// Turns a borrowed guard of `lock` into an owned one.
    pub(crate) fn from_guard(lock: &Arc<RwLock<T>>, guard: RwLockWriteGuard<'_, T>) -> Self {
        debug_assert!(std::ptr::eq(guard.lock, &**lock));
        std::mem::forget(guard);
        Self::assume(lock.clone())
    }

    /// The owned guard of the write lock of `lock` that the caller holds.
    /// An owned guard is made to move between units: it records no writer
    /// (the re-entry check does not see it).
    pub(crate) fn assume(lock: Arc<RwLock<T>>) -> Self {
        lock.raw().unrecord_writer();
        Self { lock }
    }

    /// The lock this guard holds.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let lock = Arc::new(polysync::RwLock::new(0));
    /// let g = lock.write_owned_blocking();
    /// assert!(Arc::ptr_eq(g.rwlock(), &lock));
    /// ```
    pub fn rwlock(&self) -> &Arc<RwLock<T>> {
        &self.lock
    }

    /// Turns the write lock into a read share without letting a writer in
    /// between (see [`RwLockWriteGuard::downgrade`]).
    ///
    /// ```
    /// let lock = std::sync::Arc::new(polysync::RwLock::new(1));
    /// let mut w = lock.write_owned_blocking();
    /// *w = 2;
    /// let r = w.downgrade();
    /// assert_eq!(*r, 2);
    /// assert!(lock.try_read().is_some());
    /// ```
    pub fn downgrade(self) -> OwnedRwLockReadGuard<T> {
        // Moves the `Arc` out without running this guard's `Drop`.
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so the `Arc` is
        // moved out exactly once.
        let lock = unsafe { std::ptr::read(&this.lock) };
        lock.raw().downgrade();
        OwnedRwLockReadGuard::assume(lock)
    }
}

impl<T: ?Sized> Deref for OwnedRwLockWriteGuard<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the write lock.
        unsafe { &*self.lock.data_ptr() }
    }
}

impl<T: ?Sized> DerefMut for OwnedRwLockWriteGuard<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the write lock and `&mut self` is exclusive.
        unsafe { &mut *self.lock.data_ptr() }
    }
}

impl<T: ?Sized> Drop for OwnedRwLockWriteGuard<T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.raw().unlock_write();
    }
}

macro_rules! fmt_impls {
    ($($guard:ident $(<$lt:lifetime>)?),*) => {$(
        impl<$($lt,)? T: ?Sized + std::fmt::Debug> std::fmt::Debug for $guard<$($lt,)? T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&**self, f)
            }
        }

        impl<$($lt,)? T: ?Sized + std::fmt::Display> std::fmt::Display for $guard<$($lt,)? T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&**self, f)
            }
        }
    )*};
}
fmt_impls!(
    RwLockReadGuard<'a>,
    RwLockWriteGuard<'a>,
    MappedRwLockWriteGuard<'a>,
    OwnedRwLockReadGuard,
    OwnedRwLockWriteGuard
);
