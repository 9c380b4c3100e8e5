//! may coroutines share each kind of primitive with a partner from every
//! world: OS threads, tokio tasks (async API), and other coroutines. The
//! coroutines use the blocking forms (they park the coroutine once the may
//! backend is installed); wakes cross in both directions. Checked: mutual
//! exclusion and exact counts, nothing lost. No timing is asserted; each
//! test has a watchdog.

mod support;

use polysync::{CapacityLimiter, Condition, Event, Lock, Mutex, Queue, RLock, Semaphore};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use support::{go, setup, tokio_rt, watchdog};

const WORKERS: usize = 2;
/// Coroutines per scenario, and partner units (threads, tasks or more
/// coroutines) beside them.
const COROUTINES: usize = 8;
const PARTNERS: usize = 2;
const ROUNDS: usize = 200;

#[derive(Clone, Copy, Debug)]
enum World {
    Thread,
    Tokio,
    Coroutine,
}

const WORLDS: [World; 3] = [World::Thread, World::Tokio, World::Coroutine];

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;
type Joiner = Box<dyn FnOnce() + Send>;

/// Starts `n` partner units in `world`: `blocking(i)` on a thread or a
/// coroutine, `asynch(i)` as a tokio task.
fn partners(
    world: World,
    rt: &tokio::runtime::Runtime,
    n: usize,
    blocking: impl Fn(usize) + Send + Sync + 'static,
    asynch: impl Fn(usize) -> BoxFuture,
) -> Vec<Joiner> {
    let blocking = Arc::new(blocking);
    (0..n)
        .map(|i| -> Joiner {
            let blocking = blocking.clone();
            match world {
                World::Thread => {
                    let h = std::thread::spawn(move || blocking(i));
                    Box::new(move || h.join().expect("a partner thread"))
                }
                World::Coroutine => {
                    let h = go(move || blocking(i));
                    Box::new(move || h.join().expect("a partner coroutine"))
                }
                World::Tokio => {
                    let h = rt.spawn(asynch(i));
                    Box::new(move || futures_lite::future::block_on(h).expect("a partner task"))
                }
            }
        })
        .collect()
}

/// Starts `n` coroutines running `f(i)`.
fn coroutines(n: usize, f: impl Fn(usize) + Send + Sync + 'static) -> Vec<Joiner> {
    let f = Arc::new(f);
    (0..n)
        .map(|i| -> Joiner {
            let f = f.clone();
            let h = go(move || f(i));
            Box::new(move || h.join().expect("a coroutine"))
        })
        .collect()
}

fn join_all(all: Vec<Joiner>) {
    for j in all {
        j();
    }
}

/// A counter that only mutual exclusion keeps exact: read, maybe switch
/// away, write back.
#[derive(Default)]
struct Racy(AtomicU64);

