//! Proves that `polysync::broadcast` allocates its ring once and nothing
//! after: creating a channel makes two allocations (the shared state and
//! the ring), subscribing, sending and receiving make none, and contended
//! receives (blocking, timed and async) allocate nothing after warm-up: the
//! wait node lives in the blocked caller's stack frame or in the unboxed
//! `Recv` future. One thread sends, the other receives and waits whenever
//! the ring is empty (checked through `Seen`: a `try_recv` found it empty,
//! the sender saw a queued receiver).
//!
//! This binary holds only allocation tests: the global allocator applies to
//! the whole binary.

use futures_lite::future::block_on;
use polysync::broadcast::{self, Receiver, RecvError, Sender, TryRecvError};
use std::sync::Mutex;
use std::time::Duration;
#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::*;

#[derive(Clone, Copy)]
enum Form {
    Blocking,
    Timed,
    Async,
}

fn send(tx: &Sender<usize>, n: usize) -> Seen {
    let mut seen = Seen::default();
    for i in 0..n {
        if tx.receiving() > 0 {
            seen.saw_waiter += 1;
        }
        tx.send(i).unwrap();
        hold(i);
    }
    seen
}

/// Receives until `n` messages are accounted for (received, or lost to a
/// lag: the sender never waits).
fn recv(rx: &mut Receiver<usize>, n: usize, form: Form) -> Seen {
    let mut seen = Seen::default();
    let mut accounted = 0;
    while accounted < n {
        let got = match rx.try_recv() {
            Err(TryRecvError::Empty) => {
                seen.try_failed += 1;
                match form {
                    Form::Blocking => rx.recv_blocking(),
                    Form::Timed => rx
                        .try_recv_for(Duration::from_secs(30))
                        .map_err(|e| match e {
                            TryRecvError::Lagged(k) => RecvError::Lagged(k),
                            e => panic!("{e:?}"),
                        }),
                    Form::Async => block_on(rx.recv()),
                }
            }
            Ok(v) => Ok(v),
            Err(TryRecvError::Lagged(k)) => Err(RecvError::Lagged(k)),
            Err(e) => panic!("{e:?}"),
        };
        accounted += match got {
            Ok(v) => {
                std::hint::black_box(v);
                1
            }
            Err(RecvError::Lagged(k)) => k as usize,
            Err(RecvError::Closed) => panic!("closed"),
        };
    }
    seen
}

fn contended(name: &str, form: Form) {
    let (tx, rx) = broadcast::channel(1024);
    let rx = Mutex::new(rx);
    two_threads(name, move |me, n| {
        if me == 0 {
            send(&tx, n)
        } else {
            recv(&mut rx.lock().unwrap(), n, form)
        }
    });
}

#[test]
fn ring_is_allocated_once() {
    let ((tx, mut rx), made) = measured(|| broadcast::channel::<usize>(64));
    assert_eq!(made.count, 2, "the shared state and the ring: {made:?}");
    let (_, after) = measured(|| {
        let mut late = tx.subscribe();
        for i in 0..1000 {
            tx.send(i).unwrap();
            let _ = rx.try_recv();
            let _ = late.try_recv();
        }
        drop(late);
        drop(tx);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    });
    assert_eq!(after.count, 0, "subscribe, send, receive, drop: {after:?}");
}

#[test]
fn blocking_receive_allocates_nothing() {
    contended("broadcast blocking", Form::Blocking);
}

#[test]
fn timed_receive_allocates_nothing() {
    contended("broadcast timed", Form::Timed);
}

#[test]
fn async_receive_allocates_nothing() {
    contended("broadcast async", Form::Async);
}
