#![cfg(polysync_loom)]
//! loom models of the wait queue and the primitives built on it.
//!
//! Run with:
//!
//! RUSTFLAGS="--cfg polysync_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true cargo test --release --test loom --target-dir target/loom
//!
//! Under `--cfg polysync_loom` the crate's atomics, cells, `thread` and
//! `thread_local!` come from loom (src/lowlevel/sync.rs), so these models check
//! the real queue, wait future and thread waiter. loom has no clock: a timeout
//! is modelled by a `Waiter` whose `wait` reports `TimedOut` unless a wake is
//! already pending, and a cancellation by polling a future once and dropping it.
//!
//! loom facts the models respect: at most 5 threads including the main one;
//! the main thread is never a waiter (unparking it while it is in `join` trips
//! tokio-rs/loom#249), so it only releases, sets and joins.
//!
//! Keep `LOOM_MAX_PREEMPTIONS=2`. From 3 on, the models where two threads
//! contend for the queue lock exceed loom's branch limit: while the holder is
//! preempted, loom switches back and forth between the two spinners (each
//! `yield_now` in the lock's back-off) hundreds of times before it resumes
//! the holder, and a switch after a yield costs no preemption. Those
//! executions complete correctly, but they are too long.
//!
//! A deadlock found by loom aborts the whole test binary (SIGABRT); rerun
//! with `-- --test-threads=1` to see which model it was.

use loom::sync::Arc;
use loom::sync::atomic::{
    AtomicBool, AtomicUsize,
    Ordering::{Relaxed, SeqCst},
};
use loom::thread;
use polysync::lowlevel::Signal;
use polysync::{BinarySemaphore, Event, Lock, Mutex, Semaphore};
use std::pin::pin;
use std::task::Poll;

#[path = "support/loom.rs"]
mod support;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

use support::{SOON, flag_waker, model, poll_once, timing_out};

// ---------------------------------------------------------------------------
// The wait queue, through Semaphore
// ---------------------------------------------------------------------------

/// A waiter polls `acquire()` once, then drops it (cancels), racing a
/// `release(1)`: the permit is neither lost nor duplicated.
#[test]
fn sem_poll_once_cancel_vs_release() {
    model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let waiter = {
            let sem = sem.clone();
            thread::spawn(move || {
                let (_flag, waker) = flag_waker();
                let mut fut = pin!(sem.acquire());
                match poll_once(fut.as_mut(), &waker) {
                    Poll::Ready(permit) => {
                        permit.unwrap().forget();
                        1
                    }
                    Poll::Pending => 0,
                }
                // `fut` drops here: removes the node or passes a handoff on.
            })
        };
        sem.release(1);
        let held = waiter.join().unwrap();
        assert_eq!(sem.value() + held, 1, "permit lost or duplicated");
        assert_eq!(sem.waiting(), 0);
    });
}

/// A blocking acquire that times out (the deadline passes at once) races a
/// release: if the release lands in the window before the last poll the
/// waiter takes the permit; if it lands after, the dropped future passes it
/// back. Either way exactly one permit exists afterwards.
#[test]
fn sem_timeout_vs_release() {
    model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let waiter = {
            let sem = sem.clone();
            thread::spawn(move || match timing_out(|| sem.try_acquire_for(SOON)) {
                Some(permit) => {
                    permit.forget();
                    1
                }
                None => 0,
            })
        };
        sem.release(1);
        let held = waiter.join().unwrap();
        assert_eq!(sem.value() + held, 1, "permit lost or duplicated");
        assert_eq!(sem.waiting(), 0);
    });
}

/// An async waiter (`loom::future::block_on`) vs a releaser: no lost wake-up.
#[test]
fn sem_async_wait_vs_release() {
    model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let waiter = {
            let sem = sem.clone();
            thread::spawn(move || loom::future::block_on(sem.acquire()).unwrap().forget())
        };
        sem.release(1);
        waiter.join().unwrap();
        assert_eq!(sem.value(), 0);
        assert_eq!(sem.waiting(), 0);
    });
}

/// A blocking waiter (the thread waiter: loom park/unpark) vs a releaser.
#[test]
fn sem_blocking_wait_vs_release() {
    model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let waiter = {
            let sem = sem.clone();
            thread::spawn(move || sem.acquire_blocking().unwrap().forget())
        };
        sem.release(1);
        waiter.join().unwrap();
        assert_eq!(sem.value(), 0);
        assert_eq!(sem.waiting(), 0);
    });
}

