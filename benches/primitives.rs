//! Benchmarks of the other primitives (issue 3): reentrant lock, barrier,
//! condition variable and capacity limiter, each beside its anchors in the
//! same criterion group, one function per implementation, the same work for
//! all (`python3 benches/report.py` prints medians and ratios).
//!
//! Groups (BENCHMARKS.md, "Issue 3 primitives", has the method of each):
//! 1. `rlock_reentrant`: one thread, acquire 2 nested levels, increment a
//!    counter, release both; `rlock_contended/<impl>/2`: the same operation
//!    from 2 OS threads (blocking). polysync `RLock` vs
//!    `parking_lot::ReentrantMutex`.
//! 2. `barrier_cycle/<impl>/<threads>`: 2 or 4 OS threads each doing the same
//!    number of blocking barrier waits; time per barrier phase. polysync
//!    `Barrier` vs `std::sync::Barrier`. `barrier_cycle_async`: 2 tokio tasks
//!    on a 2-worker multi-thread runtime doing `wait().await`; polysync vs
//!    `tokio::sync::Barrier` vs `async_lock::Barrier`.
//! 3. `condition_handoff/<impl>/<notify>`: ping-pong of a counter through a
//!    mutex + condition variable between 2 OS threads (each waits until the
//!    counter's parity says it is its turn, increments it and notifies one
//!    waiter); time per hand-off. polysync `Mutex` + `Condition` vs std
//!    `Mutex` + `Condvar` vs parking_lot `Mutex` + `Condvar`; the parameter
//!    says whether the notify is issued after unlocking (`notify_unlocked`)
//!    or while holding the lock (`notify_locked`).
//! 4. `limiter_uncontended/<impl>/<method>_<tokens>`: acquire + release on
//!    one thread; `limiter_contended/<impl>/<tokens>`: 2 OS threads, blocking
//!    acquire, tiny critical section, release. polysync `CapacityLimiter`
//!    (1 and 4 tokens; `polysync_bounded`: `CapacityLimiter::new_bounded`)
//!    vs `tokio::sync::Semaphore` and `async_lock::Semaphore` with as many
//!    permits.
//!
//! Every threaded group uses the persistent workers of `common::Team` and
//! `iter_custom`; every group checks at the end that the work happened.

mod common;

use common::{Team, tokio_mt2};
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use std::cell::{Cell, UnsafeCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

// ---------------------------------------------------------------- group 1

/// A reentrant lock guarding a counter; one operation = take 2 nested
/// levels, increment, release both.
trait BenchRLock: Send + Sync + 'static {
    const NAME: &'static str;
    fn new() -> Self;
    fn nested_inc(&self);
    fn value(&self) -> u64;
}

struct PolysyncRLock {
    lock: polysync::RLock,
    n: UnsafeCell<u64>,
}
// SAFETY: `n` is only touched while `lock` is held.
unsafe impl Sync for PolysyncRLock {}
impl BenchRLock for PolysyncRLock {
    const NAME: &'static str = "polysync";
    fn new() -> Self {
        PolysyncRLock {
            lock: polysync::RLock::new(),
            n: UnsafeCell::new(0),
        }
    }
    #[inline]
    fn nested_inc(&self) {
        let outer = self.lock.acquire_blocking();
        let inner = self.lock.acquire_blocking();
        // SAFETY: the lock is held.
        unsafe { *self.n.get() += 1 };
        drop(inner);
        drop(outer);
    }
    fn value(&self) -> u64 {
        let _g = self.lock.acquire_blocking();
        // SAFETY: the lock is held.
        unsafe { *self.n.get() }
    }
}

struct ParkingLotRLock(parking_lot::ReentrantMutex<Cell<u64>>);
impl BenchRLock for ParkingLotRLock {
    const NAME: &'static str = "parking_lot";
    fn new() -> Self {
        ParkingLotRLock(parking_lot::ReentrantMutex::new(Cell::new(0)))
    }
    #[inline]
    fn nested_inc(&self) {
        let outer = self.0.lock();
        let inner = self.0.lock();
        inner.set(inner.get() + 1);
        drop(inner);
        drop(outer);
    }
    fn value(&self) -> u64 {
        self.0.lock().get()
    }
}

