//! Spinning before waiting (opt-in, [`GenericQueue::spinning`]): a blocking
//! put or get that finds the queue full or empty polls a readiness summary
//! for a short while before it queues itself and parks.
//!
//! Off by default because on a lock-based queue it trades throughput for
//! latency: a consumer that spins takes each item the moment it appears, so
//! producer and consumer contend for the queue lock on every item, where a
//! consumer that parks wakes up to drain a whole batch (measured in
//! BENCHMARKS.md, "Issue 4 queues": a 2-thread stream runs 2-3x slower with
//! spinning, a 2-thread ping-pong 100x faster).
//!
//! Why before and not after queueing: a waiter that is already queued
//! receives every item by hand-off (the putter notifies and wakes it), so a
//! spinning consumer that is always queued turns a producer's burst into
//! one wake-up per item. A consumer that spins *unqueued* costs the producer
//! nothing: the producer just stores the item, and the spinner takes it
//! with an ordinary `try_get`. This is how a ping-pong between two threads
//! gets under a microsecond instead of two park/unpark round trips.
//!
//! Only a waiter that may spin ([`Waiter::spins`]: the OS-thread waiter)
//! spins, asked at each call: a green thread's waiter never holds its
//! carrier, and async waits never spin.
//!
//! The summary lives in the user bits of the queue's lock word, rewritten
//! under the lock by every operation that changes the storage or closes the
//! queue, and published by the unlock that ends it: reading it is one load
//! of a word the spinner's next `try_get` needs anyway.

use super::generic::GenericQueue;
use super::storage::Storage;
use crate::lowlevel::Waiter;
use crate::lowlevel::queue::QueueGuard;
use crate::lowlevel::sync::{MAY_SPIN, Ordering, spin_loop, yield_now};

// The user bits of a queue's lock word: a readiness summary, kept only by a
// spinning queue (a queue that does not spin leaves them 0):
//
// | IS_CLOSED | HAS_ITEMS | HAS_ROOM | the storage               | a spinning get          | a spinning put          |
// |-----------|-----------|----------|---------------------------|-------------------------|-------------------------|
// | 0         | 0         | 1        | empty                     | keeps spinning          | tries (`try_put`)       |
// | 0         | 1         | 1        | some items, room for more | tries (`try_get`)       | tries                   |
// | 0         | 1         | 0        | full                      | tries                   | keeps spinning          |
// | 0         | 0         | 0        | never (a capacity is at least 1) | -                | -                       |
// | 1         | any       | any      | closed                    | tries (takes what is left, then fails) | tries (fails) |
//
// Rewritten under the queue lock by every operation that changes the
// storage or closes the queue (`publish`), and published by the unlock that
// ends it. A spinner reads it without the lock as a hint only: the `try_*`
// call it leads to decides under the lock. The wait list's own state (who
// is queued, and whether as a getter or a putter) is in the nodes' data
// (their `Role`: `Getter`, `Putter`, then `Handed` or `Closed`), not here.

/// The storage holds at least one item.
pub(super) const HAS_ITEMS: u64 = 1;
/// The storage holds fewer items than the capacity.
pub(super) const HAS_ROOM: u64 = 2;
/// The queue is closed.
pub(super) const IS_CLOSED: u64 = 4;

/// Rounds of `spin_loop` hints (about 25 ns each on the reference VM, so
/// about 3 us in all)...
const PAUSE_ROUNDS: u32 = 128;
/// A ring queue's spin: doublings of `spin_loop` rounds (1, 2, 4, ... 32)...
const RING_SPIN_STEPS: u32 = 6;
/// ...then yields.
const RING_YIELDS: u32 = 2;

/// ...then rounds of `yield_now`, which let a thread the kernel woke onto
/// this core run before the spinner gives up.
const YIELD_ROUNDS: u32 = 4;

