//! `OnceCell`: exactly one initializer across worlds, tokio's rule for a
//! cancelled, failed or panicking initializer, and the wait forms.
//!
//! What is proven:
//! - Initializers in OS threads (blocking form), tokio tasks and
//!   futures-lite tasks (async forms) race on one cell while waiters of every
//!   wait form wait for the value: exactly one initializer runs, everybody
//!   returns its value, and nobody stays queued.
//! - A cancelled (dropped) async initializer, a failing one and a
//!   panicking one (async and blocking) leave the cell empty, and the next
//!   initializer in line (already queued) runs its own.
//! - A `set` wakes a queued `wait`; a successful initializer wakes the
//!   queued initializers (blocking and async), who return its
//!   value without running theirs; `set` during an initialization reports
//!   `Initializing` and gives the value back.
//! - `wait_with` with a cancelled waiter and `try_wait_for` on an empty cell
//!   return without a value and leave no waiter queued.
//! - `take` empties the cell for a new initialization.
//!
//! Tests that cross threads have a watchdog; none reads the clock.

#[path = "support/probe.rs"]
mod probe;
use probe::{WakeCount, poll_with};
#[path = "support/worlds.rs"]
mod worlds;
use worlds::{Watchdog, multi_thread_rt, wait_until};

use polysync::lowlevel::{ThreadWaiter, WaitError, WaitResult, Waiter};
use polysync::once_cell::{InitError, SetError};
use polysync::{Event, OnceCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::task::{Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn exactly_one_initializer_across_worlds() {
    let _dog = Watchdog::new(
        "exactly_one_initializer_across_worlds",
        Duration::from_secs(30),
    );
    for round in 0..20 {
        let cell = Arc::new(OnceCell::<usize>::new());
        let inits = Arc::new(AtomicUsize::new(0));
        // The threads, the futures-lite thread and this one.
        let start = Arc::new(std::sync::Barrier::new(3 + 1 + 1));
        let mut threads = Vec::new();
        // Three threads: initializers (blocking forms) or waiters.
        for i in 0..3 {
            let (cell, inits, start) = (cell.clone(), inits.clone(), start.clone());
            threads.push(thread::spawn(move || {
                start.wait();
                match i {
                    0 => *cell.get_or_init_blocking(|| {
                        inits.fetch_add(1, SeqCst);
                        thread::yield_now();
                        100 + i
                    }),
                    1 => *cell.wait_blocking(),
                    _ => *cell
                        .try_wait_until(Instant::now() + Duration::from_secs(20))
                        .expect("set long before the deadline"),
                }
            }));
        }
        // Three tokio tasks on a 2-worker runtime.
        let rt = multi_thread_rt();
        let tasks: Vec<_> = (0..3)
            .map(|i| {
                let (cell, inits) = (cell.clone(), inits.clone());
                rt.spawn(async move {
                    if i == 2 {
                        return *cell.wait().await;
                    }
                    *cell
                        .get_or_init(|| async {
                            inits.fetch_add(1, SeqCst);
                            tokio::task::yield_now().await;
                            200 + i
                        })
                        .await
                })
            })
            .collect();
        // One futures-lite initializer on its own thread.
        let lite = {
            let (cell, inits, start) = (cell.clone(), inits.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                futures_lite::future::block_on(async {
                    *cell
                        .get_or_try_init(|| async {
                            inits.fetch_add(1, SeqCst);
                            futures_lite::future::yield_now().await;
                            Ok::<_, ()>(300)
                        })
                        .await
                        .unwrap()
                })
            })
        };
        start.wait();
        let mut seen: Vec<usize> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        for t in tasks {
            seen.push(rt.block_on(t).unwrap());
        }
        seen.push(lite.join().unwrap());
        assert_eq!(inits.load(SeqCst), 1, "round {round}: initializers run");
        let value = *cell.get().unwrap();
        assert!(seen.iter().all(|&v| v == value), "round {round}: {seen:?}");
        assert_eq!(cell.waiting(), 0);
    }
}

#[test]
fn cancelled_initializer_lets_the_next_in_line_try() {
    let cell = OnceCell::new();
    let gate = Event::new();
    let (_, w1) = WakeCount::new();
    let (woken2, w2) = WakeCount::new();
    let mut first = Box::pin(cell.get_or_init(|| async {
        gate.wait().await;
        1
    }));
    assert!(poll_with(first.as_mut(), &w1).is_pending()); // initializing
    let mut second = pin!(cell.get_or_init(|| async { 2 }));
    assert!(poll_with(second.as_mut(), &w2).is_pending()); // queued for its turn
    assert_eq!(woken2.get(), 0);
    drop(first); // cancelled while its initializer runs
    assert_eq!(woken2.get(), 1, "the next in line is woken");
    assert_eq!(poll_with(second.as_mut(), &w2), Poll::Ready(&2));
    assert_eq!(cell.get(), Some(&2));
}

#[test]
fn failed_initializer_lets_the_next_in_line_try() {
    let cell = OnceCell::new();
    let gate = Event::new();
    let (_, w1) = WakeCount::new();
    let (woken2, w2) = WakeCount::new();
    let mut first = pin!(cell.get_or_try_init(|| async {
        gate.wait().await;
        Err::<u32, _>("first failed")
    }));
    assert!(poll_with(first.as_mut(), &w1).is_pending());
    let mut second = pin!(cell.get_or_try_init(|| async { Ok::<_, &str>(2) }));
    assert!(poll_with(second.as_mut(), &w2).is_pending());
    gate.set();
    assert_eq!(
        poll_with(first.as_mut(), &w1),
        Poll::Ready(Err("first failed"))
    );
    assert_eq!(woken2.get(), 1, "the next in line is woken");
    assert_eq!(poll_with(second.as_mut(), &w2), Poll::Ready(Ok(&2)));
}

#[test]
fn panicking_async_initializer_lets_the_next_in_line_try() {
    let cell = OnceCell::new();
    let gate = Event::new();
    let (_, w1) = WakeCount::new();
    let (woken2, w2) = WakeCount::new();
    let mut first = Box::pin(cell.get_or_init(|| async {
        gate.wait().await;
        panic!("initializer panics");
    }));
    assert!(poll_with(first.as_mut(), &w1).is_pending());
    let mut second = pin!(cell.get_or_init(|| async { 2u8 }));
    assert!(poll_with(second.as_mut(), &w2).is_pending());
    gate.set();
    assert!(catch_unwind(AssertUnwindSafe(|| poll_with(first.as_mut(), &w1))).is_err());
    drop(first);
    assert_eq!(woken2.get(), 1, "the next in line is woken");
    assert_eq!(poll_with(second.as_mut(), &w2), Poll::Ready(&2));
}

#[test]
fn panicking_blocking_initializer_lets_the_next_one_try() {
    let _dog = Watchdog::new("panicking_blocking_initializer", Duration::from_secs(30));
    let cell = Arc::new(OnceCell::new());
    let started = Arc::new(Event::new());
    let go = Arc::new(Event::new());
    let panicker = {
        let (cell, started, go) = (cell.clone(), started.clone(), go.clone());
        thread::spawn(move || {
            catch_unwind(AssertUnwindSafe(|| {
                cell.get_or_init_blocking(|| {
                    started.set();
                    go.wait_blocking();
                    panic!("initializer panics")
                });
            }))
            .is_err()
        })
    };
    started.wait_blocking();
    let next = {
        let cell = cell.clone();
        thread::spawn(move || *cell.get_or_init_blocking(|| 7))
    };
    go.set();
    assert!(panicker.join().unwrap(), "the first initializer panicked");
    assert_eq!(next.join().unwrap(), 7);
    assert_eq!(cell.get(), Some(&7));
}

#[test]
fn success_wakes_the_queued_initializers_with_its_value() {
    let _dog = Watchdog::new(
        "success_wakes_the_queued_initializers",
        Duration::from_secs(30),
    );
    let cell = Arc::new(OnceCell::new());
    let started = Arc::new(Event::new());
    let go = Arc::new(Event::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let first = {
        let (cell, started, go, runs) = (cell.clone(), started.clone(), go.clone(), runs.clone());
        thread::spawn(move || {
            *cell.get_or_init_blocking(|| {
                runs.fetch_add(1, SeqCst);
                started.set();
                go.wait_blocking();
                1
            })
        })
    };
    started.wait_blocking();
    // Queued initializers: a thread (blocking) and a future.
    let queued = {
        let (cell, runs) = (cell.clone(), runs.clone());
        thread::spawn(move || {
            *cell.get_or_init_blocking(|| {
                runs.fetch_add(1, SeqCst);
                2
            })
        })
    };
    let (woken, w) = WakeCount::new();
    let mut fut = pin!(cell.get_or_init(|| async {
        runs.fetch_add(1, SeqCst);
        3
    }));
    assert!(poll_with(fut.as_mut(), &w).is_pending());
    assert!(matches!(cell.set(9), Err(SetError::Initializing(9))));
    go.set();
    assert_eq!(first.join().unwrap(), 1);
    assert_eq!(queued.join().unwrap(), 1);
    wait_until("the queued future is woken", || woken.get() > 0);
    assert_eq!(poll_with(fut.as_mut(), &w), Poll::Ready(&1));
    assert_eq!(runs.load(SeqCst), 1);
    assert!(matches!(cell.set(9), Err(SetError::AlreadyInitialized(9))));
}

#[test]
fn waiters_of_every_form_get_a_value_set_elsewhere() {
    let _dog = Watchdog::new("waiters_of_every_form", Duration::from_secs(30));
    let cell = Arc::new(OnceCell::new());
    let rt = multi_thread_rt();
    let mut threads = Vec::new();
    for i in 0..4 {
        let cell = cell.clone();
        threads.push(thread::spawn(move || match i {
            0 => *cell.wait_blocking(),
            1 => *cell.try_wait_for(Duration::from_secs(20)).unwrap(),
            2 => *cell
                .try_wait_until(Instant::now() + Duration::from_secs(20))
                .unwrap(),
            _ => ThreadWaiter::with_current(|w| *cell.wait_with(w, None).unwrap()),
        }));
    }
    let task = {
        let cell = cell.clone();
        rt.spawn(async move { *cell.wait().await })
    };
    let lite = {
        let cell = cell.clone();
        thread::spawn(move || futures_lite::future::block_on(async { *cell.wait().await }))
    };
    wait_until("six waiters queued", || cell.waiting() == 6);
    let setter = {
        let cell = cell.clone();
        rt.spawn(async move { cell.set(42) })
    };
    assert_eq!(rt.block_on(setter).unwrap(), Ok(()));
    for t in threads {
        assert_eq!(t.join().unwrap(), 42);
    }
    assert_eq!(rt.block_on(task).unwrap(), 42);
    assert_eq!(lite.join().unwrap(), 42);
    assert_eq!(cell.waiting(), 0);
}

/// A thread waiter that reports `Cancelled` once its flag is set.
struct Cancellable<'a>(&'a ThreadWaiter, &'a AtomicBool);

impl Waiter for Cancellable<'_> {
    fn waker(&self) -> Waker {
        self.0.waker()
    }
    fn wait(&self, deadline: Option<Instant>) -> WaitResult {
        if self.1.load(SeqCst) {
            return WaitResult::Cancelled;
        }
        self.0.wait(deadline)
    }
}

#[test]
fn giving_up_leaves_nothing_queued() {
    let _dog = Watchdog::new("giving_up_leaves_nothing_queued", Duration::from_secs(30));
    let cell = Arc::new(OnceCell::<u8>::new());
    assert_eq!(cell.try_wait_for(Duration::from_millis(1)), None);
    assert_eq!(cell.waiting(), 0);
    let cancel = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = {
        let (cell, cancel) = (cell.clone(), cancel.clone());
        thread::spawn(move || {
            ThreadWaiter::with_current(|w| {
                tx.send(w.waker()).unwrap();
                cell.wait_with(&Cancellable(w, &cancel), None).copied()
            })
        })
    };
    let waker = rx.recv().unwrap();
    wait_until("the waiter queued", || cell.waiting() == 1);
    cancel.store(true, SeqCst);
    waker.wake();
    assert_eq!(waiter.join().unwrap(), Err(WaitError::Cancelled));
    assert_eq!(cell.waiting(), 0);
    ThreadWaiter::with_current(|w| {
        let now = Some(Instant::now());
        assert_eq!(
            cell.get_or_try_init_with(w, now, || Err::<u8, _>("bad")),
            Err(InitError::Failed("bad"))
        );
        assert_eq!(cell.get_or_try_init_with(w, now, || Ok::<_, ()>(5)), Ok(&5));
    });
}

#[test]
fn take_empties_the_cell_for_a_new_initialization() {
    let mut cell = OnceCell::new();
    assert_eq!(cell.take(), None);
    assert_eq!(*cell.get_or_init_blocking(|| String::from("a")), "a");
    assert_eq!(cell.take().as_deref(), Some("a"));
    assert!(!cell.initialized());
    let value = futures_lite::future::block_on(cell.get_or_init(|| async { String::from("b") }));
    assert_eq!(value, "b");
    assert_eq!(cell.into_inner().as_deref(), Some("b"));
}

#[test]
fn set_wakes_a_polled_wait() {
    let cell = OnceCell::new();
    let (woken, w) = WakeCount::new();
    let mut wait = pin!(cell.wait());
    assert!(poll_with(wait.as_mut(), &w).is_pending());
    assert_eq!(cell.waiting(), 1);
    cell.set(4).unwrap();
    assert_eq!(woken.get(), 1, "the set wakes the queued wait");
    assert_eq!(poll_with(wait.as_mut(), &w), Poll::Ready(&4));
    assert_eq!(cell.waiting(), 0);
}

#[test]
fn success_wakes_a_queued_async_initializer() {
    let cell = OnceCell::new();
    let gate = Event::new();
    let (_, w1) = WakeCount::new();
    let (woken2, w2) = WakeCount::new();
    let mut first = pin!(cell.get_or_init(|| async {
        gate.wait().await;
        1
    }));
    assert!(poll_with(first.as_mut(), &w1).is_pending());
    let mut second = pin!(cell.get_or_init(|| async { unreachable!("the second never runs") }));
    assert!(poll_with(second.as_mut(), &w2).is_pending());
    gate.set();
    assert_eq!(poll_with(first.as_mut(), &w1), Poll::Ready(&1));
    assert_eq!(woken2.get(), 1, "the queued initializer is woken");
    assert_eq!(poll_with(second.as_mut(), &w2), Poll::Ready(&1));
}

#[test]
fn futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let cell = OnceCell::<String>::new();
    send_sync(&cell.wait());
    send_sync(&cell.get_or_init(|| async { String::new() }));
    send_sync(&cell.get_or_try_init(|| async { Ok::<_, ()>(String::new()) }));
    let notify = polysync::Notify::new();
    send_sync(&notify.notified());
}
