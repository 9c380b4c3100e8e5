//! `REvent` (reusable event) across worlds.
//!
//! What is proven:
//! - aiologic's scenario 13, for every kind of notifier: waiters of every
//!   kind (OS threads in the three blocking forms, tokio tasks on a
//!   multi-thread runtime, `futures_lite::block_on` tasks; 22 of them, more
//!   than one wake batch) are all woken exactly once by `set(); clear();`
//!   run at once by a notifier of another world (a plain thread, a tokio
//!   task, a futures-lite task); a wait of any form that starts after the
//!   clear blocks; a second crowd then waits and the next `set()` wakes it.
//! - The batch boundary, deterministically: a waker callback runs inside
//!   `set()` between two wake batches and there clears the event, queues a
//!   late waiter and cancels waiters (one already woken, one not yet): the
//!   late waiter is not woken by that `set`, every earlier one is, exactly
//!   once, and the cancelled one leaves the queue. Variant: the callback also
//!   calls `set()` again (the newer round takes over the rest of the queue:
//!   everyone is woken exactly once), then `clear()` and queues a second late
//!   waiter, which neither round wakes.
//! - A wait's start is its first poll: a future created before `set();
//!   clear();` but first polled after it blocks.
//! - Random cancellation storm (timeouts, dropped futures, every world) with
//!   racing notifiers in three worlds doing pulses and set/clear pairs; then
//!   one final pulse must wake every participant, and no node is left.
//! - `Debug`, `Default`, `with_state`, `set`/`clear` return values.

mod events_support;

use events_support::*;
use futures_lite::future::poll_once;
use polysync::revent::REvent;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

/// Scenario 13 with the pulse (`set(); clear();`) run in `notifier`.
fn pulse_wakes_earlier_waiters_only(notifier: World) {
    let ev = Arc::new(REvent::new());
    let woken = Arc::new(AtomicUsize::new(0));
    let crowd = spawn_crowd(&ev, &woken);
    wait_until("the crowd is queued", || ev.waiting() == CROWD);
    assert_eq!(woken.load(SeqCst), 0);

    let (set, cleared) = {
        let ev = ev.clone();
        run_in(notifier, move || (ev.set(), ev.clear()))
    };
    assert!(set && cleared, "set() and clear() each changed the state");
    join_crowd(crowd, &woken, CROWD);
    assert_eq!(ev.waiting(), 0);
    assert!(!ev.is_set());

    // Late arrivals block, in every form.
    assert_waits_block(&ev);

    // A second crowd waits; the next set (kept set) wakes it, and later
    // waits return at once.
    let woken = Arc::new(AtomicUsize::new(0));
    let crowd = spawn_crowd(&ev, &woken);
    wait_until("the second crowd is queued", || ev.waiting() == CROWD);
    std::thread::sleep(Duration::from_millis(10));
    assert_eq!(woken.load(SeqCst), 0, "a waiter woke without a set");
    {
        let ev = ev.clone();
        assert!(run_in(notifier, move || ev.set()));
    }
    join_crowd(crowd, &woken, CROWD);
    assert!(ev.is_set());
    assert!(ev.try_wait_for(Duration::ZERO));
    ev.wait_blocking();
    assert_eq!(
        futures_lite::future::block_on(poll_once(ev.wait())),
        Some(())
    );
    assert_eq!(ev.waiting(), 0);
}

#[test]
fn pulse_from_a_thread_wakes_earlier_waiters_only() {
    let _w = Watchdog::new(
        "pulse_from_a_thread_wakes_earlier_waiters_only",
        Duration::from_secs(30),
    );
    pulse_wakes_earlier_waiters_only(World::Thread);
}

#[test]
fn pulse_from_a_tokio_task_wakes_earlier_waiters_only() {
    let _w = Watchdog::new(
        "pulse_from_a_tokio_task_wakes_earlier_waiters_only",
        Duration::from_secs(30),
    );
    pulse_wakes_earlier_waiters_only(World::TokioMt);
}

#[test]
fn pulse_from_a_block_on_task_wakes_earlier_waiters_only() {
    let _w = Watchdog::new(
        "pulse_from_a_block_on_task_wakes_earlier_waiters_only",
        Duration::from_secs(30),
    );
    pulse_wakes_earlier_waiters_only(World::BlockOn);
}

type Slot = Mutex<Option<Pin<Box<polysync::revent::Wait<'static>>>>>;

