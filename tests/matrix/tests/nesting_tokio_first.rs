//! The nesting dimension (`src/nesting.rs`) with polysync-tokio installed
//! before the green backends: the order in which a tokio policy registered
//! first could claim the waits of green threads that run on a thread with a
//! tokio context.

#[test]
fn nesting_tokio_installed_first() {
    may::config().set_workers(2).set_worker_pin(false);
    polysync_tokio::install().expect("polysync_tokio::install");
    polysync_may::install().expect("polysync_may::install");
    // The first hub registers the corosensei backend.
    polysync_corosensei::run(|| ());
    polysync_matrix::nesting::run_nesting("tokio-first");
}
