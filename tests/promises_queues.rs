//! Issue 21, point 3: the order and exactly-once promises of the getting
//! side of the queues and channels, checked under cancellation, in every
//! form, from threads and tasks (see tests/PROMISES.md). The capacity
//! promises ("holds at most `capacity`") are tests/queue_capacity.rs's.
//!
//! - `Queue`: "Waiting getters are served strictly FIFO across all worlds,
//!   by direct hand-off"; "Dropping the future never loses an item: it
//!   withdraws the get, and [an item handed to it] goes back to the front";
//! - channel `Receiver`: "[each value] goes to exactly one of them, waiting
//!   receivers served strictly FIFO"; "Dropping the future never loses a
//!   value";
//! - `SimpleQueue`: "An unbounded FIFO queue"; "Dropping the future never
//!   loses an item".
//!
//! Getters queue one by one in the six forms (`.await` under `futures_lite`
//! on a thread and in a tokio task, `_blocking`, `try_x_for`,
//! `try_x_until`, `_with`). First scenario: some give up before any put;
//! then one item per remaining getter is put, one at a time: right after
//! each put (the hand-off is under the queue lock) one getter fewer waits,
//! and getter `k` of those that stayed receives item `k`. Second scenario:
//! the cancellations race with the puts; every item ends up exactly once,
//! with a getter or still in the queue, and every getter that stayed gets
//! one.

#[path = "support/cancel.rs"]
mod cancel;
#[path = "support/worlds.rs"]
mod worlds;

use cancel::{Cancellable, Canceller};
use polysync::channel::{self, Receiver, Sender};
use polysync::lowlevel::{ThreadWaiter, Waiter};
use polysync::{Queue, SimpleQueue};
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

type BoxFut<'a> = Pin<Box<dyn Future<Output = Option<usize>> + Send + 'a>>;

trait Getter: Send + Sync + 'static {
    fn make() -> Self;
    fn waiting(&self) -> usize;
    fn put(&self, v: usize);
    fn try_get(&self) -> Option<usize>;
    fn blocking(&self, form: Form) -> Option<usize>;
    fn with(&self, w: &dyn Waiter) -> Option<usize>;
    fn fut(&self) -> BoxFut<'_>;
}

impl Getter for Queue<usize> {
    fn make() -> Self {
        Queue::unbounded()
    }
    fn waiting(&self) -> usize {
        self.getting()
    }
    fn put(&self, v: usize) {
        self.try_put(v).unwrap();
    }
    fn try_get(&self) -> Option<usize> {
        Queue::try_get(self).ok()
    }
    fn blocking(&self, form: Form) -> Option<usize> {
        match form {
            Form::Blocking => self.get_blocking().ok(),
            Form::For => self.try_get_for(LONG).ok(),
            Form::Until => self.try_get_until(Instant::now() + LONG).ok(),
            Form::With => ThreadWaiter::with_current(|w| self.with(w)),
            Form::Await | Form::Tokio => unreachable!(),
        }
    }
    fn with(&self, w: &dyn Waiter) -> Option<usize> {
        self.get_with(w, None).ok()
    }
    fn fut(&self) -> BoxFut<'_> {
        Box::pin(async move { self.get().await.ok() })
    }
}

impl Getter for SimpleQueue<usize> {
    fn make() -> Self {
        SimpleQueue::new()
    }
    fn waiting(&self) -> usize {
        self.getting()
    }
    fn put(&self, v: usize) {
        SimpleQueue::put(self, v);
    }
    fn try_get(&self) -> Option<usize> {
        SimpleQueue::try_get(self)
    }
    fn blocking(&self, form: Form) -> Option<usize> {
        match form {
            Form::Blocking => Some(self.get_blocking()),
            Form::For => self.try_get_for(LONG),
            Form::Until => self.try_get_until(Instant::now() + LONG),
            Form::With => ThreadWaiter::with_current(|w| self.with(w)),
            Form::Await | Form::Tokio => unreachable!(),
        }
    }
    fn with(&self, w: &dyn Waiter) -> Option<usize> {
        self.get_with(w, None).ok()
    }
    fn fut(&self) -> BoxFut<'_> {
        Box::pin(async move { Some(self.get().await) })
    }
}

/// Both ends of an unbounded channel.
struct Chan(Sender<usize>, Receiver<usize>);

impl Getter for Chan {
    fn make() -> Self {
        let (tx, rx) = channel::unbounded();
        Chan(tx, rx)
    }
    fn waiting(&self) -> usize {
        self.1.receiving()
    }
    fn put(&self, v: usize) {
        self.0.try_send(v).unwrap();
    }
    fn try_get(&self) -> Option<usize> {
        self.1.try_recv().ok()
    }
    fn blocking(&self, form: Form) -> Option<usize> {
        // Each getter is its own clone of the receiver, as users share one.
        let rx = self.1.clone();
        match form {
            Form::Blocking => rx.recv_blocking().ok(),
            Form::For => rx.try_recv_for(LONG).ok(),
            Form::Until => rx.try_recv_until(Instant::now() + LONG).ok(),
            Form::With => ThreadWaiter::with_current(|w| self.with(w)),
            Form::Await | Form::Tokio => unreachable!(),
        }
    }
    fn with(&self, w: &dyn Waiter) -> Option<usize> {
        self.1.clone().recv_with(w, None).ok()
    }
    fn fut(&self) -> BoxFut<'_> {
        let rx = self.1.clone();
        Box::pin(async move { rx.recv().await.ok() })
    }
}

