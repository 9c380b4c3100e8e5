//! The matrix scenarios of `OnceCell` and `Notify` (`src/once_notify.rs`).

use polysync_matrix::{once_notify, run_matrix};

#[test]
fn once_cell_wait() {
    run_matrix("once-cell-wait", once_notify::once_cell_wait);
}

#[test]
fn once_cell_init() {
    run_matrix("once-cell-init", once_notify::once_cell_init);
}

#[test]
fn once_cell_six_worlds() {
    once_notify::once_cell_six_worlds(20);
}

#[test]
fn notify_one() {
    run_matrix("notify-one", once_notify::notify_one);
}

#[test]
fn notify_waiters() {
    run_matrix("notify-waiters", once_notify::notify_waiters);
}
