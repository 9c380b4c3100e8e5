//! The cyclic core that [`Barrier`](super::Barrier) and
//! [`RBarrier`](super::RBarrier) share: arrival tickets, phases that open in
//! batches, breaking and resetting.

use super::{BarrierWaitResult, BrokenBarrierError, Party, PartyOutcome, outcome};
use crate::lowlevel::queue::{Batch, NodeData, QueueGuard, WaitQueue, wake_in_batches};
use crate::lowlevel::sync::{Ordering, UnsafeCell, const_fn};
use crate::lowlevel::wait::Protocol;

// The user bits of a cyclic barrier's queue word, written under the queue
// lock only:
//
// | BROKEN | PENDING | the barrier                                 | a new arrival |
// |--------|---------|---------------------------------------------|---------------|
// | 0      | 0       | filling; nothing decided is queued          | queues with a ticket; the `parties`-th opens the phase (index `parties - 1`) and wakes it |
// | 0      | 1       | decided parties (an opened phase, or parties a reset broke) wait at the front to be woken | queues with a ticket, even the last one of its phase: whoever wakes the decided parties opens that phase (`drain`) |
// | 1      | 0       | broken; its parties are all woken           | fails at once |
// | 1      | 1       | broken; its parties are being woken         | fails at once |
//
// BROKEN is set by `abort` and by a party that gives up (`Protocol::cancelled`,
// `Protocol::pass_on`), cleared by `reset`. PENDING is never written on its
// own: every `RawBarrier::store` recomputes it from the tickets and the
// queue's front, so it always says whether a decided node is queued; `help`
// reads it without the lock to decide whether to drain.
const B_BROKEN: u64 = 1;
const B_PENDING: u64 = 2;

/// The node data of a queued party of a cyclic barrier (its
/// [`Protocol::Tag`]): its arrival ticket (see [`Tickets`]), given by
/// `arrive_locked` when the party queues; read under the queue lock by
/// `drain` (which replaces it with the party's [`PartyOutcome`]) and by
/// `cancelled`. The default (ticket 0) is only a placeholder until then.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Ticket(usize);

/// The word is the ticket itself.
impl NodeData for Ticket {
    #[inline]
    fn into_raw(self) -> usize {
        self.0
    }

    #[inline]
    fn from_raw(raw: usize) -> Ticket {
        Ticket(raw)
    }
}

/// Where the queued parties stand. Every queued node carries an arrival
/// [`Ticket`] (its data until it is woken); tickets grow by one per queued
/// arrival and wrap. In ticket order:
///
/// ```text
/// start .. open_end     an opened phase (or several): index = (t - start) % parties
/// open_end .. settle_end broken: these parties get the broken error
/// settle_end .. next     the phase that is filling
/// ```
///
/// Every queued ticket is at least `start`, so offsets from `start` compare
/// correctly across wrap-around. The decided ("settled") nodes sit at the
/// front of the queue and are woken in batches; while any of them wait, a
/// new phase does not open (its last party queues too, and the waker of the
/// settled nodes opens it), so the layout above always holds.
#[derive(Clone, Copy, Debug)]
struct Tickets {
    start: usize,
    open_end: usize,
    settle_end: usize,
    next: usize,
}

impl Tickets {
    #[inline]
    fn off(&self, ticket: usize) -> usize {
        ticket.wrapping_sub(self.start)
    }

    /// [`off`](Tickets::off) of a queued party's ticket.
    #[inline]
    fn off_of(&self, Ticket(ticket): Ticket) -> usize {
        self.off(ticket)
    }

    /// Parties of the filling phase (all queued: a party that leaves it breaks it).
    #[inline]
    fn filling(&self) -> usize {
        self.next.wrapping_sub(self.settle_end)
    }

    /// Every party of the filling phase becomes broken.
    fn settle_filling(&mut self, settled_queued: bool) {
        if !settled_queued {
            // Nothing decided is queued: restart the ranges here.
            self.start = self.settle_end;
            self.open_end = self.settle_end;
        }
        self.settle_end = self.next;
    }

    /// The filling parties `settle_end .. settle_end + n` form opened phases.
    /// Only with nothing decided queued.
    fn open(&mut self, n: usize) {
        self.start = self.settle_end;
        self.open_end = self.settle_end.wrapping_add(n);
        self.settle_end = self.open_end;
    }
}

