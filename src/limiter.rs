//! Capacity limiters: [`CapacityLimiter`] (at most one token per borrower)
//! and [`RCapacityLimiter`] (reentrant: a borrower counts levels), as in
//! trio and aiologic. Borrowers are execution units ([`current_unit`]);
//! async tasks need an identity (see [`identified`](crate::lowlevel::identified)).

use crate::lowlevel::queue::{QueueGuard, USER_MAX, WaitQueue, WakeList};
use crate::lowlevel::sync::{AtomicU64, Ordering, UnsafeCell, const_fn};
use crate::lowlevel::wait::{Protocol, Wait, blocking, drive};
use crate::lowlevel::{
    UnitId, WaitError, Waiter, current_task, current_unit, deadline_after, with_current_waiter,
};
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Set in a node's outcome when its borrower already held a token of a
/// non-reentrant limiter: the wait completes with an error, holding nothing.
/// The top bit of a `usize`: identities are at most `UnitId::MAX`, which
/// leaves it free.
const ALREADY: usize = 1 << (usize::BITS - 1);
const ID_MASK: usize = !ALREADY;

/// The shared core. The queue word's user bits count the borrowed tokens
/// (one per borrower); the borrower list lives beside the queue and is
/// guarded by the queue lock. Tokens are handed straight to queued waiters,
/// oldest first.
struct RawLimiter {
    queue: WaitQueue,
    /// Written under the queue lock; read lock-free for snapshots.
    total: AtomicU64,
    /// `(borrower, levels)`, guarded by the queue lock. It grows only when
    /// more units borrow at once than ever before; waiting never allocates.
    borrowers: UnsafeCell<Vec<(u64, u64)>>,
    reentrant: bool,
}

// SAFETY: `borrowers` is only touched under the queue lock (see `with_list`);
// everything else is atomic.
unsafe impl Send for RawLimiter {}
// SAFETY: as above.
unsafe impl Sync for RawLimiter {}

impl RawLimiter {
    const_fn! {
        fn new(total: usize, reentrant: bool) -> RawLimiter {
            assert!(total as u64 <= USER_MAX, "polysync: too many tokens");
            RawLimiter {
                queue: WaitQueue::new(0),
                total: AtomicU64::new(total as u64),
                borrowers: UnsafeCell::new(Vec::new()),
                reentrant,
            }
        }
    }

    /// Runs `f` on the borrower list. The guard proves the queue lock is held.
    fn with_list<R>(
        &self,
        _guard: &QueueGuard<'_>,
        f: impl FnOnce(&mut Vec<(u64, u64)>) -> R,
    ) -> R {
        // SAFETY: the queue lock (borrowed for the call) guards the list.
        self.borrowers.with_mut(|list| f(unsafe { &mut *list }))
    }

    fn total(&self) -> usize {
        self.total.load(Ordering::Relaxed) as usize
    }

    fn borrowed(&self) -> usize {
        self.queue.user(Ordering::Relaxed) as usize
    }

    fn levels_of(&self, id: u64) -> usize {
        let guard = self.queue.lock();
        self.with_list(&guard, |list| {
            list.iter().find(|e| e.0 == id).map_or(0, |e| e.1 as usize)
        })
    }

    fn snapshot(&self) -> Vec<(UnitId, usize)> {
        let guard = self.queue.lock();
        let mut out = Vec::with_capacity(self.borrowed());
        self.with_list(&guard, |list| {
            out.extend(
                list.iter()
                    // Borrowers are stored from `UnitId::get`.
                    .filter_map(|&(id, n)| UnitId::from_stored(id).map(|id| (id, n as usize))),
            );
        });
        drop(guard);
        out
    }

