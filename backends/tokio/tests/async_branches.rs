//! Misuse detection has no false positives: after `polysync_tokio::install()`
//! every tokio task has an identity, and two branches of one task (`join`, a
//! `select!` loop, futures polled together) that contend for a `Lock`, a
//! `Mutex` or an `RwLock` wait for each other, as they do with tokio's own
//! locks; nothing panics. On a current-thread and a multi-thread runtime.

#[path = "../../../tests/support/branches.rs"]
mod branches;
mod support;

use support::watchdog;

#[test]
fn branches_of_one_tokio_task_wait_for_each_other() {
    polysync_tokio::install().unwrap();
    watchdog("async branches (tokio)", || {
        let rt = support::current_thread();
        rt.block_on(async { tokio::spawn(branches::all()).await.unwrap() });
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        rt.block_on(async { tokio::spawn(branches::all()).await.unwrap() });
    });
}
