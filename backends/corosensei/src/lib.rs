//! # polysync-corosensei
//!
//! A small green-thread runtime, a gevent-style **hub**, on
//! [corosensei](https://docs.rs/corosensei) stackful coroutines, plugged into
//! [polysync]: every blocking call of every polysync primitive made in a
//! green thread (`lock.acquire_blocking()`, `queue.get_blocking()`,
//! `event.try_wait_for(..)`, ...) suspends the green thread and lets the hub
//! run the others; the OS thread never blocks. The same primitive can be
//! waited on at the same time by OS threads, async tasks on any executor and
//! green threads of any number of hubs.
//!
//! ```
//! use polysync::{Lock, Queue};
//! use polysync_corosensei::{run, sleep, spawn};
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! let lock = Arc::new(Lock::new());
//! let queue = Arc::new(Queue::unbounded());
//!
//! // A plain thread holds the lock until the green thread below waits for it.
//! let guard_taken = Arc::new(polysync::Event::new());
//! let holder = {
//!     let (lock, taken) = (lock.clone(), guard_taken.clone());
//!     std::thread::spawn(move || {
//!         let _guard = lock.acquire_blocking();
//!         taken.set();
//!         while lock.waiting() == 0 {
//!             std::thread::yield_now();
//!         }
//!     })
//! };
//! guard_taken.wait_blocking();
//!
//! let ticks = run(move || {
//!     // This green thread waits for the lock: it suspends, the hub runs on.
//!     let waiter = {
//!         let (lock, queue) = (lock.clone(), queue.clone());
//!         spawn(move || {
//!             let _guard = lock.acquire_blocking();
//!             queue.put_blocking("got the lock").unwrap();
//!         })
//!     };
//!     // Meanwhile another one ticks on the same OS thread.
//!     let mut ticks = 0;
//!     while queue.is_empty() {
//!         sleep(Duration::from_millis(1));
//!         ticks += 1;
//!     }
//!     waiter.join().unwrap();
//!     ticks
//! });
//! assert!(ticks > 0);
//! holder.join().unwrap();
//! ```
//!
//! # The runtime
//!
//! - A [`Hub`] belongs to one OS thread (it is `!Send`; at most one per
//!   thread) and runs green threads on it, one at a time. Several hubs can
//!   run on several threads at once and share primitives.
//! - [`run`] makes a hub, runs a closure as its first green thread and
//!   returns the closure's value; [`Hub::run`] does the same on a hub you
//!   keep. [`spawn`] starts another green thread on the current thread's hub
//!   and returns a [`JoinHandle`]; [`yield_now`] and [`sleep`] switch.
//! - Each green thread has a stack of its own: mapped with a guard page
//!   (an overflow is a `SIGSEGV`, not undefined behaviour), 256 KiB by
//!   default, reused through a pool ([`Builder`]).
//! - Wakes from any thread (a primitive released by a plain thread, a tokio
//!   task, another hub) go through the green thread's `Waker` and **only
//!   enqueue** it on its hub: a green thread only ever runs on its hub's
//!   thread, inside the hub's loop. When nothing is ready the hub parks its
//!   OS thread until the next timer or a remote wake.
//! - [`block_on`] awaits any future from a green thread (an
//!   `async_io::Timer`, a tokio oneshot, a polysync future) by suspending
//!   the green thread until the future's waker fires.
//!
//! # Green threads and polysync
//!
//! The first hub registers [`CorosenseiBackend`] with polysync (see
//! [`install`]). From then on, in a green thread:
//!
//! | call | what happens |
//! |---|---|
//! | `x.acquire_blocking()`, `q.get_blocking()`, any `*_blocking` | the green thread suspends until handed the resource; the hub runs the others |
//! | `x.try_acquire_for(d)` / `try_*_until(t)` | the same, with a timer on the hub's heap |
//! | `x.acquire_with(w, deadline)` | with the [`GreenWaiter`] `w` from [`GreenWaiter::with_current`] |
//! | `polysync::lowlevel::current_unit()` | the green thread's identity, allocated once per green thread: an [`RLock`](polysync::RLock) re-enters in the same green thread, and two green threads of one hub are two owners |
//! | `x.acquire().await` inside [`block_on`] | the future's waker is the green thread's |
//!
//! # Panics and teardown
//!
//! - A panic in a green thread ends only that green thread: its
//!   [`JoinHandle`] returns `Err(`[`JoinError::Panicked`]`(payload))`; the
//!   hub carries on. (The panic message is printed by the panic hook, as
//!   for a thread.) [`run`] / [`Hub::run`] re-raise a panic of their own
//!   closure.
//! - Dropping a hub (also leaving [`run`]) **unwinds** every green thread
//!   that has not ended, on its own stack, with corosensei's forced unwind:
//!   destructors run, so a polysync wait withdraws and passes on whatever
//!   was handed to it (a lock handed over at that moment goes to the next
//!   waiter), and guards release. Their handles report
//!   [`JoinError::Cancelled`]. A destructor that blocks during that unwind
//!   blocks the OS thread (no green thread can run any more): it must not
//!   wait for another green thread of the same hub.
//! - Do not swallow unwinds in green code: a `catch_unwind` that catches
//!   corosensei's forced-unwind payload must re-raise it
//!   (`std::panic::resume_unwind`), or the teardown starts over at the next
//!   suspension.
//!
//! # Limits
//!
//! - Green threads never move between OS threads; closures need not be
//!   `Send`. A hub's green threads all run on its thread: a green thread
//!   that blocks its OS thread without polysync (`std::thread::sleep`, a
//!   `std::sync::Mutex` held by another thread, `futures_lite::future::block_on`)
//!   stalls its whole hub. Use [`sleep`], polysync primitives and
//!   [`block_on`].
//! - Do not run other stack-switching code (another corosensei coroutine,
//!   `corosensei::on_stack`) around a polysync wait inside a green thread:
//!   the wait suspends the green thread's own coroutine.

