//! Library code written once, generic over how its caller waits.
//!
//! `Pool<T>` is a small connection pool: at most `max` connections exist,
//! idle ones wait in a `Queue`, and a `Semaphore` counts who may hold one.
//! Its blocking checkout takes any `W: Waiter` and a deadline: the same code
//! serves a plain thread (`ThreadWaiter`), a waiter the application wrote
//! itself (here one that counts how often it had to sleep), a may coroutine
//! (`polysync_may::MayWaiter`: the coroutine parks, not its worker) and a
//! corosensei green thread (`polysync_corosensei::GreenWaiter`: it switches
//! to its hub). Async callers use `checkout().await` on the very same pool
//! at the same time.
//!
//! Run with `cargo run --example generic_waiter`.

use polysync::lowlevel::{ThreadWaiter, WaitResult, Waiter};
use polysync::{Permit, Queue, Semaphore, TryAcquireError};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Waker;
use std::time::{Duration, Instant};

/// A bounded pool of `T`s, created on demand by `connect`.
struct Pool<T> {
    /// One permit per connection that may exist.
    permits: Semaphore,
    /// Connections nobody holds right now.
    idle: Queue<T>,
    connect: Box<dyn Fn() -> T + Send + Sync>,
    created: AtomicUsize,
}

/// A checked-out connection; goes back to the pool when dropped.
struct Conn<'a, T> {
    pool: &'a Pool<T>,
    conn: Option<T>,
    _permit: Permit<'a, Semaphore>,
}

impl<T> std::ops::Deref for Conn<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.conn.as_ref().expect("held until drop")
    }
}

impl<T> Drop for Conn<'_, T> {
    fn drop(&mut self) {
        // Back to the idle queue first, then the permit: the next holder of
        // the permit finds the connection waiting.
        if let Some(conn) = self.conn.take() {
            let _ = self.pool.idle.try_put(conn);
        }
    }
}

impl<T> Pool<T> {
    fn new(max: usize, connect: impl Fn() -> T + Send + Sync + 'static) -> Self {
        Pool {
            permits: Semaphore::new(max),
            idle: Queue::unbounded(),
            connect: Box::new(connect),
            created: AtomicUsize::new(0),
        }
    }

    /// Blocks on `waiter` (whatever it is) until a connection is free, or
    /// gives up at `deadline`. Written once for every kind of caller.
    fn checkout_with<W: Waiter + ?Sized>(
        &self,
        waiter: &W,
        deadline: Option<Instant>,
    ) -> Result<Conn<'_, T>, TryAcquireError> {
        let permit = self.permits.acquire_with(waiter, deadline)?;
        Ok(self.take(permit))
    }

    /// The async checkout, for tasks of any executor.
    async fn checkout(&self) -> Conn<'_, T> {
        let permit = self
            .permits
            .acquire()
            .await
            .expect("the pool never closes its semaphore");
        self.take(permit)
    }

    fn take<'a>(&'a self, permit: Permit<'a, Semaphore>) -> Conn<'a, T> {
        // Holding a permit means a connection is idle or may be created.
        let conn = self.idle.try_get().unwrap_or_else(|_| {
            self.created.fetch_add(1, Ordering::Relaxed);
            (self.connect)()
        });
        Conn {
            pool: self,
            conn: Some(conn),
            _permit: permit,
        }
    }
}

/// A waiter the application wrote: it sleeps like a thread but counts how
/// often it had to (a real one might log, or feed a metric).
struct CountingWaiter {
    inner: ThreadWaiter,
    sleeps: AtomicUsize,
}

impl Waiter for CountingWaiter {
    fn waker(&self) -> Waker {
        self.inner.waker()
    }
    fn wait(&self, deadline: Option<Instant>) -> WaitResult {
        self.sleeps.fetch_add(1, Ordering::Relaxed);
        self.inner.wait(deadline)
    }
}

