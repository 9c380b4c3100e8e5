//! Issue 21, point 3: the hand-out promises of the semaphores and the
//! limiters, checked under cancellation, in every form, from threads and
//! tasks (see tests/PROMISES.md).
//!
//! - Semaphore: "strictly FIFO, each request all at once: a large request
//!   at the head of the line is never overtaken by smaller ones behind it";
//!   `release`/`add_permits` "hands them to waiters in FIFO order"; a
//!   waiter that gives up "leaves the queue; the waiters behind it keep
//!   their order" (and a head that leaves lets the next ones through).
//! - `BinarySemaphore`: "at most one free permit", also while waiters that
//!   were handed the permit give it back as they are cancelled.
//! - Limiters: `set_total_tokens` "Growing hands the new tokens to waiters
//!   at once (oldest first)"; "at most `total_tokens` execution units hold
//!   a token at a time".
//!
//! Checked without timing: a hand-off happens under the queue lock inside
//! `release` / `set_total_tokens`, so right after the call `waiting()` says
//! exactly how many were served; which ones is then read from their
//! results. Waiters queue one by one in the six forms (`.await` under
//! `futures_lite` on a thread and in a tokio task, `_blocking`, `try_x_for`,
//! `try_x_until`, `_with`); some give up first (a dropped future, a
//! cancelled `_with` waiter).

#[path = "support/cancel.rs"]
mod cancel;
#[path = "support/worlds.rs"]
mod worlds;

use cancel::{Cancellable, Canceller};
use polysync::lowlevel::{ThreadWaiter, UnitId, Waiter};
use polysync::{BinarySemaphore, BoundedSemaphore, CapacityLimiter, RCapacityLimiter, Semaphore};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex as StdMutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};
use worlds::{Watchdog, wait_until};

const LONG: Duration = Duration::from_secs(60);

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

type BoxFut<'a> = Pin<Box<dyn Future<Output = bool> + Send + 'a>>;

/// Something a waiter takes `n` of (permits; a limiter ignores `n` and
/// borrows on behalf of the unit numbered `n`). Served waiters keep what
/// they got (forgotten); each method returns whether it was served.
trait Source: Send + Sync + 'static {
    fn waiting(&self) -> usize;
    fn blocking(&self, n: usize, form: Form) -> bool;
    fn with(&self, n: usize, w: &dyn Waiter) -> bool;
    fn fut(&self, n: usize) -> BoxFut<'_>;
}

macro_rules! semaphore_source {
    ($($ty:ty),*) => {$(
        impl Source for $ty {
            fn waiting(&self) -> usize {
                <$ty>::waiting(self)
            }
            fn blocking(&self, n: usize, form: Form) -> bool {
                let r = match form {
                    Form::Blocking => self.acquire_many_blocking(n).ok(),
                    Form::For => self.try_acquire_many_for(n, LONG).ok(),
                    Form::Until => self.try_acquire_many_until(n, Instant::now() + LONG).ok(),
                    Form::With => {
                        return ThreadWaiter::with_current(|w| self.with(n, w));
                    }
                    Form::Await | Form::Tokio => unreachable!(),
                };
                r.map(|p| p.forget()).is_some()
            }
            fn with(&self, n: usize, w: &dyn Waiter) -> bool {
                self.acquire_many_with(n, w, None).map(|p| p.forget()).is_ok()
            }
            fn fut(&self, n: usize) -> BoxFut<'_> {
                Box::pin(async move { self.acquire_many(n).await.map(|p| p.forget()).is_ok() })
            }
        }
    )*};
}
semaphore_source!(Semaphore, BoundedSemaphore, BinarySemaphore);

/// A limiter whose waiter `n` borrows on behalf of `ids[n]`.
struct Limiter<L> {
    l: L,
    ids: Vec<UnitId>,
}