/// The waiter polls with one waker, then re-polls with another (loom's
/// `block_on` waker) while a release takes the stored waker: the swap under
/// the queue lock never loses the wake-up.
#[test]
fn sem_waker_replaced_vs_release() {
    model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let waiter = {
            let sem = sem.clone();
            thread::spawn(move || {
                let (_flag, waker) = flag_waker();
                let mut fut = pin!(sem.acquire());
                let permit = match poll_once(fut.as_mut(), &waker) {
                    Poll::Ready(permit) => permit,
                    Poll::Pending => loom::future::block_on(fut),
                };
                permit.unwrap().forget();
            })
        };
        sem.release(1);
        waiter.join().unwrap();
        assert_eq!(sem.value(), 0);
        assert_eq!(sem.waiting(), 0);
    });
}

/// FIFO within the queue: one task queues two acquires in order; a release
/// races them. The permit always goes to the older one; the younger one,
/// cancelled, leaves nothing behind.
#[test]
fn sem_fifo_two_futures_vs_release() {
    model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let waiter = {
            let sem = sem.clone();
            thread::spawn(move || {
                let (_f1, w1) = flag_waker();
                let (_f2, w2) = flag_waker();
                let mut first = pin!(sem.acquire());
                let mut second = pin!(sem.acquire());
                let r1 = poll_once(first.as_mut(), &w1);
                let r2 = poll_once(second.as_mut(), &w2);
                assert!(r2.is_pending(), "the younger acquire got the only permit");
                let permit = match r1 {
                    Poll::Ready(permit) => permit,
                    Poll::Pending => loom::future::block_on(first),
                };
                assert!(
                    poll_once(second.as_mut(), &w2).is_pending(),
                    "the younger acquire got a second permit"
                );
                permit.unwrap().forget();
                // `second` is cancelled here.
            })
        };
        sem.release(1);
        waiter.join().unwrap();
        assert_eq!(sem.value(), 0);
        assert_eq!(sem.waiting(), 0);
    });
}

/// Two waiters in two threads (one blocking, one async) and one release.
/// The older one queues first (it polls once, then tells the younger one and
/// blocks on the thread waiter); the younger one queues after that. The
/// permit goes to the older waiter, which passes it on when it drops its
/// permit, so the younger one is served second.
#[test]
fn sem_fifo_two_waiters_handoff() {
    model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let order = Arc::new(AtomicUsize::new(0));
        let older_queued = Arc::new(AtomicBool::new(false));
        let older = {
            let (sem, order, queued) = (sem.clone(), order.clone(), older_queued.clone());
            thread::spawn(move || {
                let (_flag, waker) = flag_waker();
                let mut fut = pin!(sem.acquire());
                let first = poll_once(fut.as_mut(), &waker);
                queued.store(true, SeqCst);
                let _permit = match first {
                    Poll::Ready(permit) => permit.unwrap(),
                    // The blocking path: the thread waiter (loom park/unpark).
                    Poll::Pending => polysync::lowlevel::block_on(fut, None).unwrap().unwrap(),
                };
                order.fetch_add(1, SeqCst)
            })
        };
        let younger = {
            let (sem, order, queued) = (sem.clone(), order.clone(), older_queued.clone());
            thread::spawn(move || {
                while !queued.load(SeqCst) {
                    thread::yield_now();
                }
                let _permit = loom::future::block_on(sem.acquire()).unwrap();
                order.fetch_add(1, SeqCst)
            })
        };
        sem.release(1);
        assert_eq!(older.join().unwrap(), 0, "FIFO violated");
        assert_eq!(younger.join().unwrap(), 1, "FIFO violated");
        assert_eq!(sem.value(), 1);
        assert_eq!(sem.waiting(), 0);
    });
}

