//! `Notify` across worlds, and the corners of its protocol that tokio's
//! ported tests (`notify_tokio.rs`) do not reach.
//!
//! What is proven:
//! - Waiters of every form (threads: `notified_blocking`,
//!   `try_notified_for`, `try_notified_until`, `notified_with`; a tokio
//!   task and a futures-lite task: `notified().await`) are each woken by
//!   one `notify_one` from another thread, none is woken twice, and no
//!   permit is left over.
//! - `notify_waiters` wakes every waiter of every world waiting now, stores
//!   nothing, and does not wake a wait that starts after it.
//! - At most one permit is stored.
//! - A future that drops a `notify_one` it received passes it to the next
//!   waiter, here a blocked thread.
//! - A `notify_one` that runs while a `notify_waiters` is between two wake
//!   batches (more than 16 waiters) goes to a waiter of the new epoch, not
//!   to a waiter that `notify_waiters` is about to wake anyway.
//!
//! Tests that cross threads have a watchdog; none reads the clock.

#[path = "support/worlds.rs"]
mod worlds;
use worlds::{Watchdog, multi_thread_rt, wait_until};

use polysync::Notify;
use polysync::lowlevel::ThreadWaiter;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

#[derive(Default)]
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Starts one waiter of each form (4 threads, a tokio task, a futures-lite
/// task); each adds 1 to `done` when it returns notified.
fn start_waiters(
    notify: &Arc<Notify>,
    rt: &tokio::runtime::Runtime,
    done: &Arc<AtomicUsize>,
) -> Vec<thread::JoinHandle<()>> {
    let mut handles = Vec::new();
    for i in 0..4 {
        let (notify, done) = (notify.clone(), done.clone());
        handles.push(thread::spawn(move || {
            let notified = match i {
                0 => {
                    notify.notified_blocking();
                    true
                }
                1 => notify.try_notified_for(Duration::from_secs(20)),
                2 => notify.try_notified_until(Instant::now() + Duration::from_secs(20)),
                _ => ThreadWaiter::with_current(|w| notify.notified_with(w, None).is_ok()),
            };
            assert!(notified, "waiter {i} gave up");
            done.fetch_add(1, SeqCst);
        }));
    }
    {
        let (notify, done) = (notify.clone(), done.clone());
        let task = rt.spawn(async move {
            notify.notified().await;
            done.fetch_add(1, SeqCst);
        });
        let handle = rt.handle().clone();
        handles.push(thread::spawn(move || handle.block_on(task).unwrap()));
    }
    {
        let (notify, done) = (notify.clone(), done.clone());
        handles.push(thread::spawn(move || {
            futures_lite::future::block_on(notify.notified());
            done.fetch_add(1, SeqCst);
        }));
    }
    handles
}

#[test]
fn notify_one_wakes_one_waiter_of_each_world() {
    let _dog = Watchdog::new(
        "notify_one_wakes_one_waiter_of_each_world",
        Duration::from_secs(30),
    );
    let notify = Arc::new(Notify::new());
    let rt = multi_thread_rt();
    let done = Arc::new(AtomicUsize::new(0));
    let handles = start_waiters(&notify, &rt, &done);
    wait_until("six waiters queued", || notify.waiting() == 6);
    for n in 1..=6 {
        notify.notify_one();
        wait_until("one more waiter returns", || done.load(SeqCst) == n);
        assert_eq!(notify.waiting(), 6 - n, "one notify_one woke more than one");
    }
    for h in handles {
        h.join().unwrap();
    }
    assert!(!notify.try_notified(), "no permit is left over");
}

#[test]
fn notify_waiters_wakes_those_waiting_now_and_stores_nothing() {
    let _dog = Watchdog::new(
        "notify_waiters_wakes_those_waiting_now",
        Duration::from_secs(30),
    );
    let notify = Arc::new(Notify::new());
    let rt = multi_thread_rt();
    let done = Arc::new(AtomicUsize::new(0));
    let handles = start_waiters(&notify, &rt, &done);
    wait_until("six waiters queued", || notify.waiting() == 6);
    notify.notify_waiters();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(done.load(SeqCst), 6);
    assert!(!notify.try_notified(), "notify_waiters stores nothing");
    // A wait that starts afterwards is not woken by it.
    assert!(!notify.try_notified_for(Duration::from_millis(1)));
    let late = notify.notified();
    assert!(futures_lite::future::block_on(futures_lite::future::poll_once(late)).is_none());
    assert_eq!(notify.waiting(), 0);
}

#[test]
fn at_most_one_permit() {
    let notify = Notify::new();
    for _ in 0..3 {
        notify.notify_one();
    }
    notify.notify_last();
    assert!(notify.try_notified());
    assert!(!notify.try_notified());
    notify.notify_one();
    notify.notified_blocking();
    assert!(!notify.try_notified_until(Instant::now()));
}

#[test]
fn a_dropped_notification_goes_to_a_blocked_thread() {
    let _dog = Watchdog::new(
        "a_dropped_notification_goes_to_a_blocked_thread",
        Duration::from_secs(30),
    );
    let notify = Arc::new(Notify::new());
    let count = Arc::new(Count::default());
    let waker = Waker::from(count.clone());
    let mut first = Box::pin(notify.notified());
    assert!(
        first
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    );
    let thread = {
        let notify = notify.clone();
        thread::spawn(move || notify.notified_blocking())
    };
    wait_until("the thread queued", || notify.waiting() == 2);
    notify.notify_one();
    assert_eq!(count.0.load(SeqCst), 1, "the oldest waiter is picked");
    drop(first); // never returned its notification: passed on
    thread.join().unwrap();
    assert!(!notify.try_notified());
}

/// Polled futures of `NOTIFY`, kept alive (and pinned) for the test.
type Held = Vec<(Pin<Box<polysync::notify::Notified<'static>>>, Arc<Count>)>;

/// The waker of the first waiter: when `notify_waiters` wakes it (after the
/// first batch, with later waiters still queued), it starts a new wait and
/// calls `notify_one`.
struct StartsANewWait {
    notify: &'static Notify,
    late: Mutex<Held>,
}

impl Wake for StartsANewWait {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let count = Arc::new(Count::default());
        let mut fut = Box::pin(self.notify.notified());
        let waker = Waker::from(count.clone());
        assert!(
            fut.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        self.notify.notify_one();
        self.late.lock().unwrap().push((fut, count));
    }
}

#[test]
fn notify_one_between_batches_of_notify_waiters_goes_to_the_new_epoch() {
    static NOTIFY: Notify = Notify::new();
    let first = Arc::new(StartsANewWait {
        notify: &NOTIFY,
        late: Mutex::new(Vec::new()),
    });
    let mut early: Held = Vec::new();
    // 20 waiters: more than one wake batch (16).
    for i in 0..20 {
        let mut fut = Box::pin(NOTIFY.notified());
        let count = Arc::new(Count::default());
        let waker = if i == 0 {
            Waker::from(first.clone())
        } else {
            Waker::from(count.clone())
        };
        assert_eq!(
            fut.as_mut().poll(&mut Context::from_waker(&waker)),
            Poll::Pending
        );
        early.push((fut, count));
    }
    NOTIFY.notify_waiters();
    let late = std::mem::take(&mut *first.late.lock().unwrap());
    assert_eq!(late.len(), 1);
    let (mut fut, count) = late.into_iter().next().unwrap();
    assert_eq!(
        count.0.load(SeqCst),
        1,
        "the notify_one went to the new wait"
    );
    let waker = Waker::from(count);
    assert_eq!(
        fut.as_mut().poll(&mut Context::from_waker(&waker)),
        Poll::Ready(())
    );
    for (i, (fut, _)) in early.iter_mut().enumerate() {
        let ready = fut.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        assert_eq!(ready, Poll::Ready(()), "early waiter {i}");
    }
    assert!(!NOTIFY.try_notified(), "no permit was stored");
    assert_eq!(NOTIFY.waiting(), 0);
}
