//! Proves that `REvent` and `CountdownEvent` waits allocate nothing: the
//! queue node lives in the waiting stack frame (blocking forms) or inline in
//! the future (async form; the node is made in place on the first poll),
//! and set/clear/up/down never allocate (wakers are batched in a fixed
//! array).
//!
//! A counting `#[global_allocator]` wraps `std::alloc::System`; counting is
//! per thread and opt-in (a `const` thread-local flag), so the harness, other
//! tests and helper threads add no noise. Each test runs two threads that
//! ping-pong through two events (one side async under
//! `futures_lite::block_on`, the other blocking), first a warm-up round
//! (creating the thread's cached waiter and futures-lite's cached waker),
//! then `N` measured rounds that must report **zero** allocations on both
//! threads. Each test also checks that the waits were really contended
//! (`try_wait` failed before waiting, and a notifier saw a queued waiter), so
//! the zero is not the zero of a fast path.
//!
//! This binary holds only allocation tests: the allocator applies to all of it.

use futures_lite::future::block_on;
use polysync::countdown::CountdownEvent;
use polysync::revent::REvent;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Measured rounds per test.
const N: usize = 5_000;
/// Warm-up rounds.
const WARMUP: usize = 200;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

/// Runs `f` with allocation counting on for the calling thread only;
/// returns its result, the count and the size of the first allocation.
fn measured<R>(f: impl FnOnce() -> R) -> (R, usize, usize) {
    let (out, allocs) = counting_alloc::measured(f);
    (out, allocs.count, allocs.first_size)
}

/// What one thread saw.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    /// `try_wait` failed, so the wait took the queueing path.
    try_failed: usize,
    /// A notifier saw a queued waiter before notifying.
    saw_waiter: usize,
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

/// Every 16th round the notifier sleeps ~50 us first, so the other side
/// surely queues and (blocking) parks for real.
#[inline]
fn pause(i: usize) {
    if i % 16 == 15 {
        std::thread::sleep(Duration::from_micros(50));
    }
}

/// Spawns two threads that run `work(me, WARMUP)` unmeasured, meet, then
/// `work(me, N)` measured; asserts zero allocations and real contention.
fn two_threads<F>(name: &str, work: F)
where
    F: Fn(usize, usize) -> Seen + Send + Sync + 'static,
{
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let work = Arc::new(work);
    let start = Arc::new(StartLine(AtomicUsize::new(0)));
    let threads: Vec<_> = (0..2)
        .map(|me| {
            let (work, start) = (work.clone(), start.clone());
            std::thread::Builder::new()
                .name(format!("{name}-{me}"))
                .spawn(move || {
                    // Warm-up: a blocking wait that surely queues and times
                    // out creates the thread's cached waiter.
                    assert!(!REvent::new().try_wait_for(Duration::from_micros(1)));
                    start.wait(2);
                    work(me, WARMUP);
                    start.wait(4);
                    measured(|| work(me, N))
                })
                .expect("spawn")
        })
        .collect();
    let results: Vec<(Seen, usize, usize)> = threads
        .into_iter()
        .map(|t| t.join().expect("a measured thread panicked"))
        .collect();
    let total = results[0].0 + results[1].0;
    eprintln!(
        "{name}: {N} rounds; allocations {} / {}; contention {:?} / {:?}",
        results[0].1, results[1].1, results[0].0, results[1].0
    );
    for (me, (_, count, first)) in results.iter().enumerate() {
        assert_eq!(
            *count, 0,
            "{name}: thread {me} allocated {count} times in {N} rounds (first: {first} bytes)"
        );
    }
    assert!(
        total.try_failed >= N / 100,
        "{name}: not contended enough to prove anything: {total:?}"
    );
    assert!(
        total.saw_waiter > 0,
        "{name}: no queued waiter observed: {total:?}"
    );
}

#[test]
fn counter_sees_allocations_on_opted_in_threads_only() {
    let (b, count, first) = measured(|| black_box(Box::new(black_box(7u64))));
    assert_eq!(*b, 7);
    assert_eq!(
        (count, first),
        (1, 8),
        "the counting allocator must see a Box"
    );
    let helper = std::thread::spawn(|| {
        for i in 0..100u64 {
            black_box(Box::new(i));
        }
    });
    let ((), count, _) = measured(|| {
        while !helper.is_finished() {
            std::hint::spin_loop();
        }
    });
    helper.join().unwrap();
    assert_eq!(
        count, 0,
        "another thread's allocations are not counted here"
    );
}

