//! Barriers: [`Latch`] (single use), [`Barrier`] (cyclic) and [`RBarrier`]
//! (cyclic, with [`reset`](RBarrier::reset)).
//!
//! A barrier lets a fixed number of *parties* wait for each other: every
//! party calls `wait`, and once `parties` of them have arrived they all pass.
//! The parties may be of any kind at once: OS threads and green threads
//! block, async tasks of any executor `.await`.
//!
//! # Broken barriers
//!
//! A barrier *breaks* when a party gives up on it, because then the others
//! would wait for it forever:
//!
//! - [`abort`](Barrier::abort) breaks it on purpose;
//! - a timed wait (`try_wait_for`, `try_wait_until`, `wait_with` given a
//!   deadline) whose deadline passes breaks it (as in Python's
//!   `threading.Barrier`);
//! - a wait whose waiter reports that its unit is being cancelled (a
//!   cancelled green thread) breaks it, exactly as a time-out does;
//! - an async wait that is dropped (cancelled) after its first poll and
//!   before it completes breaks it.
//!
//! Every party that waits on a broken barrier, or is waiting when it breaks,
//! gets a [`BrokenBarrierError`]; later waits fail at once.
//! [`RBarrier::reset`] repairs a cyclic barrier. Timed waits and `wait_with`
//! return a [`BarrierWaitError`], which also tells why this wait gave up:
//! its own deadline passed ([`BarrierWaitError::TimedOut`]) or its waiter
//! reported cancellation ([`BarrierWaitError::Cancelled`]). The plain
//! blocking forms report a cancellation by unwinding (see
//! [`Waiter::cancelled`]), after the
//! party broke the barrier.
//!
//! A party that gives up at the very moment its phase opens (or its latch
//! passes) may still pass: if the opening reached it before it withdrew, its
//! wait reports success. A party of a cyclic barrier whose phase opened but
//! that withdrew before the opening reached it reports its time-out or
//! cancellation: the others of its phase keep their indices, and the barrier
//! is broken for the next phase, which that party will not join.
//!
//! # Semantics
//!
//! - Parties are served in arrival order: [`Barrier::wait`] returns a
//!   [`BarrierWaitResult`] with the arrival index `0..parties`, and the last
//!   arrival (index `parties - 1`) opens the phase and is its
//!   [leader](BarrierWaitResult::is_leader): exactly one per opened phase. Parties that arrive while a phase is being woken belong
//!   to the next phase.
//! - A barrier with `parties == 0` never opens by arrivals: its waits end
//!   only when it breaks (this follows aiologic; `std::sync::Barrier` treats
//!   0 like 1).
//! - Memory: everything a party did before it arrived happens before every
//!   party of the same phase returns from its wait.
//! - No allocation per wait; every future is cancel-safe in the sense above
//!   (dropping it never leaves the barrier inconsistent, but breaks it).
//!
//! # Layout
//!
//! `error.rs` (the errors), `latch.rs` ([`Latch`]), `raw.rs` (the cyclic
//! core that [`Barrier`] and [`RBarrier`] share), `cyclic.rs` (the two
//! public cyclic types), `result.rs` (what a passed cyclic party gets);
//! this file holds the wait future and the `wait_with`
//! driver that all of them share.

mod cyclic;
mod error;
mod latch;
mod raw;
mod result;

pub use cyclic::{Barrier, BarrierWait, RBarrier};
pub use error::{BarrierWaitError, BrokenBarrierError};
pub use latch::{Latch, LatchWait};
pub use result::BarrierWaitResult;

use crate::lowlevel::Waiter;
use crate::lowlevel::checkpoint;
use crate::lowlevel::queue::NodeData;
use crate::lowlevel::wait::{Protocol, Wait as RawWait, Withdraw, drive};
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::Instant;

/// The node data of a party that is through ([`Protocol::Outcome`] of every
/// barrier of the family), written by `arrive_locked` (the party that opens
/// a phase or passes a latch, or finds the barrier broken) or by the `drain`
/// that wakes the party.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PartyOutcome {
    /// The party passed, with its arrival index in its phase (0 for a latch).
    Passed(usize),
    /// The barrier broke before the party passed.
    Broken,
}

/// `Broken` is `usize::MAX`, `Passed(index)` the index: an index is below
/// `parties`, so it never reaches `usize::MAX`.
impl NodeData for PartyOutcome {
    #[inline]
    fn into_raw(self) -> usize {
        match self {
            PartyOutcome::Passed(index) => index,
            PartyOutcome::Broken => usize::MAX,
        }
    }

    #[inline]
    fn from_raw(raw: usize) -> PartyOutcome {
        if raw == usize::MAX {
            PartyOutcome::Broken
        } else {
            PartyOutcome::Passed(raw)
        }
    }
}

/// What a barrier of the family plugs into [`Arrive`], beyond its
/// [`Protocol`]: its outcome is a [`PartyOutcome`], and a party's node
/// starts with the default tag (`arrive_locked` gives it its own).
pub(crate) trait Party:
    Protocol<Tag: Default, Outcome = PartyOutcome, Slot = ()> + Sized
{
    /// What a party that passes gets: `()` for a latch, a
    /// [`BarrierWaitResult`] for a cyclic barrier.
    type Pass;

    /// The lock-free answer, if there is one: broken, or passing without
    /// arriving (a latch that passed, a barrier of one party).
    fn fast_check(&self) -> Option<Result<Self::Pass, BrokenBarrierError>>;

    /// What a passed party gets, from the index its node completed with
    /// ([`PartyOutcome::Passed`]).
    fn pass(&self, index: usize) -> Self::Pass;

    /// Helps wake decided parties, if any wait. Called without the queue
    /// lock, after a party's wait completed.
    fn help(&self);

    /// Called after a party withdrew with nothing handed to it (its node left
    /// the queue, and [`Protocol::cancelled`] ran): `Some` if it counts as
    /// passed all the same. The default: it does not.
    fn passed_anyway(&self) -> Option<Self::Pass> {
        None
    }
}

