#![cfg(polysync_loom)]
//! loom models of the channel details of issue 20: the oneshot receiver
//! polled as a future (it leaves its waker, then looks at the channel again;
//! the sender puts or closes, then takes the waker) and `Sender::closed`
//! (the close, then the event, on the last receiver's drop), each against a
//! sender or receiver on another thread. A lost wake-up fails the model.
//!
//! Run with:
//!
//! RUSTFLAGS="--cfg polysync_loom" cargo test -p polysync --release --test loom_channel_details --target-dir target/loom
//!
//! The main thread never parks (tokio-rs/loom#249): it polls with a waker
//! that counts its wakes (a loom atomic), joins the other thread, then
//! checks that a `Pending` poll was woken and that the next poll completes.

#[path = "support/loom.rs"]
mod support;

use loom::thread;
use polysync::channel::{self, RecvError, oneshot};
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use support::{flag_waker, model};

/// The receiver polled while the value is sent (or the sender dropped) on
/// another thread: it completes with what the sender did, or it was woken.
fn receiver_future(send: bool) {
    model(move || {
        let (tx, mut rx) = oneshot::channel::<u8>();
        let sender = thread::spawn(move || {
            if send {
                tx.send(1).unwrap();
            } else {
                drop(tx);
            }
        });
        let expected = if send { Ok(1) } else { Err(RecvError) };
        let (flag, waker) = flag_waker();
        let mut cx = Context::from_waker(&waker);
        match Pin::new(&mut rx).poll(&mut cx) {
            Poll::Ready(got) => {
                assert_eq!(got, expected);
                sender.join().unwrap();
            }
            Poll::Pending => {
                sender.join().unwrap();
                assert!(flag.take(), "the receiver was not woken: a lost wake-up");
                assert_eq!(Pin::new(&mut rx).poll(&mut cx), Poll::Ready(expected));
            }
        }
    });
}

#[test]
fn oneshot_receiver_future_against_a_send() {
    receiver_future(true);
}

#[test]
fn oneshot_receiver_future_against_the_senders_drop() {
    receiver_future(false);
}

#[test]
fn closed_against_the_last_receivers_drop() {
    model(|| {
        let (tx, rx) = channel::bounded::<u8>(1);
        let mut dropper = Some(thread::spawn(move || drop(rx)));
        let (flag, waker) = flag_waker();
        let mut cx = Context::from_waker(&waker);
        let mut closed = pin!(tx.closed());
        if closed.as_mut().poll(&mut cx).is_pending() {
            dropper.take().unwrap().join().unwrap();
            assert!(flag.take(), "closed() was not woken: a lost wake-up");
            assert!(closed.as_mut().poll(&mut cx).is_ready());
        }
        // Before the join if it was ready at once: whoever sees closed()
        // ready finds every send failing.
        assert!(tx.try_send(1).is_err(), "closed, and a send went in");
        if let Some(dropper) = dropper {
            dropper.join().unwrap();
        }
    });
}

#[test]
fn oneshot_closed_against_the_receivers_drop() {
    model(|| {
        let (tx, rx) = oneshot::channel::<u8>();
        let dropper = thread::spawn(move || drop(rx));
        let (flag, waker) = flag_waker();
        let mut cx = Context::from_waker(&waker);
        {
            let mut closed = pin!(tx.closed());
            if closed.as_mut().poll(&mut cx).is_pending() {
                dropper.join().unwrap();
                assert!(flag.take(), "closed() was not woken: a lost wake-up");
                assert!(closed.as_mut().poll(&mut cx).is_ready());
            } else {
                dropper.join().unwrap();
            }
        }
        assert_eq!(tx.send(1), Err(1));
    });
}
