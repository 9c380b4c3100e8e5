//! lock_api's guards call `RawMutex::lock` while they are alive: `bump` and
//! `unlocked`/`unlocked_fair` release, then re-lock, and the guard's drop
//! releases again. If that re-lock unwound without the lock (a waiter that
//! reports `Cancelled`, a backend that refuses to block), the guard would
//! survive the unwind and its drop, or a deref, would touch the lock of the
//! unit that was handed it: two holders. polysync's raw `lock` therefore
//! never unwinds without the lock (the re-entry panic aside, where the unit
//! is the holder): it aborts the process instead, which these tests watch
//! from a child process. The paths that succeed (a bump to a waiter and
//! back, a re-lock after `unlocked`) run in-process, also under Miri.
//!
//! The failing re-lock is reached through a registered green backend that
//! claims the current thread only while a thread-local flag is set; its
//! waiter reports `Cancelled`, or panics as polysync-tokio does on a
//! current-thread runtime; or the waiter handed the lock has a waker that
//! panics when the release wakes it. Registration is process-wide, so this is its own
//! binary.
#![cfg(feature = "lock_api")]

#[path = "support/worlds.rs"]
mod worlds;

use lock_api::MutexGuard;
use polysync::lowlevel::{
    GreenBackend, ThreadWaiter, UnitId, WaitResult, Waiter, register_backend,
};
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Waker;
use std::time::{Duration, Instant};
use worlds::Watchdog;

type Mutex<T> = lock_api::Mutex<polysync::Lock, T>;

/// How the claimed unit's waiter fails.
#[derive(Clone, Copy, PartialEq)]
enum Failure {
    /// Nothing: the backend does not claim the thread.
    None,
    /// `wait` reports `Cancelled` (a cancelled may coroutine).
    Cancelled,
    /// `wait` panics (polysync-tokio on a current-thread runtime).
    Refused,
    /// Not the holder's waiter: the waiter handed the lock is an async one
    /// whose (user) waker panics when the release wakes it.
    Waker,
}

std::thread_local! {
    static FAILURE: Cell<Failure> = const { Cell::new(Failure::None) };
}

struct Failing(Waker, Failure);

impl Waiter for Failing {
    fn waker(&self) -> Waker {
        self.0.clone()
    }

    fn wait(&self, _deadline: Option<Instant>) -> WaitResult {
        match self.1 {
            Failure::Refused => panic!("test: this unit refuses to block"),
            _ => WaitResult::Cancelled,
        }
    }
}

struct FailingBackend;

// SAFETY: `current_unit` returns `None`: the claimed thread keeps its own
// identity, so no identity is made up here.
unsafe impl GreenBackend for FailingBackend {
    fn name(&self) -> &'static str {
        "test-failing-units"
    }

    fn with_waiter(&self, f: &mut dyn FnMut(&dyn Waiter)) -> bool {
        let failure = FAILURE.with(Cell::get);
        if failure == Failure::None {
            return false;
        }
        let waiter = Failing(ThreadWaiter::with_current(|w| w.waker()), failure);
        f(&waiter);
        true
    }

    fn current_unit(&self) -> Option<UnitId> {
        None
    }
}

static BACKEND: FailingBackend = FailingBackend;

/// The environment variable that makes this binary a child running one
/// scenario.
const CHILD: &str = "POLYSYNC_LOCK_API_UNWIND_CHILD";

/// How the holder gives the lock away and takes it back.
fn relock(how: &str, g: &mut MutexGuard<'_, polysync::Lock, u32>) {
    match how {
        "bump" => MutexGuard::bump(g),
        "unlocked" => MutexGuard::unlocked(g, || ()),
        "unlocked_fair" => MutexGuard::unlocked_fair(g, || ()),
        other => unreachable!("{other}"),
    }
}

