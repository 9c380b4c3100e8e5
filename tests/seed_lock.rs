//! The seed scenario: ONE lock shared at the same time by every kind of waiter
//! polysync supports without a green backend:
//!
//! - 2 OS threads, each driving its own tokio current-thread runtime with 2 tasks,
//! - 2 plain OS threads calling `acquire_blocking`,
//! - 1 OS thread driving `futures_lite::future::block_on` with 2 tasks (`zip`),
//!
//! and a variant where the tokio tasks run on one multi-thread runtime with 2
//! workers.
//!
//! What is proven (for both `Lock` and `Mutex<T>`):
//! - **mutual exclusion across worlds**: an `inside` counter is incremented on
//!   entry and must have been 0; a *non-atomic* read-modify-write of a shared
//!   counter (load, yield or sleep, store load+1) never loses an update, so the
//!   final count equals the number of critical sections run;
//! - **no lost wake-up / hand-off**: every waiter finishes (a lost wake-up
//!   would hang the test, a lost hand-off would leave the lock locked);
//! - **clean state afterwards**: `locked() == false`, `waiting() == 0`.

#[path = "support/worlds.rs"]
mod worlds;
use worlds::Watchdog;

use polysync::{Lock, Mutex};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

/// Critical sections per execution unit (thread or task).
const ROUNDS: usize = 200;

/// Which primitive the scenario exercises.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Lock,
    Mutex,
}

struct Shared {
    kind: Kind,
    lock: Lock,
    /// For `Kind::Mutex`: the protected counter itself (a plain `usize`).
    mutex: Mutex<usize>,
    /// For `Kind::Lock`: a counter updated with a *non-atomic* load/store pair.
    counter: AtomicUsize,
    /// How many units are inside the critical section right now (must be 0 or 1).
    inside: AtomicUsize,
    /// Critical sections completed (atomic, the reference count).
    sections: AtomicUsize,
    /// The largest `waiting()` seen from inside a critical section: proves
    /// the scenario really made units queue behind each other.
    max_waiting: AtomicUsize,
}

impl Shared {
    fn new(kind: Kind) -> Arc<Self> {
        Arc::new(Shared {
            kind,
            lock: Lock::new(),
            mutex: Mutex::new(0),
            counter: AtomicUsize::new(0),
            inside: AtomicUsize::new(0),
            sections: AtomicUsize::new(0),
            max_waiting: AtomicUsize::new(0),
        })
    }

    fn enter(&self) {
        let before = self.inside.fetch_add(1, Ordering::SeqCst);
        assert_eq!(before, 0, "two holders inside the critical section at once");
        let waiting = match self.kind {
            Kind::Lock => self.lock.waiting(),
            Kind::Mutex => self.mutex.waiting(),
        };
        self.max_waiting.fetch_max(waiting, Ordering::Relaxed);
    }

    fn leave(&self) {
        let before = self.inside.fetch_sub(1, Ordering::SeqCst);
        assert_eq!(before, 1, "inside counter corrupted");
        self.sections.fetch_add(1, Ordering::SeqCst);
    }

    /// One critical section from an OS thread. Sleeps while holding the lock
    /// so that the other units pile up behind it.
    fn section_blocking(&self) {
        match self.kind {
            Kind::Lock => {
                let _guard = self.lock.acquire_blocking();
                assert!(self.lock.is_locked());
                self.enter();
                let v = self.counter.load(Ordering::Relaxed);
                thread::sleep(Duration::from_micros(100));
                self.counter.store(v + 1, Ordering::Relaxed);
                self.leave();
            }
            Kind::Mutex => {
                let mut guard = self.mutex.lock_blocking();
                assert!(self.mutex.is_locked());
                self.enter();
                let v = *guard;
                thread::sleep(Duration::from_micros(100));
                *guard = v + 1;
                self.leave();
            }
        }
    }

    /// One critical section from an async task; `pause` yields to the task's
    /// executor while the lock is held (so other tasks of the same executor
    /// run and contend).
    async fn section_async<F: Future<Output = ()>>(&self, pause: impl FnOnce() -> F) {
        match self.kind {
            Kind::Lock => {
                let _guard = self.lock.acquire().await;
                assert!(self.lock.is_locked());
                self.enter();
                let v = self.counter.load(Ordering::Relaxed);
                pause().await;
                self.counter.store(v + 1, Ordering::Relaxed);
                self.leave();
            }
            Kind::Mutex => {
                let mut guard = self.mutex.lock().await;
                assert!(self.mutex.is_locked());
                self.enter();
                let v = *guard;
                pause().await;
                *guard = v + 1;
                self.leave();
            }
        }
    }

    fn check_final(&self, expected_sections: usize) {
        let max_waiting = self.max_waiting.load(Ordering::Relaxed);
        println!("{:?}: max waiting seen {max_waiting}", self.kind);
        // Not a timing assertion: with threads sleeping inside the critical
        // section, hundreds of times, somebody must have queued. If this
        // fails, the scenario is not testing contention at all.
        assert!(max_waiting >= 1, "the scenario produced no contention");
        assert_eq!(self.sections.load(Ordering::SeqCst), expected_sections);
        assert_eq!(self.inside.load(Ordering::SeqCst), 0);
        match self.kind {
            Kind::Lock => {
                assert_eq!(
                    self.counter.load(Ordering::Relaxed),
                    expected_sections,
                    "lost updates: mutual exclusion was violated"
                );
                assert!(!self.lock.is_locked(), "lock left locked: {:?}", self.lock);
                assert_eq!(self.lock.waiting(), 0, "waiters left: {:?}", self.lock);
                // And it is really free.
                assert!(self.lock.try_acquire().is_some());
            }
            Kind::Mutex => {
                assert!(!self.mutex.is_locked(), "mutex left locked");
                assert_eq!(self.mutex.waiting(), 0);
                let guard = self.mutex.try_lock().expect("mutex must be free");
                assert_eq!(
                    *guard, expected_sections,
                    "lost updates: mutual exclusion was violated"
                );
            }
        }
    }
}

