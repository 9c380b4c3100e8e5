//! Channel benchmarks: `polysync::channel::bounded` (cloneable
//! `Sender`/`Receiver` halves over one queue) beside flume, kanal,
//! crossbeam-channel, async-channel and tokio's mpsc, one criterion group
//! per scenario and one bench function per implementation, so the ratios
//! can be read from a single run (`python3 benches/report.py --group-prefix
//! channel/`).
//!
//! The harness is `benches/queue.rs`'s (persistent worker threads from
//! `benches/common`, `u64` sequence numbers checked on the receiving side),
//! applied to the channel halves; where the queue bench shares one
//! `Arc<Queue>`, this one sends through a `Sender` and receives through a
//! `Receiver`, so the numbers include whatever the halves cost.
//!
//! Function ids: `polysync`, `flume`, `crossbeam`, `async_channel`,
//! `kanal`, `tokio`.
//!
//! Groups:
//! 1. `channel/spsc_threads_blocking`: one producer thread, one consumer
//!    thread, blocking send/recv, bounded(1024); 10 000 messages per
//!    iteration; FIFO checked.
//! 2. `channel/mpsc_threads_blocking`: two producer threads, one consumer
//!    thread, blocking, bounded(1024); 10 000 messages per iteration (5 000
//!    per producer); the sum is checked.
//! 3. `channel/spsc_tokio_async`: a producer task and a consumer task on a
//!    2-worker multi-thread tokio runtime, bounded(1024); 10 000 messages
//!    per iteration; FIFO checked.
//! 4. `park_roundtrip/std_thread` (`common::park_roundtrip`): two threads
//!    passing a turn with `thread::park`/`unpark`; not a channel, the run's
//!    wake-up cost, quoted beside the contended rows.
//!
//! Run: `cargo bench --bench channel` (about 1.5 minutes); a quicker smoke
//! run: `cargo bench --bench channel -- --warm-up-time 0.5 --measurement-time 1`.

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

/// Capacity of every channel.
const CAP: usize = 1024;
/// Messages per iteration.
const MSGS: u64 = 10_000;

/// A bounded channel of `u64`, reduced to what the groups need.
trait Chan: 'static {
    const NAME: &'static str;
    type Tx: Clone + Send + Sync + 'static;
    type Rx: Send + 'static;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx);
}

/// The blocking side (plain OS threads, outside any runtime).
trait BlockingChan: Chan {
    fn send_blocking(tx: &Self::Tx, v: u64);
    fn recv_blocking(rx: &mut Self::Rx) -> u64;
}

/// The async side (inside tokio tasks).
trait AsyncChan: Chan {
    fn send_async(tx: &Self::Tx, v: u64) -> impl Future<Output = ()> + Send + '_;
    fn recv_async(rx: &mut Self::Rx) -> impl Future<Output = u64> + Send + '_;
}

// ---------------------------------------------------------------- implementations

struct Polysync;
impl Chan for Polysync {
    const NAME: &'static str = "polysync";
    type Tx = polysync::channel::Sender<u64>;
    type Rx = polysync::channel::Receiver<u64>;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        polysync::channel::bounded(cap)
    }
}
impl BlockingChan for Polysync {
    #[inline]
    fn send_blocking(tx: &Self::Tx, v: u64) {
        tx.send_blocking(v).expect("polysync send_blocking");
    }
    #[inline]
    fn recv_blocking(rx: &mut Self::Rx) -> u64 {
        rx.recv_blocking().expect("polysync recv_blocking")
    }
}
impl AsyncChan for Polysync {
    #[inline]
    async fn send_async(tx: &Self::Tx, v: u64) {
        tx.send(v).await.expect("polysync send");
    }
    #[inline]
    async fn recv_async(rx: &mut Self::Rx) -> u64 {
        rx.recv().await.expect("polysync recv")
    }
}

struct Flume;
impl Chan for Flume {
    const NAME: &'static str = "flume";
    type Tx = flume::Sender<u64>;
    type Rx = flume::Receiver<u64>;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        flume::bounded(cap)
    }
}
impl BlockingChan for Flume {
    #[inline]
    fn send_blocking(tx: &Self::Tx, v: u64) {
        tx.send(v).expect("flume send");
    }
    #[inline]
    fn recv_blocking(rx: &mut Self::Rx) -> u64 {
        rx.recv().expect("flume recv")
    }
}
impl AsyncChan for Flume {
    #[inline]
    async fn send_async(tx: &Self::Tx, v: u64) {
        tx.send_async(v).await.expect("flume send_async");
    }
    #[inline]
    async fn recv_async(rx: &mut Self::Rx) -> u64 {
        rx.recv_async().await.expect("flume recv_async")
    }
}

struct Crossbeam;
impl Chan for Crossbeam {
    const NAME: &'static str = "crossbeam";
    type Tx = crossbeam_channel::Sender<u64>;
    type Rx = crossbeam_channel::Receiver<u64>;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        crossbeam_channel::bounded(cap)
    }
}
impl BlockingChan for Crossbeam {
    #[inline]
    fn send_blocking(tx: &Self::Tx, v: u64) {
        tx.send(v).expect("crossbeam send");
    }
    #[inline]
    fn recv_blocking(rx: &mut Self::Rx) -> u64 {
        rx.recv().expect("crossbeam recv")
    }
}

