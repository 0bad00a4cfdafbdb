//! Jobs: units of logged work (OCaml's `Current.Job`).
//!
//! A job has an id (`YYYY-MM-DD/HHMMSS-label-rand`) and a log file named after it in the
//! state directory. Its work waits in [`Job::start`] for confirmation (if its level needs
//! it) and for a pool slot, then runs; it can be cancelled with a reason, which runs its
//! cancel hooks in registration order; [`Job::complete`] closes it.
//!
//! ```
//! use std::sync::Arc;
//! use current::{clock::ManualClock, Config, Context, Level};
//! use current::job::{Job, StartOptions};
//! use current::pool::Priority;
//!
//! # let dir = std::env::temp_dir().join(format!("current-doc-job-{}", std::process::id()));
//! let rt = tokio::runtime::Runtime::new()?;
//! let clock = Arc::new(ManualClock::new(std::time::UNIX_EPOCH));
//! let (ctx, _updates) = Context::new(&dir, clock, Config::new(None), rt.handle().clone());
//! let job = Job::create(&ctx, "build", Priority::Low)?;
//! rt.block_on(job.start(Level::Average, StartOptions::default()))?;
//! job.log("Hello");
//! job.complete();
//! let log = std::fs::read_to_string(job.log_path())?;
//! assert_eq!(log, "1970-01-01 00:00.00: Hello\n");
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod id;
mod step;

use std::fmt::Display;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime};

use tokio::sync::{watch, Notify};

use crate::clock::{log_stamp, pp_duration, Clock};
use crate::config::Config;
use crate::context::{self, Context};
use crate::level::Level;
use crate::pool::{Pool, Priority, Slot};

pub use id::{InvalidJobId, JobId};
pub use step::{step, AUTO_CANCEL};

/// Why a job could not be created or started.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The log file could not be created.
    #[error("cannot create the job log {path}: {source}")]
    Log {
        /// The log file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// OCaml: `Job.start called twice!`.
    #[error("Job.start called twice!")]
    StartedTwice,
    /// The job was cancelled before it could start (the reason, or the pool's message).
    #[error("{0}")]
    Cancelled(String),
    /// The engine is shutting down and starts no more jobs.
    #[error("the engine is shutting down: no new jobs start")]
    ShuttingDown,
    /// [`Job::standalone`] was called outside a tokio runtime.
    #[error("a standalone job runs on the tokio runtime it is made in: make it inside one")]
    NoRuntime,
}

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Created; `start` not called yet.
    Created,
    /// Waiting for a user to confirm it.
    WaitingForConfirmation,
    /// Waiting for a slot in a pool.
    WaitingForPool,
    /// Started.
    Running,
    /// Completed; its log is closed.
    Complete,
}

/// How to start a job: the pool to take a slot from, and a time limit.
#[derive(Clone, Debug, Default)]
pub struct StartOptions {
    /// Wait for a slot in this pool (held until the job completes).
    pub pool: Option<Pool>,
    /// Cancel the job with `Timeout (<duration>)` if it runs longer than this.
    pub timeout: Option<Duration>,
}

type Hook = (u64, Box<dyn FnOnce(&str) + Send>);

/// How much has been written to a job's log, and whether it is closed: what a live log
/// view waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogProgress {
    /// Bytes written so far.
    pub len: u64,
    /// The log is closed: nothing more will be written.
    pub closed: bool,
}

/// A job. Cloning shares it.
#[derive(Clone)]
pub struct Job(Arc<Inner>);

struct Inner {
    id: JobId,
    priority: Priority,
    log_path: PathBuf,
    clock: Arc<dyn Clock>,
    config: Config,
    context: Weak<context::Inner>,
    runtime: tokio::runtime::Handle,
    log: Mutex<Option<File>>,
    progress: watch::Sender<LogProgress>,
    phase: watch::Sender<Phase>,
    cancelled: watch::Sender<Option<String>>,
    approval: Notify,
    state: Mutex<State>,
    origin: std::sync::OnceLock<Origin>,
}

