//! The queues' plain blocking forms as a green backend sees them. A test
//! backend (registered process-wide, hence this file of its own) claims the
//! threads that ask it to through a thread-local, and hands them one of two
//! waiters:
//! - a cancelling one: every plain blocking form that must wait withdraws,
//!   then unwinds with the payload `UnitCancelled`, losing nothing;
//! - a green one that parks like a thread but, as a green thread must, never
//!   spins: a spinning queue does not spin for it, while a plain thread of
//!   the same process still spins (registering a backend changes nothing
//!   for plain threads).

#[path = "support/worlds.rs"]
mod worlds;

use polysync::SimpleQueue;
use polysync::lowlevel::{
    GreenBackend, ThreadWaiter, UnitCancelled, UnitId, WaitResult, Waiter, register_backend,
};
use polysync::queue::{GenericQueue, GetError, PutError, Queue, Storage, TryGetError, TryPutError};
use std::cell::Cell;
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Waker;
use std::time::{Duration, Instant};
use worlds::Watchdog;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Not claimed: the OS thread's own waiter.
    Thread,
    /// Claimed; the waiter reports cancellation.
    Cancelling,
    /// Claimed; the waiter parks, never spins.
    Green,
}

thread_local! {
    static MODE: Cell<Mode> = const { Cell::new(Mode::Thread) };
    /// Calls of the claimed waiter's `wait` and `spins` on this thread.
    static WAITS: Cell<usize> = const { Cell::new(0) };
    static SPINS_ASKED: Cell<usize> = const { Cell::new(0) };
}

/// The claimed unit's waiter: a real waker (a thread waiter's), and a
/// `wait` that counts, then cancels or parks.
struct Unit(ThreadWaiter);

impl Waiter for Unit {
    fn waker(&self) -> Waker {
        self.0.waker()
    }

    fn wait(&self, deadline: Option<Instant>) -> WaitResult {
        WAITS.with(|n| n.set(n.get() + 1));
        match MODE.with(Cell::get) {
            Mode::Cancelling => WaitResult::Cancelled,
            _ => self.0.wait(deadline),
        }
    }

    fn spins(&self) -> bool {
        SPINS_ASKED.with(|n| n.set(n.get() + 1));
        false
    }
}

struct TestBackend;

// SAFETY: `current_unit` makes up no identity (see below).
unsafe impl GreenBackend for TestBackend {
    fn name(&self) -> &'static str {
        "test-queue-units"
    }

    fn with_waiter(&self, f: &mut dyn FnMut(&dyn Waiter)) -> bool {
        if MODE.with(Cell::get) == Mode::Thread {
            return false;
        }
        f(&Unit(ThreadWaiter::new()));
        true
    }

    fn current_unit(&self) -> Option<UnitId> {
        None
    }
}

static BACKEND: TestBackend = TestBackend;

