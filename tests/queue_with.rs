//! The explicit-waiter entry points of the queues (`put_with`, `get_with`,
//! `join_with`, `SimpleQueue::get_with`): (a) the plain blocking forms and
//! the `_with(ThreadWaiter)` form give the same results on the same
//! scenarios; (b) a waiter that reports cancellation makes each one withdraw
//! cleanly, report `Cancelled`, and lose nothing (an item handed over just
//! before the cancellation is returned).
//!
//! Blocking forms reached through a registered green backend are tested in
//! `queue_cancel_backend.rs` (registration is process-wide).

#[path = "support/worlds.rs"]
mod worlds;

use polysync::SimpleQueue;
use polysync::lowlevel::{ThreadWaiter, WaitError, WaitResult, Waiter};
use polysync::queue::{Queue, TryGetError, TryPutError};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Waker;
use std::thread;
use std::time::{Duration, Instant};
use worlds::{Watchdog, wait_until};

/// The forms under comparison: the plain blocking methods (on this OS
/// thread's waiter) and the `_with` method given a `ThreadWaiter`.
#[derive(Clone, Copy, Debug)]
enum Form {
    /// `*_blocking` without a timeout, `try_*_for` with one.
    Plain,
    /// `try_*_until` (with a timeout); `*_blocking` without.
    Until,
    /// `*_with(ThreadWaiter, deadline)`.
    With,
}

const FORMS: [Form; 3] = [Form::Plain, Form::Until, Form::With];

fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now() + t)
}

/// Every form's error as a `TryPutError`: the untimed `put_blocking`'s
/// closed-only `PutError` converts (to `Closed`).
fn put<T>(
    q: &Queue<T>,
    form: Form,
    item: T,
    timeout: Option<Duration>,
) -> Result<(), TryPutError<T>> {
    match (form, timeout) {
        (Form::Plain | Form::Until, None) => Ok(q.put_blocking(item)?),
        (Form::Plain, Some(t)) => q.try_put_for(item, t),
        (Form::Until, Some(t)) => q.try_put_until(item, Instant::now() + t),
        (Form::With, t) => ThreadWaiter::with_current(|w| q.put_with(item, w, deadline(t))),
    }
}

/// Every form's error as a `TryGetError`: the untimed `get_blocking`'s
/// closed-only `GetError` converts (to `Closed`).
fn get<T>(q: &Queue<T>, form: Form, timeout: Option<Duration>) -> Result<T, TryGetError> {
    match (form, timeout) {
        (Form::Plain | Form::Until, None) => Ok(q.get_blocking()?),
        (Form::Plain, Some(t)) => q.try_get_for(t),
        (Form::Until, Some(t)) => q.try_get_until(Instant::now() + t),
        (Form::With, t) => ThreadWaiter::with_current(|w| q.get_with(w, deadline(t))),
    }
}

/// `true` when every task was done, as the plain forms report it.
fn join<T>(q: &Queue<T>, form: Form, timeout: Option<Duration>) -> bool {
    match (form, timeout) {
        (Form::Plain | Form::Until, None) => {
            q.join_blocking();
            true
        }
        (Form::Plain, Some(t)) => q.try_join_for(t),
        (Form::Until, Some(t)) => q.try_join_until(Instant::now() + t),
        (Form::With, t) => ThreadWaiter::with_current(|w| match q.join_with(w, deadline(t)) {
            Ok(()) => true,
            Err(WaitError::TimedOut) => false,
            Err(WaitError::Cancelled) => panic!("a thread waiter never cancels"),
        }),
    }
}

fn simple_get<T>(q: &SimpleQueue<T>, form: Form, timeout: Option<Duration>) -> Option<T> {
    match (form, timeout) {
        (Form::Plain | Form::Until, None) => Some(q.get_blocking()),
        (Form::Plain, Some(t)) => q.try_get_for(t),
        (Form::Until, Some(t)) => q.try_get_until(Instant::now() + t),
        (Form::With, t) => ThreadWaiter::with_current(|w| match q.get_with(w, deadline(t)) {
            Ok(item) => Some(item),
            Err(WaitError::TimedOut) => None,
            Err(WaitError::Cancelled) => panic!("a thread waiter never cancels"),
        }),
    }
}

