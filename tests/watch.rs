//! tokio's tests of `tokio::sync::watch`, ported to `polysync::watch`.
//!
//! Upstream: tokio 1.54.1, `tokio/tests/sync_watch.rs`. Every scenario and
//! every assertion is kept, in the same order, with the same names.
//!
//! Documented differences:
//! - tokio-test's `task::spawn` (a future polled by hand with a waker that
//!   records wakes) is [`Task`] below, with the same `poll` / `is_woken`.
//! - The `*_is_cooperative` tests rely on tokio's coop budget, which
//!   tokio's own futures spend; polysync's async waits take a checkpoint
//!   instead (see `polysync::lowlevel::checkpoint`), which polysync-tokio
//!   ties to the same budget. This crate's tests do not install
//!   polysync-tokio, so the looping futures run under
//!   `checkpoint::scoped(true, ..)`, which yields once per wait that did
//!   not have to wait: the property the tests check (the loop lets the
//!   other `select!` branch run).
//! - `receiver_wait_for_is_cooperative_ok`: polysync's `wait_for` takes its
//!   checkpoint before its first look (the result holds the read lock,
//!   never held across a yield), so the loop yields there.
//!
//! Every test is synchronous or runs a current-thread runtime, and under a
//! watchdog (a lost wake-up fails the run instead of hanging it).

#[path = "support/worlds.rs"]
mod worlds;

use polysync::lowlevel::checkpoint;
use polysync::watch;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;
use worlds::Watchdog;

fn dog(name: &'static str) -> Watchdog {
    Watchdog::new(name, Duration::from_secs(20))
}

/// Counts wakes.
struct Wakes(AtomicUsize);

