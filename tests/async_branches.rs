//! Misuse detection has no false positives: two branches of one task with
//! an identity (`identified`) that contend for a `Lock`, a `Mutex` or an
//! `RwLock` (`join`, a `select!` loop, futures polled together) wait for
//! each other; nothing panics. A blocking form on a unit that holds is
//! still refused (tests/reacquire.rs).

#[path = "support/branches.rs"]
mod branches;
#[path = "support/worlds.rs"]
mod worlds;

use polysync::lowlevel::identified;
use std::time::Duration;
use worlds::Watchdog;

#[test]
fn branches_of_an_identified_task_wait_for_each_other() {
    let _dog = Watchdog::new("async branches (identified)", Duration::from_secs(30));
    futures_lite::future::block_on(identified(branches::all()));
}

#[test]
fn branches_of_a_task_without_identity_wait_for_each_other() {
    let _dog = Watchdog::new("async branches (no identity)", Duration::from_secs(30));
    futures_lite::future::block_on(branches::all());
}
