//! RwLock semantics: exclusion, shared reading, writers waiting for readers,
//! strict FIFO across readers and writers with reader batches, no starvation
//! either way, cancellation that passes on what it was handed, downgrade,
//! mapped and owned guards, Debug.
//!
//! The order tests queue async waits from one thread, polling each once with
//! a waker that records its wakes, so the queue order is exact and every
//! assertion can fail on a wrong hand-off.

#[path = "support/probe.rs"]
mod probe;
use probe::{WakeCount, poll_with};
#[path = "support/worlds.rs"]
mod worlds;

use polysync::{MappedRwLockWriteGuard, RawRwLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};
use worlds::{Watchdog, wait_until};

/// Polls once and expects `Pending` (the wait is queued now).
fn queue<F: Future>(fut: Pin<&mut F>, waker: &Waker, what: &str) {
    assert!(
        poll_with(fut, waker).is_pending(),
        "{what} should have queued"
    );
}

#[test]
fn readers_share_writers_exclude() {
    let lock = RwLock::new(0);
    let r1 = lock.read_blocking();
    let r2 = lock.try_read().expect("a second reader shares");
    assert_eq!(lock.readers(), 2);
    assert!(
        lock.try_write().is_none(),
        "a writer entered beside readers"
    );
    drop((r1, r2));
    let mut w = lock.try_write().expect("free");
    *w += 1;
    assert!(lock.is_write_locked());
    assert!(
        lock.try_read().is_none(),
        "a reader entered beside a writer"
    );
    assert!(lock.try_write().is_none(), "two writers");
    drop(w);
    assert!(!lock.is_locked());
    assert_eq!(*lock.read_blocking(), 1);
}

