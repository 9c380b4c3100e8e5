//! Contended waits of a limiter with bounded fairness (issue 18 item 1)
//! allocate nothing, blocking and async (identified futures-lite tasks on
//! two threads: retries lost and won, barges, a reentrant level on top):
//! the scaffolding of tests/alloc_count.rs (a counting `#[global_allocator]`,
//! per-thread opt-in counting, a warm-up round, then measured phases that
//! must report zero allocations and real contention). The borrower table
//! grows during the warm-up and never again.

use futures_lite::future::block_on;
use polysync::lowlevel::identified;
use polysync::{CapacityLimiter, RCapacityLimiter};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::*;

#[test]
fn bounded_limiter_blocking_contended_allocates_nothing() {
    let limiter = Arc::new(RCapacityLimiter::new_bounded(1));
    let shared = Arc::new(AtomicUsize::new(0));
    let (l, c) = (limiter.clone(), shared.clone());
    two_threads("bounded limiter blocking", move |_, n| {
        let mut seen = Seen::default();
        for i in 0..n {
            let outer = match l.try_acquire() {
                Some(t) => t,
                None => {
                    seen.try_failed += 1;
                    l.acquire_blocking()
                }
            };
            let inner = l.acquire_blocking(); // one more level
            if l.waiting() > 0 {
                seen.saw_waiter += 1;
            }
            let v = c.load(Ordering::Relaxed);
            hold(i);
            c.store(v + 1, Ordering::Relaxed);
            drop(inner);
            drop(outer);
        }
        seen
    });
    assert_eq!(shared.load(Ordering::Relaxed), 2 * (N + WARMUP));
    assert_eq!(limiter.available_tokens(), 1);
}

#[test]
fn bounded_limiter_async_contended_allocates_nothing() {
    let limiter = Arc::new(CapacityLimiter::new_bounded(1));
    let shared = Arc::new(AtomicUsize::new(0));
    let (l, c) = (limiter.clone(), shared.clone());
    two_threads("bounded limiter async", move |_, n| {
        block_on(identified(async {
            let mut seen = Seen::default();
            for i in 0..n {
                let token = match l.try_acquire() {
                    Ok(t) => t,
                    Err(_) => {
                        seen.try_failed += 1;
                        l.acquire().await.unwrap()
                    }
                };
                if l.waiting() > 0 {
                    seen.saw_waiter += 1;
                }
                let v = c.load(Ordering::Relaxed);
                hold(i);
                c.store(v + 1, Ordering::Relaxed);
                drop(token);
            }
            seen
        }))
    });
    assert_eq!(shared.load(Ordering::Relaxed), 2 * (N + WARMUP));
    assert_eq!(limiter.available_tokens(), 1);
}
