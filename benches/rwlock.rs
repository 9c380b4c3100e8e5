//! RwLock benchmarks: polysync beside its anchors, one criterion group per
//! scenario and one bench function per implementation, so the ratios can be
//! read from a single run (`python3 benches/report.py`).
//!
//! Every implementation does the same work: a read loads a `u64` inside the
//! lock, a write increments it. The code paths are generic over
//! [`BenchRwLock`], so the harness around the operation is identical for
//! every implementation.
//!
//! Function ids: `std` (std::sync::RwLock), `parking_lot`, `polysync`
//! (polysync::RwLock, strict FIFO: `RwLock::new`), `polysync_bounded`
//! (`RwLock::new_bounded`, in group 4), `tokio` (tokio::sync::RwLock, `blocking_read` /
//! `blocking_write` from plain threads), `async_lock` (async_lock::RwLock,
//! `read_blocking` / `write_blocking`).
//!
//! Groups:
//! 1. `rwlock_read_uncontended`: blocking read + unlock on one thread.
//! 2. `rwlock_write_uncontended`: blocking write + unlock on one thread.
//! 3. `rwlock_async_read_uncontended`: `read().await` in one
//!    `futures_lite::future::block_on` (polysync, tokio, async_lock).
//! 4. `rwlock_read_heavy_threads/<impl>/<threads>`: 2 or 4 OS threads,
//!    blocking API, one write in every 10 operations (the rest reads that
//!    hold the lock for a short computation); a fixed total of operations
//!    split evenly; time per operation.
//! 5. `rwlock_upgrade_uncontended`: an upgradable read, its upgrade to the
//!    write lock, an increment, the release, on one thread; blocking forms
//!    (polysync, parking_lot, async_lock).
//! 6. `rwlock_async_upgrade_uncontended`: the same with `upgradable_read()`
//!    and the upgrade awaited in one `futures_lite::future::block_on`
//!    (polysync, async_lock).
//! 7. `park_roundtrip`: the machine's wake-up cost in this run
//!    (`common::park_roundtrip`), beside group 4's contended rows.

mod common;

use common::Team;
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One reader-writer lock implementation, reduced to what the groups measure.
trait BenchRwLock: Send + Sync + 'static {
    const NAME: &'static str;
    fn new() -> Self;
    /// Blocking read: returns the value.
    fn read(&self) -> u64;
    /// Blocking write: increments the value.
    fn write(&self);
}

/// The async side of a lock that has one.
trait AsyncBenchRwLock: BenchRwLock {
    /// `read().await`: returns the value.
    fn read_async(&self) -> impl Future<Output = u64> + Send + '_;
}

struct Std(std::sync::RwLock<u64>);
impl BenchRwLock for Std {
    const NAME: &'static str = "std";
    fn new() -> Self {
        Std(std::sync::RwLock::new(0))
    }
    #[inline]
    fn read(&self) -> u64 {
        *self.0.read().unwrap()
    }
    #[inline]
    fn write(&self) {
        *self.0.write().unwrap() += 1;
    }
}

struct ParkingLot(parking_lot::RwLock<u64>);
impl BenchRwLock for ParkingLot {
    const NAME: &'static str = "parking_lot";
    fn new() -> Self {
        ParkingLot(parking_lot::RwLock::new(0))
    }
    #[inline]
    fn read(&self) -> u64 {
        *self.0.read()
    }
    #[inline]
    fn write(&self) {
        *self.0.write() += 1;
    }
}

struct Polysync(polysync::RwLock<u64>);
impl BenchRwLock for Polysync {
    const NAME: &'static str = "polysync";
    fn new() -> Self {
        Polysync(polysync::RwLock::new(0))
    }
    #[inline]
    fn read(&self) -> u64 {
        *self.0.read_blocking()
    }
    #[inline]
    fn write(&self) {
        *self.0.write_blocking() += 1;
    }
}
impl AsyncBenchRwLock for Polysync {
    #[inline]
    async fn read_async(&self) -> u64 {
        *self.0.read().await
    }
}

