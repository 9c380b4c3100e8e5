//! Identities of execution units, used where ownership matters (a lock's
//! owner for the re-entry check, a limiter's borrowers).
//!
//! **No two units ever share an identity.** Reentrant ownership is only sound
//! if an identity is never handed to a second unit while anything the first
//! one acquired may still be held, and ownership can outlive its unit (a
//! guard returned from a task, a forgotten level), so polysync never reuses
//! an identity at all:
//!
//! - `1 ..= 2^62 - 1` (bit 62 clear; `2^30 - 1` on 32-bit targets):
//!   [`UnitId::allocate`], one process-wide 64-bit counter shared by OS
//!   threads, [`identified`] futures and the units of green backends. It
//!   never wraps: when the range is used up it panics (at one allocation per
//!   nanosecond that takes 146 years).
//! - `2^62 ..= 2^63 - 1` (bit 62 set; `2^30 ..= 2^31 - 1` on 32-bit targets):
//!   [`UnitId::from_task_counter`], the image of an executor's own
//!   never-repeating task counter (tokio's task ids, through `polysync-tokio`),
//!   one to one, so that a task needs no allocation and no table.
//!
//! Every way to make an identity out of a number ([`UnitId::from_raw`],
//! [`UnitId::from_task_counter`], [`Identified::with_unit`]) and every way to
//! present one as the current unit's (the [`TaskIdentity`] and
//! [`GreenBackend`] traits) is `unsafe`, with its contract in its `# Safety`
//! section.
//!
//! [`TaskIdentity`]: crate::lowlevel::TaskIdentity
//! [`GreenBackend`]: crate::lowlevel::GreenBackend

use super::queue::NodeData;
use super::sync::per_thread;
use std::future::Future;
use std::num::NonZeroU64;
use std::pin::Pin;
// The identity counter is a `static`: std's atomics (a `static` needs a
// `const` constructor, which loom's lack). It only hands out fresh numbers;
// no protocol a loom model checks rests on it.
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

/// The identity of an execution unit (an OS thread, a coroutine, a green
/// thread, an async task). Nonzero, at most [`UnitId::MAX`] (so that an
/// identity plus one flag bit fits a `usize`), and **never given to two
/// units**: an identity is not reused, even after its unit ended.
///
/// Two sources fill two disjoint halves of the range, so an identity from
/// one never equals an identity from the other:
///
/// | source | range (64-bit targets) | 32-bit targets |
/// |---|---|---|
/// | [`UnitId::allocate`] (threads, [`identified`] futures, green backends) | `1 ..= 2^62 - 1` | `1 ..= 2^30 - 1` |
/// | [`UnitId::from_task_counter`] (an executor's task ids, e.g. tokio's) | `2^62 ..= 2^63 - 1` | `2^30 ..= 2^31 - 1` |
///
/// Neither source wraps: [`allocate`](UnitId::allocate) panics once its range
/// is used up (never reached on 64-bit targets in practice), and
/// [`from_task_counter`](UnitId::from_task_counter) refuses counters beyond
/// its range.
///
/// ```
/// use polysync::lowlevel::UnitId;
/// let here = UnitId::current_thread();
/// assert_eq!(here, UnitId::current_thread());
/// let there = std::thread::spawn(UnitId::current_thread).join().unwrap();
/// assert_ne!(here, there);
/// ```
///
/// Making an identity from a number is `unsafe` (it could be a live unit's):
///
/// ```compile_fail,E0133
/// let forged = polysync::lowlevel::UnitId::from_raw(1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnitId(NonZeroU64);

/// The next identity [`UnitId::allocate`] hands out; only ever grows.
static NEXT: AtomicU64 = AtomicU64::new(1);

