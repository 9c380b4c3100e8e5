#![cfg(polysync_loom)]
//! loom models of `RwLock`'s bounded fairness (issue 18): a release wakes
//! the writer at the front to compete, running readers and writers may
//! barge, the front is handed the lock past the bound; and the strict mode
//! beside it where the scenario has one. tests/loom_rwlock.rs runs the older
//! models on the strict lock. Under loom the bounds are 1
//! (`polysync::rwlock::OVERTAKE_BOUND`, `LOST_RETRIES`), so one barge or
//! one lost retry earns the hand-off.
//!
//! Run with:
//!
//! RUSTFLAGS="--cfg polysync_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true cargo test --release --test loom_rwlock_bounded --target-dir target/loom
//!
//! As in tests/loom_rwlock.rs: the main thread never waits on the lock (it
//! only takes it free, polls futures with a flag waker, releases and
//! joins), at most 2 spawned threads per model. A lost wake-up is a loom
//! deadlock.

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use loom::thread;
use polysync::RawRwLock;

#[path = "support/loom.rs"]
mod support;
use support::{flag_waker, model, poll_once};

/// A writer sets this in `inside`; readers count below it.
const WRITING: usize = 1 << 8;

fn make(fair: bool) -> RawRwLock {
    if fair {
        RawRwLock::new_fair()
    } else {
        RawRwLock::new_bounded()
    }
}

fn enter_read(inside: &AtomicUsize) {
    assert!(
        inside.fetch_add(1, Relaxed) < WRITING,
        "a reader beside a writer"
    );
}

fn leave_read(inside: &AtomicUsize) {
    inside.fetch_sub(1, Relaxed);
}

fn enter_write(inside: &AtomicUsize) {
    assert_eq!(
        inside.fetch_add(WRITING, Relaxed),
        0,
        "a writer beside a holder"
    );
}

fn leave_write(inside: &AtomicUsize) {
    inside.fetch_sub(WRITING, Relaxed);
}

/// Exclusion with a queued blocking waiter (a writer, or a reader) while
/// the holder releases and then tries to take the lock again the other way
/// (a barge where the mode allows it). Whatever the interleaving, a writer
/// is alone, and the waiter gets in.
fn exclusion(fair: bool, waiter_writes: bool) {
    model(move || {
        let lock = Arc::new(make(fair));
        let inside = Arc::new(AtomicUsize::new(0));
        let held = lock.try_write().expect("free");
        enter_write(&inside);
        let waiter = {
            let (lock, inside) = (lock.clone(), inside.clone());
            thread::spawn(move || {
                if waiter_writes {
                    let _w = lock.write_blocking();
                    enter_write(&inside);
                    leave_write(&inside);
                } else {
                    let _r = lock.read_blocking();
                    enter_read(&inside);
                    leave_read(&inside);
                }
            })
        };
        leave_write(&inside);
        drop(held);
        if waiter_writes {
            if let Some(again) = lock.try_read() {
                enter_read(&inside);
                leave_read(&inside);
                drop(again);
            }
        } else if let Some(again) = lock.try_write() {
            enter_write(&inside);
            leave_write(&inside);
            drop(again);
        }
        waiter.join().unwrap();
        assert!(!lock.is_locked());
        assert_eq!(lock.waiting(), 0);
    });
}

#[test]
fn bounded_exclusion_writer_waits_reader_barges() {
    exclusion(false, true);
}

#[test]
fn bounded_exclusion_reader_waits_writer_barges() {
    exclusion(false, false);
}

#[test]
fn fair_exclusion_writer_waits_holder_rereads() {
    exclusion(true, true);
}

/// The lost wake-up of wake-to-compete designs: the writer at the front (a
/// future the main thread polled once) is woken by the release, a barger
/// (the main thread) may take the free lock, and the front's future is
/// dropped without retrying; the unit queued behind it (a blocking reader
/// or writer) must still get in. Both modes (strict: the hand-off to the
/// dropped front is passed on).
fn woken_front_cancelled(fair: bool, barge: bool, behind_reads: bool) {
    model(move || {
        let lock = Arc::new(make(fair));
        let held = lock.try_write().expect("free");
        let (_flag, waker) = flag_waker();
        let mut front = Box::pin(lock.write());
        assert!(poll_once(front.as_mut(), &waker).is_pending());
        let behind = {
            let lock = lock.clone();
            thread::spawn(move || {
                if behind_reads {
                    drop(lock.read_blocking());
                } else {
                    drop(lock.write_blocking());
                }
            })
        };
        if barge {
            // Queued before the release (fewer interleavings: the model
            // stays small enough at two preemptions).
            while lock.waiting() < 2 {
                thread::yield_now();
            }
        }
        drop(held);
        let barger = if barge { lock.try_write() } else { None };
        // The front gives up without retrying.
        drop(front);
        drop(barger);
        behind.join().unwrap();
        assert!(!lock.is_locked());
        assert_eq!(lock.waiting(), 0);
    });
}

