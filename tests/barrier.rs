//! `Latch`, `Barrier` and `RBarrier` across worlds, and aiologic's barrier
//! scenarios (11 and 12) in our own words.
//!
//! What is proven:
//! - Cross-world phases: the parties of one phase are an OS thread (blocking
//!   wait), a tokio task (current-thread and multi-thread runtimes, each in
//!   its own thread) and a `futures_lite::block_on` task (in another thread);
//!   the party that opens the phase is of each kind in turn. All pass, and
//!   `Barrier`/`RBarrier` hand out indices in arrival order (opener last).
//! - Scenario 11: `Barrier(3)` gives 0, 1, 2 in arrival order (parties
//!   enqueued one at a time, each after `waiting()` showed the previous one);
//!   a timeout in one party breaks the barrier for all of them, and later
//!   waits of every form fail fast; a dropped async wait (tokio timeout,
//!   futures-lite poll-once-then-drop) breaks it too, while dropping a wait
//!   that was never polled does not; `RBarrier::reset` breaks the current
//!   waiters and the barrier is usable again.
//! - Scenario 12: a `Latch` that passed returns at once in every form; an
//!   `abort()` afterwards makes every wait fail; a timed-out or dropped wait
//!   before it passed breaks it.
//! - Phases: many parties of mixed kinds loop over hundreds of phases; each
//!   phase's index set is exactly `0..parties`. A phase of 40 parties (more
//!   than one wake batch of 16) works too, and parties that arrive while a
//!   big phase is still being woken belong to the next phase (made
//!   deterministic with a waker that arrives from inside `wake`).
//! - A cancellation storm (timeouts, dropped futures, resets, aborts, across
//!   threads, tokio and futures-lite) bounded to about 2.5 s: a watchdog
//!   proves no waiter is left hanging, every wait returns an index below
//!   `parties` or an error, and the barrier works normally afterwards.
//! - A green unit cancelled while it waits (a backend's waiter reports
//!   `Cancelled`) gives up like a timed-out wait: it breaks the barrier.
//! - Edge cases: `parties == 0` opens only by breaking, `parties == 1` always
//!   passes at once; `try_wait` never arrives unless it can pass; `Debug`
//!   shows the state; auto traits and sizes.

#[path = "support/probe.rs"]
mod probe;
#[path = "support/soak.rs"]
mod soak;
use probe::{WakeCount, poll_with};
#[path = "support/worlds.rs"]
mod worlds;
use worlds::Watchdog;

use futures_lite::future::poll_once;
use polysync::barrier::{
    Barrier, BarrierWait, BarrierWaitError, BarrierWaitResult, BrokenBarrierError, Latch,
    LatchWait, RBarrier,
};
use static_assertions::{assert_impl_all, assert_not_impl_any, const_assert};
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Static checks
// ---------------------------------------------------------------------------

assert_impl_all!(Latch: Send, Sync, std::fmt::Debug);
assert_impl_all!(Barrier: Send, Sync, std::fmt::Debug);
assert_impl_all!(RBarrier: Send, Sync, std::fmt::Debug);
assert_impl_all!(LatchWait<'static>: Send, Sync, std::fmt::Debug);
assert_impl_all!(BarrierWait<'static>: Send, Sync, std::fmt::Debug);
assert_not_impl_any!(LatchWait<'static>: Unpin);
assert_not_impl_any!(BarrierWait<'static>: Unpin);
assert_impl_all!(BrokenBarrierError: std::error::Error, Send, Sync, Copy, Eq);
assert_impl_all!(BarrierWaitError: std::error::Error, Send, Sync, Copy, Eq, From<BrokenBarrierError>);
const_assert!(std::mem::size_of::<BarrierWait<'static>>() <= 64);
const_assert!(std::mem::size_of::<LatchWait<'static>>() <= 64);
const_assert!(std::mem::size_of::<Barrier>() <= 64);
const_assert!(std::mem::size_of::<Latch>() <= 32);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Polls `cond` every half millisecond for at most 10 s.
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "gave up waiting for: {what}"
        );
        thread::sleep(Duration::from_micros(500));
    }
}

/// The barrier kinds behind one interface, so that every scenario runs on
/// each. A latch reports index 0.
trait Party: Send + Sync + 'static {
    fn make(parties: usize) -> Self;
    fn wait_async(&self) -> impl Future<Output = Result<usize, BrokenBarrierError>> + Send + '_;
    fn wait_block(&self) -> Result<usize, BrokenBarrierError>;
    fn wait_for(&self, timeout: Duration) -> Result<usize, BarrierWaitError>;
    fn wait_until(&self, deadline: Instant) -> Result<usize, BarrierWaitError>;
    fn is_broken(&self) -> bool;
    fn waiting(&self) -> usize;
    /// Whether the waits return arrival indices.
    const INDEXED: bool;
}

impl Party for Latch {
    const INDEXED: bool = false;
    fn make(parties: usize) -> Self {
        Latch::new(parties)
    }
    async fn wait_async(&self) -> Result<usize, BrokenBarrierError> {
        self.wait().await.map(|()| 0)
    }
    fn wait_block(&self) -> Result<usize, BrokenBarrierError> {
        self.wait_blocking().map(|()| 0)
    }
    fn wait_for(&self, timeout: Duration) -> Result<usize, BarrierWaitError> {
        self.try_wait_for(timeout).map(|()| 0)
    }
    fn wait_until(&self, deadline: Instant) -> Result<usize, BarrierWaitError> {
        self.try_wait_until(deadline).map(|()| 0)
    }
    fn is_broken(&self) -> bool {
        Latch::is_broken(self)
    }
    fn waiting(&self) -> usize {
        Latch::waiting(self)
    }
}

macro_rules! cyclic_party {
    ($ty:ident) => {
        impl Party for $ty {
            const INDEXED: bool = true;
            fn make(parties: usize) -> Self {
                $ty::new(parties)
            }
            fn wait_async(
                &self,
            ) -> impl Future<Output = Result<usize, BrokenBarrierError>> + Send + '_ {
                async { self.wait().await.map(|r| r.index()) }
            }
            fn wait_block(&self) -> Result<usize, BrokenBarrierError> {
                self.wait_blocking().map(|r| r.index())
            }
            fn wait_for(&self, timeout: Duration) -> Result<usize, BarrierWaitError> {
                self.try_wait_for(timeout).map(|r| r.index())
            }
            fn wait_until(&self, deadline: Instant) -> Result<usize, BarrierWaitError> {
                self.try_wait_until(deadline).map(|r| r.index())
            }
            fn is_broken(&self) -> bool {
                $ty::is_broken(self)
            }
            fn waiting(&self) -> usize {
                $ty::waiting(self)
            }
        }
    };
}
cyclic_party!(Barrier);
cyclic_party!(RBarrier);

/// How a party waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An OS thread, `wait_blocking`.
    Thread,
    /// An OS thread, `try_wait_until` with a far deadline.
    ThreadTimed,
    /// A task on a current-thread tokio runtime in its own thread.
    TokioCurrent,
    /// A task spawned on a multi-thread tokio runtime (2 workers).
    TokioMulti,
    /// `futures_lite::future::block_on` in its own thread.
    FuturesLite,
}

