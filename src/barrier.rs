//! Barriers: [`Latch`] (single use), [`Barrier`] (cyclic) and [`RBarrier`]
//! (cyclic, with [`reset`](RBarrier::reset)).
//!
//! A barrier lets a fixed number of *parties* wait for each other: every
//! party calls `wait`, and once `parties` of them have arrived they all pass.
//! The parties may be of any kind at once: OS threads and green threads
//! block, async tasks of any executor `.await`.
//!
//! # Broken barriers
//!
//! A barrier *breaks* when a party gives up on it, because then the others
//! would wait for it forever:
//!
//! - [`abort`](Barrier::abort) breaks it on purpose;
//! - a timed wait (`try_wait_for`, `try_wait_until`) whose deadline passes
//!   breaks it (as in Python's `threading.Barrier`);
//! - an async wait that is dropped (cancelled) before it completes breaks it.
//!
//! Every party that waits on a broken barrier, or is waiting when it breaks,
//! gets a [`BrokenBarrierError`]; later waits fail at once.
//! [`RBarrier::reset`] repairs a cyclic barrier. Timed waits return a
//! [`BarrierWaitError`], which also tells whether this wait's own deadline
//! passed ([`BarrierWaitError::TimedOut`]); either way the barrier is broken
//! afterwards (unless it passed at that very moment).
//!
//! # Semantics
//!
//! - Parties are served in arrival order: [`Barrier::wait`] returns the
//!   arrival index `0..parties`, and the last arrival (index `parties - 1`)
//!   opens the phase. Parties that arrive while a phase is being woken belong
//!   to the next phase.
//! - A barrier with `parties == 0` never opens by arrivals: its waits end
//!   only when it breaks (this follows aiologic; `std::sync::Barrier` treats
//!   0 like 1).
//! - Memory: everything a party did before it arrived happens before every
//!   party of the same phase returns from its wait.
//! - No allocation per wait; every future is cancel-safe in the sense above
//!   (dropping it never leaves the barrier inconsistent, but breaks it).

use crate::lowlevel::queue::{QueueGuard, WaitQueue, WakeList};
use crate::lowlevel::sync::{Ordering, UnsafeCell, const_fn};
use crate::lowlevel::wait::{Protocol, Wait as RawWait};
use crate::lowlevel::{block_on, deadline_after};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The outcome a node is handed when its barrier broke.
const BROKEN_DATA: usize = usize::MAX;
/// The outcome a [`Latch`] node is handed when the latch passed.
const PASSED_DATA: usize = 0;

/// A wait future's life: not polled yet, polled, completed.
const NEW: u8 = 0;
const POLLED: u8 = 1;
const FINISHED: u8 = 2;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// The barrier is broken: it was aborted, or a party timed out or was
/// cancelled, or (for [`RBarrier`]) it was reset while this party waited.
///
/// ```
/// use polysync::barrier::{Barrier, BrokenBarrierError};
/// let barrier = Barrier::new(2);
/// barrier.abort();
/// let err: BrokenBarrierError = barrier.wait_blocking().unwrap_err();
/// assert_eq!(err.to_string(), "polysync: the barrier is broken");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BrokenBarrierError;

impl std::fmt::Display for BrokenBarrierError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("polysync: the barrier is broken")
    }
}

impl std::error::Error for BrokenBarrierError {}

/// Why a timed barrier wait (`try_wait_for`, `try_wait_until`) failed.
/// Either way the barrier is broken afterwards: a party that stops waiting
/// breaks it for all.
///
/// ```
/// use polysync::barrier::{Barrier, BarrierWaitError};
/// use std::time::Duration;
///
/// let barrier = Barrier::new(2);
/// // Nobody else arrives: this wait times out and breaks the barrier...
/// let err = barrier.try_wait_for(Duration::from_millis(1)).unwrap_err();
/// assert_eq!(err, BarrierWaitError::TimedOut);
/// assert!(err.is_timeout());
/// // ...so the next one fails at once.
/// assert_eq!(
///     barrier.try_wait_for(Duration::from_secs(1)),
///     Err(BarrierWaitError::Broken)
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BarrierWaitError {
    /// The barrier was (or became) broken by someone else while this party
    /// waited: an abort, a reset, another party's timeout or cancellation.
    Broken,
    /// This wait gave up first: its deadline passed (or a green backend
    /// cancelled the waiting unit); giving up broke the barrier.
    TimedOut,
}