/// Which cached result a job builds: its operation, the digest of its key, and the build
/// number. The same three name the same work across restarts (a build interrupted by a
/// crash is built again with the same number), which is what makes a long-running job's
/// hand-off idempotent.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The operation's id.
    pub op: &'static str,
    /// The digest of the key.
    pub key: crate::digest::Digest,
    /// The build number of the key (0 for its first build).
    pub build: u64,
}

#[derive(Default)]
struct State {
    start_called: bool,
    started: Option<SystemTime>,
    cancelled: Option<String>,
    complete: bool,
    approved: bool,
    next_hook: u64,
    hooks: Vec<Hook>,
    slot: Option<Slot>,
    timeout: Option<tokio::task::AbortHandle>,
}

impl Job {
    /// A new job labelled `label` (the label is part of its id), with its log file created
    /// and the job registered as open in `ctx`.
    pub fn create(ctx: &Context, label: &str, priority: Priority) -> Result<Job, JobError> {
        let now = ctx.clock().now();
        let (id, path, file) = create_log(ctx.state_dir(), now, label)?;
        let job = Job(Arc::new(Inner {
            id: id.clone(),
            priority,
            log_path: path,
            clock: ctx.clock().clone(),
            config: ctx.config().clone(),
            context: Arc::downgrade(&ctx.0),
            runtime: ctx.runtime().clone(),
            log: Mutex::new(Some(file)),
            progress: watch::Sender::new(LogProgress {
                len: 0,
                closed: false,
            }),
            phase: watch::Sender::new(Phase::Created),
            cancelled: watch::Sender::new(None),
            approval: Notify::new(),
            state: Mutex::new(State::default()),
            origin: std::sync::OnceLock::new(),
        }));
        ctx.jobs_lock().insert(id, job.clone());
        Ok(job)
    }

    /// A job outside any engine, to test a step's body by calling it directly (the body
    /// of a `#[primitive]` is `<name>::body`). Its log is under `state_dir/job/`, its clock
    /// is the system's, nothing needs confirmation, and it runs on the tokio runtime it is
    /// made in.
    ///
    /// ```
    /// use current::job::{Job, StartOptions};
    /// use current::Level;
    ///
    /// # let dir = std::env::temp_dir().join(format!("current-standalone-doc-{}", std::process::id()));
    /// # tokio::runtime::Runtime::new()?.block_on(async {
    /// let job = Job::standalone(&dir, "test")?;
    /// job.start(Level::Average, StartOptions::default()).await?;
    /// job.log("hello");
    /// job.complete();
    /// assert!(std::fs::read_to_string(job.log_path())?.ends_with(": hello\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn standalone(state_dir: impl Into<PathBuf>, label: &str) -> Result<Job, JobError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| JobError::NoRuntime)?;
        let (ctx, _updates) = Context::new(
            state_dir,
            Arc::new(crate::clock::SystemClock),
            Config::new(None),
            runtime,
        );
        Job::create(&ctx, label, Priority::Low)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Each update of the state is a handful of assignments; a panic elsewhere cannot
        // leave it half-done.
        self.0.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The job's id.
    pub fn id(&self) -> &JobId {
        &self.0.id
    }

    /// Which cached result this job builds, when a cache started it.
    pub fn origin(&self) -> Option<&Origin> {
        self.0.origin.get()
    }

    /// Say which cached result this job builds (once; later calls are ignored).
    pub(crate) fn set_origin(&self, origin: Origin) {
        let _ = self.0.origin.set(origin);
    }

    /// The engine this job belongs to, while it runs.
    pub fn context(&self) -> Option<Context> {
        self.0.context.upgrade().map(Context)
    }

    /// The job's log file.
    pub fn log_path(&self) -> &Path {
        &self.0.log_path
    }

    /// The job's priority in pools.
    pub fn priority(&self) -> Priority {
        self.0.priority
    }

