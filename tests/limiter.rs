//! `CapacityLimiter` and `RCapacityLimiter` across worlds: OS threads
//! blocking, identified tokio tasks on runtimes in other threads, identified
//! `futures_lite::block_on` tasks; aiologic's scenarios; a cancellation storm.

use polysync::lowlevel::{current_task, current_unit, identified};
use polysync::{BorrowError, CapacityLimiter, LimiterReleaseError, RCapacityLimiter};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::thread;
use std::time::{Duration, Instant};

static_assertions::assert_impl_all!(CapacityLimiter: Send, Sync, std::fmt::Debug, Default);
static_assertions::assert_impl_all!(RCapacityLimiter: Send, Sync, std::fmt::Debug, Default);
static_assertions::assert_impl_all!(polysync::LimiterToken<'static>: Send, Sync);
static_assertions::assert_impl_all!(polysync::LimiterAcquire<'static>: Send);
static_assertions::assert_impl_all!(BorrowError: std::error::Error, Send, Sync);
#[path = "support/soak.rs"]
mod soak;
#[path = "support/worlds.rs"]
mod worlds;
use worlds::{Watchdog, multi_thread_rt, wait_until};

/// Counts concurrent borrowers and remembers the maximum.
#[derive(Default)]
struct Occupancy {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Occupancy {
    fn enter(&self) {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(n, Ordering::SeqCst);
    }
    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

#[test]
fn limiter_of_two_shared_by_seven_blocking_and_seven_async_workers() {
    let _dog = Watchdog::new("seven_and_seven", Duration::from_secs(60));
    let limiter = Arc::new(CapacityLimiter::new(2));
    let occ = Arc::new(Occupancy::default());
    let finished = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..7 {
        let (limiter, occ, finished) = (limiter.clone(), occ.clone(), finished.clone());
        handles.push(thread::spawn(move || {
            let token = limiter.acquire_blocking().unwrap();
            occ.enter();
            assert!(limiter.borrowers().len() <= 2);
            assert!(limiter.borrowers().contains(&current_unit()));
            thread::sleep(Duration::from_millis(10));
            occ.leave();
            drop(token);
            finished.fetch_add(1, Ordering::SeqCst);
        }));
    }
    {
        let (limiter, occ, finished) = (limiter.clone(), occ.clone(), finished.clone());
        handles.push(thread::spawn(move || {
            multi_thread_rt().block_on(async move {
                let mut tasks = Vec::new();
                for _ in 0..7 {
                    let (limiter, occ, finished) = (limiter.clone(), occ.clone(), finished.clone());
                    tasks.push(tokio::spawn(identified(async move {
                        let token = limiter.acquire().await.unwrap();
                        occ.enter();
                        assert_eq!(token.borrower(), current_task().unwrap());
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        occ.leave();
                        drop(token);
                        finished.fetch_add(1, Ordering::SeqCst);
                    })));
                }
                for t in tasks {
                    t.await.unwrap();
                }
            });
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(finished.load(Ordering::SeqCst), 14);
    assert!(occ.max.load(Ordering::SeqCst) <= 2);
    assert_eq!(occ.max.load(Ordering::SeqCst), 2, "the limit was reached");
    assert_eq!(limiter.available_tokens(), 2);
    assert_eq!(limiter.borrowed_tokens(), 0);
    assert_eq!(limiter.waiting(), 0);
}

#[test]
fn a_second_borrow_by_the_same_unit_is_an_error_in_every_form() {
    let limiter = CapacityLimiter::new(3);
    let token = limiter.acquire_blocking().unwrap();
    assert_eq!(
        limiter.acquire_blocking().unwrap_err(),
        BorrowError::AlreadyBorrowing
    );
    assert_eq!(
        limiter.try_acquire().unwrap_err(),
        BorrowError::AlreadyBorrowing
    );
    assert_eq!(
        limiter
            .try_acquire_for(Duration::from_millis(1))
            .unwrap_err(),
        BorrowError::AlreadyBorrowing
    );
    assert_eq!(
        limiter.try_acquire_until(Instant::now()).unwrap_err(),
        BorrowError::AlreadyBorrowing
    );
    assert_eq!(limiter.borrowed_tokens(), 1);
    assert!(limiter.is_borrowing());
    drop(token);
    assert!(!limiter.is_borrowing());
    assert_eq!(limiter.release(), Err(LimiterReleaseError::NotBorrowing));
    futures_lite::future::block_on(identified(async {
        let t = limiter.acquire().await.unwrap();
        assert_eq!(
            limiter.acquire().await.unwrap_err(),
            BorrowError::AlreadyBorrowing
        );
        // A thread-side borrow inside the task's poll is the same borrower.
        assert_eq!(
            limiter.try_acquire().unwrap_err(),
            BorrowError::AlreadyBorrowing
        );
        drop(t);
    }));
    assert_eq!(
        futures_lite::future::block_on(limiter.acquire()).unwrap_err(),
        BorrowError::NoTaskIdentity
    );
    assert_eq!(limiter.available_tokens(), 3);
    assert!(format!("{limiter:?}").contains("total_tokens: 3"));
}

#[test]
fn reentrant_limiter_counts_levels() {
    let limiter = RCapacityLimiter::new(1);
    for _ in 0..3 {
        limiter.acquire_blocking().forget();
    }
    assert_eq!(limiter.count(), 3);
    assert_eq!(limiter.borrowed_tokens(), 1);
    limiter.release(2).unwrap();
    assert_eq!(limiter.count(), 1);
    assert_eq!(
        limiter.release(2),
        Err(LimiterReleaseError::TooManyReleases { held: 1 })
    );
    thread::scope(|s| {
        s.spawn(|| {
            assert_eq!(limiter.release(1), Err(LimiterReleaseError::NotBorrowing));
            assert!(limiter.try_acquire_for(Duration::from_millis(5)).is_none());
        });
    });
    let more = limiter.try_acquire().unwrap();
    assert_eq!(limiter.borrowers(), vec![(current_unit(), 2)]);
    drop(more);
    limiter.release(1).unwrap();
    assert_eq!(limiter.available_tokens(), 1);
    // Async: levels follow the task across awaits; another task waits.
    let limiter = Arc::new(RCapacityLimiter::new(1));
    let rt = multi_thread_rt();
    let l2 = limiter.clone();
    rt.block_on(async move {
        let a = tokio::spawn(identified({
            let l = l2.clone();
            async move {
                let x = l.acquire().await.unwrap();
                tokio::task::yield_now().await;
                let y = l.acquire().await.unwrap();
                assert_eq!(l.count(), 2);
                tokio::time::sleep(Duration::from_millis(10)).await;
                drop((x, y));
            }
        }));
        let b = tokio::spawn(identified({
            let l = l2.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(2)).await;
                let x = l.acquire().await.unwrap();
                assert_eq!(l.count(), 1);
                drop(x);
            }
        }));
        a.await.unwrap();
        b.await.unwrap();
    });
    assert_eq!(limiter.available_tokens(), 1);
    assert_eq!(limiter.waiting(), 0);
}

#[test]
fn growing_the_total_wakes_waiters_and_shrinking_makes_later_ones_wait() {
    let _dog = Watchdog::new("grow_shrink", Duration::from_secs(30));
    let limiter = Arc::new(CapacityLimiter::new(1));
    let held = limiter.acquire_blocking().unwrap();
    let got = Arc::new(AtomicUsize::new(0));
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let release_rx = Arc::new(StdMutex::new(release_rx));
    let rt = Arc::new(multi_thread_rt());
    let mut waiters = Vec::new();
    for i in 0..3 {
        let (l, got, rx) = (limiter.clone(), got.clone(), release_rx.clone());
        let wait_release = move || {
            let _ = rx.lock().unwrap().recv();
        };
        waiters.push(match i {
            0 => thread::spawn(move || {
                let t = l.acquire_blocking().unwrap();
                got.fetch_add(1, Ordering::SeqCst);
                wait_release();
                drop(t);
            }),
            1 => {
                let rt = rt.clone();
                thread::spawn(move || {
                    let task = rt.spawn(identified(async move {
                        let t = l.acquire().await.unwrap();
                        got.fetch_add(1, Ordering::SeqCst);
                        tokio::task::spawn_blocking(wait_release).await.unwrap();
                        drop(t);
                    }));
                    rt.block_on(task).unwrap();
                })
            }
            _ => thread::spawn(move || {
                futures_lite::future::block_on(identified(async move {
                    let t = l.acquire().await.unwrap();
                    got.fetch_add(1, Ordering::SeqCst);
                    wait_release();
                    drop(t);
                }))
            }),
        });
        wait_until("the waiter to queue", || limiter.waiting() == i + 1);
    }
    assert_eq!(got.load(Ordering::SeqCst), 0);
    // Growing from another thread wakes all three.
    thread::scope(|s| {
        s.spawn(|| limiter.set_total_tokens(4));
    });
    wait_until("the waiters to borrow", || got.load(Ordering::SeqCst) == 3);
    assert_eq!(limiter.borrowed_tokens(), 4);
    assert_eq!(limiter.available_tokens(), 0);
    assert_eq!(limiter.waiting(), 0);
    // Shrinking below what is borrowed: nobody loses a token, later
    // acquirers wait until the borrowed count falls below the new total.
    limiter.set_total_tokens(2);
    assert_eq!(limiter.available_tokens(), 0);
    assert_eq!(limiter.borrowed_tokens(), 4);
    drop(held);
    assert_eq!(limiter.borrowed_tokens(), 3);
    assert_eq!(limiter.available_tokens(), 0);
    // A later acquirer (another thread) waits: 3 borrowed >= total 2.
    let late = {
        let l = limiter.clone();
        thread::spawn(move || {
            assert_eq!(l.try_acquire().unwrap_err(), BorrowError::Unavailable);
            l.acquire_blocking().map(drop).is_ok()
        })
    };
    wait_until("the late acquirer to queue", || limiter.waiting() == 1);
    release_tx.send(()).unwrap();
    // One waiter gave its token back: 2 borrowed, still not below 2.
    wait_until("a waiter to give back", || limiter.borrowed_tokens() == 2);
    assert_eq!(limiter.waiting(), 1, "still waits at total 2");
    release_tx.send(()).unwrap();
    assert!(late.join().unwrap());
    release_tx.send(()).unwrap();
    for w in waiters {
        w.join().unwrap();
    }
    assert_eq!(limiter.available_tokens(), 2);
    assert_eq!(limiter.borrowed_tokens(), 0);
    assert_eq!(limiter.waiting(), 0);
}

#[test]
fn fifo_hand_off_across_worlds() {
    let _dog = Watchdog::new("fifo", Duration::from_secs(30));
    let limiter = Arc::new(CapacityLimiter::new(1));
    let order = Arc::new(StdMutex::new(Vec::new()));
    let held = limiter.acquire_blocking().unwrap();
    let rt = Arc::new(multi_thread_rt());
    let mut waiters = Vec::new();
    for i in 0..6 {
        let (l, order) = (limiter.clone(), order.clone());
        waiters.push(match i % 3 {
            0 => thread::spawn(move || {
                let t = l.acquire_blocking().unwrap();
                order.lock().unwrap().push(i);
                drop(t);
            }),
            1 => {
                let rt = rt.clone();
                thread::spawn(move || {
                    let task = rt.spawn(identified(async move {
                        let t = l.acquire().await.unwrap();
                        order.lock().unwrap().push(i);
                        drop(t);
                    }));
                    rt.block_on(task).unwrap();
                })
            }
            _ => thread::spawn(move || {
                futures_lite::future::block_on(identified(async move {
                    let t = l.acquire().await.unwrap();
                    order.lock().unwrap().push(i);
                    drop(t);
                }))
            }),
        });
        wait_until("the waiter to queue", || limiter.waiting() == i + 1);
    }
    // The token is given back from an async task of a third world.
    futures_lite::future::block_on(async move { drop(held) });
    for w in waiters {
        w.join().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), (0..6).collect::<Vec<_>>());
    assert_eq!(limiter.available_tokens(), 1);
}

/// Anything held until dropped (a token, or a pair of levels).
trait Held {}
impl<T> Held for T {}

/// xorshift64*: a tiny deterministic generator per worker.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) % n
    }
}

/// A boxed async borrow that yields what it holds.
type BorrowFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Option<Box<dyn Held + Send + 'a>>> + Send + 'a>,
>;

/// Timed, dropped and polled-once borrows in every world. No token leaks,
/// never more borrowers than tokens, and the interesting paths ran: blocking
/// waits timed out, and a future was dropped after a token had been handed to
/// it (the storm goes on, bounded, until it saw one). `POLYSYNC_SOAK=1`: see
/// tests/support/soak.rs.
fn storm<L: Send + Sync + 'static>(
    limiter: Arc<L>,
    total: usize,
    blocking: fn(&L, Duration) -> Option<Box<dyn Held + '_>>,
    try_now: fn(&L) -> Option<Box<dyn Held + '_>>,
    asynch: for<'a> fn(&'a L) -> BorrowFuture<'a>,
    // Whether the current unit holds a token.
    holds: fn(&L) -> bool,
    check: fn(&L) -> (usize, usize, usize),
) {
    let _dog = Watchdog::new(
        "cancellation storm",
        soak::watchdog(Duration::from_secs(30)),
    );
    let started = Instant::now();
    let budget = Arc::new(soak::Budget::new(Duration::from_millis(1200)));
    let occ = Arc::new(Occupancy::default());
    let ops = Arc::new(AtomicUsize::new(0));
    let timed_out = Arc::new(AtomicUsize::new(0));
    // Futures dropped while they held a token handed to them in the queue.
    let handed_dropped = Arc::new(AtomicUsize::new(0));
    let going = {
        let (budget, timed_out, handed_dropped) =
            (budget.clone(), timed_out.clone(), handed_dropped.clone());
        move || {
            budget.running_until(|| {
                timed_out.load(Ordering::Relaxed) > 0 && handed_dropped.load(Ordering::Relaxed) > 0
            })
        }
    };
    let mut handles = Vec::new();
    for w in 0..3u64 {
        let (limiter, occ, ops, budget, going, timed_out) = (
            limiter.clone(),
            occ.clone(),
            ops.clone(),
            budget.clone(),
            going.clone(),
            timed_out.clone(),
        );
        handles.push(thread::spawn(move || {
            let mut rng = Rng(0x9E37_79B9 + w);
            while going() {
                let got = match rng.below(3) {
                    0 => try_now(&limiter),
                    _ => {
                        let got = blocking(&limiter, Duration::from_micros(rng.below(300)));
                        if got.is_none() {
                            timed_out.fetch_add(1, Ordering::Relaxed);
                        }
                        got
                    }
                };
                if let Some(t) = got {
                    occ.enter();
                    if rng.below(2) == 0 {
                        thread::yield_now();
                    }
                    occ.leave();
                    drop(t);
                }
                ops.fetch_add(1, Ordering::Relaxed);
                budget.add(1);
            }
        }));
    }
    {
        let (limiter, occ, ops, budget, going) = (
            limiter.clone(),
            occ.clone(),
            ops.clone(),
            budget.clone(),
            going.clone(),
        );
        handles.push(thread::spawn(move || {
            multi_thread_rt().block_on(async move {
                let mut tasks = Vec::new();
                for w in 0..4u64 {
                    let (limiter, occ, ops, budget, going) = (
                        limiter.clone(),
                        occ.clone(),
                        ops.clone(),
                        budget.clone(),
                        going.clone(),
                    );
                    tasks.push(tokio::spawn(identified(async move {
                        let mut rng = Rng(0x1234_5678 + w);
                        while going() {
                            let t = Duration::from_micros(rng.below(400));
                            if let Ok(Some(tok)) = tokio::time::timeout(t, asynch(&limiter)).await {
                                occ.enter();
                                tokio::task::yield_now().await;
                                occ.leave();
                                drop(tok);
                            }
                            ops.fetch_add(1, Ordering::Relaxed);
                            budget.add(1);
                        }
                    })));
                }
                for t in tasks {
                    t.await.unwrap();
                }
            });
        }));
    }
    {
        // Futures polled once and dropped (cancellation at any point).
        let (limiter, occ, ops, budget, going, handed_dropped) = (
            limiter.clone(),
            occ.clone(),
            ops.clone(),
            budget.clone(),
            going.clone(),
            handed_dropped.clone(),
        );
        handles.push(thread::spawn(move || {
            futures_lite::future::block_on(identified(async move {
                let mut rng = Rng(0xDEAD_BEEF);
                while going() {
                    let mut fut = asynch(&limiter);
                    let polled = futures_lite::future::poll_once(&mut fut).await;
                    let queued = polled.is_none();
                    if let Some(Some(tok)) = polled {
                        occ.enter();
                        occ.leave();
                        drop(tok);
                    }
                    if rng.below(2) == 0 {
                        thread::sleep(Duration::from_micros(rng.below(100)));
                    }
                    // A queued future that holds a token now was handed one:
                    // dropping it must pass the token on.
                    if queued && holds(&limiter) {
                        handed_dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    drop(fut);
                    ops.fetch_add(1, Ordering::Relaxed);
                    budget.add(1);
                }
            }));
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    let (available, waiting, borrowers) = check(&limiter);
    assert_eq!(available, total, "a token leaked");
    assert_eq!(waiting, 0);
    assert_eq!(borrowers, 0);
    assert!(occ.max.load(Ordering::SeqCst) <= total);
    eprintln!(
        "storm: {:?}, {} operations; {} blocking waits timed out, {} futures dropped after \
         a hand-off",
        started.elapsed(),
        ops.load(Ordering::Relaxed),
        timed_out.load(Ordering::Relaxed),
        handed_dropped.load(Ordering::Relaxed),
    );
    assert!(
        timed_out.load(Ordering::Relaxed) > 0,
        "no blocking wait timed out"
    );
    assert!(
        handed_dropped.load(Ordering::Relaxed) > 0,
        "no future was dropped after a token was handed to it (even {:?} past the end)",
        soak::GRACE
    );
}

#[test]
#[cfg_attr(
    miri,
    ignore = "a timing storm: under Miri it does too few operations to reach its rare paths"
)]
fn cancellation_storm_leaks_no_token() {
    storm(
        Arc::new(CapacityLimiter::new(2)),
        2,
        |l, t| l.try_acquire_for(t).ok().map(|t| Box::new(t) as _),
        |l| l.try_acquire().ok().map(|t| Box::new(t) as _),
        |l| Box::pin(async move { l.acquire().await.ok().map(|t| Box::new(t) as _) }),
        CapacityLimiter::is_borrowing,
        |l| (l.available_tokens(), l.waiting(), l.borrowers().len()),
    );
}

#[test]
#[cfg_attr(
    miri,
    ignore = "a timing storm: under Miri it does too few operations to reach its rare paths"
)]
fn cancellation_storm_leaks_no_token_reentrant() {
    storm(
        Arc::new(RCapacityLimiter::new(2)),
        2,
        |l, t| {
            let a = l.try_acquire_for(t)?;
            let b = l.try_acquire().expect("re-entry never waits");
            Some(Box::new((a, b)) as _)
        },
        |l| l.try_acquire().map(|t| Box::new(t) as _),
        |l| {
            Box::pin(async move {
                let a = l.acquire().await.ok()?;
                let b = l.acquire().await.ok()?;
                Some(Box::new((a, b)) as _)
            })
        },
        RCapacityLimiter::is_borrowing,
        |l| (l.available_tokens(), l.waiting(), l.borrowers().len()),
    );
}