impl Wake for Wakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A future polled by hand (tokio-test's `task::Spawn`): `is_woken` says
/// whether a wake arrived since the last poll.
struct Task<F> {
    fut: Pin<Box<F>>,
    wakes: Arc<Wakes>,
    waker: Waker,
}

fn spawn<F: Future>(fut: F) -> Task<F> {
    let wakes = Arc::new(Wakes(AtomicUsize::new(0)));
    let waker = Waker::from(wakes.clone());
    Task {
        fut: Box::pin(fut),
        wakes,
        waker,
    }
}

impl<F: Future> Task<F> {
    fn poll(&mut self) -> Poll<F::Output> {
        self.wakes.0.store(0, Ordering::SeqCst);
        self.fut
            .as_mut()
            .poll(&mut Context::from_waker(&self.waker))
    }

    fn is_woken(&self) -> bool {
        self.wakes.0.load(Ordering::SeqCst) > 0
    }
}

macro_rules! assert_pending {
    ($e:expr) => {
        assert!($e.is_pending(), "ready; expected pending")
    };
}

macro_rules! assert_ready {
    ($e:expr) => {
        match $e {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("pending; expected ready"),
        }
    };
}

macro_rules! assert_ready_ok {
    ($e:expr) => {
        assert_ready!($e).expect("ready Err; expected Ok")
    };
}

macro_rules! assert_ready_err {
    ($e:expr) => {
        assert_ready!($e).expect_err("ready Ok; expected Err")
    };
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn single_rx_recv() {
    let _dog = dog("single_rx_recv");
    let (tx, mut rx) = watch::channel("one");

    {
        // Not initially notified
        let mut t = spawn(rx.changed());
        assert_pending!(t.poll());
    }
    assert_eq!(*rx.borrow(), "one");

    {
        let mut t = spawn(rx.changed());
        assert_pending!(t.poll());

        tx.send("two").unwrap();

        assert!(t.is_woken());

        assert_ready_ok!(t.poll());
    }
    assert_eq!(*rx.borrow(), "two");

    {
        let mut t = spawn(rx.changed());
        assert_pending!(t.poll());

        drop(tx);

        assert!(t.is_woken());
        assert_ready_err!(t.poll());
    }
    assert_eq!(*rx.borrow(), "two");
}

#[test]
fn rx_version_underflow() {
    let _dog = dog("rx_version_underflow");
    let (_tx, mut rx) = watch::channel("one");

    // The first version, marked changed twice: nothing underflows.
    rx.mark_changed();
    rx.mark_changed();
}

#[test]
fn rx_mark_changed() {
    let _dog = dog("rx_mark_changed");
    let (tx, mut rx) = watch::channel("one");

    let mut rx2 = rx.clone();
    let mut rx3 = rx.clone();
    let mut rx4 = rx.clone();
    {
        rx.mark_changed();
        assert!(rx.has_changed().unwrap());

        let mut t = spawn(rx.changed());
        assert_ready_ok!(t.poll());
    }

    {
        assert!(!rx2.has_changed().unwrap());

        let mut t = spawn(rx2.changed());
        assert_pending!(t.poll());
    }

    {
        rx3.mark_changed();
        assert_eq!(*rx3.borrow(), "one");

        assert!(rx3.has_changed().unwrap());

        assert_eq!(*rx3.borrow_and_update(), "one");

        assert!(!rx3.has_changed().unwrap());

        let mut t = spawn(rx3.changed());
        assert_pending!(t.poll());
    }

    {
        tx.send("two").unwrap();
        assert!(rx4.has_changed().unwrap());
        assert_eq!(*rx4.borrow_and_update(), "two");

        rx4.mark_changed();
        assert!(rx4.has_changed().unwrap());
        assert_eq!(*rx4.borrow_and_update(), "two")
    }

    assert_eq!(*rx.borrow(), "two");
}

#[test]
fn rx_mark_unchanged() {
    let _dog = dog("rx_mark_unchanged");
    let (tx, mut rx) = watch::channel("one");

    let mut rx2 = rx.clone();

    {
        assert!(!rx.has_changed().unwrap());

        rx.mark_changed();
        assert!(rx.has_changed().unwrap());

        rx.mark_unchanged();
        assert!(!rx.has_changed().unwrap());

        let mut t = spawn(rx.changed());
        assert_pending!(t.poll());
    }

    {
        assert!(!rx2.has_changed().unwrap());

        tx.send("two").unwrap();
        assert!(rx2.has_changed().unwrap());

        rx2.mark_unchanged();
        assert!(!rx2.has_changed().unwrap());
        assert_eq!(*rx2.borrow_and_update(), "two");
    }

    assert_eq!(*rx.borrow(), "two");
}

#[test]
fn multi_rx() {
    let _dog = dog("multi_rx");
    let (tx, mut rx1) = watch::channel("one");
    let mut rx2 = rx1.clone();

    {
        let mut t1 = spawn(rx1.changed());
        let mut t2 = spawn(rx2.changed());

        assert_pending!(t1.poll());
        assert_pending!(t2.poll());
    }
    assert_eq!(*rx1.borrow(), "one");
    assert_eq!(*rx2.borrow(), "one");

    let mut t2 = spawn(rx2.changed());

    {
        let mut t1 = spawn(rx1.changed());

        assert_pending!(t1.poll());
        assert_pending!(t2.poll());

        tx.send("two").unwrap();

        assert!(t1.is_woken());
        assert!(t2.is_woken());

        assert_ready_ok!(t1.poll());
    }
    assert_eq!(*rx1.borrow(), "two");

    {
        let mut t1 = spawn(rx1.changed());

        assert_pending!(t1.poll());

        tx.send("three").unwrap();

        assert!(t1.is_woken());
        assert!(t2.is_woken());

        assert_ready_ok!(t1.poll());
        assert_ready_ok!(t2.poll());
    }
    assert_eq!(*rx1.borrow(), "three");

    drop(t2);

    assert_eq!(*rx2.borrow(), "three");

    {
        let mut t1 = spawn(rx1.changed());
        let mut t2 = spawn(rx2.changed());

        assert_pending!(t1.poll());
        assert_pending!(t2.poll());

        tx.send("four").unwrap();

        assert_ready_ok!(t1.poll());
        assert_ready_ok!(t2.poll());
    }
    assert_eq!(*rx1.borrow(), "four");
    assert_eq!(*rx2.borrow(), "four");
}

#[test]
fn rx_observes_final_value() {
    let _dog = dog("rx_observes_final_value");
    // Initial value

    let (tx, mut rx) = watch::channel("one");
    drop(tx);

    {
        let mut t1 = spawn(rx.changed());
        assert_ready_err!(t1.poll());
    }
    assert_eq!(*rx.borrow(), "one");

    // Sending a value

    let (tx, mut rx) = watch::channel("one");

    tx.send("two").unwrap();

    {
        let mut t1 = spawn(rx.changed());
        assert_ready_ok!(t1.poll());
    }
    assert_eq!(*rx.borrow(), "two");

    {
        let mut t1 = spawn(rx.changed());
        assert_pending!(t1.poll());

        tx.send("three").unwrap();
        drop(tx);

        assert!(t1.is_woken());

        assert_ready_ok!(t1.poll());
    }
    assert_eq!(*rx.borrow(), "three");

    {
        let mut t1 = spawn(rx.changed());
        assert_ready_err!(t1.poll());
    }
    assert_eq!(*rx.borrow(), "three");
}

#[test]
fn poll_close() {
    let _dog = dog("poll_close");
    let (tx, rx) = watch::channel("one");

    {
        let mut t = spawn(tx.closed());
        assert_pending!(t.poll());

        drop(rx);

        assert!(t.is_woken());
        assert_ready!(t.poll());
    }

    assert!(tx.send("two").is_err());
}

#[test]
fn borrow_and_update() {
    let _dog = dog("borrow_and_update");
    let (tx, mut rx) = watch::channel("one");

    assert!(!rx.has_changed().unwrap());

    tx.send("two").unwrap();
    assert!(rx.has_changed().unwrap());
    assert_ready!(spawn(rx.changed()).poll()).unwrap();
    assert_pending!(spawn(rx.changed()).poll());
    assert!(!rx.has_changed().unwrap());

    tx.send("three").unwrap();
    assert!(rx.has_changed().unwrap());
    assert_eq!(*rx.borrow_and_update(), "three");
    assert_pending!(spawn(rx.changed()).poll());
    assert!(!rx.has_changed().unwrap());

    drop(tx);
    assert_eq!(*rx.borrow_and_update(), "three");
    assert_ready!(spawn(rx.changed()).poll()).unwrap_err();
    assert!(rx.has_changed().is_err());
}

#[test]
fn reopened_after_subscribe() {
    let _dog = dog("reopened_after_subscribe");
    let (tx, rx) = watch::channel("one");
    assert!(!tx.is_closed());

    drop(rx);
    assert!(tx.is_closed());

    let rx = tx.subscribe();
    assert!(!tx.is_closed());

    drop(rx);
    assert!(tx.is_closed());
}

#[test]
fn send_modify_panic() {
    let _dog = dog("send_modify_panic");
    let (tx, mut rx) = watch::channel("one");

    tx.send_modify(|old| *old = "two");
    assert_eq!(*rx.borrow_and_update(), "two");

    let mut rx2 = rx.clone();
    assert_eq!(*rx2.borrow_and_update(), "two");

    let mut task = spawn(rx2.changed());

    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        tx.send_modify(|old| {
            *old = "panicked";
            panic!();
        })
    }));
    assert!(result.is_err());

    assert_pending!(task.poll());
    assert_eq!(*rx.borrow(), "panicked");

    tx.send_modify(|old| *old = "three");
    assert_ready_ok!(task.poll());
    assert_eq!(*rx.borrow_and_update(), "three");
}

