//! A may coroutine cancelled (`Coroutine::cancel`) while it waits in a
//! polysync primitive gives the wait up cleanly: the node is withdrawn,
//! nothing is lost (a lock or an item that reached it is passed on or kept
//! exactly once), and the coroutine unwinds with may's own cancel payload.
//!
//! The hand-off races are made deterministic by freezing every may worker
//! (a coroutine per worker blocks its OS thread on purpose) while the test
//! thread cancels the waiter and then releases: the waiter resumes with
//! both the cancel and the hand-off in hand.

mod support;

use polysync::Lock;
use polysync::Queue;
use polysync::lowlevel::WaitError;
use polysync::queue::TryPutError;
use polysync_may::MayWaiter;
use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use support::{eventually, go, setup, watchdog};

const WORKERS: usize = 2;

/// Cancels the coroutine behind `handle`.
fn cancel<T>(handle: &may::coroutine::JoinHandle<T>) {
    // SAFETY: may's contract for `cancel` is that the coroutine unwinds at
    // its next park or yield, dropping what it holds; the test coroutines
    // hold nothing whose drop could misbehave during that unwind.
    #[allow(unsafe_code)]
    unsafe {
        handle.coroutine().cancel()
    };
}

/// Whether a coroutine's join error is may's cancellation.
fn is_may_cancel(payload: &(dyn Any + Send)) -> bool {
    matches!(
        payload.downcast_ref::<generator::Error>(),
        Some(generator::Error::Cancel)
    )
}

fn joined_cancelled<T: std::fmt::Debug>(handle: may::coroutine::JoinHandle<T>, what: &str) {
    match handle.join() {
        Ok(out) => panic!("{what}: the cancelled coroutine returned {out:?}"),
        Err(payload) => assert!(
            is_may_cancel(&*payload),
            "{what}: the coroutine unwound with another payload than may's cancel"
        ),
    }
}

/// Blocks every may worker thread until the returned guard is dropped, so
/// that coroutines woken or cancelled meanwhile cannot run yet. One test
/// at a time freezes (two freezes could each hold one worker).
struct Frozen {
    /// Dropping the senders ends the freezers' `recv`.
    _release: Vec<mpsc::Sender<()>>,
    _one_at_a_time: std::sync::MutexGuard<'static, ()>,
}

fn freeze_workers() -> Frozen {
    static FREEZING: Mutex<()> = Mutex::new(());
    let one = FREEZING.lock().unwrap_or_else(|e| e.into_inner());
    let frozen = Arc::new(AtomicUsize::new(0));
    let mut release = Vec::new();
    for worker in 0..WORKERS {
        let (tx, rx) = mpsc::channel::<()>();
        release.push(tx);
        let frozen = frozen.clone();
        may::go!(may::coroutine::Builder::new().id(worker), move || {
            frozen.fetch_add(1, Ordering::SeqCst);
            // Blocks the worker's OS thread on purpose.
            let _ = rx.recv();
        })
        .expect("spawn a freezer");
    }
    eventually(|| frozen.load(Ordering::SeqCst) == WORKERS);
    Frozen {
        _release: release,
        _one_at_a_time: one,
    }
}

/// A lock waiter cancelled before any hand-off: its node is withdrawn, it
/// unwinds with may's cancel, and the lock goes to the waiter behind it.
#[test]
fn a_cancelled_lock_waiter_withdraws() {
    setup(WORKERS);
    let _dog = watchdog("a_cancelled_lock_waiter_withdraws");
    let lock = Arc::new(Lock::new());
    let first_got_it = Arc::new(AtomicBool::new(false));
    let held = lock.acquire_blocking();
    let first = {
        let (lock, got) = (lock.clone(), first_got_it.clone());
        go(move || {
            let _g = lock.acquire_blocking();
            got.store(true, Ordering::SeqCst);
        })
    };
    eventually(|| lock.waiting() == 1);
    let second = {
        let lock = lock.clone();
        go(move || {
            let _g = lock.acquire_blocking();
        })
    };
    eventually(|| lock.waiting() == 2);
    cancel(&first);
    eventually(|| lock.waiting() == 1); // withdrawn
    joined_cancelled(first, "lock waiter");
    drop(held);
    second.join().expect("the next waiter got the lock");
    assert!(!first_got_it.load(Ordering::SeqCst));
    assert!(!lock.is_locked());
}