const KINDS: [Kind; 5] = [
    Kind::Thread,
    Kind::ThreadTimed,
    Kind::TokioCurrent,
    Kind::TokioMulti,
    Kind::FuturesLite,
];

type Outcome = Result<usize, BrokenBarrierError>;

/// Starts one party of `kind` that waits once; the handle yields its outcome.
fn spawn_party<B: Party>(kind: Kind, b: Arc<B>) -> thread::JoinHandle<Outcome> {
    thread::spawn(move || arrive(kind, &b))
}

/// Waits once on the calling thread, in the way of `kind`.
fn arrive<B: Party>(kind: Kind, b: &Arc<B>) -> Outcome {
    match kind {
        Kind::Thread => b.wait_block(),
        Kind::ThreadTimed => b
            .wait_until(Instant::now() + Duration::from_secs(60))
            .map_err(|e| {
                assert_eq!(e, BarrierWaitError::Broken, "no timeout expected");
                BrokenBarrierError
            }),
        Kind::TokioCurrent => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(b.wait_async()),
        Kind::TokioMulti => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let b = b.clone();
            rt.block_on(async move { tokio::spawn(async move { b.wait_async().await }).await })
                .unwrap()
        }
        Kind::FuturesLite => futures_lite::future::block_on(b.wait_async()),
    }
}

/// Tiny xorshift generator (no dependency needed).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

// ---------------------------------------------------------------------------
// Cross-world phases
// ---------------------------------------------------------------------------

/// Parties of every other kind queue one at a time, then a party of `opener`
/// kind arrives and opens: everyone passes, indices in arrival order.
fn cross_world_once<B: Party>(opener: Kind) {
    let waiters: Vec<Kind> = KINDS.iter().copied().filter(|&k| k != opener).collect();
    let b = Arc::new(B::make(waiters.len() + 1));
    let mut handles = Vec::new();
    for (i, &kind) in waiters.iter().enumerate() {
        handles.push(spawn_party(kind, b.clone()));
        wait_until(&format!("{kind:?} queued"), || b.waiting() == i + 1);
    }
    let mine = arrive(opener, &b);
    let others: Vec<Outcome> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    if B::INDEXED {
        assert_eq!(mine, Ok(waiters.len()), "the opener is the last arrival");
        for (i, got) in others.iter().enumerate() {
            assert_eq!(*got, Ok(i), "{:?} queued as #{i}", waiters[i]);
        }
    } else {
        assert_eq!(mine, Ok(0));
        assert!(others.iter().all(|o| *o == Ok(0)), "{others:?}");
    }
    assert_eq!(b.waiting(), 0);
    assert!(!b.is_broken());
}

#[test]
fn cross_world_every_kind_opens() {
    let _dog = Watchdog::new("cross_world_every_kind_opens", Duration::from_secs(60));
    for opener in KINDS {
        cross_world_once::<Latch>(opener);
        cross_world_once::<Barrier>(opener);
        cross_world_once::<RBarrier>(opener);
    }
}

#[test]
fn cross_world_consecutive_phases() {
    // Three kinds of parties loop over 200 phases of one barrier.
    let _dog = Watchdog::new("cross_world_consecutive_phases", Duration::from_secs(60));
    const PHASES: usize = 200;
    let b = Arc::new(Barrier::new(3));
    let t = {
        let b = b.clone();
        thread::spawn(move || {
            (0..PHASES)
                .map(|_| b.wait_blocking().unwrap().index())
                .collect()
        })
    };
    let tokio = {
        let b = b.clone();
        thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(async {
                    let mut v = Vec::new();
                    for _ in 0..PHASES {
                        v.push(b.wait().await.unwrap().index());
                    }
                    v
                })
        })
    };
    let fl: Vec<usize> = futures_lite::future::block_on(async {
        let mut v = Vec::new();
        for _ in 0..PHASES {
            v.push(b.wait().await.unwrap().index());
        }
        v
    });
    let t: Vec<usize> = t.join().unwrap();
    let tokio: Vec<usize> = tokio.join().unwrap();
    for p in 0..PHASES {
        let set: BTreeSet<usize> = [t[p], tokio[p], fl[p]].into();
        assert_eq!(set, (0..3).collect(), "phase {p}");
    }
}

// ---------------------------------------------------------------------------
// Scenario 11: Barrier
// ---------------------------------------------------------------------------

#[test]
fn barrier3_indices_follow_arrival_order() {
    let _dog = Watchdog::new(
        "barrier3_indices_follow_arrival_order",
        Duration::from_secs(60),
    );
    // Several orders of kinds; the index always follows the arrival.
    let orders = [
        [Kind::Thread, Kind::TokioMulti, Kind::FuturesLite],
        [Kind::FuturesLite, Kind::Thread, Kind::TokioCurrent],
        [Kind::TokioCurrent, Kind::FuturesLite, Kind::ThreadTimed],
    ];
    for order in orders {
        let b = Arc::new(Barrier::new(3));
        let mut handles = Vec::new();
        for (i, &kind) in order[..2].iter().enumerate() {
            handles.push(spawn_party(kind, b.clone()));
            wait_until("queued", || b.waiting() == i + 1);
        }
        handles.push(spawn_party(order[2], b.clone()));
        let got: Vec<Outcome> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(got, [Ok(0), Ok(1), Ok(2)], "{order:?}");
        assert_eq!(b.waiting(), 0);
    }
}

