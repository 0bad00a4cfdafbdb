//! Tests: graphviz.
