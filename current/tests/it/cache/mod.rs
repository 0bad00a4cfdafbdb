//! Tests of the cache's record layer: records and their indexes, queries, and the stored
//! log rules.

mod builds;
mod db;
mod query;
mod rules;
mod scenarios;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use current::cache::db::{CacheRecord, Outcome};
use current::digest::Digest;

pub use crate::store::{warnings, StateDir};

/// A time `s` seconds after 2023-11-14 22:13:20 UTC.
pub fn at(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + s)
}

/// The digest standing for the key `name`.
pub fn key(name: &str) -> Digest {
    Digest::of_bytes(name.as_bytes())
}

/// Build `build` of key `name` of `op`, finished at `at(finished)`, successful.
pub fn rec(op: &str, name: &str, build: u64, finished: u64) -> CacheRecord {
    CacheRecord {
        op: op.to_owned(),
        key: key(name),
        value: None,
        job_id: format!("2023-11-14/221320-{op}-{name}-{build}"),
        outcome: Outcome::Ok(format!("{op} {name} {build}").into_bytes()),
        build,
        rebuild: false,
        ready: at(finished.saturating_sub(5)),
        running: Some(at(finished.saturating_sub(3))),
        finished: at(finished),
    }
}

/// The build numbers of `records`, in order.
pub fn builds(records: &[CacheRecord]) -> Vec<u64> {
    records.iter().map(|r| r.build).collect()
}

/// The job ids of `records`, in order.
pub fn jobs(records: &[CacheRecord]) -> Vec<&str> {
    records.iter().map(|r| r.job_id.as_str()).collect()
}
