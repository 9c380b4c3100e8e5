//! Queues that threads, async tasks and green threads put into and get from
//! at the same time: [`Queue`] (FIFO, bounded or unbounded).
//!
//! ```
//! use polysync::queue::{GetError, Queue};
//! let q = Queue::bounded(2);
//! q.put_blocking(1).unwrap();
//! q.try_put(2).unwrap();
//! q.close();
//! assert_eq!(q.get_blocking(), Ok(1));
//! assert_eq!(q.try_get(), Ok(2));
//! assert_eq!(q.try_get(), Err(GetError::Closed));
//! ```
//!
//! # Design
//!
//! One wait queue (`WaitQueue`) per queue. Its lock bit also guards the
//! storage (a `VecDeque<T>` and the `closed` flag, in a cell), and its FIFO
//! of nodes holds the waiters of **one kind at a time**: getters wait only
//! while the buffer is empty, putters only while it is full (capacity >= 1),
//! and every operation keeps it that way:
//!
//! - a put hands its item straight to the oldest waiting getter (written into
//!   the getter's slot, then `notify_front`), else buffers it, else waits;
//! - a get takes the front item, and if a putter waits, moves that putter's
//!   item from its slot into the buffer and notifies it (the putter only
//!   learns it is done);
//! - a getter dropped after it was handed an item puts the item back at the
//!   front (or hands it to the next getter): nothing is lost. That put-back
//!   ignores the capacity, so a bounded queue may briefly hold more than its
//!   capacity (by at most the number of getters dropped that way); puts then
//!   wait until it is below capacity again.
//!
//! Each waiter's node is the first field of a `#[repr(C)]` entry that also
//! holds its item slot, so a notifier reaches the slot from the node pointer.
//! The node's data says what kind of waiter it is while queued, and how the
//! wait ended once notified. Entries live in the futures (or the blocking
//! caller's stack): no allocation per wait.

mod error;

pub use error::{GetError, PutError};

use crate::lowlevel::queue::{NOTIFIED, Node, QueueGuard, WAITING, WaitQueue, WakeList};
use crate::lowlevel::sync::UnsafeCell;
use crate::lowlevel::{block_on_with, deadline_after, with_current_waiter};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Node data of a queued getter.
const GETTER: usize = 0;
/// Node data of a queued putter.
const PUTTER: usize = 1;
/// Node data after notification: the item was handed over (getter: it is in
/// the slot; putter: it was taken from the slot).
const HANDED: usize = 2;
/// Node data after notification: the queue was closed.
const CLOSED: usize = 3;

struct Inner<T> {
    buf: VecDeque<T>,
    closed: bool,
}

/// What a waiter leaves in the queue: `repr(C)` with the node first, so a
/// notifier reaches the slot from the node pointer.
#[repr(C)]
struct Entry<T> {
    node: Node,
    /// A getter's received item, or a putter's item until it is taken.
    /// Accessed by a notifier under the queue lock while the node is
    /// `WAITING`, by the owner otherwise.
    slot: UnsafeCell<Option<T>>,
}

impl<T> Entry<T> {
    fn new(kind: usize, item: Option<T>) -> Self {
        Entry {
            node: Node::new(kind),
            slot: UnsafeCell::new(item),
        }
    }

    /// Takes the slot's item. The caller owns the entry (not `WAITING`), or
    /// holds the queue lock.
    fn take(&self) -> Option<T> {
        // SAFETY: by the caller's contract nobody else touches the slot.
        self.slot.with_mut(|p| unsafe { (*p).take() })
    }
}