struct AsyncChannel;
impl Chan for AsyncChannel {
    const NAME: &'static str = "async_channel";
    type Tx = async_channel::Sender<u64>;
    type Rx = async_channel::Receiver<u64>;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        async_channel::bounded(cap)
    }
}
impl BlockingChan for AsyncChannel {
    #[inline]
    fn send_blocking(tx: &Self::Tx, v: u64) {
        tx.send_blocking(v).expect("async-channel send_blocking");
    }
    #[inline]
    fn recv_blocking(rx: &mut Self::Rx) -> u64 {
        rx.recv_blocking().expect("async-channel recv_blocking")
    }
}
impl AsyncChan for AsyncChannel {
    #[inline]
    async fn send_async(tx: &Self::Tx, v: u64) {
        tx.send(v).await.expect("async-channel send");
    }
    #[inline]
    async fn recv_async(rx: &mut Self::Rx) -> u64 {
        rx.recv().await.expect("async-channel recv")
    }
}

/// kanal: sync handles on threads, `as_async()` views in tasks.
struct Kanal;
impl Chan for Kanal {
    const NAME: &'static str = "kanal";
    type Tx = kanal::Sender<u64>;
    type Rx = kanal::Receiver<u64>;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        kanal::bounded(cap)
    }
}
impl BlockingChan for Kanal {
    #[inline]
    fn send_blocking(tx: &Self::Tx, v: u64) {
        tx.send(v).expect("kanal send");
    }
    #[inline]
    fn recv_blocking(rx: &mut Self::Rx) -> u64 {
        rx.recv().expect("kanal recv")
    }
}
impl AsyncChan for Kanal {
    #[inline]
    async fn send_async(tx: &Self::Tx, v: u64) {
        tx.as_async().send(v).await.expect("kanal async send");
    }
    #[inline]
    async fn recv_async(rx: &mut Self::Rx) -> u64 {
        rx.as_async().recv().await.expect("kanal async recv")
    }
}

/// tokio's bounded mpsc; `blocking_send`/`blocking_recv` from plain threads.
struct Tokio;
impl Chan for Tokio {
    const NAME: &'static str = "tokio";
    type Tx = tokio::sync::mpsc::Sender<u64>;
    type Rx = tokio::sync::mpsc::Receiver<u64>;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        tokio::sync::mpsc::channel(cap)
    }
}
impl BlockingChan for Tokio {
    #[inline]
    fn send_blocking(tx: &Self::Tx, v: u64) {
        tx.blocking_send(v).expect("tokio blocking_send");
    }
    #[inline]
    fn recv_blocking(rx: &mut Self::Rx) -> u64 {
        rx.blocking_recv().expect("tokio blocking_recv")
    }
}
impl AsyncChan for Tokio {
    #[inline]
    async fn send_async(tx: &Self::Tx, v: u64) {
        tx.send(v).await.expect("tokio send");
    }
    #[inline]
    async fn recv_async(rx: &mut Self::Rx) -> u64 {
        rx.recv().await.expect("tokio recv")
    }
}

// ---------------------------------------------------------------- helpers

type Group<'a> = BenchmarkGroup<'a, WallTime>;

/// Awaits a bench task; a panicked task ends the process instead of leaving
/// the persistent threads blocked on a channel forever.
async fn join<T>(h: tokio::task::JoinHandle<T>) -> T {
    match h.await {
        Ok(v) => v,
        Err(e) => {
            eprintln!("channel bench: a task failed: {e}");
            std::process::exit(1);
        }
    }
}

fn produce_blocking<C: BlockingChan>(tx: &C::Tx, n: u64) {
    for i in 0..n {
        C::send_blocking(tx, i);
    }
}

/// Sum of `0..n`.
fn sum_below(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

// ---------------------------------------------------------------- group 1

/// Worker 0 sends, worker 1 receives (FIFO checked); a batch of `iters`
/// iterations moves `iters * 10 000` messages.
fn spsc_threads_one<C: BlockingChan>(g: &mut Group<'_>) {
    let (tx, rx) = C::bounded(CAP);
    let rx = Mutex::new(rx);
    let bad = Arc::new(AtomicU64::new(0));
    let mut team = {
        let bad = bad.clone();
        Team::new(2, move |idx, n| {
            if idx == 0 {
                produce_blocking::<C>(&tx, n);
            } else {
                let mut rx = rx.lock().unwrap();
                let mut b = 0;
                for i in 0..n {
                    b += u64::from(C::recv_blocking(&mut rx) != i);
                }
                bad.fetch_add(b, Ordering::Relaxed);
            }
        })
    };
    g.bench_function(C::NAME, |b| {
        b.iter_custom(|iters| team.run(2 * iters * MSGS))
    });
    drop(team);
    assert_eq!(bad.load(Ordering::Relaxed), 0, "{}: FIFO broken", C::NAME);
}

fn spsc_threads_blocking(c: &mut Criterion) {
    let mut g = c.benchmark_group("channel/spsc_threads_blocking");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(MSGS));
    spsc_threads_one::<Polysync>(&mut g);
    spsc_threads_one::<Flume>(&mut g);
    spsc_threads_one::<Crossbeam>(&mut g);
    spsc_threads_one::<AsyncChannel>(&mut g);
    spsc_threads_one::<Kanal>(&mut g);
    spsc_threads_one::<Tokio>(&mut g);
    g.finish();
}

