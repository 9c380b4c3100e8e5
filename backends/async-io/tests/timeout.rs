//! `polysync_async_io::timeout` under every executor at hand, and the
//! promise that a timed-out wait loses nothing:
//!
//! - the same scenario (a contended lock times out, then succeeds; a
//!   semaphore, an event and a queue get time out and withdraw) under
//!   `futures_lite::future::block_on`, `async_io::block_on`, smol's
//!   executor (async-executor driven by `async_io::block_on`, tasks on two
//!   threads), a tokio current-thread runtime WITHOUT `enable_time` and a
//!   tokio multi-thread runtime;
//! - a lock handed over at the moment of the time-out: either the wait
//!   takes it (the inner future is polled first) or, dropped, it passes it
//!   on to the next waiter;
//! - a put that times out drops its item exactly once, and never delivers it;
//! - a storm of timed-out semaphore waits against releases conserves permits,
//!   and racing lock time-outs never strand the waiter behind them.
//!
//! (Inside a may coroutine or a corosensei green thread: once those
//! backends exist.)

use futures_lite::future::{block_on, poll_once};
use polysync::{Event, Lock, Queue, Semaphore};
use polysync_async_io::{Elapsed, TimeoutExt, timeout, timeout_at};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Runs `f` on its own thread; fails the test if it has not finished within
/// `limit` (a hang becomes a failure; the stuck thread is abandoned).
fn watchdog<R: Send + 'static>(
    name: &str,
    limit: Duration,
    f: impl FnOnce() -> R + Send + 'static,
) -> R {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let out = f();
            let _ = tx.send(());
            out
        })
        .unwrap();
    match rx.recv_timeout(limit) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("watchdog: `{name}` did not finish within {limit:?} (a hang?)")
        }
    }
}

const LIMIT: Duration = Duration::from_secs(10);
const SHORT: Duration = Duration::from_millis(5);

/// The scenario every executor runs.
async fn scenario() {
    let lock = Arc::new(Lock::new());
    let guard = lock.acquire().await;
    assert_eq!(lock.acquire().timeout(SHORT).await.unwrap_err(), elapsed());
    assert_eq!(lock.waiting(), 0);
    drop(guard);
    // Held by a plain thread that releases once a timed wait is queued.
    let (held_tx, held_rx) = mpsc::channel();
    let holder = {
        let lock = lock.clone();
        std::thread::spawn(move || {
            let guard = lock.acquire_blocking();
            held_tx.send(()).unwrap();
            while lock.waiting() == 0 {
                std::thread::yield_now();
            }
            drop(guard);
        })
    };
    held_rx.recv().unwrap();
    drop(lock.acquire().timeout(LIMIT).await.unwrap());
    holder.join().unwrap();

    let sem = Semaphore::new(0);
    assert!(timeout(SHORT, sem.acquire()).await.is_err());
    assert_eq!(sem.waiting(), 0);
    sem.release(1);
    timeout_at(Instant::now() + LIMIT, sem.acquire())
        .await
        .unwrap()
        .unwrap()
        .forget();

    let event = Event::new();
    assert!(event.wait().timeout(SHORT).await.is_err());
    event.set();
    event
        .wait()
        .timeout_at(Instant::now() + LIMIT)
        .await
        .unwrap();

    let q: Queue<u32> = Queue::unbounded();
    assert!(q.get().timeout(SHORT).await.is_err());
    q.put(3).await.unwrap();
    assert_eq!(q.get().timeout(LIMIT).await.unwrap(), Ok(3));
}

/// An `Elapsed` (it has no public constructor), got the honest way.
fn elapsed() -> Elapsed {
    block_on(futures_lite::future::pending::<()>().timeout(Duration::ZERO)).unwrap_err()
}

/// In a may coroutine, a future runs under `polysync::lowlevel::block_on`,
/// which parks the coroutine (not its worker) between polls; async-io's
/// timer wakes it from its own thread.
#[test]
fn inside_a_may_coroutine() {
    watchdog("inside a may coroutine", LIMIT, || {
        may::config().set_workers(2).set_worker_pin(false);
        polysync_may::install().unwrap();
        may::go!(|| polysync::lowlevel::block_on(scenario(), None).unwrap())
            .join()
            .unwrap();
    });
}

/// In a corosensei green thread, `polysync_corosensei::block_on` suspends
/// the green thread between polls; the hub sleeps until the timer wakes it.
#[test]
fn inside_a_corosensei_green_thread() {
    watchdog("inside a green thread", LIMIT, || {
        polysync_corosensei::run(|| polysync_corosensei::block_on(scenario()));
    });
}

