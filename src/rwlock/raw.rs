//! [`RawRwLock`]: the reader-writer protocol on one wait queue, its guards
//! and futures. [`RwLock<T>`](super::RwLock) is this plus the data.

use crate::lowlevel::queue::wake_in_batches;
use crate::lowlevel::queue::{Batch, NodeData, QueueGuard, USER_MAX, WaitQueue, WakeList};
use crate::lowlevel::spin::spin_before_queueing;
use crate::lowlevel::sync::{AtomicU64, MAY_SPIN, Ordering, const_fn};
use crate::lowlevel::wait::{Protocol, Wait, admit_if, blocking, drive};
use crate::lowlevel::{Owner, WaitError, Waiter, current_task, current_unit, deadline_after};
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

// The user bits of the lock's queue word:
//
// ```text
//  31            14 13          5   4       3      2           1        0
// +----------------+-------------+-------+------+-----------+------------+--------+
// | r (readers)    | debt        | WOKEN | FAIR | UPGRADING | UPGRADABLE | WRITER |
// +----------------+-------------+-------+------+-----------+------------+--------+
// ```
//
// `WRITER` (a writer holds), `UPGRADABLE` (the one upgradable reader holds
// the lock), `UPGRADING` (that reader waits to upgrade) and the number of
// plain readers that hold the lock (`r`, counted in `READER` units) are the
// *hold bits* (`HOLD`): what the tables below are about. `FAIR`, `WOKEN` and
// the `debt` are the fairness mode and its state (see "Bounded fairness"
// below); they are 0 on a strict lock except `FAIR`, and every hold-bit
// change keeps them.
//
// | WRITER | `r`   | queued nodes | the lock                    | an arrival                                  |
// |--------|-------|--------------|-----------------------------|---------------------------------------------|
// | 0      | 0     | none         | free                        | a reader: `r = 1`; a writer: `WRITER`       |
// | 0      | r > 0 | none         | read-held by `r` readers    | a reader joins (`r + 1`); a writer queues   |
// | 0      | r > 0 | front: a writer | read-held; the writer waits for the `r` readers to leave | queues (FIFO: a reader never passes a queued writer; bounded: unless it was woken to compete, see below) |
// | 1      | 0     | any          | write-held                  | queues                                      |
// | 1      | r > 0 | -            | never                       | -                                           |
// | 0      | 0     | k > 0        | never, outside a critical section: a release admits the front first | - |
//
// The upgradable reader (`UPGRADABLE`) is a reader that excludes writers
// and other upgradable readers: it is admitted beside plain readers when no
// writer holds and no other upgradable reader holds, in FIFO order like any
// arrival (a queued writer or upgradable reader blocks the ones behind it,
// as above). Its upgrade does not queue in line: it holds part of the lock
// already, so every queued writer and upgradable reader waits for it. The
// upgrade's node joins the queue (anywhere; usually at the back) and sets
// `UPGRADING`, which also stops plain readers from being admitted (a stream
// of readers cannot starve the upgrade). `UPGRADING` is set exactly while
// that node waits: set by its `arrive_locked`, cleared by its hand-off or
// its cancellation, both under the queue lock. Every `admit_front` first
// looks for it: once `r` is 0 (the readers left), it hands the node the
// write lock (`WRITER` replaces `UPGRADABLE | UPGRADING`), wherever it
// stands in the queue. A write lock turns back into the upgradable read
// (`downgrade_to_upgradable`: the upgraded guard's drop) or into a read
// share (`downgrade`); the upgradable read turns into a read share
// (`downgrade_upgradable`).
//
// (A fourth row holds only for a moment: a queued writer gave up at the
// front of the queue while readers hold the lock, leaving readers at the
// front; its `after_cancelled` admits them, and so does any release that
// runs first. An arrival meanwhile queues behind them, as FIFO wants.)
//
// The word changes lock-free only while nobody is queued (`update_if_idle`,
// `update_unlocked`), or, with bounded fairness, for a barge or a release
// that has nobody to wake (see "Bounded fairness" above); otherwise under
// the queue lock, where every release ends in
// `admit_front`: it admits queued waiters from the front while they fit
// (consecutive readers while no writer holds; a writer once nobody holds)
// and notifies them with what they were given: **direct hand-off**, the
// word already counts them when they wake.
//
// Beside the word, `owner` names the unit that holds the write lock or the
// upgradable read, when known (as `Lock::owner`): written by the writer (or
// upgradable reader) right after it takes the lock (the fast path, or its wait's completion after a hand-off), cleared
// by the writer before it releases or downgrades to a plain read share (a
// write lock that turns back into the upgradable read keeps it); 0 while
// nobody writes or holds the upgradable read, or
// the writer has no identity (an async task without one, an owned guard),
// or for a moment between a hand-off and the woken writer's store. It is
// only a hint for the re-entry check (`refuse_writer`): a unit that sees
// WRITER (or UPGRADABLE) set and `owner` equal to its own identity holds the
// write lock (or the upgradable read) itself (identities are never reused; every unit clears its own identity
// before it releases, so it never reads its own stale one). A stale read
// can miss a holder, never invent one. Readers are not recorded.
// # Bounded fairness (no `FAIR`: [`RawRwLock::new_bounded`])
//
// Lock's idea (see `lock.rs`), applied to the roles:
//
// - A release with waiters, when the front is a **writer** that fits now
//   (nobody holds) and is not owed a hand-off, leaves the lock free and
//   wakes that writer to compete (`WOKEN`), without unlinking it. A front
//   of **readers** (or an upgradable reader) is still admitted as one batch
//   by direct hand-off, as in strict mode: readers do not exclude the
//   running readers, and waking them one by one to compete would serialize
//   the batch on wake-ups. The upgrade is handed the write lock as in
//   strict mode, wherever it stands (upgrades are strict in both modes).
// - A running unit that arrives while the front writer is awake (`WOKEN`)
//   may take what is free (it *barges*): a reader joins a lock that no
//   writer holds and no upgrade waits for; a writer takes a free lock.
//   Each barge adds one `DEBT_UNIT` to the `debt` of the front, and a barge
//   is refused once the debt reached `DEBT_BOUND`. So a woken writer is
//   overtaken by at most `OVERTAKE_BOUND` barging readers and writers. A
//   writer asleep in the queue (it found the lock held) is never passed: a
//   reader that arrives then queues behind it, as in strict mode, so a
//   stream of readers cannot starve a writer (measured: letting readers
//   join a read-held lock past a sleeping writer, within the bound, was
//   slower than strict mode, BENCHMARKS.md "Issue 18: RwLock bounded
//   fairness"). Upgradable readers do not barge (they queue behind anyone
//   queued).
// - The woken writer retries under the queue lock (`retry_front_locked`):
//   it takes a free lock (its debt and `WOKEN` reset for the next front),
//   or it lost to a barger: `LOST_RETRY` more debt (so after
//   `LOST_RETRIES` lost retries it is owed the lock), `WOKEN` cleared, and
//   it sleeps until a release wakes it again.
// - Once the front's debt reached `DEBT_BOUND`, the releases hand it the
//   lock directly, as strict mode does, and nobody barges meanwhile.
// - `WOKEN`: the front writer was woken to compete and has not retried
//   yet. The invariant that rules out a lost wake-up: **while a node is
//   queued, `WOKEN` is clear and no settle is pending, the front does not
//   fit** (a release that lets it in wakes or admits it). Every change that
//   can let the front in either runs under the queue lock and then settles
//   the front (`admit_front`: a writer is woken, readers admitted, the owed
//   front handed over), or runs lock-free only while nobody is queued or
//   while `WOKEN` is set, no upgrade waits and the front is not owed (then
//   there is nobody to wake: the woken writer retries and sees the change).
//   Barges only add holders, so they never let the front in. A front that
//   leaves (hand-off, retry won, cancelled) clears `WOKEN` and the debt; a
//   cancelled front also settles the new front (`after_cancelled`), which
//   passes a wake it had on.
const WRITER: u64 = 1;
const UPGRADABLE: u64 = 2;
const UPGRADING: u64 = 4;
/// Strict FIFO hand-off (fixed at construction).
const FAIR: u64 = 8;
/// The front writer was woken to compete and has not retried yet.
const WOKEN: u64 = 16;
/// One barge past the front.
const DEBT_UNIT: u64 = 32;
/// The debt's width: room for `DEBT_BOUND` (at most 2^(DEBT_BITS - 1) units).
const DEBT_BITS: u32 = 9;
const DEBT_MASK: u64 = (DEBT_UNIT << DEBT_BITS) - DEBT_UNIT;
const READER: u64 = DEBT_UNIT << DEBT_BITS;
/// The hold bits (see the table below).
const HOLD: u64 = !(FAIR | WOKEN | DEBT_MASK);
/// How many times the oldest waiter of a [`RawRwLock`] (or
/// [`RwLock`](super::RwLock)) with bounded fairness
/// ([`new_bounded`](RawRwLock::new_bounded)) can be overtaken by readers
/// and writers that take what is free while it waits: once it has been
/// overtaken this often (or, a writer woken to compete, has lost
/// [`LOST_RETRIES`] retries), the releases hand it the lock directly and
/// nobody barges until it has it. Only a writer woken to compete (the
/// lock was free when a release reached it) is overtaken: readers never
/// pass a writer that sleeps in the queue, so a stream of readers cannot
/// keep a writer out. Smaller than
/// [`lock::OVERTAKE_BOUND`](crate::lock::OVERTAKE_BOUND) (the debt shares
/// the lock's word with the reader count).
///
/// (Under loom, `--cfg polysync_loom`, the bound is 1, and
/// [`LOST_RETRIES`] too, so that the models reach the direct hand-off.)
///
/// ```
/// assert_eq!(polysync::rwlock::OVERTAKE_BOUND, 256);
/// ```
pub const OVERTAKE_BOUND: u64 = if cfg!(polysync_loom) { 1 } else { 256 };
const DEBT_BOUND: u64 = OVERTAKE_BOUND * DEBT_UNIT;
/// How many retries the front writer of a [`RawRwLock`] with bounded
/// fairness may lose (woken to compete, it found the lock taken again)
/// before the releases hand it the lock directly: its wait is bounded in
/// wake-ups too (as [`lock::LOST_RETRIES`](crate::lock::LOST_RETRIES)).
///
/// ```
/// assert_eq!(polysync::rwlock::LOST_RETRIES, 8);
/// ```
pub const LOST_RETRIES: u64 = if cfg!(polysync_loom) { 1 } else { 8 };
const LOST_RETRY: u64 = DEBT_BOUND / LOST_RETRIES;

