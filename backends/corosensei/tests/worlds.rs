//! Green threads of two hubs (on two OS threads), plain OS threads and tokio
//! tasks contend on one primitive at once: green-vs-green (same hub and
//! across hubs), green-vs-thread and green-vs-tokio-task, for Lock,
//! Semaphore, RLock, CapacityLimiter, Event, Condition and Queue. Green
//! threads and threads use the very same blocking code (the blocking forms
//! pick the right waiter by themselves); tasks use the async forms. Each hub
//! also runs a ticker that must advance while its green threads wait.

mod support;

use polysync::lowlevel::{current_unit, identified};
use polysync::{CapacityLimiter, Condition, Event, Lock, Mutex, Queue, RLock, Semaphore};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use support::{green_until, spin_until, watchdog};

type Job = Box<dyn FnOnce() + Send>;
/// An async participant: made on the tokio thread (polysync's `Condition`
/// wait future is not provably `Send` inside an `async` block, so the tasks
/// run on a current-thread runtime, in a `LocalSet`).
type Task = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// Green threads per hub, plain threads, tokio tasks.
const GREENS: usize = 2;
const THREADS: usize = 2;
const TASKS: usize = 2;
const HUBS: usize = 2;
const PARTICIPANTS: usize = HUBS * GREENS + THREADS + TASKS;

/// Where participant `i` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum World {
    Green,
    Thread,
    Tokio,
}

fn world(i: usize) -> World {
    if i < HUBS * GREENS {
        World::Green
    } else if i < HUBS * GREENS + THREADS {
        World::Thread
    } else {
        World::Tokio
    }
}

/// Runs one participant per index: blocking jobs as green threads (indices
/// `0..HUBS*GREENS`, `GREENS` per hub) and as plain threads, async ones as
/// tasks of a current-thread tokio runtime on a thread of its own. Each hub
/// runs a ticker beside its green threads, until they are all done, that
/// must have advanced by then (the hub's thread was not blocked by them).
fn mixed(blocking: impl Fn(usize) -> Job, asynchronous: impl Fn(usize) -> Task) {
    let mut hubs = Vec::new();
    for h in 0..HUBS {
        let jobs: Vec<Job> = (h * GREENS..(h + 1) * GREENS).map(&blocking).collect();
        hubs.push(std::thread::spawn(move || {
            polysync_corosensei::run(move || {
                // Stopped by this hub once its own green threads are done
                // (not by the other worlds finishing: on a loaded machine
                // they can all finish before this hub's thread first runs,
                // and a ticker stopped before its first turn never ticks).
                let stop = Arc::new(AtomicBool::new(false));
                let ticks = Arc::new(AtomicU64::new(0));
                let ticker = {
                    let (ticks, stop) = (ticks.clone(), stop.clone());
                    polysync_corosensei::spawn(move || {
                        while !stop.load(Ordering::SeqCst) {
                            ticks.fetch_add(1, Ordering::SeqCst);
                            polysync_corosensei::sleep(Duration::from_micros(500));
                        }
                    })
                };
                let handles: Vec<_> = jobs.into_iter().map(polysync_corosensei::spawn).collect();
                for h in handles {
                    h.join().unwrap();
                }
                stop.store(true, Ordering::SeqCst);
                ticker.join().unwrap();
                assert!(ticks.load(Ordering::SeqCst) > 0, "the ticker never ran");
            })
        }));
    }
    let threads: Vec<_> = (HUBS * GREENS..HUBS * GREENS + THREADS)
        .map(|i| std::thread::spawn(blocking(i)))
        .collect();
    let makers: Vec<Task> = (HUBS * GREENS + THREADS..PARTICIPANTS)
        .map(asynchronous)
        .collect();
    let tokio_thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async move {
            let tasks: Vec<_> = makers
                .into_iter()
                .map(|make| tokio::task::spawn_local(make()))
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
    });
    for t in threads {
        t.join().unwrap();
    }
    tokio_thread.join().unwrap();
    for h in hubs {
        h.join().unwrap();
    }
}

/// Counts how many participants are inside a critical section at once.
#[derive(Default)]
struct Exclusion {
    inside: AtomicUsize,
    total: AtomicU64,
}

impl Exclusion {
    fn enter(&self, limit: usize) {
        let n = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
        assert!(n <= limit, "{n} inside at once (limit {limit})");
    }
    fn leave(&self) {
        self.inside.fetch_sub(1, Ordering::SeqCst);
        self.total.fetch_add(1, Ordering::SeqCst);
    }
}

const ROUNDS: usize = 100;

/// Switches inside a critical section: another green thread of the hub runs
/// (a plain thread just yields).
fn pause() {
    polysync_corosensei::yield_now();
}

