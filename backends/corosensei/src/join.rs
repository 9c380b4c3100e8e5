//! [`JoinHandle`] and [`JoinError`]: a green thread's result, waited on as a
//! polysync [`Event`] from any world.

use polysync::Event;
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

/// Why a green thread produced no value.
///
/// ```
/// let err = polysync_corosensei::run(|| {
///     polysync_corosensei::spawn(|| -> u32 { panic!("boom") }).join().unwrap_err()
/// });
/// assert!(err.is_panic());
/// let JoinError::Panicked(payload) = err else { unreachable!() };
/// assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
/// # use polysync_corosensei::JoinError;
/// ```
pub enum JoinError {
    /// The green thread panicked; this is the panic's payload (what
    /// [`std::panic::catch_unwind`] would have returned). The hub that ran
    /// it carries on.
    Panicked(Box<dyn Any + Send + 'static>),
    /// The green thread never finished: its hub was dropped (or [`run`] /
    /// [`Hub::run`] returned) while it was still suspended or not yet
    /// started, and the hub unwound its stack (its destructors ran).
    ///
    /// [`run`]: crate::run
    /// [`Hub::run`]: crate::Hub::run
    Cancelled,
}

impl JoinError {
    /// Whether the green thread panicked.
    ///
    /// ```
    /// assert!(!polysync_corosensei::JoinError::Cancelled.is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, JoinError::Panicked(_))
    }

    /// Whether the green thread was unwound by its hub's teardown.
    ///
    /// ```
    /// assert!(polysync_corosensei::JoinError::Cancelled.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self, JoinError::Cancelled)
    }
}

/// The message of a panic payload, if it is a string.
fn message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Panicked(p) => match message(&**p) {
                Some(msg) => f.debug_tuple("Panicked").field(&msg).finish(),
                None => f.debug_tuple("Panicked").field(&"..").finish(),
            },
            JoinError::Cancelled => f.write_str("Cancelled"),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Panicked(p) => match message(&**p) {
                Some(msg) => write!(f, "the green thread panicked: {msg}"),
                None => f.write_str("the green thread panicked"),
            },
            JoinError::Cancelled => {
                f.write_str("the green thread was unwound when its hub shut down")
            }
        }
    }
}

impl std::error::Error for JoinError {}

/// The result slot that the hub fills and the handle empties.
type Slot<T> = Arc<Mutex<Option<Result<T, JoinError>>>>;

/// The hub's side of a [`JoinHandle`]: fills the slot once, then sets the
/// event (in that order, so a joiner that sees the event finds the result).
pub(crate) struct Completer<T> {
    done: Arc<Event>,
    slot: Slot<T>,
}

/// What the hub does with a green thread that ended without a value; type
/// erased so that the hub keeps one kind of task.
pub(crate) trait Fail {
    /// Records `error` unless a result is already there, and sets the event.
    fn fail(&self, error: JoinError);
}

impl<T> Completer<T> {
    /// Records `result` unless one is already there, and sets the event.
    pub(crate) fn finish(&self, result: Result<T, JoinError>) {
        {
            let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
            if slot.is_none() && !self.done.is_set() {
                *slot = Some(result);
            }
        }
        self.done.set();
    }
}

impl<T> Fail for Completer<T> {
    fn fail(&self, error: JoinError) {
        self.finish(Err(error));
    }
}

impl<T> Clone for Completer<T> {
    fn clone(&self) -> Self {
        Completer {
            done: self.done.clone(),
            slot: self.slot.clone(),
        }
    }
}

/// A new handle, for a green thread of the hub `hub` (its `Core::id`), and
/// the completer that feeds it.
pub(crate) fn pair<T>(hub: u64) -> (JoinHandle<T>, Completer<T>) {
    let done = Arc::new(Event::new());
    let slot: Slot<T> = Arc::new(Mutex::new(None));
    (
        JoinHandle {
            done: done.clone(),
            slot: slot.clone(),
            hub,
            wait: None,
        },
        Completer { done, slot },
    )
}

/// The boxed async wait of a [`JoinHandle`] polled as a future. It holds
/// only the `Arc<Event>`, so it is `Send + Sync` whatever `T` is.
type EventWait = Pin<Box<dyn Future<Output = ()> + Send + Sync>>;

