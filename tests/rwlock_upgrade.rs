//! The RwLock's upgradable read (issue 20 item 6): what it excludes, what
//! an upgrade waits for, where an upgrade stands in line, what a dropped or
//! timed-out upgrade leaves (the upgradable read still held), downgrades,
//! the re-entry refusals, and a cancellation storm of threads, tokio and
//! futures-lite tasks that drop and time out upgrades and every other wait
//! at random while one word checks exclusion (at most one writer or
//! upgraded reader, never beside anyone; at most one upgradable reader).
//! The may and corosensei worlds are in the matrix (`rwlock-upgrade`).
//! A watchdog turns a hang into a failure.
//!
//! `POLYSYNC_STORM_SEED` reruns the storm with a given seed;
//! `POLYSYNC_STORM_MS` changes its length (default 1000).

#[path = "support/worlds.rs"]
mod worlds;

use futures_lite::future::{block_on, poll_once};
use polysync::{RawRwLock, RwLock, RwLockUpgradableReadGuard as Up};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::thread;
use std::time::{Duration, Instant};
use worlds::{Watchdog, multi_thread_rt, wait_until};

#[test]
fn upgradable_shares_with_readers_and_excludes_the_rest() {
    let _dog = Watchdog::new(
        "upgradable_shares_with_readers_and_excludes_the_rest",
        Duration::from_secs(30),
    );
    let lock = RwLock::new(1);
    let r = lock.read_blocking();
    let u = lock.try_upgradable_read().expect("beside a reader");
    assert!(lock.try_read().is_some(), "readers share with it");
    assert!(
        lock.try_upgradable_read().is_none(),
        "one upgradable reader"
    );
    assert!(lock.try_write().is_none(), "no writer beside it");
    assert_eq!(
        lock.readers(),
        1,
        "the upgradable reader is not a plain reader"
    );
    drop(r);
    assert!(
        lock.try_write().is_none(),
        "still excluded by the upgradable read"
    );
    drop(u);
    assert!(!lock.is_locked());
    let w = lock.write_blocking();
    assert!(lock.try_upgradable_read().is_none(), "a writer excludes it");
    drop(w);
}

#[test]
fn upgrade_waits_for_the_readers_and_goes_first() {
    let _dog = Watchdog::new(
        "upgrade_waits_for_the_readers_and_goes_first",
        Duration::from_secs(30),
    );
    let lock = RwLock::new(0);
    let r = lock.read_blocking();
    let mut u = lock.upgradable_read_blocking();
    thread::scope(|s| {
        // A writer queues first, then the upgrade starts, then a reader:
        // the upgrade gets the lock before both.
        let writer = s.spawn(|| {
            let mut w = lock.write_blocking();
            assert_eq!(*w, 1, "the upgrade wrote first");
            *w = 2;
        });
        wait_until("the writer queued", || lock.waiting() == 1);
        let reader;
        {
            let mut up = pin!(Up::upgrade(&mut u));
            assert!(
                block_on(poll_once(up.as_mut())).is_none(),
                "a reader holds a share"
            );
            assert_eq!(lock.waiting(), 2);
            assert!(
                lock.try_read().is_none(),
                "no reader passes a waiting upgrade"
            );
            reader = s.spawn(|| {
                let r = lock.read_blocking();
                assert_eq!(*r, 2, "the reader queued behind the writer");
            });
            wait_until("the reader queued", || lock.waiting() == 3);
            drop(r);
            let mut w = block_on(up.as_mut());
            *w = 1;
        }
        assert!(lock.is_upgradable_locked());
        drop(u);
        writer.join().unwrap();
        reader.join().unwrap();
    });
    assert!(!lock.is_locked());
    assert_eq!(lock.waiting(), 0);
}

