//! [`GenericQueue`]: the one queue behind [`Queue`](super::Queue),
//! [`LifoQueue`](super::LifoQueue) and [`PriorityQueue`](super::PriorityQueue),
//! generic over its [`Storage`].

use super::entry::{Entry, Item, Role};
use super::error::{GetError, PutError, TryGetError, TryPutError};
use super::futures::{Get, Put};
use super::ring::{MAX_RING, Padded, Ring};
use super::spin::{HAS_ITEMS, HAS_ROOM, IS_CLOSED};
use super::storage::{Fifo, Storage};
use crate::lowlevel::queue::{Batch, Node, QueueGuard, WaitQueue, wake_in_batches};
use crate::lowlevel::sync::{AtomicU64, Mutex, MutexGuard, Ordering, UnsafeCell, fence};
use crate::lowlevel::wait::drive;
use crate::lowlevel::{WaitError, Waiter, deadline_after, green_checkpoint, with_current_waiter};
use crate::revent::REvent;
use std::collections::VecDeque;
use std::pin::pin;
use std::task::Waker;
use std::time::{Duration, Instant};

/// What the queue lock guards besides the wait list.
pub(super) struct Inner<T, S> {
    /// The storage; empty (unused) when the queue has a ring.
    pub(super) items: S,
    pub(super) closed: bool,
    /// Ring queues only: items that go out before the ring's, next out
    /// first (items given back by dropped get futures, and the one
    /// `peek_with` looks at), each with its rank, in rank order. A rank
    /// places an item among the ring's positions (`ring_rank`,
    /// `give_back_rank`), so that a lock-free get that claimed a ring item
    /// and then finds the stash in use (`behind_stash`) still takes its own
    /// item if it was claimed before the stashed ones were stashed: FIFO
    /// by claim order, as the ring alone keeps it. Its length is mirrored
    /// in `GenericQueue::stash_len`.
    pub(super) stash: VecDeque<(u64, T)>,
    /// Places taken by a channel's send permits (`reserve_locked`), each
    /// also counted in `GenericQueue::held` (bounded queues without a
    /// ring) or `GenericQueue::occupied` (ring queues). While one is out, a
    /// closed queue is not "closed and drained" yet: the permit may still
    /// put its item in (`put_in_place`), so getters wait for it. Changed
    /// and read only under the lock (permits are taken, filled and freed
    /// under it; a lock-free get leaves a closed queue to the locked path).
    pub(super) permits: usize,
}

/// The stash rank of the ring item at `position` (`Inner::stash`): ring
/// items rank by position.
#[inline]
fn ring_rank(position: u64) -> u64 {
    // (Positions stay far below 2^62: no overflow.)
    2 * position + 2
}

/// The stash rank of an item given back when the ring's head was at
/// `head`: after the items claimed before (positions below `head`: their
/// gets took them first), before every later claim.
#[inline]
fn give_back_rank(head: u64) -> u64 {
    2 * head + 1
}

/// A queue over any [`Storage`], bounded or unbounded, shared by OS threads,
/// async tasks of any executor and green threads. Use it through its aliases
/// [`Queue`](super::Queue) (FIFO), [`LifoQueue`](super::LifoQueue) and
/// [`PriorityQueue`](super::PriorityQueue), or with a storage of your own.
///
/// - Put in five forms: [`put`](GenericQueue::put) (async),
///   [`put_blocking`](GenericQueue::put_blocking),
///   [`try_put`](GenericQueue::try_put),
///   [`try_put_for`](GenericQueue::try_put_for),
///   [`try_put_until`](GenericQueue::try_put_until); a put that fails gives
///   the item back: in a [`PutError`] (closed, the only way the untimed
///   forms fail) or a [`TryPutError`] (full, closed or cancelled, for the
///   forms that may give up). The blocking forms run
///   [`put_with`](GenericQueue::put_with) with the current unit's waiter;
///   library code that holds its own [`Waiter`] calls `put_with` directly.
/// - Get in the same five forms (plus [`get_with`](GenericQueue::get_with));
///   a get that fails says why: [`GetError`] (closed and drained, the only
///   way the untimed forms fail) or [`TryGetError`] (empty, closed or
///   cancelled).
/// - Waiting getters are served strictly FIFO across all worlds, by direct
///   hand-off from the putter; waiting putters likewise. All futures are
///   cancel-safe: an item handed to a getter that is then dropped goes back
///   into the queue (where the order allows, as the next one out).
/// - [`close`](GenericQueue::close): later puts fail, getters drain what is
///   left and then fail with [`GetError`] ([`TryGetError::Closed`]);
///   blocked waiters wake with the error.
/// - Work tracking as in Python's `queue`: every item put counts as an
///   unfinished task until a consumer calls
///   [`task_done`](GenericQueue::task_done); [`join`](GenericQueue::join)
///   (five forms) waits until none is left.
///
/// ```
/// use polysync::Queue;
/// use std::sync::Arc;
///
/// let q = Arc::new(Queue::bounded(1));
/// let producer = {
///     let q = q.clone();
///     std::thread::spawn(move || {
///         for i in 0..3 {
///             q.put_blocking(i).unwrap();
///         }
///     })
/// };
/// futures_lite::future::block_on(async {
///     for i in 0..3 {
///         assert_eq!(q.get().await, Ok(i));
///     }
/// });
/// producer.join().unwrap();
/// ```
pub struct GenericQueue<T, S = Fifo<T>> {
    /// User bits: the readiness summary (`HAS_ITEMS`, `HAS_ROOM`,
    /// `IS_CLOSED`; see the table in `spin.rs`), kept only when spinning.
    pub(super) queue: WaitQueue,
    /// `usize::MAX` when unbounded.
    cap: usize,
    /// Blocking puts and gets spin before they wait (see `spin.rs`).
    spin: bool,
    inner: UnsafeCell<Inner<T, S>>,
    /// Bounded FIFO queues (`Storage::LOCK_FREE_FIFO`, capacity up to
    /// `MAX_RING`, not spinning): the lock-free storage that puts and gets
    /// use without the queue lock while nobody waits (see `ring.rs`); the
    /// storage `S` then stays empty. `None`: every operation takes the lock.
    ring: Option<Ring<T>>,
    /// Ring queues only: the places taken, i.e. items in the ring or the
    /// stash plus items held in get futures' slots (what `held` counts for
    /// the other queues). A put reserves its place here first (a
    /// compare-and-swap below the capacity), and a place is freed only when
    /// its item leaves the queue for good (returned to a get's caller, or
    /// drained by `close_immediately`); a give-back keeps it. On its own
    /// cache line: both ends write it once per item.
    occupied: Padded,
    /// Ring queues only: `Inner::stash.len()`, read without the lock by the
    /// gets that bypass it (any stashed item goes out first).
    stash_len: AtomicU64,
    /// Queues without a ring: items put and not yet marked done with
    /// `task_done` (changed under the queue lock); `all_done` follows it
    /// under the lock (`sync_all_done`). Unused (zero) in a ring queue,
    /// whose count is the ring's tail minus `finished`.
    unfinished: AtomicU64,
    /// Ring queues only: the tasks marked done (`task_done`, and items lost
    /// to a panic or drained by `close_immediately`). The unfinished tasks
    /// are the ring's tail (every item ever put, counted by its claim, so
    /// before it can be seen) minus this: a lock-free put changes no count
    /// of its own. Written only under `task_sync`; read without it by the
    /// puts' `claimed_task`.
    finished: AtomicU64,
    /// Ring queues only: serializes the changes of `all_done` (a
    /// `task_done`, and a put that finds every task done as it claims its
    /// position: `claimed_task`), so the last one leaves the event right.
    /// Not the queue lock: a put holds a claimed, unwritten slot while it
    /// syncs, and a get under the queue lock may wait for that slot. Taken
    /// after the queue lock when both are held; nothing under it waits for
    /// a slot or the queue lock.
    task_sync: Mutex<()>,
    /// Set exactly while no task is unfinished, once the change that took
    /// the count to or from zero has synced it (`sync_all_done` under the
    /// queue lock, or under `task_sync` in a ring queue; a put syncs
    /// before its item can be seen); `join` waits on it.
    pub(super) all_done: REvent,
    /// Bounded queues only (always 0 when unbounded): items in the slots of
    /// get futures, handed over by a putter or taken at once, that the
    /// future has neither returned nor given back yet. Each keeps its place
    /// in the capacity (the room check is `items.len() + held < cap`), so
    /// that a give-back always finds room: the queue never holds more than
    /// its capacity, however many getters are dropped. Raised only under
    /// the queue lock; lowered under it by a give-back, and without it by a
    /// get future that returns its item (`release_held`), which then takes
    /// the lock only if a putter waits (see `putters`).
    held: AtomicU64,
    /// Queued putters. Both kinds may wait at once in a bounded queue
    /// (getters while the storage is empty, putters while `items.len() +
    /// held` is at the capacity, so both when every place is held by a get
    /// future); each kind is served in its own arrival order. Changed only
    /// under the queue lock; read without it by `release_held`. A putter
    /// that queues raises it and then checks the room once more, and a
    /// release lowers `held` and then reads this, each with a `SeqCst`
    /// fence between its write and its read (a store-buffering pattern):
    /// either the putter sees the room and goes in, or the release sees the
    /// putter and admits it under the lock. No putter waits beside a free
    /// place. (Fences, not `SeqCst` accesses, so that loom checks it.)
    pub(super) putters: AtomicU64,
    /// Queued getters, so that a look for the oldest one walks the list
    /// only when one is there. Changed only under the queue lock; read
    /// without it by a ring queue's puts, which store their item and then
    /// look here (with a `SeqCst` fence between), while a getter that
    /// queues counts itself and then looks at the storage once more (the
    /// same store-buffering pattern as `putters`): no getter waits beside
    /// a stored item.
    pub(super) getters: AtomicU64,
    _items: std::marker::PhantomData<fn(T) -> T>,
}

