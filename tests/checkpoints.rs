//! Checkpoints (`polysync::lowlevel::checkpoint`): an async wait that did not
//! have to wait yields exactly once when they are on and never when they are
//! off; a wait that did wait never yields a second time; a wait yields
//! before it takes anything (an RLock re-entry after: a future dropped there
//! gives its level back); blocking forms on OS threads never
//! take one; green units take their waiter's checkpoint; the environment
//! overrides (read once: checked in child processes).

#[path = "support/worlds.rs"]
mod worlds;

use polysync::lowlevel::checkpoint::{enabled, scoped, with_checkpoints};
use polysync::lowlevel::{
    GreenBackend, ThreadWaiter, UnitId, WaitResult, Waiter, block_on_with, identified,
    register_backend,
};
use polysync::{
    BoundedSemaphore, CapacityLimiter, Condition, CountdownEvent, Event, Latch, Lock, Mutex, Queue,
    REvent, RLock, Semaphore, SimpleQueue,
};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;
use worlds::Watchdog;

fn dog() -> Watchdog {
    Watchdog::new("checkpoints", Duration::from_secs(60))
}

/// A waker that counts its wakes.
#[derive(Default)]
struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Polls `fut` until it is ready (each `Pending` must have woken the
/// counter, or the test would hang in a real executor: checked). Returns
/// the output and how many times it returned `Pending`.
fn polls_to_ready<F: Future>(fut: F) -> (F::Output, usize) {
    let counter = Arc::new(Counter::default());
    let waker = Waker::from(counter.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    let mut pendings = 0;
    loop {
        let before = counter.0.load(Ordering::Relaxed);
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(out) => return (out, pendings),
            Poll::Pending => {
                pendings += 1;
                assert!(
                    counter.0.load(Ordering::Relaxed) > before,
                    "a checkpoint's Pending must wake its task"
                );
                assert!(pendings < 10, "yielded more than once");
            }
        }
    }
}

/// Every primitive's uncontended async wait, each run through `check`,
/// which gets the number of `Pending`s it returned before it was ready.
fn every_uncontended_wait(check: &dyn Fn(&str, usize)) {
    let lock = Lock::new();
    check("Lock::acquire", polls_to_ready(lock.acquire()).1);
    let mutex = Mutex::new(1);
    check("Mutex::lock", polls_to_ready(mutex.lock()).1);
    let rlock = RLock::new();
    let (outer, n) = polls_to_ready(identified(async {
        let outer = rlock.acquire().await.unwrap();
        // The re-entry inside the same task: its own checkpoint.
        let (inner, n) = polls_to_ready(rlock.acquire());
        drop(inner);
        drop(outer);
        n
    }));
    check("RLock::acquire (re-entry)", outer);
    check("RLock::acquire (first)", n);
    let sem = Semaphore::new(1);
    check("Semaphore::acquire", polls_to_ready(sem.acquire()).1);
    let bsem = BoundedSemaphore::new(1, 1);
    check(
        "BoundedSemaphore::acquire",
        polls_to_ready(bsem.acquire()).1,
    );
    let limiter = CapacityLimiter::new(1);
    let (n, _) = polls_to_ready(identified(async {
        let (token, n) = polls_to_ready(limiter.acquire());
        drop(token);
        n
    }));
    check("CapacityLimiter::acquire", n);
    let event = Event::new();
    event.set();
    check("Event::wait", polls_to_ready(event.wait()).1);
    let revent = REvent::with_state(true);
    check("REvent::wait", polls_to_ready(revent.wait()).1);
    let countdown = CountdownEvent::new(0);
    check("CountdownEvent::wait", polls_to_ready(countdown.wait()).1);
    let latch = Latch::new(1);
    check("Latch::wait", polls_to_ready(latch.wait()).1);
    let barrier = polysync::Barrier::new(1);
    check("Barrier::wait", polls_to_ready(barrier.wait()).1);
    let q = Queue::bounded(1);
    check("Queue::put", polls_to_ready(q.put(1)).1);
    check("Queue::get", polls_to_ready(q.get()).1);
    let sq = SimpleQueue::new();
    sq.put(1);
    check("SimpleQueue::get", polls_to_ready(sq.get()).1);
}

#[test]
fn off_by_default_no_wait_yields() {
    let _dog = dog();
    assert!(!enabled(), "no policy, no variable: off");
    every_uncontended_wait(&|name, pendings| assert_eq!(pendings, 0, "{name}"));
}

#[test]
fn on_every_uncontended_wait_yields_exactly_once() {
    let _dog = dog();
    with_checkpoints(true, || {
        every_uncontended_wait(&|name, pendings| assert_eq!(pendings, 1, "{name}"));
    });
    // And a scoped override says the same for one future.
    let lock = Lock::new();
    let (_, pendings) = polls_to_ready(scoped(true, async { drop(lock.acquire().await) }));
    assert_eq!(pendings, 1);
    // An inner override wins over an outer one.
    let (_, pendings) = with_checkpoints(true, || {
        polls_to_ready(scoped(false, async { drop(lock.acquire().await) }))
    });
    assert_eq!(pendings, 0);
}

#[test]
fn a_wait_that_waited_does_not_yield_again() {
    let _dog = dog();
    with_checkpoints(true, || {
        let lock = Lock::new();
        let held = lock.acquire_blocking();
        let counter = Arc::new(Counter::default());
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let mut acquire = pin!(lock.acquire());
        assert!(acquire.as_mut().poll(&mut cx).is_pending()); // queued
        drop(held); // hands the lock over and wakes us
        assert_eq!(counter.0.load(Ordering::Relaxed), 1);
        assert!(
            acquire.as_mut().poll(&mut cx).is_ready(),
            "the wait's Pending was its yield: no second one"
        );
        // Same for a getter served by a put.
        let q = Queue::unbounded();
        let mut get = pin!(q.get());
        assert!(get.as_mut().poll(&mut cx).is_pending());
        q.try_put(7).unwrap();
        assert_eq!(get.as_mut().poll(&mut cx), Poll::Ready(Ok(7)));
    });
}

/// A wait takes its checkpoint before it attempts: while it yields there it
/// holds nothing (issue 18: on tokio a wait that took a lock and then spent
/// the last unit of its coop budget yielded with the lock held, once per
/// budget), so dropping it there leaves everything as it was, and the poll
/// after the yield takes what is free at once.
#[test]
fn a_wait_yields_at_its_checkpoint_before_it_takes_anything() {
    let _dog = dog();
    let mut cx = Context::from_waker(Waker::noop());
    with_checkpoints(true, || {
        let lock = Lock::new();
        {
            let mut acquire = pin!(lock.acquire());
            assert!(acquire.as_mut().poll(&mut cx).is_pending());
            assert!(!lock.is_locked(), "nothing taken before the yield");
        }
        assert!(!lock.is_locked());
        {
            let mut acquire = pin!(lock.acquire());
            assert!(acquire.as_mut().poll(&mut cx).is_pending());
            match acquire.as_mut().poll(&mut cx) {
                Poll::Ready(guard) => {
                    assert!(lock.is_locked(), "taken by the poll after the yield");
                    drop(guard);
                }
                Poll::Pending => panic!("a second yield"),
            }
        }
        let sem = Semaphore::new(1);
        {
            let mut acquire = pin!(sem.acquire());
            assert!(acquire.as_mut().poll(&mut cx).is_pending());
            assert_eq!(sem.value(), 1, "the permit is not taken before the yield");
        }
        assert_eq!(sem.value(), 1);
        let q = Queue::unbounded();
        q.try_put("item").unwrap();
        {
            let mut get = pin!(q.get());
            assert!(get.as_mut().poll(&mut cx).is_pending());
            assert_eq!(q.len(), 1, "the item stays queued during the yield");
        }
        assert_eq!(q.try_get(), Ok("item"));
    });
}

/// A re-entry of an `RLock` (the task holds it already) takes its level
/// and then yields: dropping it there gives the level back.
#[test]
fn a_reentry_dropped_at_its_checkpoint_gives_its_level_back() {
    let _dog = dog();
    let mut cx = Context::from_waker(Waker::noop());
    with_checkpoints(true, || {
        let rlock = RLock::new();
        let (levels, _) = polls_to_ready(identified(async {
            let outer = rlock.acquire().await.unwrap();
            {
                let mut again = pin!(rlock.acquire());
                assert!(again.as_mut().poll(&mut cx).is_pending());
                assert_eq!(rlock.count(), 2, "re-entered before the yield");
            }
            let levels = rlock.count();
            drop(outer);
            levels
        }));
        assert_eq!(levels, 1, "the dropped re-entry released its level");
        assert!(!rlock.is_locked());
    });
}

/// A waiter that counts its waits (and its checkpoints), over the thread's.
#[derive(Default)]
struct Counting {
    waits: Cell<usize>,
    checkpoints: Cell<usize>,
}

impl Waiter for Counting {
    fn waker(&self) -> Waker {
        ThreadWaiter::with_current(|w| w.waker())
    }
    fn wait(&self, deadline: Option<std::time::Instant>) -> WaitResult {
        self.waits.set(self.waits.get() + 1);
        ThreadWaiter::with_current(|w| w.wait(deadline))
    }
    fn checkpoint(&self) {
        self.checkpoints.set(self.checkpoints.get() + 1);
    }
}

#[test]
fn blocking_forms_never_take_an_async_checkpoint() {
    let _dog = dog();
    with_checkpoints(true, || {
        let lock = Lock::new();
        let w = Counting::default();
        // A future driven by a blocking driver: no yield, so no wait.
        let guard = block_on_with(&w, pin!(lock.acquire()), None).unwrap();
        drop(guard);
        let guard = lock.acquire_with(&w, None).unwrap();
        drop(guard);
        drop(lock.acquire_blocking());
        assert_eq!(w.waits.get(), 0);
        assert_eq!(
            w.checkpoints.get(),
            0,
            "an explicit waiter is not a green unit"
        );
    });
}

thread_local! {
    /// The toy green unit running on this thread, if any.
    static UNIT: Cell<Option<UnitId>> = const { Cell::new(None) };
    static TOY_WAITER: Counting = Counting::default();
}

/// A green world whose units take checkpoints by default.
struct Toy;

// SAFETY: each unit's identity comes from `UnitId::allocate` once, is
// reported only while that unit runs, and is never given to another.
unsafe impl GreenBackend for Toy {
    fn name(&self) -> &'static str {
        "toy"
    }
    fn with_waiter(&self, f: &mut dyn FnMut(&dyn Waiter)) -> bool {
        if UNIT.get().is_none() {
            return false;
        }
        TOY_WAITER.with(|w| f(w));
        true
    }
    fn current_unit(&self) -> Option<UnitId> {
        UNIT.get()
    }
    fn checkpoints_by_default(&self) -> bool {
        true
    }
}