#[test]
fn lock_across_worlds() {
    watchdog("lock", || {
        let (lock, ex) = (Arc::new(Lock::new()), Arc::new(Exclusion::default()));
        mixed(
            |_| {
                let (lock, ex) = (lock.clone(), ex.clone());
                Box::new(move || {
                    for _ in 0..ROUNDS {
                        let _g = lock.acquire_blocking();
                        ex.enter(1);
                        pause();
                        ex.leave();
                    }
                })
            },
            |_| {
                let (lock, ex) = (lock.clone(), ex.clone());
                Box::new(move || {
                    Box::pin(async move {
                        for _ in 0..ROUNDS {
                            let _g = lock.acquire().await;
                            ex.enter(1);
                            tokio::task::yield_now().await;
                            ex.leave();
                        }
                    })
                })
            },
        );
        assert_eq!(
            ex.total.load(Ordering::SeqCst),
            (PARTICIPANTS * ROUNDS) as u64
        );
        assert!(!lock.is_locked());
    });
}

#[test]
fn semaphore_across_worlds() {
    watchdog("semaphore", || {
        let (sem, ex) = (Arc::new(Semaphore::new(2)), Arc::new(Exclusion::default()));
        mixed(
            |_| {
                let (sem, ex) = (sem.clone(), ex.clone());
                Box::new(move || {
                    for _ in 0..ROUNDS {
                        let _p = sem.acquire_blocking().unwrap();
                        ex.enter(2);
                        pause();
                        ex.leave();
                    }
                })
            },
            |_| {
                let (sem, ex) = (sem.clone(), ex.clone());
                Box::new(move || {
                    Box::pin(async move {
                        for _ in 0..ROUNDS {
                            let _p = sem.acquire().await.unwrap();
                            ex.enter(2);
                            tokio::task::yield_now().await;
                            ex.leave();
                        }
                    })
                })
            },
        );
        assert_eq!(
            ex.total.load(Ordering::SeqCst),
            (PARTICIPANTS * ROUNDS) as u64
        );
        assert_eq!(sem.value(), 2);
    });
}

#[test]
fn rlock_across_worlds() {
    watchdog("rlock", || {
        let (rlock, ex) = (Arc::new(RLock::new()), Arc::new(Exclusion::default()));
        mixed(
            |_| {
                let (rlock, ex) = (rlock.clone(), ex.clone());
                Box::new(move || {
                    for _ in 0..ROUNDS {
                        let outer = rlock.acquire_blocking();
                        ex.enter(1);
                        let inner = rlock.acquire_blocking(); // re-entry
                        assert_eq!(rlock.owner(), Some(current_unit()));
                        pause();
                        drop(inner);
                        ex.leave();
                        drop(outer);
                    }
                })
            },
            |_| {
                let (rlock, ex) = (rlock.clone(), ex.clone());
                Box::new(move || {
                    Box::pin(identified(async move {
                        for _ in 0..ROUNDS {
                            let outer = rlock.acquire().await.unwrap();
                            ex.enter(1);
                            let inner = rlock.acquire().await.unwrap();
                            tokio::task::yield_now().await;
                            drop(inner);
                            ex.leave();
                            drop(outer);
                        }
                    }))
                })
            },
        );
        assert_eq!(
            ex.total.load(Ordering::SeqCst),
            (PARTICIPANTS * ROUNDS) as u64
        );
        assert!(!rlock.is_locked());
    });
}

#[test]
fn capacity_limiter_across_worlds() {
    watchdog("limiter", || {
        let (lim, ex) = (
            Arc::new(CapacityLimiter::new(2)),
            Arc::new(Exclusion::default()),
        );
        mixed(
            |_| {
                let (lim, ex) = (lim.clone(), ex.clone());
                Box::new(move || {
                    for _ in 0..ROUNDS {
                        let token = lim.acquire_blocking().unwrap();
                        ex.enter(2);
                        assert_eq!(token.borrower(), current_unit());
                        assert!(lim.is_borrowing());
                        pause();
                        ex.leave();
                    }
                })
            },
            |_| {
                let (lim, ex) = (lim.clone(), ex.clone());
                Box::new(move || {
                    Box::pin(identified(async move {
                        for _ in 0..ROUNDS {
                            let _token = lim.acquire().await.unwrap();
                            ex.enter(2);
                            tokio::task::yield_now().await;
                            ex.leave();
                        }
                    }))
                })
            },
        );
        assert_eq!(
            ex.total.load(Ordering::SeqCst),
            (PARTICIPANTS * ROUNDS) as u64
        );
        assert_eq!(lim.borrowed_tokens(), 0);
    });
}

/// Everyone but the setter waits on one event; the setter (in each world in
/// turn) sets it once all the others are queued.
#[test]
fn event_across_worlds() {
    watchdog("event", || {
        for setter in [0, GREENS, HUBS * GREENS, PARTICIPANTS - 1] {
            let event = Arc::new(Event::new());
            let woken = Arc::new(AtomicUsize::new(0));
            let waiters = PARTICIPANTS - 1;
            mixed(
                |i| {
                    let (event, woken) = (event.clone(), woken.clone());
                    Box::new(move || {
                        if i == setter {
                            let all = || event.waiting() == waiters;
                            match world(i) {
                                World::Green => green_until("waiters", all),
                                _ => spin_until("waiters", all),
                            }
                            assert!(event.set());
                        } else {
                            event.wait_blocking();
                            woken.fetch_add(1, Ordering::SeqCst);
                        }
                    })
                },
                |i| {
                    let (event, woken) = (event.clone(), woken.clone());
                    Box::new(move || {
                        Box::pin(async move {
                            if i == setter {
                                while event.waiting() < waiters {
                                    tokio::time::sleep(Duration::from_micros(200)).await;
                                }
                                assert!(event.set());
                            } else {
                                event.wait().await;
                                woken.fetch_add(1, Ordering::SeqCst);
                            }
                        })
                    })
                },
            );
            assert_eq!(woken.load(Ordering::SeqCst), waiters, "setter {setter}");
        }
    });
}

