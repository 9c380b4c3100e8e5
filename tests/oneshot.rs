//! `polysync::channel::oneshot` across every pair of worlds.
//!
//! Receiving worlds: an OS thread (`recv_blocking` and `try_recv_for`), a
//! tokio task on a 2-worker multi-thread runtime, a `futures_lite::block_on`
//! task on its own thread, and an OS thread that waits through `recv_with`
//! on a user-written `Waiter` (a mutex and condition variable). Sending
//! worlds: an OS thread, a tokio task, a `block_on` task. For each of the
//! 4 x 3 pairs:
//! - **value:** the receiver waits first (async receivers are polled once,
//!   so they are queued; blocking ones say so just before they block, or,
//!   for the user waiter, from inside `Waiter::wait`), then the value is
//!   sent from the other world and received;
//! - **sender dropped:** the receiver waits, the sender is dropped unsent in
//!   the other world, and the receiver wakes with `Disconnected`;
//! - **receiver dropped:** the receiver is dropped in its world, and `send`
//!   from the other world returns the value.
//!
//! Plus: a sent, never received value is dropped with the receiver; a
//! receive that timed out can wait again; `try_recv` after the value says
//! `Disconnected`. Every test runs under a watchdog: a lost wake-up aborts
//! the run.

#[path = "support/worlds.rs"]
mod worlds;
use worlds::{Watchdog, multi_thread_rt, wait_until};

use futures_lite::future::poll_once;
use polysync::channel::{RecvError, TryRecvError, oneshot};
use polysync::lowlevel::{WaitResult, Waiter};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

fn dog(name: &'static str) -> Watchdog {
    Watchdog::new(name, Duration::from_secs(20))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum World {
    Thread,
    Tokio,
    Lite,
    /// An OS thread waiting through `recv_with` on [`BellWaiter`].
    UserWaiter,
}
use World::*;
const RECEIVING: [World; 4] = [Thread, Tokio, Lite, UserWaiter];
const SENDING: [World; 3] = [Thread, Tokio, Lite];

enum Unit<T> {
    Thread(thread::JoinHandle<T>),
    Tokio(tokio::task::JoinHandle<T>),
}

impl<T> Unit<T> {
    fn join(self, rt: &tokio::runtime::Runtime) -> T {
        match self {
            Unit::Thread(h) => h.join().expect("a thread or block_on unit panicked"),
            Unit::Tokio(h) => rt.block_on(h).expect("a tokio task panicked"),
        }
    }
}

/// Runs `blocking` on a new thread (`Thread`, `UserWaiter`) or the future
/// made by `task` as a tokio task (`Tokio`) or under `block_on` on a new
/// thread (`Lite`).
fn spawn<T, F>(
    world: World,
    rt: &tokio::runtime::Runtime,
    blocking: impl FnOnce() -> T + Send + 'static,
    task: impl FnOnce() -> F + Send + 'static,
) -> Unit<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    match world {
        Thread | UserWaiter => Unit::Thread(thread::spawn(blocking)),
        Tokio => Unit::Tokio(rt.spawn(async move { task().await })),
        Lite => Unit::Thread(thread::spawn(
            move || futures_lite::future::block_on(task()),
        )),
    }
}

/// Runs `f` once, inside `world`, and waits for it.
fn run_in<T: Send + 'static>(
    world: World,
    rt: &tokio::runtime::Runtime,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let f = Arc::new(Mutex::new(Some(f)));
    let f2 = f.clone();
    spawn(
        world,
        rt,
        move || (f.lock().unwrap().take().unwrap())(),
        move || async move { (f2.lock().unwrap().take().unwrap())() },
    )
    .join(rt)
}

/// A user-written waiter: a mutex-and-condvar bell. It raises `waiting`
/// each time it is about to block, so the test knows the receive is queued.
#[derive(Default)]
struct Bell {
    rung: Mutex<bool>,
    cv: Condvar,
}
impl Wake for Bell {
    fn wake(self: Arc<Self>) {
        *self.rung.lock().unwrap() = true;
        self.cv.notify_one();
    }
}
struct BellWaiter {
    bell: Arc<Bell>,
    waiting: Arc<AtomicBool>,
}
impl Waiter for BellWaiter {
    fn waker(&self) -> Waker {
        Waker::from(self.bell.clone())
    }
    fn wait(&self, deadline: Option<Instant>) -> WaitResult {
        self.waiting.store(true, Ordering::SeqCst);
        let mut rung = self.bell.rung.lock().unwrap();
        while !*rung {
            match deadline {
                None => rung = self.bell.cv.wait(rung).unwrap(),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return WaitResult::TimedOut;
                    }
                    rung = self.bell.cv.wait_timeout(rung, d - now).unwrap().0;
                }
            }
        }
        *rung = false;
        WaitResult::Woken
    }
}

/// Starts a receive of `rx` in `world`; `waiting` is raised once it waits
/// (or, for a plain blocking thread, just before it blocks). `form` picks
/// the blocking form of a `Thread` receiver.
fn receive_in(
    world: World,
    rt: &tokio::runtime::Runtime,
    rx: oneshot::Receiver<u64>,
    waiting: Arc<AtomicBool>,
    form: usize,
) -> Unit<Result<u64, TryRecvError>> {
    let rx = Arc::new(rx);
    let (rx2, waiting2) = (rx.clone(), waiting.clone());
    spawn(
        world,
        rt,
        move || match world {
            UserWaiter => {
                let waiter = BellWaiter {
                    bell: Arc::default(),
                    waiting,
                };
                rx.recv_with(&waiter, None)
            }
            _ => {
                waiting.store(true, Ordering::SeqCst);
                if form % 2 == 0 {
                    rx.recv_blocking().map_err(TryRecvError::from)
                } else {
                    rx.try_recv_for(Duration::from_secs(50))
                }
            }
        },
        move || async move {
            let mut recv = pin!(rx2.recv());
            // One poll queues the receive with this task's waker.
            if let Some(done) = poll_once(recv.as_mut()).await {
                return done.map_err(TryRecvError::from);
            }
            waiting2.store(true, Ordering::SeqCst);
            recv.await.map_err(TryRecvError::from)
        },
    )
}

