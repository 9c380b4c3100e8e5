//! Random cancellation storms across worlds, bounded in time.
//!
//! Every storm runs the same primitive at once from
//! - tokio tasks on a multi-thread runtime (2 workers),
//! - tokio tasks on a current-thread runtime in its own thread,
//! - futures joined under `futures_lite::future::block_on` in a thread,
//! - two plain OS threads (blocking and timed blocking calls),
//!
//! and every async participant picks, at random, how to wait: `try_*`, an
//! untimed `.await`, `tokio::time::timeout` (zero included), a
//! `futures_lite::future::or` race against an `async_io::Timer` (in both
//! orders, so the timer sometimes wins while a hand-off is landing), a future
//! polled once and dropped while queued, and a future polled once, left alone
//! for a moment (a hand-off may land on it) and then dropped unpolled.
//!
//! Invariants, checked with atomics: never more holders than the primitive
//! allows; afterwards the primitive is back in its initial state with no
//! queued waiters; permits are conserved exactly; every participant finished
//! (a watchdog fails the test if anything is still running 60 s after start).
//!
//! Set `POLYSYNC_STORM_SEED` to rerun with a given seed (thread interleavings
//! still differ); `POLYSYNC_STORM_MS` changes the storm length (default 1200).
//! `POLYSYNC_SOAK=1` runs each storm to about 10^7 operations instead (see
//! tests/support/soak.rs).

#[path = "support/soak.rs"]
mod soak;

use futures_lite::future::{or, poll_once, yield_now, zip};
use polysync::{Event, Lock, LockGuard, Mutex, MutexGuard, Permit, Semaphore};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The watchdog: everything must have finished this long after a test starts.
fn watchdog() -> Duration {
    soak::watchdog(Duration::from_secs(60))
}

/// Cap on the rounds of one participant (the deadline usually ends it first).
fn round_cap() -> usize {
    soak::iterations(200_000, usize::MAX)
}

/// Worlds, for per-world counters.
const TOKIO_MT: usize = 0;
const TOKIO_CT: usize = 1;
const FUTURES_LITE: usize = 2;
const THREAD: usize = 3;
const WORLDS: usize = 4;
const WORLD_NAMES: [&str; WORLDS] = ["tokio-mt", "tokio-ct", "futures-lite", "thread"];

fn storm_len() -> Duration {
    let ms = std::env::var("POLYSYNC_STORM_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1200);
    Duration::from_millis(ms)
}

fn base_seed() -> u64 {
    std::env::var("POLYSYNC_STORM_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}

/// xorshift64: small, fast, good enough to pick actions.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
        if x == 0 {
            x = 1;
        }
        Rng(x)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A short timeout: zero a quarter of the time, mostly well under 1 ms.
    fn timeout(&mut self) -> Duration {
        match self.below(8) {
            0 | 1 => Duration::ZERO,
            2 | 3 => Duration::from_micros(self.below(50)),
            4 | 5 => Duration::from_micros(self.below(300)),
            _ => Duration::from_micros(300 + self.below(1700)),
        }
    }
}

fn spin(n: u64) {
    for _ in 0..n {
        std::hint::spin_loop();
    }
}

/// Lets time pass in an async participant without polling anything else of
/// its own (a hand-off can land on a future that sits queued meanwhile).
async fn pause(rng: &mut Rng) {
    match rng.below(4) {
        0 => yield_now().await,
        1 => {
            for _ in 0..rng.below(8) {
                yield_now().await;
            }
        }
        2 => {
            async_io::Timer::after(Duration::from_micros(rng.below(200))).await;
        }
        _ => spin(rng.below(2000)),
    }
}

/// What a storm needs from a primitive: its five ways to wait, and how a
/// holder gives it back.
trait Resource: Send + Sync + std::fmt::Debug + 'static {
    type Guard<'a>: Send
    where
        Self: 'a;
    /// The future's `Debug` shows `queued: true` while its node is queued.
    fn acq(&self) -> impl Future<Output = Self::Guard<'_>> + Send + std::fmt::Debug;
    fn acq_blocking(&self) -> Self::Guard<'_>;
    fn try_acq(&self) -> Option<Self::Guard<'_>>;
    fn try_acq_for(&self, timeout: Duration) -> Option<Self::Guard<'_>>;
    fn try_acq_until(&self, deadline: Instant) -> Option<Self::Guard<'_>>;
    /// Work that needs exclusive access (the Mutex's unprotected counter).
    fn touch(&self, _guard: &mut Self::Guard<'_>) {}
    /// Gives the resource back (drop, or forget and release, or keep).
    fn leave(&self, guard: Self::Guard<'_>, rng: &mut Rng);
}

impl Resource for Lock {
    type Guard<'a> = LockGuard<'a>;
    fn acq(&self) -> impl Future<Output = LockGuard<'_>> + Send + std::fmt::Debug {
        self.acquire()
    }
    fn acq_blocking(&self) -> LockGuard<'_> {
        self.acquire_blocking()
    }
    fn try_acq(&self) -> Option<LockGuard<'_>> {
        self.try_acquire()
    }
    fn try_acq_for(&self, timeout: Duration) -> Option<LockGuard<'_>> {
        self.try_acquire_for(timeout)
    }
    fn try_acq_until(&self, deadline: Instant) -> Option<LockGuard<'_>> {
        self.try_acquire_until(deadline)
    }
    fn leave(&self, guard: LockGuard<'_>, _: &mut Rng) {
        drop(guard);
    }
}

