//! # polysync-may
//!
//! The [may] backend of [polysync]: after [`install()`], every blocking call
//! of every polysync primitive and queue (`*_blocking`, `try_*_for`,
//! `try_*_until`) made inside a may coroutine parks **the coroutine**, never
//! the worker thread that carries it. The other coroutines of that worker
//! keep running, and the wake may come from anywhere: an OS thread, an async
//! task on any executor (tokio, smol, ...), or another coroutine.
//!
//! ```
//! use std::sync::Arc;
//!
//! // The host configures may (a library must not): two workers, not pinned.
//! may::config().set_workers(2).set_worker_pin(false);
//! polysync_may::install().unwrap(); // once, at start-up; idempotent
//!
//! let queue = Arc::new(polysync::Queue::bounded(4));
//! let consumer = {
//!     let queue = queue.clone();
//!     // `go!` hides an `unsafe` spawn (may's coroutines may not touch
//!     // thread-locals safely): see may's documentation.
//!     may::go!(move || {
//!         let mut sum = 0;
//!         while let Ok(n) = queue.get_blocking() {
//!             sum += n; // the coroutine, not its worker, waits here
//!         }
//!         sum
//!     })
//! };
//! // An OS thread feeds it.
//! for n in 1..=100 {
//!     queue.put_blocking(n).unwrap();
//! }
//! queue.close();
//! assert_eq!(consumer.join().unwrap(), 5050);
//! ```
//!
//! # Installed when linked
//!
//! The crate registers [`MayBackend`] when the program starts, so linking it
//! is enough (a dependency that the code never names is not linked: `use
//! polysync_may as _;`); [`install()`] stays, idempotent. A tokio task polled
//! inside a coroutine (by a `block_on` the coroutine drives) is the innermost
//! unit while it is polled; a coroutine under `Runtime::enter` is the
//! coroutine.
//!
//! # What changes, where
//!
//! | caller (after `install()`) | blocking calls wait by | identity ([`current_unit`](polysync::lowlevel::current_unit)) |
//! |---|---|---|
//! | a may coroutine (also one resumed on another worker, or on may's timer thread after a may sleep) | parking the coroutine ([`MayWaiter`]) | the coroutine's own, allocated once per coroutine ([`coroutine_unit`]) |
//! | an OS thread, a tokio worker, ... | as before (the thread parks) | as before |
//!
//! Each coroutine is an execution unit of its own: reentrant primitives
//! ([`RLock`](polysync::RLock), [`RMutex`](polysync::RMutex)) and capacity
//! limiters recognise it as their owner or borrower, wherever it runs;
//! two coroutines that share a worker thread never share an identity.
//!
//! # Timeouts
//!
//! A timed wait (`try_*_for`, `try_*_until`, or a deadline given to a
//! `*_with` form) parks the coroutine with **no** may timeout: this crate's
//! own timer thread (one OS thread, `polysync-may timer`, started by the
//! first timed wait) unparks it at the deadline, like any other waker, so
//! it resumes on a worker; polysync re-checks the deadline after every
//! return, so a wait never times out early. may's `park_timeout` is not
//! used because may 0.3 can lose it: its park arms the timer before it
//! records the coroutine the timer is to resume, and a worker preempted
//! between the two past the deadline (1 ms on a loaded machine) leaves the
//! coroutine asleep for good. An unpark has no such window.
//!
//! # Cancellation
//!
//! A coroutine cancelled with may's `Coroutine::cancel` while it waits in a
//! polysync primitive gives the wait up cleanly: the wait is withdrawn, and
//! anything already handed to it is passed on (a lock to the next waiter, an
//! item back into the queue): nothing is lost. Then:
//!
//! - the plain blocking forms re-raise may's cancellation
//!   ([`may::coroutine::trigger_cancel_panic`]), so the coroutine unwinds as
//!   may expects (its `join()` reports the cancel);
//! - the `*_with` forms, given a [`MayWaiter`], return
//!   [`WaitError::Cancelled`](polysync::lowlevel::WaitError::Cancelled)
//!   (a put gives its item back in
//!   [`TryPutError::Cancelled`](polysync::queue::TryPutError::Cancelled)); the
//!   coroutine stays cancelled, and may unwinds it at its next park or yield.
//!
//! A cancel that arrives while the coroutine does not wait in polysync takes
//! effect at its next may park or yield, as always with may.
//!
//! **Nothing suspends a coroutine while it unwinds.** A polysync wait made
//! by a destructor while its coroutine unwinds (a panic, or may's
//! cancellation) blocks the worker thread that carries it until its waker
//! fires or its deadline passes, and checkpoints do not yield (see
//! [`MayWaiter`]'s `wait`): so it must not wait for another coroutine of the
//! same worker.
//!
//! # Costs
//!
//! A wait allocates nothing: each coroutine's waiter (a may
//! [`Blocker`]) is made once, on its first wait, and
//! kept in a `coroutine_local!` with its identity; its [`Waker`]
//! is a reference count on it. A wake only puts the coroutine back on a may
//! run queue; it never runs the coroutine inline on the waking thread. (A
//! *timed* wait pushes an entry on the timer's heap, which allocates only
//! when the heap grows; the first one starts the timer thread.) A
//! coroutine waiter never spins ([`Waiter::spins`] is `false`): spinning
//! would hold the worker its siblings run on.
//!
//! # `unsafe`
//!
//! The crate has one `unsafe` item, the `unsafe impl GreenBackend` (its
//! contract is about unique identities; see [`MayBackend`]). Spawning a may
//! coroutine is `unsafe` in may (`may::coroutine::spawn`: thread-locals and
//! stack size); the `go!` macro used in these examples hides that `unsafe`,
//! which may's authors consider intentional. This crate spawns nothing.

