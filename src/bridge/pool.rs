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
//! - **Grow:** a submit that leaves more queued jobs than the threads
//!   that will take them without a new thread (idle ones, waiting or
//!   notified; `spare` ones, back from a job and about to look at the
//!   queue; `starting` ones, started and not yet at the queue) starts a
//!   thread, unless `max_threads` run already (then the job waits for a
//!   thread to come back).
//! - **Hand-off, one searcher at a time:** whoever changes the queue (a
//!   submit, or a thread that takes a job) notifies one idle thread only
//!   if no notified thread is on its way to the queue yet (`notified` is 0
//!   or 1) and the queued jobs outnumber the spare and starting threads.
//!   The notified thread, when it takes a job and leaves more queued than
//!   the spare and starting threads will take, passes the search on: it
//!   notifies the next idle thread *before* it runs its own job. So a
//!   burst of submits costs the submitter one notification, not one per
//!   job (a notification costs a futex call for the submitter and a trip
//!   through the kernel for the woken thread, 5 to 30 us on the reference
//!   VMs; from 32 tokio tasks, one per job was a fifth of the workers'
//!   time), and threads back from their jobs take many of the queued jobs
//!   before the chain of wake-ups reaches them (as tokio's and `blocking`'s
//!   pools, which count their searching threads). The price: a queued job
//!   waits for the wake-ups ahead of it in the chain (one per job queued
//!   before it, each a few microseconds), never behind a running job.
//!   `notified` never exceeds the idle threads (a notification goes out
//!   only while a thread is idle and none is notified, and every thread
//!   back from the wait takes one off), so the thread it counts will look.
//!   Any thread that wakes (notified, timed out or spuriously) looks at
//!   the queue before anything else, so a notification that races an idle
//!   timeout is never lost: the thread that timed out takes the job (and
//!   passes the search on).
//! - **Spin (a hint, not a rule):** a thread back from a job whose caller
//!   waits with a spinning waiter (an OS thread) stays `spare`
//!   for a few microseconds ([`SPIN_FOR`]) and polls a lock-free copy of
//!   the queue's length before it takes the lock, looks, and waits; a
//!   caller that submits its next job in that window reaches a running
//!   thread. At most one thread spins at a time, none when more of the
//!   pool's threads are busy than there are cores, and a spin whose yield
//!   gave the core to another thread ends (the machine is oversubscribed);
//!   never under loom. Correctness does not depend on it: the look under
//!   the lock is what takes the job.
//! - **Retire:** a thread whose idle wait timed out exits only if the queue
//!   is empty; on shutdown, threads drain the queue, then exit.

use crate::lowlevel::sync::{
    Condvar, MAY_SPIN, Mutex, MutexGuard, spin_loop, thread, wait_timeout, yield_now,
};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// How long a thread back from a job polls the queue before it waits on
/// the condvar (see the module's spin rule). It must outlast a thread
/// caller's turn between two jobs (taking the result, a token and the next
/// job's allocation: about a microsecond, a few when the caller's own spin
/// ran out and it parked) and stay far below a time slice; after the first
/// [`SPIN_PAUSES`] rounds the spinning thread yields its core each round.
const SPIN_FOR: Duration = Duration::from_micros(20);
/// Rounds of 8 pause instructions (about 0.4 us on the reference VM)
/// before the spinning thread starts yielding its core: a thread caller's
/// next job often comes that fast, and a yield (a system call) would delay
/// the look at it.
const SPIN_PAUSES: u32 = 2;
/// A yield of the spinning thread that returns this late gave the core
/// to another thread (a bare `sched_yield` takes well under a
/// microsecond): the cores are oversubscribed, so the spin ends there.
const YIELD_TAKEN: Duration = Duration::from_micros(4);

