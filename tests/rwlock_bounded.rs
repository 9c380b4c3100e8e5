//! Bounded fairness of `RwLock` / `RawRwLock` (issue 18 items 1 and 5), in
//! both modes: `new_bounded` (a release wakes the writer at the front to
//! compete; running readers and writers may take what is free; the front is
//! handed the lock once overtaken too often) and `new_fair` (strict FIFO
//! hand-off).
//!
//! - Exclusion and no lost wake-up under a stress of threads and
//!   futures-lite tasks, readers and writers, with random cancellation
//!   (timed-out blocking waits, dropped futures), each mode, under a
//!   watchdog.
//! - The bound on overtaking, counted deterministically: readers that join
//!   a read-held lock past a queued writer, and a woken writer's lost
//!   retries; then the writer is handed the lock.
//! - A writer is not starved by a storm of reading threads (counted).
//! - A woken front that gives up passes the wake on (to a writer or to
//!   readers queued behind it), deterministically.
//!
//! No timing is asserted: every wait that could hang has a watchdog.
//! Under Miri the stresses run a few rounds and the storm is skipped:
//! `cargo +nightly miri test -p polysync --test rwlock_bounded`.

#[path = "support/probe.rs"]
mod probe;
use probe::{WakeCount, xorshift};
#[path = "support/worlds.rs"]
mod worlds;
use worlds::Watchdog;

use futures_lite::future::{block_on, poll_once};
use polysync::rwlock::{LOST_RETRIES, OVERTAKE_BOUND};
use polysync::{RawRwLock, RwLock};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::Poll;
use std::thread;
use std::time::Duration;

type Make = fn() -> RawRwLock;

