//! The thread bridge's cancellation storm (issue 19): callers on threads and
//! tokio tasks offload jobs and give up at random (timed waits that time
//! out, futures dropped under a timeout or after one poll) while jobs queue
//! for tokens and run. Checked afterwards:
//!
//! - no job ran twice (counted inside the jobs), and every job whose caller
//!   got a result ran exactly once and returned its own value;
//! - a job withdrawn while it waited for its token never runs: jobs sent to
//!   a limiter with no tokens all time out or are dropped, and none of them
//!   runs even after the limiter gets tokens;
//! - no token is lost (both limiters end with nothing borrowed and nobody
//!   waiting), and the pool's threads, then the process's thread count,
//!   return to where they were before the storm (a short idle timeout; the
//!   counts are polled with a generous bound, nothing is timed).
//!
//! This file must hold only this one test: it counts the process's threads
//! (the `Threads:` line of /proc/self/status, as tests/no_thread_leak.rs).

#[path = "support/worlds.rs"]
mod worlds;

use polysync::CapacityLimiter;
use polysync::bridge::{Offload, RunError, ThreadPool};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use worlds::{Watchdog, multi_thread_rt, wait_until};

const CALLERS: usize = 6; // of each kind
const ROUNDS: usize = 150;
const JOBS: usize = 2 * CALLERS * ROUNDS;

fn thread_count() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .expect("a Threads: line")
        .trim()
        .parse()
        .expect("a thread count")
}

/// xorshift64*: enough randomness for a storm, no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) % n
    }
}

struct Shared {
    runs: Vec<AtomicUsize>,
    ran_twice: AtomicBool,
    /// Jobs sent to the limiter without tokens: they must never run.
    withdrawn: Mutex<Vec<usize>>,
    completed: AtomicUsize,
    running: Offload,
    starved: Offload,
}

impl Shared {
    fn job(self: &Arc<Self>, id: usize, spin: u64) -> impl FnOnce() -> usize + Send + 'static {
        let me = self.clone();
        move || {
            if me.runs[id].fetch_add(1, SeqCst) != 0 {
                me.ran_twice.store(true, SeqCst);
            }
            for i in 0..spin {
                if i % 64 == 0 {
                    std::thread::yield_now();
                }
                std::hint::black_box(i);
            }
            id
        }
    }

    fn got(&self, id: usize, out: usize) {
        assert_eq!(out, id, "job {id} returned another job's value");
        self.completed.fetch_add(1, SeqCst);
    }
}

fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

#[test]
fn cancellation_storm_runs_no_job_twice_runs_no_withdrawn_job_and_leaks_no_thread() {
    let _w = Watchdog::new("bridge cancellation storm", Duration::from_secs(120));
    let rt = multi_thread_rt();
    let pool = ThreadPool::builder()
        .max_threads(16)
        .idle_timeout(Duration::from_millis(20))
        .name("storm")
        .build();
    // Everything that owns threads exists now: the baseline.
    let baseline = thread_count();
    let shared = Arc::new(Shared {
        runs: (0..JOBS).map(|_| AtomicUsize::new(0)).collect(),
        ran_twice: AtomicBool::new(false),
        withdrawn: Mutex::new(Vec::new()),
        completed: AtomicUsize::new(0),
        running: Offload::new(Arc::new(CapacityLimiter::new(3))).with_pool(pool.clone()),
        starved: Offload::new(Arc::new(CapacityLimiter::new(0))).with_pool(pool.clone()),
    });

    let threads: Vec<_> = (0..CALLERS)
        .map(|c| {
            let shared = shared.clone();
            std::thread::spawn(move || {
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (c as u64 + 1));
                for r in 0..ROUNDS {
                    let id = c * ROUNDS + r;
                    let spin = rng.below(4000);
                    match rng.below(4) {
                        0 => {
                            let out = shared.running.run_blocking(shared.job(id, spin));
                            shared.got(id, out.unwrap());
                        }
                        1 | 2 => {
                            let t = us(rng.below(3000));
                            match shared.running.try_run_for(shared.job(id, spin), t) {
                                Ok(out) => shared.got(id, out),
                                Err(RunError::TimedOut) => {}
                                Err(e) => panic!("job {id}: {e}"),
                            }
                        }
                        _ => {
                            shared.withdrawn.lock().unwrap().push(id);
                            let t = us(rng.below(300));
                            let r = shared.starved.try_run_for(shared.job(id, spin), t);
                            assert!(
                                matches!(r, Err(RunError::TimedOut)),
                                "job {id} without a token"
                            );
                        }
                    }
                }
            })
        })
        .collect();
    let tasks: Vec<_> = (0..CALLERS)
        .map(|c| {
            let shared = shared.clone();
            rt.spawn(async move {
                let mut rng = Rng(0x5851_f42d_4c95_7f2d ^ (c as u64 + 1));
                for r in 0..ROUNDS {
                    let id = (CALLERS + c) * ROUNDS + r;
                    let spin = rng.below(4000);
                    match rng.below(5) {
                        0 => {
                            shared.got(id, shared.running.run(shared.job(id, spin)).await.unwrap())
                        }
                        1 | 2 => {
                            let t = us(rng.below(3000));
                            let fut = shared.running.run(shared.job(id, spin));
                            if let Ok(out) = tokio::time::timeout(t, fut).await {
                                shared.got(id, out.unwrap());
                            }
                        }
                        3 => {
                            // Dropped after one poll, wherever it stood.
                            let mut fut = Box::pin(shared.running.run(shared.job(id, spin)));
                            if let Some(out) = futures_lite::future::poll_once(&mut fut).await {
                                shared.got(id, out.unwrap());
                            }
                        }
                        _ => {
                            shared.withdrawn.lock().unwrap().push(id);
                            let mut fut = Box::pin(shared.starved.run(shared.job(id, spin)));
                            let polled = futures_lite::future::poll_once(&mut fut).await;
                            assert!(polled.is_none(), "job {id} without a token");
                            if rng.below(2) == 0 {
                                tokio::task::yield_now().await;
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    rt.block_on(async {
        for t in tasks {
            t.await.unwrap();
        }
    });

    // Tokens now: the withdrawn jobs must still never run.
    let starved = shared.starved.limiter().clone();
    assert_eq!(
        starved.waiting(),
        0,
        "a withdrawn job is still queued for a token"
    );
    starved.set_total_tokens(100);
    shared.starved.run_blocking(|| ()).unwrap();
    let running = shared.running.limiter().clone();
    wait_until("the abandoned jobs end and give their tokens back", || {
        running.borrowed_tokens() == 0 && pool.queued() == 0
    });
    assert_eq!(running.waiting(), 0);
    assert!(!shared.ran_twice.load(SeqCst), "a job ran twice");
    let withdrawn = shared.withdrawn.lock().unwrap().clone();
    for &id in &withdrawn {
        assert_eq!(shared.runs[id].load(SeqCst), 0, "withdrawn job {id} ran");
    }
    let ran: usize = shared.runs.iter().map(|r| r.load(SeqCst)).sum();
    let completed = shared.completed.load(SeqCst);
    assert!(ran >= completed, "{completed} results from {ran} runs");
    eprintln!(
        "storm: {JOBS} jobs, {} withdrawn, {ran} ran, {completed} results returned",
        withdrawn.len()
    );
    drop(rt);
    wait_until("the pool's threads retire", || pool.threads() == 0);
    // The runtime's threads are gone too now; the pool's exit after they
    // decrement the count.
    wait_until("the thread count returns to its floor", || {
        thread_count() <= baseline - 2 // the 2-worker runtime is dropped
    });
}
