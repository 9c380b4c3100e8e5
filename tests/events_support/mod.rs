//! Helpers shared by tests/revent.rs and tests/countdown.rs (not a test
//! target itself): a watchdog, wakers that count or run a callback, the
//! worlds (OS threads, tokio multi-thread and current-thread runtimes in
//! their own threads, `futures_lite::block_on` in a thread), a mixed crowd of
//! waiters, and a generic random-cancellation storm with an exact final check.
#![allow(dead_code)]

#[path = "../support/soak.rs"]
pub mod soak;
#[path = "../support/worlds.rs"]
mod worlds;
pub use worlds::Watchdog;

use futures_lite::future::{or, poll_once, yield_now};
use polysync::countdown::CountdownEvent;
use polysync::revent::REvent;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::task::{Poll, Wake, Waker};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Watchdog, polling, randomness
// ---------------------------------------------------------------------------

/// Polls `cond` every millisecond for at most 10 s; panics if it never held.
/// Used to know that waiters are queued, never to measure time.
pub fn wait_until(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..10_000 {
        if cond() {
            return;
        }
        thread::sleep(Duration::from_millis(1));
    }
    panic!("gave up waiting for: {what}");
}

/// xorshift64.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        let x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
        Rng(x.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A short timeout: zero an eighth of the time, mostly well under 1 ms.
    pub fn timeout(&mut self) -> Duration {
        match self.below(8) {
            0 => Duration::ZERO,
            1..=3 => Duration::from_micros(self.below(60)),
            4 | 5 => Duration::from_micros(self.below(400)),
            _ => Duration::from_micros(400 + self.below(1600)),
        }
    }
}

pub fn seed() -> u64 {
    let seed = std::env::var("POLYSYNC_STORM_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    eprintln!("storm seed: {seed} (POLYSYNC_STORM_SEED={seed} to reuse)");
    seed
}

pub fn storm_len() -> Duration {
    let ms = std::env::var("POLYSYNC_STORM_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1200);
    Duration::from_millis(ms)
}

pub fn spin(n: u64) {
    for _ in 0..n {
        std::hint::spin_loop();
    }
}

// ---------------------------------------------------------------------------
// Wakers
// ---------------------------------------------------------------------------

/// A waker that counts its wakes and may run a callback on each (the
/// callback runs in the waking thread: inside `set()`, between two batches).
pub struct Probe {
    wakes: AtomicUsize,
    on_wake: Option<Box<dyn Fn() + Send + Sync>>,
}

impl Probe {
    pub fn new() -> Arc<Probe> {
        Arc::new(Probe {
            wakes: AtomicUsize::new(0),
            on_wake: None,
        })
    }

    pub fn with_callback(f: impl Fn() + Send + Sync + 'static) -> Arc<Probe> {
        Arc::new(Probe {
            wakes: AtomicUsize::new(0),
            on_wake: Some(Box::new(f)),
        })
    }

    pub fn wakes(&self) -> usize {
        self.wakes.load(SeqCst)
    }

    pub fn waker(self: &Arc<Self>) -> Waker {
        Waker::from(self.clone())
    }
}

impl Wake for Probe {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, SeqCst);
        if let Some(f) = &self.on_wake {
            f();
        }
    }
}

/// Polls `fut` once with `waker`.
pub fn poll_with<F: Future + ?Sized>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut std::task::Context::from_waker(waker))
}

/// Runs all futures concurrently on whatever executor polls it.
pub async fn join_all<F: Future<Output = ()>>(futures: Vec<F>) {
    let mut futures: Vec<Option<Pin<Box<F>>>> =
        futures.into_iter().map(|f| Some(Box::pin(f))).collect();
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

// ---------------------------------------------------------------------------
// The primitives under test, behind one interface
// ---------------------------------------------------------------------------

/// What the generic scenarios need from a broadcast event.
pub trait Waitable: Send + Sync + std::fmt::Debug + 'static {
    fn wait(&self) -> impl Future<Output = ()> + Send + std::fmt::Debug + '_;
    fn wait_blocking(&self);
    fn try_wait(&self) -> bool;
    fn try_wait_for(&self, timeout: Duration) -> bool;
    fn try_wait_until(&self, deadline: Instant) -> bool;
    fn waiting(&self) -> usize;
}

