//! Green threads that unwind, join and tear down (issue 17, items 2, 7, 8).
//!
//! - A wait made while a green thread unwinds a panic never suspends it: it
//!   parks the hub's OS thread (the carrier) instead, so no sibling runs
//!   with `std::thread::panicking() == true`, and the hub can never be
//!   dropped while a destructor of an unwinding green thread is switched
//!   out (which aborted the process).
//! - `JoinHandle::join` refuses only when the joined green thread's own hub
//!   cannot run it, not on any thread that happens to have an idle hub.
//! - A join that could never end (a destructor that joins a green thread of
//!   its own hub while its carrier is parked for an unwind: the hub's
//!   teardown, or a panic) fails loudly instead of hanging.
//!
//! The scenarios that abort (or used to hang) run in a child process: the
//! test re-executes its own binary with `UNWINDING_CHILD` set to the
//! scenario's name and checks the child's exit status and output, with a
//! bound on how long the child may run.

mod support;

use polysync::Semaphore;
use polysync_corosensei::{Hub, JoinHandle, run, sleep, spawn, yield_now};
use std::cell::{Cell, RefCell};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use support::{green_until, spin_until, watchdog};

/// How long a child scenario may run before the parent kills it and fails.
const CHILD_LIMIT: Duration = Duration::from_secs(30);

/// What a child scenario did.
struct ChildOutcome {
    success: bool,
    stderr: String,
}

/// Runs the test `test` of this binary in a child process with
/// `UNWINDING_CHILD=scenario`; kills it and fails if it runs longer than
/// [`CHILD_LIMIT`] (a hang).
fn run_child(test: &str, scenario: &str) -> ChildOutcome {
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env("UNWINDING_CHILD", scenario)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the child");
    let mut stderr = child.stderr.take().expect("the child's stderr");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut out);
        out
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if start.elapsed() > CHILD_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = reader.join().unwrap_or_default();
            panic!(
                "scenario `{scenario}` did not finish within {CHILD_LIMIT:?} (a hang); its \
                 stderr:\n{stderr}"
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    ChildOutcome {
        success: status.success(),
        stderr: reader.join().unwrap_or_default(),
    }
}

/// The scenario this process runs as a child, if it is one.
fn child_scenario() -> Option<String> {
    std::env::var("UNWINDING_CHILD").ok()
}

/// Takes one permit of `sem` in its destructor (a blocking wait).
struct AcquireOnDrop(Arc<Semaphore>);

impl Drop for AcquireOnDrop {
    fn drop(&mut self) {
        self.0.acquire_blocking().unwrap().forget();
    }
}

/// Releases one permit of `sem` once somebody waits on it, from a plain
/// thread (the wake comes from outside the hub).
fn release_when_waited(sem: &Arc<Semaphore>) -> std::thread::JoinHandle<()> {
    let sem = sem.clone();
    std::thread::spawn(move || {
        spin_until("a waiter on the semaphore", || sem.waiting() == 1);
        sem.release(1);
    })
}

/// Item 2: a destructor that waits while its green thread unwinds a panic
/// does not switch to the sibling green threads: the sibling never runs
/// while the thread is panicking (a std `Mutex` it held across a switch
/// would be poisoned, polysync's panicking checks would misfire).
#[test]
fn a_sibling_never_runs_while_a_green_thread_unwinds() {
    watchdog("no sibling during an unwind", || {
        let sem = Arc::new(Semaphore::new(0));
        let releaser = release_when_waited(&sem);
        let sem2 = sem.clone();
        let saw_panicking = run(move || {
            let done = Rc::new(Cell::new(false));
            let saw_panicking = Rc::new(Cell::new(false));
            let sibling = {
                let (done, saw) = (done.clone(), saw_panicking.clone());
                let mutex = std::sync::Mutex::new(0);
                spawn(move || {
                    while !done.get() {
                        let guard = mutex.lock().unwrap(); // poisoned if held into a panic
                        saw.set(saw.get() || std::thread::panicking());
                        yield_now();
                        drop(guard);
                    }
                })
            };
            let panicker = {
                let (done, sem) = (done.clone(), sem2.clone());
                spawn(move || {
                    struct SetOnDrop(Rc<Cell<bool>>);
                    impl Drop for SetOnDrop {
                        fn drop(&mut self) {
                            self.0.set(true);
                        }
                    }
                    // Dropped in reverse order: first the wait, then `done`.
                    let _done = SetOnDrop(done);
                    let _wait = AcquireOnDrop(sem);
                    yield_now(); // the sibling is running its loop
                    panic!("boom (expected)");
                })
            };
            assert!(panicker.join().unwrap_err().is_panic());
            sibling.join().expect("the sibling ended normally");
            saw_panicking.get()
        });
        releaser.join().unwrap();
        assert!(
            !saw_panicking,
            "a sibling green thread ran while another one was unwinding a panic"
        );
        assert_eq!(sem.value(), 0, "the destructor took the permit");
    });
}

