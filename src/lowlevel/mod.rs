//! The waiting model that every primitive stands on.
//!
//! - [`Waiter`]: how the current execution unit suspends (an OS thread parks;
//!   a green backend switches to its scheduler). Async code needs none: the
//!   future registers `cx.waker()`.
//! - The wait queue (`queue.rs`): one atomic word plus an intrusive FIFO of
//!   nodes that live in the waiters' futures or stack frames. Releasers hand
//!   the resource straight to the oldest node and wake it after unlocking.
//! - The wait state machine (`wait.rs`): try, lock, re-check, enqueue; on
//!   cancellation, pass on whatever was handed over. Blocking calls drive the
//!   same future with [`block_on`].
//! - [`Signal`]: a public one-shot event, the smallest complete use of the above.
//! - The backend registry ([`register_backend`]) and unit identity ([`UnitId`],
//!   [`current_unit`]; for async tasks on any executor: [`identified`]).

mod backend;
pub mod checkpoint;
mod identity;
pub(crate) mod queue;
mod signal;
pub(crate) mod spin;
pub(crate) mod sync;
mod thread;
pub(crate) mod wait;
mod waiter;

pub use backend::{
    BackendKind, GreenBackend, NoTaskIdentity, RegistryFull, TaskIdentity, current_task,
    current_unit, register_backend, register_task_identity, registered_backends,
};
pub(crate) use backend::{green_checkpoint, with_current_waiter};
pub(crate) use identity::Owner;
pub use identity::{Identified, UnitId, identified, scheduling, switching_out};
pub use signal::{Signal, SignalError, SignalWait};
pub use thread::ThreadWaiter;
pub use waiter::{UnitCancelled, WaitError, WaitResult, Waiter, block_on, block_on_with};

/// Converts a timeout into a deadline; a timeout too large to represent
/// means "no deadline".
pub(crate) fn deadline_after(timeout: std::time::Duration) -> Option<std::time::Instant> {
    std::time::Instant::now().checked_add(timeout)
}