// The debt's field holds `DEBT_BOUND`, and the readers' count starts above it.
const _: () = assert!(DEBT_BOUND <= DEBT_MASK && DEBT_MASK & READER == 0);

/// The most plain readers that can be admitted to one lock at a time
/// (2^18 - 2), not counting the upgradable reader. A reader that would
/// exceed it waits, like any reader that does not fit. (An upgradable reader
/// that [downgrades](super::RawUpgradableReadGuard::downgrade) cannot wait, so its
/// share may be one more; the word keeps room for it.)
pub const MAX_READERS: usize = (USER_MAX / READER) as usize - 1;

/// What a waiting node asks for, and (kept in place by the hand-off,
/// `notify_front_keep`) what it was given: a read share or the write lock.
/// Written by the waiter when its wait starts; read by notifiers under the
/// queue lock to decide whom to admit, and by `pass_on` to give back what
/// a dropped waiter was handed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// A share of the lock (word 0).
    Read,
    /// The whole lock (word 1).
    Write,
    /// The upgradable read (word 2).
    Upgradable,
    /// The upgradable reader's upgrade to the write lock (word 3).
    Upgrade,
}

impl NodeData for Role {
    #[inline]
    fn into_raw(self) -> usize {
        match self {
            Role::Read => 0,
            Role::Write => 1,
            Role::Upgradable => 2,
            Role::Upgrade => 3,
        }
    }

    #[inline]
    fn from_raw(raw: usize) -> Role {
        match raw {
            0 => Role::Read,
            1 => Role::Write,
            2 => Role::Upgradable,
            _ => Role::Upgrade,
        }
    }
}

/// The user bits after admitting `role` to a lock whose user bits are
/// `user`, or `None` if it does not fit now (whether anyone is queued is the
/// caller's business).
/// The fairness bits (`FAIR`, `WOKEN`, the debt) are kept.
#[inline]
fn admitted(user: u64, role: Role) -> Option<u64> {
    let hold = user & HOLD;
    match role {
        Role::Read if hold & (WRITER | UPGRADING) == 0 && hold / READER < MAX_READERS as u64 => {
            Some(user + READER)
        }
        Role::Write if hold == 0 => Some(user | WRITER),
        Role::Upgradable if hold & (WRITER | UPGRADABLE) == 0 => Some(user | UPGRADABLE),
        // Only the upgradable reader upgrades: once the plain readers left.
        Role::Upgrade if hold & !UPGRADING == UPGRADABLE => Some((user & !HOLD) | WRITER),
        _ => None,
    }
}

/// Whether a release may change the hold bits `user` without the queue
/// lock while `queued` waiters are queued: nobody is queued, or (bounded
/// fairness) the front writer was woken already and will see the change
/// when it retries, no upgrade waits (it is handed the lock under the queue
/// lock), and the front is not owed a hand-off.
#[inline]
fn releases_unlocked(user: u64, queued: usize) -> bool {
    queued == 0 || (user & (FAIR | WOKEN | UPGRADING) == WOKEN && user & DEBT_MASK < DEBT_BOUND)
}

