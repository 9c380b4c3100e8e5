//! `LifoQueue`, `PriorityQueue`, `SimpleQueue`, `peek`, and work tracking
//! (`task_done`/`join`) across worlds: OS threads, tokio tasks on a
//! 2-worker runtime, and `futures_lite::block_on` tasks in threads.

#[path = "support/worlds.rs"]
mod worlds;

use polysync::queue::{GenericQueue, GetError, Storage, TaskDoneError, TryGetError};
use polysync::{LifoQueue, PriorityQueue, Queue, SimpleQueue};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;
use worlds::{Watchdog, multi_thread_rt, wait_until};

/// One getter of each kind, started in this order (each is queued before
/// the next starts); returns their results in the same order.
fn three_waiting_getters<S>(q: &Arc<GenericQueue<u32, S>>, rt: &tokio::runtime::Runtime) -> Vec<u32>
where
    S: Storage<u32> + Send + 'static,
{
    let thread_getter = {
        let q = q.clone();
        thread::spawn(move || q.get_blocking().unwrap())
    };
    wait_until("the thread getter to wait", || q.getting() == 1);
    let task_getter = {
        let q = q.clone();
        rt.spawn(async move { q.get().await.unwrap() })
    };
    wait_until("the tokio getter to wait", || q.getting() == 2);
    let lite_getter = {
        let q = q.clone();
        thread::spawn(move || futures_lite::future::block_on(q.get()).unwrap())
    };
    wait_until("the futures-lite getter to wait", || q.getting() == 3);
    // A put may wait: an item handed to a getter keeps its place in the
    // capacity until that getter returns it (tests/queue_capacity.rs).
    for item in [10, 20, 30] {
        q.put_blocking(item).unwrap();
    }
    vec![
        thread_getter.join().unwrap(),
        rt.block_on(task_getter).unwrap(),
        lite_getter.join().unwrap(),
    ]
}

#[test]
fn lifo_order_and_waiting_getters_served_fifo() {
    let _w = Watchdog::new("lifo", Duration::from_secs(30));
    let q = Arc::new(LifoQueue::bounded(8));
    for i in 0..5 {
        q.try_put(i).unwrap();
    }
    assert_eq!(q.peek(), Some(4));
    let got: Vec<u32> = (0..5).map(|_| q.try_get().unwrap()).collect();
    assert_eq!(got, [4, 3, 2, 1, 0]);

    // Getters already waiting: each put goes straight to the oldest getter,
    // whatever its world, so arrival order decides, not the stack order.
    let rt = multi_thread_rt();
    assert_eq!(three_waiting_getters(&q, &rt), [10, 20, 30]);
    assert!(q.is_empty());
}

#[test]
fn lifo_waiting_putter_item_comes_out_next() {
    let _w = Watchdog::new("lifo putter", Duration::from_secs(30));
    let q = Arc::new(LifoQueue::bounded(2));
    q.try_put(1).unwrap();
    q.try_put(2).unwrap();
    let putter = {
        let q = q.clone();
        thread::spawn(move || q.put_blocking(3).unwrap())
    };
    wait_until("the putter to wait", || q.putting() == 1);
    // The get frees a slot; the waiting putter's item moves in on top.
    assert_eq!(q.try_get(), Ok(2));
    putter.join().unwrap();
    assert_eq!(q.try_get(), Ok(3));
    assert_eq!(q.try_get(), Ok(1));
}

#[test]
fn priority_order_smallest_first() {
    let q = PriorityQueue::unbounded();
    // A fixed permutation of 0..64.
    let items: Vec<u32> = (0..64).map(|i| (i * 37) % 64).collect();
    for &i in &items {
        q.try_put(i).unwrap();
    }
    assert_eq!(q.peek(), Some(0));
    assert_eq!(q.peek_with(|x| x + 1), Some(1));
    let got: Vec<u32> = (0..64).map(|_| q.try_get().unwrap()).collect();
    assert_eq!(got, (0..64).collect::<Vec<_>>());

    let largest_first = PriorityQueue::unbounded();
    for i in [2, 9, 4] {
        largest_first.try_put(std::cmp::Reverse(i)).unwrap();
    }
    assert_eq!(largest_first.try_get(), Ok(std::cmp::Reverse(9)));
}

