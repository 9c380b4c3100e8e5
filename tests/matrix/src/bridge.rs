//! The thread bridge's scenario (issue 19): results and panics of
//! offloaded jobs come back to callers in every world.
//!
//! `to_thread`: three waiters (the waiting world) each offload a job that
//! blocks on its pool thread until the notifier (the notifying world) sets
//! an [`Event`], once every job runs. Each waiter gets its own job's value
//! back, then offloads a job that panics and gets the panic back typed. The
//! jobs borrow from a 3-token limiter: none is borrowed at the end.

use crate::Cell;
use polysync::bridge::Offload;
use polysync::{CapacityLimiter, Event};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

const WAITERS: usize = 3;

/// The `to_thread` scenario (see the module docs).
pub fn to_thread_scenario(cell: &mut Cell) {
    let offload = Offload::new(Arc::new(CapacityLimiter::new(WAITERS)));
    let gate = Arc::new(Event::new());
    let running = Arc::new(AtomicUsize::new(0));
    for i in 0..WAITERS {
        let (offload, gate, running) = (offload.clone(), gate.clone(), running.clone());
        cell.waiter(&format!("waiter#{i}"), move |ctx| async move {
            let job = move || {
                running.fetch_add(1, SeqCst);
                gate.wait_blocking();
                i * 10
            };
            let boom = move || -> usize { panic!("job {i}") };
            let (out, panicked) = if ctx.is_async() {
                (offload.run(job).await, offload.run(boom).await)
            } else {
                (offload.run_blocking(job), offload.run_blocking(boom))
            };
            assert_eq!(out.unwrap(), i * 10, "{}: its job's value", ctx.label());
            let message = panicked.expect_err("a panic").message().map(String::from);
            assert_eq!(
                message,
                Some(format!("job {i}")),
                "{}: its panic",
                ctx.label()
            );
        });
    }
    let (gate_n, running_n) = (gate.clone(), running.clone());
    cell.notifier("opener", move |ctx| async move {
        ctx.until("every job runs", || running_n.load(SeqCst) == WAITERS)
            .await;
        gate_n.set();
    });
    cell.check(move || {
        assert_eq!(
            offload.limiter().borrowed_tokens(),
            0,
            "a token left borrowed"
        );
    });
}
