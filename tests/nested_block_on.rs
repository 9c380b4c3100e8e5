//! A blocking call inside a future that polysync's blocking driver runs
//! (`lowlevel::block_on`, `block_on_with`) waits on the same unit's waiter
//! (issue 17, item 5). The outer future's wake can land while the inner
//! wait sleeps, and the inner wait consumes it (one wake token per unit):
//! the outer driver sees that its poll waited (the waiter's count of waits
//! moved, or, for a waiter that does not count, the thread's record of
//! switches) and polls again instead of sleeping for good.
//!
//! What is proven, on OS threads (the green threads' cases are in
//! polysync-corosensei's and polysync-may's `tests/nested_block_on.rs`):
//! - an outer wake that lands while an inner blocking call waits (through
//!   `lowlevel::block_on`, through `block_on_with` and `*_with` on the
//!   thread's own waiter, and with an inner wait that has a deadline) is
//!   not lost: the outer `block_on` returns;
//! - a plain blocking call after a nested one still waits for its own
//!   condition;
//! - a waiter that does not count its waits keeps the outer wake through
//!   the per-thread fallback.
//!
//! The helper thread sets the outer event only once the inner wait is
//! queued (`waiting() == 1`), so the wake always lands during the inner
//! wait: without the fix these tests hang every run. Each runs under a
//! watchdog that fails it instead.

use polysync::Event;
use polysync::lowlevel::{ThreadWaiter, block_on, block_on_with};
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::mpsc;
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

/// Runs `f` on its own thread and fails the test if it has not finished
/// after 20 s (a lost wake would park that thread forever).
fn watchdog<R: Send + 'static>(name: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        let out = f();
        let _ = tx.send(());
        out
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("watchdog: `{name}` did not finish within 20 s (a lost wake)")
        }
    }
}

/// Waits (yielding) until `cond` holds; the test's watchdog bounds it.
fn until(mut cond: impl FnMut() -> bool) {
    while !cond() {
        thread::yield_now();
    }
}

/// The future of the scenario: its first poll registers on `outer` (still
/// unset), then makes the blocking call `inner`, then reports `Pending`, as
/// `join!` does when its first branch was pending and its second blocked
/// and finished. Its next poll finds `outer` set.
fn outer_then_blocking<'a>(
    outer: &'a Event,
    inner: impl FnOnce() + 'a,
) -> impl Future<Output = &'static str> + 'a {
    let mut inner = Some(inner);
    let mut wait = Box::pin(outer.wait());
    poll_fn(move |cx| {
        if wait.as_mut().poll(cx).is_ready() {
            return Poll::Ready("outer woken");
        }
        if let Some(inner) = inner.take() {
            inner();
        }
        Poll::Pending
    })
}

/// Sets `outer`, then `inner`, once an inner wait is queued on `inner`:
/// both wakes land while the inner wait is in progress.
fn wake_both_during_inner(outer: &'static Event, inner: &'static Event) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        until(|| inner.waiting() == 1);
        outer.set();
        inner.set();
    })
}

fn leak_event() -> &'static Event {
    Box::leak(Box::new(Event::new()))
}

#[test]
fn block_on_keeps_the_outer_wake_across_a_nested_blocking_call() {
    let (outer, inner) = (leak_event(), leak_event());
    let helper = wake_both_during_inner(outer, inner);
    let out = watchdog("nested wait_blocking", move || {
        block_on(outer_then_blocking(outer, || inner.wait_blocking()), None)
    });
    assert_eq!(out, Some("outer woken"));
    helper.join().unwrap();
}

#[test]
fn block_on_with_keeps_the_outer_wake_across_a_nested_with_call() {
    let (outer, inner) = (leak_event(), leak_event());
    let helper = wake_both_during_inner(outer, inner);
    let out = watchdog("nested wait_with", move || {
        ThreadWaiter::with_current(|w| {
            let fut = pin!(outer_then_blocking(outer, || {
                inner.wait_with(w, None).unwrap();
            }));
            block_on_with(w, fut, None)
        })
    });
    assert_eq!(out, Some("outer woken"));
    helper.join().unwrap();
}

