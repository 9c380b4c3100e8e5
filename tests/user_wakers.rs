//! Wakers are user code: their `clone` may look at the very primitive that
//! is cloning them, and their `wake` may panic. Neither may deadlock a
//! primitive or strand the waiters behind it (issue 8, defects 5 and 6).
//!
//! - A waker whose `clone` takes the primitive's queue lock (through a
//!   public method) used to spin forever, because the clone ran under that
//!   lock. Each test re-polls a queued future with such a waker under a
//!   watchdog.
//! - One panicking waker at the front of a wake batch used to stop the batch
//!   loop: `Event::set()` left later waiters pending forever and
//!   `Semaphore::release(21)` lost 5 permits. Each test puts a panicking
//!   waker in front of 20 counting ones, checks that the panic reaches the
//!   releaser, and that every other waiter was woken and completes.

#[path = "support/worlds.rs"]
mod worlds;

use polysync::queue::Queue;
use polysync::{Barrier, Condition, CountdownEvent, Event, Lock, REvent, Semaphore};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;
use worlds::Watchdog;

const BEHIND: usize = 20;

/// A waker that counts its wakes and, if asked, panics in `wake`.
struct Counting {
    wakes: AtomicUsize,
    panics: bool,
}

impl Wake for Counting {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        if self.panics {
            panic!("a user waker panics in wake");
        }
    }
}

fn counting(panics: bool) -> Arc<Counting> {
    Arc::new(Counting {
        wakes: AtomicUsize::new(0),
        panics,
    })
}

fn poll_with<F: Future + ?Sized>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

/// Queues one future with a panicking waker and `BEHIND` with counting ones
/// (all must be pending), runs `release` (which must re-raise the panic),
/// then checks every counting waiter was woken exactly once and completes.
/// Returns the outputs, the panicking waiter's future last (polled again).
fn panicking_front<F: Future>(
    mut make: impl FnMut() -> F,
    release: impl FnOnce(),
) -> Vec<F::Output> {
    let wakers: Vec<Arc<Counting>> = (0..=BEHIND).map(|i| counting(i == 0)).collect();
    let mut futs: Vec<Pin<Box<F>>> = (0..=BEHIND).map(|_| Box::pin(make())).collect();
    for (fut, w) in futs.iter_mut().zip(&wakers) {
        assert!(
            poll_with(fut.as_mut(), &Waker::from(w.clone())).is_pending(),
            "every waiter must queue"
        );
    }
    let released = catch_unwind(AssertUnwindSafe(release));
    assert!(released.is_err(), "the waker's panic reaches the releaser");
    assert_eq!(wakers[0].wakes.load(Ordering::SeqCst), 1);
    // Every wake must have happened before `release` returned (checked
    // before any poll: a poll may help a primitive finish its work).
    for (i, w) in wakers.iter().enumerate().skip(1) {
        assert_eq!(
            w.wakes.load(Ordering::SeqCst),
            1,
            "waiter {i} was not woken"
        );
    }
    let mut out = Vec::new();
    for (i, fut) in futs.iter_mut().enumerate().skip(1) {
        match poll_with(fut.as_mut(), Waker::noop()) {
            Poll::Ready(v) => out.push(v),
            Poll::Pending => panic!("waiter {i} was woken but is still pending"),
        }
    }
    // The panicking waiter was served too (its waker panicked, not its
    // future): it completes when polled.
    match poll_with(futs[0].as_mut(), Waker::noop()) {
        Poll::Ready(v) => out.push(v),
        Poll::Pending => panic!("the waiter with the panicking waker was not served"),
    }
    out
}

#[test]
fn event_set_wakes_everyone_behind_a_panicking_waker() {
    let _dog = Watchdog::new("event", Duration::from_secs(30));
    let event = Event::new();
    let out = panicking_front(
        || event.wait(),
        || {
            let _ = event.set();
        },
    );
    assert_eq!(out.len(), BEHIND + 1);
    assert!(event.is_set());
}