/// Two waiters cancel (poll once, drop) while one permit is released: the
/// queue unlinks nodes at any position under contention, and the permit ends
/// up free exactly once.
#[test]
fn sem_two_cancels_vs_release() {
    model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let spawn_canceller = |sem: Arc<Semaphore>| {
            thread::spawn(move || {
                let (_flag, waker) = flag_waker();
                let mut fut = pin!(sem.acquire());
                // A permit taken at once is given back when it drops.
                drop(poll_once(fut.as_mut(), &waker));
            })
        };
        let a = spawn_canceller(sem.clone());
        let b = spawn_canceller(sem.clone());
        sem.release(1);
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(sem.value(), 1, "permit lost or duplicated");
        assert_eq!(sem.waiting(), 0);
    });
}

/// A permit handed to a waiter that then cancels reaches the next waiter,
/// which blocks until it gets it (a lost handoff is a loom deadlock).
#[test]
fn sem_cancelled_handoff_reaches_next_waiter() {
    model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let canceller = {
            let sem = sem.clone();
            thread::spawn(move || {
                let (_flag, waker) = flag_waker();
                let mut fut = pin!(sem.acquire());
                drop(poll_once(fut.as_mut(), &waker));
            })
        };
        let blocker = {
            let sem = sem.clone();
            thread::spawn(move || sem.acquire_blocking().unwrap().forget())
        };
        sem.release(1);
        canceller.join().unwrap();
        blocker.join().unwrap();
        assert_eq!(sem.value(), 0);
        assert_eq!(sem.waiting(), 0);
    });
}

/// One `release(2)` hands a permit to each of two waiters (a blocking and
/// an async one) in a single pass: both return, nothing is left over.
#[test]
fn sem_release_two_vs_two_waiters() {
    model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let blocking = {
            let sem = sem.clone();
            thread::spawn(move || sem.acquire_blocking().unwrap().forget())
        };
        let task = {
            let sem = sem.clone();
            thread::spawn(move || loom::future::block_on(sem.acquire()).unwrap().forget())
        };
        sem.release(2);
        blocking.join().unwrap();
        task.join().unwrap();
        assert_eq!(sem.value(), 0);
        assert_eq!(sem.waiting(), 0);
    });
}

/// `BinarySemaphore`: a handoff passed on by a cancelled waiter goes back
/// through the saturating path; released twice, it still holds at most one
/// free permit, and never loses the permit.
#[test]
fn binary_sem_cancel_vs_two_releases() {
    model(|| {
        let sem = Arc::new(BinarySemaphore::new(false));
        let waiter = {
            let sem = sem.clone();
            thread::spawn(move || {
                let (_flag, waker) = flag_waker();
                let mut fut = pin!(sem.acquire());
                match poll_once(fut.as_mut(), &waker) {
                    Poll::Ready(permit) => {
                        permit.unwrap().forget();
                        1
                    }
                    Poll::Pending => 0,
                }
            })
        };
        sem.release();
        sem.release();
        let held = waiter.join().unwrap();
        // Two releases, at most one permit taken: one is free or held, and
        // the free count saturates at one.
        assert!(sem.value() <= 1, "binary semaphore above one permit");
        assert!(sem.value() + held >= 1, "binary semaphore lost its permit");
        assert_eq!(sem.waiting(), 0);
    });
}

// ---------------------------------------------------------------------------
// Lock
// ---------------------------------------------------------------------------

/// Counts critical sections in a loom `UnsafeCell`: loom reports a data race
/// if two of them are not ordered by the lock's acquire/release edges.
struct Guarded {
    lock: Lock,
    count: loom::cell::UnsafeCell<usize>,
    inside: AtomicBool,
}

// SAFETY: `count` is only touched while `lock` is held.
unsafe impl Sync for Guarded {}

impl Guarded {
    /// On the default lock (bounded fairness since issue 18).
    fn new() -> Self {
        Guarded::with(Lock::new())
    }

    /// On a lock with the strict hand-off (`Lock::new_fair`).
    fn fair() -> Self {
        Guarded::with(Lock::new_fair())
    }

    fn with(lock: Lock) -> Self {
        Guarded {
            lock,
            count: loom::cell::UnsafeCell::new(0),
            inside: AtomicBool::new(false),
        }
    }

    /// The critical section; call only with the lock held. `inside` uses
    /// `Relaxed` read-modify-writes: they always see the latest value (so
    /// they detect two holders) but create no happens-before edge, so only
    /// the lock's own acquire/release can order the accesses to `count`.
    fn critical(&self) {
        assert!(!self.inside.swap(true, Relaxed), "two holders at once");
        // SAFETY: the lock is held (that is what the model checks).
        self.count.with_mut(|p| unsafe { *p += 1 });
        assert!(self.inside.swap(false, Relaxed), "two holders at once");
    }

