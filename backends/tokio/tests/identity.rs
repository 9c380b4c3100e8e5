//! Pins what this crate assumes of `tokio::task::Id`: its `Display` text is
//! the plain decimal number of a process-wide sequential counter, and a task
//! reports the same id (hence the same identity) across awaits and workers.

mod support;

use polysync::lowlevel::{UnitId, current_task};
use std::collections::HashSet;
use support::{bounded, current_thread, multi_thread, watchdog};

#[test]
fn display_is_a_plain_decimal_counter() {
    polysync_tokio::install().unwrap();
    watchdog("display", || {
        let rt = current_thread();
        let numbers: Vec<u64> = rt.block_on(async {
            let mut numbers = Vec::new();
            for _ in 0..100 {
                let task = tokio::spawn(async { current_task() });
                let id = task.id();
                let text = id.to_string();
                assert!(
                    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()),
                    "tokio::task::Id no longer displays as a decimal number: {text:?}"
                );
                let n: u64 = text.parse().unwrap();
                // One to one into the task half: `2^62 | n`.
                assert_eq!(
                    polysync_tokio::unit_of(id).map(UnitId::get),
                    Some((1 << 62) | n)
                );
                assert_eq!(
                    bounded("task", task).await.unwrap(),
                    polysync_tokio::unit_of(id)
                );
                numbers.push(n);
            }
            numbers
        });
        // Sequential: strictly increasing in spawn order on one thread (other
        // tests of this binary may spawn in between, so no step is pinned).
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
    });
}

#[test]
fn many_tasks_get_distinct_identities() {
    polysync_tokio::install().unwrap();
    watchdog("distinct", || {
        let rt = multi_thread(4);
        let units = rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..2000 {
                set.spawn(async {
                    let me = current_task().unwrap();
                    tokio::task::yield_now().await;
                    assert_eq!(current_task(), Some(me));
                    me
                });
            }
            let mut units = Vec::new();
            while let Some(unit) = bounded("join set", set.join_next()).await {
                units.push(unit.unwrap());
            }
            units
        });
        let distinct: HashSet<_> = units.iter().collect();
        assert_eq!(distinct.len(), units.len());
        assert!(
            units.iter().all(|u| u.get() >> 62 == 1),
            "all in the task half"
        );
    });
}
