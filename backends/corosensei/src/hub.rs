//! The hub: a per-thread scheduler of green threads (corosensei coroutines),
//! with a ready queue, a timer heap, a stack pool and the thread-locals that
//! tell green code which green thread it is.
//!
//! # How a switch goes
//!
//! The hub pops `(slot, id)` pairs from its ready queues, takes the task out
//! of its slab, clears the task's `scheduled` flag, points the thread-local
//! `CURRENT` at the task's context and resumes the coroutine; when the
//! coroutine suspends (a wait, a yield) or ends, `CURRENT` is cleared and
//! the task goes back into the slab (or is retired). A green thread only
//! runs again when something **schedules** it: a `Waker` (its
//! [`TaskWaker`]), a timer, or its own `yield_now`. Scheduling only
//! enqueues, whatever thread it comes from; it never resumes anything.
//!
//! # Thread-locals
//!
//! `HUB` (this thread's hub) and `CURRENT` (the green thread being resumed)
//! are plain pointers in `Cell`s, read through `#[inline(never)]` accessors
//! and never borrowed across a suspension: a green thread re-reads them
//! after every switch (see backends.md §5.7 on TLS across stack switches).

use crate::join::{self, Completer, Fail, JoinError, JoinHandle};
use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};
use polysync::lowlevel::UnitId;
use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Wake;
use std::thread::Thread;
use std::time::Instant;

/// The coroutine type of a green thread: resumed with `()`, suspends with
/// `()`, returns `()` (its value goes to its [`Completer`]).
type Green = Coroutine<(), (), (), DefaultStack>;

/// A green thread's entry in the ready queues: its slot in the slab and its
/// hub-unique id (a stale entry, whose task has ended, is recognised by the
/// id and skipped).
type Ready = (u32, u64);

thread_local! {
    /// This thread's hub while one exists (a pointer into its `Rc<Core>`).
    static HUB: Cell<*const Core> = const { Cell::new(ptr::null()) };
    /// The green thread the hub is resuming right now (a pointer into the
    /// task's `Rc<TaskCtx>`), null between resumes.
    static CURRENT: Cell<*const TaskCtx> = const { Cell::new(ptr::null()) };
}

/// This thread's hub, or null. Never inlined: a green thread can be resumed
/// at a point where a cached thread-local address would be stale in code
/// built for another model; reading through a call keeps each read fresh.
#[inline(never)]
fn hub_ptr() -> *const Core {
    HUB.try_with(Cell::get).unwrap_or(ptr::null())
}

/// The green thread being resumed on this thread, or null. Never inlined
/// (see [`hub_ptr`]).
#[inline(never)]
fn current_ptr() -> *const TaskCtx {
    CURRENT.try_with(Cell::get).unwrap_or(ptr::null())
}

#[inline(never)]
fn set_current(ctx: *const TaskCtx) -> *const TaskCtx {
    CURRENT.try_with(|c| c.replace(ctx)).unwrap_or(ptr::null())
}

/// Runs `f` with the context of the green thread that is running on this
/// thread, or returns `None` outside green threads.
///
/// `f` may suspend the green thread (a wait runs inside it).
pub(crate) fn with_current<R>(f: impl FnOnce(&TaskCtx) -> R) -> Option<R> {
    let ctx = current_ptr();
    if ctx.is_null() {
        return None;
    }
    // SAFETY: `CURRENT` is non-null only while the hub resumes (or unwinds)
    // the task that owns this context (`Task::ctx`, an `Rc` the hub keeps
    // until the task is retired, which happens only after its coroutine has
    // returned or been unwound). We are running on that coroutine, inside
    // its call of `f`; the coroutine cannot complete or be unwound while
    // `f`'s frame is live on its stack without unwinding through `f` first,
    // so the context outlives `f` even if `f` suspends. Only `&` access is
    // made; every mutable field is a `Cell`.
    Some(f(unsafe { &*ctx }))
}