    fn count(&self) -> usize {
        // SAFETY: called after every other thread was joined.
        self.count.with(|p| unsafe { *p })
    }
}

/// A blocking and an async acquirer: mutual exclusion, both get through,
/// and the lock ends free with nobody queued.
#[test]
fn lock_blocking_vs_async_mutual_exclusion() {
    lock_blocking_vs_async_mutual_exclusion_on(Guarded::new);
}

/// The same on a lock with the strict hand-off.
#[test]
fn lock_blocking_vs_async_mutual_exclusion_fair() {
    lock_blocking_vs_async_mutual_exclusion_on(Guarded::fair);
}

fn lock_blocking_vs_async_mutual_exclusion_on(make: fn() -> Guarded) {
    model(move || {
        let g = Arc::new(make());
        let blocking = {
            let g = g.clone();
            thread::spawn(move || {
                let _guard = g.lock.acquire_blocking();
                g.critical();
            })
        };
        let task = {
            let g = g.clone();
            thread::spawn(move || {
                loom::future::block_on(async {
                    let _guard = g.lock.acquire().await;
                    g.critical();
                })
            })
        };
        blocking.join().unwrap();
        task.join().unwrap();
        assert_eq!(g.count(), 2);
        assert!(!g.lock.is_locked());
        assert_eq!(g.lock.waiting(), 0);
    });
}

/// The main thread holds the lock; a waiter polls `acquire()` once and drops
/// it while the lock is released (possibly handed to it): afterwards the lock
/// is free and nobody is queued.
#[test]
fn lock_release_vs_cancel() {
    lock_release_vs_cancel_on(Guarded::new);
}

/// The same on a lock with the strict hand-off.
#[test]
fn lock_release_vs_cancel_fair() {
    lock_release_vs_cancel_on(Guarded::fair);
}

fn lock_release_vs_cancel_on(make: fn() -> Guarded) {
    model(move || {
        let g = Arc::new(make());
        let held = g.lock.try_acquire().expect("lock is free");
        let waiter = {
            let g = g.clone();
            thread::spawn(move || {
                let (_flag, waker) = flag_waker();
                let mut fut = pin!(g.lock.acquire());
                if let Poll::Ready(_guard) = poll_once(fut.as_mut(), &waker) {
                    g.critical();
                }
            })
        };
        g.critical();
        drop(held);
        waiter.join().unwrap();
        assert!(!g.lock.is_locked(), "a cancelled waiter kept the lock");
        assert_eq!(g.lock.waiting(), 0);
    });
}

/// A blocking acquire times out while the holder releases: it either gets
/// the lock (in the last poll) or passes on a handoff that came too late.
#[test]
fn lock_release_vs_timeout() {
    lock_release_vs_timeout_on(Guarded::new);
}

/// The same on a lock with the strict hand-off.
#[test]
fn lock_release_vs_timeout_fair() {
    lock_release_vs_timeout_on(Guarded::fair);
}

fn lock_release_vs_timeout_on(make: fn() -> Guarded) {
    model(move || {
        let g = Arc::new(make());
        let held = g.lock.try_acquire().expect("lock is free");
        let waiter = {
            let g = g.clone();
            thread::spawn(move || {
                if let Some(_guard) = timing_out(|| g.lock.try_acquire_for(SOON)) {
                    g.critical();
                }
            })
        };
        g.critical();
        drop(held);
        waiter.join().unwrap();
        assert!(!g.lock.is_locked(), "a timed-out waiter kept the lock");
        assert_eq!(g.lock.waiting(), 0);
    });
}

/// A handoff to a waiter that cancels reaches the next (blocking) waiter.
#[test]
fn lock_cancelled_handoff_reaches_next_waiter() {
    model(|| {
        let g = Arc::new(Guarded::new());
        let held = g.lock.try_acquire().expect("lock is free");
        let canceller = {
            let g = g.clone();
            thread::spawn(move || {
                let (_flag, waker) = flag_waker();
                let mut fut = pin!(g.lock.acquire());
                if let Poll::Ready(_guard) = poll_once(fut.as_mut(), &waker) {
                    g.critical();
                }
            })
        };
        let blocker = {
            let g = g.clone();
            thread::spawn(move || {
                let _guard = g.lock.acquire_blocking();
                g.critical();
            })
        };
        g.critical();
        drop(held);
        canceller.join().unwrap();
        blocker.join().unwrap();
        assert!(!g.lock.is_locked());
        assert_eq!(g.lock.waiting(), 0);
    });
}