const SHORT: Option<Duration> = Some(Duration::from_millis(5));
const LONG: Option<Duration> = Some(Duration::from_secs(20));

/// Runs `scenario` for every form, on a plain and on a spinning queue.
fn for_each_form(mut scenario: impl FnMut(Form, bool)) {
    let _dog = Watchdog::new("queue_with scenario", Duration::from_secs(60));
    for spinning in [false, true] {
        for form in FORMS {
            scenario(form, spinning);
        }
    }
}

#[test]
fn a_timed_out_put_gives_its_item_back_in_every_form() {
    for_each_form(|form, spinning| {
        let q = Queue::bounded(1).spinning(spinning);
        q.try_put(1).unwrap();
        assert_eq!(
            put(&q, form, 2, SHORT),
            Err(TryPutError::Full(2)),
            "{form:?}"
        );
        assert_eq!(
            put(&q, form, 3, Some(Duration::ZERO)),
            Err(TryPutError::Full(3))
        );
        assert_eq!(q.putting(), 0, "{form:?}: withdrawn");
        assert_eq!(q.len(), 1);
        assert_eq!(
            q.unfinished_tasks(),
            1,
            "{form:?}: a refused item is no task"
        );
        assert_eq!(q.try_get(), Ok(1));
    });
}

#[test]
fn a_put_on_a_closed_queue_gives_its_item_back_in_every_form() {
    for_each_form(|form, spinning| {
        let q = Queue::bounded(1).spinning(spinning);
        q.close();
        assert_eq!(
            put(&q, form, 1, None),
            Err(TryPutError::Closed(1)),
            "{form:?}"
        );
        assert_eq!(
            put(&q, form, 2, SHORT),
            Err(TryPutError::Closed(2)),
            "{form:?}"
        );
    });
}

#[test]
fn a_waiting_put_completes_or_fails_alike_in_every_form() {
    for_each_form(|form, spinning| {
        // Room made by a getter on another thread.
        let q = Arc::new(Queue::bounded(1).spinning(spinning));
        q.try_put(1).unwrap();
        let getter = {
            let q = q.clone();
            thread::spawn(move || {
                wait_until("a waiting putter", || q.putting() == 1);
                q.try_get()
            })
        };
        assert_eq!(put(&q, form, 2, LONG), Ok(()), "{form:?}");
        assert_eq!(getter.join().unwrap(), Ok(1));
        assert_eq!(q.try_get(), Ok(2));

        // The queue closed under a waiting putter: the item comes back.
        let closer = {
            let q = q.clone();
            q.try_put(3).unwrap();
            thread::spawn(move || {
                wait_until("a waiting putter", || q.putting() == 1);
                q.close();
            })
        };
        assert_eq!(
            put(&q, form, 4, None),
            Err(TryPutError::Closed(4)),
            "{form:?}"
        );
        closer.join().unwrap();
        assert_eq!(q.try_get(), Ok(3));
    });
}

#[test]
fn a_timed_out_get_reports_empty_in_every_form() {
    for_each_form(|form, spinning| {
        let q = Queue::<u8>::unbounded().spinning(spinning);
        assert_eq!(get(&q, form, SHORT), Err(TryGetError::Empty), "{form:?}");
        assert_eq!(get(&q, form, Some(Duration::ZERO)), Err(TryGetError::Empty));
        assert_eq!(q.getting(), 0, "{form:?}: withdrawn");
    });
}

