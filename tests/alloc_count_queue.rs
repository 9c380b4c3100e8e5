//! Proves that blocked puts and gets on a `Queue` (and on `LifoQueue`,
//! `PriorityQueue`, and a blocked `join`) allocate nothing after
//! warm-up: the entry (node + item slot) lives in the waiting stack frame or
//! the unboxed future, and a bounded queue's `VecDeque` never grows after its
//! first push. One thread produces, the other consumes, on a queue of
//! capacity 1, so both sides really wait (checked through `Seen`).
//!
//! This binary holds only allocation tests: the global allocator applies to
//! the whole binary.

use futures_lite::future::block_on;
use polysync::queue::{GenericQueue, Storage};
use polysync::{LifoQueue, PriorityQueue, Queue};
use std::sync::Arc;
use std::time::Duration;
#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::*;

fn produce_blocking<S: Storage<usize>>(q: &GenericQueue<usize, S>, n: usize, timed: bool) -> Seen {
    let mut seen = Seen::default();
    for i in 0..n {
        if let Err(e) = q.try_put(i) {
            seen.try_failed += 1;
            let item = e.into_inner();
            if timed {
                q.try_put_for(item, Duration::from_secs(30)).unwrap();
            } else {
                q.put_blocking(item).unwrap();
            }
        }
        if q.getting() > 0 || q.putting() > 0 {
            seen.saw_waiter += 1;
        }
        hold(i);
    }
    seen
}

fn consume_blocking<S: Storage<usize>>(q: &GenericQueue<usize, S>, n: usize, timed: bool) -> Seen {
    let mut seen = Seen::default();
    for i in 0..n {
        let item = match q.try_get() {
            Ok(item) => item,
            Err(_) => {
                seen.try_failed += 1;
                if timed {
                    q.try_get_for(Duration::from_secs(30)).unwrap()
                } else {
                    q.get_blocking().unwrap()
                }
            }
        };
        std::hint::black_box(item);
        if q.getting() > 0 || q.putting() > 0 {
            seen.saw_waiter += 1;
        }
        hold(i);
    }
    seen
}

async fn produce_async<S: Storage<usize>>(q: &GenericQueue<usize, S>, n: usize) -> Seen {
    let mut seen = Seen::default();
    for i in 0..n {
        if let Err(e) = q.try_put(i) {
            seen.try_failed += 1;
            q.put(e.into_inner()).await.unwrap();
        }
        if q.getting() > 0 || q.putting() > 0 {
            seen.saw_waiter += 1;
        }
        hold(i);
    }
    seen
}

async fn consume_async<S: Storage<usize>>(q: &GenericQueue<usize, S>, n: usize) -> Seen {
    let mut seen = Seen::default();
    for i in 0..n {
        let item = match q.try_get() {
            Ok(item) => item,
            Err(_) => {
                seen.try_failed += 1;
                q.get().await.unwrap()
            }
        };
        std::hint::black_box(item);
        if q.getting() > 0 || q.putting() > 0 {
            seen.saw_waiter += 1;
        }
        hold(i);
    }
    seen
}

#[test]
fn queue_blocking_put_get_allocates_nothing() {
    // Not spinning: a bounded queue spins before it waits by default, and
    // then its blocking waits rarely queue (the measure needs them to).
    let q = Arc::new(Queue::bounded(1).spinning(false));
    let qq = q.clone();
    two_threads("queue blocking", move |me, n| {
        if me == 0 {
            produce_blocking(&qq, n, false)
        } else {
            consume_blocking(&qq, n, false)
        }
    });
    assert!(q.is_empty());
    assert_eq!((q.getting(), q.putting()), (0, 0));
}

#[test]
fn queue_timed_put_get_allocates_nothing() {
    // Not spinning: a bounded queue spins before it waits by default, and
    // then its blocking waits rarely queue (the measure needs them to).
    let q = Arc::new(Queue::bounded(1).spinning(false));
    let qq = q.clone();
    two_threads("queue timed", move |me, n| {
        if me == 0 {
            produce_blocking(&qq, n, true)
        } else {
            consume_blocking(&qq, n, true)
        }
    });
    assert!(q.is_empty());
}

