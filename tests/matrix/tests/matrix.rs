//! The cross-backend matrix: each `#[test]` is one scenario, run for every
//! (waiter world, notifier world) pair; see the harness (`src/lib.rs`).
//!
//! Waiters run in the waiting world, notifiers in the notifying world. The
//! waiting side queues first (in a known order where FIFO is promised); the
//! notifying side releases, sets, notifies, puts, then both sides usually
//! keep contending for a few rounds. Async worlds use the async forms, the
//! others the blocking forms (`ctx.is_async()`).

use polysync::lowlevel::current_unit;
use polysync::{
    Barrier, CapacityLimiter, Condition, Event, LifoQueue, Lock, Mutex, Queue, RLock, RwLock,
    Semaphore,
};
use polysync_matrix::{Cell, Ctx, run_matrix};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex as StdMutex, OnceLock};
use std::time::{Duration, Instant};

/// How many participants queue on the waiting side (most scenarios).
const WAITERS: usize = 3;
/// How many more contended rounds each participant makes after the hand-off.
const ROUNDS: usize = 8;

/// Counts how many participants are inside a section at once, and a
/// counter incremented non-atomically (read, pause, write) inside it: with
/// broken exclusion both go wrong.
#[derive(Default)]
struct Exclusion {
    inside: AtomicUsize,
    racy: AtomicU64,
}

impl Exclusion {
    async fn section(&self, ctx: &Ctx, limit: usize) {
        let n = self.inside.fetch_add(1, SeqCst) + 1;
        assert!(
            n <= limit,
            "{}: {n} inside at once (limit {limit})",
            ctx.label()
        );
        let v = self.racy.load(SeqCst);
        ctx.pause().await;
        self.racy.store(v + 1, SeqCst);
        self.inside.fetch_sub(1, SeqCst);
    }
}

/// Records an order of events.
#[derive(Default)]
struct Log(StdMutex<Vec<usize>>);

impl Log {
    fn push(&self, i: usize) {
        self.0.lock().unwrap().push(i);
    }
    fn take(&self) -> Vec<usize> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

// ---------------------------------------------------------------------------
// Lock exclusion with FIFO hand-off.

fn lock_scenario(cell: &mut Cell) {
    lock_scenario_in(cell, true);
}

/// `lock_scenario` on a `Lock::new_bounded` lock: a running unit
/// may take the lock before the woken waiter, so the order of service is
/// not checked; exclusion, progress and the final state are.
fn lock_bounded_scenario(cell: &mut Cell) {
    lock_scenario_in(cell, false);
}

fn lock_scenario_in(cell: &mut Cell, fair: bool) {
    // Strict hand-off where the order of service is checked.
    let lock = Arc::new(if fair {
        Lock::new_fair()
    } else {
        Lock::new_bounded()
    });
    let ex = Arc::new(Exclusion::default());
    let order = Arc::new(Log::default());
    for i in 0..WAITERS {
        let (lock, ex, order) = (lock.clone(), ex.clone(), order.clone());
        cell.waiter(&format!("waiter#{i}"), move |ctx| async move {
            // Queue in index order, behind the notifier's hold.
            ctx.until(&format!("{i} queued before me"), || {
                lock.is_locked() && lock.waiting() == i
            })
            .await;
            for _ in 0..=ROUNDS {
                let g = if ctx.is_async() {
                    lock.acquire().await
                } else {
                    lock.acquire_blocking()
                };
                order.push(i);
                ex.section(&ctx, 1).await;
                drop(g);
            }
        });
    }
    {
        let (lock, ex, order) = (lock.clone(), ex.clone(), order.clone());
        cell.notifier("notifier", move |ctx| async move {
            let g = lock
                .try_acquire()
                .expect("the notifier takes the free lock");
            ctx.until(&format!("{WAITERS} waiters queued"), || {
                lock.waiting() == WAITERS
            })
            .await;
            ex.section(&ctx, 1).await;
            drop(g); // hands the lock to waiter#0
            for _ in 0..ROUNDS {
                let g = if ctx.is_async() {
                    lock.acquire().await
                } else {
                    lock.acquire_blocking()
                };
                order.push(WAITERS);
                ex.section(&ctx, 1).await;
                drop(g);
            }
        });
    }
    cell.check(move || {
        let order = order.take();
        if fair {
            assert_eq!(
                &order[..WAITERS],
                &(0..WAITERS).collect::<Vec<_>>()[..],
                "first acquisitions not in queue order: {order:?}"
            );
        }
        let total = (WAITERS * (ROUNDS + 1) + ROUNDS + 1) as u64;
        assert_eq!(
            ex.racy.load(SeqCst),
            total,
            "lost updates: exclusion broken"
        );
        assert!(!lock.is_locked(), "the lock is still held");
        assert_eq!(lock.waiting(), 0);
    });
}

#[test]
fn lock() {
    run_matrix("lock", lock_scenario);
}

#[test]
fn lock_bounded() {
    run_matrix("lock_bounded", lock_bounded_scenario);
}

// ---------------------------------------------------------------------------
// RwLock: readers together or one writer; FIFO with reader batches.

/// Counts readers and writers inside an `RwLock` section.
#[derive(Default)]
struct ReadWrite {
    readers: AtomicUsize,
    writers: AtomicUsize,
}

impl ReadWrite {
    async fn read(&self, ctx: &Ctx) {
        self.readers.fetch_add(1, SeqCst);
        assert_eq!(
            self.writers.load(SeqCst),
            0,
            "{}: a reader beside a writer",
            ctx.label()
        );
        ctx.pause().await;
        self.readers.fetch_sub(1, SeqCst);
    }

