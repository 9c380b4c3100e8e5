//! [`OnceCell`]: a cell written once, by one initializer, while threads,
//! tasks of any executor and green threads wait for the value.
//!
//! # How it is built
//!
//! Three parts, each with one job:
//!
//! - `value`: the slot (`MaybeUninit<T>`), written once by the one
//!   initializer, read by everybody after `ready`;
//! - `ready`: an atomic flag stored with `Release` right after the value is
//!   written; [`get`](OnceCell::get) is one `Acquire` load of it;
//! - `waiters`: a wait queue of those who wait for the value
//!   ([`wait`](OnceCell::wait) and its forms). The setter stores `ready`,
//!   then locks the queue and wakes everyone in it (in batches). A waiter
//!   checks `ready` under the same lock before it queues, so one of the two
//!   always sees the other (register, then re-check, then sleep);
//! - `init`: a [`Semaphore`] with one permit, the right to initialize. An
//!   initializer runs only while it holds the permit, so exactly one runs at
//!   a time, whatever world it is in. A successful one closes the semaphore
//!   (every queued initializer wakes and takes the value); a cancelled,
//!   failed or panicking one drops the permit, which goes to the next queued
//!   initializer (tokio's rule).
//!
//! Why not grow [`Flag`](crate::Flag) into this: a `Flag` is aiologic's
//! set-once cell that never waits, a thin wrapper over `std::sync::OnceLock`
//! with no queue and no semaphore; a `OnceCell` adds the waiting (for the
//! value, and for the right to initialize) and async initializers. Two types
//! keep the cheap one cheap.

use crate::Semaphore;
use crate::lowlevel::queue::{QueueGuard, WaitQueue, wake_in_batches};
use crate::lowlevel::sync::{AtomicBool, Ordering, UnsafeCell, const_fn};
use crate::lowlevel::wait::{Protocol, Wait as RawWait, admit_if, blocking, drive};
use crate::lowlevel::{WaitError, Waiter, deadline_after};
use crate::semaphore::TryAcquireError;
use std::future::Future;
use std::mem::MaybeUninit;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A cell that is written at most once (until [`take`](OnceCell::take)), by
/// [`set`](OnceCell::set) or by exactly one initializer
/// ([`get_or_init`](OnceCell::get_or_init) and its forms), while any number
/// of threads, async tasks (of any executor) and green threads wait for the
/// value ([`wait`](OnceCell::wait) and its forms).
///
/// - Exactly one initializer runs at a time; the others wait in FIFO order
///   for it to finish. When it succeeds, they all return its value; when it
///   fails (`Err`), panics, or is cancelled (its future dropped), the next
///   one in line runs its own initializer (tokio's rule).
/// - [`get`](OnceCell::get) never waits and costs one atomic load.
///
/// ```
/// use polysync::OnceCell;
/// use std::sync::Arc;
///
/// static CONFIG: OnceCell<String> = OnceCell::new();
///
/// let reader = std::thread::spawn(|| CONFIG.wait_blocking().len()); // waits for the value
/// let value = futures_lite::future::block_on(CONFIG.get_or_init(|| async { "port=80".to_owned() }));
/// assert_eq!(value, "port=80");
/// assert_eq!(reader.join().unwrap(), 7);
/// assert_eq!(CONFIG.get_or_init_blocking(|| unreachable!()), "port=80");
/// ```
pub struct OnceCell<T> {
    /// `true` once `value` holds the value. Stored (`Release`) once, by
    /// the initializer that holds `init`'s permit, right after it wrote the
    /// value; cleared only through `&mut self`.
    ready: AtomicBool,
    /// The waiters for the value. No user bits: `ready` is the state, read
    /// under this lock by `arrive_locked` (see the module docs).
    waiters: WaitQueue,
    /// One permit: the right to write `value`. Closed after the value is
    /// written.
    init: Semaphore,
    /// The value. Owners: the holder of `init`'s permit while `ready` is
    /// `false` (it writes, nobody reads); everybody, shared and read-only,
    /// once `ready` is `true` (seen with `Acquire`); `&mut self` always.
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: a shared `OnceCell` gives out `&T` to every thread (so `T: Sync`)
// and its initializer may run on one thread and the value drop on another
// (so `T: Send`). Every other field is `Sync`. The slot is written only by
// the holder of the one permit before `ready` is published (Release) and read
// only after `ready` was seen (Acquire), so there is no data race.
unsafe impl<T: Send + Sync> Sync for OnceCell<T> {}
// SAFETY: moving the cell moves the `T` it may hold.
unsafe impl<T: Send> Send for OnceCell<T> {}

impl<T: std::panic::RefUnwindSafe + std::panic::UnwindSafe> std::panic::RefUnwindSafe
    for OnceCell<T>
{
}
impl<T: std::panic::UnwindSafe> std::panic::UnwindSafe for OnceCell<T> {}

/// Why [`OnceCell::set`] gave its value back.
#[derive(Clone, PartialEq, Eq)]
pub enum SetError<T> {
    /// The cell already holds a value.
    AlreadyInitialized(T),
    /// An initializer (or another `set`) is writing the cell right now.
    Initializing(T),
}

impl<T> SetError<T> {
    /// The value that was not stored.
    ///
    /// ```
    /// let cell = polysync::OnceCell::from(1);
    /// assert_eq!(cell.set(2).unwrap_err().into_inner(), 2);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SetError::AlreadyInitialized(v) | SetError::Initializing(v) => v,
        }
    }

    /// Whether the cell already held a value.
    ///
    /// ```
    /// let cell = polysync::OnceCell::from(1);
    /// assert!(cell.set(2).unwrap_err().is_already_init_err());
    /// ```
    pub fn is_already_init_err(&self) -> bool {
        matches!(self, SetError::AlreadyInitialized(_))
    }

    /// Whether an initializer was running.
    ///
    /// ```
    /// let cell = polysync::OnceCell::new();
    /// futures_lite::future::block_on(cell.get_or_init(|| async {
    ///     assert!(cell.set(2).unwrap_err().is_initializing_err()); // from inside the initializer
    ///     1
    /// }));
    /// ```
    pub fn is_initializing_err(&self) -> bool {
        matches!(self, SetError::Initializing(_))
    }
}