/// `REvent` ping-pong: thread 0 does `ping.set()` and waits for `pong` (async,
/// or blocking with a deadline when `swap`); thread 1 waits for `ping`
/// (blocking, or async when `swap`), clears it and sets `pong`.
fn revent_ping_pong(name: &str, swap: bool) {
    let ping = Arc::new(REvent::new());
    let pong = Arc::new(REvent::new());
    two_threads(name, move |me, n| {
        let mut seen = Seen::default();
        let (ping, pong) = (&*ping, &*pong);
        if me == 0 {
            let round = |i: usize, seen: &mut Seen| {
                pause(i);
                if ping.waiting() > 0 {
                    seen.saw_waiter += 1;
                }
                ping.set();
                if !pong.try_wait() {
                    seen.try_failed += 1;
                }
            };
            if swap {
                for i in 0..n {
                    round(i, &mut seen);
                    assert!(pong.try_wait_for(Duration::from_secs(30)));
                    pong.clear();
                }
            } else {
                block_on(async {
                    for i in 0..n {
                        round(i, &mut seen);
                        pong.wait().await;
                        pong.clear();
                    }
                });
            }
        } else {
            let after = |seen: &mut Seen| {
                ping.clear();
                if pong.waiting() > 0 {
                    seen.saw_waiter += 1;
                }
                pong.set();
            };
            if swap {
                block_on(async {
                    for _ in 0..n {
                        if !ping.try_wait() {
                            seen.try_failed += 1;
                        }
                        ping.wait().await;
                        after(&mut seen);
                    }
                });
            } else {
                for _ in 0..n {
                    if !ping.try_wait() {
                        seen.try_failed += 1;
                    }
                    ping.wait_blocking();
                    after(&mut seen);
                }
            }
        }
        seen
    });
}

#[test]
fn revent_async_waiter_blocking_waiter_allocate_nothing() {
    revent_ping_pong("revent async/blocking", false);
}

#[test]
fn revent_timed_waiter_async_waiter_allocate_nothing() {
    revent_ping_pong("revent timed/async", true);
}

/// `CountdownEvent` ping-pong over two countdowns starting at 1: thread 0
/// does `ping.down()`, waits for `pong` to reach zero (async, or blocking with
/// a deadline when `swap`) and raises it again; thread 1 waits for `ping`
/// (blocking, or async when `swap`), raises it again, and `pong.down()`s.
fn countdown_ping_pong(name: &str, swap: bool) {
    let ping = Arc::new(CountdownEvent::new(1));
    let pong = Arc::new(CountdownEvent::new(1));
    two_threads(name, move |me, n| {
        let mut seen = Seen::default();
        let (ping, pong) = (&*ping, &*pong);
        if me == 0 {
            let round = |i: usize, seen: &mut Seen| {
                pause(i);
                if ping.waiting() > 0 {
                    seen.saw_waiter += 1;
                }
                assert_eq!(ping.down(), Ok(0));
                if !pong.try_wait() {
                    seen.try_failed += 1;
                }
            };
            if swap {
                for i in 0..n {
                    round(i, &mut seen);
                    assert!(pong.try_wait_for(Duration::from_secs(30)));
                    pong.up(1);
                }
            } else {
                block_on(async {
                    for i in 0..n {
                        round(i, &mut seen);
                        pong.wait().await;
                        pong.up(1);
                    }
                });
            }
        } else {
            let after = |seen: &mut Seen| {
                ping.up(1);
                if pong.waiting() > 0 {
                    seen.saw_waiter += 1;
                }
                assert_eq!(pong.down(), Ok(0));
            };
            if swap {
                block_on(async {
                    for _ in 0..n {
                        if !ping.try_wait() {
                            seen.try_failed += 1;
                        }
                        ping.wait().await;
                        after(&mut seen);
                    }
                });
            } else {
                for _ in 0..n {
                    if !ping.try_wait() {
                        seen.try_failed += 1;
                    }
                    ping.wait_blocking();
                    after(&mut seen);
                }
            }
        }
        seen
    });
}

#[test]
fn countdown_async_waiter_blocking_waiter_allocate_nothing() {
    countdown_ping_pong("countdown async/blocking", false);
}

#[test]
fn countdown_timed_waiter_async_waiter_allocate_nothing() {
    countdown_ping_pong("countdown timed/async", true);
}

#[test]
fn batched_set_of_many_queued_futures_allocates_nothing() {
    // 40 futures queued on one thread (three wake batches), set from the
    // same thread: the WakeList is a fixed array, nothing is boxed.
    let ev = REvent::new();
    let cd = CountdownEvent::new(1);
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    // Warm-up and measurement run the same code.
    for measure in [false, true] {
        let mut run = || {
            let mut futs: [_; 40] = std::array::from_fn(|_| ev.wait());
            let mut cfuts: [_; 40] = std::array::from_fn(|_| cd.wait());
            for f in &mut futs {
                // SAFETY: the array is not moved while the futures are queued.
                let f = unsafe { std::pin::Pin::new_unchecked(f) };
                assert!(std::future::Future::poll(f, &mut cx).is_pending());
            }
            for f in &mut cfuts {
                // SAFETY: as above.
                let f = unsafe { std::pin::Pin::new_unchecked(f) };
                assert!(std::future::Future::poll(f, &mut cx).is_pending());
            }
            assert_eq!(ev.waiting(), 40);
            assert_eq!(cd.waiting(), 40);
            ev.set();
            ev.clear();
            cd.down().unwrap();
            cd.up(1);
            assert_eq!(ev.waiting(), 0);
            assert_eq!(cd.waiting(), 0);
            for f in &mut futs {
                // SAFETY: as above.
                let f = unsafe { std::pin::Pin::new_unchecked(f) };
                assert!(std::future::Future::poll(f, &mut cx).is_ready());
            }
            for f in &mut cfuts {
                // SAFETY: as above.
                let f = unsafe { std::pin::Pin::new_unchecked(f) };
                assert!(std::future::Future::poll(f, &mut cx).is_ready());
            }
        };
        if measure {
            let ((), count, first) = measured(run);
            assert_eq!(count, 0, "allocated {count} times (first: {first} bytes)");
        } else {
            run();
        }
    }
}
