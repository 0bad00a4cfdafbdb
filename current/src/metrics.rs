//! What an engine measures about itself: evaluation time, and the hits, misses and
//! builds of each cached operation. The web server's `/metrics` prints them for
//! Prometheus; tests and benches read them directly.
//!
//! ```
//! use current::metrics::Metrics;
//! use std::time::Duration;
//!
//! let metrics = Metrics::default();
//! metrics.evaluation().observe(Duration::from_millis(3));
//! metrics.evaluation().observe(Duration::from_millis(5));
//! assert_eq!(metrics.evaluation().count(), 2);
//! assert_eq!(metrics.evaluation().sum(), Duration::from_millis(8));
//! assert_eq!(metrics.evaluation().max(), Duration::from_millis(5));
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::Context;

/// A running count, total and maximum of durations (a Prometheus summary without
/// quantiles).
#[derive(Debug, Default)]
pub struct Timings {
    count: AtomicU64,
    sum_nanos: AtomicU64,
    max_nanos: AtomicU64,
}

impl Timings {
    /// Count one more duration.
    pub fn observe(&self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.max_nanos.fetch_max(nanos, Ordering::Relaxed);
    }

    /// How many durations were counted.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Their total.
    pub fn sum(&self) -> Duration {
        Duration::from_nanos(self.sum_nanos.load(Ordering::Relaxed))
    }

    /// The longest one.
    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.max_nanos.load(Ordering::Relaxed))
    }
}

/// Hits, misses and builds of one operation, for tests and metrics.
#[derive(Debug, Default)]
pub struct Counters {
    /// A wanted key whose stored result could be used.
    pub hits: AtomicU64,
    /// A wanted key that needed a job.
    pub misses: AtomicU64,
    /// Jobs started.
    pub builds: AtomicU64,
}

/// The counts of one operation at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OperationCounts {
    /// See [`Counters::hits`].
    pub hits: u64,
    /// See [`Counters::misses`].
    pub misses: u64,
    /// See [`Counters::builds`].
    pub builds: u64,
}

/// The measurements of one engine (one [`Context`]).
#[derive(Debug, Default)]
pub struct Metrics {
    evaluation: Timings,
    operations: Mutex<BTreeMap<&'static str, Arc<Counters>>>,
}

impl Metrics {
    /// The measurements of `ctx`'s engine.
    pub fn of(ctx: &Context) -> Arc<Metrics> {
        ctx.extension::<Metrics>()
    }

    /// How long each evaluation of the pipeline took (propagating the changes that
    /// woke the engine, releasing what is no longer needed, and publishing the result).
    pub fn evaluation(&self) -> &Timings {
        &self.evaluation
    }

    /// The counters of operation `id`, made on first use.
    pub fn operation(&self, id: &'static str) -> Arc<Counters> {
        let mut map = self.operations.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(id).or_default().clone()
    }

    /// The counts of every operation used so far, by id.
    pub fn operations(&self) -> Vec<(&'static str, OperationCounts)> {
        let map = self.operations.lock().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .map(|(id, c)| {
                let counts = OperationCounts {
                    hits: c.hits.load(Ordering::Relaxed),
                    misses: c.misses.load(Ordering::Relaxed),
                    builds: c.builds.load(Ordering::Relaxed),
                };
                (*id, counts)
            })
            .collect()
    }
}
