//! A blocking call inside a future that a green thread's `block_on` drives
//! (issue 17, item 5): both waits run on the green thread's one wake token,
//! and an outer wake that lands while the inner wait is suspended is
//! consumed by the inner wait. So is one that lands while the green thread
//! yields or sleeps inside the future's poll (its own yield and the wake
//! are one ready-queue entry), or takes a checkpoint in a nested call. The
//! outer driver sees that its poll switched and polls again, instead of
//! suspending the green thread for good (which, with nothing else to run,
//! parks the hub's thread forever).
//!
//! A sibling green thread (or a plain thread) sets the outer event once the
//! inner wait is queued (or the switch is under way), so the wake always
//! lands during it: without the fix these tests hang every run. Each runs
//! under a watchdog.

mod support;

use polysync::Event;
use polysync_corosensei::{block_on, run, sleep, spawn, yield_now};
use std::cell::Cell;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use support::{spin_until, watchdog};

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

#[test]
fn green_block_on_keeps_the_outer_wake_across_a_nested_blocking_call() {
    let out = watchdog("green nested wait_blocking", || {
        run(|| {
            let (outer, inner) = (Arc::new(Event::new()), Arc::new(Event::new()));
            let setter = {
                let (outer, inner) = (outer.clone(), inner.clone());
                spawn(move || {
                    support::green_until("inner wait queued", || inner.waiting() == 1);
                    outer.set();
                    inner.set();
                })
            };
            let out = block_on(outer_then_blocking(outer, move || inner.wait_blocking()));
            setter.join().unwrap();
            out
        })
    });
    assert_eq!(out, "outer woken");
}

#[test]
fn core_block_on_in_a_green_thread_keeps_the_outer_wake() {
    // polysync's own `block_on`, which finds the green thread's waiter
    // through the registry; the wakes come from a plain thread.
    let (outer, inner) = (Arc::new(Event::new()), Arc::new(Event::new()));
    let setter = {
        let (outer, inner) = (outer.clone(), inner.clone());
        std::thread::spawn(move || {
            spin_until("inner wait queued", || inner.waiting() == 1);
            outer.set();
            inner.set();
        })
    };
    let out = watchdog("green nested core block_on", move || {
        run(move || {
            polysync::lowlevel::block_on(
                outer_then_blocking(outer, move || inner.wait_blocking()),
                None,
            )
        })
    });
    assert_eq!(out, Some("outer woken"));
    setter.join().unwrap();
}

#[test]
fn a_nested_green_block_on_keeps_the_outer_wake() {
    // The inner blocking call is itself a `block_on` of the same green
    // thread (three drives deep counting the green thread's own wait).
    let out = watchdog("green block_on in block_on", || {
        run(|| {
            let (outer, inner) = (Arc::new(Event::new()), Arc::new(Event::new()));
            let setter = {
                let (outer, inner) = (outer.clone(), inner.clone());
                spawn(move || {
                    support::green_until("inner wait queued", || inner.waiting() == 1);
                    outer.set();
                    inner.set();
                })
            };
            let out = block_on(outer_then_blocking(outer, move || block_on(inner.wait())));
            setter.join().unwrap();
            out
        })
    });
    assert_eq!(out, "outer woken");
}

/// The scenario's future with another kind of switch in place of the
/// blocking call: its first poll registers on `outer`, raises `registered`,
/// then runs `switch` (which suspends the green thread while a sibling sets
/// `outer`), then reports `Pending`.
async fn outer_then_switch(
    outer: Arc<Event>,
    registered: Rc<Cell<bool>>,
    switch: impl FnOnce(),
) -> &'static str {
    outer_then_blocking(outer, move || {
        registered.set(true);
        switch();
    })
    .await
}

/// Runs in a hub: a sibling sets `outer` as soon as `registered` is up;
/// the main green thread block_ons `outer_then_switch(switch)`.
fn switch_scenario(name: &str, switch: fn()) {
    let out = watchdog(name, move || {
        run(move || {
            let outer = Arc::new(Event::new());
            let registered = Rc::new(Cell::new(false));
            let setter = {
                let (outer, registered) = (outer.clone(), registered.clone());
                spawn(move || {
                    while !registered.get() {
                        yield_now();
                    }
                    outer.set();
                })
            };
            let out = block_on(outer_then_switch(outer, registered, switch));
            setter.join().unwrap();
            out
        })
    });
    assert_eq!(out, "outer woken");
}

#[test]
fn a_yield_inside_a_green_block_on_keeps_the_outer_wake() {
    // The sibling's wake lands while the green thread is queued by its own
    // yield: the two wakes are one, and the yield's resumption consumes it.
    switch_scenario("yield in block_on", yield_now);
}

#[test]
fn a_sleep_inside_a_green_block_on_keeps_the_outer_wake() {
    switch_scenario("sleep in block_on", || sleep(Duration::from_millis(1)));
}

#[test]
fn checkpoints_of_nested_blocking_calls_keep_the_outer_wake() {
    // Uncontended blocking calls never wait, but every 128th takes a
    // checkpoint (a yield to the hub) while the outer future is pending.
    switch_scenario("checkpoints in block_on", || {
        let lock = polysync::Lock::new();
        for _ in 0..300 {
            drop(lock.acquire_blocking());
        }
    });
}
