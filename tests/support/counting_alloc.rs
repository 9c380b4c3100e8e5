//! The scaffolding of the allocation-counting tests (tests/alloc_count*.rs):
//! a counting `#[global_allocator]` with per-thread opt-in counting, measured
//! phases, and a two-thread harness that proves the waits really contended.
//! Included with `#[path]` by each binary that uses it; the allocator applies
//! to that whole binary.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Iterations of each measured phase.
pub const N: usize = 10_000;
/// Iterations of the warm-up round.
pub const WARMUP: usize = 200;

pub struct Counting;

std::thread_local! {
    /// Whether this thread counts its allocations now.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    /// Allocations (alloc, alloc_zeroed, realloc) counted on this thread.
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
    /// The size of the first counted allocation (for the failure message).
    static FIRST_SIZE: Cell<usize> = const { Cell::new(0) };
    /// Whether to record a backtrace of the first counted allocation.
    static TRACE: Cell<bool> = const { Cell::new(false) };
}

/// `POLYSYNC_ALLOC_BACKTRACE=1`: print where the first allocation of a
/// measured phase came from.
pub static TRACES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

#[inline]
pub fn note(size: usize) {
    // `const` thread-locals without `Drop` need no lazy initialisation and no
    // destructor registration, so touching them here cannot recurse into the
    // allocator. `try_with` keeps this safe during thread teardown.
    let _ = COUNTING.try_with(|counting| {
        if counting.get() {
            let _ = ALLOCS.try_with(|n| {
                if n.get() == 0 {
                    let _ = FIRST_SIZE.try_with(|s| s.set(size));
                    if TRACE.try_with(Cell::get).unwrap_or(false) {
                        // Diagnostics only: record where the first allocation
                        // came from, with counting off to avoid recursion.
                        counting.set(false);
                        let trace = format!(
                            "thread {:?}:\n{}",
                            std::thread::current().name(),
                            std::backtrace::Backtrace::force_capture()
                        );
                        if let Ok(mut traces) = TRACES.lock() {
                            traces.push(trace);
                        }
                        counting.set(true);
                    }
                }
                n.set(n.get() + 1);
            });
        }
    });
}

// SAFETY: forwards every call to `System` unchanged; the counting touches
// only `const` thread-local cells.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// What a measured phase allocated on the calling thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allocs {
    pub count: usize,
    pub first_size: usize,
}

/// Runs `f` with allocation counting on for the calling thread only.
pub fn measured<R>(f: impl FnOnce() -> R) -> (R, Allocs) {
    measured_with(false, f)
}

/// [`measured`], recording a backtrace of the first allocation if `trace`.
pub fn measured_with<R>(trace: bool, f: impl FnOnce() -> R) -> (R, Allocs) {
    TRACE.with(|t| t.set(trace));
    start_counting();
    let out = f();
    (out, stop_counting())
}

/// Turns counting on for the calling thread, from zero (for phases that do
/// not fit one closure; pair with [`stop_counting`]).
pub fn start_counting() {
    ALLOCS.with(|n| n.set(0));
    FIRST_SIZE.with(|s| s.set(0));
    COUNTING.with(|c| c.set(true));
}

/// Turns counting off for the calling thread; what it counted since
/// [`start_counting`].
pub fn stop_counting() -> Allocs {
    COUNTING.with(|c| c.set(false));
    TRACE.with(|t| t.set(false));
    Allocs {
        count: ALLOCS.with(Cell::get),
        first_size: FIRST_SIZE.with(Cell::get),
    }
}

/// A start line for two threads that allocates nothing.
pub struct StartLine(AtomicUsize);

impl StartLine {
    fn new() -> Self {
        Self(AtomicUsize::new(0))
    }

    /// Waits until `n` threads arrived (cumulative over the test).
    fn wait(&self, n: usize) {
        self.0.fetch_add(1, Ordering::AcqRel);
        while self.0.load(Ordering::Acquire) < n {
            std::hint::spin_loop();
            std::thread::yield_now();
        }
    }
}

/// Work inside a critical section. Every 16th round the holder sleeps
/// ~50 us while holding: even when the machine is loaded (or the two threads
/// share one core) the other thread then runs, fails its `try_*` and queues,
/// and the wait is long enough that a blocking waiter parks for real; the
/// release then hands over directly and unparks it.
#[inline]
pub fn hold(i: usize) {
    if i % 16 == 15 {
        std::thread::sleep(Duration::from_micros(50));
    } else {
        for _ in 0..(i % 7) * 8 {
            std::hint::spin_loop();
        }
    }
}

