//! `Receiver::into_stream` (a `futures_core::Stream`) and `Sender::into_sink`
//! (a `futures_sink::Sink`), cargo feature `stream`.
//!
//! What is proven:
//! - a stream in a tokio task yields exactly what a blocking producer
//!   thread sent, in order, and ends when the last sender drops; it is then
//!   terminated (`FusedStream`);
//! - waker registration: the waker of the latest `poll_next` is the one
//!   woken (a stream moved between tasks is not stranded on the old one);
//! - no loss on drop: a value handed to a stream's pending receive goes
//!   back into the channel when the stream (or `into_receiver`) drops it;
//! - the sink: values go in order through a bounded(1) channel to a
//!   consumer thread; a pending value waits in the sink until a flush; a
//!   disconnected channel gives the value back (from `start_send`, and from
//!   `poll_flush` for a pending one); `cancel` takes a pending value back;
//!   `poll_close` drops the sender, which closes the channel.
#![cfg(feature = "stream")]

#[path = "support/worlds.rs"]
mod worlds;
use worlds::{Watchdog, multi_thread_rt};

use futures_core::{FusedStream, Stream};
use futures_lite::StreamExt;
use futures_sink::Sink;
use polysync::channel::{self, RecvError, SendError};
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

fn dog(name: &'static str) -> Watchdog {
    Watchdog::new(name, Duration::from_secs(30))
}

#[derive(Default)]
struct CountingWaker(AtomicUsize);
impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_stream_in_a_task_gets_everything_a_thread_sent_in_order() {
    let _dog = dog("stream order");
    let rt = multi_thread_rt();
    let (tx, rx) = channel::bounded(8);
    let producer = std::thread::spawn(move || {
        for i in 0..2_000u32 {
            tx.send_blocking(i).unwrap();
        }
    });
    let task = rt.spawn(async move {
        let mut stream = rx.into_stream();
        let mut all = Vec::new();
        while let Some(v) = stream.next().await {
            all.push(v);
        }
        assert_eq!(stream.next().await, None, "stays ended");
        (all, stream.is_terminated())
    });
    let (all, terminated) = rt.block_on(task).unwrap();
    producer.join().unwrap();
    assert_eq!(all, (0..2_000).collect::<Vec<_>>());
    assert!(terminated);
}

#[test]
fn the_latest_poll_next_waker_is_woken() {
    let _dog = dog("stream waker");
    let (tx, rx) = channel::unbounded::<u8>();
    let mut stream = rx.into_stream();
    let (a, b) = (
        Arc::new(CountingWaker::default()),
        Arc::new(CountingWaker::default()),
    );
    let (wa, wb) = (Waker::from(a.clone()), Waker::from(b.clone()));
    assert!(
        Pin::new(&mut stream)
            .poll_next(&mut Context::from_waker(&wa))
            .is_pending()
    );
    assert!(
        Pin::new(&mut stream)
            .poll_next(&mut Context::from_waker(&wb))
            .is_pending()
    );
    assert_eq!(tx.receiving(), 1, "one receive queued, not two");
    tx.try_send(9).unwrap();
    assert_eq!(b.0.load(Ordering::SeqCst), 1, "the latest waker is woken");
    assert_eq!(
        Pin::new(&mut stream).poll_next(&mut Context::from_waker(&wb)),
        Poll::Ready(Some(9))
    );
    assert_eq!(a.0.load(Ordering::SeqCst), 0, "the replaced waker is not");
}

#[test]
fn a_value_handed_to_a_dropped_stream_stays_in_the_channel() {
    let _dog = dog("stream drop");
    let mut cx = Context::from_waker(Waker::noop());
    let (tx, rx) = channel::unbounded::<u8>();
    let rx2 = rx.clone();
    let mut stream = rx.into_stream();
    assert!(Pin::new(&mut stream).poll_next(&mut cx).is_pending());
    tx.try_send(1).unwrap(); // handed to the stream's pending receive
    assert!(tx.is_empty());
    drop(stream);
    assert_eq!(rx2.try_recv(), Ok(1), "given back, not lost");

    let mut stream = rx2.into_stream();
    assert!(Pin::new(&mut stream).poll_next(&mut cx).is_pending());
    tx.try_send(2).unwrap();
    let rx = stream.into_receiver();
    assert_eq!(rx.try_recv(), Ok(2), "given back by into_receiver");
}

#[test]
fn a_sink_sends_in_order_through_a_full_channel_and_closes() {
    let _dog = dog("sink order");
    let (tx, rx) = channel::bounded(1);
    let consumer = std::thread::spawn(move || {
        let mut all = Vec::new();
        loop {
            match rx.recv_blocking() {
                Ok(v) => all.push(v),
                Err(RecvError) => return all,
            }
        }
    });
    futures_lite::future::block_on(async {
        let mut sink = tx.into_sink();
        for v in 0..500u32 {
            poll_fn(|cx| Pin::new(&mut sink).poll_ready(cx))
                .await
                .unwrap();
            Pin::new(&mut sink).start_send(v).unwrap();
        }
        poll_fn(|cx| Pin::new(&mut sink).poll_close(cx))
            .await
            .unwrap();
        // Closed: the sender is gone.
        assert_eq!(Pin::new(&mut sink).start_send(9), Err(SendError(9)));
    });
    assert_eq!(consumer.join().unwrap(), (0..500).collect::<Vec<_>>());
}

#[test]
fn a_sink_gives_values_back() {
    let _dog = dog("sink give back");
    let mut cx = Context::from_waker(Waker::noop());
    let (tx, rx) = channel::bounded(1);
    let mut sink = tx.into_sink();
    Pin::new(&mut sink).start_send(1).unwrap();
    Pin::new(&mut sink).start_send(2).unwrap(); // pending in the sink
    assert!(Pin::new(&mut sink).poll_ready(&mut cx).is_pending());
    assert_eq!(sink.cancel(), Some(2));
    assert!(Pin::new(&mut sink).poll_flush(&mut cx).is_ready());
    Pin::new(&mut sink).start_send(3).unwrap(); // pending again
    drop(rx); // the pending send wakes with its value
    assert_eq!(
        Pin::new(&mut sink).poll_flush(&mut cx),
        Poll::Ready(Err(SendError(3)))
    );
    assert_eq!(Pin::new(&mut sink).start_send(4), Err(SendError(4)));
}
