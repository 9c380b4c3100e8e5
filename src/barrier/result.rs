//! [`BarrierWaitResult`]: what a party of a cyclic barrier gets when it
//! passes.

/// What a party of a [`Barrier`](super::Barrier) or
/// [`RBarrier`](super::RBarrier) gets when its phase opens: its arrival
/// [`index`](BarrierWaitResult::index) in the phase and whether it is the
/// phase's [leader](BarrierWaitResult::is_leader).
///
/// # The leader
/// The leader of a phase is its **last arrival**, the party whose arrival
/// opens the phase (index `parties - 1`), as in `tokio::sync::Barrier` and
/// `std::sync::Barrier`. That party waits for nobody: its arrival and its
/// pass are one step (the async form completes in the poll in which it
/// arrives), so it can neither time out nor be cancelled after the phase
/// opened. Hence **exactly one party per opened phase** sees
/// `is_leader() == true`, even when other parties of the phase give up at the
/// moment it opens (they report their time-out or cancellation and break the
/// barrier for the *next* phase; see the [module docs](super)). A phase that
/// never opens (the barrier broke first: an abort, a reset, a party that gave
/// up) has no leader: all its parties get the broken error.
///
/// One exception, possible only when more units than `parties` share the
/// barrier: if a phase's last arrival comes while parties of an earlier
/// phase (or parties broken by an [`RBarrier::reset`](super::RBarrier::reset))
/// are still being woken, it queues too, and the phase opens once they are
/// woken. It still gets index `parties - 1` and leads, but if it gives up
/// (times out, is cancelled, its future is dropped) before its pass reaches
/// it, that phase passes without a leader (and the barrier breaks for the
/// next one, as for any party that gives up in an opened phase).
///
/// A barrier of one party: every wait is a phase of its own, and its party
/// is always the leader.
///
/// # Migrating from tokio
/// `tokio::sync::BarrierWaitResult::is_leader()` is
/// [`is_leader`](BarrierWaitResult::is_leader) here, with the same leader (the
/// last arrival); [`index`](BarrierWaitResult::index) adds the arrival index
/// (aiologic's return value). tokio's `Barrier::wait` cannot fail, ours
/// returns a `Result`: `barrier.wait().await.is_leader()` becomes
/// `barrier.wait().await?.is_leader()`.
///
/// ```
/// use polysync::barrier::Barrier;
///
/// let barrier = Barrier::new(3);
/// let results = std::thread::scope(|s| {
///     let others: Vec<_> = (0..2).map(|_| s.spawn(|| barrier.wait_blocking().unwrap())).collect();
///     let mut all = vec![barrier.wait_blocking().unwrap()];
///     all.extend(others.into_iter().map(|t| t.join().unwrap()));
///     all
/// });
/// // Exactly one leader: the last arrival, index 2.
/// let leaders: Vec<_> = results.iter().filter(|r| r.is_leader()).collect();
/// assert_eq!(leaders.len(), 1);
/// assert_eq!(leaders[0].index(), 2);
/// let mut indices: Vec<_> = results.iter().map(|r| r.index()).collect();
/// indices.sort();
/// assert_eq!(indices, [0, 1, 2]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BarrierWaitResult {
    index: usize,
    leader: bool,
}

impl BarrierWaitResult {
    /// The result of the party with arrival `index` in a phase of `parties`.
    #[inline]
    pub(super) fn new(index: usize, parties: usize) -> BarrierWaitResult {
        BarrierWaitResult {
            index,
            leader: index + 1 == parties,
        }
    }

    /// This party's arrival index in its phase, `0..parties`: `0` for the
    /// first arrival, `parties - 1` for the last (the leader).
    ///
    /// ```
    /// let barrier = polysync::barrier::Barrier::new(1);
    /// assert_eq!(barrier.wait_blocking().unwrap().index(), 0);
    /// ```
    #[inline]
    #[must_use]
    pub fn index(&self) -> usize {
        self.index
    }

    /// Whether this party is its phase's leader: its last arrival, the one
    /// that opened it (see [the type's docs](BarrierWaitResult#the-leader)
    /// for why exactly one party per phase is).
    ///
    /// ```
    /// use futures_lite::future::{block_on, zip};
    ///
    /// let barrier = polysync::barrier::Barrier::new(2);
    /// let (a, b) = block_on(zip(barrier.wait(), barrier.wait()));
    /// assert!(!a.unwrap().is_leader()); // the first arrival
    /// assert!(b.unwrap().is_leader()); // the last one opened the phase
    /// ```
    #[inline]
    #[must_use]
    pub fn is_leader(&self) -> bool {
        self.leader
    }
}
