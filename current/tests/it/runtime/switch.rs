//! Tests: switch. Hooks run last-in first-out, once; a hook added to a switch that is
//! off runs at once; dropping a switch that is on turns it off; a panicking hook does not
//! stop the others.

use std::sync::{Arc, Mutex};

use current::switch::Switch;

/// A shared record of what ran, in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, entry: impl Into<String>) {
        self.0.lock().unwrap().push(entry.into());
    }

    fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// A hook that records `name`.
    fn hook(&self, name: &str) -> impl FnOnce() + Send + 'static {
        let (log, name) = (self.clone(), name.to_string());
        move || log.push(name)
    }
}

#[test]
fn hooks_run_last_added_first_and_only_once() {
    let log = Log::default();
    let switch = Switch::new("build");
    assert!(switch.is_on());
    for name in ["a", "b", "c"] {
        switch.add_hook(log.hook(name));
    }
    assert!(
        log.entries().is_empty(),
        "no hook runs before the switch is turned off"
    );
    switch.turn_off();
    assert_eq!(log.entries(), ["c", "b", "a"]);
    assert!(!switch.is_on());
    switch.turn_off();
    assert_eq!(
        log.entries(),
        ["c", "b", "a"],
        "a second turn_off runs nothing"
    );
}

#[test]
fn a_switch_with_no_hooks_turns_off() {
    let switch = Switch::new("empty");
    switch.turn_off();
    assert!(!switch.is_on());
}

#[test]
fn a_hook_added_after_turn_off_runs_at_once() {
    let log = Log::default();
    let switch = Switch::new("build");
    switch.add_hook(log.hook("early"));
    switch.turn_off();
    assert_eq!(log.entries(), ["early"]);
    switch.add_hook(log.hook("late"));
    assert_eq!(
        log.entries(),
        ["early", "late"],
        "the late hook ran inside add_hook"
    );
    switch.turn_off();
    assert_eq!(log.entries(), ["early", "late"], "and only once");
}

#[test]
fn dropping_a_switch_that_is_on_turns_it_off() {
    let log = Log::default();
    let switch = Switch::new("build");
    switch.add_hook(log.hook("a"));
    switch.add_hook(log.hook("b"));
    drop(switch);
    assert_eq!(log.entries(), ["b", "a"]);
}

#[test]
fn dropping_a_switch_that_is_off_runs_nothing_again() {
    let log = Log::default();
    let switch = Switch::new("build");
    switch.add_hook(log.hook("a"));
    switch.turn_off();
    drop(switch);
    assert_eq!(log.entries(), ["a"]);
}

#[test]
fn a_panicking_hook_does_not_stop_the_others() {
    let log = Log::default();
    let switch = Switch::new("build");
    switch.add_hook(log.hook("first added"));
    switch.add_hook(|| panic!("hook exploded"));
    switch.add_hook(log.hook("last added"));
    switch.turn_off();
    assert_eq!(log.entries(), ["last added", "first added"]);
    assert!(!switch.is_on());
}

#[test]
fn a_panicking_hook_added_after_turn_off_does_not_reach_the_caller() {
    let switch = Switch::new("build");
    switch.turn_off();
    switch.add_hook(|| panic!("late hook exploded"));
    assert!(!switch.is_on());
}

#[test]
fn racing_turn_offs_run_each_hook_once() {
    // Each hook runs exactly once even when the switch is shared between threads that
    // race to turn it off.
    let log = Log::default();
    let switch = Arc::new(Switch::new("shared"));
    for i in 0..50 {
        switch.add_hook(log.hook(&i.to_string()));
    }
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let switch = switch.clone();
            std::thread::spawn(move || switch.turn_off())
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let expected: Vec<String> = (0..50).rev().map(|i| i.to_string()).collect();
    assert_eq!(log.entries(), expected);
}

#[test]
fn debug_shows_the_state() {
    let switch = Switch::new("my \"label\"");
    assert_eq!(format!("{switch:?}"), r#"on("my \"label\"")"#);
    switch.turn_off();
    assert_eq!(format!("{switch:?}"), "off");
}

/// OCaml's `add_hook_or_exec` on a switch that is turning off waits for the turn-off to
/// finish, so cleanup stays sequential: a hook added by another hook runs after the hooks
/// still pending, never before them.
#[test]
fn a_hook_added_while_turning_off_runs_after_the_pending_hooks() {
    let log = Log::default();
    let switch = Arc::new(Switch::new("build"));
    switch.add_hook(log.hook("first added"));
    {
        let (log, weak) = (log.clone(), Arc::downgrade(&switch));
        switch.add_hook(move || {
            log.push("second added");
            if let Some(switch) = weak.upgrade() {
                switch.add_hook(log.hook("added while turning off"));
            }
        });
    }
    switch.turn_off();
    assert_eq!(
        log.entries(),
        ["second added", "first added", "added while turning off"]
    );
}
