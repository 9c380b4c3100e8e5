//! The wait queue: one atomic word plus an intrusive, circular, doubly-linked
//! FIFO list of [`Node`]s that live in the waiters' own memory (a stack frame
//! or a pinned future), so waiting never allocates.
//!
//! # The word
//!
//! ```text
//!  63                              32 31                      1   0
//! +----------------------------------+--------------------------+---+
//! |   user bits (the primitive's)    |   number of queued nodes | L |
//! +----------------------------------+--------------------------+---+
//! ```
//!
//! `L` is a tiny lock that guards the list. The rule that keeps the protocol
//! simple: **while `L` is set, only its holder writes the word.** Everybody
//! else changes the word with a compare-exchange whose expected value has `L`
//! clear, so it fails and takes the slow path. The holder therefore owns the
//! whole word, edits a private copy through [`QueueGuard`], and publishes it
//! with one store when it unlocks.
//!
//! # Nodes
//!
//! A node is `IDLE` (not queued, owned by its waiter), `WAITING` (linked;
//! changed only under `L`), `NOTIFIED` (unlinked by a notifier, who stored
//! `NOTIFIED` with `Release` as its very last access to the node) or `DONE`.
//! A waiter that sees `NOTIFIED` with `Acquire` owns the node again together
//! with whatever was handed to it.

use super::sync::{
    AtomicU8, AtomicU64, Ordering, Serial, SerialGuard, UnsafeCell, backoff, const_fn,
};
use std::cell::Cell;
use std::marker::PhantomPinned;
use std::ptr;
use std::task::Waker;

const LOCKED: u64 = 1;
const COUNT_UNIT: u64 = 1 << 1;
const COUNT_MASK: u64 = 0xFFFF_FFFE;
const USER_SHIFT: u32 = 32;

/// The largest value the user bits of a queue word can hold.
pub(crate) const USER_MAX: u64 = u32::MAX as u64;

/// Where a [`Node`] stands. The state word of a node holds one of these.
///
/// | state | linked? | who owns the node's cells | how it is left |
/// |---|---|---|---|
/// | `Idle` | no | its waiter | `push_back` (under the lock) makes it `Waiting` |
/// | `Waiting` | yes | the lock of the queue it is linked in | a notifier makes it `Notified`; its waiter, under the lock, removes it (back to `Idle`) |
/// | `Notified` | no | its waiter, once it reads this state with `Acquire` | the waiter consumes what was handed over (`Done`) or passes it on |
/// | `Done` | no | its waiter | final; a future polled again panics |
///
/// A notifier's `Release` store of `Notified` is its last access to the
/// node: from then on the waiter may free it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum NodeState {
    /// Not queued; owned by its waiter (a future before its first poll, a
    /// withdrawn wait).
    Idle = 0,
    /// Linked in a queue; every cell belongs to that queue's lock.
    Waiting = 1,
    /// Unlinked by a notifier, with what it was handed in its data.
    Notified = 2,
    /// Finished: the outcome was consumed.
    Done = 3,
}

impl NodeState {
    #[inline]
    fn from_u8(raw: u8) -> NodeState {
        match raw {
            0 => NodeState::Idle,
            1 => NodeState::Waiting,
            2 => NodeState::Notified,
            _ => NodeState::Done,
        }
    }
}

/// Short names for the states, used in `match` arms across the crate.
pub(crate) const IDLE: NodeState = NodeState::Idle;
pub(crate) const WAITING: NodeState = NodeState::Waiting;
pub(crate) const NOTIFIED: NodeState = NodeState::Notified;
pub(crate) const DONE: NodeState = NodeState::Done;

/// What a primitive keeps in its nodes' data word, with one typed meaning
/// per primitive (an owner, a maximum, a ticket, a role, ...). The word
/// itself is a `usize` in [`Node`], so that one node can move between two
/// queues of the same meaning (a condition entry joining its lock's queue)
/// and one list holds every kind of waiter; each type converts to and from
/// that word in its one `impl NodeData`, next to the type, whose docs say
/// what each value means and who writes it.
///
/// The conversions are plain bit moves, `#[inline]`, so they compile to
/// nothing: `from_raw(into_raw(x)) == x` for every `x`, and `from_raw` is
/// only ever given what `into_raw` of the same type produced (or a `Tag`
/// left in place for an `Outcome` of the same type, see
/// [`Protocol`](super::wait::Protocol)).
pub(crate) trait NodeData: Copy {
    /// The node's word for `self`.
    fn into_raw(self) -> usize;
    /// The value whose word is `raw`.
    fn from_raw(raw: usize) -> Self;
}

/// No data: the waiter tells the notifier nothing and is handed nothing
/// (an event, a signal). Stored as 0.
impl NodeData for () {
    #[inline]
    fn into_raw(self) -> usize {
        0
    }

    #[inline]
    fn from_raw(_: usize) {}
}

/// A queue entry. It lives inside the waiter's future or stack frame and must
/// not move while it is `WAITING` (the futures that hold one are `!Unpin`).
pub(crate) struct Node {
    state: AtomicU8,
    /// What the waiter tells the notifier (an owner id, a kind) or what the
    /// notifier hands back: the word of a [`NodeData`] type, one per
    /// primitive (read and written only through it). One owner at a time:
    /// - `IDLE`, `NOTIFIED` (seen with `Acquire`), `DONE`: the waiter.
    /// - `WAITING`: whoever holds the lock of the queue the node is linked
    ///   in. A node in transit between two queues (a condition waiter being
    ///   moved to its lock's queue) is written only while both locks are
    ///   held. The waiter never reads it while `WAITING`: it learns where it
    ///   stands from `state` (and a condition entry from its own flag).
    data: UnsafeCell<usize>,
    /// List links: owned by the lock of the queue the node is linked in.
    next: UnsafeCell<*const Node>,
    prev: UnsafeCell<*const Node>,
    /// The waker a notifier takes: same owner as `data`. Only compared
    /// (`will_wake`) and moved under a lock; cloned and dropped outside it.
    waker: UnsafeCell<Option<Waker>>,
    /// Whether the waiter already took its async checkpoint (see
    /// [`checkpoint`](super::checkpoint)): owner-only, read and written
    /// while the node is `IDLE` (before it was ever queued).
    checkpointed: Cell<bool>,
    _pinned: PhantomPinned,
}

// SAFETY: a node's link and waker cells are touched only under its queue's
// lock while it is WAITING, and by its owner otherwise (the state handoff
// uses Release/Acquire). The `checkpointed` cell is touched only by the
// owner, and only while the node is IDLE (never queued, so no other thread
// can reach the node). The raw pointers are never followed without that
// lock. Wakers are Send + Sync. So a node (and a future holding one) may move
// between threads while idle and be shared while queued.
unsafe impl Send for Node {}
// SAFETY: as above.
unsafe impl Sync for Node {}

