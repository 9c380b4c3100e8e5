//! Many-permit acquisitions and closing, across worlds:
//!
//! - a queued `acquire_many(3)` at the head of the line is not overtaken by
//!   later one-permit requests (blocking, async, `try_*`) while permits
//!   trickle in one by one; it is served first, then the rest in order;
//! - a head request that gives up (dropped future, timed-out blocking
//!   call) lets the permits kept for it go to the waiters behind it;
//! - a storm of random many-permit waits from threads, tokio tasks and
//!   futures-lite tasks, with random time-outs and drops: never more
//!   permits held than exist, and every permit back at the end;
//! - `close()` wakes every waiter in every world with its form's typed
//!   error (`AcquireError`, `TryAcquireError::Closed`, `None`), also a
//!   blocking `acquire_many` waiter and an async one queued behind a head
//!   request; later acquisitions fail (tests/semaphore_close.rs covers
//!   every form);
//! - a bounded semaphore's release check accounts for many-permit waiters;
//! - permits: `split`, `merge`, `forget`, `num_permits`; requests above the
//!   maximum panic.
//!
//! Every test that could hang has a watchdog.

#[path = "support/worlds.rs"]
mod worlds;

use futures_lite::future::{block_on, poll_once};
use polysync::lowlevel::{ThreadWaiter, WaitResult, Waiter};
use polysync::{
    AcquireError, BinarySemaphore, BoundedSemaphore, Semaphore, TooManyReleases, TryAcquireError,
};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex, mpsc};
use std::task::Waker;
use std::thread;
use std::time::{Duration, Instant};
use worlds::{Watchdog, multi_thread_rt, wait_until};

const SHORT: Duration = Duration::from_millis(30);
const LONG: Duration = Duration::from_secs(10);

#[test]
fn a_queued_large_request_is_not_overtaken_as_permits_trickle_in() {
    let _dog = Watchdog::new(
        "a_queued_large_request_is_not_overtaken_as_permits_trickle_in",
        Duration::from_secs(60),
    );
    let sem = Arc::new(Semaphore::new(0));
    let order = Arc::new(StdMutex::new(Vec::new()));
    // The head: a blocking thread that wants 3.
    let big = {
        let (sem, order) = (sem.clone(), order.clone());
        thread::spawn(move || {
            let permit = sem.acquire_many_owned_blocking(3).unwrap();
            order.lock().unwrap().push("big");
            permit
        })
    };
    wait_until("the big request queued", || sem.waiting() == 1);
    // Behind it: a tokio task and a blocking thread that want 1 each.
    let rt = multi_thread_rt();
    let task = {
        let (sem, order) = (sem.clone(), order.clone());
        rt.spawn(async move {
            let permit = sem.acquire_owned().await.unwrap();
            order.lock().unwrap().push("task");
            permit
        })
    };
    wait_until("the task queued", || sem.waiting() == 2);
    let small = {
        let (sem, order) = (sem.clone(), order.clone());
        thread::spawn(move || {
            let permit = sem.acquire_owned_blocking().unwrap();
            order.lock().unwrap().push("small");
            permit
        })
    };
    wait_until("the small thread queued", || sem.waiting() == 3);

    for kept in 1..=2 {
        sem.release(1);
        // The permits are kept for the head: free, but nobody else gets them.
        assert_eq!(sem.value(), kept);
        assert_eq!(sem.waiting(), 3, "someone was served before the head");
        assert!(sem.try_acquire().is_none(), "try_acquire overtook the head");
        assert_eq!(
            sem.try_acquire_many(1).unwrap_err(),
            TryAcquireError::Unavailable
        );
        // A newcomer that waits (briefly) does not overtake either.
        assert!(
            sem.try_acquire_for(SHORT).is_none(),
            "a timed newcomer overtook the head"
        );
        // (Polled once under Miri, which has no timerfd for async-io.)
        let newcomer = async { Some(sem.acquire().await.unwrap()) };
        assert!(
            block_on(async {
                if cfg!(miri) {
                    poll_once(newcomer).await.flatten()
                } else {
                    futures_lite::future::or(newcomer, async {
                        async_io::Timer::after(SHORT).await;
                        None
                    })
                    .await
                }
            })
            .is_none(),
            "an async newcomer overtook the head"
        );
        assert_eq!(order.lock().unwrap().len(), 0);
    }
    sem.release(1);
    let big = big.join().unwrap();
    assert_eq!(big.num_permits(), 3);
    assert_eq!(sem.value(), 0);
    assert_eq!(sem.waiting(), 2);
    // One at a time, so the order of service is the order of arrival.
    sem.release(1);
    let task = rt.block_on(task).unwrap();
    assert_eq!(sem.waiting(), 1, "the small thread still waits");
    sem.release(1);
    let small = small.join().unwrap();
    assert_eq!(*order.lock().unwrap(), ["big", "task", "small"]);
    drop((big, task, small));
    assert_eq!(sem.value(), 5);
}

