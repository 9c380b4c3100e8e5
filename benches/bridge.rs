//! Thread-bridge benchmarks (issue 19): polysync's `to_thread` beside
//! `tokio::task::spawn_blocking` and `blocking::unblock` (smol's pool) from
//! tokio tasks, and beside a `std::thread::scope` spawn per job and
//! `rayon::spawn` + a channel per job (rayon's global pool) from plain
//! threads. The job is tiny (`black_box(1)`): what is measured is the
//! bridge, not the work.
//!
//! 1. `bridge_round_trip/<impl>/tokio`: one task offloads a job and awaits
//!    it, `iters` times in a row (latency: a pool thread is idle each time).
//! 2. `bridge_throughput/<impl>/tokio`: 32 tasks on a 2-worker runtime
//!    share `iters` jobs, each awaited before the next.
//! 3. `bridge_round_trip/<impl>/thread`: a plain thread offloads and blocks
//!    (`to_thread_blocking`; the baselines spawn and join a scoped thread,
//!    or `rayon::spawn` a job that sends its result on a fresh std channel).
//! 4. `bridge_throughput/<impl>/thread`: 4 threads share `iters` jobs.
//! 5. `park_roundtrip/std_thread` (`common::park_roundtrip`): two threads
//!    ping-pong with `thread::park`/`unpark`, for the VM's wake-up cost in
//!    the same run.
//!
//! polysync's jobs borrow from a limiter as large as the pool's cap, so
//! the limiter costs its bookkeeping but never makes a job wait (the
//! anchors have no limiter).

mod common;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use polysync::CapacityLimiter;
use polysync::bridge::Offload;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

const TASKS: u64 = 32;
const THREADS: u64 = 4;

fn offload() -> Offload {
    Offload::new(Arc::new(CapacityLimiter::new(512)))
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bench-tokio")
        .build()
        .expect("build tokio runtime")
}

/// One task, `iters` jobs in a row.
fn tokio_round_trip<Fut>(
    g: &mut Group<'_>,
    name: &str,
    rt: &tokio::runtime::Runtime,
    job: fn() -> Fut,
) where
    Fut: Future<Output = u64> + Send + 'static,
{
    g.bench_function(BenchmarkId::new(name, "tokio"), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                tokio::spawn(async move {
                    let t = Instant::now();
                    for _ in 0..iters {
                        black_box(job().await);
                    }
                    t.elapsed()
                })
                .await
                .unwrap()
            })
        })
    });
}

/// `TASKS` tasks sharing `iters` jobs.
fn tokio_throughput<Fut>(
    g: &mut Group<'_>,
    name: &str,
    rt: &tokio::runtime::Runtime,
    job: fn() -> Fut,
) where
    Fut: Future<Output = u64> + Send + 'static,
{
    g.bench_function(BenchmarkId::new(name, "tokio"), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let t = Instant::now();
                let tasks: Vec<_> = (0..TASKS)
                    .map(|i| {
                        let n = iters / TASKS + u64::from(i < iters % TASKS);
                        tokio::spawn(async move {
                            for _ in 0..n {
                                black_box(job().await);
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
                t.elapsed()
            })
        })
    });
}

fn polysync_job() -> impl Future<Output = u64> + Send + 'static {
    use std::sync::OnceLock;
    static OFFLOAD: OnceLock<Offload> = OnceLock::new();
    let f = OFFLOAD.get_or_init(offload).run(|| black_box(1u64));
    async move { f.await.unwrap() }
}

fn tokio_job() -> impl Future<Output = u64> + Send + 'static {
    let h = tokio::task::spawn_blocking(|| black_box(1u64));
    async move { h.await.unwrap() }
}

fn blocking_job() -> impl Future<Output = u64> + Send + 'static {
    blocking::unblock(|| black_box(1u64))
}

fn from_tokio(c: &mut Criterion) {
    let rt = rt();
    let mut g = c.benchmark_group("bridge_round_trip");
    tokio_round_trip(&mut g, "polysync", &rt, polysync_job);
    tokio_round_trip(&mut g, "tokio", &rt, tokio_job);
    tokio_round_trip(&mut g, "blocking", &rt, blocking_job);
    g.finish();
    let mut g = c.benchmark_group("bridge_throughput");
    tokio_throughput(&mut g, "polysync", &rt, polysync_job);
    tokio_throughput(&mut g, "tokio", &rt, tokio_job);
    tokio_throughput(&mut g, "blocking", &rt, blocking_job);
    g.finish();
}

fn from_threads(c: &mut Criterion) {
    let offload = offload();
    let mut g = c.benchmark_group("bridge_round_trip");
    g.bench_function(BenchmarkId::new("polysync", "thread"), |b| {
        b.iter(|| offload.run_blocking(|| black_box(1u64)).unwrap())
    });
    g.bench_function(BenchmarkId::new("std_scope", "thread"), |b| {
        b.iter(|| std::thread::scope(|s| s.spawn(|| black_box(1u64)).join().unwrap()))
    });
    g.bench_function(BenchmarkId::new("rayon", "thread"), |b| b.iter(rayon_job));
    g.finish();

    let mut g = c.benchmark_group("bridge_throughput");
    g.bench_function(BenchmarkId::new("polysync", "thread"), |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            std::thread::scope(|s| {
                for i in 0..THREADS {
                    let n = iters / THREADS + u64::from(i < iters % THREADS);
                    let offload = &offload;
                    s.spawn(move || {
                        for _ in 0..n {
                            black_box(offload.run_blocking(|| black_box(1u64)).unwrap());
                        }
                    });
                }
            });
            t.elapsed()
        })
    });
    g.bench_function(BenchmarkId::new("std_scope", "thread"), |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            std::thread::scope(|s| {
                for i in 0..THREADS {
                    let n = iters / THREADS + u64::from(i < iters % THREADS);
                    s.spawn(move || {
                        for _ in 0..n {
                            std::thread::scope(|s| {
                                black_box(s.spawn(|| black_box(1u64)).join().unwrap())
                            });
                        }
                    });
                }
            });
            t.elapsed()
        })
    });
    g.bench_function(BenchmarkId::new("rayon", "thread"), |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            std::thread::scope(|s| {
                for i in 0..THREADS {
                    let n = iters / THREADS + u64::from(i < iters % THREADS);
                    s.spawn(move || {
                        for _ in 0..n {
                            black_box(rayon_job());
                        }
                    });
                }
            });
            t.elapsed()
        })
    });
    g.finish();
}

/// One job on rayon's global pool, its result back through a channel of
/// its own (as a bridge call carries its result back).
fn rayon_job() -> u64 {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    rayon::spawn(move || tx.send(black_box(1u64)).unwrap());
    rx.recv().unwrap()
}

criterion_group!(benches, from_tokio, from_threads, common::park_roundtrip);
criterion_main!(benches);
