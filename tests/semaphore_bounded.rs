//! Bounded fairness of the semaphores (issue 18, item 1), in both modes:
//! `new_bounded` (a release wakes the oldest waiter to compete; a running
//! unit may take free permits first; the oldest is handed its permits once
//! it has been overtaken too often) and `new_fair` (strict FIFO hand-off).
//!
//! - Accounting and no lost wake-up under a stress of threads and
//!   futures-lite tasks with random cancellation (timed-out blocking waits,
//!   dropped futures) and random request sizes: the permits held, counted
//!   inside, never exceed the total, and every permit comes back. Each
//!   mode, under a watchdog.
//! - The bound, counted and deterministic (one thread, no timing): a front
//!   that does not fit is overtaken exactly `OVERTAKE_BOUND` times, a woken
//!   front loses exactly `LOST_RETRIES` retries, then the next release
//!   hands it its permits.
//! - A woken front that gives up passes the wake on; a front that wins its
//!   retry wakes the next waiter if what is left fits it.
//! - A many-permit waiter is served under a storm of one-permit barges.
//! - The maximum of a `BoundedSemaphore` and `close` hold in bounded mode.

#[path = "support/probe.rs"]
mod probe;
use probe::{WakeCount, poll_with, xorshift};
#[path = "support/worlds.rs"]
mod worlds;
use worlds::Watchdog;

use futures_lite::future::block_on;
use polysync::lock::{LOST_RETRIES, OVERTAKE_BOUND};
use polysync::{AcquireError, BoundedSemaphore, Semaphore};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::Poll;
use std::thread;
use std::time::Duration;

type Make = fn(usize) -> Semaphore;