#[test]
fn priority_waiting_getters_then_waiting_putters() {
    let _w = Watchdog::new("priority", Duration::from_secs(30));
    let rt = multi_thread_rt();
    let q = Arc::new(PriorityQueue::bounded(2));
    assert_eq!(three_waiting_getters(&q, &rt), [10, 20, 30]);

    // Full with {5, 1}; a putter of 0 waits. A get takes 1, the putter's 0
    // moves in and is the next out, before 5.
    q.try_put(5).unwrap();
    q.try_put(1).unwrap();
    let putter = {
        let q = q.clone();
        rt.spawn(async move { q.put(0).await.unwrap() })
    };
    wait_until("the putter to wait", || q.putting() == 1);
    assert_eq!(q.get_blocking(), Ok(1));
    rt.block_on(putter).unwrap();
    assert_eq!(q.try_get(), Ok(0));
    assert_eq!(q.try_get(), Ok(5));
}

#[test]
fn dropped_getter_gives_its_item_back_as_next_out() {
    // A LIFO getter that was handed an item and then dropped: the item is
    // restored on top, so it is the next one out.
    let q = LifoQueue::unbounded();
    let mut get = Box::pin(q.get());
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    assert!(get.as_mut().poll(&mut cx).is_pending());
    q.try_put(7).unwrap(); // handed straight to the waiting getter
    assert_eq!(q.len(), 0);
    drop(get);
    q.try_put(8).unwrap();
    // 8 was pushed after 7 came back, so 8 is on top, then 7.
    assert_eq!(q.try_get(), Ok(8));
    assert_eq!(q.try_get(), Ok(7));

    // FIFO: the restored item goes to the front, ahead of later puts.
    let q = Queue::unbounded();
    let mut get = Box::pin(q.get());
    assert!(get.as_mut().poll(&mut cx).is_pending());
    q.try_put(1).unwrap();
    drop(get);
    q.try_put(2).unwrap();
    assert_eq!(q.try_get(), Ok(1));
    assert_eq!(q.try_get(), Ok(2));
}

use std::future::Future;

#[test]
fn join_waits_for_every_task_done_across_worlds() {
    let _w = Watchdog::new("join", Duration::from_secs(60));
    const ITEMS: usize = 300;
    let rt = multi_thread_rt();
    let q = Arc::new(Queue::unbounded());
    let processed = Arc::new(AtomicUsize::new(0));

    // Producers: this thread and a tokio task. Everything is put before the
    // consumers start, so the count cannot touch zero before the end (a
    // join returns whenever it does, as in Python).
    let producer_task = {
        let q = q.clone();
        rt.spawn(async move {
            for i in 0..ITEMS / 2 {
                q.put(i).await.unwrap();
            }
        })
    };
    for i in ITEMS / 2..ITEMS {
        q.put_blocking(i).unwrap();
    }
    rt.block_on(producer_task).unwrap();
    assert_eq!(q.unfinished_tasks(), ITEMS);

    // Joiners of three kinds.
    let join_thread = {
        let (q, processed) = (q.clone(), processed.clone());
        thread::spawn(move || {
            q.join_blocking();
            processed.load(Ordering::SeqCst)
        })
    };
    let join_task = {
        let (q, processed) = (q.clone(), processed.clone());
        rt.spawn(async move {
            q.join().await;
            processed.load(Ordering::SeqCst)
        })
    };
    let join_lite = {
        let (q, processed) = (q.clone(), processed.clone());
        thread::spawn(move || {
            futures_lite::future::block_on(q.join());
            processed.load(Ordering::SeqCst)
        })
    };
    assert!(!q.try_join_for(Duration::from_millis(5)));

    // Consumers of two kinds mark each item done after counting it.
    let consumer_thread = {
        let (q, processed) = (q.clone(), processed.clone());
        thread::spawn(move || {
            while q.get_blocking().is_ok() {
                processed.fetch_add(1, Ordering::SeqCst);
                q.task_done().unwrap();
            }
        })
    };
    let consumer_task = {
        let (q, processed) = (q.clone(), processed.clone());
        rt.spawn(async move {
            while q.get().await.is_ok() {
                processed.fetch_add(1, Ordering::SeqCst);
                q.task_done().unwrap();
            }
        })
    };

    // Every joiner returns only after all ITEMS were processed.
    assert_eq!(join_thread.join().unwrap(), ITEMS);
    assert_eq!(rt.block_on(join_task).unwrap(), ITEMS);
    assert_eq!(join_lite.join().unwrap(), ITEMS);
    assert!(q.try_join());
    assert_eq!(q.unfinished_tasks(), 0);
    assert_eq!(q.task_done(), Err(TaskDoneError));

    q.close();
    consumer_thread.join().unwrap();
    rt.block_on(consumer_task).unwrap();
}

