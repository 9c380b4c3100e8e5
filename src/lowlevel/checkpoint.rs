//! Trio-style checkpoints: an async wait that did not have to wait may still
//! yield to its executor once, so that a task that acquires uncontended
//! primitives in a loop cannot starve the other tasks of its thread.
//!
//! # The rules
//!
//! - An async wait takes its checkpoint on its first poll, **before** it
//!   attempts anything, when checkpoints are on: if the checkpoint says
//!   yield, that poll returns `Pending` (having arranged its own wake-up)
//!   without taking anything, and the next poll attempts at once. So a wait
//!   that did not have to wait (the lock free, the permit there, the event
//!   set, ...) yields at most once, and never while it holds what it took
//!   (a lock taken and then held across a yield would block every other
//!   unit for a whole scheduling round). With checkpoints off it does not
//!   yield. (An `RLock` re-entry, whose task holds the lock already, takes
//!   its level first and then its checkpoint.)
//! - A wait that did wait never yields a second time: its `Pending` while
//!   it waited was the yield.
//! - `try_*` forms never yield; blocking forms on OS threads never do.
//! - Green threads run on a budget, like tokio's tasks: when checkpoints
//!   are on for its backend, a blocking call that finds the last 128 calls
//!   in a row did not wait first calls the waiter's [`Waiter::checkpoint`]
//!   (a `may` coroutine yields, a green-thread hub requeues), before it
//!   takes anything; a call that waited (and so yielded) refills the
//!   budget.
//! - A future dropped while it yields at its checkpoint held nothing, so
//!   nothing changes (a dropped re-entry gives its level back).
//!
//! # Who decides
//!
//! For the code being polled, the first answer found wins:
//!
//! 1. a scoped override: [`scoped`] (for one future, e.g. a task) or
//!    [`with_checkpoints`] (for the futures polled inside a block of code);
//!    async code only;
//! 2. the environment, read once: `POLYSYNC_<NAME>_CHECKPOINTS=0|1` for the
//!    executor or green backend the code runs in (`<NAME>` is its
//!    [`CheckpointPolicy::name`] or [`GreenBackend::name`], upper-cased, for
//!    instance `POLYSYNC_TOKIO_CHECKPOINTS`), then `POLYSYNC_CHECKPOINTS=0|1`;
//! 3. the default of the executor's [`CheckpointPolicy`] or of the green
//!    backend; off for every other executor.
//!
//! What a checkpoint does is the executor's to say: a registered
//! [`CheckpointPolicy`] (polysync-tokio's spends tokio's coop budget, so a
//! task yields only once its budget is used up, as tokio's own primitives
//! do); without one, the future wakes itself and returns `Pending` once.
//!
//! # Cost
//!
//! While nothing turned checkpoints on (no policy registered, no variable
//! set to 1, no override used), an async wait pays one relaxed atomic load
//! on its fast path.
//!
//! [`Waiter::checkpoint`]: super::Waiter::checkpoint
//! [`GreenBackend::name`]: super::GreenBackend::name

use super::backend::RegistryFull;
use super::sync::per_thread;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::task::{Context, Poll};

/// An executor's checkpoint for the async waits of its tasks.
///
/// ```
/// use polysync::lowlevel::checkpoint::{CheckpointPolicy, register_checkpoint_policy};
/// use std::task::{Context, Poll};
///
/// /// An executor that wants a yield after every uncontended wait, but only
/// /// inside its own tasks (a real policy asks its executor).
/// struct Always;
/// impl CheckpointPolicy for Always {
///     fn name(&self) -> &'static str { "always" }
///     fn claims(&self) -> bool { false } // none of our tasks run in this example
///     fn on_by_default(&self) -> bool { true }
///     fn poll_checkpoint(&self, cx: &mut Context<'_>) -> Poll<()> {
///         cx.waker().wake_by_ref();
///         Poll::Pending
///     }
/// }
/// static ALWAYS: Always = Always;
/// register_checkpoint_policy(&ALWAYS).unwrap();
/// ```
pub trait CheckpointPolicy: Send + Sync + 'static {
    /// A short name, for `POLYSYNC_<NAME>_CHECKPOINTS` (upper-cased, every
    /// character that is not a letter or digit replaced by `_`).
    fn name(&self) -> &'static str;

    /// Whether the code being polled on this thread runs in one of this
    /// executor's tasks. Asked on every checkpoint while checkpoints are
    /// active: keep it cheap (a thread-local read).
    fn claims(&self) -> bool;

    /// Whether checkpoints are on for this executor's tasks when no
    /// override or variable says otherwise.
    fn on_by_default(&self) -> bool;

    /// The checkpoint of a wait that completed without waiting:
    /// `Poll::Ready(())` to go on without yielding now, or `Poll::Pending`
    /// to yield once (having arranged for the task to be woken).
    fn poll_checkpoint(&self, cx: &mut Context<'_>) -> Poll<()>;
}

