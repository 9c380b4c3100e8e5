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
//!   second thread.
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
