//! Ported from tokio's `tests/sync_oneshot.rs` (tokio 1.54): the tests of
//! the receiver as a future and of `Sender::closed`, each scenario and
//! assertion kept, in our style (a counting waker stands for
//! `tokio_test::task`).
//!
//! Documented differences, left out or changed:
//! - polysync's oneshot receiver has no `close()`: `explicit_close_poll`,
//!   `explicit_close_try_recv`, `close_try_recv_poll`, `close_after_recv`
//!   and the `*_rx_close` tests are not ported;
//! - polling the receiver after it completed returns `Err(RecvError)`
//!   (tokio panics); `try_recv` then says `Disconnected` (tokio: `Closed`);
//! - `Sender::closed` takes `&self` and returns a future that is registered
//!   only while it lives (tokio's `poll_closed` leaves the waker in the
//!   channel): `sender_changes_task` keeps each task's future alive, so
//!   the receiver's drop wakes both tasks (tokio: only the latest);
//! - `is_terminated`/`is_empty` of the receiver do not exist (not ported).

use polysync::channel::{RecvError, TryRecvError, oneshot};
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

/// A task of `tokio_test`: a waker that counts its wakes and its clones.
struct Task {
    count: Arc<Count>,
    waker: Waker,
}

#[derive(Default)]
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Task {
    fn new() -> Task {
        let count = Arc::new(Count::default());
        Task {
            waker: Waker::from(count.clone()),
            count,
        }
    }
    fn poll<F: Future + ?Sized>(&self, fut: Pin<&mut F>) -> Poll<F::Output> {
        fut.poll(&mut Context::from_waker(&self.waker))
    }
    fn is_woken(&self) -> bool {
        self.count.0.swap(0, Ordering::SeqCst) > 0
    }
    /// References to the task's waker: its own, plus those the channel keeps
    /// (the `Arc` behind the waker counts them).
    fn waker_ref_count(&self) -> usize {
        Arc::strong_count(&self.count) - 1
    }
}

#[test]
fn send_recv() {
    let (tx, mut rx) = oneshot::channel();
    let task = Task::new();
    assert!(task.poll(Pin::new(&mut rx)).is_pending());
    assert!(tx.send(1).is_ok());
    assert!(task.is_woken());
    assert_eq!(task.poll(Pin::new(&mut rx)), Poll::Ready(Ok(1)));
}

#[tokio::test]
async fn async_send_recv() {
    let (tx, rx) = oneshot::channel();
    assert!(tx.send(1).is_ok());
    assert_eq!(Ok(1), rx.await);
}

#[test]
fn close_tx() {
    let (tx, mut rx) = oneshot::channel::<i32>();
    let task = Task::new();
    assert!(task.poll(Pin::new(&mut rx)).is_pending());
    drop(tx);
    assert!(task.is_woken());
    assert_eq!(task.poll(Pin::new(&mut rx)), Poll::Ready(Err(RecvError)));
}

#[test]
fn close_rx() {
    // First, without checking closed().
    let (tx, _) = oneshot::channel();
    assert!(tx.send(1).is_err());

    // Second, through closed().
    let (tx, rx) = oneshot::channel();
    let task = Task::new();
    {
        let mut closed = pin!(tx.closed());
        assert!(task.poll(closed.as_mut()).is_pending());
        drop(rx);
        assert!(task.is_woken());
        assert!(tx.is_closed());
        assert!(task.poll(closed.as_mut()).is_ready());
    }
    assert!(tx.send(1).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_rx_closed() {
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        drop(rx);
    });
    tx.closed().await;
}

#[test]
fn try_recv_after_completion() {
    let (tx, rx) = oneshot::channel::<i32>();
    tx.send(17).unwrap();
    assert_eq!(17, rx.try_recv().unwrap());
    assert_eq!(Err(TryRecvError::Disconnected), rx.try_recv());
}

#[test]
fn try_recv_after_completion_await() {
    let (tx, mut rx) = oneshot::channel::<i32>();
    let task = Task::new();
    tx.send(17).unwrap();
    assert_eq!(Poll::Ready(Ok(17)), task.poll(Pin::new(&mut rx)));
    assert_eq!(Err(TryRecvError::Disconnected), rx.try_recv());
}

#[test]
fn drops_tasks() {
    let (tx, mut rx) = oneshot::channel::<i32>();
    let tx_task = Task::new();
    let rx_task = Task::new();
    {
        let mut closed = pin!(tx.closed());
        assert!(tx_task.poll(closed.as_mut()).is_pending());
    }
    assert!(rx_task.poll(Pin::new(&mut rx)).is_pending());
    drop(tx);
    drop(rx);
    assert_eq!(1, tx_task.waker_ref_count());
    assert_eq!(1, rx_task.waker_ref_count());
}

#[test]
fn receiver_changes_task() {
    let (tx, mut rx) = oneshot::channel();
    let task1 = Task::new();
    let task2 = Task::new();

    assert!(task1.poll(Pin::new(&mut rx)).is_pending());
    assert_eq!(2, task1.waker_ref_count());
    assert_eq!(1, task2.waker_ref_count());

    assert!(task2.poll(Pin::new(&mut rx)).is_pending());
    assert_eq!(1, task1.waker_ref_count());
    assert_eq!(2, task2.waker_ref_count());

    assert!(tx.send(1).is_ok());
    assert!(!task1.is_woken());
    assert!(task2.is_woken());
    assert_eq!(task2.poll(Pin::new(&mut rx)), Poll::Ready(Ok(1)));
}

#[test]
fn sender_changes_task() {
    let (tx, rx) = oneshot::channel::<i32>();
    let task1 = Task::new();
    let task2 = Task::new();

    // Each task keeps its own future (see the header).
    let mut closed1 = pin!(tx.closed());
    let mut closed2 = pin!(tx.closed());
    assert!(task1.poll(closed1.as_mut()).is_pending());
    assert_eq!(2, task1.waker_ref_count());
    assert_eq!(1, task2.waker_ref_count());

    assert!(task2.poll(closed2.as_mut()).is_pending());
    assert_eq!(2, task2.waker_ref_count());

    drop(rx);
    assert!(task1.is_woken(), "every waiting closed() wakes");
    assert!(task2.is_woken());
    assert!(task2.poll(closed2.as_mut()).is_ready());
}
