//! polysync inside may coroutines, beside may's own primitives, in one run
//! (2 may workers, not pinned). One iteration spawns the coroutines and
//! waits for them, so spawning is part of every row alike; `Throughput`
//! gives the time per operation.
//!
//! Groups and function ids:
//! 1. `may_lock_contended/<impl>`: 64 coroutines x 100 lock, increment,
//!    unlock: `polysync` (`polysync::Mutex<u64>`, `lock_blocking`) vs
//!    `may` (`may::sync::Mutex<u64>`).
//! 2. `may_channel_spsc/<impl>`: one producer coroutine sends 10,000 `u64`
//!    to one consumer coroutine: `polysync` (`polysync::Queue::unbounded`,
//!    `put_blocking` / `get_blocking`), `polysync_bounded64`
//!    (`Queue::bounded(64)`), `may` (`may::sync::mpsc::channel`).
//! 3. `may_channel_mpsc/<impl>`: 4 producer coroutines x 2,500 to one
//!    consumer coroutine, same implementations.
//! 4. `mixed_lock/polysync`: one `polysync::Mutex<u64>` shared by 16 may
//!    coroutines, 2 OS threads and 2 tokio tasks (2-worker runtime), 500
//!    operations each; no other primitive serves all three worlds.
//! 5. `may_lock_contended_timed/<impl>`: group 1's rounds on a
//!    `polysync::Mutex<u64>`, `lock_blocking` (`untimed`) vs
//!    `try_lock_for(60 s)` (`timed`: every contended wait arms and disarms
//!    the crate's timer and is woken long before it fires): what a timeout
//!    costs. may's mutex has no timed lock.
//!
//! Run: `cargo bench -p polysync-may --bench may`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn setup() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        may::config().set_workers(2).set_worker_pin(false);
        polysync_may::install().unwrap();
    });
}

fn go<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> may::coroutine::JoinHandle<T> {
    may::go!(f)
}

const LOCK_COROUTINES: u64 = 64;
const LOCK_OPS: u64 = 100;

fn lock_round<M: Send + Sync + 'static>(m: &Arc<M>, inc: fn(&M)) {
    let cos: Vec<_> = (0..LOCK_COROUTINES)
        .map(|_| {
            let m = m.clone();
            go(move || {
                for _ in 0..LOCK_OPS {
                    inc(&m);
                }
            })
        })
        .collect();
    for c in cos {
        c.join().unwrap();
    }
}

fn may_lock_contended(c: &mut Criterion) {
    setup();
    let mut g = c.benchmark_group("may_lock_contended");
    g.throughput(Throughput::Elements(LOCK_COROUTINES * LOCK_OPS));
    g.bench_function("polysync", |b| {
        let m = Arc::new(polysync::Mutex::new(0_u64));
        b.iter(|| lock_round(&m, |m| *m.lock_blocking() += 1));
    });
    g.bench_function("may", |b| {
        let m = Arc::new(may::sync::Mutex::new(0_u64));
        b.iter(|| lock_round(&m, |m| *m.lock().unwrap() += 1));
    });
    g.finish();
}

fn may_lock_contended_timed(c: &mut Criterion) {
    setup();
    let mut g = c.benchmark_group("may_lock_contended_timed");
    g.throughput(Throughput::Elements(LOCK_COROUTINES * LOCK_OPS));
    g.bench_function("untimed", |b| {
        let m = Arc::new(polysync::Mutex::new(0_u64));
        b.iter(|| lock_round(&m, |m| *m.lock_blocking() += 1));
    });
    g.bench_function("timed", |b| {
        let m = Arc::new(polysync::Mutex::new(0_u64));
        b.iter(|| {
            lock_round(&m, |m| {
                *m.try_lock_for(Duration::from_secs(60)).expect("in time") += 1;
            })
        });
    });
    g.finish();
}

/// A channel's two ends, reduced to what the groups measure.
trait Chan: Send + 'static {
    type Tx: Send + Clone + 'static;
    type Rx: Send + 'static;
    fn pair() -> (Self::Tx, Self::Rx);
    fn send(tx: &Self::Tx, v: u64);
    fn recv(rx: &Self::Rx) -> u64;
}