#[test]
fn a_get_on_a_closed_queue_drains_then_fails_in_every_form() {
    for_each_form(|form, spinning| {
        let q = Queue::unbounded().spinning(spinning);
        q.try_put(1).unwrap();
        q.close();
        assert_eq!(get(&q, form, None), Ok(1), "{form:?}: drains first");
        assert_eq!(get(&q, form, None), Err(TryGetError::Closed), "{form:?}");
        assert_eq!(get(&q, form, SHORT), Err(TryGetError::Closed), "{form:?}");
    });
}

#[test]
fn a_waiting_get_completes_or_fails_alike_in_every_form() {
    for_each_form(|form, spinning| {
        let q = Arc::new(Queue::bounded(1).spinning(spinning));
        let putter = {
            let q = q.clone();
            thread::spawn(move || {
                wait_until("a waiting getter", || q.getting() == 1);
                q.try_put(7)
            })
        };
        assert_eq!(get(&q, form, LONG), Ok(7), "{form:?}");
        assert_eq!(putter.join().unwrap(), Ok(()));

        let closer = {
            let q = q.clone();
            thread::spawn(move || {
                wait_until("a waiting getter", || q.getting() == 1);
                q.close();
            })
        };
        assert_eq!(get(&q, form, None), Err(TryGetError::Closed), "{form:?}");
        closer.join().unwrap();
        assert_eq!(q.getting(), 0);
    });
}

#[test]
fn join_agrees_in_every_form() {
    for_each_form(|form, spinning| {
        let q = Arc::new(Queue::unbounded().spinning(spinning));
        assert!(join(&q, form, None), "{form:?}: nothing unfinished");
        q.try_put(1).unwrap();
        assert!(!join(&q, form, SHORT), "{form:?}: one unfinished");
        assert!(!join(&q, form, Some(Duration::ZERO)));
        assert_eq!(q.joining(), 0, "{form:?}: withdrawn");
        let worker = {
            let q = q.clone();
            thread::spawn(move || {
                wait_until("a joiner", || q.joining() == 1);
                q.try_get().unwrap();
                q.task_done().unwrap();
            })
        };
        assert!(join(&q, form, None), "{form:?}");
        worker.join().unwrap();
        assert_eq!(q.joining(), 0);
    });
}

#[test]
fn simple_queue_gets_agree_in_every_form() {
    for_each_form(|form, _| {
        let q = Arc::new(SimpleQueue::new());
        assert_eq!(simple_get(&q, form, SHORT), None, "{form:?}");
        assert_eq!(q.getting(), 0);
        q.put(1);
        assert_eq!(simple_get(&q, form, None), Some(1), "{form:?}");
        let putter = {
            let q = q.clone();
            thread::spawn(move || {
                wait_until("a waiting getter", || q.getting() == 1);
                q.put(2);
            })
        };
        assert_eq!(simple_get(&q, form, LONG), Some(2), "{form:?}");
        putter.join().unwrap();
    });
}

/// A waiter that reports cancellation at its first `wait` (after running
/// `before`, the place for a notifier that lands just before the
/// cancellation). Its waker is a real one (a thread waiter's), so the queue
/// can store and wake it.
struct Cancelling<F: Fn()> {
    thread: ThreadWaiter,
    before: F,
    waits: AtomicUsize,
}

impl<F: Fn()> Cancelling<F> {
    fn new(before: F) -> Self {
        Cancelling {
            thread: ThreadWaiter::new(),
            before,
            waits: AtomicUsize::new(0),
        }
    }

    fn waits(&self) -> usize {
        self.waits.load(Ordering::Relaxed)
    }
}

impl<F: Fn()> Waiter for Cancelling<F> {
    fn waker(&self) -> Waker {
        self.thread.waker()
    }

    fn wait(&self, _deadline: Option<Instant>) -> WaitResult {
        self.waits.fetch_add(1, Ordering::Relaxed);
        (self.before)();
        WaitResult::Cancelled
    }
}

fn nothing() {}

