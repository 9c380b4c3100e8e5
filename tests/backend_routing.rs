//! Every plain blocking form of every primitive suspends through the current
//! unit's waiter, as the backend registry picks it (issue 9, point 6), and a
//! waiter that reports cancellation makes those forms withdraw and unwind
//! with [`UnitCancelled`] (point 2).
//!
//! A test backend claims a thread while a thread-local flag is set; its
//! waiter counts `wait` calls and otherwise behaves like the thread's own
//! waiter (or reports cancellation when asked). Registration is
//! process-wide, so this file is its own test binary; threads that do not
//! set the flag are unaffected (they are the releasers below).

#[path = "support/worlds.rs"]
mod worlds;

use polysync::lowlevel::{
    GreenBackend, ThreadWaiter, UnitCancelled, UnitId, WaitResult, Waiter, identified,
    register_backend,
};
use polysync::queue::Queue;
use polysync::{
    Barrier, CapacityLimiter, Condition, CountdownEvent, Event, Latch, Lock, Mutex,
    RCapacityLimiter, REvent, RLock, Semaphore,
};
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Waker;
use std::time::{Duration, Instant};
use worlds::{Watchdog, wait_until};

thread_local! {
    static CLAIMED: Cell<bool> = const { Cell::new(false) };
    static CANCEL: Cell<bool> = const { Cell::new(false) };
    static WAITS: Cell<usize> = const { Cell::new(0) };
}

static BACKEND_WAITS: AtomicUsize = AtomicUsize::new(0);

struct Counting;

struct CountingWaiter;

impl Waiter for CountingWaiter {
    fn waker(&self) -> Waker {
        ThreadWaiter::with_current(|w| w.waker())
    }

    fn wait(&self, deadline: Option<Instant>) -> WaitResult {
        WAITS.with(|n| n.set(n.get() + 1));
        BACKEND_WAITS.fetch_add(1, Ordering::Relaxed);
        if CANCEL.with(Cell::get) {
            return WaitResult::Cancelled;
        }
        ThreadWaiter::with_current(|w| w.wait(deadline))
    }
}

// SAFETY: `current_unit` returns `None`: the claimed thread keeps its own
// identity, so no identity is made up here.
unsafe impl GreenBackend for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }

    fn with_waiter(&self, f: &mut dyn FnMut(&dyn Waiter)) -> bool {
        if !CLAIMED.with(Cell::get) {
            return false;
        }
        f(&CountingWaiter);
        true
    }

    fn current_unit(&self) -> Option<UnitId> {
        None // the claimed thread keeps its own identity
    }
}

static COUNTING: Counting = Counting;

fn install() {
    register_backend(&COUNTING).unwrap();
}

const LONG: Duration = Duration::from_secs(60);

/// Runs `wait` on this thread as a claimed unit while another thread calls
/// `release` once `waiting()` shows the wait queued; checks that the wait
/// went through the backend's waiter.
fn through_backend(
    what: &str,
    waiting: impl Fn() -> usize + Sync,
    release: impl FnOnce() + Send,
    wait: impl FnOnce(),
) {
    install();
    std::thread::scope(|s| {
        s.spawn(|| {
            wait_until(what, || waiting() > 0);
            release();
        });
        CLAIMED.with(|c| c.set(true));
        let before = WAITS.with(Cell::get);
        wait();
        let after = WAITS.with(Cell::get);
        CLAIMED.with(|c| c.set(false));
        assert!(
            after > before,
            "{what}: did not wait through the backend's waiter"
        );
    });
}

/// Runs `wait` as a claimed unit whose waiter reports cancellation: it must
/// unwind with `UnitCancelled` and leave nobody queued.
fn cancelled(what: &str, waiting: impl Fn() -> usize, wait: impl FnOnce()) {
    install();
    CLAIMED.with(|c| c.set(true));
    CANCEL.with(|c| c.set(true));
    let out = catch_unwind(AssertUnwindSafe(wait));
    CANCEL.with(|c| c.set(false));
    CLAIMED.with(|c| c.set(false));
    let payload = out.expect_err(what);
    assert!(
        payload.is::<UnitCancelled>(),
        "{what}: unwound with another payload"
    );
    assert_eq!(waiting(), 0, "{what}: a cancelled wait stayed queued");
}

fn dog() -> Watchdog {
    Watchdog::new("backend routing", Duration::from_secs(120))
}

/// A lock guard whose owner is no thread (an async acquisition), so the
/// claimed thread may wait for the lock.
fn held(lock: &Lock) -> polysync::LockGuard<'_> {
    futures_lite::future::block_on(lock.acquire())
}

