//! # polysync-tokio
//!
//! The tokio backend of [polysync]: after [`install()`], every
//! tokio task is an execution unit of its own, identified by its
//! [`tokio::task::Id`]. Reentrant and owner-based primitives
//! ([`RLock`](polysync::RLock), [`RMutex`](polysync::RMutex),
//! [`CapacityLimiter`](polysync::CapacityLimiter), ...) then recognise a
//! task as their owner with no [`identified`](polysync::lowlevel::identified)
//! wrapper, and a task keeps its identity when the multi-thread scheduler
//! moves it to another worker thread.
//!
//! ```
//! use std::sync::Arc;
//!
//! polysync_tokio::install().unwrap();
//!
//! let rt = tokio::runtime::Builder::new_multi_thread()
//!     .worker_threads(2)
//!     .build()
//!     .unwrap();
//! let rlock = Arc::new(polysync::RLock::new());
//! let task = {
//!     let rlock = rlock.clone();
//!     rt.spawn(async move {
//!         let outer = rlock.acquire().await.unwrap(); // no `identified(..)` needed
//!         tokio::task::yield_now().await; // may resume on another worker
//!         let inner = rlock.acquire().await.unwrap(); // the same task re-enters
//!         assert_eq!(rlock.count(), 2);
//!         assert_eq!(rlock.owner(), polysync_tokio::current_task_unit());
//!         assert!(rlock.owner().is_some());
//!         drop(inner);
//!         drop(outer);
//!     })
//! };
//! rt.block_on(task).unwrap();
//! assert!(!rlock.is_locked());
//! ```
//!
//! # Installed when linked
//!
//! The crate installs itself when the program starts, so linking it is
//! enough (a dependency that the code never names is not linked: `use
//! polysync_tokio as _;`); [`install()`] stays, idempotent, and
//! [`install_with`] sets the policy. [`TokioBlocking`] is a
//! [`BackendKind::ThreadPolicy`](polysync::lowlevel::BackendKind::ThreadPolicy):
//! the innermost unit wins, whatever the install order, so a green thread of
//! a hub inside `spawn_blocking`, under `Runtime::enter` or in a `block_on`
//! is that green thread (its identity, its waiter), and a task polled on a
//! green thread's stack is that task.
//!
//! # What is a unit, where
//!
//! [`polysync::lowlevel::current_unit`] and
//! [`polysync::lowlevel::current_task`] answer, once installed:
//!
//! | caller | identity |
//! |---|---|
//! | inside an [`Identified`](polysync::lowlevel::Identified) future | that wrapper's (the innermost wrapper always wins) |
//! | a task of `tokio::spawn`, `spawn_local`, `JoinSet`, ... (async and blocking calls alike) | the task's, [`unit_of`]`(tokio::task::id())` (see below for the `None` case) |
//! | a `spawn_blocking` closure | that blocking task's own id (tokio gives it one); *not* the pool thread's |
//! | the future given to `Runtime::block_on` / `Handle::block_on` | not a task: async owner-based calls fail with [`NoTaskIdentity`](polysync::lowlevel::NoTaskIdentity); blocking ones use the thread |
//! | a plain thread (also one spawned from inside a task) | the thread's, [`UnitId::current_thread`] |
//!
//! Identities come from [`UnitId::from_task_counter`], one to one: task `n`
//! gets `2^62 | n`, so no two tasks ever share an identity, and none shares
//! one with a thread or an [`identified`](polysync::lowlevel::identified)
//! future (those are below `2^62`). polysync requires that (a
//! [`TaskIdentity`] is an `unsafe` trait): two units with one identity could
//! both enter an [`RMutex`](polysync::RMutex). It rests on how tokio 1.x
//! makes ids: one process-wide `AtomicU64` (shared by all runtimes),
//! incremented for every spawned task, so an id is never given to a second
//! task; this crate's tests pin that (ids are decimal and strictly
//! increasing). tokio's documentation promises less (ids may be reused once
//! a task has exited); should a future tokio 1.x reuse ids, this crate must
//! change before it may be used with it. A task whose id cannot be mapped
//! (not a plain decimal number below `2^62`, which tokio 1.x never produces)
//! gets **no** identity rather than a guessed one: its async owner-based
//! calls fail with [`NoTaskIdentity`](polysync::lowlevel::NoTaskIdentity) and
//! its blocking ones use the thread.
//!
//! # How the number is read
//!
//! tokio 1.x has no public accessor for the number inside a
//! [`tokio::task::Id`] (tokio-rs/tokio#7430 asks for one). This crate
//! formats the id with its public [`Display`](std::fmt::Display)
//! implementation into a sink that parses the decimal digits on the fly: no
//! allocation, no `unsafe`, no layout assumption. The last mapping is cached
//! per thread, so a task that asks again during the same poll pays only two
//! thread-local reads and a comparison. Should a future tokio print its ids
//! in another form, tasks get no identity (see above; never a hash, which
//! could collide); this crate's tests pin the decimal form.
//!
//! # Calling blocking forms from async code
//!
//! [`install()`] also registers [`TokioBlocking`], which decides what a
//! blocking polysync call (`*_blocking()`, `try_*_for()`, `try_*_until()`)
//! does when it **must sleep** on a thread that runs a tokio runtime. A call
//! that completes at once (a free lock, a permit in stock, an item in the
//! queue), or whose deadline has already passed, never gets that far: it
//! pays nothing and never panics, wherever it runs.
//!
//! | where the call must sleep | default ([`Config::new()`]) | configurable with |
//! |---|---|---|
//! | a task of a multi-thread runtime, on its worker | the sleep runs under [`tokio::task::block_in_place`]: tokio moves the worker's other tasks to another thread first | [`Config::worker`] ([`WorkerPolicy`]) |
//! | the thread of a current-thread runtime (its tasks, its `block_on` future), a `LocalSet` and its `spawn_local` tasks | a panic that names the call and says to `.await` the async form (never a silent deadlock: the holder may be a task of the same thread) | [`Config::local`] ([`LocalPolicy`]) |
//! | a multi-thread runtime's `block_on` future (not a task) | a normal blocking wait | |
//! | a `spawn_blocking` closure, a thread under `Runtime::enter`, a plain thread | a normal blocking wait | |
//!
//! ```
//! use std::sync::Arc;
//!
//! polysync_tokio::install().unwrap();
//! let lock = Arc::new(polysync::Lock::new());
//!
//! // One worker: without block_in_place, the waiter below would block the
//! // only worker, and the holder (a task on it) could never release.
//! let rt = tokio::runtime::Builder::new_multi_thread()
//!     .worker_threads(1)
//!     .enable_time()
//!     .build()
//!     .unwrap();
//! rt.block_on(async {
//!     let (held, is_held) = tokio::sync::oneshot::channel();
//!     let lock1 = lock.clone();
//!     let holder = tokio::spawn(async move {
//!         let _guard = lock1.acquire().await;
//!         held.send(()).unwrap();
//!         // Hold it until the waiter below is queued (the holder is moved
//!         // to another thread while the waiter sleeps).
//!         while lock1.waiting() == 0 {
//!             tokio::task::yield_now().await;
//!         }
//!     });
//!     is_held.await.unwrap();
//!     let lock2 = lock.clone();
//!     let waiter = tokio::spawn(async move {
//!         let _guard = lock2.acquire_blocking(); // sleeps under block_in_place
//!     });
//!     waiter.await.unwrap();
//!     holder.await.unwrap();
//! });
//!
//! // A current-thread runtime: waiting would freeze it, so the call panics.
//! let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! let guard = lock.try_acquire().unwrap();
//! let lock2 = lock.clone();
//! let out = rt.block_on(async move {
//!     tokio::spawn(async move { drop(lock2.acquire_blocking()) }).await
//! });
//! assert!(out.unwrap_err().is_panic()); // "... `.await` the async form instead ..."
//! drop(guard);
//! // Uncontended, the same call completes at once and does not panic.
//! rt.block_on(async { drop(lock.acquire_blocking()) });
//! ```
//!
//! Why panic rather than block on a current-thread runtime: the sleeping
//! call would stop the only thread that runs the runtime's tasks, so a
//! holder that is one of them can never release (a deadlock that used to
//! happen silently), and every other task, timer and socket of the runtime
//! stalls meanwhile. Why not panic when the call need not sleep: it blocks
//! nothing and cannot deadlock, and polysync's blocking forms are meant to
//! be callable from code that does not know where it runs (tokio's own
//! `blocking_lock` cannot tell, so it panics always inside a runtime).
//! Code that knows its waits are short and end without the runtime's tasks
//! (the holder is always a plain thread) can opt into
//! [`LocalPolicy::Block`] with [`install_with`].
//!
//! `block_in_place` is entered once per sleep, not per call, so a call that
//! does not sleep never pays for it; one that sleeps pays it once (or once
//! per spurious wake-up), see the crate's README for what it costs.
//!
//! # How a runtime thread is recognised
//!
//! tokio has no public "may I block here?" check, and
//! [`Handle::try_current()`][try_current] is `Ok` also in `spawn_blocking`
//! closures and under `Runtime::enter`, where blocking is fine.
//! [`TokioBlocking`] claims calls where `try_current()` is `Ok`, reads the
//! flavor with [`runtime_flavor()`][runtime_flavor], and when a call must
//! sleep asks [`drives_a_runtime()`]: it polls
//! [`tokio::task::yield_now`] once with a probe waker. tokio hands that
//! waker to the scheduler of the thread (to wake it after the current poll)
//! when the thread holds a scheduler's core, and wakes it at once anywhere
//! else: `true` on a current-thread runtime's thread inside `block_on` (and
//! in its `LocalSet`s) and on a multi-thread worker; `false` in
//! `spawn_blocking`, under `Runtime::enter`, in a multi-thread `block_on`
//! future, inside `block_in_place` and on plain threads. This rests on how
//! tokio 1.x implements `yield_now` (its source says so, its documentation
//! does not promise it); this crate's tests pin every row of the table
//! above, so a tokio that changed it would fail them. Should tokio wake at
//! once everywhere, blocking calls would fall back to plain waits (the
//! behaviour without this crate), never to a wrong panic in `spawn_blocking`.
//!
//! A `LocalSet` driven by a multi-thread runtime's `block_on` looks, to both
//! questions, like that `block_on`'s own future. There the sleep goes
//! through `block_in_place`, which tokio refuses (it panics before running
//! anything) inside a `LocalSet`; [`TokioBlocking`] turns that refusal into
//! its own panic (tokio's message is printed first by the panic hook; with
//! `panic = "abort"` tokio's panic aborts). A `LocalSet` cannot run inside a
//! multi-thread task (it is not `Send`), so `block_in_place` on a worker
//! never strands local tasks.
//!
//! (tokio's items are linked on docs.rs: these docs are built without
//! their dependencies', so an intra-doc link to them has no page here.)
//!
//! [try_current]: https://docs.rs/tokio/1/tokio/runtime/struct.Handle.html#method.try_current
//! [runtime_flavor]: https://docs.rs/tokio/1/tokio/runtime/struct.Handle.html#method.runtime_flavor
//!
//! # Timeouts
//!
//! [`timeout`], [`timeout_at`] and [`TimeoutExt`] bound any polysync wait
//! with tokio's timer (`polysync-async-io` has the same names over
//! async-io's timer, for any executor). A timed-out wait loses nothing:
//! polysync's futures are cancel-safe, and [`Timeout`] drops its wait before
//! it reports [`Elapsed`].
//!
//! ```
//! use polysync_tokio::TimeoutExt;
//! use std::time::Duration;
//!
//! let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
//! rt.block_on(async {
//!     let sem = polysync::Semaphore::new(0);
//!     assert!(sem.acquire().timeout(Duration::from_millis(5)).await.is_err());
//!     sem.release(1);
//!     let permit = sem.acquire().timeout(Duration::from_millis(5)).await.unwrap().unwrap();
//!     permit.forget();
//! });
//! ```