#[test]
fn a_cancelled_put_gives_its_item_back_and_leaves_the_queue_unchanged() {
    for spinning in [false, true] {
        let q = Queue::bounded(1).spinning(spinning);
        q.try_put(1).unwrap();
        let w = Cancelling::new(nothing);
        assert_eq!(q.put_with(2, &w, None), Err(TryPutError::Cancelled(2)));
        assert_eq!(w.waits(), 1);
        assert_eq!(q.putting(), 0);
        assert_eq!((q.len(), q.unfinished_tasks()), (1, 1));
        // With a deadline too: cancellation, not a time-out.
        let far = Some(Instant::now() + Duration::from_secs(60));
        assert_eq!(q.put_with(3, &w, far), Err(TryPutError::Cancelled(3)));
        assert_eq!(q.try_get(), Ok(1));
        assert_eq!(q.try_get(), Err(TryGetError::Empty));
    }
}

#[test]
fn a_cancelled_get_reports_it_and_leaves_the_queue_unchanged() {
    for spinning in [false, true] {
        let q = Queue::<u8>::bounded(1).spinning(spinning);
        let w = Cancelling::new(nothing);
        assert_eq!(q.get_with(&w, None), Err(TryGetError::Cancelled));
        assert_eq!(w.waits(), 1);
        assert_eq!(q.getting(), 0);
        // The withdrawn getter is gone: a put is stored, not handed to it.
        q.try_put(5).unwrap();
        assert_eq!(q.len(), 1);
    }
}

#[test]
fn a_getter_handed_an_item_as_it_is_cancelled_returns_the_item() {
    let q = Queue::unbounded();
    let w = Cancelling::new(|| {
        // The getter is queued: this put hands the item straight to it.
        assert_eq!(q.getting(), 1);
        q.try_put(7).unwrap();
    });
    assert_eq!(q.get_with(&w, None), Ok(7), "the handed item is not lost");
    assert_eq!(w.waits(), 1);
    assert_eq!((q.getting(), q.len(), q.unfinished_tasks()), (0, 0, 1));
}

#[test]
fn a_putter_served_as_it_is_cancelled_reports_success() {
    let q = Queue::bounded(1);
    q.try_put(1).unwrap();
    let got = std::sync::Mutex::new(None);
    let w = Cancelling::new(|| {
        // The putter is queued: this get moves its item into the queue.
        assert_eq!(q.putting(), 1);
        *got.lock().unwrap() = Some(q.try_get());
    });
    assert_eq!(q.put_with(2, &w, None), Ok(()), "the item went in");
    assert_eq!(got.lock().unwrap().take(), Some(Ok(1)));
    assert_eq!(q.putting(), 0);
    assert_eq!(q.try_get(), Ok(2));
}

#[test]
fn a_queue_closed_as_its_waiters_are_cancelled_reports_closed() {
    let q = Queue::bounded(1);
    q.try_put(1).unwrap();
    let w = Cancelling::new(|| q.close());
    assert_eq!(q.put_with(2, &w, None), Err(TryPutError::Closed(2)));
    assert_eq!(q.try_get(), Ok(1));
    let q = Queue::<u8>::unbounded();
    let w = Cancelling::new(|| q.close());
    assert_eq!(q.get_with(&w, None), Err(TryGetError::Closed));
}

#[test]
fn a_cancelled_join_reports_it_unless_the_work_finished_first() {
    let q = Queue::unbounded();
    q.try_put(1).unwrap();
    let w = Cancelling::new(nothing);
    assert_eq!(q.join_with(&w, None), Err(WaitError::Cancelled));
    assert_eq!(w.waits(), 1);
    assert_eq!(q.joining(), 0);
    let w = Cancelling::new(|| {
        q.try_get().unwrap();
        q.task_done().unwrap();
    });
    assert_eq!(q.join_with(&w, None), Ok(()));
    assert_eq!(q.joining(), 0);
}

