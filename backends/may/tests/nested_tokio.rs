//! The innermost unit wins with may coroutines and tokio (issue 17, items 3
//! and 4), whatever order the backends registered in (both install
//! themselves when linked; this binary also calls `install()` in both
//! orders' worth: tokio's first). A coroutine under `Runtime::enter` is the
//! coroutine: its wait parks it, not the worker its siblings need. A tokio
//! task polled inside a coroutine (by a current-thread `block_on` the
//! coroutine drives) is that task while it is polled.

use polysync::Lock;
use polysync::lowlevel::{current_task, current_unit};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

fn setup() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        may::config().set_workers(1).set_worker_pin(false);
        polysync_tokio::install().unwrap();
        polysync_may::install().unwrap();
    });
}

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
fn a_coroutine_under_runtime_enter_parks_itself() {
    setup();
    watchdog("enter", || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let handle = rt.handle().clone();
        let lock = Arc::new(Lock::new());
        let holder = {
            let lock = lock.clone();
            may::go!(move || {
                let guard = lock.acquire_blocking();
                for _ in 0..20 {
                    may::coroutine::yield_now();
                }
                drop(guard);
                current_unit()
            })
        };
        let waiter = {
            let lock = lock.clone();
            may::go!(move || {
                while !lock.is_locked() {
                    may::coroutine::yield_now();
                }
                let _entered = handle.enter();
                let me = current_unit();
                assert_eq!(Some(me), polysync_may::coroutine_unit());
                // The holder runs on this coroutine's only worker.
                drop(lock.acquire_blocking());
                me
            })
        };
        let (a, b) = (holder.join().unwrap(), waiter.join().unwrap());
        assert_ne!(a, b);
        drop(rt);
    });
}

#[test]
fn a_task_polled_inside_a_coroutine_is_the_task() {
    setup();
    watchdog("reverse", || {
        let co = may::go!(|| {
            let me = current_unit();
            assert_eq!(Some(me), polysync_may::coroutine_unit());
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let (seen, unit) = rt.block_on(async {
                let task = tokio::spawn(async { (current_unit(), current_task()) });
                let unit = polysync_tokio::unit_of(task.id()).unwrap();
                (task.await.unwrap(), unit)
            });
            assert_eq!(seen, (unit, Some(unit)));
            assert_ne!(unit, me);
            assert_eq!(current_unit(), me, "the coroutine again");
        });
        co.join().unwrap();
    });
}
