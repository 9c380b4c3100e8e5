//! Compile-time checks of auto traits, standard traits and sizes.
//!
//! What is proven (a failure is a compile error of this test binary):
//! - every primitive is `Send + Sync` (so it can be shared through `Arc` or a
//!   `static` between threads, tasks and green threads), and has `Debug`
//!   (plus `Default` where the type offers a sensible default);
//! - guards are `Send`/`Sync` exactly as implemented: `LockGuard` and
//!   `Permit` always; `MutexGuard<T>` is `Send` iff `T: Send` and `Sync` iff
//!   `T: Sync` (so a guard of a `Cell` is never shared, and a guard of an `Rc`
//!   never leaves its thread); `Mutex<T>` is `Send + Sync` iff `T: Send`;
//! - the wait futures are `Send` (they can be `tokio::spawn`ed) and `!Unpin`
//!   (their queue node is pointed to by the queue while they wait, so safe
//!   code must not be able to move them after a poll);
//! - `ThreadWaiter` is neither `Send` nor `Sync` (its wakers unpark the
//!   thread that made it);
//! - the error types are `std::error::Error + Send + Sync + Copy`;
//! - errors by form: the untimed queue and channel forms (async and
//!   blocking) return the closed-only errors (`PutError`, `GetError`,
//!   `SendError`, `RecvError`), every form that may give up the `Try*` ones;
//!   each signature and future output is pinned below (`error_forms`);
//! - sizes: `Lock` and `Mutex<()>` are at most 16 bytes, each acquire/wait
//!   future at most 64 bytes (no heap allocation per wait is possible only if
//!   the node lives inline, so these sizes also pin that design down).
//!
//! The runtime test prints the sizes.

use polysync::lowlevel::{Signal, SignalError, SignalWait};
use polysync::{
    BinarySemaphore, BoundedSemaphore, Event, Lock, LockGuard, Mutex, MutexGuard, Permit,
    Semaphore, TooManyReleases, TryAcquireError,
};
use static_assertions::{assert_impl_all, assert_not_impl_any, const_assert};
use std::cell::Cell;
use std::fmt::Debug;
use std::mem::size_of;
use std::rc::Rc;

// Primitives: Send + Sync + Debug (+ Default).
assert_impl_all!(Lock: Send, Sync, Debug, Default, Unpin);
assert_impl_all!(Mutex<u8>: Send, Sync, Debug, Default, From<u8>);
assert_impl_all!(Mutex<()>: Send, Sync);
assert_impl_all!(Event: Send, Sync, Debug, Default);
assert_impl_all!(Semaphore: Send, Sync, Debug, Default);
assert_impl_all!(BoundedSemaphore: Send, Sync, Debug);
assert_impl_all!(BinarySemaphore: Send, Sync, Debug, Default);
assert_impl_all!(Signal: Send, Sync, Debug, Default);

// No poisoning and no half-changed state after a panic: the primitives
// without user data are unwind-safe (as tokio's `Notify` and channels).
assert_impl_all!(Lock: std::panic::UnwindSafe, std::panic::RefUnwindSafe);
assert_impl_all!(Semaphore: std::panic::UnwindSafe, std::panic::RefUnwindSafe);
assert_impl_all!(BoundedSemaphore: std::panic::RefUnwindSafe);
assert_impl_all!(BinarySemaphore: std::panic::RefUnwindSafe);
assert_impl_all!(Event: std::panic::UnwindSafe, std::panic::RefUnwindSafe);
assert_impl_all!(Signal: std::panic::RefUnwindSafe);
assert_impl_all!(polysync::REvent: std::panic::RefUnwindSafe);
assert_impl_all!(polysync::CountdownEvent: std::panic::RefUnwindSafe);
assert_impl_all!(polysync::Condition: std::panic::RefUnwindSafe);
assert_impl_all!(polysync::RLock: std::panic::RefUnwindSafe);
assert_impl_all!(polysync::Latch: std::panic::RefUnwindSafe);
assert_impl_all!(polysync::Barrier: std::panic::RefUnwindSafe);

// Mutex<T>: shareable iff T can be sent (like std::sync::Mutex).
assert_impl_all!(Mutex<Cell<u8>>: Send, Sync);
assert_impl_all!(Mutex<Vec<u8>>: Send, Sync);
assert_not_impl_any!(Mutex<Rc<u8>>: Send, Sync);

