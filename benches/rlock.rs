//! Benchmarks of `RLock` / `RMutex` for issue 18 (items 1 and 3): the
//! re-entry cost on one thread and 4 OS threads contending for one
//! `RMutex`, polysync in both modes (strict FIFO hand-off, `new_fair`; and
//! bounded fairness, `new_bounded`) beside parking_lot's `ReentrantMutex`,
//! with the machine's park/unpark round trip of the same run
//! (`common::park_roundtrip`). `python3 benches/report.py` prints medians
//! and ratios.
//!
//! Groups:
//! 1. `rlock_reentry`: one thread, acquire 2 nested levels, increment a
//!    counter, release both (the `rlock_reentrant` row of primitives.rs,
//!    with both modes; `polysync_local`: the same through the thread-bound
//!    levels, `acquire_local_blocking`).
//! 2. `rmutex_contended_threads/<impl>/4`: 4 OS threads (persistent,
//!    `common::Team`), each operation locks the mutex once (blocking),
//!    increments the `Cell` inside and unlocks; time per operation.
//! 3. `park_roundtrip`: the wake-up cost of this run.
//! 4. `rlock_reentry_parts`: the parts of group 1's operation (the identity
//!    lookup, 5 and 2 uncontended compare-exchanges) and models of the
//!    re-entry designs (`model_*`: group 1's operation on a minimal lock
//!    whose owner changes its level count with a plain store, a plain store
//!    and a fence, or `RLock`'s `BUSY` exchange), for item 3's analysis.

mod common;

use common::Team;
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use std::cell::{Cell, UnsafeCell};
use std::sync::Arc;
use std::time::{Duration, Instant};

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

// ---------------------------------------------------------------- group 1

/// A reentrant lock guarding a counter; one operation = take 2 nested
/// levels, increment, release both.
trait Reentry: 'static {
    const NAME: &'static str;
    fn new() -> Self;
    fn nested_inc(&self);
    fn value(&self) -> u64;
}

