//! Ordered cleanup (OCaml's `Current.Switch`): hooks that run last-in first-out, once.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use current::switch::Switch;
//!
//! let log = Arc::new(Mutex::new(Vec::new()));
//! let switch = Switch::new("build");
//! for name in ["mount", "container"] {
//!     let log = log.clone();
//!     switch.add_hook(move || log.lock().unwrap().push(name));
//! }
//! switch.turn_off();
//! switch.turn_off(); // once only
//! assert_eq!(*log.lock().unwrap(), ["container", "mount"]);
//! assert!(!switch.is_on());
//! ```

use std::fmt;
use std::sync::{Condvar, Mutex, MutexGuard};

type Hook = Box<dyn FnOnce() + Send>;

enum State {
    On(Vec<Hook>),
    /// Hooks are running; hooks added meanwhile wait here and run after them.
    TurningOff(Vec<Hook>),
    Off,
}

/// A set of cleanup hooks, run in reverse order of registration when the switch is turned
/// off (or dropped while on).
pub struct Switch {
    label: String,
    state: Mutex<State>,
    off: Condvar,
}

impl Switch {
    /// A switch that is on.
    pub fn new(label: impl Into<String>) -> Switch {
        Switch {
            label: label.into(),
            state: Mutex::new(State::On(Vec::new())),
            off: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the switch is on (not turning off, not off).
    pub fn is_on(&self) -> bool {
        matches!(*self.lock(), State::On(_))
    }

    /// Run `hook` when the switch is turned off. While it is turning off, the hook runs
    /// after the ones already pending; once it is off, at once.
    pub fn add_hook(&self, hook: impl FnOnce() + Send + 'static) {
        let mut state = self.lock();
        match &mut *state {
            State::On(hooks) | State::TurningOff(hooks) => hooks.push(Box::new(hook)),
            State::Off => {
                drop(state);
                run(&self.label, Box::new(hook));
            }
        }
    }

    /// Turn the switch off: run its hooks, last added first, then any added meanwhile.
    /// Only the first call runs them; a call made while they run waits until they are done.
    pub fn turn_off(&self) {
        let mut state = self.lock();
        let mut hooks = match std::mem::replace(&mut *state, State::TurningOff(Vec::new())) {
            State::On(hooks) => hooks,
            other @ State::TurningOff(_) => {
                *state = other;
                while matches!(*state, State::TurningOff(_)) {
                    state = self.off.wait(state).unwrap_or_else(|e| e.into_inner());
                }
                return;
            }
            State::Off => {
                *state = State::Off;
                return;
            }
        };
        loop {
            drop(state);
            while let Some(hook) = hooks.pop() {
                run(&self.label, hook);
            }
            state = self.lock();
            match &mut *state {
                State::TurningOff(late) if !late.is_empty() => hooks = std::mem::take(late),
                _ => break,
            }
        }
        *state = State::Off;
        drop(state);
        self.off.notify_all();
    }
}

fn run(label: &str, hook: Hook) {
    if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(hook)) {
        tracing::error!(
            "a cleanup hook of switch {label:?} panicked: {}",
            crate::incr::panic_message(panic.as_ref())
        );
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        if self.is_on() {
            tracing::warn!(
                "switch {:?} dropped while still on: turning it off",
                self.label
            );
            self.turn_off();
        }
    }
}

impl fmt::Debug for Switch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.lock() {
            State::On(_) => write!(f, "on({:?})", self.label),
            State::TurningOff(_) => f.write_str("turning-off"),
            State::Off => f.write_str("off"),
        }
    }
}
