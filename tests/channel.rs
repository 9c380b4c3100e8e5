//! `polysync::channel` across worlds: OS threads (blocking forms), tokio
//! tasks on a 2-worker multi-thread runtime, and `futures_lite::block_on`
//! tasks (each on its own thread).
//!
//! What is proven:
//! - **Last sender dropped, receivers wake:** receivers blocked in all three
//!   worlds (counted as waiting through `receiving()`) wake with
//!   `Disconnected` when the last sender drops, whichever world drops it; a
//!   drop of a non-last sender (or of a `WeakSender`) wakes nobody. Values
//!   sent before the drop are all received first.
//! - **Last receiver dropped, senders fail:** senders blocked on a full
//!   channel in all three worlds wake with `SendError` holding
//!   their own value, whichever world drops the last receiver; the values
//!   left in the channel are dropped (counted by a `Drop` counter), and a
//!   later send fails at once with its value back.
//! - **Conservation under a cancellation storm:** producers and consumers in
//!   every world, with random time-outs (blocking `try_*_for`), futures
//!   dropped at random (`timeout` around `recv`) and futures withdrawn with
//!   `cancel()` (which gives the value back), move an exact set of values:
//!   every value sent is received exactly once.
//! - Plain semantics: the error of each form, counts, `WeakSender`, explicit
//!   `close`, `bounded(0)` panics.
//!
//! Every test runs under a watchdog: a lost wake-up aborts the run.

#[path = "support/worlds.rs"]
mod worlds;
use worlds::{Watchdog, multi_thread_rt, wait_until};

use polysync::channel::{self, Receiver, RecvError, SendError, Sender, TryRecvError, TrySendError};
use polysync::lowlevel::ThreadWaiter;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
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
}
use World::*;
const WORLDS: [World; 3] = [Thread, Tokio, Lite];

/// A unit running in some world.
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

/// Runs `blocking` on a new thread (world `Thread`), or the future made by
/// `task` as a tokio task (`Tokio`) or under `futures_lite::block_on` on a
/// new thread (`Lite`).
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
        Thread => Unit::Thread(thread::spawn(blocking)),
        Tokio => Unit::Tokio(rt.spawn(async move { task().await })),
        Lite => Unit::Thread(thread::spawn(
            move || futures_lite::future::block_on(task()),
        )),
    }
}

/// Drops `end` inside `world` and waits until that is done.
fn drop_in<E: Send + 'static>(world: World, rt: &tokio::runtime::Runtime, end: E) {
    let end = Arc::new(Mutex::new(Some(end)));
    let e2 = end.clone();
    spawn(
        world,
        rt,
        move || drop(end.lock().unwrap().take()),
        move || async move { drop(e2.lock().unwrap().take()) },
    )
    .join(rt);
}

/// A value that counts its drops.
struct Counted(u64, Arc<AtomicUsize>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::SeqCst);
    }
}

/// Receives until `Disconnected`: blocking for a thread (alternating the
/// plain and the timed form), async otherwise.
fn receiver_unit(
    world: World,
    rt: &tokio::runtime::Runtime,
    rx: Receiver<u64>,
    index: usize,
) -> Unit<Vec<u64>> {
    let rx2 = rx.clone();
    spawn(
        world,
        rt,
        move || {
            let mut got = Vec::new();
            loop {
                let next = if index % 2 == 0 {
                    rx.recv_blocking().map_err(TryRecvError::from)
                } else {
                    rx.try_recv_for(Duration::from_secs(50))
                };
                match next {
                    Ok(v) => got.push(v),
                    Err(TryRecvError::Disconnected) => return got,
                    Err(e) => panic!("unexpected {e:?}"),
                }
            }
        },
        move || async move {
            let mut got = Vec::new();
            loop {
                match rx2.recv().await {
                    Ok(v) => got.push(v),
                    // The only error of an untimed receive.
                    Err(RecvError) => return got,
                }
            }
        },
    )
}

fn last_sender_drop_wakes_receivers(dropper: World) {
    let rt = multi_thread_rt();
    let (tx, rx) = channel::bounded::<u64>(4);
    // Two receivers per world, all waiting on the empty channel.
    let receivers: Vec<_> = (0..6)
        .map(|i| receiver_unit(WORLDS[i % 3], &rt, rx.clone(), i))
        .collect();
    wait_until("six waiting receivers", || tx.receiving() == 6);
    // Values sent now go to the waiting receivers (hand-off, FIFO).
    for v in 0..3 {
        tx.send_blocking(v).unwrap();
    }
    // A second sender and a weak sender: dropping them wakes nobody.
    let tx2 = tx.clone();
    let weak = tx.downgrade();
    drop_in(dropper, &rt, tx2);
    drop(weak);
    wait_until("the three values taken", || {
        tx.receiving() == 6 && tx.is_empty()
    });
    assert!(!rx.is_closed(), "a non-last sender closed the channel");
    // The last sender, dropped in `dropper`, wakes all six.
    drop_in(dropper, &rt, tx);
    let mut all: Vec<u64> = receivers.into_iter().flat_map(|u| u.join(&rt)).collect();
    all.sort_unstable();
    assert_eq!(all, [0, 1, 2]);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(rx.receiving(), 0);
}