    /// Append a line to the log, stamped `YYYY-MM-DD HH:MM.SS: ` (UTC).
    pub fn log(&self, msg: impl Display) {
        let line = format!("{}: {msg}\n", log_stamp(self.0.clock.now()));
        self.write(line.as_bytes());
    }

    /// Append raw bytes to the log (a command's output). Ignored once the log is closed; a
    /// failure to write is reported through `tracing`, never to the caller.
    pub fn write(&self, data: &[u8]) {
        let mut log = self.0.log.lock().unwrap_or_else(|e| e.into_inner());
        let Some(file) = log.as_mut() else {
            tracing::debug!(job = %self.0.id, "write to a closed log ignored");
            return;
        };
        if let Err(e) = file.write_all(data) {
            tracing::warn!(job = %self.0.id, "cannot write to {}: {e}", self.0.log_path.display());
            return;
        }
        drop(log);
        self.0.progress.send_modify(|p| p.len += data.len() as u64);
    }

    /// Watch how much has been written to the log and whether it is closed.
    pub fn log_progress(&self) -> watch::Receiver<LogProgress> {
        self.0.progress.subscribe()
    }

    /// Wait until the log is longer than `seen` bytes or is closed; its progress then.
    /// (Pass the length already read, so that nothing written meanwhile is missed.)
    pub async fn wait_for_log_data(&self, seen: u64) -> LogProgress {
        let mut rx = self.0.progress.subscribe();
        loop {
            let now = *rx.borrow_and_update();
            if now.len > seen || now.closed || rx.changed().await.is_err() {
                return now;
            }
        }
    }

    /// Where the job is in its life.
    pub fn phase(&self) -> Phase {
        *self.0.phase.borrow()
    }

    /// Watch where the job is in its life.
    pub fn watch_phase(&self) -> watch::Receiver<Phase> {
        self.0.phase.subscribe()
    }

    /// When the job started running (after confirmation and its pool slot).
    pub fn start_time(&self) -> Option<SystemTime> {
        self.state().started
    }

    /// Whether the job is waiting for a user to confirm it.
    pub fn is_waiting_for_confirmation(&self) -> bool {
        self.phase() == Phase::WaitingForConfirmation
    }

    /// The reason the job was cancelled, if it was.
    pub fn cancelled(&self) -> Option<String> {
        self.state().cancelled.clone()
    }

    /// Run `work` until it finishes or the job is cancelled, whichever comes first: on a
    /// cancellation (a user's, a timeout, auto-cancel, shutdown) `work` is dropped and the
    /// reason returned. `#[primitive]` runs its body this way.
    pub async fn cancellable<F: std::future::Future>(&self, work: F) -> Result<F::Output, String> {
        tokio::select! {
            biased;
            reason = self.until_cancelled() => Err(reason),
            output = work => Ok(output),
        }
    }