/// Whether a blocking wait made here for a green thread of the hub `hub`
/// (a [`Core::id`]) could never end, because that hub cannot run it while
/// the caller waits: the caller is on that hub's OS thread and either runs
/// no green thread (the hub is idle: nothing drives it) or runs one whose
/// waits park the OS thread (it unwinds: see [`TaskCtx::wait`]).
pub(crate) fn hub_cannot_run(hub: u64) -> bool {
    with_hub(|core| core.id == hub && with_current(|ctx| ctx.parks_carrier()).unwrap_or(true))
        .unwrap_or(false)
}

/// Runs `f` with this thread's hub, or returns `None` when it has none.
pub(crate) fn with_hub<R>(f: impl FnOnce(&Core) -> R) -> Option<R> {
    let core = hub_ptr();
    if core.is_null() {
        return None;
    }
    // SAFETY: `HUB` holds a pointer to a `Core` owned by an `Rc` of a live
    // `Hub` on this thread: it is set in `Hub::with_config` and cleared in
    // `Core::drop` before any field of the core is dropped. `Core` is only
    // ever used through `&` (interior mutability), and `f` runs on this
    // thread, where the `Hub` cannot be dropped during `f`: a `Hub` is
    // `!Send`, and while a green thread (or the hub's loop) runs, the hub is
    // borrowed by `Hub::run` / `run_to_completion` and cannot be dropped.
    // Outside those, `f` (one of this module's short functions) drops no hub.
    Some(f(unsafe { &*core }))
}

/// What crosses threads: the queue that remote wakes push to and the hub's
/// thread to unpark.
pub(crate) struct Shared {
    remote: Mutex<VecDeque<Ready>>,
    /// Set after a push to `remote`, taken by the hub before it drains
    /// `remote`: spares the hub a lock per round when nothing came in.
    remote_pending: AtomicBool,
    thread: Thread,
}

/// A green thread's `Waker`. Waking it **only enqueues** the green thread on
/// its hub (the local queue on the hub's own thread, the remote queue plus
/// an unpark of the hub's thread elsewhere); it never resumes the green
/// thread on the waking thread. Duplicate wakes are dropped by `scheduled`,
/// which the hub clears right before it resumes the green thread.
pub(crate) struct TaskWaker {
    slot: u32,
    id: u64,
    /// Set by a wake, cleared by the hub before each resume: while set, the
    /// task is in a ready queue (or about to be resumed anyway).
    pub(crate) scheduled: AtomicBool,
    shared: Arc<Shared>,
}

impl TaskWaker {
    /// Enqueues the green thread unless it is queued already.
    fn schedule(&self) {
        // AcqRel: a later `swap(false, Acquire)` by the hub (or by the
        // teardown fallback wait) that reads this `true` synchronises with
        // it, so the resumed green thread sees what the waker published
        // before waking.
        if self.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let entry = (self.slot, self.id);
        let queued_locally = with_hub(|core| {
            if Arc::ptr_eq(&core.shared, &self.shared) {
                core.local.borrow_mut().push_back(entry);
                true
            } else {
                false
            }
        });
        if queued_locally == Some(true) {
            return;
        }
        self.shared
            .remote
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(entry);
        // After the push: the hub either sees the flag (then the entry)
        // when it checks, or parks after this unpark and returns at once
        // (the thread's park token).
        self.shared.remote_pending.store(true, Ordering::Release);
        self.shared.thread.unpark();
    }
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.schedule();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.schedule();
    }
}

