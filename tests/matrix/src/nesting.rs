//! The nesting dimension of the matrix (DESIGN.md, "Verification"): besides
//! *which* world waits and which notifies, the *carrier* a world runs
//! inside. A corosensei hub inside a tokio `spawn_blocking` thread, under
//! `Runtime::enter`, or inside a tokio `block_on`; may coroutines, OS
//! threads and green threads that drive polysync's `block_on` over a future
//! that makes a blocking call. The bugs this finds sit where two worlds meet
//! inside one execution: the outer world's identity or waiter claiming the
//! inner unit's wait, or two waits sharing one unit's wake.
//!
//! A nested cell runs [`UNITS`] units in its carrier and one notifier in one
//! of the six [`World`]s. The scenario ([`contend`]) checks, in every cell:
//!
//! - **identity**: each unit's `current_unit()` is its own (distinct from
//!   its siblings' and from the carrier's outer unit, such as the tokio
//!   blocking task that runs the hub) and stays the same across a switch;
//! - **exclusion**: an `RLock` entered twice by each unit (re-entry), and a
//!   `Lock`, never have two units inside at once;
//! - **no lost wake**: each unit drives `zip(event.wait(), blocking
//!   section)` with polysync's `block_on`; the notifier sets the event while
//!   every unit is parked in the blocking section's inner wait, so the outer
//!   wake lands during the inner wait and must not be eaten by it.
//!
//! A second scenario ([`unwind`]) has one unit panic with a destructor
//! that waits on its way out while its siblings keep running: no sibling
//! may run while the unit that carries it unwinds, and the wait must end.
//!
//! Install order is process-wide, so each order has a test binary of its
//! own (`tests/nesting_tokio_first.rs`, `tests/nesting_green_first.rs`).

use crate::{World, panic_message, patience, spawn_in};
use polysync::lowlevel::{UnitId, current_unit};
use polysync::{Event, Lock, RLock, Semaphore};
use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::Instant;

/// How many units a nested cell runs in its carrier.
pub const UNITS: usize = 3;
/// How many times each unit enters the `RLock` (twice each time).
const ROUNDS: usize = 4;

/// What the units of a nested cell run inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Carrier {
    /// Green threads of a hub that a tokio `spawn_blocking` closure runs
    /// (the thread has a tokio context and a blocking task's identity).
    HubInSpawnBlocking,
    /// Green threads of a hub on an OS thread that holds a tokio
    /// `Runtime::enter` guard.
    HubUnderEnter,
    /// Green threads of a hub run inside a current-thread tokio runtime's
    /// `block_on` (where tokio's own blocking calls panic).
    HubInTokioBlockOn,
    /// Green threads of a hub on a plain OS thread.
    Hub,
    /// may coroutines.
    May,
    /// Plain OS threads.
    Thread,
}

impl Carrier {
    /// Every carrier, in the order the dimension walks them.
    pub const ALL: &'static [Carrier] = &[
        Carrier::HubInSpawnBlocking,
        Carrier::HubUnderEnter,
        Carrier::HubInTokioBlockOn,
        Carrier::Hub,
        Carrier::May,
        Carrier::Thread,
    ];

    /// The carrier's name in cell names.
    pub fn name(self) -> &'static str {
        match self {
            Carrier::HubInSpawnBlocking => "hub-in-spawn-blocking",
            Carrier::HubUnderEnter => "hub-under-enter",
            Carrier::HubInTokioBlockOn => "hub-in-tokio-block-on",
            Carrier::Hub => "hub",
            Carrier::May => "may",
            Carrier::Thread => "thread",
        }
    }

    /// Lets the carrier's other units run: the unit's own yield.
    fn pause(self) {
        match self {
            Carrier::May => may::coroutine::yield_now(),
            Carrier::Thread => thread::yield_now(),
            _ => polysync_corosensei::yield_now(),
        }
    }

    /// Checks that a unit runs where its carrier says, so that a cell never
    /// passes by not nesting at all.
    fn assert_inside(self) {
        let green = polysync_corosensei::in_green_thread();
        let coroutine = may::coroutine::is_coroutine();
        let tokio = tokio::runtime::Handle::try_current().is_ok();
        let ok = match self {
            Carrier::HubInSpawnBlocking | Carrier::HubUnderEnter | Carrier::HubInTokioBlockOn => {
                green && tokio
            }
            Carrier::Hub => green && !tokio,
            Carrier::May => coroutine && !green,
            Carrier::Thread => !green && !coroutine && !tokio,
        };
        assert!(
            ok,
            "{}: a unit does not run in its carrier (green thread: {green}, may coroutine: \
             {coroutine}, tokio context: {tokio})",
            self.name()
        );
    }
}

