//! Shared harness for the threaded benchmark groups: a team of persistent OS
//! worker threads that run a fixed total number of operations per batch.
//!
//! The threads are spawned once per bench function (outside the measured
//! closure) and reused for every batch criterion asks for. One batch:
//! the bench thread publishes the total, all workers pass a start barrier,
//! each runs its share (`total / n`, the first `total % n` workers one more),
//! and all pass an end barrier. The measured time is from just before the
//! start barrier to just after the end barrier, so it includes one barrier
//! wake-up (a few microseconds) per batch: negligible against batches of
//! milliseconds, and the same for every implementation.

#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

struct Shared {
    start: Barrier,
    end: Barrier,
    total: AtomicU64,
    stop: AtomicBool,
}

/// Persistent worker threads; see the module docs.
pub struct Team {
    shared: Arc<Shared>,
    handles: Vec<JoinHandle<()>>,
    /// Operations issued so far (for a final sanity check by the caller).
    issued: u64,
}

/// The share of `total` operations that worker `idx` of `n` runs.
pub fn share(total: u64, n: usize, idx: usize) -> u64 {
    let n = n as u64;
    let idx = idx as u64;
    total / n + u64::from(idx < total % n)
}

impl Team {
    /// Spawns `n` workers; worker `idx` calls `work(idx, ops)` once per batch.
    pub fn new<F>(n: usize, work: F) -> Team
    where
        F: Fn(usize, u64) + Send + Sync + 'static,
    {
        let shared = Arc::new(Shared {
            start: Barrier::new(n + 1),
            end: Barrier::new(n + 1),
            total: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let work = Arc::new(work);
        let handles = (0..n)
            .map(|idx| {
                let shared = shared.clone();
                let work = work.clone();
                std::thread::Builder::new()
                    .name(format!("bench-worker-{idx}"))
                    .spawn(move || {
                        loop {
                            shared.start.wait();
                            if shared.stop.load(Ordering::Acquire) {
                                return;
                            }
                            let total = shared.total.load(Ordering::Relaxed);
                            work(idx, share(total, n, idx));
                            shared.end.wait();
                        }
                    })
                    .expect("spawn bench worker")
            })
            .collect();
        Team {
            shared,
            handles,
            issued: 0,
        }
    }

    /// Releases the workers on a batch of `total` operations (split among them).
    pub fn start(&mut self, total: u64) {
        self.shared.total.store(total, Ordering::Relaxed);
        self.issued += total;
        self.shared.start.wait();
    }

    /// Waits until every worker has finished the current batch.
    pub fn finish(&self) {
        self.shared.end.wait();
    }

    /// One whole batch, timed.
    pub fn run(&mut self, total: u64) -> Duration {
        let t = Instant::now();
        self.start(total);
        self.finish();
        t.elapsed()
    }

    /// Operations issued to this team so far.
    pub fn issued(&self) -> u64 {
        self.issued
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.start.wait();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// A 2-worker tokio multi-thread runtime (what the async groups run on).
pub fn tokio_mt2() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bench-tokio")
        .build()
        .expect("build tokio runtime")
}

/// The machine's wake-up cost, the reference for the contended rows: a
/// park/unpark round trip between two OS threads (std's `park`/`unpark`,
/// a flag against spurious wake-ups). One iteration = this thread unparks
/// the partner and parks until the partner unparks it back. A strict
/// hand-off pays about one such wake per contended acquisition; the VM
/// flips between states where this costs a few or tens of microseconds,
/// so each run reports it beside the lock rows.
pub fn park_roundtrip(c: &mut criterion::Criterion) {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let mut g = c.benchmark_group("park_roundtrip");
    g.sampling_mode(criterion::SamplingMode::Flat);
    g.throughput(criterion::Throughput::Elements(1));
    let ping = Arc::new(AtomicU64::new(0));
    let pong = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let main = std::thread::current();
    let partner = {
        let (ping, pong, stop) = (ping.clone(), pong.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut seen = 0;
            loop {
                while ping.load(Ordering::Acquire) == seen {
                    if stop.load(Ordering::Acquire) {
                        return;
                    }
                    std::thread::park();
                }
                seen = ping.load(Ordering::Acquire);
                pong.store(seen, Ordering::Release);
                main.unpark();
            }
        })
    };
    let mut n = 0;
    g.bench_function("std_thread", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                n += 1;
                ping.store(n, Ordering::Release);
                partner.thread().unpark();
                while pong.load(Ordering::Acquire) != n {
                    std::thread::park();
                }
            }
            t.elapsed()
        })
    });
    stop.store(true, Ordering::Release);
    partner.thread().unpark();
    partner.join().unwrap();
    g.finish();
}
