//! What a blocking polysync call does when it must wait on a thread that
//! runs a tokio runtime.
//!
//! Every blocking form of every polysync primitive (`*_blocking()`,
//! `try_*_for()`, `try_*_until()`) asks the core for the waiter of the
//! current execution unit. [`install()`](crate::install) registers
//! [`TokioBlocking`], a [`GreenBackend`] that claims the calls made on a
//! thread with a tokio context and gives them a waiter that applies the
//! [`Config`] **only when the call really has to sleep**: a call that
//! completes at once (a free lock, a permit in stock, an item in the queue)
//! or whose deadline has already passed never reaches it, so it costs no
//! `block_in_place` and never panics.
//!
//! See the [crate docs](crate#calling-blocking-forms-from-async-code) for
//! the table of places and policies, and for how a thread is recognised.

use polysync::lowlevel::{BackendKind, GreenBackend, ThreadWaiter, UnitId, WaitResult, Waiter};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::task::{Context, Wake, Waker};
use std::time::Instant;
use tokio::runtime::{Handle, RuntimeFlavor};

/// What a blocking polysync call does when it must wait on a worker thread of
/// a tokio multi-thread runtime. Part of a [`Config`].
///
/// ```
/// use polysync_tokio::{Config, WorkerPolicy};
/// assert_eq!(Config::new().worker_policy(), WorkerPolicy::BlockInPlace);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum WorkerPolicy {
    /// Wait under [`tokio::task::block_in_place`]: tokio hands the worker's
    /// other tasks to another thread before the wait, and the worker takes
    /// its place back after. The default.
    #[default]
    BlockInPlace,
    /// Block the worker thread (no `block_in_place`): its other tasks wait
    /// until the call returns, or until another worker steals them. The
    /// behaviour without this crate.
    Block,
    /// Panic with a message that says to `.await` the async form instead.
    Panic,
}

/// What a blocking polysync call does when it must wait on the thread of a
/// tokio current-thread runtime or `LocalSet`, where every other task of
/// that runtime would wait with it (a deadlock if the call waits for one of
/// them). Part of a [`Config`].
///
/// ```
/// use polysync_tokio::{Config, LocalPolicy};
/// assert_eq!(Config::new().local_policy(), LocalPolicy::Panic);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum LocalPolicy {
    /// Panic with a message that names the call and says to `.await` the
    /// async form instead. The default: a silent deadlock is worse.
    #[default]
    Panic,
    /// Block the thread, and with it the runtime. Only for code that knows
    /// the wait is short and ends without any task of this runtime (the
    /// holder is always a plain thread, say), as with a `std::sync::Mutex`.
    Block,
}

/// The policy for blocking polysync calls made on tokio runtime threads;
/// give it to [`install_with`](crate::install_with).
///
/// ```
/// use polysync_tokio::{Config, LocalPolicy, WorkerPolicy};
///
/// let config = Config::new().worker(WorkerPolicy::Panic).local(LocalPolicy::Panic);
/// assert_eq!(config.worker_policy(), WorkerPolicy::Panic);
/// assert_eq!(config, Config::default().worker(WorkerPolicy::Panic));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Config {
    worker: WorkerPolicy,
    local: LocalPolicy,
}

impl Config {
    /// The default policy: [`WorkerPolicy::BlockInPlace`] and
    /// [`LocalPolicy::Panic`].
    ///
    /// ```
    /// assert_eq!(polysync_tokio::Config::new(), polysync_tokio::Config::default());
    /// ```
    pub const fn new() -> Config {
        Config {
            worker: WorkerPolicy::BlockInPlace,
            local: LocalPolicy::Panic,
        }
    }

    /// Sets what a call that must wait on a multi-thread worker does.
    ///
    /// ```
    /// use polysync_tokio::{Config, WorkerPolicy};
    /// let config = Config::new().worker(WorkerPolicy::Block);
    /// assert_eq!(config.worker_policy(), WorkerPolicy::Block);
    /// ```
    #[must_use]
    pub const fn worker(self, policy: WorkerPolicy) -> Config {
        Config {
            worker: policy,
            ..self
        }
    }

    /// Sets what a call that must wait on a current-thread runtime's thread
    /// or in a `LocalSet` does.
    ///
    /// ```
    /// use polysync_tokio::{Config, LocalPolicy};
    /// let config = Config::new().local(LocalPolicy::Block);
    /// assert_eq!(config.local_policy(), LocalPolicy::Block);
    /// ```
    #[must_use]
    pub const fn local(self, policy: LocalPolicy) -> Config {
        Config {
            local: policy,
            ..self
        }
    }

    /// What a call that must wait on a multi-thread worker does.
    ///
    /// ```
    /// use polysync_tokio::{Config, WorkerPolicy};
    /// assert_eq!(Config::new().worker_policy(), WorkerPolicy::BlockInPlace);
    /// ```
    pub const fn worker_policy(&self) -> WorkerPolicy {
        self.worker
    }

