//! Issue 21, point 3: the order and bound promises of the exclusive
//! primitives, checked under cancellation, in every form, from threads and
//! tasks (see tests/PROMISES.md for the table of promises).
//!
//! One harness for every primitive that lends one unit at a time (`Lock`,
//! `Mutex`, `RLock`, `RMutex`, `Semaphore(1)`, `BinarySemaphore`,
//! `BoundedSemaphore(1, 1)`, `RwLock`'s write side, `CapacityLimiter(1)`,
//! `RCapacityLimiter(1)`): a holder takes it with the `try_` form (free: it
//! succeeds at once), then waiters queue one after the other (each queued
//! before the next starts, so arrival order is known), in the six waiting
//! forms in turn: `.await` under `futures_lite::block_on` on a thread,
//! `.await` in a tokio task, `_blocking`, `try_x_for`, `try_x_until` and
//! `_with`. Some of them give up while queued: a dropped future, a waiter
//! that reports `Cancelled`, or a timeout. Then the holder releases. Every
//! served waiter records its arrival index inside its critical section.
//!
//! Checked, whatever the timing:
//! - FIFO / "the waiters behind it keep their order" / "never overtaken":
//!   the served indices increase;
//! - exactly once: every waiter that did not give up is served once, a
//!   waiter whose cancellation completed before the release is never served,
//!   and a timed-out one is served at most once (the timeout decides only
//!   whether it was served);
//! - "at most one holder" (the bound): an occupancy counter never exceeds 1.
//!
//! A waiter that never completes fails the test through the watchdog.

#[path = "support/worlds.rs"]
mod worlds;

use polysync::lowlevel::{ThreadWaiter, WaitResult, Waiter, identified};
use polysync::{
    BinarySemaphore, BoundedSemaphore, CapacityLimiter, Lock, Mutex, RCapacityLimiter, RLock,
    RMutex, RwLock, Semaphore,
};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};
use worlds::{Watchdog, wait_until};

/// A timeout that does not expire in a passing run.
const LONG: Duration = Duration::from_secs(60);
/// A timeout meant to expire while queued (if it does not, the waiter is
/// served instead; both outcomes are checked).
const SHORT: Duration = Duration::from_millis(30);

type BoxFut<'a> = Pin<Box<dyn Future<Output = bool> + Send + 'a>>;

/// The waiting forms (the sixth, `try_`, is the holder's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Await,
    Tokio,
    Blocking,
    For,
    Until,
    With,
}

const FORMS: [Form; 6] = [
    Form::Await,
    Form::Tokio,
    Form::Blocking,
    Form::For,
    Form::Until,
    Form::With,
];

/// How a waiter gives up, if it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GiveUp {
    Never,
    /// Before the release: its future is dropped / its waiter cancels.
    Cancel,
    /// Its timeout expires (`try_x_for`, `try_x_until`, `_with`).
    Timeout,
}

/// A primitive that lends one unit at a time. Each method runs `cs` while
/// holding and returns whether it was served.
trait Exclusive: Send + Sync + 'static {
    fn make() -> Self;
    fn waiting(&self) -> usize;
    fn try_now(&self, cs: &mut dyn FnMut()) -> bool;
    fn blocking(&self, form: Form, timeout: Duration, cs: &mut dyn FnMut()) -> bool;
    fn with(&self, w: &dyn Waiter, deadline: Option<Instant>, cs: &mut dyn FnMut()) -> bool;
    fn fut<'a>(&'a self, cs: Box<dyn FnMut() + Send + 'a>) -> BoxFut<'a>;
}

/// Any outcome of a form as an `Option` of what it lent: an `Option`, a
/// `Result`, or a bare guard (listed below).
trait IntoOpt {
    type G;
    fn opt(self) -> Option<Self::G>;
}
impl<G> IntoOpt for Option<G> {
    type G = G;
    fn opt(self) -> Option<G> {
        self
    }
}
impl<G, E> IntoOpt for Result<G, E> {
    type G = G;
    fn opt(self) -> Option<G> {
        self.ok()
    }
}
macro_rules! bare {
    ($($g:ty),*) => {$(
        impl IntoOpt for $g {
            type G = Self;
            fn opt(self) -> Option<Self> {
                Some(self)
            }
        }
    )*};
}
bare!(
    polysync::LockGuard<'_>,
    polysync::MutexGuard<'_, ()>,
    polysync::RLockGuard<'_>,
    polysync::RMutexGuard<'_, ()>,
    polysync::RwLockWriteGuard<'_, ()>,
    polysync::LimiterToken<'_>
);

