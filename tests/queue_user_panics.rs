//! User code that the queues and channels run for their caller (a value's
//! `Drop`, an item's `Ord`, a `peek_with` closure) may panic: what that
//! leaves behind. Nothing broken (the queue keeps working, its counts
//! right), nothing leaked (every value is dropped exactly once, or still
//! in the queue), nothing hung (`join` ends, waiters wake). Each test that
//! could hang has a watchdog.

#[path = "support/panics.rs"]
mod panics;
#[path = "support/worlds.rs"]
mod worlds;

use polysync::PriorityQueue;
use polysync::channel;
use std::cmp::Ordering as CmpOrdering;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use worlds::Watchdog;

/// A value that counts its drops and panics in `Drop` if told to.
struct Droppy {
    drops: Arc<AtomicUsize>,
    panics: bool,
}

impl Drop for Droppy {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        // Not while unwinding (a failed assertion): that would abort.
        if self.panics && !std::thread::panicking() {
            panic!("Droppy panics in drop");
        }
    }
}

fn droppy(drops: &Arc<AtomicUsize>, panics: bool) -> Droppy {
    Droppy {
        drops: drops.clone(),
        panics,
    }
}

/// Issue 17 item 15: when the last receiver drops, every value left in the
/// channel is dropped, even after one whose `Drop` panics, and the panic
/// reaches the caller (the receiver's drop).
#[test]
fn last_receiver_drops_every_value_through_a_panicking_drop() {
    for bounded in [false, true] {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = if bounded {
            channel::bounded(4)
        } else {
            channel::unbounded()
        };
        tx.try_send(droppy(&drops, false)).unwrap();
        tx.try_send(droppy(&drops, true)).unwrap();
        tx.try_send(droppy(&drops, false)).unwrap();
        tx.try_send(droppy(&drops, true)).unwrap();
        let weak = tx.downgrade();
        let dropped = catch_unwind(AssertUnwindSafe(move || drop(rx)));
        let payload = dropped.expect_err("the Drop panic reaches the receiver's drop");
        assert!(panics::message(payload).contains("Droppy panics in drop"));
        // All four, while a sender and a weak sender still hold the channel.
        assert_eq!(drops.load(Ordering::SeqCst), 4, "bounded: {bounded}");
        assert!(tx.is_closed());
        assert_eq!(tx.len(), 0);
        drop((tx, weak));
        assert_eq!(drops.load(Ordering::SeqCst), 4);
    }
}

/// An item whose `Ord` panics when it is told to (a switch shared by all).
#[derive(Debug)]
struct Touchy {
    key: u32,
    armed: Arc<AtomicBool>,
}

impl PartialEq for Touchy {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}
impl Eq for Touchy {}
impl PartialOrd for Touchy {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Touchy {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        if self.armed.load(Ordering::SeqCst) {
            panic!("Touchy::cmp panics");
        }
        self.key.cmp(&other.key)
    }
}

fn touchy(key: u32, armed: &Arc<AtomicBool>) -> Touchy {
    Touchy {
        key,
        armed: armed.clone(),
    }
}

/// Issue 17 item 14: an `Ord` that panics while a get takes an item out of
/// a `PriorityQueue` loses no item and no task count: after the panic the
/// queue still holds every item, each `get` + `task_done` brings the count
/// down, and `join` ends.
#[test]
fn a_panicking_ord_in_get_loses_no_item_and_join_ends() {
    let _watchdog = Watchdog::new("a_panicking_ord_in_get", Duration::from_secs(20));
    let armed = Arc::new(AtomicBool::new(false));
    let q = PriorityQueue::unbounded();
    for key in [5, 1, 4, 2, 3] {
        q.try_put(touchy(key, &armed)).unwrap();
    }
    armed.store(true, Ordering::SeqCst);
    let got = catch_unwind(AssertUnwindSafe(|| q.try_get()));
    assert!(got.is_err(), "the Ord panic reaches the get");
    armed.store(false, Ordering::SeqCst);
    // Nothing lost: five items, five unfinished tasks.
    assert_eq!(q.len(), 5);
    let mut keys = Vec::new();
    while let Ok(item) = q.try_get() {
        keys.push(item.key);
        q.task_done().unwrap();
    }
    keys.sort();
    assert_eq!(keys, [1, 2, 3, 4, 5]);
    assert!(q.try_join(), "every task is done");
    q.join_blocking();
}

