//! A multi-producer, multi-consumer broadcast channel: every message goes
//! to every receiver, in the order it was sent. tokio's
//! `tokio::sync::broadcast`, with receivers in every world: OS threads,
//! tasks of any executor, may coroutines and green threads wait on one
//! channel at once.
//!
//! - **A bounded ring, allocated once.** [`channel(capacity)`](channel)
//!   allocates `capacity.next_power_of_two()` slots (as tokio) and never
//!   allocates again: not per send, not per wait.
//! - **Senders never wait** (as tokio). A send overwrites the oldest slot
//!   when the ring is full; a receiver that had not read it yet learns on
//!   its next receive that it fell behind ([`RecvError::Lagged(n)`](RecvError::Lagged): `n`
//!   messages lost) and resumes at the oldest message kept. We chose this
//!   over a send that waits for the slowest receiver because a broadcast's
//!   senders are usually the ones that must not stall (a log, a price feed,
//!   a shutdown signal): one stuck subscriber would stop every other one,
//!   and a sender that blocks could not be called from every world (a
//!   plain `send` works in an async task, a thread and a coroutine alike).
//!   Code that needs back-pressure uses [`channel`](crate::channel) per
//!   consumer.
//! - **Every receiver sees every message** sent after it subscribed
//!   ([`Sender::subscribe`], [`Receiver::resubscribe`]: both start at the
//!   next message), unless it lags.
//! - **Closing, as tokio's:** when the last [`Sender`] drops, receivers
//!   still get the messages kept for them, then [`RecvError::Closed`]. A
//!   send with no receiver gives its value back ([`SendError`]).
//! - A value is cloned once per receiver that reads it, under the slot's
//!   read lock; it is dropped when the last receiver that was owed it has
//!   read it (or dropped), or when the ring overwrites it (a value without
//!   drop glue simply stays until overwritten).
//!
//! Receives come in the crate's five forms: [`recv`](Receiver::recv)
//! (async), [`recv_blocking`](Receiver::recv_blocking),
//! [`try_recv`](Receiver::try_recv), [`try_recv_for`](Receiver::try_recv_for),
//! [`try_recv_until`](Receiver::try_recv_until), plus
//! [`recv_with`](Receiver::recv_with) on an explicit waiter.
//!
//! ```
//! use polysync::broadcast::{self, RecvError};
//!
//! let (tx, mut rx1) = broadcast::channel(16);
//! let mut rx2 = tx.subscribe();
//! let thread = std::thread::spawn(move || {
//!     let mut got = Vec::new();
//!     while let Ok(v) = rx2.recv_blocking() {
//!         got.push(v);
//!     }
//!     got
//! });
//! tx.send(1).unwrap();
//! tx.send(2).unwrap();
//! drop(tx);
//! futures_lite::future::block_on(async {
//!     assert_eq!(rx1.recv().await, Ok(1));
//!     assert_eq!(rx1.recv().await, Ok(2));
//!     assert_eq!(rx1.recv().await, Err(RecvError::Closed));
//! });
//! assert_eq!(thread.join().unwrap(), [1, 2]);
//! ```
//!
//! # From tokio
//!
//! | tokio | polysync |
//! |---|---|
//! | `broadcast::channel(n)`, `Sender::new(n)` | same |
//! | `send`, `subscribe`, `len`, `is_empty`, `receiver_count`, `same_channel` | same |
//! | `Sender::closed().await` | same; also `closed_blocking`, `try_closed_for`/`_until`, `closed_with` |
//! | `Receiver::recv().await`, `try_recv`, `resubscribe`, `len`, `is_empty`, `is_closed`, `same_channel` | same |
//! | `Receiver::blocking_recv` | [`recv_blocking`](Receiver::recv_blocking) (also in a coroutine or green thread) |
//! | (none) | `try_recv_for`, `try_recv_until`, `recv_with` |
//! | `WeakSender`, `downgrade`, `strong_count`, `weak_count` | not provided |
//!
//! Differences: [`TryRecvError`] has a `Cancelled` variant (only
//! `recv_with` returns it); `Sender<T>` and `Receiver<T>` are `Send` and
//! `Sync` when `T: Send + Sync` (receivers clone one `&T` from several
//! threads at once, so `T: Sync` is what makes that sound).

mod error;
mod receiver;
mod sender;

pub use error::{RecvError, SendError, TryRecvError};
pub use receiver::{Receiver, Recv};
pub use sender::{Closed, Sender};

