//! Proves that contended waits allocate nothing: the wait-queue node lives in
//! the waiting stack frame or in the (inline, unboxed) future, and a thread's
//! waiter and an executor's waker are created once and then reused.
//!
//! A counting `#[global_allocator]` wraps `std::alloc::System`. Counting is
//! per thread and opt-in (a `const` thread-local flag), so the test harness,
//! other tests running in parallel and runtime helper threads add no noise:
//! each measured thread counts exactly the allocations it makes itself. After
//! a warm-up round (which creates the thread-locals: the thread's id and
//! parker, futures-lite's cached waker), every measured phase must report
//! **zero** allocations.
//!
//! Each test also checks that its waits were really contended (the slow path
//! ran: a `try_*` failed before the wait, or a holder/notifier saw a queued
//! waiter), so a zero is not the zero of an uncontended fast path.
//!
//! This binary holds only allocation tests: the global allocator applies to
//! the whole binary.

use futures_lite::future::block_on;
use polysync::{Event, Lock, Mutex, Semaphore};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::*;

#[test]
fn counter_sees_allocations_on_opted_in_threads_only() {
    let (b, allocs) = measured(|| black_box(Box::new(black_box(7u64))));
    assert_eq!(*b, 7);
    assert_eq!(allocs.count, 1, "the counting allocator must see a Box");
    assert_eq!(allocs.first_size, 8);
    let (v, allocs) = measured(|| {
        let mut v: Vec<u8> = black_box(Vec::with_capacity(1));
        v.extend_from_slice(black_box(&[1, 2, 3, 4, 5]));
        v
    });
    assert_eq!(v.len(), 5);
    assert_eq!(allocs.count, 2, "alloc + realloc");
    // Another thread's allocations are not counted here: while this thread
    // measures (spinning on an atomic), a helper thread allocates 1000 times.
    let go = Arc::new(AtomicUsize::new(0));
    let helper = {
        let go = go.clone();
        std::thread::spawn(move || {
            while go.load(Ordering::Acquire) == 0 {
                std::hint::spin_loop();
            }
            let (_, allocs) = measured(|| {
                for i in 0..1000u64 {
                    black_box(Box::new(i));
                }
            });
            go.store(2, Ordering::Release);
            allocs.count
        })
    };
    let ((), here) = measured(|| {
        go.store(1, Ordering::Release);
        while go.load(Ordering::Acquire) != 2 {
            std::hint::spin_loop();
        }
    });
    assert_eq!(helper.join().unwrap(), 1000);
    assert_eq!(here.count, 0);
}

#[test]
fn lock_blocking_contended_allocates_nothing() {
    let lock = Arc::new(Lock::new());
    let shared = Arc::new(AtomicUsize::new(0));
    let (l, c) = (lock.clone(), shared.clone());
    two_threads("lock blocking", move |_, n| {
        let mut seen = Seen::default();
        for i in 0..n {
            let guard = match l.try_acquire() {
                Some(g) => g,
                None => {
                    seen.try_failed += 1;
                    l.acquire_blocking()
                }
            };
            // A non-atomic read-modify-write: lost updates would show a race.
            let v = c.load(Ordering::Relaxed);
            hold(i);
            c.store(v + 1, Ordering::Relaxed);
            // After the hold: a contender spins a few rounds before it
            // queues, so it shows only while the holder sleeps.
            if l.waiting() > 0 {
                seen.saw_waiter += 1;
            }
            drop(guard);
        }
        seen
    });
    assert_eq!(shared.load(Ordering::Relaxed), 2 * (WARMUP + N));
    assert!(!lock.is_locked());
    assert_eq!(lock.waiting(), 0);
}

#[test]
fn lock_timed_blocking_contended_allocates_nothing() {
    // `try_acquire_for` with a deadline that is long enough to always succeed:
    // the same node, driven with a deadline (park_timeout).
    let lock = Arc::new(Lock::new());
    let l = lock.clone();
    two_threads("lock try_acquire_for", move |_, n| {
        let mut seen = Seen::default();
        for i in 0..n {
            let guard = match l.try_acquire() {
                Some(g) => g,
                None => {
                    seen.try_failed += 1;
                    l.try_acquire_for(Duration::from_secs(30))
                        .expect("30 s is plenty")
                }
            };
            hold(i);
            // After the hold (see above).
            if l.waiting() > 0 {
                seen.saw_waiter += 1;
            }
            drop(guard);
        }
        seen
    });
    assert!(!lock.is_locked());
    assert_eq!(lock.waiting(), 0);
}

#[test]
fn semaphore_blocking_contended_allocates_nothing() {
    semaphore_blocking_contended(Semaphore::new(1), "semaphore blocking");
}

/// With bounded fairness (issue 18 item 1): the woken front's retry, the
/// barges and the lock-free release use the same inline node as the strict
/// mode.
#[test]
fn bounded_semaphore_blocking_contended_allocates_nothing() {
    semaphore_blocking_contended(Semaphore::new_bounded(1), "bounded semaphore blocking");
}