// ---------------------------------------------------------------- group 2

/// Workers 0 and 1 each send `0..k`, worker 2 receives `2k` and sums them.
/// The team splits `3k` evenly, so each worker's share is `k`.
fn mpsc_threads_one<C: BlockingChan>(g: &mut Group<'_>) {
    let (tx, rx) = C::bounded(CAP);
    let rx = Mutex::new(rx);
    let received = Arc::new(AtomicU64::new(0));
    let mut team = {
        let received = received.clone();
        Team::new(3, move |idx, k| {
            if idx < 2 {
                produce_blocking::<C>(&tx, k);
            } else {
                let mut rx = rx.lock().unwrap();
                let mut sum = 0u64;
                for _ in 0..2 * k {
                    sum = sum.wrapping_add(C::recv_blocking(&mut rx));
                }
                received.fetch_add(sum, Ordering::Relaxed);
            }
        })
    };
    let mut expected = 0u64;
    g.bench_function(C::NAME, |b| {
        b.iter_custom(|iters| {
            let k = iters * MSGS / 2;
            expected = expected.wrapping_add(2 * sum_below(k));
            team.run(3 * k)
        })
    });
    drop(team);
    assert_eq!(
        received.load(Ordering::Relaxed),
        expected,
        "{}: lost or duplicated messages",
        C::NAME
    );
}

fn mpsc_threads_blocking(c: &mut Criterion) {
    let mut g = c.benchmark_group("channel/mpsc_threads_blocking");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(MSGS));
    mpsc_threads_one::<Polysync>(&mut g);
    mpsc_threads_one::<Flume>(&mut g);
    mpsc_threads_one::<Crossbeam>(&mut g);
    mpsc_threads_one::<AsyncChannel>(&mut g);
    mpsc_threads_one::<Kanal>(&mut g);
    mpsc_threads_one::<Tokio>(&mut g);
    g.finish();
}

// ---------------------------------------------------------------- group 3

async fn produce_async<C: AsyncChan>(tx: C::Tx, n: u64) {
    for i in 0..n {
        C::send_async(&tx, i).await;
    }
}

async fn consume_async_fifo<C: AsyncChan>(mut rx: C::Rx, n: u64) -> (C::Rx, u64) {
    let mut bad = 0;
    for i in 0..n {
        bad += u64::from(C::recv_async(&mut rx).await != i);
    }
    (rx, bad)
}

/// A producer task and a consumer task on the shared 2-worker runtime, one
/// channel kept across batches; both tasks are spawned per batch.
fn spsc_tokio_one<C: AsyncChan>(g: &mut Group<'_>, rt: &tokio::runtime::Runtime) {
    let (tx, rx) = C::bounded(CAP);
    let mut rx = Some(rx);
    let mut bad = 0;
    g.bench_function(C::NAME, |b| {
        b.iter_custom(|iters| {
            let n = iters * MSGS;
            let r = rx.take().expect("receiver is back");
            let t = Instant::now();
            let consumer = rt.spawn(consume_async_fifo::<C>(r, n));
            let producer = rt.spawn(produce_async::<C>(tx.clone(), n));
            let (r, b) = rt.block_on(async {
                join(producer).await;
                join(consumer).await
            });
            let elapsed = t.elapsed();
            rx = Some(r);
            bad += b;
            elapsed
        })
    });
    assert_eq!(bad, 0, "{}: FIFO broken", C::NAME);
}

fn spsc_tokio_async(c: &mut Criterion) {
    let rt = tokio_mt2();
    let mut g = c.benchmark_group("channel/spsc_tokio_async");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(MSGS));
    spsc_tokio_one::<Polysync>(&mut g, &rt);
    spsc_tokio_one::<Flume>(&mut g, &rt);
    spsc_tokio_one::<AsyncChannel>(&mut g, &rt);
    spsc_tokio_one::<Kanal>(&mut g, &rt);
    spsc_tokio_one::<Tokio>(&mut g, &rt);
    g.finish();
}

// ---------------------------------------------------------------- park/unpark

// ---------------------------------------------------------------- config

/// Few, long samples (flat sampling); command-line options override these.
fn heavy() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(15)
}

criterion_group! {
    name = threaded;
    config = heavy();
    targets = common::park_roundtrip, spsc_threads_blocking, mpsc_threads_blocking, spsc_tokio_async
}
criterion_main!(threaded);
