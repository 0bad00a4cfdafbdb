//! The backend trait: how a kind of long-running job is started, watched and killed.
//!
//! Ketrew's `LONG_RUNNING`, in Rust. A backend's run parameters have two phases: the
//! [`Backend::Spec`] it is given (the *created* phase) and the [`Backend::Running`] it
//! learns when it starts the job (the *running* phase: a scheduler's job id, a pid).
//! Both are stored, in a versioned envelope, after every transition, so that a restarted
//! engine can pick the job up where it was.
//!
//! Whether a job succeeded is not the backend's call: every job runs a wrapper script
//! that writes an exit marker (see [`RunDir`]), and the marker decides. What a backend
//! reports is the scheduler's view ([`Liveness`]): whether the job is still alive, and
//! why it ended when the scheduler knows better than the marker (a time limit, a node
//! failure, a cancellation). Ketrew's `update` is that view combined with the marker,
//! done once for every backend by the supervisor.

use std::future::Future;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::run_dir::RunDir;
use super::scheduler::SchedulerState;

/// A kind of long-running job: a detached process, a cluster scheduler.
///
/// Status and kill calls take every job of the backend at once, so that a scheduler is
/// asked once per poll cycle however many jobs are in flight (`squeue` with a list of
/// ids, not one `squeue` per job).
pub trait Backend: Send + Sync + 'static {
    /// The backend's stable name, stored with each of its jobs: a job is resumed only by
    /// a backend of the same name.
    const NAME: &'static str;

    /// What a job asks of the backend (the created phase): resources, a queue.
    type Spec: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;

    /// What the backend knows of a started job (the running phase): a job id, a pid.
    type Running: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;

    /// How often to poll, how long to wait for a lost job's marker, how many recoverable
    /// errors in a row a job survives.
    fn settings(&self) -> Settings {
        Settings::default()
    }

    /// Start the job whose wrapper script is `job.run_dir().wrapper()`, named
    /// `job.name()` in the scheduler.
    fn start(
        &self,
        job: &Submission<'_, Self::Spec>,
    ) -> impl Future<Output = Result<Self::Running, BackendError>> + Send;

    /// Find a job submitted under `job.name()` whose running parameters were never
    /// recorded (the engine stopped between submitting it and storing what the
    /// scheduler said). `None`: it was never submitted, and is submitted now.
    fn find(
        &self,
        job: &Submission<'_, Self::Spec>,
    ) -> impl Future<Output = Result<Option<Self::Running>, BackendError>> + Send;

    /// The scheduler's view of each job, in the order given: one call for all of them.
    fn status(
        &self,
        jobs: &[Tracked<'_, Self>],
    ) -> impl Future<Output = Result<Vec<Liveness<Self::Running>>, BackendError>> + Send;

    /// Kill these jobs (and every process they started): one call for all of them.
    fn kill(
        &self,
        jobs: &[Tracked<'_, Self>],
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// What to show of a job: pairs of a title and a text, without any I/O.
    fn describe(&self, job: &Tracked<'_, Self>) -> Vec<(String, String)>;

    /// The queries this backend answers about a job beyond `stdout` and `stderr`
    /// (which every backend has): name and what it shows.
    fn queries(&self) -> Vec<(&'static str, &'static str)> {
        Vec::new()
    }

    /// Answer the query `name` (one of [`Backend::queries`]) about a job.
    fn query(
        &self,
        job: &Tracked<'_, Self>,
        name: &str,
    ) -> impl Future<Output = Result<String, BackendError>> + Send;
}

/// A job about to be submitted (or looked up by name after a crash).
#[derive(Debug)]
pub struct Submission<'a, S> {
    pub(crate) name: &'a str,
    pub(crate) run_dir: &'a RunDir,
    pub(crate) spec: &'a S,
}

impl<'a, S> Submission<'a, S> {
    /// A submission of the job `name` whose files are in `run_dir` (for backends' tests).
    pub fn new(name: &'a str, run_dir: &'a RunDir, spec: &'a S) -> Self {
        Submission {
            name,
            run_dir,
            spec,
        }
    }

    /// The job's unique name, stored before the scheduler is called.
    pub fn name(&self) -> &str {
        self.name
    }

    /// Where its script, output and exit marker are.
    pub fn run_dir(&self) -> &RunDir {
        self.run_dir
    }

    /// What it asks of the backend.
    pub fn spec(&self) -> &S {
        self.spec
    }
}

/// A started job, as the supervisor knows it.
pub struct Tracked<'a, B: Backend + ?Sized> {
    pub(crate) name: &'a str,
    pub(crate) run_dir: &'a RunDir,
    pub(crate) spec: &'a B::Spec,
    pub(crate) running: &'a B::Running,
}

impl<'a, B: Backend + ?Sized> Tracked<'a, B> {
    /// A started job (for backends' tests).
    pub fn new(
        name: &'a str,
        run_dir: &'a RunDir,
        spec: &'a B::Spec,
        running: &'a B::Running,
    ) -> Self {
        Tracked {
            name,
            run_dir,
            spec,
            running,
        }
    }

    /// The job's unique name.
    pub fn name(&self) -> &str {
        self.name
    }

    /// Where its files are.
    pub fn run_dir(&self) -> &RunDir {
        self.run_dir
    }

    /// What it asked of the backend.
    pub fn spec(&self) -> &B::Spec {
        self.spec
    }

    /// What the backend learnt when it started it.
    pub fn running(&self) -> &B::Running {
        self.running
    }
}

/// What a backend says of one job in a poll cycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Liveness<R> {
    /// The running parameters, updated if the backend learnt something (a pid read
    /// from its file, for instance); stored when they change.
    pub running: R,
    /// The scheduler's state of the job, or `None` when the scheduler does not know it
    /// (never seen, or forgotten since it ended).
    pub state: Option<SchedulerState>,
}

/// The timing of a backend's polling and its patience.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The first interval between two status calls, and the interval again after any
    /// change.
    pub poll_min: Duration,
    /// The longest interval: each cycle that sees no change doubles it up to this.
    pub poll_max: Duration,
    /// How long to wait for the exit marker of a job the scheduler says has ended (a
    /// shared filesystem may show the file late) before failing it as lost.
    pub grace: Duration,
    /// How many recoverable errors in a row a job survives before it fails.
    pub error_budget: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            poll_min: Duration::from_secs(1),
            poll_max: Duration::from_secs(30),
            grace: Duration::from_secs(60),
            error_budget: 10,
        }
    }
}

/// A backend's error: fatal (the job fails) or recoverable (the job stays alive and
/// the call is tried again, up to a budget of consecutive errors).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The job cannot go on: a rejected submission, a missing script.
    #[error("{0}")]
    Fatal(String),
    /// Worth trying again: the scheduler did not answer, a command timed out.
    #[error("{0} (will try again)")]
    Recoverable(String),
}

impl BackendError {
    /// Whether trying again may help.
    pub fn is_recoverable(&self) -> bool {
        matches!(self, BackendError::Recoverable(_))
    }
}
