//! Runnable pipelines: see `examples/`.