#[test]
fn semaphore_release_loses_no_permit_to_a_panicking_waker() {
    let _dog = Watchdog::new("semaphore", Duration::from_secs(30));
    let sem = Semaphore::new(0);
    let permits = panicking_front(|| sem.acquire(), || sem.release(BEHIND + 1));
    assert_eq!(permits.len(), BEHIND + 1, "every waiter got a permit");
    assert!(permits.iter().all(Result::is_ok), "never closed");
    assert_eq!(sem.value(), 0);
    drop(permits);
    assert_eq!(sem.value(), BEHIND + 1, "no permit was lost");
}

#[test]
fn revent_and_countdown_wake_everyone_behind_a_panicking_waker() {
    let _dog = Watchdog::new("revent", Duration::from_secs(30));
    let revent = REvent::new();
    assert_eq!(
        panicking_front(
            || revent.wait(),
            || {
                let _ = revent.set();
            }
        )
        .len(),
        BEHIND + 1
    );
    let countdown = CountdownEvent::new(1);
    assert_eq!(
        panicking_front(
            || countdown.wait(),
            || {
                let _ = countdown.down();
            }
        )
        .len(),
        BEHIND + 1
    );
}

#[test]
fn queue_close_and_join_wake_everyone_behind_a_panicking_waker() {
    let _dog = Watchdog::new("queue", Duration::from_secs(30));
    let queue = Queue::<u32>::unbounded();
    let gets = panicking_front(|| queue.get(), || queue.close());
    assert!(
        gets.iter().all(Result::is_err),
        "a closed empty queue fails gets"
    );

    let queue = Queue::<u32>::unbounded();
    queue.try_put(1).unwrap();
    queue.try_get().unwrap();
    panicking_front(
        || queue.join(),
        || {
            let _ = queue.task_done();
        },
    );
    assert_eq!(queue.unfinished_tasks(), 0);
}

#[test]
fn barrier_passes_everyone_behind_a_panicking_waker() {
    let _dog = Watchdog::new("barrier", Duration::from_secs(30));
    let barrier = Barrier::new(BEHIND + 2);
    let arrivals = panicking_front(
        || barrier.wait(),
        || {
            barrier.try_wait().unwrap();
        },
    );
    assert!(arrivals.iter().all(Result::is_ok), "nobody was broken");
}

#[test]
fn condition_notify_reaches_everyone_behind_a_panicking_waker() {
    let _dog = Watchdog::new("condition", Duration::from_secs(30));
    // One condition, a lock per waiter: every notified waiter is handed its
    // free lock and woken, so the wakes fill more than one batch.
    let locks: Vec<Lock> = (0..=BEHIND).map(|_| Lock::new()).collect();
    let cond = Condition::new();
    let mut i = 0;
    let guards = panicking_front(
        || {
            i += 1;
            cond.wait(locks[i - 1].try_acquire().unwrap())
        },
        || {
            cond.notify_all();
        },
    );
    assert_eq!(cond.waiting(), 0);
    assert_eq!(guards.len(), BEHIND + 1);
    assert!(
        locks.iter().all(Lock::is_locked),
        "each waiter holds its lock"
    );
    drop(guards);
    assert!(locks.iter().all(|l| !l.is_locked()));
}

/// A waker whose `clone` runs `hook` (a call into the primitive it waits on).
struct Reentrant<F: Fn() + Send + Sync + 'static>(F);