/// The child's scenario: the holder's re-lock fails while another thread
/// was handed the lock. The fixed crate aborts inside `relock`; the old one
/// unwound, and the surviving guard freed the other thread's lock, so a
/// third party got in while it held (reported as a panic: exit code 101).
fn child(how: &str, failure: Failure) {
    if failure == Failure::Waker {
        return child_waker(how);
    }
    register_backend(&BACKEND).unwrap();
    // Strict hand-off, so that B is handed the lock by the release and the
    // re-lock has to wait (with bounded fairness the re-lock of a running
    // holder may simply take the lock back, and nothing fails).
    let m = Arc::new(Mutex::from_raw(polysync::Lock::new_fair(), 0));
    let mut g = m.lock();
    let holding = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let b = {
        let (m, holding, done) = (m.clone(), holding.clone(), done.clone());
        std::thread::spawn(move || {
            let _g = m.lock();
            holding.store(true, Ordering::SeqCst);
            worlds::wait_until("the parent is done", || done.load(Ordering::SeqCst));
        })
    };
    // SAFETY: the raw lock is only read here, never unlocked.
    worlds::wait_until("B waits", || unsafe { m.raw() }.waiting() == 1);
    FAILURE.with(|f| f.set(failure));
    let out = catch_unwind(AssertUnwindSafe(|| relock(how, &mut g)));
    FAILURE.with(|f| f.set(Failure::None));
    eprintln!("CHILD: the re-lock returned (unwound: {})", out.is_err());
    worlds::wait_until("B holds", || holding.load(Ordering::SeqCst));
    drop(g);
    let third = m.try_lock().is_some();
    done.store(true, Ordering::SeqCst);
    b.join().unwrap();
    assert!(!third, "a third party entered while B held the lock");
}

/// A waker that panics when woken.
struct PanickingWaker;

impl std::task::Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("test: a user's waker panics");
    }
}

/// The child's scenario when the release's wake-up panics: the waiter the
/// lock is handed to is an async acquire with a panicking waker. The old
/// crate unwound out of the release with the guard alive; its drop freed
/// the lock the future had been handed.
fn child_waker(how: &str) {
    use std::future::Future;
    use std::task::{Context, Poll};
    // Strict hand-off, as in `child`.
    let m = Mutex::from_raw(polysync::Lock::new_fair(), 0);
    let mut g = m.lock();
    // SAFETY: the raw lock is only used to queue an async acquisition.
    let raw = unsafe { m.raw() };
    let mut fut = Box::pin(raw.acquire());
    let waker = Waker::from(Arc::new(PanickingWaker));
    assert!(
        fut.as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    );
    let out = catch_unwind(AssertUnwindSafe(|| relock(how, &mut g)));
    eprintln!("CHILD: the re-lock returned (unwound: {})", out.is_err());
    // The future was handed the lock: it holds it now.
    let Poll::Ready(held) = fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) else {
        panic!("the future was not handed the lock");
    };
    drop(g);
    let third = m.try_lock().is_some();
    drop(held);
    assert!(
        !third,
        "a third party entered while the future held the lock"
    );
}

/// Runs `scenario` in a child process; it must abort with polysync's
/// message (never return, never let a third party in).
fn aborts(scenario: &str) {
    let _dog = Watchdog::new("lock_api unwind child", Duration::from_secs(60));
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_scenario",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, scenario)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && out.status.code().is_none(),
        "{scenario}: the child was not killed by a signal ({:?}):\n{stderr}",
        out.status
    );
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            out.status.signal(),
            Some(6),
            "{scenario}: not SIGABRT:\n{stderr}"
        );
    }
    assert!(
        stderr.contains("polysync: lock_api") && !stderr.contains("CHILD: the re-lock returned"),
        "{scenario}: no abort message, or the re-lock returned:\n{stderr}"
    );
}