/// A reader-writer lock without data (see [`RwLock<T>`](super::RwLock) for
/// the data-carrying form), usable at the same time from OS threads, async
/// tasks of any executor, and green threads. Any number of readers, or one
/// writer.
///
/// - Every way to wait, for reading and for writing: [`read`](RawRwLock::read)
///   (async), [`read_blocking`](RawRwLock::read_blocking),
///   [`try_read`](RawRwLock::try_read), [`try_read_for`](RawRwLock::try_read_for),
///   [`try_read_until`](RawRwLock::try_read_until),
///   [`read_with`](RawRwLock::read_with); the same with `write`.
/// - **Strict FIFO with direct hand-off** ([`new`](RawRwLock::new), the
///   default, and [`new_fair`](RawRwLock::new_fair)) across readers and
///   writers of every world (see [the module docs](super#fairness) for
///   why): a reader that arrives while anyone waits queues behind them; a
///   release hands the lock to the writer at the front, or to every reader
///   at the front up to the next queued writer, at once.
/// - **Bounded fairness** ([`new_bounded`](RawRwLock::new_bounded),
///   opt-in): a release wakes a writer at the front to compete instead of
///   handing it the lock, and running units may take what is free
///   meanwhile, up to [`OVERTAKE_BOUND`] times per front waiter (see
///   [the module docs](super#bounded-fairness)).
/// - **Spinning** (both modes): an OS thread whose blocking wait finds the
///   lock taken spins a few rounds (growing pauses, then yields) for it
///   before it queues, as [`Lock`](crate::Lock) does: only while nobody is
///   queued, never past a timed form's deadline, never in a task or a
///   green thread (they would hold their carrier).
/// - Cancellation is safe in both modes: a wait dropped or timed out after
///   it was handed its share passes the share on, and a writer woken to
///   compete that gives up passes the wake-up on.
/// - Not reentrant. A unit that holds the **write** lock and asks for it
///   again, or for a read share, panics instead of waiting forever behind
///   itself: a blocking, timed or `_with` call by the same unit (as
///   [`Lock`](crate::Lock) does). `read().await`/`write().await` never
///   panic: another branch of the same task (`join!`, `select!`) may hold
///   the lock and release it (no false positives). `try_read`/`try_write`
///   never panic (they fail). Not checked (these can still hang): an async
///   wait by the holder's own chain of futures, a write lock held through
///   an owned guard,
///   and a **reader** that asks again (for `write`, or for `read` while a
///   writer is queued behind it): readers are not tracked. No poisoning.
///   24 bytes.
///
/// ```
/// use polysync::RawRwLock;
///
/// let lock = RawRwLock::new();
/// let r1 = lock.read_blocking();
/// let r2 = lock.try_read().unwrap(); // readers share
/// assert!(lock.try_write().is_none());
/// assert_eq!(lock.readers(), 2);
/// drop((r1, r2));
/// let w = lock.write_blocking();
/// assert!(lock.is_write_locked());
/// drop(w);
/// ```
pub struct RawRwLock {
    /// User bits: the hold bits and the fairness state (see the tables
    /// above).
    queue: WaitQueue,
    /// The raw identity of the unit that holds the write lock, when known,
    /// else 0 (see the table above). Used only to refuse a read or write
    /// by the unit that holds the write lock.
    owner: AtomicU64,
}

impl RawRwLock {
    const_fn! {
        /// An unlocked lock with the default fairness: strict FIFO with
        /// direct hand-off today (the same as
        /// [`new_fair`](RawRwLock::new_fair); see
        /// [the module docs](super#fairness)). `const`, so it can be a
        /// `static`.
        ///
        /// ```
        /// static LOCK: polysync::RawRwLock = polysync::RawRwLock::new();
        /// let _r = LOCK.read_blocking();
        /// assert!(LOCK.is_fair());
        /// ```
        pub fn new() -> RawRwLock {
            // The default mode: this line alone chooses it.
            Self::new_fair()
        }
    }

    const_fn! {
        /// An unlocked lock with strict FIFO hand-off: every release hands
        /// the lock straight to the waiters at the front and nobody can
        /// take it meanwhile (see [the module docs](super#fairness)). Name
        /// it where the hand-off itself matters, whatever the default is.
        /// `const`, so it can be a `static`.
        ///
        /// ```
        /// let lock = polysync::RawRwLock::new_fair();
        /// assert!(lock.is_fair());
        /// drop(lock.write_blocking());
        /// ```
        pub fn new_fair() -> RawRwLock {
            RawRwLock { queue: WaitQueue::new(FAIR), owner: AtomicU64::new(0) }
        }
    }

    const_fn! {
        /// An unlocked lock with bounded fairness: a release wakes the
        /// writer at the front to compete, running readers and writers may
        /// take what is free meanwhile, and the oldest waiter is handed the
        /// lock once overtaken [`OVERTAKE_BOUND`] times (see
        /// [the module docs](super#bounded-fairness)). `const`, so it can
        /// be a `static`.
        ///
        /// ```
        /// let lock = polysync::RawRwLock::new_bounded();
        /// assert!(!lock.is_fair());
        /// drop(lock.read_blocking());
        /// drop(lock.write_blocking());
        /// ```
        pub fn new_bounded() -> RawRwLock {
            RawRwLock { queue: WaitQueue::new(0), owner: AtomicU64::new(0) }
        }
    }

    /// Whether this lock hands over in strict FIFO order (made by
    /// [`new`](RawRwLock::new) or [`new_fair`](RawRwLock::new_fair))
    /// rather than with bounded fairness
    /// ([`new_bounded`](RawRwLock::new_bounded)).
    ///
    /// ```
    /// assert!(polysync::RawRwLock::new_fair().is_fair());
    /// assert!(!polysync::RawRwLock::new_bounded().is_fair());
    /// ```
    #[inline]
    pub fn is_fair(&self) -> bool {
        self.queue.user(Ordering::Relaxed) & FAIR != 0
    }