impl Waitable for REvent {
    fn wait(&self) -> impl Future<Output = ()> + Send + std::fmt::Debug + '_ {
        REvent::wait(self)
    }
    fn wait_blocking(&self) {
        REvent::wait_blocking(self)
    }
    fn try_wait(&self) -> bool {
        REvent::try_wait(self)
    }
    fn try_wait_for(&self, timeout: Duration) -> bool {
        REvent::try_wait_for(self, timeout)
    }
    fn try_wait_until(&self, deadline: Instant) -> bool {
        REvent::try_wait_until(self, deadline)
    }
    fn waiting(&self) -> usize {
        REvent::waiting(self)
    }
}

impl Waitable for CountdownEvent {
    fn wait(&self) -> impl Future<Output = ()> + Send + std::fmt::Debug + '_ {
        CountdownEvent::wait(self)
    }
    fn wait_blocking(&self) {
        CountdownEvent::wait_blocking(self)
    }
    fn try_wait(&self) -> bool {
        CountdownEvent::try_wait(self)
    }
    fn try_wait_for(&self, timeout: Duration) -> bool {
        CountdownEvent::try_wait_for(self, timeout)
    }
    fn try_wait_until(&self, deadline: Instant) -> bool {
        CountdownEvent::try_wait_until(self, deadline)
    }
    fn waiting(&self) -> usize {
        CountdownEvent::waiting(self)
    }
}

// ---------------------------------------------------------------------------
// Worlds
// ---------------------------------------------------------------------------

/// Where a piece of code runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    /// A plain OS thread.
    Thread,
    /// A task on a tokio multi-thread runtime (2 workers) in its own thread.
    TokioMt,
    /// A task on a tokio current-thread runtime in its own thread.
    TokioCt,
    /// A future under `futures_lite::future::block_on` in its own thread.
    BlockOn,
}

pub fn tokio_mt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
}

pub fn tokio_ct() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

/// Runs `f` inside a task (or thread) of `world` and returns its result.
pub fn run_in<R: Send + 'static>(world: World, f: impl FnOnce() -> R + Send + 'static) -> R {
    thread::spawn(move || match world {
        World::Thread => f(),
        World::TokioMt => {
            let rt = tokio_mt();
            rt.block_on(async move { tokio::spawn(async move { f() }).await.unwrap() })
        }
        World::TokioCt => tokio_ct().block_on(async move { f() }),
        World::BlockOn => futures_lite::future::block_on(async move { f() }),
    })
    .join()
    .expect("the notifier panicked")
}

// ---------------------------------------------------------------------------
// A mixed crowd of waiters
// ---------------------------------------------------------------------------

pub const THREADS: usize = 6;
pub const TOKIO_TASKS: usize = 10;
pub const BLOCK_ON_TASKS: usize = 6;
/// More than one wake batch (16).
pub const CROWD: usize = THREADS + TOKIO_TASKS + BLOCK_ON_TASKS;

