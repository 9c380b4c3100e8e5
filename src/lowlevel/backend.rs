//! The registry of green-thread backends. Every blocking call asks, at the
//! moment it must suspend, which execution unit it runs in, and every
//! identity lookup asks who that unit is. The answer is never cached: a
//! `may` coroutine can resume on another OS thread.
//!
//! # The innermost unit wins
//!
//! Execution units nest on one OS thread: a hub's green thread can run
//! inside a tokio `spawn_blocking` closure, a tokio task can be polled on a
//! green thread's stack, an [`Identified`](crate::lowlevel::Identified)
//! future can be polled anywhere. The answer is always the **innermost**
//! unit, and it does not depend on the order in which backends registered.
//! The registry makes that structural, in three layers asked from the
//! inside out:
//!
//! 1. the [`Identified`](crate::lowlevel::Identified) future being polled
//!    (identity only: it has no waiter of its own);
//! 2. the green unit that runs, asked of the [`BackendKind::Green`]
//!    backends (stack-switching worlds: may, corosensei, yours), unless a
//!    task was entered *inside* it (see [`scheduling`](super::scheduling));
//! 3. thread-level context: the task of a [`TaskIdentity`] provider, and
//!    for waits the [`BackendKind::ThreadPolicy`] backends (tokio's policy
//!    for blocking on a runtime thread), which are asked only after every
//!    green backend declined, whatever the registration order;
//!
//! then the OS thread. A green unit's scheduler that starts inside
//! thread-level context (a hub in `spawn_blocking`) records that context
//! as outer with [`scheduling`](super::scheduling), so it never passes for
//! the green units.
//!
//! Backends (`polysync-may`, `polysync-corosensei`, `polysync-tokio`, or a
//! user's own) register once with [`register_backend`] (the polysync
//! backend crates do it themselves when they are linked). Primitives are
//! not touched.

