#![cfg(polysync_loom)]
//! loom models of the bridge pool's hand-off (issue 19): a job submitted
//! while the only thread goes idle, a submit racing an idle thread's
//! retirement, a job withdrawn while a thread takes it, the pool's
//! shutdown while a job queues, the count of notified threads that a
//! submit relies on instead of notifying again, and the searching rule (a
//! thread that takes a job passes the search on to the next idle one).
//!
//! Run with:
//!
//! CARGO_TARGET_DIR=target/loom RUSTFLAGS="--cfg polysync_loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p polysync --release --test loom_bridge
//!
//! Under `--cfg polysync_loom` the pool's lock, condvar and threads and the
//! job's state lock are loom's (src/lowlevel/sync.rs), so these models check
//! the real pool and job through the public API (`Offload` on a pool of its
//! own). loom has no clock, and its condvar never times out: through the
//! shim, a pool with a non-zero idle timeout waits for a notification only,
//! and a pool with a zero idle timeout times out at once after giving the
//! lock up for a moment (so the schedule decides where the time-out fires).
//!
//! The same loom rules as tests/loom.rs: the main thread never waits (it
//! polls, drops, joins, or spins with `yield_now` on a pool snapshot), a
//! blocking caller is a thread of its own, preemption bound 2, at most 5
//! threads in all (pool threads included).

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;
use polysync::CapacityLimiter;
use polysync::bridge::{Offload, ThreadPool};
use std::time::Duration;

#[path = "support/loom.rs"]
mod support;

use support::{flag_waker, model, poll_once};

/// Long enough never to pass (and under loom, a wait without time-out).
const NEVER: Duration = Duration::from_secs(3600);

/// A pool of one thread, and an offload on it under a limiter of `tokens`.
fn one_thread(idle_timeout: Duration, tokens: usize) -> (ThreadPool, Offload) {
    pool_of(1, idle_timeout, tokens)
}

/// A pool of at most `max` threads, and an offload on it under a limiter
/// of `tokens`.
fn pool_of(max: usize, idle_timeout: Duration, tokens: usize) -> (ThreadPool, Offload) {
    let pool = ThreadPool::builder()
        .max_threads(max)
        .idle_timeout(idle_timeout)
        .build();
    let offload =
        Offload::new(std::sync::Arc::new(CapacityLimiter::new(tokens))).with_pool(pool.clone());
    (pool, offload)
}

/// Counts how many times it was dropped.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// What a withdrawn job's closure leaves behind.
#[derive(Default)]
struct Tally {
    /// Times the closure ran.
    runs: AtomicUsize,
    /// Times the closure was dropped (run, skipped, or never queued).
    closures: Arc<AtomicUsize>,
    /// Times its result was dropped.
    results: Arc<AtomicUsize>,
}

impl Tally {
    /// A job that counts its run and its drops.
    fn job(self: &std::sync::Arc<Self>) -> impl FnOnce() -> Counted + Send + 'static {
        let tally = self.clone();
        let closure = Counted(self.closures.clone());
        move || {
            let _closure = closure;
            tally.runs.fetch_add(1, SeqCst);
            Counted(tally.results.clone())
        }
    }
}

/// (a) The pool's only thread finishes a job and goes idle while its
/// caller submits the next one: wherever the submit falls (the thread
/// still busy, telling the caller, back at the queue, or waiting on the
/// condvar), the job runs. A submit that neither finds the thread spare
/// nor notifies it when idle leaves the job queued with the thread asleep.
/// The pool may grow to two threads, yet sequential calls never need a
/// second one: a submit that does not count the thread coming back from
/// its job (`spare`) starts another.
#[test]
fn job_submitted_as_the_only_thread_goes_idle_runs() {
    model(|| {
        let (pool, offload) = pool_of(2, NEVER, 2);
        let runs = Arc::new(AtomicUsize::new(0));
        let caller = {
            let runs = runs.clone();
            thread::spawn(move || {
                for n in 1..=2 {
                    let runs = runs.clone();
                    let got = offload
                        .run_blocking(move || runs.fetch_add(1, SeqCst) + 1)
                        .unwrap();
                    assert_eq!(got, n);
                }
            })
        };
        caller.join().unwrap();
        assert_eq!(runs.load(SeqCst), 2);
        assert_eq!(
            pool.threads(),
            1,
            "sequential calls started a second thread"
        );
        // The last handle goes: the idle thread wakes and exits (loom
        // reports a deadlock if it never does).
        drop(pool);
    });
}

