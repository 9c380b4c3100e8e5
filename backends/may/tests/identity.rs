//! Each may coroutine is an execution unit of its own: its identity differs
//! from every other coroutine's (also those sharing its worker thread) and
//! from every thread's, and stays the same for its whole life, across
//! yields, sleeps, waits and moves between workers. Owner-based primitives
//! (RLock re-entry, limiter borrowers) follow it.

mod support;

use polysync::lowlevel::{UnitId, current_unit};
use polysync::{CapacityLimiter, RLock};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;
use support::{co_eventually, go, setup, watchdog};

const WORKERS: usize = 2;

/// Suspends in ways that invite may to move the coroutine: yields, and short
/// sleeps (resumed by the timer thread, then queued on any worker).
fn churn(round: usize, threads: &mut HashSet<ThreadId>) {
    for i in 0..10 {
        if (round + i) % 3 == 0 {
            may::coroutine::sleep(Duration::from_micros(300));
        }
        may::coroutine::yield_now();
        threads.insert(std::thread::current().id());
    }
}

/// Busy coroutines that keep both workers awake (and stealing).
fn noise(stop: &Arc<AtomicBool>) -> Vec<may::coroutine::JoinHandle<()>> {
    (0..6)
        .map(|_| {
            let stop = stop.clone();
            go(move || {
                while !stop.load(Ordering::Relaxed) {
                    may::coroutine::sleep(Duration::from_micros(100));
                    for _ in 0..10 {
                        may::coroutine::yield_now();
                    }
                }
            })
        })
        .collect()
}

#[test]
fn every_coroutine_is_its_own_unit_for_life() {
    setup(WORKERS);
    let _dog = watchdog("every_coroutine_is_its_own_unit_for_life");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let cos: Vec<_> = (0..64)
        .map(|i| {
            let seen = seen.clone();
            go(move || {
                let me = polysync_may::coroutine_unit().expect("a coroutine has an identity");
                assert_eq!(current_unit(), me);
                assert_ne!(me, UnitId::current_thread(), "not the worker thread's");
                let mut threads = HashSet::new();
                churn(i, &mut threads);
                assert_eq!(current_unit(), me, "the same after suspensions");
                seen.lock().unwrap().push((me, threads.len()));
            })
        })
        .collect();
    for co in cos {
        co.join().unwrap();
    }
    let seen = seen.lock().unwrap();
    let ids: HashSet<UnitId> = seen.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), seen.len(), "two coroutines shared an identity");
    assert!(!ids.contains(&UnitId::current_thread()));
    assert_eq!(
        polysync_may::coroutine_unit(),
        None,
        "a thread is not a coroutine"
    );
    assert_eq!(current_unit(), UnitId::current_thread());
    let moved = seen.iter().filter(|(_, threads)| *threads > 1).count();
    eprintln!(
        "identity: {moved} of {} coroutines ran on more than one thread",
        seen.len()
    );
}

