//! `polysync::watch` beyond tokio's tests: the blocking, timed and
//! explicit-waiter forms of `changed` and `closed` across OS threads, a
//! cancelled explicit wait that leaves the queue, a send that wakes more
//! receivers than one wake batch holds, a dropped `changed` future that
//! loses nothing, `closed` going on waiting after a `subscribe` reopened the
//! channel, and `wait_for_blocking`. (Every world, async and green, is the
//! matrix's: tests/matrix/src/watch.rs.)
//!
//! No assertion reads the clock: a timed form is only asked to time out
//! where nothing can change, and a wake-up that does not come fails the
//! watchdog.

#[path = "support/worlds.rs"]
mod worlds;

use polysync::lowlevel::{WaitResult, Waiter};
use polysync::watch::{self, ChangedError, RecvError};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};
use worlds::{Watchdog, wait_until};

fn dog(name: &'static str) -> Watchdog {
    Watchdog::new(name, Duration::from_secs(20))
}

/// Counts wakes.
struct Wakes(AtomicUsize);

impl Wake for Wakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting_waker() -> (Arc<Wakes>, Waker) {
    let wakes = Arc::new(Wakes(AtomicUsize::new(0)));
    (wakes.clone(), Waker::from(wakes))
}

fn poll<F: Future + ?Sized>(fut: std::pin::Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

/// A waiter that reports its unit cancelled whenever it would sleep.
struct Cancelling;

impl Waiter for Cancelling {
    fn waker(&self) -> Waker {
        Waker::noop().clone()
    }
    fn wait(&self, _: Option<Instant>) -> WaitResult {
        WaitResult::Cancelled
    }
}

#[test]
fn blocking_receivers_on_threads_follow_a_sender_thread() {
    let _dog = dog("blocking_receivers_on_threads_follow_a_sender_thread");
    let (tx, rx) = watch::channel(0u32);
    let receivers: Vec<_> = (0..3)
        .map(|_| {
            let mut rx = rx.clone();
            thread::spawn(move || {
                let mut last = 0;
                while rx.changed_blocking().is_ok() {
                    let v = *rx.borrow_and_update();
                    assert!(v > last, "went back from {last} to {v}");
                    last = v;
                }
                assert_eq!(rx.changed_blocking(), Err(RecvError));
                last
            })
        })
        .collect();
    drop(rx);
    for v in 1..=100 {
        tx.send(v).unwrap();
    }
    drop(tx);
    for r in receivers {
        assert_eq!(r.join().unwrap(), 100, "the last value is always seen");
    }
}

#[test]
fn timed_forms() {
    let _dog = dog("timed_forms");
    let (tx, mut rx) = watch::channel(0u32);
    // Nothing can change: both time out.
    assert_eq!(rx.try_changed_for(Duration::from_millis(1)), Ok(false));
    assert_eq!(rx.try_changed_until(Instant::now()), Ok(false));
    assert_eq!(rx.receiving(), 0, "a timed-out wait left the queue");
    // A change from another thread ends a long timed wait.
    let t = {
        let tx = tx.clone();
        thread::spawn(move || {
            wait_until("a timed wait queued", || tx.receiving() == 1);
            tx.send(1).unwrap();
        })
    };
    assert_eq!(rx.try_changed_for(Duration::from_secs(3600)), Ok(true));
    t.join().unwrap();
    assert_eq!(*rx.borrow(), 1);
    assert_eq!(rx.try_changed_until(Instant::now()), Ok(false));
    drop(tx);
    assert_eq!(
        rx.try_changed_for(Duration::from_secs(3600)),
        Err(RecvError)
    );
}

#[test]
fn cancelled_explicit_wait_leaves_the_queue() {
    let _dog = dog("cancelled_explicit_wait_leaves_the_queue");
    let (tx, mut rx) = watch::channel(0u32);
    assert_eq!(
        rx.changed_with(&Cancelling, None),
        Err(ChangedError::Cancelled)
    );
    assert_eq!(tx.receiving(), 0);
    assert_eq!(
        tx.closed_with(&Cancelling, None),
        Err(polysync::lowlevel::WaitError::Cancelled)
    );
    assert_eq!(tx.waiting_closed(), 0);
    // A change that is already there wins over the cancelling waiter.
    tx.send(1).unwrap();
    assert_eq!(rx.changed_with(&Cancelling, None), Ok(()));
    drop(tx);
    assert_eq!(
        rx.changed_with(&Cancelling, None),
        Err(ChangedError::Closed)
    );
}

#[test]
fn one_send_wakes_more_receivers_than_a_batch() {
    let _dog = dog("one_send_wakes_more_receivers_than_a_batch");
    const N: usize = 40; // more than two wake batches of 16
    let (tx, rx) = watch::channel(0u32);
    let mut rxs: Vec<_> = (0..N).map(|_| rx.clone()).collect();
    let (wakes, waker) = counting_waker();
    let mut futs: Vec<_> = rxs.iter_mut().map(|rx| Box::pin(rx.changed())).collect();
    for f in &mut futs {
        assert!(poll(f.as_mut(), &waker).is_pending());
    }
    assert_eq!(tx.receiving(), N);
    tx.send(1).unwrap();
    assert_eq!(
        wakes.0.load(Ordering::SeqCst),
        N,
        "every queued receiver woken"
    );
    assert_eq!(tx.receiving(), 0);
    for f in &mut futs {
        assert_eq!(poll(f.as_mut(), &waker), Poll::Ready(Ok(())));
    }
}

#[test]
fn a_dropped_changed_future_loses_nothing() {
    let _dog = dog("a_dropped_changed_future_loses_nothing");
    let (tx, mut rx) = watch::channel(0u32);
    let (wakes, waker) = counting_waker();
    {
        let mut fut = pin!(rx.changed());
        assert!(poll(fut.as_mut(), &waker).is_pending());
        tx.send(1).unwrap();
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        // Dropped woken but unpolled: the change stays unseen.
    }
    assert_eq!(tx.receiving(), 0);
    assert_eq!(rx.has_changed(), Ok(true));
    assert_eq!(rx.try_changed(), Ok(true));
    assert_eq!(*rx.borrow(), 1);
}

#[test]
fn closed_forms_across_threads() {
    let _dog = dog("closed_forms_across_threads");
    let (tx, rx) = watch::channel(0u32);
    assert!(!tx.try_closed_for(Duration::from_millis(1)));
    assert!(!tx.try_closed_until(Instant::now()));
    assert_eq!(tx.waiting_closed(), 0);
    let tx = Arc::new(tx);
    let waiter = {
        let tx = tx.clone();
        thread::spawn(move || {
            tx.closed_blocking();
            assert!(tx.is_closed());
        })
    };
    let timed = {
        let tx = tx.clone();
        thread::spawn(move || assert!(tx.try_closed_for(Duration::from_secs(3600))))
    };
    wait_until("two senders waiting", || tx.waiting_closed() == 2);
    let rx2 = rx.clone();
    drop(rx);
    assert_eq!(tx.receiver_count(), 1);
    drop(rx2);
    waiter.join().unwrap();
    timed.join().unwrap();
    assert!(tx.try_closed_until(Instant::now()));
}

#[test]
fn closed_waits_again_after_a_subscribe_reopens() {
    let _dog = dog("closed_waits_again_after_a_subscribe_reopens");
    let (tx, rx) = watch::channel(0u32);
    let (wakes, waker) = counting_waker();
    let mut fut = pin!(tx.closed());
    assert!(poll(fut.as_mut(), &waker).is_pending());
    drop(rx);
    assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
    let rx = tx.subscribe(); // reopened before the waiter looked
    assert!(
        poll(fut.as_mut(), &waker).is_pending(),
        "closed with a receiver alive"
    );
    drop(rx);
    assert_eq!(poll(fut.as_mut(), &waker), Poll::Ready(()));
}

#[test]
fn wait_for_blocking_across_threads() {
    let _dog = dog("wait_for_blocking_across_threads");
    let (tx, mut rx) = watch::channel(0u32);
    let t = thread::spawn(move || {
        for v in 1..=50 {
            tx.send(v).unwrap();
        }
        tx
    });
    {
        let r = rx.wait_for_blocking(|v| *v == 50).unwrap();
        assert_eq!(*r, 50);
    }
    assert_eq!(rx.has_changed(), Ok(false));
    drop(t.join().unwrap());
    assert!(rx.wait_for_blocking(|v| *v == 51).is_err());
    assert_eq!(*rx.wait_for_blocking(|v| *v == 50).unwrap(), 50);
}

#[test]
fn debug_shows_the_state() {
    let (tx, mut rx) = watch::channel(7u32);
    tx.send(8).unwrap();
    let s = format!("{tx:?}");
    assert!(
        s.contains("version: 1") && s.contains("receivers: 1"),
        "{s}"
    );
    rx.mark_changed();
    let s = format!("{rx:?}");
    assert!(s.contains("marked changed"), "{s}");
    assert!(format!("{:?}", rx.borrow()).contains('8'));
    assert!(format!("{:?}", rx.changed()).contains("Changed"));
}

/// Both ends and both futures are `Send + Sync` for a `Send + Sync` value
/// (as tokio's are), and `Ref` is `Send + Sync` too.
#[test]
fn auto_traits() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<watch::Sender<String>>();
    send_sync::<watch::Receiver<String>>();
    send_sync::<watch::Changed<'static>>();
    send_sync::<watch::Closed<'static>>();
    send_sync::<watch::Ref<'static, String>>();
}

/// A receiver that never looks holds nothing: sends go on (tokio's model;
/// only a live `Ref` delays a send).
#[test]
fn a_receiver_that_never_looks_never_holds_a_sender() {
    let _dog = dog("a_receiver_that_never_looks_never_holds_a_sender");
    let (tx, mut rx) = watch::channel(0u32);
    for v in 1..=10_000 {
        tx.send(v).unwrap();
    }
    assert_eq!(rx.try_changed(), Ok(true));
    assert_eq!(*rx.borrow(), 10_000);
}

/// `try_changed` after the close: the unseen last value first, then the
/// error (the non-blocking reading of `changed`'s rule).
#[test]
fn try_changed_reports_the_close() {
    let (tx, mut rx) = watch::channel(0u32);
    tx.send(1).unwrap();
    drop(tx);
    assert_eq!(rx.try_changed(), Ok(true));
    assert_eq!(*rx.borrow(), 1);
    assert_eq!(rx.try_changed(), Err(RecvError));
    assert_eq!(rx.try_changed(), Err(RecvError));
}
