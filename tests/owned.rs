//! Owned guards and permits: `'static` values that hold a primitive through
//! its `Arc`, moved into `tokio::spawn` tasks (multi-thread runtime) and
//! `std::thread::spawn` threads and released there; released by a task
//! that panics (no leak); owned futures spawned while they wait, and
//! aborted while they wait (nothing lost); an owned lock guard moved away
//! lets its acquiring thread wait for it instead of panicking; mapped
//! guards (borrowed and owned) across threads and tasks.
//!
//! Every test that could hang has a watchdog.

#[path = "support/worlds.rs"]
mod worlds;

use polysync::lowlevel::identified;
use polysync::{
    CapacityLimiter, Lock, MappedMutexGuard, Mutex, MutexGuard, OwnedMutexGuard, RCapacityLimiter,
    RLock, RMutex, RMutexGuard, Semaphore,
};
use std::sync::Arc;
use std::thread;
use std::time::Duration;
use worlds::{Watchdog, multi_thread_rt, wait_until};

fn dog(name: &'static str) -> Watchdog {
    Watchdog::new(name, Duration::from_secs(60))
}

#[test]
fn owned_guards_move_into_spawned_tasks_and_are_released_there() {
    let _dog = dog("owned_guards_move_into_spawned_tasks_and_are_released_there");
    let rt = multi_thread_rt();
    let lock = Arc::new(Lock::new());
    let mutex = Arc::new(Mutex::new(0u64));
    let sem = Arc::new(Semaphore::new(2));
    let rlock = Arc::new(RLock::new());
    let rmutex = Arc::new(RMutex::new(5u32));
    rt.block_on(async {
        // Acquired here, moved into a spawned task, released there.
        let guard = lock.acquire_owned().await;
        let mut m = mutex.lock_owned().await;
        let permit = sem.acquire_many_owned(2).await.unwrap();
        let task = tokio::spawn(async move {
            tokio::task::yield_now().await;
            assert!(guard.lock().is_locked());
            *m += 1;
            assert_eq!(permit.num_permits(), 2);
            // All three dropped here, in the task.
        });
        task.await.unwrap();
        assert!(!lock.is_locked());
        assert_eq!(*mutex.lock().await, 1);
        assert_eq!(sem.value(), 2);

        // The reentrant ones need a task identity.
        let (r, rm) = identified(async {
            let r = rlock.acquire_owned().await.unwrap();
            let again = rlock.acquire_owned().await.unwrap(); // re-entered
            assert_eq!(rlock.count(), 2);
            drop(again);
            (r, rmutex.lock_owned().await.unwrap())
        })
        .await;
        tokio::spawn(async move {
            assert_eq!(*rm, 5);
            drop((r, rm));
        })
        .await
        .unwrap();
        assert!(!rlock.is_locked());
        assert!(!rmutex.is_locked());
    });
}

#[test]
fn owned_futures_can_be_spawned_while_they_wait() {
    let _dog = dog("owned_futures_can_be_spawned_while_they_wait");
    let rt = multi_thread_rt();
    let lock = Arc::new(Lock::new());
    let mutex = Arc::new(Mutex::new(Vec::new()));
    let sem = Arc::new(Semaphore::new(0));
    let held = lock.acquire_owned_blocking();
    let held_m = mutex.lock_owned_blocking();
    // The owned futures themselves are 'static: spawn them as they are.
    let l = rt.spawn(lock.acquire_owned());
    let m = rt.spawn(mutex.lock_owned());
    let s = rt.spawn(sem.acquire_many_owned(3));
    let s1 = rt.spawn(sem.acquire_owned());
    wait_until("all queued", || {
        lock.waiting() == 1 && mutex.waiting() == 1 && sem.waiting() == 2
    });
    drop(held);
    drop(held_m);
    sem.release(4);
    rt.block_on(async {
        drop(l.await.unwrap());
        m.await.unwrap().push(1);
        assert_eq!(s.await.unwrap().unwrap().num_permits(), 3);
        assert_eq!(s1.await.unwrap().unwrap().num_permits(), 1);
    });
    assert!(!lock.is_locked());
    assert_eq!(*mutex.lock_blocking(), [1]);
    assert_eq!(sem.value(), 4);
}