async fn tokio_pause() {
    tokio::task::yield_now().await;
}

async fn futures_lite_pause() {
    futures_lite::future::yield_now().await;
}

/// A tokio task that runs `ROUNDS` critical sections.
async fn tokio_worker(shared: Arc<Shared>) {
    for _ in 0..ROUNDS {
        shared.section_async(tokio_pause).await;
    }
}

/// A `futures_lite` task that runs `ROUNDS` critical sections.
async fn futures_lite_worker(shared: &Shared) {
    for _ in 0..ROUNDS {
        shared.section_async(futures_lite_pause).await;
    }
}

/// The non-tokio part of the scenario: 2 blocking threads and one
/// `futures_lite::block_on` thread with 2 tasks. Returns the join handles and
/// the number of critical sections they will run.
fn spawn_plain_units(shared: &Arc<Shared>) -> (Vec<thread::JoinHandle<()>>, usize) {
    let mut handles = Vec::new();
    for _ in 0..2 {
        let shared = shared.clone();
        handles.push(thread::spawn(move || {
            for _ in 0..ROUNDS {
                shared.section_blocking();
            }
        }));
    }
    let shared = shared.clone();
    handles.push(thread::spawn(move || {
        futures_lite::future::block_on(futures_lite::future::zip(
            futures_lite_worker(&shared),
            futures_lite_worker(&shared),
        ));
    }));
    (handles, 4 * ROUNDS)
}

/// 2 threads x tokio current-thread runtime x 2 tasks, + the plain units.
fn run_current_thread_scenario(kind: Kind) {
    let shared = Shared::new(kind);
    let (mut handles, mut expected) = spawn_plain_units(&shared);
    for _ in 0..2 {
        let shared = shared.clone();
        handles.push(thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            rt.block_on(async move {
                let a = tokio::spawn(tokio_worker(shared.clone()));
                let b = tokio::spawn(tokio_worker(shared));
                a.await.unwrap();
                b.await.unwrap();
            });
        }));
        expected += 2 * ROUNDS;
    }
    for handle in handles {
        handle.join().expect("a unit panicked");
    }
    shared.check_final(expected);
}

/// One tokio multi-thread runtime (2 workers) with 4 tasks, + the plain units.
fn run_multi_thread_scenario(kind: Kind) {
    let shared = Shared::new(kind);
    let (handles, mut expected) = spawn_plain_units(&shared);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..4)
            .map(|_| tokio::spawn(tokio_worker(shared.clone())))
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    expected += 4 * ROUNDS;
    for handle in handles {
        handle.join().expect("a unit panicked");
    }
    shared.check_final(expected);
}

#[test]
fn lock_shared_by_threads_tokio_current_thread_and_block_on() {
    let _watchdog = Watchdog::new(
        "lock_shared_by_threads_tokio_current_thread_and_block_on",
        Duration::from_secs(30),
    );
    run_current_thread_scenario(Kind::Lock);
}

#[test]
fn mutex_shared_by_threads_tokio_current_thread_and_block_on() {
    let _watchdog = Watchdog::new(
        "mutex_shared_by_threads_tokio_current_thread_and_block_on",
        Duration::from_secs(30),
    );
    run_current_thread_scenario(Kind::Mutex);
}

#[test]
fn lock_shared_by_threads_tokio_multi_thread_and_block_on() {
    let _watchdog = Watchdog::new(
        "lock_shared_by_threads_tokio_multi_thread_and_block_on",
        Duration::from_secs(30),
    );
    run_multi_thread_scenario(Kind::Lock);
}

#[test]
fn mutex_shared_by_threads_tokio_multi_thread_and_block_on() {
    let _watchdog = Watchdog::new(
        "mutex_shared_by_threads_tokio_multi_thread_and_block_on",
        Duration::from_secs(30),
    );
    run_multi_thread_scenario(Kind::Mutex);
}

/// The same lock as a `static` (it is `const`-constructible), hammered by all
/// worlds with the counter inside a `static Mutex`: proves the `const`
/// constructors produce working primitives.
#[test]
fn static_mutex_shared_by_all_worlds() {
    let _watchdog = Watchdog::new("static_mutex_shared_by_all_worlds", Duration::from_secs(30));
    static COUNTER: Mutex<usize> = Mutex::new(0);
    const N: usize = 200;
    let blocking = thread::spawn(|| {
        for _ in 0..N {
            *COUNTER.lock_blocking() += 1;
        }
    });
    let block_on = thread::spawn(|| {
        futures_lite::future::block_on(async {
            for _ in 0..N {
                *COUNTER.lock().await += 1;
            }
        })
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        for _ in 0..N {
            *COUNTER.lock().await += 1;
        }
    });
    blocking.join().unwrap();
    block_on.join().unwrap();
    assert_eq!(*COUNTER.try_lock().expect("free"), 3 * N);
    assert_eq!(COUNTER.waiting(), 0);
}
