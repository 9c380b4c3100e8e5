//! A corosensei hub serving green threads that talk to a tokio task.
//!
//! The situation from gevent + asyncio code bases: request handlers are
//! written as plain blocking code (green threads, one per request), while a
//! database client lives in an async runtime. They meet at polysync
//! primitives: the handlers put jobs into a `polysync::Queue` with the
//! blocking API (which switches green threads), the tokio task takes them
//! with `.await`, and answers through per-job `Event`s. A `CapacityLimiter`
//! caps how many handlers may have a job in flight. The hub's OS thread
//! never blocks: a heartbeat green thread keeps ticking throughout.
//!
//! Run: `cargo run -p polysync-corosensei --example green_hub`

use polysync::{CapacityLimiter, Event, Queue};
use polysync_corosensei::{run, sleep, spawn};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A job for the async side, and where its answer goes.
struct Job {
    request: u32,
    answer: Arc<Mutex<Option<u64>>>,
    done: Arc<Event>,
}

fn main() {
    let jobs: Arc<Queue<Job>> = Arc::new(Queue::bounded(8));

    // The async "database": a tokio task on its own runtime.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .expect("tokio runtime");
    let db = {
        let jobs = jobs.clone();
        rt.spawn(async move {
            let mut served = 0u32;
            while let Ok(job) = jobs.get().await {
                tokio::time::sleep(Duration::from_millis(1)).await; // the query
                *job.answer.lock().unwrap() = Some(u64::from(job.request) * 2);
                job.done.set();
                served += 1;
            }
            served // the queue was closed
        })
    };

    let start = Instant::now();
    let (total, beats) = run(move || {
        let limiter = Rc::new(CapacityLimiter::new(4));
        let alive = Rc::new(Cell::new(true));
        let beats = Rc::new(Cell::new(0u32));
        let heartbeat = {
            let (alive, beats) = (alive.clone(), beats.clone());
            spawn(move || {
                while alive.get() {
                    beats.set(beats.get() + 1);
                    sleep(Duration::from_millis(1));
                }
            })
        };
        let handlers: Vec<_> = (0..50u32)
            .map(|request| {
                let (jobs, limiter) = (jobs.clone(), limiter.clone());
                spawn(move || {
                    let _token = limiter.acquire_blocking().expect("one token per handler");
                    let answer = Arc::new(Mutex::new(None));
                    let done = Arc::new(Event::new());
                    jobs.put_blocking(Job {
                        request,
                        answer: answer.clone(),
                        done: done.clone(),
                    })
                    .expect("the queue is open");
                    done.wait_blocking(); // switches: other handlers run
                    answer.lock().unwrap().take().expect("answered")
                })
            })
            .collect();
        let total: u64 = handlers.into_iter().map(|h| h.join().unwrap()).sum();
        jobs.close();
        alive.set(false);
        heartbeat.join().unwrap();
        (total, beats.get())
    });
    let served = rt.block_on(db).expect("the db task");

    assert_eq!(total, (0..50u64).map(|r| r * 2).sum::<u64>());
    assert_eq!(served, 50);
    assert!(beats > 0);
    println!(
        "50 green handlers served by one tokio task in {:?}: sum {total}, {beats} heartbeats meanwhile",
        start.elapsed()
    );
}
