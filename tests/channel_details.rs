//! The channel details of issue 20 (items 5 and 6): `Sender::closed` (mpsc
//! and oneshot), the oneshot `Receiver` as a future, `recv_many` in every
//! form, the async `send_timeout` that gives the value back.
//!
//! Each is checked without any wait first (a counting waker shows who was
//! woken, `*_with` with a passed deadline shows what is ready), then across
//! worlds here (threads, a tokio multi-thread runtime, `futures_lite`
//! tasks); the matrix (`tests/matrix/src/channel_details.rs`) adds may and
//! corosensei and every waiter x notifier pair. Every test that could hang
//! runs under a watchdog; none depends on timing.

#[path = "support/worlds.rs"]
mod worlds;
use worlds::{Watchdog, multi_thread_rt, wait_until};

use polysync::channel::{self, RecvError, TryRecvError, TrySendError, oneshot};
use polysync::lowlevel::{ThreadWaiter, WaitError};
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

fn dog(name: &'static str) -> Watchdog {
    Watchdog::new(name, Duration::from_secs(20))
}

/// A waker that counts its wakes.
#[derive(Default)]
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting() -> (Arc<Count>, Waker) {
    let count = Arc::new(Count::default());
    (count.clone(), Waker::from(count))
}

fn woken(count: &Count) -> usize {
    count.0.load(Ordering::SeqCst)
}

/// Whether `closed_with` reports the close without waiting.
fn closed_now(tx: &channel::Sender<u8>) -> bool {
    ThreadWaiter::with_current(|w| tx.closed_with(w, Some(Instant::now()))).is_ok()
}

fn oneshot_closed_now(tx: &oneshot::Sender<u8>) -> bool {
    ThreadWaiter::with_current(|w| tx.closed_with(w, Some(Instant::now()))).is_ok()
}

// ---------------------------------------------------------------------------
// Sender::closed

#[test]
fn closed_is_ready_once_every_receiver_dropped() {
    let (tx, rx) = channel::unbounded::<u8>();
    let rx2 = rx.clone();
    assert!(!closed_now(&tx));
    drop(rx);
    assert!(!closed_now(&tx), "one receiver is left");
    drop(rx2);
    assert!(closed_now(&tx));
    assert!(tx.is_closed());
}

#[test]
fn closed_is_ready_after_an_explicit_close_from_either_end() {
    let (tx, rx) = channel::bounded::<u8>(1);
    rx.close();
    assert!(closed_now(&tx));
    let (tx, _rx) = channel::bounded::<u8>(1);
    tx.close();
    assert!(closed_now(&tx));
    // A sender made after the close sees it too.
    assert!(closed_now(&tx.clone()));
}

#[test]
fn a_pending_closed_future_is_woken_by_the_last_receivers_drop() {
    let (tx, rx) = channel::bounded::<u8>(1);
    let (count, waker) = counting();
    let mut cx = Context::from_waker(&waker);
    let mut closed = pin!(tx.closed());
    assert!(closed.as_mut().poll(&mut cx).is_pending());
    drop(rx);
    assert_eq!(woken(&count), 1);
    assert!(closed.as_mut().poll(&mut cx).is_ready());
}

#[test]
fn closed_with_times_out_and_is_cancelled_while_a_receiver_lives() {
    let (tx, _rx) = channel::unbounded::<u8>();
    let now = Some(Instant::now());
    ThreadWaiter::with_current(|w| {
        assert_eq!(tx.closed_with(w, now), Err(WaitError::TimedOut));
    });
}

#[test]
fn oneshot_closed_is_ready_once_the_receiver_dropped() {
    let (tx, rx) = oneshot::channel::<u8>();
    assert!(!oneshot_closed_now(&tx));
    let (count, waker) = counting();
    let mut cx = Context::from_waker(&waker);
    {
        let mut closed = pin!(tx.closed());
        assert!(closed.as_mut().poll(&mut cx).is_pending());
        drop(rx);
        assert_eq!(woken(&count), 1);
        assert!(closed.as_mut().poll(&mut cx).is_ready());
    }
    assert!(oneshot_closed_now(&tx));
    assert_eq!(tx.send(1), Err(1));
}