    /// What a call that must wait on a current-thread runtime's thread or in
    /// a `LocalSet` does.
    ///
    /// ```
    /// use polysync_tokio::{Config, LocalPolicy};
    /// assert_eq!(Config::new().local_policy(), LocalPolicy::Panic);
    /// ```
    pub const fn local_policy(&self) -> LocalPolicy {
        self.local
    }

    const fn encode(self) -> u8 {
        let worker = match self.worker {
            WorkerPolicy::BlockInPlace => 0,
            WorkerPolicy::Block => 1,
            WorkerPolicy::Panic => 2,
        };
        let local = match self.local {
            LocalPolicy::Panic => 0,
            LocalPolicy::Block => 1,
        };
        worker | (local << 2)
    }

    const fn decode(bits: u8) -> Config {
        let worker = match bits & 3 {
            1 => WorkerPolicy::Block,
            2 => WorkerPolicy::Panic,
            _ => WorkerPolicy::BlockInPlace,
        };
        let local = match (bits >> 2) & 1 {
            1 => LocalPolicy::Block,
            _ => LocalPolicy::Panic,
        };
        Config { worker, local }
    }
}

/// The policy in force, set by [`install_with`](crate::install_with).
static CONFIG: AtomicU8 = AtomicU8::new(Config::new().encode());

/// Stores `config` as the policy in force.
pub(crate) fn set_config(config: Config) {
    CONFIG.store(config.encode(), Ordering::Relaxed);
}

/// The policy in force: the one given to the last
/// [`install_with`](crate::install_with), else [`Config::new()`]. It is read
/// each time a blocking call must wait, so a change applies to the next
/// wait.
///
/// ```
/// assert_eq!(polysync_tokio::config(), polysync_tokio::Config::new()); // nothing set yet
/// ```
pub fn config() -> Config {
    Config::decode(CONFIG.load(Ordering::Relaxed))
}

/// The [`GreenBackend`] that applies the [`Config`] to blocking polysync
/// calls made on threads with a tokio context. [`install()`](crate::install)
/// registers it (after [`TokioTaskIdentity`](crate::TokioTaskIdentity));
/// register it yourself with [`register_backend`] only to control the
/// order in which backends are asked.
///
/// It claims a call when [`Handle::try_current`] is `Ok` on the calling
/// thread, and gives it a waiter that wakes like the thread's
/// ([`ThreadWaiter`]) but decides, each time it must sleep, whether to
/// sleep under `block_in_place`, sleep plainly, or panic (see the
/// [crate docs](crate#calling-blocking-forms-from-async-code)). It never
/// gives an identity: units stay the tokio task (with
/// [`TokioTaskIdentity`](crate::TokioTaskIdentity)) or the thread.
///
/// ```
/// use polysync::lowlevel::GreenBackend;
/// use polysync_tokio::TokioBlocking;
///
/// assert_eq!(TokioBlocking.name(), "tokio-blocking");
/// assert_eq!(TokioBlocking.current_unit(), None);
/// // Not claimed on a plain thread: the thread's own waiter is used.
/// assert!(!TokioBlocking.with_waiter(&mut |_| unreachable!()));
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// rt.block_on(async { assert!(TokioBlocking.with_waiter(&mut |_| ())) });
/// ```
///
/// [`register_backend`]: polysync::lowlevel::register_backend
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TokioBlocking;

// SAFETY: `current_unit` never reports an identity, so it can never give one
// unit's identity to another.
#[allow(unsafe_code)]
unsafe impl GreenBackend for TokioBlocking {
    fn name(&self) -> &'static str {
        "tokio-blocking"
    }

    fn with_waiter(&self, f: &mut dyn FnMut(&dyn Waiter)) -> bool {
        let Ok(handle) = Handle::try_current() else {
            return false;
        };
        let flavor = handle.runtime_flavor();
        drop(handle);
        ThreadWaiter::with_current(|thread| f(&RuntimeThreadWaiter { thread, flavor }));
        true
    }

    fn current_unit(&self) -> Option<UnitId> {
        None
    }

    /// [`BackendKind::ThreadPolicy`]: it applies to the OS thread's own
    /// waits, so polysync asks it only after every green backend declined.
    /// A green thread of a hub that runs inside `spawn_blocking`, under
    /// `Runtime::enter` or in a `block_on` is the innermost unit: it waits
    /// by switching, whatever order the backends were installed in.
    fn kind(&self) -> BackendKind {
        BackendKind::ThreadPolicy
    }
}

/// The waiter [`TokioBlocking`] hands out: the thread's waiter, with the
/// policy applied before each sleep.
struct RuntimeThreadWaiter<'a> {
    thread: &'a ThreadWaiter,
    /// The flavor of the runtime whose context the thread is in.
    flavor: RuntimeFlavor,
}

