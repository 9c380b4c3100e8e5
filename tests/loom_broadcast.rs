#![cfg(polysync_loom)]
//! loom models of `polysync::broadcast`: the ring (a send writes a slot,
//! then publishes the tail), the wake-up of receivers queued at the old
//! tail, lag when two sends overrun a ring of one, the close by the last
//! sender, the value's drop by its last reader, and `Sender::closed` racing
//! a receiver's drop and a subscribe.
//!
//! Run with:
//!
//! RUSTFLAGS="--cfg polysync_loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p polysync --release --test loom_broadcast --target-dir target/loom
//!
//! Under `--cfg polysync_loom` the crate's atomics, cells, locks, `thread`
//! and `thread_local!` come from loom, so these models check the real
//! channel and core wait. The main thread never parks (tokio-rs/loom#249):
//! it sends, drops, polls with flag wakers and joins; blocking receivers
//! run on spawned threads. A lost wake-up is a loom deadlock.

#[path = "support/loom.rs"]
mod support;

use loom::thread;
use polysync::broadcast::{self, RecvError, TryRecvError};
use std::pin::pin;
use std::sync::Arc;
use support::{flag_waker, model, poll_once, timing_out};

/// A send vs a blocking receiver: it wakes with the message (a lost
/// wake-up deadlocks).
#[test]
fn send_wakes_blocking_receiver() {
    model(|| {
        let (tx, mut rx) = broadcast::channel::<u32>(2);
        let receiver = thread::spawn(move || rx.recv_blocking());
        tx.send(7).unwrap();
        assert_eq!(receiver.join().unwrap(), Ok(7));
    });
}

/// A send on another thread vs an async receive polled on this one: either
/// the first poll gets it, or the receive was queued and is woken.
#[test]
fn send_wakes_async_receiver() {
    model(|| {
        let (tx, mut rx) = broadcast::channel::<u32>(2);
        let sender = thread::spawn(move || {
            tx.send(1).unwrap();
            tx
        });
        let (flag, waker) = flag_waker();
        let mut recv = pin!(rx.recv());
        let first = poll_once(recv.as_mut(), &waker);
        let _tx = sender.join().unwrap();
        match first {
            std::task::Poll::Ready(got) => assert_eq!(got, Ok(1)),
            std::task::Poll::Pending => {
                assert!(flag.take(), "a queued receive was not woken by the send");
                assert_eq!(
                    poll_once(recv.as_mut(), &waker),
                    std::task::Poll::Ready(Ok(1))
                );
            }
        }
    });
}

/// Two senders overrun a ring of one while a blocking receiver reads: it
/// gets messages in a send order, possibly a `Lagged(1)` in place of the
/// first, never a message twice, and always the last one.
#[test]
fn two_senders_overrun_ring_of_one() {
    model(|| {
        let (tx, mut rx) = broadcast::channel::<u32>(1);
        let tx2 = tx.clone();
        let other = thread::spawn(move || tx2.send(2).unwrap());
        tx.send(1).unwrap();
        other.join().unwrap();
        drop(tx);
        let mut got = Vec::new();
        let mut lagged = 0;
        loop {
            match rx.try_recv() {
                Ok(v) => got.push(v),
                Err(TryRecvError::Lagged(n)) => lagged += n,
                Err(TryRecvError::Closed) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(lagged, 1, "a ring of one keeps one of two messages");
        assert_eq!(got.len(), 1);
    });
}

/// A receiver that reads while a sender overruns it: every message it gets
/// is newer than the last, lost ones are counted exactly.
#[test]
fn reader_vs_overrunning_sender() {
    model(|| {
        let (tx, mut rx) = broadcast::channel::<u32>(1);
        let reader = thread::spawn(move || {
            let mut seen = 0;
            let mut next = 0;
            loop {
                match rx.recv_blocking() {
                    Ok(v) => {
                        assert!(v >= next, "message {v} after {next}");
                        next = v + 1;
                        seen += 1;
                    }
                    Err(RecvError::Lagged(n)) => {
                        next += n as u32;
                        seen += n;
                    }
                    Err(RecvError::Closed) => return seen,
                }
            }
        });
        for v in 0..3 {
            tx.send(v).unwrap();
        }
        drop(tx);
        assert_eq!(reader.join().unwrap(), 3, "messages and lost ones add up");
    });
}

/// The last sender's drop vs a blocking receiver: it wakes with `Closed`.
#[test]
fn last_sender_drop_wakes_receiver() {
    model(|| {
        let (tx, mut rx) = broadcast::channel::<u32>(2);
        let receiver = thread::spawn(move || rx.recv_blocking());
        drop(tx);
        assert_eq!(receiver.join().unwrap(), Err(RecvError::Closed));
    });
}

/// A timed receive that gives up while a send lands: it returns the message
/// or `Empty`; after `Empty` the message is still there.
#[test]
fn timed_receive_gives_up_vs_send() {
    model(|| {
        let (tx, mut rx) = broadcast::channel::<u32>(2);
        let receiver = thread::spawn(move || {
            let got = timing_out(|| rx.try_recv_for(support::SOON));
            (got, rx)
        });
        tx.send(3).unwrap();
        let (got, mut rx) = receiver.join().unwrap();
        match got {
            Ok(v) => assert_eq!(v, 3),
            Err(TryRecvError::Empty) => assert_eq!(rx.try_recv(), Ok(3)),
            Err(e) => panic!("{e:?}"),
        }
    });
}

/// Two receivers, one reading and one dropping, vs the value's drop: the
/// value is dropped exactly once, after both let go.
#[test]
fn value_dropped_by_last_reader() {
    model(|| {
        let (tx, mut rx1) = broadcast::channel::<Arc<()>>(2);
        let rx2 = tx.subscribe();
        let value = Arc::new(());
        tx.send(value.clone()).unwrap();
        let reader = thread::spawn(move || drop(rx1.try_recv().unwrap()));
        let dropper = thread::spawn(move || drop(rx2));
        reader.join().unwrap();
        dropper.join().unwrap();
        assert_eq!(
            Arc::strong_count(&value),
            1,
            "the ring still holds the value"
        );
        drop(tx);
    });
}

/// `Sender::closed` waiting on a thread vs the last receiver's drop racing
/// a subscribe on the main thread: the wait ends (a missed wake-up
/// deadlocks), whether it saw the moment between the two drops or the end.
#[test]
fn closed_vs_drop_and_subscribe() {
    model(|| {
        let (tx, rx) = broadcast::channel::<u32>(1);
        let tx = Arc::new(tx);
        let waiter = {
            let tx = tx.clone();
            // (No count to assert once it returns: the main thread may
            // subscribe again right after.)
            thread::spawn(move || tx.closed_blocking())
        };
        let dropper = thread::spawn(move || drop(rx));
        let late = tx.subscribe();
        dropper.join().unwrap();
        drop(late);
        waiter.join().unwrap();
    });
}
