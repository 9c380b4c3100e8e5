//! The bounded spin of an OS thread before it queues on a lock (`Lock`,
//! `RLock`, `RawRwLock`): one loop, so the three locks spin alike.
//!
//! A thread that finds the lock taken spins a few rounds of growing pauses,
//! then rounds that yield its core (to the holder, if it was preempted),
//! each followed by an attempt if the lock's word says the attempt could
//! succeed. It gives up as soon as spinning is unlikely to pay: once a
//! waiter sleeps in the queue (a strict lock then hands over to it, so an
//! arrival cannot get in; a bounded one would only add to the front's
//! debt), or once the deadline has passed. Callers spin only where
//! [`MAY_SPIN`] (never under loom, which cannot bound a spin loop; the
//! attempts repeated here are the locks' `try_fast`, which the models
//! check) and only for a waiter that [spins](crate::lowlevel::Waiter::spins)
//! (green threads and tasks never do: they would hold their carrier).

use super::queue::WaitQueue;
#[cfg(doc)]
use super::sync::MAY_SPIN;
use super::sync::{Ordering, spin_loop, yield_now};
use std::time::Instant;

/// At most this many rounds before the thread queues.
const SPIN_ROUNDS: u32 = 10;
/// The first rounds pause 2, 4, 8, ... times; the rest yield the core.
const SPIN_PAUSE_ROUNDS: u32 = 3;

/// Spins on `queue`'s lock while nobody is queued (see the module docs),
/// calling `attempt` with the queue word's user bits after each round;
/// `attempt` looks at them and, if the lock could be taken, tries to take
/// it. `true` once an attempt succeeded; `false` if the thread should
/// queue.
#[inline(never)]
pub(crate) fn spin_before_queueing(
    queue: &WaitQueue,
    deadline: Option<Instant>,
    mut attempt: impl FnMut(u64) -> bool,
) -> bool {
    if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
        return false;
    }
    for round in 0..SPIN_ROUNDS {
        if queue.len() != 0 {
            return false;
        }
        if round < SPIN_PAUSE_ROUNDS {
            for _ in 0..(2u32 << round) {
                spin_loop();
            }
        } else {
            yield_now();
        }
        if attempt(queue.user(Ordering::Relaxed)) {
            return true;
        }
    }
    false
}