impl std::fmt::Display for Carrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One unit's work.
type UnitBody = Box<dyn FnOnce() + Send + 'static>;
type Outcome = (usize, Result<(), String>);

/// The multi-thread runtime whose blocking pool and context the tokio
/// carriers use (built once, kept for the life of the process).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("nesting-tokio")
            .enable_all()
            .build()
            .expect("the nesting tokio runtime")
    })
}

/// Runs `bodies` as green threads of a hub on the calling thread, each
/// reporting its outcome to `done`, and returns when all have ended.
fn run_hub(bodies: Vec<UnitBody>, done: mpsc::Sender<Outcome>) {
    polysync_corosensei::run(move || {
        let handles: Vec<_> = bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| {
                let done = done.clone();
                polysync_corosensei::spawn(move || {
                    let out = catch_unwind(AssertUnwindSafe(body)).map_err(panic_message);
                    let _ = done.send((i, out));
                })
            })
            .collect();
        for handle in handles {
            let _ = handle.join();
        }
    });
}

/// Starts `bodies` in `carrier`; `outer` gets the carrier's own unit (the
/// identity code sees just outside the units), where there is one.
fn start(
    carrier: Carrier,
    bodies: Vec<UnitBody>,
    done: mpsc::Sender<Outcome>,
    outer: Arc<OnceLock<UnitId>>,
) {
    let named = |name: &str| thread::Builder::new().name(format!("nesting-{name}"));
    match carrier {
        Carrier::HubInSpawnBlocking => {
            drop(runtime().spawn_blocking(move || {
                let _ = outer.set(current_unit());
                run_hub(bodies, done);
            }));
        }
        Carrier::HubUnderEnter => {
            named("enter")
                .spawn(move || {
                    let _entered = runtime().enter();
                    let _ = outer.set(current_unit());
                    run_hub(bodies, done);
                })
                .expect("spawn the carrier thread");
        }
        Carrier::HubInTokioBlockOn => {
            named("block-on")
                .spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a current-thread runtime");
                    rt.block_on(async move {
                        let _ = outer.set(current_unit());
                        run_hub(bodies, done);
                    });
                })
                .expect("spawn the carrier thread");
        }
        Carrier::Hub => {
            named("hub")
                .spawn(move || {
                    let _ = outer.set(current_unit());
                    run_hub(bodies, done);
                })
                .expect("spawn the carrier thread");
        }
        Carrier::May => {
            for (i, body) in bodies.into_iter().enumerate() {
                let done = done.clone();
                // `go!` hides may's `unsafe` spawn (thread-locals and stack
                // size); the bodies keep no thread-local borrow across a wait.
                drop(may::go!(move || {
                    let out = catch_unwind(AssertUnwindSafe(body)).map_err(panic_message);
                    let _ = done.send((i, out));
                }));
            }
        }
        Carrier::Thread => {
            for (i, body) in bodies.into_iter().enumerate() {
                let done = done.clone();
                named("unit")
                    .spawn(move || {
                        let out = catch_unwind(AssertUnwindSafe(body)).map_err(panic_message);
                        let _ = done.send((i, out));
                    })
                    .expect("spawn a unit thread");
            }
        }
    }
}

/// The state one nested cell shares.
struct Shared {
    rlock: RLock,
    in_rlock: AtomicUsize,
    lock: Lock,
    in_lock: AtomicUsize,
    /// Closed (no permit) until every unit waits on it.
    gate: Semaphore,
    event: Event,
    ids: Mutex<Vec<UnitId>>,
    /// Where each unit is, for the message of a hang.
    phases: Mutex<Vec<&'static str>>,
}

impl Shared {
    fn new() -> Shared {
        Shared {
            rlock: RLock::new(),
            in_rlock: AtomicUsize::new(0),
            lock: Lock::new(),
            in_lock: AtomicUsize::new(0),
            gate: Semaphore::new(0),
            event: Event::new(),
            ids: Mutex::new(Vec::new()),
            phases: Mutex::new(vec!["not started"; UNITS]),
        }
    }
}

/// A section that counts who is inside (with `inside`) and lets the
/// others run.
fn section(inside: &AtomicUsize, carrier: Carrier, what: &str) {
    let n = inside.fetch_add(1, SeqCst) + 1;
    assert_eq!(n, 1, "{what}: {n} units inside at once");
    carrier.pause();
    inside.fetch_sub(1, SeqCst);
}

impl Shared {
    fn phase(&self, unit: usize, phase: &'static str) {
        self.phases.lock().unwrap()[unit] = phase;
    }
}

