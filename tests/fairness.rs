//! Strict FIFO and direct hand-off across waiter worlds (`Lock::new_fair`;
//! bounded fairness (Lock::new_bounded) is tested in tests/lock_bounded.rs,
//! and the give-up test below runs on the default lock, bounded since
//! issue 18: with nobody arriving to barge, its queued waiters keep their
//! FIFO order there too).
//!
//! Waiters of three kinds (OS threads in the blocking forms, tokio tasks on a
//! runtime in its own thread, `futures_lite::block_on` tasks in another
//! thread) are queued one at a time in a known order: each is started, then
//! the test waits until the primitive's `waiting()` count went up by one
//! before starting the next. Each records its id inside its critical
//! section.
//!
//! What is proven:
//! - `Lock`: on release, the waiters get the lock in exactly the order they
//!   queued, whatever their world. Direct hand-off: right after the holder's
//!   guard drops with waiters queued, `is_locked()` is still true, `try_acquire`
//!   fails, and `waiting()` dropped by exactly one; inside every holder,
//!   `is_locked()` is true and exactly the later waiters are still queued; a
//!   thread that spins on `try_acquire` during the whole chain never barges in.
//! - A waiter that gives up (a timed-out thread, a dropped tokio future) loses
//!   its place; the others keep their order.
//! - `Semaphore::new(0)`: `release(1)` one at a time serves the waiters in
//!   queue order, the permit never shows up in `value()`; `release(n)` serves
//!   exactly the `n` oldest waiters (also across wake batches, n > 16) and
//!   frees only what is left over.

#[path = "support/worlds.rs"]
mod worlds;
use worlds::Watchdog;

use polysync::{Lock, Semaphore};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Polls `cond` every millisecond, at most 10 000 times (10 s), and panics if
/// it never held. Used to know that a waiter is queued, never to measure time.
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..10_000 {
        if cond() {
            return;
        }
        thread::sleep(Duration::from_millis(1));
    }
    panic!("gave up waiting for: {what}");
}

/// Runs all futures concurrently on whatever executor polls it (a minimal
/// `join_all`, so several tasks share one `futures_lite::block_on`).
async fn join_all(futures: Vec<BoxFuture>) {
    let mut futures: Vec<Option<BoxFuture>> = futures.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for slot in &mut futures {
            if let Some(fut) = slot {
                if fut.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    pending = true;
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await
}

/// The world a waiter lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum World {
    /// An OS thread using a blocking form.
    Thread,
    /// A task on a tokio current-thread runtime driven by its own thread.
    Tokio,
    /// A task inside one `futures_lite::future::block_on` in another thread.
    BlockOn,
}

/// What a waiter does, in each form.
trait Scenario: Send + Sync + 'static {
    /// Waits in a blocking form (`form` picks which one) and records `id`.
    fn blocking(&self, id: usize, form: usize);
    /// Waits asynchronously and records `id`.
    fn asynchronous(self: Arc<Self>, id: usize) -> BoxFuture;
}

/// Starts waiters in the three worlds, one at a time.
struct Worlds<S: Scenario> {
    scenario: Arc<S>,
    tokio: tokio::runtime::Handle,
    tokio_stop: Option<tokio::sync::oneshot::Sender<()>>,
    tokio_thread: Option<thread::JoinHandle<()>>,
    tokio_tasks: Vec<tokio::task::JoinHandle<()>>,
    /// One "go" per prepared block_on task: sending an id starts its wait.
    block_on_go: VecDeque<tokio::sync::oneshot::Sender<usize>>,
    block_on_thread: Option<thread::JoinHandle<()>>,
    threads: Vec<thread::JoinHandle<()>>,
    forms: usize,
}

impl<S: Scenario> Worlds<S> {
    /// `block_on_tasks`: how many block_on waiters will be started.
    fn new(scenario: Arc<S>, block_on_tasks: usize) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let tokio = rt.handle().clone();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let tokio_thread = thread::spawn(move || {
            rt.block_on(async {
                let _ = stop_rx.await;
            });
        });

        let mut block_on_go = VecDeque::new();
        let mut tasks: Vec<BoxFuture> = Vec::new();
        for _ in 0..block_on_tasks {
            let (tx, rx) = tokio::sync::oneshot::channel::<usize>();
            block_on_go.push_back(tx);
            let scenario = scenario.clone();
            tasks.push(Box::pin(async move {
                if let Ok(id) = rx.await {
                    scenario.asynchronous(id).await;
                }
            }));
        }
        let block_on_thread =
            thread::spawn(move || futures_lite::future::block_on(join_all(tasks)));