#![deny(missing_docs)]

mod timer;

use may::coroutine::ParkError;
use may::sync::Blocker;
use polysync::lowlevel::{
    GreenBackend, RegistryFull, UnitId, WaitResult, Waiter, register_backend,
};
use std::cell::OnceCell;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Wake, Waker};
use std::time::Instant;

/// The part of a coroutine's waiter that wakers point to: a may
/// [`Blocker`] made inside the coroutine, with may's cancellation reported
/// as a result (`ignore_cancel`) instead of a panic inside the park.
///
/// Only the coroutine that made it parks on it (may's rule for a
/// `Blocker`); anyone may unpark it, from any thread.
///
/// **Nothing suspends a coroutine while it unwinds.** While the coroutine
/// unwinds (a panic, or may's cancellation: `std::thread::panicking()` is
/// then true on the thread that carries it), a wait does not park the
/// coroutine: it blocks the carrying OS thread on `carrier` instead, woken
/// through a [`CarrierWake`] (see [`Parker::waker`]). Parking the coroutine
/// would run the worker's other coroutines with `panicking()` true (the
/// panic count belongs to the OS thread), and in a cancelled coroutine
/// may's park raises the cancel again at once, which a plain blocking form
/// re-raised inside the destructor: a panic during a panic, an abort.
struct Parker {
    blocker: Blocker,
    /// How many waits the coroutine made on this parker
    /// ([`Waiter::waits`]). Only the coroutine writes and reads it (a
    /// coroutine that moves to another worker is handed over by may's
    /// scheduler, which orders what it did before with what it does after),
    /// so `Relaxed` suffices; it is atomic only because wakers on other
    /// threads share the parker.
    waits: AtomicU64,
    /// The number of the timed wait whose [`timer`] entry may unpark the
    /// blocker, 0 when none is armed. Written by the coroutine, read by
    /// the timer thread (ordered by the timer's lock when armed). Shared
    /// with the timer's entries (allocated once, with the parker), so the
    /// timer tells a stale entry without taking a strong reference to the
    /// parker: it never drops a parker under its lock.
    armed: Arc<AtomicU64>,
    /// The carrier's wait during an unwind: `true` once woken.
    carrier: std::sync::Mutex<bool>,
    carrier_cv: std::sync::Condvar,
}

