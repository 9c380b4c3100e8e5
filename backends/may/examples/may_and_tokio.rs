//! may coroutines and tokio tasks share one `polysync::Queue` and one
//! `polysync::Lock`: coroutines produce work items, tokio tasks consume
//! them, and both sides update a shared tally under the lock. The blocking
//! calls in the coroutines park the coroutine (not its worker); the async
//! calls in the tasks return `Pending` to tokio.
//!
//! Run: `cargo run -p polysync-may --example may_and_tokio`

use polysync::{Lock, Queue};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const PRODUCERS: u64 = 8;
const PER_PRODUCER: u64 = 10_000;

fn main() {
    // The host picks may's configuration; polysync only plugs into it.
    may::config().set_workers(2).set_worker_pin(false);
    polysync_may::install().expect("register the may backend");

    let queue = Arc::new(Queue::<u64>::bounded(32));
    let lock = Arc::new(Lock::new());
    // Updated only under `lock` (plain load + store, no atomic add).
    let may_tally = Arc::new(AtomicU64::new(0));
    let tokio_tally = Arc::new(AtomicU64::new(0));

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a tokio runtime");
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let (queue, lock, tally) = (queue.clone(), lock.clone(), tokio_tally.clone());
            rt.spawn(async move {
                let mut received = 0_u64;
                while let Ok(n) = queue.get().await {
                    let _held = lock.acquire().await;
                    tally.store(tally.load(Ordering::Relaxed) + n, Ordering::Relaxed);
                    received += 1;
                }
                received
            })
        })
        .collect();

    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let (queue, lock, tally) = (queue.clone(), lock.clone(), may_tally.clone());
            // `go!` hides may's `unsafe` spawn (see may's documentation).
            may::go!(move || {
                for i in 0..PER_PRODUCER {
                    let n = p * PER_PRODUCER + i;
                    queue.put_blocking(n).expect("the queue is open");
                    if i % 100 == 0 {
                        let _held = lock.acquire_blocking();
                        tally.store(tally.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();

    for p in producers {
        p.join().expect("a producer coroutine");
    }
    queue.close();
    let per_task: Vec<u64> = consumers
        .into_iter()
        .map(|c| rt.block_on(c).expect("a consumer task"))
        .collect();

    let items = PRODUCERS * PER_PRODUCER;
    let sum = tokio_tally.load(Ordering::Relaxed);
    println!(
        "{PRODUCERS} may coroutines put {items} items; 4 tokio tasks got {per_task:?} \
         (total {})",
        per_task.iter().sum::<u64>()
    );
    println!(
        "sum received by tokio: {sum} (expected {}); lock taken by coroutines {} times",
        items * (items - 1) / 2,
        may_tally.load(Ordering::Relaxed)
    );
    assert_eq!(per_task.iter().sum::<u64>(), items);
    assert_eq!(sum, items * (items - 1) / 2);
    assert_eq!(
        may_tally.load(Ordering::Relaxed),
        PRODUCERS * PER_PRODUCER / 100
    );
}
