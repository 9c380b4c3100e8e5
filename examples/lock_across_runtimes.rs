//! One `Lock`, two threads, two different async runtimes, two tasks each.
//!
//! Thread 0 runs a tokio current-thread runtime; thread 1 runs async-io's
//! executor (what smol uses). All four tasks share one lock: each waits in
//! its own runtime without blocking its thread, and a release in one runtime
//! wakes a task of the other. With a runtime's own lock this cannot work
//! (tokio's would panic in `blocking_lock`, and a `std::sync::Mutex` held across
//! `.await` would block the whole runtime thread).
//!
//! Run: `cargo run --example lock_across_runtimes`
//!
//! Prints something like:
//! ```text
//! thread=0 task=0 started
//! thread=1 task=0 started
//! thread=0 task=1 started
//! thread=1 task=1 started
//! thread=0 task=0 stopped
//! thread=1 task=0 stopped
//! thread=0 task=1 stopped
//! thread=1 task=1 stopped
//! ```
//! Each task holds the lock for half a second, so the whole run takes about
//! two seconds: the four critical sections never overlap.

use polysync::Lock;
use std::time::{Duration, Instant};

static LOCK: Lock = Lock::new();
const HOLD: Duration = Duration::from_millis(500);

async fn tokio_task(thread: usize, task: usize) {
    println!("thread={thread} task={task} started");
    {
        let _guard = LOCK.acquire().await;
        tokio::time::sleep(HOLD).await;
    }
    println!("thread={thread} task={task} stopped");
}

async fn async_io_task(thread: usize, task: usize) {
    println!("thread={thread} task={task} started");
    {
        let _guard = LOCK.acquire().await;
        async_io::Timer::after(HOLD).await;
    }
    println!("thread={thread} task={task} stopped");
}

fn main() {
    let start = Instant::now();
    let tokio_thread = std::thread::spawn(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a tokio runtime");
        rt.block_on(async {
            let a = tokio::spawn(tokio_task(0, 0));
            let b = tokio::spawn(tokio_task(0, 1));
            a.await.unwrap();
            b.await.unwrap();
        });
    });
    let async_io_thread = std::thread::spawn(|| {
        async_io::block_on(futures_lite::future::zip(
            async_io_task(1, 0),
            async_io_task(1, 1),
        ));
    });
    tokio_thread.join().unwrap();
    async_io_thread.join().unwrap();
    println!(
        "four critical sections of {HOLD:?} each took {:.1?} in total",
        start.elapsed()
    );
}
