//! [`GreenWaiter`] and the [`GreenBackend`] that routes polysync's blocking
//! calls made in a green thread to it.

use crate::hub::{self, TaskCtx};
use polysync::lowlevel::{
    GreenBackend, RegistryFull, UnitId, WaitResult, Waiter, register_backend,
};
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::task::Waker;
use std::time::Instant;

/// The [`Waiter`] of the green thread that is running: waiting suspends the
/// green thread and switches to its hub, which runs the others; the OS
/// thread never blocks. A deadline goes on the hub's timer heap.
///
/// - [`waker`](Waiter::waker) wakes it from any thread; waking **only
///   enqueues** the green thread on its hub (it never runs it on the waking
///   thread), and a wake that arrives before [`wait`](Waiter::wait) is not
///   lost.
/// - [`spins`](Waiter::spins) is `false`: spinning would hold the OS thread
///   that the hub's other green threads run on.
/// - [`wait`](Waiter::wait) never reports [`WaitResult::Cancelled`]: a
///   green thread is never cancelled in the middle of a wait; the hub's
///   teardown unwinds it instead (see [`Hub`](crate::Hub)).
/// - **Nothing suspends a green thread while it unwinds.** A wait made
///   while the green thread unwinds (a destructor run by its own panic, or
///   by the hub's teardown) parks the hub's OS thread instead, until the
///   waker fires (from another thread) or the deadline passes, and the
///   checkpoint does not yield. Switching then would run the siblings with
///   `std::thread::panicking()` true (it belongs to the OS thread), and a
///   teardown that came meanwhile would unwind the green thread out of the
///   destructor (an abort). So such a wait must not wait for a sibling
///   green thread of the same hub; [`JoinHandle::join`](crate::JoinHandle::join)
///   panics there instead of hanging. (A hub driven from a destructor of an
///   OS thread that is unwinding already cannot tell its green threads'
///   own panics apart; there the old rule, switch, holds.)
///
/// Every blocking form of every polysync primitive finds it by itself
/// (the hub registers a [`GreenBackend`]); library code that names its
/// waiter (the `*_with` forms) gets it with
/// [`with_current`](GreenWaiter::with_current):
///
/// ```
/// use polysync::Semaphore;
/// use polysync_corosensei::{GreenWaiter, run, spawn};
/// use std::rc::Rc;
/// use std::time::{Duration, Instant};
///
/// run(|| {
///     let sem = Rc::new(Semaphore::new(0));
///     let releaser = {
///         let sem = sem.clone();
///         spawn(move || sem.release(1))
///     };
///     GreenWaiter::with_current(|w| {
///         sem.acquire_with(w, None).unwrap().forget(); // switches to `releaser`
///         let soon = Instant::now() + Duration::from_millis(1);
///         assert!(sem.acquire_with(w, Some(soon)).is_err()); // the hub's timer
///     })
///     .expect("in a green thread");
///     releaser.join().unwrap();
/// });
/// assert!(GreenWaiter::with_current(|_| ()).is_none()); // not in a green thread
/// ```
pub struct GreenWaiter {
    /// The running green thread's context; only reachable inside
    /// `with_current`'s closure, which runs on that green thread.
    ctx: NonNull<TaskCtx>,
    /// `!Send`, `!Sync`: the waiter belongs to its green thread.
    _not_send: PhantomData<*const ()>,
}

impl GreenWaiter {
    /// Runs `f` with the waiter of the green thread that is running, or
    /// returns `None` when the caller is not in a green thread.
    ///
    /// ```
    /// use polysync::lowlevel::Waiter;
    /// polysync_corosensei::run(|| {
    ///     polysync_corosensei::GreenWaiter::with_current(|w| {
    ///         w.waker().wake_by_ref(); // a wake before the wait is kept
    ///         let _ = w.wait(None); // returns at once
    ///         assert!(!w.spins());
    ///     })
    ///     .unwrap();
    /// });
    /// ```
    pub fn with_current<R>(f: impl FnOnce(&GreenWaiter) -> R) -> Option<R> {
        hub::with_current(|ctx| {
            let waiter = GreenWaiter {
                ctx: NonNull::from(ctx),
                _not_send: PhantomData,
            };
            f(&waiter)
        })
    }

    /// The identity of this green thread (allocated once, when it was
    /// spawned, with [`UnitId::allocate`]).
    ///
    /// ```
    /// polysync_corosensei::run(|| {
    ///     let id = polysync_corosensei::GreenWaiter::with_current(|w| w.unit()).unwrap();
    ///     assert_eq!(polysync::lowlevel::current_unit(), id);
    /// });
    /// ```
    pub fn unit(&self) -> UnitId {
        self.ctx().unit
    }

