//! The timer of timed coroutine waits: one OS thread of this crate that
//! *unparks* a waiting coroutine's [`Blocker`](may::sync::Blocker) at its
//! deadline, instead of handing the timeout to may's `park_timeout`.
//!
//! Why not may's timer: may 0.3's `Park::subscribe` adds the park's timer
//! *before* it stores the coroutine in the slot that the timer takes the
//! coroutine from. If the worker that runs `subscribe` is preempted between
//! the two for longer than the timeout (a 1 ms timeout on a loaded machine),
//! the timer fires into an empty slot and does nothing, then the coroutine
//! is stored and sleeps for good: a timed wait that never returns. An
//! unpark has no such window: it sets the park's flag before it looks for
//! the coroutine, and `subscribe` re-checks the flag after it stored the
//! coroutine. So this timer only ever unparks.
//!
//! Each timed wait arms one entry tagged with the wait's number
//! ([`Parker::armed`]); the wait disarms it when it returns, whatever woke
//! it. An entry that fires for a wait that already returned (its tag no
//! longer armed) is skipped; one that fires just as its wait returns may
//! leave a stale permit, which makes the coroutine's next wait return
//! `Woken` once, spuriously (polysync re-checks after every return).
//!
//! An entry leaves the heap at its deadline, or earlier once stale: `arm`
//! drops the stale entries when the heap reaches twice its live size at the
//! previous sweep (at least 64), so it never holds more than 64 entries or
//! twice the most timed waits in progress at once. Its memory is kept for
//! reuse: a timed wait allocates only when the heap outgrows it.
//!
//! The thread is started by the first timed wait and runs until the process
//! exits (the timer is a leaked static, nothing to drop). An entry holds the
//! parker weakly, so the timer keeps no ended coroutine's parker alive
//! (only its memory, until the entry goes).

use crate::Parker;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::Instant;

/// One armed timed wait.
struct Entry {
    deadline: Instant,
    /// The wait's number; fires only while `armed` still holds it.
    tag: u64,
    /// The parker's [`Parker::armed`]: read without a strong reference to
    /// the parker, so dropping an entry (or checking it) under the timer's
    /// lock never drops a parker there (a parker's drop can wait for a may
    /// subscription to finish, see `Unit`'s `Drop`).
    armed: Arc<AtomicU64>,
    parker: Weak<Parker>,
}

impl Entry {
    /// Whether the wait it was armed for is still waiting (or has not yet
    /// disarmed).
    fn live(&self) -> bool {
        self.armed.load(Relaxed) == self.tag
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.deadline, self.tag).cmp(&(other.deadline, other.tag))
    }
}

struct Heap {
    entries: BinaryHeap<Reverse<Entry>>,
    /// The size at which `arm` drops stale entries.
    compact_at: usize,
}

struct Timer {
    heap: Mutex<Heap>,
    /// Rung when an entry becomes the earliest.
    changed: Condvar,
}

impl Timer {
    fn lock(&self) -> MutexGuard<'_, Heap> {
        // Nothing panics while the lock is held (no user code runs under
        // it), so a poisoned heap is still consistent.
        self.heap.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The timer thread: unparks each live entry at its deadline.
    fn run(&self) -> ! {
        let mut heap = self.lock();
        loop {
            let now = Instant::now();
            let next = match heap.entries.peek() {
                None => None,
                Some(Reverse(top)) if top.deadline <= now => {
                    let Some(Reverse(entry)) = heap.entries.pop() else {
                        unreachable!("peeked")
                    };
                    // Upgraded, unparked and dropped outside the lock: the
                    // last reference to a parker may be this one.
                    drop(heap);
                    if entry.live() {
                        if let Some(parker) = entry.parker.upgrade() {
                            // Only enqueues the coroutine on a may run
                            // queue. If the wait returned since the check,
                            // this leaves a permit: the coroutine's next
                            // wait returns `Woken` once, spuriously.
                            parker.blocker.unpark();
                        }
                    }
                    drop(entry);
                    heap = self.lock();
                    continue;
                }
                Some(Reverse(top)) => Some(top.deadline - now),
            };
            heap = match next {
                None => self
                    .changed
                    .wait(heap)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(left) => {
                    self.changed
                        .wait_timeout(heap, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
    }
}

/// The timer, its thread started on the first timed wait.
fn timer() -> &'static Timer {
    static TIMER: OnceLock<&'static Timer> = OnceLock::new();
    TIMER.get_or_init(|| {
        let timer: &'static Timer = Box::leak(Box::new(Timer {
            heap: Mutex::new(Heap {
                entries: BinaryHeap::new(),
                compact_at: 64,
            }),
            changed: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("polysync-may timer".into())
            .spawn(move || timer.run())
            .expect("polysync-may: spawn the timer thread");
        timer
    })
}

/// Arms the timer of wait `tag` of `parker`: at `deadline`, unless
/// [`disarm`]ed before, `parker.blocker` is unparked.
pub(crate) fn arm(parker: &Arc<Parker>, deadline: Instant, tag: u64) {
    // Stored before the entry is pushed under the lock, which orders it
    // before the timer thread's check.
    parker.armed.store(tag, Relaxed);
    let timer = timer();
    let mut heap = timer.lock();
    if heap.entries.len() >= heap.compact_at {
        heap.entries.retain(|Reverse(e)| e.live());
        heap.compact_at = (2 * heap.entries.len()).max(64);
    }
    heap.entries.push(Reverse(Entry {
        deadline,
        tag,
        armed: Arc::clone(&parker.armed),
        parker: Arc::downgrade(parker),
    }));
    let earliest = heap
        .entries
        .peek()
        .is_some_and(|Reverse(top)| top.tag == tag && top.deadline == deadline);
    drop(heap);
    if earliest {
        timer.changed.notify_one();
    }
}

/// Disarms `parker`'s timer: the wait it was armed for has returned.
pub(crate) fn disarm(parker: &Parker) {
    parker.armed.store(0, Relaxed);
}

#[cfg(test)]
mod tests {
    use super::timer;
    use polysync::lowlevel::{WaitResult, Waiter};
    use std::sync::atomic::Ordering::Relaxed;
    use std::time::{Duration, Instant};

    /// Timed waits that return long before their deadline disarm their
    /// entries (so these can never wake a later wait) and leave them
    /// behind; the heap drops them as it grows, so it stays small however
    /// many such waits a coroutine makes.
    #[test]
    fn entries_of_returned_waits_are_disarmed_and_do_not_pile_up() {
        may::config().set_workers(1).set_worker_pin(false);
        may::go!(|| {
            let w = crate::MayWaiter::current();
            let deadline = Instant::now() + Duration::from_secs(600);
            for _ in 0..10_000 {
                w.waker().wake(); // a permit: the park returns at once
                assert_eq!(w.wait(Some(deadline)), WaitResult::Woken);
                assert_eq!(w.parker.armed.load(Relaxed), 0, "still armed");
            }
        })
        .join()
        .unwrap();
        let entries = timer().lock().entries.len();
        assert!(
            entries <= 128,
            "{entries} entries for one live wait at most"
        );
    }
}