impl Node {
    /// An `IDLE` node whose data is `data`.
    #[inline]
    pub(crate) fn new<D: NodeData>(data: D) -> Node {
        Node {
            state: AtomicU8::new(NodeState::Idle as u8),
            data: UnsafeCell::new(data.into_raw()),
            next: UnsafeCell::new(ptr::null()),
            prev: UnsafeCell::new(ptr::null()),
            waker: UnsafeCell::new(None),
            checkpointed: Cell::new(false),
            _pinned: PhantomPinned,
        }
    }

    /// The node's state as its owner sees it. `Acquire`, so that after
    /// `NOTIFIED` the owner also sees what the notifier handed over.
    #[inline]
    pub(crate) fn state(&self) -> NodeState {
        NodeState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Marks a node its owner has finished with (`IDLE`/`NOTIFIED` -> `DONE`).
    /// Owner-only, like [`Node::data`] (checked in debug builds).
    #[inline]
    pub(crate) fn set_done(&self) {
        self.debug_assert_owned();
        self.state.store(DONE as u8, Ordering::Relaxed);
    }

    /// Whether the owner of this `IDLE` node has taken its async checkpoint
    /// already (it yielded there, or was let through). Owner-only.
    #[inline]
    pub(crate) fn checkpointed(&self) -> bool {
        self.checkpointed.get()
    }

    /// Records that the owner of this `IDLE` node took its checkpoint, so
    /// that the next poll attempts at once. Owner-only.
    #[inline]
    pub(crate) fn set_checkpointed(&self) {
        debug_assert_eq!(self.state(), IDLE);
        self.checkpointed.set(true);
    }

    /// Sets the node's data. Owner-only, like [`Node::data`] (checked in
    /// debug builds).
    #[inline]
    pub(crate) fn set_data<D: NodeData>(&self, data: D) {
        self.debug_assert_owned();
        let raw = data.into_raw();
        // SAFETY: the node is not WAITING, and the caller is its owner (see
        // `data`), so no other thread accesses `data`.
        self.data.with_mut(|p| unsafe { *p = raw })
    }

    /// Reads the node's data.
    ///
    /// **Owner-only:** the caller is the node's waiter, and the node is not
    /// `WAITING`: `IDLE`, `NOTIFIED` (seen with `Acquire`, so what the
    /// notifier wrote is visible) or `DONE`. Nobody else touches the data
    /// then. A safe method with a state check rather than an `unsafe fn`
    /// (why): the duty is a fact the node records itself, so debug builds
    /// check it here, at every call, instead of trusting a `SAFETY:` line at
    /// each of them; and the other half, "the caller is the owner", holds
    /// by construction: only the waiter reaches its node outside the queue
    /// lock (a notifier reaches a queued node's data through its
    /// [`QueueGuard`]: [`Waiting::data`], [`Detached::data`]).
    #[inline]
    pub(crate) fn data<D: NodeData>(&self) -> D {
        self.debug_assert_owned();
        // SAFETY: as in `set_data`.
        D::from_raw(self.data.with(|p| unsafe { *p }))
    }

    /// Debug builds: panics if the node is `WAITING`, i.e. if its owner
    /// touches a cell that the queue lock owns now (see [`Node::data`]).
    #[inline]
    fn debug_assert_owned(&self) {
        debug_assert_ne!(
            self.state.load(Ordering::Relaxed),
            WAITING as u8,
            "polysync: a queued node was accessed as if its waiter owned it"
        );
    }

    /// Whether the stored waker already wakes the task `waker` wakes.
    /// `will_wake` compares pointers only, so no user code runs under the lock.
    ///
    /// # Safety
    /// The node is `WAITING` and `_guard` locks the queue it is linked in.
    unsafe fn will_wake(&self, _guard: &QueueGuard<'_>, waker: &Waker) -> bool {
        // SAFETY: the caller holds the lock that owns a WAITING node's waker.
        self.waker
            .with(|slot| unsafe { (*slot).as_ref().is_some_and(|w| w.will_wake(waker)) })
    }

    /// Swaps in a waker cloned outside the lock; returns the old one, to be
    /// dropped after unlocking.
    ///
    /// # Safety
    /// As for [`Node::will_wake`].
    unsafe fn swap_waker(&self, _guard: &QueueGuard<'_>, waker: Waker) -> Option<Waker> {
        // SAFETY: as in `will_wake`.
        self.waker
            .with_mut(|slot| unsafe { (*slot).replace(waker) })
    }
}

/// Makes a queued node wake the task behind `waker` from now on, without
/// running user code under a queue lock: the stored waker is compared under
/// the lock (`will_wake`), a fresh one is cloned outside it, and stored under
/// the lock again if the node is still queued; the replaced one is dropped
/// after unlocking.
///
/// `lock` takes the lock of the queue the node is `WAITING` in and returns
/// it, or `None` once the node is no longer waiting (it was notified).
/// Returns `true` if the node is still queued with a suitable waker, `false`
/// if it was notified (the caller completes).
pub(crate) fn refresh_waker<'q>(
    node: &Node,
    waker: &Waker,
    lock: impl FnMut() -> Option<QueueGuard<'q>>,
) -> bool {
    refresh_waker_then(node, waker, lock, |_| ()).is_some()
}

