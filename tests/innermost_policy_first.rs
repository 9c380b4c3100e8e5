//! "The innermost unit wins" with toy backends, the thread policy registered
//! **before** the green backend (see `innermost/mod.rs`).

mod innermost;

fn setup() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| innermost::register(true));
}

#[test]
fn a_green_unit_inside_a_task_is_the_green_unit() {
    setup();
    innermost::green_inside_a_task();
}

#[test]
fn a_task_inside_a_green_unit_is_the_task() {
    setup();
    innermost::task_inside_a_green_unit();
}

#[test]
fn a_green_unit_under_a_runtime_context_is_the_green_unit() {
    setup();
    innermost::green_under_context();
}
