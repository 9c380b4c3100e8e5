//! Scale (issue 10, part 5), on 2 may workers:
//!
//! - 10,000 may coroutines contend on one `polysync::Lock` together with 2
//!   OS threads and 2 tokio tasks: all finish, the count is exact, and a
//!   ticker coroutine keeps running on a worker during the contention.
//! - may coroutines and tokio tasks exchange items through one bounded
//!   `polysync::Queue`, under a cancellation storm on both sides (tokio:
//!   timed-out puts and gets; may: `try_put_for` / `try_get_for` timeouts
//!   and `Coroutine::cancel` of waiting producers and consumers): every item
//!   arrives exactly once.
//!
//! Sizes: the exchange moves 1,000,000 items in a normal run (a few seconds
//! in debug) and 10,000,000 with `POLYSYNC_SOAK=1` (the project's soak
//! switch, see `support/soak.rs`); run that in release:
//!
//! ```text
//! POLYSYNC_SOAK=1 cargo test --release -p polysync-may --test scale -- --nocapture
//! ```

mod support;

#[path = "support/soak.rs"]
mod soak;

use polysync::queue::{GetError, TryGetError, TryPutError};
use polysync::{Lock, Queue};
use polysync_may::MayWaiter;
use std::pin::pin;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{Ticker, eventually, go, setup, tokio_rt, watchdog_for};

const WORKERS: usize = 2;

/// A small xorshift generator: the storms need variety, not quality.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn ten_thousand_coroutines_threads_and_tasks_on_one_lock() {
    setup(WORKERS);
    let _dog = watchdog_for(
        "ten_thousand_coroutines",
        soak::watchdog(Duration::from_secs(120)),
    );
    const COROUTINES: usize = 10_000;
    const PER_COROUTINE: u64 = 2;
    let lock = Arc::new(Lock::new());
    let count = Arc::new(AtomicU64::new(0)); // bumped non-atomically under the lock
    let done = Arc::new(AtomicUsize::new(0));
    let bump = {
        let count = count.clone();
        move || {
            let v = count.load(Ordering::Relaxed);
            count.store(v + 1, Ordering::Relaxed);
        }
    };
    let ticker = Ticker::start();
    let start = Instant::now();

    let cos: Vec<_> = (0..COROUTINES)
        .map(|i| {
            let (lock, done, bump) = (lock.clone(), done.clone(), bump.clone());
            go(move || {
                for r in 0..PER_COROUTINE {
                    let _g = lock.acquire_blocking();
                    bump();
                    if (i as u64 + r) % 64 == 0 {
                        may::coroutine::yield_now(); // hold it across a switch now and then
                    }
                }
                done.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();
    let ticks_at_start = ticker.count();

    // Threads and tasks keep contending until every coroutine is done and
    // the ticker has run a few more times: the ticker runs *during* the
    // contention by construction, or the watchdog fires.
    let contending = {
        let (done, ticker_ticks) = (done.clone(), ticker.ticks.clone());
        move || {
            done.load(Ordering::Relaxed) < COROUTINES
                || ticker_ticks.load(Ordering::Relaxed) < ticks_at_start + 5
        }
    };
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (lock, bump, contending) = (lock.clone(), bump.clone(), contending.clone());
            std::thread::spawn(move || {
                let mut mine = 0_u64;
                while contending() {
                    let _g = lock.acquire_blocking();
                    bump();
                    mine += 1;
                }
                mine
            })
        })
        .collect();
    let rt = tokio_rt(2);
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let (lock, bump, contending) = (lock.clone(), bump.clone(), contending.clone());
            rt.spawn(async move {
                let mut mine = 0_u64;
                while contending() {
                    let _g = lock.acquire().await;
                    bump();
                    mine += 1;
                    if mine % 16 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
                mine
            })
        })
        .collect();

    for co in cos {
        co.join().expect("a contending coroutine");
    }
    let mut others = 0;
    for t in threads {
        others += t.join().unwrap();
    }
    for t in tasks {
        others += futures_lite::future::block_on(t).unwrap();
    }
    let ticks = ticker.stop() - ticks_at_start;
    assert_eq!(
        count.load(Ordering::Relaxed),
        COROUTINES as u64 * PER_COROUTINE + others,
        "mutual exclusion kept the count exact"
    );
    assert!(ticks >= 5, "the ticker advanced during the contention");
    assert!(!lock.is_locked());
    eprintln!(
        "scale: {COROUTINES} coroutines x {PER_COROUTINE} + {others} thread/task acquisitions \
         in {:?}; the ticker ran {ticks} times meanwhile",
        start.elapsed()
    );
}