/// [`refresh_waker`], then `then` under the same lock hold, with the
/// node still `WAITING` and its waker in place: `Some(then's result)`, or
/// `None` if the node was notified first (`then` did not run). The
/// replaced waker is dropped after unlocking.
pub(crate) fn refresh_waker_then<'q, R>(
    node: &Node,
    waker: &Waker,
    mut lock: impl FnMut() -> Option<QueueGuard<'q>>,
    then: impl FnOnce(&mut QueueGuard<'q>) -> R,
) -> Option<R> {
    let mut guard = lock()?;
    // SAFETY: `lock` returns the guard of the queue the node waits in.
    if unsafe { node.will_wake(&guard, waker) } {
        return Some(then(&mut guard));
    }
    drop(guard);
    // A waker's `clone` is user code: never under a queue lock.
    let fresh = waker.clone();
    let mut guard = lock()?;
    // SAFETY: as above.
    let old = unsafe { node.swap_waker(&guard, fresh) };
    let out = then(&mut guard);
    drop(guard);
    drop(old);
    Some(out)
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match NodeState::from_u8(self.state.load(Ordering::Relaxed)) {
            IDLE => "idle",
            WAITING => "waiting",
            NOTIFIED => "notified",
            DONE => "done",
        };
        f.debug_struct("Node")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

/// The node of an entry that embeds one as its first field (`repr(C)`), as a
/// pointer whose provenance covers the whole entry, for
/// [`QueueGuard::push_back`]: a notifier may cast it back to `*const E` and
/// read the rest. A reference to the node alone would only cover the node
/// (Stacked/Tree Borrows).
///
/// Meaningful only when `E` is `repr(C)` with a [`Node`] as its first field.
pub(crate) fn node_of<E>(entry: &E) -> *const Node {
    std::ptr::from_ref(entry).cast::<Node>()
}

/// One atomic word (lock bit, waiter count, the primitive's user bits) and the
/// head of the node list. 16 bytes.
pub(crate) struct WaitQueue {
    word: AtomicU64,
    /// Oldest node; `head.prev` is the newest. Null when empty.
    head: UnsafeCell<*const Node>,
    /// Zero-sized in real builds; under loom, what contended `lock()` calls
    /// block on instead of spinning (see [`Serial`]).
    serial: Serial,
}

// SAFETY: the raw pointers are only followed under the queue lock, and the
// nodes they point to are kept alive by their waiters until unlinked (see the
// node protocol above). Wakers are `Send + Sync`.
unsafe impl Send for WaitQueue {}
// SAFETY: as above; all shared access goes through the atomic word and the lock.
unsafe impl Sync for WaitQueue {}

// A panic never leaves a queue half-changed where another thread could see
// it: the list is only touched under the queue lock by code that runs no
// user code (wakers are woken after unlocking), and a guard dropped while
// unwinding publishes the word it holds. So a primitive made of a queue and
// atomics stays usable after a panic anywhere else, with no poisoning, as
// tokio's `Notify` and channels declare too. (Primitives that hold user data
// in a cell, `Mutex<T>` or the queues' items, do not inherit this.)
impl std::panic::UnwindSafe for WaitQueue {}
impl std::panic::RefUnwindSafe for WaitQueue {}

impl WaitQueue {
    const_fn! {
        pub(crate) fn new(user: u64) -> WaitQueue {
            WaitQueue {
                word: AtomicU64::new(user << USER_SHIFT),
                head: UnsafeCell::new(ptr::null()),
                serial: Serial::new(),
            }
        }
    }

    /// The user bits, as last published.
    #[inline]
    pub(crate) fn user(&self, order: Ordering) -> u64 {
        self.word.load(order) >> USER_SHIFT
    }

    /// The number of queued nodes, as last published.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        ((self.word.load(Ordering::Relaxed) & COUNT_MASK) / COUNT_UNIT) as usize
    }

    /// Lock-free update of the user bits, allowed only while the queue is
    /// unlocked and empty. `f` returns the new user bits, or `None` to give up.
    /// Returns the user bits that `f` accepted, or `Err` with what was seen
    /// when `f` gave up or the queue was locked or non-empty (take the slow path).
    #[inline]
    pub(crate) fn update_if_idle(
        &self,
        success: Ordering,
        mut f: impl FnMut(u64) -> Option<u64>,
    ) -> Result<u64, u64> {
        let mut word = self.word.load(Ordering::Relaxed);
        loop {
            if word & (LOCKED | COUNT_MASK) != 0 {
                return Err(word >> USER_SHIFT);
            }
            let user = word >> USER_SHIFT;
            let Some(new) = f(user) else {
                return Err(user);
            };
            debug_assert!(new <= USER_MAX);
            match self.word.compare_exchange_weak(
                word,
                new << USER_SHIFT,
                success,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(user),
                Err(seen) => word = seen,
            }
        }
    }

    /// Lock-free update of the user bits while the queue lock is free,
    /// whatever the number of queued nodes (which stays as it is): for a
    /// primitive whose user bits alone decide an operation even with
    /// waiters queued (a bounded-fairness lock's barge, or its release
    /// while the front is already awake). `f` gets the user bits and the
    /// number of queued nodes and returns the new user bits, or `None` to
    /// give up. Returns the user bits that `f` accepted, or `Err` with what
    /// was seen when `f` gave up or the queue was locked (take the slow path:
    /// the lock holder owns the word, see the module docs).
    #[inline]
    pub(crate) fn update_unlocked(
        &self,
        success: Ordering,
        f: impl FnMut(u64, usize) -> Option<u64>,
    ) -> Result<u64, u64> {
        self.update_unlocked_from(self.word.load(Ordering::Relaxed), success, f)
    }

    /// [`update_unlocked`](WaitQueue::update_unlocked) that does not load
    /// the word first: it starts from the guess that the queue is unlocked
    /// and empty with user bits `user`, so when the guess is right the
    /// update is one compare-exchange and nothing else (the load before it
    /// would make the compare-exchange wait for it). A wrong guess costs
    /// no more than the load it replaces: the failed compare-exchange
    /// returns the word, and the update goes on from there.
    #[inline]
    pub(crate) fn update_unlocked_guess(
        &self,
        user: u64,
        success: Ordering,
        mut f: impl FnMut(u64, usize) -> Option<u64>,
    ) -> Result<u64, u64> {
        debug_assert!(user <= USER_MAX);
        let Some(new) = f(user, 0) else {
            // Nothing to try from the guess: look at the word.
            return self.update_unlocked(success, f);
        };
        debug_assert!(new <= USER_MAX);
        match self.word.compare_exchange_weak(
            user << USER_SHIFT,
            new << USER_SHIFT,
            success,
            Ordering::Relaxed,
        ) {
            Ok(_) => Ok(user),
            Err(seen) => self.update_unlocked_from(seen, success, f),
        }
    }

    #[inline]
    fn update_unlocked_from(
        &self,
        mut word: u64,
        success: Ordering,
        mut f: impl FnMut(u64, usize) -> Option<u64>,
    ) -> Result<u64, u64> {
        loop {
            if word & LOCKED != 0 {
                return Err(word >> USER_SHIFT);
            }
            let user = word >> USER_SHIFT;
            let queued = ((word & COUNT_MASK) / COUNT_UNIT) as usize;
            let Some(new) = f(user, queued) else {
                return Err(user);
            };
            debug_assert!(new <= USER_MAX);
            match self.word.compare_exchange_weak(
                word,
                (word & COUNT_MASK) | (new << USER_SHIFT),
                success,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(user),
                Err(seen) => word = seen,
            }
        }
    }

    /// One compare-exchange of an idle queue's user bits from `current` to
    /// `new`: the cheapest fast path (one atomic instruction).
    #[inline]
    pub(crate) fn cas_idle(&self, current: u64, new: u64, success: Ordering) -> bool {
        self.word
            .compare_exchange(
                current << USER_SHIFT,
                new << USER_SHIFT,
                success,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// Takes the queue lock. Critical sections are a few pointer writes, so a
    /// short back-off (then yielding the core) is the right wait here.
    #[inline]
    pub(crate) fn lock(&self) -> QueueGuard<'_> {
        let serial = self.serial.enter();
        let mut word = self.word.load(Ordering::Relaxed);
        let mut step = 0;
        loop {
            if word & LOCKED == 0 {
                match self.word.compare_exchange_weak(
                    word,
                    word | LOCKED,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        return QueueGuard {
                            queue: self,
                            word,
                            deferred: None,
                            _serial: serial,
                        };
                    }
                    Err(seen) => {
                        word = seen;
                        continue;
                    }
                }
            }
            backoff(&mut step);
            word = self.word.load(Ordering::Relaxed);
        }
    }
}