#[test]
fn bounded_woken_writer_cancelled_passes_to_a_writer() {
    woken_front_cancelled(false, false, false);
}

#[test]
fn bounded_woken_writer_cancelled_passes_to_a_reader() {
    woken_front_cancelled(false, false, true);
}

#[test]
fn bounded_woken_writer_cancelled_while_a_barger_holds_passes_to_a_writer() {
    woken_front_cancelled(false, true, false);
}

#[test]
fn bounded_woken_writer_cancelled_while_a_barger_holds_passes_to_a_reader() {
    woken_front_cancelled(false, true, true);
}

#[test]
fn fair_cancelled_handoff_passes_to_a_reader() {
    woken_front_cancelled(true, true, true);
}

/// The bound: the main thread holds the write lock and a blocking writer
/// queues behind it; the release wakes that writer to compete, and one
/// reader (the main thread) may take the free lock before it retries (the
/// bound under loom), a second may not; when the share is given back the
/// writer is owed the lock and handed it, so a read attempt after that
/// fails unless the writer has been through. A writer asleep behind a read
/// share is passed by no reader.
#[test]
fn bounded_readers_past_a_woken_writer_stop_at_the_bound() {
    model(|| {
        let lock = Arc::new(RawRwLock::new_bounded());
        let done = Arc::new(AtomicBool::new(false));
        let held = lock.try_write().expect("free");
        let writer = {
            let (lock, done) = (lock.clone(), done.clone());
            thread::spawn(move || {
                let w = lock.write_blocking();
                // Before the release that a later read synchronizes with.
                done.store(true, Relaxed);
                drop(w);
            })
        };
        while lock.waiting() == 0 {
            thread::yield_now();
        }
        drop(held);
        if let Some(first) = lock.try_read() {
            // A barge past the woken writer (or the writer is through).
            if let Some(second) = lock.try_read() {
                assert!(done.load(Relaxed), "a second reader past the bound");
                drop(second);
            }
            drop(first);
            if let Some(again) = lock.try_read() {
                // The writer was owed the lock: only after its own release.
                assert!(done.load(Relaxed), "read past a writer owed the lock");
                drop(again);
            }
        }
        writer.join().unwrap();
        assert!(!lock.is_locked());
        assert_eq!(lock.waiting(), 0);
    });
}

/// A writer asleep behind a read share: no reader passes it.
#[test]
fn bounded_no_reader_passes_a_sleeping_writer() {
    model(|| {
        let lock = Arc::new(RawRwLock::new_bounded());
        let done = Arc::new(AtomicBool::new(false));
        let first = lock.try_read().expect("free");
        let writer = {
            let (lock, done) = (lock.clone(), done.clone());
            thread::spawn(move || {
                let w = lock.write_blocking();
                done.store(true, Relaxed);
                drop(w);
            })
        };
        while lock.waiting() == 0 {
            thread::yield_now();
        }
        assert!(
            lock.try_read().is_none(),
            "a reader passed a sleeping writer"
        );
        drop(first);
        writer.join().unwrap();
        assert!(done.load(Relaxed));
        assert!(!lock.is_locked());
    });
}

/// A woken writer's retry against a reader that barges and gives its share
/// back lock-free (`WOKEN` set: nobody to wake): the writer either wins its
/// retry or loses it and is woken again by the reader's release (with the
/// wake lost, it sleeps forever: a loom deadlock).
#[test]
fn bounded_woken_writer_vs_a_barging_reader() {
    model(|| {
        let lock = Arc::new(RawRwLock::new_bounded());
        let held = lock.try_write().expect("free");
        let writer = {
            let lock = lock.clone();
            thread::spawn(move || drop(lock.write_blocking()))
        };
        while lock.waiting() == 0 {
            thread::yield_now();
        }
        drop(held);
        let reader = {
            let lock = lock.clone();
            thread::spawn(move || drop(lock.try_read()))
        };
        writer.join().unwrap();
        reader.join().unwrap();
        assert!(!lock.is_locked());
        assert_eq!(lock.waiting(), 0);
    });
}
