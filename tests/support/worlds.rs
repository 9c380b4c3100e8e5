//! Helpers shared by the cross-world tests: a watchdog that turns a hang
//! into a failure, polling until a condition holds, and a 2-worker runtime.
//! Included with `#[path]` by each test binary that uses it.
#![allow(dead_code)]

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Aborts the process with a message if the test has not finished within
/// `limit`: a lost wake-up must fail the run, not hang it. Never fires in a
/// passing run; dropping it stops its thread at once.
pub struct Watchdog {
    done: Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Watchdog {
    pub fn new(test: &'static str, limit: Duration) -> Self {
        let done = Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
        let thread = {
            let done = done.clone();
            thread::spawn(move || {
                let (flag, cv) = &*done;
                let guard = flag.lock().unwrap_or_else(|e| e.into_inner());
                let (guard, _) = cv
                    .wait_timeout_while(guard, limit, |done| !*done)
                    .unwrap_or_else(|e| e.into_inner());
                if !*guard {
                    eprintln!("watchdog: {test} did not finish within {limit:?} (a lost wake-up?)");
                    std::process::abort();
                }
            })
        };
        Watchdog {
            done,
            thread: Some(thread),
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let (flag, cv) = &*self.done;
        *flag.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

pub fn multi_thread_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}