impl BarrierWaitError {
    /// Whether this wait's own deadline passed.
    ///
    /// ```
    /// use polysync::barrier::BarrierWaitError;
    /// assert!(BarrierWaitError::TimedOut.is_timeout());
    /// assert!(!BarrierWaitError::Broken.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, BarrierWaitError::TimedOut)
    }
}

impl std::fmt::Display for BarrierWaitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BarrierWaitError::Broken => f.write_str("polysync: the barrier is broken"),
            BarrierWaitError::TimedOut => {
                f.write_str("polysync: the barrier wait timed out (and broke the barrier)")
            }
        }
    }
}

impl std::error::Error for BarrierWaitError {}

impl From<BrokenBarrierError> for BarrierWaitError {
    /// ```
    /// use polysync::barrier::{BarrierWaitError, BrokenBarrierError};
    /// let broken = polysync::barrier::Latch::new(1);
    /// broken.abort();
    /// let err: BrokenBarrierError = broken.wait_blocking().unwrap_err();
    /// assert_eq!(BarrierWaitError::from(err), BarrierWaitError::Broken);
    /// ```
    fn from(_: BrokenBarrierError) -> Self {
        BarrierWaitError::Broken
    }
}

fn outcome(data: usize) -> Result<usize, BrokenBarrierError> {
    if data == BROKEN_DATA {
        Err(BrokenBarrierError)
    } else {
        Ok(data)
    }
}

fn timed<T>(result: Option<Result<T, BrokenBarrierError>>) -> Result<T, BarrierWaitError> {
    match result {
        Some(result) => result.map_err(BarrierWaitError::from),
        None => Err(BarrierWaitError::TimedOut),
    }
}

// ---------------------------------------------------------------------------
// Latch
// ---------------------------------------------------------------------------

/// User bits of a latch's queue word.
const L_PASSED: u64 = 1;
const L_BROKEN: u64 = 2;

/// A single-use barrier: once `parties` waiters have arrived, all of them
/// pass, and every later wait returns at once.
///
/// [`abort`](Latch::abort) breaks it: waiters that have not passed get a
/// [`BrokenBarrierError`], and so do all later waits, even after the latch
/// passed. A timed wait that gives up, or an async wait dropped before the
/// latch passed, breaks it too (see the [module docs](self)).
///
/// Waits come in five forms: [`wait`](Latch::wait) (async),
/// [`wait_blocking`](Latch::wait_blocking), [`try_wait`](Latch::try_wait),
/// [`try_wait_for`](Latch::try_wait_for), [`try_wait_until`](Latch::try_wait_until).
///
/// ```
/// use polysync::barrier::Latch;
/// use std::sync::Arc;
///
/// let started = Arc::new(Latch::new(3));
/// let workers: Vec<_> = (0..2)
///     .map(|_| {
///         let started = started.clone();
///         std::thread::spawn(move || started.wait_blocking())
///     })
///     .collect();
/// // The third party is an async task.
/// futures_lite::future::block_on(started.wait()).unwrap();
/// for w in workers {
///     w.join().unwrap().unwrap();
/// }
/// assert_eq!(started.try_wait(), Ok(true)); // passed: later waits return at once
/// ```
pub struct Latch {
    queue: WaitQueue,
    parties: usize,
}

impl Latch {
    const_fn! {
        /// A latch that passes once `parties` waiters have arrived. With
        /// `parties == 0` it never passes; its waits end only when it breaks.
        ///
        /// ```
        /// let latch = polysync::barrier::Latch::new(2);
        /// assert_eq!(latch.parties(), 2);
        /// ```
        pub fn new(parties: usize) -> Latch {
            Latch { queue: WaitQueue::new(0), parties }
        }
    }