/// A FIFO queue, bounded or unbounded, shared by OS threads, async tasks of
/// any executor and green threads.
///
/// - Put in five forms: [`put`](Queue::put) (async),
///   [`put_blocking`](Queue::put_blocking), [`try_put`](Queue::try_put),
///   [`try_put_for`](Queue::try_put_for), [`try_put_until`](Queue::try_put_until);
///   a put that fails gives the item back in a [`PutError`].
/// - Get in the same five forms; a get that fails says why in a [`GetError`].
/// - Waiting getters are served strictly FIFO across all worlds, by direct
///   hand-off from the putter; waiting putters likewise. All futures are
///   cancel-safe: an item handed to a getter that is then dropped goes back
///   to the front of the queue.
/// - [`close`](Queue::close): later puts fail, getters drain what is left and
///   then fail with [`GetError::Closed`]; blocked waiters wake with the error.
///
/// ```
/// use polysync::Queue;
/// use std::sync::Arc;
///
/// let q = Arc::new(Queue::bounded(1));
/// let producer = {
///     let q = q.clone();
///     std::thread::spawn(move || {
///         for i in 0..3 {
///             q.put_blocking(i).unwrap();
///         }
///     })
/// };
/// futures_lite::future::block_on(async {
///     for i in 0..3 {
///         assert_eq!(q.get().await, Ok(i));
///     }
/// });
/// producer.join().unwrap();
/// ```
pub struct Queue<T> {
    queue: WaitQueue,
    /// `usize::MAX` when unbounded.
    cap: usize,
    inner: UnsafeCell<Inner<T>>,
}

// SAFETY: the items move between threads (T: Send) and are only touched under
// the queue lock or by the entry that owns them; nothing hands out `&T`.
unsafe impl<T: Send> Send for Queue<T> {}
// SAFETY: as above; all shared access goes through the queue lock.
unsafe impl<T: Send> Sync for Queue<T> {}

impl<T> Queue<T> {
    /// An unbounded queue: puts never wait.
    ///
    /// ```
    /// let q = polysync::Queue::unbounded();
    /// q.try_put("a").unwrap();
    /// assert_eq!(q.capacity(), None);
    /// ```
    pub fn unbounded() -> Self {
        Self::with_cap(usize::MAX)
    }

    /// A queue that holds at most `capacity` items.
    ///
    /// # Panics
    /// If `capacity` is zero.
    ///
    /// ```
    /// let q = polysync::Queue::<u32>::bounded(4);
    /// assert_eq!(q.capacity(), Some(4));
    /// ```
    pub fn bounded(capacity: usize) -> Self {
        assert!(
            capacity >= 1,
            "polysync: a bounded queue needs capacity >= 1"
        );
        Self::with_cap(capacity)
    }

    fn with_cap(cap: usize) -> Self {
        Queue {
            queue: WaitQueue::new(0),
            cap,
            inner: UnsafeCell::new(Inner {
                buf: VecDeque::new(),
                closed: false,
            }),
        }
    }

    /// Runs `f` on the storage; the guard proves the queue lock is held.
    fn with_inner<R>(&self, _guard: &QueueGuard<'_>, f: impl FnOnce(&mut Inner<T>) -> R) -> R {
        // SAFETY: the queue lock (borrowed through `_guard`) guards `inner`.
        self.inner.with_mut(|p| f(unsafe { &mut *p }))
    }

    /// The oldest queued entry if it is of `kind`.
    fn front_of(guard: &QueueGuard<'_>, kind: usize) -> Option<*const Entry<T>> {
        let front = guard.front()?;
        (front.data() == kind).then(|| guard.front_node().cast::<Entry<T>>())
    }

    /// Under the lock: hands `item` to the oldest waiting getter, or buffers
    /// it (at the front with `front`) ignoring the capacity. Returns the
    /// waker to wake after unlocking.
    fn place(&self, guard: &mut QueueGuard<'_>, item: T, front: bool) -> Option<Waker> {
        if let Some(entry) = Self::front_of(guard, GETTER) {
            // SAFETY: the entry is queued (alive) and we hold the lock, which
            // guards a waiting entry's slot.
            unsafe { (*entry).slot.with_mut(|p| *p = Some(item)) };
            return guard.notify_front(HANDED).flatten();
        }
        self.with_inner(guard, |inner| {
            if front {
                inner.buf.push_front(item);
            } else {
                inner.buf.push_back(item);
            }
        });
        None
    }

