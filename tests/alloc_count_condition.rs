//! Proves that condition waits allocate nothing after warm-up: the entry that
//! moves from the condition's queue to the lock's lives in the waiting stack
//! frame or inline in the future. The counting `#[global_allocator]` of
//! `tests/support/counting_alloc.rs` counts, per thread and only while a
//! thread opts in, every allocation it makes.
//! This binary holds only this test (the allocator is process-wide).

use polysync::{Condition, Mutex};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

/// Counts the allocations `f` makes on this thread.
fn counted(f: impl FnOnce()) -> usize {
    counting_alloc::measured(f).1.count
}

/// Ping-pong over one `Mutex<usize>` and one `Condition`: a blocking thread
/// waits for odd values, an async task (futures-lite) for even ones; every
/// step is a real condition wait (the turn belongs to the other side).
#[test]
fn condition_ping_pong_allocates_nothing() {
    const ROUNDS: usize = 2_000;
    const WARMUP: usize = 100;
    let shared = Arc::new((Mutex::new(0usize), Condition::new(), AtomicUsize::new(0)));
    let run = |shared: &(Mutex<usize>, Condition, AtomicUsize),
               parity: usize,
               rounds: usize,
               blocking: bool| {
        let (m, c, waits) = shared;
        let step = |mut g: polysync::MutexGuard<'_, usize>| {
            *g += 1;
            drop(g);
            c.notify_all();
        };
        for round in 0..rounds {
            // Every other round this side dawdles before taking the lock, so
            // the other side comes back first, finds the turn is not its own
            // and waits on the condition: both the blocking and the async
            // wait paths run many times. (`sleep` does not allocate.)
            if round % 2 == usize::from(blocking) {
                std::thread::sleep(std::time::Duration::from_micros(20));
            }
            if blocking {
                let mut g = m.lock_blocking();
                while *g % 2 != parity {
                    waits.fetch_add(1, SeqCst);
                    g = c.wait_blocking(g);
                }
                step(g);
            } else {
                futures_lite::future::block_on(async {
                    let mut g = m.lock().await;
                    while *g % 2 != parity {
                        waits.fetch_add(1, SeqCst);
                        g = c.wait(g).await;
                    }
                    step(g);
                });
            }
        }
    };
    let other = {
        let shared = shared.clone();
        std::thread::spawn(move || {
            run(&shared, 1, WARMUP, false);
            counted(|| run(&shared, 1, ROUNDS, false))
        })
    };
    run(&shared, 0, WARMUP, true);
    let waits_before = shared.2.load(SeqCst);
    let here = counted(|| run(&shared, 0, ROUNDS, true));
    let there = other.join().unwrap();
    assert_eq!(*shared.0.lock_blocking(), 2 * (WARMUP + ROUNDS));
    // Real condition waits happened in the measured phase (the dawdling
    // makes them the rule; the exact number depends on scheduling).
    let waits = shared.2.load(SeqCst) - waits_before;
    assert!(
        waits > 0,
        "no condition wait happened in the measured phase"
    );
    println!("{waits} condition waits in the measured phase");
    assert_eq!(here, 0, "blocking side allocated {here} times");
    assert_eq!(there, 0, "async side allocated {there} times");
}

/// The counter sees this thread's allocations (so a zero above means zero).
#[test]
fn the_counter_counts() {
    assert_eq!(counted(|| drop(std::hint::black_box(Box::new(7u64)))), 1);
}