#![deny(missing_docs)]

mod hub;
mod join;
mod waiter;

pub use join::{JoinError, JoinHandle};
pub use waiter::{CorosenseiBackend, GreenWaiter, install};

use hub::{Config, Core};
use polysync::lowlevel::{UnitCancelled, UnitId};
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The default size of a green thread's stack: 256 KiB (plus a guard page).
/// Only the pages a green thread touches take memory.
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// The default number of stacks a hub keeps for reuse.
pub const DEFAULT_STACK_POOL: usize = 256;

/// Settings of a [`Hub`].
///
/// ```
/// let hub = polysync_corosensei::Hub::builder()
///     .stack_size(64 * 1024)
///     .stack_pool(16)
///     .build();
/// assert_eq!(hub.run(|| 6 * 7), 42);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Builder {
    config: Config,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// The defaults: [`DEFAULT_STACK_SIZE`], [`DEFAULT_STACK_POOL`].
    ///
    /// ```
    /// let hub = polysync_corosensei::Builder::new().build();
    /// drop(hub);
    /// ```
    pub fn new() -> Builder {
        Builder {
            config: Config {
                stack_size: DEFAULT_STACK_SIZE,
                stack_pool: DEFAULT_STACK_POOL,
            },
        }
    }

    /// The usable size in bytes of each green thread's stack (rounded up to
    /// whole pages, at least 4 KiB; a guard page is added below it). Code
    /// built in debug mode needs much more stack than in release.
    ///
    /// ```
    /// let hub = polysync_corosensei::Hub::builder().stack_size(128 * 1024).build();
    /// hub.run(|| ());
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.config.stack_size = bytes;
        self
    }

    /// How many stacks of ended green threads the hub keeps for new ones
    /// (0: unmap each stack when its green thread ends).
    ///
    /// ```
    /// let hub = polysync_corosensei::Hub::builder().stack_pool(0).build();
    /// hub.run(|| ());
    /// ```
    pub fn stack_pool(mut self, stacks: usize) -> Builder {
        self.config.stack_pool = stacks;
        self
    }

    /// Makes the hub of the calling OS thread.
    ///
    /// # Panics
    /// If this thread has a hub already, or if polysync's backend registry
    /// is full (see [`install`]).
    ///
    /// ```
    /// let hub = polysync_corosensei::Builder::new().build();
    /// assert_eq!(hub.green_threads(), 0);
    /// ```
    pub fn build(self) -> Hub {
        Hub {
            core: Core::install(self.config),
        }
    }
}

/// A hub: the scheduler of the green threads of one OS thread.
///
/// It runs green threads only while one of its loops runs
/// ([`run`](Hub::run), [`run_to_completion`](Hub::run_to_completion));
/// otherwise spawned green threads wait. It is `!Send`: a hub and its green
/// threads stay on the thread that made it. At most one hub per thread.
///
/// **Dropping the hub unwinds** the green threads that have not ended
/// (destructors run on their stacks; polysync waits withdraw and pass on
/// what was handed to them); their handles report
/// [`JoinError::Cancelled`].
///
/// ```
/// use polysync_corosensei::Hub;
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// let hub = Hub::new();
/// let count = Rc::new(Cell::new(0));
/// for _ in 0..3 {
///     let count = count.clone();
///     hub.spawn(move || {
///         for _ in 0..10 {
///             count.set(count.get() + 1);
///             polysync_corosensei::yield_now();
///         }
///     });
/// }
/// hub.run_to_completion();
/// assert_eq!(count.get(), 30);
/// ```
pub struct Hub {
    core: Rc<Core>,
}