    /// Under the lock: a put that must not wait. `Err` gives the item back.
    fn put_locked(
        &self,
        guard: &mut QueueGuard<'_>,
        item: T,
    ) -> Result<Option<Waker>, PutError<T>> {
        let (closed, len) = self.with_inner(guard, |inner| (inner.closed, inner.buf.len()));
        if closed {
            return Err(PutError::Closed(item));
        }
        if len < self.cap || Self::front_of(guard, GETTER).is_some() {
            return Ok(self.place(guard, item, false));
        }
        Err(PutError::Full(item))
    }

    /// Under the lock: a get that must not wait; refills the buffer from the
    /// oldest waiting putter.
    fn get_locked(&self, guard: &mut QueueGuard<'_>) -> Result<(T, Option<Waker>), GetError> {
        let (item, len, closed) = self.with_inner(guard, |inner| {
            (inner.buf.pop_front(), inner.buf.len(), inner.closed)
        });
        let Some(item) = item else {
            return Err(if closed {
                GetError::Closed
            } else {
                GetError::Empty
            });
        };
        let mut waker = None;
        let putter = if len < self.cap {
            Self::front_of(guard, PUTTER)
        } else {
            None
        };
        if let Some(entry) = putter {
            // SAFETY: the entry is queued (alive); we hold the lock.
            let moved = unsafe { (*entry).take() };
            if let Some(moved) = moved {
                self.with_inner(guard, |inner| inner.buf.push_back(moved));
            }
            waker = guard.notify_front(HANDED).flatten();
        }
        Ok((item, waker))
    }

    /// Puts `item` if that needs no waiting: hands it to a waiting getter or
    /// buffers it if there is room.
    ///
    /// ```
    /// use polysync::queue::{PutError, Queue};
    /// let q = Queue::bounded(1);
    /// assert!(q.try_put(1).is_ok());
    /// assert_eq!(q.try_put(2), Err(PutError::Full(2)));
    /// ```
    pub fn try_put(&self, item: T) -> Result<(), PutError<T>> {
        let mut guard = self.queue.lock();
        let waker = self.put_locked(&mut guard, item)?;
        drop(guard);
        wake(waker);
        Ok(())
    }

