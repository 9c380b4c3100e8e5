//! # polysync
//!
//! Synchronization primitives that **OS threads, async tasks of any executor,
//! and green threads can wait on at the same time**, each in its own way:
//! threads park, tasks return `Pending` and are woken through their `Waker`,
//! green threads switch to their scheduler. Releasing or notifying never
//! blocks and works from anywhere.
//!
//! One [`Lock`] can be shared by a thread that calls
//! [`acquire_blocking`](Lock::acquire_blocking), a tokio task and a smol task
//! that `.await` [`acquire`](Lock::acquire), in different threads and
//! runtimes: no polling, no helper thread per wait, no leaked waiters when a
//! wait times out or its future is dropped.
//!
//! ```
//! use polysync::Lock;
//! use std::sync::Arc;
//!
//! let lock = Arc::new(Lock::new());
//! let runtime_thread = {
//!     let lock = lock.clone();
//!     std::thread::spawn(move || {
//!         let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//!         rt.block_on(async {
//!             let _guard = lock.acquire().await; // a task waits without blocking its thread
//!         });
//!     })
//! };
//! {
//!     let _guard = lock.acquire_blocking(); // a plain thread parks
//! }
//! runtime_thread.join().unwrap();
//! ```
//!
//! ## Every wait in five forms
//!
//! | form | example |
//! |---|---|
//! | async | `lock.acquire().await` |
//! | blocking | `lock.acquire_blocking()` |
//! | non-blocking | `lock.try_acquire()` |
//! | blocking with timeout | `lock.try_acquire_for(Duration)` |
//! | blocking with deadline | `lock.try_acquire_until(Instant)` |
//!
//! "Blocking" blocks the current execution unit: the OS thread, or, with a
//! green backend registered (see [`lowlevel::register_backend`]), the green
//! thread without blocking the OS thread that carries it. Async futures are
//! cancel-safe, so any runtime's timeout works on them.
//!
//! ## Semantics
//!
//! - **Fair:** FIFO across all kinds of waiters. Strict direct hand-off (a
//!   release gives the resource to the oldest waiter, and nobody barges in)
//!   everywhere except [`Lock`] and [`Mutex`], whose default is bounded
//!   fairness (a unit that is running may take a just-freed lock before the
//!   woken oldest waiter, which is handed the lock once overtaken past a
//!   documented bound: no lock convoy); their `new_fair` keeps the
//!   hand-off.
//! - **Cancellation loses nothing:** a waiter that gives up after being handed
//!   the resource passes it on.
//! - **No allocation per wait:** wait-queue nodes live in the waiting future or
//!   stack frame.
//! - **No poisoning**, like tokio and parking_lot.
//!
//! ## Primitives
//!
//! - [`Lock`] and [`Mutex<T>`]: fair mutual exclusion; [`RLock`]: reentrant,
//!   owned by an execution unit (async tasks get one with
//!   [`lowlevel::identified`]); [`RMutex<T>`]: its data-carrying form.
//! - [`CapacityLimiter`] and [`RCapacityLimiter`]: at most N borrowers at
//!   a time, one token each (reentrant for the latter); the total can change.
//! - [`Semaphore`], [`BoundedSemaphore`], [`BinarySemaphore`]: counting.
//! - [`Event`]: a one-time event; [`REvent`]: a reusable one (`clear()`);
//!   [`CountdownEvent`]: set while its count is zero.
//! - [`Latch`], [`Barrier`], [`RBarrier`]: parties meet; a timeout or a
//!   cancelled wait breaks the barrier for everyone.
//! - [`Condition`]: a condition variable for [`Lock`], [`Mutex<T>`] and
//!   [`RLock`] guards;
//!   notified waiters resume already owning the lock.
//! - [`Queue`] (FIFO), [`LifoQueue`], [`PriorityQueue`]: bounded or
//!   unbounded queues with direct hand-off to waiting getters, `close()`,
//!   `task_done()`/`join()` and `peek()`, all one
//!   [`GenericQueue`](queue::GenericQueue) over a [`Storage`](queue::Storage);
//!   [`SimpleQueue`]: unbounded, puts never wait. With the `stream` feature,
//!   `queue.stream()` is a `futures_core::Stream`.
//! - [`RwLock<T>`] and [`RawRwLock`]: readers or one writer, strict FIFO
//!   with reader batches (neither side starves).
//! - [`channel`]: `bounded`/`unbounded` channels with cloneable halves that
//!   close when the last sender (or receiver) drops, `WeakSender`, and
//!   [`channel::oneshot()`] for one value.
//! - [`broadcast`]: tokio's broadcast channel (every receiver sees every
//!   message; senders never wait, a receiver behind is told what it lost).
//! - [`Flag`]: a set-once cell; [`ResourceGuard`]: detects concurrent use
//!   (never waits).
//! - [`OnceCell<T>`]: a cell set once, by exactly one initializer, while
//!   any world waits for the value; [`Notify`]: tokio's `Notify`.
//! - [`lowlevel`]: the waiting model ([`lowlevel::Waiter`],
//!   [`lowlevel::Signal`], [`lowlevel::block_on`], the backend registry,
//!   [`lowlevel::checkpoint`]).
//!
//! ## Worlds
//!
//! Threads and async tasks of any executor need nothing more. The backend
//! crates add the rest, each with one `install()` at start-up:
//! `polysync-tokio` (task identity, a safe policy for blocking calls on
//! runtime threads, coop-budget checkpoints, `timeout`), `polysync-async-io`
//! (`timeout` on any executor), `polysync-may` (may coroutines park instead
//! of their worker) and `polysync-corosensei` (a green-thread hub).
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

