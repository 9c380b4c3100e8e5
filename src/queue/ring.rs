//! The lock-free ring behind a bounded FIFO [`Queue`](super::Queue): the
//! storage that puts and gets reach without the queue lock when neither
//! side waits (issue 18 item 2).
//!
//! A fixed array of slots, each with a stamp (Vyukov's bounded MPMC queue,
//! as crossbeam's `ArrayQueue`): positions count up forever (`head` for
//! gets, `tail` for puts, each on its own cache line); the slot of position
//! `p` is `p & mask`. A slot's stamp says what it waits for: `p` means it is
//! free for the put of position `p`, `p + 1` that it holds that put's item
//! (free for the get of position `p`), and a get of `p` leaves `p + len` (free
//! for the put one lap later). A put claims its position by moving `tail`
//! from `p` to `p + 1` (compare-and-swap), writes the item and then the
//! stamp; a get likewise with `head`. Nobody ever waits on a lock; a put
//! that finds its slot still being read by a get one lap behind (or a get
//! that finds its slot still being written) backs off and retries, as in
//! crossbeam.
//!
//! The ring does not enforce the queue's capacity: the queue admits a put
//! only after reserving a place in its own count (`GenericQueue::occupied`,
//! which also counts the items held by get futures), so the ring, which has
//! at least as many slots as the capacity, never fills for good.
//!
//! Closing sets `MARK` in `tail`: a put that has not claimed a position
//! fails, so no lock-free put goes in after the close; only the queue, under
//! its lock, pushes past the mark (`push_even_marked`: a send permit's item,
//! whose place was taken before the close).

use crate::lowlevel::sync::{AtomicU64, Ordering, UnsafeCell, backoff};
use std::mem::MaybeUninit;

/// The closed bit of `tail`.
const MARK: u64 = 1 << 63;

/// The largest capacity that gets a ring (the ring allocates all its slots
/// at once; a larger bounded queue keeps the locked storage, which grows as
/// needed).
pub(super) const MAX_RING: usize = 1 << 16;

/// Keeps a hot atomic on a cache line of its own (two lines, as adjacent
/// line prefetching pairs them).
#[repr(align(128))]
pub(super) struct Padded(pub(super) AtomicU64);

struct Slot<T> {
    stamp: AtomicU64,
    item: UnsafeCell<MaybeUninit<T>>,
}

pub(super) struct Ring<T> {
    head: Padded,
    tail: Padded,
    /// `slots.len() - 1` (a power of two minus one).
    mask: u64,
    slots: Box<[Slot<T>]>,
}