/// The waker of a wait made while the coroutine unwinds: it rings the
/// parker's `carrier` (the OS thread blocked there), never may's
/// `Blocker`. Made per wait, only then: the normal waker stays one
/// reference count.
struct CarrierWake(Arc<Parker>);

impl Wake for CarrierWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let parker = &self.0;
        *parker
            .carrier
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = true;
        parker.carrier_cv.notify_one();
    }
}

/// Whether the calling coroutine unwinds (its own panic or may's cancel):
/// its waits then block the carrying OS thread (see [`Parker`]). A
/// coroutine runs only inside may's scheduler, on a worker or the timer
/// thread, which is not itself unwinding, so the flag is the coroutine's.
#[inline]
fn unwinding() -> bool {
    std::thread::panicking()
}

impl Wake for Parker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // A coroutine `Blocker` puts the coroutine on a run queue (the
        // waking worker's, or a global one from any other thread); it never
        // resumes it here. A wake before the park is kept as a permit.
        self.blocker.unpark();
    }
}

impl Parker {
    /// The waker of the next wait: this parker (a reference count), or,
    /// while the coroutine unwinds, a [`CarrierWake`] for
    /// [`Parker::wait_carrier`].
    fn waker(self: &Arc<Self>) -> Waker {
        if unwinding() {
            Waker::from(Arc::new(CarrierWake(self.clone())))
        } else {
            Waker::from(self.clone())
        }
    }

    /// A wait with the waker [`Parker::waker`] gave: parks the coroutine,
    /// or, while it unwinds, blocks the carrying OS thread.
    fn wait_now(self: &Arc<Self>, deadline: Option<Instant>) -> WaitResult {
        // Counted before it can consume a wake: the blocker's permit, or
        // the carrier's flag while unwinding (see `Waiter::waits`). may's
        // own switches (a raw yield, a may channel) never take the permit,
        // so they need no count.
        let waits = self.waits.load(Ordering::Relaxed);
        self.waits.store(waits.wrapping_add(1), Ordering::Relaxed);
        if unwinding() {
            self.wait_carrier(deadline)
        } else {
            self.wait(deadline)
        }
    }

    /// The wait of an unwinding coroutine: blocks the OS thread until a
    /// [`CarrierWake`] rings or `deadline` passes. It never reports
    /// `Cancelled`: a cancelled coroutine is already unwinding.
    #[cold]
    fn wait_carrier(&self, deadline: Option<Instant>) -> WaitResult {
        // The mutex is poisoned as soon as a guard drops during the unwind;
        // its `bool` is all it protects, so poisoning means nothing here.
        let mut rung = self
            .carrier
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            if std::mem::take(&mut *rung) {
                return WaitResult::Woken;
            }
            rung = match deadline {
                None => self
                    .carrier_cv
                    .wait(rung)
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return WaitResult::TimedOut;
                    }
                    self.carrier_cv
                        .wait_timeout(rung, deadline - now)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0
                }
            };
        }
    }

    /// Must be called inside the coroutine that will park on it.
    fn new() -> Arc<Parker> {
        debug_assert!(may::coroutine::is_coroutine());
        Arc::new(Parker {
            blocker: Blocker::new(true),
            waits: AtomicU64::new(0),
            armed: Arc::new(AtomicU64::new(0)),
            carrier: std::sync::Mutex::new(false),
            carrier_cv: std::sync::Condvar::new(),
        })
    }

    /// One wait of the current coroutine on this parker, until a wake,
    /// `deadline` or a cancellation. May return `Woken` spuriously (a stale
    /// permit, among them one left by the timer of an earlier wait).
    ///
    /// A deadline arms this crate's [`timer`], which unparks the blocker
    /// at the deadline; may's own park timeout is never used (see the
    /// `timer` module: may can lose it, and the coroutine then sleeps for
    /// good). The coroutine is woken like by any other waker, so it
    /// resumes on a worker.
    fn wait(self: &Arc<Self>, deadline: Option<Instant>) -> WaitResult {
        if let Some(deadline) = deadline {
            if Instant::now() >= deadline {
                return WaitResult::TimedOut;
            }
            // Nonzero: `wait_now` counted this wait.
            let tag = self.waits.load(Ordering::Relaxed).max(1);
            timer::arm(self, deadline, tag);
        }
        let parked = park(&self.blocker);
        if deadline.is_some() {
            timer::disarm(self);
        }
        match parked {
            Err(ParkError::Canceled) => WaitResult::Cancelled,
            // Without a timeout given, may reports no `Timeout`.
            Ok(()) | Err(ParkError::Timeout) => match deadline {
                Some(deadline) if Instant::now() >= deadline => WaitResult::TimedOut,
                _ => WaitResult::Woken,
            },
        }
    }
}

