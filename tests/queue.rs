//! `Queue` across worlds: OS threads (blocking), tokio tasks on a 2-worker
//! multi-thread runtime, and `futures_lite::block_on` tasks in threads, as
//! producers and consumers at once.

use polysync::queue::{
    Fifo, GenericQueue, GetError, Lifo, Priority, PutError, Queue, Storage, TryGetError,
    TryPutError,
};
#[path = "support/soak.rs"]
mod soak;

use soak::Budget;
use std::cell::Cell;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
}

/// Runs `f` on another thread and fails the test if it takes longer than `limit`.
fn watchdog<R: Send + 'static>(limit: Duration, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    let worker = thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => {
            worker.join().unwrap();
            out
        }
        Err(_) => {
            if worker.is_finished() {
                worker.join().unwrap(); // propagates the panic
            }
            panic!("watchdog: the scenario did not finish within {limit:?}");
        }
    }
}

fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        thread::sleep(Duration::from_millis(1));
    }
}

const PRODUCERS: u64 = 5;
const PER_PRODUCER: u64 = 1500;

fn id(producer: u64, seq: u64) -> u64 {
    producer << 32 | seq
}

/// Every item is received exactly once, and each consumer sees each
/// producer's items in the order they were put.
fn conservation(queue: Queue<u64>) {
    let q = Arc::new(queue);
    let rt = runtime();
    let produce_async = |p: u64, q: Arc<Queue<u64>>| async move {
        for seq in 0..PER_PRODUCER {
            q.put(id(p, seq)).await.unwrap();
        }
    };
    let consume_async = |q: Arc<Queue<u64>>| async move {
        let mut got = Vec::new();
        loop {
            match q.get().await {
                Ok(item) => got.push(item),
                // The only error of an untimed get: closed and drained.
                Err(GetError) => return got,
            }
        }
    };
    // Consumers: 2 threads, 2 tokio tasks, 1 futures-lite thread.
    let mut consumer_threads = Vec::new();
    for _ in 0..2 {
        let q = q.clone();
        consumer_threads.push(thread::spawn(move || {
            let mut got = Vec::new();
            while let Ok(item) = q.get_blocking() {
                got.push(item);
            }
            got
        }));
    }
    {
        let q = q.clone();
        consumer_threads.push(thread::spawn(move || {
            futures_lite::future::block_on(consume_async(q))
        }));
    }
    let consumer_tasks: Vec<_> = (0..2).map(|_| rt.spawn(consume_async(q.clone()))).collect();
    // Producers 0-1: threads; 2-3: tokio tasks; 4: futures-lite thread.
    let mut producer_threads = Vec::new();
    for p in 0..2 {
        let q = q.clone();
        producer_threads.push(thread::spawn(move || {
            for seq in 0..PER_PRODUCER {
                q.put_blocking(id(p, seq)).unwrap();
            }
        }));
    }
    {
        let q = q.clone();
        let fut = produce_async(4, q);
        producer_threads.push(thread::spawn(move || futures_lite::future::block_on(fut)));
    }
    let producer_tasks: Vec<_> = (2..4)
        .map(|p| rt.spawn(produce_async(p, q.clone())))
        .collect();
    for t in producer_threads {
        t.join().unwrap();
    }
    rt.block_on(async {
        for t in producer_tasks {
            t.await.unwrap();
        }
    });
    q.close();
    let mut all = Vec::new();
    let mut check = |got: Vec<u64>| {
        let mut last = [None::<u64>; PRODUCERS as usize];
        for &item in &got {
            let (p, seq) = ((item >> 32) as usize, item & 0xFFFF_FFFF);
            assert!(last[p].is_none_or(|l| l < seq), "producer {p} out of order");
            last[p] = Some(seq);
        }
        all.extend(got);
    };
    for t in consumer_threads {
        check(t.join().unwrap());
    }
    for t in consumer_tasks {
        check(rt.block_on(t).unwrap());
    }
    all.sort_unstable();
    let expected: Vec<u64> = (0..PRODUCERS)
        .flat_map(|p| (0..PER_PRODUCER).map(move |s| id(p, s)))
        .collect();
    assert_eq!(all.len(), expected.len());
    assert!(all == expected, "some item was lost or duplicated");
    assert!(q.is_empty());
    assert_eq!((q.getting(), q.putting()), (0, 0));
}

