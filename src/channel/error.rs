//! The typed errors of channel operations, one pair per side: the untimed
//! forms (`send().await`, `send_blocking`, `recv().await`, `recv_blocking`)
//! can fail only because the channel is disconnected ([`SendError`],
//! [`RecvError`]); the non-blocking, timed and explicit-waiter forms also
//! say "not now" ([`TrySendError`], [`TryRecvError`]).

use crate::queue::{GetError, PutError, TryGetError, TryPutError};

/// The channel is disconnected: the error of the untimed sends
/// ([`send`](super::Sender::send)`.await`,
/// [`send_blocking`](super::Sender::send_blocking), and a `SendSink`'s
/// with the `stream` feature), which wait for room as long as it takes
/// and so fail only that way. Every [`Receiver`](super::Receiver) is gone,
/// or the channel was [closed](super::Sender::close): the value, inside,
/// can never be received.
///
/// ```
/// use polysync::channel::{self, SendError};
/// let (tx, rx) = channel::bounded(1);
/// tx.send_blocking(1).unwrap();
/// drop(rx);
/// assert_eq!(tx.send_blocking(2), Err(SendError(2)));
/// assert_eq!(tx.send_blocking(3).unwrap_err().into_inner(), 3);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SendError<T>(pub T);

impl<T> SendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// use polysync::channel::SendError;
    /// assert_eq!(SendError(7).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }

    /// A queue's closed-only put error as a send error.
    pub(super) fn from_put(error: PutError<T>) -> Self {
        SendError(error.0)
    }
}

impl<T> std::fmt::Debug for SendError<T> {
    /// Leaves the value out, so that `T` needs no `Debug`: `SendError(..)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> std::fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("polysync: the channel is disconnected")
    }
}

impl<T> std::error::Error for SendError<T> {}

/// Why a send that may give up failed: the error of
/// [`try_send`](super::Sender::try_send),
/// [`try_send_for`](super::Sender::try_send_for),
/// [`try_send_until`](super::Sender::try_send_until) and
/// [`send_with`](super::Sender::send_with). The value comes back inside,
/// whatever the reason.
///
/// As everywhere in the crate, "not in time" reads like "not now": a timed
/// send whose time ran out returns [`Full`](TrySendError::Full).
/// [`Cancelled`](TrySendError::Cancelled) comes only from `send_with`, when
/// the waiter it was given reported cancellation (the other blocking forms
/// unwind instead).
///
/// ```
/// use polysync::channel::{self, TrySendError};
/// let (tx, rx) = channel::bounded(1);
/// tx.try_send(1).unwrap();
/// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
/// drop(rx);
/// assert_eq!(tx.try_send(3), Err(TrySendError::Disconnected(3)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrySendError<T> {
    /// The channel is full ([`try_send`](super::Sender::try_send)), or
    /// stayed full until the timeout or deadline passed
    /// ([`try_send_for`](super::Sender::try_send_for),
    /// [`try_send_until`](super::Sender::try_send_until),
    /// [`send_with`](super::Sender::send_with) with a deadline).
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

impl<T> TrySendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// use polysync::channel::TrySendError;
    /// assert_eq!(TrySendError::Full(7).into_inner(), 7);
    /// assert_eq!(TrySendError::Disconnected(8).into_inner(), 8);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(value)
            | TrySendError::Disconnected(value)
            | TrySendError::Cancelled(value) => value,
        }
    }

    /// Whether the channel is disconnected (no receiver left, or closed).
    ///
    /// ```
    /// use polysync::channel::TrySendError;
    /// assert!(TrySendError::Disconnected(()).is_disconnected());
    /// assert!(!TrySendError::Full(()).is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, TrySendError::Disconnected(_))
    }

    /// Whether the channel was (or stayed) full.
    ///
    /// ```
    /// use polysync::channel::TrySendError;
    /// assert!(TrySendError::Full(()).is_full());
    /// assert!(!TrySendError::Disconnected(()).is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// A queue's put error as a send error.
    pub(super) fn from_put(error: TryPutError<T>) -> Self {
        match error {
            TryPutError::Full(value) => TrySendError::Full(value),
            TryPutError::Closed(value) => TrySendError::Disconnected(value),
            TryPutError::Cancelled(value) => TrySendError::Cancelled(value),
        }
    }
}

impl<T> From<SendError<T>> for TrySendError<T> {
    /// A disconnected channel: [`TrySendError::Disconnected`].
    ///
    /// ```
    /// use polysync::channel::{SendError, TrySendError};
    /// assert_eq!(TrySendError::from(SendError(1)), TrySendError::Disconnected(1));
    /// ```
    fn from(error: SendError<T>) -> Self {
        TrySendError::Disconnected(error.0)
    }
}

