//! [`Event`]: a one-time event that wakes every waiter, of every world.

use crate::lowlevel::queue::{QueueGuard, WaitQueue, wake_in_batches};
use crate::lowlevel::sync::{Ordering, const_fn};
use crate::lowlevel::wait::{Protocol, Wait as RawWait, admit_if, drive};
use crate::lowlevel::{WaitError, Waiter};
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::Instant;

// The user bits of an event's queue word:
//
// | SET | the event | a new wait               | `set()`                           |
// |-----|-----------|--------------------------|-----------------------------------|
// | 0   | not set   | queues (data unused: 0)  | sets SET, wakes every queued node |
// | 1   | set       | returns at once          | `false`                           |
//
// SET goes from 0 to 1 once (lock-free while nobody is queued, else under
// the queue lock, where the wake-up in batches starts) and is never cleared.
const SET: u64 = 1;

/// The body of `wait_with` of the events ([`Event`],
/// [`REvent`](crate::REvent), [`CountdownEvent`](crate::CountdownEvent)),
/// after the lock-free check failed: drives a core wait whose node starts
/// with `start` on `waiter`; if it gives up, re-checks under the queue lock
/// with the event's own [`Protocol::try_locked`] (a pure check for every
/// event), so an event that became ready while the wait gave up (after its
/// node was withdrawn, or while a wake-up running in batches had not reached
/// it) still counts as success.
pub(crate) fn wait_event_with<P: Protocol<Slot = ()>, W: Waiter + ?Sized>(
    event: &P,
    waiter: &W,
    start: P::Tag,
    deadline: Option<Instant>,
) -> Result<(), WaitError> {
    match drive(waiter, pin!(RawWait::new(event, start)), deadline) {
        Ok(()) => Ok(()),
        Err((why, ())) => {
            let mut guard = event.queue().lock();
            if event.arrive_locked(&mut guard, start, &()).is_ok() {
                Ok(())
            } else {
                Err(why)
            }
        }
    }
}

