//! The RwLock's bounded fairness across worlds (issue 18, `RwLock::new_bounded`):
//! waiters in one world, the notifier in another (see the harness,
//! `lib.rs`). Per cell: a writer (waiter 0) and two readers (waiters 1 and
//! 2) queue behind the notifier's write hold, in that order; the release
//! wakes the writer to compete (it is not handed the lock), and the
//! notifier reads right after it released (a barge where the writer has
//! not retried yet). Everyone gets in: the writer, then the readers behind
//! it as one batch. Then everyone, the notifier too, contends for a few
//! rounds of reads and writes, with exclusion checked on one word (never a
//! writer beside anyone) and every write counted. A lost wake-up hangs the
//! cell. Run with `cargo test -p polysync-matrix --lib rwlock_bounded`.

use crate::{Cell, Ctx, run_matrix};
use polysync::RwLock;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

const WAITERS: usize = 3;
const ROUNDS: usize = 6;
const WRITER_IN: u64 = 1 << 32;

/// Readers inside, plus `WRITER_IN` per writer.
#[derive(Default)]
struct Inside(AtomicU64);

impl Inside {
    async fn read(&self, ctx: &Ctx) {
        let before = self.0.fetch_add(1, SeqCst);
        assert!(
            before < WRITER_IN,
            "{}: a reader beside a writer",
            ctx.label()
        );
        ctx.pause().await;
        self.0.fetch_sub(1, SeqCst);
    }

    async fn write(&self, ctx: &Ctx) {
        let before = self.0.fetch_add(WRITER_IN, SeqCst);
        assert_eq!(before, 0, "{}: a writer beside others", ctx.label());
        ctx.pause().await;
        self.0.fetch_sub(WRITER_IN, SeqCst);
    }
}

/// One read or write in `ctx`'s world; a write adds 1 to the value.
async fn turn(lock: &RwLock<u64>, inside: &Inside, ctx: &Ctx, write: bool) {
    if write {
        let mut g = if ctx.is_async() {
            lock.write().await
        } else {
            lock.write_blocking()
        };
        inside.write(ctx).await;
        *g += 1;
    } else {
        let g = if ctx.is_async() {
            lock.read().await
        } else {
            lock.read_blocking()
        };
        inside.read(ctx).await;
        drop(g);
    }
}

fn scenario(cell: &mut Cell) {
    let lock = Arc::new(RwLock::new_bounded(0u64));
    let inside = Arc::new(Inside::default());
    for i in 0..WAITERS {
        let (lock, inside) = (lock.clone(), inside.clone());
        cell.waiter(&format!("waiter#{i}"), move |ctx| async move {
            ctx.until(&format!("{i} queued before me"), || {
                lock.is_write_locked() && lock.waiting() == i
            })
            .await;
            for round in 0..=ROUNDS {
                // Waiter 0 writes first, then every third turn; the others
                // read first.
                let write = (round + 3 - i) % 3 == 0;
                turn(&lock, &inside, &ctx, write).await;
            }
        });
    }
    {
        let (lock, inside) = (lock.clone(), inside.clone());
        cell.notifier("notifier", move |ctx| async move {
            let g = lock.try_write().expect("the notifier takes the free lock");
            ctx.until(&format!("{WAITERS} waiters queued"), || {
                lock.waiting() == WAITERS
            })
            .await;
            inside.write(&ctx).await;
            drop(g); // wakes waiter#0 to compete
            for round in 0..ROUNDS {
                turn(&lock, &inside, &ctx, round % 2 == 1).await;
            }
        });
    }
    let (lock, inside) = (lock.clone(), inside.clone());
    cell.check(move || {
        let writes = (0..=ROUNDS).filter(|r| r % 3 == 0).count()
            + (0..=ROUNDS).filter(|r| (r + 2) % 3 == 0).count()
            + (0..=ROUNDS).filter(|r| (r + 1) % 3 == 0).count()
            + (0..ROUNDS).filter(|r| r % 2 == 1).count();
        assert_eq!(
            *lock.try_read().expect("free"),
            writes as u64,
            "lost writes"
        );
        assert_eq!(inside.0.load(SeqCst), 0);
        assert!(!lock.is_locked());
        assert_eq!(lock.waiting(), 0);
    });
}

#[test]
fn rwlock_bounded() {
    run_matrix("rwlock-bounded", scenario);
}