    /// Puts `item`, waiting asynchronously while the queue is full.
    /// Cancel-safe: dropping the future before it completes drops the item
    /// unless it was already put.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let q = polysync::Queue::bounded(1);
    /// q.put(5).await.unwrap();
    /// assert_eq!(q.len(), 1);
    /// # });
    /// ```
    pub fn put(&self, item: T) -> Put<'_, T> {
        Put {
            queue: self,
            entry: Entry::new(PUTTER, Some(item)),
        }
    }

    /// Puts `item`, blocking the current execution unit while the queue is
    /// full. Fails only if the queue is closed.
    ///
    /// ```
    /// let q = polysync::Queue::unbounded();
    /// q.put_blocking('x').unwrap();
    /// assert_eq!(q.try_get(), Ok('x'));
    /// ```
    pub fn put_blocking(&self, item: T) -> Result<(), PutError<T>> {
        self.put_until_inner(item, None)
    }

    /// Puts `item`, blocking for at most `timeout` while the queue is full;
    /// [`PutError::Full`] gives the item back if time ran out.
    ///
    /// ```
    /// use polysync::queue::{PutError, Queue};
    /// use std::time::Duration;
    /// let q = Queue::bounded(1);
    /// q.try_put_for(1, Duration::ZERO).unwrap();
    /// assert_eq!(q.try_put_for(2, Duration::from_millis(1)), Err(PutError::Full(2)));
    /// ```
    pub fn try_put_for(&self, item: T, timeout: Duration) -> Result<(), PutError<T>> {
        self.put_until_inner(item, deadline_after(timeout))
    }

    /// Puts `item`, blocking until `deadline` at the latest while the queue
    /// is full; [`PutError::Full`] gives the item back if time ran out.
    ///
    /// ```
    /// use std::time::Instant;
    /// let q = polysync::Queue::bounded(1);
    /// assert!(q.try_put_until(1, Instant::now()).is_ok());
    /// assert!(q.try_put_until(2, Instant::now()).is_err());
    /// ```
    pub fn try_put_until(&self, item: T, deadline: Instant) -> Result<(), PutError<T>> {
        self.put_until_inner(item, Some(deadline))
    }

    fn put_until_inner(&self, item: T, deadline: Option<Instant>) -> Result<(), PutError<T>> {
        let item = match self.try_put(item) {
            Err(PutError::Full(item)) => item,
            done => return done,
        };
        let mut put = pin!(self.put(item));
        with_current_waiter(|waiter| {
            block_on_with(waiter, put.as_mut(), deadline).unwrap_or_else(|| put.as_mut().withdraw())
        })
    }

    /// Takes the oldest item if there is one, without waiting.
    ///
    /// ```
    /// use polysync::queue::{GetError, Queue};
    /// let q = Queue::unbounded();
    /// q.try_put(1).unwrap();
    /// assert_eq!(q.try_get(), Ok(1));
    /// assert_eq!(q.try_get(), Err(GetError::Empty));
    /// ```
    pub fn try_get(&self) -> Result<T, GetError> {
        let mut guard = self.queue.lock();
        let (item, waker) = self.get_locked(&mut guard)?;
        drop(guard);
        wake(waker);
        Ok(item)
    }

    /// Takes the oldest item, waiting asynchronously while the queue is
    /// empty. Cancel-safe: an item handed to a dropped future goes back to
    /// the front of the queue.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let q = polysync::Queue::unbounded();
    /// q.try_put(3).unwrap();
    /// assert_eq!(q.get().await, Ok(3));
    /// # });
    /// ```
    pub fn get(&self) -> Get<'_, T> {
        Get {
            queue: self,
            entry: Entry::new(GETTER, None),
        }
    }

    /// Takes the oldest item, blocking the current execution unit while the
    /// queue is empty. Fails only once the queue is closed and drained.
    ///
    /// ```
    /// let q = polysync::Queue::unbounded();
    /// q.try_put(1).unwrap();
    /// q.close();
    /// assert_eq!(q.get_blocking(), Ok(1));
    /// assert_eq!(q.get_blocking(), Err(polysync::queue::GetError::Closed));
    /// ```
    pub fn get_blocking(&self) -> Result<T, GetError> {
        self.get_until_inner(None)
    }

    /// Takes the oldest item, blocking for at most `timeout` while the queue
    /// is empty.
    ///
    /// ```
    /// use polysync::queue::{GetError, Queue};
    /// let q = Queue::<u8>::unbounded();
    /// let t = std::time::Duration::from_millis(1);
    /// assert_eq!(q.try_get_for(t), Err(GetError::Empty));
    /// ```
    pub fn try_get_for(&self, timeout: Duration) -> Result<T, GetError> {
        self.get_until_inner(deadline_after(timeout))
    }

    /// Takes the oldest item, blocking until `deadline` at the latest while
    /// the queue is empty.
    ///
    /// ```
    /// let q = polysync::Queue::unbounded();
    /// q.try_put(9).unwrap();
    /// assert_eq!(q.try_get_until(std::time::Instant::now()), Ok(9));
    /// ```
    pub fn try_get_until(&self, deadline: Instant) -> Result<T, GetError> {
        self.get_until_inner(Some(deadline))
    }

    fn get_until_inner(&self, deadline: Option<Instant>) -> Result<T, GetError> {
        match self.try_get() {
            Err(GetError::Empty) => {}
            done => return done,
        }
        let mut get = pin!(self.get());
        with_current_waiter(|waiter| {
            block_on_with(waiter, get.as_mut(), deadline).unwrap_or_else(|| get.as_mut().withdraw())
        })
    }

    /// Closes the queue: later puts fail with [`PutError::Closed`], getters
    /// take what is left and then fail with [`GetError::Closed`]. Waiting
    /// putters and getters wake with those errors. Closing twice is harmless.
    ///
    /// ```
    /// let q = polysync::Queue::unbounded();
    /// q.try_put(1).unwrap();
    /// q.close();
    /// assert!(q.is_closed());
    /// assert!(q.try_put(2).is_err());
    /// assert_eq!(q.try_get(), Ok(1));
    /// ```
    pub fn close(&self) {
        let mut guard = self.queue.lock();
        self.with_inner(&guard, |inner| inner.closed = true);
        let mut wakers = WakeList::new();
        loop {
            while !wakers.is_full() {
                match guard.notify_front(CLOSED) {
                    Some(waker) => wakers.push(waker),
                    None => break,
                }
            }
            let done = guard.is_empty();
            drop(guard);
            wakers.wake_all();
            if done {
                return;
            }
            guard = self.queue.lock();
        }
    }

    /// Whether [`close`](Queue::close) was called.
    ///
    /// ```
    /// assert!(!polysync::Queue::<()>::unbounded().is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        let guard = self.queue.lock();
        self.with_inner(&guard, |inner| inner.closed)
    }

    /// The number of buffered items now (a snapshot). Items handed straight
    /// to getters never show up here.
    ///
    /// ```
    /// let q = polysync::Queue::unbounded();
    /// q.try_put(()).unwrap();
    /// assert_eq!(q.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        let guard = self.queue.lock();
        self.with_inner(&guard, |inner| inner.buf.len())
    }

    /// Whether no item is buffered now (a snapshot).
    ///
    /// ```
    /// assert!(polysync::Queue::<u8>::unbounded().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a put would wait now (a snapshot); never for an unbounded queue.
    ///
    /// ```
    /// let q = polysync::Queue::bounded(1);
    /// q.try_put(0).unwrap();
    /// assert!(q.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.len() >= self.cap
    }

    /// The capacity; `None` when unbounded.
    ///
    /// ```
    /// assert_eq!(polysync::Queue::<u8>::bounded(2).capacity(), Some(2));
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        (self.cap != usize::MAX).then_some(self.cap)
    }

    /// How many units wait to put now (a snapshot).
    ///
    /// ```
    /// assert_eq!(polysync::Queue::<u8>::bounded(1).putting(), 0);
    /// ```
    pub fn putting(&self) -> usize {
        self.waiting(PUTTER)
    }

    /// How many units wait to get now (a snapshot).
    ///
    /// ```
    /// assert_eq!(polysync::Queue::<u8>::bounded(1).getting(), 0);
    /// ```
    pub fn getting(&self) -> usize {
        self.waiting(GETTER)
    }

    fn waiting(&self, kind: usize) -> usize {
        // Only one kind waits at a time (see the module docs).
        let guard = self.queue.lock();
        match guard.front() {
            Some(front) if front.data() == kind => guard.len(),
            _ => 0,
        }
    }
}

fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        waker.wake();
    }
}

impl<T> Default for Queue<T> {
    /// An unbounded queue.
    ///
    /// ```
    /// let q: polysync::Queue<u8> = Default::default();
    /// assert_eq!(q.capacity(), None);
    /// ```
    fn default() -> Self {
        Self::unbounded()
    }
}

impl<T> std::fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let guard = self.queue.lock();
        let (len, closed) = self.with_inner(&guard, |inner| (inner.buf.len(), inner.closed));
        let (getting, putting) = match guard.front() {
            Some(front) if front.data() == GETTER => (guard.len(), 0),
            Some(_) => (0, guard.len()),
            None => (0, 0),
        };
        drop(guard);
        f.debug_struct("Queue")
            .field("len", &len)
            .field("capacity", &self.capacity())
            .field("closed", &closed)
            .field("getting", &getting)
            .field("putting", &putting)
            .finish()
    }
}

/// The shared poll logic of [`Put`] and [`Get`]: `first` runs under the lock
/// on the first poll and either completes or lets the entry be queued.
fn poll_entry<T, R>(
    queue: &Queue<T>,
    entry: Pin<&Entry<T>>,
    cx: &mut Context<'_>,
    first: impl FnOnce(&mut QueueGuard<'_>) -> Option<(R, Option<Waker>)>,
    finish: impl FnOnce(&Entry<T>) -> R,
) -> Poll<R> {
    let node = &entry.node;
    match node.state() {
        NOTIFIED => {
            node.set_done();
            Poll::Ready(finish(&entry))
        }
        WAITING => {
            let guard = queue.queue.lock();
            if node.state() == NOTIFIED {
                drop(guard);
                node.set_done();
                return Poll::Ready(finish(&entry));
            }
            let old = node.replace_waker_locked(cx.waker());
            drop(guard);
            drop(old);
            Poll::Pending
        }
        crate::lowlevel::queue::IDLE => {
            let waker = cx.waker().clone();
            let mut guard = queue.queue.lock();
            if let Some((out, wake_after)) = first(&mut guard) {
                drop(guard);
                node.set_done();
                wake(wake_after);
                return Poll::Ready(out);
            }
            // SAFETY: the entry is pinned inside its future, whose `Drop`
            // removes the node (or consumes its notification) before the
            // memory goes away.
            unsafe { guard.push_back(node, waker) };
            Poll::Pending
        }
        _ => panic!("polysync: a queue future was polled after it completed"),
    }
}

/// Gives up a wait: removes a still-queued node (returns `true`), or reports
/// that it was notified (`false`; the caller owns the outcome).
fn withdraw_entry<T>(queue: &Queue<T>, entry: &Entry<T>) -> bool {
    let node = &entry.node;
    if node.state() != WAITING {
        return false;
    }
    let mut guard = queue.queue.lock();
    if node.state() == NOTIFIED {
        return false;
    }
    // SAFETY: under the lock the node is still WAITING, so it is linked here.
    let waker = unsafe { guard.remove(node) };
    drop(guard);
    drop(waker);
    true
}

/// The future of [`Queue::put`]: completes when the item is in the queue
/// (or handed to a getter), or with [`PutError::Closed`].
///
/// ```
/// use polysync::queue::{PutError, Queue};
/// # futures_lite::future::block_on(async {
/// let q = Queue::bounded(1);
/// let put = q.put(1);
/// put.await.unwrap();
/// q.close();
/// assert_eq!(q.put(2).await, Err(PutError::Closed(2)));
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Put<'a, T> {
    queue: &'a Queue<T>,
    entry: Entry<T>,
}