    /// Hands free tokens to queued waiters, oldest first, waking them after
    /// the lock is gone. Consumes the guard.
    fn hand_out<'a>(&'a self, mut guard: QueueGuard<'a>) {
        let mut wakers = WakeList::new();
        loop {
            let total = self.total.load(Ordering::Relaxed);
            while !wakers.is_full() {
                let Some(front) = guard.front() else { break };
                let id = front.data() as u64;
                let known = self.with_list(&guard, |list| {
                    list.iter_mut().find(|e| e.0 == id).map(|e| {
                        // The same unit waits twice (a task polling two
                        // acquisitions at once): no new token.
                        if self.reentrant {
                            e.1 += 1;
                        }
                    })
                });
                if known.is_some() {
                    let data = if self.reentrant {
                        id as usize
                    } else {
                        id as usize | ALREADY
                    };
                    wakers.push(guard.notify_front(data).expect("front exists"));
                    continue;
                }
                if guard.user() >= total {
                    break;
                }
                self.with_list(&guard, |list| list.push((id, 1)));
                guard.set_user(guard.user() + 1);
                wakers.push(guard.notify_front(id as usize).expect("front exists"));
            }
            let more = wakers.is_full();
            drop(guard);
            wakers.wake_all();
            if !more {
                return;
            }
            guard = self.queue.lock();
        }
    }

    /// Releases `levels` levels of `id`'s borrow; the last one gives the
    /// token back (to the oldest waiter, if any).
    fn release(&self, id: u64, levels: u64) -> Result<(), LimiterReleaseError> {
        let mut guard = self.queue.lock();
        let outcome = self.with_list(&guard, |list| {
            let Some(pos) = list.iter().position(|e| e.0 == id) else {
                return Err(LimiterReleaseError::NotBorrowing);
            };
            let held = list[pos].1;
            if levels > held {
                return Err(LimiterReleaseError::TooManyReleases {
                    held: held as usize,
                });
            }
            list[pos].1 -= levels;
            if list[pos].1 == 0 {
                list.swap_remove(pos);
                Ok(true)
            } else {
                Ok(false)
            }
        });
        match outcome {
            Ok(true) => {
                guard.set_user(guard.user() - 1);
                self.hand_out(guard);
                Ok(())
            }
            Ok(false) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn set_total(&self, total: usize) {
        assert!(total as u64 <= USER_MAX, "polysync: too many tokens");
        let guard = self.queue.lock();
        self.total.store(total as u64, Ordering::Relaxed);
        self.hand_out(guard);
    }

    /// Borrows without waiting: `Ok(id)` (or `Ok(id | ALREADY)`), or
    /// `Err(id)` when no token is free.
    fn try_borrow(&self, id: u64) -> Result<usize, usize> {
        let mut guard = self.queue.lock();
        self.arrive_locked(&mut guard, id as usize)
    }
}

impl Protocol for RawLimiter {
    fn queue(&self) -> &WaitQueue {
        &self.queue
    }

    fn try_fast(&self, _: usize) -> bool {
        // The borrower list needs the queue lock: everything happens in
        // `arrive_locked`.
        false
    }

    fn try_locked(&self, guard: &mut QueueGuard<'_>, data: usize) -> bool {
        self.arrive_locked(guard, data).is_ok()
    }

    fn arrive_locked(&self, guard: &mut QueueGuard<'_>, data: usize) -> Result<usize, usize> {
        let id = (data & ID_MASK) as u64;
        let known = self.with_list(guard, |list| {
            list.iter_mut().find(|e| e.0 == id).map(|e| {
                if self.reentrant {
                    e.1 += 1;
                }
            })
        });
        if known.is_some() {
            return Ok(if self.reentrant {
                id as usize
            } else {
                id as usize | ALREADY
            });
        }
        // A free token implies an empty queue (tokens are handed out first),
        // so taking it keeps FIFO order.
        if guard.is_empty() && guard.user() < self.total.load(Ordering::Relaxed) {
            self.with_list(guard, |list| list.push((id, 1)));
            guard.set_user(guard.user() + 1);
            return Ok(id as usize);
        }
        Err(id as usize)
    }

    fn pass_on(&self, data: usize) {
        if data & ALREADY == 0 {
            // We were handed a level (a token): give it back.
            let _ = self.release((data & ID_MASK) as u64, 1);
        }
    }
}

impl std::fmt::Debug for RawLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("total_tokens", &self.total())
            .field("borrowed_tokens", &self.borrowed())
            .field("waiting", &self.queue.len())
            .finish()
    }
}

/// A wait whose output is the node's outcome (`id`, maybe with `ALREADY`).
struct Outcome<'a>(Wait<'a, RawLimiter>);

impl Future for Outcome<'_> {
    type Output = usize;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        // SAFETY: the wait is structurally pinned.
        let mut wait = unsafe { self.map_unchecked_mut(|this| &mut this.0) };
        match wait.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(wait.data().expect("completed")),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Why a borrow failed. Nothing is borrowed then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BorrowError {
    /// The current unit already holds a token of this (non-reentrant)
    /// [`CapacityLimiter`].
    AlreadyBorrowing,
    /// No token was free (`try_acquire`) or none came before the timeout.
    Unavailable,
    /// An async acquire found no task identity; see
    /// [`NoTaskIdentity`](crate::lowlevel::NoTaskIdentity).
    NoTaskIdentity,
    /// The waiter given to [`CapacityLimiter::acquire_with`] reported
    /// cancellation; the wait was withdrawn (a token handed to it went to
    /// the next waiter).
    Cancelled,
}

