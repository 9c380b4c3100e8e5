//! Helpers shared by the test binaries.
#![allow(dead_code)]

use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long any one test may run before the watchdog fails it.
pub const WATCHDOG: Duration = Duration::from_secs(20);

/// Runs `f` on its own thread and fails the test if it does not finish within
/// [`WATCHDOG`] (a hang becomes a failure instead of a stuck CI job; the stuck
/// thread is abandoned and dies with the test process). Panics of `f` are
/// re-raised.
pub fn watchdog<R: Send + 'static>(name: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let out = f();
            let _ = tx.send(());
            out
        })
        .expect("spawn the test thread");
    match rx.recv_timeout(WATCHDOG) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("watchdog: `{name}` did not finish within {WATCHDOG:?}")
        }
    }
}

/// Spins (yielding the thread) until `cond` holds; panics after
/// [`WATCHDOG`] so that a plain thread waiting for a green thread cannot
/// hang a test on its own.
pub fn spin_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < WATCHDOG, "timeout: {what}");
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Like [`spin_until`], from a green thread: sleeps on the hub's timer
/// between checks, so the hub keeps running (and may park).
pub fn green_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < WATCHDOG, "timeout: {what}");
        polysync_corosensei::sleep(Duration::from_micros(100));
    }
}

/// A multi-thread tokio runtime with `workers` workers and time enabled.
pub fn multi_thread(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_time()
        .build()
        .expect("build a multi-thread runtime")
}
