//! loom models of a bounded queue's places held by get futures (issue 21
//! point 1): a get future that returns its item frees its place without the
//! queue lock, racing a putter that found no room and queues; a get future
//! dropped with its item gives it back into the place it held.
//!
//! Run: `RUSTFLAGS="--cfg polysync_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true cargo test --release --test loom_queue_capacity --target-dir target/loom`
#![cfg(polysync_loom)]

#[path = "support/loom.rs"]
mod support;

use loom::sync::Arc;
use loom::thread;
use polysync::queue::Queue;
use std::task::Poll;

use support::{flag_waker, model, poll_once};

/// The release (a lock-free decrement, then a look for waiting putters)
/// against a putter that queues (it counts itself, then looks for room once
/// more): either the putter sees the room or the release sees the putter.
/// A stranded putter would be a deadlock that loom reports.
#[test]
fn release_vs_queueing_putter() {
    model(|| {
        let q = Arc::new(Queue::bounded(1));
        let (_flag, waker) = flag_waker();
        let mut get = Box::pin(q.get());
        assert!(poll_once(get.as_mut(), &waker).is_pending());
        q.try_put(1u32).unwrap(); // handed to `get`: it holds the one place
        let putter = {
            let q = q.clone();
            thread::spawn(move || q.put_blocking(2).unwrap())
        };
        assert_eq!(poll_once(get.as_mut(), &waker), Poll::Ready(Ok(1)));
        putter.join().unwrap();
        assert_eq!(q.try_get(), Ok(2));
        assert_eq!((q.len(), q.putting(), q.getting()), (0, 0, 0));
    });
}

/// A get future dropped with its item gives it back into its place, racing
/// a putter: the queue never holds more than one item, and the putter's
/// item follows the given-back one.
#[test]
fn give_back_vs_queueing_putter() {
    model(|| {
        let q = Arc::new(Queue::bounded(1));
        let (_flag, waker) = flag_waker();
        let mut get = Box::pin(q.get());
        assert!(poll_once(get.as_mut(), &waker).is_pending());
        q.try_put(1u32).unwrap();
        let putter = {
            let q = q.clone();
            thread::spawn(move || q.put_blocking(2).unwrap())
        };
        drop(get);
        assert!(q.len() <= 1);
        assert_eq!(q.get_blocking(), Ok(1));
        putter.join().unwrap();
        assert_eq!(q.try_get(), Ok(2));
    });
}