impl std::fmt::Display for BorrowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::AlreadyBorrowing => f.write_str(
                "polysync: this execution unit already holds one of the limiter's tokens",
            ),
            Self::Unavailable => f.write_str("polysync: no token of the limiter was available"),
            Self::NoTaskIdentity => crate::lowlevel::NoTaskIdentity.fmt(f),
            Self::Cancelled => f.write_str("polysync: the wait for a limiter token was cancelled"),
        }
    }
}

impl std::error::Error for BorrowError {}

/// An explicit release was misused; nothing was released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimiterReleaseError {
    /// The current unit holds no token of the limiter.
    NotBorrowing,
    /// The borrower tried to release more levels than it holds.
    TooManyReleases {
        /// The levels it holds (and still holds).
        held: usize,
    },
}

impl std::fmt::Display for LimiterReleaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotBorrowing => {
                f.write_str("polysync: the current execution unit holds no token of the limiter")
            }
            Self::TooManyReleases { held } => write!(
                f,
                "polysync: limiter released too many times (the borrower holds {held} level(s))"
            ),
        }
    }
}

impl std::error::Error for LimiterReleaseError {}

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
            this.wait = Some(Outcome(Wait::new(raw, me.get() as usize)));
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

fn outcome(raw: &RawLimiter, data: usize) -> Result<LimiterToken<'_>, BorrowError> {
    if data & ALREADY != 0 {
        Err(BorrowError::AlreadyBorrowing)
    } else {
        Ok(LimiterToken {
            raw,
            borrower: (data & ID_MASK) as u64,
        })
    }
}

/// The one blocking borrow: on `waiter`, for the current unit. The outer
/// error is why the wait gave up; the inner result is the borrow's outcome.
fn borrow_with<'a, W: Waiter + ?Sized>(
    raw: &'a RawLimiter,
    waiter: &W,
    deadline: Option<Instant>,
) -> Result<Result<LimiterToken<'a>, BorrowError>, WaitError> {
    let me = current_unit().get();
    // Fast path: a free token (or an error) needs no waiter at all.
    if let Ok(data) = raw.try_borrow(me) {
        return Ok(outcome(raw, data));
    }
    let mut wait = pin!(Wait::new(raw, me as usize));
    drive(waiter, wait.as_mut(), deadline).map_err(|(error, ())| error)?;
    Ok(outcome(
        raw,
        wait.data().expect("a completed wait holds its outcome"),
    ))
}

