//! Tests: process.
