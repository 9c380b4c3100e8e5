//! The default policy for blocking calls that must sleep on a tokio runtime
//! thread (issue 11, part 2), place by place:
//!
//! - a multi-thread worker: the sleep runs under `block_in_place`, so the
//!   worker's other tasks run meanwhile (with one worker, the holder of the
//!   lock is one of them: this used to deadlock);
//! - a current-thread runtime (task or `block_on` future), a `LocalSet` on
//!   it or on a multi-thread `block_on`: a panic that says to `.await` the
//!   async form, never a silent deadlock; the panicking wait withdraws
//!   cleanly;
//! - a call that does not need to sleep (uncontended, or a deadline already
//!   passed) never panics, anywhere;
//! - `spawn_blocking`, `Runtime::enter`, a multi-thread `block_on` future,
//!   plain threads: a normal blocking wait;
//! - `drives_a_runtime()`, the probe the policy rests on, row by row.

mod support;

use polysync::{Lock, RLock, Semaphore};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{current_thread, multi_thread, panic_message, watchdog, watchdog_within};
use tokio::sync::oneshot;

/// How long the hang-guarded tests may take: they finish in milliseconds,
/// and their bug is a deadlock.
const HANG: Duration = Duration::from_secs(10);

/// The part of the panic message every refused wait carries.
const ADVICE: &str = "`.await` the async form instead";

/// A task that takes `lock`, reports it held, and releases it once told
/// (a oneshot: it needs its runtime to run again to release). No timer: a
/// hold that ended by the clock could end before the wait under test
/// starts, and the wait would then not need to sleep.
fn spawn_holder(
    lock: &Arc<Lock>,
) -> (
    tokio::task::JoinHandle<()>,
    oneshot::Receiver<()>,
    oneshot::Sender<()>,
) {
    let (held_tx, held_rx) = oneshot::channel();
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let lock = lock.clone();
    let task = tokio::spawn(async move {
        let _guard = lock.acquire().await;
        held_tx.send(()).unwrap();
        let _ = release_rx.await;
    });
    (task, held_rx, release_tx)
}

/// Waits (yielding to the runtime) until `lock` has a queued waiter.
async fn until_queued(lock: &Lock) {
    while lock.waiting() == 0 {
        tokio::task::yield_now().await;
    }
}

/// The deadlock that used to happen: a multi-thread runtime with ONE
/// worker; a task on it holds a lock across a timer; another task calls
/// `acquire_blocking()`. A plain blocking wait would hold the only worker,
/// so the holder's timer never fires and it never releases. Under
/// `block_in_place` tokio hands the worker's core to another thread, which
/// runs the holder.
#[test]
fn worker_sleep_lets_the_workers_other_tasks_run() {
    polysync_tokio::install().unwrap();
    watchdog_within("worker_block_in_place", HANG, || {
        let rt = multi_thread(1);
        let lock = Arc::new(Lock::new());
        rt.block_on(async {
            let (holder, held, release) = spawn_holder(&lock);
            held.await.unwrap();
            let lock2 = lock.clone();
            let waiter = tokio::spawn(async move {
                assert!(polysync_tokio::drives_a_runtime(), "on the worker");
                // The holder can run only if this worker's other tasks do.
                release.send(()).unwrap();
                let _guard = lock2.acquire_blocking();
                // The rest of this poll may run off the worker: tokio gives
                // the core back to this thread only if the thread that took
                // it over has let it go.
            });
            waiter.await.unwrap();
            holder.await.unwrap();
        });
        assert!(!lock.is_locked());
        assert_eq!(lock.waiting(), 0);
    });
}

/// The same without a hang as the failure mode: a timed blocking wait on
/// the only worker gets the lock (the holder ran elsewhere meanwhile)
/// rather than timing out.
#[test]
fn worker_timed_wait_sees_the_release_of_a_task() {
    polysync_tokio::install().unwrap();
    watchdog_within("worker_timed_wait", HANG, || {
        let rt = multi_thread(1);
        let lock = Arc::new(Lock::new());
        rt.block_on(async {
            let (holder, held, release) = spawn_holder(&lock);
            held.await.unwrap();
            let lock2 = lock.clone();
            let got = tokio::spawn(async move {
                release.send(()).unwrap();
                lock2.try_acquire_for(Duration::from_secs(5)).is_some()
            });
            assert!(
                got.await.unwrap(),
                "the holder task could not run: the worker was blocked"
            );
            holder.await.unwrap();
        });
    });
}

