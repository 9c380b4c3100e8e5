//! Benchmarks of the channel details of issue 20 (item 5) beside tokio's,
//! in one run (`python3 benches/report.py --group-prefix channel_details/`).
//! Function ids: `polysync`, `tokio`.
//!
//! Groups:
//! 1. `channel_details/oneshot_send_await`: make a oneshot channel, send,
//!    `.await` the receiver itself (ready at once), 1 000 times per
//!    iteration, in one task of a current-thread tokio runtime
//!    (`polysync_recv`: the same through `rx.recv().await`).
//! 2. `channel_details/oneshot_wake_tokio`: a task awaits the receiver
//!    (pending), another task of a 2-worker runtime sends: 1 000 hand-offs
//!    per iteration (each a real wake-up).
//! 3. `channel_details/recv_many_tokio`: a producer task sends 10 000
//!    `u64`s into a bounded(1024) channel, a consumer task takes them with
//!    `recv_many(&mut buffer, 64)` (FIFO checked), on a 2-worker runtime.
//!
//! Run: `cargo bench -p polysync-benches --bench channel_details -- --warm-up-time 1 --measurement-time 3`.

mod common;

use common::tokio_mt2;
use criterion::{Criterion, criterion_group, criterion_main};
use std::time::{Duration, Instant};

const ROUNDS: u64 = 1_000;
const MSGS: u64 = 10_000;

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("build tokio runtime")
}

fn oneshot_send_await(c: &mut Criterion) {
    let mut g = c.benchmark_group("channel_details/oneshot_send_await");
    let rt = current_thread();
    g.bench_function("polysync", |b| {
        b.iter(|| {
            rt.block_on(async {
                for i in 0..ROUNDS {
                    let (tx, rx) = polysync::channel::oneshot::channel();
                    tx.send(i).unwrap();
                    assert_eq!(rx.await, Ok(i));
                }
            })
        })
    });
    // The same with the receive future `recv()` instead of the receiver
    // itself: what the receiver-as-future costs or saves.
    g.bench_function("polysync_recv", |b| {
        b.iter(|| {
            rt.block_on(async {
                for i in 0..ROUNDS {
                    let (tx, rx) = polysync::channel::oneshot::channel();
                    tx.send(i).unwrap();
                    assert_eq!(rx.recv().await, Ok(i));
                }
            })
        })
    });
    g.bench_function("tokio", |b| {
        b.iter(|| {
            rt.block_on(async {
                for i in 0..ROUNDS {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    tx.send(i).unwrap();
                    assert_eq!(rx.await, Ok(i));
                }
            })
        })
    });
    g.finish();
}

/// `rounds` hand-offs: the waiting task makes each channel and passes its
/// sender to the other task over a tokio unbounded channel (the same relay
/// for both implementations), then awaits the receiver.
fn oneshot_wake_tokio(c: &mut Criterion) {
    let mut g = c.benchmark_group("channel_details/oneshot_wake_tokio");
    let rt = tokio_mt2();
    g.bench_function("polysync", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let (relay, mut senders) = tokio::sync::mpsc::unbounded_channel::<
                    polysync::channel::oneshot::Sender<u64>,
                >();
                let sender = tokio::spawn(async move {
                    let mut i = 0;
                    while let Some(tx) = senders.recv().await {
                        tx.send(i).unwrap();
                        i += 1;
                    }
                });
                let start = Instant::now();
                for i in 0..iters * ROUNDS {
                    let (tx, rx) = polysync::channel::oneshot::channel();
                    relay.send(tx).unwrap();
                    assert_eq!(rx.await, Ok(i));
                }
                let took = start.elapsed();
                drop(relay);
                sender.await.unwrap();
                took
            })
        })
    });
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let (relay, mut senders) =
                    tokio::sync::mpsc::unbounded_channel::<tokio::sync::oneshot::Sender<u64>>();
                let sender = tokio::spawn(async move {
                    let mut i = 0;
                    while let Some(tx) = senders.recv().await {
                        tx.send(i).unwrap();
                        i += 1;
                    }
                });
                let start = Instant::now();
                for i in 0..iters * ROUNDS {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    relay.send(tx).unwrap();
                    assert_eq!(rx.await, Ok(i));
                }
                let took = start.elapsed();
                drop(relay);
                sender.await.unwrap();
                took
            })
        })
    });
    g.finish();
}

fn recv_many_tokio(c: &mut Criterion) {
    let mut g = c.benchmark_group("channel_details/recv_many_tokio");
    let rt = tokio_mt2();
    g.bench_function("polysync", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let (tx, rx) = polysync::channel::bounded::<u64>(1024);
                let start = Instant::now();
                let producer = tokio::spawn(async move {
                    for i in 0..iters * MSGS {
                        tx.send(i).await.unwrap();
                    }
                });
                let consumer = tokio::spawn(async move {
                    let mut buffer = Vec::with_capacity(64);
                    let mut next = 0;
                    while rx.recv_many(&mut buffer, 64).await > 0 {
                        for v in buffer.drain(..) {
                            assert_eq!(v, next, "FIFO");
                            next += 1;
                        }
                    }
                    next
                });
                producer.await.unwrap();
                assert_eq!(consumer.await.unwrap(), iters * MSGS);
                start.elapsed()
            })
        })
    });
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(1024);
                let start = Instant::now();
                let producer = tokio::spawn(async move {
                    for i in 0..iters * MSGS {
                        tx.send(i).await.unwrap();
                    }
                });
                let consumer = tokio::spawn(async move {
                    let mut buffer = Vec::with_capacity(64);
                    let mut next = 0;
                    while rx.recv_many(&mut buffer, 64).await > 0 {
                        for v in buffer.drain(..) {
                            assert_eq!(v, next, "FIFO");
                            next += 1;
                        }
                    }
                    next
                });
                producer.await.unwrap();
                assert_eq!(consumer.await.unwrap(), iters * MSGS);
                start.elapsed()
            })
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = oneshot_send_await, oneshot_wake_tokio, recv_many_tokio
}
criterion_main!(benches);