static TOY: Toy = Toy;

fn in_unit<R>(body: impl FnOnce() -> R) -> (R, usize, usize) {
    register_backend(&TOY).unwrap();
    UNIT.set(Some(UnitId::allocate()));
    let before = TOY_WAITER.with(|w| (w.waits.get(), w.checkpoints.get()));
    let out = body();
    UNIT.set(None);
    let after = TOY_WAITER.with(|w| (w.waits.get(), w.checkpoints.get()));
    (out, after.0 - before.0, after.1 - before.1)
}

/// The green budget (`checkpoint::GREEN_BUDGET`, as tokio's coop budget).
const BUDGET: usize = 128;

#[test]
fn a_green_unit_takes_a_checkpoint_every_budget_of_calls_that_did_not_wait() {
    let _dog = dog();
    let lock = Lock::new();
    let sem = Semaphore::new(0);
    // Start from a full budget: a call that waits refills it.
    let refill = || {
        std::thread::scope(|s| {
            s.spawn(|| {
                worlds::wait_until("a waiter", || sem.waiting() == 1);
                sem.release(1);
            });
            in_unit(|| sem.acquire_blocking().unwrap().forget())
        })
    };
    let ((), waits, checkpoints) = refill();
    assert!(waits >= 1);
    assert_eq!(checkpoints, 0, "a call that waited takes none");
    // 128 calls spend the budget; the 129th, the 257th and the 385th each
    // take a checkpoint first.
    let ((), waits, checkpoints) = in_unit(|| {
        for _ in 0..3 * BUDGET + 1 {
            drop(lock.acquire_blocking());
        }
    });
    assert_eq!((waits, checkpoints), (0, 3), "one per budget");
    // The queue's own fast path spends it too.
    refill();
    let q = Queue::unbounded();
    let ((), _, checkpoints) = in_unit(|| {
        for i in 0..BUDGET / 2 + 1 {
            q.put_blocking(i).unwrap();
            assert_eq!(q.get_blocking(), Ok(i));
        }
    });
    assert_eq!(checkpoints, 1);
    // A call that waited refills the budget: 127 calls, a wait, 127 more.
    refill();
    let ((), _, checkpoints) = in_unit(|| {
        for _ in 0..BUDGET - 1 {
            drop(lock.acquire_blocking());
        }
    });
    assert_eq!(checkpoints, 0);
    refill();
    let ((), _, checkpoints) = in_unit(|| {
        for _ in 0..BUDGET - 1 {
            drop(lock.acquire_blocking());
        }
    });
    assert_eq!(checkpoints, 0, "the wait in between refilled the budget");
    // The condition always waits: its calls refill, never spend.
    refill();
    let mutex = Mutex::new(false);
    let cond = Condition::new();
    let ((), _, checkpoints) = std::thread::scope(|s| {
        s.spawn(|| {
            worlds::wait_until("a condition waiter", || cond.waiting() == 1);
            *mutex.lock_blocking() = true;
            cond.notify_all();
        });
        in_unit(|| drop(cond.wait_while_blocking(mutex.lock_blocking(), |ready| !**ready)))
    });
    assert_eq!(checkpoints, 0);
}

