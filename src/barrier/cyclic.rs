//! The cyclic barriers: [`Barrier`] and [`RBarrier`] (which can be reset),
//! both over the [`RawBarrier`] core, and their wait future.

use super::error::{blocking_party, broken};
use super::raw::RawBarrier;
use super::{Arrive, BarrierWaitError, BarrierWaitResult, BrokenBarrierError, arrive_with};
use crate::lowlevel::sync::const_fn;
use crate::lowlevel::{Waiter, deadline_after};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The future of [`Barrier::wait`] and [`RBarrier::wait`]; resolves to this
/// party's [`BarrierWaitResult`] (its arrival index, whether it leads its
/// phase) or a [`BrokenBarrierError`].
///
/// Dropping it after its first poll, before it completed, breaks the
/// barrier (see [`Barrier::wait`]).
#[must_use = "futures do nothing unless polled"]
pub struct BarrierWait<'a> {
    /// Structurally pinned.
    arrive: Arrive<'a, RawBarrier>,
}

impl Future for BarrierWait<'_> {
    type Output = Result<BarrierWaitResult, BrokenBarrierError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `arrive` is structurally pinned: never moved out of `self`.
        unsafe { self.map_unchecked_mut(|this| &mut this.arrive) }.poll(cx)
    }
}

impl std::fmt::Debug for BarrierWait<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BarrierWait")
            .field("barrier", self.arrive.barrier())
            .field("queued", &self.arrive.is_queued())
            .finish()
    }
}