/// A `Mutex<u64>` whose holders increment the value non-atomically (read,
/// spin, write): two holders at once would lose increments.
impl Resource for Mutex<u64> {
    type Guard<'a> = MutexGuard<'a, u64>;
    fn acq(&self) -> impl Future<Output = MutexGuard<'_, u64>> + Send + std::fmt::Debug {
        self.lock()
    }
    fn acq_blocking(&self) -> MutexGuard<'_, u64> {
        self.lock_blocking()
    }
    fn try_acq(&self) -> Option<MutexGuard<'_, u64>> {
        self.try_lock()
    }
    fn try_acq_for(&self, timeout: Duration) -> Option<MutexGuard<'_, u64>> {
        self.try_lock_for(timeout)
    }
    fn try_acq_until(&self, deadline: Instant) -> Option<MutexGuard<'_, u64>> {
        self.try_lock_until(deadline)
    }
    fn touch(&self, guard: &mut MutexGuard<'_, u64>) {
        let v = std::hint::black_box(**guard);
        spin(v % 64);
        **guard = v + 1;
    }
    fn leave(&self, guard: MutexGuard<'_, u64>, _: &mut Rng) {
        drop(guard);
    }
}

/// How a semaphore holder gives its permit back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Give {
    /// Drop the permit.
    Drop,
    /// Half the time `forget()` the permit and `release(1)` (net zero).
    ForgetAndRelease,
    /// `forget()` the permit: it is consumed.
    Keep,
}

/// A semaphore's `Acquire`, unwrapped (the storm never closes its
/// semaphore); its `Debug` is the inner future's, which the storm reads.
struct NeverClosed<F>(F);

impl<F: Future<Output = Result<T, polysync::AcquireError>>, T> Future for NeverClosed<F> {
    type Output = T;
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<T> {
        // SAFETY: the inner future is structurally pinned: it is never
        // moved out of the wrapper.
        let inner = unsafe { self.map_unchecked_mut(|this| &mut this.0) };
        inner
            .poll(cx)
            .map(|r| r.expect("the storm never closes its semaphore"))
    }
}

impl<F: std::fmt::Debug> std::fmt::Debug for NeverClosed<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug)]
struct Sem {
    sem: Semaphore,
    give: Give,
}

impl Resource for Sem {
    type Guard<'a> = Permit<'a, Semaphore>;
    fn acq(&self) -> impl Future<Output = Permit<'_, Semaphore>> + Send + std::fmt::Debug {
        NeverClosed(self.sem.acquire())
    }
    fn acq_blocking(&self) -> Permit<'_, Semaphore> {
        self.sem
            .acquire_blocking()
            .expect("the storm never closes its semaphore")
    }
    fn try_acq(&self) -> Option<Permit<'_, Semaphore>> {
        self.sem.try_acquire()
    }
    fn try_acq_for(&self, timeout: Duration) -> Option<Permit<'_, Semaphore>> {
        self.sem.try_acquire_for(timeout)
    }
    fn try_acq_until(&self, deadline: Instant) -> Option<Permit<'_, Semaphore>> {
        self.sem.try_acquire_until(deadline)
    }
    fn leave(&self, permit: Permit<'_, Semaphore>, rng: &mut Rng) {
        match self.give {
            Give::Drop => drop(permit),
            Give::ForgetAndRelease if rng.chance(50) => {
                permit.forget();
                self.sem.release(1);
            }
            Give::ForgetAndRelease => drop(permit),
            Give::Keep => permit.forget(),
        }
    }
}

