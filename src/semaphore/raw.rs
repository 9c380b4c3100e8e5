//! The shared core of the three semaphores: the free permits and the closed
//! flag in the queue word, and the wait protocol (one permit or many per
//! waiter), strictly FIFO or with bounded fairness.

use crate::lock::{LOST_RETRIES, OVERTAKE_BOUND};
use crate::lowlevel::queue::{Batch, NodeData, QueueGuard, WaitQueue, WakeList, wake_in_batches};
use crate::lowlevel::sync::{AtomicU64, Ordering, const_fn};
use crate::lowlevel::wait::Protocol;

// The user bits of a semaphore's queue word: bit 31 is CLOSED, bits 0..=30
// the free permits `v` (at most `FREE`, the largest maximum):
//
// | `v`, CLOSED    | queued nodes | an acquisition of `n`                  | `release(n)` / a permit given back         |
// |----------------|--------------|----------------------------------------|--------------------------------------------|
// | `v`, open      | none         | `v >= n`: takes them (`v - n`); else queues (data: `Want(n)`) | `v + n` (over the maximum: an error, or capped) |
// | `v < w`, open  | front wants `w`, k ≥ 1 in all | queues behind them (never overtakes) | `v + n`, then serves the front while it fits: each served node gets all it wants at once (`notify_front_keep`); the rest stays in `v` |
// | `v >= w`, open | front wants `w` | never (outside a critical section): a release or a cancellation serves a front that fits before it unlocks (`hand_out`) | - |
// | any, CLOSED    | none (`close` notifies them all with `Want::CLOSED`) | completes at once with `Want::CLOSED` | `v + n` (permits still count; nobody is served) |
//
// Design choice for many-permit waits: while the front waits for more than
// is free, the free permits **stay in `v`** (they are not handed to the
// node piecemeal), and no later request may take them: the lock-free fast
// path needs an empty queue, and `arrive_locked` admits only into an empty
// queue. So a node is never partially served: a waiter that gives up while
// queued holds nothing, and the permits it was waiting for are still in
// `v`. Its leaving may make the new front fit: `after_cancelled` runs
// `hand_out`, so those permits reach the waiters behind it instead of
// staying stranded. A notified waiter that never consumed its grant gives
// all of it back (`pass_on`).
//
// `v` changes lock-free while nobody is queued (`update_if_idle`), else
// under the queue lock. CLOSED is set once, under the lock, and never
// cleared.
//
// # Bounded fairness (`new_bounded`)
//
// The table above is the strict mode (the default, `new`/`new_fair`). With
// bounded fairness the queue word means the same (`v` and CLOSED; every
// permit bit stays the user's, so `MAX_PERMITS` is the same in both modes),
// and a second word beside it, `front`, holds the mode and the state of the
// queue's front:
//
// ```text
//  63                                  2     1       0
// +-------------------------------------+-------+---------+
// |  debt (what the front has suffered) | WOKEN | BOUNDED |
// +-------------------------------------+-------+---------+
// ```
//
// - A release with waiters (always under the queue lock in this mode: the
//   lock-free release needs an empty queue) adds its permits to `v` and,
//   if the front's whole request fits in `v` now, wakes the front to
//   compete (`WOKEN`) instead of handing the permits over. A running unit
//   may take free permits meanwhile (it *barges*): the lock-free attempt
//   (`try_take`) and `arrive_locked` take `v >= n` even with waiters
//   queued, each barge adding one `DEBT_UNIT` to the front's debt.
// - The woken front retries under the queue lock (`retry_front_locked`):
//   if its request fits it takes it (and wakes the new front if that one
//   fits what is left), else it stays queued, asleep, and `LOST_RETRY` is
//   added to its debt.
// - Once the debt reaches `DEBT_BOUND` (the front was overtaken
//   `OVERTAKE_BOUND` times, or lost `LOST_RETRIES` retries, or a mix), the
//   front is owed a hand-off: barges are refused, so free permits gather in
//   `v`, and the first release after which the front's request fits hands
//   it its permits directly (as the strict mode does). This is also what
//   keeps a many-permit front from starving behind one-permit barges: each
//   barge past it counts, whether its request fits or not.
// - The invariant that rules out a lost wake-up: **while a node is queued,
//   the semaphore is open and the front's request fits in `v`, the front
//   is `WOKEN`** (its waker taken, a retry owed), or a release that grew
//   `v` is on its way to check it. `v` grows under the queue lock, or by a
//   release's compare-exchange while that lock is free, after which the
//   release reads `WOKEN` and, if it is clear, takes the lock to check the
//   front (`release_unlocked` says why no wake is lost); barges only
//   shrink `v`. The front changes only under the queue lock (a retry that
//   wins, a cancellation: `cancelled_at` passes the wake to the new front
//   if it fits, the debt starts again at 0, a hand-off); each of them
//   re-checks the front.
// - The debt is counted beside the word, not in it: a lock-free barge
//   reads it (refusing at the bound) before its compare-exchange of the
//   queue word and adds its unit after. Units that read it in the same
//   instant may all pass, so the front is overtaken at most
//   `OVERTAKE_BOUND` times plus the number of units barging at that
//   instant (at most the number of running units); a unit added after the
//   front changed charges the new front.

