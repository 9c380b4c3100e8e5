//! Timed waits inside may coroutines: they expire (also below one
//! millisecond, which may's own timer, whole milliseconds, would read as
//! "no timeout"), never before their deadline, withdraw cleanly, succeed
//! when woken in time, and return on a worker thread, not on may's timer
//! thread.
//! Only "not before the deadline" is a time assertion: that is the
//! semantics of a deadline, not a speed.

mod support;

use polysync::queue::{TryGetError, TryPutError};
use polysync::{CapacityLimiter, Condition, Event, Lock, Queue, RLock, Semaphore};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{eventually, go, setup, watchdog};

const WORKERS: usize = 2;

const TIMEOUTS: [Duration; 4] = [
    Duration::from_micros(300),
    Duration::from_millis(1),
    Duration::from_micros(1_500),
    Duration::from_millis(7),
];

/// Runs `f(timeout)` for each timeout in a coroutine and checks that it
/// reports a timeout no earlier than the timeout.
fn expires(what: &'static str, f: impl Fn(Duration) -> bool + Send + 'static) {
    go(move || {
        for t in TIMEOUTS {
            let start = Instant::now();
            assert!(f(t), "{what}: {t:?} did not time out");
            let took = start.elapsed();
            assert!(took >= t, "{what}: a {t:?} timeout returned after {took:?}");
        }
    })
    .join()
    .unwrap_or_else(|_| panic!("{what}: the coroutine panicked"));
}

#[test]
fn every_timed_wait_expires_and_never_early() {
    setup(WORKERS);
    let _dog = watchdog("every_timed_wait_expires_and_never_early");
    let lock = Arc::new(Lock::new());
    let rlock = Arc::new(RLock::new());
    let limiter = Arc::new(CapacityLimiter::new(1));
    let held = lock.acquire_blocking();
    let rheld = rlock.acquire_blocking();
    let token = limiter.acquire_blocking().unwrap();

    let l = lock.clone();
    expires("Lock", move |t| l.try_acquire_for(t).is_none());
    let l = lock.clone();
    expires("Lock until", move |t| {
        l.try_acquire_until(Instant::now() + t).is_none()
    });
    let r = rlock.clone();
    expires("RLock", move |t| r.try_acquire_for(t).is_none());
    let sem = Arc::new(Semaphore::new(0));
    let s = sem.clone();
    expires("Semaphore", move |t| s.try_acquire_for(t).is_none());
    let event = Arc::new(Event::new());
    let e = event.clone();
    expires("Event", move |t| !e.try_wait_for(t));
    let q = Arc::new(Queue::<u8>::bounded(1));
    let q2 = q.clone();
    expires("Queue get", move |t| {
        q2.try_get_for(t) == Err(TryGetError::Empty)
    });
    let q2 = q.clone();
    expires("Queue put", move |t| {
        q2.try_put(0).ok(); // full from the first round on
        q2.try_put_for(7, t) == Err(TryPutError::Full(7))
    });
    let lim = limiter.clone();
    expires("CapacityLimiter", move |t| {
        lim.try_acquire_for(t).unwrap_err() == polysync::BorrowError::Unavailable
    });
    let cl = Arc::new((Lock::new(), Condition::new()));
    let c = cl.clone();
    expires("Condition", move |t| {
        let out = c.1.try_wait_for(c.0.acquire_blocking(), t);
        assert!(c.0.is_locked(), "held again after the timeout");
        out.is_err()
    });

    // Every timed-out wait withdrew.
    assert_eq!(lock.waiting() + rlock.waiting() + sem.waiting(), 0);
    assert_eq!(event.waiting() + q.getting() + q.putting(), 0);
    assert_eq!(limiter.waiting() + cl.1.waiting(), 0);
    assert_eq!(q.len(), 1);
    drop((held, rheld, token));
}

/// A timed wait that is woken in time succeeds.
#[test]
fn a_timed_wait_woken_in_time_succeeds() {
    setup(WORKERS);
    let _dog = watchdog("a_timed_wait_woken_in_time_succeeds");
    let lock = Arc::new(Lock::new());
    let q = Arc::new(Queue::<u32>::bounded(1));
    let held = lock.acquire_blocking();
    let co = {
        let (lock, q) = (lock.clone(), q.clone());
        go(move || {
            let g = lock.try_acquire_for(Duration::from_secs(600));
            assert!(g.is_some(), "released in time");
            drop(g);
            assert_eq!(q.try_get_for(Duration::from_secs(600)), Ok(5));
        })
    };
    eventually(|| lock.waiting() == 1);
    drop(held);
    eventually(|| q.getting() == 1);
    q.put_blocking(5).unwrap();
    co.join().unwrap();
}

/// may resumes a coroutine whose park timed out on its timer thread; the
/// waiter's timeouts unpark the coroutine instead (see the crate's
/// "Timeouts"), so the code after a timed-out wait runs on a worker, never
/// on (and never stalling) may's timer thread.
#[test]
fn a_timed_out_wait_returns_on_a_worker() {
    setup(WORKERS);
    let _dog = watchdog("a_timed_out_wait_returns_on_a_worker");
    let lock = Arc::new(Lock::new());
    let held = lock.acquire_blocking();
    let l = lock.clone();
    go(move || {
        // A sleep resumes on the timer thread: learn its id there.
        may::coroutine::sleep(Duration::from_millis(1));
        let timer = std::thread::current().id();
        for round in 0..20 {
            assert!(l.try_acquire_for(Duration::from_millis(1)).is_none());
            assert_ne!(
                std::thread::current().id(),
                timer,
                "round {round}: a timed-out wait returned on may's timer thread"
            );
        }
    })
    .join()
    .expect("the coroutine");
    drop(held);
}
