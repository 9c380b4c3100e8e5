//! Lock / Mutex benchmarks: polysync beside its anchors, one criterion group
//! per scenario and one bench function per implementation, so the ratios can
//! be read from a single run (`python3 benches/report.py`).
//!
//! Every implementation does exactly the same work: lock, increment a `u64`
//! inside the mutex, unlock. The code paths are generic over [`BenchMutex`],
//! so the harness around the operation is identical for every implementation.
//!
//! Function ids: `std` (std::sync::Mutex), `parking_lot`, `polysync`
//! (polysync::Mutex, bounded fairness: the default), `polysync_fair`
//! (`Mutex::new_fair`, the strict hand-off), `polysync_lock` (polysync::Lock guarding an
//! `UnsafeCell<u64>`), `tokio` (tokio::sync::Mutex), `async_lock`
//! (async_lock::Mutex).
//!
//! Groups (see BENCHMARKS.md for the exact method used in each):
//! 1. `lock_uncontended_blocking`: blocking lock + unlock on one thread.
//! 2. `lock_try`: try_lock + unlock on one thread.
//! 3. `lock_async_uncontended`: `lock().await` in one `futures_lite::future::block_on`.
//! 4. `lock_contended_threads/<impl>/<threads>`: 2, 4 or 8 OS threads (8:
//!    oversubscribed, four per core on the 2-core VM), blocking
//!    API, a fixed total of operations split evenly; time per operation.
//! 5. `lock_mixed_threads_tasks`: 2 OS threads (blocking API) + 2 tokio tasks
//!    (`lock().await`) on a 2-worker multi-thread runtime; time per operation.
//! 6. `lock_tasks_64`: 64 tokio tasks x 1000 `lock().await` on a 2-worker
//!    multi-thread runtime; one iteration = 64 000 operations
//!    (report.py divides by the `Elements` throughput).

mod common;

use common::{Team, tokio_mt2};
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use std::cell::UnsafeCell;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One mutex implementation, reduced to the operations the groups measure.
trait BenchMutex: Send + Sync + 'static {
    const NAME: &'static str;
    fn new() -> Self;
    /// Blocking lock, increment, unlock.
    fn lock_inc(&self);
    /// Non-blocking lock, increment, unlock; `false` if it was held.
    fn try_inc(&self) -> bool;
    /// The counter (for sanity checks after a run).
    fn value(&self) -> u64;
}

/// The async side of a mutex that has one.
trait AsyncBenchMutex: BenchMutex {
    /// `lock().await`, increment, unlock.
    fn lock_inc_async(&self) -> impl Future<Output = ()> + Send + '_;
}

struct Std(std::sync::Mutex<u64>);
impl BenchMutex for Std {
    const NAME: &'static str = "std";
    fn new() -> Self {
        Std(std::sync::Mutex::new(0))
    }
    #[inline]
    fn lock_inc(&self) {
        *self.0.lock().unwrap() += 1;
    }
    #[inline]
    fn try_inc(&self) -> bool {
        match self.0.try_lock() {
            Ok(mut g) => {
                *g += 1;
                true
            }
            Err(_) => false,
        }
    }
    fn value(&self) -> u64 {
        *self.0.lock().unwrap()
    }
}

struct ParkingLot(parking_lot::Mutex<u64>);
impl BenchMutex for ParkingLot {
    const NAME: &'static str = "parking_lot";
    fn new() -> Self {
        ParkingLot(parking_lot::Mutex::new(0))
    }
    #[inline]
    fn lock_inc(&self) {
        *self.0.lock() += 1;
    }
    #[inline]
    fn try_inc(&self) -> bool {
        match self.0.try_lock() {
            Some(mut g) => {
                *g += 1;
                true
            }
            None => false,
        }
    }
    fn value(&self) -> u64 {
        *self.0.lock()
    }
}

