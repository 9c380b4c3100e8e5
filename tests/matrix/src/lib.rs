//! The cross-backend test matrix of polysync (issue 10, part 4).
//!
//! Every scenario of `tests/matrix.rs` (and of `tests/channels.rs`: channel
//! close-on-drop and oneshot) runs once for every pair
//! (waiting world, notifying world) over the [`World`]s: OS threads, a tokio
//! current-thread runtime, a tokio multi-thread runtime, a futures-lite /
//! async-io executor, a corosensei green-thread hub and may coroutines.
//!
//! # How a cell runs
//!
//! A scenario is a function that gets a [`Cell`]: it builds the shared
//! state (the primitive under test and whatever records what happened), and
//! declares participants with [`Cell::waiter`] (they run in the waiting
//! world) and [`Cell::notifier`] (the notifying world), and the final
//! assertions with [`Cell::check`]. Each participant is written once, as an
//! `async` block that gets a [`Ctx`]: in an async world it `.await`s the
//! async forms (`lock.acquire().await`), in a blocking world (thread,
//! corosensei, may) it calls the blocking forms (`lock.acquire_blocking()`),
//! chosen with [`Ctx::is_async`]. A blocking world's participant is polled
//! exactly once with a no-op waker and must be ready by then: a scenario
//! that awaited an async form there would fail the cell rather than quietly
//! spin. [`Ctx`] also gives each world's native pause, sleep, polling wait
//! ([`Ctx::until`]) and timeout.
//!
//! Runtimes are built once per process and shared by every cell (and by the
//! test threads running scenarios in parallel): one current-thread tokio
//! runtime driven by a thread of its own, one 2-worker multi-thread tokio
//! runtime, one `async_executor::Executor` driven by `futures_lite::future::
//! block_on` on a thread of its own, one corosensei hub on a thread of its
//! own that starts each participant as a green thread, may with 2 unpinned
//! workers. Thread-world participants each get an OS thread.
//!
//! # Failures and hangs
//!
//! A failure is reported as `waiter=<world> notifier=<world>
//! scenario=<name>: <what>`; [`run_matrix`] runs every cell, then panics
//! with the list of failed cells. Every cell has a deadline
//! ([`patience`] × 3): a participant that has not finished by then fails the
//! cell as a hang, naming the participants still running (a lost wake-up).
//! [`Ctx::until`] gives up after [`patience`] with the participant's name
//! and what it waited for. Nothing measures time.
//!
//! Environment: `POLYSYNC_MATRIX_PATIENCE_MS` (default 10000),
//! `POLYSYNC_MATRIX_WORLDS` (a comma-separated subset of world names, for
//! both sides), `POLYSYNC_MATRIX_WAITERS` / `POLYSYNC_MATRIX_NOTIFIERS` (the
//! same for one side).
#![deny(missing_docs)]

pub mod bridge;
#[cfg(test)]
mod broadcast;
pub mod channel_details;
#[cfg(test)]
mod channel_reserve;
#[cfg(test)]
mod limiter_bounded;
pub mod nesting;
pub mod once_notify;
#[cfg(test)]
mod rlock_bounded;
#[cfg(test)]
mod rwlock_bounded;
pub mod rwlock_upgrade;
#[cfg(test)]
mod semaphore_bounded;
pub mod watch;

use futures_lite::FutureExt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

/// Where a participant runs, and how it waits there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum World {
    /// A plain OS thread per participant; blocking forms park the thread.
    Thread,
    /// A task of a current-thread tokio runtime driven by a thread of its
    /// own; async forms.
    TokioCt,
    /// A task of a 2-worker multi-thread tokio runtime; async forms.
    TokioMt,
    /// A task of an `async_executor::Executor` driven by
    /// `futures_lite::future::block_on` on a thread of its own, with
    /// async-io timers and a `polysync::lowlevel::identified` identity;
    /// async forms.
    FuturesLite,
    /// A green thread of a corosensei hub on a thread of its own; blocking
    /// forms, which switch green threads.
    Corosensei,
    /// A may coroutine; blocking forms, which park the coroutine.
    May,
}