/// [`borrow_with`] for the non-reentrant limiter's result shape.
fn borrow_or_unavailable<'a, W: Waiter + ?Sized>(
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
fn borrow_until(
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

fn try_borrow(raw: &RawLimiter) -> Result<LimiterToken<'_>, BorrowError> {
    match raw.try_borrow(current_unit().get()) {
        Ok(data) => outcome(raw, data),
        Err(_) => Err(BorrowError::Unavailable),
    }
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
        pub fn set_total_tokens(&self, total: usize) {
            self.raw.set_total(total);
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
/// direct hand-off; every wait is cancel-safe; waiting never allocates (the
/// borrower list grows only when more units borrow at once than ever
/// before; [`borrowers`](CapacityLimiter::borrowers) allocates its snapshot).
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
        /// A limiter with `total` tokens. `const`, so it can be a `static`.
        ///
        /// # Panics
        /// If `total` exceeds `u32::MAX`.
        ///
        /// ```
        /// static LIMIT: polysync::CapacityLimiter = polysync::CapacityLimiter::new(4);
        /// assert_eq!(LIMIT.total_tokens(), 4);
        /// ```
        pub fn new(total: usize) -> CapacityLimiter {
            CapacityLimiter { raw: RawLimiter::new(total, false) }
        }
    }

    /// Borrows a token asynchronously for the current task (its identity is
    /// read at the first poll). Cancel-safe.
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
        LimiterAcquire {
            raw: &self.raw,
            wait: None,
        }
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
        borrow_until(&self.raw, None)
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
        try_borrow(&self.raw)
    }

    /// Like [`acquire_blocking`](CapacityLimiter::acquire_blocking), giving
    /// up after `timeout` with [`BorrowError::Unavailable`].
    ///
    /// ```
    /// let limiter = polysync::CapacityLimiter::new(0);
    /// assert!(limiter.try_acquire_for(std::time::Duration::from_millis(1)).is_err());
    /// ```
    pub fn try_acquire_for(&self, timeout: Duration) -> Result<LimiterToken<'_>, BorrowError> {
        borrow_until(&self.raw, deadline_after(timeout))
    }

    /// Like [`acquire_blocking`](CapacityLimiter::acquire_blocking), giving
    /// up at `deadline` with [`BorrowError::Unavailable`].
    ///
    /// ```
    /// let limiter = polysync::CapacityLimiter::new(1);
    /// assert!(limiter.try_acquire_until(std::time::Instant::now()).is_ok());
    /// ```
    pub fn try_acquire_until(&self, deadline: Instant) -> Result<LimiterToken<'_>, BorrowError> {
        borrow_until(&self.raw, Some(deadline))
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
        borrow_or_unavailable(&self.raw, waiter, deadline)
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

    /// A snapshot of the borrowers (allocates the list).
    ///
    /// ```
    /// let limiter = polysync::CapacityLimiter::new(1);
    /// let _t = limiter.acquire_blocking().unwrap();
    /// assert_eq!(limiter.borrowers(), vec![polysync::lowlevel::current_unit()]);
    /// ```
    pub fn borrowers(&self) -> Vec<UnitId> {
        self.raw.snapshot().into_iter().map(|(id, _)| id).collect()
    }

    common_methods!(CapacityLimiter, "CapacityLimiter::new(2)");
}

/// A reentrant capacity limiter: like [`CapacityLimiter`], but a borrower
/// that holds a token may acquire again at once (in every form), counting
/// levels; its token goes back when its last level is released.
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
        /// A reentrant limiter with `total` tokens. `const`.
        ///
        /// # Panics
        /// If `total` exceeds `u32::MAX`.
        ///
        /// ```
        /// static LIMIT: polysync::RCapacityLimiter = polysync::RCapacityLimiter::new(3);
        /// assert_eq!(LIMIT.total_tokens(), 3);
        /// ```
        pub fn new(total: usize) -> RCapacityLimiter {
            RCapacityLimiter { raw: RawLimiter::new(total, true) }
        }
    }

    /// Borrows (one more level of) a token asynchronously for the current
    /// task. Cancel-safe.
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
        LimiterAcquire {
            raw: &self.raw,
            wait: None,
        }
    }

    /// Borrows (one more level of) a token, blocking the current unit.
    ///
    /// ```
    /// let limiter = polysync::RCapacityLimiter::new(1);
    /// let t = limiter.acquire_blocking();
    /// ```
    pub fn acquire_blocking(&self) -> LimiterToken<'_> {
        blocking(|w| self.acquire_with(w, None))
            .expect("a wait without a deadline does not time out")
    }

    /// Borrows (one more level of) a token if the unit has one or one is free.
    ///
    /// ```
    /// let limiter = polysync::RCapacityLimiter::new(0);
    /// assert!(limiter.try_acquire().is_none());
    /// ```
    pub fn try_acquire(&self) -> Option<LimiterToken<'_>> {
        try_borrow(&self.raw).ok()
    }

    /// Like [`acquire_blocking`](RCapacityLimiter::acquire_blocking), giving up after `timeout`.
    ///
    /// ```
    /// let limiter = polysync::RCapacityLimiter::new(0);
    /// assert!(limiter.try_acquire_for(std::time::Duration::from_millis(1)).is_none());
    /// ```
    pub fn try_acquire_for(&self, timeout: Duration) -> Option<LimiterToken<'_>> {
        blocking(|w| self.acquire_with(w, deadline_after(timeout)))
    }

    /// Like [`acquire_blocking`](RCapacityLimiter::acquire_blocking), giving up at `deadline`.
    ///
    /// ```
    /// let limiter = polysync::RCapacityLimiter::new(1);
    /// assert!(limiter.try_acquire_until(std::time::Instant::now()).is_some());
    /// ```
    pub fn try_acquire_until(&self, deadline: Instant) -> Option<LimiterToken<'_>> {
        blocking(|w| self.acquire_with(w, Some(deadline)))
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
        borrow_with(&self.raw, waiter, deadline)
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

    /// A snapshot of the borrowers with their levels (allocates the list).
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
