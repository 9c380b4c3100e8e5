//! Proves that contended upgradable reads and upgrades allocate nothing,
//! blocking and async (futures-lite), with the scaffolding of
//! tests/alloc_count.rs (a counting `#[global_allocator]`, per-thread
//! opt-in counting, a warm-up round, then measured phases that must report
//! zero allocations and real contention; see tests/rwlock_alloc_count.rs).
//!
//! Each thread alternates an upgradable read that upgrades and writes with
//! a plain read, so an upgrade waits for the other thread's read share, and
//! an upgradable read or a read waits behind the other's upgraded write.

use futures_lite::future::block_on;
use polysync::{RwLock, RwLockUpgradableReadGuard as Up};
use std::sync::Arc;
#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::*;

#[test]
fn upgrade_blocking_contended_allocates_nothing() {
    let lock = Arc::new(RwLock::new(0usize));
    let l = lock.clone();
    two_threads("rwlock upgrade blocking", move |me, n| {
        let mut seen = Seen::default();
        for i in 0..n {
            if (i + me) % 2 == 0 {
                let mut u = match l.try_upgradable_read() {
                    Some(u) => u,
                    None => {
                        seen.try_failed += 1;
                        l.upgradable_read_blocking()
                    }
                };
                // (A `try_upgrade` then `upgrade_blocking` on the same
                // borrow does not compile today: the upgrade tries first.)
                if l.readers() > 0 {
                    seen.try_failed += 1;
                }
                let mut w = Up::upgrade_blocking(&mut u);
                let v = *w;
                hold(i);
                *w = v + 1;
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
            }
        }
        seen
    });
    assert_eq!(*lock.read_blocking(), N + WARMUP);
    assert!(!lock.is_locked());
}

#[test]
fn upgrade_async_contended_allocates_nothing() {
    let lock = Arc::new(RwLock::new(0usize));
    let l = lock.clone();
    two_threads("rwlock upgrade async", move |me, n| {
        block_on(async {
            let mut seen = Seen::default();
            for i in 0..n {
                if (i + me) % 2 == 0 {
                    let mut u = match l.try_upgradable_read() {
                        Some(u) => u,
                        None => {
                            seen.try_failed += 1;
                            l.upgradable_read().await
                        }
                    };
                    if l.readers() > 0 {
                        seen.try_failed += 1;
                    }
                    let mut w = Up::upgrade(&mut u).await;
                    if l.waiting() > 0 {
                        seen.saw_waiter += 1;
                    }
                    let v = *w;
                    hold(i);
                    *w = v + 1;
                } else {
                    let g = match l.try_read() {
                        Some(g) => g,
                        None => {
                            seen.try_failed += 1;
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