fn modes() -> [(&'static str, Make); 2] {
    [
        ("bounded", RawRwLock::new_bounded),
        ("fair", RawRwLock::new_fair),
    ]
}

/// Who is inside: readers count up from 0, a writer sets `WRITING`.
const WRITING: usize = 1 << 20;

fn enter_read(inside: &AtomicUsize) {
    let was = inside.fetch_add(1, Ordering::SeqCst);
    assert!(was < WRITING, "a reader beside a writer");
}

fn enter_write(inside: &AtomicUsize) {
    let was = inside.fetch_add(WRITING, Ordering::SeqCst);
    assert_eq!(was, 0, "a writer beside another holder");
}

fn stress(lock: Arc<RawRwLock>, threads: usize, tasks: usize, rounds: usize) {
    let inside = Arc::new(AtomicUsize::new(0));
    let writes = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for t in 0..threads {
        let (lock, inside, writes) = (lock.clone(), inside.clone(), writes.clone());
        handles.push(thread::spawn(move || {
            let mut seed = 0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1);
            for _ in 0..rounds {
                let r = xorshift(&mut seed);
                let short = Duration::from_micros(xorshift(&mut seed) % 50);
                if r % 3 == 0 {
                    let guard = match r % 4 {
                        // A timed wait that often gives up while queued (and
                        // sometimes just as it was woken to compete).
                        0 => lock.try_write_for(short),
                        1 => lock.try_write(),
                        _ => Some(lock.write_blocking()),
                    };
                    if let Some(guard) = guard {
                        enter_write(&inside);
                        writes.fetch_add(1, Ordering::SeqCst);
                        if r % 8 == 0 {
                            thread::yield_now();
                        }
                        inside.fetch_sub(WRITING, Ordering::SeqCst);
                        drop(guard);
                    }
                } else {
                    let guard = match r % 5 {
                        0 => lock.try_read_for(short),
                        1 => lock.try_read(),
                        _ => Some(lock.read_blocking()),
                    };
                    if let Some(guard) = guard {
                        enter_read(&inside);
                        if r % 8 == 0 {
                            thread::yield_now();
                        }
                        inside.fetch_sub(1, Ordering::SeqCst);
                        drop(guard);
                    }
                }
            }
        }));
    }
    for t in 0..tasks {
        let (lock, inside, writes) = (lock.clone(), inside.clone(), writes.clone());
        handles.push(thread::spawn(move || {
            let mut seed = 0xD1B5_4A32_D192_ED03 ^ (t as u64 + 1);
            block_on(async {
                for _ in 0..rounds {
                    let r = xorshift(&mut seed);
                    let write = r % 3 == 0;
                    if r % 4 == 0 {
                        // Poll once or a few times, then drop the future: a
                        // waiter that leaves while queued, after it was
                        // woken to compete, or after it was handed the lock.
                        let polls = xorshift(&mut seed) % 3 + 1;
                        if write {
                            let mut fut = pin!(lock.write());
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
                                enter_write(&inside);
                                writes.fetch_add(1, Ordering::SeqCst);
                                inside.fetch_sub(WRITING, Ordering::SeqCst);
                                drop(guard);
                            }
                        } else {
                            let mut fut = pin!(lock.read());
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
                                enter_read(&inside);
                                inside.fetch_sub(1, Ordering::SeqCst);
                                drop(guard);
                            }
                        }
                    } else if write {
                        let guard = lock.write().await;
                        enter_write(&inside);
                        writes.fetch_add(1, Ordering::SeqCst);
                        futures_lite::future::yield_now().await;
                        inside.fetch_sub(WRITING, Ordering::SeqCst);
                        drop(guard);
                    } else {
                        let guard = lock.read().await;
                        enter_read(&inside);
                        futures_lite::future::yield_now().await;
                        inside.fetch_sub(1, Ordering::SeqCst);
                        drop(guard);
                    }
                }
            });
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    assert!(writes.load(Ordering::SeqCst) > 0);
    assert!(!lock.is_locked());
    assert_eq!(lock.waiting(), 0);
    assert!(lock.try_write().is_some());
}

#[test]
fn stress_with_random_cancellation_keeps_exclusion_and_loses_no_wake() {
    for (mode, make) in modes() {
        let _dog = Watchdog::new("rwlock stress with cancellation", Duration::from_secs(90));
        stress(Arc::new(make()), 3, 3, if cfg!(miri) { 20 } else { 3000 });
        eprintln!("{mode}: ok");
    }
}

/// The data-carrying lock in both modes: every increment counted, readers
/// never see a torn pair.
#[test]
fn rwlock_stress_counts_every_write_in_both_modes() {
    for fair in [false, true] {
        let _dog = Watchdog::new("rwlock data stress", Duration::from_secs(60));
        let lock = Arc::new(if fair {
            RwLock::new_fair((0u64, 0u64))
        } else {
            RwLock::new_bounded((0u64, 0u64))
        });
        assert_eq!(lock.is_fair(), fair);
        let rounds = if cfg!(miri) { 20 } else { 4000 };
        let hs: Vec<_> = (0..4)
            .map(|t| {
                let lock = lock.clone();
                thread::spawn(move || {
                    let mut writes = 0;
                    for i in 0..rounds {
                        if (i + t) % 10 == 0 {
                            let mut g = if t % 2 == 0 {
                                lock.write_blocking()
                            } else {
                                block_on(lock.write())
                            };
                            g.0 += 1;
                            g.1 += 1;
                            writes += 1;
                        } else {
                            let g = if t % 2 == 0 {
                                lock.read_blocking()
                            } else {
                                block_on(lock.read())
                            };
                            assert_eq!(g.0, g.1, "a torn write");
                        }
                    }
                    writes
                })
            })
            .collect();
        let writes: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(lock.read_blocking().0, writes);
    }
}

/// The bound on overtaking, counted: a writer queues behind a writer's
/// hold, whose release wakes it to compete (bounded) or hands it the lock
/// (strict). On a bounded lock exactly `OVERTAKE_BOUND` readers may take
/// the free lock before it retries, then arrivals are refused, and the
/// last share's release hands the writer the lock directly (it is
/// write-held before the writer is polled again). On a strict lock no
/// reader passes it.
#[test]
fn readers_overtake_a_woken_writer_at_most_the_bound() {
    let _dog = Watchdog::new("overtake bound", Duration::from_secs(30));
    for (mode, make) in modes() {
        let lock = make();
        let held = block_on(lock.write());
        let mut writer = Box::pin(lock.write());
        assert!(block_on(poll_once(writer.as_mut())).is_none());
        drop(held);
        let mut joined = Vec::new();
        while let Some(r) = lock.try_read() {
            joined.push(r);
            assert!(
                joined.len() <= OVERTAKE_BOUND as usize,
                "{mode}: past the bound"
            );
        }
        let expected = if lock.is_fair() {
            0
        } else {
            OVERTAKE_BOUND as usize
        };
        assert_eq!(joined.len(), expected, "{mode}");
        if !lock.is_fair() {
            // Owed now: no writer barges either.
            assert!(lock.try_write().is_none(), "{mode}");
            drop(joined);
            assert!(lock.is_write_locked(), "{mode}: handed over, not woken");
        }
        let w = block_on(writer.as_mut());
        assert!(lock.try_read().is_none());
        drop(w);
        assert!(!lock.is_locked());
        assert_eq!(lock.waiting(), 0);
    }
}

/// A stream of readers cannot keep a writer out: a writer that queued
/// behind a read share (asleep: the lock was held) is passed by no reader,
/// in either mode, and the share's release lets it in.
#[test]
fn no_reader_passes_a_sleeping_writer() {
    let _dog = Watchdog::new("sleeping writer", Duration::from_secs(30));
    for (mode, make) in modes() {
        let lock = make();
        let first = lock.try_read().unwrap();
        let mut writer = Box::pin(lock.write());
        assert!(block_on(poll_once(writer.as_mut())).is_none());
        assert!(lock.try_read().is_none(), "{mode}: a reader passed");
        drop(first);
        // Strict: handed over; bounded: woken to compete, the lock free.
        assert_eq!(lock.is_write_locked(), lock.is_fair(), "{mode}");
        drop(block_on(writer.as_mut()));
        assert!(!lock.is_locked());
    }
}

/// The bound in wake-ups: a writer woken to compete that keeps losing its
/// retry to a barging writer is handed the lock after at most
/// `LOST_RETRIES` lost retries; every release in between wakes it (its
/// waker counts), also the ones after a lost retry.
#[test]
fn a_woken_writer_is_handed_the_lock_after_the_lost_retries() {
    let _dog = Watchdog::new("lost retries", Duration::from_secs(30));
    let lock = RawRwLock::new_bounded();
    let (count, waker) = WakeCount::new();
    let mut cx = std::task::Context::from_waker(&waker);
    // Held by an async acquisition: no unit is recorded as the writer.
    let mut held = Some(block_on(lock.write()));
    let mut writer = Box::pin(lock.write());
    assert!(writer.as_mut().poll(&mut cx).is_pending());
    let mut lost = 0;
    loop {
        let wakes = count.get();
        drop(held.take());
        let woken = count.get() - wakes;
        assert_eq!(woken, 1, "the release woke the writer");
        if lock.is_write_locked() {
            break; // handed over
        }
        assert!(!lock.is_locked(), "woken to compete: the lock is free");
        assert_eq!(lock.waiting(), 1, "the woken writer keeps its place");
        // A running writer barges in before the woken writer retries.
        held = Some(block_on(lock.write()));
        assert!(writer.as_mut().poll(&mut cx).is_pending(), "the retry lost");
        lost += 1;
        assert!(lost <= LOST_RETRIES, "lost {lost} retries");
    }
    assert!(lost >= 1);
    assert!(lock.try_write().is_none());
    assert!(writer.as_mut().poll(&mut cx).is_ready());
    assert!(!lock.is_locked());
}

/// No starvation under a reading storm: two threads read as fast as they
/// can (a read-held lock most of the time) while a third writes once at a
/// time. It gets in, and the storm's reads while it waited stay within what
/// the bound allows. Counted, never timed. The writer waits with
/// `write().await`: a blocking writer first spins a few rounds before it
/// queues (yielding its core to the storm), and the bound counts from the
/// moment it is queued.
#[test]
#[cfg_attr(miri, ignore = "a storm of a few thousand reads: too slow under Miri")]
fn a_writer_is_not_starved_by_a_reading_storm() {
    let _dog = Watchdog::new("reading storm", Duration::from_secs(60));
    let lock = Arc::new(RawRwLock::new_bounded());
    let stop = Arc::new(AtomicBool::new(false));
    let taken = Arc::new(AtomicUsize::new(0));
    let storm: Vec<_> = (0..2)
        .map(|_| {
            let (lock, stop, taken) = (lock.clone(), stop.clone(), taken.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let g = lock.read_blocking();
                    taken.fetch_add(1, Ordering::Relaxed);
                    drop(g);
                }
            })
        })
        .collect();
    worlds::wait_until("the storm runs", || taken.load(Ordering::Relaxed) > 1000);
    for _ in 0..20 {
        let before = taken.load(Ordering::SeqCst);
        let g = block_on(lock.write());
        let during = taken.load(Ordering::SeqCst) - before;
        drop(g);
        let bound = 3 * (OVERTAKE_BOUND as usize + 1);
        assert!(during <= bound, "overtaken {during} times (bound {bound})");
    }
    stop.store(true, Ordering::Relaxed);
    for h in storm {
        h.join().unwrap();
    }
}

