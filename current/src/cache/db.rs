//! The cache's records: one [`CacheRecord`] per build of a key of an operation, and the
//! indexes that find them (OCurrent's `Current_cache.Db` and its SQLite `cache` table).
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use current::cache::db::{format_time, CacheDb, CacheRecord, Outcome, Query};
//! use current::digest::Digest;
//! use current::store::Store;
//!
//! # let state_dir = std::env::temp_dir().join(format!("current-cache-db-doc-{}", std::process::id()));
//! let store = Store::open(&state_dir)?;
//! let db = CacheDb::open(&store)?;
//! let key = Digest::of_bytes(b"a key");
//! let at = |s| UNIX_EPOCH + Duration::from_secs(1_644_407_873 + s);
//! for (build, outcome) in [Outcome::Err("exit code 2".into()), Outcome::Ok(vec![1])]
//!     .into_iter()
//!     .enumerate()
//! {
//!     db.record(&CacheRecord {
//!         op: "build".into(),
//!         key,
//!         value: None,
//!         job_id: format!("2022-02-09/11575{build}-build-00000{build}"),
//!         outcome,
//!         build: build as u64,
//!         rebuild: false,
//!         ready: at(10 * build as u64),
//!         running: None,
//!         finished: at(10 * build as u64 + 5),
//!     })?;
//! }
//! let history = db.history("build", &key, 10)?;
//! assert_eq!(history.iter().map(|r| r.build).collect::<Vec<_>>(), [1, 0]);
//! assert_eq!(format_time(history[0].finished), "2022-02-09 11:58:08");
//!
//! let failed = db.query(&Query { ok: Some(false), ..Query::default() })?;
//! assert_eq!(failed[0].outcome, Outcome::Err("exit code 2".into()));
//! assert_eq!(db.by_job("2022-02-09/115750-build-000000")?.as_ref(), failed.first());
//! assert!(db.query(&Query { job_prefix: Some("2022-*".into()), ..Query::default() }).is_err());
//! # drop((db, store));
//! # std::fs::remove_dir_all(&state_dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Trees
//!
//! Keys are [`KeyBuf`]s, so they sort like their parts. Times in keys and records are
//! nanoseconds since the Unix epoch ([`to_nanos`]).
//!
//! | tree             | key                                          | value                |
//! |------------------|----------------------------------------------|----------------------|
//! | `cache-records`  | op (str), key digest, build (u64)            | [`CacheRecord`]      |
//! | `cache-finished` | op (str), finished (u64 ns), key digest, build (u64) | [`FinishedEntry`] |
//! | `cache-jobs`     | job id (str)                                 | [`JobRef`]           |
//! | `cache-ops`      | op (str)                                     | [`OpEntry`]          |
//!
//! - `cache-records` is the table itself. The builds of a key are next to each other in
//!   build order, so the latest build of a key is the last key under the prefix
//!   `(op, key)`: [`latest`](CacheDb::latest) and [`history`](CacheDb::history) read
//!   backwards from there and never look at another key.
//! - `cache-finished` lists each operation's records by finish time, so the newest records
//!   of one operation are the last keys under `(op)`, and the newest of all operations are
//!   found by merging the operations' lists backwards ([`query`](CacheDb::query)). Its
//!   value holds the job id and the outcome's `ok`, which never change for a record, so
//!   that those filters need not read the record.
//! - `cache-jobs` finds the record of a job ([`lookup_job`](CacheDb::lookup_job),
//!   [`by_job`](CacheDb::by_job)). A job has one record; recording another record with
//!   the same job id points the job at the new one.
//! - `cache-ops` lists the operations that have records ([`ops`](CacheDb::ops)).
//!
//! # Index consistency
//!
//! sled applies a write to one tree atomically, but not writes to several trees together,
//! so a crash can come between the write of a record and the writes of its index
//! entries. The indexes are derived data, kept so that the only damage a crash can do is
//! an index entry that points at nothing (or at a record that has since changed):
//!
//! - [`record`](CacheDb::record) writes the `cache-ops` entry, then the `cache-finished`
//!   and `cache-jobs` entries, and only then the record; the entries of the record it
//!   replaced (if any) are removed last.
//! - Removals ([`reset`](CacheDb::reset)) remove the records first and the index entries
//!   after.
//! - Every read through an index checks the record it points at (same job id, same finish
//!   time, same `ok`) and ignores an entry that does not match: a **dangling entry is
//!   ignored on read**, never reported. [`ops`](CacheDb::ops) lists only the operations
//!   that still have records.
//!
//! A missing index entry (a record that a query or a job-id lookup does not find) could
//! only come from a crash that kept a later write and lost an earlier one, which sled's
//! log, recovered in order, does not do. [`repair`](CacheDb::repair) rebuilds the indexes
//! from the records anyway (adding what is missing, removing what dangles), for use at
//! start-up or from a maintenance command.
//!
//! Writes to the records of one `(op, key)` must not race each other (the cache's state
//! machine owns each key and writes its records one at a time); reads may run at any time.
//!
//! # Durability
//!
//! Like every write to the [`Store`], the writes of a [`CacheDb`] are durable only once a
//! [`flush`](CacheDb::flush) or [`flush_async`](CacheDb::flush_async) that started after
//! them has returned. Many records can share one flush (group commit).

