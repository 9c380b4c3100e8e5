//! A may coroutine that drives polysync's `block_on` whose future makes a
//! blocking polysync call (issue 17, item 5): both waits park on the
//! coroutine's one wake token, and an outer wake that lands while the inner
//! wait is parked is consumed by it. The coroutine's waiter counts its
//! waits, so the outer driver sees that its poll waited and polls again
//! instead of parking for good, also when the coroutine resumed on another
//! worker in between (the count belongs to the coroutine, not to the OS
//! thread).
//!
//! A plain thread sets the outer event once the inner wait is queued, so
//! the wake always lands during the inner wait: without the fix these tests
//! hang every run (the migration test hung from the first round with a
//! per-thread record of switches). Each has a watchdog that fails it
//! instead.

mod support;

use polysync::Event;
use polysync::lowlevel::{block_on, block_on_with};
use polysync_may::MayWaiter;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::{Arc, mpsc};
use std::task::Poll;
use std::time::Duration;
use support::{eventually, go, setup};

/// The scenario's future: its first poll registers on `outer` (unset),
/// makes the blocking call `inner`, then reports `Pending` (as `join!` does
/// when its first branch was pending and its second blocked and finished).
async fn outer_then_blocking(outer: Arc<Event>, inner: impl FnOnce()) -> &'static str {
    let mut inner = Some(inner);
    let mut wait = pin!(outer.wait());
    poll_fn(|cx| {
        if wait.as_mut().poll(cx).is_ready() {
            return Poll::Ready("outer woken");
        }
        if let Some(inner) = inner.take() {
            inner();
        }
        Poll::Pending
    })
    .await
}

/// Runs `body` in a may coroutine with a setter thread that sets `outer`,
/// then `inner`, once a wait is queued on `inner`; fails the test if the
/// coroutine has not finished after 20 s.
fn scenario(
    name: &str,
    body: impl FnOnce(Arc<Event>, Arc<Event>) -> Option<&'static str> + Send + 'static,
) {
    setup(2);
    let (outer, inner) = (Arc::new(Event::new()), Arc::new(Event::new()));
    let setter = {
        let (outer, inner) = (outer.clone(), inner.clone());
        std::thread::spawn(move || {
            eventually(|| inner.waiting() == 1);
            outer.set();
            inner.set();
        })
    };
    let (tx, rx) = mpsc::channel();
    let co = go(move || {
        let out = body(outer, inner);
        let _ = tx.send(out);
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(out) => assert_eq!(out, Some("outer woken"), "{name}"),
        Err(_) => panic!("watchdog: `{name}` did not finish within 20 s (a lost wake)"),
    }
    co.join().unwrap();
    setter.join().unwrap();
}

#[test]
fn block_on_in_a_coroutine_keeps_the_outer_wake_across_a_nested_blocking_call() {
    scenario("may nested wait_blocking", |outer, inner| {
        block_on(
            outer_then_blocking(outer, move || inner.wait_blocking()),
            None,
        )
    });
}

#[test]
fn block_on_with_a_may_waiter_keeps_the_outer_wake_across_a_nested_with_call() {
    scenario("may nested wait_with", |outer, inner| {
        let waiter = MayWaiter::current();
        let fut = pin!(outer_then_blocking(outer, || {
            inner.wait_with(&waiter, None).unwrap();
        }));
        block_on_with(&waiter, fut, None)
    });
}

/// The current OS thread, read out of line: the coroutine migrates between
/// workers, and no thread-local address may be kept across a switch.
#[inline(never)]
fn carrier() -> std::thread::ThreadId {
    std::thread::current().id()
}

/// Switches the coroutine out through may's own API only (not through
/// polysync), until it resumes on another worker or after 100 tries;
/// `true` if it moved. Each try parks the coroutine with may's raw
/// `coroutine::park` and has a plain thread unpark it: a wake from outside
/// the scheduler goes to may's global queue, which either worker may take
/// (about one try in two moves it on 2 idle workers). A wake that lands
/// before the park is kept by may as a permit, and the try simply does not
/// move.
#[inline(never)]
fn migrate() -> bool {
    let start = carrier();
    for _ in 0..100 {
        let me = may::coroutine::current();
        // Detached: joining would block the worker.
        drop(std::thread::spawn(move || me.unpark()));
        may::coroutine::park();
        if carrier() != start {
            return true;
        }
    }
    false
}

/// The kept wake belongs to the coroutine, not to the OS thread: after the
/// nested wait consumed the outer wake, the coroutine yields through may's
/// own API (which polysync does not see) until it resumes on the other
/// worker, then ends its poll with `Pending`. Its driver, now on another
/// thread, must still poll again instead of parking for a wake that came
/// and went. Many rounds on 2 workers (each round that migrates hangs
/// without the fix); a watchdog fails a round that does not finish.
#[test]
fn the_kept_wake_survives_a_migration_between_the_nested_wait_and_the_end_of_the_poll() {
    const ROUNDS: usize = 200;
    setup(2);
    let mut moved = 0;
    for round in 0..ROUNDS {
        let (outer, inner) = (Arc::new(Event::new()), Arc::new(Event::new()));
        let setter = {
            let (outer, inner) = (outer.clone(), inner.clone());
            std::thread::spawn(move || {
                eventually(|| inner.waiting() == 1);
                outer.set();
                inner.set();
            })
        };
        let (tx, rx) = mpsc::channel();
        let co = go(move || {
            let mut moved = false;
            let out = block_on(
                outer_then_blocking(outer, || {
                    inner.wait_blocking();
                    moved = migrate();
                }),
                None,
            );
            let _ = tx.send((out, moved));
        });
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok((out, m)) => {
                assert_eq!(out, Some("outer woken"), "round {round}");
                moved += usize::from(m);
            }
            Err(_) => panic!(
                "watchdog: round {round} did not finish within 20 s (a lost wake; {moved} rounds migrated before)"
            ),
        }
        co.join().unwrap();
        setter.join().unwrap();
    }
    eprintln!(
        "{moved} of {ROUNDS} rounds migrated between the nested wait and the end of the poll"
    );
}
