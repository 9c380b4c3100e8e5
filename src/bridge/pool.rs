//! The thread pool under the bridge: plain OS threads that start on demand,
//! take queued jobs in FIFO order, and exit after an idle timeout.
//!
//! The pool is a monitor on std's `Mutex` and `Condvar` (loom's in the
//! models, through the crate's shim `lowlevel::sync`): one lock guards
//! the job queue and the thread counts, held only for a few field updates
//! (never around user code), and idle threads wait on the condvar with a
//! deadline. It has no state machine of its own (no atomics, no unsafe), so
//! its correctness leans on std's; the rules it adds are the three below,
//! each applied under the lock.
//!
//! Why not polysync's own `Mutex` and `Condition`: a submit is made by the
//! caller, which may be an async task, and a polysync lock that is
//! contended (a pool thread holds it for a moment) makes the caller *wait
//! in its world*: on a tokio current-thread runtime that is a blocking wait
//! polysync-tokio refuses with a panic (the bridge's matrix cells found
//! this). A std lock held for a few instructions only spins or parks the
//! OS thread briefly, as any allocator lock does. Pool threads are plain OS
//! threads, so the condvar is their native wait.
//!
//! The rules:
//!
//! - **Grow:** a submit that leaves more queued jobs than idle threads
//!   (waiting, or `spare`: back from a job, about to look at the queue)
//!   starts a thread, unless `max_threads` run already (then the job waits
//!   for a thread to come back).
//! - **Hand-off:** a submit notifies one idle thread. Any thread that wakes
//!   (notified, timed out or spuriously) looks at the queue before anything
//!   else, so a notification that races an idle timeout is never lost: the
//!   thread that timed out takes the job.
//! - **Retire:** a thread whose idle wait timed out exits only if the queue
//!   is empty; on shutdown, threads drain the queue, then exit.

use crate::lowlevel::sync::{Condvar, Mutex, MutexGuard, thread, wait_timeout};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// A job as the pool sees it: run once, on a pool thread. The job is the
/// only allocation of a hand-off (the queue's buffer grows only when more
/// jobs are queued at once than ever before).
pub(crate) trait Runnable: Send + Sync {
    /// Runs the job (or skips it, if its caller gave up before it started)
    /// and stores its result; its caller does not see it yet. `this` is
    /// the job itself, as the pool holds it (for [`is_cancelled`](super::is_cancelled)).
    fn run(&self, this: &Arc<dyn Runnable>);

    /// Whether the job's caller gave up.
    fn caller_gave_up(&self) -> bool;

    /// Tells the caller that the job finished. The pool calls it once the
    /// thread counts itself available again (`spare`), so a caller that
    /// submits its next job at once finds this thread instead of starting
    /// another.
    fn complete(&self);
}

/// What the lock guards.
struct State {
    /// Jobs waiting for a thread, oldest first.
    jobs: VecDeque<Arc<dyn Runnable>>,
    /// Threads alive (running a job, idle, or just starting).
    threads: usize,
    /// Threads waiting on the condition for a job.
    idle: usize,
    /// Threads that finished a job and will look at the queue before they
    /// wait again (they are telling the job's caller).
    spare: usize,
    /// Set when the last [`ThreadPool`] handle is dropped: threads drain the
    /// queue, then exit instead of waiting.
    shutdown: bool,
}

/// Shared by the handles and the threads.
struct Inner {
    state: Mutex<State>,
    /// Idle threads wait here; a submit notifies one, a shutdown all.
    work: Condvar,
    max_threads: usize,
    idle_timeout: Duration,
    name: String,
}

