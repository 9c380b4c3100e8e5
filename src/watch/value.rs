//! The value cell of a watch channel: a small writer-preferring
//! reader-writer spin lock around the one value, and [`Ref`], the guard that
//! [`borrow`](super::Receiver::borrow) returns.
//!
//! A send holds the write side for as long as it takes to store the value
//! (or to run the closure of [`send_modify`](super::Sender::send_modify));
//! a [`Ref`] holds the read side. Both sides are short by contract (see
//! [`Ref`]), so waiting for the other side backs off and yields the core,
//! and never parks: the waiting model (queues, wakers, waiters) is for the
//! versions, not for the cell.

use crate::lowlevel::sync::{AtomicU64, Ordering, backoff};
use std::cell::UnsafeCell;
use std::ops::Deref;

// The lock word:
//
// | bits  | meaning                                                   |
// |-------|-----------------------------------------------------------|
// | 63    | WRITER: a sender holds the write side                    |
// | 62    | WANT: a sender waits for the readers to leave            |
// | 0..62 | the number of live read guards                           |
//
// A reader enters only while WRITER and WANT are clear, so a waiting
// sender waits for the guards already alive, never for guards taken after
// it arrived (writer preference). WANT is set by any waiting sender and
// cleared by the one that takes the write side; another sender still
// waiting sets it again on its next round.
const WRITER: u64 = 1 << 63;
const WANT: u64 = 1 << 62;
const READERS: u64 = WANT - 1;

/// The channel's value behind a reader-writer spin lock.
pub(crate) struct ValueLock<T> {
    /// The lock word (see the table above).
    state: AtomicU64,
    /// Read through a [`Ref`] (read side held) or written by
    /// [`ValueLock::write`]'s closure (write side held); never otherwise.
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out `&T` to any number of threads at once (so `T`
// must be `Sync`) and `&mut T` to one sender at a time, possibly on another
// thread than the one that made the value (so `T` must be `Send`).
unsafe impl<T: Send + Sync> Sync for ValueLock<T> {}

impl<T> ValueLock<T> {
    pub(crate) fn new(value: T) -> Self {
        ValueLock {
            state: AtomicU64::new(0),
            value: UnsafeCell::new(value),
        }
    }

    /// Takes the read side; the guard gives it back.
    #[inline]
    pub(crate) fn read(&self) -> ReadGuard<'_, T> {
        let s = self.state.load(Ordering::Relaxed);
        if s & (WRITER | WANT) != 0
            || self
                .state
                .compare_exchange_weak(s, s + 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            self.read_slow();
        }
        ReadGuard { lock: self }
    }

    #[cold]
    fn read_slow(&self) {
        let mut step = 0;
        loop {
            let s = self.state.load(Ordering::Relaxed);
            if s & (WRITER | WANT) == 0 {
                debug_assert!(s & READERS != READERS, "polysync: too many watch borrows");
                if self
                    .state
                    .compare_exchange_weak(s, s + 1, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return;
                }
                continue;
            }
            backoff(&mut step);
        }
    }

    /// Runs `f` on the value with the write side held, and `then` (with the
    /// result of `f`) before the write side is given back: where a send
    /// bumps the version, so that a reader that holds the read side sees a
    /// version that matches the value. If `f` panics, the write side is
    /// given back (the value keeps whatever `f` did to it: no poisoning)
    /// and `then` does not run.
    pub(crate) fn write<R>(&self, f: impl FnOnce(&mut T) -> R, then: impl FnOnce(&R)) -> R {
        if self
            .state
            .compare_exchange(0, WRITER, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.write_slow();
        }
        /// Gives the write side back, also when `f` unwinds.
        struct Unlock<'a>(&'a AtomicU64);
        impl Drop for Unlock<'_> {
            fn drop(&mut self) {
                // Keeps WANT: another sender may be waiting.
                self.0.fetch_and(!WRITER, Ordering::Release);
            }
        }
        let _unlock = Unlock(&self.state);
        // SAFETY: the write side is held (WRITER is ours): no read guard is
        // alive and no other sender writes until `_unlock` drops, after `f`.
        let out = f(unsafe { &mut *self.value.get() });
        then(&out);
        out
    }

    #[cold]
    fn write_slow(&self) {
        let mut step = 0;
        loop {
            let s = self.state.load(Ordering::Relaxed);
            if s & (WRITER | READERS) == 0 {
                // Taking the write side clears WANT (a sender that still
                // waits sets it again).
                if self
                    .state
                    .compare_exchange_weak(s, WRITER, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return;
                }
                continue;
            }
            if s & WANT == 0 {
                self.state.fetch_or(WANT, Ordering::Relaxed);
            }
            backoff(&mut step);
        }
    }
}

/// The read side of a [`ValueLock`], held: gives it back on drop.
pub(crate) struct ReadGuard<'a, T> {
    lock: &'a ValueLock<T>,
}

impl<T> Deref for ReadGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the read side is held while this guard lives, so no sender
        // writes the value; other readers only read it.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> Drop for ReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.state.fetch_sub(1, Ordering::Release);
    }
}

/// A borrow of a watch channel's current value, from
/// [`Receiver::borrow`](super::Receiver::borrow),
/// [`Receiver::borrow_and_update`](super::Receiver::borrow_and_update) or
/// [`Sender::borrow`](super::Sender::borrow).
///
/// # Holding it
/// A `Ref` holds the read side of the value's lock: **a send waits until
/// the `Ref`s alive when it started are dropped** (new borrows wait behind
/// that send, so a stream of borrows never starves it). This is tokio's
/// model (its `Ref` holds a read lock), chosen over a snapshot so that the
/// API keeps tokio's signatures: no `T: Clone`, [`send_modify`] changes the
/// value in place, [`send_replace`] gives the old value back, and a send
/// allocates nothing. Keep a `Ref` short, like a lock guard: copy out what
/// you need, and never hold it across an `.await`, a blocking call or a
/// coroutine switch (a sender on the same thread would then wait for ever).
/// A receiver that is slow to *look* (that does not call `changed` for a
/// long time) never holds anything, and never delays a sender.
///
/// [`send_modify`]: super::Sender::send_modify
/// [`send_replace`]: super::Sender::send_replace
///
/// ```
/// let (tx, rx) = polysync::watch::channel(String::from("a"));
/// let len = rx.borrow().len(); // borrowed and released at once
/// tx.send("bc".into()).unwrap();
/// assert_eq!(len, 1);
/// assert_eq!(*rx.borrow(), "bc");
/// ```
pub struct Ref<'a, T> {
    pub(super) guard: ReadGuard<'a, T>,
    pub(super) has_changed: bool,
}

impl<T> Ref<'_, T> {
    /// Whether the borrowed value had not been seen by the receiver that
    /// borrowed it, when it was borrowed (always `false` for a
    /// [`Sender::borrow`](super::Sender::borrow)). For
    /// [`borrow_and_update`](super::Receiver::borrow_and_update), whether it
    /// was new before this call marked it seen.
    ///
    /// ```
    /// let (tx, mut rx) = polysync::watch::channel(1);
    /// tx.send(2).unwrap();
    /// assert!(rx.borrow().has_changed());
    /// assert!(rx.borrow_and_update().has_changed());
    /// assert!(!rx.borrow().has_changed());
    /// ```
    #[inline]
    pub fn has_changed(&self) -> bool {
        self.has_changed
    }
}

impl<T> Deref for Ref<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Ref<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ref")
            .field("value", &**self)
            .field("has_changed", &self.has_changed)
            .finish()
    }
}