/// Lets a receiver that said it is about to block really block.
fn settle(waiting: &AtomicBool) {
    wait_until("the receiver waits", || waiting.load(Ordering::SeqCst));
    thread::sleep(Duration::from_millis(5));
}

#[test]
fn a_value_sent_from_each_world_wakes_a_receiver_in_each_world() {
    let _dog = dog("oneshot value");
    let rt = multi_thread_rt();
    for (i, receiver) in RECEIVING.into_iter().enumerate() {
        for (j, sender) in SENDING.into_iter().enumerate() {
            let (tx, rx) = oneshot::channel();
            let waiting = Arc::new(AtomicBool::new(false));
            let unit = receive_in(receiver, &rt, rx, waiting.clone(), i + j);
            settle(&waiting);
            let value = (10 * i + j) as u64;
            run_in(sender, &rt, move || tx.send(value)).unwrap();
            assert_eq!(
                unit.join(&rt),
                Ok(value),
                "receiver {receiver:?}, sender {sender:?}"
            );
        }
    }
}

#[test]
fn a_sender_dropped_in_each_world_wakes_a_receiver_in_each_world() {
    let _dog = dog("oneshot sender dropped");
    let rt = multi_thread_rt();
    for (i, receiver) in RECEIVING.into_iter().enumerate() {
        for (j, sender) in SENDING.into_iter().enumerate() {
            let (tx, rx) = oneshot::channel::<u64>();
            let waiting = Arc::new(AtomicBool::new(false));
            let unit = receive_in(receiver, &rt, rx, waiting.clone(), i + j);
            settle(&waiting);
            run_in(sender, &rt, move || drop(tx));
            assert_eq!(
                unit.join(&rt),
                Err(TryRecvError::Disconnected),
                "receiver {receiver:?}, sender {sender:?}"
            );
        }
    }
}

#[test]
fn a_receiver_dropped_in_each_world_gives_the_value_back_to_a_sender_in_each_world() {
    let _dog = dog("oneshot receiver dropped");
    let rt = multi_thread_rt();
    for receiver in RECEIVING {
        for sender in SENDING {
            let (tx, rx) = oneshot::channel::<u64>();
            assert!(!tx.is_closed());
            run_in(receiver, &rt, move || drop(rx));
            let back = run_in(sender, &rt, move || {
                assert!(tx.is_closed());
                tx.send(7)
            });
            assert_eq!(back, Err(7), "receiver {receiver:?}, sender {sender:?}");
        }
    }
}

/// A value that counts its drops.
struct Counted(Arc<AtomicUsize>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_value_never_received_drops_with_the_receiver() {
    let _dog = dog("oneshot unseen");
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = oneshot::channel();
    assert!(tx.send(Counted(drops.clone())).is_ok());
    assert!(rx.is_closed());
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(rx);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn a_receive_that_timed_out_or_was_dropped_can_wait_again() {
    let _dog = dog("oneshot again");
    let (tx, rx) = oneshot::channel();
    assert_eq!(
        rx.try_recv_for(Duration::from_millis(2)),
        Err(TryRecvError::Empty)
    );
    assert_eq!(rx.try_recv_until(Instant::now()), Err(TryRecvError::Empty));
    {
        // An async receive dropped after it was handed the value puts it
        // back for the next receive.
        let mut recv = Box::pin(rx.recv());
        assert!(futures_lite::future::block_on(poll_once(recv.as_mut())).is_none());
        tx.send(5u8).unwrap();
        drop(recv);
    }
    assert_eq!(rx.try_recv(), Ok(5));
    // Received: each form's own error.
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(
        rx.try_recv_for(Duration::from_secs(5)),
        Err(TryRecvError::Disconnected)
    );
    assert_eq!(
        rx.try_recv_until(Instant::now() + Duration::from_secs(5)),
        Err(TryRecvError::Disconnected)
    );
    assert_eq!(rx.recv_blocking(), Err(RecvError));
    assert_eq!(futures_lite::future::block_on(rx.recv()), Err(RecvError));
}

#[test]
fn a_cancelled_user_waiter_withdraws_and_the_value_stays() {
    let _dog = dog("oneshot cancelled waiter");
    /// A waiter whose unit is being cancelled: its first wait says so.
    struct Cancelling(Arc<Bell>);
    impl Waiter for Cancelling {
        fn waker(&self) -> Waker {
            Waker::from(self.0.clone())
        }
        fn wait(&self, _: Option<Instant>) -> WaitResult {
            WaitResult::Cancelled
        }
    }
    let (tx, rx) = oneshot::channel();
    let w = Cancelling(Arc::default());
    assert_eq!(rx.recv_with(&w, None), Err(TryRecvError::Cancelled));
    tx.send(1u8).unwrap();
    assert_eq!(rx.recv_with(&w, None), Ok(1));
}
