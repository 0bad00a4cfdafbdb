//! What a scheduler says about a job, in words common to every scheduler.
//!
//! A scheduler's view is only a liveness hint and the source of failure reasons: whether
//! a job succeeded is decided by the exit marker its wrapper script writes.

use std::fmt;

/// What a scheduler says about one job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SchedulerState {
    /// Waiting to run: pending, configuring, held, requeued, preempted and waiting to be
    /// requeued.
    Queued,
    /// Running, completing, or suspended (a suspended job is not a failed one).
    Running,
    /// Ended normally by the scheduler's account; the exit marker decides the result.
    Completed,
    /// Ended badly, for the reason given.
    Failed(Failure),
    /// A state this parser does not know, with the scheduler's own word for it.
    Unrecognised(String),
}

impl SchedulerState {
    /// Whether the scheduler considers the job over (completed or failed).
    pub fn is_finished(&self) -> bool {
        matches!(self, SchedulerState::Completed | SchedulerState::Failed(_))
    }
}

/// Why a scheduler says a job ended badly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// It ran past its time limit (Slurm `TIMEOUT`).
    Timeout,
    /// It used more memory than it was given (Slurm `OUT_OF_MEMORY`).
    OutOfMemory,
    /// The node it ran on failed, or failed to boot (Slurm `NODE_FAIL`, `BOOT_FAIL`).
    NodeFail,
    /// It was preempted and will not be requeued.
    Preempted,
    /// It was cancelled; `by` is who cancelled it when the scheduler says
    /// (Slurm's `CANCELLED by <uid>`).
    Cancelled {
        /// The user (or uid) named by the scheduler.
        by: Option<String>,
    },
    /// Its command failed; the scheduler's exit code when it gives one.
    ExitCode(Option<i32>),
    /// Another reason, in the scheduler's words (`DEADLINE`, `REVOKED`, a suspended LSF
    /// job, ...).
    Other(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Timeout => f.write_str("time limit reached"),
            Failure::OutOfMemory => f.write_str("out of memory"),
            Failure::NodeFail => f.write_str("node failure"),
            Failure::Preempted => f.write_str("preempted"),
            Failure::Cancelled { by: Some(by) } => write!(f, "cancelled by {by}"),
            Failure::Cancelled { by: None } => f.write_str("cancelled"),
            Failure::ExitCode(Some(code)) => write!(f, "exit code {code}"),
            Failure::ExitCode(None) => f.write_str("failed"),
            Failure::Other(reason) => f.write_str(reason),
        }
    }
}