impl<T> Ring<T> {
    /// A ring with room for at least `cap` items (`1 <= cap <= MAX_RING`).
    pub(super) fn new(cap: usize) -> Self {
        debug_assert!((1..=MAX_RING).contains(&cap));
        let len = cap.next_power_of_two();
        let slots = (0..len as u64)
            .map(|p| Slot {
                stamp: AtomicU64::new(p),
                item: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Ring {
            head: Padded(AtomicU64::new(0)),
            tail: Padded(AtomicU64::new(0)),
            mask: len as u64 - 1,
            slots,
        }
    }

    fn slot(&self, pos: u64) -> &Slot<T> {
        &self.slots[(pos & self.mask) as usize]
    }

    /// Appends `item`; gives it back if the ring is closed. The caller has
    /// reserved a place (see the module docs): a slot that is not free yet
    /// is only being read, and the put waits for that read to end.
    ///
    /// `claimed` runs with the position the put claimed, after the claim
    /// and before the item is written (so before any get can take it): the
    /// queue counts its unfinished tasks by the tail (see
    /// `GenericQueue::claimed_task`). It must not wait for anything a get
    /// may hold while it waits for this slot (the queue lock).
    pub(super) fn push(&self, item: T, claimed: impl FnOnce(u64)) -> Result<(), T> {
        self.push_inner(item, false, claimed)
    }

    /// [`push`](Ring::push), closed or not: for the queue under its lock,
    /// whose callers have checked its own `closed` (a put) or took their
    /// place before the close (a send permit). The mark stays.
    pub(super) fn push_even_marked(&self, item: T, claimed: impl FnOnce(u64)) {
        if self.push_inner(item, true, claimed).is_err() {
            unreachable!("a push that ignores the mark never fails");
        }
    }

    #[inline]
    fn push_inner(&self, item: T, even_marked: bool, claimed: impl FnOnce(u64)) -> Result<(), T> {
        let mut step = 0;
        loop {
            let raw = self.tail.0.load(Ordering::Relaxed);
            if raw & MARK != 0 && !even_marked {
                return Err(item);
            }
            let tail = raw & !MARK;
            let slot = self.slot(tail);
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == tail
                && self
                    .tail
                    .0
                    .compare_exchange_weak(raw, raw + 1, Ordering::SeqCst, Ordering::Relaxed)
                    .is_ok()
            {
                // (`raw + 1` keeps the mark: positions never reach it.)
                claimed(tail);
                // SAFETY: the stamp said the slot is free for position
                // `tail` (its last item was read out, Acquire above pairs
                // with that get's Release), and the CAS made position `tail`
                // ours alone: no other put can claim it, and no get reads
                // the slot until the stamp below says it holds an item.
                slot.item.with_mut(|p| unsafe { (*p).write(item) });
                slot.stamp.store(tail + 1, Ordering::Release);
                return Ok(());
            }
            backoff(&mut step);
        }
    }

    /// Takes the oldest item, if any. An item whose put has claimed its
    /// position but not written it yet is waited for (briefly: the put is
    /// between two instructions).
    pub(super) fn pop(&self) -> Option<T> {
        self.pop_ranked().map(|(_, item)| item)
    }

    /// [`pop`](Ring::pop), with the item's position: the order in which
    /// gets claimed their items (a get that claimed a lower position took
    /// an older item), which the queue needs when items claimed
    /// concurrently meet again in its stash.
    #[inline]
    pub(super) fn pop_ranked(&self) -> Option<(u64, T)> {
        let mut step = 0;
        loop {
            let head = self.head.0.load(Ordering::Relaxed);
            let slot = self.slot(head);
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == head + 1 {
                if self
                    .head
                    .0
                    .compare_exchange_weak(head, head + 1, Ordering::SeqCst, Ordering::Relaxed)
                    .is_ok()
                {
                    // SAFETY: the stamp said the slot holds the item of
                    // position `head` (Acquire above pairs with the put's
                    // Release), and the CAS made position `head` ours alone;
                    // no put writes the slot again until the stamp below
                    // frees it.
                    let item = slot.item.with(|p| unsafe { (*p).assume_init_read() });
                    slot.stamp.store(head + self.mask + 1, Ordering::Release);
                    return Some((head, item));
                }
            } else if stamp == head {
                // Not written for this lap: empty, unless a put has claimed
                // the position and is writing it.
                let tail = self.tail.0.load(Ordering::SeqCst) & !MARK;
                if tail == head {
                    return None;
                }
            }
            backoff(&mut step);
        }
    }

    /// The next position a get claims, read with a read-modify-write that
    /// changes nothing: it joins the order of the gets' claims, so a get
    /// whose claim comes after it also sees what the caller wrote before
    /// (acquire/release on `head`), and one whose claim came before it
    /// shows in the value. (A plain load would order nothing against a
    /// claim that comes later: the store-buffering case.)
    pub(super) fn head_in_order(&self) -> u64 {
        self.head.0.fetch_add(0, Ordering::AcqRel)
    }

    /// Whether the ring holds an item (or one whose put has claimed its
    /// position), read for a getter that has just counted itself
    /// (`GenericQueue::getters`): `tail` is read with a read-modify-write
    /// that changes nothing (Release), so it joins the order of the puts'
    /// claims. A put whose claim comes later reads this write (or a later
    /// one of the same chain of read-modify-writes) with its Acquire claim,
    /// so the getter's count happens before the put's look at `getters`
    /// (`GenericQueue::put_fast`); a put whose claim came earlier shows in
    /// the value read. Either the getter sees the item or the put sees the
    /// getter, with no fence on the put's side. (A plain load would order
    /// nothing: the store-buffering case.)
    pub(super) fn has_items_in_order(&self) -> bool {
        let tail = self.tail.0.fetch_add(0, Ordering::AcqRel) & !MARK;
        // Older than the tail read above at worst: a head that lags says
        // "items" and the getter just tries once more.
        tail > self.head.0.load(Ordering::SeqCst)
    }

    /// The positions claimed so far: every item ever pushed, including
    /// those whose put is still writing them.
    pub(super) fn tail(&self) -> u64 {
        self.tail.0.load(Ordering::SeqCst) & !MARK
    }

    /// [`tail`](Ring::tail), read with a read-modify-write that changes
    /// nothing (acquire/release): it joins the order of the puts' claims,
    /// so a put whose claim comes later also sees what the caller wrote
    /// before (a put's claim is an Acquire read-modify-write of `tail`),
    /// and one whose claim came earlier shows in the value. (A plain load
    /// would order nothing against a later claim: the store-buffering
    /// case.)
    pub(super) fn tail_in_order(&self) -> u64 {
        self.tail.0.fetch_add(0, Ordering::AcqRel) & !MARK
    }

    /// The number of items in the ring now (a snapshot).
    pub(super) fn len(&self) -> usize {
        loop {
            let tail = self.tail.0.load(Ordering::SeqCst) & !MARK;
            let head = self.head.0.load(Ordering::SeqCst);
            // A consistent pair: `tail` did not move while `head` was read.
            if self.tail.0.load(Ordering::SeqCst) & !MARK == tail {
                return tail.saturating_sub(head) as usize;
            }
        }
    }

    /// Closes the ring for puts (idempotent).
    pub(super) fn mark(&self) {
        self.tail.0.fetch_or(MARK, Ordering::SeqCst);
    }

    /// Whether [`mark`](Ring::mark) ran.
    pub(super) fn is_marked(&self) -> bool {
        self.tail.0.load(Ordering::Relaxed) & MARK != 0
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        while self.pop().is_some() {}
    }
}
