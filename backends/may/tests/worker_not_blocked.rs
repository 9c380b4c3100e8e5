//! With **one** may worker, coroutines wait on every kind of polysync
//! primitive (held or empty, released by an OS thread) while a ticker
//! coroutine keeps running on that same worker: the waits park the
//! coroutines, never the worker. If a wait blocked the worker, the other
//! waiters would never even start waiting and the ticker would stop; the
//! watchdog then fails the test. No timing is asserted.

mod support;

use polysync::{CapacityLimiter, Condition, Event, Lock, Mutex, Queue, RLock, Semaphore};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::{Ticker, eventually, go, setup, watchdog};

const WORKERS: usize = 1;
const EACH: usize = 4;

struct Prims {
    lock: Lock,
    rlock: RLock,
    sem: Semaphore,
    event: Event,
    queue: Queue<usize>,
    flag: Mutex<bool>,
    cond: Condition,
    limiter: CapacityLimiter,
    done: AtomicUsize,
}

#[test]
fn waits_park_the_coroutine_not_the_worker() {
    setup(WORKERS);
    let _dog = watchdog("waits_park_the_coroutine_not_the_worker");
    let p = Arc::new(Prims {
        lock: Lock::new(),
        rlock: RLock::new(),
        sem: Semaphore::new(0),
        event: Event::new(),
        queue: Queue::bounded(EACH),
        flag: Mutex::new(false),
        cond: Condition::new(),
        limiter: CapacityLimiter::new(1),
        done: AtomicUsize::new(0),
    });
    let ticker = Ticker::start();
    ticker.advance(1);

    // This thread holds or empties everything.
    let held = p.lock.acquire_blocking();
    let rheld = p.rlock.acquire_blocking();
    let token = p.limiter.acquire_blocking().unwrap();

    let mut cos = Vec::new();
    for i in 0..EACH {
        macro_rules! co {
            ($body:expr) => {{
                let p = p.clone();
                cos.push(go(move || {
                    let p = &*p;
                    $body(p);
                    p.done.fetch_add(1, Ordering::Relaxed);
                }));
            }};
        }
        co!(|p: &Prims| drop(p.lock.acquire_blocking()));
        co!(|p: &Prims| drop(p.rlock.acquire_blocking()));
        co!(|p: &Prims| p.sem.acquire_blocking().unwrap().forget());
        co!(|p: &Prims| p.event.wait_blocking());
        co!(|p: &Prims| assert!(p.queue.get_blocking().unwrap() < EACH));
        co!(|p: &Prims| drop(p.cond.wait_while_blocking(p.flag.lock_blocking(), |f| !**f)));
        co!(|p: &Prims| drop(p.limiter.acquire_blocking().unwrap()));
        // A timed wait too, long enough to still be waiting below.
        co!(|p: &Prims| {
            let _ = i;
            assert!(p.lock.try_acquire_for(Duration::from_secs(600)).is_some());
        });
    }

    // Every coroutine got to its wait: none of the earlier ones blocked the
    // one worker they all share.
    eventually(|| {
        p.lock.waiting() == 2 * EACH
            && p.rlock.waiting() == EACH
            && p.sem.waiting() == EACH
            && p.event.waiting() == EACH
            && p.queue.getting() == EACH
            && p.cond.waiting() == EACH
            && p.limiter.waiting() == EACH
    });
    // And the worker still runs other coroutines while they all wait.
    ticker.advance(20);
    assert_eq!(
        p.done.load(Ordering::Relaxed),
        0,
        "nothing was released yet"
    );

    // Release everything from this thread.
    drop(held);
    drop(rheld);
    drop(token);
    p.sem.release(EACH);
    p.event.set();
    for n in 0..EACH {
        p.queue.put_blocking(n).unwrap();
    }
    *p.flag.lock_blocking() = true;
    p.cond.notify_all();

    for co in cos {
        co.join().expect("a waiting coroutine finished");
    }
    assert_eq!(p.done.load(Ordering::Relaxed), 8 * EACH);
    assert!(!p.lock.is_locked() && !p.rlock.is_locked());
    assert_eq!(p.limiter.borrowed_tokens(), 0);
    let ticks = ticker.stop();
    eprintln!("worker_not_blocked: the ticker ran {ticks} times on the one worker");
}

/// Timed waits that run out park on may's timer, not on the worker.
#[test]
fn timed_waits_that_run_out_leave_the_worker_free() {
    setup(WORKERS);
    let _dog = watchdog("timed_waits_that_run_out_leave_the_worker_free");
    let lock = Arc::new(Lock::new());
    let held = lock.acquire_blocking();
    let ticker = Ticker::start();
    let timed_out = Arc::new(AtomicUsize::new(0));
    let cos: Vec<_> = (0..EACH)
        .map(|_| {
            let (lock, timed_out) = (lock.clone(), timed_out.clone());
            go(move || {
                if lock.try_acquire_for(Duration::from_millis(100)).is_none() {
                    timed_out.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    eventually(|| lock.waiting() == EACH || timed_out.load(Ordering::Relaxed) > 0);
    ticker.advance(5);
    for co in cos {
        co.join().unwrap();
    }
    assert_eq!(timed_out.load(Ordering::Relaxed), EACH);
    assert_eq!(lock.waiting(), 0, "every timed-out wait withdrew");
    drop(held);
    ticker.stop();
}