/// Implements `Exclusive` from the six entry points of a primitive.
macro_rules! exclusive {
    ($ty:ty, $make:expr, $wait:ident, $blk:ident, $try:ident, $for:ident, $until:ident, $with:ident) => {
        impl Exclusive for $ty {
            fn make() -> Self {
                $make
            }
            fn waiting(&self) -> usize {
                <$ty>::waiting(self)
            }
            fn try_now(&self, cs: &mut dyn FnMut()) -> bool {
                self.$try().opt().map(|_g| cs()).is_some()
            }
            fn blocking(&self, form: Form, timeout: Duration, cs: &mut dyn FnMut()) -> bool {
                match form {
                    Form::Blocking => self.$blk().opt().map(|_g| cs()).is_some(),
                    Form::For => self.$for(timeout).opt().map(|_g| cs()).is_some(),
                    Form::Until => self
                        .$until(Instant::now() + timeout)
                        .opt()
                        .map(|_g| cs())
                        .is_some(),
                    Form::With => ThreadWaiter::with_current(|w| {
                        self.with(w, Some(Instant::now() + timeout), cs)
                    }),
                    Form::Await | Form::Tokio => unreachable!(),
                }
            }
            fn with(
                &self,
                w: &dyn Waiter,
                deadline: Option<Instant>,
                cs: &mut dyn FnMut(),
            ) -> bool {
                self.$with(w, deadline).opt().map(|_g| cs()).is_some()
            }
            fn fut<'a>(&'a self, mut cs: Box<dyn FnMut() + Send + 'a>) -> BoxFut<'a> {
                Box::pin(identified(async move {
                    self.$wait().await.opt().map(|_g| cs()).is_some()
                }))
            }
        }
    };
}

exclusive!(
    Lock,
    Lock::new_fair(),
    acquire,
    acquire_blocking,
    try_acquire,
    try_acquire_for,
    try_acquire_until,
    acquire_with
);
exclusive!(
    Mutex<()>,
    Mutex::new_fair(()),
    lock,
    lock_blocking,
    try_lock,
    try_lock_for,
    try_lock_until,
    lock_with
);
exclusive!(
    RLock,
    RLock::new(),
    acquire,
    acquire_blocking,
    try_acquire,
    try_acquire_for,
    try_acquire_until,
    acquire_with
);
exclusive!(
    RMutex<()>,
    RMutex::new(()),
    lock,
    lock_blocking,
    try_lock,
    try_lock_for,
    try_lock_until,
    lock_with
);
exclusive!(
    RwLock<()>,
    RwLock::new(()),
    write,
    write_blocking,
    try_write,
    try_write_for,
    try_write_until,
    write_with
);
exclusive!(
    Semaphore,
    Semaphore::new(1),
    acquire,
    acquire_blocking,
    try_acquire,
    try_acquire_for,
    try_acquire_until,
    acquire_with
);
exclusive!(
    BinarySemaphore,
    BinarySemaphore::new(true),
    acquire,
    acquire_blocking,
    try_acquire,
    try_acquire_for,
    try_acquire_until,
    acquire_with
);
exclusive!(
    BoundedSemaphore,
    BoundedSemaphore::new(1, 1),
    acquire,
    acquire_blocking,
    try_acquire,
    try_acquire_for,
    try_acquire_until,
    acquire_with
);
exclusive!(
    CapacityLimiter,
    CapacityLimiter::new(1),
    acquire,
    acquire_blocking,
    try_acquire,
    try_acquire_for,
    try_acquire_until,
    acquire_with
);
exclusive!(
    RCapacityLimiter,
    RCapacityLimiter::new(1),
    acquire,
    acquire_blocking,
    try_acquire,
    try_acquire_for,
    try_acquire_until,
    acquire_with
);

/// A thread waiter that reports `Cancelled` once told to (and woken).
struct Cancellable<'a> {
    inner: &'a ThreadWaiter,
    cancel: &'a AtomicBool,
}

impl Waiter for Cancellable<'_> {
    fn waker(&self) -> std::task::Waker {
        self.inner.waker()
    }
    fn wait(&self, deadline: Option<Instant>) -> WaitResult {
        if self.cancel.load(Ordering::SeqCst) {
            return WaitResult::Cancelled;
        }
        self.inner.wait(deadline)
    }
}

/// What the waiters share.
#[derive(Default)]
struct Record {
    served: StdMutex<Vec<usize>>,
    inside: AtomicUsize,
    max_inside: AtomicUsize,
    /// Waiters that finished without being served.
    gave_up: AtomicUsize,
}

