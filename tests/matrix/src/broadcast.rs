//! The broadcast scenario of the cross-backend matrix (see the harness,
//! `lib.rs`), for every (waiter world, notifier world) pair:
//!
//! 1. **every message to every receiver, then the close:** receivers in the
//!    waiting world receive in a loop; the notifying world sends `ROUNDS`
//!    messages in lock-step (message `k` only once every receiver has
//!    message `k - 1`, so each send finds receivers that wait or are about
//!    to), then drops the last sender: every receiver got every message in
//!    order, then `Closed`, with none left waiting (a lost wake-up hangs the
//!    cell);
//! 2. **lag:** receivers in the waiting world wait on an [`Event`] while the
//!    notifying world overflows a ring of 2 with 5 messages and drops the
//!    sender: each receiver gets `Lagged(3)`, the two kept messages, then
//!    `Closed`;
//! 3. **`Sender::closed`:** a sender in the waiting world waits until no
//!    receiver is left; the notifying world drops the receivers one by one.
//!
//! Async worlds use `recv().await` and `closed().await`, the others
//! `recv_blocking` and `closed_blocking`.

use crate::{Cell, Ctx, run_matrix};
use polysync::Event;
use polysync::broadcast::{self, RecvError};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// Receivers per cell.
const RECEIVERS: usize = 3;
/// Messages of part 1.
const ROUNDS: u64 = 20;

/// A receive in the world's form.
async fn recv(ctx: &Ctx, rx: &mut broadcast::Receiver<u64>) -> Result<u64, RecvError> {
    if ctx.is_async() {
        rx.recv().await
    } else {
        rx.recv_blocking()
    }
}

fn every_message_then_close(cell: &mut Cell) {
    let (tx, rx) = broadcast::channel::<u64>(64);
    // How many receivers hold message k: `progress[r]` = messages r got.
    let progress: Arc<Vec<AtomicUsize>> = Arc::new((0..RECEIVERS).map(|_| 0.into()).collect());
    let closed = Arc::new(AtomicUsize::new(0));
    for r in 0..RECEIVERS {
        let mut rx = tx.subscribe();
        let (progress, closed) = (progress.clone(), closed.clone());
        cell.waiter(&format!("receiver#{r}"), move |ctx| async move {
            for k in 0..ROUNDS {
                match recv(&ctx, &mut rx).await {
                    Ok(v) => assert_eq!(v, k, "{}: out of order", ctx.label()),
                    Err(e) => panic!("{}: message {k}: {e:?}", ctx.label()),
                }
                progress[r].store(k as usize + 1, SeqCst);
            }
            assert_eq!(recv(&ctx, &mut rx).await, Err(RecvError::Closed));
            closed.fetch_add(1, SeqCst);
        });
    }
    drop(rx);
    {
        let progress = progress.clone();
        cell.notifier("sender", move |ctx| async move {
            for k in 0..ROUNDS {
                let all_had = |n: usize| progress.iter().all(|p| p.load(SeqCst) == n);
                ctx.until(&format!("every receiver has {k} messages"), || {
                    all_had(k as usize)
                })
                .await;
                assert_eq!(tx.send(k), Ok(RECEIVERS), "{}: send {k}", ctx.label());
            }
            ctx.until("every receiver has every message", || {
                progress.iter().all(|p| p.load(SeqCst) == ROUNDS as usize)
            })
            .await;
            drop(tx); // the last sender: wakes the receivers with Closed
        });
    }
    cell.check(move || assert_eq!(closed.load(SeqCst), RECEIVERS));
}

fn lag(cell: &mut Cell) {
    let (tx, rx) = broadcast::channel::<u64>(2);
    let gate = Arc::new(Event::new());
    let done = Arc::new(AtomicUsize::new(0));
    for r in 0..RECEIVERS {
        let mut rx = tx.subscribe();
        let (gate, done) = (gate.clone(), done.clone());
        cell.waiter(&format!("lagging#{r}"), move |ctx| async move {
            if ctx.is_async() {
                gate.wait().await;
            } else {
                gate.wait_blocking();
            }
            assert_eq!(recv(&ctx, &mut rx).await, Err(RecvError::Lagged(3)));
            assert_eq!(recv(&ctx, &mut rx).await, Ok(3));
            assert_eq!(recv(&ctx, &mut rx).await, Ok(4));
            assert_eq!(recv(&ctx, &mut rx).await, Err(RecvError::Closed));
            done.fetch_add(1, SeqCst);
        });
    }
    drop(rx);
    cell.notifier("overflow", move |ctx| async move {
        for k in 0..5 {
            assert_eq!(tx.send(k), Ok(RECEIVERS), "{}", ctx.label());
        }
        drop(tx);
        gate.set();
    });
    cell.check(move || assert_eq!(done.load(SeqCst), RECEIVERS));
}

fn sender_closed(cell: &mut Cell) {
    let (tx, rx) = broadcast::channel::<u64>(4);
    let mut receivers: Vec<_> = (1..RECEIVERS).map(|_| tx.subscribe()).collect();
    receivers.push(rx);
    let watching = tx.clone();
    cell.waiter("closed", move |ctx| async move {
        if ctx.is_async() {
            tx.closed().await;
        } else {
            tx.closed_blocking();
        }
        assert_eq!(tx.receiver_count(), 0, "{}", ctx.label());
        assert!(tx.send(1).is_err());
    });
    cell.notifier("dropper", move |ctx| async move {
        while let Some(rx) = receivers.pop() {
            ctx.pause().await;
            drop(rx);
        }
        assert_eq!(watching.receiver_count(), 0);
    });
}

fn scenario(cell: &mut Cell) {
    every_message_then_close(cell);
    lag(cell);
    sender_closed(cell);
}

#[test]
fn broadcast() {
    run_matrix("broadcast", scenario);
}
