//! The channel scenarios of the cross-backend matrix (see the harness,
//! `src/lib.rs`): a channel closed by the drop of its last `Sender` or last
//! `Receiver`, and the oneshot channel, each run for every (waiter world,
//! notifier world) pair.
//!
//! Only `is_ok`, `is_err`, `expect` and a send error's `into_inner` are used
//! on the results: the scenarios check what happens, not how the error types
//! spell it.
//!
//! A wake-up that the drop under test should cause and does not fails its
//! cell within [`grace`] (one tenth of the harness's patience, 1 s by
//! default): the notifier then says who is still waiting and, where it can,
//! closes the channel explicitly so that nothing stays blocked.

use polysync::channel;
use polysync_matrix::{Cell, Ctx, patience, run_matrix};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

/// How long a wake-up caused by a drop may take before the cell fails.
fn grace() -> Duration {
    patience() / 10
}

/// Polls `cond` (the world's way, as [`Ctx::until`]) for at most `within`:
/// whether it came to hold.
async fn holds_within(ctx: &Ctx, within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + within;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        ctx.sleep(Duration::from_micros(200)).await;
    }
}

/// Records values (ids) from any participant.
#[derive(Default)]
struct Ids(StdMutex<Vec<u64>>);

impl Ids {
    fn push(&self, id: u64) {
        self.0.lock().unwrap().push(id);
    }
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
    fn sorted(&self) -> Vec<u64> {
        let mut ids = self.0.lock().unwrap().clone();
        ids.sort_unstable();
        ids
    }
}

/// `who`'s `k`-th value.
fn item(who: usize, k: usize) -> u64 {
    ((who as u64) << 32) | k as u64
}

// ---------------------------------------------------------------------------
// Channel close-on-drop, both ways.

/// A send that must succeed, in the world's form.
async fn send<T: Send>(ctx: &Ctx, tx: &channel::Sender<T>, v: T, when: &str) {
    let sent = if ctx.is_async() {
        tx.send(v).await
    } else {
        tx.send_blocking(v)
    };
    assert!(sent.is_ok(), "{}: a send {when} failed", ctx.label());
}

/// A receive that must succeed, in the world's form.
async fn recv<T: Send>(ctx: &Ctx, rx: &channel::Receiver<T>, when: &str) -> T {
    let got = if ctx.is_async() {
        rx.recv().await
    } else {
        rx.recv_blocking()
    };
    match got {
        Ok(v) => v,
        Err(_) => panic!("{}: a receive {when} failed", ctx.label()),
    }
}

/// Receivers waiting on the empty channel (part 1).
const RECEIVERS: usize = 3;
/// Values sent to them before the last sender drops.
const VALUES: usize = 5;
/// Senders blocked on the full channel (part 2).
const SENDERS: usize = 3;
/// The capacity of part 2's channel.
const CAPACITY: usize = 2;
/// Values part 2's notifier receives before the last receiver drops.
const TAKEN: usize = 4;