impl Record {
    fn critical(&self, i: usize) {
        let n = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_inside.fetch_max(n, Ordering::SeqCst);
        self.served.lock().unwrap().push(i);
        thread::yield_now();
        self.inside.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How a waiter is told to give up now.
enum Canceller {
    None,
    /// Ends the `or` around a future (dropping it).
    Future(tokio::sync::oneshot::Sender<()>),
    /// Makes a `Cancellable` waiter report cancellation, then wakes it.
    Waiter(Arc<AtomicBool>, Arc<StdMutex<Option<std::task::Waker>>>),
}

impl Canceller {
    fn fire(self) {
        match self {
            Canceller::None => {}
            Canceller::Future(tx) => {
                let _ = tx.send(());
            }
            Canceller::Waiter(flag, waker) => {
                flag.store(true, Ordering::SeqCst);
                let w = waker.lock().unwrap().take();
                w.expect("the waiter published its waker before queueing")
                    .wake();
            }
        }
    }
}

/// Starts waiter `i`: `form`, giving up as `give_up` says. Returns its
/// canceller and a receiver of "was it served".
fn start<P: Exclusive>(
    p: &Arc<P>,
    rec: &Arc<Record>,
    rt: &tokio::runtime::Runtime,
    i: usize,
    form: Form,
    give_up: GiveUp,
) -> (Canceller, mpsc::Receiver<bool>) {
    let (tx, rx) = mpsc::channel();
    let (p, rec2) = (p.clone(), rec.clone());
    let timeout = if give_up == GiveUp::Timeout {
        SHORT
    } else {
        LONG
    };
    let canceller = match form {
        Form::Await | Form::Tokio => {
            let (ctx, crx) = tokio::sync::oneshot::channel::<()>();
            let fut = async move {
                let r = rec2.clone();
                let cs = Box::new(move || r.critical(i));
                let served = futures_lite::future::or(p.fut(cs), async move {
                    // A dropped sender (no cancellation) never ends this.
                    if crx.await.is_ok() {
                        false
                    } else {
                        std::future::pending().await
                    }
                })
                .await;
                if !served {
                    rec2.gave_up.fetch_add(1, Ordering::SeqCst);
                }
                let _ = tx.send(served);
            };
            if form == Form::Await {
                thread::spawn(move || futures_lite::future::block_on(fut));
            } else {
                rt.spawn(fut);
            }
            if give_up == GiveUp::Cancel {
                Canceller::Future(ctx)
            } else {
                // Keep the sender alive: dropping it must not cancel.
                std::mem::forget(ctx);
                Canceller::None
            }
        }
        Form::With if give_up == GiveUp::Cancel => {
            let flag = Arc::new(AtomicBool::new(false));
            let slot = Arc::new(StdMutex::new(None));
            let (f2, s2) = (flag.clone(), slot.clone());
            thread::spawn(move || {
                let served = ThreadWaiter::with_current(|inner| {
                    *s2.lock().unwrap() = Some(inner.waker());
                    let w = Cancellable { inner, cancel: &f2 };
                    p.with(&w, None, &mut || rec2.critical(i))
                });
                if !served {
                    rec2.gave_up.fetch_add(1, Ordering::SeqCst);
                }
                let _ = tx.send(served);
            });
            Canceller::Waiter(flag, slot)
        }
        form => {
            thread::spawn(move || {
                let served = p.blocking(form, timeout, &mut || rec2.critical(i));
                if !served {
                    rec2.gave_up.fetch_add(1, Ordering::SeqCst);
                }
                let _ = tx.send(served);
            });
            Canceller::None
        }
    };
    (canceller, rx)
}

/// How waiter `i` gives up in round `round`: a spread over the forms that
/// can give up (`_blocking` cannot; the futures and `_with` are cancelled,
/// `try_x_for`/`try_x_until` time out, `_with` also times out).
fn plan(i: usize, round: usize) -> (Form, GiveUp) {
    let form = FORMS[(i + round) % FORMS.len()];
    let give_up = match (form, (i / FORMS.len() + round) % 3) {
        (Form::Blocking, _) => GiveUp::Never,
        (_, 0) => GiveUp::Never,
        (Form::For | Form::Until, _) => GiveUp::Timeout,
        (Form::With, 1) => GiveUp::Timeout,
        _ => GiveUp::Cancel,
    };
    (form, give_up)
}

/// The scenario of the module docs for primitive `P`.
fn fifo_under_cancellation<P: Exclusive>(name: &'static str) {
    let _dog = Watchdog::new(name, Duration::from_secs(120));
    let rt = worlds::multi_thread_rt();
    const N: usize = 18;
    for round in 0..3 {
        let p = Arc::new(P::make());
        let rec = Arc::new(Record::default());
        // The holder: the `try_` form succeeds at once on a free primitive,
        // then holds until told to release.
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (held_tx, held_rx) = mpsc::channel::<()>();
        let holder = {
            let p = p.clone();
            thread::spawn(move || {
                assert!(
                    p.try_now(&mut || {
                        held_tx.send(()).unwrap();
                        release_rx.recv().unwrap();
                    }),
                    "try_ on a free primitive"
                );
            })
        };
        held_rx.recv().unwrap();

        let mut waiters = Vec::new();
        for i in 0..N {
            let (form, give_up) = plan(i, round);
            let (c, rx) = start(&p, &rec, &rt, i, form, give_up);
            // Known arrival order: `i` is queued before `i + 1` starts.
            wait_until("the waiter queues", || {
                p.waiting() + rec.gave_up.load(Ordering::SeqCst) == i + 1
            });
            waiters.push((form, give_up, c, rx));
        }
        // Cancel half of those that give up on demand, before the release.
        let mut late = Vec::new();
        for (i, (form, give_up, c, _)) in waiters.iter_mut().enumerate() {
            let c = std::mem::replace(c, Canceller::None);
            if *give_up == GiveUp::Cancel && i % 2 == 0 {
                c.fire();
            } else {
                late.push((i, *form, c));
            }
        }
        // Those cancellations completed before the release: wait for them.
        let early: Vec<usize> = (0..N)
            .filter(|&i| waiters[i].1 == GiveUp::Cancel && i % 2 == 0)
            .collect();
        let outcomes: Vec<Option<bool>> = {
            let mut out = vec![None; N];
            for &i in &early {
                let served = waiters[i]
                    .3
                    .recv_timeout(LONG)
                    .expect("a cancelled waiter ends");
                assert!(
                    !served,
                    "{name}: waiter {i} ({:?}) cancelled before the release was served",
                    waiters[i].0
                );
                out[i] = Some(false);
            }
            out
        };
        release_tx.send(()).unwrap();
        holder.join().unwrap();
        // The other cancellations race with the hand-offs.
        for (_, _, c) in late {
            c.fire();
        }
        let mut outcomes = outcomes;
        for (i, (form, give_up, _, rx)) in waiters.iter().enumerate() {
            if outcomes[i].is_some() {
                continue;
            }
            let served = rx.recv_timeout(LONG).expect("every waiter ends");
            if *give_up == GiveUp::Never {
                assert!(
                    served,
                    "{name}: waiter {i} ({form:?}) never gave up but was not served"
                );
            }
            outcomes[i] = Some(served);
        }
        let served = rec.served.lock().unwrap().clone();
        let expected: Vec<usize> = (0..N).filter(|&i| outcomes[i] == Some(true)).collect();
        assert_eq!(
            served, expected,
            "{name} round {round}: served in arrival order, each once"
        );
        assert_eq!(
            rec.max_inside.load(Ordering::SeqCst),
            1,
            "{name}: at most one holder"
        );
        assert_eq!(p.waiting(), 0);
        assert!(p.try_now(&mut || {}), "{name}: nothing leaked");
    }
}

#[test]
fn lock_fifo_exactly_once_under_cancellation() {
    fifo_under_cancellation::<Lock>("Lock");
}

#[test]
fn mutex_fifo_exactly_once_under_cancellation() {
    fifo_under_cancellation::<Mutex<()>>("Mutex");
}

#[test]
fn rlock_fifo_exactly_once_under_cancellation() {
    fifo_under_cancellation::<RLock>("RLock");
}

#[test]
fn rmutex_fifo_exactly_once_under_cancellation() {
    fifo_under_cancellation::<RMutex<()>>("RMutex");
}

#[test]
fn rwlock_writers_fifo_exactly_once_under_cancellation() {
    fifo_under_cancellation::<RwLock<()>>("RwLock write");
}

#[test]
fn semaphore_fifo_exactly_once_under_cancellation() {
    fifo_under_cancellation::<Semaphore>("Semaphore");
}

#[test]
fn binary_semaphore_fifo_exactly_once_under_cancellation() {
    fifo_under_cancellation::<BinarySemaphore>("BinarySemaphore");
}

#[test]
fn bounded_semaphore_fifo_exactly_once_under_cancellation() {
    fifo_under_cancellation::<BoundedSemaphore>("BoundedSemaphore");
}

#[test]
fn capacity_limiter_fifo_exactly_once_under_cancellation() {
    fifo_under_cancellation::<CapacityLimiter>("CapacityLimiter");
}

#[test]
fn rcapacity_limiter_fifo_exactly_once_under_cancellation() {
    fifo_under_cancellation::<RCapacityLimiter>("RCapacityLimiter");
}