use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::store::{Iter, KeyBuf, KeyReader, Lookup, Record, Store, StoreError, Tree};

/// How many records a [`Query`] returns unless told otherwise (OCurrent's `LIMIT 100`).
pub const DEFAULT_QUERY_LIMIT: usize = 100;

/// The outcome of a build: the encoded value (or, for a publish step, the encoded
/// outcome) when it succeeded, the error message when it failed. OCurrent keeps this as
/// an `ok` flag and an `outcome` blob that is either; here the two cannot disagree.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Outcome {
    /// The step succeeded; its value (or outcome), encoded by the step.
    Ok(Vec<u8>),
    /// The step failed (or was cancelled); the message (after log analysis).
    Err(String),
}

impl Outcome {
    /// Whether the step succeeded (OCurrent's `ok` column).
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok(_))
    }
}

/// One build of one key of one operation: a row of OCurrent's `cache` table.
///
/// Times are kept as nanoseconds since the Unix epoch: a time before the epoch is kept as
/// the epoch, one after 2554-07-21 as that date ([`to_nanos`]); any other time comes back
/// exactly as it was recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheRecord {
    /// The operation's id (OCurrent's `OPERATION.id`), which is also the label of its jobs.
    pub op: String,
    /// The digest of the key: with `op`, the identity of what was built.
    pub key: Digest,
    /// For a publish step, the digest of the value that was published (a different value
    /// means it must be published again); `None` for a build step.
    pub value: Option<Digest>,
    /// The id of the job that ran the build ([`JobId`](crate::job::JobId) as a string).
    pub job_id: String,
    /// What came out of it.
    pub outcome: Outcome,
    /// The build number: 0 for the first build of the key, then one more each time.
    pub build: u64,
    /// Whether the build is to be done again (a rebuild was asked for, or the record was
    /// invalidated): the state machine does not reuse a flagged record.
    pub rebuild: bool,
    /// When the job was created.
    #[serde(with = "nanos")]
    pub ready: SystemTime,
    /// When the job started running (after confirmation and its pool), if it did.
    #[serde(with = "opt_nanos")]
    pub running: Option<SystemTime>,
    /// When the job finished.
    #[serde(with = "nanos")]
    pub finished: SystemTime,
}

impl Record for CacheRecord {
    const TREE: &'static str = "cache-records";
    const VERSION: u16 = 1;
}

impl CacheRecord {
    /// Whether the build succeeded.
    pub fn is_ok(&self) -> bool {
        self.outcome.is_ok()
    }

    /// The error message, if the build failed.
    pub fn error(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Ok(_) => None,
            Outcome::Err(message) => Some(message),
        }
    }
}

/// The value of a `cache-finished` entry: what the filters of a [`Query`] need and that
/// never changes for a record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishedEntry {
    /// The record's job id.
    pub job_id: String,
    /// Whether the record's outcome is `Ok`.
    pub ok: bool,
}

impl Record for FinishedEntry {
    const TREE: &'static str = "cache-finished";
    const VERSION: u16 = 1;
}

/// Where the record of a job is: the value of a `cache-jobs` entry, and the answer of
/// [`CacheDb::lookup_job`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JobRef {
    /// The operation.
    pub op: String,
    /// The key digest.
    pub key: Digest,
    /// The build number.
    pub build: u64,
}

impl Record for JobRef {
    const TREE: &'static str = "cache-jobs";
    const VERSION: u16 = 1;
}

/// The value of a `cache-ops` entry (the operation is the key).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpEntry {}