/// The queue word's closed flag.
pub(crate) const CLOSED: u64 = 1 << 31;
/// The mask of the free permits in the queue word, and the largest number
/// of permits a semaphore holds.
pub(crate) const FREE: u64 = CLOSED - 1;

/// The node data of a semaphore wait, bits 0..=30 a number of permits:
/// - as the tag: how many the waiter wants (written by it when it starts;
///   read under the queue lock by `hand_out` at the front of the queue);
/// - as the outcome: how many it was handed, the same number (a release
///   serves a node all at once and leaves its data in place:
///   `notify_front_keep`), or [`Want::CLOSED`] (bit 31) when the wait ended
///   because the semaphore was closed, holding nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Want(u32);

impl Want {
    /// The outcome of a wait that the semaphore's closing ended.
    pub(crate) const CLOSED: Want = Want(1 << 31);

    /// A want of `n` permits (`n <= FREE`).
    #[inline]
    pub(crate) const fn of(n: u64) -> Want {
        debug_assert!(n <= FREE);
        Want(n as u32)
    }

    /// The number of permits.
    #[inline]
    pub(crate) const fn count(self) -> u64 {
        (self.0 & !Want::CLOSED.0) as u64
    }

    /// Whether the wait ended by the semaphore's closing.
    #[inline]
    pub(crate) const fn is_closed(self) -> bool {
        self.0 & Want::CLOSED.0 != 0
    }
}

/// The mode of `new` (and `Default`) for all three semaphores: strict FIFO
/// hand-off (`true`) or bounded fairness (`false`). The one line to change
/// when the default flips (and the sentence "strict, for now" in
/// `semaphore/mod.rs`).
pub(crate) const DEFAULT_FAIR: bool = true;

/// `front`: the semaphore has bounded fairness (fixed at construction).
const BOUNDED: u64 = 1;
/// `front`: the front node was woken to compete and has not retried yet.
const WOKEN: u64 = 2;
/// `front`: one barge past the front.
const DEBT_UNIT: u64 = 4;
/// `front`: the debt at which the front is owed a hand-off.
const DEBT_BOUND: u64 = OVERTAKE_BOUND * DEBT_UNIT;
/// `front`: one retry that the front lost.
const LOST_RETRY: u64 = DEBT_BOUND / LOST_RETRIES;
/// `front`: the bits below the debt.
const FLAGS: u64 = DEBT_UNIT - 1;

/// The word is the 32-bit value itself (it fits a `usize` on every target).
impl NodeData for Want {
    #[inline]
    fn into_raw(self) -> usize {
        self.0 as usize
    }

    #[inline]
    fn from_raw(raw: usize) -> Want {
        Want(raw as u32)
    }
}