    /// Waits asynchronously until `parties` waiters have arrived (this one
    /// included). Dropping the future before the latch passed breaks the latch.
    ///
    /// # Errors
    /// [`BrokenBarrierError`] if the latch is or becomes broken first.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let latch = polysync::barrier::Latch::new(1);
    /// latch.wait().await.unwrap();
    /// latch.wait().await.unwrap(); // passed: returns at once
    /// # });
    /// ```
    pub fn wait(&self) -> LatchWait<'_> {
        LatchWait {
            wait: RawWait::new(self, 0),
            stage: NEW,
        }
    }

    /// Blocks the current execution unit until `parties` waiters have arrived.
    ///
    /// # Errors
    /// [`BrokenBarrierError`] if the latch is or becomes broken first (also
    /// when a green backend cancels the waiting unit: giving up breaks it).
    ///
    /// ```
    /// use polysync::barrier::Latch;
    /// let latch = Latch::new(2);
    /// std::thread::scope(|s| {
    ///     s.spawn(|| latch.wait_blocking().unwrap());
    ///     latch.wait_blocking().unwrap();
    /// });
    /// ```
    pub fn wait_blocking(&self) -> Result<(), BrokenBarrierError> {
        // `None`: a green backend cancelled the unit; giving up broke the latch.
        block_on(self.wait(), None).unwrap_or(Err(BrokenBarrierError))
    }

    /// Passes without waiting if that is possible: `Ok(true)` if the latch
    /// has passed, or if this call is the last arrival and so passes it;
    /// `Ok(false)` (nothing changed, this call did not arrive) if it would
    /// have to wait.
    ///
    /// # Errors
    /// [`BrokenBarrierError`] if the latch is broken.
    ///
    /// ```
    /// let latch = polysync::barrier::Latch::new(1);
    /// assert_eq!(latch.try_wait(), Ok(true)); // the last (only) party passes it
    /// let latch = polysync::barrier::Latch::new(2);
    /// assert_eq!(latch.try_wait(), Ok(false));
    /// assert_eq!(latch.waiting(), 0);
    /// ```
    pub fn try_wait(&self) -> Result<bool, BrokenBarrierError> {
        if let Some(done) = self.fast_check() {
            return done.map(|()| true);
        }
        let mut guard = self.queue.lock();
        let user = guard.user();
        let arrival = if user & (L_PASSED | L_BROKEN) != 0 || self.completes(&guard) {
            self.arrive_locked(&mut guard, 0)
        } else {
            Err(0)
        };
        drop(guard);
        match arrival {
            Ok(data) => {
                self.help();
                outcome(data).map(|_| true)
            }
            Err(_) => Ok(false),
        }
    }

    /// Blocks until the latch passes or `timeout` passes. A wait that times
    /// out breaks the latch (unless it passed at that very moment).
    ///
    /// # Errors
    /// [`BarrierWaitError::TimedOut`] if this wait gave up,
    /// [`BarrierWaitError::Broken`] if the latch is or becomes broken first.
    ///
    /// ```
    /// use polysync::barrier::{BarrierWaitError, Latch};
    /// use std::time::Duration;
    ///
    /// let latch = Latch::new(2);
    /// assert_eq!(latch.try_wait_for(Duration::from_millis(1)), Err(BarrierWaitError::TimedOut));
    /// assert!(latch.broken());
    /// ```
    pub fn try_wait_for(&self, timeout: Duration) -> Result<(), BarrierWaitError> {
        timed(block_on(self.wait(), deadline_after(timeout)))
    }

    /// Blocks until the latch passes or `deadline` passes; see
    /// [`try_wait_for`](Latch::try_wait_for).
    ///
    /// # Errors
    /// As for [`try_wait_for`](Latch::try_wait_for).
    ///
    /// ```
    /// use std::time::Instant;
    /// let latch = polysync::barrier::Latch::new(1);
    /// assert_eq!(latch.try_wait_until(Instant::now()), Ok(()));
    /// ```
    pub fn try_wait_until(&self, deadline: Instant) -> Result<(), BarrierWaitError> {
        timed(block_on(self.wait(), Some(deadline)))
    }

    /// Breaks the latch: waiters that have not passed, and every later wait,
    /// get a [`BrokenBarrierError`]. Waiters of a latch that already passed
    /// keep their success; only later waits fail. Aborting twice is a no-op.
    ///
    /// ```
    /// let latch = polysync::barrier::Latch::new(1);
    /// latch.wait_blocking().unwrap();
    /// latch.abort();
    /// assert!(latch.wait_blocking().is_err());
    /// ```
    pub fn abort(&self) {
        let mut guard = self.queue.lock();
        let user = guard.user();
        if user & L_BROKEN != 0 {
            return;
        }
        guard.set_user(user | L_BROKEN);
        drop(guard);
        self.drain();
    }

    /// The number of parties the latch waits for.
    ///
    /// ```
    /// assert_eq!(polysync::barrier::Latch::new(4).parties(), 4);
    /// ```
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// Whether the latch is broken.
    ///
    /// ```
    /// let latch = polysync::barrier::Latch::new(4);
    /// assert!(!latch.broken());
    /// latch.abort();
    /// assert!(latch.broken());
    /// ```
    pub fn broken(&self) -> bool {
        self.queue.user(Ordering::Acquire) & L_BROKEN != 0
    }

    /// How many parties wait now (a snapshot; after the latch passed, those
    /// not woken yet).
    ///
    /// ```
    /// assert_eq!(polysync::barrier::Latch::new(4).waiting(), 0);
    /// ```
    pub fn waiting(&self) -> usize {
        self.queue.len()
    }

    /// The lock-free answer, if there is one: broken or passed.
    #[inline]
    fn fast_check(&self) -> Option<Result<(), BrokenBarrierError>> {
        let user = self.queue.user(Ordering::Acquire);
        if user & L_BROKEN != 0 {
            Some(Err(BrokenBarrierError))
        } else if user & L_PASSED != 0 {
            Some(Ok(()))
        } else {
            None
        }
    }

    /// Whether one more arrival passes the latch.
    fn completes(&self, guard: &QueueGuard<'_>) -> bool {
        self.parties != 0 && guard.len() + 1 >= self.parties
    }

    /// Helps wake the parties of a latch that passed or broke, if any wait.
    #[inline]
    fn help(&self) {
        if self.queue.len() != 0 && self.queue.user(Ordering::Relaxed) & (L_PASSED | L_BROKEN) != 0
        {
            self.drain();
        }
    }

    /// Hands every queued node its outcome (passed wins over broken: they
    /// arrived before the abort), in batches woken outside the lock.
    fn drain(&self) {
        let mut wakers = WakeList::new();
        loop {
            let mut guard = self.queue.lock();
            let user = guard.user();
            if user & (L_PASSED | L_BROKEN) == 0 {
                return;
            }
            let data = if user & L_PASSED != 0 {
                PASSED_DATA
            } else {
                BROKEN_DATA
            };
            while !wakers.is_full() {
                match guard.notify_front(data) {
                    Some(waker) => wakers.push(waker),
                    None => break,
                }
            }
            let more = !guard.is_empty();
            drop(guard);
            wakers.wake_all();
            if !more {
                return;
            }
        }
    }
}