/// Writes the wait forms of an event type ([`Event`],
/// [`REvent`](crate::REvent), [`CountdownEvent`](crate::CountdownEvent)):
/// `wait` (async), `wait_blocking`, `try_wait`, `try_wait_for`,
/// `try_wait_until`, and `wait_with`, the one entry point with the full
/// semantics that the three blocking forms call through
/// [`blocking`](crate::lowlevel::wait::blocking). The caller writes each
/// form's docs (with its own examples) and names:
///
/// - `future`: the type of `wait`'s future, made by `<future>::new(&self)`;
/// - `ready`: the method that says, without waiting, whether a wait
///   completes now (what `try_wait` returns);
/// - `start`: the method that gives the node data of a wait that starts now
///   (the event's `Protocol` reads it).
macro_rules! event_wait_forms {
    (
        future: $fut:ident,
        ready: $ready:ident,
        start: $start:ident,
        $(#[$wait:meta])* fn wait;
        $(#[$blocking:meta])* fn wait_blocking;
        $(#[$try_wait:meta])* fn try_wait;
        $(#[$for_:meta])* fn try_wait_for;
        $(#[$until:meta])* fn try_wait_until;
        $(#[$with:meta])* fn wait_with;
    ) => {
        $(#[$wait])*
        #[inline]
        pub fn wait(&self) -> $fut<'_> {
            $fut::new(self)
        }

        $(#[$blocking])*
        pub fn wait_blocking(&self) {
            $crate::lowlevel::wait::blocking(|w| self.wait_with(w, None));
        }

        $(#[$try_wait])*
        #[inline]
        pub fn try_wait(&self) -> bool {
            self.$ready()
        }

        $(#[$for_])*
        pub fn try_wait_for(&self, timeout: ::std::time::Duration) -> bool {
            let deadline = $crate::lowlevel::deadline_after(timeout);
            $crate::lowlevel::wait::blocking(|w| self.wait_with(w, deadline)).is_some()
        }

        $(#[$until])*
        pub fn try_wait_until(&self, deadline: ::std::time::Instant) -> bool {
            $crate::lowlevel::wait::blocking(|w| self.wait_with(w, Some(deadline))).is_some()
        }

        $(#[$with])*
        pub fn wait_with<W: $crate::lowlevel::Waiter + ?Sized>(
            &self,
            waiter: &W,
            deadline: ::std::option::Option<::std::time::Instant>,
        ) -> ::std::result::Result<(), $crate::lowlevel::WaitError> {
            if self.$ready() {
                return Ok(());
            }
            $crate::event::wait_event_with(self, waiter, self.$start(), deadline)
        }
    };
}
pub(crate) use event_wait_forms;

/// A one-time event: once [`set`](Event::set), it stays set, every waiter
/// wakes, and every later wait returns at once. It cannot be cleared.
///
/// Waiters of every kind share it: [`wait`](Event::wait) (async),
/// [`wait_blocking`](Event::wait_blocking), [`try_wait`](Event::try_wait),
/// [`try_wait_for`](Event::try_wait_for), [`try_wait_until`](Event::try_wait_until);
/// [`wait_with`](Event::wait_with) takes an explicit waiter.
///
/// ```
/// use polysync::Event;
/// use std::sync::Arc;
///
/// let ready = Arc::new(Event::new());
/// let worker = {
///     let ready = ready.clone();
///     std::thread::spawn(move || ready.wait_blocking())
/// };
/// ready.set();
/// worker.join().unwrap();
/// futures_lite::future::block_on(ready.wait()); // returns at once
/// ```
pub struct Event {
    /// User bits: `SET` (see the table above).
    queue: WaitQueue,
}

impl Event {
    const_fn! {
        /// An event that is not set.
        pub fn new() -> Event {
            Event { queue: WaitQueue::new(0) }
        }
    }

    /// Sets the event and wakes all waiters. Returns `true` if this call set
    /// it, `false` if it was set already.
    ///
    /// ```
    /// let e = polysync::Event::new();
    /// assert!(e.set());
    /// assert!(!e.set());
    /// ```
    pub fn set(&self) -> bool {
        match self
            .queue
            .update_if_idle(Ordering::Release, |u| (u & SET == 0).then_some(u | SET))
        {
            Ok(_) => return true,
            Err(u) if u & SET != 0 => return false,
            Err(_) => {}
        }
        let mut guard = self.queue.lock();
        if guard.user() & SET != 0 {
            return false;
        }
        guard.set_user(SET);
        // Once SET is published no new waiter queues, so the batches end
        // when the queue is empty.
        wake_in_batches(&self.queue, Some(guard), |guard, wakers| {
            guard.notify_batch(wakers, ())
        });
        true
    }

    /// Whether the event is set.
    ///
    /// ```
    /// assert!(!polysync::Event::new().is_set());
    /// ```
    #[inline]
    pub fn is_set(&self) -> bool {
        self.queue.user(Ordering::Acquire) & SET != 0
    }

    event_wait_forms! {
        future: Wait,
        ready: is_set,
        start: wait_start,

        /// Waits asynchronously until the event is set.
        ///
        /// # Cancel safety
        /// Dropping the future loses nothing: the wait leaves the queue, and
        /// a `set()` is never consumed (it wakes every waiter and stays set).
        ///
        /// ```
        /// # futures_lite::future::block_on(async {
        /// let e = polysync::Event::new();
        /// e.set();
        /// e.wait().await;
        /// # });
        /// ```
        fn wait;

        /// Blocks the current execution unit until the event is set.
        ///
        /// # Cancellation
        /// If the unit's waiter reports cancellation, the wait is withdrawn and
        /// the unit unwinds through [`Waiter::cancelled`]. The same holds for
        /// every plain blocking form of the crate.
        ///
        /// ```
        /// let e = polysync::Event::new();
        /// e.set();
        /// e.wait_blocking();
        /// ```
        fn wait_blocking;

        /// Whether the event is set, without waiting (the `try_` form of `wait`).
        ///
        /// ```
        /// assert!(!polysync::Event::new().try_wait());
        /// ```
        fn try_wait;

        /// Blocks until the event is set or `timeout` passes; returns whether it is set.
        ///
        /// ```
        /// let e = polysync::Event::new();
        /// assert!(!e.try_wait_for(std::time::Duration::from_millis(1)));
        /// ```
        fn try_wait_for;

        /// Blocks until the event is set or `deadline` passes; returns whether it is set.
        ///
        /// ```
        /// let e = polysync::Event::new();
        /// e.set();
        /// assert!(e.try_wait_until(std::time::Instant::now()));
        /// ```
        fn try_wait_until;

        /// Blocks on `waiter` until the event is set, `deadline` passes or the
        /// waiter reports cancellation: the entry point that every blocking form
        /// runs with the current unit's waiter. Library code that knows its
        /// waiter calls it directly.
        ///
        /// # Errors
        /// [`WaitError::TimedOut`] or [`WaitError::Cancelled`]; the wait is
        /// withdrawn either way. A `set()` that lands while the wait gives up
        /// still counts as success.
        ///
        /// ```
        /// use polysync::lowlevel::{ThreadWaiter, WaitError};
        /// use std::time::Instant;
        ///
        /// let e = polysync::Event::new();
        /// ThreadWaiter::with_current(|w| {
        ///     assert_eq!(e.wait_with(w, Some(Instant::now())), Err(WaitError::TimedOut));
        ///     e.set();
        ///     assert_eq!(e.wait_with(w, None), Ok(()));
        /// });
        /// ```
        fn wait_with;
    }

    /// The data of a wait's node: none.
    #[inline]
    fn wait_start(&self) {}

    /// How many units wait for the event now (a snapshot).
    ///
    /// ```
    /// assert_eq!(polysync::Event::new().waiting(), 0);
    /// ```
    pub fn waiting(&self) -> usize {
        self.queue.len()
    }
}

impl Protocol for Event {
    /// A waiter tells the event nothing...
    type Tag = ();
    /// ...and `set` hands it nothing: being woken is the message.
    type Outcome = ();
    type Slot = ();

    fn queue(&self) -> &WaitQueue {
        &self.queue
    }

    #[inline]
    fn try_fast(&self, (): (), _: &()) -> Option<()> {
        self.is_set().then_some(())
    }

    fn arrive_locked(&self, guard: &mut QueueGuard<'_>, (): (), _: &()) -> Result<(), ()> {
        admit_if((), guard.user() & SET != 0)
    }

    fn pass_on(&self, (): (), _: &()) {
        // Everyone was woken; there is nothing to hand on.
    }
}

impl Default for Event {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .field("waiting", &self.waiting())
            .finish()
    }
}

/// The future of [`Event::wait`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct Wait<'a> {
    /// Structurally pinned.
    wait: RawWait<'a, Event>,
}

impl<'a> Wait<'a> {
    #[inline]
    fn new(event: &'a Event) -> Self {
        Wait {
            wait: RawWait::new(event, ()),
        }
    }
}

impl Future for Wait<'_> {
    type Output = ();

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `wait` is structurally pinned: never moved out of `self`.
        unsafe { self.map_unchecked_mut(|this| &mut this.wait) }.poll(cx)
    }
}