/// (b) An idle thread's retirement time-out races the next submit: the
/// thread may time out before, during or after it, and the job still runs
/// exactly once; once nothing is queued every thread retires, so the
/// count returns to zero. A thread that retires with a job queued (the
/// notification lost in its time-out) strands the job; a thread that
/// leaves without counting itself out keeps the pool from growing again.
#[test]
fn submit_racing_an_idle_retirement_runs_once_and_the_threads_retire() {
    model(|| {
        let (pool, offload) = one_thread(Duration::ZERO, 2);
        let runs = Arc::new(AtomicUsize::new(0));
        let caller = {
            let runs = runs.clone();
            thread::spawn(move || {
                for _ in 0..2 {
                    let runs = runs.clone();
                    offload
                        .run_blocking(move || {
                            runs.fetch_add(1, SeqCst);
                        })
                        .unwrap();
                }
            })
        };
        caller.join().unwrap();
        assert_eq!(runs.load(SeqCst), 2);
        while pool.threads() != 0 {
            thread::yield_now();
        }
        assert_eq!(pool.idle_threads(), 0);
        assert_eq!(pool.queued(), 0);
    });
}

/// (c) A caller gives its job up (drops the future after one poll) while
/// the pool thread takes it: the job runs once or never, its closure is
/// dropped once, its result (if it ran) is dropped once, and its token goes
/// back either way. A second job on the same single thread (FIFO) is the
/// barrier after which the first is settled; it needs the one token, so a
/// token that a skipped job keeps blocks it.
#[test]
fn withdrawn_job_racing_its_start_runs_at_most_once_and_drops_its_result() {
    model(|| {
        let (pool, offload) = one_thread(NEVER, 1);
        let tally = std::sync::Arc::new(Tally::default());
        let (_flag, waker) = flag_waker();
        let mut run = Box::pin(offload.run(tally.job()));
        // Takes the free token and queues the job; the pool thread may even
        // finish it before the poll looks.
        if let std::task::Poll::Ready(result) = poll_once(run.as_mut(), &waker) {
            drop(result.unwrap());
        }
        let caller = {
            let tally = tally.clone();
            thread::spawn(move || {
                drop(run); // gives the job up, racing its start
                offload.run_blocking(|| ()).unwrap();
                let runs = tally.runs.load(SeqCst);
                assert!(runs <= 1, "the withdrawn job ran {runs} times");
                assert_eq!(tally.closures.load(SeqCst), 1);
                assert_eq!(tally.results.load(SeqCst), runs);
                assert_eq!(offload.limiter().borrowed_tokens(), 0);
            })
        };
        caller.join().unwrap();
        drop(pool);
    });
}

/// (d) The last handle of a pool goes (shutdown) while its job queues: the
/// thread drains the queue (the job, given up with that handle, runs once
/// or is skipped), then exits instead of waiting; loom reports a deadlock
/// if a thread sleeps through the shutdown.
#[test]
fn shutdown_while_a_job_queues_drains_and_exits() {
    model(|| {
        let (pool, offload) = one_thread(NEVER, 1);
        let tally = std::sync::Arc::new(Tally::default());
        let (_flag, waker) = flag_waker();
        let mut run = Box::pin(offload.run(tally.job()));
        // The future holds the last handle from here on.
        drop((pool, offload));
        if let std::task::Poll::Ready(result) = poll_once(run.as_mut(), &waker) {
            drop(result.unwrap());
        }
        drop(run); // shutdown, racing the thread's start and its look
        // The main thread never waits: it spins until the job is settled.
        while tally.closures.load(SeqCst) == 0
            || tally.results.load(SeqCst) != tally.runs.load(SeqCst)
        {
            thread::yield_now();
        }
        assert!(tally.runs.load(SeqCst) <= 1);
    });
}