#[test]
fn a_cancelled_simple_get_reports_it_and_loses_nothing() {
    let q = SimpleQueue::<u8>::new();
    let w = Cancelling::new(nothing);
    assert_eq!(q.get_with(&w, None), Err(WaitError::Cancelled));
    assert_eq!(q.getting(), 0);
    let w = Cancelling::new(|| q.put(9));
    assert_eq!(q.get_with(&w, None), Ok(9));
    assert!(q.is_empty());
}

#[test]
fn the_with_forms_take_unsized_waiters() {
    let q = Queue::bounded(1);
    ThreadWaiter::with_current(|w| {
        let w: &dyn Waiter = w;
        q.put_with(1, w, None).unwrap();
        assert_eq!(q.get_with(w, None), Ok(1));
        q.task_done().unwrap();
        assert_eq!(q.join_with(w, None), Ok(()));
    });
}

/// A waiter that may spin, and that lets `spins` and `wait` each run a
/// step of the test (`on_spins`, `on_wait`) and counts its waits: the
/// test's other side acts at a moment the queue's code chooses, not at a
/// moment a sleep guesses.
struct HookWaiter<A: Fn(), B: Fn()> {
    on_spins: A,
    on_wait: B,
    waits: AtomicUsize,
}

impl<A: Fn(), B: Fn()> Waiter for HookWaiter<A, B> {
    fn waker(&self) -> Waker {
        Waker::noop().clone()
    }
    fn wait(&self, deadline: Option<Instant>) -> WaitResult {
        self.waits.fetch_add(1, Ordering::SeqCst);
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return WaitResult::TimedOut;
        }
        (self.on_wait)();
        WaitResult::Woken
    }
    fn spins(&self) -> bool {
        (self.on_spins)();
        true
    }
}

/// Issue 18 item 2, second pass: a bounded FIFO `Queue` (its lock-free
/// ring) spins before it waits by default, for a waiter that may spin. The
/// waiter's `spins` (asked just before the spin) makes the other side
/// ready: a get finds the item, a put finds the room, during the spin, and
/// the waiter never waits. The same on `spinning(false)`: asked nothing,
/// it waits (and its `wait` then makes the other side ready, so nothing
/// hangs).
#[test]
fn a_ring_queue_spins_before_it_waits_by_default() {
    let _watchdog = Watchdog::new("ring spin by default", Duration::from_secs(20));
    for spin in [None, Some(false)] {
        let make = || {
            let q = Queue::bounded(2);
            match spin {
                None => q,
                Some(on) => q.spinning(on),
            }
        };
        // A get on an empty queue; the item comes from the waiter's hook.
        let q = make();
        let put = || {
            let _ = q.try_put(7u32);
        };
        let waiter = HookWaiter {
            on_spins: put,
            on_wait: put,
            waits: AtomicUsize::new(0),
        };
        assert_eq!(q.get_with(&waiter, None), Ok(7));
        let waits = waiter.waits.load(Ordering::SeqCst);
        // A put on a full queue; the room comes from the waiter's hook.
        let q = make();
        q.try_put(1u32).unwrap();
        q.try_put(2).unwrap();
        let got = std::sync::Mutex::new(Vec::new());
        let get = || {
            if let Ok(item) = q.try_get() {
                got.lock().unwrap().push(item);
            }
        };
        let waiter = HookWaiter {
            on_spins: get,
            on_wait: get,
            waits: AtomicUsize::new(0),
        };
        assert_eq!(q.put_with(3, &waiter, None), Ok(()));
        assert_eq!(*got.lock().unwrap(), [1]);
        assert_eq!((q.try_get(), q.try_get()), (Ok(2), Ok(3)));
        let put_waits = waiter.waits.load(Ordering::SeqCst);
        if spin.is_none() {
            assert_eq!(
                (waits, put_waits),
                (0, 0),
                "a ring queue waited without spinning"
            );
        } else {
            assert!(waits > 0 && put_waits > 0, "spinning(false) still spun");
        }
    }
}