#[test]
fn last_sender_dropped_in_a_thread_wakes_receivers_in_every_world() {
    let _dog = dog("last sender (thread)");
    last_sender_drop_wakes_receivers(Thread);
}

#[test]
fn last_sender_dropped_in_a_tokio_task_wakes_receivers_in_every_world() {
    let _dog = dog("last sender (tokio)");
    last_sender_drop_wakes_receivers(Tokio);
}

#[test]
fn last_sender_dropped_in_a_block_on_task_wakes_receivers_in_every_world() {
    let _dog = dog("last sender (block_on)");
    last_sender_drop_wakes_receivers(Lite);
}

fn last_receiver_drop_fails_senders(dropper: World) {
    let rt = multi_thread_rt();
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = channel::bounded::<Counted>(2);
    tx.try_send(Counted(100, drops.clone())).unwrap();
    tx.try_send(Counted(101, drops.clone())).unwrap();
    // Two blocked senders per world, each with its own value.
    let senders: Vec<_> = (0..6u64)
        .map(|i| {
            let (tx, tx2) = (tx.clone(), tx.clone());
            let value = Arc::new(Mutex::new(Some(Counted(i, drops.clone()))));
            let value2 = value.clone();
            let world = WORLDS[i as usize % 3];
            spawn(
                world,
                &rt,
                move || {
                    let value = value.lock().unwrap().take().unwrap();
                    let back = if i % 2 == 0 {
                        tx.send_blocking(value).map_err(TrySendError::from)
                    } else {
                        tx.try_send_for(value, Duration::from_secs(50))
                    };
                    match back {
                        Err(TrySendError::Disconnected(v)) => v.0,
                        other => panic!("sender {i}: {:?}", other.map_err(|e| e.to_string())),
                    }
                },
                move || async move {
                    let value = value2.lock().unwrap().take().unwrap();
                    match tx2.send(value).await {
                        // The only error of an untimed send.
                        Err(SendError(v)) => v.0,
                        Ok(()) => panic!("sender {i}: sent into a full channel"),
                    }
                },
            )
        })
        .collect();
    wait_until("six blocked senders", || tx.sending() == 6);
    let rx2 = rx.clone();
    drop_in(dropper, &rt, rx2);
    assert!(!tx.is_closed(), "a non-last receiver closed the channel");
    assert_eq!(tx.sending(), 6);
    drop_in(dropper, &rt, rx);
    let mut back: Vec<u64> = senders.into_iter().map(|u| u.join(&rt)).collect();
    back.sort_unstable();
    assert_eq!(
        back,
        [0, 1, 2, 3, 4, 5],
        "every sender got its own value back"
    );
    // The two values left in the channel were dropped with the last
    // receiver; the six given back were dropped by their senders.
    assert_eq!(drops.load(Ordering::SeqCst), 8);
    assert!(tx.is_closed() && tx.is_empty());
    match tx.try_send(Counted(7, drops.clone())) {
        Err(TrySendError::Disconnected(v)) => assert_eq!(v.0, 7),
        other => panic!("{:?}", other.map_err(|e| e.to_string())),
    }
    assert_eq!(tx.receiver_count(), 0);
}

#[test]
fn last_receiver_dropped_in_a_thread_fails_senders_in_every_world() {
    let _dog = dog("last receiver (thread)");
    last_receiver_drop_fails_senders(Thread);
}

#[test]
fn last_receiver_dropped_in_a_tokio_task_fails_senders_in_every_world() {
    let _dog = dog("last receiver (tokio)");
    last_receiver_drop_fails_senders(Tokio);
}

#[test]
fn last_receiver_dropped_in_a_block_on_task_fails_senders_in_every_world() {
    let _dog = dog("last receiver (block_on)");
    last_receiver_drop_fails_senders(Lite);
}

// ---------------------------------------------------------------- storm