/// A task keeps its identity across a sleep under `block_in_place`: it
/// re-enters the RLock it held before the blocking wait.
#[test]
fn task_identity_survives_block_in_place() {
    polysync_tokio::install().unwrap();
    watchdog_within("identity_block_in_place", HANG, || {
        let rt = multi_thread(1);
        let lock = Arc::new(Lock::new());
        rt.block_on(async {
            let (holder, held, release) = spawn_holder(&lock);
            held.await.unwrap();
            let lock2 = lock.clone();
            let task = tokio::spawn(async move {
                let me = polysync_tokio::current_task_unit().unwrap();
                let rlock = RLock::new();
                let outer = rlock.acquire().await.unwrap();
                release.send(()).unwrap();
                let guard = lock2.acquire_blocking(); // sleeps under block_in_place
                assert_eq!(polysync_tokio::current_task_unit(), Some(me));
                let inner = rlock.try_acquire().expect("the same task re-enters");
                assert_eq!(rlock.owner(), Some(me));
                drop((inner, outer, guard));
            });
            task.await.unwrap();
            holder.await.unwrap();
        });
    });
}

/// The deadlock that used to happen silently on a current-thread runtime:
/// the holder is a task of the same thread. Now the blocking call panics
/// (its task fails with the message), the wait withdraws, and the holder
/// finishes.
#[test]
fn current_thread_task_panics_instead_of_deadlocking() {
    polysync_tokio::install().unwrap();
    watchdog_within("current_thread_panics", HANG, || {
        let rt = current_thread();
        let lock = Arc::new(Lock::new());
        rt.block_on(async {
            let (holder, held, release) = spawn_holder(&lock);
            held.await.unwrap();
            let lock2 = lock.clone();
            let waiter = tokio::spawn(async move { drop(lock2.acquire_blocking()) });
            let err = waiter.await.unwrap_err();
            assert!(err.is_panic());
            let payload = err.into_panic();
            let msg = panic_message(&*payload);
            assert!(msg.contains(ADVICE), "{msg}");
            assert!(msg.contains("current-thread runtime"), "{msg}");
            assert!(msg.contains("acquire_blocking()"), "{msg}");
            assert_eq!(lock.waiting(), 0, "the refused wait withdrew");
            release.send(()).unwrap();
            holder.await.unwrap();
        });
        assert!(!lock.is_locked());
        drop(lock.try_acquire().expect("the lock is free again"));
    });
}

/// The `block_on` future of a current-thread runtime is the runtime's
/// thread too: a blocking call there panics out of `block_on`.
#[test]
fn current_thread_block_on_future_panics() {
    polysync_tokio::install().unwrap();
    watchdog_within("block_on_future_panics", HANG, || {
        let rt = current_thread();
        let sem = Arc::new(Semaphore::new(0));
        let out = catch_unwind(AssertUnwindSafe(|| {
            rt.block_on(async {
                let releaser = sem.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    releaser.release(1);
                });
                sem.acquire_blocking().unwrap().forget();
            })
        }));
        let msg = panic_message(&*out.unwrap_err()).to_owned();
        assert!(msg.contains(ADVICE), "{msg}");
        assert_eq!(sem.waiting(), 0);
    });
}

/// `spawn_local` tasks of a `LocalSet` on a current-thread runtime.
#[test]
fn local_set_on_current_thread_panics() {
    polysync_tokio::install().unwrap();
    watchdog_within("local_set_current_thread", HANG, || {
        let rt = current_thread();
        let local = tokio::task::LocalSet::new();
        let lock = Arc::new(Lock::new());
        local.block_on(&rt, async {
            let guard = lock.acquire().await;
            let lock2 = lock.clone();
            let waiter = tokio::task::spawn_local(async move { drop(lock2.acquire_blocking()) });
            let err = waiter.await.unwrap_err();
            let msg = panic_message(&*err.into_panic()).to_owned();
            assert!(msg.contains(ADVICE), "{msg}");
            drop(guard);
        });
        assert_eq!(lock.waiting(), 0);
    });
}

/// A `LocalSet` driven by a multi-thread runtime's `block_on`: tokio's
/// `block_in_place` refuses there, and the refusal becomes this crate's
/// panic (the holder is a local task of the same thread).
#[test]
fn local_set_on_multi_thread_block_on_panics() {
    polysync_tokio::install().unwrap();
    watchdog_within("local_set_multi_thread", HANG, || {
        let rt = multi_thread(1);
        let local = tokio::task::LocalSet::new();
        let lock = Arc::new(Lock::new());
        local.block_on(&rt, async {
            let guard = lock.acquire().await;
            let lock2 = lock.clone();
            let waiter = tokio::task::spawn_local(async move { drop(lock2.acquire_blocking()) });
            let err = waiter.await.unwrap_err();
            let msg = panic_message(&*err.into_panic()).to_owned();
            assert!(msg.contains(ADVICE), "{msg}");
            drop(guard);
        });
        assert_eq!(lock.waiting(), 0);
    });
}

