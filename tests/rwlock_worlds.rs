//! RwLock across worlds: OS threads, tokio tasks (multi-thread and
//! current-thread runtimes) and futures-lite tasks on one lock, and a
//! cancellation storm of random timeouts and dropped waits.
//!
//! Invariants, checked with one atomic word beside the lock (readers inside,
//! plus `WRITER_IN` per writer inside): never a writer with anyone else;
//! a reader sees no torn write; the writes counted equal the writes done;
//! afterwards the lock is free with nobody queued. A watchdog fails a hang.
//!
//! `POLYSYNC_STORM_SEED` reruns a storm with a given seed;
//! `POLYSYNC_STORM_MS` changes its length (default 1200).

#[path = "support/worlds.rs"]
mod worlds;

use futures_lite::future::{block_on, or, poll_once, zip};
use polysync::RwLock;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};
use worlds::{Watchdog, multi_thread_rt};

const WRITER_IN: u64 = 1 << 32;

/// The lock under test plus what the invariants need.
struct Shared {
    lock: Arc<RwLock<(u64, u64)>>,
    /// Readers inside plus `WRITER_IN` per writer inside.
    inside: AtomicU64,
    writes: AtomicU64,
    reads: AtomicU64,
    /// Waits given up (time-outs, dropped futures).
    gave_up: AtomicU64,
}

impl Shared {
    fn new() -> Arc<Shared> {
        Arc::new(Shared {
            lock: Arc::new(RwLock::new((0, 0))),
            inside: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            reads: AtomicU64::new(0),
            gave_up: AtomicU64::new(0),
        })
    }

    /// The body of a write: checks exclusion and writes both halves.
    fn wrote(&self, data: &mut (u64, u64)) {
        let before = self.inside.fetch_add(WRITER_IN, Ordering::SeqCst);
        assert_eq!(before, 0, "a writer entered beside {before:#x}");
        data.0 += 1;
        std::hint::spin_loop();
        data.1 += 1;
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.inside.fetch_sub(WRITER_IN, Ordering::SeqCst);
    }

    /// The body of a read: checks there is no writer and no torn write.
    fn read(&self, data: &(u64, u64)) {
        let before = self.inside.fetch_add(1, Ordering::SeqCst);
        assert!(before < WRITER_IN, "a reader entered beside a writer");
        assert_eq!(data.0, data.1, "a torn write");
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.inside.fetch_sub(1, Ordering::SeqCst);
    }

    fn check_end(&self) {
        assert!(
            !self.lock.is_locked(),
            "the lock ends held: {:?}",
            self.lock
        );
        assert_eq!(self.lock.waiting(), 0, "waiters left: {:?}", self.lock);
        let data = *self.lock.read_blocking();
        let writes = self.writes.load(Ordering::Relaxed);
        assert_eq!(data, (writes, writes), "writes lost or duplicated");
        assert_eq!(self.inside.load(Ordering::SeqCst), 0);
    }
}

/// xorshift64.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng((seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03) | 1)
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
    fn timeout(&mut self) -> Duration {
        match self.below(4) {
            0 => Duration::ZERO,
            1 => Duration::from_micros(self.below(50)),
            2 => Duration::from_micros(self.below(400)),
            _ => Duration::from_micros(400 + self.below(1600)),
        }
    }
}