/// Storm events, to show the storm really cancelled things: sends given
/// back by `cancel()`, blocking sends and receives that timed out, pending
/// receives dropped or cancelled.
static SEND_CANCELS: AtomicUsize = AtomicUsize::new(0);
static TIMEOUTS: AtomicUsize = AtomicUsize::new(0);
static RECV_GIVEUPS: AtomicUsize = AtomicUsize::new(0);

/// A small xorshift generator (no dependency), seeded per unit.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// 0 to 100 µs.
    fn short(&mut self) -> Duration {
        Duration::from_micros(self.below(100))
    }
}

/// Races `fut` with a sleep of `dur`: `Some(output)` if it completed first.
/// The future is only polled, never dropped here: the caller decides
/// (cancel it, drop it).
async fn race<F: Future + ?Sized, S: Future<Output = ()>>(
    mut fut: std::pin::Pin<&mut F>,
    sleep: S,
) -> Option<F::Output> {
    let mut sleep = pin!(sleep);
    poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

fn sleep_in(world: World, dur: Duration) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
    match world {
        Tokio => Box::pin(tokio::time::sleep(dur)),
        _ => Box::pin(async move {
            async_io::Timer::after(dur).await;
        }),
    }
}

/// Async producer: sends its values, each raced with a short sleep; on
/// time-out the send is withdrawn with `cancel()` and the value comes back
/// to be sent again.
async fn produce_async(world: World, tx: Sender<u64>, values: Vec<u64>, seed: u64) {
    let mut rng = Rng(seed);
    for mut v in values {
        loop {
            let mut send = pin!(tx.send(v));
            match race(send.as_mut(), sleep_in(world, rng.short())).await {
                Some(Ok(())) => break,
                Some(Err(e)) => panic!("send failed mid-storm: {e}"),
                None => match send.as_mut().cancel() {
                    None => break, // it went in as we gave up
                    Some(back) => {
                        SEND_CANCELS.fetch_add(1, Ordering::Relaxed);
                        assert_eq!(back, v, "cancel gave back another value");
                        v = back;
                    }
                },
            }
        }
    }
}

/// Async consumer: receives until `Disconnected`, each receive raced with a
/// short sleep; on time-out the receive is withdrawn, by `cancel()` (a
/// value handed over meanwhile is kept) or by dropping the future (such a
/// value goes back into the channel).
async fn consume_async(world: World, rx: Receiver<u64>, seed: u64) -> Vec<u64> {
    let mut rng = Rng(seed);
    let mut got = Vec::new();
    loop {
        let mut recv = Box::pin(rx.recv());
        match race(recv.as_mut(), sleep_in(world, rng.short())).await {
            Some(Ok(v)) => got.push(v),
            Some(Err(RecvError)) => return got,
            None if rng.below(2) == 0 => {
                RECV_GIVEUPS.fetch_add(1, Ordering::Relaxed);
                if let Some(v) = recv.as_mut().cancel() {
                    got.push(v);
                }
            }
            None => {
                RECV_GIVEUPS.fetch_add(1, Ordering::Relaxed);
                drop(recv)
            }
        }
    }
}

fn produce_blocking(tx: Sender<u64>, values: Vec<u64>, seed: u64) {
    let mut rng = Rng(seed);
    for mut v in values {
        loop {
            let sent = match rng.below(3) {
                0 => tx.try_send_for(v, rng.short()),
                1 => tx.try_send_until(v, Instant::now() + rng.short()),
                _ => tx.try_send(v),
            };
            match sent {
                Ok(()) => break,
                Err(TrySendError::Full(back)) => {
                    TIMEOUTS.fetch_add(1, Ordering::Relaxed);
                    v = back
                }
                Err(e) => panic!("send failed mid-storm: {e}"),
            }
        }
    }
}

