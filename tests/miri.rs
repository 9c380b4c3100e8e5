//! The Miri-sized integration set: small scenarios that reach the unsafe
//! parts of the core (intrusive nodes, hand-off slots, entries reached from
//! a node pointer, the node moving from a condition's queue to a lock's) from
//! more than one thread, with futures dropped at the awkward moments.
//!
//! `.ci/run` runs this file under Miri with Stacked Borrows and with Tree
//! Borrows, over several seeds; it also runs natively with the rest of the
//! suite. No tokio runtime here: futures are polled by hand (a no-op or
//! counting waker) or by `futures_lite::future::block_on`, and threads are
//! std threads, all of which Miri runs. Iteration counts are small under
//! `cfg(miri)`.
//!
//! It holds the scenarios that issue 8 found undefined behaviour in (defect
//! 1: a notifier read an entry through a pointer derived from its node alone;
//! defect 2: a data race on `Node::data` between a condition waiter and the
//! lock's release) and the panicking-waker scenario of defect 6.

#[path = "support/worlds.rs"]
mod worlds;

use futures_lite::future::{block_on, poll_once};
use polysync::{Condition, Event, Lock, Mutex, Queue, RLock, Semaphore};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

/// Rounds of the two-thread scenarios: enough for Miri's scheduler to try a
/// few interleavings per seed (the seeds do the rest), many natively.
const ROUNDS: usize = if cfg!(miri) { 4 } else { 500 };

/// A native run fails instead of hanging on a lost wake-up; Miri reports a
/// deadlock by itself (and a watchdog thread would only slow it down).
fn watchdog(name: &'static str) -> Option<worlds::Watchdog> {
    (!cfg!(miri)).then(|| worlds::Watchdog::new(name, Duration::from_secs(30)))
}

fn poll<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

fn poll_with<F: Future + ?Sized>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

/// Spins (yielding) until `cond` holds; Miri's scheduler runs the others.
fn spin_until(mut cond: impl FnMut() -> bool) {
    while !cond() {
        thread::yield_now();
    }
}

/// A waker that records that it was woken.
#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, SeqCst);
    }
}

/// A waker whose `wake` panics (user code the library must survive).
struct Panicker;

impl Wake for Panicker {
    fn wake(self: Arc<Self>) {
        panic!("this waker panics on purpose");
    }
}

// ---------------------------------------------------------------------------
// (a) A condition waiter notified, then dropped before it is polled again.
// ---------------------------------------------------------------------------

/// The lock is free at `notify`, so the waiter is handed it directly; the
/// dropped waiter gives the lock back and passes the notification on.
#[test]
fn condition_waiter_handed_the_lock_then_dropped() {
    let (m, c) = (Mutex::new(0u32), Condition::new());
    let mut first = Box::pin(c.wait(m.lock_blocking()));
    assert!(poll(first.as_mut()).is_pending());
    let mut second = Box::pin(c.wait(m.lock_blocking()));
    assert!(poll(second.as_mut()).is_pending());
    assert!(!m.is_locked());
    assert_eq!(c.notify(1), 1);
    assert!(m.is_locked(), "handed to the notified waiter");
    drop(first);
    // The notification was passed on to the second waiter, with the lock.
    match poll(second.as_mut()) {
        Poll::Ready(mut guard) => *guard += 1,
        Poll::Pending => panic!("the dropped waiter's notification was lost"),
    }
    drop(second);
    assert!(!m.is_locked());
    assert_eq!(*m.lock_blocking(), 1);
}

/// The lock is held at `notify`, so the waiter is moved to the lock's queue;
/// dropped there, it leaves that queue and passes the notification on.
#[test]
fn condition_waiter_moved_to_the_lock_queue_then_dropped() {
    let (lock, c) = (Lock::new(), Condition::new());
    let mut first = Box::pin(c.wait(lock.acquire_blocking()));
    assert!(poll(first.as_mut()).is_pending());
    let mut second = Box::pin(c.wait(lock.acquire_blocking()));
    assert!(poll(second.as_mut()).is_pending());
    let held = lock.acquire_blocking();
    assert_eq!(c.notify(1), 1);
    assert_eq!(lock.waiting(), 1, "moved to the lock's queue");
    drop(first);
    assert_eq!(c.waiting(), 0, "the notification went to the second waiter");
    drop(held);
    assert!(poll(second.as_mut()).is_ready());
    drop(second);
    assert!(!lock.is_locked());
}

