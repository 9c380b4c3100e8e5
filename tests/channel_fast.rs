//! The lock-free ring of bounded FIFO queues and channels (issue 18 item 2):
//! storms with random cancellation on both sides, from OS threads and tokio
//! tasks, that check exactly-once delivery, FIFO per producer (with one
//! consumer), and `len() <= capacity` at every observation; plus the
//! deterministic paths the ring adds (a give-back ahead of the ring's items,
//! `peek_with` against lock-free gets, closing against lock-free puts, work
//! tracking).
//!
//! No timing is asserted: the storms end by count, and a watchdog fails a
//! test that hangs.

#[path = "support/worlds.rs"]
mod worlds;

use polysync::Queue;
use polysync::channel;
use polysync::queue::{TryGetError, TryPutError};
use std::collections::HashMap;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use worlds::Watchdog;

/// Items per producer (fewer under Miri).
const PER_PRODUCER: u64 = if cfg!(miri) { 40 } else { 4_000 };

/// xorshift64: small, fast, good enough to pick actions.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// An item: producer in the high bits, sequence number in the low ones.
fn tag(producer: u64, seq: u64) -> u64 {
    producer << 32 | seq
}

/// The shared state of one storm.
struct Storm {
    q: Queue<u64>,
    cap: usize,
    /// Producers still running; the last one closes the queue.
    producing: AtomicUsize,
    /// Set once any observer saw `len() > cap`.
    over: AtomicBool,
    received: Mutex<Vec<(usize, u64)>>,
}

impl Storm {
    fn new(cap: usize, producers: usize) -> Arc<Storm> {
        Arc::new(Storm {
            q: Queue::bounded(cap),
            cap,
            producing: AtomicUsize::new(producers),
            over: AtomicBool::new(false),
            received: Mutex::new(Vec::new()),
        })
    }
    fn observe(&self) {
        if self.q.len() > self.cap {
            self.over.store(true, Ordering::Relaxed);
        }
    }
    fn record(&self, consumer: usize, item: u64) {
        self.received.lock().unwrap().push((consumer, item));
        self.observe();
    }
    fn producer_done(&self) {
        if self.producing.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.q.close();
        }
    }
}

/// A thread producer: blocking puts, `try_put` retried, timed puts, and put
/// futures polled once and cancelled (the item comes back and is put again).
fn thread_producer(s: &Storm, me: u64) {
    let mut rng = Rng::new(me + 11);
    let mut cx = Context::from_waker(Waker::noop());
    for seq in 0..PER_PRODUCER {
        let mut item = tag(me, seq);
        loop {
            let back = match rng.below(4) {
                0 => match s.q.put_blocking(item) {
                    Ok(()) => None,
                    Err(e) => panic!("closed while producing: {e:?}"),
                },
                1 => match s.q.try_put(item) {
                    Ok(()) => None,
                    Err(TryPutError::Full(back)) => Some(back),
                    Err(e) => panic!("unexpected {e:?}"),
                },
                2 => match s.q.try_put_for(item, Duration::from_micros(rng.below(50))) {
                    Ok(()) => None,
                    Err(TryPutError::Full(back)) => Some(back),
                    Err(e) => panic!("unexpected {e:?}"),
                },
                _ => {
                    let mut put = pin!(s.q.put(item));
                    match put.as_mut().poll(&mut cx) {
                        Poll::Ready(done) => {
                            done.expect("open");
                            None
                        }
                        // Withdrawn: the item comes back unless it went in.
                        Poll::Pending => put.cancel(),
                    }
                }
            };
            s.observe();
            match back {
                None => break,
                Some(back) => {
                    item = back;
                    std::thread::yield_now();
                }
            }
        }
    }
    s.producer_done();
}

/// A tokio producer: `put().await`, or a put dropped by `select!` against a
/// yield and cancelled to get its item back.
async fn task_producer(s: Arc<Storm>, me: u64) {
    let mut rng = Rng::new(me + 23);
    for seq in 0..PER_PRODUCER {
        let mut item = tag(me, seq);
        loop {
            if rng.below(2) == 0 {
                s.q.put(item).await.expect("open");
                break;
            }
            let mut put = pin!(s.q.put(item));
            let went_in = tokio::select! {
                biased;
                done = put.as_mut() => { done.expect("open"); true }
                () = tokio::task::yield_now() => false,
            };
            if went_in {
                break;
            }
            match put.cancel() {
                None => break, // it went in as it gave up
                Some(back) => item = back,
            }
            s.observe();
        }
        s.observe();
    }
    s.producer_done();
}