#[test]
fn conservation_capacity_1() {
    watchdog(Duration::from_secs(60), || conservation(Queue::bounded(1)));
}

#[test]
fn conservation_capacity_64() {
    watchdog(Duration::from_secs(60), || conservation(Queue::bounded(64)));
}

#[test]
fn conservation_capacity_1_spinning() {
    conservation(Queue::bounded(1).spinning(true));
}

#[test]
fn conservation_capacity_64_spinning() {
    conservation(Queue::bounded(64).spinning(true));
}

#[test]
fn conservation_unbounded() {
    watchdog(Duration::from_secs(60), || conservation(Queue::unbounded()));
}

#[test]
fn close_wakes_blocked_putters_of_every_kind_with_their_items() {
    watchdog(Duration::from_secs(20), || {
        let q = Arc::new(Queue::bounded(1));
        q.try_put(0u32).unwrap();
        let rt = runtime();
        let t = {
            let q = q.clone();
            thread::spawn(move || q.put_blocking(1))
        };
        wait_for("putter 1", || q.putting() == 1);
        let task = {
            let q = q.clone();
            rt.spawn(async move { q.put(2).await })
        };
        wait_for("putter 2", || q.putting() == 2);
        let fl = {
            let q = q.clone();
            thread::spawn(move || futures_lite::future::block_on(q.put(3)))
        };
        wait_for("putter 3", || q.putting() == 3);
        let timed = {
            let q = q.clone();
            thread::spawn(move || q.try_put_for(4, Duration::from_secs(30)))
        };
        wait_for("putter 4", || q.putting() == 4);
        q.close();
        // Each form's own error: closed-only for the untimed forms.
        assert_eq!(t.join().unwrap(), Err(PutError(1)));
        assert_eq!(rt.block_on(task).unwrap(), Err(PutError(2)));
        assert_eq!(fl.join().unwrap(), Err(PutError(3)));
        assert_eq!(timed.join().unwrap(), Err(TryPutError::Closed(4)));
        assert_eq!(q.putting(), 0);
        // Getters drain first, then see Closed.
        assert_eq!(q.try_get(), Ok(0));
        assert_eq!(q.get_blocking(), Err(GetError));
        assert_eq!(q.try_get(), Err(TryGetError::Closed));
    });
}

#[test]
fn close_wakes_blocked_getters_of_every_kind_after_draining() {
    watchdog(Duration::from_secs(20), || {
        let q = Arc::new(Queue::<u32>::unbounded());
        q.try_put(1).unwrap();
        q.try_put(2).unwrap();
        q.close();
        assert_eq!(q.try_put(3), Err(TryPutError::Closed(3)));
        assert_eq!(q.put_blocking(4), Err(PutError(4)));
        assert_eq!(futures_lite::future::block_on(q.put(5)), Err(PutError(5)));
        assert_eq!(
            q.try_put_until(6, Instant::now() + Duration::from_secs(5)),
            Err(TryPutError::Closed(6))
        );
        assert_eq!(q.get_blocking(), Ok(1));
        assert_eq!(futures_lite::future::block_on(q.get()), Ok(2));
        assert_eq!(
            q.try_get_for(Duration::from_secs(5)),
            Err(TryGetError::Closed)
        );
        assert_eq!(q.get_blocking(), Err(GetError));
        assert_eq!(futures_lite::future::block_on(q.get()), Err(GetError));

        let q = Arc::new(Queue::<u32>::bounded(2));
        let rt = runtime();
        let t = {
            let q = q.clone();
            thread::spawn(move || q.get_blocking())
        };
        wait_for("getter 1", || q.getting() == 1);
        let task = {
            let q = q.clone();
            rt.spawn(async move { q.get().await })
        };
        wait_for("getter 2", || q.getting() == 2);
        let fl = {
            let q = q.clone();
            thread::spawn(move || futures_lite::future::block_on(q.get()))
        };
        wait_for("getter 3", || q.getting() == 3);
        let timed = {
            let q = q.clone();
            thread::spawn(move || q.try_get_until(Instant::now() + Duration::from_secs(30)))
        };
        wait_for("getter 4", || q.getting() == 4);
        q.close();
        assert_eq!(t.join().unwrap(), Err(GetError));
        assert_eq!(rt.block_on(task).unwrap(), Err(GetError));
        assert_eq!(fl.join().unwrap(), Err(GetError));
        assert_eq!(timed.join().unwrap(), Err(TryGetError::Closed));
        assert_eq!(q.getting(), 0);
    });
}