/// A pool of OS threads for blocking jobs: it grows on demand up to a hard
/// cap, reuses idle threads, and lets a thread exit once it has been idle
/// for the idle timeout, so after a burst the thread count returns to zero.
/// Jobs are taken in FIFO order.
///
/// The bridge's forms ([`to_thread`](super::to_thread) and
/// [`Offload`](super::Offload)) bound how many jobs *run* with a
/// [`CapacityLimiter`](crate::CapacityLimiter); the pool's cap is only a
/// backstop (jobs past it queue for a thread). Cloning gives another handle
/// to the same pool; when the last handle is dropped, the threads finish
/// the queued jobs and exit (the [default pool](ThreadPool::global) lives
/// as long as the program).
///
/// ```
/// use polysync::bridge::{Offload, ThreadPool};
/// use std::time::Duration;
///
/// let pool = ThreadPool::builder()
///     .max_threads(8)
///     .idle_timeout(Duration::from_secs(1))
///     .name("file-io")
///     .build();
/// let offload = Offload::default().with_pool(pool.clone());
/// assert_eq!(offload.run_blocking(|| 6 * 7).unwrap(), 42);
/// assert!(pool.threads() <= 8);
/// ```
#[derive(Clone)]
pub struct ThreadPool {
    inner: Arc<Handle>,
}

/// The handles' share: its drop (the last handle's) shuts the pool down.
struct Handle(Arc<Inner>);

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.lock().shutdown = true;
        self.0.work.notify_all();
    }
}

/// Configures a [`ThreadPool`] ([`ThreadPool::builder`]).
#[derive(Debug, Clone)]
pub struct ThreadPoolBuilder {
    max_threads: usize,
    idle_timeout: Duration,
    name: String,
}

impl ThreadPoolBuilder {
    /// The hard cap on threads (default 512, tokio's `max_blocking_threads`).
    ///
    /// # Panics
    /// If `max` is 0.
    ///
    /// ```
    /// let pool = polysync::bridge::ThreadPool::builder().max_threads(2).build();
    /// assert_eq!(pool.max_threads(), 2);
    /// ```
    #[track_caller]
    pub fn max_threads(mut self, max: usize) -> Self {
        assert!(max > 0, "polysync: a thread pool needs at least one thread");
        self.max_threads = max;
        self
    }

    /// How long a thread waits for a job before it exits (default 10 s, as
    /// tokio's `thread_keep_alive`).
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = polysync::bridge::ThreadPool::builder()
    ///     .idle_timeout(Duration::from_millis(100))
    ///     .build();
    /// assert_eq!(pool.idle_timeout(), Duration::from_millis(100));
    /// ```
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// The name of the pool's threads (default `polysync-bridge`).
    ///
    /// ```
    /// let pool = polysync::bridge::ThreadPool::builder().name("files").build();
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The pool. No thread starts before the first job.
    ///
    /// ```
    /// let pool = polysync::bridge::ThreadPool::builder().build();
    /// assert_eq!(pool.threads(), 0);
    /// ```
    pub fn build(self) -> ThreadPool {
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                threads: 0,
                idle: 0,
                spare: 0,
                shutdown: false,
            }),
            work: Condvar::new(),
            max_threads: self.max_threads,
            idle_timeout: self.idle_timeout,
            name: self.name,
        });
        ThreadPool {
            inner: Arc::new(Handle(inner)),
        }
    }
}

impl Default for ThreadPoolBuilder {
    fn default() -> Self {
        Self {
            max_threads: 512,
            idle_timeout: Duration::from_secs(10),
            name: "polysync-bridge".into(),
        }
    }
}

impl ThreadPool {
    /// A builder with the defaults: at most 512 threads, 10 s idle timeout.
    ///
    /// ```
    /// let pool = polysync::bridge::ThreadPool::builder().build();
    /// assert_eq!(pool.max_threads(), 512);
    /// ```
    pub fn builder() -> ThreadPoolBuilder {
        ThreadPoolBuilder::default()
    }