    /// Takes a read share asynchronously, in FIFO order with every other
    /// waiter.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let lock = polysync::RawRwLock::new();
    /// let r = lock.read().await;
    /// assert_eq!(lock.readers(), 1);
    /// drop(r);
    /// # });
    /// ```
    ///
    /// # Cancel safety
    /// Dropping the future gives up its place in line and nothing else:
    /// before its first poll nothing happened; while queued it leaves the
    /// queue (the waiters behind it keep their order); after a release
    /// handed it a share, before it was polled again, the drop gives the
    /// share back at once (to a writer waiting for the last reader).
    #[inline]
    pub fn read(&self) -> RawRead<'_> {
        RawRead {
            wait: Wait::new(self, Role::Read),
        }
    }

    /// Takes the write lock asynchronously, in FIFO order with every other
    /// waiter.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let lock = polysync::RawRwLock::new();
    /// let w = lock.write().await;
    /// assert!(lock.try_read().is_none());
    /// drop(w);
    /// # });
    /// ```
    ///
    /// # Cancel safety
    /// Dropping the future gives up its place in line and nothing else:
    /// before its first poll nothing happened; while queued it leaves the
    /// queue (readers queued right behind it are admitted if the lock is
    /// read-held); after a release handed it the lock, before it was polled
    /// again, the drop releases the lock at once, to the next waiters.
    #[inline]
    pub fn write(&self) -> RawWrite<'_> {
        RawWrite {
            wait: Wait::new(self, Role::Write),
        }
    }

    /// Blocks the current execution unit until it holds a read share.
    ///
    /// ```
    /// let lock = polysync::RawRwLock::new();
    /// let r = lock.read_blocking();
    /// assert!(lock.try_read().is_some());
    /// # drop(r);
    /// ```
    #[track_caller]
    pub fn read_blocking(&self) -> RawReadGuard<'_> {
        // A free lock needs no waiter: skip the registry lookup
        // (a green unit takes its checkpoint first, never while it holds
        // what the call took).
        crate::lowlevel::green_checkpoint();
        if let Some(guard) = self.try_read() {
            return guard;
        }
        self.refuse_current(Role::Read, "RwLock::read_blocking()");
        blocking(|w| self.wait_as(w, None, Role::Read, "RwLock::read_blocking()"))
            .map(|()| RawReadGuard { lock: self })
            .expect("a wait without a deadline does not time out")
    }

    /// Blocks the current execution unit until it holds the write lock.
    ///
    /// ```
    /// let lock = polysync::RawRwLock::new();
    /// let w = lock.write_blocking();
    /// assert!(lock.try_read().is_none());
    /// # drop(w);
    /// ```
    #[track_caller]
    pub fn write_blocking(&self) -> RawWriteGuard<'_> {
        crate::lowlevel::green_checkpoint();
        if let Some(guard) = self.try_write() {
            return guard;
        }
        self.refuse_current(Role::Write, "RwLock::write_blocking()");
        blocking(|w| self.wait_as(w, None, Role::Write, "RwLock::write_blocking()"))
            .map(|()| RawWriteGuard { lock: self })
            .expect("a wait without a deadline does not time out")
    }

    /// Takes a read share if no writer holds the lock and nobody waits
    /// (on a strict lock it never barges past a queued waiter; with bounded
    /// fairness it may, within the bound), without waiting.
    ///
    /// ```
    /// let lock = polysync::RawRwLock::new();
    /// let w = lock.try_write().unwrap();
    /// assert!(lock.try_read().is_none());
    /// drop(w);
    /// assert!(lock.try_read().is_some());
    /// ```
    #[inline]
    pub fn try_read(&self) -> Option<RawReadGuard<'_>> {
        self.try_fast(Role::Read, &())
            .map(|_| RawReadGuard { lock: self })
    }

    /// Takes the write lock if it is free, without waiting.
    ///
    /// ```
    /// let lock = polysync::RawRwLock::new();
    /// let r = lock.try_read().unwrap();
    /// assert!(lock.try_write().is_none());
    /// drop(r);
    /// assert!(lock.try_write().is_some());
    /// ```
    #[inline]
    pub fn try_write(&self) -> Option<RawWriteGuard<'_>> {
        self.try_fast(Role::Write, &())?;
        self.record_writer(Owner::of(current_unit()));
        Some(RawWriteGuard { lock: self })
    }

    /// Blocks until a read share is taken or `timeout` passes. A zero
    /// timeout still takes a share that is free.
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = polysync::RawRwLock::new();
    /// let w = lock.write_blocking();
    /// // Another thread waits: the writer's own wait would panic.
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(lock.try_read_for(Duration::from_millis(1)).is_none()));
    /// });
    /// drop(w);
    /// assert!(lock.try_read_for(Duration::ZERO).is_some());
    /// ```
    #[track_caller]
    pub fn try_read_for(&self, timeout: Duration) -> Option<RawReadGuard<'_>> {
        self.refuse_current(Role::Read, "RwLock::try_read_for()");
        blocking(|w| {
            self.wait_as(
                w,
                deadline_after(timeout),
                Role::Read,
                "RwLock::try_read_for()",
            )
        })
        .map(|()| RawReadGuard { lock: self })
    }

    /// Blocks until the write lock is taken or `timeout` passes.
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = polysync::RawRwLock::new();
    /// let r = lock.read_blocking();
    /// assert!(lock.try_write_for(Duration::from_millis(1)).is_none());
    /// drop(r);
    /// assert!(lock.try_write_for(Duration::ZERO).is_some());
    /// ```
    #[track_caller]
    pub fn try_write_for(&self, timeout: Duration) -> Option<RawWriteGuard<'_>> {
        self.refuse_current(Role::Write, "RwLock::try_write_for()");
        blocking(|w| {
            self.wait_as(
                w,
                deadline_after(timeout),
                Role::Write,
                "RwLock::try_write_for()",
            )
        })
        .map(|()| RawWriteGuard { lock: self })
    }

    /// Blocks until a read share is taken or `deadline` passes.
    ///
    /// ```
    /// let lock = polysync::RawRwLock::new();
    /// assert!(lock.try_read_until(std::time::Instant::now()).is_some());
    /// ```
    #[track_caller]
    pub fn try_read_until(&self, deadline: Instant) -> Option<RawReadGuard<'_>> {
        self.refuse_current(Role::Read, "RwLock::try_read_until()");
        blocking(|w| self.wait_as(w, Some(deadline), Role::Read, "RwLock::try_read_until()"))
            .map(|()| RawReadGuard { lock: self })
    }

    /// Blocks until the write lock is taken or `deadline` passes.
    ///
    /// ```
    /// let lock = polysync::RawRwLock::new();
    /// assert!(lock.try_write_until(std::time::Instant::now()).is_some());
    /// ```
    #[track_caller]
    pub fn try_write_until(&self, deadline: Instant) -> Option<RawWriteGuard<'_>> {
        self.refuse_current(Role::Write, "RwLock::try_write_until()");
        blocking(|w| self.wait_as(w, Some(deadline), Role::Write, "RwLock::try_write_until()"))
            .map(|()| RawWriteGuard { lock: self })
    }

    /// Blocks on `waiter` until a read share is taken, `deadline` passes or
    /// the waiter reports cancellation: the entry point that every blocking
    /// read form runs with the current unit's waiter.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] or [`WaitError::Cancelled`]; the wait is
    /// withdrawn either way. If a share was handed to it just as it gave up,
    /// the wait completes with it instead (`Ok`): nothing is lost.
    ///
    /// ```
    /// use polysync::lowlevel::{ThreadWaiter, WaitError};
    /// use std::time::Instant;
    ///
    /// let lock = polysync::RawRwLock::new();
    /// let w = lock.write_blocking();
    /// // Another thread waits: the writer's own wait would panic.
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         ThreadWaiter::with_current(|t| {
    ///             let out = lock.read_with(t, Some(Instant::now()));
    ///             assert_eq!(out.unwrap_err(), WaitError::TimedOut);
    ///         })
    ///     });
    /// });
    /// drop(w);
    /// let r = ThreadWaiter::with_current(|t| lock.read_with(t, None)).unwrap();
    /// # drop(r);
    /// ```
    #[track_caller]
    pub fn read_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<RawReadGuard<'_>, WaitError> {
        self.wait_as(waiter, deadline, Role::Read, "RwLock::read_with()")
            .map(|()| RawReadGuard { lock: self })
    }

    /// Blocks on `waiter` until the write lock is taken, `deadline` passes
    /// or the waiter reports cancellation: the entry point that every
    /// blocking write form runs with the current unit's waiter.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] or [`WaitError::Cancelled`]; the wait is
    /// withdrawn either way. If the lock was handed to it just as it gave
    /// up, the wait completes with it instead (`Ok`): nothing is lost.
    ///
    /// ```
    /// use polysync::lowlevel::{ThreadWaiter, WaitError};
    /// use std::time::Instant;
    ///
    /// let lock = polysync::RawRwLock::new();
    /// let r = lock.read_blocking();
    /// ThreadWaiter::with_current(|t| {
    ///     let out = lock.write_with(t, Some(Instant::now()));
    ///     assert_eq!(out.unwrap_err(), WaitError::TimedOut);
    /// });
    /// drop(r);
    /// let w = ThreadWaiter::with_current(|t| lock.write_with(t, None)).unwrap();
    /// # drop(w);
    /// ```
    #[track_caller]
    pub fn write_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<RawWriteGuard<'_>, WaitError> {
        self.wait_as(waiter, deadline, Role::Write, "RwLock::write_with()")
            .map(|()| RawWriteGuard { lock: self })
    }

    /// Waits on `waiter` for `role` as the current unit: records it as the
    /// writer when it gets the write lock (also when the lock was handed
    /// to it), and refuses to wait if it holds the write lock (naming
    /// `caller`).
    #[track_caller]
    pub(crate) fn wait_as<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
        role: Role,
        caller: &'static str,
    ) -> Result<(), WaitError> {
        let me = Owner::of(current_unit());
        if self.try_fast(role, &()).is_some() {
            self.record(role, me);
            return Ok(());
        }
        self.refuse_writer(me, role, caller, "execution unit");
        if MAY_SPIN && waiter.spins() && self.spin_acquire(role, deadline) {
            self.record(role, me);
            return Ok(());
        }
        drive(waiter, pin!(Wait::new(self, role)), deadline)
            .map(|()| self.record(role, me))
            .map_err(|(error, ())| error)
    }

    /// The bounded spin of a waiter that may spin (an OS thread, see
    /// [`Waiter::spins`]) before it queues, as `Lock::spin_acquire`: a few
    /// rounds of growing pauses, then rounds that yield the core (to a
    /// holder that was preempted), each followed by an attempt if `role`
    /// looks admissible; a few rounds at most (`lowlevel/spin.rs`). It gives up as soon
    /// as a waiter is queued (a strict lock then admits the queue first; a
    /// bounded one would only add to the front's debt) or the deadline has
    /// passed. `true` if it took `role`. Never under loom ([`MAY_SPIN`] is
    /// `false` there); the attempts are `try_fast`'s, which the models check.
    #[inline(never)]
    fn spin_acquire(&self, role: Role, deadline: Option<Instant>) -> bool {
        spin_before_queueing(&self.queue, deadline, |user| {
            admitted(user, role).is_some() && self.try_fast(role, &()).is_some()
        })
    }

    /// Records `me` as the writer (or upgradable reader) if it just took the
    /// write lock (or the upgradable read) as `role`.
    #[inline]
    pub(crate) fn record(&self, role: Role, me: Owner) {
        if matches!(role, Role::Write | Role::Upgradable) {
            self.record_writer(me);
        }
    }

    /// Records `me` (possibly [`Owner::UNKNOWN`]) as the unit that holds the
    /// write lock, which the caller just took.
    #[inline]
    fn record_writer(&self, me: Owner) {
        self.owner.store(me.get(), Ordering::Relaxed);
    }

    /// Forgets the writer: the write lock now belongs to an owned guard,
    /// made to move between units (the re-entry check does not see it).
    #[inline]
    pub(crate) fn unrecord_writer(&self) {
        self.owner.store(0, Ordering::Relaxed);
    }

    /// [`refuse_writer`](RawRwLock::refuse_writer) for the current unit,
    /// called by the blocking forms before their wait closure, so that the
    /// panic names the caller's line (`#[track_caller]` does not pass
    /// through the closure). The unit is looked up only while a known unit
    /// holds the write lock: one load otherwise.
    #[inline]
    #[track_caller]
    pub(crate) fn refuse_current(&self, role: Role, caller: &'static str) {
        if self.queue.user(Ordering::Relaxed) & (WRITER | UPGRADABLE) != 0
            && self.owner.load(Ordering::Relaxed) != 0
        {
            self.refuse_writer(Owner::of(current_unit()), role, caller, "execution unit");
        }
    }

    /// Panics if the unit `me` (possibly [`Owner::UNKNOWN`]) holds the write
    /// lock, or holds the upgradable read and asks for the write lock or a
    /// second upgradable read (`role`): waiting would never end. A read
    /// share asked for by the upgradable reader is not refused (it is
    /// granted unless someone is queued, like any reader's second share).
    /// Reads `owner` only while WRITER or UPGRADABLE is set; a stale view can
    /// only miss a holder, never invent one (see the table above).
    #[inline]
    #[track_caller]
    fn refuse_writer(&self, me: Owner, role: Role, caller: &str, unit: &str) {
        if let Some(writer) = self.held_by(me, role) {
            refused(caller, unit, writer);
        }
    }

    /// Whether the unit `me` holds what makes a wait for `role` hang:
    /// `Some(true)` for the write lock, `Some(false)` for the upgradable
    /// read (refused only for `Write` and `Upgradable`), `None` otherwise
    /// (also for an unknown unit). A stale view can only miss a holder.
    #[inline]
    pub(crate) fn held_by(&self, me: Owner, role: Role) -> Option<bool> {
        if me == Owner::UNKNOWN {
            return None;
        }
        // Acquire: the release that cleared our own earlier identity (if we
        // held the lock before) happens before this read of `owner`.
        let user = self.queue.user(Ordering::Acquire);
        let holds = if role == Role::Read {
            WRITER
        } else {
            WRITER | UPGRADABLE
        };
        (user & holds != 0 && self.owner.load(Ordering::Relaxed) == me.get())
            .then_some(user & WRITER != 0)
    }

    /// How many readers hold the lock now (a snapshot).
    ///
    /// ```
    /// let lock = polysync::RawRwLock::new();
    /// let _r = lock.read_blocking();
    /// assert_eq!(lock.readers(), 1);
    /// ```
    #[inline]
    pub fn readers(&self) -> usize {
        ((self.queue.user(Ordering::Relaxed) & HOLD) / READER) as usize
    }

    /// Whether a writer holds the lock now (a snapshot).
    ///
    /// ```
    /// let lock = polysync::RawRwLock::new();
    /// let _w = lock.write_blocking();
    /// assert!(lock.is_write_locked());
    /// ```
    #[inline]
    pub fn is_write_locked(&self) -> bool {
        self.queue.user(Ordering::Relaxed) & WRITER != 0
    }

    /// Whether anyone (readers or a writer) holds the lock now (a snapshot).
    ///
    /// ```
    /// let lock = polysync::RawRwLock::new();
    /// assert!(!lock.is_locked());
    /// ```
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.queue.user(Ordering::Relaxed) & HOLD != 0
    }

    /// How many execution units wait for the lock now, readers and writers
    /// (a snapshot).
    ///
    /// ```
    /// assert_eq!(polysync::RawRwLock::new().waiting(), 0);
    /// ```
    #[inline]
    pub fn waiting(&self) -> usize {
        self.queue.len()
    }

    /// Gives back one read share: the last reader hands the lock to the
    /// writer at the front of the queue.
    #[inline]
    pub(crate) fn unlock_read(&self) {
        let fast = self
            .queue
            .update_unlocked(Ordering::Release, |user, queued| {
                debug_assert!(user & HOLD >= READER, "released an unheld read share");
                releases_unlocked(user, queued).then(|| user - READER)
            });
        if fast.is_err() {
            self.unlock_slow(|user| user - READER);
        }
    }

    /// Releases the write lock: hands it to the waiters at the front.
    #[inline]
    pub(crate) fn unlock_write(&self) {
        // Before the release publishes the free lock (see `owner`).
        self.owner.store(0, Ordering::Relaxed);
        let fast = self
            .queue
            .update_unlocked(Ordering::Release, |user, queued| {
                debug_assert_eq!(user & HOLD, WRITER, "released an unheld write lock");
                releases_unlocked(user, queued).then_some(user & !WRITER)
            });
        if fast.is_err() {
            self.unlock_slow(|user| {
                debug_assert_eq!(user & HOLD, WRITER, "released an unheld write lock");
                user & !WRITER
            });
        }
    }

    /// Turns the write lock into one read share; the readers at the front
    /// of the queue join it.
    #[inline]
    pub(crate) fn downgrade(&self) {
        // The unit now holds a read share, which is not recorded.
        self.owner.store(0, Ordering::Relaxed);
        let change = |user: u64| {
            debug_assert_eq!(user & HOLD, WRITER, "downgraded an unheld write lock");
            user - WRITER + READER
        };
        if self
            .queue
            .update_if_idle(Ordering::Release, |user| Some(change(user)))
            .is_err()
        {
            self.unlock_slow(change);
        }
    }

    /// Gives back the upgradable read: the readers and writers queued at
    /// the front that fit now are admitted.
    #[inline]
    pub(crate) fn unlock_upgradable(&self) {
        // Before the release publishes the free part (see `owner`).
        self.owner.store(0, Ordering::Relaxed);
        let fast = self.queue.update_if_idle(Ordering::Release, |user| {
            debug_assert!(user & UPGRADABLE != 0, "released an unheld upgradable read");
            Some(user & !UPGRADABLE)
        });
        if fast.is_err() {
            self.unlock_slow(|user| {
                debug_assert_eq!(user & (UPGRADABLE | UPGRADING), UPGRADABLE);
                user & !UPGRADABLE
            });
        }
    }

    /// Turns the upgradable read into a plain read share; an upgradable
    /// reader queued at the front gets in at once.
    #[inline]
    pub(crate) fn downgrade_upgradable(&self) {
        // The unit now holds a read share, which is not recorded.
        self.owner.store(0, Ordering::Relaxed);
        let change = |user: u64| {
            debug_assert_eq!(user & (UPGRADABLE | UPGRADING), UPGRADABLE);
            user - UPGRADABLE + READER
        };
        // The upgradable reader counted as no plain reader and cannot wait
        // here: with the count full, its share is one beyond `MAX_READERS`,
        // which the word keeps room for (see `MAX_READERS`).
        if self
            .queue
            .update_if_idle(Ordering::Release, |user| Some(change(user)))
            .is_err()
        {
            self.unlock_slow(change);
        }
    }

    /// Turns the write lock into the upgradable read (the upgraded guard's
    /// drop, lock_api's `downgrade_to_upgradable`): the plain readers queued
    /// at the front join at once. `owner` stays: the same unit holds the
    /// upgradable read now.
    #[inline]
    pub(crate) fn downgrade_to_upgradable(&self) {
        let change = |user: u64| {
            debug_assert_eq!(user & HOLD, WRITER, "downgraded an unheld write lock");
            user - WRITER + UPGRADABLE
        };
        if self
            .queue
            .update_if_idle(Ordering::Release, |user| Some(change(user)))
            .is_err()
        {
            self.unlock_slow(change);
        }
    }

    /// The upgradable reader takes the write lock if no plain reader holds
    /// a share, without waiting (whoever is queued: they all wait for it).
    #[inline]
    pub(crate) fn try_upgrade_now(&self) -> bool {
        if self.try_fast(Role::Upgrade, &()).is_some() {
            return true;
        }
        let mut guard = self.queue.lock();
        match admitted(guard.user(), Role::Upgrade) {
            Some(user) => {
                guard.set_user(user);
                true
            }
            None => false,
        }
    }

    /// Whether the upgradable read is held now (also while its holder waits
    /// to upgrade; not once it upgraded). A snapshot.
    ///
    /// ```
    /// let lock = polysync::RawRwLock::new();
    /// let u = lock.upgradable_read_blocking();
    /// assert!(lock.is_upgradable_locked());
    /// drop(u);
    /// assert!(!lock.is_upgradable_locked());
    /// ```
    #[inline]
    pub fn is_upgradable_locked(&self) -> bool {
        self.queue.user(Ordering::Relaxed) & UPGRADABLE != 0
    }

    /// A release while waiters are queued (or the queue is busy): changes
    /// the user bits under the lock, then admits the front.
    #[cold]
    fn unlock_slow(&self, change: impl FnOnce(u64) -> u64) {
        let mut guard = self.queue.lock();
        let user = change(guard.user());
        guard.set_user(user);
        self.admit_front(Some(guard));
    }

    /// Admits queued waiters from the front while they fit, and wakes them
    /// after unlocking, in batches (see [`wake_in_batches`]): every reader
    /// up to the first writer that does not fit, or one writer. Runs after
    /// every change that can let the front in (a release, a downgrade, a
    /// writer that left the front of the queue); does nothing when the front
    /// does not fit, so running it once too often costs only the lock.
    fn admit_front<'q>(&'q self, first: Option<QueueGuard<'q>>) {
        wake_in_batches(&self.queue, first, admit_batch);
    }
}

