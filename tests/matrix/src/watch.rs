//! The `watch` scenario of the matrix: receivers in the waiting world follow
//! a `polysync::watch` channel whose sender lives in the notifying world
//! (every send wakes every queued receiver, the last sender's drop wakes
//! them with an error), and a sender in the waiting world waits in
//! `closed` until the notifying world drops the last receiver.
//!
//! Sends go in lockstep: the notifier sends value `k` only once every
//! receiver has seen `k - 1` and is queued again (`Sender::receiving`), so
//! each send takes the wake-up path, and each receiver must see every value
//! once, in order. A wake-up that does not come leaves a participant
//! running: the cell fails as a hang naming it.

use crate::{Cell, Ctx};
use polysync::watch;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

/// Receivers in the waiting world.
const RECEIVERS: usize = 3;
/// Values sent after the initial 0.
const VALUES: u64 = 5;

/// A wait for a change in the world's form.
async fn changed(ctx: &Ctx, rx: &mut watch::Receiver<u64>) -> Result<(), watch::RecvError> {
    if ctx.is_async() {
        rx.changed().await
    } else {
        rx.changed_blocking()
    }
}

/// The watch scenario (registered in `tests/matrix.rs`).
pub fn scenario(cell: &mut Cell) {
    follow(cell);
    closed(cell);
}

/// Receivers follow the value until the channel closes.
fn follow(cell: &mut Cell) {
    let (tx, rx) = watch::channel(0u64);
    // What each receiver saw, and the last value it saw (for the lockstep).
    let seen: Arc<Vec<Mutex<Vec<u64>>>> =
        Arc::new((0..RECEIVERS).map(|_| Mutex::new(Vec::new())).collect());
    let last: Arc<Vec<AtomicU64>> = Arc::new((0..RECEIVERS).map(|_| AtomicU64::new(0)).collect());
    let ended = Arc::new(AtomicUsize::new(0));
    for r in 0..RECEIVERS {
        let (mut rx, seen, last, ended) = (rx.clone(), seen.clone(), last.clone(), ended.clone());
        cell.waiter(&format!("receiver#{r}"), move |ctx| async move {
            while changed(&ctx, &mut rx).await.is_ok() {
                let v = *rx.borrow_and_update();
                seen[r].lock().unwrap().push(v);
                last[r].store(v, SeqCst);
            }
            assert!(
                rx.is_closed(),
                "{}: changed failed on an open channel",
                ctx.label()
            );
            assert_eq!(*rx.borrow(), VALUES, "{}: not the last value", ctx.label());
            ended.fetch_add(1, SeqCst);
        });
    }
    drop(rx);
    {
        let last = last.clone();
        cell.notifier("sender", move |ctx| async move {
            let all_at =
                |k: u64| last.iter().all(|l| l.load(SeqCst) == k) && tx.receiving() == RECEIVERS;
            for k in 1..=VALUES {
                ctx.until(&format!("every receiver at {} and queued", k - 1), || {
                    all_at(k - 1)
                })
                .await;
                tx.send(k).expect("the receivers are alive");
            }
            ctx.until(&format!("every receiver at {VALUES} and queued"), || {
                all_at(VALUES)
            })
            .await;
            assert_eq!(tx.receiver_count(), RECEIVERS, "{}", ctx.label());
            drop(tx); // the last sender: closes, wakes them all with an error
        });
    }
    cell.check(move || {
        let expected: Vec<u64> = (1..=VALUES).collect();
        for (r, s) in seen.iter().enumerate() {
            assert_eq!(
                *s.lock().unwrap(),
                expected,
                "receiver#{r} saw these values"
            );
        }
        assert_eq!(ended.load(SeqCst), RECEIVERS);
    });
}

/// A sender in the waiting world waits until every receiver is gone.
fn closed(cell: &mut Cell) {
    let (tx, rx) = watch::channel(0u64);
    let rx2 = rx.clone();
    let probe = tx.clone();
    let done = Arc::new(AtomicUsize::new(0));
    {
        let done = done.clone();
        cell.waiter("closed", move |ctx| async move {
            if ctx.is_async() {
                tx.closed().await;
            } else {
                tx.closed_blocking();
            }
            assert!(
                tx.is_closed(),
                "{}: woken with receivers alive",
                ctx.label()
            );
            assert!(
                tx.send(1).is_err(),
                "{}: a send with no receiver",
                ctx.label()
            );
            done.fetch_add(1, SeqCst);
        });
    }
    cell.notifier("receivers", move |ctx| async move {
        ctx.until("the sender waiting in closed", || {
            probe.waiting_closed() == 1
        })
        .await;
        drop(rx);
        assert_eq!(probe.receiver_count(), 1, "{}", ctx.label());
        drop(rx2); // the last receiver: wakes the waiting sender
    });
    cell.check(move || assert_eq!(done.load(SeqCst), 1));
}
