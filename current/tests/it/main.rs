//! The integration tests of `current`, one binary with a module per layer.

mod cache;
mod describe;
mod incr;
mod long_running;
mod macros;
mod plugins;
mod runtime;
mod store;
mod support;
mod term;
mod web;
