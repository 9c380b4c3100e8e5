//! Two (or three) branches of ONE task contending for one lock: `join`
//! (`futures_lite::future::zip`), a `tokio::select!` loop, and a set of
//! futures polled together by hand (what `FuturesUnordered` does). The
//! branches share the task's identity; correct code, so they must simply
//! wait for each other: no panic, one holder at a time, everyone finishes.
//! Used by tests/async_branches.rs (under `identified`) and by
//! backends/tokio/tests/async_branches.rs (tokio tasks after `install()`).
#![allow(dead_code)]

use polysync::{Lock, Mutex, RwLock};
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::task::Poll;

/// What a branch takes.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Lock,
    LockOwned,
    Mutex,
    Read,
    Write,
}

/// The locks, and who is inside them.
#[derive(Default)]
pub struct Locks {
    lock: std::sync::Arc<Lock>,
    mutex: Mutex<u32>,
    rw: RwLock<u32>,
    /// Exclusive holders inside now (a writer or a lock: at most 1).
    exclusive: AtomicU32,
    /// Readers inside now.
    readers: AtomicU32,
    /// Branches that finished.
    pub finished: AtomicU32,
}

impl Locks {
    fn enter(&self, shared: bool) {
        if shared {
            assert_eq!(self.exclusive.load(SeqCst), 0, "a reader beside a writer");
            self.readers.fetch_add(1, SeqCst);
        } else {
            assert_eq!(self.exclusive.load(SeqCst), 0, "two exclusive holders");
            assert_eq!(self.readers.load(SeqCst), 0, "a writer beside a reader");
            self.exclusive.store(1, SeqCst);
        }
    }

    fn leave(&self, shared: bool) {
        if shared {
            self.readers.fetch_sub(1, SeqCst);
        } else {
            self.exclusive.store(0, SeqCst);
        }
    }
}

/// One branch: takes `kind`, holds it across `yields` suspensions, lets go.
pub async fn branch(locks: &Locks, kind: Kind, yields: usize) {
    let hold = async |shared: bool| {
        locks.enter(shared);
        for _ in 0..yields {
            futures_lite::future::yield_now().await;
        }
        locks.leave(shared);
    };
    match kind {
        Kind::Lock => {
            let _g = locks.lock.acquire().await;
            hold(false).await;
        }
        Kind::LockOwned => {
            let _g = locks.lock.acquire_owned().await;
            hold(false).await;
        }
        Kind::Mutex => {
            let mut g = locks.mutex.lock().await;
            *g += 1;
            hold(false).await;
        }
        Kind::Read => {
            let _g = locks.rw.read().await;
            hold(true).await;
        }
        Kind::Write => {
            let mut g = locks.rw.write().await;
            *g += 1;
            hold(false).await;
        }
    }
    locks.finished.fetch_add(1, SeqCst);
}

/// The pairs every combinator runs: the first branch takes the lock, the
/// second asks while the first holds it.
pub const PAIRS: &[(Kind, Kind)] = &[
    (Kind::Lock, Kind::Lock),
    (Kind::Lock, Kind::LockOwned),
    (Kind::LockOwned, Kind::Lock),
    (Kind::Mutex, Kind::Mutex),
    (Kind::Write, Kind::Write),
    (Kind::Write, Kind::Read),
    (Kind::Read, Kind::Write),
];

/// `join!`: both branches polled by one future.
pub async fn join(a: Kind, b: Kind) {
    let locks = Locks::default();
    futures_lite::future::zip(branch(&locks, a, 3), branch(&locks, b, 3)).await;
    assert_eq!(locks.finished.load(SeqCst), 2);
}

/// A `select!` loop: each turn polls the unfinished branches, until both
/// are done.
pub async fn select_loop(a: Kind, b: Kind) {
    let locks = Locks::default();
    let mut fa = pin!(branch(&locks, a, 3));
    let mut fb = pin!(branch(&locks, b, 3));
    let (mut a_done, mut b_done) = (false, false);
    loop {
        tokio::select! {
            biased;
            () = &mut fa, if !a_done => a_done = true,
            () = &mut fb, if !b_done => b_done = true,
            else => break,
        }
    }
    assert_eq!(locks.finished.load(SeqCst), 2);
}

/// A set of futures polled together in one task, each polled when the
/// task is (what `FuturesUnordered` does, without its per-future wakers):
/// three branches of the same kind pair.
pub async fn unordered(a: Kind, b: Kind) {
    let locks = Locks::default();
    let mut set: Vec<Option<Pin<Box<dyn Future<Output = ()> + Send + '_>>>> = vec![
        Some(Box::pin(branch(&locks, a, 3))),
        Some(Box::pin(branch(&locks, b, 3))),
        Some(Box::pin(branch(&locks, a, 3))),
    ];
    std::future::poll_fn(|cx| {
        for slot in &mut set {
            if let Some(fut) = slot {
                if fut.as_mut().poll(cx).is_ready() {
                    *slot = None;
                }
            }
        }
        if set.iter().all(Option::is_none) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    assert_eq!(locks.finished.load(SeqCst), 3);
}

/// Every combinator over every pair, in the current task.
pub async fn all() {
    for &(a, b) in PAIRS {
        join(a, b).await;
        select_loop(a, b).await;
        unordered(a, b).await;
    }
}
