//! Send permits on a bounded channel's lock-free ring (issue 18 item 2 with
//! issue 20 item 5): a permit's place is a place of the ring queue's count,
//! whether the reserve got it at once or waited for it; a permit's value
//! goes into the ring after a close; and gets that race the last permit on
//! a closed channel (the lock-free `try_recv` among them) never report it
//! drained while the permit is out, nor miss its value. The race runs on OS
//! threads under a watchdog; its exact interleavings are loom's
//! (`tests/loom_channel_reserve.rs`). Nothing here depends on timing.

#[path = "support/worlds.rs"]
mod worlds;
use worlds::Watchdog;

use polysync::channel::{self, TryRecvError, TrySendError};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// A waker that does nothing (the tests poll again by hand).
struct Nop;

impl Wake for Nop {
    fn wake(self: Arc<Self>) {}
}

fn dog(name: &'static str) -> Watchdog {
    Watchdog::new(name, Duration::from_secs(30))
}

#[test]
fn a_reserve_that_waited_for_its_ring_place_holds_it() {
    let (tx, rx) = channel::bounded(2);
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    let waker = Waker::from(Arc::new(Nop));
    let mut cx = Context::from_waker(&waker);
    let mut reserve = pin!(tx.reserve());
    assert!(reserve.as_mut().poll(&mut cx).is_pending());
    // The received value's place goes to the waiting reserve.
    assert_eq!(rx.try_recv(), Ok(1));
    let Poll::Ready(Ok(permit)) = reserve.as_mut().poll(&mut cx) else {
        panic!("the reserve was not given the place");
    };
    assert_eq!(tx.reserved(), 1);
    assert_eq!(
        tx.try_send(3),
        Err(TrySendError::Full(3)),
        "the permit's place"
    );
    assert_eq!(tx.try_reserve().unwrap_err(), TrySendError::Full(()));
    permit.send(4);
    assert_eq!(
        tx.try_send(5),
        Err(TrySendError::Full(5)),
        "the value's place"
    );
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Ok(4));
    tx.try_send(6).unwrap();
    tx.try_send(7).unwrap();
    assert_eq!(tx.try_send(8), Err(TrySendError::Full(8)));
}

#[test]
fn a_permit_sends_into_a_closed_ring_behind_the_values_stored() {
    let (tx, rx) = channel::bounded(3);
    tx.try_send(1).unwrap();
    let permit = tx.try_reserve().unwrap();
    tx.try_send(2).unwrap();
    rx.close();
    assert!(tx.try_send(9).is_err(), "closed");
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "a permit is out");
    permit.send(3);
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

/// The last permit of a closed channel sends on one thread while another
/// receives with `try_recv` (lock-free while the ring is open, the locked
/// path once it is closed) and `recv_blocking`: the value arrives exactly
/// once, and `Disconnected` comes only after it.
#[test]
fn receivers_racing_the_last_permit_of_a_closed_ring_get_its_value() {
    let _dog = dog("receivers_racing_the_last_permit_of_a_closed_ring_get_its_value");
    for round in 0..500u32 {
        let (tx, rx) = channel::bounded(2);
        let permit = tx.clone().try_reserve_owned().unwrap();
        drop(tx);
        rx.close();
        let sender = std::thread::spawn(move || drop(permit.send(round)));
        let got = if round % 2 == 0 {
            loop {
                match rx.try_recv() {
                    Ok(value) => break value,
                    Err(TryRecvError::Empty) => std::thread::yield_now(),
                    Err(other) => panic!("round {round}: drained with a permit out: {other:?}"),
                }
            }
        } else {
            rx.recv_blocking().expect("the permit's value")
        };
        assert_eq!(got, round);
        sender.join().unwrap();
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    }
}