macro_rules! limiter_source {
    ($ty:ty, |$x:ident| $ok:expr) => {
        impl Source for Limiter<$ty> {
            fn waiting(&self) -> usize {
                self.l.waiting()
            }
            fn blocking(&self, n: usize, form: Form) -> bool {
                let b = self.ids[n];
                match form {
                    Form::Blocking => {
                        let $x = self.l.acquire_on_behalf_of_blocking(b);
                        $ok
                    }
                    Form::For => {
                        let $x = self.l.try_acquire_on_behalf_of_for(b, LONG);
                        $ok
                    }
                    Form::Until => {
                        let $x = self
                            .l
                            .try_acquire_on_behalf_of_until(b, Instant::now() + LONG);
                        $ok
                    }
                    Form::With => ThreadWaiter::with_current(|w| self.with(n, w)),
                    Form::Await | Form::Tokio => unreachable!(),
                }
            }
            fn with(&self, n: usize, w: &dyn Waiter) -> bool {
                let $x = self.l.acquire_on_behalf_of_with(self.ids[n], w, None).ok();
                $ok
            }
            fn fut(&self, n: usize) -> BoxFut<'_> {
                Box::pin(async move {
                    let $x = self.l.acquire_on_behalf_of(self.ids[n]).await.ok();
                    $ok
                })
            }
        }
    };
}

/// Every outcome as an `Option` of a token.
trait Opt {
    type T;
    fn opt(self) -> Option<Self::T>;
}
impl<T> Opt for Option<T> {
    type T = T;
    fn opt(self) -> Option<T> {
        self
    }
}
impl<T, E> Opt for Result<T, E> {
    type T = T;
    fn opt(self) -> Option<T> {
        self.ok()
    }
}
impl<'a> Opt for polysync::LimiterToken<'a> {
    type T = Self;
    fn opt(self) -> Option<Self> {
        Some(self)
    }
}

limiter_source!(CapacityLimiter, |x| x.opt().map(|t| t.forget()).is_some());
limiter_source!(RCapacityLimiter, |x| x.opt().map(|t| t.forget()).is_some());

fn start<S: Source>(
    s: &Arc<S>,
    rt: &tokio::runtime::Runtime,
    n: usize,
    form: Form,
    cancel: bool,
) -> (Canceller, mpsc::Receiver<bool>) {
    let (tx, rx) = mpsc::channel();
    let s = s.clone();
    let canceller = match form {
        Form::Await | Form::Tokio => {
            let (ctx, crx) = tokio::sync::oneshot::channel::<()>();
            let fut = async move {
                let got = futures_lite::future::or(s.fut(n), async move {
                    if crx.await.is_ok() {
                        false
                    } else {
                        std::future::pending().await
                    }
                })
                .await;
                let _ = tx.send(got);
            };
            if form == Form::Await {
                thread::spawn(move || futures_lite::future::block_on(fut));
            } else {
                rt.spawn(fut);
            }
            if cancel {
                Canceller::Future(ctx)
            } else {
                std::mem::forget(ctx);
                Canceller::None
            }
        }
        Form::With if cancel => {
            let flag = Arc::new(AtomicBool::new(false));
            let slot = Arc::new(StdMutex::new(None));
            let (f2, s2) = (flag.clone(), slot.clone());
            thread::spawn(move || {
                let got = ThreadWaiter::with_current(|inner| {
                    *s2.lock().unwrap() = Some(inner.waker());
                    s.with(n, &Cancellable { inner, cancel: &f2 })
                });
                let _ = tx.send(got);
            });
            Canceller::Waiter(flag, slot)
        }
        form => {
            thread::spawn(move || {
                let _ = tx.send(s.blocking(n, form));
            });
            Canceller::None
        }
    };
    (canceller, rx)
}

struct Queued {
    want: usize,
    cancel: bool,
    rx: mpsc::Receiver<bool>,
}

/// Queues a waiter per entry of `wants` (the value passed to the source),
/// cancelling those `cancel` picks once all are queued.
fn queue<S: Source>(
    s: &Arc<S>,
    rt: &tokio::runtime::Runtime,
    wants: &[usize],
    cancel: impl Fn(usize, Form) -> bool,
) -> Vec<Queued> {
    let mut out = Vec::new();
    let mut cancellers = Vec::new();
    for (i, &want) in wants.iter().enumerate() {
        let form = FORMS[i % FORMS.len()];
        let can = cancel(i, form) && matches!(form, Form::Await | Form::Tokio | Form::With);
        let (c, rx) = start(s, rt, want, form, can);
        wait_until("the waiter queues", || s.waiting() == i + 1);
        cancellers.push(c);
        out.push(Queued {
            want,
            cancel: can,
            rx,
        });
    }
    let mut left = wants.len();
    for (q, c) in out.iter().zip(cancellers) {
        if q.cancel {
            c.fire();
            assert!(!q.rx.recv_timeout(LONG).expect("a cancelled wait ends"));
            left -= 1;
            wait_until("the cancelled wait leaves", || s.waiting() == left);
        }
    }
    out
}