/// The shared core: the free permits and the closed flag live in the queue
/// word's user bits (see the table above). A release hands permits straight
/// to queued waiters, oldest first and each all at once, so waiters are
/// served strictly FIFO and a large request at the head is never overtaken.
///
/// `pub` only inside this private module (it appears in the sealed
/// [`PermitSource`](super::PermitSource) trait); not reachable from outside
/// the crate.
pub struct RawSemaphore {
    /// User bits: CLOSED and the free permits.
    pub(crate) queue: WaitQueue,
    /// `BOUNDED` (fixed), `WOKEN` and the front's debt (see the bounded
    /// fairness section above); 0 in strict mode, where it never changes.
    /// `WOKEN` changes only under the queue lock; the debt grows without
    /// it (lock-free barges) and is reset under it when the front changes.
    front: AtomicU64,
}

impl std::fmt::Debug for RawSemaphore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawSemaphore")
            .field("value", &self.value())
            .field("closed", &self.is_closed())
            .field("waiting", &self.waiting())
            .field("fair", &self.is_fair())
            .finish()
    }
}

/// Why a lock-free attempt failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Not enough free permits, someone queued, or the word was busy.
    Unavailable,
    /// The semaphore is closed.
    Closed,
}

impl RawSemaphore {
    const_fn! {
        /// A strict semaphore (`fair`) or one with bounded fairness.
        pub(crate) fn new(value: u64, fair: bool) -> RawSemaphore {
            RawSemaphore {
                queue: WaitQueue::new(value),
                front: AtomicU64::new(if fair { 0 } else { BOUNDED }),
            }
        }
    }

    /// Whether the semaphore is strictly FIFO (no bounded fairness).
    #[inline]
    pub(crate) fn is_fair(&self) -> bool {
        self.front.load(Ordering::Relaxed) & BOUNDED == 0
    }

    /// Whether a unit that is not queued may take free permits past the
    /// queued waiters now: bounded fairness, and the front is not owed a
    /// hand-off.
    #[inline]
    fn may_barge(&self) -> bool {
        let front = self.front.load(Ordering::Relaxed);
        front & BOUNDED != 0 && front & !FLAGS < DEBT_BOUND
    }

    /// Counts one barge past the front.
    #[inline]
    fn add_debt(&self) {
        self.front.fetch_add(DEBT_UNIT, Ordering::Relaxed);
    }

    /// Under the queue lock: the front changed (or left), so the debt
    /// starts again at 0 and nobody is woken; then, if the new front's
    /// whole request fits in the free permits `v` of an open semaphore,
    /// wakes it to compete (the invariant). Returns its waker, to be woken
    /// after the lock is released.
    fn new_front_locked(&self, guard: &mut QueueGuard<'_>, v: u64) -> Option<std::task::Waker> {
        self.front.fetch_and(BOUNDED, Ordering::Relaxed);
        self.wake_front_if_fits(guard, v)
    }

    /// Under the queue lock: wakes the front to compete if its request fits
    /// in `v`, the semaphore is open and it is not awake already.
    fn wake_front_if_fits(&self, guard: &mut QueueGuard<'_>, v: u64) -> Option<std::task::Waker> {
        if guard.user() & CLOSED != 0 {
            return None;
        }
        let want = guard.front()?.data::<Want>().count();
        if want > v || self.front.load(Ordering::Relaxed) & WOKEN != 0 {
            return None;
        }
        self.front.fetch_or(WOKEN, Ordering::Relaxed);
        guard.take_front_waker()
    }

