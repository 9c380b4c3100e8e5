//! The hub as a runtime: spawn, join (from green, thread and async), yield,
//! sleep, panics, stack reuse, misuse errors, and several hubs.

mod support;

use polysync_corosensei::{Hub, JoinError, run, sleep, spawn, yield_now};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};
use support::watchdog;

#[test]
fn spawn_join_and_yield_interleave_in_fifo_order() {
    watchdog("fifo", || {
        let log = run(|| {
            let log = Rc::new(RefCell::new(Vec::new()));
            let handles: Vec<_> = ["a", "b", "c"]
                .into_iter()
                .map(|name| {
                    let log = log.clone();
                    spawn(move || {
                        for i in 0..3 {
                            log.borrow_mut().push(format!("{name}{i}"));
                            yield_now();
                        }
                        name.len()
                    })
                })
                .collect();
            let lens: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
            assert_eq!(lens, 3);
            Rc::try_unwrap(log).unwrap().into_inner()
        });
        assert_eq!(
            log,
            ["a0", "b0", "c0", "a1", "b1", "c1", "a2", "b2", "c2"],
            "yield_now requeues behind the other ready green threads"
        );
    });
}

#[test]
fn sleep_waits_on_the_hub_timer_and_wakes_in_deadline_order() {
    watchdog("sleep", || {
        run(|| {
            let order = Rc::new(RefCell::new(Vec::new()));
            let start = Instant::now();
            let handles: Vec<_> = [30u64, 10, 20]
                .into_iter()
                .map(|ms| {
                    let order = order.clone();
                    spawn(move || {
                        let t = Instant::now();
                        sleep(Duration::from_millis(ms));
                        assert!(t.elapsed() >= Duration::from_millis(ms));
                        order.borrow_mut().push(ms);
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
            assert_eq!(*order.borrow(), [10, 20, 30]);
            assert!(start.elapsed() >= Duration::from_millis(30));
            // A zero sleep returns.
            sleep(Duration::ZERO);
        });
    });
}

#[test]
fn spawn_from_green_threads_and_run_to_completion() {
    watchdog("nested spawn", || {
        let hub = Hub::new();
        let count = Rc::new(Cell::new(0));
        {
            let count = count.clone();
            hub.spawn(move || {
                for _ in 0..10 {
                    let count = count.clone();
                    spawn(move || {
                        let count2 = count.clone();
                        spawn(move || count2.set(count2.get() + 1));
                        count.set(count.get() + 1);
                    });
                }
            });
        }
        assert_eq!(hub.green_threads(), 1);
        hub.run_to_completion();
        assert_eq!(count.get(), 20);
        assert_eq!(hub.green_threads(), 0);
    });
}

#[test]
fn a_plain_thread_joins_a_green_thread_by_parking() {
    watchdog("join from thread", || {
        let (tx, rx) = mpsc::channel();
        // The hub outlives the join (it would unwind the green thread).
        let joined = Arc::new(polysync::Event::new());
        let hub_thread = std::thread::spawn({
            let joined = joined.clone();
            move || {
                run(move || {
                    let h = spawn(|| {
                        sleep(Duration::from_millis(20));
                        String::from("from the hub")
                    });
                    tx.send(h).unwrap();
                    joined.wait_blocking();
                })
            }
        });
        let handle = rx.recv().unwrap();
        assert_eq!(handle.join().unwrap(), "from the hub");
        joined.set();
        hub_thread.join().unwrap();
    });
}

#[test]
fn async_tasks_await_a_join_handle() {
    watchdog("join from async", || {
        let (tx, rx) = mpsc::channel();
        // The hub outlives the awaits (it would unwind the green threads).
        let joined = Arc::new(polysync::Event::new());
        let hub_thread = std::thread::spawn({
            let joined = joined.clone();
            move || {
                run(move || {
                    let slow = spawn(|| {
                        sleep(Duration::from_millis(20));
                        1u32
                    });
                    let panics = spawn(|| -> u32 { panic!("green boom") });
                    tx.send((slow, panics)).unwrap();
                    joined.wait_blocking();
                })
            }
        });
        let (slow, panics) = rx.recv().unwrap();
        let rt = support::multi_thread(1);
        rt.block_on(async move {
            let slow = tokio::spawn(slow); // the handle is Send: joined from a worker
            assert_eq!(slow.await.unwrap().unwrap(), 1);
            let err = panics.await.unwrap_err();
            assert!(err.is_panic(), "{err:?}");
            assert_eq!(err.to_string(), "the green thread panicked: green boom");
        });
        joined.set();
        hub_thread.join().unwrap();
    });
}

#[test]
fn green_threads_of_another_hub_join_by_switching() {
    watchdog("join across hubs", || {
        let (tx, rx) = mpsc::channel();
        // Hub a outlives the join (it would unwind the green thread).
        let joined = Arc::new(polysync::Event::new());
        let a = std::thread::spawn({
            let joined = joined.clone();
            move || {
                run(move || {
                    let h = spawn(|| {
                        sleep(Duration::from_millis(20));
                        5
                    });
                    tx.send(h).unwrap();
                    joined.wait_blocking();
                })
            }
        });
        let b = std::thread::spawn(move || {
            run(move || {
                let h = rx.recv().unwrap();
                let ticks = Rc::new(Cell::new(0u32));
                let ticker = {
                    let ticks = ticks.clone();
                    spawn(move || {
                        while ticks.get() < 5 {
                            ticks.set(ticks.get() + 1);
                            sleep(Duration::from_millis(1));
                        }
                    })
                };
                let v = h.join().unwrap(); // switches: the ticker runs meanwhile
                joined.set();
                ticker.join().unwrap();
                (v, ticks.get())
            })
        });
        assert_eq!(b.join().unwrap(), (5, 5));
        a.join().unwrap();
    });
}

#[test]
fn a_panic_reaches_its_join_handle_and_the_hub_carries_on() {
    watchdog("panics", || {
        run(|| {
            let boom = spawn(|| -> u8 { panic!("boom") });
            let string = spawn(|| -> u8 { std::panic::panic_any(String::from("owned")) });
            let custom = spawn(|| -> u8 { std::panic::panic_any(17u64) });
            let fine = spawn(|| 3u8);
            match boom.join() {
                Err(JoinError::Panicked(p)) => assert_eq!(p.downcast_ref::<&str>(), Some(&"boom")),
                other => panic!("expected a panic, got {other:?}"),
            }
            let err = string.join().unwrap_err();
            assert_eq!(format!("{err:?}"), r#"Panicked("owned")"#);
            match custom.join() {
                Err(JoinError::Panicked(p)) => assert_eq!(p.downcast_ref::<u64>(), Some(&17)),
                other => panic!("expected a panic, got {other:?}"),
            }
            assert_eq!(fine.join().unwrap(), 3);
            // The hub still runs green threads.
            assert_eq!(spawn(|| 9).join().unwrap(), 9);
        });
    });
}

#[test]
fn run_reraises_the_panic_of_its_closure_and_the_hub_survives() {
    watchdog("run panics", || {
        let hub = Hub::new();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            hub.run(|| panic!("main boom"))
        }));
        let payload = caught.unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"main boom"));
        assert_eq!(hub.run(|| 1), 1, "the hub survives");
        drop(hub);
        // The free `run` too, and a new hub can be made on this thread after.
        let caught = std::panic::catch_unwind(|| run(|| panic!("again")));
        assert!(caught.is_err());
        assert_eq!(run(|| 2), 2);
    });
}