struct PolysyncRLock<const FAIR: bool> {
    lock: polysync::RLock,
    n: UnsafeCell<u64>,
}
impl<const FAIR: bool> Reentry for PolysyncRLock<FAIR> {
    const NAME: &'static str = if FAIR {
        "polysync_strict"
    } else {
        "polysync_bounded"
    };
    fn new() -> Self {
        PolysyncRLock {
            lock: if FAIR {
                polysync::RLock::new_fair()
            } else {
                polysync::RLock::new_bounded()
            },
            n: UnsafeCell::new(0),
        }
    }
    #[inline]
    fn nested_inc(&self) {
        let outer = self.lock.acquire_blocking();
        let inner = self.lock.acquire_blocking();
        // SAFETY: the lock is held (by this thread only: one-thread group).
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

/// The same operation through the thread-bound levels
/// (`RLock::acquire_local_blocking`, `!Send` guards), strict mode.
struct PolysyncLocal {
    lock: polysync::RLock,
    n: UnsafeCell<u64>,
}
impl Reentry for PolysyncLocal {
    const NAME: &'static str = "polysync_local";
    fn new() -> Self {
        PolysyncLocal {
            lock: polysync::RLock::new_fair(),
            n: UnsafeCell::new(0),
        }
    }
    #[inline]
    fn nested_inc(&self) {
        let outer = self.lock.acquire_local_blocking();
        let inner = self.lock.acquire_local_blocking();
        // SAFETY: the lock is held (by this thread only: one-thread group).
        unsafe { *self.n.get() += 1 };
        drop(inner);
        drop(outer);
    }
    fn value(&self) -> u64 {
        let _g = self.lock.acquire_local_blocking();
        // SAFETY: the lock is held.
        unsafe { *self.n.get() }
    }
}

struct ParkingLotRLock(parking_lot::ReentrantMutex<Cell<u64>>);
impl Reentry for ParkingLotRLock {
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

fn reentry_one<R: Reentry>(g: &mut Group<'_>) {
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

fn rlock_reentry(c: &mut Criterion) {
    let mut g = c.benchmark_group("rlock_reentry");
    reentry_one::<PolysyncRLock<true>>(&mut g);
    reentry_one::<PolysyncRLock<false>>(&mut g);
    reentry_one::<PolysyncLocal>(&mut g);
    reentry_one::<ParkingLotRLock>(&mut g);
    g.finish();
}

/// Where the re-entry row's time goes (issue 18 item 3), in parts measured
/// the same way: the identity lookup that every acquisition makes
/// (`current_unit`), and uncontended compare-exchanges on a private atomic,
/// as many as one `rlock_reentry` operation makes (5: the first level's
/// queue word, one per level change of the owner word, the last release's
/// queue word) and as parking_lot's makes (2: its raw lock and unlock).
fn rlock_reentry_parts(c: &mut Criterion) {
    use std::hint::black_box;
    use std::sync::atomic::{AtomicU64, Ordering};
    let mut g = c.benchmark_group("rlock_reentry_parts");
    g.bench_function("current_unit", |b| {
        b.iter(|| black_box(polysync::lowlevel::current_unit()))
    });
    // The two halves of the operation: the outer level alone (a free lock
    // taken and released), and one re-entered level alone (the outer level
    // held around the loop).
    let rlock = polysync::RLock::new_fair();
    g.bench_function("polysync_outer_level", |b| {
        b.iter(|| drop(black_box(rlock.acquire_blocking())))
    });
    let outer = rlock.acquire_blocking();
    g.bench_function("polysync_inner_level", |b| {
        b.iter(|| drop(black_box(rlock.acquire_blocking())))
    });
    drop(outer);
    let pl = parking_lot::ReentrantMutex::new(());
    g.bench_function("parking_lot_outer_level", |b| {
        b.iter(|| drop(black_box(pl.lock())))
    });
    let outer = pl.lock();
    g.bench_function("parking_lot_inner_level", |b| {
        b.iter(|| drop(black_box(pl.lock())))
    });
    drop(outer);
    // Models of the re-entry designs (issue 18 item 3), each running the
    // whole `rlock_reentry` operation (2 nested levels, an identity lookup
    // per level) on a minimal reentrant lock: a lock word taken and freed
    // by compare-exchange (parking_lot's 2 read-modify-writes), an owner
    // word and a level count; they differ only in how the owner changes a
    // level (see `Levels`). Only `Busy` is sound with a `Send` guard and no
    // other help (see BENCHMARKS.md); the others measure what the goal
    // would take.
    let model = ModelRLock::new();
    let unit = || polysync::lowlevel::current_unit().get();
    let thread = || polysync::lowlevel::UnitId::current_thread().get();
    g.bench_function("model_plain_count", |b| {
        b.iter(|| model.nested(unit, Levels::Plain))
    });
    g.bench_function("model_plain_count_thread_id", |b| {
        b.iter(|| model.nested(thread, Levels::Plain))
    });
    g.bench_function("model_plain_count_fenced", |b| {
        b.iter(|| model.nested(unit, Levels::Fenced))
    });
    g.bench_function("model_busy_exchange", |b| {
        b.iter(|| model.nested(unit, Levels::Busy))
    });
    for n in [2u64, 5] {
        let word = AtomicU64::new(0);
        g.bench_function(format!("cas_x{n}"), |b| {
            b.iter(|| {
                for _ in 0..n {
                    let v = word.load(Ordering::Relaxed);
                    let _ = black_box(word.compare_exchange(
                        v,
                        v ^ 1,
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    ));
                }
            })
        });
    }
    g.finish();
}

/// How the models of the parts group change the owner's level count.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Levels {
    /// A plain load and store (parking_lot's `Cell`): sound only if no
    /// other unit can release a level meanwhile (a `!Send` guard), or if
    /// such a release pays a process-wide barrier (membarrier).
    Plain,
    /// A plain load and store followed by a full fence: the store-load
    /// ordering a plain count needs to meet a concurrent release by a
    /// moved guard that fences on its side.
    Fenced,
    /// The owner word's `BUSY` compare-exchange around the change, then a
    /// store that clears it: `RLock`'s protocol.
    Busy,
}

/// The minimal reentrant lock of the parts group's models (one thread
/// only: `count` is a `Cell`).
struct ModelRLock {
    word: std::sync::atomic::AtomicU64,
    owner: std::sync::atomic::AtomicU64,
    count: Cell<u64>,
}

impl ModelRLock {
    const BUSY: u64 = 1 << 63;

    fn new() -> Self {
        ModelRLock {
            word: std::sync::atomic::AtomicU64::new(0),
            owner: std::sync::atomic::AtomicU64::new(0),
            count: Cell::new(0),
        }
    }

    /// Changes the owner `me`'s count to `count(old)` the `levels` way;
    /// returns the new count.
    #[inline]
    fn change(&self, me: u64, levels: Levels, count: impl Fn(u64) -> u64) -> u64 {
        use std::sync::atomic::{Ordering, fence};
        if levels == Levels::Busy {
            let _ = self.owner.compare_exchange(
                me,
                me | Self::BUSY,
                Ordering::Acquire,
                Ordering::Relaxed,
            );
        }
        let c = count(self.count.get());
        self.count.set(c);
        match levels {
            Levels::Plain => {}
            Levels::Fenced => fence(Ordering::SeqCst),
            Levels::Busy => self
                .owner
                .store(if c == 0 { 0 } else { me }, Ordering::Release),
        }
        c
    }

    #[inline]
    fn lock(&self, me: u64, levels: Levels) {
        use std::sync::atomic::Ordering;
        if self.owner.load(Ordering::Relaxed) == me {
            self.change(me, levels, |c| c + 1);
            return;
        }
        while self
            .word
            .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
        self.count.set(1);
        self.owner.store(me, Ordering::Release);
    }

    #[inline]
    fn unlock(&self, levels: Levels) {
        use std::sync::atomic::Ordering;
        let me = self.owner.load(Ordering::Relaxed);
        if self.change(me, levels, |c| c - 1) == 0 {
            self.owner.store(0, Ordering::Relaxed);
            let _ = self
                .word
                .compare_exchange(1, 0, Ordering::Release, Ordering::Relaxed);
        }
    }

    /// The `rlock_reentry` operation: 2 nested levels, the identity looked
    /// up at each acquisition (as a real one does).
    #[inline]
    fn nested(&self, me: impl Fn() -> u64, levels: Levels) {
        self.lock(me(), levels);
        self.lock(me(), levels);
        self.unlock(levels);
        self.unlock(levels);
    }
}

// ---------------------------------------------------------------- group 2

/// A reentrant mutex of a `Cell` shared by threads; one operation = lock,
/// increment, unlock.
trait Contended: Send + Sync + 'static {
    const NAME: &'static str;
    fn new() -> Self;
    fn lock_inc(&self);
    fn value(&self) -> u64;
}

struct PolysyncRMutex<const FAIR: bool>(polysync::RMutex<Cell<u64>>);
impl<const FAIR: bool> Contended for PolysyncRMutex<FAIR> {
    const NAME: &'static str = if FAIR {
        "polysync_strict"
    } else {
        "polysync_bounded"
    };
    fn new() -> Self {
        PolysyncRMutex(if FAIR {
            polysync::RMutex::new_fair(Cell::new(0))
        } else {
            polysync::RMutex::new_bounded(Cell::new(0))
        })
    }
    #[inline]
    fn lock_inc(&self) {
        let g = self.0.lock_blocking();
        g.set(g.get() + 1);
    }
    fn value(&self) -> u64 {
        self.0.lock_blocking().get()
    }
}