/// polysync's bounded fairness (`RwLock::new_bounded`, issue 18).
struct PolysyncBounded(polysync::RwLock<u64>);
impl BenchRwLock for PolysyncBounded {
    const NAME: &'static str = "polysync_bounded";
    fn new() -> Self {
        PolysyncBounded(polysync::RwLock::new_bounded(0))
    }
    #[inline]
    fn read(&self) -> u64 {
        *self.0.read_blocking()
    }
    #[inline]
    fn write(&self) {
        *self.0.write_blocking() += 1;
    }
}

struct Tokio(tokio::sync::RwLock<u64>);
impl BenchRwLock for Tokio {
    const NAME: &'static str = "tokio";
    fn new() -> Self {
        Tokio(tokio::sync::RwLock::new(0))
    }
    /// `blocking_read`: only valid outside a runtime; every caller here is a
    /// plain thread.
    #[inline]
    fn read(&self) -> u64 {
        *self.0.blocking_read()
    }
    #[inline]
    fn write(&self) {
        *self.0.blocking_write() += 1;
    }
}
impl AsyncBenchRwLock for Tokio {
    #[inline]
    async fn read_async(&self) -> u64 {
        *self.0.read().await
    }
}

struct AsyncLock(async_lock::RwLock<u64>);
impl BenchRwLock for AsyncLock {
    const NAME: &'static str = "async_lock";
    fn new() -> Self {
        AsyncLock(async_lock::RwLock::new(0))
    }
    #[inline]
    fn read(&self) -> u64 {
        *self.0.read_blocking()
    }
    #[inline]
    fn write(&self) {
        *self.0.write_blocking() += 1;
    }
}
impl AsyncBenchRwLock for AsyncLock {
    #[inline]
    async fn read_async(&self) -> u64 {
        *self.0.read().await
    }
}

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

// ---------------------------------------------------------------- groups 1-2

fn read_one<L: BenchRwLock>(g: &mut Group<'_>) {
    let l = L::new();
    g.bench_function(L::NAME, |b| b.iter(|| black_box(l.read())));
}

fn write_one<L: BenchRwLock>(g: &mut Group<'_>) {
    let l = L::new();
    g.bench_function(L::NAME, |b| b.iter(|| l.write()));
}

fn rwlock_read_uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("rwlock_read_uncontended");
    read_one::<Std>(&mut g);
    read_one::<ParkingLot>(&mut g);
    read_one::<Polysync>(&mut g);
    read_one::<Tokio>(&mut g);
    read_one::<AsyncLock>(&mut g);
    g.finish();
}

fn rwlock_write_uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("rwlock_write_uncontended");
    write_one::<Std>(&mut g);
    write_one::<ParkingLot>(&mut g);
    write_one::<Polysync>(&mut g);
    write_one::<Tokio>(&mut g);
    write_one::<AsyncLock>(&mut g);
    g.finish();
}

// ---------------------------------------------------------------- group 3

fn async_read_one<L: AsyncBenchRwLock>(g: &mut Group<'_>) {
    let l = L::new();
    g.bench_function(L::NAME, |b| {
        b.iter_custom(|iters| {
            futures_lite::future::block_on(async {
                let t = Instant::now();
                for _ in 0..iters {
                    black_box(l.read_async().await);
                }
                t.elapsed()
            })
        })
    });
}

fn rwlock_async_read_uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("rwlock_async_read_uncontended");
    async_read_one::<Polysync>(&mut g);
    async_read_one::<Tokio>(&mut g);
    async_read_one::<AsyncLock>(&mut g);
    g.finish();
}

// ---------------------------------------------------------------- group 4