/// The child of [`dropping_the_hub_while_an_unwinding_destructor_waits`]:
/// the main green thread returns (so `run` drops the hub) while the
/// panicking green thread's destructor waits for a plain thread's release.
fn hub_drop_during_an_unwinding_wait() {
    let sem = Arc::new(Semaphore::new(0));
    let releaser = release_when_waited(&sem);
    let sem2 = sem.clone();
    run(move || {
        spawn(move || {
            let _wait = AcquireOnDrop(sem2);
            panic!("boom (expected)");
        });
        yield_now(); // the panicker runs, panics, and its destructor waits
        // Returning drops the hub.
    });
    releaser.join().unwrap();
    assert_eq!(sem.value(), 0);
    eprintln!("child: finished normally");
}

/// Item 2: dropping the hub while a destructor of a panicking green thread
/// waits used to unwind the green thread out of that destructor (a panic
/// during a panic: the process aborted). The wait now parks the carrier, so
/// the green thread has finished its unwind before the hub goes.
#[test]
fn dropping_the_hub_while_an_unwinding_destructor_waits() {
    if child_scenario().as_deref() == Some("hub_drop") {
        hub_drop_during_an_unwinding_wait();
        return;
    }
    let out = run_child(
        "dropping_the_hub_while_an_unwinding_destructor_waits",
        "hub_drop",
    );
    assert!(
        out.success && out.stderr.contains("child: finished normally"),
        "the child failed; its stderr:\n{}",
        out.stderr
    );
}

/// Item 7: a thread that has a hub of its own (idle: not running) joins a
/// green thread of another hub, on another thread. That join can end (the
/// other hub runs), so it must wait, not panic.
#[test]
fn join_on_a_thread_with_another_idle_hub() {
    watchdog("join with another idle hub", || {
        let gate = Arc::new(polysync::Event::new());
        let (tx, rx) = std::sync::mpsc::channel::<JoinHandle<u32>>();
        let hub_thread = {
            let gate = gate.clone();
            std::thread::spawn(move || {
                run(move || {
                    let ended = Rc::new(Cell::new(false));
                    let handle = {
                        let ended = ended.clone();
                        spawn(move || {
                            gate.wait_blocking();
                            ended.set(true); // then returns without switching
                            5
                        })
                    };
                    tx.send(handle).unwrap();
                    green_until("the joined green thread ended", || ended.get());
                })
            })
        };
        let _idle = Hub::new(); // this thread's own hub, never run
        let handle = rx.recv().unwrap();
        gate.set();
        assert_eq!(handle.join().unwrap(), 5);
        hub_thread.join().unwrap();
    });
}

/// A green thread's handle (put in later, maybe), joined by a destructor.
struct JoinOnDrop(Rc<RefCell<Option<JoinHandle<()>>>>);

impl JoinOnDrop {
    fn new(handle: Option<JoinHandle<()>>) -> JoinOnDrop {
        JoinOnDrop(Rc::new(RefCell::new(handle)))
    }
}

