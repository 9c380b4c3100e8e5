//! `CountdownEvent` across worlds.
//!
//! What is proven:
//! - aiologic's scenario 14, for every pairing of world kinds: a crowd of
//!   waiters of every kind (22, more than one wake batch) waits while
//!   workers of another world (plain threads, tokio tasks, futures-lite
//!   tasks) do n `up()`s and n `down()`s; the last `down()` wakes every
//!   waiter exactly once; an extra `down()` is `Err(TooManyDowns)` and
//!   changes nothing.
//! - `clear()` from a tokio task wakes a crowd at once and returns the old
//!   value; waits that start after a later `up()` block.
//! - The batch boundary, deterministically: a waker callback runs inside the
//!   `down()` that reached zero, between two wake batches, and there calls
//!   `up(1)` and queues a late waiter: the late waiter is not woken by that
//!   round, every earlier one is; the next `down()` wakes it. Variant: the
//!   callback takes the value to zero again (a newer round takes over), then
//!   up again and queues a second late waiter, which neither round wakes.
//! - Random cancellation storm with racing up/down workers in three worlds;
//!   then one final `down()` must wake every participant, and no node is left.
//! - Overflow of `up` panics (documented) and changes nothing; `up(0)` is a
//!   no-op; `Debug`, `Default`, the error's message.

mod events_support;

use events_support::*;
use polysync::countdown::{CountdownEvent, TooManyDowns};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

const WORKERS: usize = 5;