#[test]
fn closed_wakes_a_waiter_in_each_world_when_the_receiver_drops_in_another() {
    let _dog = dog("closed_wakes_a_waiter_in_each_world_when_the_receiver_drops_in_another");
    let rt = multi_thread_rt();
    for waiter in 0..3 {
        for dropper in 0..2 {
            let (tx, rx) = channel::bounded::<u8>(1);
            let (otx, orx) = oneshot::channel::<u8>();
            let started = Arc::new(AtomicUsize::new(0));
            let s = started.clone();
            let wait = move || {
                s.fetch_add(1, Ordering::SeqCst);
                (tx, otx)
            };
            let done: Box<dyn FnOnce()> = match waiter {
                0 => {
                    let h = thread::spawn(move || {
                        let (tx, otx) = wait();
                        tx.closed_blocking();
                        otx.closed_blocking();
                        assert!(tx.is_closed() && otx.is_closed());
                    });
                    Box::new(move || h.join().unwrap())
                }
                1 => {
                    let h = rt.spawn(async move {
                        let (tx, otx) = wait();
                        tx.closed().await;
                        otx.closed().await;
                        assert!(tx.is_closed() && otx.is_closed());
                    });
                    let handle = rt.handle().clone();
                    Box::new(move || handle.block_on(h).unwrap())
                }
                _ => {
                    let h = thread::spawn(move || {
                        futures_lite::future::block_on(async move {
                            let (tx, otx) = wait();
                            tx.closed().await;
                            otx.closed().await;
                            assert!(tx.is_closed() && otx.is_closed());
                        })
                    });
                    Box::new(move || h.join().unwrap())
                }
            };
            wait_until("the waiter started", || started.load(Ordering::SeqCst) == 1);
            if dropper == 0 {
                thread::spawn(move || drop((rx, orx))).join().unwrap();
            } else {
                rt.block_on(async move { drop((rx, orx)) });
            }
            done();
        }
    }
}

// ---------------------------------------------------------------------------
// The oneshot receiver as a future

#[test]
fn an_awaited_receiver_is_woken_by_the_send() {
    let (tx, mut rx) = oneshot::channel();
    let (count, waker) = counting();
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut rx).poll(&mut cx).is_pending());
    tx.send(5).unwrap();
    assert_eq!(woken(&count), 1);
    assert_eq!(Pin::new(&mut rx).poll(&mut cx), Poll::Ready(Ok(5)));
    // Completed: the value was taken, as every receive then says.
    assert_eq!(Pin::new(&mut rx).poll(&mut cx), Poll::Ready(Err(RecvError)));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn an_awaited_receiver_is_woken_by_the_senders_drop() {
    let (tx, mut rx) = oneshot::channel::<u8>();
    let (count, waker) = counting();
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut rx).poll(&mut cx).is_pending());
    drop(tx);
    assert_eq!(woken(&count), 1);
    assert_eq!(Pin::new(&mut rx).poll(&mut cx), Poll::Ready(Err(RecvError)));
}

#[test]
fn the_latest_waker_is_the_one_woken() {
    let (tx, mut rx) = oneshot::channel();
    let (first, first_waker) = counting();
    let (second, second_waker) = counting();
    assert!(
        Pin::new(&mut rx)
            .poll(&mut Context::from_waker(&first_waker))
            .is_pending()
    );
    assert!(
        Pin::new(&mut rx)
            .poll(&mut Context::from_waker(&second_waker))
            .is_pending()
    );
    tx.send(1).unwrap();
    assert_eq!((woken(&first), woken(&second)), (0, 1));
}

#[test]
fn a_receiver_dropped_while_awaited_loses_nothing_that_could_be_received() {
    // Dropped mid-wait: the sender learns it (send fails, closed is ready).
    let (tx, mut rx) = oneshot::channel::<String>();
    let mut cx = Context::from_waker(Waker::noop());
    assert!(Pin::new(&mut rx).poll(&mut cx).is_pending());
    drop(rx);
    assert!(oneshot_closed_now_string(&tx));
    assert_eq!(tx.send("back".into()), Err("back".to_string()));
    // A poll that stopped (not completed) leaves the value for a later
    // receive of any form.
    let (tx, mut rx) = oneshot::channel::<u8>();
    assert!(Pin::new(&mut rx).poll(&mut cx).is_pending());
    tx.send(3).unwrap();
    assert_eq!(rx.recv_blocking(), Ok(3));
}

fn oneshot_closed_now_string(tx: &oneshot::Sender<String>) -> bool {
    ThreadWaiter::with_current(|w| tx.closed_with(w, Some(Instant::now()))).is_ok()
}