per_thread! {
    static THREAD_ID: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

impl UnitId {
    /// The largest raw value of an identity: `2^63 - 1` on 64-bit targets
    /// (`2^31 - 1` on 32-bit ones), so that the top bit of a `usize` stays
    /// free for a flag next to an identity.
    pub const MAX: u64 = (usize::MAX >> 1) as u64;

    /// Set in identities made by
    /// [`from_task_counter`](UnitId::from_task_counter), clear in allocated ones.
    const TASK_BIT: u64 = (Self::MAX >> 1) + 1;

    /// The largest identity [`allocate`](UnitId::allocate) hands out.
    const ALLOCATED_MAX: u64 = Self::TASK_BIT - 1;

    /// Allocates a fresh identity (for a thread, an [`identified`] future or
    /// a backend's new unit), never handed out before: `1 ..= 2^62 - 1`, in
    /// order, from one process-wide counter that never wraps.
    ///
    /// # Panics
    /// When all `2^62 - 1` identities (`2^30 - 1` on 32-bit targets) are used
    /// up, rather than hand one out twice.
    ///
    /// ```
    /// use polysync::lowlevel::UnitId;
    /// let a = UnitId::allocate();
    /// let b = UnitId::allocate();
    /// assert_ne!(a, b);
    /// assert!(a.get() < 1 << 62 && b.get() < 1 << 62);
    /// ```
    pub fn allocate() -> UnitId {
        Self::allocate_from(&NEXT)
    }

    /// [`allocate`](UnitId::allocate) from a given counter (the tests drive a
    /// private one to the end of the range).
    fn allocate_from(next: &AtomicU64) -> UnitId {
        let mut raw = next.load(Ordering::Relaxed);
        loop {
            // A compare-exchange, not `fetch_add`: the counter never moves
            // past the end, however often the exhausted allocator is called.
            assert!(
                raw <= Self::ALLOCATED_MAX,
                "polysync: every execution-unit identity has been handed out \
                 (UnitId::allocate never hands one out twice)"
            );
            match next.compare_exchange_weak(raw, raw + 1, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => match NonZeroU64::new(raw) {
                    Some(id) => return UnitId(id),
                    // The counter starts at 1 and only grows.
                    None => unreachable!("the identity counter is never 0"),
                },
                Err(seen) => raw = seen,
            }
        }
    }

    /// Maps an executor's task counter (such as the number in a tokio
    /// `task::Id`) to an identity in the task half, `2^62 | raw`, one to one;
    /// `None` when `raw` is too large for that half (`raw >= 2^62`, or
    /// `>= 2^30` on 32-bit targets). Never an identity that
    /// [`allocate`](UnitId::allocate) returns.
    ///
    /// # Safety
    /// Over the whole life of the process, the identity made from a given
    /// `raw` may be presented (by a [`TaskIdentity`] provider, say) as the
    /// identity of **one** unit only: use this for one executor's
    /// process-wide task counter that never repeats a value (tokio 1.x draws
    /// every task id from one such counter), and do not mix counters of two
    /// executors.
    ///
    /// [`TaskIdentity`]: crate::lowlevel::TaskIdentity
    ///
    /// ```
    /// use polysync::lowlevel::UnitId;
    /// // SAFETY: made-up counters, compared only, never presented as a unit's.
    /// let (a, b, far) = unsafe {
    ///     (
    ///         UnitId::from_task_counter(1).unwrap(),
    ///         UnitId::from_task_counter(2).unwrap(),
    ///         UnitId::from_task_counter(1 + (1 << 30)).unwrap(),
    ///     )
    /// };
    /// assert_eq!(a.get(), (1 << 62) | 1);
    /// assert_ne!(a, b);
    /// assert_ne!(a, far); // no wrap-around: one to one
    /// assert_ne!(a, UnitId::allocate()); // disjoint halves
    /// assert_eq!(unsafe { UnitId::from_task_counter(1 << 62) }, None);
    /// ```
    #[inline]
    pub const unsafe fn from_task_counter(raw: u64) -> Option<UnitId> {
        if raw > Self::ALLOCATED_MAX {
            return None;
        }
        match NonZeroU64::new(Self::TASK_BIT | raw) {
            Some(id) => Some(UnitId(id)),
            // TASK_BIT is set: never zero.
            None => None,
        }
    }

    /// The identity of the calling OS thread, allocated on first use.
    ///
    /// ```
    /// let id = polysync::lowlevel::UnitId::current_thread();
    /// assert_eq!(id, polysync::lowlevel::UnitId::current_thread());
    /// ```
    #[inline]
    pub fn current_thread() -> UnitId {
        THREAD_ID
            .try_with(|cell| match NonZeroU64::new(cell.get()) {
                Some(id) => UnitId(id),
                None => {
                    let id = UnitId::allocate();
                    cell.set(id.get());
                    id
                }
            })
            // Thread-locals are being torn down: a fresh identity is still
            // unique, it just will not be remembered.
            .unwrap_or_else(|_| UnitId::allocate())
    }

    /// The raw value, in `1..=UnitId::MAX`.
    ///
    /// ```
    /// let id = polysync::lowlevel::UnitId::allocate();
    /// assert!(id.get() >= 1 && id.get() <= polysync::lowlevel::UnitId::MAX);
    /// ```
    #[inline]
    pub const fn get(self) -> u64 {
        self.0.get()
    }

    /// Rebuilds an identity from [`UnitId::get`]; `None` for 0 or values
    /// above [`MAX`](UnitId::MAX).
    ///
    /// # Safety
    /// `raw` must be the [`get`](UnitId::get) value of an identity that was
    /// handed out by polysync (allocated, or made under the contract of
    /// [`from_task_counter`](UnitId::from_task_counter)), and the result must
    /// only stand for that same unit. A made-up number may be a live unit's
    /// identity: presenting it as another unit's (through a
    /// [`TaskIdentity`](crate::lowlevel::TaskIdentity) provider or
    /// [`Identified::with_unit`]) would let two units into a reentrant lock.
    ///
    /// ```
    /// use polysync::lowlevel::UnitId;
    /// let id = UnitId::allocate();
    /// let raw = id.get(); // stored somewhere as a number
    /// // SAFETY: `raw` comes from `id.get()` and stands for `id` again.
    /// assert_eq!(unsafe { UnitId::from_raw(raw) }, Some(id));
    /// assert_eq!(unsafe { UnitId::from_raw(0) }, None);
    /// ```
    #[inline]
    pub const unsafe fn from_raw(raw: u64) -> Option<UnitId> {
        Self::from_stored(raw)
    }

    /// [`from_raw`](UnitId::from_raw) for the crate's own use: only ever
    /// called on values the crate stored from [`UnitId::get`] (a lock's
    /// owner, a borrower), so the result is the identity that was stored.
    #[inline]
    pub(crate) const fn from_stored(raw: u64) -> Option<UnitId> {
        if raw > Self::MAX {
            return None;
        }
        match NonZeroU64::new(raw) {
            Some(id) => Some(UnitId(id)),
            None => None,
        }
    }
}

/// The node data of the locks ([`Lock`](crate::Lock), [`RLock`](crate::RLock),
/// and [`Condition`](crate::Condition) entries, which move into their lock's
/// queue): the execution unit a waiter acquires for, or
/// [`UNKNOWN`](Owner::UNKNOWN) for an async task without an identity
/// (a `Lock` then skips its re-entry check). Written by the waiter when it
/// starts; a release reads it at the front of the queue to name the next
/// owner, and hands the same value back with the lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Owner(u64);

impl Owner {
    /// No known unit (raw 0; identities are nonzero).
    pub(crate) const UNKNOWN: Owner = Owner(0);

    /// The unit `id`.
    #[inline]
    pub(crate) const fn of(id: UnitId) -> Owner {
        Owner(id.get())
    }

    /// The raw identity ([`UnitId::get`]), 0 if unknown: what the locks'
    /// `owner` words hold.
    #[inline]
    pub(crate) const fn get(self) -> u64 {
        self.0
    }
}

/// The word is the raw identity, 0 for [`Owner::UNKNOWN`]: it fits, since
/// `UnitId::MAX <= usize::MAX >> 1`.
impl NodeData for Owner {
    #[inline]
    fn into_raw(self) -> usize {
        self.0 as usize
    }

    #[inline]
    fn from_raw(raw: usize) -> Owner {
        Owner(raw as u64)
    }
}

// ---------------------------------------------------------------------------
// Async task identity
// ---------------------------------------------------------------------------

per_thread! {
    /// The identity of the [`Identified`] future being polled on this thread
    /// right now (0: none). Set and restored around every inner poll.
    static TASK_ID: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// The identity of the [`Identified`] future being polled on this thread, if any.
#[inline]
pub(crate) fn polled_task() -> Option<UnitId> {
    TASK_ID
        // Only `Identified::poll` stores here, from an identity.
        .try_with(|cell| UnitId::from_stored(cell.get()))
        .ok()
        .flatten()
}

/// Runs `switch`, during which the current green unit is switched out (its
/// stack suspended, the OS thread free to run other units), with this
/// thread's record of the [`Identified`] future being polled set aside, and
/// puts the record back when the unit resumes (on whichever thread it
/// resumes on).
///
/// Without it, a green unit that suspends in the middle of an
/// `Identified` future's poll (a blocking call, or a `block_on`, inside an
/// identified future) would leave that task's identity on the thread, and
/// the next unit to run there would pass for that task: two units with one
/// identity. It also records on the OS thread, as the unit resumes, that
/// the unit switched out: the fallback that keeps a wake for a blocking
/// driver whose waiter does not count its waits
/// ([`Waiter::waits`](crate::lowlevel::Waiter::waits) is `None`; a switch
/// may consume a wake meant for the future that driver polls, so a driver
/// whose poll switched polls again instead of waiting: see
/// [`block_on`](crate::lowlevel::block_on)). polysync's own waiters count,
/// and do not rely on it (the record stays on the OS thread, which a may
/// coroutine can leave).
/// polysync's own blocking driver wraps every
/// [`Waiter::wait`](crate::lowlevel::Waiter::wait) in it; a green backend
/// wraps every other switch of its own (a `yield_now`, a `sleep`, its
/// `block_on`).
///
/// ```
/// use polysync::lowlevel::{current_task, identified, switching_out};
/// futures_lite::future::block_on(identified(async {
///     assert!(current_task().is_some());
///     // As a scheduler sees the thread while this unit is switched out:
///     switching_out(|| assert_eq!(current_task(), None));
///     assert!(current_task().is_some()); // back when it resumes
/// }));
/// ```
pub fn switching_out<R>(switch: impl FnOnce() -> R) -> R {
    let mine = take_polled_task();
    struct Resume(u64);
    impl Drop for Resume {
        fn drop(&mut self) {
            put_polled_task(self.0);
            // The fallback for a driver whose waiter does not count its
            // waits: it must not trust its wake token after this switch
            // (see `waiter::Kept::Flag`).
            super::waiter::note_switched();
        }
    }
    let _resume = Resume(mine);
    switch()
}

/// Clears this thread's polled-task record and returns it. Never inlined:
/// it runs right before a switch (see [`switching_out`]).
#[inline(never)]
fn take_polled_task() -> u64 {
    TASK_ID.try_with(|cell| cell.replace(0)).unwrap_or(0)
}

/// Sets this thread's polled-task record. Never inlined: it runs right
/// after a switch, maybe on another thread than before it.
#[inline(never)]
fn put_polled_task(id: u64) {
    let _ = TASK_ID.try_with(|cell| cell.set(id));
}

per_thread! {
    /// The task (of a registered [`TaskIdentity`] provider) that was being
    /// polled on this thread when the innermost [`scheduling`] scope began,
    /// as a raw identity (0: none, or no scope). A task that a provider
    /// reports inside a green unit is *inner* to that unit only if it is not
    /// this one.
    ///
    /// [`TaskIdentity`]: crate::lowlevel::TaskIdentity
    static OUTER_TASK: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// The task that was outer to the green units the innermost [`scheduling`]
/// scope of this thread drives, if any (see `OUTER_TASK`).
#[inline]
pub(crate) fn outer_task() -> Option<UnitId> {
    OUTER_TASK
        // Only `scheduling` stores here, from an identity.
        .try_with(|cell| UnitId::from_stored(cell.get()))
        .ok()
        .flatten()
}

/// Runs `drive`, a green backend's scheduler loop that resumes its units on
/// this thread, so that **the innermost unit wins** for the code those units
/// run, whatever this thread was doing when the loop started.
///
/// A scheduler can be started from inside another execution context: a hub
/// run in a tokio `spawn_blocking` closure, in a tokio task, under
/// `Runtime::enter`, or inside the poll of an [`Identified`] future. That
/// outer context is the *carrier* of the green units, never one of them:
///
/// - the [`Identified`] future being polled (if any) is set aside while
///   `drive` runs, and put back after it (also on unwind), so no green unit
///   passes for it;
/// - the task that a registered [`TaskIdentity`] provider reports now (the
///   tokio task, or the blocking task of `spawn_blocking`) is recorded as
///   *outer*: inside a green unit, [`current_unit`] and [`current_task`]
///   ignore it, and blocking calls use the green unit's waiter. A task that
///   a provider reports inside a green unit and that is **not** that one was
///   polled on the green unit's stack (the green thread drives a runtime's
///   `block_on`): it is the innermost unit while it is polled (its identity,
///   and the waits of the thread-level policies, such as polysync-tokio's).
///
/// Scopes nest (each restores the previous record when it ends). A green
/// backend whose units can run on a thread that carries other context must
/// drive them inside this scope; polysync-corosensei's hub does. A backend
/// whose scheduler owns its threads (may's workers) need not: with no scope,
/// no task is outer, so any task a provider reports inside one of its units
/// runs on that unit's stack.
///
/// ```
/// use polysync::lowlevel::{current_task, identified, scheduling};
/// futures_lite::future::block_on(identified(async {
///     assert!(current_task().is_some());
///     // A scheduler started here: its units are not this future.
///     scheduling(|| assert_eq!(current_task(), None));
///     assert!(current_task().is_some()); // back after it
/// }));
/// ```
///
/// [`TaskIdentity`]: crate::lowlevel::TaskIdentity
/// [`current_unit`]: crate::lowlevel::current_unit
/// [`current_task`]: crate::lowlevel::current_task
pub fn scheduling<R>(drive: impl FnOnce() -> R) -> R {
    let outer = super::backend::provider_task().map_or(0, UnitId::get);
    let polled = take_polled_task();
    let previous = OUTER_TASK.try_with(|cell| cell.replace(outer)).unwrap_or(0);
    /// Puts both records back when the scheduler returns (or unwinds).
    struct Carrier {
        polled: u64,
        previous: u64,
    }
    impl Drop for Carrier {
        fn drop(&mut self) {
            let _ = OUTER_TASK.try_with(|cell| cell.set(self.previous));
            put_polled_task(self.polled);
        }
    }
    let _carrier = Carrier { polled, previous };
    drive()
}

/// Wraps a future so that it is an execution unit of its own, on any executor.
///
/// An async task has no identity that works on every executor, and the
/// thread that polls it says nothing (a task can migrate between worker
/// threads, and one thread polls many tasks). `Identified` gives the wrapped
/// future one [`UnitId`], allocated once when it is created, and makes
/// [`current_unit`](crate::lowlevel::current_unit) and
/// [`current_task`](crate::lowlevel::current_task) return it **during each of
/// its polls**: a thread-local is set before the inner poll and restored
/// after it (also on panic), so it is read afresh after every suspension
/// and never leaks into other tasks polled by the same thread. Nested
/// wrappers: the innermost one wins while it is polled.
///
/// It is the innermost unit during its polls: a green thread's or a tokio
/// task's identity gives way to it while it is polled in them, and a green
/// scheduler started inside its poll sets it aside for its green threads
/// ([`scheduling`]). One nesting is not told apart: an executor driven
/// *inside* its poll (a tokio `block_on` called from the wrapped future)
/// polls its tasks under this identity, so do not drive an executor from
/// inside an identified future.
///
/// Reentrant primitives ([`RLock`](crate::RLock),
/// [`CapacityLimiter`](crate::CapacityLimiter), ...) use it to recognise their
/// owner. Wrap the whole task once, at spawn time:
///
/// ```
/// use polysync::lowlevel::{current_task, identified};
///
/// # futures_lite::future::block_on(async {
/// let task = identified(async {
///     let me = current_task().unwrap();
///     futures_lite::future::yield_now().await;
///     assert_eq!(current_task(), Some(me)); // same identity after a suspension
///     me
/// });
/// let id = task.unit();
/// assert_eq!(task.await, id);
/// assert_eq!(current_task(), None); // outside the wrapper: no task identity
/// # });
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Identified<F> {
    inner: F,
    id: UnitId,
}

/// Wraps `fut` in an [`Identified`] with a freshly allocated identity.
///
/// ```
/// let a = polysync::lowlevel::identified(async {});
/// let b = polysync::lowlevel::identified(async {});
/// assert_ne!(a.unit(), b.unit());
/// ```
///
/// # Cancel safety
/// Dropping an [`Identified`] drops the inner future, exactly as dropping
/// that future directly would: each wait inside it follows its own cancel
/// safety, and each guard inside it releases what it holds. The identity is
/// never given to another unit, so nothing can act as the dropped task
/// afterwards: a level kept without a guard
/// ([`RLockGuard::forget`](crate::RLockGuard::forget),
/// [`LimiterToken::forget`](crate::LimiterToken::forget)) stays held for
/// good. Release those before the task can be dropped.
pub fn identified<F: Future>(fut: F) -> Identified<F> {
    // SAFETY: a freshly allocated identity belongs to no other unit.
    unsafe { Identified::with_unit(fut, UnitId::allocate()) }
}

impl<F> Identified<F> {
    /// Wraps `fut` with a given identity, for instance to let several
    /// futures act as one unit.
    ///
    /// # Safety
    /// `id` must not be, at any time while this future or anything acquired
    /// under `id` is alive, the identity of another execution unit: the
    /// futures (and any other unit) that share `id` must together behave as
    /// **one sequential unit**: never polled at the same time, each poll
    /// ordered after the previous one (as an executor orders the polls of
    /// one task), and nothing acquired under `id` held by one of them while
    /// another runs on a different thread. Otherwise two units would both be
    /// the owner of an [`RLock`](crate::RLock) or an
    /// [`RMutex`](crate::RMutex), and an `RMutex<Cell<_>>` would be a data
    /// race. A fresh [`UnitId::allocate`] used for nothing else is always
    /// fine.
    ///
    /// ```
    /// use polysync::lowlevel::{Identified, UnitId};
    /// let id = UnitId::allocate();
    /// // SAFETY: `id` is fresh and given to this future only.
    /// let fut = unsafe { Identified::with_unit(async {}, id) };
    /// assert_eq!(fut.unit(), id);
    /// ```
    pub const unsafe fn with_unit(fut: F, id: UnitId) -> Identified<F> {
        Identified { inner: fut, id }
    }

    /// The identity the wrapped future has during its polls.
    ///
    /// ```
    /// let fut = polysync::lowlevel::identified(async {});
    /// let _ = fut.unit();
    /// ```
    pub const fn unit(&self) -> UnitId {
        self.id
    }

    /// Unwraps the future.
    ///
    /// ```
    /// let fut = polysync::lowlevel::identified(async { 5 });
    /// assert_eq!(futures_lite::future::block_on(fut.into_inner()), 5);
    /// ```
    pub fn into_inner(self) -> F {
        self.inner
    }
}

/// Restores the previous task identity when dropped (also during unwinding).
struct Restore(u64);

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = TASK_ID.try_with(|cell| cell.set(self.0));
    }
}

impl<F: Future> Future for Identified<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is structurally pinned: never moved out of `self`.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        let id = this.id.get();
        let _restore = TASK_ID.try_with(|cell| Restore(cell.replace(id))).ok();
        inner.poll(cx)
    }
}

