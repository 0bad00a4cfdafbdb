//! Tests of `current::incr`.
