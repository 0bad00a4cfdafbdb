//! The `slurm` backend: jobs submitted with `sbatch`, watched with one `squeue` (and,
//! for jobs gone from the queue, one `sacct`) per poll cycle, killed with `scancel`.
//!
//! It needs `sbatch`, `squeue`, `sacct` and `scancel` on the `PATH`, and a filesystem
//! shared with the nodes for the run directories (the state directory). Status calls
//! that fail (the controller did not answer, slurmdbd is down) are recoverable: a job
//! is never failed because its status could not be read, until its budget of errors in
//! a row is spent. Without an accounting database, `sacct --completion` (the job
//! completion log) is used for jobs that have left the queue; without either, a job
//! that has left the queue is decided by its exit marker alone.

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::long_running::backend::{
    Backend, BackendError, Liveness, Settings, Submission, Tracked,
};
use crate::long_running::CommandLine;
use crate::process::quote;

use super::{
    find, parse_sbatch, sacct_by_ids, sacct_by_names, sacct_outcome, sbatch_command,
    scancel_commands, scancel_outcome, squeue_by_ids, squeue_by_names, squeue_outcome, JobId,
    QueryError, SacctSource, SbatchOptions,
};

/// A Slurm cluster, reached through its commands.
#[derive(Debug)]
pub struct Slurm {
    settings: Settings,
    partition: Option<String>,
    extra_args: Vec<String>,
    command_timeout: Duration,
    /// Where `sacct` finds ended jobs: `None` until known (plain `sacct` is tried first,
    /// and the completion log when accounting is disabled).
    sacct: Mutex<Option<SacctSource>>,
}

impl Default for Slurm {
    fn default() -> Self {
        Slurm {
            settings: Settings {
                poll_min: Duration::from_secs(5),
                poll_max: Duration::from_secs(60),
                grace: Duration::from_secs(120),
                error_budget: 10,
            },
            partition: None,
            extra_args: Vec::new(),
            command_timeout: Duration::from_secs(60),
            sacct: Mutex::new(None),
        }
    }
}

impl Slurm {
    /// The cluster's default partition, polling every 5 s at first and every minute at
    /// most, two minutes of grace for a late exit marker, 60 s for each command.
    pub fn new() -> Slurm {
        Slurm::default()
    }

    /// Poll and wait as `settings` say.
    pub fn settings(mut self, settings: Settings) -> Slurm {
        self.settings = settings;
        self
    }

    /// Submit to `partition` unless a job's spec names one.
    pub fn partition(mut self, partition: impl Into<String>) -> Slurm {
        self.partition = Some(partition.into());
        self
    }

    /// Add these `sbatch` options to every job (`--account=lab`).
    pub fn extra_args(mut self, args: Vec<String>) -> Slurm {
        self.extra_args = args;
        self
    }

    /// Give up on a Slurm command after `timeout` (a recoverable error).
    pub fn command_timeout(mut self, timeout: Duration) -> Slurm {
        self.command_timeout = timeout;
        self
    }

    /// Ask `sacct` this way about jobs that have left the queue (by default, plain
    /// `sacct`, or `sacct --completion` once it says accounting is disabled).
    pub fn sacct(self, source: SacctSource) -> Slurm {
        *self.lock_sacct() = Some(source);
        self
    }

    fn lock_sacct(&self) -> std::sync::MutexGuard<'_, Option<SacctSource>> {
        self.sacct.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `cmd`, giving up after the command timeout.
    async fn run(&self, cmd: &CommandLine) -> Result<Output, BackendError> {
        let mut command = tokio::process::Command::new(&cmd.program);
        command
            .args(&cmd.args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        match &cmd.stdin {
            Some(path) => {
                let file = std::fs::File::open(path).map_err(|e| {
                    BackendError::Fatal(format!("cannot open {}: {e}", path.display()))
                })?;
                command.stdin(file);
            }
            None => {
                command.stdin(Stdio::null());
            }
        }
        let child = command
            .spawn()
            .map_err(|e| BackendError::Fatal(format!("cannot run {}: {e}", cmd.program)))?;
        match tokio::time::timeout(self.command_timeout, child.wait_with_output()).await {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(e)) => Err(BackendError::Recoverable(format!("{cmd}: {e}"))),
            Err(_) => Err(BackendError::Recoverable(format!(
                "{cmd} did not answer within {} s",
                self.command_timeout.as_secs()
            ))),
        }
    }

