//! Tests: stats.
