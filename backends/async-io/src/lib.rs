//! # polysync-async-io
//!
//! Timeouts for [polysync]'s waits that work under **any** executor: smol
//! and async-executor, `futures_lite::future::block_on`,
//! `async_io::block_on`, tokio (current-thread or multi-thread, with or
//! without `enable_time`), or an executor of your own. The timer is
//! [`async_io::Timer`]: async-io's reactor (one lazily started thread, or
//! the thread inside `async_io::block_on`) wakes it, whoever polls it.
//!
//! `polysync-tokio` offers the same names over tokio's timer, so code moves
//! between runtimes by changing one `use` line:
//!
//! ```
//! use polysync_async_io::TimeoutExt; // or: use polysync_tokio::TimeoutExt;
//! use std::time::Duration;
//!
//! futures_lite::future::block_on(async {
//!     let lock = polysync::Lock::new();
//!     let guard = lock.acquire().timeout(Duration::from_secs(1)).await.unwrap();
//!     let second = lock.acquire().timeout(Duration::from_millis(5)).await;
//!     assert!(second.is_err()); // Elapsed
//!     assert_eq!(lock.waiting(), 0); // the timed-out wait withdrew
//!     drop(guard);
//! });
//! ```
//!
//! | | polysync-async-io | polysync-tokio |
//! |---|---|---|
//! | `timeout(d, fut)`, `timeout_at(deadline, fut)` | yes | yes |
//! | `fut.timeout(d)`, `fut.timeout_at(deadline)` ([`TimeoutExt`]) | yes | yes |
//! | resolves to | `Result<T, Elapsed>` | `Result<T, Elapsed>` |
//! | timer | `async_io::Timer` | `tokio::time::Sleep` |
//! | runs under | any executor | a tokio runtime with time enabled (panics elsewhere) |
//!
//! A timed-out wait loses nothing: polysync's futures are cancel-safe (a
//! lock or permit handed over at the last moment passes on to the next
//! waiter; an item being put stays with the dropped future and is dropped
//! with it, never half-delivered), and [`Timeout`] drops its wait before it
//! reports [`Elapsed`].
//!
//! # Checkpoints on smol-style executors
//!
//! An executor that polysync cannot see into (smol, async-executor,
//! futures-lite, an executor of your own) gets the executor-independent
//! checkpoint rules of [`polysync::lowlevel::checkpoint`]: off by default;
//! on for the whole process with `POLYSYNC_CHECKPOINTS=1`, or for one task
//! with [`checkpointed`]. When on, an async wait that did not have to wait
//! wakes its task and returns `Pending` once, so a task that takes
//! uncontended primitives in a loop lets the executor's other tasks run:
//!
//! ```
//! let lock = polysync::Lock::new();
//! let ran = std::cell::Cell::new(false);
//! let ex = async_executor::LocalExecutor::new();
//! let saw = futures_lite::future::block_on(ex.run(async {
//!     // Spawned first, so it runs first: without checkpoints it would
//!     // finish its loop before the other task ever ran.
//!     let hot = ex.spawn(polysync_async_io::checkpointed(async {
//!         for _ in 0..100 {
//!             drop(lock.acquire().await); // yields once per acquire
//!             if ran.get() {
//!                 return true;
//!             }
//!         }
//!         false
//!     }));
//!     let other = ex.spawn(async { ran.set(true) });
//!     other.await;
//!     hot.await
//! }));
//! assert!(saw, "the other task ran while the loop was going");
//! ```
//!
//! [polysync]: https://docs.rs/polysync

#![deny(missing_docs)]

/// Turns polysync's checkpoints on for every async wait polled inside
/// `fut` (a task, say), on any executor: the way to get them on a
/// smol-style executor without turning them on for the whole process (see
/// the [crate docs](crate#checkpoints-on-smol-style-executors)). The same as
/// [`polysync::lowlevel::checkpoint::scoped`]`(true, fut)`.
///
/// ```
/// let lock = polysync::Lock::new();
/// let (out, polls) = futures_lite::future::block_on(async {
///     let mut polls = 0;
///     let mut task = std::pin::pin!(polysync_async_io::checkpointed(lock.acquire()));
///     let guard = std::future::poll_fn(|cx| {
///         polls += 1;
///         task.as_mut().poll(cx)
///     })
///     .await;
///     (guard, polls)
/// });
/// assert_eq!(polls, 2); // one yield at the checkpoint
/// drop(out);
/// ```
pub fn checkpointed<F: Future>(fut: F) -> polysync::lowlevel::checkpoint::Scoped<F> {
    polysync::lowlevel::checkpoint::scoped(true, fut)
}

use async_io::Timer;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The deadline of a [`timeout`] passed before its future completed. The
/// future was dropped (withdrawn) before this was returned: a wait that
/// timed out loses nothing (a lock or permit handed to it at the last moment
/// is passed on to the next waiter, an item it was putting is dropped with
/// it, never half-delivered).
///
/// ```
/// # futures_lite::future::block_on(async {
/// use polysync_async_io::TimeoutExt;
/// use std::time::Duration;
///
/// let event = polysync::Event::new();
/// let err = event.wait().timeout(Duration::from_millis(1)).await.unwrap_err();
/// assert_eq!(err.to_string(), "polysync: the deadline passed before the wait completed");
/// let io: std::io::Error = err.into();
/// assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
/// # });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("polysync: the deadline passed before the wait completed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(elapsed: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, elapsed)
    }
}

