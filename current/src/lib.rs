//! `current`: self-updating pipelines.
//!
//! Layers, each using only those above it (see `DESIGN.md`):
//!
//! 1. [`incr`]: self-adjusting computation, the incremental core.
//! 2. [`term`]: pipelines as terms, their outputs and their diagrams.
//! 3. The runtime: [`clock`], [`Level`] and [`Config`], the [`Context`] an engine gives
//!    its steps, [`job`]s and [`pool`]s.
//!    - [`digest`]: blake3 digests of keys and values, over a canonical encoding.
//!    - [`store`]: the database (sled) of typed, versioned records.
//!    - [`cache`]: the records of build and publish steps and the stored log rules (the
//!      per-key state machine is to come).
//!
//! ```
//! use current::incr::Graph;
//!
//! let mut g = Graph::new();
//! let input = g.var(1);
//! let plus_one = g.map(&input.changeable(), |v| v + 1);
//! g.change(&input, 41)?;
//! g.propagate()?;
//! assert_eq!(*g.observe(&plus_one)?, 42);
//! # Ok::<(), current::incr::Error>(())
//! ```

#![warn(missing_docs)]

// `current` names itself, so that the macros' paths (`::current::...`) work inside it too.
extern crate self as current;

#[doc(inline)]
pub use current_macros::{pipeline, primitive};

pub mod incr;
pub mod term;

pub mod cache;
pub mod clock;
pub mod config;
pub mod context;
pub mod describe;
pub mod digest;
pub mod engine;
pub mod job;
pub mod level;
pub mod log_rules;
pub mod monitor;
pub mod pool;
pub mod process;
pub mod registry;
pub mod store;
mod subscribers;
pub mod switch;
pub mod var;

pub use config::Config;
pub use context::Context;
pub use inventory;
pub use level::Level;
pub use serde;

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