impl World {
    /// Every world, in the order the matrix walks them.
    pub const ALL: &'static [World] = &[
        World::Thread,
        World::TokioCt,
        World::TokioMt,
        World::FuturesLite,
        World::Corosensei,
        World::May,
    ];

    /// The world's name in cell names (`tokio-mt`, ...).
    pub fn name(self) -> &'static str {
        match self {
            World::Thread => "thread",
            World::TokioCt => "tokio-ct",
            World::TokioMt => "tokio-mt",
            World::FuturesLite => "futures-lite",
            World::Corosensei => "corosensei",
            World::May => "may",
        }
    }

    /// The world called `name`, if any.
    pub fn from_name(name: &str) -> Option<World> {
        World::ALL.iter().copied().find(|w| w.name() == name)
    }

    /// Whether participants of this world use the async forms.
    pub fn is_async(self) -> bool {
        matches!(self, World::TokioCt | World::TokioMt | World::FuturesLite)
    }
}

impl std::fmt::Display for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How long [`Ctx::until`] polls before it gives up; a cell's deadline is
/// three times this. `POLYSYNC_MATRIX_PATIENCE_MS`, 10 s by default.
pub fn patience() -> Duration {
    static PATIENCE: OnceLock<Duration> = OnceLock::new();
    *PATIENCE.get_or_init(|| {
        let ms = std::env::var("POLYSYNC_MATRIX_PATIENCE_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10_000);
        Duration::from_millis(ms)
    })
}

/// What a participant knows about where it runs; it also gives the world's
/// native pause, sleep, polling wait and timeout.
#[derive(Debug, Clone)]
pub struct Ctx {
    world: World,
    label: Arc<str>,
}

impl Ctx {
    /// The world this participant runs in.
    pub fn world(&self) -> World {
        self.world
    }

    /// Whether this participant must use the async forms (else the
    /// blocking ones).
    pub fn is_async(&self) -> bool {
        self.world.is_async()
    }

    /// The participant's name in failure messages (`waiter#2@may`).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Lets the others run: the world's own yield.
    pub async fn pause(&self) {
        match self.world {
            World::Thread => thread::yield_now(),
            World::TokioCt | World::TokioMt => tokio::task::yield_now().await,
            World::FuturesLite => futures_lite::future::yield_now().await,
            World::Corosensei => polysync_corosensei::yield_now(),
            World::May => may_yield(),
        }
    }

    /// Sleeps for at least `d` (never less than 1 ms in may, whose timers
    /// count whole milliseconds).
    pub async fn sleep(&self, d: Duration) {
        match self.world {
            World::Thread => thread::sleep(d),
            World::TokioCt | World::TokioMt => tokio::time::sleep(d).await,
            World::FuturesLite => {
                async_io::Timer::after(d).await;
            }
            World::Corosensei => polysync_corosensei::sleep(d),
            World::May => may_sleep(d.max(Duration::from_millis(1))),
        }
    }

    /// Sleeps until `deadline` (returns at once if it passed).
    pub async fn sleep_until(&self, deadline: Instant) {
        let now = Instant::now();
        if deadline > now {
            self.sleep(deadline - now).await;
        }
    }

    /// Polls `cond` (sleeping briefly in between, the world's way) until it
    /// holds; panics naming this participant and `what` after
    /// [`patience`]. For knowing that waiters are queued, never for timing.
    pub async fn until(&self, what: &str, mut cond: impl FnMut() -> bool) {
        let end = Instant::now() + patience();
        while !cond() {
            assert!(
                Instant::now() < end,
                "{}: gave up waiting for {what}",
                self.label
            );
            self.sleep(Duration::from_micros(200)).await;
        }
    }

    /// Runs `fut` until `deadline` with the world's async timeout
    /// (`polysync_tokio::timeout_at` on tokio, `polysync_async_io::timeout_at`
    /// under futures-lite): `None` if it timed out (the future is dropped,
    /// which withdraws it). Async worlds only.
    pub async fn timeout_at<F: Future>(&self, deadline: Instant, fut: F) -> Option<F::Output> {
        match self.world {
            World::TokioCt | World::TokioMt => polysync_tokio::timeout_at(deadline, fut).await.ok(),
            World::FuturesLite => polysync_async_io::timeout_at(deadline, fut).await.ok(),
            w => panic!("{}: timeout_at in the blocking world {w}", self.label),
        }
    }
}

fn may_yield() {
    may::coroutine::yield_now();
}

/// may keeps whole milliseconds, truncated, 0 meaning "forever": callers
/// pass at least 1 ms.
fn may_sleep(d: Duration) {
    may::coroutine::sleep(d);
}

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
type Job = Box<dyn FnOnce() + Send + 'static>;
type Outcome = (usize, Result<(), String>);

/// The shared runtimes of the async and green worlds.
struct Runtimes {
    tokio_ct: tokio::runtime::Handle,
    tokio_mt: tokio::runtime::Handle,
    lite: &'static async_executor::Executor<'static>,
    hub: async_channel::Sender<Job>,
}

fn runtimes() -> &'static Runtimes {
    static RUNTIMES: OnceLock<Runtimes> = OnceLock::new();
    RUNTIMES.get_or_init(|| {
        polysync_tokio::install().expect("polysync_tokio::install");
        // may reads its configuration at the first spawn: 2 workers, not
        // pinned (the cores are shared with the other worlds and builds).
        may::config().set_workers(2).set_worker_pin(false);
        polysync_may::install().expect("polysync_may::install");

        let ct = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio current-thread runtime");
        let tokio_ct = ct.handle().clone();
        thread::Builder::new()
            .name("matrix-tokio-ct".into())
            .spawn(move || ct.block_on(std::future::pending::<()>()))
            .expect("spawn the tokio-ct thread");

        let mt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("matrix-tokio-mt")
            .enable_all()
            .build()
            .expect("tokio multi-thread runtime");
        let tokio_mt = mt.handle().clone();
        // Kept for the life of the process.
        std::mem::forget(mt);

        let lite: &'static async_executor::Executor<'static> =
            Box::leak(Box::new(async_executor::Executor::new()));
        thread::Builder::new()
            .name("matrix-futures-lite".into())
            .spawn(move || futures_lite::future::block_on(lite.run(std::future::pending::<()>())))
            .expect("spawn the futures-lite thread");

        // The hub's first green thread takes jobs from a channel (awaited
        // with the hub's `block_on`, so it suspends between jobs) and starts
        // each as a green thread of its own. The hub is never dropped, so no
        // green thread is ever force-unwound (the harness's `catch_unwind`
        // would otherwise have to re-raise that unwind).
        let (hub, jobs) = async_channel::unbounded::<Job>();
        thread::Builder::new()
            .name("matrix-corosensei".into())
            .spawn(move || {
                polysync_corosensei::run(move || {
                    while let Ok(job) = polysync_corosensei::block_on(jobs.recv()) {
                        drop(polysync_corosensei::spawn(job)); // detached
                    }
                })
            })
            .expect("spawn the hub thread");

        Runtimes {
            tokio_ct,
            tokio_mt,
            lite,
            hub,
        }
    })
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

/// Runs a blocking world's participant: one poll, which must complete.
fn run_blocking(label: &str, mut fut: BoxFuture) {
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(()) => {}
        Poll::Pending => panic!(
            "{label}: returned Pending in a blocking world (an async form was awaited there)"
        ),
    }
}

