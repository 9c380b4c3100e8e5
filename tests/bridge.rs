//! The thread bridge (issue 19): results and panics in every form, the
//! limiter's bound (10,000 jobs from 100 callers under 4 tokens, counted
//! inside the jobs), what a caller that gives up leaves behind, and
//! `run_on` (the way back into async code).

#[path = "support/worlds.rs"]
mod worlds;

use polysync::bridge::{
    BoxedTask, FromThreadError, JobPanicked, Offload, RunError, ThreadPool, is_cancelled, run_on,
    run_on_with, to_thread, to_thread_blocking, to_thread_with, try_run_on_for, try_to_thread_for,
    try_to_thread_until,
};
use polysync::lowlevel::ThreadWaiter;
use polysync::{CapacityLimiter, Event};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use worlds::{Watchdog, multi_thread_rt, wait_until};

const LONG: Duration = Duration::from_secs(60);

#[test]
fn every_form_returns_the_result_and_the_panic() {
    let _w = Watchdog::new("every_form", Duration::from_secs(30));
    assert_eq!(futures_lite::future::block_on(to_thread(|| 1)).unwrap(), 1);
    assert_eq!(to_thread_blocking(|| 2).unwrap(), 2);
    assert_eq!(try_to_thread_for(|| 3, LONG).unwrap(), 3);
    assert_eq!(try_to_thread_until(|| 4, Instant::now() + LONG).unwrap(), 4);
    let with = ThreadWaiter::with_current(|w| to_thread_with(|| 5, w, None));
    assert_eq!(with.unwrap(), 5);

    let boom = || -> u8 { panic!("boom") };
    let p = futures_lite::future::block_on(to_thread(boom)).unwrap_err();
    assert_eq!(p.message(), Some("boom"));
    assert_eq!(
        to_thread_blocking(boom).unwrap_err().message(),
        Some("boom")
    );
    let is_boom = |e: RunError| matches!(e, RunError::Panicked(p) if p.message() == Some("boom"));
    assert!(is_boom(try_to_thread_for(boom, LONG).unwrap_err()));
    assert!(is_boom(
        try_to_thread_until(boom, Instant::now() + LONG).unwrap_err()
    ));
    assert!(is_boom(
        ThreadWaiter::with_current(|w| to_thread_with(boom, w, None)).unwrap_err()
    ));
    // A job's panic kills no pool thread and leaves no token borrowed. On a
    // limiter of this test's own: the other tests of this binary run beside
    // it and borrow from the default limiter meanwhile.
    let own = Offload::new(Arc::new(CapacityLimiter::new(1)));
    assert!(own.run_blocking(boom).is_err());
    assert_eq!(own.limiter().borrowed_tokens(), 0);
    assert_eq!(own.run_blocking(|| "still there").unwrap(), "still there");
    assert_eq!(to_thread_blocking(|| "still there").unwrap(), "still there");
}

#[test]
fn a_tokio_task_awaits_without_a_task_identity() {
    let _w = Watchdog::new("tokio_task", Duration::from_secs(30));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let out = rt.block_on(async {
        let a = tokio::spawn(to_thread(|| {
            std::thread::current().name().map(String::from)
        }));
        a.await.unwrap().unwrap()
    });
    assert_eq!(out.as_deref(), Some("polysync-bridge"));
}

