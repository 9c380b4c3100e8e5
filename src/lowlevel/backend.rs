//! The registry of green-thread backends. Every blocking call asks, at the
//! moment it must suspend, which execution unit it runs in: each registered
//! backend is asked in turn ("is the caller one of your green threads?"), and
//! the OS thread is the answer when none claims it. The answer is never
//! cached: a `may` coroutine can resume on another OS thread.
//!
//! Backends (`polysync-may`, `polysync-corosensei`, or a user's own) register
//! once at start-up with [`register_backend`]. Primitives are not touched.

use super::identity::UnitId;
use super::thread::ThreadWaiter;
use super::waiter::Waiter;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A green-thread world that can claim the current execution unit.
///
/// ```
/// use polysync::lowlevel::{GreenBackend, UnitId, Waiter, register_backend};
///
/// /// A backend that never claims anything (a real one checks a thread-local
/// /// set by its scheduler, or asks its runtime).
/// struct Nobody;
/// impl GreenBackend for Nobody {
///     fn name(&self) -> &'static str { "nobody" }
///     fn with_waiter(&self, _f: &mut dyn FnMut(&dyn Waiter)) -> bool { false }
///     fn current_unit(&self) -> Option<UnitId> { None }
/// }
/// static NOBODY: Nobody = Nobody;
/// register_backend(&NOBODY).unwrap();
/// // Blocking calls on this thread still use the OS-thread waiter.
/// let sem = polysync::Semaphore::new(1);
/// assert!(sem.try_acquire_for(std::time::Duration::ZERO).is_some());
/// ```
pub trait GreenBackend: Send + Sync + 'static {
    /// A short name for diagnostics, such as `"may"`.
    fn name(&self) -> &'static str;

    /// If the caller runs in one of this backend's units, runs `f` once with
    /// that unit's waiter and returns `true`; otherwise returns `false`
    /// without calling `f`.
    fn with_waiter(&self, f: &mut dyn FnMut(&dyn Waiter)) -> bool;

    /// The identity of the caller's unit, if it is one of this backend's.
    /// Allocate identities with [`UnitId::allocate`] so they never collide
    /// with those of threads or other backends.
    fn current_unit(&self) -> Option<UnitId>;
}

const SLOTS: usize = 4;
static BACKENDS: [OnceLock<&'static dyn GreenBackend>; SLOTS] = [
    OnceLock::new(),
    OnceLock::new(),
    OnceLock::new(),
    OnceLock::new(),
];
static REGISTERED: AtomicUsize = AtomicUsize::new(0);

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
/// backend twice is a no-op. Backends are asked in registration order.
///
/// # Errors
/// [`RegistryFull`] when four other backends are registered already.
pub fn register_backend(backend: &'static dyn GreenBackend) -> Result<(), RegistryFull> {
    for slot in &BACKENDS {
        if let Some(existing) = slot.get() {
            if std::ptr::addr_eq(*existing as *const dyn GreenBackend, backend) {
                return Ok(());
            }
            continue;
        }
        if slot.set(backend).is_ok() {
            REGISTERED.fetch_add(1, Ordering::Release);
            return Ok(());
        }
        // Lost a race for this slot: look at it again.
        if slot
            .get()
            .is_some_and(|b| std::ptr::addr_eq(*b as *const dyn GreenBackend, backend))
        {
            return Ok(());
        }
    }
    Err(RegistryFull)
}

/// The names of the registered backends, in the order they are asked.
///
/// ```
/// assert!(polysync::lowlevel::registered_backends().all(|name| !name.is_empty()));
/// ```
pub fn registered_backends() -> impl Iterator<Item = &'static str> {
    BACKENDS
        .iter()
        .filter_map(|slot| slot.get().map(|b| b.name()))
}

#[inline]
fn any_registered() -> bool {
    REGISTERED.load(Ordering::Acquire) != 0
}

/// Runs `f` with the waiter of the current execution unit.
pub(crate) fn with_current_waiter<R>(f: impl FnOnce(&dyn Waiter) -> R) -> R {
    let mut f = Some(f);
    if any_registered() {
        let mut out = None;
        for slot in &BACKENDS {
            let Some(backend) = slot.get() else { continue };
            let claimed = backend.with_waiter(&mut |waiter| {
                if let Some(f) = f.take() {
                    out = Some(f(waiter));
                }
            });
            if claimed {
                if let Some(out) = out {
                    return out;
                }
            }
        }
    }
    let f = f.expect("no backend ran the closure");
    ThreadWaiter::with_current(|waiter| f(waiter))
}

/// The identity of the current execution unit: a registered backend's unit,
/// else the OS thread.
#[inline]
pub fn current_unit() -> UnitId {
    if any_registered() {
        for slot in &BACKENDS {
            if let Some(id) = slot.get().and_then(|b| b.current_unit()) {
                return id;
            }
        }
    }
    UnitId::current_thread()
}
