//! Many short timed waits from many coroutines while OS threads compete for
//! the cores: every one of them must return. With may's own park timeout
//! (which the waiter used before) a worker preempted inside may's
//! `Park::subscribe`, between arming the timer and recording the coroutine,
//! lost the timeout and the coroutine slept for good. The window is a
//! preemption, so no test can hit it every time: this one makes it likely
//! (with may's park timeout, 12 of 80 runs hung, 4 copies in parallel on the
//! 2-core machine; 0 of 80 with the crate's own timer) and the watchdog
//! turns a hang into a failure. Nothing here is timed except the watchdog's
//! generous bound.

mod support;

use polysync::Lock;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use support::{go, setup, watchdog};

const WORKERS: usize = 2;
const COROUTINES: usize = 200;
const ROUNDS: usize = 100;
/// OS threads that spin, so the may workers are preempted often.
const HOGS: usize = 2;

#[test]
fn short_timed_waits_under_preemption_all_return() {
    setup(WORKERS);
    let _dog = watchdog("short_timed_waits_under_preemption_all_return");
    let lock = Arc::new(Lock::new());
    let held = lock.acquire_blocking();
    let stop = Arc::new(AtomicBool::new(false));
    let hogs: Vec<_> = (0..HOGS)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    let coroutines: Vec<_> = (0..COROUTINES)
        .map(|i| {
            let lock = lock.clone();
            go(move || {
                for round in 0..ROUNDS {
                    // 0.1 to 1.1 ms: below, at and above may's millisecond.
                    let t = Duration::from_micros(100 + ((i * 7 + round * 13) % 11) as u64 * 100);
                    let start = Instant::now();
                    assert!(lock.try_acquire_for(t).is_none(), "the lock is held");
                    assert!(start.elapsed() >= t, "returned before its deadline");
                }
            })
        })
        .collect();
    for co in coroutines {
        co.join().expect("a coroutine panicked");
    }
    stop.store(true, Ordering::Relaxed);
    for hog in hogs {
        hog.join().unwrap();
    }
    assert_eq!(lock.waiting(), 0, "every timed-out wait withdrew");
    drop(held);
}
