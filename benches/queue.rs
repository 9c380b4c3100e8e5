//! Channel benchmarks: `polysync::Queue<u64>` beside flume, crossbeam-channel,
//! `std::sync::mpsc::sync_channel`, async-channel, kanal and tokio's mpsc, one
//! criterion group per scenario and one bench function per implementation,
//! so the ratios can be read from a single run (`python3 benches/report.py`).
//!
//! Every implementation runs through the same generic harness ([`Chan`],
//! [`BlockingChan`], [`AsyncChan`]); the messages are `u64` sequence numbers
//! that the receiving side checks (FIFO order for one producer, the sum for
//! two), and every batch moves an exact number of messages, so no side can
//! wait for a message that never comes.
//!
//! Function ids: `polysync` (`Arc<polysync::Queue<u64>>`, the lock-free
//! ring when bounded), `polysync_locked` (the same queue over a FIFO storage
//! of the bench's own, which keeps the locked path: the before/after of
//! issue 18 item 2 in one run), `flume`,
//! `crossbeam` (crossbeam-channel), `std_mpsc` (`std::sync::mpsc::sync_channel`),
//! `async_channel`, `kanal`, `tokio` (`tokio::sync::mpsc`).
//!
//! Groups (see BENCHMARKS.md, "Issue 4 queues", for the method of each):
//! 1. `queue/spsc_threads_blocking`: one producer thread, one consumer
//!    thread, blocking send/recv, bounded(1024); 10 000 messages per iteration.
//! 2. `queue/single_thread_send_try_recv`: one thread, blocking send then
//!    try_recv on bounded(1024); one pair per iteration.
//! 3. `queue/spsc_tokio_async`: producer task and consumer task on a 2-worker
//!    multi-thread tokio runtime, bounded(1024); 10 000 messages per iteration.
//! 4. `queue/thread_to_task`: blocking producer thread, async consumer task,
//!    bounded(1024); 10 000 messages per iteration.
//! 5. `queue/roundtrip_thread_task`: ping-pong between a blocking OS thread
//!    and an async tokio task over two bounded(1) channels; one round trip
//!    per iteration (plus two thread-to-thread reference rows).
//! 6. `queue/mpmc_2x2_mixed`: a blocking producer thread and a producer task,
//!    a blocking consumer thread and a consumer task, bounded(1024);
//!    10 000 messages per iteration.

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

/// Capacity of the throughput groups' channels.
const CAP: usize = 1024;
/// Messages per iteration in the throughput groups.
const MSGS: u64 = 10_000;

/// A bounded channel of `u64`, reduced to what the groups need. `Tx` is the
/// sending handle (cloned for a second producer), `Rx` the receiving one
/// (owned by exactly one consumer at a time, hence `&mut`).
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
    fn try_recv(rx: &mut Self::Rx) -> Option<u64>;
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
    type Tx = Arc<polysync::Queue<u64>>;
    type Rx = Arc<polysync::Queue<u64>>;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        let q = Arc::new(polysync::Queue::bounded(cap));
        (q.clone(), q)
    }
}
impl BlockingChan for Polysync {
    #[inline]
    fn send_blocking(tx: &Self::Tx, v: u64) {
        tx.put_blocking(v).expect("polysync put_blocking");
    }
    #[inline]
    fn recv_blocking(rx: &mut Self::Rx) -> u64 {
        rx.get_blocking().expect("polysync get_blocking")
    }
    #[inline]
    fn try_recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.try_get().ok()
    }
}
impl AsyncChan for Polysync {
    #[inline]
    async fn send_async(tx: &Self::Tx, v: u64) {
        tx.put(v).await.expect("polysync put");
    }
    #[inline]
    async fn recv_async(rx: &mut Self::Rx) -> u64 {
        rx.get().await.expect("polysync get")
    }
}

