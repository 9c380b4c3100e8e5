//! Bounded fairness of the limiters (issue 18, item 1), in both modes:
//! `new_bounded` (a token given back wakes the oldest waiter to compete; a
//! running unit may take it first; the oldest is handed one once it has
//! been overtaken too often) and `new_fair` (strict FIFO hand-off).
//!
//! - No more than `total` borrowers at once and no lost wake-up, under a
//!   stress of threads and identified futures-lite tasks with random
//!   cancellation (timed-out blocking waits, dropped futures), for both
//!   limiters in both modes, under a watchdog.
//! - The bound, counted and deterministic (one thread, no timing): a woken
//!   front is overtaken exactly `OVERTAKE_BOUND` times, or loses exactly
//!   `LOST_RETRIES` retries, then the next token that comes back is handed
//!   to it.
//! - A woken front that gives up passes the wake on; a front that wins its
//!   retry wakes the next waiter if a token is left for it.
//! - The identity rules hold in bounded mode: a unit that borrows already
//!   is answered at once (an error, or one more level), and is not a barge.

#[path = "support/probe.rs"]
mod probe;
use probe::{WakeCount, poll_with, xorshift};
#[path = "support/worlds.rs"]
mod worlds;
use worlds::Watchdog;

use futures_lite::future::block_on;
use polysync::lock::{LOST_RETRIES, OVERTAKE_BOUND};
use polysync::lowlevel::{UnitId, identified};
use polysync::{BorrowError, CapacityLimiter, LimiterToken, RCapacityLimiter};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::thread;
use std::time::Duration;

/// What the stress needs of either limiter.
trait Limiter: Send + Sync + 'static {
    fn blocking(&self) -> LimiterToken<'_>;
    fn timed(&self, timeout: Duration) -> Option<LimiterToken<'_>>;
    fn try_now(&self) -> Option<LimiterToken<'_>>;
    fn borrow(&self) -> polysync::LimiterAcquire<'_>;
    fn borrowed(&self) -> usize;
    fn waiters(&self) -> usize;
}

impl Limiter for CapacityLimiter {
    fn blocking(&self) -> LimiterToken<'_> {
        self.acquire_blocking().unwrap()
    }
    fn timed(&self, timeout: Duration) -> Option<LimiterToken<'_>> {
        match self.try_acquire_for(timeout) {
            Ok(token) => Some(token),
            Err(BorrowError::Unavailable) => None,
            Err(e) => panic!("{e}"),
        }
    }
    fn try_now(&self) -> Option<LimiterToken<'_>> {
        self.try_acquire().ok()
    }
    fn borrow(&self) -> polysync::LimiterAcquire<'_> {
        self.acquire()
    }
    fn borrowed(&self) -> usize {
        self.borrowed_tokens()
    }
    fn waiters(&self) -> usize {
        self.waiting()
    }
}

impl Limiter for RCapacityLimiter {
    fn blocking(&self) -> LimiterToken<'_> {
        self.acquire_blocking()
    }
    fn timed(&self, timeout: Duration) -> Option<LimiterToken<'_>> {
        self.try_acquire_for(timeout)
    }
    fn try_now(&self) -> Option<LimiterToken<'_>> {
        self.try_acquire()
    }
    fn borrow(&self) -> polysync::LimiterAcquire<'_> {
        self.acquire()
    }
    fn borrowed(&self) -> usize {
        self.borrowed_tokens()
    }
    fn waiters(&self) -> usize {
        self.waiting()
    }
}

/// One borrower inside: the count never exceeds the total.
fn enter(inside: &AtomicUsize, total: usize) {
    let before = inside.fetch_add(1, Ordering::SeqCst);
    assert!(before < total, "{} borrowers of {total}", before + 1);
}