    /// The process-wide pool that [`to_thread`](super::to_thread) and a
    /// default [`Offload`](super::Offload) use (the builder's defaults;
    /// created at first use, never shut down).
    ///
    /// ```
    /// let pool = polysync::bridge::ThreadPool::global();
    /// assert_eq!(pool.max_threads(), 512);
    /// ```
    pub fn global() -> &'static ThreadPool {
        static GLOBAL: std::sync::OnceLock<ThreadPool> = std::sync::OnceLock::new();
        GLOBAL.get_or_init(|| ThreadPool::builder().build())
    }

    /// Threads alive now (a snapshot).
    ///
    /// ```
    /// let pool = polysync::bridge::ThreadPool::builder().build();
    /// assert_eq!(pool.threads(), 0);
    /// ```
    pub fn threads(&self) -> usize {
        self.inner.0.lock().threads
    }

    /// Threads waiting for a job now (a snapshot).
    ///
    /// ```
    /// let pool = polysync::bridge::ThreadPool::builder().build();
    /// assert_eq!(pool.idle_threads(), 0);
    /// ```
    pub fn idle_threads(&self) -> usize {
        self.inner.0.lock().idle
    }

    /// Jobs waiting for a thread now (a snapshot).
    ///
    /// ```
    /// let pool = polysync::bridge::ThreadPool::builder().build();
    /// assert_eq!(pool.queued(), 0);
    /// ```
    pub fn queued(&self) -> usize {
        self.inner.0.lock().jobs.len()
    }

    /// The hard cap on threads.
    ///
    /// ```
    /// assert_eq!(polysync::bridge::ThreadPool::builder().build().max_threads(), 512);
    /// ```
    pub fn max_threads(&self) -> usize {
        self.inner.0.max_threads
    }

    /// How long a thread stays idle before it exits.
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = polysync::bridge::ThreadPool::builder().build();
    /// assert_eq!(pool.idle_timeout(), Duration::from_secs(10));
    /// ```
    pub fn idle_timeout(&self) -> Duration {
        self.inner.0.idle_timeout
    }

    /// Queues `job`, wakes an idle thread or starts one (see the module
    /// rules).
    ///
    /// # Panics
    /// If the pool has no thread and the OS refuses to start one (the job
    /// could never run).
    #[track_caller]
    pub(crate) fn submit(&self, job: Arc<dyn Runnable>) {
        let inner = &self.inner.0;
        let mut state = inner.lock();
        state.jobs.push_back(job);
        let grow = state.jobs.len() > state.idle + state.spare && state.threads < inner.max_threads;
        if grow {
            state.threads += 1;
        }
        let notify = state.idle > 0;
        drop(state);
        if notify {
            inner.work.notify_one();
        }
        if grow {
            let worker = Arc::clone(inner);
            let started = thread::Builder::new()
                .name(inner.name.clone())
                .spawn(move || worker.work());
            if let Err(error) = started {
                let mut state = inner.lock();
                state.threads -= 1;
                let stranded = state.threads == 0;
                drop(state);
                assert!(
                    !stranded,
                    "polysync: the bridge's pool could not start a thread: {error}"
                );
            }
        }
    }
}

impl Inner {
    /// Locks the state. No user code runs under this lock, so it is never
    /// poisoned in practice; a poisoned one still holds consistent counts.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A pool thread's life: take jobs while there are any, wait for one
    /// with the idle timeout, exit after a timeout with nothing queued (or
    /// on shutdown once the queue is empty).
    fn work(self: Arc<Self>) {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.jobs.pop_front() {
                drop(state);
                // A job catches its closure's panic; these catch the rest
                // (a result's `Drop`), so the thread counts stay right.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run(&job)));
                self.lock().spare += 1;
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.complete()));
                drop(job);
                state = self.lock();
                state.spare -= 1;
                continue;
            }
            if state.shutdown {
                break;
            }
            state.idle += 1;
            let (woken, timed_out) =
                wait_timeout(&self.work, &self.state, state, self.idle_timeout);
            state = woken;
            state.idle -= 1;
            if timed_out && state.jobs.is_empty() {
                break;
            }
        }
        state.threads -= 1;
    }
}

impl std::fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = &self.inner.0;
        let mut d = f.debug_struct("ThreadPool");
        d.field("name", &inner.name);
        if let Ok(state) = inner.state.try_lock() {
            d.field("threads", &state.threads)
                .field("idle", &state.idle)
                .field("queued", &state.jobs.len());
        }
        d.field("max_threads", &inner.max_threads)
            .field("idle_timeout", &inner.idle_timeout)
            .finish_non_exhaustive()
    }
}
