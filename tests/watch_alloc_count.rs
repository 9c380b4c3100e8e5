//! Proves that contended waits on a `polysync::watch` channel allocate
//! nothing after warm-up: the wait node lives in the blocked caller's stack
//! frame or inline in the `Changed` future, a send stores the value in
//! place (`send_replace` swaps, `send_modify` edits), and a wake-up batch is
//! a fixed array. Two channels ping-pong between two threads, one side
//! async (`futures_lite::block_on`), the other blocking (`changed_blocking`,
//! or `try_changed_for` when swapped); each round the waiting side first
//! fails `try_changed` (so it really waits, checked through `Seen`), and
//! the sending side counts the receivers it saw queued.
//!
//! This binary holds only allocation tests: the global allocator applies to
//! the whole binary.

use futures_lite::future::block_on;
use polysync::watch;
use std::sync::Mutex;
use std::time::Duration;
#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::*;

/// One side of the ping-pong: `n` rounds of "send on `tx`, wait for a
/// change on `rx`" (`first` sends first).
fn side(
    tx: &watch::Sender<usize>,
    rx: &mut watch::Receiver<usize>,
    n: usize,
    first: bool,
    how: How,
) -> Seen {
    let mut seen = Seen::default();
    let send = |i: usize, seen: &mut Seen| {
        hold(i);
        if tx.receiving() > 0 {
            seen.saw_waiter += 1;
        }
        tx.send_modify(|v| *v = i);
    };
    let wait = |rx: &mut watch::Receiver<usize>, seen: &mut Seen| {
        if !rx.try_changed().unwrap() {
            seen.try_failed += 1;
            match how {
                How::Async => block_on(rx.changed()).unwrap(),
                How::Blocking => rx.changed_blocking().unwrap(),
                How::Timed => assert!(rx.try_changed_for(Duration::from_secs(30)).unwrap()),
            }
        }
    };
    for i in 0..n {
        if first {
            send(i, &mut seen);
            wait(rx, &mut seen);
        } else {
            wait(rx, &mut seen);
            send(i, &mut seen);
        }
    }
    seen
}

#[derive(Clone, Copy)]
enum How {
    Async,
    Blocking,
    Timed,
}

fn ping_pong(name: &str, hows: [How; 2]) {
    let (ping_tx, ping_rx) = watch::channel(0usize);
    let (pong_tx, pong_rx) = watch::channel(0usize);
    // Each thread uses its own ends (a Mutex only to share them with the
    // closure; each is locked by one thread only).
    let ends = [
        Mutex::new((ping_tx, pong_rx)),
        Mutex::new((pong_tx, ping_rx)),
    ];
    two_threads(name, move |me, n| {
        let mut guard = ends[me].lock().unwrap();
        let (tx, rx) = &mut *guard;
        side(tx, rx, n, me == 0, hows[me])
    });
}

#[test]
fn async_sender_first_blocking_follower() {
    ping_pong("watch async/blocking", [How::Async, How::Blocking]);
}

#[test]
fn timed_sender_first_async_follower() {
    ping_pong("watch timed/async", [How::Timed, How::Async]);
}
