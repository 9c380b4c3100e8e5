//! Send permits (issue 20 item 5): `Sender::reserve` in every form, and
//! `Permit`/`OwnedPermit`.
//!
//! First without any wait (a counting waker shows who was woken, a passed
//! deadline shows what is ready): a permit holds a place in the capacity,
//! an unused one frees it for the next sender or reserver, sends and
//! reserves share one FIFO line, a reserve that was given a place and is
//! dropped passes it on, closing meets permits as tokio's does. Then every
//! form in every world (OS threads, tokio tasks, futures-lite tasks, may
//! coroutines, corosensei green threads), a cancellation storm, and the
//! reserve tests of tokio's `tests/sync_mpsc.rs` (tokio 1.54), ported (ours
//! in style; each scenario and assertion kept, adapted where polysync's
//! rules differ, which each says). Every test that could hang runs under a
//! watchdog; none depends on timing.

#[path = "support/worlds.rs"]
mod worlds;
use worlds::{Watchdog, multi_thread_rt, wait_until};
#[path = "support/cancel.rs"]
mod cancel;

use polysync::channel::{self, Permit, RecvError, SendError, TryRecvError, TrySendError};
use polysync::lowlevel::ThreadWaiter;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex, Once};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// A bound no passing run comes near: the timed forms that must succeed.
const LONG: Duration = Duration::from_secs(60);