impl Record for OpEntry {
    const TREE: &'static str = "cache-ops";
    const VERSION: u16 = 1;
}

/// A time as nanoseconds since the Unix epoch, as the cache keeps it: a time before the
/// epoch is 0, one too late for a `u64` (after 2554-07-21) is `u64::MAX`.
pub fn to_nanos(t: SystemTime) -> u64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
        Err(_) => 0,
    }
}

/// The time `nanos` nanoseconds after the Unix epoch (the inverse of [`to_nanos`]).
pub fn from_nanos(nanos: u64) -> SystemTime {
    // Every u64 of nanoseconds fits in the `SystemTime` of the platforms we build for;
    // should one not, the epoch is a better answer than a panic.
    UNIX_EPOCH
        .checked_add(Duration::from_nanos(nanos))
        .unwrap_or(UNIX_EPOCH)
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, the format of the times of OCurrent's `cache` table, of
/// the time as the cache keeps it ([`to_nanos`]).
pub fn format_time(t: SystemTime) -> String {
    crate::clock::utc_datetime(from_nanos(to_nanos(t)))
}

mod nanos {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(super::to_nanos(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        u64::deserialize(d).map(super::from_nanos)
    }
}

mod opt_nanos {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        t.map(super::to_nanos).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(super::from_nanos))
    }
}

/// The key of a record in `cache-records`: `(op, key, build)`.
pub fn record_key(op: &str, key: &Digest, build: u64) -> KeyBuf {
    key_prefix(op, key).u64(build)
}

/// The prefix of the records of one key: `(op, key)`.
fn key_prefix(op: &str, key: &Digest) -> KeyBuf {
    KeyBuf::new().str(op).digest(key)
}

/// The prefix of everything of one operation in `cache-records` and `cache-finished`,
/// and its key in `cache-ops`.
fn op_prefix(op: &str) -> KeyBuf {
    KeyBuf::new().str(op)
}

/// The key of a record's entry in `cache-finished`: `(op, finished, key, build)`.
pub fn finished_key(op: &str, finished: u64, key: &Digest, build: u64) -> KeyBuf {
    op_prefix(op).u64(finished).digest(key).u64(build)
}

/// The key of a job's entry in `cache-jobs`: `(job id)`.
pub fn job_key(job_id: &str) -> KeyBuf {
    KeyBuf::new().str(job_id)
}

/// Read a `cache-finished` key back.
fn read_finished_key(bytes: &[u8]) -> Option<(String, u64, Digest, u64)> {
    let mut r = KeyReader::new(bytes);
    let parts = (
        r.str().ok()?,
        r.u64().ok()?,
        r.digest().ok()?,
        r.u64().ok()?,
    );
    r.finish().ok()?;
    Some(parts)
}

/// Read the build number back from a `cache-records` key.
fn read_record_key(bytes: &[u8]) -> Option<(String, Digest, u64)> {
    let mut r = KeyReader::new(bytes);
    let parts = (r.str().ok()?, r.digest().ok()?, r.u64().ok()?);
    r.finish().ok()?;
    Some(parts)
}

/// What the newest records are asked for: each filter that is set must hold. OCurrent's
/// `Current_cache.Db.query ?op ?ok ?rebuild ?job_prefix ()`.
///
/// ```
/// use current::cache::db::{Query, DEFAULT_QUERY_LIMIT};
///
/// let failed_builds = Query { op: Some("build".into()), ok: Some(false), ..Query::default() };
/// assert_eq!(failed_builds.limit, DEFAULT_QUERY_LIMIT);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// Only records of this operation.
    pub op: Option<String>,
    /// Only records that succeeded (`true`) or failed (`false`).
    pub ok: Option<bool>,
    /// Only records whose rebuild flag is this.
    pub rebuild: Option<bool>,
    /// Only records whose job id starts with this text, matched literally. `*` and `?` are
    /// refused ([`CacheError::JobPrefix`]): OCurrent matches the prefix with SQLite's
    /// `GLOB` and refuses them, and so do we, so that a prefix means the same to both.
    pub job_prefix: Option<String>,
    /// At most this many records ([`DEFAULT_QUERY_LIMIT`] by default).
    pub limit: usize,
}

impl Default for Query {
    fn default() -> Query {
        Query {
            op: None,
            ok: None,
            rebuild: None,
            job_prefix: None,
            limit: DEFAULT_QUERY_LIMIT,
        }
    }
}