#[test]
fn many_readers_at_once_across_threads() {
    let _dog = Watchdog::new(
        "many_readers_at_once_across_threads",
        Duration::from_secs(20),
    );
    let lock = Arc::new(RwLock::new(()));
    // Each reader holds its share until all four hold one: impossible if
    // readers excluded each other.
    let inside = Arc::new(std::sync::Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (lock, inside) = (lock.clone(), inside.clone());
            thread::spawn(move || {
                let _r = lock.read_blocking();
                inside.wait();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(!lock.is_locked());
}

#[test]
fn writer_waits_for_every_reader() {
    let _dog = Watchdog::new("writer_waits_for_every_reader", Duration::from_secs(20));
    let lock = Arc::new(RwLock::new(0));
    let r1 = lock.read_blocking();
    let r2 = lock.read_blocking();
    let writer = {
        let lock = lock.clone();
        thread::spawn(move || *lock.write_blocking() += 1)
    };
    wait_until("the writer queued", || lock.waiting() == 1);
    drop(r1);
    thread::sleep(Duration::from_millis(20));
    assert!(
        !lock.is_write_locked(),
        "the writer entered beside a reader"
    );
    assert_eq!(lock.waiting(), 1);
    drop(r2);
    writer.join().unwrap();
    assert_eq!(*lock.read_blocking(), 1);
}

#[test]
fn exclusion_under_contention() {
    let _dog = Watchdog::new("exclusion_under_contention", Duration::from_secs(60));
    let lock = Arc::new(RwLock::new((0u64, 0u64)));
    let readers = Arc::new(AtomicUsize::new(0));
    let writers = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (lock, readers, writers) = (lock.clone(), readers.clone(), writers.clone());
            thread::spawn(move || {
                for i in 0..2000 {
                    if (i + t) % 3 == 0 {
                        let mut g = lock.write_blocking();
                        assert_eq!(writers.fetch_add(1, Ordering::SeqCst), 0, "two writers");
                        assert_eq!(
                            readers.load(Ordering::SeqCst),
                            0,
                            "a reader beside a writer"
                        );
                        g.0 += 1;
                        std::hint::spin_loop();
                        g.1 += 1;
                        writers.fetch_sub(1, Ordering::SeqCst);
                    } else {
                        let g = lock.read_blocking();
                        readers.fetch_add(1, Ordering::SeqCst);
                        assert_eq!(
                            writers.load(Ordering::SeqCst),
                            0,
                            "a writer beside a reader"
                        );
                        assert_eq!(g.0, g.1, "a torn write was seen");
                        readers.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let g = lock.read_blocking();
    let writes = (0..4)
        .map(|t| (0..2000).filter(|i| (i + t) % 3 == 0).count() as u64)
        .sum::<u64>();
    assert_eq!(*g, (writes, writes));
}

/// Writer holds; queued: R1 R2 W3 R4 R5 W6. The release hands the lock to
/// R1 and R2 together (the batch stops at W3); W3 gets it when both leave;
/// then R4 and R5 together; then W6.
#[test]
fn fifo_across_kinds_with_reader_batches() {
    let lock = RwLock::new(0);
    let w0 = lock.write_blocking();
    let (c1, k1) = WakeCount::new();
    let (c2, k2) = WakeCount::new();
    let (c3, k3) = WakeCount::new();
    let (c4, k4) = WakeCount::new();
    let (c5, k5) = WakeCount::new();
    let (c6, k6) = WakeCount::new();
    let mut r1 = pin!(lock.read());
    let mut r2 = pin!(lock.read());
    let mut w3 = pin!(lock.write());
    let mut r4 = pin!(lock.read());
    let mut r5 = pin!(lock.read());
    let mut w6 = pin!(lock.write());
    queue(r1.as_mut(), &k1, "R1");
    queue(r2.as_mut(), &k2, "R2");
    queue(w3.as_mut(), &k3, "W3");
    queue(r4.as_mut(), &k4, "R4");
    queue(r5.as_mut(), &k5, "R5");
    queue(w6.as_mut(), &k6, "W6");
    assert_eq!(lock.waiting(), 6);

    drop(w0);
    assert_eq!(
        lock.readers(),
        2,
        "the release must admit the whole reader batch"
    );
    assert_eq!(lock.waiting(), 4);
    let wakes = |cs: &[&Arc<WakeCount>]| cs.iter().map(|c| c.get()).collect::<Vec<_>>();
    assert_eq!(wakes(&[&c1, &c2, &c3, &c4, &c5, &c6]), [1, 1, 0, 0, 0, 0]);
    let g1 = match poll_with(r1.as_mut(), &k1) {
        Poll::Ready(g) => g,
        Poll::Pending => panic!("R1 was woken but not admitted"),
    };
    let g2 = match poll_with(r2.as_mut(), &k2) {
        Poll::Ready(g) => g,
        Poll::Pending => panic!("R2 was woken but not admitted"),
    };
    assert!(
        poll_with(w3.as_mut(), &k3).is_pending(),
        "W3 beside readers"
    );
    assert!(
        poll_with(r4.as_mut(), &k4).is_pending(),
        "R4 passed the queued W3"
    );

    drop(g1);
    assert!(!lock.is_write_locked(), "W3 entered beside R2");
    drop(g2);
    assert!(
        lock.is_write_locked(),
        "the last reader must hand the lock to W3"
    );
    assert_eq!(wakes(&[&c3, &c4]), [1, 0]);
    let g3 = match poll_with(w3.as_mut(), &k3) {
        Poll::Ready(g) => g,
        Poll::Pending => panic!("W3 was handed the lock but is pending"),
    };
    drop(g3);
    assert_eq!(lock.readers(), 2, "R4 and R5 enter together");
    assert_eq!(wakes(&[&c4, &c5, &c6]), [1, 1, 0]);
    let g4 = match poll_with(r4.as_mut(), &k4) {
        Poll::Ready(g) => g,
        Poll::Pending => panic!("R4"),
    };
    let g5 = match poll_with(r5.as_mut(), &k5) {
        Poll::Ready(g) => g,
        Poll::Pending => panic!("R5"),
    };
    drop((g4, g5));
    assert!(lock.is_write_locked());
    match poll_with(w6.as_mut(), &k6) {
        Poll::Ready(mut g) => *g += 1,
        Poll::Pending => panic!("W6"),
    }
    assert!(!lock.is_locked());
    assert_eq!(lock.waiting(), 0);
}

/// Readers hold the lock and a writer is queued: a new reader neither
/// takes a share with `try_read` nor with `read()`; it queues behind the
/// writer and gets in when the writer leaves.
#[test]
fn readers_do_not_barge_past_a_queued_writer() {
    let lock = RwLock::new(0);
    let held = lock.read_blocking();
    let (_cw, kw) = WakeCount::new();
    let (cr, kr) = WakeCount::new();
    let mut w = pin!(lock.write());
    queue(w.as_mut(), &kw, "the writer");
    assert!(
        lock.try_read().is_none(),
        "try_read barged past a queued writer"
    );
    assert!(
        lock.try_read_for(Duration::from_millis(5)).is_none(),
        "a blocking read barged past a queued writer"
    );
    let mut r = pin!(lock.read());
    queue(r.as_mut(), &kr, "a reader behind a queued writer");
    assert_eq!(lock.readers(), 1);
    drop(held);
    let g = match poll_with(w.as_mut(), &kw) {
        Poll::Ready(g) => g,
        Poll::Pending => panic!("the writer did not get the lock"),
    };
    assert_eq!(cr.get(), 0);
    drop(g);
    assert_eq!(cr.get(), 1);
    assert!(poll_with(r.as_mut(), &kr).is_ready());
}

/// A queued writer at the front of a read-held lock gives up: the readers
/// queued behind it get in at once (they fit now), not at the next release.
#[test]
fn a_cancelled_front_writer_lets_the_readers_behind_it_in() {
    let lock = RwLock::new(0);
    let held = lock.read_blocking();
    let (_cw, kw) = WakeCount::new();
    let (c1, k1) = WakeCount::new();
    let (c2, k2) = WakeCount::new();
    let (c3, k3) = WakeCount::new();
    let mut w = Box::pin(lock.write());
    let mut r1 = pin!(lock.read());
    let mut r2 = pin!(lock.read());
    let mut w3 = pin!(lock.write());
    queue(w.as_mut(), &kw, "W");
    queue(r1.as_mut(), &k1, "R1");
    queue(r2.as_mut(), &k2, "R2");
    queue(w3.as_mut(), &k3, "W3");
    drop(w);
    assert_eq!(
        lock.readers(),
        3,
        "the readers behind the cancelled writer must get in"
    );
    assert_eq!(c1.get(), 1);
    assert_eq!(c2.get(), 1);
    assert_eq!(c3.get(), 0);
    assert!(poll_with(r1.as_mut(), &k1).is_ready());
    assert!(poll_with(r2.as_mut(), &k2).is_ready());
    drop(held);
    assert!(lock.is_write_locked(), "W3 after the last reader");
    assert!(poll_with(w3.as_mut(), &k3).is_ready());
    assert!(!lock.is_locked());
}

/// A writer handed the lock and dropped before it saw it passes the lock on.
#[test]
fn a_cancelled_writer_passes_the_lock_on() {
    let lock = RwLock::new(0);
    let held = lock.write_blocking();
    let (_c, k) = WakeCount::new();
    let (c2, k2) = WakeCount::new();
    let (c3, k3) = WakeCount::new();
    let mut w1 = Box::pin(lock.write());
    let mut r2 = pin!(lock.read());
    let mut r3 = pin!(lock.read());
    queue(w1.as_mut(), &k, "W1");
    queue(r2.as_mut(), &k2, "R2");
    queue(r3.as_mut(), &k3, "R3");
    drop(held); // hands the lock to W1
    assert!(lock.is_write_locked());
    assert_eq!(c2.get(), 0);
    drop(w1); // W1 never saw it: passes it on to R2 and R3
    assert_eq!(lock.readers(), 2, "the dropped writer's hand-off was lost");
    assert_eq!(c2.get(), 1);
    assert_eq!(c3.get(), 1);
    assert!(poll_with(r2.as_mut(), &k2).is_ready());
    assert!(poll_with(r3.as_mut(), &k3).is_ready());
    assert!(!lock.is_locked());
}

/// A reader handed a share and dropped before it saw it gives the share
/// back: the writer behind the batch gets the lock.
#[test]
fn a_cancelled_reader_gives_its_share_back() {
    let lock = RwLock::new(0);
    let held = lock.write_blocking();
    let (_c, k) = WakeCount::new();
    let (cw, kw) = WakeCount::new();
    let mut r1 = Box::pin(lock.read());
    let mut w2 = pin!(lock.write());
    queue(r1.as_mut(), &k, "R1");
    queue(w2.as_mut(), &kw, "W2");
    drop(held);
    assert_eq!(lock.readers(), 1);
    drop(r1);
    assert!(lock.is_write_locked(), "the dropped reader kept its share");
    assert_eq!(cw.get(), 1);
    assert!(poll_with(w2.as_mut(), &kw).is_ready());
    assert!(!lock.is_locked());
}

/// Blocking waits that time out leave the queue, and one handed its share
/// as it gives up keeps it (no loss either way).
#[test]
fn timed_out_waits_leave_nothing_behind() {
    let lock = RwLock::new(0);
    let held = lock.write_blocking();
    // From another thread: the writer's own timed waits would panic (it
    // holds the write lock; see tests/rwlock_reentry.rs).
    thread::scope(|s| {
        s.spawn(|| {
            assert!(lock.try_read_for(Duration::from_millis(2)).is_none());
            assert!(lock.try_write_for(Duration::from_millis(2)).is_none());
            assert!(lock.try_read_until(Instant::now()).is_none());
        });
    });
    assert_eq!(lock.waiting(), 0);
    drop(held);
    assert!(!lock.is_locked());
    let r = lock.read_blocking();
    assert!(
        lock.try_write_until(Instant::now() + Duration::from_millis(2))
            .is_none()
    );
    drop(r);
    assert!(!lock.is_locked());
}

/// A stream of overlapping readers never starves a queued writer: once it
/// queues, later readers wait behind it.
#[test]
fn no_writer_starvation_under_a_stream_of_readers() {
    let _dog = Watchdog::new(
        "no_writer_starvation_under_a_stream_of_readers",
        Duration::from_secs(30),
    );
    let lock = Arc::new(RwLock::new(0u64));
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (lock, stop, reads) = (lock.clone(), stop.clone(), reads.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(g) = lock.try_read_for(Duration::from_millis(50)) {
                        reads.fetch_add(1, Ordering::Relaxed);
                        // Long overlapping holds: the lock is read-held
                        // almost all the time.
                        thread::sleep(Duration::from_millis(3));
                        drop(g);
                    }
                }
            })
        })
        .collect();
    wait_until("the readers overlap", || reads.load(Ordering::Relaxed) > 10);
    for _ in 0..5 {
        // Untimed: a starved writer never gets in, and the watchdog fails
        // the test (a bound on the wait would make the outcome depend on
        // the machine's load).
        let w = lock.write_blocking();
        drop(w);
        thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    for t in readers {
        t.join().unwrap();
    }
}

/// A stream of writers never starves a reader: it gets in when the writer
/// ahead of it leaves.
#[test]
fn no_reader_starvation_under_a_stream_of_writers() {
    let _dog = Watchdog::new(
        "no_reader_starvation_under_a_stream_of_writers",
        Duration::from_secs(30),
    );
    let lock = Arc::new(RwLock::new(0u64));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|_| {
            let (lock, stop) = (lock.clone(), stop.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(mut g) = lock.try_write_for(Duration::from_millis(50)) {
                        *g += 1;
                        thread::sleep(Duration::from_millis(2));
                    }
                }
            })
        })
        .collect();
    wait_until("the writers run", || *lock.read_blocking() > 5);
    for _ in 0..10 {
        // Untimed, as above: a starved reader trips the watchdog.
        drop(lock.read_blocking());
    }
    stop.store(true, Ordering::Relaxed);
    for t in writers {
        t.join().unwrap();
    }
}

/// Downgrading lets the readers at the front in, not the writer behind them.
#[test]
fn downgrade_admits_the_front_readers() {
    let lock = RwLock::new(1);
    let mut w = lock.write_blocking();
    let (c1, k1) = WakeCount::new();
    let (c2, k2) = WakeCount::new();
    let (c3, k3) = WakeCount::new();
    let mut r1 = pin!(lock.read());
    let mut r2 = pin!(lock.read());
    let mut w3 = pin!(lock.write());
    queue(r1.as_mut(), &k1, "R1");
    queue(r2.as_mut(), &k2, "R2");
    queue(w3.as_mut(), &k3, "W3");
    *w += 1;
    let r = RwLockWriteGuard::downgrade(w);
    assert_eq!(*r, 2);
    assert_eq!(lock.readers(), 3);
    assert_eq!([&c1, &c2, &c3].map(|c| c.get()), [1, 1, 0]);
    match (poll_with(r1.as_mut(), &k1), poll_with(r2.as_mut(), &k2)) {
        (Poll::Ready(a), Poll::Ready(b)) => assert_eq!(*a + *b, 4),
        _ => panic!("the front readers were not admitted"),
    }
    drop(r);
    assert!(poll_with(w3.as_mut(), &k3).is_ready());
}

#[test]
fn mapped_guards() {
    let lock = RwLock::new((1, vec![2, 3]));
    {
        let v = RwLockWriteGuard::map(lock.write_blocking(), |p| &mut p.1);
        let mut last = MappedRwLockWriteGuard::try_map(v, |v| v.last_mut()).unwrap();
        *last = 4;
        assert!(
            lock.try_read().is_none(),
            "a mapped write guard must hold the lock"
        );
    }
    let first = RwLockReadGuard::map(lock.read_blocking(), |p| &p.0);
    assert_eq!(*first, 1);
    assert_eq!(lock.readers(), 1);
    let missing = RwLockReadGuard::try_map(lock.read_blocking(), |p| p.1.get(9));
    let back = missing.unwrap_err();
    assert_eq!(back.1, [2, 4]);
    assert_eq!(lock.readers(), 2);
    drop((first, back));
    let err = RwLockWriteGuard::try_map(lock.write_blocking(), |p| p.1.get_mut(9));
    assert!(err.is_err());
    drop(err);
    assert!(!lock.is_locked());
}

#[test]
fn owned_guards_are_static_and_release() {
    let _dog = Watchdog::new(
        "owned_guards_are_static_and_release",
        Duration::from_secs(20),
    );
    let lock = Arc::new(RwLock::new(0));
    let w = lock.write_owned_blocking();
    let t = thread::spawn(move || {
        let mut w = w;
        *w += 1;
        w.downgrade()
    });
    let r = t.join().unwrap();
    assert_eq!(*r, 1);
    assert_eq!(lock.readers(), 1);
    assert!(lock.try_write_owned().is_none());
    drop(r);
    let got = futures_lite::future::block_on(async {
        let r = lock.read_owned().await;
        let r2 = lock.try_read_owned().unwrap();
        *r + *r2
    });
    assert_eq!(got, 2);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let task_lock = lock.clone();
    rt.block_on(async move {
        let g = task_lock.write_owned().await;
        tokio::spawn(async move {
            let mut g = g;
            *g += 1;
        })
        .await
        .unwrap();
    });
    assert_eq!(*lock.read_blocking(), 2);
    assert!(lock.try_read_owned_for(Duration::ZERO).is_some());
    assert!(lock.try_write_owned_until(Instant::now()).is_some());
    assert_eq!(Arc::strong_count(&lock), 1, "an owned guard leaked its Arc");
}

#[test]
fn owned_future_dropped_after_hand_off_passes_it_on() {
    let lock = Arc::new(RwLock::new(0));
    let held = lock.write_blocking();
    let (_c, k) = WakeCount::new();
    let mut w = Box::pin(lock.write_owned());
    queue(w.as_mut(), &k, "the owned writer");
    drop(held);
    assert!(lock.is_write_locked());
    drop(w);
    assert!(!lock.is_locked(), "the owned future kept its hand-off");
    assert_eq!(Arc::strong_count(&lock), 1);
}

#[test]
fn raw_lock_on_its_own() {
    let lock = RawRwLock::new();
    let w = lock.write_blocking();
    assert!(lock.try_read().is_none());
    let r = w.downgrade();
    assert_eq!(lock.readers(), 1);
    let r2 = futures_lite::future::block_on(lock.read());
    drop((r, r2));
    assert!(!lock.is_locked());
    let shown = format!("{lock:?}");
    assert!(
        shown.contains("readers: 0") && shown.contains("writer: false"),
        "{shown}"
    );
}

#[test]
fn debug_shows_state() {
    let lock = RwLock::new(7);
    let shown = format!("{lock:?}");
    assert!(shown.contains("data: 7"), "{shown}");
    assert!(shown.contains("readers: 0"), "{shown}");
    let r = lock.read_blocking();
    let shown = format!("{lock:?}");
    assert!(
        shown.contains("readers: 1") && shown.contains("data: 7"),
        "{shown}"
    );
    drop(r);
    let w = lock.write_blocking();
    let shown = format!("{lock:?}");
    assert!(
        shown.contains("<locked>") && shown.contains("writer: true"),
        "{shown}"
    );
    assert_eq!(format!("{w:?}"), "7");
    let fut = lock.read();
    assert!(format!("{fut:?}").contains("queued: false"));
}

#[test]
fn default_from_into_inner_get_mut() {
    let mut lock: RwLock<Vec<u8>> = RwLock::default();
    lock.get_mut().push(1);
    let lock2 = RwLock::from(5);
    assert_eq!(lock2.into_inner(), 5);
    assert_eq!(lock.into_inner(), [1]);
    let unsized_lock: Box<RwLock<[u8]>> = Box::new(RwLock::new([1, 2, 3]));
    assert_eq!(unsized_lock.read_blocking().len(), 3);
}