fn seed() -> u64 {
    std::env::var("POLYSYNC_STORM_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}

fn storm_len() -> Duration {
    let ms = std::env::var("POLYSYNC_STORM_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1200);
    Duration::from_millis(ms)
}

// ------------------------------------------------------------ cross-world

const OPS: usize = 400;

async fn task_ops(s: Arc<Shared>, salt: usize) {
    for i in 0..OPS {
        if (i + salt) % 4 == 0 {
            let mut g = s.lock.write().await;
            s.wrote(&mut g);
        } else if (i + salt) % 4 == 1 {
            let g = s.lock.read_owned().await;
            s.read(&g);
        } else {
            let g = s.lock.read().await;
            s.read(&g);
        }
        if i % 16 == 0 {
            futures_lite::future::yield_now().await;
        }
    }
}

fn thread_ops(s: &Shared, salt: usize) {
    for i in 0..OPS {
        if (i + salt) % 3 == 0 {
            let mut g = s.lock.write_blocking();
            s.wrote(&mut g);
        } else {
            let g = s.lock.read_blocking();
            s.read(&g);
            if i % 32 == 0 {
                thread::sleep(Duration::from_micros(50));
            }
        }
    }
}

/// Threads, tokio tasks on a multi-thread runtime, a tokio current-thread
/// runtime and futures-lite tasks take reads and writes of one lock.
#[test]
fn threads_tokio_and_futures_lite_share_one_lock() {
    let _dog = Watchdog::new(
        "threads_tokio_and_futures_lite_share_one_lock",
        Duration::from_secs(60),
    );
    let s = Shared::new();
    let rt = multi_thread_rt();
    let tokio_tasks: Vec<_> = (0..2).map(|i| rt.spawn(task_ops(s.clone(), i))).collect();
    let mut others = Vec::new();
    for salt in 0..2 {
        let s = s.clone();
        others.push(thread::spawn(move || thread_ops(&s, salt)));
    }
    {
        let s = s.clone();
        others.push(thread::spawn(move || {
            block_on(zip(task_ops(s.clone(), 5), task_ops(s.clone(), 6)));
        }));
    }
    {
        let s = s.clone();
        others.push(thread::spawn(move || {
            let ct = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            ct.block_on(async {
                let a = tokio::spawn(task_ops(s.clone(), 7));
                task_ops(s.clone(), 8).await;
                a.await.unwrap();
            });
        }));
    }
    for t in others {
        t.join().unwrap();
    }
    rt.block_on(async {
        for t in tokio_tasks {
            t.await.unwrap();
        }
    });
    s.check_end();
    // Salts shift which ops write; count them exactly.
    let task_writes: u64 = [0, 1, 5, 6, 7, 8]
        .iter()
        .map(|salt| (0..OPS).filter(|i| (i + salt) % 4 == 0).count() as u64)
        .sum();
    let thread_writes: u64 = (0..2)
        .map(|salt| (0..OPS).filter(|i| (i + salt) % 3 == 0).count() as u64)
        .sum();
    assert_eq!(
        s.writes.load(Ordering::Relaxed),
        task_writes + thread_writes
    );
}

// ------------------------------------------------------------ storm

/// One async attempt, picked at random: plain awaits, owned awaits, `try_*`,
/// a tokio time-out (zero included), a race against an async-io timer, a
/// future polled once and dropped, a future polled once, left alone a
/// moment (a hand-off may land on it) and dropped unpolled.
async fn async_attempt(s: &Arc<Shared>, rng: &mut Rng, on_tokio: bool) {
    let write = rng.below(3) == 0;
    let owned = rng.below(4) == 0;
    macro_rules! run {
        ($fut:expr) => {{
            match rng.below(if on_tokio { 6 } else { 5 }) {
                0 | 1 => Some($fut.await),
                2 => {
                    let t = rng.timeout();
                    let timer = async move {
                        async_io::Timer::after(t).await;
                        None
                    };
                    let fut = $fut;
                    if rng.below(2) == 0 {
                        or(async { Some(fut.await) }, timer).await
                    } else {
                        or(timer, async { Some(fut.await) }).await
                    }
                }
                3 => {
                    let mut fut = pin!($fut);
                    poll_once(fut.as_mut()).await
                }
                4 => {
                    let mut fut = pin!($fut);
                    match poll_once(fut.as_mut()).await {
                        Some(g) => Some(g),
                        None => {
                            for _ in 0..rng.below(4) {
                                futures_lite::future::yield_now().await;
                            }
                            std::thread::sleep(Duration::from_micros(rng.below(30)));
                            None // dropped unpolled; a hand-off may be in it
                        }
                    }
                }
                _ => tokio::time::timeout(rng.timeout(), $fut).await.ok(),
            }
        }};
    }
    let done = match (write, owned) {
        (true, false) => run!(s.lock.write()).map(|mut g| s.wrote(&mut g)),
        (true, true) => run!(s.lock.write_owned()).map(|mut g| s.wrote(&mut g)),
        (false, false) => run!(s.lock.read()).map(|g| s.read(&g)),
        (false, true) => run!(s.lock.read_owned()).map(|g| s.read(&g)),
    };
    if done.is_none() {
        s.gave_up.fetch_add(1, Ordering::Relaxed);
    }
}

fn blocking_attempt(s: &Arc<Shared>, rng: &mut Rng) {
    let hold = rng.below(20);
    let done = match rng.below(6) {
        0 => {
            let g = s.lock.read_blocking();
            s.read(&g);
            Some(())
        }
        1 => {
            let mut g = s.lock.write_blocking();
            s.wrote(&mut g);
            Some(())
        }
        2 => s.lock.try_read_for(rng.timeout()).map(|g| {
            s.read(&g);
            std::thread::sleep(Duration::from_micros(hold));
        }),
        3 => s
            .lock
            .try_write_for(rng.timeout())
            .map(|mut g| s.wrote(&mut g)),
        4 => s
            .lock
            .try_write_owned_until(Instant::now() + rng.timeout())
            .map(|mut g| s.wrote(&mut g)),
        _ => s.lock.try_read().map(|g| s.read(&g)),
    };
    if done.is_none() {
        s.gave_up.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn cancellation_storm() {
    let _dog = Watchdog::new("rwlock cancellation_storm", Duration::from_secs(60));
    let base = seed();
    eprintln!("rwlock storm seed: {base} (POLYSYNC_STORM_SEED)");
    let s = Shared::new();
    let end = Instant::now() + storm_len();
    let rounds = Arc::new(AtomicUsize::new(0));
    let rt = multi_thread_rt();
    let tokio_tasks: Vec<_> = (0..3)
        .map(|i| {
            let (s, rounds) = (s.clone(), rounds.clone());
            rt.spawn(async move {
                let mut rng = Rng::new(base ^ (i + 1));
                while Instant::now() < end {
                    async_attempt(&s, &mut rng, true).await;
                    rounds.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let mut threads = Vec::new();
    for i in 0..2u64 {
        let (s, rounds) = (s.clone(), rounds.clone());
        threads.push(thread::spawn(move || {
            let mut rng = Rng::new(base ^ (100 + i));
            while Instant::now() < end {
                blocking_attempt(&s, &mut rng);
                rounds.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    {
        let (s, rounds) = (s.clone(), rounds.clone());
        threads.push(thread::spawn(move || {
            let one = |k: u64| {
                let (s, rounds) = (s.clone(), rounds.clone());
                async move {
                    let mut rng = Rng::new(base ^ (200 + k));
                    while Instant::now() < end {
                        async_attempt(&s, &mut rng, false).await;
                        rounds.fetch_add(1, Ordering::Relaxed);
                    }
                }
            };
            block_on(zip(one(0), one(1)));
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    rt.block_on(async {
        for t in tokio_tasks {
            t.await.unwrap();
        }
    });
    s.check_end();
    let (w, r, g) = (
        s.writes.load(Ordering::Relaxed),
        s.reads.load(Ordering::Relaxed),
        s.gave_up.load(Ordering::Relaxed),
    );
    eprintln!(
        "rwlock storm: {} rounds: {w} writes, {r} reads, {g} given up",
        rounds.load(Ordering::Relaxed)
    );
    assert!(
        w > 0 && r > 0 && g > 0,
        "the storm did not exercise every path"
    );
}
