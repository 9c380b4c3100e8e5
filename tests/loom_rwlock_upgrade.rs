#![cfg(polysync_loom)]
//! loom models of the RwLock's upgradable read (issue 20 item 6), in the
//! pattern of tests/loom_rwlock.rs: an upgrade against the last reader's
//! lock-free release, a dropped upgrade against that release (what it was
//! handed turns back into the upgradable read), a reader queued behind a
//! waiting upgrade that gives up, and the upgraded guard's drop (turning
//! back) against a reader's arrival.
//!
//! Run with:
//!
//! RUSTFLAGS="--cfg polysync_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true cargo test --release --test loom_rwlock_upgrade --target-dir target/loom
//!
//! The main thread never waits on the lock (it only takes it free, releases
//! and joins); at most 2 spawned threads per model. A lost hand-off or
//! wake-up is a loom deadlock.

use loom::sync::Arc;
use loom::thread;
use polysync::RawRwLock;
use std::pin::pin;

#[path = "support/loom.rs"]
mod support;

use support::{flag_waker, model, poll_once};

/// The upgradable reader upgrades while the last plain reader leaves (a
/// lock-free release against register-then-recheck): it never sleeps
/// through the release, and turns back into the upgradable read after.
#[test]
fn upgrade_vs_last_reader_release() {
    model(|| {
        let lock = Arc::new(RawRwLock::new());
        let r = lock.try_read().expect("free");
        let upgrader = {
            let lock = lock.clone();
            thread::spawn(move || {
                let mut u = lock.try_upgradable_read().expect("beside a reader");
                let w = u.upgrade_blocking();
                assert!(lock.is_write_locked());
                assert_eq!(lock.readers(), 0);
                drop(w);
                assert!(lock.is_upgradable_locked());
            })
        };
        drop(r);
        upgrader.join().unwrap();
        assert!(!lock.is_locked());
        assert_eq!(lock.waiting(), 0);
    });
}

/// An async upgrade polls once and is dropped while the last reader
/// leaves: whether it was withdrawn or handed the write lock first, the
/// guard holds the upgradable read again, and nothing stays queued.
#[test]
fn dropped_upgrade_vs_reader_release() {
    model(|| {
        let lock = Arc::new(RawRwLock::new());
        let r = lock.try_read().expect("free");
        let upgrader = {
            let lock = lock.clone();
            thread::spawn(move || {
                let mut u = lock.try_upgradable_read().expect("beside a reader");
                {
                    let (_flag, waker) = flag_waker();
                    let mut fut = pin!(u.upgrade());
                    drop(poll_once(fut.as_mut(), &waker));
                }
                assert!(
                    !lock.is_write_locked(),
                    "the dropped upgrade kept the write lock"
                );
                assert!(lock.is_upgradable_locked());
                drop(u);
            })
        };
        drop(r);
        upgrader.join().unwrap();
        assert!(!lock.is_locked());
        assert_eq!(lock.waiting(), 0);
    });
}

/// A reader arrives while an upgrade waits and is then dropped: the reader
/// (queued behind the upgrade, or admitted first) always gets in.
#[test]
fn reader_behind_a_cancelled_upgrade() {
    model(|| {
        let lock = Arc::new(RawRwLock::new());
        let r = lock.try_read().expect("free");
        let upgrader = {
            let lock = lock.clone();
            thread::spawn(move || {
                let mut u = lock.try_upgradable_read().expect("beside a reader");
                let (_flag, waker) = flag_waker();
                let mut fut = pin!(u.upgrade());
                drop(poll_once(fut.as_mut(), &waker));
            })
        };
        let reader = {
            let lock = lock.clone();
            thread::spawn(move || drop(lock.read_blocking()))
        };
        upgrader.join().unwrap();
        reader.join().unwrap();
        drop(r);
        assert!(!lock.is_locked());
        assert_eq!(lock.waiting(), 0);
    });
}

/// The upgraded guard turns back into the upgradable read while a reader
/// arrives: the reader gets in (beside the upgradable read, or after it).
#[test]
fn turn_back_vs_reader() {
    model(|| {
        let lock = Arc::new(RawRwLock::new());
        let upgrader = {
            let lock = lock.clone();
            thread::spawn(move || {
                let mut u = lock.upgradable_read_blocking();
                if let Some(w) = u.try_upgrade() {
                    drop(w);
                }
                drop(u);
            })
        };
        let reader = {
            let lock = lock.clone();
            thread::spawn(move || drop(lock.read_blocking()))
        };
        upgrader.join().unwrap();
        reader.join().unwrap();
        assert!(!lock.is_locked());
        assert_eq!(lock.waiting(), 0);
    });
}