struct Polysync(polysync::Mutex<u64>);
impl BenchMutex for Polysync {
    const NAME: &'static str = "polysync";
    fn new() -> Self {
        Polysync(polysync::Mutex::new(0))
    }
    #[inline]
    fn lock_inc(&self) {
        *self.0.lock_blocking() += 1;
    }
    #[inline]
    fn try_inc(&self) -> bool {
        match self.0.try_lock() {
            Some(mut g) => {
                *g += 1;
                true
            }
            None => false,
        }
    }
    fn value(&self) -> u64 {
        *self.0.lock_blocking()
    }
}
impl AsyncBenchMutex for Polysync {
    #[inline]
    async fn lock_inc_async(&self) {
        *self.0.lock().await += 1;
    }
}

/// `polysync::Mutex::new_fair`: the strict FIFO hand-off, beside the
/// default's bounded fairness (issue 18).
struct PolysyncFair(polysync::Mutex<u64>);
impl BenchMutex for PolysyncFair {
    const NAME: &'static str = "polysync_fair";
    fn new() -> Self {
        PolysyncFair(polysync::Mutex::new_fair(0))
    }
    #[inline]
    fn lock_inc(&self) {
        *self.0.lock_blocking() += 1;
    }
    #[inline]
    fn try_inc(&self) -> bool {
        match self.0.try_lock() {
            Some(mut g) => {
                *g += 1;
                true
            }
            None => false,
        }
    }
    fn value(&self) -> u64 {
        *self.0.lock_blocking()
    }
}
impl AsyncBenchMutex for PolysyncFair {
    #[inline]
    async fn lock_inc_async(&self) {
        *self.0.lock().await += 1;
    }
}

/// polysync::Lock (no data) guarding a counter, to see whether `Mutex<T>`
/// adds anything over the bare lock.
struct PolysyncLock {
    lock: polysync::Lock,
    n: UnsafeCell<u64>,
}
// SAFETY: `n` is only touched while `lock` is held.
unsafe impl Sync for PolysyncLock {}
impl BenchMutex for PolysyncLock {
    const NAME: &'static str = "polysync_lock";
    fn new() -> Self {
        PolysyncLock {
            lock: polysync::Lock::new(),
            n: UnsafeCell::new(0),
        }
    }
    #[inline]
    fn lock_inc(&self) {
        let _g = self.lock.acquire_blocking();
        // SAFETY: the lock is held.
        unsafe { *self.n.get() += 1 };
    }
    #[inline]
    fn try_inc(&self) -> bool {
        match self.lock.try_acquire() {
            Some(_g) => {
                // SAFETY: the lock is held.
                unsafe { *self.n.get() += 1 };
                true
            }
            None => false,
        }
    }
    fn value(&self) -> u64 {
        let _g = self.lock.acquire_blocking();
        // SAFETY: the lock is held.
        unsafe { *self.n.get() }
    }
}

struct Tokio(tokio::sync::Mutex<u64>);
impl BenchMutex for Tokio {
    const NAME: &'static str = "tokio";
    fn new() -> Self {
        Tokio(tokio::sync::Mutex::new(0))
    }
    /// `blocking_lock`: only valid outside a runtime (it panics inside one);
    /// every caller here is a plain thread.
    #[inline]
    fn lock_inc(&self) {
        *self.0.blocking_lock() += 1;
    }
    #[inline]
    fn try_inc(&self) -> bool {
        match self.0.try_lock() {
            Ok(mut g) => {
                *g += 1;
                true
            }
            Err(_) => false,
        }
    }
    fn value(&self) -> u64 {
        *self.0.blocking_lock()
    }
}
impl AsyncBenchMutex for Tokio {
    #[inline]
    async fn lock_inc_async(&self) {
        *self.0.lock().await += 1;
    }
}

struct AsyncLock(async_lock::Mutex<u64>);
impl BenchMutex for AsyncLock {
    const NAME: &'static str = "async_lock";
    fn new() -> Self {
        AsyncLock(async_lock::Mutex::new(0))
    }
    #[inline]
    fn lock_inc(&self) {
        *self.0.lock_blocking() += 1;
    }
    #[inline]
    fn try_inc(&self) -> bool {
        match self.0.try_lock() {
            Some(mut g) => {
                *g += 1;
                true
            }
            None => false,
        }
    }
    fn value(&self) -> u64 {
        *self.0.lock_blocking()
    }
}
impl AsyncBenchMutex for AsyncLock {
    #[inline]
    async fn lock_inc_async(&self) {
        *self.0.lock().await += 1;
    }
}

