//! The `local` backend: a detached process group on this machine.
//!
//! The wrapper runs under `setsid -f`, in a session (and process group) of its own whose
//! leader is the wrapper: it writes its own pid, which is the group's id. The job
//! survives the engine's exit; it is alive while its process group is; a kill signals
//! the whole group (`SIGTERM`, then `SIGKILL` two seconds later). If no pid has appeared
//! within the start timeout, the job failed to start. The pid, once read, is kept in the
//! job's running parameters.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::backend::{Backend, BackendError, Liveness, Settings, Submission, Tracked};
use super::scheduler::{Failure, SchedulerState};

/// Detached local processes.
#[derive(Clone, Debug)]
pub struct Local {
    /// How long the wrapper has to write its pid once started.
    pub start_timeout: Duration,
    /// Polling and patience.
    pub settings: Settings,
}

impl Default for Local {
    fn default() -> Self {
        Local {
            start_timeout: Duration::from_secs(10),
            settings: Settings {
                poll_min: Duration::from_millis(500),
                poll_max: Duration::from_secs(10),
                grace: Duration::from_secs(5),
                error_budget: 10,
            },
        }
    }
}

/// What the local backend knows of a started job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalRunning {
    /// The wrapper's pid (and process group), once read from its pid file.
    pub pid: Option<i32>,
    /// When it was started (Unix seconds).
    pub started: u64,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Local {
    /// The pid of a job: the one kept, or the one in its pid file.
    fn pid_of(job: &Tracked<'_, Local>) -> Option<i32> {
        job.running()
            .pid
            .or_else(|| job.run_dir().pid().ok().flatten())
    }
}

/// Whether process group `pid` has any process left.
fn group_alive(pid: i32) -> bool {
    match killpg(Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(Errno::ESRCH) => false,
        // EPERM: it exists, under another user.
        Err(_) => true,
    }
}

impl Backend for Local {
    const NAME: &'static str = "local";
    type Spec = ();
    type Running = LocalRunning;

    fn settings(&self) -> Settings {
        self.settings
    }

    async fn start(&self, job: &Submission<'_, ()>) -> Result<LocalRunning, BackendError> {
        let wrapper = job.run_dir().wrapper();
        let status = tokio::process::Command::new("setsid")
            .arg("-f")
            .arg("bash")
            .arg(&wrapper)
            .current_dir(job.run_dir().path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .await
            .map_err(|e| BackendError::Fatal(format!("cannot run setsid: {e}")))?;
        if !status.success() {
            return Err(BackendError::Fatal(format!(
                "setsid -f bash {} failed: {status}",
                wrapper.display()
            )));
        }
        Ok(LocalRunning {
            pid: None,
            started: unix_now(),
        })
    }

    async fn find(&self, job: &Submission<'_, ()>) -> Result<Option<LocalRunning>, BackendError> {
        // The wrapper writes its pid as it starts: a pid file means it was started.
        let pid = job
            .run_dir()
            .pid()
            .map_err(|e| BackendError::Fatal(e.to_string()))?;
        Ok(pid.map(|pid| LocalRunning {
            pid: Some(pid),
            started: unix_now(),
        }))
    }

    async fn status(
        &self,
        jobs: &[Tracked<'_, Self>],
    ) -> Result<Vec<Liveness<LocalRunning>>, BackendError> {
        let now = unix_now();
        Ok(jobs
            .iter()
            .map(|job| {
                let mut running = job.running().clone();
                let state = match Local::pid_of(job) {
                    Some(pid) => {
                        running.pid = Some(pid);
                        if group_alive(pid) {
                            SchedulerState::Running
                        } else {
                            SchedulerState::Completed
                        }
                    }
                    None if now.saturating_sub(running.started) > self.start_timeout.as_secs() => {
                        SchedulerState::Failed(Failure::Other(format!(
                            "the job wrote no pid within {} s of its start",
                            self.start_timeout.as_secs()
                        )))
                    }
                    None => SchedulerState::Queued,
                };
                Liveness {
                    running,
                    state: Some(state),
                }
            })
            .collect())
    }

    async fn kill(&self, jobs: &[Tracked<'_, Self>]) -> Result<(), BackendError> {
        let mut pids = Vec::new();
        for job in jobs {
            let Some(pid) = Local::pid_of(job) else {
                return Err(BackendError::Recoverable(format!(
                    "{} has not written its pid yet",
                    job.name()
                )));
            };
            match killpg(Pid::from_raw(pid), Signal::SIGTERM) {
                Ok(()) | Err(Errno::ESRCH) => pids.push(pid),
                Err(e) => {
                    return Err(BackendError::Fatal(format!(
                        "cannot signal process group {pid}: {e}"
                    )))
                }
            }
        }
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            for pid in pids {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
        });
        Ok(())
    }

    fn describe(&self, job: &Tracked<'_, Self>) -> Vec<(String, String)> {
        let pid = match Local::pid_of(job) {
            Some(pid) => format!("process group {pid}"),
            None => "no pid yet".to_string(),
        };
        vec![
            ("Backend".to_string(), format!("local, {pid}")),
            (
                "Run directory".to_string(),
                job.run_dir().path().display().to_string(),
            ),
        ]
    }

    fn queries(&self) -> Vec<(&'static str, &'static str)> {
        vec![("processes", "the job's processes (ps)")]
    }

    async fn query(&self, job: &Tracked<'_, Self>, name: &str) -> Result<String, BackendError> {
        if name != "processes" {
            return Err(BackendError::Fatal(format!("no query {name:?}")));
        }
        let Some(pid) = Local::pid_of(job) else {
            return Ok("no pid yet".to_string());
        };
        let out = tokio::process::Command::new("ps")
            .args(["-o", "pid,stat,etime,args", "-s", &pid.to_string()])
            .output()
            .await
            .map_err(|e| BackendError::Recoverable(format!("cannot run ps: {e}")))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        Ok(if out.status.success() {
            text
        } else {
            format!("{text}(no process left in session {pid})")
        })
    }
}
