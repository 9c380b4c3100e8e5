//! loom models of `Condition`: the move of a notified waiter from the
//! condition's queue to the lock's, against waits, releases and cancellation.
//!
//! Run: `RUSTFLAGS="--cfg polysync_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true cargo test --release --test loom_condition --target-dir target/loom`
#![cfg(polysync_loom)]

#[path = "support/loom.rs"]
mod support;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use loom::thread;
use polysync::{Condition, Lock, Mutex};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};

use support::model;

/// A blocking waiter with a predicate and a notifier that sets the state
/// under the lock: the waiter always returns, owning the lock, and sees the
/// state (no lost wake-up between its check and its wait).
#[test]
fn predicate_wait_vs_notify() {
    model(|| {
        let shared = Arc::new((Mutex::new(false), Condition::new()));
        let waiter = {
            let shared = shared.clone();
            thread::spawn(move || {
                let (m, c) = &*shared;
                let g = c.wait_while_blocking(m.lock_blocking(), |ready| !**ready);
                assert!(*g);
                assert!(m.is_locked());
            })
        };
        {
            let (m, c) = &*shared;
            *m.lock_blocking() = true;
            c.notify_all();
        }
        waiter.join().unwrap();
        assert!(!shared.0.is_locked());
        assert_eq!(shared.1.waiting(), 0);
    });
}

/// Notify without the lock vs a waiter that is still giving the lock up:
/// the waiter is either handed the lock or queued for it, and returns.
#[test]
fn notify_without_lock_vs_release() {
    model(|| {
        let shared = Arc::new((Lock::new(), Condition::new(), AtomicBool::new(false)));
        let waiter = {
            let shared = shared.clone();
            thread::spawn(move || {
                let (lock, cond, queued) = &*shared;
                let guard = lock.acquire_blocking();
                let mut wait = pin!(cond.wait(guard));
                let waker = Waker::noop();
                // First poll queues and releases the lock.
                assert!(
                    wait.as_mut()
                        .poll(&mut Context::from_waker(waker))
                        .is_pending()
                );
                queued.store(true, SeqCst);
                let g = loom::future::block_on(wait);
                assert!(lock.is_locked());
                drop(g);
            })
        };
        let (lock, cond, queued) = &*shared;
        while !queued.load(SeqCst) {
            thread::yield_now();
        }
        assert_eq!(cond.notify(1), 1);
        waiter.join().unwrap();
        assert!(!lock.is_locked());
        assert_eq!(lock.waiting(), 0);
    });
}

/// A notified waiter that is dropped passes the notification on: of two
/// waiters and one notify, the surviving one is woken whichever was picked.
#[test]
fn cancelled_waiter_passes_notification_on() {
    model(|| {
        let shared = Arc::new((Lock::new(), Condition::new(), AtomicUsize::new(0)));
        let cancelling = {
            let shared = shared.clone();
            thread::spawn(move || {
                let (lock, cond, queued) = &*shared;
                let mut wait = pin!(cond.wait(lock.acquire_blocking()));
                let waker = Waker::noop();
                let first = wait.as_mut().poll(&mut Context::from_waker(waker));
                assert!(first.is_pending());
                queued.fetch_add(1, SeqCst);
                // Dropped here, notified or not.
            })
        };
        let survivor = {
            let shared = shared.clone();
            thread::spawn(move || {
                let (lock, cond, queued) = &*shared;
                let mut wait = pin!(cond.wait(lock.acquire_blocking()));
                let waker = Waker::noop();
                assert!(
                    wait.as_mut()
                        .poll(&mut Context::from_waker(waker))
                        .is_pending()
                );
                queued.fetch_add(1, SeqCst);
                let g = loom::future::block_on(wait);
                assert!(lock.is_locked());
                drop(g);
            })
        };
        let (lock, cond, queued) = &*shared;
        while queued.load(SeqCst) < 2 {
            thread::yield_now();
        }
        // Exactly one notify, racing the other waiter's drop: it reaches the
        // survivor either directly or through the cancelled waiter's pass-on.
        cond.notify(1);
        cancelling.join().unwrap();
        survivor.join().unwrap();
        assert!(!lock.is_locked());
        assert_eq!(cond.waiting(), 0);
    });
}

/// An `RLock` owner with two levels waits; another thread takes the lock,
/// sets a flag and notifies. The waiter returns owning both levels again.
#[test]
fn rlock_levels_survive_a_wait() {
    model(|| {
        let shared = Arc::new((
            polysync::RLock::new(),
            Condition::new(),
            AtomicBool::new(false),
        ));
        let waiter = {
            let shared = shared.clone();
            thread::spawn(move || {
                let (rlock, cond, flag) = &*shared;
                let outer = rlock.acquire_blocking();
                let mut inner = rlock.acquire_blocking();
                while !flag.load(SeqCst) {
                    inner = cond.wait_blocking(inner);
                }
                assert_eq!(rlock.count(), 2);
                drop(inner);
                drop(outer);
            })
        };
        {
            let (rlock, cond, flag) = &*shared;
            let guard = rlock.acquire_blocking();
            flag.store(true, SeqCst);
            cond.notify_all();
            drop(guard);
        }
        waiter.join().unwrap();
        assert!(!shared.0.is_locked());
    });
}