/// A plain FIFO storage that does not ask for the lock-free ring: the
/// locked queue as it was before issue 18 item 2, measured beside the ring
/// in the same run (`polysync_locked`).
#[derive(Default)]
struct LockedFifo(std::collections::VecDeque<u64>);
impl polysync::queue::Storage<u64> for LockedFifo {
    fn push(&mut self, item: u64) {
        self.0.push_back(item);
    }
    fn pop(&mut self) -> Option<u64> {
        self.0.pop_front()
    }
    fn peek(&self) -> Option<&u64> {
        self.0.front()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn restore(&mut self, item: u64) {
        self.0.push_front(item);
    }
}

/// polysync's locked path (see [`LockedFifo`]).
struct PolysyncLocked;
impl Chan for PolysyncLocked {
    const NAME: &'static str = "polysync_locked";
    type Tx = Arc<polysync::queue::GenericQueue<u64, LockedFifo>>;
    type Rx = Arc<polysync::queue::GenericQueue<u64, LockedFifo>>;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        let q = Arc::new(polysync::queue::GenericQueue::bounded(cap));
        (q.clone(), q)
    }
}
impl BlockingChan for PolysyncLocked {
    #[inline]
    fn send_blocking(tx: &Self::Tx, v: u64) {
        tx.put_blocking(v).expect("polysync put_blocking");
    }
    #[inline]
    fn recv_blocking(rx: &mut Self::Rx) -> u64 {
        rx.get_blocking().expect("polysync get_blocking")
    }
    #[inline]
    fn try_recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.try_get().ok()
    }
}
impl AsyncChan for PolysyncLocked {
    #[inline]
    async fn send_async(tx: &Self::Tx, v: u64) {
        tx.put(v).await.expect("polysync put");
    }
    #[inline]
    async fn recv_async(rx: &mut Self::Rx) -> u64 {
        rx.get().await.expect("polysync get")
    }
}

/// polysync with `spinning(false)`: blocking waits park at once (a bounded
/// queue spins on its ring by default since issue 18 item 2's second pass;
/// this row is the opt-out, and the default before it).
struct PolysyncNoSpin;
impl Chan for PolysyncNoSpin {
    const NAME: &'static str = "polysync_nospin";
    type Tx = Arc<polysync::Queue<u64>>;
    type Rx = Arc<polysync::Queue<u64>>;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        let q = Arc::new(polysync::Queue::bounded(cap).spinning(false));
        (q.clone(), q)
    }
}
impl BlockingChan for PolysyncNoSpin {
    #[inline]
    fn send_blocking(tx: &Self::Tx, v: u64) {
        Polysync::send_blocking(tx, v)
    }
    #[inline]
    fn recv_blocking(rx: &mut Self::Rx) -> u64 {
        Polysync::recv_blocking(rx)
    }
    #[inline]
    fn try_recv(rx: &mut Self::Rx) -> Option<u64> {
        Polysync::try_recv(rx)
    }
}
impl AsyncChan for PolysyncNoSpin {
    #[inline]
    fn send_async(tx: &Self::Tx, v: u64) -> impl Future<Output = ()> + Send + '_ {
        Polysync::send_async(tx, v)
    }
    #[inline]
    fn recv_async(rx: &mut Self::Rx) -> impl Future<Output = u64> + Send + '_ {
        Polysync::recv_async(rx)
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
    #[inline]
    fn try_recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.try_recv().ok()
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
    #[inline]
    fn try_recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.try_recv().ok()
    }
}

struct StdMpsc;
impl Chan for StdMpsc {
    const NAME: &'static str = "std_mpsc";
    type Tx = std::sync::mpsc::SyncSender<u64>;
    type Rx = std::sync::mpsc::Receiver<u64>;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        std::sync::mpsc::sync_channel(cap)
    }
}
impl BlockingChan for StdMpsc {
    #[inline]
    fn send_blocking(tx: &Self::Tx, v: u64) {
        tx.send(v).expect("std send");
    }
    #[inline]
    fn recv_blocking(rx: &mut Self::Rx) -> u64 {
        rx.recv().expect("std recv")
    }
    #[inline]
    fn try_recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.try_recv().ok()
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
    #[inline]
    fn try_recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.try_recv().ok()
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

/// kanal: one channel, used through its sync handles on threads and through
/// `as_async()` (the same channel seen as async) in tasks.
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
    #[inline]
    fn try_recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.try_recv().expect("kanal try_recv")
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

/// tokio's bounded mpsc. `blocking_send` / `blocking_recv` are only valid
/// outside a runtime; every blocking caller here is a plain thread.
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
    #[inline]
    fn try_recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.try_recv().ok()
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
            eprintln!("queue bench: a task failed: {e}");
            std::process::exit(1);
        }
    }
}

/// Blocking side: sends `0..n`.
fn produce_blocking<C: BlockingChan>(tx: &C::Tx, n: u64) {
    for i in 0..n {
        C::send_blocking(tx, i);
    }
}

/// Blocking side: receives `n` messages; returns how many were out of order
/// (the sender sent `0..n`).
fn consume_blocking_fifo<C: BlockingChan>(rx: &mut C::Rx, n: u64) -> u64 {
    let mut bad = 0;
    for i in 0..n {
        bad += u64::from(C::recv_blocking(rx) != i);
    }
    bad
}