/// What green code needs to know about itself: how to suspend, how to be
/// woken, who it is.
pub(crate) struct TaskCtx {
    /// The coroutine's yielder, set when it starts; valid (at a fixed place
    /// on the coroutine's stack) until the coroutine completes.
    yielder: Cell<*const Yielder<(), ()>>,
    pub(crate) waker: Arc<TaskWaker>,
    pub(crate) unit: UnitId,
    /// Bumped when a timed wait arms a timer and again when it returns, so a
    /// timer of an older wait is recognised as stale.
    timer_seq: Cell<u64>,
    /// Set while the hub's teardown unwinds this green thread: waits then
    /// block the OS thread instead of suspending (see [`TaskCtx::wait`]).
    unwinding: Cell<bool>,
    /// Whether the OS thread was panicking already when the hub started
    /// driving (a hub run from a destructor during an unwind): then
    /// `std::thread::panicking()` says nothing about this green thread.
    carrier_panicking: Cell<bool>,
    /// How many switches of this green thread could consume its wake
    /// token (every suspension: a wait, a yield; and every wait made while
    /// it unwinds, which takes `scheduled`): polysync's blocking driver
    /// polls again after a poll that moved it ([`Waiter::waits`](polysync::lowlevel::Waiter::waits)).
    pub(crate) waits: Cell<u64>,
}

impl TaskCtx {
    /// Whether this green thread is unwinding (a panic of its own, or the
    /// hub's teardown), so that its waits must not suspend it: they park
    /// the OS thread instead (see [`TaskCtx::wait`]).
    pub(crate) fn parks_carrier(&self) -> bool {
        self.unwinding.get() || (std::thread::panicking() && !self.carrier_panicking.get())
    }

    /// Suspends the green thread until the hub resumes it.
    fn suspend(&self) {
        // Resuming consumes the wake token (the hub clears `scheduled`).
        self.waits.set(self.waits.get().wrapping_add(1));
        let yielder = self.yielder.get();
        debug_assert!(
            !yielder.is_null(),
            "a green thread suspends before it started"
        );
        debug_assert!(
            ptr::eq(current_ptr(), self),
            "suspending another green thread"
        );
        // While it is switched out, no task identity it was polling may
        // stay on the thread for the next green thread (`switching_out`).
        // SAFETY: `yielder` was set by this coroutine's body from the
        // `&Yielder` corosensei passed it; that yielder stays at a fixed
        // place on the coroutine's stack until the coroutine completes.
        // `self` is `CURRENT` (callers reach it through `with_current`), so
        // we run on that very coroutine, on the thread that resumed it: the
        // one place where `suspend` may be called (`Yielder` is `!Sync` and
        // belongs to its coroutine).
        polysync::lowlevel::switching_out(|| unsafe { (*yielder).suspend(()) })
    }

    /// The green wait: arms a timer on the hub's heap for `deadline`,
    /// suspends, and tells a timeout from a wake by the clock. A wake that
    /// arrived before the call is not lost (the task is in a ready queue,
    /// so the suspension returns at once).
    ///
    /// **Nothing suspends a green thread while it unwinds.** A wait made
    /// while this green thread unwinds (a destructor run by a panic of its
    /// own, or by the hub's teardown) parks the OS thread instead
    /// ([`TaskCtx::wait_unwinding`]): suspending would run the siblings with
    /// `std::thread::panicking()` true (the panic count belongs to the OS
    /// thread), and a teardown that came while it was switched out would
    /// unwind it out of that destructor (an abort).
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> polysync::lowlevel::WaitResult {
        use polysync::lowlevel::WaitResult;
        if self.parks_carrier() {
            return self.wait_unwinding(deadline);
        }
        if let Some(deadline) = deadline {
            if Instant::now() >= deadline {
                return WaitResult::TimedOut;
            }
            let seq = self.timer_seq.get().wrapping_add(1);
            self.timer_seq.set(seq);
            with_hub(|core| core.add_timer(deadline, seq, self.waker.slot, self.waker.id))
                .expect("polysync-corosensei: a green thread outside its hub");
        }
        self.suspend();
        match deadline {
            Some(deadline) => {
                // Disarm: the timer, if still queued, is stale now.
                self.timer_seq.set(self.timer_seq.get().wrapping_add(1));
                if Instant::now() >= deadline {
                    WaitResult::TimedOut
                } else {
                    WaitResult::Woken
                }
            }
            None => WaitResult::Woken,
        }
    }