/// The classic lost wake-up of wake-to-compete designs: the release wakes
/// the writer at the front (it stays queued, the lock is free), and that
/// writer's future is dropped before it retries. The wake must pass to the
/// next waiter, a thread parked behind it (a writer, or a reader); with the
/// wake lost, the thread would sleep forever on a free lock (the watchdog
/// fails the test).
#[test]
fn a_woken_front_that_is_dropped_passes_the_wake_on() {
    let _dog = Watchdog::new("woken front dropped", Duration::from_secs(30));
    for behind_reads in [false, true] {
        for barger in [false, true] {
            let lock = Arc::new(RawRwLock::new_bounded());
            let held = block_on(lock.write());
            let mut front = Box::pin(lock.write());
            assert!(block_on(poll_once(front.as_mut())).is_none());
            let got = Arc::new(AtomicBool::new(false));
            let behind = {
                let (lock, got) = (lock.clone(), got.clone());
                thread::spawn(move || {
                    if behind_reads {
                        let _g = lock.read_blocking();
                    } else {
                        let _g = lock.write_blocking();
                    }
                    got.store(true, Ordering::SeqCst);
                })
            };
            worlds::wait_until("the thread queued", || lock.waiting() == 2);
            // The release frees the lock and wakes the front (not polled).
            drop(held);
            assert!(!lock.is_locked(), "free while the front retries");
            assert_eq!(lock.waiting(), 2, "the woken front keeps its place");
            let barged = barger.then(|| {
                // A running unit barges in before the woken front retries.
                let g = block_on(lock.write());
                assert!(lock.is_write_locked());
                g
            });
            // The woken front gives up without retrying.
            drop(front);
            drop(barged);
            behind.join().unwrap();
            assert!(got.load(Ordering::SeqCst));
            assert!(!lock.is_locked());
            assert_eq!(lock.waiting(), 0);
        }
    }
}