/// The user bits after a read or write `role` arriving while `queued`
/// waiters are queued takes what is free, or `None` if it must queue: the
/// idle lock (nobody queued), or with bounded fairness a barge past the
/// queued waiters while the front writer is awake (`WOKEN`: it was woken
/// to compete, the lock was free) and its debt is below the bound (one more
/// `DEBT_UNIT` of it). A strict lock never lets an arrival pass a waiter,
/// nor does a bounded one pass a writer asleep in the queue.
#[inline]
fn barge(user: u64, queued: usize, role: Role) -> Option<u64> {
    let new = admitted(user, role)?;
    if queued == 0 {
        Some(new)
    } else if user & (FAIR | WOKEN) == WOKEN && user & DEBT_MASK < DEBT_BOUND {
        Some(new + DEBT_UNIT)
    } else {
        None
    }
}

/// The panic of a refused re-acquisition (out of line: never taken by a
/// correct program).
#[cold]
#[inline(never)]
#[track_caller]
fn refused(caller: &str, unit: &str, writer: bool) -> ! {
    if writer {
        panic!(
            "polysync: {caller}: the current {unit} already holds this RwLock's write lock; \
             waiting for it again (to read or to write) would deadlock"
        );
    }
    panic!(
        "polysync: {caller}: the current {unit} already holds this RwLock's upgradable read; \
         waiting for the write lock or another upgradable read would deadlock \
         (upgrade the guard instead)"
    );
}

