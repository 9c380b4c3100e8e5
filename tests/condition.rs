//! `Condition` across worlds: notify counts, FIFO resumption owning the lock,
//! predicate waits, notify without the lock, timed-out waits that hold the
//! lock again, cancellation that passes notifications on, and a storm.
//! Every test has a watchdog: a lost notification fails it instead of
//! hanging.

#[path = "support/worlds.rs"]
mod worlds;
use worlds::Watchdog;

use polysync::{Condition, Lock, Mutex};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::{Duration, Instant};

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn current_thread_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

/// Waiters of three kinds queue one at a time; `notify(1)` calls resume them
/// in queue order, each already owning the lock; `notify` returns its count.
#[test]
fn fifo_resumption_across_worlds_owning_the_lock() {
    let _dog = Watchdog::new(
        "fifo_resumption_across_worlds_owning_the_lock",
        Duration::from_secs(60),
    );
    let shared = Arc::new((Mutex::new(Vec::<usize>::new()), Condition::new()));
    let mut handles = Vec::new();
    for i in 0..6 {
        let queued_before = shared.1.waiting();
        let mine = shared.clone();
        handles.push(std::thread::spawn(move || {
            let (m, c) = &*mine;
            match i % 3 {
                0 => {
                    let mut g = c.wait_blocking(m.lock_blocking());
                    g.push(i);
                }
                1 => current_thread_rt().block_on(async {
                    let g = m.lock().await;
                    let mut g = c.wait(g).await;
                    g.push(i);
                }),
                _ => futures_lite::future::block_on(async {
                    let g = m.lock().await;
                    let mut g = c.wait(g).await;
                    g.push(i);
                }),
            }
        }));
        wait_until("the waiter queued", || {
            shared.1.waiting() == queued_before + 1
        });
    }
    let (m, c) = &*shared;
    // Hold the lock while notifying: nobody can resume until we release.
    let guard = m.lock_blocking();
    assert_eq!(c.notify(2), 2);
    assert_eq!(c.waiting(), 4);
    assert_eq!(
        m.waiting(),
        2,
        "notified waiters queue for the lock, asleep"
    );
    drop(guard);
    wait_until("two resumed", || m.lock_blocking().len() == 2);
    assert_eq!(c.notify_all(), 4);
    assert_eq!(c.notify_all(), 0);
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(*m.lock_blocking(), vec![0, 1, 2, 3, 4, 5]);
    assert!(!m.is_locked());
}

/// Notifying without holding the lock is allowed; a free lock is handed
/// straight to the waiter.
#[test]
fn notify_without_the_lock_hands_a_free_lock_over() {
    let _dog = Watchdog::new(
        "notify_without_the_lock_hands_a_free_lock_over",
        Duration::from_secs(60),
    );
    let shared = Arc::new((Lock::new(), Condition::new()));
    let t = {
        let shared = shared.clone();
        std::thread::spawn(move || {
            let g = shared.1.wait_blocking(shared.0.acquire_blocking());
            assert!(shared.0.is_locked());
            drop(g);
        })
    };
    // The waiter joins the condition's queue before it gives the lock up:
    // wait until both happened, so that the notify really finds a free lock.
    wait_until("queued, with the lock given up", || {
        shared.1.waiting() == 1 && !shared.0.is_locked()
    });
    assert_eq!(shared.1.notify(1), 1);
    t.join().unwrap();
    assert!(!shared.0.is_locked());
}

/// A timed-out wait returns `false` with the lock held again, and leaves no
/// waiter behind.
#[test]
fn timed_out_wait_holds_the_lock_again() {
    let _dog = Watchdog::new(
        "timed_out_wait_holds_the_lock_again",
        Duration::from_secs(60),
    );
    let (m, c) = (Mutex::new(5), Condition::new());
    let start = Instant::now();
    let g = c
        .try_wait_for(m.lock_blocking(), Duration::from_millis(20))
        .unwrap_err(); // timed out
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert_eq!(*g, 5);
    assert!(m.is_locked());
    assert_eq!(c.waiting(), 0);
    drop(g);
    let g = c
        .try_wait_while_for(m.lock_blocking(), Duration::from_millis(5), |v| **v == 5)
        .unwrap_err(); // still 5
    drop(g);
    assert!(!m.is_locked());
}

