//! The send-permit scenario (issue 20 item 5) of the cross-backend matrix
//! (see the harness, `lib.rs`), for every (waiter world, notifier world)
//! pair. On a channel of capacity 1, a sender in the waiting world:
//!
//! 1. reserves while the only place is held by the notifier's owned permit,
//!    and is woken when the notifier drops that permit; it sends 1 through
//!    its permit;
//! 2. reserves by value (`reserve_owned`) while 1 fills the channel, and is
//!    woken when the notifier receives 1; it sends 2 and gets the sender
//!    back;
//! 3. reserves while 2 fills the channel, and is woken with the error when
//!    the notifier closes the channel (which then still drains 2).
//!
//! Async worlds use `reserve().await` and `reserve_owned().await`, the
//! others `reserve_blocking` and `reserve_owned_blocking`. Nothing measures
//! time: a wake-up that does not come fails the cell after the harness's
//! patience.

use crate::{Cell, Ctx, run_matrix};
use polysync::channel::{self, RecvError, SendError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

/// Says "about to wait", then lets the other side see it.
async fn about_to_wait(ctx: &Ctx, flag: &AtomicBool) {
    flag.store(true, SeqCst);
    ctx.pause().await;
}

/// Waits for the flag, then gives a blocking waiter a moment to block.
/// Only helps the waiting path run; no outcome depends on it.
async fn other_waits(ctx: &Ctx, flag: &AtomicBool) {
    ctx.until("the sender about to wait", || flag.load(SeqCst))
        .await;
    ctx.sleep(Duration::from_millis(1)).await;
}

/// `reserve` (see the module docs).
fn scenario(cell: &mut Cell) {
    let (tx, rx) = channel::bounded::<u64>(1);
    let held = tx.clone().try_reserve_owned().unwrap(); // full from now on
    let waiting = Arc::new([
        AtomicBool::new(false),
        AtomicBool::new(false),
        AtomicBool::new(false),
    ]);
    let steps = Arc::new(AtomicUsize::new(0));
    {
        let (waiting, steps) = (waiting.clone(), steps.clone());
        cell.waiter("sender", move |ctx| async move {
            about_to_wait(&ctx, &waiting[0]).await;
            let permit = if ctx.is_async() {
                tx.reserve().await
            } else {
                tx.reserve_blocking()
            };
            permit
                .unwrap_or_else(|_| panic!("{}: (1) no permit", ctx.label()))
                .send(1);
            steps.fetch_add(1, SeqCst);
            about_to_wait(&ctx, &waiting[1]).await;
            let owned = if ctx.is_async() {
                tx.reserve_owned().await
            } else {
                tx.reserve_owned_blocking()
            };
            let tx = owned
                .unwrap_or_else(|_| panic!("{}: (2) no permit", ctx.label()))
                .send(2);
            steps.fetch_add(1, SeqCst);
            about_to_wait(&ctx, &waiting[2]).await;
            let closed = if ctx.is_async() {
                tx.reserve().await.map(drop)
            } else {
                tx.reserve_blocking().map(drop)
            };
            assert_eq!(closed, Err(SendError(())), "{}: (3)", ctx.label());
            steps.fetch_add(1, SeqCst);
        });
    }
    cell.notifier("receiver", move |ctx| async move {
        other_waits(&ctx, &waiting[0]).await;
        drop(held);
        other_waits(&ctx, &waiting[1]).await;
        let first = if ctx.is_async() {
            rx.recv().await
        } else {
            rx.recv_blocking()
        };
        assert_eq!(first, Ok(1), "{}: first value", ctx.label());
        other_waits(&ctx, &waiting[2]).await;
        ctx.until("the second value", || rx.len() == 1).await;
        rx.close();
        assert_eq!(
            rx.try_recv(),
            Ok(2),
            "{}: drained after the close",
            ctx.label()
        );
        ctx.until("the sender to finish", || rx.sender_count() == 0)
            .await;
        let last = if ctx.is_async() {
            rx.recv().await
        } else {
            rx.recv_blocking()
        };
        assert_eq!(
            last,
            Err(RecvError),
            "{}: a value after the close",
            ctx.label()
        );
    });
    cell.check(move || assert_eq!(steps.load(SeqCst), 3, "the sender did not finish"));
}

#[test]
fn channel_reserve() {
    run_matrix("reserve", scenario);
}