impl std::fmt::Debug for WaitQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitQueue")
            .field("waiting", &self.len())
            .finish_non_exhaustive()
    }
}

/// Exclusive access to a [`WaitQueue`]'s list and word; publishes the word
/// and unlocks on drop. Never wake a waker while holding one: collect the
/// wakers (see [`WakeList`]) and wake them after the guard is gone.
pub(crate) struct QueueGuard<'a> {
    queue: &'a WaitQueue,
    /// Private copy of the word without the lock bit.
    word: u64,
    /// A waker to wake once the word is published (see
    /// [`wake_after_unlock`](QueueGuard::wake_after_unlock)).
    deferred: Option<Waker>,
    /// Released after `drop` has published the word (fields drop last).
    _serial: SerialGuard<'a>,
}

impl QueueGuard<'_> {
    /// Whether this guard locks `queue`: what a function that takes a guard
    /// as proof of a lock checks in debug builds (a guard of another queue
    /// would prove nothing).
    #[inline]
    pub(crate) fn locks(&self, queue: &WaitQueue) -> bool {
        ptr::eq(self.queue, queue)
    }

    /// Wakes `waker` when this guard unlocks, right after the word is
    /// published: for a caller that settles a waiter under the lock but
    /// cannot wake it itself after unlocking (the lock is its caller's, as
    /// in [`Protocol::arrive_locked`](super::wait::Protocol::arrive_locked)).
    /// Holds one waker; a second one would be a bug (debug-checked).
    #[inline]
    pub(crate) fn wake_after_unlock(&mut self, waker: Option<Waker>) {
        debug_assert!(self.deferred.is_none() || waker.is_none());
        if waker.is_some() {
            self.deferred = waker;
        }
    }

    /// The user bits.
    #[inline]
    pub(crate) fn user(&self) -> u64 {
        self.word >> USER_SHIFT
    }

    /// Replaces the user bits; published when the guard drops.
    #[inline]
    pub(crate) fn set_user(&mut self, user: u64) {
        debug_assert!(user <= USER_MAX);
        self.word = (self.word & COUNT_MASK) | (user << USER_SHIFT);
    }

    /// The number of queued nodes.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        ((self.word & COUNT_MASK) / COUNT_UNIT) as usize
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.word & COUNT_MASK == 0
    }

    fn head(&self) -> *const Node {
        // SAFETY: we hold the queue lock, which guards `head`.
        self.queue.head.with(|p| unsafe { *p })
    }

    fn set_head(&mut self, node: *const Node) {
        // SAFETY: we hold the queue lock, which guards `head`.
        self.queue.head.with_mut(|p| unsafe { *p = node })
    }

    /// Appends an `IDLE` node with the waker to wake it by; it becomes `WAITING`.
    ///
    /// # Safety
    /// - `node` points to an `IDLE` node that stays at this address and alive
    ///   until it has been removed with [`QueueGuard::remove`] or observed
    ///   `NOTIFIED` by its owner.
    /// - The pointer's provenance covers everything a notifier reads through
    ///   it. A primitive whose notifiers reach past the node into the entry
    ///   that embeds it (a condition's lock and round, a queue getter's item
    ///   slot) derives it from a pointer to that whole entry (see
    ///   [`node_of`]), never from a reference to the node alone.
    pub(crate) unsafe fn push_back(&mut self, node: *const Node, waker: Waker) {
        // SAFETY: the caller guarantees `node` is alive.
        let node_ref = unsafe { &*node };
        debug_assert_eq!(node_ref.state.load(Ordering::Relaxed), IDLE as u8);
        assert!(
            self.word & COUNT_MASK != COUNT_MASK,
            "polysync: more than 2^31 - 1 waiters on one primitive"
        );
        let new = node;
        // SAFETY: we hold the lock; `node` is not linked anywhere, so only we
        // touch its cells; linked nodes are alive by the push contract.
        unsafe {
            node_ref.waker.with_mut(|w| *w = Some(waker));
            let head = self.head();
            if head.is_null() {
                node_ref.next.with_mut(|p| *p = new);
                node_ref.prev.with_mut(|p| *p = new);
                self.set_head(new);
            } else {
                let tail = (*head).prev.with(|p| *p);
                node_ref.next.with_mut(|p| *p = head);
                node_ref.prev.with_mut(|p| *p = tail);
                (*tail).next.with_mut(|p| *p = new);
                (*head).prev.with_mut(|p| *p = new);
            }
        }
        node_ref.state.store(WAITING as u8, Ordering::Relaxed);
        self.word += COUNT_UNIT;
    }

    /// Unlinks a node (which must be linked in this queue).
    ///
    /// # Safety
    /// `node` must be `WAITING` in this queue.
    unsafe fn unlink(&mut self, node: *const Node) {
        // SAFETY: the caller guarantees the node is linked here, and we hold
        // the lock, so its neighbours are alive and only we touch the links.
        unsafe {
            let next = (*node).next.with(|p| *p);
            if next == node {
                self.set_head(ptr::null());
            } else {
                let prev = (*node).prev.with(|p| *p);
                (*prev).next.with_mut(|p| *p = next);
                (*next).prev.with_mut(|p| *p = prev);
                if self.head() == node {
                    self.set_head(next);
                }
            }
        }
        self.word -= COUNT_UNIT;
    }

    /// Removes a `WAITING` node whose waiter gave up; returns its waker so the
    /// caller can drop it after unlocking.
    ///
    /// # Safety
    /// The node must be `WAITING` in this queue.
    pub(crate) unsafe fn remove(&mut self, node: &Node) -> Option<Waker> {
        // SAFETY: forwarded contract.
        unsafe { self.unlink(node) };
        node.state.store(IDLE as u8, Ordering::Relaxed);
        // SAFETY: we hold the lock and the node is no longer linked.
        node.waker.with_mut(|w| unsafe { (*w).take() })
    }

    /// The oldest node (null when empty), to reach the structure it is
    /// embedded in; valid while this guard is held.
    pub(crate) fn front_node(&self) -> *const Node {
        self.head()
    }

    /// The waiting nodes, oldest first, without removing any: a look-ahead
    /// under the lock for a primitive that must know what its queued
    /// waiters would take before it commits to a change (a bounded
    /// semaphore checks a release against the many-permit requests that
    /// it would serve). Each view borrows this guard.
    pub(crate) fn waiting(&self) -> impl Iterator<Item = Waiting<'_>> + '_ {
        let head = self.head();
        let mut next = head;
        std::iter::from_fn(move || {
            if next.is_null() {
                return None;
            }
            let node = next;
            // SAFETY: `node` is linked in this queue and we hold its lock,
            // so it is alive and its links are ours to read.
            let after = unsafe { (*node).next.with(|p| *p) };
            // The list is circular: stop when it comes back to the head.
            next = if after == head { ptr::null() } else { after };
            Some(Waiting {
                node,
                _guard: std::marker::PhantomData,
            })
        })
    }

    /// The oldest waiting node, without removing it.
    pub(crate) fn front(&self) -> Option<Waiting<'_>> {
        let head = self.head();
        (!head.is_null()).then_some(Waiting {
            node: head,
            _guard: std::marker::PhantomData,
        })
    }

    /// Takes the waker of the oldest node, which stays `WAITING` at the
    /// front: a wake-up without a notification, to be woken after
    /// unlocking (for a primitive that wakes its front to compete, see
    /// [`Protocol::retries`](super::wait::Protocol::retries)). `None` if the
    /// queue is empty or the front's waker was already taken (its waiter
    /// puts a fresh one in place, under this lock, before it retries).
    pub(crate) fn take_front_waker(&mut self) -> Option<Waker> {
        let head = self.head();
        if head.is_null() {
            return None;
        }
        // SAFETY: `head` is linked in this queue and we hold its lock, which
        // owns a WAITING node's waker.
        unsafe { (*head).waker.with_mut(|w| (*w).take()) }
    }

    /// Takes the waker of the second oldest node, which stays `WAITING`:
    /// [`take_front_waker`](QueueGuard::take_front_waker) for the node that
    /// becomes the front once the current front is removed under this same
    /// lock hold (a semaphore's front that won its retry wakes the next one
    /// if what is left fits it). `None` if there is no second node or its
    /// waker was already taken.
    pub(crate) fn take_second_waker(&mut self) -> Option<Waker> {
        let head = self.head();
        if head.is_null() {
            return None;
        }
        // SAFETY: `head` is linked in this queue and we hold its lock, so its
        // links are ours to read and its successor is alive.
        let second = unsafe { (*head).next.with(|p| *p) };
        if second == head {
            return None;
        }
        // SAFETY: `second` is linked in this queue (the list is circular and
        // not a single node) and we hold the lock, which owns its waker.
        unsafe { (*second).waker.with_mut(|w| (*w).take()) }
    }

    /// Removes the oldest node and marks it `NOTIFIED` with `data` as what it
    /// was handed; returns its waker, to be woken after unlocking.
    pub(crate) fn notify_front<D: NodeData>(&mut self, data: D) -> Option<Option<Waker>> {
        self.notify_front_inner(Some(data.into_raw()))
    }

    /// A [`wake_in_batches`] step that wakes everyone: notifies nodes from
    /// the front with `data` until `wakers` is full or the queue is empty;
    /// [`Batch::More`] while nodes remain.
    pub(crate) fn notify_batch<D: NodeData>(&mut self, wakers: &mut WakeList, data: D) -> Batch {
        while !wakers.is_full() {
            match self.notify_front(data) {
                Some(waker) => wakers.push(waker),
                None => break,
            }
        }
        Batch::more_if(!self.is_empty())
    }

    /// Like [`notify_front`](QueueGuard::notify_front), leaving the node's data as it is.
    pub(crate) fn notify_front_keep(&mut self) -> Option<Option<Waker>> {
        self.notify_front_inner(None)
    }

    /// Unlinks the oldest node but leaves it `WAITING` with its waker, to be
    /// re-linked into another queue ([`QueueGuard::attach`]) or notified there
    /// ([`QueueGuard::notify_detached`]) while this guard is still held. Its
    /// waiter learns where it stands only under this queue's lock (see
    /// `condition.rs`), so the transit is invisible to it.
    ///
    /// The returned [`Detached`] borrows this guard, so the lock stays held
    /// (and this queue untouched) until the node has been attached or
    /// notified.
    pub(crate) fn detach_front(&mut self) -> Option<Detached<'_>> {
        let head = self.head();
        if head.is_null() {
            return None;
        }
        // SAFETY: `head` is linked in this queue and we hold the lock.
        unsafe { self.unlink(head) };
        Some(Detached {
            node: head,
            _guard: std::marker::PhantomData,
        })
    }

    /// Appends a node detached from another queue, keeping its waker.
    ///
    /// # Safety
    /// The node's waiter synchronizes on the lock of the queue the node was
    /// detached from before it touches the node (a condition waiter checks
    /// its `in_condition` flag under the condition's lock), so the node
    /// stays alive and nobody else accesses it while that lock is held.
    /// (That the lock is still held is guaranteed by the borrow in
    /// [`Detached`].)
    pub(crate) unsafe fn attach(&mut self, node: Detached<'_>) {
        assert!(
            self.word & COUNT_MASK != COUNT_MASK,
            "polysync: more than 2^31 - 1 waiters on one primitive"
        );
        let new = node.node;
        // SAFETY: we hold this queue's lock; `new` is alive and unlinked by the
        // contract; linked nodes are alive by the push contract.
        unsafe {
            let head = self.head();
            if head.is_null() {
                (*new).next.with_mut(|p| *p = new);
                (*new).prev.with_mut(|p| *p = new);
                self.set_head(new);
            } else {
                let tail = (*head).prev.with(|p| *p);
                (*new).next.with_mut(|p| *p = head);
                (*new).prev.with_mut(|p| *p = tail);
                (*tail).next.with_mut(|p| *p = new);
                (*head).prev.with_mut(|p| *p = new);
            }
        }
        self.word += COUNT_UNIT;
    }

    /// Marks a detached node `NOTIFIED` with `data`, as if it had been the
    /// front of this queue; returns its waker, to be woken after unlocking.
    ///
    /// # Safety
    /// As for [`QueueGuard::attach`].
    pub(crate) unsafe fn notify_detached<D: NodeData>(
        &mut self,
        node: Detached<'_>,
        data: D,
    ) -> Option<Waker> {
        let data = data.into_raw();
        // SAFETY: the node is alive and exclusively ours by the contract.
        unsafe {
            let node = &*node.node;
            node.data.with_mut(|p| *p = data);
            let waker = node.waker.with_mut(|w| (*w).take());
            self.queue.word.store(self.word | LOCKED, Ordering::Relaxed);
            node.state.store(NOTIFIED as u8, Ordering::Release);
            waker
        }
    }

    fn notify_front_inner(&mut self, data: Option<usize>) -> Option<Option<Waker>> {
        let head = self.head();
        if head.is_null() {
            return None;
        }
        // SAFETY: `head` is linked in this queue and we hold the lock.
        Some(unsafe { self.notify_linked(head, data) })
    }

    /// Removes `node` from wherever it stands in this queue and marks it
    /// `NOTIFIED` with `data`, as [`notify_front`](QueueGuard::notify_front)
    /// does for the oldest: for a primitive whose waiters of two kinds
    /// share one list and are served each in their own order (a bounded
    /// queue's putters and getters). Returns its waker, to be woken after
    /// unlocking.
    ///
    /// # Safety
    /// `node` is `WAITING` in this queue (found with
    /// [`waiting`](QueueGuard::waiting) under this guard).
    pub(crate) unsafe fn notify_waiting<D: NodeData>(
        &mut self,
        node: *const Node,
        data: D,
    ) -> Option<Waker> {
        // SAFETY: forwarded contract.
        unsafe { self.notify_linked(node, Some(data.into_raw())) }
    }

    /// # Safety
    /// `node` is linked in this queue, whose lock this guard holds.
    unsafe fn notify_linked(&mut self, node: *const Node, data: Option<usize>) -> Option<Waker> {
        // SAFETY: by the contract, `node` is linked here and alive.
        unsafe {
            self.unlink(node);
            let node = &*node;
            if let Some(data) = data {
                node.data.with_mut(|p| *p = data);
            }
            let waker = node.waker.with_mut(|w| (*w).take());
            // Publish the word as it stands (still locked) before the waiter
            // can run: a woken waiter must see the state that woke it, e.g.
            // `Event::is_set()` right after its wait returned. The Release
            // store below orders this store before the waiter's Acquire load.
            self.queue.word.store(self.word | LOCKED, Ordering::Relaxed);
            // Last access: from here on the waiter may free the node.
            node.state.store(NOTIFIED as u8, Ordering::Release);
            waker
        }
    }
}

