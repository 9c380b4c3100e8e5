//! Toy worlds for the registry's rule "the innermost unit wins" (issue 17,
//! items 3 and 4), shared by `innermost_policy_first.rs` and
//! `innermost_green_first.rs`, which register the same backends in the two
//! orders (registration is process-wide: one order per binary).
//!
//! - a green backend ([`BackendKind::Green`]) whose unit runs while a
//!   thread-local is set, with a waiter that counts its waits;
//! - a thread policy ([`BackendKind::ThreadPolicy`]) that claims every
//!   thread with a toy "runtime context" set, like polysync-tokio's
//!   blocking policy, with a counting waiter too;
//! - a task provider that reports a thread-local toy task.
#![allow(dead_code)]

use polysync::Semaphore;
use polysync::lowlevel::{
    BackendKind, GreenBackend, TaskIdentity, ThreadWaiter, UnitId, WaitResult, Waiter,
    current_task, current_unit, register_backend, register_task_identity, scheduling,
};
use std::cell::Cell;
use std::task::Waker;
use std::time::Instant;

thread_local! {
    static GREEN_UNIT: Cell<Option<UnitId>> = const { Cell::new(None) };
    static CONTEXT: Cell<bool> = const { Cell::new(false) };
    static TASK: Cell<Option<UnitId>> = const { Cell::new(None) };
    static GREEN_WAITS: Cell<usize> = const { Cell::new(0) };
    static POLICY_WAITS: Cell<usize> = const { Cell::new(0) };
}

struct Counting(&'static std::thread::LocalKey<Cell<usize>>);

impl Waiter for Counting {
    fn waker(&self) -> Waker {
        ThreadWaiter::with_current(|w| w.waker())
    }
    fn wait(&self, deadline: Option<Instant>) -> WaitResult {
        self.0.with(|n| n.set(n.get() + 1));
        ThreadWaiter::with_current(|w| w.wait(deadline))
    }
}

struct Green;
// SAFETY: each toy unit's identity comes from `UnitId::allocate` once (in
// `in_green`) and is reported only while that unit runs.
unsafe impl GreenBackend for Green {
    fn name(&self) -> &'static str {
        "toy-green"
    }
    fn with_waiter(&self, f: &mut dyn FnMut(&dyn Waiter)) -> bool {
        if GREEN_UNIT.get().is_none() {
            return false;
        }
        f(&Counting(&GREEN_WAITS));
        true
    }
    fn current_unit(&self) -> Option<UnitId> {
        GREEN_UNIT.get()
    }
}

struct Policy;
// SAFETY: `current_unit` never reports an identity.
unsafe impl GreenBackend for Policy {
    fn name(&self) -> &'static str {
        "toy-policy"
    }
    fn with_waiter(&self, f: &mut dyn FnMut(&dyn Waiter)) -> bool {
        if !CONTEXT.get() {
            return false;
        }
        f(&Counting(&POLICY_WAITS));
        true
    }
    fn current_unit(&self) -> Option<UnitId> {
        None
    }
    fn kind(&self) -> BackendKind {
        BackendKind::ThreadPolicy
    }
}

struct Tasks;
// SAFETY: each toy task's identity comes from `UnitId::allocate` once and is
// reported only while that task "runs" (the thread-local is set).
unsafe impl TaskIdentity for Tasks {
    fn name(&self) -> &'static str {
        "toy-tasks"
    }
    fn current_task(&self) -> Option<UnitId> {
        TASK.get()
    }
}

static GREEN: Green = Green;
static POLICY: Policy = Policy;
static TASKS: Tasks = Tasks;

pub fn register(policy_first: bool) {
    register_task_identity(&TASKS).unwrap();
    if policy_first {
        register_backend(&POLICY).unwrap();
        register_backend(&GREEN).unwrap();
    } else {
        register_backend(&GREEN).unwrap();
        register_backend(&POLICY).unwrap();
    }
    let names: Vec<_> = polysync::lowlevel::registered_backends().collect();
    let (g, p) = (
        names.iter().position(|n| *n == "toy-green").unwrap(),
        names.iter().position(|n| *n == "toy-policy").unwrap(),
    );
    assert!(g < p, "green backends are asked first: {names:?}");
}

/// Runs `body` as a toy green unit (a fresh identity).
fn in_green<R>(body: impl FnOnce(UnitId) -> R) -> R {
    let id = UnitId::allocate();
    let before = GREEN_UNIT.replace(Some(id));
    let out = body(id);
    GREEN_UNIT.set(before);
    out
}

/// Runs `body` with a toy task (and its runtime context) on this thread.
fn in_task<R>(body: impl FnOnce(UnitId) -> R) -> R {
    let id = UnitId::allocate();
    let before = (TASK.replace(Some(id)), CONTEXT.replace(true));
    let out = body(id);
    TASK.set(before.0);
    CONTEXT.set(before.1);
    out
}

/// Which waiter a blocking wait of the caller used: `(green, policy)` waits.
fn waits_of_one_blocking_wait() -> (usize, usize) {
    let before = (GREEN_WAITS.get(), POLICY_WAITS.get());
    let sem = Semaphore::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            while sem.waiting() == 0 {
                std::thread::yield_now();
            }
            sem.release(1);
        });
        sem.acquire_blocking().unwrap().forget();
    });
    (GREEN_WAITS.get() - before.0, POLICY_WAITS.get() - before.1)
}

/// A green unit whose scheduler runs inside a task (a hub in a tokio
/// blocking task): the green unit is the innermost, for identity and waits.
pub fn green_inside_a_task() {
    in_task(|task| {
        assert_eq!(current_unit(), task);
        scheduling(|| {
            in_green(|green| {
                assert_eq!(current_unit(), green, "the green unit, not the task");
                assert_eq!(current_task(), None, "a green unit is not the task");
                let (g, p) = waits_of_one_blocking_wait();
                assert!(g >= 1 && p == 0, "green waits {g}, policy waits {p}");
            })
        });
        let (g, p) = waits_of_one_blocking_wait();
        assert!(
            g == 0 && p >= 1,
            "outside the green unit: the policy ({g}, {p})"
        );
    });
}

/// A task entered inside a green unit (polled on its stack): the task is
/// the innermost, and its waits follow the thread policy.
pub fn task_inside_a_green_unit() {
    scheduling(|| {
        in_green(|green| {
            in_task(|task| {
                assert_eq!(current_unit(), task);
                assert_eq!(current_task(), Some(task));
                let (g, p) = waits_of_one_blocking_wait();
                assert!(g == 0 && p >= 1, "green waits {g}, policy waits {p}");
            });
            assert_eq!(current_unit(), green);
        })
    });
}

/// A green unit under the runtime context alone (no task: `Runtime::enter`):
/// the green unit, and its waiter.
pub fn green_under_context() {
    CONTEXT.set(true);
    in_green(|green| {
        assert_eq!(current_unit(), green);
        let (g, p) = waits_of_one_blocking_wait();
        assert!(g >= 1 && p == 0, "green waits {g}, policy waits {p}");
    });
    CONTEXT.set(false);
}