/// What one measured thread saw.
#[derive(Debug, Default, Clone, Copy)]
pub struct Seen {
    /// A `try_*` failed, so the thread took the waiting path.
    pub try_failed: usize,
    /// While holding (or before notifying), the thread saw a queued waiter.
    pub saw_waiter: usize,
}

impl std::ops::Add for Seen {
    type Output = Seen;
    fn add(self, o: Seen) -> Seen {
        Seen {
            try_failed: self.try_failed + o.try_failed,
            saw_waiter: self.saw_waiter + o.saw_waiter,
        }
    }
}

/// Spawns two threads that each run `warm(WARMUP)` unmeasured, meet, then run
/// `work(N)` measured; asserts zero allocations on both and real contention.
pub fn two_threads<F>(name: &str, work: F) -> [Seen; 2]
where
    F: Fn(usize, usize) -> Seen + Send + Sync + 'static,
{
    // One measured pair at a time, so each pair has the cores to itself and
    // really contends (the harness runs tests in parallel otherwise).
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let work = Arc::new(work);
    let start = Arc::new(StartLine::new());
    let threads: Vec<_> = (0..2)
        .map(|me| {
            let work = work.clone();
            let start = start.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{me}"))
                .spawn(move || {
                    let trace =
                        std::env::var_os("POLYSYNC_ALLOC_BACKTRACE").is_some_and(|v| v == "1");
                    // Warm-up, part 1: one blocking wait that surely takes the
                    // slow path (it times out on an empty semaphore), so the
                    // thread's cached waiter (an `Arc` of its parker and
                    // `Thread`, created lazily on the first blocking wait) and
                    // its unit id exist.
                    assert!(
                        polysync::Semaphore::new(0)
                            .try_acquire_for(Duration::from_micros(1))
                            .is_none()
                    );
                    start.wait(2);
                    // Warm-up, part 2: the real workload, unmeasured (creates
                    // futures-lite's cached parker and waker, among others).
                    work(me, WARMUP);
                    start.wait(4);
                    measured_with(trace, || work(me, N))
                })
                .expect("spawn")
        })
        .collect();
    let results: Vec<(Seen, Allocs)> = threads
        .into_iter()
        .map(|t| t.join().expect("a measured thread panicked"))
        .collect();
    let total = results[0].0 + results[1].0;
    eprintln!(
        "{name}: {N} iterations per thread; allocations {:?} / {:?}; contention {:?} / {:?}",
        results[0].1, results[1].1, results[0].0, results[1].0
    );
    if let Ok(traces) = TRACES.lock() {
        for trace in traces.iter() {
            eprintln!("first allocation of a measured phase:\n{trace}");
        }
    }
    for (me, (_, allocs)) in results.iter().enumerate() {
        assert_eq!(
            allocs.count, 0,
            "{name}: thread {me} allocated {} times in {N} contended iterations \
             (first allocation: {} bytes)",
            allocs.count, allocs.first_size
        );
    }
    assert!(
        total.try_failed >= N / 100,
        "{name}: the waits were not contended enough to prove anything: {total:?}"
    );
    assert!(
        total.saw_waiter > 0,
        "{name}: no queued waiter was ever observed: {total:?}"
    );
    [results[0].0, results[1].0]
}

/// The current OS thread's waiter with spinning off: a bounded queue or
/// channel spins before it waits by default (issue 18 item 2), and a waiter
/// that spins rarely queues, while the measured waits must queue. Blocking
/// forms are their `_with` form on the thread's waiter, so `_with` on this
/// one takes the same path minus the spin.
pub struct NoSpin<'a>(pub &'a polysync::lowlevel::ThreadWaiter);

impl polysync::lowlevel::Waiter for NoSpin<'_> {
    fn waker(&self) -> std::task::Waker {
        self.0.waker()
    }
    fn wait(&self, deadline: Option<std::time::Instant>) -> polysync::lowlevel::WaitResult {
        self.0.wait(deadline)
    }
    fn next_in_line(&self, next: bool) {
        self.0.next_in_line(next)
    }
    fn waits(&self) -> Option<u64> {
        self.0.waits()
    }
}

/// Runs `f` with this thread's [`NoSpin`] waiter.
pub fn no_spin<R>(f: impl FnOnce(&NoSpin<'_>) -> R) -> R {
    polysync::lowlevel::ThreadWaiter::with_current(|w| f(&NoSpin(w)))
}