/// Where producers take their items: fresh ones in order, then any that
/// came back (a timed-out or cancelled put).
struct Source {
    next: AtomicU64,
    total: u64,
    returned: Mutex<Vec<u64>>,
    /// Items that a cancelled plain put (`try_put_for`) dropped: the core
    /// withdraws the put and drops its item before the coroutine unwinds
    /// (`put_with` would hand it back instead). [`Item`]'s `Drop` brings
    /// them back here, so they are put again, not lost.
    dropped: AtomicU64,
}

impl Source {
    fn take(self: &Arc<Self>) -> Option<Item> {
        let v = match self.returned.lock().unwrap().pop() {
            Some(v) => v,
            None => {
                let v = self.next.fetch_add(1, Ordering::Relaxed);
                if v >= self.total {
                    return None;
                }
                v
            }
        };
        Some(Item {
            v,
            home: Some(self.clone()),
        })
    }
    fn give_back(&self, v: u64) {
        self.returned.lock().unwrap().push(v);
    }
}

/// An item in flight. Dropped before a consumer took it (a cancelled plain
/// put drops its item), it goes back to its source.
struct Item {
    v: u64,
    home: Option<Arc<Source>>,
}

impl Item {
    /// Takes the item out of circulation (a consumer received it).
    fn consume(mut self) -> u64 {
        self.home = None;
        self.v
    }
    /// Gives the item back to its source (a timed-out put).
    fn back(mut self) {
        if let Some(home) = self.home.take() {
            home.give_back(self.v);
        }
    }
}

impl Drop for Item {
    fn drop(&mut self) {
        if let Some(home) = self.home.take() {
            home.dropped.fetch_add(1, Ordering::Relaxed);
            home.give_back(self.v);
        }
    }
}

/// Every item's receipt count.
struct Sink {
    seen: Vec<AtomicU8>,
    got: AtomicU64,
}

impl Sink {
    fn record(&self, v: u64) {
        let before = self.seen[v as usize].fetch_add(1, Ordering::Relaxed);
        assert_eq!(before, 0, "item {v} arrived twice");
        self.got.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Default)]
