//! The shared core of both limiters: the borrowed-token count in the queue
//! word, the borrower list beside it, and the wait protocol.

use super::*;
use crate::lowlevel::queue::{Batch, NodeData, QueueGuard, USER_MAX, WaitQueue, wake_in_batches};
use crate::lowlevel::sync::{AtomicU64, Ordering, UnsafeCell, const_fn};
use crate::lowlevel::wait::{Protocol, Wait};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The node data of a limiter wait: who borrows, and (once served) whether
/// it already held a token.
///
/// - `id`: the borrowing unit ([`UnitId::get`]). Written by the waiter when
///   it starts; read under the queue lock by `hand_out` at the front of the
///   queue (and by `arrive_locked`) to find or add the borrower.
/// - `already`: `false` while queued. Set in the outcome (by `arrive_locked`
///   or `hand_out`) when the unit already held a token of a non-reentrant
///   limiter: the wait completes with [`BorrowError::AlreadyBorrowing`],
///   holding nothing (so `pass_on` gives nothing back).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Borrow {
    pub(super) id: u64,
    pub(super) already: bool,
}

impl Borrow {
    /// A borrow by `id` that holds no token yet (or was handed a level).
    #[inline]
    pub(super) const fn by(id: u64) -> Borrow {
        Borrow { id, already: false }
    }
}

/// `already` is the top bit of the word, `id` the rest: identities are at
/// most `UnitId::MAX` (`usize::MAX >> 1`), which leaves the top bit free.
impl NodeData for Borrow {
    #[inline]
    fn into_raw(self) -> usize {
        self.id as usize | (self.already as usize) << (usize::BITS - 1)
    }

    #[inline]
    fn from_raw(raw: usize) -> Borrow {
        const ALREADY: usize = 1 << (usize::BITS - 1);
        Borrow {
            id: (raw & !ALREADY) as u64,
            already: raw & ALREADY != 0,
        }
    }
}

// The user bits of a limiter's queue word: `b`, the borrowed tokens (one
// per borrowing unit, whatever its levels), with the `total` word and the
// borrower list beside it:
//
// | `b` vs `total` | queued nodes | a unit on the list borrows again | a new unit borrows | a borrower's last level is released |
// |----------------|--------------|----------------------------------|--------------------|-------------------------------------|
// | `b < total`    | none         | at once: one more level (non-reentrant: `already`, an error) | takes a token: joins the list, `b + 1` | leaves the list, `b - 1` |
// | `b >= total`   | any          | the same, even while others queue | queues (data: its `Borrow`) | leaves the list, `b - 1`, then `hand_out` gives free tokens to the oldest waiters (list + 1, `b + 1` each) |
// | `b < total`    | some         | only inside `hand_out`, which serves the front until `b == total` | - | - |
//
// `b`, `total` and the list change only under the queue lock; `b` and
// `total` are read lock-free for snapshots. `set_total` may leave
// `b > total` (tokens are not taken back): new units queue until enough
// borrowers leave. A queued node of a unit that is already on the list
// (a task polling two borrows at once, or a job's second
// `acquire_on_behalf_of` that queued before its first was served) is served
// by `hand_out` without a token once it reaches the front: when the nodes
// ahead of it are served or leave (`after_cancelled` runs `hand_out`), never
// ahead of them (strict FIFO; the public "Order" docs name the deadlock
// this allows).

/// The borrowers: an open-addressed hash table of `(borrower, levels)`
/// with linear probing, guarded by the queue lock (so it needs no atomics
/// of its own).
///
/// Why a table and not the list it replaces: a borrow must find out whether
/// its unit borrows already (one token per unit, or one more level) and a
/// release must find its borrower; both were linear searches of a `Vec`
/// under the queue lock, about 6% of a bridge pool thread's time with a few
/// dozen jobs in flight (issue 19). Here both are one hash and, at a load
/// of at most 1/2, one or two probes. (A token that carried its slot index
/// would save the hash on release only, and go stale whenever a deletion
/// shifts entries back; the identity check on borrow needs the table
/// anyway.)
///
/// - A slot is `(0, 0)` when empty: identities are never 0.
/// - The capacity is 0 (a new limiter: `const`, no allocation) or a power of
///   two at least 8, at least twice the number of borrowers. It grows (and
///   allocates, under the queue lock) only when more units borrow at once
///   than ever before, and never shrinks: waiting never allocates.
/// - Deletion shifts the entries of the cluster after the hole back
///   (no tombstones), so probes stay short however often units come and go.
struct Borrowers {
    slots: Vec<(u64, u64)>,
    len: usize,
}

