//! Counts, per message, how often the async side of a bounded(1024) channel
//! returns `Pending` and how often its task is woken, for polysync's `Queue`
//! and kanal in the workloads of `queue/spsc_tokio_async` and
//! `queue/mpmc_2x2_mixed` (issue 18 item 2, third pass; see BENCHMARKS.md),
//! and times one thread's uncontended async puts and gets. Not a criterion
//! group: `cargo bench -p polysync-benches --bench queue_wakes [-- MODE]`,
//! MODE one of `single`, `spsc`, `mpmc` (all three, three times, without
//! one) or `mp` (two producer threads and a consumer thread, blocking).
//! "run elsewhere" counts wake-ups after which the task was polled on
//! another thread than the waker's (tokio put it in a run queue that the
//! other worker stole from, not in the waker's LIFO slot).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

const CAP: usize = 1024;
const MSGS: u64 = 200_000;

#[derive(Default, Debug)]
struct Counts {
    polls: AtomicU64,
    pendings: AtomicU64,
    wakes: AtomicU64,
    /// Wakes that came while the task was being polled (tokio then
    /// reschedules it as a yield: the run queue, not the LIFO slot).
    wakes_in_poll: AtomicU64,
    in_poll: std::sync::atomic::AtomicBool,
    /// Polls on another thread than the one whose wake led to it.
    elsewhere: AtomicU64,
    waker_thread: std::sync::Mutex<Option<std::thread::ThreadId>>,
}

struct CountingWaker {
    inner: Waker,
    counts: Arc<Counts>,
}
impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.counts.wakes.fetch_add(1, Relaxed);
        *self.counts.waker_thread.lock().unwrap() = Some(std::thread::current().id());
        if self.counts.in_poll.load(Relaxed) {
            self.counts.wakes_in_poll.fetch_add(1, Relaxed);
        }
        self.inner.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.counts.wakes.fetch_add(1, Relaxed);
        *self.counts.waker_thread.lock().unwrap() = Some(std::thread::current().id());
        if self.counts.in_poll.load(Relaxed) {
            self.counts.wakes_in_poll.fetch_add(1, Relaxed);
        }
        self.inner.wake_by_ref();
    }
}

/// A task's future, polled with a counting waker around the task's own
/// (one per task while tokio's waker stays the same, so `will_wake` holds).
struct Counted<F> {
    fut: Pin<Box<F>>,
    counts: Arc<Counts>,
    waker: Option<Waker>,
    inner: Option<Waker>,
}
impl<F: Future> Future for Counted<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        this.counts.polls.fetch_add(1, Relaxed);
        if let Some(t) = this.counts.waker_thread.lock().unwrap().take() {
            if t != std::thread::current().id() {
                this.counts.elsewhere.fetch_add(1, Relaxed);
            }
        }
        if !this.inner.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            this.inner = Some(cx.waker().clone());
            this.waker = Some(Waker::from(Arc::new(CountingWaker {
                inner: cx.waker().clone(),
                counts: this.counts.clone(),
            })));
        }
        let mut cx2 = Context::from_waker(this.waker.as_ref().unwrap());
        this.counts.in_poll.store(true, Relaxed);
        let out = this.fut.as_mut().poll(&mut cx2);
        this.counts.in_poll.store(false, Relaxed);
        if out.is_pending() {
            this.counts.pendings.fetch_add(1, Relaxed);
        }
        out
    }
}
fn counted<F: Future>(fut: F, counts: &Arc<Counts>) -> Counted<F> {
    Counted {
        fut: Box::pin(fut),
        counts: counts.clone(),
        waker: None,
        inner: None,
    }
}

fn report(name: &str, side: &str, c: &Counts, msgs: u64) {
    let f = |a: &AtomicU64| a.load(Relaxed) as f64 / msgs as f64;
    println!(
        "{name:10} {side:9} polls/msg {:.4}  pending/msg {:.4}  wakes/msg {:.4} (in poll {:.4}, run elsewhere {:.4})",
        f(&c.polls),
        f(&c.pendings),
        f(&c.wakes),
        f(&c.wakes_in_poll),
        f(&c.elsewhere)
    );
}

trait Ch: 'static {
    const NAME: &'static str;
    type Tx: Clone + Send + Sync + 'static;
    type Rx: Clone + Send + Sync + 'static;
    fn new() -> (Self::Tx, Self::Rx);
    fn send(tx: &Self::Tx, v: u64) -> impl Future<Output = ()> + Send + '_;
    fn recv(rx: &Self::Rx) -> impl Future<Output = u64> + Send + '_;
    fn send_b(tx: &Self::Tx, v: u64);
    fn recv_b(rx: &Self::Rx) -> u64;
}
struct P;
impl Ch for P {
    const NAME: &'static str = "polysync";
    type Tx = Arc<polysync::Queue<u64>>;
    type Rx = Arc<polysync::Queue<u64>>;
    fn new() -> (Self::Tx, Self::Rx) {
        let q = Arc::new(polysync::Queue::bounded(CAP));
        (q.clone(), q)
    }
    async fn send(tx: &Self::Tx, v: u64) {
        tx.put(v).await.unwrap()
    }
    async fn recv(rx: &Self::Rx) -> u64 {
        rx.get().await.unwrap()
    }
    fn send_b(tx: &Self::Tx, v: u64) {
        tx.put_blocking(v).unwrap()
    }
    fn recv_b(rx: &Self::Rx) -> u64 {
        rx.get_blocking().unwrap()
    }
}
struct K;
impl Ch for K {
    const NAME: &'static str = "kanal";
    type Tx = kanal::AsyncSender<u64>;
    type Rx = kanal::AsyncReceiver<u64>;
    fn new() -> (Self::Tx, Self::Rx) {
        kanal::bounded_async(CAP)
    }
    async fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).await.unwrap()
    }
    async fn recv(rx: &Self::Rx) -> u64 {
        rx.recv().await.unwrap()
    }
    fn send_b(tx: &Self::Tx, v: u64) {
        tx.as_sync().send(v).unwrap()
    }
    fn recv_b(rx: &Self::Rx) -> u64 {
        rx.as_sync().recv().unwrap()
    }
}