const SLOTS: usize = 4;

/// A registered policy and what the environment says about it.
struct Registered {
    policy: &'static dyn CheckpointPolicy,
    /// `POLYSYNC_<NAME>_CHECKPOINTS`, read when it registered.
    env: Option<bool>,
}

static POLICIES: [OnceLock<Registered>; SLOTS] = [
    OnceLock::new(),
    OnceLock::new(),
    OnceLock::new(),
    OnceLock::new(),
];
static POLICY_COUNT: AtomicUsize = AtomicUsize::new(0);

/// Registers an executor's checkpoint policy for the whole process.
/// Registering the same policy twice is a no-op; policies are asked in
/// registration order, and the first that [claims](CheckpointPolicy::claims)
/// the code being polled decides.
///
/// # Errors
/// [`RegistryFull`] when four other policies are registered already.
pub fn register_checkpoint_policy(
    policy: &'static dyn CheckpointPolicy,
) -> Result<(), RegistryFull> {
    let same = |r: &Registered| std::ptr::addr_eq(r.policy as *const dyn CheckpointPolicy, policy);
    for slot in &POLICIES {
        if let Some(existing) = slot.get() {
            if same(existing) {
                return Ok(());
            }
            continue;
        }
        let env = env_for(policy.name());
        if slot.set(Registered { policy, env }).is_ok() {
            POLICY_COUNT.fetch_add(1, Ordering::Release);
            activate();
            return Ok(());
        }
        if slot.get().is_some_and(same) {
            return Ok(());
        }
    }
    Err(RegistryFull)
}

/// Unknown until the first checkpoint reads the environment.
const UNKNOWN: u8 = 0;
/// Nothing can turn a checkpoint on: the fast path returns at once.
const INACTIVE: u8 = 1;
/// Something might: take the slow path.
const ACTIVE: u8 = 2;
static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);

fn activate() {
    STATE.store(ACTIVE, Ordering::Relaxed);
}

/// `POLYSYNC_CHECKPOINTS`, read once.
fn global_env() -> Option<bool> {
    static GLOBAL: OnceLock<Option<bool>> = OnceLock::new();
    *GLOBAL.get_or_init(|| parse(std::env::var_os("POLYSYNC_CHECKPOINTS")))
}

/// `POLYSYNC_<NAME>_CHECKPOINTS` for a backend or executor named `name`.
pub(crate) fn env_for(name: &str) -> Option<bool> {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    parse(std::env::var_os(format!("POLYSYNC_{name}_CHECKPOINTS")))
}

/// `0`/`off`/`false` or `1`/`on`/`true`; anything else counts as unset.
fn parse(value: Option<std::ffi::OsString>) -> Option<bool> {
    match value?.to_str()?.trim() {
        "1" | "on" | "true" => Some(true),
        "0" | "off" | "false" => Some(false),
        _ => None,
    }
}

/// Reads `POLYSYNC_CHECKPOINTS` once and settles whether checkpoints can
/// ever be on. A `POLYSYNC_<NAME>_CHECKPOINTS` variable matters only for a
/// registered policy or green backend, which reads its own when it
/// registers (a policy also activates checkpoints then); scanning every
/// variable here would allocate on some waiter's first poll.
#[cold]
fn first_use() -> u8 {
    let state = if global_env() == Some(true) {
        ACTIVE
    } else {
        INACTIVE
    };
    // A policy or an override may have activated them meanwhile: never
    // downgrade.
    match STATE.compare_exchange(UNKNOWN, state, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => state,
        Err(seen) => seen,
    }
}

per_thread! {
    /// The innermost scoped override of the code being polled on this
    /// thread (see [`scoped`], [`with_checkpoints`]).
    static OVERRIDE: Cell<Option<bool>> = const { Cell::new(None) };
}

per_thread! {
    /// Set while a blocking driver polls a future on this thread: blocking
    /// forms never take an async checkpoint.
    static BLOCKING_POLL: Cell<bool> = const { Cell::new(false) };
}

/// Runs `poll` as a blocking driver's poll (no async checkpoint inside).
#[inline]
pub(crate) fn as_blocking<R>(poll: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = BLOCKING_POLL.try_with(|b| b.set(self.0));
        }
    }
    let outer = BLOCKING_POLL.try_with(|b| b.replace(true)).unwrap_or(false);
    let _restore = Restore(outer);
    poll()
}

