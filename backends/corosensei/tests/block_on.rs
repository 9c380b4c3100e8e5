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

/// A ticker green thread's count, and a way for a green thread to wait
/// until it has ticked twice more.
#[derive(Clone)]
struct Ticks {
    count: Rc<Cell<u32>>,
    /// The count `twice_more` was called at.
    mark: Rc<Cell<Option<u32>>>,
    ticked: Arc<polysync::Event>,
}

impl Ticks {
    /// A future that completes once the ticker has ticked twice after this
    /// call. Joined with what a green thread awaits in `block_on`, it
    /// completes only if the hub ran the ticker while that green thread was
    /// suspended: a `block_on` that blocked the hub's thread would never
    /// return (and the watchdog fails the test). No clock decides.
    fn twice_more(&self) -> impl std::future::Future<Output = ()> + use<> {
        let ticked = self.mark();
        async move { ticked.wait().await }
    }

    /// The event `twice_more` waits for, from now on: set once the ticker
    /// has ticked twice after this call.
    fn mark(&self) -> Arc<polysync::Event> {
        self.mark.set(Some(self.count.get()));
        self.ticked.clone()
    }

    fn tick(&self) {
        self.count.set(self.count.get() + 1);
        if self
            .mark
            .get()
            .is_some_and(|mark| self.count.get() >= mark + 2)
        {
            self.ticked.set();
        }
    }
}

/// Runs `f` in a green thread next to a ticker; returns `f`'s value and how
/// often the ticker advanced while `f` ran.
fn with_ticker<T: 'static>(f: impl FnOnce(Ticks) -> T + 'static) -> (T, u32) {
    run(move || {
        let ticks = Ticks {
            count: Rc::new(Cell::new(0)),
            mark: Rc::new(Cell::new(None)),
            ticked: Arc::new(polysync::Event::new()),
        };
        let running = Rc::new(Cell::new(true));
        let ticker = {
            let (ticks, running) = (ticks.clone(), running.clone());
            spawn(move || {
                while running.get() {
                    ticks.tick();
                    sleep(Duration::from_millis(1));
                }
            })
        };
        let out = spawn({
            let ticks = ticks.clone();
            move || f(ticks)
        })
        .join()
        .unwrap();
        let seen = ticks.count.get();
        running.set(false);
        ticker.join().unwrap();
        (out, seen)
    })
}

#[test]
fn an_async_io_timer_suspends_only_its_green_thread() {
    watchdog("async-io timer", || {
        let (elapsed, ticks) = with_ticker(|ticks| {
            let start = Instant::now();
            let timer = async_io::Timer::after(Duration::from_millis(30));
            block_on(futures_lite::future::zip(timer, ticks.twice_more()));
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
        let (ticked_tx, ticked_rx) = std::sync::mpsc::channel();
        let hub = {
            let received = received.clone();
            std::thread::spawn(move || {
                with_ticker(move |ticks| {
                    ticked_tx.send(ticks.mark()).unwrap();
                    let v = block_on(rx).unwrap();
                    received.set();
                    v
                })
            })
        };
        // Send from a tokio worker once the hub has ticked twice while the
        // green thread waits: it cannot, had `block_on` blocked the hub.
        let ticked = ticked_rx.recv().unwrap();
        rt.block_on(async move {
            tokio::spawn(async move {
                ticked.wait().await;
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