// may's functions are `#[inline]` and read thread-locals (generator's
// current context) on both sides of a stack switch. The calls below stay out
// of line so that no thread-local address computed before a park is reused
// after it, when the coroutine may run on another thread
// (llvm/llvm-project#98479).

/// Parks the current coroutine on `blocker`, with no timeout (see
/// [`Parker::wait`]).
///
/// A `Blocker::new(true)` reports may's cancellation as
/// `Err(ParkError::Canceled)`, but may's `Park::park_timeout` can still
/// raise it as a panic: before it parks, it waits with `yield_now` (a
/// cancel point) while its previous subscription is still being processed.
/// That panic is caught here and reported like the other, so the wait is
/// withdrawn cleanly in every case.
#[inline(never)]
fn park(blocker: &Blocker) -> Result<(), ParkError> {
    let parked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| blocker.park(None)));
    parked.unwrap_or_else(|payload| match payload.downcast_ref::<generator::Error>() {
        Some(generator::Error::Cancel) => Err(ParkError::Canceled),
        _ => std::panic::resume_unwind(payload),
    })
}

/// Whether the caller runs inside a may coroutine.
#[inline(never)]
fn in_coroutine() -> bool {
    may::coroutine::is_coroutine()
}

/// What polysync keeps with each coroutine.
struct Unit {
    /// Allocated once, when the coroutine first asks; never given to
    /// another unit.
    id: UnitId,
    /// Made on the coroutine's first wait.
    parker: OnceCell<Arc<Parker>>,
}

impl Unit {
    fn new() -> Unit {
        Unit {
            id: UnitId::allocate(),
            parker: OnceCell::new(),
        }
    }

    fn parker(&self) -> &Arc<Parker> {
        self.parker.get_or_init(Parker::new)
    }
}

impl Drop for Unit {
    /// The coroutine has ended: retire its parker instead of dropping it
    /// here. may drops a coroutine's local storage on the thread that ran
    /// it to completion, and that can be *inside* may's own subscription to
    /// this very parker (a wake that landed as the coroutine parked makes
    /// may resume it inline, from the park's `subscribe`, and the coroutine
    /// may then run to its end). Dropping the `Blocker` there would spin
    /// forever in may's `Park::drop`, which waits for that subscription to
    /// finish (`wait_kernel`) with thread yields: a worker lost for good.
    /// So the parker goes to a graveyard, and the parkers retired before it
    /// are dropped now: their coroutines ended earlier, so whichever thread
    /// ran them has left (or, on another thread, is about to leave) their
    /// subscriptions.
    fn drop(&mut self) {
        if let Some(parker) = self.parker.take() {
            retire(parker);
        }
    }
}

/// Parkers of ended coroutines, dropped one retirement later (see
/// [`Unit`]'s `Drop`).
static RETIRED: std::sync::Mutex<Vec<Arc<Parker>>> = std::sync::Mutex::new(Vec::new());

fn retire(parker: Arc<Parker>) {
    let earlier = {
        let mut retired = RETIRED.lock().unwrap_or_else(|e| e.into_inner());
        let earlier = std::mem::take(&mut *retired);
        retired.push(parker);
        earlier
    };
    drop(earlier); // outside the lock
}