/// (e) Three calls in a row on a pool of one thread: each submit finds the
/// thread busy, back from its job (`spare`), on its way back from a
/// notification (`notified`) or waiting, and its job runs. A submit skips
/// the notification only while a spare or notified thread will look at
/// the queue; a thread back from its wait that does not take its
/// notification off leaves the count too high, and the third submit then
/// finds the thread waiting, counted as notified, and sleeps through.
///
/// Preemption bound 1 (not the file's 2): without any preemption the
/// thread is already waiting at each submit, which is the schedule that
/// strands the third job; a second preemption only multiplies the
/// schedules (a minute and a half of CI time) without a new hand-off.
#[test]
fn sequential_calls_each_reach_the_one_thread() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(builder.preemption_bound.unwrap_or(2).min(1));
    builder.max_branches = 100_000;
    builder.check(|| {
        let (pool, offload) = one_thread(NEVER, 1);
        let runs = Arc::new(AtomicUsize::new(0));
        let caller = {
            let runs = runs.clone();
            thread::spawn(move || {
                for _ in 0..3 {
                    let runs = runs.clone();
                    offload
                        .run_blocking(move || {
                            runs.fetch_add(1, SeqCst);
                        })
                        .unwrap();
                }
            })
        };
        caller.join().unwrap();
        assert_eq!(runs.load(SeqCst), 3);
        drop(pool);
    });
}

/// (f) The searching rule: with both threads idle, two jobs submitted in
/// a row, the first of which returns only once the second ran. The first
/// submit notifies one thread; the second finds it notified and does not
/// notify again, so the thread that takes the first job must pass the
/// search on (notify the other idle thread) before it runs its job,
/// wherever the submits fall in its wake-up. A taker that keeps the search
/// to itself leaves the second job queued behind the first, which waits
/// for it forever (loom reports the spin that never ends).
///
/// Preemption bound 0: the schedule that strands the second job needs no
/// preemption (the main thread submits both jobs before either thread
/// looks), and each preemption multiplies the schedules of the spin loops
/// (bound 1 ran for minutes).
#[test]
fn a_burst_passes_the_search_from_thread_to_thread() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(0);
    builder.max_branches = 100_000;
    builder.check(|| {
        let (pool, offload) = pool_of(2, NEVER, 2);
        let (_flag, waker) = flag_waker();
        // Both threads start (no thread is idle at either submit), run a
        // job each and come to wait on the condvar.
        let mut warm: Vec<_> = (0..2).map(|_| Box::pin(offload.run(|| ()))).collect();
        for call in &mut warm {
            let _ = poll_once(call.as_mut(), &waker);
        }
        while pool.idle_threads() != 2 {
            thread::yield_now();
        }
        drop(warm);
        let second_ran = Arc::new(AtomicUsize::new(0));
        let first_done = Arc::new(AtomicUsize::new(0));
        let mut first = {
            let (second_ran, first_done) = (second_ran.clone(), first_done.clone());
            Box::pin(offload.run(move || {
                while second_ran.load(SeqCst) == 0 {
                    thread::yield_now();
                }
                first_done.store(1, SeqCst);
            }))
        };
        let mut second = {
            let second_ran = second_ran.clone();
            Box::pin(offload.run(move || second_ran.store(1, SeqCst)))
        };
        let _ = poll_once(first.as_mut(), &waker);
        let _ = poll_once(second.as_mut(), &waker);
        while first_done.load(SeqCst) == 0 {
            thread::yield_now();
        }
        drop((first, second));
        drop(pool);
    });
}