    #[inline]
    pub(crate) fn value(&self) -> usize {
        (self.queue.user(Ordering::Relaxed) & FREE) as usize
    }

    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.queue.user(Ordering::Acquire) & CLOSED != 0
    }

    #[inline]
    pub(crate) fn waiting(&self) -> usize {
        self.queue.len()
    }

    /// Takes `n` free permits if the semaphore is open and nobody is
    /// queued (so nobody is overtaken), or, with bounded fairness, past the
    /// queued waiters if the front is not owed a hand-off (a barge, counted
    /// in the front's debt).
    #[inline]
    pub(crate) fn try_take(&self, n: u64) -> Result<(), Refused> {
        let mut barged = false;
        match self.queue.update_unlocked(Ordering::Acquire, |v, queued| {
            barged = queued != 0;
            (v < CLOSED && v >= n && (queued == 0 || self.may_barge())).then(|| v - n)
        }) {
            Ok(_) => {
                if barged {
                    self.add_debt();
                }
                Ok(())
            }
            Err(seen) if seen & CLOSED != 0 => Err(Refused::Closed),
            Err(_) => Err(Refused::Unavailable),
        }
    }

    /// The attempt under the queue lock (the protocol's `arrive_locked`):
    /// the outcome, or `Err` to queue.
    #[inline]
    pub(crate) fn take_locked(&self, guard: &mut QueueGuard<'_>, want: Want) -> Result<Want, Want> {
        let user = guard.user();
        if user & CLOSED != 0 {
            return Ok(Want::CLOSED);
        }
        let n = want.count();
        // Strict: a free permit may be held back for the front waiter: only
        // an empty queue may be served at once (FIFO, see the table).
        // Bounded: a barge past the front, unless it is owed a hand-off.
        if user >= n && (guard.is_empty() || self.may_barge()) {
            if !guard.is_empty() {
                self.add_debt();
            }
            guard.set_user(user - n);
            Ok(want)
        } else {
            Err(want)
        }
    }

    /// Adds `n` permits, serving waiters first. Fails, changing nothing, if
    /// the free count would exceed `max` once the waiters that the release
    /// serves have taken theirs; with `saturate`, the excess is dropped
    /// instead.
    pub(crate) fn release(&self, n: u64, max: u64, saturate: bool) -> Result<(), u64> {
        if n == 0 {
            return Ok(());
        }
        let fast = self.queue.update_if_idle(Ordering::Release, |word| {
            let v = word & FREE;
            if v + n <= max {
                Some(word + n)
            } else if saturate {
                Some((word & CLOSED) | max)
            } else {
                None
            }
        });
        if fast.is_ok() {
            return Ok(());
        }
        if !self.is_fair() && self.release_unlocked(n, max) {
            return Ok(());
        }
        let guard = self.queue.lock();
        let v = guard.user() & FREE;
        if !saturate && v + n > max && Self::leftover(&guard, v + n) > max {
            return Err(v);
        }
        if v + n <= max && !self.is_fair() {
            self.release_bounded(guard, n);
        } else {
            // Strict, or bounded with permits past the maximum: those go
            // straight to the waiters they fit (see `hand_out`).
            self.hand_out(guard, n, max);
        }
        Ok(())
    }

    /// With bounded fairness and waiters queued: adds `n` permits within
    /// the maximum by one compare-exchange of the queue word while its lock
    /// is free, then, unless the front is awake already (`WOKEN`) and not
    /// owed a hand-off, takes the lock to wake or serve it
    /// (`release_bounded` of nothing). `false` (nothing changed) if the
    /// permits do not fit under the maximum or the semaphore is closed.
    ///
    /// Why no wake is lost: the compare-exchange is ordered with every
    /// critical section of the queue lock (both change the queue word). If
    /// it comes first, the retry, cancellation or release under the lock
    /// sees the permits and re-checks the front. If it comes after one, it
    /// synchronizes with that unlock (acquire), so the `WOKEN` it reads next
    /// is at least as new as that critical section left it: a front that
    /// lost its retry, or a new front, has it clear, and this release takes
    /// the lock to check it.
    #[inline]
    fn release_unlocked(&self, n: u64, max: u64) -> bool {
        let added = self.queue.update_unlocked(Ordering::AcqRel, |word, _| {
            (word & CLOSED == 0 && (word & FREE) + n <= max).then(|| word + n)
        });
        if added.is_err() {
            return false;
        }
        let front = self.front.load(Ordering::Relaxed);
        if front & WOKEN == 0 || front & !FLAGS >= DEBT_BOUND {
            self.release_bounded(self.queue.lock(), 0);
        }
        true
    }

    /// The release of `n` permits under the queue lock, with bounded
    /// fairness and within the maximum: they go to the free count, then a
    /// front that is owed a hand-off and fits is served directly, and else
    /// a front that fits is woken to compete (see the bounded fairness
    /// section above).
    fn release_bounded(&self, mut guard: QueueGuard<'_>, n: u64) {
        let word = guard.user();
        let mut v = (word & FREE) + n;
        let mut wakers = WakeList::new();
        if word & CLOSED == 0 {
            if let Some(want) = guard.front().map(|f| f.data::<Want>().count()) {
                if want <= v && self.front.load(Ordering::Relaxed) & !FLAGS >= DEBT_BOUND {
                    // Owed: a direct hand-off, as in strict mode; the node
                    // behind it is the new front.
                    v -= want;
                    wakers.push(guard.notify_front_keep().expect("front exists"));
                    wakers.push(self.new_front_locked(&mut guard, v));
                } else {
                    wakers.push(self.wake_front_if_fits(&mut guard, v));
                }
            }
        }
        guard.set_user((word & CLOSED) | v);
        drop(guard);
        wakers.wake_all();
    }

    /// What would stay free of `avail` permits once the queued waiters that
    /// they serve, oldest first, took theirs (a dry run of `hand_out`).
    fn leftover(guard: &QueueGuard<'_>, mut avail: u64) -> u64 {
        if guard.user() & CLOSED != 0 {
            return avail; // a closed semaphore serves nobody
        }
        for node in guard.waiting() {
            let want = node.data::<Want>().count();
            if want > avail {
                break;
            }
            avail -= want;
        }
        avail
    }

    /// Adds `carry` permits to the free ones and serves the front of the
    /// queue while its whole request fits, waking the served waiters after
    /// the lock is released (in batches). What is left stays free, capped
    /// at `max`. Consumes the guard.
    ///
    /// With bounded fairness only the permits past `max` are handed out
    /// this way (a release that the free count cannot hold: the permits
    /// are the waiters', as in strict mode, so a `BinarySemaphore` or
    /// `BoundedSemaphore` release with waiters is never dropped or refused
    /// for want of room); then, if the front changed, the new front starts
    /// with no debt and is woken if what stays free fits it.
    pub(crate) fn hand_out<'q>(&'q self, guard: QueueGuard<'q>, mut carry: u64, max: u64) {
        let bounded = !self.is_fair();
        let mut served = false;
        wake_in_batches(&self.queue, Some(guard), |guard, wakers| {
            let word = guard.user();
            let closed = word & CLOSED;
            // In a u64, beside the word: the permits of a large release may
            // exceed what the word holds until the waiters have theirs.
            let mut v = (word & FREE) + carry;
            if closed == 0 {
                while !wakers.is_full() && (!bounded || v > max) {
                    let Some(front) = guard.front() else { break };
                    let want = front.data::<Want>().count();
                    if want > v {
                        break;
                    }
                    v -= want;
                    wakers.push(guard.notify_front_keep().expect("front exists"));
                    served = true;
                }
            }
            // A full batch may have stopped short of a front that fits.
            let more = closed == 0 && wakers.is_full() && !guard.is_empty();
            let keep = v.min(max);
            if bounded && !more {
                // The last batch (a full one has room only if the queue is
                // empty, and then there is nobody to wake).
                let waker = if served {
                    self.new_front_locked(guard, keep)
                } else {
                    self.wake_front_if_fits(guard, keep)
                };
                if waker.is_some() {
                    wakers.push(waker);
                }
            }
            // Between batches the excess rides along; after the last one it
            // is dropped (a saturating release, or a release whose check
            // above raced another release).
            carry = v - keep;
            guard.set_user(closed | keep);
            Batch::more_if(more)
        });
    }

    /// Closes the semaphore: every queued waiter completes with
    /// [`Want::CLOSED`], and so does every later acquisition. Idempotent.
    pub(crate) fn close(&self) {
        let mut guard = self.queue.lock();
        if guard.user() & CLOSED != 0 {
            return;
        }
        guard.set_user(guard.user() | CLOSED);
        self.front.fetch_and(BOUNDED, Ordering::Relaxed);
        // Nobody can join the queue now (`take_locked` completes them), so
        // the batches drain it.
        wake_in_batches(&self.queue, Some(guard), |guard, wakers| {
            guard.notify_batch(wakers, Want::CLOSED)
        });
    }
}

