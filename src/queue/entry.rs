//! A waiter's place in a queue's wait list: the core's [`Entry`] (its node)
//! with an [`Item`] slot beside the node, and what its node data means.

use crate::lowlevel::queue::{NodeData, QueueGuard, WAITING};
use crate::lowlevel::sync::UnsafeCell;
pub(super) use crate::lowlevel::wait::Entry;

// A queue entry's node data (its `Role`) and slot, by node state:
//
// | data      | node state        | the entry                                   | its slot                      |
// |-----------|-------------------|---------------------------------------------|-------------------------------|
// | `Getter`  | `IDLE`, `WAITING` | a get that waits for an item                | empty                         |
// | `Putter`  | `IDLE`, `WAITING` | a put that waits for room                   | its item                      |
// | `Handed`  | `NOTIFIED`        | served: a getter was handed an item, or a putter's item went in | getter: the item; putter: empty |
// | `Closed`  | `NOTIFIED`        | woken by `close`                            | getter: empty; putter: its item, to give back |
// | `Reserver`| `IDLE`, `WAITING` | a channel's reserve that waits for a place  | empty                         |
// | `Granted` | `NOTIFIED`        | a reserver that was given a place (a permit) | empty                        |
//
// A notifier writes the data and the slot under the queue lock while the
// node is `WAITING`, then marks it `NOTIFIED`; a getter's node is `Getter`
// and a putter's `Putter` until then, which is how notifiers find the
// oldest of each kind in the one wait list (a bounded queue may hold both
// kinds at once: see the module docs). A reserver waits in the putters'
// line (`GenericQueue::first_putter`): one FIFO for sends and reserves.

/// The node data of a queue entry: what kind of waiter it is while queued,
/// and how its wait ended once notified (see the table above).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// A queued getter (written by the getter when it starts).
    Getter,
    /// A queued putter (written by the putter when it starts).
    Putter,
    /// Written by the notifier that served it: a getter was handed an item
    /// (it is in the slot), or a putter's item was taken from the slot.
    Handed,
    /// Written by `close`: a getter gets nothing, a putter gets its item back.
    Closed,
    /// A queued reserver (a channel's `reserve`): waits, in the putters'
    /// line, for a place without an item (written by the reserver).
    Reserver,
    /// Written by the notifier that gave a reserver a place: the place is
    /// the reserver's permit now (`GenericQueue::count_permit`).
    Granted,
}

/// The word is 0 to 5 in the order of the variants.
impl NodeData for Role {
    #[inline]
    fn into_raw(self) -> usize {
        match self {
            Role::Getter => 0,
            Role::Putter => 1,
            Role::Handed => 2,
            Role::Closed => 3,
            Role::Reserver => 4,
            Role::Granted => 5,
        }
    }

    #[inline]
    fn from_raw(raw: usize) -> Role {
        match raw {
            0 => Role::Getter,
            1 => Role::Putter,
            2 => Role::Handed,
            3 => Role::Closed,
            4 => Role::Reserver,
            _ => Role::Granted,
        }
    }
}

/// The slot of a queue waiter's [`Entry`] (the core's entry: its node,
/// then this): a getter's received item, or a putter's item until it is
/// taken. Same owner as the node's data: the queue lock while the node is
/// `WAITING` (a notifier: [`Entry::hand`], [`Entry::take_queued`]), the
/// entry's owner otherwise ([`Entry::take`], and the
/// queue's [`Protocol`](crate::lowlevel::wait::Protocol) methods, which run
/// only while the entry is its waiter's: [`Item::take_unqueued`],
/// [`Item::fill_unqueued`]).
pub(crate) struct Item<T>(UnsafeCell<Option<T>>);

// SAFETY: the cell is reached only through `Entry`'s accessors, each by the
// slot's owner of the moment: the waiter (through its pinned future's
// `Pin<&mut>` or its blocking frame) or the lock of the queue it waits in,
// never through a shared reference to a put or get future (their `&self`
// methods read the node, not the slot). Sharing `&Item` between threads
// thus gives no access to `T` beyond what `Send` already allows (notifiers
// move items in and out from other threads), so `T: Send` suffices, as
// for the queue (`GenericQueue: Sync` iff `T: Send`).
unsafe impl<T: Send> Sync for Item<T> {}

impl<T> Item<T> {
    pub(crate) fn new(item: Option<T>) -> Self {
        Item(UnsafeCell::new(item))
    }

    /// Takes the item.
    ///
    /// # Safety
    /// The entry of this slot is not `WAITING`, and the caller acts for its
    /// owner: nobody else touches the slot (a protocol method that the core
    /// calls with the waiter's own entry: `try_fast`, `arrive_locked`,
    /// `pass_on`).
    pub(super) unsafe fn take_unqueued(&self) -> Option<T> {
        // SAFETY: by the contract, the caller has the slot to itself.
        self.0.with_mut(|p| unsafe { (*p).take() })
    }

    /// Puts `item` into the slot.
    ///
    /// # Safety
    /// As for [`Item::take_unqueued`].
    pub(super) unsafe fn fill_unqueued(&self, item: T) {
        // SAFETY: by the contract, the caller has the slot to itself.
        self.0.with_mut(|p| unsafe { *p = Some(item) });
    }
}

// The two sides of the slot have different duties, so they are different
// functions. The owner's side is safe with a state check (as `Node::data`,
// and for the same reason): "not WAITING" is recorded in the node, debug
// builds check it at each call, and only the owner reaches its entry outside
// the queue lock. The notifier's side is `unsafe` with a guard witness: the
// guard proves a queue lock is held, but not that it is the lock of the
// queue the entry waits in, which only the caller can argue (it found the
// entry at the front of that queue).
impl<T> Entry<Item<T>> {
    /// Takes the slot's item. **Owner-only:** the node is not `WAITING`
    /// (checked in debug builds), as for [`Node::data`](crate::lowlevel::queue::Node::data).
    pub(super) fn take(&self) -> Option<T> {
        self.debug_assert_owned();
        // SAFETY: the node is not WAITING and we are its owner, so nobody
        // else touches the slot.
        unsafe { self.slot.take_unqueued() }
    }

    /// A notifier hands `item` to this waiting getter (before notifying it).
    ///
    /// # Safety
    /// The entry is `WAITING` in the queue that `_guard` locks.
    pub(super) unsafe fn hand(&self, _guard: &QueueGuard<'_>, item: T) {
        debug_assert_eq!(self.node.state(), WAITING);
        // SAFETY: the lock of the queue the entry waits in (held, by the
        // contract) owns the slot of a WAITING entry.
        self.slot.0.with_mut(|p| unsafe { *p = Some(item) });
    }

    /// A notifier takes the item of this waiting putter (before notifying it).
    ///
    /// # Safety
    /// As for [`Entry::hand`].
    pub(super) unsafe fn take_queued(&self, _guard: &QueueGuard<'_>) -> Option<T> {
        debug_assert_eq!(self.node.state(), WAITING);
        // SAFETY: as in `hand`.
        self.slot.0.with_mut(|p| unsafe { (*p).take() })
    }

    #[inline]
    fn debug_assert_owned(&self) {
        debug_assert_ne!(
            self.node.state(),
            WAITING,
            "polysync: a queued entry's slot was used without its queue's lock"
        );
    }
}