/// The shared state of one storm.
struct Storm<R> {
    name: &'static str,
    res: R,
    /// At most this many holders at once.
    cap: usize,
    /// Whether waits without a timeout are allowed (not when permits can
    /// run out for good).
    untimed: bool,
    budget: soak::Budget,
    inside: AtomicUsize,
    max_inside: AtomicUsize,
    acquired: AtomicU64,
    gave_up: AtomicU64,
    /// Futures that were dropped after a hand-off had landed on them (their
    /// `Drop` must pass the resource on).
    abandoned_handoffs: AtomicU64,
    by_world: [AtomicU64; WORLDS],
}

impl<R: Resource> Storm<R> {
    fn new(name: &'static str, res: R, cap: usize, untimed: bool) -> Arc<Self> {
        Arc::new(Storm {
            name,
            res,
            cap,
            untimed,
            budget: soak::Budget::new(storm_len()),
            inside: AtomicUsize::new(0),
            max_inside: AtomicUsize::new(0),
            acquired: AtomicU64::new(0),
            gave_up: AtomicU64::new(0),
            abandoned_handoffs: AtomicU64::new(0),
            by_world: Default::default(),
        })
    }

    /// Until the storm's time (or soak count) is up and a hand-off has been
    /// seen landing on a future that was then dropped (bounded).
    fn running(&self) -> bool {
        self.budget
            .running_until(|| self.abandoned_handoffs.load(Ordering::Relaxed) > 0)
    }

    fn enter(&self, world: usize) {
        let before = self.inside.fetch_add(1, Ordering::AcqRel);
        assert!(
            before < self.cap,
            "{}: {} holders at once, at most {} allowed ({:?})",
            self.name,
            before + 1,
            self.cap,
            self.res
        );
        self.max_inside.fetch_max(before + 1, Ordering::Relaxed);
        self.acquired.fetch_add(1, Ordering::Relaxed);
        self.by_world[world].fetch_add(1, Ordering::Relaxed);
    }

    fn exit(&self) {
        self.inside.fetch_sub(1, Ordering::AcqRel);
    }