// SAFETY: the items move between threads (T: Send) and are only touched under
// the queue lock or by the entry that owns them; the storage (S: Send) is only
// touched under the queue lock, from whichever thread holds it. Nothing hands
// out `&T` or `&S` beyond a critical section, except `peek_with`'s closure,
// which runs under the lock and therefore needs no `T: Sync`: one thread at a
// time sees the item.
unsafe impl<T: Send, S: Send> Send for GenericQueue<T, S> {}
// SAFETY: as above; all shared access goes through the queue lock.
unsafe impl<T: Send, S: Send> Sync for GenericQueue<T, S> {}

impl<T, S: Storage<T> + Default> GenericQueue<T, S> {
    /// An unbounded queue, as Python's `Queue()`: the same as
    /// [`unbounded`](GenericQueue::unbounded).
    ///
    /// ```
    /// let q = polysync::Queue::new();
    /// q.try_put(1).unwrap();
    /// assert_eq!(q.capacity(), None);
    /// ```
    pub fn new() -> Self {
        Self::unbounded()
    }

    /// An unbounded queue: puts never wait.
    ///
    /// ```
    /// let q = polysync::Queue::unbounded();
    /// q.try_put("a").unwrap();
    /// assert_eq!(q.capacity(), None);
    /// ```
    pub fn unbounded() -> Self {
        Self::with_storage(S::default(), None)
    }

    /// A queue that holds at most `capacity` items.
    ///
    /// An item handed to a get future (a waiting `get().await`, or a
    /// blocking get that waits) keeps its place in the capacity until the
    /// get returns it, or gives it back if it is dropped: the give-back
    /// always fits, so the bound holds under any cancellation, and a put
    /// may wait (or `try_put` fail) while `len()` is below the capacity.
    ///
    /// ```
    /// use std::pin::pin;
    /// use std::task::{Context, Poll, Waker};
    /// use polysync::queue::{Queue, TryPutError};
    ///
    /// let q = Queue::bounded(1);
    /// let mut cx = Context::from_waker(Waker::noop());
    /// let mut get = pin!(q.get());
    /// assert!(get.as_mut().poll(&mut cx).is_pending());
    /// q.try_put(1).unwrap(); // handed to the waiting get: it holds the place
    /// assert_eq!(q.try_put(2), Err(TryPutError::Full(2)));
    /// assert_eq!(get.as_mut().poll(&mut cx), Poll::Ready(Ok(1))); // place freed
    /// q.try_put(2).unwrap();
    /// ```
    ///
    /// # Panics
    /// If `capacity` is zero.
    ///
    /// ```
    /// let q = polysync::Queue::<u32>::bounded(4);
    /// assert_eq!(q.capacity(), Some(4));
    /// ```
    #[track_caller]
    pub fn bounded(capacity: usize) -> Self {
        Self::with_storage(S::default(), Some(capacity))
    }
}

impl<T, S: Storage<T>> GenericQueue<T, S> {
    /// A queue over `storage` (which may already hold items, counted as
    /// unfinished tasks), bounded by `capacity` (`None`: unbounded).
    ///
    /// # Panics
    /// If `capacity` is `Some(0)`.
    ///
    /// ```
    /// use polysync::queue::{GenericQueue, Lifo};
    /// let q: GenericQueue<u8, Lifo<u8>> = GenericQueue::with_storage(Lifo::default(), Some(2));
    /// q.try_put(1).unwrap();
    /// q.try_put(2).unwrap();
    /// assert_eq!(q.try_get(), Ok(2));
    /// ```
    #[track_caller]
    pub fn with_storage(mut storage: S, capacity: Option<usize>) -> Self {
        let cap = match capacity {
            Some(cap) => {
                assert!(cap >= 1, "polysync: a bounded queue needs capacity >= 1");
                cap
            }
            None => usize::MAX,
        };
        let unfinished = storage.len();
        let ready = Self::readiness(cap, unfinished, 0, false);
        // A bounded FIFO queue keeps its items in a lock-free ring (the
        // storage's own items move in, in their order; see `queue/mod.rs`).
        let ring = (S::LOCK_FREE_FIFO && cap <= MAX_RING && unfinished <= cap).then(|| {
            let ring = Ring::new(cap);
            while let Some(item) = storage.pop() {
                if ring.push(item, |_| {}).is_err() {
                    unreachable!("a new ring is open and has room for the capacity");
                }
            }
            ring
        });
        let ring_some = ring.is_some();
        let occupied = if ring_some { unfinished } else { 0 };
        GenericQueue {
            queue: WaitQueue::new(ready),
            cap,
            // A ring queue spins by default (see `spinning`).
            spin: ring.is_some(),
            inner: UnsafeCell::new(Inner {
                items: storage,
                closed: false,
                stash: VecDeque::new(),
                permits: 0,
            }),
            ring,
            occupied: Padded(AtomicU64::new(occupied as u64)),
            stash_len: AtomicU64::new(0),
            // A ring queue counts its initial items by the ring's tail.
            unfinished: AtomicU64::new(if ring_some { 0 } else { unfinished as u64 }),
            finished: AtomicU64::new(0),
            task_sync: Mutex::new(()),
            all_done: REvent::with_state(unfinished == 0),
            held: AtomicU64::new(0),
            putters: AtomicU64::new(0),
            getters: AtomicU64::new(0),
            _items: std::marker::PhantomData,
        }
    }

    /// Turns spinning before waiting on or off (off by default, except on
    /// a bounded [`Queue`](super::Queue), see below): with it
    /// on, a blocking put or get on an OS thread that finds the queue full
    /// or empty polls for about 3 µs (then yields a few times) before it
    /// parks, so an answer that comes within that time costs no park and
    /// wake-up. Turn it on for request/response traffic between threads
    /// (a ping-pong round trip drops from two park/unpark cycles, about
    /// 50 µs on a 2-vCPU VM, to well under a microsecond); leave it off
    /// for streams, where a parked consumer drains a batch per wake-up and
    /// a spinning one fights the producer for the queue on every item
    /// (see BENCHMARKS.md). Async waits and green threads never spin. A
    /// bounded [`Queue`](super::Queue) (its lock-free ring) spins on the
    /// ring instead: an exponential back-off of about 1.5 µs, then two
    /// yields, and gives up at once if a waiter of its own kind is queued.
    /// There the objection above does not hold (the spinner reads the ring
    /// and takes an item without any lock), so a bounded `Queue`, and the
    /// bounded channels on it, spin by default: a stream between two
    /// threads then rarely parks (BENCHMARKS.md, "Issue 18 item 2, second
    /// pass"); `spinning(false)` turns it off.
    ///
    /// ```
    /// use polysync::Queue;
    /// use std::sync::Arc;
    ///
    /// let (ping, pong) = (
    ///     Arc::new(Queue::bounded(1).spinning(true)),
    ///     Arc::new(Queue::bounded(1).spinning(true)),
    /// );
    /// let echo = {
    ///     let (ping, pong) = (ping.clone(), pong.clone());
    ///     std::thread::spawn(move || {
    ///         while let Ok(n) = ping.get_blocking() {
    ///             pong.put_blocking(n).unwrap();
    ///         }
    ///     })
    /// };
    /// for n in 0..100 {
    ///     ping.put_blocking(n).unwrap();
    ///     assert_eq!(pong.get_blocking(), Ok(n));
    /// }
    /// ping.close();
    /// echo.join().unwrap();
    /// ```
    pub fn spinning(mut self, on: bool) -> Self {
        self.spin = on;
        self
    }

    /// Whether blocking waits spin first (see [`spinning`](GenericQueue::spinning)).
    #[inline]
    pub(super) fn spins(&self) -> bool {
        self.spin
    }

    /// The capacity, `usize::MAX` when unbounded.
    #[inline]
    pub(super) fn cap(&self) -> usize {
        self.cap
    }

