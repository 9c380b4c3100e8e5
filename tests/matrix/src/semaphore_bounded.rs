//! The bounded-fairness semaphore scenario (issue 18 item 1) of the
//! cross-backend matrix (see the harness, `lib.rs`), for every (waiter
//! world, notifier world) pair, on `Semaphore::new_bounded`: a release with
//! waiters wakes the front to compete and a running unit may take free
//! permits first, so the order of service is not checked; the accounting,
//! progress and the final state are.
//!
//! Three waiters queue in the waiting world (one of them for 2 permits at
//! a time) behind a semaphore with no free permit; the notifier releases 2
//! permits, then competes for one permit per round itself. In the second
//! half of its rounds each waiter gives a wait up once before it waits
//! again (a timed-out blocking form, or an async future polled once and
//! dropped): a woken front that leaves passes its wake on. The permits
//! held, counted inside, never exceed 2, every round ends, and every
//! permit comes back. Nothing measures time: a wake-up that does not come
//! fails the cell after the harness's patience.

use crate::{Cell, Ctx, run_matrix};
use polysync::Semaphore;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

const PERMITS: usize = 2;
const WAITERS: usize = 3;
const ROUNDS: usize = 6;

/// What waiter `i` asks for each round.
fn want(i: usize) -> usize {
    if i == 1 { 2 } else { 1 }
}

/// Takes `n` of the permits inside, checking the total.
fn enter(ctx: &Ctx, inside: &AtomicUsize, n: usize) {
    let held = inside.fetch_add(n, SeqCst) + n;
    assert!(
        held <= PERMITS,
        "{}: {held} permits out of {PERMITS} held",
        ctx.label()
    );
}

/// Gives one wait up: a blocking form that times out at once (or takes
/// the permits, if they are free), or an async future polled once and
/// dropped. `Some` if it got the permits after all.
fn give_up_once<'s>(
    ctx: &Ctx,
    sem: &'s Semaphore,
    n: usize,
) -> Option<polysync::Permit<'s, Semaphore>> {
    if ctx.is_async() {
        let mut fut = Box::pin(sem.acquire_many(n));
        match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(p) => Some(p.unwrap()),
            Poll::Pending => None, // dropped while queued (or just woken)
        }
    } else {
        sem.try_acquire_many_for(n, Duration::ZERO).ok()
    }
}

fn scenario(cell: &mut Cell) {
    let sem = Arc::new(Semaphore::new_bounded(0));
    let inside = Arc::new(AtomicUsize::new(0));
    let passes = Arc::new(AtomicUsize::new(0));
    for i in 0..WAITERS {
        let (sem, inside, passes) = (sem.clone(), inside.clone(), passes.clone());
        cell.waiter(&format!("waiter#{i}"), move |ctx| async move {
            ctx.until(&format!("{i} queued before me"), || sem.waiting() == i)
                .await;
            let n = want(i);
            for round in 0..=ROUNDS {
                let early = if round > ROUNDS / 2 {
                    give_up_once(&ctx, &sem, n)
                } else {
                    None
                };
                let p = match early {
                    Some(p) => p,
                    None if ctx.is_async() => sem.acquire_many(n).await.unwrap(),
                    None => sem.acquire_many_blocking(n).unwrap(),
                };
                enter(&ctx, &inside, n);
                ctx.pause().await;
                inside.fetch_sub(n, SeqCst);
                passes.fetch_add(1, SeqCst);
                drop(p);
            }
        });
    }
    {
        let (sem, inside, passes) = (sem.clone(), inside.clone(), passes.clone());
        cell.notifier("notifier", move |ctx| async move {
            ctx.until(&format!("{WAITERS} waiters queued"), || {
                sem.waiting() == WAITERS
            })
            .await;
            sem.release(PERMITS);
            for _ in 0..ROUNDS {
                let p = if ctx.is_async() {
                    sem.acquire().await.unwrap()
                } else {
                    sem.acquire_blocking().unwrap()
                };
                enter(&ctx, &inside, 1);
                inside.fetch_sub(1, SeqCst);
                passes.fetch_add(1, SeqCst);
                drop(p);
            }
        });
    }
    cell.check(move || {
        assert_eq!(passes.load(SeqCst), WAITERS * (ROUNDS + 1) + ROUNDS);
        assert_eq!(sem.value(), PERMITS, "permits not conserved");
        assert_eq!(sem.waiting(), 0);
        assert!(!sem.is_fair());
    });
}

#[test]
fn semaphore_bounded() {
    run_matrix("semaphore-bounded", scenario);
}