/// Sets the scoped override to `on` while `f` runs.
fn overriding<R>(on: Option<bool>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<bool>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = OVERRIDE.try_with(|o| o.set(self.0));
        }
    }
    if on == Some(true) {
        activate();
    }
    let outer = OVERRIDE.try_with(|o| o.replace(on)).unwrap_or(None);
    let _restore = Restore(outer);
    f()
}

/// The async checkpoint of a wait that completed without waiting:
/// `Pending` means "yield now" (the waker was arranged), `Ready` means go
/// on. One relaxed load while checkpoints are inactive.
#[inline]
pub(crate) fn poll(cx: &mut Context<'_>) -> Poll<()> {
    if STATE.load(Ordering::Relaxed) == INACTIVE {
        return Poll::Ready(());
    }
    poll_slow(cx)
}

#[cold]
#[inline(never)]
fn poll_slow(cx: &mut Context<'_>) -> Poll<()> {
    if STATE.load(Ordering::Relaxed) == UNKNOWN && first_use() == INACTIVE {
        return Poll::Ready(());
    }
    if BLOCKING_POLL.try_with(Cell::get).unwrap_or(true) {
        return Poll::Ready(());
    }
    match decide() {
        (false, _) => Poll::Ready(()),
        (true, Some(policy)) => policy.poll_checkpoint(cx),
        (true, None) => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Whether checkpoints are on for the async code polled here, and the
/// policy (if any) that runs them.
fn decide() -> (bool, Option<&'static dyn CheckpointPolicy>) {
    let scoped = OVERRIDE.try_with(Cell::get).unwrap_or(None);
    if POLICY_COUNT.load(Ordering::Acquire) != 0 {
        for slot in &POLICIES {
            let Some(r) = slot.get() else { continue };
            if r.policy.claims() {
                let on = scoped
                    .or(r.env)
                    .or(global_env())
                    .unwrap_or_else(|| r.policy.on_by_default());
                return (on, Some(r.policy));
            }
        }
    }
    (scoped.or(global_env()).unwrap_or(false), None)
}

/// Whether an async wait polled here, right now, would take its checkpoint
/// (after completing without waiting). For diagnostics and tests.
///
/// ```
/// use polysync::lowlevel::checkpoint::{enabled, with_checkpoints};
/// assert!(with_checkpoints(true, enabled));
/// assert!(!with_checkpoints(false, enabled));
/// ```
pub fn enabled() -> bool {
    if STATE.load(Ordering::Relaxed) == UNKNOWN {
        first_use();
    }
    decide().0
}

/// Runs `f` with checkpoints turned `on` (or off) for the async waits
/// polled inside it on this thread, whatever the executor's policy and the
/// environment say. For async code driven from inside `f` (a `block_on`, a
/// test that polls by hand); to set it for one task, wrap the task's future
/// in [`scoped`] instead. Green threads and blocking forms ignore it.
///
/// ```
/// use polysync::lowlevel::checkpoint::with_checkpoints;
/// use std::pin::pin;
/// use std::task::{Context, Poll, Waker};
///
/// let lock = polysync::Lock::new();
/// let mut cx = Context::from_waker(Waker::noop());
/// with_checkpoints(true, || {
///     let mut acquire = pin!(lock.acquire());
///     assert!(acquire.as_mut().poll(&mut cx).is_pending()); // the checkpoint
///     assert!(!lock.is_locked()); // the checkpoint comes first: nothing taken yet
///     let Poll::Ready(guard) = acquire.poll(&mut cx) else { unreachable!() };
///     drop(guard);
/// });
/// ```
pub fn with_checkpoints<R>(on: bool, f: impl FnOnce() -> R) -> R {
    overriding(Some(on), f)
}

/// Wraps a future (a task, say) so that checkpoints are `on` (or off) for
/// every async wait polled inside it, whatever the executor's policy and
/// the environment say. An inner `scoped` wins over an outer one.
///
/// ```
/// use polysync::lowlevel::checkpoint::scoped;
/// use std::pin::pin;
/// use std::task::{Context, Waker};
///
/// let lock = polysync::Lock::new();
/// let mut cx = Context::from_waker(Waker::noop());
/// // On for this task: its uncontended acquire yields once.
/// let mut task = pin!(scoped(true, async { drop(lock.acquire().await) }));
/// assert!(task.as_mut().poll(&mut cx).is_pending());
/// assert!(task.as_mut().poll(&mut cx).is_ready());
/// // Off: one poll.
/// let mut task = pin!(scoped(false, async { drop(lock.acquire().await) }));
/// assert!(task.as_mut().poll(&mut cx).is_ready());
/// ```
pub fn scoped<F: Future>(on: bool, fut: F) -> Scoped<F> {
    if on {
        activate();
    }
    Scoped { on, fut }
}

/// The future of [`scoped`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Scoped<F> {
    on: bool,
    fut: F,
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: only `this.fut` is pinned below, and nothing moves it or
        // `self` (`on` is a plain `bool`, read by copy).
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: `fut` is structurally pinned: it lives in the pinned
        // `Scoped`, is never moved out of it, and is dropped in place with
        // it (`Scoped` has no `Drop` that could move it, and is not `Unpin`
        // unless `F` is).
        let fut = unsafe { Pin::new_unchecked(&mut this.fut) };
        overriding(Some(this.on), || fut.poll(cx))
    }
}

