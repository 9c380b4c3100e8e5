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

// ---------------------------------------------------------------------------
// Wakers are user code too: a `wake` that panics must not strand another
// waiter, leave values behind, or keep a channel open.

use std::pin::pin;
use std::task::{Context, Poll, Wake, Waker};

/// A waker that counts its wakes, and panics on wake if told to.
struct TestWaker {
    wakes: AtomicUsize,
    panics: bool,
}

impl Wake for TestWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        if self.panics && !std::thread::panicking() {
            panic!("TestWaker panics in wake");
        }
    }
}

fn test_waker(panics: bool) -> (Arc<TestWaker>, Waker) {
    let inner = Arc::new(TestWaker {
        wakes: AtomicUsize::new(0),
        panics,
    });
    (inner.clone(), Waker::from(inner))
}

/// A get future that returns its item frees its place in a bounded queue,
/// which may serve a waiting putter (whose item goes to a waiting getter):
/// two wakes. If the putter's waker panics, the getter is still woken.
#[test]
fn a_panicking_putter_waker_does_not_strand_the_getter_it_served() {
    let _watchdog = Watchdog::new("a_panicking_putter_waker", Duration::from_secs(20));
    let q = polysync::Queue::bounded(1);
    let noop = Context::from_waker(Waker::noop());
    let (getter_wakes, getter_waker) = test_waker(false);
    let (_, putter_waker) = test_waker(true);
    let mut a = pin!(q.get());
    let mut b = pin!(q.get());
    assert!(
        a.as_mut()
            .poll(&mut Context::from_waker(noop.waker()))
            .is_pending()
    );
    assert!(
        b.as_mut()
            .poll(&mut Context::from_waker(&getter_waker))
            .is_pending()
    );
    q.try_put(1).unwrap(); // to `a`, which holds the one place
    let mut put = pin!(q.put(2));
    assert!(
        put.as_mut()
            .poll(&mut Context::from_waker(&putter_waker))
            .is_pending()
    );
    // `a` returns 1: its place goes to the putter, whose 2 goes to `b`.
    let polled = catch_unwind(AssertUnwindSafe(|| {
        a.as_mut().poll(&mut Context::from_waker(noop.waker()))
    }));
    let payload = polled.expect_err("the waker's panic reaches the get that woke it");
    assert!(panics::message(payload).contains("TestWaker"));
    assert_eq!(
        getter_wakes.wakes.load(Ordering::SeqCst),
        1,
        "the getter was woken"
    );
    assert_eq!(
        b.as_mut().poll(&mut Context::from_waker(&getter_waker)),
        Poll::Ready(Ok(2))
    );
    assert_eq!(
        put.as_mut().poll(&mut Context::from_waker(noop.waker())),
        Poll::Ready(Ok(()))
    );
    // The item the panicking get was returning (1) is lost to the panic
    // and counts as done: only 2's task is left.
    q.task_done().unwrap();
    assert!(q.try_join(), "no task left behind");
}

/// A `try_get` that refills the storage from a waiting putter whose waker
/// panics: the panic reaches the caller, the item it took is lost to it
/// and counts as done, so `join` ends.
#[test]
fn a_panicking_putter_waker_in_try_get_leaves_join_able_to_end() {
    let _watchdog = Watchdog::new(
        "a_panicking_putter_waker_in_try_get",
        Duration::from_secs(20),
    );
    let q = polysync::Queue::bounded(1);
    let (_, putter_waker) = test_waker(true);
    q.try_put(1).unwrap();
    let mut put = pin!(q.put(2));
    assert!(
        put.as_mut()
            .poll(&mut Context::from_waker(&putter_waker))
            .is_pending()
    );
    assert!(catch_unwind(AssertUnwindSafe(|| q.try_get())).is_err());
    assert_eq!(q.try_get(), Ok(2));
    q.task_done().unwrap();
    assert!(q.try_join(), "the lost item counts as done");
    q.join_blocking();
}

/// The last receiver's drop closes the channel, which wakes blocked
/// senders: if a sender's waker panics, the values left in the channel are
/// still dropped (then the panic is re-raised).
#[test]
fn last_receiver_drains_even_if_a_sender_waker_panics() {
    let _watchdog = Watchdog::new("last_receiver_drains", Duration::from_secs(20));
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = channel::bounded(1);
    tx.try_send(droppy(&drops, false)).unwrap();
    let (_, sender_waker) = test_waker(true);
    {
        let mut send = pin!(tx.send(droppy(&drops, false)));
        assert!(
            send.as_mut()
                .poll(&mut Context::from_waker(&sender_waker))
                .is_pending()
        );
        let dropped = catch_unwind(AssertUnwindSafe(move || drop(rx)));
        assert!(
            dropped.is_err(),
            "the waker's panic reaches the receiver's drop"
        );
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "the stored value was dropped"
        );
        assert!(tx.is_closed());
    }
    // The waiting send's value came back to its future and dropped with it.
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

/// A oneshot send whose receiver's waker panics still closes the channel:
/// the receiver gets the value, and a second receive reports the closed
/// channel instead of waiting forever.
#[test]
fn oneshot_send_closes_even_if_the_receiver_waker_panics() {
    let _watchdog = Watchdog::new("oneshot_send_closes", Duration::from_secs(20));
    let (tx, rx) = channel::oneshot::channel();
    let (_, receiver_waker) = test_waker(true);
    {
        let mut recv = pin!(rx.recv());
        assert!(
            recv.as_mut()
                .poll(&mut Context::from_waker(&receiver_waker))
                .is_pending()
        );
        assert!(catch_unwind(AssertUnwindSafe(move || tx.send(5))).is_err());
        assert_eq!(
            recv.as_mut().poll(&mut Context::from_waker(Waker::noop())),
            Poll::Ready(Ok(5))
        );
    }
    assert!(rx.is_closed(), "the send closed the channel");
    assert!(rx.try_recv().is_err());
}