#[test]
fn readers_queued_before_a_waiting_upgrade_wait_for_it() {
    let _dog = Watchdog::new(
        "readers_queued_before_a_waiting_upgrade_wait_for_it",
        Duration::from_secs(30),
    );
    // Queued: a writer (behind the upgradable read), a reader behind it;
    // then the upgrade waits. When the writer gives up, the reader, now at
    // the front, does not get in before the upgrade (UPGRADING stops plain
    // readers), and gets in when the upgraded guard turns back.
    let lock = RwLock::new(0);
    let r0 = lock.read_blocking();
    let mut u = lock.upgradable_read_blocking();
    let mut wf = Box::pin(lock.write());
    assert!(block_on(poll_once(wf.as_mut())).is_none());
    let mut rf = pin!(lock.read());
    assert!(block_on(poll_once(rf.as_mut())).is_none());
    {
        let mut up = pin!(Up::upgrade(&mut u));
        assert!(block_on(poll_once(up.as_mut())).is_none());
        drop(wf);
        assert!(
            block_on(poll_once(rf.as_mut())).is_none(),
            "a queued reader got in before the waiting upgrade"
        );
        drop(r0);
        let mut w = block_on(poll_once(up.as_mut())).expect("handed over at the release");
        *w = 1;
    }
    let r = block_on(poll_once(rf.as_mut())).expect("admitted when the upgrade turned back");
    assert_eq!(*r, 1);
    drop(r);
    drop(u);
    assert!(!lock.is_locked());
}

#[test]
fn a_dropped_upgrade_leaves_the_upgradable_read() {
    let _dog = Watchdog::new(
        "a_dropped_upgrade_leaves_the_upgradable_read",
        Duration::from_secs(30),
    );
    let lock = RwLock::new(0);
    let r = lock.read_blocking();
    let mut u = lock.upgradable_read_blocking();
    {
        let mut up = pin!(Up::upgrade(&mut u));
        assert!(block_on(poll_once(up.as_mut())).is_none());
        assert!(lock.try_read().is_none(), "readers wait behind the upgrade");
    }
    // Withdrawn: readers get in again, the guard still holds.
    assert!(lock.is_upgradable_locked());
    assert_eq!(lock.waiting(), 0);
    assert!(lock.try_read().is_some());
    assert!(lock.try_write().is_none());
    // Handed the write lock, then dropped before its next poll.
    {
        let mut up = pin!(Up::upgrade(&mut u));
        assert!(block_on(poll_once(up.as_mut())).is_none());
        drop(r);
        assert!(lock.is_write_locked(), "handed over at the release");
    }
    assert!(!lock.is_write_locked());
    assert!(
        lock.is_upgradable_locked(),
        "turned back into the upgradable read"
    );
    assert!(lock.try_read().is_some());
    // A timed-out upgrade keeps it too.
    let r = lock.read_blocking();
    assert!(Up::try_upgrade_for(&mut u, Duration::from_millis(1)).is_none());
    assert!(lock.is_upgradable_locked());
    drop(r);
    *Up::try_upgrade_for(&mut u, Duration::ZERO).unwrap() = 7;
    assert_eq!(*u, 7);
    drop(u);
    assert!(!lock.is_locked());
}

#[test]
fn upgraded_guard_turns_back_and_readers_join() {
    let _dog = Watchdog::new(
        "upgraded_guard_turns_back_and_readers_join",
        Duration::from_secs(30),
    );
    let lock = RwLock::new(0);
    let mut u = lock.upgradable_read_blocking();
    let w = Up::upgrade_blocking(&mut u);
    thread::scope(|s| {
        let reader = s.spawn(|| *lock.read_blocking());
        wait_until("the reader queued", || lock.waiting() == 1);
        drop(w);
        // The reader joins the upgradable read at once.
        assert_eq!(reader.join().unwrap(), 0);
    });
    let r = Up::downgrade(u);
    assert_eq!(lock.readers(), 1);
    assert!(lock.try_upgradable_read().is_some());
    drop(r);
}

#[test]
fn downgrade_admits_the_next_upgradable_reader() {
    let _dog = Watchdog::new(
        "downgrade_admits_the_next_upgradable_reader",
        Duration::from_secs(30),
    );
    let lock = RwLock::new(0);
    let u = lock.upgradable_read_blocking();
    thread::scope(|s| {
        let other = s.spawn(|| {
            let _u = lock.upgradable_read_blocking();
        });
        wait_until("the second upgradable reader queued", || {
            lock.waiting() == 1
        });
        let r = Up::downgrade(u);
        other.join().unwrap();
        drop(r);
    });
}

