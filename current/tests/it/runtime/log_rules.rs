//! Tests: log_rules.