pub mod barrier;
pub mod bridge;
pub mod broadcast;
pub mod channel;
pub mod condition;
pub mod countdown;
pub mod event;
pub mod flag;
pub mod guard;
pub mod limiter;
pub mod lock;
pub mod lowlevel;
pub mod mutex;
pub mod notify;
pub mod once_cell;
mod owned;
pub mod queue;
#[cfg(all(feature = "lock_api", not(polysync_loom)))]
mod raw_mutex;
#[cfg(all(feature = "lock_api", not(polysync_loom)))]
mod raw_rwlock;
pub mod revent;
pub mod rlock;
pub mod rmutex;
pub mod rwlock;
pub mod semaphore;
pub mod watch;

#[doc(no_inline)]
pub use barrier::{
    Barrier, BarrierWait, BarrierWaitError, BarrierWaitResult, BrokenBarrierError, Latch,
    LatchWait, RBarrier,
};
#[doc(no_inline)]
pub use condition::{Condition, ConditionGuard};
#[doc(no_inline)]
pub use countdown::{CountdownEvent, TooManyDowns};
#[doc(no_inline)]
pub use event::Event;
#[doc(no_inline)]
pub use flag::Flag;
#[doc(no_inline)]
pub use guard::{BusyResourceError, ResourceGuard, ResourceGuardToken};
#[doc(no_inline)]
pub use limiter::{
    BorrowError, CapacityLimiter, LimiterAcquire, LimiterReleaseError, LimiterToken,
    OwnedLimiterToken, RCapacityLimiter,
};
#[doc(no_inline)]
pub use lock::{Lock, LockGuard, OwnedLockGuard};
#[doc(no_inline)]
pub use mutex::{MappedMutexGuard, Mutex, MutexGuard, OwnedMappedMutexGuard, OwnedMutexGuard};
#[doc(no_inline)]
pub use notify::Notify;
#[doc(no_inline)]
pub use once_cell::OnceCell;
#[doc(no_inline)]
pub use queue::{
    GetError, LifoQueue, PriorityQueue, PutError, Queue, SimpleQueue, TryGetError, TryPutError,
};
#[doc(no_inline)]
pub use revent::REvent;
#[doc(no_inline)]
pub use rlock::{
    LocalRLockGuard, OwnedRLockGuard, RLock, RLockAcquire, RLockGuard, RLockReleaseError,
};
#[doc(no_inline)]
pub use rmutex::{LocalRMutexGuard, OwnedRMutexGuard, RMutex, RMutexGuard, RMutexLockFuture};
#[doc(no_inline)]
pub use rwlock::{
    MappedRwLockWriteGuard, OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RawRwLock, RwLock,
    RwLockReadGuard, RwLockUpgradableReadGuard, RwLockUpgradedGuard, RwLockWriteGuard,
};
#[doc(no_inline)]
pub use semaphore::{
    AcquireError, BinarySemaphore, BoundedSemaphore, OwnedPermit, Permit, Semaphore,
    TooManyReleases, TryAcquireError,
};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The migration guide's code blocks (`docs/from-tokio.md`), run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/from-tokio.md")]
pub struct FromTokioGuide;
