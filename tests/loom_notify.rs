#![cfg(polysync_loom)]
//! loom models of `Notify`: `notify_one` vs waiters (no lost wake, at most
//! one permit), a notification received by a future that is dropped (passed
//! on), a timed wait that gives up as a `notify_one` arrives (the
//! notification is returned or stored, never lost), and `notify_waiters` vs
//! a future created before it (completed, polled or not).
//!
//! Run with:
//!
//! RUSTFLAGS="--cfg polysync_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true cargo test -p polysync --release --test loom_notify --target-dir target/loom
//!
//! The main thread never parks (tokio-rs/loom#249): it notifies, polls
//! with flag wakers, and joins. loom has no clock: a timed wait gives up at
//! once unless a wake is pending (`support::timing_out`).

#[path = "support/loom.rs"]
mod support;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use loom::thread;
use polysync::Notify;
use std::pin::pin;
use std::task::Poll;

/// Data written before a notification, read by the woken waiter (loom
/// checks that the read is ordered after the write).
struct Published {
    notify: Notify,
    data: loom::cell::UnsafeCell<u32>,
}

// SAFETY: `data` is written once, before the notification, and read only
// by the waiters it completed (the models check the ordering).
unsafe impl Sync for Published {}
use support::{SOON, flag_waker, model, poll_once, timing_out};

/// `notify_one` vs a blocking waiter: it returns (woken or by the permit),
/// and no permit is left.
#[test]
fn notify_one_vs_blocking_waiter() {
    model(|| {
        let notify = Arc::new(Notify::new());
        let waiter = {
            let notify = notify.clone();
            thread::spawn(move || notify.notified_blocking())
        };
        notify.notify_one();
        waiter.join().unwrap();
        assert!(!notify.try_notified());
    });
}

/// Two waiters (blocking and async) vs a `notify_one`, and a second one
/// once a waiter returned (two calls with nobody waiting store one permit,
/// by design): both return, no permit is left.
#[test]
fn two_notify_one_vs_two_waiters() {
    model(|| {
        let notify = Arc::new(Notify::new());
        let done = Arc::new(AtomicUsize::new(0));
        let blocking = {
            let (notify, done) = (notify.clone(), done.clone());
            thread::spawn(move || {
                notify.notified_blocking();
                done.fetch_add(1, SeqCst);
            })
        };
        let task = {
            let (notify, done) = (notify.clone(), done.clone());
            thread::spawn(move || {
                loom::future::block_on(notify.notified());
                done.fetch_add(1, SeqCst);
            })
        };
        notify.notify_one();
        while done.load(SeqCst) == 0 {
            thread::yield_now();
        }
        notify.notify_one();
        blocking.join().unwrap();
        task.join().unwrap();
        assert!(!notify.try_notified());
    });
}

/// A future polled once, then dropped, vs a blocking waiter and one
/// `notify_one`: if the future did not return the notification, the
/// blocking waiter gets it (passed on, stored, or directly).
#[test]
fn dropped_notification_is_passed_on() {
    model(|| {
        let notify = Arc::new(Notify::new());
        let dropper = {
            let notify = notify.clone();
            thread::spawn(move || {
                let (_flag, waker) = flag_waker();
                let fut = pin!(notify.notified());
                poll_once(fut, &waker).is_ready()
            })
        };
        let blocking = {
            let notify = notify.clone();
            thread::spawn(move || notify.notified_blocking())
        };
        notify.notify_one();
        if dropper.join().unwrap() {
            // It consumed that one: the blocking waiter needs another.
            notify.notify_one();
        }
        blocking.join().unwrap();
        assert!(!notify.try_notified());
    });
}

/// A timed wait that gives up vs `notify_one`: the notification is either
/// returned by the wait or stored as the permit, never lost.
#[test]
fn timed_out_wait_loses_no_notification() {
    model(|| {
        let notify = Arc::new(Notify::new());
        let waiter = {
            let notify = notify.clone();
            thread::spawn(move || timing_out(|| notify.try_notified_for(SOON)))
        };
        notify.notify_one();
        let got = waiter.join().unwrap();
        assert_eq!(notify.try_notified(), !got, "returned xor stored");
        assert_eq!(notify.waiting(), 0);
    });
}

/// `notify_waiters` vs a future created before it: the future completes
/// whether it was polled (queued) before the call or not.
#[test]
fn notify_waiters_reaches_a_future_created_before_it() {
    model(|| {
        let notify = Arc::new(Notify::new());
        let created = Arc::new(AtomicBool::new(false));
        let task = {
            let (notify, created) = (notify.clone(), created.clone());
            thread::spawn(move || {
                let fut = notify.notified();
                created.store(true, SeqCst);
                loom::future::block_on(fut);
            })
        };
        while !created.load(SeqCst) {
            thread::yield_now();
        }
        notify.notify_waiters();
        task.join().unwrap();
        assert!(!notify.try_notified(), "notify_waiters stores nothing");
    });
}

/// `notify_waiters` vs a future polled once (it may queue) and dropped,
/// then `notify_one`: the permit is stored for a later wait, the dropped
/// future took nothing.
#[test]
fn notify_waiters_then_notify_one_vs_dropped_future() {
    model(|| {
        let notify = Arc::new(Notify::new());
        let dropper = {
            let notify = notify.clone();
            thread::spawn(move || {
                let (_flag, waker) = flag_waker();
                let fut = pin!(notify.notified());
                let _ = poll_once(fut, &waker);
            })
        };
        notify.notify_waiters();
        dropper.join().unwrap();
        notify.notify_one();
        let (_flag, waker) = flag_waker();
        assert_eq!(poll_once(pin!(notify.notified()), &waker), Poll::Ready(()));
    });
}

/// `notify_waiters` with a waiter queued (so it wakes under the queue lock)
/// vs a future created before it and polled while it runs: a waiter that
/// completes reads what the notifier wrote before the call (the word it
/// sees may be one the notifier stored under the lock, which orders
/// nothing: such a waiter must take the lock).
#[test]
fn notify_waiters_publishes_to_an_unpolled_future() {
    model(|| {
        let shared = Arc::new(Published {
            notify: Notify::new(),
            data: loom::cell::UnsafeCell::new(0),
        });
        let created = Arc::new(AtomicUsize::new(0));
        let queued = {
            let (shared, created) = (shared.clone(), created.clone());
            thread::spawn(move || {
                let fut = shared.notify.notified();
                created.fetch_add(1, SeqCst);
                loom::future::block_on(fut);
                // SAFETY: read after the notification (the model checks it).
                assert_eq!(shared.data.with(|p| unsafe { *p }), 7);
            })
        };
        let late = {
            let (shared, created) = (shared.clone(), created.clone());
            thread::spawn(move || {
                let fut = shared.notify.notified();
                created.fetch_add(1, SeqCst);
                let (_flag, waker) = flag_waker();
                if poll_once(pin!(fut), &waker).is_ready() {
                    // SAFETY: as above.
                    assert_eq!(shared.data.with(|p| unsafe { *p }), 7);
                }
            })
        };
        while created.load(SeqCst) < 2 {
            thread::yield_now();
        }
        // SAFETY: written before the notification; readers read after it.
        shared.data.with_mut(|p| unsafe { *p = 7 });
        shared.notify.notify_waiters();
        queued.join().unwrap();
        late.join().unwrap();
    });
}
