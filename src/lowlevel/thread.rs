//! The OS-thread [`Waiter`]: a short adaptive spin on a wake flag, then
//! `park`/`park_timeout`. On small VMs a park/unpark round trip costs tens of
//! microseconds while a spinning hand-off costs well under one, so a waiter
//! whose wake is imminent should not sleep.

use super::sync::{AtomicBool, MAY_SPIN, Ordering, park_until, per_thread, spin_loop, thread};
use super::waiter::{WaitResult, Waiter};
use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::time::Instant;

/// The part of a [`ThreadWaiter`] that wakers point to.
#[derive(Debug)]
struct Parker {
    thread: thread::Thread,
    woken: AtomicBool,
}

impl Wake for Parker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Only the first wake since the last consumed one needs to unpark.
        if !self.woken.swap(true, Ordering::Release) {
            self.thread.unpark();
        }
    }
}

/// The [`Waiter`] of an OS thread: spins briefly, then parks.
///
/// Each thread has one, cached; blocking calls use it through
/// [`ThreadWaiter::with_current`], so waiting allocates nothing.
///
/// A `ThreadWaiter` belongs to the thread that made it: its wakers unpark
/// that thread, so a wait on any other thread would park a thread that no
/// wake reaches. It is therefore neither `Send` nor `Sync`, and cannot be
/// moved or lent to another thread:
/// ```compile_fail,E0277
/// let waiter = polysync::lowlevel::ThreadWaiter::new();
/// std::thread::spawn(move || drop(waiter)); // not `Send`
/// ```
/// ```compile_fail,E0277
/// use polysync::lowlevel::{ThreadWaiter, Waiter};
/// let waiter = ThreadWaiter::new();
/// std::thread::scope(|s| {
///     s.spawn(|| waiter.wait(None)); // not `Sync`
/// });
/// ```
/// Its [`waker`](Waiter::waker) is an ordinary `Waker` (`Send + Sync`):
/// wake it from anywhere.
///
/// ```
/// use polysync::lowlevel::{ThreadWaiter, Waiter, WaitResult};
/// use std::time::{Duration, Instant};
///
/// ThreadWaiter::with_current(|w| {
///     w.waker().wake(); // a wake before the wait is not lost
///     assert_eq!(w.wait(None), WaitResult::Woken);
///     let deadline = Instant::now() + Duration::from_millis(5);
///     assert_eq!(w.wait(Some(deadline)), WaitResult::TimedOut);
/// });
/// ```
#[derive(Debug)]
pub struct ThreadWaiter {
    parker: Arc<Parker>,
    /// The adaptive spin before parking.
    spin: Spin,
    /// How many waits this thread made on the waiter ([`Waiter::waits`]):
    /// only its thread reads or writes it.
    waits: Cell<u64>,
    /// Neither `Send` nor `Sync`: `parker` names the thread that made the
    /// waiter, and only that thread may wait on it.
    _own_thread: PhantomData<*const ()>,
}

per_thread! {
    static CURRENT: ThreadWaiter = ThreadWaiter::new();
}

