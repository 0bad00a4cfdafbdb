//! Procedural macros for `current`.
//!
//! This crate will hold `#[primitive]` and `pipeline!`; until then it only reserves the name,
//! so that the workspace layout of `DESIGN.md` is in place and builds.
