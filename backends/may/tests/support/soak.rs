//! The soak mode of the cancellation storms, shared by every storm (included
//! with `#[path]`).
//!
//! `POLYSYNC_SOAK=1` turns each storm into a long run: instead of its usual
//! CI length (about a second), a storm keeps going until it has done
//! [`SOAK_OPERATIONS`] operations (wait attempts, puts and gets, whatever the
//! storm counts), capped at [`SOAK_CAP`] of wall time; round-counted loops
//! take their soak count from [`iterations`]. Watchdogs stretch with
//! [`watchdog`]. Normal runs (the variable unset, empty or `0`) are exactly
//! as fast as before. Use a release build, one storm at a time:
//!
//! ```text
//! POLYSYNC_SOAK=1 cargo test --release --all-features --test queue cancellation_storm -- --nocapture
//! ```
//!
//! Not part of CI: run once per resolved issue and quote the figures each
//! storm prints.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What a storm aims for in soak mode.
pub const SOAK_OPERATIONS: u64 = 10_000_000;
/// The longest a storm runs in soak mode, whatever its count.
pub const SOAK_CAP: Duration = Duration::from_secs(30 * 60);

/// How long a storm may go on past its end to see a rare path once.
pub const GRACE: Duration = Duration::from_secs(10);

/// Whether `POLYSYNC_SOAK` asks for the long mode.
pub fn soak() -> bool {
    std::env::var("POLYSYNC_SOAK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// `normal` in a normal run, `soak` with `POLYSYNC_SOAK=1`: for loops that
/// count rounds rather than run for a time.
pub fn iterations(normal: usize, soak: usize) -> usize {
    if self::soak() { soak } else { normal }
}

/// A watchdog limit: `normal`, or stretched by [`SOAK_CAP`] in soak mode.
pub fn watchdog(normal: Duration) -> Duration {
    if soak() { normal + SOAK_CAP } else { normal }
}

/// How long a time-bounded storm runs, and its operation count: `normal`
/// wall time in a normal run; in soak mode until [`SOAK_OPERATIONS`]
/// operations were counted (or [`SOAK_CAP`] passed).
pub struct Budget {
    end: Instant,
    target: u64,
    ops: AtomicU64,
}

impl Budget {
    pub fn new(normal: Duration) -> Budget {
        let (len, target) = if soak() {
            (SOAK_CAP, SOAK_OPERATIONS)
        } else {
            (normal, u64::MAX)
        };
        Budget {
            end: Instant::now() + len,
            target,
            ops: AtomicU64::new(0),
        }
    }

    /// Whether the storm goes on.
    pub fn running(&self) -> bool {
        self.ops.load(Ordering::Relaxed) < self.target && Instant::now() < self.end
    }

    /// Like [`running`](Budget::running), but past the end goes on while
    /// `seen()` is false, for at most [`GRACE`] more: a storm that must
    /// prove a rare path ran loops until it saw it, bounded in time, rather
    /// than assert a count that a slow machine may miss.
    pub fn running_until(&self, seen: impl FnOnce() -> bool) -> bool {
        self.running() || (Instant::now() < self.end + GRACE && !seen())
    }

    /// Counts `n` operations.
    pub fn add(&self, n: u64) {
        self.ops.fetch_add(n, Ordering::Relaxed);
    }

    /// Operations counted so far.
    pub fn ops(&self) -> u64 {
        self.ops.load(Ordering::Relaxed)
    }

    /// When the storm ends at the latest.
    pub fn deadline(&self) -> Instant {
        self.end
    }
}
