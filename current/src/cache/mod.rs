//! The cache of build and publish steps (OCaml's `Current_cache`): results kept in the
//! store, so that unchanged work is never redone, across restarts too.
//!
//! An [`Operation`] (or, for builds, a [`Builder`]) says how to bring a key to a value;
//! [`build`] and [`run`] make pipeline steps of it. Each key has one *instance* per engine:
//! loaded from the newest record of its key, it runs a job when the stored outcome is not
//! for the value wanted now (or was flagged for rebuild, or has expired), shows
//! `WaitingForConfirmation`/`Ready`/`Running` meanwhile (or, if latched, the previous
//! outcome with the running gradient), and records the outcome in the store before it
//! shows it. A failure is kept for its key and value until the value changes or a user
//! asks for a rebuild ([`job_actions`]).
//!
//! Here is a builder written by hand, with everything a plugin usually has: an id, a
//! context that is not part of the key (the tool to run), a key with its own digest (that
//! leaves a scratch directory out), a value stored with serde, auto-cancel, a level and a
//! printer:
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use serde::{Deserialize, Serialize};
//! use current::cache::{self, Builder};
//! use current::digest::{key_digest, Digest, EncodeError};
//! use current::engine::{Engine, EngineOptions};
//! use current::job::{Job, StartOptions};
//! use current::process::{check_output, Command};
//! use current::term::Term;
//! use current::Level;
//!
//! /// The context: not part of the key.
//! struct Compiler {
//!     program: String,
//! }
//!
//! #[derive(Clone, Serialize)]
//! struct Source {
//!     file: String,
//!     /// Where to work: not part of the key.
//!     scratch: std::path::PathBuf,
//! }
//!
//! #[derive(Clone, Serialize, Deserialize)]
//! struct Artifact {
//!     output: String,
//! }
//!
//! impl Builder for Compiler {
//!     const ID: &'static str = "compile";
//!     type Key = Source;
//!     type Value = Artifact;
//!
//!     fn key_digest(&self, key: &Source) -> Result<Digest, EncodeError> {
//!         key_digest(Self::ID, Self::VERSION, &key.file)
//!     }
//!     fn auto_cancel(&self) -> bool {
//!         true
//!     }
//!     fn level(&self, _key: &Source) -> Level {
//!         Level::Harmless
//!     }
//!     fn pp(&self, key: &Source) -> String {
//!         format!("compile {}", key.file)
//!     }
//!     async fn build(&self, job: Job, key: Source) -> Result<Artifact, String> {
//!         job.start(Level::Harmless, StartOptions::default())
//!             .await
//!             .map_err(|e| e.to_string())?;
//!         let cmd = Command::new(&self.program).arg(&key.file).cwd(&key.scratch);
//!         let output = check_output(&job, &cmd).await.map_err(|e| e.to_string())?;
//!         Ok(Artifact { output: output.trim().to_string() })
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::env::temp_dir().join(format!("current-cache-doc-{}", std::process::id()));
//! let rt = tokio::runtime::Runtime::new()?;
//! let compiler = Arc::new(Compiler { program: "echo".into() });
//! let engine = Engine::start(EngineOptions::new(&dir, rt.handle().clone()), move || {
//!     let source = Term::value(Source { file: "main.c".into(), scratch: std::env::temp_dir() });
//!     cache::build(&compiler, &source).map(|artifact| artifact.output)
//! })?;
//! engine.wait_until(|s| s.result == Ok("main.c".into()), Duration::from_secs(30))?;
//! engine.shutdown("example over")?;
//! std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```
//!
//! The record layer underneath:
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
use std::time::Duration;

use crate::context::Context;
use crate::digest::Digest;
use crate::term::{Active, ErrorKind, Term};

use db::CacheDb;
use instance::{lock, ActionsByJob, Instance, Registry};

pub use instance::{Counters, JobActions, AUTO_CANCEL};
pub use op::{Build, Builder, Operation};

/// Build `key` with `builder`, keeping the result (OCaml's `Current_cache.Make(B).get`):
/// the value is built once per key and read back from the store afterwards, across
/// restarts; a failed build is not retried for the same key until a rebuild.
#[track_caller]
pub fn build<B: Builder>(builder: &Arc<B>, key: &Term<B::Key>) -> Term<B::Value> {
    build_with(builder, key, Schedule::default())
}