/// Checks that a participant runs where its world says (so a cell never
/// passes by running both sides in the same place by mistake).
fn assert_in_world(world: World, label: &str) {
    let green = polysync_corosensei::in_green_thread();
    let coroutine = may::coroutine::is_coroutine();
    let flavor = tokio::runtime::Handle::try_current()
        .ok()
        .map(|h| h.runtime_flavor());
    let thread = thread::current();
    let name = thread.name().unwrap_or("");
    let ok = match world {
        World::Thread => !green && !coroutine && flavor.is_none() && name == "matrix-participant",
        World::TokioCt => flavor == Some(tokio::runtime::RuntimeFlavor::CurrentThread),
        World::TokioMt => flavor == Some(tokio::runtime::RuntimeFlavor::MultiThread),
        World::FuturesLite => flavor.is_none() && name == "matrix-futures-lite",
        World::Corosensei => green && !coroutine,
        World::May => coroutine && !green,
    };
    assert!(
        ok,
        "{label}: not in its world (green thread: {green}, may coroutine: {coroutine}, \
         tokio runtime: {flavor:?}, thread {name:?})"
    );
}

/// Starts one participant in `world`; its outcome goes to `done`.
fn launch(
    world: World,
    index: usize,
    label: Arc<str>,
    fut: BoxFuture,
    done: mpsc::Sender<Outcome>,
) {
    let rt = runtimes();
    if world.is_async() {
        let task = async move {
            let out = AssertUnwindSafe(async {
                assert_in_world(world, &label);
                fut.await
            })
            .catch_unwind()
            .await;
            let _ = done.send((index, out.map_err(panic_message)));
        };
        match world {
            World::TokioCt => drop(rt.tokio_ct.spawn(task)),
            World::TokioMt => drop(rt.tokio_mt.spawn(task)),
            // `identified`: the task is an execution unit of its own, for
            // the owner-based primitives.
            World::FuturesLite => rt.lite.spawn(polysync::lowlevel::identified(task)).detach(),
            _ => unreachable!(),
        }
        return;
    }
    let job: Job = Box::new(move || {
        let out = catch_unwind(AssertUnwindSafe(|| {
            assert_in_world(world, &label);
            run_blocking(&label, fut)
        }));
        let _ = done.send((index, out.map_err(panic_message)));
    });
    match world {
        World::Thread => {
            thread::Builder::new()
                .name("matrix-participant".into())
                .spawn(job)
                .expect("spawn a participant thread");
        }
        World::Corosensei => {
            if rt.hub.try_send(job).is_err() {
                panic!("the corosensei hub thread is gone");
            }
        }
        World::May => launch_may(job),
        _ => unreachable!(),
    }
}

