//! The Asphalt scenario (`shared/seeds/asphalt-threads.rst`): an event loop
//! must never block. A tokio current-thread runtime runs a ticker task
//! (a 1 ms interval) while, on the same loop:
//!
//! - tasks contend on a polysync `Lock`, `Semaphore` and `Queue` with plain
//!   threads that use the blocking forms of the same objects;
//! - a blocking "library call" (a long sleep plus blocking polysync calls)
//!   is offloaded with `spawn_blocking`, the way Asphalt offloads file I/O
//!   to a thread pool, and its result awaited;
//! - the loop's tasks bound their waits with `polysync_tokio::timeout`.
//!
//! The largest gap between two ticks is reported; the test asserts only a
//! generous bound (`MAX_GAP`), a correctness check that nothing blocked the
//! loop (the library call alone takes `LIBRARY_CALL`, longer than the
//! bound: run on the loop, it fails the test).

mod support;

use polysync::{Lock, Queue, Semaphore};
use polysync_tokio::TimeoutExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use support::{current_thread, watchdog_within};

/// How long the offloaded library call blocks its thread.
const LIBRARY_CALL: Duration = Duration::from_millis(800);
/// The generous bound on the ticker's largest gap (it is a few ms when the
/// loop never blocks; loaded CI machines add scheduling noise).
const MAX_GAP: Duration = Duration::from_millis(400);

/// A blocking library: sleeps, and uses polysync's blocking forms on the
/// objects the loop's tasks use too.
fn library_call(lock: &Lock, sem: &Semaphore, q: &Queue<u64>) -> u64 {
    let mut sum = 0;
    let until = Instant::now() + LIBRARY_CALL;
    while Instant::now() < until {
        let guard = lock.acquire_blocking();
        std::thread::sleep(Duration::from_millis(5));
        drop(guard);
        let permit = sem.acquire_blocking().unwrap();
        q.put_blocking(1).unwrap();
        drop(permit);
        sum += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    sum
}

#[test]
fn the_event_loop_never_blocks() {
    polysync_tokio::install().unwrap();
    watchdog_within("asphalt", Duration::from_secs(20), || {
        let rt = current_thread();
        let lock = Arc::new(Lock::new());
        let sem = Arc::new(Semaphore::new(2));
        let q = Arc::new(Queue::<u64>::bounded(4));
        let stop = Arc::new(AtomicBool::new(false));
        let largest_gap_us = Arc::new(AtomicU64::new(0));
        let ticks = Arc::new(AtomicU64::new(0));

        // Plain threads contend with the loop's tasks, blocking forms.
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (lock, sem, q, stop) = (lock.clone(), sem.clone(), q.clone(), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let guard = lock.acquire_blocking();
                        std::thread::sleep(Duration::from_millis(2));
                        drop(guard);
                        let permit = sem.acquire_blocking().unwrap();
                        let _ = q.try_get();
                        drop(permit);
                        std::thread::sleep(Duration::from_millis(1));
                    }
                })
            })
            .collect();

        rt.block_on(async {
            let ticker = {
                let (stop, largest, ticks) = (stop.clone(), largest_gap_us.clone(), ticks.clone());
                tokio::spawn(async move {
                    let mut interval = tokio::time::interval(Duration::from_millis(1));
                    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    interval.tick().await; // the first tick is immediate
                    let mut last = Instant::now();
                    while !stop.load(Ordering::Relaxed) {
                        interval.tick().await;
                        let now = Instant::now();
                        let gap = now.duration_since(last).as_micros() as u64;
                        largest.fetch_max(gap, Ordering::Relaxed);
                        last = now;
                        ticks.fetch_add(1, Ordering::Relaxed);
                    }
                })
            };

            // Tasks on the loop contend with the threads (async forms only).
            let workers: Vec<_> = (0..3)
                .map(|_| {
                    let (lock, sem, q, stop) = (lock.clone(), sem.clone(), q.clone(), stop.clone());
                    tokio::spawn(async move {
                        while !stop.load(Ordering::Relaxed) {
                            if let Ok(guard) =
                                lock.acquire().timeout(Duration::from_millis(50)).await
                            {
                                tokio::task::yield_now().await;
                                drop(guard);
                            }
                            let permit = sem.acquire().await.unwrap();
                            let _ = q.get().timeout(Duration::from_millis(2)).await;
                            drop(permit);
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                    })
                })
                .collect();

            // The ticker runs before the library call starts.
            while ticks.load(Ordering::Relaxed) < 5 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }

            // The blocking library call, offloaded to a thread.
            let started = Instant::now();
            let call = {
                let (lock, sem, q) = (lock.clone(), sem.clone(), q.clone());
                tokio::task::spawn_blocking(move || library_call(&lock, &sem, &q))
            };
            let rounds = call.await.unwrap();
            assert!(started.elapsed() >= LIBRARY_CALL);
            assert!(rounds > 0);

            stop.store(true, Ordering::Relaxed);
            for worker in workers {
                worker.await.unwrap();
            }
            ticker.await.unwrap();
        });
        let ticks = ticks.load(Ordering::Relaxed);
        for thread in threads {
            thread.join().unwrap();
        }
        let largest = Duration::from_micros(largest_gap_us.load(Ordering::Relaxed));
        eprintln!("asphalt: {ticks} ticks; the largest gap between two ticks was {largest:?}");
        assert!(
            largest < MAX_GAP,
            "the event loop was blocked for {largest:?} (bound {MAX_GAP:?})"
        );
    });
}