/// Runs `future` for at most `duration`: `Ok(output)` if it completes first,
/// else `Err(`[`Elapsed`]`)`. Works for any future; made for polysync's
/// waits, which are all cancel-safe (see [`Elapsed`]).
///
/// The inner future is polled before the timer, so a wait that completes
/// in the same poll as the deadline passes succeeds.
///
/// ```
/// # futures_lite::future::block_on(async {
/// use std::time::Duration;
///
/// let lock = polysync::Lock::new();
/// let held = lock.acquire().await;
/// let second = polysync_async_io::timeout(Duration::from_millis(5), lock.acquire()).await;
/// assert!(second.is_err()); // `Elapsed`
/// assert_eq!(lock.waiting(), 0); // the timed-out wait left the queue
/// drop(held);
/// assert!(polysync_async_io::timeout(Duration::from_millis(5), lock.acquire()).await.is_ok());
/// # });
/// ```
pub fn timeout<F: IntoFuture>(duration: Duration, future: F) -> Timeout<F::IntoFuture> {
    Timeout::new(future.into_future(), Timer::after(duration))
}

/// Runs `future` until `deadline` at most; see [`timeout`].
///
/// ```
/// # futures_lite::future::block_on(async {
/// use std::time::{Duration, Instant};
///
/// let sem = polysync::Semaphore::new(0);
/// let deadline = Instant::now() + Duration::from_millis(5);
/// assert!(polysync_async_io::timeout_at(deadline, sem.acquire()).await.is_err());
/// assert_eq!(sem.value(), 0);
/// # });
/// ```
pub fn timeout_at<F: IntoFuture>(deadline: Instant, future: F) -> Timeout<F::IntoFuture> {
    Timeout::new(future.into_future(), Timer::at(deadline))
}

/// `.timeout(d)` and `.timeout_at(deadline)` for every future: the method
/// forms of [`timeout`] and [`timeout_at`].
///
/// ```
/// # futures_lite::future::block_on(async {
/// use polysync_async_io::TimeoutExt;
/// use std::time::Duration;
///
/// let lock = polysync::Lock::new();
/// let guard = lock.acquire().timeout(Duration::from_secs(1)).await.unwrap();
/// assert!(lock.acquire().timeout(Duration::from_millis(1)).await.is_err());
/// drop(guard);
/// # });
/// ```
pub trait TimeoutExt: Future + Sized {
    /// [`timeout`]`(duration, self)`.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use polysync_async_io::TimeoutExt;
    /// let q = polysync::Queue::<u8>::unbounded();
    /// assert!(q.get().timeout(std::time::Duration::from_millis(1)).await.is_err());
    /// # });
    /// ```
    fn timeout(self, duration: Duration) -> Timeout<Self> {
        timeout(duration, self)
    }

    /// [`timeout_at`]`(deadline, self)`.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use polysync_async_io::TimeoutExt;
    /// use std::time::{Duration, Instant};
    /// let event = polysync::Event::new();
    /// event.set();
    /// let deadline = Instant::now() + Duration::from_secs(1);
    /// assert!(event.wait().timeout_at(deadline).await.is_ok());
    /// # });
    /// ```
    fn timeout_at(self, deadline: Instant) -> Timeout<Self> {
        timeout_at(deadline, self)
    }
}

impl<F: Future> TimeoutExt for F {}

/// The future of [`timeout`] and [`timeout_at`]: resolves to `Ok` with the
/// inner future's output, or `Err(`[`Elapsed`]`)`.
///
/// # Cancel safety
/// As cancel-safe as the inner future: dropping a `Timeout` drops it. When
/// it resolves (either way) the inner future has already been dropped, so a
/// timed-out polysync wait has withdrawn, and passed on anything handed to
/// it, before `Err(Elapsed)` is returned.
///
/// ```
/// # futures_lite::future::block_on(async {
/// let sem = polysync::Semaphore::new(1);
/// let fut: polysync_async_io::Timeout<_> =
///     polysync_async_io::timeout(std::time::Duration::from_secs(1), sem.acquire());
/// fut.await.unwrap().unwrap().forget();
/// assert_eq!(sem.value(), 0);
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct Timeout<F> {
    /// The wait; `None` once the `Timeout` resolved. Structurally pinned.
    future: Option<F>,
    /// Not pinned (`Timer` is `Unpin`).
    timer: Timer,
}

impl<F> Timeout<F> {
    fn new(future: F, timer: Timer) -> Timeout<F> {
        Timeout {
            future: Some(future),
            timer,
        }
    }

    /// Pinned access to the future, plain access to the timer.
    fn project(self: Pin<&mut Self>) -> (Pin<&mut Option<F>>, &mut Timer) {
        // SAFETY: `future` is structurally pinned: `Timeout` has no `Drop`
        // impl and no `Unpin` impl of its own (it is `Unpin` only when `F`
        // is), no method moves it out of a pinned `Timeout`, and the
        // `Option` is only ever changed through `Pin::set`, which drops the
        // old value in place. `timer` is not pinned (`Timer: Unpin`).
        #[allow(unsafe_code)]
        unsafe {
            let this = self.get_unchecked_mut();
            (Pin::new_unchecked(&mut this.future), &mut this.timer)
        }
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (mut future, timer) = self.project();
        let Some(inner) = future.as_mut().as_pin_mut() else {
            panic!("`polysync_async_io::Timeout` polled after it resolved");
        };
        if let Poll::Ready(out) = inner.poll(cx) {
            future.set(None);
            return Poll::Ready(Ok(out));
        }
        if Pin::new(timer).poll(cx).is_ready() {
            // Withdraw the wait now, before reporting the time-out.
            future.set(None);
            return Poll::Ready(Err(Elapsed(())));
        }
        Poll::Pending
    }
}

/// The README's examples, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