/// The outcome of a completed node.
fn outcome<P: Party>(party: &P, outcome: PartyOutcome) -> Result<P::Pass, BrokenBarrierError> {
    match outcome {
        PartyOutcome::Passed(index) => Ok(party.pass(index)),
        PartyOutcome::Broken => Err(BrokenBarrierError),
    }
}

/// Where a party's wait future stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Not polled yet: the party has not arrived. Dropping or withdrawing
    /// the future changes nothing.
    New,
    /// The lock-free check found the outcome (broken, passed, a one-party
    /// barrier) and the future yields at its checkpoint; the next poll
    /// checks again and returns. Nothing is held: like `New`.
    Yielded,
    /// Polled, not completed: the party arrived and its node is queued (or
    /// was just handed its outcome). Dropping or withdrawing the future
    /// gives the party up (see the module docs).
    Arrived,
    /// Completed, or withdrawn: polling again is a bug.
    Finished,
}

// `project` hands out `&mut Stage` from a pinned `Arrive`: prove that is sound.
const _: fn() = || {
    fn unpin<T: Unpin>() {}
    unpin::<Stage>();
};

/// The one wait future of the barrier family (the inside of [`LatchWait`]
/// and [`BarrierWait`]): a lock-free check, then the core wait, then the
/// outcome. The driver of the `wait_with` forms runs it too
/// ([`Withdraw`]), so blocking and async waits share every step.
pub(crate) struct Arrive<'a, P: Party> {
    /// Structurally pinned.
    wait: RawWait<'a, P>,
    /// Not pinned.
    stage: Stage,
}

impl<'a, P: Party> Arrive<'a, P> {
    #[inline]
    pub(crate) fn new(party: &'a P) -> Self {
        Self {
            wait: RawWait::new(party, P::Tag::default()),
            stage: Stage::New,
        }
    }

    /// The barrier this party waits on.
    #[inline]
    pub(crate) fn barrier(&self) -> &'a P {
        self.wait.protocol()
    }

    /// Whether the party's node is queued now (for `Debug`).
    pub(crate) fn is_queued(&self) -> bool {
        self.wait.is_queued()
    }

    #[inline]
    fn project(self: Pin<&mut Self>) -> (Pin<&mut RawWait<'a, P>>, &mut Stage) {
        // SAFETY: `wait` is structurally pinned: it is never moved out of
        // `self`, and `Arrive` has neither a `Drop` impl nor an `Unpin` impl
        // that could move it. `stage` is not pinned (and is `Unpin`, checked
        // above).
        unsafe {
            let this = self.get_unchecked_mut();
            (Pin::new_unchecked(&mut this.wait), &mut this.stage)
        }
    }

    /// The outcome of a wait whose core completed.
    fn completed(wait: &RawWait<'a, P>) -> Result<P::Pass, BrokenBarrierError> {
        let done = wait.outcome().expect("a completed wait is not queued");
        // The opener wakes its phase; woken parties help with big phases.
        wait.protocol().help();
        outcome(wait.protocol(), done)
    }
}

impl<P: Party> Future for Arrive<'_, P> {
    type Output = Result<P::Pass, BrokenBarrierError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (mut wait, stage) = self.project();
        match *stage {
            Stage::New | Stage::Yielded => {
                if let Some(done) = wait.protocol().fast_check() {
                    if *stage == Stage::New && checkpoint::poll(cx).is_pending() {
                        *stage = Stage::Yielded;
                        return Poll::Pending;
                    }
                    *stage = Stage::Finished;
                    return Poll::Ready(done);
                }
                // (After a yield, the check changes its answer only if the
                // barrier was reset meanwhile; the core wait may then take
                // a second checkpoint, a rare extra yield.)
                *stage = Stage::Arrived;
            }
            Stage::Arrived => {}
            Stage::Finished => {
                panic!("polysync: a barrier wait future was polled after it completed")
            }
        }
        if wait.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        *stage = Stage::Finished;
        Poll::Ready(Self::completed(&wait))
    }
}

impl<P: Party> Withdraw for Arrive<'_, P> {
    type Left = ();

    fn withdraw(self: Pin<&mut Self>) -> Result<Self::Output, ()> {
        let (mut wait, stage) = self.project();
        match std::mem::replace(stage, Stage::Finished) {
            // The party never arrived: there is nothing to give up.
            Stage::New | Stage::Yielded => Err(()),
            Stage::Arrived => match wait.as_mut().withdraw() {
                // The outcome landed before the withdrawal: take it.
                Ok(()) => Ok(Self::completed(&wait)),
                // Withdrawn: `Protocol::cancelled` broke the barrier, unless
                // the party counts as passed.
                Err(()) => wait.protocol().passed_anyway().map(Ok).ok_or(()),
            },
            Stage::Finished => {
                panic!("polysync: a barrier wait future was withdrawn after it completed")
            }
        }
    }
}

/// The body of every barrier's `wait_with`: arrives, waits on `waiter`, and
/// on a time-out or cancellation withdraws the party (breaking the
/// barrier, unless the outcome landed first).
fn arrive_with<P: Party, W: Waiter + ?Sized>(
    party: &P,
    waiter: &W,
    deadline: Option<Instant>,
) -> Result<P::Pass, BarrierWaitError> {
    match drive(waiter, pin!(Arrive::new(party)), deadline) {
        Ok(out) => out.map_err(BarrierWaitError::from),
        Err((why, ())) => Err(BarrierWaitError::gave_up(why)),
    }
}
