//! Issue 21, point 3: `RwLock`'s order promises, in every form, from
//! threads and tasks, under cancellation (see tests/PROMISES.md).
//!
//! - "a reader that arrives while anyone is queued queues behind them" and
//!   "a release hands the lock to the writer at the front, or to every
//!   reader at the front up to the next queued writer, at once"
//!   (rwlock/raw.rs, rwlock/mod.rs module docs);
//! - `write()`'s cancel safety: "while queued it leaves the queue (readers
//!   queued right behind it get in at once if the lock is read-held)", and
//!   "the waiters behind it keep their order".
//!
//! The line: a writer holds; then readers R1, R2, a writer W3, readers R4,
//! R5 queue one by one, the readers in rotating forms (`.await` under
//! `futures_lite` on a thread and in a tokio task, `_blocking`,
//! `try_x_for`, `try_x_until`, `_with`), W3 in a form that can be cancelled
//! (a dropped future in either executor, a cancelled `_with` waiter). All
//! checks read `readers()` / `waiting()` right after the call that hands
//! over (the hand-off is under the queue lock), so no timing is involved.

#[path = "support/cancel.rs"]
mod cancel;
#[path = "support/worlds.rs"]
mod worlds;

use cancel::Cancellable;
use polysync::RwLock;
use polysync::lowlevel::{ThreadWaiter, Waiter};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex, mpsc};
use std::task::Waker;
use std::thread;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
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

/// A waiter in the line: `inside` gets `true` once it holds (then it holds
/// until `release` fires), `false` if it gave up.
struct Party {
    inside: mpsc::Receiver<bool>,
    release: Option<oneshot::Sender<()>>,
    cancel: Option<Box<dyn FnOnce() + Send>>,
}

impl Party {
    fn is_in(&self) -> bool {
        self.inside.recv_timeout(LONG).expect("the party reports")
    }
    fn release(&mut self) {
        let _ = self.release.take().unwrap().send(());
    }
}

fn party(
    lock: &Arc<RwLock<()>>,
    rt: &tokio::runtime::Runtime,
    write: bool,
    form: Form,
    cancellable: bool,
) -> Party {
    let (in_tx, inside) = mpsc::channel();
    let (rel_tx, rel_rx) = oneshot::channel::<()>();
    let lock = lock.clone();
    let mut cancel: Option<Box<dyn FnOnce() + Send>> = None;
    match form {
        Form::Await | Form::Tokio => {
            let (ctx, crx) = oneshot::channel::<()>();
            let fut = async move {
                let got = futures_lite::future::or(
                    async {
                        if write {
                            let g = lock.write().await;
                            let _ = in_tx.send(true);
                            let _ = rel_rx.await;
                            drop(g);
                        } else {
                            let g = lock.read().await;
                            let _ = in_tx.send(true);
                            let _ = rel_rx.await;
                            drop(g);
                        }
                        true
                    },
                    async move {
                        if crx.await.is_ok() {
                            false
                        } else {
                            std::future::pending().await
                        }
                    },
                )
                .await;
                if !got {
                    let _ = in_tx.send(false);
                }
            };
            if form == Form::Await {
                thread::spawn(move || futures_lite::future::block_on(fut));
            } else {
                rt.spawn(fut);
            }
            if cancellable {
                cancel = Some(Box::new(move || {
                    let _ = ctx.send(());
                }));
            } else {
                std::mem::forget(ctx);
            }
        }
        form => {
            let flag = Arc::new(AtomicBool::new(false));
            let slot = Arc::new(StdMutex::new(None::<Waker>));
            let (f2, s2) = (flag.clone(), slot.clone());
            thread::spawn(move || {
                ThreadWaiter::with_current(|inner| {
                    *s2.lock().unwrap() = Some(inner.waker());
                    let w = Cancellable { inner, cancel: &f2 };
                    let deadline = Instant::now() + LONG;
                    let held = if write {
                        match form {
                            Form::Blocking => Some(lock.write_blocking()),
                            Form::For => lock.try_write_for(LONG),
                            Form::Until => lock.try_write_until(deadline),
                            _ => lock.write_with(&w, None).ok(),
                        }
                        .map(|g| {
                            let _ = in_tx.send(true);
                            let _ = rel_rx.blocking_recv();
                            drop(g);
                        })
                    } else {
                        match form {
                            Form::Blocking => Some(lock.read_blocking()),
                            Form::For => lock.try_read_for(LONG),
                            Form::Until => lock.try_read_until(deadline),
                            _ => lock.read_with(&w, None).ok(),
                        }
                        .map(|g| {
                            let _ = in_tx.send(true);
                            let _ = rel_rx.blocking_recv();
                            drop(g);
                        })
                    };
                    if held.is_none() {
                        let _ = in_tx.send(false);
                    }
                });
            });
            if cancellable {
                assert_eq!(form, Form::With, "only _with is cancelled on demand");
                cancel = Some(Box::new(move || {
                    flag.store(true, Ordering::SeqCst);
                    let w = slot.lock().unwrap().take();
                    w.expect("the waiter published its waker").wake();
                }));
            }
        }
    }
    Party {
        inside,
        release: Some(rel_tx),
        cancel,
    }
}

/// The holder, the line R1 R2 W3 R4 R5 (queued in that order).
fn line(
    lock: &Arc<RwLock<()>>,
    rt: &tokio::runtime::Runtime,
    round: usize,
    writer_form: Form,
) -> (Party, Vec<Party>) {
    let holder = party(lock, rt, true, FORMS[round % 6], false);
    assert!(holder.is_in());
    let mut parties = Vec::new();
    for (i, write) in [false, false, true, false, false].into_iter().enumerate() {
        let form = if write {
            writer_form
        } else {
            FORMS[(round + i) % FORMS.len()]
        };
        let cancellable = write && matches!(form, Form::Await | Form::Tokio | Form::With);
        parties.push(party(lock, rt, write, form, cancellable));
        wait_until("the party queues", || lock.waiting() == i + 1);
    }
    (holder, parties)
}