/// 40 queued futures (three batches). The first one's waker runs, inside
/// `set()` and between batches 1 and 2: `clear()`, a late waiter's first
/// poll (must be `Pending`), the cancellation of an already woken waiter
/// (#5) and of a not yet woken one (#30); with `reset`, also `set()` again,
/// `clear()` again and a second late waiter's first poll.
fn batch_boundary(reset: bool) {
    const EARLY: usize = 40;
    let ev: &'static REvent = Box::leak(Box::new(REvent::new()));
    let slots: &'static Vec<Slot> = Box::leak(Box::new(
        (0..EARLY).map(|_| Mutex::new(None)).collect::<Vec<_>>(),
    ));
    let late: &'static Slot = Box::leak(Box::new(Mutex::new(None)));
    let late_probe = Probe::new();
    let late2: &'static Slot = Box::leak(Box::new(Mutex::new(None)));
    let late2_probe = Probe::new();
    let fired = Arc::new(AtomicBool::new(false));

    let mut probes = Vec::new();
    for (i, slot) in slots.iter().enumerate() {
        let probe = if i == 0 {
            let (late_probe, late2_probe, fired) =
                (late_probe.clone(), late2_probe.clone(), fired.clone());
            Probe::with_callback(move || {
                if fired.swap(true, SeqCst) {
                    return;
                }
                // Between batches: no queue lock is held here.
                assert!(ev.clear(), "the event was set when the first batch woke");
                let mut fut = Box::pin(ev.wait());
                assert!(
                    poll_with(fut.as_mut(), &late_probe.waker()).is_pending(),
                    "a wait that started after the clear completed"
                );
                *late.lock().unwrap() = Some(fut);
                // Cancel a woken waiter and a waiter still queued.
                drop(slots[5].lock().unwrap().take());
                drop(slots[30].lock().unwrap().take());
                if reset {
                    // A newer round, then a second late waiter that neither
                    // round may wake (the old one must leave the rest of
                    // the queue to the newer one).
                    assert!(ev.set());
                    assert!(ev.clear());
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
        *slot.lock().unwrap() = Some(fut);
        probes.push(probe);
    }
    assert_eq!(ev.waiting(), EARLY);

    assert!(ev.set());
    assert!(fired.load(SeqCst), "the callback ran inside set()");
    for (i, probe) in probes.iter().enumerate() {
        let expected = usize::from(i != 30);
        assert_eq!(
            probe.wakes(),
            expected,
            "early waiter #{i} woken {expected} times"
        );
    }
    for (i, slot) in slots.iter().enumerate() {
        if let Some(fut) = slot.lock().unwrap().as_mut() {
            assert_eq!(
                poll_with(fut.as_mut(), &probes[i].waker()),
                Poll::Ready(()),
                "early waiter #{i} was woken but is not ready"
            );
        }
    }
    let mut late_fut = late.lock().unwrap().take().expect("the late waiter");
    if reset {
        // The newer round woke everything older than itself, the late waiter
        // too, and nobody woke the second late waiter.
        assert_eq!(late_probe.wakes(), 1);
        assert_eq!(
            poll_with(late_fut.as_mut(), &late_probe.waker()),
            Poll::Ready(())
        );
        assert_eq!(late2_probe.wakes(), 0, "the second late waiter was woken");
        assert_eq!(ev.waiting(), 1);
        assert!(!ev.is_set());
        let mut late2_fut = late2
            .lock()
            .unwrap()
            .take()
            .expect("the second late waiter");
        assert!(ev.set());
        assert_eq!(late2_probe.wakes(), 1);
        assert_eq!(
            poll_with(late2_fut.as_mut(), &late2_probe.waker()),
            Poll::Ready(())
        );
        assert_eq!(ev.waiting(), 0);
    } else {
        assert_eq!(
            late_probe.wakes(),
            0,
            "the late waiter was woken by the old set"
        );
        assert_eq!(ev.waiting(), 1, "only the late waiter is queued");
        assert!(!ev.is_set());
        assert!(poll_with(late_fut.as_mut(), &late_probe.waker()).is_pending());
        assert!(ev.set());
        assert_eq!(late_probe.wakes(), 1);
        assert_eq!(
            poll_with(late_fut.as_mut(), &late_probe.waker()),
            Poll::Ready(())
        );
        assert_eq!(ev.waiting(), 0);
    }
}

#[test]
fn clear_between_wake_batches_does_not_wake_latecomers() {
    let _w = Watchdog::new(
        "clear_between_wake_batches_does_not_wake_latecomers",
        Duration::from_secs(30),
    );
    batch_boundary(false);
}

#[test]
fn newer_set_between_wake_batches_takes_over() {
    let _w = Watchdog::new(
        "newer_set_between_wake_batches_takes_over",
        Duration::from_secs(30),
    );
    batch_boundary(true);
}

#[test]
fn a_wait_starts_at_its_first_poll() {
    let ev = REvent::new();
    let probe = Probe::new();
    let mut early = pin!(ev.wait());
    ev.set();
    ev.clear();
    // Created before the pulse, first polled after it: a late arrival.
    assert!(poll_with(early.as_mut(), &probe.waker()).is_pending());
    assert_eq!(ev.waiting(), 1);
    assert!(ev.set());
    assert_eq!(probe.wakes(), 1);
    assert!(ev.clear());
    // Woken by the set: completes although the event is clear again.
    assert_eq!(poll_with(early.as_mut(), &probe.waker()), Poll::Ready(()));
    assert_eq!(ev.waiting(), 0);
    // An unpolled future is never queued; dropping it is a no-op.
    drop(ev.wait());
    assert_eq!(ev.waiting(), 0);
}

#[test]
fn timed_out_and_dropped_waits_leave_no_node() {
    let _w = Watchdog::new(
        "timed_out_and_dropped_waits_leave_no_node",
        Duration::from_secs(30),
    );
    let ev = REvent::new();
    assert!(!ev.try_wait_for(Duration::from_millis(5)));
    assert!(!ev.try_wait_until(std::time::Instant::now() + Duration::from_millis(5)));
    assert!(!ev.try_wait_for(Duration::ZERO));
    {
        let probes: Vec<_> = (0..20).map(|_| Probe::new()).collect();
        let mut futs: Vec<_> = (0..20).map(|_| Box::pin(ev.wait())).collect();
        for (f, p) in futs.iter_mut().zip(&probes) {
            assert!(poll_with(f.as_mut(), &p.waker()).is_pending());
        }
        assert_eq!(ev.waiting(), 20);
        // Drop every other one, then set: the rest wake.
        let mut i = 0;
        futs.retain(|_| {
            i += 1;
            i % 2 == 0
        });
        assert_eq!(ev.waiting(), 10);
        ev.set();
        assert_eq!(probes.iter().map(|p| p.wakes()).sum::<usize>(), 10);
        ev.clear();
        // Woken futures dropped unpolled: nothing to pass on, nothing left.
    }
    assert_eq!(ev.waiting(), 0);
    let rt = tokio_ct();
    assert!(
        rt.block_on(async { tokio::time::timeout(Duration::from_millis(5), ev.wait()).await })
            .is_err()
    );
    assert_eq!(ev.waiting(), 0);
}

#[test]
fn storm_of_cancellations_with_racing_pulses() {
    let _w = Watchdog::new(
        "storm_of_cancellations_with_racing_pulses",
        soak::watchdog(Duration::from_secs(60)),
    );
    run_storm(Storm {
        ev: Arc::new(REvent::new()),
        pulse: Arc::new(|ev: &REvent, rng: &mut Rng| match rng.below(4) {
            0 | 1 => {
                ev.set();
                ev.clear();
            }
            2 => {
                ev.set();
                spin(rng.below(2000));
                ev.clear();
            }
            _ => {
                // Unpaired: notifiers race each other's set and clear.
                if rng.below(8) == 0 {
                    ev.set();
                } else {
                    ev.clear();
                }
            }
        }),
        arm: Box::new(|ev| {
            ev.clear();
        }),
        fire: Box::new(|ev| {
            assert!(ev.set());
            assert!(ev.clear());
        }),
        notifiers: vec![World::Thread, World::TokioMt, World::BlockOn],
    });
}

#[test]
fn state_debug_default() {
    let ev = REvent::default();
    assert!(!ev.is_set());
    assert!(!ev.clear());
    assert!(ev.set());
    assert!(!ev.set());
    let shown = format!("{ev:?}");
    assert!(
        shown.contains("set: true") && shown.contains("waiting: 0"),
        "{shown}"
    );
    assert!(REvent::with_state(true).try_wait());
    assert!(!REvent::with_state(false).try_wait());
    let fut = ev.wait();
    assert!(format!("{fut:?}").contains("started: false"));
    static STATIC: REvent = REvent::new();
    assert!(STATIC.set());
}