    /// A wait made by a destructor while this green thread unwinds (its own
    /// panic, or the hub's teardown): it blocks the hub's OS thread until
    /// the task's waker fires (a remote wake unparks this thread) or the
    /// deadline passes. No other green thread of the hub runs meanwhile, so
    /// such a wait must not wait for one of them.
    fn wait_unwinding(&self, deadline: Option<Instant>) -> polysync::lowlevel::WaitResult {
        use polysync::lowlevel::WaitResult;
        // It may consume the wake token (`scheduled`).
        self.waits.set(self.waits.get().wrapping_add(1));
        loop {
            if self.waker.scheduled.swap(false, Ordering::Acquire) {
                return WaitResult::Woken;
            }
            match deadline {
                None => std::thread::park(),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return WaitResult::TimedOut;
                    }
                    std::thread::park_timeout(deadline - now);
                }
            }
        }
    }

    /// Requeues the green thread behind the others that are ready, and
    /// suspends.
    pub(crate) fn yield_now(&self) {
        if self.parks_carrier() {
            return;
        }
        self.waker.schedule();
        self.suspend();
    }
}

/// A green thread owned by its hub.
struct Task {
    id: u64,
    co: Green,
    ctx: Rc<TaskCtx>,
    /// Records a panic or a teardown in the green thread's `JoinHandle`.
    fail: Box<dyn Fail>,
}

/// The hub's green threads, by slot; a slot is `None` while free or while
/// its task is being resumed (taken out, so that green code may spawn).
#[derive(Default)]
struct Slab {
    entries: Vec<Option<Task>>,
    free: Vec<u32>,
    /// Spawned and not yet retired (including the one being resumed).
    live: usize,
}

impl Slab {
    fn reserve(&mut self) -> u32 {
        match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.entries.push(None);
                u32::try_from(self.entries.len() - 1)
                    .expect("polysync-corosensei: more than 2^32 green threads on one hub")
            }
        }
    }

    /// Takes the task in `slot` if it is the one with `id`.
    fn take(&mut self, slot: u32, id: u64) -> Option<Task> {
        let entry = self.entries.get_mut(slot as usize)?;
        if entry.as_ref().is_some_and(|t| t.id == id) {
            entry.take()
        } else {
            None
        }
    }

    fn put(&mut self, slot: u32, task: Task) {
        self.entries[slot as usize] = Some(task);
    }

    fn get(&self, slot: u32, id: u64) -> Option<&Task> {
        self.entries
            .get(slot as usize)?
            .as_ref()
            .filter(|t| t.id == id)
    }

    /// Takes any task (for the teardown), looking from `*cursor` on and
    /// wrapping around once, so that a teardown takes linear time.
    fn take_any(&mut self, cursor: &mut usize) -> Option<(u32, Task)> {
        let n = self.entries.len();
        for step in 0..n {
            let slot = (*cursor + step) % n;
            if let Some(task) = self.entries[slot].take() {
                *cursor = slot;
                return Some((slot as u32, task));
            }
        }
        None
    }
}

/// A timer of a timed green wait; ordered by deadline (then by arming
/// order) in a min-heap.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Timer {
    deadline: Instant,
    seq: u64,
    slot: u32,
    id: u64,
}

/// The hub's settings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Config {
    pub(crate) stack_size: usize,
    pub(crate) stack_pool: usize,
}