/// Calls that need not sleep never panic, even on a current-thread
/// runtime: an uncontended blocking call, and timed calls whose deadline
/// has already passed (they report the time-out).
#[test]
fn calls_that_need_not_sleep_never_panic() {
    polysync_tokio::install().unwrap();
    watchdog("need_not_sleep", || {
        let rt = current_thread();
        rt.block_on(async {
            let held = Arc::new(Lock::new());
            let guard = held.try_acquire().unwrap(); // held by the thread
            let held2 = held.clone();
            let task = tokio::spawn(async move {
                assert!(held2.try_acquire_for(Duration::ZERO).is_none());
                assert!(held2.try_acquire_until(Instant::now()).is_none());
                let lock = Lock::new();
                drop(lock.acquire_blocking()); // free: no wait
                drop(lock.try_acquire_for(Duration::from_secs(1)).unwrap());
                let sem = Semaphore::new(1);
                sem.acquire_blocking().unwrap().forget();
                assert!(sem.try_acquire_for(Duration::ZERO).is_none());
                let q = polysync::Queue::bounded(1);
                q.put_blocking(7).unwrap();
                assert_eq!(q.get_blocking(), Ok(7));
                assert_eq!(held2.waiting() + sem.waiting(), 0);
            });
            task.await.unwrap();
            drop(guard);
        });
    });
}

/// Places where a blocking wait is a normal one: a `spawn_blocking` closure
/// of a current-thread runtime (released by a task of that runtime, which
/// keeps running), a thread under `Runtime::enter`, a plain thread spawned
/// from a task, and a multi-thread runtime's `block_on` future (released by
/// a task on a worker).
#[test]
fn spawn_blocking_enter_and_plain_threads_wait_normally() {
    polysync_tokio::install().unwrap();
    watchdog_within("normal_waits", HANG, || {
        let rt = current_thread();
        let lock = Arc::new(Lock::new());
        rt.block_on(async {
            let (holder, held, release) = spawn_holder(&lock);
            held.await.unwrap();
            let lock2 = lock.clone();
            let waiter = tokio::task::spawn_blocking(move || drop(lock2.acquire_blocking()));
            until_queued(&lock).await;
            release.send(()).unwrap();
            waiter.await.unwrap();
            holder.await.unwrap();

            let (holder, held, release) = spawn_holder(&lock);
            held.await.unwrap();
            let lock2 = lock.clone();
            let thread = std::thread::spawn(move || drop(lock2.acquire_blocking()));
            until_queued(&lock).await;
            release.send(()).unwrap();
            holder.await.unwrap();
            tokio::task::spawn_blocking(move || thread.join().unwrap())
                .await
                .unwrap();
        });

        std::thread::scope(|s| {
            let (held_tx, held_rx) = std::sync::mpsc::channel();
            let lock = &lock;
            s.spawn(move || {
                let guard = lock.try_acquire().unwrap();
                held_tx.send(()).unwrap();
                while lock.waiting() == 0 {
                    std::thread::yield_now();
                }
                drop(guard);
            });
            held_rx.recv().unwrap();
            let _enter = rt.enter();
            drop(lock.acquire_blocking());
        });

        let mt = multi_thread(1);
        mt.block_on(async {
            let (holder, held, release) = spawn_holder(&lock);
            held.await.unwrap();
            release.send(()).unwrap(); // a task on a worker releases meanwhile
            drop(lock.acquire_blocking()); // the block_on future: not a worker
            holder.await.unwrap();
        });
        assert_eq!(lock.waiting(), 0);
    });
}

/// `drives_a_runtime()` row by row (the facts the policy rests on).
#[test]
fn drives_a_runtime_tells_runtime_threads_apart() {
    use polysync_tokio::drives_a_runtime as drives;
    watchdog("drives_a_runtime", || {
        assert!(!drives(), "plain thread");
        let ct = current_thread();
        let mt = multi_thread(2);
        {
            let _enter = ct.enter();
            assert!(!drives(), "current-thread enter()");
        }
        {
            let _enter = mt.enter();
            assert!(!drives(), "multi-thread enter()");
        }
        ct.block_on(async {
            assert!(drives(), "current-thread block_on future");
            assert!(
                tokio::spawn(async { drives() }).await.unwrap(),
                "current-thread task"
            );
            let blocking = tokio::task::spawn_blocking(drives).await.unwrap();
            assert!(!blocking, "current-thread spawn_blocking");
            let thread = std::thread::spawn(drives).join().unwrap();
            assert!(!thread, "a thread spawned from a runtime thread");
        });
        mt.block_on(async {
            assert!(!drives(), "multi-thread block_on future");
            assert!(tokio::spawn(async { drives() }).await.unwrap(), "worker");
            let in_place = tokio::spawn(async { tokio::task::block_in_place(drives) });
            assert!(!in_place.await.unwrap(), "worker inside block_in_place");
            let blocking = tokio::task::spawn_blocking(drives).await.unwrap();
            assert!(!blocking, "multi-thread spawn_blocking");
        });
        let local = tokio::task::LocalSet::new();
        local.block_on(&ct, async {
            assert!(drives(), "current-thread LocalSet");
            let task = tokio::task::spawn_local(async { drives() });
            assert!(task.await.unwrap(), "current-thread spawn_local");
        });
        let unconstrained = ct.block_on(async {
            tokio::spawn(tokio::task::coop::unconstrained(async { drives() })).await
        });
        assert!(unconstrained.unwrap(), "an unconstrained task");
    });
}