fn semaphore_blocking_contended(sem: Semaphore, label: &'static str) {
    let sem = Arc::new(sem);
    let inside = Arc::new(AtomicUsize::new(0));
    let (s, inn) = (sem.clone(), inside.clone());
    two_threads(label, move |_, n| {
        let mut seen = Seen::default();
        for i in 0..n {
            let permit = match s.try_acquire() {
                Some(p) => p,
                None => {
                    seen.try_failed += 1;
                    s.acquire_blocking().unwrap()
                }
            };
            assert_eq!(inn.fetch_add(1, Ordering::AcqRel), 0);
            if s.waiting() > 0 {
                seen.saw_waiter += 1;
            }
            hold(i);
            inn.fetch_sub(1, Ordering::AcqRel);
            drop(permit);
        }
        seen
    });
    assert_eq!(sem.value(), 1);
    assert_eq!(sem.waiting(), 0);
}

#[test]
fn lock_async_contended_allocates_nothing() {
    // Two threads, each running futures-lite's `block_on` over a loop of
    // `acquire().await`: the `Acquire` future is a field of the loop's
    // state machine, pinned on the block_on stack, never boxed.
    let lock = Arc::new(Lock::new());
    let shared = Arc::new(AtomicUsize::new(0));
    let (l, c) = (lock.clone(), shared.clone());
    two_threads("lock async", move |_, n| {
        block_on(async {
            let mut seen = Seen::default();
            for i in 0..n {
                let guard = match l.try_acquire() {
                    Some(g) => g,
                    None => {
                        seen.try_failed += 1;
                        l.acquire().await
                    }
                };
                if l.waiting() > 0 {
                    seen.saw_waiter += 1;
                }
                let v = c.load(Ordering::Relaxed);
                hold(i);
                c.store(v + 1, Ordering::Relaxed);
                drop(guard);
            }
            seen
        })
    });
    assert_eq!(shared.load(Ordering::Relaxed), 2 * (WARMUP + N));
    assert!(!lock.is_locked());
    assert_eq!(lock.waiting(), 0);
}

#[test]
fn mutex_async_and_blocking_mixed_allocates_nothing() {
    // One thread locks with `lock().await` under futures-lite, the other with
    // `lock_blocking()`: one queue, two worlds, no allocation on either side.
    let mutex = Arc::new(Mutex::new(0usize));
    let m = mutex.clone();
    two_threads("mutex async+blocking", move |me, n| {
        let mut seen = Seen::default();
        if me == 0 {
            block_on(async {
                for i in 0..n {
                    let mut guard = match m.try_lock() {
                        Some(g) => g,
                        None => {
                            seen.try_failed += 1;
                            m.lock().await
                        }
                    };
                    if m.waiting() > 0 {
                        seen.saw_waiter += 1;
                    }
                    let v = *guard;
                    hold(i);
                    *guard = v + 1;
                }
            });
        } else {
            for i in 0..n {
                let mut guard = match m.try_lock() {
                    Some(g) => g,
                    None => {
                        seen.try_failed += 1;
                        m.lock_blocking()
                    }
                };
                if m.waiting() > 0 {
                    seen.saw_waiter += 1;
                }
                let v = *guard;
                hold(i);
                *guard = v + 1;
            }
        }
        seen
    });
    assert_eq!(*mutex.try_lock().unwrap(), 2 * (WARMUP + N));
    assert_eq!(mutex.waiting(), 0);
}

#[test]
fn event_wait_set_cross_thread_allocates_nothing() {
    // Ping-pong over one-shot events, preallocated before measuring: thread 0
    // sets `ping[i]` and waits for `pong[i]` asynchronously (futures-lite);
    // thread 1 waits for `ping[i]` blocking and sets `pong[i]`.
    let rounds = WARMUP + N;
    let ping: Arc<Vec<Event>> = Arc::new((0..rounds).map(|_| Event::new()).collect());
    let pong: Arc<Vec<Event>> = Arc::new((0..rounds).map(|_| Event::new()).collect());
    let next = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let (pi, po) = (ping.clone(), pong.clone());
    two_threads("event ping-pong", move |me, n| {
        let mut seen = Seen::default();
        let first = next[me].fetch_add(n, Ordering::Relaxed);
        if me == 0 {
            block_on(async {
                for i in first..first + n {
                    if pi[i].waiting() > 0 {
                        seen.saw_waiter += 1;
                    }
                    assert!(pi[i].set());
                    if !po[i].try_wait() {
                        seen.try_failed += 1;
                    }
                    po[i].wait().await;
                    hold(i);
                }
            });
        } else {
            for i in first..first + n {
                if !pi[i].try_wait() {
                    seen.try_failed += 1;
                }
                pi[i].wait_blocking();
                hold(i);
                if po[i].waiting() > 0 {
                    seen.saw_waiter += 1;
                }
                assert!(po[i].set());
            }
        }
        seen
    });
    assert!(
        ping.iter()
            .chain(pong.iter())
            .all(|e| e.is_set() && e.waiting() == 0)
    );
}

