//! How a queue's putters and getters run the crate's one wait state machine
//! ([`Wait`](crate::lowlevel::wait::Wait)): the queue's [`Protocol`]. The
//! node's tag says which side a waiter is on ([`Role`]); its slot carries
//! the item ([`Item`]).

use super::entry::{Item, Role};
use super::error::{TryGetError, TryPutError};
use super::generic::GenericQueue;
use super::storage::Storage;
use crate::lowlevel::queue::{QueueGuard, WaitQueue};
use crate::lowlevel::sync::{Ordering, fence};
use crate::lowlevel::wait::Protocol;

impl<T, S: Storage<T>> Protocol for GenericQueue<T, S> {
    /// `Putter` or `Getter` while waiting.
    type Tag = Role;
    /// `Handed` (served) or `Closed`.
    type Outcome = Role;
    /// The item: a putter's until it goes in, a getter's once handed over.
    type Slot = Item<T>;

    /// A blocking queue waiter parks at once. Spinning after queueing turns
    /// a consumer that would drain a batch per wake-up into one hand-off
    /// per item, and on 2 vCPUs the spinner holds the core a just-woken
    /// tokio worker is placed on (BENCHMARKS.md, "Issue 4 queues"). The
    /// opt-in spinning of `queue/spin.rs` happens before the wait instead.
    fn hint_next_in_line(&self) -> bool {
        false
    }

    fn queue(&self) -> &WaitQueue {
        &self.queue
    }

    /// The first attempt takes the queue lock but no waker: most operations
    /// complete at once, and cloning and dropping a task's waker costs two
    /// atomic operations on a cache line its scheduler also writes. Only a
    /// wait that must queue clones it (then tries once more under the lock
    /// in `arrive_locked`).
    #[inline]
    fn try_fast(&self, role: Role, slot: &Item<T>) -> Option<Role> {
        // A ring queue tries without the lock first.
        match role {
            Role::Putter => {
                // SAFETY: the core calls `try_fast` with the waiter's own,
                // unqueued entry.
                let item =
                    unsafe { slot.take_unqueued() }.expect("an unserved putter has its item");
                match self.put_fast(item) {
                    Ok(Ok(())) => return Some(Role::Handed),
                    Ok(Err(error)) => {
                        // Closed: the item goes back to the caller.
                        // SAFETY: as above.
                        unsafe { slot.fill_unqueued(error.into_inner()) };
                        return Some(Role::Closed);
                    }
                    // SAFETY: as above.
                    Err(item) => unsafe { slot.fill_unqueued(item) },
                }
            }
            Role::Getter => {
                if let Some(Ok(item)) = self.get_fast() {
                    // It holds its place (`occupied`) until the future
                    // returns it (`release_held`) or gives it back.
                    // SAFETY: as above.
                    unsafe { slot.fill_unqueued(item) };
                    return Some(Role::Handed);
                }
            }
            Role::Handed | Role::Closed | Role::Reserver | Role::Granted => {}
        }
        let mut guard = self.lock();
        self.attempt_locked(&mut guard, role, slot).ok()
        // The guard wakes a waiter that this put or get served once it has
        // unlocked.
    }

    /// The attempt under the lock; a waiter that must wait is counted
    /// (`Inner::getters`, `GenericQueue::putters`) as the core queues it. A
    /// putter counts itself first and then looks for room once more: a get
    /// future that returned its item without the lock (`release_held`)
    /// either left room that this look sees, or sees this putter.
    fn arrive_locked(
        &self,
        guard: &mut QueueGuard<'_>,
        role: Role,
        slot: &Item<T>,
    ) -> Result<Role, Role> {
        loop {
            let arrival = self.attempt_locked(guard, role, slot);
            match arrival {
                Err(Role::Getter) => {
                    self.getters.fetch_add(1, Ordering::SeqCst);
                    // Against a lock-free put (`put_fast`): the ring's
                    // tail is read with a read-modify-write, so either this
                    // look sees its item or the put sees this count.
                    if self.ring_has_items() {
                        // An item came in meanwhile: take it after all.
                        self.getters.fetch_sub(1, Ordering::SeqCst);
                        continue;
                    }
                }
                Err(_) => {
                    self.putters.fetch_add(1, Ordering::SeqCst);
                    let room = if self.is_ring() {
                        // Against a release (`release_held`): `occupied`
                        // is read with a read-modify-write, so either this
                        // look sees the room or the release sees this count.
                        self.ring_room_in_order()
                    } else {
                        // Pairs with the fence of a release (`release_held`).
                        fence(Ordering::SeqCst);
                        self.with_inner(guard, |inner| self.has_room(inner))
                    };
                    if room {
                        // A place was freed meanwhile: go in after all.
                        self.putters.fetch_sub(1, Ordering::SeqCst);
                        continue;
                    }
                }
                Ok(_) => {}
            }
            return arrival;
        }
    }

