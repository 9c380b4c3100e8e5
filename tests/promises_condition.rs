//! Issue 21, point 3: `Condition`'s order promises under cancellation, in
//! every form, from threads and tasks (see tests/PROMISES.md).
//!
//! - "The waiter therefore wakes exactly once, already owning the lock, in
//!   FIFO order" (module docs) and "A notified waiter is moved to the lock's
//!   queue and resumes already owning the lock, in FIFO order";
//! - "`notify(n)` wakes up to `n` waiters, oldest first, and returns how
//!   many it woke";
//! - "Dropping the future never loses a notification" / a cancelled
//!   `_with` wait passes a notification on.
//!
//! Waiters queue one by one (arrival order known) in the six forms:
//! `.await` under `futures_lite` on a thread and in a tokio task,
//! `wait_blocking`, `try_wait_for`, `try_wait_until`, `wait_with`. Some give
//! up before any notify (a dropped future, a cancelled `_with` waiter).
//! Then `notify(1)` wakes them one at a time: each returns 1 while someone
//! waits, the woken waiter records its index under the lock, and the record
//! must be the arrival order of those that stayed, each once. A second
//! scenario cancels waiters right after a notify may have moved them: no
//! notification is lost (every waiter that stays is woken by as many
//! notifies as there are such waiters). A third: a waiter that arrives
//! while a `notify_all` runs (between two of its wake batches) is not woken
//! by it.

#[path = "support/cancel.rs"]
mod cancel;
#[path = "support/worlds.rs"]
mod worlds;

use cancel::{Cancellable, Canceller};
use polysync::lowlevel::{ThreadWaiter, Waiter};
use polysync::{Condition, Mutex};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex, mpsc};
use std::task::Waker;
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

/// The lock and the condition; the record of woken waiters is the data.
struct Pair {
    m: Mutex<Vec<usize>>,
    c: Condition,
}

/// Starts waiter `i` in `form`; it sends `true` once woken (after recording
/// `i` under the lock), `false` if it gave up.
fn start(
    p: &Arc<Pair>,
    rt: &tokio::runtime::Runtime,
    i: usize,
    form: Form,
    cancel: bool,
) -> (Canceller, mpsc::Receiver<bool>) {
    let (tx, rx) = mpsc::channel();
    let p = p.clone();
    match form {
        Form::Await | Form::Tokio => {
            let (ctx, crx) = tokio::sync::oneshot::channel::<()>();
            let fut = async move {
                let woken = {
                    let waiting: Pin<Box<dyn Future<Output = bool> + Send>> = Box::pin(async {
                        let g = p.m.lock().await;
                        let mut g = p.c.wait(g).await;
                        g.push(i);
                        true
                    });
                    futures_lite::future::or(waiting, async move {
                        if crx.await.is_ok() {
                            false
                        } else {
                            std::future::pending().await
                        }
                    })
                    .await
                };
                let _ = tx.send(woken);
            };
            if form == Form::Await {
                thread::spawn(move || futures_lite::future::block_on(fut));
            } else {
                rt.spawn(fut);
            }
            if cancel {
                (Canceller::Future(ctx), rx)
            } else {
                std::mem::forget(ctx);
                (Canceller::None, rx)
            }
        }
        Form::With => {
            let flag = Arc::new(AtomicBool::new(false));
            let slot = Arc::new(StdMutex::new(None));
            let (f2, s2) = (flag.clone(), slot.clone());
            thread::spawn(move || {
                let woken = ThreadWaiter::with_current(|inner| {
                    *s2.lock().unwrap() = Some(inner.waker());
                    let w = Cancellable { inner, cancel: &f2 };
                    let g = p.m.lock_blocking();
                    match p.c.wait_with(g, &w, None) {
                        Ok(mut g) => {
                            g.push(i);
                            true
                        }
                        Err(_) => false,
                    }
                });
                let _ = tx.send(woken);
            });
            let c = if cancel {
                Canceller::Waiter(flag, slot)
            } else {
                Canceller::None
            };
            (c, rx)
        }
        form => {
            thread::spawn(move || {
                let g = p.m.lock_blocking();
                let r = match form {
                    Form::Blocking => Ok(p.c.wait_blocking(g)),
                    Form::For => p.c.try_wait_for(g, LONG),
                    Form::Until => p.c.try_wait_until(g, Instant::now() + LONG),
                    _ => unreachable!(),
                };
                let woken = match r {
                    Ok(mut g) => {
                        g.push(i);
                        true
                    }
                    Err(_) => false,
                };
                let _ = tx.send(woken);
            });
            (Canceller::None, rx)
        }
    }
}