    /// One async attempt, chosen at random. `tokio_timer`: a tokio runtime
    /// with timers is current, so `tokio::time::timeout` works.
    async fn attempt<'a>(&'a self, rng: &mut Rng, tokio_timer: bool) -> Option<R::Guard<'a>> {
        let res = &self.res;
        match rng.below(12) {
            0 => res.try_acq(),
            1 | 2 if self.untimed => Some(res.acq().await),
            1..=3 if tokio_timer => tokio::time::timeout(rng.timeout(), res.acq()).await.ok(),
            1..=4 => {
                let t = rng.timeout();
                or(async { Some(res.acq().await) }, async {
                    async_io::Timer::after(t).await;
                    None
                })
                .await
            }
            5 | 6 => {
                // The timer is polled first: when both are ready the timer
                // wins, and a permit handed to the loser must be passed on.
                let t = rng.timeout();
                or(
                    async {
                        async_io::Timer::after(t).await;
                        None
                    },
                    async { Some(res.acq().await) },
                )
                .await
            }
            7 | 8 => {
                // Polled once, then dropped while queued.
                let mut fut = pin!(res.acq());
                poll_once(fut.as_mut()).await
            }
            9 | 10 => {
                // Polled once, left queued for a moment (a hand-off may land
                // on it), then dropped without another poll.
                let mut fut = pin!(res.acq());
                match poll_once(fut.as_mut()).await {
                    Some(guard) => Some(guard),
                    None => {
                        pause(rng).await;
                        self.note_abandoned(&fut);
                        None
                    }
                }
            }
            _ => {
                // Polled a few times with other work in between, then dropped
                // unless it completed.
                let mut fut = pin!(res.acq());
                for _ in 0..1 + rng.below(4) {
                    if let Some(guard) = poll_once(fut.as_mut()).await {
                        return Some(guard);
                    }
                    pause(rng).await;
                }
                self.note_abandoned(&fut);
                None
            }
        }
    }

    /// Counts a queued future about to be dropped if a hand-off already
    /// landed on it (its node is no longer queued). Racy only towards
    /// undercounting: a hand-off can still land after the check.
    fn note_abandoned(&self, fut: &impl std::fmt::Debug) {
        let state = format!("{fut:?}");
        assert!(
            state.contains("queued: "),
            "unexpected Debug output: {state}"
        );
        if state.contains("queued: false") {
            self.abandoned_handoffs.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// One blocking attempt, chosen at random.
    fn attempt_blocking(&self, rng: &mut Rng) -> Option<R::Guard<'_>> {
        let res = &self.res;
        match rng.below(8) {
            0 => res.try_acq(),
            1 | 2 if self.untimed => Some(res.acq_blocking()),
            1..=5 => res.try_acq_for(rng.timeout()),
            _ => res.try_acq_until(Instant::now() + rng.timeout()),
        }
    }

    /// Counts an attempt that gave up (timed out, dropped, `try_*` failed).
    fn record_attempt(&self, acquired: bool) {
        self.budget.add(1);
        if !acquired {
            self.gave_up.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn async_participant<R: Resource>(
    storm: Arc<Storm<R>>,
    world: usize,
    seed: u64,
    tokio_timer: bool,
) {
    let st = &*storm;
    let mut rng = Rng::new(seed);
    for _ in 0..round_cap() {
        if !st.running() {
            break;
        }
        let got = st.attempt(&mut rng, tokio_timer).await;
        st.record_attempt(got.is_some());
        if let Some(mut guard) = got {
            st.enter(world);
            st.res.touch(&mut guard);
            match rng.below(4) {
                // Hold across a suspension point.
                0 => yield_now().await,
                1 => spin(rng.below(300)),
                _ => {}
            }
            st.exit();
            st.res.leave(guard, &mut rng);
        }
        if rng.chance(10) {
            yield_now().await;
        }
    }
}

fn blocking_participant<R: Resource>(storm: Arc<Storm<R>>, seed: u64) {
    let st = &*storm;
    let mut rng = Rng::new(seed);
    for _ in 0..round_cap() {
        if !st.running() {
            break;
        }
        let got = st.attempt_blocking(&mut rng);
        st.record_attempt(got.is_some());
        if let Some(mut guard) = got {
            st.enter(THREAD);
            st.res.touch(&mut guard);
            match rng.below(6) {
                0 => std::thread::yield_now(),
                1 => spin(rng.below(300)),
                2 if rng.chance(20) => std::thread::sleep(Duration::from_micros(rng.below(100))),
                _ => {}
            }
            st.exit();
            st.res.leave(guard, &mut rng);
        }
    }
}

/// Awaits a tokio task, re-raising its panic with the original payload.
async fn join_task(handle: tokio::task::JoinHandle<()>) {
    if let Err(e) = handle.await {
        match e.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(e) => panic!("a storm task failed: {e}"),
        }
    }
}

type Participants = Vec<(String, JoinHandle<()>)>;

fn spawn(participants: &mut Participants, name: String, f: impl FnOnce() + Send + 'static) {
    let handle = std::thread::Builder::new()
        .name(name.clone())
        .spawn(f)
        .expect("spawn a storm thread");
    participants.push((name, handle));
}

/// Starts the four worlds on `storm`: `mt` tokio multi-thread tasks, `ct`
/// tokio current-thread tasks, four futures-lite futures, two OS threads.
fn start_worlds<R: Resource>(
    storm: &Arc<Storm<R>>,
    seed: u64,
    mt: u64,
    ct: u64,
    participants: &mut Participants,
) {
    let st = storm.clone();
    spawn(participants, "tokio-mt".into(), move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .expect("tokio multi-thread runtime");
        rt.block_on(async {
            let tasks: Vec<_> = (0..mt)
                .map(|i| tokio::spawn(async_participant(st.clone(), TOKIO_MT, seed + i, true)))
                .collect();
            for task in tasks {
                join_task(task).await;
            }
        });
    });
    let st = storm.clone();
    spawn(participants, "tokio-ct".into(), move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("tokio current-thread runtime");
        rt.block_on(async {
            let tasks: Vec<_> = (0..ct)
                .map(|i| {
                    tokio::spawn(async_participant(
                        st.clone(),
                        TOKIO_CT,
                        seed + 1000 + i,
                        true,
                    ))
                })
                .collect();
            for task in tasks {
                join_task(task).await;
            }
        });
    });
    let st = storm.clone();
    spawn(participants, "futures-lite".into(), move || {
        let one = |i: u64| async_participant(st.clone(), FUTURES_LITE, seed + 2000 + i, false);
        futures_lite::future::block_on(zip(zip(one(0), one(1)), zip(one(2), one(3))));
    });
    for i in 0..2 {
        let st = storm.clone();
        spawn(participants, format!("thread-{i}"), move || {
            blocking_participant(st, seed + 3000 + i);
        });
    }
}

