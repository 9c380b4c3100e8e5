//! What an acquisition hands out: [`Permit`] (borrows its semaphore) and
//! [`OwnedPermit`] (holds it in an `Arc`; `'static`), each holding any
//! number of permits and giving them back when dropped.

use super::raw::{Kind, Want};
use std::sync::Arc;

/// What a permit gives back to when it drops: one of the three semaphores.
/// Sealed: its methods are the crate's.
pub trait PermitSource: Kind + Sync {}

/// Gives `n` permits back to `sem` (a permit's drop, or a hand-off passed
/// on): to the oldest waiters first, the rest to the free count, capped at
/// the maximum (a permit that was taken can always come back, unless
/// someone released without acquiring meanwhile; then the excess is
/// dropped instead of failing in a `Drop`).
#[inline]
pub(super) fn give_back<S: PermitSource + ?Sized>(sem: &S, n: u64) {
    if n > 0 {
        let _ = sem.raw().release(n, sem.max(), true);
    }
}

/// The count of permits a grant holds, as the permit stores it.
#[inline]
fn count(want: Want) -> u32 {
    want.count() as u32
}

/// Permits of a semaphore, borrowed from it: given back when dropped,
/// unless [`forgotten`](Permit::forget). Holds any number of them (one from
/// `acquire`, `n` from `acquire_many(n)`); [`split`](Permit::split) and
/// [`merge`](Permit::merge) move permits between permits of one semaphore.
///
/// ```
/// let sem = polysync::Semaphore::new(3);
/// let mut permit = sem.acquire_many_blocking(3).unwrap();
/// let one = permit.split(1).unwrap();
/// assert_eq!((permit.num_permits(), one.num_permits()), (2, 1));
/// drop(one);
/// assert_eq!(sem.value(), 1);
/// ```
#[must_use = "the permits are given back as soon as the permit is dropped"]
pub struct Permit<'a, S: PermitSource> {
    sem: &'a S,
    n: u32,
}

impl<'a, S: PermitSource> Permit<'a, S> {
    /// A permit of `n` permits that the caller took from `sem`.
    #[inline]
    pub(super) fn new(sem: &'a S, n: u64) -> Self {
        debug_assert!(n <= u64::from(u32::MAX));
        Permit { sem, n: n as u32 }
    }

    /// The permit of a completed wait's `outcome`, or `None` if the
    /// semaphore's closing ended the wait.
    #[inline]
    pub(super) fn granted(sem: &'a S, outcome: Want) -> Option<Self> {
        (!outcome.is_closed()).then(|| Permit {
            sem,
            n: count(outcome),
        })
    }

    /// The semaphore the permits belong to.
    ///
    /// ```
    /// let sem = polysync::Semaphore::new(1);
    /// let permit = sem.acquire_blocking().unwrap();
    /// assert!(std::ptr::eq(permit.semaphore(), &sem));
    /// ```
    pub fn semaphore(&self) -> &'a S {
        self.sem
    }

    /// How many permits this permit holds.
    ///
    /// ```
    /// let sem = polysync::Semaphore::new(5);
    /// assert_eq!(sem.acquire_many_blocking(4).unwrap().num_permits(), 4);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.n as usize
    }

    /// Keeps the permits taken forever: they are not given back on drop
    /// (release them later with the semaphore's `release`, if at all).
    ///
    /// ```
    /// let sem = polysync::Semaphore::new(1);
    /// sem.acquire_blocking().unwrap().forget();
    /// assert_eq!(sem.value(), 0);
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }

    /// Moves the permits of `other` into this permit.
    ///
    /// # Panics
    /// If `other` belongs to another semaphore, or the total would exceed
    /// `u32::MAX`.
    ///
    /// ```
    /// let sem = polysync::Semaphore::new(3);
    /// let mut a = sem.acquire_blocking().unwrap();
    /// a.merge(sem.acquire_many_blocking(2).unwrap());
    /// assert_eq!(a.num_permits(), 3);
    /// drop(a);
    /// assert_eq!(sem.value(), 3);
    /// ```
    #[track_caller]
    pub fn merge(&mut self, other: Permit<'a, S>) {
        assert!(
            std::ptr::eq(self.sem, other.sem),
            "polysync: merging permits of different semaphores"
        );
        self.n = self
            .n
            .checked_add(other.n)
            .expect("polysync: a permit holds at most u32::MAX permits");
        std::mem::forget(other);
    }

    /// Splits `n` permits off into a new permit of the same semaphore;
    /// `None` (changing nothing) if this one holds fewer than `n`.
    ///
    /// ```
    /// let sem = polysync::Semaphore::new(2);
    /// let mut a = sem.acquire_many_blocking(2).unwrap();
    /// assert!(a.split(3).is_none());
    /// let b = a.split(2).unwrap();
    /// assert_eq!((a.num_permits(), b.num_permits()), (0, 2));
    /// ```
    pub fn split(&mut self, n: usize) -> Option<Permit<'a, S>> {
        let n = u32::try_from(n).ok().filter(|&n| n <= self.n)?;
        self.n -= n;
        Some(Permit { sem: self.sem, n })
    }

    /// Turns a borrowed permit into an owned one, given the `Arc` of its
    /// semaphore.
    ///
    /// # Panics
    /// If `sem` is not the semaphore this permit belongs to.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(polysync::Semaphore::new(1));
    /// let owned = sem.acquire_blocking().unwrap().into_owned(&sem);
    /// std::thread::spawn(move || drop(owned)).join().unwrap();
    /// assert_eq!(sem.value(), 1);
    /// ```
    #[track_caller]
    pub fn into_owned(self, sem: &Arc<S>) -> OwnedPermit<S> {
        assert!(
            std::ptr::eq(self.sem, &**sem),
            "polysync: Permit::into_owned with another semaphore's Arc"
        );
        let n = self.n;
        std::mem::forget(self);
        OwnedPermit {
            sem: sem.clone(),
            n,
        }
    }
}

