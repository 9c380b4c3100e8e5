//! Checking panics: a test that expects a call to panic with a message.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The text of a panic's payload (empty if it is neither `&str` nor
/// `String`).
pub fn message(payload: Box<dyn Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Runs `f`, which must panic with a message containing every one of `words`.
pub fn expect_panic<R: std::fmt::Debug>(f: impl FnOnce() -> R, words: &[&str]) {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(out) => panic!("no panic: the re-acquisition returned {out:?} (a silent deadlock)"),
        Err(payload) => {
            let msg = message(payload);
            for word in words {
                assert!(msg.contains(word), "message {msg:?} lacks {word:?}");
            }
        }
    }
}
