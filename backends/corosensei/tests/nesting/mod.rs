//! Scenarios shared by the nesting binaries (`nested_tokio_first.rs`,
//! `nested_tokio_last.rs`): a hub runs inside a tokio carrier
//! (`spawn_blocking`, `Runtime::enter`, a current-thread `block_on`, a
//! multi-thread task, an `identified` future), and the innermost unit must
//! win: every green thread is a unit of its own (its identity, its waiter),
//! whatever order the backends were installed in. And the reverse: a tokio
//! task or an `identified` future polled on a green thread's stack is the
//! unit while it is polled. Each binary fixes one install order (the
//! registry is process-wide).
#![allow(dead_code)]

use polysync::lowlevel::{UnitId, current_task, current_unit, identified};
use polysync::{Lock, RLock};
use std::rc::Rc;

#[path = "../support/mod.rs"]
mod support;
pub use support::{multi_thread, watchdog};

/// One hub, three green threads: each has its own identity (the
/// registry's, equal to the hub's own record), a second green thread cannot
/// enter an `RLock` the first holds, and waiting for a `Lock` that a
/// sibling green thread holds suspends the waiter (the sibling then runs
/// and releases; a parked OS thread would hang here, until the watchdog).
pub fn green_world() {
    polysync_corosensei::run(|| {
        let rlock = Rc::new(RLock::new());
        let lock = Rc::new(Lock::new());
        let me = current_unit();
        assert_eq!(
            Some(me),
            polysync_corosensei::current_unit(),
            "main green thread"
        );
        assert_eq!(current_task(), None, "a green thread is not a task");
        let held = rlock.acquire_blocking();
        let guard = lock.acquire_blocking();
        let others: Vec<_> = (0..2)
            .map(|_| {
                let (rlock, lock) = (rlock.clone(), lock.clone());
                polysync_corosensei::spawn(move || {
                    let id = current_unit();
                    assert_eq!(Some(id), polysync_corosensei::current_unit());
                    let entered = rlock.try_acquire().is_some();
                    // Held by the main green thread: this one must switch out.
                    drop(lock.acquire_blocking());
                    assert_eq!(current_unit(), id, "same unit after the wait");
                    (id, entered)
                })
            })
            .collect();
        polysync_corosensei::yield_now(); // the others reach their waits
        assert_eq!(current_unit(), me);
        drop(guard);
        drop(held);
        let mut ids = vec![me];
        for other in others {
            let (id, entered) = other.join().unwrap();
            assert!(
                !entered,
                "a green thread entered an RLock another one holds"
            );
            ids.push(id);
        }
        for (i, a) in ids.iter().enumerate() {
            for b in &ids[i + 1..] {
                assert_ne!(a, b, "two green threads share an identity");
            }
        }
    });
}

/// The hub inside a `spawn_blocking` closure of a multi-thread runtime.
pub fn in_spawn_blocking() {
    let rt = multi_thread(1);
    rt.block_on(async {
        tokio::task::spawn_blocking(green_world).await.unwrap();
    });
}

/// The hub on a thread under `Runtime::enter`.
pub fn under_enter() {
    let rt = multi_thread(1);
    let _entered = rt.enter();
    green_world();
}

/// The hub inside the future of a current-thread runtime's `block_on`.
pub fn in_current_thread_block_on() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async { green_world() });
}

/// The hub inside a task of a multi-thread runtime (it blocks that worker
/// while it runs, as any long synchronous call would).
pub fn in_multi_thread_task() {
    let rt = multi_thread(2);
    rt.block_on(async { tokio::spawn(async { green_world() }).await.unwrap() });
}

/// The hub inside the poll of an `identified` future.
pub fn in_identified_poll() {
    let outer = identified(async { green_world() });
    futures_lite::future::block_on(outer);
}

/// The reverse: a green thread that drives a current-thread runtime's
/// `block_on`; the tasks polled there (on the green thread's stack) are
/// the units while they run, each its own, and the green thread is again
/// itself afterwards. An `identified` future polled in a green thread is
/// its own unit during its polls.
pub fn tasks_on_a_green_stack() {
    polysync_corosensei::run(|| {
        let green = current_unit();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (a, b, ua, ub) = rt.block_on(async {
            let a = tokio::spawn(async { (current_unit(), current_task()) });
            let b = tokio::spawn(async { (current_unit(), current_task()) });
            let (ua, ub) = (
                polysync_tokio::unit_of(a.id()).unwrap(),
                polysync_tokio::unit_of(b.id()).unwrap(),
            );
            (a.await.unwrap(), b.await.unwrap(), ua, ub)
        });
        assert_eq!(
            a,
            (ua, Some(ua)),
            "a task polled on a green stack is the task"
        );
        assert_eq!(b, (ub, Some(ub)));
        assert_ne!(ua, green);
        assert_eq!(current_unit(), green, "the green thread again");
        let fut = identified(async { current_unit() });
        let id = fut.unit();
        assert_eq!(polysync_corosensei::block_on(fut), id);
        assert_eq!(current_unit(), green);
        let other: UnitId = polysync_corosensei::spawn(current_unit).join().unwrap();
        assert_ne!(other, green);
    });
}
