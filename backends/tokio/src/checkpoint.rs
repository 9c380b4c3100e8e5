//! polysync's checkpoints on tokio: tokio's cooperative budget.

use polysync::lowlevel::checkpoint::CheckpointPolicy;
use std::task::{Context, Poll};

/// The [`CheckpointPolicy`] that [`install()`](crate::install) registers:
/// inside a tokio task, an async polysync wait spends one unit of the
/// task's coop budget before its first attempt
/// ([`tokio::task::coop::poll_proceed`]) and yields only once the budget is
/// used up, as tokio's own primitives do. A task that acquires uncontended
/// polysync primitives in a loop therefore cannot starve the other tasks of
/// its runtime, while a task that acquires a few pays nothing visible.
///
/// On by default; `POLYSYNC_TOKIO_CHECKPOINTS=0` (or
/// `POLYSYNC_CHECKPOINTS=0`) turns it off for the process, and
/// [`polysync::lowlevel::checkpoint::scoped`] for one task. A future that is
/// not a task (the one given to `Runtime::block_on`) is not claimed: there
/// the executor-independent rules apply (off unless turned on).
///
/// ```
/// use polysync::lowlevel::checkpoint::CheckpointPolicy;
/// use polysync_tokio::TokioCheckpoints;
///
/// assert_eq!(TokioCheckpoints.name(), "tokio");
/// assert!(!TokioCheckpoints.claims()); // not inside a tokio task
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// rt.block_on(async {
///     let claimed = tokio::spawn(async { TokioCheckpoints.claims() }).await.unwrap();
///     assert!(claimed);
/// });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioCheckpoints;

impl CheckpointPolicy for TokioCheckpoints {
    fn name(&self) -> &'static str {
        "tokio"
    }

    /// Inside a tokio task (a thread-local read).
    fn claims(&self) -> bool {
        tokio::task::try_id().is_some()
    }

    fn on_by_default(&self) -> bool {
        true
    }

    fn poll_checkpoint(&self, cx: &mut Context<'_>) -> Poll<()> {
        // Asked before the wait attempts (so that it never yields holding
        // what it took): the unit is spent for good, also when the wait
        // then has to queue (its `Pending` there is a yield of its own, and
        // the rule that a wait yields at most once holds either way).
        tokio::task::coop::poll_proceed(cx).map(|progress| progress.made_progress())
    }
}