    /// Takes the queue lock (debug builds first check that this thread is
    /// not inside this queue's `peek_with` closure, which holds it).
    #[inline]
    #[track_caller]
    pub(super) fn lock(&self) -> QueueGuard<'_> {
        reentry::check(self);
        self.queue.lock()
    }

    /// Runs `f` on the storage; the guard proves the queue lock is held.
    pub(super) fn with_inner<R>(
        &self,
        guard: &QueueGuard<'_>,
        f: impl FnOnce(&mut Inner<T, S>) -> R,
    ) -> R {
        debug_assert!(guard.locks(&self.queue));
        // SAFETY: the queue lock (borrowed through `guard`, debug-checked to
        // be this queue's) guards `inner`.
        self.inner.with_mut(|p| f(unsafe { &mut *p }))
    }

    /// Whether items in get futures' slots hold a place in the capacity
    /// (`Inner::held`): in a bounded queue only.
    #[inline]
    fn reserves(&self) -> bool {
        self.cap != usize::MAX
    }

    /// Under the lock, for a put or a reserve that must not wait: whether
    /// the queue is closed, and whether there is room. A ring queue takes
    /// its place at once (lock-free puts race for the places too), so
    /// `(false, true)` there means the caller owns a place.
    fn closed_or_room(&self, inner: &Inner<T, S>) -> (bool, bool) {
        let closed = inner.closed;
        let room = if self.ring.is_some() {
            !closed && self.reserve()
        } else {
            self.has_room(inner)
        };
        (closed, room)
    }

    /// Under the lock: whether a put may go in now (`held`; a ring
    /// queue's `occupied`).
    #[inline]
    pub(super) fn has_room(&self, inner: &Inner<T, S>) -> bool {
        if self.ring.is_some() {
            return self.occupied() < self.cap;
        }
        inner.items.len() + self.held() < self.cap
    }

    /// Whether this queue keeps its items in the lock-free ring.
    #[inline]
    pub(super) fn is_ring(&self) -> bool {
        self.ring.is_some()
    }

    /// Ring queues: the places taken (`occupied`).
    #[inline]
    fn occupied(&self) -> usize {
        self.occupied.0.load(Ordering::SeqCst) as usize
    }

    /// Ring queues: takes a place for a put if one is free (without the
    /// lock: the only way `occupied` rises).
    #[inline]
    fn reserve(&self) -> bool {
        let mut taken = self.occupied.0.load(Ordering::Relaxed);
        while (taken as usize) < self.cap {
            match self.occupied.0.compare_exchange_weak(
                taken,
                taken + 1,
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => taken = now,
            }
        }
        false
    }

    /// Under the lock: the items stored (ring and stash, or the storage).
    fn stored(&self, inner: &Inner<T, S>) -> usize {
        match &self.ring {
            Some(ring) => ring.len() + inner.stash.len(),
            None => inner.items.len(),
        }
    }

    /// Under the lock: takes the next stored item (a ring queue's stash
    /// first).
    fn pop_stored(&self, inner: &mut Inner<T, S>) -> Option<T> {
        match &self.ring {
            Some(ring) => match inner.stash.pop_front() {
                Some((_, item)) => {
                    self.stash_len.fetch_sub(1, Ordering::SeqCst);
                    Some(item)
                }
                None => ring.pop(),
            },
            None => inner.items.pop(),
        }
    }

    /// Ring queues: the readiness summary (`spin.rs`'s flags) read from
    /// the ring and the counts, without the lock; `None` for the others.
    #[inline]
    pub(super) fn ring_readiness(&self) -> Option<u64> {
        let ring = self.ring.as_ref()?;
        let mut flags = 0;
        if ring.len() > 0 || self.stash_len.load(Ordering::Relaxed) > 0 {
            flags |= HAS_ITEMS;
        }
        if self.occupied.0.load(Ordering::Relaxed) < self.cap as u64 {
            flags |= HAS_ROOM;
        }
        if ring.is_marked() {
            flags |= IS_CLOSED;
        }
        Some(flags)
    }

    /// Whether a ring queue stores an item now (a look without the lock,
    /// after a getter counted itself).
    pub(super) fn ring_has_items(&self) -> bool {
        match &self.ring {
            // The stash changes only under the lock, which the getter holds.
            Some(ring) => self.stash_len.load(Ordering::Relaxed) > 0 || ring.has_items_in_order(),
            None => false,
        }
    }

    /// Whether a ring queue has a free place, read for a putter that has
    /// just counted itself (`putters`): a read-modify-write of `occupied`
    /// that changes nothing (Release), so it joins the order of the
    /// changes to `occupied`. A release (`release_held`) whose decrement
    /// comes later reads it (Acquire) and then sees the putter; one that
    /// came earlier shows in the value read. No fence on the release's
    /// side (see `Ring::has_items_in_order` for the same pattern).
    pub(super) fn ring_room_in_order(&self) -> bool {
        (self.occupied.0.fetch_add(0, Ordering::AcqRel) as usize) < self.cap
    }

    /// The places get futures hold now (`held`).
    #[inline]
    pub(super) fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst) as usize
    }

    /// The oldest queued node of `role` (a getter or a putter), not
    /// necessarily the front (see `Inner::getters`). The pointer is the one
    /// the list holds (derived from the whole entry).
    fn first_of(&self, guard: &QueueGuard<'_>, role: Role) -> Option<*const Node> {
        let queued = match role {
            Role::Getter => self.getters.load(Ordering::Relaxed) as usize,
            Role::Putter => self.putters.load(Ordering::Relaxed) as usize,
            Role::Handed | Role::Closed | Role::Reserver | Role::Granted => 0,
        };
        if queued == 0 {
            return None;
        }
        guard
            .waiting()
            .find(|node| node.data::<Role>() == role)
            .map(|node| node.node())
    }

    /// Under the lock: hands `item` to the oldest waiting getter (whose
    /// slot then holds a place), or stores it (`restore`: as an undelivered
    /// item, the next one out). The caller has checked the room (or, for a
    /// give-back, freed the place the item held). Returns the waker to wake
    /// after unlocking.
    pub(super) fn place(
        &self,
        guard: &mut QueueGuard<'_>,
        item: T,
        restore: bool,
    ) -> Option<Waker> {
        if let Some(ring) = &self.ring {
            // Behind the ring's items (or, given back, ahead of them), then
            // the oldest stored item to the oldest waiting getter: the ring
            // may hold items that lock-free puts have not handed over yet.
            if restore {
                // Counted, then the ring's head read in its claims' order:
                // a lock-free get whose claim comes after that read sees
                // the count (`get_fast`) and takes this item instead; one
                // that claimed before it keeps its own (it took its item
                // before this give-back).
                self.stash_len.fetch_add(1, Ordering::SeqCst);
                let rank = give_back_rank(ring.head_in_order());
                self.with_inner(guard, |inner| {
                    // Ahead of every stored item too, as `Fifo::restore`
                    // (the stash stays sorted).
                    let rank = inner.stash.front().map_or(rank, |&(r, _)| r.min(rank));
                    inner.stash.push_front((rank, item));
                });
            } else {
                // A put that checked `closed` under this lock, or a send
                // permit's item, which goes in even after a close (its
                // place was taken before it).
                let mut resync = false;
                ring.push_even_marked(item, |position| resync = self.claimed_task(position));
                if resync {
                    self.sync_ring_tasks();
                }
            }
            return self.serve_getter(guard).flatten();
        }
        if let Some(node) = self.first_of(guard, Role::Getter) {
            let entry = node.cast::<Entry<Item<T>>>();
            // SAFETY: `first_of` found the entry queued in this queue, whose
            // lock we hold: it is alive and WAITING here.
            unsafe { (*entry).hand(guard, item) };
            self.getters.fetch_sub(1, Ordering::SeqCst);
            if self.reserves() {
                self.held.fetch_add(1, Ordering::SeqCst);
            }
            // SAFETY: as above: WAITING in this queue.
            return unsafe { guard.notify_waiting(node, Role::Handed) };
        }
        self.with_inner(guard, |inner| {
            if restore {
                inner.items.restore(item);
            } else {
                inner.items.push(item);
            }
        });
        None
    }

    /// Ring queues, under the lock: hands the oldest stored item to the
    /// oldest waiting getter, if both exist (its slot then holds the place
    /// the item took). Returns the getter's waker.
    /// `None` if nobody was served.
    fn serve_getter(&self, guard: &mut QueueGuard<'_>) -> Option<Option<Waker>> {
        let node = self.first_of(guard, Role::Getter)?;
        let item = self.with_inner(guard, |inner| self.pop_stored(inner))?;
        let entry = node.cast::<Entry<Item<T>>>();
        // SAFETY: `first_of` found the entry queued in this queue, whose
        // lock we hold: it is alive and WAITING here.
        unsafe { (*entry).hand(guard, item) };
        self.getters.fetch_sub(1, Ordering::SeqCst);
        // SAFETY: as above: WAITING in this queue.
        Some(unsafe { guard.notify_waiting(node, Role::Handed) })
    }

    /// Ring queues: a put without the queue lock. `Err(item)`: take the
    /// locked path (no place free, or a putter waits and goes first).
    /// `Ok(Err(Closed))` gives the item back.
    #[inline]
    pub(super) fn put_fast(&self, item: T) -> Result<Result<(), TryPutError<T>>, T> {
        let Some(ring) = &self.ring else {
            return Err(item);
        };
        if ring.is_marked() {
            return Ok(Err(TryPutError::Closed(item)));
        }
        // Queued putters keep their order: the locked path admits them.
        if self.putters.load(Ordering::Relaxed) > 0 || !self.reserve() {
            return Err(item);
        }
        // The claim counts the task (`claimed_task`).
        let mut resync = false;
        if let Err(item) = ring.push(item, |position| resync = self.claimed_task(position)) {
            // Closed meanwhile: nothing went in.
            self.unput();
            return Ok(Err(TryPutError::Closed(item)));
        }
        if resync {
            self.sync_ring_tasks();
        }
        // A getter that queues counts itself and then reads the ring's tail
        // with a read-modify-write (`Ring::has_items_in_order`): if that
        // came before the claim in `push` (Acquire), this load sees its
        // count; if after, the getter saw this item. No fence here: the
        // fast path pays nothing extra while nobody waits.
        if self.getters.load(Ordering::Relaxed) > 0 {
            self.serve_getters();
        }
        Ok(Ok(()))
    }

    /// A lock-free put that found the ring closed after taking its place:
    /// the place is given back (no task was counted: the ring claimed no
    /// position).
    #[cold]
    #[inline(never)]
    fn unput(&self) {
        let _guard = self.lock();
        self.occupied.0.fetch_sub(1, Ordering::SeqCst);
    }

    /// After a lock-free put: hands stored items to waiting getters, oldest
    /// first, for as long as both exist.
    #[cold]
    #[inline(never)]
    fn serve_getters(&self) {
        loop {
            let mut guard = self.lock();
            let served = self.serve_getter(&mut guard);
            drop(guard);
            match served {
                Some(waker) => wake(waker),
                None => break,
            }
        }
    }

    /// Ring queues: a get without the queue lock. `None`: take the locked
    /// path (not a ring queue, a getter waits and goes first, an item was
    /// given back, or the queue is closed). The item keeps its place
    /// (`occupied`) until the caller frees it (`release_held`).
    #[inline]
    pub(super) fn get_fast(&self) -> Option<Result<T, TryGetError>> {
        let ring = self.ring.as_ref()?;
        if self.getters.load(Ordering::Relaxed) > 0 || self.stash_len.load(Ordering::Relaxed) > 0 {
            return None;
        }
        match ring.pop_ranked() {
            Some((position, item)) => {
                // An item stashed meanwhile may be older (a give-back, or
                // the item `peek_with` moved there, if it claimed a lower
                // position): the stash sorts it out. `peek_with` counts
                // before it claims, so if it claimed a lower position, the
                // claim above (a read-modify-write of the ring's head
                // later in its order, acquire/release) makes that count
                // visible to this load; if it claimed a higher one, this
                // item is older anyway. A give-back orders itself likewise
                // (`GenericQueue::place`).
                if self.stash_len.load(Ordering::SeqCst) > 0 {
                    return Some(Ok(self.behind_stash(position, item)));
                }
                Some(Ok(item))
            }
            None if ring.is_marked() => None,
            None => Some(Err(TryGetError::Empty)),
        }
    }

    /// A lock-free get claimed `item` (at ring `position`) while the stash
    /// held items: the next one out in rank order goes out, `item` joins
    /// the stash in its place (given-back items first, then ring items by
    /// position). Under the lock, so a `peek_with` that moved an item
    /// meanwhile has finished.
    #[cold]
    #[inline(never)]
    fn behind_stash(&self, position: u64, item: T) -> T {
        let guard = self.lock();
        self.with_inner(&guard, |inner| {
            let rank = ring_rank(position);
            let at = inner.stash.partition_point(|&(r, _)| r < rank);
            inner.stash.insert(at, (rank, item));
            inner
                .stash
                .pop_front()
                .expect("the stash holds the item just inserted")
                .1
        })
    }

    /// One more unfinished task (with or without the lock; a put counts
    /// before its item can be seen, so a `task_done` for it never finds
    /// the count at zero). `guard`: the queue lock, if the caller holds it.
    /// A ring queue counts nothing here: the ring's claim counts the task
    /// (`claimed_task`).
    #[inline]
    fn count_new_task(&self, guard: Option<&QueueGuard<'_>>) {
        if self.ring.is_some() {
            return;
        }
        if self.unfinished.fetch_add(1, Ordering::SeqCst) == 0 {
            match guard {
                Some(guard) => self.sync_all_done(guard),
                None => self.sync_all_done(&self.lock()),
            }
        }
    }

    /// Under the lock, after `unfinished` went to or from zero: `all_done`
    /// follows the count as it is now. Every change across zero syncs, and
    /// the syncs are serialized by the lock, so the last one leaves the
    /// event right.
    fn sync_all_done(&self, _guard: &QueueGuard<'_>) {
        if self.unfinished.load(Ordering::SeqCst) == 0 {
            self.all_done.set();
        } else {
            self.all_done.clear();
        }
    }

    /// Ring queues: a put claimed ring `position` (its item not written
    /// yet), which counts it as a task (the tail moved). If every task
    /// was done as it claimed (`finished` reached the position), the count
    /// went from zero: `all_done` is cleared now, under `task_sync`, before
    /// the item can be seen. `true`: the count is zero even with this task
    /// (a `task_done` too many counted it), so the event must be set, which
    /// wakes joiners (user code): the caller syncs once the item is written
    /// (`sync_ring_tasks`), never while the slot is claimed and unwritten
    /// (a panic there would leave it so for good). A `task_done` writes `finished` and then reads
    /// the tail in the claims' order (`finish_tasks`): if that read came
    /// before this claim, the claim (Acquire) makes its `finished` visible
    /// here; if after, the `task_done` counted this task. Either way one
    /// of them sees the other, with one plain load on this side.
    #[inline]
    fn claimed_task(&self, position: u64) -> bool {
        self.finished.load(Ordering::Relaxed) >= position && self.clear_ring_all_done()
    }

    /// [`claimed_task`](GenericQueue::claimed_task)'s clear, out of line
    /// (once per run of puts that starts with every task done). Clearing
    /// wakes nobody.
    #[cold]
    #[inline(never)]
    fn clear_ring_all_done(&self) -> bool {
        let _sync = self.lock_task_sync();
        if self.unfinished() == 0 {
            return true;
        }
        self.all_done.clear();
        false
    }

    /// Ring queues: `all_done` follows the count as it is now (under
    /// `task_sync`).
    #[cold]
    #[inline(never)]
    fn sync_ring_tasks(&self) {
        let sync = self.lock_task_sync();
        self.sync_ring_all_done(&sync);
    }

    /// Ring queues: takes `task_sync` (a panic under it, in a joiner's
    /// waker, leaves nothing half-done: the event is a whole state).
    fn lock_task_sync(&self) -> MutexGuard<'_, ()> {
        self.task_sync
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Ring queues, under `task_sync`: `all_done` follows the count as it
    /// is now.
    fn sync_ring_all_done(&self, _sync: &MutexGuard<'_, ()>) {
        if self.unfinished() == 0 {
            self.all_done.set();
        } else {
            self.all_done.clear();
        }
    }

    /// The unfinished tasks now (a snapshot).
    pub(super) fn unfinished(&self) -> usize {
        match &self.ring {
            // `finished` first: the tail only grows, so the difference is
            // never below the count at the time of the first read (a
            // `task_done` that overshot and is undoing, in `finish_tasks`,
            // is the only moment `finished` passes the tail).
            Some(ring) => {
                let finished = self.finished.load(Ordering::SeqCst);
                ring.tail().saturating_sub(finished) as usize
            }
            None => self.unfinished.load(Ordering::SeqCst) as usize,
        }
    }

    /// Under the lock: up to `n` tasks done; `false` (changing nothing) if
    /// fewer than `n` are unfinished.
    pub(super) fn finish_tasks(&self, guard: &QueueGuard<'_>, n: usize) -> Result<usize, ()> {
        if let Some(ring) = &self.ring {
            let sync = self.lock_task_sync();
            let before = self.finished.load(Ordering::Relaxed);
            let after = before + n as u64;
            // Written before the tail is read in the claims' order: a put
            // whose claim comes later sees it (`claimed_task`) and syncs
            // after this (it waits for `task_sync`); one whose claim came
            // earlier shows in the tail read here.
            self.finished.store(after, Ordering::Release);
            let tail = ring.tail_in_order();
            if after > tail {
                // More than are unfinished: undone (a put that saw the
                // overshoot just syncs once more, after this).
                self.finished.store(before, Ordering::Release);
                return Err(());
            }
            if tail == after && n > 0 {
                self.sync_ring_all_done(&sync);
            }
            return Ok((tail - after) as usize);
        }
        let mut now = self.unfinished.load(Ordering::SeqCst);
        loop {
            let left = now.checked_sub(n as u64).ok_or(())?;
            match self.unfinished.compare_exchange_weak(
                now,
                left,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => {
                    if left == 0 && n > 0 {
                        self.sync_all_done(guard);
                    }
                    return Ok(left as usize);
                }
                Err(seen) => now = seen,
            }
        }
    }

    /// Under the lock: a put that must not wait. `Err` gives the item back.
    pub(super) fn put_locked(
        &self,
        guard: &mut QueueGuard<'_>,
        item: T,
    ) -> Result<Option<Waker>, TryPutError<T>> {
        let (closed, room) = self.with_inner(guard, |inner| self.closed_or_room(inner));
        if closed {
            return Err(TryPutError::Closed(item));
        }
        // Room counts the places that get futures hold (`Inner::held`): a
        // waiting getter does not make room by itself.
        if room {
            // Counted before any getter can see it, so a `task_done` for
            // it never finds the count at zero.
            self.count_new_task(Some(guard));
            let waker = self.place(guard, item, false);
            self.publish(guard);
            return Ok(waker);
        }
        Err(TryPutError::Full(item))
    }

    /// Under the lock: a get that must not wait; refills the storage from
    /// the oldest waiting putter. `hold`: the item goes into a get future's
    /// slot, where it keeps its place in a bounded queue's capacity until
    /// the future returns it or gives it back (`Inner::held`); a `try_get`
    /// returns it at once.
    pub(super) fn get_locked(
        &self,
        guard: &mut QueueGuard<'_>,
        hold: bool,
    ) -> Result<(T, Option<Waker>), TryGetError> {
        let (item, closed) = self.with_inner(guard, |inner| {
            // A permit still out may put an item in: not drained yet.
            (self.pop_stored(inner), inner.closed && inner.permits == 0)
        });
        let Some(item) = item else {
            return Err(if closed {
                TryGetError::Closed
            } else {
                TryGetError::Empty
            });
        };
        if self.ring.is_some() {
            // A ring queue's item keeps the place it took (`occupied`) until
            // it leaves: the caller frees it (`release_held`), also for a
            // `try_get`.
            return Ok((item, None));
        }
        let hold = hold && self.reserves();
        if hold {
            self.held.fetch_add(1, Ordering::SeqCst);
        }
        let putter = if self.putters.load(Ordering::Relaxed) > 0 {
            self.refill(guard, hold)
        } else {
            None
        };
        self.publish(guard);
        Ok((item, putter))
    }

    /// `get_locked`'s refill from a waiting putter, out of line. It may run
    /// the storage's push, which is user code (a priority queue's `Ord`).
    /// If that panics, the putter's item stays stored (the ready-made
    /// storages lose nothing) and the putter stays queued with an empty
    /// slot (the next admission serves it); the item the get took, never
    /// delivered, is lost to the panic: it counts as done, or `join` would
    /// wait for it forever.
    #[cold]
    #[inline(never)]
    fn refill(&self, guard: &mut QueueGuard<'_>, hold: bool) -> Option<Waker> {
        let admitted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.admit(guard)));
        let [putter, getter] = match admitted {
            Ok(wakers) => wakers,
            Err(panic) => {
                if hold {
                    self.held.fetch_sub(1, Ordering::SeqCst);
                }
                let _ = self.finish_tasks(guard, 1);
                self.publish(guard);
                std::panic::resume_unwind(panic);
            }
        };
        // The storage held an item, so no getter was waiting (getters wait
        // only while it is empty): the putter's item was stored.
        debug_assert!(
            getter.is_none(),
            "polysync: a getter waited beside stored items"
        );
        putter
    }

    /// Under the lock: if there is room and a putter waits, the oldest
    /// waiting putter's item goes in (to the oldest waiting getter, or into
    /// the storage) and the putter is served. Returns the wakers to wake
    /// after unlocking: the putter's and a served getter's.
    fn admit(&self, guard: &mut QueueGuard<'_>) -> [Option<Waker>; 2] {
        if !self.with_inner(guard, |inner| self.has_room(inner)) {
            return [None, None];
        }
        let Some((node, role)) = self.first_putter(guard) else {
            return [None, None];
        };
        // A ring queue takes the place first (a lock-free put may have
        // taken the one seen free).
        if self.ring.is_some() && !self.reserve() {
            return [None, None];
        }
        if role == Role::Reserver {
            // A reserve waits in the putters' line: the place is its permit
            // (a ring queue's taken just above).
            self.count_permit(guard);
            self.putters.fetch_sub(1, Ordering::SeqCst);
            // SAFETY: `first_putter` found it WAITING in this queue, locked
            // by `guard`.
            return [unsafe { guard.notify_waiting(node, Role::Granted) }, None];
        }
        let entry = node.cast::<Entry<Item<T>>>();
        // SAFETY: `first_putter` found the entry queued in this queue,
        // locked by `guard`: it is alive and WAITING here.
        let moved = unsafe { (*entry).take_queued(guard) };
        let mut getter = None;
        if moved.is_none() && self.ring.is_some() {
            // Nothing goes in after all: the place is free again.
            self.occupied.0.fetch_sub(1, Ordering::SeqCst);
        }
        if let Some(moved) = moved {
            // Counted before any getter can see it, so a `task_done` for it
            // never finds the count at zero.
            self.count_new_task(Some(guard));
            // A panic in the storage's push leaves the putter queued with
            // an empty slot (see `get_locked`): served by the next call.
            getter = self.place(guard, moved, false);
        }
        self.putters.fetch_sub(1, Ordering::SeqCst);
        // SAFETY: as above: WAITING in this queue.
        let putter = unsafe { guard.notify_waiting(node, Role::Handed) };
        [putter, getter]
    }

    /// Takes back an item a dropped get future held: to the next waiting
    /// getter, or into the storage as the next one out. The place the item
    /// held in a bounded queue (`Inner::held`) is freed for it, so it
    /// always fits.
    pub(super) fn restore(&self, item: T) {
        let mut guard = self.lock();
        // (A ring queue's item keeps its place in `occupied`.)
        if self.reserves() && self.ring.is_none() {
            self.held.fetch_sub(1, Ordering::SeqCst);
        }
        let waker = self.place(&mut guard, item, true);
        self.publish(&mut guard);
        drop(guard);
        wake(waker);
    }

    /// A get future returns `item` from its slot to its caller: in a
    /// bounded queue the place it held (`Inner::held`) is free now, and the
    /// oldest waiting putter may take it. User code runs here (a storage's
    /// push, wakers): if it panics, `item` is lost to the panic ([`lose`]),
    /// and the panic goes on.
    ///
    /// [`lose`]: GenericQueue::lose
    ///
    /// No lock unless a putter waits (or the queue spins and must publish
    /// its readiness): see `putters` for why no putter is missed.
    #[inline]
    pub(super) fn release_held(&self, item: T) -> T {
        if self.reserves() {
            let admit = if self.ring.is_some() {
                // A putter that queues counts itself and then reads
                // `occupied` with a read-modify-write
                // (`ring_room_in_order`): either it comes after this
                // decrement in `occupied`'s order and sees the room, or
                // this decrement reads it (Acquire) and the load below
                // sees the putter. No fence.
                self.occupied.0.fetch_sub(1, Ordering::AcqRel);
                self.putters.load(Ordering::Relaxed) > 0
            } else {
                self.held.fetch_sub(1, Ordering::SeqCst);
                // Pairs with the fence of a queueing putter (`arrive_locked`).
                fence(Ordering::SeqCst);
                // A spinning queue without a ring republishes its readiness.
                self.putters.load(Ordering::SeqCst) > 0 || self.spins()
            };
            if admit {
                if let Err(panic) = self.admit_released() {
                    self.lose(item);
                    std::panic::resume_unwind(panic);
                }
            }
        }
        item
    }

    /// After a release: under the lock, admits the oldest waiting putter
    /// if there is room now.
    #[cold]
    #[inline(never)]
    fn admit_released(&self) -> std::thread::Result<()> {
        let mut guard = self.lock();
        let admitted =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.admit(&mut guard)));
        let wakers = match admitted {
            Ok(wakers) => wakers,
            Err(panic) => {
                // The storage's push panicked (see `get_locked`).
                self.publish(&mut guard);
                return Err(panic);
            }
        };
        self.publish(&mut guard);
        drop(guard);
        // Both, even if the first panics: the putter's waker must not
        // strand the getter it served.
        wake_each(wakers)
    }

    /// An item taken out of the queue that a panic keeps from its caller
    /// (a waker or a storage method panicked after the get took it): it
    /// counts as done, or `join` would wait for it forever, and drops here,
    /// outside the lock.
    #[cold]
    fn lose(&self, item: T) {
        let guard = self.lock();
        let _ = self.finish_tasks(&guard, 1);
        drop(guard);
        drop(item);
    }

    /// Puts `item` if that needs no waiting: hands it to a waiting getter or
    /// stores it if there is room.
    ///
    /// ```
    /// use polysync::queue::{Queue, TryPutError};
    /// let q = Queue::bounded(1);
    /// assert!(q.try_put(1).is_ok());
    /// assert_eq!(q.try_put(2), Err(TryPutError::Full(2)));
    /// ```
    pub fn try_put(&self, item: T) -> Result<(), TryPutError<T>> {
        let item = match self.put_fast(item) {
            Ok(done) => return done,
            Err(item) => item,
        };
        let mut guard = self.lock();
        let waker = self.put_locked(&mut guard, item)?;
        drop(guard);
        wake(waker);
        Ok(())
    }

    /// Puts `item`, waiting asynchronously while the queue is full.
    ///
    /// # Cancel safety
    /// Dropping the future withdraws the put and **drops the item** with
    /// it, unless the item already went in (then it stays in the queue, or
    /// with the getter it was handed to). To get the item back instead
    /// (say, in a `select!` branch that gives up), call [`Put::cancel`] on
    /// the pinned future. Either way the putter's place in line goes to the
    /// next one; nothing else changes.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let q = polysync::Queue::bounded(1);
    /// q.put(5).await.unwrap();
    /// assert_eq!(q.len(), 1);
    /// # });
    /// ```
    pub fn put(&self, item: T) -> Put<'_, T, S> {
        Put::new(self, item)
    }

    /// Puts `item`, blocking the current execution unit while the queue is
    /// full: [`put_with`](GenericQueue::put_with) on the unit's waiter.
    /// Fails only if the queue is or gets closed: [`PutError`], the item
    /// inside.
    ///
    /// # Cancellation
    /// If the unit's waiter reports cancellation, the put is withdrawn, the
    /// item dropped, and the unit unwinds through [`Waiter::cancelled`]
    /// (the same holds for `try_put_for` and `try_put_until`). Call
    /// `put_with` to get the item back in [`TryPutError::Cancelled`] instead.
    ///
    /// ```
    /// use polysync::queue::{PutError, Queue};
    /// let q = Queue::unbounded();
    /// q.put_blocking('x').unwrap();
    /// assert_eq!(q.try_get(), Ok('x'));
    /// q.close();
    /// assert_eq!(q.put_blocking('y'), Err(PutError('y')));
    /// ```
    #[inline]
    pub fn put_blocking(&self, item: T) -> Result<(), PutError<T>> {
        // As `put_current`, with the untimed wait's error mapping kept out
        // of line (the no-wait path stays as small as `try_put`).
        green_checkpoint();
        match self.try_put(item) {
            Ok(()) => Ok(()),
            Err(TryPutError::Full(item)) => self.put_blocking_wait(item),
            Err(error) => {
                debug_assert!(
                    error.is_closed(),
                    "try_put never waits, so it is never cancelled"
                );
                Err(PutError(error.into_inner()))
            }
        }
    }

    /// The waiting half of [`put_blocking`](GenericQueue::put_blocking).
    #[cold]
    #[inline(never)]
    fn put_blocking_wait(&self, item: T) -> Result<(), PutError<T>> {
        match unwind_cancelled(|waiter| self.put_wait(item, waiter, None)) {
            Ok(()) => Ok(()),
            Err(TryPutError::Closed(item)) => Err(PutError(item)),
            Err(TryPutError::Full(_)) => {
                unreachable!("a put without a deadline waits until there is room, never times out")
            }
            Err(TryPutError::Cancelled(_)) => {
                unreachable!("a cancelled plain put unwinds (unwind_cancelled), never returns")
            }
        }
    }

    /// Puts `item`, blocking for at most `timeout` while the queue is full;
    /// [`TryPutError::Full`] gives the item back if time ran out.
    ///
    /// ```
    /// use polysync::queue::{Queue, TryPutError};
    /// use std::time::Duration;
    /// let q = Queue::bounded(1);
    /// q.try_put_for(1, Duration::ZERO).unwrap();
    /// assert_eq!(q.try_put_for(2, Duration::from_millis(1)), Err(TryPutError::Full(2)));
    /// ```
    pub fn try_put_for(&self, item: T, timeout: Duration) -> Result<(), TryPutError<T>> {
        self.put_current(item, deadline_after(timeout))
    }

    /// Puts `item`, blocking until `deadline` at the latest while the queue
    /// is full; [`TryPutError::Full`] gives the item back if time ran out.
    ///
    /// ```
    /// use std::time::Instant;
    /// let q = polysync::Queue::bounded(1);
    /// assert!(q.try_put_until(1, Instant::now()).is_ok());
    /// assert!(q.try_put_until(2, Instant::now()).is_err());
    /// ```
    pub fn try_put_until(&self, item: T, deadline: Instant) -> Result<(), TryPutError<T>> {
        self.put_current(item, Some(deadline))
    }

    /// Puts `item`, blocking on `waiter` while the queue is full, until
    /// `deadline` at the latest: the entry point that every blocking put
    /// runs with the current unit's waiter. Library code that knows its
    /// waiter calls it directly. It tries at once first; a
    /// [spinning](GenericQueue::spinning) queue then spins briefly before
    /// it waits, if `waiter` [`spins`](Waiter::spins).
    ///
    /// # Errors
    /// The item comes back in every error: [`TryPutError::Closed`] if the
    /// queue is or gets closed, [`TryPutError::Full`] if `deadline` passed,
    /// [`TryPutError::Cancelled`] if `waiter` reported cancellation. The put is
    /// withdrawn either way; if the item went in while the put was giving
    /// up, the put succeeded.
    ///
    /// ```
    /// use polysync::lowlevel::ThreadWaiter;
    /// use polysync::queue::{Queue, TryPutError};
    /// use std::time::Instant;
    ///
    /// let q = Queue::bounded(1);
    /// ThreadWaiter::with_current(|w| {
    ///     q.put_with(1, w, None).unwrap();
    ///     let now = Some(Instant::now());
    ///     assert_eq!(q.put_with(2, w, now), Err(TryPutError::Full(2))); // given back
    ///     q.close();
    ///     assert_eq!(q.put_with(3, w, None), Err(TryPutError::Closed(3)));
    /// });
    /// assert_eq!(q.putting(), 0);
    /// ```
    pub fn put_with<W: Waiter + ?Sized>(
        &self,
        item: T,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<(), TryPutError<T>> {
        match self.try_put(item) {
            Err(TryPutError::Full(item)) => self.put_wait(item, waiter, deadline),
            done => done,
        }
    }

    /// The plain blocking puts: [`put_with`](GenericQueue::put_with) on the
    /// current unit's waiter, looked up only once the put must wait (so a
    /// put that finds room costs what `try_put` costs, and asks no backend);
    /// a cancellation unwinds.
    #[inline]
    fn put_current(&self, item: T, deadline: Option<Instant>) -> Result<(), TryPutError<T>> {
        // A green unit's checkpoint comes before the attempt (never while
        // it holds what the call took).
        green_checkpoint();
        match self.try_put(item) {
            Err(TryPutError::Full(item)) => {
                unwind_cancelled(|waiter| self.put_wait(item, waiter, deadline))
            }
            done => done,
        }
    }

    /// The waiting half of [`put_with`](GenericQueue::put_with), out of line
    /// so that the no-wait path stays small: spin (if the queue and the
    /// waiter both allow it), then drive a [`Put`] on `waiter`.
    #[cold]
    #[inline(never)]
    fn put_wait<W: Waiter + ?Sized>(
        &self,
        item: T,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<(), TryPutError<T>> {
        let mut item = Some(item);
        let spun = self.spin_then(waiter, HAS_ROOM | IS_CLOSED, || {
            match self.try_put(item.take().expect("an item to put")) {
                Err(TryPutError::Full(back)) => {
                    item = Some(back);
                    None
                }
                done => Some(done),
            }
        });
        if let Some(done) = spun {
            return done;
        }
        let item = item.expect("not put while spinning");
        match drive(waiter, pin!(self.put(item)), deadline) {
            // Completed, or the item went in (or the close came) as it gave up.
            Ok(done) => done.map_err(TryPutError::from),
            // Withdrawn with the item still in hand: give it back.
            Err((WaitError::TimedOut, item)) => Err(TryPutError::Full(item)),
            Err((WaitError::Cancelled, item)) => Err(TryPutError::Cancelled(item)),
        }
    }

    /// Takes the next item (by the storage's order) if there is one, without
    /// waiting.
    ///
    /// ```
    /// use polysync::queue::{Queue, TryGetError};
    /// let q = Queue::unbounded();
    /// q.try_put(1).unwrap();
    /// assert_eq!(q.try_get(), Ok(1));
    /// assert_eq!(q.try_get(), Err(TryGetError::Empty));
    /// ```
    pub fn try_get(&self) -> Result<T, TryGetError> {
        if self.ring.is_some() {
            let item = match self.get_fast() {
                Some(got) => got?,
                None => {
                    let mut guard = self.lock();
                    self.get_locked(&mut guard, true)?.0
                }
            };
            // The item leaves the queue: its place is free.
            return Ok(self.release_held(item));
        }
        let mut guard = self.lock();
        let (item, waker) = self.get_locked(&mut guard, false)?;
        drop(guard);
        if waker.is_some() {
            // A putter's waker is user code: if it panics, the item is
            // lost to the panic (counted done), not silently left counted.
            if let Err(panic) = wake_each([waker]) {
                self.lose(item);
                std::panic::resume_unwind(panic);
            }
        }
        Ok(item)
    }

    /// Takes the next item, waiting asynchronously while the queue is
    /// empty.
    ///
    /// # Cancel safety
    /// Dropping the future never loses an item: it withdraws the get, and
    /// an item already handed to it goes back into the queue as the next
    /// one out (where the storage's order allows), or straight to the next
    /// waiting getter. To keep such an item instead, call [`Get::cancel`]
    /// on the pinned future, which returns it.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let q = polysync::Queue::unbounded();
    /// q.try_put(3).unwrap();
    /// assert_eq!(q.get().await, Ok(3));
    /// # });
    /// ```
    pub fn get(&self) -> Get<'_, T, S> {
        Get::new(self)
    }

    /// Takes the next item, blocking the current execution unit while the
    /// queue is empty: [`get_with`](GenericQueue::get_with) on the unit's
    /// waiter. Fails only once the queue is closed and drained:
    /// [`GetError`].
    ///
    /// # Cancellation
    /// If the unit's waiter reports cancellation, the get is withdrawn
    /// (nothing is taken from the queue) and the unit unwinds through
    /// [`Waiter::cancelled`]; the same holds for `try_get_for` and
    /// `try_get_until`. An item handed over just before is returned instead.
    ///
    /// ```
    /// let q = polysync::Queue::unbounded();
    /// q.try_put(1).unwrap();
    /// q.close();
    /// assert_eq!(q.get_blocking(), Ok(1));
    /// assert_eq!(q.get_blocking(), Err(polysync::queue::GetError));
    /// ```
    #[inline]
    pub fn get_blocking(&self) -> Result<T, GetError> {
        // As `get_current`, with the untimed wait's error mapping kept out
        // of line (the no-wait path stays as small as `try_get`).
        green_checkpoint();
        match self.try_get() {
            Ok(item) => Ok(item),
            Err(TryGetError::Empty) => self.get_blocking_wait(),
            Err(error) => {
                debug_assert_eq!(error, TryGetError::Closed, "try_get is never cancelled");
                Err(GetError)
            }
        }
    }

    /// The waiting half of [`get_blocking`](GenericQueue::get_blocking).
    #[cold]
    #[inline(never)]
    fn get_blocking_wait(&self) -> Result<T, GetError> {
        match unwind_cancelled(|waiter| self.get_wait(waiter, None)) {
            Ok(item) => Ok(item),
            Err(TryGetError::Closed) => Err(GetError),
            Err(TryGetError::Empty) => {
                unreachable!("a get without a deadline waits for an item, never times out")
            }
            Err(TryGetError::Cancelled) => {
                unreachable!("a cancelled plain get unwinds (unwind_cancelled), never returns")
            }
        }
    }

    /// Takes the next item, blocking for at most `timeout` while the queue
    /// is empty.
    ///
    /// ```
    /// use polysync::queue::{Queue, TryGetError};
    /// let q = Queue::<u8>::unbounded();
    /// let t = std::time::Duration::from_millis(1);
    /// assert_eq!(q.try_get_for(t), Err(TryGetError::Empty));
    /// ```
    pub fn try_get_for(&self, timeout: Duration) -> Result<T, TryGetError> {
        self.get_current(deadline_after(timeout))
    }

    /// Takes the next item, blocking until `deadline` at the latest while
    /// the queue is empty.
    ///
    /// ```
    /// let q = polysync::Queue::unbounded();
    /// q.try_put(9).unwrap();
    /// assert_eq!(q.try_get_until(std::time::Instant::now()), Ok(9));
    /// ```
    pub fn try_get_until(&self, deadline: Instant) -> Result<T, TryGetError> {
        self.get_current(Some(deadline))
    }

    /// Takes the next item, blocking on `waiter` while the queue is empty,
    /// until `deadline` at the latest: the entry point that every blocking
    /// get runs with the current unit's waiter. Library code that knows its
    /// waiter calls it directly. It tries at once first; a
    /// [spinning](GenericQueue::spinning) queue then spins briefly before
    /// it waits, if `waiter` [`spins`](Waiter::spins).
    ///
    /// # Errors
    /// [`TryGetError::Closed`] once the queue is closed and drained,
    /// [`TryGetError::Empty`] if `deadline` passed, [`TryGetError::Cancelled`] if
    /// `waiter` reported cancellation. The get is withdrawn either way; an
    /// item handed to it while it was giving up is returned (`Ok`), never
    /// lost.
    ///
    /// ```
    /// use polysync::lowlevel::ThreadWaiter;
    /// use polysync::queue::{Queue, TryGetError};
    /// use std::time::Instant;
    ///
    /// let q = Queue::unbounded();
    /// q.try_put(1).unwrap();
    /// ThreadWaiter::with_current(|w| {
    ///     assert_eq!(q.get_with(w, None), Ok(1));
    ///     assert_eq!(q.get_with(w, Some(Instant::now())), Err(TryGetError::Empty));
    ///     q.close();
    ///     assert_eq!(q.get_with(w, None), Err(TryGetError::Closed));
    /// });
    /// assert_eq!(q.getting(), 0);
    /// ```
    pub fn get_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<T, TryGetError> {
        match self.try_get() {
            Err(TryGetError::Empty) => self.get_wait(waiter, deadline),
            done => done,
        }
    }

    /// The plain blocking gets: [`get_with`](GenericQueue::get_with) on the
    /// current unit's waiter, looked up only once the get must wait; a
    /// cancellation unwinds.
    #[inline]
    pub(super) fn get_current(&self, deadline: Option<Instant>) -> Result<T, TryGetError> {
        green_checkpoint();
        match self.try_get() {
            Err(TryGetError::Empty) => unwind_cancelled(|waiter| self.get_wait(waiter, deadline)),
            done => done,
        }
    }

    /// The waiting half of [`get_with`](GenericQueue::get_with), out of line
    /// so that the no-wait path stays small: spin (if the queue and the
    /// waiter both allow it), then drive a [`Get`] on `waiter`.
    #[cold]
    #[inline(never)]
    fn get_wait<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<T, TryGetError> {
        let spun = self.spin_then(waiter, HAS_ITEMS | IS_CLOSED, || match self.try_get() {
            Err(TryGetError::Empty) => None,
            done => Some(done),
        });
        if let Some(done) = spun {
            return done;
        }
        match drive(waiter, pin!(self.get()), deadline) {
            // Completed, or an item (or the close) landed as it gave up.
            Ok(done) => done.map_err(TryGetError::from),
            Err((WaitError::TimedOut, ())) => Err(TryGetError::Empty),
            Err((WaitError::Cancelled, ())) => Err(TryGetError::Cancelled),
        }
    }

    /// Runs `f` on the item a get would take next, if any, without taking
    /// it.
    ///
    /// # `f` runs under the queue lock
    /// Every put and get waits while `f` runs: keep it short. `f` **must
    /// not touch this queue** (put, get, `len`, ...): the lock is not
    /// reentrant, so that would deadlock. Debug builds catch such a
    /// re-entry from the thread that runs `f` and panic instead of
    /// hanging. `f` may panic: the panic reaches the caller and leaves the
    /// queue unlocked and as it was. To look at the item without holding
    /// the lock, use [`peek`](GenericQueue::peek), which clones it.
    ///
    /// ```
    /// let q = polysync::PriorityQueue::unbounded();
    /// q.try_put(5).unwrap();
    /// q.try_put(2).unwrap();
    /// assert_eq!(q.peek_with(|next| *next * 10), Some(20));
    /// assert_eq!(q.len(), 2);
    /// ```
    pub fn peek_with<R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        let guard = self.lock();
        // After the lock: a closure that re-enters panics instead of hanging.
        let _peeking = reentry::Peeking::enter(self);
        if let Some(ring) = &self.ring {
            // Lock-free gets may take the ring's items at any time: the
            // next item moves to the stash, where only the lock's holder
            // touches it, with its position. Counted first, so that a get
            // that claims a later position sees the count and takes this
            // item instead (`get_fast`); a get that claimed an earlier one
            // and sees the count takes its own (the stash is sorted).
            return self.with_inner(&guard, |inner| {
                if inner.stash.is_empty() {
                    self.stash_len.fetch_add(1, Ordering::SeqCst);
                    match ring.pop_ranked() {
                        Some((position, item)) => {
                            inner.stash.push_back((ring_rank(position), item));
                        }
                        None => {
                            self.stash_len.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                }
                inner.stash.front().map(|(_, item)| f(item))
            });
        }
        self.with_inner(&guard, |inner| inner.items.peek().map(f))
    }

    /// A clone of the item a get would take next, if any, without taking it.
    ///
    /// ```
    /// let q = polysync::LifoQueue::unbounded();
    /// q.try_put("a").unwrap();
    /// q.try_put("b").unwrap();
    /// assert_eq!(q.peek(), Some("b"));
    /// ```
    pub fn peek(&self) -> Option<T>
    where
        T: Clone,
    {
        self.peek_with(T::clone)
    }

    /// Closes the queue: later puts fail ([`PutError`],
    /// [`TryPutError::Closed`]), getters take what is left and then fail
    /// ([`GetError`], [`TryGetError::Closed`]). Waiting
    /// putters and getters wake with those errors. Closing twice is harmless.
    ///
    /// ```
    /// let q = polysync::Queue::unbounded();
    /// q.try_put(1).unwrap();
    /// q.close();
    /// assert!(q.is_closed());
    /// assert!(q.try_put(2).is_err());
    /// assert_eq!(q.try_get(), Ok(1));
    /// ```
    pub fn close(&self) {
        let mut guard = self.lock();
        self.with_inner(&guard, |inner| inner.closed = true);
        if let Some(ring) = &self.ring {
            // Lock-free puts fail from now on.
            ring.mark();
        }
        self.publish(&mut guard);
        // Nobody but a getter queues on a closed queue, and a getter only
        // while a send permit is out (`Inner::permits`): then getters stay,
        // and the last permit's send or drop closes again to wake them
        // (`getters_stranded`). The batches end when no one is left to
        // wake.
        wake_in_batches(&self.queue, Some(guard), |guard, wakers| {
            let getters_stay = self.with_inner(guard, |inner| inner.permits > 0);
            while !wakers.is_full() {
                let next = if getters_stay {
                    self.first_putter(guard)
                } else {
                    guard.front().map(|front| (front.node(), front.data()))
                };
                let Some((node, role)) = next else { break };
                match role {
                    Role::Getter => {
                        self.getters.fetch_sub(1, Ordering::SeqCst);
                    }
                    Role::Putter | Role::Reserver => {
                        self.putters.fetch_sub(1, Ordering::SeqCst);
                    }
                    Role::Handed | Role::Closed | Role::Granted => {}
                }
                // SAFETY: found WAITING in this queue under `guard`.
                wakers.push(unsafe { guard.notify_waiting(node, Role::Closed) });
            }
            Batch::more_if(if getters_stay {
                self.putters.load(Ordering::Relaxed) > 0
            } else {
                !guard.is_empty()
            })
        });
    }

    /// Closes the queue at once, as Python 3.13's `shutdown(immediate=True)`:
    /// like [`close`](GenericQueue::close), and every stored item is taken
    /// out and returned in the order gets would have taken them (nothing is
    /// dropped), so getters fail with [`GetError`] right away. The
    /// returned items count as done for [`join`](GenericQueue::join).
    ///
    /// ```
    /// let q = polysync::Queue::unbounded();
    /// q.try_put(1).unwrap();
    /// q.try_put(2).unwrap();
    /// assert_eq!(q.close_immediately(), [1, 2]);
    /// assert_eq!(q.try_get(), Err(polysync::queue::TryGetError::Closed));
    /// assert!(q.try_join());
    /// ```
    pub fn close_immediately(&self) -> Vec<T> {
        let mut guard = self.lock();
        if let Some(ring) = &self.ring {
            ring.mark();
        }
        let drained = self.with_inner(&guard, |inner| {
            inner.closed = true;
            std::iter::from_fn(|| self.pop_stored(inner)).collect::<Vec<T>>()
        });
        if self.ring.is_some() {
            // The drained items leave the queue: their places are free.
            self.occupied
                .0
                .fetch_sub(drained.len() as u64, Ordering::SeqCst);
        }
        // Each drained item was counted when it was put, and is not done
        // yet: this cannot fail.
        let _ = self.finish_tasks(&guard, drained.len());
        self.publish(&mut guard);
        drop(guard);
        // Waiting putters (getters cannot wait: the storage was not empty,
        // or it was and there is nothing to drain) wake with `Closed`.
        self.close();
        drained
    }

    /// Whether [`close`](GenericQueue::close) was called.
    ///
    /// ```
    /// assert!(!polysync::Queue::<()>::unbounded().is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        let guard = self.lock();
        self.with_inner(&guard, |inner| inner.closed)
    }

    /// The number of stored items now (a snapshot). Items handed straight
    /// to getters never show up here.
    ///
    /// ```
    /// let q = polysync::Queue::unbounded();
    /// q.try_put(()).unwrap();
    /// assert_eq!(q.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        let guard = self.lock();
        self.with_inner(&guard, |inner| self.stored(inner))
    }

    /// Whether no item is stored now (a snapshot).
    ///
    /// ```
    /// assert!(polysync::Queue::<u8>::unbounded().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a put would wait now (a snapshot); never for an unbounded
    /// queue. Items held by get futures count (see
    /// [`bounded`](GenericQueue::bounded)), so it may be full while
    /// [`len`](GenericQueue::len) is below the capacity.
    ///
    /// ```
    /// let q = polysync::Queue::bounded(1);
    /// q.try_put(0).unwrap();
    /// assert!(q.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        let guard = self.lock();
        self.with_inner(&guard, |inner| !self.has_room(inner))
    }

    /// The capacity; `None` when unbounded.
    ///
    /// ```
    /// assert_eq!(polysync::Queue::<u8>::bounded(2).capacity(), Some(2));
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        (self.cap != usize::MAX).then_some(self.cap)
    }

    /// How many units wait to put now (a snapshot).
    ///
    /// ```
    /// assert_eq!(polysync::Queue::<u8>::bounded(1).putting(), 0);
    /// ```
    pub fn putting(&self) -> usize {
        self.waiting(Role::Putter)
    }

    /// How many units wait to get now (a snapshot).
    ///
    /// ```
    /// assert_eq!(polysync::Queue::<u8>::bounded(1).getting(), 0);
    /// ```
    pub fn getting(&self) -> usize {
        self.waiting(Role::Getter)
    }

    fn waiting(&self, role: Role) -> usize {
        let _guard = self.lock();
        match role {
            Role::Getter => self.getters.load(Ordering::Relaxed) as usize,
            _ => self.putters.load(Ordering::Relaxed) as usize,
        }
    }
}

