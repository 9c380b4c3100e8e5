//! The thread bridge's hand-off allocates nothing beyond the job itself
//! (issue 19): after a warm-up, each offloaded call allocates exactly once
//! on the caller's thread (the shared job: closure, result slot and
//! one-shot signal in one `Arc`), in the blocking and the async form, and
//! the pool thread allocates nothing between the end of one job and the
//! start of the next (taking the job, telling its caller, waiting for the
//! next one).
//!
//! A counting `#[global_allocator]` (tests/support/counting_alloc.rs) counts
//! per thread, opt-in; the pool thread turns counting on at the end of each
//! job and reads it at the start of the next. One pool thread
//! (`max_threads(1)`), so consecutive jobs run on the same thread.
//!
//! This binary holds only allocation tests: the allocator applies to all of it.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::{measured, start_counting, stop_counting};
use polysync::CapacityLimiter;
use polysync::bridge::{Offload, ThreadPool};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

const N: usize = 2_000;
const WARMUP: usize = 100;

#[test]
fn an_offloaded_call_allocates_only_its_job() {
    let pool = ThreadPool::builder().max_threads(1).build();
    let offload = Offload::new(Arc::new(CapacityLimiter::new(1))).with_pool(pool);
    // What the pool thread allocated between jobs, summed over the
    // measured calls.
    let between = Arc::new(AtomicUsize::new(0));
    let first_seen = Arc::new(Mutex::new(None::<usize>));
    let job = |count: bool| {
        let (between, first_seen) = (between.clone(), first_seen.clone());
        move || {
            let allocs = stop_counting();
            if count && allocs.count > 0 {
                between.fetch_add(allocs.count, SeqCst);
                first_seen.lock().unwrap().get_or_insert(allocs.first_size);
            }
            start_counting();
            7u64
        }
    };
    for _ in 0..WARMUP {
        offload.run_blocking(job(false)).unwrap();
        futures_lite::future::block_on(offload.run(job(false))).unwrap();
    }
    // The closures are made outside the measured phases (they hold Arcs).
    let blocking: Vec<_> = (0..N).map(|_| job(true)).collect();
    let (_, allocs) = measured(|| {
        for f in blocking {
            assert_eq!(offload.run_blocking(f).unwrap(), 7);
        }
    });
    assert_eq!(
        allocs.count, N,
        "blocking form: {} allocations for {N} calls (first of {} bytes)",
        allocs.count, allocs.first_size
    );
    eprintln!(
        "one job of this test: {} bytes (closure, result slot, signal, token)",
        allocs.first_size
    );
    let awaited: Vec<_> = (0..N).map(|_| job(true)).collect();
    let (_, allocs) = measured(|| {
        for f in awaited {
            assert_eq!(futures_lite::future::block_on(offload.run(f)).unwrap(), 7);
        }
    });
    assert_eq!(
        allocs.count, N,
        "async form: {} allocations for {N} calls (first of {} bytes)",
        allocs.count, allocs.first_size
    );
    assert_eq!(
        between.load(SeqCst),
        0,
        "the pool thread allocated between jobs (first of {:?} bytes)",
        first_seen.lock().unwrap()
    );
}