fn dog(name: &'static str) -> Watchdog {
    Watchdog::new(name, Duration::from_secs(30))
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

/// A future polled by hand with its own counting waker (tokio-test's
/// `task::spawn`, in small).
struct Task<F: Future> {
    fut: Pin<Box<F>>,
    count: Arc<Count>,
    waker: Waker,
}

impl<F: Future> Task<F> {
    fn new(fut: F) -> Self {
        let count = Arc::new(Count::default());
        Task {
            fut: Box::pin(fut),
            waker: Waker::from(count.clone()),
            count,
        }
    }

    /// Polls once; resets the wake count.
    fn poll(&mut self) -> Poll<F::Output> {
        self.count.0.store(0, Ordering::SeqCst);
        self.fut
            .as_mut()
            .poll(&mut Context::from_waker(&self.waker))
    }

    fn is_woken(&self) -> bool {
        self.count.0.load(Ordering::SeqCst) > 0
    }
}

fn ready<T>(poll: Poll<T>) -> T {
    match poll {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("pending, expected ready"),
    }
}

/// Counts the drops of its values.
#[derive(Debug)]
struct Dropped(Arc<AtomicUsize>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

// ---- without waiting --------------------------------------------------

#[test]
fn a_permit_holds_a_place_in_the_capacity_until_it_sends_or_drops() {
    let (tx, rx) = channel::bounded(3);
    let a = tx.try_reserve().unwrap();
    let b = tx.try_reserve().unwrap();
    assert_eq!((tx.len(), tx.reserved()), (0, 2));
    tx.try_send(10).unwrap();
    assert_eq!(tx.try_send(11), Err(TrySendError::Full(11)));
    assert_eq!(tx.try_reserve().unwrap_err(), TrySendError::Full(()));
    assert!(tx.is_full());
    a.send(12);
    assert_eq!((tx.len(), tx.reserved()), (2, 1));
    assert!(
        tx.try_send(13).is_err(),
        "still full: b holds the third place"
    );
    drop(b);
    assert_eq!((tx.len(), tx.reserved()), (2, 0));
    tx.try_send(13).unwrap();
    assert_eq!(rx.try_recv(), Ok(10));
    assert_eq!(rx.try_recv(), Ok(12));
    assert_eq!(rx.try_recv(), Ok(13));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn a_permits_value_takes_its_place_in_the_order_when_it_is_sent() {
    let (tx, rx) = channel::bounded(4);
    let early = tx.try_reserve().unwrap();
    tx.try_send(1).unwrap();
    early.send(2);
    tx.try_send(3).unwrap();
    let got: Vec<i32> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    assert_eq!(got, [1, 2, 3]);
}

#[test]
fn a_permit_hands_its_value_to_a_waiting_receiver() {
    let (tx, rx) = channel::bounded(1);
    let permit = tx.try_reserve().unwrap();
    let mut recv = Task::new(rx.recv());
    assert!(recv.poll().is_pending());
    permit.send(5);
    assert!(recv.is_woken());
    assert_eq!(ready(recv.poll()), Ok(5));
    assert_eq!(tx.reserved(), 0);
    assert!(!tx.is_full());
}

#[test]
fn a_dropped_permit_wakes_a_waiting_sender() {
    let (tx, rx) = channel::bounded(1);
    let permit = tx.try_reserve().unwrap();
    let mut send = Task::new(tx.send(1));
    assert!(send.poll().is_pending());
    assert_eq!(tx.sending(), 1);
    drop(permit);
    assert!(send.is_woken());
    assert_eq!(ready(send.poll()), Ok(()));
    assert_eq!(rx.try_recv(), Ok(1));
}

#[test]
fn a_dropped_owned_permit_and_a_released_one_wake_a_waiting_reserver() {
    let (tx, _rx) = channel::bounded::<u8>(1);
    let permit = tx.clone().try_reserve_owned().unwrap();
    let mut reserve = Task::new(tx.reserve());
    assert!(reserve.poll().is_pending());
    drop(permit);
    assert!(reserve.is_woken());
    let granted = ready(reserve.poll()).unwrap();
    drop(granted);
    let permit = tx.clone().try_reserve_owned().unwrap();
    let mut reserve = Task::new(tx.reserve());
    assert!(reserve.poll().is_pending());
    let sender = permit.release();
    assert!(reserve.is_woken());
    assert!(ready(reserve.poll()).is_ok());
    drop(sender);
}

#[test]
fn sends_and_reserves_wait_in_one_line() {
    let (tx, rx) = channel::bounded(1);
    tx.try_send(0).unwrap();
    let mut first = Task::new(tx.send(1));
    let mut second = Task::new(tx.reserve());
    let mut third = Task::new(tx.send(3));
    assert!(first.poll().is_pending());
    assert!(second.poll().is_pending());
    assert!(third.poll().is_pending());
    assert_eq!(tx.sending(), 3);
    // Each received value frees one place: for the oldest in line.
    assert_eq!(rx.try_recv(), Ok(0));
    assert!(first.is_woken() && !second.is_woken() && !third.is_woken());
    assert_eq!(ready(first.poll()), Ok(()));
    assert_eq!(rx.try_recv(), Ok(1));
    assert!(second.is_woken() && !third.is_woken());
    let permit = ready(second.poll()).unwrap();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty)); // the place is the permit's
    assert!(!third.is_woken());
    permit.send(2);
    assert_eq!(rx.try_recv(), Ok(2));
    assert!(third.is_woken());
    assert_eq!(ready(third.poll()), Ok(()));
    assert_eq!(rx.try_recv(), Ok(3));
}

#[test]
fn a_reserve_given_a_place_and_dropped_passes_it_on() {
    let (tx, rx) = channel::bounded(1);
    tx.try_send(0).unwrap();
    let mut reserve = Task::new(tx.reserve());
    let mut send = Task::new(tx.send(1));
    assert!(reserve.poll().is_pending());
    assert!(send.poll().is_pending());
    assert_eq!(rx.try_recv(), Ok(0));
    assert!(reserve.is_woken() && !send.is_woken());
    assert_eq!(tx.reserved(), 1, "the place went to the reserve");
    drop(reserve); // never polled again: the place goes on
    assert!(send.is_woken());
    assert_eq!(ready(send.poll()), Ok(()));
    assert_eq!(tx.reserved(), 0);
    assert_eq!(rx.try_recv(), Ok(1));
}

#[test]
fn a_waiting_reserve_dropped_leaves_the_line() {
    let (tx, rx) = channel::bounded(1);
    tx.try_send(0).unwrap();
    let mut reserve = Task::new(tx.reserve());
    assert!(reserve.poll().is_pending());
    drop(reserve);
    assert_eq!(tx.sending(), 0);
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(tx.reserved(), 0);
    tx.try_send(1).unwrap();
}

#[test]
fn the_forms_that_give_up_say_full_disconnected_or_cancelled() {
    let (tx, rx) = channel::bounded::<u8>(1);
    let held = tx.try_reserve().unwrap();
    let now = Instant::now();
    assert_eq!(tx.try_reserve().unwrap_err(), TrySendError::Full(()));
    assert_eq!(
        tx.try_reserve_for(Duration::ZERO).unwrap_err(),
        TrySendError::Full(())
    );
    assert_eq!(
        tx.try_reserve_until(now).unwrap_err(),
        TrySendError::Full(())
    );
    ThreadWaiter::with_current(|w| {
        assert_eq!(
            tx.reserve_with(w, Some(now)).unwrap_err(),
            TrySendError::Full(())
        );
        let cancel = AtomicBool::new(true);
        let cancellable = cancel::Cancellable {
            inner: w,
            cancel: &cancel,
        };
        assert_eq!(
            tx.reserve_with(&cancellable, None).unwrap_err(),
            TrySendError::Cancelled(())
        );
        let back = tx
            .clone()
            .reserve_owned_with(&cancellable, None)
            .unwrap_err();
        assert!(matches!(back, TrySendError::Cancelled(ref s) if s.same_channel(&tx)));
    });
    assert!(tx.clone().try_reserve_owned().unwrap_err().is_full());
    assert!(
        tx.clone()
            .try_reserve_owned_for(Duration::ZERO)
            .unwrap_err()
            .is_full()
    );
    assert!(
        tx.clone()
            .try_reserve_owned_until(now)
            .unwrap_err()
            .is_full()
    );
    assert_eq!(tx.sending(), 0, "every form left the line");
    drop(held);
    drop(rx);
    assert_eq!(
        tx.try_reserve().unwrap_err(),
        TrySendError::Disconnected(())
    );
    assert_eq!(tx.reserve_blocking().unwrap_err(), SendError(()));
    assert!(tx.try_reserve_for(LONG).unwrap_err().is_disconnected());
    let back = tx
        .clone()
        .reserve_owned_blocking()
        .unwrap_err()
        .into_inner();
    assert!(back.same_channel(&tx));
    let back = tx.clone().try_reserve_owned().unwrap_err();
    assert!(back.is_disconnected());
}

#[test]
fn a_waiting_reserve_wakes_with_the_error_when_the_channel_closes() {
    let (tx, rx) = channel::bounded::<u8>(1);
    tx.try_send(0).unwrap();
    let mut reserve = Task::new(tx.reserve());
    let mut owned = Task::new(tx.clone().reserve_owned());
    assert!(reserve.poll().is_pending());
    assert!(owned.poll().is_pending());
    rx.close();
    assert!(reserve.is_woken() && owned.is_woken());
    assert_eq!(ready(reserve.poll()).unwrap_err(), SendError(()));
    let back = ready(owned.poll()).unwrap_err().into_inner();
    assert!(back.same_channel(&tx));
    assert_eq!(rx.try_recv(), Ok(0));
}

#[test]
fn an_unbounded_channel_always_has_a_place() {
    let (tx, rx) = channel::unbounded();
    let permits: Vec<Permit<'_, usize>> = (0..100).map(|_| tx.try_reserve().unwrap()).collect();
    assert_eq!(tx.reserved(), 100);
    for (i, permit) in permits.into_iter().enumerate() {
        permit.send(i);
    }
    assert_eq!(rx.len(), 100);
    assert_eq!(tx.reserved(), 0);
    assert_eq!(rx.try_recv(), Ok(0));
}

#[test]
fn a_permit_taken_before_a_close_still_sends_and_receivers_wait_for_it() {
    for close_from_sender in [false, true] {
        let (tx, rx) = channel::bounded(2);
        let permit = tx.try_reserve().unwrap();
        if close_from_sender {
            tx.close();
        } else {
            rx.close();
        }
        assert!(tx.try_reserve().unwrap_err().is_disconnected());
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "a permit is out");
        let mut recv = Task::new(rx.recv());
        assert!(recv.poll().is_pending());
        permit.send(7);
        assert!(recv.is_woken());
        assert_eq!(ready(recv.poll()), Ok(7));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    }
}

