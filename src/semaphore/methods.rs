//! The acquisition methods every semaphore type has, written once: one
//! permit or many, borrowed or owned, each in the five wait forms (plus the
//! explicit-waiter form), and `close`/`is_closed`/`value`/`waiting`.
//!
//! `$ctor` builds a semaphore with one free permit for the examples;
//! `$many` one with at least `$n` free permits.

macro_rules! acquire_methods {
    ($ty:ident, $ctor:literal, $many:literal, $n:literal) => {
        /// Takes one permit asynchronously, in FIFO order with every other
        /// waiter.
        ///
        /// ```
        /// # futures_lite::future::block_on(async {
        #[doc = concat!("let sem = polysync::", $ctor, ";")]
        /// let permit = sem.acquire().await?;
        /// assert_eq!(sem.value(), 0);
        /// drop(permit);
        /// assert_eq!(sem.value(), 1);
        /// # Ok::<(), polysync::AcquireError>(())
        /// # }).unwrap();
        /// ```
        ///
        /// # Cancel safety
        /// Dropping the future gives up its place in line and loses no
        /// permit:
        /// - before its first poll: nothing happened;
        /// - while queued: it leaves the queue; the waiters behind it keep
        ///   their order (permits it was waiting for go on to them);
        /// - after a release handed it a permit, before it was polled
        ///   again: the permit is released at once, to the next waiter (or
        ///   back to the free count);
        /// - after a release woke it to compete (bounded fairness, see [the
        ///   modes](crate::semaphore#fairness-two-modes)), before it
        ///   retried: it leaves the queue and the wake-up goes to the next
        ///   waiter if its request fits the free permits.
        ///
        /// # Errors
        /// [`AcquireError`] if the semaphore is closed
        /// ([`close`](Self::close)), or gets closed while this waits.
        #[inline]
        pub fn acquire(&self) -> Acquire<'_, Self> {
            Acquire::new(self)
        }

        /// Blocks the current execution unit until a permit is taken.
        ///
        /// # Errors
        /// [`AcquireError`] if the semaphore is closed, or gets closed while
        /// this waits.
        ///
        /// ```
        #[doc = concat!("let sem = polysync::", $ctor, ";")]
        /// sem.acquire_blocking().unwrap().forget();
        /// assert_eq!(sem.value(), 0);
        /// sem.close();
        /// assert!(sem.acquire_blocking().is_err());
        /// ```
        pub fn acquire_blocking(&self) -> Result<Permit<'_, Self>, AcquireError> {
            futures::acquire_blocking(self, 1)
        }

        /// Takes a permit if one is free, without waiting. It never barges
        /// past queued waiters of a strict semaphore; with bounded fairness
        /// it may, as any running unit (see [the
        /// modes](crate::semaphore#fairness-two-modes)).
        ///
        /// `None` means "no permit now", which is also true of a closed
        /// semaphore: [`is_closed`](Self::is_closed) tells the two apart.
        /// Like every `try_x` of a resource without data (say
        /// [`Lock::try_acquire`](crate::Lock::try_acquire)), this returns an
        /// `Option`; [`try_acquire_many`](Self::try_acquire_many)`(1)`
        /// reports the closing as [`TryAcquireError::Closed`].
        ///
        /// ```
        #[doc = concat!("let sem = polysync::", $ctor, ";")]
        /// let p = sem.try_acquire().unwrap();
        /// assert!(sem.try_acquire().is_none());
        /// ```
        #[inline]
        pub fn try_acquire(&self) -> Option<Permit<'_, Self>> {
            futures::try_acquire(self, 1).ok()
        }

        /// Blocks until a permit is taken or `timeout` passes. A zero timeout
        /// still takes a free permit.
        ///
        /// `None` means "not in time", which is also true of a semaphore
        /// that is (or gets) closed: [`is_closed`](Self::is_closed) tells
        /// the two apart (see [`try_acquire`](Self::try_acquire)).
        ///
        /// ```
        #[doc = concat!("let sem = polysync::", $ctor, ";")]
        /// let p = sem.try_acquire_for(std::time::Duration::ZERO).unwrap();
        /// assert!(sem.try_acquire_for(std::time::Duration::from_millis(1)).is_none());
        /// ```
        pub fn try_acquire_for(&self, timeout: Duration) -> Option<Permit<'_, Self>> {
            blocking(|w| {
                futures::as_wait_result(futures::acquire_with(self, 1, w, deadline_after(timeout)))
            })
            .and_then(Result::ok)
        }

        /// Blocks until a permit is taken or `deadline` passes.
        ///
        /// `None` means "not in time", which is also true of a semaphore
        /// that is (or gets) closed: [`is_closed`](Self::is_closed) tells
        /// the two apart (see [`try_acquire`](Self::try_acquire)).
        ///
        /// ```
        #[doc = concat!("let sem = polysync::", $ctor, ";")]
        /// assert!(sem.try_acquire_until(std::time::Instant::now()).is_some());
        /// ```
        pub fn try_acquire_until(&self, deadline: Instant) -> Option<Permit<'_, Self>> {
            blocking(|w| futures::as_wait_result(futures::acquire_with(self, 1, w, Some(deadline))))
                .and_then(Result::ok)
        }

        /// Blocks on `waiter` until a permit is taken, `deadline` passes or
        /// the waiter reports cancellation: the entry point that every
        /// blocking form runs with the current unit's waiter.
        ///
        /// # Errors
        /// [`TryAcquireError::Unavailable`] when the deadline passed,
        /// [`TryAcquireError::Cancelled`] when the waiter reported
        /// cancellation (the wait is withdrawn either way, and a permit
        /// handed to it meanwhile goes to the next waiter), or
        /// [`TryAcquireError::Closed`].
        ///
        /// ```
        /// use polysync::{TryAcquireError, lowlevel::ThreadWaiter};
        #[doc = concat!("let sem = polysync::", $ctor, ";")]
        /// ThreadWaiter::with_current(|w| {
        ///     let permit = sem.acquire_with(w, None).unwrap();
        ///     let now = Some(std::time::Instant::now());
        ///     assert_eq!(sem.acquire_with(w, now).unwrap_err(), TryAcquireError::Unavailable);
        ///     drop(permit);
        ///     sem.close();
        ///     assert_eq!(sem.acquire_with(w, None).unwrap_err(), TryAcquireError::Closed);
        /// });
        /// ```
        pub fn acquire_with<W: Waiter + ?Sized>(
            &self,
            waiter: &W,
            deadline: Option<Instant>,
        ) -> Result<Permit<'_, Self>, TryAcquireError> {
            futures::acquire_with(self, 1, waiter, deadline)
        }

        /// Takes `n` permits asynchronously, all at once, in FIFO order with
        /// every other waiter: while this request waits at the head of the
        /// line, later requests (even for one permit) wait behind it, and
        /// the permits released meanwhile are kept for it.
        /// `n = 0` completes when it reaches the head of the line, with an
        /// empty permit.
        ///
        /// ```
        /// # futures_lite::future::block_on(async {
        #[doc = concat!("let sem = polysync::", $many, ";")]
        #[doc = concat!("let permit = sem.acquire_many(", $n, ").await.unwrap();")]
        #[doc = concat!("assert_eq!(permit.num_permits(), ", $n, ");")]
        /// assert_eq!(sem.value(), 0);
        /// # });
        /// ```
        ///
        /// # Cancel safety
        /// Dropping the future gives up its place in line and loses no
        /// permit: a queued request holds nothing yet (free permits wait
        /// in the semaphore until the whole request fits), and leaving the
        /// head of the line lets the waiters behind it have the permits
        /// that were kept for it; a request that was served but not polled
        /// again gives all its permits back at once.
        ///
        /// # Errors
        /// [`AcquireError`] if the semaphore is closed, or gets closed while
        /// this waits.
        ///
        /// # Panics
        /// If `n` exceeds the semaphore's maximum (such a request could
        /// never be served).
        #[inline]
        #[track_caller]
        pub fn acquire_many(&self, n: usize) -> AcquireMany<'_, Self> {
            AcquireMany::new(self, futures::checked(self, n))
        }

        /// Blocks the current execution unit until `n` permits are taken,
        /// all at once (FIFO, see [`acquire_many`](Self::acquire_many)).
        ///
        /// # Errors
        /// [`AcquireError`] if the semaphore is closed, or gets closed while
        /// this waits.
        ///
        /// # Panics
        /// If `n` exceeds the semaphore's maximum.
        ///
        /// ```
        #[doc = concat!("let sem = polysync::", $many, ";")]
        #[doc = concat!("let permit = sem.acquire_many_blocking(", $n, ").unwrap();")]
        /// assert_eq!(sem.value(), 0);
        /// ```
        #[track_caller]
        pub fn acquire_many_blocking(&self, n: usize) -> Result<Permit<'_, Self>, AcquireError> {
            futures::acquire_blocking(self, futures::checked(self, n))
        }

        /// Takes `n` permits if that many are free and nobody waits,
        /// without waiting.
        ///
        /// # Errors
        /// [`TryAcquireError::Unavailable`] or [`TryAcquireError::Closed`].
        ///
        /// # Panics
        /// If `n` exceeds the semaphore's maximum.
        ///
        /// ```
        /// use polysync::TryAcquireError;
        #[doc = concat!("let sem = polysync::", $many, ";")]
        #[doc = concat!("let permit = sem.try_acquire_many(", $n, ").unwrap();")]
        /// assert_eq!(sem.try_acquire_many(1).unwrap_err(), TryAcquireError::Unavailable);
        /// ```
        #[inline]
        #[track_caller]
        pub fn try_acquire_many(&self, n: usize) -> Result<Permit<'_, Self>, TryAcquireError> {
            futures::try_acquire(self, futures::checked(self, n))
        }

        /// Blocks until `n` permits are taken or `timeout` passes.
        ///
        /// # Errors
        /// [`TryAcquireError::Unavailable`] on time-out, or
        /// [`TryAcquireError::Closed`].
        ///
        /// # Panics
        /// If `n` exceeds the semaphore's maximum.
        ///
        /// ```
        /// use std::time::Duration;
        #[doc = concat!("let sem = polysync::", $many, ";")]
        #[doc = concat!("let p = sem.try_acquire_many_for(", $n, ", Duration::ZERO).unwrap();")]
        /// assert!(sem.try_acquire_many_for(1, Duration::from_millis(1)).is_err());
        /// ```
        #[track_caller]
        pub fn try_acquire_many_for(
            &self,
            n: usize,
            timeout: Duration,
        ) -> Result<Permit<'_, Self>, TryAcquireError> {
            let n = futures::checked(self, n);
            blocking(|w| {
                futures::as_wait_result(futures::acquire_with(self, n, w, deadline_after(timeout)))
            })
            .unwrap_or(Err(TryAcquireError::Unavailable))
        }

        /// Blocks until `n` permits are taken or `deadline` passes.
        ///
        /// # Errors
        /// [`TryAcquireError::Unavailable`] on time-out, or
        /// [`TryAcquireError::Closed`].
        ///
        /// # Panics
        /// If `n` exceeds the semaphore's maximum.
        ///
        /// ```
        #[doc = concat!("let sem = polysync::", $many, ";")]
        #[doc = concat!("assert!(sem.try_acquire_many_until(", $n, ", std::time::Instant::now()).is_ok());")]
        /// ```
        #[track_caller]
        pub fn try_acquire_many_until(
            &self,
            n: usize,
            deadline: Instant,
        ) -> Result<Permit<'_, Self>, TryAcquireError> {
            let n = futures::checked(self, n);
            blocking(|w| futures::as_wait_result(futures::acquire_with(self, n, w, Some(deadline))))
                .unwrap_or(Err(TryAcquireError::Unavailable))
        }

        /// Blocks on `waiter` until `n` permits are taken, `deadline`
        /// passes or the waiter reports cancellation: the entry point of
        /// the blocking `*_many` forms.
        ///
        /// # Errors
        /// [`TryAcquireError::Unavailable`] when the deadline passed,
        /// [`TryAcquireError::Cancelled`] when the waiter reported
        /// cancellation (the wait is withdrawn either way, and permits
        /// handed to it meanwhile go to the next waiters), or
        /// [`TryAcquireError::Closed`].
        ///
        /// # Panics
        /// If `n` exceeds the semaphore's maximum.
        ///
        /// ```
        /// use polysync::{TryAcquireError, lowlevel::ThreadWaiter};
        #[doc = concat!("let sem = polysync::", $many, ";")]
        /// ThreadWaiter::with_current(|w| {
        #[doc = concat!("    let all = sem.acquire_many_with(", $n, ", w, None).unwrap();")]
        ///     let now = Some(std::time::Instant::now());
        ///     assert_eq!(sem.acquire_many_with(1, w, now).unwrap_err(), TryAcquireError::Unavailable);
        /// });
        /// ```
        #[track_caller]
        pub fn acquire_many_with<W: Waiter + ?Sized>(
            &self,
            n: usize,
            waiter: &W,
            deadline: Option<Instant>,
        ) -> Result<Permit<'_, Self>, TryAcquireError> {
            futures::acquire_with(self, futures::checked(self, n), waiter, deadline)
        }

        /// [`acquire`](Self::acquire) on a semaphore in an `Arc`: the future
        /// and its [`OwnedPermit`] are `'static` (they hold a clone of the
        /// `Arc`), so the permit can move into a spawned task.
        ///
        /// ```
        /// use std::sync::Arc;
        /// # futures_lite::future::block_on(async {
        #[doc = concat!("let sem = Arc::new(polysync::", $ctor, ");")]
        /// let permit = sem.acquire_owned().await.unwrap();
        /// std::thread::spawn(move || drop(permit)).join().unwrap();
        /// assert_eq!(sem.value(), 1);
        /// # });
        /// ```
        ///
        /// # Cancel safety
        /// As for [`acquire`](Self::acquire).
        ///
        /// # Errors
        /// [`AcquireError`] if the semaphore is closed, or gets closed while
        /// this waits.
        #[inline]
        pub fn acquire_owned(self: &Arc<Self>) -> OwnedAcquire<Self> {
            OwnedAcquire::new(self)
        }

        /// [`acquire_blocking`](Self::acquire_blocking), returning an
        /// [`OwnedPermit`].
        ///
        /// # Errors
        /// [`AcquireError`] if the semaphore is closed, or gets closed while
        /// this waits.
        ///
        /// ```
        /// use std::sync::Arc;
        #[doc = concat!("let sem = Arc::new(polysync::", $ctor, ");")]
        /// let permit = sem.acquire_owned_blocking().unwrap();
        /// assert_eq!(permit.num_permits(), 1);
        /// ```
        pub fn acquire_owned_blocking(self: &Arc<Self>) -> Result<OwnedPermit<Self>, AcquireError> {
            self.acquire_blocking().map(|p| p.into_owned(self))
        }

        /// [`try_acquire`](Self::try_acquire), returning an [`OwnedPermit`].
        ///
        /// ```
        /// use std::sync::Arc;
        #[doc = concat!("let sem = Arc::new(polysync::", $ctor, ");")]
        /// let permit = sem.try_acquire_owned().unwrap();
        /// assert!(sem.try_acquire_owned().is_none());
        /// ```
        pub fn try_acquire_owned(self: &Arc<Self>) -> Option<OwnedPermit<Self>> {
            self.try_acquire().map(|p| p.into_owned(self))
        }

        /// [`try_acquire_for`](Self::try_acquire_for), returning an
        /// [`OwnedPermit`].
        ///
        /// ```
        /// use std::sync::Arc;
        #[doc = concat!("let sem = Arc::new(polysync::", $ctor, ");")]
        /// assert!(sem.try_acquire_owned_for(std::time::Duration::ZERO).is_some());
        /// ```
        pub fn try_acquire_owned_for(self: &Arc<Self>, timeout: Duration) -> Option<OwnedPermit<Self>> {
            self.try_acquire_for(timeout).map(|p| p.into_owned(self))
        }

        /// [`try_acquire_until`](Self::try_acquire_until), returning an
        /// [`OwnedPermit`].
        ///
        /// ```
        /// use std::sync::Arc;
        #[doc = concat!("let sem = Arc::new(polysync::", $ctor, ");")]
        /// assert!(sem.try_acquire_owned_until(std::time::Instant::now()).is_some());
        /// ```
        pub fn try_acquire_owned_until(
            self: &Arc<Self>,
            deadline: Instant,
        ) -> Option<OwnedPermit<Self>> {
            self.try_acquire_until(deadline).map(|p| p.into_owned(self))
        }

        /// [`acquire_with`](Self::acquire_with), returning an
        /// [`OwnedPermit`].
        ///
        /// # Errors
        /// As for [`acquire_with`](Self::acquire_with).
        ///
        /// ```
        /// use polysync::lowlevel::ThreadWaiter;
        /// use std::sync::Arc;
        #[doc = concat!("let sem = Arc::new(polysync::", $ctor, ");")]
        /// let permit = ThreadWaiter::with_current(|w| sem.acquire_owned_with(w, None)).unwrap();
        /// ```
        pub fn acquire_owned_with<W: Waiter + ?Sized>(
            self: &Arc<Self>,
            waiter: &W,
            deadline: Option<Instant>,
        ) -> Result<OwnedPermit<Self>, TryAcquireError> {
            self.acquire_with(waiter, deadline).map(|p| p.into_owned(self))
        }

        /// [`acquire_many`](Self::acquire_many) on a semaphore in an `Arc`:
        /// the future and its [`OwnedPermit`] are `'static`.
        ///
        /// ```
        /// use std::sync::Arc;
        /// # futures_lite::future::block_on(async {
        #[doc = concat!("let sem = Arc::new(polysync::", $many, ");")]
        #[doc = concat!("let permit = sem.acquire_many_owned(", $n, ").await.unwrap();")]
        /// std::thread::spawn(move || drop(permit)).join().unwrap();
        #[doc = concat!("assert_eq!(sem.value(), ", $n, ");")]
        /// # });
        /// ```
        ///
        /// # Cancel safety
        /// As for [`acquire_many`](Self::acquire_many).
        ///
        /// # Errors
        /// [`AcquireError`] if the semaphore is closed, or gets closed while
        /// this waits.
        ///
        /// # Panics
        /// If `n` exceeds the semaphore's maximum.
        #[inline]
        #[track_caller]
        pub fn acquire_many_owned(self: &Arc<Self>, n: usize) -> OwnedAcquireMany<Self> {
            OwnedAcquireMany::new(self, futures::checked(&**self, n))
        }

        /// [`acquire_many_blocking`](Self::acquire_many_blocking), returning
        /// an [`OwnedPermit`].
        ///
        /// # Errors
        /// [`AcquireError`] if the semaphore is closed, or gets closed while
        /// this waits.
        ///
        /// # Panics
        /// If `n` exceeds the semaphore's maximum.
        ///
        /// ```
        /// use std::sync::Arc;
        #[doc = concat!("let sem = Arc::new(polysync::", $many, ");")]
        #[doc = concat!("let permit = sem.acquire_many_owned_blocking(", $n, ").unwrap();")]
        /// ```
        #[track_caller]
        pub fn acquire_many_owned_blocking(
            self: &Arc<Self>,
            n: usize,
        ) -> Result<OwnedPermit<Self>, AcquireError> {
            self.acquire_many_blocking(n).map(|p| p.into_owned(self))
        }

        /// [`try_acquire_many`](Self::try_acquire_many), returning an
        /// [`OwnedPermit`].
        ///
        /// # Errors
        /// [`TryAcquireError::Unavailable`] or [`TryAcquireError::Closed`].
        ///
        /// # Panics
        /// If `n` exceeds the semaphore's maximum.
        ///
        /// ```
        /// use std::sync::Arc;
        #[doc = concat!("let sem = Arc::new(polysync::", $many, ");")]
        #[doc = concat!("assert!(sem.try_acquire_many_owned(", $n, ").is_ok());")]
        /// ```
        #[track_caller]
        pub fn try_acquire_many_owned(
            self: &Arc<Self>,
            n: usize,
        ) -> Result<OwnedPermit<Self>, TryAcquireError> {
            self.try_acquire_many(n).map(|p| p.into_owned(self))
        }

        /// [`try_acquire_many_for`](Self::try_acquire_many_for), returning
        /// an [`OwnedPermit`].
        ///
        /// # Errors
        /// [`TryAcquireError::Unavailable`] on time-out, or
        /// [`TryAcquireError::Closed`].
        ///
        /// # Panics
        /// If `n` exceeds the semaphore's maximum.
        ///
        /// ```
        /// use std::sync::Arc;
        #[doc = concat!("let sem = Arc::new(polysync::", $many, ");")]
        #[doc = concat!("assert!(sem.try_acquire_many_owned_for(", $n, ", std::time::Duration::ZERO).is_ok());")]
        /// ```
        #[track_caller]
        pub fn try_acquire_many_owned_for(
            self: &Arc<Self>,
            n: usize,
            timeout: Duration,
        ) -> Result<OwnedPermit<Self>, TryAcquireError> {
            self.try_acquire_many_for(n, timeout).map(|p| p.into_owned(self))
        }

        /// [`try_acquire_many_until`](Self::try_acquire_many_until),
        /// returning an [`OwnedPermit`].
        ///
        /// # Errors
        /// [`TryAcquireError::Unavailable`] on time-out, or
        /// [`TryAcquireError::Closed`].
        ///
        /// # Panics
        /// If `n` exceeds the semaphore's maximum.
        ///
        /// ```
        /// use std::sync::Arc;
        #[doc = concat!("let sem = Arc::new(polysync::", $many, ");")]
        #[doc = concat!("assert!(sem.try_acquire_many_owned_until(", $n, ", std::time::Instant::now()).is_ok());")]
        /// ```
        #[track_caller]
        pub fn try_acquire_many_owned_until(
            self: &Arc<Self>,
            n: usize,
            deadline: Instant,
        ) -> Result<OwnedPermit<Self>, TryAcquireError> {
            self.try_acquire_many_until(n, deadline).map(|p| p.into_owned(self))
        }

        /// [`acquire_many_with`](Self::acquire_many_with), returning an
        /// [`OwnedPermit`].
        ///
        /// # Errors
        /// As for [`acquire_many_with`](Self::acquire_many_with).
        ///
        /// # Panics
        /// If `n` exceeds the semaphore's maximum.
        ///
        /// ```
        /// use polysync::lowlevel::ThreadWaiter;
        /// use std::sync::Arc;
        #[doc = concat!("let sem = Arc::new(polysync::", $many, ");")]
        #[doc = concat!("let p = ThreadWaiter::with_current(|w| sem.acquire_many_owned_with(", $n, ", w, None));")]
        #[doc = concat!("assert_eq!(p.unwrap().num_permits(), ", $n, ");")]
        /// ```
        #[track_caller]
        pub fn acquire_many_owned_with<W: Waiter + ?Sized>(
            self: &Arc<Self>,
            n: usize,
            waiter: &W,
            deadline: Option<Instant>,
        ) -> Result<OwnedPermit<Self>, TryAcquireError> {
            self.acquire_many_with(n, waiter, deadline).map(|p| p.into_owned(self))
        }

        /// Closes the semaphore: every waiter of every form wakes with the
        /// closing as its typed error (across every world: woken threads,
        /// tasks and green threads), and so does every later acquisition:
        /// - [`AcquireError`] from the untimed forms (`acquire().await`,
        ///   `acquire_blocking()`, `acquire_many*` awaited or blocking, and
        ///   their owned forms);
        /// - [`TryAcquireError::Closed`] from `try_acquire_many*` and the
        ///   `*_with` forms;
        /// - `None` from the one-permit `try_acquire*` forms (tell it from
        ///   "no permit now" with [`is_closed`](Self::is_closed)).
        ///
        /// Nothing panics. Permits already handed out stay valid and are
        /// given back as usual when dropped. The free count keeps counting
        /// after the closing: permits given back and `release`d (or
        /// `add_permits`) are added to [`value`](Self::value) as before,
        /// under the same maximum and with the same errors or panics, but
        /// no acquisition takes them any more. Cannot be undone; closing
        /// again does nothing.
        ///
        /// ```
        /// use polysync::{AcquireError, TryAcquireError};
        #[doc = concat!("let sem = polysync::", $ctor, ";")]
        /// let held = sem.try_acquire().unwrap();
        /// sem.close();
        /// assert!(sem.is_closed());
        /// assert_eq!(sem.acquire_blocking().unwrap_err(), AcquireError);
        /// assert_eq!(sem.try_acquire_many(1).unwrap_err(), TryAcquireError::Closed);
        /// assert!(sem.try_acquire().is_none());
        /// drop(held); // still valid; given back to the free count
        /// assert_eq!(sem.value(), 1);
        /// assert!(sem.try_acquire().is_none());
        /// ```
        pub fn close(&self) {
            self.raw.close();
        }

        /// Whether the semaphore is closed.
        ///
        /// ```
        #[doc = concat!("let sem = polysync::", $ctor, ";")]
        /// assert!(!sem.is_closed());
        /// ```
        #[inline]
        pub fn is_closed(&self) -> bool {
            self.raw.is_closed()
        }

        /// Whether this semaphore serves its waiters with strict FIFO
        /// hand-off (made by `new_fair`, or by `new` while that is the
        /// default) rather than with bounded fairness (`new_bounded`; see
        /// [the modes](crate::semaphore#fairness-two-modes)).
        ///
        /// ```
        #[doc = concat!("let sem = polysync::", $ctor, ";")]
        /// let _fair_or_not = sem.is_fair();
        /// ```
        #[inline]
        pub fn is_fair(&self) -> bool {
            self.raw.is_fair()
        }

        /// Free permits now (a snapshot). Permits handed straight to waiters
        /// never show up here; free permits may show up while a
        /// many-permit request waits at the head of the line for more (they
        /// are kept for it).
        ///
        /// ```
        #[doc = concat!("assert_eq!(polysync::", $ctor, ".value(), 1);")]
        /// ```
        #[inline]
        pub fn value(&self) -> usize {
            self.raw.value()
        }

        /// How many units wait for permits now (a snapshot).
        ///
        /// ```
        #[doc = concat!("assert_eq!(polysync::", $ctor, ".waiting(), 0);")]
        /// ```
        #[inline]
        pub fn waiting(&self) -> usize {
            self.raw.waiting()
        }
    };
}