use super::identity::UnitId;
use super::thread::ThreadWaiter;
use super::waiter::Waiter;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// A green-thread world that can claim the current execution unit.
///
/// # Safety
/// [`current_unit`](GreenBackend::current_unit) decides who owns reentrant
/// locks and limiter tokens, so an implementation must keep identities
/// unique: it returns `Some(id)` only when the caller runs in one of this
/// backend's units; it returns the same `id` for that unit every time, for
/// the unit's whole life; and it never gives an `id` to a second unit, nor
/// one that any other unit (a thread, a task, another backend's unit) has:
/// not while both live, and not after the first one ended either (what it
/// acquired may still be held). Allocate each unit's identity once with
/// [`UnitId::allocate`] and keep it with the unit. Two units sharing an
/// identity could both enter an [`RMutex`](crate::RMutex) at once: a data
/// race in safe code. [`with_waiter`](GreenBackend::with_waiter) has no
/// such requirement.
///
/// A toy green world: code that runs inside `in_unit(..)` is one unit, with
/// its own identity and a waiter that counts its sleeps (a real backend
/// would switch to its scheduler instead of sleeping the thread). A
/// blocking call made inside it goes through that waiter:
///
/// ```
/// use polysync::lowlevel::{
///     GreenBackend, ThreadWaiter, UnitId, WaitResult, Waiter, current_unit, register_backend,
/// };
/// use std::cell::Cell;
/// use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
/// use std::task::Waker;
/// use std::time::Instant;
///
/// thread_local! {
///     /// The unit running on this thread, if any.
///     static UNIT: Cell<Option<UnitId>> = const { Cell::new(None) };
/// }
/// static SLEEPS: AtomicUsize = AtomicUsize::new(0);
///
/// struct ToyWaiter;
/// impl Waiter for ToyWaiter {
///     fn waker(&self) -> Waker {
///         ThreadWaiter::with_current(|w| w.waker())
///     }
///     fn wait(&self, deadline: Option<Instant>) -> WaitResult {
///         SLEEPS.fetch_add(1, Ordering::Relaxed);
///         ThreadWaiter::with_current(|w| w.wait(deadline))
///     }
/// }
///
/// struct Toy;
/// // SAFETY: each unit's identity comes from `UnitId::allocate` once, is
/// // reported only while that unit runs, and is never given to another.
/// unsafe impl GreenBackend for Toy {
///     fn name(&self) -> &'static str { "toy" }
///     fn with_waiter(&self, f: &mut dyn FnMut(&dyn Waiter)) -> bool {
///         if UNIT.get().is_none() {
///             return false; // not ours: the next backend, or the OS thread
///         }
///         f(&ToyWaiter);
///         true
///     }
///     fn current_unit(&self) -> Option<UnitId> { UNIT.get() }
/// }
///
/// fn in_unit<R>(body: impl FnOnce() -> R) -> R {
///     UNIT.set(Some(UnitId::allocate()));
///     let out = body();
///     UNIT.set(None);
///     out
/// }
///
/// static TOY: Toy = Toy;
/// register_backend(&TOY).unwrap();
///
/// let sem = polysync::Semaphore::new(0);
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         while sem.waiting() == 0 {
///             std::thread::yield_now();
///         }
///         sem.release(1);
///     });
///     in_unit(|| {
///         assert_ne!(current_unit(), UnitId::current_thread()); // the unit, not the thread
///         sem.acquire_blocking().unwrap().forget(); // waits through ToyWaiter
///     });
/// });
/// assert!(SLEEPS.load(Ordering::Relaxed) >= 1);
/// ```
///
/// Implementing it takes `unsafe`:
///
/// ```compile_fail,E0200
/// use polysync::lowlevel::{GreenBackend, UnitId, Waiter};
/// struct Liar;
/// impl GreenBackend for Liar {
///     fn name(&self) -> &'static str { "liar" }
///     fn with_waiter(&self, _f: &mut dyn FnMut(&dyn Waiter)) -> bool { false }
///     fn current_unit(&self) -> Option<UnitId> { Some(UnitId::current_thread()) }
/// }
/// ```
pub unsafe trait GreenBackend: Send + Sync + 'static {
    /// A short name for diagnostics, such as `"may"`.
    fn name(&self) -> &'static str;

    /// If the caller runs in one of this backend's units, runs `f` once with
    /// that unit's waiter and returns `true`; otherwise returns `false`
    /// without calling `f`.
    fn with_waiter(&self, f: &mut dyn FnMut(&dyn Waiter)) -> bool;

    /// The identity of the caller's unit, if it is one of this backend's.
    /// See the trait's `# Safety` section: allocate identities with
    /// [`UnitId::allocate`], one per unit, never shared or reused.
    fn current_unit(&self) -> Option<UnitId>;

    /// Whether a blocking call of this backend's units that did not have to
    /// wait takes a checkpoint ([`Waiter::checkpoint`]) unless
    /// `POLYSYNC_<NAME>_CHECKPOINTS` or `POLYSYNC_CHECKPOINTS` says
    /// otherwise (see [`checkpoint`](super::checkpoint)). The default is
    /// `false`.
    fn checkpoints_by_default(&self) -> bool {
        false
    }

    /// Where this backend stands in the registry: a green world of its own
    /// ([`BackendKind::Green`], the default), or a policy for the OS
    /// thread's own waits ([`BackendKind::ThreadPolicy`]), asked only when
    /// no green backend claims the caller, whatever the registration order.
    /// Asked once, when it registers. See
    /// [the innermost unit wins](BackendKind#the-innermost-unit-wins).
    ///
    /// A green backend whose scheduler can run on a thread that carries
    /// other context (a tokio blocking task, an `identified` poll) drives
    /// its units inside [`scheduling`](crate::lowlevel::scheduling), so that
    /// this context is never taken for one of its units.
    fn kind(&self) -> BackendKind {
        BackendKind::Green
    }
}

