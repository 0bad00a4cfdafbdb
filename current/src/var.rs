//! Settable inputs (OCaml's `Current.Var`): a named value that the program sets from
//! outside the pipeline, shown in diagrams under its name.
//!
//! ```
//! use current::engine::{Engine, EngineOptions};
//! use current::var::Var;
//! use std::time::Duration;
//!
//! # let dir = std::env::temp_dir().join(format!("current-doc-var-{}", std::process::id()));
//! let rt = tokio::runtime::Runtime::new()?;
//! let branch = Var::new("branch", Ok("main".to_string()));
//! let engine = Engine::start(EngineOptions::new(&dir, rt.handle().clone()), {
//!     let branch = branch.clone();
//!     move || branch.get().map(|b| format!("building {b}"))
//! })?;
//! engine.wait_until(|s| s.result == Ok("building main".into()), Duration::from_secs(10))?;
//! branch.set(Ok("release".to_string()));
//! engine.wait_until(|s| s.result == Ok("building release".into()), Duration::from_secs(10))?;
//! engine.shutdown("done")?;
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::panic::Location;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::context::Context;
use crate::subscribers::Subscribers;
use crate::term::{Outcome, Term};

/// A named, settable input. Cloning shares it; it may be used by several engines.
pub struct Var<T>(Arc<Inner<T>>);

impl<T> Clone for Var<T> {
    fn clone(&self) -> Self {
        Var(self.0.clone())
    }
}

struct Inner<T> {
    name: String,
    state: Mutex<State<T>>,
}

struct State<T> {
    value: Outcome<T>,
    readers: Subscribers<T>,
}

impl<T: Clone + Send + 'static> Var<T> {
    /// A variable named `name` (its label in diagrams) holding `initial`.
    pub fn new(name: impl Into<String>, initial: Outcome<T>) -> Var<T> {
        Var(Arc::new(Inner {
            name: name.into(),
            state: Mutex::new(State {
                value: initial,
                readers: Subscribers::new(),
            }),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Every update of the state is a single assignment or list edit.
        self.0.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The variable's name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The current value.
    pub fn value(&self) -> Outcome<T> {
        self.lock().value.clone()
    }

    /// Set the value; every pipeline reading it is updated.
    pub fn set(&self, value: Outcome<T>) {
        let mut state = self.lock();
        state.readers.send(&(value.clone(), None));
        state.value = value;
    }

    /// Set the value to `f` of the current one.
    pub fn update(&self, f: impl FnOnce(Outcome<T>) -> Outcome<T>) {
        let next = f(self.value());
        self.set(next);
    }

    /// The variable as a term of a pipeline, drawn as a box labelled with its name.
    #[track_caller]
    pub fn get(&self) -> Term<T> {
        let location = Location::caller();
        let var = self.clone();
        Term::<()>::constant_at(location, None, Ok(()), false).primitive_at(
            location,
            self.0.name.clone(),
            move |g, ()| {
                let mut state = var.lock();
                let cell = g.var((state.value.clone(), None));
                if let Some(ctx) = Context::current() {
                    let id = state.readers.add(ctx, cell);
                    let var = var.clone();
                    g.on_release(move || var.lock().readers.remove(id));
                }
                cell.changeable()
            },
            None,
            None,
        )
    }
}
