//! The nesting dimension (`src/nesting.rs`) with the green backends
//! registered before polysync-tokio.

#[test]
fn nesting_green_installed_first() {
    may::config().set_workers(2).set_worker_pin(false);
    // The first hub registers the corosensei backend.
    polysync_corosensei::run(|| ());
    polysync_may::install().expect("polysync_may::install");
    polysync_tokio::install().expect("polysync_tokio::install");
    polysync_matrix::nesting::run_nesting("green-first");
}