#[test]
fn front_readers_get_in_together_and_never_pass_a_queued_writer() {
    let _dog = Watchdog::new("rwlock order", Duration::from_secs(120));
    let rt = worlds::multi_thread_rt();
    for round in 0..6 {
        let lock = Arc::new(RwLock::new(()));
        let (mut holder, mut p) = line(&lock, &rt, round, Form::Blocking);
        holder.release();
        // R1 and R2 are admitted by that release, together; W3 is next.
        assert!(p[0].is_in() && p[1].is_in(), "round {round}");
        assert_eq!(
            lock.readers(),
            2,
            "round {round}: the front readers, at once"
        );
        assert_eq!(lock.waiting(), 3, "round {round}: R4 and R5 stay behind W3");
        p[0].release();
        p[1].release();
        assert!(p[2].is_in(), "round {round}: then the writer");
        assert_eq!(lock.readers(), 0);
        assert_eq!(lock.waiting(), 2);
        p[2].release();
        assert!(p[3].is_in() && p[4].is_in(), "round {round}");
        assert_eq!(lock.readers(), 2, "round {round}: R4 and R5 together");
        p[3].release();
        p[4].release();
        wait_until("all released", || !lock.is_locked());
    }
}

#[test]
fn a_queued_writer_that_gives_up_lets_the_readers_behind_it_in_at_once() {
    let _dog = Watchdog::new("rwlock cancelled writer", Duration::from_secs(120));
    let rt = worlds::multi_thread_rt();
    for (round, writer_form) in [Form::Await, Form::Tokio, Form::With]
        .into_iter()
        .cycle()
        .take(6)
        .enumerate()
    {
        let lock = Arc::new(RwLock::new(()));
        let (mut holder, mut p) = line(&lock, &rt, round, writer_form);
        holder.release();
        assert!(p[0].is_in() && p[1].is_in());
        assert_eq!(lock.readers(), 2);
        // W3 gives up while the lock is read-held: R4 and R5 get in.
        (p[2].cancel.take().unwrap())();
        assert!(!p[2].is_in(), "round {round}: {writer_form:?} cancelled");
        assert_eq!(lock.waiting(), 0, "round {round}: nobody left queued");
        assert_eq!(
            lock.readers(),
            4,
            "round {round}: R4 and R5 admitted at once"
        );
        assert!(p[3].is_in() && p[4].is_in());
        for i in [0, 1, 3, 4] {
            p[i].release();
        }
        wait_until("all released", || !lock.is_locked());
    }
}

/// `read` cancel safety: a queued reader that gives up leaves "the waiters
/// behind it [in] their order" (the writer behind it is next, not the
/// reader after that writer), and a reader handed its share that is
/// dropped before it was polled again gives the share "back at once (to a
/// writer waiting for the last reader)".
#[test]
fn a_reader_that_gives_up_keeps_the_order_and_gives_a_handed_share_back() {
    use std::future::Future;
    use std::task::Context;
    let _dog = Watchdog::new("rwlock cancelled reader", Duration::from_secs(120));
    let rt = worlds::multi_thread_rt();
    for (round, reader_form) in [Form::Await, Form::Tokio, Form::With]
        .into_iter()
        .cycle()
        .take(6)
        .enumerate()
    {
        let lock = Arc::new(RwLock::new(()));
        let mut holder = party(&lock, &rt, true, FORMS[round % 6], false);
        assert!(holder.is_in());
        let mut r1 = party(&lock, &rt, false, reader_form, true);
        wait_until("R1 queues", || lock.waiting() == 1);
        let mut w2 = party(&lock, &rt, true, FORMS[(round + 2) % 6], false);
        wait_until("W2 queues", || lock.waiting() == 2);
        let mut r3 = party(&lock, &rt, false, FORMS[(round + 3) % 6], false);
        wait_until("R3 queues", || lock.waiting() == 3);
        (r1.cancel.take().unwrap())();
        assert!(!r1.is_in(), "round {round}: {reader_form:?} cancelled");
        assert_eq!(lock.waiting(), 2);
        holder.release();
        assert!(
            w2.is_in(),
            "round {round}: the writer behind the reader is next"
        );
        assert_eq!(lock.readers(), 0, "round {round}: R3 did not pass W2");
        w2.release();
        assert!(r3.is_in());
        r3.release();
        wait_until("all released", || !lock.is_locked());
    }

    // A handed share dropped unpolled goes back at once, to the writer.
    let lock = Arc::new(RwLock::new(()));
    let mut holder = party(&lock, &rt, true, Form::Blocking, false);
    assert!(holder.is_in());
    let mut read = Box::pin(lock.read());
    let noop = Waker::noop();
    assert!(
        read.as_mut()
            .poll(&mut Context::from_waker(noop))
            .is_pending()
    );
    let mut w2 = party(&lock, &rt, true, Form::Blocking, false);
    wait_until("W2 queues", || lock.waiting() == 2);
    holder.release();
    wait_until("the share is handed over", || {
        lock.readers() == 1 && lock.waiting() == 1
    });
    drop(read);
    assert!(w2.is_in(), "the dropped reader's share went to the writer");
    assert_eq!(lock.readers(), 0);
    w2.release();
    wait_until("all released", || !lock.is_locked());
}