/// The same with a put: the panic reaches the put; the queue stays usable
/// and its task count matches what it holds, so `join` ends.
#[test]
fn a_panicking_ord_in_put_keeps_the_count_and_join_ends() {
    let _watchdog = Watchdog::new("a_panicking_ord_in_put", Duration::from_secs(20));
    let armed = Arc::new(AtomicBool::new(false));
    let q = PriorityQueue::unbounded();
    for key in [5, 1, 4] {
        q.try_put(touchy(key, &armed)).unwrap();
    }
    armed.store(true, Ordering::SeqCst);
    let put = catch_unwind(AssertUnwindSafe(|| q.try_put(touchy(0, &armed))));
    assert!(put.is_err(), "the Ord panic reaches the put");
    armed.store(false, Ordering::SeqCst);
    let held = q.len();
    let mut got = 0;
    while q.try_get().is_ok() {
        got += 1;
        q.task_done().unwrap();
    }
    assert_eq!(got, held);
    assert!(q.try_join(), "the count matches what the queue held");
    q.join_blocking();
    // Still usable.
    q.try_put(touchy(7, &armed)).unwrap();
    assert_eq!(q.try_get().unwrap().key, 7);
}

/// A waiting `join` wakes when the last task is done after an `Ord` panic
/// (the count never got stuck above zero).
#[test]
fn join_waiting_across_an_ord_panic_ends() {
    let _watchdog = Watchdog::new("join_waiting_across_an_ord_panic", Duration::from_secs(20));
    let armed = Arc::new(AtomicBool::new(false));
    let q = Arc::new(PriorityQueue::unbounded());
    for key in [3, 1, 2] {
        q.try_put(touchy(key, &armed)).unwrap();
    }
    let joiner = {
        let q = q.clone();
        std::thread::spawn(move || q.join_blocking())
    };
    armed.store(true, Ordering::SeqCst);
    assert!(catch_unwind(AssertUnwindSafe(|| q.try_get())).is_err());
    armed.store(false, Ordering::SeqCst);
    while q.try_get().is_ok() {
        q.task_done().unwrap();
    }
    joiner.join().unwrap();
}

/// A get that refills the storage from a waiting putter runs `Ord` for the
/// putter's item: if that panics, the putter's item stays stored, the
/// putter is served by the next refill, and the item the get had taken (lost
/// to the panic) counts as done, so `join` ends.
#[test]
fn a_panicking_ord_in_a_refill_strands_no_putter_and_join_ends() {
    let _watchdog = Watchdog::new("a_panicking_ord_in_a_refill", Duration::from_secs(20));
    let armed = Arc::new(AtomicBool::new(false));
    let q = Arc::new(PriorityQueue::bounded(2));
    q.try_put(touchy(1, &armed)).unwrap();
    q.try_put(touchy(2, &armed)).unwrap();
    let putter = {
        let (q, armed) = (q.clone(), armed.clone());
        std::thread::spawn(move || q.put_blocking(touchy(3, &armed)).is_ok())
    };
    worlds::wait_until("the putter to queue", || q.putting() == 1);
    armed.store(true, Ordering::SeqCst);
    assert!(catch_unwind(AssertUnwindSafe(|| q.try_get())).is_err());
    armed.store(false, Ordering::SeqCst);
    let mut keys = Vec::new();
    while keys.len() < 2 {
        if let Ok(item) = q.try_get() {
            keys.push(item.key);
            q.task_done().unwrap();
        }
        std::thread::yield_now();
    }
    keys.sort();
    assert_eq!(keys, [2, 3]);
    assert!(putter.join().unwrap(), "the putter was served");
    assert!(q.try_join(), "the count matches");
    q.join_blocking();
}

/// `peek_with`'s closure runs under the queue lock: touching the queue from
/// it would deadlock. Debug builds (the tests) panic instead, and the queue
/// stays usable.
#[test]
#[cfg(debug_assertions)]
fn peek_with_reentry_panics_instead_of_hanging() {
    let _watchdog = Watchdog::new("peek_with_reentry", Duration::from_secs(20));
    let q = polysync::Queue::unbounded();
    q.try_put(1).unwrap();
    panics::expect_panic(|| q.peek_with(|_| q.len()), &["peek_with", "deadlock"]);
    panics::expect_panic(|| q.peek_with(|_| q.try_put(2)), &["peek_with"]);
    panics::expect_panic(|| q.peek_with(|_| q.try_get()), &["peek_with"]);
    // Another queue is fine.
    let other = polysync::Queue::<u8>::unbounded();
    assert_eq!(q.peek_with(|_| other.len()), Some(0));
    assert_eq!(q.len(), 1);
    assert_eq!(q.try_get(), Ok(1));
}

/// A `peek_with` closure that panics leaves the queue unlocked and as it was.
#[test]
fn a_panicking_peek_with_closure_leaves_the_queue_as_it_was() {
    let _watchdog = Watchdog::new("a_panicking_peek_with", Duration::from_secs(20));
    let q = PriorityQueue::unbounded();
    q.try_put(2).unwrap();
    q.try_put(1).unwrap();
    let peeked = catch_unwind(AssertUnwindSafe(|| q.peek_with(|_| panic!("in f"))));
    assert!(peeked.is_err());
    assert_eq!(q.len(), 2);
    assert_eq!(q.try_get(), Ok(1));
    assert_eq!(q.try_get(), Ok(2));
    assert_eq!(q.task_done(), Ok(1));
}