#[test]
#[should_panic(expected = "already holds this RwLock's upgradable read")]
fn the_upgradable_reader_asking_for_write_is_refused() {
    let _dog = Watchdog::new(
        "the_upgradable_reader_asking_for_write_is_refused",
        Duration::from_secs(30),
    );
    let lock = RwLock::new(0);
    let _u = lock.upgradable_read_blocking();
    // A timed form: without the refusal the test fails (no panic) at once
    // instead of hanging.
    let _w = lock.try_write_for(Duration::from_millis(1));
}

#[test]
#[should_panic(expected = "already holds this RwLock's upgradable read")]
fn a_second_upgradable_read_is_refused() {
    let _dog = Watchdog::new(
        "a_second_upgradable_read_is_refused",
        Duration::from_secs(30),
    );
    let lock = RwLock::new(0);
    let _u = lock.upgradable_read_blocking();
    let _v = lock.try_upgradable_read_for(Duration::from_millis(1));
}

#[test]
fn the_upgradable_reader_may_read_and_others_are_not_refused() {
    let _dog = Watchdog::new(
        "the_upgradable_reader_may_read_and_others_are_not_refused",
        Duration::from_secs(30),
    );
    let lock = RwLock::new(0);
    let u = lock.upgradable_read_blocking();
    // Its own read share is granted (nobody queued), not refused.
    drop(lock.read_blocking());
    // Another unit waits, it is not refused.
    thread::scope(|s| {
        let t = s.spawn(|| lock.try_write_for(Duration::from_millis(1)).is_none());
        assert!(t.join().unwrap());
    });
    drop(u);
    // After the release the same unit may take it again.
    drop(lock.upgradable_read_blocking());
    drop(lock.write_blocking());
}

#[test]
fn raw_upgradable_forms() {
    let _dog = Watchdog::new("raw_upgradable_forms", Duration::from_secs(30));
    let lock = RawRwLock::new();
    let mut u = lock.upgradable_read_blocking();
    let w = u.try_upgrade().unwrap();
    assert!(lock.is_write_locked());
    drop(w);
    let r = lock.read_blocking();
    assert!(u.try_upgrade().is_none());
    drop(r);
    let w = polysync::lowlevel::ThreadWaiter::with_current(|t| u.upgrade_with(t, None)).unwrap();
    drop(w);
    let r = u.downgrade();
    assert_eq!(lock.readers(), 1);
    drop(r);
    assert!(!lock.is_locked());
}

// ----------------------------------------------------------------- storm

const WRITER_IN: u64 = 1 << 40;
const UPGRADABLE_IN: u64 = 1 << 20;

struct Shared {
    lock: RwLock<(u64, u64)>,
    inside: AtomicU64,
    writes: AtomicU64,
}

impl Shared {
    fn enter(&self, what: u64) {
        let now = self.inside.fetch_add(what, SeqCst) + what;
        assert!(now <= WRITER_IN, "a writer beside anyone: {now:#x}");
        assert!(
            now % WRITER_IN / UPGRADABLE_IN <= 1,
            "two upgradable readers: {now:#x}"
        );
    }
    fn leave(&self, what: u64) {
        self.inside.fetch_sub(what, SeqCst);
    }
    fn write(&self, data: &mut (u64, u64)) {
        self.enter(WRITER_IN);
        data.0 += 1;
        std::hint::spin_loop();
        data.1 += 1;
        self.writes.fetch_add(1, SeqCst);
        self.leave(WRITER_IN);
    }
    fn read(&self, data: &(u64, u64), what: u64) {
        self.enter(what);
        assert_eq!(data.0, data.1, "a torn write");
        self.leave(what);
    }
}

struct Rng(u64);
impl Rng {
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
    fn timeout(&mut self) -> Duration {
        Duration::from_micros(self.below(4) * self.below(300))
    }
}