impl Protocol for Latch {
    fn queue(&self) -> &WaitQueue {
        &self.queue
    }

    #[inline]
    fn try_fast(&self, _: usize) -> bool {
        // `LatchWait` answers the lock-free cases itself, with their outcome.
        false
    }

    fn try_locked(&self, guard: &mut QueueGuard<'_>, data: usize) -> bool {
        // Not called: `Wait` uses `arrive_locked`, which this mirrors.
        self.arrive_locked(guard, data).is_ok()
    }

    fn arrive_locked(&self, guard: &mut QueueGuard<'_>, data: usize) -> Result<usize, usize> {
        let user = guard.user();
        if user & L_BROKEN != 0 {
            Ok(BROKEN_DATA)
        } else if user & L_PASSED != 0 {
            Ok(PASSED_DATA)
        } else if self.completes(guard) {
            // The last arrival: the latch passes; this party drains the queue.
            guard.set_user(user | L_PASSED);
            Ok(PASSED_DATA)
        } else {
            Err(data)
        }
    }

    fn pass_on(&self, _: usize) {
        // The latch passed (or broke) for this party already: nothing depends
        // on it observing that.
    }

    fn cancelled(&self, guard: &mut QueueGuard<'_>, _: usize) {
        // A party gave up before the latch passed: the others would wait forever.
        let user = guard.user();
        if user & L_PASSED == 0 {
            guard.set_user(user | L_BROKEN);
        }
    }

    fn after_cancelled(&self, _: usize) {
        self.help();
    }
}

impl std::fmt::Debug for Latch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let user = self.queue.user(Ordering::Relaxed);
        f.debug_struct("Latch")
            .field("parties", &self.parties)
            .field("waiting", &self.waiting())
            .field("passed", &(user & L_PASSED != 0))
            .field("broken", &(user & L_BROKEN != 0))
            .finish()
    }
}