impl Drop for QueueGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.queue.word.store(self.word, Ordering::Release);
        if let Some(waker) = self.deferred.take() {
            wake_unlocked(waker);
        }
    }
}

/// Wakes a waker deferred by [`QueueGuard::wake_after_unlock`], the queue
/// already unlocked. Out of line: most guards defer nothing.
#[cold]
#[inline(never)]
fn wake_unlocked(waker: Waker) {
    if std::thread::panicking() {
        // Dropped during an unwind: a second panic would abort the process.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake()));
    } else {
        waker.wake();
    }
}

/// A node taken out of one queue on its way into another (see
/// [`QueueGuard::detach_front`]); still `WAITING`.
///
/// `'g` is the (mutable) borrow of the detaching queue's guard: while a
/// `Detached` exists, that lock is held and nothing else can use the guard,
/// so the node's cells are the holder's alone. This is what makes
/// [`data`](Detached::data) and [`set_data`](Detached::set_data) safe.
#[must_use = "a detached node must be attached or notified before the locks are released"]
pub(crate) struct Detached<'g> {
    node: *const Node,
    _guard: std::marker::PhantomData<&'g mut ()>,
}

impl Detached<'_> {
    /// The node's data, as the [`NodeData`] type both queues agree on.
    pub(crate) fn data<D: NodeData>(&self) -> D {
        // SAFETY: the detaching queue's lock is held for `'g` (see the type),
        // and that lock owns a WAITING node's data; the node is alive because
        // its waiter synchronizes on that lock before it goes away.
        D::from_raw(unsafe { (*self.node).data.with(|p| *p) })
    }

    /// Replaces the node's data.
    pub(crate) fn set_data<D: NodeData>(&mut self, data: D) {
        let data = data.into_raw();
        // SAFETY: as in `data`.
        unsafe { (*self.node).data.with_mut(|p| *p = data) }
    }
}

