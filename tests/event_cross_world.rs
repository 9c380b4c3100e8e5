//! `Event` and `lowlevel::Signal` across worlds.
//!
//! What is proven:
//! - One `Event` is waited on at the same time by OS threads (in all three
//!   blocking forms), tokio tasks (on a runtime in its own thread) and
//!   `futures_lite::block_on` tasks (in another thread); more waiters than one
//!   wake batch (16), so `set()` must loop over batches. A `set()` from a third
//!   thread wakes every one of them, exactly once; `waiting()` returns to 0;
//!   every later wait, of every form, completes on its first try.
//! - A never-set event: `try_wait_for` / `try_wait_until` / an async timeout
//!   return "not set" after (at least) the timeout and leave no waiter behind.
//! - `Signal`: `set()` is `true` for exactly one of many racing setters; a
//!   pre-set signal is waited instantly; a second wait of any form is
//!   `Err(SignalError::AlreadyWaited)`; a timed-out (or dropped) wait cancels it
//!   (`is_cancelled()`, later `set()` returns false); an async wait on tokio is
//!   woken by a `set()` from a plain thread.

#[path = "support/worlds.rs"]
mod worlds;
use worlds::Watchdog;

use futures_lite::future::poll_once;
use polysync::Event;
use polysync::lowlevel::{Signal, SignalError};
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

/// Polls `cond` every millisecond, at most 10 000 times (10 s), and panics if
/// it never held. Used to know that waiters are queued, never to measure time.
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..10_000 {
        if cond() {
            return;
        }
        thread::sleep(Duration::from_millis(1));
    }
    panic!("gave up waiting for: {what}");
}

