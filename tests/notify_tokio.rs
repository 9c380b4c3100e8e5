//! Ported from tokio 1.54.1 `tests/sync_notify.rs`: each scenario and
//! assertion kept, in our style. tokio-test's mock task is replaced by
//! `Task` below (a future polled by hand with a waker that counts wakes).
//!
//! Documented differences: none in behaviour. tokio's `Notified::enable`
//! takes `Pin<&mut Self>` as ours does; `notify_in_drop_after_wake` uses a
//! std `Wake` impl instead of `futures::task::ArcWake`.

use polysync::Notify;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::task::{Context, Poll, Wake, Waker};

static_assertions::assert_impl_all!(Notify: Send, Sync);

/// Counts wakes.
#[derive(Default)]
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A future polled by hand, as tokio-test's `task::spawn`.
struct Task<F> {
    fut: Pin<Box<F>>,
    wakes: Arc<Count>,
}

fn spawn<F: Future>(fut: F) -> Task<F> {
    Task {
        fut: Box::pin(fut),
        wakes: Arc::default(),
    }
}

impl<F: Future> Task<F> {
    fn poll(&mut self) -> Poll<F::Output> {
        self.wakes.0.store(0, SeqCst);
        let waker = Waker::from(self.wakes.clone());
        self.fut.as_mut().poll(&mut Context::from_waker(&waker))
    }

    fn is_woken(&self) -> bool {
        self.wakes.0.load(SeqCst) > 0
    }

    fn enter<R>(&mut self, f: impl FnOnce(Pin<&mut F>) -> R) -> R {
        f(self.fut.as_mut())
    }
}

macro_rules! assert_ready {
    ($e:expr) => {
        assert!($e.is_ready(), "expected Ready")
    };
}
macro_rules! assert_pending {
    ($e:expr) => {
        assert!($e.is_pending(), "expected Pending")
    };
}

#[test]
fn notify_notified_one() {
    let notify = Notify::new();
    let mut notified = spawn(async { notify.notified().await });

    notify.notify_one();
    assert_ready!(notified.poll());
}

#[test]
fn notify_multi_notified_one() {
    let notify = Notify::new();
    let mut notified1 = spawn(async { notify.notified().await });
    let mut notified2 = spawn(async { notify.notified().await });

    // Two waiters queue.
    assert_pending!(notified1.poll());
    assert_pending!(notified2.poll());

    // The first one wakes.
    notify.notify_one();
    assert_ready!(notified1.poll());
    assert_pending!(notified2.poll());
}

#[test]
fn notify_multi_notified_last() {
    let notify = Notify::new();
    let mut notified1 = spawn(async { notify.notified().await });
    let mut notified2 = spawn(async { notify.notified().await });

    assert_pending!(notified1.poll());
    assert_pending!(notified2.poll());

    // The last one wakes.
    notify.notify_last();
    assert_pending!(notified1.poll());
    assert_ready!(notified2.poll());
}

#[test]
fn notified_one_notify() {
    let notify = Notify::new();
    let mut notified = spawn(async { notify.notified().await });

    assert_pending!(notified.poll());

    notify.notify_one();
    assert!(notified.is_woken());
    assert_ready!(notified.poll());
}

#[test]
fn notified_multi_notify() {
    let notify = Notify::new();
    let mut notified1 = spawn(async { notify.notified().await });
    let mut notified2 = spawn(async { notify.notified().await });

    assert_pending!(notified1.poll());
    assert_pending!(notified2.poll());

    notify.notify_one();
    assert!(notified1.is_woken());
    assert!(!notified2.is_woken());

    assert_ready!(notified1.poll());
    assert_pending!(notified2.poll());
}

#[test]
fn notify_notified_multi() {
    let notify = Notify::new();

    notify.notify_one();

    let mut notified1 = spawn(async { notify.notified().await });
    let mut notified2 = spawn(async { notify.notified().await });

    assert_ready!(notified1.poll());
    assert_pending!(notified2.poll());

    notify.notify_one();

    assert!(notified2.is_woken());
    assert_ready!(notified2.poll());
}

#[test]
fn notified_drop_notified_notify() {
    let notify = Notify::new();
    let mut notified1 = spawn(async { notify.notified().await });
    let mut notified2 = spawn(async { notify.notified().await });

    assert_pending!(notified1.poll());

    drop(notified1);

    assert_pending!(notified2.poll());

    notify.notify_one();
    assert!(notified2.is_woken());
    assert_ready!(notified2.poll());
}