/// Send permits (a channel's `reserve`, `channel/permit.rs`): a place in
/// the capacity taken without an item (`reserve_locked`), later filled
/// (`put_in_place`) or given up (`free_place`). A permit counts in
/// `Inner::permits` (always) and holds its place like an item: in `held`
/// (bounded queues without a ring, like an item in a get future's slot) or
/// in `occupied` (ring queues, taken with the same compare-and-swap as a
/// lock-free put's). A waiting reserve is a node tagged `Role::Reserver` in
/// the putters' line: `admit` serves putters and reservers in one arrival
/// order. Every permit operation takes the queue lock, so `Inner::permits`
/// and `closed` change together as the locked gets see them; a lock-free
/// get never decides "closed and drained" (`get_fast` leaves a closed ring
/// to the locked path).
impl<T, S: Storage<T>> GenericQueue<T, S> {
    /// The oldest queued putter or reserver (they share one line) and its
    /// role. The pointer is the one the list holds.
    fn first_putter(&self, guard: &QueueGuard<'_>) -> Option<(*const Node, Role)> {
        if self.putters.load(Ordering::Relaxed) == 0 {
            return None;
        }
        guard
            .waiting()
            .map(|node| (node.node(), node.data::<Role>()))
            .find(|(_, role)| matches!(role, Role::Putter | Role::Reserver))
    }