/// One receive by a thread consumer in a random form; `false` once the
/// queue is closed and drained.
fn thread_receive(s: &Storm, me: usize, rng: &mut Rng) -> bool {
    let q = &s.q;
    let got = match rng.below(5) {
        0 => q.get_blocking().map_err(|_| TryGetError::Closed),
        1 => q.try_get(),
        2 => q.try_get_for(Duration::from_micros(rng.below(100))),
        3 => {
            // A get future polled once or twice, then dropped: an item
            // handed to it in between is given back.
            let mut cx = Context::from_waker(Waker::noop());
            let mut get = pin!(q.get());
            let mut got = Err(TryGetError::Empty);
            for _ in 0..=rng.below(2) {
                if let Poll::Ready(done) = get.as_mut().poll(&mut cx) {
                    got = done.map_err(|_| TryGetError::Closed);
                    break;
                }
                std::thread::yield_now();
            }
            got
        }
        _ => {
            // Pinned and cancelled: the item comes back to the caller.
            let mut cx = Context::from_waker(Waker::noop());
            let mut get = pin!(q.get());
            match get.as_mut().poll(&mut cx) {
                Poll::Ready(done) => done.map_err(|_| TryGetError::Closed),
                Poll::Pending => match get.cancel() {
                    Some(item) => Ok(item),
                    None => Err(TryGetError::Empty),
                },
            }
        }
    };
    match got {
        Ok(item) => s.record(me, item),
        Err(TryGetError::Closed) => return false,
        Err(_) => s.observe(),
    }
    true
}

/// One receive by a tokio consumer: a plain `get`, or one dropped by
/// `select!` against a yield.
async fn task_receive(s: &Storm, me: usize, pick: u64) -> bool {
    let got = if pick % 2 == 0 {
        s.q.get().await.map_err(|_| TryGetError::Closed)
    } else {
        tokio::select! {
            got = s.q.get() => got.map_err(|_| TryGetError::Closed),
            () = tokio::task::yield_now() => Err(TryGetError::Empty),
        }
    };
    match got {
        Ok(item) => s.record(me, item),
        Err(TryGetError::Closed) => return false,
        Err(_) => s.observe(),
    }
    true
}

/// Checks exactly-once delivery of every producer's items and, when
/// `fifo`, that each consumer saw each producer's items in order.
fn check(s: &Storm, producers: &[u64], fifo: bool) {
    assert!(
        !s.over.load(Ordering::Relaxed),
        "len() exceeded the capacity {}",
        s.cap
    );
    let received = s.received.lock().unwrap();
    let mut count: HashMap<u64, usize> = HashMap::new();
    let mut last: HashMap<(usize, u64), u64> = HashMap::new();
    for &(consumer, item) in received.iter() {
        *count.entry(item).or_default() += 1;
        let (producer, seq) = (item >> 32, item & 0xFFFF_FFFF);
        if fifo {
            if let Some(&before) = last.get(&(consumer, producer)) {
                assert!(
                    seq > before,
                    "consumer {consumer}: producer {producer}'s {seq} after {before}"
                );
            }
            last.insert((consumer, producer), seq);
        }
    }
    for &p in producers {
        for seq in 0..PER_PRODUCER {
            let n = count.get(&tag(p, seq)).copied().unwrap_or(0);
            assert_eq!(n, 1, "producer {p}'s item {seq} delivered {n} times");
        }
    }
    assert_eq!(received.len() as u64, producers.len() as u64 * PER_PRODUCER);
}

/// Starts an observer thread that reads `len()` until `stop`.
fn observer(s: &Arc<Storm>, stop: &Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    let (s, stop) = (s.clone(), stop.clone());
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            s.observe();
            std::thread::yield_now();
        }
    })
}

