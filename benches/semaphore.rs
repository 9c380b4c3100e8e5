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
//! 9. `semaphore_threads_4/<impl>/<permits>` (issue 18): 4 OS threads on a
//!    semaphore of 1 and of 2 permits, each acquiring with a blocking call,
//!    counting (an atomic increment) and releasing. Impls: `polysync_strict`
//!    (`Semaphore::new_fair`), `polysync_bounded` (`Semaphore::new_bounded`),
//!    `tokio` (`block_on(acquire())` per operation) and `async_lock`.
//! 10. `semaphore_tasks_64/<impl>/<permits>` (issue 18): 64 tokio tasks x
//!     1000 `acquire().await` + increment on a 2-worker multi-thread runtime;
//!     one iteration = 64 000 operations. The same impls.
//! 11. `park_roundtrip/std_thread`: the wake-up cost of the same run (see
//!     `common::park_roundtrip`), for the contended rows.

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

// ---------------------------------------------------------- groups 9, 10

/// The semaphores of groups 9 and 10, side by side.
enum Sem {
    Strict(polysync::Semaphore),
    Bounded(polysync::Semaphore),
    Tokio(tokio::sync::Semaphore),
    AsyncLock(async_lock::Semaphore),
}

impl Sem {
    fn all(permits: usize) -> [Sem; 4] {
        [
            Sem::Strict(polysync::Semaphore::new_fair(permits)),
            Sem::Bounded(polysync::Semaphore::new_bounded(permits)),
            Sem::Tokio(tokio::sync::Semaphore::new(permits)),
            Sem::AsyncLock(async_lock::Semaphore::new(permits)),
        ]
    }

    fn name(&self) -> &'static str {
        match self {
            Sem::Strict(_) => "polysync_strict",
            Sem::Bounded(_) => "polysync_bounded",
            Sem::Tokio(_) => "tokio",
            Sem::AsyncLock(_) => "async_lock",
        }
    }

    /// Acquire with the impl's blocking form, count, release.
    #[inline]
    fn blocking_inc(&self, counter: &AtomicU64) {
        match self {
            Sem::Strict(s) | Sem::Bounded(s) => {
                let _p = s.acquire_blocking().unwrap();
                counter.fetch_add(1, Ordering::Relaxed);
            }
            Sem::Tokio(s) => {
                let _p = futures_lite::future::block_on(s.acquire()).unwrap();
                counter.fetch_add(1, Ordering::Relaxed);
            }
            Sem::AsyncLock(s) => {
                let _p = s.acquire_blocking();
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Acquire asynchronously, count, release.
    #[inline]
    async fn async_inc(&self, counter: &AtomicU64) {
        match self {
            Sem::Strict(s) | Sem::Bounded(s) => {
                let _p = s.acquire().await.unwrap();
                counter.fetch_add(1, Ordering::Relaxed);
            }
            Sem::Tokio(s) => {
                let _p = s.acquire().await.unwrap();
                counter.fetch_add(1, Ordering::Relaxed);
            }
            Sem::AsyncLock(s) => {
                let _p = s.acquire().await;
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn semaphore_threads_4(c: &mut Criterion) {
    const THREADS: usize = 4;
    let mut g = c.benchmark_group("semaphore_threads_4");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(1));
    for permits in [1, 2] {
        for sem in Sem::all(permits) {
            let name = sem.name();
            let shared = Arc::new((sem, AtomicU64::new(0)));
            let mut team = {
                let shared = shared.clone();
                Team::new(THREADS, move |_, ops| {
                    let (sem, counter) = &*shared;
                    for _ in 0..ops {
                        sem.blocking_inc(counter);
                    }
                })
            };
            g.bench_function(BenchmarkId::new(name, permits), |b| {
                b.iter_custom(|iters| team.run(iters))
            });
            assert_eq!(shared.1.load(Ordering::Relaxed), team.issued(), "{name}");
        }
    }
    g.finish();
}

const TASKS: u64 = 64;
const OPS_PER_TASK: u64 = 1000;

fn semaphore_tasks_64(c: &mut Criterion) {
    let rt = common::tokio_mt2();
    let mut g = c.benchmark_group("semaphore_tasks_64");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(TASKS * OPS_PER_TASK));
    for permits in [1, 2] {
        for sem in Sem::all(permits) {
            let name = sem.name();
            let shared = Arc::new((sem, AtomicU64::new(0)));
            let mut runs = 0;
            g.bench_function(BenchmarkId::new(name, permits), |b| {
                b.iter_custom(|iters| {
                    runs += iters;
                    let t = Instant::now();
                    for _ in 0..iters {
                        let handles: Vec<_> = (0..TASKS)
                            .map(|_| {
                                let shared = shared.clone();
                                rt.spawn(async move {
                                    let (sem, counter) = &*shared;
                                    for _ in 0..OPS_PER_TASK {
                                        sem.async_inc(counter).await;
                                    }
                                })
                            })
                            .collect();
                        rt.block_on(async {
                            for h in handles {
                                h.await.expect("bench task panicked");
                            }
                        });
                    }
                    t.elapsed()
                })
            });
            assert_eq!(
                shared.1.load(Ordering::Relaxed),
                runs * TASKS * OPS_PER_TASK,
                "{name}: lost increments"
            );
        }
    }
    g.finish();
}

/// The machine's wake-up cost of this run (see [`common::park_roundtrip`]).
fn park_roundtrip(c: &mut Criterion) {
    common::park_roundtrip(c);
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
    targets = semaphore_contended, semaphore_threads_4, semaphore_tasks_64, park_roundtrip
}
criterion_main!(single_thread, threaded);