/// The future of [`Latch::wait`]; resolves to `Ok(())` once the latch
/// passed, or to a [`BrokenBarrierError`].
///
/// Dropping it while it waits, before the latch passed, breaks the latch.
#[must_use = "futures do nothing unless polled"]
pub struct LatchWait<'a> {
    wait: RawWait<'a, Latch>,
    stage: u8,
}

impl Future for LatchWait<'_> {
    type Output = Result<(), BrokenBarrierError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `wait` is structurally pinned (never moved out of `self`);
        // `stage` is plain data that is not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let latch = this.wait.protocol();
        match this.stage {
            NEW => {
                this.stage = POLLED;
                if let Some(done) = latch.fast_check() {
                    this.stage = FINISHED;
                    return Poll::Ready(done);
                }
            }
            POLLED => {}
            _ => panic!("polysync: a latch wait future was polled after it completed"),
        }
        // SAFETY: as above; `this` came from a pinned reference.
        let wait = unsafe { Pin::new_unchecked(&mut this.wait) };
        if wait.poll(cx).is_pending() {
            return Poll::Pending;
        }
        this.stage = FINISHED;
        let data = this.wait.data().expect("a completed wait is not queued");
        latch.help();
        Poll::Ready(outcome(data).map(|_| ()))
    }
}

impl std::fmt::Debug for LatchWait<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatchWait")
            .field("latch", self.wait.protocol())
            .field("queued", &self.wait.is_queued())
            .finish()
    }
}

// ---------------------------------------------------------------------------
// The cyclic core
// ---------------------------------------------------------------------------

/// User bits of a cyclic barrier's queue word.
const B_BROKEN: u64 = 1;
/// Decided nodes (of an opened phase, or broken) wait at the front to be woken.
const B_PENDING: u64 = 2;

/// Where the queued parties stand. Every queued node carries an arrival
/// ticket (its data until it is woken); tickets grow by one per queued
/// arrival and wrap. In ticket order:
///
/// ```text
/// start .. open_end     an opened phase (or several): index = (t - start) % parties
/// open_end .. settle_end broken: these parties get the broken error
/// settle_end .. next     the phase that is filling
/// ```
///
/// Every queued ticket is at least `start`, so offsets from `start` compare
/// correctly across wrap-around. The decided ("settled") nodes sit at the
/// front of the queue and are woken in batches; while any of them wait, a
/// new phase does not open (its last party queues too, and the waker of the
/// settled nodes opens it), so the layout above always holds.
#[derive(Clone, Copy, Debug)]
struct Tickets {
    start: usize,
    open_end: usize,
    settle_end: usize,
    next: usize,
}

impl Tickets {
    #[inline]
    fn off(&self, ticket: usize) -> usize {
        ticket.wrapping_sub(self.start)
    }

    /// Parties of the filling phase (all queued: a party that leaves it breaks it).
    #[inline]
    fn filling(&self) -> usize {
        self.next.wrapping_sub(self.settle_end)
    }

    /// Every party of the filling phase becomes broken.
    fn settle_filling(&mut self, settled_queued: bool) {
        if !settled_queued {
            // Nothing decided is queued: restart the ranges here.
            self.start = self.settle_end;
            self.open_end = self.settle_end;
        }
        self.settle_end = self.next;
    }

    /// The filling parties `settle_end .. settle_end + n` form opened phases.
    /// Only with nothing decided queued.
    fn open(&mut self, n: usize) {
        self.start = self.settle_end;
        self.open_end = self.settle_end.wrapping_add(n);
        self.settle_end = self.open_end;
    }
}

/// What [`Barrier`] and [`RBarrier`] share.
pub(crate) struct RawBarrier {
    queue: WaitQueue,
    parties: usize,
    /// Guarded by the queue lock.
    tickets: UnsafeCell<Tickets>,
}

// SAFETY: `tickets` is only accessed under the queue lock (see `load` and
// `store`); the queue itself is Send + Sync.
unsafe impl Send for RawBarrier {}
// SAFETY: as above.
unsafe impl Sync for RawBarrier {}

impl RawBarrier {
    const_fn! {
        fn new(parties: usize) -> RawBarrier {
            RawBarrier {
                queue: WaitQueue::new(0),
                parties,
                tickets: UnsafeCell::new(Tickets { start: 0, open_end: 0, settle_end: 0, next: 0 }),
            }
        }
    }

    #[inline]
    fn load(&self, _guard: &QueueGuard<'_>) -> Tickets {
        // SAFETY: we hold the queue lock (proven by `_guard`), which guards `tickets`.
        self.tickets.with(|p| unsafe { *p })
    }