use crate::lowlevel::queue::{Batch, NodeData, QueueGuard, WaitQueue, wake_in_batches};
use crate::lowlevel::sync::{AtomicU64, Mutex, MutexGuard, Ordering, RwLock};
use crate::lowlevel::wait::{Protocol, Wait as RawWait, admit_if};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A broadcast channel whose ring keeps the last
/// `capacity.next_power_of_two()` messages: a [`Sender`] and a first
/// [`Receiver`]. More receivers come from [`Sender::subscribe`] or
/// [`Receiver::resubscribe`], more senders from `clone`.
///
/// # Panics
/// If `capacity` is 0 or greater than `usize::MAX / 2` (as tokio).
///
/// ```
/// let (tx, mut rx) = polysync::broadcast::channel(3); // keeps 4
/// for i in 0..4 {
///     tx.send(i).unwrap();
/// }
/// assert_eq!(rx.len(), 4);
/// assert_eq!(rx.try_recv(), Ok(0));
/// ```
#[track_caller]
pub fn channel<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let tx = Sender::new(capacity);
    let rx = tx.subscribe();
    (tx, rx)
}

/// The closed bit of [`Progress::state`].
const CLOSED: u64 = 1;

/// One slot of the ring. Guarded by its `RwLock`: a sender writes it under
/// the write lock (while it holds [`Shared::tail`]); receivers read and
/// clone under the read lock.
struct Slot<T> {
    /// The position of the message it holds (`u64::MAX` while it never held
    /// one: no receiver's position ever equals it).
    pos: u64,
    /// How many receivers are still owed this message; the one that takes
    /// it to 0 drops the value. Decremented under the read lock.
    rem: AtomicU64,
    /// The message; `None` before the first send to this slot, and once
    /// every receiver owed it has read it.
    val: Option<T>,
}

/// What [`Shared::tail`] guards: the sender side's bookkeeping.
struct Tail {
    /// The position the next message gets.
    pos: u64,
    /// Live receivers (each message is owed to this many).
    rx_cnt: usize,
    /// Live senders; the channel closes when it reaches 0.
    tx_cnt: usize,
    /// Whether the last sender dropped.
    closed: bool,
}

/// A receiver's next position as the data of its waiting node: the low
/// bits of the position (all of them on 64-bit targets). A node waits while
/// the tail's low bits equal its own; on a 32-bit target a receiver exactly
/// `2^32` messages behind would wait for one more message before it learns
/// it lagged.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Cursor(usize);

impl Cursor {
    #[inline]
    fn of(pos: u64) -> Cursor {
        // Truncation on 32-bit targets is the documented meaning.
        Cursor(pos as usize)
    }
}

impl NodeData for Cursor {
    #[inline]
    fn into_raw(self) -> usize {
        self.0
    }

    #[inline]
    fn from_raw(raw: usize) -> Cursor {
        Cursor(raw)
    }
}

/// The receivers' side of the waiting: the published tail and the queue
/// where receivers wait for it to move.
///
/// | `state` | a receive at `next` | after a send | after the last sender drops |
/// |---|---|---|---|
/// | `tail << 1` | `next < tail`: reads; `next == tail`: waits (node data: `next`) | `tail + 1`; wakes every node whose data is not the new tail | - |
/// | `tail << 1 \| CLOSED` | `next < tail`: reads; `next == tail`: `Closed` | - | wakes every node |
///
/// `state` is written only while [`Shared::tail`] is held (so it only grows)
/// and after the slot it announces was written; it is read with `Acquire`
/// without any lock, and under the queue lock by a receiver about to queue.
/// A sender publishes with one compare-exchange on the idle queue word (or,
/// if anyone waits, under the queue lock), so a receiver that queues either
/// saw the new tail or is seen by the sender's wake-up.
pub(crate) struct Progress {
    state: AtomicU64,
    /// Receivers waiting for a message; user bits unused (0).
    queue: WaitQueue,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            state: AtomicU64::new(0),
            queue: WaitQueue::new(0),
        }
    }

    /// `(tail, closed)` as last published.
    #[inline]
    fn load(&self) -> (u64, bool) {
        let state = self.state.load(Ordering::Acquire);
        (state >> 1, state & CLOSED != 0)
    }

    /// Whether a receive at `next` completes now (a message or the close).
    #[inline]
    fn ready(&self, next: Cursor) -> bool {
        let (tail, closed) = self.load();
        closed || Cursor::of(tail) != next
    }

    /// Publishes `tail`/`closed` (only under [`Shared::tail`]) and returns
    /// whether receivers may be waiting (then call [`Progress::wake`] once
    /// the tail lock is released).
    #[inline]
    fn publish(&self, tail: u64, closed: bool) -> bool {
        self.state
            .store(tail << 1 | u64::from(closed), Ordering::Release);
        // One RMW on the queue word orders the store above before any later
        // lock of the queue: a receiver that locks after it sees the tail.
        // A queue that is locked or has waiters takes the slow path.
        self.queue.update_if_idle(Ordering::Release, Some).is_err()
    }

    /// Wakes every waiting receiver that has something to read now (all of
    /// them once closed). Receivers queue in tail order, so the first node
    /// whose data is the current tail ends the wake-up.
    #[cold]
    fn wake(&self) {
        wake_in_batches(&self.queue, None, |guard, wakers| {
            let (tail, closed) = self.load();
            while !wakers.is_full() {
                let Some(front) = guard.front() else {
                    return Batch::Last;
                };
                if !closed && front.data::<Cursor>() == Cursor::of(tail) {
                    return Batch::Last;
                }
                let waker = guard.notify_front(()).flatten();
                wakers.push(waker);
            }
            Batch::More
        });
    }
}

