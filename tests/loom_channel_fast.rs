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

/// `peek_with` against two lock-free gets: whatever position each claims,
/// the two gets take the two oldest items and the newest stays.
#[test]
fn peek_vs_two_lock_free_gets() {
    model(|| {
        let q = Arc::new(Queue::bounded(3));
        for i in 1..=3u32 {
            q.try_put(i).unwrap();
        }
        let peeker = {
            let q = q.clone();
            thread::spawn(move || q.peek())
        };
        let getter = {
            let q = q.clone();
            thread::spawn(move || q.try_get())
        };
        let mine = q.try_get().unwrap();
        let theirs = getter.join().unwrap().unwrap();
        assert!(peeker.join().unwrap().is_some());
        let mut got = [mine, theirs];
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
        assert_eq!(q.try_get(), Ok(3));
        assert_eq!(q.len(), 0);
    });
}

/// A give-back against two lock-free gets that may claim ring items before
/// or after it: the ring's items still leave oldest first (a get that
/// claimed before the give-back keeps its item; one that claimed after it
/// takes the given-back item), nothing is lost or doubled, and the places
/// add up to the capacity.
#[test]
fn give_back_vs_two_lock_free_gets() {
    model(|| {
        let q = Arc::new(Queue::bounded(3));
        let (_flag, waker) = flag_waker();
        let mut get = Box::pin(q.get());
        assert!(poll_once(get.as_mut(), &waker).is_pending());
        q.try_put(1u32).unwrap(); // handed to `get`
        q.try_put(2).unwrap(); // into the ring
        q.try_put(3).unwrap();
        let getters: Vec<_> = (0..2)
            .map(|_| {
                let q = q.clone();
                thread::spawn(move || q.try_get())
            })
            .collect();
        drop(get);
        let mut got: Vec<u32> = getters
            .into_iter()
            .filter_map(|g| g.join().unwrap().ok())
            .collect();
        let left: Vec<u32> = std::iter::from_fn(|| q.try_get().ok()).collect();
        // The ring's items 2 and 3: the gets took a prefix of them.
        assert!(!got.contains(&3) || got.contains(&2), "{got:?} {left:?}");
        got.extend(&left);
        got.sort_unstable();
        assert_eq!(got, [1, 2, 3]);
        for i in 0..3 {
            q.try_put(i).unwrap();
        }
        assert_eq!(q.try_put(3), Err(TryPutError::Full(3)));
    });
}

/// `peek_with`, a give-back and a lock-free get at once: the get never
/// takes the ring's later item while its earlier one is still stored, and
/// the rest leave in order (the give-back goes ahead of a peeked item).
#[test]
fn peek_and_give_back_vs_lock_free_get() {
    model(|| {
        let q = Arc::new(Queue::bounded(3));
        let (_flag, waker) = flag_waker();
        let mut get = Box::pin(q.get());
        assert!(poll_once(get.as_mut(), &waker).is_pending());
        q.try_put(1u32).unwrap(); // handed to `get`
        q.try_put(2).unwrap(); // into the ring
        q.try_put(3).unwrap();
        let peeker = {
            let q = q.clone();
            thread::spawn(move || q.peek())
        };
        let getter = {
            let q = q.clone();
            thread::spawn(move || q.try_get())
        };
        drop(get);
        let got = getter.join().unwrap().unwrap();
        assert!(peeker.join().unwrap().is_some());
        let left: Vec<u32> = std::iter::from_fn(|| q.try_get().ok()).collect();
        assert_ne!(got, 3, "{left:?}");
        let ring_order: Vec<u32> = left.iter().copied().filter(|&i| i != 1).collect();
        assert!(ring_order.windows(2).all(|w| w[0] < w[1]), "{got} {left:?}");
        let mut all = left.clone();
        all.push(got);
        all.sort_unstable();
        assert_eq!(all, [1, 2, 3]);
    });
}

/// A get future dropped with its item gives it back into the stash while
/// another get takes from the ring: nothing is lost or doubled, the
/// capacity holds (the given-back item kept its place), and a get that
/// comes after the give-back takes the given-back item first.
#[test]
fn give_back_vs_lock_free_get() {
    model(|| {
        let q = Arc::new(Queue::bounded(2));
        let (_flag, waker) = flag_waker();
        let mut get = Box::pin(q.get());
        assert!(poll_once(get.as_mut(), &waker).is_pending());
        q.try_put(1u32).unwrap(); // handed to `get`
        q.try_put(2).unwrap(); // into the ring
        let getter = {
            let q = q.clone();
            thread::spawn(move || q.try_get())
        };
        drop(get);
        assert!(q.len() <= 2);
        let first = getter.join().unwrap();
        let mut got = vec![];
        if let Ok(item) = first {
            got.push(item);
        }
        while let Ok(item) = q.try_get() {
            got.push(item);
        }
        if first == Ok(2) {
            assert_eq!(got, [2, 1]); // took 2 before the give-back
        } else {
            assert_eq!(got, [1, 2]);
        }
    });
}

/// A get future handed an item and then dropped gives it to a getter that
/// waits meanwhile (blocked, or still on its way in): the give-back serves
/// the oldest waiting getter, so none waits beside the given-back item.
/// The ring's part of `loom_queue::cancelled_getter_passes_item_to_next_getter`,
/// with the second getter waiting while the give-back happens.
#[test]
fn give_back_vs_waiting_getter() {
    model(|| {
        let q = Arc::new(Queue::bounded(1));
        let (_flag, waker) = flag_waker();
        let mut get = Box::pin(q.get());
        assert!(poll_once(get.as_mut(), &waker).is_pending());
        let survivor = {
            let q = q.clone();
            thread::spawn(move || q.get_blocking())
        };
        // Handed to `get`, which queued first (a lock-free put that finds
        // getters queued serves the oldest).
        q.try_put(7u32).unwrap();
        drop(get);
        assert_eq!(survivor.join().unwrap(), Ok(7));
        assert!(q.is_empty());
        assert_eq!(q.getting(), 0);
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