    /// The jobs `sacct` knows among `ids`, asked once; `None` when it cannot tell (no
    /// accounting and no completion log).
    async fn sacct_ids(
        &self,
        since: Duration,
        ids: &[JobId],
    ) -> Result<Option<Vec<super::JobStatus>>, BackendError> {
        let source = self.lock_sacct().unwrap_or(SacctSource::Accounting);
        let Some(cmd) = sacct_by_ids(source, since, ids) else {
            return Ok(Some(Vec::new()));
        };
        let output = self.run(&cmd).await?;
        match sacct_outcome(&output) {
            Ok(jobs) => {
                *self.lock_sacct() = Some(source);
                Ok(Some(jobs))
            }
            Err(QueryError::AccountingDisabled) if source == SacctSource::Accounting => {
                // The next cycle asks the job completion log.
                tracing::info!("Slurm accounting is disabled: using sacct --completion");
                *self.lock_sacct() = Some(SacctSource::Completion);
                Ok(None)
            }
            Err(e) => Err(BackendError::Recoverable(e.to_string())),
        }
    }
}

/// What a job asks of Slurm.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlurmSpec {
    /// The partition (by default the backend's, else the cluster's).
    pub partition: Option<String>,
    /// `--time`: Slurm ends the job (`TIMEOUT`) when it runs longer.
    pub time_limit: Option<Duration>,
    /// `--cpus-per-task`.
    pub cpus: Option<u32>,
    /// `--mem`, in MiB.
    pub memory_mb: Option<u64>,
    /// More `sbatch` options for this job.
    pub extra_args: Vec<String>,
}

/// What the Slurm backend knows of a submitted job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlurmRunning {
    /// Slurm's job id.
    pub job_id: String,
    /// When it was submitted (Unix seconds): how far back `sacct` must look.
    pub submitted: u64,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Whether `sbatch`'s complaint is about the controller being busy or away (worth
/// trying again) rather than about the job.
fn transient(stderr: &str) -> bool {
    [
        "Socket timed out",
        "Unable to contact slurm controller",
        "Unexpected message received",
        "Resource temporarily unavailable",
        "Connection refused",
    ]
    .iter()
    .any(|s| stderr.contains(s))
}

impl Backend for Slurm {
    const NAME: &'static str = "slurm";
    type Spec = SlurmSpec;
    type Running = SlurmRunning;

    fn settings(&self) -> Settings {
        self.settings
    }

