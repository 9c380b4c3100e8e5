//! Issue 21, point 3: the promises of the events, checked under
//! cancellation, in every form, from threads and tasks (see
//! tests/PROMISES.md).
//!
//! `Event` ("wakes [every waiter], and every later wait returns at once"),
//! `CountdownEvent` ("if the value is 0 then, it completes at once";
//! `clear` "drops the value to zero at once, waking every waiter"; the last
//! `down` the same), `REvent` ("if the event is set then, it completes at
//! once"; "`set()` wakes exactly the waits that started before it. They
//! complete even if `clear()` follows at once"), and `Latch` ("every later
//! wait returns at once"; broken: "later waits fail at once").
//!
//! The harness: waiters in the six forms (`.await` under `futures_lite` on a
//! thread and in a tokio task, `_blocking`, `try_x_for`, `try_x_until`,
//! `_with`) queue; some give up first (a dropped future, a waiter that
//! reports `Cancelled`); then the event fires. Every waiter that did not
//! give up completes exactly once; those that gave up report so. Then,
//! where the event stays set, a later wait in each form completes at once:
//! an async wait is `Ready` at its first poll, `try_wait` is `true`, and a
//! blocking wait returns (nobody will ever fire again: a wait that blocks
//! would hang, and the watchdog fails it).

#[path = "support/cancel.rs"]
mod cancel;
#[path = "support/worlds.rs"]
mod worlds;

use cancel::{Cancellable, Canceller};
use polysync::barrier::Latch;
use polysync::countdown::CountdownEvent;
use polysync::lowlevel::{ThreadWaiter, Waiter};
use polysync::{Event, REvent};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex as StdMutex, mpsc};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};
use worlds::{Watchdog, wait_until};

const LONG: Duration = Duration::from_secs(60);

type BoxFut<'a> = Pin<Box<dyn Future<Output = bool> + Send + 'a>>;

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

/// An event-like primitive; each wait returns whether it completed.
trait EventLike: Send + Sync + 'static {
    fn waiting(&self) -> usize;
    fn try_wait(&self) -> bool;
    fn blocking(&self, form: Form) -> bool;
    fn with(&self, w: &dyn Waiter, deadline: Option<Instant>) -> bool;
    fn fut(&self) -> BoxFut<'_>;
}

macro_rules! event_like {
    ($($ty:ty),*) => {$(
        impl EventLike for $ty {
            fn waiting(&self) -> usize {
                <$ty>::waiting(self)
            }
            fn try_wait(&self) -> bool {
                <$ty>::try_wait(self)
            }
            fn blocking(&self, form: Form) -> bool {
                match form {
                    Form::Blocking => {
                        self.wait_blocking();
                        true
                    }
                    Form::For => self.try_wait_for(LONG),
                    Form::Until => self.try_wait_until(Instant::now() + LONG),
                    Form::With => ThreadWaiter::with_current(|w| self.with(w, None)),
                    Form::Await | Form::Tokio => unreachable!(),
                }
            }
            fn with(&self, w: &dyn Waiter, deadline: Option<Instant>) -> bool {
                self.wait_with(w, deadline).is_ok()
            }
            fn fut(&self) -> BoxFut<'_> {
                Box::pin(async move {
                    self.wait().await;
                    true
                })
            }
        }
    )*};
}
event_like!(Event, REvent, CountdownEvent);

impl EventLike for Latch {
    fn waiting(&self) -> usize {
        Latch::waiting(self)
    }
    fn try_wait(&self) -> bool {
        Latch::try_wait(self) == Ok(true)
    }
    fn blocking(&self, form: Form) -> bool {
        match form {
            Form::Blocking => self.wait_blocking().is_ok(),
            Form::For => self.try_wait_for(LONG).is_ok(),
            Form::Until => self.try_wait_until(Instant::now() + LONG).is_ok(),
            Form::With => ThreadWaiter::with_current(|w| self.with(w, None)),
            Form::Await | Form::Tokio => unreachable!(),
        }
    }
    fn with(&self, w: &dyn Waiter, deadline: Option<Instant>) -> bool {
        self.wait_with(w, deadline).is_ok()
    }
    fn fut(&self) -> BoxFut<'_> {
        Box::pin(async move { self.wait().await.is_ok() })
    }
}

fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(Waker::noop()))
}

/// Starts a waiter in `form` (cancellable on demand if `cancel`); the
/// receiver gets its result once.
fn start<E: EventLike>(
    e: &Arc<E>,
    rt: &tokio::runtime::Runtime,
    form: Form,
    cancel: bool,
) -> (Canceller, mpsc::Receiver<bool>) {
    let (tx, rx) = mpsc::channel();
    let e = e.clone();
    let canceller = match form {
        Form::Await | Form::Tokio => {
            let (ctx, crx) = tokio::sync::oneshot::channel::<()>();
            let fut = async move {
                let done = futures_lite::future::or(e.fut(), async move {
                    if crx.await.is_ok() {
                        false
                    } else {
                        std::future::pending().await
                    }
                })
                .await;
                let _ = tx.send(done);
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
                let done = ThreadWaiter::with_current(|inner| {
                    *s2.lock().unwrap() = Some(inner.waker());
                    e.with(&Cancellable { inner, cancel: &f2 }, None)
                });
                let _ = tx.send(done);
            });
            Canceller::Waiter(flag, slot)
        }
        form => {
            thread::spawn(move || {
                let _ = tx.send(e.blocking(form));
            });
            Canceller::None
        }
    };
    (canceller, rx)
}

/// Queues `n` waiters (every third that can be cancelled gives up), fires
/// with `fire`, and checks that each of the others completes exactly once.
fn waiters_then_fire<E: EventLike>(e: &Arc<E>, n: usize, fire: impl FnOnce(&E), name: &str) {
    let rt = worlds::multi_thread_rt();
    let mut waiters = Vec::new();
    for i in 0..n {
        let form = FORMS[i % FORMS.len()];
        let cancel = i % 3 == 0 && matches!(form, Form::Await | Form::Tokio | Form::With);
        let (c, rx) = start(e, &rt, form, cancel);
        wait_until("the waiter queues", || e.waiting() == i + 1);
        waiters.push((form, cancel, c, rx));
    }
    let mut left = n;
    for (form, cancel, c, rx) in &mut waiters {
        if *cancel {
            std::mem::replace(c, Canceller::None).fire();
            let done = rx.recv_timeout(LONG).expect("a cancelled wait ends");
            assert!(
                !done,
                "{name}: a {form:?} wait cancelled before the fire completed"
            );
            left -= 1;
            wait_until("the cancelled wait leaves", || e.waiting() == left);
        }
    }
    fire(e);
    for (i, (form, cancel, _, rx)) in waiters.iter().enumerate() {
        if *cancel {
            continue;
        }
        let done = rx.recv_timeout(LONG).expect("every waiter ends");
        assert!(done, "{name}: waiter {i} ({form:?}) woken, and completed");
        assert!(rx.try_recv().is_err(), "{name}: exactly once");
    }
    assert_eq!(e.waiting(), 0, "{name}");
}

/// Once set (and staying set), a wait in every form completes at once.
fn later_waits_at_once<E: EventLike>(e: &Arc<E>, name: &str) {
    assert!(e.try_wait(), "{name}: try_wait");
    assert_eq!(
        poll_once(&mut e.fut()),
        Poll::Ready(true),
        "{name}: .await at once"
    );
    for form in [Form::Blocking, Form::For, Form::Until, Form::With] {
        assert!(e.blocking(form), "{name}: {form:?}");
    }
    assert!(
        ThreadWaiter::with_current(|w| e.with(w, Some(Instant::now()))),
        "{name}: _with and a deadline already passed"
    );
    let rt = worlds::multi_thread_rt();
    let e2 = e.clone();
    let ready = rt.block_on(async move {
        tokio::spawn(async move { futures_lite::future::poll_once(e2.fut()).await })
            .await
            .unwrap()
    });
    assert_eq!(ready, Some(true), "{name}: .await in a tokio task at once");
    assert_eq!(e.waiting(), 0, "{name}");
}

#[test]
fn event_wakes_every_waiter_once_and_later_waits_are_at_once() {
    let _dog = Watchdog::new("event", Duration::from_secs(60));
    let e = Arc::new(Event::new());
    waiters_then_fire(&e, 18, |e| assert!(e.set()), "Event");
    later_waits_at_once(&e, "Event");
}