/// Runs `WORKERS` workers in `world`, each doing `up(1)` then (after a
/// start line) `down()`; returns the values `down()` returned.
fn up_then_down_in(world: World, ev: &Arc<CountdownEvent>) -> Vec<usize> {
    let ev = ev.clone();
    run_in(world, move || {
        let barrier = Arc::new(std::sync::Barrier::new(WORKERS));
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                let (ev, barrier) = (ev.clone(), barrier.clone());
                std::thread::spawn(move || {
                    ev.up(1);
                    barrier.wait();
                    ev.down().expect("down() on a positive value")
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    })
}

fn up_down_wakes_crowd(notifier: World) {
    // Starts at 1 so that the crowd waits while the workers' ups and downs
    // interleave; the final `down()` of the test takes it to zero.
    let ev = Arc::new(CountdownEvent::new(1));
    let woken = Arc::new(AtomicUsize::new(0));
    let crowd = spawn_crowd(&ev, &woken);
    wait_until("the crowd is queued", || ev.waiting() == CROWD);

    let mut seen = up_then_down_in(notifier, &ev);
    seen.sort_unstable();
    assert!(
        seen.iter().all(|&v| v >= 1),
        "the value never went below 1: {seen:?}"
    );
    assert_eq!(ev.value(), 1);
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(
        woken.load(SeqCst),
        0,
        "a waiter woke while the value was positive"
    );

    let ev2 = ev.clone();
    assert_eq!(run_in(notifier, move || ev2.down()), Ok(0));
    join_crowd(crowd, &woken, CROWD);
    assert_eq!(ev.waiting(), 0);
    // One down too many: an error, and nothing changes.
    let ev2 = ev.clone();
    assert_eq!(run_in(notifier, move || ev2.down()), Err(TooManyDowns));
    assert_eq!(ev.value(), 0);
    assert!(ev.try_wait_for(Duration::ZERO));
    ev.wait_blocking();

    // Up again: new waits block.
    ev.up(3);
    assert_waits_block(&ev);
}

#[test]
fn up_down_from_threads_wakes_every_world() {
    let _w = Watchdog::new(
        "up_down_from_threads_wakes_every_world",
        Duration::from_secs(30),
    );
    up_down_wakes_crowd(World::Thread);
}

#[test]
fn up_down_from_tokio_tasks_wakes_every_world() {
    let _w = Watchdog::new(
        "up_down_from_tokio_tasks_wakes_every_world",
        Duration::from_secs(30),
    );
    up_down_wakes_crowd(World::TokioMt);
}

#[test]
fn up_down_from_block_on_tasks_wakes_every_world() {
    let _w = Watchdog::new(
        "up_down_from_block_on_tasks_wakes_every_world",
        Duration::from_secs(30),
    );
    up_down_wakes_crowd(World::BlockOn);
}

#[test]
fn clear_wakes_every_world_at_once() {
    let _w = Watchdog::new("clear_wakes_every_world_at_once", Duration::from_secs(30));
    let ev = Arc::new(CountdownEvent::new(5));
    let woken = Arc::new(AtomicUsize::new(0));
    let crowd = spawn_crowd(&ev, &woken);
    wait_until("the crowd is queued", || ev.waiting() == CROWD);
    let ev2 = ev.clone();
    assert_eq!(run_in(World::TokioCt, move || ev2.clear()), 5);
    join_crowd(crowd, &woken, CROWD);
    assert_eq!(ev.value(), 0);
    assert_eq!(
        ev.clear(),
        0,
        "clearing a cleared countdown changes nothing"
    );
    assert_eq!(ev.waiting(), 0);
}

type Slot = Mutex<Option<Pin<Box<polysync::countdown::Wait<'static>>>>>;

/// 40 queued futures; the first one's waker runs inside the `down()` that
/// reached zero, between batches: `up(1)` and a late waiter's first poll
/// (must be `Pending`); with `again`, also `down()` back to zero, `up(1)`
/// and a second late waiter's first poll.
fn batch_boundary(again: bool) {
    const EARLY: usize = 40;
    let ev: &'static CountdownEvent = Box::leak(Box::new(CountdownEvent::new(1)));
    let late: &'static Slot = Box::leak(Box::new(Mutex::new(None)));
    let late_probe = Probe::new();
    let late2: &'static Slot = Box::leak(Box::new(Mutex::new(None)));
    let late2_probe = Probe::new();
    let fired = Arc::new(AtomicBool::new(false));
    let mut early = Vec::new();
    for i in 0..EARLY {
        let probe = if i == 0 {
            let (late_probe, late2_probe, fired) =
                (late_probe.clone(), late2_probe.clone(), fired.clone());
            Probe::with_callback(move || {
                if fired.swap(true, SeqCst) {
                    return;
                }
                assert_eq!(ev.value(), 0);
                ev.up(1);
                let mut fut = Box::pin(ev.wait());
                assert!(
                    poll_with(fut.as_mut(), &late_probe.waker()).is_pending(),
                    "a wait that started after the up completed"
                );
                *late.lock().unwrap() = Some(fut);
                if again {
                    // A newer round, then a second late waiter that neither
                    // round may wake.
                    assert_eq!(ev.down(), Ok(0));
                    ev.up(1);
                    let mut fut = Box::pin(ev.wait());
                    assert!(poll_with(fut.as_mut(), &late2_probe.waker()).is_pending());
                    *late2.lock().unwrap() = Some(fut);
                }
            })
        } else {
            Probe::new()
        };
        let mut fut = Box::pin(ev.wait());
        assert!(poll_with(fut.as_mut(), &probe.waker()).is_pending());
        early.push((fut, probe));
    }
    assert_eq!(ev.waiting(), EARLY);
    assert_eq!(ev.down(), Ok(0));
    assert!(fired.load(SeqCst));
    for (i, (fut, probe)) in early.iter_mut().enumerate() {
        assert_eq!(probe.wakes(), 1, "early waiter #{i}");
        assert_eq!(poll_with(fut.as_mut(), &probe.waker()), Poll::Ready(()));
    }
    let mut late_fut = late.lock().unwrap().take().unwrap();
    if again {
        assert_eq!(late_probe.wakes(), 1);
        assert_eq!(late2_probe.wakes(), 0, "the second late waiter was woken");
        assert_eq!(ev.value(), 1);
        assert_eq!(ev.waiting(), 1);
        let mut late2_fut = late2.lock().unwrap().take().unwrap();
        assert_eq!(ev.down(), Ok(0));
        assert_eq!(late2_probe.wakes(), 1);
        assert_eq!(
            poll_with(late2_fut.as_mut(), &late2_probe.waker()),
            Poll::Ready(())
        );
    } else {
        assert_eq!(
            late_probe.wakes(),
            0,
            "the late waiter was woken by the old round"
        );
        assert_eq!(ev.waiting(), 1);
        assert_eq!(ev.value(), 1);
        assert!(poll_with(late_fut.as_mut(), &late_probe.waker()).is_pending());
        assert_eq!(ev.down(), Ok(0));
        assert_eq!(late_probe.wakes(), 1);
    }
    assert_eq!(
        poll_with(late_fut.as_mut(), &late_probe.waker()),
        Poll::Ready(())
    );
    assert_eq!(ev.waiting(), 0);
}

#[test]
fn up_between_wake_batches_does_not_wake_latecomers() {
    let _w = Watchdog::new(
        "up_between_wake_batches_does_not_wake_latecomers",
        Duration::from_secs(30),
    );
    batch_boundary(false);
}

#[test]
fn newer_zero_between_wake_batches_takes_over() {
    let _w = Watchdog::new(
        "newer_zero_between_wake_batches_takes_over",
        Duration::from_secs(30),
    );
    batch_boundary(true);
}

#[test]
fn storm_of_cancellations_with_racing_ups_and_downs() {
    let _w = Watchdog::new(
        "storm_of_cancellations_with_racing_ups_and_downs",
        soak::watchdog(Duration::from_secs(60)),
    );
    run_storm(Storm {
        ev: Arc::new(CountdownEvent::new(0)),
        // Each call is balanced: k ups, then k downs with pauses, so the
        // value (a sum of the notifiers' balances) never goes negative.
        pulse: Arc::new(|ev: &CountdownEvent, rng: &mut Rng| {
            let k = 1 + rng.below(3) as usize;
            if rng.below(2) == 0 {
                ev.up(k);
            } else {
                for _ in 0..k {
                    ev.up(1);
                }
            }
            for _ in 0..k {
                spin(rng.below(1500));
                ev.down().expect("balanced downs never hit zero");
            }
        }),
        arm: Box::new(|ev| {
            assert_eq!(ev.value(), 0, "the notifiers' ups and downs balance");
            ev.up(1);
        }),
        fire: Box::new(|ev| {
            assert_eq!(ev.down(), Ok(0));
        }),
        notifiers: vec![World::Thread, World::TokioMt, World::BlockOn],
    });
}

#[test]
fn up_overflow_panics_and_changes_nothing() {
    let ev = CountdownEvent::new(CountdownEvent::MAX - 1);
    ev.up(1);
    assert_eq!(ev.value(), CountdownEvent::MAX);
    let caught = std::panic::catch_unwind(AssertUnwindSafe(|| ev.up(1)));
    assert!(caught.is_err(), "up past MAX must panic");
    assert_eq!(ev.value(), CountdownEvent::MAX);
    let caught = std::panic::catch_unwind(AssertUnwindSafe(|| ev.up(usize::MAX)));
    assert!(caught.is_err());
    assert_eq!(ev.value(), CountdownEvent::MAX);
    // Also on the slow path (a waiter is queued).
    let probe = Probe::new();
    let mut fut = Box::pin(ev.wait());
    assert!(poll_with(fut.as_mut(), &probe.waker()).is_pending());
    assert!(std::panic::catch_unwind(AssertUnwindSafe(|| ev.up(1))).is_err());
    assert_eq!(ev.value(), CountdownEvent::MAX);
    assert_eq!(ev.waiting(), 1, "the queue survives the panic");
    assert_eq!(ev.clear(), CountdownEvent::MAX);
    assert_eq!(probe.wakes(), 1);
    assert_eq!(poll_with(fut.as_mut(), &probe.waker()), Poll::Ready(()));
    assert!(std::panic::catch_unwind(|| CountdownEvent::new(CountdownEvent::MAX + 1)).is_err());
}

#[test]
fn state_debug_default_error() {
    let ev = CountdownEvent::default();
    assert_eq!(ev.value(), 0);
    assert!(ev.try_wait());
    ev.up(0);
    assert_eq!(ev.value(), 0);
    assert_eq!(ev.down(), Err(TooManyDowns));
    ev.up(2);
    assert_eq!(ev.down(), Ok(1));
    let shown = format!("{ev:?}");
    assert!(
        shown.contains("value: 1") && shown.contains("waiting: 0"),
        "{shown}"
    );
    let err: Box<dyn std::error::Error + Send + Sync> = Box::new(TooManyDowns);
    assert!(err.to_string().contains("already zero"), "{err}");
    assert!(!ev.try_wait_for(Duration::from_millis(2)));
    assert_eq!(ev.waiting(), 0);
    static STATIC: CountdownEvent = CountdownEvent::new(1);
    assert_eq!(STATIC.down(), Ok(0));
}
