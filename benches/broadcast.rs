//! Broadcast benchmarks: `polysync::broadcast` beside
//! `tokio::sync::broadcast`, one criterion group per scenario and one bench
//! function per implementation, so the ratio reads from a single run
//! (`python3 benches/report.py --group-prefix broadcast/`).
//!
//! A broadcast sender never waits (in both), so a receiver that falls more
//! than the ring behind loses messages and is told how many
//! (`Lagged(n)`). Each receiver therefore counts a batch as done when it has
//! *accounted for* every message of it: received, or reported lost. The
//! losses are printed after each group (they show how often each
//! implementation let its receivers fall behind; a throughput bought with
//! lost messages is visible there).
//!
//! Function ids: `polysync`, `tokio`.
//!
//! Groups (ring of 1024, 10 000 messages per iteration, 8 receivers, each
//! message counted once, not once per receiver):
//! 1. `broadcast/1x8_tokio_async`: a sender task (it yields every 256
//!    sends, as a producer task that shares its worker does) and 8 receiver
//!    tasks on a 2-worker multi-thread tokio runtime;
//! 2. `broadcast/1x8_threads_blocking`: a sender thread (it yields the core
//!    every 256 sends) and 8 receiver threads with blocking receives
//!    (tokio's `blocking_recv`).
//!
//! Run: `cargo bench -p polysync-benches --bench broadcast -- --warm-up-time 1 --measurement-time 3`.

mod common;

use common::{Team, tokio_mt2};
use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
    measurement::WallTime,
};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The capacity of every channel.
const CAP: usize = 1024;
/// Messages per iteration.
const MSGS: u64 = 10_000;
/// Receivers.
const RECEIVERS: usize = 8;
/// The sender yields every this many sends.
const YIELD_EVERY: u64 = 256;

/// What a receive said, in one shape for both implementations.
enum Got {
    Value,
    Lost(u64),
}

/// A broadcast channel of `u64`, reduced to what the groups need.
trait Bcast: 'static {
    const NAME: &'static str;
    type Tx: Send + Sync + 'static;
    type Rx: Send + 'static;
    fn channel(cap: usize) -> (Self::Tx, Self::Rx);
    fn subscribe(tx: &Self::Tx) -> Self::Rx;
    fn send(tx: &Self::Tx, v: u64);
    fn recv_blocking(rx: &mut Self::Rx) -> Got;
    fn recv_async(rx: &mut Self::Rx) -> impl Future<Output = Got> + Send + '_;
}

struct Polysync;
impl Bcast for Polysync {
    const NAME: &'static str = "polysync";
    type Tx = polysync::broadcast::Sender<u64>;
    type Rx = polysync::broadcast::Receiver<u64>;
    fn channel(cap: usize) -> (Self::Tx, Self::Rx) {
        polysync::broadcast::channel(cap)
    }
    fn subscribe(tx: &Self::Tx) -> Self::Rx {
        tx.subscribe()
    }
    #[inline]
    fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).expect("polysync send");
    }
    #[inline]
    fn recv_blocking(rx: &mut Self::Rx) -> Got {
        use polysync::broadcast::RecvError;
        match rx.recv_blocking() {
            Ok(v) => {
                std::hint::black_box(v);
                Got::Value
            }
            Err(RecvError::Lagged(n)) => Got::Lost(n),
            Err(RecvError::Closed) => panic!("polysync: closed"),
        }
    }
    #[inline]
    async fn recv_async(rx: &mut Self::Rx) -> Got {
        use polysync::broadcast::RecvError;
        match rx.recv().await {
            Ok(v) => {
                std::hint::black_box(v);
                Got::Value
            }
            Err(RecvError::Lagged(n)) => Got::Lost(n),
            Err(RecvError::Closed) => panic!("polysync: closed"),
        }
    }
}

struct Tokio;
impl Bcast for Tokio {
    const NAME: &'static str = "tokio";
    type Tx = tokio::sync::broadcast::Sender<u64>;
    type Rx = tokio::sync::broadcast::Receiver<u64>;
    fn channel(cap: usize) -> (Self::Tx, Self::Rx) {
        tokio::sync::broadcast::channel(cap)
    }
    fn subscribe(tx: &Self::Tx) -> Self::Rx {
        tx.subscribe()
    }
    #[inline]
    fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).expect("tokio send");
    }
    #[inline]
    fn recv_blocking(rx: &mut Self::Rx) -> Got {
        use tokio::sync::broadcast::error::RecvError;
        match rx.blocking_recv() {
            Ok(v) => {
                std::hint::black_box(v);
                Got::Value
            }
            Err(RecvError::Lagged(n)) => Got::Lost(n),
            Err(RecvError::Closed) => panic!("tokio: closed"),
        }
    }
    #[inline]
    async fn recv_async(rx: &mut Self::Rx) -> Got {
        use tokio::sync::broadcast::error::RecvError;
        match rx.recv().await {
            Ok(v) => {
                std::hint::black_box(v);
                Got::Value
            }
            Err(RecvError::Lagged(n)) => Got::Lost(n),
            Err(RecvError::Closed) => panic!("tokio: closed"),
        }
    }
}

type Group<'a> = BenchmarkGroup<'a, WallTime>;

/// Receivers of one channel: the first plus `RECEIVERS - 1` subscribed.
fn receivers<B: Bcast>() -> (B::Tx, Vec<B::Rx>) {
    let (tx, rx) = B::channel(CAP);
    let mut all = vec![rx];
    all.extend((1..RECEIVERS).map(|_| B::subscribe(&tx)));
    (tx, all)
}

