//! Proves that contended RwLock waits allocate nothing, blocking and async
//! (futures-lite), readers and writers: the scaffolding of
//! tests/alloc_count.rs (a counting `#[global_allocator]`, per-thread
//! opt-in counting, a warm-up round, then measured phases that must report
//! zero allocations and real contention).
//!
//! Each thread alternates writes and reads, so its waits queue behind the
//! other thread's writes (a read behind a write, a write behind a read) and
//! the releases hand over directly, also to reader batches.

use futures_lite::future::block_on;
use polysync::RwLock;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::*;

#[test]
fn rwlock_blocking_contended_allocates_nothing() {
    let lock = Arc::new(RwLock::new(0usize));
    let reads = Arc::new(AtomicUsize::new(0));
    let (l, r) = (lock.clone(), reads.clone());
    two_threads("rwlock blocking", move |me, n| {
        let mut seen = Seen::default();
        for i in 0..n {
            if (i + me) % 2 == 0 {
                let mut g = match l.try_write() {
                    Some(g) => g,
                    None => {
                        seen.try_failed += 1;
                        l.write_blocking()
                    }
                };
                let v = *g;
                hold(i);
                *g = v + 1;
                // After the hold: a contender spins a few rounds before it
                // queues, so it shows only while the holder sleeps.
                if l.waiting() > 0 {
                    seen.saw_waiter += 1;
                }
            } else {
                let g = match l.try_read() {
                    Some(g) => g,
                    None => {
                        seen.try_failed += 1;
                        l.read_blocking()
                    }
                };
                hold(i);
                // After the hold (see above).
                if l.waiting() > 0 {
                    seen.saw_waiter += 1;
                }
                std::hint::black_box(*g);
                r.fetch_add(1, Ordering::Relaxed);
            }
        }
        seen
    });
    assert_eq!(*lock.read_blocking(), N + WARMUP);
    assert!(!lock.is_locked());
}

#[test]
fn rwlock_async_contended_allocates_nothing() {
    let lock = Arc::new(RwLock::new(0usize));
    let l = lock.clone();
    two_threads("rwlock async", move |me, n| {
        block_on(async {
            let mut seen = Seen::default();
            for i in 0..n {
                if (i + me) % 2 == 0 {
                    let mut g = match l.try_write() {
                        Some(g) => g,
                        None => {
                            seen.try_failed += 1;
                            l.write().await
                        }
                    };
                    if l.waiting() > 0 {
                        seen.saw_waiter += 1;
                    }
                    let v = *g;
                    hold(i);
                    *g = v + 1;
                } else {
                    // The owned form too: an `Arc` clone, no allocation.
                    let g = match l.try_read() {
                        Some(g) => g,
                        None => {
                            seen.try_failed += 1;
                            let owned = l.read_owned().await;
                            drop(owned);
                            l.read().await
                        }
                    };
                    if l.waiting() > 0 {
                        seen.saw_waiter += 1;
                    }
                    hold(i);
                    std::hint::black_box(*g);
                }
            }
            seen
        })
    });
    assert_eq!(*lock.read_blocking(), N + WARMUP);
    assert!(!lock.is_locked());
}