#[test]
fn under_futures_lite_block_on() {
    watchdog("futures_lite", LIMIT, || block_on(scenario()));
}

#[test]
fn under_async_io_block_on() {
    watchdog("async_io", LIMIT, || async_io::block_on(scenario()));
}

#[test]
fn under_smol_executor() {
    watchdog("smol", LIMIT, || {
        let ex = Arc::new(async_executor::Executor::new());
        let (stop, stopped) = async_channel_like();
        // A second thread runs the executor too.
        let helper = {
            let ex = ex.clone();
            std::thread::spawn(move || async_io::block_on(ex.run(stopped)))
        };
        let tasks: Vec<_> = (0..4).map(|_| ex.spawn(scenario())).collect();
        async_io::block_on(ex.run(async {
            for task in tasks {
                task.await;
            }
        }));
        drop(stop);
        helper.join().unwrap();
    });
}

/// A one-shot "stop" signal built from polysync itself: the receiver
/// resolves once the sender is dropped.
fn async_channel_like() -> (
    StopOnDrop,
    impl std::future::Future<Output = ()> + Send + 'static,
) {
    let event = Arc::new(Event::new());
    let wait = {
        let event = event.clone();
        async move { event.wait().await }
    };
    (StopOnDrop(event), wait)
}

struct StopOnDrop(Arc<Event>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}

#[test]
fn under_tokio_current_thread_without_time() {
    watchdog("tokio_current_thread", LIMIT, || {
        // No `enable_time()`: tokio's own timers would panic; async-io's work.
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async { tokio::spawn(scenario()).await.unwrap() });
    });
}

#[test]
fn under_tokio_multi_thread() {
    watchdog("tokio_multi_thread", LIMIT, || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        rt.block_on(async {
            let tasks: Vec<_> = (0..4).map(|_| tokio::spawn(scenario())).collect();
            for task in tasks {
                task.await.unwrap();
            }
        });
    });
}

/// A lock handed to a timed wait after its deadline passed but before it
/// was polled again: polled, the wait takes it (the inner future is polled
/// before the timer); dropped instead, it passes the lock on to the next
/// waiter. And a wait that reports `Elapsed` has already left the queue.
#[test]
fn lock_handed_at_the_deadline_is_taken_or_passed_on() {
    watchdog("handed_at_deadline", LIMIT, || {
        block_on(async {
            let lock = Lock::new();
            for take in [true, false] {
                let holder = lock.acquire().await;
                // Boxed, so that `drop(b)` below drops the future itself.
                let mut b = Box::pin(lock.acquire().timeout(Duration::from_millis(10)));
                assert!(poll_once(b.as_mut()).await.is_none());
                let mut c = Box::pin(lock.acquire());
                assert!(poll_once(c.as_mut()).await.is_none());
                assert_eq!(lock.waiting(), 2);
                async_io::Timer::after(Duration::from_millis(20)).await; // b's deadline passes
                drop(holder); // handed to b, the oldest waiter
                if take {
                    let got = poll_once(b.as_mut()).await.expect("b resolves");
                    drop(got.expect("the hand-off wins over the passed deadline"));
                } else {
                    drop(b); // withdraws: passes the lock on to c
                }
                let guard = poll_once(c.as_mut()).await.expect("c got the lock");
                assert_eq!(lock.waiting(), 0);
                drop(guard);
                assert!(!lock.is_locked());
            }

            // Nothing handed: `Elapsed`, and the wait is gone already (the
            // Timeout itself is still alive here).
            let holder = lock.acquire().await;
            let mut b = pin!(lock.acquire().timeout(Duration::from_millis(5)));
            assert!(poll_once(b.as_mut()).await.is_none());
            assert_eq!(lock.waiting(), 1);
            assert!(b.as_mut().await.is_err());
            assert_eq!(lock.waiting(), 0, "withdrawn before Elapsed was reported");
            drop(holder);
            assert!(!lock.is_locked());
        });
    });
}

