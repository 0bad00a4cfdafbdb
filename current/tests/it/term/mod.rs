//! Tests of `current::term`: combinators, dynamic pipelines, statistics, text form and
//! diagrams.

mod combinators;
mod diagrams;
mod dynamic;
mod escaping;
mod stats;
mod text;
