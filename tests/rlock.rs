//! `RLock` and execution-unit identity across worlds: OS threads blocking,
//! identified tokio tasks on multi-thread and current-thread runtimes in
//! other threads, identified `futures_lite::block_on` tasks.

use polysync::lowlevel::{NoTaskIdentity, UnitId, current_task, current_unit, identified};
use polysync::{RLock, RLockReleaseError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::thread;
use std::time::{Duration, Instant};

static_assertions::assert_impl_all!(RLock: Send, Sync, std::fmt::Debug, Default);
static_assertions::assert_impl_all!(polysync::RLockGuard<'static>: Send, Sync);
static_assertions::assert_impl_all!(polysync::RLockAcquire<'static>: Send);
static_assertions::assert_impl_all!(polysync::RMutex<std::cell::Cell<u32>>: Send, Sync);
static_assertions::assert_not_impl_any!(polysync::RMutex<std::rc::Rc<u32>>: Send, Sync);
static_assertions::assert_not_impl_any!(polysync::RMutexGuard<'static, std::cell::Cell<u32>>: Send, Sync);
static_assertions::assert_impl_all!(polysync::RMutexGuard<'static, u32>: Send, Sync);
static_assertions::assert_impl_all!(polysync::LocalRLockGuard<'static>: Sync, std::fmt::Debug);
static_assertions::assert_not_impl_any!(polysync::LocalRLockGuard<'static>: Send);
static_assertions::assert_impl_all!(polysync::LocalRMutexGuard<'static, u32>: Sync, std::fmt::Debug);
static_assertions::assert_not_impl_any!(polysync::LocalRMutexGuard<'static, u32>: Send);
static_assertions::assert_not_impl_any!(polysync::LocalRMutexGuard<'static, std::cell::Cell<u32>>: Send, Sync);

#[path = "support/worlds.rs"]
mod worlds;
use worlds::{Watchdog, multi_thread_rt, wait_until};

#[test]
fn three_levels_then_two_releases_leave_one() {
    let rlock = RLock::new();
    for _ in 0..3 {
        rlock.acquire_blocking().forget();
    }
    assert_eq!(rlock.count(), 3);
    rlock.release(2).unwrap();
    assert_eq!(rlock.count(), 1);
    assert!(rlock.is_locked());
    assert_eq!(
        rlock.release(2),
        Err(RLockReleaseError::TooManyReleases { held: 1 })
    );
    assert_eq!(rlock.count(), 1, "a failed release changes nothing");
    thread::scope(|s| {
        s.spawn(|| {
            assert_eq!(rlock.release(1), Err(RLockReleaseError::NotOwner));
            assert!(rlock.try_acquire().is_none());
        });
    });
    rlock.release(1).unwrap();
    assert!(!rlock.is_locked());
    assert_eq!(rlock.count(), 0);
    assert_eq!(rlock.release(1), Err(RLockReleaseError::NotOwner));
    assert!(format!("{rlock:?}").contains("locked: false"));
}

#[test]
fn guards_nest_in_every_form() {
    let rlock = RLock::new();
    let a = rlock.acquire_blocking();
    let b = rlock.try_acquire().unwrap();
    let c = rlock.try_acquire_for(Duration::ZERO).unwrap();
    let d = rlock.try_acquire_until(Instant::now()).unwrap();
    assert_eq!(rlock.count(), 4);
    assert_eq!(rlock.owner(), Some(current_unit()));
    drop((b, d));
    assert_eq!(rlock.count(), 2);
    drop(a);
    drop(c);
    assert!(!rlock.is_locked());
    // An identified async task re-enters a lock it took asynchronously, and
    // its blocking/try forms (inside its polls) see the same owner.
    futures_lite::future::block_on(identified(async {
        let x = rlock.acquire().await.unwrap();
        let y = rlock.try_acquire().unwrap();
        let z = rlock.acquire().await.unwrap();
        assert_eq!(rlock.count(), 3);
        assert_eq!(rlock.owner(), current_task());
        drop((x, y, z));
    }));
    assert!(!rlock.is_locked());
}

#[test]
fn async_acquire_without_identity_is_a_typed_error() {
    let rlock = RLock::new();
    let err = futures_lite::future::block_on(rlock.acquire()).unwrap_err();
    assert_eq!(err, NoTaskIdentity);
    assert!(err.to_string().contains("identified"));
    assert!(!rlock.is_locked());
}

#[test]
fn two_tasks_on_one_thread_exclude_each_other() {
    let _dog = Watchdog::new("two_tasks_on_one_thread", Duration::from_secs(20));
    let rlock = Arc::new(RLock::new());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let inside = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let rlock = rlock.clone();
            let inside = inside.clone();
            tasks.push(tokio::spawn(identified(async move {
                for _ in 0..50 {
                    let outer = rlock.acquire().await.unwrap();
                    assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                    tokio::task::yield_now().await;
                    let inner = rlock.acquire().await.unwrap();
                    assert_eq!(rlock.count(), 2);
                    tokio::task::yield_now().await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                    drop(inner);
                    drop(outer);
                    tokio::task::yield_now().await;
                }
            })));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert!(!rlock.is_locked());
    assert_eq!(rlock.waiting(), 0);
}

#[test]
fn mixed_worlds_mutual_exclusion_with_nesting() {
    let _dog = Watchdog::new("mixed_worlds_mutual_exclusion", Duration::from_secs(60));
    const ROUNDS: usize = 200;
    let rlock = Arc::new(RLock::new());
    let inside = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let critical = |rlock: &RLock, inside: &AtomicUsize| {
        assert_eq!(
            inside.fetch_add(1, Ordering::SeqCst),
            0,
            "two owners at once"
        );
        assert!(rlock.is_owned_by_current_unit());
        inside.fetch_sub(1, Ordering::SeqCst);
    };
    let mut handles = Vec::new();
    // Blocking OS threads.
    for _ in 0..2 {
        let (rlock, inside, done) = (rlock.clone(), inside.clone(), done.clone());
        handles.push(thread::spawn(move || {
            for i in 0..ROUNDS {
                let a = rlock.acquire_blocking();
                let b = if i % 2 == 0 {
                    rlock.try_acquire().unwrap()
                } else {
                    rlock.try_acquire_for(Duration::ZERO).unwrap()
                };
                critical(&rlock, &inside);
                drop(b);
                drop(a);
            }
            done.fetch_add(1, Ordering::SeqCst);
        }));
    }
    // Tokio tasks on a multi-thread runtime in another thread.
    {
        let (rlock, inside, done) = (rlock.clone(), inside.clone(), done.clone());
        handles.push(thread::spawn(move || {
            multi_thread_rt().block_on(async move {
                let mut tasks = Vec::new();
                for _ in 0..3 {
                    let (rlock, inside) = (rlock.clone(), inside.clone());
                    tasks.push(tokio::spawn(identified(async move {
                        for _ in 0..ROUNDS {
                            let a = rlock.acquire().await.unwrap();
                            tokio::task::yield_now().await; // may migrate
                            let b = rlock.acquire().await.unwrap();
                            critical(&rlock, &inside);
                            drop(b);
                            drop(a);
                        }
                    })));
                }
                for t in tasks {
                    t.await.unwrap();
                }
            });
            done.fetch_add(1, Ordering::SeqCst);
        }));
    }
    // futures_lite::block_on tasks in another thread.
    {
        let (rlock, inside, done) = (rlock.clone(), inside.clone(), done.clone());
        handles.push(thread::spawn(move || {
            futures_lite::future::block_on(identified(async move {
                for _ in 0..ROUNDS {
                    let a = rlock.acquire().await.unwrap();
                    let b = rlock.acquire().await.unwrap();
                    critical(&rlock, &inside);
                    drop(a); // guards may drop in any order
                    drop(b);
                }
            }));
            done.fetch_add(1, Ordering::SeqCst);
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(done.load(Ordering::SeqCst), 4);
    assert!(!rlock.is_locked());
    assert_eq!(rlock.waiting(), 0);
}

#[test]
fn fifo_hand_off_across_worlds_and_notifier_of_another_kind() {
    let _dog = Watchdog::new("fifo_hand_off", Duration::from_secs(20));
    let rlock = Arc::new(RLock::new());
    let order = Arc::new(StdMutex::new(Vec::new()));
    // The holder is an identified futures-lite task; it will release from
    // its own thread after all waiters queued.
    let (hold_tx, hold_rx) = std::sync::mpsc::channel::<()>();
    let (held_tx, held_rx) = std::sync::mpsc::channel::<()>();
    let holder = {
        let rlock = rlock.clone();
        thread::spawn(move || {
            futures_lite::future::block_on(identified(async move {
                let a = rlock.acquire().await.unwrap();
                let b = rlock.acquire().await.unwrap();
                held_tx.send(()).unwrap();
                hold_rx.recv().unwrap();
                drop(a);
                assert!(rlock.is_locked());
                drop(b); // hands off to the oldest waiter
            }))
        })
    };
    held_rx.recv().unwrap();
    let mut waiters = Vec::new();
    let rt = Arc::new(multi_thread_rt());
    for i in 0..6 {
        let (r, order) = (rlock.clone(), order.clone());
        let h = match i % 3 {
            0 => thread::spawn(move || {
                let g = r.acquire_blocking();
                order.lock().unwrap().push(i);
                drop(g);
            }),
            1 => {
                let rt = rt.clone();
                thread::spawn(move || {
                    let task = rt.spawn(identified(async move {
                        let g = r.acquire().await.unwrap();
                        order.lock().unwrap().push(i);
                        drop(g);
                    }));
                    rt.block_on(task).unwrap();
                })
            }
            _ => thread::spawn(move || {
                futures_lite::future::block_on(identified(async move {
                    let g = r.acquire().await.unwrap();
                    order.lock().unwrap().push(i);
                    drop(g);
                }))
            }),
        };
        waiters.push(h);
        wait_until("the waiter to queue", || rlock.waiting() == i + 1);
    }
    hold_tx.send(()).unwrap();
    holder.join().unwrap();
    for h in waiters {
        h.join().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), (0..6).collect::<Vec<_>>());
    assert!(!rlock.is_locked());
}

#[test]
fn cancelled_waiters_lose_nothing() {
    let _dog = Watchdog::new("cancelled_waiters", Duration::from_secs(20));
    let rlock = Arc::new(RLock::new());
    let guard = rlock.acquire_blocking();
    let rt = multi_thread_rt();
    // A timed-out async waiter and a timed-out blocking waiter.
    let r2 = rlock.clone();
    let timed_out = rt.block_on(rt.spawn(identified(async move {
        tokio::time::timeout(Duration::from_millis(20), r2.acquire())
            .await
            .is_err()
    })));
    assert!(timed_out.unwrap());
    thread::scope(|s| {
        s.spawn(|| assert!(rlock.try_acquire_for(Duration::from_millis(20)).is_none()));
    });
    assert_eq!(rlock.waiting(), 0);
    drop(guard);
    assert!(!rlock.is_locked());
    // A hand-off raced by a cancellation: many rounds of release vs. timeout,
    // at least 200 and on (at most 20 s) until both outcomes were seen.
    let (mut got, mut gave_up) = (0, 0);
    let limit = Instant::now() + Duration::from_secs(20);
    let mut round = 0;
    while round < 200 || ((got == 0 || gave_up == 0) && Instant::now() < limit) {
        round += 1;
        let g = rlock.acquire_blocking();
        let r2 = rlock.clone();
        let waiter = rt.spawn(identified(async move {
            let t = Duration::from_micros(50 + (round % 7) * 20);
            tokio::time::timeout(t, r2.acquire())
                .await
                .map(|g| g.unwrap().rlock().count())
                .ok()
        }));
        thread::sleep(Duration::from_micros(60));
        drop(g);
        match rt.block_on(waiter).unwrap() {
            Some(count) => {
                assert_eq!(count, 1, "a handed-over RLock has one level");
                got += 1;
            }
            None => gave_up += 1,
        }
        wait_until("the lock to be free", || !rlock.is_locked());
        assert_eq!(rlock.waiting(), 0);
    }
    // Which way each round goes depends on the machine's speed, so only a
    // note says whether both were seen; every round's outcome is checked.
    eprintln!("release vs. timeout: {got} acquired, {gave_up} timed out in {round} rounds");
    if got == 0 || gave_up == 0 {
        eprintln!("note: the race always went one way this run");
    }
}

#[test]
fn identity_follows_the_task_across_worker_migrations() {
    let _dog = Watchdog::new("identity_migration", Duration::from_secs(30));
    let rt = multi_thread_rt();
    let threads_seen = Arc::new(StdMutex::new(std::collections::HashSet::new()));
    let results: Vec<(UnitId, bool)> = rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let threads_seen = threads_seen.clone();
            let task = identified(async move {
                let me = current_task().unwrap();
                let mut same = true;
                for _ in 0..500 {
                    tokio::task::yield_now().await;
                    threads_seen.lock().unwrap().insert(thread::current().id());
                    same &= current_task() == Some(me) && current_unit() == me;
                    same &= UnitId::current_thread() != me;
                }
                (me, same)
            });
            let id = task.unit();
            tasks.push((id, tokio::spawn(task)));
        }
        let mut out = Vec::new();
        for (id, t) in tasks {
            let (me, same) = t.await.unwrap();
            assert_eq!(id, me);
            out.push((me, same));
        }
        out
    });
    assert!(
        results.iter().all(|&(_, same)| same),
        "identity changed mid-task"
    );
    let ids: std::collections::HashSet<_> = results.iter().map(|r| r.0).collect();
    assert_eq!(ids.len(), 4, "every task has its own identity");
    // Two workers polled the tasks; with yields the tasks moved between them
    // (not guaranteed by tokio, so only reported).
    eprintln!(
        "worker threads seen: {}",
        threads_seen.lock().unwrap().len()
    );
    // Outside any identified poll, the thread's identity is back.
    assert_eq!(current_task(), None);
    assert_eq!(current_unit(), UnitId::current_thread());
}

#[test]
fn two_tasks_on_one_thread_have_different_ids_and_restore_on_panic() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (a, b) = rt.block_on(async {
        let a = tokio::spawn(identified(async {
            tokio::task::yield_now().await;
            (current_task().unwrap(), thread::current().id())
        }));
        let b = tokio::spawn(identified(async {
            tokio::task::yield_now().await;
            (current_task().unwrap(), thread::current().id())
        }));
        (a.await.unwrap(), b.await.unwrap())
    });
    assert_eq!(a.1, b.1, "same thread");
    assert_ne!(a.0, b.0, "different tasks");
    // Nested wrappers: the innermost wins, the outer one comes back.
    futures_lite::future::block_on(identified(async {
        let outer = current_task().unwrap();
        let inner = identified(async { current_task().unwrap() }).await;
        assert_ne!(inner, outer);
        assert_eq!(current_task(), Some(outer));
    }));
    // A panicking poll restores the previous identity.
    let caught = std::panic::catch_unwind(|| {
        futures_lite::future::block_on(identified(async { panic!("boom") }))
    });
    assert!(caught.is_err());
    assert_eq!(current_task(), None);
}

#[test]
fn rmutex_shared_by_threads_and_identified_tasks() {
    let _dog = Watchdog::new("rmutex", Duration::from_secs(30));
    let m = Arc::new(polysync::RMutex::new(std::sync::atomic::AtomicU64::new(0)));
    let rt = multi_thread_rt();
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let m = m.clone();
            rt.spawn(identified(async move {
                for _ in 0..100 {
                    let a = m.lock().await.unwrap();
                    tokio::task::yield_now().await;
                    let b = m.lock().await.unwrap();
                    // A non-atomic read-modify-write under the lock.
                    let v = a.load(Ordering::Relaxed);
                    b.store(v + 1, Ordering::Relaxed);
                }
            }))
        })
        .collect();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let m = m.clone();
            thread::spawn(move || {
                for _ in 0..100 {
                    let a = m.lock_blocking();
                    let b = m.try_lock().unwrap();
                    let v = a.load(Ordering::Relaxed);
                    thread::yield_now();
                    b.store(v + 1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in tasks {
        rt.block_on(t).unwrap();
    }
    for t in threads {
        t.join().unwrap();
    }
    assert!(!m.is_locked());
    let m = Arc::into_inner(m).unwrap();
    assert_eq!(m.into_inner().into_inner(), 500);
}

#[test]
fn reentry_while_own_queued_wait_is_handed_the_lock() {
    let _dog = Watchdog::new("reentry_during_handoff", Duration::from_secs(20));
    let rlock = Arc::new(RLock::new());
    for poll_first_again in [false, true] {
        let (held_tx, held_rx) = std::sync::mpsc::channel::<()>();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let holder = {
            let rlock = rlock.clone();
            thread::spawn(move || {
                let g = rlock.acquire_blocking();
                held_tx.send(()).unwrap();
                go_rx.recv().unwrap();
                drop(g); // hands off to the task's queued wait
            })
        };
        held_rx.recv().unwrap();
        let r = rlock.clone();
        futures_lite::future::block_on(identified(async move {
            let mut first = Box::pin(r.acquire());
            assert!(
                futures_lite::future::poll_once(first.as_mut())
                    .await
                    .is_none()
            );
            go_tx.send(()).unwrap();
            holder.join().unwrap();
            assert_eq!(r.owner(), current_task(), "handed to our queued wait");
            // The task re-enters at once (its level from the hand-off counts).
            let second = r.acquire().await.unwrap();
            assert_eq!(r.count(), 2);
            if poll_first_again {
                let first_guard = first.await.unwrap();
                assert_eq!(r.count(), 2);
                drop(second);
                drop(first_guard);
            } else {
                // Cancelling the handed-off wait gives back its level only.
                drop(first);
                assert_eq!(r.count(), 1);
                assert_eq!(r.owner(), current_task());
                drop(second);
            }
        }));
        assert!(!rlock.is_locked());
        assert_eq!(rlock.waiting(), 0);
    }
}

// ------------------------------------------------- thread-bound levels

/// Thread-bound levels nest to any depth in every form, count one each,
/// drop in any order, and the lock is released by the last of them only.
#[test]
fn local_levels_nest_count_and_release_with_the_last() {
    let _dog = Watchdog::new(
        "local_levels_nest_count_and_release_with_the_last",
        Duration::from_secs(30),
    );
    let rlock = RLock::new_bounded();
    let mut levels = vec![rlock.acquire_local_blocking()];
    levels.push(rlock.try_acquire_local().unwrap());
    levels.push(rlock.try_acquire_local_for(Duration::ZERO).unwrap());
    levels.push(rlock.try_acquire_local_until(Instant::now()).unwrap());
    polysync::lowlevel::ThreadWaiter::with_current(|w| {
        levels.push(rlock.acquire_local_with(w, None).unwrap());
    });
    for _ in 0..95 {
        levels.push(rlock.acquire_local_blocking());
    }
    assert_eq!(rlock.count(), 100);
    assert_eq!(rlock.owner(), Some(current_unit()));
    thread::scope(|s| {
        s.spawn(|| {
            assert!(
                rlock.try_acquire_local().is_none(),
                "another thread re-entered"
            );
            assert!(rlock.try_acquire().is_none());
            assert_eq!(rlock.count(), 100);
        });
    });
    // Not in stack order: the first guard goes first.
    let first = levels.remove(0);
    drop(first);
    assert_eq!(rlock.count(), 99);
    while levels.len() > 1 {
        levels.pop();
        assert!(rlock.is_locked(), "released before the last level");
    }
    assert_eq!(rlock.count(), 1);
    levels.pop();
    assert!(!rlock.is_locked());
    assert_eq!(rlock.count(), 0);
    assert_eq!(rlock.owner(), None);
    // The next owner starts from no thread-bound level.
    thread::scope(|s| {
        s.spawn(|| {
            let a = rlock.acquire_local_blocking();
            let b = rlock.acquire_local_blocking();
            assert_eq!(rlock.count(), 2);
            drop((a, b));
        });
    });
    assert!(!rlock.is_locked());
}

/// Ordinary (`Send`) and thread-bound levels of one owner mix: an ordinary
/// guard moved to another thread and dropped there does not release the
/// lock under the thread-bound levels; `release` frees forgotten levels
/// but never the one the thread-bound levels hold; the lock goes free with
/// the last level, whichever kind, and another unit then takes it.
#[test]
fn local_and_ordinary_levels_mix() {
    let _dog = Watchdog::new("local_and_ordinary_levels_mix", Duration::from_secs(30));
    for ordinary_last in [false, true] {
        let rlock: &'static RLock = Box::leak(Box::new(RLock::new()));
        let ordinary = rlock.acquire_blocking();
        let local = rlock.acquire_local_blocking();
        let moved = rlock.try_acquire().unwrap();
        let local2 = rlock.try_acquire_local().unwrap();
        assert_eq!(rlock.count(), 4);
        thread::spawn(move || drop(moved)).join().unwrap();
        assert_eq!(rlock.count(), 3);
        rlock.acquire_blocking().forget();
        assert_eq!(
            rlock.release(3),
            Err(RLockReleaseError::TooManyReleases { held: 2 }),
            "release would take the level of the thread-bound guards"
        );
        rlock.release(1).unwrap();
        assert_eq!(rlock.count(), 3);
        drop(local2);
        if ordinary_last {
            drop(local);
            assert!(rlock.is_locked());
            assert_eq!(rlock.count(), 1);
            drop(ordinary);
        } else {
            drop(ordinary);
            assert!(rlock.is_locked(), "the thread-bound level was released");
            assert_eq!(rlock.count(), 1);
            assert_eq!(
                rlock.release(1),
                Err(RLockReleaseError::TooManyReleases { held: 0 })
            );
            drop(local);
        }
        assert!(!rlock.is_locked());
        assert_eq!(rlock.owner(), None);
        assert!(
            thread::spawn(|| rlock.try_acquire().is_some())
                .join()
                .unwrap()
        );
    }
}

/// A `Condition` wait with an ordinary guard gives up the thread-bound
/// levels too and gets them back: meanwhile another thread takes the lock,
/// thread-bound, re-enters it (it starts from none of the waiter's) and
/// notifies.
#[test]
fn condition_wait_gives_up_and_restores_local_levels() {
    let _dog = Watchdog::new(
        "condition_wait_gives_up_and_restores_local_levels",
        Duration::from_secs(30),
    );
    let rlock = RLock::new();
    let cond = polysync::Condition::new();
    let flag = std::sync::atomic::AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| {
            let local = rlock.acquire_local_blocking();
            let local2 = rlock.acquire_local_blocking();
            let mut guard = rlock.acquire_blocking();
            while !flag.load(Ordering::SeqCst) {
                guard = cond.wait_blocking(guard);
            }
            assert_eq!(rlock.count(), 3, "every level restored");
            let local3 = rlock.try_acquire_local().unwrap();
            assert_eq!(rlock.count(), 4);
            drop((local3, guard, local2));
            assert!(rlock.is_locked());
            drop(local);
        });
        wait_until("the owner waits", || cond.waiting() == 1);
        let a = rlock.acquire_local_blocking();
        let b = rlock.acquire_local_blocking();
        assert_eq!(rlock.count(), 2, "the waiter's thread-bound levels leaked");
        flag.store(true, Ordering::SeqCst);
        cond.notify(1);
        drop((b, a));
    });
    assert!(!rlock.is_locked());
}

/// Two green threads on one OS thread (a corosensei hub) are two owners:
/// the second does not re-enter the first's thread-bound levels, it waits
/// (blocking as a green thread) until the first drops its last level.
#[test]
fn local_levels_belong_to_the_green_thread_not_the_os_thread() {
    let _dog = Watchdog::new(
        "local_levels_belong_to_the_green_thread_not_the_os_thread",
        Duration::from_secs(30),
    );
    let _ = polysync_corosensei::install();
    let rlock: &'static RLock = Box::leak(Box::new(RLock::new()));
    let inside = Arc::new(AtomicUsize::new(0));
    thread::spawn(move || {
        let hub = polysync_corosensei::Hub::new();
        let first = {
            let inside = inside.clone();
            hub.spawn(move || {
                let a = rlock.acquire_local_blocking();
                let b = rlock.acquire_local_blocking();
                inside.fetch_add(1, Ordering::SeqCst);
                while rlock.waiting() == 0 {
                    polysync_corosensei::yield_now();
                }
                assert_eq!(rlock.count(), 2);
                inside.fetch_sub(1, Ordering::SeqCst);
                drop((b, a));
            })
        };
        let second = {
            let inside = inside.clone();
            hub.spawn(move || {
                while inside.load(Ordering::SeqCst) == 0 {
                    polysync_corosensei::yield_now();
                }
                let a = rlock.acquire_local_blocking();
                assert_eq!(inside.load(Ordering::SeqCst), 0, "two owners");
                let b = rlock.try_acquire_local().expect("the owner re-enters");
                assert_eq!(rlock.count(), 2);
                drop((a, b));
            })
        };
        hub.run_to_completion();
        first.join().unwrap();
        second.join().unwrap();
    })
    .join()
    .unwrap();
    assert!(!rlock.is_locked());
}

/// Threads contend through thread-bound and ordinary levels at once (the
/// ordinary ones moved to a helper thread to be dropped there): mutual
/// exclusion holds and no level leaks.
#[test]
fn local_levels_under_contention() {
    let _dog = Watchdog::new("local_levels_under_contention", Duration::from_secs(30));
    for rlock in [RLock::new(), RLock::new_bounded()] {
        let m = polysync::RMutex::new(std::cell::Cell::new(0u32));
        let rlock = &rlock;
        let inside = AtomicUsize::new(0);
        thread::scope(|s| {
            for t in 0..2 {
                let (m, inside) = (&m, &inside);
                s.spawn(move || {
                    for i in 0..500 {
                        let outer = m.lock_local_blocking();
                        let l = rlock.acquire_local_blocking();
                        let inner = m.try_lock_local().unwrap();
                        let ordinary = rlock.try_acquire().unwrap();
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two owners");
                        inner.set(inner.get() + 1);
                        inside.fetch_sub(1, Ordering::SeqCst);
                        if (i + t) % 7 == 0 {
                            thread::scope(|s| {
                                s.spawn(move || drop(ordinary));
                            });
                        } else {
                            drop(ordinary);
                        }
                        drop((inner, l));
                        drop(outer);
                    }
                });
            }
        });
        assert_eq!(m.into_inner().get(), 1000);
        assert!(!rlock.is_locked());
    }
}

/// may coroutines (2 unpinned workers: a coroutine may resume on another
/// OS thread) hold thread-bound levels across a yield, beside an OS thread
/// doing the same: each coroutine is its own owner, levels are never lost
/// when the holder moves between workers, and exclusion holds.
#[test]
fn local_levels_in_may_coroutines_that_migrate() {
    let _dog = Watchdog::new(
        "local_levels_in_may_coroutines_that_migrate",
        Duration::from_secs(30),
    );
    may::config().set_workers(2).set_worker_pin(false);
    polysync_may::install().expect("install the may backend");
    let m: &'static polysync::RMutex<std::cell::Cell<u32>> =
        Box::leak(Box::new(polysync::RMutex::new(std::cell::Cell::new(0))));
    let inside: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
    let (tx, rx) = std::sync::mpsc::channel();
    let body = move || {
        for _ in 0..100 {
            let outer = m.lock_local_blocking();
            assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two owners");
            if may::coroutine::is_coroutine() {
                may::coroutine::yield_now(); // may resume on the other worker
            } else {
                thread::yield_now();
            }
            let inner = m.try_lock_local().expect("the owner re-enters");
            inner.set(inner.get() + 1);
            assert_eq!(m.count(), 2);
            inside.fetch_sub(1, Ordering::SeqCst);
            drop(inner);
            drop(outer);
        }
    };
    for _ in 0..3 {
        let tx = tx.clone();
        may::go!(move || {
            body();
            tx.send(()).unwrap();
        });
    }
    thread::spawn(move || {
        body();
        tx.send(()).unwrap();
    });
    for _ in 0..4 {
        rx.recv().unwrap();
    }
    assert_eq!(m.lock_local_blocking().get(), 400);
    assert!(!m.is_locked());
}
