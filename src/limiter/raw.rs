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

/// The shared core. The queue word's user bits count the borrowed tokens
/// (one per borrower); the borrower list lives beside the queue and is
/// guarded by the queue lock. Tokens are handed straight to queued waiters,
/// oldest first.
pub struct RawLimiter {
    /// User bits: the borrowed tokens (see the table above).
    pub(super) queue: WaitQueue,
    /// Written under the queue lock; read lock-free for snapshots.
    total: AtomicU64,
    /// `(borrower, levels)`, guarded by the queue lock. It grows only when
    /// more units borrow at once than ever before; waiting never allocates.
    borrowers: UnsafeCell<Vec<(u64, u64)>>,
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
                borrowers: UnsafeCell::new(Vec::new()),
                reentrant,
            }
        }
    }

    /// Runs `f` on the borrower list. The guard proves the queue lock is held.
    fn with_list<R>(&self, guard: &QueueGuard<'_>, f: impl FnOnce(&mut Vec<(u64, u64)>) -> R) -> R {
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
        self.with_list(&guard, |list| {
            list.iter().find(|e| e.0 == id).map_or(0, |e| e.1 as usize)
        })
    }

    pub(super) fn snapshot(&self) -> Vec<(UnitId, usize)> {
        let guard = self.queue.lock();
        let mut out = Vec::with_capacity(self.borrowed());
        self.with_list(&guard, |list| {
            out.extend(
                list.iter()
                    // Borrowers are stored from `UnitId::get`.
                    .filter_map(|&(id, n)| UnitId::from_stored(id).map(|id| (id, n as usize))),
            );
        });
        drop(guard);
        out
    }

    /// Hands free tokens to queued waiters, oldest first, waking them after
    /// the lock is gone. Consumes the guard.
    fn hand_out<'a>(&'a self, guard: QueueGuard<'a>) {
        wake_in_batches(&self.queue, Some(guard), |guard, wakers| {
            let total = self.total.load(Ordering::Relaxed);
            while !wakers.is_full() {
                let Some(front) = guard.front() else { break };
                let id = front.data::<Borrow>().id;
                let known = self.with_list(guard, |list| {
                    list.iter_mut().find(|e| e.0 == id).map(|e| {
                        // The same unit waits twice (a task polling two
                        // acquisitions at once): no new token.
                        if self.reentrant {
                            e.1 += 1;
                        }
                    })
                });
                if known.is_some() {
                    let outcome = Borrow {
                        id,
                        already: !self.reentrant,
                    };
                    wakers.push(guard.notify_front(outcome).expect("front exists"));
                    continue;
                }
                if guard.user() >= total {
                    break;
                }
                self.with_list(guard, |list| list.push((id, 1)));
                guard.set_user(guard.user() + 1);
                wakers.push(guard.notify_front(Borrow::by(id)).expect("front exists"));
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
            let Some(pos) = list.iter().position(|e| e.0 == id) else {
                return Err(LimiterReleaseError::NotBorrowing);
            };
            let held = list[pos].1;
            if levels > held {
                return Err(LimiterReleaseError::TooManyReleases {
                    held: held as usize,
                });
            }
            list[pos].1 -= levels;
            if list[pos].1 == 0 {
                list.swap_remove(pos);
                Ok(true)
            } else {
                Ok(false)
            }
        });
        match outcome {
            Ok(true) => {
                guard.set_user(guard.user() - 1);
                self.hand_out(guard);
                Ok(())
            }
            Ok(false) => Ok(()),
            Err(e) => Err(e),
        }
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
    pub(super) fn try_borrow(&self, id: u64) -> Result<Borrow, Borrow> {
        let mut guard = self.queue.lock();
        self.arrive_locked(&mut guard, Borrow::by(id), &())
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

    fn try_fast(&self, _: Borrow, _: &()) -> Option<Borrow> {
        // The borrower list needs the queue lock: everything happens in
        // `arrive_locked`.
        None
    }

    fn arrive_locked(
        &self,
        guard: &mut QueueGuard<'_>,
        tag: Borrow,
        _: &(),
    ) -> Result<Borrow, Borrow> {
        let id = tag.id;
        let known = self.with_list(guard, |list| {
            list.iter_mut().find(|e| e.0 == id).map(|e| {
                if self.reentrant {
                    e.1 += 1;
                }
            })
        });
        if known.is_some() {
            return Ok(Borrow {
                id,
                already: !self.reentrant,
            });
        }
        // A free token implies an empty queue (tokens are handed out first),
        // so taking it keeps FIFO order.
        if guard.is_empty() && guard.user() < self.total.load(Ordering::Relaxed) {
            self.with_list(guard, |list| list.push((id, 1)));
            guard.set_user(guard.user() + 1);
            return Ok(Borrow::by(id));
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