// Guards.
assert_impl_all!(LockGuard<'static>: Send, Sync, Debug);
assert_impl_all!(MutexGuard<'static, u8>: Send, Sync, Debug);
assert_impl_all!(Permit<'static, Semaphore>: Send, Sync, Debug);
assert_impl_all!(Permit<'static, BoundedSemaphore>: Send, Sync);
assert_impl_all!(Permit<'static, BinarySemaphore>: Send, Sync);
// A guard shares `&T`: only Sync if T is.
assert_impl_all!(MutexGuard<'static, Cell<u8>>: Send);
assert_not_impl_any!(MutexGuard<'static, Cell<u8>>: Sync);
// A guard of an `Rc` must never reach another thread, nor be shared.
assert_not_impl_any!(MutexGuard<'static, Rc<u8>>: Send, Sync);
// Guards are not Clone/Copy (a second release would break exclusion).
assert_not_impl_any!(LockGuard<'static>: Clone, Copy);
assert_not_impl_any!(MutexGuard<'static, u8>: Clone, Copy);
assert_not_impl_any!(Permit<'static, Semaphore>: Clone, Copy);

// Wait futures: Send (spawnable on multi-thread executors) and !Unpin.
assert_impl_all!(polysync::lock::Acquire<'static>: Send, Sync, Debug);
assert_impl_all!(polysync::semaphore::Acquire<'static, Semaphore>: Send, Debug);
assert_impl_all!(polysync::semaphore::Acquire<'static, BoundedSemaphore>: Send);
assert_impl_all!(polysync::semaphore::Acquire<'static, BinarySemaphore>: Send);
assert_impl_all!(polysync::event::Wait<'static>: Send, Debug);
assert_impl_all!(polysync::mutex::LockFuture<'static, u8>: Send, Debug);
assert_impl_all!(SignalWait<'static>: Send, Debug);
assert_not_impl_any!(polysync::mutex::LockFuture<'static, Rc<u8>>: Send);
assert_not_impl_any!(polysync::lock::Acquire<'static>: Unpin);
assert_not_impl_any!(polysync::semaphore::Acquire<'static, Semaphore>: Unpin);
assert_not_impl_any!(polysync::event::Wait<'static>: Unpin);
assert_not_impl_any!(polysync::mutex::LockFuture<'static, ()>: Unpin);
assert_not_impl_any!(SignalWait<'static>: Unpin);

// The rest of the family: primitives, guards, futures.
use polysync::condition::ConditionWait;
use polysync::lowlevel::{UnitCancelled, WaitError};
use polysync::queue::{Get, Put, SimpleGet, TaskDoneError};
use polysync::{
    Barrier, BarrierWait, BarrierWaitError, BorrowError, BrokenBarrierError, CapacityLimiter,
    Condition, CountdownEvent, Flag, Latch, LatchWait, LifoQueue, LimiterAcquire,
    LimiterReleaseError, LimiterToken, PriorityQueue, Queue, RBarrier, RCapacityLimiter, REvent,
    RLock, RLockAcquire, RLockGuard, RLockReleaseError, RMutex, RMutexGuard, RMutexLockFuture,
    ResourceGuard, SimpleQueue, TooManyDowns,
};

assert_impl_all!(RLock: Send, Sync, Debug, Default);
assert_impl_all!(RMutex<u8>: Send, Sync, Debug, Default);
assert_not_impl_any!(RMutex<Rc<u8>>: Send, Sync);
assert_impl_all!(REvent: Send, Sync, Debug, Default);
assert_impl_all!(CountdownEvent: Send, Sync, Debug, Default);
assert_impl_all!(Latch: Send, Sync, Debug);
assert_impl_all!(Barrier: Send, Sync, Debug);
assert_impl_all!(RBarrier: Send, Sync, Debug);
assert_impl_all!(Condition: Send, Sync, Debug, Default);
assert_impl_all!(CapacityLimiter: Send, Sync, Debug);
assert_impl_all!(RCapacityLimiter: Send, Sync, Debug);
assert_impl_all!(ResourceGuard: Send, Sync, Debug);
assert_impl_all!(Flag<u8>: Send, Sync, Debug, Default);
assert_impl_all!(Queue<u8>: Send, Sync, Debug, Default);
assert_impl_all!(LifoQueue<u8>: Send, Sync, Debug, Default);
assert_impl_all!(PriorityQueue<u8>: Send, Sync, Debug, Default);
assert_impl_all!(SimpleQueue<u8>: Send, Sync, Debug, Default);
// A queue of `Rc`s would hand them to other threads.
assert_not_impl_any!(Queue<Rc<u8>>: Send, Sync);

assert_impl_all!(RLockGuard<'static>: Send, Debug);
assert_impl_all!(RMutexGuard<'static, u8>: Debug);
assert_impl_all!(LimiterToken<'static>: Send, Debug);
assert_not_impl_any!(RLockGuard<'static>: Clone, Copy);
assert_not_impl_any!(LimiterToken<'static>: Clone, Copy);

// Every wait future: Send where its data allows, and !Unpin (its node is
// linked into a queue while it waits).
assert_impl_all!(RLockAcquire<'static>: Send, Debug);
assert_impl_all!(RMutexLockFuture<'static, u8>: Send, Debug);
assert_impl_all!(polysync::revent::Wait<'static>: Send, Debug);
assert_impl_all!(polysync::countdown::Wait<'static>: Send, Debug);
assert_impl_all!(LatchWait<'static>: Send, Debug);
assert_impl_all!(BarrierWait<'static>: Send, Debug);
assert_impl_all!(LimiterAcquire<'static>: Send, Debug);
assert_impl_all!(ConditionWait<'static, polysync::LockGuard<'static>>: Send, Debug);
assert_impl_all!(ConditionWait<'static, MutexGuard<'static, u8>>: Send, Debug);
assert_impl_all!(ConditionWait<'static, RLockGuard<'static>>: Send, Debug);
assert_impl_all!(Put<'static, u8>: Send, Debug);
assert_impl_all!(Get<'static, u8>: Send, Debug);
assert_impl_all!(SimpleGet<'static, u8>: Send, Debug);
assert_not_impl_any!(RLockAcquire<'static>: Unpin);
assert_not_impl_any!(RMutexLockFuture<'static, u8>: Unpin);
assert_not_impl_any!(polysync::revent::Wait<'static>: Unpin);
assert_not_impl_any!(polysync::countdown::Wait<'static>: Unpin);
assert_not_impl_any!(LatchWait<'static>: Unpin);
assert_not_impl_any!(BarrierWait<'static>: Unpin);
assert_not_impl_any!(ConditionWait<'static, polysync::LockGuard<'static>>: Unpin);
assert_not_impl_any!(Put<'static, u8>: Unpin);
assert_not_impl_any!(Get<'static, u8>: Unpin);
assert_not_impl_any!(SimpleGet<'static, u8>: Unpin);
// A put of an `Rc` must not leave its thread.
assert_not_impl_any!(Put<'static, Rc<u8>>: Send);

assert_impl_all!(WaitError: std::error::Error, Send, Sync, Copy, PartialEq, Debug);
assert_impl_all!(UnitCancelled: Send, Sync, Copy, Debug);
assert_impl_all!(BorrowError: std::error::Error, Send, Sync, Copy, PartialEq, Debug);
assert_impl_all!(LimiterReleaseError: std::error::Error, Send, Sync, Copy, PartialEq, Debug);
assert_impl_all!(RLockReleaseError: std::error::Error, Send, Sync, Copy, PartialEq, Debug);
assert_impl_all!(BarrierWaitError: std::error::Error, Send, Sync, Copy, PartialEq, Debug);
assert_impl_all!(BrokenBarrierError: std::error::Error, Send, Sync, Copy, PartialEq, Debug);
assert_impl_all!(TooManyDowns: std::error::Error, Send, Sync, Copy, PartialEq, Debug);
assert_impl_all!(TaskDoneError: std::error::Error, Send, Sync, Copy, PartialEq, Debug);

// A thread's waiter wakes the thread that made it (issue 17, item 9): it
// must not reach another thread, by move or by reference, where its wait
// would park a thread that its wakers never unpark.
assert_not_impl_any!(polysync::lowlevel::ThreadWaiter: Send, Sync);
assert_impl_all!(polysync::lowlevel::ThreadWaiter: Debug, Default);

// Errors.
assert_impl_all!(TooManyReleases: std::error::Error, Send, Sync, Copy, PartialEq, Debug);
assert_impl_all!(SignalError: std::error::Error, Send, Sync, Copy, PartialEq, Debug);

// Sizes.
// 24: the holder's 64-bit identity sits beside the word (issue 8).
const_assert!(size_of::<Lock>() <= 24);
const_assert!(size_of::<Mutex<()>>() <= 24);
const_assert!(size_of::<Event>() <= 16);
// 24: the bounded-fairness word (mode, woken front, debt) sits beside the
// queue word, whose 32 user bits the permits and CLOSED fill (issue 18).
const_assert!(size_of::<Semaphore>() <= 24);
const_assert!(size_of::<Signal>() <= 16);
const_assert!(size_of::<polysync::lock::Acquire<'static>>() <= 64);
const_assert!(size_of::<polysync::semaphore::Acquire<'static, Semaphore>>() <= 64);
const_assert!(size_of::<polysync::event::Wait<'static>>() <= 64);
const_assert!(size_of::<polysync::mutex::LockFuture<'static, ()>>() <= 64);
const_assert!(size_of::<SignalWait<'static>>() <= 64);
// Guards are one reference (a permit: and a count).
const_assert!(size_of::<LockGuard<'static>>() == size_of::<usize>());
const_assert!(size_of::<MutexGuard<'static, u8>>() == size_of::<usize>());
// A permit is a reference and its count of permits.
const_assert!(size_of::<Permit<'static, Semaphore>>() == 2 * size_of::<usize>());

/// The primitives can be `static`s: their constructors are `const`.
static STATIC_LOCK: Lock = Lock::new();
static STATIC_MUTEX: Mutex<u8> = Mutex::new(0);
static STATIC_EVENT: Event = Event::new();
static STATIC_SEMAPHORE: Semaphore = Semaphore::new(1);
static STATIC_BOUNDED: BoundedSemaphore = BoundedSemaphore::new(1, 1);
static STATIC_BINARY: BinarySemaphore = BinarySemaphore::new(true);
static STATIC_SIGNAL: Signal = Signal::new();

#[test]
fn print_sizes() {
    macro_rules! show {
        ($($t:ty),* $(,)?) => {$(
            println!("{:>56}: {:>3} bytes", stringify!($t), size_of::<$t>());
        )*};
    }
    show!(
        Lock,
        Mutex<()>,
        Mutex<u64>,
        Event,
        Semaphore,
        BoundedSemaphore,
        BinarySemaphore,
        Signal,
        LockGuard<'static>,
        MutexGuard<'static, ()>,
        Permit<'static, Semaphore>,
        polysync::lock::Acquire<'static>,
        polysync::semaphore::Acquire<'static, Semaphore>,
        polysync::event::Wait<'static>,
        polysync::mutex::LockFuture<'static, ()>,
        SignalWait<'static>,
    );
}

#[test]
fn statics_work_and_debug_shows_state() {
    let guard = STATIC_LOCK.try_acquire().expect("free");
    let shown = format!("{STATIC_LOCK:?}");
    assert!(shown.contains("locked: true"), "{shown}");
    assert!(shown.contains("waiting: 0"), "{shown}");
    drop(guard);
    assert!(format!("{STATIC_LOCK:?}").contains("locked: false"));

    *STATIC_MUTEX.lock_blocking() += 1;
    assert!(format!("{STATIC_MUTEX:?}").contains('1'));

    assert!(!STATIC_EVENT.is_set());
    assert!(format!("{STATIC_EVENT:?}").contains("set: false"));
    assert!(format!("{:?}", STATIC_SEMAPHORE).contains("value: 1"));
    assert_eq!(STATIC_BOUNDED.max_value(), 1);
    assert_eq!(STATIC_BINARY.value(), 1);
    assert!(format!("{STATIC_SIGNAL:?}").contains("cancelled: false"));
}

// Channels (issue 12): both halves are Clone + Send + Sync for `T: Send`
// (a channel of `Rc`s is neither), the futures are Send and !Unpin, the
// errors are `Error + Send + Sync + Copy`, and each half is one pointer.
mod channel_checks {
    use super::*;
    use polysync::channel::{
        Receiver, RecvError, RecvFuture, SendError, SendFuture, Sender, TryRecvError, TrySendError,
        WeakSender, oneshot,
    };
    assert_impl_all!(Sender<u8>: Send, Sync, Clone, Debug, Unpin);
    assert_impl_all!(Receiver<u8>: Send, Sync, Clone, Debug, Unpin);
    assert_impl_all!(WeakSender<u8>: Send, Sync, Clone, Debug);
    assert_impl_all!(Sender<Cell<u8>>: Send, Sync);
    assert_not_impl_any!(Sender<Rc<u8>>: Send, Sync);
    assert_not_impl_any!(Receiver<Rc<u8>>: Send, Sync);
    assert_impl_all!(SendFuture<'static, u8>: Send, Debug);
    assert_impl_all!(RecvFuture<'static, u8>: Send, Debug);
    assert_not_impl_any!(SendFuture<'static, u8>: Unpin);
    assert_not_impl_any!(RecvFuture<'static, u8>: Unpin);
    assert_not_impl_any!(SendFuture<'static, Rc<u8>>: Send);
    assert_impl_all!(oneshot::Sender<u8>: Send, Sync, Debug);
    assert_impl_all!(oneshot::Receiver<u8>: Send, Sync, Debug);
    assert_not_impl_any!(oneshot::Sender<u8>: Clone);
    assert_not_impl_any!(oneshot::Receiver<u8>: Clone);
    assert_not_impl_any!(oneshot::Sender<Rc<u8>>: Send, Sync);
    assert_impl_all!(oneshot::RecvFuture<'static, u8>: Send, Debug);
    assert_not_impl_any!(oneshot::RecvFuture<'static, u8>: Unpin);
    assert_impl_all!(SendError<u8>: std::error::Error, Send, Sync, Copy, PartialEq, Debug);
    assert_impl_all!(RecvError: std::error::Error, Send, Sync, Copy, PartialEq, Debug);
    assert_impl_all!(TrySendError<u8>: std::error::Error, Send, Sync, Copy, PartialEq, Debug);
    assert_impl_all!(TryRecvError: std::error::Error, Send, Sync, Copy, PartialEq, Debug);
    const_assert!(size_of::<Sender<u8>>() == size_of::<usize>());
    const_assert!(size_of::<Receiver<u8>>() == size_of::<usize>());
    const_assert!(size_of::<oneshot::Sender<u8>>() == size_of::<usize>());
    const_assert!(
        size_of::<SendFuture<'static, u8>>() == size_of::<polysync::queue::Put<'static, u8>>()
    );
    const_assert!(
        size_of::<RecvFuture<'static, u8>>() == size_of::<polysync::queue::Get<'static, u8>>()
    );

    #[cfg(feature = "stream")]
    mod stream {
        use super::*;
        use polysync::channel::{RecvStream, SendSink};
        assert_impl_all!(RecvStream<u8>: Send, Unpin, Debug);
        assert_impl_all!(SendSink<u8>: Send, Unpin, Debug);
        assert_not_impl_any!(RecvStream<Rc<u8>>: Send);
        // Sync where sound, as tokio's (issue 20 item 6).
        assert_impl_all!(RecvStream<u8>: Sync);
        assert_impl_all!(RecvStream<Cell<u8>>: Send, Sync);
        assert_impl_all!(SendSink<u8>: Sync);
        assert_not_impl_any!(RecvStream<Rc<u8>>: Sync);
        assert_not_impl_any!(SendSink<Rc<u8>>: Send, Sync);
    }
}

// Issue 20 items 5 and 6: every future is Sync where it is sound, as
// tokio's are: its item is reached only by its owner (through `Pin<&mut>`)
// or, while it waits, under its queue's lock, never through `&self`; so it
// is `Sync` whenever the item can move between threads (`T: Send`, even if
// `T` is not `Sync`), and neither `Send` nor `Sync` when it cannot (`Rc`).
// The new futures and the oneshot receiver (itself a future) likewise.
mod sync_futures {
    use super::*;
    use polysync::channel::{
        ClosedFuture, RecvFuture, RecvManyFuture, SendFuture, SendTimeoutFuture, oneshot,
    };
    use std::future::Ready;
    assert_impl_all!(Put<'static, u8>: Send, Sync);
    assert_impl_all!(Get<'static, u8>: Send, Sync);
    assert_impl_all!(Put<'static, Cell<u8>>: Send, Sync);
    assert_impl_all!(Get<'static, Cell<u8>>: Send, Sync);
    assert_not_impl_any!(Put<'static, Rc<u8>>: Send, Sync);
    assert_not_impl_any!(Get<'static, Rc<u8>>: Send, Sync);
    assert_impl_all!(SendFuture<'static, u8>: Send, Sync);
    assert_impl_all!(RecvFuture<'static, u8>: Send, Sync);
    assert_impl_all!(SendFuture<'static, Cell<u8>>: Send, Sync);
    assert_impl_all!(RecvFuture<'static, Cell<u8>>: Send, Sync);
    assert_not_impl_any!(SendFuture<'static, Rc<u8>>: Send, Sync);
    assert_not_impl_any!(RecvFuture<'static, Rc<u8>>: Send, Sync);
    assert_impl_all!(oneshot::RecvFuture<'static, u8>: Send, Sync);
    assert_impl_all!(oneshot::RecvFuture<'static, Cell<u8>>: Send, Sync);
    assert_not_impl_any!(oneshot::RecvFuture<'static, Rc<u8>>: Send, Sync);
    // The oneshot receiver is a future, `Unpin` as tokio's (so
    // `(&mut rx).await` works).
    assert_impl_all!(oneshot::Receiver<u8>: Future<Output = Result<u8, polysync::channel::RecvError>>, Send, Sync, Unpin);
    assert_impl_all!(oneshot::Receiver<Cell<u8>>: Send, Sync);
    assert_not_impl_any!(oneshot::Receiver<Rc<u8>>: Send, Sync);
    assert_impl_all!(ClosedFuture<'static>: Future<Output = ()>, Send, Sync, Debug);
    assert_not_impl_any!(ClosedFuture<'static>: Unpin);
    assert_impl_all!(SendTimeoutFuture<'static, u8, Ready<()>>: Send, Sync, Debug);
    assert_impl_all!(SendTimeoutFuture<'static, Cell<u8>, Ready<()>>: Send, Sync);
    assert_not_impl_any!(SendTimeoutFuture<'static, Rc<u8>, Ready<()>>: Send, Sync);
    assert_not_impl_any!(SendTimeoutFuture<'static, u8, Ready<()>>: Unpin);
    assert_impl_all!(RecvManyFuture<'static, 'static, u8>: Future<Output = usize>, Send, Sync, Debug);
    assert_not_impl_any!(RecvManyFuture<'static, 'static, u8>: Unpin);
    assert_not_impl_any!(RecvManyFuture<'static, 'static, Rc<u8>>: Send, Sync);
}

// RwLock (issue 12): Send/Sync exactly as std's RwLock; guards Send where sound; futures Send, !Unpin.
mod rwlock_checks {
    use super::*;
    use polysync::rwlock::{
        RawRead, RawReadGuard, RawWrite, RawWriteGuard, Read, ReadOwned, Write, WriteOwned,
    };
    use polysync::{
        MappedRwLockWriteGuard, OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RawRwLock, RwLock,
        RwLockReadGuard, RwLockWriteGuard,
    };
    assert_impl_all!(RawRwLock: Send, Sync, Debug, Default, Unpin);
    assert_impl_all!(RwLock<u8>: Send, Sync, Debug, Default, From<u8>);
    assert_impl_all!(RwLock<Cell<u8>>: Send);
    assert_not_impl_any!(RwLock<Cell<u8>>: Sync);
    assert_not_impl_any!(RwLock<Rc<u8>>: Send, Sync);
    assert_impl_all!(RawReadGuard<'static>: Send, Sync, Debug);
    assert_impl_all!(RawWriteGuard<'static>: Send, Sync, Debug);
    assert_impl_all!(RwLockReadGuard<'static, u8>: Send, Sync, Debug);
    assert_not_impl_any!(RwLockReadGuard<'static, Cell<u8>>: Send, Sync);
    assert_impl_all!(RwLockWriteGuard<'static, u8>: Send, Sync, Debug);
    assert_not_impl_any!(RwLockWriteGuard<'static, Cell<u8>>: Send, Sync);
    assert_impl_all!(MappedRwLockWriteGuard<'static, Cell<u8>>: Send, Debug);
    assert_not_impl_any!(MappedRwLockWriteGuard<'static, Cell<u8>>: Sync);
    assert_not_impl_any!(MappedRwLockWriteGuard<'static, Rc<u8>>: Send, Sync);
    assert_impl_all!(OwnedRwLockReadGuard<u8>: Send, Sync, Debug);
    assert_impl_all!(OwnedRwLockWriteGuard<u8>: Send, Sync, Debug);
    assert_not_impl_any!(OwnedRwLockWriteGuard<Cell<u8>>: Send, Sync);
    assert_not_impl_any!(RwLockReadGuard<'static, u8>: Clone, Copy);
    assert_not_impl_any!(RwLockWriteGuard<'static, u8>: Clone, Copy);
    assert_impl_all!(RawRead<'static>: Send, Sync, Debug);
    assert_impl_all!(RawWrite<'static>: Send, Sync, Debug);
    assert_impl_all!(Read<'static, u8>: Send, Debug);
    assert_impl_all!(Write<'static, u8>: Send, Debug);
    assert_impl_all!(ReadOwned<u8>: Send, Debug);
    assert_impl_all!(WriteOwned<u8>: Send, Debug);
    assert_not_impl_any!(Read<'static, Rc<u8>>: Send);
    assert_not_impl_any!(RawRead<'static>: Unpin);
    assert_not_impl_any!(RawWrite<'static>: Unpin);
    assert_not_impl_any!(Read<'static, u8>: Unpin);
    assert_not_impl_any!(Write<'static, u8>: Unpin);
    assert_not_impl_any!(ReadOwned<u8>: Unpin);
    assert_not_impl_any!(WriteOwned<u8>: Unpin);
    const_assert!(size_of::<RawRwLock>() <= 24);
    const_assert!(size_of::<RwLock<()>>() <= 24);
    const_assert!(size_of::<RawRead<'static>>() <= 64);
    const_assert!(size_of::<Read<'static, ()>>() <= 64);
    const_assert!(size_of::<RwLockWriteGuard<'static, u8>>() == size_of::<usize>());
    static STATIC_RWLOCK: RwLock<u8> = RwLock::new(0);
    static STATIC_RAW_RWLOCK: RawRwLock = RawRwLock::new();

    #[test]
    fn rwlock_statics_work() {
        *STATIC_RWLOCK.write_blocking() += 1;
        assert_eq!(*STATIC_RWLOCK.read_blocking(), 1);
        assert!(STATIC_RAW_RWLOCK.try_write().is_some());
    }
}

// Owned and mapped guards and permits (issue 12): 'static, Send where sound.
mod owned {
    use super::*;
    use polysync::limiter::OwnedLimiterAcquire;
    use polysync::lock::OwnedAcquire as OwnedLockAcquire;
    use polysync::mutex::OwnedLockFuture;
    use polysync::rlock::OwnedRLockAcquire;
    use polysync::rmutex::OwnedRMutexLockFuture;
    use polysync::semaphore::{AcquireMany, OwnedAcquire, OwnedAcquireMany};
    use polysync::{
        AcquireError, MappedMutexGuard, OwnedLimiterToken, OwnedLockGuard, OwnedMappedMutexGuard,
        OwnedMutexGuard, OwnedPermit, OwnedRLockGuard, OwnedRMutexGuard,
    };

    fn is_static<T: 'static>() {}
    #[test]
    fn owned_types_are_static() {
        is_static::<OwnedLockGuard>();
        is_static::<OwnedMutexGuard<u8>>();
        is_static::<OwnedMappedMutexGuard<(u8, u8), u8>>();
        is_static::<OwnedRLockGuard>();
        is_static::<OwnedRMutexGuard<u8>>();
        is_static::<OwnedPermit<Semaphore>>();
        is_static::<OwnedLimiterToken<CapacityLimiter>>();
        is_static::<OwnedLockAcquire>();
        is_static::<OwnedLockFuture<u8>>();
        is_static::<OwnedRLockAcquire>();
        is_static::<OwnedRMutexLockFuture<u8>>();
        is_static::<OwnedAcquire<Semaphore>>();
        is_static::<OwnedAcquireMany<BoundedSemaphore>>();
        is_static::<OwnedLimiterAcquire<RCapacityLimiter>>();
    }

    // Guards: Send + Sync like their borrowed forms.
    assert_impl_all!(OwnedLockGuard: Send, Sync, Debug);
    assert_impl_all!(OwnedMutexGuard<u8>: Send, Sync, Debug);
    assert_impl_all!(OwnedMutexGuard<Cell<u8>>: Send);
    assert_not_impl_any!(OwnedMutexGuard<Cell<u8>>: Sync);
    assert_not_impl_any!(OwnedMutexGuard<Rc<u8>>: Send, Sync);
    assert_impl_all!(MappedMutexGuard<'static, u8>: Send, Sync, Debug);
    assert_impl_all!(MappedMutexGuard<'static, Cell<u8>>: Send);
    assert_not_impl_any!(MappedMutexGuard<'static, Cell<u8>>: Sync);
    assert_not_impl_any!(MappedMutexGuard<'static, Rc<u8>>: Send, Sync);
    assert_impl_all!(OwnedMappedMutexGuard<Vec<u8>, u8>: Send, Sync, Debug);
    assert_not_impl_any!(OwnedMappedMutexGuard<Rc<u8>, u8>: Send, Sync);
    assert_not_impl_any!(OwnedMappedMutexGuard<(u8, Cell<u8>), Cell<u8>>: Sync);
    assert_impl_all!(OwnedRLockGuard: Send, Sync, Debug);
    // The owner may keep other guards of the value: Send only if T: Sync.
    assert_impl_all!(OwnedRMutexGuard<u8>: Send, Sync, Debug);
    assert_not_impl_any!(OwnedRMutexGuard<Cell<u8>>: Send, Sync);
    assert_not_impl_any!(RMutexGuard<'static, Cell<u8>>: Send, Sync);
    assert_impl_all!(OwnedPermit<Semaphore>: Send, Sync, Debug);
    assert_impl_all!(OwnedPermit<BoundedSemaphore>: Send, Sync);
    assert_impl_all!(OwnedPermit<BinarySemaphore>: Send, Sync);
    assert_impl_all!(OwnedLimiterToken<CapacityLimiter>: Send, Sync, Debug);
    assert_impl_all!(OwnedLimiterToken<RCapacityLimiter>: Send, Sync);
    // Not Clone/Copy (a second release would break exclusion).
    assert_not_impl_any!(OwnedLockGuard: Clone, Copy);
    assert_not_impl_any!(OwnedMutexGuard<u8>: Clone, Copy);
    assert_not_impl_any!(OwnedPermit<Semaphore>: Clone, Copy);
    assert_not_impl_any!(OwnedRLockGuard: Clone, Copy);
    assert_not_impl_any!(OwnedLimiterToken<CapacityLimiter>: Clone, Copy);

    // Futures: Send (spawnable) and !Unpin.
    assert_impl_all!(OwnedLockAcquire: Send, Sync, Debug);
    assert_impl_all!(OwnedLockFuture<u8>: Send, Debug);
    assert_not_impl_any!(OwnedLockFuture<Rc<u8>>: Send);
    assert_impl_all!(OwnedRLockAcquire: Send, Debug);
    assert_impl_all!(OwnedRMutexLockFuture<u8>: Send, Debug);
    assert_impl_all!(OwnedAcquire<Semaphore>: Send, Debug);
    assert_impl_all!(OwnedAcquireMany<Semaphore>: Send, Debug);
    assert_impl_all!(AcquireMany<'static, Semaphore>: Send, Debug);
    assert_impl_all!(OwnedLimiterAcquire<CapacityLimiter>: Send, Debug);
    assert_not_impl_any!(OwnedLockAcquire: Unpin);
    assert_not_impl_any!(OwnedLockFuture<u8>: Unpin);
    assert_not_impl_any!(OwnedRLockAcquire: Unpin);
    assert_not_impl_any!(OwnedRMutexLockFuture<u8>: Unpin);
    assert_not_impl_any!(OwnedAcquire<Semaphore>: Unpin);
    assert_not_impl_any!(OwnedAcquireMany<Semaphore>: Unpin);
    assert_not_impl_any!(AcquireMany<'static, Semaphore>: Unpin);
    assert_not_impl_any!(OwnedLimiterAcquire<CapacityLimiter>: Unpin);

    assert_impl_all!(AcquireError: std::error::Error, Send, Sync, Copy, PartialEq, Debug);
    assert_impl_all!(TryAcquireError: std::error::Error, Send, Sync, Copy, PartialEq, Debug);
    assert_impl_all!(TryAcquireError: From<AcquireError>);

    // Sizes: an owned future is the borrowed one plus an `Arc`.
    const_assert!(size_of::<OwnedLockGuard>() == size_of::<usize>());
    const_assert!(size_of::<OwnedMutexGuard<u8>>() == size_of::<usize>());
    const_assert!(size_of::<OwnedPermit<Semaphore>>() == 2 * size_of::<usize>());
    const_assert!(size_of::<OwnedLockAcquire>() <= 80);
    const_assert!(size_of::<OwnedAcquire<Semaphore>>() <= 80);
}

// Errors by form: the untimed forms (async, blocking) wait as long as it
// takes, so their only error is "closed" ("disconnected"): `PutError`,
// `GetError`, `SendError`, `RecvError`. The forms that may give up
// (non-blocking, timed, explicit waiter) return the `Try*` errors, which add
// `Full`/`Empty` and `Cancelled`. Each signature is pinned as a function
// pointer (a change of an error type is a compile error here), each
// future's output with `assert_type_eq_all!`.
// Signatures spelled out in full read best here.
#[allow(clippy::type_complexity)]
mod error_forms {
    use super::*;
    use polysync::channel::{
        self, RecvError, RecvFuture, SendError, SendFuture, TryRecvError, TrySendError, oneshot,
    };
    use polysync::lowlevel::ThreadWaiter;
    use polysync::queue::{GetError, PutError, TryGetError, TryPutError};
    use static_assertions::assert_type_eq_all;
    use std::future::Future;
    use std::hash::Hash;
    use std::time::{Duration, Instant};

    type Q = Queue<u8>;
    type W = ThreadWaiter;

    // The error types: `Error`, comparable, hashable, `Copy` for `Copy`
    // items; `Debug` without `T: Debug` (the item is left out); the untimed
    // error converts into the try error (`?`).
    struct NotDebug;
    assert_impl_all!(PutError<u8>: std::error::Error, Send, Sync, Copy, Eq, Hash, Debug);
    assert_impl_all!(TryPutError<u8>: std::error::Error, Send, Sync, Copy, Eq, Hash, Debug);
    assert_impl_all!(GetError: std::error::Error, Send, Sync, Copy, Eq, Hash, Debug);
    assert_impl_all!(TryGetError: std::error::Error, Send, Sync, Copy, Eq, Hash, Debug);
    assert_impl_all!(SendError<u8>: std::error::Error, Copy, Eq, Hash);
    assert_impl_all!(TrySendError<u8>: std::error::Error, Copy, Eq, Hash);
    assert_impl_all!(RecvError: Eq, Hash);
    assert_impl_all!(TryRecvError: Eq, Hash);
    assert_impl_all!(PutError<NotDebug>: Debug, std::error::Error);
    assert_impl_all!(TryPutError<NotDebug>: Debug, std::error::Error);
    assert_impl_all!(SendError<NotDebug>: Debug, std::error::Error);
    assert_impl_all!(TrySendError<NotDebug>: Debug, std::error::Error);
    assert_impl_all!(TryPutError<u8>: From<PutError<u8>>);
    assert_impl_all!(TryGetError: From<GetError>);
    assert_impl_all!(TrySendError<u8>: From<SendError<u8>>);
    assert_impl_all!(TryRecvError: From<RecvError>);

    // Queue puts.
    const _: fn(&Q, u8) -> Result<(), PutError<u8>> = Q::put_blocking;
    const _: fn(&Q, u8) -> Result<(), TryPutError<u8>> = Q::try_put;
    const _: fn(&Q, u8, Duration) -> Result<(), TryPutError<u8>> = Q::try_put_for;
    const _: fn(&Q, u8, Instant) -> Result<(), TryPutError<u8>> = Q::try_put_until;
    const _: fn(&Q, u8, &W, Option<Instant>) -> Result<(), TryPutError<u8>> = Q::put_with::<W>;
    assert_type_eq_all!(<Put<'static, u8> as Future>::Output, Result<(), PutError<u8>>);
    // Queue gets.
    const _: fn(&Q) -> Result<u8, GetError> = Q::get_blocking;
    const _: fn(&Q) -> Result<u8, TryGetError> = Q::try_get;
    const _: fn(&Q, Duration) -> Result<u8, TryGetError> = Q::try_get_for;
    const _: fn(&Q, Instant) -> Result<u8, TryGetError> = Q::try_get_until;
    const _: fn(&Q, &W, Option<Instant>) -> Result<u8, TryGetError> = Q::get_with::<W>;
    assert_type_eq_all!(<Get<'static, u8> as Future>::Output, Result<u8, GetError>);
    // The other orders share the generic queue's signatures.
    const _: fn(&LifoQueue<u8>) -> Result<u8, GetError> = LifoQueue::<u8>::get_blocking;
    const _: fn(&PriorityQueue<u8>, u8) -> Result<(), PutError<u8>> =
        PriorityQueue::<u8>::put_blocking;
    assert_type_eq_all!(
        <Get<'static, u8, polysync::queue::Lifo<u8>> as Future>::Output,
        Result<u8, GetError>
    );

    // Channel sends.
    type Tx = channel::Sender<u8>;
    type Rx = channel::Receiver<u8>;
    const _: fn(&Tx, u8) -> Result<(), SendError<u8>> = Tx::send_blocking;
    const _: fn(&Tx, u8) -> Result<(), TrySendError<u8>> = Tx::try_send;
    const _: fn(&Tx, u8, Duration) -> Result<(), TrySendError<u8>> = Tx::try_send_for;
    const _: fn(&Tx, u8, Instant) -> Result<(), TrySendError<u8>> = Tx::try_send_until;
    const _: fn(&Tx, u8, &W, Option<Instant>) -> Result<(), TrySendError<u8>> = Tx::send_with::<W>;
    assert_type_eq_all!(<SendFuture<'static, u8> as Future>::Output, Result<(), SendError<u8>>);
    // Channel receives.
    const _: fn(&Rx) -> Result<u8, RecvError> = Rx::recv_blocking;
    const _: fn(&Rx) -> Result<u8, TryRecvError> = Rx::try_recv;
    const _: fn(&Rx, Duration) -> Result<u8, TryRecvError> = Rx::try_recv_for;
    const _: fn(&Rx, Instant) -> Result<u8, TryRecvError> = Rx::try_recv_until;
    const _: fn(&Rx, &W, Option<Instant>) -> Result<u8, TryRecvError> = Rx::recv_with::<W>;
    assert_type_eq_all!(<RecvFuture<'static, u8> as Future>::Output, Result<u8, RecvError>);

    // Oneshot: `send` never waits and gives the value back; the receives
    // split as a channel's.
    type OTx = oneshot::Sender<u8>;
    type ORx = oneshot::Receiver<u8>;
    const _: fn(OTx, u8) -> Result<(), u8> = OTx::send;
    const _: fn(&ORx) -> Result<u8, RecvError> = ORx::recv_blocking;
    const _: fn(&ORx) -> Result<u8, TryRecvError> = ORx::try_recv;
    const _: fn(&ORx, Duration) -> Result<u8, TryRecvError> = ORx::try_recv_for;
    const _: fn(&ORx, Instant) -> Result<u8, TryRecvError> = ORx::try_recv_until;
    const _: fn(&ORx, &W, Option<Instant>) -> Result<u8, TryRecvError> = ORx::recv_with::<W>;
    assert_type_eq_all!(
        <oneshot::RecvFuture<'static, u8> as Future>::Output,
        Result<u8, RecvError>
    );

    // The sink's error is the awaited send's.
    #[cfg(feature = "stream")]
    assert_type_eq_all!(
        <channel::SendSink<u8> as futures_sink::Sink<u8>>::Error,
        SendError<u8>
    );
}

/// The semaphores' signatures by form: a closed semaphore is an error of
/// each form's own type, never a panic (a failure is a compile error).
/// `AcquireError` from the untimed forms, `TryAcquireError` from the
/// explicit-waiter and many-permit non-blocking/timed forms, `Option` from
/// the one-permit non-blocking and timed forms.
#[allow(dead_code, clippy::type_complexity)]
mod semaphore_signatures {
    use polysync::lowlevel::ThreadWaiter;
    use polysync::semaphore::{Acquire, AcquireMany, OwnedAcquire, OwnedAcquireMany};
    use polysync::{
        AcquireError, BinarySemaphore, BoundedSemaphore, OwnedPermit, Permit, Semaphore,
        TryAcquireError,
    };
    use std::future::Future;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    fn output<F: Future<Output = O>, O>(_: &F) {}

    macro_rules! pin_signatures {
        ($name:ident, $ty:ty) => {
            fn $name(sem: &$ty, arc: &Arc<$ty>, w: &ThreadWaiter) {
                // The futures' outputs.
                output::<Acquire<'_, $ty>, Result<Permit<'_, $ty>, AcquireError>>(&sem.acquire());
                output::<AcquireMany<'_, $ty>, Result<Permit<'_, $ty>, AcquireError>>(
                    &sem.acquire_many(1),
                );
                output::<OwnedAcquire<$ty>, Result<OwnedPermit<$ty>, AcquireError>>(
                    &arc.acquire_owned(),
                );
                output::<OwnedAcquireMany<$ty>, Result<OwnedPermit<$ty>, AcquireError>>(
                    &arc.acquire_many_owned(1),
                );
                // The blocking forms.
                let _: fn(&$ty) -> Result<Permit<'_, $ty>, AcquireError> = <$ty>::acquire_blocking;
                let _: fn(&Arc<$ty>) -> Result<OwnedPermit<$ty>, AcquireError> =
                    <$ty>::acquire_owned_blocking;
                let _: fn(&$ty, usize) -> Result<Permit<'_, $ty>, AcquireError> =
                    <$ty>::acquire_many_blocking;
                // The explicit-waiter forms.
                let _: Result<Permit<'_, $ty>, TryAcquireError> = sem.acquire_with(w, None);
                let _: Result<OwnedPermit<$ty>, TryAcquireError> = arc.acquire_owned_with(w, None);
                let _: Result<Permit<'_, $ty>, TryAcquireError> = sem.acquire_many_with(1, w, None);
                // Non-blocking and timed: one permit is an `Option`, many a
                // `TryAcquireError`.
                let _: fn(&$ty) -> Option<Permit<'_, $ty>> = <$ty>::try_acquire;
                let _: fn(&$ty, Duration) -> Option<Permit<'_, $ty>> = <$ty>::try_acquire_for;
                let _: fn(&$ty, Instant) -> Option<Permit<'_, $ty>> = <$ty>::try_acquire_until;
                let _: fn(&$ty, usize) -> Result<Permit<'_, $ty>, TryAcquireError> =
                    <$ty>::try_acquire_many;
                let _: fn(&$ty, usize, Duration) -> Result<Permit<'_, $ty>, TryAcquireError> =
                    <$ty>::try_acquire_many_for;
            }
        };
    }
    pin_signatures!(semaphore, Semaphore);
    pin_signatures!(bounded, BoundedSemaphore);
    pin_signatures!(binary, BinarySemaphore);
}