may::coroutine_local!(static UNIT: Unit = Unit::new());

/// Runs `f` with the current coroutine's [`Unit`]. The caller must be in a
/// coroutine (outside one, may falls back to a per-thread map, which would
/// give every plain thread a second identity).
#[inline(never)]
fn with_unit<R>(f: impl FnOnce(&Unit) -> R) -> R {
    debug_assert!(may::coroutine::is_coroutine());
    // The `Unit` lives in the coroutine's own local map (boxed, for the
    // coroutine's life), not in a thread-local: the reference stays valid
    // across parks and migrations.
    UNIT.with(f)
}

/// The waiter handed to polysync's blocking forms: the current coroutine's
/// parker, known to be its own.
struct Current<'a>(&'a Arc<Parker>);

impl Waiter for Current<'_> {
    fn waker(&self) -> Waker {
        self.0.waker()
    }

    fn wait(&self, deadline: Option<Instant>) -> WaitResult {
        self.0.wait_now(deadline)
    }

    fn cancelled(&self) -> ! {
        may::coroutine::trigger_cancel_panic()
    }

    fn checkpoint(&self) {
        checkpoint();
    }

    fn waits(&self) -> Option<u64> {
        Some(self.0.waits.load(Ordering::Relaxed))
    }
}

/// A may coroutine's checkpoint: `may::coroutine::yield_now`, which lets
/// the worker's other coroutines run and is may's cancel point (a cancelled
/// coroutine unwinds here, dropping what the call returned: a lock it took
/// is released, an item it got is dropped). Nothing while the coroutine
/// unwinds: a yield would switch to the worker's other coroutines, and in a
/// cancelled coroutine raise the cancel again (see [`Parker`]).
#[inline(never)]
fn checkpoint() {
    if !unwinding() {
        may::coroutine::yield_now();
    }
}

/// The [`Waiter`] of a may coroutine, for code that names its waiter: the
/// `*_with` forms of polysync's primitives (`Lock::acquire_with`,
/// `Queue::put_with`, ...) and generic library code over `W: Waiter`.
///
/// [`install()`] is not needed for it: the plain blocking forms find the
/// same waiter through the registry once installed, and a `MayWaiter` works
/// without. Each coroutine has one, made on first use and then reused (no
/// allocation per wait); [`MayWaiter::current`] hands out a handle to it.
///
/// A wait on it parks the coroutine (never its worker thread), times out by
/// this crate's timer thread (see the crate's "Timeouts"), and reports a may
/// cancellation as [`WaitResult::Cancelled`]: a `*_with` call then withdraws and returns
/// [`WaitError::Cancelled`](polysync::lowlevel::WaitError::Cancelled)
/// instead of unwinding.
///
/// It is neither `Send` nor `Sync`, and only the coroutine that got it may
/// wait on it: a wait from anywhere else panics.
///
/// ```
/// use polysync::lowlevel::WaitError;
/// use std::sync::Arc;
/// use std::time::{Duration, Instant};
///
/// may::config().set_workers(2).set_worker_pin(false);
///
/// let lock = Arc::new(polysync::Lock::new());
/// let held = lock.acquire_blocking(); // this thread holds it
/// let (timed_out, told) = std::sync::mpsc::channel();
/// let co = {
///     let lock = lock.clone();
///     may::go!(move || {
///         let waiter = polysync_may::MayWaiter::current();
///         let soon = Some(Instant::now() + Duration::from_millis(5));
///         assert_eq!(lock.acquire_with(&waiter, soon).unwrap_err(), WaitError::TimedOut);
///         timed_out.send(()).unwrap();
///         let guard = lock.acquire_with(&waiter, None).unwrap(); // parks the coroutine
///         drop(guard);
///     })
/// };
/// // Release only once the timed wait has given up and the untimed one is
/// // queued: the outcome does not depend on how fast anything runs.
/// told.recv().unwrap();
/// while lock.waiting() == 0 {
///     std::thread::yield_now();
/// }
/// drop(held);
/// co.join().unwrap();
/// assert!(!lock.is_locked());
/// ```
pub struct MayWaiter {
    parker: Arc<Parker>,
    /// Neither `Send` nor `Sync`: it belongs to one coroutine.
    _coroutine: PhantomData<*const ()>,
}

