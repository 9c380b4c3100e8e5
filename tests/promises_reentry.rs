//! Issue 21, point 3: "a holder's re-acquisition succeeds at once, in every
//! form", checked while other units wait and after some of them gave up.
//!
//! `RLock` ("the owner's re-acquisitions succeed at once in every form"),
//! `RMutex` (the same, through its `RLock`), `RCapacityLimiter` ("a borrower
//! that holds a token may acquire again at once (in every form)") and
//! `CapacityLimiter` (a second acquire is `AlreadyBorrowing`, at once):
//! the holder re-enters in the six forms (`.await` in a `futures_lite` task
//! and in a tokio task, `_blocking`, `try_`, `try_x_for`, `try_x_until`,
//! `_with`) while another unit is queued and a third has cancelled its wait
//! (a dropped future). "At once" is checked without timing: an
//! async re-entry is `Ready` at its first poll (checkpoints are off here);
//! a blocking re-entry must return although nobody will ever release for
//! it (the holder is the one re-entering), and the watchdog fails a hang.
//! Afterwards the queued unit is served exactly once: FIFO order and the
//! count of levels are intact.

#[path = "support/worlds.rs"]
mod worlds;

use polysync::lowlevel::{ThreadWaiter, identified};
use polysync::{BorrowError, CapacityLimiter, RCapacityLimiter, RLock, RMutex};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};
use worlds::{Watchdog, wait_until};

const LONG: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
enum Form {
    Blocking,
    Try,
    For,
    Until,
    With,
}
const BLOCKING_FORMS: [Form; 5] = [
    Form::Blocking,
    Form::Try,
    Form::For,
    Form::Until,
    Form::With,
];

type BoxFut<'a> = Pin<Box<dyn Future<Output = usize> + Send + 'a>>;

/// A primitive a unit may ask for again while it holds it. Each method
/// takes it (or one more level) and returns the unit's level count seen
/// while holding; `CapacityLimiter`'s `AlreadyBorrowing` counts as 1.
trait Reentrant: Send + Sync + 'static {
    fn make() -> Self;
    fn waiting(&self) -> usize;
    /// One level in `form`; `None` if not served.
    fn once(&self, form: Form, inner: &mut dyn FnMut() -> usize) -> Option<usize>;
    fn fut<'a>(&'a self, inner: Box<dyn FnMut() -> usize + Send + 'a>) -> BoxFut<'a>;
    fn count(&self) -> usize;
    /// What a re-entry reports inside the first level: 2, or 1 for a
    /// non-reentrant limiter.
    const NESTED: usize;
}

macro_rules! reentrant {
    ($ty:ty, $make:expr, $wait:ident, $blk:ident, $try:ident, $for:ident, $until:ident, $with:ident, $count:ident) => {
        impl Reentrant for $ty {
            const NESTED: usize = 2;
            fn make() -> Self {
                $make
            }
            fn waiting(&self) -> usize {
                <$ty>::waiting(self)
            }
            fn count(&self) -> usize {
                self.$count()
            }
            fn once(&self, form: Form, inner: &mut dyn FnMut() -> usize) -> Option<usize> {
                match form {
                    Form::Blocking => Some(self.$blk()).map(|_g| inner()),
                    Form::Try => self.$try().map(|_g| inner()),
                    Form::For => self.$for(LONG).map(|_g| inner()),
                    Form::Until => self.$until(Instant::now() + LONG).map(|_g| inner()),
                    Form::With => {
                        ThreadWaiter::with_current(|w| self.$with(w, None).ok().map(|_g| inner()))
                    }
                }
            }
            fn fut<'a>(&'a self, mut inner: Box<dyn FnMut() -> usize + Send + 'a>) -> BoxFut<'a> {
                Box::pin(async move { self.$wait().await.ok().map(|_g| inner()).unwrap_or(0) })
            }
        }
    };
}

reentrant!(
    RLock,
    RLock::new(),
    acquire,
    acquire_blocking,
    try_acquire,
    try_acquire_for,
    try_acquire_until,
    acquire_with,
    count
);
reentrant!(
    RMutex<()>,
    RMutex::new(()),
    lock,
    lock_blocking,
    try_lock,
    try_lock_for,
    try_lock_until,
    lock_with,
    count
);
reentrant!(
    RCapacityLimiter,
    RCapacityLimiter::new(1),
    acquire,
    acquire_blocking,
    try_acquire,
    try_acquire_for,
    try_acquire_until,
    acquire_with,
    count
);

impl Reentrant for CapacityLimiter {
    const NESTED: usize = 1;
    fn make() -> Self {
        CapacityLimiter::new(1)
    }
    fn waiting(&self) -> usize {
        CapacityLimiter::waiting(self)
    }
    fn count(&self) -> usize {
        usize::from(self.is_borrowing())
    }
    fn once(&self, form: Form, inner: &mut dyn FnMut() -> usize) -> Option<usize> {
        let r = match form {
            Form::Blocking => self.acquire_blocking(),
            Form::Try => self.try_acquire(),
            Form::For => self.try_acquire_for(LONG),
            Form::Until => self.try_acquire_until(Instant::now() + LONG),
            Form::With => ThreadWaiter::with_current(|w| self.acquire_with(w, None)),
        };
        match r {
            Ok(_g) => Some(inner()),
            // Answered at once, holding nothing more: the count stays 1.
            Err(BorrowError::AlreadyBorrowing) => Some(self.count()),
            Err(_) => None,
        }
    }
    fn fut<'a>(&'a self, mut inner: Box<dyn FnMut() -> usize + Send + 'a>) -> BoxFut<'a> {
        Box::pin(async move {
            match self.acquire().await {
                Ok(_g) => inner(),
                Err(BorrowError::AlreadyBorrowing) => self.count(),
                Err(_) => 0,
            }
        })
    }
}

fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(Waker::noop()))
}

/// Another unit's blocking wait that is served exactly once (counted).
fn queue_other<P: Reentrant>(p: &Arc<P>, served: &Arc<AtomicUsize>) -> thread::JoinHandle<()> {
    let before = p.waiting();
    let (p2, s) = (p.clone(), served.clone());
    let h = thread::spawn(move || {
        p2.once(Form::Blocking, &mut || {
            s.fetch_add(1, Ordering::SeqCst);
            1
        })
        .expect("an untimed wait is served");
    });
    wait_until("the other unit queues", || p.waiting() == before + 1);
    h
}

/// A third unit that queues and gives up (its future is dropped).
fn queue_and_give_up<P: Reentrant>(p: &Arc<P>) {
    let before = p.waiting();
    let mut f = Box::pin(identified(p.fut(Box::new(|| panic!("never served")))));
    assert!(poll_once(&mut f).is_pending());
    assert_eq!(p.waiting(), before + 1);
    drop(f);
    assert_eq!(p.waiting(), before);
}

/// The holder is an OS thread re-entering in the blocking forms.
fn thread_reenters_at_once<P: Reentrant>(name: &'static str) {
    let _dog = Watchdog::new(name, Duration::from_secs(60));
    let p = Arc::new(P::make());
    let served = Arc::new(AtomicUsize::new(0));
    let other;
    {
        let p1 = p.clone();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let holder = thread::spawn(move || {
            p1.once(Form::Blocking, &mut || {
                tx.send(()).unwrap();
                go_rx.recv().unwrap();
                for form in BLOCKING_FORMS {
                    let seen = p1.once(form, &mut || p1.count());
                    assert_eq!(seen, Some(P::NESTED), "{name}: {form:?} re-entry at once");
                }
                assert_eq!(p1.count(), 1, "{name}: every re-entry gave its level back");
                1
            });
        });
        rx.recv().unwrap();
        other = queue_other(&p, &served);
        queue_and_give_up(&p);
        go_tx.send(()).unwrap();
        holder.join().unwrap();
    }
    other.join().unwrap();
    assert_eq!(
        served.load(Ordering::SeqCst),
        1,
        "{name}: the waiter served once"
    );
    assert_eq!(p.waiting(), 0);
}

/// The holder is a task (identified) that re-enters with `.await`: ready at
/// the first poll, while another unit waits.
async fn task_reenters_at_once<P: Reentrant>(p: Arc<P>, name: &'static str) {
    let served = Arc::new(AtomicUsize::new(0));
    let other = Arc::new(std::sync::Mutex::new(None));
    let (p1, s1, o1) = (p.clone(), served.clone(), other.clone());
    let seen = identified(async move {
        let p2 = p1.clone();
        p1.fut(Box::new(move || {
            *o1.lock().unwrap() = Some(queue_other(&p2, &s1));
            queue_and_give_up(&p2);
            let mut inner_levels = Vec::new();
            for _ in 0..3 {
                let p3 = p2.clone();
                let mut f = p2.fut(Box::new(move || p3.count()));
                // Not awaited: polled once by hand, it must be ready.
                match poll_once(&mut f) {
                    Poll::Ready(n) => inner_levels.push(n),
                    Poll::Pending => panic!("{name}: an async re-entry waited"),
                }
            }
            assert_eq!(inner_levels, vec![P::NESTED; 3], "{name}");
            p2.count()
        }))
        .await
    })
    .await;
    assert_eq!(seen, 1, "{name}: every re-entry gave its level back");
    let other = other
        .lock()
        .unwrap()
        .take()
        .expect("the other unit started");
    other.join().unwrap();
    assert_eq!(
        served.load(Ordering::SeqCst),
        1,
        "{name}: the waiter served once"
    );
    assert_eq!(p.waiting(), 0);
}

fn reentry_everywhere<P: Reentrant>(name: &'static str) {
    thread_reenters_at_once::<P>(name);
    let _dog = Watchdog::new(name, Duration::from_secs(60));
    futures_lite::future::block_on(task_reenters_at_once(Arc::new(P::make()), name));
    let rt = worlds::multi_thread_rt();
    rt.block_on(async {
        tokio::spawn(task_reenters_at_once(Arc::new(P::make()), name))
            .await
            .unwrap()
    });
}

#[test]
fn rlock_reentry_at_once_in_every_form() {
    reentry_everywhere::<RLock>("RLock");
}

#[test]
fn rmutex_reentry_at_once_in_every_form() {
    reentry_everywhere::<RMutex<()>>("RMutex");
}

#[test]
fn rcapacity_limiter_reentry_at_once_in_every_form() {
    reentry_everywhere::<RCapacityLimiter>("RCapacityLimiter");
}

#[test]
fn capacity_limiter_already_borrowing_at_once_in_every_form() {
    reentry_everywhere::<CapacityLimiter>("CapacityLimiter");
}