impl Hub {
    /// A hub for the calling OS thread, with the default settings.
    ///
    /// # Panics
    /// If this thread has a hub already, or if polysync's backend registry
    /// is full (see [`install`]).
    ///
    /// ```
    /// let hub = polysync_corosensei::Hub::new();
    /// assert_eq!(hub.run(|| "done"), "done");
    /// ```
    #[allow(clippy::new_without_default)] // one per thread: no `Default`
    pub fn new() -> Hub {
        Builder::new().build()
    }

    /// Settings for a new hub.
    ///
    /// ```
    /// let hub = polysync_corosensei::Hub::builder().stack_size(64 * 1024).build();
    /// hub.run(|| ());
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Spawns `f` as a green thread of this hub. It starts when the hub runs.
    ///
    /// ```
    /// let hub = polysync_corosensei::Hub::new();
    /// let h = hub.spawn(|| 2 + 2);
    /// hub.run_to_completion();
    /// assert_eq!(h.join().unwrap(), 4);
    /// ```
    pub fn spawn<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        self.core.spawn(f)
    }

    /// Runs `f` as a green thread and drives the hub (all its green threads)
    /// until `f` returns; returns `f`'s value. Green threads that have not
    /// ended keep their place for the next run (or are unwound when the hub
    /// is dropped).
    ///
    /// # Panics
    /// Re-raises a panic of `f` (the hub stays usable). Panics if called
    /// from a green thread (a hub cannot run inside itself).
    ///
    /// ```
    /// let hub = polysync_corosensei::Hub::new();
    /// let background = hub.spawn(|| polysync_corosensei::sleep(std::time::Duration::from_millis(1)));
    /// assert_eq!(hub.run(|| 1), 1);
    /// hub.run(move || background.join().unwrap());
    /// ```
    pub fn run<F, T>(&self, f: F) -> T
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        match self.run_catching(f) {
            Ok(out) => out,
            Err(payload) => std::panic::resume_unwind(payload),
        }
    }

    /// [`run`](Hub::run), with `f`'s panic returned instead of raised.
    fn run_catching<F, T>(&self, f: F) -> std::thread::Result<T>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        let main = self.spawn(f);
        // The thread's context (a tokio blocking task, an `identified`
        // poll) carries the green threads: it is none of them.
        polysync::lowlevel::scheduling(|| self.core.drive(&|| main.is_finished()));
        match main.join() {
            Ok(out) => Ok(out),
            Err(JoinError::Panicked(payload)) => Err(payload),
            Err(JoinError::Cancelled) => unreachable!("the hub's main green thread was unwound"),
        }
    }

    /// Drives the hub until every green thread has ended (including those
    /// spawned meanwhile). Parks the OS thread while all of them wait.
    ///
    /// ```
    /// let hub = polysync_corosensei::Hub::new();
    /// let h = hub.spawn(|| polysync_corosensei::spawn(|| 5));
    /// hub.run_to_completion();
    /// assert!(h.join().unwrap().is_finished());
    /// ```
    pub fn run_to_completion(&self) {
        polysync::lowlevel::scheduling(|| self.core.drive(&|| false));
    }

    /// The number of green threads of this hub that have not ended.
    ///
    /// ```
    /// let hub = polysync_corosensei::Hub::new();
    /// hub.spawn(|| ());
    /// assert_eq!(hub.green_threads(), 1);
    /// hub.run_to_completion();
    /// assert_eq!(hub.green_threads(), 0);
    /// ```
    pub fn green_threads(&self) -> usize {
        self.core.live()
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        polysync::lowlevel::scheduling(|| self.core.shutdown());
    }
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("green_threads", &self.green_threads())
            .finish_non_exhaustive()
    }
}

/// Makes a hub on the calling OS thread, runs `f` as its first green thread
/// and drives the hub until `f` returns; then drops the hub, which unwinds
/// the green threads that have not ended (join them first to wait for
/// them). Returns `f`'s value.
///
/// # Panics
/// Re-raises a panic of `f` (after the teardown). Panics if this thread has
/// a hub already (also: when called from a green thread).
///
/// ```
/// let v = polysync_corosensei::run(|| {
///     let a = polysync_corosensei::spawn(|| 20);
///     let b = polysync_corosensei::spawn(|| 22);
///     a.join().unwrap() + b.join().unwrap()
/// });
/// assert_eq!(v, 42);
/// ```
pub fn run<F, T>(f: F) -> T
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    let hub = Hub::new();
    let out = hub.run_catching(f);
    drop(hub);
    match out {
        Ok(out) => out,
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// Spawns `f` as a green thread on the calling OS thread's hub (from a
/// green thread, or from the thread that owns a [`Hub`]).
///
/// # Panics
/// If this thread has no hub.
///
/// ```
/// polysync_corosensei::run(|| {
///     let h = polysync_corosensei::spawn(|| "child");
///     assert_eq!(h.join().unwrap(), "child");
/// });
/// ```
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    hub::with_hub(|core| core.spawn(f)).expect(
        "polysync_corosensei::spawn: this thread has no hub (use polysync_corosensei::run or Hub)",
    )
}