per_thread! {
    /// Set by the blocking driver after each suspension on this thread:
    /// whether the blocking call in progress had to wait (see
    /// [`green_call`]). Read and written only between suspensions, on the
    /// thread the green unit runs on at that moment.
    static WAITED: Cell<bool> = const { Cell::new(false) };
}

/// Records that a blocking call waited (called right after a suspension).
#[inline(never)]
pub(crate) fn note_waited() {
    let _ = WAITED.try_with(|w| w.set(true));
}

#[inline(never)]
fn reset_waited() {
    let _ = WAITED.try_with(|w| w.set(false));
}

#[inline(never)]
fn waited() -> bool {
    WAITED.try_with(Cell::get).unwrap_or(true)
}

/// How many blocking calls that did not wait a green unit makes between
/// two checkpoints (tokio's coop budget is 128 too).
pub(crate) const GREEN_BUDGET: u32 = 128;

per_thread! {
    /// Blocking calls left before the next green checkpoint on this thread
    /// (a budget per carrier thread: a unit that loops without waiting
    /// spends it alone, since its siblings do not run meanwhile).
    static BUDGET: Cell<u32> = const { Cell::new(GREEN_BUDGET) };
}

/// Spends one unit of this thread's green budget for the call about to be
/// made; `true` when none was left: the caller takes its checkpoint first
/// (before the call, so never while holding what the call takes), and the
/// budget starts over.
#[inline(never)]
pub(crate) fn spend_budget() -> bool {
    BUDGET
        .try_with(|b| match b.get() {
            0 => {
                b.set(GREEN_BUDGET - 1);
                true
            }
            left => {
                b.set(left - 1);
                false
            }
        })
        .unwrap_or(false)
}

/// A unit that waited yielded anyway: a fresh budget.
#[inline(never)]
fn refill_budget() {
    let _ = BUDGET.try_with(|b| b.set(GREEN_BUDGET));
}

/// Runs a green unit's blocking call `f`, keeping its checkpoint budget
/// if checkpoints are `on` for its backend: each call spends one unit, and
/// a call that finds none left takes the waiter's checkpoint **before** it
/// runs (a yield while holding a lock would convoy everyone behind it); a
/// call that had to wait (and so yielded anyway) refills the budget. So a
/// unit yields once per [`GREEN_BUDGET`] calls in a row that did not wait.
/// `on` comes from the backend's slot (environment, then its default).
///
/// (A budget rather than a yield after every call that did not wait:
/// measured with may, a yield per uncontended call made a coroutine
/// channel 3.4x slower than may's own, and a yield after the call, with
/// the lock held, a contended lock 1.5x slower; see BENCHMARKS.md. A hot
/// loop still lets its siblings run every 128 calls.)
pub(crate) fn green_call<R>(on: bool, waiter: &dyn super::Waiter, f: impl FnOnce() -> R) -> R {
    if !on {
        return f();
    }
    if spend_budget() {
        waiter.checkpoint();
    }
    reset_waited();
    let out = f();
    // No suspension since `waited()` last changed: this is still the thread
    // the unit ran `f` on, or the one its last suspension resumed it on,
    // which set the flag after resuming.
    if waited() {
        refill_budget();
    }
    out
}

/// Whether checkpoints are on for a green backend named `name` whose
/// default is `default`: `POLYSYNC_<NAME>_CHECKPOINTS`, then
/// `POLYSYNC_CHECKPOINTS`, then the default.
pub(crate) fn green_on(name: &str, default: bool) -> bool {
    env_for(name).or(global_env()).unwrap_or(default)
}