/// Async side: sends `0..n`.
async fn produce_async<C: AsyncChan>(tx: C::Tx, n: u64) {
    for i in 0..n {
        C::send_async(&tx, i).await;
    }
}

/// Async side: receives `n` messages and gives the receiver back, with the
/// number of messages out of order.
async fn consume_async_fifo<C: AsyncChan>(mut rx: C::Rx, n: u64) -> (C::Rx, u64) {
    let mut bad = 0;
    for i in 0..n {
        bad += u64::from(C::recv_async(&mut rx).await != i);
    }
    (rx, bad)
}

// ---------------------------------------------------------------- group 1

/// Two persistent OS threads (worker 0 sends, worker 1 receives) over one
/// bounded(1024) channel; a batch of `iters` iterations moves
/// `iters * 10 000` messages (the team splits `2 * that` into two equal shares).
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
                let b = consume_blocking_fifo::<C>(&mut rx, n);
                bad.fetch_add(b, Ordering::Relaxed);
            }
        })
    };
    g.bench_function(C::NAME, |b| {
        b.iter_custom(|iters| team.run(2 * iters * MSGS))
    });
    drop(team);
    assert_eq!(
        bad.load(Ordering::Relaxed),
        0,
        "{}: FIFO order broken",
        C::NAME
    );
}

fn spsc_threads_blocking(c: &mut Criterion) {
    let mut g = c.benchmark_group("queue/spsc_threads_blocking");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(MSGS));
    spsc_threads_one::<Polysync>(&mut g);
    spsc_threads_one::<PolysyncLocked>(&mut g);
    spsc_threads_one::<PolysyncNoSpin>(&mut g);
    spsc_threads_one::<Flume>(&mut g);
    spsc_threads_one::<Crossbeam>(&mut g);
    spsc_threads_one::<StdMpsc>(&mut g);
    spsc_threads_one::<AsyncChannel>(&mut g);
    spsc_threads_one::<Kanal>(&mut g);
    spsc_threads_one::<Tokio>(&mut g);
    g.finish();
}

// ---------------------------------------------------------------- group 2

/// One thread: blocking send (never blocks: the channel is empty) then
/// `try_recv`, one pair per iteration.
fn send_try_recv_one<C: BlockingChan>(g: &mut Group<'_>) {
    let (tx, mut rx) = C::bounded(CAP);
    let mut bad = 0u64;
    g.bench_function(C::NAME, |b| {
        b.iter(|| {
            C::send_blocking(&tx, 7);
            bad += u64::from(C::try_recv(&mut rx) != Some(7));
        })
    });
    assert_eq!(bad, 0, "{}: try_recv missed a sent message", C::NAME);
}

fn single_thread_send_try_recv(c: &mut Criterion) {
    let mut g = c.benchmark_group("queue/single_thread_send_try_recv");
    g.throughput(Throughput::Elements(1));
    send_try_recv_one::<Polysync>(&mut g);
    send_try_recv_one::<PolysyncLocked>(&mut g);
    send_try_recv_one::<Flume>(&mut g);
    send_try_recv_one::<Crossbeam>(&mut g);
    send_try_recv_one::<StdMpsc>(&mut g);
    send_try_recv_one::<AsyncChannel>(&mut g);
    send_try_recv_one::<Kanal>(&mut g);
    send_try_recv_one::<Tokio>(&mut g);
    g.finish();
}

// ---------------------------------------------------------------- group 3

/// A producer task and a consumer task on the shared 2-worker runtime, one
/// bounded(1024) channel kept across batches; both tasks are spawned per batch
/// (a batch is at least 10 000 messages, so the two spawns are noise).
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
    assert_eq!(bad, 0, "{}: FIFO order broken", C::NAME);
}

fn spsc_tokio_async(c: &mut Criterion) {
    let rt = tokio_mt2();
    let mut g = c.benchmark_group("queue/spsc_tokio_async");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(MSGS));
    spsc_tokio_one::<Polysync>(&mut g, &rt);
    spsc_tokio_one::<PolysyncLocked>(&mut g, &rt);
    spsc_tokio_one::<Flume>(&mut g, &rt);
    spsc_tokio_one::<AsyncChannel>(&mut g, &rt);
    spsc_tokio_one::<Kanal>(&mut g, &rt);
    spsc_tokio_one::<Tokio>(&mut g, &rt);
    g.finish();
}

// ---------------------------------------------------------------- group 4

