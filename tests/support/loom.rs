//! Helpers shared by the loom models (tests/loom*.rs): the model runner, a
//! waker that counts wakes in a loom atomic, and a green backend that makes
//! blocking calls time out at once (loom has no clock). Included with
//! `#[path]` by each loom test binary.
#![allow(dead_code)]

use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use polysync::lowlevel::{GreenBackend, UnitId, WaitResult, Waiter, register_backend};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// Runs a model: preemption bound 2 unless `LOOM_MAX_PREEMPTIONS` says
/// otherwise, and up to 100 000 branches per execution unless
/// `LOOM_MAX_BRANCHES` says otherwise (with preemptions, an execution of a
/// blocking model, with its lock back-off and park loops, can exceed loom's
/// default of 1000). `LOOM_LOG` and the other loom variables apply.
pub fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    if std::env::var_os("LOOM_MAX_BRANCHES").is_none() {
        builder.max_branches = 100_000;
    }
    builder.check(f);
}

/// A waker that counts its wakes (in a loom atomic, so each wake is part of
/// the model).
pub struct Flag(AtomicUsize);

impl Flag {
    pub fn new() -> std::sync::Arc<Flag> {
        std::sync::Arc::new(Flag(AtomicUsize::new(0)))
    }

    /// Whether a wake arrived since the last `take`; clears the count.
    pub fn take(&self) -> bool {
        self.0.swap(0, SeqCst) != 0
    }

    /// Whether a wake arrived, without clearing it.
    pub fn peek(&self) -> bool {
        self.0.load(SeqCst) != 0
    }

    /// How many wakes arrived since the last `take`, without clearing them.
    pub fn wakes(&self) -> usize {
        self.0.load(SeqCst)
    }
}

impl Wake for Flag {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A fresh [`Flag`] and a waker that sets it.
pub fn flag_waker() -> (std::sync::Arc<Flag>, Waker) {
    let flag = Flag::new();
    let waker = Waker::from(flag.clone());
    (flag, waker)
}

/// Polls `fut` once with `waker`.
pub fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

/// A waiter whose deadline has always passed: `wait` returns `Woken` if a
/// wake is pending and `TimedOut` otherwise.
pub struct GiveUp(std::sync::Arc<Flag>);

impl GiveUp {
    pub fn new() -> Self {
        GiveUp(Flag::new())
    }
}

impl Waiter for GiveUp {
    fn waker(&self) -> Waker {
        Waker::from(self.0.clone())
    }

    fn wait(&self, _deadline: Option<Instant>) -> WaitResult {
        if self.0.take() {
            WaitResult::Woken
        } else {
            WaitResult::TimedOut
        }
    }
}

loom::thread_local! {
    /// Whether blocking calls on this loom thread time out at once.
    static TIMING_OUT: Cell<bool> = Cell::new(false);
}

/// A green backend that claims the loom threads inside [`timing_out`] and
/// gives their blocking calls a [`GiveUp`] waiter. So a model calls the real
/// `try_acquire_for` / `try_wait_for` / ... and runs exactly the code of a
/// blocking wait whose deadline passes: poll, give up, one last poll, drop
/// the future, map the result.
struct TimeoutBackend;

// SAFETY: `current_unit` never reports an identity.
unsafe impl GreenBackend for TimeoutBackend {
    fn name(&self) -> &'static str {
        "loom-timeout"
    }

    fn with_waiter(&self, f: &mut dyn FnMut(&dyn Waiter)) -> bool {
        if !TIMING_OUT.with(Cell::get) {
            return false;
        }
        f(&GiveUp::new());
        true
    }

    fn current_unit(&self) -> Option<UnitId> {
        None
    }
}

static TIMEOUT_BACKEND: TimeoutBackend = TimeoutBackend;

/// Runs `f` with every blocking call of this loom thread timing out at once
/// (unless a wake is already pending when it would sleep). The timeout passed
/// to the call is irrelevant; loom has no clock.
pub fn timing_out<R>(f: impl FnOnce() -> R) -> R {
    register_backend(&TIMEOUT_BACKEND).expect("registry has room");
    TIMING_OUT.with(|t| t.set(true));
    let out = f();
    TIMING_OUT.with(|t| t.set(false));
    out
}

/// Any timeout: [`timing_out`] makes it pass at once.
pub const SOON: Duration = Duration::from_secs(1);
