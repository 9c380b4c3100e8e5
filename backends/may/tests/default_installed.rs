//! Linking polysync-may is enough (issue 17, item 10): this binary never
//! calls `polysync_may::install()`, yet coroutines that share one worker
//! are units of their own (an `RLock` one of them holds keeps the others
//! out), and a coroutine's blocking wait parks the coroutine, not the
//! worker its siblings need.

use polysync::lowlevel::current_unit;
use polysync::{Event, Lock, RLock, Semaphore};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

/// Fails the test (aborting the process) unless `f` returns within 30 s.
fn watchdog<R: Send + 'static>(name: &'static str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let out = f();
        let _ = tx.send(());
        out
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            eprintln!("watchdog: `{name}` did not finish within 30 s");
            std::process::abort();
        }
    }
}

#[test]
fn coroutines_on_one_worker_are_distinct_units_without_install() {
    may::config().set_workers(1).set_worker_pin(false);
    assert!(polysync_may::is_installed(), "installed when linked");
    watchdog("may default", || {
        let rlock = Arc::new(RLock::new());
        let lock = Arc::new(Lock::new());
        // Every hand-over below parks, none spins: a coroutine that spins
        // with `yield_now` on may's only worker keeps coroutines spawned
        // from another thread from ever starting (may reads that queue only
        // when the worker is otherwise idle), which made the first version
        // of this test livelock now and then.
        let held = Arc::new(Event::new());
        let tried = Arc::new(Semaphore::new(0));
        let holder = {
            let (rlock, lock, held, tried) =
                (rlock.clone(), lock.clone(), held.clone(), tried.clone());
            may::go!(move || {
                let me = current_unit();
                let rguard = rlock.acquire_blocking();
                let guard = lock.acquire_blocking();
                held.set();
                // Parks this coroutine until both others have tried the
                // RLock; each goes on into the Lock's queue without a
                // switch in between, so both wait there when this resumes.
                tried.acquire_many_blocking(2).unwrap().forget();
                drop(guard);
                drop(rguard);
                me
            })
        };
        let others: Vec<_> = (0..2)
            .map(|_| {
                let (rlock, lock, held, tried) =
                    (rlock.clone(), lock.clone(), held.clone(), tried.clone());
                may::go!(move || {
                    let me = current_unit();
                    held.wait_blocking();
                    let entered = rlock.try_acquire().is_some();
                    tried.release(1);
                    // Parks this coroutine; the holder, on the same worker,
                    // must still run to release.
                    drop(lock.acquire_blocking());
                    (me, entered)
                })
            })
            .collect();
        let mut ids = vec![holder.join().unwrap()];
        for other in others {
            let (id, entered) = other.join().unwrap();
            assert!(!entered, "a coroutine entered an RLock another one holds");
            ids.push(id);
        }
        for (i, a) in ids.iter().enumerate() {
            for b in &ids[i + 1..] {
                assert_ne!(a, b, "two coroutines share an identity");
            }
        }
    });
}