/// Runs this test binary again with `vars` set, running only `test`, which
/// is `#[ignore]`d so that a normal run skips it.
fn rerun_with(test: &str, vars: &[(&str, &str)]) {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["--ignored", "--exact", test, "--nocapture"])
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("1 passed"),
        "{test} with {vars:?} failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_environment_turns_them_on_and_overrides_lose_to_scopes() {
    let _dog = dog();
    rerun_with("child_on_by_environment", &[("POLYSYNC_CHECKPOINTS", "1")]);
    rerun_with(
        "child_green_off_by_its_variable",
        &[("POLYSYNC_TOY_CHECKPOINTS", "0")],
    );
}

#[test]
#[ignore = "run by the_environment_turns_them_on_and_overrides_lose_to_scopes"]
fn child_on_by_environment() {
    assert!(enabled());
    every_uncontended_wait(&|name, pendings| assert_eq!(pendings, 1, "{name}"));
    // A scoped override still wins.
    let lock = Lock::new();
    assert_eq!(
        polls_to_ready(scoped(false, async { drop(lock.acquire().await) })).1,
        0
    );
}

#[test]
#[ignore = "run by the_environment_turns_them_on_and_overrides_lose_to_scopes"]
fn child_green_off_by_its_variable() {
    let lock = Lock::new();
    let ((), _, checkpoints) = in_unit(|| {
        for _ in 0..3 * BUDGET {
            drop(lock.acquire_blocking());
        }
    });
    assert_eq!(
        checkpoints, 0,
        "POLYSYNC_TOY_CHECKPOINTS=0 beats the default"
    );
}
