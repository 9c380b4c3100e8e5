use polysync::{Event, Lock, Semaphore};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn lock_threads_and_tasks() {
    let lock = Arc::new(Lock::new());
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut handles = vec![];
    for i in 0..4 {
        let lock = lock.clone();
        let counter = counter.clone();
        handles.push(std::thread::spawn(move || {
            for _ in 0..2000 {
                if i % 2 == 0 {
                    let _g = lock.acquire_blocking();
                    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                } else {
                    futures_lite::future::block_on(async {
                        let _g = lock.acquire().await;
                        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    });
                }
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(counter.load(std::sync::atomic::Ordering::Relaxed), 8000);
    assert!(!lock.locked());
    assert_eq!(lock.waiting(), 0);
}

#[test]
fn semaphore_timeout_and_event() {
    let sem = Semaphore::new(0);
    assert!(sem.try_acquire_for(Duration::from_millis(5)).is_none());
    assert_eq!(sem.waiting(), 0);
    sem.release(1);
    assert_eq!(sem.value(), 1);
    let e = Arc::new(Event::new());
    let e2 = e.clone();
    let t = std::thread::spawn(move || e2.wait_blocking());
    std::thread::sleep(Duration::from_millis(10));
    e.set();
    t.join().unwrap();
}

#[test]
#[should_panic(expected = "already holds")]
fn reacquire_panics() {
    let lock = Lock::new();
    let _g = lock.acquire_blocking();
    let _h = lock.acquire_blocking();
}
