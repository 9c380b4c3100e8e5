//! Work tracking, as in Python's `queue.Queue`: every item put is an
//! unfinished task until a consumer calls `task_done`; `join` waits until no
//! task is unfinished. Built on a [`CountdownEvent`](crate::CountdownEvent).

use super::error::TaskDoneError;
use super::generic::GenericQueue;
use super::storage::Storage;
use crate::lowlevel::wait::{Wait as RawWait, blocking, drive};
use crate::lowlevel::{WaitError, Waiter, deadline_after};
use crate::revent::Broadcast;
use std::pin::pin;
use std::time::{Duration, Instant};

impl<T, S: Storage<T>> GenericQueue<T, S> {
    /// Marks one task done: a consumer calls it after it has finished with
    /// an item it got. Returns how many tasks are still unfinished; reaching
    /// zero wakes every [`join`](GenericQueue::join).
    ///
    /// # Errors
    /// [`TaskDoneError`], changing nothing, if no task is unfinished (more
    /// calls than items put).
    ///
    /// ```
    /// let q = polysync::Queue::unbounded();
    /// q.try_put("job").unwrap();
    /// let job = q.try_get().unwrap();
    /// assert_eq!(q.unfinished_tasks(), 1); // got, not yet done
    /// assert_eq!(q.task_done(), Ok(0));
    /// assert!(q.task_done().is_err());
    /// # let _ = job;
    /// ```
    pub fn task_done(&self) -> Result<usize, TaskDoneError> {
        let guard = self.lock();
        let left = self.finish_tasks(&guard, 1);
        drop(guard);
        left.map_err(|()| TaskDoneError)
    }

    /// The number of items put and not yet marked done (a snapshot),
    /// counting items still in the queue.
    ///
    /// ```
    /// let q = polysync::Queue::unbounded();
    /// q.try_put(1).unwrap();
    /// assert_eq!(q.unfinished_tasks(), 1);
    /// ```
    pub fn unfinished_tasks(&self) -> usize {
        self.unfinished()
    }

    /// How many units wait in [`join`](GenericQueue::join) (any form) now
    /// (a snapshot).
    ///
    /// ```
    /// assert_eq!(polysync::Queue::<u8>::unbounded().joining(), 0);
    /// ```
    pub fn joining(&self) -> usize {
        self.all_done.waiting()
    }

    /// Waits asynchronously until every item put has been marked done with
    /// [`task_done`](GenericQueue::task_done). The wait starts at the first
    /// poll; if nothing is unfinished then, it completes at once.
    ///
    /// # Cancel safety
    /// Dropping the future just leaves the wait: a join takes nothing from
    /// the queue, so nothing can be lost, and the other joiners are woken
    /// as before.
    ///
    /// ```
    /// use polysync::Queue;
    /// use std::sync::Arc;
    ///
    /// let q = Arc::new(Queue::unbounded());
    /// let worker = {
    ///     let q = q.clone();
    ///     std::thread::spawn(move || {
    ///         while let Ok(n) = q.get_blocking() {
    ///             let _ = n * 2; // the work
    ///             q.task_done().unwrap();
    ///         }
    ///     })
    /// };
    /// futures_lite::future::block_on(async {
    ///     for n in 0..10 {
    ///         q.put(n).await.unwrap();
    ///     }
    ///     q.join().await; // all ten processed
    /// });
    /// assert_eq!(q.unfinished_tasks(), 0);
    /// q.close();
    /// worker.join().unwrap();
    /// ```
    pub fn join(&self) -> crate::revent::Wait<'_> {
        self.all_done.wait()
    }

    /// Blocks the current execution unit until every item put has been
    /// marked done: [`join_with`](GenericQueue::join_with) on the unit's
    /// waiter.
    ///
    /// # Cancellation
    /// If the unit's waiter reports cancellation, the wait is withdrawn and
    /// the unit unwinds through [`Waiter::cancelled`]; the same holds for
    /// `try_join_for` and `try_join_until`.
    ///
    /// ```
    /// let q = polysync::Queue::unbounded();
    /// q.try_put(()).unwrap();
    /// q.try_get().unwrap();
    /// q.task_done().unwrap();
    /// q.join_blocking();
    /// ```
    pub fn join_blocking(&self) {
        blocking(|w| self.join_with(w, None));
    }

    /// Whether every item put has been marked done, without waiting.
    ///
    /// ```
    /// let q = polysync::Queue::unbounded();
    /// assert!(q.try_join());
    /// q.try_put(1).unwrap();
    /// assert!(!q.try_join());
    /// ```
    pub fn try_join(&self) -> bool {
        self.all_done.try_wait()
    }

    /// Blocks until every item put has been marked done or `timeout`
    /// passes; `true` if all were done.
    ///
    /// ```
    /// let q = polysync::Queue::unbounded();
    /// q.try_put(1).unwrap();
    /// assert!(!q.try_join_for(std::time::Duration::from_millis(1)));
    /// ```
    pub fn try_join_for(&self, timeout: Duration) -> bool {
        blocking(|w| self.join_with(w, deadline_after(timeout))).is_some()
    }

    /// Blocks until every item put has been marked done or `deadline`
    /// passes; `true` if all were done.
    ///
    /// ```
    /// let q = polysync::Queue::<u8>::unbounded();
    /// assert!(q.try_join_until(std::time::Instant::now()));
    /// ```
    pub fn try_join_until(&self, deadline: Instant) -> bool {
        blocking(|w| self.join_with(w, Some(deadline))).is_some()
    }

    /// Blocks on `waiter` until every item put has been marked done,
    /// `deadline` passes or the waiter reports cancellation: the entry point
    /// that every blocking join runs with the current unit's waiter.
    /// Library code that knows its waiter calls it directly.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] or [`WaitError::Cancelled`]; the wait is
    /// withdrawn either way. A last `task_done` that lands while the wait
    /// gives up still counts as success.
    ///
    /// ```
    /// use polysync::lowlevel::{ThreadWaiter, WaitError};
    /// use std::time::Instant;
    ///
    /// let q = polysync::Queue::unbounded();
    /// q.try_put("job").unwrap();
    /// ThreadWaiter::with_current(|w| {
    ///     assert_eq!(q.join_with(w, Some(Instant::now())), Err(WaitError::TimedOut));
    ///     q.try_get().unwrap();
    ///     q.task_done().unwrap();
    ///     assert_eq!(q.join_with(w, None), Ok(()));
    /// });
    /// assert_eq!(q.joining(), 0);
    /// ```
    pub fn join_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<(), WaitError> {
        let done = &self.all_done;
        if done.is_set() {
            return Ok(());
        }
        // The raw wait of `REvent::wait`, with the round it starts in taken
        // now (the driver polls it at once, as the async form does at its
        // first poll): a `set` in this round or later lets it through.
        let wait = pin!(RawWait::new(done, done.epoch().snapshot()));
        match drive(waiter, wait, deadline) {
            Ok(()) => Ok(()),
            // Covers a last `task_done` between the last poll and the
            // withdrawal.
            Err(_) if done.is_set() => Ok(()),
            Err((error, ())) => Err(error),
        }
    }
}