    async fn write(&self, ctx: &Ctx) {
        let w = self.writers.fetch_add(1, SeqCst) + 1;
        assert_eq!(w, 1, "{}: two writers inside", ctx.label());
        assert_eq!(
            self.readers.load(SeqCst),
            0,
            "{}: a writer beside readers",
            ctx.label()
        );
        ctx.pause().await;
        self.writers.fetch_sub(1, SeqCst);
    }
}

fn rwlock_scenario(cell: &mut Cell) {
    // Waiters 0 and 1 read, waiter 2 writes: queued in that order behind the
    // notifier's write hold, the two readers get in together (a batch),
    // then the writer; then everyone contends for a few rounds.
    let lock = Arc::new(RwLock::new(0u64));
    let rw = Arc::new(ReadWrite::default());
    let order = Arc::new(Log::default());
    // How many readers the notifier's release admitted.
    let batch = Arc::new(AtomicUsize::new(0));
    for i in 0..WAITERS {
        let (lock, rw, order, batch) = (lock.clone(), rw.clone(), order.clone(), batch.clone());
        let writer = i == WAITERS - 1;
        cell.waiter(
            &format!("{}#{i}", if writer { "writer" } else { "reader" }),
            move |ctx| async move {
                ctx.until(&format!("{i} queued before me"), || {
                    lock.is_write_locked() && lock.waiting() == i
                })
                .await;
                for round in 0..=ROUNDS {
                    if writer || round % 3 == 2 {
                        let mut g = if ctx.is_async() {
                            lock.write().await
                        } else {
                            lock.write_blocking()
                        };
                        if round == 0 {
                            order.push(i);
                        }
                        rw.write(&ctx).await;
                        *g += 1;
                    } else {
                        let g = if ctx.is_async() {
                            lock.read().await
                        } else {
                            lock.read_blocking()
                        };
                        if round == 0 {
                            order.push(i);
                            batch.fetch_add(1, SeqCst);
                            // Admitted as one batch: both first reads
                            // overlap (hold until the other is in too).
                            ctx.until("both readers inside together", || batch.load(SeqCst) == 2)
                                .await;
                        }
                        rw.read(&ctx).await;
                        drop(g);
                    }
                }
            },
        );
    }
    {
        let (lock, rw, batch) = (lock.clone(), rw.clone(), batch.clone());
        cell.notifier("notifier", move |ctx| async move {
            let mut g = lock.try_write().expect("the notifier takes the free lock");
            ctx.until(&format!("{WAITERS} waiters queued"), || {
                lock.waiting() == WAITERS
            })
            .await;
            rw.write(&ctx).await;
            *g += 1;
            drop(g); // admits readers 0 and 1 together, then the writer
            // Nothing else may admit them: the release alone lets both in.
            ctx.until("both readers admitted by the release", || {
                batch.load(SeqCst) == 2
            })
            .await;
            for _ in 0..ROUNDS {
                let mut g = if ctx.is_async() {
                    lock.write().await
                } else {
                    lock.write_blocking()
                };
                rw.write(&ctx).await;
                *g += 1;
            }
        });
    }
    cell.check(move || {
        let order = order.take();
        let mut first_two = order[..2].to_vec();
        first_two.sort();
        assert_eq!(
            first_two,
            [0, 1],
            "the readers were not admitted first: {order:?}"
        );
        assert_eq!(order[2], 2, "the writer was not next: {order:?}");
        let writes = 1 + ROUNDS + (ROUNDS + 1) + 2 * (0..=ROUNDS).filter(|r| r % 3 == 2).count();
        assert_eq!(
            *lock.try_read().expect("free at the end"),
            writes as u64,
            "lost writes"
        );
        assert!(!lock.is_locked());
        assert_eq!(lock.waiting(), 0);
    });
}

#[test]
fn rwlock() {
    run_matrix("rwlock", rwlock_scenario);
}

#[test]
fn rwlock_upgrade() {
    run_matrix(
        "rwlock-upgrade",
        polysync_matrix::rwlock_upgrade::rwlock_upgrade_scenario,
    );
}

// ---------------------------------------------------------------------------
// Semaphore: permits conserved, FIFO hand-off of released permits.

const PERMITS: usize = 2;

fn semaphore_scenario(cell: &mut Cell) {
    let sem = Arc::new(Semaphore::new(0));
    let inside = Arc::new(AtomicUsize::new(0));
    // Permits given back so far (counted just before each is dropped).
    let released = Arc::new(AtomicUsize::new(0));
    let passes = Arc::new(AtomicUsize::new(0));
    for i in 0..WAITERS {
        let (sem, inside, released, passes) = (
            sem.clone(),
            inside.clone(),
            released.clone(),
            passes.clone(),
        );
        cell.waiter(&format!("waiter#{i}"), move |ctx| async move {
            ctx.until(&format!("{i} queued before me"), || sem.waiting() == i)
                .await;
            for round in 0..=ROUNDS {
                let p = if ctx.is_async() {
                    sem.acquire().await.unwrap()
                } else {
                    sem.acquire_blocking().unwrap()
                };
                if round == 0 && i >= PERMITS {
                    // FIFO: the notifier's permits went to the oldest
                    // waiters; a younger one only gets one given back.
                    assert!(
                        released.load(SeqCst) > 0,
                        "{}: got a permit before any was given back (FIFO broken)",
                        ctx.label()
                    );
                }
                let n = inside.fetch_add(1, SeqCst) + 1;
                assert!(
                    n <= PERMITS,
                    "{}: {n} permits out of {PERMITS} held",
                    ctx.label()
                );
                ctx.pause().await;
                inside.fetch_sub(1, SeqCst);
                passes.fetch_add(1, SeqCst);
                released.fetch_add(1, SeqCst);
                drop(p);
            }
        });
    }
    {
        let (sem, released, passes) = (sem.clone(), released.clone(), passes.clone());
        cell.notifier("notifier", move |ctx| async move {
            ctx.until(&format!("{WAITERS} waiters queued"), || {
                sem.waiting() == WAITERS
            })
            .await;
            sem.release(PERMITS); // hands one permit to each of the two oldest
            for _ in 0..ROUNDS {
                let p = if ctx.is_async() {
                    sem.acquire().await.unwrap()
                } else {
                    sem.acquire_blocking().unwrap()
                };
                passes.fetch_add(1, SeqCst);
                released.fetch_add(1, SeqCst);
                drop(p);
            }
        });
    }
    cell.check(move || {
        assert_eq!(passes.load(SeqCst), WAITERS * (ROUNDS + 1) + ROUNDS);
        assert_eq!(sem.value(), PERMITS, "permits not conserved");
        assert_eq!(sem.waiting(), 0);
    });
}

#[test]
fn semaphore() {
    run_matrix("semaphore", semaphore_scenario);
}

// ---------------------------------------------------------------------------
// Event wake-all: more waiters than one wake batch (16).

const EVENT_WAITERS: usize = 20;

fn event_scenario(cell: &mut Cell) {
    let event = Arc::new(Event::new());
    let woken = Arc::new(AtomicUsize::new(0));
    for i in 0..EVENT_WAITERS {
        let (event, woken) = (event.clone(), woken.clone());
        cell.waiter(&format!("waiter#{i}"), move |ctx| async move {
            let far = Instant::now() + polysync_matrix::patience() * 2;
            let set = match (ctx.is_async(), i % 3) {
                (true, 0) => ctx.timeout_at(far, event.wait()).await.is_some(),
                (true, _) => {
                    event.wait().await;
                    true
                }
                (false, 0) => {
                    event.wait_blocking();
                    true
                }
                (false, 1) => event.try_wait_for(polysync_matrix::patience() * 2),
                (false, _) => event.try_wait_until(far),
            };
            assert!(set, "{}: timed out", ctx.label());
            assert!(event.is_set(), "{}: woke before the set", ctx.label());
            woken.fetch_add(1, SeqCst);
        });
    }
    {
        let (event, woken) = (event.clone(), woken.clone());
        cell.notifier("setter", move |ctx| async move {
            ctx.until("every waiter queued", || event.waiting() == EVENT_WAITERS)
                .await;
            assert_eq!(woken.load(SeqCst), 0, "a waiter passed an unset event");
            assert!(event.set(), "the first set() must say true");
            assert!(!event.set(), "a second set() must say false");
        });
    }
    cell.check(move || {
        assert_eq!(woken.load(SeqCst), EVENT_WAITERS);
        assert_eq!(event.waiting(), 0);
    });
}

#[test]
fn event() {
    run_matrix("event", event_scenario);
}

// ---------------------------------------------------------------------------
// Condition: the notifier changes the state under the mutex and notifies;
// `notify(2)` wakes exactly two, `notify_all` the rest.

#[derive(Default)]
struct Tickets {
    tickets: u64,
    consumed: u64,
}

fn condition_scenario(cell: &mut Cell) {
    let state = Arc::new((Mutex::new(Tickets::default()), Condition::new()));
    let consumed = Arc::new(AtomicUsize::new(0));
    for i in 0..WAITERS {
        let (state, consumed) = (state.clone(), consumed.clone());
        cell.waiter(&format!("waiter#{i}"), move |ctx| async move {
            let (mutex, cond) = &*state;
            let mut g = if ctx.is_async() {
                mutex.lock().await
            } else {
                mutex.lock_blocking()
            };
            while g.tickets == 0 {
                g = if ctx.is_async() {
                    cond.wait(g).await
                } else if i % 2 == 0 {
                    cond.wait_blocking(g)
                } else {
                    match cond.try_wait_for(g, polysync_matrix::patience() * 2) {
                        Ok(g) => g,
                        Err(_) => panic!("{}: timed out", ctx.label()),
                    }
                };
            }
            g.tickets -= 1;
            g.consumed += 1;
            consumed.fetch_add(1, SeqCst);
        });
    }
    {
        let (state, consumed) = (state.clone(), consumed.clone());
        cell.notifier("notifier", move |ctx| async move {
            let (mutex, cond) = &*state;
            ctx.until("every waiter in the condition", || {
                cond.waiting() == WAITERS
            })
            .await;
            {
                let mut g = if ctx.is_async() {
                    mutex.lock().await
                } else {
                    mutex.lock_blocking()
                };
                g.tickets = 2;
                assert_eq!(cond.notify(2), 2, "notify(2) with {WAITERS} waiting");
            }
            ctx.until("the two notified waiters done", || {
                consumed.load(SeqCst) == 2
            })
            .await;
            assert_eq!(cond.waiting(), WAITERS - 2, "notify(2) woke more than two");
            {
                let mut g = if ctx.is_async() {
                    mutex.lock().await
                } else {
                    mutex.lock_blocking()
                };
                g.tickets += 1;
                assert_eq!(cond.notify_all(), WAITERS - 2);
            }
        });
    }
    cell.check(move || {
        let (mutex, cond) = &*state;
        let g = mutex.try_lock().expect("the mutex is free at the end");
        assert_eq!((g.tickets, g.consumed), (0, WAITERS as u64));
        assert_eq!(consumed.load(SeqCst), WAITERS);
        assert_eq!(cond.waiting(), 0);
    });
}

#[test]
fn condition() {
    run_matrix("condition", condition_scenario);
}

// ---------------------------------------------------------------------------
// Barrier: parties on both sides, several generations, then a latch.

const BARRIER_WAITERS: usize = 2;
const BARRIER_NOTIFIERS: usize = 2;
const PARTIES: usize = BARRIER_WAITERS + BARRIER_NOTIFIERS;
const GENERATIONS: usize = 3;

fn barrier_scenario(cell: &mut Cell) {
    let barrier = Arc::new(Barrier::new(PARTIES));
    let latch = Arc::new(polysync::Latch::new(PARTIES));
    let arrived: Arc<Vec<AtomicUsize>> =
        Arc::new((0..GENERATIONS).map(|_| AtomicUsize::new(0)).collect());
    let indices = Arc::new(StdMutex::new(vec![Vec::new(); GENERATIONS]));
    for p in 0..PARTIES {
        let (barrier, latch, arrived, indices) = (
            barrier.clone(),
            latch.clone(),
            arrived.clone(),
            indices.clone(),
        );
        let body = move |ctx: Ctx| async move {
            for (generation, count) in arrived.iter().enumerate() {
                count.fetch_add(1, SeqCst);
                let index = if ctx.is_async() {
                    barrier.wait().await
                } else {
                    barrier.wait_blocking()
                }
                .unwrap_or_else(|e| panic!("{}: {e}", ctx.label()));
                assert_eq!(
                    count.load(SeqCst),
                    PARTIES,
                    "{}: passed generation {generation} before every party arrived",
                    ctx.label()
                );
                indices.lock().unwrap()[generation].push(index);
            }
            if ctx.is_async() {
                latch.wait().await
            } else {
                latch.wait_blocking()
            }
            .unwrap_or_else(|e| panic!("{}: latch: {e}", ctx.label()));
        };
        if p < BARRIER_WAITERS {
            cell.waiter(&format!("party#{p}"), body);
        } else {
            cell.notifier(&format!("party#{p}"), body);
        }
    }
    cell.check(move || {
        for (generation, mut got) in indices.lock().unwrap().drain(..).enumerate() {
            got.sort_unstable_by_key(|r| r.index());
            assert_eq!(
                got.iter().map(|r| r.index()).collect::<Vec<_>>(),
                (0..PARTIES).collect::<Vec<_>>(),
                "generation {generation}: arrival indices"
            );
            let leaders: Vec<_> = got.iter().filter(|r| r.is_leader()).collect();
            assert_eq!(leaders.len(), 1, "generation {generation}: one leader");
            assert_eq!(
                leaders[0].index(),
                PARTIES - 1,
                "generation {generation}: leader"
            );
        }
        assert!(!barrier.is_broken());
        assert_eq!(barrier.waiting(), 0);
        assert_eq!(latch.waiting(), 0);
    });
}

#[test]
fn barrier() {
    run_matrix("barrier", barrier_scenario);
}

// ---------------------------------------------------------------------------
// Capacity limiter: tokens never exceed the total, each borrower its own
// unit (a second borrow by the same unit is refused).

const TOKENS: usize = 2;

fn limiter_scenario(cell: &mut Cell) {
    // No token until the notifier raises the total: the waiters queue.
    let limiter = Arc::new(CapacityLimiter::new(0));
    let inside = Arc::new(AtomicUsize::new(0));
    let units = Arc::new(StdMutex::new(HashSet::new()));
    let participants = WAITERS + 1;
    let body = {
        let (limiter, inside, units) = (limiter.clone(), inside.clone(), units.clone());
        move |ctx: Ctx| async move {
            let me = current_unit();
            assert!(
                units.lock().unwrap().insert(me),
                "{}: shares its unit {me:?} with another participant",
                ctx.label()
            );
            for _ in 0..=ROUNDS {
                let token = if ctx.is_async() {
                    limiter.acquire().await
                } else {
                    limiter.acquire_blocking()
                }
                .unwrap_or_else(|e| panic!("{}: {e}", ctx.label()));
                assert_eq!(
                    token.borrower(),
                    me,
                    "{}: the token's borrower",
                    ctx.label()
                );
                assert!(limiter.is_borrowing(), "{}: is_borrowing", ctx.label());
                assert!(
                    limiter.try_acquire().is_err(),
                    "{}: a second token for the same unit",
                    ctx.label()
                );
                let n = inside.fetch_add(1, SeqCst) + 1;
                assert!(n <= TOKENS, "{}: {n} borrowers at once", ctx.label());
                assert!(
                    limiter.borrowed_tokens() <= limiter.total_tokens(),
                    "{}: more tokens borrowed than the total",
                    ctx.label()
                );
                ctx.pause().await;
                inside.fetch_sub(1, SeqCst);
                drop(token);
            }
        }
    };
    for i in 0..WAITERS {
        let (limiter, body) = (limiter.clone(), body.clone());
        cell.waiter(&format!("borrower#{i}"), move |ctx| async move {
            ctx.until(&format!("{i} queued before me"), || limiter.waiting() == i)
                .await;
            body(ctx).await;
        });
    }
    {
        let limiter = limiter.clone();
        cell.notifier("notifier", move |ctx| async move {
            ctx.until(&format!("{WAITERS} borrowers queued"), || {
                limiter.waiting() == WAITERS
            })
            .await;
            limiter.set_total_tokens(TOKENS);
            body(ctx).await;
        });
    }
    cell.check(move || {
        assert_eq!(units.lock().unwrap().len(), participants);
        assert_eq!(limiter.borrowed_tokens(), 0);
        assert_eq!(limiter.available_tokens(), TOKENS);
        assert_eq!(limiter.waiting(), 0);
    });
}

#[test]
fn limiter() {
    run_matrix("limiter", limiter_scenario);
}

// ---------------------------------------------------------------------------
// RLock: each unit re-enters its own hold; the others are excluded; FIFO
// hand-off after the holder's last level.

fn rlock_scenario(cell: &mut Cell) {
    let rlock = Arc::new(RLock::new());
    let ex = Arc::new(Exclusion::default());
    let order = Arc::new(Log::default());
    for i in 0..WAITERS {
        let (rlock, ex, order) = (rlock.clone(), ex.clone(), order.clone());
        cell.waiter(&format!("waiter#{i}"), move |ctx| async move {
            ctx.until(&format!("{i} queued before me"), || {
                rlock.is_locked() && rlock.waiting() == i
            })
            .await;
            for _ in 0..=ROUNDS {
                let outer = if ctx.is_async() {
                    rlock.acquire().await.unwrap()
                } else {
                    rlock.acquire_blocking()
                };
                order.push(i);
                assert_eq!(rlock.owner(), Some(current_unit()), "{}", ctx.label());
                // Re-entry: immediate, in every form.
                let inner = if ctx.is_async() {
                    rlock.acquire().await.unwrap()
                } else {
                    rlock.acquire_blocking()
                };
                let third = rlock.try_acquire().expect("re-entry by try_acquire");
                assert_eq!(rlock.count(), 3, "{}", ctx.label());
                assert!(rlock.is_owned_by_current_unit());
                ex.section(&ctx, 1).await;
                drop(third);
                drop(inner);
                assert_eq!(rlock.count(), 1);
                drop(outer);
            }
        });
    }
    {
        let (rlock, ex, order) = (rlock.clone(), ex.clone(), order.clone());
        cell.notifier("notifier", move |ctx| async move {
            let outer = rlock
                .try_acquire()
                .expect("the notifier takes the free rlock");
            let inner = rlock.try_acquire().expect("re-entry");
            ctx.until(&format!("{WAITERS} waiters queued"), || {
                rlock.waiting() == WAITERS
            })
            .await;
            drop(inner);
            // One level left: still held, nobody handed it.
            assert_eq!((rlock.count(), rlock.waiting()), (1, WAITERS));
            assert!(rlock.is_owned_by_current_unit());
            ex.section(&ctx, 1).await;
            drop(outer); // hands it to waiter#0
            for _ in 0..ROUNDS {
                let g = if ctx.is_async() {
                    rlock.acquire().await.unwrap()
                } else {
                    rlock.acquire_blocking()
                };
                order.push(WAITERS);
                assert_eq!(rlock.count(), 1);
                ex.section(&ctx, 1).await;
                drop(g);
            }
        });
    }
    cell.check(move || {
        let order = order.take();
        assert_eq!(
            &order[..WAITERS],
            &(0..WAITERS).collect::<Vec<_>>()[..],
            "first acquisitions not in queue order: {order:?}"
        );
        let total = (WAITERS * (ROUNDS + 1) + 1 + ROUNDS) as u64;
        assert_eq!(
            ex.racy.load(SeqCst),
            total,
            "lost updates: exclusion broken"
        );
        assert!(!rlock.is_locked());
        assert_eq!(rlock.waiting(), 0);
    });
}

#[test]
fn rlock() {
    run_matrix("rlock", rlock_scenario);
}

// ---------------------------------------------------------------------------
// Queues: every item delivered exactly once, both directions, through
// capacity-1 queues (so puts wait too).

const GETTERS: usize = 3;
const PUTTERS: usize = 2;
/// Items per putter; the getters share them evenly.
const ITEMS: usize = 12;

fn item(who: usize, k: usize) -> u64 {
    ((who as u64) << 32) | k as u64
}

/// Two capacity-1 queues, so that puts wait too: the notifying side puts
/// into `forth` (a FIFO `Queue`) and the waiting side gets; each getter puts
/// one item into `back` (a `LifoQueue`) per item it got, and each putter
/// gets one from `back` per item it put (one for one, so it cannot
/// deadlock). Every item arrives exactly once, in both directions.
fn queue_scenario(cell: &mut Cell) {
    let forth = Arc::new(Queue::<u64>::bounded(1));
    let back = Arc::new(LifoQueue::<u64>::bounded(1));
    let got_forth = Arc::new(StdMutex::new(Vec::new()));
    let got_back = Arc::new(StdMutex::new(Vec::new()));
    let per_getter = PUTTERS * ITEMS / GETTERS;
    for g in 0..GETTERS {
        let (forth, back, got) = (forth.clone(), back.clone(), got_forth.clone());
        cell.waiter(&format!("getter#{g}"), move |ctx| async move {
            for k in 0..per_getter {
                let v = if ctx.is_async() {
                    forth.get().await.map_err(polysync::TryGetError::from)
                } else if k % 2 == 0 {
                    forth.get_blocking().map_err(polysync::TryGetError::from)
                } else {
                    forth.try_get_for(polysync_matrix::patience() * 2)
                }
                .unwrap_or_else(|e| panic!("{}: get: {e:?}", ctx.label()));
                got.lock().unwrap().push(v);
                let v = item(100 + g, k);
                if ctx.is_async() {
                    back.put(v).await
                } else {
                    back.put_blocking(v)
                }
                .unwrap_or_else(|_| panic!("{}: put", ctx.label()));
            }
        });
    }
    for p in 0..PUTTERS {
        let (forth, back, got) = (forth.clone(), back.clone(), got_back.clone());
        cell.notifier(&format!("putter#{p}"), move |ctx| async move {
            for k in 0..ITEMS {
                let v = item(p, k);
                if ctx.is_async() {
                    forth.put(v).await.map_err(polysync::TryPutError::from)
                } else if k % 2 == 0 {
                    forth.put_blocking(v).map_err(polysync::TryPutError::from)
                } else {
                    forth.try_put_for(v, polysync_matrix::patience() * 2)
                }
                .unwrap_or_else(|_| panic!("{}: put", ctx.label()));
                let v = if ctx.is_async() {
                    back.get().await
                } else {
                    back.get_blocking()
                }
                .unwrap_or_else(|e| panic!("{}: get: {e:?}", ctx.label()));
                got.lock().unwrap().push(v);
            }
        });
    }
    cell.check(move || {
        let mut got = std::mem::take(&mut *got_forth.lock().unwrap());
        got.sort_unstable();
        let mut expected: Vec<u64> = (0..PUTTERS)
            .flat_map(|p| (0..ITEMS).map(move |k| item(p, k)))
            .collect();
        expected.sort_unstable();
        assert_eq!(got, expected, "forth: items lost or duplicated");
        let mut got = std::mem::take(&mut *got_back.lock().unwrap());
        got.sort_unstable();
        let mut expected: Vec<u64> = (0..GETTERS)
            .flat_map(|g| (0..per_getter).map(move |k| item(100 + g, k)))
            .collect();
        expected.sort_unstable();
        assert_eq!(got, expected, "back: items lost or duplicated");
        assert!(forth.is_empty() && back.is_empty());
        assert_eq!(
            forth.getting() + forth.putting() + back.getting() + back.putting(),
            0
        );
    });
}

#[test]
fn queue() {
    run_matrix("queue", queue_scenario);
}

// ---------------------------------------------------------------------------
// Cancellation: a waiter (A) that times out, or whose future is dropped,
// right as it is handed a lock / permit / item passes it on: the waiter
// queued behind it (B) gets it, or the item is back in the queue. Each
// (primitive, variant) is a trio A, B, notifier of its own, all at once;
// one scenario per primitive.

/// How the timed waiter gives up.
#[derive(Clone, Copy, Debug)]
enum Variant {
    /// A timed wait whose deadline falls this long before (negative: after)
    /// the release: a race, either outcome is fine, nothing may be lost.
    Race(i64),
    /// Async worlds: A polls once (queued), the notifier releases (hands it
    /// to A), then A's future is dropped without another poll. Blocking
    /// worlds run it as `Race(0)`.
    DropHanded,
}

const VARIANTS: [Variant; 7] = [
    Variant::DropHanded,
    Variant::DropHanded,
    Variant::Race(-500),
    Variant::Race(-200),
    Variant::Race(0),
    Variant::Race(200),
    Variant::Race(500),
];
/// A's deadline is this long after it queues.
const A_PATIENCE: Duration = Duration::from_millis(4);

/// What a trio shares.
struct Trio {
    /// When A gives up (set by A once queued).
    deadline: OnceLock<Instant>,
    /// Set by the notifier once it released.
    released: AtomicBool,
    /// Set by A once it is done.
    a_done: AtomicBool,
    /// What A and B got (lock/permit: 1 if they got it; queue: 1 + item).
    a_got: AtomicU64,
    b_got: AtomicU64,
}

impl Trio {
    fn new() -> Arc<Trio> {
        Arc::new(Trio {
            deadline: OnceLock::new(),
            released: AtomicBool::new(false),
            a_done: AtomicBool::new(false),
            a_got: AtomicU64::new(0),
            b_got: AtomicU64::new(0),
        })
    }

