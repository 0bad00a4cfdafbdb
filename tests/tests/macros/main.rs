//! Tests of the `#[primitive]` and `pipeline!` macros.
mod ui;