/// The same with an `RLock` guard of two levels: the waiter gets both back.
#[test]
fn condition_rlock_waiter_notified_then_dropped() {
    let (rlock, c) = (RLock::new(), Condition::new());
    let outer = rlock.acquire_blocking();
    let inner = rlock.acquire_blocking();
    std::mem::forget(inner); // two levels, given up together below
    let mut waiter = Box::pin(c.wait(outer));
    assert!(poll(waiter.as_mut()).is_pending());
    assert!(!rlock.is_locked());
    assert_eq!(c.notify(1), 1);
    drop(waiter);
    assert!(
        !rlock.is_locked(),
        "the dropped waiter released every level"
    );
    assert!(rlock.try_acquire().is_some());
}

// ---------------------------------------------------------------------------
// (b) A queue getter handed an item, then dropped: the item goes back.
// ---------------------------------------------------------------------------

#[test]
fn queue_getter_handed_an_item_then_dropped() {
    let q = Queue::unbounded();
    let mut get = Box::pin(q.get());
    assert!(poll(get.as_mut()).is_pending());
    q.try_put(String::from("item")).unwrap(); // straight into the getter's slot
    drop(get);
    assert_eq!(q.try_get().as_deref(), Ok("item"), "the item went back");
    assert!(q.is_empty());
}

/// With a second getter waiting, the dropped getter's item goes to it.
#[test]
fn queue_dropped_getter_passes_its_item_to_the_next() {
    let q = Queue::unbounded();
    let mut first = Box::pin(q.get());
    let mut second = Box::pin(q.get());
    assert!(poll(first.as_mut()).is_pending());
    assert!(poll(second.as_mut()).is_pending());
    q.try_put(Box::new(7)).unwrap();
    drop(first);
    match poll(second.as_mut()) {
        Poll::Ready(Ok(item)) => assert_eq!(*item, 7),
        other => panic!("expected the item, got {other:?}"),
    }
    assert!(q.is_empty());
}

/// A getter refills a full queue from a waiting putter's slot.
#[test]
fn queue_putter_emptied_by_a_getter() {
    let q = Queue::bounded(1);
    q.try_put(vec![1]).unwrap();
    let mut put = Box::pin(q.put(vec![2]));
    assert!(poll(put.as_mut()).is_pending());
    assert_eq!(q.try_get(), Ok(vec![1]));
    assert!(matches!(poll(put.as_mut()), Poll::Ready(Ok(()))));
    assert_eq!(q.try_get(), Ok(vec![2]));
}

// ---------------------------------------------------------------------------
// (c) A condition waiter re-polled while another thread locks, notifies and
// unlocks: the waiter reads its node under the condition's queue lock while
// the release writes it under the lock's queue lock.
// ---------------------------------------------------------------------------

#[test]
fn condition_waiter_repolled_while_another_thread_notifies() {
    let _dog = watchdog("condition_waiter_repolled_while_another_thread_notifies");
    let shared = Arc::new((Mutex::new(0usize), Condition::new()));
    for round in 1..=ROUNDS {
        let notifier = {
            let shared = shared.clone();
            thread::spawn(move || {
                let (m, c) = &*shared;
                spin_until(|| c.waiting() == 1);
                let mut guard = m.lock_blocking();
                *guard = round;
                assert_eq!(c.notify(1), 1);
                drop(guard); // hands the lock to the waiter, in the lock's queue
            })
        };
        let (m, c) = &*shared;
        let mut wait = Box::pin(c.wait(m.lock_blocking()));
        let guard = loop {
            match poll(wait.as_mut()) {
                Poll::Ready(guard) => break guard,
                Poll::Pending => thread::yield_now(),
            }
        };
        assert_eq!(*guard, round);
        drop(guard);
        notifier.join().unwrap();
    }
}

#[test]
fn condition_rlock_waiter_repolled_while_another_thread_notifies() {
    let _dog = watchdog("condition_rlock_waiter_repolled_while_another_thread_notifies");
    let shared = Arc::new((RLock::new(), Condition::new(), AtomicUsize::new(0)));
    for round in 1..=ROUNDS {
        let notifier = {
            let shared = shared.clone();
            thread::spawn(move || {
                let (rlock, c, value) = &*shared;
                spin_until(|| c.waiting() == 1);
                let guard = rlock.acquire_blocking();
                value.store(round, SeqCst);
                assert_eq!(c.notify(1), 1);
                drop(guard);
            })
        };
        let (rlock, c, value) = &*shared;
        let mut wait = Box::pin(c.wait(rlock.acquire_blocking()));
        let guard = loop {
            match poll(wait.as_mut()) {
                Poll::Ready(guard) => break guard,
                Poll::Pending => thread::yield_now(),
            }
        };
        assert!(rlock.is_owned_by_current_unit());
        assert_eq!(value.load(SeqCst), round);
        drop(guard);
        notifier.join().unwrap();
    }
}