#![deny(missing_docs)]

mod checkpoint;
mod policy;
mod spawner;
mod time;

pub use checkpoint::TokioCheckpoints;
pub use policy::{Config, LocalPolicy, TokioBlocking, WorkerPolicy, config, drives_a_runtime};
pub use spawner::TokioSpawner;
pub use time::{Elapsed, Timeout, TimeoutExt, timeout, timeout_at};

use polysync::lowlevel::{
    RegistryFull, TaskIdentity, UnitId, register_backend, register_task_identity,
};
use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};

/// The [`TaskIdentity`] provider for tokio tasks: the identity of the task
/// being polled on this thread, [`unit_of`]`(`[`tokio::task::try_id()`]`)`,
/// or `None` outside a tokio task (or for an id that cannot be mapped). [`install()`] registers it; register it
/// yourself with [`register_task_identity`] only to control the order in
/// which providers are asked.
///
/// ```
/// use polysync::lowlevel::TaskIdentity;
/// use polysync_tokio::TokioTaskIdentity;
///
/// assert_eq!(TokioTaskIdentity.name(), "tokio");
/// assert_eq!(TokioTaskIdentity.current_task(), None); // not in a task
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let (seen, id) = rt.block_on(async {
///     let task = tokio::spawn(async { TokioTaskIdentity.current_task() });
///     let id = task.id();
///     (task.await.unwrap(), id)
/// });
/// assert_eq!(seen, polysync_tokio::unit_of(id));
/// assert!(seen.is_some());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TokioTaskIdentity;

// SAFETY: `current_task` reports an identity only inside a tokio task (where
// `tokio::task::try_id` returns that task's id), always the same one for the
// same task (a pure function of its id, which a task keeps for life, also
// across workers), and `unit_of` is one to one (`UnitId::from_task_counter`,
// whose contract holds: tokio 1.x draws every task id from one process-wide
// counter that never repeats a value, pinned by tests/identity.rs; and no
// other counter is mapped with it in this process by this crate). Identities
// of tasks have bit 62 set, so they never equal those of threads, green
// units or `identified` futures.
#[allow(unsafe_code)]
unsafe impl TaskIdentity for TokioTaskIdentity {
    fn name(&self) -> &'static str {
        "tokio"
    }

    #[inline]
    fn current_task(&self) -> Option<UnitId> {
        current_task_unit()
    }
}

static PROVIDER: TokioTaskIdentity = TokioTaskIdentity;
static BLOCKING: TokioBlocking = TokioBlocking;
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Installs the tokio backend for the whole process: registers
/// [`TokioTaskIdentity`] (tokio tasks own polysync's primitives by their
/// task id) and [`TokioBlocking`] (blocking calls that must sleep on a
/// runtime thread follow the [policy](crate#calling-blocking-forms-from-async-code)
/// in force: [`Config::new()`] unless [`install_with`] set another) and
/// [`TokioCheckpoints`] (an uncontended async wait in a task spends the
/// task's coop budget and yields once it is used up).
/// Idempotent: call it as often as you like, from any thread; it never
/// changes the policy in force.
///
/// # Errors
/// [`RegistryFull`] when every task-identity slot, backend slot or
/// checkpoint-policy slot of polysync is taken by others (what could be registered stays
/// registered).
///
/// ```
/// polysync_tokio::install().unwrap();
/// polysync_tokio::install().unwrap(); // no-op
/// assert!(polysync_tokio::is_installed());
/// assert!(polysync::lowlevel::registered_backends().any(|name| name == "tokio-blocking"));
/// ```
pub fn install() -> Result<(), RegistryFull> {
    register_task_identity(&PROVIDER)?;
    register_backend(&BLOCKING)?;
    polysync::lowlevel::checkpoint::register_checkpoint_policy(&TokioCheckpoints)?;
    INSTALLED.store(true, Ordering::Release);
    Ok(())
}

/// Installs the backend when the program starts (before `main`), so that
/// linking this crate is enough: without it, a program that forgets
/// [`install()`] gets no task identity (async `RLock` waits fail) and a
/// blocking wait in a task of a current-thread runtime hangs silently
/// instead of failing with the fix. A full registry is reported by the next
/// explicit [`install()`] call.
// SAFETY: this runs before `main`, on the thread that loads the program. It
// only stores into polysync's registries (`OnceLock` slots and atomics) and
// reads the `POLYSYNC_*CHECKPOINTS` variables, which the C runtime has set
// up by then; it spawns nothing, does no I/O, touches no tokio state and
// cannot panic (an error is dropped).
#[ctor::ctor(unsafe)]
fn install_at_load() {
    let _ = install();
}

/// [`install()`], then makes `config` the policy in force for blocking
/// calls on runtime threads (see
/// [Calling blocking forms from async code](crate#calling-blocking-forms-from-async-code)).
/// The policy is process-wide and read each time a call must sleep; the
/// last `install_with` wins.
///
/// # Errors
/// Like [`install()`] (the policy is set even then).
///
/// ```
/// use polysync_tokio::{Config, LocalPolicy, WorkerPolicy};
///
/// // Refuse blocking waits on every runtime thread, workers included.
/// polysync_tokio::install_with(Config::new().worker(WorkerPolicy::Panic)).unwrap();
/// assert_eq!(polysync_tokio::config().worker_policy(), WorkerPolicy::Panic);
/// assert_eq!(polysync_tokio::config().local_policy(), LocalPolicy::Panic);
/// ```
pub fn install_with(config: Config) -> Result<(), RegistryFull> {
    policy::set_config(config);
    install()
}

/// Whether [`install()`] (or [`install_with`]) has succeeded in this
/// process.
///
/// ```
/// polysync_tokio::install().unwrap();
/// assert!(polysync_tokio::is_installed());
/// ```
pub fn is_installed() -> bool {
    INSTALLED.load(Ordering::Acquire)
}

/// The identity of the tokio task being polled on this thread (also the
/// blocking task of a `spawn_blocking` closure), or `None` outside any tokio
/// task (or if its id cannot be mapped, see [`unit_of`]). Works whether or
/// not [`install()`] was called; it is what the installed provider reports.
///
/// ```
/// assert_eq!(polysync_tokio::current_task_unit(), None); // a plain thread
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// rt.block_on(async {
///     // `block_on`'s own future is not a task.
///     assert_eq!(polysync_tokio::current_task_unit(), None);
///     let task = tokio::spawn(async { polysync_tokio::current_task_unit() });
///     let id = task.id();
///     assert_eq!(task.await.unwrap(), polysync_tokio::unit_of(id));
/// });
/// ```
#[inline]
pub fn current_task_unit() -> Option<UnitId> {
    let id = tokio::task::try_id()?;
    LAST.try_with(|last| match last.get() {
        Some((seen, unit)) if seen == id => unit,
        _ => {
            let unit = unit_of(id);
            last.set(Some((id, unit)));
            unit
        }
    })
    // Thread-locals are being torn down: compute without the cache.
    .unwrap_or_else(|_| unit_of(id))
}

std::thread_local! {
    /// The last tokio task id mapped on this thread, and its identity. A
    /// pure cache: the mapping never changes, so it is never invalidated.
    static LAST: Cell<Option<(tokio::task::Id, Option<UnitId>)>> = const { Cell::new(None) };
}

/// The identity polysync gives the tokio task `id` once [`install()`]ed:
/// [`UnitId::from_task_counter`] of the number in the id (`2^62 | n`, one to
/// one), or `None` if the id is not a plain decimal number below `2^62`
/// (tokio 1.x ids always are). Use it with [`JoinHandle::id`] to recognise a
/// task from outside, for instance as a lock's
/// [`owner`](polysync::RLock::owner).
///
/// [`JoinHandle::id`]: https://docs.rs/tokio/1/tokio/task/struct.JoinHandle.html#method.id
///
/// ```
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// rt.block_on(async {
///     let a = tokio::spawn(async {});
///     let b = tokio::spawn(async {});
///     let ua = polysync_tokio::unit_of(a.id()).unwrap();
///     let ub = polysync_tokio::unit_of(b.id()).unwrap();
///     assert_ne!(ua, ub);
///     assert_eq!(ua.get() >> 62, 1); // the task-counter half
///     assert_eq!(Some(ua), polysync_tokio::unit_of(a.id())); // stable
/// });
/// ```
pub fn unit_of(id: tokio::task::Id) -> Option<UnitId> {
    unit_of_number(task_number(id)?)
}

/// The identity of the tokio task numbered `n`.
fn unit_of_number(n: u64) -> Option<UnitId> {
    // SAFETY: `n` is the number of a tokio task id, from tokio's one
    // process-wide counter that never repeats a value (see the `unsafe impl`
    // of `TaskIdentity` above); this crate maps no other counter.
    #[allow(unsafe_code)]
    unsafe {
        UnitId::from_task_counter(n)
    }
}

/// The number inside `id`, read from its `Display` text without allocating;
/// `None` if it is not a plain decimal `u64`.
fn task_number(id: tokio::task::Id) -> Option<u64> {
    let mut sink = DecimalSink::new();
    // `DecimalSink::write_str` never fails.
    let _ = write!(sink, "{id}");
    sink.finish()
}

/// A [`fmt::Write`] sink that parses a decimal `u64` from the text written
/// into it.
struct DecimalSink {
    value: u64,
    digits: u32,
    decimal: bool,
}

impl DecimalSink {
    const fn new() -> DecimalSink {
        DecimalSink {
            value: 0,
            digits: 0,
            decimal: true,
        }
    }

    fn finish(&self) -> Option<u64> {
        (self.decimal && self.digits > 0).then_some(self.value)
    }
}

impl fmt::Write for DecimalSink {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &byte in s.as_bytes() {
            if !self.decimal {
                break;
            }
            let next = byte
                .is_ascii_digit()
                .then(|| self.value.checked_mul(10))
                .flatten()
                .and_then(|v| v.checked_add(u64::from(byte - b'0')));
            match next {
                Some(v) => {
                    self.value = v;
                    self.digits += 1;
                }
                None => self.decimal = false,
            }
        }
        Ok(())
    }
}