fn main() {
    // may starts its workers at the first spawn; a library should not pin
    // its host's threads to cores.
    may::config().set_workers(2).set_worker_pin(false);
    let next_id = AtomicUsize::new(0);
    let pool = Arc::new(Pool::new(2, move || {
        format!("conn-{}", next_id.fetch_add(1, Ordering::Relaxed))
    }));
    let served = Arc::new(AtomicUsize::new(0));
    let work = Duration::from_millis(2);

    std::thread::scope(|s| {
        // Plain threads: the thread's own waiter.
        for _ in 0..3 {
            let (pool, served) = (&pool, &served);
            s.spawn(move || {
                for _ in 0..20 {
                    let conn = ThreadWaiter::with_current(|w| pool.checkout_with(w, None))
                        .expect("no deadline, no cancellation");
                    assert!(conn.starts_with("conn-"));
                    std::thread::sleep(work);
                    served.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        // A thread with the application's own waiter, and a deadline.
        let (pool_ref, served_ref) = (&pool, &served);
        let counting = s.spawn(move || {
            let waiter = CountingWaiter {
                inner: ThreadWaiter::new(),
                sleeps: AtomicUsize::new(0),
            };
            let mut timed_out = 0;
            for _ in 0..20 {
                let deadline = Some(Instant::now() + Duration::from_secs(5));
                match pool_ref.checkout_with(&waiter, deadline) {
                    Ok(_conn) => {
                        std::thread::sleep(work);
                        served_ref.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => timed_out += 1,
                }
            }
            (waiter.sleeps.load(Ordering::Relaxed), timed_out)
        });
        // may coroutines: the coroutine's waiter parks the coroutine.
        let coroutines: Vec<_> = (0..4)
            .map(|_| {
                let (pool, served) = (pool.clone(), served.clone());
                may::go!(move || {
                    let waiter = polysync_may::MayWaiter::current();
                    for _ in 0..10 {
                        let deadline = Some(Instant::now() + Duration::from_secs(5));
                        let _conn = pool.checkout_with(&waiter, deadline).expect("in time");
                        may::coroutine::sleep(work);
                        served.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        // Green threads on a corosensei hub: the green thread's waiter
        // switches to the hub, which runs the others meanwhile.
        let (pool_ref, served_ref) = (pool.clone(), served.clone());
        let hub = s.spawn(move || {
            polysync_corosensei::run(move || {
                let greens: Vec<_> = (0..4)
                    .map(|_| {
                        let (pool, served) = (pool_ref.clone(), served_ref.clone());
                        polysync_corosensei::spawn(move || {
                            for _ in 0..10 {
                                let conn = polysync_corosensei::GreenWaiter::with_current(|w| {
                                    pool.checkout_with(w, None)
                                })
                                .expect("in a green thread")
                                .expect("no deadline, no cancellation");
                                polysync_corosensei::sleep(work);
                                drop(conn);
                                served.fetch_add(1, Ordering::Relaxed);
                            }
                        })
                    })
                    .collect();
                for green in greens {
                    green.join().expect("green thread");
                }
            })
        });
        // Async tasks on a tokio runtime share the pool meanwhile.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        runtime.block_on(async {
            let tasks: Vec<_> = (0..4)
                .map(|_| {
                    let (pool, served) = (pool.clone(), served.clone());
                    tokio::spawn(async move {
                        for _ in 0..10 {
                            let _conn = pool.checkout().await;
                            tokio::time::sleep(work).await;
                            served.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("task");
            }
        });
        for co in coroutines {
            co.join().expect("coroutine");
        }
        hub.join().expect("hub thread");
        let (sleeps, timed_out) = counting.join().expect("counting thread");
        println!("the counting waiter slept {sleeps} times, timed out {timed_out} times");
    });

    let created = pool.created.load(Ordering::Relaxed);
    println!(
        "{} checkouts served by {created} connections (at most 2 exist)",
        served.load(Ordering::Relaxed)
    );
    assert!(created <= 2);
    assert_eq!(pool.idle.len(), created, "every connection came back");
    assert_eq!(pool.permits.value(), 2);
}
