//! Bounded fairness of `Lock` and `Mutex` (issue 18, first slice), in both
//! modes: the default (a release wakes the oldest waiter to compete; a
//! running unit may take the free lock first; the oldest is handed the lock
//! directly once it has been overtaken too often) and `new_fair` (strict
//! FIFO hand-off).
//!
//! - Exclusion and no lost wake-up under a stress of threads and tasks with
//!   random cancellation (timed-out blocking waits, dropped futures), each
//!   mode, under a watchdog.
//! - No starvation under a barging storm: a queued waiter gets in while
//!   threads take and release the lock as fast as they can; the storm's
//!   acquisitions while it waited are counted and stay within the bound.
//! - A woken front that gives up passes the wake on (the classic lost
//!   wake-up of wake-to-compete designs), deterministically.
//! - Exclusion on the spinning path (issue 18 item 5): threads that spin
//!   before they queue take the lock only through its compare-exchange.
//!
//! No timing is asserted: every wait that could hang has a watchdog.

#[path = "support/worlds.rs"]
mod worlds;
use worlds::Watchdog;

use futures_lite::future::block_on;
use polysync::{Lock, Mutex};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::Poll;
use std::thread;
use std::time::Duration;

type Make = fn() -> Lock;

fn modes() -> [(&'static str, Make); 2] {
    [("bounded", Lock::new_bounded), ("fair", Lock::new_fair)]
}

/// A small xorshift, so the cancellation pattern differs per thread
/// without a dependency.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn stress(lock: Arc<Lock>, threads: usize, tasks: usize, rounds: usize) {
    let inside = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for t in 0..threads {
        let (lock, inside, done) = (lock.clone(), inside.clone(), done.clone());
        handles.push(thread::spawn(move || {
            let mut seed = 0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1);
            for _ in 0..rounds {
                let guard = match next(&mut seed) % 4 {
                    // A timed wait that often gives up while queued (and
                    // sometimes just as it was woken to compete).
                    0 => lock.try_acquire_for(Duration::from_micros(next(&mut seed) % 50)),
                    1 => lock.try_acquire(),
                    _ => Some(lock.acquire_blocking()),
                };
                if let Some(guard) = guard {
                    assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                    if next(&mut seed) % 8 == 0 {
                        thread::yield_now();
                    }
                    inside.fetch_sub(1, Ordering::SeqCst);
                    drop(guard);
                }
            }
            done.fetch_add(1, Ordering::SeqCst);
        }));
    }
    for t in 0..tasks {
        let (lock, inside, done) = (lock.clone(), inside.clone(), done.clone());
        handles.push(thread::spawn(move || {
            let mut seed = 0xD1B5_4A32_D192_ED03 ^ (t as u64 + 1);
            block_on(async {
                for _ in 0..rounds {
                    if next(&mut seed) % 3 == 0 {
                        // Poll once or a few times, then drop the future:
                        // a waiter that leaves while queued, or after it
                        // was woken to compete and before it retried.
                        let mut fut = pin!(lock.acquire());
                        let polls = next(&mut seed) % 3 + 1;
                        let got = futures_lite::future::poll_fn(|cx| {
                            for _ in 0..polls {
                                if let Poll::Ready(g) = fut.as_mut().poll(cx) {
                                    return Poll::Ready(Some(g));
                                }
                            }
                            Poll::Ready(None)
                        })
                        .await;
                        if let Some(guard) = got {
                            assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                            inside.fetch_sub(1, Ordering::SeqCst);
                            drop(guard);
                        }
                    } else {
                        let guard = lock.acquire().await;
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                        futures_lite::future::yield_now().await;
                        inside.fetch_sub(1, Ordering::SeqCst);
                        drop(guard);
                    }
                }
            });
            done.fetch_add(1, Ordering::SeqCst);
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(done.load(Ordering::SeqCst), threads + tasks);
    assert!(!lock.is_locked());
    assert_eq!(lock.waiting(), 0);
    assert!(lock.try_acquire().is_some());
}

#[test]
fn stress_with_random_cancellation_keeps_exclusion_and_loses_no_wake() {
    for (mode, make) in modes() {
        let _dog = Watchdog::new("lock stress with cancellation", Duration::from_secs(60));
        stress(Arc::new(make()), 3, 3, 3000);
        eprintln!("{mode}: ok");
    }
}

#[test]
fn mutex_stress_counts_every_increment_in_both_modes() {
    for fair in [false, true] {
        let _dog = Watchdog::new("mutex stress", Duration::from_secs(60));
        let m = Arc::new(if fair {
            Mutex::new_fair(0u64)
        } else {
            Mutex::new_bounded(0u64)
        });
        let rounds = 5000;
        let hs: Vec<_> = (0..4)
            .map(|t| {
                let m = m.clone();
                thread::spawn(move || {
                    for i in 0..rounds {
                        if t % 2 == 0 {
                            *m.lock_blocking() += 1;
                        } else if i % 5 == 0 {
                            // A timed wait that may give up (then it retries
                            // untimed, so the count stays exact).
                            match m.try_lock_for(Duration::from_micros(20)) {
                                Some(mut g) => *g += 1,
                                None => *m.lock_blocking() += 1,
                            }
                        } else {
                            block_on(async { *m.lock().await += 1 });
                        }
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(*m.lock_blocking(), 4 * rounds);
        assert!(!m.is_locked());
        assert_eq!(m.is_fair(), fair);
    }
}

/// The classic lost wake-up of wake-to-compete designs: the release wakes
/// the front waiter (it stays queued, the lock is free), and that waiter's
/// future is dropped before it retries. The wake must pass to the next
/// waiter, a thread parked behind it; with the wake lost, the thread would
/// sleep forever on a free lock (the watchdog fails the test).
#[test]
fn a_woken_front_that_is_dropped_passes_the_wake_on() {
    let _dog = Watchdog::new("woken front dropped", Duration::from_secs(30));
    for barger in [false, true] {
        let lock = Arc::new(Lock::new_bounded());
        // Held by an async acquisition: no thread owns it, so this thread
        // may release it and try again without the re-entry check.
        let held = block_on(lock.acquire());
        let mut front = Box::pin(lock.acquire());
        assert!(block_on(futures_lite::future::poll_once(front.as_mut())).is_none());
        let got = Arc::new(AtomicBool::new(false));
        let behind = {
            let (lock, got) = (lock.clone(), got.clone());
            thread::spawn(move || {
                let _g = lock.acquire_blocking();
                got.store(true, Ordering::SeqCst);
            })
        };
        worlds::wait_until("the thread queued", || lock.waiting() == 2);
        // The release frees the lock and wakes the front (not polled).
        drop(held);
        assert!(
            !lock.is_locked(),
            "bounded fairness: free while the front retries"
        );
        assert_eq!(lock.waiting(), 2, "the woken front keeps its place");
        let barged = if barger {
            // A running unit barges in before the woken front retries.
            let g = block_on(lock.acquire());
            assert!(lock.is_locked());
            Some(g)
        } else {
            None
        };
        // The woken front gives up without retrying.
        drop(front);
        drop(barged);
        behind.join().unwrap();
        assert!(got.load(Ordering::SeqCst));
        assert!(!lock.is_locked());
        assert_eq!(lock.waiting(), 0);
    }
}

/// No starvation under a barging storm: two threads take and release the
/// lock as fast as they can while a third waits for it once. It gets in,
/// and the storm's acquisitions while it waited stay within what the bound
/// allows (each waiter ahead of it, the storm's own queued threads, can be
/// overtaken at most `OVERTAKE_BOUND` times while it is the front). Counted,
/// never timed.
#[test]
fn a_queued_waiter_is_not_starved_by_a_barging_storm() {
    let _dog = Watchdog::new("barging storm", Duration::from_secs(60));
    let lock = Arc::new(Lock::new_bounded());
    let stop = Arc::new(AtomicBool::new(false));
    let taken = Arc::new(AtomicUsize::new(0));
    let storm: Vec<_> = (0..2)
        .map(|_| {
            let (lock, stop, taken) = (lock.clone(), stop.clone(), taken.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let g = lock.acquire_blocking();
                    taken.fetch_add(1, Ordering::Relaxed);
                    drop(g);
                }
            })
        })
        .collect();
    worlds::wait_until("the storm runs", || taken.load(Ordering::Relaxed) > 1000);
    for _ in 0..20 {
        let before = taken.load(Ordering::SeqCst);
        let g = lock.acquire_blocking();
        let during = taken.load(Ordering::SeqCst) - before;
        drop(g);
        let bound = 3 * (polysync::lock::OVERTAKE_BOUND as usize + 1);
        assert!(during <= bound, "overtaken {during} times (bound {bound})");
    }
    stop.store(true, Ordering::Relaxed);
    for h in storm {
        h.join().unwrap();
    }
}

/// Exclusion on the spinning path (issue 18 item 5): threads that find the
/// lock held spin a few rounds before they queue, and take the lock when a
/// release frees it meanwhile. Four threads (more than the two cores, so
/// some spin while others are preempted) hold the lock for a few pauses, so
/// that contenders spin and see it freed; each checks that it is alone
/// inside, and the counts add up. Both modes, every blocking form that
/// spins (untimed, timed, `_with` on the thread's waiter), under a watchdog.
#[test]
fn spinning_threads_keep_exclusion_in_both_modes() {
    for (mode, make) in modes() {
        let _dog = Watchdog::new("spinning exclusion", Duration::from_secs(60));
        let lock = Arc::new(make());
        let inside = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicUsize::new(0));
        let rounds = 20_000;
        let hs: Vec<_> = (0..4)
            .map(|t| {
                let (lock, inside, count) = (lock.clone(), inside.clone(), count.clone());
                thread::spawn(move || {
                    for i in 0..rounds {
                        let guard = match (t + i) % 3 {
                            0 => lock.acquire_blocking(),
                            1 => lock
                                .try_acquire_for(Duration::from_secs(30))
                                .expect("30 s is plenty"),
                            _ => polysync::lowlevel::ThreadWaiter::with_current(|w| {
                                lock.acquire_with(w, None)
                            })
                            .expect("no deadline"),
                        };
                        assert!(!inside.swap(true, Ordering::Relaxed), "{mode}: two holders");
                        // A plain read-modify-write: lost updates show a race too.
                        let v = count.load(Ordering::Relaxed);
                        for _ in 0..(i % 4) * 8 {
                            std::hint::spin_loop();
                        }
                        count.store(v + 1, Ordering::Relaxed);
                        assert!(inside.swap(false, Ordering::Relaxed), "{mode}: two holders");
                        drop(guard);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(count.load(Ordering::Relaxed), 4 * rounds, "{mode}");
        assert!(!lock.is_locked());
        assert_eq!(lock.waiting(), 0);
    }
}

/// The holder's identity shares its word with the lock's mode (the top bit
/// of `owner`, from which the fast paths guess the idle queue word): in both
/// modes, whichever path took the lock (the guessed fast path, the barge
/// after a wrong guess, the attempt under the queue lock, a hand-off), a
/// blocking re-acquisition by the holder is refused ("already holds"), and
/// a unit that released it, or never held it, is never blamed (no false
/// positive); the mode survives every acquisition and release.
#[test]
fn the_reentry_check_sees_the_holder_in_both_modes() {
    let _dog = Watchdog::new("re-entry in both modes", Duration::from_secs(30));
    for (mode, make) in modes() {
        let lock = Arc::new(make());
        let fair = lock.is_fair();
        for round in 0..3 {
            // Round 0: the idle fast path; 1: after a hand-off or a retry
            // (another thread held it while this one queued); 2: again idle.
            let guard = if round == 1 {
                let held = lock.acquire_blocking();
                let other = {
                    let lock = lock.clone();
                    thread::spawn(move || drop(lock.acquire_blocking()))
                };
                while lock.waiting() == 0 {
                    thread::yield_now();
                }
                drop(held);
                other.join().unwrap();
                lock.acquire_blocking()
            } else {
                lock.acquire_blocking()
            };
            let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                drop(lock.try_acquire_for(Duration::from_secs(2)));
            }))
            .expect_err("a re-acquisition by the holder must panic");
            let message = refused
                .downcast_ref::<String>()
                .map(String::as_str)
                .unwrap_or_default();
            assert!(message.contains("already holds"), "{mode}: {message}");
            // Another thread is never blamed: it times out.
            let lock2 = lock.clone();
            let timed_out = thread::spawn(move || lock2.try_acquire_for(Duration::ZERO).is_none());
            assert!(timed_out.join().unwrap(), "{mode}");
            drop(guard);
            assert_eq!(lock.is_fair(), fair, "{mode}");
            // The former holder is not blamed either.
            drop(lock.try_acquire_for(Duration::from_secs(5)).expect("free"));
            assert!(!lock.is_locked(), "{mode}");
        }
    }
}
