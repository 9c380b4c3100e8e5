//! Ported from tokio's `tests/sync_mpsc.rs` (tokio 1.54): the `recv_many`
//! and `send_timeout` tests, each scenario and assertion kept, in our
//! style. Documented differences:
//! - `mpsc::channel(n)` is `channel::bounded(n)`, `unbounded_channel()` is
//!   `channel::unbounded()` (whose sends are `try_send`), and `recv()`
//!   returns `Err(RecvError)` where tokio's returns `None`;
//! - `send_timeout` takes a timer future instead of a `Duration`
//!   (`tokio::time::sleep(d)` here) and says `Full(value)` where tokio says
//!   `Timeout(value)`, `Disconnected(value)` for `Closed(value)`; the
//!   full-channel case uses a 1 ms timer instead of 1 s (the outcome does
//!   not depend on it: nobody receives);
//! - `recv_timeout_panic` (tokio's timer outside a runtime) is tokio's own
//!   business and not ported.

use polysync::channel::{self, TrySendError};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_send_recv_many_with_buffer() {
    let (tx, rx) = channel::bounded(2);
    let mut buffer = Vec::<i32>::with_capacity(3);

    // With `limit = 0` it does not wait: returns at once.
    assert_eq!(0, rx.recv_many(&mut buffer, 0).await);

    let handle = tokio::spawn(async move {
        assert!(tx.send(1).await.is_ok());
        assert!(tx.send(2).await.is_ok());
        assert!(tx.send(7).await.is_ok());
        assert!(tx.send(0).await.is_ok());
    });

    let limit = 3;
    let mut recv_count = 0usize;
    while recv_count < 4 {
        recv_count += rx.recv_many(&mut buffer, limit).await;
        assert_eq!(buffer.len(), recv_count);
    }

    assert_eq!(vec![1, 2, 7, 0], buffer);
    assert_eq!(0, rx.recv_many(&mut buffer, limit).await);
    handle.await.unwrap();
}