#[test]
fn an_async_head_request_is_not_overtaken_by_a_blocking_newcomer() {
    let _dog = Watchdog::new(
        "an_async_head_request_is_not_overtaken_by_a_blocking_newcomer",
        Duration::from_secs(60),
    );
    let sem = Arc::new(Semaphore::new(1));
    let rt = multi_thread_rt();
    let head = rt.spawn({
        let sem = sem.clone();
        async move { sem.acquire_many_owned(2).await.unwrap() }
    });
    wait_until("the async head queued", || sem.waiting() == 1);
    assert_eq!(sem.value(), 1, "the free permit is kept for the head");
    thread::scope(|s| {
        s.spawn(|| {
            assert!(
                sem.try_acquire_many_for(1, SHORT).is_err(),
                "a blocking newcomer overtook"
            )
        });
    });
    sem.release(1);
    let permit = rt.block_on(head).unwrap();
    assert_eq!(permit.num_permits(), 2);
    drop(permit);
    assert_eq!(sem.value(), 2);
}

#[test]
fn a_dropped_head_request_lets_the_kept_permits_through() {
    let _dog = Watchdog::new(
        "a_dropped_head_request_lets_the_kept_permits_through",
        Duration::from_secs(60),
    );
    let sem = Semaphore::new(0);
    let mut head = Box::pin(sem.acquire_many(3));
    assert!(block_on(poll_once(head.as_mut())).is_none());
    thread::scope(|s| {
        let behind = s.spawn(|| sem.try_acquire_many_for(2, LONG));
        wait_until("the second request queued", || sem.waiting() == 2);
        sem.release(2);
        assert_eq!(sem.value(), 2, "kept for the head");
        assert_eq!(sem.waiting(), 2);
        // The head gives up: the two permits go to the request behind it.
        drop(head);
        let permit = behind.join().unwrap().expect("served once the head left");
        assert_eq!(permit.num_permits(), 2);
        assert_eq!(sem.value(), 0);
    });
    assert_eq!(sem.value(), 2);
    assert_eq!(sem.waiting(), 0);
}

#[test]
fn a_timed_out_head_request_lets_the_kept_permits_through() {
    let _dog = Watchdog::new(
        "a_timed_out_head_request_lets_the_kept_permits_through",
        Duration::from_secs(60),
    );
    let sem = Arc::new(Semaphore::new(2));
    let rt = multi_thread_rt();
    let gate = AtomicBool::new(false);
    thread::scope(|s| {
        // The head's deadline passes when the gate opens, once the task is
        // queued behind it: a clock could time it out before that.
        let (waker_tx, waker_rx) = mpsc::channel();
        let (sem, gate) = (&sem, &gate);
        let head = s.spawn(move || {
            ThreadWaiter::with_current(|thread| {
                waker_tx.send(thread.waker()).unwrap();
                let gated = Gated { thread, gate };
                let far = Instant::now() + Duration::from_secs(3600);
                sem.acquire_many_with(3, &gated, Some(far))
            })
        });
        let head_waker: Waker = waker_rx.recv().unwrap();
        wait_until("the head queued", || sem.waiting() == 1);
        let behind = rt.spawn({
            let sem = sem.clone();
            async move { sem.acquire_many_owned(2).await }
        });
        wait_until("a task queued behind it", || sem.waiting() == 2);
        gate.store(true, Ordering::SeqCst);
        head_waker.wake();
        assert_eq!(
            head.join().unwrap().unwrap_err(),
            TryAcquireError::Unavailable
        );
        let permit = rt
            .block_on(async { tokio::time::timeout(LONG, behind).await })
            .expect("the task behind the timed-out head was served")
            .unwrap()
            .unwrap();
        assert_eq!(permit.num_permits(), 2);
    });
    assert_eq!(sem.value(), 2);
}