/// Runs `f` as a unit of the test backend in `mode`; returns what it
/// returned and how often the unit's waiter waited.
fn as_unit<R>(mode: Mode, f: impl FnOnce() -> R) -> (R, usize) {
    register_backend(&BACKEND).unwrap();
    MODE.with(|m| m.set(mode));
    WAITS.with(|n| n.set(0));
    let out = catch_unwind(AssertUnwindSafe(f));
    MODE.with(|m| m.set(Mode::Thread));
    let waits = WAITS.with(Cell::get);
    match out {
        Ok(out) => (out, waits),
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// Runs `f` as a cancelling unit and checks that it unwound with
/// `UnitCancelled` after exactly one wait.
fn unwinds_cancelled<R>(what: &str, f: impl FnOnce() -> R) {
    let out = catch_unwind(AssertUnwindSafe(|| as_unit(Mode::Cancelling, f)));
    match out {
        Ok(_) => panic!("{what}: returned instead of unwinding"),
        Err(payload) => assert!(
            payload.is::<UnitCancelled>(),
            "{what}: unwound with another payload"
        ),
    }
    assert_eq!(
        WAITS.with(Cell::get),
        1,
        "{what}: one wait, then the unwind"
    );
}

/// An item that counts its drops.
#[derive(Debug)]
struct Tracked(u32, Arc<AtomicUsize>);

impl PartialEq for Tracked {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn plain_puts_unwind_when_the_unit_is_cancelled_and_drop_the_item_once() {
    let _dog = Watchdog::new("cancelled puts", Duration::from_secs(60));
    for spinning in [false, true] {
        let drops = Arc::new(AtomicUsize::new(0));
        let q = Queue::bounded(1).spinning(spinning);
        q.try_put(Tracked(1, drops.clone())).unwrap();
        let item = |n| Tracked(n, drops.clone());
        let far = Duration::from_secs(60);
        unwinds_cancelled("put_blocking", || q.put_blocking(item(2)));
        unwinds_cancelled("try_put_for", || q.try_put_for(item(3), far));
        unwinds_cancelled("try_put_until", || {
            q.try_put_until(item(4), Instant::now() + far)
        });
        assert_eq!(
            drops.load(Ordering::Relaxed),
            3,
            "each refused item dropped once"
        );
        assert_eq!((q.putting(), q.len(), q.unfinished_tasks()), (0, 1, 1));
        assert_eq!(q.try_get().map(|t| t.0), Ok(1));
    }
}

#[test]
fn plain_gets_and_joins_unwind_when_the_unit_is_cancelled() {
    let _dog = Watchdog::new("cancelled gets", Duration::from_secs(60));
    let far = Duration::from_secs(60);
    for spinning in [false, true] {
        let q = Queue::<u8>::unbounded().spinning(spinning);
        unwinds_cancelled("get_blocking", || q.get_blocking());
        unwinds_cancelled("try_get_for", || q.try_get_for(far));
        unwinds_cancelled("try_get_until", || q.try_get_until(Instant::now() + far));
        assert_eq!(q.getting(), 0);
        q.try_put(1).unwrap();
        assert_eq!(q.len(), 1, "stored: no withdrawn getter took it");
        unwinds_cancelled("join_blocking", || q.join_blocking());
        unwinds_cancelled("try_join_for", || q.try_join_for(far));
        unwinds_cancelled("try_join_until", || q.try_join_until(Instant::now() + far));
        assert_eq!(q.joining(), 0);
    }
    let q = SimpleQueue::<u8>::new();
    unwinds_cancelled("SimpleQueue::get_blocking", || q.get_blocking());
    unwinds_cancelled("SimpleQueue::try_get_for", || q.try_get_for(far));
    unwinds_cancelled("SimpleQueue::try_get_until", || {
        q.try_get_until(Instant::now() + far)
    });
    assert_eq!(q.getting(), 0);
}

#[test]
fn plain_forms_that_need_no_wait_never_reach_the_waiter() {
    let q = Queue::bounded(1);
    let ((), waits) = as_unit(Mode::Cancelling, || {
        q.put_blocking(1).unwrap();
        assert_eq!(q.get_blocking(), Ok(1));
        q.task_done().unwrap();
        q.join_blocking();
        q.close();
        assert_eq!(q.get_blocking(), Err(GetError));
        assert_eq!(q.put_blocking(3), Err(PutError(3)));
        assert_eq!(
            q.try_put_for(4, Duration::ZERO),
            Err(TryPutError::Closed(4))
        );
    });
    assert_eq!(
        waits, 0,
        "completed or failed at once: no wait, no cancellation"
    );
}

/// A FIFO whose `len` counts one phantom item while `pop` finds none, and
/// that counts its `pop` calls: the readiness summary of a spinning queue
/// then always says "items", so every spin round tries a get (and fails),
/// which makes a spin visible in the pop count.
#[derive(Default)]
struct Phantom {
    items: VecDeque<u8>,
    pops: Arc<AtomicUsize>,
}

impl Storage<u8> for Phantom {
    fn push(&mut self, item: u8) {
        self.items.push_back(item);
    }

    fn pop(&mut self) -> Option<u8> {
        self.pops.fetch_add(1, Ordering::Relaxed);
        self.items.pop_front()
    }

    fn restore(&mut self, item: u8) {
        self.items.push_front(item);
    }

    fn peek(&self) -> Option<&u8> {
        self.items.front()
    }

    fn len(&self) -> usize {
        self.items.len() + 1
    }
}

/// How many gets a blocking `try_get_for` on an empty spinning `Phantom`
/// queue attempted, in `mode`.
fn pops_of_one_timed_out_get(mode: Mode) -> (usize, usize) {
    let pops = Arc::new(AtomicUsize::new(0));
    let storage = Phantom {
        items: VecDeque::new(),
        pops: pops.clone(),
    };
    let q = GenericQueue::with_storage(storage, None).spinning(true);
    let (out, waits) = as_unit(mode, || q.try_get_for(Duration::from_millis(2)));
    assert_eq!(out, Err(TryGetError::Empty));
    (pops.load(Ordering::Relaxed), waits)
}

#[test]
fn a_spinning_queue_spins_for_plain_threads_only() {
    let _dog = Watchdog::new("spinning per waiter", Duration::from_secs(60));
    register_backend(&BACKEND).unwrap();
    SPINS_ASKED.with(|n| n.set(0));
    // A green unit: one try before waiting, two polls to queue, no spin.
    let (green_pops, green_waits) = pops_of_one_timed_out_get(Mode::Green);
    assert!(SPINS_ASKED.with(Cell::get) >= 1, "the waiter was asked");
    assert!(green_waits >= 1, "the green unit waited on its own waiter");
    assert!(
        green_pops <= 3,
        "a green unit spun: {green_pops} get attempts"
    );
    // A plain thread, with the backend registered: it still spins (over a
    // hundred attempts before it parks).
    let (thread_pops, thread_waits) = pops_of_one_timed_out_get(Mode::Thread);
    assert_eq!(thread_waits, 0, "the plain thread used its own waiter");
    assert!(
        thread_pops > 100,
        "a plain thread did not spin: {thread_pops} get attempts"
    );
}