/// The release hands the lock to a waiter that is being cancelled: the
/// wait completes with it (polysync's rule: a hand-off that landed as the
/// wait gave up is taken), the coroutine unwinds at its next may yield,
/// and dropping the guard on the way passes the lock to the next waiter.
#[test]
fn a_lock_handed_to_a_cancelled_waiter_goes_to_the_next_one() {
    setup(WORKERS);
    let _dog = watchdog("a_lock_handed_to_a_cancelled_waiter_goes_to_the_next_one");
    // Strict hand-off: the release must hand the lock to `first` (a default
    // lock only wakes it to compete; its cancelled wait then passes the
    // wake on, as polysync's tests/lock_bounded.rs checks).
    let lock = Arc::new(Lock::new_fair());
    let first_got_it = Arc::new(AtomicBool::new(false));
    let after_yield = Arc::new(AtomicBool::new(false));
    let held = lock.acquire_blocking();
    let first = {
        let (lock, got, after) = (lock.clone(), first_got_it.clone(), after_yield.clone());
        go(move || {
            let _g = lock.acquire_blocking();
            got.store(true, Ordering::SeqCst);
            may::coroutine::yield_now(); // a cancel point: unwinds here
            after.store(true, Ordering::SeqCst);
        })
    };
    eventually(|| lock.waiting() == 1);
    let second = {
        let lock = lock.clone();
        go(move || {
            let _g = lock.acquire_blocking();
        })
    };
    eventually(|| lock.waiting() == 2);
    let frozen = freeze_workers();
    cancel(&first);
    drop(held); // hands the lock to `first`, which cannot run yet
    assert!(lock.is_locked());
    drop(frozen);
    joined_cancelled(first, "lock waiter with a hand-off");
    assert!(first_got_it.load(Ordering::SeqCst), "the hand-off landed");
    assert!(
        !after_yield.load(Ordering::SeqCst),
        "unwound at the next yield"
    );
    second
        .join()
        .expect("the lock passed on to the next waiter");
    assert!(!lock.is_locked());
    assert_eq!(lock.waiting(), 0);
}

/// `acquire_with` and a `MayWaiter` report the cancel instead of unwinding.
#[test]
fn acquire_with_reports_the_cancel() {
    setup(WORKERS);
    let _dog = watchdog("acquire_with_reports_the_cancel");
    let lock = Arc::new(Lock::new());
    let held = lock.acquire_blocking();
    let (tx, rx) = mpsc::channel();
    let co = {
        let lock = lock.clone();
        go(move || {
            let out = lock.acquire_with(&MayWaiter::current(), None).map(drop);
            tx.send(out).unwrap();
            may::coroutine::yield_now(); // still cancelled: unwinds here
        })
    };
    eventually(|| lock.waiting() == 1);
    cancel(&co);
    assert_eq!(rx.recv().unwrap(), Err(WaitError::Cancelled));
    joined_cancelled(co, "acquire_with");
    assert_eq!(lock.waiting(), 0);
    drop(held);
    assert!(!lock.is_locked());
}