#[test]
fn the_last_permit_dropped_after_a_close_wakes_the_receivers() {
    let (tx, rx) = channel::bounded::<u8>(4);
    let a = tx.try_reserve().unwrap();
    let b = tx.clone().try_reserve_owned().unwrap();
    rx.close();
    let mut recv = Task::new(rx.recv());
    let mut recv2 = Task::new(rx.recv());
    assert!(recv.poll().is_pending());
    assert!(recv2.poll().is_pending());
    drop(a);
    assert!(!recv.is_woken(), "one permit is still out");
    drop(b);
    assert!(recv.is_woken() && recv2.is_woken());
    assert_eq!(ready(recv.poll()), Err(RecvError));
    assert_eq!(ready(recv2.poll()), Err(RecvError));
}

#[test]
fn a_permit_sends_into_nothing_once_every_receiver_is_gone() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = channel::bounded(1);
    let permit = tx.try_reserve().unwrap();
    let owned = tx.clone().try_reserve_owned();
    assert!(owned.unwrap_err().is_full());
    drop(rx);
    permit.send(Dropped(drops.clone()));
    assert_eq!(drops.load(Ordering::SeqCst), 1, "dropped at once");
    assert_eq!(tx.reserved(), 0);
    assert_eq!(tx.len(), 0);
}

#[test]
fn the_futures_are_send_and_sync_and_the_owned_ones_static() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn owned<T: Send + Sync + 'static>(_: &T) {}
    let (tx, _rx) = channel::bounded::<String>(1);
    let reserve = tx.reserve();
    send_sync(&reserve);
    let permit = tx.try_reserve().unwrap();
    send_sync(&permit);
    drop(permit);
    drop(reserve);
    let owned_reserve = tx.clone().reserve_owned();
    owned(&owned_reserve);
    drop(owned_reserve);
    let owned_permit = tx.try_reserve_owned().unwrap();
    owned(&owned_permit);
    assert!(format!("{owned_permit:?}").starts_with("OwnedPermit"));
}

/// Compile-time: `Send`/`Sync` exactly where sound, the wait futures
/// `!Unpin` (their node is pinned), no `Clone` for a permit.
mod static_checks {
    use polysync::channel::{OwnedPermit, Permit, ReserveFuture, ReserveOwnedFuture};
    use static_assertions::{assert_impl_all, assert_not_impl_any};
    use std::fmt::Debug;
    use std::rc::Rc;