    /// When the notifier releases, for `variant`.
    fn release_at(&self, variant: Variant) -> Instant {
        // A that gave up before setting a deadline (its first poll
        // completed) leaves nothing to race against: release now.
        let Some(&deadline) = self.deadline.get() else {
            return Instant::now();
        };
        match variant {
            Variant::Race(us) if us >= 0 => deadline + Duration::from_micros(us as u64),
            Variant::Race(us) => deadline - Duration::from_micros(us.unsigned_abs()),
            Variant::DropHanded => deadline,
        }
    }
}

/// A polls `fut` once (it must queue), waits until the notifier released,
/// then drops it: `Some` if the first poll already completed.
async fn poll_once_then_drop<F: std::future::Future>(
    ctx: &Ctx,
    trio: &Trio,
    fut: F,
) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    if let Some(out) = futures_lite::future::poll_once(fut.as_mut()).await {
        return Some(out);
    }
    trio.deadline.set(Instant::now()).unwrap();
    ctx.until("the notifier released", || trio.released.load(SeqCst))
        .await;
    None // `fut` is dropped here, handed whatever it was handed
}

fn cancel_lock_trio(cell: &mut Cell, n: usize, variant: Variant) {
    let lock = Arc::new(Lock::new());
    let trio = Trio::new();
    let async_drop = matches!(variant, Variant::DropHanded) && cell.waiter_world().is_async();
    {
        let (lock, trio) = (lock.clone(), trio.clone());
        cell.waiter(&format!("lock{n}:A({variant:?})"), move |ctx| async move {
            ctx.until("the notifier holds the lock", || lock.is_locked())
                .await;
            let got = if async_drop {
                poll_once_then_drop(&ctx, &trio, lock.acquire())
                    .await
                    .is_some()
            } else {
                let deadline = Instant::now() + A_PATIENCE;
                trio.deadline.set(deadline).unwrap();
                if ctx.is_async() {
                    ctx.timeout_at(deadline, lock.acquire()).await.is_some()
                } else {
                    lock.try_acquire_until(deadline).is_some()
                }
            };
            trio.a_got.store(got as u64, SeqCst);
            trio.a_done.store(true, SeqCst);
        });
    }
    {
        let (lock, trio) = (lock.clone(), trio.clone());
        cell.waiter(&format!("lock{n}:B"), move |ctx| async move {
            ctx.until("A queued", || {
                lock.waiting() >= 1 || trio.a_done.load(SeqCst)
            })
            .await;
            let g = if ctx.is_async() {
                lock.acquire().await
            } else {
                lock.acquire_blocking()
            };
            trio.b_got.store(1, SeqCst);
            drop(g);
        });
    }
    {
        let (lock, trio) = (lock.clone(), trio.clone());
        cell.notifier(&format!("lock{n}:notifier"), move |ctx| async move {
            let g = lock.try_acquire().expect("a free lock");
            // A sets its deadline only after its first poll queued it (the
            // drop variant), so B can queue before that: wait for it too.
            ctx.until("A and B queued, A's deadline set (or A gave up)", || {
                (lock.waiting() == 2 && trio.deadline.get().is_some()) || trio.a_done.load(SeqCst)
            })
            .await;
            ctx.sleep_until(trio.release_at(variant)).await;
            drop(g);
            trio.released.store(true, SeqCst);
        });
    }
    cell.check(move || {
        assert_eq!(trio.b_got.load(SeqCst), 1, "lock: B did not get the lock");
        assert!(!lock.is_locked(), "lock: still held (lost in a hand-off)");
        assert_eq!(lock.waiting(), 0);
        if async_drop {
            assert_eq!(trio.a_got.load(SeqCst), 0, "lock: A's first poll got it");
        }
    });
}