/// The layer of the registry a [`GreenBackend`] belongs to (see
/// [`GreenBackend::kind`]): what makes "the innermost unit wins" hold
/// whatever order backends register in.
///
/// # The innermost unit wins
///
/// Units nest on one OS thread (a hub's green thread inside a tokio
/// `spawn_blocking` closure, a tokio task polled on a green thread's stack,
/// an [`Identified`](crate::lowlevel::Identified) future polled anywhere).
/// Every blocking call and identity lookup gets the innermost one, asked
/// from the inside out: the `Identified` future being polled (identity
/// only); the green unit that runs ([`Green`](BackendKind::Green)
/// backends), unless a task was entered inside it; thread-level context (a
/// [`TaskIdentity`] provider's task, and for waits the
/// [`ThreadPolicy`](BackendKind::ThreadPolicy) backends, asked only after
/// every green backend declined); the OS thread. A scheduler started under
/// thread-level context records it as outer with
/// [`scheduling`](crate::lowlevel::scheduling), so it never passes for its
/// green units.
///
/// ```
/// use polysync::lowlevel::{BackendKind, GreenBackend, UnitId, Waiter};
///
/// /// A policy for the OS thread's own waits (say, one that logs them).
/// struct Policy;
/// // SAFETY: `current_unit` never reports an identity.
/// unsafe impl GreenBackend for Policy {
///     fn name(&self) -> &'static str { "policy" }
///     fn with_waiter(&self, _f: &mut dyn FnMut(&dyn Waiter)) -> bool { false }
///     fn current_unit(&self) -> Option<UnitId> { None }
///     fn kind(&self) -> BackendKind { BackendKind::ThreadPolicy }
/// }
/// assert_eq!(Policy.kind(), BackendKind::ThreadPolicy);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum BackendKind {
    /// A world of green units with stacks of their own (may coroutines, a
    /// corosensei hub's green threads): it claims the caller only while one
    /// of its units runs, and then that unit is the innermost one (unless a
    /// task was entered inside it). Asked first, in registration order.
    #[default]
    Green,
    /// A policy for blocking calls of the OS thread itself, claimed by
    /// thread-level context (polysync-tokio's `TokioBlocking` claims threads
    /// with a tokio context). Asked only after every green backend declined
    /// (a green thread of a hub that runs under that context is the
    /// innermost unit, with its own waiter), and never asked for an
    /// identity: its [`current_unit`](GreenBackend::current_unit) is
    /// ignored.
    ThreadPolicy,
}

const SLOTS: usize = 4;

/// One layer of the registry: its backends, in registration order, and per
/// slot whether its units take checkpoints (the environment, then the
/// backend's default), settled when it registers.
struct Layer {
    slots: [OnceLock<&'static dyn GreenBackend>; SLOTS],
    checkpoints: [OnceLock<bool>; SLOTS],
}

impl Layer {
    const fn new() -> Layer {
        Layer {
            slots: [const { OnceLock::new() }; SLOTS],
            checkpoints: [const { OnceLock::new() }; SLOTS],
        }
    }

    /// Whether any backend is registered here. Slots fill in order, so the
    /// first one says. Read from the slot itself, not from a counter bumped
    /// after it: a second `register_backend` of the same backend returns as
    /// soon as it sees the slot, and its caller's next blocking call must
    /// find the backend.
    #[inline]
    fn any(&self) -> bool {
        self.slots[0].get().is_some()
    }

    fn checkpoints_on(&self, index: usize, backend: &dyn GreenBackend) -> bool {
        *self.checkpoints[index].get_or_init(|| {
            super::checkpoint::green_on(backend.name(), backend.checkpoints_by_default())
        })
    }

    /// Runs `f` with the waiter of the first backend of this layer that
    /// claims the caller (its checkpoint policy applied); `None` (and `f`
    /// left in place) when none does.
    fn with_waiter<R>(&self, f: &mut Option<impl FnOnce(&dyn Waiter) -> R>) -> Option<R> {
        for (index, slot) in self.slots.iter().enumerate() {
            let Some(backend) = slot.get() else { break };
            let mut out = None;
            let claimed = backend.with_waiter(&mut |waiter| {
                if let Some(f) = f.take() {
                    let on = self.checkpoints_on(index, *backend);
                    out = Some(super::checkpoint::green_call(on, waiter, || f(waiter)));
                }
            });
            if claimed && out.is_some() {
                return out;
            }
        }
        None
    }
}

/// Stack-switching worlds ([`BackendKind::Green`]), asked first.
static GREEN: Layer = Layer::new();
/// Policies for the OS thread's own waits ([`BackendKind::ThreadPolicy`]),
/// asked only when no green backend claims the caller.
static THREAD_POLICIES: Layer = Layer::new();

/// Whether any registered backend's units take checkpoints: what the
/// blocking fast paths read (one load) before they look for a green unit.
static GREEN_CHECKPOINTS_ANY: AtomicBool = AtomicBool::new(false);

/// [`register_backend`] found every slot taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryFull;

impl std::fmt::Display for RegistryFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "polysync: at most {SLOTS} green backends can be registered"
        )
    }
}

