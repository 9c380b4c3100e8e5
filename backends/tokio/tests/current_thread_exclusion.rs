//! Two tasks on ONE current-thread runtime are two owners: the second
//! task's async acquire waits until the first task releases. A thread-based
//! identity would let both in (they share the thread).

mod support;

use polysync::RLock;
use polysync::lowlevel::{UnitId, current_task};
use std::sync::{Arc, Mutex};
use support::{bounded, current_thread, watchdog};
use tokio::sync::oneshot;

#[test]
fn second_task_waits_for_the_first_on_one_thread() {
    polysync_tokio::install().unwrap();
    watchdog("current_thread_exclusion", || {
        let rt = current_thread();
        let rlock = Arc::new(RLock::new());
        let log = Arc::new(Mutex::new(Vec::<&'static str>::new()));
        rt.block_on(async {
            let (held_tx, held_rx) = oneshot::channel::<UnitId>();
            let (go_tx, go_rx) = oneshot::channel::<()>();

            let first = {
                let (rlock, log) = (rlock.clone(), log.clone());
                tokio::spawn(async move {
                    let me = current_task().unwrap();
                    let outer = rlock.acquire().await.unwrap();
                    let inner = rlock.try_acquire().expect("the owner re-enters"); // blocking form
                    log.lock().unwrap().push("first: acquired");
                    held_tx.send(me).unwrap();
                    // Hold it across suspensions while the second task tries.
                    for _ in 0..50 {
                        tokio::task::yield_now().await;
                    }
                    bounded("go signal", go_rx).await.unwrap();
                    assert_eq!(rlock.owner(), Some(me));
                    log.lock().unwrap().push("first: releasing");
                    drop(inner);
                    drop(outer);
                    (me, std::thread::current().id())
                })
            };

            let first_unit = bounded("first holds", held_rx).await.unwrap();

            let second = {
                let (rlock, log) = (rlock.clone(), log.clone());
                tokio::spawn(async move {
                    let me = current_task().unwrap();
                    // Same thread, different task: not the owner.
                    assert!(rlock.try_acquire().is_none());
                    assert!(!rlock.is_owned_by_current_unit());
                    log.lock().unwrap().push("second: waiting");
                    let guard = bounded("second acquire", rlock.acquire()).await.unwrap();
                    log.lock().unwrap().push("second: acquired");
                    assert_eq!(rlock.owner(), Some(me));
                    assert_eq!(rlock.count(), 1);
                    drop(guard);
                    (me, std::thread::current().id())
                })
            };

            // Let the second task queue up behind the first.
            while rlock.waiting() == 0 {
                tokio::task::yield_now().await;
            }
            for _ in 0..20 {
                tokio::task::yield_now().await;
            }
            assert_eq!(
                rlock.owner(),
                Some(first_unit),
                "the waiter must not get in"
            );
            assert_eq!(rlock.waiting(), 1);
            go_tx.send(()).unwrap();

            let (a, thread_a) = bounded("first task", first).await.unwrap();
            let (b, thread_b) = bounded("second task", second).await.unwrap();
            assert_eq!(thread_a, thread_b, "one current-thread runtime, one thread");
            assert_eq!(thread_a, std::thread::current().id());
            assert_ne!(a, b);
            assert_ne!(a, UnitId::current_thread());
            assert_ne!(b, UnitId::current_thread());
        });
        assert!(!rlock.is_locked());
        assert_eq!(
            *log.lock().unwrap(),
            [
                "first: acquired",
                "second: waiting",
                "first: releasing",
                "second: acquired"
            ]
        );
    });
}
