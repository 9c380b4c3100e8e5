//! The cancellation helpers the promise tests share: a thread waiter that
//! reports `Cancelled` on demand, and the handle that cancels a waiter of
//! any form (a future raced against a oneshot, or a `_with` waiter).
//! Included with `#[path]` by each test binary that uses it.
#![allow(dead_code)]

use polysync::lowlevel::{ThreadWaiter, WaitResult, Waiter};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::task::Waker;
use std::time::Instant;

/// A thread waiter that reports `Cancelled` once told to (and woken).
pub struct Cancellable<'a> {
    pub inner: &'a ThreadWaiter,
    pub cancel: &'a AtomicBool,
}

impl Waiter for Cancellable<'_> {
    fn waker(&self) -> Waker {
        self.inner.waker()
    }
    fn wait(&self, deadline: Option<Instant>) -> WaitResult {
        if self.cancel.load(Ordering::SeqCst) {
            return WaitResult::Cancelled;
        }
        self.inner.wait(deadline)
    }
}

/// How to make one started waiter give up.
pub enum Canceller {
    /// It cannot be cancelled (a form with nothing to cancel).
    None,
    /// An async wait raced against this oneshot: sending drops the future.
    Future(tokio::sync::oneshot::Sender<()>),
    /// A `_with` wait on a [`Cancellable`]: set the flag, then wake it.
    Waiter(Arc<AtomicBool>, Arc<StdMutex<Option<Waker>>>),
}

impl Canceller {
    /// Makes the waiter give up.
    pub fn fire(self) {
        match self {
            Canceller::None => {}
            Canceller::Future(tx) => {
                let _ = tx.send(());
            }
            Canceller::Waiter(flag, waker) => {
                flag.store(true, Ordering::SeqCst);
                let w = waker.lock().unwrap().take();
                w.expect("the waiter published its waker").wake();
            }
        }
    }
}