/// An item that counts its drops.
#[derive(Debug)]
struct Tracked {
    n: u32,
    drops: Arc<AtomicUsize>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

impl PartialEq for Tracked {
    fn eq(&self, other: &Tracked) -> bool {
        self.n == other.n
    }
}

/// Cancelled puts: `put_with` gives the item back; `put_blocking` withdraws
/// and drops it (once) as the coroutine unwinds; neither leaves anything in
/// the queue.
#[test]
fn cancelled_puts_lose_nothing() {
    setup(WORKERS);
    let _dog = watchdog("cancelled_puts_lose_nothing");
    let drops = Arc::new(AtomicUsize::new(0));
    let item = |n| Tracked {
        n,
        drops: drops.clone(),
    };
    let q = Arc::new(Queue::bounded(1));
    q.try_put(item(0)).unwrap();

    // put_with: the item comes back in the error.
    let (tx, rx) = mpsc::channel();
    let co = {
        let (q, it) = (q.clone(), item(1));
        go(move || {
            let out = q.put_with(it, &MayWaiter::current(), None);
            tx.send(out).unwrap();
            may::coroutine::yield_now();
        })
    };
    eventually(|| q.putting() == 1);
    cancel(&co);
    match rx.recv().unwrap() {
        Err(TryPutError::Cancelled(back)) => assert_eq!(back.n, 1),
        other => panic!("put_with: {other:?}"),
    }
    joined_cancelled(co, "put_with");
    assert_eq!(q.putting(), 0);

    // put_blocking: withdrawn, the item dropped exactly once.
    let before = drops.load(Ordering::SeqCst);
    let co = {
        let (q, it) = (q.clone(), item(2));
        go(move || {
            let _ = q.put_blocking(it);
        })
    };
    eventually(|| q.putting() == 1);
    cancel(&co);
    joined_cancelled(co, "put_blocking");
    assert_eq!(q.putting(), 0);
    assert_eq!(drops.load(Ordering::SeqCst), before + 1, "dropped once");

    // Only the first item is in the queue.
    assert_eq!(q.len(), 1);
    assert_eq!(q.try_get().unwrap().n, 0);
}

/// A put whose item went in (room was made) just as it was cancelled: the
/// put succeeded, the item is in the queue exactly once, and the coroutine
/// unwinds at its next yield.
#[test]
fn a_put_that_landed_as_it_was_cancelled_counts_once() {
    setup(WORKERS);
    let _dog = watchdog("a_put_that_landed_as_it_was_cancelled_counts_once");
    let q = Arc::new(Queue::bounded(1));
    q.try_put(0_u32).unwrap();
    let put_returned = Arc::new(Mutex::new(None));
    let co = {
        let (q, ret) = (q.clone(), put_returned.clone());
        go(move || {
            let out = q.put_blocking(1);
            *ret.lock().unwrap() = Some(out);
            may::coroutine::yield_now();
        })
    };
    eventually(|| q.putting() == 1);
    let frozen = freeze_workers();
    cancel(&co);
    assert_eq!(q.try_get(), Ok(0)); // makes room: the waiting put goes in
    drop(frozen);
    joined_cancelled(co, "put with a hand-off");
    assert_eq!(*put_returned.lock().unwrap(), Some(Ok(())));
    assert_eq!(q.len(), 1);
    assert_eq!(q.try_get(), Ok(1));
    assert_eq!(q.putting(), 0);
}

/// Cancelled gets: one without a hand-off withdraws (a later put stays in
/// the queue, it is not lost to the dead getter); one that an item reached
/// as it was cancelled returns that item (exactly once).
#[test]
fn cancelled_gets_lose_nothing() {
    setup(WORKERS);
    let _dog = watchdog("cancelled_gets_lose_nothing");
    let q = Arc::new(Queue::<u32>::bounded(4));
    let co = {
        let q = q.clone();
        go(move || {
            let _ = q.get_blocking();
            unreachable!("the get was cancelled before any item came");
        })
    };
    eventually(|| q.getting() == 1);
    cancel(&co);
    joined_cancelled(co, "get without a hand-off");
    assert_eq!(q.getting(), 0);
    q.try_put(5).unwrap();
    assert_eq!(q.len(), 1, "the item stays in the queue");
    assert_eq!(q.try_get(), Ok(5));

    let got = Arc::new(Mutex::new(None));
    let co = {
        let (q, got) = (q.clone(), got.clone());
        go(move || {
            let out = q.get_blocking();
            *got.lock().unwrap() = Some(out);
            may::coroutine::yield_now();
        })
    };
    eventually(|| q.getting() == 1);
    let frozen = freeze_workers();
    cancel(&co);
    q.try_put(9).unwrap(); // handed straight to the waiting getter
    drop(frozen);
    joined_cancelled(co, "get with a hand-off");
    assert_eq!(*got.lock().unwrap(), Some(Ok(9)));
    assert!(
        q.is_empty(),
        "the item was taken once, not also left behind"
    );
}
