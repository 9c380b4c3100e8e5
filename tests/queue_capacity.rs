//! Issue 21 point 1: a bounded queue or channel holds at most its capacity,
//! also when a get that was handed an item is dropped and gives it back.
//!
//! NOT FIXED YET: these tests reproduce the defect deterministically and
//! are `#[ignore]`d until the fix lands (run them with `--ignored`: they
//! fail today). See the report of branch `seams-queues` for why the fix
//! needs a wait list that holds putters and getters at once.

use polysync::channel;
use polysync::queue::{GenericQueue, Storage};
use polysync::{LifoQueue, PriorityQueue, Queue};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// A waiting get is handed an item, the storage is then filled to the
/// capacity, a put waits, and the get is dropped: its item comes back.
fn given_back_stays_within_capacity<S: Storage<u32>>(q: GenericQueue<u32, S>) {
    let mut cx = Context::from_waker(Waker::noop());
    let cap = q.capacity().unwrap();
    {
        let mut get = pin!(q.get());
        assert!(get.as_mut().poll(&mut cx).is_pending());
        q.try_put(100).unwrap(); // handed to the waiting get
        let mut stored = 0;
        while q.try_put(stored).is_ok() {
            stored += 1;
        }
        let mut put = pin!(q.put(999));
        assert!(put.as_mut().poll(&mut cx).is_pending());
        assert_eq!(q.putting(), 1);
        // The get goes away with the item it was handed.
    }
    assert!(q.len() <= cap, "len {} > capacity {cap}", q.len());
}

#[test]
#[ignore = "issue 21 point 1: not fixed yet (fails today)"]
fn queue_give_back_respects_the_capacity() {
    given_back_stays_within_capacity(Queue::bounded(1));
    given_back_stays_within_capacity(Queue::bounded(2));
}

#[test]
#[ignore = "issue 21 point 1: not fixed yet (fails today)"]
fn lifo_give_back_respects_the_capacity() {
    given_back_stays_within_capacity(LifoQueue::bounded(1));
}

#[test]
#[ignore = "issue 21 point 1: not fixed yet (fails today)"]
fn priority_give_back_respects_the_capacity() {
    given_back_stays_within_capacity(PriorityQueue::bounded(1));
}

#[test]
#[ignore = "issue 21 point 1: not fixed yet (fails today)"]
fn channel_give_back_respects_the_capacity() {
    let (tx, rx) = channel::bounded(1);
    let mut cx = Context::from_waker(Waker::noop());
    {
        let mut recv = pin!(rx.recv());
        assert!(recv.as_mut().poll(&mut cx).is_pending());
        tx.try_send(1).unwrap(); // handed to the waiting receive
        tx.try_send(2).unwrap(); // stored
        let mut send = pin!(tx.send(3));
        assert_eq!(send.as_mut().poll(&mut cx), Poll::Pending);
        assert_eq!(tx.sending(), 1);
    }
    assert!(rx.len() <= 1, "len {} > capacity 1", rx.len());
}