fn start<G: Getter>(
    g: &Arc<G>,
    rt: &tokio::runtime::Runtime,
    form: Form,
    cancel: bool,
) -> (Canceller, mpsc::Receiver<Option<usize>>) {
    let (tx, rx) = mpsc::channel();
    let g = g.clone();
    let canceller = match form {
        Form::Await | Form::Tokio => {
            let (ctx, crx) = tokio::sync::oneshot::channel::<()>();
            let fut = async move {
                let got = futures_lite::future::or(g.fut(), async move {
                    if crx.await.is_ok() {
                        None
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
                    g.with(&Cancellable { inner, cancel: &f2 })
                });
                let _ = tx.send(got);
            });
            Canceller::Waiter(flag, slot)
        }
        form => {
            thread::spawn(move || {
                let _ = tx.send(g.blocking(form));
            });
            Canceller::None
        }
    };
    (canceller, rx)
}

type Line = Vec<(Form, bool, Canceller, mpsc::Receiver<Option<usize>>)>;

fn queue_getters<G: Getter>(
    g: &Arc<G>,
    rt: &tokio::runtime::Runtime,
    n: usize,
    cancel: impl Fn(usize) -> bool,
) -> Line {
    (0..n)
        .map(|i| {
            let form = FORMS[i % FORMS.len()];
            let can = cancel(i) && matches!(form, Form::Await | Form::Tokio | Form::With);
            let (c, rx) = start(g, rt, form, can);
            wait_until("the getter queues", || g.waiting() == i + 1);
            (form, can, c, rx)
        })
        .collect()
}

fn fifo_after_cancellations<G: Getter>(name: &str) {
    let _dog = Watchdog::new("getters fifo", Duration::from_secs(60));
    let rt = worlds::multi_thread_rt();
    const N: usize = 18;
    let g = Arc::new(G::make());
    let mut line = queue_getters(&g, &rt, N, |i| i % 4 == 0);
    let mut left = N;
    for (_, can, c, rx) in &mut line {
        if *can {
            std::mem::replace(c, Canceller::None).fire();
            assert_eq!(rx.recv_timeout(LONG).expect("it ends"), None);
            left -= 1;
            wait_until("the cancelled getter leaves", || g.waiting() == left);
        }
    }
    let mut k = 0;
    for (i, (form, can, _, rx)) in line.iter().enumerate() {
        if *can {
            continue;
        }
        g.put(k);
        left -= 1;
        assert_eq!(
            g.waiting(),
            left,
            "{name}: the put was handed to one getter"
        );
        assert_eq!(
            rx.recv_timeout(LONG).expect("served"),
            Some(k),
            "{name}: getter {i} ({form:?}) is the oldest and gets item {k}"
        );
        k += 1;
    }
    assert_eq!(g.try_get(), None, "{name}: nothing left over");
}

fn exactly_once_with_racing_cancellations<G: Getter>(name: &str) {
    let _dog = Watchdog::new("getters exactly once", Duration::from_secs(60));
    let rt = worlds::multi_thread_rt();
    const N: usize = 18;
    for round in 0..4 {
        let g = Arc::new(G::make());
        let mut line = queue_getters(&g, &rt, N, |i| (i + round) % 2 == 0);
        let cancellers: Vec<Canceller> = line
            .iter_mut()
            .map(|w| std::mem::replace(&mut w.2, Canceller::None))
            .collect();
        // Put one item per getter while the cancellations run.
        let canceller = thread::spawn(move || {
            for c in cancellers {
                c.fire();
            }
        });
        for v in 0..N {
            g.put(v);
        }
        canceller.join().unwrap();
        let mut seen = vec![0usize; N];
        for (i, (form, can, _, rx)) in line.iter().enumerate() {
            match rx.recv_timeout(LONG).expect("every getter ends") {
                Some(v) => seen[v] += 1,
                None => assert!(*can, "{name}: getter {i} ({form:?}) stayed but got nothing"),
            }
        }
        while let Some(v) = g.try_get() {
            seen[v] += 1;
        }
        assert!(
            seen.iter().all(|&n| n == 1),
            "{name} round {round}: every item exactly once: {seen:?}"
        );
        assert_eq!(g.waiting(), 0);
    }
}

#[test]
fn queue_getters_served_fifo_in_every_form_after_cancellations() {
    fifo_after_cancellations::<Queue<usize>>("Queue");
}

#[test]
fn simple_queue_getters_served_fifo_in_every_form_after_cancellations() {
    fifo_after_cancellations::<SimpleQueue<usize>>("SimpleQueue");
}

#[test]
fn channel_receivers_served_fifo_in_every_form_after_cancellations() {
    fifo_after_cancellations::<Chan>("channel");
}

#[test]
fn queue_items_exactly_once_with_racing_cancellations() {
    exactly_once_with_racing_cancellations::<Queue<usize>>("Queue");
}

#[test]
fn simple_queue_items_exactly_once_with_racing_cancellations() {
    exactly_once_with_racing_cancellations::<SimpleQueue<usize>>("SimpleQueue");
}

#[test]
fn channel_values_exactly_once_with_racing_cancellations() {
    exactly_once_with_racing_cancellations::<Chan>("channel");
}
