#![cfg(polysync_loom)]
//! loom models of send permits (issue 20 item 5): a waiting reserve against
//! a permit freed on another thread; a reserve cancelled while a receiver
//! frees a place, with a send queued behind it (the place must reach the
//! send, whichever way the race goes); a receiver of a closed channel
//! waiting for the last permit, sent or dropped on another thread; a
//! lock-free `try_recv` on a closed ring queue racing the last permit's
//! send (it may see the value or `Empty`, never `Disconnected` while the
//! permit is out). A lost wake-up, a leaked place or a value lost behind a
//! "closed and drained" fails the model.
//!
//! Run with:
//!
//! RUSTFLAGS="--cfg polysync_loom" cargo test -p polysync --release --test loom_channel_reserve --target-dir target/loom
//!
//! The main thread never parks (tokio-rs/loom#249): it polls with a waker
//! that counts its wakes (a loom atomic), joins the other thread, then
//! checks that a `Pending` poll was woken and that the next poll completes.

#[path = "support/loom.rs"]
mod support;

use loom::thread;
use polysync::channel::{self, RecvError, TryRecvError};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};
use support::{flag_waker, model};

/// A reserve that waits on a full channel while another thread drops the
/// permit that fills it: the place goes to the reserve (at once or by a
/// wake-up), never lost.
#[test]
fn a_waiting_reserve_against_a_dropped_permit() {
    model(|| {
        let (tx, _rx) = channel::bounded::<u8>(1);
        let tx2 = tx.clone();
        let permit = tx2.clone().try_reserve_owned().unwrap();
        let dropper = thread::spawn(move || drop(permit));
        let (flag, waker) = flag_waker();
        let mut cx = Context::from_waker(&waker);
        let mut reserve = pin!(tx.reserve());
        let granted = match reserve.as_mut().poll(&mut cx) {
            Poll::Ready(granted) => granted,
            Poll::Pending => {
                dropper.join().unwrap();
                assert!(flag.take(), "the reserve was not woken: a lost wake-up");
                match reserve.as_mut().poll(&mut cx) {
                    Poll::Ready(granted) => granted,
                    Poll::Pending => panic!("woken without the place"),
                }
            }
        };
        let permit = granted.expect("the channel is open");
        assert_eq!(tx.reserved(), 1);
        drop(permit);
        assert_eq!(tx.reserved(), 0);
        drop(tx2);
    });
}

/// A reserve queued on a full channel, a send queued behind it; a receiver
/// thread takes the value (the place goes to the reserve) while the
/// reserve is dropped: the place reaches the send, by a wake-up if the
/// send was still waiting, and no place stays held.
#[test]
fn a_cancelled_reserve_against_a_receive_passes_the_place_on() {
    model(|| {
        let (tx, rx) = channel::bounded::<u8>(1);
        tx.try_send(0).unwrap();
        let (reserve_flag, reserve_waker) = flag_waker();
        let (send_flag, send_waker) = flag_waker();
        let mut reserve = Box::pin(tx.reserve());
        let mut send = pin!(tx.send(1));
        assert!(
            reserve
                .as_mut()
                .poll(&mut Context::from_waker(&reserve_waker))
                .is_pending()
        );
        let mut send_cx = Context::from_waker(&send_waker);
        assert!(send.as_mut().poll(&mut send_cx).is_pending());
        let receiver = thread::spawn(move || {
            assert_eq!(rx.try_recv(), Ok(0));
            rx
        });
        drop(reserve); // cancelled: pending, or given the place just now
        let rx = receiver.join().unwrap();
        let _ = reserve_flag.take();
        assert!(
            send_flag.take(),
            "the send was not woken: the place was lost"
        );
        assert_eq!(send.as_mut().poll(&mut send_cx), Poll::Ready(Ok(())));
        assert_eq!(tx.reserved(), 0);
        assert_eq!(rx.try_recv(), Ok(1));
    });
}

/// A receiver of a closed channel waits for the permit taken before the
/// close, which another thread sends into (or drops): the receiver gets
/// the value (or the error), at once or by a wake-up.
fn closed_receiver_against_the_last_permit(send: bool) {
    model(move || {
        let (tx, rx) = channel::bounded::<u8>(1);
        let permit = tx.try_reserve_owned().unwrap();
        rx.close();
        let user = thread::spawn(move || {
            if send {
                drop(permit.send(7));
            } else {
                drop(permit);
            }
        });
        let expected = if send { Ok(7) } else { Err(RecvError) };
        let (flag, waker) = flag_waker();
        let mut cx = Context::from_waker(&waker);
        let mut recv = pin!(rx.recv());
        match recv.as_mut().poll(&mut cx) {
            Poll::Ready(got) => {
                assert_eq!(got, expected);
                user.join().unwrap();
            }
            Poll::Pending => {
                user.join().unwrap();
                assert!(flag.take(), "the receiver was not woken: a lost wake-up");
                assert_eq!(recv.as_mut().poll(&mut cx), Poll::Ready(expected));
            }
        }
    });
}

#[test]
fn a_closed_receiver_against_the_last_permits_send() {
    closed_receiver_against_the_last_permit(true);
}

#[test]
fn a_closed_receiver_against_the_last_permits_drop() {
    closed_receiver_against_the_last_permit(false);
}

/// A closed channel on a ring queue (bounded, so its gets first try the
/// ring without the lock), a value still stored and a permit out: a
/// receiver's `try_recv`s race the permit's send on another thread. The
/// receiver takes the stored value, then sees the permit's value or
/// `Empty` (the permit is out: not drained yet), never `Disconnected`
/// before the value; after the send, the value and then `Disconnected`.
#[test]
fn a_lock_free_try_recv_on_a_closed_ring_against_the_last_permits_send() {
    model(|| {
        let (tx, rx) = channel::bounded::<u8>(2);
        tx.try_send(1).unwrap();
        let permit = tx.try_reserve_owned().unwrap();
        rx.close();
        let user = thread::spawn(move || drop(permit.send(7)));
        assert_eq!(rx.try_recv(), Ok(1));
        let mut got = None;
        match rx.try_recv() {
            Ok(value) => got = Some(value),
            Err(TryRecvError::Empty) => {}
            Err(other) => panic!("closed and drained while a permit was out: {other:?}"),
        }
        user.join().unwrap();
        if got.is_none() {
            got = rx.try_recv().ok();
        }
        assert_eq!(got, Some(7), "the permit's value was lost");
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    });
}