/// The README's examples, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    use super::{DecimalSink, unit_of_number};
    use std::fmt::Write as _;

    fn parse(parts: &[&str]) -> Option<u64> {
        let mut sink = DecimalSink::new();
        for part in parts {
            sink.write_str(part).unwrap();
        }
        sink.finish()
    }

    #[test]
    fn decimal_text_gives_its_number() {
        assert_eq!(parse(&["1"]), Some(1));
        assert_eq!(parse(&["12", "34"]), Some(1234)); // split writes
        assert_eq!(parse(&[&u64::MAX.to_string()]), Some(u64::MAX));
    }

    #[test]
    fn other_text_gives_no_number() {
        assert_eq!(parse(&["Id(5)"]), None);
        assert_eq!(parse(&["Id(", "5)"]), None);
        assert_eq!(parse(&[""]), None);
        assert_eq!(parse(&["18446744073709551616"]), None); // u64::MAX + 1
    }

    /// The mapping is one to one: task numbers that used to share an
    /// identity (2^30 apart) no longer do, and numbers out of range get none
    /// rather than a folded one.
    #[test]
    fn task_numbers_map_one_to_one() {
        let numbers = [
            1,
            2,
            5,
            (1 << 30) + 5,
            3 * (1 << 30) + 5,
            1 << 32,
            (1 << 62) - 1,
        ];
        let units: Vec<_> = numbers
            .iter()
            .map(|&n| unit_of_number(n).unwrap())
            .collect();
        for (i, a) in units.iter().enumerate() {
            assert_eq!(a.get() >> 62, 1, "{a:?} is in the task half");
            for b in &units[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(unit_of_number(1 << 62), None);
        assert_eq!(unit_of_number(u64::MAX), None);
    }
}
