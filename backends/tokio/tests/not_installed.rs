//! Without `install()` (this binary never calls it), tokio tasks have no
//! polysync task identity: async owner-based waits fail with
//! `NoTaskIdentity` instead of guessing the thread.

mod support;

use polysync::lowlevel::{NoTaskIdentity, current_task, current_unit};
use polysync::{BorrowError, CapacityLimiter, RLock};
use support::{bounded, current_thread, watchdog};

#[test]
fn async_acquire_without_install_is_no_task_identity() {
    watchdog("not_installed", || {
        assert!(!polysync_tokio::is_installed());
        let rt = current_thread();
        rt.block_on(async {
            let task = tokio::spawn(async {
                // tokio knows the task; polysync was not told.
                assert!(polysync_tokio::current_task_unit().is_some());
                assert_eq!(current_task(), None);
                assert_eq!(current_unit(), polysync::lowlevel::UnitId::current_thread());
                let rlock = RLock::new();
                assert_eq!(rlock.acquire().await.unwrap_err(), NoTaskIdentity);
                let limiter = CapacityLimiter::new(1);
                assert_eq!(
                    limiter.acquire().await.unwrap_err(),
                    BorrowError::NoTaskIdentity
                );
            });
            bounded("task", task).await.unwrap();
        });
    });
}
