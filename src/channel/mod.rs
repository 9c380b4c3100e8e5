//! Multi-producer, multi-consumer channels whose two ends can be used from
//! OS threads, async tasks of any executor and green threads at the same
//! time: [`bounded`] and [`unbounded`] return a cloneable [`Sender`] and
//! [`Receiver`]; [`oneshot()`](fn@oneshot) carries a single value.
//!
//! ```
//! use polysync::channel::{self, TryRecvError};
//!
//! let (tx, rx) = channel::bounded(4);
//! let producer = std::thread::spawn(move || {
//!     for i in 0..10 {
//!         tx.send_blocking(i).unwrap(); // a thread blocks while the channel is full
//!     }
//!     // `tx` drops here: the last sender closes the channel.
//! });
//! let sum = futures_lite::future::block_on(async {
//!     let mut sum = 0;
//!     while let Ok(i) = rx.recv().await { // a task waits without blocking its thread
//!         sum += i;
//!     }
//!     sum
//! });
//! assert_eq!(sum, 45);
//! assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
//! producer.join().unwrap();
//! ```
//!
//! # Every operation in five forms
//!
//! | form | send | receive |
//! |---|---|---|
//! | async | `tx.send(v).await` | `rx.recv().await` |
//! | blocking | `tx.send_blocking(v)` | `rx.recv_blocking()` |
//! | non-blocking | `tx.try_send(v)` | `rx.try_recv()` |
//! | blocking with timeout | `tx.try_send_for(v, Duration)` | `rx.try_recv_for(Duration)` |
//! | blocking with deadline | `tx.try_send_until(v, Instant)` | `rx.try_recv_until(Instant)` |
//! | explicit waiter | `tx.send_with(v, &waiter, deadline)` | `rx.recv_with(&waiter, deadline)` |
//!
//! A send can also be split in two: [`Sender::reserve`] (same five forms,
//! plus `reserve_owned`) waits for a place without the value, and the
//! [`Permit`] it returns sends without waiting, so a reserve that is
//! cancelled has no value to lose (see [`Permit`]).
//!
// Linked only where the two exist: with the feature off, rustdoc would
// report the links as unresolved.
#![cfg_attr(
    feature = "stream",
    doc = "With the `stream` feature, [`Receiver::into_stream`] is a"
)]
#![cfg_attr(
    not(feature = "stream"),
    doc = "With the `stream` feature, `Receiver::into_stream` is a"
)]
#![cfg_attr(
    feature = "stream",
    doc = "`futures_core::Stream` and [`Sender::into_sink`] a `futures_sink::Sink`."
)]
#![cfg_attr(
    not(feature = "stream"),
    doc = "`futures_core::Stream` and `Sender::into_sink` a `futures_sink::Sink`."
)]
//!
//! # Errors
//!
//! A send that fails gives the value back; a receive that fails says why.
//! The untimed forms (async and blocking) wait as long as it takes, so they
//! fail only once the channel is disconnected: [`SendError`] (the value
//! inside) and [`RecvError`]. The forms that may give up (non-blocking,
//! timed, explicit waiter) also say "not now": [`TrySendError`] (`Full`,
//! `Disconnected`, `Cancelled`) and [`TryRecvError`] (`Empty`,
//! `Disconnected`, `Cancelled`); a timed form whose time ran out returns
//! `Full` or `Empty`, and only the `*_with` forms return `Cancelled`. `?`
//! converts the first kind into the second.
//!
//! | form | send fails with | receive fails with |
//! |---|---|---|
//! | async, blocking | [`SendError`] | [`RecvError`] |
//! | non-blocking, timeout, deadline | [`TrySendError`] (never `Cancelled`) | [`TryRecvError`] (never `Cancelled`) |
//! | explicit waiter | [`TrySendError`] | [`TryRecvError`] |
//!
//! # Closing
//!
//! - When the **last [`Sender`]** drops (a [`WeakSender`] does not count),
//!   the channel closes: receivers take what is left, then fail with
//!   [`RecvError`] ([`TryRecvError::Disconnected`]); blocked receivers wake.
//! - When the **last [`Receiver`]** drops, the channel closes and the values
//!   still in it are dropped (outside the channel's lock; all of them, even
//!   after one whose `Drop` panics: that panic is then re-raised from the
//!   receiver's drop): senders fail with
//!   [`SendError`] ([`TrySendError::Disconnected`]), which gives the value
//!   back; blocked senders wake with theirs.
//! - [`Sender::close`] and [`Receiver::close`] close it explicitly, with the
//!   semantics of the first case (nothing is dropped).
//!
//! # Design
//!
//! A channel is one [`Queue`] (FIFO) behind an `Arc`, plus
//! two counters of live ends: every send and receive is the queue's put and
//! get, with its direct hand-off to the oldest waiter, its cancel-safe
//! futures and its explicit-waiter forms; nothing is re-implemented here.
//! Waiting allocates nothing (the wait node lives in the future or the
//! blocked caller's stack frame); an unbounded channel's buffer grows as
//! needed, a bounded one's up to its capacity. Zero-capacity (rendezvous)
//! channels are not offered: a bounded channel holds at least one value.