struct Poly<const CAP: usize>;
impl<const CAP: usize> Chan for Poly<CAP> {
    type Tx = Arc<polysync::Queue<u64>>;
    type Rx = Arc<polysync::Queue<u64>>;
    fn pair() -> (Self::Tx, Self::Rx) {
        let q = Arc::new(if CAP == 0 {
            polysync::Queue::unbounded()
        } else {
            polysync::Queue::bounded(CAP)
        });
        (q.clone(), q)
    }
    fn send(tx: &Self::Tx, v: u64) {
        tx.put_blocking(v).unwrap();
    }
    fn recv(rx: &Self::Rx) -> u64 {
        rx.get_blocking().unwrap()
    }
}

struct MayMpsc;
impl Chan for MayMpsc {
    type Tx = may::sync::mpsc::Sender<u64>;
    type Rx = may::sync::mpsc::Receiver<u64>;
    fn pair() -> (Self::Tx, Self::Rx) {
        may::sync::mpsc::channel()
    }
    fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).unwrap();
    }
    fn recv(rx: &Self::Rx) -> u64 {
        rx.recv().unwrap()
    }
}

const MESSAGES: u64 = 10_000;

fn channel_round<C: Chan>(producers: u64) {
    let (tx, rx) = C::pair();
    let per = MESSAGES / producers;
    let consumer = go(move || {
        let mut sum = 0;
        for _ in 0..per * producers {
            sum += C::recv(&rx);
        }
        sum
    });
    let ps: Vec<_> = (0..producers)
        .map(|_| {
            let tx = tx.clone();
            go(move || {
                for i in 0..per {
                    C::send(&tx, i);
                }
            })
        })
        .collect();
    drop(tx);
    for p in ps {
        p.join().unwrap();
    }
    assert_eq!(consumer.join().unwrap(), producers * per * (per - 1) / 2);
}

fn may_channels(c: &mut Criterion) {
    setup();
    for (group, producers) in [("may_channel_spsc", 1), ("may_channel_mpsc", 4)] {
        let mut g = c.benchmark_group(group);
        g.throughput(Throughput::Elements(MESSAGES));
        g.bench_function("polysync", |b| {
            b.iter(|| channel_round::<Poly<0>>(producers))
        });
        g.bench_function("polysync_bounded64", |b| {
            b.iter(|| channel_round::<Poly<64>>(producers))
        });
        g.bench_function("may", |b| b.iter(|| channel_round::<MayMpsc>(producers)));
        g.finish();
    }
}

const MIXED_OPS: u64 = 500;

fn mixed_lock(c: &mut Criterion) {
    setup();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let mut g = c.benchmark_group("mixed_lock");
    g.throughput(Throughput::Elements(MIXED_OPS * (16 + 2 + 2)));
    g.bench_function("polysync", |b| {
        let m = Arc::new(polysync::Mutex::new(0_u64));
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let cos: Vec<_> = (0..16)
                    .map(|_| {
                        let m = m.clone();
                        go(move || {
                            for _ in 0..MIXED_OPS {
                                *m.lock_blocking() += 1;
                            }
                        })
                    })
                    .collect();
                let threads: Vec<_> = (0..2)
                    .map(|_| {
                        let m = m.clone();
                        std::thread::spawn(move || {
                            for _ in 0..MIXED_OPS {
                                *m.lock_blocking() += 1;
                            }
                        })
                    })
                    .collect();
                let tasks: Vec<_> = (0..2)
                    .map(|_| {
                        let m = m.clone();
                        rt.spawn(async move {
                            for _ in 0..MIXED_OPS {
                                *m.lock().await += 1;
                            }
                        })
                    })
                    .collect();
                for c in cos {
                    c.join().unwrap();
                }
                for t in threads {
                    t.join().unwrap();
                }
                for t in tasks {
                    rt.block_on(t).unwrap();
                }
            }
            start.elapsed()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = may_lock_contended, may_channels, mixed_lock, may_lock_contended_timed
}
criterion_main!(benches);