    /// Wait until the job is cancelled; the reason. (Completion is not a cancellation:
    /// to stop work when the job completes, use a cancel hook.)
    pub async fn until_cancelled(&self) -> String {
        let mut rx = self.0.cancelled.subscribe();
        loop {
            if let Some(reason) = rx.borrow_and_update().clone() {
                return reason;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Start the job: wait for confirmation if its `level` needs it (logging
    /// `Waiting for confirm-threshold > <level>`), then for a slot of the pool (logging
    /// `Waiting for resource in pool <p>` and `Got resource from pool <p>` if it has to
    /// wait, as OCurrent does), then record the start time. With a timeout, the job is cancelled with `Timeout (<d>)` if it runs
    /// longer.
    ///
    /// Fails if called twice, if the job is cancelled first, or if the engine is shutting
    /// down.
    pub async fn start(&self, level: Level, options: StartOptions) -> Result<(), JobError> {
        let started = self.try_start(level, options).await;
        if started.is_err() {
            // No longer waiting for anything: a cancelled job must not offer approval.
            self.0.phase.send_if_modified(|phase| {
                let waiting =
                    matches!(phase, Phase::WaitingForConfirmation | Phase::WaitingForPool);
                if waiting {
                    *phase = Phase::Created;
                }
                waiting
            });
        }
        started
    }

    async fn try_start(&self, level: Level, options: StartOptions) -> Result<(), JobError> {
        {
            let mut state = self.state();
            if state.start_called {
                drop(state);
                self.log("Job.start called twice!");
                return Err(JobError::StartedTwice);
            }
            state.start_called = true;
        }
        if self.shutting_down() {
            return Err(JobError::ShuttingDown);
        }
        if let Some(reason) = self.cancelled() {
            return Err(JobError::Cancelled(reason));
        }
        self.wait_for_confirmation(level).await?;
        let free_slot = options.pool.as_ref().and_then(Pool::try_acquire);
        if let Some(slot) = free_slot {
            self.state().slot = Some(slot);
        } else if let Some(pool) = &options.pool {
            self.log(format_args!("Waiting for resource in pool {pool}"));
            self.0.phase.send_replace(Phase::WaitingForPool);
            let slot = tokio::select! {
                slot = pool.acquire(self.0.priority) => slot,
                _ = self.until_cancelled() => {
                    return Err(JobError::Cancelled(format!(
                        "Cancelled waiting for resource from pool {:?}",
                        pool.name()
                    )));
                }
            };
            self.log(format_args!("Got resource from pool {pool}"));
            self.state().slot = Some(slot);
        }
        if self.shutting_down() {
            return Err(JobError::ShuttingDown);
        }
        let now = self.0.clock.now();
        let timeout = options.timeout.map(|limit| {
            let job = self.clone();
            let sleep = self.0.clock.sleep(limit);
            self.0
                .runtime
                .spawn(async move {
                    sleep.await;
                    // A job cancelled for another reason meanwhile is left alone.
                    if job.cancelled().is_none() {
                        job.cancel(&format!("Timeout ({})", pp_duration(limit)));
                    }
                })
                .abort_handle()
        });
        {
            let mut state = self.state();
            state.started = Some(now);
            state.timeout = timeout;
        }
        self.0.phase.send_replace(Phase::Running);
        Ok(())
    }

    async fn wait_for_confirmation(&self, level: Level) -> Result<(), JobError> {
        let config = &self.0.config;
        if !config.needs_confirmation(level) {
            return Ok(());
        }
        self.log(format_args!("Waiting for confirm-threshold > {level}"));
        self.0.phase.send_replace(Phase::WaitingForConfirmation);
        let mut threshold = config.subscribe();
        loop {
            let approval = self.0.approval.notified();
            if self.state().approved {
                self.log("Explicit approval received for this job");
                return Ok(());
            }
            if !config.needs_confirmation(level) {
                match config.confirm() {
                    // The threshold is now above this job's level.
                    Some(_) => self.log(format_args!("Confirm-threshold now > {level}")),
                    None => self.log("Confirm-threshold now disabled"),
                }
                return Ok(());
            }
            tokio::select! {
                _ = threshold.changed() => {}
                _ = approval => {}
                reason = self.until_cancelled() => return Err(JobError::Cancelled(reason)),
            }
        }
    }

    /// Let this job start now even though its level needs confirmation.
    pub fn approve_early_start(&self) {
        self.state().approved = true;
        self.0.approval.notify_waiters();
    }

    /// Cancel the job: log `Cancelling: <reason>` and run its cancel hooks in the order they
    /// were added. A second cancel is only logged. Does nothing once the job is complete.
    pub fn cancel(&self, reason: &str) {
        let hooks = {
            let mut state = self.state();
            if state.complete {
                return;
            }
            if let Some(first) = &state.cancelled {
                let first = first.clone();
                drop(state);
                self.log(format_args!(
                    "cancel({reason:?}): already cancelled ({first:?})!"
                ));
                return;
            }
            state.cancelled = Some(reason.to_string());
            std::mem::take(&mut state.hooks)
        };
        self.log(format_args!("Cancelling: {reason}"));
        self.0.cancelled.send_replace(Some(reason.to_string()));
        run_hooks(&self.0.id, hooks, reason);
    }

    /// Run `hook` with the reason when the job is cancelled, or with `Job complete` when
    /// it completes; at once if either has happened.
    pub fn on_cancel(&self, hook: impl FnOnce(&str) + Send + 'static) {
        self.add_hook(Box::new(hook));
    }

    /// Like [`Job::on_cancel`], for the duration of some work only: dropping the returned
    /// guard removes the hook if it has not run (so a job running many commands does not
    /// gather one hook per command).
    pub fn cancel_hook(&self, hook: impl FnOnce(&str) + Send + 'static) -> CancelHook {
        CancelHook {
            job: Arc::downgrade(&self.0),
            id: self.add_hook(Box::new(hook)),
        }
    }

    /// Add a hook, or run it at once if the job is already cancelled or complete; the
    /// hook's id if it was added.
    fn add_hook(&self, hook: Box<dyn FnOnce(&str) + Send>) -> Option<u64> {
        let mut state = self.state();
        let now = if let Some(reason) = &state.cancelled {
            reason.clone()
        } else if state.complete {
            COMPLETE.to_string()
        } else {
            let id = state.next_hook;
            state.next_hook += 1;
            state.hooks.push((id, hook));
            return Some(id);
        };
        drop(state);
        run_hooks(&self.0.id, vec![(0, hook)], &now);
        None
    }

    /// Complete the job: run the remaining cancel hooks with `Job complete`, give back its
    /// pool slot, close its log and remove it from the open jobs. Idempotent.
    pub fn complete(&self) {
        let (hooks, slot, timeout) = {
            let mut state = self.state();
            if state.complete {
                return;
            }
            state.complete = true;
            (
                std::mem::take(&mut state.hooks),
                state.slot.take(),
                state.timeout.take(),
            )
        };
        if let Some(timeout) = timeout {
            timeout.abort();
        }
        run_hooks(&self.0.id, hooks, COMPLETE);
        drop(slot);
        // Writes are unbuffered, so closing the file is all the flushing there is to do;
        // an fsync per job would cost more than the job.
        drop(self.0.log.lock().unwrap_or_else(|e| e.into_inner()).take());
        self.0.progress.send_modify(|p| p.closed = true);
        self.0.phase.send_replace(Phase::Complete);
        if let Some(ctx) = self.0.context.upgrade() {
            Context(ctx).jobs_lock().remove(&self.0.id);
        }
    }

    fn shutting_down(&self) -> bool {
        self.0
            .context
            .upgrade()
            .is_some_and(|ctx| Context(ctx).is_shutting_down())
    }
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Job({})", self.0.id)
    }
}

/// The reason hooks are given when a job completes.
pub const COMPLETE: &str = "Job complete";

/// The guard of [`Job::cancel_hook`]: dropping it removes the hook.
#[must_use = "dropping the guard removes the hook at once"]
pub struct CancelHook {
    job: Weak<Inner>,
    id: Option<u64>,
}

impl Drop for CancelHook {
    fn drop(&mut self) {
        if let (Some(id), Some(job)) = (self.id, self.job.upgrade()) {
            Job(job).state().hooks.retain(|(h, _)| *h != id);
        }
    }
}

fn run_hooks(id: &JobId, hooks: Vec<Hook>, reason: &str) {
    for (_, hook) in hooks {
        if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(reason)))
        {
            tracing::error!(
                job = %id,
                "a cancel hook panicked: {}",
                crate::incr::panic_message(panic.as_ref())
            );
        }
    }
}

fn create_log(
    state_dir: &Path,
    now: SystemTime,
    label: &str,
) -> Result<(JobId, PathBuf, File), JobError> {
    let mut attempts = 0;
    loop {
        let id = JobId::generate(now, label);
        let path = id.log_path(state_dir);
        let log_error = |source| JobError::Log {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(log_error)?;
        }
        match OpenOptions::new().append(true).create_new(true).open(&path) {
            Ok(file) => return Ok((id, path, file)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists && attempts < 10 => attempts += 1,
            Err(e) => return Err(log_error(e)),
        }
    }
}
