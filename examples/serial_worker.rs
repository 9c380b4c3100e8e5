//! A worker thread that owns a slow blocking device (think of a serial port)
//! and serves it to many async tasks, on two different runtimes, through one
//! polysync queue. Replies travel back on a one-slot queue per request.
//!
//! The tasks never block their runtime's threads: they `put(..).await` the
//! request and `get().await` the reply. The worker never polls: it blocks in
//! `get_blocking()` until a request arrives. When the tasks are done, the
//! main thread waits with `join_blocking()` until every request was served,
//! then closes the queue, which ends the worker's loop.
//!
//! Run: `cargo run --example serial_worker`

use polysync::Queue;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

struct Request {
    command: String,
    reply: Arc<Queue<String>>,
}

/// The device: one command at a time, 2 ms each.
fn serial_worker(requests: Arc<Queue<Request>>) -> usize {
    let mut served = 0;
    while let Ok(request) = requests.get_blocking() {
        thread::sleep(Duration::from_millis(2));
        let answer = format!("ok: {}", request.command);
        // The reply queue holds one item and only this worker puts into it.
        request
            .reply
            .try_put(answer)
            .expect("one reply per request");
        requests.task_done().expect("one task_done per request");
        served += 1;
    }
    served
}

/// What a task does: ask the device a few times.
async fn client(name: String, requests: Arc<Queue<Request>>) -> Vec<String> {
    let reply = Arc::new(Queue::bounded(1));
    let mut answers = Vec::new();
    for i in 0..5 {
        let request = Request {
            command: format!("{name}#{i}"),
            reply: reply.clone(),
        };
        if requests.put(request).await.is_err() {
            break; // the device was shut down
        }
        answers.push(reply.get().await.expect("the worker always replies"));
    }
    answers
}

fn main() {
    // Bounded: a burst of clients waits for room instead of piling up.
    let requests = Arc::new(Queue::bounded(4));
    let worker = {
        let requests = requests.clone();
        thread::spawn(move || serial_worker(requests))
    };
    let start = Instant::now();

    // Clients on a tokio runtime in one thread...
    let tokio_clients = {
        let requests = requests.clone();
        thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .build()
                .unwrap();
            rt.block_on(async {
                let tasks: Vec<_> = (0..4)
                    .map(|n| tokio::spawn(client(format!("tokio-{n}"), requests.clone())))
                    .collect();
                let mut answers = 0;
                for task in tasks {
                    answers += task.await.unwrap().len();
                }
                answers
            })
        })
    };
    // ...and on async-io / futures-lite in another.
    let lite_clients = {
        let requests = requests.clone();
        thread::spawn(move || {
            let ex = async_executor_like(requests);
            futures_lite::future::block_on(ex)
        })
    };

    let answers = tokio_clients.join().unwrap() + lite_clients.join().unwrap();
    requests.join_blocking(); // every request served
    requests.close(); // ends the worker's loop
    let served = worker.join().unwrap();
    println!(
        "{served} requests from 8 tasks on two runtimes served by one blocking thread in {:?}; {answers} answers received",
        start.elapsed()
    );
    assert_eq!(served, 40);
    assert_eq!(answers, 40);
}

/// Four clients run concurrently inside one `block_on` (no extra runtime
/// needed): `futures_lite::future::zip` polls them together.
async fn async_executor_like(requests: Arc<Queue<Request>>) -> usize {
    use futures_lite::future::zip;
    let (a, b) = zip(
        client("lite-0".into(), requests.clone()),
        client("lite-1".into(), requests.clone()),
    )
    .await;
    let (c, d) = zip(
        client("lite-2".into(), requests.clone()),
        client("lite-3".into(), requests),
    )
    .await;
    a.len() + b.len() + c.len() + d.len()
}
