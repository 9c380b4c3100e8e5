//! Dropping a hub (leaving `run`) unwinds the green threads that have not
//! ended on their own stacks, so polysync's withdrawal logic runs: a green
//! thread suspended in `lock.acquire_blocking()` leaves the queue, and one
//! that was handed the lock at that very moment passes it on.

mod support;

use polysync::{Lock, Queue, Semaphore};
use polysync_corosensei::{Hub, JoinError, run, spawn};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use support::{green_until, spin_until, watchdog};

/// Green threads G1 and G2 wait for a lock that the main green thread holds;
/// a plain thread T queues behind them. The main green thread releases (the
/// lock is handed to G1, which is only scheduled) and returns at once, so
/// `run` drops the hub with G1 holding the handed-over lock and G2 still
/// queued. Unwinding G1 must pass the lock on (to G2, whose unwinding passes
/// it on again) so that T gets it; and the lock is usable afterwards.
#[test]
fn unwinding_on_hub_drop_passes_a_handed_over_lock_on() {
    watchdog("hand-over on teardown", || {
        // Strict hand-off: G1 is handed the lock while suspended.
        let lock = Arc::new(Lock::new_fair());
        let t_got_it = Arc::new(AtomicBool::new(false));
        let queued = Arc::new(polysync::Event::new());
        let thread = {
            let (lock, got, queued) = (lock.clone(), t_got_it.clone(), queued.clone());
            std::thread::spawn(move || {
                queued.wait_blocking();
                let guard = lock.acquire_blocking(); // third in line
                got.store(true, Ordering::SeqCst);
                drop(guard);
            })
        };
        let green_ran_on = {
            let (lock, queued) = (lock.clone(), queued.clone());
            run(move || {
                let guard = lock.acquire_blocking();
                let ran = Arc::new(AtomicBool::new(false));
                for _ in 0..2 {
                    let (lock, ran) = (lock.clone(), ran.clone());
                    spawn(move || {
                        let _g = lock.acquire_blocking();
                        ran.store(true, Ordering::SeqCst); // never: unwound first
                    });
                }
                green_until("two green waiters", || lock.waiting() == 2);
                queued.set();
                green_until("the thread queued", || lock.waiting() == 3);
                drop(guard); // hands the lock to G1, which is only scheduled
                assert!(lock.is_locked(), "handed over, not released");
                ran
                // Returning ends `run`: the hub drops with G1 and G2 suspended.
            })
        };
        thread.join().unwrap();
        assert!(t_got_it.load(Ordering::SeqCst), "the thread got the lock");
        assert!(!green_ran_on.load(Ordering::SeqCst));
        assert!(!lock.is_locked() && lock.waiting() == 0);
        assert!(lock.try_acquire().is_some(), "the lock is usable");
    });
}

/// The same through `Hub` kept by hand: green waiters on a semaphore and a
/// queue are withdrawn, a permit handed to one of them is passed to a
/// plain-thread waiter, and an item given to a green getter goes back.
#[test]
fn unwinding_withdraws_and_gives_back() {
    watchdog("withdraw on teardown", || {
        let sem = Arc::new(Semaphore::new(0));
        let queue = Arc::new(Queue::<u32>::unbounded());
        let hub = Hub::new();
        for _ in 0..3 {
            let sem = sem.clone();
            hub.spawn(move || sem.acquire_blocking().unwrap().forget());
        }
        let getter = {
            let queue = queue.clone();
            hub.spawn(move || queue.get_blocking().unwrap())
        };
        {
            let (sem, queue) = (sem.clone(), queue.clone());
            hub.run(move || {
                green_until("queued", || sem.waiting() == 3 && queue.getting() == 1);
                sem.release(1); // handed to the first green waiter
                // Not `put_blocking`: its checkpoint would let the waiters run.
                queue.try_put(7).unwrap(); // handed to the getter
            });
        }
        assert_eq!(sem.waiting(), 3 - 1);
        let thread = {
            let sem = sem.clone();
            std::thread::spawn(move || sem.acquire_blocking().unwrap().forget())
        };
        spin_until("thread queued", || sem.waiting() == 3);
        drop(hub);
        thread.join().unwrap(); // the handed-over permit reached the thread
        assert_eq!(sem.waiting(), 0);
        assert_eq!(sem.value(), 0);
        assert!(getter.join().unwrap_err().is_cancelled());
        assert_eq!(queue.try_get(), Ok(7), "the item went back to the queue");
    });
}

/// A destructor that waits (with a deadline) while its green thread is being
/// unwound blocks the hub's OS thread instead of suspending (which would
/// restart the unwind inside the destructor and abort), and a wake from
/// another thread ends that wait.
#[test]
fn a_destructor_that_waits_during_teardown_blocks_the_thread() {
    struct WaitOnDrop(Arc<Semaphore>);
    impl Drop for WaitOnDrop {
        fn drop(&mut self) {
            if let Some(p) = self.0.try_acquire_for(Duration::from_secs(10)) {
                p.forget();
            }
        }
    }
    watchdog("wait in a destructor", || {
        let sem = Arc::new(Semaphore::new(0));
        let hub = Hub::new();
        {
            let sem = sem.clone();
            hub.spawn(move || {
                let _w = WaitOnDrop(sem);
                polysync_corosensei::sleep(Duration::from_secs(3600));
            });
        }
        hub.run(polysync_corosensei::yield_now);
        let releaser = {
            let sem = sem.clone();
            std::thread::spawn(move || {
                spin_until("the destructor waits", || sem.waiting() == 1);
                sem.release(1);
            })
        };
        drop(hub);
        releaser.join().unwrap();
        assert_eq!(sem.value(), 0, "the destructor took the permit");
    });
}

/// Ten thousand green threads suspended on one lock are all unwound, in
/// linear time, and the lock is left free with nobody queued.
#[test]
fn a_teardown_of_ten_thousand_waiters() {
    watchdog("big teardown", || {
        // Strict hand-off: the first green waiter is handed the lock.
        let lock = Arc::new(Lock::new_fair());
        let guard = lock.acquire_blocking(); // held by this thread, outside the hub
        let hub = Hub::builder().stack_size(64 * 1024).build();
        let handles: Vec<_> = (0..10_000)
            .map(|_| {
                let lock = lock.clone();
                hub.spawn(move || drop(lock.acquire_blocking()))
            })
            .collect();
        {
            let lock = lock.clone();
            hub.run(move || green_until("all queued", || lock.waiting() == 10_000));
        }
        drop(guard); // handed to the first green waiter, which is only scheduled
        // The guard's release handed the lock to the first waiter.
        assert!(lock.is_locked());
        drop(hub);
        assert!(!lock.is_locked());
        assert_eq!(lock.waiting(), 0);
        let cancelled = handles
            .into_iter()
            .filter(|h| h.is_finished())
            .map(|h| h.join().unwrap_err())
            .filter(JoinError::is_cancelled)
            .count();
        assert_eq!(cancelled, 10_000);
    });
}