/// A thread's waiter whose timed waits end when `gate` opens (and the
/// waiter is woken), not when the clock passes the deadline.
struct Gated<'a> {
    thread: &'a ThreadWaiter,
    gate: &'a AtomicBool,
}

impl Waiter for Gated<'_> {
    fn waker(&self) -> Waker {
        self.thread.waker()
    }

    fn wait(&self, deadline: Option<Instant>) -> WaitResult {
        if deadline.is_some() && self.gate.load(Ordering::SeqCst) {
            return WaitResult::TimedOut;
        }
        // Woken by a hand-off or by the gate's opener; the wait asks again.
        self.thread.wait(None)
    }
}

#[test]
fn a_zero_request_waits_its_turn_and_holds_nothing() {
    let _dog = Watchdog::new(
        "a_zero_request_waits_its_turn_and_holds_nothing",
        Duration::from_secs(60),
    );
    let sem = Semaphore::new(0);
    assert_eq!(sem.try_acquire_many(0).unwrap().num_permits(), 0);
    let mut head = Box::pin(sem.acquire_many(1));
    assert!(block_on(poll_once(head.as_mut())).is_none());
    let mut zero = Box::pin(sem.acquire_many(0));
    assert!(
        block_on(poll_once(zero.as_mut())).is_none(),
        "behind the head"
    );
    drop(head); // the zero request is the head now, and fits
    let permit = block_on(poll_once(zero)).expect("served when the head left");
    assert_eq!(permit.unwrap().num_permits(), 0);
}

// ---------------------------------------------------------------- storm

/// xorshift64.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x % n
    }
}

const STORM_PERMITS: usize = 5;

/// Rounds each storm participant runs at least, however long they take
/// (the storm then runs on until its end; no end under Miri).
const STORM_ROUNDS: usize = if cfg!(miri) { 4 } else { 50 };

/// How long the storm runs (at least `STORM_ROUNDS` rounds each).
const STORM_TIME: Duration = if cfg!(miri) {
    Duration::ZERO
} else {
    Duration::from_millis(800)
};

struct Storm {
    sem: Semaphore,
    /// Permits held right now by the participants.
    held: AtomicUsize,
    /// Successful acquisitions, to see that the storm did something.
    served: AtomicUsize,
    end: Instant,
}

impl Storm {
    fn hold(&self, n: usize) {
        let now = self.held.fetch_add(n, Ordering::SeqCst) + n;
        assert!(
            now <= STORM_PERMITS,
            "{now} permits held of {STORM_PERMITS}"
        );
        self.served.fetch_add(1, Ordering::Relaxed);
    }
    fn unhold(&self, n: usize) {
        self.held.fetch_sub(n, Ordering::SeqCst);
    }
}