/// A read that holds the lock for a short computation (so readers really
/// overlap), as a read-mostly cache lookup would.
#[inline]
fn read_work<L: BenchRwLock>(l: &L) -> u64 {
    let v = l.read();
    let mut x = v;
    for i in 0..16u64 {
        x = black_box(x.wrapping_mul(31).wrapping_add(i));
    }
    x
}

fn read_heavy_one<L: BenchRwLock>(g: &mut Group<'_>, threads: usize) {
    let l = Arc::new(L::new());
    let mut team = {
        let l = l.clone();
        Team::new(threads, move |idx, ops| {
            for i in 0..ops {
                if (i + idx as u64) % 10 == 0 {
                    l.write();
                } else {
                    black_box(read_work(&*l));
                }
            }
        })
    };
    g.bench_with_input(BenchmarkId::new(L::NAME, threads), &threads, |b, _| {
        b.iter_custom(|iters| team.run(iters))
    });
    assert!(
        l.read() <= team.issued(),
        "{}: more writes than ops",
        L::NAME
    );
}

fn rwlock_read_heavy_threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("rwlock_read_heavy_threads");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(1));
    for threads in [2, 4] {
        read_heavy_one::<Std>(&mut g, threads);
        read_heavy_one::<ParkingLot>(&mut g, threads);
        read_heavy_one::<Polysync>(&mut g, threads);
        read_heavy_one::<PolysyncBounded>(&mut g, threads);
        read_heavy_one::<Tokio>(&mut g, threads);
        read_heavy_one::<AsyncLock>(&mut g, threads);
    }
    g.finish();
}

// ---------------------------------------------------------------- groups 5-6

fn rwlock_upgrade_uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("rwlock_upgrade_uncontended");
    let l = polysync::RwLock::new(0u64);
    g.bench_function("polysync", |b| {
        b.iter(|| {
            let mut u = l.upgradable_read_blocking();
            *polysync::RwLockUpgradableReadGuard::upgrade_blocking(&mut u) += 1;
        })
    });
    let l = parking_lot::RwLock::new(0u64);
    g.bench_function("parking_lot", |b| {
        b.iter(|| {
            let u = l.upgradable_read();
            *parking_lot::RwLockUpgradableReadGuard::upgrade(u) += 1;
        })
    });
    let l = async_lock::RwLock::new(0u64);
    g.bench_function("async_lock", |b| {
        b.iter(|| {
            let u = l.upgradable_read_blocking();
            *async_lock::RwLockUpgradableReadGuard::upgrade_blocking(u) += 1;
        })
    });
    g.finish();
}

fn rwlock_async_upgrade_uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("rwlock_async_upgrade_uncontended");
    let l = polysync::RwLock::new(0u64);
    g.bench_function("polysync", |b| {
        b.iter_custom(|iters| {
            futures_lite::future::block_on(async {
                let t = Instant::now();
                for _ in 0..iters {
                    let mut u = l.upgradable_read().await;
                    *polysync::RwLockUpgradableReadGuard::upgrade(&mut u).await += 1;
                }
                t.elapsed()
            })
        })
    });
    let l = async_lock::RwLock::new(0u64);
    g.bench_function("async_lock", |b| {
        b.iter_custom(|iters| {
            futures_lite::future::block_on(async {
                let t = Instant::now();
                for _ in 0..iters {
                    let u = l.upgradable_read().await;
                    *async_lock::RwLockUpgradableReadGuard::upgrade(u).await += 1;
                }
                t.elapsed()
            })
        })
    });
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
    targets = rwlock_read_uncontended, rwlock_write_uncontended, rwlock_async_read_uncontended,
        rwlock_upgrade_uncontended, rwlock_async_upgrade_uncontended
}
/// The machine's wake-up cost of this run (see [`common::park_roundtrip`]).
fn park_roundtrip(c: &mut Criterion) {
    common::park_roundtrip(c);
}

criterion_group! {
    name = threaded;
    config = heavy();
    targets = rwlock_read_heavy_threads, park_roundtrip
}
criterion_main!(single_thread, threaded);