fn queue_all(
    p: &Arc<Pair>,
    rt: &tokio::runtime::Runtime,
    n: usize,
    cancel: impl Fn(usize, Form) -> bool,
) -> Vec<(Form, bool, Canceller, mpsc::Receiver<bool>)> {
    let mut waiters = Vec::new();
    for i in 0..n {
        let form = FORMS[i % FORMS.len()];
        let can = cancel(i, form) && matches!(form, Form::Await | Form::Tokio | Form::With);
        let (c, rx) = start(p, rt, i, form, can);
        // Queued in the condition (and the lock released) before the next.
        wait_until("the waiter queues", || p.c.waiting() == i + 1);
        waiters.push((form, can, c, rx));
    }
    waiters
}

#[test]
fn notify_one_wakes_the_oldest_each_once_in_every_form_after_cancellations() {
    let _dog = Watchdog::new("condition fifo", Duration::from_secs(60));
    let rt = worlds::multi_thread_rt();
    const N: usize = 18;
    let p = Arc::new(Pair {
        m: Mutex::new(Vec::new()),
        c: Condition::new(),
    });
    let mut waiters = queue_all(&p, &rt, N, |i, _| i % 4 == 0);
    let mut left = N;
    for (_, can, c, rx) in &mut waiters {
        if *can {
            std::mem::replace(c, Canceller::None).fire();
            assert!(!rx.recv_timeout(LONG).expect("a cancelled wait ends"));
            left -= 1;
            wait_until("the cancelled wait leaves", || p.c.waiting() == left);
        }
    }
    let mut expected = Vec::new();
    for (i, (form, can, _, rx)) in waiters.iter().enumerate() {
        if *can {
            continue;
        }
        assert_eq!(p.c.notify(1), 1, "notify(1) wakes one while {left} wait");
        left -= 1;
        assert!(
            rx.recv_timeout(LONG).expect("the woken waiter ends"),
            "{i} {form:?}"
        );
        expected.push(i);
        // The oldest was woken: the record is the arrival order so far.
        assert_eq!(*p.m.lock_blocking(), expected, "oldest first, each once");
    }
    assert_eq!(p.c.notify(1), 0, "nobody left");
    assert_eq!(p.c.waiting(), 0);
}

#[test]
fn notify_n_wakes_up_to_n_oldest_first_and_says_how_many() {
    let _dog = Watchdog::new("condition notify n", Duration::from_secs(60));
    let rt = worlds::multi_thread_rt();
    const N: usize = 12;
    let p = Arc::new(Pair {
        m: Mutex::new(Vec::new()),
        c: Condition::new(),
    });
    // Hold the lock so that the woken waiters queue for it in FIFO order.
    let waiters = queue_all(&p, &rt, N, |_, _| false);
    let held = p.m.lock_blocking();
    assert_eq!(p.c.notify(5), 5);
    assert_eq!(p.c.waiting(), N - 5);
    assert_eq!(
        p.m.waiting(),
        5,
        "moved to the lock's queue, not woken to race"
    );
    drop(held);
    for (_, _, _, rx) in &waiters[..5] {
        assert!(rx.recv_timeout(LONG).unwrap());
    }
    assert_eq!(*p.m.lock_blocking(), vec![0, 1, 2, 3, 4]);
    assert_eq!(p.c.notify(100), N - 5, "up to n: only those waiting");
    for (_, _, _, rx) in &waiters[5..] {
        assert!(rx.recv_timeout(LONG).unwrap());
    }
    assert_eq!(*p.m.lock_blocking(), (0..N).collect::<Vec<_>>());
}