fn rlock_reentrant_one<R: BenchRLock>(g: &mut Group<'_>) {
    let r = R::new();
    let mut runs = 0u64;
    g.bench_function(R::NAME, |b| {
        b.iter_custom(|iters| {
            runs += iters;
            let t = Instant::now();
            for _ in 0..iters {
                r.nested_inc();
            }
            t.elapsed()
        })
    });
    assert_eq!(r.value(), runs, "{}: lost increments", R::NAME);
}

fn rlock_reentrant(c: &mut Criterion) {
    let mut g = c.benchmark_group("rlock_reentrant");
    rlock_reentrant_one::<PolysyncRLock>(&mut g);
    rlock_reentrant_one::<ParkingLotRLock>(&mut g);
    g.finish();
}

fn rlock_contended_one<R: BenchRLock>(g: &mut Group<'_>, threads: usize) {
    let r = Arc::new(R::new());
    let mut team = {
        let r = r.clone();
        Team::new(threads, move |_, ops| {
            for _ in 0..ops {
                r.nested_inc();
            }
        })
    };
    g.bench_with_input(BenchmarkId::new(R::NAME, threads), &threads, |b, _| {
        b.iter_custom(|iters| team.run(iters))
    });
    assert_eq!(r.value(), team.issued(), "{}: lost increments", R::NAME);
}

fn rlock_contended(c: &mut Criterion) {
    let mut g = c.benchmark_group("rlock_contended");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(1));
    rlock_contended_one::<PolysyncRLock>(&mut g, 2);
    rlock_contended_one::<ParkingLotRLock>(&mut g, 2);
    g.finish();
}

// ---------------------------------------------------------------- group 2

/// A cyclic barrier; `wait` returns whether this party was the phase's
/// leader (exactly one per phase), which the checks count.
trait BenchBarrier: Send + Sync + 'static {
    const NAME: &'static str;
    fn new(parties: usize) -> Self;
}

trait BlockingBarrier: BenchBarrier {
    fn wait_leader(&self) -> bool;
}

trait AsyncBarrier: BenchBarrier {
    fn wait_leader_async(&self) -> impl Future<Output = bool> + Send + '_;
}

struct PolysyncBarrier(polysync::Barrier);
impl BenchBarrier for PolysyncBarrier {
    const NAME: &'static str = "polysync";
    fn new(parties: usize) -> Self {
        PolysyncBarrier(polysync::Barrier::new(parties))
    }
}
impl BlockingBarrier for PolysyncBarrier {
    #[inline]
    fn wait_leader(&self) -> bool {
        // The last arrival (index parties - 1) opens the phase.
        self.0.wait_blocking().expect("barrier broken").is_leader()
    }
}
impl AsyncBarrier for PolysyncBarrier {
    #[inline]
    async fn wait_leader_async(&self) -> bool {
        self.0.wait().await.expect("barrier broken").is_leader()
    }
}

struct StdBarrier(std::sync::Barrier);
impl BenchBarrier for StdBarrier {
    const NAME: &'static str = "std";
    fn new(parties: usize) -> Self {
        StdBarrier(std::sync::Barrier::new(parties))
    }
}
impl BlockingBarrier for StdBarrier {
    #[inline]
    fn wait_leader(&self) -> bool {
        self.0.wait().is_leader()
    }
}

struct TokioBarrier(tokio::sync::Barrier);
impl BenchBarrier for TokioBarrier {
    const NAME: &'static str = "tokio";
    fn new(parties: usize) -> Self {
        TokioBarrier(tokio::sync::Barrier::new(parties))
    }
}
impl AsyncBarrier for TokioBarrier {
    #[inline]
    async fn wait_leader_async(&self) -> bool {
        self.0.wait().await.is_leader()
    }
}

