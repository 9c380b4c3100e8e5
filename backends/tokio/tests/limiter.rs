//! The borrower of a `CapacityLimiter` is the tokio task.

mod support;

use polysync::lowlevel::current_task;
use polysync::{BorrowError, CapacityLimiter};
use std::sync::Arc;
use support::{bounded, current_thread, multi_thread, watchdog};
use tokio::sync::oneshot;

#[test]
fn same_task_twice_is_an_error_another_task_borrows() {
    polysync_tokio::install().unwrap();
    watchdog("limiter_two_tokens", || {
        let rt = multi_thread(2);
        let limiter = Arc::new(CapacityLimiter::new(2));
        rt.block_on(async {
            let (held_tx, held_rx) = oneshot::channel();
            let (done_tx, done_rx) = oneshot::channel::<()>();
            let a = {
                let limiter = limiter.clone();
                tokio::spawn(async move {
                    let me = current_task().unwrap();
                    let token = limiter.acquire().await.unwrap();
                    assert_eq!(token.borrower(), me);
                    tokio::task::yield_now().await;
                    // A second borrow by the same task: the typed error, in
                    // the async and in the blocking forms.
                    assert_eq!(
                        limiter.acquire().await.unwrap_err(),
                        BorrowError::AlreadyBorrowing
                    );
                    assert_eq!(
                        limiter.try_acquire().unwrap_err(),
                        BorrowError::AlreadyBorrowing
                    );
                    assert!(limiter.is_borrowing());
                    assert_eq!(limiter.borrowed_tokens(), 1);
                    held_tx.send(me).unwrap();
                    bounded("done", done_rx).await.unwrap();
                    drop(token);
                })
            };
            let a_unit = bounded("a holds", held_rx).await.unwrap();
            assert_eq!(polysync_tokio::unit_of(a.id()), Some(a_unit));

            let b = {
                let limiter = limiter.clone();
                tokio::spawn(async move {
                    assert!(!limiter.is_borrowing());
                    let token = bounded("b acquire", limiter.acquire()).await.unwrap();
                    assert_eq!(token.borrower(), current_task().unwrap());
                    let mut borrowers = limiter.borrowers();
                    borrowers.sort();
                    let mut expected = vec![a_unit, token.borrower()];
                    expected.sort();
                    assert_eq!(borrowers, expected);
                    token.borrower()
                })
            };
            let b_unit = bounded("b", b).await.unwrap();
            assert_ne!(a_unit, b_unit);
            done_tx.send(()).unwrap();
            bounded("a", a).await.unwrap();
        });
        assert_eq!(limiter.available_tokens(), 2);
    });
}

#[test]
fn another_task_on_the_same_thread_waits_for_the_token() {
    polysync_tokio::install().unwrap();
    watchdog("limiter_one_token", || {
        let rt = current_thread();
        let limiter = Arc::new(CapacityLimiter::new(1));
        rt.block_on(async {
            let (held_tx, held_rx) = oneshot::channel();
            let (go_tx, go_rx) = oneshot::channel::<()>();
            let a = {
                let limiter = limiter.clone();
                tokio::spawn(async move {
                    let token = limiter.acquire().await.unwrap();
                    held_tx.send(()).unwrap();
                    bounded("go", go_rx).await.unwrap();
                    drop(token);
                })
            };
            bounded("a holds", held_rx).await.unwrap();
            let b = {
                let limiter = limiter.clone();
                tokio::spawn(async move {
                    // Not the borrower, though it runs on the same thread.
                    assert_eq!(limiter.try_acquire().unwrap_err(), BorrowError::Unavailable);
                    let token = bounded("b acquire", limiter.acquire()).await.unwrap();
                    token.borrower()
                })
            };
            while limiter.waiting() == 0 {
                tokio::task::yield_now().await;
            }
            assert_eq!(limiter.available_tokens(), 0);
            go_tx.send(()).unwrap();
            let b_id = b.id();
            assert_eq!(
                bounded("b", b).await.unwrap(),
                polysync_tokio::unit_of(b_id).unwrap()
            );
            bounded("a", a).await.unwrap();
        });
        assert_eq!(limiter.available_tokens(), 1);
    });
}