/// An owned permission to wait for a green thread and take its result.
///
/// It is a polysync wait on an [`Event`] that the hub sets when the green
/// thread ends, so it can be joined from every world at once:
///
/// - [`join`](JoinHandle::join) from a green thread (of this hub or another)
///   switches green threads; from a plain OS thread it parks that thread;
///   from a `may` coroutine (with `polysync-may`) it parks the coroutine;
/// - `.await` (the handle is a [`Future`]) from an async task on any
///   executor.
///
/// A panic in the green thread comes back as `Err(`[`JoinError::Panicked`]`)`
/// carrying the payload (it is **not** re-raised in the joiner); a green
/// thread unwound by its hub's teardown gives `Err(`[`JoinError::Cancelled`]`)`.
/// Dropping the handle detaches the green thread: it keeps running.
///
/// The handle is [`Send`] when `T` is, so a plain thread or a tokio task on
/// another thread can join a green thread.
///
/// ```
/// use polysync_corosensei::{run, spawn};
///
/// let handle = run(|| {
///     let a = spawn(|| 1 + 1);
///     let b = spawn(|| 40);
///     let sum = a.join().unwrap() + b.join().unwrap(); // switches, never blocks the hub
///     let c = spawn(move || sum);
///     polysync_corosensei::yield_now(); // let it run before the hub goes
///     c
/// });
/// // The hub is gone; the green thread had finished, so its result is there.
/// assert_eq!(handle.join().unwrap(), 42);
/// ```
pub struct JoinHandle<T> {
    done: Arc<Event>,
    slot: Slot<T>,
    /// The id of the hub that runs the green thread (unique in the
    /// process), to tell a join that its hub could never serve.
    hub: u64,
    /// The async wait, made on the first `poll` that has to wait.
    wait: Option<EventWait>,
}

impl<T> JoinHandle<T> {
    /// Whether the green thread has ended (returned, panicked, or was
    /// unwound by its hub's teardown); [`join`](JoinHandle::join) then
    /// returns at once.
    ///
    /// ```
    /// polysync_corosensei::run(|| {
    ///     let h = polysync_corosensei::spawn(|| ());
    ///     assert!(!h.is_finished()); // spawned, not yet run
    ///     polysync_corosensei::yield_now();
    ///     assert!(h.is_finished());
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.done.is_set()
    }

    /// Waits for the green thread to end and returns its value, or why it
    /// has none.
    ///
    /// Blocks the current execution unit in its own way: a green thread
    /// switches to its hub, an OS thread parks.
    ///
    /// # Errors
    /// [`JoinError::Panicked`] with the payload if the green thread panicked,
    /// [`JoinError::Cancelled`] if its hub unwound it.
    ///
    /// # Panics
    /// When the join could never end, because the green thread has not
    /// ended and its own hub cannot run it while the caller waits; only on
    /// that hub's OS thread (a thread with another hub, idle or not, joins
    /// like any thread):
    ///
    /// - outside any green thread: the hub is not running then, so the wait
    ///   could never end. Drive the hub instead
    ///   ([`Hub::run`](crate::Hub::run)), or join from inside a green thread.
    /// - in a green thread that is **unwinding** (a destructor run by its
    ///   own panic, or by the hub's teardown): such a wait parks the OS
    ///   thread instead of switching (nothing suspends a green thread while
    ///   it unwinds; see [`GreenWaiter`](crate::GreenWaiter)), so no sibling
    ///   runs, and during the teardown none ever runs again. The panic comes
    ///   while the thread unwinds, so the process **aborts** after printing
    ///   the message: a hang that would have been silent is loud instead. Do
    ///   not join a sibling from a destructor; detach it (drop the handle).
    ///
    /// ```
    /// let v = polysync_corosensei::run(|| polysync_corosensei::spawn(|| "hi").join().unwrap());
    /// assert_eq!(v, "hi");
    /// ```
    #[track_caller]
    pub fn join(self) -> Result<T, JoinError> {
        if !self.done.is_set() && crate::hub::hub_cannot_run(self.hub) {
            panic!(
                "polysync-corosensei: JoinHandle::join of a green thread that has not ended, on \
                 its own hub's OS thread, while that hub cannot run it (outside any green \
                 thread the hub is not running; in a green thread that unwinds, waits park the \
                 OS thread): it would never return (join from a running green thread, drive \
                 the hub with Hub::run, or do not join siblings from destructors)"
            );
        }
        self.done.wait_blocking();
        self.take()
    }

    /// Takes the result; the event is set.
    fn take(&self) -> Result<T, JoinError> {
        self.slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .expect("polysync-corosensei: a JoinHandle's result was already taken")
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}

/// Awaiting the handle waits for the green thread from any executor (the
/// wake comes from the hub's thread through the task's `Waker`).
///
/// # Cancel safety
/// Dropping the future (the handle) before it completes only detaches the
/// green thread; nothing is lost but the result.
///
/// ```
/// // A green thread on a hub thread, awaited by an async task elsewhere.
/// let (tx, rx) = std::sync::mpsc::channel();
/// let awaited = std::sync::Arc::new(polysync::Event::new());
/// let hub_thread = std::thread::spawn({
///     let awaited = awaited.clone();
///     move || {
///         polysync_corosensei::run(move || {
///             let handle = polysync_corosensei::spawn(|| {
///                 polysync_corosensei::yield_now();
///                 7
///             });
///             tx.send(handle).unwrap();
///             // The hub (and the green thread) must outlive the await.
///             awaited.wait_blocking();
///         })
///     }
/// });
/// let handle = rx.recv().unwrap();
/// assert_eq!(futures_lite::future::block_on(handle).unwrap(), 7);
/// awaited.set();
/// hub_thread.join().unwrap();
/// ```
impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if !this.done.is_set() {
            let wait = this.wait.get_or_insert_with(|| {
                let done = this.done.clone();
                Box::pin(async move { done.wait().await })
            });
            if wait.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        this.wait = None;
        Poll::Ready(this.take())
    }
}
