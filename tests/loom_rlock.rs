#![cfg(polysync_loom)]
//! loom models of `RLock` (reentrancy, hand-off, cancellation) and the
//! capacity limiters (acquire / release / cancel / resize races), on the real
//! code: under `--cfg polysync_loom` the crate's atomics, cells, thread
//! parking and thread-locals (including the task identity of
//! `lowlevel::identified`) come from loom.
//!
//! Run with:
//!
//! RUSTFLAGS="--cfg polysync_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test loom_rlock --target-dir target/loom
//!
//! As in tests/loom.rs: the main thread never waits (it only takes free
//! resources, releases and joins), at most 3 threads per model, preemption
//! bound 2.

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use loom::thread;
use polysync::lowlevel::identified;
use polysync::{CapacityLimiter, RCapacityLimiter, RLock, RLockGuard};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Wake, Waker};

fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let f = move || {
        RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f()
    };
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_some() {
        loom::model(f);
    } else {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(2);
        builder.check(f);
    }
    eprintln!(
        "explored {} executions (cumulative)",
        RUNS.load(std::sync::atomic::Ordering::Relaxed)
    );
}

/// A waker that records that it was woken, in a loom atomic.
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, SeqCst);
    }
}

fn flag_waker() -> Waker {
    Waker::from(std::sync::Arc::new(Flag(AtomicBool::new(false))))
}