/// What [`CacheDb::repair`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Repair {
    /// Index entries (and operation names) that were missing and have been written.
    pub added: usize,
    /// Index entries (and operation names) that pointed at nothing and have been removed.
    pub removed: usize,
}

/// An error of the cache's records.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The store failed (an I/O error of the database, or a record that cannot be encoded).
    #[error("cache records: {what}: {source}")]
    Store {
        /// What was being done, naming the operation, key or job.
        what: String,
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// A job id prefix with a `*` or `?` in it.
    #[error("bad character in job id prefix {prefix:?}: `*` and `?` are not allowed")]
    JobPrefix {
        /// The prefix given.
        prefix: String,
    },
    /// The latest build of a key has the greatest build number there is.
    #[error("op {op:?}, key {key}: no build number after {last}")]
    BuildOverflow {
        /// The operation.
        op: String,
        /// The key digest.
        key: Digest,
        /// The build number of the latest build.
        last: u64,
    },
}

/// Turn a store error into a [`CacheError::Store`] saying what was being done.
fn failed(what: impl FnOnce() -> String) -> impl FnOnce(StoreError) -> CacheError {
    move |source| CacheError::Store {
        what: what(),
        source,
    }
}

/// The newest stored value of a key: its key in the tree, and the record or why it cannot
/// be decoded.
type Newest = Option<(Vec<u8>, Lookup<CacheRecord>)>;

/// The records of the cache, over a [`Store`]. Cloning shares the trees.
#[derive(Clone, Debug)]
pub struct CacheDb {
    store: Store,
    records: Tree<CacheRecord>,
    finished: Tree<FinishedEntry>,
    jobs: Tree<JobRef>,
    ops: Tree<OpEntry>,
}

impl CacheDb {
    /// The cache's records in `store` (the trees are created if need be).
    pub fn open(store: &Store) -> Result<CacheDb, CacheError> {
        let what = || "opening the trees".to_owned();
        Ok(CacheDb {
            store: store.clone(),
            records: store.tree().map_err(failed(what))?,
            finished: store.tree().map_err(failed(what))?,
            jobs: store.tree().map_err(failed(what))?,
            ops: store.tree().map_err(failed(what))?,
        })
    }

    /// The store the records are in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Record a build, replacing the record of the same `(op, key, build)` if there is one
    /// (OCurrent's `INSERT OR REPLACE`), with its index entries. Durable after the next
    /// [`flush`](CacheDb::flush).
    pub fn record(&self, record: &CacheRecord) -> Result<(), CacheError> {
        let CacheRecord { op, key, build, .. } = record;
        let what = || format!("recording build {build} of op {op:?}, key {key}");
        let rkey = record_key(op, key, *build);
        let old = self
            .records
            .get_checked(&rkey)
            .map_err(failed(what))?
            .found();

        // The index entries first: until the record is written they point at nothing (or
        // at the old record, which they do not match) and are ignored.
        let okey = op_prefix(op);
        if !self.ops.contains_key(&okey).map_err(failed(what))? {
            self.ops.insert(&okey, &OpEntry {}).map_err(failed(what))?;
        }
        let fkey = finished_key(op, to_nanos(record.finished), key, *build);
        let entry = FinishedEntry {
            job_id: record.job_id.clone(),
            ok: record.is_ok(),
        };
        self.finished.insert(&fkey, &entry).map_err(failed(what))?;
        let job_ref = JobRef {
            op: op.clone(),
            key: *key,
            build: *build,
        };
        self.jobs
            .insert(job_key(&record.job_id), &job_ref)
            .map_err(failed(what))?;

        self.records.insert(&rkey, record).map_err(failed(what))?;

        // The entries of the record replaced, which now dangle. (Those of a replaced
        // record that could not be decoded are unknown; they dangle and are ignored.)
        if let Some(old) = old {
            let old_fkey = finished_key(op, to_nanos(old.finished), key, *build);
            if old_fkey != fkey {
                self.finished.remove(&old_fkey).map_err(failed(what))?;
            }
            if old.job_id != record.job_id {
                let old_jkey = job_key(&old.job_id);
                if self.jobs.get(&old_jkey).map_err(failed(what))? == Some(job_ref) {
                    self.jobs.remove(&old_jkey).map_err(failed(what))?;
                }
            }
        }
        Ok(())
    }