/// One batch of [`RawRwLock::admit_front`]: under the queue lock, hands the
/// lock to waiters from the front while they fit and `wakers` has room.
fn admit_batch(guard: &mut QueueGuard<'_>, wakers: &mut WakeList) -> Batch {
    // A waiting upgrade goes first, wherever it stands, once the plain
    // readers left (see the table above).
    let upgrade = admitted(guard.user(), Role::Upgrade).filter(|_| guard.user() & UPGRADING != 0);
    if let Some(user) = upgrade {
        if wakers.is_full() {
            return Batch::More;
        }
        let node = guard
            .waiting()
            .find(|w| w.data::<Role>() == Role::Upgrade)
            .map(|w| w.node())
            .expect("UPGRADING is set while the upgrade's node waits");
        // A front that leaves takes its debt and wake with it.
        let user = if std::ptr::eq(guard.front_node(), node) {
            user & !(WOKEN | DEBT_MASK)
        } else {
            user
        };
        guard.set_user(user);
        // SAFETY: `node` was found WAITING in this queue under this guard.
        wakers.push(unsafe { guard.notify_waiting(node, Role::Upgrade) });
        return Batch::Last;
    }
    loop {
        let Some(role) = guard.front().map(|front| front.data::<Role>()) else {
            return Batch::Last;
        };
        let old = guard.user();
        let Some(user) = admitted(old, role) else {
            return Batch::Last;
        };
        if old & FAIR == 0 && role == Role::Write && old & DEBT_MASK < DEBT_BOUND {
            // Bounded fairness: the writer that fits is woken to compete,
            // unless it is awake already (it owes a retry); the lock stays
            // free, WOKEN set (the invariant), and nobody behind it is
            // admitted (FIFO among the queued).
            if old & WOKEN == 0 {
                if wakers.is_full() {
                    return Batch::More;
                }
                guard.set_user(old | WOKEN);
                wakers.push(guard.take_front_waker());
            }
            return Batch::Last;
        }
        if wakers.is_full() {
            return Batch::More;
        }
        // Direct hand-off: the word counts the waiter before it wakes; its
        // role stays in its node (`pass_on` reads it if it gives up). The
        // next front starts with no debt and no wake (both 0 on a strict
        // lock anyway).
        guard.set_user(user & !(WOKEN | DEBT_MASK));
        wakers.push(guard.notify_front_keep().expect("the front exists"));
    }
}