    /// Under the lock: one more permit, whose place is taken already (a
    /// ring queue's in `occupied`), or taken here (`held`, bounded queues
    /// without a ring, after a room check).
    fn count_permit(&self, guard: &QueueGuard<'_>) {
        self.with_inner(guard, |inner| inner.permits += 1);
        if self.reserves() && self.ring.is_none() {
            self.held.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Under the lock: a reserve that must not wait. `Ok(Granted)`: it took
    /// a place (the caller owns a permit now); `Ok(Closed)`; `Err(Reserver)`:
    /// no room (the reserver queues, or `try_take_place` says full).
    pub(super) fn reserve_locked(&self, guard: &mut QueueGuard<'_>) -> Result<Role, Role> {
        let (closed, room) = self.with_inner(guard, |inner| self.closed_or_room(inner));
        if closed {
            return Ok(Role::Closed);
        }
        if !room {
            return Err(Role::Reserver);
        }
        self.count_permit(guard);
        self.publish(guard);
        Ok(Role::Granted)
    }

    /// Takes a place for a permit if there is one now: `Ok(())` (the
    /// caller owns a permit and must fill or free it), else `Full(())` or
    /// `Closed(())`.
    pub(crate) fn try_take_place(&self) -> Result<(), TryPutError<()>> {
        let mut guard = self.lock();
        match self.reserve_locked(&mut guard) {
            Ok(Role::Granted) => Ok(()),
            Ok(_) => Err(TryPutError::Closed(())),
            Err(_) => Err(TryPutError::Full(())),
        }
    }

    /// Under the lock: getters that wait on a closed queue without a
    /// permit out (nothing can come for them): the caller closes again
    /// once unlocked, which wakes them with `Closed`.
    fn getters_stranded(&self, guard: &QueueGuard<'_>) -> bool {
        self.with_inner(guard, |inner| inner.closed && inner.permits == 0)
            && self.getters.load(Ordering::Relaxed) > 0
    }

    /// Frees a permit's place unused: the oldest waiting putter or reserver
    /// takes it. (The storage's push may run for an admitted putter: a
    /// panic there goes on to the caller, as in `admit_released`, with the
    /// place already freed.)
    pub(crate) fn free_place(&self) {
        let mut guard = self.lock();
        self.with_inner(&guard, |inner| inner.permits -= 1);
        if self.ring.is_some() {
            self.occupied.0.fetch_sub(1, Ordering::SeqCst);
        } else if self.reserves() {
            self.held.fetch_sub(1, Ordering::SeqCst);
        }
        let wakers = self.admit(&mut guard);
        let stranded = self.getters_stranded(&guard);
        self.publish(&mut guard);
        drop(guard);
        let woken = wake_each(wakers);
        if stranded {
            self.close();
        }
        // A permit dropped while its thread unwinds must not panic again
        // (that would abort): a waker's panic is then swallowed, as in
        // the channel's drain.
        if let Err(panic) = woken {
            if !std::thread::panicking() {
                std::panic::resume_unwind(panic);
            }
        }
    }

    /// Puts `item` into the place its permit holds, without waiting and
    /// closed or not (a permit taken before a close may still send, as
    /// tokio's): to the oldest waiting getter, or stored (a ring queue's
    /// ring takes it even when marked closed: its place was taken before
    /// the close). It counts as a new task, as any put.
    pub(crate) fn put_in_place(&self, item: T) {
        let mut guard = self.lock();
        self.with_inner(&guard, |inner| inner.permits -= 1);
        // The place is the item's now: a ring queue's stays in `occupied`;
        // otherwise the item counts where it is stored, not in `held`.
        if self.reserves() && self.ring.is_none() {
            self.held.fetch_sub(1, Ordering::SeqCst);
        }
        self.count_new_task(Some(&guard));
        let waker = self.place(&mut guard, item, false);
        let stranded = self.getters_stranded(&guard);
        self.publish(&mut guard);
        drop(guard);
        let woken = wake_each([waker]);
        if stranded {
            self.close();
        }
        if let Err(panic) = woken {
            std::panic::resume_unwind(panic);
        }
    }

    /// The places permits hold now (a snapshot).
    pub(crate) fn permits(&self) -> usize {
        let guard = self.lock();
        self.with_inner(&guard, |inner| inner.permits)
    }
}

/// Debug builds: a `peek_with` closure that touches its own queue panics
/// instead of spinning forever on the queue lock that its thread holds.
mod reentry {
    use crate::lowlevel::sync::per_thread;
    use std::cell::Cell;

    // Loom's thread-local under loom, whose model threads share one OS
    // thread (a `std` thread-local would show one model thread's
    // `peek_with` to another: a false positive).
    per_thread! {
        /// The address of the queue whose `peek_with` closure this thread
        /// runs (0: none).
        static PEEKING: Cell<usize> = const { Cell::new(0) };
    }

    /// Marks this thread as running `peek_with`'s closure for one queue.
    pub(super) struct Peeking(usize);

    impl Peeking {
        pub(super) fn enter<Q>(queue: &Q) -> Peeking {
            let addr = queue as *const Q as usize;
            Peeking(PEEKING.with(|p| p.replace(addr)))
        }
    }

    impl Drop for Peeking {
        fn drop(&mut self) {
            PEEKING.with(|p| p.set(self.0));
        }
    }

    /// Panics if this thread runs a `peek_with` closure of `queue`.
    #[track_caller]
    #[inline]
    pub(super) fn check<Q>(queue: &Q) {
        if cfg!(debug_assertions) {
            let addr = queue as *const Q as usize;
            if PEEKING.with(Cell::get) == addr {
                panic!(
                    "polysync: a peek_with closure touched its own queue \
                     (it runs under the queue lock: that would deadlock)"
                );
            }
        }
    }
}

/// A queue error that may say "the waiter reported cancellation".
pub(super) trait CancelledError {
    fn is_cancelled(&self) -> bool;
}

impl<T> CancelledError for TryPutError<T> {
    fn is_cancelled(&self) -> bool {
        matches!(self, TryPutError::Cancelled(_))
    }
}

impl CancelledError for TryGetError {
    fn is_cancelled(&self) -> bool {
        matches!(self, TryGetError::Cancelled)
    }
}

/// The body of the plain blocking queue forms, as
/// `lowlevel::wait::blocking` is for the other primitives (whose errors
/// carry no item): runs `with` on the current unit's waiter and returns its
/// result, except that a cancelled wait (already withdrawn) unwinds through
/// [`Waiter::cancelled`], since these forms cannot report it. A put's item
/// is dropped first, so that a panicking `Drop` does not run during the
/// unwind.
pub(super) fn unwind_cancelled<R, E: CancelledError>(
    with: impl FnOnce(&dyn Waiter) -> Result<R, E>,
) -> Result<R, E> {
    with_current_waiter(|waiter| match with(waiter) {
        Err(error) if error.is_cancelled() => {
            drop(error);
            waiter.cancelled()
        }
        done => done,
    })
}

pub(super) fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// Wakes every waker, even after one panics; returns the first panic.
fn wake_each<const N: usize>(wakers: [Option<Waker>; N]) -> std::thread::Result<()> {
    let mut first = Ok(());
    for waker in wakers.into_iter().flatten() {
        let woken = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake()));
        if let Err(panic) = woken {
            if first.is_ok() {
                first = Err(panic);
            }
        }
    }
    first
}

impl<T, S: Storage<T> + Default> Default for GenericQueue<T, S> {
    /// An unbounded queue.
    ///
    /// ```
    /// let q: polysync::Queue<u8> = Default::default();
    /// assert_eq!(q.capacity(), None);
    /// ```
    fn default() -> Self {
        Self::unbounded()
    }
}

impl<T, S: Storage<T>> std::fmt::Debug for GenericQueue<T, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let guard = self.lock();
        let (len, closed, unfinished, getting, putting) = self.with_inner(&guard, |inner| {
            (
                self.stored(inner),
                inner.closed,
                self.unfinished(),
                self.getters.load(Ordering::Relaxed) as usize,
                self.putters.load(Ordering::Relaxed) as usize,
            )
        });
        drop(guard);
        f.debug_struct("GenericQueue")
            .field("storage", &std::any::type_name::<S>())
            .field("len", &len)
            .field("capacity", &self.capacity())
            .field("spinning", &self.spin)
            .field("closed", &closed)
            .field("getting", &getting)
            .field("putting", &putting)
            .field("unfinished_tasks", &unfinished)
            .finish()
    }
}

#[cfg(all(test, not(polysync_loom)))]
#[path = "stash_tests.rs"]
mod stash_tests;