/// Releases one permit at a time and checks after each that exactly the
/// longest prefix of the (remaining) line that the released permits cover
/// was served, each all at once: nobody behind a waiting head overtakes it.
fn never_overtaken<S: Source>(s: &Arc<S>, release: impl Fn(&S, usize), name: &str) {
    let _dog = Watchdog::new("never_overtaken", Duration::from_secs(60));
    let rt = worlds::multi_thread_rt();
    // Large and small requests mixed; the head wants the most.
    let wants = [3, 1, 2, 1, 1, 3, 2, 1, 1, 2, 1, 3, 1, 1, 2, 1, 1, 1];
    let line = queue(s, &rt, &wants, |i, _| i % 5 == 1);
    let live: Vec<&Queued> = line.iter().filter(|q| !q.cancel).collect();
    let total: usize = live.iter().map(|q| q.want).sum();
    let mut served = 0;
    let mut covered = 0;
    for released in 1..=total {
        release(s, 1);
        while served < live.len() && covered + live[served].want <= released {
            covered += live[served].want;
            served += 1;
        }
        assert_eq!(
            s.waiting(),
            live.len() - served,
            "{name}: after {released} permits, exactly the first {served} are served"
        );
    }
    for (k, q) in live.iter().enumerate() {
        assert!(
            q.rx.recv_timeout(LONG).unwrap(),
            "{name}: waiter {k} served"
        );
        assert!(q.rx.try_recv().is_err(), "{name}: once");
    }
}

#[test]
fn semaphore_large_head_is_never_overtaken_in_every_form() {
    let s = Arc::new(Semaphore::new(0));
    never_overtaken(&s, |s, n| s.release(n), "Semaphore");
    assert_eq!(s.value(), 0);
}

#[test]
fn bounded_semaphore_large_head_is_never_overtaken_in_every_form() {
    let s = Arc::new(BoundedSemaphore::new(0, 1000));
    never_overtaken(&s, |s, n| s.release(n).unwrap(), "BoundedSemaphore");
    assert_eq!(s.value(), 0);
}

#[test]
fn semaphore_head_that_gives_up_lets_the_line_through_in_order() {
    let _dog = Watchdog::new("head gives up", Duration::from_secs(60));
    let rt = worlds::multi_thread_rt();
    for form in [Form::Await, Form::Tokio, Form::With] {
        let s = Arc::new(Semaphore::new(0));
        // The head wants 5; behind it, 1 + 1 + 2.
        let (head, _) = start(&s, &rt, 5, form, true);
        wait_until("the head queues", || s.waiting() == 1);
        let rest = queue_behind(&s, &rt, &[1, 1, 2]);
        s.release(3); // not enough for the head: nobody behind it moves
        assert_eq!(
            s.waiting(),
            4,
            "{form:?}: the smaller ones wait behind the head"
        );
        head.fire();
        // The head left: the 3 free permits reach the next ones, in order.
        wait_until("the line moves", || s.waiting() == 1);
        assert!(rest[0].recv_timeout(LONG).unwrap());
        assert!(rest[1].recv_timeout(LONG).unwrap());
        s.release(1);
        assert!(rest[2].recv_timeout(LONG).unwrap());
        assert_eq!(s.value(), 0);
    }
}

fn queue_behind<S: Source>(
    s: &Arc<S>,
    rt: &tokio::runtime::Runtime,
    wants: &[usize],
) -> Vec<mpsc::Receiver<bool>> {
    let before = s.waiting();
    wants
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            let (_, rx) = start(s, rt, w, FORMS[(i + 2) % FORMS.len()], false);
            wait_until("queued", || s.waiting() == before + i + 1);
            rx
        })
        .collect()
}

