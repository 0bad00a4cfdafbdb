//! `#[primitive]` and `pipeline!` under a real engine and store.

mod pipeline;
mod primitive;
