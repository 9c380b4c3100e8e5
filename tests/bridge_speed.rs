//! The bridge pool's fast hand-off (issue 19's benchmark goal): a submit
//! notifies an idle thread only when the threads already on their way to
//! the queue (back from a job, or notified and not yet back) are fewer than
//! the queued jobs, and a thread back from a job spins briefly before it
//! waits. These tests pin the rules that keep this from losing a job:
//!
//! - a call that finds the only thread waiting wakes it, call after call
//!   (a notification counted and never taken off would let a later submit
//!   skip the wake-up with the thread asleep);
//! - the spin ends: after each call the thread comes to wait on the
//!   condvar (a spin without a bound would keep it spare forever);
//! - back-to-back calls that land while the thread is back from its job
//!   (the spin's window) reach it without a wake-up, and never start a
//!   second thread;
//! - the searching rule (one notified thread at a time, a taker passes
//!   the search on): a burst of jobs that must all run at once reaches
//!   every idle thread, and a job queued at the thread cap (no idle
//!   thread) counts no notification that nobody would take off.
//!
//! No timing is asserted: every wait is a poll of a pool snapshot or a
//! timed call whose bound (a watchdog, 20 s) only turns a lost job into a
//! failure instead of a hang.

use polysync::CapacityLimiter;
use polysync::bridge::{Offload, ThreadPool};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Fails the test instead of hanging.
const WATCHDOG: Duration = Duration::from_secs(20);

/// A pool of at most `max` threads that never retire during a test (a
/// thread that timed out would take a stranded job and hide the bug).
fn pool(max: usize) -> (ThreadPool, Offload) {
    let pool = ThreadPool::builder()
        .max_threads(max)
        .idle_timeout(Duration::from_secs(3600))
        .build();
    let offload = Offload::new(Arc::new(CapacityLimiter::new(max))).with_pool(pool.clone());
    (pool, offload)
}

/// Polls until `idle` threads of `pool` wait on its condvar, or fails.
fn until_idle(pool: &ThreadPool, idle: usize) {
    let give_up = Instant::now() + WATCHDOG;
    while pool.idle_threads() != idle {
        assert!(
            Instant::now() < give_up,
            "the pool thread never came to wait (it spins on, or never came back): {pool:?}"
        );
        std::thread::yield_now();
    }
}

#[test]
fn each_call_that_finds_the_thread_waiting_wakes_it() {
    let (pool, offload) = pool(1);
    for n in 0..6u32 {
        if n > 0 {
            // The thread's spin ends and it waits on the condvar.
            until_idle(&pool, 1);
        }
        let got = offload.try_run_for(move || n * 10, WATCHDOG);
        assert_eq!(
            got.unwrap_or_else(|e| panic!("call {n} never reached the waiting thread: {e}")),
            n * 10
        );
    }
    until_idle(&pool, 1);
    assert_eq!(pool.threads(), 1);
}

#[test]
fn back_to_back_calls_reach_the_thread_back_from_its_job() {
    let (pool, offload) = pool(4);
    for n in 0..2_000u64 {
        let got = offload.try_run_for(move || n + 1, WATCHDOG);
        assert_eq!(
            got.unwrap_or_else(|e| panic!("call {n} never reached the pool's thread: {e}")),
            n + 1
        );
    }
    // Sequential calls always find the thread counted (spare, notified or
    // waiting): no second one starts.
    assert_eq!(
        pool.threads(),
        1,
        "sequential calls started a second thread"
    );
}

#[test]
fn back_to_back_async_calls_reach_the_thread_back_from_its_job() {
    let (pool, offload) = pool(4);
    futures_lite::future::block_on(async {
        for n in 0..2_000u64 {
            let got =
                futures_lite::future::or(async { Some(offload.run(move || n + 1).await) }, async {
                    async_io::Timer::after(WATCHDOG).await;
                    None
                })
                .await;
            let got = got.unwrap_or_else(|| panic!("call {n} never reached the pool's thread"));
            assert_eq!(got.unwrap(), n + 1);
        }
    });
    assert_eq!(
        pool.threads(),
        1,
        "sequential calls started a second thread"
    );
}

/// `n` jobs that each return only once all `n` run at the same time (or,
/// if the watchdog passes first, return `false`): jobs that need a thread
/// each, as blocking work may.
fn all_at_once(n: usize) -> Vec<impl FnOnce() -> bool + Send + 'static> {
    let arrived = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    (0..n)
        .map(|_| {
            let arrived = arrived.clone();
            move || {
                arrived.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let give_up = Instant::now() + WATCHDOG;
                while arrived.load(std::sync::atomic::Ordering::SeqCst) < n {
                    if Instant::now() >= give_up {
                        return false;
                    }
                    std::thread::yield_now();
                }
                true
            }
        })
        .collect()
}

