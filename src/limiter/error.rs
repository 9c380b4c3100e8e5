//! The typed errors of the limiters.

/// Why a borrow failed. Nothing is borrowed then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BorrowError {
    /// The current unit already holds a token of this (non-reentrant)
    /// [`CapacityLimiter`](super::CapacityLimiter).
    AlreadyBorrowing,
    /// No token was free (`try_acquire`) or none came before the timeout.
    Unavailable,
    /// An async acquire found no task identity; see
    /// [`NoTaskIdentity`](crate::lowlevel::NoTaskIdentity).
    NoTaskIdentity,
    /// The waiter given to [`CapacityLimiter::acquire_with`](super::CapacityLimiter::acquire_with) reported
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