// ---------------------------------------------------------------- group 1

fn uncontended_blocking_one<M: BenchMutex>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
) {
    let m = M::new();
    g.bench_function(M::NAME, |b| b.iter(|| m.lock_inc()));
}

fn lock_uncontended_blocking(c: &mut Criterion) {
    let mut g = c.benchmark_group("lock_uncontended_blocking");
    uncontended_blocking_one::<Std>(&mut g);
    uncontended_blocking_one::<ParkingLot>(&mut g);
    uncontended_blocking_one::<Polysync>(&mut g);
    uncontended_blocking_one::<PolysyncLock>(&mut g);
    uncontended_blocking_one::<AsyncLock>(&mut g);
    uncontended_blocking_one::<Tokio>(&mut g);
    g.finish();
}

// ---------------------------------------------------------------- group 2

fn try_one<M: BenchMutex>(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    let m = M::new();
    let mut failed = 0u64;
    g.bench_function(M::NAME, |b| {
        b.iter(|| {
            if !m.try_inc() {
                failed += 1;
            }
        })
    });
    // Uncontended: every try must have succeeded (this also holds when a
    // filter skipped the group and nothing ran).
    assert_eq!(failed, 0, "{}: an uncontended try_lock failed", M::NAME);
}

fn lock_try(c: &mut Criterion) {
    let mut g = c.benchmark_group("lock_try");
    try_one::<Std>(&mut g);
    try_one::<ParkingLot>(&mut g);
    try_one::<Polysync>(&mut g);
    try_one::<Tokio>(&mut g);
    try_one::<AsyncLock>(&mut g);
    g.finish();
}

// ---------------------------------------------------------------- group 3

fn async_uncontended_one<M: AsyncBenchMutex>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
) {
    let m = M::new();
    g.bench_function(M::NAME, |b| {
        b.iter_custom(|iters| {
            futures_lite::future::block_on(async {
                let t = Instant::now();
                for _ in 0..iters {
                    m.lock_inc_async().await;
                }
                t.elapsed()
            })
        })
    });
}

fn lock_async_uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("lock_async_uncontended");
    async_uncontended_one::<Polysync>(&mut g);
    async_uncontended_one::<Tokio>(&mut g);
    async_uncontended_one::<AsyncLock>(&mut g);
    g.finish();
}

// ---------------------------------------------------------------- group 4

fn contended_threads_one<M: BenchMutex>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    threads: usize,
) {
    let m = Arc::new(M::new());
    let mut team = {
        let m = m.clone();
        Team::new(threads, move |_, ops| {
            for _ in 0..ops {
                m.lock_inc();
            }
        })
    };
    g.bench_with_input(BenchmarkId::new(M::NAME, threads), &threads, |b, _| {
        b.iter_custom(|iters| team.run(iters))
    });
    assert_eq!(m.value(), team.issued(), "{}: lost increments", M::NAME);
}

fn lock_contended_threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("lock_contended_threads");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(1));
    for threads in [2, 4, 8] {
        contended_threads_one::<Std>(&mut g, threads);
        contended_threads_one::<ParkingLot>(&mut g, threads);
        contended_threads_one::<Polysync>(&mut g, threads);
        contended_threads_one::<PolysyncFair>(&mut g, threads);
        contended_threads_one::<Tokio>(&mut g, threads);
        contended_threads_one::<AsyncLock>(&mut g, threads);
    }
    g.finish();
}

// ---------------------------------------------------------------- group 5