/// Part 1: receivers in the waiting world wait on an empty channel; the
/// notifying world sends `VALUES` values through two senders (the first
/// dropped after its share: the channel stays open), each received exactly
/// once, waits until every receiver waits again, then drops the last
/// sender: every receiver wakes with an error.
fn close_by_last_sender(cell: &mut Cell) {
    let (tx, rx) = channel::unbounded::<u64>();
    let got = Arc::new(Ids::default());
    // Receivers whose receive failed (after the values).
    let failed = Arc::new(AtomicUsize::new(0));
    for r in 0..RECEIVERS {
        let (rx, got, failed) = (rx.clone(), got.clone(), failed.clone());
        cell.waiter(&format!("receiver#{r}"), move |ctx| async move {
            loop {
                let got_one = if ctx.is_async() {
                    rx.recv().await
                } else {
                    rx.recv_blocking()
                };
                match got_one {
                    Ok(v) => got.push(v),
                    Err(_) => break,
                }
            }
            assert!(
                rx.is_closed(),
                "{}: a receive failed on an open channel",
                ctx.label()
            );
            assert!(
                rx.try_recv().is_err(),
                "{}: a value after the failed receive",
                ctx.label()
            );
            failed.fetch_add(1, SeqCst);
        });
    }
    // The notifier's own receiver: watches the count and, if the last
    // sender's drop wakes nobody, closes the channel explicitly so that the
    // cell ends.
    let probe = rx;
    {
        let got = got.clone();
        let failed = failed.clone();
        cell.notifier("last-sender", move |ctx| async move {
            ctx.until(&format!("{RECEIVERS} receivers waiting"), || {
                tx.receiving() == RECEIVERS
            })
            .await;
            // The first sender sends the first values, then drops: the
            // channel stays open for the last one.
            let first = tx.clone();
            for k in 0..VALUES / 2 {
                send(&ctx, &first, item(0, k), "before any Sender dropped").await;
            }
            drop(first);
            assert_eq!(tx.sender_count(), 1, "{}: not the last sender", ctx.label());
            for k in VALUES / 2..VALUES {
                send(&ctx, &tx, item(0, k), "after a non-last Sender dropped").await;
            }
            // Each send handed its value to a waiting receiver: within the
            // grace they all took theirs and wait again.
            if !holds_within(&ctx, grace(), || {
                got.len() == VALUES && tx.receiving() == RECEIVERS
            })
            .await
            {
                let (n, waiting) = (got.len(), tx.receiving());
                probe.close(); // let them go
                panic!(
                    "{}: {n} of {VALUES} values received and {waiting} of {RECEIVERS} \
                     receivers waiting again {:?} after the sends (a lost wake-up?)",
                    ctx.label(),
                    grace()
                );
            }
            assert_eq!(
                failed.load(SeqCst),
                0,
                "{}: a receiver failed before the last sender dropped",
                ctx.label()
            );
            drop(tx); // the last sender: closes the channel, wakes them all
            if !holds_within(&ctx, grace(), || failed.load(SeqCst) == RECEIVERS).await {
                let still = probe.receiving();
                probe.close(); // let them go
                panic!(
                    "{}: {still} of {RECEIVERS} receivers still waiting {:?} after the last \
                     Sender dropped (it did not close the channel or wake them)",
                    ctx.label(),
                    grace()
                );
            }
            assert!(probe.is_closed(), "{}: the channel is open", ctx.label());
            assert!(probe.try_recv().is_err());
        });
    }
    cell.check(move || {
        let expected: Vec<u64> = (0..VALUES).map(|k| item(0, k)).collect();
        assert_eq!(got.sorted(), expected, "values lost or duplicated");
        assert_eq!(failed.load(SeqCst), RECEIVERS);
    });
}

/// A value of part 2 that records its own drop, unless it was accounted
/// for (received, or given back) first: what is left in the channel when
/// the last receiver drops is dropped with it, and shows up here.
struct Val {
    id: u64,
    /// Cleared once the value is accounted for.
    armed: bool,
    dropped: Arc<Ids>,
}

impl Val {
    fn new(id: u64, dropped: &Arc<Ids>) -> Val {
        Val {
            id,
            armed: true,
            dropped: dropped.clone(),
        }
    }

    /// Accounts for the value: its id.
    fn take(mut self) -> u64 {
        self.armed = false;
        self.id
    }
}

impl Drop for Val {
    fn drop(&mut self) {
        if self.armed {
            self.dropped.push(self.id);
        }
    }
}

