//! [`Latch`]: a single-use barrier.

use super::error::{blocking_party, broken};
use super::{
    Arrive, BarrierWaitError, BrokenBarrierError, Party, PartyOutcome, arrive_with, outcome,
};
use crate::lowlevel::queue::{Batch, QueueGuard, WaitQueue, wake_in_batches};
use crate::lowlevel::sync::{Ordering, const_fn};
use crate::lowlevel::wait::Protocol;
use crate::lowlevel::{Waiter, deadline_after};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

// The user bits of a latch's queue word. Each goes from 0 to 1 once, under
// the queue lock, and never back:
//
// | PASSED | BROKEN | the latch            | a new arrival   | queued nodes are handed     |
// |--------|--------|----------------------|-----------------|-----------------------------|
// | 0      | 0      | filling              | queues; the last one sets PASSED and drains | (they wait) |
// | 1      | 0      | passed               | passes at once  | `PASSED` (by `drain`)       |
// | 0      | 1      | broken               | fails at once   | `Broken` (by `drain`)       |
// | 1      | 1      | passed, then aborted | fails at once   | `PASSED`: they arrived before the abort |
//
// PASSED is set by the arrival that completes the latch (`arrive_locked`);
// BROKEN by `abort`, or by a party that withdraws while PASSED is clear
// (`Protocol::cancelled`). A queued node carries no tag (`()`) while it
// waits; `drain` hands it its outcome (a `PartyOutcome`).
const L_PASSED: u64 = 1;
const L_BROKEN: u64 = 2;

/// The outcome a node is handed when its latch passed (a latch has no
/// arrival indices).
const PASSED: PartyOutcome = PartyOutcome::Passed(0);

