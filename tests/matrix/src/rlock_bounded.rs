//! The `rlock-bounded` scenario of the matrix: an `RLock::new_bounded`
//! (issue 18 item 1) shared by waiters in the waiting world and a notifier
//! in the notifying world. Each unit, in its world's form, takes the lock,
//! re-enters it (the same form, then `try_acquire`), checks that it owns
//! three levels, runs a section that a second holder would break (a
//! non-atomic increment across a pause, and a count of units inside), and
//! releases. The notifier holds two levels until every waiter is queued,
//! then releases them: its last release wakes the oldest waiter to compete
//! while the notifier may barge back in. The order of service is not
//! checked (bounded fairness lets a running unit go first); exclusion,
//! re-entry, progress (a lost wake-up leaves a participant waiting: the
//! cell fails as a hang naming it) and the final state are.
//!
//! Run: `cargo test -p polysync-matrix --lib rlock_bounded`.

use crate::{Cell, Ctx, run_matrix};
use polysync::RLock;
use polysync::lowlevel::current_unit;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};

/// Waiters in the waiting world.
const WAITERS: usize = 3;
/// Acquisitions per participant after its first.
const ROUNDS: usize = 6;

#[derive(Default)]
struct Exclusion {
    inside: AtomicUsize,
    racy: AtomicU64,
}

impl Exclusion {
    async fn section(&self, ctx: &Ctx) {
        let n = self.inside.fetch_add(1, SeqCst) + 1;
        assert_eq!(n, 1, "{}: {n} holders at once", ctx.label());
        let v = self.racy.load(SeqCst);
        ctx.pause().await;
        self.racy.store(v + 1, SeqCst);
        self.inside.fetch_sub(1, SeqCst);
    }
}

/// One level more, in the world's form.
async fn acquire<'a>(ctx: &Ctx, rlock: &'a RLock) -> polysync::RLockGuard<'a> {
    if ctx.is_async() {
        rlock
            .acquire()
            .await
            .expect("matrix tasks have an identity")
    } else {
        rlock.acquire_blocking()
    }
}

/// Takes the lock, re-enters it twice, runs the section, releases.
async fn round(ctx: &Ctx, rlock: &RLock, ex: &Exclusion) {
    let outer = acquire(ctx, rlock).await;
    assert_eq!(rlock.owner(), Some(current_unit()), "{}", ctx.label());
    let inner = acquire(ctx, rlock).await;
    let third = rlock.try_acquire().expect("re-entry by try_acquire");
    assert_eq!(rlock.count(), 3, "{}", ctx.label());
    ex.section(ctx).await;
    drop(third);
    drop(inner);
    assert_eq!(rlock.count(), 1, "{}", ctx.label());
    drop(outer);
}

fn scenario(cell: &mut Cell) {
    let rlock = Arc::new(RLock::new_bounded());
    let ex = Arc::new(Exclusion::default());
    for i in 0..WAITERS {
        let (rlock, ex) = (rlock.clone(), ex.clone());
        cell.waiter(&format!("waiter#{i}"), move |ctx| async move {
            ctx.until(&format!("{i} queued before me"), || {
                rlock.is_locked() && rlock.waiting() == i
            })
            .await;
            for _ in 0..=ROUNDS {
                round(&ctx, &rlock, &ex).await;
            }
        });
    }
    {
        let (rlock, ex) = (rlock.clone(), ex.clone());
        cell.notifier("notifier", move |ctx| async move {
            let outer = rlock
                .try_acquire()
                .expect("the notifier takes the free rlock");
            let inner = rlock.try_acquire().expect("re-entry");
            ctx.until(&format!("{WAITERS} waiters queued"), || {
                rlock.waiting() == WAITERS
            })
            .await;
            drop(inner);
            assert_eq!((rlock.count(), rlock.waiting()), (1, WAITERS));
            ex.section(&ctx).await;
            drop(outer); // wakes waiter#0 to compete
            for _ in 0..ROUNDS {
                round(&ctx, &rlock, &ex).await;
            }
        });
    }
    cell.check(move || {
        let total = (WAITERS * (ROUNDS + 1) + 1 + ROUNDS) as u64;
        assert_eq!(
            ex.racy.load(SeqCst),
            total,
            "lost updates: exclusion broken"
        );
        assert!(!rlock.is_locked(), "the rlock is still held");
        assert_eq!(rlock.waiting(), 0);
    });
}

#[test]
fn rlock_bounded() {
    run_matrix("rlock-bounded", scenario);
}