impl std::error::Error for RegistryFull {}

/// Registers a green backend for the whole process. Registering the same
/// backend twice is a no-op. Backends of one [`kind`](GreenBackend::kind)
/// are asked in registration order; every [`BackendKind::Green`] backend is
/// asked before any [`BackendKind::ThreadPolicy`] one, whatever the order
/// they registered in (see
/// [the innermost unit wins](BackendKind#the-innermost-unit-wins)).
///
/// # Errors
/// [`RegistryFull`] when four other backends of the same kind are
/// registered already.
pub fn register_backend(backend: &'static dyn GreenBackend) -> Result<(), RegistryFull> {
    let layer = match backend.kind() {
        BackendKind::Green => &GREEN,
        BackendKind::ThreadPolicy => &THREAD_POLICIES,
    };
    let same =
        |b: &&'static dyn GreenBackend| std::ptr::addr_eq(*b as *const dyn GreenBackend, backend);
    for (index, slot) in layer.slots.iter().enumerate() {
        if let Some(existing) = slot.get() {
            if same(existing) {
                return Ok(());
            }
            continue;
        }
        if slot.set(backend).is_ok() {
            // Settle its checkpoints now: the blocking fast paths ask only
            // whether any backend takes them (see `green_checkpoint`).
            if layer.checkpoints_on(index, backend) {
                GREEN_CHECKPOINTS_ANY.store(true, Ordering::Release);
            }
            return Ok(());
        }
        // Lost a race for this slot: look at it again.
        if slot.get().is_some_and(same) {
            return Ok(());
        }
    }
    Err(RegistryFull)
}

/// The names of the registered backends, in the order they are asked: the
/// [`BackendKind::Green`] ones, then the [`BackendKind::ThreadPolicy`] ones.
///
/// ```
/// assert!(polysync::lowlevel::registered_backends().all(|name| !name.is_empty()));
/// ```
pub fn registered_backends() -> impl Iterator<Item = &'static str> {
    GREEN
        .slots
        .iter()
        .chain(&THREAD_POLICIES.slots)
        .filter_map(|slot| slot.get().map(|b| b.name()))
}

/// The unit of the first green backend that claims the caller.
#[inline]
fn green_unit() -> Option<UnitId> {
    if !GREEN.any() {
        return None;
    }
    GREEN
        .slots
        .iter()
        .map_while(|slot| slot.get())
        .find_map(|backend| backend.current_unit())
}

/// A task that a provider reports and that was entered inside the green
/// unit that runs (polled on its stack): any task but the one recorded as
/// outer by the innermost [`scheduling`](super::scheduling) scope. Only
/// meaningful while a green unit runs.
#[inline]
fn task_inside_green() -> Option<UnitId> {
    let task = provider_task()?;
    (super::identity::outer_task() != Some(task)).then_some(task)
}

/// Runs `f` with the waiter of the current execution unit: the innermost
/// green unit's, unless a task runs inside it; else the first thread policy
/// that claims the thread; else the OS thread's.
pub(crate) fn with_current_waiter<R>(f: impl FnOnce(&dyn Waiter) -> R) -> R {
    let mut f = Some(f);
    if GREEN.any() && task_inside_green().is_none() {
        if let Some(out) = GREEN.with_waiter(&mut f) {
            return out;
        }
    }
    if THREAD_POLICIES.any() {
        if let Some(out) = THREAD_POLICIES.with_waiter(&mut f) {
            return out;
        }
    }
    let f = f.expect("no backend ran the closure");
    ThreadWaiter::with_current(|waiter| f(waiter))
}

/// The checkpoint of a plain blocking form whose fast path completed
/// without asking for a waiter (a queue's uncontended put or get): in a
/// green unit whose backend takes checkpoints, its waiter's
/// [`Waiter::checkpoint`]. One atomic load unless a registered backend
/// takes checkpoints (the tokio backend, which claims runtime threads for
/// its blocking policy, takes none, so it costs tokio users nothing here).
#[inline]
pub(crate) fn green_checkpoint() {
    if GREEN_CHECKPOINTS_ANY.load(Ordering::Relaxed) && super::checkpoint::spend_budget() {
        green_checkpoint_now();
    }
}