/// An item that counts its drops.
struct Counted(Arc<AtomicUsize>, u32);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A put on a full queue that times out: its item is dropped exactly once
/// (with the withdrawn wait, before `Elapsed` is reported) and never shows
/// up in the queue.
#[test]
fn put_that_times_out_drops_its_item_once_and_never_delivers_it() {
    watchdog("put_times_out", LIMIT, || {
        block_on(async {
            let drops = Arc::new(AtomicUsize::new(0));
            let q = Queue::bounded(1);
            q.put(Counted(drops.clone(), 1)).await.unwrap();
            let mut put = pin!(q.put(Counted(drops.clone(), 2)).timeout(SHORT));
            assert!(put.as_mut().await.is_err());
            assert_eq!(
                drops.load(Ordering::SeqCst),
                1,
                "the item went with the wait"
            );
            assert_eq!(q.len(), 1);
            let first = q.get().await.unwrap();
            assert_eq!(first.1, 1);
            drop(first);
            assert!(
                q.get().timeout(SHORT).await.is_err(),
                "item 2 never arrives"
            );
            assert_eq!(drops.load(Ordering::SeqCst), 2);
        });
    });
}

/// Timed-out waits racing releases: tasks on smol's executor (two threads)
/// take permits with short time-outs while plain threads take and give
/// them back with the blocking forms. No permit is lost or made up.
#[test]
fn semaphore_storm_with_timeouts_conserves_permits() {
    watchdog("semaphore_storm", LIMIT, || {
        const PERMITS: usize = 2;
        let sem = Arc::new(Semaphore::new(PERMITS));
        let timeouts = Arc::new(AtomicUsize::new(0));
        let ex = Arc::new(async_executor::Executor::new());
        let (stop, stopped) = async_channel_like();
        let helper = {
            let ex = ex.clone();
            std::thread::spawn(move || async_io::block_on(ex.run(stopped)))
        };
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let sem = sem.clone();
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        let permit = sem.acquire_blocking().unwrap();
                        std::thread::yield_now();
                        drop(permit);
                    }
                })
            })
            .collect();
        let tasks: Vec<_> = (0..6u64)
            .map(|t| {
                let (sem, timeouts) = (sem.clone(), timeouts.clone());
                ex.spawn(async move {
                    for i in 0..200u64 {
                        let wait = Duration::from_micros((t * 37 + i * 13) % 300);
                        match sem.acquire().timeout(wait).await {
                            Ok(permit) => {
                                let permit = permit.unwrap();
                                futures_lite::future::yield_now().await;
                                drop(permit);
                            }
                            Err(_) => {
                                timeouts.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                })
            })
            .collect();
        async_io::block_on(ex.run(async {
            for task in tasks {
                task.await;
            }
        }));
        for thread in threads {
            thread.join().unwrap();
        }
        drop(stop);
        helper.join().unwrap();
        eprintln!(
            "semaphore storm: {} timed-out waits",
            timeouts.load(Ordering::Relaxed)
        );
        assert_eq!(sem.value(), PERMITS, "permits conserved");
        assert_eq!(sem.waiting(), 0);
    });
}

/// A holder releases right around a timed waiter's deadline, again and
/// again; whoever wins, the untimed waiter behind it always gets the lock.
#[test]
fn racing_lock_timeouts_never_strand_the_next_waiter() {
    watchdog("racing_lock_timeouts", LIMIT, || {
        let lock = Arc::new(Lock::new());
        let mut timed_won = 0;
        for round in 0..100u64 {
            let (held_tx, held_rx) = mpsc::channel();
            let (queued_tx, queued_rx) = mpsc::channel::<Instant>();
            let holder = {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    let guard = lock.acquire_blocking();
                    held_tx.send(()).unwrap();
                    // Release around the timed wait's deadline (800 us after
                    // it was queued).
                    let queued = queued_rx.recv().unwrap();
                    let at = queued + Duration::from_micros(500 + (round % 7) * 100);
                    std::thread::sleep(at.saturating_duration_since(Instant::now()));
                    drop(guard);
                })
            };
            held_rx.recv().unwrap();
            timed_won += block_on(async {
                let mut timed = pin!(lock.acquire().timeout(Duration::from_micros(800)));
                assert!(poll_once(timed.as_mut()).await.is_none());
                let queued = Instant::now();
                let mut next = pin!(lock.acquire());
                assert!(poll_once(next.as_mut()).await.is_none());
                queued_tx.send(queued).unwrap();
                let timed_got = timed.await.is_ok(); // its guard is dropped at once
                let guard = next.await;
                drop(guard);
                usize::from(timed_got)
            });
            holder.join().unwrap();
            assert!(!lock.is_locked());
            assert_eq!(lock.waiting(), 0);
        }
        eprintln!("racing lock time-outs: the timed wait won {timed_won} of 100 rounds");
    });
}