impl MayWaiter {
    /// The current coroutine's waiter.
    ///
    /// # Panics
    /// Outside a may coroutine (use [`MayWaiter::try_current`] to ask).
    ///
    /// ```
    /// may::config().set_workers(1).set_worker_pin(false);
    /// may::go!(|| {
    ///     let waiter = polysync_may::MayWaiter::current();
    ///     let sem = polysync::Semaphore::new(1);
    ///     sem.acquire_with(&waiter, None).unwrap().forget();
    ///     assert_eq!(sem.value(), 0);
    /// })
    /// .join()
    /// .unwrap();
    /// ```
    #[track_caller]
    pub fn current() -> MayWaiter {
        MayWaiter::try_current()
            .expect("polysync-may: MayWaiter::current() called outside a may coroutine")
    }

    /// The current coroutine's waiter, or `None` outside a may coroutine.
    ///
    /// ```
    /// assert!(polysync_may::MayWaiter::try_current().is_none()); // a plain thread
    /// may::config().set_workers(1).set_worker_pin(false);
    /// let inside = may::go!(|| polysync_may::MayWaiter::try_current().is_some());
    /// assert!(inside.join().unwrap());
    /// ```
    pub fn try_current() -> Option<MayWaiter> {
        if !in_coroutine() {
            return None;
        }
        Some(MayWaiter {
            parker: with_unit(|unit| unit.parker().clone()),
            _coroutine: PhantomData,
        })
    }

    /// Panics unless the caller is the coroutine this waiter belongs to.
    fn check_owner(&self) {
        let own = in_coroutine() && with_unit(|unit| Arc::ptr_eq(unit.parker(), &self.parker));
        assert!(
            own,
            "polysync-may: a MayWaiter waits only in the coroutine that got it"
        );
    }
}

impl std::fmt::Debug for MayWaiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MayWaiter").finish_non_exhaustive()
    }
}

impl Waiter for MayWaiter {
    /// A waker that puts this coroutine back on a may run queue, from any
    /// thread (it never runs the coroutine inline). A wake that arrives
    /// before [`wait`](Waiter::wait) is kept.
    ///
    /// ```
    /// use polysync::lowlevel::{WaitResult, Waiter};
    /// may::config().set_workers(1).set_worker_pin(false);
    /// may::go!(|| {
    ///     let w = polysync_may::MayWaiter::current();
    ///     let waker = w.waker();
    ///     std::thread::spawn(move || waker.wake()).join().unwrap();
    ///     assert_eq!(w.wait(None), WaitResult::Woken); // the wake was kept
    /// })
    /// .join()
    /// .unwrap();
    /// ```
    fn waker(&self) -> Waker {
        self.parker.waker()
    }

    /// Parks the coroutine until a wake, `deadline` (this crate's timer
    /// unparks it then) or a may cancellation. May return `Woken`
    /// spuriously.
    ///
    /// **Nothing suspends a coroutine while it unwinds**: a wait made while
    /// the coroutine unwinds (a destructor run by a panic, or by may's
    /// cancellation) blocks the worker thread that carries it instead, until
    /// the waker (taken during the unwind) fires or `deadline` passes, and
    /// never reports `Cancelled`. The worker's other coroutines do not run
    /// meanwhile (they would see `std::thread::panicking()` true, and a
    /// cancelled coroutine's park raises the cancel again at once), so such
    /// a wait must not wait for one of them.
    ///
    /// # Panics
    /// If the caller is not the coroutine that got this waiter.
    ///
    /// ```
    /// use polysync::lowlevel::{WaitResult, Waiter};
    /// use std::time::{Duration, Instant};
    /// may::config().set_workers(1).set_worker_pin(false);
    /// may::go!(|| {
    ///     let w = polysync_may::MayWaiter::current();
    ///     let deadline = Instant::now() + Duration::from_micros(300);
    ///     while w.wait(Some(deadline)) != WaitResult::TimedOut {}
    ///     assert!(Instant::now() >= deadline);
    /// })
    /// .join()
    /// .unwrap();
    /// ```
    fn wait(&self, deadline: Option<Instant>) -> WaitResult {
        self.check_owner();
        self.parker.wait_now(deadline)
    }