impl Protocol for RawRwLock {
    /// Whether the waiter wants a read share or the write lock.
    type Tag = Role;
    /// The same role, left in place by the hand-off.
    type Outcome = Role;
    type Slot = ();

    fn queue(&self) -> &WaitQueue {
        &self.queue
    }

    #[inline]
    fn try_fast(&self, role: Role, _: &()) -> Option<Role> {
        let taken = match role {
            Role::Upgradable => self
                .queue
                .update_if_idle(Ordering::Acquire, |user| admitted(user, Role::Upgradable))
                .is_ok(),
            Role::Upgrade => self
                .queue
                .update_if_idle(Ordering::Acquire, |user| admitted(user, Role::Upgrade))
                .is_ok(),
            // Lock-free while nobody is queued (strict: a reader never
            // passes a queued writer), or as a barge (bounded fairness).
            Role::Read | Role::Write => self
                .queue
                .update_unlocked(Ordering::Acquire, |user, queued| barge(user, queued, role))
                .is_ok(),
        };
        taken.then_some(role)
    }

    fn arrive_locked(&self, guard: &mut QueueGuard<'_>, role: Role, _: &()) -> Result<Role, Role> {
        if role == Role::Upgrade {
            // Not in line: the upgradable reader already holds its part of
            // the lock, and everyone queued waits for it anyway.
            return match admitted(guard.user(), role) {
                Some(user) => {
                    guard.set_user(user);
                    Ok(role)
                }
                None => {
                    guard.set_user(guard.user() | UPGRADING);
                    Err(role)
                }
            };
        }
        // Strict FIFO: whoever finds anyone queued queues behind them;
        // bounded: a reader or writer may barge (see `barge`).
        let fits = if guard.is_empty() {
            admitted(guard.user(), role)
        } else if role == Role::Upgradable {
            None
        } else {
            barge(guard.user(), guard.len(), role)
        };
        admit_if(role, {
            match fits {
                Some(user) => {
                    guard.set_user(user);
                    true
                }
                None => false,
            }
        })
    }

    fn pass_on(&self, role: Role, _: &()) {
        // Handed a share or the lock, then dropped: release it, which hands
        // it on to the next waiters.
        match role {
            Role::Read => self.unlock_read(),
            Role::Write => self.unlock_write(),
            Role::Upgradable => self.unlock_upgradable(),
            // The upgrade was handed the write lock: it turns back into the
            // upgradable read, which the dropped wait's guard still holds.
            Role::Upgrade => self.downgrade_to_upgradable(),
        }
    }

    fn cancelled_at(&self, guard: &mut QueueGuard<'_>, role: Role, _: &(), was_front: bool) {
        let mut user = guard.user();
        // The upgrade's node left: plain readers may be admitted again.
        if role == Role::Upgrade {
            user &= !UPGRADING;
        }
        // A front that leaves takes its debt and its wake with it (the
        // wake, if it had one, goes to the new front: `after_cancelled`).
        if was_front {
            user &= !(WOKEN | DEBT_MASK);
        }
        guard.set_user(user);
    }