    /// The newest stored value of a key, if any: `(its key in the tree, the record or why
    /// it cannot be decoded)`.
    fn newest(&self, op: &str, key: &Digest) -> Result<Newest, CacheError> {
        let what = || format!("reading the latest build of op {op:?}, key {key}");
        match self
            .records
            .scan_prefix(key_prefix(op, key))
            .checked()
            .next_back()
        {
            None => Ok(None),
            Some(item) => {
                let (k, record) = item.map_err(failed(what))?;
                let lookup = match record {
                    Ok(record) => Lookup::Found(record),
                    Err(reason) => Lookup::Undecodable(reason),
                };
                Ok(Some((k, lookup)))
            }
        }
    }

    /// The latest build of a key: the record with the greatest build number. A latest
    /// record that cannot be decoded is [`Lookup::Undecodable`] (and a warning), not
    /// skipped for an older one: the state machine treats it as a miss and builds again.
    pub fn latest(&self, op: &str, key: &Digest) -> Result<Lookup<CacheRecord>, CacheError> {
        Ok(self
            .newest(op, key)?
            .map_or(Lookup::Missing, |(_, lookup)| lookup))
    }

    /// The build number of the next build of a key: one more than the latest build's (even
    /// if its record cannot be decoded), 0 if there is none.
    pub fn next_build(&self, op: &str, key: &Digest) -> Result<u64, CacheError> {
        let Some((k, lookup)) = self.newest(op, key)? else {
            return Ok(0);
        };
        let last = match read_record_key(&k) {
            Some((_, _, build)) => build,
            // Not reachable for a key under the prefix; the record knows its number too.
            None => match lookup {
                Lookup::Found(record) => record.build,
                Lookup::Missing | Lookup::Undecodable(_) => 0,
            },
        };
        last.checked_add(1)
            .ok_or_else(|| CacheError::BuildOverflow {
                op: op.to_owned(),
                key: *key,
                last,
            })
    }

    /// Flag the latest build of a key for rebuilding (the web page's "Rebuild"): the state
    /// machine will not reuse it. Whether there was a record to flag (a latest record that
    /// cannot be decoded is a miss already and is left alone).
    pub fn set_rebuild(&self, op: &str, key: &Digest) -> Result<bool, CacheError> {
        let Some((k, Lookup::Found(mut record))) = self.newest(op, key)? else {
            return Ok(false);
        };
        if !record.rebuild {
            record.rebuild = true;
            self.records.insert(&k, &record).map_err(failed(|| {
                format!("flagging build {} of op {op:?}, key {key}", record.build)
            }))?;
        }
        Ok(true)
    }

    /// Flag every build of a key for rebuilding (OCurrent's `Db.invalidate`, `UPDATE cache
    /// SET rebuild = 1 WHERE op = ? AND key = ?`), in one atomic batch. Returns how many
    /// records were not flagged before.
    pub fn invalidate(&self, op: &str, key: &Digest) -> Result<usize, CacheError> {
        let what = || format!("invalidating op {op:?}, key {key}");
        let mut batch = self.records.batch();
        for item in self.records.scan_prefix(key_prefix(op, key)) {
            let (k, mut record) = item.map_err(failed(what))?;
            if !record.rebuild {
                record.rebuild = true;
                batch.insert(&k, &record).map_err(failed(what))?;
            }
        }
        let flagged = batch.len();
        batch.apply().map_err(failed(what))?;
        Ok(flagged)
    }

    /// The last `limit` builds of a key, newest first (records that cannot be decoded are
    /// left out, with a warning). The job still running for the key, which OCurrent's
    /// history also shows, is the state machine's to add.
    pub fn history(
        &self,
        op: &str,
        key: &Digest,
        limit: usize,
    ) -> Result<Vec<CacheRecord>, CacheError> {
        let what = || format!("reading the history of op {op:?}, key {key}");
        self.records
            .scan_prefix(key_prefix(op, key))
            .rev()
            .take(limit)
            .map(|item| item.map(|(_, record)| record).map_err(failed(what)))
            .collect()
    }

    /// Check an index entry against the record it points at (`finished`, in nanoseconds,
    /// and `ok` when given): the record the entry describes, or `None` if the entry is to
    /// be ignored (no record, one that cannot be decoded, or one the entry was not
    /// written for).
    fn target(
        &self,
        op: &str,
        key: &Digest,
        build: u64,
        job_id: &str,
        finished: Option<(u64, bool)>,
    ) -> Result<Option<CacheRecord>, CacheError> {
        let lookup = self
            .records
            .get_checked(record_key(op, key, build))
            .map_err(failed(|| {
                format!("reading build {build} of op {op:?}, key {key} (job {job_id:?})")
            }))?;
        Ok(match lookup {
            Lookup::Found(record)
                if record.job_id == job_id
                    && finished.is_none_or(|(nanos, ok)| {
                        to_nanos(record.finished) == nanos && record.is_ok() == ok
                    }) =>
            {
                Some(record)
            }
            _ => None,
        })
    }