/// One party times out: the queued parties get the broken error, the timed
/// out one `TimedOut`, and later waits of every form fail fast.
fn timeout_breaks_for_all<B: Party>() {
    // Four parties: two queue, the third times out, the fourth never comes.
    let b = Arc::new(B::make(4));
    let a = spawn_party(Kind::Thread, b.clone());
    wait_until("first queued", || b.waiting() == 1);
    let c = spawn_party(Kind::TokioMulti, b.clone());
    wait_until("second queued", || b.waiting() == 2);
    let start = Instant::now();
    assert_eq!(
        b.wait_for(Duration::from_millis(30)),
        Err(BarrierWaitError::TimedOut)
    );
    assert!(start.elapsed() >= Duration::from_millis(30));
    assert_eq!(a.join().unwrap(), Err(BrokenBarrierError));
    assert_eq!(c.join().unwrap(), Err(BrokenBarrierError));
    assert!(b.is_broken());
    assert_eq!(b.waiting(), 0);
    // Later waits fail fast, in every form: a wait that waited instead would
    // hang (an hour) and trip the watchdog; no assertion reads the clock.
    let hour = Duration::from_secs(3600);
    assert!(b.wait_block().is_err());
    assert_eq!(b.wait_for(hour), Err(BarrierWaitError::Broken));
    assert_eq!(
        b.wait_until(Instant::now() + hour),
        Err(BarrierWaitError::Broken)
    );
    assert!(futures_lite::future::block_on(b.wait_async()).is_err());
    for kind in KINDS {
        assert!(arrive(kind, &b).is_err(), "{kind:?}");
    }
    assert_eq!(b.waiting(), 0);
}

#[test]
fn timeout_in_one_party_breaks_it_for_all() {
    let _dog = Watchdog::new(
        "timeout_in_one_party_breaks_it_for_all",
        Duration::from_secs(60),
    );
    timeout_breaks_for_all::<Barrier>();
    timeout_breaks_for_all::<RBarrier>();
    timeout_breaks_for_all::<Latch>();
}

#[test]
fn zero_timeout_breaks_unless_it_opens() {
    let b = Barrier::new(2);
    assert_eq!(
        b.try_wait_for(Duration::ZERO),
        Err(BarrierWaitError::TimedOut)
    );
    assert!(b.is_broken());
    let b = Barrier::new(2);
    thread::scope(|s| {
        let w = s.spawn(|| b.wait_blocking());
        wait_until("queued", || b.waiting() == 1);
        assert_eq!(b.try_wait_for(Duration::ZERO).map(|r| r.index()), Ok(1));
        assert_eq!(w.join().unwrap().map(|r| r.index()), Ok(0));
    });
    assert!(!b.is_broken());
}