#[test]
fn a_notification_is_never_lost_to_a_cancelled_waiter() {
    let _dog = Watchdog::new("condition no lost notify", Duration::from_secs(60));
    let rt = worlds::multi_thread_rt();
    const N: usize = 18;
    for round in 0..4 {
        let p = Arc::new(Pair {
            m: Mutex::new(Vec::new()),
            c: Condition::new(),
        });
        let mut waiters = queue_all(&p, &rt, N, |i, _| (i + round) % 2 == 0);
        let cancelled = waiters.iter().filter(|w| w.1).count();
        let stay = N - cancelled;
        // Hold the lock: a notify moves a waiter to the lock's queue; a
        // cancellation then must pass the notification on.
        let held = p.m.lock_blocking();
        assert_eq!(p.c.notify(stay), stay);
        for (_, _, c, _) in &mut waiters {
            std::mem::replace(c, Canceller::None).fire();
        }
        drop(held);
        // The cancellable waiters end first: cancelled, or woken if the
        // notification (and the lock) reached them before the cancellation.
        let mut woken_cancellable = 0;
        for (_, can, _, rx) in &waiters {
            if *can {
                woken_cancellable += usize::from(rx.recv_timeout(LONG).expect("it ends"));
            }
        }
        // The `stay` notifications went to the woken cancellable waiters and
        // to as many others; the rest still wait: one more means one lost.
        assert_eq!(
            p.c.waiting(),
            woken_cancellable,
            "round {round}: a notification was lost"
        );
        assert_eq!(p.c.notify_all(), woken_cancellable);
        for (i, (form, can, _, rx)) in waiters.iter().enumerate() {
            if !*can {
                let w = rx.recv_timeout(LONG).expect("every waiter ends");
                assert!(
                    w,
                    "round {round}: waiter {i} ({form:?}) stayed but was not woken"
                );
            }
        }
        let stay = stay + woken_cancellable;
        let rec = p.m.lock_blocking().clone();
        assert_eq!(rec.len(), stay);
        assert!(rec.windows(2).all(|w| w[0] < w[1]), "FIFO: {rec:?}");
        assert_eq!(p.c.waiting(), 0);
    }
}

/// "Waiters that start waiting while a notify runs are not woken by it":
/// `notify_all` wakes the waiters whose lock was free in batches, waking
/// each batch outside the queue lock; the first waiter's waker starts a new
/// wait on the same condition (with a lock of its own) from inside that
/// wake, between two batches. The notify must skip it and count only the
/// waiters that were queued when it began.
#[test]
fn a_waiter_that_arrives_during_a_notify_is_not_woken_by_it() {
    use std::task::{Context, Poll, Wake};
    let _dog = Watchdog::new("arrival during notify", Duration::from_secs(60));
    // More waiters than one wake batch (16), each with its own lock, free
    // at the notify: each is handed its lock, so each has a waker to wake.
    const N: usize = 40;
    let cond: &'static Condition = Box::leak(Box::new(Condition::new()));
    let locks: &'static [Mutex<Vec<usize>>] = Box::leak(
        (0..=N)
            .map(|_| Mutex::new(Vec::new()))
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );
    type Fut = Pin<Box<dyn Future<Output = polysync::MutexGuard<'static, Vec<usize>>> + Send>>;
    let newcomer: &'static StdMutex<Option<Fut>> = Box::leak(Box::new(StdMutex::new(None)));

    /// On its first wake, starts the newcomer's wait (polled once: queued).
    struct Arrive {
        cond: &'static Condition,
        lock: &'static Mutex<Vec<usize>>,
        slot: &'static StdMutex<Option<Fut>>,
        done: AtomicBool,
    }
    impl Wake for Arrive {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            if self.done.swap(true, Ordering::SeqCst) {
                return;
            }
            let guard = self.lock.try_lock().expect("the newcomer's lock is free");
            let mut fut: Fut = Box::pin(self.cond.wait(guard));
            assert!(
                fut.as_mut()
                    .poll(&mut Context::from_waker(Waker::noop()))
                    .is_pending()
            );
            *self.slot.lock().unwrap() = Some(fut);
        }
    }
    let arrive = Waker::from(Arc::new(Arrive {
        cond,
        lock: &locks[N],
        slot: newcomer,
        done: AtomicBool::new(false),
    }));

    let mut waits: Vec<Fut> = Vec::new();
    for (i, lock) in locks[..N].iter().enumerate() {
        let guard = lock.try_lock().unwrap();
        let mut fut: Fut = Box::pin(cond.wait(guard));
        let waker = if i == 0 {
            arrive.clone()
        } else {
            Waker::noop().clone()
        };
        assert!(
            fut.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        waits.push(fut);
    }
    assert_eq!(cond.waiting(), N);
    assert_eq!(
        cond.notify_all(),
        N,
        "the waiters queued when it began, no more"
    );
    assert!(
        newcomer.lock().unwrap().is_some(),
        "the newcomer arrived during the notify"
    );
    assert_eq!(cond.waiting(), 1, "the newcomer was not woken by it");
    for (i, mut fut) in waits.into_iter().enumerate() {
        match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(mut g) => g.push(i),
            Poll::Pending => panic!("waiter {i} was not handed its lock"),
        }
    }
    let mut late = newcomer.lock().unwrap().take().unwrap();
    assert!(
        late.as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending()
    );
    assert_eq!(cond.notify_all(), 1, "the next notify wakes it");
    assert!(
        late.as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_ready()
    );
}
