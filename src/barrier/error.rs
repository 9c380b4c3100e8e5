//! The errors of the barrier family, and how a wait's outcome becomes one.

use crate::lowlevel::wait::blocking;
use crate::lowlevel::{WaitError, Waiter};

/// The barrier is broken: it was aborted, or a party timed out or was
/// cancelled, or (for [`RBarrier`](super::RBarrier)) it was reset while this
/// party waited.
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

/// Why a timed barrier wait (`try_wait_for`, `try_wait_until`) or a wait on
/// an explicit waiter (`wait_with`) failed. Whatever the variant, the
/// barrier is broken afterwards: a party that stops waiting breaks it for
/// all (see the [module docs](super)).
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
    /// waited: an abort, a reset, another party's time-out or cancellation.
    Broken,
    /// This wait gave up first because its deadline passed; giving up broke
    /// the barrier.
    TimedOut,
    /// This wait gave up first because its waiter reported that the waiting
    /// unit is being cancelled ([`WaitResult::Cancelled`]); giving up broke
    /// the barrier, exactly as a time-out does. Only the `wait_with` forms
    /// report it: the plain blocking forms unwind instead (see
    /// [`Waiter::cancelled`]).
    ///
    /// [`WaitResult::Cancelled`]: crate::lowlevel::WaitResult::Cancelled
    Cancelled,
}

impl BarrierWaitError {
    /// Whether this wait's own deadline passed.
    ///
    /// ```
    /// use polysync::barrier::BarrierWaitError;
    /// assert!(BarrierWaitError::TimedOut.is_timeout());
    /// assert!(!BarrierWaitError::Broken.is_timeout());
    /// assert!(!BarrierWaitError::Cancelled.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, BarrierWaitError::TimedOut)
    }

    /// Whether this wait's waiter reported cancellation.
    ///
    /// ```
    /// use polysync::barrier::BarrierWaitError;
    /// assert!(BarrierWaitError::Cancelled.is_cancelled());
    /// assert!(!BarrierWaitError::TimedOut.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self, BarrierWaitError::Cancelled)
    }

    /// The error of a party that gave up for `why`.
    pub(super) fn gave_up(why: WaitError) -> Self {
        match why {
            WaitError::TimedOut => BarrierWaitError::TimedOut,
            WaitError::Cancelled => BarrierWaitError::Cancelled,
        }
    }
}

impl std::fmt::Display for BarrierWaitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BarrierWaitError::Broken => "polysync: the barrier is broken",
            BarrierWaitError::TimedOut => {
                "polysync: the barrier wait timed out (and broke the barrier)"
            }
            BarrierWaitError::Cancelled => {
                "polysync: the barrier wait was cancelled (and broke the barrier)"
            }
        })
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

/// The body of the plain blocking forms of the barriers (`wait_blocking`,
/// `try_wait_for`, `try_wait_until`): runs `with` (a `wait_with`) on the
/// current unit's waiter through [`blocking`], so a cancelled party unwinds
/// through [`Waiter::cancelled`] after it broke the barrier, like every
/// plain blocking form of the crate.
pub(super) fn blocking_party<T>(
    with: impl FnOnce(&dyn Waiter) -> Result<T, BarrierWaitError>,
) -> Result<T, BarrierWaitError> {
    blocking(|waiter| match with(waiter) {
        Err(BarrierWaitError::TimedOut) => Err(WaitError::TimedOut),
        Err(BarrierWaitError::Cancelled) => Err(WaitError::Cancelled),
        other => Ok(other),
    })
    .unwrap_or(Err(BarrierWaitError::TimedOut))
}

/// What a wait without a deadline that did not unwind can fail with.
pub(super) fn broken(error: BarrierWaitError) -> BrokenBarrierError {
    debug_assert_eq!(error, BarrierWaitError::Broken, "no deadline, no unwind");
    BrokenBarrierError
}