per_thread! {
    /// Set by the wait state machine when it queues a node: whether the node
    /// went in at the head of its queue, i.e. is next in line. The blocking
    /// driver takes it right after the poll that set it (before anything can
    /// switch units on this thread) and hands it to its waiter
    /// ([`Waiter::next_in_line`]); only a thread waiter acts on it, so the
    /// hint never leaks from one coroutine to another on a shared carrier.
    static SPIN_HINT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Records whether the node just queued by this thread is next in line.
/// Never inlined, like [`take_spin_hint`] (a green unit may resume on
/// another thread: no cached thread-local address may outlive a switch).
#[inline(never)]
pub(crate) fn set_spin_hint(next_in_line: bool) {
    let _ = SPIN_HINT.try_with(|hint| hint.set(next_in_line));
}

/// Takes (and clears) the hint the last poll on this thread left. Never
/// inlined: the blocking driver calls it after its waiter's `wait`, from
/// which a green unit may resume on another OS thread, and LLVM may keep a
/// thread-local's address across an inlined call (llvm/llvm-project#98479).
#[inline(never)]
pub(crate) fn take_spin_hint() -> bool {
    SPIN_HINT
        .try_with(|hint| hint.replace(false))
        .unwrap_or(false)
}

/// The most pause instructions spent polling the wake flag before parking
/// (about 3 us on the reference VM; see [`Spin`]).
const MAX_SPIN_PAUSES: u32 = 128;
/// Spinning on a budget below this is not worth it.
const MIN_SPIN_PAUSES: u32 = 4;
/// With the budget exhausted, a full spin is tried again after this many
/// waits that parked without spinning.
const RETRY_AFTER_PARKS: u32 = 16;

/// A thread waiter's adaptive spin: real threads only, by design. Under
/// loom ([`MAY_SPIN`] is `false`) it is never entered, so its cells are
/// plain `std` atomics, read and written only by the thread that owns the
/// waiter; they are hints, not part of any protocol a model checks.
#[derive(Debug)]
struct Spin {
    /// Budget in pause instructions: doubles when spinning caught the wake,
    /// halves when it had to park anyway. When threads outnumber cores,
    /// spins keep failing and the budget falls to zero, so spinners stop
    /// taking the cores that the thread (or runtime worker) due to run next
    /// needs.
    budget: std::sync::atomic::AtomicU32,
    /// Waits that parked without spinning since the budget ran out.
    parks_without_spin: std::sync::atomic::AtomicU32,
    /// The driver's hint for the next wait ([`Waiter::next_in_line`]):
    /// spin only when the node is next in line.
    next_in_line: std::sync::atomic::AtomicBool,
}

impl Spin {
    fn new() -> Spin {
        Spin {
            budget: std::sync::atomic::AtomicU32::new(MAX_SPIN_PAUSES),
            parks_without_spin: std::sync::atomic::AtomicU32::new(0),
            next_in_line: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Polls `parker`'s wake flag for a short while, if the driver said the
    /// wait is next in line; `true` if a wake arrived (and was consumed).
    fn spin(&self, parker: &Parker) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        if !MAY_SPIN || !self.next_in_line.swap(false, Relaxed) {
            return false;
        }
        let mut budget = self.budget.load(Relaxed);
        if budget < MIN_SPIN_PAUSES {
            // Spinning failed lately: park at once, but after
            // RETRY_AFTER_PARKS such waits try a full spin again. A failure
            // must not stop spinning for good: two threads that both parked
            // once would otherwise keep waking each other through the kernel
            // even when spinning would now succeed.
            let skipped = self.parks_without_spin.load(Relaxed) + 1;
            if skipped < RETRY_AFTER_PARKS {
                self.parks_without_spin.store(skipped, Relaxed);
                return false;
            }
            self.parks_without_spin.store(0, Relaxed);
            budget = MAX_SPIN_PAUSES;
        }
        for spent in 0..budget {
            if parker.woken.load(Ordering::Relaxed) {
                let caught = parker.take_wake();
                if caught {
                    let grown = (budget * 2).max(spent * 2).min(MAX_SPIN_PAUSES);
                    self.budget.store(grown, Relaxed);
                }
                return caught;
            }
            spin_loop();
        }
        self.budget.store(budget / 2, Relaxed);
        false
    }
}

impl Parker {
    /// Consumes a wake, if one arrived.
    #[inline]
    fn take_wake(&self) -> bool {
        self.woken.load(Ordering::Relaxed) && self.woken.swap(false, Ordering::Acquire)
    }
}

impl ThreadWaiter {
    /// A waiter for the calling thread (and only for it: see above). Prefer
    /// [`ThreadWaiter::with_current`], which reuses the thread's cached one.
    ///
    /// ```
    /// use polysync::lowlevel::{ThreadWaiter, Waiter, WaitResult};
    ///
    /// let waiter = ThreadWaiter::new();
    /// let waker = waiter.waker();
    /// std::thread::spawn(move || waker.wake()).join().unwrap();
    /// assert_eq!(waiter.wait(None), WaitResult::Woken);
    /// ```
    pub fn new() -> Self {
        Self {
            parker: Arc::new(Parker {
                thread: thread::current(),
                woken: AtomicBool::new(false),
            }),
            spin: Spin::new(),
            waits: Cell::new(0),
            _own_thread: PhantomData,
        }
    }

    /// Runs `f` with the calling thread's cached waiter.
    ///
    /// ```
    /// use polysync::lowlevel::ThreadWaiter;
    ///
    /// let sem = polysync::Semaphore::new(1);
    /// let permit = ThreadWaiter::with_current(|w| sem.acquire_with(w, None)).unwrap();
    /// permit.forget();
    /// assert_eq!(sem.value(), 0);
    /// ```
    pub fn with_current<R>(f: impl FnOnce(&ThreadWaiter) -> R) -> R {
        let mut f = Some(f);
        let mut out = None;
        // `try_with` fails only while the thread's locals are being destroyed.
        let _ = CURRENT.try_with(|w| out = Some((f.take().expect("called once"))(w)));
        match out {
            Some(out) => out,
            None => (f.take().expect("not called yet"))(&ThreadWaiter::new()),
        }
    }
}

impl Default for ThreadWaiter {
    fn default() -> Self {
        Self::new()
    }
}

impl Waiter for ThreadWaiter {
    fn waker(&self) -> Waker {
        Waker::from(self.parker.clone())
    }

    /// An OS thread may spin briefly before it parks (never under loom).
    fn spins(&self) -> bool {
        MAY_SPIN
    }

    fn next_in_line(&self, next: bool) {
        self.spin
            .next_in_line
            .store(next, std::sync::atomic::Ordering::Relaxed);
    }

    /// Counts every [`wait`](Waiter::wait), the only thing that consumes
    /// the wake flag.
    fn waits(&self) -> Option<u64> {
        Some(self.waits.get())
    }

    fn wait(&self, deadline: Option<Instant>) -> WaitResult {
        // Counted before it can consume a wake (see `Waiter::waits`).
        self.waits.set(self.waits.get().wrapping_add(1));
        if self.spin.spin(&self.parker) {
            return WaitResult::Woken;
        }
        loop {
            if self.parker.take_wake() {
                return WaitResult::Woken;
            }
            if !park_until(deadline) {
                return WaitResult::TimedOut;
            }
        }
    }
}
