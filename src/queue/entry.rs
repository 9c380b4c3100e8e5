//! A waiter's place in a queue's wait list: its node plus an item slot.

use crate::lowlevel::queue::Node;
use crate::lowlevel::sync::UnsafeCell;

/// Node data of a queued getter.
pub(super) const GETTER: usize = 0;
/// Node data of a queued putter.
pub(super) const PUTTER: usize = 1;
/// Node data after notification: the item was handed over (getter: it is in
/// the slot; putter: it was taken from the slot).
pub(super) const HANDED: usize = 2;

/// What a waiter leaves in the queue: `repr(C)` with the node first, so a
/// notifier reaches the slot from the node pointer.
#[repr(C)]
pub(super) struct Entry<T> {
    pub(super) node: Node,
    /// A getter's received item, or a putter's item until it is taken.
    /// Accessed by a notifier under the queue lock while the node is
    /// `WAITING`, by the owner otherwise.
    pub(super) slot: UnsafeCell<Option<T>>,
}

impl<T> Entry<T> {
    pub(super) fn new(kind: usize, item: Option<T>) -> Self {
        Entry {
            node: Node::new(kind),
            slot: UnsafeCell::new(item),
        }
    }

    /// Takes the slot's item. The caller owns the entry (not `WAITING`), or
    /// holds the queue lock.
    pub(super) fn take(&self) -> Option<T> {
        // SAFETY: by the caller's contract nobody else touches the slot.
        self.slot.with_mut(|p| unsafe { (*p).take() })
    }

    /// Puts `item` into the slot. The caller owns the entry (`IDLE`).
    pub(super) fn fill(&self, item: T) {
        // SAFETY: by the caller's contract nobody else touches the slot.
        self.slot.with_mut(|p| unsafe { *p = Some(item) });
    }
}
