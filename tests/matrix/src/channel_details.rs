//! The channel details of issue 20 (items 5 and 6) over the matrix: each
//! scenario runs for every (waiter world, notifier world) pair
//! (`tests/channel_details.rs` registers them).
//!
//! - `closed`: a sender waits for the channel's close (`Sender::closed`,
//!   async or blocking) while the notifier drops the receivers, one by one
//!   (an mpsc channel), or the only one (a oneshot channel);
//! - `oneshot-future`: the oneshot receiver awaited as a future (`(&mut
//!   rx).await` in async worlds; polysync's `block_on` over it in the
//!   blocking ones), woken by a send, then by a sender dropped unsent;
//! - `recv-many`: a receiver waits in `recv_many` on an empty channel and
//!   takes every value the notifier sends, in order, none twice, then `0`
//!   once the last sender dropped;
//! - `send-timeout`: a sender blocked on a full channel by
//!   `send_timeout` (async; `send_with` without deadline in blocking worlds)
//!   completes when the notifier receives; then one whose "timer" is an
//!   event the notifier sets (async; a zero timeout in blocking worlds)
//!   gets its value back as `Full`.
//!
//! Nothing measures time: a wake-up that does not come fails the cell after
//! the harness's patience.

use crate::{Cell, Ctx};
use polysync::channel::{self, TrySendError};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

/// Says "about to wait", then lets the other side see it.
async fn about_to_wait(ctx: &Ctx, flag: &AtomicBool) {
    flag.store(true, SeqCst);
    ctx.pause().await;
}

/// The notifier's side of [`about_to_wait`]: waits for the flag, then (a
/// blocking waiter says so just before it blocks) gives it a moment to
/// block. Only helps the waiting path run; no outcome depends on it.
async fn other_waits(ctx: &Ctx, flag: &AtomicBool) {
    ctx.until("the waiter about to wait", || flag.load(SeqCst))
        .await;
    ctx.sleep(Duration::from_millis(1)).await;
}

/// `closed` (see the module docs).
pub fn closed(cell: &mut Cell) {
    // (a) mpsc: two receivers; the sender's wait ends after the second drop.
    let (tx, rx) = channel::bounded::<u64>(1);
    let rx2 = rx.clone();
    let waiting = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    {
        let (waiting, done) = (waiting.clone(), done.clone());
        cell.waiter("a:sender", move |ctx| async move {
            about_to_wait(&ctx, &waiting).await;
            if ctx.is_async() {
                tx.closed().await;
            } else {
                tx.closed_blocking();
            }
            assert!(tx.is_closed(), "{}: woken, not closed", ctx.label());
            assert!(
                tx.try_send(1).unwrap_err().is_disconnected(),
                "{}: a send after closed() succeeded",
                ctx.label()
            );
            done.store(true, SeqCst);
        });
    }
    {
        let done = done.clone();
        cell.notifier("a:receivers", move |ctx| async move {
            other_waits(&ctx, &waiting).await;
            drop(rx);
            assert!(
                !done.load(SeqCst),
                "{}: closed() ended with a receiver alive",
                ctx.label()
            );
            drop(rx2);
        });
    }
    // (b) oneshot.
    let (otx, orx) = channel::oneshot::channel::<u64>();
    let owaiting = Arc::new(AtomicBool::new(false));
    {
        let owaiting = owaiting.clone();
        cell.waiter("b:sender", move |ctx| async move {
            about_to_wait(&ctx, &owaiting).await;
            if ctx.is_async() {
                otx.closed().await;
            } else {
                otx.closed_blocking();
            }
            assert!(otx.is_closed(), "{}: woken, not closed", ctx.label());
            assert_eq!(otx.send(7), Err(7), "{}: sent to nobody", ctx.label());
        });
    }
    cell.notifier("b:receiver", move |ctx| async move {
        other_waits(&ctx, &owaiting).await;
        drop(orx);
    });
    cell.check(move || assert!(done.load(SeqCst), "(a): the sender did not finish"));
}

/// Awaits the oneshot receiver as a future, the world's way.
async fn await_receiver(
    ctx: &Ctx,
    rx: &mut channel::oneshot::Receiver<u64>,
) -> Result<u64, channel::RecvError> {
    if ctx.is_async() {
        rx.await
    } else {
        polysync::lowlevel::block_on(rx, None).expect("no deadline, no cancellation")
    }
}

