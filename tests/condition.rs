//! `Condition` across worlds: notify counts, FIFO resumption owning the lock,
//! predicate waits, notify without the lock, timed-out waits that hold the
//! lock again, cancellation that passes notifications on, and a storm.

use polysync::{Condition, Lock, Mutex};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
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
    let shared = Arc::new((Lock::new(), Condition::new()));
    let t = {
        let shared = shared.clone();
        std::thread::spawn(move || {
            let g = shared.1.wait_blocking(shared.0.acquire_blocking());
            assert!(shared.0.locked());
            drop(g);
        })
    };
    wait_until("queued", || shared.1.waiting() == 1);
    assert!(!shared.0.locked());
    assert_eq!(shared.1.notify(1), 1);
    t.join().unwrap();
    assert!(!shared.0.locked());
}

/// A timed-out wait returns `false` with the lock held again, and leaves no
/// waiter behind.
#[test]
fn timed_out_wait_holds_the_lock_again() {
    let (m, c) = (Mutex::new(5), Condition::new());
    let start = Instant::now();
    let (g, notified) = c.wait_for(m.lock_blocking(), Duration::from_millis(20));
    assert!(!notified);
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert_eq!(*g, 5);
    assert!(m.is_locked());
    assert_eq!(c.waiting(), 0);
    drop(g);
    let (g, done) = c.wait_while_for(m.lock_blocking(), Duration::from_millis(5), |v| **v == 5);
    assert!(!done);
    drop(g);
    assert!(!m.is_locked());
}

/// A timed wait whose deadline races a notify either reports the
/// notification or withdraws; both return with the lock, and a notification
/// is never lost: `notify` counts match the waiters that saw `true`.
#[test]
fn timeout_vs_notify_never_loses_a_notification() {
    for round in 0..200 {
        let shared = Arc::new((Lock::new(), Condition::new(), AtomicBool::new(false)));
        let t = {
            let shared = shared.clone();
            std::thread::spawn(move || {
                let (g, notified) = shared
                    .1
                    .wait_for(shared.0.acquire_blocking(), Duration::from_micros(300));
                assert!(shared.0.locked());
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
        assert!(!shared.0.locked());
        assert_eq!(shared.1.waiting(), 0);
    }
}

/// A notified async waiter that is dropped before it runs passes the
/// notification on to the next waiter (and the lock, if it was handed over).
#[test]
fn dropped_notified_waiter_passes_the_notification_on() {
    let (lock, cond) = (Lock::new(), Condition::new());
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut first = Box::pin(cond.wait(lock.try_acquire().unwrap()));
    assert!(first.as_mut().poll(&mut cx).is_pending());
    std::thread::scope(|s| {
        let second = s.spawn(|| {
            let g = cond.wait_blocking(lock.acquire_blocking());
            assert!(lock.locked());
            drop(g);
        });
        wait_until("both queued", || cond.waiting() == 2);
        // The lock is free: the first waiter is handed the lock at once.
        assert_eq!(cond.notify(1), 1);
        assert!(lock.locked());
        drop(first);
        second.join().unwrap();
    });
    assert!(!lock.locked());
    assert_eq!(cond.waiting(), 0);
}

use std::future::Future;

/// Predicate waits in every world: consumers wait while a counter is zero;
/// a producer thread and a producer task increment it and notify.
#[test]
fn producer_consumer_across_worlds() {
    const ITEMS: usize = 600;
    let shared = Arc::new((Mutex::new(0usize), Condition::new(), AtomicUsize::new(0)));
    let consume = |shared: Arc<(Mutex<usize>, Condition, AtomicUsize)>, kind: usize| {
        std::thread::spawn(move || {
            let (m, c, taken) = &*shared;
            loop {
                if taken.load(SeqCst) >= ITEMS {
                    c.notify_all();
                    return;
                }
                let take = |mut g: polysync::MutexGuard<'_, usize>| {
                    if *g > 0 {
                        *g -= 1;
                        taken.fetch_add(1, SeqCst);
                    }
                };
                match kind {
                    0 => {
                        let (g, _) =
                            c.wait_while_for(m.lock_blocking(), Duration::from_millis(5), |n| {
                                **n == 0 && taken.load(SeqCst) < ITEMS
                            });
                        take(g);
                    }
                    _ => futures_lite::future::block_on(async {
                        let g = m.lock().await;
                        let g = c
                            .wait_while(g, |n| **n == 0 && taken.load(SeqCst) < ITEMS)
                            .await;
                        take(g);
                    }),
                }
            }
        })
    };
    let consumers: Vec<_> = (0..4).map(|k| consume(shared.clone(), k % 2)).collect();
    let producer_thread = {
        let shared = shared.clone();
        std::thread::spawn(move || {
            for _ in 0..ITEMS / 2 {
                *shared.0.lock_blocking() += 1;
                shared.1.notify(1);
            }
        })
    };
    current_thread_rt().block_on(async {
        for _ in 0..ITEMS / 2 {
            *shared.0.lock().await += 1;
            shared.1.notify(1);
            tokio::task::yield_now().await;
        }
    });
    producer_thread.join().unwrap();
    // Wake anyone still waiting for the last items.
    let deadline = Instant::now() + Duration::from_secs(20);
    while consumers.iter().any(|c| !c.is_finished()) {
        assert!(Instant::now() < deadline, "a consumer hung");
        shared.1.notify_all();
        std::thread::sleep(Duration::from_millis(1));
    }
    for c in consumers {
        c.join().unwrap();
    }
    assert_eq!(shared.2.load(SeqCst), ITEMS);
    assert_eq!(*shared.0.lock_blocking(), 0);
}

/// Random cancellation storm: waiters time out or are dropped at random while
/// notifiers notify; afterwards nobody is stuck, the lock is free and no
/// entry is left in either queue.
#[test]
fn cancellation_storm() {
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
                        let (g, _) = cond
                            .wait_for(lock.acquire_blocking(), Duration::from_micros(rand() % 500));
                        assert!(lock.locked());
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
                            assert!(lock.locked());
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
    assert!(!shared.0.locked());
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
    assert!(!shared.0.locked(), "a waiting owner holds no level");
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
    assert!(!shared.0.locked());
}

/// An identified async task waits on an `RLock` condition; a thread
/// notifies. A timed-out blocking wait restores the levels too.
#[test]
fn rlock_async_wait_and_timed_out_blocking_wait() {
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
    let (c, notified) = cond.wait_for(c, Duration::from_millis(5));
    assert!(!notified);
    assert_eq!(rlock.count(), 3, "levels restored after a timeout");
    drop((a, b, c));
    assert!(!rlock.locked());
}
