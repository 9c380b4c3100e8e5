#![cfg(polysync_loom)]
//! loom models of `RwLock` / `RawRwLock`: hand-off to reader batches and to
//! writers, register-then-recheck against lock-free releases, cancellation
//! that passes on what it was handed, a queued writer leaving the front, a
//! timed-out blocking wait, and downgrade.
//!
//! Run with:
//!
//! RUSTFLAGS="--cfg polysync_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true cargo test --release --test loom_rwlock --target-dir target/loom
//!
//! As in tests/loom.rs: the main thread never waits on the lock (it only
//! takes it free, releases and joins), at most 2 spawned threads per model,
//! preemption bound 2. A lost hand-off or wake-up is a loom deadlock (the
//! binary aborts); rerun with `-- --test-threads=1` to see which model.

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
use loom::thread;
use polysync::{RawRwLock, RwLock, RwLockWriteGuard};
use std::pin::pin;
use std::task::Poll;

#[path = "support/loom.rs"]
mod support;

use support::{SOON, flag_waker, model, poll_once, timing_out};

/// A writer's release hands the lock to two queued readers (one blocking,
/// one async): both get in, whatever the interleaving with their arrival.
#[test]
fn write_release_vs_two_readers() {
    model(|| {
        let lock = Arc::new(RwLock::new(0));
        let w = lock.try_write().expect("free");
        let blocking = {
            let lock = lock.clone();
            thread::spawn(move || *lock.read_blocking())
        };
        let task = {
            let lock = lock.clone();
            thread::spawn(move || *loom::future::block_on(lock.read()))
        };
        drop(w);
        assert_eq!(blocking.join().unwrap(), 0);
        assert_eq!(task.join().unwrap(), 0);
        assert!(!lock.is_locked());
        assert_eq!(lock.waiting(), 0);
    });
}

/// A writer arrives while the last reader leaves (lock-free release vs
/// register-then-recheck): it never sleeps through the release.
#[test]
fn writer_vs_last_reader_release() {
    model(|| {
        let lock = Arc::new(RawRwLock::new());
        let r = lock.try_read().expect("free");
        let writer = {
            let lock = lock.clone();
            thread::spawn(move || drop(lock.write_blocking()))
        };
        drop(r);
        writer.join().unwrap();
        assert!(!lock.is_locked());
        assert_eq!(lock.waiting(), 0);
    });
}

/// A reader polls once and drops its future while the writer releases:
/// a share handed to it is given back; nothing stays held or queued.
#[test]
fn read_cancel_vs_write_release() {
    model(|| {
        let lock = Arc::new(RawRwLock::new());
        let w = lock.try_write().expect("free");
        let reader = {
            let lock = lock.clone();
            thread::spawn(move || {
                let (_flag, waker) = flag_waker();
                let mut fut = pin!(lock.read());
                drop(poll_once(fut.as_mut(), &waker));
            })
        };
        drop(w);
        reader.join().unwrap();
        assert!(
            !lock.is_locked(),
            "a share handed to a dropped reader was kept"
        );
        assert_eq!(lock.waiting(), 0);
    });
}

/// A writer handed the lock drops it unseen while a reader queues behind
/// it: the reader gets in (a lost hand-off would deadlock).
#[test]
fn handed_writer_dropped_passes_to_reader() {
    model(|| {
        let lock = Arc::new(RawRwLock::new());
        let w = lock.try_write().expect("free");
        let queued = Arc::new(AtomicBool::new(false));
        let writer = {
            let (lock, queued) = (lock.clone(), queued.clone());
            thread::spawn(move || {
                let (_flag, waker) = flag_waker();
                let mut fut = pin!(lock.write());
                let first = poll_once(fut.as_mut(), &waker);
                queued.store(true, SeqCst);
                drop(first);
                // `fut` drops here, possibly after it was handed the lock.
            })
        };
        let reader = {
            let (lock, queued) = (lock.clone(), queued.clone());
            thread::spawn(move || {
                while !queued.load(SeqCst) {
                    thread::yield_now();
                }
                drop(lock.read_blocking());
            })
        };
        drop(w);
        writer.join().unwrap();
        reader.join().unwrap();
        assert!(!lock.is_locked());
        assert_eq!(lock.waiting(), 0);
    });
}

/// Readers hold the lock (main); a writer queues and gives up; a reader
/// that queued behind it must get in while main still holds its share
/// (main joins it before releasing: if the cancelled writer left the reader
/// stranded behind nobody, loom reports a deadlock).
#[test]
fn cancelled_front_writer_admits_reader_behind() {
    model(|| {
        let lock = Arc::new(RawRwLock::new());
        let r = lock.try_read().expect("free");
        let queued = Arc::new(AtomicBool::new(false));
        let writer = {
            let (lock, queued) = (lock.clone(), queued.clone());
            thread::spawn(move || {
                let (_flag, waker) = flag_waker();
                let mut fut = pin!(lock.write());
                assert!(poll_once(fut.as_mut(), &waker).is_pending());
                queued.store(true, SeqCst);
                // Dropped while queued (nothing can hand it the lock: main
                // holds a share until the end).
            })
        };
        let reader = {
            let (lock, queued) = (lock.clone(), queued.clone());
            thread::spawn(move || {
                while !queued.load(SeqCst) {
                    thread::yield_now();
                }
                drop(loom::future::block_on(lock.read()));
            })
        };
        writer.join().unwrap();
        reader.join().unwrap();
        drop(r);
        assert!(!lock.is_locked());
        assert_eq!(lock.waiting(), 0);
    });
}

/// A blocking write whose deadline passes at once races the last reader's
/// release: it either gets the lock (and releases it) or leaves; either way
/// the lock ends free.
#[test]
fn timed_out_write_vs_read_release() {
    model(|| {
        let lock = Arc::new(RawRwLock::new());
        let r = lock.try_read().expect("free");
        let writer = {
            let lock = lock.clone();
            thread::spawn(move || timing_out(|| lock.try_write_for(SOON).is_some()))
        };
        drop(r);
        let _ = writer.join().unwrap();
        assert!(!lock.is_locked(), "a timed-out writer kept the lock");
        assert_eq!(lock.waiting(), 0);
    });
}

/// Downgrade vs a queued async reader: the reader joins the downgraded
/// share; the lock ends free.
#[test]
fn downgrade_vs_reader() {
    model(|| {
        let lock = Arc::new(RwLock::new(1));
        let w = lock.try_write().expect("free");
        let reader = {
            let lock = lock.clone();
            thread::spawn(move || {
                let (_flag, waker) = flag_waker();
                let mut fut = pin!(lock.read());
                match poll_once(fut.as_mut(), &waker) {
                    Poll::Ready(g) => *g,
                    Poll::Pending => *loom::future::block_on(fut),
                }
            })
        };
        let r = RwLockWriteGuard::downgrade(w);
        assert_eq!(reader.join().unwrap(), 1);
        drop(r);
        assert!(!lock.is_locked());
        assert_eq!(lock.waiting(), 0);
    });
}