/// `set_total_tokens` growing serves the oldest waiters at once; at most
/// `total` hold a token.
fn growing_total_serves_oldest_first<L>(
    make: fn() -> L,
    total: fn(&L) -> (usize, usize),
    grow: fn(&L, usize),
    name: &str,
) where
    Limiter<L>: Source,
    L: Send + Sync + 'static,
{
    let _dog = Watchdog::new("set_total_tokens", Duration::from_secs(60));
    let rt = worlds::multi_thread_rt();
    const N: usize = 18;
    let lim = Arc::new(Limiter {
        l: make(),
        ids: (0..N).map(|_| UnitId::allocate()).collect(),
    });
    let line = queue(&lim, &rt, &(0..N).collect::<Vec<_>>(), |i, _| i % 4 == 2);
    let live: Vec<&Queued> = line.iter().filter(|q| !q.cancel).collect();
    let mut granted = 0;
    for step in [1, 3, 2, 5, 100] {
        grow(&lim.l, granted + step);
        let now = (granted + step).min(live.len());
        assert_eq!(
            lim.waiting(),
            live.len() - now,
            "{name}: growing to {} served the oldest at once",
            granted + step
        );
        for q in &live[granted..now] {
            assert!(
                q.rx.recv_timeout(LONG).unwrap(),
                "{name}: waiter {} served",
                q.want
            );
        }
        granted = now;
        let (borrowed, cap) = total(&lim.l);
        assert!(borrowed <= cap, "{name}: at most total_tokens borrowers");
        assert_eq!(borrowed, granted, "{name}");
    }
}

#[test]
fn capacity_limiter_growing_total_serves_the_oldest_at_once_in_every_form() {
    growing_total_serves_oldest_first(
        || CapacityLimiter::new(0),
        |l| (l.borrowed_tokens(), l.total_tokens()),
        |l, t| l.set_total_tokens(t),
        "CapacityLimiter",
    );
}

#[test]
fn rcapacity_limiter_growing_total_serves_the_oldest_at_once_in_every_form() {
    growing_total_serves_oldest_first(
        || RCapacityLimiter::new(0),
        |l| (l.borrowed_tokens(), l.total_tokens()),
        |l, t| l.set_total_tokens(t),
        "RCapacityLimiter",
    );
}

#[test]
fn binary_semaphore_holds_at_most_one_free_permit_under_cancellation() {
    let _dog = Watchdog::new("binary bound", Duration::from_secs(60));
    let rt = worlds::multi_thread_rt();
    const N: usize = 18;
    for round in 0..4 {
        let s = Arc::new(BinarySemaphore::new(false));
        let mut waiters = Vec::new();
        for i in 0..N {
            let form = FORMS[(i + round) % FORMS.len()];
            let can = i % 2 == 0 && matches!(form, Form::Await | Form::Tokio | Form::With);
            let (c, rx) = start(&s, &rt, 1, form, can);
            wait_until("the waiter queues", || s.waiting() == i + 1);
            waiters.push((can, c, rx));
        }
        let cancellers: Vec<Canceller> = waiters
            .iter_mut()
            .map(|w| std::mem::replace(&mut w.1, Canceller::None))
            .collect();
        // Cancellations race with releases (a served waiter that is
        // cancelled before it consumed the permit gives it back).
        let canceller = thread::spawn(move || cancellers.into_iter().for_each(Canceller::fire));
        let releaser = {
            let s = s.clone();
            thread::spawn(move || {
                for _ in 0..N {
                    s.release();
                    assert!(s.value() <= 1, "at most one free permit");
                }
            })
        };
        for _ in 0..N {
            s.release();
            assert!(s.value() <= 1, "at most one free permit");
        }
        canceller.join().unwrap();
        releaser.join().unwrap();
        for (can, _, rx) in &waiters {
            let got = rx.recv_timeout(LONG).expect("every waiter ends");
            assert!(
                got || *can,
                "round {round}: a waiter that stayed was not served"
            );
        }
        assert_eq!(s.value(), 1, "round {round}: 2N releases, at most one kept");
        assert_eq!(s.waiting(), 0);
    }
}