impl<T> std::fmt::Debug for TrySendError<T> {
    /// Leaves the value out, so that `T` needs no `Debug`: `Full(..)`,
    /// `Disconnected(..)`, `Cancelled(..)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Disconnected(_) => f.write_str("Disconnected(..)"),
            TrySendError::Cancelled(_) => f.write_str("Cancelled(..)"),
        }
    }
}

impl<T> std::fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "polysync: the channel is full",
            TrySendError::Disconnected(_) => "polysync: the channel is disconnected",
            TrySendError::Cancelled(_) => "polysync: the send was cancelled",
        })
    }
}

impl<T> std::error::Error for TrySendError<T> {}

/// The channel is disconnected and drained: the error of the untimed
/// receives ([`recv`](super::Receiver::recv)`.await`,
/// [`recv_blocking`](super::Receiver::recv_blocking), and those of a
/// [`oneshot`](mod@super::oneshot) receiver), which wait for a value as long as
/// it takes and so fail only that way. Every [`Sender`](super::Sender) is
/// gone (or the channel was [closed](super::Receiver::close)) and every
/// value sent before was received: nothing will ever arrive. A caller sees
/// it as `rx.recv_blocking().is_err()`, or ends a loop with
/// `while let Ok(value) = rx.recv().await`.
///
/// ```
/// use polysync::channel::{self, RecvError};
/// let (tx, rx) = channel::unbounded();
/// tx.send_blocking(1).unwrap();
/// drop(tx);
/// assert_eq!(rx.recv_blocking(), Ok(1)); // drained first
/// assert_eq!(rx.recv_blocking(), Err(RecvError));
/// assert!(rx.recv_blocking().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecvError;

impl RecvError {
    /// A queue's closed-only get error as a receive error.
    pub(super) fn from_get(_: GetError) -> Self {
        RecvError
    }
}

impl std::fmt::Display for RecvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("polysync: the channel is disconnected and drained")
    }
}

impl std::error::Error for RecvError {}

/// Why a receive that may give up failed: the error of
/// [`try_recv`](super::Receiver::try_recv),
/// [`try_recv_for`](super::Receiver::try_recv_for),
/// [`try_recv_until`](super::Receiver::try_recv_until) and
/// [`recv_with`](super::Receiver::recv_with) (and the same forms of a
/// [`oneshot`](mod@super::oneshot) receiver).
///
/// As everywhere in the crate, "not in time" reads like "not now": a timed
/// receive whose time ran out returns [`Empty`](TryRecvError::Empty).
/// [`Cancelled`](TryRecvError::Cancelled) comes only from `recv_with`, when
/// the waiter it was given reported cancellation (the other blocking forms
/// unwind instead).
///
/// ```
/// use polysync::channel::{self, TryRecvError};
/// let (tx, rx) = channel::unbounded::<u8>();
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TryRecvError {
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

impl TryRecvError {
    /// Whether the channel is disconnected and drained.
    ///
    /// ```
    /// use polysync::channel::TryRecvError;
    /// assert!(TryRecvError::Disconnected.is_disconnected());
    /// assert!(!TryRecvError::Empty.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, TryRecvError::Disconnected)
    }

    /// Whether the channel was (or stayed) empty.
    ///
    /// ```
    /// use polysync::channel::TryRecvError;
    /// assert!(TryRecvError::Empty.is_empty());
    /// assert!(!TryRecvError::Disconnected.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        matches!(self, TryRecvError::Empty)
    }

    /// A queue's get error as a receive error.
    pub(super) fn from_get(error: TryGetError) -> Self {
        match error {
            TryGetError::Empty => TryRecvError::Empty,
            TryGetError::Closed => TryRecvError::Disconnected,
            TryGetError::Cancelled => TryRecvError::Cancelled,
        }
    }
}

impl From<RecvError> for TryRecvError {
    /// A disconnected and drained channel: [`TryRecvError::Disconnected`].
    ///
    /// ```
    /// use polysync::channel::{RecvError, TryRecvError};
    /// assert_eq!(TryRecvError::from(RecvError), TryRecvError::Disconnected);
    /// ```
    fn from(_: RecvError) -> Self {
        TryRecvError::Disconnected
    }
}

impl std::fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TryRecvError::Empty => "polysync: the channel is empty",
            TryRecvError::Disconnected => "polysync: the channel is disconnected and drained",
            TryRecvError::Cancelled => "polysync: the receive was cancelled",
        })
    }
}

impl std::error::Error for TryRecvError {}
