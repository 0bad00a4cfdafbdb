//! End-to-end tests of `current`: see `tests/`.