/// Runs all futures concurrently on whatever executor polls it (a minimal
/// `join_all`, so several tasks share one `futures_lite::block_on`).
async fn join_all<F: Future<Output = ()>>(futures: Vec<F>) {
    let mut futures: Vec<Option<Pin<Box<F>>>> =
        futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for slot in &mut futures {
            if let Some(fut) = slot {
                if fut.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    pending = true;
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await
}

const THREADS: usize = 6;
const TOKIO_TASKS: usize = 10;
const BLOCK_ON_TASKS: usize = 6;
const ALL: usize = THREADS + TOKIO_TASKS + BLOCK_ON_TASKS;

#[test]
fn event_wakes_threads_tokio_tasks_and_block_on_tasks() {
    let _watchdog = Watchdog::new(
        "event_wakes_threads_tokio_tasks_and_block_on_tasks",
        Duration::from_secs(30),
    );
    let event = Arc::new(Event::new());
    let woken = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();

    // OS threads, in the three blocking forms (two of each).
    for i in 0..THREADS {
        let (event, woken) = (event.clone(), woken.clone());
        handles.push(thread::spawn(move || {
            match i % 3 {
                0 => event.wait_blocking(),
                1 => assert!(event.try_wait_for(Duration::from_secs(30))),
                _ => assert!(event.try_wait_until(Instant::now() + Duration::from_secs(30))),
            }
            assert!(event.is_set(), "a thread woke before the event was set");
            woken.fetch_add(1, Ordering::SeqCst);
        }));
    }

    // tokio tasks on a current-thread runtime in its own thread.
    {
        let (event, woken) = (event.clone(), woken.clone());
        handles.push(thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            rt.block_on(async move {
                let tasks: Vec<_> = (0..TOKIO_TASKS)
                    .map(|_| {
                        let (event, woken) = (event.clone(), woken.clone());
                        tokio::spawn(async move {
                            event.wait().await;
                            assert!(event.is_set(), "a task woke before the event was set");
                            woken.fetch_add(1, Ordering::SeqCst);
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
            });
        }));
    }

    // futures_lite::block_on tasks in another thread.
    {
        let (event, woken) = (event.clone(), woken.clone());
        handles.push(thread::spawn(move || {
            let tasks = (0..BLOCK_ON_TASKS)
                .map(|_| async {
                    event.wait().await;
                    assert!(event.is_set(), "a task woke before the event was set");
                    woken.fetch_add(1, Ordering::SeqCst);
                })
                .collect();
            futures_lite::future::block_on(join_all(tasks));
        }));
    }

    // Every waiter is queued, and none has passed.
    wait_until("all waiters queued", || event.waiting() == ALL);
    assert_eq!(woken.load(Ordering::SeqCst), 0);
    assert!(!event.is_set());
    assert!(!event.try_wait());

    // Set from a third thread.
    let setter = {
        let event = event.clone();
        thread::spawn(move || event.set())
    };
    assert!(setter.join().unwrap(), "the first set() must report true");
    assert!(!event.set(), "a second set() must report false");

    // Bounded, so that a waiter missed by set() fails the test instead of hanging it.
    wait_until("every waiter woken", || woken.load(Ordering::SeqCst) >= ALL);
    for handle in handles {
        handle.join().expect("a waiter panicked");
    }
    assert_eq!(woken.load(Ordering::SeqCst), ALL, "every waiter wakes once");
    assert_eq!(event.waiting(), 0);
    assert!(event.is_set());

    // Later waits of every form complete on their first try.
    assert!(event.try_wait());
    assert!(event.try_wait_for(Duration::ZERO));
    assert!(event.try_wait_until(Instant::now() - Duration::from_millis(1)));
    event.wait_blocking();
    assert_eq!(
        futures_lite::future::block_on(poll_once(event.wait())),
        Some(()),
        "an async wait on a set event must be ready on its first poll"
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(poll_once(event.wait())), Some(()));
    assert_eq!(event.waiting(), 0);
}

#[test]
fn never_set_event_times_out_in_every_form() {
    let _watchdog = Watchdog::new(
        "never_set_event_times_out_in_every_form",
        Duration::from_secs(30),
    );
    let event = Event::new();
    let timeout = Duration::from_millis(40);

    let start = Instant::now();
    assert!(!event.try_wait_for(timeout));
    assert!(start.elapsed() >= timeout, "returned before the timeout");
    assert_eq!(event.waiting(), 0, "a timed-out waiter stayed queued");

    let start = Instant::now();
    assert!(!event.try_wait_until(start + timeout));
    assert!(start.elapsed() >= timeout, "returned before the deadline");
    assert_eq!(event.waiting(), 0);

    assert!(!event.try_wait_for(Duration::ZERO));
    assert!(!event.try_wait());
    assert_eq!(event.waiting(), 0);

    // An async wait under tokio's timeout: queued, then withdrawn.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut wait = pin!(event.wait());
        assert!(poll_once(wait.as_mut()).await.is_none());
        assert_eq!(event.waiting(), 1, "the pending wait is queued");
        assert!(tokio::time::timeout(timeout, wait).await.is_err());
    });
    assert_eq!(event.waiting(), 0, "a dropped future stayed queued");

    // The event still works after all those cancellations.
    assert!(event.set());
    assert!(event.try_wait_for(Duration::ZERO));
}

#[test]
fn signal_set_is_true_for_exactly_one_racing_setter() {
    let _watchdog = Watchdog::new(
        "signal_set_is_true_for_exactly_one_racing_setter",
        Duration::from_secs(30),
    );
    const SETTERS: usize = 6;
    for round in 0..50 {
        let signal = Arc::new(Signal::new());
        let barrier = Arc::new(Barrier::new(SETTERS + 1));
        // Round 0 mod 4: a thread calls wait_blocking as the race starts
        // (`Signal` shows no waiter count, so whether it is parked yet is up
        // to the scheduler). Round 2 mod 4: a thread whose wait certainly
        // registered (its first poll was pending) blocks on it before the
        // race starts. Odd rounds: nobody waits yet.
        let waiter = match round % 4 {
            0 => {
                let signal = signal.clone();
                Some(thread::spawn(move || signal.wait_blocking()))
            }
            2 => {
                let (registered_tx, registered_rx) = std::sync::mpsc::channel();
                let signal = signal.clone();
                let waiter = thread::spawn(move || {
                    futures_lite::future::block_on(async {
                        let mut wait = pin!(signal.wait());
                        assert!(poll_once(wait.as_mut()).await.is_none());
                        registered_tx.send(()).unwrap();
                        wait.await
                    })
                });
                registered_rx
                    .recv_timeout(Duration::from_secs(10))
                    .expect("the waiter registered");
                Some(waiter)
            }
            _ => None,
        };
        let setters: Vec<_> = (0..SETTERS)
            .map(|_| {
                let (signal, barrier) = (signal.clone(), barrier.clone());
                thread::spawn(move || {
                    barrier.wait();
                    signal.set()
                })
            })
            .collect();
        barrier.wait();
        let wins = setters
            .into_iter()
            .map(|s| s.join().unwrap())
            .filter(|&won| won)
            .count();
        assert_eq!(wins, 1, "round {round}: set() must win exactly once");
        assert!(signal.is_set());
        assert!(!signal.is_cancelled());
        assert!(!signal.set());
        match waiter {
            Some(waiter) => assert_eq!(waiter.join().unwrap(), Ok(())),
            None => assert_eq!(signal.try_wait_for(Duration::ZERO), Ok(true)),
        }
    }
}

#[test]
fn signal_preset_is_waited_instantly_and_only_once() {
    let _watchdog = Watchdog::new(
        "signal_preset_is_waited_instantly_and_only_once",
        Duration::from_secs(30),
    );
    // Pre-set, then a zero-timeout wait succeeds: no sleeping needed.
    let signal = Signal::new();
    assert!(signal.set());
    assert_eq!(signal.try_wait_for(Duration::ZERO), Ok(true));
    // Every later wait, of every form, is refused.
    assert_eq!(signal.wait_blocking(), Err(SignalError::AlreadyWaited));
    assert_eq!(
        signal.try_wait_for(Duration::from_secs(5)),
        Err(SignalError::AlreadyWaited)
    );
    assert_eq!(
        signal.try_wait_until(Instant::now() + Duration::from_secs(5)),
        Err(SignalError::AlreadyWaited)
    );
    assert_eq!(
        futures_lite::future::block_on(signal.wait()),
        Err(SignalError::AlreadyWaited)
    );
    // The error is a proper error type.
    let err: Box<dyn std::error::Error> = Box::new(SignalError::AlreadyWaited);
    assert!(err.to_string().contains("only once"));

    // Pre-set, waited async (first poll ready), then blocking is refused.
    let signal = Signal::new();
    assert!(signal.set());
    assert_eq!(
        futures_lite::future::block_on(poll_once(signal.wait())),
        Some(Ok(()))
    );
    assert_eq!(signal.wait_blocking(), Err(SignalError::AlreadyWaited));

    // Pre-set, waited blocking.
    let signal = Signal::new();
    assert!(signal.set());
    assert_eq!(signal.wait_blocking(), Ok(()));
    assert_eq!(
        signal.try_wait_for(Duration::ZERO),
        Err(SignalError::AlreadyWaited)
    );
    assert!(signal.is_set());
    assert!(!signal.is_cancelled());
}

#[test]
fn signal_timed_out_wait_cancels_it() {
    let _watchdog = Watchdog::new("signal_timed_out_wait_cancels_it", Duration::from_secs(30));
    let timeout = Duration::from_millis(30);
    let signal = Signal::new();
    let start = Instant::now();
    assert_eq!(signal.try_wait_for(timeout), Ok(false));
    assert!(start.elapsed() >= timeout, "returned before the timeout");
    assert!(signal.is_cancelled());
    assert!(!signal.is_set());
    assert!(!signal.set(), "set() after the waiter gave up must fail");
    assert!(!signal.is_set());
    assert_eq!(signal.wait_blocking(), Err(SignalError::AlreadyWaited));

    let signal = Signal::new();
    assert_eq!(signal.try_wait_until(Instant::now() + timeout), Ok(false));
    assert!(signal.is_cancelled());
    assert!(!signal.set());

    // A wait future dropped after its first poll cancels the signal too.
    let signal = Signal::new();
    {
        let mut wait = pin!(signal.wait());
        assert!(futures_lite::future::block_on(poll_once(wait.as_mut())).is_none());
        assert!(!signal.is_cancelled(), "still waiting: not cancelled yet");
    }
    assert!(signal.is_cancelled());
    assert!(!signal.set());

    // An async wait under tokio's timeout cancels it as well.
    let signal = Signal::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        assert!(tokio::time::timeout(timeout, signal.wait()).await.is_err());
    });
    assert!(signal.is_cancelled());
    assert!(!signal.set());
}

