//! Helpers shared by the test binaries.
#![allow(dead_code)]

use std::sync::mpsc;
use std::time::Duration;

/// How long any one test may run before the watchdog fails it.
pub const WATCHDOG: Duration = Duration::from_secs(20);

/// Runs `f` on its own thread and fails the test if it does not finish within
/// [`WATCHDOG`] (a hang becomes a failure instead of a stuck CI job; the stuck
/// thread is abandoned and dies with the test process). Panics of `f` are
/// re-raised.
pub fn watchdog<R: Send + 'static>(name: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    watchdog_within(name, WATCHDOG, f)
}

/// [`watchdog`] with its own limit, for tests whose failure mode is a hang
/// (a deadlock they guard against) and that should fail fast.
pub fn watchdog_within<R: Send + 'static>(
    name: &str,
    limit: Duration,
    f: impl FnOnce() -> R + Send + 'static,
) -> R {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let out = f();
            let _ = tx.send(());
            out
        })
        .expect("spawn the test thread");
    match rx.recv_timeout(limit) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("watchdog: `{name}` did not finish within {limit:?} (a deadlock?)")
        }
    }
}

/// A multi-thread runtime with `workers` workers and time enabled.
pub fn multi_thread(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_time()
        .build()
        .expect("build a multi-thread runtime")
}

/// A current-thread runtime with time enabled.
pub fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("build a current-thread runtime")
}

/// Awaits `fut` with a tokio timeout as a second watchdog for async waits.
pub async fn bounded<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(WATCHDOG, fut).await {
        Ok(out) => out,
        Err(_) => panic!("timeout: {what} did not finish within {WATCHDOG:?}"),
    }
}

/// The message of a panic payload (`&str` or `String`), or `""`.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        ""
    }
}