fn seed() -> u64 {
    std::env::var("POLYSYNC_STORM_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}

fn storm_end() -> Instant {
    let ms = std::env::var("POLYSYNC_STORM_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    Instant::now() + Duration::from_millis(ms)
}

/// One blocking op: a timed wait of any kind; an upgradable reader upgrades
/// with a random timeout.
fn thread_op(s: &Shared, rng: &mut Rng) {
    let t = rng.timeout();
    match rng.below(4) {
        0 => {
            if let Some(mut g) = s.lock.try_write_for(t) {
                s.write(&mut g);
            }
        }
        1 => {
            if let Some(g) = s.lock.try_read_for(t) {
                s.read(&g, 1);
            }
        }
        _ => {
            if let Some(mut u) = s.lock.try_upgradable_read_for(t) {
                s.read(&u, UPGRADABLE_IN);
                let t = rng.timeout();
                if let Some(mut w) = Up::try_upgrade_for(&mut u, t) {
                    s.write(&mut w);
                }
                // Kept or not, the guard still holds the upgradable read.
                s.read(&u, UPGRADABLE_IN);
                if rng.below(2) == 0 {
                    let r = Up::downgrade(u);
                    s.read(&r, 1);
                }
            }
        }
    }
}

/// One async op: a wait of any kind, polled a random number of times and
/// then dropped (or awaited to the end).
async fn task_op(s: &Shared, rng: &mut Rng) {
    let polls = rng.below(4);
    let give_up = polls < 3;
    match rng.below(4) {
        0 => {
            let mut f = pin!(s.lock.write());
            if let Some(mut g) = drive(f.as_mut(), polls, give_up).await {
                s.write(&mut g);
            }
        }
        1 => {
            let mut f = pin!(s.lock.read());
            if let Some(g) = drive(f.as_mut(), polls, give_up).await {
                s.read(&g, 1);
            }
        }
        _ => {
            let mut f = pin!(s.lock.upgradable_read());
            if let Some(mut u) = drive(f.as_mut(), polls, give_up).await {
                s.read(&u, UPGRADABLE_IN);
                let polls = rng.below(4);
                {
                    let mut up = pin!(Up::upgrade(&mut u));
                    if let Some(mut w) = drive(up.as_mut(), polls, polls < 3).await {
                        s.write(&mut w);
                    }
                }
                s.read(&u, UPGRADABLE_IN);
            }
        }
    }
}

/// Polls `f` up to `polls` times, yielding in between; gives up (returns
/// `None`, the caller drops the future) if `give_up`, else awaits it.
async fn drive<F: std::future::Future + Unpin>(
    mut f: F,
    polls: u64,
    give_up: bool,
) -> Option<F::Output> {
    for _ in 0..polls {
        if let Some(out) = poll_once(&mut f).await {
            return Some(out);
        }
        futures_lite::future::yield_now().await;
    }
    if give_up {
        poll_once(&mut f).await
    } else {
        Some(f.await)
    }
}

#[test]
#[cfg_attr(miri, ignore = "a timed storm with tokio: too slow under Miri")]
fn cancellation_storm_across_worlds() {
    let _dog = Watchdog::new("cancellation_storm_across_worlds", Duration::from_secs(60));
    let seed = seed();
    eprintln!("POLYSYNC_STORM_SEED={seed}");
    let s = Arc::new(Shared {
        lock: RwLock::new((0, 0)),
        inside: AtomicU64::new(0),
        writes: AtomicU64::new(0),
    });
    let end = storm_end();
    let rt = multi_thread_rt();
    let mut tokio_tasks = Vec::new();
    for k in 0..3u64 {
        let s = s.clone();
        tokio_tasks.push(rt.spawn(async move {
            let mut rng = Rng(seed ^ (k + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            while Instant::now() < end {
                task_op(&s, &mut rng).await;
                tokio::task::yield_now().await;
            }
        }));
    }
    let mut threads = Vec::new();
    for k in 0..2u64 {
        let s = s.clone();
        threads.push(thread::spawn(move || {
            let mut rng = Rng(seed ^ (k + 11).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            while Instant::now() < end {
                thread_op(&s, &mut rng);
            }
        }));
    }
    {
        let s = s.clone();
        threads.push(thread::spawn(move || {
            let mut rng = Rng(seed ^ 0x5151 | 1);
            block_on(async {
                while Instant::now() < end {
                    task_op(&s, &mut rng).await;
                    futures_lite::future::yield_now().await;
                }
            })
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    for t in tokio_tasks {
        rt.block_on(t).unwrap();
    }
    assert!(!s.lock.is_locked(), "the lock ends held: {:?}", s.lock);
    assert_eq!(s.lock.waiting(), 0);
    let writes = s.writes.load(SeqCst);
    assert_eq!(*s.lock.read_blocking(), (writes, writes));
    assert_eq!(s.inside.load(SeqCst), 0);
}