macro_rules! cyclic_methods {
    ($ty:ident) => {
        const_fn! {
            /// A barrier for `parties` parties. With `parties == 0` it never
            /// opens; its waits end only when it breaks.
            ///
            /// ```
            #[doc = concat!("let barrier = polysync::barrier::", stringify!($ty), "::new(3);")]
            /// assert_eq!(barrier.parties(), 3);
            /// ```
            pub fn new(parties: usize) -> $ty {
                $ty { raw: RawBarrier::new(parties) }
            }
        }

        /// Waits asynchronously until `parties` parties have arrived (this
        /// one included); returns this party's [`BarrierWaitResult`]: its
        /// arrival index, `0..parties`, and whether it is the phase's
        /// leader. The party arrives at the first poll. The last arrival gets
        /// `parties - 1`, opens the phase and is its leader (it completes in
        /// the poll in which it arrives); the barrier then fills again for
        /// the next phase.
        ///
        /// # Errors
        /// [`BrokenBarrierError`] if the barrier is or becomes broken first.
        ///
        /// # Cancel safety
        /// Dropping the future before its first poll changes nothing: the
        /// party never arrived. Dropping it after, before it completed,
        /// withdraws the party and **breaks the barrier**: the parties
        /// waiting with it get a [`BrokenBarrierError`]. If its phase had
        /// already opened, the others of that phase keep their indices and
        /// the barrier is broken for the next phase, which this party will
        /// not join.
        ///
        /// ```
        /// use futures_lite::future::{block_on, zip};
        #[doc = concat!("let barrier = polysync::barrier::", stringify!($ty), "::new(2);")]
        /// let (a, b) = block_on(zip(barrier.wait(), barrier.wait()));
        /// let (a, b) = (a.unwrap(), b.unwrap());
        /// assert_eq!((a.index(), b.index()), (0, 1)); // arrival order
        /// assert!(!a.is_leader() && b.is_leader()); // the last arrival leads
        /// ```
        pub fn wait(&self) -> BarrierWait<'_> {
            BarrierWait {
                arrive: Arrive::new(&self.raw),
            }
        }

        /// Blocks the current execution unit until `parties` parties have
        /// arrived; returns this party's [`BarrierWaitResult`], as
        /// [`wait`](Self::wait).
        ///
        /// # Errors
        /// [`BrokenBarrierError`] if the barrier is or becomes broken first.
        ///
        /// # Cancellation
        /// If the unit's waiter reports cancellation, the party gives up
        /// (which breaks the barrier) and the unit unwinds through
        /// [`Waiter::cancelled`]. The same holds for `try_wait_for` and
        /// `try_wait_until`.
        ///
        /// ```
        #[doc = concat!("let barrier = polysync::barrier::", stringify!($ty), "::new(2);")]
        /// let results = std::thread::scope(|s| {
        ///     let other = s.spawn(|| barrier.wait_blocking().unwrap());
        ///     [barrier.wait_blocking().unwrap(), other.join().unwrap()]
        /// });
        /// assert_eq!(results.iter().filter(|r| r.is_leader()).count(), 1);
        /// assert_eq!(results[0].index() + results[1].index(), 1);
        /// ```
        pub fn wait_blocking(&self) -> Result<BarrierWaitResult, BrokenBarrierError> {
            blocking_party(|w| self.wait_with(w, None)).map_err(broken)
        }

        /// Passes without waiting if that is possible: `Ok(Some(result))`,
        /// with index `parties - 1` and [leader](BarrierWaitResult::is_leader),
        /// if this call is the last arrival and opens the phase; `Ok(None)`
        /// (nothing changed, this call did not arrive) if it would have to
        /// wait. Unlike a timed wait that gives up, this never breaks the barrier.
        ///
        /// # Errors
        /// [`BrokenBarrierError`] if the barrier is broken.
        ///
        /// ```
        #[doc = concat!("let barrier = polysync::barrier::", stringify!($ty), "::new(2);")]
        /// assert_eq!(barrier.try_wait(), Ok(None));
        /// assert!(!barrier.is_broken());
        ///
        #[doc = concat!("let barrier = polysync::barrier::", stringify!($ty), "::new(1);")]
        /// let result = barrier.try_wait().unwrap().unwrap();
        /// assert!(result.is_leader());
        /// ```
        pub fn try_wait(&self) -> Result<Option<BarrierWaitResult>, BrokenBarrierError> {
            self.raw.try_wait()
        }

        /// Blocks until the phase opens or `timeout` passes; returns this
        /// party's [`BarrierWaitResult`]. A wait that times out breaks the barrier
        /// for every party (if its phase opened at that very moment, see the
        /// [module docs](super)).
        ///
        /// # Errors
        /// [`BarrierWaitError::TimedOut`] if this wait gave up,
        /// [`BarrierWaitError::Broken`] if the barrier is or becomes broken first.
        ///
        /// ```
        /// use polysync::barrier::BarrierWaitError;
        /// use std::time::Duration;
        #[doc = concat!("let barrier = polysync::barrier::", stringify!($ty), "::new(2);")]
        /// assert_eq!(barrier.try_wait_for(Duration::from_millis(1)), Err(BarrierWaitError::TimedOut));
        /// assert_eq!(barrier.try_wait_for(Duration::from_millis(1)), Err(BarrierWaitError::Broken));
        /// ```
        pub fn try_wait_for(&self, timeout: Duration) -> Result<BarrierWaitResult, BarrierWaitError> {
            blocking_party(|w| self.wait_with(w, deadline_after(timeout)))
        }

        /// Blocks until the phase opens or `deadline` passes; see
        /// [`try_wait_for`](Self::try_wait_for).
        ///
        /// # Errors
        /// As for [`try_wait_for`](Self::try_wait_for).
        ///
        /// ```
        /// use std::time::Instant;
        #[doc = concat!("let barrier = polysync::barrier::", stringify!($ty), "::new(1);")]
        /// let result = barrier.try_wait_until(Instant::now()).unwrap();
        /// assert_eq!((result.index(), result.is_leader()), (0, true));
        /// ```
        pub fn try_wait_until(&self, deadline: Instant) -> Result<BarrierWaitResult, BarrierWaitError> {
            blocking_party(|w| self.wait_with(w, Some(deadline)))
        }

        /// Blocks on `waiter` until the phase opens, `deadline` passes or
        /// the waiter reports cancellation; returns this party's
        /// [`BarrierWaitResult`]. The entry point that every blocking form runs with the
        /// current unit's waiter; library code that knows its waiter calls it
        /// directly.
        ///
        /// A party that gives up (time-out or cancellation) breaks the
        /// barrier, unless its phase opened and reached it first: then the
        /// wait succeeds.
        ///
        /// # Errors
        /// [`BarrierWaitError::Broken`] if the barrier is or becomes broken
        /// first; [`BarrierWaitError::TimedOut`] or
        /// [`BarrierWaitError::Cancelled`] if this wait gave up (and so broke
        /// the barrier).
        ///
        /// ```
        /// use polysync::barrier::BarrierWaitError;
        /// use polysync::lowlevel::ThreadWaiter;
        /// use std::time::Instant;
        ///
        #[doc = concat!("let barrier = polysync::barrier::", stringify!($ty), "::new(2);")]
        /// let wait = || ThreadWaiter::with_current(|w| barrier.wait_with(w, None)).unwrap();
        /// let mut indices = std::thread::scope(|s| {
        ///     let other = s.spawn(wait);
        ///     vec![wait(), other.join().unwrap()]
        /// });
        /// indices.sort_by_key(|r| r.index());
        /// assert_eq!(indices.iter().map(|r| r.index()).collect::<Vec<_>>(), [0, 1]);
        /// assert!(indices[1].is_leader());
        ///
        /// ThreadWaiter::with_current(|w| {
        ///     let now = Some(Instant::now());
        ///     assert_eq!(barrier.wait_with(w, now), Err(BarrierWaitError::TimedOut));
        ///     assert_eq!(barrier.wait_with(w, None), Err(BarrierWaitError::Broken));
        /// });
        /// ```
        pub fn wait_with<W: Waiter + ?Sized>(
            &self,
            waiter: &W,
            deadline: Option<Instant>,
        ) -> Result<BarrierWaitResult, BarrierWaitError> {
            arrive_with(&self.raw, waiter, deadline)
        }

        /// Breaks the barrier: every waiting party, and every later wait, gets
        /// a [`BrokenBarrierError`]. Parties of a phase that has opened keep
        /// their result (its leader stays its only leader). Aborting a broken barrier is a no-op.
        ///
        /// ```
        #[doc = concat!("let barrier = polysync::barrier::", stringify!($ty), "::new(2);")]
        /// barrier.abort();
        /// assert!(barrier.is_broken());
        /// assert!(barrier.wait_blocking().is_err());
        /// ```
        pub fn abort(&self) {
            self.raw.break_barrier(false);
        }

        /// The number of parties per phase.
        ///
        /// ```
        #[doc = concat!("assert_eq!(polysync::barrier::", stringify!($ty), "::new(5).parties(), 5);")]
        /// ```
        pub fn parties(&self) -> usize {
            self.raw.parties()
        }

        /// Whether the barrier is broken.
        ///
        /// ```
        #[doc = concat!("assert!(!polysync::barrier::", stringify!($ty), "::new(5).is_broken());")]
        /// ```
        pub fn is_broken(&self) -> bool {
            self.raw.is_broken()
        }

        /// How many parties wait now (a snapshot; includes parties of an
        /// opened phase that are not woken yet).
        ///
        /// ```
        #[doc = concat!("assert_eq!(polysync::barrier::", stringify!($ty), "::new(5).waiting(), 0);")]
        /// ```
        pub fn waiting(&self) -> usize {
            self.raw.waiting()
        }
    };
}