/// Starts [`CROWD`] untimed-or-long waits on `ev`: OS threads in the three
/// blocking forms, tokio tasks on a multi-thread runtime in its own thread,
/// and `futures_lite::block_on` tasks in another thread. Each increments
/// `woken` once when its wait returns.
pub fn spawn_crowd<E: Waitable>(ev: &Arc<E>, woken: &Arc<AtomicUsize>) -> Vec<JoinHandle<()>> {
    let mut handles = Vec::new();
    for i in 0..THREADS {
        let (ev, woken) = (ev.clone(), woken.clone());
        handles.push(thread::spawn(move || {
            match i % 3 {
                0 => ev.wait_blocking(),
                1 => assert!(ev.try_wait_for(Duration::from_secs(30))),
                _ => assert!(ev.try_wait_until(Instant::now() + Duration::from_secs(30))),
            }
            woken.fetch_add(1, SeqCst);
        }));
    }
    {
        let (ev, woken) = (ev.clone(), woken.clone());
        handles.push(thread::spawn(move || {
            tokio_mt().block_on(async move {
                let tasks: Vec<_> = (0..TOKIO_TASKS)
                    .map(|_| {
                        let (ev, woken) = (ev.clone(), woken.clone());
                        tokio::spawn(async move {
                            ev.wait().await;
                            woken.fetch_add(1, SeqCst);
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
            });
        }));
    }
    {
        let (ev, woken) = (ev.clone(), woken.clone());
        handles.push(thread::spawn(move || {
            let tasks = (0..BLOCK_ON_TASKS)
                .map(|_| async {
                    ev.wait().await;
                    woken.fetch_add(1, SeqCst);
                })
                .collect();
            futures_lite::future::block_on(join_all(tasks));
        }));
    }
    handles
}

/// Waits (bounded) for the crowd to finish and joins it.
pub fn join_crowd(handles: Vec<JoinHandle<()>>, woken: &AtomicUsize, expected: usize) {
    wait_until("every waiter of the crowd woken", || {
        woken.load(SeqCst) >= expected
    });
    for h in handles {
        h.join().expect("a waiter panicked");
    }
    assert_eq!(
        woken.load(SeqCst),
        expected,
        "each waiter wakes exactly once"
    );
}

/// A wait that starts now, in each world, does not complete: a timed
/// blocking wait times out, a tokio timeout elapses, a first poll is
/// `Pending`. No node is left behind.
pub fn assert_waits_block<E: Waitable>(ev: &Arc<E>) {
    let short = Duration::from_millis(30);
    assert!(!ev.try_wait());
    {
        let ev = ev.clone();
        assert!(
            !run_in(World::Thread, move || ev.try_wait_for(short)),
            "a timed blocking wait that started after the clear completed"
        );
    }
    {
        let ev = ev.clone();
        assert!(
            !run_in(World::Thread, move || ev
                .try_wait_until(Instant::now() + short)),
            "a blocking wait with a deadline that started after the clear completed"
        );
    }
    {
        let ev = ev.clone();
        let rt = tokio_ct();
        assert!(
            rt.block_on(async { tokio::time::timeout(short, ev.wait()).await })
                .is_err(),
            "a tokio wait that started after the clear completed"
        );
    }
    assert!(
        futures_lite::future::block_on(poll_once(ev.wait())).is_none(),
        "an async wait that started after the clear was ready on its first poll"
    );
    assert_eq!(ev.waiting(), 0, "a withdrawn wait stayed queued");
}

// ---------------------------------------------------------------------------
// The storm
// ---------------------------------------------------------------------------

/// One notifier action of a storm.
pub type Pulse<E> = Arc<dyn Fn(&E, &mut Rng) + Send + Sync>;

/// Hooks of one storm.
pub struct Storm<E> {
    pub ev: Arc<E>,
    /// One notifier action, run repeatedly (with random pauses) by each
    /// notifier until every waiter has left its loop. It must leave the
    /// primitive as it found it on average (a countdown's ups and downs
    /// balanced within one call).
    pub pulse: Pulse<E>,
    /// After the notifiers stopped: make every new wait block.
    pub arm: Box<dyn FnOnce(&E)>,
    /// One final notification that must wake every queued waiter.
    pub fire: Box<dyn FnOnce(&E)>,
    /// The worlds the notifiers run in.
    pub notifiers: Vec<World>,
}

/// Random waits and cancellations in every world while notifiers of other
/// worlds pulse the primitive, for [`storm_len`] (with `POLYSYNC_SOAK=1`,
/// about 10^7 waits: see tests/support/soak.rs), and on (bounded) until each
/// interesting path was seen at least once: an untimed async wait that
/// queued and was woken, a timeout, a dropped future, and a future dropped
/// after a wake-up landed on it. Then the exact check: every
/// participant queues one untimed wait, and the single `fire` must wake each
/// of them (a waiter still queued 10 s later is a lost wake-up and fails the
/// test); `waiting()` must return to 0.
pub fn run_storm<E: Waitable>(storm: Storm<E>) {
    let Storm {
        ev,
        pulse,
        arm,
        fire,
        notifiers,
    } = storm;
    let base = seed();
    let stop = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(AtomicUsize::new(0));
    let go = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(AtomicUsize::new(0));
    let woken = Arc::new(AtomicUsize::new(0));
    let timed_out = Arc::new(AtomicUsize::new(0));
    let cancelled = Arc::new(AtomicUsize::new(0));
    // Untimed async waits that queued (first poll `Pending`) and were woken.
    let queued = Arc::new(AtomicUsize::new(0));
    // Futures dropped after a wake-up landed on them (no longer queued).
    let dropped_woken = Arc::new(AtomicUsize::new(0));
    let budget = Arc::new(soak::Budget::new(storm_len()));

    const OS_THREADS: usize = 3;
    const MT_TASKS: usize = 4;
    const CT_TASKS: usize = 2;
    const LITE_TASKS: usize = 3;
    const PARTICIPANTS: usize = OS_THREADS + MT_TASKS + CT_TASKS + LITE_TASKS;

    let mut handles = Vec::new();
    let mut seed_no = 0u64;
    let mut next_seed = || {
        seed_no += 1;
        base.wrapping_add(seed_no.wrapping_mul(0x1234_5677))
    };

    // OS threads: the blocking forms.
    for _ in 0..OS_THREADS {
        let (ev, stop, ready, go, finished) = (
            ev.clone(),
            stop.clone(),
            ready.clone(),
            go.clone(),
            finished.clone(),
        );
        let (woken, timed_out, budget) = (woken.clone(), timed_out.clone(), budget.clone());
        let mut rng = Rng::new(next_seed());
        handles.push(thread::spawn(move || {
            while !stop.load(SeqCst) {
                budget.add(1);
                let ok = match rng.below(5) {
                    0 => {
                        ev.wait_blocking();
                        true
                    }
                    1 | 2 => ev.try_wait_for(rng.timeout()),
                    3 => ev.try_wait_until(Instant::now() + rng.timeout()),
                    _ => ev.try_wait(),
                };
                if ok {
                    woken.fetch_add(1, SeqCst);
                } else {
                    timed_out.fetch_add(1, SeqCst);
                }
                if rng.below(4) == 0 {
                    thread::yield_now();
                }
            }
            ready.fetch_add(1, SeqCst);
            while !go.load(SeqCst) {
                thread::sleep(Duration::from_micros(200));
            }
            ev.wait_blocking();
            finished.fetch_add(1, SeqCst);
        }));
    }

    // Async participants: one body for every executor.
    let task = {
        let (ev, stop, ready, go, finished) = (
            ev.clone(),
            stop.clone(),
            ready.clone(),
            go.clone(),
            finished.clone(),
        );
        let (woken, timed_out, cancelled) = (woken.clone(), timed_out.clone(), cancelled.clone());
        let (queued, dropped_woken, budget) =
            (queued.clone(), dropped_woken.clone(), budget.clone());
        move |seed: u64, tokio_timer: bool| {
            let (ev, stop, ready, go, finished) = (
                ev.clone(),
                stop.clone(),
                ready.clone(),
                go.clone(),
                finished.clone(),
            );
            let (woken, timed_out, cancelled) =
                (woken.clone(), timed_out.clone(), cancelled.clone());
            let (queued, dropped_woken, budget) =
                (queued.clone(), dropped_woken.clone(), budget.clone());
            async move {
                let mut rng = Rng::new(seed);
                while !stop.load(SeqCst) {
                    budget.add(1);
                    match rng.below(6) {
                        0 => {
                            let mut wait = pin!(ev.wait());
                            if poll_once(wait.as_mut()).await.is_none() {
                                wait.await;
                                queued.fetch_add(1, SeqCst);
                            }
                            woken.fetch_add(1, SeqCst);
                        }
                        1 | 2 => {
                            let t = rng.timeout();
                            let ok = if tokio_timer {
                                tokio::time::timeout(t, ev.wait()).await.is_ok()
                            } else {
                                or(
                                    async {
                                        ev.wait().await;
                                        true
                                    },
                                    async {
                                        async_io::Timer::after(t).await;
                                        false
                                    },
                                )
                                .await
                            };
                            if ok {
                                woken.fetch_add(1, SeqCst);
                            } else {
                                timed_out.fetch_add(1, SeqCst);
                            }
                        }
                        3 => {
                            // Polled once, dropped while (probably) queued.
                            if poll_once(ev.wait()).await.is_some() {
                                woken.fetch_add(1, SeqCst);
                            } else {
                                cancelled.fetch_add(1, SeqCst);
                            }
                        }
                        4 => {
                            // Polled once, left alone a moment (a wake-up
                            // may land on it), then dropped unpolled.
                            let mut wait = pin!(ev.wait());
                            if poll_once(wait.as_mut()).await.is_some() {
                                woken.fetch_add(1, SeqCst);
                            } else {
                                for _ in 0..rng.below(4) {
                                    yield_now().await;
                                }
                                spin(rng.below(3000));
                                cancelled.fetch_add(1, SeqCst);
                                // Racy only towards undercounting.
                                if format!("{wait:?}").contains("queued: false") {
                                    dropped_woken.fetch_add(1, SeqCst);
                                }
                            }
                        }
                        _ => {
                            if ev.try_wait() {
                                woken.fetch_add(1, SeqCst);
                            }
                            yield_now().await;
                        }
                    }
                }
                ready.fetch_add(1, SeqCst);
                while !go.load(SeqCst) {
                    if tokio_timer {
                        tokio::time::sleep(Duration::from_micros(200)).await;
                    } else {
                        async_io::Timer::after(Duration::from_micros(200)).await;
                    }
                }
                ev.wait().await;
                finished.fetch_add(1, SeqCst);
            }
        }
    };

    {
        let seeds: Vec<u64> = (0..MT_TASKS).map(|_| next_seed()).collect();
        let task = task.clone();
        handles.push(thread::spawn(move || {
            tokio_mt().block_on(async move {
                let tasks: Vec<_> = seeds
                    .into_iter()
                    .map(|s| tokio::spawn(task(s, true)))
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            })
        }));
    }
    {
        let seeds: Vec<u64> = (0..CT_TASKS).map(|_| next_seed()).collect();
        let task = task.clone();
        handles.push(thread::spawn(move || {
            tokio_ct().block_on(async move {
                let tasks: Vec<_> = seeds
                    .into_iter()
                    .map(|s| tokio::spawn(task(s, true)))
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            })
        }));
    }
    {
        let seeds: Vec<u64> = (0..LITE_TASKS).map(|_| next_seed()).collect();
        let task = task.clone();
        handles.push(thread::spawn(move || {
            futures_lite::future::block_on(join_all(
                seeds.into_iter().map(|s| task(s, false)).collect(),
            ))
        }));
    }

    // Notifiers: pulse until every participant has left its loop (an
    // untimed wait in flight needs one more notification to end).
    let pulses = Arc::new(AtomicUsize::new(0));
    let notifier_handles: Vec<_> = notifiers
        .into_iter()
        .map(|world| {
            let (ev, ready, pulse, pulses) =
                (ev.clone(), ready.clone(), pulse.clone(), pulses.clone());
            let mut rng = Rng::new(next_seed());
            thread::spawn(move || {
                run_in(world, move || {
                    while ready.load(SeqCst) < PARTICIPANTS {
                        pulse(&ev, &mut rng);
                        pulses.fetch_add(1, SeqCst);
                        match rng.below(4) {
                            0 => thread::yield_now(),
                            1 => thread::sleep(Duration::from_micros(rng.below(300))),
                            _ => spin(rng.below(5000)),
                        }
                    }
                })
            })
        })
        .collect();

    let started = Instant::now();
    let seen = || {
        [&queued, &timed_out, &cancelled, &dropped_woken]
            .iter()
            .all(|n| n.load(SeqCst) > 0)
    };
    while budget.running_until(seen) {
        thread::sleep(Duration::from_millis(1));
    }
    stop.store(true, SeqCst);
    wait_until("every participant left its storm loop", || {
        ready.load(SeqCst) == PARTICIPANTS
    });
    for h in notifier_handles {
        h.join().expect("a notifier panicked");
    }
    eprintln!(
        "storm: {:?}, {} waits, {} pulses; waits woken {} (async untimed ones that queued \
         first: {}), timed out {}, cancelled {} (after a wake-up landed: {})",
        started.elapsed(),
        budget.ops(),
        pulses.load(SeqCst),
        woken.load(SeqCst),
        queued.load(SeqCst),
        timed_out.load(SeqCst),
        cancelled.load(SeqCst),
        dropped_woken.load(SeqCst),
    );
    assert!(pulses.load(SeqCst) > 0, "no notifier pulsed");
    assert!(woken.load(SeqCst) > 0, "no wait was woken");
    assert!(
        queued.load(SeqCst) > 0,
        "no untimed async wait queued and was woken"
    );
    assert!(timed_out.load(SeqCst) > 0, "no wait timed out");
    assert!(cancelled.load(SeqCst) > 0, "no future was dropped");
    assert!(
        dropped_woken.load(SeqCst) > 0,
        "no future was dropped after a wake-up landed on it (even {:?} past the end)",
        soak::GRACE
    );

    // The exact check: everyone queues, one notification wakes everyone.
    arm(&ev);
    go.store(true, SeqCst);
    wait_until("every participant queued for the final wake-up", || {
        ev.waiting() == PARTICIPANTS
    });
    assert_eq!(
        finished.load(SeqCst),
        0,
        "a final wait passed before the fire"
    );
    fire(&ev);
    let deadline = Instant::now() + Duration::from_secs(10);
    while finished.load(SeqCst) < PARTICIPANTS {
        assert!(
            Instant::now() < deadline,
            "lost wake-up: {} of {PARTICIPANTS} waiters still waiting after the final \
             notification ({:?})",
            PARTICIPANTS - finished.load(SeqCst),
            ev
        );
        thread::sleep(Duration::from_millis(1));
    }
    for h in handles {
        h.join().expect("a participant panicked");
    }
    assert_eq!(ev.waiting(), 0, "a node was left queued: {ev:?}");
}