/// Starts `body` as one participant in `world`, the way a cell starts its
/// notifiers (and checks that it runs there), and returns the receiver of
/// its outcome: `Err` carries its panic message. For harnesses built on
/// this one: the nesting dimension ([`nesting`]).
pub fn spawn_in<F, Fut>(world: World, label: &str, body: F) -> mpsc::Receiver<Result<(), String>>
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let label: Arc<str> = format!("{label}@{world}").into();
    let ctx = Ctx {
        world,
        label: label.clone(),
    };
    let (done, outcome) = mpsc::channel();
    let (tx, rx) = mpsc::channel();
    launch(world, 0, label, Box::pin(body(ctx)), done);
    thread::spawn(move || {
        if let Ok((_, out)) = outcome.recv() {
            let _ = tx.send(out);
        }
    });
    rx
}

fn launch_may(job: Job) {
    // `go!` hides may's `unsafe` spawn (thread-locals and stack size; the
    // participants keep no thread-local borrow across a wait). Dropping the
    // handle detaches the coroutine.
    drop(may::go!(job));
}

/// Which side of the cell a participant is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Waiter,
    Notifier,
}

/// One cell of the matrix while a scenario sets it up: the two worlds, the
/// participants and the final checks.
pub struct Cell {
    waiter: World,
    notifier: World,
    participants: Vec<(Side, String, BoxFuture)>,
    checks: Vec<Box<dyn FnOnce()>>,
}

impl std::fmt::Debug for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cell")
            .field("waiter", &self.waiter)
            .field("notifier", &self.notifier)
            .field("participants", &self.participants.len())
            .finish()
    }
}

impl Cell {
    /// The world the waiters run in.
    pub fn waiter_world(&self) -> World {
        self.waiter
    }

    /// The world the notifiers run in.
    pub fn notifier_world(&self) -> World {
        self.notifier
    }

    fn add<F, Fut>(&mut self, side: Side, name: &str, body: F)
    where
        F: FnOnce(Ctx) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let world = match side {
            Side::Waiter => self.waiter,
            Side::Notifier => self.notifier,
        };
        let label = format!("{name}@{world}");
        let ctx = Ctx {
            world,
            label: label.as_str().into(),
        };
        self.participants.push((side, label, Box::pin(body(ctx))));
    }

    /// Declares a participant of the waiting side. `name` identifies it in
    /// failure messages (`waiter#0`); `body` makes its future from its
    /// [`Ctx`].
    pub fn waiter<F, Fut>(&mut self, name: &str, body: F)
    where
        F: FnOnce(Ctx) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.add(Side::Waiter, name, body);
    }

    /// Declares a participant of the notifying side (see [`Cell::waiter`]).
    pub fn notifier<F, Fut>(&mut self, name: &str, body: F)
    where
        F: FnOnce(Ctx) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.add(Side::Notifier, name, body);
    }

    /// Adds a final check, run on the test thread once every participant
    /// has finished without failing.
    pub fn check(&mut self, f: impl FnOnce() + 'static) {
        self.checks.push(Box::new(f));
    }
}