struct AsyncLockBarrier(async_lock::Barrier);
impl BenchBarrier for AsyncLockBarrier {
    const NAME: &'static str = "async_lock";
    fn new(parties: usize) -> Self {
        AsyncLockBarrier(async_lock::Barrier::new(parties))
    }
}
impl AsyncBarrier for AsyncLockBarrier {
    #[inline]
    async fn wait_leader_async(&self) -> bool {
        self.0.wait().await.is_leader()
    }
}

/// `threads` persistent workers; a batch of `iters` phases gives every
/// worker exactly `iters` waits (total `iters * threads`, split evenly), so
/// the parties always match and no batch can hang.
fn barrier_threads_one<B: BlockingBarrier>(g: &mut Group<'_>, threads: usize) {
    let b = Arc::new(B::new(threads));
    let leaders = Arc::new(AtomicU64::new(0));
    let mut team = {
        let (b, leaders) = (b.clone(), leaders.clone());
        Team::new(threads, move |_, waits| {
            let mut led = 0;
            for _ in 0..waits {
                led += u64::from(b.wait_leader());
            }
            leaders.fetch_add(led, Ordering::Relaxed);
        })
    };
    g.bench_with_input(BenchmarkId::new(B::NAME, threads), &threads, |bench, _| {
        bench.iter_custom(|iters| team.run(iters * threads as u64))
    });
    assert_eq!(
        leaders.load(Ordering::Relaxed),
        team.issued() / threads as u64,
        "{}: phases and leaders disagree",
        B::NAME
    );
}

fn barrier_cycle(c: &mut Criterion) {
    let mut g = c.benchmark_group("barrier_cycle");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(1));
    for threads in [2, 4] {
        barrier_threads_one::<PolysyncBarrier>(&mut g, threads);
        barrier_threads_one::<StdBarrier>(&mut g, threads);
    }
    g.finish();
}

/// 2 tasks spawned per batch on the shared 2-worker runtime, each doing
/// `iters` waits; time from the spawn until both are joined, per phase.
fn barrier_async_one<B: AsyncBarrier>(g: &mut Group<'_>, rt: &tokio::runtime::Runtime) {
    const TASKS: usize = 2;
    let b = Arc::new(B::new(TASKS));
    let mut phases = 0u64;
    let mut leaders = 0u64;
    g.bench_with_input(BenchmarkId::new(B::NAME, TASKS), &TASKS, |bench, _| {
        bench.iter_custom(|iters| {
            phases += iters;
            let t = Instant::now();
            let handles: Vec<_> = (0..TASKS)
                .map(|_| {
                    let b = b.clone();
                    rt.spawn(async move {
                        let mut led = 0u64;
                        for _ in 0..iters {
                            led += u64::from(b.wait_leader_async().await);
                        }
                        led
                    })
                })
                .collect();
            let led: u64 = rt.block_on(async {
                let mut sum = 0;
                for h in handles {
                    sum += h.await.expect("bench task panicked");
                }
                sum
            });
            let elapsed = t.elapsed();
            leaders += led;
            elapsed
        })
    });
    assert_eq!(leaders, phases, "{}: phases and leaders disagree", B::NAME);
}

fn barrier_cycle_async(c: &mut Criterion) {
    let rt = tokio_mt2();
    let mut g = c.benchmark_group("barrier_cycle_async");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(1));
    barrier_async_one::<PolysyncBarrier>(&mut g, &rt);
    barrier_async_one::<TokioBarrier>(&mut g, &rt);
    barrier_async_one::<AsyncLockBarrier>(&mut g, &rt);
    g.finish();
}

// ---------------------------------------------------------------- group 3

/// A counter behind a mutex plus a condition variable. `step(parity)`: wait
/// until `counter % 2 == parity`, increment it, notify one waiter (after
/// unlocking, or while still holding the lock).
trait BenchCondition: Send + Sync + 'static {
    const NAME: &'static str;
    fn new() -> Self;
    fn step(&self, parity: u64, notify_locked: bool);
    fn value(&self) -> u64;
}