#[test]
fn waiting_getters_are_served_fifo_across_worlds() {
    watchdog(Duration::from_secs(20), || {
        for round in 0..5 {
            let q = Arc::new(Queue::<u32>::bounded(1));
            let rt = runtime();
            let a = {
                let q = q.clone();
                thread::spawn(move || q.get_blocking())
            };
            wait_for("getter a", || q.getting() == 1);
            let b = {
                let q = q.clone();
                rt.spawn(async move { q.get().await })
            };
            wait_for("getter b", || q.getting() == 2);
            let c = {
                let q = q.clone();
                thread::spawn(move || futures_lite::future::block_on(q.get()))
            };
            wait_for("getter c", || q.getting() == 3);
            let d = {
                let q = q.clone();
                thread::spawn(move || q.try_get_for(Duration::from_secs(30)))
            };
            wait_for("getter d", || q.getting() == 4);
            // Alternate the putting world too.
            if round % 2 == 0 {
                for i in 1..=4 {
                    q.put_blocking(i).unwrap();
                }
            } else {
                let q2 = q.clone();
                rt.block_on(async move {
                    for i in 1..=4 {
                        q2.put(i).await.unwrap();
                    }
                });
            }
            assert_eq!(a.join().unwrap(), Ok(1));
            assert_eq!(rt.block_on(b).unwrap(), Ok(2));
            assert_eq!(c.join().unwrap(), Ok(3));
            assert_eq!(d.join().unwrap(), Ok(4));
            assert!(q.is_empty());
        }
    });
}

thread_local! {
    /// The id of the item whose put future this thread is dropping, if any:
    /// the only moment an item may legitimately be dropped in the storm.
    static CANCELLING: Cell<Option<u64>> = const { Cell::new(None) };
}

/// An item that reports how it was dropped if it is dropped without being
/// taken: with the put future that a producer cancelled (it never entered
/// the queue), or anywhere else (lost: a getter dropped what it was handed).
struct Item {
    id: u64,
    drops: Arc<Drops>,
    armed: bool,
}

#[derive(Default)]
struct Drops {
    /// Dropped with its own cancelled put future.
    with_put: Mutex<Vec<u64>>,
    /// Dropped anywhere else.
    lost: Mutex<Vec<u64>>,
}

impl Item {
    fn new(id: u64, drops: &Arc<Drops>) -> Self {
        Item {
            id,
            drops: drops.clone(),
            armed: true,
        }
    }

    fn take(mut self) -> u64 {
        self.armed = false;
        self.id
    }
}

// Ordered by id, so the storm also runs on a priority queue.
impl PartialEq for Item {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Item {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.id.cmp(&other.id)
    }
}

