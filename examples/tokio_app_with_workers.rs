//! A tokio application that hands work to OS worker threads, built from what
//! a Rust user reaches for first:
//!
//! - a [`RwLock`] holding the configuration, read by the worker threads
//!   (`read_blocking`) and changed by a task (`write().await`);
//! - a bounded [`channel`] of jobs from tasks to threads: tasks `send().await`
//!   (and wait, without blocking their runtime, while the channel is full),
//!   threads `recv_blocking()` (and sleep, without polling, while it is
//!   empty);
//! - a [`oneshot`] per job for the answer, awaited by the task;
//! - a [`Semaphore`] capping the requests in flight, whose **owned** permit
//!   moves into the spawned task and is given back when the task ends, even
//!   if it panics;
//! - shutdown: closing the semaphore refuses new requests with a typed
//!   error, and dropping the last job sender ends the workers' loops.
//!
//! Run: `cargo run --example tokio_app_with_workers`

use polysync::channel::{self, oneshot};
use polysync::{RwLock, Semaphore};
use std::sync::Arc;
use std::thread;

/// What a worker thread is asked to do, and where the answer goes.
struct Job {
    input: u64,
    answer: oneshot::Sender<u64>,
}

/// The shared configuration.
struct Config {
    factor: u64,
}

/// A worker thread: serves jobs until every sender is gone.
fn worker(jobs: channel::Receiver<Job>, config: Arc<RwLock<Config>>) -> usize {
    let mut served = 0;
    while let Ok(job) = jobs.recv_blocking() {
        let factor = config.read_blocking().factor;
        // A requester that gave up has dropped its receiver: then the answer
        // comes back here and is dropped.
        let _ = job.answer.send(job.input * factor);
        served += 1;
    }
    served
}

const REQUESTS: u64 = 40;
const IN_FLIGHT: usize = 3;

fn main() {
    let config = Arc::new(RwLock::new(Config { factor: 2 }));
    let (jobs, jobs_rx) = channel::bounded::<Job>(4);
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (jobs_rx, config) = (jobs_rx.clone(), config.clone());
            thread::spawn(move || worker(jobs_rx, config))
        })
        .collect();
    drop(jobs_rx);

    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a tokio runtime");

    let answers = rt.block_on(async {
        let mut tasks = Vec::new();
        for input in 0..REQUESTS {
            // Waits while IN_FLIGHT requests are running; the permit is
            // 'static, so it can move into the spawned task.
            let permit = in_flight
                .acquire_owned()
                .await
                .expect("open until shutdown");
            let jobs = jobs.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = permit; // released when this task ends
                let (answer, answer_rx) = oneshot::channel();
                jobs.send(Job { input, answer })
                    .await
                    .unwrap_or_else(|_| panic!("the workers are running"));
                (input, answer_rx.recv().await.expect("a worker answers"))
            }));
            if input == REQUESTS / 2 {
                // Halfway, change the configuration under the workers' feet.
                config.write().await.factor = 3;
            }
        }
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.expect("the request task"));
        }
        answers
    });
    for (input, answer) in &answers {
        assert!(*answer == input * 2 || *answer == input * 3);
    }
    let tripled = answers
        .iter()
        .filter(|(i, a)| *a == i * 3 && *i > 0)
        .count();
    assert_eq!(in_flight.value(), IN_FLIGHT, "every permit came back");

    // Shutdown: refuse new requests (an acquisition gets a typed error, as
    // would a task still waiting for a permit), then let the workers finish.
    in_flight.close();
    let refused: Result<_, polysync::AcquireError> = rt.block_on(in_flight.acquire());
    assert!(refused.is_err());
    drop(jobs);
    let served: usize = workers.into_iter().map(|w| w.join().expect("worker")).sum();
    assert_eq!(served as u64, REQUESTS);
    println!(
        "{REQUESTS} requests served by 2 worker threads, at most {IN_FLIGHT} in flight; \
         {tripled} of them after the configuration changed"
    );
}