/// Part 2: senders in the waiting world send until a send fails, blocked
/// on a full bounded channel most of the time; the notifying world takes a
/// few values through two receivers (the first dropped on the way: the
/// channel stays open), waits until every sender is blocked again, then
/// drops the last receiver: every sender wakes with an error that gives its
/// own value back, and every value is accounted for once (received, given
/// back, or left in the channel and dropped with it).
fn close_by_last_receiver(cell: &mut Cell) {
    let (tx, rx) = channel::bounded::<Val>(CAPACITY);
    let sent = Arc::new(Ids::default()); // every value made, before its send
    let received = Arc::new(Ids::default());
    let given_back = Arc::new(Ids::default());
    let dropped = Arc::new(Ids::default());
    let failed = Arc::new(AtomicUsize::new(0));
    for s in 0..SENDERS {
        let (tx, sent, given_back, dropped, failed) = (
            tx.clone(),
            sent.clone(),
            given_back.clone(),
            dropped.clone(),
            failed.clone(),
        );
        cell.waiter(&format!("sender#{s}"), move |ctx| async move {
            for k in 0..1000 {
                let id = item(1 + s, k);
                sent.push(id);
                let v = Val::new(id, &dropped);
                let r = if ctx.is_async() {
                    tx.send(v).await
                } else {
                    tx.send_blocking(v)
                };
                if let Err(e) = r {
                    let back = e.into_inner();
                    assert_eq!(
                        back.id,
                        id,
                        "{}: the failed send gave back another value",
                        ctx.label()
                    );
                    given_back.push(back.take());
                    assert!(
                        tx.is_closed(),
                        "{}: a send failed on an open channel",
                        ctx.label()
                    );
                    failed.fetch_add(1, SeqCst);
                    return;
                }
            }
            panic!("{}: 1000 sends, and none failed", ctx.label());
        });
    }
    // The notifier's own sender: watches the count and, if the last
    // receiver's drop wakes nobody, closes the channel explicitly.
    let probe = tx;
    {
        let (received, failed) = (received.clone(), failed.clone());
        cell.notifier("last-receiver", move |ctx| async move {
            let blocked = || probe.is_full() && probe.sending() == SENDERS;
            ctx.until(
                &format!("{SENDERS} senders blocked on the full channel"),
                blocked,
            )
            .await;
            // The first receiver takes the first values, then drops: the
            // channel stays open for the last one.
            let first = rx.clone();
            for _ in 0..TAKEN / 2 {
                received.push(
                    recv(&ctx, &first, "before any Receiver dropped")
                        .await
                        .take(),
                );
            }
            drop(first);
            for _ in TAKEN / 2..TAKEN {
                received.push(
                    recv(&ctx, &rx, "after a non-last Receiver dropped")
                        .await
                        .take(),
                );
            }
            assert_eq!(
                rx.receiver_count(),
                1,
                "{}: not the last receiver",
                ctx.label()
            );
            // Each receive let a blocked sender's value in: within the
            // grace they are all blocked again (or one failed).
            if !holds_within(&ctx, grace(), || blocked() || failed.load(SeqCst) > 0).await {
                let (len, sending) = (probe.len(), probe.sending());
                probe.close(); // let them go
                panic!(
                    "{}: {len} of {CAPACITY} values in the channel and {sending} of {SENDERS} \
                     senders blocked again {:?} after the receives (a lost wake-up?)",
                    ctx.label(),
                    grace()
                );
            }
            assert_eq!(
                failed.load(SeqCst),
                0,
                "{}: a send failed before the last receiver dropped",
                ctx.label()
            );
            drop(rx); // the last receiver: closes, fails the blocked senders
            if !holds_within(&ctx, grace(), || failed.load(SeqCst) == SENDERS).await {
                let still = probe.sending();
                probe.close(); // let them go
                panic!(
                    "{}: {still} of {SENDERS} senders still blocked {:?} after the last \
                     Receiver dropped (it did not close the channel or wake them)",
                    ctx.label(),
                    grace()
                );
            }
            assert!(probe.is_closed(), "{}: the channel is open", ctx.label());
            assert!(
                probe.is_empty(),
                "{}: values left in the channel after the last Receiver dropped",
                ctx.label()
            );
        });
    }
    cell.check(move || {
        let (received, given_back, dropped) =
            (received.sorted(), given_back.sorted(), dropped.sorted());
        assert_eq!(received.len(), TAKEN);
        assert_eq!(
            given_back.len(),
            SENDERS,
            "not every blocked sender got its value back: {given_back:?}"
        );
        assert_eq!(
            dropped.len(),
            CAPACITY,
            "not the full channel's values dropped with the last receiver: {dropped:?}"
        );
        let mut accounted: Vec<u64> = [&received[..], &given_back[..], &dropped[..]].concat();
        accounted.sort_unstable();
        assert_eq!(
            accounted,
            sent.sorted(),
            "received {received:?} + given back {given_back:?} + dropped {dropped:?} != sent"
        );
    });
}

fn channel_close_scenario(cell: &mut Cell) {
    close_by_last_sender(cell);
    close_by_last_receiver(cell);
}

#[test]
fn channel_close() {
    run_matrix("channel-close", channel_close_scenario);
}

// ---------------------------------------------------------------------------
// Oneshot: (a) a value sent to a waiting receiver, (b) a sender dropped
// unsent wakes it with an error, (c) a send to a dropped receiver gives the
// value back. The three run side by side in each cell.

/// Waits for `fut` in an async world: polls it once (it must be pending:
/// the receiver is then queued), says so with `waiting`, then awaits it.
async fn queued_then_await<F: Future>(ctx: &Ctx, waiting: &AtomicBool, fut: F) -> F::Output {
    let mut fut = pin!(fut);
    assert!(
        futures_lite::future::poll_once(fut.as_mut())
            .await
            .is_none(),
        "{}: the receive completed before anything was sent",
        ctx.label()
    );
    waiting.store(true, SeqCst);
    fut.await
}

/// The receive of (a) and (b): in an async world the future is known to be
/// queued when `waiting` is set; in a blocking world nothing counts a
/// oneshot's waiting receiver, so `waiting` is set just before the blocking
/// receive and the notifier gives it a moment.
async fn oneshot_recv(
    ctx: &Ctx,
    waiting: &AtomicBool,
    rx: &channel::oneshot::Receiver<u64>,
) -> Option<u64> {
    if ctx.is_async() {
        queued_then_await(ctx, waiting, rx.recv()).await.ok()
    } else {
        waiting.store(true, SeqCst);
        rx.recv_blocking().ok()
    }
}

