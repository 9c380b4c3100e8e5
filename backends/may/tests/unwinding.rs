//! Nothing suspends a may coroutine while it unwinds (issue 17, item 2):
//! a polysync wait made by a destructor during a panic, or during may's
//! cancellation unwind (`generator::Error::Cancel`), parks the worker
//! thread that carries the coroutine instead of parking the coroutine.
//!
//! - A panic: parking the coroutine would run the worker's other
//!   coroutines with `std::thread::panicking() == true` (the panic count
//!   belongs to the OS thread).
//! - A cancellation: may's park raises the cancel again at once, so the
//!   plain blocking forms re-raised it inside the destructor (a panic during
//!   a panic: the process aborted); that scenario runs in a child process
//!   (the test re-executes its own binary with `UNWINDING_CHILD` set), so an
//!   abort fails the test instead of killing the runner.
//!
//! One worker, so that the coroutines of a test share it.

mod support;

use polysync::Semaphore;
use polysync_may::MayWaiter;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use support::{eventually, go, setup, watchdog};

/// How long a child scenario may run before the parent kills it and fails.
const CHILD_LIMIT: Duration = Duration::from_secs(30);

/// Takes one permit of `sem` in its destructor (a blocking wait).
struct AcquireOnDrop(Arc<Semaphore>);

impl Drop for AcquireOnDrop {
    fn drop(&mut self) {
        self.0.acquire_blocking().unwrap().forget();
    }
}

/// Releases one permit of `sem` once somebody waits on it, from a plain
/// thread.
fn release_when_waited(sem: &Arc<Semaphore>) -> std::thread::JoinHandle<()> {
    let sem = sem.clone();
    std::thread::spawn(move || {
        eventually(|| sem.waiting() == 1);
        sem.release(1);
    })
}

/// A destructor that waits while its coroutine unwinds a panic does not let
/// the worker's other coroutines run meanwhile. The destructor wakes a
/// sibling first (it goes on the worker's own queue, ahead of the
/// panicker's wake from the releasing thread), so a wait that parked the
/// coroutine would run the sibling next, while the worker is panicking.
#[test]
fn a_sibling_never_runs_while_a_coroutine_unwinds() {
    setup(1);
    let _dog = watchdog("no sibling during an unwind");
    struct WakeThenAcquire(Arc<polysync::Event>, Arc<Semaphore>);
    impl Drop for WakeThenAcquire {
        fn drop(&mut self) {
            self.0.set();
            self.1.acquire_blocking().unwrap().forget();
        }
    }
    let sem = Arc::new(Semaphore::new(0));
    let releaser = release_when_waited(&sem);
    let wake = Arc::new(polysync::Event::new());
    let saw_panicking = Arc::new(AtomicBool::new(false));
    let sibling = {
        let (wake, saw) = (wake.clone(), saw_panicking.clone());
        go(move || {
            wake.wait_blocking();
            saw.store(std::thread::panicking(), Ordering::SeqCst);
        })
    };
    let panicker = {
        let (wake, sem) = (wake.clone(), sem.clone());
        go(move || {
            let _wait = WakeThenAcquire(wake, sem);
            may::coroutine::yield_now();
            panic!("boom (expected)");
        })
    };
    assert!(panicker.join().is_err());
    sibling.join().expect("the sibling ended normally");
    releaser.join().unwrap();
    assert!(
        !saw_panicking.load(Ordering::SeqCst),
        "a sibling coroutine ran on the worker while another one was unwinding a panic"
    );
    assert_eq!(sem.value(), 0, "the destructor took the permit");
}

