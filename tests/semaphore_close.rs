//! A closed semaphore fails every acquisition with its form's typed error,
//! and nothing panics:
//!
//! - on an already-closed semaphore (with free permits, so the closed flag
//!   is what refuses), every form of all three semaphore types, one permit
//!   and many, borrowed and owned: `AcquireError` from the untimed forms,
//!   `TryAcquireError::Closed` from `try_acquire_many*` and the `*_with`
//!   forms, `None` from the one-permit `try_*` forms (which return at once,
//!   not after their time-out);
//! - waiters already queued in every form and world (tokio tasks,
//!   `futures_lite::block_on` threads, blocking OS threads, explicit
//!   waiters, may coroutines through `polysync_may::install()`) all wake
//!   with their typed error when another thread calls `close()`.
//!
//! A missed wake fails the collecting `recv_timeout` (the timed forms wait
//! far longer than that), and the watchdog aborts anything else that hangs.

#[path = "support/worlds.rs"]
mod worlds;

use futures_lite::future::{block_on, poll_once};
use polysync::lowlevel::ThreadWaiter;
use polysync::{AcquireError, BinarySemaphore, BoundedSemaphore, Semaphore, TryAcquireError};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};
use worlds::{Watchdog, multi_thread_rt, wait_until};

/// How long a timed form would wait: an hour, far beyond the watchdogs, so
/// a timed form that waits instead of reporting the closing fails the test
/// (no assertion reads the clock).
const LONG: Duration = Duration::from_secs(3600);
/// A watchdog on the reports: how long the closing may take to reach every
/// queued waiter before the test fails (generous; Miri runs far slower).
const WOKEN: Duration = Duration::from_secs(if cfg!(miri) { 120 } else { 20 });

/// Checks every form of `$ty` (built by `$new`, with at least one free
/// permit) after `close()`.
macro_rules! every_form_on_a_closed {
    ($ty:ty, $new:expr) => {{
        let sem: Arc<$ty> = Arc::new($new);
        assert!(sem.value() >= 1, "a free permit, so the closing refuses it");
        sem.close();
        let what = stringify!($ty);
        let closed = Err::<(), _>(TryAcquireError::Closed);
        let soon = Instant::now() + LONG;
        // The untimed forms: `AcquireError`, at the first poll.
        let ready = |r: Option<Result<(), AcquireError>>, form: &str| {
            assert_eq!(r, Some(Err(AcquireError)), "{what}::{form}");
        };
        ready(
            block_on(poll_once(sem.acquire())).map(|r| r.map(drop)),
            "acquire",
        );
        ready(
            block_on(poll_once(sem.acquire_owned())).map(|r| r.map(drop)),
            "acquire_owned",
        );
        ready(
            block_on(poll_once(sem.acquire_many(1))).map(|r| r.map(drop)),
            "acquire_many",
        );
        ready(
            block_on(poll_once(sem.acquire_many_owned(1))).map(|r| r.map(drop)),
            "acquire_many_owned",
        );
        assert_eq!(
            sem.acquire_blocking().map(drop),
            Err(AcquireError),
            "{what}"
        );
        assert_eq!(
            sem.acquire_owned_blocking().map(drop),
            Err(AcquireError),
            "{what}"
        );
        assert_eq!(
            sem.acquire_many_blocking(1).map(drop),
            Err(AcquireError),
            "{what}"
        );
        assert_eq!(
            sem.acquire_many_owned_blocking(1).map(drop),
            Err(AcquireError),
            "{what}"
        );
        // The one-permit non-blocking and timed forms: `None`, at once.
        assert!(sem.try_acquire().is_none(), "{what}");
        assert!(sem.try_acquire_for(LONG).is_none(), "{what}");
        assert!(sem.try_acquire_until(soon).is_none(), "{what}");
        assert!(sem.try_acquire_owned().is_none(), "{what}");
        assert!(sem.try_acquire_owned_for(LONG).is_none(), "{what}");
        assert!(sem.try_acquire_owned_until(soon).is_none(), "{what}");
        // The many-permit non-blocking and timed forms: `Closed`.
        assert_eq!(sem.try_acquire_many(1).map(drop), closed, "{what}");
        assert_eq!(
            sem.try_acquire_many_for(1, LONG).map(drop),
            closed,
            "{what}"
        );
        assert_eq!(
            sem.try_acquire_many_until(1, soon).map(drop),
            closed,
            "{what}"
        );
        assert_eq!(sem.try_acquire_many_owned(1).map(drop), closed, "{what}");
        assert_eq!(
            sem.try_acquire_many_owned_for(1, LONG).map(drop),
            closed,
            "{what}"
        );
        assert_eq!(
            sem.try_acquire_many_owned_until(1, soon).map(drop),
            closed,
            "{what}"
        );
        // The explicit-waiter forms, one permit and many: `Closed`.
        ThreadWaiter::with_current(|w| {
            assert_eq!(sem.acquire_with(w, None).map(drop), closed, "{what}");
            assert_eq!(sem.acquire_with(w, Some(soon)).map(drop), closed, "{what}");
            assert_eq!(sem.acquire_owned_with(w, None).map(drop), closed, "{what}");
            assert_eq!(
                sem.acquire_many_with(1, w, None).map(drop),
                closed,
                "{what}"
            );
            assert_eq!(
                sem.acquire_many_owned_with(1, w, Some(soon)).map(drop),
                closed,
                "{what}"
            );
        });
        // Nothing was taken.
        assert!(sem.value() >= 1, "{what}");
        assert_eq!(sem.waiting(), 0, "{what}");
    }};
}

