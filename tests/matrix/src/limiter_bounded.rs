//! The bounded-fairness limiter scenario (issue 18 item 1) of the
//! cross-backend matrix (see the harness, `lib.rs`), for every (waiter
//! world, notifier world) pair, on `CapacityLimiter::new_bounded`: a token
//! given back with waiters wakes the front to compete and a running unit
//! may take it first, so the order of service is not checked; the bound on
//! borrowers, the identity rule, progress and the final state are.
//!
//! Three borrowers queue in the waiting world behind a limiter with no
//! token; the notifier raises the total to 2, then competes for a token
//! per round itself. In the second half of its rounds each borrower gives a
//! wait up once before it waits again (a timed-out blocking form, or an
//! async future polled once and dropped): a woken front that leaves passes
//! its wake on. The borrowers, counted inside, never exceed 2, a borrower
//! asking again is refused, every round ends, and every token comes back.
//! Nothing measures time: a wake-up that does not come fails the cell after
//! the harness's patience.

use crate::{Cell, Ctx, run_matrix};
use polysync::{BorrowError, CapacityLimiter, LimiterToken};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

const TOKENS: usize = 2;
const WAITERS: usize = 3;
const ROUNDS: usize = 6;

/// One borrower inside, checking the total.
fn enter(ctx: &Ctx, inside: &AtomicUsize) {
    let held = inside.fetch_add(1, SeqCst) + 1;
    assert!(
        held <= TOKENS,
        "{}: {held} borrowers of {TOKENS} tokens",
        ctx.label()
    );
}

/// Gives one wait up: a blocking form that times out at once (or takes a
/// token, if one is free), or an async future polled once and dropped.
/// `Some` if it got a token after all.
fn give_up_once<'l>(ctx: &Ctx, limiter: &'l CapacityLimiter) -> Option<LimiterToken<'l>> {
    if ctx.is_async() {
        let mut fut = Box::pin(limiter.acquire());
        match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(t) => Some(t.unwrap()),
            Poll::Pending => None, // dropped while queued (or just woken)
        }
    } else {
        match limiter.try_acquire_for(Duration::ZERO) {
            Ok(t) => Some(t),
            Err(BorrowError::Unavailable) => None,
            Err(e) => panic!("{}: {e}", ctx.label()),
        }
    }
}

async fn borrow<'l>(ctx: &Ctx, limiter: &'l CapacityLimiter) -> LimiterToken<'l> {
    if ctx.is_async() {
        limiter.acquire().await
    } else {
        limiter.acquire_blocking()
    }
    .unwrap_or_else(|e| panic!("{}: {e}", ctx.label()))
}

fn scenario(cell: &mut Cell) {
    let limiter = Arc::new(CapacityLimiter::new_bounded(0));
    let inside = Arc::new(AtomicUsize::new(0));
    let passes = Arc::new(AtomicUsize::new(0));
    for i in 0..WAITERS {
        let (limiter, inside, passes) = (limiter.clone(), inside.clone(), passes.clone());
        cell.waiter(&format!("borrower#{i}"), move |ctx| async move {
            ctx.until(&format!("{i} queued before me"), || limiter.waiting() == i)
                .await;
            for round in 0..=ROUNDS {
                let early = if round > ROUNDS / 2 {
                    give_up_once(&ctx, &limiter)
                } else {
                    None
                };
                let token = match early {
                    Some(token) => token,
                    None => borrow(&ctx, &limiter).await,
                };
                enter(&ctx, &inside);
                assert_eq!(
                    limiter.try_acquire().unwrap_err(),
                    BorrowError::AlreadyBorrowing,
                    "{}: a second token for the same unit",
                    ctx.label()
                );
                ctx.pause().await;
                inside.fetch_sub(1, SeqCst);
                passes.fetch_add(1, SeqCst);
                drop(token);
            }
        });
    }
    {
        let (limiter, inside, passes) = (limiter.clone(), inside.clone(), passes.clone());
        cell.notifier("notifier", move |ctx| async move {
            ctx.until(&format!("{WAITERS} borrowers queued"), || {
                limiter.waiting() == WAITERS
            })
            .await;
            limiter.set_total_tokens(TOKENS);
            for _ in 0..ROUNDS {
                let token = borrow(&ctx, &limiter).await;
                enter(&ctx, &inside);
                inside.fetch_sub(1, SeqCst);
                passes.fetch_add(1, SeqCst);
                drop(token);
            }
        });
    }
    cell.check(move || {
        assert_eq!(passes.load(SeqCst), WAITERS * (ROUNDS + 1) + ROUNDS);
        assert_eq!(limiter.available_tokens(), TOKENS, "tokens not conserved");
        assert_eq!(limiter.waiting(), 0);
        assert!(!limiter.is_fair());
    });
}

#[test]
fn limiter_bounded() {
    run_matrix("limiter-bounded", scenario);
}
