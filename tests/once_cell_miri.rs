//! Miri-sized scenarios over the unsafe code of `OnceCell` (the value slot:
//! its write by the one initializer, its reads after the `ready` flag, its
//! drop, `take` and `into_inner`) and of the `Notify`/`OnceCell` futures'
//! pin projections. No runtime and no clock: OS threads, hand-polled
//! futures and `futures_lite::future::block_on`, so the file runs under
//! Miri (Stacked and Tree Borrows):
//!
//! MIRIFLAGS="-Zmiri-many-seeds=0..8" cargo +nightly miri test -p polysync --test once_cell_miri
//! MIRIFLAGS="-Zmiri-tree-borrows" cargo +nightly miri test -p polysync --test once_cell_miri

use futures_lite::future::block_on;
use polysync::{Notify, OnceCell};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::task::{Context, Poll, Waker};
use std::thread;

#[test]
fn value_lifecycle_drops_exactly_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    struct D(Arc<AtomicUsize>, String);
    impl Drop for D {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    {
        let cell = OnceCell::new();
        assert!(cell.set(D(drops.clone(), "a".into())).is_ok());
        let back = cell
            .set(D(drops.clone(), "b".into()))
            .unwrap_err()
            .into_inner();
        assert_eq!(back.1, "b");
        drop(back);
        assert_eq!(cell.get().unwrap().1, "a");
    }
    assert_eq!(drops.load(SeqCst), 2);
    let mut cell = OnceCell::from(D(drops.clone(), "c".into()));
    cell.get_mut().unwrap().1.push('!');
    let taken = cell.take().unwrap();
    assert_eq!(taken.1, "c!");
    assert!(cell.get().is_none());
    drop(taken);
    cell.get_or_init_blocking(|| D(drops.clone(), "d".into()));
    let inner = cell.into_inner().unwrap();
    assert_eq!(inner.1, "d");
    drop(inner);
    assert_eq!(drops.load(SeqCst), 4);
}

#[test]
fn racing_initializers_and_waiters_across_threads() {
    let cell = Arc::new(OnceCell::<String>::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..3)
        .map(|i| {
            let (cell, runs) = (cell.clone(), runs.clone());
            thread::spawn(move || match i {
                0 => cell.wait_blocking().clone(),
                1 => block_on(cell.wait()).clone(),
                _ => cell
                    .get_or_init_blocking(|| {
                        runs.fetch_add(1, SeqCst);
                        format!("init{i}")
                    })
                    .clone(),
            })
        })
        .collect();
    let mine = block_on(cell.get_or_init(|| async {
        runs.fetch_add(1, SeqCst);
        String::from("main")
    }))
    .clone();
    for t in threads {
        assert_eq!(t.join().unwrap(), mine);
    }
    assert_eq!(runs.load(SeqCst), 1);
}

#[test]
fn hand_polled_futures() {
    let cell = OnceCell::new();
    let mut cx = Context::from_waker(Waker::noop());
    let mut wait = pin!(cell.wait());
    assert!(wait.as_mut().poll(&mut cx).is_pending());
    let mut init = pin!(cell.get_or_init(|| async { vec![1, 2, 3] }));
    assert_eq!(init.as_mut().poll(&mut cx), Poll::Ready(&vec![1, 2, 3]));
    assert_eq!(wait.as_mut().poll(&mut cx), Poll::Ready(&vec![1, 2, 3]));

    let notify = Notify::new();
    let mut first = Box::pin(notify.notified());
    assert!(first.as_mut().poll(&mut cx).is_pending());
    let mut second = pin!(notify.notified());
    assert!(!second.as_mut().enable());
    notify.notify_one();
    drop(first); // passes its notification on
    assert!(second.as_mut().poll(&mut cx).is_ready());
    assert!(second.as_mut().poll(&mut cx).is_ready()); // again: still ready
}

#[test]
fn notify_ping_pong_between_threads() {
    let pair = Arc::new((Notify::new(), Notify::new()));
    let peer = {
        let pair = pair.clone();
        thread::spawn(move || {
            for _ in 0..20 {
                pair.0.notified_blocking();
                pair.1.notify_one();
            }
        })
    };
    for i in 0..20 {
        pair.0.notify_one();
        if i % 2 == 0 {
            block_on(pair.1.notified());
        } else {
            pair.1.notified_blocking();
        }
    }
    peer.join().unwrap();
}