/// The hub proper, shared by the `Hub` handle and the thread-local `HUB`.
/// Every field is used through `&` (interior mutability); no `RefCell`
/// borrow is ever held while green code runs.
pub(crate) struct Core {
    /// Unique among the hubs of the process (never reused), so that a
    /// [`JoinHandle`] can tell its own hub.
    pub(crate) id: u64,
    /// Whether the OS thread was panicking when `drive` started (see
    /// `TaskCtx::carrier_panicking`).
    carrier_panicking: Cell<bool>,
    shared: Arc<Shared>,
    /// Wakes made on the hub's own thread (no lock, no unpark).
    local: RefCell<VecDeque<Ready>>,
    /// The batch being run, kept between rounds for its allocation.
    spare: Cell<VecDeque<Ready>>,
    tasks: RefCell<Slab>,
    timers: RefCell<BinaryHeap<Reverse<Timer>>>,
    stacks: RefCell<Vec<DefaultStack>>,
    config: Config,
    /// The heap size at which `add_timer` drops stale timers.
    compact_timers_at: Cell<usize>,
    next_id: Cell<u64>,
    /// The hub's loop runs (guards against nesting).
    running: Cell<bool>,
}

impl Drop for Core {
    fn drop(&mut self) {
        // First thing: nothing may reach this core through `HUB` any more.
        let me: *const Core = self;
        let _ = HUB.try_with(|h| {
            if ptr::eq(h.get(), me) {
                h.set(ptr::null());
            }
        });
    }
}

/// Resets `Core::running` when the loop ends (also by unwinding).
struct Running<'a>(&'a Core);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.set(false);
    }
}

impl Core {
    /// Makes this thread's hub. Panics if the thread has one already.
    pub(crate) fn install(config: Config) -> Rc<Core> {
        assert!(
            hub_ptr().is_null(),
            "polysync-corosensei: this OS thread already has a hub (one hub per thread; \
             spawn on it instead)"
        );
        crate::waiter::register();
        static NEXT_HUB: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let core = Rc::new(Core {
            id: NEXT_HUB.fetch_add(1, Ordering::Relaxed),
            carrier_panicking: Cell::new(false),
            shared: Arc::new(Shared {
                remote: Mutex::new(VecDeque::new()),
                remote_pending: AtomicBool::new(false),
                thread: std::thread::current(),
            }),
            local: RefCell::new(VecDeque::new()),
            spare: Cell::new(VecDeque::new()),
            tasks: RefCell::new(Slab::default()),
            timers: RefCell::new(BinaryHeap::new()),
            stacks: RefCell::new(Vec::new()),
            config,
            compact_timers_at: Cell::new(64),
            next_id: Cell::new(1),
            running: Cell::new(false),
        });
        HUB.with(|h| h.set(Rc::as_ptr(&core)));
        core
    }

    /// The number of green threads that have not ended.
    pub(crate) fn live(&self) -> usize {
        self.tasks.borrow().live
    }