// First: the macro it defines is used by `receiver` and `sender`.
#[macro_use]
mod state;
mod error;
pub mod oneshot;
mod permit;
mod receiver;
mod sender;
#[cfg(feature = "stream")]
mod stream;

pub use error::{RecvError, SendError, TryRecvError, TrySendError};
pub use permit::{OwnedPermit, Permit, ReserveFuture, ReserveOwnedFuture};
pub use receiver::{Receiver, RecvFuture, RecvManyFuture};
pub use sender::{ClosedFuture, SendFuture, SendTimeoutFuture, Sender, WeakSender};
#[cfg(feature = "stream")]
pub use stream::{RecvStream, SendSink};

use crate::lowlevel::sync::{AtomicU64, Ordering};
use crate::{Event, Queue};
use std::sync::Arc;

/// A channel's queue and the event that closing it sets, so that
/// [`Sender::closed`] can wait for the close from any world.
///
/// It derefs to the [`Queue`], whose methods the ends call as they are,
/// except [`close`](ChannelQueue::close), which this type shadows: every
/// close of the channel (an explicit one, the last sender's, the last
/// receiver's) goes through it and sets the event.
pub(crate) struct ChannelQueue<T> {
    queue: Queue<T>,
    /// Set once the queue is closed, never cleared.
    closed: Event,
}

impl<T> ChannelQueue<T> {
    fn new(queue: Queue<T>) -> Self {
        ChannelQueue {
            queue,
            closed: Event::new(),
        }
    }

    /// Closes the queue (blocked senders and receivers wake), then sets the
    /// event (waiting [`Sender::closed`] calls wake): whoever sees the event
    /// set finds the queue closed. The event is set even if a woken waker
    /// panics during the close; that panic is re-raised after.
    pub(crate) fn close(&self) {
        let closing = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.queue.close()));
        self.closed.set();
        if let Err(panic) = closing {
            std::panic::resume_unwind(panic);
        }
    }

    /// The event that [`close`](ChannelQueue::close) sets.
    pub(crate) fn closed_event(&self) -> &Event {
        &self.closed
    }
}

impl<T> std::ops::Deref for ChannelQueue<T> {
    type Target = Queue<T>;

    fn deref(&self) -> &Queue<T> {
        &self.queue
    }
}

impl<T> std::fmt::Debug for ChannelQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.queue.fmt(f)
    }
}

/// What every end of one channel shares.
pub(crate) struct Shared<T> {
    pub(crate) queue: ChannelQueue<T>,
    /// Live [`Sender`]s; the one that takes it to zero closes the queue,
    /// and a [`WeakSender`] upgrades only while it is above zero (never
    /// from zero back up).
    pub(crate) senders: AtomicU64,
    /// Live [`Receiver`]s; the one that takes it to zero closes the queue
    /// and drops what is left in it.
    pub(crate) receivers: AtomicU64,
}

