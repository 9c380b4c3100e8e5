//! The typed errors of the semaphores, by form: each form's error type
//! offers only what that form can produce.

/// The semaphore is closed ([`Semaphore::close`](super::Semaphore::close)):
/// the error of the untimed acquisitions (`acquire().await`,
/// `acquire_blocking()`, `acquire_many(n).await`, `acquire_many_blocking(n)`
/// and their owned forms), which can fail in no other way. It happened
/// before the call or while it waited; nothing is held then.
///
/// ```
/// use polysync::{AcquireError, Semaphore};
/// let sem = Semaphore::new(1);
/// sem.close();
/// assert_eq!(sem.acquire_blocking().unwrap_err(), AcquireError);
/// # futures_lite::future::block_on(async {
/// assert!(sem.acquire().await.is_err());
/// # });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AcquireError;

impl std::fmt::Display for AcquireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("polysync: the semaphore is closed")
    }
}

impl std::error::Error for AcquireError {}

/// Why a non-blocking, timed or explicit-waiter acquisition failed
/// (`try_acquire_many*`, `acquire_with`, `acquire_many_with` and their owned
/// forms). Nothing is held then.
///
/// ```
/// use polysync::{Semaphore, TryAcquireError};
/// let sem = Semaphore::new(1);
/// assert_eq!(sem.try_acquire_many(2).unwrap_err(), TryAcquireError::Unavailable);
/// sem.close();
/// assert_eq!(sem.try_acquire_many(1).unwrap_err(), TryAcquireError::Closed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TryAcquireError {
    /// Not enough permits were free (a non-blocking acquisition), or the
    /// time-out or deadline passed first.
    Unavailable,
    /// The semaphore was closed ([`Semaphore::close`](super::Semaphore::close)),
    /// before the call or while it waited.
    Closed,
    /// The waiter given to an `*_with` form (`acquire_with`,
    /// `acquire_many_with` and their owned forms; no other form returns
    /// it) reported that its execution unit is being cancelled
    /// ([`WaitResult::Cancelled`](crate::lowlevel::WaitResult::Cancelled));
    /// the wait was withdrawn (permits handed to it meanwhile went to the
    /// next waiters).
    Cancelled,
}

impl TryAcquireError {
    /// Whether the semaphore was closed.
    ///
    /// ```
    /// use polysync::TryAcquireError;
    /// assert!(TryAcquireError::Closed.is_closed());
    /// assert!(!TryAcquireError::Unavailable.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, TryAcquireError::Closed)
    }
}

/// The closing, as the error of the forms that can also fail otherwise.
///
/// ```
/// use polysync::{AcquireError, TryAcquireError};
/// assert_eq!(TryAcquireError::from(AcquireError), TryAcquireError::Closed);
/// ```
impl From<AcquireError> for TryAcquireError {
    fn from(_: AcquireError) -> Self {
        TryAcquireError::Closed
    }
}

impl std::fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TryAcquireError::Unavailable => "polysync: not enough permits were available",
            TryAcquireError::Closed => "polysync: the semaphore is closed",
            TryAcquireError::Cancelled => "polysync: the wait for permits was cancelled",
        })
    }
}

impl std::error::Error for TryAcquireError {}

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
