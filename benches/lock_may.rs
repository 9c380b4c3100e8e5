//! Lock benchmarks inside may coroutines: polysync beside `may::sync::Mutex`,
//! the lock made for them, in one criterion run (`python3 benches/report.py`).
//!
//! A binary of its own: linking polysync-may registers the may backend for
//! the whole process, so every blocking call asks it first which world it
//! runs in; the threaded rows of `benches/lock.rs` must not pay for that.
//!
//! Group `lock_may_64`: 64 coroutines x 1000 lock / increment / unlock on
//! may's 2 workers; one iteration = 64 000 operations (report.py divides by
//! the `Elements` throughput). Function ids: `polysync` (`Mutex::new`,
//! bounded fairness), `polysync_fair` (`Mutex::new_fair`, the strict
//! hand-off), `may`
//! (`may::sync::Mutex`). Group `park_roundtrip`: the wake-up cost of the same
//! run (see `common::park_roundtrip`).

mod common;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use std::sync::Arc;
use std::time::{Duration, Instant};

const COROUTINES: u64 = 64;
const OPS: u64 = 1000;

/// Runs `COROUTINES` coroutines of `OPS` calls of `op` each and waits for
/// them all; returns the time from the first spawn to the last join.
fn round(op: Arc<dyn Fn() + Send + Sync>) -> Duration {
    let t = Instant::now();
    let handles: Vec<_> = (0..COROUTINES)
        .map(|_| {
            let op = op.clone();
            // `go!` hides may's `unsafe` spawn (see may's documentation):
            // the closure uses no thread-local storage.
            may::go!(move || {
                for _ in 0..OPS {
                    op();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("bench coroutine panicked");
    }
    t.elapsed()
}

fn one(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    op: Arc<dyn Fn() + Send + Sync>,
    value: impl Fn() -> u64,
) {
    let mut rounds = 0;
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            rounds += iters;
            (0..iters).map(|_| round(op.clone())).sum()
        })
    });
    assert_eq!(
        value(),
        rounds * COROUTINES * OPS,
        "{name}: lost increments"
    );
}

fn lock_may_64(c: &mut Criterion) {
    may::config().set_workers(2).set_worker_pin(false);
    let mut g = c.benchmark_group("lock_may_64");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(COROUTINES * OPS));
    for (name, m) in [
        ("polysync", Arc::new(polysync::Mutex::new(0u64))),
        ("polysync_fair", Arc::new(polysync::Mutex::new_fair(0u64))),
    ] {
        let op = {
            let m = m.clone();
            Arc::new(move || *m.lock_blocking() += 1)
        };
        one(&mut g, name, op, || *m.lock_blocking());
    }
    let m = Arc::new(may::sync::Mutex::new(0u64));
    let op = {
        let m = m.clone();
        Arc::new(move || *m.lock().expect("not poisoned") += 1)
    };
    one(&mut g, "may", op, || *m.lock().expect("not poisoned"));
    g.finish();
}

criterion_group! {
    name = may_group;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = lock_may_64, common::park_roundtrip
}
criterion_main!(may_group);
