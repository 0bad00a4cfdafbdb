//! `current`: self-updating pipelines.
//!
//! Write each step as an async function marked [`#[primitive]`](primitive): it becomes a
//! cached, logged job whose results are kept in the state directory's database. Wire the
//! steps into a pipeline with [`pipeline!`] (or the combinators of [`term::Term`]), and
//! let an [`Engine`](engine::Engine) keep its output up to date: when an input changes,
//! only what the change touches runs again, and after a restart nothing finished runs
//! again.
//!
//! ```
//! use std::time::Duration;
//! use current::engine::{Engine, EngineOptions};
//! use current::job::Job;
//! use current::term::Term;
//! use current::var::Var;
//! use current::{pipeline, primitive};
//!
//! /// Count the words of a text (a stand-in for a build).
//! #[primitive(level = Harmless)]
//! async fn count_words(job: &Job, text: String) -> Result<usize, String> {
//!     job.log(format_args!("counting the words of {text:?}"));
//!     Ok(text.split_whitespace().count())
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     # let dir = std::env::temp_dir().join(format!("current-crate-doc-{}", std::process::id()));
//!     let rt = tokio::runtime::Runtime::new()?;
//!     let text = Var::new("text", Ok("hello world".to_string()));
//!     let input = text.clone();
//!     let engine = Engine::start(EngineOptions::new(&dir, rt.handle().clone()), move || {
//!         pipeline! {
//!             let words = count_words(&input.get());
//!             let+ n = words;
//!             format!("{n} words")
//!         }
//!     })?;
//!     let wait = Duration::from_secs(30);
//!     engine.wait_until(|s| s.result == Ok("2 words".to_string()), wait)?;
//!     text.set(Ok("a b c".to_string())); // only the count runs again
//!     engine.wait_until(|s| s.result == Ok("3 words".to_string()), wait)?;
//!     engine.shutdown("example over")?;
//!     # std::fs::remove_dir_all(&dir)?;
//!     Ok(())
//! }
//! ```
//!
//! Layers, each using only those above it (see `DESIGN.md`):
//!
//! 1. [`incr`]: self-adjusting computation, the incremental core.
//! 2. [`term`]: pipelines as terms, their outputs and their diagrams.
//! 3. The runtime: [`clock`], [`Level`] and [`Config`], the [`Context`] an engine gives
//!    its steps, [`job`]s, [`process`]es and [`pool`]s, settable [`var`]s and watched
//!    [`monitor`]s.
//!    - [`digest`]: blake3 digests of keys and values, over a canonical encoding.
//!    - [`store`]: the database (sled) of typed, versioned records.
//!    - [`cache`]: build and publish steps whose results are kept, and the stored log
//!      rules.
//!    - [`engine`]: the evaluation loop.
//! 4. The macros: [`primitive`] and [`pipeline!`], which expand to the public API above
//!    ([`registry`] lists the primitives of a binary, [`describe`] labels their boxes).

#![warn(missing_docs)]

// `current` names itself, so that the macros' paths (`::current::...`) work inside it too.
extern crate self as current;

#[doc = include_str!("docs/pipeline.md")]
#[doc(inline)]
pub use current_macros::pipeline;
#[doc = include_str!("docs/primitive.md")]
#[doc(inline)]
pub use current_macros::primitive;

pub mod incr;
pub mod term;

pub mod cache;
#[cfg(feature = "cli")]
pub mod cli;
pub mod clock;
pub mod config;
pub mod context;
pub mod describe;
pub mod digest;
pub mod engine;
pub mod job;
pub mod level;
pub mod log_rules;
pub mod long_running;
pub mod metrics;
pub mod monitor;
#[cfg(feature = "plugins")]
pub mod plugins;
pub mod pool;
pub mod process;
pub mod registry;
pub mod store;
mod subscribers;
pub mod switch;
pub mod var;
#[cfg(feature = "web")]
pub mod web;

pub use config::Config;
pub use context::Context;
pub use inventory;
pub use level::Level;
pub use serde;

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