fn cancel_semaphore_trio(cell: &mut Cell, n: usize, variant: Variant) {
    let sem = Arc::new(Semaphore::new(0));
    let trio = Trio::new();
    let async_drop = matches!(variant, Variant::DropHanded) && cell.waiter_world().is_async();
    {
        let (sem, trio) = (sem.clone(), trio.clone());
        cell.waiter(&format!("sem{n}:A({variant:?})"), move |ctx| async move {
            let got = if async_drop {
                poll_once_then_drop(&ctx, &trio, sem.acquire())
                    .await
                    .map(Result::unwrap) // never closed
                    .is_some()
            } else {
                let deadline = Instant::now() + A_PATIENCE;
                trio.deadline.set(deadline).unwrap();
                if ctx.is_async() {
                    ctx.timeout_at(deadline, sem.acquire())
                        .await
                        .map(Result::unwrap) // never closed
                        .is_some()
                } else {
                    sem.try_acquire_until(deadline).is_some()
                }
            };
            trio.a_got.store(got as u64, SeqCst);
            trio.a_done.store(true, SeqCst);
        });
    }
    {
        let (sem, trio) = (sem.clone(), trio.clone());
        cell.waiter(&format!("sem{n}:B"), move |ctx| async move {
            ctx.until("A queued", || {
                sem.waiting() >= 1 || trio.a_done.load(SeqCst)
            })
            .await;
            let p = if ctx.is_async() {
                sem.acquire().await.unwrap()
            } else {
                sem.acquire_blocking().unwrap()
            };
            trio.b_got.store(1, SeqCst);
            drop(p);
        });
    }
    {
        let (sem, trio) = (sem.clone(), trio.clone());
        cell.notifier(&format!("sem{n}:notifier"), move |ctx| async move {
            // A sets its deadline only after its first poll queued it (the
            // drop variant), so B can queue before that: wait for it too.
            ctx.until("A and B queued, A's deadline set (or A gave up)", || {
                (sem.waiting() == 2 && trio.deadline.get().is_some()) || trio.a_done.load(SeqCst)
            })
            .await;
            ctx.sleep_until(trio.release_at(variant)).await;
            sem.release(1);
            trio.released.store(true, SeqCst);
        });
    }
    cell.check(move || {
        assert_eq!(
            trio.b_got.load(SeqCst),
            1,
            "semaphore: B did not get the permit"
        );
        assert_eq!(
            sem.value(),
            1,
            "semaphore: the permit was lost or duplicated"
        );
        assert_eq!(sem.waiting(), 0);
    });
}

