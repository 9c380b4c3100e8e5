//! Green-thread switches and a lock ping-pong on the corosensei hub, beside
//! may's coroutines and tokio's tasks, in one run so that the ratios can be
//! read off directly (`python3 benches/report.py --group-prefix green_`).
//!
//! Function ids: `polysync` (a polysync-corosensei hub), `may` (may 0.3
//! with 1 worker, workers not pinned), `tokio` (a current-thread runtime).
//!
//! Groups (one criterion iteration = one operation):
//! 1. `green_switch`: two green threads (coroutines, tasks) that only yield
//!    (`polysync_corosensei::yield_now`, `may::coroutine::yield_now`,
//!    `tokio::task::yield_now`); one operation = one yield, i.e. one switch
//!    from one to the other through the scheduler.
//! 2. `green_lock_pingpong`: two green threads hand a lock back and forth:
//!    each releases it (handing it to the other, who waits) and asks for it
//!    again at once. polysync: a `polysync::Lock` with the blocking API in
//!    green threads; tokio: a `tokio::sync::Mutex` between two tasks (both
//!    locks are FIFO with direct hand-off). One operation = one hand-off.
//!
//! Each measurement includes spawning the two units once (negligible against
//! the thousands of operations criterion asks for).
//!
//! Run: `cargo bench -p polysync-corosensei --bench switch`

use criterion::{Criterion, criterion_group, criterion_main};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Each of the two units' share of `iters` operations.
fn half(iters: u64) -> u64 {
    iters.div_ceil(2)
}

fn configure_may() {
    // One worker, and no pinning (a library must not pin its host's threads);
    // `set_worker_pin` returns `()`, so it comes last.
    may::config().set_workers(1).set_worker_pin(false);
}

fn switch(c: &mut Criterion) {
    let mut g = c.benchmark_group("green_switch");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));

    let hub = polysync_corosensei::Hub::new();
    g.bench_function("polysync", |b| {
        b.iter_custom(|iters| {
            let n = half(iters);
            let start = Instant::now();
            hub.run(move || {
                let a = polysync_corosensei::spawn(move || {
                    for _ in 0..n {
                        polysync_corosensei::yield_now();
                    }
                });
                let b = polysync_corosensei::spawn(move || {
                    for _ in 0..n {
                        polysync_corosensei::yield_now();
                    }
                });
                a.join().unwrap();
                b.join().unwrap();
            });
            start.elapsed()
        })
    });

    g.bench_function("may", |b| {
        b.iter_custom(|iters| {
            let n = half(iters);
            let start = Instant::now();
            let yielder = move || {
                for _ in 0..n {
                    may::coroutine::yield_now();
                }
            };
            let a = may::go!(yielder);
            let b = may::go!(yielder);
            a.join().unwrap();
            b.join().unwrap();
            start.elapsed()
        })
    });

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            let n = half(iters);
            rt.block_on(async move {
                let start = Instant::now();
                let yielder = move || async move {
                    for _ in 0..n {
                        tokio::task::yield_now().await;
                    }
                };
                let a = tokio::spawn(yielder());
                let b = tokio::spawn(yielder());
                a.await.unwrap();
                b.await.unwrap();
                start.elapsed()
            })
        })
    });
    g.finish();
    drop(hub);
}

fn pingpong(c: &mut Criterion) {
    let mut g = c.benchmark_group("green_lock_pingpong");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));

    let hub = polysync_corosensei::Hub::new();
    g.bench_function("polysync", |b| {
        b.iter_custom(|iters| {
            let n = half(iters);
            let start = Instant::now();
            hub.run(move || {
                let lock = Rc::new(polysync::Lock::new());
                // The first one holds the lock and lets the second queue up;
                // from then on every release hands the lock over.
                let first = {
                    let lock = lock.clone();
                    polysync_corosensei::spawn(move || {
                        let mut guard = lock.acquire_blocking();
                        polysync_corosensei::yield_now();
                        for _ in 0..n {
                            drop(guard);
                            guard = lock.acquire_blocking();
                        }
                    })
                };
                let second = {
                    let lock = lock.clone();
                    polysync_corosensei::spawn(move || {
                        for _ in 0..n {
                            drop(lock.acquire_blocking());
                        }
                    })
                };
                first.join().unwrap();
                second.join().unwrap();
            });
            start.elapsed()
        })
    });

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            let n = half(iters);
            rt.block_on(async move {
                let start = Instant::now();
                let lock = Arc::new(tokio::sync::Mutex::new(()));
                let first = {
                    let lock = lock.clone();
                    tokio::spawn(async move {
                        let mut guard = lock.clone().lock_owned().await;
                        tokio::task::yield_now().await;
                        for _ in 0..n {
                            drop(guard);
                            guard = lock.clone().lock_owned().await;
                        }
                    })
                };
                let second = {
                    let lock = lock.clone();
                    tokio::spawn(async move {
                        for _ in 0..n {
                            drop(lock.lock().await);
                        }
                    })
                };
                first.await.unwrap();
                second.await.unwrap();
                start.elapsed()
            })
        })
    });
    g.finish();
    drop(hub);
}

fn benches(c: &mut Criterion) {
    configure_may();
    switch(c);
    pingpong(c);
}

criterion_group!(green, benches);
criterion_main!(green);