#[test]
fn multiple_sender() {
    let _dog = dog("multiple_sender");
    current_thread().block_on(async {
        let (tx1, mut rx) = watch::channel(0);
        let tx2 = tx1.clone();

        let mut t = spawn(async {
            rx.changed().await.unwrap();
            let v1 = *rx.borrow_and_update();
            rx.changed().await.unwrap();
            let v2 = *rx.borrow_and_update();
            (v1, v2)
        });

        tx1.send(1).unwrap();
        assert_pending!(t.poll());
        tx2.send(2).unwrap();
        assert_eq!(assert_ready!(t.poll()), (1, 2));
    });
}

#[test]
fn receiver_is_notified_when_last_sender_is_dropped() {
    let _dog = dog("receiver_is_notified_when_last_sender_is_dropped");
    current_thread().block_on(async {
        let (tx1, mut rx) = watch::channel(0);
        let tx2 = tx1.clone();

        let mut t = spawn(rx.changed());
        assert_pending!(t.poll());

        drop(tx1);
        assert!(!t.is_woken());
        drop(tx2);

        assert!(t.is_woken());
    });
}

#[test]
fn receiver_changed_is_cooperative() {
    let _dog = dog("receiver_changed_is_cooperative");
    current_thread().block_on(async {
        let (tx, mut rx) = watch::channel(());

        drop(tx);

        tokio::select! {
            biased;
            _ = checkpoint::scoped(true, async {
                loop {
                    assert!(rx.changed().await.is_err());
                }
            }) => {},
            _ = tokio::task::yield_now() => {},
        }
    });
}