    assert_impl_all!(ReserveFuture<'static, u8>: Send, Sync, Debug);
    assert_not_impl_any!(ReserveFuture<'static, u8>: Unpin);
    assert_impl_all!(ReserveOwnedFuture<u8>: Send, Sync, Debug);
    assert_not_impl_any!(ReserveOwnedFuture<u8>: Unpin);
    assert_impl_all!(Permit<'static, u8>: Send, Sync, Debug);
    assert_impl_all!(OwnedPermit<u8>: Send, Sync, Debug);
    assert_not_impl_any!(Permit<'static, u8>: Clone);
    assert_not_impl_any!(OwnedPermit<u8>: Clone);
    assert_not_impl_any!(ReserveFuture<'static, Rc<u8>>: Send, Sync);
    assert_not_impl_any!(Permit<'static, Rc<u8>>: Send, Sync);
    assert_not_impl_any!(OwnedPermit<Rc<u8>>: Send, Sync);
}

// ---- every form in every world ---------------------------------------

/// The receiving side of the world tests: takes `n` values in order; while
/// the sender has forms left that must wait, it first waits until the
/// sender queued (so each of those forms really waits).
fn receive_in_order(rx: &channel::Receiver<u32>, n: u32) {
    for k in 0..n {
        if k + 2 < n {
            wait_until("the sender to wait for a place", || rx.sending() == 1);
        }
        assert_eq!(rx.recv_blocking(), Ok(k));
    }
    assert_eq!(rx.recv_blocking(), Err(RecvError), "the sender is gone");
    assert_eq!(rx.reserved(), 0);
}

/// Every blocking form in order, on a channel of capacity 2: the first two
/// fill it without waiting; every later one waits until the receiver takes
/// a value. `$explicit` runs its body with the world's explicit waiter.
macro_rules! blocking_forms {
    ($tx:expr, $explicit:ident) => {{
        let tx: channel::Sender<u32> = $tx;
        tx.try_reserve().unwrap().send(0);
        let tx = tx.try_reserve_owned().unwrap().send(1);
        tx.reserve_blocking().unwrap().send(2);
        tx.try_reserve_for(LONG).unwrap().send(3);
        tx.try_reserve_until(Instant::now() + LONG).unwrap().send(4);
        $explicit!(|w| tx.reserve_with(w, None).unwrap().send(5));
        let tx = tx.reserve_owned_blocking().unwrap().send(6);
        let tx = tx.try_reserve_owned_for(LONG).unwrap().send(7);
        let tx = tx
            .try_reserve_owned_until(Instant::now() + LONG)
            .unwrap()
            .send(8);
        let tx = $explicit!(|w| tx.reserve_owned_with(w, None).unwrap().send(9));
        drop(tx);
    }};
}
const BLOCKING_FORMS: u32 = 10;

macro_rules! thread_waiter {
    (|$w:ident| $body:expr) => {
        ThreadWaiter::with_current(|$w| $body)
    };
}

macro_rules! may_waiter {
    (|$w:ident| $body:expr) => {{
        let waiter = polysync_may::MayWaiter::current();
        let $w = &waiter;
        $body
    }};
}

macro_rules! green_waiter {
    (|$w:ident| $body:expr) => {
        polysync_corosensei::GreenWaiter::with_current(|$w| $body).expect("in a green thread")
    };
}

#[test]
fn every_blocking_form_on_os_threads() {
    let _dog = dog("every_blocking_form_on_os_threads");
    let (tx, rx) = channel::bounded(2);
    let sender = std::thread::spawn(move || blocking_forms!(tx, thread_waiter));
    receive_in_order(&rx, BLOCKING_FORMS);
    sender.join().unwrap();
}

fn may_installed() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        may::config().set_workers(2).set_worker_pin(false);
        polysync_may::install().expect("install the may backend");
    });
}

#[test]
#[cfg_attr(miri, ignore)] // may and corosensei switch stacks in assembly
fn every_blocking_form_in_a_may_coroutine() {
    let _dog = dog("every_blocking_form_in_a_may_coroutine");
    may_installed();
    let (tx, rx) = channel::bounded(2);
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    may::go!(move || {
        blocking_forms!(tx, may_waiter);
        let _ = done_tx.send(());
    });
    receive_in_order(&rx, BLOCKING_FORMS);
    done_rx.recv().unwrap();
}

#[test]
#[cfg_attr(miri, ignore)] // may and corosensei switch stacks in assembly
fn every_blocking_form_in_a_corosensei_green_thread() {
    let _dog = dog("every_blocking_form_in_a_corosensei_green_thread");
    let _ = polysync_corosensei::install();
    let (tx, rx) = channel::bounded(2);
    let hub = std::thread::spawn(move || {
        polysync_corosensei::run(move || blocking_forms!(tx, green_waiter))
    });
    receive_in_order(&rx, BLOCKING_FORMS);
    hub.join().unwrap();
}

/// The async forms, on a channel of capacity 2 as `blocking_forms!`.
async fn async_forms(tx: channel::Sender<u32>) -> channel::Sender<u32> {
    tx.try_reserve().unwrap().send(0);
    let tx = tx.try_reserve_owned().unwrap().send(1);
    tx.reserve().await.unwrap().send(2);
    tx.reserve_owned().await.unwrap().send(3)
}

#[test]
fn every_async_form_in_tokio_tasks() {
    let _dog = dog("every_async_form_in_tokio_tasks");
    let rt = multi_thread_rt();
    let (tx, rx) = channel::bounded(2);
    let task = rt.spawn(async move {
        let tx = async_forms(tx).await;
        // tokio's own timeout over the future: a place comes first.
        tokio::time::timeout(LONG, tx.reserve())
            .await
            .expect("a place before the timeout")
            .unwrap()
            .send(4);
    });
    receive_in_order(&rx, 5);
    rt.block_on(task).unwrap();
}

#[test]
#[cfg_attr(miri, ignore)] // async-io's timer: Miri has no timerfd
fn every_async_form_in_futures_lite_tasks() {
    let _dog = dog("every_async_form_in_futures_lite_tasks");
    let (tx, rx) = channel::bounded(2);
    let task = std::thread::spawn(move || {
        futures_lite::future::block_on(async move {
            let tx = async_forms(tx).await;
            // async-io's timer raced against the reserve: the place wins.
            let reserve = async { Some(tx.reserve().await) };
            let timer = async {
                async_io::Timer::after(LONG).await;
                None
            };
            let permit = futures_lite::future::or(reserve, timer).await;
            permit.expect("a place before the timer").unwrap().send(4);
        })
    });
    receive_in_order(&rx, 5);
    task.join().unwrap();
}

/// One channel, a waiting reserver in each world at once, released one by
/// one by a receiver on yet another thread: each gets its place.
#[test]
#[cfg_attr(miri, ignore)] // may and corosensei switch stacks in assembly
fn reservers_in_every_world_share_one_channel() {
    let _dog = dog("reservers_in_every_world_share_one_channel");
    may_installed();
    let _ = polysync_corosensei::install();
    let rt = multi_thread_rt();
    let (tx, rx) = channel::bounded::<u32>(1);
    tx.try_send(100).unwrap();
    let mut units = Vec::new();
    {
        let tx = tx.clone();
        units.push(std::thread::spawn(move || {
            tx.reserve_blocking().unwrap().send(0)
        }));
    }
    {
        let tx = tx.clone();
        let task = rt.spawn(async move { tx.reserve_owned().await.unwrap().send(1) });
        units.push(std::thread::spawn(move || {
            drop(futures_lite::future::block_on(task))
        }));
    }
    {
        let tx = tx.clone();
        units.push(std::thread::spawn(move || {
            futures_lite::future::block_on(async { tx.reserve().await.unwrap().send(2) })
        }));
    }
    {
        let tx = tx.clone();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        may::go!(move || {
            tx.try_reserve_for(LONG).unwrap().send(3);
            let _ = done_tx.send(());
        });
        units.push(std::thread::spawn(move || done_rx.recv().unwrap()));
    }
    {
        let tx = tx.clone();
        units.push(std::thread::spawn(move || {
            polysync_corosensei::run(move || {
                drop(tx.reserve_owned_blocking().unwrap().send(4));
            })
        }));
    }
    drop(tx);
    wait_until("every reserver to queue", || rx.sending() == 5);
    let mut got: Vec<u32> = (0..6).map(|_| rx.recv_blocking().unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, [0, 1, 2, 3, 4, 100]);
    for unit in units {
        unit.join().unwrap();
    }
    assert_eq!(rx.recv_blocking(), Err(RecvError));
}

// ---- cancellation storm ----------------------------------------------

/// A small deterministic generator (the storm's choices; no timing).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Random reserves dropped while waiting, timed out, given a place and
/// dropped before their poll, permits dropped unused or sent, plain sends
/// and receives beside them, in tokio tasks, futures-lite tasks and OS
/// threads. Every value sent through a permit (or a send) is received
/// exactly once, and the channel ends with every place free.
#[test]
#[cfg_attr(miri, ignore)] // thousands of operations on tokio: hours under Miri
fn cancellation_storm() {
    let _dog = Watchdog::new("cancellation_storm", Duration::from_secs(60));
    const CAP: usize = 3;
    const ROUNDS: u64 = 300;
    let rt = multi_thread_rt();
    let (tx, rx) = channel::bounded::<u64>(CAP);
    let sent = Arc::new(StdMutex::new(Vec::new()));
    let received = Arc::new(StdMutex::new(Vec::new()));
    let mut handles = Vec::new();

    // tokio tasks: reserves raced against short timeouts and yields.
    let mut tasks = Vec::new();
    for id in 0..3u64 {
        let (tx, sent) = (tx.clone(), sent.clone());
        tasks.push(rt.spawn(async move {
            let mut rng = Rng(0x9e37_79b9 + id);
            for round in 0..ROUNDS {
                let value = id << 32 | round;
                match rng.below(5) {
                    0 => {
                        let waited = tokio::time::timeout(
                            Duration::from_micros(rng.below(200)),
                            tx.reserve(),
                        )
                        .await;
                        if let Ok(Ok(permit)) = waited {
                            if rng.below(2) == 0 {
                                permit.send(value);
                                sent.lock().unwrap().push(value);
                            }
                        }
                    }
                    1 => {
                        // Polled once, then dropped: pending, or given a
                        // place it passes on.
                        let mut reserve = Box::pin(tx.reserve());
                        let polled = futures_lite::future::poll_once(reserve.as_mut()).await;
                        if let Some(Ok(permit)) = polled {
                            permit.send(value);
                            sent.lock().unwrap().push(value);
                        }
                        tokio::task::yield_now().await;
                        drop(reserve);
                    }
                    2 => {
                        let owned = tokio::time::timeout(
                            Duration::from_micros(rng.below(200)),
                            tx.clone().reserve_owned(),
                        )
                        .await;
                        if let Ok(Ok(permit)) = owned {
                            tokio::task::yield_now().await;
                            if rng.below(2) == 0 {
                                drop(permit.send(value));
                                sent.lock().unwrap().push(value);
                            } else {
                                drop(permit.release());
                            }
                        }
                    }
                    3 => {
                        if tx.send(value).await.is_ok() {
                            sent.lock().unwrap().push(value);
                        }
                    }
                    _ => {
                        let permit = tx.reserve().await.unwrap();
                        tokio::task::yield_now().await;
                        permit.send(value);
                        sent.lock().unwrap().push(value);
                    }
                }
            }
        }));
    }

    // OS threads: blocking and timed forms.
    for id in 3..5u64 {
        let (tx, sent) = (tx.clone(), sent.clone());
        handles.push(std::thread::spawn(move || {
            let mut rng = Rng(0x51ed_270b + id);
            for round in 0..ROUNDS {
                let value = id << 32 | round;
                let permit = match rng.below(3) {
                    0 => tx
                        .try_reserve_for(Duration::from_micros(rng.below(300)))
                        .ok(),
                    1 => tx.try_reserve().ok(),
                    _ => Some(tx.reserve_blocking().unwrap()),
                };
                if let Some(permit) = permit {
                    if rng.below(3) > 0 {
                        permit.send(value);
                        sent.lock().unwrap().push(value);
                    }
                }
            }
        }));
    }

    // Receivers: a thread, and a futures-lite task whose receives are
    // sometimes dropped (a receive cancelled after a hand-off puts the
    // value back).
    for id in 0..2u64 {
        let (rx, received) = (rx.clone(), received.clone());
        handles.push(std::thread::spawn(move || {
            let mut rng = Rng(0x2545_f491 + id);
            if id == 0 {
                while let Ok(v) = rx.recv_blocking() {
                    received.lock().unwrap().push(v);
                }
            } else {
                futures_lite::future::block_on(async {
                    loop {
                        let mut recv = Box::pin(rx.recv());
                        if rng.below(4) == 0 {
                            if let Some(got) = futures_lite::future::poll_once(recv.as_mut()).await
                            {
                                match got {
                                    Ok(v) => received.lock().unwrap().push(v),
                                    Err(RecvError) => break,
                                }
                            }
                            futures_lite::future::yield_now().await;
                            continue;
                        }
                        match recv.await {
                            Ok(v) => received.lock().unwrap().push(v),
                            Err(RecvError) => break,
                        }
                    }
                })
            }
        }));
    }
    drop(rx);

    for task in tasks {
        rt.block_on(task).unwrap();
    }
    let receivers = handles.split_off(2);
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(tx.reserved(), 0, "a place is still held");
    assert_eq!(tx.sending(), 0);
    drop(tx);
    for h in receivers {
        h.join().unwrap();
    }
    let mut sent = std::mem::take(&mut *sent.lock().unwrap());
    let mut received = std::mem::take(&mut *received.lock().unwrap());
    sent.sort_unstable();
    received.sort_unstable();
    assert!(!sent.is_empty());
    assert_eq!(received, sent, "every value exactly once");
}

// ---- tokio's tests/sync_mpsc.rs, the reserve tests ----------------------

/// tokio: `send_recv_with_buffer`.
#[test]
fn tokio_send_recv_with_buffer() {
    futures_lite::future::block_on(async {
        let (tx, rx) = channel::bounded::<i32>(16);
        let permit = tx.reserve().await.unwrap();
        permit.send(1);
        tx.try_send(2).unwrap();
        drop(tx);
        assert_eq!(rx.recv().await, Ok(1));
        assert_eq!(rx.recv().await, Ok(2));
        assert!(rx.recv().await.is_err());
    });
}

/// tokio: `reserve_disarm`.
#[test]
fn tokio_reserve_disarm() {
    let (tx, rx) = channel::bounded::<i32>(2);
    let (tx1, tx2, tx3, tx4) = (tx.clone(), tx.clone(), tx.clone(), tx);
    let permit1 = tx1.try_reserve().unwrap();
    let permit2 = tx2.try_reserve().unwrap();
    let mut r3 = Task::new(tx3.reserve());
    assert!(r3.poll().is_pending());
    let mut r4 = Task::new(tx4.reserve());
    assert!(r4.poll().is_pending());
    permit1.send(1);
    // The value holds the place until it is received.
    assert!(!r3.is_woken());
    rx.try_recv().unwrap();
    assert!(r3.is_woken());
    assert!(!r4.is_woken());
    drop(permit2);
    assert!(r4.is_woken());
    let mut r1 = Task::new(tx1.reserve());
    assert!(r1.poll().is_pending());
}

/// tokio: `start_send_past_cap`.
#[test]
fn tokio_start_send_past_cap() {
    let (tx1, rx) = channel::bounded(1);
    let tx2 = tx1.clone();
    tx1.try_send(()).unwrap();
    let mut r1 = Task::new(tx1.reserve());
    assert!(r1.poll().is_pending());
    {
        let mut r2 = Task::new(tx2.reserve());
        assert!(r2.poll().is_pending());
        let woken_before = r1.is_woken();
        drop(r1);
        assert!(rx.try_recv().is_ok());
        assert!(r2.is_woken());
        assert!(!woken_before);
    }
    drop(tx1);
    drop(tx2);
    assert_eq!(rx.recv_blocking(), Err(RecvError));
}

/// tokio: `send_recv_buffer_limited`.
#[test]
fn tokio_send_recv_buffer_limited() {
    let (tx, rx) = channel::bounded::<i32>(1);
    let p1 = tx.try_reserve().unwrap();
    p1.send(1);
    let mut p2 = Task::new(tx.reserve());
    assert!(p2.poll().is_pending());
    assert!(rx.try_recv().is_ok());
    assert!(p2.is_woken());
    assert!(tx.try_send(1337).is_err());
    let permit = ready(p2.poll()).unwrap();
    permit.send(2);
    assert!(rx.try_recv().is_ok());
}

/// tokio: `recv_close_gets_none_reserved`.
#[test]
fn tokio_recv_close_gets_none_reserved() {
    let (tx1, rx) = channel::bounded::<i32>(1);
    let tx2 = tx1.clone();
    let permit1 = tx1.try_reserve().unwrap();
    let mut permit2 = Task::new(tx2.reserve());
    assert!(permit2.poll().is_pending());
    rx.close();
    assert!(permit2.is_woken());
    assert!(ready(permit2.poll()).is_err());
    {
        let mut recv = Task::new(rx.recv());
        assert!(recv.poll().is_pending());
        permit1.send(123);
        assert!(recv.is_woken());
        assert_eq!(ready(recv.poll()), Ok(123));
    }
    assert_eq!(rx.recv_blocking(), Err(RecvError));
}

/// tokio: `failed_reserve_wakes_closed_receiver`. Adapted: tokio's reserve
/// that was assigned the place before the close fails when polled after
/// it; polysync's completes with the permit it was given (a permit taken
/// before a close may still send), and dropping that permit wakes the
/// receiver.
#[test]
fn tokio_failed_reserve_wakes_closed_receiver() {
    let (tx, rx) = channel::bounded::<()>(1);
    let permit = tx.try_reserve().unwrap();
    let mut reserve = Task::new(tx.reserve());
    assert!(reserve.poll().is_pending());
    drop(permit);
    assert!(reserve.is_woken());
    rx.close();
    let mut recv = Task::new(rx.recv());
    assert!(recv.poll().is_pending());
    let granted = ready(reserve.poll()).expect("given the place before the close");
    assert!(!recv.is_woken());
    drop(granted);
    assert!(recv.is_woken());
    assert_eq!(ready(recv.poll()), Err(RecvError));
}

/// tokio: `cancelled_reserve_wakes_closed_receiver`.
#[test]
fn tokio_cancelled_reserve_wakes_closed_receiver() {
    let (tx, rx) = channel::bounded::<()>(1);
    let permit = tx.try_reserve().unwrap();
    let mut reserve = Task::new(tx.reserve());
    assert!(reserve.poll().is_pending());
    drop(permit);
    assert!(reserve.is_woken());
    rx.close();
    let mut recv = Task::new(rx.recv());
    assert!(recv.poll().is_pending());
    drop(reserve);
    assert!(recv.is_woken());
    assert!(ready(recv.poll()).is_err());
}

/// tokio: `try_reserve_fails`.
#[test]
fn tokio_try_reserve_fails() {
    let (tx, rx) = channel::bounded(1);
    let permit = tx.try_reserve().unwrap();
    assert_eq!(tx.try_reserve().unwrap_err(), TrySendError::Full(()));
    permit.send("foo");
    assert_eq!(rx.try_recv(), Ok("foo"));
    let permit = tx.try_reserve().unwrap();
    drop(permit);
    let _permit = tx.try_reserve().unwrap();
}

/// tokio: `drop_permit_releases_permit`.
#[test]
fn tokio_drop_permit_releases_permit() {
    let (tx1, _rx) = channel::bounded::<i32>(1);
    let tx2 = tx1.clone();
    let permit = tx1.try_reserve().unwrap();
    let mut reserve2 = Task::new(tx2.reserve());
    assert!(reserve2.poll().is_pending());
    drop(permit);
    assert!(reserve2.is_woken());
    assert!(ready(reserve2.poll()).is_ok());
}

/// tokio: `dropping_last_permit_wakes_closed_receiver`,
/// `dropping_last_owned_permit_wakes_closed_receiver`,
/// `sending_last_permit_wakes_closed_receiver`,
/// `sending_last_owned_permit_wakes_closed_receiver`,
/// `releasing_last_owned_permit_wakes_closed_receiver` and
/// `ready_close_cancel_bounded`, one loop.
#[test]
fn tokio_the_last_permit_wakes_the_closed_receiver() {
    for how in 0..5 {
        let (tx, rx) = channel::bounded::<()>(100);
        let _tx2 = tx.clone();
        let borrowed = (how < 2).then(|| tx.try_reserve().unwrap());
        let owned = (how >= 2).then(|| tx.clone().try_reserve_owned().unwrap());
        rx.close();
        let mut recv = Task::new(rx.recv());
        assert!(recv.poll().is_pending());
        let expected = match how {
            0 => {
                drop(borrowed);
                Err(RecvError)
            }
            1 => {
                borrowed.unwrap().send(());
                Ok(())
            }
            2 => {
                drop(owned);
                Err(RecvError)
            }
            3 => {
                drop(owned.unwrap().send(()));
                Ok(())
            }
            _ => {
                drop(owned.unwrap().release());
                Err(RecvError)
            }
        };
        assert!(recv.is_woken(), "case {how}");
        assert_eq!(ready(recv.poll()), expected, "case {how}");
    }
}

/// tokio: `dropping_rx_closes_channel` and `dropping_rx_closes_channel_for_try`.
#[test]
fn tokio_dropping_rx_closes_channel() {
    let (tx, rx) = channel::bounded(100);
    let msg = Arc::new(());
    tx.try_send(msg.clone()).unwrap();
    drop(rx);
    assert!(futures_lite::future::block_on(tx.reserve()).is_err());
    assert!(tx.try_send(msg.clone()).unwrap_err().is_disconnected());
    assert!(tx.try_reserve().unwrap_err().is_disconnected());
    assert!(
        tx.clone()
            .try_reserve_owned()
            .unwrap_err()
            .is_disconnected()
    );
    assert_eq!(Arc::strong_count(&msg), 1);
}

/// A waker that holds an owned permit: dropping the waker frees a place.
struct PermitInWaker {
    _permit: StdMutex<Option<channel::OwnedPermit<i32>>>,
}

impl Wake for PermitInWaker {
    fn wake(self: Arc<Self>) {}
}

/// tokio: `dropping_rx_drops_sender_wakers_outside_lock`: a waker whose
/// drop frees a permit's place (taking the channel's lock) is dropped by
/// the close outside the lock: no deadlock.
#[test]
fn tokio_dropping_rx_drops_sender_wakers_outside_lock() {
    let _dog = dog("tokio_dropping_rx_drops_sender_wakers_outside_lock");
    let (tx, rx) = channel::bounded(2);
    let permit = tx.clone().try_reserve_owned().unwrap();
    tx.try_send(1).unwrap();
    let mut reserve = Box::pin(tx.reserve());
    let waker = Waker::from(Arc::new(PermitInWaker {
        _permit: StdMutex::new(Some(permit)),
    }));
    assert!(
        reserve
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    );
    drop(waker);
    drop(rx);
    let polled = reserve
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()));
    assert!(matches!(polled, Poll::Ready(Err(_))));
}

/// tokio: `permit_available_not_acquired_close`.
#[test]
fn tokio_permit_available_not_acquired_close() {
    let (tx1, rx) = channel::bounded::<()>(1);
    let tx2 = tx1.clone();
    let permit1 = tx1.try_reserve().unwrap();
    let mut permit2 = Task::new(tx2.reserve());
    assert!(permit2.poll().is_pending());
    rx.close();
    drop(permit1);
    // Closed before the place was free: the waiting reserve failed.
    assert!(permit2.is_woken());
    drop(permit2);
    assert_eq!(rx.recv_blocking(), Err(RecvError));
}
