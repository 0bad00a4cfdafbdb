//! End-to-end tests of `current`: whole pipelines, real external programs.

mod crash;
mod graphviz;
mod load;
mod long_running;
mod registry;
mod signals;