/// The child's entry: a no-op unless the parent named a scenario.
#[test]
fn child_scenario() {
    let Ok(scenario) = std::env::var(CHILD) else {
        return;
    };
    let (how, failure) = scenario.split_once('/').unwrap();
    let failure = match failure {
        "cancelled" => Failure::Cancelled,
        "refused" => Failure::Refused,
        "waker" => Failure::Waker,
        other => unreachable!("{other}"),
    };
    if how == "lock" {
        // A plain lock whose wait fails: no guard exists, but the raw lock
        // cannot tell, so it aborts as well.
        register_backend(&BACKEND).unwrap();
        let m = Mutex::new(0);
        let g = m.lock();
        std::thread::scope(|s| {
            s.spawn(|| {
                FAILURE.with(|f| f.set(failure));
                drop(catch_unwind(AssertUnwindSafe(|| m.lock())));
                eprintln!("CHILD: the re-lock returned");
            });
        });
        drop(g);
    } else {
        child(how, failure);
    }
}

#[test]
#[cfg_attr(miri, ignore = "runs a child process")]
fn a_bump_whose_relock_is_cancelled_aborts() {
    aborts("bump/cancelled");
}

#[test]
#[cfg_attr(miri, ignore = "runs a child process")]
fn a_bump_whose_relock_is_refused_aborts() {
    aborts("bump/refused");
}

#[test]
#[cfg_attr(miri, ignore = "runs a child process")]
fn an_unlocked_relock_that_is_cancelled_aborts() {
    aborts("unlocked/cancelled");
    aborts("unlocked_fair/refused");
}

#[test]
#[cfg_attr(miri, ignore = "runs a child process")]
fn a_release_whose_wake_up_panics_aborts() {
    aborts("bump/waker");
    aborts("unlocked/waker");
}

#[test]
#[cfg_attr(miri, ignore = "runs a child process")]
fn a_plain_lock_whose_wait_fails_aborts() {
    aborts("lock/cancelled");
}

/// A bump with a waiter: the waiter runs in between, nobody else ever gets
/// in (a third thread that only tries), and the bumping holder has the lock
/// back afterwards.
#[test]
fn a_bump_hands_over_and_takes_back_without_a_third_party() {
    let _dog = Watchdog::new("lock_api bump", Duration::from_secs(60));
    let m = Arc::new(Mutex::new(0u32));
    let inside = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut g = m.lock();
    let waiter = {
        let (m, inside) = (m.clone(), inside.clone());
        std::thread::spawn(move || {
            let mut g = m.lock();
            assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders");
            *g += 1;
            inside.fetch_sub(1, Ordering::SeqCst);
        })
    };
    let prober = {
        let (m, inside, stop) = (m.clone(), inside.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                if let Some(_g) = m.try_lock() {
                    assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                    inside.fetch_sub(1, Ordering::SeqCst);
                }
                std::thread::yield_now();
            }
        })
    };
    // SAFETY: the raw lock is only read here, never unlocked.
    worlds::wait_until("the waiter waits", || unsafe { m.raw() }.waiting() >= 1);
    MutexGuard::bump(&mut g);
    assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders");
    *g += 1;
    inside.fetch_sub(1, Ordering::SeqCst);
    waiter.join().unwrap();
    // The waiter ran during the bump (it was queued; FIFO hands it the lock).
    assert_eq!(*g, 2);
    drop(g);
    stop.store(true, Ordering::SeqCst);
    prober.join().unwrap();
    assert_eq!(*m.lock(), 2);
}

/// `unlocked` with a waiter: the waiter gets the lock while the closure
/// runs, and the guard holds it again afterwards.
#[test]
fn unlocked_lets_a_waiter_in_and_relocks() {
    let _dog = Watchdog::new("lock_api unlocked", Duration::from_secs(60));
    let m = Arc::new(Mutex::new(0u32));
    let mut g = m.lock();
    let waiter = {
        let m = m.clone();
        std::thread::spawn(move || *m.lock() += 1)
    };
    // SAFETY: the raw lock is only read here, never unlocked.
    worlds::wait_until("the waiter waits", || unsafe { m.raw() }.waiting() == 1);
    MutexGuard::unlocked(&mut g, || waiter.join().unwrap());
    *g += 1;
    assert_eq!(*g, 2);
    drop(g);
    assert!(!m.is_locked());
}