    /// Re-raises may's cancellation
    /// ([`may::coroutine::trigger_cancel_panic`]): the coroutine unwinds as
    /// may expects of a cancelled coroutine. polysync calls it only from a
    /// plain blocking form, after the wait was withdrawn.
    ///
    /// ```
    /// use polysync::lowlevel::Waiter;
    /// may::config().set_workers(1).set_worker_pin(false);
    /// let co = may::go!(|| {
    ///     polysync_may::MayWaiter::current().cancelled();
    /// });
    /// assert!(co.join().is_err()); // unwound with may's cancel payload
    /// ```
    fn cancelled(&self) -> ! {
        may::coroutine::trigger_cancel_panic()
    }

    /// A checkpoint: `may::coroutine::yield_now` (see
    /// [`polysync::lowlevel::checkpoint`]); also may's cancel point.
    ///
    /// ```
    /// use polysync::lowlevel::Waiter;
    /// may::config().set_workers(1).set_worker_pin(false);
    /// may::go!(|| polysync_may::MayWaiter::current().checkpoint()).join().unwrap();
    /// ```
    fn checkpoint(&self) {
        checkpoint();
    }

    /// Counts every wait on the coroutine's waiter, the only thing that
    /// consumes its wake token (may's own switches, such as a raw
    /// `may::coroutine::yield_now`, never do). The count belongs to the
    /// coroutine, so polysync's blocking driver keeps a wake that a nested
    /// wait consumed even if the coroutine resumes on another worker.
    ///
    /// ```
    /// use polysync::lowlevel::Waiter;
    /// may::config().set_workers(1).set_worker_pin(false);
    /// may::go!(|| {
    ///     let w = polysync_may::MayWaiter::current();
    ///     let before = w.waits();
    ///     w.waker().wake();
    ///     let _ = w.wait(None); // consumes the wake: counted
    ///     assert_ne!(w.waits(), before);
    /// })
    /// .join()
    /// .unwrap();
    /// ```
    fn waits(&self) -> Option<u64> {
        Some(self.parker.waits.load(Ordering::Relaxed))
    }
}

/// The [`GreenBackend`] for may coroutines: claims the caller when it runs
/// inside a may coroutine, with the coroutine's [`MayWaiter`] and its own
/// identity. [`install()`] registers it; register it yourself with
/// [`register_backend`] only to control the order in which backends are
/// asked.
///
/// ```
/// use polysync::lowlevel::GreenBackend;
/// use polysync_may::MayBackend;
///
/// assert_eq!(MayBackend.name(), "may");
/// assert_eq!(MayBackend.current_unit(), None); // a plain thread
/// may::config().set_workers(1).set_worker_pin(false);
/// let id = may::go!(|| MayBackend.current_unit()).join().unwrap();
/// assert!(id.is_some());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct MayBackend;