    #[inline]
    fn store(&self, guard: &mut QueueGuard<'_>, tickets: Tickets) {
        // SAFETY: as in `load`.
        self.tickets.with_mut(|p| unsafe { *p = tickets });
        let pending = if Self::settled_queued(guard, &tickets) {
            B_PENDING
        } else {
            0
        };
        guard.set_user((guard.user() & !B_PENDING) | pending);
    }

    /// Whether a decided node waits at the front of the queue.
    #[inline]
    fn settled_queued(guard: &QueueGuard<'_>, t: &Tickets) -> bool {
        guard
            .front()
            .is_some_and(|front| t.off(front.data()) < t.off(t.settle_end))
    }

    #[inline]
    fn broken(&self) -> bool {
        self.queue.user(Ordering::Acquire) & B_BROKEN != 0
    }

    #[inline]
    fn waiting(&self) -> usize {
        self.queue.len()
    }

    /// The lock-free answer, if there is one.
    #[inline]
    fn fast_check(&self) -> Option<Result<usize, BrokenBarrierError>> {
        if self.broken() {
            Some(Err(BrokenBarrierError))
        } else if self.parties == 1 {
            // Every arrival opens its own phase; nobody ever queues.
            Some(Ok(0))
        } else {
            None
        }
    }

    fn try_wait(&self) -> Result<Option<usize>, BrokenBarrierError> {
        if let Some(done) = self.fast_check() {
            return done.map(Some);
        }
        let mut guard = self.queue.lock();
        let t = self.load(&guard);
        let arrival = if guard.user() & B_BROKEN != 0
            || (!Self::settled_queued(&guard, &t) && t.filling() + 1 == self.parties)
        {
            self.arrive_locked(&mut guard, 0)
        } else {
            Err(0)
        };
        drop(guard);
        match arrival {
            Ok(data) => {
                self.help();
                outcome(data).map(Some)
            }
            Err(_) => Ok(None),
        }
    }

    /// Breaks the barrier (if `reset`, repairs it right away): the filling
    /// phase's parties get the broken error.
    fn break_barrier(&self, reset: bool) {
        let mut guard = self.queue.lock();
        let mut t = self.load(&guard);
        let user = guard.user();
        if !reset && user & B_BROKEN != 0 {
            // Broken already: its parties were settled then.
            return;
        }
        t.settle_filling(Self::settled_queued(&guard, &t));
        guard.set_user(if reset {
            user & !B_BROKEN
        } else {
            user | B_BROKEN
        });
        self.store(&mut guard, t);
        drop(guard);
        self.help();
    }

    /// Helps wake decided parties, if any wait.
    #[inline]
    fn help(&self) {
        if self.queue.user(Ordering::Relaxed) & B_PENDING != 0 {
            self.drain();
        }
    }

    /// Hands the decided nodes at the front their outcome, in batches woken
    /// outside the lock, and opens phases that filled up meanwhile.
    fn drain(&self) {
        let mut wakers = WakeList::new();
        loop {
            let mut guard = self.queue.lock();
            let mut t = self.load(&guard);
            let mut more = false;
            while let Some(ticket) = guard.front().map(|front| front.data()) {
                let off = t.off(ticket);
                let data = if off < t.off(t.open_end) {
                    off % self.parties
                } else if off < t.off(t.settle_end) {
                    BROKEN_DATA
                } else {
                    // The front fills the next phase: nothing decided is queued.
                    let full = t.filling() - t.filling() % self.parties.max(1);
                    if guard.user() & B_BROKEN == 0 && self.parties != 0 && full != 0 {
                        t.open(full);
                        continue;
                    }
                    break;
                };
                if wakers.is_full() {
                    more = true;
                    break;
                }
                wakers.push(guard.notify_front(data).expect("the front exists"));
            }
            self.store(&mut guard, t);
            drop(guard);
            wakers.wake_all();
            if !more {
                return;
            }
        }
    }
}

impl Protocol for RawBarrier {
    fn queue(&self) -> &WaitQueue {
        &self.queue
    }

    #[inline]
    fn try_fast(&self, _: usize) -> bool {
        // `BarrierWait` answers the lock-free cases itself, with their outcome.
        false
    }