fn cancel_queue_trio(cell: &mut Cell, n: usize, variant: Variant) {
    const ITEM: u64 = 7;
    let queue = Arc::new(Queue::<u64>::unbounded());
    let trio = Trio::new();
    let async_drop = matches!(variant, Variant::DropHanded) && cell.waiter_world().is_async();
    {
        let (queue, trio) = (queue.clone(), trio.clone());
        cell.waiter(&format!("queue{n}:A({variant:?})"), move |ctx| async move {
            let got = if async_drop {
                poll_once_then_drop(&ctx, &trio, queue.get()).await
            } else {
                let deadline = Instant::now() + A_PATIENCE;
                trio.deadline.set(deadline).unwrap();
                if ctx.is_async() {
                    ctx.timeout_at(deadline, queue.get()).await
                } else {
                    match queue.try_get_until(deadline) {
                        Ok(item) => Some(Ok(item)),
                        Err(polysync::TryGetError::Empty) => None, // timed out
                        Err(polysync::TryGetError::Closed) => Some(Err(polysync::GetError)),
                        Err(polysync::TryGetError::Cancelled) => {
                            unreachable!("a cancelled plain timed get unwinds")
                        }
                    }
                }
            };
            let got = got.map(|r| r.expect("A: the queue is not closed yet"));
            trio.a_got.store(got.map_or(0, |v| 1 + v), SeqCst);
            trio.a_done.store(true, SeqCst);
        });
    }
    {
        let (queue, trio) = (queue.clone(), trio.clone());
        cell.waiter(&format!("queue{n}:B"), move |ctx| async move {
            ctx.until("A queued", || {
                queue.getting() >= 1 || trio.a_done.load(SeqCst)
            })
            .await;
            // Ok(item), or Err(Closed) once the notifier closes the queue.
            let got = if ctx.is_async() {
                queue.get().await
            } else {
                queue.get_blocking()
            };
            trio.b_got.store(got.map_or(0, |v| 1 + v), SeqCst);
        });
    }
    {
        let (queue, trio) = (queue.clone(), trio.clone());
        cell.notifier(&format!("queue{n}:notifier"), move |ctx| async move {
            // A sets its deadline only after its first poll queued it (the
            // drop variant), so B can queue before that: wait for it too.
            ctx.until("A and B queued, A's deadline set (or A gave up)", || {
                (queue.getting() == 2 && trio.deadline.get().is_some()) || trio.a_done.load(SeqCst)
            })
            .await;
            ctx.sleep_until(trio.release_at(variant)).await;
            if ctx.is_async() {
                queue.put(ITEM).await
            } else {
                queue.put_blocking(ITEM)
            }
            .expect("put");
            trio.released.store(true, SeqCst);
            // Once A is done, B may be left with nothing: closing ends its wait.
            ctx.until("A done", || trio.a_done.load(SeqCst)).await;
            queue.close();
        });
    }
    cell.check(move || {
        let (a, b) = (trio.a_got.load(SeqCst), trio.b_got.load(SeqCst));
        let left = queue.len() as u64;
        let got = [a, b].iter().filter(|&&x| x == 1 + ITEM).count() as u64;
        assert_eq!(
            got + left,
            1,
            "queue: the item was lost or duplicated (A got {a}, B got {b}, {left} left)"
        );
        if async_drop {
            assert_eq!(a, 0, "queue: A's first poll got it");
        }
        assert_eq!(queue.getting(), 0);
    });
}

fn cancel_lock_scenario(cell: &mut Cell) {
    for (n, &variant) in VARIANTS.iter().enumerate() {
        cancel_lock_trio(cell, n, variant);
    }
}

fn cancel_semaphore_scenario(cell: &mut Cell) {
    for (n, &variant) in VARIANTS.iter().enumerate() {
        cancel_semaphore_trio(cell, n, variant);
    }
}

fn cancel_queue_scenario(cell: &mut Cell) {
    for (n, &variant) in VARIANTS.iter().enumerate() {
        cancel_queue_trio(cell, n, variant);
    }
}

#[test]
fn cancel_lock() {
    run_matrix("cancel-lock", cancel_lock_scenario);
}

#[test]
fn cancel_semaphore() {
    run_matrix("cancel-semaphore", cancel_semaphore_scenario);
}

#[test]
fn cancel_queue() {
    run_matrix("cancel-queue", cancel_queue_scenario);
}

#[test]
fn watch() {
    run_matrix("watch", polysync_matrix::watch::scenario);
}