/// Receives until `n` messages are accounted for; returns how many were lost.
fn drain_blocking<B: Bcast>(rx: &mut B::Rx, n: u64) -> u64 {
    let (mut accounted, mut lost) = (0, 0);
    while accounted < n {
        match B::recv_blocking(rx) {
            Got::Value => accounted += 1,
            Got::Lost(k) => {
                accounted += k;
                lost += k;
            }
        }
    }
    assert_eq!(
        accounted,
        n,
        "{}: accounted for more than was sent",
        B::NAME
    );
    lost
}

async fn drain_async<B: Bcast>(mut rx: B::Rx, n: u64) -> (B::Rx, u64) {
    let (mut accounted, mut lost) = (0, 0);
    while accounted < n {
        match B::recv_async(&mut rx).await {
            Got::Value => accounted += 1,
            Got::Lost(k) => {
                accounted += k;
                lost += k;
            }
        }
    }
    assert_eq!(
        accounted,
        n,
        "{}: accounted for more than was sent",
        B::NAME
    );
    (rx, lost)
}

/// Awaits a bench task; a panicked task ends the process instead of
/// leaving the others waiting forever.
async fn join<T>(h: tokio::task::JoinHandle<T>) -> T {
    match h.await {
        Ok(v) => v,
        Err(e) => {
            eprintln!("broadcast bench: a task failed: {e}");
            std::process::exit(1);
        }
    }
}

// ---------------------------------------------------------------- group 1

fn tokio_one<B: Bcast>(g: &mut Group<'_>, rt: &tokio::runtime::Runtime) {
    let (tx, rxs) = receivers::<B>();
    let tx = Arc::new(tx);
    let mut rxs = Some(rxs);
    let (mut lost, mut sent) = (0, 0);
    g.bench_function(B::NAME, |b| {
        b.iter_custom(|iters| {
            let n = iters * MSGS;
            let all = rxs.take().expect("receivers are back");
            let t = Instant::now();
            let tasks: Vec<_> = all
                .into_iter()
                .map(|rx| rt.spawn(drain_async::<B>(rx, n)))
                .collect();
            let producer = {
                let tx = tx.clone();
                rt.spawn(async move {
                    for i in 0..n {
                        B::send(&tx, i);
                        if i % YIELD_EVERY == YIELD_EVERY - 1 {
                            tokio::task::yield_now().await;
                        }
                    }
                })
            };
            let back = rt.block_on(async {
                join(producer).await;
                let mut back = Vec::with_capacity(RECEIVERS);
                for task in tasks {
                    back.push(join(task).await);
                }
                back
            });
            let elapsed = t.elapsed();
            lost += back.iter().map(|(_, l)| l).sum::<u64>();
            sent += n;
            rxs = Some(back.into_iter().map(|(rx, _)| rx).collect());
            elapsed
        })
    });
    eprintln!(
        "broadcast/1x8_tokio_async {}: {lost} of {} receptions lost to lag",
        B::NAME,
        sent * RECEIVERS as u64
    );
}

fn tokio_async(c: &mut Criterion) {
    let rt = tokio_mt2();
    let mut g = c.benchmark_group("broadcast/1x8_tokio_async");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(MSGS));
    tokio_one::<Polysync>(&mut g, &rt);
    tokio_one::<Tokio>(&mut g, &rt);
    g.finish();
}

// ---------------------------------------------------------------- group 2

/// Worker 0 sends, workers 1..=8 receive; each worker's share of a batch is
/// the batch's message count.
fn threads_one<B: Bcast>(g: &mut Group<'_>) {
    let (tx, rxs) = receivers::<B>();
    let rxs: Vec<Mutex<B::Rx>> = rxs.into_iter().map(Mutex::new).collect();
    let lost = Arc::new(AtomicU64::new(0));
    let mut team = {
        let lost = lost.clone();
        Team::new(1 + RECEIVERS, move |idx, n| {
            if idx == 0 {
                for i in 0..n {
                    B::send(&tx, i);
                    if i % YIELD_EVERY == YIELD_EVERY - 1 {
                        std::thread::yield_now();
                    }
                }
            } else {
                let mut rx = rxs[idx - 1].lock().unwrap();
                lost.fetch_add(drain_blocking::<B>(&mut rx, n), Ordering::Relaxed);
            }
        })
    };
    g.bench_function(B::NAME, |b| {
        b.iter_custom(|iters| team.run((1 + RECEIVERS as u64) * iters * MSGS))
    });
    let sent = team.issued() / (1 + RECEIVERS as u64);
    drop(team);
    eprintln!(
        "broadcast/1x8_threads_blocking {}: {} of {} receptions lost to lag",
        B::NAME,
        lost.load(Ordering::Relaxed),
        sent * RECEIVERS as u64
    );
}

fn threads_blocking(c: &mut Criterion) {
    let mut g = c.benchmark_group("broadcast/1x8_threads_blocking");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(MSGS));
    threads_one::<Polysync>(&mut g);
    threads_one::<Tokio>(&mut g);
    g.finish();
}

/// Few, long samples (flat sampling); command-line options override these.
fn heavy() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(15)
}

criterion_group! {
    name = broadcast;
    config = heavy();
    targets = tokio_async, threads_blocking
}
criterion_main!(broadcast);
