//! `RLockGuard` is `Send`: a guard may be dropped by another unit while the
//! owner changes its own levels (re-enters, or releases levels it kept with
//! `forget`). Whatever the order, both updates must count: the owner never
//! ends with a guard of an unlocked lock (which would let a third unit in),
//! and the lock ends free once every level is gone. A condition wait by a
//! unit that does not own the lock (the guard moved there) is refused with a
//! clear panic instead of giving the owner's levels away.
//!
//! A native stress, bounded in time (a few seconds, with a watchdog), next to
//! the loom models `rlock_reentry_vs_foreign_drop_*` in tests/loom_rlock.rs.

use polysync::{Condition, RLock, RLockGuard};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

#[path = "support/worlds.rs"]
mod worlds;
use worlds::Watchdog;

/// How long each stress runs at least (the race is hit thousands of times
/// per second when both sides start together); none under Miri.
const BUDGET: Duration = if cfg!(miri) {
    Duration::ZERO
} else {
    Duration::from_millis(2500)
};

/// How many rounds each stress runs at least, however long they take.
const MIN_ROUNDS: u32 = if cfg!(miri) { 12 } else { 200 };

/// Longer than any healthy wait in these tests by orders of magnitude.
const STUCK: Duration = Duration::from_secs(10);

/// Spins until `cond` holds; fails (instead of spinning forever) if it does
/// not within [`STUCK`], e.g. because the other side panicked.
fn spin_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    let mut spins = 0u32;
    while !cond() {
        std::hint::spin_loop();
        spins = spins.wrapping_add(1);
        if spins % 1024 == 0 {
            assert!(start.elapsed() < STUCK, "stuck: {what}");
            thread::yield_now();
        }
    }
}

/// Spins `n % span` times: a head start of a few nanoseconds for the other
/// side.
fn head_start(n: u32, span: u32) {
    for _ in 0..n % span {
        std::hint::spin_loop();
    }
}

/// What the owner does while another thread drops the guard it was sent.
#[derive(Clone, Copy)]
enum Owner {
    /// Re-enters (`acquire_blocking`).
    Reenters,
    /// Releases, with `release(1)`, a second level it kept with `forget`.
    ReleasesKeptLevel,
}

fn stress(name: &'static str, owner: Owner) {
    let _watchdog = Watchdog::new(name, Duration::from_secs(60));
    let lock = RLock::new();
    // Both sides leave the rendezvous of a round within nanoseconds of each
    // other, which makes the race likely; `done` counts finished drops.
    let (gate, done) = (AtomicU32::new(0), AtomicU32::new(0));
    let (mut rounds, mut reentries) = (0u32, 0u32);
    let start = Instant::now();
    thread::scope(|s| {
        let (tx, rx) = mpsc::channel::<RLockGuard<'_>>();
        let (gate, done) = (&gate, &done);
        s.spawn(move || {
            let mut round = 0;
            let mut seed = 0x9e37_79b9_u32;
            // Ends when the sender is dropped (also when the owner panics).
            while let Ok(guard) = rx.recv() {
                round += 1;
                gate.fetch_add(1, SeqCst);
                spin_until("the owner at the rendezvous", || {
                    gate.load(SeqCst) >= 2 * round
                });
                // In odd rounds a small varying head start for the owner, so
                // that every overlap of the two updates comes up (xorshift).
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                if round % 2 == 1 {
                    head_start(seed, 8);
                }
                drop(guard);
                done.store(round, SeqCst);
            }
        });
        while rounds < MIN_ROUNDS || start.elapsed() < BUDGET {
            rounds += 1;
            let me = {
                let guard = lock.try_acquire().expect("nobody holds it between rounds");
                let me = lock.owner();
                if let Owner::ReleasesKeptLevel = owner {
                    lock.try_acquire().unwrap().forget();
                }
                tx.send(guard).unwrap();
                me
            };
            gate.fetch_add(1, SeqCst);
            spin_until("the dropper at the rendezvous", || {
                gate.load(SeqCst) >= 2 * rounds
            });
            if rounds % 2 == 0 {
                // The dropper's turn to go first (a longer span, so that it
                // also wins outright sometimes, even on an idle machine).
                head_start(rounds / 2, 32);
            }
            match owner {
                Owner::Reenters => {
                    // Re-enter, or (if the foreign release came first) take it afresh.
                    let again = lock.acquire_blocking();
                    assert!(
                        lock.is_locked(),
                        "round {rounds}: a guard of an unlocked lock"
                    );
                    assert_eq!(lock.owner(), me, "round {rounds}");
                    let levels = lock.count();
                    assert!(
                        levels == 1 || levels == 2,
                        "round {rounds}: {levels} levels"
                    );
                    if levels == 2 {
                        reentries += 1;
                    }
                    spin_until("the foreign drop", || done.load(SeqCst) == rounds);
                    assert!(
                        lock.is_locked(),
                        "round {rounds}: a guard of an unlocked lock"
                    );
                    assert_eq!(lock.count(), 1, "round {rounds}: a level update was lost");
                    drop(again);
                }
                Owner::ReleasesKeptLevel => {
                    let before = lock.count();
                    lock.release(1).expect("the owner releases its kept level");
                    if before == 2 {
                        reentries += 1; // released first, while both levels lived
                    }
                    spin_until("the foreign drop", || done.load(SeqCst) == rounds);
                }
            }
            assert!(!lock.is_locked(), "round {rounds}: a level leaked");
            assert_eq!(lock.count(), 0, "round {rounds}");
            assert_eq!(lock.owner(), None, "round {rounds}");
        }
        drop(tx);
    });
    eprintln!("{name}: {rounds} rounds, {reentries} with the owner first");
    // Which order each round took depends on the machine's speed: a note
    // whether both happened, not a failure (every round was checked).
    if reentries == 0 || reentries == rounds {
        eprintln!("note: {name}: one order only this run");
    }
}

#[test]
fn owner_reenters_while_its_last_level_is_dropped_elsewhere() {
    stress("re-entry vs foreign drop", Owner::Reenters);
}

#[test]
fn owner_releases_a_kept_level_while_another_is_dropped_elsewhere() {
    stress("explicit release vs foreign drop", Owner::ReleasesKeptLevel);
}

#[test]
fn a_condition_wait_by_a_unit_that_does_not_own_the_rlock_panics() {
    let (lock, cond) = (RLock::new(), Condition::new());
    let guard = lock.acquire_blocking();
    let kept = lock.acquire_blocking();
    thread::scope(|s| {
        s.spawn(|| {
            let err = catch_unwind(AssertUnwindSafe(|| {
                cond.try_wait_for(guard, Duration::ZERO)
            }))
            .expect_err("a non-owner must not give the owner's levels away");
            let msg = err
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            assert!(msg.contains("does not own"), "{msg}");
        });
    });
    // The moved guard's level was released while unwinding; the owner keeps its other.
    assert!(lock.is_owned_by_current_unit());
    assert_eq!(lock.count(), 1);
    assert_eq!(
        cond.waiting(),
        0,
        "the refused wait left the condition's queue"
    );
    drop(kept);
    assert!(!lock.is_locked());
}
