//! Tests of the runtime: jobs, processes, pools, log rules, the engine.

mod log_rules;
mod pool;
mod process;
