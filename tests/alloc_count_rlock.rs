//! Proves that contended waits of `RLock`, `CapacityLimiter` and
//! `RCapacityLimiter` allocate nothing, blocking and async (identified
//! futures-lite tasks): the scaffolding of tests/alloc_count.rs (a counting
//! `#[global_allocator]`, per-thread opt-in counting, a warm-up round, then
//! measured phases that must report zero allocations and real contention).
//! The limiter's borrower table grows during the warm-up (to the largest
//! number of simultaneous borrowers) and never again. The limiters run in
//! both modes: strict FIFO hand-off and bounded fairness.

use futures_lite::future::block_on;
use polysync::lowlevel::identified;
use polysync::{CapacityLimiter, RCapacityLimiter, RLock};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::*;

#[test]
fn counter_sees_allocations() {
    let (b, allocs) = measured(|| black_box(Box::new(black_box(7u64))));
    assert_eq!(*b, 7);
    assert_eq!(allocs.count, 1, "the counting allocator must see a Box");
}

#[test]
fn rlock_blocking_contended_reentrant_allocates_nothing() {
    let lock = Arc::new(RLock::new());
    let shared = Arc::new(AtomicUsize::new(0));
    let (l, c) = (lock.clone(), shared.clone());
    two_threads("rlock blocking", move |_, n| {
        let mut seen = Seen::default();
        for i in 0..n {
            let outer = match l.try_acquire() {
                Some(g) => g,
                None => {
                    seen.try_failed += 1;
                    l.acquire_blocking()
                }
            };
            let inner = l.acquire_blocking(); // re-entry
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
    assert!(!lock.is_locked());
}

#[test]
fn rlock_async_contended_allocates_nothing() {
    rlock_async_contended(RLock::new(), "rlock async");
}

/// With bounded fairness (`RLock::new_bounded`, issue 18 item 1): the woken
/// front's retries, the barges and the re-entries. Tasks, not threads: a
/// thread spins before it queues on a bounded lock, and with two threads
/// the spin takes most contention away from the queue this test must see.
#[test]
fn bounded_rlock_async_contended_allocates_nothing() {
    rlock_async_contended(RLock::new_bounded(), "bounded rlock async");
}

fn rlock_async_contended(lock: RLock, label: &'static str) {
    let lock = Arc::new(lock);
    let shared = Arc::new(AtomicUsize::new(0));
    let (l, c) = (lock.clone(), shared.clone());
    two_threads(label, move |_, n| {
        block_on(identified(async {
            let mut seen = Seen::default();
            for i in 0..n {
                let outer = match l.try_acquire() {
                    Some(g) => g,
                    None => {
                        seen.try_failed += 1;
                        l.acquire().await.unwrap()
                    }
                };
                let inner = l.acquire().await.unwrap();
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
        }))
    });
    assert_eq!(shared.load(Ordering::Relaxed), 2 * (N + WARMUP));
    assert!(!lock.is_locked());
}

#[test]
fn limiter_blocking_contended_allocates_nothing() {
    let limiter = Arc::new(CapacityLimiter::new(1));
    let shared = Arc::new(AtomicUsize::new(0));
    let (l, c) = (limiter.clone(), shared.clone());
    two_threads("limiter blocking", move |_, n| {
        let mut seen = Seen::default();
        for i in 0..n {
            let token = match l.try_acquire() {
                Ok(t) => t,
                Err(_) => {
                    seen.try_failed += 1;
                    l.acquire_blocking().unwrap()
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
    });
    assert_eq!(shared.load(Ordering::Relaxed), 2 * (N + WARMUP));
    assert_eq!(limiter.available_tokens(), 1);
}

#[test]
fn limiter_async_contended_allocates_nothing() {
    limiter_async_contended(CapacityLimiter::new(1), "limiter async");
}

/// With bounded fairness (issue 18 item 1): retries lost and won, barges.
#[test]
fn bounded_limiter_async_contended_allocates_nothing() {
    limiter_async_contended(CapacityLimiter::new_bounded(1), "bounded limiter async");
}

fn limiter_async_contended(limiter: CapacityLimiter, label: &'static str) {
    let limiter = Arc::new(limiter);
    let shared = Arc::new(AtomicUsize::new(0));
    let (l, c) = (limiter.clone(), shared.clone());
    two_threads(label, move |_, n| {
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

#[test]
fn reentrant_limiter_blocking_contended_allocates_nothing() {
    reentrant_limiter_blocking_contended(RCapacityLimiter::new(1), "rlimiter blocking");
}

/// With bounded fairness (issue 18 item 1), a reentrant level on top.
#[test]
fn bounded_reentrant_limiter_blocking_contended_allocates_nothing() {
    reentrant_limiter_blocking_contended(
        RCapacityLimiter::new_bounded(1),
        "bounded rlimiter blocking",
    );
}

fn reentrant_limiter_blocking_contended(limiter: RCapacityLimiter, label: &'static str) {
    let limiter = Arc::new(limiter);
    let shared = Arc::new(AtomicUsize::new(0));
    let (l, c) = (limiter.clone(), shared.clone());
    two_threads(label, move |_, n| {
        let mut seen = Seen::default();
        for i in 0..n {
            let outer = match l.try_acquire() {
                Some(t) => t,
                None => {
                    seen.try_failed += 1;
                    l.acquire_blocking()
                }
            };
            let inner = l.acquire_blocking();
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
