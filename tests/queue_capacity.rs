//! Issue 21 point 1: a bounded queue or channel holds at most its capacity,
//! also when a get that was handed an item is dropped and gives it back.
//!
//! The deterministic tests below reproduced the defect on every run before
//! the fix (`len 2` with capacity 1, for each storage and the channel); the
//! storms check `len() <= capacity` at every observation under random
//! cancellation, with exactly-once delivery and FIFO.

use polysync::channel;
use polysync::queue::{GenericQueue, Storage};
use polysync::{LifoQueue, PriorityQueue, Queue};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// A waiting get is handed an item, the storage is then filled to the
/// capacity, a put waits, and the get is dropped: its item comes back.
fn given_back_stays_within_capacity<S: Storage<u32>>(q: GenericQueue<u32, S>) {
    let mut cx = Context::from_waker(Waker::noop());
    let cap = q.capacity().unwrap();
    {
        let mut get = pin!(q.get());
        assert!(get.as_mut().poll(&mut cx).is_pending());
        q.try_put(100).unwrap(); // handed to the waiting get
        let mut stored = 0;
        while q.try_put(stored).is_ok() {
            stored += 1;
        }
        let mut put = pin!(q.put(999));
        assert!(put.as_mut().poll(&mut cx).is_pending());
        assert_eq!(q.putting(), 1);
        // The get goes away with the item it was handed.
    }
    assert!(q.len() <= cap, "len {} > capacity {cap}", q.len());
}

#[test]
fn queue_give_back_respects_the_capacity() {
    given_back_stays_within_capacity(Queue::bounded(1));
    given_back_stays_within_capacity(Queue::bounded(2));
}

#[test]
fn lifo_give_back_respects_the_capacity() {
    given_back_stays_within_capacity(LifoQueue::bounded(1));
}

#[test]
fn priority_give_back_respects_the_capacity() {
    given_back_stays_within_capacity(PriorityQueue::bounded(1));
}

