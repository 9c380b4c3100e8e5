//! Queues that threads, async tasks and green threads put into and get from
//! at the same time: [`Queue`] (FIFO), [`LifoQueue`], [`PriorityQueue`]
//! (smallest first), all bounded or unbounded, and [`SimpleQueue`]
//! (unbounded, puts never wait).
//!
//! ```
//! use polysync::queue::{GetError, LifoQueue, PriorityQueue, Queue, TryGetError};
//! let q = Queue::bounded(2);
//! q.put_blocking(1).unwrap();
//! q.try_put(2).unwrap();
//! q.close();
//! assert_eq!(q.get_blocking(), Ok(1));
//! assert_eq!(q.try_get(), Ok(2));
//! assert_eq!(q.try_get(), Err(TryGetError::Closed));
//! assert_eq!(q.get_blocking(), Err(GetError)); // closed and drained
//!
//! let stack = LifoQueue::unbounded();
//! stack.try_put('a').unwrap();
//! stack.try_put('b').unwrap();
//! assert_eq!(stack.try_get(), Ok('b'));
//!
//! let jobs = PriorityQueue::bounded(8);
//! jobs.try_put((2, "later")).unwrap();
//! jobs.try_put((1, "first")).unwrap();
//! assert_eq!(jobs.try_get(), Ok((1, "first")));
//! ```
//!
//! # Errors
//!
//! Each side has two error types. The untimed forms (`put().await`,
//! `put_blocking`, `get().await`, `get_blocking`) wait as long as it takes,
//! so they fail only once the queue is closed: [`PutError`] (the item
//! inside) and [`GetError`]. The non-blocking, timed and explicit-waiter
//! forms (`try_*`, `*_with`) may also give up: [`TryPutError`] (`Full`,
//! `Closed`, `Cancelled`) and [`TryGetError`] (`Empty`, `Closed`,
//! `Cancelled`). `?` converts the first kind into the second.
//!
//! # Design
//!
//! One generic queue, [`GenericQueue<T, S>`], over a [`Storage`] that
//! decides the order ([`Fifo`], [`Lifo`], [`Priority`], or yours). One wait
//! queue (`WaitQueue`) per queue: its lock bit also guards the storage and
//! the `closed` flag (in a cell), and its FIFO of nodes holds the waiting
//! getters and putters, each kind served in its own arrival order.
//!
//! **The capacity counts what get futures hold.** An item in a get future's
//! slot (handed to it by a putter, or taken at once by a future that then
//! yields at a checkpoint) keeps its place in a bounded queue's capacity
//! until the future returns it to its caller or gives it back (dropped):
//! a put goes in only while `stored + held < capacity`. So a give-back
//! always finds room, and a bounded queue never holds more than its
//! capacity, however many getters are dropped. (Returning the item frees
//! its place with one atomic decrement, and takes the queue lock only if a
//! putter waits; unbounded queues, `try_get` and the blocking gets that
//! find an item at once hold nothing.) Hence getters wait only while the
//! storage is empty, putters only while `stored + held` is at the capacity,
//! and both kinds wait at once only when the storage is empty and every
//! place is held by a get future:
//!
//! - a put with room hands its item straight to the oldest waiting getter
//!   (written into the getter's slot, then notified; the item now holds a
//!   place), else stores it; without room it waits;
//! - a get takes the front item, and if room and a putter waits, moves that
//!   putter's item from its slot into the storage and notifies it (the
//!   putter only learns it is done); a get future returning its item frees
//!   its place the same way;
//! - a getter dropped after it was handed an item gives it back
//!   ([`Storage::restore`]: the next one out where the order allows) or hands
//!   it to the next getter, into the place it held: nothing is lost, and
//!   the capacity holds.
//!
//! Puts and gets that wait run the crate's one wait state machine
//! (`lowlevel/wait.rs`) with the queue's protocol (`protocol.rs`): each
//! waiter's entry is the core's `#[repr(C)]` entry, its node first and its
//! item slot beside it, so a notifier reaches the slot from the node pointer.
//! The node's data (a `Role`) says what kind of waiter it is while queued,
//! and how the wait ended once notified. Entries live in the futures (or the
//! blocking caller's stack): no allocation per wait.
//!
//! **A bounded FIFO queue takes no lock while nobody waits** (issue 18
//! item 2; `ring.rs`): its items live in a lock-free ring with per-slot
//! stamps, a put reserves its place in an atomic count of the places taken
//! (stored plus held) and a get frees it once its item leaves the queue.
//! The lock and the wait list serve only the slow paths: a put that finds
//! no place, a get that finds nothing, a getter's hand-off, give-backs
//! and `peek_with` (into a small locked stash that goes out before the
//! ring; a lock-free get that finds it in use takes what goes out first by
//! claim order, see `Inner::stash`), closing. A lock-free put stores its item, then looks for waiting getters
//! (a `SeqCst` fence between), and a getter counts itself, then looks at
//! the ring once more: so no getter waits beside an item; putters against
//! gets likewise (see `GenericQueue::putters`). Unbounded queues, `Lifo`,
//! `Priority` and capacities over `MAX_RING` places keep the locked
//! storage; a spinning bounded FIFO queue keeps its ring and spins on it
//! (`spin.rs`).

mod entry;
mod error;
mod futures;
mod generic;
mod protocol;
mod ring;
mod simple;
mod spin;
mod storage;
#[cfg(feature = "stream")]
mod stream;
mod tasks;

pub(crate) use entry::{Item, Role};
pub use error::{GetError, PutError, TaskDoneError, TryGetError, TryPutError};
pub use futures::{Get, Put};
pub use generic::GenericQueue;
pub use simple::{SimpleGet, SimpleQueue};
pub use storage::{Fifo, Lifo, Priority, Storage};
#[cfg(feature = "stream")]
pub use stream::QueueStream;

/// A FIFO queue, bounded or unbounded: first in, first out. See
/// [`GenericQueue`] for every method.
///
/// ```
/// let q = polysync::Queue::bounded(2);
/// q.try_put(1).unwrap();
/// q.try_put(2).unwrap();
/// assert_eq!(q.try_get(), Ok(1));
/// ```
pub type Queue<T> = GenericQueue<T, Fifo<T>>;

/// A LIFO queue (a stack), bounded or unbounded: last in, first out. See
/// [`GenericQueue`] for every method.
///
/// ```
/// let q = polysync::LifoQueue::bounded(2);
/// q.try_put(1).unwrap();
/// q.try_put(2).unwrap();
/// assert_eq!(q.try_get(), Ok(2));
/// ```
pub type LifoQueue<T> = GenericQueue<T, Lifo<T>>;

/// A priority queue, bounded or unbounded: smallest first, as in Python's
/// `queue.PriorityQueue` (wrap items in [`std::cmp::Reverse`] for largest
/// first). See [`GenericQueue`] for every method.
///
/// ```
/// let q = polysync::PriorityQueue::unbounded();
/// q.try_put(3).unwrap();
/// q.try_put(1).unwrap();
/// assert_eq!(q.try_get(), Ok(1));
/// ```
pub type PriorityQueue<T> = GenericQueue<T, Priority<T>>;