/// A read-only view of a waiting node under the lock: it borrows the
/// guard for `'g`, so it cannot outlive the lock.
pub(crate) struct Waiting<'g> {
    node: *const Node,
    _guard: std::marker::PhantomData<&'g ()>,
}

impl Waiting<'_> {
    /// The node, for [`QueueGuard::notify_waiting`] (valid while the
    /// guard this view borrows is held).
    pub(crate) fn node(&self) -> *const Node {
        self.node
    }

    /// The data its waiter stored (a primitive's
    /// [`Protocol::Tag`](super::wait::Protocol::Tag)), as the [`NodeData`]
    /// type of the queue's primitive.
    pub(crate) fn data<D: NodeData>(&self) -> D {
        // SAFETY: the node is linked (alive) and the lock, borrowed for 'g, guards its data.
        D::from_raw(unsafe { (*self.node).data.with(|p| *p) })
    }
}

/// A fixed-size batch of wakers collected under a queue lock and woken after
/// it is released, without allocating.
///
/// # A panicking waker strands nobody
/// A waker's `wake` is user code and may panic. [`wake_all`](WakeList::wake_all)
/// catches such a panic, keeps waking the rest of the batch, and keeps the
/// first panic; the list re-raises it when it is dropped. An operation that
/// wakes in several batches runs them all through [`wake_in_batches`], which
/// holds one list for the whole operation, so every batch is collected and
/// woken (and the primitive's state finished) before the panic reaches its
/// caller: no waiter stays queued behind the panic and no hand-off is lost.
pub(crate) struct WakeList {
    wakers: [Option<Waker>; WakeList::CAPACITY],
    len: usize,
    /// The first panic of a waker, re-raised on drop.
    panic: Option<Box<dyn std::any::Any + Send + 'static>>,
}

impl WakeList {
    pub(crate) const CAPACITY: usize = 16;

    pub(crate) fn new() -> Self {
        Self {
            wakers: Default::default(),
            len: 0,
            panic: None,
        }
    }

    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.len == Self::CAPACITY
    }

    #[inline]
    pub(crate) fn push(&mut self, waker: Option<Waker>) {
        debug_assert!(!self.is_full());
        self.wakers[self.len] = waker;
        self.len += 1;
    }

    /// Wakes everything collected. Call only with no queue lock held. Never
    /// unwinds: a waker's panic is kept and re-raised when the list drops.
    pub(crate) fn wake_all(&mut self) {
        for slot in &mut self.wakers[..self.len] {
            if let Some(waker) = slot.take() {
                let woken =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || waker.wake()));
                if let Err(panic) = woken {
                    self.panic.get_or_insert(panic);
                }
            }
        }
        self.len = 0;
    }
}

