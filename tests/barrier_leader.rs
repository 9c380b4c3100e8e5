//! `BarrierWaitResult::is_leader()` of the cyclic barriers: exactly one
//! party per opened phase is its leader, the last arrival (index
//! `parties - 1`), whatever world it runs in and whatever form it waits in.
//!
//! What is proven:
//! - Across worlds: five parties (an OS thread's blocking wait, an OS
//!   thread's timed and `wait_with` waits, a tokio multi-thread task, a tokio
//!   current-thread task, a futures-lite task) loop over many phases; in
//!   every phase exactly one of them is the leader, with index
//!   `parties - 1`, and the indices are `0..parties`.
//! - The last arrival leads in every form of the opener (`wait`,
//!   `wait_blocking`, `try_wait`, `try_wait_for`, `try_wait_until`,
//!   `wait_with`), for `Barrier` and `RBarrier`; the queued parties do not;
//!   a barrier of one party always leads.
//! - Cancellation cannot take the leader away: in a phase of 20 parties (more
//!   than one wake batch), a queued party whose phase has opened but whose
//!   pass has not reached it yet is dropped (from inside the wake-up of the
//!   first batch). It breaks the barrier for the next phase, the others of
//!   its phase pass, and the opener is still the phase's one leader.
//!
//! A party that gives up never leaves the barrier unbroken (a time-out or a
//! cancellation before the phase opens breaks that phase, after it breaks
//! the next one; one that loses to the opening passes, see
//! `barrier_events_with.rs`), so there is no "gave up, barrier intact" case
//! to test.

#[path = "support/worlds.rs"]
mod worlds;

use polysync::barrier::{Barrier, BarrierWait, BarrierWaitResult, RBarrier};
use polysync::lowlevel::ThreadWaiter;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};
use worlds::Watchdog;

fn poll<F: Future + ?Sized>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

/// A waker that does nothing.
struct Nop;

impl Wake for Nop {
    fn wake(self: Arc<Self>) {}
}

/// A waker that runs its closure at its first wake.
type Hook = Box<dyn FnOnce() + Send>;
struct OnWake(Mutex<Option<Hook>>);

impl Wake for OnWake {
    fn wake(self: Arc<Self>) {
        let f = self.0.lock().unwrap().take();
        if let Some(f) = f {
            f();
        }
    }
}

/// One phase's results: exactly one leader, the last arrival, and the
/// indices `0..parties`.
fn check_phase(phase: usize, mut got: Vec<BarrierWaitResult>, parties: usize) {
    let leaders: Vec<_> = got.iter().filter(|r| r.is_leader()).collect();
    assert_eq!(leaders.len(), 1, "phase {phase}: leaders {got:?}");
    assert_eq!(leaders[0].index(), parties - 1, "phase {phase}: {got:?}");
    got.sort_unstable_by_key(|r| r.index());
    let indices: Vec<_> = got.iter().map(|r| r.index()).collect();
    assert_eq!(indices, (0..parties).collect::<Vec<_>>(), "phase {phase}");
}

#[test]
fn one_leader_per_phase_across_worlds() {
    let _dog = Watchdog::new(
        "one_leader_per_phase_across_worlds",
        Duration::from_secs(60),
    );
    const PARTIES: usize = 5;
    const PHASES: usize = 300;
    let b = Arc::new(Barrier::new(PARTIES));
    let mut units: Vec<thread::JoinHandle<Vec<BarrierWaitResult>>> = Vec::new();
    {
        let b = b.clone();
        units.push(thread::spawn(move || {
            (0..PHASES).map(|_| b.wait_blocking().unwrap()).collect()
        }));
    }
    {
        let b = b.clone();
        units.push(thread::spawn(move || {
            (0..PHASES)
                .map(|p| {
                    if p % 2 == 0 {
                        b.try_wait_for(Duration::from_secs(60)).unwrap()
                    } else {
                        ThreadWaiter::with_current(|w| b.wait_with(w, None)).unwrap()
                    }
                })
                .collect()
        }));
    }
    for multi in [true, false] {
        let b = b.clone();
        units.push(thread::spawn(move || {
            let rt = if multi {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .build()
            } else {
                tokio::runtime::Builder::new_current_thread().build()
            }
            .unwrap();
            rt.block_on(async move {
                tokio::spawn(async move {
                    let mut v = Vec::new();
                    for _ in 0..PHASES {
                        v.push(b.wait().await.unwrap());
                    }
                    v
                })
                .await
                .unwrap()
            })
        }));
    }
    {
        let b = b.clone();
        units.push(thread::spawn(move || {
            futures_lite::future::block_on(async {
                let mut v = Vec::new();
                for _ in 0..PHASES {
                    v.push(b.wait().await.unwrap());
                }
                v
            })
        }));
    }
    let results: Vec<Vec<BarrierWaitResult>> =
        units.into_iter().map(|u| u.join().unwrap()).collect();
    // Each unit waits once per phase, so its p-th result is from phase p.
    for phase in 0..PHASES {
        check_phase(phase, results.iter().map(|r| r[phase]).collect(), PARTIES);
    }
}