/// A persistent producer thread (blocking send) and a consumer task (async
/// recv, spawned per batch on the shared 2-worker runtime), bounded(1024).
fn thread_to_task_one<C: BlockingChan + AsyncChan>(
    g: &mut Group<'_>,
    rt: &tokio::runtime::Runtime,
) {
    let (tx, rx) = C::bounded(CAP);
    let mut rx = Some(rx);
    let mut bad = 0;
    let mut team = Team::new(1, move |_, n| produce_blocking::<C>(&tx, n));
    g.bench_function(C::NAME, |b| {
        b.iter_custom(|iters| {
            let n = iters * MSGS;
            let r = rx.take().expect("receiver is back");
            let t = Instant::now();
            let consumer = rt.spawn(consume_async_fifo::<C>(r, n));
            team.start(n);
            let (r, b) = rt.block_on(join(consumer));
            team.finish();
            let elapsed = t.elapsed();
            rx = Some(r);
            bad += b;
            elapsed
        })
    });
    assert_eq!(bad, 0, "{}: FIFO order broken", C::NAME);
}

fn thread_to_task(c: &mut Criterion) {
    let rt = tokio_mt2();
    let mut g = c.benchmark_group("queue/thread_to_task");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(MSGS));
    thread_to_task_one::<Polysync>(&mut g, &rt);
    thread_to_task_one::<Flume>(&mut g, &rt);
    thread_to_task_one::<AsyncChannel>(&mut g, &rt);
    thread_to_task_one::<Kanal>(&mut g, &rt);
    thread_to_task_one::<Tokio>(&mut g, &rt);
    g.finish();
}

// ---------------------------------------------------------------- group 5

/// Ping-pong between a persistent OS thread (blocking) and a task (async,
/// spawned per batch on the shared 2-worker runtime) over two bounded(1)
/// channels: the thread sends `i` on `ping` and waits for it on `pong`; the
/// task receives on `ping` and sends the value back on `pong`. One iteration
/// is one round trip.
fn roundtrip_thread_task_one<C: BlockingChan + AsyncChan>(
    g: &mut Group<'_>,
    rt: &tokio::runtime::Runtime,
) {
    let (ping_tx, ping_rx) = C::bounded(1);
    let (pong_tx, pong_rx) = C::bounded(1);
    let mut ping_rx = Some(ping_rx);
    let pong_rx = Mutex::new(pong_rx);
    let bad = Arc::new(AtomicU64::new(0));
    let mut team = {
        let bad = bad.clone();
        Team::new(1, move |_, n| {
            let mut pong_rx = pong_rx.lock().unwrap();
            let mut b = 0;
            for i in 0..n {
                C::send_blocking(&ping_tx, i);
                b += u64::from(C::recv_blocking(&mut pong_rx) != i);
            }
            bad.fetch_add(b, Ordering::Relaxed);
        })
    };
    g.bench_function(C::NAME, |b| {
        b.iter_custom(|iters| {
            let mut r = ping_rx.take().expect("receiver is back");
            let tx = pong_tx.clone();
            let t = Instant::now();
            let echo = rt.spawn(async move {
                for _ in 0..iters {
                    let v = C::recv_async(&mut r).await;
                    C::send_async(&tx, v).await;
                }
                r
            });
            team.start(iters);
            let r = rt.block_on(join(echo));
            team.finish();
            let elapsed = t.elapsed();
            ping_rx = Some(r);
            elapsed
        })
    });
    drop(team);
    assert_eq!(bad.load(Ordering::Relaxed), 0, "{}: wrong echo", C::NAME);
}

/// Reference rows: the same ping-pong between two persistent OS threads
/// (both blocking), function id `<impl>_threads`.
fn roundtrip_threads_one<C: BlockingChan>(g: &mut Group<'_>) {
    let (ping_tx, ping_rx) = C::bounded(1);
    let (pong_tx, pong_rx) = C::bounded(1);
    let ping_rx = Mutex::new(ping_rx);
    let pong_rx = Mutex::new(pong_rx);
    let bad = Arc::new(AtomicU64::new(0));
    let mut team = {
        let bad = bad.clone();
        Team::new(2, move |idx, n| {
            if idx == 0 {
                let mut pong_rx = pong_rx.lock().unwrap();
                let mut b = 0;
                for i in 0..n {
                    C::send_blocking(&ping_tx, i);
                    b += u64::from(C::recv_blocking(&mut pong_rx) != i);
                }
                bad.fetch_add(b, Ordering::Relaxed);
            } else {
                let mut ping_rx = ping_rx.lock().unwrap();
                for _ in 0..n {
                    let v = C::recv_blocking(&mut ping_rx);
                    C::send_blocking(&pong_tx, v);
                }
            }
        })
    };
    g.bench_function(format!("{}_threads", C::NAME), |b| {
        b.iter_custom(|iters| team.run(2 * iters))
    });
    drop(team);
    assert_eq!(bad.load(Ordering::Relaxed), 0, "{}: wrong echo", C::NAME);
}

