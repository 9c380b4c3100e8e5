//! The shared core of the three semaphores: the free permits and the closed
//! flag in the queue word, and the wait protocol (one permit or many per
//! waiter, strictly FIFO).

use crate::lowlevel::queue::{Batch, NodeData, QueueGuard, WaitQueue, wake_in_batches};
use crate::lowlevel::sync::{Ordering, const_fn};
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
}

impl std::fmt::Debug for RawSemaphore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawSemaphore")
            .field("value", &self.value())
            .field("closed", &self.is_closed())
            .field("waiting", &self.waiting())
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
        pub(crate) fn new(value: u64) -> RawSemaphore {
            RawSemaphore { queue: WaitQueue::new(value) }
        }
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

    /// Takes `n` free permits if nobody is queued (so nobody is overtaken)
    /// and the semaphore is open.
    #[inline]
    pub(crate) fn try_take(&self, n: u64) -> Result<(), Refused> {
        match self
            .queue
            .update_if_idle(Ordering::Acquire, |v| (v < CLOSED && v >= n).then(|| v - n))
        {
            Ok(_) => Ok(()),
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
        // A free permit may be held back for the front waiter: only an
        // empty queue may be served at once (FIFO, see the table).
        if guard.is_empty() && user >= n {
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
        let guard = self.queue.lock();
        let v = guard.user() & FREE;
        if !saturate && v + n > max && Self::leftover(&guard, v + n) > max {
            return Err(v);
        }
        self.hand_out(guard, n, max);
        Ok(())
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
    pub(crate) fn hand_out<'q>(&'q self, guard: QueueGuard<'q>, mut carry: u64, max: u64) {
        wake_in_batches(&self.queue, Some(guard), |guard, wakers| {
            let word = guard.user();
            let closed = word & CLOSED;
            // In a u64, beside the word: the permits of a large release may
            // exceed what the word holds until the waiters have theirs.
            let mut v = (word & FREE) + carry;
            if closed == 0 {
                while !wakers.is_full() {
                    let Some(front) = guard.front() else { break };
                    let want = front.data::<Want>().count();
                    if want > v {
                        break;
                    }
                    v -= want;
                    wakers.push(guard.notify_front_keep().expect("front exists"));
                }
            }
            // A full batch may have stopped short of a front that fits.
            let more = closed == 0 && wakers.is_full() && !guard.is_empty();
            let keep = v.min(max);
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

    fn after_cancelled(&self, _: Want, _: &()) {
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