/// Lets the other ready green threads of the hub run, then continues.
/// Outside a green thread: [`std::thread::yield_now`].
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// polysync_corosensei::run(|| {
///     let ran = Rc::new(Cell::new(false));
///     let r = ran.clone();
///     polysync_corosensei::spawn(move || r.set(true));
///     polysync_corosensei::yield_now();
///     assert!(ran.get());
/// });
/// ```
pub fn yield_now() {
    if hub::with_current(|ctx| ctx.yield_now()).is_none() {
        std::thread::yield_now();
    }
}

/// Suspends the green thread for at least `duration` (a timer on the hub's
/// heap); the hub runs the others meanwhile. Outside a green thread:
/// [`std::thread::sleep`].
///
/// ```
/// use std::time::{Duration, Instant};
/// polysync_corosensei::run(|| {
///     let start = Instant::now();
///     polysync_corosensei::sleep(Duration::from_millis(2));
///     assert!(start.elapsed() >= Duration::from_millis(2));
/// });
/// ```
pub fn sleep(duration: Duration) {
    let Some(deadline) = Instant::now().checked_add(duration) else {
        // Beyond the clock: forever, in practice.
        loop {
            sleep(Duration::from_secs(3600 * 24 * 365));
        }
    };
    let slept = hub::with_current(|ctx| {
        while ctx.wait(Some(deadline)) != polysync::lowlevel::WaitResult::TimedOut {}
    });
    if slept.is_none() {
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
    }
}

/// Runs `fut` to completion.
///
/// In a green thread, the future is polled with the green thread's waker
/// and the green thread suspends while it is pending, so async code (an
/// `async_io::Timer`, a tokio oneshot, any polysync future) runs inside
/// green code without blocking the hub. (A future that needs a runtime's
/// context, such as `tokio::time::sleep`, still needs that runtime: enter
/// it first.)
///
/// The future may itself make blocking polysync calls, call `block_on`
/// again, [`yield_now`] or [`sleep`]: they suspend the same green thread, and
/// a wake of the outer future that arrives meanwhile is not lost (the
/// driver polls the future again after any switch inside its poll; see
/// [`polysync::lowlevel::block_on`]).
///
/// Outside a green thread it is [`polysync::lowlevel::block_on`]: the
/// current execution unit's waiter (a registered backend's, such as a `may`
/// coroutine's, else the OS thread, which parks).
///
/// # Panics
/// Outside a green thread, if the unit's waiter reports cancellation: the
/// unwind carries [`UnitCancelled`].
///
/// ```
/// use std::time::Duration;
/// polysync_corosensei::run(|| {
///     let sem = polysync::Semaphore::new(1);
///     polysync_corosensei::block_on(async_io::Timer::after(Duration::from_millis(1)));
///     let permit = polysync_corosensei::block_on(sem.acquire()).unwrap();
///     permit.forget();
/// });
/// ```
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    if let Some(out) =
        GreenWaiter::with_current(|w| polysync::lowlevel::block_on_with(w, fut.as_mut(), None))
    {
        // A green waiter never reports cancellation, and there is no
        // deadline: only completion ends the loop.
        return out.expect("a green wait without deadline ended early");
    }
    match polysync::lowlevel::block_on(fut, None) {
        Some(out) => out,
        None => std::panic::resume_unwind(Box::new(UnitCancelled)),
    }
}

/// Whether the caller runs in a green thread of a hub.
///
/// ```
/// assert!(!polysync_corosensei::in_green_thread());
/// assert!(polysync_corosensei::run(polysync_corosensei::in_green_thread));
/// ```
pub fn in_green_thread() -> bool {
    hub::with_current(|_| ()).is_some()
}

/// The identity of the green thread that is running, or `None` outside
/// green threads. (polysync's [`current_unit`](polysync::lowlevel::current_unit)
/// returns it too, unless an `identified` future is being polled.)
///
/// ```
/// assert_eq!(polysync_corosensei::current_unit(), None);
/// polysync_corosensei::run(|| {
///     let me = polysync_corosensei::current_unit().unwrap();
///     let other = polysync_corosensei::spawn(polysync_corosensei::current_unit);
///     assert_ne!(other.join().unwrap(), Some(me));
/// });
/// ```
pub fn current_unit() -> Option<UnitId> {
    hub::with_current(|ctx| ctx.unit)
}