#[test]
fn aborting_a_task_that_waits_on_an_owned_future_loses_nothing() {
    let _dog = dog("aborting_a_task_that_waits_on_an_owned_future_loses_nothing");
    let rt = multi_thread_rt();
    let sem = Arc::new(Semaphore::new(0));
    let mutex = Arc::new(Mutex::new(0));
    let held = mutex.lock_owned_blocking();
    let waiting: Vec<_> = (0..4)
        .map(|i| {
            let (sem, mutex) = (sem.clone(), mutex.clone());
            rt.spawn(async move {
                let _p = sem.acquire_many_owned(1 + i % 2).await.unwrap();
                let _g = mutex.lock_owned().await;
            })
        })
        .collect();
    wait_until("four queued", || sem.waiting() == 4);
    sem.release(1); // maybe lands on a task that is then aborted
    for t in &waiting {
        t.abort();
    }
    rt.block_on(async {
        for t in waiting {
            let _ = t.await;
        }
    });
    drop(held);
    assert_eq!(sem.waiting(), 0);
    assert_eq!(mutex.waiting(), 0);
    assert_eq!(sem.value(), 1, "the released permit came back");
    assert!(!mutex.is_locked());
    // Only the spawned futures' clones were dropped: nothing leaked an Arc.
    assert_eq!(Arc::strong_count(&sem), 1);
    assert_eq!(Arc::strong_count(&mutex), 1);
}

#[test]
fn a_task_that_panics_while_holding_owned_guards_releases_them() {
    let _dog = dog("a_task_that_panics_while_holding_owned_guards_releases_them");
    let rt = multi_thread_rt();
    let lock = Arc::new(Lock::new());
    let mutex = Arc::new(Mutex::new(0));
    let sem = Arc::new(Semaphore::new(3));
    let limiter = Arc::new(CapacityLimiter::new(1));
    let outcome = rt.block_on({
        let (lock, mutex, sem, limiter) =
            (lock.clone(), mutex.clone(), sem.clone(), limiter.clone());
        async move {
            let guard = lock.acquire_owned().await;
            let m = mutex.lock_owned().await;
            let permit = sem.acquire_many_owned(3).await.unwrap();
            let token = identified(limiter.acquire_owned()).await.unwrap();
            tokio::spawn(async move {
                let _held = (guard, m, permit, token);
                tokio::task::yield_now().await;
                panic!("the task fails while holding everything");
            })
            .await
        }
    });
    assert!(outcome.unwrap_err().is_panic());
    assert!(!lock.is_locked());
    assert!(!mutex.is_locked());
    assert_eq!(sem.value(), 3, "the panicking task leaked its permits");
    assert_eq!(limiter.available_tokens(), 1);
    // The same in a thread.
    let permit = sem.acquire_owned_blocking().unwrap();
    let guard = lock.acquire_owned_blocking();
    let joined = thread::spawn(move || {
        let _held = (permit, guard);
        panic!("the thread fails while holding them");
    })
    .join();
    assert!(joined.is_err());
    assert_eq!(sem.value(), 3);
    assert!(!lock.is_locked());
}

#[test]
fn owned_guards_move_into_threads_and_are_released_there() {
    let _dog = dog("owned_guards_move_into_threads_and_are_released_there");
    let lock = Arc::new(Lock::new());
    let mutex = Arc::new(Mutex::new(String::new()));
    let sem = Arc::new(Semaphore::new(1));
    let rlock = Arc::new(RLock::new());
    let rmutex = Arc::new(RMutex::new(1));
    let limiter = Arc::new(RCapacityLimiter::new(1));
    let g = lock.acquire_owned_blocking();
    let mut m = mutex.lock_owned_blocking();
    let p = sem.try_acquire_owned().unwrap();
    let r = rlock.acquire_owned_blocking();
    let rm = rmutex.try_lock_owned().unwrap();
    let t = limiter.acquire_owned_blocking();
    thread::spawn(move || {
        m.push('x');
        // The moved reentrant guard does not make this thread the owner.
        assert!(!r.rlock().is_owned_by_current_unit());
        assert_eq!(*rm, 1);
        drop((g, m, p, r, rm, t));
    })
    .join()
    .unwrap();
    assert!(!lock.is_locked());
    assert_eq!(*mutex.lock_blocking(), "x");
    assert_eq!(sem.value(), 1);
    assert!(!rlock.is_locked());
    assert!(!rmutex.is_locked());
    assert_eq!(limiter.available_tokens(), 1);
}

/// Yields until `waiting()` reports a queued waiter.
fn until_waiting(waiting: impl Fn() -> usize) {
    while waiting() == 0 {
        thread::yield_now();
    }
}

