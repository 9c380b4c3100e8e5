//! The errors of a watch channel.

use crate::lowlevel::WaitError;
use std::fmt;

/// A [`Sender::send`](super::Sender::send) found no receiver: the value
/// was not stored, and comes back.
///
/// ```
/// let (tx, rx) = polysync::watch::channel(1);
/// drop(rx);
/// assert_eq!(tx.send(2).unwrap_err().0, 2);
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);

impl<T> SendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// let (tx, rx) = polysync::watch::channel("a");
    /// drop(rx);
    /// assert_eq!(tx.send("b").unwrap_err().into_inner(), "b");
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a watch channel with no receiver")
    }
}

impl<T> std::error::Error for SendError<T> {}

/// Every sender is gone (the channel is closed) and the receiver has seen
/// the last value: no change can come any more. The value can still be
/// borrowed.
///
/// ```
/// let (tx, mut rx) = polysync::watch::channel(1);
/// drop(tx);
/// assert_eq!(rx.changed_blocking(), Err(polysync::watch::RecvError));
/// assert_eq!(*rx.borrow(), 1);
/// ```
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct RecvError;

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("watch channel closed")
    }
}

impl std::error::Error for RecvError {}

/// Why [`Receiver::changed_with`](super::Receiver::changed_with) returned
/// without a change.
///
/// ```
/// use polysync::lowlevel::ThreadWaiter;
/// use polysync::watch::ChangedError;
///
/// let (tx, mut rx) = polysync::watch::channel(1);
/// ThreadWaiter::with_current(|w| {
///     let now = Some(std::time::Instant::now());
///     assert_eq!(rx.changed_with(w, now), Err(ChangedError::TimedOut));
///     drop(tx);
///     assert_eq!(rx.changed_with(w, None), Err(ChangedError::Closed));
/// });
/// ```
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum ChangedError {
    /// Every sender is gone and the last value was seen ([`RecvError`]).
    Closed,
    /// The deadline passed first.
    TimedOut,
    /// The waiter reported the unit's cancellation; the wait was withdrawn.
    Cancelled,
}

impl From<WaitError> for ChangedError {
    fn from(e: WaitError) -> Self {
        match e {
            WaitError::TimedOut => ChangedError::TimedOut,
            WaitError::Cancelled => ChangedError::Cancelled,
        }
    }
}

impl From<RecvError> for ChangedError {
    fn from(_: RecvError) -> Self {
        ChangedError::Closed
    }
}

impl fmt::Display for ChangedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChangedError::Closed => "watch channel closed",
            ChangedError::TimedOut => "timed out waiting for a change",
            ChangedError::Cancelled => "the wait for a change was cancelled",
        })
    }
}

impl std::error::Error for ChangedError {}