/// The budget ran out on a fast path: if a backend that takes checkpoints
/// claims the caller, its waiter's checkpoint. The waiter is asked for only
/// now, not on every fast path (a may coroutine's waiter is made on first
/// use: asking for it on every uncontended call made a coroutine pay for
/// one it never waits with).
#[cold]
#[inline(never)]
fn green_checkpoint_now() {
    if task_inside_green().is_some() {
        return; // a task runs on the green unit's stack: not the unit's turn
    }
    for (index, slot) in GREEN.slots.iter().enumerate() {
        let Some(backend) = slot.get() else { break };
        let on = GREEN.checkpoints_on(index, *backend);
        let claimed = backend.with_waiter(&mut |waiter| {
            if on {
                waiter.checkpoint();
            }
        });
        if claimed {
            return;
        }
    }
}

/// The identity of the current execution unit, the innermost one (see
/// [the innermost unit wins](BackendKind#the-innermost-unit-wins)): the
/// [`Identified`] future being polled, else the green unit that runs (a
/// registered green backend's), unless a task was entered inside it, else
/// the task a registered task-identity provider reports (see
/// [`register_task_identity`]), else the OS thread.
///
/// Never cache it across a suspension: ask again after every `.await` or
/// blocking call.
///
/// ```
/// use polysync::lowlevel::{UnitId, current_unit, identified};
/// assert_eq!(current_unit(), UnitId::current_thread());
/// let task = identified(async { current_unit() });
/// let id = task.unit();
/// assert_eq!(futures_lite::future::block_on(task), id);
/// ```
///
/// [`Identified`]: crate::lowlevel::Identified
#[inline]
pub fn current_unit() -> UnitId {
    if let Some(task) = super::identity::polled_task() {
        return task;
    }
    if let Some(unit) = green_unit() {
        return task_inside_green().unwrap_or(unit);
    }
    match provider_task() {
        Some(task) => task,
        None => UnitId::current_thread(),
    }
}

/// A source of async task identities for one executor (for instance tokio's
/// task ids), asked by [`current_task`] when no
/// [`Identified`](crate::lowlevel::Identified) future is being polled.
///
/// # Safety
/// [`current_task`](TaskIdentity::current_task) decides who owns reentrant
/// locks and limiter tokens, so an implementation must keep identities
/// unique: it returns `Some(id)` only while one of its executor's tasks is
/// being polled (or runs) on the calling thread, and `id` is that task's;
/// it returns the same `id` for that task every time, for the task's whole
/// life (also after the task moves to another thread); and it never gives
/// an `id` to a second task, nor one that any other unit (a thread, a green
/// unit, another provider's task) has: not while both live, and not after
/// the first one ended either (what it acquired may still be held). Either
/// allocate one identity per task with [`UnitId::allocate`] and keep it with
/// the task, or map a process-wide task counter that never repeats with
/// [`UnitId::from_task_counter`] (under that function's contract). Two
/// tasks sharing an identity could both enter an [`RMutex`](crate::RMutex)
/// at once: a data race in safe code.
///
/// ```
/// use polysync::lowlevel::{TaskIdentity, UnitId, register_task_identity};
///
/// /// A provider that never recognises a task (a real one asks its executor).
/// struct NoTasks;
/// // SAFETY: `current_task` never reports an identity.
/// unsafe impl TaskIdentity for NoTasks {
///     fn name(&self) -> &'static str { "none" }
///     fn current_task(&self) -> Option<UnitId> { None }
/// }
/// static NO_TASKS: NoTasks = NoTasks;
/// register_task_identity(&NO_TASKS).unwrap();
/// assert_eq!(polysync::lowlevel::current_task(), None);
/// ```
///
/// Implementing it takes `unsafe`:
///
/// ```compile_fail,E0200
/// use polysync::lowlevel::{TaskIdentity, UnitId};
/// struct Liar;
/// impl TaskIdentity for Liar {
///     fn name(&self) -> &'static str { "liar" }
///     fn current_task(&self) -> Option<UnitId> { Some(UnitId::current_thread()) }
/// }
/// ```
pub unsafe trait TaskIdentity: Send + Sync + 'static {
    /// A short name for diagnostics, such as `"tokio"`.
    fn name(&self) -> &'static str;

    /// The identity of the task being polled on this thread, if this
    /// provider's executor is polling one. See the trait's `# Safety`
    /// section for what the identity must be.
    fn current_task(&self) -> Option<UnitId>;
}

