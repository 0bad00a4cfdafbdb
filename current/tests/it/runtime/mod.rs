//! Tests of the runtime: jobs, processes, pools, log rules, the engine.

mod confirm;
mod engine;
mod job;
mod log_rules;
mod monitor;
mod pool;
mod process;
mod switch;
mod var;
