//! Linking polysync-tokio is enough (issue 17, item 10): this binary never
//! calls `install()`, yet tokio tasks have their polysync identity, and a
//! blocking form that must wait in a task of a current-thread runtime (the
//! runtime `#[tokio::test]` uses) panics with the fix in its message
//! instead of hanging silently.

mod support;

use polysync::lowlevel::{current_task, current_unit};
use polysync::{CapacityLimiter, Lock, RLock};
use std::sync::Arc;
use support::{bounded, current_thread, panic_message, watchdog};

#[test]
fn linked_means_installed() {
    assert!(polysync_tokio::is_installed(), "installed when linked");
    let names: Vec<_> = polysync::lowlevel::registered_backends().collect();
    assert!(names.contains(&"tokio-blocking"), "{names:?}");
}

#[test]
fn tasks_have_their_identity_without_install() {
    watchdog("identity", || {
        let rt = current_thread();
        rt.block_on(async {
            let task = tokio::spawn(async {
                let me = polysync_tokio::current_task_unit();
                assert!(me.is_some());
                assert_eq!(current_task(), me);
                assert_eq!(Some(current_unit()), me);
                let rlock = RLock::new();
                let outer = rlock.acquire().await.unwrap();
                let inner = rlock.acquire().await.unwrap(); // the task re-enters
                assert_eq!(rlock.count(), 2);
                drop((inner, outer));
                let limiter = CapacityLimiter::new(1);
                drop(limiter.acquire().await.unwrap());
            });
            bounded("task", task).await.unwrap();
        });
    });
}

#[test]
fn a_blocking_wait_on_a_current_thread_runtime_fails_loudly() {
    watchdog("current-thread", || {
        let rt = current_thread();
        let lock = Arc::new(Lock::new());
        let out = rt.block_on(async {
            let held = lock.acquire().await;
            let lock2 = lock.clone();
            // The holder is this runtime's own task: waiting would hang it.
            let waiter = tokio::spawn(async move { drop(lock2.acquire_blocking()) });
            let out = waiter.await;
            drop(held);
            out
        });
        let err = out.unwrap_err();
        assert!(err.is_panic());
        let payload = err.into_panic();
        let message = panic_message(&*payload);
        assert!(message.contains("`.await` the async form"), "{message}");
    });
}
