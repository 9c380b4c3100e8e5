//! The state methods that both ends of a channel offer alike, defined once
//! for [`Sender`](super::Sender) and [`Receiver`](super::Receiver).

/// Defines, inside `impl<T> Sender<T>` or `impl<T> Receiver<T>` (both hold
/// `shared: Arc<Shared<T>>`), the methods that read or close the channel
/// alike from either end: `close`, `is_closed`, `len`, `is_empty`,
/// `is_full`, `capacity`, `sender_count`, `receiver_count`, `sending`,
/// `receiving`, `reserved`. `$end` and `$other` name this end and the other one in the
/// doc examples (`"tx"`, `"rx"`), so each end's examples run on that end.
macro_rules! end_state_methods {
    ($end:literal, $other:literal) => {
        /// Closes the channel for every end: later sends fail
        /// ([`SendError`](super::SendError),
        /// [`TrySendError::Disconnected`](super::TrySendError::Disconnected)),
        /// receivers take what is left and then fail
        /// ([`RecvError`](super::RecvError),
        /// [`TryRecvError::Disconnected`](super::TryRecvError::Disconnected));
        /// blocked senders and receivers wake with those errors. Nothing is
        /// dropped (dropping the last receiver drops what is left). Closing
        /// twice is harmless.
        ///
        /// ```
        /// let (tx, rx) = polysync::channel::unbounded();
        /// tx.try_send(1).unwrap();
        #[doc = concat!("", $end, ".close();")]
        /// assert!(tx.try_send(2).unwrap_err().is_disconnected());
        /// assert_eq!(rx.try_recv(), Ok(1)); // drained first
        /// assert!(rx.try_recv().unwrap_err().is_disconnected());
        /// ```
        pub fn close(&self) {
            self.shared.queue.close();
        }

        /// Whether the channel is closed: the last sender or the last
        /// receiver dropped, or [`close`](Self::close) was called. Values
        /// may still be waiting to be received.
        ///
        /// ```
        /// let (tx, rx) = polysync::channel::unbounded::<u8>();
        #[doc = concat!("assert!(!", $end, ".is_closed());")]
        #[doc = concat!("drop(", $other, "); // the last of its kind")]
        #[doc = concat!("assert!(", $end, ".is_closed());")]
        /// ```
        pub fn is_closed(&self) -> bool {
            self.shared.queue.is_closed()
        }

        /// The number of values in the channel now (a snapshot; values
        /// handed straight to a waiting receiver never show up here).
        ///
        /// ```
        /// let (tx, rx) = polysync::channel::unbounded();
        /// tx.try_send(()).unwrap();
        #[doc = concat!("assert_eq!(", $end, ".len(), 1);")]
        /// ```
        pub fn len(&self) -> usize {
            self.shared.queue.len()
        }

        /// Whether the channel holds no value now (a snapshot).
        ///
        /// ```
        /// let (tx, rx) = polysync::channel::unbounded::<u8>();
        #[doc = concat!("assert!(", $end, ".is_empty());")]
        /// ```
        pub fn is_empty(&self) -> bool {
            self.shared.queue.is_empty()
        }

        /// Whether a send would wait now (a snapshot); never for an
        /// unbounded channel.
        ///
        /// ```
        /// let (tx, rx) = polysync::channel::bounded(1);
        /// tx.try_send(0).unwrap();
        #[doc = concat!("assert!(", $end, ".is_full());")]
        /// ```
        pub fn is_full(&self) -> bool {
            self.shared.queue.is_full()
        }

        /// The capacity; `None` when unbounded.
        ///
        /// ```
        /// let (tx, rx) = polysync::channel::bounded::<u8>(3);
        #[doc = concat!("assert_eq!(", $end, ".capacity(), Some(3));")]
        /// ```
        pub fn capacity(&self) -> Option<usize> {
            self.shared.queue.capacity()
        }

        /// The number of live [`Sender`](super::Sender)s of this channel (a
        /// snapshot; weak senders do not count).
        ///
        /// ```
        /// let (tx, rx) = polysync::channel::unbounded::<u8>();
        /// let tx2 = tx.clone();
        #[doc = concat!("assert_eq!(", $end, ".sender_count(), 2);")]
        /// drop(tx2);
        #[doc = concat!("assert_eq!(", $end, ".sender_count(), 1);")]
        /// ```
        pub fn sender_count(&self) -> usize {
            self.shared
                .senders
                .load($crate::lowlevel::sync::Ordering::Relaxed) as usize
        }

        /// The number of live [`Receiver`](super::Receiver)s of this channel
        /// (a snapshot).
        ///
        /// ```
        /// let (tx, rx) = polysync::channel::unbounded::<u8>();
        /// let rx2 = rx.clone();
        #[doc = concat!("assert_eq!(", $end, ".receiver_count(), 2);")]
        /// drop(rx2);
        #[doc = concat!("assert_eq!(", $end, ".receiver_count(), 1);")]
        /// ```
        pub fn receiver_count(&self) -> usize {
            self.shared
                .receivers
                .load($crate::lowlevel::sync::Ordering::Relaxed) as usize
        }

        /// How many places send permits ([`Permit`](super::Permit),
        /// [`OwnedPermit`](super::OwnedPermit)) hold now (a snapshot). In a
        /// bounded channel they count in the capacity: `len() + reserved()`
        /// never exceeds it.
        ///
        /// ```
        /// let (tx, rx) = polysync::channel::bounded::<u8>(2);
        /// let permit = tx.try_reserve().unwrap();
        #[doc = concat!("assert_eq!(", $end, ".reserved(), 1);")]
        /// drop(permit);
        #[doc = concat!("assert_eq!(", $end, ".reserved(), 0);")]
        /// ```
        pub fn reserved(&self) -> usize {
            self.shared.queue.permits()
        }

        /// How many units wait to send now (a snapshot): blocked sends of a
        /// full channel, and reserves waiting for a place (they stand in
        /// the same line).
        ///
        /// ```
        /// use std::pin::pin;
        /// use std::task::{Context, Waker};
        ///
        /// let (tx, rx) = polysync::channel::bounded(1);
        /// tx.try_send(1).unwrap();
        #[doc = concat!("assert_eq!(", $end, ".sending(), 0);")]
        /// let mut send = pin!(tx.send(2));
        /// let mut cx = Context::from_waker(Waker::noop());
        /// assert!(send.as_mut().poll(&mut cx).is_pending()); // full: waits
        #[doc = concat!("assert_eq!(", $end, ".sending(), 1);")]
        /// ```
        pub fn sending(&self) -> usize {
            self.shared.queue.putting()
        }

        /// How many units wait to receive now (a snapshot): blocked
        /// receives of an empty channel.
        ///
        /// ```
        /// use std::pin::pin;
        /// use std::task::{Context, Waker};
        ///
        /// let (tx, rx) = polysync::channel::bounded::<u8>(1);
        #[doc = concat!("assert_eq!(", $end, ".receiving(), 0);")]
        /// let mut recv = pin!(rx.recv());
        /// let mut cx = Context::from_waker(Waker::noop());
        /// assert!(recv.as_mut().poll(&mut cx).is_pending()); // empty: waits
        #[doc = concat!("assert_eq!(", $end, ".receiving(), 1);")]
        /// ```
        pub fn receiving(&self) -> usize {
            self.shared.queue.getting()
        }
    };
}