#[test]
fn notified_multi_notify_drop_one() {
    let notify = Notify::new();
    let mut notified1 = spawn(async { notify.notified().await });
    let mut notified2 = spawn(async { notify.notified().await });

    assert_pending!(notified1.poll());
    assert_pending!(notified2.poll());

    notify.notify_one();

    assert!(notified1.is_woken());
    assert!(!notified2.is_woken());

    // Dropped after it was notified, before it returned: passed on.
    drop(notified1);

    assert!(notified2.is_woken());
    assert_ready!(notified2.poll());
}

#[test]
fn notified_multi_notify_one_drop() {
    let notify = Notify::new();
    let mut notified1 = spawn(async { notify.notified().await });
    let mut notified2 = spawn(async { notify.notified().await });
    let mut notified3 = spawn(async { notify.notified().await });

    // Queued in the order of their first polls.
    assert_pending!(notified1.poll());
    assert_pending!(notified2.poll());
    assert_pending!(notified3.poll());

    // FIFO by default.
    notify.notify_one();

    drop(notified1);

    // The next in line is the one woken.
    assert_ready!(notified2.poll());
    assert_pending!(notified3.poll());
}

#[test]
fn notified_multi_notify_last_drop() {
    let notify = Notify::new();
    let mut notified1 = spawn(async { notify.notified().await });
    let mut notified2 = spawn(async { notify.notified().await });
    let mut notified3 = spawn(async { notify.notified().await });

    assert_pending!(notified1.poll());
    assert_pending!(notified2.poll());
    assert_pending!(notified3.poll());

    notify.notify_last();

    drop(notified3);

    // The newest remaining waiter is the one woken.
    assert_ready!(notified2.poll());
    assert_pending!(notified1.poll());
}

#[test]
fn notify_in_drop_after_wake() {
    struct NotifyOnDrop(Arc<Notify>);

    impl Wake for NotifyOnDrop {
        fn wake(self: Arc<Self>) {}
    }

    impl Drop for NotifyOnDrop {
        fn drop(&mut self) {
            self.0.notify_waiters();
        }
    }

    let notify = Arc::new(Notify::new());
    let mut fut = Box::pin(async {
        notify.notified().await;
    });

    {
        let waker = Waker::from(Arc::new(NotifyOnDrop(notify.clone())));
        let mut cx = Context::from_waker(&waker);
        assert!(fut.as_mut().poll(&mut cx).is_pending());
    }

    // Notifying (which drops the waker, whose drop notifies) must not deadlock.
    notify.notify_waiters();
}

#[test]
fn notify_one_after_dropped_all() {
    let notify = Notify::new();
    let mut notified1 = spawn(async { notify.notified().await });

    assert_pending!(notified1.poll());

    notify.notify_waiters();
    notify.notify_one();

    drop(notified1);

    let mut notified2 = spawn(async { notify.notified().await });

    assert_ready!(notified2.poll());
}

#[test]
fn test_notify_one_not_enabled() {
    let notify = Notify::new();
    let mut future = spawn(notify.notified());

    notify.notify_one();
    assert_ready!(future.poll());
}

#[test]
fn test_notify_one_after_enable() {
    let notify = Notify::new();
    let mut future = spawn(notify.notified());

    future.enter(|fut| assert!(!fut.enable()));

    notify.notify_one();
    assert_ready!(future.poll());
    future.enter(|fut| assert!(fut.enable()));
}

#[test]
fn test_poll_after_enable() {
    let notify = Notify::new();
    let mut future = spawn(notify.notified());

    future.enter(|fut| assert!(!fut.enable()));
    assert_pending!(future.poll());
}

#[test]
fn test_enable_after_poll() {
    let notify = Notify::new();
    let mut future = spawn(notify.notified());

    assert_pending!(future.poll());
    future.enter(|fut| assert!(!fut.enable()));
}

#[test]
fn test_enable_consumes_permit() {
    let notify = Notify::new();

    // Store a permit.
    notify.notify_one();

    let mut future1 = spawn(notify.notified());
    future1.enter(|fut| assert!(fut.enable()));

    let mut future2 = spawn(notify.notified());
    future2.enter(|fut| assert!(!fut.enable()));
}

#[test]
fn test_waker_update() {
    let notify = Notify::new();
    let mut future = spawn(notify.notified());

    future.enter(|fut| assert_pending!(fut.poll(&mut Context::from_waker(Waker::noop()))));

    assert_pending!(future.poll());
    notify.notify_one();

    assert!(future.is_woken());
}

#[test]
fn unpolled_future_completed_by_notify_waiters_preserves_notify_one_permit() {
    let notify = Notify::new();
    let notified1 = notify.notified();
    notify.notify_waiters();
    notify.notify_one();
    assert!(futures_lite::future::block_on(futures_lite::future::poll_once(notified1)).is_some());
    let notified2 = notify.notified();
    assert!(futures_lite::future::block_on(futures_lite::future::poll_once(notified2)).is_some());
}