/// A cyclic barrier: each time `parties` parties have arrived, all of them
/// pass, each with a [`BarrierWaitResult`] (its arrival index; the last
/// arrival is the phase's leader), and the barrier fills again.
///
/// A broken barrier stays broken (see the [module docs](super)); use
/// [`RBarrier`] to be able to [`reset`](RBarrier::reset) it.
///
/// Waits: [`wait`](Barrier::wait) (async), [`wait_blocking`](Barrier::wait_blocking),
/// [`try_wait`](Barrier::try_wait), [`try_wait_for`](Barrier::try_wait_for),
/// [`try_wait_until`](Barrier::try_wait_until); [`wait_with`](Barrier::wait_with)
/// takes an explicit waiter.
///
/// ```
/// use polysync::barrier::Barrier;
/// use std::sync::Arc;
///
/// let barrier = Arc::new(Barrier::new(2));
/// let thread = {
///     let barrier = barrier.clone();
///     std::thread::spawn(move || {
///         (0..3).map(|_| barrier.wait_blocking().unwrap().index()).collect::<Vec<_>>()
///     })
/// };
/// // The other party is an async task; three phases.
/// let mine = futures_lite::future::block_on(async {
///     let mut mine = Vec::new();
///     for _ in 0..3 {
///         mine.push(barrier.wait().await.unwrap().index());
///     }
///     mine
/// });
/// let theirs = thread.join().unwrap();
/// for (a, b) in mine.iter().zip(&theirs) {
///     assert_eq!(a + b, 1); // one got 0, the other 1, in each phase
/// }
/// ```
pub struct Barrier {
    raw: RawBarrier,
}

impl Barrier {
    cyclic_methods!(Barrier);
}

/// A cyclic barrier that can be [`reset`](RBarrier::reset): like [`Barrier`],
/// and a reset breaks the waiting parties and makes it usable again.
///
/// ```
/// use polysync::barrier::RBarrier;
///
/// let barrier = RBarrier::new(2);
/// barrier.abort();
/// assert!(barrier.wait_blocking().is_err());
/// barrier.reset();
/// assert!(!barrier.is_broken());
/// std::thread::scope(|s| {
///     s.spawn(|| barrier.wait_blocking().unwrap());
///     barrier.wait_blocking().unwrap();
/// });
/// ```
pub struct RBarrier {
    raw: RawBarrier,
}

impl RBarrier {
    cyclic_methods!(RBarrier);

    /// Returns the barrier to an empty, unbroken state: the parties waiting
    /// in the filling phase get a [`BrokenBarrierError`] (as with Python's
    /// `threading.Barrier.reset`), and later waits start a new phase.
    /// Parties of a phase that has opened keep their index.
    ///
    /// ```
    /// use polysync::barrier::RBarrier;
    /// use std::time::Duration;
    ///
    /// let barrier = RBarrier::new(2);
    /// std::thread::scope(|s| {
    ///     let waiter = s.spawn(|| barrier.wait_blocking());
    ///     while barrier.waiting() == 0 {
    ///         std::thread::sleep(Duration::from_millis(1));
    ///     }
    ///     barrier.reset();
    ///     assert!(waiter.join().unwrap().is_err());
    /// });
    /// assert!(!barrier.is_broken());
    /// ```
    pub fn reset(&self) {
        self.raw.break_barrier(true);
    }
}

macro_rules! cyclic_debug {
    ($($ty:ident),*) => {$(
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("parties", &self.parties())
                    .field("waiting", &self.waiting())
                    .field("broken", &self.is_broken())
                    .finish()
            }
        }
    )*};
}
cyclic_debug!(Barrier, RBarrier);