/// Waits for every participant; fails the test if one is still running when
/// the watchdog expires, and re-raises a participant's panic.
fn join_all(name: &str, started: Instant, participants: Participants, state: impl Fn() -> String) {
    loop {
        if participants.iter().all(|(_, h)| h.is_finished()) {
            break;
        }
        if started.elapsed() > watchdog() {
            let hung: Vec<&str> = participants
                .iter()
                .filter(|(_, h)| !h.is_finished())
                .map(|(n, _)| n.as_str())
                .collect();
            panic!(
                "{name}: watchdog: {hung:?} still running {:?} after the start \
                 (a waiter hangs); state: {}",
                watchdog(),
                state()
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    for (who, handle) in participants {
        if let Err(payload) = handle.join() {
            eprintln!("{name}: participant {who} panicked");
            std::panic::resume_unwind(payload);
        }
    }
}

/// Runs a storm on `res` in all four worlds (plus `extra` threads) and
/// returns it after everyone finished.
fn run_storm<R: Resource>(
    name: &'static str,
    res: R,
    cap: usize,
    untimed: bool,
    extra: impl FnOnce(&Arc<Storm<R>>, u64, &mut Participants),
) -> Arc<Storm<R>> {
    let started = Instant::now();
    let seed = base_seed();
    let storm = Storm::new(name, res, cap, untimed);
    let mut participants = Vec::new();
    start_worlds(&storm, seed, 8, 6, &mut participants);
    extra(&storm, seed, &mut participants);
    let st = storm.clone();
    join_all(name, started, participants, move || format!("{:?}", st.res));
    let by_world: Vec<String> = WORLD_NAMES
        .iter()
        .zip(&storm.by_world)
        .map(|(n, c)| format!("{n}={}", c.load(Ordering::Relaxed)))
        .collect();
    eprintln!(
        "{name}: seed {seed}, {:?}, {} operations: acquired {} ({}), gave up {} (of which {} \
         after a hand-off had landed), max holders {}; {:?}",
        started.elapsed(),
        storm.budget.ops(),
        storm.acquired.load(Ordering::Relaxed),
        by_world.join(" "),
        storm.gave_up.load(Ordering::Relaxed),
        storm.abandoned_handoffs.load(Ordering::Relaxed),
        storm.max_inside.load(Ordering::Relaxed),
        storm.res,
    );
    // The storm was real: every world got through and waits were abandoned.
    for (world, count) in storm.by_world.iter().enumerate() {
        assert!(
            count.load(Ordering::Relaxed) > 0,
            "{name}: the {} world never acquired",
            WORLD_NAMES[world]
        );
    }
    assert!(
        storm.gave_up.load(Ordering::Relaxed) > 0,
        "{name}: nothing was cancelled"
    );
    assert!(
        storm.abandoned_handoffs.load(Ordering::Relaxed) > 0,
        "{name}: no future was dropped after a hand-off landed on it"
    );
    assert_eq!(storm.inside.load(Ordering::Relaxed), 0);
    storm
}

#[test]
fn lock_storm() {
    // Strict hand-off: the storm checks that a hand-off landed on a dropped
    // future (bounded fairness hands off only past its bound; its storm is
    // tests/lock_bounded.rs).
    let storm = run_storm("lock", Lock::new_fair(), 1, true, |_, _, _| {});
    let lock = &storm.res;
    assert_eq!(
        lock.waiting(),
        0,
        "lock: waiters left in the queue: {lock:?}"
    );
    assert!(
        !lock.is_locked(),
        "lock: still locked after the storm: {lock:?}"
    );
    assert!(lock.try_acquire().is_some());
    assert!(!lock.is_locked());
    assert_eq!(storm.max_inside.load(Ordering::Relaxed), 1);
}

#[test]
fn mutex_storm() {
    // Strict hand-off, as in `lock_storm`.
    let storm = run_storm("mutex", Mutex::new_fair(0u64), 1, true, |_, _, _| {});
    let mutex = &storm.res;
    assert_eq!(mutex.waiting(), 0, "mutex: waiters left: {mutex:?}");
    assert!(!mutex.is_locked(), "mutex: still locked: {mutex:?}");
    let value = *mutex.try_lock().expect("the mutex is free");
    assert_eq!(
        value,
        storm.acquired.load(Ordering::Relaxed),
        "mutex: lost increments, so two holders overlapped"
    );
}

fn semaphore_storm(name: &'static str, k: usize, give: Give) {
    let sem = Sem {
        sem: Semaphore::new(k),
        give,
    };
    let storm = run_storm(name, sem, k, true, |_, _, _| {});
    let sem = &storm.res.sem;
    assert_eq!(sem.waiting(), 0, "{name}: waiters left: {sem:?}");
    assert_eq!(
        sem.value(),
        k,
        "{name}: permits lost or duplicated: {sem:?}"
    );
    let permits: Vec<_> = (0..k).map(|_| sem.try_acquire().expect("free")).collect();
    assert!(sem.try_acquire().is_none());
    drop(permits);
    assert_eq!(sem.value(), k);
    assert_eq!(
        storm.max_inside.load(Ordering::Relaxed),
        k,
        "{name}: the storm never filled the semaphore"
    );
}

#[test]
fn semaphore_1_storm() {
    semaphore_storm("semaphore(1)", 1, Give::Drop);
}

#[test]
fn semaphore_3_storm() {
    semaphore_storm("semaphore(3)", 3, Give::Drop);
}

#[test]
fn semaphore_forget_and_release_storm() {
    semaphore_storm("semaphore(2) forget+release", 2, Give::ForgetAndRelease);
}

#[test]
fn semaphore_0_releaser_storm() {
    // Acquirers forget what they take and give up at random (all their waits
    // are timed: permits may run out); one thread releases permits in small
    // batches. No permit may be lost or duplicated, including those handed to
    // a waiter that was cancelled at that very moment.
    let released = Arc::new(AtomicU64::new(0));
    let rel = released.clone();
    let sem = Sem {
        sem: Semaphore::new(0),
        give: Give::Keep,
    };
    let storm = run_storm(
        "semaphore(0)+releaser",
        sem,
        usize::MAX,
        false,
        move |storm, seed, participants| {
            let st = storm.clone();
            spawn(participants, "releaser".into(), move || {
                let mut rng = Rng::new(seed + 4000);
                while st.running() {
                    let n = 1 + rng.below(3);
                    st.res.sem.release(n as usize);
                    rel.fetch_add(n, Ordering::Relaxed);
                    match rng.below(4) {
                        0 => std::thread::sleep(Duration::from_micros(rng.below(300))),
                        1 => std::thread::yield_now(),
                        _ => spin(rng.below(2000)),
                    }
                }
            });
        },
    );
    let sem = &storm.res.sem;
    let released = released.load(Ordering::Relaxed);
    let acquired = storm.acquired.load(Ordering::Relaxed);
    assert_eq!(sem.waiting(), 0, "semaphore(0): waiters left: {sem:?}");
    assert_eq!(
        sem.value() as u64 + acquired,
        released,
        "semaphore(0): {released} released, {acquired} acquired, {} free: permits {}",
        sem.value(),
        if sem.value() as u64 + acquired < released {
            "lost"
        } else {
            "duplicated"
        }
    );
    eprintln!(
        "semaphore(0)+releaser: released {released}, acquired {acquired}, left {}",
        sem.value()
    );
}

/// The event storm's shared state: a row of one-shot events that one setter
/// sets in order, while waiters of every world wait on the current one or
/// one of the next two.
struct EventStorm {
    events: Vec<Event>,
    /// How many events are set (the setter's progress).
    set: AtomicUsize,
    budget: soak::Budget,
    returned: AtomicU64,
    timed_out: AtomicU64,
    dropped: AtomicU64,
    by_world: [AtomicU64; WORLDS],
}

/// How many events the setter sets (fewer if the storm's time runs out).
fn event_rounds() -> usize {
    soak::iterations(5000, 1_000_000)
}

impl EventStorm {
    fn running(&self) -> bool {
        self.budget.running() && self.set.load(Ordering::Relaxed) < self.events.len()
    }

    fn pick(&self, rng: &mut Rng) -> &Event {
        let next = self.set.load(Ordering::Relaxed) + rng.below(3) as usize;
        &self.events[next.min(self.events.len() - 1)]
    }

    fn returned(&self, event: &Event, world: usize) {
        assert!(
            event.is_set(),
            "event: a wait returned but the event is not set"
        );
        self.returned.fetch_add(1, Ordering::Relaxed);
        self.by_world[world].fetch_add(1, Ordering::Relaxed);
    }

    async fn attempt(&self, rng: &mut Rng, world: usize, tokio_timer: bool) {
        self.budget.add(1);
        let event = self.pick(rng);
        match rng.below(10) {
            0 => {
                if event.try_wait() {
                    self.returned(event, world);
                }
            }
            1 | 2 => {
                event.wait().await;
                self.returned(event, world);
            }
            3 | 4 if tokio_timer => match tokio::time::timeout(rng.timeout(), event.wait()).await {
                Ok(()) => self.returned(event, world),
                Err(_) => {
                    self.timed_out.fetch_add(1, Ordering::Relaxed);
                }
            },
            3..=5 => {
                let t = rng.timeout();
                let won = or(
                    async {
                        async_io::Timer::after(t).await;
                        false
                    },
                    async {
                        event.wait().await;
                        true
                    },
                )
                .await;
                if won {
                    self.returned(event, world);
                } else {
                    self.timed_out.fetch_add(1, Ordering::Relaxed);
                }
            }
            6 | 7 => {
                let mut fut = pin!(event.wait());
                if poll_once(fut.as_mut()).await.is_some() {
                    self.returned(event, world);
                } else {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            _ => {
                // Polled once, left queued (the event may be set meanwhile),
                // then dropped unpolled.
                let mut fut = pin!(event.wait());
                if poll_once(fut.as_mut()).await.is_some() {
                    self.returned(event, world);
                } else {
                    pause(rng).await;
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    fn attempt_blocking(&self, rng: &mut Rng) {
        self.budget.add(1);
        let event = self.pick(rng);
        let ok = match rng.below(6) {
            0 => event.try_wait(),
            1 | 2 => {
                event.wait_blocking();
                true
            }
            3 | 4 => event.try_wait_for(rng.timeout()),
            _ => event.try_wait_until(Instant::now() + rng.timeout()),
        };
        if ok {
            self.returned(event, THREAD);
        } else {
            self.timed_out.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn event_waiter(st: Arc<EventStorm>, world: usize, seed: u64, tokio_timer: bool) {
    let mut rng = Rng::new(seed);
    for _ in 0..round_cap() {
        if !st.running() {
            break;
        }
        st.attempt(&mut rng, world, tokio_timer).await;
        if rng.chance(20) {
            yield_now().await;
        }
    }
}

#[test]
fn event_storm() {
    let started = Instant::now();
    let seed = base_seed();
    let storm = Arc::new(EventStorm {
        events: (0..event_rounds()).map(|_| Event::new()).collect(),
        set: AtomicUsize::new(0),
        budget: soak::Budget::new(storm_len()),
        returned: AtomicU64::new(0),
        timed_out: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
        by_world: Default::default(),
    });
    let mut participants = Vec::new();
    // Many waiters, so that one `set` often wakes more than one batch.
    let st = storm.clone();
    spawn(&mut participants, "tokio-mt".into(), move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let tasks: Vec<_> = (0..32)
                .map(|i| tokio::spawn(event_waiter(st.clone(), TOKIO_MT, seed + i, true)))
                .collect();
            for task in tasks {
                join_task(task).await;
            }
        });
    });
    let st = storm.clone();
    spawn(&mut participants, "tokio-ct".into(), move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let tasks: Vec<_> = (0..16)
                .map(|i| tokio::spawn(event_waiter(st.clone(), TOKIO_CT, seed + 1000 + i, true)))
                .collect();
            for task in tasks {
                join_task(task).await;
            }
        });
    });
    let st = storm.clone();
    spawn(&mut participants, "futures-lite".into(), move || {
        let one = |i: u64| event_waiter(st.clone(), FUTURES_LITE, seed + 2000 + i, false);
        futures_lite::future::block_on(zip(zip(one(0), one(1)), zip(one(2), one(3))));
    });
    for i in 0..3 {
        let st = storm.clone();
        spawn(&mut participants, format!("thread-{i}"), move || {
            let mut rng = Rng::new(seed + 3000 + i);
            for _ in 0..round_cap() {
                if !st.running() {
                    break;
                }
                st.attempt_blocking(&mut rng);
            }
        });
    }
    let st = storm.clone();
    spawn(&mut participants, "setter".into(), move || {
        let mut rng = Rng::new(seed + 4000);
        for (i, event) in st.events.iter().enumerate() {
            // Paced until the deadline, then the rest at once, so that every
            // untimed waiter is released.
            if st.budget.running() {
                match rng.below(4) {
                    0 => std::thread::sleep(Duration::from_micros(rng.below(1500))),
                    1 => std::thread::yield_now(),
                    _ => spin(rng.below(5000)),
                }
            }
            assert!(event.set(), "event {i} was set twice");
            st.set.store(i + 1, Ordering::Relaxed);
        }
    });
    let st = storm.clone();
    join_all("event", started, participants, move || {
        let queued: usize = st.events.iter().map(Event::waiting).sum();
        format!(
            "{} of {} events set, {queued} waiters queued",
            st.set.load(Ordering::Relaxed),
            st.events.len()
        )
    });
    let by_world: Vec<String> = WORLD_NAMES
        .iter()
        .zip(&storm.by_world)
        .map(|(n, c)| format!("{n}={}", c.load(Ordering::Relaxed)))
        .collect();
    eprintln!(
        "event: seed {seed}, {:?}, {} operations, {} events set: returned {} ({}), timed \
         out {}, dropped {}",
        started.elapsed(),
        storm.budget.ops(),
        storm.set.load(Ordering::Relaxed),
        storm.returned.load(Ordering::Relaxed),
        by_world.join(" "),
        storm.timed_out.load(Ordering::Relaxed),
        storm.dropped.load(Ordering::Relaxed),
    );
    for (i, event) in storm.events.iter().enumerate() {
        assert!(event.is_set(), "event {i} not set");
        assert_eq!(event.waiting(), 0, "event {i}: waiters left: {event:?}");
    }
    futures_lite::future::block_on(storm.events[storm.events.len() - 1].wait());
    for (world, count) in storm.by_world.iter().enumerate() {
        assert!(
            count.load(Ordering::Relaxed) > 0,
            "event: no wait returned in the {} world",
            WORLD_NAMES[world]
        );
    }
    assert!(storm.timed_out.load(Ordering::Relaxed) > 0);
    assert!(storm.dropped.load(Ordering::Relaxed) > 0);
}

#[test]
fn event_wait_that_returned_sees_the_event_set() {
    // The event storm's `returned()` check, isolated: once `wait()` has
    // returned, `is_set()` (and `try_wait()`) must be true. Sixteen futures
    // are queued; a second thread watches the first one's node through its
    // `Debug` output (which reads the node state without the queue lock) and
    // polls it the moment it shows "notified", while `set()` may still be
    // notifying the rest of its batch.
    use std::task::{Context, Poll, Waker};
    let started = Instant::now();
    let mut rounds = 0;
    let mut early = 0;
    while rounds < 1_000_000 && started.elapsed() < storm_len() {
        rounds += 1;
        let event = Event::new();
        let mut cx = Context::from_waker(Waker::noop());
        let mut futs: Vec<_> = (0..16).map(|_| Box::pin(event.wait())).collect();
        for fut in &mut futs {
            assert!(fut.as_mut().poll(&mut cx).is_pending());
        }
        let watching = std::sync::atomic::AtomicBool::new(false);
        let saw_unset = std::thread::scope(|s| {
            let (first, event, watching) = (&mut futs[0], &event, &watching);
            let watcher = s.spawn(move || {
                let mut cx = Context::from_waker(Waker::noop());
                watching.store(true, Ordering::Release);
                loop {
                    // Without the "notified" marker (a different Debug
                    // format), fall back to polling once the event is set.
                    if format!("{first:?}").contains("notified") || event.is_set() {
                        if let Poll::Ready(()) = first.as_mut().poll(&mut cx) {
                            return !event.is_set() || !event.try_wait();
                        }
                    }
                }
            });
            while !watching.load(Ordering::Acquire) {
                std::hint::spin_loop();
            }
            assert!(event.set());
            watcher.join().expect("the watcher panicked")
        });
        early += usize::from(saw_unset);
        assert_eq!(event.waiting(), 0);
    }
    assert_eq!(
        early, 0,
        "Event: in {early} of {rounds} rounds a `wait()` future returned Ready while \
         `is_set()` was still false (the node is marked notified before `set()` publishes \
         the SET bit)"
    );
}
