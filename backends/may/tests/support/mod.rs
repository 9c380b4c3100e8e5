//! Helpers shared by the test binaries.
#![allow(dead_code)]

use std::sync::Once;
use std::sync::mpsc;
use std::time::Duration;

/// How long one test may run before its watchdog aborts the process.
pub const WATCHDOG: Duration = Duration::from_secs(30);

/// Configures may for this test binary (once: may reads its configuration
/// when it starts its scheduler, at the first spawn) and installs the may
/// and tokio backends. Workers are not pinned: several test binaries and
/// other builds share the machine's cores.
pub fn setup(workers: usize) {
    static SETUP: Once = Once::new();
    SETUP.call_once(|| {
        may::config().set_workers(workers).set_worker_pin(false);
        polysync_may::install().expect("install the may backend");
        polysync_tokio::install().expect("install the tokio task identity");
    });
}

/// Aborts the whole process (with a message) unless dropped within `limit`:
/// a test that could hang (a coroutine that never wakes, a worker blocked
/// for good) fails instead. Dropping it, also while unwinding, disarms it.
#[must_use = "the watchdog is disarmed when dropped"]
pub struct Watchdog(#[allow(dead_code)] mpsc::Sender<()>);

pub fn watchdog(name: &'static str) -> Watchdog {
    watchdog_for(name, WATCHDOG)
}

pub fn watchdog_for(name: &'static str, limit: Duration) -> Watchdog {
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name(format!("watchdog {name}"))
        .spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                // Straight to the process's stderr: the test harness
                // captures `eprintln!` of threads spawned by a test.
                use std::io::Write as _;
                let _ = writeln!(
                    std::io::stderr(),
                    "watchdog: `{name}` did not finish within {limit:?}: aborting"
                );
                std::process::abort();
            }
        })
        .expect("spawn the watchdog");
    Watchdog(tx)
}

/// Polls `cond` from an OS thread until it holds (no time limit of its own:
/// the test's watchdog bounds it).
pub fn eventually(mut cond: impl FnMut() -> bool) {
    while !cond() {
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Polls `cond` from inside a coroutine until it holds, sleeping the
/// coroutine (never spinning with `yield_now`, which would starve
/// coroutines woken from other threads).
pub fn co_eventually(mut cond: impl FnMut() -> bool) {
    while !cond() {
        may::coroutine::sleep(Duration::from_millis(1));
    }
}

/// A multi-thread tokio runtime with `workers` workers and time enabled.
pub fn tokio_rt(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_time()
        .build()
        .expect("build a tokio runtime")
}

/// Spawns a may coroutine. `go!` hides may's `unsafe` spawn (thread-locals
/// and stack overflow are the caller's concern in may): the test bodies
/// touch no thread-local across a switch and use the default stack.
pub fn go<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> may::coroutine::JoinHandle<T> {
    may::go!(f)
}

/// A ticker coroutine: counts how often it ran **on a worker**. It sleeps
/// 1 ms between ticks (a sleep resumes on may's timer thread) and then
/// yields, which puts it back on a worker's queue; only then does it count.
/// If every worker were blocked, the count would stop.
pub struct Ticker {
    pub ticks: std::sync::Arc<std::sync::atomic::AtomicU64>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: may::coroutine::JoinHandle<()>,
}

impl Ticker {
    pub fn start() -> Ticker {
        use std::sync::atomic::Ordering::Relaxed;
        let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let handle = {
            let (ticks, stop) = (ticks.clone(), stop.clone());
            go(move || {
                while !stop.load(Relaxed) {
                    may::coroutine::sleep(Duration::from_millis(1));
                    may::coroutine::yield_now(); // back on a worker
                    ticks.fetch_add(1, Relaxed);
                }
            })
        };
        Ticker {
            ticks,
            stop,
            handle,
        }
    }

    pub fn count(&self) -> u64 {
        self.ticks.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits (from an OS thread) until the ticker ran `n` more times.
    pub fn advance(&self, n: u64) {
        let start = self.count();
        eventually(|| self.count() >= start + n);
    }

    pub fn stop(self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let ticks = self.ticks;
        self.handle.join().expect("the ticker ends");
        ticks.load(std::sync::atomic::Ordering::Relaxed)
    }
}