impl Racy {
    fn bump(&self, switch: impl FnOnce()) {
        let v = self.0.load(Ordering::Relaxed);
        switch();
        self.0.store(v + 1, Ordering::Relaxed);
    }
    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

fn co_switch(i: usize) {
    if i % 3 == 0 {
        may::coroutine::yield_now();
    }
}

fn each_world(name: &'static str, scenario: impl Fn(World, &tokio::runtime::Runtime)) {
    setup(WORKERS);
    let _dog = watchdog(name);
    let rt = tokio_rt(2);
    for world in WORLDS {
        scenario(world, &rt);
    }
}

#[test]
fn lock() {
    each_world("lock", |world, rt| {
        let lock = Arc::new(Lock::new());
        let count = Arc::new(Racy::default());
        let mut all = coroutines(COROUTINES, {
            let (lock, count) = (lock.clone(), count.clone());
            move |_| {
                for r in 0..ROUNDS {
                    let _g = lock.acquire_blocking();
                    count.bump(|| co_switch(r));
                }
            }
        });
        all.extend(partners(
            world,
            rt,
            PARTNERS,
            {
                let (lock, count) = (lock.clone(), count.clone());
                move |_| {
                    for _ in 0..ROUNDS {
                        let _g = lock.acquire_blocking();
                        count.bump(std::thread::yield_now);
                    }
                }
            },
            |_| {
                let (lock, count) = (lock.clone(), count.clone());
                Box::pin(async move {
                    for r in 0..ROUNDS {
                        let _g = lock.acquire().await;
                        let v = count.0.load(Ordering::Relaxed);
                        if r % 3 == 0 {
                            tokio::task::yield_now().await;
                        }
                        count.0.store(v + 1, Ordering::Relaxed);
                    }
                })
            },
        ));
        join_all(all);
        assert_eq!(
            count.get(),
            ((COROUTINES + PARTNERS) * ROUNDS) as u64,
            "{world:?}"
        );
        assert!(!lock.is_locked());
    });
}

#[test]
fn rlock() {
    each_world("rlock", |world, rt| {
        let lock = Arc::new(RLock::new());
        let count = Arc::new(Racy::default());
        let mut all = coroutines(COROUTINES, {
            let (lock, count) = (lock.clone(), count.clone());
            move |_| {
                for r in 0..ROUNDS {
                    let _outer = lock.acquire_blocking();
                    co_switch(r);
                    let _inner = lock.acquire_blocking(); // re-entry, same coroutine
                    assert_eq!(lock.count(), 2);
                    assert_eq!(lock.owner(), polysync_may::coroutine_unit());
                    count.bump(|| co_switch(r + 1));
                }
            }
        });
        all.extend(partners(
            world,
            rt,
            PARTNERS,
            {
                let (lock, count) = (lock.clone(), count.clone());
                move |_| {
                    for _ in 0..ROUNDS {
                        let _outer = lock.acquire_blocking();
                        let _inner = lock.acquire_blocking();
                        assert_eq!(lock.count(), 2);
                        count.bump(std::thread::yield_now);
                    }
                }
            },
            |_| {
                let (lock, count) = (lock.clone(), count.clone());
                Box::pin(async move {
                    for _ in 0..ROUNDS {
                        let _outer = lock.acquire().await.unwrap();
                        tokio::task::yield_now().await;
                        let _inner = lock.acquire().await.unwrap();
                        assert_eq!(lock.count(), 2);
                        count.bump(|| {});
                    }
                })
            },
        ));
        join_all(all);
        assert_eq!(
            count.get(),
            ((COROUTINES + PARTNERS) * ROUNDS) as u64,
            "{world:?}"
        );
        assert!(!lock.is_locked());
    });
}

/// Ping-pong through two semaphores: each side waits for the other's
/// release, so every wake crosses between the worlds.
#[test]
fn semaphore() {
    each_world("semaphore", |world, rt| {
        let pairs: Arc<Vec<(Semaphore, Semaphore)>> = Arc::new(
            (0..PARTNERS)
                .map(|_| (Semaphore::new(0), Semaphore::new(0)))
                .collect(),
        );
        let mut all = coroutines(PARTNERS, {
            let pairs = pairs.clone();
            move |i| {
                let (ping, pong) = &pairs[i];
                for _ in 0..ROUNDS {
                    ping.acquire_blocking().unwrap().forget();
                    pong.release(1);
                }
            }
        });
        all.extend(partners(
            world,
            rt,
            PARTNERS,
            {
                let pairs = pairs.clone();
                move |i| {
                    let (ping, pong) = &pairs[i];
                    for _ in 0..ROUNDS {
                        ping.release(1);
                        pong.acquire_blocking().unwrap().forget();
                    }
                }
            },
            |i| {
                let pairs = pairs.clone();
                Box::pin(async move {
                    let (ping, pong) = &pairs[i];
                    for _ in 0..ROUNDS {
                        ping.release(1);
                        pong.acquire().await.unwrap().forget();
                    }
                })
            },
        ));
        // And a shared semaphore of 2 permits: never more than 2 inside.
        let sem = Arc::new(Semaphore::new(2));
        let inside = Arc::new(AtomicUsize::new(0));
        let body = {
            let (sem, inside) = (sem.clone(), inside.clone());
            move |r: usize, switch: &dyn Fn()| {
                let _ = r;
                let _p = sem.acquire_blocking().unwrap();
                assert!(inside.fetch_add(1, Ordering::SeqCst) < 2);
                switch();
                inside.fetch_sub(1, Ordering::SeqCst);
            }
        };
        let b = body.clone();
        all.extend(coroutines(COROUTINES, move |_| {
            for r in 0..ROUNDS {
                b(r, &|| co_switch(r));
            }
        }));
        let b = body.clone();
        all.extend(partners(
            world,
            rt,
            PARTNERS,
            move |_| {
                for r in 0..ROUNDS {
                    b(r, &std::thread::yield_now);
                }
            },
            |_| {
                let (sem, inside) = (sem.clone(), inside.clone());
                Box::pin(async move {
                    for _ in 0..ROUNDS {
                        let _p = sem.acquire().await.unwrap();
                        assert!(inside.fetch_add(1, Ordering::SeqCst) < 2);
                        tokio::task::yield_now().await;
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            },
        ));
        join_all(all);
        for (ping, pong) in pairs.iter() {
            assert_eq!((ping.value(), pong.value()), (0, 0), "{world:?}");
        }
        assert_eq!(sem.value(), 2);
    });
}

/// Events set by one world and awaited by the other, both ways, round by
/// round; several coroutines wait on each event.
#[test]
fn event() {
    each_world("event", |world, rt| {
        const EVENT_ROUNDS: usize = 50;
        let there: Arc<Vec<Event>> = Arc::new((0..EVENT_ROUNDS).map(|_| Event::new()).collect());
        let back: Arc<Vec<Event>> = Arc::new((0..EVENT_ROUNDS).map(|_| Event::new()).collect());
        let seen = Arc::new(AtomicUsize::new(0));
        let mut all = coroutines(COROUTINES, {
            let (there, back, seen) = (there.clone(), back.clone(), seen.clone());
            move |i| {
                for r in 0..EVENT_ROUNDS {
                    there[r].wait_blocking();
                    seen.fetch_add(1, Ordering::Relaxed);
                    if i == 0 {
                        back[r].set(); // one coroutine answers
                    }
                }
            }
        });
        all.extend(partners(
            world,
            rt,
            1,
            {
                let (there, back) = (there.clone(), back.clone());
                move |_| {
                    for r in 0..EVENT_ROUNDS {
                        there[r].set();
                        back[r].wait_blocking();
                    }
                }
            },
            |_| {
                let (there, back) = (there.clone(), back.clone());
                Box::pin(async move {
                    for r in 0..EVENT_ROUNDS {
                        there[r].set();
                        back[r].wait().await;
                    }
                })
            },
        ));
        join_all(all);
        assert_eq!(
            seen.load(Ordering::Relaxed),
            COROUTINES * EVENT_ROUNDS,
            "{world:?}"
        );
    });
}

/// Turn-taking through one condition: coroutines take the even turns, the
/// partner the odd ones; every turn is one wake across worlds.
#[test]
fn condition() {
    each_world("condition", |world, rt| {
        let state = Arc::new((Mutex::new(0_usize), Condition::new()));
        let mut all = coroutines(1, {
            let state = state.clone();
            move |_| {
                let (turn, cond) = &*state;
                for _ in 0..ROUNDS {
                    let mut t = cond.wait_while_blocking(turn.lock_blocking(), |t| **t % 2 != 0);
                    *t += 1;
                    drop(t);
                    cond.notify_all();
                }
            }
        });
        if let World::Tokio = world {
            // An async condition wait cannot sit in a `Send` future
            // (`tokio::spawn`): rustc reports "`Send` is not general enough"
            // for `ConditionWait` (see the crate's report). A local tokio
            // task on a current-thread runtime is a tokio task all the same.
            let state = state.clone();
            let h = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                let local = tokio::task::LocalSet::new();
                local.block_on(&rt, async move {
                    tokio::task::spawn_local(async move {
                        let (turn, cond) = &*state;
                        for _ in 0..ROUNDS {
                            let mut t = turn.lock().await;
                            while *t % 2 == 0 {
                                t = cond.wait(t).await;
                            }
                            *t += 1;
                            drop(t);
                            cond.notify_all();
                        }
                    })
                    .await
                    .unwrap();
                });
            });
            all.push(Box::new(move || h.join().unwrap()));
        }
        let partner_world = match world {
            World::Tokio => World::Thread,
            other => other,
        };
        let n = usize::from(!matches!(world, World::Tokio));
        all.extend(partners(
            partner_world,
            rt,
            n,
            {
                let state = state.clone();
                move |_| {
                    let (turn, cond) = &*state;
                    for _ in 0..ROUNDS {
                        let mut t =
                            cond.wait_while_blocking(turn.lock_blocking(), |t| **t % 2 == 0);
                        *t += 1;
                        drop(t);
                        cond.notify_all();
                    }
                }
            },
            |_| {
                // Never used: the tokio world runs below, as a local task.
                Box::pin(async {})
            },
        ));
        join_all(all);
        assert_eq!(*state.0.try_lock().unwrap(), 2 * ROUNDS, "{world:?}");
    });
}

/// Items flow both ways through small bounded queues: coroutines to the
/// partner world and back. Exact multiset (sums and counts).
#[test]
fn queue() {
    each_world("queue", |world, rt| {
        let to_partner = Arc::new(Queue::<u64>::bounded(2));
        let to_cos = Arc::new(Queue::<u64>::bounded(2));
        let got_by_partner = Arc::new(AtomicU64::new(0));
        let got_by_cos = Arc::new(AtomicU64::new(0));
        let per = ROUNDS as u64;
        let n_items = COROUTINES as u64 * per;
        let expected = n_items * (n_items - 1) / 2;
        // Coroutine producers, then coroutine consumers.
        let mut all = coroutines(COROUTINES, {
            let q = to_partner.clone();
            move |i| {
                for k in 0..per {
                    q.put_blocking(i as u64 * per + k).unwrap();
                }
            }
        });
        all.extend(coroutines(COROUTINES, {
            let (q, got) = (to_cos.clone(), got_by_cos.clone());
            move |_| {
                while let Ok(v) = q.get_blocking() {
                    got.fetch_add(v + 1, Ordering::Relaxed);
                }
            }
        }));
        // Partner consumers of `to_partner`.
        let consumers = partners(
            world,
            rt,
            PARTNERS,
            {
                let (q, got) = (to_partner.clone(), got_by_partner.clone());
                move |_| {
                    while let Ok(v) = q.get_blocking() {
                        got.fetch_add(v + 1, Ordering::Relaxed);
                    }
                }
            },
            |_| {
                let (q, got) = (to_partner.clone(), got_by_partner.clone());
                Box::pin(async move {
                    while let Ok(v) = q.get().await {
                        got.fetch_add(v + 1, Ordering::Relaxed);
                    }
                })
            },
        );
        // Partner producers into `to_cos`.
        let producers = partners(
            world,
            rt,
            PARTNERS,
            {
                let q = to_cos.clone();
                move |i| {
                    let mine = n_items / PARTNERS as u64;
                    for k in 0..mine {
                        q.put_blocking(i as u64 * mine + k).unwrap();
                    }
                }
            },
            |i| {
                let q = to_cos.clone();
                Box::pin(async move {
                    let mine = n_items / PARTNERS as u64;
                    for k in 0..mine {
                        q.put(i as u64 * mine + k).await.unwrap();
                    }
                })
            },
        );
        // Coroutine producers end first; then close `to_partner`.
        let (cos_producers, cos_consumers) = {
            let mut all = all;
            let consumers = all.split_off(COROUTINES);
            (all, consumers)
        };
        join_all(cos_producers);
        to_partner.close();
        join_all(consumers);
        join_all(producers);
        to_cos.close();
        join_all(cos_consumers);
        // Sum of v + 1 over 0..n_items.
        assert_eq!(
            got_by_partner.load(Ordering::Relaxed),
            expected + n_items,
            "{world:?}"
        );
        assert_eq!(
            got_by_cos.load(Ordering::Relaxed),
            expected + n_items,
            "{world:?}"
        );
    });
}

/// A capacity limiter of one token: never two borrowers at once, and every
/// borrower is its own unit (a coroutine, a thread, a tokio task).
#[test]
fn capacity_limiter() {
    each_world("capacity_limiter", |world, rt| {
        let limiter = Arc::new(CapacityLimiter::new(1));
        let inside = Arc::new(AtomicUsize::new(0));
        let mut all = coroutines(COROUTINES, {
            let (limiter, inside) = (limiter.clone(), inside.clone());
            move |_| {
                for r in 0..ROUNDS / 2 {
                    let token = limiter.acquire_blocking().unwrap();
                    assert_eq!(Some(token.borrower()), polysync_may::coroutine_unit());
                    assert!(inside.fetch_add(1, Ordering::SeqCst) == 0);
                    co_switch(r);
                    inside.fetch_sub(1, Ordering::SeqCst);
                }
            }
        });
        all.extend(partners(
            world,
            rt,
            PARTNERS,
            {
                let (limiter, inside) = (limiter.clone(), inside.clone());
                move |_| {
                    for _ in 0..ROUNDS / 2 {
                        let _token = limiter.acquire_blocking().unwrap();
                        assert!(inside.fetch_add(1, Ordering::SeqCst) == 0);
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            },
            |_| {
                let (limiter, inside) = (limiter.clone(), inside.clone());
                Box::pin(async move {
                    for _ in 0..ROUNDS / 2 {
                        let _token = limiter.acquire().await.unwrap();
                        assert!(inside.fetch_add(1, Ordering::SeqCst) == 0);
                        tokio::task::yield_now().await;
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            },
        ));
        join_all(all);
        assert_eq!(limiter.borrowed_tokens(), 0, "{world:?}");
    });
}