fn stress<L: Limiter>(limiter: Arc<L>, total: usize, units: usize, rounds: usize) {
    let inside = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for t in 0..units {
        let (limiter, inside) = (limiter.clone(), inside.clone());
        handles.push(thread::spawn(move || {
            let mut seed = 0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1);
            for _ in 0..rounds {
                let token = match xorshift(&mut seed) % 4 {
                    // A timed wait that often gives up while queued (and
                    // sometimes just as it was woken to compete).
                    0 => limiter.timed(Duration::from_micros(xorshift(&mut seed) % 50)),
                    1 => limiter.try_now(),
                    _ => Some(limiter.blocking()),
                };
                if let Some(token) = token {
                    enter(&inside, total);
                    if xorshift(&mut seed) % 8 == 0 {
                        thread::yield_now();
                    }
                    inside.fetch_sub(1, Ordering::SeqCst);
                    drop(token);
                }
            }
        }));
    }
    for t in 0..units {
        let (limiter, inside) = (limiter.clone(), inside.clone());
        handles.push(thread::spawn(move || {
            let mut seed = 0xD1B5_4A32_D192_ED03 ^ (t as u64 + 1);
            block_on(identified(async {
                for _ in 0..rounds {
                    if xorshift(&mut seed) % 3 == 0 {
                        // Poll once or a few times, then drop the future: a
                        // waiter that leaves while queued, or after it was
                        // woken to compete and before it retried.
                        let mut fut = pin!(limiter.borrow());
                        let polls = xorshift(&mut seed) % 3 + 1;
                        let got = futures_lite::future::poll_fn(|cx| {
                            for _ in 0..polls {
                                if let Poll::Ready(t) = fut.as_mut().poll(cx) {
                                    return Poll::Ready(Some(t.unwrap()));
                                }
                            }
                            Poll::Ready(None)
                        })
                        .await;
                        if let Some(token) = got {
                            enter(&inside, total);
                            inside.fetch_sub(1, Ordering::SeqCst);
                            drop(token);
                        }
                    } else {
                        let token = limiter.borrow().await.unwrap();
                        enter(&inside, total);
                        futures_lite::future::yield_now().await;
                        inside.fetch_sub(1, Ordering::SeqCst);
                        drop(token);
                    }
                }
            }));
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(limiter.borrowed(), 0, "every token came back");
    assert_eq!(limiter.waiters(), 0);
}

#[test]
fn stress_with_random_cancellation_keeps_the_bound_and_loses_no_wake() {
    let rounds = if cfg!(miri) { 10 } else { 1500 };
    let _dog = Watchdog::new("limiter stress with cancellation", Duration::from_secs(60));
    for fair in [false, true] {
        for total in [1, 2] {
            let limiter = Arc::new(if fair {
                CapacityLimiter::new_fair(total)
            } else {
                CapacityLimiter::new_bounded(total)
            });
            assert_eq!(limiter.is_fair(), fair);
            stress(limiter, total, 3, rounds);
            let limiter = Arc::new(if fair {
                RCapacityLimiter::new_fair(total)
            } else {
                RCapacityLimiter::new_bounded(total)
            });
            assert_eq!(limiter.is_fair(), fair);
            stress(limiter, total, 3, rounds);
        }
    }
}

/// The count bound, exactly: the holder gives its token back (the front
/// is woken to compete but does not run), and the test thread takes the
/// token and gives it back, again and again, past the front: after
/// `OVERTAKE_BOUND` barges the token that comes back is handed to the
/// front, and barging stops. One thread, deterministic.
#[test]
#[cfg_attr(miri, ignore = "OVERTAKE_BOUND (65 536) barges: too slow under Miri")]
fn a_woken_front_is_overtaken_exactly_the_bound() {
    let limiter = CapacityLimiter::new_bounded(1);
    let holder = UnitId::allocate();
    limiter.try_acquire_on_behalf_of(holder).unwrap().forget();
    let (woken, waker) = WakeCount::new();
    let job = UnitId::allocate();
    let mut front = pin!(limiter.acquire_on_behalf_of(job));
    assert!(poll_with(front.as_mut(), &waker).is_pending());
    limiter.release_on_behalf_of(holder).unwrap();
    assert_eq!(woken.get(), 1, "the front is woken to compete");
    assert_eq!(
        limiter.available_tokens(),
        1,
        "free while the front retries"
    );
    let mut barges = 0u64;
    while let Ok(token) = limiter.try_acquire() {
        barges += 1;
        drop(token);
        assert!(barges <= OVERTAKE_BOUND, "overtaken past the bound");
    }
    assert_eq!(barges, OVERTAKE_BOUND, "barging stops at the bound");
    assert_eq!(limiter.available_tokens(), 0, "handed over, not freed");
    let Poll::Ready(Ok(token)) = poll_with(front.as_mut(), &waker) else {
        panic!("the front was handed the token");
    };
    assert_eq!(token.borrower(), job);
    drop(token);
    // Nobody waits: the debt is gone with the front.
    assert!(limiter.try_acquire().is_ok());
}

/// The retry bound, exactly: each round a token comes back and wakes the
/// front, a running unit barges in first, and the woken front loses its
/// retry; after `LOST_RETRIES` lost retries the next token that comes back
/// is handed to it and barging is refused.
#[test]
fn a_woken_front_loses_exactly_the_bound_of_retries() {
    let limiter = RCapacityLimiter::new_bounded(1);
    let holder = UnitId::allocate();
    limiter.try_acquire_on_behalf_of(holder).unwrap().forget();
    let (woken, waker) = WakeCount::new();
    let mut front = pin!(limiter.acquire_on_behalf_of(UnitId::allocate()));
    assert!(poll_with(front.as_mut(), &waker).is_pending());
    // Polled again without a wake: not a lost retry.
    assert!(poll_with(front.as_mut(), &waker).is_pending());
    let mut lost = 0;
    let mut last = holder;
    loop {
        let before = woken.get();
        limiter.release_on_behalf_of(last, 1).unwrap();
        assert_eq!(woken.get(), before + 1, "a token back wakes the front");
        let barger = UnitId::allocate();
        let Some(token) = limiter.try_acquire_on_behalf_of(barger) else {
            break;
        };
        // The front retries and loses.
        assert!(poll_with(front.as_mut(), &waker).is_pending());
        lost += 1;
        assert!(lost <= LOST_RETRIES, "lost past the bound");
        token.forget();
        last = barger;
    }
    assert_eq!(lost, LOST_RETRIES);
    assert_eq!(limiter.available_tokens(), 0, "handed over, not freed");
    assert!(matches!(
        poll_with(front.as_mut(), &waker),
        Poll::Ready(Ok(_))
    ));
}

/// The classic lost wake-up of wake-to-compete designs: a token back wakes
/// the front (it stays queued, the token is free) and the front's future
/// is dropped before it retries. The wake passes to the next waiter (if
/// the token is still free; if a barger took it, the barger's release
/// wakes it).
#[test]
fn a_woken_front_that_is_dropped_passes_the_wake_on() {
    for barger in [false, true] {
        let limiter = CapacityLimiter::new_bounded(1);
        let held = limiter.try_acquire().unwrap();
        let (front_woken, front_waker) = WakeCount::new();
        let (behind_woken, behind_waker) = WakeCount::new();
        let mut front = Box::pin(limiter.acquire_on_behalf_of(UnitId::allocate()));
        let mut behind = pin!(limiter.acquire_on_behalf_of(UnitId::allocate()));
        assert!(poll_with(front.as_mut(), &front_waker).is_pending());
        assert!(poll_with(behind.as_mut(), &behind_waker).is_pending());
        drop(held);
        assert_eq!(front_woken.get(), 1, "the release wakes the front");
        assert_eq!(
            limiter.available_tokens(),
            1,
            "free while the front retries"
        );
        assert_eq!(limiter.waiting(), 2, "the woken front keeps its place");
        let barged = barger.then(|| limiter.try_acquire().expect("a running unit barges"));
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

/// Two tokens back wake only the front; the front that wins its retry
/// wakes the next waiter, since a token is left for it; nothing is left
/// for the third.
#[test]
fn a_front_that_wins_wakes_the_next_if_a_token_is_left() {
    let limiter = CapacityLimiter::new_bounded(2);
    let (a, b) = (UnitId::allocate(), UnitId::allocate());
    limiter.try_acquire_on_behalf_of(a).unwrap().forget();
    limiter.try_acquire_on_behalf_of(b).unwrap().forget();
    let counts: Vec<_> = (0..3).map(|_| WakeCount::new()).collect();
    let mut waits: Vec<_> = (0..3)
        .map(|_| Box::pin(limiter.acquire_on_behalf_of(UnitId::allocate())))
        .collect();
    for (w, (_, waker)) in waits.iter_mut().zip(&counts) {
        assert!(poll_with(w.as_mut(), waker).is_pending());
    }
    limiter.release_on_behalf_of(a).unwrap();
    limiter.release_on_behalf_of(b).unwrap();
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
    drop(first);
    assert_eq!(counts[2].0.get(), 1);
    let Poll::Ready(Ok(third)) = poll_with(waits[2].as_mut(), &counts[2].1) else {
        panic!("the third's retry wins");
    };
    drop((second, third));
    assert_eq!(limiter.available_tokens(), 2);
}

/// The identity rules with a queue: a unit that borrows already is
/// answered at once (one more level; `AlreadyBorrowing`) and is not a
/// barge (the front's debt does not grow: it is still handed a token after
/// exactly `LOST_RETRIES` lost retries, checked in the test above); and the
/// woken front of a unit that gains a token by barging with another borrow
/// is served without one when it retries.
#[test]
fn identity_rules_hold_in_bounded_mode() {
    let limiter = RCapacityLimiter::new_bounded(1);
    let other = UnitId::allocate();
    let held = limiter.try_acquire().unwrap();
    let (woken, waker) = WakeCount::new();
    let mut queued = pin!(limiter.acquire_on_behalf_of(other));
    assert!(poll_with(queued.as_mut(), &waker).is_pending());
    let again = limiter
        .try_acquire()
        .expect("one more level, even with a queue");
    assert_eq!(limiter.count(), 2);
    drop((held, again));
    assert_eq!(woken.get(), 1);
    // `other` barges with a second borrow while its first is the woken
    // front: the front is then served without a token.
    let barge = limiter.try_acquire_on_behalf_of(other).unwrap();
    let Poll::Ready(Ok(level)) = poll_with(queued.as_mut(), &waker) else {
        panic!("the front's unit borrows now: one more level");
    };
    assert_eq!(limiter.borrowers(), vec![(other, 2)]);
    drop((barge, level));

    let limiter = CapacityLimiter::new_bounded(1);
    let held = limiter.try_acquire().unwrap();
    let mut queued = pin!(limiter.acquire_on_behalf_of(other));
    assert!(poll_with(queued.as_mut(), &waker).is_pending());
    assert_eq!(
        limiter.try_acquire().unwrap_err(),
        BorrowError::AlreadyBorrowing
    );
    drop(held);
    let Poll::Ready(Ok(token)) = poll_with(queued.as_mut(), &waker) else {
        panic!("the woken front wins its retry");
    };
    drop(token);
}

/// Growing the total hands the new tokens to the waiters directly in
/// bounded mode too, oldest first; the front left after that is asleep
/// until a token comes back.
#[test]
fn growing_the_total_hands_the_tokens_to_the_waiters() {
    let limiter = CapacityLimiter::new_bounded(0);
    let (woken, waker) = WakeCount::new();
    let mut waits: Vec<_> = (0..3)
        .map(|_| Box::pin(limiter.acquire_on_behalf_of(UnitId::allocate())))
        .collect();
    for w in &mut waits {
        assert!(poll_with(w.as_mut(), &waker).is_pending());
    }
    limiter.set_total_tokens(2);
    assert_eq!(woken.get(), 2);
    assert_eq!(limiter.available_tokens(), 0, "handed over, not freed");
    assert!(limiter.try_acquire().is_err(), "nothing to barge for");
    let tokens: Vec<_> = waits[..2]
        .iter_mut()
        .map(|w| match poll_with(w.as_mut(), &waker) {
            Poll::Ready(Ok(token)) => token,
            _ => panic!("handed a token"),
        })
        .collect();
    assert!(poll_with(waits[2].as_mut(), &waker).is_pending());
    drop(tokens);
    assert_eq!(woken.get(), 3, "a token back wakes the last front");
}