/// Fibonacci hashing: identities are handed out in order, so neighbours
/// must land apart; the multiplication spreads them over the high bits.
#[inline]
fn home(id: u64, mask: usize) -> usize {
    (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & mask
}

impl Borrowers {
    const MIN_CAPACITY: usize = 8;

    const fn new() -> Borrowers {
        Borrowers {
            slots: Vec::new(),
            len: 0,
        }
    }

    /// The slot of `id`, if it borrows.
    #[inline]
    fn find(&self, id: u64) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = home(id, mask);
        loop {
            match self.slots[i].0 {
                0 => return None,
                found if found == id => return Some(i),
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// The levels of `id` (0 if it does not borrow).
    #[inline]
    fn levels(&self, id: u64) -> u64 {
        self.find(id).map_or(0, |i| self.slots[i].1)
    }

    /// Adds `id` (which does not borrow) with one level.
    #[inline]
    fn insert(&mut self, id: u64) {
        debug_assert!(id != 0 && self.find(id).is_none());
        if 2 * (self.len + 1) > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = home(id, mask);
        while self.slots[i].0 != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = (id, 1);
        self.len += 1;
    }

    #[cold]
    fn grow(&mut self) {
        let capacity = (2 * self.slots.len()).max(Self::MIN_CAPACITY);
        let old = std::mem::replace(&mut self.slots, vec![(0, 0); capacity]);
        let mask = capacity - 1;
        for (id, levels) in old.into_iter().filter(|e| e.0 != 0) {
            let mut i = home(id, mask);
            while self.slots[i].0 != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = (id, levels);
        }
    }

    /// Removes the entry in slot `hole`, shifting back the entries after it
    /// that would no longer be found (their probe passed through `hole`).
    fn remove_at(&mut self, mut hole: usize) {
        let mask = self.slots.len() - 1;
        let mut i = hole;
        loop {
            i = (i + 1) & mask;
            let id = self.slots[i].0;
            if id == 0 {
                break;
            }
            // The entry at `i` may fill the hole if its home is not in the
            // cyclic range `(hole, i]` (its probe started at or before the
            // hole).
            let h = home(id, mask);
            let stays = if hole < i {
                hole < h && h <= i
            } else {
                hole < h || h <= i
            };
            if !stays {
                self.slots[hole] = self.slots[i];
                hole = i;
            }
        }
        self.slots[hole] = (0, 0);
        self.len -= 1;
    }

    fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.slots.iter().copied().filter(|e| e.0 != 0)
    }
}

/// The shared core. The queue word's user bits count the borrowed tokens
/// (one per borrower); the borrower table lives beside the queue and is
/// guarded by the queue lock. Tokens are handed straight to queued waiters,
/// oldest first.
pub struct RawLimiter {
    /// User bits: the borrowed tokens (see the table above).
    pub(super) queue: WaitQueue,
    /// Written under the queue lock; read lock-free for snapshots.
    total: AtomicU64,
    /// Guarded by the queue lock (see [`Borrowers`]).
    borrowers: UnsafeCell<Borrowers>,
    reentrant: bool,
}

// SAFETY: `borrowers` is only touched under the queue lock (see `with_list`);
// everything else is atomic.
unsafe impl Send for RawLimiter {}
// SAFETY: as above.
unsafe impl Sync for RawLimiter {}

impl RawLimiter {
    const_fn! {
        #[track_caller]
        pub(super) fn new(total: usize, reentrant: bool) -> RawLimiter {
            assert!(total as u64 <= USER_MAX, "polysync: too many tokens");
            RawLimiter {
                queue: WaitQueue::new(0),
                total: AtomicU64::new(total as u64),
                borrowers: UnsafeCell::new(Borrowers::new()),
                reentrant,
            }
        }
    }

    /// Runs `f` on the borrower table. The guard proves the queue lock is held.
    #[inline]
    fn with_list<R>(&self, guard: &QueueGuard<'_>, f: impl FnOnce(&mut Borrowers) -> R) -> R {
        debug_assert!(guard.locks(&self.queue));
        // SAFETY: the queue lock (borrowed for the call, debug-checked to be
        // this queue's) guards the list.
        self.borrowers.with_mut(|list| f(unsafe { &mut *list }))
    }

    pub(super) fn total(&self) -> usize {
        self.total.load(Ordering::Relaxed) as usize
    }

    pub(super) fn borrowed(&self) -> usize {
        self.queue.user(Ordering::Relaxed) as usize
    }

    pub(super) fn levels_of(&self, id: u64) -> usize {
        let guard = self.queue.lock();
        self.with_list(&guard, |list| list.levels(id) as usize)
    }

    pub(super) fn snapshot(&self) -> Vec<(UnitId, usize)> {
        let guard = self.queue.lock();
        let mut out = Vec::with_capacity(self.borrowed());
        self.with_list(&guard, |list| {
            out.extend(
                list.iter()
                    // Borrowers are stored from `UnitId::get`.
                    .filter_map(|(id, n)| UnitId::from_stored(id).map(|id| (id, n as usize))),
            );
        });
        drop(guard);
        out
    }

    /// Under the queue lock: the outcome for `id` if it borrows already
    /// (one more level of a reentrant limiter, `already` for the other),
    /// or `None`.
    #[inline]
    fn serve_known(&self, guard: &QueueGuard<'_>, id: u64) -> Option<Borrow> {
        self.with_list(guard, |list| {
            let slot = list.find(id)?;
            if self.reentrant {
                list.slots[slot].1 += 1;
            }
            Some(Borrow {
                id,
                already: !self.reentrant,
            })
        })
    }

    /// Under the queue lock: lends a token to `id`, which does not borrow.
    #[inline]
    fn lend(&self, guard: &mut QueueGuard<'_>, id: u64) -> Borrow {
        self.with_list(guard, |list| list.insert(id));
        guard.set_user(guard.user() + 1);
        Borrow::by(id)
    }

    /// Hands free tokens to queued waiters, oldest first, waking them after
    /// the lock is gone. Consumes the guard.
    fn hand_out<'a>(&'a self, guard: QueueGuard<'a>) {
        wake_in_batches(&self.queue, Some(guard), |guard, wakers| {
            let total = self.total.load(Ordering::Relaxed);
            while !wakers.is_full() {
                let Some(front) = guard.front() else { break };
                let id = front.data::<Borrow>().id;
                // The same unit waits twice (a task polling two
                // acquisitions at once): no new token.
                let outcome = match self.serve_known(guard, id) {
                    Some(outcome) => outcome,
                    None if guard.user() >= total => break,
                    None => self.lend(guard, id),
                };
                wakers.push(guard.notify_front(outcome).expect("front exists"));
            }
            // A full batch may have stopped short of a waiter that a token
            // would serve: look again after waking it.
            Batch::more_if(wakers.is_full())
        });
    }

    /// Releases `levels` levels of `id`'s borrow; the last one gives the
    /// token back (to the oldest waiter, if any).
    pub(super) fn release(&self, id: u64, levels: u64) -> Result<(), LimiterReleaseError> {
        let mut guard = self.queue.lock();
        let outcome = self.with_list(&guard, |list| {
            let Some(slot) = list.find(id) else {
                return Err(LimiterReleaseError::NotBorrowing);
            };
            let held = list.slots[slot].1;
            if levels > held {
                return Err(LimiterReleaseError::TooManyReleases {
                    held: held as usize,
                });
            }
            list.slots[slot].1 -= levels;
            if list.slots[slot].1 == 0 {
                list.remove_at(slot);
                Ok(true)
            } else {
                Ok(false)
            }
        })?;
        if outcome {
            guard.set_user(guard.user() - 1);
            // Nobody waits: nothing to hand out (the guard publishes the
            // count as it unlocks).
            if !guard.is_empty() {
                self.hand_out(guard);
            }
        }
        Ok(())
    }

    #[track_caller]
    pub(super) fn set_total(&self, total: usize) {
        assert!(total as u64 <= USER_MAX, "polysync: too many tokens");
        let guard = self.queue.lock();
        self.total.store(total as u64, Ordering::Relaxed);
        self.hand_out(guard);
    }

    /// Borrows without waiting: `Ok` with the outcome (maybe `already`),
    /// or `Err` when no token is free.
    #[inline]
    pub(super) fn try_borrow(&self, id: u64) -> Result<Borrow, Borrow> {
        let mut guard = self.queue.lock();
        self.arrive_locked(&mut guard, Borrow::by(id), &())
    }

    /// Whether a borrow might succeed at once, from a lock-free snapshot:
    /// a free token and nobody queued. (A unit that borrows already is
    /// served at once too; the snapshot does not know it, so its borrow
    /// takes the waiting path, whose attempt under the lock serves it.)
    #[inline]
    fn may_lend_now(&self) -> bool {
        self.queue.len() == 0 && self.borrowed() < self.total()
    }
}

impl Protocol for RawLimiter {
    /// The borrower (`already` is `false` while queued).
    type Tag = Borrow;
    /// The borrower again, with `already` if it held a token already.
    type Outcome = Borrow;
    type Slot = ();

    fn queue(&self) -> &WaitQueue {
        &self.queue
    }

    /// The attempt before an async wait clones its waker: under the queue
    /// lock, but only if the snapshot says a token is free (else the
    /// attempt under the lock in `arrive_locked` is the only one, so a
    /// contended borrow takes the lock once before it queues).
    #[inline]
    fn try_fast(&self, tag: Borrow, _: &()) -> Option<Borrow> {
        if !self.may_lend_now() {
            return None;
        }
        self.try_borrow(tag.id).ok()
    }

    fn arrive_locked(
        &self,
        guard: &mut QueueGuard<'_>,
        tag: Borrow,
        _: &(),
    ) -> Result<Borrow, Borrow> {
        let id = tag.id;
        if let Some(outcome) = self.serve_known(guard, id) {
            return Ok(outcome);
        }
        // A free token implies an empty queue (tokens are handed out first),
        // so taking it keeps FIFO order.
        if guard.is_empty() && guard.user() < self.total.load(Ordering::Relaxed) {
            return Ok(self.lend(guard, id));
        }
        Err(Borrow::by(id))
    }

    fn pass_on(&self, outcome: Borrow, _: &()) {
        if !outcome.already {
            // We were handed a level (a token): give it back.
            let _ = self.release(outcome.id, 1);
        }
    }

    fn after_cancelled(&self, _: Borrow, _: &()) {
        // The node that left may have stood in front of a waiter whose
        // borrower gained a token while it was queued (an earlier wait of
        // the same borrower was served): at the front now, `hand_out`
        // serves it without a token. Nothing else would, until an unrelated
        // release (issue 21). (A front that needs a token is never stranded
        // this way: `hand_out` stops only when no token is free.) Checked
        // without the lock first: if nobody waits (a snapshot), whoever
        // queues later is served by its own arrival or by the releases
        // that follow.
        if self.queue.len() > 0 {
            self.hand_out(self.queue.lock());
        }
    }
}

/// What the owned tokens need from either limiter: its raw core. `pub`
/// only inside this private module, so it seals
/// [`TokenSource`](super::TokenSource).
pub trait HasRaw {
    /// The shared core.
    fn raw(&self) -> &RawLimiter;
}

impl std::fmt::Debug for RawLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("total_tokens", &self.total())
            .field("borrowed_tokens", &self.borrowed())
            .field("waiting", &self.queue.len())
            .finish()
    }
}

