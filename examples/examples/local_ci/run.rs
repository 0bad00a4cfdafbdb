//! Running a step: a cached build keyed by what the step reads, its command and the keys
//! of the steps it needs, so that a commit that changes nothing a step depends on reuses
//! its result. Written by hand against `cache::Builder`, because each step has its own
//! level and timeout.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use current::cache::Builder;
use current::digest::{key_digest, Digest, EncodeError};
use current::job::{Job, StartOptions};
use current::long_running::{self, local::Local, slurm::Slurm, slurm::SlurmSpec, Script};
use current::plugins::git::{self, Commit};
use current::process::{self, Command};
use current::Level;
use serde::{Deserialize, Serialize};

/// What identifies the result of a step.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StepKey {
    pub name: String,
    pub variant: Option<String>,
    pub command: String,
    pub inputs: String,
    /// The digests of the keys of the steps it needs.
    pub needs: Vec<String>,
    /// Not part of the digest: changing a step's level or timeout reruns nothing.
    pub level: Level,
    pub timeout: Option<u64>,
}

impl StepKey {
    /// The digest of the parts that identify the result.
    pub fn digest(&self) -> Result<Digest, EncodeError> {
        let identity = (
            &self.name,
            &self.variant,
            &self.command,
            &self.inputs,
            &self.needs,
        );
        key_digest(RunStep::ID, RunStep::VERSION, &identity)
    }
}

/// Its variant (in the diagram's list of variants), or its name.
impl std::fmt::Display for StepKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.variant.as_deref().unwrap_or(&self.name))
    }
}

/// Where steps run.
#[derive(Clone)]
pub enum Backend {
    /// As ordinary jobs of this process.
    Inline,
    /// Detached on this machine: they go on while `local_ci` restarts.
    Local(Arc<Local>),
    /// On a Slurm cluster that shares the state directory.
    Slurm(Arc<Slurm>),
}

/// Runs steps of one commit: their context.
pub struct RunStep {
    pub backend: Backend,
    pub commit: Commit,
    /// Where checkouts are made (one per job, removed after it).
    pub work: PathBuf,
    /// The `CARGO_TARGET_DIR` all steps of the repository share.
    pub target: PathBuf,
}

impl Builder for RunStep {
    const ID: &'static str = "local_ci::step";
    const LABEL: &'static str = "step";
    type Key = StepKey;
    type Value = ();

    fn key_digest(&self, key: &StepKey) -> Result<Digest, EncodeError> {
        key.digest()
    }

    fn level(&self, key: &StepKey) -> Level {
        key.level
    }

    fn pp(&self, key: &StepKey) -> String {
        match &key.variant {
            Some(v) => format!("{} ({v})", key.name),
            None => key.name.clone(),
        }
    }

    async fn build(&self, job: Job, key: StepKey) -> Result<(), String> {
        let options = StartOptions {
            pool: None,
            timeout: key.timeout.map(Duration::from_secs),
        };
        job.start(key.level, options)
            .await
            .map_err(|e| e.to_string())?;
        match &self.backend {
            Backend::Inline => self.run_inline(&job, &key).await,
            Backend::Local(b) => {
                let script = self.script(&key);
                long_running::run(&job, b, &script, ())
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            Backend::Slurm(b) => {
                let script = self.script(&key);
                let spec = SlurmSpec {
                    time_limit: key.timeout.map(Duration::from_secs),
                    ..SlurmSpec::default()
                };
                long_running::run(&job, b, &script, spec)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        }
    }
}

impl RunStep {
    /// Check the commit out under `work` and run the step there, in this process.
    async fn run_inline(&self, job: &Job, key: &StepKey) -> Result<(), String> {
        let dir = self.work.join(job.id().to_string().replace('/', "-"));
        job.log(format_args!(
            "{} at {} in {}",
            key.command,
            self.commit.short(),
            dir.display()
        ));
        let run = async {
            git::checkout(job, &self.commit, &dir)
                .await
                .map_err(|e| e.to_string())?;
            let mut cmd = Command::new("sh")
                .args(["-c", &key.command])
                .cwd(&dir)
                .env("CARGO_TARGET_DIR", &self.target)
                .env("CI_COMMIT", &self.commit.hash)
                .env("CI_STEP", &key.name);
            if let Some(v) = &key.variant {
                cmd = cmd.env("CI_VARIANT", v);
            }
            process::exec(job, &cmd).await.map_err(|e| e.to_string())
        };
        let result = run.await;
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                job.log(format_args!("cannot remove {}: {e}", dir.display()));
            }
        }
        result
    }

    /// The script of a step run by a long-running backend: it makes its own checkout in
    /// its run directory (so that a job re-attached after a restart keeps its own), runs
    /// the command there, and removes the checkout.
    fn script(&self, key: &StepKey) -> Script {
        let q = |s: &str| process::quote(s);
        let body = format!(
            "set -e\n\
             dir=\"$CURRENT_RUN_DIR/checkout\"\n\
             rm -rf \"$dir\"\n\
             git clone --quiet --shared --no-checkout {repo} \"$dir\"\n\
             git -C \"$dir\" checkout --quiet --detach {hash}\n\
             cd \"$dir\"\n\
             set +e\n\
             sh -c {command}\n\
             code=$?\n\
             cd / && rm -rf \"$dir\"\n\
             exit $code\n",
            repo = q(&self.commit.repo.display().to_string()),
            hash = q(&self.commit.hash),
            command = q(&key.command),
        );
        let mut script = Script::new(body)
            .env("CARGO_TARGET_DIR", self.target.display().to_string())
            .env("CI_COMMIT", &self.commit.hash)
            .env("CI_STEP", &key.name);
        if let Some(v) = &key.variant {
            script = script.env("CI_VARIANT", v);
        }
        script
    }
}