    /// Where the record of job `job_id` is (OCurrent's `Db.lookup_job_id`, which gives
    /// the op and key), or `None` if the cache has no record of it. An entry whose record
    /// cannot be decoded is still reported (the record is the job's as far as anyone can
    /// tell); one whose record is gone or belongs to another job is not.
    pub fn lookup_job(&self, job_id: &str) -> Result<Option<JobRef>, CacheError> {
        let what = || format!("looking up job {job_id:?}");
        let Some(job_ref) = self.jobs.get(job_key(job_id)).map_err(failed(what))? else {
            return Ok(None);
        };
        let lookup = self
            .records
            .get_checked(record_key(&job_ref.op, &job_ref.key, job_ref.build))
            .map_err(failed(what))?;
        Ok(match lookup {
            Lookup::Found(record) if record.job_id != job_id => None,
            Lookup::Missing => None,
            Lookup::Found(_) | Lookup::Undecodable(_) => Some(job_ref),
        })
    }

    /// The record of job `job_id`, if the cache has one (and it can be decoded).
    pub fn by_job(&self, job_id: &str) -> Result<Option<CacheRecord>, CacheError> {
        let what = || format!("looking up job {job_id:?}");
        let Some(r) = self.jobs.get(job_key(job_id)).map_err(failed(what))? else {
            return Ok(None);
        };
        self.target(&r.op, &r.key, r.build, job_id, None)
    }

    /// The names in `cache-ops`, sorted, whether or not they still have records.
    fn op_names(&self) -> Result<Vec<String>, CacheError> {
        let what = || "listing the operations".to_owned();
        let mut names = Vec::new();
        for item in self.ops.iter().checked() {
            let (k, _) = item.map_err(failed(what))?;
            let mut r = KeyReader::new(&k);
            match r.str() {
                Ok(name) if r.finish().is_ok() => names.push(name),
                _ => tracing::warn!(
                    store = %self.store.path().display(),
                    tree = OpEntry::TREE,
                    key = %k.escape_ascii(),
                    "malformed key, ignored",
                ),
            }
        }
        Ok(names)
    }

    /// Whether an operation has any record (decodable or not).
    fn has_records(&self, op: &str) -> Result<bool, CacheError> {
        match self.records.scan_prefix(op_prefix(op)).checked().next() {
            None => Ok(false),
            Some(item) => item
                .map(|_| true)
                .map_err(failed(|| format!("reading the records of op {op:?}"))),
        }
    }

    /// The operations that have records, sorted (OCurrent's `Db.ops`).
    pub fn ops(&self) -> Result<Vec<String>, CacheError> {
        let mut ops = Vec::new();
        for op in self.op_names()? {
            if self.has_records(&op)? {
                ops.push(op);
            }
        }
        Ok(ops)
    }

