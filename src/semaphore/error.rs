//! The typed errors of the semaphores.

/// Why an acquisition of permits (the `*_many*` forms) failed. Nothing is
/// held then.
///
/// ```
/// use polysync::{AcquireError, Semaphore};
/// let sem = Semaphore::new(1);
/// assert_eq!(sem.try_acquire_many(2).unwrap_err(), AcquireError::Unavailable);
/// sem.close();
/// assert_eq!(sem.try_acquire_many(1).unwrap_err(), AcquireError::Closed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AcquireError {
    /// Not enough permits were free (a non-blocking acquisition, or the
    /// timeout passed first).
    Unavailable,
    /// The semaphore was closed ([`Semaphore::close`](super::Semaphore::close)),
    /// before the call or while it waited.
    Closed,
    /// The waiter given to an `acquire_many_with` form reported that its
    /// execution unit is being cancelled
    /// ([`WaitResult::Cancelled`](crate::lowlevel::WaitResult::Cancelled));
    /// the wait was withdrawn (permits handed to it meanwhile went to the
    /// next waiters).
    Cancelled,
}

impl AcquireError {
    /// Whether the semaphore was closed.
    ///
    /// ```
    /// assert!(polysync::AcquireError::Closed.is_closed());
    /// assert!(!polysync::AcquireError::Unavailable.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, AcquireError::Closed)
    }
}

impl std::fmt::Display for AcquireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AcquireError::Unavailable => "polysync: not enough permits were available",
            AcquireError::Closed => "polysync: the semaphore is closed",
            AcquireError::Cancelled => "polysync: the wait for permits was cancelled",
        })
    }
}

impl std::error::Error for AcquireError {}

/// Releasing would push a [`BoundedSemaphore`](super::BoundedSemaphore) (or
/// [`BinarySemaphore`](super::BinarySemaphore)) past its maximum.
///
/// ```
/// let sem = polysync::BoundedSemaphore::new(1, 1);
/// let err = sem.release(1).unwrap_err();
/// assert_eq!(err.max, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TooManyReleases {
    /// The semaphore's maximum.
    pub max: usize,
}

impl std::fmt::Display for TooManyReleases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "polysync: semaphore released too many times (maximum {})",
            self.max
        )
    }
}

impl std::error::Error for TooManyReleases {}
