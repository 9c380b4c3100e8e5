//! The queue's `Stream` (cargo feature `stream`) and the cancel-safe ways
//! to give up a put or get (`Put::cancel`, `Get::cancel`).
#![cfg(feature = "stream")]

#[path = "support/soak.rs"]
mod soak;
#[path = "support/worlds.rs"]
mod worlds;

use futures_lite::StreamExt;
use futures_lite::future::{self, FutureExt};
use polysync::queue::{Queue, TryGetError};
use polysync::{LifoQueue, PriorityQueue};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};
use worlds::{Watchdog, multi_thread_rt, wait_until};

#[test]
fn stream_collects_items_from_every_world_and_ends_at_close() {
    let _w = Watchdog::new("stream", Duration::from_secs(60));
    const PER: u64 = 1000;
    let rt = multi_thread_rt();
    let q = Arc::new(Queue::bounded(8));
    // Two streams consume at once: one in a tokio task, one in a
    // futures-lite thread; producers: a thread and a tokio task.
    let tokio_stream = {
        let q = q.clone();
        rt.spawn(async move { q.stream().collect::<Vec<u64>>().await })
    };
    let lite_stream = {
        let q = q.clone();
        thread::spawn(move || future::block_on(q.stream().collect::<Vec<u64>>()))
    };
    let producer_task = {
        let q = q.clone();
        rt.spawn(async move {
            for i in 0..PER {
                q.put(i).await.unwrap();
            }
        })
    };
    for i in PER..2 * PER {
        q.put_blocking(i).unwrap();
    }
    rt.block_on(producer_task).unwrap();
    q.close();
    let a = rt.block_on(tokio_stream).unwrap();
    let b = lite_stream.join().unwrap();
    // Each stream sees each producer's items in order.
    for got in [&a, &b] {
        let firsts: Vec<_> = got.iter().filter(|&&i| i < PER).collect();
        assert!(firsts.windows(2).all(|w| w[0] < w[1]));
        let seconds: Vec<_> = got.iter().filter(|&&i| i >= PER).collect();
        assert!(seconds.windows(2).all(|w| w[0] < w[1]));
    }
    let mut all: Vec<u64> = a.into_iter().chain(b).collect();
    all.sort_unstable();
    assert_eq!(all, (0..2 * PER).collect::<Vec<_>>());
}

#[test]
fn stream_is_fused_and_follows_the_storage_order() {
    future::block_on(async {
        let q = PriorityQueue::unbounded();
        for i in [3, 1, 2] {
            q.try_put(i).unwrap();
        }
        q.close();
        let mut s = q.stream();
        assert_eq!(s.next().await, Some(1));
        assert_eq!(s.next().await, Some(2));
        assert_eq!(s.next().await, Some(3));
        assert_eq!(s.next().await, None);
        assert!(futures_core::FusedStream::is_terminated(&s));
        assert_eq!(s.next().await, None);
    });
}

#[test]
fn dropped_stream_gives_a_handed_item_back() {
    let q = LifoQueue::unbounded();
    let mut cx = Context::from_waker(Waker::noop());
    {
        let mut s = pin!(q.stream());
        assert!(s.as_mut().poll_next(&mut cx).is_pending());
        q.try_put(1).unwrap(); // handed to the stream's waiting get
        assert_eq!(q.len(), 0);
    }
    assert_eq!(q.try_get(), Ok(1));
}