/// A job as the pool sees it: run once, on a pool thread. The job is the
/// only allocation of a hand-off (the queue's buffer grows only when more
/// jobs are queued at once than ever before).
pub(crate) trait Runnable: Send + Sync {
    /// Runs the job (or skips it, if its caller gave up before it started)
    /// and stores its result; its caller does not see it yet. `this` is
    /// the job itself, as the pool holds it (for [`is_cancelled`](super::is_cancelled)).
    /// Returns whether it stored a result (`false`: skipped), for
    /// [`complete`](Runnable::complete).
    fn run(&self, this: &Arc<dyn Runnable>) -> bool;

    /// Whether the job's caller gave up.
    fn caller_gave_up(&self) -> bool;

    /// Whether the job's caller waits with a waiter that spins (an OS
    /// thread's): only then does the thread that ran it spin for the
    /// caller's next job. A task's next call comes after its executor's
    /// wake-up, a futex of its own: a spin that long takes a core from
    /// the very worker that has to run the caller (measured: the round
    /// trip from a tokio task got slower on a loaded machine).
    fn caller_spins(&self) -> bool;

    /// Tells the caller that the job finished. The pool calls it once the
    /// thread counts itself available again (`spare`), so a caller that
    /// submits its next job at once finds this thread instead of starting
    /// another, or once it took the next queued job (it runs that one
    /// next).
    /// `stored` is what [`run`](Runnable::run) returned (`false` if it
    /// skipped the job or unwound): only a stored result is announced.
    fn complete(&self, stored: bool);
}

/// What the lock guards.
struct State {
    /// Jobs waiting for a thread, oldest first.
    jobs: VecDeque<Arc<dyn Runnable>>,
    /// Threads alive (running a job, idle, or just starting).
    threads: usize,
    /// Threads waiting on the condition for a job.
    idle: usize,
    /// Notifications sent and not yet taken off by a thread back from its
    /// wait (at most `idle`): threads on their way to the queue.
    notified: usize,
    /// Threads that finished a job and will look at the queue before they
    /// wait again (they are telling the job's caller).
    spare: usize,
    /// Threads started and not yet at the queue (counted in `threads`):
    /// each looks at the queue before it first waits.
    starting: usize,
    /// Set when the last [`ThreadPool`] handle is dropped: threads drain the
    /// queue, then exit instead of waiting.
    shutdown: bool,
}

impl State {
    /// The searching rule (see the module docs): whether the caller, which
    /// just changed the queue under the lock, notifies an idle thread. Only
    /// when no notified thread is on its way (that one wakes the next, if
    /// jobs are still left when it takes its own) and the queued jobs
    /// outnumber the threads that will look at the queue anyway (spare and
    /// starting ones). Counts the notification when it says yes: the caller
    /// must notify once it dropped the lock.
    fn should_wake(&mut self) -> bool {
        let wake =
            self.notified == 0 && self.idle > 0 && self.jobs.len() > self.spare + self.starting;
        if wake {
            self.notified += 1;
        }
        // A notification counted with no idle thread to take it off would
        // stay counted, and every later submit would skip its wake-up.
        debug_assert!(
            self.notified <= self.idle,
            "polysync: the bridge's pool counted a notification no idle thread will take"
        );
        wake
    }
}