/// A dropped async wait breaks the barrier: through a tokio timeout, and by
/// polling once and dropping with futures-lite.
fn dropped_wait_breaks<B: Party>() {
    // tokio::time::timeout on a multi-thread runtime.
    let b = Arc::new(B::make(3));
    let a = spawn_party(Kind::Thread, b.clone());
    wait_until("queued", || b.waiting() == 1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let b2 = b.clone();
    let elapsed = rt.block_on(async move {
        tokio::spawn(async move {
            tokio::time::timeout(Duration::from_millis(20), b2.wait_async())
                .await
                .is_err()
        })
        .await
        .unwrap()
    });
    assert!(elapsed, "the tokio wait must time out");
    assert!(a.join().unwrap().is_err());
    assert!(b.is_broken());
    assert!(arrive(Kind::TokioCurrent, &b).is_err());
    assert_eq!(b.waiting(), 0);

    // futures-lite: poll once (queues), then drop.
    let b = Arc::new(B::make(3));
    let a = spawn_party(Kind::FuturesLite, b.clone());
    wait_until("queued", || b.waiting() == 1);
    assert!(futures_lite::future::block_on(poll_once(b.wait_async())).is_none());
    assert!(a.join().unwrap().is_err());
    assert!(b.is_broken());
    assert_eq!(b.waiting(), 0);

    // A wait future that was never polled did not arrive: dropping it is harmless.
    let b = B::make(2);
    drop(b.wait_async());
    assert!(!b.is_broken());
    assert_eq!(b.waiting(), 0);
}

#[test]
fn dropped_async_wait_breaks_it() {
    let _dog = Watchdog::new("dropped_async_wait_breaks_it", Duration::from_secs(60));
    dropped_wait_breaks::<Barrier>();
    dropped_wait_breaks::<RBarrier>();
    dropped_wait_breaks::<Latch>();
}

#[test]
fn dropping_a_woken_but_unpolled_wait_breaks_the_next_phase() {
    // The phase opened for the dropped party, so the others keep their
    // indices; but it will not arrive for the next phase: the barrier breaks.
    let b = Barrier::new(2);
    let (_, waker) = WakeCount::new();
    let mut first = Box::pin(b.wait());
    assert!(poll_with(first.as_mut(), &waker).is_pending());
    assert_eq!(
        futures_lite::future::block_on(b.wait()).map(|r| r.index()),
        Ok(1)
    );
    assert!(!b.is_broken());
    drop(first); // notified with index 0, never polled again
    assert!(b.is_broken());
    // A latch that passed is not broken by that.
    let l = Latch::new(2);
    let mut first = Box::pin(l.wait());
    assert!(poll_with(first.as_mut(), &waker).is_pending());
    assert_eq!(l.try_wait(), Ok(true));
    drop(first);
    assert!(!l.is_broken());
}

#[test]
fn abort_breaks_waiters_and_keeps_opened_indices() {
    let b = Barrier::new(3);
    let (wakes, waker) = WakeCount::new();
    let mut w0 = Box::pin(b.wait());
    let mut w1 = Box::pin(b.wait());
    assert!(poll_with(w0.as_mut(), &waker).is_pending());
    assert!(poll_with(w1.as_mut(), &waker).is_pending());
    b.abort();
    assert_eq!(wakes.get(), 2);
    assert_eq!(
        poll_with(w0.as_mut(), &waker),
        Poll::Ready(Err(BrokenBarrierError))
    );
    assert_eq!(
        poll_with(w1.as_mut(), &waker),
        Poll::Ready(Err(BrokenBarrierError))
    );
    b.abort(); // idempotent
    assert!(b.is_broken());
    assert_eq!(b.try_wait(), Err(BrokenBarrierError));
}

#[test]
fn rbarrier_reset_breaks_current_waiters_then_works() {
    let _dog = Watchdog::new(
        "rbarrier_reset_breaks_current_waiters_then_works",
        Duration::from_secs(60),
    );
    let b = Arc::new(RBarrier::new(3));
    let a = spawn_party(Kind::Thread, b.clone());
    wait_until("queued", || b.waiting() == 1);
    let c = spawn_party(Kind::TokioCurrent, b.clone());
    wait_until("queued", || b.waiting() == 2);
    b.reset();
    assert!(a.join().unwrap().is_err());
    assert!(c.join().unwrap().is_err());
    assert!(!b.is_broken());
    assert_eq!(b.waiting(), 0);
    // Usable again: a full phase of three kinds.
    for round in 0..3 {
        let a = spawn_party(Kind::FuturesLite, b.clone());
        let c = spawn_party(Kind::TokioMulti, b.clone());
        let mine = b.wait_blocking().unwrap().index();
        let set: BTreeSet<usize> =
            [mine, a.join().unwrap().unwrap(), c.join().unwrap().unwrap()].into();
        assert_eq!(set, (0..3).collect(), "round {round}");
    }
    // A reset repairs an aborted barrier and a timed-out one.
    b.abort();
    assert!(b.wait_blocking().is_err());
    b.reset();
    assert_eq!(
        b.try_wait_for(Duration::from_millis(5)),
        Err(BarrierWaitError::TimedOut)
    );
    assert!(b.is_broken());
    b.reset();
    assert!(!b.is_broken());
    let a = spawn_party(Kind::Thread, b.clone());
    let c = spawn_party(Kind::Thread, b.clone());
    let mine = b.wait_blocking().unwrap().index();
    let set: BTreeSet<usize> =
        [mine, a.join().unwrap().unwrap(), c.join().unwrap().unwrap()].into();
    assert_eq!(set, (0..3).collect());
    // Reset with nobody waiting changes nothing visible.
    b.reset();
    assert!(!b.is_broken());
    assert_eq!(b.waiting(), 0);
}

// ---------------------------------------------------------------------------
// Scenario 12: Latch
// ---------------------------------------------------------------------------

#[test]
fn latch_passed_returns_at_once_then_abort_makes_waits_fail() {
    let _dog = Watchdog::new("latch_passed_returns_at_once", Duration::from_secs(60));
    let l = Arc::new(Latch::new(2));
    assert_eq!(l.try_wait(), Ok(false), "try_wait does not arrive");
    assert_eq!(l.waiting(), 0);
    let a = spawn_party(Kind::TokioMulti, l.clone());
    wait_until("queued", || l.waiting() == 1);
    l.wait_blocking().unwrap();
    assert_eq!(a.join().unwrap(), Ok(0));
    // Passed: every form returns at once, from every world (one that waited
    // would hang: the watchdog).
    for _ in 0..3 {
        assert_eq!(l.try_wait(), Ok(true));
        assert_eq!(l.wait_blocking(), Ok(()));
        assert_eq!(l.try_wait_for(Duration::ZERO), Ok(()));
        assert_eq!(l.try_wait_until(Instant::now()), Ok(()));
        assert_eq!(futures_lite::future::block_on(l.wait()), Ok(()));
        for kind in KINDS {
            assert_eq!(arrive(kind, &l), Ok(0), "{kind:?}");
        }
    }
    assert!(!l.is_broken());
    // Abort afterwards: every wait fails.
    l.abort();
    assert!(l.is_broken());
    assert!(l.try_wait().is_err());
    assert!(l.wait_blocking().is_err());
    assert_eq!(
        l.try_wait_for(Duration::from_secs(5)),
        Err(BarrierWaitError::Broken)
    );
    assert!(futures_lite::future::block_on(l.wait()).is_err());
    for kind in KINDS {
        assert!(arrive(kind, &l).is_err(), "{kind:?}");
    }
}

#[test]
fn latch_try_wait_passes_as_last_arrival() {
    let l = Latch::new(3);
    let (_, waker) = WakeCount::new();
    let mut a = Box::pin(l.wait());
    let mut b = Box::pin(l.wait());
    assert!(poll_with(a.as_mut(), &waker).is_pending());
    assert_eq!(l.try_wait(), Ok(false));
    assert!(poll_with(b.as_mut(), &waker).is_pending());
    assert_eq!(l.try_wait(), Ok(true));
    assert_eq!(poll_with(a.as_mut(), &waker), Poll::Ready(Ok(())));
    assert_eq!(poll_with(b.as_mut(), &waker), Poll::Ready(Ok(())));
    assert_eq!(l.waiting(), 0);
}

#[test]
fn latch_abort_before_passing_breaks_waiters() {
    let _dog = Watchdog::new("latch_abort_before_passing", Duration::from_secs(60));
    let l = Arc::new(Latch::new(4));
    let hs: Vec<_> = [Kind::Thread, Kind::TokioCurrent, Kind::FuturesLite]
        .into_iter()
        .enumerate()
        .map(|(i, k)| {
            let h = spawn_party(k, l.clone());
            wait_until("queued", || l.waiting() == i + 1);
            h
        })
        .collect();
    l.abort();
    for h in hs {
        assert!(h.join().unwrap().is_err());
    }
    assert_eq!(l.try_wait(), Err(BrokenBarrierError));
    assert_eq!(l.waiting(), 0);
}

// ---------------------------------------------------------------------------
// Many phases, big phases
// ---------------------------------------------------------------------------

/// `parties` parties of mixed kinds loop over `phases` phases; the k-th wait
/// of every party belongs to phase k. Returns per-phase index sets checked.
fn many_phases<B: Party>(parties: usize, phases: usize) {
    let b = Arc::new(B::make(parties));
    let results = Arc::new(Mutex::new(vec![Vec::new(); phases]));
    let mut handles = Vec::new();
    // Split the parties: OS threads, tasks on one multi-thread tokio runtime,
    // tasks on one current-thread tokio runtime, futures-lite threads.
    let n_threads = parties / 4;
    let n_multi = parties / 4;
    let n_current = parties / 4;
    let n_fl = parties - n_threads - n_multi - n_current;
    for i in 0..n_threads {
        let (b, r) = (b.clone(), results.clone());
        handles.push(thread::spawn(move || {
            for p in 0..phases {
                let got = if i % 2 == 0 {
                    b.wait_block()
                } else {
                    b.wait_for(Duration::from_secs(60))
                        .map_err(|_| BrokenBarrierError)
                };
                r.lock().unwrap()[p].push(got.unwrap());
            }
        }));
    }
    for (n, multi) in [(n_multi, true), (n_current, false)] {
        let (b, r) = (b.clone(), results.clone());
        handles.push(thread::spawn(move || {
            let rt = if multi {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .build()
                    .unwrap()
            } else {
                tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap()
            };
            rt.block_on(async {
                let tasks: Vec<_> = (0..n)
                    .map(|_| {
                        let (b, r) = (b.clone(), r.clone());
                        tokio::spawn(async move {
                            for p in 0..phases {
                                let got = b.wait_async().await.unwrap();
                                r.lock().unwrap()[p].push(got);
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            });
        }));
    }
    for _ in 0..n_fl {
        let (b, r) = (b.clone(), results.clone());
        handles.push(thread::spawn(move || {
            futures_lite::future::block_on(async {
                for p in 0..phases {
                    let got = b.wait_async().await.unwrap();
                    r.lock().unwrap()[p].push(got);
                }
            })
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    let results = results.lock().unwrap();
    for (p, got) in results.iter().enumerate() {
        let mut got = got.clone();
        got.sort_unstable();
        if B::INDEXED {
            assert_eq!(got, (0..parties).collect::<Vec<_>>(), "phase {p}");
        } else {
            assert_eq!(got.len(), parties);
        }
    }
    assert_eq!(b.waiting(), 0);
    assert!(!b.is_broken());
}

#[test]
fn many_phases_mixed_parties() {
    let _dog = Watchdog::new("many_phases_mixed_parties", Duration::from_secs(120));
    many_phases::<Barrier>(6, 300);
    many_phases::<RBarrier>(5, 300);
    many_phases::<Barrier>(2, 1000);
}

#[test]
fn big_phases_wake_in_batches() {
    let _dog = Watchdog::new("big_phases_wake_in_batches", Duration::from_secs(120));
    many_phases::<Barrier>(40, 30);
    many_phases::<RBarrier>(37, 30);
    // A latch with more parties than one wake batch.
    let l = Arc::new(Latch::new(40));
    let hs: Vec<_> = (0..39)
        .map(|i| spawn_party(KINDS[i % KINDS.len()], l.clone()))
        .collect();
    wait_until("39 queued", || l.waiting() == 39);
    assert_eq!(arrive(Kind::TokioMulti, &l), Ok(0));
    for h in hs {
        assert_eq!(h.join().unwrap(), Ok(0));
    }
    assert_eq!(l.waiting(), 0);
}

/// A waker that runs a closure (once) when woken.
struct OnWake(Mutex<Option<Box<dyn FnOnce() + Send>>>);

impl Wake for OnWake {
    fn wake(self: Arc<Self>) {
        let f = self.0.lock().unwrap().take();
        if let Some(f) = f {
            f();
        }
    }
}

#[test]
fn arrivals_during_a_big_opening_belong_to_the_next_phase() {
    // 20 parties: 19 queue, the 20th opens and wakes them in batches of 16.
    // The first woken party's waker makes 20 new parties arrive right then,
    // while 3 parties of the first phase are still queued: they must form the
    // next phase (indices 0..20 in arrival order), not join the first.
    const P: usize = 20;
    let b: &'static Barrier = Box::leak(Box::new(Barrier::new(P)));
    type Fut = Pin<Box<BarrierWait<'static>>>;
    let (_, plain) = WakeCount::new();
    let second: Arc<Mutex<Vec<Fut>>> = Arc::new(Mutex::new(Vec::new()));
    let hook = {
        let second = second.clone();
        let plain = plain.clone();
        Arc::new(OnWake(Mutex::new(Some(Box::new(move || {
            let mut second = second.lock().unwrap();
            for _ in 0..P {
                let mut fut: Fut = Box::pin(b.wait());
                // Every one queues, even the 20th: the first phase is still
                // being woken.
                assert!(poll_with(fut.as_mut(), &plain).is_pending());
                second.push(fut);
            }
        })))))
    };
    let hook = Waker::from(hook);
    let mut first: Vec<Fut> = Vec::new();
    for i in 0..P - 1 {
        let mut fut: Fut = Box::pin(b.wait());
        let waker = if i == 0 { &hook } else { &plain };
        assert!(poll_with(fut.as_mut(), waker).is_pending());
        first.push(fut);
    }
    assert_eq!(b.waiting(), P - 1);
    // The opener: returns only after waking everyone (and opening phase 2).
    assert_eq!(
        futures_lite::future::block_on(b.wait()).map(|r| r.index()),
        Ok(P - 1)
    );
    for (i, fut) in first.iter_mut().enumerate() {
        assert_eq!(
            poll_with(fut.as_mut(), &plain).map_ok(|r| r.index()),
            Poll::Ready(Ok(i)),
            "phase 1, #{i}"
        );
    }
    let mut second = second.lock().unwrap();
    assert_eq!(second.len(), P, "the hook ran");
    for (i, fut) in second.iter_mut().enumerate() {
        assert_eq!(
            poll_with(fut.as_mut(), &plain).map_ok(|r| r.index()),
            Poll::Ready(Ok(i)),
            "phase 2, #{i}"
        );
    }
    assert_eq!(b.waiting(), 0);
    assert!(!b.is_broken());
}

// ---------------------------------------------------------------------------
// Cancellation storm
// ---------------------------------------------------------------------------

struct Tally {
    waits: AtomicUsize,
    passed: AtomicUsize,
    broken: AtomicUsize,
    timed_out: AtomicUsize,
    cancelled: AtomicUsize,
    by_index: [AtomicUsize; STORM_PARTIES],
    budget: soak::Budget,
}

const STORM_PARTIES: usize = 3;

impl Tally {
    fn new(budget: soak::Budget) -> Tally {
        Tally {
            waits: AtomicUsize::new(0),
            passed: AtomicUsize::new(0),
            broken: AtomicUsize::new(0),
            timed_out: AtomicUsize::new(0),
            cancelled: AtomicUsize::new(0),
            by_index: Default::default(),
            budget,
        }
    }

    fn record(&self, outcome: Result<BarrierWaitResult, BarrierWaitError>) {
        self.waits.fetch_add(1, Ordering::Relaxed);
        self.budget.add(1);
        match outcome {
            Ok(r) => {
                let i = r.index();
                assert!(i < STORM_PARTIES, "index {i} out of range");
                self.passed.fetch_add(1, Ordering::Relaxed);
                self.by_index[i].fetch_add(1, Ordering::Relaxed);
            }
            Err(BarrierWaitError::TimedOut) => {
                self.timed_out.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.broken.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// A future dropped before it completed.
    fn record_cancelled(&self) {
        self.waits.fetch_add(1, Ordering::Relaxed);
        self.budget.add(1);
        self.cancelled.fetch_add(1, Ordering::Relaxed);
    }
}

/// One party that the end of the storm adds to fill the phase that workers
/// still wait in: a future polled only when its waker was called, so a lost
/// wake-up leaves it pending.
struct Fill<'a> {
    wait: Pin<Box<BarrierWait<'a>>>,
    count: Arc<WakeCount>,
    waker: Waker,
    seen: usize,
}

/// Random timeouts, dropped futures, resets and aborts across worlds. At the
/// end nothing is reset: the phases that workers still wait in are filled
/// with new parties (futures polled only when woken), so a party whose
/// wake-up was lost stays stuck and fails the test (bounded) instead of
/// being freed by a `reset()`. `POLYSYNC_SOAK=1`: see tests/support/soak.rs.
#[test]
fn cancellation_storm_leaves_no_waiter_hanging() {
    let _dog = Watchdog::new(
        "cancellation_storm",
        soak::watchdog(Duration::from_secs(30)),
    );
    let started = Instant::now();
    let b = Arc::new(RBarrier::new(STORM_PARTIES));
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::new(soak::Budget::new(Duration::from_millis(2500))));
    let alive = Arc::new(AtomicUsize::new(0));
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("storm seed {seed}");
    let mut handles = Vec::new();

    // Two OS threads: untimed waits, timed waits with short deadlines.
    for w in 0..2u64 {
        let (b, stop, tally, alive) = (b.clone(), stop.clone(), tally.clone(), alive.clone());
        alive.fetch_add(1, Ordering::SeqCst);
        handles.push(thread::spawn(move || {
            let mut rng = Rng::new(seed + w);
            while !stop.load(Ordering::Relaxed) {
                let outcome = match rng.below(3) {
                    0 => b.wait_blocking().map_err(BarrierWaitError::from),
                    1 => b.try_wait_for(Duration::from_micros(rng.below(3000))),
                    _ => b.try_wait_until(Instant::now() + Duration::from_micros(rng.below(300))),
                };
                if outcome.is_err() {
                    // Do not spin on a broken barrier: let the chaos repair it.
                    thread::sleep(Duration::from_micros(rng.below(400)));
                }
                tally.record(outcome);
            }
            alive.fetch_sub(1, Ordering::SeqCst);
        }));
    }
    // Two tokio tasks on a multi-thread runtime: tokio timeouts drop futures.
    {
        let (b, stop, tally, alive) = (b.clone(), stop.clone(), tally.clone(), alive.clone());
        alive.fetch_add(1, Ordering::SeqCst);
        handles.push(thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let tasks: Vec<_> = (0..2u64)
                    .map(|w| {
                        let (b, stop, tally) = (b.clone(), stop.clone(), tally.clone());
                        tokio::spawn(async move {
                            let mut rng = Rng::new(seed + 10 + w);
                            while !stop.load(Ordering::Relaxed) {
                                let limit = Duration::from_micros(rng.below(4000));
                                match tokio::time::timeout(limit, b.wait()).await {
                                    Ok(outcome) => {
                                        if outcome.is_err() {
                                            let pause = Duration::from_micros(rng.below(400));
                                            tokio::time::sleep(pause).await;
                                        }
                                        tally.record(outcome.map_err(Into::into))
                                    }
                                    Err(_) => tally.record_cancelled(),
                                }
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            });
            alive.fetch_sub(1, Ordering::SeqCst);
        }));
    }
    // One futures-lite thread: untimed awaits, and poll-once-then-drop.
    {
        let (b, stop, tally, alive) = (b.clone(), stop.clone(), tally.clone(), alive.clone());
        alive.fetch_add(1, Ordering::SeqCst);
        handles.push(thread::spawn(move || {
            let mut rng = Rng::new(seed + 20);
            while !stop.load(Ordering::Relaxed) {
                if rng.below(4) == 0 {
                    match futures_lite::future::block_on(poll_once(b.wait())) {
                        Some(outcome) => tally.record(outcome.map_err(Into::into)),
                        None => tally.record_cancelled(),
                    }
                } else {
                    let outcome = futures_lite::future::block_on(b.wait());
                    if outcome.is_err() {
                        thread::sleep(Duration::from_micros(rng.below(400)));
                    }
                    tally.record(outcome.map_err(Into::into));
                }
            }
            alive.fetch_sub(1, Ordering::SeqCst);
        }));
    }
    // Chaos: resets (and sometimes an abort) at random moments.
    let mut rng = Rng::new(seed + 30);
    while tally.budget.running() {
        thread::sleep(Duration::from_micros(100 + rng.below(2000)));
        match rng.below(20) {
            0 => b.abort(),
            1..=3 => b.reset(),
            _ if b.is_broken() => b.reset(),
            _ => {}
        }
    }
    stop.store(true, SeqCst);

    // The end, without a rescue: a broken barrier is repaired only once
    // every party it broke has been woken and left the queue; parties still
    // queued in a filling phase get new parties until their phase opens.
    // Workers finish their current wait and stop.
    let limit = Instant::now() + Duration::from_secs(10);
    let mut fills: Vec<Fill<'_>> = Vec::new();
    let (mut filled, mut fills_passed, mut fills_broken) = (0, 0, 0);
    loop {
        fills.retain_mut(|f| {
            let count = f.count.get();
            if count == f.seen {
                return true; // never polled without a wake-up
            }
            f.seen = count;
            match poll_with(f.wait.as_mut(), &f.waker) {
                Poll::Ready(Ok(r)) => {
                    let i = r.index();
                    assert!(i < STORM_PARTIES);
                    fills_passed += 1;
                    false
                }
                Poll::Ready(Err(BrokenBarrierError)) => {
                    fills_broken += 1;
                    false
                }
                Poll::Pending => true,
            }
        });
        let queued = b.waiting();
        if alive.load(SeqCst) == 0 && fills.is_empty() && queued == 0 {
            break;
        }
        assert!(
            Instant::now() < limit,
            "a lost wake-up: 10 s after the storm, {} workers still wait and {} of {filled} \
             filling parties were never woken ({queued} queued, {b:?})",
            alive.load(SeqCst),
            fills.len(),
        );
        if b.is_broken() {
            if queued == 0 {
                b.reset();
            }
        } else if queued > 0 {
            let (count, waker) = WakeCount::new();
            let mut wait = Box::pin(b.wait());
            filled += 1;
            match poll_with(wait.as_mut(), &waker) {
                Poll::Ready(Ok(_)) => fills_passed += 1,
                Poll::Ready(Err(_)) => fills_broken += 1,
                Poll::Pending => fills.push(Fill {
                    wait,
                    count,
                    waker,
                    seen: 0,
                }),
            }
        }
        thread::sleep(Duration::from_micros(200));
    }
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(b.waiting(), 0, "a waiter was left queued");
    let t = &*tally;
    let by_index: Vec<usize> = t
        .by_index
        .iter()
        .map(|a| a.load(Ordering::Relaxed))
        .collect();
    let (waits, passed, broken, timed_out, cancelled) = (
        t.waits.load(Ordering::Relaxed),
        t.passed.load(Ordering::Relaxed),
        t.broken.load(Ordering::Relaxed),
        t.timed_out.load(Ordering::Relaxed),
        t.cancelled.load(Ordering::Relaxed),
    );
    eprintln!(
        "storm: {:?}, {waits} waits: {passed} passed {by_index:?}, {broken} broken, \
         {timed_out} timed out, {cancelled} cancelled; then {filled} filling parties \
         ({fills_passed} passed, {fills_broken} broken)",
        started.elapsed()
    );
    assert!(
        passed > 0 && broken > 0 && timed_out > 0 && cancelled > 0,
        "the storm did not exercise every outcome"
    );
    // Every opened phase hands out each index once; only parties that gave
    // up after their phase opened lose theirs.
    let (lo, hi) = (
        by_index.iter().min().unwrap(),
        by_index.iter().max().unwrap(),
    );
    assert!(
        hi - lo <= timed_out + cancelled,
        "indices unbalanced beyond what cancellations explain: {by_index:?}"
    );
    // Afterwards the barrier works normally, with no reset.
    assert!(!b.is_broken(), "the end left the barrier broken");
    let a = spawn_party(Kind::TokioMulti, b.clone());
    let c = spawn_party(Kind::FuturesLite, b.clone());
    let mine = b
        .try_wait_for(Duration::from_secs(10))
        .expect("the barrier works after the storm")
        .index();
    let set: BTreeSet<usize> =
        [mine, a.join().unwrap().unwrap(), c.join().unwrap().unwrap()].into();
    assert_eq!(set, (0..3).collect());
}

// ---------------------------------------------------------------------------
// Edge cases
// ---------------------------------------------------------------------------

#[test]
fn zero_parties_open_only_by_breaking() {
    let _dog = Watchdog::new("zero_parties", Duration::from_secs(60));
    let b = Arc::new(Barrier::new(0));
    assert_eq!(b.try_wait(), Ok(None));
    let hs: Vec<_> = (0..3).map(|i| spawn_party(KINDS[i], b.clone())).collect();
    wait_until("three queued", || b.waiting() == 3);
    b.abort();
    for h in hs {
        assert!(h.join().unwrap().is_err());
    }
    let l = Arc::new(Latch::new(0));
    assert_eq!(l.try_wait(), Ok(false));
    let h = spawn_party(Kind::FuturesLite, l.clone());
    wait_until("queued", || l.waiting() == 1);
    l.abort();
    assert!(h.join().unwrap().is_err());
}

#[test]
fn one_party_always_passes_at_once() {
    let b = Barrier::new(1);
    for _ in 0..10 {
        assert_eq!(b.wait_blocking().map(|r| r.index()), Ok(0));
        assert_eq!(
            futures_lite::future::block_on(b.wait()).map(|r| r.index()),
            Ok(0)
        );
        assert_eq!(b.try_wait().map(|r| r.map(|r| r.index())), Ok(Some(0)));
        assert_eq!(b.try_wait_for(Duration::ZERO).map(|r| r.index()), Ok(0));
    }
    b.abort();
    assert!(b.wait_blocking().is_err());
    let r = RBarrier::new(1);
    r.abort();
    r.reset();
    assert_eq!(r.wait_blocking().map(|r| r.index()), Ok(0));
}

#[test]
fn barrier_try_wait_arrives_only_to_open() {
    let b = Barrier::new(3);
    let (_, waker) = WakeCount::new();
    assert_eq!(b.try_wait(), Ok(None));
    let mut a = Box::pin(b.wait());
    assert!(poll_with(a.as_mut(), &waker).is_pending());
    assert_eq!(b.try_wait(), Ok(None));
    let mut c = Box::pin(b.wait());
    assert!(poll_with(c.as_mut(), &waker).is_pending());
    assert_eq!(b.waiting(), 2);
    assert_eq!(b.try_wait().map(|r| r.map(|r| r.index())), Ok(Some(2)));
    assert_eq!(
        poll_with(a.as_mut(), &waker).map_ok(|r| r.index()),
        Poll::Ready(Ok(0))
    );
    assert_eq!(
        poll_with(c.as_mut(), &waker).map_ok(|r| r.index()),
        Poll::Ready(Ok(1))
    );
    assert_eq!(b.waiting(), 0);
    assert!(!b.is_broken());
}

#[test]
fn debug_shows_state() {
    let b = Barrier::new(2);
    let (_, waker) = WakeCount::new();
    let mut w = Box::pin(b.wait());
    assert!(poll_with(w.as_mut(), &waker).is_pending());
    assert_eq!(
        format!("{b:?}"),
        "Barrier { parties: 2, waiting: 1, broken: false }"
    );
    let shown = format!("{w:?}");
    assert!(shown.contains("queued: true"), "{shown}");
    drop(w);
    assert_eq!(
        format!("{b:?}"),
        "Barrier { parties: 2, waiting: 0, broken: true }"
    );
    let r = RBarrier::new(4);
    assert_eq!(
        format!("{r:?}"),
        "RBarrier { parties: 4, waiting: 0, broken: false }"
    );
    let l = Latch::new(1);
    assert_eq!(
        format!("{l:?}"),
        "Latch { parties: 1, waiting: 0, passed: false, broken: false }"
    );
    l.wait_blocking().unwrap();
    l.abort();
    assert_eq!(
        format!("{l:?}"),
        "Latch { parties: 1, waiting: 0, passed: true, broken: true }"
    );
    assert_eq!(
        BarrierWaitError::TimedOut.to_string(),
        "polysync: the barrier wait timed out (and broke the barrier)"
    );
}

#[test]
#[should_panic(expected = "polled after it completed")]
fn polling_a_completed_wait_panics() {
    let b = Barrier::new(1);
    let (_, waker) = WakeCount::new();
    let mut w = Box::pin(b.wait());
    assert_eq!(
        poll_with(w.as_mut(), &waker).map_ok(|r| r.index()),
        Poll::Ready(Ok(0))
    );
    let _ = poll_with(w.as_mut(), &waker);
}

// ---------------------------------------------------------------------------
// A green unit that is cancelled while it waits
// ---------------------------------------------------------------------------

std::thread_local! {
    static CANCELLING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A waiter whose unit is being cancelled: `wait` reports `Cancelled`
/// unless a wake is already pending.
struct CancelledUnit(Arc<AtomicBool>);

struct SetFlag(Arc<AtomicBool>);

impl Wake for SetFlag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl polysync::lowlevel::Waiter for CancelledUnit {
    fn waker(&self) -> Waker {
        Waker::from(Arc::new(SetFlag(self.0.clone())))
    }

    fn wait(&self, _deadline: Option<Instant>) -> polysync::lowlevel::WaitResult {
        if self.0.swap(false, Ordering::SeqCst) {
            polysync::lowlevel::WaitResult::Woken
        } else {
            polysync::lowlevel::WaitResult::Cancelled
        }
    }
}

/// Claims the threads that set `CANCELLING`, like a green backend whose
/// coroutines are being cancelled.
struct CancellingBackend;

// SAFETY: `current_unit` never reports an identity.
unsafe impl polysync::lowlevel::GreenBackend for CancellingBackend {
    fn name(&self) -> &'static str {
        "test-cancelling"
    }

    fn with_waiter(&self, f: &mut dyn FnMut(&dyn polysync::lowlevel::Waiter)) -> bool {
        if !CANCELLING.with(std::cell::Cell::get) {
            return false;
        }
        f(&CancelledUnit(Arc::new(AtomicBool::new(false))));
        true
    }

    fn current_unit(&self) -> Option<polysync::lowlevel::UnitId> {
        None
    }
}

static CANCELLING_BACKEND: CancellingBackend = CancellingBackend;

#[test]
fn a_cancelled_green_unit_breaks_the_barrier() {
    polysync::lowlevel::register_backend(&CANCELLING_BACKEND).unwrap();
    let b = Arc::new(Barrier::new(3));
    let other = spawn_party(Kind::FuturesLite, b.clone());
    wait_until("queued", || b.waiting() == 1);
    let (blocking, timed, latch_broken) = thread::spawn({
        let b = b.clone();
        move || {
            CANCELLING.with(|c| c.set(true));
            // A plain blocking form cannot report a cancellation in its
            // result: it gives up (breaking the barrier) and unwinds.
            let blocking = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _ = b.wait_blocking();
            }));
            let l = Latch::new(2);
            let timed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _ = l.try_wait_for(Duration::from_secs(60));
            }));
            (blocking, timed, l.is_broken())
        }
    })
    .join()
    .unwrap();
    let cancelled = |out: std::thread::Result<()>| {
        out.expect_err("a cancelled unit unwinds")
            .is::<polysync::lowlevel::UnitCancelled>()
    };
    // The cancelled unit gave up: it broke the barrier for everyone.
    assert!(cancelled(blocking));
    assert_eq!(other.join().unwrap(), Err(BrokenBarrierError));
    assert!(b.is_broken());
    assert!(cancelled(timed));
    assert!(latch_broken);
}