/// A single-use barrier: once `parties` waiters have arrived, all of them
/// pass, and every later wait returns at once.
///
/// [`abort`](Latch::abort) breaks it: waiters that have not passed get a
/// [`BrokenBarrierError`], and so do all later waits, even after the latch
/// passed. A timed wait that gives up, a wait whose unit is cancelled, or an
/// async wait dropped before the latch passed, breaks it too (see the
/// [module docs](super)).
///
/// Waits come in five forms: [`wait`](Latch::wait) (async),
/// [`wait_blocking`](Latch::wait_blocking), [`try_wait`](Latch::try_wait),
/// [`try_wait_for`](Latch::try_wait_for), [`try_wait_until`](Latch::try_wait_until);
/// [`wait_with`](Latch::wait_with) takes an explicit waiter.
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
    /// User bits: `L_PASSED`, `L_BROKEN` (see the table above).
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
    /// included). The party arrives at the first poll.
    ///
    /// # Errors
    /// [`BrokenBarrierError`] if the latch is or becomes broken first.
    ///
    /// # Cancel safety
    /// Dropping the future before its first poll changes nothing: the party
    /// never arrived. Dropping it after, before the latch passed, withdraws
    /// the party and **breaks the latch** (the others would wait for it
    /// forever): they get a [`BrokenBarrierError`]. Once the latch passed,
    /// dropping the future changes nothing.
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
            arrive: Arrive::new(self),
        }
    }

    /// Blocks the current execution unit until `parties` waiters have arrived.
    ///
    /// # Errors
    /// [`BrokenBarrierError`] if the latch is or becomes broken first.
    ///
    /// # Cancellation
    /// If the unit's waiter reports cancellation, the party gives up (which
    /// breaks the latch, unless it passed) and the unit unwinds through
    /// [`Waiter::cancelled`]. The same holds for `try_wait_for` and
    /// `try_wait_until`.
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
        blocking_party(|w| self.wait_with(w, None)).map_err(broken)
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
            self.arrive_locked(&mut guard, (), &())
        } else {
            Err(())
        };
        drop(guard);
        match arrival {
            Ok(data) => {
                self.help();
                outcome(self, data).map(|()| true)
            }
            Err(_) => Ok(false),
        }
    }

    /// Blocks until the latch passes or `timeout` passes. A wait that times
    /// out breaks the latch (unless it passed at that very moment: then the
    /// wait succeeds).
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
    /// assert!(latch.is_broken());
    /// ```
    pub fn try_wait_for(&self, timeout: Duration) -> Result<(), BarrierWaitError> {
        blocking_party(|w| self.wait_with(w, deadline_after(timeout)))
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
        blocking_party(|w| self.wait_with(w, Some(deadline)))
    }

    /// Blocks on `waiter` until the latch passes, `deadline` passes or the
    /// waiter reports cancellation: the entry point that every blocking form
    /// runs with the current unit's waiter. Library code that knows its
    /// waiter calls it directly.
    ///
    /// A party that gives up (time-out or cancellation) breaks the latch,
    /// unless the latch passed at that very moment: then the wait succeeds.
    ///
    /// # Errors
    /// [`BarrierWaitError::Broken`] if the latch is or becomes broken first;
    /// [`BarrierWaitError::TimedOut`] or [`BarrierWaitError::Cancelled`] if
    /// this wait gave up (and so broke the latch).
    ///
    /// ```
    /// use polysync::barrier::{BarrierWaitError, Latch};
    /// use polysync::lowlevel::ThreadWaiter;
    /// use std::time::Instant;
    ///
    /// let latch = Latch::new(2);
    /// std::thread::scope(|s| {
    ///     s.spawn(|| ThreadWaiter::with_current(|w| latch.wait_with(w, None)).unwrap());
    ///     ThreadWaiter::with_current(|w| latch.wait_with(w, None)).unwrap();
    /// });
    ///
    /// let lonely = Latch::new(2);
    /// ThreadWaiter::with_current(|w| {
    ///     let now = Some(Instant::now());
    ///     assert_eq!(lonely.wait_with(w, now), Err(BarrierWaitError::TimedOut));
    /// });
    /// assert!(lonely.is_broken()); // giving up broke it
    /// ```
    pub fn wait_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<(), BarrierWaitError> {
        arrive_with(self, waiter, deadline)
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
    /// assert!(!latch.is_broken());
    /// latch.abort();
    /// assert!(latch.is_broken());
    /// ```
    pub fn is_broken(&self) -> bool {
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

    /// Whether one more arrival passes the latch.
    fn completes(&self, guard: &QueueGuard<'_>) -> bool {
        self.parties != 0 && guard.len() + 1 >= self.parties
    }

    /// Hands every queued node its outcome (passed wins over broken: they
    /// arrived before the abort), in batches woken outside the lock.
    fn drain(&self) {
        wake_in_batches(&self.queue, None, |guard, wakers| {
            let user = guard.user();
            if user & (L_PASSED | L_BROKEN) == 0 {
                return Batch::Last;
            }
            let outcome = if user & L_PASSED != 0 {
                PASSED
            } else {
                PartyOutcome::Broken
            };
            guard.notify_batch(wakers, outcome)
        });
    }
}

impl Party for Latch {
    type Pass = ();

    /// Broken or passed.
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

    #[inline]
    fn pass(&self, _: usize) {}

    /// Helps wake the parties of a latch that passed or broke, if any wait.
    #[inline]
    fn help(&self) {
        if self.queue.len() != 0 && self.queue.user(Ordering::Relaxed) & (L_PASSED | L_BROKEN) != 0
        {
            self.drain();
        }
    }

    /// A party that withdrew after the latch passed (before `drain` reached
    /// its node) was counted in: it passed. `cancelled` saw PASSED under the
    /// lock and did not break the latch; PASSED is never cleared, and this
    /// `Acquire` load comes after that lock section.
    fn passed_anyway(&self) -> Option<()> {
        (self.queue.user(Ordering::Acquire) & L_PASSED != 0).then_some(())
    }
}

impl Protocol for Latch {
    /// A party waits without a ticket: every queued party is alike.
    type Tag = ();
    type Outcome = PartyOutcome;
    type Slot = ();

    fn queue(&self) -> &WaitQueue {
        &self.queue
    }

    #[inline]
    fn try_fast(&self, (): (), _: &()) -> Option<PartyOutcome> {
        // `Arrive` answers the lock-free cases itself, with their outcome.
        None
    }

    fn arrive_locked(
        &self,
        guard: &mut QueueGuard<'_>,
        (): (),
        _: &(),
    ) -> Result<PartyOutcome, ()> {
        let user = guard.user();
        if user & L_BROKEN != 0 {
            Ok(PartyOutcome::Broken)
        } else if user & L_PASSED != 0 {
            Ok(PASSED)
        } else if self.completes(guard) {
            // The last arrival: the latch passes; this party drains the queue.
            guard.set_user(user | L_PASSED);
            Ok(PASSED)
        } else {
            Err(())
        }
    }

    fn pass_on(&self, _: PartyOutcome, _: &()) {
        // The latch passed (or broke) for this party already: nothing depends
        // on it observing that.
    }

    fn cancelled(&self, guard: &mut QueueGuard<'_>, (): ()) {
        // A party gave up before the latch passed: the others would wait forever.
        let user = guard.user();
        if user & L_PASSED == 0 {
            guard.set_user(user | L_BROKEN);
        }
    }

    fn after_cancelled(&self, (): (), _: &()) {
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
/// Dropping it after its first poll, before the latch passed, breaks the
/// latch (see [`Latch::wait`]).
#[must_use = "futures do nothing unless polled"]
pub struct LatchWait<'a> {
    /// Structurally pinned.
    arrive: Arrive<'a, Latch>,
}

impl Future for LatchWait<'_> {
    type Output = Result<(), BrokenBarrierError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `arrive` is structurally pinned: never moved out of `self`.
        unsafe { self.map_unchecked_mut(|this| &mut this.arrive) }.poll(cx)
    }
}

impl std::fmt::Debug for LatchWait<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatchWait")
            .field("latch", self.arrive.barrier())
            .field("queued", &self.arrive.is_queued())
            .finish()
    }
}