struct ParkingLotRMutex(parking_lot::ReentrantMutex<Cell<u64>>);
impl Contended for ParkingLotRMutex {
    const NAME: &'static str = "parking_lot";
    fn new() -> Self {
        ParkingLotRMutex(parking_lot::ReentrantMutex::new(Cell::new(0)))
    }
    #[inline]
    fn lock_inc(&self) {
        let g = self.0.lock();
        g.set(g.get() + 1);
    }
    fn value(&self) -> u64 {
        self.0.lock().get()
    }
}

fn contended_one<M: Contended>(g: &mut Group<'_>, threads: usize) {
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

fn rmutex_contended_threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("rmutex_contended_threads");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(1));
    contended_one::<PolysyncRMutex<true>>(&mut g, 4);
    contended_one::<PolysyncRMutex<false>>(&mut g, 4);
    contended_one::<ParkingLotRMutex>(&mut g, 4);
    g.finish();
}

// ---------------------------------------------------------------- group 3

/// The machine's wake-up cost of this run (see [`common::park_roundtrip`]).
fn park_roundtrip(c: &mut Criterion) {
    common::park_roundtrip(c);
}

// ---------------------------------------------------------------- config

/// Single-thread groups: cheap, many samples. Command-line options
/// (`--warm-up-time`, `--measurement-time`, ...) override these.
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
    targets = rlock_reentry, rlock_reentry_parts
}
criterion_group! {
    name = threaded;
    config = heavy();
    targets = rmutex_contended_threads, park_roundtrip
}
criterion_main!(single_thread, threaded);
