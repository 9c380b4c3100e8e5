#![cfg(polysync_loom)]
//! loom models of `polysync::watch`: the version/close word against the
//! receivers' wait queue (a send, the last sender's drop and a receiver's
//! decision to queue), the receiver count against `Sender::closed`, and the
//! value lock that keeps a borrowed value and its version together.
//!
//! Run with:
//!
//! RUSTFLAGS="--cfg polysync_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true cargo test -p polysync --release --test loom_watch --target-dir target/loom
//!
//! Under `--cfg polysync_loom` the crate's atomics, cells and thread parking
//! come from loom. The main thread never parks (tokio-rs/loom#249): it polls
//! futures with flag wakers, sends, drops and joins; a blocking receiver
//! runs on a spawned loom thread with the real thread waiter.

#[path = "support/loom.rs"]
mod support;

use loom::thread;
use polysync::watch;
use std::pin::pin;
use std::task::Poll;
use support::{flag_waker, model, poll_once};

/// A send races a receiver's first poll: either the poll sees the new
/// version, or the receiver is queued and the send wakes it.
#[test]
fn send_wakes_a_queued_receiver() {
    model(|| {
        let (tx, mut rx) = watch::channel(0u32);
        let sender = thread::spawn(move || {
            tx.send(1).unwrap();
            tx // the channel stays open
        });
        let (flag, waker) = flag_waker();
        let _tx = {
            let mut fut = pin!(rx.changed());
            if poll_once(fut.as_mut(), &waker).is_pending() {
                let tx = sender.join().unwrap();
                assert!(flag.take(), "the send did not wake the queued receiver");
                assert_eq!(poll_once(fut.as_mut(), &waker), Poll::Ready(Ok(())));
                tx
            } else {
                sender.join().unwrap()
            }
        };
        assert_eq!(*rx.borrow_and_update(), 1);
        assert_eq!(rx.try_changed(), Ok(false));
    });
}

/// The last sender's drop races a receiver's first poll: the receiver ends
/// with the error, woken if it had queued.
#[test]
fn close_wakes_a_queued_receiver() {
    model(|| {
        let (tx, mut rx) = watch::channel(0u32);
        let sender = thread::spawn(move || drop(tx));
        let (flag, waker) = flag_waker();
        let mut fut = pin!(rx.changed());
        match poll_once(fut.as_mut(), &waker) {
            Poll::Pending => {
                sender.join().unwrap();
                assert!(flag.take(), "the close did not wake the queued receiver");
                assert_eq!(
                    poll_once(fut.as_mut(), &waker),
                    Poll::Ready(Err(watch::RecvError))
                );
            }
            Poll::Ready(r) => {
                assert_eq!(r, Err(watch::RecvError));
                sender.join().unwrap();
            }
        }
    });
}

/// A blocking receiver (the real thread waiter, parking in loom) and a send
/// then a close: it sees the value, then the error.
#[test]
fn blocking_receiver_sees_the_value_then_the_close() {
    model(|| {
        let (tx, mut rx) = watch::channel(0u32);
        let receiver = thread::spawn(move || {
            rx.changed_blocking().unwrap();
            let v = *rx.borrow_and_update();
            if v == 1 {
                // The close may or may not have landed: at most one more
                // wait, which fails.
                assert_eq!(rx.changed_blocking(), Err(watch::RecvError));
            }
            v
        });
        tx.send(1).unwrap();
        drop(tx);
        assert_eq!(receiver.join().unwrap(), 1);
    });
}

/// Two sends race a `borrow_and_update`: the version it marks seen is the
/// version of the value it read (the send bumps it under the write lock),
/// so it reports a change afterwards exactly when it did not read the last
/// value.
#[test]
fn a_borrowed_value_and_its_version_agree() {
    model(|| {
        let (tx, mut rx) = watch::channel(0u32);
        let sender = thread::spawn(move || {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
            tx
        });
        let v = *rx.borrow_and_update();
        let _tx = sender.join().unwrap();
        assert_eq!(rx.has_changed(), Ok(v != 2), "read {v}");
    });
}

/// A queued receiver gives up (its future dropped) while a send runs: the
/// node leaves the queue or is woken, never both lost, and the change stays
/// unseen for the next look.
#[test]
fn a_dropped_queued_receiver_racing_a_send() {
    model(|| {
        let (tx, mut rx) = watch::channel(0u32);
        let (_flag, waker) = flag_waker();
        let sender = {
            let mut fut = Box::pin(rx.changed());
            assert!(poll_once(fut.as_mut(), &waker).is_pending());
            let probe = tx.clone();
            let sender = thread::spawn(move || {
                tx.send(1).unwrap();
                tx
            });
            drop(fut); // races the send
            assert!(probe.receiving() <= 1);
            drop(probe);
            sender
        };
        let tx = sender.join().unwrap();
        assert_eq!(tx.receiving(), 0, "a node left in the queue");
        assert_eq!(rx.try_changed(), Ok(true), "the change was lost");
        assert_eq!(*rx.borrow(), 1);
    });
}

/// The last receiver's drop races `Sender::closed`'s first poll.
#[test]
fn last_receiver_drop_wakes_closed() {
    model(|| {
        let (tx, rx) = watch::channel(0u32);
        let rx2 = rx.clone();
        let dropper = thread::spawn(move || {
            drop(rx);
            drop(rx2);
        });
        let (flag, waker) = flag_waker();
        let mut fut = pin!(tx.closed());
        if poll_once(fut.as_mut(), &waker).is_pending() {
            dropper.join().unwrap();
            assert!(flag.take(), "the last receiver's drop did not wake closed");
            assert_eq!(poll_once(fut.as_mut(), &waker), Poll::Ready(()));
        } else {
            dropper.join().unwrap();
        }
        assert!(tx.is_closed());
    });
}
