//! End-to-end tests of `current`: whole pipelines, real external programs.

mod graphviz;
mod signals;