struct PolysyncCondition {
    m: polysync::Mutex<u64>,
    c: polysync::Condition,
}
impl BenchCondition for PolysyncCondition {
    const NAME: &'static str = "polysync";
    fn new() -> Self {
        PolysyncCondition {
            m: polysync::Mutex::new(0),
            c: polysync::Condition::new(),
        }
    }
    #[inline]
    fn step(&self, parity: u64, notify_locked: bool) {
        let mut g = self.m.lock_blocking();
        while *g % 2 != parity {
            g = self.c.wait_blocking(g);
        }
        *g += 1;
        if notify_locked {
            self.c.notify(1);
            drop(g);
        } else {
            drop(g);
            self.c.notify(1);
        }
    }
    fn value(&self) -> u64 {
        *self.m.lock_blocking()
    }
}

struct StdCondition {
    m: std::sync::Mutex<u64>,
    c: std::sync::Condvar,
}
impl BenchCondition for StdCondition {
    const NAME: &'static str = "std";
    fn new() -> Self {
        StdCondition {
            m: std::sync::Mutex::new(0),
            c: std::sync::Condvar::new(),
        }
    }
    #[inline]
    fn step(&self, parity: u64, notify_locked: bool) {
        let mut g = self.m.lock().unwrap();
        while *g % 2 != parity {
            g = self.c.wait(g).unwrap();
        }
        *g += 1;
        if notify_locked {
            self.c.notify_one();
            drop(g);
        } else {
            drop(g);
            self.c.notify_one();
        }
    }
    fn value(&self) -> u64 {
        *self.m.lock().unwrap()
    }
}

struct ParkingLotCondition {
    m: parking_lot::Mutex<u64>,
    c: parking_lot::Condvar,
}
impl BenchCondition for ParkingLotCondition {
    const NAME: &'static str = "parking_lot";
    fn new() -> Self {
        ParkingLotCondition {
            m: parking_lot::Mutex::new(0),
            c: parking_lot::Condvar::new(),
        }
    }
    #[inline]
    fn step(&self, parity: u64, notify_locked: bool) {
        let mut g = self.m.lock();
        while *g % 2 != parity {
            self.c.wait(&mut g);
        }
        *g += 1;
        if notify_locked {
            self.c.notify_one();
            drop(g);
        } else {
            drop(g);
            self.c.notify_one();
        }
    }
    fn value(&self) -> u64 {
        *self.m.lock()
    }
}

/// 2 persistent workers, worker `i` moves the counter from parity `i`. A
/// batch is rounded up to an even number of hand-offs (both workers then do
/// the same number of steps and the counter is even again between batches);
/// the time is scaled back to `iters`.
fn condition_one<C: BenchCondition>(g: &mut Group<'_>, notify_locked: bool) {
    let c = Arc::new(C::new());
    let mut team = {
        let c = c.clone();
        Team::new(2, move |idx, steps| {
            for _ in 0..steps {
                c.step(idx as u64, notify_locked);
            }
        })
    };
    let param = if notify_locked {
        "notify_locked"
    } else {
        "notify_unlocked"
    };
    g.bench_function(BenchmarkId::new(C::NAME, param), |b| {
        b.iter_custom(|iters| {
            let total = iters + (iters & 1);
            team.run(total).mul_f64(iters as f64 / total as f64)
        })
    });
    assert_eq!(c.value(), team.issued(), "{}: lost hand-offs", C::NAME);
}

fn condition_handoff(c: &mut Criterion) {
    let mut g = c.benchmark_group("condition_handoff");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(1));
    for notify_locked in [false, true] {
        condition_one::<PolysyncCondition>(&mut g, notify_locked);
        condition_one::<StdCondition>(&mut g, notify_locked);
        condition_one::<ParkingLotCondition>(&mut g, notify_locked);
    }
    g.finish();
}

// ---------------------------------------------------------------- group 4

