//! The "thread leak" of delegating waits to a thread pool, done right.
//!
//! The classic workaround for waiting on a threading primitive from async
//! code is to run the blocking wait on a pool thread (`spawn_blocking`,
//! `run_in_executor`). When the async side times out, the pool thread stays
//! blocked forever: every timed-out wait leaks a thread, and the program
//! cannot exit. polysync's async acquire is an ordinary future that leaves the
//! queue when it is dropped, so timeouts cost nothing.
//!
//! Run: `cargo run --example no_thread_leak`

use polysync::Semaphore;
use std::time::Duration;

/// The number of threads of this process (Linux), or `None` elsewhere.
fn threads() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

fn main() {
    let semaphore = Semaphore::new(0);
    println!("active threads: {:?}", threads());

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async {
        for _ in 0..8 {
            // A zero timeout: the acquire cannot succeed, and is withdrawn.
            let result = tokio::time::timeout(Duration::ZERO, semaphore.acquire()).await;
            assert!(result.is_err());
        }
    });

    println!("active threads: {:?} (no thread per wait)", threads());
    println!("still waiting: {}", semaphore.waiting());
    semaphore.release(1);
    println!("value after one release: {}", semaphore.value());
    // ...and the program exits: nothing is left blocked.
}