/// `Mutex<T>` over a loom cell: a blocking and an async locker; loom checks
/// that the accesses to the data are ordered by the lock.
#[test]
fn mutex_blocking_vs_async() {
    model(|| {
        let m = Arc::new(Mutex::new(loom::cell::UnsafeCell::new(0usize)));
        let blocking = {
            let m = m.clone();
            thread::spawn(move || {
                let guard = m.lock_blocking();
                // SAFETY: the mutex is held.
                guard.with_mut(|p| unsafe { *p += 1 });
            })
        };
        let task = {
            let m = m.clone();
            thread::spawn(move || {
                loom::future::block_on(async {
                    let guard = m.lock().await;
                    // SAFETY: the mutex is held.
                    guard.with_mut(|p| unsafe { *p += 1 });
                })
            })
        };
        blocking.join().unwrap();
        task.join().unwrap();
        let guard = m.try_lock().expect("mutex is free");
        // SAFETY: the mutex is held.
        assert_eq!(guard.with(|p| unsafe { *p }), 2);
        drop(guard);
        assert_eq!(m.waiting(), 0);
    });
}

// ---------------------------------------------------------------------------
// Event
// ---------------------------------------------------------------------------

/// `set` vs a blocking and an async waiter: both return.
#[test]
fn event_set_vs_blocking_and_async_waiters() {
    model(|| {
        let event = Arc::new(Event::new());
        let blocking = {
            let event = event.clone();
            thread::spawn(move || event.wait_blocking())
        };
        let task = {
            let event = event.clone();
            thread::spawn(move || {
                loom::future::block_on(event.wait());
                // A wait that returned saw the event set.
                assert!(event.is_set(), "wait() returned but is_set() is false");
            })
        };
        assert!(event.set());
        blocking.join().unwrap();
        task.join().unwrap();
        assert!(event.is_set());
        assert_eq!(event.waiting(), 0);
    });
}

/// `set` vs a waiter that cancels and one that blocks: the blocking one
/// returns, the cancelled one leaves no node behind.
#[test]
fn event_set_vs_cancel_and_waiter() {
    model(|| {
        let event = Arc::new(Event::new());
        let canceller = {
            let event = event.clone();
            thread::spawn(move || {
                let (_flag, waker) = flag_waker();
                let mut fut = pin!(event.wait());
                if poll_once(fut.as_mut(), &waker).is_ready() {
                    assert!(event.is_set());
                }
            })
        };
        let blocking = {
            let event = event.clone();
            thread::spawn(move || event.wait_blocking())
        };
        assert!(event.set());
        canceller.join().unwrap();
        blocking.join().unwrap();
        assert_eq!(event.waiting(), 0);
    });
}

/// Two setters and a waiter: exactly one `set` returns `true`, the waiter
/// returns.
#[test]
fn event_two_setters_one_waiter() {
    model(|| {
        let event = Arc::new(Event::new());
        let waiter = {
            let event = event.clone();
            thread::spawn(move || event.wait_blocking())
        };
        let setter = {
            let event = event.clone();
            thread::spawn(move || event.set())
        };
        let mine = event.set();
        let theirs = setter.join().unwrap();
        waiter.join().unwrap();
        assert!(
            mine ^ theirs,
            "set() returned true {} times",
            mine as u8 + theirs as u8
        );
        assert_eq!(event.waiting(), 0);
    });
}

/// A timed-out wait racing `set`: the queue is left empty either way, and a
/// wait that reports success saw the event set.
#[test]
fn event_set_vs_timeout() {
    model(|| {
        let event = Arc::new(Event::new());
        let waiter = {
            let event = event.clone();
            thread::spawn(move || {
                if timing_out(|| event.try_wait_for(SOON)) {
                    assert!(
                        event.is_set(),
                        "try_wait_for() returned true but is_set() is false"
                    );
                }
            })
        };
        assert!(event.set());
        waiter.join().unwrap();
        assert_eq!(event.waiting(), 0);
    });
}

