//! The `*_with(&waiter, deadline)` entry points (issue 9): each carries the
//! full semantics of the blocking forms, and a waiter that reports
//! cancellation makes the wait withdraw cleanly, losing nothing.
//!
//! A `Scripted` waiter wraps the thread's own waiter: before it reports its
//! outcome it runs a script (a release, a notification) so that a hand-off
//! can land exactly while the wait gives up.

#[path = "support/worlds.rs"]
mod worlds;

use polysync::condition::ConditionWaitError;
use polysync::lowlevel::{ThreadWaiter, WaitError, WaitResult, Waiter, identified};
use polysync::{
    BorrowError, CapacityLimiter, Condition, Event, Lock, Mutex, RCapacityLimiter, RLock, RMutex,
    Semaphore, TryAcquireError,
};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};
use worlds::Watchdog;

/// A waiter that runs `script` at its first `wait` and then reports
/// `outcome` (later waits behave like the thread's waiter).
struct Scripted<'s> {
    thread: ThreadWaiter,
    script: RefCell<Option<Box<dyn FnOnce() + 's>>>,
    outcome: WaitResult,
    waits: Cell<usize>,
}

impl<'s> Scripted<'s> {
    fn new(outcome: WaitResult, script: impl FnOnce() + 's) -> Self {
        Scripted {
            thread: ThreadWaiter::new(),
            script: RefCell::new(Some(Box::new(script))),
            outcome,
            waits: Cell::new(0),
        }
    }

    fn cancelling() -> Self {
        Self::new(WaitResult::Cancelled, || {})
    }
}

impl Waiter for Scripted<'_> {
    fn waker(&self) -> Waker {
        self.thread.waker()
    }

    fn wait(&self, deadline: Option<Instant>) -> WaitResult {
        self.waits.set(self.waits.get() + 1);
        match self.script.borrow_mut().take() {
            Some(script) => {
                script();
                self.outcome
            }
            None => self.thread.wait(deadline),
        }
    }
}

fn dog() -> Watchdog {
    Watchdog::new("explicit waiters", Duration::from_secs(60))
}

/// A guard of `lock` held by an async acquisition (owner: no thread), so
/// this thread may wait for the lock without tripping the re-entry check.
fn held(lock: &Lock) -> polysync::LockGuard<'_> {
    futures_lite::future::block_on(lock.acquire())
}

#[test]
fn lock_and_mutex_cancelled_waits_withdraw_and_hand_offs_land() {
    let _dog = dog();
    // Strict hand-off: what this checks is a hand-off landing as the wait
    // gives up (with bounded fairness the release only wakes the waiter,
    // which then gives up and passes the wake on: tests/lock_bounded.rs).
    let lock = Lock::new_fair();
    let guard = held(&lock);
    let w = Scripted::cancelling();
    assert_eq!(
        lock.acquire_with(&w, None).unwrap_err(),
        WaitError::Cancelled
    );
    assert_eq!(w.waits.get(), 1, "it really waited");
    assert_eq!(lock.waiting(), 0, "withdrawn");
    assert!(lock.is_locked(), "the holder still holds it");
    drop(guard);
    assert!(
        !lock.is_locked(),
        "nothing was handed to the cancelled wait"
    );

    // The holder releases while the wait gives up: the hand-off lands and
    // the wait completes instead of losing the lock.
    let slot = RefCell::new(Some(held(&lock)));
    let w = Scripted::new(WaitResult::Cancelled, || drop(slot.borrow_mut().take()));
    let guard = lock.acquire_with(&w, None).expect("the hand-off landed");
    assert!(lock.is_locked());
    drop(guard);
    assert!(!lock.is_locked());

    let mutex = Mutex::new_fair(5);
    let held = futures_lite::future::block_on(mutex.lock());
    let slot = RefCell::new(Some(held));
    let w = Scripted::new(WaitResult::TimedOut, || drop(slot.borrow_mut().take()));
    let deadline = Some(Instant::now() + Duration::from_secs(60));
    assert_eq!(*mutex.lock_with(&w, deadline).unwrap(), 5);
    let held = futures_lite::future::block_on(mutex.lock());
    assert_eq!(
        mutex.lock_with(&Scripted::cancelling(), None).unwrap_err(),
        WaitError::Cancelled
    );
    assert_eq!(mutex.waiting(), 0);
    drop(held);
    assert!(!mutex.is_locked());
}