impl<T, S: Storage<T>> GenericQueue<T, S> {
    /// The readiness summary of a storage holding `len` of `cap` items
    /// while get futures hold `held` more places.
    pub(super) fn readiness(cap: usize, len: usize, held: usize, closed: bool) -> u64 {
        let mut flags = 0;
        if len > 0 {
            flags |= HAS_ITEMS;
        }
        if len + held < cap {
            flags |= HAS_ROOM;
        }
        if closed {
            flags |= IS_CLOSED;
        }
        flags
    }

    /// Rewrites the readiness summary after the storage or `closed` changed.
    /// Only spinning queues read it, so only they keep it (the setting is
    /// fixed before the queue is shared).
    #[inline]
    pub(super) fn publish(&self, guard: &mut QueueGuard<'_>) {
        // A ring queue's spinners read the ring itself.
        if !self.spins() || self.ring_readiness().is_some() {
            return;
        }
        let (len, closed) = self.with_inner(guard, |inner| (inner.items.len(), inner.closed));
        guard.set_user(Self::readiness(self.cap(), len, self.held(), closed));
    }

    /// If spinning is on for this queue and `waiter` may spin
    /// ([`Waiter::spins`]: an OS thread may, a green thread must not hold
    /// its carrier): polls for a short while until the summary shows one of
    /// `wanted`, then runs `attempt` (a `try_*` call); `None` if `attempt`
    /// never succeeded before the spin ran out. The decision belongs to the
    /// waiter of this very call, so a green backend being registered changes
    /// nothing for plain threads.
    pub(super) fn spin_then<W: Waiter + ?Sized, R>(
        &self,
        waiter: &W,
        wanted: u64,
        mut attempt: impl FnMut() -> Option<R>,
    ) -> Option<R> {
        // Never under loom (`MAY_SPIN`), whatever the waiter says.
        if !(MAY_SPIN && self.spins() && waiter.spins()) {
            return None;
        }
        if self.ring_readiness().is_some() {
            return self.spin_ring(wanted, attempt);
        }
        {
            for round in 0..PAUSE_ROUNDS + YIELD_ROUNDS {
                if self.queue.user(Ordering::Relaxed) & wanted != 0 {
                    if let Some(done) = attempt() {
                        return Some(done);
                    }
                }
                if round < PAUSE_ROUNDS {
                    spin_loop();
                } else {
                    yield_now();
                }
            }
        }
        None
    }

    /// A spinning ring queue's spin: the spinner reads the ring and the
    /// counts (not the lock word, which a ring queue's lock-free puts and
    /// gets never write), so it costs the other side little. An exponential
    /// back-off (`RING_SPIN_STEPS` doublings of `spin_loop`, about 1.5 us
    /// in all on the reference VM) keeps the reads from slowing the other
    /// side down, then `RING_YIELDS` yields.
    ///
    /// The spinner gives up at once when a waiter of its own kind is queued
    /// (`getters` for a get, `putters` for a put): its attempts would only
    /// go to the locked path behind that waiter, and a spinner beside a
    /// sleeping waiter holds a core that the waiter's waker (or a task of
    /// the same run) needs (measured: `queue/mpmc_2x2_mixed` in
    /// BENCHMARKS.md, "Issue 18 item 2, second pass").
    fn spin_ring<R>(&self, wanted: u64, mut attempt: impl FnMut() -> Option<R>) -> Option<R> {
        let mine = if wanted & HAS_ITEMS != 0 {
            &self.getters
        } else {
            &self.putters
        };
        for step in 0..RING_SPIN_STEPS + RING_YIELDS {
            if mine.load(Ordering::Relaxed) != 0 {
                return None;
            }
            if step < RING_SPIN_STEPS {
                for _ in 0..1u32 << step {
                    spin_loop();
                }
            } else {
                yield_now();
            }
            if self.ring_readiness().unwrap_or(0) & wanted != 0 {
                if let Some(done) = attempt() {
                    return Some(done);
                }
            }
        }
        None
    }
}
