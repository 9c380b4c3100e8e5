//! aiologic's "thread leak" example, in Rust: async acquires of an empty
//! semaphore that give up at once must not cost a thread each, nor leave
//! anything behind.
//!
//! In Python, `run_in_executor(executor, semaphore.acquire)` under
//! `wait_for(..., 0)` leaves one worker thread blocked forever per attempt.
//! polysync's futures register a waker in an intrusive queue node instead, so:
//!
//! - 8 acquires under a zero `tokio::time::timeout` and 8 raced against a zero
//!   `async_io::Timer` all fail, and the process's thread count does not grow
//!   by one per acquire (the async-io driver thread may appear once);
//! - the same with acquires that really queued (their first poll returned
//!   `Pending`, `waiting()` counted them) before a small nonzero timeout
//!   fired, one at a time and 8 at once: every node is removed from the queue;
//! - afterwards `waiting() == 0`, `value() == 0`, and one `release(1)` leaves
//!   exactly `value() == 1` (no cancelled waiter swallowed the permit).
//!
//! This file must hold only this one test: it counts the process's threads
//! (the `Threads:` line of /proc/self/status), which other tests running in
//! parallel would disturb.

use futures_lite::future::or;
use polysync::Semaphore;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

/// The number of threads of this process, from /proc/self/status.
fn thread_count() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .expect("a Threads: line")
        .trim()
        .parse()
        .expect("a thread count")
}

/// Owns a semaphore acquire future (so the timeout that drops this wrapper
/// drops the acquire) and records, on its first poll, whether it was
/// `Pending` and how many waiters the semaphore had right then.
struct FirstPoll<'a, F> {
    inner: Pin<Box<F>>,
    sem: &'a Semaphore,
    polled: bool,
    /// Set on the first poll: `sem.waiting()` if it was `Pending`, else `usize::MAX`.
    queued_as: &'a AtomicUsize,
}

impl<F: Future> Future for FirstPoll<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let out = this.inner.as_mut().poll(cx);
        if !this.polled {
            this.polled = true;
            let seen = if out.is_pending() {
                this.sem.waiting()
            } else {
                usize::MAX
            };
            this.queued_as.store(seen, Ordering::SeqCst);
        }
        out
    }
}

const ATTEMPTS: usize = 8;

#[test]
fn timed_out_async_acquires_leak_no_threads_and_no_waiters() {
    let before = thread_count();
    println!("threads before: {before}");

    let sem = Arc::new(Semaphore::new(0));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();

    rt.block_on(async {
        // 1. Zero tokio timeouts (the aiologic example).
        for _ in 0..ATTEMPTS {
            let r = tokio::time::timeout(Duration::ZERO, sem.acquire()).await;
            assert!(r.is_err(), "acquired a permit that does not exist");
            assert_eq!(sem.waiting(), 0);
        }
        // 2. Raced against a zero async-io timer.
        for _ in 0..ATTEMPTS {
            let r = or(async { Some(sem.acquire().await.unwrap()) }, async {
                async_io::Timer::after(Duration::ZERO).await;
                None
            })
            .await;
            assert!(r.is_none(), "acquired a permit that does not exist");
            assert_eq!(sem.waiting(), 0);
        }

        // 3. Acquires that really queue first, then time out (nonzero), one by one.
        for i in 0..ATTEMPTS {
            let queued_as = AtomicUsize::new(0);
            let watched = FirstPoll {
                inner: Box::pin(sem.acquire()),
                sem: &sem,
                polled: false,
                queued_as: &queued_as,
            };
            let timed_out = if i % 2 == 0 {
                tokio::time::timeout(Duration::from_millis(2), watched)
                    .await
                    .is_err()
            } else {
                or(async { Some(watched.await) }, async {
                    async_io::Timer::after(Duration::from_millis(2)).await;
                    None
                })
                .await
                .is_none()
            };
            assert!(timed_out, "acquired a permit that does not exist");
            assert_eq!(
                queued_as.load(Ordering::SeqCst),
                1,
                "the first poll must return Pending with the node queued"
            );
            assert_eq!(sem.waiting(), 0, "a timed-out node stayed in the queue");
        }

        // 4. ATTEMPTS acquires queued at the same time, all timing out.
        let queued = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..ATTEMPTS)
            .map(|i| {
                let (sem, queued) = (sem.clone(), queued.clone());
                tokio::spawn(async move {
                    let queued_as = AtomicUsize::new(0);
                    let watched = FirstPoll {
                        inner: Box::pin(sem.acquire()),
                        sem: &sem,
                        polled: false,
                        queued_as: &queued_as,
                    };
                    let timeout = Duration::from_millis(20);
                    let acquired = if i % 2 == 0 {
                        tokio::time::timeout(timeout, watched).await.is_ok()
                    } else {
                        or(async { Some(watched.await) }, async {
                            async_io::Timer::after(timeout).await;
                            None
                        })
                        .await
                        .is_some()
                    };
                    let seen = queued_as.load(Ordering::SeqCst);
                    assert!((1..=ATTEMPTS).contains(&seen), "not queued: {seen}");
                    queued.fetch_max(seen, Ordering::SeqCst);
                    acquired
                })
            })
            .collect();
        for task in tasks {
            assert!(
                !task.await.unwrap(),
                "acquired a permit that does not exist"
            );
        }
        // All tasks were spawned before any ran, so they queued together.
        assert_eq!(queued.load(Ordering::SeqCst), ATTEMPTS);
        assert_eq!(sem.waiting(), 0, "timed-out nodes stayed in the queue");
    });

    let after = thread_count();
    println!("threads after: {after}");
    // A thread per acquire would add 2 * ATTEMPTS (or 4 * ATTEMPTS) threads;
    // the async-io driver thread, started on the first real timer, may add one.
    assert!(
        after <= before + 1,
        "threads grew from {before} to {after}: a thread per wait?"
    );

    // Nothing was acquired and nothing is left queued.
    assert_eq!(sem.waiting(), 0);
    assert_eq!(sem.value(), 0);
    sem.release(1);
    assert_eq!(sem.value(), 1, "a cancelled waiter swallowed the permit");
    drop(sem.try_acquire().expect("the released permit is free"));
    assert_eq!(sem.value(), 1);

    // The probe can see threads: one more live thread is counted.
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let probe = std::thread::spawn(move || rx.recv().ok());
    assert!(
        thread_count() > after,
        "thread_count() cannot see new threads"
    );
    drop(tx);
    probe.join().unwrap();
}