/// Both kinds wait at once when every place is held by a get future: each
/// kind is served in its own arrival order, and the bound holds.
#[test]
fn getters_and_putters_wait_together_each_in_order() {
    let q = Queue::bounded(1);
    let mut cx = Context::from_waker(Waker::noop());
    let mut a = Box::pin(q.get());
    let mut b = Box::pin(q.get());
    assert!(a.as_mut().poll(&mut cx).is_pending());
    assert!(b.as_mut().poll(&mut cx).is_pending());
    q.try_put(1).unwrap(); // to `a`, which now holds the one place
    assert_eq!(q.try_put(9), Err(polysync::queue::TryPutError::Full(9)));
    let mut put2 = Box::pin(q.put(2));
    assert!(put2.as_mut().poll(&mut cx).is_pending());
    let mut c = Box::pin(q.get());
    assert!(c.as_mut().poll(&mut cx).is_pending());
    // The list: b (getter), put2 (putter), c (getter).
    assert_eq!((q.getting(), q.putting()), (2, 1));
    // `a` returns its item: its place goes to the waiting putter, whose item
    // goes to the oldest getter, `b`.
    assert_eq!(a.as_mut().poll(&mut cx), Poll::Ready(Ok(1)));
    assert_eq!(put2.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
    assert_eq!((q.getting(), q.putting()), (1, 0));
    let mut put3 = Box::pin(q.put(3));
    assert!(put3.as_mut().poll(&mut cx).is_pending());
    // `b` is dropped: 2 goes to `c` (the place it held moves with it).
    drop(b);
    assert_eq!(q.len(), 0);
    assert!(put3.as_mut().poll(&mut cx).is_pending());
    // `c` is dropped too: 2 is stored, the next out; 3 still waits.
    drop(c);
    assert_eq!(q.len(), 1);
    assert!(put3.as_mut().poll(&mut cx).is_pending());
    assert_eq!(q.try_get(), Ok(2));
    assert_eq!(put3.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
    assert_eq!(q.try_get(), Ok(3));
    assert_eq!((q.getting(), q.putting(), q.len()), (0, 0, 0));
}

/// A get future that is cancelled with `Get::cancel` keeps the item and
/// frees its place; so does one that completes; a blocking `_with` get
/// whose waiter reports cancellation returns an item handed over meanwhile
/// and frees its place.
#[test]
fn returned_items_free_their_place() {
    let q = Queue::bounded(1);
    let mut cx = Context::from_waker(Waker::noop());
    let mut get = pin!(q.get());
    assert!(get.as_mut().poll(&mut cx).is_pending());
    q.try_put(1).unwrap();
    assert!(q.is_full());
    assert_eq!(get.as_mut().cancel(), Some(1));
    assert!(!q.is_full());
    q.try_put(2).unwrap();
    assert!(q.is_full());
    assert_eq!(q.try_get(), Ok(2));
    assert!(!q.is_full());
}

#[test]
fn channel_give_back_respects_the_capacity() {
    for cap in [1, 2] {
        let (tx, rx) = channel::bounded(cap);
        let mut cx = Context::from_waker(Waker::noop());
        {
            let mut recv = pin!(rx.recv());
            assert!(recv.as_mut().poll(&mut cx).is_pending());
            tx.try_send(100).unwrap(); // handed to the waiting receive
            let mut stored = 0;
            while tx.try_send(stored).is_ok() {
                stored += 1;
            }
            assert!(tx.is_full());
            let mut send = pin!(tx.send(999));
            assert_eq!(send.as_mut().poll(&mut cx), Poll::Pending);
            assert_eq!(tx.sending(), 1);
        }
        assert!(rx.len() <= cap, "len {} > capacity {cap}", rx.len());
        // FIFO kept: the given-back value first, then the stored ones, then
        // the waiting send's (its future was dropped, so it never went in).
        assert_eq!(rx.try_recv(), Ok(100));
    }
}

// ---------------------------------------------------------------------------
// The storm: consumers that give up in every form (a future dropped after a
// poll, a timed get, a `_with` get whose waiter reports cancellation; from
// OS threads and tokio tasks) against a producer that waits for room. The
// capacity holds at every observation; every item is delivered exactly
// once; with one consumer, in FIFO order.

#[path = "support/worlds.rs"]
mod worlds;

use polysync::lowlevel::{ThreadWaiter, WaitResult, Waiter};
use polysync::queue::{TryGetError, TryPutError};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use worlds::Watchdog;

/// xorshift64: small, fast, good enough to pick actions.
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

/// What one attempt to receive ended with.
enum Got {
    Item(u64),
    Nothing,
    Closed,
}

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A bounded queue or a channel, as the storm uses it.
trait Bounded: Send + Sync + 'static {
    fn cap(&self) -> usize;
    fn len(&self) -> usize;
    fn close(&self);
    fn put_blocking(&self, item: u64);
    /// `Err` gives the item back (timed out).
    fn try_put_for(&self, item: u64, timeout: Duration) -> Result<(), u64>;
    fn get(&self) -> BoxFuture<'_, Option<u64>>;
    fn try_get_for(&self, timeout: Duration) -> Got;
    fn get_with(&self, waiter: &dyn Waiter) -> Got;
}

impl<S: Storage<u64> + Send + Sync + 'static> Bounded for GenericQueue<u64, S> {
    fn cap(&self) -> usize {
        self.capacity().unwrap()
    }
    fn len(&self) -> usize {
        GenericQueue::len(self)
    }
    fn close(&self) {
        GenericQueue::close(self)
    }
    fn put_blocking(&self, item: u64) {
        GenericQueue::put_blocking(self, item).unwrap()
    }
    fn try_put_for(&self, item: u64, timeout: Duration) -> Result<(), u64> {
        match GenericQueue::try_put_for(self, item, timeout) {
            Ok(()) => Ok(()),
            Err(TryPutError::Full(item)) => Err(item),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    fn get(&self) -> BoxFuture<'_, Option<u64>> {
        Box::pin(async move { GenericQueue::get(self).await.ok() })
    }
    fn try_get_for(&self, timeout: Duration) -> Got {
        got(GenericQueue::try_get_for(self, timeout))
    }
    fn get_with(&self, waiter: &dyn Waiter) -> Got {
        got(GenericQueue::get_with(self, waiter, None))
    }
}

fn got(result: Result<u64, TryGetError>) -> Got {
    match result {
        Ok(item) => Got::Item(item),
        Err(TryGetError::Closed) => Got::Closed,
        Err(_) => Got::Nothing,
    }
}

/// A channel's two ends behind one value.
struct Chan(channel::Sender<u64>, channel::Receiver<u64>);

impl Bounded for Chan {
    fn cap(&self) -> usize {
        self.0.capacity().unwrap()
    }
    fn len(&self) -> usize {
        self.1.len()
    }
    fn close(&self) {
        self.0.close()
    }
    fn put_blocking(&self, item: u64) {
        self.0.send_blocking(item).unwrap()
    }
    fn try_put_for(&self, item: u64, timeout: Duration) -> Result<(), u64> {
        match self.0.try_send_for(item, timeout) {
            Ok(()) => Ok(()),
            Err(channel::TrySendError::Full(item)) => Err(item),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    fn get(&self) -> BoxFuture<'_, Option<u64>> {
        Box::pin(async move { self.1.recv().await.ok() })
    }
    fn try_get_for(&self, timeout: Duration) -> Got {
        match self.1.try_recv_for(timeout) {
            Ok(item) => Got::Item(item),
            Err(channel::TryRecvError::Disconnected) => Got::Closed,
            Err(_) => Got::Nothing,
        }
    }
    fn get_with(&self, waiter: &dyn Waiter) -> Got {
        match self.1.recv_with(waiter, None) {
            Ok(item) => Got::Item(item),
            Err(channel::TryRecvError::Disconnected) => Got::Closed,
            Err(_) => Got::Nothing,
        }
    }
}

/// A waiter that yields a little, then reports cancellation: the `_with`
/// form withdraws (returning an item handed over meanwhile).
struct Cancelling(ThreadWaiter);

impl Waiter for Cancelling {
    fn waker(&self) -> Waker {
        self.0.waker()
    }
    fn wait(&self, _deadline: Option<Instant>) -> WaitResult {
        std::thread::yield_now();
        WaitResult::Cancelled
    }
}

/// What the storm records.
struct Log<Q> {
    q: Q,
    /// The largest `len()` any observer saw.
    max_len: AtomicUsize,
    received: Mutex<Vec<(usize, u64)>>,
    done: AtomicBool,
}

impl<Q: Bounded> Log<Q> {
    fn observe(&self) {
        self.max_len.fetch_max(self.q.len(), Ordering::Relaxed);
    }
    fn record(&self, consumer: usize, item: u64) {
        self.received.lock().unwrap().push((consumer, item));
        self.observe();
    }
}

/// One receive attempt by a thread consumer, in a form picked by `rng`;
/// `false` once the queue is closed and drained.
fn thread_receive<Q: Bounded>(log: &Log<Q>, me: usize, rng: &mut Rng) -> bool {
    let q = &log.q;
    let outcome = match rng.below(4) {
        // A future polled once or twice, then dropped (a hand-off may land
        // in between and is given back).
        0 => {
            let mut cx = Context::from_waker(Waker::noop());
            let mut fut = q.get();
            let mut outcome = Got::Nothing;
            for _ in 0..=rng.below(2) {
                match fut.as_mut().poll(&mut cx) {
                    Poll::Ready(Some(item)) => {
                        outcome = Got::Item(item);
                        break;
                    }
                    Poll::Ready(None) => {
                        outcome = Got::Closed;
                        break;
                    }
                    Poll::Pending => std::thread::yield_now(),
                }
            }
            outcome
        }
        1 => q.try_get_for(Duration::from_micros(rng.below(200))),
        2 => q.get_with(&Cancelling(ThreadWaiter::new())),
        _ => match futures_lite::future::block_on(q.get()) {
            Some(item) => Got::Item(item),
            None => Got::Closed,
        },
    };
    match outcome {
        Got::Item(item) => log.record(me, item),
        Got::Nothing => log.observe(),
        Got::Closed => return false,
    }
    true
}

/// One receive attempt by a tokio consumer: a timed-out `get`, a `select!`
/// that drops it, or a plain `get`.
async fn task_receive<Q: Bounded>(log: &Log<Q>, me: usize, pick: u64, wait_us: u64) -> bool {
    let q = &log.q;
    let outcome = match pick % 3 {
        0 => match tokio::time::timeout(Duration::from_micros(wait_us), q.get()).await {
            Ok(Some(item)) => Got::Item(item),
            Ok(None) => Got::Closed,
            Err(_) => Got::Nothing,
        },
        1 => tokio::select! {
            got = q.get() => match got {
                Some(item) => Got::Item(item),
                None => Got::Closed,
            },
            () = tokio::task::yield_now() => Got::Nothing,
        },
        _ => match q.get().await {
            Some(item) => Got::Item(item),
            None => Got::Closed,
        },
    };
    match outcome {
        Got::Item(item) => log.record(me, item),
        Got::Nothing => log.observe(),
        Got::Closed => return false,
    }
    true
}

/// Runs the storm on `q` with `threads` thread consumers and `tasks` tokio
/// consumers for about `budget` (at most `max_items` items), then checks
/// the bound, exactly-once delivery and (`fifo`) the order.
fn storm<Q: Bounded>(name: &'static str, q: Q, threads: usize, tasks: usize, fifo: bool) {
    let budget = Duration::from_millis(700);
    let max_items: u64 = 20_000;
    let _watchdog = Watchdog::new(name, Duration::from_secs(60));
    let cap = q.cap();
    let log = Arc::new(Log {
        q,
        max_len: AtomicUsize::new(0),
        received: Mutex::new(Vec::new()),
        done: AtomicBool::new(false),
    });
    let rt = worlds::multi_thread_rt();
    let producer = {
        let log = log.clone();
        std::thread::spawn(move || {
            let mut rng = Rng::new(7);
            let end = Instant::now() + budget;
            let mut sent = 0;
            while sent < max_items && Instant::now() < end {
                if rng.below(2) == 0 {
                    log.q.put_blocking(sent);
                } else {
                    let mut item = sent;
                    while let Err(back) = log
                        .q
                        .try_put_for(item, Duration::from_micros(rng.below(100)))
                    {
                        item = back;
                        log.observe();
                    }
                }
                log.observe();
                sent += 1;
            }
            log.q.close();
            sent
        })
    };
    let observer = {
        let log = log.clone();
        std::thread::spawn(move || {
            while !log.done.load(Ordering::Relaxed) {
                log.observe();
                std::thread::yield_now();
            }
        })
    };
    let thread_consumers: Vec<_> = (0..threads)
        .map(|me| {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut rng = Rng::new(100 + me as u64);
                while thread_receive(&log, me, &mut rng) {}
            })
        })
        .collect();
    let task_consumers: Vec<_> = (0..tasks)
        .map(|i| {
            let log = log.clone();
            let me = threads + i;
            rt.spawn(async move {
                let mut rng = Rng::new(200 + me as u64);
                while task_receive(&log, me, rng.next(), rng.below(200)).await {}
            })
        })
        .collect();
    let sent = producer.join().unwrap();
    for consumer in thread_consumers {
        consumer.join().unwrap();
    }
    for consumer in task_consumers {
        rt.block_on(consumer).unwrap();
    }
    log.done.store(true, Ordering::Relaxed);
    observer.join().unwrap();

    let max_len = log.max_len.load(Ordering::Relaxed);
    assert!(
        max_len <= cap,
        "{name}: len() reached {max_len} > capacity {cap}"
    );
    let received = log.received.lock().unwrap();
    assert!(sent > 100, "{name}: the storm moved too few items: {sent}");
    let mut items: Vec<u64> = received.iter().map(|&(_, item)| item).collect();
    if fifo {
        assert_eq!(items, (0..sent).collect::<Vec<_>>(), "{name}: FIFO broken");
    }
    items.sort_unstable();
    assert_eq!(
        items,
        (0..sent).collect::<Vec<_>>(),
        "{name}: lost or duplicated"
    );
}

#[test]
fn storm_queue_threads_and_tasks() {
    storm("storm_queue", Queue::bounded(2), 2, 2, false);
}

#[test]
fn storm_queue_one_consumer_keeps_fifo() {
    storm("storm_queue_fifo_thread", Queue::bounded(1), 1, 0, true);
    storm("storm_queue_fifo_task", Queue::bounded(2), 0, 1, true);
}

#[test]
fn storm_lifo() {
    storm("storm_lifo", LifoQueue::bounded(2), 2, 2, false);
}

#[test]
fn storm_priority() {
    storm("storm_priority", PriorityQueue::bounded(3), 2, 2, false);
}

#[test]
fn storm_channel() {
    let (tx, rx) = channel::bounded(2);
    storm("storm_channel", Chan(tx, rx), 2, 2, false);
    let (tx, rx) = channel::bounded(1);
    storm("storm_channel_fifo", Chan(tx, rx), 1, 0, true);
}