static TASK_PROVIDERS: [OnceLock<&'static dyn TaskIdentity>; SLOTS] =
    [const { OnceLock::new() }; SLOTS];

/// Registers a task-identity provider for the whole process. Registering the
/// same provider twice is a no-op. Providers are asked in registration order.
///
/// ```
/// use polysync::lowlevel::{TaskIdentity, UnitId, register_task_identity};
/// struct Never;
/// // SAFETY: `current_task` never reports an identity.
/// unsafe impl TaskIdentity for Never {
///     fn name(&self) -> &'static str { "never" }
///     fn current_task(&self) -> Option<UnitId> { None }
/// }
/// static NEVER: Never = Never;
/// register_task_identity(&NEVER).unwrap();
/// register_task_identity(&NEVER).unwrap(); // no-op
/// ```
///
/// # Errors
/// [`RegistryFull`] when four other providers are registered already.
pub fn register_task_identity(provider: &'static dyn TaskIdentity) -> Result<(), RegistryFull> {
    let same =
        |p: &&'static dyn TaskIdentity| std::ptr::addr_eq(*p as *const dyn TaskIdentity, provider);
    for slot in &TASK_PROVIDERS {
        if let Some(existing) = slot.get() {
            if same(existing) {
                return Ok(());
            }
            continue;
        }
        if slot.set(provider).is_ok() {
            return Ok(());
        }
        if slot.get().is_some_and(same) {
            return Ok(());
        }
    }
    Err(RegistryFull)
}

/// The identity of the async task being polled on this thread: the innermost
/// [`Identified`](crate::lowlevel::Identified) future being polled, else what
/// a registered [`TaskIdentity`] provider reports, unless a green unit runs
/// inside that task (a hub's green thread in a tokio `spawn_blocking`
/// closure is not the blocking task: see
/// [the innermost unit wins](BackendKind#the-innermost-unit-wins)); `None` outside
/// any known task (a plain thread, a green unit, or a future polled by an
/// executor that polysync cannot see into). Async methods of owner-based
/// primitives ([`RLock::acquire`](crate::RLock::acquire), ...) fail with
/// [`NoTaskIdentity`] when this is `None`.
///
/// ```
/// use polysync::lowlevel::{current_task, identified};
/// assert_eq!(current_task(), None);
/// let fut = identified(async { current_task() });
/// let id = fut.unit();
/// assert_eq!(futures_lite::future::block_on(fut), Some(id));
/// ```
#[inline]
pub fn current_task() -> Option<UnitId> {
    if let Some(id) = super::identity::polled_task() {
        return Some(id);
    }
    let task = provider_task()?;
    if super::identity::outer_task() == Some(task) && green_unit().is_some() {
        return None; // the task carries the green unit that runs
    }
    Some(task)
}

/// What the registered task-identity providers report, asked in order.
#[inline]
pub(crate) fn provider_task() -> Option<UnitId> {
    // As in `Layer::any`: the first slot, not a counter.
    TASK_PROVIDERS[0].get()?;
    TASK_PROVIDERS
        .iter()
        .map_while(|slot| slot.get())
        .find_map(|p| p.current_task())
}

/// An async wait of an owner-based primitive found no task identity: the
/// future was not polled inside an [`Identified`](crate::lowlevel::Identified)
/// future (see [`identified`](crate::lowlevel::identified)) nor inside a task
/// of an executor with a registered [`TaskIdentity`] provider.
///
/// ```
/// # futures_lite::future::block_on(async {
/// let rlock = polysync::RLock::new();
/// let err = rlock.acquire().await.unwrap_err();
/// assert_eq!(err, polysync::lowlevel::NoTaskIdentity);
/// assert!(polysync::lowlevel::identified(rlock.acquire()).await.is_ok());
/// # });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NoTaskIdentity;

impl std::fmt::Display for NoTaskIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "polysync: this async wait needs the identity of its task: on tokio, link \
             polysync-tokio (it installs itself; `use polysync_tokio as _;` is enough); on \
             another executor, wrap the \
             task in polysync::lowlevel::identified(..) (or register a TaskIdentity provider)",
        )
    }
}

impl std::error::Error for NoTaskIdentity {}
