//! [`watch`](self): one value, many receivers; every receiver can wait for
//! the next change, from any world.
//!
//! [`channel`] makes a [`Sender`] and a [`Receiver`] around an initial
//! value. Senders replace or modify the value ([`send`](Sender::send),
//! [`send_modify`](Sender::send_modify),
//! [`send_if_modified`](Sender::send_if_modified),
//! [`send_replace`](Sender::send_replace)); each change gets a new
//! *version*. Each receiver remembers the version it saw last, and
//! [`changed`](Receiver::changed) waits until a newer one exists. Receivers
//! see the latest value, not every value: a slow receiver skips versions,
//! and never holds a sender back. This is the shape of tokio's
//! `tokio::sync::watch`, with the same method names; what polysync adds is
//! that the waits come in every form, for every world:
//!
//! | form | receiver: a change | sender: every receiver gone |
//! |------|--------------------|-----------------------------|
//! | async | [`changed`](Receiver::changed)`.await` | [`closed`](Sender::closed)`.await` |
//! | blocking | [`changed_blocking`](Receiver::changed_blocking) | [`closed_blocking`](Sender::closed_blocking) |
//! | non-blocking | [`try_changed`](Receiver::try_changed), [`has_changed`](Receiver::has_changed) | [`is_closed`](Sender::is_closed) |
//! | timed | [`try_changed_for`](Receiver::try_changed_for) / [`_until`](Receiver::try_changed_until) | [`try_closed_for`](Sender::try_closed_for) / [`_until`](Sender::try_closed_until) |
//! | explicit waiter | [`changed_with`](Receiver::changed_with) | [`closed_with`](Sender::closed_with) |
//!
//! plus [`wait_for`](Receiver::wait_for) and
//! [`wait_for_blocking`](Receiver::wait_for_blocking), which wait until the
//! value satisfies a predicate.
//!
//! The channel closes when its last [`Sender`] drops: waiting receivers
//! wake, [`changed`](Receiver::changed) still reports a version they have
//! not seen, then fails with [`RecvError`]. The value stays readable.
//! [`Sender::closed`] waits until every receiver is gone;
//! [`Sender::subscribe`] makes a new receiver (and reopens a channel whose
//! receivers were all dropped).
//!
//! # Borrowing
//! [`borrow`](Receiver::borrow) returns a [`Ref`], which holds the value's
//! read lock (tokio's choice, kept for its signatures: no `T: Clone`, an
//! in-place [`send_modify`](Sender::send_modify), no allocation per send).
//! A send waits for the `Ref`s that are alive when it starts, so keep them
//! short (see [`Ref`]).
//!
//! ```
//! use polysync::watch;
//!
//! let (tx, mut rx) = watch::channel("starting");
//! let follower = std::thread::spawn(move || {
//!     // A thread follows the value until the channel closes.
//!     let mut seen = vec![*rx.borrow_and_update()];
//!     while rx.changed_blocking().is_ok() {
//!         seen.push(*rx.borrow_and_update());
//!     }
//!     seen
//! });
//! tx.send("running").unwrap();
//! tx.send("stopping").unwrap();
//! drop(tx); // closes the channel: the follower's last wait fails
//! let seen = follower.join().unwrap();
//! assert_eq!(seen.last(), Some(&"stopping")); // it may have skipped "running"
//! ```

mod error;
mod receiver;
mod sender;
mod value;

pub use error::{ChangedError, RecvError, SendError};
pub use receiver::{Changed, Receiver};
pub use sender::{Closed, Sender};
pub use value::Ref;

use crate::lowlevel::queue::{Batch, NodeData, QueueGuard, USER_MAX, WaitQueue, wake_in_batches};
use crate::lowlevel::sync::{AtomicU64, Ordering};
use crate::lowlevel::wait::{Protocol, admit_if};
use std::sync::Arc;
use value::ValueLock;

/// Makes a watch channel holding `init`: its first [`Sender`] and first
/// [`Receiver`]. The receiver has seen `init` (its first
/// [`changed`](Receiver::changed) waits for a send).
///
/// ```
/// let (tx, rx) = polysync::watch::channel(0);
/// assert!(!rx.has_changed().unwrap());
/// tx.send(1).unwrap();
/// assert!(rx.has_changed().unwrap());
/// ```
pub fn channel<T>(init: T) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        changes: Changes::new(),
        receivers: Receivers::new(1),
        senders: AtomicU64::new(1),
        value: ValueLock::new(init),
    });
    let rx = Receiver::new(shared.clone(), INITIAL);
    (Sender::from_shared(shared), rx)
}

