//! `Flag` (set-once cell) and `ResourceGuard` (concurrent-use detector),
//! plus compile-time checks of the traits of every type added with them
//! (`REvent`, `CountdownEvent` and their futures and errors).
//!
//! What is proven:
//! - `Flag::set` succeeds for exactly one of many racing setters of mixed
//!   worlds (OS threads, tokio tasks, futures-lite tasks); every loser gets
//!   its own value back; everyone reads the winner's value; `take`,
//!   `into_inner`, `From`, `Clone`, `Eq`, `Debug`, `Default`.
//! - `ResourceGuard`: under threads and tasks hammering `enter()`, at most
//!   one is ever inside; every refusal is a `BusyResourceError` naming the
//!   guard's action; the token leaves on drop (also on unwind); a reentrant
//!   `enter` is refused, never a hang.
//! - Statically: every type is `Send + Sync + Debug` (+ `Default`); wait
//!   futures are `Send` and `!Unpin` and at most 64 bytes; errors are
//!   `Error + Send + Sync + Copy`.

use polysync::countdown::{self, CountdownEvent, TooManyDowns};
use polysync::flag::Flag;
use polysync::guard::{BusyResourceError, ResourceGuard, ResourceGuardToken};
use polysync::revent::{self, REvent};
use static_assertions::{assert_impl_all, assert_not_impl_any, const_assert};
use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

assert_impl_all!(REvent: Send, Sync, Debug, Default, Unpin);
assert_impl_all!(CountdownEvent: Send, Sync, Debug, Default, Unpin);
assert_impl_all!(Flag<String>: Send, Sync, Debug, Default, Clone, Eq, From<String>);
assert_impl_all!(ResourceGuard: Send, Sync, Debug, Default);
assert_impl_all!(ResourceGuardToken<'static>: Send, Sync, Debug);
assert_impl_all!(revent::Wait<'static>: Send, Sync, Debug);
assert_impl_all!(countdown::Wait<'static>: Send, Sync, Debug);
assert_not_impl_any!(revent::Wait<'static>: Unpin);
assert_not_impl_any!(countdown::Wait<'static>: Unpin);
assert_not_impl_any!(Flag<std::rc::Rc<u8>>: Send, Sync);
assert_not_impl_any!(Flag<std::cell::Cell<u8>>: Sync);
assert_impl_all!(TooManyDowns: std::error::Error, Send, Sync, Copy, Eq);
assert_impl_all!(BusyResourceError: std::error::Error, Send, Sync, Copy, Eq);
const_assert!(std::mem::size_of::<REvent>() <= 24);
const_assert!(std::mem::size_of::<CountdownEvent>() <= 24);
const_assert!(std::mem::size_of::<revent::Wait<'static>>() <= 64);
const_assert!(std::mem::size_of::<countdown::Wait<'static>>() <= 64);

#[test]
fn sizes() {
    eprintln!(
        "REvent {} B, CountdownEvent {} B, revent::Wait {} B, countdown::Wait {} B, \
         ResourceGuard {} B, Flag<u64> {} B",
        size_of::<REvent>(),
        size_of::<CountdownEvent>(),
        size_of::<revent::Wait<'static>>(),
        size_of::<countdown::Wait<'static>>(),
        size_of::<ResourceGuard>(),
        size_of::<Flag<u64>>(),
    );
}

#[test]
fn flag_has_exactly_one_winner_across_worlds() {
    for round in 0..30 {
        let flag = Arc::new(Flag::new());
        // The four threads, the tokio side, the futures-lite side and main.
        let start = Arc::new(Barrier::new(4 + 3));
        // Values are unique: 0..4 threads, 100..104 tokio, 200..204 futures-lite.
        let threads: Vec<_> = (0..4u32)
            .map(|i| {
                let (flag, start) = (flag.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    vec![(i, flag.set(i))]
                })
            })
            .collect();
        let tokio_side = {
            let (flag, start) = (flag.clone(), start.clone());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    start.wait();
                    let tasks: Vec<_> = (100..104u32)
                        .map(|v| {
                            let flag = flag.clone();
                            tokio::spawn(async move { (v, flag.set(v)) })
                        })
                        .collect();
                    let mut out = Vec::new();
                    for t in tasks {
                        out.push(t.await.unwrap());
                    }
                    out
                })
            })
        };
        let lite_side = {
            let (flag, start) = (flag.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                futures_lite::future::block_on(async move {
                    let mut out = Vec::new();
                    for v in 200..204u32 {
                        out.push((v, flag.set(v)));
                        futures_lite::future::yield_now().await;
                    }
                    out
                })
            })
        };
        start.wait();
        let mut results: Vec<(u32, Result<(), u32>)> = Vec::new();
        for h in threads.into_iter().chain([tokio_side, lite_side]) {
            results.extend(h.join().unwrap());
        }
        assert_eq!(results.len(), 12);
        let winners: Vec<u32> = results
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(v, _)| *v)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        for (v, r) in &results {
            if let Err(back) = r {
                assert_eq!(back, v, "a loser got someone else's value back");
            }
        }
        assert_eq!(flag.get(), Some(&winners[0]));
        assert!(flag.is_set());
    }
}