/// Records that its destructor ran.
struct Flag(Rc<Cell<u32>>);
impl Drop for Flag {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn dropping_the_hub_unwinds_suspended_and_unstarted_green_threads() {
    watchdog("hub drop", || {
        let dropped = Rc::new(Cell::new(0));
        let event = std::sync::Arc::new(polysync::Event::new());
        let hub = Hub::new();
        let mut handles = Vec::new();
        {
            // Suspended in a sleep.
            let flag = Flag(dropped.clone());
            handles.push(hub.spawn(move || {
                let _flag = flag;
                sleep(Duration::from_secs(3600));
            }));
            // Suspended in a polysync wait.
            let (flag, event) = (Flag(dropped.clone()), event.clone());
            handles.push(hub.spawn(move || {
                let _flag = flag;
                event.wait_blocking();
            }));
            // Suspended in a yield (ready, never resumed again).
            let flag = Flag(dropped.clone());
            handles.push(hub.spawn(move || {
                let _flag = flag;
                loop {
                    yield_now();
                }
            }));
        }
        hub.run(|| sleep(Duration::from_millis(5)));
        // Never started: its closure is dropped.
        let flag = Flag(dropped.clone());
        handles.push(hub.spawn(move || drop(flag)));
        assert_eq!(hub.green_threads(), 4);
        assert_eq!(dropped.get(), 0);
        drop(hub);
        assert_eq!(dropped.get(), 4, "every destructor ran");
        assert_eq!(event.waiting(), 0, "the event wait was withdrawn");
        for h in handles {
            assert!(h.is_finished());
            assert!(h.join().unwrap_err().is_cancelled());
        }
    });
}

#[test]
fn stacks_are_reused() {
    watchdog("stack pool", || {
        let hub = Hub::builder().stack_size(64 * 1024).stack_pool(4).build();
        let here = || {
            let local = 0u8;
            std::hint::black_box(&local) as *const u8 as usize
        };
        let first = hub.run(here);
        for _ in 0..50 {
            assert_eq!(hub.run(here), first, "the pooled stack is used again");
        }
        // Sixty at once: more than the pool, all distinct stacks.
        let hs: Vec<_> = (0..60)
            .map(|_| {
                hub.spawn(move || {
                    let a = here();
                    yield_now();
                    a
                })
            })
            .collect();
        hub.run_to_completion();
        let mut addrs: Vec<usize> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        addrs.sort_unstable();
        addrs.dedup();
        assert_eq!(addrs.len(), 60);
    });
}

#[test]
fn misuse_is_a_clear_panic_not_a_hang() {
    watchdog("misuse", || {
        let msg = |r: std::thread::Result<()>| -> String {
            let p = r.unwrap_err();
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        };
        // spawn without a hub
        let m = msg(std::panic::catch_unwind(|| {
            spawn(|| ());
        }));
        assert!(m.contains("no hub"), "{m}");
        // two hubs on one thread
        let hub = Hub::new();
        let m = msg(std::panic::catch_unwind(|| {
            Hub::new();
        }));
        assert!(m.contains("already has a hub"), "{m}");
        // joining an unfinished green thread on the idle hub thread
        let h = hub.spawn(|| ());
        let m = msg(std::panic::catch_unwind(std::panic::AssertUnwindSafe(
            move || {
                let _ = h.join();
            },
        )));
        assert!(m.contains("would never return"), "{m}");
        // a hub inside its own green thread
        let err = hub.run(|| {
            spawn(|| {
                run(|| ());
            })
            .join()
            .unwrap_err()
        });
        assert!(err.to_string().contains("already has a hub"), "{err}");
    });
}

#[test]
fn outside_green_threads_the_helpers_fall_back_to_the_thread() {
    watchdog("fallbacks", || {
        assert!(!polysync_corosensei::in_green_thread());
        assert_eq!(polysync_corosensei::current_unit(), None);
        yield_now();
        let t = Instant::now();
        sleep(Duration::from_millis(2));
        assert!(t.elapsed() >= Duration::from_millis(2));
        // block_on parks the thread (polysync's thread waiter).
        let v = polysync_corosensei::block_on(async {
            async_io::Timer::after(Duration::from_millis(2)).await;
            4
        });
        assert_eq!(v, 4);
    });
}

#[test]
fn hubs_run_on_several_threads_at_once() {
    watchdog("hubs in parallel", || {
        let threads: Vec<_> = (0..4)
            .map(|n| {
                std::thread::spawn(move || {
                    run(move || {
                        let hs: Vec<_> = (0..50)
                            .map(|i| {
                                spawn(move || {
                                    for _ in 0..5 {
                                        sleep(Duration::from_micros(200));
                                        yield_now();
                                    }
                                    n * 1000 + i
                                })
                            })
                            .collect();
                        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
                    })
                })
            })
            .collect();
        for (n, t) in threads.into_iter().enumerate() {
            let n = n as u64;
            assert_eq!(t.join().unwrap(), n * 1000 * 50 + (0..50).sum::<u64>());
        }
    });
}

/// A hub dropped while its thread unwinds from an unrelated panic still
/// unwinds its green threads (their destructors run) without aborting.
#[test]
fn a_hub_dropped_during_a_panic_unwinds_its_green_threads() {
    watchdog("drop while panicking", || {
        let dropped = Rc::new(Cell::new(0));
        let d = dropped.clone();
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let hub = Hub::new();
            let flag = Flag(d);
            hub.spawn(move || {
                let _flag = flag;
                sleep(Duration::from_secs(3600));
            });
            hub.run(yield_now);
            panic!("unrelated");
        }));
        assert!(out.is_err());
        assert_eq!(dropped.get(), 1);
    });
}
