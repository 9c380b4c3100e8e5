//! What identity a call gets outside ordinary tokio tasks, once installed:
//!
//! - a `spawn_blocking` closure: tokio gives the blocking task an id of its
//!   own (`task::try_id()` is `Some` there), so the closure is a unit of its
//!   own, distinct from the pool thread it runs on and from the next closure
//!   that runs on the same pool thread;
//! - `Runtime::block_on`'s own future: not a task (`try_id()` is `None`):
//!   async owner-based calls fail with `NoTaskIdentity`, blocking ones use
//!   the thread;
//! - a plain thread, also one spawned from inside a task: the thread;
//! - an `identified(..)` wrapper inside a task: the wrapper wins;
//! - a `LocalSet` task (`spawn_local`): a task like any other.

mod support;

use polysync::RLock;
use polysync::lowlevel::{NoTaskIdentity, UnitId, current_task, current_unit, identified};
use std::sync::Arc;
use support::{bounded, current_thread, watchdog};

/// What a unit sees of itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    task: Option<UnitId>,
    unit: UnitId,
    thread: UnitId,
    thread_id: std::thread::ThreadId,
}

fn seen() -> Seen {
    Seen {
        task: current_task(),
        unit: current_unit(),
        thread: UnitId::current_thread(),
        thread_id: std::thread::current().id(),
    }
}

#[test]
fn spawn_blocking_closures_are_units_of_their_own() {
    polysync_tokio::install().unwrap();
    watchdog("spawn_blocking", || {
        // One blocking thread: both closures run on the same pool thread.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(1)
            .enable_time()
            .build()
            .unwrap();
        let rlock = Arc::new(RLock::new());
        rt.block_on(async {
            let first = {
                let rlock = rlock.clone();
                tokio::task::spawn_blocking(move || {
                    let s = seen();
                    // Acquire as this blocking task and keep the level.
                    rlock.acquire_blocking().forget();
                    assert_eq!(rlock.owner(), Some(s.unit));
                    s
                })
            };
            let first_id = first.id();
            let a = bounded("first closure", first).await.unwrap();
            let second = {
                let rlock = rlock.clone();
                tokio::task::spawn_blocking(move || {
                    let s = seen();
                    // Same pool thread, another blocking task: not the owner.
                    let got = rlock.try_acquire().is_some();
                    (s, got)
                })
            };
            let second_id = second.id();
            let (b, second_got_it) = bounded("second closure", second).await.unwrap();

            eprintln!("spawn_blocking: first {a:?}, second {b:?}");
            assert_eq!(a.task, polysync_tokio::unit_of(first_id));
            assert_eq!(Some(a.unit), polysync_tokio::unit_of(first_id));
            assert_eq!(Some(b.unit), polysync_tokio::unit_of(second_id));
            assert_ne!(a.unit, a.thread, "the closure is not its thread");
            assert_eq!(a.thread_id, b.thread_id, "max_blocking_threads(1)");
            assert_eq!(a.thread, b.thread);
            assert_ne!(a.unit, b.unit);
            assert!(
                !second_got_it,
                "a later closure on the same pool thread is another unit"
            );
        });
        assert_eq!(rlock.count(), 1); // the first closure's forgotten level
    });
}

#[test]
fn plain_threads_keep_their_thread_identity() {
    polysync_tokio::install().unwrap();
    watchdog("plain_threads", || {
        // A thread that never saw a runtime.
        let s = std::thread::spawn(seen).join().unwrap();
        assert_eq!(s.task, None);
        assert_eq!(s.unit, s.thread);
        assert_eq!(polysync_tokio::current_task_unit(), None);

        // A thread spawned from inside a task is not that task.
        let rt = current_thread();
        let (task_unit, from_task) = rt.block_on(async {
            let task = tokio::spawn(async {
                let inner = std::thread::spawn(seen).join().unwrap();
                (current_task().unwrap(), inner)
            });
            bounded("task", task).await.unwrap()
        });
        assert_eq!(from_task.task, None);
        assert_eq!(from_task.unit, from_task.thread);
        assert_ne!(from_task.unit, task_unit);
    });
}

#[test]
fn block_on_future_is_not_a_task() {
    polysync_tokio::install().unwrap();
    watchdog("block_on", || {
        let rt = current_thread();
        let rlock = RLock::new();
        rt.block_on(async {
            let s = seen();
            assert_eq!(s.task, None);
            assert_eq!(s.unit, s.thread, "blocking calls use the thread");
            assert_eq!(rlock.acquire().await.unwrap_err(), NoTaskIdentity);
            // The blocking form works, as the thread.
            let guard = rlock.try_acquire().unwrap();
            assert_eq!(rlock.owner(), Some(UnitId::current_thread()));
            drop(guard);
            // Wrapping gives it an identity.
            let wrapped = identified(async { rlock.acquire().await.map(|_| current_task()) });
            let unit = wrapped.unit();
            assert_eq!(wrapped.await.unwrap(), Some(unit));
        });
    });
}

#[test]
fn identified_wrapper_wins_inside_a_task() {
    polysync_tokio::install().unwrap();
    watchdog("identified_in_task", || {
        let rt = current_thread();
        rt.block_on(async {
            let task = tokio::spawn(async {
                let outer = current_task().unwrap();
                let wrapped = identified(async { current_task() });
                let unit = wrapped.unit();
                let inner = wrapped.await;
                assert_eq!(inner, Some(unit));
                assert_ne!(inner, Some(outer));
                assert_eq!(current_task(), Some(outer)); // restored after the wrapper
            });
            bounded("task", task).await.unwrap();
        });
    });
}

#[test]
fn local_set_tasks_are_tasks() {
    polysync_tokio::install().unwrap();
    watchdog("local_set", || {
        let rt = current_thread();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async {
            let a = tokio::task::spawn_local(async { current_task() });
            let b = tokio::task::spawn_local(async { current_task() });
            let (ida, idb) = (a.id(), b.id());
            assert_eq!(bounded("a", a).await.unwrap(), polysync_tokio::unit_of(ida));
            assert_eq!(bounded("b", b).await.unwrap(), polysync_tokio::unit_of(idb));
            assert_ne!(ida, idb);
        });
    });
}
