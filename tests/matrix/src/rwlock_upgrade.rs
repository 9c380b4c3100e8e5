//! The RwLock's upgradable read across worlds (issue 20 item 6): waiters in
//! one world, the notifier in another. Per cell: the notifier holds a plain
//! read share; waiter 0 takes the upgradable read beside it and upgrades,
//! which must wait until the notifier's share is gone; a plain reader
//! (waiter 1) arriving meanwhile queues behind the upgrade; a writer
//! (waiter 2) waits for the upgradable read to end. Then everyone contends
//! for a few rounds, upgradable readers upgrading every other round, with
//! exclusion checked on one word: never a writer (or upgraded reader)
//! beside anyone, never two upgradable readers.

use crate::{Cell, Ctx};
use polysync::{RwLock, RwLockUpgradableReadGuard};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};

const WAITERS: usize = 3;
const ROUNDS: usize = 6;
const WRITER_IN: u64 = 1 << 40;
const UPGRADABLE_IN: u64 = 1 << 20;

/// Plain readers inside, plus `UPGRADABLE_IN` per upgradable reader, plus
/// `WRITER_IN` per writer (or upgraded reader).
#[derive(Default)]
struct Inside(AtomicU64);

impl Inside {
    fn enter(&self, what: u64, ctx: &Ctx) {
        let before = self.0.fetch_add(what, SeqCst);
        let now = before + what;
        let label = ctx.label();
        assert!(
            now / WRITER_IN <= 1,
            "{label}: two writers inside ({now:#x})"
        );
        assert!(
            now < WRITER_IN || now % WRITER_IN == 0 || what == WRITER_IN && before == 0,
            "{label}: a writer beside others ({now:#x})"
        );
        assert!(
            (now % WRITER_IN) / UPGRADABLE_IN <= 1,
            "{label}: two upgradable readers ({now:#x})"
        );
    }

    fn leave(&self, what: u64) {
        self.0.fetch_sub(what, SeqCst);
    }
}

/// The scenario (register with `run_matrix("rwlock-upgrade", ...)`).
pub fn rwlock_upgrade_scenario(cell: &mut Cell) {
    let lock = Arc::new(RwLock::new(0u64));
    let inside = Arc::new(Inside::default());
    // Set by the notifier once it saw the upgrade waiting behind its share.
    let phase = Arc::new(AtomicUsize::new(0));
    for i in 0..WAITERS {
        let (lock, inside, phase) = (lock.clone(), inside.clone(), phase.clone());
        cell.waiter(&format!("waiter#{i}"), move |ctx| async move {
            match i {
                0 => {
                    ctx.until("the notifier reads", || lock.readers() == 1)
                        .await;
                    let mut u = if ctx.is_async() {
                        lock.upgradable_read().await
                    } else {
                        lock.upgradable_read_blocking()
                    };
                    let mut w = if ctx.is_async() {
                        RwLockUpgradableReadGuard::upgrade(&mut u).await
                    } else {
                        RwLockUpgradableReadGuard::upgrade_blocking(&mut u)
                    };
                    // Only after the notifier's share is gone.
                    assert_eq!(phase.load(SeqCst), 2, "{}: upgraded early", ctx.label());
                    inside.enter(WRITER_IN, &ctx);
                    *w += 1;
                    inside.leave(WRITER_IN);
                    drop(w);
                    drop(u);
                }
                1 => {
                    ctx.until("the upgrade waits", || phase.load(SeqCst) >= 1)
                        .await;
                    let r = if ctx.is_async() {
                        lock.read().await
                    } else {
                        lock.read_blocking()
                    };
                    // Behind the upgrade: it wrote first.
                    assert!(*r >= 1, "{}: a reader passed the upgrade", ctx.label());
                    drop(r);
                }
                _ => {
                    ctx.until("the upgrade waits", || phase.load(SeqCst) >= 1)
                        .await;
                    let w = if ctx.is_async() {
                        lock.write().await
                    } else {
                        lock.write_blocking()
                    };
                    assert!(*w >= 1, "{}: a writer passed the upgrade", ctx.label());
                    drop(w);
                }
            }
            for round in 0..ROUNDS {
                if (round + i) % 3 == 0 {
                    let mut u = if ctx.is_async() {
                        lock.upgradable_read().await
                    } else {
                        lock.upgradable_read_blocking()
                    };
                    inside.enter(UPGRADABLE_IN, &ctx);
                    ctx.pause().await;
                    inside.leave(UPGRADABLE_IN);
                    if round % 2 == 0 {
                        let mut w = if ctx.is_async() {
                            RwLockUpgradableReadGuard::upgrade(&mut u).await
                        } else {
                            RwLockUpgradableReadGuard::upgrade_blocking(&mut u)
                        };
                        inside.enter(WRITER_IN, &ctx);
                        *w += 1;
                        ctx.pause().await;
                        inside.leave(WRITER_IN);
                    }
                } else if (round + i) % 3 == 1 {
                    let g = if ctx.is_async() {
                        lock.read().await
                    } else {
                        lock.read_blocking()
                    };
                    inside.enter(1, &ctx);
                    ctx.pause().await;
                    inside.leave(1);
                    drop(g);
                } else {
                    let mut g = if ctx.is_async() {
                        lock.write().await
                    } else {
                        lock.write_blocking()
                    };
                    inside.enter(WRITER_IN, &ctx);
                    *g += 1;
                    ctx.pause().await;
                    inside.leave(WRITER_IN);
                }
            }
        });
    }
    {
        let (lock, phase) = (lock.clone(), phase.clone());
        cell.notifier("notifier", move |ctx| async move {
            let r = lock.try_read().expect("the notifier reads the free lock");
            ctx.until("the upgradable reader waits to upgrade", || {
                lock.is_upgradable_locked() && lock.waiting() >= 1
            })
            .await;
            phase.store(1, SeqCst);
            ctx.until("the reader and the writer queue too", || {
                lock.waiting() == 3
            })
            .await;
            phase.store(2, SeqCst);
            drop(r);
        });
    }
    let lock2 = lock.clone();
    cell.check(move || {
        assert!(!lock2.is_locked(), "the lock is free at the end");
        assert_eq!(lock2.waiting(), 0);
    });
}
