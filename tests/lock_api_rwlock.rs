//! `polysync::RawRwLock` as a `lock_api` raw reader-writer lock (feature
//! `lock_api`): the upgradable, downgrade and timed traits, exclusion
//! across threads for code generic over `lock_api::RawRwLock`, and the
//! re-entry panic. Several scenarios follow lock_api's and parking_lot's
//! RwLock tests (parking_lot/src/rwlock.rs: `smoke`, `frob`,
//! `test_rw_arc`, `test_rwlock_downgrade`, `test_rwlock_try_upgrade`,
//! `test_upgradable_*`), ours in style, keeping each scenario and
//! assertion; parking_lot's `frob` uses 10 threads x 1000 ops, here 4 x 500
//! (2 shared cores).
#![cfg(feature = "lock_api")]

#[path = "support/worlds.rs"]
mod worlds;

use lock_api::{RwLockUpgradableReadGuard, RwLockWriteGuard};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::thread;
use std::time::{Duration, Instant};
use worlds::Watchdog;

type RwLock<T> = lock_api::RwLock<polysync::RawRwLock, T>;

/// Operations per thread (fewer under Miri, which runs this file too).
const OPS: u64 = if cfg!(miri) { 20 } else { 500 };
const UPGRADES: u64 = if cfg!(miri) { 10 } else { 300 };

#[test]
fn smoke() {
    let _dog = Watchdog::new("smoke", Duration::from_secs(30));
    let l = RwLock::new(());
    drop(l.read());
    drop(l.write());
    drop(l.upgradable_read());
    drop((l.read(), l.read()));
    drop((l.read(), l.upgradable_read()));
    drop(l.write());
}

/// Generic over any raw rwlock: readers never see a half-done write.
fn frob<R: lock_api::RawRwLock + Send + Sync + 'static>(l: Arc<lock_api::RwLock<R, (u64, u64)>>) {
    let threads: Vec<_> = (0..4u64)
        .map(|k| {
            let l = l.clone();
            thread::spawn(move || {
                for i in 0..OPS {
                    if (i + k) % 3 == 0 {
                        let mut w = l.write();
                        w.0 += 1;
                        thread::yield_now();
                        w.1 += 1;
                    } else {
                        let r = l.read();
                        assert_eq!(r.0, r.1, "a torn write");
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn frob_generic() {
    let _dog = Watchdog::new("frob_generic", Duration::from_secs(30));
    let l = Arc::new(RwLock::new((0, 0)));
    frob(l.clone());
    let writes = (0..4u64)
        .map(|k| (0..OPS).filter(|i| (i + k) % 3 == 0).count() as u64)
        .sum();
    assert_eq!(*l.read(), (writes, writes));
}

#[test]
fn rw_arc_with_upgrades() {
    let _dog = Watchdog::new("rw_arc_with_upgrades", Duration::from_secs(30));
    let l = Arc::new(RwLock::new(0u64));
    let inside = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let (l, inside) = (l.clone(), inside.clone());
            thread::spawn(move || {
                for _ in 0..UPGRADES {
                    let u = l.upgradable_read();
                    let before = *u;
                    let mut w = RwLockUpgradableReadGuard::upgrade(u);
                    assert_eq!(inside.fetch_add(1, SeqCst), 0, "two writers");
                    assert_eq!(*w, before, "a write slipped in during the upgrade");
                    *w += 1;
                    inside.fetch_sub(1, SeqCst);
                }
            })
        })
        .collect();
    for _ in 0..UPGRADES {
        let r = l.read();
        assert_eq!(inside.load(SeqCst), 0, "a reader beside a writer");
        drop(r);
    }
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*l.read(), 3 * UPGRADES);
}

#[test]
fn downgrade() {
    let _dog = Watchdog::new("downgrade", Duration::from_secs(30));
    let l = RwLock::new(1);
    let mut w = l.write();
    *w = 2;
    let r = RwLockWriteGuard::downgrade(w);
    assert_eq!(*r, 2);
    assert!(l.try_read().is_some());
    assert!(l.try_write().is_none());
    drop(r);
    let w = l.write();
    let u = RwLockWriteGuard::downgrade_to_upgradable(w);
    assert!(l.try_read().is_some());
    assert!(l.try_upgradable_read().is_none());
    let r = RwLockUpgradableReadGuard::downgrade(u);
    assert!(l.try_upgradable_read().is_some());
    drop(r);
    assert!(!l.is_locked());
}

#[test]
fn try_upgrade_and_timed() {
    let _dog = Watchdog::new("try_upgrade_and_timed", Duration::from_secs(30));
    let l = RwLock::new(0);
    let r = l.read();
    let u = l.upgradable_read();
    let u = RwLockUpgradableReadGuard::try_upgrade(u).expect_err("a reader holds a share");
    let u = RwLockUpgradableReadGuard::try_upgrade_for(u, Duration::from_millis(1))
        .expect_err("still held");
    drop(r);
    let w = RwLockUpgradableReadGuard::try_upgrade_until(u, Instant::now()).expect("free now");
    assert!(l.is_locked_exclusive());
    // Another thread: the writer's own timed wait is refused (it panics).
    thread::scope(|s| {
        s.spawn(|| {
            assert!(l.try_read_for(Duration::from_millis(1)).is_none());
            assert!(
                l.try_upgradable_read_for(Duration::from_millis(1))
                    .is_none()
            );
        });
    });
    drop(w);
    assert!(l.try_write_for(Duration::ZERO).is_some());
}

#[test]
fn with_upgraded_turns_back() {
    let _dog = Watchdog::new("with_upgraded_turns_back", Duration::from_secs(30));
    let l = RwLock::new(1);
    let mut u = l.upgradable_read();
    RwLockUpgradableReadGuard::with_upgraded(&mut u, |v| *v = 5);
    assert_eq!(*u, 5);
    assert!(l.try_read().is_some(), "back to the upgradable read");
    assert!(l.try_write().is_none());
}

#[test]
fn unlocked_relocks() {
    let _dog = Watchdog::new("unlocked_relocks", Duration::from_secs(30));
    let l = RwLock::new(0);
    let mut w = l.write();
    let inner = RwLockWriteGuard::unlocked(&mut w, || *l.read());
    assert_eq!(inner, 0);
    *w = 1;
    drop(w);
    let mut u = l.upgradable_read();
    RwLockUpgradableReadGuard::unlocked(&mut u, || drop(l.write()));
    assert!(l.try_upgradable_read().is_none());
}

#[test]
#[should_panic(expected = "already holds this RwLock's write lock")]
fn write_reentry_panics() {
    let _dog = Watchdog::new("write_reentry_panics", Duration::from_secs(30));
    let l = RwLock::new(0);
    let _w = l.write();
    let _w2 = l.write();
}

#[test]
#[should_panic(expected = "already holds this RwLock's upgradable read")]
fn upgradable_reentry_panics() {
    let _dog = Watchdog::new("upgradable_reentry_panics", Duration::from_secs(30));
    let l = RwLock::new(0);
    let _u = l.upgradable_read();
    let _u2 = l.upgradable_read();
}