        Worlds {
            scenario,
            tokio,
            tokio_stop: Some(stop_tx),
            tokio_thread: Some(tokio_thread),
            tokio_tasks: Vec::new(),
            block_on_go,
            block_on_thread: Some(block_on_thread),
            threads: Vec::new(),
            forms: 0,
        }
    }

    /// Starts waiter `id` in `world` (it queues soon after).
    fn start(&mut self, world: World, id: usize) {
        match world {
            World::Thread => {
                let scenario = self.scenario.clone();
                let form = self.forms;
                self.forms += 1;
                self.threads
                    .push(thread::spawn(move || scenario.blocking(id, form)));
            }
            World::Tokio => {
                let fut = self.scenario.clone().asynchronous(id);
                self.tokio_tasks.push(self.tokio.spawn(fut));
            }
            World::BlockOn => {
                let go = self
                    .block_on_go
                    .pop_front()
                    .expect("too few block_on tasks prepared");
                go.send(id).expect("block_on task gone");
            }
        }
    }

    /// Waits for every waiter to finish; propagates their panics.
    fn join(mut self) {
        for t in self.threads.drain(..) {
            t.join().expect("a waiter thread panicked");
        }
        for task in self.tokio_tasks.drain(..) {
            futures_lite::future::block_on(task).expect("a tokio waiter panicked");
        }
        // Unused block_on tasks end when their "go" is dropped.
        self.block_on_go.clear();
        self.block_on_thread
            .take()
            .unwrap()
            .join()
            .expect("a block_on waiter panicked");
        let _ = self.tokio_stop.take().unwrap().send(());
        self.tokio_thread.take().unwrap().join().unwrap();
    }
}

/// `count` worlds in a fixed, mixed pattern, starting with `first`.
fn pattern(first: World, count: usize) -> Vec<World> {
    let cycle = [
        World::Tokio,
        World::BlockOn,
        World::Thread,
        World::BlockOn,
        World::Tokio,
        World::Thread,
    ];
    std::iter::once(first)
        .chain(cycle.into_iter().cycle())
        .take(count)
        .collect()
}

fn count_of(worlds: &[World], world: World) -> usize {
    worlds.iter().filter(|&&w| w == world).count()
}

// ---------------------------------------------------------------------------
// Lock: FIFO and direct hand-off.

const BARGER: usize = usize::MAX;

struct LockFifo {
    lock: Lock,
    /// Ids in the order the lock was obtained (BARGER for the barging thread).
    order: std::sync::Mutex<Vec<usize>>,
    /// How many queued waiters there are in total.
    queued: usize,
    /// Waiter 0 (a thread) waits here inside its critical section until the
    /// releasing thread has made its checks.
    gate: Barrier,
    done: AtomicUsize,
}

impl LockFifo {
    /// The body of each critical section.
    fn record(&self, id: usize) {
        assert!(self.lock.is_locked(), "holder {id} sees the lock unlocked");
        // Every waiter queued before the first release and nobody else queues
        // (the barger only uses try_acquire), so exactly the later ones wait.
        assert_eq!(
            self.lock.waiting(),
            self.queued - 1 - id,
            "holder {id}: wrong number of waiters still queued"
        );
        self.order.lock().unwrap().push(id);
        if id == 0 {
            self.gate.wait();
        }
        self.done.fetch_add(1, Ordering::SeqCst);
    }
}

impl Scenario for LockFifo {
    fn blocking(&self, id: usize, form: usize) {
        let _guard = match form % 3 {
            0 => self.lock.acquire_blocking(),
            1 => self
                .lock
                .try_acquire_for(Duration::from_secs(30))
                .expect("timed out"),
            _ => self
                .lock
                .try_acquire_until(Instant::now() + Duration::from_secs(30))
                .expect("timed out"),
        };
        self.record(id);
    }

    fn asynchronous(self: Arc<Self>, id: usize) -> BoxFuture {
        Box::pin(async move {
            let _guard = self.lock.acquire().await;
            // Hold across a yield so the executor runs its other tasks meanwhile.
            futures_lite::future::yield_now().await;
            self.record(id);
        })
    }
}

