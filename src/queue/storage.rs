//! The order a queue keeps its items in: the [`Storage`] trait and its
//! three ready-made orders, [`Fifo`], [`Lifo`] and [`Priority`].

use std::collections::VecDeque;

/// Holds a queue's buffered items and decides which one a get takes next.
///
/// A [`GenericQueue`](super::GenericQueue) calls these methods only while it
/// holds its internal lock, so an implementation needs no synchronization of
/// its own, but it should be quick: every other put and get waits meanwhile.
/// Items handed straight from a putter to a waiting getter never pass
/// through the storage (a getter waits only while the storage is empty, so
/// the order is the same either way).
///
/// Write your own to get another order; the queue brings the waiting,
/// hand-off, capacity, closing and task tracking.
///
/// The methods run under the queue lock, so they must not touch the queue.
/// They may panic (an item's `Ord`, say): the panic reaches the put or get
/// that called them and the queue stays usable, but an item that a
/// panicking `push` or `pop` loses still counts as an unfinished task (as
/// [`Priority`] shows, move items by swapping and put a popped item back on
/// unwind to lose none).
///
/// ```
/// use polysync::queue::{GenericQueue, Storage};
///
/// /// Hands out the shortest string first; ties in arrival order.
/// #[derive(Default)]
/// struct ShortestFirst(Vec<String>);
///
/// impl Storage<String> for ShortestFirst {
///     fn push(&mut self, item: String) {
///         // Keep the vector sorted longest first: the shortest sits at the end.
///         let at = self.0.partition_point(|s| s.len() > item.len());
///         self.0.insert(at, item);
///     }
///     fn pop(&mut self) -> Option<String> {
///         self.0.pop()
///     }
///     fn peek(&self) -> Option<&String> {
///         self.0.last()
///     }
///     fn len(&self) -> usize {
///         self.0.len()
///     }
/// }
///
/// let q: GenericQueue<String, ShortestFirst> = GenericQueue::unbounded();
/// for word in ["three", "to", "one"] {
///     q.try_put(word.to_string()).unwrap();
/// }
/// assert_eq!(q.try_get().unwrap(), "to");
/// assert_eq!(q.try_get().unwrap(), "one");
/// ```
pub trait Storage<T> {
    /// Adds a new item.
    fn push(&mut self, item: T);

    /// Removes and returns the item a get takes next, if any.
    fn pop(&mut self) -> Option<T>;

    /// The item a get would take next, if any.
    fn peek(&self) -> Option<&T>;

    /// The number of items held.
    fn len(&self) -> usize;

    /// Whether no item is held.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes back an item that was popped (or handed to a getter) but could
    /// not be delivered because the getter went away. It should be the next
    /// one popped where the order allows; the default simply pushes it.
    fn restore(&mut self, item: T) {
        self.push(item);
    }

    /// Whether this storage is plain first-in-first-out (with `restore` as
    /// the next one out), so that a bounded [`GenericQueue`](super::GenericQueue)
    /// may keep its items in its own lock-free ring instead (the storage
    /// then stays unused). `false` by default; [`Fifo`] says `true`. Not
    /// part of the stable API.
    #[doc(hidden)]
    const LOCK_FREE_FIFO: bool = false;
}

/// First in, first out: [`Queue`](super::Queue)'s order.
///
/// ```
/// use polysync::queue::{Fifo, Storage};
/// let mut s = Fifo::default();
/// s.push(1);
/// s.push(2);
/// assert_eq!(s.pop(), Some(1));
/// ```
#[derive(Debug)]
pub struct Fifo<T>(VecDeque<T>);

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Fifo(VecDeque::new())
    }
}

impl<T> Storage<T> for Fifo<T> {
    const LOCK_FREE_FIFO: bool = true;
    #[inline]
    fn push(&mut self, item: T) {
        self.0.push_back(item);
    }
    #[inline]
    fn pop(&mut self) -> Option<T> {
        self.0.pop_front()
    }
    fn peek(&self) -> Option<&T> {
        self.0.front()
    }
    #[inline]
    fn len(&self) -> usize {
        self.0.len()
    }
    fn restore(&mut self, item: T) {
        self.0.push_front(item);
    }
}