#[test]
fn the_receiver_future_completes_across_worlds() {
    let _dog = dog("the_receiver_future_completes_across_worlds");
    let rt = multi_thread_rt();
    for sender_world in 0..3 {
        for receiver_world in 0..2 {
            let (tx, rx) = oneshot::channel::<u32>();
            let got: Box<dyn FnOnce() -> Result<u32, RecvError>> = if receiver_world == 0 {
                let h = rt.spawn(rx);
                let handle = rt.handle().clone();
                Box::new(move || handle.block_on(h).unwrap())
            } else {
                let h = thread::spawn(move || futures_lite::future::block_on(rx));
                Box::new(move || h.join().unwrap())
            };
            match sender_world {
                0 => thread::spawn(move || tx.send(7).unwrap()).join().unwrap(),
                1 => rt.block_on(async move { tx.send(7).unwrap() }),
                _ => thread::spawn(move || {
                    futures_lite::future::block_on(async move { tx.send(7).unwrap() })
                })
                .join()
                .unwrap(),
            }
            assert_eq!(
                got(),
                Ok(7),
                "sender {sender_world}, receiver {receiver_world}"
            );
        }
    }
}

#[test]
fn the_receiver_future_yields_at_its_checkpoint_once_when_ready() {
    use polysync::lowlevel::checkpoint::with_checkpoints;
    let (tx, mut rx) = oneshot::channel();
    tx.send(1).unwrap();
    let (count, waker) = counting();
    let mut cx = Context::from_waker(&waker);
    with_checkpoints(true, || {
        assert!(
            Pin::new(&mut rx).poll(&mut cx).is_pending(),
            "the checkpoint"
        );
        assert_eq!(woken(&count), 1, "it arranged its own wake-up");
        assert!(value_waits(&rx), "the value stays meanwhile");
        assert_eq!(Pin::new(&mut rx).poll(&mut cx), Poll::Ready(Ok(1)));
    });
}

/// Whether a value waits in the oneshot, without taking it (its `Debug`
/// says `sent: true` while the value is there).
fn value_waits<T>(rx: &oneshot::Receiver<T>) -> bool {
    format!("{rx:?}").contains("sent: true")
}

// ---------------------------------------------------------------------------
// recv_many

