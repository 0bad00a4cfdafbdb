//! Inputs and outputs from the outside world (OCurrent's plugins), behind the `plugins`
//! feature: [`git`] (the head of a branch of a local repository, checkouts, tree hashes)
//! and [`fs`] (a file's contents as an input, saving a value to a file).
//!
//! Both watch the filesystem ([`watch`]) with the `notify` crate, and poll instead when
//! the system cannot watch.

pub mod fs;
pub mod git;
pub mod watch;