#[test]
fn revent_wakes_every_waiter_once_and_later_waits_are_at_once() {
    let _dog = Watchdog::new("revent", Duration::from_secs(60));
    let e = Arc::new(REvent::new());
    waiters_then_fire(&e, 18, |e| assert!(e.set()), "REvent");
    later_waits_at_once(&e, "REvent");
}

#[test]
fn revent_pulse_wakes_exactly_the_waits_that_started_before() {
    let _dog = Watchdog::new("revent pulse", Duration::from_secs(60));
    let e = Arc::new(REvent::new());
    waiters_then_fire(
        &e,
        18,
        |e| {
            e.set();
            e.clear();
        },
        "REvent pulse",
    );
    // Nobody else: a later wait does not complete.
    assert!(!e.try_wait());
    let mut f = e.fut();
    assert_eq!(
        poll_once(&mut f),
        Poll::Pending,
        "a wait after the pulse waits"
    );
    assert!(!ThreadWaiter::with_current(
        |w| e.with(w, Some(Instant::now()))
    ));
    drop(f);
    assert_eq!(e.waiting(), 0);
}

#[test]
fn countdown_last_down_wakes_every_waiter_once_and_later_waits_are_at_once() {
    let _dog = Watchdog::new("countdown down", Duration::from_secs(60));
    let c = Arc::new(CountdownEvent::new(3));
    waiters_then_fire(
        &c,
        18,
        |c| {
            for _ in 0..3 {
                c.down().unwrap();
            }
        },
        "CountdownEvent down",
    );
    later_waits_at_once(&c, "CountdownEvent down");
}

#[test]
fn countdown_clear_wakes_every_waiter_once_and_later_waits_are_at_once() {
    let _dog = Watchdog::new("countdown clear", Duration::from_secs(60));
    let c = Arc::new(CountdownEvent::new(5));
    waiters_then_fire(&c, 18, |c| assert_eq!(c.clear(), 5), "CountdownEvent clear");
    later_waits_at_once(&c, "CountdownEvent clear");
}

#[test]
fn latch_passed_later_waits_return_at_once_in_every_form() {
    let _dog = Watchdog::new("latch passed", Duration::from_secs(60));
    // Six parties: one wait in each blocking-capable form passes it together
    // (no cancellation here: a party that gives up breaks a latch, below).
    let latch = Arc::new(Latch::new(6));
    let rt = worlds::multi_thread_rt();
    let rxs: Vec<_> = FORMS
        .iter()
        .map(|&form| start(&latch, &rt, form, false).1)
        .collect();
    for rx in rxs {
        assert!(rx.recv_timeout(LONG).expect("every party ends"), "passed");
    }
    later_waits_at_once(&latch, "Latch");
}

#[test]
fn latch_broken_by_a_cancelled_party_later_waits_fail_at_once_in_every_form() {
    let _dog = Watchdog::new("latch broken", Duration::from_secs(60));
    let latch = Arc::new(Latch::new(10));
    let rt = worlds::multi_thread_rt();
    let mut parties = Vec::new();
    for (i, &form) in FORMS.iter().enumerate() {
        parties.push(start(&latch, &rt, form, form == Form::Await));
        wait_until("the party queues", || latch.waiting() == i + 1);
    }
    let mut cancelled = None;
    for (c, rx) in parties {
        if matches!(c, Canceller::Future(_)) {
            c.fire();
            cancelled = Some(rx);
        } else {
            assert!(
                !rx.recv_timeout(LONG)
                    .expect("a party of a broken latch ends")
            );
        }
    }
    assert!(!cancelled.unwrap().recv_timeout(LONG).unwrap());
    assert!(latch.is_broken());
    // Later waits fail at once, in every form.
    assert!(latch.try_wait().is_err());
    assert_eq!(poll_once(&mut latch.fut()), Poll::Ready(false));
    for form in [Form::Blocking, Form::For, Form::Until, Form::With] {
        assert!(!latch.blocking(form), "{form:?} fails at once");
    }
    assert_eq!(latch.waiting(), 0);
}