impl<T> Put<'_, T> {
    fn entry(self: Pin<&Self>) -> Pin<&Entry<T>> {
        // SAFETY: structural pinning: the entry is never moved out.
        unsafe { self.map_unchecked(|s| &s.entry) }
    }

    fn finish(entry: &Entry<T>) -> Result<(), PutError<T>> {
        if entry.node.data() == HANDED {
            Ok(())
        } else {
            Err(PutError::Closed(
                entry.take().expect("a closed putter keeps its item"),
            ))
        }
    }

    /// After a timeout: the outcome if a notification landed, else the item
    /// back in [`PutError::Full`].
    fn withdraw(self: Pin<&mut Self>) -> Result<(), PutError<T>> {
        let this = self.into_ref();
        let entry = this.entry();
        if withdraw_entry(this.queue, &entry) {
            entry.node.set_done();
            return Err(PutError::Full(
                entry.take().expect("a queued putter has its item"),
            ));
        }
        entry.node.set_done();
        Self::finish(&entry)
    }
}

impl<T> Future for Put<'_, T> {
    type Output = Result<(), PutError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.into_ref();
        let queue = this.queue;
        let entry = this.entry();
        poll_entry(
            queue,
            entry,
            cx,
            |guard| {
                let item = entry.take().expect("an unpolled putter has its item");
                match queue.put_locked(guard, item) {
                    Ok(waker) => Some((Ok(()), waker)),
                    Err(PutError::Closed(item)) => Some((Err(PutError::Closed(item)), None)),
                    Err(PutError::Full(item)) => {
                        // SAFETY: the node is IDLE: the entry is ours alone.
                        entry.slot.with_mut(|p| unsafe { *p = Some(item) });
                        None
                    }
                }
            },
            Self::finish,
        )
    }
}

