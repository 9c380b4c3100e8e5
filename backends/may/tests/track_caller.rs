//! `MayWaiter::current()` outside a coroutine panics at the caller's line
//! (`#[track_caller]`), not inside polysync-may.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

#[test]
fn may_waiter_current_outside_a_coroutine_names_the_callers_line() {
    static SEEN: Mutex<Option<(String, u32)>> = Mutex::new(None);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        if let Some(loc) = info.location() {
            *SEEN.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((loc.file().to_string(), loc.line()));
        }
    }));
    let mut line = 0;
    let out = catch_unwind(AssertUnwindSafe(|| {
        line = line!() + 1;
        drop(polysync_may::MayWaiter::current());
    }));
    std::panic::set_hook(previous);
    assert!(out.is_err(), "no panic outside a coroutine");
    let (file, at) = SEEN.lock().unwrap().take().expect("the hook saw the panic");
    assert!(
        file.ends_with("tests/track_caller.rs"),
        "the panic names {file}:{at}"
    );
    assert_eq!(at, line);
}