/// When a kept result stops being valid.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Schedule {
    /// A result older than this is built again (the old one is shown meanwhile). With
    /// several schedules on one key, the shortest wins.
    pub valid_for: Option<Duration>,
}

/// [`build`] with a [`Schedule`].
#[track_caller]
pub fn build_with<B: Builder>(
    builder: &Arc<B>,
    key: &Term<B::Key>,
    schedule: Schedule,
) -> Term<B::Value> {
    let op = Arc::new(Build(builder.clone()));
    cached(op, key.pair(&Term::value(())), schedule, Location::caller())
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
    cached(
        op.clone(),
        key.pair(value),
        Schedule::default(),
        Location::caller(),
    )
}

/// [`run`] with a [`Schedule`].
#[track_caller]
pub fn run_with<O: Operation>(
    op: &Arc<O>,
    key: &Term<O::Key>,
    value: &Term<O::Value>,
    schedule: Schedule,
) -> Term<O::Outcome> {
    cached(op.clone(), key.pair(value), schedule, Location::caller())
}

/// The actions of the key behind job `job_id` (its state's text, rebuild), if the engine
/// of `ctx` has shown that job.
pub fn job_actions(ctx: &Context, job_id: &str) -> Option<Arc<dyn JobActions>> {
    let actions = ctx.extension::<ActionsByJob>();
    let map = actions.0.lock().unwrap_or_else(|e| e.into_inner());
    map.get(job_id).map(|e| e.actions.clone())
}

/// Forget the result of `key`: its record is flagged, and if the key is in memory and no
/// job is under way, it is built again. (OCaml's `invalidate`.)
pub fn invalidate<O: Operation>(ctx: &Context, op: &O, key: &O::Key) -> Result<(), String> {
    let digest = op
        .key_digest(key)
        .map_err(|e| format!("cannot digest the key of {}: {e}", O::ID))?;
    let instance = ctx.extension::<Registry<O>>().get(&digest);
    match instance {
        Some(instance) => {
            Instance::invalidate(&instance);
            Ok(())
        }
        None => cache_db(ctx)?
            .invalidate(O::ID, &digest)
            .map(|_| ())
            .map_err(|e| e.to_string()),
    }
}

/// Forget what operation `O` keeps in memory (keys with a job under way stay), and with
/// `records`, its stored records too. (OCaml's `reset`.)
pub fn reset<O: Operation>(ctx: &Context, records: bool) -> Result<(), String> {
    ctx.extension::<Registry<O>>().forget_idle_and_done();
    if records {
        cache_db(ctx)?.reset(O::ID).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The record database of the engine of `ctx`: queries, history, the job behind a key.
pub fn database(ctx: &Context) -> Result<CacheDb, String> {
    cache_db(ctx)
}

/// The hit, miss and build counts of operation `O` in the engine of `ctx`.
pub fn counters<O: Operation>(ctx: &Context) -> Arc<Counters> {
    ctx.extension::<Registry<O>>().counters(ctx).clone()
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
    schedule: Schedule,
    location: &'static Location<'static>,
) -> Term<O::Outcome> {
    // A rebuild that makes the same value (by digest) does not re-run the consumers.
    let same = |a: &O::Outcome, b: &O::Outcome| match (Digest::of_value(a), Digest::of_value(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    let describe_op = op.clone();
    let prim = move |g: &mut crate::incr::Graph, (key, value): (O::Key, O::Value)| {
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
        lock(&instance).want(value, value_digest, ctx.step(), schedule.valid_for);
        // Start what is needed first, so the node shows the state it leads to.
        Instance::evaluate(&instance);
        let (cell, id) = {
            let mut i = lock(&instance);
            let cell = g.var(i.shown());
            (cell, i.subscribe(ctx.clone(), cell))
        };
        g.on_release(move || {
            let release = ctx.clone();
            ctx.after_propagation(move || {
                lock(&instance).unsubscribe(id);
                release.extension::<Registry<O>>().release_if_idle(&digest);
            });
        });
        cell.changeable()
    };
    let describe = move |(key, value): &(O::Key, O::Value)| describe_op.pp(key, value);
    input.primitive_at(
        location,
        O::LABEL.to_string(),
        prim,
        Some(std::rc::Rc::new(same)),
        Some(Box::new(describe)),
    )
}