fn consume_blocking(rx: Receiver<u64>, seed: u64) -> Vec<u64> {
    let mut rng = Rng(seed);
    let mut got = Vec::new();
    loop {
        let next = match rng.below(3) {
            0 => rx.try_recv_for(rng.short()),
            1 => rx.try_recv_until(Instant::now() + rng.short()),
            _ => rx.try_recv(),
        };
        match next {
            Ok(v) => got.push(v),
            Err(TryRecvError::Empty) => {
                TIMEOUTS.fetch_add(1, Ordering::Relaxed);
            }
            Err(TryRecvError::Disconnected) => return got,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
}

#[test]
fn cancellation_storm_conserves_every_value_across_worlds() {
    let _dog = dog("cancellation storm");
    let seed = std::env::var("POLYSYNC_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x9E37_79B9_7F4A_7C15u64);
    let rt = multi_thread_rt();
    let (tx, rx) = channel::bounded::<u64>(2);
    const PER_PRODUCER: u64 = if cfg!(miri) { 4 } else { 20_000 };
    // Two producers and two consumers per world.
    let producers: Vec<_> = (0..6u64)
        .map(|p| {
            let world = WORLDS[p as usize % 3];
            let values: Vec<u64> = (p * PER_PRODUCER..(p + 1) * PER_PRODUCER).collect();
            let (tx, tx2, values2) = (tx.clone(), tx.clone(), values.clone());
            let s = seed.wrapping_add(p * 7919) | 1;
            spawn(
                world,
                &rt,
                move || produce_blocking(tx, values, s),
                move || produce_async(world, tx2, values2, s),
            )
        })
        .collect();
    let consumers: Vec<_> = (0..6u64)
        .map(|c| {
            let world = WORLDS[c as usize % 3];
            let (rx, rx2) = (rx.clone(), rx.clone());
            let s = seed.wrapping_add(c * 104_729) | 1;
            spawn(
                world,
                &rt,
                move || consume_blocking(rx, s),
                move || consume_async(world, rx2, s),
            )
        })
        .collect();
    drop((tx, rx));
    for p in producers {
        p.join(&rt);
    }
    let mut all: Vec<u64> = consumers.into_iter().flat_map(|c| c.join(&rt)).collect();
    all.sort_unstable();
    let expected: Vec<u64> = (0..6 * PER_PRODUCER).collect();
    assert_eq!(all.len(), expected.len(), "lost or duplicated values");
    assert_eq!(all, expected, "every value exactly once");
    let events = [&SEND_CANCELS, &TIMEOUTS, &RECV_GIVEUPS].map(|c| c.load(Ordering::Relaxed));
    eprintln!("storm: send cancels, blocking time-outs, receive give-ups: {events:?}");
    // How many of each the storm hit depends on the machine's speed: a note,
    // not a failure (every value's fate is checked above).
    if events.contains(&0) {
        eprintln!("note: the storm cancelled nothing of some kind this run");
    }
}

// ---------------------------------------------------------------- semantics

#[test]
fn errors_of_each_form() {
    let _dog = dog("errors");
    let (tx, rx) = channel::bounded(1);
    // "Not now" and "not in time" alike: `Empty` / `Full`.
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(
        rx.try_recv_for(Duration::from_millis(1)),
        Err(TryRecvError::Empty)
    );
    assert_eq!(rx.try_recv_until(Instant::now()), Err(TryRecvError::Empty));
    let now = Some(Instant::now());
    assert_eq!(
        ThreadWaiter::with_current(|w| rx.recv_with(w, now)),
        Err(TryRecvError::Empty)
    );
    tx.try_send(1).unwrap();
    assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    assert_eq!(
        tx.try_send_for(3, Duration::from_millis(1)),
        Err(TrySendError::Full(3))
    );
    assert_eq!(
        tx.try_send_until(4, Instant::now()),
        Err(TrySendError::Full(4))
    );
    assert_eq!(
        ThreadWaiter::with_current(|w| tx.send_with(5, w, now)),
        Err(TrySendError::Full(5))
    );
    assert_eq!(TrySendError::Full(5).into_inner(), 5);
    assert!(TrySendError::Full(()).is_full() && !TrySendError::Full(()).is_disconnected());
    assert!(TryRecvError::Empty.is_empty() && !TryRecvError::Empty.is_disconnected());
    assert!(
        TrySendError::Disconnected(())
            .to_string()
            .contains("disconnected")
    );
    assert!(SendError(()).to_string().contains("disconnected"));
    assert!(TryRecvError::Empty.to_string().contains("empty"));
    assert!(RecvError.to_string().contains("disconnected and drained"));
    let _: &dyn std::error::Error = &TrySendError::Full(());
    let _: &dyn std::error::Error = &SendError(());
    let _: &dyn std::error::Error = &TryRecvError::Empty;
    let _: &dyn std::error::Error = &RecvError;
    // No `T: Debug` needed, and the value is left out.
    assert_eq!(format!("{:?}", TrySendError::Full(vec![1])), "Full(..)");
    assert_eq!(format!("{:?}", SendError(vec![1])), "SendError(..)");
    // `?` turns an untimed form's error into the try form's.
    assert_eq!(
        TrySendError::from(SendError(6)),
        TrySendError::Disconnected(6)
    );
    assert_eq!(TryRecvError::from(RecvError), TryRecvError::Disconnected);

    // Disconnected (every receiver gone), in every send form: the value
    // comes back.
    let (tx2, rx2) = channel::bounded::<u8>(1);
    drop(rx2);
    assert_eq!(tx2.send_blocking(1), Err(SendError(1)));
    assert_eq!(tx2.send_blocking(1).unwrap_err().into_inner(), 1);
    assert_eq!(
        futures_lite::future::block_on(tx2.send(2)),
        Err(SendError(2))
    );
    assert_eq!(tx2.try_send(3), Err(TrySendError::Disconnected(3)));
    assert_eq!(
        tx2.try_send_for(4, Duration::from_secs(5)),
        Err(TrySendError::Disconnected(4))
    );
    assert_eq!(
        tx2.try_send_until(5, Instant::now() + Duration::from_secs(5)),
        Err(TrySendError::Disconnected(5))
    );
    assert_eq!(
        ThreadWaiter::with_current(|w| tx2.send_with(6, w, None)),
        Err(TrySendError::Disconnected(6))
    );

    drop(tx);
    // Drained first, then disconnected, in every receive form.
    assert_eq!(rx.recv_blocking(), Ok(1));
    assert_eq!(rx.recv_blocking(), Err(RecvError));
    assert!(rx.recv_blocking().is_err());
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(
        rx.try_recv_for(Duration::from_secs(5)),
        Err(TryRecvError::Disconnected)
    );
    assert_eq!(
        rx.try_recv_until(Instant::now() + Duration::from_secs(5)),
        Err(TryRecvError::Disconnected)
    );
    assert_eq!(
        ThreadWaiter::with_current(|w| rx.recv_with(w, None)),
        Err(TryRecvError::Disconnected)
    );
    assert_eq!(futures_lite::future::block_on(rx.recv()), Err(RecvError));
    assert!(futures_lite::future::block_on(rx.recv()).is_err());
}

#[test]
fn counts_weak_senders_and_explicit_close() {
    let _dog = dog("counts");
    let (tx, rx) = channel::unbounded::<u8>();
    let (tx2, rx2) = (tx.clone(), rx.clone());
    assert_eq!((tx.sender_count(), tx.receiver_count()), (2, 2));
    let weak = tx.downgrade();
    assert_eq!(weak.sender_count(), 2, "a weak sender is not counted");
    let tx3 = weak.upgrade().unwrap();
    assert_eq!(rx.sender_count(), 3);
    drop((tx, tx2, tx3));
    assert!(
        weak.upgrade().is_none(),
        "no upgrade once the last sender dropped"
    );
    assert!(rx.is_closed());
    assert_eq!(weak.sender_count(), 0);
    drop(rx2);
    assert_eq!(rx.receiver_count(), 1);

    // Explicit close from either end: nothing is dropped, receivers drain.
    let (tx, rx) = channel::bounded(4);
    tx.try_send('a').unwrap();
    rx.close();
    assert!(tx.is_closed());
    assert_eq!(tx.try_send('b'), Err(TrySendError::Disconnected('b')));
    let weak = tx.downgrade();
    assert!(weak.upgrade().is_some(), "closed, but a sender lives");
    assert_eq!(rx.try_recv(), Ok('a'));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn last_receiver_drop_drops_what_is_left() {
    let _dog = dog("drop left");
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = channel::unbounded();
    for i in 0..5 {
        tx.try_send(Counted(i, drops.clone())).unwrap();
    }
    let rx2 = rx.clone();
    drop(rx);
    assert_eq!(drops.load(Ordering::SeqCst), 0, "a receiver is still alive");
    drop(rx2);
    assert_eq!(drops.load(Ordering::SeqCst), 5);
    assert!(tx.is_closed());
}

#[test]
#[should_panic(expected = "capacity >= 1")]
fn zero_capacity_panics() {
    let _ = channel::bounded::<u8>(0);
}

#[test]
fn send_future_cancel_gives_the_value_back_and_drop_restores_a_handed_value() {
    let _dog = dog("cancel");
    use std::task::{Context, Waker};
    let mut cx = Context::from_waker(Waker::noop());
    let (tx, rx) = channel::bounded(1);
    tx.try_send(1).unwrap();
    {
        let mut send = pin!(tx.send(2));
        assert!(send.as_mut().poll(&mut cx).is_pending());
        assert_eq!(tx.sending(), 1);
        assert_eq!(send.as_mut().cancel(), Some(2));
        assert_eq!(tx.sending(), 0);
    }
    assert_eq!(rx.try_recv(), Ok(1));
    {
        let mut recv = Box::pin(rx.recv());
        assert!(recv.as_mut().poll(&mut cx).is_pending());
        tx.try_send(3).unwrap(); // handed to the waiting receive
        assert!(tx.is_empty());
        drop(recv); // goes back into the channel
    }
    assert_eq!(rx.try_recv(), Ok(3));
}
