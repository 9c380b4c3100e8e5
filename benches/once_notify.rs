//! `OnceCell` and `Notify` (issue 20, items 3 and 4) beside tokio::sync, in
//! one run (`python3 benches/report.py --group-prefix once_cell` etc.).
//!
//! Groups:
//! 1. `once_cell_get/<impl>`: `get()` of an initialized cell, one thread,
//!    the value read through `black_box`. polysync `OnceCell` vs
//!    `tokio::sync::OnceCell` vs `std::sync::OnceLock` vs `load`: an
//!    `AtomicBool` Acquire load and the read of a value beside it, the floor
//!    ("get after init must cost one load").
//! 2. `notify_pingpong/<impl>`: two tokio tasks on a 2-worker multi-thread
//!    runtime pass the turn through two `Notify`s (`notify_one`, then
//!    `notified().await`); time per round trip (two notifications).
//!    polysync `Notify` vs `tokio::sync::Notify`.
//! 3. `park_roundtrip/std_thread` (`common::park_roundtrip`): the round trip of two OS threads through
//!    `thread::park`/`unpark` in the same run, the VM's wake-up cost that
//!    contended rows depend on (see BENCHMARKS.md).

mod common;

use common::tokio_mt2;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- group 1

fn once_cell_get(c: &mut Criterion) {
    let mut g = c.benchmark_group("once_cell_get");
    let poly = polysync::OnceCell::from(7u64);
    g.bench_function("polysync", |b| {
        b.iter(|| *black_box(&poly).get().expect("set"))
    });
    let tokio = tokio::sync::OnceCell::new_with(Some(7u64));
    g.bench_function("tokio", |b| {
        b.iter(|| *black_box(&tokio).get().expect("set"))
    });
    let std = std::sync::OnceLock::from(7u64);
    g.bench_function("std", |b| b.iter(|| *black_box(&std).get().expect("set")));
    struct Load {
        ready: AtomicBool,
        value: u64,
    }
    let load = Load {
        ready: AtomicBool::new(true),
        value: 7,
    };
    g.bench_function("load", |b| {
        b.iter(|| {
            let l = black_box(&load);
            assert!(l.ready.load(Ordering::Acquire), "set");
            l.value
        })
    });
    g.finish();
}

// ---------------------------------------------------------------- group 2

trait BenchNotify: Send + Sync + 'static {
    const NAME: &'static str;
    fn new() -> Self;
    fn notify_one(&self);
    fn notified(&self) -> impl Future<Output = ()> + Send + '_;
}

impl BenchNotify for polysync::Notify {
    const NAME: &'static str = "polysync";
    fn new() -> Self {
        polysync::Notify::new()
    }
    #[inline]
    fn notify_one(&self) {
        polysync::Notify::notify_one(self);
    }
    #[inline]
    fn notified(&self) -> impl Future<Output = ()> + Send + '_ {
        polysync::Notify::notified(self)
    }
}

impl BenchNotify for tokio::sync::Notify {
    const NAME: &'static str = "tokio";
    fn new() -> Self {
        tokio::sync::Notify::new()
    }
    #[inline]
    fn notify_one(&self) {
        tokio::sync::Notify::notify_one(self);
    }
    #[inline]
    fn notified(&self) -> impl Future<Output = ()> + Send + '_ {
        tokio::sync::Notify::notified(self)
    }
}

fn notify_pingpong_one<N: BenchNotify>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
) {
    let rt = tokio_mt2();
    let rounds = Arc::new(AtomicU64::new(0));
    g.bench_function(N::NAME, |b| {
        b.iter_custom(|iters| {
            let pair = Arc::new((N::new(), N::new()));
            let rounds = rounds.clone();
            rt.block_on(async move {
                let pong = {
                    let pair = pair.clone();
                    tokio::spawn(async move {
                        for _ in 0..iters {
                            pair.0.notified().await;
                            pair.1.notify_one();
                        }
                    })
                };
                let start = Instant::now();
                for _ in 0..iters {
                    pair.0.notify_one();
                    pair.1.notified().await;
                }
                let took = start.elapsed();
                pong.await.expect("pong task");
                rounds.fetch_add(iters, Ordering::Relaxed);
                took
            })
        })
    });
    assert!(rounds.load(Ordering::Relaxed) > 0);
}

fn notify_pingpong(c: &mut Criterion) {
    let mut g = c.benchmark_group("notify_pingpong");
    notify_pingpong_one::<polysync::Notify>(&mut g);
    notify_pingpong_one::<tokio::sync::Notify>(&mut g);
    g.finish();
}

// ---------------------------------------------------------------- group 3

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = once_cell_get, notify_pingpong, common::park_roundtrip
}
criterion_main!(benches);
