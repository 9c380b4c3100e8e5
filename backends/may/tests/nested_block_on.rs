//! A may coroutine that drives polysync's `block_on` whose future makes a
//! blocking polysync call (issue 17, item 5): both waits park on the
//! coroutine's one wake token, and an outer wake that lands while the inner
//! wait is parked is consumed by it. The outer driver sees that its poll
//! switched the coroutine out and polls again instead of parking for good.
//!
//! A plain thread sets the outer event once the inner wait is queued, so
//! the wake always lands during the inner wait: without the fix these tests
//! hang every run. Each has a watchdog that fails it instead.

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