#[test]
fn lock_with_keeps_the_reentry_check_of_the_blocking_form() {
    let _dog = dog();
    let lock = Lock::new();
    let _guard = lock.acquire_blocking();
    let blocking = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _again = lock.acquire_blocking();
    }));
    let with = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ThreadWaiter::with_current(|w| drop(lock.acquire_with(w, None)));
    }));
    assert!(
        blocking.is_err() && with.is_err(),
        "both refuse to deadlock"
    );
    assert_eq!(lock.waiting(), 0);
}

#[test]
fn semaphore_cancelled_waits_lose_no_permit() {
    let _dog = dog();
    let sem = Semaphore::new(0);
    assert_eq!(
        sem.acquire_with(&Scripted::cancelling(), None).unwrap_err(),
        TryAcquireError::Cancelled
    );
    assert_eq!(sem.waiting(), 0);
    assert_eq!(sem.value(), 0);
    let w = Scripted::new(WaitResult::Cancelled, || sem.release(1));
    let permit = sem
        .acquire_with(&w, None)
        .expect("the released permit landed");
    assert_eq!(sem.value(), 0);
    drop(permit);
    assert_eq!(sem.value(), 1, "conserved");
    // Same outcome as the blocking form with a timeout.
    let taken = sem.try_acquire().unwrap();
    assert!(sem.try_acquire_for(Duration::from_millis(1)).is_none());
    ThreadWaiter::with_current(|w| {
        let soon = Some(Instant::now() + Duration::from_millis(1));
        assert_eq!(
            sem.acquire_with(w, soon).unwrap_err(),
            TryAcquireError::Unavailable
        );
    });
    drop(taken);
    assert_eq!(sem.value(), 1);
}

#[test]
fn event_cancelled_wait_withdraws_and_a_late_set_still_counts() {
    let _dog = dog();
    let event = Event::new();
    assert_eq!(
        event.wait_with(&Scripted::cancelling(), None),
        Err(WaitError::Cancelled)
    );
    assert_eq!(event.waiting(), 0);
    let w = Scripted::new(WaitResult::Cancelled, || {
        event.set();
    });
    assert_eq!(event.wait_with(&w, None), Ok(()));
    let event = Event::new();
    let w = Scripted::new(WaitResult::TimedOut, || {
        event.set();
    });
    let deadline = Some(Instant::now() + Duration::from_secs(60));
    assert_eq!(event.wait_with(&w, deadline), Ok(()));
}

#[test]
fn rlock_with_reenters_and_cancelled_waits_withdraw() {
    let _dog = dog();
    let rlock = RLock::new();
    ThreadWaiter::with_current(|w| {
        let a = rlock.acquire_with(w, None).unwrap();
        let b = rlock.acquire_with(w, None).unwrap();
        assert_eq!(rlock.count(), 2, "re-entered, as acquire_blocking does");
        drop((a, b));
    });
    // Held by another unit (an identified task); we are cancelled while
    // waiting, then the holder hands it over exactly as we give up.
    let other = futures_lite::future::block_on(identified(rlock.acquire())).unwrap();
    assert_eq!(
        rlock
            .acquire_with(&Scripted::cancelling(), None)
            .unwrap_err(),
        WaitError::Cancelled
    );
    assert_eq!(rlock.waiting(), 0);
    let slot = RefCell::new(Some(other));
    let w = Scripted::new(WaitResult::Cancelled, || drop(slot.borrow_mut().take()));
    let mine = rlock.acquire_with(&w, None).expect("the hand-off landed");
    assert!(rlock.is_owned_by_current_unit());
    drop(mine);
    assert!(!rlock.is_locked());

    let rmutex = RMutex::new(3);
    let other = futures_lite::future::block_on(identified(rmutex.lock())).unwrap();
    assert_eq!(
        rmutex.lock_with(&Scripted::cancelling(), None).unwrap_err(),
        WaitError::Cancelled
    );
    drop(other);
    assert_eq!(*rmutex.lock_with(&Scripted::cancelling(), None).unwrap(), 3);
}