/// Shared by the handles and the threads.
struct Inner {
    state: Mutex<State>,
    /// Idle threads wait here; a submit notifies one, a shutdown all.
    work: Condvar,
    max_threads: usize,
    idle_timeout: Duration,
    name: String,
    /// The spin's hints (plain `std` atomics, also under loom: no rule reads
    /// them under the lock). `queued` mirrors `State::jobs.len()` (stored
    /// under the lock at each push and pop) for a spinning thread to poll.
    queued: AtomicUsize,
    /// Whether a thread spins now (at most one does).
    spinning: AtomicBool,
    /// Busy threads past which nobody spins: the cores.
    cores: usize,
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
                notified: 0,
                spare: 0,
                starting: 0,
                shutdown: false,
            }),
            work: Condvar::new(),
            max_threads: self.max_threads,
            idle_timeout: self.idle_timeout,
            name: self.name,
            queued: AtomicUsize::new(0),
            spinning: AtomicBool::new(false),
            cores: cores(),
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
        inner.queued.store(state.jobs.len(), Relaxed);
        let grow = state.jobs.len() > state.idle + state.spare + state.starting
            && state.threads < inner.max_threads;
        if grow {
            state.threads += 1;
            state.starting += 1;
        }
        let notify = state.should_wake();
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
                state.starting -= 1;
                // The queued jobs this thread would have looked at: an
                // idle thread (if any) looks instead.
                let notify = state.should_wake();
                let stranded = state.threads == 0;
                drop(state);
                let work = &inner.work;
                if notify {
                    work.notify_one();
                }
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
        // At the queue now (the look below, under this lock).
        state.starting -= 1;
        loop {
            if let Some(first) = self.take(&mut state) {
                let may_spin = state.threads - state.idle <= self.cores;
                let (job, wake) = first;
                drop(state);
                if wake {
                    self.work.notify_one();
                }
                let mut job = job;
                loop {
                    // A job catches its closure's panic; these catch the
                    // rest (a result's `Drop`), so the thread counts stay
                    // right.
                    let stored =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run(&job)))
                            .unwrap_or(false);
                    // One lock per job while jobs queue: take the next one
                    // now, or count this thread spare, before telling the
                    // caller.
                    let mut state = self.lock();
                    let next = self.take(&mut state);
                    if next.is_none() {
                        state.spare += 1;
                    }
                    drop(state);
                    if let Some((_, true)) = next {
                        self.work.notify_one();
                    }
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        job.complete(stored)
                    }));
                    match next {
                        Some((next, _)) => job = next,
                        None => break,
                    }
                }
                let caller_spins = job.caller_spins();
                drop(job);
                if may_spin && caller_spins {
                    self.spin();
                }
                // Still spare until here: the look at the queue (the top of
                // the loop) comes under the same lock as the decrement, so a
                // submit that counted this thread and did not notify finds
                // its job taken.
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
            // Notified or not (a time-out or a spurious return may come
            // first), this thread looks now: one notification is spent.
            state.notified = state.notified.saturating_sub(1);
            if timed_out && state.jobs.is_empty() {
                break;
            }
        }
        state.threads -= 1;
    }
}

impl Inner {
    /// Takes the oldest queued job for the calling thread (which then runs
    /// it), and whether it must notify an idle thread for the jobs left
    /// (the searching rule: the thread that takes a job passes the search
    /// on, so a queued job never waits behind a running one for more than
    /// the wake-ups ahead of it).
    fn take(&self, state: &mut State) -> Option<(Arc<dyn Runnable>, bool)> {
        let job = state.jobs.pop_front()?;
        self.queued.store(state.jobs.len(), Relaxed);
        Some((job, state.should_wake()))
    }

    /// The spin of a spare thread (see the module's spin rule): polls the
    /// queue's length for up to [`SPIN_FOR`], without the lock; returns
    /// at once if another thread spins, and never spins under loom.
    fn spin(&self) {
        if !MAY_SPIN || self.spinning.swap(true, Relaxed) {
            return;
        }
        let start = Instant::now();
        let mut round = 0u32;
        while self.queued.load(Relaxed) == 0 {
            if round < SPIN_PAUSES {
                for _ in 0..8 {
                    spin_loop();
                }
            } else {
                let before = Instant::now();
                if before.duration_since(start) >= SPIN_FOR {
                    break;
                }
                yield_now();
                if before.elapsed() >= YIELD_TAKEN {
                    // Another thread ran on this core meanwhile: the
                    // machine has more work than cores, and the caller
                    // due to submit may be the one waiting for a core.
                    break;
                }
            }
            round += 1;
        }
        self.spinning.store(false, Relaxed);
    }
}

/// The cores this process may run on (1 if unknown), asked once.
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
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
