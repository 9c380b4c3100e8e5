//! The typed errors of queue operations, one pair per side: the untimed
//! forms (`put().await`, `put_blocking`, `get().await`, `get_blocking`) can
//! fail only because the queue is closed ([`PutError`], [`GetError`]); the
//! non-blocking, timed and explicit-waiter forms also say "not now"
//! ([`TryPutError`], [`TryGetError`]).

/// The queue is closed: the error of the untimed puts
/// ([`put`](super::GenericQueue::put)`.await` and
/// [`put_blocking`](super::GenericQueue::put_blocking)), which wait for room
/// as long as it takes and so fail only that way. The item comes back
/// inside.
///
/// ```
/// use polysync::queue::{PutError, Queue};
/// let q = Queue::bounded(1);
/// q.put_blocking(1).unwrap();
/// q.close();
/// assert_eq!(q.put_blocking(2), Err(PutError(2)));
/// assert_eq!(q.put_blocking(3).unwrap_err().into_inner(), 3);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PutError<T>(pub T);

impl<T> PutError<T> {
    /// The item that was not put.
    ///
    /// ```
    /// use polysync::queue::PutError;
    /// assert_eq!(PutError(7).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::fmt::Debug for PutError<T> {
    /// Leaves the item out, so that `T` needs no `Debug`: `PutError(..)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PutError(..)")
    }
}

impl<T> std::fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("polysync: the queue is closed")
    }
}

impl<T> std::error::Error for PutError<T> {}

/// Why a put that may give up failed: the error of
/// [`try_put`](super::GenericQueue::try_put),
/// [`try_put_for`](super::GenericQueue::try_put_for),
/// [`try_put_until`](super::GenericQueue::try_put_until) and
/// [`put_with`](super::GenericQueue::put_with). The item comes back inside,
/// whatever the reason.
///
/// As everywhere in the crate, "not in time" reads like "not now": a timed
/// put whose time ran out returns [`Full`](TryPutError::Full).
/// [`Cancelled`](TryPutError::Cancelled) comes only from `put_with`, when
/// the waiter it was given reported cancellation (the other blocking forms
/// unwind instead).
///
/// ```
/// use polysync::queue::{Queue, TryPutError};
/// let q = Queue::bounded(1);
/// q.try_put(1).unwrap();
/// assert_eq!(q.try_put(2), Err(TryPutError::Full(2)));
/// q.close();
/// assert_eq!(q.try_put(3), Err(TryPutError::Closed(3)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum TryPutError<T> {
    /// The queue was full ([`try_put`](super::GenericQueue::try_put)), or
    /// stayed full until the timeout or deadline passed.
    Full(T),
    /// The queue is closed.
    Closed(T),
    /// The waiter given to [`put_with`](super::GenericQueue::put_with)
    /// reported that its execution unit is being cancelled
    /// ([`WaitResult::Cancelled`](crate::lowlevel::WaitResult::Cancelled)):
    /// the put was withdrawn before the item went in.
    Cancelled(T),
}

impl<T> TryPutError<T> {
    /// The item that was not put.
    ///
    /// ```
    /// use polysync::queue::TryPutError;
    /// assert_eq!(TryPutError::Full(7).into_inner(), 7);
    /// assert_eq!(TryPutError::Cancelled(8).into_inner(), 8);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TryPutError::Full(item) | TryPutError::Closed(item) | TryPutError::Cancelled(item) => {
                item
            }
        }
    }

    /// Whether the queue was closed.
    ///
    /// ```
    /// use polysync::queue::TryPutError;
    /// assert!(TryPutError::Closed(()).is_closed());
    /// assert!(!TryPutError::Full(()).is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, TryPutError::Closed(_))
    }

    /// Whether the queue was (or stayed) full.
    ///
    /// ```
    /// use polysync::queue::TryPutError;
    /// assert!(TryPutError::Full(()).is_full());
    /// assert!(!TryPutError::Closed(()).is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TryPutError::Full(_))
    }
}

impl<T> From<PutError<T>> for TryPutError<T> {
    /// A closed queue: [`TryPutError::Closed`].
    ///
    /// ```
    /// use polysync::queue::{PutError, TryPutError};
    /// assert_eq!(TryPutError::from(PutError(1)), TryPutError::Closed(1));
    /// ```
    fn from(error: PutError<T>) -> Self {
        TryPutError::Closed(error.0)
    }
}