#[test]
fn flag_take_into_inner_and_traits() {
    let mut flag: Flag<String> = Flag::default();
    assert_eq!(flag.get(), None);
    assert!(!flag.is_set());
    assert_eq!(format!("{flag:?}"), "Flag { value: None }");
    flag.set("a".into()).unwrap();
    assert_eq!(flag.set("b".into()), Err("b".to_string()));
    assert_eq!(format!("{flag:?}"), "Flag { value: Some(\"a\") }");
    let copy = flag.clone();
    assert_eq!(copy, flag);
    assert_eq!(flag.take().as_deref(), Some("a"));
    assert_ne!(copy, flag);
    assert_eq!(flag.take(), None);
    assert!(
        flag.set("c".into()).is_ok(),
        "a taken flag can be set again"
    );
    assert_eq!(flag.into_inner().as_deref(), Some("c"));
    assert_eq!(Flag::from(5).into_inner(), Some(5));
    assert_eq!(Flag::<u8>::new().into_inner(), None);
    static STATIC: Flag<&str> = Flag::new();
    assert!(STATIC.set("x").is_ok());
    assert_eq!(STATIC.set("y"), Err("y"));
}

#[test]
fn resource_guard_admits_one_at_a_time_across_worlds() {
    let guard = Arc::new(ResourceGuard::with_action("reading"));
    let inside = Arc::new(AtomicUsize::new(0));
    let entered = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_millis(300);
    let attempt = {
        let (guard, inside, entered, refused) = (
            guard.clone(),
            inside.clone(),
            entered.clone(),
            refused.clone(),
        );
        move || match guard.enter() {
            Ok(token) => {
                assert_eq!(inside.fetch_add(1, SeqCst), 0, "two units inside at once");
                assert!(guard.is_in_use());
                for _ in 0..200 {
                    std::hint::spin_loop();
                }
                inside.fetch_sub(1, SeqCst);
                entered.fetch_add(1, SeqCst);
                drop(token);
            }
            Err(err) => {
                assert_eq!(err.action(), "reading");
                assert_eq!(
                    err.to_string(),
                    "polysync: another execution unit is already reading this resource"
                );
                refused.fetch_add(1, SeqCst);
            }
        }
    };
    let mut handles = Vec::new();
    for _ in 0..3 {
        let attempt = attempt.clone();
        handles.push(std::thread::spawn(move || {
            while Instant::now() < deadline {
                attempt();
            }
        }));
    }
    {
        let attempt = attempt.clone();
        handles.push(std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .build()
                .unwrap();
            rt.block_on(async move {
                let tasks: Vec<_> = (0..4)
                    .map(|_| {
                        let attempt = attempt.clone();
                        tokio::spawn(async move {
                            while Instant::now() < deadline {
                                attempt();
                                tokio::task::yield_now().await;
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            });
        }));
    }
    {
        let attempt = attempt.clone();
        handles.push(std::thread::spawn(move || {
            futures_lite::future::block_on(async move {
                while Instant::now() < deadline {
                    attempt();
                    futures_lite::future::yield_now().await;
                }
            })
        }));
    }
    for h in handles {
        h.join().expect("two units were inside at once");
    }
    assert!(!guard.is_in_use());
    assert!(entered.load(SeqCst) > 0);
    eprintln!(
        "resource guard: {} entries, {} refusals",
        entered.load(SeqCst),
        refused.load(SeqCst)
    );
}

#[test]
fn resource_guard_reentry_is_refused_and_unwind_leaves() {
    let guard = ResourceGuard::default();
    assert_eq!(guard.action(), "using");
    let token = guard.enter().unwrap();
    let err = guard.enter().unwrap_err();
    assert_eq!(err, BusyResourceError::clone(&err));
    assert_eq!(
        err.to_string(),
        "polysync: another execution unit is already using this resource"
    );
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(err);
    assert!(boxed.to_string().contains("using"));
    assert!(format!("{guard:?}").contains("in_use: true"));
    assert!(format!("{token:?}").contains("using"));
    drop(token);
    assert!(format!("{guard:?}").contains("in_use: false"));
    // A panic inside the section leaves it.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _token = guard.enter().unwrap();
        panic!("inside the guarded section");
    }));
    assert!(result.is_err());
    assert!(!guard.is_in_use());
    assert!(guard.enter().is_ok());
    static STATIC: ResourceGuard = ResourceGuard::with_action("writing to");
    let _t = STATIC.enter().unwrap();
    assert!(
        STATIC
            .enter()
            .unwrap_err()
            .to_string()
            .contains("writing to")
    );
}
