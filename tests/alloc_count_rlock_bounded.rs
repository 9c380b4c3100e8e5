//! Proves that contended waits of a bounded `RLock` (`RLock::new_bounded`,
//! issue 18 item 1) allocate nothing: the woken front's retries, the
//! barges and the re-entries, from identified futures-lite tasks on two
//! threads, with the scaffolding of tests/alloc_count.rs (a counting
//! `#[global_allocator]`, per-thread opt-in counting, a warm-up round, then
//! a measured phase that must report zero allocations and real
//! contention). Tasks, not threads: a thread spins before it queues on a
//! bounded lock, and with two threads the spin takes most contention away
//! from the queue this test must see (tests/alloc_count_rlock.rs runs the
//! blocking form on the strict lock).

use futures_lite::future::block_on;
use polysync::RLock;
use polysync::lowlevel::identified;
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
fn bounded_rlock_async_contended_allocates_nothing() {
    let lock = Arc::new(RLock::new_bounded());
    let shared = Arc::new(AtomicUsize::new(0));
    let (l, c) = (lock.clone(), shared.clone());
    two_threads("bounded rlock async", move |_, n| {
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
                let inner = l.acquire().await.unwrap(); // re-entry
                let v = c.load(Ordering::Relaxed);
                hold(i);
                c.store(v + 1, Ordering::Relaxed);
                if l.waiting() > 0 {
                    seen.saw_waiter += 1;
                }
                drop(inner);
                drop(outer);
            }
            seen
        }))
    });
    assert_eq!(shared.load(Ordering::Relaxed), 2 * (N + WARMUP));
    assert!(!lock.is_locked());
}
