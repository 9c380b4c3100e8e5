//! Bounded fairness of `RLock` and `RMutex` (issue 18 item 1), in both
//! modes: `new_bounded` (releasing the last level wakes the oldest waiter
//! to compete; a running unit may take the free lock first; the oldest is
//! handed the lock once overtaken too often) and `new_fair` (strict FIFO
//! hand-off).
//!
//! - Exclusion, re-entry and no lost wake-up under a stress of threads and
//!   identified futures-lite tasks with random cancellation (timed-out
//!   blocking waits, dropped futures), each mode, under a watchdog.
//! - The bound on overtaking, counted: a woken front is overtaken exactly
//!   `OVERTAKE_BOUND` times, then owed the lock; it loses at most
//!   `LOST_RETRIES` retries, then a release hands the lock to it.
//! - A woken front that gives up passes the wake on, deterministically.
//! - The owner check and over-release errors hold in the bounded mode.
//!
//! No timing is asserted: every wait that could hang has a watchdog.

#[path = "support/worlds.rs"]
mod worlds;
use worlds::Watchdog;

use futures_lite::future::{block_on, poll_once};
use polysync::lock::{LOST_RETRIES, OVERTAKE_BOUND};
use polysync::lowlevel::identified;
use polysync::{RLock, RLockReleaseError, RMutex};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::Poll;
use std::thread;
use std::time::Duration;

type Make = fn() -> RLock;

/// Rounds per unit of the stresses: smaller under Miri, which interprets
/// every thread on one host thread.
const ROUNDS: usize = if cfg!(miri) { 30 } else { 2000 };