fn modes() -> [(&'static str, Make); 2] {
    [
        ("bounded", Semaphore::new_bounded),
        ("fair", Semaphore::new_fair),
    ]
}

/// Takes `k` of the total inside: the held count never exceeds it.
fn enter(inside: &AtomicUsize, k: usize, total: usize) {
    let before = inside.fetch_add(k, Ordering::SeqCst);
    assert!(
        before + k <= total,
        "{} permits held of {total}",
        before + k
    );
}

fn stress(sem: Arc<Semaphore>, total: usize, threads: usize, tasks: usize, rounds: usize) {
    let inside = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for t in 0..threads {
        let (sem, inside) = (sem.clone(), inside.clone());
        handles.push(thread::spawn(move || {
            let mut seed = 0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1);
            for _ in 0..rounds {
                let k = (xorshift(&mut seed) % total as u64 + 1) as usize;
                let permit = match xorshift(&mut seed) % 4 {
                    // A timed wait that often gives up while queued (and
                    // sometimes just as it was woken to compete).
                    0 => sem
                        .try_acquire_many_for(k, Duration::from_micros(xorshift(&mut seed) % 50))
                        .ok(),
                    1 => sem.try_acquire_many(k).ok(),
                    _ => Some(sem.acquire_many_blocking(k).unwrap()),
                };
                if let Some(permit) = permit {
                    enter(&inside, k, total);
                    if xorshift(&mut seed) % 8 == 0 {
                        thread::yield_now();
                    }
                    inside.fetch_sub(k, Ordering::SeqCst);
                    drop(permit);
                }
            }
        }));
    }
    for t in 0..tasks {
        let (sem, inside) = (sem.clone(), inside.clone());
        handles.push(thread::spawn(move || {
            let mut seed = 0xD1B5_4A32_D192_ED03 ^ (t as u64 + 1);
            block_on(async {
                for _ in 0..rounds {
                    let k = (xorshift(&mut seed) % total as u64 + 1) as usize;
                    if xorshift(&mut seed) % 3 == 0 {
                        // Poll once or a few times, then drop the future: a
                        // waiter that leaves while queued, or after it was
                        // woken to compete and before it retried.
                        let mut fut = pin!(sem.acquire_many(k));
                        let polls = xorshift(&mut seed) % 3 + 1;
                        let got = futures_lite::future::poll_fn(|cx| {
                            for _ in 0..polls {
                                if let Poll::Ready(p) = fut.as_mut().poll(cx) {
                                    return Poll::Ready(Some(p.unwrap()));
                                }
                            }
                            Poll::Ready(None)
                        })
                        .await;
                        if let Some(permit) = got {
                            enter(&inside, k, total);
                            inside.fetch_sub(k, Ordering::SeqCst);
                            drop(permit);
                        }
                    } else {
                        let permit = sem.acquire_many(k).await.unwrap();
                        enter(&inside, k, total);
                        futures_lite::future::yield_now().await;
                        inside.fetch_sub(k, Ordering::SeqCst);
                        drop(permit);
                    }
                }
            });
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(sem.value(), total, "every permit came back");
    assert_eq!(sem.waiting(), 0);
}

#[test]
fn stress_with_random_cancellation_keeps_the_count_and_loses_no_wake() {
    for (mode, make) in modes() {
        for total in [1, 2] {
            let _dog = Watchdog::new(
                "semaphore stress with cancellation",
                Duration::from_secs(60),
            );
            let sem = Arc::new(make(total));
            assert_eq!(sem.is_fair(), mode == "fair");
            // Miri-sized under Miri (its threads are emulated, slowly).
            let rounds = if cfg!(miri) { 20 } else { 2000 };
            stress(sem, total, 3, 3, rounds);
            eprintln!("{mode}, {total} permits: ok");
        }
    }
}

/// The count bound, exactly: a front that wants 2 while 1 is free is
/// overtaken by one-permit acquisitions (each taken and given back) until
/// it has been overtaken `OVERTAKE_BOUND` times; then barging stops, and the
/// release after which its request fits hands the permits to it directly.
/// One thread, deterministic.
#[test]
#[cfg_attr(miri, ignore = "OVERTAKE_BOUND (65 536) barges: too slow under Miri")]
fn a_front_that_does_not_fit_is_overtaken_exactly_the_bound() {
    let sem = Semaphore::new_bounded(0);
    let (woken, waker) = WakeCount::new();
    let mut front = pin!(sem.acquire_many(2));
    assert!(poll_with(front.as_mut(), &waker).is_pending());
    sem.release(1);
    assert_eq!(woken.get(), 0, "1 free does not fit a request for 2");
    let mut barges = 0u64;
    while let Some(permit) = sem.try_acquire() {
        barges += 1;
        drop(permit);
        assert!(barges <= OVERTAKE_BOUND, "overtaken past the bound");
    }
    assert_eq!(barges, OVERTAKE_BOUND, "barging stops at the bound");
    assert!(sem.try_acquire_many(1).is_err());
    assert_eq!(sem.value(), 1, "the free permit waits for the front");
    // The release that makes it fit hands the permits over.
    sem.release(1);
    assert_eq!(sem.value(), 0, "handed over, not freed");
    assert_eq!(woken.get(), 1);
    let Poll::Ready(Ok(permit)) = poll_with(front.as_mut(), &waker) else {
        panic!("the front was handed its permits");
    };
    assert_eq!(permit.num_permits(), 2);
    drop(permit);
    // The debt started again at 0: barging is allowed again.
    assert_eq!(sem.value(), 2);
    assert!(sem.try_acquire().is_some());
}

/// The retry bound, exactly: each round a release wakes the front (its
/// request fits), a running unit barges in first, and the woken front
/// loses its retry; after `LOST_RETRIES` lost retries the next release
/// hands it the permit and barging is refused.
#[test]
fn a_woken_front_loses_exactly_the_bound_of_retries() {
    let sem = Semaphore::new_bounded(0);
    let (woken, waker) = WakeCount::new();
    let mut front = pin!(sem.acquire());
    assert!(poll_with(front.as_mut(), &waker).is_pending());
    let mut lost = 0;
    loop {
        let wakes = woken.get();
        sem.release(1);
        assert_eq!(
            woken.get(),
            wakes + 1,
            "a release that fits wakes the front"
        );
        let Some(barge) = sem.try_acquire() else {
            break;
        };
        // The front retries and loses.
        assert!(poll_with(front.as_mut(), &waker).is_pending());
        lost += 1;
        assert!(lost <= LOST_RETRIES, "lost past the bound");
        barge.forget();
    }
    assert_eq!(lost, LOST_RETRIES);
    assert_eq!(sem.value(), 0, "handed over, not freed");
    assert!(matches!(
        poll_with(front.as_mut(), &waker),
        Poll::Ready(Ok(_))
    ));
}

/// The classic lost wake-up of wake-to-compete designs: a release wakes the
/// front (it stays queued, the permit is free) and the front's future is
/// dropped before it retries. The wake passes to the next waiter (if the
/// permit is still free; if a barger took it, that barger's release wakes
/// it). Deterministic: the waiters are futures with counting wakers.
#[test]
fn a_woken_front_that_is_dropped_passes_the_wake_on() {
    for barger in [false, true] {
        let sem = Semaphore::new_bounded(1);
        let held = sem.try_acquire().unwrap();
        let (front_woken, front_waker) = WakeCount::new();
        let (behind_woken, behind_waker) = WakeCount::new();
        let mut front = Box::pin(sem.acquire());
        let mut behind = pin!(sem.acquire());
        assert!(poll_with(front.as_mut(), &front_waker).is_pending());
        assert!(poll_with(behind.as_mut(), &behind_waker).is_pending());
        drop(held);
        assert_eq!(front_woken.get(), 1, "the release wakes the front");
        assert_eq!(sem.value(), 1, "free while the front retries");
        assert_eq!(sem.waiting(), 2, "the woken front keeps its place");
        let barged = if barger {
            let p = sem.try_acquire().expect("a running unit barges");
            Some(p)
        } else {
            None
        };
        drop(front);
        assert_eq!(behind_woken.get(), usize::from(!barger), "barger: {barger}");
        drop(barged);
        assert_eq!(behind_woken.get(), 1, "barger: {barger}");
        assert!(matches!(
            poll_with(behind.as_mut(), &behind_waker),
            Poll::Ready(Ok(_))
        ));
    }
}

/// A release of several permits wakes only the front; the front that wins
/// its retry wakes the next waiter if what is left fits it, and so on: no
/// permit stays free while a waiter it fits sleeps.
#[test]
fn a_front_that_wins_wakes_the_next_if_it_fits() {
    let sem = Semaphore::new_bounded(0);
    let counts: Vec<_> = (0..3).map(|_| WakeCount::new()).collect();
    let mut waits: Vec<_> = (0..3).map(|_| Box::pin(sem.acquire())).collect();
    for (w, (_, waker)) in waits.iter_mut().zip(&counts) {
        assert!(poll_with(w.as_mut(), waker).is_pending());
    }
    sem.release(2);
    assert_eq!(counts[0].0.get(), 1);
    assert_eq!(counts[1].0.get(), 0, "only the front is woken");
    let Poll::Ready(Ok(first)) = poll_with(waits[0].as_mut(), &counts[0].1) else {
        panic!("the front's retry wins");
    };
    assert_eq!(counts[1].0.get(), 1, "the winner woke the next front");
    let Poll::Ready(Ok(second)) = poll_with(waits[1].as_mut(), &counts[1].1) else {
        panic!("the second's retry wins");
    };
    assert_eq!(counts[2].0.get(), 0, "nothing left for the third");
    first.forget();
    drop(second);
    assert_eq!(counts[2].0.get(), 1);
    let Poll::Ready(Ok(third)) = poll_with(waits[2].as_mut(), &counts[2].1) else {
        panic!("the third's retry wins");
    };
    assert_eq!(sem.value(), 0);
    drop(third);
    assert_eq!(sem.value(), 1);
}

/// A waiter for all the permits is served while three threads take and
/// give back one permit each as fast as they can (so the free count
/// rarely, or never, reaches the whole request on its own): the barges
/// past it count toward its bound, and it is handed the permits. The
/// storm's acquisitions while it waited are counted and stay within the
/// bound (plus the barges in flight at each step). Never timed.
#[test]
#[cfg_attr(
    miri,
    ignore = "a storm of up to OVERTAKE_BOUND barges: too slow under Miri"
)]
fn a_many_permit_waiter_is_served_under_a_storm_of_one_permit_barges() {
    let _dog = Watchdog::new("many-permit waiter under a storm", Duration::from_secs(120));
    let total = 4;
    let sem = Arc::new(Semaphore::new_bounded(total));
    let stop = Arc::new(AtomicBool::new(false));
    let taken = Arc::new(AtomicUsize::new(0));
    let storm: Vec<_> = (0..3)
        .map(|_| {
            let (sem, stop, taken) = (sem.clone(), stop.clone(), taken.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let p = sem.acquire_blocking().unwrap();
                    taken.fetch_add(1, Ordering::Relaxed);
                    drop(p);
                }
            })
        })
        .collect();
    worlds::wait_until("the storm runs", || taken.load(Ordering::Relaxed) > 1000);
    for round in 0..10 {
        let before = taken.load(Ordering::SeqCst);
        let p = if round % 2 == 0 {
            sem.acquire_many_blocking(total).unwrap()
        } else {
            block_on(sem.acquire_many(total)).unwrap()
        };
        let during = taken.load(Ordering::SeqCst) - before;
        assert_eq!(sem.value(), 0);
        drop(p);
        // Queued storm threads ahead of it can be overtaken too, each
        // while it is the front.
        let bound = 4 * (OVERTAKE_BOUND as usize + 4);
        assert!(during <= bound, "overtaken {during} times (bound {bound})");
    }
    stop.store(true, Ordering::Relaxed);
    for h in storm {
        h.join().unwrap();
    }
    assert_eq!(sem.value(), total);
}

