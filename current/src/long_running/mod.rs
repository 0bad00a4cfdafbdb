//! Long-running jobs: work handed to a backend (a detached local process, a cluster
//! scheduler) that goes on while the engine stops, crashes or restarts, and is
//! re-attached when it starts again.
//!
//! A primitive hands its work over with [`run`]: the job's script runs, through a
//! wrapper that records its output and exit code in a run directory
//! (`<state dir>/run/<name>/`, see [`RunDir`]), on a [`Backend`]. The backend's
//! parameters are stored at every transition (see [`Handle`]), so that:
//!
//! - a build interrupted by a restart finds its job again instead of submitting it twice
//!   (a unique name is stored before the scheduler is called, and a job whose id was
//!   never recorded is looked up by that name);
//! - a backend registered at start-up ([`register`]) resumes polling every job it left
//!   running, whether or not the pipeline still wants it;
//! - a cancel is stored before the backend hears of it, so a crash in between still
//!   kills the job after the restart.
//!
//! Backends: [`local::Local`] (a detached process group on this machine) and
//! [`slurm::Slurm`]; [`pbs`] and [`lsf`] have command builders and status parsers.
//!
//! ```no_run
//! use std::sync::Arc;
//! use current::job::Job;
//! use current::long_running::{self, local::Local, Script};
//! use current::primitive;
//!
//! /// Trains a model, detached: the engine can restart meanwhile.
//! #[primitive]
//! async fn train(job: &Job, epochs: u32) -> Result<String, String> {
//!     let script = Script::new(format!("python3 train.py --epochs {epochs}"));
//!     let done = long_running::run(job, &Arc::new(Local::default()), &script, ())
//!         .await
//!         .map_err(|e| e.to_string())?;
//!     std::fs::read_to_string(done.run_dir.stdout()).map_err(|e| e.to_string())
//! }
//! # fn main() {}
//! ```

mod backend;
mod command;
mod decide;
pub mod local;
pub mod lsf;
pub mod pbs;
mod record;
mod run;
mod run_dir;
pub mod scheduler;
pub mod slurm;
mod supervisor;

use std::path::PathBuf;
use std::sync::Arc;

pub use backend::{Backend, BackendError, Liveness, Settings, Submission, Tracked};
pub use command::CommandLine;
pub use record::{Handle, HandleState};
pub use run::{run, Completed};
pub use run_dir::{RunDir, Script};
pub use scheduler::{Failure, SchedulerState};
pub use supervisor::CRASH_AFTER_SUBMIT;

use crate::store::StoreError;
use crate::Context;
use supervisor::{Driver, Supervisor};

/// Why a long-running job could not be run.
#[derive(Debug, thiserror::Error)]
pub enum LongRunError {
    /// The job belongs to no running engine (a standalone job).
    #[error("a long-running job needs a job of a running engine")]
    NoEngine,
    /// Two different backend types share one name.
    #[error("another backend is already registered as {0:?}")]
    NameTaken(&'static str),
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The run directory could not be written.
    #[error("cannot prepare the run directory {}: {source}", path.display())]
    RunDir {
        /// The directory.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The parameters could not be encoded.
    #[error("cannot encode the job's parameters: {0}")]
    Encode(String),
    /// The job failed (or was cancelled), for this reason.
    #[error("{0}")]
    Failed(String),
}

/// Register `backend` with `ctx`'s engine and resume polling every job it left in
/// flight (what a program does at start-up; [`run`] registers its backend too).
pub fn register<B: Backend>(ctx: &Context, backend: &Arc<B>) -> Result<(), LongRunError> {
    Driver::register(ctx, backend).map(|_| ())
}

/// How many poll cycles of backend `name` asked it for the state of its jobs (each
/// cycle asks once for all of them).
pub fn poll_cycles(ctx: &Context, name: &str) -> u64 {
    ctx.extension::<Supervisor>()
        .driver(name)
        .map_or(0, |d| d.cycles())
}

/// What the job page shows of the long-running job of engine job `job_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// Its stored handle.
    pub handle: Handle,
    /// The backend's description (empty when its backend is not registered).
    pub description: Vec<(String, String)>,
    /// The queries that can be asked about it: name and what it shows.
    pub queries: Vec<(String, String)>,
}

/// The long-running job of engine job `job_id`, if it has one.
pub fn status(ctx: &Context, job_id: &str) -> Option<Status> {
    let sup = ctx.extension::<Supervisor>();
    let handle = sup.handle_of(ctx, job_id)?;
    let mut queries = vec![
        (
            "stdout".to_string(),
            "the job's standard output".to_string(),
        ),
        ("stderr".to_string(), "the job's standard error".to_string()),
    ];
    let description = match sup.driver(&handle.backend) {
        Some(d) => {
            queries.extend(
                d.queries()
                    .into_iter()
                    .map(|(n, d)| (n.to_string(), d.to_string())),
            );
            d.describe(&handle)
        }
        None => vec![(
            "backend".to_string(),
            format!("{:?} is not registered in this program", handle.backend),
        )],
    };
    Some(Status {
        handle,
        description,
        queries,
    })
}

/// Why a query could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The job has no long-running part.
    #[error("job {0} has no long-running job")]
    NoSuchJob(String),
    /// Its backend answers no query of that name.
    #[error("no query {0:?}")]
    NoSuchQuery(String),
    /// The backend failed to answer.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// Answer the query `name` about the long-running job of engine job `job_id`: `stdout`,
/// `stderr` (the last 64 KiB) or one of its backend's queries.
pub async fn query(ctx: &Context, job_id: &str, name: &str) -> Result<String, QueryError> {
    let sup = ctx.extension::<Supervisor>();
    let handle = sup
        .handle_of(ctx, job_id)
        .ok_or_else(|| QueryError::NoSuchJob(job_id.to_string()))?;
    let file = match name {
        "stdout" => Some(handle.run_dir.stdout()),
        "stderr" => Some(handle.run_dir.stderr()),
        _ => None,
    };
    if let Some(path) = file {
        return Ok(tail_of(&path, 64 * 1024));
    }
    let driver = sup
        .driver(&handle.backend)
        .filter(|d| d.queries().iter().any(|(n, _)| *n == name))
        .ok_or_else(|| QueryError::NoSuchQuery(name.to_string()))?;
    Ok(driver.query(&handle, name).await?)
}

/// The last `max` bytes of a file (empty when it does not exist).
fn tail_of(path: &std::path::Path, max: u64) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(max)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}