#[cfg(all(test, not(polysync_loom)))]
mod tests {
    use super::UnitId;
    use std::sync::atomic::{AtomicU64, Ordering};

    const TASK_BIT: u64 = UnitId::TASK_BIT;

    /// Wraps a made-up counter; the tests only compare the results.
    fn task(raw: u64) -> Option<UnitId> {
        // SAFETY: compared only, never presented as a unit's identity.
        unsafe { UnitId::from_task_counter(raw) }
    }

    /// The regression test for identities that wrapped around after 2^30
    /// allocations: drive a private allocator to the end of its range while
    /// an early identity is still live. No identity comes out twice; past
    /// the end the allocator refuses (panics) instead of starting over.
    #[test]
    fn a_live_identity_is_never_allocated_again() {
        let counter = AtomicU64::new(1);
        let live = UnitId::allocate_from(&counter);
        assert_eq!(live.get(), 1);
        // Jump to just before the end of the allocator's range.
        counter.store(UnitId::ALLOCATED_MAX - 2, Ordering::Relaxed);
        let mut seen = vec![live];
        for _ in 0..8 {
            match std::panic::catch_unwind(|| UnitId::allocate_from(&counter)) {
                Ok(id) => {
                    assert!(
                        !seen.contains(&id),
                        "{id:?} handed out twice (live: {seen:?})"
                    );
                    assert!(id.get() <= UnitId::ALLOCATED_MAX, "{id:?} left the range");
                    seen.push(id);
                }
                Err(_) => {
                    // Exhausted: the last three identities came out, then a refusal,
                    // and the counter stays at the end (no wrap on retries).
                    assert_eq!(seen.len(), 4, "{seen:?}");
                    assert_eq!(seen[3].get(), UnitId::ALLOCATED_MAX);
                    assert!(std::panic::catch_unwind(|| UnitId::allocate_from(&counter)).is_err());
                    assert_eq!(counter.load(Ordering::Relaxed), UnitId::ALLOCATED_MAX + 1);
                    return;
                }
            }
        }
        panic!("8 allocations past the end neither repeated nor refused: {seen:?}");
    }

