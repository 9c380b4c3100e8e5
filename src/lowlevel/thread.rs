//! The OS-thread [`Waiter`]: a short adaptive spin on a wake flag, then
//! `park`/`park_timeout`. On small VMs a park/unpark round trip costs tens of
//! microseconds while a spinning hand-off costs well under one, so a waiter
//! whose wake is imminent should not sleep.

use super::sync::{AtomicBool, Ordering, thread};
use super::waiter::{WaitResult, Waiter};
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::time::Instant;

/// The part of a [`ThreadWaiter`] that wakers point to.
#[derive(Debug)]
struct Parker {
    thread: thread::Thread,
    woken: AtomicBool,
}

impl Wake for Parker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Only the first wake since the last consumed one needs to unpark.
        if !self.woken.swap(true, Ordering::Release) {
            self.thread.unpark();
        }
    }
}

/// The [`Waiter`] of an OS thread: spins briefly, then parks.
///
/// Each thread has one, cached; blocking calls use it through
/// [`ThreadWaiter::with_current`], so waiting allocates nothing.
///
/// ```
/// use polysync::lowlevel::{ThreadWaiter, Waiter, WaitResult};
/// use std::time::{Duration, Instant};
///
/// ThreadWaiter::with_current(|w| {
///     w.waker().wake(); // a wake before the wait is not lost
///     assert_eq!(w.wait(None), WaitResult::Woken);
///     let deadline = Instant::now() + Duration::from_millis(5);
///     assert_eq!(w.wait(Some(deadline)), WaitResult::TimedOut);
/// });
/// ```
#[derive(Debug)]
pub struct ThreadWaiter {
    parker: Arc<Parker>,
}

#[cfg(not(polysync_loom))]
std::thread_local! {
    static CURRENT: ThreadWaiter = ThreadWaiter::new();
}
#[cfg(polysync_loom)]
loom::thread_local! {
    static CURRENT: ThreadWaiter = ThreadWaiter::new();
}

/// Spin rounds before the first park: 2^0 + ... + 2^(SPIN_ROUNDS-1) pause
/// instructions, then YIELD_ROUNDS scheduler yields.
const SPIN_ROUNDS: u32 = 7;
const YIELD_ROUNDS: u32 = 3;

impl ThreadWaiter {
    /// A waiter for the calling thread. Prefer [`ThreadWaiter::with_current`],
    /// which reuses the thread's cached one.
    pub fn new() -> Self {
        Self {
            parker: Arc::new(Parker {
                thread: thread::current(),
                woken: AtomicBool::new(false),
            }),
        }
    }

    /// Runs `f` with the calling thread's cached waiter.
    pub fn with_current<R>(f: impl FnOnce(&ThreadWaiter) -> R) -> R {
        let mut f = Some(f);
        let mut out = None;
        // `try_with` fails only while the thread's locals are being destroyed.
        let _ = CURRENT.try_with(|w| out = Some((f.take().expect("called once"))(w)));
        match out {
            Some(out) => out,
            None => (f.take().expect("not called yet"))(&ThreadWaiter::new()),
        }
    }

    #[inline]
    fn take_wake(&self) -> bool {
        self.parker.woken.load(Ordering::Relaxed)
            && self.parker.woken.swap(false, Ordering::Acquire)
    }

    #[cfg(not(polysync_loom))]
    fn spin(&self) -> bool {
        for round in 0..SPIN_ROUNDS + YIELD_ROUNDS {
            if self.take_wake() {
                return true;
            }
            if round < SPIN_ROUNDS {
                for _ in 0..(1u32 << round) {
                    std::hint::spin_loop();
                }
            } else {
                std::thread::yield_now();
            }
        }
        false
    }
}

impl Default for ThreadWaiter {
    fn default() -> Self {
        Self::new()
    }
}

impl Waiter for ThreadWaiter {
    fn waker(&self) -> Waker {
        Waker::from(self.parker.clone())
    }

    fn wait(&self, deadline: Option<Instant>) -> WaitResult {
        #[cfg(not(polysync_loom))]
        if self.spin() {
            return WaitResult::Woken;
        }
        loop {
            if self.take_wake() {
                return WaitResult::Woken;
            }
            #[cfg(not(polysync_loom))]
            match deadline {
                None => thread::park(),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return WaitResult::TimedOut;
                    }
                    thread::park_timeout(deadline - now);
                }
            }
            #[cfg(polysync_loom)]
            {
                // loom has no clock: models never use deadlines.
                let _ = deadline;
                thread::park();
            }
        }
    }
}