struct Stats {
    may_put_timeouts: AtomicU64,
    may_get_timeouts: AtomicU64,
    may_put_cancels: AtomicU64,
    may_cancelled: AtomicU64,
    tokio_put_timeouts: AtomicU64,
    tokio_get_timeouts: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// A may producer: timed puts (the item comes back on a timeout) and
/// `put_with` on its `MayWaiter` (the item comes back on a cancel).
fn may_producer(q: Arc<Queue<Item>>, src: Arc<Source>, stats: Arc<Stats>, seed: u64) {
    let mut rng = Rng::new(seed);
    let waiter = MayWaiter::current();
    while let Some(item) = src.take() {
        let out = if rng.below(2) == 0 {
            q.try_put_for(item, Duration::from_micros(rng.below(400)))
        } else {
            q.put_with(item, &waiter, None)
        };
        match out {
            Ok(()) => {}
            Err(TryPutError::Full(item)) => {
                bump(&stats.may_put_timeouts);
                item.back();
            }
            Err(TryPutError::Cancelled(item)) => {
                bump(&stats.may_put_cancels);
                item.back();
                may::coroutine::yield_now(); // cancelled: unwinds here
            }
            Err(TryPutError::Closed(_)) => unreachable!("closed only after every put"),
        }
    }
}

/// A may consumer: timed gets and plain blocking gets; an item handed to it
/// as it is cancelled is returned (and recorded) before it unwinds.
fn may_consumer(q: Arc<Queue<Item>>, sink: Arc<Sink>, stats: Arc<Stats>, seed: u64) {
    let mut rng = Rng::new(seed);
    loop {
        let out = if rng.below(2) == 0 {
            q.try_get_for(Duration::from_micros(rng.below(400)))
        } else {
            q.get_blocking().map_err(TryGetError::from)
        };
        match out {
            Ok(item) => sink.record(item.consume()),
            Err(TryGetError::Empty) => bump(&stats.may_get_timeouts),
            Err(TryGetError::Closed) => return,
            Err(other) => unreachable!("{other:?}"),
        }
    }
}

#[test]
fn may_and_tokio_exchange_through_one_queue_under_a_cancellation_storm() {
    setup(WORKERS);
    let _dog = watchdog_for("exchange", soak::watchdog(Duration::from_secs(120)));
    let total = soak::iterations(1_000_000, 10_000_000) as u64;
    const MAY_PRODUCERS: usize = 4;
    const MAY_CONSUMERS: usize = 4;
    const TOKIO_PRODUCERS: usize = 2;
    const TOKIO_CONSUMERS: usize = 2;

    let q = Arc::new(Queue::<Item>::bounded(16));
    let src = Arc::new(Source {
        next: AtomicU64::new(0),
        total,
        returned: Mutex::new(Vec::new()),
        dropped: AtomicU64::new(0),
    });
    let sink = Arc::new(Sink {
        seen: (0..total).map(|_| AtomicU8::new(0)).collect(),
        got: AtomicU64::new(0),
    });
    let stats = Arc::new(Stats::default());
    let start = Instant::now();

    // tokio: puts raced against short timers (a timed-out put takes its
    // item back with `Put::cancel`), gets under `tokio::time::timeout` (a
    // dropped get passes an item handed to it back into the queue).
    let rt = tokio_rt(2);
    let mut tokio_tasks = Vec::new();
    for p in 0..TOKIO_PRODUCERS {
        let (q, src, stats) = (q.clone(), src.clone(), stats.clone());
        tokio_tasks.push(rt.spawn(async move {
            let mut rng = Rng::new(1_000 + p as u64);
            while let Some(item) = src.take() {
                let mut put = pin!(q.put(item));
                let timer = tokio::time::sleep(Duration::from_micros(rng.below(400)));
                tokio::select! {
                    out = &mut put => out.map_err(|_| ()).expect("open while putting"),
                    _ = timer => if let Some(item) = put.as_mut().cancel() {
                        bump(&stats.tokio_put_timeouts);
                        item.back();
                    },
                }
            }
        }));
    }
    for c in 0..TOKIO_CONSUMERS {
        let (q, sink, stats) = (q.clone(), sink.clone(), stats.clone());
        tokio_tasks.push(rt.spawn(async move {
            let mut rng = Rng::new(2_000 + c as u64);
            loop {
                let wait = Duration::from_micros(rng.below(400));
                match tokio::time::timeout(wait, q.get()).await {
                    Ok(Ok(item)) => sink.record(item.consume()),
                    // The only error of an untimed get.
                    Ok(Err(GetError)) => return,
                    Err(_) => bump(&stats.tokio_get_timeouts),
                }
            }
        }));
    }

    // may: producers and consumers, some cancelled at random and replaced.
    let spawn_producer = |seed| {
        let (q, src, stats) = (q.clone(), src.clone(), stats.clone());
        go(move || may_producer(q, src, stats, seed))
    };
    let spawn_consumer = |seed| {
        let (q, sink, stats) = (q.clone(), sink.clone(), stats.clone());
        go(move || may_consumer(q, sink, stats, seed))
    };
    let mut seed = 10_000;
    let mut producers: Vec<_> = (0..MAY_PRODUCERS)
        .map(|_| {
            seed += 1;
            spawn_producer(seed)
        })
        .collect();
    let mut consumers: Vec<_> = (0..MAY_CONSUMERS)
        .map(|_| {
            seed += 1;
            spawn_consumer(seed)
        })
        .collect();

    // Cancel one may producer or consumer now and then, and replace it, until
    // every item arrived. Replacements also put the items that came back
    // after every other producer had run out.
    let mut rng = Rng::new(7);
    while sink.got.load(Ordering::Relaxed) < total {
        std::thread::sleep(Duration::from_micros(100));
        let producer = rng.below(2) == 0;
        let list = if producer {
            &mut producers
        } else {
            &mut consumers
        };
        let i = rng.below(list.len() as u64) as usize;
        // SAFETY: may unwinds the coroutine at its next park or yield; the
        // producers and consumers give back or record every item before
        // they can reach one.
        #[allow(unsafe_code)]
        unsafe {
            list[i].coroutine().cancel()
        };
        seed += 1;
        let fresh = if producer {
            spawn_producer(seed)
        } else {
            spawn_consumer(seed)
        };
        let old = std::mem::replace(&mut list[i], fresh);
        if old.join().is_err() {
            bump(&stats.may_cancelled);
        }
    }
    q.close();
    for p in producers {
        let _ = p.join();
    }
    for c in consumers {
        c.join().expect("a consumer drains until closed");
    }
    for t in tokio_tasks {
        futures_lite::future::block_on(t).expect("a tokio task");
    }

    assert_eq!(
        sink.got.load(Ordering::Relaxed),
        total,
        "every item arrived"
    );
    assert!(
        sink.seen.iter().all(|s| s.load(Ordering::Relaxed) == 1),
        "each item exactly once"
    );
    assert!(src.returned.lock().unwrap().is_empty());
    assert!(q.is_empty());
    eventually(|| q.putting() == 0 && q.getting() == 0);
    let s = &*stats;
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    eprintln!(
        "exchange: {total} items in {:?}; may: {} put timeouts, {} get timeouts, {} puts \
         cancelled (item given back), {} items dropped by cancelled plain puts (put again), \
         {} coroutines cancelled; tokio: {} put timeouts, {} get timeouts",
        start.elapsed(),
        get(&s.may_put_timeouts),
        get(&s.may_get_timeouts),
        get(&s.may_put_cancels),
        src.dropped.load(Ordering::Relaxed),
        get(&s.may_cancelled),
        get(&s.tokio_put_timeouts),
        get(&s.tokio_get_timeouts),
    );
}
