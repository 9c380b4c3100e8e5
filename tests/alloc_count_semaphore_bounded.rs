//! Contended waits on a semaphore with bounded fairness allocate nothing
//! (issue 18 item 1): the woken front's retry, the barges and the
//! lock-free release use the same inline node as the strict mode. The
//! counting allocator and the two-thread harness of tests/alloc_count.rs
//! (tests/support/counting_alloc.rs); each test checks that its waits were
//! really contended, so a zero is not the zero of the fast path.
//!
//! This binary holds only allocation tests: the global allocator applies to
//! the whole binary.

use futures_lite::future::block_on;
use polysync::Semaphore;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::*;

#[test]
fn bounded_semaphore_blocking_contended_allocates_nothing() {
    let sem = Arc::new(Semaphore::new_bounded(1));
    let inside = Arc::new(AtomicUsize::new(0));
    let (s, inn) = (sem.clone(), inside.clone());
    two_threads("bounded semaphore blocking", move |_, n| {
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