/// The ways a party can open a phase of a barrier.
#[derive(Clone, Copy, Debug)]
enum Form {
    Async,
    Blocking,
    Try,
    For,
    Until,
    With,
}

const FORMS: [Form; 6] = [
    Form::Async,
    Form::Blocking,
    Form::Try,
    Form::For,
    Form::Until,
    Form::With,
];

macro_rules! opener {
    ($name:ident, $ty:ty) => {
        fn $name(b: &$ty, form: Form) -> BarrierWaitResult {
            match form {
                Form::Async => futures_lite::future::block_on(b.wait()).unwrap(),
                Form::Blocking => b.wait_blocking().unwrap(),
                Form::Try => b.try_wait().unwrap().expect("the last arrival passes"),
                Form::For => b.try_wait_for(Duration::from_secs(60)).unwrap(),
                Form::Until => b
                    .try_wait_until(Instant::now() + Duration::from_secs(60))
                    .unwrap(),
                Form::With => ThreadWaiter::with_current(|w| b.wait_with(w, None)).unwrap(),
            }
        }
    };
}
opener!(open_barrier, Barrier);
opener!(open_rbarrier, RBarrier);

macro_rules! last_arrival_leads {
    ($ty:ident, $open:ident) => {
        let waker = Waker::from(Arc::new(Nop));
        for form in FORMS {
            let b = $ty::new(3);
            for phase in 0..2 {
                let mut first = Box::pin(b.wait());
                let mut second = Box::pin(b.wait());
                assert!(poll(first.as_mut(), &waker).is_pending());
                assert!(poll(second.as_mut(), &waker).is_pending());
                let opener = $open(&b, form);
                let first = match poll(first.as_mut(), &waker) {
                    Poll::Ready(r) => r.unwrap(),
                    Poll::Pending => panic!("{form:?}: the phase did not open"),
                };
                let second = match poll(second.as_mut(), &waker) {
                    Poll::Ready(r) => r.unwrap(),
                    Poll::Pending => panic!("{form:?}: the phase did not open"),
                };
                assert_eq!(
                    [first.index(), second.index(), opener.index()],
                    [0, 1, 2],
                    "{form:?}, phase {phase}"
                );
                assert_eq!(
                    [first.is_leader(), second.is_leader(), opener.is_leader()],
                    [false, false, true],
                    "{form:?}, phase {phase}: the last arrival leads"
                );
            }
            let one = $ty::new(1);
            for _ in 0..2 {
                let r = $open(&one, form);
                assert_eq!((r.index(), r.is_leader()), (0, true), "{form:?}, one party");
            }
        }
    };
}

#[test]
fn the_last_arrival_leads_in_every_form() {
    last_arrival_leads!(Barrier, open_barrier);
    last_arrival_leads!(RBarrier, open_rbarrier);
}

#[test]
fn a_party_dropped_after_its_phase_opened_leaves_one_leader() {
    let _dog = Watchdog::new(
        "a_party_dropped_after_its_phase_opened",
        Duration::from_secs(30),
    );
    // 20 parties: 19 queue, the 20th opens the phase and wakes them in
    // batches of 16. When the first batch is woken, parties 16..19 are still
    // queued, their pass not handed to them yet: the first woken party's
    // waker drops party 18 right then.
    const P: usize = 20;
    const DROPPED: usize = 18;
    let b: &'static Barrier = Box::leak(Box::new(Barrier::new(P)));
    type Fut = Pin<Box<BarrierWait<'static>>>;
    let plain = Waker::from(Arc::new(Nop));
    let futs: Arc<Mutex<Vec<Option<Fut>>>> = Arc::new(Mutex::new(Vec::new()));
    let hook = {
        let futs = futs.clone();
        Waker::from(Arc::new(OnWake(Mutex::new(Some(Box::new(move || {
            let dropped = futs.lock().unwrap()[DROPPED].take();
            assert!(dropped.is_some());
            drop(dropped);
        }))))))
    };
    for i in 0..P - 1 {
        let mut fut: Fut = Box::pin(b.wait());
        assert!(poll(fut.as_mut(), if i == 0 { &hook } else { &plain }).is_pending());
        futs.lock().unwrap().push(Some(fut));
    }
    assert_eq!(b.waiting(), P - 1);
    let opener = futures_lite::future::block_on(b.wait()).unwrap();
    assert_eq!((opener.index(), opener.is_leader()), (P - 1, true));
    assert!(futs.lock().unwrap()[DROPPED].is_none(), "the hook ran");
    let mut passed = vec![opener];
    for (i, fut) in futs.lock().unwrap().iter_mut().enumerate() {
        let Some(fut) = fut else { continue };
        match poll(fut.as_mut(), &plain) {
            Poll::Ready(Ok(r)) => {
                assert_eq!(r.index(), i, "party {i} keeps its index");
                passed.push(r);
            }
            other => panic!("party {i} of the opened phase: {other:?}"),
        }
    }
    assert_eq!(passed.len(), P - 1);
    assert_eq!(
        passed.iter().filter(|r| r.is_leader()).count(),
        1,
        "exactly one leader: {passed:?}"
    );
    // The dropped party broke the barrier for the next phase.
    assert!(b.is_broken());
    assert_eq!(b.waiting(), 0);
}
