//! What the blocking policy costs (release build, run by hand):
//!
//! ```text
//! cargo test --release -p polysync-tokio --test policy_cost -- --ignored --nocapture
//! ```
//!
//! Prints ns per operation: the checks a claimed call makes
//! (`Handle::try_current`, `drives_a_runtime`), an empty `block_in_place` on
//! a worker, an uncontended timed call on a worker (claimed, never sleeps),
//! and a blocking ping-pong between a worker task and a plain thread with
//! `WorkerPolicy::BlockInPlace` and with `WorkerPolicy::Block`. Nothing is
//! asserted.

mod support;

use polysync::Semaphore;
use polysync_tokio::{Config, WorkerPolicy};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn per_op(n: u32, f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

/// Round trips between a worker task (blocking forms) and a plain thread;
/// with `yield_between`, the task yields to the scheduler after each round,
/// so each round starts on a worker that holds its core again.
fn ping_pong(rt: &tokio::runtime::Runtime, rounds: u32, yield_between: bool) -> f64 {
    let ping = Arc::new(Semaphore::new(0));
    let pong = Arc::new(Semaphore::new(0));
    let thread = {
        let (ping, pong) = (ping.clone(), pong.clone());
        std::thread::spawn(move || {
            for _ in 0..rounds {
                ping.release(1);
                pong.acquire_blocking().unwrap().forget();
            }
        })
    };
    let ns = rt.block_on(async move {
        tokio::spawn(async move {
            let start = Instant::now();
            for _ in 0..rounds {
                ping.acquire_blocking().unwrap().forget(); // on the worker
                pong.release(1);
                if yield_between {
                    tokio::task::yield_now().await;
                }
            }
            start.elapsed().as_nanos() as f64 / f64::from(rounds)
        })
        .await
        .unwrap()
    });
    thread.join().unwrap();
    ns
}

#[test]
#[ignore = "a measurement; run by hand in release"]
fn policy_cost() {
    polysync_tokio::install().unwrap();
    const N: u32 = 200_000;
    let rt = support::multi_thread(2);
    let plain = per_op(N, || {
        for _ in 0..N {
            std::hint::black_box(tokio::runtime::Handle::try_current().is_ok());
        }
    });
    eprintln!("Handle::try_current(), plain thread: {plain:.1} ns");
    let (try_current, drives, bip, timed) = rt.block_on(async {
        tokio::spawn(async {
            let try_current = per_op(N, || {
                for _ in 0..N {
                    std::hint::black_box(tokio::runtime::Handle::try_current().is_ok());
                }
            });
            let drives = per_op(N, || {
                for _ in 0..N {
                    std::hint::black_box(polysync_tokio::drives_a_runtime());
                }
            });
            let bip = per_op(N / 10, || {
                for _ in 0..N / 10 {
                    tokio::task::block_in_place(|| std::hint::black_box(()));
                }
            });
            // A block_in_place that really hands the core over: one per
            // poll (the task yields in between, and gets a core back).
            let start = Instant::now();
            for _ in 0..N / 100 {
                tokio::task::yield_now().await;
            }
            let yields = start.elapsed().as_nanos() as f64 / f64::from(N / 100);
            let start = Instant::now();
            for _ in 0..N / 100 {
                tokio::task::block_in_place(|| std::hint::black_box(()));
                tokio::task::yield_now().await;
            }
            let handoff = start.elapsed().as_nanos() as f64 / f64::from(N / 100) - yields;
            eprintln!("block_in_place that hands the core over (per poll): {handoff:.0} ns");
            let sem = Semaphore::new(1);
            let timed = per_op(N, || {
                for _ in 0..N {
                    drop(sem.try_acquire_for(Duration::from_secs(1)).unwrap());
                }
            });
            (try_current, drives, bip, timed)
        })
        .await
        .unwrap()
    });
    eprintln!("Handle::try_current(), worker: {try_current:.1} ns");
    eprintln!("drives_a_runtime(), worker: {drives:.1} ns");
    eprintln!("empty block_in_place, worker, again in the same poll: {bip:.1} ns");
    eprintln!("uncontended try_acquire_for (claimed, no sleep), worker: {timed:.1} ns");
    let sem = Semaphore::new(1);
    let plain_timed = per_op(N, || {
        for _ in 0..N {
            drop(sem.try_acquire_for(Duration::from_secs(1)).unwrap());
        }
    });
    eprintln!("uncontended try_acquire_for, plain thread: {plain_timed:.1} ns");
    let drives_plain = per_op(N, || {
        for _ in 0..N {
            std::hint::black_box(polysync_tokio::drives_a_runtime());
        }
    });
    eprintln!("drives_a_runtime(), plain thread: {drives_plain:.1} ns");
    for round in 0..3 {
        for policy in [WorkerPolicy::BlockInPlace, WorkerPolicy::Block] {
            polysync_tokio::install_with(Config::new().worker(policy)).unwrap();
            for yield_between in [false, true] {
                let ns = ping_pong(&rt, 5_000, yield_between);
                eprintln!(
                    "round {round}: ping-pong worker <-> thread, {policy:?}, yield between: \
                     {yield_between}: {:.2} us per round trip",
                    ns / 1000.0
                );
            }
        }
    }
}