async fn async_storm(st: Arc<Storm>, seed: u64) {
    let mut rng = Rng::new(seed);
    for round in 0.. {
        if round >= STORM_ROUNDS && Instant::now() >= st.end {
            break;
        }
        let n = 1 + rng.below(4) as usize;
        let permit = match rng.below(4) {
            0 => st.sem.try_acquire_many(n).ok(),
            // Bounded, so that lost permits fail the conservation check
            // below instead of hanging the storm.
            1 => {
                futures_lite::future::or(async { st.sem.acquire_many(n).await.ok() }, async {
                    async_io::Timer::after(Duration::from_millis(50)).await;
                    None
                })
                .await
            }
            2 => {
                // Polled once, left queued a moment (a hand-off may land),
                // then dropped.
                let mut fut = pin!(st.sem.acquire_many(n));
                if let Some(r) = poll_once(fut.as_mut()).await {
                    r.ok()
                } else {
                    async_io::Timer::after(Duration::from_micros(rng.below(300))).await;
                    None
                }
            }
            _ => {
                let timeout = Duration::from_micros(rng.below(500));
                futures_lite::future::or(async { st.sem.acquire_many(n).await.ok() }, async {
                    async_io::Timer::after(timeout).await;
                    None
                })
                .await
            }
        };
        if let Some(permit) = permit {
            st.hold(permit.num_permits());
            futures_lite::future::yield_now().await;
            st.unhold(permit.num_permits());
            drop(permit);
        }
    }
}