/// Three producers (two threads, one tokio task) and one thread consumer
/// with every form and random cancellation: exactly once, FIFO per
/// producer, within the capacity.
fn one_consumer_storm(cap: usize) {
    let _watchdog = Watchdog::new("one_consumer_storm", Duration::from_secs(60));
    let s = Storm::new(cap, 3);
    let rt = worlds::multi_thread_rt();
    let stop = Arc::new(AtomicBool::new(false));
    let obs = observer(&s, &stop);
    let producers: Vec<_> = (0..2)
        .map(|p| {
            let s = s.clone();
            std::thread::spawn(move || thread_producer(&s, p))
        })
        .collect();
    let task = rt.spawn(task_producer(s.clone(), 2));
    let mut rng = Rng::new(99);
    while thread_receive(&s, 0, &mut rng) {}
    for p in producers {
        p.join().unwrap();
    }
    rt.block_on(task).unwrap();
    stop.store(true, Ordering::Relaxed);
    obs.join().unwrap();
    check(&s, &[0, 1, 2], true);
    assert_eq!((s.q.len(), s.q.getting(), s.q.putting()), (0, 0, 0));
}

#[test]
fn one_consumer_storm_cap_1() {
    one_consumer_storm(1);
}

#[test]
fn one_consumer_storm_cap_3() {
    one_consumer_storm(3);
}

/// Two producers, two thread consumers and two tokio consumers, every form
/// with random cancellation: exactly once, within the capacity.
#[test]
fn many_consumers_storm() {
    let _watchdog = Watchdog::new("many_consumers_storm", Duration::from_secs(60));
    let s = Storm::new(2, 2);
    let rt = worlds::multi_thread_rt();
    let stop = Arc::new(AtomicBool::new(false));
    let obs = observer(&s, &stop);
    let producer = {
        let s = s.clone();
        std::thread::spawn(move || thread_producer(&s, 0))
    };
    let task_producer = rt.spawn(task_producer(s.clone(), 1));
    let consumers: Vec<_> = (0..2)
        .map(|c| {
            let s = s.clone();
            std::thread::spawn(move || {
                let mut rng = Rng::new(c as u64 + 5);
                while thread_receive(&s, c, &mut rng) {}
            })
        })
        .collect();
    let tasks: Vec<_> = (2..4)
        .map(|c| {
            let s = s.clone();
            rt.spawn(async move {
                let mut pick = c as u64;
                while task_receive(&s, c, pick).await {
                    pick = pick.wrapping_mul(31).wrapping_add(7);
                }
            })
        })
        .collect();
    producer.join().unwrap();
    for c in consumers {
        c.join().unwrap();
    }
    rt.block_on(async {
        task_producer.await.unwrap();
        for t in tasks {
            t.await.unwrap();
        }
    });
    stop.store(true, Ordering::Relaxed);
    obs.join().unwrap();
    check(&s, &[0, 1], false);
}

/// A give-back goes out before the items the ring still holds, and keeps
/// its place: a lock-free put cannot take it.
#[test]
fn give_back_goes_before_the_ring() {
    let q = Queue::bounded(3);
    let mut cx = Context::from_waker(Waker::noop());
    {
        let mut get = pin!(q.get());
        assert!(get.as_mut().poll(&mut cx).is_pending());
        q.try_put(1).unwrap(); // handed to the waiting get
        q.try_put(2).unwrap(); // into the ring
        q.try_put(3).unwrap();
        assert_eq!(q.try_put(4), Err(TryPutError::Full(4)));
    } // dropped with 1: given back
    assert_eq!(q.len(), 3);
    assert_eq!(q.try_put(4), Err(TryPutError::Full(4)));
    assert_eq!(q.try_get(), Ok(1));
    assert_eq!(q.try_get(), Ok(2));
    q.try_put(4).unwrap();
    assert_eq!(q.try_get(), Ok(3));
    assert_eq!(q.try_get(), Ok(4));
    assert_eq!(q.try_get(), Err(TryGetError::Empty));
}