    fn try_locked(&self, guard: &mut QueueGuard<'_>, data: usize) -> bool {
        // Not called: `Wait` uses `arrive_locked`, which this mirrors.
        self.arrive_locked(guard, data).is_ok()
    }

    fn arrive_locked(&self, guard: &mut QueueGuard<'_>, _: usize) -> Result<usize, usize> {
        if guard.user() & B_BROKEN != 0 {
            return Ok(BROKEN_DATA);
        }
        let mut t = self.load(guard);
        let filling = t.filling();
        if self.parties != 0 && filling + 1 == self.parties && !Self::settled_queued(guard, &t) {
            // The last arrival opens the phase and wakes the others (in
            // `BarrierWait::poll`, after the lock is released).
            t.open(filling);
            self.store(guard, t);
            return Ok(self.parties - 1);
        }
        // Queue with a ticket. If this is the last party but earlier decided
        // parties are still being woken, their waker opens this phase.
        let ticket = t.next;
        t.next = t.next.wrapping_add(1);
        self.store(guard, t);
        Err(ticket)
    }

    fn pass_on(&self, data: usize) {
        // The phase opened for this party, but it is gone: the next phase
        // would wait for it forever.
        if data != BROKEN_DATA {
            self.break_barrier(false);
        }
    }

    fn cancelled(&self, guard: &mut QueueGuard<'_>, ticket: usize) {
        let mut t = self.load(guard);
        let off = t.off(ticket);
        // A party of an opened phase (not woken yet) or of the filling phase
        // gave up: break. A party that was broken already changes nothing.
        let lost = off < t.off(t.open_end) || off >= t.off(t.settle_end);
        if lost && guard.user() & B_BROKEN == 0 {
            t.settle_filling(Self::settled_queued(guard, &t));
            guard.set_user(guard.user() | B_BROKEN);
        }
        self.store(guard, t);
    }

    fn after_cancelled(&self, _: usize) {
        self.help();
    }
}

impl std::fmt::Debug for RawBarrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let user = self.queue.user(Ordering::Relaxed);
        f.debug_struct("Barrier")
            .field("parties", &self.parties)
            .field("waiting", &self.waiting())
            .field("broken", &(user & B_BROKEN != 0))
            .finish()
    }
}

/// The future of [`Barrier::wait`] and [`RBarrier::wait`]; resolves to this
/// party's arrival index (`0..parties`) or a [`BrokenBarrierError`].
///
/// Dropping it while it waits breaks the barrier.
#[must_use = "futures do nothing unless polled"]
pub struct BarrierWait<'a> {
    wait: RawWait<'a, RawBarrier>,
    stage: u8,
}

impl Future for BarrierWait<'_> {
    type Output = Result<usize, BrokenBarrierError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `wait` is structurally pinned (never moved out of `self`);
        // `stage` is plain data that is not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let raw = this.wait.protocol();
        match this.stage {
            NEW => {
                this.stage = POLLED;
                if let Some(done) = raw.fast_check() {
                    this.stage = FINISHED;
                    return Poll::Ready(done);
                }
            }
            POLLED => {}
            _ => panic!("polysync: a barrier wait future was polled after it completed"),
        }
        // SAFETY: as above; `this` came from a pinned reference.
        let wait = unsafe { Pin::new_unchecked(&mut this.wait) };
        if wait.poll(cx).is_pending() {
            return Poll::Pending;
        }
        this.stage = FINISHED;
        let data = this.wait.data().expect("a completed wait is not queued");
        // The opener wakes its phase; woken parties help with big phases.
        raw.help();
        Poll::Ready(outcome(data))
    }
}

impl std::fmt::Debug for BarrierWait<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BarrierWait")
            .field("barrier", self.wait.protocol())
            .field("queued", &self.wait.is_queued())
            .finish()
    }
}