impl<T> std::fmt::Debug for TryPutError<T> {
    /// Leaves the item out, so that `T` needs no `Debug`: `Full(..)`,
    /// `Closed(..)`, `Cancelled(..)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TryPutError::Full(_) => f.write_str("Full(..)"),
            TryPutError::Closed(_) => f.write_str("Closed(..)"),
            TryPutError::Cancelled(_) => f.write_str("Cancelled(..)"),
        }
    }
}

impl<T> std::fmt::Display for TryPutError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TryPutError::Full(_) => f.write_str("polysync: the queue is full"),
            TryPutError::Closed(_) => f.write_str("polysync: the queue is closed"),
            TryPutError::Cancelled(_) => f.write_str("polysync: the put was cancelled"),
        }
    }
}

impl<T> std::error::Error for TryPutError<T> {}

/// The queue is closed and drained: the error of the untimed gets
/// ([`get`](super::GenericQueue::get)`.await` and
/// [`get_blocking`](super::GenericQueue::get_blocking)), which wait for an
/// item as long as it takes and so fail only that way.
///
/// ```
/// use polysync::queue::{GetError, Queue};
/// let q = Queue::unbounded();
/// q.try_put(1).unwrap();
/// q.close();
/// assert_eq!(q.get_blocking(), Ok(1)); // drained first
/// assert_eq!(q.get_blocking(), Err(GetError));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GetError;

impl std::fmt::Display for GetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("polysync: the queue is closed and drained")
    }
}

impl std::error::Error for GetError {}

/// Why a get that may give up failed: the error of
/// [`try_get`](super::GenericQueue::try_get),
/// [`try_get_for`](super::GenericQueue::try_get_for),
/// [`try_get_until`](super::GenericQueue::try_get_until) and
/// [`get_with`](super::GenericQueue::get_with).
///
/// As everywhere in the crate, "not in time" reads like "not now": a timed
/// get whose time ran out returns [`Empty`](TryGetError::Empty).
/// [`Cancelled`](TryGetError::Cancelled) comes only from `get_with`, when
/// the waiter it was given reported cancellation (the other blocking forms
/// unwind instead).
///
/// ```
/// use polysync::queue::{Queue, TryGetError};
/// let q = Queue::<u8>::unbounded();
/// assert_eq!(q.try_get(), Err(TryGetError::Empty));
/// q.close();
/// assert_eq!(q.try_get(), Err(TryGetError::Closed));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TryGetError {
    /// The queue was empty ([`try_get`](super::GenericQueue::try_get)), or
    /// stayed empty until the timeout or deadline passed.
    Empty,
    /// The queue is closed and drained.
    Closed,
    /// The waiter given to [`get_with`](super::GenericQueue::get_with)
    /// reported that its execution unit is being cancelled
    /// ([`WaitResult::Cancelled`](crate::lowlevel::WaitResult::Cancelled)):
    /// the get was withdrawn with nothing handed to it (an item that
    /// arrived first is returned instead).
    Cancelled,
}

impl From<GetError> for TryGetError {
    /// A closed and drained queue: [`TryGetError::Closed`].
    ///
    /// ```
    /// use polysync::queue::{GetError, TryGetError};
    /// assert_eq!(TryGetError::from(GetError), TryGetError::Closed);
    /// ```
    fn from(_: GetError) -> Self {
        TryGetError::Closed
    }
}

impl std::fmt::Display for TryGetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TryGetError::Empty => f.write_str("polysync: the queue is empty"),
            TryGetError::Closed => f.write_str("polysync: the queue is closed and drained"),
            TryGetError::Cancelled => f.write_str("polysync: the get was cancelled"),
        }
    }
}

impl std::error::Error for TryGetError {}

/// [`task_done`](super::GenericQueue::task_done) was called more times than
/// items were put.
///
/// ```
/// let q = polysync::Queue::<u8>::unbounded();
/// let err: polysync::queue::TaskDoneError = q.task_done().unwrap_err();
/// assert!(err.to_string().contains("more times"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaskDoneError;

impl std::fmt::Display for TaskDoneError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("polysync: task_done() called more times than items were put")
    }
}

impl std::error::Error for TaskDoneError {}