/// `peek_with` moves the next item out of the ring; a get still takes it
/// first, and a get future that took a later item takes it instead.
#[test]
fn peek_keeps_the_order() {
    let q = Queue::bounded(4);
    for i in 0..4 {
        q.try_put(i).unwrap();
    }
    assert_eq!(q.peek(), Some(0));
    assert_eq!(q.len(), 4);
    assert_eq!(q.try_get(), Ok(0));
    assert_eq!(q.peek(), Some(1));
    assert_eq!(futures_lite::future::block_on(q.get()), Ok(1));
    assert_eq!(q.get_blocking(), Ok(2));
    assert_eq!(q.peek(), Some(3));
    assert_eq!(q.close_immediately(), [3]);
    assert_eq!(q.peek(), None);
}

/// Closing fails later lock-free puts and keeps what is in: gets drain it,
/// `close_immediately` returns it, and a closed put gives its item back.
#[test]
fn close_against_lock_free_puts() {
    let q = Queue::bounded(4);
    q.try_put(1).unwrap();
    q.try_put(2).unwrap();
    q.close();
    assert_eq!(q.try_put(3), Err(TryPutError::Closed(3)));
    assert_eq!(futures_lite::future::block_on(q.put(4)).unwrap_err().0, 4);
    assert_eq!(q.try_get(), Ok(1));
    assert_eq!(q.close_immediately(), [2]);
    assert_eq!(q.try_get(), Err(TryGetError::Closed));
    // 1 was taken, not marked done; 2 was returned by close_immediately.
    assert_eq!(q.unfinished_tasks(), 1);
    q.task_done().unwrap();
    assert!(q.try_join());
}

/// Work tracking through the lock-free paths: every item put is a task
/// until `task_done`, and `join` sees the count reach zero.
#[test]
fn tasks_through_the_ring() {
    let _watchdog = Watchdog::new("tasks_through_the_ring", Duration::from_secs(30));
    let q = Arc::new(Queue::bounded(2));
    assert!(q.try_join());
    q.try_put(1).unwrap();
    assert!(!q.try_join());
    assert_eq!(q.unfinished_tasks(), 1);
    let n = if cfg!(miri) { 20 } else { 2_000 };
    let consumer = {
        let q = q.clone();
        std::thread::spawn(move || {
            for _ in 0..n + 1 {
                q.get_blocking().unwrap();
                q.task_done().unwrap();
            }
        })
    };
    for i in 0..n {
        q.put_blocking(i).unwrap();
    }
    q.join_blocking();
    assert_eq!(q.unfinished_tasks(), 0);
    consumer.join().unwrap();
    assert!(q.task_done().is_err());
}

/// The channel runs on the same ring: a bounded channel between threads
/// keeps order and capacity.
#[test]
fn channel_spsc_keeps_order() {
    let _watchdog = Watchdog::new("channel_spsc_keeps_order", Duration::from_secs(30));
    let (tx, rx) = channel::bounded(4);
    let n = if cfg!(miri) { 50 } else { 20_000u64 };
    let producer = std::thread::spawn(move || {
        for i in 0..n {
            tx.send_blocking(i).unwrap();
        }
    });
    for i in 0..n {
        assert!(rx.len() <= 4);
        assert_eq!(rx.recv_blocking(), Ok(i));
    }
    producer.join().unwrap();
    assert!(rx.recv_blocking().is_err());
}

/// A lock-free put finds a waiting getter (after storing its item) and
/// hands it the oldest item; getters are served in arrival order.
#[test]
fn lock_free_put_serves_waiting_getters() {
    let q = Queue::bounded(2);
    let mut cx = Context::from_waker(Waker::noop());
    let mut a = pin!(q.get());
    let mut b = pin!(q.get());
    assert!(a.as_mut().poll(&mut cx).is_pending());
    assert!(b.as_mut().poll(&mut cx).is_pending());
    assert_eq!(q.getting(), 2);
    q.try_put(1).unwrap();
    q.try_put(2).unwrap();
    assert_eq!(q.getting(), 0);
    assert_eq!(q.len(), 0);
    // Both places are held by the getters' items.
    assert_eq!(q.try_put(3), Err(TryPutError::Full(3)));
    assert_eq!(b.as_mut().poll(&mut cx), Poll::Ready(Ok(2)));
    assert_eq!(a.as_mut().poll(&mut cx), Poll::Ready(Ok(1)));
    q.try_put(3).unwrap();
}