/// The semaphores' side of the wait protocol: what [`Protocol`] needs from
/// each of the three types (the sealed half of
/// [`PermitSource`](super::PermitSource)).
pub trait Kind {
    /// The raw core.
    fn raw(&self) -> &RawSemaphore;
    /// The most free permits the semaphore may hold.
    fn max(&self) -> u64;
}

/// Every semaphore waits through this one protocol, whatever its type; the
/// type only says its maximum (for permits given back).
impl<S: Kind + ?Sized> Protocol for S {
    type Tag = Want;
    /// The same count, left in place by the release that serves the node,
    /// or [`Want::CLOSED`].
    type Outcome = Want;
    type Slot = ();

    fn queue(&self) -> &WaitQueue {
        &self.raw().queue
    }

    #[inline]
    fn try_fast(&self, want: Want, _: &()) -> Option<Want> {
        self.raw().try_take(want.count()).ok().map(|()| want)
    }

    fn arrive_locked(&self, guard: &mut QueueGuard<'_>, want: Want, _: &()) -> Result<Want, Want> {
        self.raw().take_locked(guard, want)
    }

    fn pass_on(&self, outcome: Want, _: &()) {
        // The permits were handed to us: give them back (to the next
        // waiters), under the semaphore's maximum. A closed outcome holds
        // nothing.
        if !outcome.is_closed() {
            let _ = self.raw().release(outcome.count(), self.max(), true);
        }
    }