impl Drop for WakeList {
    fn drop(&mut self) {
        self.wake_all();
        if let Some(panic) = self.panic.take() {
            // Already unwinding (from a panic elsewhere): a second panic
            // would abort; the first one is what the caller sees.
            if !std::thread::panicking() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

/// What a [`wake_in_batches`] step says after filling one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Batch {
    /// This was the last batch: unlock, wake it and stop.
    Last,
    /// Unlock, wake this batch, then lock again and fill the next one.
    More,
}

impl Batch {
    /// `More` if `more`, else `Last`.
    #[inline]
    pub(crate) fn more_if(more: bool) -> Batch {
        if more { Batch::More } else { Batch::Last }
    }
}

/// The one wake-up loop of the crate, for every operation that may wake
/// more waiters than a [`WakeList`] holds (a broadcast, a close, a release
/// of many permits, a barrier's drain):
///
/// 1. lock `queue` (or start with `first`, a guard the caller already
///    holds, with its user bits already changed);
/// 2. `fill` moves up to [`WakeList::CAPACITY`] wakers into the list, under
///    the lock, and says whether another batch follows;
/// 3. unlock (publishing the word), then wake the batch: **never under the
///    lock**;
/// 4. on [`Batch::More`], repeat from 1 with a fresh lock.
///
/// `fill` decides when to stop (its stopping rule is the primitive's: "the
/// queue is empty", "a newer round started", "n permits handed out", ...)
/// and must not push to a full list. It runs under the queue lock, so the
/// rules of [`Protocol::arrive_locked`](super::wait::Protocol::arrive_locked)
/// apply: no user code, no waking; it may lock another queue (a condition
/// moves waiters to their lock's queue).
///
/// One list serves every batch, so a waker that panics does not stop the
/// operation: later batches are still filled and woken, and the panic is
/// re-raised when this function returns (see [`WakeList`]).
pub(crate) fn wake_in_batches<'q>(
    queue: &'q WaitQueue,
    first: Option<QueueGuard<'q>>,
    mut fill: impl FnMut(&mut QueueGuard<'q>, &mut WakeList) -> Batch,
) {
    let mut wakers = WakeList::new();
    let mut guard = first;
    loop {
        let mut locked = guard.take().unwrap_or_else(|| queue.lock());
        let next = fill(&mut locked, &mut wakers);
        drop(locked);
        wakers.wake_all();
        if next == Batch::Last {
            // `wakers` drops now: a kept panic of a waker is re-raised.
            return;
        }
    }
}

#[cfg(all(test, not(polysync_loom)))]
mod tests {
    use super::*;
    use std::task::Waker;

    /// The tests' node data: the word itself.
    impl NodeData for usize {
        fn into_raw(self) -> usize {
            self
        }
        fn from_raw(raw: usize) -> usize {
            raw
        }
    }

    fn nodes<const N: usize>() -> [Node; N] {
        std::array::from_fn(Node::new)
    }

    /// The data of the queued nodes, oldest first, read by notifying them all.
    fn drain(queue: &WaitQueue) -> Vec<usize> {
        let mut guard = queue.lock();
        let mut out = Vec::new();
        while let Some(front) = guard.front() {
            let data: usize = front.data();
            guard.notify_front(data).unwrap();
            out.push(data);
        }
        assert!(guard.is_empty());
        out
    }

    #[test]
    fn fifo_with_removals_anywhere() {
        let queue = WaitQueue::new(7);
        let nodes = nodes::<5>();
        {
            let mut guard = queue.lock();
            for node in &nodes {
                // SAFETY: the nodes outlive the queue operations below.
                unsafe { guard.push_back(node, Waker::noop().clone()) };
            }
            assert_eq!(guard.len(), 5);
            // Remove the middle, the head and the tail.
            for i in [2, 0, 4] {
                // SAFETY: node i is WAITING in this queue.
                assert!(unsafe { guard.remove(&nodes[i]) }.is_some());
                assert_eq!(nodes[i].state(), IDLE);
            }
            assert_eq!(guard.len(), 2);
            assert_eq!(guard.user(), 7);
        }
        assert_eq!(queue.len(), 2);
        assert_eq!(drain(&queue), vec![1, 3]);
        assert_eq!(nodes[1].state(), NOTIFIED);
        assert_eq!(nodes[3].state(), NOTIFIED);
        assert_eq!(queue.len(), 0);
        assert_eq!(queue.user(Ordering::Relaxed), 7);
    }

    #[test]
    fn waiting_walks_the_queue_oldest_first_without_removing() {
        let queue = WaitQueue::new(0);
        assert_eq!(queue.lock().waiting().count(), 0);
        let nodes = nodes::<3>();
        let mut guard = queue.lock();
        for node in &nodes {
            // SAFETY: the nodes outlive their time in the queue (drained below).
            unsafe { guard.push_back(node, Waker::noop().clone()) };
        }
        let seen: Vec<usize> = guard.waiting().map(|w| w.data()).collect();
        assert_eq!(seen, [0, 1, 2]);
        assert_eq!(guard.len(), 3);
        drop(guard);
        assert_eq!(drain(&queue), [0, 1, 2]);
    }

    #[test]
    fn idle_updates_fail_while_locked_or_queued() {
        let queue = WaitQueue::new(1);
        let guard = queue.lock();
        assert_eq!(
            queue.update_if_idle(Ordering::Relaxed, |u| Some(u + 1)),
            Err(1)
        );
        assert!(!queue.cas_idle(1, 2, Ordering::Relaxed));
        drop(guard);
        assert_eq!(
            queue.update_if_idle(Ordering::Relaxed, |u| Some(u + 1)),
            Ok(1)
        );
        let node = Node::new(0usize);
        // SAFETY: the node outlives the queue use; it is removed below.
        unsafe { queue.lock().push_back(&node, Waker::noop().clone()) };
        assert!(!queue.cas_idle(2, 3, Ordering::Relaxed));
        assert_eq!(queue.user(Ordering::Relaxed), 2);
        // SAFETY: the node is WAITING in this queue.
        unsafe { queue.lock().remove(&node) };
        assert!(queue.cas_idle(2, 3, Ordering::Relaxed));
    }

    /// A waker that counts wakes, panics in `wake` if asked, and records
    /// whether the watched queue was locked when it was cloned.
    struct Probe {
        wakes: std::sync::atomic::AtomicUsize,
        panics: bool,
        queue: *const WaitQueue,
        cloned_under_lock: std::sync::atomic::AtomicBool,
        woken_under_lock: std::sync::atomic::AtomicBool,
    }
    // SAFETY: `queue` points to a queue that outlives every probe in these
    // tests and is only read through its atomic word.
    unsafe impl Send for Probe {}
    // SAFETY: as above.
    unsafe impl Sync for Probe {}

    fn probe(panics: bool, queue: &WaitQueue) -> std::sync::Arc<Probe> {
        std::sync::Arc::new(Probe {
            wakes: Default::default(),
            panics,
            queue,
            cloned_under_lock: Default::default(),
            woken_under_lock: Default::default(),
        })
    }

    fn probe_waker(p: &std::sync::Arc<Probe>) -> Waker {
        use std::sync::Arc;
        use std::task::{RawWaker, RawWakerVTable};
        fn raw(p: Arc<Probe>) -> RawWaker {
            RawWaker::new(Arc::into_raw(p).cast(), &VTABLE)
        }
        // The vtable entries below share one contract (`RawWakerVTable`'s):
        // `p` is the pointer `raw` made from an `Arc<Probe>` whose one strong
        // count this waker owns; `wake` and `drop_waker` give that count
        // back, `clone` takes a new one, `wake_by_ref` only borrows it.
        unsafe fn clone(p: *const ()) -> RawWaker {
            // SAFETY: `p` is a live `Arc<Probe>` of this waker.
            let p = unsafe {
                Arc::increment_strong_count(p.cast::<Probe>());
                Arc::from_raw(p.cast::<Probe>())
            };
            // SAFETY: the queue outlives the probe (see `Probe`).
            let word = unsafe { (*p.queue).word.load(Ordering::Relaxed) };
            if word & LOCKED != 0 {
                p.cloned_under_lock.store(true, Ordering::Relaxed);
            }
            raw(p)
        }
        unsafe fn wake(p: *const ()) {
            // SAFETY: consumes this waker's reference.
            let p = unsafe { Arc::from_raw(p.cast::<Probe>()) };
            // SAFETY: the queue outlives the probe (see `Probe`).
            let word = unsafe { (*p.queue).word.load(Ordering::Relaxed) };
            if word & LOCKED != 0 {
                p.woken_under_lock.store(true, Ordering::Relaxed);
            }
            p.wakes.fetch_add(1, Ordering::Relaxed);
            assert!(!p.panics, "a user waker panics in wake");
        }
        unsafe fn wake_by_ref(p: *const ()) {
            // SAFETY: borrows this waker's reference.
            let p = unsafe { &*p.cast::<Probe>() };
            p.wakes.fetch_add(1, Ordering::Relaxed);
            assert!(!p.panics, "a user waker panics in wake");
        }
        unsafe fn drop_waker(p: *const ()) {
            // SAFETY: consumes this waker's reference.
            drop(unsafe { Arc::from_raw(p.cast::<Probe>()) });
        }
        static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);
        // SAFETY: the vtable keeps the Arc's count balanced; Probe is Send + Sync.
        unsafe { Waker::from_raw(raw(p.clone())) }
    }

    #[test]
    fn a_panicking_waker_does_not_stop_the_batch_and_is_reraised_on_drop() {
        let queue = WaitQueue::new(0);
        let probes: Vec<_> = (0..WakeList::CAPACITY)
            .map(|i| probe(i == 3, &queue))
            .collect();
        let mut list = WakeList::new();
        for p in &probes {
            list.push(Some(probe_waker(p)));
        }
        list.wake_all(); // does not unwind
        assert!(!list.is_full());
        for p in &probes {
            assert_eq!(p.wakes.load(Ordering::Relaxed), 1);
        }
        // A second batch on the same list still runs.
        let late = probe(false, &queue);
        list.push(Some(probe_waker(&late)));
        list.wake_all();
        assert_eq!(late.wakes.load(Ordering::Relaxed), 1);
        let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(list)));
        assert!(dropped.is_err(), "the kept panic is re-raised on drop");
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "a queued node was accessed as if its waiter owned it")]
    fn the_owner_may_not_touch_a_queued_nodes_data() {
        let queue = WaitQueue::new(0);
        let node = Node::new(0usize);
        // SAFETY: the queue never follows the node's pointer after this test
        // panics (nothing locks it again).
        unsafe { queue.lock().push_back(&node, Waker::noop().clone()) };
        let _ = node.data::<usize>();
    }

    #[test]
    fn wake_in_batches_wakes_every_batch_outside_the_lock_then_reraises() {
        const N: usize = 2 * WakeList::CAPACITY + 3;
        let queue = WaitQueue::new(0);
        let nodes = nodes::<N>();
        // One waker of the first batch panics.
        let probes: Vec<_> = (0..N).map(|i| probe(i == 1, &queue)).collect();
        {
            let mut guard = queue.lock();
            for (node, p) in nodes.iter().zip(&probes) {
                // SAFETY: the nodes outlive their time in the queue (all are
                // notified below).
                unsafe { guard.push_back(node, probe_waker(p)) };
            }
        }
        let mut batches = 0;
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wake_in_batches(&queue, None, |guard, wakers| {
                batches += 1;
                guard.notify_batch(wakers, 7usize)
            });
        }));
        assert!(run.is_err(), "the waker's panic reaches the caller");
        assert_eq!(batches, 3, "the panic did not stop the later batches");
        assert_eq!(queue.len(), 0);
        for (node, p) in nodes.iter().zip(&probes) {
            assert_eq!(node.state(), NOTIFIED);
            assert_eq!(node.data::<usize>(), 7);
            assert_eq!(p.wakes.load(Ordering::Relaxed), 1);
            assert!(!p.woken_under_lock.load(Ordering::Relaxed));
        }
    }

    #[test]
    fn refresh_waker_clones_outside_the_lock_and_keeps_a_matching_waker() {
        let queue = WaitQueue::new(0);
        let node = Node::new(0usize);
        let first = probe(false, &queue);
        let first_waker = probe_waker(&first);
        let stored = first_waker.clone();
        // SAFETY: the node outlives its time in the queue (notified below).
        unsafe { queue.lock().push_back(&node, stored) };
        let lock = || {
            let guard = queue.lock();
            (node.state() == WAITING).then_some(guard)
        };
        // Same task: nothing is cloned.
        assert!(refresh_waker(&node, &first_waker, lock));
        let second = probe(false, &queue);
        let second_waker = probe_waker(&second);
        assert!(refresh_waker(&node, &second_waker, lock));
        assert!(!first.cloned_under_lock.load(Ordering::Relaxed));
        assert!(!second.cloned_under_lock.load(Ordering::Relaxed));
        // The stored waker is the second one now.
        let waker = queue.lock().notify_front(0usize).unwrap().unwrap();
        waker.wake();
        assert_eq!(second.wakes.load(Ordering::Relaxed), 1);
        assert_eq!(first.wakes.load(Ordering::Relaxed), 0);
        // Notified: `refresh_waker` reports it.
        assert!(!refresh_waker(&node, &second_waker, lock));
    }
}