fn modes() -> [(&'static str, Make); 2] {
    [("bounded", RLock::new_bounded), ("fair", RLock::new_fair)]
}

/// A small xorshift, so the cancellation pattern differs per unit without a
/// dependency.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// Inside the lock: nobody else is, and the owner re-enters `depth` more
/// levels (each checked) and gives them back.
fn inside_with_reentry(rlock: &RLock, inside: &AtomicUsize, depth: u64) {
    assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders");
    assert!(rlock.is_owned_by_current_unit());
    let base = rlock.count();
    let mut levels = Vec::new();
    for d in 0..depth {
        let g = if d % 2 == 0 {
            rlock.try_acquire().expect("the owner re-enters at once")
        } else {
            rlock.acquire_blocking()
        };
        levels.push(g);
        assert_eq!(rlock.count(), base + levels.len());
    }
    drop(levels);
    assert_eq!(rlock.count(), base);
    inside.fetch_sub(1, Ordering::SeqCst);
}

fn stress(rlock: Arc<RLock>, threads: usize, tasks: usize, rounds: usize) {
    let inside = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for t in 0..threads {
        let (rlock, inside, done) = (rlock.clone(), inside.clone(), done.clone());
        handles.push(thread::spawn(move || {
            let mut seed = 0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1);
            for _ in 0..rounds {
                let guard = match next(&mut seed) % 4 {
                    // A timed wait that often gives up while queued (and
                    // sometimes just as it was woken to compete).
                    0 => rlock.try_acquire_for(Duration::from_micros(next(&mut seed) % 50)),
                    1 => rlock.try_acquire(),
                    _ => Some(rlock.acquire_blocking()),
                };
                if let Some(guard) = guard {
                    inside_with_reentry(&rlock, &inside, next(&mut seed) % 3);
                    if next(&mut seed) % 8 == 0 {
                        thread::yield_now();
                    }
                    drop(guard);
                }
            }
            done.fetch_add(1, Ordering::SeqCst);
        }));
    }
    for t in 0..tasks {
        let (rlock, inside, done) = (rlock.clone(), inside.clone(), done.clone());
        handles.push(thread::spawn(move || {
            let mut seed = 0xD1B5_4A32_D192_ED03 ^ (t as u64 + 1);
            block_on(identified(async {
                for _ in 0..rounds {
                    if next(&mut seed) % 3 == 0 {
                        // Poll once or a few times, then drop the future: a
                        // waiter that leaves while queued, or after it was
                        // woken to compete (or handed the lock) and before
                        // it retried.
                        let mut fut = pin!(rlock.acquire());
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
                            let guard = guard.expect("identified");
                            inside_with_reentry(&rlock, &inside, 1);
                            drop(guard);
                        }
                    } else {
                        let guard = rlock.acquire().await.expect("identified");
                        // Re-entry by the task across an await.
                        let again = rlock.acquire().await.expect("identified");
                        assert_eq!(rlock.count(), 2);
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                        futures_lite::future::yield_now().await;
                        inside.fetch_sub(1, Ordering::SeqCst);
                        drop(again);
                        drop(guard);
                    }
                }
            }));
            done.fetch_add(1, Ordering::SeqCst);
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(done.load(Ordering::SeqCst), threads + tasks);
    assert!(!rlock.is_locked());
    assert_eq!(rlock.waiting(), 0);
    assert!(rlock.try_acquire().is_some());
}

#[test]
fn stress_with_random_cancellation_keeps_exclusion_and_loses_no_wake() {
    for (mode, make) in modes() {
        let _dog = Watchdog::new("rlock stress with cancellation", Duration::from_secs(90));
        stress(Arc::new(make()), 3, 3, ROUNDS);
        eprintln!("{mode}: ok");
    }
}

#[test]
fn rmutex_stress_counts_every_increment_in_both_modes() {
    for fair in [false, true] {
        let _dog = Watchdog::new("rmutex stress", Duration::from_secs(60));
        let m = Arc::new(if fair {
            RMutex::new_fair(AtomicUsize::new(0))
        } else {
            RMutex::new_bounded(AtomicUsize::new(0))
        });
        assert_eq!(m.is_fair(), fair);
        let rounds = 2 * ROUNDS;
        let hs: Vec<_> = (0..4)
            .map(|t| {
                let m = m.clone();
                thread::spawn(move || {
                    let bump = |g: &AtomicUsize| {
                        // A plain read-modify-write: a second holder shows
                        // as a lost update.
                        let v = g.load(Ordering::Relaxed);
                        g.store(v + 1, Ordering::Relaxed);
                    };
                    for i in 0..rounds {
                        if t % 2 == 0 {
                            let outer = m.lock_blocking();
                            let inner = m.lock_blocking(); // re-entry
                            bump(&inner);
                            drop(outer);
                            drop(inner);
                        } else if i % 5 == 0 {
                            match m.try_lock_for(Duration::from_micros(20)) {
                                Some(g) => bump(&g),
                                None => bump(&m.lock_blocking()),
                            }
                        } else {
                            block_on(identified(async {
                                let g = m.lock().await.expect("identified");
                                bump(&g);
                            }));
                        }
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(m.lock_blocking().load(Ordering::Relaxed), 4 * rounds);
        assert!(!m.is_locked());
    }
}

/// The bound on overtaking, counted: a queued front (an identified task,
/// polled once) is woken to compete by the release, and is never polled
/// while this thread barges in and out. Exactly `OVERTAKE_BOUND` barges
/// succeed (re-entries of the barger add nothing to the front's debt); the
/// release after the last one hands the lock to the front, nobody else may
/// take it, and the front has it at its next poll.
#[test]
#[cfg_attr(miri, ignore = "OVERTAKE_BOUND barges take too long to interpret")]
fn a_woken_front_is_overtaken_exactly_the_bound_then_owed_the_lock() {
    let _dog = Watchdog::new("overtake bound", Duration::from_secs(60));
    let rlock = RLock::new_bounded();
    let held = rlock.acquire_blocking();
    let mut front = Box::pin(identified(rlock.acquire()));
    assert!(block_on(poll_once(front.as_mut())).is_none());
    assert_eq!(rlock.waiting(), 1);
    drop(held);
    assert!(!rlock.is_locked(), "bounded: free while the front retries");
    let mut barges = 0u64;
    while let Some(g) = rlock.try_acquire() {
        // Re-entry by the barger: no debt.
        let again = rlock.try_acquire().expect("re-entry");
        drop(again);
        drop(g);
        barges += 1;
        assert!(barges <= OVERTAKE_BOUND, "overtaken more than the bound");
    }
    assert_eq!(barges, OVERTAKE_BOUND);
    // The release after the last barge allowed handed the lock over.
    assert!(rlock.is_locked(), "handed to the front");
    assert_eq!(rlock.waiting(), 0);
    assert!(!rlock.is_owned_by_current_unit());
    let thread_tries = thread::scope(|s| s.spawn(|| rlock.try_acquire().is_some()).join());
    assert!(!thread_tries.unwrap(), "another unit cannot take it either");
    let guard = block_on(poll_once(front.as_mut()))
        .expect("the front was handed the lock")
        .unwrap();
    assert!(rlock.is_locked());
    assert_eq!(rlock.count(), 1);
    assert_eq!(rlock.waiting(), 0);
    drop(guard);
    assert!(!rlock.is_locked());
}

/// The bound on lost retries, counted: the front is woken, and each time
/// a barger holds the lock when it retries, it loses; after `LOST_RETRIES`
/// lost retries the barger's release hands it the lock directly.
#[test]
fn a_front_that_loses_its_retries_is_handed_the_lock() {
    let _dog = Watchdog::new("lost retries", Duration::from_secs(30));
    let rlock = RLock::new_bounded();
    let held = rlock.acquire_blocking();
    let mut front = Box::pin(identified(rlock.acquire()));
    assert!(block_on(poll_once(front.as_mut())).is_none());
    drop(held);
    for lost in 0..LOST_RETRIES {
        let barger = rlock.try_acquire().expect("the front is not owed it yet");
        assert!(
            block_on(poll_once(front.as_mut())).is_none(),
            "retry {lost} loses to the barger"
        );
        drop(barger);
    }
    assert!(rlock.is_locked(), "the last release handed over");
    assert_eq!(rlock.waiting(), 0);
    assert!(rlock.try_acquire().is_none());
    let guard = block_on(poll_once(front.as_mut()))
        .expect("handed")
        .unwrap();
    assert_eq!(rlock.count(), 1);
    drop(guard);
    assert!(!rlock.is_locked());
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
        let rlock = Arc::new(RLock::new_bounded());
        let held = rlock.acquire_blocking();
        let mut front = Box::pin(identified(rlock.acquire()));
        assert!(block_on(poll_once(front.as_mut())).is_none());
        let got = Arc::new(AtomicBool::new(false));
        let behind = {
            let (rlock, got) = (rlock.clone(), got.clone());
            thread::spawn(move || {
                let _g = rlock.acquire_blocking();
                got.store(true, Ordering::SeqCst);
            })
        };
        worlds::wait_until("the thread queued", || rlock.waiting() == 2);
        // Releasing the last level frees the lock and wakes the front.
        let inner = rlock.acquire_blocking();
        drop(inner);
        assert!(rlock.is_locked(), "one level left");
        drop(held);
        assert!(!rlock.is_locked(), "bounded: free while the front retries");
        assert_eq!(rlock.waiting(), 2, "the woken front keeps its place");
        let barged = barger.then(|| rlock.try_acquire().expect("a running unit barges"));
        // The woken front gives up without retrying.
        drop(front);
        drop(barged);
        behind.join().unwrap();
        assert!(got.load(Ordering::SeqCst));
        assert!(!rlock.is_locked());
        assert_eq!(rlock.waiting(), 0);
    }
}

/// The owner check and over-release hold while a woken front waits and
/// the owner barged in: a non-owner's release is refused, an over-release
/// changes nothing, and re-entry works in every form.
#[test]
fn owner_rules_hold_with_a_woken_front() {
    let _dog = Watchdog::new("owner rules", Duration::from_secs(30));
    let rlock = RLock::new_bounded();
    let held = rlock.acquire_blocking();
    let mut front = Box::pin(identified(rlock.acquire()));
    assert!(block_on(poll_once(front.as_mut())).is_none());
    drop(held);
    rlock.acquire_blocking().forget(); // a barge
    rlock.try_acquire().unwrap().forget();
    rlock.try_acquire_for(Duration::ZERO).unwrap().forget();
    polysync::lowlevel::ThreadWaiter::with_current(|w| rlock.acquire_with(w, None))
        .unwrap()
        .forget();
    assert_eq!(rlock.count(), 4);
    thread::scope(|s| {
        s.spawn(|| assert_eq!(rlock.release(1), Err(RLockReleaseError::NotOwner)));
    });
    assert_eq!(
        rlock.release(5),
        Err(RLockReleaseError::TooManyReleases { held: 4 })
    );
    assert_eq!(rlock.count(), 4);
    rlock.release(4).unwrap();
    assert_eq!(rlock.release(1), Err(RLockReleaseError::NotOwner));
    let guard = block_on(poll_once(front.as_mut())).expect("free").unwrap();
    drop(guard);
    assert!(!rlock.is_locked());
}

/// Re-entry under contention: owners re-enter (in every form, a guard of a
/// `Cell` shared by nested levels) while others queue, are woken and barge.
#[test]
fn reentry_under_contention_in_both_modes() {
    for fair in [false, true] {
        let _dog = Watchdog::new("reentry under contention", Duration::from_secs(60));
        let m = Arc::new(if fair {
            RMutex::new_fair(Cell::new(0u64))
        } else {
            RMutex::new_bounded(Cell::new(0u64))
        });
        let rounds = ROUNDS;
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let m = m.clone();
                thread::spawn(move || {
                    for i in 0..rounds {
                        let a = m.lock_blocking();
                        let b = m.try_lock().expect("re-entry");
                        let c = m.try_lock_for(Duration::ZERO).expect("re-entry");
                        let v = a.get();
                        if i % 16 == 0 {
                            thread::yield_now();
                        }
                        c.set(v + 1);
                        assert_eq!(m.count(), 3);
                        drop(b);
                        drop(a);
                        drop(c);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(m.lock_blocking().get(), 3 * rounds as u64);
        assert!(!m.is_locked());
    }
}

/// A waker that counts its wakes.
struct Count(AtomicUsize);

impl std::task::Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// The wake passed on, seen without a thread: two identified futures
/// queue (each polled once with a counting waker); the release of the last
/// level wakes the front only; the front is dropped without retrying, and
/// the wake goes to the second, which then takes the free lock.
#[test]
fn a_dropped_woken_front_wakes_the_next_waiter() {
    let rlock = RLock::new_bounded();
    let held = rlock.acquire_blocking();
    let (a, b) = (
        Arc::new(Count(AtomicUsize::new(0))),
        Arc::new(Count(AtomicUsize::new(0))),
    );
    let (wa, wb) = (
        std::task::Waker::from(a.clone()),
        std::task::Waker::from(b.clone()),
    );
    let mut front = Box::pin(identified(rlock.acquire()));
    let mut second = Box::pin(identified(rlock.acquire()));
    let mut cx = std::task::Context::from_waker(&wa);
    assert!(front.as_mut().poll(&mut cx).is_pending());
    let mut cx = std::task::Context::from_waker(&wb);
    assert!(second.as_mut().poll(&mut cx).is_pending());
    assert_eq!(rlock.waiting(), 2);
    drop(held);
    assert_eq!(a.0.load(Ordering::SeqCst), 1, "the front is woken");
    assert_eq!(b.0.load(Ordering::SeqCst), 0, "only the front");
    drop(front);
    assert_eq!(b.0.load(Ordering::SeqCst), 1, "the wake is passed on");
    let Poll::Ready(guard) = second.as_mut().poll(&mut cx) else {
        panic!("the second takes the free lock");
    };
    drop(guard.unwrap());
    assert!(!rlock.is_locked());
    assert_eq!(rlock.waiting(), 0);
}

/// A `Condition` with a bounded `RLock`: two threads (and an identified
/// task) take turns through the condition, each holding two levels while it
/// waits; a notified waiter moves to the lock's queue, where it is woken to
/// compete and retries (or is handed the lock past the bound) like any
/// waiter, and gets both levels back. Ping-pong to a count, no timing.
#[test]
fn condition_turns_with_a_bounded_rlock_restore_every_level() {
    let _dog = Watchdog::new("condition with a bounded rlock", Duration::from_secs(60));
    let turns = if cfg!(miri) { 10 } else { 500 };
    let shared = Arc::new((
        RLock::new_bounded(),
        polysync::Condition::new(),
        AtomicUsize::new(0),
    ));
    let players = 3;
    let hs: Vec<_> = (0..players)
        .map(|me| {
            let shared = shared.clone();
            thread::spawn(move || {
                let (rlock, cond, turn) = &*shared;
                let body = || {
                    let outer = rlock.acquire_blocking();
                    let mut inner = rlock.acquire_blocking();
                    loop {
                        let t = turn.load(Ordering::SeqCst);
                        if t >= turns {
                            break;
                        }
                        if t % players == me {
                            turn.store(t + 1, Ordering::SeqCst);
                            cond.notify_all();
                        } else {
                            inner = cond.wait_blocking(inner);
                            assert!(rlock.is_owned_by_current_unit());
                            assert_eq!(rlock.count(), 2, "every level restored");
                        }
                    }
                    drop(inner);
                    drop(outer);
                };
                if me == 0 {
                    // One player is an identified task, waiting async.
                    block_on(identified(async {
                        let outer = rlock.acquire().await.unwrap();
                        let mut inner = rlock.acquire().await.unwrap();
                        loop {
                            let t = turn.load(Ordering::SeqCst);
                            if t >= turns {
                                break;
                            }
                            if t % players == me {
                                turn.store(t + 1, Ordering::SeqCst);
                                cond.notify_all();
                            } else {
                                inner = cond.wait(inner).await;
                                assert_eq!(rlock.count(), 2, "every level restored");
                            }
                        }
                        drop(inner);
                        drop(outer);
                    }));
                } else {
                    body();
                }
                // Wake the others to see the end.
                cond.notify_all();
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(shared.2.load(Ordering::SeqCst), turns);
    assert!(!shared.0.is_locked());
    assert_eq!(shared.0.waiting(), 0);
}