impl Protocol for Progress {
    /// The receiver's next position.
    type Tag = Cursor;
    /// A wake-up hands nothing over: the receiver reads the ring itself.
    type Outcome = ();
    type Slot = ();

    fn queue(&self) -> &WaitQueue {
        &self.queue
    }

    #[inline]
    fn try_fast(&self, next: Cursor, _: &()) -> Option<()> {
        self.ready(next).then_some(())
    }

    fn arrive_locked(&self, _: &mut QueueGuard<'_>, next: Cursor, _: &()) -> Result<(), Cursor> {
        if self.ready(next) { Ok(()) } else { Err(next) }
    }

    fn pass_on(&self, (): (), _: &()) {
        // Nothing was consumed: a message stays in the ring for the next
        // receive, and every waiter of its position was woken.
    }
}

/// The senders' side of [`Sender::closed`]: a queue whose user bit
/// `NO_RX` mirrors "no receiver is left" (written under [`Shared::tail`]).
///
/// | `NO_RX` | a `closed()` wait | on change |
/// |---|---|---|
/// | 0 | queues | 0 -> 1 (last receiver dropped): wakes every node |
/// | 1 | completes | 1 -> 0 (a subscribe): nothing |
pub(crate) struct NoReceivers {
    queue: WaitQueue,
}

/// The user bit of [`NoReceivers::queue`].
const NO_RX: u64 = 1;

impl NoReceivers {
    /// Whether no receiver is left.
    #[inline]
    fn is_set(&self) -> bool {
        self.queue.user(Ordering::Acquire) & NO_RX != 0
    }

    /// Records whether any receiver is left (only under [`Shared::tail`]).
    fn set(&self, none_left: bool) {
        let mut guard = self.queue.lock();
        guard.set_user(u64::from(none_left));
    }

    /// Wakes every `closed()` waiter while no receiver is left (call after
    /// releasing the tail lock: wakers are user code).
    fn wake(&self) {
        wake_in_batches(&self.queue, None, |guard, wakers| {
            if guard.user() & NO_RX == 0 {
                return Batch::Last;
            }
            guard.notify_batch(wakers, ())
        });
    }
}

impl Protocol for NoReceivers {
    type Tag = ();
    type Outcome = ();
    type Slot = ();

    fn queue(&self) -> &WaitQueue {
        &self.queue
    }

    #[inline]
    fn try_fast(&self, (): (), _: &()) -> Option<()> {
        self.is_set().then_some(())
    }

    fn arrive_locked(&self, guard: &mut QueueGuard<'_>, (): (), _: &()) -> Result<(), ()> {
        admit_if((), guard.user() & NO_RX != 0)
    }

    fn pass_on(&self, (): (), _: &()) {}
}

/// What the senders and receivers of one channel share.
pub(crate) struct Shared<T> {
    /// The ring: `mask + 1` slots (a power of two).
    ring: Box<[RwLock<Slot<T>>]>,
    mask: u64,
    /// Sender-side bookkeeping. Lock order: `tail`, then a slot's write
    /// lock or a queue lock; no user code runs under it (an overwritten
    /// value is dropped after it is released).
    tail: Mutex<Tail>,
    progress: Progress,
    no_receivers: NoReceivers,
}