#[test]
fn lock_and_mutex() {
    let _dog = dog();
    let lock = Lock::new();
    through_backend(
        "Lock::acquire_blocking",
        || lock.waiting(),
        {
            let g = held(&lock);
            move || drop(g)
        },
        || drop(lock.acquire_blocking()),
    );
    through_backend(
        "Lock::try_acquire_for",
        || lock.waiting(),
        {
            let g = held(&lock);
            move || drop(g)
        },
        || assert!(lock.try_acquire_for(LONG).is_some()),
    );
    through_backend(
        "Lock::try_acquire_until",
        || lock.waiting(),
        {
            let g = held(&lock);
            move || drop(g)
        },
        || assert!(lock.try_acquire_until(Instant::now() + LONG).is_some()),
    );
    let g = held(&lock);
    cancelled(
        "Lock::acquire_blocking",
        || lock.waiting(),
        || drop(lock.acquire_blocking()),
    );
    drop(g);
    assert!(
        !lock.is_locked(),
        "nothing was left with the cancelled wait"
    );

    let mutex = Mutex::new(0);
    through_backend(
        "Mutex::lock_blocking",
        || mutex.waiting(),
        {
            let g = futures_lite::future::block_on(mutex.lock());
            move || drop(g)
        },
        || *mutex.lock_blocking() += 1,
    );
    let g = futures_lite::future::block_on(mutex.lock());
    cancelled(
        "Mutex::try_lock_for",
        || mutex.waiting(),
        || drop(mutex.try_lock_for(LONG)),
    );
    drop(g);
}

#[test]
fn semaphores() {
    let _dog = dog();
    let sem = Semaphore::new(0);
    through_backend(
        "Semaphore::acquire_blocking",
        || sem.waiting(),
        || sem.release(1),
        || sem.acquire_blocking().unwrap().forget(),
    );
    through_backend(
        "Semaphore::try_acquire_for",
        || sem.waiting(),
        || sem.release(1),
        || sem.try_acquire_for(LONG).unwrap().forget(),
    );
    through_backend(
        "Semaphore::try_acquire_until",
        || sem.waiting(),
        || sem.release(1),
        || {
            sem.try_acquire_until(Instant::now() + LONG)
                .unwrap()
                .forget()
        },
    );
    cancelled(
        "Semaphore::acquire_blocking",
        || sem.waiting(),
        || sem.acquire_blocking().unwrap().forget(),
    );
    assert_eq!(sem.value(), 0);
}

#[test]
fn events() {
    let _dog = dog();
    let event = Event::new();
    cancelled(
        "Event::wait_blocking",
        || event.waiting(),
        || event.wait_blocking(),
    );
    through_backend(
        "Event::wait_blocking",
        || event.waiting(),
        || {
            event.set();
        },
        || event.wait_blocking(),
    );
    let event = Event::new();
    through_backend(
        "Event::try_wait_for",
        || event.waiting(),
        || {
            event.set();
        },
        || assert!(event.try_wait_for(LONG)),
    );

    let revent = REvent::new();
    cancelled(
        "REvent::wait_blocking",
        || revent.waiting(),
        || revent.wait_blocking(),
    );
    through_backend(
        "REvent::try_wait_until",
        || revent.waiting(),
        || {
            revent.set();
        },
        || assert!(revent.try_wait_until(Instant::now() + LONG)),
    );

    let countdown = CountdownEvent::new(1);
    cancelled(
        "CountdownEvent::wait_blocking",
        || countdown.waiting(),
        || countdown.wait_blocking(),
    );
    through_backend(
        "CountdownEvent::wait_blocking",
        || countdown.waiting(),
        || {
            countdown.down().unwrap();
        },
        || countdown.wait_blocking(),
    );
}

