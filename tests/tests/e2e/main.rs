//! End-to-end tests of `current`: whole pipelines, real external programs.

mod crash;
mod graphviz;
mod registry;
mod signals;
