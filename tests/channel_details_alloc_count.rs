//! Proves that the waits of the channel details (issue 20 item 5) allocate
//! nothing after warm-up: `recv_many` (async and blocking, into a buffer
//! with room) and `send_timeout` under real contention (one thread sends,
//! the other receives, on a channel of capacity 1: both sides wait, checked
//! through `Seen`), and the oneshot receiver polled as a future, and
//! `Sender::closed`, from a pending poll to the wake-up.
//!
//! This binary holds only allocation tests: the global allocator applies to
//! the whole binary.

use futures_lite::future::block_on;
use polysync::channel::{self, Receiver, Sender, oneshot};
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Waker};
#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::*;

fn waiters_seen<T>(tx: &Sender<T>) -> bool {
    tx.sending() > 0 || tx.receiving() > 0
}

fn send_blocking(tx: &Sender<usize>, n: usize) -> Seen {
    let mut seen = Seen::default();
    for i in 0..n {
        if let Err(e) = tx.try_send(i) {
            seen.try_failed += 1;
            // Without the spin (`NoSpin`): the waits must queue.
            no_spin(|w| tx.send_with(e.into_inner(), w, None)).unwrap();
        }
        if waiters_seen(tx) {
            seen.saw_waiter += 1;
        }
        hold(i);
    }
    seen
}

/// Receives `n` values with `recv_many` (limit 4) into a buffer with room
/// for them, waiting (async or blocking) whenever the channel is empty.
fn recv_many(tx: &Sender<usize>, rx: &Receiver<usize>, n: usize, blocking: bool) -> Seen {
    std::thread_local! {
        /// The buffer, made in the warm-up round (so the measured round
        /// reuses its room).
        static BUFFER: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUFFER.with_borrow_mut(|buffer| recv_many_into(buffer, tx, rx, n, blocking))
}

fn recv_many_into(
    buffer: &mut Vec<usize>,
    tx: &Sender<usize>,
    rx: &Receiver<usize>,
    n: usize,
    blocking: bool,
) -> Seen {
    buffer.clear();
    buffer.reserve(4);
    let mut seen = Seen::default();
    let mut got = 0;
    while got < n {
        buffer.clear();
        let k = match rx.try_recv_many(buffer, 4) {
            Ok(k) => k,
            Err(_) => {
                seen.try_failed += 1;
                if blocking {
                    // Without the spin (`NoSpin`): the waits must queue.
                    no_spin(|w| rx.recv_many_with(buffer, 4, w, None)).unwrap()
                } else {
                    block_on(rx.recv_many(buffer, 4))
                }
            }
        };
        assert!(k > 0, "closed early");
        got += k;
        std::hint::black_box(&*buffer);
        if waiters_seen(tx) {
            seen.saw_waiter += 1;
        }
        hold(got);
    }
    seen
}

fn recv_blocking(tx: &Sender<usize>, rx: &Receiver<usize>, n: usize) -> Seen {
    let mut seen = Seen::default();
    for i in 0..n {
        let v = match rx.try_recv() {
            Ok(v) => v,
            Err(_) => {
                seen.try_failed += 1;
                no_spin(|w| rx.recv_with(w, None)).unwrap()
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

/// Sends `n` values with `send_timeout` whose timer never fires (a full
/// channel makes it wait for the receiver).
fn send_timeout(tx: &Sender<usize>, n: usize) -> Seen {
    let mut seen = Seen::default();
    for i in 0..n {
        if let Err(e) = tx.try_send(i) {
            seen.try_failed += 1;
            let v = e.into_inner();
            block_on(tx.send_timeout(v, std::future::pending::<()>())).unwrap();
        }
        if waiters_seen(tx) {
            seen.saw_waiter += 1;
        }
        hold(i);
    }
    seen
}

#[test]
fn recv_many_blocking_allocates_nothing() {
    let (tx, rx) = channel::bounded(1);
    two_threads("recv_many blocking", move |me, n| {
        if me == 0 {
            send_blocking(&tx, n)
        } else {
            recv_many(&tx, &rx, n, true)
        }
    });
}

#[test]
fn recv_many_async_allocates_nothing() {
    let (tx, rx) = channel::bounded(1);
    two_threads("recv_many async", move |me, n| {
        if me == 0 {
            send_blocking(&tx, n)
        } else {
            recv_many(&tx, &rx, n, false)
        }
    });
}

#[test]
fn send_timeout_allocates_nothing() {
    let (tx, rx) = channel::bounded(1);
    two_threads("send_timeout", move |me, n| {
        if me == 0 {
            send_timeout(&tx, n)
        } else {
            recv_blocking(&tx, &rx, n)
        }
    });
}

#[test]
fn the_oneshot_receiver_future_and_closed_allocate_nothing() {
    // The channels are made first (each is one `Arc`): only the waits are
    // measured.
    let mut channels: Vec<_> = (0..N).map(|_| oneshot::channel::<usize>()).collect();
    let mut mpsc: Vec<_> = (0..N).map(|_| channel::bounded::<usize>(1)).collect();
    let mut cx = Context::from_waker(Waker::noop());
    let ((), allocs) = measured(|| {
        for (i, (tx, rx)) in channels.drain(..).enumerate() {
            let mut rx = rx;
            {
                let mut closed = pin!(tx.closed());
                assert!(closed.as_mut().poll(&mut cx).is_pending());
            }
            assert!(Pin::new(&mut rx).poll(&mut cx).is_pending());
            tx.send(i).unwrap();
            assert_eq!(
                Pin::new(&mut rx).poll(&mut cx),
                std::task::Poll::Ready(Ok(i))
            );
            // Drops here: frees, never allocates.
        }
        for (tx, rx) in mpsc.drain(..) {
            let mut closed = pin!(tx.closed());
            assert!(closed.as_mut().poll(&mut cx).is_pending());
            drop(rx);
            assert!(closed.as_mut().poll(&mut cx).is_ready());
        }
    });
    assert_eq!(allocs.count, 0, "allocations: {allocs:?}");
}