#[test]
fn a_unit_waits_for_an_owned_guard_it_gave_away_instead_of_panicking() {
    let _dog = dog("a_unit_waits_for_an_owned_guard_it_gave_away_instead_of_panicking");
    let lock = Arc::new(Lock::new());
    let mutex = Arc::new(Mutex::new(0));
    // Twice: uncontended (the lock-free path), then handed over by a
    // release (the queued path, where a hand-off records the waiter's tag).
    for contended in [false, true] {
        // Each hold ends once this thread waits for it (no clock decides
        // whether the queued path runs).
        let blocker = contended.then(|| {
            let (g, m) = (lock.acquire_owned_blocking(), mutex.lock_owned_blocking());
            let (lock, mutex) = (lock.clone(), mutex.clone());
            thread::spawn(move || {
                until_waiting(|| lock.waiting());
                drop(g);
                until_waiting(|| mutex.waiting());
                drop(m);
            })
        });
        let guard = lock.acquire_owned_blocking();
        let m = mutex.lock_owned_blocking();
        if let Some(b) = blocker {
            b.join().unwrap();
        }
        let holder = {
            let (lock, mutex) = (lock.clone(), mutex.clone());
            thread::spawn(move || {
                until_waiting(|| lock.waiting());
                drop(guard);
                until_waiting(|| mutex.waiting());
                drop(m);
            })
        };
        // A borrowed guard would make this a refused re-acquisition (a
        // panic); an owned one records no holder: this thread just waits.
        drop(lock.acquire_blocking());
        drop(mutex.lock_blocking());
        holder.join().unwrap();
    }
}

#[test]
#[should_panic(expected = "already holds this lock")]
fn an_owned_acquisition_still_refuses_a_borrowed_holder() {
    let lock = Arc::new(Lock::new());
    let _held = lock.acquire_blocking();
    let _again = lock.acquire_owned_blocking();
}

#[test]
fn mapped_guards_across_threads_and_tasks() {
    let _dog = dog("mapped_guards_across_threads_and_tasks");
    let mutex = Arc::new(Mutex::new((0u32, vec![0u8])));
    // Borrowed: narrowed, sent to a scoped thread.
    thread::scope(|s| {
        let mut first = MutexGuard::map(mutex.lock_blocking(), |p| &mut p.0);
        s.spawn(move || *first += 1);
    });
    assert_eq!(mutex.lock_blocking().0, 1);
    // The lock is held until the mapped guard drops.
    let mut bytes = MutexGuard::map(mutex.lock_blocking(), |p| &mut p.1);
    assert!(mutex.try_lock().is_none());
    bytes.push(1);
    let mut one = MappedMutexGuard::map(bytes, |v| &mut v[1]);
    *one = 9;
    drop(one);
    assert_eq!(mutex.lock_blocking().1, [0, 9]);
    // try_map gives the guard back.
    let guard = MutexGuard::try_map(mutex.lock_blocking(), |p| p.1.get_mut(5)).unwrap_err();
    drop(guard);
    assert!(!mutex.is_locked());

    // Owned: narrowed, moved into a spawned task.
    let rt = multi_thread_rt();
    rt.block_on(async {
        let mut v = OwnedMutexGuard::map(mutex.clone().lock_owned().await, |p| &mut p.1);
        tokio::spawn(async move { v.push(3) }).await.unwrap();
    });
    assert_eq!(mutex.lock_blocking().1, [0, 9, 3]);
    let g = OwnedMutexGuard::try_map(mutex.lock_owned_blocking(), |p| p.1.get_mut(9)).unwrap_err();
    drop(g);

    // A panic inside the mapping closure unlocks the mutex.
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = MutexGuard::map(mutex.lock_blocking(), |_: &mut (u32, Vec<u8>)| -> &mut u8 {
            panic!("mapping fails")
        });
    }));
    assert!(panicked.is_err());
    assert!(!mutex.is_locked());

    // The reentrant mutex maps with shared access.
    let rm = RMutex::new((1, 2));
    let second = RMutexGuard::map(rm.lock_blocking(), |p| &p.1);
    assert_eq!(*second, 2);
    assert!(rm.is_locked());
    drop(second);
    assert!(!rm.is_locked());
}

#[test]
fn owned_limiter_tokens_move_and_borrowers_can_be_named() {
    let _dog = dog("owned_limiter_tokens_move_and_borrowers_can_be_named");
    let rt = multi_thread_rt();
    let limiter = Arc::new(CapacityLimiter::new(1));
    let token = rt.block_on(identified(limiter.acquire_owned())).unwrap();
    let borrower = token.borrower();
    rt.block_on(rt.spawn(async move { drop(token) })).unwrap();
    assert_eq!(limiter.available_tokens(), 1);
    assert!(limiter.borrowers().is_empty());
    assert_ne!(borrower, polysync::lowlevel::current_unit());

    // A named borrower: borrowed here, moved (owned) to a thread, given
    // back there.
    let job = polysync::lowlevel::UnitId::allocate();
    let token = limiter
        .acquire_on_behalf_of_blocking(job)
        .unwrap()
        .into_owned(&limiter);
    assert_eq!(limiter.borrowers(), vec![job]);
    thread::spawn(move || drop(token)).join().unwrap();
    assert!(limiter.borrowers().is_empty());
    // The async form needs no task identity.
    let token = futures_lite::future::block_on(limiter.acquire_on_behalf_of(job)).unwrap();
    assert_eq!(token.borrower(), job);
}