    fn retries(&self) -> bool {
        !self.raw().is_fair()
    }

    /// The front of a bounded semaphore, woken to compete, tries again.
    fn retry_front_locked(&self, guard: &mut QueueGuard<'_>, want: Want, _: &()) -> Option<Want> {
        let raw = self.raw();
        let word = guard.user();
        if word & CLOSED != 0 {
            // Closed between the batches of `close`: done, holding nothing.
            return Some(Want::CLOSED);
        }
        let n = want.count();
        let v = word & FREE;
        if n <= v {
            // Ours. The caller unlinks this node: the one behind it is the
            // new front (starting with no debt), woken if what is left fits.
            guard.set_user(v - n);
            raw.front.fetch_and(BOUNDED, Ordering::Relaxed);
            let next = guard.waiting().nth(1).map(|w| w.data::<Want>().count());
            if next.is_some_and(|next| next <= v - n) {
                raw.front.fetch_or(WOKEN, Ordering::Relaxed);
                let waker = guard.take_second_waker();
                guard.wake_after_unlock(waker);
            }
            return Some(want);
        }
        // Lost to barges: asleep until a release makes the request fit
        // again, one step nearer to a direct hand-off.
        // An update, not a store: a barge's unit may land meanwhile. WOKEN
        // is cleared: the release that makes the request fit wakes it.
        let _ = raw
            .front
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |front| {
                let debt = front & !FLAGS;
                Some((front & BOUNDED) | debt.max((debt + LOST_RETRY).min(DEBT_BOUND)))
            });
        None
    }

    fn cancelled_at(&self, guard: &mut QueueGuard<'_>, _: Want, _: &(), was_front: bool) {
        let raw = self.raw();
        if !was_front || raw.is_fair() {
            return;
        }
        // A new front (or none): no debt, and it is woken if it fits (the
        // wake the old front owed a retry for is passed on with it).
        let v = guard.user() & FREE;
        let waker = raw.new_front_locked(guard, v);
        guard.wake_after_unlock(waker);
    }

    fn after_cancelled(&self, _: Want, _: &()) {
        // Bounded fairness: `cancelled_at` woke the new front if it fits.
        if !self.raw().is_fair() {
            return;
        }
        // The node that left may have been the front, holding back free
        // permits that the new front can use now (see the table). Checked
        // without the lock first: a snapshot of "nobody waits" needs no
        // serving, since whoever queues later is served by the releases
        // that follow (or by their own arrival).
        let raw = self.raw();
        if raw.queue.len() > 0 {
            raw.hand_out(raw.queue.lock(), 0, self.max());
        }
    }
}