#[test]
fn unfinished_counts_puts_handed_over_and_moved_in() {
    let _w = Watchdog::new("unfinished", Duration::from_secs(30));
    // A put handed to a waiting getter counts, and so does a waiting
    // putter's item moved in by a get.
    let q = Arc::new(Queue::bounded(1));
    let getter = {
        let q = q.clone();
        thread::spawn(move || q.get_blocking().unwrap())
    };
    wait_until("the getter to wait", || q.getting() == 1);
    q.try_put(1).unwrap();
    assert_eq!(getter.join().unwrap(), 1);
    assert_eq!(q.unfinished_tasks(), 1);

    q.try_put(2).unwrap();
    let putter = {
        let q = q.clone();
        thread::spawn(move || q.put_blocking(3).unwrap())
    };
    wait_until("the putter to wait", || q.putting() == 1);
    assert_eq!(q.unfinished_tasks(), 2); // the waiting item is not in yet
    assert_eq!(q.try_get(), Ok(2));
    putter.join().unwrap();
    assert_eq!(q.unfinished_tasks(), 3);
    // Failed puts do not count.
    assert!(q.try_put(4).is_err());
    assert_eq!(q.unfinished_tasks(), 3);
    for left in [2, 1, 0] {
        assert_eq!(q.task_done(), Ok(left));
    }
    assert!(q.try_join_until(std::time::Instant::now()));
}

/// A ring queue (bounded FIFO) counts its tasks by the ring's tail and
/// `task_done`s, and a put that finds every task done clears `all_done`
/// before its item can be seen: `try_join` follows every crossing of zero,
/// a put refused by a close counts nothing, and a `task_done` too many
/// changes nothing.
#[test]
fn ring_join_follows_every_crossing_of_zero() {
    let q = Queue::bounded(4);
    assert!(q.try_join());
    for round in 0..3u32 {
        q.try_put(round).unwrap();
        assert_eq!(q.unfinished_tasks(), 1);
        assert!(!q.try_join(), "round {round}: a put after all done");
        q.try_put(round + 10).unwrap();
        assert_eq!(q.try_get(), Ok(round));
        assert_eq!(q.try_get(), Ok(round + 10));
        assert_eq!(q.task_done(), Ok(1));
        assert!(!q.try_join());
        assert_eq!(q.task_done(), Ok(0));
        assert!(q.try_join());
        assert_eq!(q.task_done(), Err(TaskDoneError));
        assert!(q.try_join());
        assert_eq!(q.unfinished_tasks(), 0);
    }
    q.close();
    assert!(q.try_put(7).is_err());
    assert_eq!(q.unfinished_tasks(), 0);
    assert!(q.try_join());
}