#[test]
fn limiters_cancelled_waits_withdraw_and_hand_offs_land() {
    let _dog = dog();
    let limiter = CapacityLimiter::new(1);
    let other = futures_lite::future::block_on(identified(limiter.acquire())).unwrap();
    assert_eq!(
        limiter
            .acquire_with(&Scripted::cancelling(), None)
            .unwrap_err(),
        BorrowError::Cancelled
    );
    assert_eq!(limiter.waiting(), 0);
    let slot = RefCell::new(Some(other));
    let w = Scripted::new(WaitResult::Cancelled, || drop(slot.borrow_mut().take()));
    let token = limiter.acquire_with(&w, None).expect("the token landed");
    assert_eq!(limiter.borrowed_tokens(), 1);
    // Same outcome as the blocking forms: a second borrow by the same unit.
    assert_eq!(
        limiter.acquire_blocking().unwrap_err(),
        BorrowError::AlreadyBorrowing
    );
    assert_eq!(
        limiter
            .acquire_with(&Scripted::cancelling(), None)
            .unwrap_err(),
        BorrowError::AlreadyBorrowing
    );
    drop(token);
    assert_eq!(limiter.borrowed_tokens(), 0);

    let rlimiter = RCapacityLimiter::new(1);
    let other = futures_lite::future::block_on(identified(rlimiter.acquire())).unwrap();
    assert_eq!(
        rlimiter
            .acquire_with(&Scripted::cancelling(), None)
            .unwrap_err(),
        WaitError::Cancelled
    );
    drop(other);
    assert_eq!(
        rlimiter.borrowed_tokens(),
        0,
        "nothing stuck with the cancelled wait"
    );
}

#[test]
fn condition_with_keeps_the_guard_on_timeout_and_drops_it_on_cancel() {
    let _dog = dog();
    let mutex = Mutex::new(0);
    let cond = Condition::new();
    // Timed out: the guard comes back, the lock held again.
    let guard = mutex.lock_blocking();
    let soon = Some(Instant::now() + Duration::from_millis(1));
    let guard = ThreadWaiter::with_current(|w| match cond.wait_with(guard, w, soon) {
        Err(ConditionWaitError::TimedOut(guard)) => guard,
        other => panic!("expected a time-out, got {:?}", other.map(|_| ())),
    });
    assert!(mutex.is_locked());
    let guard = cond
        .try_wait_for(guard, Duration::from_millis(1))
        .unwrap_err();
    assert!(mutex.is_locked(), "same as the blocking form");
    // Cancelled: withdrawn, the lock is not held, nothing waits.
    match cond.wait_with(guard, &Scripted::cancelling(), None) {
        Err(ConditionWaitError::Cancelled) => {}
        other => panic!("expected a cancellation, got {:?}", other.map(|_| ())),
    }
    assert!(!mutex.is_locked());
    assert_eq!(cond.waiting(), 0);
    // Notified as it gives up: the notification counts, the lock is ours.
    let w = Scripted::new(WaitResult::Cancelled, || {
        cond.notify(1);
    });
    let guard = cond
        .wait_with(mutex.lock_blocking(), &w, None)
        .expect("the notification landed");
    assert!(mutex.is_locked());
    drop(guard);
    assert!(!mutex.is_locked());
}

#[test]
fn a_cancelled_condition_wait_passes_its_notification_on() {
    let _dog = dog();
    let lock = Lock::new();
    let cond = Condition::new();
    let other: RefCell<Option<std::pin::Pin<Box<_>>>> = RefCell::new(None);
    let holder = RefCell::new(None);
    let mut cx = Context::from_waker(Waker::noop());
    // We wait first. While we wait, another (async) waiter queues behind
    // us, the lock is taken, and one notification is sent: it reaches us
    // and moves us to the lock's queue. Then our waiter reports
    // cancellation: we leave the lock's queue, and the notification we
    // consumed must reach the other waiter.
    let w = Scripted::new(WaitResult::Cancelled, || {
        let mut wait = Box::pin(cond.wait(held(&lock)));
        assert!(
            wait.as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
                .is_pending()
        );
        *other.borrow_mut() = Some(wait);
        *holder.borrow_mut() = Some(held(&lock));
        assert_eq!(cond.notify(1), 1);
        assert_eq!(cond.waiting(), 1, "only the other waiter is left");
    });
    match cond.wait_with(held(&lock), &w, None) {
        Err(ConditionWaitError::Cancelled) => {}
        other => panic!("expected a cancellation, got {:?}", other.map(|_| ())),
    }
    assert_eq!(cond.waiting(), 0, "the notification was passed on");
    assert_eq!(lock.waiting(), 1, "the other waiter queues for the lock");
    drop(holder.borrow_mut().take());
    let mut other = other.borrow_mut().take().unwrap();
    let std::task::Poll::Ready(guard) = other.as_mut().poll(&mut cx) else {
        panic!("the other waiter was not handed the lock");
    };
    drop(guard);
    assert!(!lock.is_locked());
}
