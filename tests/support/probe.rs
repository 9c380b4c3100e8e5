//! The deterministic probes that single-thread tests share: a waker that
//! counts its wakes, one poll of a future with a chosen waker, and a seeded
//! xorshift for per-unit random choices without a dependency. Included with
//! `#[path]` by each test binary that uses it.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

/// A waker that counts how often it was woken (by value or by reference).
#[derive(Default)]
pub struct WakeCount(AtomicUsize);

impl WakeCount {
    /// A fresh count and a waker that adds to it.
    pub fn new() -> (Arc<WakeCount>, Waker) {
        let count = Arc::new(WakeCount::default());
        (count.clone(), Waker::from(count))
    }

    /// The wakes so far.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for WakeCount {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls `fut` once with `waker`.
pub fn poll_with<F: Future + ?Sized>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

/// One step of a xorshift: the next pseudo-random number from `seed`
/// (which must not be 0), so each unit of a stress test draws its own
/// pattern of choices.
pub fn xorshift(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}