#[test]
fn receiver_changed_is_cooperative_ok() {
    let _dog = dog("receiver_changed_is_cooperative_ok");
    current_thread().block_on(async {
        let (tx, mut rx) = watch::channel(());

        tokio::select! {
            biased;
            _ = checkpoint::scoped(true, async {
                loop {
                    assert!(tx.send(()).is_ok());
                    assert!(rx.changed().await.is_ok());
                }
            }) => {},
            _ = tokio::task::yield_now() => {},
        }
    });
}

#[test]
fn receiver_wait_for_is_cooperative() {
    let _dog = dog("receiver_wait_for_is_cooperative");
    current_thread().block_on(async {
        let (tx, mut rx) = watch::channel(0);

        drop(tx);

        tokio::select! {
            biased;
            _ = checkpoint::scoped(true, async {
                loop {
                    assert!(rx.wait_for(|val| *val == 1).await.is_err());
                }
            }) => {},
            _ = tokio::task::yield_now() => {},
        }
    });
}

#[test]
fn receiver_wait_for_is_cooperative_ok() {
    let _dog = dog("receiver_wait_for_is_cooperative_ok");
    current_thread().block_on(async {
        let (tx, mut rx) = watch::channel(0);

        tokio::select! {
            biased;
            _ = checkpoint::scoped(true, async {
                loop {
                    assert!(tx.send(1).is_ok());
                    assert!(rx.wait_for(|val| *val == 1).await.is_ok());
                }
            }) => {},
            _ = tokio::task::yield_now() => {},
        }
    });
}

#[test]
fn sender_closed_is_cooperative() {
    let _dog = dog("sender_closed_is_cooperative");
    current_thread().block_on(async {
        let (tx, rx) = watch::channel(());

        drop(rx);

        tokio::select! {
            _ = checkpoint::scoped(true, async {
                loop {
                    tx.closed().await;
                }
            }) => {},
            _ = tokio::task::yield_now() => {},
        }
    });
}

#[test]
fn changed_succeeds_on_closed_channel_with_unseen_value() {
    let _dog = dog("changed_succeeds_on_closed_channel_with_unseen_value");
    current_thread().block_on(async {
        let (tx, mut rx) = watch::channel("A");
        tx.send("B").unwrap();

        drop(tx);

        rx.changed()
            .await
            .expect("should not return error as long as the current value is not seen");
    });
}

#[test]
fn changed_errors_on_closed_channel_with_seen_value() {
    let _dog = dog("changed_errors_on_closed_channel_with_seen_value");
    current_thread().block_on(async {
        let (tx, mut rx) = watch::channel("A");
        drop(tx);

        rx.changed()
            .await
            .expect_err("should return error if the tx is closed and the current value is seen");
    });
}

#[test]
fn has_changed_errors_on_closed_channel_with_unseen_value() {
    let _dog = dog("has_changed_errors_on_closed_channel_with_unseen_value");
    let (tx, rx) = watch::channel("A");
    tx.send("B").unwrap();

    drop(tx);

    rx.has_changed().expect_err(
        "`has_changed` returns an error if and only if channel is closed. Even if the current value is not seen.",
    );
}

#[test]
fn has_changed_errors_on_closed_channel_with_seen_value() {
    let _dog = dog("has_changed_errors_on_closed_channel_with_seen_value");
    let (tx, rx) = watch::channel("A");
    drop(tx);

    rx.has_changed()
        .expect_err("`has_changed` returns an error if and only if channel is closed.");
}

#[test]
fn receiver_is_closed_after_all_senders_are_dropped() {
    let _dog = dog("receiver_is_closed_after_all_senders_are_dropped");
    let (tx, rx) = watch::channel("A");
    let tx2 = tx.clone();
    assert!(!rx.is_closed());

    drop(tx);
    assert!(!rx.is_closed());

    drop(tx2);
    assert!(rx.is_closed());
}

#[test]
fn wait_for_errors_on_closed_channel_true_predicate() {
    let _dog = dog("wait_for_errors_on_closed_channel_true_predicate");
    current_thread().block_on(async {
        let (tx, mut rx) = watch::channel("A");
        tx.send("B").unwrap();
        drop(tx);

        rx.wait_for(|_| true).await.expect(
            "`wait_for` call does not return error even if channel is closed when predicate is true for last value.",
        );
    });
}
