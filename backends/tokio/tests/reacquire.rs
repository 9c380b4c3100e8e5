//! After `install()` every tokio task has an identity. A task that awaits
//! a `Lock` or `Mutex` it already holds waits (another branch of the same
//! task, in a `join!` or `select!`, may hold it and release it: no false
//! positives; tests/async_branches.rs); a blocking form in a task that
//! holds the lock panics with a clear message (it can only deadlock). Two
//! different tasks on one thread wait for each other.

mod support;

use futures_lite::future::poll_once;
use polysync::{Lock, Mutex};
use std::sync::Arc;
use std::time::Duration;
use support::{current_thread, multi_thread, watchdog};

fn panic_message(err: tokio::task::JoinError) -> String {
    assert!(err.is_panic(), "the task was cancelled, not failed: {err}");
    let payload = err.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

#[test]
fn a_task_that_reacquires_its_lock_waits_and_a_blocking_form_panics() {
    polysync_tokio::install().unwrap();
    watchdog("tokio reacquire", || {
        for rt in [current_thread(), multi_thread(2)] {
            let lock = Arc::new(Lock::new());
            let mutex = Arc::new(Mutex::new(0u32));
            rt.block_on(async {
                let task = {
                    let (lock, mutex) = (lock.clone(), mutex.clone());
                    tokio::spawn(async move {
                        let held = lock.acquire().await;
                        tokio::task::yield_now().await; // may move to another worker
                        assert!(poll_once(lock.acquire()).await.is_none(), "it waits");
                        drop(held);
                        let _again = lock.acquire().await;
                        *mutex.lock().await += 1;
                        let _held = mutex.lock().await;
                        assert!(poll_once(mutex.lock()).await.is_none(), "it waits");
                    })
                };
                task.await.unwrap();

                let task = {
                    let lock = lock.clone();
                    tokio::spawn(async move {
                        let _held = lock.acquire().await;
                        tokio::task::yield_now().await;
                        // A blocking form by the holding task: refused.
                        lock.try_acquire_for(Duration::from_secs(5)).map(drop)
                    })
                };
                let msg = panic_message(task.await.expect_err("must panic"));
                assert!(msg.contains("Lock::try_acquire_for"), "{msg}");
                assert!(msg.contains("already holds"), "{msg}");
            });
            assert!(!lock.is_locked(), "released while the task unwound");
            assert!(!mutex.is_locked());
            assert_eq!(*mutex.try_lock().unwrap(), 1);
        }
    });
}

#[test]
fn two_tasks_on_one_thread_still_wait_for_each_other() {
    polysync_tokio::install().unwrap();
    watchdog("tokio contend", || {
        let rt = current_thread();
        let mutex = Arc::new(Mutex::new(Vec::new()));
        rt.block_on(async {
            let (held_tx, held_rx) = tokio::sync::oneshot::channel();
            let first = {
                let mutex = mutex.clone();
                tokio::spawn(async move {
                    let mut data = mutex.lock().await;
                    held_tx.send(()).unwrap();
                    for _ in 0..20 {
                        tokio::task::yield_now().await;
                    }
                    data.push("first");
                })
            };
            let second = {
                let mutex = mutex.clone();
                tokio::spawn(async move {
                    held_rx.await.unwrap();
                    assert!(mutex.is_locked());
                    mutex.lock().await.push("second"); // waits; no panic
                })
            };
            first.await.unwrap();
            second.await.unwrap();
        });
        assert_eq!(*mutex.try_lock().unwrap(), ["first", "second"]);
    });
}