/// A wait whose output is the node's outcome.
pub(super) struct Outcome<'a>(pub(super) Wait<'a, RawLimiter>);

impl Future for Outcome<'_> {
    type Output = Borrow;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Borrow> {
        // SAFETY: the wait is structurally pinned.
        let mut wait = unsafe { self.map_unchecked_mut(|this| &mut this.0) };
        match wait.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(wait.outcome().expect("completed")),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(all(test, not(polysync_loom)))]
mod tests {
    use super::Borrowers;
    use std::collections::HashMap;

    /// The table against a `HashMap`, through random inserts, level changes
    /// and removals, with identities chosen so that many share a home slot
    /// (clusters that wrap around the end, removals in their middle).
    #[test]
    fn the_borrower_table_agrees_with_a_map() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut table = Borrowers::new();
        let mut model: HashMap<u64, u64> = HashMap::new();
        for round in 0..20_000 {
            // Few distinct identities, so that hits, misses and re-inserts
            // after removal are all common; the range grows to force growth.
            let range = 4 + (round / 500) as u64;
            let id = next() % range + 1;
            match (next() % 3, table.find(id)) {
                (0, None) => {
                    table.insert(id);
                    model.insert(id, 1);
                }
                (0, Some(slot)) => {
                    table.slots[slot].1 += 1;
                    *model.get_mut(&id).unwrap() += 1;
                }
                (_, Some(slot)) => {
                    table.remove_at(slot);
                    model.remove(&id);
                }
                (_, None) => assert!(!model.contains_key(&id)),
            }
            assert_eq!(table.len, model.len());
            for probe in 1..=range + 1 {
                assert_eq!(
                    table.levels(probe),
                    model.get(&probe).copied().unwrap_or(0),
                    "round {round}, id {probe}"
                );
            }
            assert!(table.slots.is_empty() || 2 * table.len <= table.slots.len());
        }
        let mut listed: Vec<_> = table.iter().collect();
        listed.sort_unstable();
        let mut expected: Vec<_> = model.into_iter().collect();
        expected.sort_unstable();
        assert_eq!(listed, expected);
    }
}