#[test]
fn lock_is_fifo_across_worlds_with_direct_handoff() {
    let _watchdog = Watchdog::new(
        "lock_is_fifo_across_worlds_with_direct_handoff",
        Duration::from_secs(30),
    );
    const N: usize = 12;
    // Waiter 0 is a thread: it blocks in its critical section on `gate`.
    let worlds = pattern(World::Thread, N);
    let state = Arc::new(LockFifo {
        // Strict mode: this test is about direct hand-off itself.
        lock: Lock::new_fair(),
        order: std::sync::Mutex::new(Vec::new()),
        queued: N,
        gate: Barrier::new(2),
        done: AtomicUsize::new(0),
    });
    let holder = state.lock.acquire_blocking();
    let mut env = Worlds::new(state.clone(), count_of(&worlds, World::BlockOn));
    for (id, &world) in worlds.iter().enumerate() {
        env.start(world, id);
        wait_until(&format!("waiter {id} ({world:?}) queued"), || {
            state.lock.waiting() == id + 1
        });
    }
    assert_eq!(state.order.lock().unwrap().len(), 0, "nobody got in yet");

    // A thread that tries to barge in during the whole hand-off chain.
    let barger = {
        let state = state.clone();
        thread::spawn(move || {
            for _ in 0..5_000_000 {
                if state.done.load(Ordering::SeqCst) == N {
                    break;
                }
                if let Some(_guard) = state.lock.try_acquire() {
                    state.order.lock().unwrap().push(BARGER);
                }
                thread::yield_now();
            }
        })
    };

    drop(holder);
    // Direct hand-off: the lock went to waiter 0 without ever being free.
    assert!(
        state.lock.is_locked(),
        "the lock was unlocked with waiters queued"
    );
    assert!(
        state.lock.try_acquire().is_none(),
        "barged in after a release"
    );
    assert_eq!(
        state.lock.waiting(),
        N - 1,
        "exactly one waiter was dequeued"
    );
    state.gate.wait(); // let waiter 0 go on

    env.join();
    barger.join().unwrap();
    let order = state.order.lock().unwrap().clone();
    let expected: Vec<usize> = (0..N).collect();
    assert_eq!(
        &order[..N],
        &expected[..],
        "not FIFO (or barged): {order:?}"
    );
    assert!(order[N..].iter().all(|&id| id == BARGER));
    assert!(!state.lock.is_locked());
    assert_eq!(state.lock.waiting(), 0);
}

#[test]
fn lock_waiter_that_gives_up_loses_its_place() {
    let _watchdog = Watchdog::new(
        "lock_waiter_that_gives_up_loses_its_place",
        Duration::from_secs(30),
    );
    let lock = Arc::new(Lock::new());
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let holder = lock.acquire_blocking();

    let first = {
        let (lock, order) = (lock.clone(), order.clone());
        thread::spawn(move || {
            let _g = lock.acquire_blocking();
            order.lock().unwrap().push("thread");
        })
    };
    wait_until("thread queued", || lock.waiting() == 1);
    // A thread that gives up by timeout. The timeout only has to outlast the
    // queueing of the two tokio tasks below (a few milliseconds): 1 s is margin.
    let quitter = {
        let lock = lock.clone();
        thread::spawn(move || lock.try_acquire_for(Duration::from_secs(1)).is_some())
    };
    wait_until("quitter queued", || lock.waiting() == 2);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    // A tokio task that gives up when told to (its acquire future is dropped),
    // then one that stays.
    let (cancel_tx, cancel_rx) = tokio::sync::oneshot::channel::<()>();
    let (async_quitter, last) = {
        let (lock, order) = (lock.clone(), order.clone());
        let quitter_lock = lock.clone();
        let quitter_task = rt.spawn(async move {
            futures_lite::future::or(
                async {
                    drop(quitter_lock.acquire().await);
                    true
                },
                async {
                    let _ = cancel_rx.await;
                    false
                },
            )
            .await
        });
        let task = rt.spawn(async move {
            let _g = lock.acquire().await;
            order.lock().unwrap().push("tokio");
        });
        (quitter_task, task)
    };
    // Drive the runtime in a thread so its tasks queue and then run.
    let rt_thread = thread::spawn(move || {
        let quit = rt.block_on(async_quitter).unwrap();
        rt.block_on(last).unwrap();
        quit
    });
    wait_until("tokio waiters queued", || lock.waiting() == 4);

    // Both quitters give up while the lock is still held.
    assert!(
        !quitter.join().unwrap(),
        "the quitter cannot get a held lock"
    );
    assert_eq!(lock.waiting(), 3, "the timed-out thread left the queue");
    cancel_tx.send(()).unwrap();
    wait_until("async quitter gone", || lock.waiting() == 2);
    drop(holder);
    first.join().unwrap();
    assert!(
        !rt_thread.join().unwrap(),
        "the async quitter cannot get a held lock"
    );
    assert_eq!(*order.lock().unwrap(), ["thread", "tokio"]);
    assert!(!lock.is_locked());
    assert_eq!(lock.waiting(), 0);
}