#[test]
fn cancelled_put_gives_the_item_back_or_reports_it_put() {
    let q = Queue::bounded(1);
    let mut cx = Context::from_waker(Waker::noop());

    // Never polled: the item comes straight back.
    let mut put = pin!(q.put(1));
    assert_eq!(put.as_mut().cancel(), Some(1));

    // Put at once: nothing to give back.
    let mut put = pin!(q.put(2));
    assert_eq!(put.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
    assert_eq!(put.as_mut().cancel(), None);

    // Waiting, then a get moves its item in: it was put.
    let mut put = pin!(q.put(3));
    assert!(put.as_mut().poll(&mut cx).is_pending());
    assert_eq!(q.try_get(), Ok(2));
    assert_eq!(put.as_mut().cancel(), None);
    assert_eq!(q.try_get(), Ok(3));

    // Waiting, then closed: the item comes back.
    q.try_put(4).unwrap();
    let mut put = pin!(q.put(5));
    assert!(put.as_mut().poll(&mut cx).is_pending());
    q.close();
    assert_eq!(put.as_mut().cancel(), Some(5));
    assert_eq!(q.try_get(), Ok(4));
    assert_eq!(q.try_get(), Err(TryGetError::Closed));
}

/// Async puts and gets across worlds give up on random timeouts through
/// `cancel()` instead of dropping: then not a single item may be dropped.
/// received + left in the queue + given back by `cancel` == put, exactly.
/// The storm goes on (bounded) until a `Get::cancel` gave back an item that
/// had been handed to it, so that path really ran. `POLYSYNC_SOAK=1`: see
/// tests/support/soak.rs.
#[test]
fn cancel_storm_drops_nothing() {
    let _w = Watchdog::new("cancel storm", soak::watchdog(Duration::from_secs(60)));
    let started = Instant::now();
    let rt = multi_thread_rt();
    let q = Arc::new(Queue::<Item>::bounded(2));
    let dropped = Arc::new(AtomicUsize::new(0));
    let put_ids = Arc::new(Mutex::new(Vec::new()));
    let back = Arc::new(Mutex::new(Vec::new()));
    let received = Arc::new(Mutex::new(Vec::new()));
    let budget = Arc::new(soak::Budget::new(Duration::from_millis(1200)));
    // Gets that timed out after an item was handed to them (`cancel` gave it).
    let handed_back = Arc::new(AtomicU64::new(0));
    let going = {
        let (budget, handed_back) = (budget.clone(), handed_back.clone());
        move || budget.running_until(|| handed_back.load(Ordering::Relaxed) > 0)
    };

    let producer = |k: u64| {
        let (q, dropped, put_ids, back, going, budget) = (
            q.clone(),
            dropped.clone(),
            put_ids.clone(),
            back.clone(),
            going.clone(),
            budget.clone(),
        );
        async move {
            let mut rng = k * 0x9E37_79B9 + 1;
            let mut seq = 0;
            while going() {
                let id = k << 32 | seq;
                seq += 1;
                put_ids.lock().unwrap().push(id);
                let item = Item(id, dropped.clone());
                let mut put = pin!(q.put(item));
                let limit = Duration::from_micros(next(&mut rng) % 200);
                let timed_out = async { (&mut put).await.map(|_| false).unwrap_or(false) }
                    .or(async {
                        async_io::Timer::after(limit).await;
                        true
                    })
                    .await;
                if timed_out {
                    back.lock()
                        .unwrap()
                        .extend(put.as_mut().cancel().map(Item::take));
                }
                budget.add(1);
            }
        }
    };
    let consumer = |k: u64| {
        let (q, received, going, budget, handed_back) = (
            q.clone(),
            received.clone(),
            going.clone(),
            budget.clone(),
            handed_back.clone(),
        );
        async move {
            let mut rng = k * 0x85EB_CA6B + 7;
            let mut got = Vec::new();
            while going() {
                let mut get = pin!(q.get());
                let limit = Duration::from_micros(next(&mut rng) % 200);
                let outcome = async { Some((&mut get).await) }
                    .or(async {
                        async_io::Timer::after(limit).await;
                        None
                    })
                    .await;
                match outcome {
                    Some(Ok(item)) => got.push(item.take()),
                    Some(Err(e)) => panic!("never closed: {e}"),
                    // Timed out: keep what was handed over meanwhile.
                    None => {
                        if let Some(item) = get.as_mut().cancel() {
                            handed_back.fetch_add(1, Ordering::Relaxed);
                            got.push(item.take());
                        }
                    }
                }
                budget.add(1);
            }
            received.lock().unwrap().extend(got);
        }
    };
    let tasks = [rt.spawn(producer(0)), rt.spawn(consumer(0))];
    let threads = [
        thread::spawn({
            let p = producer(1);
            move || future::block_on(p)
        }),
        thread::spawn({
            let c = consumer(1);
            move || future::block_on(c)
        }),
    ];
    for t in threads {
        t.join().unwrap();
    }
    for t in tasks {
        rt.block_on(t).unwrap();
    }
    wait_until("waiters to leave", || q.getting() == 0 && q.putting() == 0);
    let mut accounted: Vec<u64> = received.lock().unwrap().clone();
    let moved = accounted.len();
    accounted.extend(back.lock().unwrap().iter().copied());
    while let Ok(item) = q.try_get() {
        accounted.push(item.take());
    }
    accounted.sort_unstable();
    let mut put_ids = put_ids.lock().unwrap().clone();
    put_ids.sort_unstable();
    eprintln!(
        "cancel storm: {:?}, {} operations: {} put, {moved} received, {} given back by \
         cancelled puts, {} by cancelled gets",
        started.elapsed(),
        budget.ops(),
        put_ids.len(),
        back.lock().unwrap().len(),
        handed_back.load(Ordering::Relaxed),
    );
    assert_eq!(dropped.load(Ordering::SeqCst), 0, "an item was dropped");
    assert!(moved > 100, "the storm moved too few items: {moved}");
    assert!(
        handed_back.load(Ordering::Relaxed) > 0,
        "no cancelled get gave back a handed item (within {:?} more)",
        soak::GRACE
    );
    assert_eq!(accounted, put_ids, "items lost or duplicated");
}

/// An item that counts its drops unless taken.
struct Item(u64, Arc<AtomicUsize>);

impl Item {
    fn take(mut self) -> u64 {
        std::mem::replace(&mut self.0, TAKEN)
    }
}

const TAKEN: u64 = u64::MAX;

impl Drop for Item {
    fn drop(&mut self) {
        if self.0 != TAKEN {
            self.1.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}
