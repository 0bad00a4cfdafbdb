//! The cache of build and publish steps: for now, its **record layer**.
//!
//! The per-key state machine of build steps (key → value) and publish steps (key + value →
//! outcome), OCurrent's `Current_cache` instances with auto-cancel, latching, `valid_for`
//! expiry, rebuild and invalidate, is to come; it will keep its results through the API of
//! this module:
//!
//! - [`db`]: one [`CacheRecord`](db::CacheRecord) per build of a key (what OCurrent's
//!   SQLite `cache` table keeps), with the indexes that answer the questions the web pages
//!   and the control client ask: the latest build of a key and its history, the record of a
//!   job, the newest records matching a [`Query`](db::Query), the operations there are.
//! - [`rules`]: the log-analysis rules ([`log_rules`](crate::log_rules)) that explain the
//!   failures of jobs, kept in the store so that they survive a restart.
//!
//! Both live in the [`Store`](crate::store::Store) of the state directory, in trees of
//! their own (their key layouts are in the docs of each module).
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use current::cache::db::{CacheDb, CacheRecord, Outcome, Query};
//! use current::digest::key_digest;
//! use current::store::{Lookup, Store};
//!
//! # let state_dir = std::env::temp_dir().join(format!("current-cache-doc-{}", std::process::id()));
//! let store = Store::open(&state_dir)?;
//! let db = CacheDb::open(&store)?;
//!
//! let key = key_digest("docker-build", 1, "Dockerfile")?;
//! let at = |s: u64| UNIX_EPOCH + Duration::from_secs(1_700_000_000 + s);
//! let build = db.next_build("docker-build", &key)?; // 0: no build yet
//! db.record(&CacheRecord {
//!     op: "docker-build".into(),
//!     key,
//!     value: None,
//!     job_id: "2023-11-14/221320-docker-build-a1b2c3".into(),
//!     outcome: Outcome::Ok(b"sha256:1234".to_vec()),
//!     build,
//!     rebuild: false,
//!     ready: at(0),
//!     running: Some(at(1)),
//!     finished: at(20),
//! })?;
//! db.flush()?; // durable: the result may now be reported
//!
//! let Lookup::Found(latest) = db.latest("docker-build", &key)? else { panic!() };
//! assert_eq!(latest.job_id, "2023-11-14/221320-docker-build-a1b2c3");
//! assert_eq!(db.next_build("docker-build", &key)?, 1);
//! assert_eq!(db.query(&Query { ok: Some(true), ..Query::default() })?, [latest]);
//! assert_eq!(db.ops()?, ["docker-build"]);
//! # drop((db, store));
//! # std::fs::remove_dir_all(&state_dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod db;
pub mod rules;