/// Blocking waiters and a notifier on two threads (no re-polling in between,
/// so this one does not reach defect 2): the ordinary condition hand-off.
#[test]
fn condition_blocking_ping_pong() {
    let _dog = watchdog("condition_blocking_ping_pong");
    let shared = Arc::new((Mutex::new((0usize, false)), Condition::new()));
    let consumer = {
        let shared = shared.clone();
        thread::spawn(move || {
            let (m, c) = &*shared;
            for expected in 1..=ROUNDS {
                let mut g = c.wait_while_blocking(m.lock_blocking(), |g| !g.1);
                assert_eq!(g.0, expected);
                g.1 = false;
                c.notify_all();
            }
        })
    };
    let (m, c) = &*shared;
    for round in 1..=ROUNDS {
        let mut g = c.wait_while_blocking(m.lock_blocking(), |g| g.1);
        *g = (round, true);
        c.notify_all();
    }
    consumer.join().unwrap();
}

// ---------------------------------------------------------------------------
// (d) Lock, semaphore, event and queue hand-offs across two threads, with
// futures dropped mid-wait.
// ---------------------------------------------------------------------------

/// Another thread releases the lock into a queued future, which is then
/// dropped without being polled: the lock must be released again.
#[test]
fn lock_handed_to_a_future_dropped_on_another_thread() {
    // Strict hand-off: the release gives the lock to the queued future
    // (with bounded fairness it would only wake it, and the future stays
    // queued until it retries: tests/lock_bounded.rs covers that drop).
    let lock = Arc::new(Lock::new_fair());
    for _ in 0..ROUNDS {
        let guard = lock.acquire_blocking();
        let waiter = {
            let lock = lock.clone();
            thread::spawn(move || {
                let mut acquire = Box::pin(lock.acquire());
                assert!(poll(acquire.as_mut()).is_pending());
                spin_until(|| lock.waiting() == 0);
                drop(acquire); // notified (or about to be): passes the lock on
            })
        };
        spin_until(|| lock.waiting() == 1);
        drop(guard); // hand-off to the other thread's future
        waiter.join().unwrap();
        assert!(!lock.is_locked(), "the hand-off was lost with the future");
        drop(lock.try_acquire().expect("free again"));
    }
}