    /// A waiter that was not served leaves the list: one fewer of its kind.
    fn cancelled(&self, _guard: &mut QueueGuard<'_>, tag: Role) {
        match tag {
            Role::Getter => {
                self.getters.fetch_sub(1, Ordering::SeqCst);
            }
            _ => {
                self.putters.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    /// A getter that was handed an item it will never return puts it back
    /// (or hands it to the next getter), into the place the item held; a
    /// reserver given a place frees it (`free_place`). A
    /// served putter's slot is empty; a closed one keeps its item, which
    /// drops with the future.
    fn pass_on(&self, outcome: Role, slot: &Item<T>) {
        if outcome == Role::Granted {
            // A reserver given a place that it will never use frees it
            // for the next putter or reserver.
            self.free_place();
            return;
        }
        if outcome != Role::Handed {
            return;
        }
        // SAFETY: the core calls `pass_on` with the waiter's own entry,
        // notified and no longer queued.
        if let Some(item) = unsafe { slot.take_unqueued() } {
            self.restore(item);
        }
    }
}

impl<T, S: Storage<T>> GenericQueue<T, S> {
    /// `arrive_locked` without the count: also the attempt of `try_fast`,
    /// whose waiter does not queue when it fails. A getter's item goes into
    /// the future's slot, where it holds its place (`get_locked`'s `hold`).
    fn attempt_locked(
        &self,
        guard: &mut QueueGuard<'_>,
        role: Role,
        slot: &Item<T>,
    ) -> Result<Role, Role> {
        match role {
            Role::Putter => {
                // SAFETY: the core calls `arrive_locked` (and `try_fast`)
                // with the waiter's own, unqueued entry.
                let item =
                    unsafe { slot.take_unqueued() }.expect("an unserved putter has its item");
                match self.put_locked(guard, item) {
                    Ok(served) => {
                        guard.wake_after_unlock(served);
                        Ok(Role::Handed)
                    }
                    Err(TryPutError::Full(item)) => {
                        // SAFETY: as above.
                        unsafe { slot.fill_unqueued(item) };
                        Err(Role::Putter)
                    }
                    // Closed: the item goes back to the caller.
                    Err(TryPutError::Closed(item)) => {
                        // SAFETY: as above.
                        unsafe { slot.fill_unqueued(item) };
                        Ok(Role::Closed)
                    }
                    Err(TryPutError::Cancelled(_)) => {
                        unreachable!(
                            "a put under the queue lock never waits, so it is never cancelled"
                        )
                    }
                }
            }
            Role::Getter => match self.get_locked(guard, true) {
                Ok((item, served)) => {
                    // SAFETY: as above.
                    unsafe { slot.fill_unqueued(item) };
                    guard.wake_after_unlock(served);
                    Ok(Role::Handed)
                }
                Err(TryGetError::Empty) => Err(Role::Getter),
                Err(TryGetError::Closed) => Ok(Role::Closed),
                Err(TryGetError::Cancelled) => {
                    unreachable!("a get under the queue lock never waits, so it is never cancelled")
                }
            },
            Role::Reserver => self.reserve_locked(guard),
            Role::Handed | Role::Closed | Role::Granted => {
                unreachable!("a finished queue wait arrives again")
            }
        }
    }
}