    fn ctx(&self) -> &TaskCtx {
        // SAFETY: a `GreenWaiter` only exists as the `&GreenWaiter` given to
        // `with_current`'s closure (it is not `Clone`, `Send` or
        // constructible elsewhere, and the higher-ranked reference cannot
        // leave the closure), which runs on the green thread that owns the
        // context while `hub::with_current` keeps it alive (see there).
        unsafe { self.ctx.as_ref() }
    }
}

impl std::fmt::Debug for GreenWaiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GreenWaiter")
            .field("unit", &self.unit())
            .finish()
    }
}

impl Waiter for GreenWaiter {
    fn waker(&self) -> Waker {
        Waker::from(self.ctx().waker.clone())
    }

    fn wait(&self, deadline: Option<Instant>) -> WaitResult {
        self.ctx().wait(deadline)
    }

    /// A green thread's checkpoint: requeue behind the hub's other ready
    /// green threads (as [`yield_now`](crate::yield_now)), so that one that
    /// acquires uncontended primitives in a loop cannot starve its hub.
    fn checkpoint(&self) {
        self.ctx().yield_now();
    }

    /// Counts every suspension of the green thread (a wait, a yield, a
    /// [`sleep`](crate::sleep)), each of which consumes its wake token, and
    /// every wait made while it unwinds: polysync's blocking driver polls
    /// again after a poll that moved the count, so a wake consumed by a
    /// nested wait or a yield inside the poll is not lost.
    ///
    /// ```
    /// use polysync::lowlevel::Waiter;
    /// polysync_corosensei::run(|| {
    ///     polysync_corosensei::GreenWaiter::with_current(|w| {
    ///         let before = w.waits();
    ///         polysync_corosensei::yield_now(); // a switch: counted
    ///         assert_ne!(w.waits(), before);
    ///     })
    ///     .unwrap();
    /// });
    /// ```
    fn waits(&self) -> Option<u64> {
        Some(self.ctx().waits.get())
    }
}

/// The [`GreenBackend`] of polysync-corosensei: claims the caller when it
/// runs in a green thread of a hub, with that green thread's
/// [`GreenWaiter`] and identity.
///
/// The first [`Hub`](crate::Hub) registers it; call [`install`] yourself
/// only to choose where it stands among several registered backends.
///
/// ```
/// use polysync::lowlevel::GreenBackend;
/// use polysync_corosensei::CorosenseiBackend;
///
/// assert_eq!(CorosenseiBackend.name(), "corosensei");
/// assert_eq!(CorosenseiBackend.current_unit(), None); // not in a green thread
/// let inside = polysync_corosensei::run(|| CorosenseiBackend.current_unit());
/// assert!(inside.is_some());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CorosenseiBackend;

// SAFETY: `current_unit` reports an identity only while a green thread runs
// on the calling thread (`CURRENT` is set by the hub around each resume of
// that green thread, and cleared after it), and it is that green thread's
// `TaskCtx::unit`, allocated once with `UnitId::allocate` when the green
// thread was spawned, kept for its whole life and never given to another
// unit (a fresh allocation per spawn). Green threads never migrate between
// OS threads, so the thread-local is exact.
unsafe impl GreenBackend for CorosenseiBackend {
    fn name(&self) -> &'static str {
        "corosensei"
    }

    fn with_waiter(&self, f: &mut dyn FnMut(&dyn Waiter)) -> bool {
        GreenWaiter::with_current(|w| f(w)).is_some()
    }

    fn current_unit(&self) -> Option<UnitId> {
        hub::with_current(|ctx| ctx.unit)
    }

    /// On: a blocking call that did not have to wait requeues the green
    /// thread ([`GreenWaiter`]'s checkpoint); `POLYSYNC_COROSENSEI_CHECKPOINTS=0`
    /// turns it off.
    fn checkpoints_by_default(&self) -> bool {
        true
    }
}

static BACKEND: CorosenseiBackend = CorosenseiBackend;

/// Registers [`CorosenseiBackend`] with polysync, so that every blocking call
/// made in a green thread switches green threads. Idempotent; the first
/// [`Hub`](crate::Hub) calls it, so you need not.
///
/// # Errors
/// [`RegistryFull`] when polysync's backend registry has no free slot.
///
/// ```
/// polysync_corosensei::install().unwrap();
/// polysync_corosensei::install().unwrap(); // no-op
/// assert!(polysync::lowlevel::registered_backends().any(|n| n == "corosensei"));
/// ```
pub fn install() -> Result<(), RegistryFull> {
    register_backend(&BACKEND)
}

/// Registers the backend for a new hub; a hub without it would block its
/// thread in every polysync wait, so a full registry is fatal.
pub(crate) fn register() {
    if let Err(e) = install() {
        panic!("polysync-corosensei: cannot register the green backend: {e}");
    }
}