#[test]
fn signal_async_tokio_wait_woken_by_thread() {
    let _watchdog = Watchdog::new(
        "signal_async_tokio_wait_woken_by_thread",
        Duration::from_secs(30),
    );
    let signal = Arc::new(Signal::new());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (result, setter_won) = rt.block_on(async {
        let mut wait = pin!(signal.wait());
        // The first poll finds the signal unset: the task is registered.
        assert!(poll_once(wait.as_mut()).await.is_none());
        let setter = {
            let signal = signal.clone();
            thread::spawn(move || signal.set())
        };
        // Only the set() from the thread can complete this.
        let result = wait.await;
        (result, setter.join().unwrap())
    });
    assert_eq!(result, Ok(()));
    assert!(setter_won);
    assert!(signal.is_set());
    assert!(!signal.is_cancelled());
    assert!(!signal.set());

    // Same with a multi-thread runtime: the task waits on a worker.
    let signal = Arc::new(Signal::new());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let (registered_tx, registered_rx) = std::sync::mpsc::channel();
    let task = {
        let signal = signal.clone();
        rt.spawn(async move {
            let mut wait = pin!(signal.wait());
            // The first poll finds the signal unset: the task is registered.
            assert!(poll_once(wait.as_mut()).await.is_none());
            registered_tx.send(()).unwrap();
            wait.await
        })
    };
    // Set only once the task waits on its worker, so that the wake-up from
    // the plain thread is what completes it.
    registered_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the task registered its wait");
    let setter = {
        let signal = signal.clone();
        thread::spawn(move || signal.set())
    };
    assert!(setter.join().unwrap());
    assert_eq!(rt.block_on(task).unwrap(), Ok(()));
}