impl Drop for Item {
    fn drop(&mut self) {
        if self.armed {
            let list = if CANCELLING.with(Cell::get) == Some(self.id) {
                &self.drops.with_put
            } else {
                &self.drops.lost
            };
            list.lock().unwrap_or_else(|e| e.into_inner()).push(self.id);
        }
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn micros(&mut self, max: u64) -> Duration {
        Duration::from_micros(self.next() % max)
    }
}

#[derive(Default)]
struct Ledger {
    put: Vec<u64>,
    /// Items of timed-out blocking puts (they came back in the error).
    returned: Vec<u64>,
    /// Ids of async puts whose future was dropped before it completed.
    cancelled: Vec<u64>,
    received: Vec<u64>,
}

/// Getters and putters of every world give up at random (timeouts, dropped
/// futures, notified-then-dropped getters). Every item put is, exactly once:
/// received, left in the queue, returned by a timed-out blocking put, or
/// dropped together with its own cancelled put future; no item is dropped
/// anywhere else (a getter dropped after a hand-off must put the item back).
/// The storm goes on until a getter was seen dropped after a hand-off landed
/// on it (bounded), so that path really ran. `POLYSYNC_SOAK=1`: see
/// tests/support/soak.rs.
#[test]
fn cancellation_storm_conserves_items() {
    storm::<Fifo<Item>>("fifo", false);
}

#[test]
fn cancellation_storm_conserves_items_lifo() {
    storm::<Lifo<Item>>("lifo", false);
}

#[test]
fn cancellation_storm_conserves_items_priority() {
    storm::<Priority<Item>>("priority", false);
}

#[test]
fn cancellation_storm_conserves_items_spinning() {
    storm::<Fifo<Item>>("fifo, spinning", true);
}

fn storm<S: Storage<Item> + Default + Send + 'static>(name: &'static str, spinning: bool) {
    watchdog(soak::watchdog(Duration::from_secs(30)), move || {
        let started = Instant::now();
        let q = Arc::new(GenericQueue::<Item, S>::bounded(3).spinning(spinning));
        let drops = Arc::new(Drops::default());
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let budget = Arc::new(Budget::new(Duration::from_millis(1500)));
        // Async getters dropped after an item was handed to them.
        let abandoned = Arc::new(AtomicU64::new(0));
        let going = {
            let (budget, abandoned) = (budget.clone(), abandoned.clone());
            move || budget.running_until(|| abandoned.load(Ordering::Relaxed) > 0)
        };
        let rt = runtime();
        let mut threads = Vec::new();
        let mut tasks = Vec::new();
        for k in 0..2u64 {
            // Thread producer with timeouts (gets its item back).
            let (qp, drops, lp, going_p, budget_p) = (
                q.clone(),
                drops.clone(),
                ledger.clone(),
                going.clone(),
                budget.clone(),
            );
            threads.push(thread::spawn(move || {
                let mut rng = Rng(0x9E37 + k);
                let mut seq = 0;
                let mut local = Ledger::default();
                while going_p() {
                    let id = id(k, seq);
                    seq += 1;
                    local.put.push(id);
                    let item = Item::new(id, &drops);
                    if let Err(TryPutError::Full(item)) = qp.try_put_for(item, rng.micros(300)) {
                        local.returned.push(item.take());
                    }
                    budget_p.add(1);
                }
                let mut l = lp.lock().unwrap();
                l.put.extend(local.put);
                l.returned.extend(local.returned);
            }));
            // Thread consumer with timeouts.
            let (qc, lc, going_c, budget_c) =
                (q.clone(), ledger.clone(), going.clone(), budget.clone());
            threads.push(thread::spawn(move || {
                let mut rng = Rng(0x1234 + k);
                let mut got = Vec::new();
                while going_c() {
                    if let Ok(item) = qc.try_get_for(rng.micros(300)) {
                        got.push(item.take());
                    }
                    budget_c.add(1);
                }
                lc.lock().unwrap().received.extend(got);
            }));
        }
        // Async producers/consumers: tokio (k = 2) and futures-lite (k = 3),
        // cancelled by dropping their futures after a random time.
        for k in 2..4u64 {
            let (qp, drops, lp, going_p, budget_p) = (
                q.clone(),
                drops.clone(),
                ledger.clone(),
                going.clone(),
                budget.clone(),
            );
            let producer = async move {
                let mut rng = Rng(0xABCD + k);
                let mut seq = 0;
                let mut local = Ledger::default();
                while going_p() {
                    let id = id(k, seq);
                    seq += 1;
                    local.put.push(id);
                    let limit = rng.micros(300);
                    let mut put = Box::pin(qp.put(Item::new(id, &drops)));
                    let done = futures_lite::future::or(async { Some((&mut put).await) }, async {
                        async_io::Timer::after(limit).await;
                        None
                    })
                    .await;
                    match done {
                        Some(r) => r.unwrap_or_else(|_| unreachable!("never closed")),
                        None => {
                            // Dropping the put future drops its item unless
                            // the item already went in: the one drop allowed.
                            local.cancelled.push(id);
                            CANCELLING.with(|c| c.set(Some(id)));
                            drop(put);
                            CANCELLING.with(|c| c.set(None));
                        }
                    }
                    budget_p.add(1);
                }
                let mut l = lp.lock().unwrap();
                l.put.extend(local.put);
                l.cancelled.extend(local.cancelled);
            };
            let (qc, lc, going_c, budget_c, abandoned) = (
                q.clone(),
                ledger.clone(),
                going.clone(),
                budget.clone(),
                abandoned.clone(),
            );
            let consumer = async move {
                let mut rng = Rng(0x5555 + k);
                let mut got = Vec::new();
                while going_c() {
                    let limit = rng.micros(300);
                    let mut get = pin!(qc.get());
                    let got_one =
                        futures_lite::future::or(async { Some((&mut get).await) }, async {
                            async_io::Timer::after(limit).await;
                            None
                        })
                        .await;
                    match got_one {
                        Some(r) => got.push(r.expect("never closed").take()),
                        // Dropped below; an item handed to it meanwhile must
                        // go back into the queue. (Racy only towards
                        // undercounting: a hand-off may still land.)
                        None if format!("{get:?}").contains("notified") => {
                            abandoned.fetch_add(1, Ordering::Relaxed);
                        }
                        None => {}
                    }
                    budget_c.add(1);
                }
                lc.lock().unwrap().received.extend(got);
            };
            if k == 2 {
                tasks.push(rt.spawn(producer));
                tasks.push(rt.spawn(consumer));
            } else {
                threads.push(thread::spawn(move || {
                    futures_lite::future::block_on(producer)
                }));
                threads.push(thread::spawn(move || {
                    futures_lite::future::block_on(consumer)
                }));
            }
        }
        for t in threads {
            t.join().unwrap();
        }
        rt.block_on(async {
            for t in tasks {
                t.await.unwrap();
            }
        });
        let mut l = ledger.lock().unwrap();
        assert_eq!((q.getting(), q.putting()), (0, 0));
        let mut left = Vec::new();
        while let Ok(item) = q.try_get() {
            left.push(item.take());
        }
        let lost = drops.lost.lock().unwrap().clone();
        let with_put = drops.with_put.lock().unwrap().clone();
        eprintln!(
            "queue storm ({name}): {:?}, {} operations: {} put, {} received, {} left, \
             {} returned by timed-out puts, {} puts cancelled ({} items dropped with them), \
             {} getters dropped after a hand-off",
            started.elapsed(),
            budget.ops(),
            l.put.len(),
            l.received.len(),
            left.len(),
            l.returned.len(),
            l.cancelled.len(),
            with_put.len(),
            abandoned.load(Ordering::Relaxed),
        );
        assert!(
            lost.is_empty(),
            "{} items were dropped outside their own cancelled put (a getter lost an item \
             it was handed?): {:?}",
            lost.len(),
            &lost[..lost.len().min(10)]
        );
        let cancelled: std::collections::HashSet<u64> = l.cancelled.iter().copied().collect();
        assert!(
            with_put.iter().all(|id| cancelled.contains(id)),
            "an item was dropped with a put that was not cancelled"
        );
        let mut accounted: Vec<u64> = l
            .received
            .iter()
            .chain(&left)
            .chain(&l.returned)
            .chain(&with_put)
            .copied()
            .collect();
        accounted.sort_unstable();
        l.put.sort_unstable();
        assert!(
            l.received.len() > 100,
            "the storm moved too few items: {}",
            l.received.len()
        );
        assert!(!l.returned.is_empty(), "no blocking put timed out");
        assert!(!l.cancelled.is_empty(), "no async put was cancelled");
        assert!(
            abandoned.load(Ordering::Relaxed) > 0,
            "no getter was dropped after a hand-off landed on it (within {:?} more)",
            soak::GRACE
        );
        assert_eq!(accounted.len(), l.put.len(), "items lost or duplicated");
        assert!(accounted == l.put, "items lost or duplicated");
    });
}