#[test]
fn every_form_on_a_closed_semaphore_returns_its_typed_error() {
    let _dog = Watchdog::new(
        "every_form_on_a_closed_semaphore_returns_its_typed_error",
        Duration::from_secs(60),
    );
    every_form_on_a_closed!(Semaphore, Semaphore::new(2));
    every_form_on_a_closed!(BoundedSemaphore, BoundedSemaphore::new(2, 2));
    every_form_on_a_closed!(BinarySemaphore, BinarySemaphore::new(true));
}

/// What a queued unit reports: its form, and whether it ended with the
/// typed error it should.
type Report = (&'static str, bool);

/// Runs `f` on a new OS thread; its report goes to `tx`.
fn thread(
    tx: &mpsc::Sender<Report>,
    name: &'static str,
    f: impl FnOnce() -> bool + Send + 'static,
) {
    let tx = tx.clone();
    std::thread::spawn(move || {
        let _ = tx.send((name, f()));
    });
}

/// Runs `f` in a new may coroutine; its report goes to `tx`.
fn coroutine(
    tx: &mpsc::Sender<Report>,
    name: &'static str,
    f: impl FnOnce() -> bool + Send + 'static,
) {
    let tx = tx.clone();
    may::go!(move || {
        let _ = tx.send((name, f()));
    });
}

#[test]
fn queued_waiters_of_every_form_and_world_wake_with_their_typed_error() {
    let _dog = Watchdog::new(
        "queued_waiters_of_every_form_and_world_wake_with_their_typed_error",
        Duration::from_secs(60),
    );
    // Not under Miri: may switches stacks in assembly, and its `generator`
    // dependency's `is_coroutine()` (asked on every blocking call once the
    // backend is installed) has a Stacked Borrows report (upstream code).
    if !cfg!(miri) {
        may::config().set_workers(2).set_worker_pin(false);
        polysync_may::install().expect("install the may backend");
    }
    let rt = multi_thread_rt();
    let sem = Arc::new(Semaphore::new(0));
    let (tx, rx) = mpsc::channel::<Report>();
    let untimed = |r: Result<(), AcquireError>| r == Err(AcquireError);
    let fallible = |r: Result<(), TryAcquireError>| r == Err(TryAcquireError::Closed);
    let mut queued = 0;
    let mut queue = |name: &str| {
        queued += 1;
        wait_until(name, || sem.waiting() == queued);
    };

    // tokio tasks.
    macro_rules! task {
        ($name:literal, |$s:ident| $body:expr, $ok:expr) => {{
            let ($s, tx) = (sem.clone(), tx.clone());
            rt.spawn(async move {
                let _ = tx.send(($name, $ok($body.map(drop))));
            });
            queue($name);
        }};
    }
    task!("tokio acquire", |s| s.acquire().await, untimed);
    task!("tokio acquire_owned", |s| s.acquire_owned().await, untimed);
    task!("tokio acquire_many", |s| s.acquire_many(2).await, untimed);
    task!(
        "tokio acquire_many_owned",
        |s| s.acquire_many_owned(2).await,
        untimed
    );

    // futures-lite tasks, each on its own thread.
    macro_rules! lite {
        ($name:literal, |$s:ident| $fut:expr) => {{
            let $s = sem.clone();
            thread(&tx, $name, move || untimed(block_on($fut).map(drop)));
            queue($name);
        }};
    }
    lite!("lite acquire", |s| s.acquire());
    lite!("lite acquire_owned", |s| s.acquire_owned());
    lite!("lite acquire_many", |s| s.acquire_many(2));

    // Blocking OS threads, in every blocking form.
    macro_rules! blocking {
        ($spawn:ident, $name:literal, |$s:ident| $body:expr) => {{
            let $s = sem.clone();
            $spawn(&tx, $name, move || $body);
            queue($name);
        }};
    }
    blocking!(thread, "thread acquire_blocking", |s| untimed(
        s.acquire_blocking().map(drop)
    ));
    blocking!(thread, "thread acquire_owned_blocking", |s| untimed(
        s.acquire_owned_blocking().map(drop)
    ));
    blocking!(thread, "thread acquire_many_blocking", |s| untimed(
        s.acquire_many_blocking(2).map(drop)
    ));
    blocking!(thread, "thread acquire_many_owned_blocking", |s| untimed(
        s.acquire_many_owned_blocking(2).map(drop)
    ));
    blocking!(thread, "thread try_acquire_for", |s| s
        .try_acquire_for(LONG)
        .is_none());
    blocking!(thread, "thread try_acquire_owned_until", |s| s
        .try_acquire_owned_until(Instant::now() + LONG)
        .is_none());
    blocking!(thread, "thread try_acquire_many_for", |s| fallible(
        s.try_acquire_many_for(2, LONG).map(drop)
    ));
    blocking!(thread, "thread try_acquire_many_owned_until", |s| fallible(
        s.try_acquire_many_owned_until(2, Instant::now() + LONG)
            .map(drop)
    ));
    blocking!(thread, "thread acquire_with", |s| fallible(
        ThreadWaiter::with_current(|w| s.acquire_with(w, None).map(drop))
    ));
    blocking!(thread, "thread acquire_owned_with", |s| fallible(
        ThreadWaiter::with_current(|w| s.acquire_owned_with(w, Some(Instant::now() + LONG)))
            .map(drop)
    ));
    blocking!(thread, "thread acquire_many_with", |s| fallible(
        ThreadWaiter::with_current(|w| s.acquire_many_with(2, w, None).map(drop))
    ));

    // may coroutines: the blocking forms park the coroutine (the may
    // backend is installed), and so does an explicit `MayWaiter`.
    if !cfg!(miri) {
        blocking!(coroutine, "may acquire_blocking", |s| untimed(
            s.acquire_blocking().map(drop)
        ));
        blocking!(coroutine, "may acquire_owned_blocking", |s| untimed(
            s.acquire_owned_blocking().map(drop)
        ));
        blocking!(coroutine, "may acquire_many_blocking", |s| untimed(
            s.acquire_many_blocking(2).map(drop)
        ));
        blocking!(coroutine, "may try_acquire_for", |s| s
            .try_acquire_for(LONG)
            .is_none());
        blocking!(coroutine, "may acquire_with", |s| fallible(
            s.acquire_with(&polysync_may::MayWaiter::current(), None)
                .map(drop)
        ));
    }

    sem.close();
    let mut left = queued;
    let deadline = Instant::now() + WOKEN;
    while left > 0 {
        let wait = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok((name, ok)) => {
                assert!(ok, "{name}: woke without its typed error");
                left -= 1;
            }
            Err(_) => panic!(
                "{left} of {queued} queued waiters were not woken by close() (still queued: {})",
                sem.waiting()
            ),
        }
    }
    assert_eq!(sem.waiting(), 0);
    assert_eq!(sem.value(), 0);
    drop(rt);
}

