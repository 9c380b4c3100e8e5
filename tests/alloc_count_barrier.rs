//! Proves that barrier phases allocate nothing once warmed up: every wait's
//! queue node lives in the waiting stack frame or inline in the future, the
//! opener wakes its phase from a fixed-size batch on its stack, and a
//! thread's waiter / an executor's waker are created once and then reused.
//!
//! A counting `#[global_allocator]` wraps `std::alloc::System`. Counting is
//! opt-in per thread (a `const` thread-local flag), so the harness, other
//! tests and runtime helper threads add no noise. Each measured thread runs a
//! warm-up round first (it creates the thread's parker, its unit id,
//! futures-lite's cached waker, tokio's runtime state), then a measured round
//! that must report **zero** allocations.
//!
//! Each test also checks that the parties really waited for each other: a
//! party that gets index 0 (or is broken while queued) took the slow path,
//! queued its node and was woken by another thread, so a zero is not the
//! zero of a fast path.
//!
//! This binary holds only allocation tests: the allocator is global.

use polysync::barrier::{Barrier, Latch, RBarrier};
use std::cell::Cell;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Measured phases per test.
const N: usize = 5_000;
/// Warm-up phases.
const WARMUP: usize = 200;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::start_counting;

/// Turns counting off; returns (allocations, size of the first one).
fn stop_counting() -> (usize, usize) {
    let allocs = counting_alloc::stop_counting();
    (allocs.count, allocs.first_size)
}

/// A start line that allocates nothing.
struct StartLine(AtomicUsize);

impl StartLine {
    fn wait(&self, n: usize) {
        self.0.fetch_add(1, Ordering::AcqRel);
        while self.0.load(Ordering::Acquire) < n {
            std::hint::spin_loop();
            std::thread::yield_now();
        }
    }
}

/// What one party saw: how often it queued and was woken by another thread.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    queued: usize,
}

/// Runs `parties` threads that each call `work(me, WARMUP)` unmeasured, meet,
/// then call `work(me, N)` with counting on (the closure itself decides where
/// counting starts and stops, see [`measure`]). Asserts zero allocations and
/// that every party queued at least sometimes.
fn run<F>(name: &str, parties: usize, work: F)
where
    F: Fn(usize, usize, &dyn Fn(&mut dyn FnMut())) -> Seen + Send + Sync + 'static,
{
    // One measured group at a time, so that the group has the cores.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let work = Arc::new(work);
    let line = Arc::new(StartLine(AtomicUsize::new(0)));
    let threads: Vec<_> = (0..parties)
        .map(|me| {
            let (work, line) = (work.clone(), line.clone());
            std::thread::Builder::new()
                .name(format!("{name}-{me}"))
                .spawn(move || {
                    let unmeasured = |f: &mut dyn FnMut()| f();
                    work(me, WARMUP, &unmeasured);
                    line.wait(parties);
                    let result = Cell::new((0, 0));
                    let measured = |f: &mut dyn FnMut()| {
                        start_counting();
                        f();
                        result.set(stop_counting());
                    };
                    let seen = work(me, N, &measured);
                    (seen, result.get())
                })
                .expect("spawn")
        })
        .collect();
    let results: Vec<(Seen, (usize, usize))> = threads
        .into_iter()
        .map(|t| t.join().expect("a party panicked"))
        .collect();
    eprintln!("{name}: {N} phases; (seen, (allocations, first size)) per party: {results:?}");
    for (me, (seen, (allocs, first))) in results.iter().enumerate() {
        assert_eq!(
            *allocs, 0,
            "{name}: party {me} allocated {allocs} times in {N} phases (first: {first} bytes)"
        );
        assert!(
            seen.queued > 0,
            "{name}: party {me} never queued; nothing was proven"
        );
    }
}

#[test]
fn counter_counts_on_opted_in_threads() {
    start_counting();
    let b = black_box(Box::new(black_box(3u32)));
    let (n, size) = stop_counting();
    assert_eq!(*b, 3);
    assert_eq!((n, size), (1, 4));
    start_counting();
    std::thread::spawn(|| black_box(vec![1u8; 100]))
        .join()
        .unwrap();
    let (n, _) = stop_counting();
    // Spawning allocates here; the other thread's Vec is not counted here.
    assert!(n > 0);
}