fn roundtrip_thread_task(c: &mut Criterion) {
    let rt = tokio_mt2();
    let mut g = c.benchmark_group("queue/roundtrip_thread_task");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(1));
    roundtrip_thread_task_one::<Polysync>(&mut g, &rt);
    roundtrip_thread_task_one::<PolysyncNoSpin>(&mut g, &rt);
    roundtrip_thread_task_one::<Flume>(&mut g, &rt);
    roundtrip_thread_task_one::<AsyncChannel>(&mut g, &rt);
    roundtrip_thread_task_one::<Kanal>(&mut g, &rt);
    roundtrip_thread_task_one::<Tokio>(&mut g, &rt);
    roundtrip_threads_one::<Polysync>(&mut g);
    roundtrip_threads_one::<PolysyncNoSpin>(&mut g);
    roundtrip_threads_one::<Crossbeam>(&mut g);
    g.finish();
}

// ---------------------------------------------------------------- group 6

/// Sum of `0..n`.
fn sum_below(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Two producers (a persistent thread, blocking; a task, async) and two
/// consumers (a persistent thread, blocking; a task, async) on one
/// bounded(1024) channel. Each producer sends `0..n` and each consumer takes
/// exactly `n` messages (`n = iters * 10 000 / 2`), so the batch always ends:
/// whichever consumer finishes first, the other one still needs exactly what
/// is left. The sum of everything received is checked.
fn mpmc_one<C: BlockingChan + AsyncChan>(g: &mut Group<'_>, rt: &tokio::runtime::Runtime)
where
    C::Rx: Clone + Sync,
{
    let (tx, rx) = C::bounded(CAP);
    let received = Arc::new(AtomicU64::new(0));
    let mut expected = 0u64;
    let mut team = {
        let (tx, rx, received) = (tx.clone(), rx.clone(), received.clone());
        Team::new(2, move |idx, n| {
            if idx == 0 {
                produce_blocking::<C>(&tx, n);
            } else {
                let mut rx = rx.clone();
                let mut sum = 0u64;
                for _ in 0..n {
                    sum = sum.wrapping_add(C::recv_blocking(&mut rx));
                }
                received.fetch_add(sum, Ordering::Relaxed);
            }
        })
    };
    g.bench_function(C::NAME, |b| {
        b.iter_custom(|iters| {
            // Messages per producer (= per consumer); an iteration is
            // 10 000 messages in all.
            let n = iters * MSGS / 2;
            expected = expected.wrapping_add(2 * sum_below(n));
            let consumer = {
                let (mut rx, received) = (rx.clone(), received.clone());
                async move {
                    let mut sum = 0u64;
                    for _ in 0..n {
                        sum = sum.wrapping_add(C::recv_async(&mut rx).await);
                    }
                    received.fetch_add(sum, Ordering::Relaxed);
                }
            };
            let t = Instant::now();
            let consumer = rt.spawn(consumer);
            let producer = rt.spawn(produce_async::<C>(tx.clone(), n));
            team.start(2 * n);
            rt.block_on(async {
                join(producer).await;
                join(consumer).await;
            });
            team.finish();
            t.elapsed()
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

fn mpmc_2x2_mixed(c: &mut Criterion) {
    let rt = tokio_mt2();
    let mut g = c.benchmark_group("queue/mpmc_2x2_mixed");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(MSGS));
    mpmc_one::<Polysync>(&mut g, &rt);
    mpmc_one::<PolysyncLocked>(&mut g, &rt);
    mpmc_one::<PolysyncNoSpin>(&mut g, &rt);
    mpmc_one::<Flume>(&mut g, &rt);
    mpmc_one::<AsyncChannel>(&mut g, &rt);
    mpmc_one::<Kanal>(&mut g, &rt);
    g.finish();
}

// ---------------------------------------------------------------- config

/// Single-thread group. Command-line options (`--measurement-time`, ...)
/// override these.
fn light() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

/// Threaded groups: few, long samples (flat sampling).
fn heavy() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(15)
}

criterion_group! {
    name = single_thread;
    config = light();
    targets = single_thread_send_try_recv
}
criterion_group! {
    name = threaded;
    config = heavy();
    targets = spsc_threads_blocking, spsc_tokio_async, thread_to_task,
        roundtrip_thread_task, mpmc_2x2_mixed
}
criterion_main!(single_thread, threaded);