/// The searching rule: a burst of submits notifies one idle thread, and
/// each thread that takes a job while more are queued notifies the next
/// one before it runs its own. Jobs that must all run at once (each waits
/// for the others) complete only if every one of them reached a thread:
/// a taker that kept the search to itself would leave the burst's later
/// jobs queued behind a running job, and the running job waits for them.
#[test]
fn a_burst_reaches_every_idle_thread() {
    const N: usize = 4;
    let (pool, offload) = pool(N);
    for round in 0..20 {
        // Every thread waits on the condvar (the first round starts them).
        if round > 0 {
            until_idle(&pool, N);
        }
        let calls: Vec<_> = all_at_once(N)
            .into_iter()
            .map(|job| {
                let call = offload.run(job);
                std::thread::spawn(move || futures_lite::future::block_on(call))
            })
            .collect();
        for call in calls {
            assert!(
                call.join().unwrap().unwrap(),
                "round {round}: a job of the burst never reached an idle thread: {pool:?}"
            );
        }
        assert_eq!(pool.threads(), N, "round {round}: {pool:?}");
    }
}

/// A job submitted while every thread runs one (the cap reached) notifies
/// nobody (no thread is idle) and waits for the first thread back, which
/// takes it; later calls still wake the idle thread. A notification
/// counted with no idle thread to take it off would make every later
/// submit skip its wake-up (the pool's debug assertion catches the count
/// at once).
#[test]
fn a_job_queued_at_the_cap_runs_and_later_calls_still_wake() {
    let (pool, _) = pool(1);
    // Two tokens: the second job queues for the thread, not for a token.
    let offload = Offload::new(Arc::new(CapacityLimiter::new(2))).with_pool(pool.clone());
    let started = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let blocker = {
        let (pool, started) = (pool.clone(), started.clone());
        offload.run(move || {
            started.store(true, std::sync::atomic::Ordering::SeqCst);
            // Returns once the second job queues behind this one.
            let give_up = Instant::now() + WATCHDOG;
            while pool.queued() == 0 && Instant::now() < give_up {
                std::thread::yield_now();
            }
            pool.queued()
        })
    };
    let blocker = std::thread::spawn(move || futures_lite::future::block_on(blocker));
    let give_up = Instant::now() + WATCHDOG;
    while !started.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(Instant::now() < give_up, "the first job never started");
        std::thread::yield_now();
    }
    let second = offload.try_run_for(|| 2, WATCHDOG);
    assert_eq!(blocker.join().unwrap().unwrap(), 1);
    assert_eq!(second.unwrap(), 2);
    for n in 0..3 {
        until_idle(&pool, 1);
        assert_eq!(offload.try_run_for(move || n, WATCHDOG).unwrap(), n);
    }
}

/// The searching rule against retirement: 32 tokio tasks share 3,200
/// jobs on a pool whose threads retire as soon as a wait for a job finds
/// none (idle timeout zero), so notifications, passed-on searches and
/// time-outs race all the time. Every job runs exactly once, every caller
/// gets its own result, and the thread count returns to zero.
#[test]
fn jobs_from_tasks_run_exactly_once_while_threads_retire() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    const TASKS: usize = 32;
    const PER_TASK: usize = 100;
    let pool = ThreadPool::builder()
        .max_threads(8)
        .idle_timeout(Duration::ZERO)
        .build();
    let offload = Offload::new(Arc::new(CapacityLimiter::new(8))).with_pool(pool.clone());
    let runs: Arc<Vec<AtomicUsize>> =
        Arc::new((0..TASKS * PER_TASK).map(|_| AtomicUsize::new(0)).collect());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let (offload, runs) = (offload.clone(), runs.clone());
                tokio::spawn(async move {
                    for j in 0..PER_TASK {
                        let id = t * PER_TASK + j;
                        let runs = runs.clone();
                        let call = offload.run(move || {
                            runs[id].fetch_add(1, SeqCst);
                            id
                        });
                        let got = tokio::time::timeout(WATCHDOG, call)
                            .await
                            .unwrap_or_else(|_| panic!("job {id} never came back"));
                        assert_eq!(got.unwrap(), id);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    for (id, n) in runs.iter().enumerate() {
        assert_eq!(n.load(SeqCst), 1, "job {id} ran {n:?} times");
    }
    let give_up = Instant::now() + WATCHDOG;
    while pool.threads() != 0 {
        assert!(Instant::now() < give_up, "threads never retired: {pool:?}");
        std::thread::yield_now();
    }
}