#[test]
fn simple_queue_conserves_items_across_worlds() {
    let _w = Watchdog::new("simple", Duration::from_secs(60));
    const PER: u64 = 2000;
    let rt = multi_thread_rt();
    let q = Arc::new(SimpleQueue::new());
    // Consumers: a thread, a tokio task, a futures-lite thread; each takes
    // items until it sees its stop marker (u64::MAX).
    let thread_consumer = {
        let q = q.clone();
        thread::spawn(move || {
            let mut got = Vec::new();
            loop {
                match q.get_blocking() {
                    u64::MAX => return got,
                    item => got.push(item),
                }
            }
        })
    };
    let task_consumer = {
        let q = q.clone();
        rt.spawn(async move {
            let mut got = Vec::new();
            loop {
                match q.get().await {
                    u64::MAX => return got,
                    item => got.push(item),
                }
            }
        })
    };
    let lite_consumer = {
        let q = q.clone();
        thread::spawn(move || {
            futures_lite::future::block_on(async {
                let mut got = Vec::new();
                loop {
                    match q.get().await {
                        u64::MAX => return got,
                        item => got.push(item),
                    }
                }
            })
        })
    };
    let producer_task = {
        let q = q.clone();
        rt.spawn(async move {
            for i in 0..PER {
                q.put(i);
                if i % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    let producer_thread = {
        let q = q.clone();
        thread::spawn(move || (PER..2 * PER).for_each(|i| q.put(i)))
    };
    producer_thread.join().unwrap();
    rt.block_on(producer_task).unwrap();
    for _ in 0..3 {
        q.put(u64::MAX);
    }
    let mut all = thread_consumer.join().unwrap();
    all.extend(rt.block_on(task_consumer).unwrap());
    all.extend(lite_consumer.join().unwrap());
    while let Some(item) = q.try_get() {
        assert_ne!(item, u64::MAX, "a stop marker was left over");
        all.push(item);
    }
    all.sort_unstable();
    assert_eq!(all, (0..2 * PER).collect::<Vec<_>>());
    assert_eq!(q.try_get_for(Duration::from_millis(1)), None);
}

#[test]
fn close_wakes_waiters_of_every_order() {
    let _w = Watchdog::new("close orders", Duration::from_secs(30));
    let lifo = Arc::new(LifoQueue::<u8>::unbounded());
    let prio = Arc::new(PriorityQueue::<u8>::bounded(1));
    prio.try_put(1).unwrap();
    let getter = {
        let lifo = lifo.clone();
        thread::spawn(move || lifo.get_blocking())
    };
    let putter = {
        let prio = prio.clone();
        thread::spawn(move || prio.put_blocking(2))
    };
    wait_until("both to wait", || {
        lifo.getting() == 1 && prio.putting() == 1
    });
    lifo.close();
    prio.close();
    assert_eq!(getter.join().unwrap(), Err(GetError));
    assert_eq!(putter.join().unwrap().unwrap_err().into_inner(), 2);
    assert_eq!(prio.try_get(), Ok(1));
    assert_eq!(prio.try_get(), Err(TryGetError::Closed));
}

#[test]
fn close_immediately_returns_items_wakes_putters_and_joiners() {
    let _w = Watchdog::new("close immediately", Duration::from_secs(30));
    let rt = multi_thread_rt();
    let q = Arc::new(PriorityQueue::bounded(2));
    q.try_put(9).unwrap();
    q.try_put(4).unwrap();
    let putter = {
        let q = q.clone();
        rt.spawn(async move { q.put(1).await })
    };
    let joiner = {
        let q = q.clone();
        thread::spawn(move || q.join_blocking())
    };
    wait_until("the putter to wait", || q.putting() == 1);
    // In get order, and nothing dropped: the waiting putter's item comes
    // back to it in the error.
    assert_eq!(q.close_immediately(), [4, 9]);
    // The untimed put's only error: closed, the item inside.
    let back: polysync::queue::PutError<i32> = rt.block_on(putter).unwrap().unwrap_err();
    assert_eq!(back.into_inner(), 1);
    joiner.join().unwrap(); // the drained items count as done
    assert_eq!(q.unfinished_tasks(), 0);
    assert_eq!(q.try_get(), Err(TryGetError::Closed));
    assert!(q.close_immediately().is_empty());
}