#[tokio::test]
async fn send_recv_many_unbounded() {
    let (tx, rx) = channel::unbounded::<i32>();

    let mut buffer: Vec<i32> = Vec::new();

    // With `limit = 0` it does not wait: returns at once.
    rx.recv_many(&mut buffer, 0).await;
    assert_eq!(0, buffer.len());

    assert!(tx.try_send(7).is_ok());
    assert!(tx.try_send(13).is_ok());
    assert!(tx.try_send(100).is_ok());
    assert!(tx.try_send(1002).is_ok());

    rx.recv_many(&mut buffer, 0).await;
    assert_eq!(0, buffer.len());

    let mut count = 0;
    while count < 4 {
        count += rx.recv_many(&mut buffer, 1).await;
    }
    assert_eq!(count, 4);
    assert_eq!(vec![7, 13, 100, 1002], buffer);
    let final_capacity = buffer.capacity();
    assert!(final_capacity > 0);

    buffer.clear();

    assert!(tx.try_send(5).is_ok());
    assert!(tx.try_send(6).is_ok());
    assert!(tx.try_send(7).is_ok());
    assert!(tx.try_send(2).is_ok());

    // The buffer's capacity is reused.
    count = rx.recv_many(&mut buffer, 32).await;

    assert_eq!(final_capacity, buffer.capacity());
    assert_eq!(count, 4);
    assert_eq!(vec![5, 6, 7, 2], buffer);

    drop(tx);

    // Closed and drained: 0 at once.
    assert_eq!(0, rx.recv_many(&mut buffer, 4).await);
    assert!(rx.recv().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_recv_many_bounded_capacity() {
    let mut buffer: Vec<String> = Vec::with_capacity(9);
    let limit = buffer.capacity();
    let (tx, rx) = channel::bounded(100);

    let mut expected: Vec<String> = (0..limit)
        .map(|x: usize| format!("{x}"))
        .collect::<Vec<_>>();
    for x in expected.clone() {
        tx.send(x).await.unwrap()
    }
    tx.send("one more".to_string()).await.unwrap();

    // All but the last value; the buffer's capacity suffices, so it does
    // not grow.
    assert_eq!(buffer.capacity(), rx.recv_many(&mut buffer, limit).await);
    assert_eq!(expected, buffer);
    assert_eq!(limit, buffer.capacity());

    // The rest:
    assert_eq!(1, rx.recv_many(&mut buffer, limit).await);
    assert!(buffer.capacity() > limit);
    expected.push("one more".to_string());
    assert_eq!(expected, buffer);

    tokio::spawn(async move {
        tx.send("final".to_string()).await.unwrap();
    });

    // `tx` is gone after its send, but the value sent first is received.
    assert_eq!(1, rx.recv_many(&mut buffer, limit).await);
    expected.push("final".to_string());
    assert_eq!(expected, buffer);
    // Now closed and drained: 0.
    assert_eq!(0, rx.recv_many(&mut buffer, limit).await);
    assert_eq!(expected, buffer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_recv_many_unbounded_capacity() {
    let mut buffer: Vec<String> = Vec::with_capacity(9);
    let limit = buffer.capacity();
    let (tx, rx) = channel::unbounded();

    let mut expected: Vec<String> = (0..limit)
        .map(|x: usize| format!("{x}"))
        .collect::<Vec<_>>();
    for x in expected.clone() {
        tx.try_send(x).unwrap()
    }
    tx.try_send("one more".to_string()).unwrap();

    assert_eq!(buffer.capacity(), rx.recv_many(&mut buffer, limit).await);
    assert_eq!(expected, buffer);
    assert_eq!(limit, buffer.capacity());

    assert_eq!(1, rx.recv_many(&mut buffer, limit).await);
    assert!(buffer.capacity() > limit);
    expected.push("one more".to_string());
    assert_eq!(expected, buffer);

    tokio::spawn(async move {
        tx.try_send("final".to_string()).unwrap();
    });

    assert_eq!(1, rx.recv_many(&mut buffer, limit).await);
    expected.push("final".to_string());
    assert_eq!(expected, buffer);
    assert_eq!(0, rx.recv_many(&mut buffer, limit).await);
    assert_eq!(expected, buffer);
}

#[tokio::test]
async fn recv_many_with_non_empty_buffer_bounded_rx_closed_and_idle() {
    let (_tx, rx) = channel::bounded::<i32>(1);
    let mut buffer: Vec<i32> = vec![1];
    rx.close();
    assert_eq!(0, rx.recv_many(&mut buffer, 1).await);
    assert_eq!(vec![1], buffer);
}

#[tokio::test]
async fn recv_many_with_non_empty_buffer_unbounded_rx_closed_and_idle() {
    let (_tx, rx) = channel::unbounded::<i32>();
    let mut buffer: Vec<i32> = vec![1];
    rx.close();
    assert_eq!(0, rx.recv_many(&mut buffer, 1).await);
    assert_eq!(vec![1], buffer);
}

#[tokio::test]
async fn send_timeout() {
    use tokio::time::sleep;
    let (tx, rx) = channel::bounded(5);
    let long = || sleep(Duration::from_secs(1));

    assert_eq!(tx.send_timeout(10, long()).await, Ok(()));
    assert_eq!(tx.send_timeout(20, long()).await, Ok(()));
    assert_eq!(tx.send_timeout(30, long()).await, Ok(()));
    assert_eq!(tx.send_timeout(40, long()).await, Ok(()));
    assert_eq!(tx.send_timeout(50, long()).await, Ok(()));
    assert_eq!(
        tx.send_timeout(60, sleep(Duration::from_millis(1))).await,
        Err(TrySendError::Full(60))
    );

    drop(rx);
    assert_eq!(
        tx.send_timeout(70, long()).await,
        Err(TrySendError::Disconnected(70))
    );
}
