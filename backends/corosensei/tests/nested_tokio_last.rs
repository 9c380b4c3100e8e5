//! The innermost unit wins, with polysync-tokio's backends registered
//! **after** the hub's (see `nesting/mod.rs` for the scenarios).

mod nesting;

use nesting::watchdog;
use std::sync::Once;

fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        polysync_corosensei::install().unwrap();
        polysync_tokio::install().unwrap();
        let names: Vec<_> = polysync::lowlevel::registered_backends().collect();
        assert!(names.contains(&"tokio-blocking") && names.contains(&"corosensei"));
    });
}

#[test]
fn hub_in_spawn_blocking() {
    setup();
    watchdog("spawn_blocking", nesting::in_spawn_blocking);
}

#[test]
fn hub_under_runtime_enter() {
    setup();
    watchdog("enter", nesting::under_enter);
}

#[test]
fn hub_in_current_thread_block_on() {
    setup();
    watchdog("block_on", nesting::in_current_thread_block_on);
}

#[test]
fn hub_in_multi_thread_task() {
    setup();
    watchdog("task", nesting::in_multi_thread_task);
}

#[test]
fn hub_in_identified_poll() {
    setup();
    watchdog("identified", nesting::in_identified_poll);
}

#[test]
fn tasks_polled_on_a_green_stack() {
    setup();
    watchdog("reverse", nesting::tasks_on_a_green_stack);
}
