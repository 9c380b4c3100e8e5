//! Proves that contended sends and receives on a `polysync::channel`
//! allocate nothing after warm-up, in every form and across worlds: the
//! wait node lives in the blocked caller's stack frame or the unboxed
//! `SendFuture`/`RecvFuture`, and a bounded channel's buffer never grows
//! after its first value. One thread sends, the other receives, on a
//! channel of capacity 1, so both sides really wait (checked through
//! `Seen`: a `try_*` failed, a queued waiter was observed).
//!
//! Send permits too: a reserve that waits (blocking, timed or async)
//! allocates nothing either; its node lives in the same places.
//!
//! This binary holds only allocation tests: the global allocator applies to
//! the whole binary.

use futures_lite::future::block_on;
use polysync::channel::{self, Receiver, Sender};
use std::time::{Duration, Instant};
#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::*;

fn waiters_seen<T>(tx: &Sender<T>) -> bool {
    tx.sending() > 0 || tx.receiving() > 0
}

fn send_blocking(tx: &Sender<usize>, n: usize, timed: bool) -> Seen {
    let mut seen = Seen::default();
    for i in 0..n {
        if let Err(e) = tx.try_send(i) {
            seen.try_failed += 1;
            let v = e.into_inner();
            // Without the spin (`NoSpin`): the waits must queue.
            let deadline = timed.then(|| Instant::now() + Duration::from_secs(30));
            no_spin(|w| tx.send_with(v, w, deadline)).unwrap();
        }
        if waiters_seen(tx) {
            seen.saw_waiter += 1;
        }
        hold(i);
    }
    seen
}

fn recv_blocking(tx: &Sender<usize>, rx: &Receiver<usize>, n: usize, timed: bool) -> Seen {
    let mut seen = Seen::default();
    for i in 0..n {
        let v = match rx.try_recv() {
            Ok(v) => v,
            Err(_) => {
                seen.try_failed += 1;
                // Without the spin (`NoSpin`): the waits must queue.
                let deadline = timed.then(|| Instant::now() + Duration::from_secs(30));
                no_spin(|w| rx.recv_with(w, deadline)).unwrap()
            }
        };
        std::hint::black_box(v);
        if waiters_seen(tx) {
            seen.saw_waiter += 1;
        }
        hold(i);
    }
    seen
}

async fn send_async(tx: &Sender<usize>, n: usize) -> Seen {
    let mut seen = Seen::default();
    for i in 0..n {
        if let Err(e) = tx.try_send(i) {
            seen.try_failed += 1;
            tx.send(e.into_inner()).await.unwrap();
        }
        if waiters_seen(tx) {
            seen.saw_waiter += 1;
        }
        hold(i);
    }
    seen
}

async fn recv_async(tx: &Sender<usize>, rx: &Receiver<usize>, n: usize) -> Seen {
    let mut seen = Seen::default();
    for i in 0..n {
        let v = match rx.try_recv() {
            Ok(v) => v,
            Err(_) => {
                seen.try_failed += 1;
                rx.recv().await.unwrap()
            }
        };
        std::hint::black_box(v);
        if waiters_seen(tx) {
            seen.saw_waiter += 1;
        }
        hold(i);
    }
    seen
}

/// Sends through permits: `try_reserve`, and when full a reserve that
/// waits (blocking, timed, or async when `fut` is given).
fn send_reserving(tx: &Sender<usize>, n: usize, timed: bool) -> Seen {
    let mut seen = Seen::default();
    for i in 0..n {
        let permit = match tx.try_reserve() {
            Ok(permit) => permit,
            Err(_) => {
                seen.try_failed += 1;
                if timed {
                    tx.try_reserve_for(Duration::from_secs(30)).unwrap()
                } else {
                    tx.reserve_blocking().unwrap()
                }
            }
        };
        permit.send(i);
        if waiters_seen(tx) {
            seen.saw_waiter += 1;
        }
        hold(i);
    }
    seen
}

async fn send_reserving_async(tx: &Sender<usize>, n: usize) -> Seen {
    let mut seen = Seen::default();
    for i in 0..n {
        let permit = match tx.try_reserve() {
            Ok(permit) => permit,
            Err(_) => {
                seen.try_failed += 1;
                tx.reserve().await.unwrap()
            }
        };
        permit.send(i);
        if waiters_seen(tx) {
            seen.saw_waiter += 1;
        }
        hold(i);
    }
    seen
}

#[test]
fn waiting_reserves_allocate_nothing() {
    let (tx, rx) = channel::bounded(1);
    let (tx2, rx2) = (tx.clone(), rx.clone());
    let (tx3, rx3) = (tx.clone(), rx.clone());
    two_threads("channel reserve blocking", move |me, n| {
        if me == 0 {
            send_reserving(&tx, n, false)
        } else {
            recv_blocking(&tx, &rx, n, false)
        }
    });
    two_threads("channel reserve timed", move |me, n| {
        if me == 0 {
            send_reserving(&tx2, n, true)
        } else {
            block_on(recv_async(&tx2, &rx2, n))
        }
    });
    two_threads("channel reserve async", move |me, n| {
        if me == 0 {
            block_on(send_reserving_async(&tx3, n))
        } else {
            recv_blocking(&tx3, &rx3, n, false)
        }
    });
}

#[test]
fn blocking_send_recv_allocates_nothing() {
    let (tx, rx) = channel::bounded(1);
    two_threads("channel blocking", move |me, n| {
        if me == 0 {
            send_blocking(&tx, n, false)
        } else {
            recv_blocking(&tx, &rx, n, false)
        }
    });
}

#[test]
fn timed_send_recv_allocates_nothing() {
    let (tx, rx) = channel::bounded(1);
    two_threads("channel timed", move |me, n| {
        if me == 0 {
            send_blocking(&tx, n, true)
        } else {
            recv_blocking(&tx, &rx, n, true)
        }
    });
}

#[test]
fn async_send_recv_allocates_nothing() {
    let (tx, rx) = channel::bounded(1);
    two_threads("channel async", move |me, n| {
        if me == 0 {
            block_on(send_async(&tx, n))
        } else {
            block_on(recv_async(&tx, &rx, n))
        }
    });
}

#[test]
fn mixed_worlds_allocate_nothing() {
    let (tx, rx) = channel::bounded(1);
    let (tx2, rx2) = (tx.clone(), rx.clone());
    two_threads("channel async->blocking", move |me, n| {
        if me == 0 {
            block_on(send_async(&tx, n))
        } else {
            recv_blocking(&tx, &rx, n, false)
        }
    });
    two_threads("channel blocking->async", move |me, n| {
        if me == 0 {
            send_blocking(&tx2, n, false)
        } else {
            block_on(recv_async(&tx2, &rx2, n))
        }
    });
}
