//! `TokioSpawner` (the thread bridge's way back into tokio, issue 19):
//! outputs, panics and a runtime's shutdown come back typed to a plain
//! thread and to a bridge job; on a current-thread runtime's own thread
//! `run_on` panics instead of deadlocking; on a multi-thread worker it
//! waits under `block_in_place`.

use polysync::bridge::{FromThreadError, run_on, to_thread_blocking, try_run_on_for};
use polysync_tokio::TokioSpawner;
use std::time::Duration;

fn watchdog(limit: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!("watchdog: bridge_spawner did not finish within {limit:?}");
        std::process::abort();
    });
}

#[test]
fn outputs_panics_and_shutdowns_come_back_typed() {
    watchdog(Duration::from_secs(60));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let spawner = TokioSpawner::new(rt.handle().clone());
    let out = run_on(&spawner, async {
        tokio::time::sleep(Duration::from_millis(1)).await;
        "slept"
    });
    assert_eq!(out.unwrap(), "slept");
    let err = run_on(&spawner, async { panic!("inside") }).unwrap_err();
    assert!(matches!(&err, FromThreadError::Panicked(p) if p.message() == Some("inside")));
    // From a bridge job (a pool thread).
    let from_job = {
        let spawner = spawner.clone();
        to_thread_blocking(move || run_on(&spawner, async { 5 }))
    };
    assert_eq!(from_job.unwrap().unwrap(), 5);
    // A future that never completes, then the runtime shuts down.
    let pending = try_run_on_for(
        &spawner,
        std::future::pending::<()>(),
        Duration::from_millis(5),
    );
    assert!(matches!(pending, Err(FromThreadError::TimedOut)));
    let waiting = {
        let spawner = spawner.clone();
        std::thread::spawn(move || run_on(&spawner, std::future::pending::<()>()))
    };
    // Whether the task was spawned before the shutdown (the shutdown drops
    // it) or after (tokio drops it at once), the caller learns the same.
    rt.shutdown_background();
    assert!(matches!(
        waiting.join().unwrap(),
        Err(FromThreadError::Dropped)
    ));
}

#[test]
fn a_current_thread_runtime_refuses_to_wait_on_itself() {
    watchdog(Duration::from_secs(60));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let spawner = TokioSpawner::new(rt.handle().clone());
    let refused = rt.block_on(async move {
        std::panic::catch_unwind(|| run_on(&spawner, async { 1 })).unwrap_err()
    });
    let message = refused.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(message.contains("would deadlock"), "{message}");
}

#[test]
fn a_multi_thread_worker_waits_in_place() {
    watchdog(Duration::from_secs(60));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let spawner = TokioSpawner::new(rt.handle().clone());
    let out = rt.block_on(async move {
        tokio::spawn(async move { run_on(&spawner, async { 9 }) })
            .await
            .unwrap()
    });
    assert_eq!(out.unwrap(), 9);
}