/// What a channel's ends share.
pub(crate) struct Shared<T> {
    pub(crate) changes: Changes,
    pub(crate) receivers: Receivers,
    /// The number of live [`Sender`]s; the last one's drop closes the
    /// channel.
    pub(crate) senders: AtomicU64,
    pub(crate) value: ValueLock<T>,
}

/// The version a receiver starts with (the initial value's).
pub(crate) const INITIAL: u64 = 0;
/// A receiver's "seen" version after [`Receiver::mark_changed`]: no value
/// ever has it (versions stay below 2^63), so the current value counts as
/// unseen whatever it is.
pub(crate) const MARKED: u64 = u64::MAX;

// The state word of `Changes`:
//
// | bits  | meaning                                                    |
// |-------|------------------------------------------------------------|
// | 1..64 | the version of the current value (+1 per completed send)   |
// | 0     | CLOSED: the last sender is gone (set once, never cleared)  |
//
// A send bumps the version while it holds the value's write lock, so a
// reader that holds the read lock reads the version of the value it sees.
const CLOSED: u64 = 1;
const VERSION_UNIT: u64 = 2;

/// The version/close state machine of a channel and the receivers that
/// wait on it ([`Receiver::changed`] and its forms).
///
/// A wait queues with the version its receiver has seen, and completes
/// once the current version differs or the channel is closed. A send or
/// the close changes `state` first, then touches the queue word (one
/// read-modify-write while nobody is queued, else the lock and a wake-up of
/// everyone queued): a waiter decides to queue under the queue lock, after
/// reading `state`, so either it sees the change or the sender's touch
/// comes after its lock and finds it queued. (loom: tests/loom_watch.rs.)
pub(crate) struct Changes {
    state: AtomicU64,
    /// The waiting receivers; user bits unused.
    queue: WaitQueue,
}

/// A waiting receiver's node data: the version it has seen (its low bits
/// on a 32-bit target, where two versions 2^32 apart compare equal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Seen(usize);

impl Seen {
    #[inline]
    pub(crate) fn of(version: u64) -> Seen {
        Seen(version as usize)
    }
}

impl NodeData for Seen {
    #[inline]
    fn into_raw(self) -> usize {
        self.0
    }
    #[inline]
    fn from_raw(raw: usize) -> Seen {
        Seen(raw)
    }
}

impl Changes {
    fn new() -> Self {
        Changes {
            state: AtomicU64::new(INITIAL * VERSION_UNIT),
            queue: WaitQueue::new(0),
        }
    }

    /// The current version, and whether the channel is closed.
    #[inline]
    pub(crate) fn load(&self) -> (u64, bool) {
        let s = self.state.load(Ordering::Acquire);
        (s / VERSION_UNIT, s & CLOSED != 0)
    }

    /// What a receiver that has seen `*seen` learns now: `Some(Ok)` for a
    /// newer version (which it marks seen), `Some(Err)` when the channel is
    /// closed and nothing newer exists, `None` when it must wait.
    #[inline]
    pub(crate) fn check(&self, seen: &mut u64) -> Option<Result<(), RecvError>> {
        let (version, closed) = self.load();
        if version != *seen {
            *seen = version;
            Some(Ok(()))
        } else if closed {
            Some(Err(RecvError))
        } else {
            None
        }
    }

    /// Bumps the version. Called with the value's write lock held; the
    /// wake-up ([`wake_all`](Changes::wake_all)) comes after the lock.
    #[inline]
    pub(crate) fn bump(&self) {
        self.state.fetch_add(VERSION_UNIT, Ordering::Release);
    }

    /// Closes the channel (the last sender is gone) and wakes every waiter.
    pub(crate) fn close(&self) {
        self.state.fetch_or(CLOSED, Ordering::Release);
        self.wake_all();
    }

    /// Wakes every receiver queued now, after a change of `state`.
    #[inline]
    pub(crate) fn wake_all(&self) {
        // Nobody queued and the lock free: a read-modify-write of the queue
        // word is all it takes (see the type's docs for why it suffices).
        if self.queue.update_if_idle(Ordering::Release, Some).is_ok() {
            return;
        }
        self.wake_all_slow();
    }