/// Last in, first out: [`LifoQueue`](super::LifoQueue)'s order.
///
/// ```
/// use polysync::queue::{Lifo, Storage};
/// let mut s = Lifo::default();
/// s.push(1);
/// s.push(2);
/// assert_eq!(s.pop(), Some(2));
/// ```
#[derive(Debug)]
pub struct Lifo<T>(Vec<T>);

impl<T> Default for Lifo<T> {
    fn default() -> Self {
        Lifo(Vec::new())
    }
}

impl<T> Storage<T> for Lifo<T> {
    #[inline]
    fn push(&mut self, item: T) {
        self.0.push(item);
    }
    #[inline]
    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }
    fn peek(&self) -> Option<&T> {
        self.0.last()
    }
    #[inline]
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Smallest first (a binary min-heap): [`PriorityQueue`](super::PriorityQueue)'s
/// order, as in Python's `queue.PriorityQueue`. Wrap items in
/// [`std::cmp::Reverse`] for largest first. Equal items come out in no
/// particular order; pair them with a sequence number for a stable order.
///
/// # A panicking `Ord`
/// The items' `Ord` runs while the queue is locked (a push or a pop
/// compares items), so it must not touch the queue (that would deadlock).
/// It may panic: the heap moves items only by swapping them, and a pop
/// whose comparison panics puts the popped item back, so after the panic
/// every item is still held (their order may be off until the next pushes
/// and pops repair it), nothing is dropped or lost, and the queue's task
/// count stays right.
///
/// ```
/// use polysync::queue::{Priority, Storage};
/// let mut s = Priority::default();
/// s.push(3);
/// s.push(1);
/// s.push(2);
/// assert_eq!(s.pop(), Some(1));
/// ```
#[derive(Debug)]
pub struct Priority<T>(Vec<T>);

impl<T: Ord> Default for Priority<T> {
    fn default() -> Self {
        Priority(Vec::new())
    }
}

/// Moves the item at `at` up while it is smaller than its parent.
fn sift_up<T: Ord>(heap: &mut [T], mut at: usize) {
    while at > 0 {
        let parent = (at - 1) / 2;
        if heap[at] >= heap[parent] {
            break;
        }
        heap.swap(at, parent);
        at = parent;
    }
}

/// Moves the item at `at` down while a child is smaller.
fn sift_down<T: Ord>(heap: &mut [T], mut at: usize) {
    let len = heap.len();
    loop {
        let left = 2 * at + 1;
        if left >= len {
            break;
        }
        let right = left + 1;
        let child = if right < len && heap[right] < heap[left] {
            right
        } else {
            left
        };
        if heap[at] <= heap[child] {
            break;
        }
        heap.swap(at, child);
        at = child;
    }
}

/// Puts a popped item back if the comparisons after the pop panic.
struct PutBack<'a, T> {
    heap: &'a mut Vec<T>,
    item: Option<T>,
}

impl<T> Drop for PutBack<'_, T> {
    fn drop(&mut self) {
        if let Some(item) = self.item.take() {
            // Unwinding from a comparison: keep the item (pushing to a Vec
            // runs no user code).
            self.heap.push(item);
        }
    }
}

impl<T: Ord> Storage<T> for Priority<T> {
    #[inline]
    fn push(&mut self, item: T) {
        // Swaps only: if a comparison panics, every item is still held.
        self.0.push(item);
        let last = self.0.len() - 1;
        sift_up(&mut self.0, last);
    }
    #[inline]
    fn pop(&mut self) -> Option<T> {
        let len = self.0.len();
        if len == 0 {
            return None;
        }
        self.0.swap(0, len - 1);
        let item = self.0.pop();
        let mut guard = PutBack {
            heap: &mut self.0,
            item,
        };
        // A panic in `sift_down` drops `guard`, which puts the item back.
        sift_down(guard.heap, 0);
        guard.item.take()
    }
    fn peek(&self) -> Option<&T> {
        self.0.first()
    }
    #[inline]
    fn len(&self) -> usize {
        self.0.len()
    }
}
