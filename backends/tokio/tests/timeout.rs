//! `polysync_tokio::timeout` (tokio's timer) reads like
//! `polysync_async_io::timeout`, and a timed-out wait loses nothing:
//!
//! - a contended lock, a semaphore, an event and a queue get time out and
//!   withdraw, then succeed, on a current-thread and a multi-thread runtime;
//! - a lock handed over after the deadline passed but before the next poll
//!   is taken (the inner future is polled first) or, dropped, passed on;
//! - a put that times out drops its item once and never delivers it.
//!
//! (Inside a may coroutine or a corosensei green thread: once those
//! backends exist.)

mod support;

use futures_lite::future::poll_once;
use polysync::{Event, Lock, Queue, Semaphore};
use polysync_tokio::{TimeoutExt, timeout, timeout_at};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::{current_thread, multi_thread, watchdog};

const SHORT: Duration = Duration::from_millis(5);
const LONG: Duration = Duration::from_secs(10);

async fn scenario() {
    let lock = Arc::new(Lock::new());
    let guard = lock.acquire().await;
    assert!(lock.acquire().timeout(SHORT).await.is_err());
    assert_eq!(lock.waiting(), 0);
    drop(guard);
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let holder = {
        let lock = lock.clone();
        std::thread::spawn(move || {
            let guard = lock.acquire_blocking();
            held_tx.send(()).unwrap();
            while lock.waiting() == 0 {
                std::thread::yield_now();
            }
            drop(guard);
        })
    };
    held_rx.recv().unwrap();
    drop(lock.acquire().timeout(LONG).await.unwrap());
    holder.join().unwrap();

    let sem = Semaphore::new(0);
    assert!(timeout(SHORT, sem.acquire()).await.is_err());
    assert_eq!(sem.waiting(), 0);
    sem.release(1);
    timeout_at(Instant::now() + LONG, sem.acquire())
        .await
        .unwrap()
        .unwrap()
        .forget();

    let event = Event::new();
    assert!(event.wait().timeout(SHORT).await.is_err());
    event.set();
    event
        .wait()
        .timeout_at(Instant::now() + LONG)
        .await
        .unwrap();

    let q: Queue<u32> = Queue::unbounded();
    assert!(q.get().timeout(SHORT).await.is_err());
    q.put(3).await.unwrap();
    assert_eq!(q.get().timeout(LONG).await.unwrap(), Ok(3));
}

#[test]
fn under_current_thread() {
    watchdog("timeout_current_thread", || {
        current_thread().block_on(async { tokio::spawn(scenario()).await.unwrap() });
    });
}

#[test]
fn under_multi_thread() {
    watchdog("timeout_multi_thread", || {
        multi_thread(2).block_on(async {
            let tasks: Vec<_> = (0..4).map(|_| tokio::spawn(scenario())).collect();
            for task in tasks {
                task.await.unwrap();
            }
        });
    });
}

#[test]
fn lock_handed_at_the_deadline_is_taken_or_passed_on() {
    watchdog("tokio_handed_at_deadline", || {
        current_thread().block_on(async {
            let lock = Lock::new();
            for take in [true, false] {
                let holder = lock.acquire().await;
                // Boxed, so that `drop(b)` below drops the future itself.
                let mut b = Box::pin(lock.acquire().timeout(Duration::from_millis(10)));
                assert!(poll_once(b.as_mut()).await.is_none());
                let mut c = Box::pin(lock.acquire());
                assert!(poll_once(c.as_mut()).await.is_none());
                tokio::time::sleep(Duration::from_millis(20)).await; // b's deadline passes
                drop(holder); // handed to b, the oldest waiter
                if take {
                    let got = poll_once(b.as_mut()).await.expect("b resolves");
                    drop(got.expect("the hand-off wins over the passed deadline"));
                } else {
                    drop(b); // withdraws: passes the lock on to c
                }
                let guard = poll_once(c.as_mut()).await.expect("c got the lock");
                assert_eq!(lock.waiting(), 0);
                drop(guard);
            }
            let holder = lock.acquire().await;
            let mut b = pin!(lock.acquire().timeout(Duration::from_millis(5)));
            assert!(poll_once(b.as_mut()).await.is_none());
            assert!(b.as_mut().await.is_err());
            assert_eq!(lock.waiting(), 0, "withdrawn before Elapsed was reported");
            drop(holder);
            assert!(!lock.is_locked());
        });
    });
}

struct Counted(Arc<AtomicUsize>, u32);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn put_that_times_out_drops_its_item_once_and_never_delivers_it() {
    watchdog("tokio_put_times_out", || {
        current_thread().block_on(async {
            let drops = Arc::new(AtomicUsize::new(0));
            let q = Queue::bounded(1);
            q.put(Counted(drops.clone(), 1)).await.unwrap();
            let mut put = pin!(q.put(Counted(drops.clone(), 2)).timeout(SHORT));
            assert!(put.as_mut().await.is_err());
            assert_eq!(
                drops.load(Ordering::SeqCst),
                1,
                "the item went with the wait"
            );
            assert_eq!(q.get().await.unwrap().1, 1);
            assert!(
                q.get().timeout(SHORT).await.is_err(),
                "item 2 never arrives"
            );
            assert_eq!(drops.load(Ordering::SeqCst), 2);
        });
    });
}

/// tokio's timer needs a runtime with time enabled; `timeout` panics (when
/// created) elsewhere, like `tokio::time::timeout`.
#[test]
fn timeout_outside_a_runtime_panics() {
    let out = std::panic::catch_unwind(|| drop(timeout(SHORT, std::future::pending::<()>())));
    assert!(out.is_err());
}
