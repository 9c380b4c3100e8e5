//! The thread bridge keeps its callers' carriers running (issue 19): a
//! tokio current-thread runtime, a may worker (the only one) and a
//! corosensei hub each run a ticker (a task / coroutine / green thread)
//! while 100 callers on the same carrier offload jobs that block for 10 ms
//! each. A caller that blocked its carrier would stop the ticker.
//!
//! What is asserted is progress, never time: one job waits, on its pool
//! thread, until the ticker has advanced three ticks since the job started
//! (giving up after a generous 10 s), and the test asserts that it did. The
//! largest gap between two ticks while jobs were in flight is printed
//! (`--nocapture`), not asserted.

#[path = "support/worlds.rs"]
mod worlds;

use polysync::CapacityLimiter;
use polysync::bridge::Offload;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};
use worlds::Watchdog;

const CALLERS: usize = 100;
const BLOCK: Duration = Duration::from_millis(10);

/// What the ticker and the jobs share.
#[derive(Default)]
struct Ticks {
    ticks: AtomicU64,
    in_flight: AtomicUsize,
    done: AtomicBool,
    largest_gap_us: AtomicU64,
}

impl Ticks {
    /// One tick, at `now`, `last` being the previous one.
    fn tick(&self, last: &mut Instant) {
        let now = Instant::now();
        if self.in_flight.load(SeqCst) > 0 {
            let gap = now.duration_since(*last).as_micros() as u64;
            self.largest_gap_us.fetch_max(gap, SeqCst);
        }
        *last = now;
        self.ticks.fetch_add(1, SeqCst);
    }

    /// The job of caller `i`: blocks for `BLOCK`; caller 0's job also
    /// waits (up to 10 s) for the ticker to advance three ticks, and says
    /// whether it did.
    fn job(self: &Arc<Self>, i: usize) -> impl FnOnce() -> bool + Send + 'static {
        let me = self.clone();
        move || {
            let start = me.ticks.load(SeqCst);
            std::thread::sleep(BLOCK);
            if i != 0 {
                return true;
            }
            let end = Instant::now() + Duration::from_secs(10);
            while me.ticks.load(SeqCst) < start + 3 {
                if Instant::now() > end {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            true
        }
    }

    fn report(&self, world: &str, results: Vec<bool>) {
        eprintln!(
            "{world}: {} ticks, largest gap while jobs ran: {} us",
            self.ticks.load(SeqCst),
            self.largest_gap_us.load(SeqCst)
        );
        assert_eq!(results.len(), CALLERS);
        assert!(
            results[0],
            "{world}: the ticker did not advance while an offloaded job ran (the caller blocked its carrier)"
        );
    }
}

fn offload() -> Offload {
    Offload::new(Arc::new(CapacityLimiter::new(CALLERS)))
}

#[test]
fn a_tokio_current_thread_runtime_keeps_ticking() {
    let _w = Watchdog::new("tokio keeps ticking", Duration::from_secs(60));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let ticks = Arc::new(Ticks::default());
    let offload = offload();
    let results = rt.block_on(async {
        let ticker = {
            let ticks = ticks.clone();
            tokio::spawn(async move {
                let mut last = Instant::now();
                while !ticks.done.load(SeqCst) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    ticks.tick(&mut last);
                }
            })
        };
        ticks.in_flight.store(CALLERS, SeqCst);
        let callers: Vec<_> = (0..CALLERS)
            .map(|i| {
                let (ticks, fut) = (ticks.clone(), offload.run(ticks.job(i)));
                tokio::spawn(async move {
                    let out = fut.await.unwrap();
                    ticks.in_flight.fetch_sub(1, SeqCst);
                    out
                })
            })
            .collect();
        let mut results = Vec::new();
        for c in callers {
            results.push(c.await.unwrap());
        }
        ticks.done.store(true, SeqCst);
        ticker.await.unwrap();
        results
    });
    ticks.report("tokio current-thread", results);
}

#[test]
fn a_may_worker_keeps_ticking() {
    let _w = Watchdog::new("may keeps ticking", Duration::from_secs(60));
    // One worker: a caller that blocked it would stop every coroutine.
    may::config().set_workers(1).set_worker_pin(false);
    polysync_may::install().expect("install the may backend");
    let ticks = Arc::new(Ticks::default());
    let offload = offload();
    // A ticker that only slept would tick on may's timer thread (an expired
    // sleep resumes there); this one yields after each sleep, so it ticks
    // only when the worker runs it. (A ticker that only yielded would hog
    // the one worker and starve the coroutines spawned from this thread.)
    let ticker = {
        let ticks = ticks.clone();
        may::go!(move || {
            let mut last = Instant::now();
            while !ticks.done.load(SeqCst) {
                may::coroutine::sleep(Duration::from_millis(1));
                may::coroutine::yield_now();
                ticks.tick(&mut last);
            }
        })
    };
    ticks.in_flight.store(CALLERS, SeqCst);
    let callers: Vec<_> = (0..CALLERS)
        .map(|i| {
            let (ticks, offload) = (ticks.clone(), offload.clone());
            may::go!(move || {
                let out = offload.run_blocking(ticks.job(i)).unwrap();
                ticks.in_flight.fetch_sub(1, SeqCst);
                out
            })
        })
        .collect();
    let results: Vec<bool> = callers.into_iter().map(|c| c.join().unwrap()).collect();
    ticks.done.store(true, SeqCst);
    ticker.join().unwrap();
    ticks.report("may (1 worker)", results);
}

#[test]
fn a_corosensei_hub_keeps_ticking() {
    let _w = Watchdog::new("hub keeps ticking", Duration::from_secs(60));
    let ticks = Arc::new(Ticks::default());
    let offload = offload();
    let results = {
        let ticks = ticks.clone();
        polysync_corosensei::run(move || {
            let ticker = {
                let ticks = ticks.clone();
                polysync_corosensei::spawn(move || {
                    let mut last = Instant::now();
                    while !ticks.done.load(SeqCst) {
                        polysync_corosensei::yield_now();
                        ticks.tick(&mut last);
                    }
                })
            };
            ticks.in_flight.store(CALLERS, SeqCst);
            let callers: Vec<_> = (0..CALLERS)
                .map(|i| {
                    let (ticks, offload) = (ticks.clone(), offload.clone());
                    polysync_corosensei::spawn(move || {
                        let out = offload.run_blocking(ticks.job(i)).unwrap();
                        ticks.in_flight.fetch_sub(1, SeqCst);
                        out
                    })
                })
                .collect();
            let results: Vec<bool> = callers.into_iter().map(|c| c.join().unwrap()).collect();
            ticks.done.store(true, SeqCst);
            ticker.join().unwrap();
            results
        })
    };
    ticks.report("corosensei hub", results);
}
