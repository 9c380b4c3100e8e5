//! What asking "which execution unit am I?" costs inside a tokio task with
//! the provider installed, beside the alternatives: a plain thread, an
//! `identified(..)` future, and tokio's own `try_id()`.
//!
//! Run: `cargo bench -p polysync-tokio --bench identity`

use criterion::{Criterion, criterion_group, criterion_main};
use polysync::lowlevel::{current_task, current_unit, identified};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Times `iters` calls of `f` inside one poll of a spawned tokio task.
fn in_task<R: 'static>(rt: &tokio::runtime::Runtime, iters: u64, f: fn() -> R) -> Duration {
    rt.block_on(async move {
        tokio::spawn(async move {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(f());
            }
            start.elapsed()
        })
        .await
        .unwrap()
    })
}

fn identity(c: &mut Criterion) {
    polysync_tokio::install().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("identity");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));

    g.bench_function("current_unit/thread", |b| {
        b.iter(|| black_box(current_unit()))
    });
    g.bench_function("current_unit/identified", |b| {
        b.iter_custom(|iters| {
            rt.block_on(identified(async move {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(current_unit());
                }
                start.elapsed()
            }))
        })
    });
    g.bench_function("current_unit/tokio_task", |b| {
        b.iter_custom(|iters| in_task(&rt, iters, current_unit))
    });
    g.bench_function("current_task/tokio_task", |b| {
        b.iter_custom(|iters| in_task(&rt, iters, current_task))
    });
    g.bench_function("tokio_try_id/tokio_task", |b| {
        b.iter_custom(|iters| in_task(&rt, iters, tokio::task::try_id))
    });
    g.bench_function("unit_of_uncached/tokio_task", |b| {
        b.iter_custom(|iters| {
            in_task(&rt, iters, || {
                polysync_tokio::unit_of(black_box(tokio::task::id()))
            })
        })
    });
    g.finish();
}

criterion_group!(benches, identity);
criterion_main!(benches);