/// Locks ignore poisoning: nothing panics while holding `tail` or a slot's
/// write lock (values are cloned under read locks, which do not poison, and
/// dropped outside every lock).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<T> Shared<T> {
    #[track_caller]
    fn new(capacity: usize) -> Arc<Shared<T>> {
        assert!(capacity > 0, "broadcast channel capacity cannot be zero");
        assert!(
            capacity <= usize::MAX >> 1,
            "broadcast channel capacity exceeded `usize::MAX / 2`"
        );
        let len = capacity.next_power_of_two();
        let ring = (0..len)
            .map(|_| {
                RwLock::new(Slot {
                    pos: u64::MAX,
                    rem: AtomicU64::new(0),
                    val: None,
                })
            })
            .collect();
        let no_receivers = NoReceivers {
            queue: WaitQueue::new(NO_RX),
        };
        Arc::new(Shared {
            ring,
            mask: len as u64 - 1,
            tail: Mutex::new(Tail {
                pos: 0,
                rx_cnt: 0,
                tx_cnt: 1,
                closed: false,
            }),
            progress: Progress::new(),
            no_receivers,
        })
    }

    /// The number of slots.
    #[inline]
    fn capacity(&self) -> u64 {
        self.mask + 1
    }

    fn slot(&self, pos: u64) -> &RwLock<Slot<T>> {
        &self.ring[(pos & self.mask) as usize]
    }

    fn lock_tail(&self) -> MutexGuard<'_, Tail> {
        lock(&self.tail)
    }

    /// Adds a receiver; returns its first position (the next message).
    fn subscribe(&self) -> u64 {
        let mut tail = self.lock_tail();
        tail.rx_cnt += 1;
        if tail.rx_cnt == 1 {
            self.no_receivers.set(false);
        }
        tail.pos
    }

    /// Sends `value` (see [`Sender::send`]).
    fn send(&self, value: T) -> Result<usize, SendError<T>> {
        let mut tail = self.lock_tail();
        let rx_cnt = tail.rx_cnt;
        if rx_cnt == 0 {
            return Err(SendError(value));
        }
        let pos = tail.pos;
        let old = {
            let mut slot = self
                .slot(pos)
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            slot.pos = pos;
            slot.rem.store(rx_cnt as u64, Ordering::Relaxed);
            slot.val.replace(value)
        };
        tail.pos = pos + 1;
        let waiters = self.progress.publish(tail.pos, false);
        drop(tail);
        if waiters {
            self.progress.wake();
        }
        // User code (the overwritten value's `Drop`) runs with no lock held.
        drop(old);
        Ok(rx_cnt)
    }

    /// How many messages some receiver has not read yet (see
    /// [`Sender::len`]): the kept slots from the oldest, skipping those that
    /// every receiver has read.
    fn sender_len(&self) -> usize {
        let tail = self.lock_tail();
        let cap = self.capacity();
        let start = tail.pos.saturating_sub(cap);
        (start..tail.pos)
            .position(|pos| {
                let slot = self
                    .slot(pos)
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                slot.rem.load(Ordering::Acquire) != 0
            })
            .map_or(0, |first| (tail.pos - start) as usize - first)
    }

    /// Drops the value at `pos` if it is still there and nobody is owed it
    /// (after its `rem` reached 0, with no lock held).
    fn drop_value(&self, pos: u64) {
        let value = {
            let mut slot = self
                .slot(pos)
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if slot.pos != pos || slot.rem.load(Ordering::Acquire) != 0 {
                return;
            }
            slot.val.take()
        };
        drop(value);
    }
}

/// A wait that may have to start again: the pinned, optional core wait that
/// [`Recv`] and [`Closed`] run, one after the other, until their condition
/// holds (a wake-up says "look again", not "here it is").
pub(crate) struct Rewait<'a, P: Protocol<Slot = ()>> {
    /// Structurally pinned: never moved out; replaced only through
    /// `Pin::set`, which drops the old wait in place (withdrawing it).
    wait: Option<RawWait<'a, P>>,
}

impl<'a, P: Protocol<Slot = ()>> Rewait<'a, P> {
    const fn new() -> Self {
        Rewait { wait: None }
    }

    /// Polls the current wait, starting one with `tag` if there is none:
    /// `Ready` once it completed (woken, or ready at its first poll), and
    /// then the next call starts a fresh one.
    fn poll(self: Pin<&mut Self>, proto: &'a P, tag: P::Tag, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `wait` is structurally pinned (see the field): it is only
        // reached through this pinned projection, never moved out, and
        // `Rewait` has no `Drop` or `Unpin` impl of its own.
        let mut wait = unsafe { self.map_unchecked_mut(|this| &mut this.wait) };
        if wait.is_none() {
            wait.set(Some(RawWait::new(proto, tag)));
        }
        let inner = wait.as_mut().as_pin_mut().expect("a wait was just set");
        if inner.poll(cx).is_pending() {
            return Poll::Pending;
        }
        wait.set(None);
        Poll::Ready(())
    }

    /// Whether a node of it is queued now (for `Debug`).
    fn is_queued(&self) -> bool {
        self.wait.as_ref().is_some_and(RawWait::is_queued)
    }
}

#[cfg(all(test, not(polysync_loom)))]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let c = Cursor::of(12345);
        assert_eq!(Cursor::from_raw(c.into_raw()), c);
    }

    #[test]
    fn capacity_rounds_up() {
        let shared = Shared::<u8>::new(3);
        assert_eq!(shared.capacity(), 4);
    }
}