/// 2 OS threads (persistent, blocking API) + 2 tokio tasks (`lock().await`,
/// spawned per batch on a shared 2-worker multi-thread runtime) on one mutex.
/// A batch of `iters` operations: half for the threads, half for the tasks,
/// split evenly; the time runs from releasing the threads (and spawning the
/// tasks) until all four are done.
fn mixed_one<M: AsyncBenchMutex>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &tokio::runtime::Runtime,
) {
    let m = Arc::new(M::new());
    let mut team = {
        let m = m.clone();
        Team::new(2, move |_, ops| {
            for _ in 0..ops {
                m.lock_inc();
            }
        })
    };
    let mut task_ops = 0;
    g.bench_function(M::NAME, |b| {
        b.iter_custom(|iters| {
            let for_threads = iters / 2;
            let for_tasks = iters - for_threads;
            task_ops += for_tasks;
            let t = Instant::now();
            team.start(for_threads);
            let handles: Vec<_> = (0..2)
                .map(|i| {
                    let m = m.clone();
                    let ops = common::share(for_tasks, 2, i);
                    rt.spawn(async move {
                        for _ in 0..ops {
                            m.lock_inc_async().await;
                        }
                    })
                })
                .collect();
            rt.block_on(async {
                for h in handles {
                    h.await.expect("bench task panicked");
                }
            });
            team.finish();
            t.elapsed()
        })
    });
    assert_eq!(
        m.value(),
        team.issued() + task_ops,
        "{}: lost increments",
        M::NAME
    );
}

fn lock_mixed_threads_tasks(c: &mut Criterion) {
    let rt = tokio_mt2();
    let mut g = c.benchmark_group("lock_mixed_threads_tasks");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(1));
    mixed_one::<Polysync>(&mut g, &rt);
    mixed_one::<PolysyncFair>(&mut g, &rt);
    mixed_one::<Tokio>(&mut g, &rt);
    mixed_one::<AsyncLock>(&mut g, &rt);
    g.finish();
}

// ---------------------------------------------------------------- group 6

const TASKS: u64 = 64;
const OPS_PER_TASK: u64 = 1000;

/// One iteration: spawn 64 tasks that each do 1000 `lock().await` + increment,
/// and wait for all of them (spawn and join are inside the measurement, the
/// same for every implementation; they cost about 1% of an iteration).
fn tasks_64_one<M: AsyncBenchMutex>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &tokio::runtime::Runtime,
) {
    let m = Arc::new(M::new());
    let mut runs = 0;
    g.bench_function(M::NAME, |b| {
        b.iter_custom(|iters| {
            runs += iters;
            let t = Instant::now();
            for _ in 0..iters {
                let handles: Vec<_> = (0..TASKS)
                    .map(|_| {
                        let m = m.clone();
                        rt.spawn(async move {
                            for _ in 0..OPS_PER_TASK {
                                m.lock_inc_async().await;
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
        m.value(),
        runs * TASKS * OPS_PER_TASK,
        "{}: lost increments",
        M::NAME
    );
}

fn lock_tasks_64(c: &mut Criterion) {
    let rt = tokio_mt2();
    let mut g = c.benchmark_group("lock_tasks_64");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(TASKS * OPS_PER_TASK));
    tasks_64_one::<Polysync>(&mut g, &rt);
    tasks_64_one::<PolysyncFair>(&mut g, &rt);
    tasks_64_one::<Tokio>(&mut g, &rt);
    tasks_64_one::<AsyncLock>(&mut g, &rt);
    g.finish();
}

// ---------------------------------------------------------------- config

/// Single-thread groups: cheap, many samples. Command-line options
/// (`--quick`, `--measurement-time`, ...) override these.
fn light() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

/// Threaded groups: fewer, longer samples.
fn heavy() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

criterion_group! {
    name = single_thread;
    config = light();
    targets = lock_uncontended_blocking, lock_try, lock_async_uncontended
}
// ---------------------------------------------------------------- group 7

/// The machine's wake-up cost of this run (see [`common::park_roundtrip`]).
fn park_roundtrip(c: &mut Criterion) {
    common::park_roundtrip(c);
}

criterion_group! {
    name = threaded;
    config = heavy();
    targets = lock_contended_threads, lock_mixed_threads_tasks, lock_tasks_64, park_roundtrip
}
criterion_main!(single_thread, threaded);
