//! The channel-details scenarios of issue 20 (items 5 and 6) over every
//! (waiter world, notifier world) pair: see `src/channel_details.rs`.

use polysync_matrix::channel_details::{closed, oneshot_future, recv_many, send_timeout};
use polysync_matrix::run_matrix;

#[test]
fn channel_closed() {
    run_matrix("closed", closed);
}

#[test]
fn oneshot_receiver_as_future() {
    run_matrix("oneshot-future", oneshot_future);
}

#[test]
fn channel_recv_many() {
    run_matrix("recv-many", recv_many);
}

#[test]
fn channel_send_timeout() {
    run_matrix("send-timeout", send_timeout);
}
