//! The typed errors of channel operations.

use crate::queue::{GetError, PutError};

/// Why a send failed; the value comes back inside, whatever the reason.
///
/// ```
/// use polysync::channel::{self, SendError};
/// let (tx, rx) = channel::bounded(1);
/// tx.try_send(1).unwrap();
/// assert_eq!(tx.try_send(2), Err(SendError::Full(2)));
/// drop(rx);
/// assert_eq!(tx.try_send(3), Err(SendError::Disconnected(3)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendError<T> {
    /// The channel is full ([`try_send`](super::Sender::try_send)), or
    /// stayed full until the timeout or deadline passed
    /// ([`try_send_for`](super::Sender::try_send_for),
    /// [`try_send_until`](super::Sender::try_send_until),
    /// [`send_with`](super::Sender::send_with) with a deadline): as
    /// everywhere in the crate, "not in time" reads like "not now".
    Full(T),
    /// Every [`Receiver`](super::Receiver) is gone, or the channel was
    /// [closed](super::Sender::close): the value can never be received.
    Disconnected(T),
    /// The waiter given to [`send_with`](super::Sender::send_with) reported
    /// that its execution unit is being cancelled
    /// ([`WaitResult::Cancelled`](crate::lowlevel::WaitResult::Cancelled)):
    /// the send was withdrawn before the value went in.
    Cancelled(T),
}

impl<T> SendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// use polysync::channel::SendError;
    /// assert_eq!(SendError::Full(7).into_inner(), 7);
    /// assert_eq!(SendError::Disconnected(8).into_inner(), 8);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SendError::Full(value)
            | SendError::Disconnected(value)
            | SendError::Cancelled(value) => value,
        }
    }

    /// Whether the channel is disconnected (no receiver left, or closed).
    ///
    /// ```
    /// use polysync::channel::SendError;
    /// assert!(SendError::Disconnected(()).is_disconnected());
    /// assert!(!SendError::Full(()).is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, SendError::Disconnected(_))
    }

    /// A queue's put error as a send error.
    pub(super) fn from_put(error: PutError<T>) -> Self {
        match error {
            PutError::Full(value) => SendError::Full(value),
            PutError::Closed(value) => SendError::Disconnected(value),
            PutError::Cancelled(value) => SendError::Cancelled(value),
        }
    }
}

impl<T> std::fmt::Debug for SendError<T> {
    /// Leaves the value out, so that `T` needs no `Debug` (as for
    /// [`PutError`]): `Full(..)`, `Disconnected(..)`, ...
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Full(_) => f.write_str("Full(..)"),
            SendError::Disconnected(_) => f.write_str("Disconnected(..)"),
            SendError::Cancelled(_) => f.write_str("Cancelled(..)"),
        }
    }
}

impl<T> std::fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SendError::Full(_) => "polysync: the channel is full",
            SendError::Disconnected(_) => "polysync: the channel is disconnected",
            SendError::Cancelled(_) => "polysync: the send was cancelled",
        })
    }
}

impl<T> std::error::Error for SendError<T> {}

/// Why a receive failed.
///
/// ```
/// use polysync::channel::{self, RecvError};
/// let (tx, rx) = channel::unbounded::<u8>();
/// assert_eq!(rx.try_recv(), Err(RecvError::Empty));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(RecvError::Disconnected));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecvError {
    /// The channel is empty ([`try_recv`](super::Receiver::try_recv)), or
    /// stayed empty until the timeout or deadline passed
    /// ([`try_recv_for`](super::Receiver::try_recv_for),
    /// [`try_recv_until`](super::Receiver::try_recv_until),
    /// [`recv_with`](super::Receiver::recv_with) with a deadline).
    Empty,
    /// Every [`Sender`](super::Sender) is gone (or the channel was
    /// [closed](super::Receiver::close)) and every value sent before was
    /// received: nothing will ever arrive.
    Disconnected,
    /// The waiter given to [`recv_with`](super::Receiver::recv_with)
    /// reported that its execution unit is being cancelled
    /// ([`WaitResult::Cancelled`](crate::lowlevel::WaitResult::Cancelled)):
    /// the receive was withdrawn with nothing taken (a value that arrived
    /// first is returned instead).
    Cancelled,
}

impl RecvError {
    /// Whether the channel is disconnected and drained.
    ///
    /// ```
    /// use polysync::channel::RecvError;
    /// assert!(RecvError::Disconnected.is_disconnected());
    /// assert!(!RecvError::Empty.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, RecvError::Disconnected)
    }

    /// A queue's get error as a receive error.
    pub(super) fn from_get(error: GetError) -> Self {
        match error {
            GetError::Empty => RecvError::Empty,
            GetError::Closed => RecvError::Disconnected,
            GetError::Cancelled => RecvError::Cancelled,
        }
    }
}

impl std::fmt::Display for RecvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RecvError::Empty => "polysync: the channel is empty",
            RecvError::Disconnected => "polysync: the channel is disconnected and drained",
            RecvError::Cancelled => "polysync: the receive was cancelled",
        })
    }
}

impl std::error::Error for RecvError {}