impl Waiter for RuntimeThreadWaiter<'_> {
    fn waker(&self) -> Waker {
        self.thread.waker()
    }

    fn wait(&self, deadline: Option<Instant>) -> WaitResult {
        // A wait that cannot sleep blocks nothing: no policy applies.
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return WaitResult::TimedOut;
        }
        let config = config();
        let multi_thread = self.flavor == RuntimeFlavor::MultiThread;
        if drives_a_runtime() {
            if multi_thread {
                match config.worker {
                    WorkerPolicy::BlockInPlace => {
                        tokio::task::block_in_place(|| self.thread.wait(deadline))
                    }
                    WorkerPolicy::Block => self.thread.wait(deadline),
                    WorkerPolicy::Panic => refuse(Place::Worker),
                }
            } else {
                match config.local {
                    LocalPolicy::Panic => refuse(Place::Local),
                    LocalPolicy::Block => self.thread.wait(deadline),
                }
            }
        } else if multi_thread && config.local == LocalPolicy::Panic {
            // Not a scheduler's thread: `spawn_blocking`, `Runtime::enter`,
            // a multi-thread `block_on` future, or a `LocalSet` driven by
            // one. `block_in_place` runs the wait at once in the first three
            // and refuses (before running anything) in the last.
            self.wait_unless_refused(deadline)
        } else {
            self.thread.wait(deadline)
        }
    }

    fn spins(&self) -> bool {
        self.thread.spins()
    }

    fn next_in_line(&self, next: bool) {
        self.thread.next_in_line(next);
    }
}

impl RuntimeThreadWaiter<'_> {
    /// Waits under `block_in_place`, turning tokio's refusal to block (a
    /// `LocalSet` driven by a multi-thread `block_on`) into this crate's
    /// panic.
    fn wait_unless_refused(&self, deadline: Option<Instant>) -> WaitResult {
        let mut entered = false;
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            tokio::task::block_in_place(|| {
                entered = true;
                self.thread.wait(deadline)
            })
        }));
        match out {
            Ok(result) => result,
            // tokio refused before running the wait.
            Err(_) if !entered => refuse(Place::Local),
            Err(payload) => std::panic::resume_unwind(payload),
        }
    }
}

/// Where a refused wait was.
#[derive(Debug, Clone, Copy)]
enum Place {
    Worker,
    Local,
}

/// Panics for a blocking call that must not wait here. The wait future is
/// dropped by the unwind, which withdraws it cleanly (nothing handed to it
/// is lost).
#[cold]
#[inline(never)]
fn refuse(place: Place) -> ! {
    let (place, why) = match place {
        Place::Worker => (
            "a worker of a tokio multi-thread runtime",
            "polysync_tokio::Config says WorkerPolicy::Panic",
        ),
        Place::Local => (
            "the thread of a tokio current-thread runtime or LocalSet",
            "waiting there would stop every task of that runtime, perhaps the one it waits for \
             (a deadlock)",
        ),
    };
    panic!(
        "polysync: a blocking call (`*_blocking()`, `try_*_for()`, `try_*_until()`) had to wait \
         on {place}: {why}. `.await` the async form instead (`x.acquire().await` for \
         `x.acquire_blocking()`, `polysync_tokio::timeout(d, x.acquire()).await` for \
         `x.try_acquire_for(d)`), or call the blocking form from `tokio::task::spawn_blocking`"
    )
}

/// A waker that records whether it was woken (on this thread).
#[derive(Debug, Default)]
struct Probe {
    woken: AtomicBool,
}

impl Wake for Probe {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Relaxed);
    }
}

std::thread_local! {
    /// This thread's probe and a waker for it (one waker, so tokio's defer
    /// list, which skips a waker equal to its last entry, holds at most one
    /// copy of it per drain).
    static PROBE: (Arc<Probe>, Waker) = {
        let probe = Arc::new(Probe::default());
        let waker = Waker::from(probe.clone());
        (probe, waker)
    };
}

/// Whether this thread drives a tokio scheduler right now: it holds the core
/// of a current-thread runtime (inside its `block_on`: its tasks, its
/// `LocalSet`s, the `block_on` future) or of a multi-thread worker (not
/// inside `block_in_place`). See the
/// [crate docs](crate#how-a-runtime-thread-is-recognised) for how it is
/// told: one poll of `tokio::task::yield_now`, whose wake tokio defers to
/// the scheduler of the thread when there is one, and does at once when
/// there is none.
///
/// ```
/// assert!(!polysync_tokio::drives_a_runtime()); // a plain thread
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// rt.block_on(async {
///     assert!(polysync_tokio::drives_a_runtime());
///     let blocking = tokio::task::spawn_blocking(polysync_tokio::drives_a_runtime);
///     assert!(!blocking.await.unwrap());
/// });
/// ```
pub fn drives_a_runtime() -> bool {
    PROBE
        .try_with(|(probe, waker)| {
            probe.woken.store(false, Ordering::Relaxed);
            let yielded = pin!(tokio::task::yield_now());
            // The first poll is always `Pending`; what matters is whether
            // the waker was woken during it.
            let _ = yielded.poll(&mut Context::from_waker(waker));
            !probe.woken.load(Ordering::Relaxed)
        })
        // Thread-locals are being torn down: no scheduler runs here.
        .unwrap_or(false)
}