/// `b.iter(f)` where `f` acquires + releases and says whether it got the
/// token; uncontended, so every attempt must succeed.
fn bench_ok(g: &mut Group<'_>, name: &str, param: String, mut f: impl FnMut() -> bool) {
    let mut failed = 0u64;
    g.bench_function(BenchmarkId::new(name, &param), |b| {
        b.iter(|| {
            if !f() {
                failed += 1;
            }
        })
    });
    assert_eq!(failed, 0, "{name}/{param}: an uncontended acquire failed");
}

fn limiter_uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("limiter_uncontended");
    for tokens in [1, 4] {
        let l = polysync::CapacityLimiter::new(tokens);
        bench_ok(&mut g, "polysync", format!("try_acquire_{tokens}"), || {
            l.try_acquire().is_ok()
        });
        bench_ok(
            &mut g,
            "polysync",
            format!("acquire_blocking_{tokens}"),
            || l.acquire_blocking().is_ok(),
        );
        assert_eq!(l.available_tokens(), tokens);

        let s = tokio::sync::Semaphore::new(tokens);
        bench_ok(&mut g, "tokio", format!("try_acquire_{tokens}"), || {
            s.try_acquire().is_ok()
        });
        assert_eq!(s.available_permits(), tokens);

        let s = async_lock::Semaphore::new(tokens);
        bench_ok(
            &mut g,
            "async_lock",
            format!("try_acquire_{tokens}"),
            || s.try_acquire().is_some(),
        );
        bench_ok(
            &mut g,
            "async_lock",
            format!("acquire_blocking_{tokens}"),
            || {
                drop(s.acquire_blocking());
                true
            },
        );
        assert_eq!(s.available_permits(), tokens);
    }
    g.finish();
}

/// The critical section: with 1 token a non-atomic read-modify-write of a
/// shared counter (no update may be lost under mutual exclusion), with more
/// tokens an atomic increment.
#[inline]
fn count(counter: &AtomicU64, tokens: usize) {
    if tokens == 1 {
        let v = counter.load(Ordering::Relaxed);
        counter.store(v + 1, Ordering::Relaxed);
    } else {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn limiter_contended_one<S, F>(g: &mut Group<'_>, name: &str, tokens: usize, sem: S, op: F)
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
    g.bench_function(BenchmarkId::new(name, tokens), |b| {
        b.iter_custom(|iters| team.run(iters))
    });
    assert_eq!(
        shared.1.load(Ordering::Relaxed),
        team.issued(),
        "{name}/{tokens}: lost updates (mutual exclusion broken?)"
    );
}

fn limiter_contended(c: &mut Criterion) {
    let mut g = c.benchmark_group("limiter_contended");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(1));
    for tokens in [1, 4] {
        limiter_contended_one(
            &mut g,
            "polysync",
            tokens,
            polysync::CapacityLimiter::new(tokens),
            move |l, n| {
                let _t = l.acquire_blocking().expect("borrow");
                count(n, tokens);
            },
        );
        limiter_contended_one(
            &mut g,
            "polysync_bounded",
            tokens,
            polysync::CapacityLimiter::new_bounded(tokens),
            move |l, n| {
                let _t = l.acquire_blocking().expect("borrow");
                count(n, tokens);
            },
        );
        limiter_contended_one(
            &mut g,
            "async_lock",
            tokens,
            async_lock::Semaphore::new(tokens),
            move |s, n| {
                let _p = s.acquire_blocking();
                count(n, tokens);
            },
        );
        limiter_contended_one(
            &mut g,
            "tokio",
            tokens,
            tokio::sync::Semaphore::new(tokens),
            move |s, n| {
                let _p = futures_lite::future::block_on(s.acquire()).unwrap();
                count(n, tokens);
            },
        );
    }
    g.finish();
}

// ---------------------------------------------------------------- config

/// Single-thread groups. Command-line options override these.
fn light() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40)
}

/// Threaded groups: fewer, longer samples.
fn heavy() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! {
    name = single_thread;
    config = light();
    targets = rlock_reentrant, limiter_uncontended
}
criterion_group! {
    name = threaded;
    config = heavy();
    targets = rlock_contended, barrier_cycle, barrier_cycle_async, condition_handoff,
        limiter_contended
}
criterion_main!(single_thread, threaded);