// ---------------------------------------------------------------------------
// Semaphore: FIFO with release(1) and release(n).

struct SemFifo {
    sem: Semaphore,
    order: std::sync::Mutex<Vec<usize>>,
}

impl SemFifo {
    fn record(&self, id: usize) {
        self.order.lock().unwrap().push(id);
    }
}

impl Scenario for SemFifo {
    fn blocking(&self, id: usize, form: usize) {
        let permit = match form % 3 {
            0 => self.sem.acquire_blocking().unwrap(),
            1 => self
                .sem
                .try_acquire_for(Duration::from_secs(30))
                .expect("timed out"),
            _ => self
                .sem
                .try_acquire_until(Instant::now() + Duration::from_secs(30))
                .expect("timed out"),
        };
        permit.forget();
        self.record(id);
    }

    fn asynchronous(self: Arc<Self>, id: usize) -> BoxFuture {
        Box::pin(async move {
            self.sem.acquire().await.unwrap().forget();
            self.record(id);
        })
    }
}

/// Queues `worlds.len()` waiters on an empty semaphore, in order.
fn queue_on_semaphore(worlds: &[World]) -> (Arc<SemFifo>, Worlds<SemFifo>) {
    let state = Arc::new(SemFifo {
        sem: Semaphore::new(0),
        order: std::sync::Mutex::new(Vec::new()),
    });
    let mut env = Worlds::new(state.clone(), count_of(worlds, World::BlockOn));
    for (id, &world) in worlds.iter().enumerate() {
        env.start(world, id);
        wait_until(&format!("waiter {id} ({world:?}) queued"), || {
            state.sem.waiting() == id + 1
        });
    }
    (state, env)
}

#[test]
fn semaphore_release_one_serves_waiters_in_queue_order() {
    let _watchdog = Watchdog::new(
        "semaphore_release_one_serves_waiters_in_queue_order",
        Duration::from_secs(30),
    );
    const N: usize = 12;
    let worlds = pattern(World::BlockOn, N);
    let (state, env) = queue_on_semaphore(&worlds);
    for k in 0..N {
        state.sem.release(1);
        // The permit went straight to the oldest waiter: never free, dequeued.
        assert_eq!(state.sem.value(), 0, "the permit was not handed over");
        assert_eq!(state.sem.waiting(), N - k - 1);
        wait_until(&format!("waiter {k} served"), || {
            state.order.lock().unwrap().len() == k + 1
        });
        let order = state.order.lock().unwrap().clone();
        assert_eq!(order[k], k, "served out of order: {order:?} ({worlds:?})");
    }
    env.join();
    assert_eq!(state.sem.value(), 0);
    assert_eq!(state.sem.waiting(), 0);
}

#[test]
fn semaphore_release_n_serves_the_n_oldest_waiters() {
    let _watchdog = Watchdog::new(
        "semaphore_release_n_serves_the_n_oldest_waiters",
        Duration::from_secs(30),
    );
    const N: usize = 20;
    let worlds = pattern(World::Tokio, N);
    let (state, env) = queue_on_semaphore(&worlds);

    let sorted_from = |from: usize| {
        let mut served = state.order.lock().unwrap()[from..].to_vec();
        served.sort_unstable();
        served
    };

    // release(7): exactly waiters 0..7 are served, nothing is left free.
    state.sem.release(7);
    assert_eq!(state.sem.value(), 0);
    assert_eq!(state.sem.waiting(), N - 7);
    wait_until("7 served", || state.order.lock().unwrap().len() == 7);
    assert_eq!(sorted_from(0), (0..7).collect::<Vec<_>>());

    // release(17) with 13 waiters left (more than one wake batch of 16):
    // all 13 are served, 4 permits are left free.
    state.sem.release(17);
    assert_eq!(state.sem.waiting(), 0);
    assert_eq!(state.sem.value(), 4);
    wait_until("all served", || state.order.lock().unwrap().len() == N);
    assert_eq!(sorted_from(7), (7..N).collect::<Vec<_>>());

    env.join();
    assert_eq!(state.sem.value(), 4);
}
