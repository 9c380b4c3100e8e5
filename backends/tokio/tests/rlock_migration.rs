//! A tokio task re-enters an `RLock` across `.await`s on a multi-thread
//! runtime, keeps its identity when it moves between workers, and releases
//! level by level.

mod support;

use polysync::RLock;
use polysync::lowlevel::{UnitId, current_task, current_unit};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use support::{bounded, multi_thread, watchdog};

const LEVELS: usize = 16;
const YIELDS_PER_LEVEL: usize = 20;

/// Suspends in ways that invite the scheduler to move the task: plain
/// yields, and short sleeps woken from the timer driver (which whichever
/// worker drives it may pick up).
async fn churn(round: usize, workers_seen: &mut HashSet<std::thread::ThreadId>) {
    for i in 0..YIELDS_PER_LEVEL {
        if (round + i) % 4 == 0 {
            tokio::time::sleep(Duration::from_micros(200)).await;
        } else {
            tokio::task::yield_now().await;
        }
        workers_seen.insert(std::thread::current().id());
    }
}

#[test]
fn task_reenters_rlock_across_awaits_and_workers() {
    polysync_tokio::install().unwrap();
    watchdog("rlock_migration", || {
        let rt = multi_thread(4);
        let rlock = Arc::new(RLock::new());
        let (workers, held_by_task) = rt.block_on(async {
            // Busy neighbours keep the other workers awake and stealing.
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let mut noise = Vec::new();
            for _ in 0..6 {
                let stop = stop.clone();
                noise.push(tokio::spawn(async move {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        tokio::task::yield_now().await;
                    }
                }));
            }

            let task = {
                let rlock = rlock.clone();
                tokio::spawn(async move {
                    let me = current_task().expect("a tokio task has an identity");
                    assert_eq!(current_unit(), me);
                    assert_ne!(me, UnitId::current_thread());
                    let mut workers = HashSet::new();
                    workers.insert(std::thread::current().id());

                    let mut guards = Vec::new();
                    for level in 1..=LEVELS {
                        // Alternate the async and the blocking (non-waiting) form.
                        let guard = if level % 2 == 0 {
                            rlock.try_acquire().expect("the owner re-enters at once")
                        } else {
                            bounded("re-entry", rlock.acquire()).await.unwrap()
                        };
                        guards.push(guard);
                        assert_eq!(rlock.count(), level);
                        churn(level, &mut workers).await;
                        // Same identity after every suspension, whatever the worker.
                        assert_eq!(current_task(), Some(me));
                        assert_eq!(current_unit(), me);
                        assert_eq!(rlock.owner(), Some(me));
                        assert!(rlock.is_owned_by_current_unit());
                    }

                    // Another unit (a plain thread) is shut out meanwhile.
                    let probe = rlock.clone();
                    let other = std::thread::spawn(move || probe.try_acquire().is_none())
                        .join()
                        .unwrap();
                    assert!(other, "a thread got the lock the task holds");

                    // Release level by level, suspending in between.
                    for level in (0..LEVELS).rev() {
                        drop(guards.pop());
                        assert_eq!(rlock.count(), level);
                        churn(level, &mut workers).await;
                        assert_eq!(current_task(), Some(me));
                        if level > 0 {
                            assert_eq!(rlock.owner(), Some(me));
                        }
                    }
                    assert!(!rlock.is_locked());
                    (workers, me)
                })
            };
            let id = task.id();
            let (workers, me) = bounded("the re-entering task", task).await.unwrap();
            assert_eq!(Some(me), polysync_tokio::unit_of(id));
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            for n in noise {
                n.await.unwrap();
            }
            (workers, me)
        });
        assert!(!rlock.is_locked());
        eprintln!(
            "rlock_migration: the task (identity {:#x}) ran on {} worker thread(s): {}",
            held_by_task.get(),
            workers.len(),
            if workers.len() > 1 {
                "it migrated, and kept its identity"
            } else {
                "no migration happened this run"
            },
        );
    });
}