fn spsc<C: Ch>(rt: &tokio::runtime::Runtime) {
    let (tx, rx) = C::new();
    let (pc, cc) = (Arc::new(Counts::default()), Arc::new(Counts::default()));
    let t = Instant::now();
    let consumer = rt.spawn(counted(
        async move {
            for i in 0..MSGS {
                assert_eq!(C::recv(&rx).await, i);
            }
        },
        &cc,
    ));
    let producer = rt.spawn(counted(
        async move {
            for i in 0..MSGS {
                C::send(&tx, i).await;
            }
        },
        &pc,
    ));
    rt.block_on(async {
        producer.await.unwrap();
        consumer.await.unwrap();
    });
    println!(
        "spsc {}: {:.1} ns/msg",
        C::NAME,
        t.elapsed().as_nanos() as f64 / MSGS as f64
    );
    report(C::NAME, "producer", &pc, MSGS);
    report(C::NAME, "consumer", &cc, MSGS);
}

fn mpmc<C: Ch>(rt: &tokio::runtime::Runtime) {
    let (tx, rx) = C::new();
    let n = MSGS / 2;
    let (pc, cc) = (Arc::new(Counts::default()), Arc::new(Counts::default()));
    let t = Instant::now();
    let threads = [
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for i in 0..n {
                    C::send_b(&tx, i)
                }
            })
        },
        {
            let rx = rx.clone();
            std::thread::spawn(move || {
                for _ in 0..n {
                    C::recv_b(&rx);
                }
            })
        },
    ];
    let consumer = rt.spawn(counted(
        async move {
            for _ in 0..n {
                C::recv(&rx).await;
            }
        },
        &cc,
    ));
    let producer = rt.spawn(counted(
        async move {
            for i in 0..n {
                C::send(&tx, i).await;
            }
        },
        &pc,
    ));
    rt.block_on(async {
        producer.await.unwrap();
        consumer.await.unwrap();
    });
    for t in threads {
        t.join().unwrap();
    }
    println!(
        "mpmc {}: {:.1} ns/msg",
        C::NAME,
        t.elapsed().as_nanos() as f64 / MSGS as f64
    );
    report(C::NAME, "producer", &pc, n);
    report(C::NAME, "consumer", &cc, n);
}

/// One thread, no contention: batches of 1024 async puts then 1024 async
/// gets, as the tokio rows run when both tasks share a worker.
fn single<C: Ch>() {
    let (tx, rx) = C::new();
    let (mut put, mut get) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    futures_lite::future::block_on(async {
        for _ in 0..MSGS / CAP as u64 {
            let t = Instant::now();
            for i in 0..CAP as u64 {
                C::send(&tx, i).await;
            }
            put += t.elapsed();
            let t = Instant::now();
            for i in 0..CAP as u64 {
                assert_eq!(C::recv(&rx).await, i);
            }
            get += t.elapsed();
        }
    });
    let n = (MSGS / CAP as u64 * CAP as u64) as f64;
    println!(
        "single {}: put {:.1} get {:.1} ns",
        C::NAME,
        put.as_nanos() as f64 / n,
        get.as_nanos() as f64 / n
    );
}

/// Two producer threads and one consumer thread, blocking forms (the
/// producers' shared counters bounce between their cores).
fn two_producers<C: Ch>() {
    let (tx, rx) = C::new();
    let n = MSGS * 5;
    let t = Instant::now();
    let producers: Vec<_> = (0..2)
        .map(|_| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for i in 0..n {
                    C::send_b(&tx, i);
                }
            })
        })
        .collect();
    for _ in 0..2 * n {
        C::recv_b(&rx);
    }
    for p in producers {
        p.join().unwrap();
    }
    println!(
        "two producers {}: {:.1} ns/msg",
        C::NAME,
        t.elapsed().as_nanos() as f64 / (2 * n) as f64
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let which = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("-"))
        .unwrap_or_default();
    for _ in 0..3 {
        if which == "mp" {
            two_producers::<P>();
            two_producers::<K>();
        }
        if which.is_empty() || which == "single" {
            single::<P>();
            single::<K>();
        }
        if which.is_empty() || which == "spsc" {
            spsc::<P>(&rt);
            spsc::<K>(&rt);
        }
        if which.is_empty() || which == "mpmc" {
            mpmc::<P>(&rt);
            mpmc::<K>(&rt);
        }
    }
}