    /// The newest records (by finish time) that match `query`, at most `query.limit` of
    /// them (OCurrent's `ORDER BY finished DESC LIMIT 100`). Records finished at the same
    /// instant come in descending `(op, key, build)` order.
    ///
    /// The records of each operation are read newest first from `cache-finished`, merged
    /// across operations, until `limit` of them match: the work is proportional to the
    /// number of entries newer than the last record returned (of the operation asked for,
    /// if `query.op` is set), and only entries that pass the `ok` and job-prefix filters
    /// are read in full.
    pub fn query(&self, query: &Query) -> Result<Vec<CacheRecord>, CacheError> {
        if let Some(prefix) = &query.job_prefix {
            if prefix.contains(['*', '?']) {
                return Err(CacheError::JobPrefix {
                    prefix: prefix.clone(),
                });
            }
        }
        let mut out = Vec::new();
        if query.limit == 0 {
            return Ok(out);
        }
        let ops = match &query.op {
            Some(op) => vec![op.clone()],
            None => self.op_names()?,
        };

        let mut sources: Vec<std::iter::Rev<Iter<FinishedEntry>>> = ops
            .iter()
            .map(|op| self.finished.scan_prefix(op_prefix(op)).rev())
            .collect();
        let mut heap = BinaryHeap::with_capacity(sources.len());
        for (source, iter) in sources.iter_mut().enumerate() {
            if let Some(head) = self.pull(iter, source, &ops[source])? {
                heap.push(head);
            }
        }

        while let Some(head) = heap.pop() {
            if let Some(next) = self.pull(&mut sources[head.source], head.source, &head.op)? {
                heap.push(next);
            }
            if query.ok.is_some_and(|ok| ok != head.entry.ok) {
                continue;
            }
            if let Some(prefix) = &query.job_prefix {
                if !head.entry.job_id.starts_with(prefix.as_str()) {
                    continue;
                }
            }
            let target = self.target(
                &head.op,
                &head.key,
                head.build,
                &head.entry.job_id,
                Some((head.finished, head.entry.ok)),
            )?;
            let Some(record) = target else {
                continue;
            };
            if query
                .rebuild
                .is_some_and(|rebuild| rebuild != record.rebuild)
            {
                continue;
            }
            out.push(record);
            if out.len() == query.limit {
                break;
            }
        }
        Ok(out)
    }

    /// The next entry of one operation's `cache-finished` list (read backwards), skipping
    /// what cannot be read (with a warning).
    fn pull(
        &self,
        iter: &mut std::iter::Rev<Iter<FinishedEntry>>,
        source: usize,
        op: &str,
    ) -> Result<Option<Head>, CacheError> {
        for item in iter {
            let (k, entry) =
                item.map_err(failed(|| format!("reading the finish times of op {op:?}")))?;
            match read_finished_key(&k) {
                Some((op, finished, key, build)) => {
                    return Ok(Some(Head {
                        finished,
                        op,
                        key,
                        build,
                        entry,
                        source,
                    }))
                }
                None => tracing::warn!(
                    store = %self.store.path().display(),
                    tree = FinishedEntry::TREE,
                    key = %k.escape_ascii(),
                    "malformed key, ignored",
                ),
            }
        }
        Ok(None)
    }

    /// Delete every record of an operation and their index entries (OCurrent's `reset
    /// ~db:true`, less the clearing of memory, which is the state machine's). Returns how
    /// many records were removed. Each tree is changed in one atomic batch, records first.
    pub fn reset(&self, op: &str) -> Result<usize, CacheError> {
        let what = || format!("resetting op {op:?}");
        let prefix = op_prefix(op);
        let mut job_ids = BTreeSet::new();

        let mut batch = self.records.batch();
        for item in self.records.scan_prefix(&prefix).checked() {
            let (k, record) = item.map_err(failed(what))?;
            if let Ok(record) = record {
                job_ids.insert(record.job_id);
            }
            batch.remove(k);
        }
        let removed = batch.len();
        batch.apply().map_err(failed(what))?;

        let mut batch = self.finished.batch();
        for item in self.finished.scan_prefix(&prefix).checked() {
            let (k, entry) = item.map_err(failed(what))?;
            if let Ok(entry) = entry {
                job_ids.insert(entry.job_id);
            }
            batch.remove(k);
        }
        batch.apply().map_err(failed(what))?;

        let mut batch = self.jobs.batch();
        for job_id in &job_ids {
            let jkey = job_key(job_id);
            if let Some(job_ref) = self.jobs.get(&jkey).map_err(failed(what))? {
                if job_ref.op == op {
                    batch.remove(jkey);
                }
            }
        }
        batch.apply().map_err(failed(what))?;

        self.ops.remove(&prefix).map_err(failed(what))?;
        Ok(removed)
    }