/// 100 callers (50 threads, 50 tokio tasks) offload 100 jobs each through
/// one 4-token limiter: every job runs exactly once, returns its own
/// result, and never more than 4 run at once (counted inside the jobs).
#[test]
fn ten_thousand_jobs_from_100_callers_never_more_than_4_at_once() {
    const CALLERS: usize = 100;
    const JOBS: usize = 100;
    let _w = Watchdog::new("ten_thousand_jobs", Duration::from_secs(120));
    let offload = Offload::new(Arc::new(CapacityLimiter::new(4)));
    let runs: Arc<Vec<AtomicUsize>> =
        Arc::new((0..CALLERS * JOBS).map(|_| AtomicUsize::new(0)).collect());
    let inside = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let job = {
        let (runs, inside, most) = (runs.clone(), inside.clone(), most.clone());
        move |id: usize| {
            let (runs, inside, most) = (runs.clone(), inside.clone(), most.clone());
            move || {
                let n = inside.fetch_add(1, SeqCst) + 1;
                most.fetch_max(n, SeqCst);
                runs[id].fetch_add(1, SeqCst);
                std::thread::yield_now();
                inside.fetch_sub(1, SeqCst);
                id * 3
            }
        }
    };
    let rt = multi_thread_rt();
    let tasks: Vec<_> = (0..CALLERS / 2)
        .map(|c| {
            let (offload, job) = (offload.clone(), job.clone());
            rt.spawn(async move {
                for j in 0..JOBS {
                    let id = c * JOBS + j;
                    assert_eq!(offload.run(job(id)).await.unwrap(), id * 3);
                }
            })
        })
        .collect();
    let threads: Vec<_> = (CALLERS / 2..CALLERS)
        .map(|c| {
            let (offload, job) = (offload.clone(), job.clone());
            std::thread::spawn(move || {
                for j in 0..JOBS {
                    let id = c * JOBS + j;
                    assert_eq!(offload.run_blocking(job(id)).unwrap(), id * 3);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    rt.block_on(async {
        for t in tasks {
            t.await.unwrap();
        }
    });
    for (id, r) in runs.iter().enumerate() {
        assert_eq!(r.load(SeqCst), 1, "job {id} ran {} times", r.load(SeqCst));
    }
    let most = most.load(SeqCst);
    eprintln!("most jobs at once: {most}");
    assert!(most <= 4, "{most} jobs ran at once under a 4-token limiter");
    assert_eq!(offload.limiter().borrowed_tokens(), 0);
}

/// A job withdrawn while it waits for its token never runs, even once
/// tokens appear later.
#[test]
fn a_job_withdrawn_before_its_token_never_runs() {
    let _w = Watchdog::new("withdrawn", Duration::from_secs(30));
    let offload = Offload::new(Arc::new(CapacityLimiter::new(0)));
    let ran = Arc::new(AtomicBool::new(false));
    let r = {
        let ran = ran.clone();
        offload.try_run_for(move || ran.store(true, SeqCst), Duration::from_millis(5))
    };
    assert!(matches!(r, Err(RunError::TimedOut)));
    // The async form, dropped while queued in the limiter.
    {
        let ran = ran.clone();
        let mut fut = Box::pin(offload.run(move || ran.store(true, SeqCst)));
        assert!(
            futures_lite::future::block_on(futures_lite::future::poll_once(&mut fut)).is_none()
        );
        assert_eq!(offload.limiter().waiting(), 1);
    }
    assert_eq!(offload.limiter().waiting(), 0);
    offload.limiter().set_total_tokens(4);
    // A later job runs; the withdrawn ones did not, and never will.
    offload.run_blocking(|| ()).unwrap();
    assert!(!ran.load(SeqCst), "a withdrawn job ran");
    assert_eq!(offload.limiter().borrowed_tokens(), 0);
}

/// A job that holds its token but waits for a thread (the pool's one
/// thread is busy) is skipped once its caller gave up.
#[test]
fn a_queued_job_whose_caller_gave_up_is_skipped() {
    let _w = Watchdog::new("skipped", Duration::from_secs(30));
    let pool = ThreadPool::builder().max_threads(1).build();
    let offload = Offload::new(Arc::new(CapacityLimiter::new(2))).with_pool(pool.clone());
    let gate = Arc::new(Event::new());
    let busy = {
        let (offload, gate) = (offload.clone(), gate.clone());
        std::thread::spawn(move || offload.run_blocking(move || gate.wait_blocking()).unwrap())
    };
    wait_until("the busy job runs", || {
        pool.threads() == 1 && pool.queued() == 0 && offload.limiter().borrowed_tokens() == 1
    });
    let ran = Arc::new(AtomicBool::new(false));
    let r = {
        let ran = ran.clone();
        offload.try_run_for(move || ran.store(true, SeqCst), Duration::from_millis(5))
    };
    assert!(matches!(r, Err(RunError::TimedOut)));
    gate.set();
    busy.join().unwrap();
    wait_until("the skipped job's token", || {
        offload.limiter().borrowed_tokens() == 0
    });
    offload.run_blocking(|| ()).unwrap();
    assert!(
        !ran.load(SeqCst),
        "a job whose caller gave up before it started ran"
    );
}

/// A started job runs to completion when its caller gives up; it sees
/// `is_cancelled()`, and its result is dropped on the pool thread.
#[test]
fn a_started_job_completes_and_its_result_drops_on_the_pool_thread() {
    struct Result(Arc<Mutex<Option<String>>>);
    impl Drop for Result {
        fn drop(&mut self) {
            let name = std::thread::current().name().map(String::from);
            *self.0.lock().unwrap() = Some(name.unwrap_or_default());
        }
    }
    let _w = Watchdog::new("started", Duration::from_secs(30));
    let pool = ThreadPool::builder().name("started-pool").build();
    let offload = Offload::new(Arc::new(CapacityLimiter::new(1))).with_pool(pool);
    let (started, gate) = (Arc::new(Event::new()), Arc::new(Event::new()));
    let dropped_on = Arc::new(Mutex::new(None));
    let saw_cancel = Arc::new(AtomicBool::new(false));
    let mut fut = {
        let (started, gate, dropped_on, saw) = (
            started.clone(),
            gate.clone(),
            dropped_on.clone(),
            saw_cancel.clone(),
        );
        Box::pin(offload.run(move || {
            started.set();
            gate.wait_blocking();
            saw.store(is_cancelled(), SeqCst);
            Result(dropped_on)
        }))
    };
    assert!(futures_lite::future::block_on(futures_lite::future::poll_once(&mut fut)).is_none());
    started.wait_blocking();
    drop(fut);
    gate.set();
    wait_until("the result dropped", || {
        dropped_on.lock().unwrap().is_some()
    });
    assert_eq!(dropped_on.lock().unwrap().as_deref(), Some("started-pool"));
    assert!(
        saw_cancel.load(SeqCst),
        "the job did not see its caller give up"
    );
    wait_until("the token back", || {
        offload.limiter().borrowed_tokens() == 0
    });
}

#[test]
fn the_pool_reuses_idle_threads_and_respects_its_cap() {
    let _w = Watchdog::new("reuse", Duration::from_secs(30));
    let pool = ThreadPool::builder().max_threads(2).build();
    let offload = Offload::new(Arc::new(CapacityLimiter::new(8))).with_pool(pool.clone());
    for _ in 0..20 {
        offload.run_blocking(|| ()).unwrap();
    }
    // Sequential calls: one thread, reused.
    assert_eq!(pool.threads(), 1);
    let gate = Arc::new(Event::new());
    let callers: Vec<_> = (0..6)
        .map(|_| {
            let (offload, gate) = (offload.clone(), gate.clone());
            std::thread::spawn(move || offload.run_blocking(move || gate.wait_blocking()).unwrap())
        })
        .collect();
    wait_until("two running, four queued", || pool.queued() == 4);
    assert_eq!(pool.threads(), 2);
    gate.set();
    for c in callers {
        c.join().unwrap();
    }
    assert!(pool.threads() <= 2);
}

// ---- run_on: the way back -------------------------------------------------

fn thread_spawner(task: BoxedTask) {
    std::thread::spawn(move || futures_lite::future::block_on(task));
}

#[test]
fn run_on_returns_output_panic_and_drop_typed() {
    let _w = Watchdog::new("run_on", Duration::from_secs(30));
    assert_eq!(run_on(&thread_spawner, async { 5 }).unwrap(), 5);
    let err = run_on(&thread_spawner, async { panic!("in async") }).unwrap_err();
    assert!(matches!(&err, FromThreadError::Panicked(p) if p.message() == Some("in async")));
    // An executor that drops the task unpolled.
    let dropping = |task: BoxedTask| drop(task);
    assert!(matches!(
        run_on(&dropping, async { 1 }),
        Err(FromThreadError::Dropped)
    ));
    let never = |task: BoxedTask| std::mem::forget(task);
    let r = try_run_on_for(&never, async { 1 }, Duration::from_millis(2));
    assert!(matches!(r, Err(FromThreadError::TimedOut)));
    let r = ThreadWaiter::with_current(|w| run_on_with(&thread_spawner, async { 8 }, w, None));
    assert_eq!(r.unwrap(), 8);
}

#[test]
fn run_on_from_a_pool_job() {
    let _w = Watchdog::new("run_on_from_job", Duration::from_secs(30));
    let rt = multi_thread_rt();
    let handle = rt.handle().clone();
    let spawner = move |task: BoxedTask| {
        handle.spawn(task);
    };
    let out = to_thread_blocking(move || {
        run_on(&spawner, async {
            tokio::task::yield_now().await;
            11
        })
    });
    assert_eq!(out.unwrap().unwrap(), 11);
}

#[test]
#[should_panic(expected = "would deadlock")]
fn run_on_refuses_its_own_thread() {
    struct Own;
    impl polysync::bridge::Spawner for Own {
        fn spawn(&self, _task: BoxedTask) {}
        fn drives_current_thread(&self) -> bool {
            true
        }
    }
    let _ = run_on(&Own, async {});
}

// What crosses threads and tasks is Send (and Sync where shared); the
// errors are std errors; the async form is a 'static Send future.
static_assertions::assert_impl_all!(Offload: Send, Sync, Clone, std::fmt::Debug);
static_assertions::assert_impl_all!(ThreadPool: Send, Sync, Clone, std::fmt::Debug);
static_assertions::assert_impl_all!(JobPanicked: Send, std::error::Error);
static_assertions::assert_impl_all!(RunError: Send, std::error::Error);
static_assertions::assert_impl_all!(FromThreadError: Send, std::error::Error);

#[test]
fn the_async_form_is_a_static_send_future() {
    fn send_static<T: Send + 'static>(t: T) -> T {
        t
    }
    let fut = send_static(to_thread(|| 1u8));
    assert_eq!(futures_lite::future::block_on(fut).unwrap(), 1);
}

/// `run_on` from a corosensei green thread suspends only that green
/// thread: the future (on another executor) waits until a sibling green
/// thread of the same hub has ticked three times, which it could not do if
/// the caller blocked the hub.
#[test]
fn run_on_from_a_green_thread_keeps_its_hub_running() {
    use std::sync::atomic::AtomicU64;
    let _w = Watchdog::new("run_on_green", Duration::from_secs(60));
    let ticks = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let advanced = {
        let (ticks, done) = (ticks.clone(), done.clone());
        polysync_corosensei::run(move || {
            let ticker = {
                let (ticks, done) = (ticks.clone(), done.clone());
                polysync_corosensei::spawn(move || {
                    while !done.load(SeqCst) {
                        polysync_corosensei::yield_now();
                        ticks.fetch_add(1, SeqCst);
                    }
                })
            };
            let caller = {
                let ticks = ticks.clone();
                polysync_corosensei::spawn(move || {
                    let start = ticks.load(SeqCst);
                    run_on(&thread_spawner, async move {
                        let end = Instant::now() + Duration::from_secs(10);
                        while ticks.load(SeqCst) < start + 3 {
                            if Instant::now() > end {
                                return false;
                            }
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        true
                    })
                    .unwrap()
                })
            };
            let advanced = caller.join().unwrap();
            done.store(true, SeqCst);
            ticker.join().unwrap();
            advanced
        })
    };
    assert!(
        advanced,
        "the hub stopped while its green thread waited in run_on"
    );
}

/// `run_on` and `to_thread_blocking` from a coroutine on may's only worker
/// park the coroutine, not the worker: the future (on another executor) and
/// the job (on a pool thread) each wait until a sibling coroutine has
/// ticked three times on that worker.
#[test]
fn a_may_coroutine_waits_without_blocking_its_worker() {
    use std::sync::atomic::AtomicU64;
    let _w = Watchdog::new("may_worker", Duration::from_secs(60));
    may::config().set_workers(1).set_worker_pin(false);
    polysync_may::install().expect("install the may backend");
    let ticks = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    // Ticks only on the worker: an expired sleep resumes on may's timer
    // thread, the yield that follows goes back to the worker.
    let ticker = {
        let (ticks, done) = (ticks.clone(), done.clone());
        may::go!(move || {
            while !done.load(SeqCst) {
                may::coroutine::sleep(Duration::from_millis(1));
                may::coroutine::yield_now();
                ticks.fetch_add(1, SeqCst);
            }
        })
    };
    let advanced = move |ticks: Arc<AtomicU64>| {
        let start = ticks.load(SeqCst);
        let end = Instant::now() + Duration::from_secs(10);
        while ticks.load(SeqCst) < start + 3 {
            if Instant::now() > end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    };
    let caller = {
        let ticks = ticks.clone();
        may::go!(move || {
            let t = ticks.clone();
            let via_run_on = run_on(&thread_spawner, async move { advanced(t) }).unwrap();
            let via_job = to_thread_blocking(move || advanced(ticks)).unwrap();
            (via_run_on, via_job)
        })
    };
    let (via_run_on, via_job) = caller.join().unwrap();
    done.store(true, SeqCst);
    ticker.join().unwrap();
    assert!(
        via_run_on,
        "may's worker stopped while a coroutine waited in run_on"
    );
    assert!(
        via_job,
        "may's worker stopped while a coroutine waited for its job"
    );
}