impl Drop for JoinOnDrop {
    fn drop(&mut self) {
        let handle = self.0.borrow_mut().take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

/// The child of [`a_teardown_join_of_a_sibling_fails_loudly`]: the hub's
/// teardown unwinds a green thread whose destructor joins a suspended
/// sibling, which no longer runs.
fn teardown_join_of_a_sibling() {
    let hub = Hub::new();
    let join = JoinOnDrop::new(None);
    let slot = join.0.clone();
    // Spawned first, so the teardown unwinds it before the sibling.
    hub.spawn(move || {
        let _join = join;
        sleep(Duration::from_secs(3600));
    });
    *slot.borrow_mut() = Some(hub.spawn(|| sleep(Duration::from_secs(3600))));
    hub.run(yield_now); // both are suspended in their sleeps
    drop(hub);
    eprintln!("child: finished normally");
}

/// The child of [`a_panic_join_of_a_sibling_fails_loudly`]: a destructor of
/// a panicking green thread joins a suspended sibling, which cannot run
/// while the carrier is parked for the unwind.
fn panic_join_of_a_sibling() {
    run(|| {
        let sibling = spawn(|| sleep(Duration::from_secs(3600)));
        let panicker = spawn(move || {
            let _join = JoinOnDrop::new(Some(sibling));
            panic!("boom (expected)");
        });
        let _ = panicker.join();
    });
    eprintln!("child: finished normally");
}

/// The message a join that could never end fails with.
const NEVER_ENDS: &str = "would never return";

/// Item 8: a destructor that joins a green thread of its own hub during the
/// hub's teardown used to hang silently (the joined green thread never runs
/// again). It fails loudly now, with a message that names the problem.
#[test]
fn a_teardown_join_of_a_sibling_fails_loudly() {
    if child_scenario().as_deref() == Some("teardown_join") {
        teardown_join_of_a_sibling();
        return;
    }
    let out = run_child("a_teardown_join_of_a_sibling_fails_loudly", "teardown_join");
    assert!(
        !out.success && out.stderr.contains(NEVER_ENDS),
        "expected a loud failure naming the join; the child's stderr:\n{}",
        out.stderr
    );
}

/// Items 2 and 8: the same join from a destructor of a green thread that
/// unwinds a panic (its carrier is parked, so the sibling cannot run).
#[test]
fn a_panic_join_of_a_sibling_fails_loudly() {
    if child_scenario().as_deref() == Some("panic_join") {
        panic_join_of_a_sibling();
        return;
    }
    let out = run_child("a_panic_join_of_a_sibling_fails_loudly", "panic_join");
    assert!(
        !out.success && out.stderr.contains(NEVER_ENDS),
        "expected a loud failure naming the join; the child's stderr:\n{}",
        out.stderr
    );
}

/// A destructor of a panicking green thread that joins a green thread of
/// **another** hub waits for it (that hub runs on its own thread).
#[test]
fn a_panic_join_of_another_hubs_green_thread_waits() {
    watchdog("join another hub during a panic", || {
        let gate = Arc::new(polysync::Event::new());
        let (tx, rx) = std::sync::mpsc::channel::<JoinHandle<()>>();
        let joined = Arc::new(AtomicBool::new(false));
        let other = {
            let gate = gate.clone();
            std::thread::spawn(move || {
                run(move || {
                    let ended = Rc::new(Cell::new(false));
                    let handle = {
                        let ended = ended.clone();
                        spawn(move || {
                            gate.wait_blocking();
                            ended.set(true);
                        })
                    };
                    tx.send(handle).unwrap();
                    green_until("the joined green thread ended", || ended.get());
                })
            })
        };
        let handle = rx.recv().unwrap();
        let opener = {
            let gate = gate.clone();
            std::thread::spawn(move || {
                // The join below waits (on the carrier) before the gate opens
                // or after: either way it must end.
                gate.set();
            })
        };
        let joined2 = joined.clone();
        run(move || {
            let panicker = spawn(move || {
                struct Flag(Arc<AtomicBool>);
                impl Drop for Flag {
                    fn drop(&mut self) {
                        self.0.store(true, Ordering::SeqCst);
                    }
                }
                let _flag = Flag(joined2);
                let _join = JoinOnDrop::new(Some(handle)); // dropped first
                panic!("boom (expected)");
            });
            assert!(panicker.join().unwrap_err().is_panic());
        });
        opener.join().unwrap();
        other.join().unwrap();
        assert!(joined.load(Ordering::SeqCst));
    });
}