// ---------------------------------------------------------------------------
// Barrier and RBarrier
// ---------------------------------------------------------------------------

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
        /// one included); returns this party's arrival index, `0..parties`.
        /// The last arrival gets `parties - 1` and opens the phase; the
        /// barrier then fills again for the next phase.
        ///
        /// Dropping the future while it waits breaks the barrier.
        ///
        /// # Errors
        /// [`BrokenBarrierError`] if the barrier is or becomes broken first.
        ///
        /// ```
        /// use futures_lite::future::{block_on, zip};
        #[doc = concat!("let barrier = polysync::barrier::", stringify!($ty), "::new(2);")]
        /// let (a, b) = block_on(zip(barrier.wait(), barrier.wait()));
        /// assert_eq!((a, b), (Ok(0), Ok(1))); // arrival order
        /// ```
        pub fn wait(&self) -> BarrierWait<'_> {
            BarrierWait {
                wait: RawWait::new(&self.raw, 0),
                stage: NEW,
            }
        }

        /// Blocks the current execution unit until `parties` parties have
        /// arrived; returns this party's arrival index, as [`wait`](Self::wait).
        ///
        /// # Errors
        /// [`BrokenBarrierError`] if the barrier is or becomes broken first
        /// (also when a green backend cancels the waiting unit: giving up
        /// breaks it).
        ///
        /// ```
        #[doc = concat!("let barrier = polysync::barrier::", stringify!($ty), "::new(2);")]
        /// let mut indices = std::thread::scope(|s| {
        ///     let other = s.spawn(|| barrier.wait_blocking().unwrap());
        ///     vec![barrier.wait_blocking().unwrap(), other.join().unwrap()]
        /// });
        /// indices.sort();
        /// assert_eq!(indices, [0, 1]);
        /// ```
        pub fn wait_blocking(&self) -> Result<usize, BrokenBarrierError> {
            // `None`: a green backend cancelled the unit; giving up broke the barrier.
            block_on(self.wait(), None).unwrap_or(Err(BrokenBarrierError))
        }

        /// Passes without waiting if that is possible: `Ok(Some(parties - 1))`
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
        /// assert!(!barrier.broken());
        /// ```
        pub fn try_wait(&self) -> Result<Option<usize>, BrokenBarrierError> {
            self.raw.try_wait()
        }

        /// Blocks until the phase opens or `timeout` passes; returns this
        /// party's arrival index. A wait that times out breaks the barrier for
        /// every party (unless its phase opened at that very moment: then the
        /// others pass, and the next phase is broken).
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
        pub fn try_wait_for(&self, timeout: Duration) -> Result<usize, BarrierWaitError> {
            timed(block_on(self.wait(), deadline_after(timeout)))
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
        /// assert_eq!(barrier.try_wait_until(Instant::now()), Ok(0));
        /// ```
        pub fn try_wait_until(&self, deadline: Instant) -> Result<usize, BarrierWaitError> {
            timed(block_on(self.wait(), Some(deadline)))
        }

        /// Breaks the barrier: every waiting party, and every later wait, gets
        /// a [`BrokenBarrierError`]. Parties of a phase that has opened keep
        /// their index. Aborting a broken barrier is a no-op.
        ///
        /// ```
        #[doc = concat!("let barrier = polysync::barrier::", stringify!($ty), "::new(2);")]
        /// barrier.abort();
        /// assert!(barrier.broken());
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
            self.raw.parties
        }

        /// Whether the barrier is broken.
        ///
        /// ```
        #[doc = concat!("assert!(!polysync::barrier::", stringify!($ty), "::new(5).broken());")]
        /// ```
        pub fn broken(&self) -> bool {
            self.raw.broken()
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
/// pass, each with its arrival index, and the barrier fills again.
///
/// A broken barrier stays broken (see the [module docs](self)); use
/// [`RBarrier`] to be able to [`reset`](RBarrier::reset) it.
///
/// Waits: [`wait`](Barrier::wait) (async), [`wait_blocking`](Barrier::wait_blocking),
/// [`try_wait`](Barrier::try_wait), [`try_wait_for`](Barrier::try_wait_for),
/// [`try_wait_until`](Barrier::try_wait_until).
///
/// ```
/// use polysync::barrier::Barrier;
/// use std::sync::Arc;
///
/// let barrier = Arc::new(Barrier::new(2));
/// let thread = {
///     let barrier = barrier.clone();
///     std::thread::spawn(move || {
///         (0..3).map(|_| barrier.wait_blocking().unwrap()).collect::<Vec<_>>()
///     })
/// };
/// // The other party is an async task; three phases.
/// let mine = futures_lite::future::block_on(async {
///     let mut mine = Vec::new();
///     for _ in 0..3 {
///         mine.push(barrier.wait().await.unwrap());
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
/// assert!(!barrier.broken());
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
    /// assert!(!barrier.broken());
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
                    .field("broken", &self.broken())
                    .finish()
            }
        }
    )*};
}
cyclic_debug!(Barrier, RBarrier);