/// A cell's name as failure messages spell it.
pub fn cell_name(waiter: World, notifier: World, scenario: &str) -> String {
    format!("waiter={waiter} notifier={notifier} scenario={scenario}")
}

/// Runs one cell: sets it up with `scenario`, starts every participant in
/// its world, waits for all of them (at most [`patience`] × 3), then runs
/// the checks. `Err` says what failed (without the cell's name).
pub fn run_cell(scenario: fn(&mut Cell), waiter: World, notifier: World) -> Result<(), String> {
    let mut cell = Cell {
        waiter,
        notifier,
        participants: Vec::new(),
        checks: Vec::new(),
    };
    catch_unwind(AssertUnwindSafe(|| scenario(&mut cell)))
        .map_err(|p| format!("setup panicked: {}", panic_message(p)))?;
    let Cell {
        participants,
        checks,
        ..
    } = cell;
    let (done, outcomes) = mpsc::channel();
    let mut running: Vec<Option<String>> = Vec::new();
    for (index, (side, label, fut)) in participants.into_iter().enumerate() {
        let world = match side {
            Side::Waiter => waiter,
            Side::Notifier => notifier,
        };
        running.push(Some(label.clone()));
        launch(world, index, label.into(), fut, done.clone());
    }
    drop(done);
    let deadline = Instant::now() + patience() * 3;
    let mut left = running.len();
    while left > 0 {
        let now = Instant::now();
        let wait = deadline.saturating_duration_since(now);
        match outcomes.recv_timeout(wait) {
            Ok((index, Ok(()))) => {
                running[index] = None;
                left -= 1;
            }
            Ok((index, Err(message))) => {
                let label = running[index].take().unwrap_or_default();
                let others: Vec<_> = running.iter().flatten().cloned().collect();
                return Err(format!(
                    "{label} panicked: {message} (still running: {others:?})"
                ));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let stuck: Vec<_> = running.iter().flatten().cloned().collect();
                return Err(format!(
                    "hang: not finished after {:?}: {stuck:?} (a lost wake-up?)",
                    patience() * 3
                ));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let lost: Vec<_> = running.iter().flatten().cloned().collect();
                return Err(format!(
                    "participants vanished without an outcome: {lost:?}"
                ));
            }
        }
    }
    for check in checks {
        catch_unwind(AssertUnwindSafe(check))
            .map_err(|p| format!("check failed: {}", panic_message(p)))?;
    }
    Ok(())
}

fn worlds_from_env(var: &str) -> Vec<World> {
    let spec = std::env::var(var)
        .ok()
        .or_else(|| std::env::var("POLYSYNC_MATRIX_WORLDS").ok());
    match spec {
        None => World::ALL.to_vec(),
        Some(spec) => spec
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| World::from_name(s).unwrap_or_else(|| panic!("{var}: no world called {s:?}")))
            .collect(),
    }
}

/// Runs `scenario` for every (waiter world, notifier world) pair (those
/// selected by the environment, see the crate docs) and panics, naming every
/// failed cell, if any failed. Prints the scenario's time to stderr.
pub fn run_matrix(name: &str, scenario: fn(&mut Cell)) {
    let start = Instant::now();
    let mut failures = Vec::new();
    let mut cells = 0;
    for &waiter in &worlds_from_env("POLYSYNC_MATRIX_WAITERS") {
        for &notifier in &worlds_from_env("POLYSYNC_MATRIX_NOTIFIERS") {
            cells += 1;
            if let Err(what) = run_cell(scenario, waiter, notifier) {
                let failure = format!("{}: {what}", cell_name(waiter, notifier, name));
                eprintln!("FAILED {failure}");
                failures.push(failure);
            }
        }
    }
    eprintln!(
        "matrix scenario={name}: {cells} cells, {} failed, {:?}",
        failures.len(),
        start.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} of {cells} cells failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
