//! Long-running jobs: backends, their parsers, and re-attaching after a restart; the
//! helpers their tests share.

mod local;
mod lsf;
mod pbs;
mod recovery;
mod slurm;
mod slurm_parse;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use current::engine::Engine;
use current::long_running::pbs::JobStatus;
use current::long_running::{Failure, SchedulerState};

/// A scratch directory, removed when dropped; the state directory is `state/` in it.
pub(super) struct Scratch(pub(super) PathBuf);

impl Scratch {
    pub(super) fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "current-it-long-{name}-{}-{:08x}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Scratch(dir)
    }

    pub(super) fn state(&self) -> PathBuf {
        self.0.join("state")
    }

    pub(super) fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Poll `cond` until it holds, for `deadline` at most, failing with `what` and the
/// state shown by `show`.
pub(super) fn wait_for(
    what: &str,
    deadline: Duration,
    mut cond: impl FnMut() -> bool,
    show: impl Fn() -> String,
) {
    let until = Instant::now() + deadline;
    while !cond() {
        assert!(
            Instant::now() < until,
            "timed out waiting for {what}: {}",
            show()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The log of the engine's first job (empty until there is one).
pub(super) fn log_of<T>(engine: &Engine<T>) -> String
where
    T: Clone + std::fmt::Debug + Send + Sync + 'static,
{
    let Some(job) = engine.snapshot().jobs.first().cloned() else {
        return String::new();
    };
    let path = engine
        .context()
        .state_dir()
        .join("job")
        .join(format!("{job}.log"));
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Cancel the open job `job` of `engine`, for `reason`.
pub(super) fn cancel<T>(engine: &Engine<T>, job: &str, reason: &str)
where
    T: Clone + std::fmt::Debug + Send + Sync + 'static,
{
    let open = engine.context().jobs();
    let open = open
        .iter()
        .find(|j| j.id().as_str() == job)
        .expect("the job is open");
    open.cancel(reason);
}

/// Wait until the handle of the long-running part of `job` has recorded its end.
pub(super) fn wait_for_the_end<T>(engine: &Engine<T>, job: &str, deadline: Duration)
where
    T: Clone + std::fmt::Debug + Send + Sync + 'static,
{
    let status = || current::long_running::status(engine.context(), job);
    wait_for(
        "the handle to record the end",
        deadline,
        || status().is_some_and(|s| s.handle.state.is_finished()),
        || format!("{:?}", status()),
    );
}

/// Whether Slurm's commands are here; outside CI the test says so and skips.
pub(super) fn slurm_available(test: &str) -> bool {
    let found = Command::new("sbatch")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: sbatch is not on the PATH and CI is set: run scripts/slurm/slurm-up.sh"
        );
        eprintln!("skipping {test}: sbatch is not on the PATH (run scripts/slurm/slurm-up.sh)");
    }
    found
}

/// A PBS or LSF status entry (both parsers return this type).
pub(super) fn job(
    id: &str,
    name: &str,
    raw_state: &str,
    state: SchedulerState,
    exit_status: Option<i32>,
    reason: Option<&str>,
) -> JobStatus {
    JobStatus {
        id: id.to_string(),
        name: Some(name.to_string()),
        raw_state: raw_state.to_string(),
        state,
        exit_status,
        reason: reason.map(str::to_string),
    }
}

pub(super) fn failed(failure: Failure) -> SchedulerState {
    SchedulerState::Failed(failure)
}