    #[cold]
    fn wake_all_slow(&self) {
        wake_queued(&self.queue, None);
    }

    /// How many receivers wait for a change now (a snapshot).
    pub(crate) fn waiting(&self) -> usize {
        self.queue.len()
    }
}

impl Protocol for Changes {
    /// The version the receiver has seen.
    type Tag = Seen;
    /// A woken receiver is handed nothing: it reads the state again.
    type Outcome = ();
    type Slot = ();

    fn queue(&self) -> &WaitQueue {
        &self.queue
    }

    #[inline]
    fn try_fast(&self, seen: Seen, _: &()) -> Option<()> {
        let (version, closed) = self.load();
        (Seen::of(version) != seen || closed).then_some(())
    }

    fn arrive_locked(&self, _: &mut QueueGuard<'_>, seen: Seen, _: &()) -> Result<(), Seen> {
        // Read under the queue lock: a send that changed `state` after this
        // read touches the queue word after our lock, so it finds the node.
        let (version, closed) = self.load();
        if Seen::of(version) != seen || closed {
            Ok(())
        } else {
            Err(seen)
        }
    }

    fn pass_on(&self, (): (), _: &()) {
        // A change wakes every waiter: nothing to hand on.
    }
}

/// Wakes the nodes queued in `queue` at its first lock (`first`, if the
/// caller holds it), in batches: those that waited for the change just
/// made. A node that queues later read the new state under the lock and
/// waits for a newer change; if it is woken anyway (one queued before it
/// withdrew), its wait reads the state again and goes on waiting.
fn wake_queued<'q>(queue: &'q WaitQueue, first: Option<QueueGuard<'q>>) {
    let mut left: Option<usize> = None;
    wake_in_batches(queue, first, |guard, wakers| {
        let left = left.get_or_insert(guard.len());
        while *left > 0 && !wakers.is_full() {
            match guard.notify_front(()) {
                Some(waker) => wakers.push(waker),
                None => break,
            }
            *left -= 1;
        }
        Batch::more_if(*left > 0 && !guard.is_empty())
    });
}

/// The receiver count of a channel and the senders that wait for it to
/// reach zero ([`Sender::closed`] and its forms). The count lives in the
/// queue's user bits, so a count that reaches zero and the decision of a
/// waiter to queue are ordered by the queue word (as [`Event`](crate::Event)'s
/// flag is).
pub(crate) struct Receivers {
    /// User bits: the number of live receivers.
    queue: WaitQueue,
}

impl Receivers {
    fn new(count: u64) -> Self {
        Receivers {
            queue: WaitQueue::new(count),
        }
    }

    /// The number of live receivers.
    #[inline]
    pub(crate) fn count(&self) -> u64 {
        self.queue.user(Ordering::Acquire)
    }

    /// One receiver more.
    #[track_caller]
    pub(crate) fn add(&self) {
        if self
            .queue
            .update_if_idle(Ordering::Relaxed, |n| (n < USER_MAX).then_some(n + 1))
            .is_ok()
        {
            return;
        }
        let mut guard = self.queue.lock();
        let n = guard.user();
        assert!(n < USER_MAX, "polysync: more than 2^32 - 1 watch receivers");
        guard.set_user(n + 1);
    }

    /// One receiver less; the last one wakes every waiting sender.
    pub(crate) fn remove(&self) {
        if self
            .queue
            .update_if_idle(Ordering::Release, |n| Some(n - 1))
            .is_ok()
        {
            return;
        }
        let mut guard = self.queue.lock();
        let n = guard.user() - 1;
        guard.set_user(n);
        if n == 0 {
            wake_queued(&self.queue, Some(guard));
        }
    }

    /// How many senders wait for the receivers to go (a snapshot).
    pub(crate) fn waiting(&self) -> usize {
        self.queue.len()
    }
}

impl Protocol for Receivers {
    type Tag = ();
    type Outcome = ();
    type Slot = ();

    fn queue(&self) -> &WaitQueue {
        &self.queue
    }

    #[inline]
    fn try_fast(&self, (): (), _: &()) -> Option<()> {
        (self.count() == 0).then_some(())
    }

    fn arrive_locked(&self, guard: &mut QueueGuard<'_>, (): (), _: &()) -> Result<(), ()> {
        admit_if((), guard.user() == 0)
    }

    fn pass_on(&self, (): (), _: &()) {
        // The count reaching zero wakes every waiter: nothing to hand on.
    }
}
