//! `block_on` inside a green thread awaits any future by suspending the
//! green thread: the hub keeps running the others, and wakes come from the
//! async-io reactor thread and tokio workers.

mod support;

use polysync_corosensei::{block_on, run, sleep, spawn};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{spin_until, watchdog};

/// Runs `f` in a green thread next to a ticker; returns `f`'s value and how
/// often the ticker advanced while `f` ran.
fn with_ticker<T: 'static>(f: impl FnOnce() -> T + 'static) -> (T, u32) {
    run(move || {
        let ticks = Rc::new(Cell::new(0u32));
        let running = Rc::new(Cell::new(true));
        let ticker = {
            let (ticks, running) = (ticks.clone(), running.clone());
            spawn(move || {
                while running.get() {
                    ticks.set(ticks.get() + 1);
                    sleep(Duration::from_millis(1));
                }
            })
        };
        let out = spawn(f).join().unwrap();
        let seen = ticks.get();
        running.set(false);
        ticker.join().unwrap();
        (out, seen)
    })
}

#[test]
fn an_async_io_timer_suspends_only_its_green_thread() {
    watchdog("async-io timer", || {
        let (elapsed, ticks) = with_ticker(|| {
            let start = Instant::now();
            block_on(async_io::Timer::after(Duration::from_millis(30)));
            start.elapsed()
        });
        assert!(elapsed >= Duration::from_millis(30));
        assert!(
            ticks >= 2,
            "the hub ran the ticker while the timer was pending ({ticks})"
        );
    });
}

#[test]
fn a_tokio_oneshot_wakes_a_green_thread_from_a_worker() {
    watchdog("tokio oneshot", || {
        let rt = support::multi_thread(2);
        let (tx, rx) = tokio::sync::oneshot::channel::<&'static str>();
        let received = Arc::new(polysync::Event::new());
        let hub = {
            let received = received.clone();
            std::thread::spawn(move || {
                with_ticker(move || {
                    let v = block_on(rx).unwrap();
                    received.set();
                    v
                })
            })
        };
        // Send from a tokio worker once the hub has ticked a while.
        rt.block_on(async move {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                tx.send("from tokio").unwrap();
            })
            .await
            .unwrap();
        });
        let (v, ticks) = hub.join().unwrap();
        assert_eq!(v, "from tokio");
        assert!(
            ticks >= 2,
            "the hub ran while the oneshot was pending ({ticks})"
        );
        assert!(received.is_set());
    });
}

/// Two hundred green threads each await an async-io timer and then a tokio
/// oneshot sent from a tokio task; a polysync future and a JoinHandle are
/// awaited too.
#[test]
fn many_green_threads_await_timers_oneshots_and_polysync_futures() {
    watchdog("many awaits", || {
        const N: usize = 200;
        let rt = support::multi_thread(2);
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..N)
            .map(|_| tokio::sync::oneshot::channel::<usize>())
            .unzip();
        let sem = Arc::new(polysync::Semaphore::new(0));
        let hub = {
            let sem = sem.clone();
            std::thread::spawn(move || {
                run(move || {
                    let handles: Vec<_> = rxs
                        .into_iter()
                        .map(|rx| {
                            spawn(move || {
                                block_on(async_io::Timer::after(Duration::from_millis(5)));
                                block_on(rx).unwrap()
                            })
                        })
                        .collect();
                    let sum: usize = handles
                        .into_iter()
                        .map(|h| block_on(h).unwrap()) // the handle is a future too
                        .sum();
                    block_on(sem.acquire()).unwrap().forget(); // released by a plain thread
                    sum
                })
            })
        };
        rt.block_on(async move {
            for (i, tx) in txs.into_iter().enumerate() {
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    let _ = tx.send(i);
                });
            }
        });
        spin_until("the hub waits for the permit", || sem.waiting() == 1);
        sem.release(1);
        assert_eq!(hub.join().unwrap(), (0..N).sum::<usize>());
    });
}
