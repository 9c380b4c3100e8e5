//! Proves that waiting on a `OnceCell` (for its value, or for the turn to
//! initialize) and on a `Notify` allocates nothing: the queue node lives in
//! the waiting stack frame (blocking forms) or in the future (async forms),
//! and set / notify_one / notify_waiters collect wakers in a fixed array.
//!
//! Two threads (the harness of `support/counting_alloc.rs`: warm-up, then
//! `N` measured rounds with a counting allocator, zero allocations on both
//! threads, and proof that the waits really queued):
//! - `once_cell`: each round has its own cell (made before counting);
//!   thread 1 waits for its value (async and blocking rounds alternate, and
//!   every third round it initializes with `get_or_init` instead), thread 0
//!   initializes it with `get_or_init_blocking`.
//! - `notify`: a ping-pong through two `Notify`s, one side async under
//!   `futures_lite::block_on`, the other blocking; every 8th round uses
//!   `notify_waiters`.
//!
//! A watchdog fails a run that hangs. This binary holds only allocation tests: the allocator applies to all of it.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{N, Seen, WARMUP, hold, two_threads};
#[path = "support/worlds.rs"]
mod worlds;
use worlds::Watchdog;

use futures_lite::future::block_on;
use polysync::{Notify, OnceCell};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn once_cell() {
    let _dog = Watchdog::new("alloc_count once_cell", Duration::from_secs(30));
    let cells: Arc<Vec<OnceCell<usize>>> =
        Arc::new((0..WARMUP + N).map(|_| OnceCell::new()).collect());
    two_threads("once_cell", move |me, n| {
        let base = if n == WARMUP { 0 } else { WARMUP };
        let mut seen = Seen::default();
        for i in 0..n {
            let cell = &cells[base + i];
            if me == 0 {
                hold(i);
                if cell.waiting() > 0 {
                    seen.saw_waiter += 1;
                }
                assert_eq!(*cell.get_or_init_blocking(|| i), i);
            } else {
                if cell.get().is_none() {
                    seen.try_failed += 1;
                }
                let v = match i % 3 {
                    0 => *block_on(cell.wait()),
                    1 => *cell.wait_blocking(),
                    _ => *block_on(cell.get_or_init(|| async move { i })),
                };
                assert_eq!(v, i);
            }
        }
        seen
    });
}

#[test]
fn notify() {
    let _dog = Watchdog::new("alloc_count notify", Duration::from_secs(30));
    let ping = Arc::new((Notify::new(), Notify::new()));
    two_threads("notify", move |me, n| {
        let (to_one, to_zero) = (&ping.0, &ping.1);
        let mut seen = Seen::default();
        for i in 0..n {
            if me == 0 {
                hold(i);
                if to_one.waiting() > 0 {
                    seen.saw_waiter += 1;
                }
                to_one.notify_one();
                if !to_zero.try_notified() {
                    seen.try_failed += 1;
                    block_on(to_zero.notified());
                }
            } else {
                if !to_one.try_notified() {
                    seen.try_failed += 1;
                    to_one.notified_blocking();
                }
                hold(i);
                if i % 8 == 7 && to_zero.waiting() > 0 {
                    // Thread 0 is queued: a notify_waiters reaches it.
                    to_zero.notify_waiters();
                } else {
                    to_zero.notify_one();
                }
            }
        }
        seen
    });
}