/// A ring: participant `i` may only increment the counter when
/// `counter % PARTICIPANTS == i`, so every step hands the turn to another
/// participant (another world, most of the time) through the condition.
#[test]
fn condition_across_worlds() {
    const RING_ROUNDS: u64 = 20;
    watchdog("condition", || {
        let state = Arc::new((Mutex::new(0u64), Condition::new()));
        let turn = |i: usize| {
            move |c: &mut polysync::MutexGuard<'_, u64>| **c % PARTICIPANTS as u64 != i as u64
        };
        mixed(
            |i| {
                let state = state.clone();
                Box::new(move || {
                    let (counter, cond) = &*state;
                    for _ in 0..RING_ROUNDS {
                        let mut g = cond.wait_while_blocking(counter.lock_blocking(), turn(i));
                        *g += 1;
                        cond.notify_all();
                    }
                })
            },
            |i| {
                let state = state.clone();
                Box::new(move || {
                    Box::pin(async move {
                        let (counter, cond) = &*state;
                        for _ in 0..RING_ROUNDS {
                            let mut g = counter.lock().await;
                            while *g % PARTICIPANTS as u64 != i as u64 {
                                g = cond.wait(g).await;
                            }
                            *g += 1;
                            cond.notify_all();
                        }
                    })
                })
            },
        );
        assert_eq!(*state.0.lock_blocking(), PARTICIPANTS as u64 * RING_ROUNDS);
    });
}

/// Through a queue of capacity 1: even participants put, odd ones get, so
/// every world both puts and gets; every item arrives exactly once.
#[test]
fn queue_across_worlds() {
    watchdog("queue", || {
        let queue = Arc::new(Queue::<u64>::bounded(1));
        let (count, sum) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let item = |i: usize, k: usize| ((i as u64) << 32) | k as u64;
        mixed(
            |i| {
                let (queue, count, sum) = (queue.clone(), count.clone(), sum.clone());
                Box::new(move || {
                    for k in 0..ROUNDS {
                        if i % 2 == 0 {
                            queue.put_blocking(item(i, k)).unwrap();
                        } else {
                            let v = queue.get_blocking().unwrap();
                            count.fetch_add(1, Ordering::SeqCst);
                            sum.fetch_add(v, Ordering::SeqCst);
                        }
                    }
                })
            },
            |i| {
                let (queue, count, sum) = (queue.clone(), count.clone(), sum.clone());
                Box::new(move || {
                    Box::pin(async move {
                        for k in 0..ROUNDS {
                            if i % 2 == 0 {
                                queue.put(item(i, k)).await.unwrap();
                            } else {
                                let v = queue.get().await.unwrap();
                                count.fetch_add(1, Ordering::SeqCst);
                                sum.fetch_add(v, Ordering::SeqCst);
                            }
                        }
                    })
                })
            },
        );
        let expected: u64 = (0..PARTICIPANTS)
            .filter(|i| i % 2 == 0)
            .flat_map(|i| (0..ROUNDS).map(move |k| item(i, k)))
            .sum();
        assert_eq!(
            count.load(Ordering::SeqCst),
            (PARTICIPANTS / 2 * ROUNDS) as u64
        );
        assert_eq!(sum.load(Ordering::SeqCst), expected);
        assert!(queue.is_empty());
    });
}

/// Timed forms in green threads time out on the hub's timer heap, withdraw,
/// and succeed when the resource comes in time.
#[test]
fn timed_waits_in_green_threads() {
    watchdog("timed", || {
        polysync_corosensei::run(|| {
            let lock = Arc::new(Lock::new());
            let sem = Semaphore::new(0);
            let event = Event::new();
            let queue = Queue::<u8>::unbounded();
            let g = lock.acquire_blocking();
            let short = Duration::from_millis(3);
            let other = {
                let lock = lock.clone();
                polysync_corosensei::spawn(move || lock.try_acquire_for(short).is_none())
            };
            assert!(other.join().unwrap(), "timed out while held");
            assert_eq!(lock.waiting(), 0, "withdrawn");
            assert!(sem.try_acquire_for(short).is_none());
            assert!(!event.try_wait_for(short));
            assert!(queue.try_get_for(short).is_err());
            assert_eq!(sem.waiting() + event.waiting() + queue.getting(), 0);
            // In time: released by a green thread that sleeps less.
            let waiter = {
                let lock = lock.clone();
                polysync_corosensei::spawn(move || {
                    lock.try_acquire_for(Duration::from_secs(30)).is_some()
                })
            };
            polysync_corosensei::sleep(Duration::from_millis(2));
            drop(g);
            assert!(waiter.join().unwrap());
        });
    });
}