/// A coroutine re-enters an RLock level by level, suspending between levels
/// (and moving between workers), while other coroutines and a thread are
/// shut out, including coroutines that run on the holder's own worker.
#[test]
fn rlock_reentry_follows_the_coroutine_across_workers() {
    setup(WORKERS);
    let _dog = watchdog("rlock_reentry_follows_the_coroutine_across_workers");
    const LEVELS: usize = 12;
    let stop = Arc::new(AtomicBool::new(false));
    let noisy = noise(&stop);
    let rlock = Arc::new(RLock::new());
    let holding = Arc::new(AtomicBool::new(false));
    let release = Arc::new(AtomicBool::new(false));
    let holder = {
        let (rlock, holding, release) = (rlock.clone(), holding.clone(), release.clone());
        go(move || {
            let me = polysync_may::coroutine_unit().unwrap();
            let mut threads = HashSet::new();
            let mut guards = Vec::new();
            for level in 1..=LEVELS {
                // Blocking re-entry: the owner never waits for itself.
                let guard = if level % 2 == 0 {
                    rlock.acquire_blocking()
                } else {
                    rlock.try_acquire_for(Duration::from_secs(60)).unwrap()
                };
                guards.push(guard);
                churn(level, &mut threads);
                assert_eq!(rlock.count(), level);
                assert_eq!(rlock.owner(), Some(me));
                assert!(rlock.is_owned_by_current_unit());
            }
            holding.store(true, Ordering::Release);
            co_eventually(|| release.load(Ordering::Acquire));
            assert_eq!(rlock.count(), LEVELS, "nobody else got in");
            while let Some(guard) = guards.pop() {
                drop(guard);
                churn(guards.len(), &mut threads);
            }
            threads.len()
        })
    };
    while !holding.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(1));
    }
    // A thread is shut out.
    assert!(rlock.try_acquire().is_none());
    // Coroutines are shut out, also one that runs on the holder's worker
    // thread at the moment it tries (keep trying until one did).
    let tried = Arc::new(Mutex::new(HashSet::new()));
    while tried.lock().unwrap().len() < WORKERS {
        let (rlock, tried) = (rlock.clone(), tried.clone());
        let got_in = go(move || {
            let got_in = rlock.try_acquire().is_some()
                || rlock.try_acquire_for(Duration::from_millis(2)).is_some();
            tried.lock().unwrap().insert(std::thread::current().id());
            got_in
        })
        .join()
        .unwrap();
        assert!(
            !got_in,
            "a second coroutine entered the RLock the first one holds"
        );
    }
    // A waiting coroutine gets it once the holder lets go of every level.
    let waiter = {
        let rlock = rlock.clone();
        go(move || {
            let g = rlock.acquire_blocking();
            assert_eq!(rlock.count(), 1);
            assert_eq!(rlock.owner(), polysync_may::coroutine_unit());
            drop(g);
        })
    };
    while rlock.waiting() == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    release.store(true, Ordering::Release);
    let threads = holder.join().unwrap();
    waiter.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    for n in noisy {
        n.join().unwrap();
    }
    assert!(!rlock.is_locked());
    eprintln!("rlock: the holder ran on {threads} thread(s)");
}

/// Limiter borrowers are coroutines: each coroutine holds its own token, a
/// second borrow by the same coroutine is refused (also after it moved),
/// and coroutines sharing a worker never count as one borrower.
#[test]
fn limiter_borrowers_are_coroutines() {
    setup(WORKERS);
    let _dog = watchdog("limiter_borrowers_are_coroutines");
    const N: usize = 6;
    let limiter = Arc::new(CapacityLimiter::new(N));
    let all_in = Arc::new(std::sync::Barrier::new(N + 1));
    let leave = Arc::new(AtomicBool::new(false));
    let cos: Vec<_> = (0..N)
        .map(|i| {
            let (limiter, all_in, leave) = (limiter.clone(), all_in.clone(), leave.clone());
            go(move || {
                let me = polysync_may::coroutine_unit().unwrap();
                let token = limiter.acquire_blocking().unwrap();
                assert_eq!(token.borrower(), me);
                let mut threads = HashSet::new();
                churn(i, &mut threads);
                assert_eq!(
                    limiter.try_acquire().unwrap_err(),
                    polysync::BorrowError::AlreadyBorrowing,
                    "the same coroutine, after suspensions"
                );
                assert!(limiter.is_borrowing());
                // Tell the test thread, from a thread (a std Barrier would
                // block the worker).
                let all_in = all_in.clone();
                std::thread::spawn(move || {
                    all_in.wait();
                });
                co_eventually(|| leave.load(Ordering::Acquire));
                drop(token);
                assert!(!limiter.is_borrowing());
                me
            })
        })
        .collect();
    all_in.wait();
    let borrowers: HashSet<UnitId> = limiter.borrowers().into_iter().collect();
    assert_eq!(borrowers.len(), N, "each coroutine is its own borrower");
    assert_eq!(limiter.borrowed_tokens(), N);
    assert!(!limiter.is_borrowing(), "the test thread borrows nothing");
    leave.store(true, Ordering::Release);
    let ids: HashSet<UnitId> = cos.into_iter().map(|c| c.join().unwrap()).collect();
    assert_eq!(ids, borrowers);
    assert_eq!(limiter.borrowed_tokens(), 0);
}