impl<T> Shared<T> {
    fn new(queue: Queue<T>) -> Arc<Self> {
        Arc::new(Shared {
            queue: ChannelQueue::new(queue),
            senders: AtomicU64::new(1),
            receivers: AtomicU64::new(1),
        })
    }

    /// Closes the queue and drops the values left in it, each outside the
    /// queue lock (a value's `Drop` is user code). Once closed, no put can
    /// succeed and every waiting putter is woken with its value, so this
    /// drain ends.
    ///
    /// A value whose `Drop` (or a sender's waker) panics does not stop the
    /// drain: the rest are dropped too, then the first panic is re-raised (unless this thread
    /// is already unwinding, where a second panic would abort: then it is
    /// swallowed), as the wake batches do with a panicking waker.
    pub(crate) fn close_and_drain(&self) {
        // Closing wakes blocked senders; a waker that panics must not keep
        // the drain from running.
        let closed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.queue.close()));
        let mut first_panic = closed.err();
        while let Ok(value) = self.queue.try_get() {
            let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                drop(value);
            }));
            if let Err(panic) = dropped {
                first_panic.get_or_insert(panic);
            }
        }
        if let Some(panic) = first_panic {
            if !std::thread::panicking() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

/// A channel that holds at most `capacity` values: sends wait while it is
/// full. A value handed to a waiting receive keeps its place until the
/// receive returns it, or gives it back if it is dropped (see
/// [`Queue::bounded`]): the bound holds under any cancellation.
///
/// # Panics
/// If `capacity` is zero (rendezvous channels are not offered).
///
/// ```
/// use polysync::channel::{self, TrySendError};
/// let (tx, rx) = channel::bounded(1);
/// tx.try_send('a').unwrap();
/// assert_eq!(tx.try_send('b'), Err(TrySendError::Full('b')));
/// assert_eq!(rx.recv_blocking(), Ok('a'));
/// assert_eq!(tx.capacity(), Some(1));
/// ```
#[track_caller]
pub fn bounded<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        capacity >= 1,
        "polysync: a bounded channel needs capacity >= 1"
    );
    pair(Shared::new(Queue::bounded(capacity)))
}

/// A channel without a capacity: sends never wait.
///
/// ```
/// let (tx, rx) = polysync::channel::unbounded();
/// for i in 0..1000 {
///     tx.try_send(i).unwrap();
/// }
/// assert_eq!(rx.len(), 1000);
/// assert_eq!(rx.capacity(), None);
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    pair(Shared::new(Queue::unbounded()))
}

/// A channel for one value: see the [`oneshot`](mod@oneshot) module.
///
/// ```
/// let (tx, rx) = polysync::channel::oneshot();
/// std::thread::spawn(move || tx.send("done").unwrap());
/// assert_eq!(rx.recv_blocking(), Ok("done"));
/// ```
pub fn oneshot<T>() -> (oneshot::Sender<T>, oneshot::Receiver<T>) {
    oneshot::channel()
}

fn pair<T>(shared: Arc<Shared<T>>) -> (Sender<T>, Receiver<T>) {
    (
        Sender::from_shared(shared.clone()),
        Receiver::from_shared(shared),
    )
}

/// Takes one more end of a kind whose count is known to be above zero
/// (cloning an end that is alive).
fn count_up(count: &AtomicU64) {
    // Relaxed, as `Arc::clone`: the end being cloned keeps the count above
    // zero, and nothing is published through this increment.
    let old = count.fetch_add(1, Ordering::Relaxed);
    debug_assert!(
        old > 0,
        "polysync: cloned a channel end that was not counted"
    );
}

/// Drops one end; `true` if it was the last of its kind.
fn count_down(count: &AtomicU64) -> bool {
    // AcqRel: the last end's close happens after every other end's last
    // operation (as `Arc`'s drop).
    count.fetch_sub(1, Ordering::AcqRel) == 1
}
