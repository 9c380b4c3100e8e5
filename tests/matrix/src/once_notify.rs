//! Matrix scenarios of `OnceCell` and `Notify` (issue 20, items 3 and 4),
//! run by `tests/once_notify.rs`:
//!
//! - [`once_cell_wait`]: three waiters in the waiting world wait for the
//!   value (every wait form of their world); the notifying world
//!   initializes the cell once they are queued. Everybody sees the value.
//! - [`once_cell_init`]: two initializers in each world race (the async or
//!   blocking `get_or_init`, one of them fallible and failing first), with
//!   one waiter: exactly one initializer succeeds, everybody returns its
//!   value.
//! - [`once_cell_six_worlds`]: one initializer in every world at once, for
//!   several rounds: exactly one runs.
//! - [`notify_one`]: three waiters queue; three `notify_one` calls wake one
//!   each and leave no permit.
//! - [`notify_waiters`]: three waiters queue; one `notify_waiters` wakes
//!   them all and stores nothing.

use crate::{Cell, Ctx, World, patience, spawn_in};
use polysync::{Notify, OnceCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Instant;

/// How many participants wait on each side.
const WAITERS: usize = 3;

/// Waits for the cell's value the way `ctx`'s world does, with the form
/// picked by `i`.
async fn wait_value(ctx: &Ctx, cell: &OnceCell<usize>, i: usize) -> usize {
    let far = Instant::now() + patience() * 2;
    let value = match (ctx.is_async(), i % 3) {
        (true, 0) => ctx.timeout_at(far, cell.wait()).await.copied(),
        (true, _) => Some(*cell.wait().await),
        (false, 0) => Some(*cell.wait_blocking()),
        (false, 1) => cell.try_wait_for(patience() * 2).copied(),
        (false, _) => cell.try_wait_until(far).copied(),
    };
    value.unwrap_or_else(|| panic!("{}: timed out waiting for the value", ctx.label()))
}

/// Initializes the cell the way `ctx`'s world does, counting the runs in
/// `runs`; `fail` makes this initializer fail (the next one in line runs).
async fn init(
    ctx: &Ctx,
    cell: &OnceCell<usize>,
    runs: &AtomicUsize,
    value: usize,
    fail: bool,
) -> Option<usize> {
    let run = || {
        runs.fetch_add(1, SeqCst);
        if fail { Err(()) } else { Ok(value) }
    };
    if ctx.is_async() {
        let got = cell
            .get_or_try_init(|| async {
                let out = run();
                ctx.pause().await; // the others queue meanwhile
                out
            })
            .await;
        got.ok().copied()
    } else {
        cell.get_or_try_init_blocking(|| {
            let out = run();
            futures_lite::future::block_on(ctx.pause()); // a blocking world's pause is ready at once
            out
        })
        .ok()
        .copied()
    }
}

/// Waiters wait for a value that the notifying world sets.
pub fn once_cell_wait(cell: &mut Cell) {
    let once = Arc::new(OnceCell::<usize>::new());
    let seen = Arc::new(AtomicUsize::new(0));
    for i in 0..WAITERS {
        let (once, seen) = (once.clone(), seen.clone());
        cell.waiter(&format!("waiter#{i}"), move |ctx| async move {
            let v = wait_value(&ctx, &once, i).await;
            assert_eq!(v, 7, "{}: a wrong value", ctx.label());
            seen.fetch_add(1, SeqCst);
        });
    }
    {
        let (once, seen) = (once.clone(), seen.clone());
        cell.notifier("initializer", move |ctx| async move {
            ctx.until("every waiter queued", || once.waiting() == WAITERS)
                .await;
            assert_eq!(seen.load(SeqCst), 0, "a waiter passed an empty cell");
            let runs = AtomicUsize::new(0);
            assert_eq!(init(&ctx, &once, &runs, 7, false).await, Some(7));
            assert_eq!(runs.load(SeqCst), 1);
        });
    }
    cell.check(move || {
        assert_eq!(seen.load(SeqCst), WAITERS);
        assert_eq!(once.waiting(), 0);
    });
}

/// Initializers of both worlds race; one fails first.
pub fn once_cell_init(cell: &mut Cell) {
    let once = Arc::new(OnceCell::<usize>::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let values = Arc::new(std::sync::Mutex::new(Vec::new()));
    for side in 0..2 {
        for i in 0..2 {
            let (once, runs, failed, values) =
                (once.clone(), runs.clone(), failed.clone(), values.clone());
            let body = move |ctx: Ctx| async move {
                // The first initializer of the waiting side fails if it runs.
                let fail = side == 0 && i == 0;
                match init(&ctx, &once, &runs, 100 * side + i, fail).await {
                    Some(v) => values.lock().unwrap().push(v),
                    None => {
                        assert!(fail, "{}: only the failing one fails", ctx.label());
                        failed.fetch_add(1, SeqCst);
                    }
                }
            };
            let name = format!("init#{side}.{i}");
            if side == 0 {
                cell.waiter(&name, body);
            } else {
                cell.notifier(&name, body);
            }
        }
    }
    {
        let (once, values) = (once.clone(), values.clone());
        cell.waiter("waiter", move |ctx| async move {
            let v = wait_value(&ctx, &once, 1).await;
            values.lock().unwrap().push(v);
        });
    }
    cell.check(move || {
        let values = values.lock().unwrap();
        let value = *once.get().expect("initialized");
        assert!(values.iter().all(|&v| v == value), "values {values:?}");
        assert_eq!(values.len() + failed.load(SeqCst), 5);
        // The one that succeeded, plus the failing one if it ran.
        assert_eq!(runs.load(SeqCst), 1 + failed.load(SeqCst));
        assert_eq!(once.waiting(), 0);
    });
}

/// One initializer in every world at once, `rounds` times; panics with
/// what went wrong.
pub fn once_cell_six_worlds(rounds: usize) {
    for round in 0..rounds {
        let once = Arc::new(OnceCell::<usize>::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let outcomes: Vec<_> = World::ALL
            .iter()
            .enumerate()
            .map(|(k, &world)| {
                let (once, runs) = (once.clone(), runs.clone());
                let rx = spawn_in(world, &format!("init#{k}"), move |ctx| async move {
                    let v = init(&ctx, &once, &runs, k, false).await;
                    assert!(v.is_some(), "{}: no value", ctx.label());
                });
                (world, rx)
            })
            .collect();
        for (world, rx) in outcomes {
            match rx.recv_timeout(patience() * 3) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("round {round}: {world}: {e}"),
                Err(_) => panic!("round {round}: the initializer in {world} hangs"),
            }
        }
        assert_eq!(runs.load(SeqCst), 1, "round {round}: initializers that ran");
        assert!(once.get().is_some());
    }
}

/// Waits on `notify` the way `ctx`'s world does, with the form picked by
/// `i`.
async fn notified(ctx: &Ctx, notify: &Notify, i: usize) {
    let far = Instant::now() + patience() * 2;
    let ok = match (ctx.is_async(), i % 3) {
        (true, 0) => ctx.timeout_at(far, notify.notified()).await.is_some(),
        (true, _) => {
            notify.notified().await;
            true
        }
        (false, 0) => {
            notify.notified_blocking();
            true
        }
        (false, 1) => notify.try_notified_for(patience() * 2),
        (false, _) => notify.try_notified_until(far),
    };
    assert!(ok, "{}: timed out", ctx.label());
}

fn notify_scenario(cell: &mut Cell, all: bool) {
    let notify = Arc::new(Notify::new());
    let woken = Arc::new(AtomicUsize::new(0));
    for i in 0..WAITERS {
        let (notify, woken) = (notify.clone(), woken.clone());
        cell.waiter(&format!("waiter#{i}"), move |ctx| async move {
            notified(&ctx, &notify, i).await;
            woken.fetch_add(1, SeqCst);
        });
    }
    {
        let (notify, woken) = (notify.clone(), woken.clone());
        cell.notifier("notifier", move |ctx| async move {
            ctx.until("every waiter queued", || notify.waiting() == WAITERS)
                .await;
            assert_eq!(woken.load(SeqCst), 0, "a waiter passed before a notify");
            if all {
                notify.notify_waiters();
            } else {
                for n in 1..=WAITERS {
                    notify.notify_one();
                    ctx.until("one more waiter woken", || woken.load(SeqCst) == n)
                        .await;
                }
            }
        });
    }
    cell.check(move || {
        assert_eq!(woken.load(SeqCst), WAITERS);
        assert_eq!(notify.waiting(), 0);
        assert!(!notify.try_notified(), "a permit was left over");
    });
}

/// Three `notify_one` calls wake the three waiters, one each.
pub fn notify_one(cell: &mut Cell) {
    notify_scenario(cell, false);
}

/// One `notify_waiters` wakes the three waiters and stores nothing.
pub fn notify_waiters(cell: &mut Cell) {
    notify_scenario(cell, true);
}