impl<T> std::fmt::Debug for SetError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SetError::AlreadyInitialized(_) => f.write_str("AlreadyInitialized(..)"),
            SetError::Initializing(_) => f.write_str("Initializing(..)"),
        }
    }
}

impl<T> std::fmt::Display for SetError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SetError::AlreadyInitialized(_) => f.write_str("the cell already holds a value"),
            SetError::Initializing(_) => f.write_str("the cell is being initialized"),
        }
    }
}

impl<T> std::error::Error for SetError<T> {}

/// Why [`OnceCell::get_or_try_init_with`] returned without a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitError<E> {
    /// This caller's initializer ran and failed; the cell stays empty and
    /// the next initializer in line runs.
    Failed(E),
    /// The deadline passed before the value was there (this caller's
    /// initializer did not run, or it was waiting for another's).
    TimedOut,
    /// The waiter reported cancellation (the wait is withdrawn).
    Cancelled,
}

impl<E: std::fmt::Display> std::fmt::Display for InitError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InitError::Failed(e) => write!(f, "the initializer failed: {e}"),
            InitError::TimedOut => f.write_str("timed out waiting for the cell's value"),
            InitError::Cancelled => f.write_str("the wait for the cell's value was cancelled"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for InitError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InitError::Failed(e) => Some(e),
            _ => None,
        }
    }
}

