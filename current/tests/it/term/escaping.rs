//! Tests: escaping.