/// What the notifier does once the receiver said it waits: in a blocking
/// world, the receive itself follows the flag, so give it time to block.
async fn receiver_waits(ctx: &Ctx, waiter_is_async: bool, waiting: &AtomicBool) {
    ctx.until("the receiver waiting", || waiting.load(SeqCst))
        .await;
    if !waiter_is_async {
        ctx.sleep(Duration::from_millis(2)).await;
    }
}

const ONESHOT_VALUE: u64 = 42;

fn oneshot_scenario(cell: &mut Cell) {
    let waiter_is_async = cell.waiter_world().is_async();

    // (a) sent to a waiting receiver.
    {
        let (tx, rx) = channel::oneshot::channel::<u64>();
        let waiting = Arc::new(AtomicBool::new(false));
        let got = Arc::new(StdMutex::new(None));
        {
            let (waiting, got) = (waiting.clone(), got.clone());
            cell.waiter("a:receiver", move |ctx| async move {
                let v = oneshot_recv(&ctx, &waiting, &rx).await;
                *got.lock().unwrap() = Some(v);
                assert!(
                    rx.try_recv().is_err(),
                    "{}: a second value from a oneshot",
                    ctx.label()
                );
            });
        }
        {
            let got = got.clone();
            cell.notifier("a:sender", move |ctx| async move {
                receiver_waits(&ctx, waiter_is_async, &waiting).await;
                assert!(!tx.is_closed(), "{}: the receiver is gone", ctx.label());
                assert!(
                    tx.send(ONESHOT_VALUE).is_ok(),
                    "{}: the send failed with the receiver alive",
                    ctx.label()
                );
                if !holds_within(&ctx, grace(), || got.lock().unwrap().is_some()).await {
                    panic!(
                        "{}: the receiver still waiting {:?} after the send",
                        ctx.label(),
                        grace()
                    );
                }
            });
        }
        cell.check(move || {
            assert_eq!(
                *got.lock().unwrap(),
                Some(Some(ONESHOT_VALUE)),
                "(a): the value did not arrive"
            );
        });
    }

    // (b) the sender dropped unsent: the waiting receiver wakes with an error.
    {
        let (tx, rx) = channel::oneshot::channel::<u64>();
        let waiting = Arc::new(AtomicBool::new(false));
        let got = Arc::new(StdMutex::new(None));
        {
            let (waiting, got) = (waiting.clone(), got.clone());
            cell.waiter("b:receiver", move |ctx| async move {
                let v = oneshot_recv(&ctx, &waiting, &rx).await;
                *got.lock().unwrap() = Some(v);
                assert!(
                    rx.is_closed(),
                    "{}: woken, and the channel is not closed",
                    ctx.label()
                );
            });
        }
        {
            let got = got.clone();
            cell.notifier("b:sender", move |ctx| async move {
                receiver_waits(&ctx, waiter_is_async, &waiting).await;
                drop(tx); // unsent
                // Nothing else can end the receiver's wait (a oneshot
                // receiver has no `close`): a receiver left waiting stays.
                if !holds_within(&ctx, grace(), || got.lock().unwrap().is_some()).await {
                    panic!(
                        "{}: the receiver still waiting {:?} after the sender dropped unsent \
                         (not woken)",
                        ctx.label(),
                        grace()
                    );
                }
            });
        }
        cell.check(move || {
            assert_eq!(
                *got.lock().unwrap(),
                Some(None),
                "(b): the receive did not fail"
            );
        });
    }

    // (c) the receiver dropped: the send gives the value back.
    {
        let (tx, rx) = channel::oneshot::channel::<u64>();
        let gone = Arc::new(AtomicBool::new(false));
        {
            let gone = gone.clone();
            cell.waiter("c:receiver", move |ctx| async move {
                assert!(rx.try_recv().is_err(), "{}: a value unsent", ctx.label());
                drop(rx);
                gone.store(true, SeqCst);
            });
        }
        cell.notifier("c:sender", move |ctx| async move {
            ctx.until("the receiver dropped", || gone.load(SeqCst))
                .await;
            assert!(
                tx.is_closed(),
                "{}: the receiver dropped, and the sender does not see it",
                ctx.label()
            );
            match tx.send(ONESHOT_VALUE) {
                Ok(()) => panic!("{}: a send to a dropped receiver succeeded", ctx.label()),
                Err(back) => assert_eq!(back, ONESHOT_VALUE, "{}: not given back", ctx.label()),
            }
        });
    }
}

#[test]
fn oneshot() {
    run_matrix("oneshot", oneshot_scenario);
}