fn blocking_storm(st: Arc<Storm>, seed: u64) {
    let mut rng = Rng::new(seed);
    for round in 0.. {
        if round >= STORM_ROUNDS && Instant::now() >= st.end {
            break;
        }
        let n = 1 + rng.below(4) as usize;
        let permit = match rng.below(3) {
            0 => st.sem.try_acquire_many(n).ok(),
            1 => st
                .sem
                .try_acquire_many_for(n, Duration::from_micros(rng.below(500)))
                .ok(),
            _ => ThreadWaiter::with_current(|w| {
                let deadline = Instant::now() + Duration::from_micros(rng.below(2000));
                st.sem.acquire_many_with(n, w, Some(deadline)).ok()
            }),
        };
        if let Some(mut permit) = permit {
            st.hold(permit.num_permits());
            // Sometimes give part back early (split), the rest on drop.
            if permit.num_permits() > 1 && rng.below(2) == 0 {
                let part = permit.split(1).unwrap();
                st.unhold(1);
                drop(part);
            }
            thread::yield_now();
            st.unhold(permit.num_permits());
            drop(permit);
        }
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "a storm on async-io timers: Miri has no timerfd for async-io's reactor"
)]
fn many_permit_storm_conserves_permits_across_worlds() {
    let _dog = Watchdog::new(
        "many_permit_storm_conserves_permits_across_worlds",
        Duration::from_secs(60),
    );
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    println!("seed {seed}");
    let st = Arc::new(Storm {
        sem: Semaphore::new(STORM_PERMITS),
        held: AtomicUsize::new(0),
        served: AtomicUsize::new(0),
        end: Instant::now() + STORM_TIME,
    });
    let rt = multi_thread_rt();
    let tasks: Vec<_> = (0..4)
        .map(|i| rt.spawn(async_storm(st.clone(), seed + i)))
        .collect();
    let threads: Vec<_> = (0..2)
        .map(|i| {
            let st = st.clone();
            thread::spawn(move || blocking_storm(st, seed + 10 + i))
        })
        .chain((0..1).map(|i| {
            let st = st.clone();
            thread::spawn(move || {
                block_on(futures_lite::future::zip(
                    async_storm(st.clone(), seed + 20 + i),
                    async_storm(st, seed + 30 + i),
                ));
            })
        }))
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    rt.block_on(async {
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert_eq!(st.held.load(Ordering::SeqCst), 0);
    assert_eq!(st.sem.waiting(), 0);
    assert_eq!(
        st.sem.value(),
        STORM_PERMITS,
        "permits lost or created: {:?}",
        st.sem
    );
    // How much it did depends on the machine's speed: a note, not a check.
    let served = st.served.load(Ordering::Relaxed);
    println!("the storm served {served} requests");
    if served == 0 {
        println!("note: the storm served nothing this run");
    }
}

// ---------------------------------------------------------------- close

#[test]
fn close_fails_every_waiter_in_every_world() {
    let _dog = Watchdog::new(
        "close_fails_every_waiter_in_every_world",
        Duration::from_secs(60),
    );
    let sem = Arc::new(Semaphore::new(1));
    let held = sem.try_acquire_owned().unwrap();
    let rt = multi_thread_rt();
    // A many-permit head, then one-permit waiters behind it, in each world.
    let head = thread::spawn({
        let sem = sem.clone();
        move || sem.try_acquire_many_for(2, LONG).map(|p| p.num_permits())
    });
    wait_until("the head queued", || sem.waiting() == 1);
    let task = rt.spawn({
        let sem = sem.clone();
        async move { sem.acquire_many_owned(1).await.map(|p| p.num_permits()) }
    });
    let lite = thread::spawn({
        let sem = sem.clone();
        move || block_on(sem.acquire_many(1)).map(|p| p.num_permits())
    });
    let with = thread::spawn({
        let sem = sem.clone();
        move || ThreadWaiter::with_current(|w| sem.acquire_many_with(1, w, None).map(|_| ()))
    });
    // The one-permit forms: `None` from the timed one, `AcquireError`
    // from the untimed one.
    let timed = thread::spawn({
        let sem = sem.clone();
        move || sem.try_acquire_for(LONG).is_some()
    });
    let plain = thread::spawn({
        let sem = sem.clone();
        move || sem.acquire_blocking().map(drop)
    });
    wait_until("six waiters", || sem.waiting() == 6);
    sem.close();
    assert!(sem.is_closed());
    assert_eq!(head.join().unwrap(), Err(TryAcquireError::Closed));
    let task = rt
        .block_on(async { tokio::time::timeout(LONG, task).await })
        .expect("the task was woken")
        .unwrap();
    assert_eq!(task, Err(AcquireError));
    assert_eq!(lite.join().unwrap(), Err(AcquireError));
    assert_eq!(with.join().unwrap(), Err(TryAcquireError::Closed));
    assert!(!timed.join().unwrap(), "a timed wait on a closed semaphore");
    assert_eq!(plain.join().unwrap(), Err(AcquireError));
    assert_eq!(sem.waiting(), 0);

    // Later acquisitions fail at once, in every form.
    assert_eq!(
        sem.try_acquire_many(1).unwrap_err(),
        TryAcquireError::Closed
    );
    assert_eq!(sem.acquire_many_blocking(1).unwrap_err(), AcquireError);
    assert_eq!(
        sem.try_acquire_many_for(1, LONG).unwrap_err(),
        TryAcquireError::Closed
    );
    assert_eq!(block_on(sem.acquire_many(1)).unwrap_err(), AcquireError);
    assert!(sem.try_acquire().is_none());
    // A held permit still comes back, and counts.
    drop(held);
    assert_eq!(sem.value(), 1);
    assert_eq!(
        sem.try_acquire_many(1).unwrap_err(),
        TryAcquireError::Closed
    );
    sem.close(); // idempotent
    assert!(format!("{sem:?}").contains("closed: true"));
}

#[test]
fn close_fails_waiters_of_bounded_and_binary_semaphores() {
    let _dog = Watchdog::new(
        "close_fails_waiters_of_bounded_and_binary_semaphores",
        Duration::from_secs(60),
    );
    let bounded = BoundedSemaphore::new(0, 2);
    let binary = BinarySemaphore::new(false);
    thread::scope(|s| {
        let a = s.spawn(|| bounded.try_acquire_many_for(2, LONG).map(drop));
        let b = s.spawn(|| binary.try_acquire_many_for(1, LONG).map(drop));
        wait_until("both queued", || {
            bounded.waiting() == 1 && binary.waiting() == 1
        });
        bounded.close();
        binary.close();
        assert_eq!(a.join().unwrap(), Err(TryAcquireError::Closed));
        assert_eq!(b.join().unwrap(), Err(TryAcquireError::Closed));
    });
}

// ---------------------------------------------------------------- bounded

#[test]
fn a_bounded_release_counts_what_many_permit_waiters_take() {
    let _dog = Watchdog::new(
        "a_bounded_release_counts_what_many_permit_waiters_take",
        Duration::from_secs(60),
    );
    let sem = BoundedSemaphore::new(0, 3);
    thread::scope(|s| {
        let a = s.spawn(|| sem.try_acquire_many_for(3, LONG).unwrap().forget());
        wait_until("a queued", || sem.waiting() == 1);
        let b = s.spawn(|| sem.try_acquire_many_for(2, LONG).unwrap().forget());
        wait_until("b queued", || sem.waiting() == 2);
        // 3 + 2 go to the waiters: 8 leaves 3 (fits), 9 would leave 4:
        // refused, and nobody is served.
        assert_eq!(sem.release(9), Err(TooManyReleases { max: 3 }));
        assert_eq!(sem.waiting(), 2, "a refused release served someone");
        assert_eq!(sem.value(), 0);
        assert_eq!(sem.release(8), Ok(()));
        a.join().unwrap();
        b.join().unwrap();
    });
    assert_eq!(sem.value(), 3);
    // A head that does not fit keeps the rest from being counted as taken.
    let sem = BoundedSemaphore::new(0, 3);
    let mut head = Box::pin(sem.acquire_many(3));
    assert!(block_on(poll_once(head.as_mut())).is_none());
    assert_eq!(sem.release(2), Ok(()));
    assert_eq!(sem.release(2), Ok(()), "4: 3 to the head, 1 left");
    let permit = block_on(head).unwrap();
    assert_eq!(permit.num_permits(), 3);
    assert_eq!(sem.value(), 1);
    drop(permit);
    assert_eq!(sem.value(), 3, "given back, capped at the maximum");
}

// ---------------------------------------------------------------- permits

#[test]
fn permits_split_merge_and_forget() {
    let sem = Semaphore::new(4);
    let mut a = sem.acquire_many_blocking(4).unwrap();
    let b = a.split(3).unwrap();
    assert!(a.split(2).is_none());
    assert_eq!((a.num_permits(), b.num_permits()), (1, 3));
    a.merge(b);
    assert_eq!(a.num_permits(), 4);
    let c = a.split(1).unwrap();
    c.forget();
    drop(a);
    assert_eq!(sem.value(), 3, "a forgotten split part stays taken");

    let sem = Arc::new(Semaphore::new(3));
    let mut a = sem.acquire_many_owned_blocking(2).unwrap();
    a.merge(sem.try_acquire_owned().unwrap());
    let b = a.split(1).unwrap();
    thread::spawn(move || drop(b)).join().unwrap();
    assert_eq!(sem.value(), 1);
    a.forget();
    assert_eq!(sem.value(), 1);
    assert_eq!(Arc::strong_count(&sem), 1, "forget dropped the Arc");
}

#[test]
#[should_panic(expected = "different semaphores")]
fn merging_permits_of_two_semaphores_panics() {
    let (s1, s2) = (Semaphore::new(1), Semaphore::new(1));
    let mut a = s1.acquire_blocking().unwrap();
    a.merge(s2.acquire_blocking().unwrap());
}

#[test]
#[should_panic(expected = "never holds more than 1")]
fn a_request_above_the_maximum_panics() {
    let _ = BinarySemaphore::new(true).try_acquire_many(2);
}

#[test]
fn max_permits_keeps_a_bit_for_close() {
    assert_eq!(Semaphore::MAX_PERMITS, (1 << 31) - 1);
    let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    let all = sem.try_acquire_many(Semaphore::MAX_PERMITS).unwrap();
    assert_eq!(sem.value(), 0);
    drop(all);
    assert_eq!(sem.value(), Semaphore::MAX_PERMITS);
    assert!(!sem.is_closed());
    sem.close();
    assert_eq!(sem.value(), Semaphore::MAX_PERMITS);
}