fn reentrant_waker<F: Fn() + Send + Sync + 'static>(hook: F) -> Waker {
    use std::task::{RawWaker, RawWakerVTable};
    // The vtable entries share `RawWakerVTable`'s contract: `p` comes from
    // `Arc::into_raw` of an `Arc<Reentrant<F>>` whose one strong count this
    // waker owns; `wake` and `drop_waker` give it back, `clone` takes one.
    unsafe fn clone<F: Fn() + Send + Sync + 'static>(p: *const ()) -> RawWaker {
        // SAFETY: `p` comes from `Arc::into_raw` below and the Arc is alive.
        let arc = unsafe {
            Arc::increment_strong_count(p.cast::<Reentrant<F>>());
            Arc::from_raw(p.cast::<Reentrant<F>>())
        };
        (arc.0)();
        RawWaker::new(Arc::into_raw(arc).cast(), vtable::<F>())
    }
    unsafe fn wake<F: Fn() + Send + Sync + 'static>(p: *const ()) {
        // SAFETY: consumes the reference this waker owns.
        drop(unsafe { Arc::from_raw(p.cast::<Reentrant<F>>()) });
    }
    unsafe fn wake_by_ref(_: *const ()) {}
    unsafe fn drop_waker<F: Fn() + Send + Sync + 'static>(p: *const ()) {
        // SAFETY: consumes the reference this waker owns.
        drop(unsafe { Arc::from_raw(p.cast::<Reentrant<F>>()) });
    }
    fn vtable<F: Fn() + Send + Sync + 'static>() -> &'static RawWakerVTable {
        &RawWakerVTable::new(clone::<F>, wake::<F>, wake_by_ref, drop_waker::<F>)
    }
    let raw = RawWaker::new(
        Arc::into_raw(Arc::new(Reentrant(hook))).cast(),
        vtable::<F>(),
    );
    // SAFETY: the vtable functions keep the Arc's count balanced and the
    // hook is Send + Sync.
    unsafe { Waker::from_raw(raw) }
}

#[test]
fn a_waker_clone_may_call_into_the_lock_it_waits_on() {
    let _dog = Watchdog::new("reentrant clone", Duration::from_secs(30));
    // The semaphore: the clone hands a permit to the waiter being polled.
    let sem = Arc::new(Semaphore::new(0));
    let mut acquire = Box::pin(sem.acquire());
    assert!(poll_with(acquire.as_mut(), Waker::noop()).is_pending());
    let hook = {
        let sem = sem.clone();
        reentrant_waker(move || sem.release(1))
    };
    // The re-poll stores the new waker: its clone releases a permit (taking
    // the queue lock), which lands in this very future.
    let permit = match poll_with(acquire.as_mut(), &hook) {
        Poll::Ready(p) => p.unwrap(),
        Poll::Pending => match poll_with(acquire.as_mut(), Waker::noop()) {
            Poll::Ready(p) => p.unwrap(),
            Poll::Pending => panic!("the permit released by the clone was lost"),
        },
    };
    drop(permit);
    drop(acquire);
    assert_eq!(sem.value(), 1);
}

#[test]
fn a_waker_clone_may_call_into_the_queue_it_waits_on() {
    let _dog = Watchdog::new("reentrant clone", Duration::from_secs(30));
    let queue = Arc::new(Queue::<u32>::unbounded());
    let mut get = Box::pin(queue.get());
    assert!(poll_with(get.as_mut(), Waker::noop()).is_pending());
    let seen = Arc::new(AtomicUsize::new(usize::MAX));
    let hook = {
        let (queue, seen) = (queue.clone(), seen.clone());
        // `len()` takes the queue lock.
        reentrant_waker(move || seen.store(queue.len(), Ordering::SeqCst))
    };
    assert!(poll_with(get.as_mut(), &hook).is_pending());
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "the clone ran (outside the lock)"
    );
    queue.try_put(5).unwrap();
    assert_eq!(poll_with(get.as_mut(), Waker::noop()), Poll::Ready(Ok(5)));
}

#[test]
fn a_waker_clone_may_notify_the_condition_it_waits_on() {
    let _dog = Watchdog::new("reentrant clone", Duration::from_secs(30));
    let lock = Arc::new(Lock::new());
    let cond = Arc::new(Condition::new());
    let mut wait = Box::pin(cond.wait(lock.try_acquire().unwrap()));
    assert!(poll_with(wait.as_mut(), Waker::noop()).is_pending());
    let hook = {
        let cond = cond.clone();
        reentrant_waker(move || {
            cond.notify(1);
        })
    };
    // The clone notifies this waiter: it is handed the free lock.
    let guard = match poll_with(wait.as_mut(), &hook) {
        Poll::Ready(g) => g,
        Poll::Pending => match poll_with(wait.as_mut(), Waker::noop()) {
            Poll::Ready(g) => g,
            Poll::Pending => panic!("the notification sent by the clone was lost"),
        },
    };
    assert!(lock.is_locked());
    drop(guard);
    assert!(!lock.is_locked());
}