#[test]
fn notified_getter_dropped_puts_item_back_at_front() {
    // Room for the three items: a handed item keeps its place until its
    // get returns it or gives it back (tests/queue_capacity.rs).
    let q = Queue::bounded(3);
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut get = Box::pin(q.get());
    assert!(get.as_mut().poll(&mut cx).is_pending());
    let mut later = Box::pin(q.get());
    assert!(later.as_mut().poll(&mut cx).is_pending());
    q.try_put(1).unwrap(); // handed to `get`
    q.try_put(2).unwrap(); // handed to `later`
    drop(later); // 2 goes back to the queue
    q.try_put(3).unwrap();
    drop(get); // 1 goes back to the FRONT
    assert_eq!(q.len(), 3);
    assert_eq!(q.try_get(), Ok(1));
    assert_eq!(q.try_get(), Ok(2));
    assert_eq!(q.try_get(), Ok(3));
    // A dropped notified getter hands its item to the next waiting getter.
    let mut first = Box::pin(q.get());
    let mut second = Box::pin(q.get());
    assert!(first.as_mut().poll(&mut cx).is_pending());
    assert!(second.as_mut().poll(&mut cx).is_pending());
    q.try_put(7).unwrap();
    drop(first);
    assert_eq!(q.len(), 0);
    assert_eq!(second.as_mut().poll(&mut cx), std::task::Poll::Ready(Ok(7)));
}