/// A `BoundedSemaphore` or `BinarySemaphore` with bounded fairness keeps
/// its maximum on the free permits, and a release that the free count
/// cannot hold goes straight to the waiters it fits (as in strict mode):
/// a second release while the woken front has not retried yet serves it
/// directly, rather than failing (bounded) or being dropped (binary).
#[test]
fn a_release_past_the_maximum_goes_straight_to_the_waiters() {
    let sem = BoundedSemaphore::new_bounded(0, 1);
    let (woken, waker) = WakeCount::new();
    let mut front = pin!(sem.acquire());
    let mut behind = pin!(sem.acquire());
    assert!(poll_with(front.as_mut(), &waker).is_pending());
    assert!(poll_with(behind.as_mut(), &waker).is_pending());
    sem.release(1).unwrap();
    assert_eq!(woken.get(), 1, "the front is woken to compete");
    assert_eq!(sem.value(), 1);
    sem.release(1).unwrap();
    assert_eq!(sem.value(), 1, "one permit went to the front directly");
    assert_eq!(woken.get(), 2, "and the new front is woken: 1 free fits it");
    let Poll::Ready(Ok(first)) = poll_with(front.as_mut(), &waker) else {
        panic!("handed its permit");
    };
    let Poll::Ready(Ok(second)) = poll_with(behind.as_mut(), &waker) else {
        panic!("its retry wins");
    };
    assert_eq!(sem.value(), 0);
    first.forget();
    second.forget();
    sem.release(1).unwrap();
    assert!(
        sem.release(1).is_err(),
        "nobody waits: a second free permit would exceed the maximum"
    );
    assert_eq!(sem.value(), 1);

    let bin = polysync::BinarySemaphore::new_bounded(false);
    let mut a = pin!(bin.acquire());
    let mut b = pin!(bin.acquire());
    assert!(poll_with(a.as_mut(), &waker).is_pending());
    assert!(poll_with(b.as_mut(), &waker).is_pending());
    bin.release();
    bin.release();
    assert_eq!(bin.value(), 1);
    assert!(matches!(poll_with(a.as_mut(), &waker), Poll::Ready(Ok(_))));
    assert!(matches!(poll_with(b.as_mut(), &waker), Poll::Ready(Ok(_))));
}

/// `close` fails every waiter in bounded mode too, a woken front included.
#[test]
fn close_fails_a_woken_front_and_the_rest() {
    let sem = Semaphore::new_bounded(0);
    let (_, waker) = WakeCount::new();
    let mut front = pin!(sem.acquire());
    let mut behind = pin!(sem.acquire_many(2));
    assert!(poll_with(front.as_mut(), &waker).is_pending());
    assert!(poll_with(behind.as_mut(), &waker).is_pending());
    sem.release(1);
    sem.close();
    assert!(matches!(
        poll_with(front.as_mut(), &waker),
        Poll::Ready(Err(AcquireError))
    ));
    assert!(matches!(
        poll_with(behind.as_mut(), &waker),
        Poll::Ready(Err(AcquireError))
    ));
    assert_eq!(sem.value(), 1, "permits still count");
    assert!(sem.try_acquire().is_none());
}