/// Two threads take the lock blocking, each re-entering once inside; the
/// second waits and is handed the lock. Mutual exclusion holds, every level
/// is released, and the lock ends free.
#[test]
fn rlock_reentry_and_handoff() {
    model(|| {
        let lock = Arc::new(RLock::new());
        let inside = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (lock, inside) = (lock.clone(), inside.clone());
                thread::spawn(move || {
                    let a = lock.acquire_blocking();
                    let b = lock.try_acquire().expect("the owner re-enters");
                    assert_eq!(inside.fetch_add(1, SeqCst), 0, "two owners");
                    assert_eq!(lock.count(), 2);
                    inside.fetch_sub(1, SeqCst);
                    drop(b);
                    drop(a);
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        assert!(!lock.is_locked());
        assert_eq!(lock.count(), 0);
        assert_eq!(lock.waiting(), 0);
    });
}

/// An identified async waiter polls `acquire()` once and drops it, racing
/// the owner's release of its last level: the lock is never lost (a
/// hand-off to the dropped future is passed on) and ends free.
#[test]
fn rlock_release_vs_cancel() {
    model(|| {
        let lock = Arc::new(RLock::new());
        let outer = lock.try_acquire().unwrap();
        let inner = lock.try_acquire().unwrap();
        let waiter = {
            let lock = lock.clone();
            thread::spawn(move || {
                let waker = flag_waker();
                let mut fut = pin!(identified(lock.acquire()));
                match fut.as_mut().poll(&mut Context::from_waker(&waker)) {
                    Poll::Ready(guard) => {
                        let guard = guard.unwrap();
                        assert_eq!(lock.count(), 1);
                        drop(guard);
                    }
                    Poll::Pending => {}
                }
            })
        };
        drop(inner);
        drop(outer);
        waiter.join().unwrap();
        assert!(!lock.is_locked(), "a hand-off was lost");
        assert_eq!(lock.waiting(), 0);
    });
}

/// A cancelled async borrower and a blocking borrower race the release of
/// the only token: the token is neither lost nor duplicated.
#[test]
fn limiter_release_vs_cancel_and_waiter() {
    model(|| {
        let limiter = Arc::new(CapacityLimiter::new(1));
        let held = limiter.try_acquire().unwrap();
        let canceller = {
            let limiter = limiter.clone();
            thread::spawn(move || {
                let waker = flag_waker();
                let mut fut = pin!(identified(limiter.acquire()));
                if let Poll::Ready(token) = fut.as_mut().poll(&mut Context::from_waker(&waker)) {
                    drop(token.unwrap());
                }
            })
        };
        let blocker = {
            let limiter = limiter.clone();
            thread::spawn(move || {
                let token = limiter.acquire_blocking().unwrap();
                assert_eq!(limiter.borrowed_tokens(), 1);
                drop(token);
            })
        };
        drop(held);
        canceller.join().unwrap();
        blocker.join().unwrap();
        assert_eq!(limiter.available_tokens(), 1, "a token leaked");
        assert_eq!(limiter.waiting(), 0);
        assert!(limiter.borrowers().is_empty());
    });
}

/// Growing the total races a blocking borrower of a limiter with no tokens,
/// and a reentrant borrower re-enters without waiting.
#[test]
fn limiter_grow_vs_waiter() {
    model(|| {
        let limiter = Arc::new(RCapacityLimiter::new(0));
        let waiter = {
            let limiter = limiter.clone();
            thread::spawn(move || {
                let a = limiter.acquire_blocking();
                let b = limiter.try_acquire().expect("re-entry never waits");
                assert_eq!(limiter.count(), 2);
                drop((a, b));
            })
        };
        limiter.set_total_tokens(1);
        waiter.join().unwrap();
        assert_eq!(limiter.available_tokens(), 1);
        assert_eq!(limiter.waiting(), 0);
    });
}

/// The owner releases its two levels while a blocking waiter and an async
/// waiter (polled until it completes or once more after a wake, then
/// dropped) compete: exclusion holds and the lock ends free.
#[test]
fn rlock_blocking_and_async_waiters_vs_release() {
    model(|| {
        let lock = Arc::new(RLock::new());
        let inside = Arc::new(AtomicUsize::new(0));
        let outer = lock.try_acquire().unwrap();
        let inner = lock.try_acquire().unwrap();
        let blocker = {
            let (lock, inside) = (lock.clone(), inside.clone());
            thread::spawn(move || {
                let g = lock.acquire_blocking();
                assert_eq!(inside.fetch_add(1, SeqCst), 0, "two owners");
                inside.fetch_sub(1, SeqCst);
                drop(g);
            })
        };
        let asyncer = {
            let (lock, inside) = (lock.clone(), inside.clone());
            thread::spawn(move || {
                let waker = flag_waker();
                let mut fut = pin!(identified(lock.acquire()));
                if let Poll::Ready(g) = fut.as_mut().poll(&mut Context::from_waker(&waker)) {
                    let g = g.unwrap();
                    assert_eq!(inside.fetch_add(1, SeqCst), 0, "two owners");
                    inside.fetch_sub(1, SeqCst);
                    drop(g);
                }
                // Dropped while queued or notified: cancellation.
            })
        };
        drop(inner);
        drop(outer);
        blocker.join().unwrap();
        asyncer.join().unwrap();
        assert!(!lock.is_locked());
        assert_eq!(lock.waiting(), 0);
    });
}

/// One task has an acquisition queued when the owner hands the lock to it,
/// and meanwhile (in the same poll) re-enters through `try_acquire`: the
/// re-entry sees the handed-over level (the fence in the hand-off), and
/// dropping the queued future passes nothing on while the task still holds
/// a level. The lock ends free.
#[test]
fn rlock_reentry_during_handoff_to_own_queued_wait() {
    model(|| {
        let lock = Arc::new(RLock::new());
        let held = lock.try_acquire().unwrap();
        let task = {
            let lock = lock.clone();
            thread::spawn(move || {
                let waker = flag_waker();
                let mut outer = pin!(identified(std::future::poll_fn(|cx| {
                    let mut first = pin!(lock.acquire());
                    let first_guard = match first.as_mut().poll(cx) {
                        Poll::Ready(g) => Some(g.unwrap()),
                        Poll::Pending => None,
                    };
                    let again = lock.try_acquire();
                    if let Some(g) = &again {
                        assert!(g.rlock().count() >= 1);
                        if first_guard.is_some() {
                            assert_eq!(lock.count(), 2);
                        }
                    }
                    drop(again);
                    drop(first_guard);
                    Poll::Ready(())
                    // `first` drops here: removed, or its hand-off passed on.
                })));
                let _ = outer.as_mut().poll(&mut Context::from_waker(&waker));
            })
        };
        drop(held);
        task.join().unwrap();
        assert!(!lock.is_locked(), "a level leaked");
        assert_eq!(lock.count(), 0);
        assert_eq!(lock.waiting(), 0);
    });
}

/// A guard is `Send`: the owner's only level is dropped on another thread
/// while the owner re-enters. Whichever comes first, no update is lost: a
/// re-entry that lands on the live level (or a fresh acquisition after the
/// unlock) leaves the owner with exactly one level of a held lock, never a
/// guard of an unlocked lock; a `try_acquire` that meets the release in
/// flight fails, and then the lock ends free. Fails on the old separate
/// load and store of the count.
#[test]
fn rlock_reentry_vs_foreign_drop_of_last_level() {
    model(|| {
        // 'static, so the guard can move to another loom thread.
        let lock: &'static RLock = Box::leak(Box::new(RLock::new()));
        let guard = lock.try_acquire().unwrap();
        let me = lock.owner();
        let dropper = thread::spawn(move || drop(guard));
        let again = lock.try_acquire();
        dropper.join().unwrap();
        // `None`: the re-entry met the release in flight; nothing is held.
        if let Some(again) = again {
            assert!(
                lock.is_locked(),
                "the owner holds a guard of an unlocked lock"
            );
            assert_eq!(lock.owner(), me);
            assert_eq!(lock.count(), 1, "a level update was lost");
            drop(again);
        }
        assert!(!lock.is_locked(), "a level leaked");
        assert_eq!(lock.count(), 0);
        assert_eq!(lock.owner(), None);
    });
}

/// The same race with a third unit waiting: the owner re-enters while its
/// last level is dropped elsewhere and a blocking waiter queues. Mutual
/// exclusion holds (the waiter never gets in while the owner holds its
/// re-entered level) and every level is released.
#[test]
fn rlock_reentry_vs_foreign_drop_with_waiter() {
    model(|| {
        let lock: &'static RLock = Box::leak(Box::new(RLock::new()));
        let inside = Arc::new(AtomicUsize::new(0));
        let guard = lock.try_acquire().unwrap();
        let dropper = thread::spawn(move || drop(guard));
        let waiter = {
            let inside = inside.clone();
            thread::spawn(move || {
                let g = lock.acquire_blocking();
                assert_eq!(inside.fetch_add(1, SeqCst), 0, "two owners");
                inside.fetch_sub(1, SeqCst);
                drop(g);
            })
        };
        let again = lock.try_acquire();
        if let Some(g) = &again {
            assert_eq!(inside.fetch_add(1, SeqCst), 0, "two owners");
            assert!(g.rlock().is_locked());
            inside.fetch_sub(1, SeqCst);
        }
        drop(again);
        dropper.join().unwrap();
        waiter.join().unwrap();
        assert!(!lock.is_locked());
        assert_eq!(lock.waiting(), 0);
    });
}

/// The owner drops a guard of its own while a guard it moved to another
/// unit is dropped there, in either order: both levels count, the lock is
/// unlocked exactly once, ends free with no owner, and another unit can take
/// it. The model for any change that lets the owner release a level without
/// the `BUSY` exchange (issue 18 item 3 measured one for the last level):
/// an owner that releases a level that is not its last that way loses one
/// of the two updates, and the lock leaks (planted: caught).
#[test]
fn rlock_owner_drop_vs_foreign_drop() {
    model(|| {
        let lock: &'static RLock = Box::leak(Box::new(RLock::new()));
        let mine = lock.try_acquire().unwrap();
        let moved = lock.try_acquire().unwrap();
        let dropper = thread::spawn(move || drop(moved));
        drop(mine);
        dropper.join().unwrap();
        assert!(!lock.is_locked(), "a level leaked");
        assert_eq!(lock.count(), 0);
        assert_eq!(lock.owner(), None, "an owner outlived its last level");
        let other = thread::spawn(move || lock.try_acquire().map(RLockGuard::forget).is_some());
        assert!(other.join().unwrap(), "the free lock refused another unit");
    });
}

/// Thread-bound levels (issue 18 item 3): the owner holds a thread-bound
/// level and an ordinary one, moves the ordinary guard to another thread
/// and re-enters and drops thread-bound levels while that guard is dropped
/// there; a third thread waits for the lock meanwhile. The lock is
/// released exactly once, after the last level of either kind (never under
/// a live thread-bound level, never twice), and the waiter then gets it,
/// alone. Fails if the thread-bound levels do not hold an ordinary level,
/// if a thread-bound drop releases one that is not the last, or if the
/// last one's release without the `BUSY` exchange skips its check of
/// `BUSY` or reads the count `Relaxed` (planted: all four caught).
#[test]
fn rlock_local_levels_vs_foreign_drop() {
    model(|| {
        let lock: &'static RLock = Box::leak(Box::new(RLock::new()));
        let outer = lock.acquire_local_blocking();
        let moved = lock.try_acquire().unwrap();
        let dropper = thread::spawn(move || drop(moved));
        let inner = lock.try_acquire_local().expect("the owner re-enters");
        drop(inner);
        assert!(
            lock.is_owned_by_current_unit(),
            "released under a thread-bound level"
        );
        let waiter = thread::spawn(move || {
            let g = lock.acquire_local_blocking();
            // Alone: the owner's levels are all gone.
            assert_eq!(lock.count(), 1, "two owners");
            drop(g);
        });
        drop(outer);
        dropper.join().unwrap();
        waiter.join().unwrap();
        assert!(!lock.is_locked(), "a level leaked");
        assert_eq!(lock.count(), 0);
        assert_eq!(lock.owner(), None);
    });
}

/// A unit whose last ordinary level was dropped elsewhere tries a
/// thread-bound re-entry while the next owner takes the lock with
/// thread-bound levels: it never counts itself in the other owner's
/// levels (the next owner's `local` > 0 must not be paired with a stale
/// view of `owner`), and no level leaks.
#[test]
fn rlock_local_reentry_vs_next_owner() {
    model(|| {
        let lock: &'static RLock = Box::leak(Box::new(RLock::new()));
        let inside = Arc::new(AtomicUsize::new(0));
        let guard = lock.try_acquire().unwrap();
        let next = {
            let inside = inside.clone();
            thread::spawn(move || {
                drop(guard);
                if let Some(g) = lock.try_acquire_local() {
                    assert_eq!(inside.fetch_add(1, SeqCst), 0, "two owners");
                    inside.fetch_sub(1, SeqCst);
                    drop(g);
                }
            })
        };
        if let Some(g) = lock.try_acquire_local() {
            assert_eq!(inside.fetch_add(1, SeqCst), 0, "two owners");
            inside.fetch_sub(1, SeqCst);
            drop(g);
        }
        next.join().unwrap();
        assert!(!lock.is_locked(), "a level leaked");
        assert_eq!(lock.owner(), None);
    });
}