#[test]
fn semaphore_ping_pong_cross_thread_allocates_nothing() {
    // Two empty semaphores hand a permit back and forth: thread 0 releases
    // `a` and takes `b` with `acquire_blocking`; thread 1 takes `a` with
    // `acquire().await` (futures-lite) and releases `b`. Every permit is
    // forgotten by its taker, so the counts stay balanced.
    let a = Arc::new(Semaphore::new(0));
    let b = Arc::new(Semaphore::new(0));
    let (sa, sb) = (a.clone(), b.clone());
    two_threads("semaphore ping-pong", move |me, n| {
        let mut seen = Seen::default();
        if me == 0 {
            for i in 0..n {
                if sa.waiting() > 0 {
                    seen.saw_waiter += 1;
                }
                sa.release(1);
                let permit = match sb.try_acquire() {
                    Some(p) => p,
                    None => {
                        seen.try_failed += 1;
                        sb.acquire_blocking().unwrap()
                    }
                };
                permit.forget();
                hold(i);
            }
        } else {
            block_on(async {
                for i in 0..n {
                    let permit = match sa.try_acquire() {
                        Some(p) => p,
                        None => {
                            seen.try_failed += 1;
                            sa.acquire().await.unwrap()
                        }
                    };
                    permit.forget();
                    hold(i);
                    if sb.waiting() > 0 {
                        seen.saw_waiter += 1;
                    }
                    sb.release(1);
                }
            });
        }
        seen
    });
    assert_eq!((a.value(), a.waiting()), (0, 0));
    assert_eq!((b.value(), b.waiting()), (0, 0));
}

#[test]
fn semaphore_async_contended_k2_allocates_nothing() {
    // Four futures (two per thread, joined with `zip`) share two permits:
    // waiters of the same thread share one waker, and releases hand permits
    // across threads.
    let sem = Arc::new(Semaphore::new(2));
    let inside = Arc::new(AtomicUsize::new(0));
    let (s, inn) = (sem.clone(), inside.clone());
    two_threads("semaphore async k=2", move |_, n| {
        let one = |salt: usize| {
            let (s, inn) = (&*s, &*inn);
            async move {
                let mut seen = Seen::default();
                for i in 0..n / 2 {
                    let permit = match s.try_acquire() {
                        Some(p) => p,
                        None => {
                            seen.try_failed += 1;
                            s.acquire().await.unwrap()
                        }
                    };
                    assert!(inn.fetch_add(1, Ordering::AcqRel) < 2);
                    if s.waiting() > 0 {
                        seen.saw_waiter += 1;
                    }
                    hold(i + salt);
                    if i % 4 == 0 {
                        // Hold across a suspension point.
                        futures_lite::future::yield_now().await;
                    }
                    inn.fetch_sub(1, Ordering::AcqRel);
                    drop(permit);
                }
                seen
            }
        };
        let (x, y) = block_on(futures_lite::future::zip(one(0), one(3)));
        x + y
    });
    assert_eq!(sem.value(), 2);
    assert_eq!(sem.waiting(), 0);
}

/// With bounded fairness, a many-permit front that the others may overtake.
#[test]
fn bounded_semaphore_async_contended_k2_allocates_nothing() {
    // Four futures (two per thread, joined with `zip`) share two permits,
    // one of them asking for both at times (a many-permit front that the
    // others may overtake).
    let sem = Arc::new(Semaphore::new_bounded(2));
    let inside = Arc::new(AtomicUsize::new(0));
    let (s, inn) = (sem.clone(), inside.clone());
    two_threads("bounded semaphore async k=2", move |_, n| {
        let one = |salt: usize| {
            let (s, inn) = (&*s, &*inn);
            async move {
                let mut seen = Seen::default();
                for i in 0..n / 2 {
                    let k = if (i + salt) % 5 == 0 { 2 } else { 1 };
                    let permit = match s.try_acquire_many(k) {
                        Ok(p) => p,
                        Err(_) => {
                            seen.try_failed += 1;
                            s.acquire_many(k).await.unwrap()
                        }
                    };
                    assert!(inn.fetch_add(k, Ordering::AcqRel) + k <= 2);
                    if s.waiting() > 0 {
                        seen.saw_waiter += 1;
                    }
                    hold(i + salt);
                    if i % 4 == 0 {
                        // Hold across a suspension point.
                        futures_lite::future::yield_now().await;
                    }
                    inn.fetch_sub(k, Ordering::AcqRel);
                    drop(permit);
                }
                seen
            }
        };
        let (x, y) = block_on(futures_lite::future::zip(one(0), one(3)));
        x + y
    });
    assert_eq!(sem.value(), 2);
    assert_eq!(sem.waiting(), 0);
}
