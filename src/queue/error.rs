//! The typed errors of queue operations.

/// Why a put failed; the item comes back inside, whatever the reason.
///
/// ```
/// use polysync::queue::{PutError, Queue};
/// let q = Queue::bounded(1);
/// q.try_put(1).unwrap();
/// assert_eq!(q.try_put(2), Err(PutError::Full(2)));
/// q.close();
/// assert_eq!(q.try_put(3), Err(PutError::Closed(3)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum PutError<T> {
    /// The queue stayed full (a non-blocking put, or the timeout passed).
    Full(T),
    /// The queue is closed.
    Closed(T),
    /// The waiter given to [`put_with`](super::GenericQueue::put_with)
    /// reported that its execution unit is being cancelled
    /// ([`WaitResult::Cancelled`](crate::lowlevel::WaitResult::Cancelled)):
    /// the put was withdrawn before the item went in.
    Cancelled(T),
}

impl<T> PutError<T> {
    /// The item that was not put.
    ///
    /// ```
    /// use polysync::queue::PutError;
    /// assert_eq!(PutError::Full(7).into_inner(), 7);
    /// assert_eq!(PutError::Cancelled(8).into_inner(), 8);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            PutError::Full(item) | PutError::Closed(item) | PutError::Cancelled(item) => item,
        }
    }

    /// Whether the queue was closed.
    ///
    /// ```
    /// use polysync::queue::PutError;
    /// assert!(PutError::Closed(()).is_closed());
    /// assert!(!PutError::Full(()).is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, PutError::Closed(_))
    }
}

impl<T> std::fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PutError::Full(_) => f.write_str("Full(..)"),
            PutError::Closed(_) => f.write_str("Closed(..)"),
            PutError::Cancelled(_) => f.write_str("Cancelled(..)"),
        }
    }
}

impl<T> std::fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PutError::Full(_) => f.write_str("polysync: the queue is full"),
            PutError::Closed(_) => f.write_str("polysync: the queue is closed"),
            PutError::Cancelled(_) => f.write_str("polysync: the put was cancelled"),
        }
    }
}

impl<T> std::error::Error for PutError<T> {}

/// Why a get failed.
///
/// ```
/// use polysync::queue::{GetError, Queue};
/// let q = Queue::<u8>::unbounded();
/// assert_eq!(q.try_get(), Err(GetError::Empty));
/// q.close();
/// assert_eq!(q.try_get(), Err(GetError::Closed));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GetError {
    /// The queue stayed empty (a non-blocking get, or the timeout passed).
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

impl std::fmt::Display for GetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GetError::Empty => f.write_str("polysync: the queue is empty"),
            GetError::Closed => f.write_str("polysync: the queue is closed and drained"),
            GetError::Cancelled => f.write_str("polysync: the get was cancelled"),
        }
    }
}

impl std::error::Error for GetError {}

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
