//! `polysync::Lock` as a `lock_api` raw mutex (feature `lock_api`):
//! exclusion across threads and async-free code generic over
//! `lock_api::RawMutex`, the timed and fair traits, and the re-entry panic.
#![cfg(feature = "lock_api")]

#[path = "support/worlds.rs"]
mod worlds;

use lock_api::{RawMutex, RawMutexFair, RawMutexTimed};
use std::sync::Arc;
use std::time::{Duration, Instant};

type Mutex<T> = lock_api::Mutex<polysync::Lock, T>;

/// Increments per thread (fewer under Miri, which runs this file too).
const BUMPS: u64 = if cfg!(miri) { 10 } else { 1000 };

/// Library code written once over any raw mutex.
fn bump_all<R: RawMutex + Send + Sync + 'static>(m: Arc<lock_api::Mutex<R, u64>>) -> u64 {
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || {
                for _ in 0..BUMPS {
                    // A read, a yield, a write: a lost exclusion loses counts.
                    let mut g = m.lock();
                    let v = *g;
                    std::thread::yield_now();
                    *g = v + 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    *m.lock()
}

#[test]
fn generic_code_over_raw_mutex_excludes() {
    let _dog = worlds::Watchdog::new("lock_api exclusion", Duration::from_secs(60));
    assert_eq!(bump_all(Arc::new(Mutex::new(0))), 4 * BUMPS);
    // The same code over parking_lot's raw mutex, for comparison (not under
    // Miri: parking_lot's integer-to-pointer casts only add warnings).
    if !cfg!(miri) {
        assert_eq!(
            bump_all(Arc::new(
                lock_api::Mutex::<parking_lot::RawMutex, u64>::new(0)
            )),
            4 * BUMPS
        );
    }
}

#[test]
fn timed_and_fair_forms() {
    let _dog = worlds::Watchdog::new("lock_api timed", Duration::from_secs(60));
    let m = Mutex::new(1);
    let g = m.lock();
    assert!(m.is_locked());
    assert!(m.try_lock().is_none());
    // Another thread times out (the holder itself would panic: re-entry).
    std::thread::scope(|s| {
        s.spawn(|| {
            assert!(m.try_lock_for(Duration::from_millis(5)).is_none());
            assert!(m.try_lock_until(Instant::now()).is_none());
        });
    });
    drop(g);
    assert!(m.try_lock_for(Duration::from_millis(5)).is_some());
    // A guard unlocked fairly, or bumped, keeps the data consistent.
    let g = m.lock();
    lock_api::MutexGuard::unlock_fair(g);
    let mut g = m.lock();
    lock_api::MutexGuard::bump(&mut g);
    *g += 1;
    drop(g);
    assert_eq!(*m.lock(), 2);
    // The raw traits directly.
    let raw = <polysync::Lock as RawMutex>::INIT;
    raw.lock();
    assert!(!raw.try_lock());
    std::thread::scope(|s| {
        s.spawn(|| assert!(!raw.try_lock_for(Duration::ZERO)));
    });
    // SAFETY: locked just above, by this thread.
    unsafe { raw.unlock_fair() };
    assert!(!RawMutex::is_locked(&raw));
}

#[test]
fn a_waiting_thread_gets_the_lock_in_turn() {
    let _dog = worlds::Watchdog::new("lock_api hand-off", Duration::from_secs(60));
    let m = Arc::new(Mutex::new(Vec::new()));
    let g = m.lock();
    let t = {
        let m = m.clone();
        std::thread::spawn(move || m.lock().push("thread"))
    };
    // SAFETY: the raw lock is only read here (`waiting`), never unlocked.
    worlds::wait_until("the thread waits", || unsafe { m.raw() }.waiting() == 1);
    drop(g);
    t.join().unwrap();
    assert_eq!(*m.lock(), ["thread"]);
}

#[test]
#[should_panic(expected = "already holds")]
fn relocking_by_the_holder_panics_instead_of_deadlocking() {
    let m = Mutex::new(());
    let _g = m.lock();
    let _again = m.lock();
}