/// The bounded and binary semaphores: their one-permit waiters, async and
/// blocking, wake with `AcquireError` too.
#[test]
fn queued_one_permit_waiters_of_bounded_and_binary_semaphores_wake() {
    let _dog = Watchdog::new(
        "queued_one_permit_waiters_of_bounded_and_binary_semaphores_wake",
        Duration::from_secs(60),
    );
    let bounded = Arc::new(BoundedSemaphore::new(0, 2));
    let binary = Arc::new(BinarySemaphore::new(false));
    let (tx, rx) = mpsc::channel::<Report>();
    let untimed = |r: Result<(), AcquireError>| r == Err(AcquireError);
    {
        let s = bounded.clone();
        thread(&tx, "bounded acquire", move || {
            untimed(block_on(s.acquire()).map(drop))
        });
        let s = bounded.clone();
        thread(&tx, "bounded acquire_blocking", move || {
            untimed(s.acquire_blocking().map(drop))
        });
        let s = binary.clone();
        thread(&tx, "binary acquire_owned", move || {
            untimed(block_on(s.acquire_owned()).map(drop))
        });
        let s = binary.clone();
        thread(&tx, "binary acquire_owned_blocking", move || {
            untimed(s.acquire_owned_blocking().map(drop))
        });
    }
    wait_until("all queued", || {
        bounded.waiting() == 2 && binary.waiting() == 2
    });
    bounded.close();
    binary.close();
    for _ in 0..4 {
        let (name, ok) = rx
            .recv_timeout(WOKEN)
            .expect("a queued waiter was not woken by close()");
        assert!(ok, "{name}: woke without AcquireError");
    }
    // Released after the closing: counted, never handed out.
    bounded.release(2).unwrap();
    assert!(bounded.release(1).is_err(), "the maximum still holds");
    binary.release();
    assert_eq!((bounded.value(), binary.value()), (2, 1));
    assert_eq!(bounded.acquire_blocking().map(drop), Err(AcquireError));
    assert!(binary.try_acquire().is_none());
}

/// Permits handed out before the closing stay valid, and come back.
#[test]
fn permits_held_across_the_closing_stay_valid() {
    let sem = Semaphore::new(3);
    let one = sem.acquire_blocking().unwrap();
    let two = sem.acquire_many_blocking(2).unwrap();
    sem.close();
    assert_eq!((one.num_permits(), two.num_permits()), (1, 2));
    drop(one);
    sem.add_permits(1);
    assert_eq!(sem.value(), 2);
    drop(two);
    assert_eq!(sem.value(), 4);
    assert_eq!(sem.acquire_blocking().map(drop), Err(AcquireError));
}