/// `oneshot-future` (see the module docs).
pub fn oneshot_future(cell: &mut Cell) {
    let (tx, mut rx) = channel::oneshot::channel::<u64>();
    let (tx2, mut rx2) = channel::oneshot::channel::<u64>();
    let waiting = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
    let got = Arc::new(StdMutex::new(Vec::new()));
    {
        let (waiting, got) = (waiting.clone(), got.clone());
        cell.waiter("receiver", move |ctx| async move {
            about_to_wait(&ctx, &waiting[0]).await;
            let first = await_receiver(&ctx, &mut rx).await;
            got.lock().unwrap().push(first);
            // Completed: polled again, it says the value was taken.
            assert!(
                await_receiver(&ctx, &mut rx).await.is_err(),
                "{}: a second value",
                ctx.label()
            );
            about_to_wait(&ctx, &waiting[1]).await;
            let second = await_receiver(&ctx, &mut rx2).await;
            got.lock().unwrap().push(second);
        });
    }
    cell.notifier("sender", move |ctx| async move {
        other_waits(&ctx, &waiting[0]).await;
        assert_eq!(tx.send(42), Ok(()), "{}: send failed", ctx.label());
        other_waits(&ctx, &waiting[1]).await;
        drop(tx2);
    });
    cell.check(move || {
        assert_eq!(*got.lock().unwrap(), [Ok(42), Err(channel::RecvError)]);
    });
}

/// Values sent in `recv-many`.
const MANY: u64 = 40;

/// `recv-many` (see the module docs).
pub fn recv_many(cell: &mut Cell) {
    let (tx, rx) = channel::bounded::<u64>(4);
    let waiting = Arc::new(AtomicBool::new(false));
    let got = Arc::new(StdMutex::new(Vec::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    {
        let (waiting, got, calls) = (waiting.clone(), got.clone(), calls.clone());
        cell.waiter("receiver", move |ctx| async move {
            about_to_wait(&ctx, &waiting).await;
            let mut buffer = Vec::new();
            loop {
                let before = buffer.len();
                let n = if ctx.is_async() {
                    rx.recv_many(&mut buffer, 3).await
                } else {
                    rx.recv_many_blocking(&mut buffer, 3)
                };
                assert!(n <= 3, "{}: {n} values over the limit", ctx.label());
                assert_eq!(buffer.len(), before + n, "{}: count", ctx.label());
                calls.fetch_add(1, SeqCst);
                if n == 0 {
                    break;
                }
            }
            assert!(rx.is_closed(), "{}: 0 before the close", ctx.label());
            *got.lock().unwrap() = buffer;
        });
    }
    cell.notifier("sender", move |ctx| async move {
        other_waits(&ctx, &waiting).await;
        for v in 0..MANY {
            let sent = if ctx.is_async() {
                tx.send(v).await
            } else {
                tx.send_blocking(v)
            };
            assert!(sent.is_ok(), "{}: send {v} failed", ctx.label());
        }
        drop(tx);
    });
    cell.check(move || {
        assert_eq!(*got.lock().unwrap(), (0..MANY).collect::<Vec<_>>());
        // At most 3 values a call, then one call that returns 0.
        assert!(calls.load(SeqCst) > (MANY as usize).div_ceil(3));
    });
}

/// `send-timeout` (see the module docs).
pub fn send_timeout(cell: &mut Cell) {
    let (tx, rx) = channel::bounded::<u64>(1);
    let waiting = Arc::new(AtomicBool::new(false));
    let give_up = Arc::new(polysync::Event::new());
    let outcome = Arc::new(StdMutex::new(None));
    {
        let (waiting, give_up, outcome) = (waiting.clone(), give_up.clone(), outcome.clone());
        cell.waiter("sender", move |ctx| async move {
            tx.try_send(0).unwrap(); // full from now on
            about_to_wait(&ctx, &waiting).await;
            // (a) The notifier receives: the waiting send goes in.
            let sent = if ctx.is_async() {
                tx.send_timeout(1, std::future::pending::<()>()).await
            } else {
                tx.try_send_until(1, far_future())
            };
            assert_eq!(sent, Ok(()), "{}: (a) the send failed", ctx.label());
            // (b) Nobody receives (the channel stays full): the timer wins
            // and the value comes back.
            let back = if ctx.is_async() {
                tx.send_timeout(2, give_up.wait()).await
            } else {
                tx.try_send_for(2, Duration::ZERO)
            };
            *outcome.lock().unwrap() = Some(back);
        });
    }
    {
        let (give_up, outcome) = (give_up.clone(), outcome.clone());
        cell.notifier("receiver", move |ctx| async move {
            other_waits(&ctx, &waiting).await;
            let first = if ctx.is_async() {
                rx.recv().await
            } else {
                rx.recv_blocking()
            };
            assert_eq!(first, Ok(0), "{}: first value", ctx.label());
            give_up.set();
            ctx.until("the second send to give up", || {
                outcome.lock().unwrap().is_some()
            })
            .await;
            assert_eq!(rx.try_recv(), Ok(1), "{}: second value", ctx.label());
            assert!(rx.try_recv().is_err(), "{}: a third value", ctx.label());
        });
    }
    cell.check(move || {
        assert_eq!(
            *outcome.lock().unwrap(),
            Some(Err(TrySendError::Full(2))),
            "(b): the value did not come back"
        );
    });
}

/// A deadline that never passes in a test.
fn far_future() -> std::time::Instant {
    std::time::Instant::now() + Duration::from_secs(3600)
}