    fn after_cancelled(&self, role: Role, _: &()) {
        // A writer or upgradable reader that leaves the front of a
        // read-held lock's queue may uncover readers that fit now, and an
        // upgrade that gives up lets the readers queued behind it in: admit
        // them (a reader that leaves uncovers nobody: a reader only waits at
        // the front behind a writer that holds the lock, a waiting upgrade,
        // or when the reader count is full). With bounded fairness, always:
        // a writer woken to compete passes its wake on to the new front.
        if role != Role::Read || !self.is_fair() {
            self.admit_front(None);
        }
    }

    #[inline]
    fn retries(&self) -> bool {
        !self.is_fair()
    }

    fn retry_front_locked(&self, guard: &mut QueueGuard<'_>, role: Role, _: &()) -> Option<Role> {
        let user = guard.user();
        // Only a writer is woken to compete; readers are admitted.
        if user & FAIR != 0 || role != Role::Write {
            return None;
        }
        if let Some(user) = admitted(user, Role::Write) {
            // Ours: the next front starts with no debt and no wake.
            guard.set_user(user & !(WOKEN | DEBT_MASK));
            return Some(Role::Write);
        }
        // Lost to a barger: wait for the release that wakes us again (WOKEN
        // being clear), one step nearer to a direct hand-off.
        let debt = ((user & DEBT_MASK) + LOST_RETRY).min(DEBT_BOUND);
        guard.set_user((user & !(WOKEN | DEBT_MASK)) | debt);
        None
    }
}

impl Default for RawRwLock {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for RawRwLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let user = self.queue.user(Ordering::Relaxed);
        f.debug_struct("RawRwLock")
            .field("readers", &((user & HOLD) / READER))
            .field("writer", &(user & WRITER != 0))
            .field("upgradable", &(user & UPGRADABLE != 0))
            .field("fair", &(user & FAIR != 0))
            .field("waiting", &self.waiting())
            .finish()
    }
}

/// A read share of a [`RawRwLock`]; gives it back when dropped.
#[must_use = "the share is given back as soon as the guard is dropped"]
pub struct RawReadGuard<'a> {
    lock: &'a RawRwLock,
}

impl<'a> RawReadGuard<'a> {
    /// The guard of a read share of `lock` that the caller holds (and
    /// hands to this guard).
    #[inline]
    pub(crate) fn assume(lock: &'a RawRwLock) -> Self {
        Self { lock }
    }

    /// The lock this guard holds a share of.
    ///
    /// ```
    /// let lock = polysync::RawRwLock::new();
    /// let r = lock.read_blocking();
    /// assert!(std::ptr::eq(r.lock(), &lock));
    /// ```
    pub fn lock(&self) -> &'a RawRwLock {
        self.lock
    }
}

impl Drop for RawReadGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.lock.unlock_read();
    }
}

impl std::fmt::Debug for RawReadGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawReadGuard")
            .field("lock", self.lock)
            .finish()
    }
}

/// The write lock of a [`RawRwLock`]; released (to the next waiters) when
/// dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RawWriteGuard<'a> {
    lock: &'a RawRwLock,
}

impl<'a> RawWriteGuard<'a> {
    /// The lock this guard holds.
    ///
    /// ```
    /// let lock = polysync::RawRwLock::new();
    /// let w = lock.write_blocking();
    /// assert!(std::ptr::eq(w.lock(), &lock));
    /// ```
    pub fn lock(&self) -> &'a RawRwLock {
        self.lock
    }

    /// Turns the write lock into a read share without letting a writer in
    /// between; the readers queued at the front join at once.
    ///
    /// ```
    /// let lock = polysync::RawRwLock::new();
    /// let w = lock.write_blocking();
    /// let r = w.downgrade();
    /// assert_eq!(lock.readers(), 1);
    /// assert!(lock.try_read().is_some());
    /// # drop(r);
    /// ```
    pub fn downgrade(self) -> RawReadGuard<'a> {
        let lock = self.lock;
        std::mem::forget(self);
        lock.downgrade();
        RawReadGuard { lock }
    }
}

impl Drop for RawWriteGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.lock.unlock_write();
    }
}

impl std::fmt::Debug for RawWriteGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawWriteGuard")
            .field("lock", self.lock)
            .finish()
    }
}

/// The future of [`RawRwLock::read`]; resolves to a [`RawReadGuard`].
#[must_use = "futures do nothing unless polled"]
pub struct RawRead<'a> {
    wait: Wait<'a, RawRwLock>,
}

/// The future of [`RawRwLock::write`]; resolves to a [`RawWriteGuard`].
#[must_use = "futures do nothing unless polled"]
pub struct RawWrite<'a> {
    wait: Wait<'a, RawRwLock>,
}

/// Polls the one field of a raw future: `wait` is structurally pinned.
#[inline]
fn poll_wait(wait: Pin<&mut Wait<'_, RawRwLock>>, cx: &mut Context<'_>) -> Poll<()> {
    wait.poll(cx)
}

impl<'a> RawRead<'a> {
    /// The lock this future waits on.
    pub(crate) fn lock(&self) -> &'a RawRwLock {
        self.wait.protocol()
    }

    fn project(self: Pin<&mut Self>) -> Pin<&mut Wait<'a, RawRwLock>> {
        // SAFETY: `wait` is structurally pinned: never moved out of `self`,
        // and `RawRead` has no `Drop` or `Unpin` impl of its own.
        unsafe { self.map_unchecked_mut(|this| &mut this.wait) }
    }
}

impl<'a> RawWrite<'a> {
    /// The lock this future waits on.
    pub(crate) fn lock(&self) -> &'a RawRwLock {
        self.wait.protocol()
    }

    fn project(self: Pin<&mut Self>) -> Pin<&mut Wait<'a, RawRwLock>> {
        // SAFETY: as in `RawRead::project`.
        unsafe { self.map_unchecked_mut(|this| &mut this.wait) }
    }
}

impl<'a> Future for RawRead<'a> {
    type Output = RawReadGuard<'a>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<RawReadGuard<'a>> {
        let lock = self.lock();
        // Never refused: another branch of the same task (`join!`,
        // `select!`) may hold the write lock and release it while this
        // one waits (no false positives).
        poll_wait(self.project(), cx).map(|()| RawReadGuard { lock })
    }
}

impl<'a> Future for RawWrite<'a> {
    type Output = RawWriteGuard<'a>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<RawWriteGuard<'a>> {
        let lock = self.lock();
        // The writer of an async hold is the task, when it has an identity;
        // the thread that polls it is not (0: unknown).
        // It is recorded for the blocking forms' re-entry check only; the
        // async form never refuses (see `RawRead`'s poll).
        let me = current_task().map_or(Owner::UNKNOWN, Owner::of);
        poll_wait(self.project(), cx).map(|()| {
            lock.record_writer(me);
            RawWriteGuard { lock }
        })
    }
}

impl std::fmt::Debug for RawRead<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRead")
            .field("lock", self.lock())
            .field("queued", &self.wait.is_queued())
            .finish()
    }
}

impl std::fmt::Debug for RawWrite<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawWrite")
            .field("lock", self.lock())
            .field("queued", &self.wait.is_queued())
            .finish()
    }
}
