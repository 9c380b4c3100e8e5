//! A condition wait held across an `.await` inside a spawned task: the task's
//! future must be `Send` (tokio's multi-thread `spawn` requires it).

#[path = "support/worlds.rs"]
mod worlds;

use polysync::{Condition, Lock, Mutex, RLock};
use std::sync::Arc;
use std::time::Duration;

fn assert_send<T: Send>(t: T) -> T {
    t
}

#[test]
fn condition_waits_can_be_spawned_on_a_multi_thread_runtime() {
    let _dog = worlds::Watchdog::new("condition Send", Duration::from_secs(30));
    let rt = worlds::multi_thread_rt();
    let state = Arc::new((Mutex::new(false), Condition::new()));
    let lock = Arc::new((Lock::new(), RLock::new()));
    let waiter = {
        let (state, lock) = (state.clone(), lock.clone());
        rt.spawn(assert_send(polysync::lowlevel::identified(async move {
            let (ready, cond) = &*state;
            let mut guard = ready.lock().await;
            while !*guard {
                guard = cond.wait(guard).await;
            }
            drop(guard);
            // The other guard kinds, held across an await as well.
            let held = lock.0.acquire().await;
            drop(cond.wait_while(held, |_| false).await);
            // The RLock's owner is this (identified) task.
            let rheld = lock.1.acquire().await.unwrap();
            drop(cond.wait_while(rheld, |_| false).await);
        })))
    };
    rt.block_on(async {
        while state.1.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        *state.0.lock().await = true;
        state.1.notify_all();
    });
    rt.block_on(waiter).unwrap();
}
