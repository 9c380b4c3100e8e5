//! The errors of [`broadcast`](super): [`SendError`], [`RecvError`] and
//! [`TryRecvError`], named and shaped as tokio's, plus the one variant the
//! explicit-waiter form needs ([`TryRecvError::Cancelled`]).

use std::fmt;

/// A [`send`](super::Sender::send) found no receiver: the value comes back.
///
/// ```
/// let (tx, rx) = polysync::broadcast::channel(4);
/// drop(rx);
/// assert_eq!(tx.send(7).unwrap_err().0, 7);
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);

impl<T> SendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// assert_eq!(polysync::broadcast::SendError(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendError").finish_non_exhaustive()
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a broadcast channel with no receiver")
    }
}

impl<T> std::error::Error for SendError<T> {}

/// Why an async or blocking [`recv`](super::Receiver::recv) returned no
/// value.
///
/// ```
/// use polysync::broadcast::{self, RecvError};
/// let (tx, mut rx) = broadcast::channel(1);
/// tx.send(1).unwrap();
/// tx.send(2).unwrap();
/// assert_eq!(rx.recv_blocking(), Err(RecvError::Lagged(1)));
/// assert_eq!(rx.recv_blocking(), Ok(2));
/// drop(tx);
/// assert_eq!(rx.recv_blocking(), Err(RecvError::Closed));
/// ```
#[derive(Debug, PartialEq, Eq, Clone, Copy, Hash)]
pub enum RecvError {
    /// Every sender is gone and this receiver has received every message
    /// still kept for it: nothing will ever arrive.
    Closed,
    /// The receiver fell behind: this many messages were overwritten before
    /// it read them. Its next receive returns the oldest message kept.
    Lagged(u64),
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Closed => f.write_str("broadcast channel closed"),
            RecvError::Lagged(n) => write!(f, "broadcast receiver lagged by {n} messages"),
        }
    }
}

impl std::error::Error for RecvError {}

/// Why a receive that may give up ([`try_recv`](super::Receiver::try_recv),
/// the timed forms, [`recv_with`](super::Receiver::recv_with)) returned no
/// value. As everywhere in the crate, a timed receive whose time ran out
/// says [`Empty`](TryRecvError::Empty).
///
/// ```
/// use polysync::broadcast::{self, TryRecvError};
/// let (tx, mut rx) = broadcast::channel::<u8>(2);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
/// ```
#[derive(Debug, PartialEq, Eq, Clone, Copy, Hash)]
pub enum TryRecvError {
    /// No message yet (or none before the timeout or deadline).
    Empty,
    /// Every sender is gone and this receiver has received every message
    /// still kept for it.
    Closed,
    /// The receiver fell behind by this many messages (see
    /// [`RecvError::Lagged`]).
    Lagged(u64),
    /// The waiter given to [`recv_with`](super::Receiver::recv_with)
    /// reported that its execution unit is being cancelled; nothing was
    /// taken. Not in tokio: no other form returns it.
    Cancelled,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("broadcast channel empty"),
            TryRecvError::Closed => f.write_str("broadcast channel closed"),
            TryRecvError::Lagged(n) => write!(f, "broadcast receiver lagged by {n} messages"),
            TryRecvError::Cancelled => f.write_str("broadcast receive cancelled"),
        }
    }
}

impl std::error::Error for TryRecvError {}

impl From<RecvError> for TryRecvError {
    /// The same reason in the wider type.
    ///
    /// ```
    /// use polysync::broadcast::{RecvError, TryRecvError};
    /// assert_eq!(TryRecvError::from(RecvError::Lagged(2)), TryRecvError::Lagged(2));
    /// ```
    fn from(e: RecvError) -> Self {
        match e {
            RecvError::Closed => TryRecvError::Closed,
            RecvError::Lagged(n) => TryRecvError::Lagged(n),
        }
    }
}