/// Unit `i` of [`contend`].
fn unit(i: usize, carrier: Carrier, shared: &Shared) {
    shared.phase(i, "started");
    carrier.assert_inside();
    let me = current_unit();
    shared.ids.lock().unwrap().push(me);
    shared.phase(i, "in the RLock rounds");
    for _ in 0..ROUNDS {
        let _outer = shared.rlock.acquire_blocking();
        let _inner = shared.rlock.acquire_blocking(); // re-entry: the same unit
        section(&shared.in_rlock, carrier, "RLock");
        assert_eq!(
            current_unit(),
            me,
            "the unit's identity changed across a switch"
        );
    }
    // The outer future waits for the event (its wake goes to this unit's
    // waker) while the inner blocking call waits for the gate on the same
    // unit: the event is set while every unit is in that inner wait.
    shared.phase(i, "in block_on: waiting for the gate");
    let out = polysync::lowlevel::block_on(
        futures_lite::future::zip(shared.event.wait(), async {
            shared
                .gate
                .acquire_blocking()
                .expect("the gate is never closed")
                .forget();
            shared.phase(i, "in block_on: past the gate, waiting for the Lock");
            let _held = shared.lock.acquire_blocking();
            section(&shared.in_lock, carrier, "Lock");
            shared.phase(
                i,
                "in block_on: blocking branch done, the event's wake pending",
            );
        }),
        None,
    );
    assert!(
        out.is_some(),
        "polysync's block_on gave up without a deadline"
    );
    assert_eq!(
        current_unit(),
        me,
        "the unit's identity changed across block_on"
    );
    shared.phase(i, "done");
}

/// Runs the nesting scenario in one cell: [`UNITS`] units in `carrier`, the
/// notifier in `notifier`. `Err` says what failed.
pub fn contend(carrier: Carrier, notifier: World) -> Result<(), String> {
    let shared = Arc::new(Shared::new());
    let outer = Arc::new(OnceLock::new());
    let (done, outcomes) = mpsc::channel();
    let bodies: Vec<UnitBody> = (0..UNITS)
        .map(|i| {
            let shared = shared.clone();
            Box::new(move || unit(i, carrier, &shared)) as UnitBody
        })
        .collect();
    let notified = {
        let shared = shared.clone();
        spawn_in(notifier, "notifier", move |ctx| async move {
            ctx.until("every unit parked in its inner wait", || {
                shared.gate.waiting() == UNITS
            })
            .await;
            // The outer wake first, while every unit is inside the inner wait.
            shared.event.set();
            shared.gate.release(UNITS);
        })
    };
    start(carrier, bodies, done, outer.clone());

    let phases = || format!("{:?}", shared.phases.lock().unwrap());
    await_cell(&outcomes, &notified, phases)?;
    let ids = shared.ids.lock().unwrap().clone();
    let distinct: HashSet<_> = ids.iter().collect();
    if distinct.len() != UNITS {
        return Err(format!(
            "identity: {UNITS} units had {} distinct identities: {ids:?}",
            distinct.len()
        ));
    }
    if let Some(outer) = outer.get() {
        if distinct.contains(outer) {
            return Err(format!(
                "identity: a unit has its carrier's identity {outer:?} (the outer unit claimed it)"
            ));
        }
    }
    Ok(())
}

/// Waits for every unit's outcome and then the notifier's, at most
/// [`patience`] × 3 in all; `Err` names what failed or hung, with
/// `where_units_are` (the units' phases) for a hang.
fn await_cell(
    outcomes: &mpsc::Receiver<Outcome>,
    notified: &mpsc::Receiver<Result<(), String>>,
    where_units_are: impl Fn() -> String,
) -> Result<(), String> {
    let deadline = Instant::now() + patience() * 3;
    let mut left: HashSet<usize> = (0..UNITS).collect();
    while !left.is_empty() {
        let wait = deadline.saturating_duration_since(Instant::now());
        match outcomes.recv_timeout(wait) {
            Ok((i, Ok(()))) => {
                left.remove(&i);
            }
            Ok((i, Err(message))) => return Err(format!("unit#{i} panicked: {message}")),
            Err(_) => {
                return Err(format!(
                    "hang: units {left:?} not finished after {:?} (a lost or eaten wake-up?); \
                     where each unit is: {}",
                    patience() * 3,
                    where_units_are()
                ));
            }
        }
    }
    match notified.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(message)) => Err(format!("the notifier panicked: {message}")),
        Err(_) => Err("hang: the notifier did not finish".into()),
    }
}