/// A timed wait whose deadline races a notify either reports the
/// notification or withdraws; both return with the lock, and a notification
/// is never lost: `notify` counts match the waiters that saw `true`.
#[test]
fn timeout_vs_notify_never_loses_a_notification() {
    let _dog = Watchdog::new(
        "timeout_vs_notify_never_loses_a_notification",
        Duration::from_secs(60),
    );
    for round in 0..200 {
        let shared = Arc::new((Lock::new(), Condition::new(), AtomicBool::new(false)));
        let t = {
            let shared = shared.clone();
            std::thread::spawn(move || {
                let (g, notified) = match shared
                    .1
                    .try_wait_for(shared.0.acquire_blocking(), Duration::from_micros(300))
                {
                    Ok(g) => (g, true),
                    Err(g) => (g, false),
                };
                assert!(shared.0.is_locked());
                drop(g);
                shared.2.store(notified, SeqCst);
            })
        };
        wait_until("queued or gone", || {
            shared.1.waiting() == 1 || t.is_finished()
        });
        if round % 2 == 0 {
            std::thread::sleep(Duration::from_micros(250));
        }
        let woke = shared.1.notify(1);
        t.join().unwrap();
        assert_eq!(woke == 1, shared.2.load(SeqCst), "round {round}");
        assert!(!shared.0.is_locked());
        assert_eq!(shared.1.waiting(), 0);
    }
}

/// A notified async waiter that is dropped before it runs passes the
/// notification on to the next waiter (and the lock, if it was handed over).
#[test]
fn dropped_notified_waiter_passes_the_notification_on() {
    let _dog = Watchdog::new(
        "dropped_notified_waiter_passes_the_notification_on",
        Duration::from_secs(60),
    );
    let (lock, cond) = (Lock::new(), Condition::new());
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut first = Box::pin(cond.wait(lock.try_acquire().unwrap()));
    assert!(first.as_mut().poll(&mut cx).is_pending());
    std::thread::scope(|s| {
        let second = s.spawn(|| {
            let g = cond.wait_blocking(lock.acquire_blocking());
            assert!(lock.is_locked());
            drop(g);
        });
        wait_until("both queued", || cond.waiting() == 2);
        // The lock is free: the first waiter is handed the lock at once.
        assert_eq!(cond.notify(1), 1);
        assert!(lock.is_locked());
        drop(first);
        second.join().unwrap();
    });
    assert!(!lock.is_locked());
    assert_eq!(cond.waiting(), 0);
}

use std::future::Future;

struct BufState {
    buf: VecDeque<usize>,
    producers_left: usize,
}

/// A bounded buffer (capacity 1) as real code writes one: one mutex, two
/// conditions, untimed predicate waits, one `notify(1)` per item put or
/// taken, one `notify_all` when the producer is done.
struct Buffer {
    m: Mutex<BufState>,
    not_empty: Condition,
    not_full: Condition,
}

fn buf_empty(g: &mut polysync::MutexGuard<'_, BufState>) -> bool {
    g.buf.is_empty() && g.producers_left > 0
}

fn buf_full(g: &mut polysync::MutexGuard<'_, BufState>) -> bool {
    !g.buf.is_empty()
}

impl Buffer {
    fn new() -> Buffer {
        Buffer {
            m: Mutex::new(BufState {
                buf: VecDeque::new(),
                producers_left: 1,
            }),
            not_empty: Condition::new(),
            not_full: Condition::new(),
        }
    }

    fn put_blocking(&self, item: usize) {
        let mut g = self
            .not_full
            .wait_while_blocking(self.m.lock_blocking(), buf_full);
        g.buf.push_back(item);
        drop(g);
        self.not_empty.notify(1);
    }

    async fn put(&self, item: usize) {
        let mut g = self
            .not_full
            .wait_while(self.m.lock().await, buf_full)
            .await;
        g.buf.push_back(item);
        drop(g);
        self.not_empty.notify(1);
    }

    fn producer_done(&self) {
        self.m.lock_blocking().producers_left -= 1;
        self.not_empty.notify_all();
    }

    /// Takes items until the buffer is empty and the producer is done.
    fn consume_blocking(&self) -> Vec<usize> {
        let mut got = Vec::new();
        loop {
            let mut g = self
                .not_empty
                .wait_while_blocking(self.m.lock_blocking(), buf_empty);
            let Some(item) = g.buf.pop_front() else {
                return got;
            };
            drop(g);
            self.not_full.notify(1);
            got.push(item);
        }
    }

