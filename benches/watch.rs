//! `watch` (issue 20): polysync's `watch` beside `tokio::sync::watch`, in
//! one run, from tokio tasks (`python3 benches/report.py` prints medians
//! and ratios).
//!
//! Group `watch_wake/<impl>/<receivers>`: on the shared 2-worker tokio
//! runtime, one sender task and 1 or 16 receiver tasks. A round: the
//! sender sends `i` on the value channel; every receiver wakes from
//! `changed().await`, reads `i` with `borrow_and_update`, and acknowledges
//! with `send_modify(|n| *n += 1)` on an ack channel of the same
//! implementation; the sender wakes from `changed().await` on the ack
//! channel until all acknowledged, then sends `i + 1`. So a round is one
//! send that wakes every receiver, plus the acknowledgements' sends and
//! wake-ups back: the same work for both implementations. Time per round.
//!
//! Group `park_roundtrip/std_thread` (`common::park_roundtrip`): the park/unpark round trip of two OS
//! threads in the same run (the VM's wake-up cost, which the contended
//! rows depend on; see BENCHMARKS.md).
//!
//! cargo bench -p polysync-benches --bench watch -- --warm-up-time 1 --measurement-time 3

mod common;

use common::tokio_mt2;
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// One implementation of a watch channel of `u64`.
trait BenchWatch: 'static {
    const NAME: &'static str;
    type Tx: Send + Sync + 'static;
    type Rx: Clone + Send + 'static;
    fn channel() -> (Self::Tx, Self::Rx);
    fn send(tx: &Self::Tx, v: u64);
    fn add_one(tx: &Self::Tx);
    fn changed(rx: &mut Self::Rx) -> impl Future<Output = bool> + Send + '_;
    fn seen(rx: &mut Self::Rx) -> u64;
}

struct Polysync;

impl BenchWatch for Polysync {
    const NAME: &'static str = "polysync";
    type Tx = polysync::watch::Sender<u64>;
    type Rx = polysync::watch::Receiver<u64>;
    fn channel() -> (Self::Tx, Self::Rx) {
        polysync::watch::channel(0)
    }
    fn send(tx: &Self::Tx, v: u64) {
        tx.send_replace(v);
    }
    fn add_one(tx: &Self::Tx) {
        tx.send_modify(|n| *n += 1);
    }
    async fn changed(rx: &mut Self::Rx) -> bool {
        rx.changed().await.is_ok()
    }
    fn seen(rx: &mut Self::Rx) -> u64 {
        *rx.borrow_and_update()
    }
}

struct Tokio;

impl BenchWatch for Tokio {
    const NAME: &'static str = "tokio";
    type Tx = tokio::sync::watch::Sender<u64>;
    type Rx = tokio::sync::watch::Receiver<u64>;
    fn channel() -> (Self::Tx, Self::Rx) {
        tokio::sync::watch::channel(0)
    }
    fn send(tx: &Self::Tx, v: u64) {
        tx.send_replace(v);
    }
    fn add_one(tx: &Self::Tx) {
        tx.send_modify(|n| *n += 1);
    }
    async fn changed(rx: &mut Self::Rx) -> bool {
        rx.changed().await.is_ok()
    }
    fn seen(rx: &mut Self::Rx) -> u64 {
        *rx.borrow_and_update()
    }
}

/// `rounds` rounds (see the module docs) with `receivers` receiver tasks;
/// returns the time from the spawns until every task is joined.
fn rounds<W: BenchWatch>(rt: &tokio::runtime::Runtime, receivers: u64, rounds: u64) -> Duration {
    let (value_tx, value_rx) = W::channel();
    let (ack_tx, mut ack_rx) = W::channel();
    let ack_tx = Arc::new(ack_tx);
    let t = Instant::now();
    let tasks: Vec<_> = (0..receivers)
        .map(|_| {
            let (mut rx, ack) = (value_rx.clone(), ack_tx.clone());
            rt.spawn(async move {
                for i in 1..=rounds {
                    while W::seen(&mut rx) < i {
                        assert!(W::changed(&mut rx).await, "value channel closed");
                    }
                    W::add_one(&ack);
                }
            })
        })
        .collect();
    drop(value_rx);
    let sender = rt.spawn(async move {
        for i in 1..=rounds {
            W::send(&value_tx, i);
            while W::seen(&mut ack_rx) < receivers * i {
                assert!(W::changed(&mut ack_rx).await, "ack channel closed");
            }
        }
    });
    rt.block_on(async {
        sender.await.expect("sender task panicked");
        for task in tasks {
            task.await.expect("receiver task panicked");
        }
    });
    t.elapsed()
}

fn wake_one<W: BenchWatch>(g: &mut Group<'_>, rt: &tokio::runtime::Runtime, receivers: u64) {
    g.bench_with_input(
        BenchmarkId::new(W::NAME, receivers),
        &receivers,
        |b, &receivers| b.iter_custom(|iters| rounds::<W>(rt, receivers, iters)),
    );
}

fn watch_wake(c: &mut Criterion) {
    let rt = tokio_mt2();
    let mut g = c.benchmark_group("watch_wake");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(1));
    for receivers in [1, 16] {
        wake_one::<Polysync>(&mut g, &rt, receivers);
        wake_one::<Tokio>(&mut g, &rt, receivers);
    }
    g.finish();
}

criterion_group!(benches, watch_wake, common::park_roundtrip);
criterion_main!(benches);
