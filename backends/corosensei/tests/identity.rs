//! Each green thread is an execution unit of its own: an `RLock` re-enters
//! in the same green thread, two green threads of one hub are two owners,
//! and neither is the hub's OS thread.

mod support;

use polysync::RLock;
use polysync::lowlevel::{UnitId, current_unit, identified};
use polysync_corosensei::{GreenWaiter, run, sleep, spawn, yield_now};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use support::{green_until, spin_until, watchdog};

#[test]
fn a_green_thread_has_one_identity_of_its_own() {
    watchdog("identity", || {
        let thread_unit = UnitId::current_thread();
        let (a, b) = run(move || {
            let me = current_unit();
            assert_ne!(me, thread_unit, "not the OS thread's identity");
            assert_eq!(polysync_corosensei::current_unit(), Some(me));
            assert_eq!(GreenWaiter::with_current(|w| w.unit()), Some(me));
            sleep(Duration::from_millis(1));
            yield_now();
            assert_eq!(current_unit(), me, "kept across suspensions");
            let other = spawn(current_unit).join().unwrap();
            (me, other)
        });
        assert_ne!(a, b, "two green threads, two identities");
        assert_eq!(current_unit(), thread_unit);
    });
}

#[test]
fn an_rlock_reenters_in_its_green_thread_and_excludes_the_others() {
    watchdog("rlock owners", || {
        run(|| {
            let rlock = Rc::new(RLock::new());
            let outer = rlock.acquire_blocking();
            let inner = rlock.acquire_blocking(); // re-entry: no wait
            assert_eq!(rlock.count(), 2);
            assert_eq!(rlock.owner(), Some(current_unit()));
            assert!(rlock.is_owned_by_current_unit());

            let other = {
                let rlock = rlock.clone();
                spawn(move || {
                    assert!(!rlock.is_owned_by_current_unit());
                    assert!(
                        rlock.try_acquire().is_none(),
                        "another green thread of the same hub entered the RLock"
                    );
                    let g = rlock.acquire_blocking(); // suspends until both levels go
                    assert_eq!(rlock.count(), 1);
                    assert_eq!(rlock.owner(), Some(current_unit()));
                    let g2 = rlock.acquire_blocking();
                    assert_eq!(rlock.count(), 2);
                    drop(g2);
                    drop(g);
                })
            };
            green_until("the other green thread waits", || rlock.waiting() == 1);
            drop(inner);
            yield_now();
            assert_eq!(rlock.waiting(), 1, "one level left: still ours");
            drop(outer);
            other.join().unwrap();
            assert!(!rlock.is_locked());
        });
    });
}

#[test]
fn an_rlock_between_green_threads_threads_and_tokio_tasks() {
    watchdog("rlock worlds", || {
        let rlock = Arc::new(RLock::new());
        let rt = support::multi_thread(1);
        // A plain thread holds it; a green thread and a tokio task wait.
        let guard = rlock.acquire_blocking();
        let green = {
            let rlock = rlock.clone();
            std::thread::spawn(move || {
                run(move || {
                    let g = rlock.acquire_blocking();
                    let g2 = rlock.acquire_blocking();
                    assert_eq!(rlock.count(), 2);
                    sleep(Duration::from_millis(2));
                    drop((g, g2));
                })
            })
        };
        spin_until("green queued", || rlock.waiting() == 1);
        let task = {
            let rlock = rlock.clone();
            rt.spawn(identified(async move {
                let g = rlock.acquire().await.unwrap();
                assert_eq!(rlock.owner(), polysync::lowlevel::current_task());
                drop(g);
            }))
        };
        spin_until("task queued", || rlock.waiting() == 2);
        drop(guard);
        green.join().unwrap();
        rt.block_on(task).unwrap();
        assert!(!rlock.is_locked());
    });
}

/// A green thread that suspends in the middle of an `identified` future's
/// poll (a blocking call inside it) must not leave that task's identity on
/// the hub's thread: the next green thread is itself, not the task.
#[test]
fn a_task_identity_does_not_leak_to_the_next_green_thread() {
    use polysync::lowlevel::{current_task, current_unit, identified};
    watchdog("identity across a switch", || {
        polysync_corosensei::run(|| {
            let sem = Arc::new(polysync::Semaphore::new(0));
            let task_id = Arc::new(std::sync::Mutex::new(None));
            let a = {
                let (sem, task_id) = (sem.clone(), task_id.clone());
                polysync_corosensei::spawn(move || {
                    polysync_corosensei::block_on(identified(async move {
                        *task_id.lock().unwrap() = current_task();
                        // Suspends this green thread inside the poll.
                        sem.acquire_blocking().unwrap().forget();
                        current_task()
                    }))
                })
            };
            let b = {
                let (sem, task_id) = (sem.clone(), task_id.clone());
                polysync_corosensei::spawn(move || {
                    let seen = (current_task(), current_unit());
                    let own = polysync_corosensei::current_unit();
                    let task = task_id.lock().unwrap().expect("A ran first");
                    sem.release(1);
                    (seen, own, task)
                })
            };
            let ((task_seen, unit_seen), own, task) = b.join().unwrap();
            assert_eq!(task_seen, None, "B is not inside A's task");
            assert_eq!(Some(unit_seen), own, "B is its own green thread");
            assert_ne!(unit_seen, task);
            assert_eq!(a.join().unwrap(), Some(task), "A is the task again");
        });
    });
}