    async fn consume(&self) -> Vec<usize> {
        let mut got = Vec::new();
        loop {
            let mut g = self
                .not_empty
                .wait_while(self.m.lock().await, buf_empty)
                .await;
            let Some(item) = g.buf.pop_front() else {
                return got;
            };
            drop(g);
            self.not_full.notify(1);
            got.push(item);
        }
    }
}

/// Where one side of a buffer runs.
#[derive(Clone, Copy, Debug)]
enum Side {
    Thread,
    FuturesLite,
    Tokio,
}

const SIDES: [Side; 3] = [Side::Thread, Side::FuturesLite, Side::Tokio];

/// Producer/consumer pairs of every pair of worlds (blocking threads,
/// `futures_lite::block_on`, tokio's `block_on`), all at once, each pair on
/// its own capacity-1 buffer: the producer waits until the buffer is empty,
/// the consumer until it is full, both untimed; no one polls or re-notifies.
/// With one waiter of each kind nothing else can cover for a lost
/// notification: the pair stops and the watchdog fails the test. Every item
/// arrives once, in order.
#[test]
fn producer_consumer_across_worlds() {
    let _dog = Watchdog::new("producer_consumer_across_worlds", Duration::from_secs(60));
    const ITEMS: usize = 300;
    let mut pairs = Vec::new();
    for producer in SIDES {
        for consumer in SIDES {
            let buffer = Arc::new(Buffer::new());
            let b = buffer.clone();
            let consumer_thread = std::thread::spawn(move || match consumer {
                Side::Thread => b.consume_blocking(),
                Side::FuturesLite => futures_lite::future::block_on(b.consume()),
                Side::Tokio => current_thread_rt().block_on(b.consume()),
            });
            let b = buffer.clone();
            let producer_thread = std::thread::spawn(move || {
                match producer {
                    Side::Thread => (0..ITEMS).for_each(|i| b.put_blocking(i)),
                    Side::FuturesLite => futures_lite::future::block_on(async {
                        for i in 0..ITEMS {
                            b.put(i).await;
                        }
                    }),
                    Side::Tokio => current_thread_rt().block_on(async {
                        for i in 0..ITEMS {
                            b.put(i).await;
                        }
                    }),
                }
                b.producer_done();
            });
            pairs.push((producer, consumer, buffer, producer_thread, consumer_thread));
        }
    }
    for (producer, consumer, buffer, producer_thread, consumer_thread) in pairs {
        producer_thread.join().unwrap();
        let got = consumer_thread.join().unwrap();
        assert_eq!(
            got,
            (0..ITEMS).collect::<Vec<_>>(),
            "{producer:?} -> {consumer:?}: items lost, duplicated or reordered"
        );
        assert_eq!(
            buffer.not_empty.waiting() + buffer.not_full.waiting(),
            0,
            "{producer:?} -> {consumer:?}: a waiter was left"
        );
        assert!(!buffer.m.is_locked());
    }
}

/// Random cancellation storm: waiters time out or are dropped at random while
/// notifiers notify; afterwards nobody is stuck, the lock is free and no
/// entry is left in either queue.
#[test]
fn cancellation_storm() {
    let _dog = Watchdog::new("cancellation_storm", Duration::from_secs(60));
    let shared = Arc::new((Lock::new(), Condition::new(), AtomicBool::new(false)));
    let end = Instant::now() + Duration::from_millis(1200);
    let mut handles = Vec::new();
    for id in 0..4u64 {
        let shared = shared.clone();
        handles.push(std::thread::spawn(move || {
            let mut seed = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut rand = move || {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed
            };
            let (lock, cond, _) = &*shared;
            while Instant::now() < end {
                match rand() % 3 {
                    0 => {
                        let g = cond
                            .try_wait_for(
                                lock.acquire_blocking(),
                                Duration::from_micros(rand() % 500),
                            )
                            .unwrap_or_else(|g| g);
                        assert!(lock.is_locked());
                        drop(g);
                    }
                    1 => futures_lite::future::block_on(async {
                        let g = lock.acquire().await;
                        let wait = cond.wait(g);
                        let timer = async_io::Timer::after(Duration::from_micros(rand() % 500));
                        let out = futures_lite::future::or(async { Some(wait.await) }, async {
                            timer.await;
                            None
                        })
                        .await;
                        if out.is_some() {
                            assert!(lock.is_locked());
                        }
                    }),
                    _ => {
                        if let Some(g) = lock.try_acquire() {
                            cond.notify((rand() % 3) as usize);
                            drop(g);
                        } else {
                            cond.notify(1);
                        }
                    }
                }
            }
        }));
    }
    let watchdog_end = Instant::now() + Duration::from_secs(60);
    while handles.iter().any(|h| !h.is_finished()) {
        assert!(Instant::now() < watchdog_end, "the storm hung");
        shared.1.notify_all();
        std::thread::sleep(Duration::from_millis(2));
    }
    for h in handles {
        h.join().unwrap();
    }
    assert!(!shared.0.is_locked());
    assert_eq!(shared.0.waiting(), 0);
    assert_eq!(shared.1.waiting(), 0);
}