    /// Spawns `f` as a green thread, ready to run.
    pub(crate) fn spawn<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let slot = self.tasks.borrow_mut().reserve();
        let (handle, completer) = join::pair::<T>(self.id);
        let waker = Arc::new(TaskWaker {
            slot,
            id,
            // Queued below.
            scheduled: AtomicBool::new(true),
            shared: self.shared.clone(),
        });
        let ctx = Rc::new(TaskCtx {
            yielder: Cell::new(ptr::null()),
            waker,
            unit: UnitId::allocate(),
            timer_seq: Cell::new(0),
            unwinding: Cell::new(false),
            carrier_panicking: Cell::new(self.carrier_panicking.get()),
            waits: Cell::new(0),
        });
        let stack = match self.stacks.borrow_mut().pop() {
            Some(stack) => stack,
            None => DefaultStack::new(self.config.stack_size).unwrap_or_else(|e| {
                panic!(
                    "polysync-corosensei: could not map a {} byte green-thread stack: {e}",
                    self.config.stack_size
                )
            }),
        };
        let done: Completer<T> = completer.clone();
        let co = Green::with_stack(stack, move |yielder: &Yielder<(), ()>, ()| {
            // The hub resumes us with our context as `CURRENT`.
            with_current(|ctx| ctx.yielder.set(yielder as *const _))
                .expect("polysync-corosensei: a green thread started outside its hub");
            let out = f();
            done.finish(Ok(out));
        });
        let mut tasks = self.tasks.borrow_mut();
        tasks.put(
            slot,
            Task {
                id,
                co,
                ctx,
                fail: Box::new(completer),
            },
        );
        tasks.live += 1;
        drop(tasks);
        self.local.borrow_mut().push_back((slot, id));
        handle
    }

    fn add_timer(&self, deadline: Instant, seq: u64, slot: u32, id: u64) {
        let mut timers = self.timers.borrow_mut();
        if timers.len() >= self.compact_timers_at.get() {
            // Timers of waits that returned early stay in the heap until
            // they reach its top; drop them all now and then, so that many
            // timed waits that succeed early cannot grow the heap without
            // bound. (The caller's own older timers are stale too: a green
            // thread has one timed wait at a time. It is not in the slab
            // while it runs, so they go as well.)
            let tasks = self.tasks.borrow();
            timers.retain(|Reverse(t)| {
                tasks
                    .get(t.slot, t.id)
                    .is_some_and(|task| task.ctx.timer_seq.get() == t.seq)
            });
            self.compact_timers_at.set((2 * timers.len()).max(64));
        }
        timers.push(Reverse(Timer {
            deadline,
            seq,
            slot,
            id,
        }));
    }

    /// Schedules the green threads whose timers expired by now; returns
    /// the next live deadline, if any. Reads the clock only if a timer is
    /// armed.
    fn fire_timers(&self) -> Option<Instant> {
        let mut timers = self.timers.borrow_mut();
        if timers.is_empty() {
            return None;
        }
        let now = Instant::now();
        let tasks = self.tasks.borrow();
        while let Some(Reverse(top)) = timers.peek() {
            let current = tasks
                .get(top.slot, top.id)
                .is_some_and(|t| t.ctx.timer_seq.get() == top.seq);
            if !current {
                timers.pop(); // stale: the wait it served has returned
                continue;
            }
            if top.deadline > now {
                return Some(top.deadline);
            }
            let Some(Reverse(timer)) = timers.pop() else {
                break;
            };
            if let Some(task) = tasks.get(timer.slot, timer.id) {
                let waker = &task.ctx.waker;
                if !waker.scheduled.swap(true, Ordering::AcqRel) {
                    self.local.borrow_mut().push_back((timer.slot, timer.id));
                }
            }
        }
        None
    }

    /// Runs green threads until `done()` holds (checked between rounds) or
    /// no green thread is left. Parks the OS thread when nothing is ready,
    /// until the next timer or a remote wake.
    pub(crate) fn drive(&self, done: &dyn Fn() -> bool) {
        assert!(
            !self.running.get() && current_ptr().is_null(),
            "polysync-corosensei: the hub is already running on this thread (a green thread \
             cannot run its own hub)"
        );
        self.running.set(true);
        let _running = Running(self);
        self.carrier_panicking.set(std::thread::panicking());
        loop {
            if done() {
                return;
            }
            let next_deadline = self.fire_timers();
            let mut batch = self.spare.take();
            std::mem::swap(&mut batch, &mut *self.local.borrow_mut());
            // Acquire: pairs with the pusher's release store after its push.
            if self.shared.remote_pending.swap(false, Ordering::Acquire) {
                batch.extend(
                    self.shared
                        .remote
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .drain(..),
                );
            }
            if batch.is_empty() {
                self.spare.set(batch);
                if self.live() == 0 {
                    return;
                }
                match next_deadline {
                    Some(deadline) => {
                        let now = Instant::now();
                        if deadline > now {
                            std::thread::park_timeout(deadline - now);
                        }
                    }
                    None => std::thread::park(),
                }
                continue;
            }
            for (slot, id) in batch.drain(..) {
                self.resume(slot, id);
            }
            self.spare.set(batch);
        }
    }

    /// Resumes the green thread `(slot, id)` until it suspends or ends;
    /// skips a stale entry.
    fn resume(&self, slot: u32, id: u64) {
        let Some(mut task) = self.tasks.borrow_mut().take(slot, id) else {
            return;
        };
        // Before the resume: a wake that lands while the task runs queues it
        // again. Acquire: see what a waker published before it set the flag.
        task.ctx.waker.scheduled.swap(false, Ordering::Acquire);
        task.ctx.carrier_panicking.set(self.carrier_panicking.get());
        let prev = set_current(Rc::as_ptr(&task.ctx));
        // corosensei catches a panic at the coroutine's root and re-raises it
        // from `resume`; catch it here so that the hub carries on. (A forced
        // unwind never comes out of `resume`.)
        let out = catch_unwind(AssertUnwindSafe(|| task.co.resume(())));
        set_current(prev);
        match out {
            Ok(CoroutineResult::Yield(())) => self.tasks.borrow_mut().put(slot, task),
            Ok(CoroutineResult::Return(())) => self.retire(slot, task, None),
            Err(payload) => self.retire(slot, task, Some(JoinError::Panicked(payload))),
        }
    }

    /// Frees the slot of an ended green thread, reports `error` to its
    /// handle, and keeps its stack for reuse.
    fn retire(&self, slot: u32, task: Task, error: Option<JoinError>) {
        {
            let mut tasks = self.tasks.borrow_mut();
            tasks.live -= 1;
            tasks.free.push(slot);
        }
        let Task { co, fail, .. } = task;
        if let Some(error) = error {
            fail.fail(error);
        }
        drop(fail);
        if co.done() && self.stacks.borrow().len() < self.config.stack_pool {
            let stack = co.into_stack();
            self.stacks.borrow_mut().push(stack);
        }
    }

    /// The teardown: unwinds every green thread that has not ended, so that
    /// the destructors on its stack run (polysync waits withdraw and pass on
    /// what was handed to them, guards release), and reports
    /// [`JoinError::Cancelled`] to its handle. Green threads spawned by those
    /// destructors are unwound too (they never start).
    pub(crate) fn shutdown(&self) {
        let mut cursor = 0;
        loop {
            let next = self.tasks.borrow_mut().take_any(&mut cursor);
            let Some((slot, mut task)) = next else {
                break;
            };
            task.ctx.unwinding.set(true);
            let prev = set_current(Rc::as_ptr(&task.ctx));
            // `force_unwind` resumes the coroutine with corosensei's private
            // unwind payload and catches it at the root. It can only panic if
            // the green code replaced that unwind with a panic of its own.
            let out = catch_unwind(AssertUnwindSafe(|| task.co.force_unwind()));
            set_current(prev);
            let error = match out {
                Ok(()) => JoinError::Cancelled,
                Err(payload) => JoinError::Panicked(payload),
            };
            self.retire(slot, task, Some(error));
        }
        self.local.borrow_mut().clear();
        self.timers.borrow_mut().clear();
        self.shared
            .remote
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::with_hub;
    use crate::{GreenWaiter, run, sleep, spawn};
    use polysync::lowlevel::{WaitResult, Waiter};
    use std::time::{Duration, Instant};

    fn heap_len() -> usize {
        with_hub(|core| core.timers.borrow().len()).unwrap()
    }

    /// Timed waits that end early leave stale timers behind a live one with
    /// an earlier deadline; the heap drops them now and then instead of
    /// growing with every wait.
    #[test]
    fn stale_timers_do_not_pile_up() {
        run(|| {
            let sleeper = spawn(|| sleep(Duration::from_millis(50)));
            crate::yield_now(); // the sleeper's live timer is armed
            let far = Instant::now() + Duration::from_secs(3600);
            let mut largest = 0;
            for _ in 0..10_000 {
                let woke = GreenWaiter::with_current(|w| {
                    w.waker().wake_by_ref(); // resumed at once: the timer is stale
                    w.wait(Some(far))
                });
                assert_eq!(woke, Some(WaitResult::Woken));
                largest = largest.max(heap_len());
            }
            assert!(largest <= 200, "the timer heap grew to {largest}");
            sleeper.join().unwrap();
        });
    }
}