use std::future::Future;

/// Each form's own error: the untimed forms (async, blocking) fail only
/// with the closed-only `PutError`/`GetError`; the forms that may give up
/// say "not now" (also for "not in time") with `Full`/`Empty`, and
/// "closed" with `Closed`.
#[test]
fn errors_of_each_form() {
    use polysync::lowlevel::ThreadWaiter;
    watchdog(Duration::from_secs(20), || {
        let q = Queue::bounded(1);
        let now = Some(Instant::now());
        assert_eq!(q.try_get(), Err(TryGetError::Empty));
        assert_eq!(
            q.try_get_for(Duration::from_millis(1)),
            Err(TryGetError::Empty)
        );
        assert_eq!(q.try_get_until(Instant::now()), Err(TryGetError::Empty));
        assert_eq!(
            ThreadWaiter::with_current(|w| q.get_with(w, now)),
            Err(TryGetError::Empty)
        );
        q.put_blocking(1u8).unwrap();
        assert_eq!(q.try_put(2), Err(TryPutError::Full(2)));
        assert_eq!(
            q.try_put_for(3, Duration::from_millis(1)),
            Err(TryPutError::Full(3))
        );
        assert_eq!(
            q.try_put_until(4, Instant::now()),
            Err(TryPutError::Full(4))
        );
        assert_eq!(
            ThreadWaiter::with_current(|w| q.put_with(5, w, now)),
            Err(TryPutError::Full(5))
        );

        q.close();
        // Closed: every put form gives its item back.
        assert_eq!(q.put_blocking(6), Err(PutError(6)));
        assert_eq!(futures_lite::future::block_on(q.put(7)), Err(PutError(7)));
        assert_eq!(q.try_put(8), Err(TryPutError::Closed(8)));
        assert_eq!(
            q.try_put_for(9, Duration::from_secs(5)),
            Err(TryPutError::Closed(9))
        );
        assert_eq!(
            q.try_put_until(10, Instant::now() + Duration::from_secs(5)),
            Err(TryPutError::Closed(10))
        );
        assert_eq!(
            ThreadWaiter::with_current(|w| q.put_with(11, w, None)),
            Err(TryPutError::Closed(11))
        );
        // Drained first, then closed, in every get form.
        assert_eq!(q.get_blocking(), Ok(1));
        assert_eq!(q.get_blocking(), Err(GetError));
        assert_eq!(futures_lite::future::block_on(q.get()), Err(GetError));
        assert_eq!(q.try_get(), Err(TryGetError::Closed));
        assert_eq!(
            q.try_get_for(Duration::from_secs(5)),
            Err(TryGetError::Closed)
        );
        assert_eq!(
            q.try_get_until(Instant::now() + Duration::from_secs(5)),
            Err(TryGetError::Closed)
        );
        assert_eq!(
            ThreadWaiter::with_current(|w| q.get_with(w, None)),
            Err(TryGetError::Closed)
        );
    });

    // The types themselves.
    assert_eq!(PutError(1).into_inner(), 1);
    assert_eq!(TryPutError::Closed(2).into_inner(), 2);
    assert!(TryPutError::Full(()).is_full() && !TryPutError::Full(()).is_closed());
    assert!(TryPutError::Closed(()).is_closed() && !TryPutError::Closed(()).is_full());
    assert_eq!(TryPutError::from(PutError(3)), TryPutError::Closed(3));
    assert_eq!(TryGetError::from(GetError), TryGetError::Closed);
    assert_eq!(format!("{:?}", PutError(vec![1])), "PutError(..)");
    assert_eq!(format!("{:?}", TryPutError::Full(vec![1])), "Full(..)");
    assert_eq!(format!("{GetError:?}"), "GetError");
    assert!(PutError(()).to_string().contains("closed"));
    assert!(GetError.to_string().contains("closed and drained"));
    assert!(TryPutError::Full(()).to_string().contains("full"));
    assert!(TryGetError::Empty.to_string().contains("empty"));
    let _: &dyn std::error::Error = &PutError(());
    let _: &dyn std::error::Error = &GetError;
}

