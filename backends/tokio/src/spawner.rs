//! [`TokioSpawner`]: the thread bridge's way back into tokio
//! ([`polysync::bridge::run_on`]).

use polysync::bridge::{BoxedTask, Spawner};
use tokio::runtime::{Handle, RuntimeFlavor};

/// Runs futures on a tokio runtime for callers outside it: a plain thread,
/// a bridge job, a may coroutine or a corosensei green thread calls
/// [`polysync::bridge::run_on`] with it and waits for the output in its own
/// way (a thread parks, a green thread suspends only itself).
///
/// Calling `run_on` on a thread that drives a tokio runtime where waiting
/// would stop that runtime's tasks (the thread of a current-thread runtime
/// or `LocalSet`; a multi-thread worker unless the [worker
/// policy](crate::WorkerPolicy) is `BlockInPlace`, the default) panics at
/// once with a message that says so, instead of deadlocking. On a
/// multi-thread worker with `BlockInPlace`, the wait goes through
/// `block_in_place` and the runtime keeps running.
///
/// ```
/// use polysync::bridge::{FromThreadError, run_on};
/// use polysync_tokio::TokioSpawner;
///
/// let rt = tokio::runtime::Runtime::new().unwrap();
/// let spawner = TokioSpawner::new(rt.handle().clone());
/// // From a plain thread (here: the test's), wait for a future on `rt`.
/// let out = run_on(&spawner, async {
///     tokio::task::yield_now().await;
///     6 * 7
/// });
/// assert_eq!(out.unwrap(), 42);
/// let err = run_on(&spawner, async { panic!("in tokio") }).unwrap_err();
/// assert!(matches!(err, FromThreadError::Panicked(_)));
/// ```
#[derive(Debug, Clone)]
pub struct TokioSpawner {
    handle: Handle,
}

impl TokioSpawner {
    /// A spawner onto the runtime of `handle`.
    ///
    /// ```
    /// let rt = tokio::runtime::Runtime::new().unwrap();
    /// let spawner = polysync_tokio::TokioSpawner::new(rt.handle().clone());
    /// ```
    pub fn new(handle: Handle) -> Self {
        Self { handle }
    }

    /// The handle it spawns on.
    ///
    /// ```
    /// let rt = tokio::runtime::Runtime::new().unwrap();
    /// let spawner = polysync_tokio::TokioSpawner::new(rt.handle().clone());
    /// let _handle = spawner.handle();
    /// ```
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Spawner for TokioSpawner {
    fn spawn(&self, task: BoxedTask) {
        drop(self.handle.spawn(task));
    }

    /// Whether a wait here would stop a tokio runtime: this thread drives
    /// one ([`drives_a_runtime`](crate::drives_a_runtime)) and it is not a
    /// multi-thread worker whose blocking calls go through
    /// `block_in_place`. (tokio cannot tell, on stable, whether it is the
    /// spawner's own runtime; blocking another runtime's scheduler thread
    /// is refused too, as polysync-tokio's policy refuses it.)
    fn drives_current_thread(&self) -> bool {
        if !crate::drives_a_runtime() {
            return false;
        }
        let in_place = Handle::try_current().is_ok_and(|h| {
            h.runtime_flavor() == RuntimeFlavor::MultiThread
                && crate::config().worker_policy() == crate::WorkerPolicy::BlockInPlace
        });
        !in_place
    }
}
