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
mod instance;
mod op;
pub mod rules;

use std::panic::Location;
use std::sync::{Arc, Mutex};

use crate::context::Context;
use crate::digest::Digest;
use crate::term::{Active, ErrorKind, Term};

use db::CacheDb;
use instance::{lock, Instance, Registry};

pub use instance::{Counters, AUTO_CANCEL};
pub use op::{Build, Builder, Operation};

/// Build `key` with `builder`, keeping the result (OCaml's `Current_cache.Make(B).get`):
/// the value is built once per key and read back from the store afterwards, across
/// restarts; a failed build is not retried for the same key until a rebuild.
#[track_caller]
pub fn build<B: Builder>(builder: &Arc<B>, key: &Term<B::Key>) -> Term<B::Value> {
    let op = Arc::new(Build(builder.clone()));
    cached(op, key.pair(&Term::value(())), Location::caller())
}

/// Bring `key` to `value` with `op`, keeping the outcome (OCaml's `Current_cache.Output`
/// and `Generic`): a new value runs the operation again; an outcome for the current value
/// is read back from the store.
#[track_caller]
pub fn run<O: Operation>(
    op: &Arc<O>,
    key: &Term<O::Key>,
    value: &Term<O::Value>,
) -> Term<O::Outcome> {
    cached(op.clone(), key.pair(value), Location::caller())
}

/// The hit, miss and build counts of operation `O` in the engine of `ctx`.
pub fn counters<O: Operation>(ctx: &Context) -> Arc<Counters> {
    ctx.extension::<Registry<O>>().counters.clone()
}

/// The record database of an engine, opened once.
#[derive(Default)]
struct Db(Mutex<Option<CacheDb>>);

fn cache_db(ctx: &Context) -> Result<CacheDb, String> {
    let slot = ctx.extension::<Db>();
    let mut slot = slot.0.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(db) = slot.as_ref() {
        return Ok(db.clone());
    }
    let store = ctx.store().map_err(|e| e.to_string())?;
    let db = CacheDb::open(&store).map_err(|e| e.to_string())?;
    *slot = Some(db.clone());
    Ok(db)
}

fn cached<O: Operation>(
    op: Arc<O>,
    input: Term<(O::Key, O::Value)>,
    location: &'static Location<'static>,
) -> Term<O::Outcome> {
    input.primitive_at(location, O::ID.to_string(), move |g, (key, value)| {
        let Some(ctx) = Context::current() else {
            // Not under an engine: nothing can run.
            return g.constant((Err(ErrorKind::Active(Active::Ready)), None));
        };
        let digests = op
            .key_digest(&key)
            .and_then(|k| Digest::of_value(&value).map(|v| (k, v)))
            .map_err(|e| format!("cannot digest the key of {}: {e}", O::ID));
        let prepared = digests.and_then(|d| cache_db(&ctx).map(|db| (d, db)));
        let ((digest, value_digest), db) = match prepared {
            Ok(p) => p,
            Err(msg) => return g.constant((Err(ErrorKind::msg(msg)), None)),
        };
        let registry = ctx.extension::<Registry<O>>();
        let instance = registry.instance(&ctx, &db, &op, &key, digest);
        let (cell, id) = {
            let mut i = lock(&instance);
            i.want(value, value_digest, ctx.step());
            let cell = g.var(i.shown());
            (cell, i.subscribe(ctx.clone(), cell))
        };
        Instance::drive(&instance);
        g.on_release(move || {
            let release = ctx.clone();
            ctx.after_propagation(move || {
                lock(&instance).unsubscribe(id);
                release.extension::<Registry<O>>().release_if_idle(&digest);
            });
        });
        cell.changeable()
    })
}