impl<S: PermitSource> Drop for Permit<'_, S> {
    #[inline]
    fn drop(&mut self) {
        give_back(self.sem, u64::from(self.n));
    }
}

impl<S: PermitSource + std::fmt::Debug> std::fmt::Debug for Permit<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit")
            .field("permits", &self.n)
            .field("semaphore", self.sem)
            .finish()
    }
}

/// Permits of a semaphore held through an `Arc`: `'static` and `Send`, so
/// it can move into a spawned task or thread; given back when dropped,
/// also when that task panics (the drop runs as it unwinds), unless
/// [`forgotten`](OwnedPermit::forget). The owned form of [`Permit`], with
/// the same methods.
///
/// ```
/// use polysync::Semaphore;
/// use std::sync::Arc;
///
/// let sem = Arc::new(Semaphore::new(1));
/// let permit = sem.acquire_owned_blocking().unwrap();
/// let worker = std::thread::spawn(move || {
///     let _permit = permit; // released when the worker ends
/// });
/// worker.join().unwrap();
/// assert_eq!(sem.value(), 1);
/// ```
#[must_use = "the permits are given back as soon as the permit is dropped"]
pub struct OwnedPermit<S: PermitSource> {
    sem: Arc<S>,
    n: u32,
}

impl<S: PermitSource> OwnedPermit<S> {
    /// The owned form of `permit`, whose semaphore `sem` is.
    #[inline]
    pub(super) fn adopt(permit: Permit<'_, S>, sem: Arc<S>) -> Self {
        debug_assert!(std::ptr::eq(permit.sem, &*sem));
        let n = permit.n;
        std::mem::forget(permit);
        OwnedPermit { sem, n }
    }

    /// The semaphore the permits belong to.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(polysync::Semaphore::new(1));
    /// let permit = sem.acquire_owned_blocking().unwrap();
    /// assert!(Arc::ptr_eq(permit.semaphore(), &sem));
    /// ```
    pub fn semaphore(&self) -> &Arc<S> {
        &self.sem
    }

    /// How many permits this permit holds.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(polysync::Semaphore::new(2));
    /// assert_eq!(sem.acquire_many_owned_blocking(2).unwrap().num_permits(), 2);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.n as usize
    }

    /// Keeps the permits taken forever: they are not given back on drop.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(polysync::Semaphore::new(1));
    /// sem.acquire_owned_blocking().unwrap().forget();
    /// assert_eq!(sem.value(), 0);
    /// ```
    pub fn forget(mut self) {
        // The `Arc` is dropped; only the permits stay taken.
        self.n = 0;
    }

    /// Moves the permits of `other` into this permit.
    ///
    /// # Panics
    /// If `other` belongs to another semaphore, or the total would exceed
    /// `u32::MAX`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(polysync::Semaphore::new(2));
    /// let mut a = sem.acquire_owned_blocking().unwrap();
    /// a.merge(sem.acquire_owned_blocking().unwrap());
    /// assert_eq!(a.num_permits(), 2);
    /// ```
    #[track_caller]
    pub fn merge(&mut self, mut other: OwnedPermit<S>) {
        assert!(
            Arc::ptr_eq(&self.sem, &other.sem),
            "polysync: merging permits of different semaphores"
        );
        self.n = self
            .n
            .checked_add(other.n)
            .expect("polysync: a permit holds at most u32::MAX permits");
        other.n = 0; // its drop gives nothing back
    }

    /// Splits `n` permits off into a new owned permit of the same
    /// semaphore; `None` (changing nothing) if this one holds fewer than
    /// `n`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(polysync::Semaphore::new(3));
    /// let mut a = sem.acquire_many_owned_blocking(3).unwrap();
    /// let b = a.split(1).unwrap();
    /// assert_eq!((a.num_permits(), b.num_permits()), (2, 1));
    /// ```
    pub fn split(&mut self, n: usize) -> Option<OwnedPermit<S>> {
        let n = u32::try_from(n).ok().filter(|&n| n <= self.n)?;
        self.n -= n;
        Some(OwnedPermit {
            sem: self.sem.clone(),
            n,
        })
    }
}

impl<S: PermitSource> Drop for OwnedPermit<S> {
    #[inline]
    fn drop(&mut self) {
        give_back(&*self.sem, u64::from(self.n));
    }
}

impl<S: PermitSource + std::fmt::Debug> std::fmt::Debug for OwnedPermit<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedPermit")
            .field("permits", &self.n)
            .field("semaphore", &*self.sem)
            .finish()
    }
}