    async fn start(&self, job: &Submission<'_, SlurmSpec>) -> Result<SlurmRunning, BackendError> {
        let run = job.run_dir();
        let spec = job.spec();
        let mut extra = self.extra_args.clone();
        extra.extend(spec.extra_args.iter().cloned());
        let options = SbatchOptions {
            workdir: Some(run.path().to_path_buf()),
            partition: spec.partition.clone().or_else(|| self.partition.clone()),
            time_limit: spec.time_limit,
            cpus: spec.cpus,
            memory_mb: spec.memory_mb,
            extra_args: extra,
            ..SbatchOptions::new(
                job.name(),
                run.path().join("slurm.out"),
                run.path().join("slurm.err"),
            )
        };
        let script = options
            .render_script(&format!("exec bash {}", quote(run.wrapper())))
            .map_err(|e| BackendError::Fatal(e.to_string()))?;
        let path = run.path().join("job.sbatch");
        std::fs::write(&path, script)
            .map_err(|e| BackendError::Fatal(format!("cannot write {}: {e}", path.display())))?;
        let cmd = sbatch_command(&path).map_err(|e| BackendError::Fatal(e.to_string()))?;
        let output = self.run(&cmd).await?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            let msg = format!("{cmd}: {}", stderr.trim());
            return Err(if transient(&stderr) {
                BackendError::Recoverable(msg)
            } else {
                BackendError::Fatal(msg)
            });
        }
        // It may have been submitted even if its answer does not read: look it up by
        // name before submitting again.
        let id = parse_sbatch(&String::from_utf8_lossy(&output.stdout))
            .map_err(|e| BackendError::Recoverable(e.to_string()))?;
        Ok(SlurmRunning {
            job_id: id.as_str().to_string(),
            submitted: unix_now(),
        })
    }

    async fn find(
        &self,
        job: &Submission<'_, SlurmSpec>,
    ) -> Result<Option<SlurmRunning>, BackendError> {
        let name = job.name();
        let by_name = |jobs: &[super::JobStatus]| {
            jobs.iter()
                .rev()
                .find(|j| j.name == name)
                .map(|j| SlurmRunning {
                    job_id: j.id.as_str().to_string(),
                    submitted: unix_now(),
                })
        };
        let cmd = squeue_by_names(&[name])
            .map_err(|e| BackendError::Fatal(e.to_string()))?
            .ok_or_else(|| BackendError::Fatal("no job name".into()))?;
        let output = self.run(&cmd).await?;
        let queued =
            squeue_outcome(&output).map_err(|e| BackendError::Recoverable(e.to_string()))?;
        if let Some(found) = by_name(&queued) {
            return Ok(Some(found));
        }
        // Gone from the queue already: ask sacct, over the last two days.
        let source = self.lock_sacct().unwrap_or(SacctSource::Accounting);
        let since = Duration::from_secs(2 * 24 * 3600);
        let Some(cmd) = sacct_by_names(source, since, &[name])
            .map_err(|e| BackendError::Fatal(e.to_string()))?
        else {
            return Ok(None);
        };
        let output = self.run(&cmd).await?;
        match sacct_outcome(&output) {
            Ok(jobs) => Ok(by_name(&jobs)),
            Err(QueryError::AccountingDisabled) => Ok(None),
            Err(e) => Err(BackendError::Recoverable(e.to_string())),
        }
    }

    async fn status(
        &self,
        jobs: &[Tracked<'_, Self>],
    ) -> Result<Vec<Liveness<SlurmRunning>>, BackendError> {
        let ids: Vec<JobId> = jobs
            .iter()
            .map(|j| JobId::new(j.running().job_id.clone()))
            .collect::<Result<_, _>>()
            .map_err(|e| BackendError::Fatal(e.to_string()))?;
        let mut known = Vec::new();
        if let Some(cmd) = squeue_by_ids(&ids) {
            let output = self.run(&cmd).await?;
            known =
                squeue_outcome(&output).map_err(|e| BackendError::Recoverable(e.to_string()))?;
        }
        // Jobs gone from the queue: one sacct for all of them.
        let missing: Vec<JobId> = ids
            .iter()
            .filter(|id| find(&known, id).is_none())
            .cloned()
            .collect();
        if !missing.is_empty() {
            let oldest = jobs
                .iter()
                .map(|j| j.running().submitted)
                .min()
                .unwrap_or(0);
            let since = Duration::from_secs(unix_now().saturating_sub(oldest) + 3600);
            if let Some(ended) = self.sacct_ids(since, &missing).await? {
                known.extend(ended);
            }
        }
        Ok(jobs
            .iter()
            .zip(&ids)
            .map(|(job, id)| Liveness {
                running: job.running().clone(),
                state: find(&known, id).map(|j| j.state.clone()),
            })
            .collect())
    }

    async fn kill(&self, jobs: &[Tracked<'_, Self>]) -> Result<(), BackendError> {
        let ids: Vec<JobId> = jobs
            .iter()
            .filter_map(|j| JobId::new(j.running().job_id.clone()).ok())
            .collect();
        for cmd in scancel_commands(&ids) {
            let output = self.run(&cmd).await?;
            scancel_outcome(&output).map_err(|e| BackendError::Recoverable(e.to_string()))?;
        }
        Ok(())
    }

    fn describe(&self, job: &Tracked<'_, Self>) -> Vec<(String, String)> {
        let spec = job.spec();
        let mut out = vec![
            (
                "Backend".to_string(),
                format!("slurm, job {} ({})", job.running().job_id, job.name()),
            ),
            (
                "Run directory".to_string(),
                job.run_dir().path().display().to_string(),
            ),
        ];
        if let Some(p) = spec.partition.as_ref().or(self.partition.as_ref()) {
            out.push(("Partition".to_string(), p.clone()));
        }
        if let Some(t) = spec.time_limit {
            out.push(("Time limit".to_string(), super::format_time_limit(t)));
        }
        out
    }

    fn queries(&self) -> Vec<(&'static str, &'static str)> {
        vec![
            ("squeue", "what squeue says of the job"),
            ("sacct", "what sacct says of the job"),
            (
                "slurm-output",
                "Slurm's own output and error files for the job",
            ),
        ]
    }

    async fn query(&self, job: &Tracked<'_, Self>, name: &str) -> Result<String, BackendError> {
        let id = job.running().job_id.clone();
        let cmd = match name {
            "squeue" => CommandLine {
                program: "squeue".into(),
                args: vec!["--states=all".into(), format!("--jobs={id}")],
                stdin: None,
            },
            "sacct" => CommandLine {
                program: "sacct".into(),
                args: vec![format!("--jobs={id}")],
                stdin: None,
            },
            "slurm-output" => {
                let read = |p: PathBuf| std::fs::read_to_string(&p).unwrap_or_default();
                return Ok(format!(
                    "slurm.out:\n{}\nslurm.err:\n{}",
                    read(job.run_dir().path().join("slurm.out")),
                    read(job.run_dir().path().join("slurm.err"))
                ));
            }
            other => return Err(BackendError::Fatal(format!("no query {other:?}"))),
        };
        let output = self.run(&cmd).await?;
        Ok(format!(
            "$ {cmd}\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}