static_assertions::assert_impl_all!(Condition: Send, Sync, Default, std::fmt::Debug);
static_assertions::assert_impl_all!(polysync::condition::ConditionWait<'static, polysync::LockGuard<'static>>: Send);

/// With an `RLock`, a wait gives up every level the owner holds and gets all
/// of them back: a thread holding 2 levels waits, an identified tokio task
/// takes the lock meanwhile and notifies; the thread resumes with 2 levels.
#[test]
fn rlock_wait_releases_and_restores_all_levels() {
    let _dog = Watchdog::new(
        "rlock_wait_releases_and_restores_all_levels",
        Duration::from_secs(60),
    );
    use polysync::RLock;
    use polysync::lowlevel::identified;
    let shared = Arc::new((RLock::new(), Condition::new(), AtomicBool::new(false)));
    let waiter = {
        let shared = shared.clone();
        std::thread::spawn(move || {
            let (rlock, cond, flag) = &*shared;
            let outer = rlock.acquire_blocking();
            let mut inner = rlock.acquire_blocking();
            assert_eq!(rlock.count(), 2);
            while !flag.load(SeqCst) {
                inner = cond.wait_blocking(inner);
                assert!(rlock.is_owned_by_current_unit());
            }
            assert_eq!(rlock.count(), 2, "all levels restored");
            drop(inner);
            drop(outer);
        })
    };
    wait_until("the thread waits", || shared.1.waiting() == 1);
    assert!(!shared.0.is_locked(), "a waiting owner holds no level");
    let task = identified({
        let shared = shared.clone();
        async move {
            let (rlock, cond, flag) = &*shared;
            let guard = rlock.acquire().await.unwrap();
            let again = rlock.acquire().await.unwrap(); // re-entry by the task
            flag.store(true, SeqCst);
            assert_eq!(cond.notify(1), 1);
            drop(again);
            drop(guard);
        }
    });
    current_thread_rt()
        .block_on(async { tokio::spawn(task).await })
        .unwrap();
    waiter.join().unwrap();
    assert!(!shared.0.is_locked());
}

/// An identified async task waits on an `RLock` condition; a thread
/// notifies. A timed-out blocking wait restores the levels too.
#[test]
fn rlock_async_wait_and_timed_out_blocking_wait() {
    let _dog = Watchdog::new(
        "rlock_async_wait_and_timed_out_blocking_wait",
        Duration::from_secs(60),
    );
    use polysync::RLock;
    use polysync::lowlevel::identified;
    let shared = Arc::new((RLock::new(), Condition::new()));
    let task = {
        let shared = shared.clone();
        std::thread::spawn(move || {
            futures_lite::future::block_on(identified(async move {
                let (rlock, cond) = &*shared;
                let guard = rlock.acquire().await.unwrap();
                let guard = cond.wait(guard).await;
                assert!(rlock.is_owned_by_current_unit());
                assert_eq!(rlock.count(), 1);
                drop(guard);
            }))
        })
    };
    wait_until("the task waits", || shared.1.waiting() == 1);
    assert_eq!(shared.1.notify(1), 1);
    task.join().unwrap();
    let (rlock, cond) = &*shared;
    let a = rlock.acquire_blocking();
    let b = rlock.acquire_blocking();
    let c = rlock.acquire_blocking();
    let c = cond.try_wait_for(c, Duration::from_millis(5)).unwrap_err();
    assert_eq!(rlock.count(), 3, "levels restored after a timeout");
    drop((a, b, c));
    assert!(!rlock.is_locked());
}