    /// Rebuild the indexes from the records: write the entries that are missing, remove
    /// those that point at nothing (or at a record they do not describe), and make
    /// `cache-ops` name exactly the operations that have records. Reads never need this
    /// (they ignore what dangles); it reclaims space and would restore what a lost write
    /// left out. It reads every record: run it when no record is being written, at
    /// start-up or from a maintenance command.
    pub fn repair(&self) -> Result<Repair, CacheError> {
        let what = || "repairing the indexes".to_owned();
        let mut repair = Repair::default();
        let mut ops_seen = BTreeSet::new();

        // What each record needs.
        let mut finished_batch = self.finished.batch();
        let mut jobs_batch = self.jobs.batch();
        for item in self.records.iter() {
            let (k, record) = item.map_err(failed(what))?;
            let CacheRecord { op, key, build, .. } = &record;
            if k != record_key(op, key, *build).as_bytes() {
                tracing::warn!(
                    store = %self.store.path().display(),
                    tree = CacheRecord::TREE,
                    key = %k.escape_ascii(),
                    "record stored under another record's key, ignored",
                );
                continue;
            }
            ops_seen.insert(op.clone());
            let fkey = finished_key(op, to_nanos(record.finished), key, *build);
            let entry = FinishedEntry {
                job_id: record.job_id.clone(),
                ok: record.is_ok(),
            };
            if self.finished.get(&fkey).map_err(failed(what))?.as_ref() != Some(&entry) {
                finished_batch.insert(&fkey, &entry).map_err(failed(what))?;
            }
            let jkey = job_key(&record.job_id);
            let job_ref = JobRef {
                op: op.clone(),
                key: *key,
                build: *build,
            };
            let current = self.jobs.get(&jkey).map_err(failed(what))?;
            let keep = match &current {
                Some(r) if *r == job_ref => true,
                // Another record of the same job that still answers for it.
                Some(r) => self
                    .target(&r.op, &r.key, r.build, &record.job_id, None)?
                    .is_some(),
                None => false,
            };
            if !keep {
                jobs_batch.insert(&jkey, &job_ref).map_err(failed(what))?;
            }
        }
        repair.added += finished_batch.len() + jobs_batch.len();
        finished_batch.apply().map_err(failed(what))?;
        jobs_batch.apply().map_err(failed(what))?;

        // What points at nothing.
        let mut batch = self.finished.batch();
        for item in self.finished.iter().checked() {
            let (k, entry) = item.map_err(failed(what))?;
            let valid = match (read_finished_key(&k), entry) {
                (Some((op, finished, key, build)), Ok(entry)) => self
                    .target(&op, &key, build, &entry.job_id, Some((finished, entry.ok)))?
                    .is_some(),
                _ => false,
            };
            if !valid {
                batch.remove(k);
            }
        }
        repair.removed += batch.len();
        batch.apply().map_err(failed(what))?;

        let mut batch = self.jobs.batch();
        for item in self.jobs.iter().checked() {
            let (k, job_ref) = item.map_err(failed(what))?;
            let mut r = KeyReader::new(&k);
            let valid = match (r.str(), job_ref) {
                (Ok(job_id), Ok(job_ref)) if r.finish().is_ok() => self
                    .target(&job_ref.op, &job_ref.key, job_ref.build, &job_id, None)?
                    .is_some(),
                _ => false,
            };
            if !valid {
                batch.remove(k);
            }
        }
        repair.removed += batch.len();
        batch.apply().map_err(failed(what))?;

        let names: BTreeSet<String> = self.op_names()?.into_iter().collect();
        let mut batch = self.ops.batch();
        for op in ops_seen.difference(&names) {
            batch
                .insert(op_prefix(op), &OpEntry {})
                .map_err(failed(what))?;
            repair.added += 1;
        }
        for op in names.difference(&ops_seen) {
            if !self.has_records(op)? {
                batch.remove(op_prefix(op));
                repair.removed += 1;
            }
        }
        batch.apply().map_err(failed(what))?;
        Ok(repair)
    }

    /// Make every write so far durable ([`Store::flush`]): one flush covers every record
    /// written before it, of this and of every other tree.
    pub fn flush(&self) -> Result<usize, CacheError> {
        self.store.flush().map_err(failed(|| "flushing".to_owned()))
    }

    /// [`flush`](CacheDb::flush) without blocking the calling task.
    pub async fn flush_async(&self) -> Result<usize, CacheError> {
        self.store
            .flush_async()
            .await
            .map_err(failed(|| "flushing".to_owned()))
    }
}

/// The newest entry not yet taken from one operation's list, in the merge of
/// [`CacheDb::query`]. Ordered by finish time, then op, key and build.
struct Head {
    finished: u64,
    op: String,
    key: Digest,
    build: u64,
    entry: FinishedEntry,
    source: usize,
}

impl Head {
    fn rank(&self) -> (u64, &str, &Digest, u64) {
        (self.finished, &self.op, &self.key, self.build)
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Head) -> bool {
        self.rank() == other.rank()
    }
}

impl Eq for Head {}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Head) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Head {
    fn cmp(&self, other: &Head) -> Ordering {
        self.rank().cmp(&other.rank())
    }
}
