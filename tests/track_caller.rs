//! A panic on misuse names the user's line, not one inside the library:
//! the public methods that can panic (and every function between them and
//! the panic) are `#[track_caller]`. Each case is caught with
//! `catch_unwind` while a panic hook records the panic's `Location`; the
//! file must be this one.

use polysync::countdown::CountdownEvent;
use polysync::lowlevel::ThreadWaiter;
use polysync::{Lock, Mutex, RawRwLock, RwLock};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

/// The locations of the panics seen by the hook (on any thread).
static SEEN: StdMutex<Vec<(String, u32)>> = StdMutex::new(Vec::new());

/// Runs `f`, which must panic; returns the file and line the panic named.
#[track_caller]
fn panic_location(f: impl FnOnce()) -> (String, u32) {
    // One hook for the whole binary: tests run in parallel, so each call
    // filters by thread name... simpler: serialize the cases.
    static SERIAL: StdMutex<()> = StdMutex::new(());
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        if let Some(loc) = info.location() {
            SEEN.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((loc.file().to_string(), loc.line()));
        }
    }));
    SEEN.lock().unwrap_or_else(|e| e.into_inner()).clear();
    let out = catch_unwind(AssertUnwindSafe(f));
    std::panic::set_hook(previous);
    assert!(out.is_err(), "no panic");
    let seen = std::mem::take(&mut *SEEN.lock().unwrap_or_else(|e| e.into_inner()));
    assert_eq!(seen.len(), 1, "one panic: {seen:?}");
    seen.into_iter().next().unwrap()
}

/// Asserts that the panic of `f` names `line` of this file.
#[track_caller]
fn names_line(line: u32, f: impl FnOnce()) {
    let (file, at) = panic_location(f);
    assert!(
        file.ends_with("track_caller.rs") && file.contains("tests"),
        "the panic names {file}:{at}, not the test's line {line}"
    );
    assert_eq!(at, line, "the panic names another line of the test");
}

#[test]
fn lock_reentry_names_the_callers_line() {
    let lock = Lock::new();
    let _held = lock.acquire_blocking();
    names_line(line!() + 1, || {
        let _ = lock.acquire_blocking();
    });
    names_line(line!() + 1, || {
        let _ = lock.try_acquire_for(Duration::from_secs(5));
    });
    names_line(line!() + 1, || {
        let _ = lock.try_acquire_until(Instant::now() + Duration::from_secs(5));
    });
    names_line(line!() + 1, || {
        let _ = ThreadWaiter::with_current(|w| lock.acquire_with(w, None).map(drop));
    });
}

#[test]
fn owned_lock_reentry_names_the_callers_line() {
    let lock = Arc::new(Lock::new());
    let _held = lock.acquire_blocking();
    names_line(line!() + 1, || {
        let _ = lock.acquire_owned_blocking();
    });
    names_line(line!() + 1, || {
        let _ = lock.try_acquire_owned_for(Duration::from_secs(5));
    });
}

#[test]
fn mutex_reentry_names_the_callers_line() {
    let m = Arc::new(Mutex::new(0));
    let _held = m.lock_blocking();
    names_line(line!() + 1, || {
        let _ = m.lock_blocking();
    });
    names_line(line!() + 1, || {
        let _ = m.try_lock_for(Duration::from_secs(5));
    });
    names_line(line!() + 1, || {
        let _ = m.lock_owned_blocking();
    });
    names_line(line!() + 1, || {
        let _ = ThreadWaiter::with_current(|w| m.lock_with(w, None).map(drop));
    });
}

#[test]
fn rwlock_reentry_names_the_callers_line() {
    let lock = Arc::new(RwLock::new(0));
    let _held = lock.write_blocking();
    names_line(line!() + 1, || {
        let _ = lock.write_blocking();
    });
    names_line(line!() + 1, || {
        let _ = lock.read_blocking();
    });
    names_line(line!() + 1, || {
        let _ = lock.try_read_for(Duration::from_secs(5));
    });
    names_line(line!() + 1, || {
        let _ = lock.try_write_until(Instant::now() + Duration::from_secs(5));
    });
    names_line(line!() + 1, || {
        let _ = lock.write_owned_blocking();
    });
    names_line(line!() + 1, || {
        let _ = ThreadWaiter::with_current(|w| lock.read_with(w, None).map(drop));
    });
    let raw = RawRwLock::new();
    let _w = raw.write_blocking();
    names_line(line!() + 1, || {
        let _ = raw.read_blocking();
    });
}

#[test]
fn constructors_and_counters_name_the_callers_line() {
    names_line(line!() + 1, || {
        let _ = polysync::channel::bounded::<u8>(0);
    });
    names_line(line!() + 1, || {
        let _ = polysync::Queue::<u8>::bounded(0);
    });
    names_line(line!() + 1, || {
        let _ = CountdownEvent::new(usize::MAX);
    });
    let c = CountdownEvent::new(CountdownEvent::MAX);
    names_line(line!(), || c.up(1));
}

#[cfg(feature = "lock_api")]
#[test]
fn lock_api_reentry_names_the_callers_line() {
    use lock_api::RawMutex;
    let raw = <Lock as RawMutex>::INIT;
    raw.lock();
    names_line(line!(), || raw.lock());
    // SAFETY: locked just above, by this thread.
    unsafe { raw.unlock() };
}

#[test]
fn semaphore_misuse_names_the_callers_line() {
    use polysync::{BoundedSemaphore, Semaphore};
    names_line(line!() + 1, || {
        let _ = Semaphore::new(Semaphore::MAX_PERMITS + 1);
    });
    names_line(line!() + 1, || {
        let _ = BoundedSemaphore::new(3, 2);
    });
    let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    names_line(line!(), || sem.release(1));
    names_line(line!(), || sem.add_permits(1));
    let small = BoundedSemaphore::new(2, 2);
    names_line(line!() + 1, || {
        let _ = small.acquire_many_blocking(3);
    });
    names_line(line!() + 1, || {
        let _ = small.try_acquire_many(3);
    });
    names_line(line!() + 1, || {
        let _ = small.try_acquire_many_for(3, Duration::from_secs(5));
    });
    names_line(line!() + 1, || {
        drop(small.acquire_many(3));
    });
    let (a, b) = (Semaphore::new(1), Semaphore::new(1));
    let mut pa = a.try_acquire().unwrap();
    let pb = b.try_acquire().unwrap();
    names_line(line!(), || pa.merge(pb));
    let other = Arc::new(Semaphore::new(1));
    let pa2 = a.try_acquire_many(0).unwrap();
    names_line(line!(), || drop(pa2.into_owned(&other)));
}

#[test]
fn limiter_misuse_names_the_callers_line() {
    use polysync::{CapacityLimiter, RCapacityLimiter};
    let too_many = u32::MAX as usize + 1;
    if usize::BITS > 32 {
        names_line(line!(), || drop(CapacityLimiter::new(too_many)));
        names_line(line!(), || drop(RCapacityLimiter::new(too_many)));
        let limiter = CapacityLimiter::new(1);
        names_line(line!(), || limiter.set_total_tokens(too_many));
    }
    let limiter = CapacityLimiter::new(1);
    let other = Arc::new(CapacityLimiter::new(1));
    let token = limiter.try_acquire().unwrap();
    names_line(line!(), || drop(token.into_owned(&other)));
}
