#![cfg(polysync_loom)]
//! loom models of `OnceCell`: the value's publication (a `set` racing
//! waiters of each form and a lock-free `get`), exactly one initializer
//! between a blocking and an async one, and a cancelled initializer whose
//! turn passes to the next.
//!
//! Run with:
//!
//! RUSTFLAGS="--cfg polysync_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true cargo test -p polysync --release --test loom_once_cell --target-dir target/loom
//!
//! The value lives in the crate's loom-aware `UnsafeCell`, so loom flags a
//! read of the value that is not ordered after its write (a `get` or a
//! woken waiter that saw "ready" without the Release/Acquire pair). The
//! main thread never parks (tokio-rs/loom#249): it sets, polls with flag
//! wakers, and joins. loom has no clock: a timed wait gives up at once
//! unless a wake is pending (`support::timing_out`).

#[path = "support/loom.rs"]
mod support;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;
use polysync::OnceCell;
use std::pin::pin;
use std::task::Poll;
use support::{SOON, flag_waker, model, poll_once, timing_out};

/// `set` vs a blocking waiter, an async waiter and a lock-free `get`: every
/// waiter returns the value, and whatever `get` sees is the value.
#[test]
fn set_vs_waiters_and_get() {
    model(|| {
        let cell = Arc::new(OnceCell::<usize>::new());
        let blocking = {
            let cell = cell.clone();
            thread::spawn(move || *cell.wait_blocking())
        };
        let task = {
            let cell = cell.clone();
            thread::spawn(move || {
                let early = cell.get().copied();
                let v = *loom::future::block_on(cell.wait());
                assert!(early.is_none() || early == Some(v));
                v
            })
        };
        assert!(cell.set(5).is_ok());
        assert_eq!(blocking.join().unwrap(), 5);
        assert_eq!(task.join().unwrap(), 5);
        assert_eq!(cell.waiting(), 0);
    });
}

/// `set` vs a timed wait that gives up: it returns the value or nothing,
/// and leaves nothing queued.
#[test]
fn set_vs_timed_out_wait() {
    model(|| {
        let cell = Arc::new(OnceCell::<usize>::new());
        let waiter = {
            let cell = cell.clone();
            thread::spawn(move || timing_out(|| cell.try_wait_for(SOON).copied()))
        };
        assert!(cell.set(3).is_ok());
        let got = waiter.join().unwrap();
        assert!(got.is_none() || got == Some(3));
        assert_eq!(cell.waiting(), 0);
    });
}

/// A blocking and an async initializer race: exactly one runs, both return
/// its value.
#[test]
fn exactly_one_initializer() {
    model(|| {
        let cell = Arc::new(OnceCell::<usize>::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let blocking = {
            let (cell, runs) = (cell.clone(), runs.clone());
            thread::spawn(move || {
                *cell.get_or_init_blocking(|| {
                    runs.fetch_add(1, SeqCst);
                    1
                })
            })
        };
        let task = {
            let (cell, runs) = (cell.clone(), runs.clone());
            thread::spawn(move || {
                *loom::future::block_on(cell.get_or_init(|| async {
                    runs.fetch_add(1, SeqCst);
                    2
                }))
            })
        };
        let a = blocking.join().unwrap();
        let b = task.join().unwrap();
        assert_eq!(a, b);
        assert_eq!(runs.load(SeqCst), 1);
        assert_eq!(cell.get(), Some(&a));
    });
}

/// An async initializer polled once and dropped (its initializer never
/// finishes) vs a blocking one: the blocking one always initializes (the
/// dropped one's turn, if it had it, passes on).
#[test]
fn cancelled_initializer_passes_its_turn() {
    model(|| {
        let cell = Arc::new(OnceCell::<usize>::new());
        let dropped = {
            let cell = cell.clone();
            thread::spawn(move || {
                let (_flag, waker) = flag_waker();
                let fut = pin!(cell.get_or_init(|| std::future::pending::<usize>()));
                match poll_once(fut, &waker) {
                    Poll::Ready(v) => assert_eq!(*v, 2),
                    Poll::Pending => {} // dropped here
                }
            })
        };
        let blocking = {
            let cell = cell.clone();
            thread::spawn(move || *cell.get_or_init_blocking(|| 2))
        };
        dropped.join().unwrap();
        assert_eq!(blocking.join().unwrap(), 2);
    });
}