/// Closes the init semaphore when dropped: after a successful
/// initialization, even if waking the value's waiters unwinds (a waker that
/// panics), the queued initializers must learn that the value is there.
struct CloseOnDrop<'a>(&'a Semaphore);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl<T> OnceCell<T> {
    const_fn! {
        /// An empty cell (usable in a `static`).
        ///
        /// ```
        /// static CELL: polysync::OnceCell<u32> = polysync::OnceCell::new();
        /// assert!(!CELL.initialized());
        /// ```
        #[must_use]
        pub fn new() -> OnceCell<T> {
            OnceCell {
                ready: AtomicBool::new(false),
                waiters: WaitQueue::new(0),
                init: Semaphore::new(1),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            }
        }
    }

    /// A cell that holds `value` if it is `Some`, else an empty one.
    ///
    /// ```
    /// let cell = polysync::OnceCell::new_with(Some(3));
    /// assert_eq!(cell.get(), Some(&3));
    /// assert!(!polysync::OnceCell::<u8>::new_with(None).initialized());
    /// ```
    #[must_use]
    pub fn new_with(value: Option<T>) -> Self {
        match value {
            Some(value) => Self::from(value),
            None => Self::new(),
        }
    }

    /// Whether the cell holds a value.
    ///
    /// ```
    /// let cell = polysync::OnceCell::new();
    /// assert!(!cell.initialized());
    /// cell.set(1).unwrap();
    /// assert!(cell.initialized());
    /// ```
    #[inline]
    pub fn initialized(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// The value, if the cell holds one. Never waits: one atomic load.
    ///
    /// ```
    /// let cell = polysync::OnceCell::new();
    /// assert_eq!(cell.get(), None);
    /// cell.set("x").unwrap();
    /// assert_eq!(cell.get(), Some(&"x"));
    /// ```
    #[inline]
    pub fn get(&self) -> Option<&T> {
        if self.initialized() {
            // SAFETY: `ready` was seen `true` with Acquire.
            Some(unsafe { self.value_unchecked() })
        } else {
            None
        }
    }

    /// The value, mutably, if the cell holds one.
    ///
    /// ```
    /// let mut cell = polysync::OnceCell::from(1);
    /// *cell.get_mut().unwrap() += 1;
    /// assert_eq!(cell.get(), Some(&2));
    /// ```
    pub fn get_mut(&mut self) -> Option<&mut T> {
        if self.ready.load(Ordering::Relaxed) {
            // SAFETY: `&mut self` excludes every other access, and `ready`
            // says the slot is initialized.
            Some(self.value.with_mut(|p| unsafe { (*p).assume_init_mut() }))
        } else {
            None
        }
    }

    /// # Safety
    /// `ready` was seen `true` with `Acquire` (or through `&mut self`).
    #[inline]
    unsafe fn value_unchecked(&self) -> &T {
        // SAFETY: by the contract the value was written before `ready` was
        // published with Release, which the caller saw with Acquire; nobody
        // writes it again while `&self` lives (only `&mut self` does).
        self.value.with(|p| unsafe { (*p).assume_init_ref() })
    }

    /// Stores `value` if the cell is empty and no initializer runs.
    ///
    /// # Errors
    /// [`SetError::AlreadyInitialized`] if the cell holds a value,
    /// [`SetError::Initializing`] if an initializer (or another `set`) is
    /// writing it now; either gives `value` back.
    ///
    /// ```
    /// use polysync::{OnceCell, once_cell::SetError};
    /// let cell = OnceCell::new();
    /// assert_eq!(cell.set(1), Ok(()));
    /// assert_eq!(cell.set(2), Err(SetError::AlreadyInitialized(2)));
    /// ```
    pub fn set(&self, value: T) -> Result<(), SetError<T>> {
        if self.initialized() {
            return Err(SetError::AlreadyInitialized(value));
        }
        match self.init.try_acquire_many(1) {
            Ok(permit) => {
                if self.initialized() {
                    return Err(SetError::AlreadyInitialized(value));
                }
                self.complete(value, permit);
                Ok(())
            }
            // Closed only after the value is in.
            Err(TryAcquireError::Closed) => Err(SetError::AlreadyInitialized(value)),
            Err(_) => Err(SetError::Initializing(value)),
        }
    }

    /// Writes the value, publishes it, wakes its waiters and closes `init`
    /// (its queued initializers wake and find the value). The caller holds
    /// `init`'s one permit (the proof) and found `ready` false after taking
    /// it.
    fn complete(&self, value: T, permit: crate::Permit<'_, Semaphore>) -> &T {
        // The permit is never given back: the closing below ends the
        // semaphore's use.
        permit.forget();
        let _close = CloseOnDrop(&self.init);
        // SAFETY: the caller holds the only permit and `ready` is false, so
        // nobody else reads or writes the slot (see `value`).
        self.value.with_mut(|p| unsafe { (*p).write(value) });
        self.ready.store(true, Ordering::Release);
        // Everybody who queued before `ready` was stored: a waiter checks
        // `ready` under this lock before it queues, so once we hold it no
        // new waiter queues and the batches end when the queue is empty.
        wake_in_batches(&self.waiters, None, |guard, wakers| {
            guard.notify_batch(wakers, ())
        });
        // SAFETY: we published `ready` ourselves, after writing the value.
        unsafe { self.value_unchecked() }
    }

    /// The value, initializing it with `f` if the cell is empty: the one
    /// initializer that runs is the first caller in line (tokio's rule); the
    /// others wait for it. If it is cancelled (this future dropped while
    /// `f`'s future runs) or panics, the next caller in line runs its own
    /// `f`.
    ///
    /// # Cancel safety
    /// Dropping the future while it waits gives up its place in line (an
    /// initializer's turn handed to it meanwhile goes to the next in line);
    /// dropping it while its `f` runs drops `f`'s future, leaves the cell
    /// empty and lets the next in line initialize.
    ///
    /// An initializer that calls `get_or_init` (or any initializing form) on
    /// its own cell waits for itself forever, as with tokio's `OnceCell`;
    /// `set` from inside it returns [`SetError::Initializing`]. A cell that
    /// already holds a value returns it without a checkpoint (as `get`).
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let cell = polysync::OnceCell::new();
    /// assert_eq!(*cell.get_or_init(|| async { 1 }).await, 1);
    /// assert_eq!(*cell.get_or_init(|| async { 2 }).await, 1);
    /// # });
    /// ```
    pub async fn get_or_init<F, Fut>(&self, f: F) -> &T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        match self
            .get_or_try_init(|| async { Ok::<T, std::convert::Infallible>(f().await) })
            .await
        {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    /// The value, initializing it with the fallible `f` if the cell is
    /// empty (see [`get_or_init`](OnceCell::get_or_init)).
    ///
    /// # Errors
    /// What this caller's `f` returned; the cell stays empty and the next
    /// caller in line runs its own initializer.
    ///
    /// # Cancel safety
    /// As [`get_or_init`](OnceCell::get_or_init).
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let cell = polysync::OnceCell::new();
    /// assert_eq!(cell.get_or_try_init(|| async { Err("no") }).await, Err("no"));
    /// assert_eq!(cell.get_or_try_init(|| async { Ok::<_, ()>(5) }).await, Ok(&5));
    /// # });
    /// ```
    pub async fn get_or_try_init<E, F, Fut>(&self, f: F) -> Result<&T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(value) = self.get() {
            return Ok(value);
        }
        match self.init.acquire().await {
            Ok(permit) => {
                if let Some(value) = self.get() {
                    return Ok(value);
                }
                // A panic or a drop from here on drops the permit: the next
                // in line initializes.
                let value = f().await?;
                Ok(self.complete(value, permit))
            }
            // The semaphore closes only after the value is in; the wait
            // makes sure this unit sees it (it returns at once).
            Err(_closed) => Ok(self.wait().await),
        }
    }

    /// The blocking form of [`get_or_init`](OnceCell::get_or_init): blocks
    /// the current execution unit (a thread, a green thread) while another
    /// initializer runs; runs `f` on it if its turn comes.
    ///
    /// ```
    /// let cell = polysync::OnceCell::new();
    /// assert_eq!(*cell.get_or_init_blocking(|| 1), 1);
    /// assert_eq!(*cell.get_or_init_blocking(|| 2), 1);
    /// ```
    pub fn get_or_init_blocking(&self, f: impl FnOnce() -> T) -> &T {
        match self.get_or_try_init_blocking(|| Ok::<T, std::convert::Infallible>(f())) {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    /// The blocking form of [`get_or_try_init`](OnceCell::get_or_try_init).
    ///
    /// # Errors
    /// What this caller's `f` returned; the cell stays empty.
    ///
    /// ```
    /// let cell = polysync::OnceCell::new();
    /// assert_eq!(cell.get_or_try_init_blocking(|| "x".parse::<u8>()).map(|_| ()).is_err(), true);
    /// assert_eq!(cell.get_or_try_init_blocking(|| "7".parse::<u8>()), Ok(&7));
    /// ```
    pub fn get_or_try_init_blocking<E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<&T, E> {
        if let Some(value) = self.get() {
            return Ok(value);
        }
        match self.init.acquire_blocking() {
            Ok(permit) => {
                if let Some(value) = self.get() {
                    return Ok(value);
                }
                let value = f()?;
                Ok(self.complete(value, permit))
            }
            Err(_closed) => Ok(self.wait_blocking()),
        }
    }

    /// The explicit-waiter form of the initialization: blocks on `waiter`
    /// while another initializer runs, until `deadline` at the latest; runs
    /// `f` (outside any wait, on the calling unit) if its turn comes.
    ///
    /// # Errors
    /// [`InitError::Failed`] with `f`'s error (the cell stays empty),
    /// [`InitError::TimedOut`] or [`InitError::Cancelled`] if the wait gave
    /// up before the value was there (its place in line is withdrawn).
    ///
    /// ```
    /// use polysync::{OnceCell, lowlevel::ThreadWaiter, once_cell::InitError};
    /// let cell = OnceCell::new();
    /// ThreadWaiter::with_current(|w| {
    ///     assert_eq!(cell.get_or_try_init_with(w, None, || Err("no")), Err(InitError::Failed("no")));
    ///     assert_eq!(cell.get_or_try_init_with(w, None, || Ok::<_, &str>(3)), Ok(&3));
    /// });
    /// ```
    pub fn get_or_try_init_with<W: Waiter + ?Sized, E>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<&T, InitError<E>> {
        if let Some(value) = self.get() {
            return Ok(value);
        }
        match self.init.acquire_with(waiter, deadline) {
            Ok(permit) => {
                if let Some(value) = self.get() {
                    return Ok(value);
                }
                let value = f().map_err(InitError::Failed)?;
                Ok(self.complete(value, permit))
            }
            // Closed only after the value is in: returns at once.
            Err(TryAcquireError::Closed) => self.wait_with(waiter, None).map_err(|e| match e {
                WaitError::TimedOut => InitError::TimedOut,
                WaitError::Cancelled => InitError::Cancelled,
            }),
            Err(TryAcquireError::Cancelled) => Err(InitError::Cancelled),
            Err(TryAcquireError::Unavailable) => Err(InitError::TimedOut),
        }
    }

    /// Waits asynchronously until the cell holds a value (set by any world)
    /// and returns it. Does not initialize.
    ///
    /// # Cancel safety
    /// Dropping the future loses nothing: the wait leaves the queue.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let cell = polysync::OnceCell::new();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| cell.set(1).unwrap());
    /// });
    /// assert_eq!(*cell.wait().await, 1);
    /// # });
    /// ```
    #[inline]
    pub fn wait(&self) -> Wait<'_, T> {
        Wait {
            wait: RawWait::new(self, ()),
        }
    }

    /// Blocks the current execution unit until the cell holds a value.
    ///
    /// ```
    /// let cell = polysync::OnceCell::new();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert_eq!(*cell.wait_blocking(), 'v'));
    ///     cell.set('v').unwrap();
    /// });
    /// ```
    pub fn wait_blocking(&self) -> &T {
        if let Some(value) = self.get() {
            return value;
        }
        blocking(|w| self.wait_with(w, None)).expect("a wait without a deadline does not time out")
    }

    /// The value if the cell holds one, without waiting (the `try_` form of
    /// [`wait`](OnceCell::wait); the same as [`get`](OnceCell::get)).
    ///
    /// ```
    /// assert_eq!(polysync::OnceCell::<u8>::new().try_wait(), None);
    /// ```
    #[inline]
    pub fn try_wait(&self) -> Option<&T> {
        self.get()
    }

    /// Blocks until the cell holds a value or `timeout` passes.
    ///
    /// ```
    /// let cell = polysync::OnceCell::<u8>::new();
    /// assert_eq!(cell.try_wait_for(std::time::Duration::from_millis(1)), None);
    /// ```
    pub fn try_wait_for(&self, timeout: Duration) -> Option<&T> {
        if let Some(value) = self.get() {
            return Some(value);
        }
        let deadline = deadline_after(timeout);
        blocking(|w| self.wait_with(w, deadline))
    }

    /// Blocks until the cell holds a value or `deadline` passes.
    ///
    /// ```
    /// let cell = polysync::OnceCell::from(1);
    /// assert_eq!(cell.try_wait_until(std::time::Instant::now()), Some(&1));
    /// ```
    pub fn try_wait_until(&self, deadline: Instant) -> Option<&T> {
        if let Some(value) = self.get() {
            return Some(value);
        }
        blocking(|w| self.wait_with(w, Some(deadline)))
    }

    /// Blocks on `waiter` until the cell holds a value, `deadline` passes
    /// or the waiter reports cancellation: the entry point that every
    /// blocking wait form runs with the current unit's waiter.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] or [`WaitError::Cancelled`]; the wait is
    /// withdrawn either way. A value set while the wait gives up still
    /// counts.
    ///
    /// ```
    /// use polysync::lowlevel::{ThreadWaiter, WaitError};
    /// let cell = polysync::OnceCell::new();
    /// ThreadWaiter::with_current(|w| {
    ///     let now = Some(std::time::Instant::now());
    ///     assert_eq!(cell.wait_with(w, now), Err(WaitError::TimedOut));
    ///     cell.set(2).unwrap();
    ///     assert_eq!(cell.wait_with(w, None), Ok(&2));
    /// });
    /// ```
    pub fn wait_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<&T, WaitError> {
        if let Some(value) = self.get() {
            return Ok(value);
        }
        match drive(waiter, pin!(RawWait::new(self, ())), deadline) {
            Ok(()) => {}
            Err((why, ())) => {
                // The value may have landed as the wait gave up: look again
                // under the lock (which orders us after the setter's wake).
                let mut guard = self.waiters.lock();
                if self.arrive_locked(&mut guard, (), &()).is_err() {
                    return Err(why);
                }
            }
        }
        // SAFETY: the wait completed: `ready` was seen true with Acquire
        // (lock-free or under the lock), or the setter handed the
        // notification over (Release/Acquire on the node, after its store).
        Ok(unsafe { self.value_unchecked() })
    }

    /// How many units wait for the value now (a snapshot; initializers that
    /// wait for their turn are not counted).
    ///
    /// ```
    /// assert_eq!(polysync::OnceCell::<u8>::new().waiting(), 0);
    /// ```
    pub fn waiting(&self) -> usize {
        self.waiters.len()
    }

    /// Takes the value out, leaving the cell empty (and ready for a new
    /// initialization).
    ///
    /// ```
    /// let mut cell = polysync::OnceCell::from(String::from("a"));
    /// assert_eq!(cell.take().as_deref(), Some("a"));
    /// assert!(!cell.initialized());
    /// cell.set(String::from("b")).unwrap();
    /// ```
    pub fn take(&mut self) -> Option<T> {
        std::mem::take(self).into_inner()
    }

    /// Consumes the cell and returns its value, if any.
    ///
    /// ```
    /// assert_eq!(polysync::OnceCell::from(4).into_inner(), Some(4));
    /// assert_eq!(polysync::OnceCell::<u8>::new().into_inner(), None);
    /// ```
    pub fn into_inner(self) -> Option<T> {
        if self.ready.swap(false, Ordering::Relaxed) {
            // SAFETY: `ready` says the slot holds a value, and clearing it
            // above keeps `Drop` from dropping it again; `&mut` access.
            Some(self.value.with_mut(|p| unsafe { (*p).assume_init_read() }))
        } else {
            None
        }
    }
}

impl<T> Protocol for OnceCell<T> {
    /// A waiter for the value tells the cell nothing...
    type Tag = ();
    /// ...and is handed nothing: being woken means the value is there.
    type Outcome = ();
    type Slot = ();

    fn queue(&self) -> &WaitQueue {
        &self.waiters
    }

    #[inline]
    fn try_fast(&self, (): (), _: &()) -> Option<()> {
        self.initialized().then_some(())
    }

    fn arrive_locked(&self, _: &mut QueueGuard<'_>, (): (), _: &()) -> Result<(), ()> {
        admit_if((), self.initialized())
    }

    fn pass_on(&self, (): (), _: &()) {
        // Every waiter was woken; nothing to hand on.
    }
}

impl<T> Drop for OnceCell<T> {
    fn drop(&mut self) {
        if self.ready.load(Ordering::Relaxed) {
            // SAFETY: the slot holds a value (`ready`), and `&mut self` is
            // the last access.
            self.value.with_mut(|p| unsafe { (*p).assume_init_drop() });
        }
    }
}

impl<T> Default for OnceCell<T> {
    /// An empty cell.
    fn default() -> Self {
        Self::new()
    }
}

impl<T> From<T> for OnceCell<T> {
    /// A cell that already holds `value`.
    ///
    /// ```
    /// let cell = polysync::OnceCell::from(3);
    /// assert_eq!(cell.get(), Some(&3));
    /// ```
    fn from(value: T) -> Self {
        let cell = Self::new();
        cell.set(value)
            .unwrap_or_else(|_| unreachable!("a new cell is empty"));
        cell
    }
}

impl<T: Clone> Clone for OnceCell<T> {
    /// A cell with a clone of the value (empty if this one is empty or
    /// being initialized).
    fn clone(&self) -> Self {
        Self::new_with(self.get().cloned())
    }
}

impl<T: PartialEq> PartialEq for OnceCell<T> {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl<T: Eq> Eq for OnceCell<T> {}

impl<T: std::fmt::Debug> std::fmt::Debug for OnceCell<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnceCell")
            .field("value", &self.get())
            .field("waiting", &self.waiting())
            .finish()
    }
}

/// The future of [`OnceCell::wait`]: the value, once the cell holds one.
#[must_use = "futures do nothing unless polled"]
pub struct Wait<'a, T> {
    /// Structurally pinned.
    wait: RawWait<'a, OnceCell<T>>,
}

impl<T> std::fmt::Debug for Wait<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wait")
            .field("queued", &self.wait.is_queued())
            .finish()
    }
}

impl<'a, T> Future for Wait<'a, T> {
    type Output = &'a T;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<&'a T> {
        // SAFETY: `wait` is structurally pinned: never moved out of `self`.
        let wait = unsafe { self.map_unchecked_mut(|this| &mut this.wait) };
        let cell = wait.protocol();
        match wait.poll(cx) {
            // SAFETY: the wait completed: `ready` was seen true with Acquire
            // (lock-free or under the lock), or the setter's notification
            // (Release/Acquire on the node) came after its store of `ready`.
            Poll::Ready(()) => Poll::Ready(unsafe { cell.value_unchecked() }),
            Poll::Pending => Poll::Pending,
        }
    }
}
