//! Unit tests of a ring queue's stash order (`Inner::stash`): a lock-free
//! get that claimed a ring item and then finds the stash in use
//! (`GenericQueue::behind_stash`) takes the item that goes out first by
//! claim order. The races themselves are loom models
//! (tests/loom_channel_fast.rs); here each interleaving is laid out step by
//! step, the claim made directly on the ring.

use super::GenericQueue;
use crate::queue::{Fifo, TryGetError};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};

/// A get claimed position 0 before `peek_with` moved position 1 into the
/// stash: the get keeps its own (older) item.
#[test]
fn a_get_that_claimed_before_a_peek_keeps_its_item() {
    let q: GenericQueue<u32, Fifo<u32>> = GenericQueue::bounded(4);
    for i in 0..4 {
        q.try_put(i).unwrap();
    }
    let ring = q.ring.as_ref().expect("a bounded FIFO queue has a ring");
    let (position, item) = ring.pop_ranked().unwrap(); // a get's claim
    assert_eq!((position, item), (0, 0));
    assert_eq!(q.peek(), Some(1)); // moves position 1 into the stash
    assert_eq!(q.release_held(q.behind_stash(position, item)), 0);
    assert_eq!(q.try_get(), Ok(1));
    assert_eq!(q.try_get(), Ok(2));
    assert_eq!(q.try_get(), Ok(3));
    assert_eq!(q.try_get(), Err(TryGetError::Empty));
}

/// A get that claimed after `peek_with` moved the front item takes that
/// one, and its own goes out next.
#[test]
fn a_get_that_claimed_after_a_peek_takes_the_peeked_item() {
    let q: GenericQueue<u32, Fifo<u32>> = GenericQueue::bounded(4);
    for i in 0..3 {
        q.try_put(i).unwrap();
    }
    assert_eq!(q.peek(), Some(0));
    let ring = q.ring.as_ref().unwrap();
    let (position, item) = ring.pop_ranked().unwrap();
    assert_eq!((position, item), (1, 1));
    assert_eq!(q.release_held(q.behind_stash(position, item)), 0);
    assert_eq!(q.try_get(), Ok(1));
    assert_eq!(q.try_get(), Ok(2));
    assert_eq!(q.try_get(), Err(TryGetError::Empty));
}

/// A dropped get future gives its item back: a get that claimed a ring
/// item before the give-back keeps it, one that claims after takes the
/// given-back item first; the ring's items keep their order.
#[test]
fn a_give_back_goes_after_earlier_claims_and_before_later_ones() {
    let q: GenericQueue<u32, Fifo<u32>> = GenericQueue::bounded(4);
    let mut cx = Context::from_waker(Waker::noop());
    let ring = q.ring.as_ref().unwrap();
    let early;
    {
        let mut get = pin!(q.get());
        assert!(get.as_mut().poll(&mut cx).is_pending());
        q.try_put(10).unwrap(); // handed to `get`
        for i in 0..3 {
            q.try_put(i).unwrap();
        }
        early = ring.pop_ranked().unwrap(); // claimed before the give-back
    } // `get` dropped: 10 given back
    let late = ring.pop_ranked().unwrap(); // claimed after it
    assert_eq!((early.1, late.1), (0, 1));
    assert_eq!(q.release_held(q.behind_stash(early.0, early.1)), 0);
    assert_eq!(q.release_held(q.behind_stash(late.0, late.1)), 10);
    assert_eq!(q.try_get(), Ok(1));
    assert_eq!(q.try_get(), Ok(2));
    assert_eq!(q.try_get(), Err(TryGetError::Empty));
    // Every place is free again.
    for i in 0..4 {
        q.try_put(i).unwrap();
    }
}

/// A give-back goes ahead of an item `peek_with` stashed, as `Fifo`'s
/// restore puts it ahead of every stored item; a get that claimed a later
/// ring item before the give-back (past the stashed item) takes the front
/// of the stash, and its own item keeps its place behind the peeked one.
#[test]
fn a_give_back_goes_ahead_of_a_peeked_item() {
    let q: GenericQueue<u32, Fifo<u32>> = GenericQueue::bounded(3);
    let mut cx = Context::from_waker(Waker::noop());
    let ring = q.ring.as_ref().unwrap();
    let claimed;
    {
        let mut get = pin!(q.get());
        assert!(get.as_mut().poll(&mut cx).is_pending());
        q.try_put(10).unwrap(); // handed to `get`
        q.try_put(0).unwrap();
        q.try_put(1).unwrap();
        assert_eq!(q.peek(), Some(0)); // 0 moves into the stash
        claimed = ring.pop_ranked().unwrap(); // a get past the stash
    } // `get` dropped: 10 given back
    assert_eq!(claimed.1, 1);
    assert_eq!(q.peek(), Some(10));
    assert_eq!(q.release_held(q.behind_stash(claimed.0, claimed.1)), 10);
    assert_eq!(q.try_get(), Ok(0));
    assert_eq!(q.try_get(), Ok(1));
    assert_eq!(q.try_get(), Err(TryGetError::Empty));
}
