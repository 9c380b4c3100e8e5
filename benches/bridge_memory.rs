//! Memory per queued job of the thread bridge (issue 19, "Memory: bytes per
//! queued job"), beside the anchors in one process: polysync's `Offload`,
//! `tokio::task::spawn_blocking`, `blocking::unblock` (smol's pool) and
//! `rayon::spawn` with a std channel for the result (what the timing
//! bench's rayon row uses).
//!
//! Each pool gets one thread, held busy by a first job that waits on a
//! gate; then `JOBS` tiny jobs are submitted and stay queued. A counting
//! global allocator gives the heap that stays live for them (all threads),
//! divided by `JOBS`: what the library keeps per queued job. Beside it, the
//! bytes the caller holds per job without the heap: polysync's future (in
//! the awaiting task, wherever its executor keeps it), tokio's
//! `JoinHandle`, blocking's `Task`, the receiver of rayon's channel.
//! The caller's handles sit in a vector allocated before the baseline, so
//! the heap figure has none of them. polysync's futures are polled once
//! (that is when a job is submitted), boxed so that they stay pinned: the
//! boxes are left out of the heap figure (their size is the second column).
//!
//! This is a measurement, not a timing: it prints a table and exits.
//!
//! ```sh
//! cargo bench -p polysync-benches --bench bridge_memory
//! ```

use polysync::CapacityLimiter;
use polysync::bridge::{Offload, ThreadPool};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::task::{Context, Waker};
use std::time::Duration;

/// Jobs queued per measurement.
const JOBS: usize = 10_000;

/// The system allocator, counting the bytes live now (all threads).
struct LiveBytes;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees are ours; the counter is a side
// effect that allocates nothing.
unsafe impl GlobalAlloc for LiveBytes {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded as is (see the impl).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded as is (see the impl).
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded as is (see the impl).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: forwarded as is (see the impl).
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: LiveBytes = LiveBytes;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// A job that holds its pool's only thread until the gate opens.
fn blocker(gate: &Arc<Barrier>) -> impl FnOnce() -> u64 + Send + 'static {
    let gate = gate.clone();
    move || {
        gate.wait();
        0
    }
}

fn tiny() -> u64 {
    black_box(1)
}

/// One row: heap bytes per queued job, and the caller's bytes per job.
struct Row {
    name: &'static str,
    heap: f64,
    handle: usize,
}

fn polysync() -> Row {
    let pool = ThreadPool::builder().max_threads(1).build();
    // Tokens for every job: no job waits for one, each is queued in the pool.
    let offload = Offload::new(Arc::new(CapacityLimiter::new(JOBS + 1))).with_pool(pool);
    let gate = Arc::new(Barrier::new(2));
    let first = offload.run(blocker(&gate));
    let mut first = Box::pin(first);
    let mut cx = Context::from_waker(Waker::noop());
    assert!(first.as_mut().poll(&mut cx).is_pending());
    // The queue's own storage grows with the jobs: warm nothing up, it is
    // part of what the library keeps per job.
    let mut futures = Vec::with_capacity(JOBS);
    let before = live();
    let mut boxed = 0;
    for _ in 0..JOBS {
        let mut f = Box::pin(offload.run(tiny));
        boxed = size_of_val(&*f);
        assert!(f.as_mut().poll(&mut cx).is_pending());
        futures.push(f);
    }
    while offload.pool().queued() < JOBS {
        std::thread::sleep(Duration::from_millis(1));
    }
    let heap = (live() - before) as f64 - (boxed * JOBS) as f64;
    gate.wait();
    futures_lite::future::block_on(async {
        first.await.unwrap();
        for f in futures {
            f.await.unwrap();
        }
    });
    Row {
        name: "polysync Offload::run",
        heap: heap / JOBS as f64,
        handle: boxed,
    }
}

fn tokio() -> Row {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(1)
        .build()
        .expect("build tokio runtime");
    let gate = Arc::new(Barrier::new(2));
    let first = rt.spawn_blocking(blocker(&gate));
    let mut handles = Vec::with_capacity(JOBS);
    let before = live();
    for _ in 0..JOBS {
        handles.push(rt.spawn_blocking(tiny));
    }
    let heap = (live() - before) as f64;
    gate.wait();
    rt.block_on(async {
        first.await.unwrap();
        for h in handles {
            h.await.unwrap();
        }
    });
    Row {
        name: "tokio spawn_blocking",
        heap: heap / JOBS as f64,
        handle: size_of::<tokio::task::JoinHandle<u64>>(),
    }
}

fn blocking() -> Row {
    let gate = Arc::new(Barrier::new(2));
    let first = blocking::unblock(blocker(&gate));
    let mut tasks = Vec::with_capacity(JOBS);
    let before = live();
    for _ in 0..JOBS {
        tasks.push(blocking::unblock(tiny));
    }
    let heap = (live() - before) as f64;
    gate.wait();
    futures_lite::future::block_on(async {
        first.await;
        for t in tasks {
            t.await;
        }
    });
    Row {
        name: "blocking::unblock",
        heap: heap / JOBS as f64,
        handle: size_of::<blocking::Task<u64>>(),
    }
}

fn rayon() -> Row {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("build rayon pool");
    let gate = Arc::new(Barrier::new(2));
    let block = blocker(&gate);
    pool.spawn(move || {
        block();
    });
    let mut receivers = Vec::with_capacity(JOBS);
    let before = live();
    for _ in 0..JOBS {
        let (tx, rx) = mpsc::channel();
        pool.spawn(move || {
            let _ = tx.send(tiny());
        });
        receivers.push(rx);
    }
    let heap = (live() - before) as f64;
    gate.wait();
    for rx in receivers {
        rx.recv().unwrap();
    }
    Row {
        name: "rayon::spawn + std channel",
        heap: heap / JOBS as f64,
        handle: size_of::<mpsc::Receiver<u64>>(),
    }
}

fn main() {
    // Criterion's `cargo bench` passes filter arguments; this binary has
    // one measurement and ignores them. blocking's pool reads its thread
    // cap from the environment once, at its first use: one thread, as the
    // other pools get.
    // SAFETY: no other thread runs yet (this is the first line of `main`,
    // and nothing above started one), so nothing reads the environment
    // concurrently.
    unsafe { std::env::set_var("BLOCKING_MAX_THREADS", "1") };
    let rows = [polysync(), tokio(), blocking(), rayon()];
    let ours = rows[0].heap + rows[0].handle as f64;
    println!("bytes per queued job ({JOBS} jobs queued behind one busy pool thread)\n");
    println!("| implementation | heap per job | caller's handle | total | total / polysync's |");
    println!("|---|---:|---:|---:|---:|");
    for row in &rows {
        let total = row.heap + row.handle as f64;
        println!(
            "| {} | {:.1} | {} | {:.1} | {:.2} |",
            row.name,
            row.heap,
            row.handle,
            total,
            total / ours
        );
    }
}
