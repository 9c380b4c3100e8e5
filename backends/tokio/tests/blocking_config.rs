//! `install_with(Config)`: the policy for blocking calls on runtime threads
//! is configurable, process-wide, and the last `install_with` wins
//! (`install()` never changes it). One test, in its own binary, since the
//! policy is global.

mod support;

use polysync::Lock;
use polysync_tokio::{Config, LocalPolicy, WorkerPolicy};
use std::sync::Arc;
use std::time::Duration;
use support::{current_thread, multi_thread, panic_message, watchdog_within};

/// A lock held by a task of the runtime until told to release (a oneshot:
/// it needs its runtime to run again to release it, and no clock decides
/// when); resolves once it is held.
async fn hold_in_a_task(
    lock: &Arc<Lock>,
) -> (
    tokio::task::JoinHandle<()>,
    tokio::sync::oneshot::Sender<()>,
) {
    let (held_tx, held_rx) = tokio::sync::oneshot::channel();
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    let lock = lock.clone();
    let task = tokio::spawn(async move {
        let _guard = lock.acquire().await;
        held_tx.send(()).unwrap();
        let _ = release_rx.await;
    });
    held_rx.await.unwrap();
    (task, release_tx)
}

#[test]
fn policies_are_configurable() {
    watchdog_within("policies_are_configurable", Duration::from_secs(10), || {
        let lock = Arc::new(Lock::new());

        // WorkerPolicy::Panic: a worker refuses too.
        polysync_tokio::install_with(Config::new().worker(WorkerPolicy::Panic)).unwrap();
        let rt = multi_thread(1);
        rt.block_on(async {
            let (holder, release) = hold_in_a_task(&lock).await;
            let lock2 = lock.clone();
            let err = tokio::spawn(async move { drop(lock2.acquire_blocking()) })
                .await
                .unwrap_err();
            let msg = panic_message(&*err.into_panic()).to_owned();
            assert!(msg.contains("WorkerPolicy::Panic"), "{msg}");
            assert!(msg.contains("`.await` the async form"), "{msg}");
            release.send(()).unwrap();
            holder.await.unwrap();
        });

        // `install()` keeps the policy in force.
        polysync_tokio::install().unwrap();
        assert_eq!(
            polysync_tokio::config().worker_policy(),
            WorkerPolicy::Panic
        );

        // WorkerPolicy::Block: the worker itself sleeps, so a holder that
        // needs it cannot release before the timed wait gives up.
        polysync_tokio::install_with(Config::new().worker(WorkerPolicy::Block)).unwrap();
        rt.block_on(async {
            let (holder, release) = hold_in_a_task(&lock).await;
            let lock2 = lock.clone();
            let got = tokio::spawn(async move {
                // The holder may release from here on, but only on this
                // worker, which the timed wait below keeps asleep.
                release.send(()).unwrap();
                lock2.try_acquire_for(Duration::from_millis(200)).is_some()
            });
            assert!(
                !got.await.unwrap(),
                "the holder ran: the worker was not blocked"
            );
            holder.await.unwrap();
        });

        // LocalPolicy::Block: a current-thread task waits (the holder is a
        // plain thread, so it ends).
        polysync_tokio::install_with(Config::new().local(LocalPolicy::Block)).unwrap();
        let ct = current_thread();
        let guard_taken = std::sync::Barrier::new(2);
        std::thread::scope(|s| {
            s.spawn(|| {
                let guard = lock.try_acquire().unwrap();
                guard_taken.wait();
                while lock.waiting() == 0 {
                    std::thread::yield_now();
                }
                drop(guard);
            });
            guard_taken.wait();
            ct.block_on(async {
                let lock2 = lock.clone();
                tokio::spawn(async move { drop(lock2.acquire_blocking()) })
                    .await
                    .unwrap();
            });
        });

        polysync_tokio::install_with(Config::new()).unwrap();
        assert_eq!(polysync_tokio::config(), Config::default());
        assert_eq!(lock.waiting(), 0);
        assert!(!lock.is_locked());
    });
}