    #[test]
    fn allocated_ids_never_have_the_task_bit() {
        for _ in 0..10_000 {
            let id = UnitId::allocate();
            assert_eq!(id.get() & TASK_BIT, 0, "{id:?}");
            assert!(id.get() <= UnitId::MAX);
            assert_eq!(UnitId::from_stored(id.get()), Some(id));
        }
        assert_eq!(UnitId::MAX, (usize::MAX >> 1) as u64);
        assert_eq!(
            UnitId::MAX as usize & !(usize::MAX >> 1),
            0,
            "a usize flag bit stays free"
        );
    }

    #[test]
    fn task_counter_ids_are_one_to_one_and_in_their_half() {
        let raws = [
            0,
            1,
            2,
            (1 << 30) - 1,
            1 << 30,
            (1 << 30) + 1,
            1 << 31,
            u64::from(u32::MAX),
            TASK_BIT - 1,
        ];
        for raw in raws.into_iter().filter(|&raw| raw < TASK_BIT) {
            let id = task(raw).unwrap();
            assert_ne!(id.get() & TASK_BIT, 0, "raw {raw}");
            assert!(id.get() <= UnitId::MAX, "raw {raw}");
            assert_eq!(id.get() & !TASK_BIT, raw);
            assert_eq!(UnitId::from_stored(id.get()), Some(id), "raw {raw}");
        }
        // What used to collide (counters 2^30 apart) no longer does.
        assert_ne!(task(5), task(5 + (1 << 30)));
        assert_ne!(task(5), task(5 + 3 * (1 << 30)));
        assert_ne!(task(5), task(6));
        // Out of range: refused, never folded back.
        assert_eq!(task(TASK_BIT), None);
        assert_eq!(task(u64::MAX), None);
    }

    #[test]
    fn raw_values_outside_the_range_are_refused() {
        assert_eq!(UnitId::from_stored(0), None);
        assert_eq!(UnitId::from_stored(UnitId::MAX + 1), None);
        assert_eq!(UnitId::from_stored(u64::MAX), None);
        assert!(UnitId::from_stored(UnitId::MAX).is_some());
    }

    #[test]
    fn threads_have_distinct_allocated_ids() {
        let here = UnitId::current_thread();
        assert_eq!(here, UnitId::current_thread(), "stable within a thread");
        let others: Vec<UnitId> = (0..4)
            .map(|_| std::thread::spawn(UnitId::current_thread))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        let mut all = others.clone();
        all.push(here);
        for (i, a) in all.iter().enumerate() {
            assert_eq!(a.get() & TASK_BIT, 0, "{a:?} is allocated");
            for b in &all[i + 1..] {
                assert_ne!(a, b, "two threads share an identity");
            }
        }
    }
}
