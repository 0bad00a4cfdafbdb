//! The integration tests of `current`, one binary with a module per layer.

mod cache;
mod incr;
mod runtime;
mod store;
mod term;