#[test]
fn rlock_and_limiters() {
    let _dog = dog();
    let rlock = RLock::new();
    through_backend(
        "RLock::acquire_blocking",
        || rlock.waiting(),
        {
            let g = futures_lite::future::block_on(identified(rlock.acquire())).unwrap();
            move || drop(g)
        },
        || drop(rlock.acquire_blocking()),
    );
    let g = futures_lite::future::block_on(identified(rlock.acquire())).unwrap();
    cancelled(
        "RLock::acquire_blocking",
        || rlock.waiting(),
        || drop(rlock.acquire_blocking()),
    );
    drop(g);
    assert!(!rlock.is_locked());

    let limiter = CapacityLimiter::new(1);
    through_backend(
        "CapacityLimiter::acquire_blocking",
        || limiter.waiting(),
        {
            let t = futures_lite::future::block_on(identified(limiter.acquire())).unwrap();
            move || drop(t)
        },
        || drop(limiter.acquire_blocking().unwrap()),
    );
    let t = futures_lite::future::block_on(identified(limiter.acquire())).unwrap();
    cancelled(
        "CapacityLimiter::try_acquire_for",
        || limiter.waiting(),
        || drop(limiter.try_acquire_for(LONG)),
    );
    drop(t);
    assert_eq!(limiter.borrowed_tokens(), 0);

    let rlimiter = RCapacityLimiter::new(1);
    through_backend(
        "RCapacityLimiter::try_acquire_until",
        || rlimiter.waiting(),
        {
            let t = futures_lite::future::block_on(identified(rlimiter.acquire())).unwrap();
            move || drop(t)
        },
        || drop(rlimiter.try_acquire_until(Instant::now() + LONG).unwrap()),
    );
}

#[test]
fn condition() {
    let _dog = dog();
    let mutex = Mutex::new(false);
    let cond = Condition::new();
    through_backend(
        "Condition::wait_blocking",
        || cond.waiting(),
        || {
            *futures_lite::future::block_on(mutex.lock()) = true;
            cond.notify_all();
        },
        || {
            let guard = cond.wait_while_blocking(mutex.lock_blocking(), |ready| !**ready);
            assert!(*guard);
        },
    );
    // Cancelled: unwinds; the lock is released and nobody waits.
    cancelled(
        "Condition::wait_blocking",
        || cond.waiting(),
        || drop(cond.wait_blocking(mutex.lock_blocking())),
    );
    assert!(!mutex.is_locked());
}

#[test]
fn barriers() {
    let _dog = dog();
    let latch = Latch::new(2);
    through_backend(
        "Latch::wait_blocking",
        || latch.waiting(),
        || {
            latch.wait_blocking().unwrap();
        },
        || latch.wait_blocking().unwrap(),
    );
    let barrier = Barrier::new(2);
    through_backend(
        "Barrier::try_wait_for",
        || barrier.waiting(),
        || {
            barrier.wait_blocking().unwrap();
        },
        || {
            barrier.try_wait_for(LONG).unwrap();
        },
    );
    let barrier = Barrier::new(2);
    cancelled(
        "Barrier::wait_blocking",
        || barrier.waiting(),
        || {
            let _ = barrier.wait_blocking();
        },
    );
}

#[test]
fn queues() {
    let _dog = dog();
    let queue = Queue::bounded(1);
    through_backend(
        "Queue::get_blocking",
        || queue.getting(),
        || queue.try_put(1).unwrap(),
        || assert_eq!(queue.get_blocking(), Ok(1)),
    );
    queue.try_put(1).unwrap();
    through_backend(
        "Queue::try_put_for",
        || queue.putting(),
        || {
            assert_eq!(queue.try_get(), Ok(1));
        },
        || queue.try_put_for(2, LONG).unwrap(),
    );
    through_backend(
        "Queue::join_blocking",
        || queue.joining(),
        || {
            assert_eq!(queue.try_get(), Ok(2));
            // Three puts so far (1, 1, 2): all done now.
            for _ in 0..3 {
                queue.task_done().unwrap();
            }
        },
        || queue.join_blocking(),
    );
    cancelled(
        "Queue::get_blocking",
        || queue.getting(),
        || {
            let _ = queue.get_blocking();
        },
    );
    queue.try_put(3).unwrap();
    cancelled(
        "Queue::put_blocking",
        || queue.putting(),
        || {
            let _ = queue.put_blocking(4);
        },
    );
    assert_eq!(
        queue.try_get(),
        Ok(3),
        "the cancelled put left nothing behind"
    );
    assert!(queue.is_empty());
}

#[test]
fn unclaimed_threads_are_not_routed() {
    let _dog = dog();
    install();
    let sem = Semaphore::new(0);
    let before = BACKEND_WAITS.load(Ordering::Relaxed);
    std::thread::scope(|s| {
        s.spawn(|| sem.acquire_blocking().unwrap().forget());
        wait_until("a queued thread", || sem.waiting() > 0);
        sem.release(1);
    });
    // Other tests may run concurrently and count their own waits; this
    // thread's wait is the thread waiter's: its own count stays zero.
    let _ = before;
    assert_eq!(WAITS.with(Cell::get), 0);
}