/// What [`Barrier`](super::Barrier) and [`RBarrier`](super::RBarrier) share.
///
/// A queued node's data is its arrival [`Ticket`] while it waits; `drain`
/// hands it its [`PartyOutcome`]: its index, or broken.
pub(crate) struct RawBarrier {
    /// User bits: `B_BROKEN`, `B_PENDING` (see the table above).
    queue: WaitQueue,
    parties: usize,
    /// Guarded by the queue lock.
    tickets: UnsafeCell<Tickets>,
}

// SAFETY: `tickets` is only accessed under the queue lock (see `load` and
// `store`); the queue itself is Send + Sync.
unsafe impl Send for RawBarrier {}
// SAFETY: as above.
unsafe impl Sync for RawBarrier {}

// The tickets change only under the queue lock, by code that runs no user
// code, so a panic elsewhere never leaves them half-changed (see
// `WaitQueue`'s impls): barriers are unwind-safe, without poisoning.
impl std::panic::UnwindSafe for RawBarrier {}
impl std::panic::RefUnwindSafe for RawBarrier {}

impl RawBarrier {
    const_fn! {
        pub(super) fn new(parties: usize) -> RawBarrier {
            RawBarrier {
                queue: WaitQueue::new(0),
                parties,
                tickets: UnsafeCell::new(Tickets { start: 0, open_end: 0, settle_end: 0, next: 0 }),
            }
        }
    }

    #[inline]
    pub(super) fn parties(&self) -> usize {
        self.parties
    }

    #[inline]
    fn load(&self, guard: &QueueGuard<'_>) -> Tickets {
        debug_assert!(guard.locks(&self.queue));
        // SAFETY: `guard` proves the queue lock is held (debug-checked to be
        // this queue's), and it guards `tickets`.
        self.tickets.with(|p| unsafe { *p })
    }

    #[inline]
    fn store(&self, guard: &mut QueueGuard<'_>, tickets: Tickets) {
        debug_assert!(guard.locks(&self.queue));
        // SAFETY: as in `load`.
        self.tickets.with_mut(|p| unsafe { *p = tickets });
        let pending = if Self::settled_queued(guard, &tickets) {
            B_PENDING
        } else {
            0
        };
        guard.set_user((guard.user() & !B_PENDING) | pending);
    }

    /// Whether a decided node waits at the front of the queue.
    #[inline]
    fn settled_queued(guard: &QueueGuard<'_>, t: &Tickets) -> bool {
        guard
            .front()
            .is_some_and(|front| t.off_of(front.data()) < t.off(t.settle_end))
    }

    #[inline]
    pub(super) fn is_broken(&self) -> bool {
        self.queue.user(Ordering::Acquire) & B_BROKEN != 0
    }

    #[inline]
    pub(super) fn waiting(&self) -> usize {
        self.queue.len()
    }

    pub(super) fn try_wait(&self) -> Result<Option<BarrierWaitResult>, BrokenBarrierError> {
        if let Some(done) = self.fast_check() {
            return done.map(Some);
        }
        let mut guard = self.queue.lock();
        let t = self.load(&guard);
        let arrival = if guard.user() & B_BROKEN != 0
            || (!Self::settled_queued(&guard, &t) && t.filling() + 1 == self.parties)
        {
            self.arrive_locked(&mut guard, Ticket::default(), &())
        } else {
            Err(Ticket::default())
        };
        drop(guard);
        match arrival {
            Ok(data) => {
                self.help();
                outcome(self, data).map(Some)
            }
            Err(_) => Ok(None),
        }
    }

    /// Breaks the barrier (if `reset`, repairs it right away): the filling
    /// phase's parties get the broken error.
    pub(super) fn break_barrier(&self, reset: bool) {
        let mut guard = self.queue.lock();
        let mut t = self.load(&guard);
        let user = guard.user();
        if !reset && user & B_BROKEN != 0 {
            // Broken already: its parties were settled then.
            return;
        }
        t.settle_filling(Self::settled_queued(&guard, &t));
        guard.set_user(if reset {
            user & !B_BROKEN
        } else {
            user | B_BROKEN
        });
        self.store(&mut guard, t);
        drop(guard);
        self.help();
    }