#[test]
fn barrier_blocking_phases_allocate_nothing() {
    let b = Arc::new(Barrier::new(2));
    run("barrier blocking", 2, move |_, n, measure| {
        let mut seen = Seen::default();
        measure(&mut || {
            for _ in 0..n {
                if b.wait_blocking().unwrap().index() == 0 {
                    seen.queued += 1;
                }
            }
        });
        seen
    });
}

#[test]
fn barrier_timed_blocking_phases_allocate_nothing() {
    let b = Arc::new(RBarrier::new(2));
    run("rbarrier try_wait_for", 2, move |_, n, measure| {
        let mut seen = Seen::default();
        measure(&mut || {
            for _ in 0..n {
                if b.try_wait_for(Duration::from_secs(60)).unwrap().index() == 0 {
                    seen.queued += 1;
                }
            }
        });
        seen
    });
}

#[test]
fn barrier_async_phases_allocate_nothing() {
    // futures-lite's block_on over a loop of `wait().await`: the future is a
    // field of the loop's state machine, on the block_on stack.
    let b = Arc::new(Barrier::new(2));
    run("barrier async", 2, move |_, n, measure| {
        let mut seen = Seen::default();
        measure(&mut || {
            futures_lite::future::block_on(async {
                for _ in 0..n {
                    if b.wait().await.unwrap().index() == 0 {
                        seen.queued += 1;
                    }
                }
            })
        });
        seen
    });
}

#[test]
fn barrier_mixed_blocking_and_async_allocate_nothing() {
    // Three parties: two blocking threads and one futures-lite task.
    let b = Arc::new(Barrier::new(3));
    run("barrier mixed", 3, move |me, n, measure| {
        let mut seen = Seen::default();
        if me == 0 {
            measure(&mut || {
                futures_lite::future::block_on(async {
                    for _ in 0..n {
                        if b.wait().await.unwrap().index() != 2 {
                            seen.queued += 1;
                        }
                    }
                })
            });
        } else {
            measure(&mut || {
                for _ in 0..n {
                    if b.wait_blocking().unwrap().index() != 2 {
                        seen.queued += 1;
                    }
                }
            });
        }
        seen
    });
}

#[test]
fn barrier_tokio_task_phases_allocate_nothing() {
    // One party is a task on a current-thread tokio runtime (the runtime
    // runs on the measured thread), the other a blocking thread.
    let b = Arc::new(Barrier::new(2));
    run("barrier tokio", 2, move |me, n, measure| {
        let mut seen = Seen::default();
        if me == 0 {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            rt.block_on(async {
                measure(&mut || {});
                start_counting();
                for _ in 0..n {
                    if b.wait().await.unwrap().index() == 0 {
                        seen.queued += 1;
                    }
                }
                let (allocs, first) = stop_counting();
                assert_eq!(allocs, 0, "tokio party allocated (first: {first} bytes)");
            });
        } else {
            measure(&mut || {
                for _ in 0..n {
                    if b.wait_blocking().unwrap().index() == 0 {
                        seen.queued += 1;
                    }
                }
            });
        }
        seen
    });
}

#[test]
fn latch_and_reset_cycles_allocate_nothing() {
    // Latches (preallocated, one per round): party 0 waits blocking, party 1
    // awaits with futures-lite. Then an RBarrier round: party 0 queues and
    // party 1 resets it once it sees the waiter (a broken wait, woken).
    let rounds = WARMUP + N;
    let latches: Arc<Vec<Latch>> = Arc::new((0..rounds).map(|_| Latch::new(2)).collect());
    let next = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let r = Arc::new(RBarrier::new(2));
    run("latch + reset", 2, move |me, n, measure| {
        let mut seen = Seen::default();
        let first = next[me].fetch_add(n, Ordering::Relaxed);
        measure(&mut || {
            for i in first..first + n {
                if me == 0 {
                    if latches[i].waiting() == 0 {
                        seen.queued += 1; // probably queues; counted loosely
                    }
                    latches[i].wait_blocking().unwrap();
                    if r.wait_blocking().is_err() {
                        seen.queued += 1;
                    }
                } else {
                    futures_lite::future::block_on(latches[i].wait()).unwrap();
                    while r.waiting() == 0 {
                        std::thread::yield_now();
                    }
                    r.reset();
                    seen.queued += 1;
                }
            }
        });
        seen
    });
}