// SAFETY: `current_unit` answers `Some` only inside a may coroutine, with
// the identity kept in that coroutine's own `coroutine_local!` storage: one
// `UnitId::allocate()` per coroutine, made on its first question and kept
// for its whole life (the storage moves with the coroutine between workers
// and the timer thread, and is dropped only when the coroutine ends). may
// gives every spawned coroutine fresh local storage (also when it reuses a
// pooled stack), so no identity is ever seen by two coroutines, and an
// allocated identity is never any other unit's (threads, tasks and other
// backends' units get their own allocations or the task half).
#[allow(unsafe_code)]
unsafe impl GreenBackend for MayBackend {
    fn name(&self) -> &'static str {
        "may"
    }

    fn with_waiter(&self, f: &mut dyn FnMut(&dyn Waiter)) -> bool {
        if !in_coroutine() {
            return false;
        }
        with_unit(|unit| f(&Current(unit.parker())));
        true
    }

    #[inline]
    fn current_unit(&self) -> Option<UnitId> {
        coroutine_unit()
    }

    /// On: a blocking call that did not have to wait yields the coroutine
    /// (`may::coroutine::yield_now`, also may's cancel point), so that a
    /// coroutine that takes uncontended primitives in a loop lets the
    /// others of its worker run. `POLYSYNC_MAY_CHECKPOINTS=0` turns it off.
    fn checkpoints_by_default(&self) -> bool {
        true
    }
}

static BACKEND: MayBackend = MayBackend;
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Registers [`MayBackend`] for the whole process: from then on, blocking
/// calls of polysync made inside a may coroutine park the coroutine, and
/// each coroutine is an execution unit of its own. Idempotent: call it as
/// often as you like, from any thread; only the first call registers. It
/// does not configure may (workers, pinning, stack size stay the host's
/// choice) and starts nothing.
///
/// # Errors
/// [`RegistryFull`] when every green-backend slot of polysync is taken by
/// other backends (nothing is registered then).
///
/// ```
/// polysync_may::install().unwrap();
/// polysync_may::install().unwrap(); // no-op
/// assert!(polysync_may::is_installed());
/// assert!(polysync::lowlevel::registered_backends().any(|name| name == "may"));
/// ```
pub fn install() -> Result<(), RegistryFull> {
    register_backend(&BACKEND)?;
    INSTALLED.store(true, Ordering::Release);
    Ok(())
}

/// Registers [`MayBackend`] when the program starts (before `main`), so that
/// linking this crate is enough: a program that uses may coroutines and
/// polysync but forgets [`install()`] would otherwise give every coroutine
/// of a worker the worker's identity (several coroutines inside one
/// `RLock` at once) and park whole workers in polysync waits. A full
/// registry is reported by the next explicit [`install()`] call.
// SAFETY: this runs before `main`, on the thread that loads the program. It
// only stores into polysync's registry (`OnceLock` slots and atomics) and
// reads the `POLYSYNC_MAY_CHECKPOINTS` / `POLYSYNC_CHECKPOINTS` variables,
// which the C runtime has set up by then; it spawns nothing, does no I/O,
// touches no may state (may starts its scheduler at the first spawn) and
// cannot panic (an error is dropped).
#[ctor::ctor(unsafe)]
fn install_at_load() {
    let _ = install();
}

/// Whether [`install()`] has succeeded in this process.
///
/// ```
/// polysync_may::install().unwrap();
/// assert!(polysync_may::is_installed());
/// ```
pub fn is_installed() -> bool {
    INSTALLED.load(Ordering::Acquire)
}

/// The identity of the calling may coroutine, or `None` outside one. It is
/// what [`MayBackend`] reports (installed or not): the same for the
/// coroutine's whole life, on whichever worker it runs, and never another
/// unit's.
///
/// ```
/// assert_eq!(polysync_may::coroutine_unit(), None); // a plain thread
/// may::config().set_workers(2).set_worker_pin(false);
/// let (a, b) = may::go!(|| {
///     let before = polysync_may::coroutine_unit();
///     may::coroutine::yield_now(); // may resume on another worker
///     (before, polysync_may::coroutine_unit())
/// })
/// .join()
/// .unwrap();
/// assert!(a.is_some());
/// assert_eq!(a, b);
/// ```
#[inline]
pub fn coroutine_unit() -> Option<UnitId> {
    if !in_coroutine() {
        return None;
    }
    Some(with_unit(|unit| unit.id))
}

/// The README's examples, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