    /// Hands the decided nodes at the front their outcome, in batches woken
    /// outside the lock, and opens phases that filled up meanwhile.
    fn drain(&self) {
        wake_in_batches(&self.queue, None, |guard, wakers| {
            let mut t = self.load(guard);
            let mut more = false;
            while let Some(ticket) = guard.front().map(|front| front.data()) {
                let off = t.off_of(ticket);
                let outcome = if off < t.off(t.open_end) {
                    PartyOutcome::Passed(off % self.parties)
                } else if off < t.off(t.settle_end) {
                    PartyOutcome::Broken
                } else {
                    // The front fills the next phase: nothing decided is queued.
                    let full = t.filling() - t.filling() % self.parties.max(1);
                    if guard.user() & B_BROKEN == 0 && self.parties != 0 && full != 0 {
                        t.open(full);
                        continue;
                    }
                    break;
                };
                if wakers.is_full() {
                    more = true;
                    break;
                }
                wakers.push(guard.notify_front(outcome).expect("the front exists"));
            }
            self.store(guard, t);
            Batch::more_if(more)
        });
    }
}

impl Party for RawBarrier {
    type Pass = BarrierWaitResult;

    #[inline]
    fn fast_check(&self) -> Option<Result<BarrierWaitResult, BrokenBarrierError>> {
        if self.is_broken() {
            Some(Err(BrokenBarrierError))
        } else if self.parties == 1 {
            // Every arrival opens its own phase (and leads it); nobody ever queues.
            Some(Ok(BarrierWaitResult::new(0, 1)))
        } else {
            None
        }
    }

    /// A passed party gets its arrival index; the last arrival leads.
    #[inline]
    fn pass(&self, index: usize) -> BarrierWaitResult {
        BarrierWaitResult::new(index, self.parties)
    }

    /// Helps wake decided parties, if any wait.
    #[inline]
    fn help(&self) {
        if self.queue.user(Ordering::Relaxed) & B_PENDING != 0 {
            self.drain();
        }
    }
}

impl Protocol for RawBarrier {
    type Tag = Ticket;
    type Outcome = PartyOutcome;
    type Slot = ();

    fn queue(&self) -> &WaitQueue {
        &self.queue
    }

    #[inline]
    fn try_fast(&self, _: Ticket, _: &()) -> Option<PartyOutcome> {
        // `Arrive` answers the lock-free cases itself, with their outcome.
        None
    }

    fn arrive_locked(
        &self,
        guard: &mut QueueGuard<'_>,
        _: Ticket,
        _: &(),
    ) -> Result<PartyOutcome, Ticket> {
        if guard.user() & B_BROKEN != 0 {
            return Ok(PartyOutcome::Broken);
        }
        let mut t = self.load(guard);
        let filling = t.filling();
        if self.parties != 0 && filling + 1 == self.parties && !Self::settled_queued(guard, &t) {
            // The last arrival opens the phase and wakes the others (in
            // `Arrive::poll`, after the lock is released).
            t.open(filling);
            self.store(guard, t);
            return Ok(PartyOutcome::Passed(self.parties - 1));
        }
        // Queue with a ticket. If this is the last party but earlier decided
        // parties are still being woken, their waker opens this phase.
        let ticket = t.next;
        t.next = t.next.wrapping_add(1);
        self.store(guard, t);
        Err(Ticket(ticket))
    }

    fn pass_on(&self, outcome: PartyOutcome, _: &()) {
        // The phase opened for this party, but it is gone: the next phase
        // would wait for it forever.
        if outcome != PartyOutcome::Broken {
            self.break_barrier(false);
        }
    }

    fn cancelled(&self, guard: &mut QueueGuard<'_>, ticket: Ticket) {
        let mut t = self.load(guard);
        let off = t.off_of(ticket);
        // A party of an opened phase (not woken yet) or of the filling phase
        // gave up: break. A party that was broken already changes nothing.
        let lost = off < t.off(t.open_end) || off >= t.off(t.settle_end);
        if lost && guard.user() & B_BROKEN == 0 {
            t.settle_filling(Self::settled_queued(guard, &t));
            guard.set_user(guard.user() | B_BROKEN);
        }
        self.store(guard, t);
    }

    fn after_cancelled(&self, _: Ticket, _: &()) {
        self.help();
    }
}

impl std::fmt::Debug for RawBarrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let user = self.queue.user(Ordering::Relaxed);
        f.debug_struct("Barrier")
            .field("parties", &self.parties)
            .field("waiting", &self.waiting())
            .field("broken", &(user & B_BROKEN != 0))
            .finish()
    }
}
