//! Semaphore benchmarks: polysync beside tokio and async-lock, one criterion
//! group per scenario, `BenchmarkId::new(<impl>, <method>)` per function so
//! report.py compares like with like (`tokio/try_acquire` against
//! `polysync/try_acquire`, ...).
//!
//! 7. `semaphore_uncontended/<impl>/<method>`: acquire + release (drop the
//!    permit) on one thread, `Semaphore::new(1)`. Methods: `try_acquire`,
//!    `acquire_blocking` (polysync, async-lock; tokio has none) and
//!    `acquire_await` (a loop inside one `futures_lite::future::block_on`).
//! 8. `semaphore_contended/<impl>/2`: 2 OS threads, `Semaphore::new(1)`, each
//!    acquiring with a blocking call, doing a tiny critical section (a
//!    non-atomic increment of a shared counter: load + store, which also
//!    checks mutual exclusion) and releasing. tokio has no blocking acquire:
//!    its threads call `futures_lite::future::block_on(sem.acquire())` per
//!    operation, which is how a plain thread blocks on it.

mod common;

use common::Team;
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

// ---------------------------------------------------------------- group 7

/// `iters` times `acquire().await` + drop inside one `block_on`.
fn bench_await<F, Fut>(g: &mut Group<'_>, name: &str, mut acquire_release: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    g.bench_function(BenchmarkId::new(name, "acquire_await"), |b| {
        b.iter_custom(|iters| {
            futures_lite::future::block_on(async {
                let t = Instant::now();
                for _ in 0..iters {
                    acquire_release().await;
                }
                t.elapsed()
            })
        })
    });
}

fn semaphore_uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("semaphore_uncontended");

    let s = polysync::Semaphore::new(1);
    g.bench_function(BenchmarkId::new("polysync", "try_acquire"), |b| {
        b.iter(|| s.try_acquire().is_some())
    });
    g.bench_function(BenchmarkId::new("polysync", "acquire_blocking"), |b| {
        b.iter(|| drop(s.acquire_blocking().unwrap()))
    });
    bench_await(&mut g, "polysync", || async {
        drop(s.acquire().await.unwrap())
    });
    assert_eq!(s.value(), 1);

    let s = tokio::sync::Semaphore::new(1);
    g.bench_function(BenchmarkId::new("tokio", "try_acquire"), |b| {
        b.iter(|| s.try_acquire().is_ok())
    });
    bench_await(&mut g, "tokio", || async {
        drop(s.acquire().await.unwrap())
    });
    assert_eq!(s.available_permits(), 1);

    let s = async_lock::Semaphore::new(1);
    g.bench_function(BenchmarkId::new("async_lock", "try_acquire"), |b| {
        b.iter(|| s.try_acquire().is_some())
    });
    g.bench_function(BenchmarkId::new("async_lock", "acquire_blocking"), |b| {
        b.iter(|| drop(s.acquire_blocking()))
    });
    bench_await(&mut g, "async_lock", || async { drop(s.acquire().await) });
    assert_eq!(s.available_permits(), 1);

    g.finish();
}

// ---------------------------------------------------------------- group 8

/// The critical section: a non-atomic read-modify-write of a shared counter.
/// Under a 1-permit semaphore no update may be lost.
#[inline]
fn bump(counter: &AtomicU64) {
    let v = counter.load(Ordering::Relaxed);
    counter.store(v + 1, Ordering::Relaxed);
}

fn contended_one<S, F>(g: &mut Group<'_>, name: &str, sem: S, op: F)
where
    S: Send + Sync + 'static,
    F: Fn(&S, &AtomicU64) + Send + Sync + 'static,
{
    const THREADS: usize = 2;
    let shared = Arc::new((sem, AtomicU64::new(0)));
    let mut team = {
        let shared = shared.clone();
        Team::new(THREADS, move |_, ops| {
            let (sem, counter) = &*shared;
            for _ in 0..ops {
                op(sem, counter);
            }
        })
    };
    g.bench_function(BenchmarkId::new(name, THREADS), |b| {
        b.iter_custom(|iters| team.run(iters))
    });
    assert_eq!(
        shared.1.load(Ordering::Relaxed),
        team.issued(),
        "{name}: lost updates (mutual exclusion broken?)"
    );
}

fn semaphore_contended(c: &mut Criterion) {
    let mut g = c.benchmark_group("semaphore_contended");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(1));
    contended_one(&mut g, "polysync", polysync::Semaphore::new(1), |s, n| {
        let _p = s.acquire_blocking().unwrap();
        bump(n);
    });
    contended_one(
        &mut g,
        "async_lock",
        async_lock::Semaphore::new(1),
        |s, n| {
            let _p = s.acquire_blocking();
            bump(n);
        },
    );
    contended_one(&mut g, "tokio", tokio::sync::Semaphore::new(1), |s, n| {
        let _p = futures_lite::future::block_on(s.acquire()).unwrap();
        bump(n);
    });
    g.finish();
}

// ---------------------------------------------------------------- config

fn light() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

fn heavy() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

criterion_group! {
    name = single_thread;
    config = light();
    targets = semaphore_uncontended
}
criterion_group! {
    name = threaded;
    config = heavy();
    targets = semaphore_contended
}
criterion_main!(single_thread, threaded);
