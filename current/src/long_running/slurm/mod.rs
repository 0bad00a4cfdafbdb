//! The Slurm scheduler: command builders and output parsers.
//!
//! Nothing here runs a command: the builders return [`CommandLine`]s (a program and its
//! arguments) and the parsers read what the commands printed, verbatim. They were
//! written against a real single-node Slurm 22.05 cluster (`scripts/slurm/`), and are
//! tested against outputs captured there (`current/tests/fixtures/slurm/`).
//!
//! - submit: a batch script with `#SBATCH` lines ([`SbatchOptions::render_script`]),
//!   written to a file and submitted by `sbatch --parsable <file>` ([`sbatch_command`]),
//!   whose output gives the job id ([`sbatch_outcome`], [`parse_sbatch`]);
//! - status: one `squeue --states=all` for every job in flight, by ids
//!   ([`squeue_by_ids`]) or by names ([`squeue_by_names`], to find a job whose id was
//!   never recorded), read by [`squeue_outcome`]; finished jobs stay in `squeue` for
//!   the controller's `MinJobAge` (300 s by default), and for longer `sacct`
//!   ([`sacct_by_ids`], [`sacct_by_names`], read by [`sacct_outcome`]) asks the
//!   accounting database or, without one, the job completion log
//!   ([`SacctSource`]);
//! - kill: `scancel <ids...>` in batches of [`MAX_IDS_PER_CALL`] ([`scancel_commands`],
//!   [`scancel_outcome`]).
//!
//! Each job is a [`JobStatus`]: id, name, state as printed and as understood
//! ([`SlurmState`], and the engine's [`SchedulerState`](crate::long_running::SchedulerState)
//! by the table of [`SlurmState::scheduler_state`]), exit status, reason, nodes. The
//! state field is read by [`classify`] in every form Slurm prints it: long names, short
//! codes, `CANCELLED by <uid>`, and truncated names such as `CANCELLED+`. The parsers
//! never panic; a line they do not understand makes the whole answer an error
//! ([`ParseError::Line`]), so that a poll is retried rather than its jobs taken for
//! gone.
//!
//! ```
//! use std::path::Path;
//! use std::time::Duration;
//!
//! use current::long_running::slurm::{self, SbatchOptions};
//! use current::long_running::{Failure, SchedulerState};
//!
//! let options = SbatchOptions {
//!     partition: Some("debug".into()),
//!     time_limit: Some(Duration::from_secs(90)),
//!     cpus: Some(2),
//!     ..SbatchOptions::new("current-build-1", "/var/run/job-1/out", "/var/run/job-1/err")
//! };
//! let script = options.render_script("exec bash /var/run/job-1/wrapper.sh")?;
//! assert_eq!(
//!     script,
//!     "#!/bin/bash\n\
//!      #SBATCH --job-name=current-build-1\n\
//!      #SBATCH --output=/var/run/job-1/out\n\
//!      #SBATCH --error=/var/run/job-1/err\n\
//!      #SBATCH --partition=debug\n\
//!      #SBATCH --time=00:02:00\n\
//!      #SBATCH --cpus-per-task=2\n\
//!      exec bash /var/run/job-1/wrapper.sh\n"
//! );
//! let submit = slurm::sbatch_command(Path::new("/var/run/job-1/job.sbatch"))?;
//! assert_eq!(submit.to_string(), "sbatch --parsable /var/run/job-1/job.sbatch");
//!
//! // sbatch printed the id; ask squeue about it (and others) in one call
//! let id = slurm::parse_sbatch("4521\n")?;
//! let query = slurm::squeue_by_ids(&[id.clone()]).expect("one id");
//! assert_eq!(query.program, "squeue");
//! let jobs = slurm::parse_squeue(
//!     "4521|FAILED|NonZeroExitCode|768|node07|current-build-1\n",
//! )?;
//! let job = slurm::find(&jobs, &id).expect("listed");
//! assert_eq!(job.state, SchedulerState::Failed(Failure::ExitCode(Some(3))));
//! assert_eq!(job.reason.as_deref(), Some("NonZeroExitCode"));
//! assert_eq!(job.nodes.as_deref(), Some("node07"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod backend;
mod error;
mod sbatch;
mod state;
mod status;

pub use super::command::CommandLine;
pub use backend::{Slurm, SlurmRunning, SlurmSpec};
pub use error::{ParseError, QueryError, ScriptError};
pub use sbatch::{
    format_time_limit, parse_sbatch, sbatch_command, sbatch_outcome, JobId, SbatchOptions,
};
pub use state::{classify, ExitStatus, SlurmState};
pub use status::{
    find, parse_sacct, parse_squeue, sacct_by_ids, sacct_by_names, sacct_outcome, scancel_commands,
    scancel_errors, scancel_outcome, squeue_by_ids, squeue_by_names, squeue_outcome, JobStatus,
    SacctSource, MAX_IDS_PER_CALL, SACCT_FORMAT, SQUEUE_FORMAT,
};
