//! What can go wrong when building Slurm commands or reading their output.

/// A batch script or a command line that cannot be written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// A job name with characters other than ASCII letters, digits, `-`, `_`, `.` and
    /// `+`, or an empty one.
    #[error(
        "invalid Slurm job name {0:?}: use ASCII letters, digits, '-', '_', '.' and '+' \
         (a comma splits `--name` lists, a space breaks the job completion log)"
    )]
    JobName(String),
    /// A value that cannot go on an `#SBATCH` line (a line break, a NUL byte) or a path
    /// that is not UTF-8.
    #[error("invalid value for {option}: {value:?} ({why})")]
    Value {
        /// The option (`--output`, `extra argument`, ...).
        option: &'static str,
        /// The value, as far as it can be shown.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
}

/// Output of a Slurm command that does not read as expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// `sbatch --parsable` printed no line that is a job id (`1234` or `1234;cluster`).
    #[error("no job id in sbatch's output: {0:?}")]
    NoJobId(String),
    /// A job id that does not start with a digit, or holds a space, a `,` or a `|`.
    #[error("invalid Slurm job id {0:?}")]
    JobId(String),
    /// A line of `squeue` or `sacct` output that is not in the expected format. The
    /// whole output is refused, so that a status query is retried rather than its jobs
    /// taken for gone.
    #[error("line {line_no} of {command}'s output is not understood ({why}): {line:?}")]
    Line {
        /// `squeue` or `sacct`.
        command: &'static str,
        /// The line's number, from 1.
        line_no: usize,
        /// The line (at most 200 characters of it).
        line: String,
        /// What is wrong with it.
        why: &'static str,
    },
}

/// A Slurm command that failed, or said something other than what was asked.
///
/// [`QueryError::is_recoverable`] tells the errors worth trying again (the controller
/// did not answer) from those that will not change (a rejected submission, accounting
/// disabled).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The command exited with a failure status (the controller did not answer, a
    /// socket timed out, ...). `code` is `None` when it was killed by a signal.
    #[error("{command} failed (exit status {code:?}): {stderr}")]
    Failed {
        /// The program: `sbatch`, `squeue`, `sacct` or `scancel`.
        command: &'static str,
        /// Its exit code.
        code: Option<i32>,
        /// Its standard error, trimmed (at most 2000 characters).
        stderr: String,
    },
    /// `sbatch` refused the job (an unknown partition, more memory or CPUs than any
    /// node has, a QOS limit): submitting it again will not help.
    #[error("sbatch rejected the job: {stderr}")]
    Rejected {
        /// sbatch's standard error, trimmed (at most 2000 characters).
        stderr: String,
    },
    /// `sacct` without `--completion` on a cluster without slurmdbd:
    /// `Slurm accounting storage is disabled`.
    #[error("Slurm accounting storage is disabled: use squeue or sacct --completion")]
    AccountingDisabled,
    /// The command succeeded but its output is not understood.
    #[error(transparent)]
    Parse(#[from] ParseError),
}

impl QueryError {
    /// Whether asking again later may help: a failed command or an answer not
    /// understood, but not a rejected submission or disabled accounting.
    pub fn is_recoverable(&self) -> bool {
        matches!(self, QueryError::Failed { .. } | QueryError::Parse(_))
    }
}

/// At most `max` characters of `text`, marked when cut.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}...", text.get(..end).unwrap_or(text)),
        None => text.to_string(),
    }
}