/// A guard whose drop waits (blocking form) for a permit of `sem`: a
/// destructor that waits while its unit unwinds.
struct WaitOnDrop(Arc<Semaphore>);

impl Drop for WaitOnDrop {
    fn drop(&mut self) {
        self.0
            .acquire_blocking()
            .expect("the semaphore is never closed")
            .forget();
    }
}

/// The unwinding scenario in one cell: unit 0 panics, and a destructor on
/// its way out waits for a permit that the notifier releases once it sees
/// the wait queued; the other units keep running, pausing between checks.
/// Checked: nothing suspends an unwinding unit in a way that lets a sibling
/// run with `std::thread::panicking()` true (DESIGN.md, "Nothing suspends a
/// green thread while it unwinds"), the wait ends (no hang, no abort), and
/// every unit keeps its own identity.
pub fn unwind(carrier: Carrier, notifier: World) -> Result<(), String> {
    let sem = Arc::new(Semaphore::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let ids = Arc::new(Mutex::new(Vec::new()));
    let outer = Arc::new(OnceLock::new());
    let (report, outcomes) = mpsc::channel();
    let bodies: Vec<UnitBody> = (0..UNITS)
        .map(|i| {
            let (sem, done, ids) = (sem.clone(), done.clone(), ids.clone());
            Box::new(move || {
                carrier.assert_inside();
                ids.lock().unwrap().push(current_unit());
                if i == 0 {
                    let unwound = catch_unwind(AssertUnwindSafe(|| {
                        let _waits = WaitOnDrop(sem.clone());
                        panic!("planned: a panic whose unwinding destructor waits");
                    }));
                    let planned = unwound
                        .err()
                        .map(panic_message)
                        .is_some_and(|m| m.starts_with("planned"));
                    assert!(planned, "the unwinding unit ended otherwise");
                    done.fetch_add(1, SeqCst);
                } else {
                    // Run beside the unwinding unit until it is through.
                    while done.load(SeqCst) == 0 {
                        assert!(
                            !std::thread::panicking(),
                            "a sibling runs while the unit that carries it unwinds"
                        );
                        carrier.pause();
                    }
                }
            }) as UnitBody
        })
        .collect();
    let notified = {
        let sem = sem.clone();
        spawn_in(notifier, "notifier", move |ctx| async move {
            ctx.until("the unwinding destructor queued", || sem.waiting() == 1)
                .await;
            sem.release(1);
        })
    };
    start(carrier, bodies, report, outer.clone());
    await_cell(&outcomes, &notified, || {
        format!("unwinding unit through: {}", done.load(SeqCst) > 0)
    })?;
    let ids = ids.lock().unwrap().clone();
    let distinct: HashSet<_> = ids.iter().collect();
    if distinct.len() != UNITS {
        return Err(format!(
            "identity: {UNITS} units had {} identities",
            distinct.len()
        ));
    }
    Ok(())
}

/// The nested scenarios, by name.
type Scenario = fn(Carrier, World) -> Result<(), String>;
const SCENARIOS: &[(&str, Scenario)] = &[("contend", contend), ("unwind", unwind)];

/// Runs [`contend`] for every (carrier, notifier world) pair and panics,
/// naming every failed cell, if any failed. `POLYSYNC_MATRIX_CARRIERS`
/// (comma-separated carrier names) and `POLYSYNC_MATRIX_NOTIFIERS` select a
/// subset.
pub fn run_nesting(order: &str) {
    let start = Instant::now();
    let carriers: Vec<Carrier> = match std::env::var("POLYSYNC_MATRIX_CARRIERS") {
        Ok(spec) => spec
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                *Carrier::ALL
                    .iter()
                    .find(|c| c.name() == s)
                    .unwrap_or_else(|| panic!("POLYSYNC_MATRIX_CARRIERS: no carrier {s:?}"))
            })
            .collect(),
        Err(_) => Carrier::ALL.to_vec(),
    };
    let notifiers = crate::worlds_from_env("POLYSYNC_MATRIX_NOTIFIERS");
    let mut failures = Vec::new();
    let mut cells = 0;
    for &carrier in &carriers {
        for &notifier in &notifiers {
            for (scenario, run) in SCENARIOS {
                cells += 1;
                if let Err(what) = run(carrier, notifier) {
                    let failure = format!(
                        "carrier={carrier} notifier={notifier} scenario={scenario} \
                         order={order}: {what}"
                    );
                    eprintln!("FAILED {failure}");
                    failures.push(failure);
                }
            }
        }
    }
    eprintln!(
        "matrix nesting order={order}: {cells} cells, {} failed, {:?}",
        failures.len(),
        start.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} of {cells} nested cells failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