#[test]
fn debug_and_snapshots() {
    let q = Queue::bounded(2);
    q.try_put(1u8).unwrap();
    let s = format!("{q:?}");
    assert!(
        s.contains("len: 1") && s.contains("capacity: Some(2)"),
        "{s}"
    );
    assert!(!q.is_full());
    q.try_put(2).unwrap();
    assert!(q.is_full());
    assert_eq!(
        q.try_put_for(3, Duration::from_millis(5)),
        Err(TryPutError::Full(3))
    );
}

#[test]
fn send_sync_exactly_where_sound() {
    use static_assertions::{assert_impl_all, assert_not_impl_any};
    use std::rc::Rc;
    assert_impl_all!(Queue<u8>: Send, Sync, std::fmt::Debug, Default);
    assert_impl_all!(Queue<std::cell::Cell<u8>>: Send, Sync);
    assert_not_impl_any!(Queue<Rc<u8>>: Send, Sync);
    assert_impl_all!(polysync::LifoQueue<u8>: Send, Sync, std::fmt::Debug, Default);
    assert_impl_all!(polysync::PriorityQueue<u8>: Send, Sync, std::fmt::Debug, Default);
    assert_impl_all!(polysync::SimpleQueue<u8>: Send, Sync, std::fmt::Debug, Default);
    assert_not_impl_any!(polysync::SimpleQueue<Rc<u8>>: Send, Sync);
    assert_impl_all!(polysync::queue::SimpleGet<'static, u8>: Send, std::fmt::Debug);
    // A storage that is not `Send` keeps the queue from being shared.
    struct LocalStorage(Vec<u8>, std::marker::PhantomData<Rc<()>>);
    impl Storage<u8> for LocalStorage {
        fn push(&mut self, item: u8) {
            self.0.push(item)
        }
        fn pop(&mut self) -> Option<u8> {
            self.0.pop()
        }
        fn peek(&self) -> Option<&u8> {
            self.0.last()
        }
        fn len(&self) -> usize {
            self.0.len()
        }
    }
    assert_not_impl_any!(GenericQueue<u8, LocalStorage>: Send, Sync);
    #[cfg(feature = "stream")]
    assert_impl_all!(polysync::queue::QueueStream<'static, u8>: Send, Unpin, std::fmt::Debug);
    assert_impl_all!(polysync::queue::Put<'static, u8>: Send, std::fmt::Debug);
    assert_impl_all!(polysync::queue::Get<'static, u8>: Send, std::fmt::Debug);
    assert_not_impl_any!(polysync::queue::Get<'static, Rc<u8>>: Send);
    assert_not_impl_any!(polysync::queue::Get<'static, u8>: Unpin);
    assert_impl_all!(PutError<u8>: std::error::Error);
    assert_impl_all!(TryPutError<u8>: std::error::Error);
    assert_impl_all!(GetError: std::error::Error, Copy);
    assert_impl_all!(TryGetError: std::error::Error, Copy);
}
