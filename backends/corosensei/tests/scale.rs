//! Issue 10, part 5.2: ten thousand green threads on one hub contend on one
//! `polysync::Lock` together with OS threads and tokio tasks. All finish, the
//! count is exact (the lock excludes), and a ticking green thread advanced
//! while the contention went on.

mod support;

use polysync::Lock;
use polysync_corosensei::{Hub, sleep, spawn, yield_now};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use support::watchdog;

const GREEN: u64 = 10_000;
const GREEN_ROUNDS: u64 = 2;
const THREADS: u64 = 2;
const THREAD_ROUNDS: u64 = 2_000;
const TASKS: u64 = 50;
const TASK_ROUNDS: u64 = 40;

/// The counter the lock protects, updated with a load and a store (not an
/// atomic increment): an overlap of two holders loses an update.
struct Counted {
    lock: Lock,
    count: AtomicU64,
}

impl Counted {
    fn bump(&self) {
        let n = self.count.load(Ordering::Relaxed);
        std::hint::spin_loop();
        self.count.store(n + 1, Ordering::Relaxed);
    }
}

#[test]
fn ten_thousand_green_threads_threads_and_tasks_share_one_lock() {
    watchdog("scale", || {
        let shared = Arc::new(Counted {
            lock: Lock::new(),
            count: AtomicU64::new(0),
        });
        let rt = support::multi_thread(2);

        let others_done = Arc::new(polysync::Event::new());
        let hub = {
            let (shared, others_done) = (shared.clone(), others_done.clone());
            std::thread::spawn(move || {
                let hub = Hub::builder().stack_size(64 * 1024).build();
                let contending = Rc::new(Cell::new(true));
                let ticks = Rc::new(Cell::new(0u64));
                let ticker = {
                    let (ticks, contending) = (ticks.clone(), contending.clone());
                    hub.spawn(move || {
                        while contending.get() {
                            ticks.set(ticks.get() + 1);
                            sleep(Duration::from_micros(100));
                        }
                    })
                };
                let greens: Vec<_> = (0..GREEN)
                    .map(|_| {
                        let shared = shared.clone();
                        hub.spawn(move || {
                            for _ in 0..GREEN_ROUNDS {
                                let _g = shared.lock.acquire_blocking();
                                shared.bump();
                                if shared.count.load(Ordering::Relaxed) % 64 == 0 {
                                    yield_now(); // switch while holding: others queue
                                }
                            }
                        })
                    })
                    .collect();
                hub.run(move || {
                    let at_start = ticks.get();
                    for g in greens {
                        g.join().unwrap();
                    }
                    let during = ticks.get() - at_start;
                    // The threads and tasks may still be at it: wait for them
                    // as a green thread (the ticker keeps going).
                    spawn(move || others_done.wait_blocking()).join().unwrap();
                    contending.set(false);
                    ticker.join().unwrap();
                    during
                })
            })
        };

        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                let shared = shared.clone();
                std::thread::spawn(move || {
                    for _ in 0..THREAD_ROUNDS {
                        let _g = shared.lock.acquire_blocking();
                        shared.bump();
                    }
                })
            })
            .collect();
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let shared = shared.clone();
                rt.spawn(async move {
                    for _ in 0..TASK_ROUNDS {
                        let _g = shared.lock.acquire().await;
                        shared.bump();
                        tokio::task::yield_now().await;
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
        others_done.set();
        let ticks = hub.join().unwrap();
        assert!(
            ticks > 0,
            "the ticking green thread never advanced during the contention"
        );
        assert_eq!(
            shared.count.load(Ordering::SeqCst),
            GREEN * GREEN_ROUNDS + THREADS * THREAD_ROUNDS + TASKS * TASK_ROUNDS,
            "lost updates: the lock let two holders in"
        );
        assert!(!shared.lock.is_locked());
    });
}
