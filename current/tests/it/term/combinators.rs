//! Tests: combinators.