#[test]
fn recv_many_takes_up_to_the_limit_in_order_in_every_form() {
    let (tx, rx) = channel::unbounded();
    for i in 0..10 {
        tx.try_send(i).unwrap();
    }
    let mut buffer = vec![-1];
    assert_eq!(
        futures_lite::future::block_on(rx.recv_many(&mut buffer, 3)),
        3
    );
    assert_eq!(rx.recv_many_blocking(&mut buffer, 2), 2);
    assert_eq!(rx.try_recv_many(&mut buffer, 1), Ok(1));
    assert_eq!(rx.try_recv_many_for(&mut buffer, 2, Duration::ZERO), Ok(2));
    assert_eq!(
        rx.try_recv_many_until(&mut buffer, 1, Instant::now()),
        Ok(1)
    );
    let with = ThreadWaiter::with_current(|w| rx.recv_many_with(&mut buffer, 100, w, None));
    assert_eq!(with, Ok(1), "only what is there: it does not wait for more");
    assert_eq!(buffer, [-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert!(rx.is_empty());
}

#[test]
fn recv_many_with_limit_zero_returns_zero_at_once_and_takes_nothing() {
    let (tx, rx) = channel::unbounded::<u8>();
    let mut buffer = Vec::new();
    // Empty and open: would wait, but a limit of 0 does not.
    let mut cx = Context::from_waker(Waker::noop());
    assert_eq!(
        pin!(rx.recv_many(&mut buffer, 0)).poll(&mut cx),
        Poll::Ready(0)
    );
    tx.try_send(1).unwrap();
    assert_eq!(
        pin!(rx.recv_many(&mut buffer, 0)).poll(&mut cx),
        Poll::Ready(0)
    );
    assert_eq!(rx.recv_many_blocking(&mut buffer, 0), 0);
    assert_eq!(rx.try_recv_many(&mut buffer, 0), Ok(0));
    assert_eq!(rx.try_recv_many_for(&mut buffer, 0, Duration::ZERO), Ok(0));
    assert_eq!(
        rx.try_recv_many_until(&mut buffer, 0, Instant::now()),
        Ok(0)
    );
    let with = ThreadWaiter::with_current(|w| rx.recv_many_with(&mut buffer, 0, w, None));
    assert_eq!(with, Ok(0));
    assert!(buffer.is_empty());
    assert_eq!(rx.len(), 1, "nothing taken");
}

#[test]
fn recv_many_returns_zero_only_once_closed_and_drained() {
    let (tx, rx) = channel::bounded(4);
    tx.try_send(1).unwrap();
    drop(tx);
    let mut buffer = Vec::new();
    assert_eq!(rx.recv_many_blocking(&mut buffer, 8), 1, "drained first");
    assert_eq!(rx.recv_many_blocking(&mut buffer, 8), 0);
    assert_eq!(
        futures_lite::future::block_on(rx.recv_many(&mut buffer, 8)),
        0
    );
    assert_eq!(
        rx.try_recv_many(&mut buffer, 8),
        Err(TryRecvError::Disconnected)
    );
    let with = ThreadWaiter::with_current(|w| rx.recv_many_with(&mut buffer, 8, w, None));
    assert_eq!(with, Err(TryRecvError::Disconnected));
    assert_eq!(buffer, [1]);
}

#[test]
fn recv_many_empty_forms_that_give_up_say_empty() {
    let (_tx, rx) = channel::unbounded::<u8>();
    let mut buffer = Vec::new();
    assert_eq!(rx.try_recv_many(&mut buffer, 2), Err(TryRecvError::Empty));
    assert_eq!(
        rx.try_recv_many_for(&mut buffer, 2, Duration::ZERO),
        Err(TryRecvError::Empty)
    );
    let now = Some(Instant::now());
    let with = ThreadWaiter::with_current(|w| rx.recv_many_with(&mut buffer, 2, w, now));
    assert_eq!(with, Err(TryRecvError::Empty));
}

#[test]
fn a_dropped_recv_many_future_loses_nothing() {
    let (tx, rx) = channel::unbounded();
    let mut buffer = Vec::new();
    let mut cx = Context::from_waker(Waker::noop());
    {
        let mut many = pin!(rx.recv_many(&mut buffer, 4));
        assert!(many.as_mut().poll(&mut cx).is_pending());
        tx.try_send(1).unwrap(); // handed to the waiting receive
        tx.try_send(2).unwrap();
    } // dropped before it returned
    assert!(buffer.is_empty());
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn recv_many_wakes_and_takes_every_value_across_worlds() {
    let _dog = dog("recv_many_wakes_and_takes_every_value_across_worlds");
    let rt = multi_thread_rt();
    const N: u32 = 200;
    for receiver_world in 0..3 {
        let (tx, rx) = channel::bounded::<u32>(3);
        let recv = move |blocking: bool| async move {
            let mut buffer = Vec::new();
            loop {
                let n = if blocking {
                    rx.recv_many_blocking(&mut buffer, 7)
                } else {
                    rx.recv_many(&mut buffer, 7).await
                };
                assert!(n <= 7);
                if n == 0 {
                    return buffer;
                }
            }
        };
        let got: Box<dyn FnOnce() -> Vec<u32>> = match receiver_world {
            0 => {
                let h = thread::spawn(move || futures_lite::future::block_on(recv(true)));
                Box::new(move || h.join().unwrap())
            }
            1 => {
                let h = rt.spawn(recv(false));
                let handle = rt.handle().clone();
                Box::new(move || handle.block_on(h).unwrap())
            }
            _ => {
                let h = thread::spawn(move || futures_lite::future::block_on(recv(false)));
                Box::new(move || h.join().unwrap())
            }
        };
        let tx2 = tx.clone();
        let a = thread::spawn(move || {
            for i in (0..N).step_by(2) {
                tx.send_blocking(i).unwrap();
            }
        });
        rt.block_on(async move {
            for i in (1..N).step_by(2) {
                tx2.send(i).await.unwrap();
            }
        });
        a.join().unwrap();
        let got = got();
        let (evens, odds): (Vec<u32>, Vec<u32>) = got.iter().partition(|i| *i % 2 == 0);
        assert_eq!(
            evens,
            (0..N).step_by(2).collect::<Vec<_>>(),
            "world {receiver_world}"
        );
        assert_eq!(
            odds,
            (1..N).step_by(2).collect::<Vec<_>>(),
            "world {receiver_world}"
        );
    }
}

// ---------------------------------------------------------------------------
// send_timeout

#[test]
fn send_timeout_sends_at_once_when_there_is_room_even_if_the_timer_is_done() {
    let (tx, rx) = channel::bounded(1);
    let sent = futures_lite::future::block_on(tx.send_timeout(1, std::future::ready(())));
    assert_eq!(sent, Ok(()));
    assert_eq!(rx.try_recv(), Ok(1));
}

#[test]
fn send_timeout_gives_the_value_back_when_the_timer_completes_first() {
    let (tx, rx) = channel::bounded(1);
    tx.try_send(String::from("0")).unwrap();
    let timer = polysync::Event::new();
    let (count, waker) = counting();
    let mut cx = Context::from_waker(&waker);
    let mut send = pin!(tx.send_timeout(String::from("v"), timer.wait()));
    assert!(send.as_mut().poll(&mut cx).is_pending());
    timer.set();
    assert_eq!(woken(&count), 1, "the timer wakes the send");
    assert_eq!(
        send.as_mut().poll(&mut cx),
        Poll::Ready(Err(TrySendError::Full(String::from("v"))))
    );
    assert_eq!(tx.sending(), 0, "withdrawn");
    assert_eq!(rx.try_recv(), Ok(String::from("0")));
    assert!(rx.is_empty(), "the value did not go in");
}

#[test]
fn send_timeout_completes_when_room_comes_first() {
    let (tx, rx) = channel::bounded(1);
    tx.try_send(0).unwrap();
    let (count, waker) = counting();
    let mut cx = Context::from_waker(&waker);
    let mut send = pin!(tx.send_timeout(1, std::future::pending::<()>()));
    assert!(send.as_mut().poll(&mut cx).is_pending());
    assert_eq!(rx.try_recv(), Ok(0)); // makes room: the waiting send goes in
    assert_eq!(woken(&count), 1);
    assert_eq!(send.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(1));
}

#[test]
fn send_timeout_whose_value_went_in_as_the_timer_fired_reports_it_sent() {
    let (tx, rx) = channel::bounded(1);
    tx.try_send(0).unwrap();
    let timer = polysync::Event::new();
    let mut cx = Context::from_waker(Waker::noop());
    let mut send = pin!(tx.send_timeout(1, timer.wait()));
    assert!(send.as_mut().poll(&mut cx).is_pending());
    assert_eq!(rx.try_recv(), Ok(0)); // the send goes in...
    timer.set(); // ...and the timer fires before the next poll
    assert_eq!(send.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(1), "sent once, not lost");
}

#[test]
fn send_timeout_on_a_closed_channel_gives_the_value_back_as_disconnected() {
    let (tx, rx) = channel::bounded(1);
    tx.try_send(0).unwrap();
    let mut cx = Context::from_waker(Waker::noop());
    let mut send = pin!(tx.send_timeout(1, std::future::pending::<()>()));
    assert!(send.as_mut().poll(&mut cx).is_pending());
    drop(rx);
    assert_eq!(
        send.as_mut().poll(&mut cx),
        Poll::Ready(Err(TrySendError::Disconnected(1)))
    );
}

#[test]
fn send_timeout_cancel_gives_the_value_back() {
    let (tx, _rx) = channel::bounded(1);
    tx.try_send(0).unwrap();
    let mut cx = Context::from_waker(Waker::noop());
    let mut send = pin!(tx.send_timeout(1, std::future::pending::<()>()));
    assert!(send.as_mut().poll(&mut cx).is_pending());
    assert_eq!(send.as_mut().cancel(), Some(1));
    assert_eq!(send.as_mut().cancel(), None);
}

#[test]
fn send_timeout_with_each_runtimes_timer() {
    let _dog = dog("send_timeout_with_each_runtimes_timer");
    let (tx, rx) = channel::bounded(1);
    tx.try_send(0).unwrap();
    // Full, nobody receives: each runtime's timer gives the value back.
    let rt = multi_thread_rt();
    let back = rt.block_on(async {
        let timer = tokio::time::sleep(Duration::from_millis(1));
        tx.send_timeout(1, timer).await
    });
    assert_eq!(back, Err(TrySendError::Full(1)));
    let timer = async_io::Timer::after(Duration::from_millis(1));
    let back = futures_lite::future::block_on(tx.send_timeout(2, timer));
    assert_eq!(back, Err(TrySendError::Full(2)));
    // Room comes from another world before a timer that never fires.
    let rx2 = rx.clone();
    let taker = thread::spawn(move || {
        wait_until_sending(&rx2);
        rx2.recv_blocking().unwrap()
    });
    let sent = rt.block_on(tx.send_timeout(3, std::future::pending::<()>()));
    assert_eq!(sent, Ok(()));
    assert_eq!(taker.join().unwrap(), 0);
    assert_eq!(rx.try_recv(), Ok(3));
}

fn wait_until_sending(rx: &channel::Receiver<i32>) {
    wait_until("a send waiting", || rx.sending() == 1);
}
