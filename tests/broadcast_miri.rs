//! The Miri-sized scenarios of `polysync::broadcast`: they reach its
//! unsafe code (the pin projections of `Recv` and `Closed` and of the wait
//! they restart after each wake-up) and the ring's slots from more than one
//! thread, with futures dropped while queued, woken, or between two waits.
//!
//! Run under Miri with
//! `cargo +nightly miri test -p polysync --test broadcast_miri` (add
//! `MIRIFLAGS=-Zmiri-tree-borrows` for Tree Borrows); it also runs natively.
//! No runtime: futures are polled by hand or by `futures_lite`'s
//! `block_on`; threads are std threads. Every thread is joined, and the
//! watchdog turns a lost wake-up into a failure.

#[path = "support/probe.rs"]
mod probe;
use probe::WakeCount;
#[path = "support/worlds.rs"]
mod worlds;

use futures_lite::future::block_on;
use polysync::broadcast::{self, RecvError, TryRecvError};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;

/// Messages per scenario (smaller under Miri).
const N: u64 = if cfg!(miri) { 8 } else { 500 };

fn dog(name: &'static str) -> worlds::Watchdog {
    worlds::Watchdog::new(name, Duration::from_secs(if cfg!(miri) { 600 } else { 30 }))
}

/// A receive future waits, is woken by two sends into a ring of one and
/// reports the lag; others are dropped while queued and after their wake-up
/// (the message stays for the next receive); an async receive sees the
/// close.
#[test]
fn recv_future_lags_and_drops() {
    let (tx, mut rx) = broadcast::channel::<Box<u64>>(1);
    let (count, waker) = WakeCount::new();
    let mut cx = Context::from_waker(&waker);
    {
        let mut recv = pin!(rx.recv());
        assert!(recv.as_mut().poll(&mut cx).is_pending());
        tx.send(Box::new(1)).unwrap();
        tx.send(Box::new(2)).unwrap();
        assert_eq!(count.get(), 1);
        assert_eq!(
            recv.as_mut().poll(&mut cx),
            Poll::Ready(Err(RecvError::Lagged(1)))
        );
    }
    assert_eq!(rx.try_recv(), Ok(Box::new(2)));
    {
        // Dropped while queued.
        let mut recv = pin!(rx.recv());
        assert!(recv.as_mut().poll(&mut cx).is_pending());
    }
    {
        // Dropped after its wake-up, before it read: nothing is lost.
        let mut recv = pin!(rx.recv());
        assert!(recv.as_mut().poll(&mut cx).is_pending());
        tx.send(Box::new(3)).unwrap();
    }
    assert_eq!(rx.try_recv(), Ok(Box::new(3)));
    drop(tx);
    assert_eq!(block_on(rx.recv()), Err(RecvError::Closed));
}

/// A sender thread and two receiver threads, one blocking and one async,
/// over a small ring: each gets the messages in order, counting lost ones,
/// then `Closed`.
#[test]
fn threads_send_and_receive() {
    let _dog = dog("threads_send_and_receive");
    let (tx, mut rx1) = broadcast::channel::<Arc<u64>>(2);
    let mut rx2 = tx.subscribe();
    let blocking = thread::spawn(move || {
        let (mut last, mut accounted) = (None, 0);
        loop {
            match rx1.recv_blocking() {
                Ok(v) => {
                    assert!(last < Some(*v));
                    last = Some(*v);
                    accounted += 1;
                }
                Err(RecvError::Lagged(n)) => accounted += n,
                Err(RecvError::Closed) => return accounted,
            }
        }
    });
    let asynchronous = thread::spawn(move || {
        block_on(async {
            let mut accounted = 0;
            loop {
                match rx2.recv().await {
                    Ok(_) => accounted += 1,
                    Err(RecvError::Lagged(n)) => accounted += n,
                    Err(RecvError::Closed) => return accounted,
                }
            }
        })
    });
    for i in 0..N {
        tx.send(Arc::new(i)).unwrap();
        if i % 2 == 1 {
            thread::yield_now();
        }
    }
    drop(tx);
    assert_eq!(blocking.join().unwrap(), N);
    assert_eq!(asynchronous.join().unwrap(), N);
}

/// `Sender::closed` polled by hand restarts its wait after a subscribe,
/// and a receiver dropped on another thread ends it; values left in the
/// ring are dropped with the last receiver.
#[test]
fn closed_restarts_and_values_drop() {
    let _dog = dog("closed_restarts_and_values_drop");
    let value = Arc::new(0u64);
    let (tx, rx) = broadcast::channel::<Arc<u64>>(4);
    tx.send(value.clone()).unwrap();
    let (count, waker) = WakeCount::new();
    let mut cx = Context::from_waker(&waker);
    let mut closed = pin!(tx.closed());
    assert!(closed.as_mut().poll(&mut cx).is_pending());
    drop(rx);
    assert_eq!(count.get(), 1);
    assert_eq!(Arc::strong_count(&value), 1, "the last receiver let go");
    let late = tx.subscribe();
    assert!(closed.as_mut().poll(&mut cx).is_pending());
    thread::spawn(move || drop(late)).join().unwrap();
    assert!(closed.as_mut().poll(&mut cx).is_ready());
    assert_eq!(tx.send(value.clone()).unwrap_err().0, value);
}

/// A timed receive that gives up, then the message arrives from a thread.
#[test]
fn timed_receive_then_thread_send() {
    let _dog = dog("timed_receive_then_thread_send");
    let (tx, mut rx) = broadcast::channel::<String>(2);
    assert_eq!(
        rx.try_recv_for(Duration::from_millis(1)),
        Err(TryRecvError::Empty)
    );
    let sender = thread::spawn(move || tx.send("hi".to_owned()).unwrap());
    assert_eq!(rx.recv_blocking().as_deref(), Ok("hi"));
    sender.join().unwrap();
    assert_eq!(rx.recv_blocking(), Err(RecvError::Closed));
}