#[test]
fn a_nested_timed_wait_keeps_the_outer_wake() {
    let (outer, inner) = (leak_event(), leak_event());
    let helper = wake_both_during_inner(outer, inner);
    let out = watchdog("nested try_wait_for", move || {
        block_on(
            outer_then_blocking(outer, || {
                // A deadline far beyond the watchdog: the set ends it.
                assert!(inner.try_wait_for(Duration::from_secs(3600)));
            }),
            None,
        )
    });
    assert_eq!(out, Some("outer woken"));
    helper.join().unwrap();
}

#[test]
fn an_outer_wake_during_a_nested_wait_that_times_out_is_kept() {
    // The inner wait gives up at its deadline after it consumed the outer
    // wake (the helper sets only `outer`): that wake is handed back too.
    let (outer, inner) = (leak_event(), leak_event());
    let helper = thread::spawn(move || {
        until(|| inner.waiting() == 1);
        outer.set();
    });
    let out = watchdog("nested timed-out wait", move || {
        block_on(
            outer_then_blocking(outer, || {
                // Polls until the helper's wake has come and gone, then
                // times out at once: no timing is asserted, only that the
                // outer driver finishes.
                while !outer.is_set() {
                    let _ = inner.try_wait_until(Instant::now() + Duration::from_millis(1));
                }
                assert!(!inner.try_wait_until(Instant::now()));
            }),
            None,
        )
    });
    assert_eq!(out, Some("outer woken"));
    helper.join().unwrap();
}

#[test]
fn a_plain_blocking_call_after_a_nested_one_still_waits_correctly() {
    // A wake left behind for the outer driver is at most spurious: later
    // waits on the same thread still wait for their own condition.
    let (outer, inner) = (leak_event(), leak_event());
    let helper = wake_both_during_inner(outer, inner);
    let later = leak_event();
    let out = watchdog("after nesting", move || {
        let out = block_on(outer_then_blocking(outer, || inner.wait_blocking()), None);
        let setter = thread::spawn(move || {
            until(|| later.waiting() == 1);
            later.set();
        });
        later.wait_blocking();
        assert!(later.is_set());
        setter.join().unwrap();
        out
    });
    assert_eq!(out, Some("outer woken"));
    helper.join().unwrap();
}

/// A waiter of another crate that does not count its waits
/// (`Waiter::waits` is `None`): a `std` mutex and condition variable on one
/// wake flag. Its drivers fall back to the per-thread record of switches.
#[derive(Default)]
struct Bell {
    rung: std::sync::Mutex<bool>,
    cv: std::sync::Condvar,
}

impl std::task::Wake for Bell {
    fn wake(self: std::sync::Arc<Self>) {
        *self.rung.lock().unwrap() = true;
        self.cv.notify_one();
    }
}

struct BellWaiter(std::sync::Arc<Bell>);

impl polysync::lowlevel::Waiter for BellWaiter {
    fn waker(&self) -> std::task::Waker {
        std::task::Waker::from(self.0.clone())
    }

    fn wait(&self, deadline: Option<Instant>) -> polysync::lowlevel::WaitResult {
        assert!(deadline.is_none(), "only untimed waits here");
        let mut rung = self.0.rung.lock().unwrap();
        while !*rung {
            rung = self.0.cv.wait(rung).unwrap();
        }
        *rung = false; // consume the wake
        polysync::lowlevel::WaitResult::Woken
    }
}

#[test]
fn a_waiter_that_does_not_count_keeps_the_outer_wake_through_the_fallback() {
    let (outer, inner) = (leak_event(), leak_event());
    let helper = wake_both_during_inner(outer, inner);
    let out = watchdog("nested wait_with, a waiter without a count", move || {
        let w = BellWaiter(Default::default());
        assert_eq!(polysync::lowlevel::Waiter::waits(&w), None);
        let fut = pin!(outer_then_blocking(outer, || {
            inner.wait_with(&w, None).unwrap();
        }));
        block_on_with(&w, fut, None)
    });
    assert_eq!(out, Some("outer woken"));
    helper.join().unwrap();
}
