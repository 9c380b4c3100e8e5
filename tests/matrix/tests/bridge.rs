//! The thread bridge's scenario of the cross-backend matrix
//! (`src/bridge.rs`): `cargo test -p polysync-matrix --test bridge`.

#[test]
fn to_thread() {
    polysync_matrix::run_matrix("to_thread", polysync_matrix::bridge::to_thread_scenario);
}
