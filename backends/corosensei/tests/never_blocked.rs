//! The hub's OS thread never blocks in a polysync wait, and a wake only
//! enqueues the green thread on its hub.

mod support;

use polysync::{Condition, Event, Lock, Queue, Semaphore};
use polysync_corosensei::{run, sleep, spawn, yield_now};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::ThreadId;
use std::time::Duration;
use support::{green_until, spin_until, watchdog};

/// What the plain thread holds while the green threads wait.
struct Held {
    lock: Lock,
    sem: Semaphore,
    event: Event,
    queue: Queue<u32>,
    cond_lock: Lock,
    cond: Condition,
}

/// Green threads wait on every kind of primitive held by a plain thread
/// (blocking forms, timed forms, and `block_on` of an async form), while a
/// ticking green thread counts. The plain thread lets go only once the
/// ticker has advanced 20 times: if any of those waits blocked the hub's OS
/// thread, the ticker would stop and the plain thread would time out.
#[test]
fn a_ticking_green_thread_advances_while_others_wait_on_a_thread() {
    watchdog("hub never blocked", || {
        let held = Arc::new(Held {
            lock: Lock::new(),
            sem: Semaphore::new(0),
            event: Event::new(),
            queue: Queue::unbounded(),
            cond_lock: Lock::new(),
            cond: Condition::new(),
        });
        let ticks = Arc::new(AtomicU64::new(0));
        let guard_taken = Arc::new(Event::new());
        let holder = {
            let (held, ticks, taken) = (held.clone(), ticks.clone(), guard_taken.clone());
            std::thread::spawn(move || {
                let guard = held.lock.acquire_blocking();
                taken.set();
                spin_until("all green waiters queued", || {
                    held.lock.waiting() == 2
                        && held.sem.waiting() == 1
                        && held.event.waiting() == 2
                        && held.queue.getting() == 1
                        && held.cond.waiting() == 1
                });
                let at_start = ticks.load(Ordering::SeqCst);
                spin_until("the ticker advances while the green threads wait", || {
                    ticks.load(Ordering::SeqCst) >= at_start + 20
                });
                drop(guard);
                held.sem.release(1);
                held.event.set();
                held.queue.put_blocking(5).unwrap();
                {
                    let _g = held.cond_lock.acquire_blocking();
                    held.cond.notify_all();
                }
            })
        };
        guard_taken.wait_blocking();
        run(move || {
            let h = held;
            let mut waiters = Vec::new();
            let w = |f: Box<dyn FnOnce(&Held)>| {
                let h = h.clone();
                spawn(move || f(&h))
            };
            waiters.push(w(Box::new(|h| drop(h.lock.acquire_blocking()))));
            waiters.push(w(Box::new(|h| {
                // A timed form: the hub's timer must not fire before the release.
                assert!(h.lock.try_acquire_for(Duration::from_secs(60)).is_some());
            })));
            waiters.push(w(Box::new(|h| h.sem.acquire_blocking().unwrap().forget())));
            waiters.push(w(Box::new(|h| h.event.wait_blocking())));
            waiters.push(w(Box::new(|h| {
                polysync_corosensei::block_on(h.event.wait()); // async form in green code
            })));
            waiters.push(w(Box::new(|h| assert_eq!(h.queue.get_blocking(), Ok(5)))));
            waiters.push(w(Box::new(|h| {
                let g = h.cond_lock.acquire_blocking();
                drop(h.cond.wait_blocking(g));
            })));
            let done = Rc::new(Cell::new(false));
            let ticker = {
                let (done, ticks) = (done.clone(), ticks.clone());
                spawn(move || {
                    while !done.get() {
                        ticks.fetch_add(1, Ordering::SeqCst);
                        sleep(Duration::from_millis(1));
                    }
                })
            };
            for waiter in waiters {
                waiter.join().unwrap();
            }
            done.set(true);
            ticker.join().unwrap();
        });
        holder.join().unwrap();
    });
}

/// A wake made by a green thread (a lock handed to another green thread of
/// the same hub) only enqueues the woken green thread: it runs after the
/// waker suspends, never inside the waker's call. A wake from a plain thread
/// only enqueues it too: it resumes on the hub's thread.
#[test]
fn a_wake_only_enqueues() {
    watchdog("wake only enqueues", || {
        // Same hub.
        run(|| {
            let lock = Rc::new(Lock::new());
            let b_ran = Rc::new(Cell::new(false));
            let guard = lock.acquire_blocking();
            let b = {
                let (lock, b_ran) = (lock.clone(), b_ran.clone());
                spawn(move || {
                    let _g = lock.acquire_blocking();
                    b_ran.set(true);
                })
            };
            green_until("b waits", || lock.waiting() == 1);
            drop(guard); // hands the lock to b and wakes it
            assert!(!b_ran.get(), "the woken green thread ran inside the wake");
            yield_now();
            assert!(b_ran.get(), "it runs once the waker switches");
            b.join().unwrap();
        });

        // From a plain thread.
        let lock = Arc::new(Lock::new());
        let hub_thread: Arc<std::sync::Mutex<Option<ThreadId>>> = Default::default();
        let resumed_on: Arc<std::sync::Mutex<Option<ThreadId>>> = Default::default();
        let in_green = Arc::new(AtomicBool::new(false));
        let guard = lock.acquire_blocking();
        let hub = {
            let (lock, hub_thread, resumed_on, in_green) = (
                lock.clone(),
                hub_thread.clone(),
                resumed_on.clone(),
                in_green.clone(),
            );
            std::thread::spawn(move || {
                *hub_thread.lock().unwrap() = Some(std::thread::current().id());
                run(move || {
                    let _g = lock.acquire_blocking();
                    *resumed_on.lock().unwrap() = Some(std::thread::current().id());
                    in_green.store(polysync_corosensei::in_green_thread(), Ordering::SeqCst);
                });
            })
        };
        spin_until("the green thread waits", || lock.waiting() == 1);
        drop(guard); // wakes the green thread from this thread
        assert!(
            resumed_on.lock().unwrap().is_none()
                || *resumed_on.lock().unwrap() != Some(std::thread::current().id()),
            "the green thread ran on the waking thread"
        );
        hub.join().unwrap();
        assert_eq!(*resumed_on.lock().unwrap(), *hub_thread.lock().unwrap());
        assert!(in_green.load(Ordering::SeqCst));
    });
}