impl<T> Drop for Put<'_, T> {
    fn drop(&mut self) {
        // A queued putter leaves; its item drops with the entry. A notified
        // one was either handed over (nothing to do) or closed (same).
        withdraw_entry(self.queue, &self.entry);
    }
}

impl<T> std::fmt::Debug for Put<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Put")
            .field("node", &self.entry.node)
            .finish_non_exhaustive()
    }
}

/// The future of [`Queue::get`]: completes with the oldest item, or with
/// [`GetError::Closed`] once the queue is closed and drained.
///
/// ```
/// use polysync::queue::{GetError, Queue};
/// # futures_lite::future::block_on(async {
/// let q = Queue::unbounded();
/// q.try_put("hi").unwrap();
/// let get = q.get();
/// assert_eq!(get.await, Ok("hi"));
/// q.close();
/// assert_eq!(q.get().await, Err(GetError::Closed));
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Get<'a, T> {
    queue: &'a Queue<T>,
    entry: Entry<T>,
}

impl<T> Get<'_, T> {
    fn entry(self: Pin<&Self>) -> Pin<&Entry<T>> {
        // SAFETY: structural pinning: the entry is never moved out.
        unsafe { self.map_unchecked(|s| &s.entry) }
    }

    fn finish(entry: &Entry<T>) -> Result<T, GetError> {
        if entry.node.data() == HANDED {
            Ok(entry.take().expect("a handed getter has its item"))
        } else {
            Err(GetError::Closed)
        }
    }

    /// After a timeout: the item if one landed, else [`GetError::Empty`].
    fn withdraw(self: Pin<&mut Self>) -> Result<T, GetError> {
        let this = self.into_ref();
        let entry = this.entry();
        let removed = withdraw_entry(this.queue, &entry);
        entry.node.set_done();
        if removed {
            Err(GetError::Empty)
        } else {
            Self::finish(&entry)
        }
    }
}

impl<T> Future for Get<'_, T> {
    type Output = Result<T, GetError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.into_ref();
        let queue = this.queue;
        poll_entry(
            queue,
            this.entry(),
            cx,
            |guard| match queue.get_locked(guard) {
                Ok((item, waker)) => Some((Ok(item), waker)),
                Err(GetError::Closed) => Some((Err(GetError::Closed), None)),
                Err(GetError::Empty) => None,
            },
            Self::finish,
        )
    }
}

impl<T> Drop for Get<'_, T> {
    fn drop(&mut self) {
        let entry = &self.entry;
        if withdraw_entry(self.queue, entry) || entry.node.state() != NOTIFIED {
            return;
        }
        // Handed an item it will never return: put it back at the front (or
        // hand it to the next getter).
        let item = if entry.node.data() == HANDED {
            entry.take()
        } else {
            None
        };
        if let Some(item) = item {
            let mut guard = self.queue.queue.lock();
            let waker = self.queue.place(&mut guard, item, true);
            drop(guard);
            wake(waker);
        }
    }
}

impl<T> std::fmt::Debug for Get<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Get")
            .field("node", &self.entry.node)
            .finish_non_exhaustive()
    }
}