/// The same with the `*_with` form and a [`MayWaiter`] made during the
/// unwind: it waits on the worker too, and completes.
#[test]
fn a_may_waiter_during_a_panic_waits_on_the_worker() {
    setup(1);
    let _dog = watchdog("MayWaiter during an unwind");
    struct AcquireWithOnDrop(Arc<Semaphore>, Arc<AtomicBool>);
    impl Drop for AcquireWithOnDrop {
        fn drop(&mut self) {
            let w = MayWaiter::current();
            let got = self.0.acquire_with(&w, None).is_ok();
            self.1.store(got, Ordering::SeqCst);
        }
    }
    let sem = Arc::new(Semaphore::new(0));
    let got = Arc::new(AtomicBool::new(false));
    let releaser = release_when_waited(&sem);
    let panicker = {
        let (sem, got) = (sem.clone(), got.clone());
        go(move || {
            let _wait = AcquireWithOnDrop(sem, got);
            panic!("boom (expected)");
        })
    };
    assert!(panicker.join().is_err());
    releaser.join().unwrap();
    assert!(got.load(Ordering::SeqCst), "the wait got the permit");
}

/// A timed wait during an unwind times out on the worker (nobody releases):
/// the carrier's wait keeps deadlines.
#[test]
fn a_timed_wait_during_a_panic_times_out() {
    setup(1);
    let _dog = watchdog("timed wait during an unwind");
    struct TryOnDrop(Arc<Semaphore>, Arc<AtomicBool>);
    impl Drop for TryOnDrop {
        fn drop(&mut self) {
            let got = self.0.try_acquire_for(Duration::from_millis(1));
            self.1.store(got.is_none(), Ordering::SeqCst);
        }
    }
    let sem = Arc::new(Semaphore::new(0));
    let timed_out = Arc::new(AtomicBool::new(false));
    let panicker = {
        let (sem, timed_out) = (sem.clone(), timed_out.clone());
        go(move || {
            let _try = TryOnDrop(sem, timed_out);
            panic!("boom (expected)");
        })
    };
    assert!(panicker.join().is_err());
    assert!(timed_out.load(Ordering::SeqCst), "the timed wait timed out");
    assert_eq!(sem.waiting(), 0, "and withdrew");
}

/// The child of [`a_wait_during_a_cancel_unwind_completes`].
fn cancel_unwind_wait() {
    setup(1);
    let sem = Arc::new(Semaphore::new(0));
    let releaser = release_when_waited(&sem);
    let started = Arc::new(AtomicBool::new(false));
    let victim = {
        let (sem, started) = (sem.clone(), started.clone());
        go(move || {
            let _wait = AcquireOnDrop(sem);
            started.store(true, Ordering::SeqCst);
            loop {
                may::coroutine::park(); // the cancel lands here
            }
        })
    };
    eventually(|| started.load(Ordering::SeqCst));
    // SAFETY: may's contract for `cancel` is that the coroutine unwinds at
    // its next park or yield, dropping what it holds: here the guard whose
    // destructor waits, which is what this scenario is about.
    #[allow(unsafe_code)]
    unsafe {
        victim.coroutine().cancel()
    };
    let payload = victim.join().expect_err("the coroutine was cancelled");
    assert!(matches!(
        payload.downcast_ref::<generator::Error>(),
        Some(generator::Error::Cancel)
    ));
    releaser.join().unwrap();
    assert_eq!(sem.value(), 0, "the destructor took the permit");
    eprintln!("child: finished normally");
}

/// A destructor that waits during may's cancellation unwind used to see the
/// cancel again at once, and the blocking form re-raised it inside the
/// destructor: the process aborted. The wait now parks the worker and
/// completes, and the coroutine ends with may's cancel.
#[test]
fn a_wait_during_a_cancel_unwind_completes() {
    if std::env::var("UNWINDING_CHILD").as_deref() == Ok("cancel") {
        cancel_unwind_wait();
        return;
    }
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "a_wait_during_a_cancel_unwind_completes",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("UNWINDING_CHILD", "cancel")
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
            panic!(
                "the child did not finish within {CHILD_LIMIT:?}; its stderr:\n{}",
                reader.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = reader.join().unwrap_or_default();
    assert!(
        status.success() && stderr.contains("child: finished normally"),
        "the child failed ({status}); its stderr:\n{stderr}"
    );
}