#[test]
fn queue_async_put_get_allocates_nothing() {
    let q = Arc::new(Queue::bounded(1));
    let qq = q.clone();
    two_threads("queue async", move |me, n| {
        if me == 0 {
            block_on(produce_async(&qq, n))
        } else {
            block_on(consume_async(&qq, n))
        }
    });
    assert!(q.is_empty());
}

#[test]
fn queue_mixed_worlds_allocate_nothing() {
    // An async producer and a blocking consumer, then the other way round.
    let q = Arc::new(Queue::bounded(1));
    let qq = q.clone();
    two_threads("queue async->blocking", move |me, n| {
        if me == 0 {
            block_on(produce_async(&qq, n))
        } else {
            consume_blocking(&qq, n, false)
        }
    });
    let qq = q.clone();
    two_threads("queue blocking->async", move |me, n| {
        if me == 0 {
            produce_blocking(&qq, n, false)
        } else {
            block_on(consume_async(&qq, n))
        }
    });
    assert!(q.is_empty());
}

#[test]
fn lifo_and_priority_mixed_worlds_allocate_nothing() {
    let lifo = Arc::new(LifoQueue::bounded(1));
    let q = lifo.clone();
    two_threads("lifo async->blocking", move |me, n| {
        if me == 0 {
            block_on(produce_async(&q, n))
        } else {
            consume_blocking(&q, n, false)
        }
    });
    let prio = Arc::new(PriorityQueue::bounded(1));
    let q = prio.clone();
    two_threads("priority blocking->async", move |me, n| {
        if me == 0 {
            produce_blocking(&q, n, true)
        } else {
            block_on(consume_async(&q, n))
        }
    });
    assert!(lifo.is_empty() && prio.is_empty());
}

#[test]
fn blocked_join_allocates_nothing() {
    // Thread 0 puts an item and joins (blocking and async in turn); thread 1
    // gets it and marks it done only once the joiner is queued (waiting at
    // most 20 ms for that), so the join really waits.
    let q = Arc::new(Queue::bounded(2));
    // The storage's one allocation, up front: during warm-up every item
    // may go straight to a waiting getter and never touch the storage.
    q.try_put(0).unwrap();
    q.try_get().unwrap();
    q.task_done().unwrap();
    let qq = q.clone();
    two_threads("queue join", move |me, n| {
        let mut seen = Seen::default();
        for i in 0..n {
            if me == 0 {
                qq.try_put(i).unwrap();
                if !qq.try_join() {
                    seen.try_failed += 1;
                }
                if i % 2 == 0 {
                    qq.join_blocking();
                } else {
                    block_on(qq.join());
                }
            } else {
                std::hint::black_box(qq.get_blocking().unwrap());
                hold(i);
                // Give the joiner time to queue (bounded), and count the
                // rounds where it really did.
                let deadline = std::time::Instant::now() + Duration::from_millis(20);
                while qq.joining() == 0 && std::time::Instant::now() < deadline {
                    std::thread::yield_now();
                }
                if qq.joining() > 0 {
                    seen.saw_waiter += 1;
                }
                qq.task_done().unwrap();
            }
        }
        seen
    });
    assert!(q.try_join());
}

#[test]
fn spinning_queue_allocates_nothing() {
    // With spinning on, a blocked side first polls the readiness bits,
    // then queues and parks: neither step allocates. A spin usually
    // succeeds, so the consumer makes sure every 8th put really queues:
    // it waits (yielding, bounded) until the producer shows up as a
    // queued putter before it takes the next item.
    let q = Arc::new(Queue::bounded(1).spinning(true));
    let qq = q.clone();
    two_threads("queue spinning", move |me, n| {
        if me == 0 {
            produce_blocking(&qq, n, false)
        } else {
            let mut seen = Seen::default();
            for i in 0..n {
                if i % 8 == 0 {
                    let deadline = std::time::Instant::now() + Duration::from_millis(20);
                    while qq.putting() == 0 && std::time::Instant::now() < deadline {
                        std::thread::yield_now();
                    }
                    if qq.putting() > 0 {
                        seen.saw_waiter += 1;
                    }
                }
                match qq.try_get() {
                    Ok(item) => {
                        std::hint::black_box(item);
                    }
                    Err(_) => {
                        seen.try_failed += 1;
                        std::hint::black_box(qq.get_blocking().unwrap());
                    }
                }
            }
            seen
        }
    });
    assert!(q.is_empty());
}
