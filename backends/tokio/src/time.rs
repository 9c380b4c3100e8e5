//! Timeouts for polysync futures over tokio's timer. `polysync-async-io`
//! offers the same names over async-io's timer (for any executor), so code
//! moves between the two by changing one `use` line.

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
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use polysync_tokio::TimeoutExt;
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
/// # Panics
/// Like [`tokio::time::sleep`]: when called outside a tokio runtime, or in a
/// runtime built without `enable_time()`. `polysync_async_io::timeout` has
/// the same shape and works under any executor.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use std::time::Duration;
///
/// let lock = polysync::Lock::new();
/// let held = lock.acquire().await;
/// let second = polysync_tokio::timeout(Duration::from_millis(5), lock.acquire()).await;
/// assert!(second.is_err()); // `Elapsed`
/// assert_eq!(lock.waiting(), 0); // the timed-out wait left the queue
/// drop(held);
/// assert!(polysync_tokio::timeout(Duration::from_millis(5), lock.acquire()).await.is_ok());
/// # });
/// ```
pub fn timeout<F: IntoFuture>(duration: Duration, future: F) -> Timeout<F::IntoFuture> {
    Timeout::new(future.into_future(), tokio::time::sleep(duration))
}

/// Runs `future` until `deadline` at most; see [`timeout`].
///
/// # Panics
/// Like [`timeout`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use std::time::{Duration, Instant};
///
/// let sem = polysync::Semaphore::new(0);
/// let deadline = Instant::now() + Duration::from_millis(5);
/// assert!(polysync_tokio::timeout_at(deadline, sem.acquire()).await.is_err());
/// assert_eq!(sem.value(), 0);
/// # });
/// ```
pub fn timeout_at<F: IntoFuture>(deadline: Instant, future: F) -> Timeout<F::IntoFuture> {
    Timeout::new(
        future.into_future(),
        tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)),
    )
}

/// `.timeout(d)` and `.timeout_at(deadline)` for every future: the method
/// forms of [`timeout`] and [`timeout_at`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use polysync_tokio::TimeoutExt;
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
    /// # Panics
    /// Like [`timeout`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// use polysync_tokio::TimeoutExt;
    /// let q = polysync::Queue::<u8>::unbounded();
    /// assert!(q.get().timeout(std::time::Duration::from_millis(1)).await.is_err());
    /// # });
    /// ```
    fn timeout(self, duration: Duration) -> Timeout<Self> {
        timeout(duration, self)
    }

    /// [`timeout_at`]`(deadline, self)`.
    ///
    /// # Panics
    /// Like [`timeout`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// use polysync_tokio::TimeoutExt;
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
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let sem = polysync::Semaphore::new(1);
/// let fut: polysync_tokio::Timeout<_> =
///     polysync_tokio::timeout(std::time::Duration::from_secs(1), sem.acquire());
/// fut.await.unwrap().unwrap().forget();
/// assert_eq!(sem.value(), 0);
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct Timeout<F> {
    /// The wait; `None` once the `Timeout` resolved. Structurally pinned.
    future: Option<F>,
    /// Structurally pinned.
    sleep: tokio::time::Sleep,
}

impl<F> Timeout<F> {
    fn new(future: F, sleep: tokio::time::Sleep) -> Timeout<F> {
        Timeout {
            future: Some(future),
            sleep,
        }
    }

    /// Pinned access to both fields.
    fn project(self: Pin<&mut Self>) -> (Pin<&mut Option<F>>, Pin<&mut tokio::time::Sleep>) {
        // SAFETY: both fields are structurally pinned: `Timeout` has no
        // `Drop` impl and no `Unpin` impl of its own (it is `Unpin` only
        // when both fields are), no method moves a field out of a pinned
        // `Timeout`, and the `Option` is only ever changed through
        // `Pin::set`, which drops the old value in place.
        #[allow(unsafe_code)]
        unsafe {
            let this = self.get_unchecked_mut();
            (
                Pin::new_unchecked(&mut this.future),
                Pin::new_unchecked(&mut this.sleep),
            )
        }
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (mut future, sleep) = self.project();
        let Some(inner) = future.as_mut().as_pin_mut() else {
            panic!("`polysync_tokio::Timeout` polled after it resolved");
        };
        if let Poll::Ready(out) = inner.poll(cx) {
            future.set(None);
            return Poll::Ready(Ok(out));
        }
        if sleep.poll(cx).is_ready() {
            // Withdraw the wait now, before reporting the time-out.
            future.set(None);
            return Poll::Ready(Err(Elapsed(())));
        }
        Poll::Pending
    }
}