/// Two threads share a `Mutex<u64>`; some acquisitions are async futures
/// polled once and dropped, racing the hand-off. Miri checks exclusion on
/// the plain `u64` with its race detector.
#[test]
fn mutex_contention_with_cancelled_futures() {
    let _dog = watchdog("mutex_contention_with_cancelled_futures");
    let m = Arc::new(Mutex::new(0u64));
    let done = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..2)
        .map(|id| {
            let (m, done) = (m.clone(), done.clone());
            thread::spawn(move || {
                let mut mine = 0;
                for i in 0..ROUNDS {
                    match (i + id) % 3 {
                        0 => {
                            *m.lock_blocking() += 1;
                            mine += 1;
                        }
                        1 => block_on(async {
                            *m.lock().await += 1;
                            mine += 1;
                        }),
                        _ => {
                            if let Some(mut g) = block_on(poll_once(m.lock())) {
                                *g += 1;
                                mine += 1;
                            }
                        }
                    }
                }
                done.fetch_add(mine, SeqCst);
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert!(!m.is_locked());
    assert_eq!(*m.lock_blocking(), done.load(SeqCst) as u64);
}

/// A permit released into a queued future that is then dropped goes back.
#[test]
fn semaphore_permit_handed_to_a_dropped_future() {
    let sem = Arc::new(Semaphore::new(0));
    for _ in 0..ROUNDS {
        let mut acquire = Box::pin(sem.acquire());
        assert!(poll(acquire.as_mut()).is_pending());
        let releaser = {
            let sem = sem.clone();
            thread::spawn(move || sem.release(1))
        };
        releaser.join().unwrap();
        assert_eq!(sem.value(), 0, "handed to the queued future");
        drop(acquire);
        assert_eq!(sem.value(), 1, "the dropped future gave its permit back");
        sem.try_acquire().expect("one permit").forget();
    }
}

/// Two threads take and give permits of a two-permit semaphore, some with
/// futures polled once and dropped; no permit is lost or made up.
#[test]
fn semaphore_contention_with_cancelled_futures() {
    let _dog = watchdog("semaphore_contention_with_cancelled_futures");
    let sem = Arc::new(Semaphore::new(1));
    let inside = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..2)
        .map(|id| {
            let (sem, inside) = (sem.clone(), inside.clone());
            thread::spawn(move || {
                for i in 0..ROUNDS {
                    let permit = match (i + id) % 2 {
                        0 => Some(sem.acquire_blocking().unwrap()),
                        _ => block_on(poll_once(sem.acquire())).map(Result::unwrap),
                    };
                    if let Some(permit) = permit {
                        assert_eq!(inside.fetch_add(1, SeqCst), 0, "two holders of one permit");
                        inside.fetch_sub(1, SeqCst);
                        drop(permit);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(sem.value(), 1);
    assert_eq!(sem.waiting(), 0);
}

/// Event: of two queued futures one is dropped, then another thread sets
/// the event; the other one completes and nothing stays queued.
#[test]
fn event_set_from_another_thread_with_a_dropped_waiter() {
    for _ in 0..ROUNDS {
        let event = Arc::new(Event::new());
        let flag = Arc::new(Flag::default());
        let waker = Waker::from(flag.clone());
        let mut kept = Box::pin(event.wait());
        let mut dropped = Box::pin(event.wait());
        assert!(poll_with(kept.as_mut(), &waker).is_pending());
        assert!(poll(dropped.as_mut()).is_pending());
        let setter = {
            let event = event.clone();
            thread::spawn(move || assert!(event.set()))
        };
        drop(dropped); // may race the set
        setter.join().unwrap();
        assert!(flag.0.load(SeqCst), "the kept waiter was woken");
        assert!(poll(kept.as_mut()).is_ready());
        assert_eq!(event.waiting(), 0);
    }
}

/// Blocking waiters on one thread, async waiters on another, one setter.
#[test]
fn event_wakes_blocking_and_async_waiters() {
    let _dog = watchdog("event_wakes_blocking_and_async_waiters");
    for _ in 0..ROUNDS {
        let event = Arc::new(Event::new());
        let blocking = {
            let event = event.clone();
            thread::spawn(move || event.wait_blocking())
        };
        let asynchronous = {
            let event = event.clone();
            thread::spawn(move || block_on(event.wait()))
        };
        event.set();
        blocking.join().unwrap();
        asynchronous.join().unwrap();
    }
}

/// A producer and a consumer thread; some gets are futures polled once and
/// dropped (possibly after an item was handed to them). Every item arrives
/// exactly once.
#[test]
fn queue_items_survive_cancelled_getters_across_threads() {
    let _dog = watchdog("queue_items_survive_cancelled_getters_across_threads");
    let q = Arc::new(Queue::bounded(2));
    let producer = {
        let q = q.clone();
        thread::spawn(move || {
            for i in 0..ROUNDS {
                if i % 2 == 0 {
                    q.put_blocking(Box::new(i)).unwrap();
                } else {
                    block_on(q.put(Box::new(i))).unwrap();
                }
            }
        })
    };
    let mut got = Vec::new();
    let mut i = 0;
    while got.len() < ROUNDS {
        i += 1;
        let item = match i % 3 {
            0 => Some(q.get_blocking().unwrap()),
            1 => block_on(poll_once(q.get())).map(Result::unwrap),
            _ => block_on(q.get()).ok(),
        };
        got.extend(item.map(|b| *b));
    }
    producer.join().unwrap();
    got.sort_unstable();
    assert_eq!(got, (0..ROUNDS).collect::<Vec<_>>());
    assert!(q.is_empty());
}

// ---------------------------------------------------------------------------
// (e) A waker that panics while `Event::set` wakes: the rest still complete.
// ---------------------------------------------------------------------------

fn panicking_waker_then(normal: usize) {
    let event = Event::new();
    let panicker = Waker::from(Arc::new(Panicker));
    let mut first = Box::pin(event.wait());
    assert!(poll_with(first.as_mut(), &panicker).is_pending());
    let flags: Vec<_> = (0..normal).map(|_| Arc::new(Flag::default())).collect();
    let mut rest: Vec<_> = flags
        .iter()
        .map(|flag| {
            let mut wait = Box::pin(event.wait());
            assert!(poll_with(wait.as_mut(), &Waker::from(flag.clone())).is_pending());
            wait
        })
        .collect();
    let set = catch_unwind(AssertUnwindSafe(|| event.set()));
    assert!(set.is_err(), "the waker's panic reaches the caller of set");
    assert!(event.is_set());
    for (i, (wait, flag)) in rest.iter_mut().zip(&flags).enumerate() {
        assert!(flag.0.load(SeqCst), "waiter {i} was never woken");
        assert!(poll(wait.as_mut()).is_ready(), "waiter {i} is stranded");
    }
    assert_eq!(event.waiting(), 0);
    drop(first);
}

/// Fewer waiters than one wake batch.
#[test]
fn event_set_survives_a_panicking_waker() {
    panicking_waker_then(3);
}

/// More waiters than one wake batch (16): the panic must not end the loop.
#[test]
fn event_set_survives_a_panicking_waker_before_many() {
    panicking_waker_then(20);
}