// ---------------------------------------------------------------------------
// lowlevel::Signal
// ---------------------------------------------------------------------------

/// `set` vs a blocking wait: the wait returns and `set` returns `true` once.
#[test]
fn signal_set_vs_wait_blocking() {
    model(|| {
        let signal = Arc::new(Signal::new());
        let waiter = {
            let signal = signal.clone();
            thread::spawn(move || signal.wait_blocking())
        };
        assert!(signal.set());
        waiter.join().unwrap().unwrap();
        assert!(!signal.set());
        assert!(signal.is_set() && !signal.is_cancelled());
    });
}

/// Two setters race while an async waiter waits: exactly one `set` wins.
#[test]
fn signal_two_setters_one_waiter() {
    model(|| {
        let signal = Arc::new(Signal::new());
        let waiter = {
            let signal = signal.clone();
            thread::spawn(move || {
                loom::future::block_on(signal.wait())?;
                // A wait that returned saw the signal set.
                assert!(signal.is_set(), "wait() returned but is_set() is false");
                Ok::<(), polysync::lowlevel::SignalError>(())
            })
        };
        let setter = {
            let signal = signal.clone();
            thread::spawn(move || signal.set())
        };
        let mine = signal.set();
        let theirs = setter.join().unwrap();
        waiter.join().unwrap().unwrap();
        assert!(
            mine ^ theirs,
            "set() returned true {} times",
            mine as u8 + theirs as u8
        );
        assert!(signal.is_set() && !signal.is_cancelled());
    });
}

/// The waiter polls once and drops the future (cancels) while `set` races:
/// `set` returns `true` exactly when the signal is set and not cancelled; a
/// cancel that came first makes `set` return `false`.
#[test]
fn signal_cancel_vs_set() {
    model(|| {
        let signal = Arc::new(Signal::new());
        let waiter = {
            let signal = signal.clone();
            thread::spawn(move || {
                let (_flag, waker) = flag_waker();
                let mut fut = pin!(signal.wait());
                match poll_once(fut.as_mut(), &waker) {
                    Poll::Ready(result) => {
                        result.unwrap();
                        true
                    }
                    Poll::Pending => false,
                }
            })
        };
        let set = signal.set();
        let saw_set = waiter.join().unwrap();
        assert_eq!(set, signal.is_set());
        assert_eq!(
            set,
            !signal.is_cancelled(),
            "set() = {set}, but is_cancelled() agrees"
        );
        if saw_set {
            assert!(set, "the waiter saw a set that set() did not report");
        }
        assert!(!signal.set());
    });
}

/// A timed wait (`wait_for`, its deadline passing at once) races `set`.
/// The documented contract: a wait that times out before the signal is set
/// cancels it and later `set()`s return `false`; if a `set()` wins the race,
/// the signal counts as set and the timed wait reports success. So the
/// wait's result and `set()`'s result must agree.
#[test]
fn signal_timeout_vs_set() {
    model(|| {
        let signal = Arc::new(Signal::new());
        let waiter = {
            let signal = signal.clone();
            thread::spawn(move || timing_out(|| signal.try_wait_for(SOON)))
        };
        let set = signal.set();
        let waited = waiter.join().unwrap().unwrap();
        assert_eq!(
            set,
            waited,
            "set() returned {set} but the timed wait reported {}",
            if waited { "success" } else { "a timeout" }
        );
        assert_eq!(set, !signal.is_cancelled());
    });
}

/// Three threads contend for one queue lock (a blocking waiter, an async
/// waiter and a setter, with the main thread only joining). Before the queue
/// lock blocked under loom, spinning on its bit made loom exhaust its branch
/// budget on this model.
#[test]
fn event_three_threads_contend_for_the_queue_lock() {
    model(|| {
        let event = Arc::new(Event::new());
        let blocking = {
            let event = event.clone();
            thread::spawn(move || event.wait_blocking())
        };
        let task = {
            let event = event.clone();
            thread::spawn(move || loom::future::block_on(event.wait()))
        };
        let setter = {
            let event = event.clone();
            thread::spawn(move || assert!(event.set()))
        };
        setter.join().unwrap();
        blocking.join().unwrap();
        task.join().unwrap();
        assert_eq!(event.waiting(), 0);
    });
}
