//! loom models of the lock-free ring of bounded FIFO queues (issue 18 item
//! 2): the store-buffering hand-shake between a lock-free put and a getter
//! that queues, exactly-once FIFO through the ring's stamps, `peek_with`
//! and give-backs (the locked stash) against lock-free gets, and closing
//! against lock-free puts. The channel runs on the same queue.
//!
//! Run: `RUSTFLAGS="--cfg polysync_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true cargo test --release --test loom_channel_fast --target-dir target/loom`
#![cfg(polysync_loom)]

#[path = "support/loom.rs"]
mod support;

use loom::sync::Arc;
use loom::thread;
use polysync::queue::{Queue, TryPutError};
use std::task::Poll;

use support::{flag_waker, model, poll_once};

/// A lock-free put (store, fence, look for getters) against a getter that
/// queues (count, fence, look at the ring once more): either the getter
/// sees the item or the put sees the getter and hands it over. A stranded
/// getter would be a deadlock that loom reports.
#[test]
fn lock_free_put_vs_queueing_getter() {
    model(|| {
        let q = Arc::new(Queue::bounded(2));
        let getter = {
            let q = q.clone();
            thread::spawn(move || q.get_blocking())
        };
        q.try_put(7u32).unwrap();
        assert_eq!(getter.join().unwrap(), Ok(7));
        assert_eq!((q.len(), q.getting()), (0, 0));
    });
}

/// Two lock-free puts and two gets through a ring of two slots, the second
/// lap reusing the first slot: each item exactly once, in order.
#[test]
fn ring_laps_keep_order() {
    model(|| {
        let q = Arc::new(Queue::bounded(1));
        let producer = {
            let q = q.clone();
            thread::spawn(move || {
                q.put_blocking(1u32).unwrap();
                q.put_blocking(2).unwrap();
            })
        };
        assert_eq!(q.get_blocking(), Ok(1));
        assert_eq!(q.get_blocking(), Ok(2));
        producer.join().unwrap();
        assert_eq!((q.len(), q.putting(), q.getting()), (0, 0, 0));
    });
}

/// `peek_with` moves the front item into the locked stash while a
/// lock-free get runs: the get still takes the front item.
#[test]
fn peek_vs_lock_free_get() {
    model(|| {
        let q = Arc::new(Queue::bounded(2));
        q.try_put(1u32).unwrap();
        q.try_put(2).unwrap();
        let peeker = {
            let q = q.clone();
            thread::spawn(move || q.peek())
        };
        assert_eq!(q.try_get(), Ok(1));
        let peeked = peeker.join().unwrap();
        assert!(peeked == Some(1) || peeked == Some(2), "{peeked:?}");
        assert_eq!(q.try_get(), Ok(2));
    });
}

/// A get future dropped with its item gives it back into the stash while
/// another get takes from the ring: nothing is lost or doubled, and the
/// capacity holds (the given-back item kept its place).
#[test]
fn give_back_vs_lock_free_get() {
    model(|| {
        let q = Arc::new(Queue::bounded(2));
        let (_flag, waker) = flag_waker();
        let mut get = Box::pin(q.get());
        assert!(poll_once(get.as_mut(), &waker).is_pending());
        q.try_put(1u32).unwrap(); // handed to `get`
        q.try_put(2).unwrap(); // into the ring
        let dropper = thread::spawn(move || drop(get));
        let first = q.try_get();
        assert_eq!(q.try_put(3), Err(TryPutError::Full(3)));
        dropper.join().unwrap();
        let mut got = vec![];
        if let Ok(item) = first {
            got.push(item);
        }
        while let Ok(item) = q.try_get() {
            got.push(item);
        }
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}

/// Closing against a lock-free put: the item is either in (and drained) or
/// given back with `Closed`; never lost, never both.
#[test]
fn close_vs_lock_free_put() {
    model(|| {
        let q = Arc::new(Queue::bounded(2));
        let putter = {
            let q = q.clone();
            thread::spawn(move || q.try_put(5u32))
        };
        let drained = q.close_immediately();
        let put = putter.join().unwrap();
        let left: Vec<u32> = std::iter::from_fn(|| q.try_get().ok()).collect();
        match put {
            Ok(()) => assert_eq!(drained.len() + left.len(), 1),
            Err(TryPutError::Closed(5)) => assert!(drained.is_empty() && left.is_empty()),
            Err(e) => panic!("unexpected {e:?}"),
        }
        assert_eq!(q.try_put(6), Err(TryPutError::Closed(6)));
    });
}

/// A get future that takes an item at once (lock-free) holds its place; its
/// return frees it for a putter that queued meanwhile.
#[test]
fn lock_free_get_future_vs_queueing_putter() {
    model(|| {
        let q = Arc::new(Queue::bounded(1));
        q.try_put(1u32).unwrap();
        let (_flag, waker) = flag_waker();
        let putter = {
            let q = q.clone();
            thread::spawn(move || q.put_blocking(2).unwrap())
        };
        let mut get = Box::pin(q.get());
        assert_eq!(poll_once(get.as_mut(), &waker), Poll::Ready(Ok(1)));
        putter.join().unwrap();
        assert_eq!(q.try_get(), Ok(2));
    });
}
