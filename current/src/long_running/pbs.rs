//! The PBS scheduler (Torque, OpenPBS and PBS Professional): command builders and
//! status parsers.
//!
//! Nothing here runs a command: [`PbsOptions::script`] renders a batch script (`#PBS`
//! header lines in front of a body), the `*_command` functions build argument vectors
//! ([`CommandLine`]), and the `parse_*` functions read what the commands printed.
//!
//! - submit: `qsub <script>`; its standard output, trimmed, is the job id
//!   (`1234.server.domain`), read by [`parse_submit`];
//! - status: one `qstat` for every job ([`status_command`]): `qstat -f1 <ids...>` on
//!   Torque, `qstat -x -f <ids...>` on OpenPBS, which rejects `-1` without `-n` or
//!   `-s` and shows finished jobs only with `-x`; read by [`parse_status`];
//! - kill: `qdel <ids...>` ([`kill_command`]);
//! - find a job by name: `qselect -N <name>` ([`find_command`], [`parse_find`]).
//!
//! `qstat -f` prints a block per job, `Job Id: <id>` then one `    key = value` line per
//! attribute; a long value goes on in lines that start with a tab (Torque's `-1` keeps
//! it on one line). A job the server does not know is named on standard error
//! (`qstat: Unknown Job Id [Error] <id>`, exit status 153); it is reported in
//! [`StatusReport::not_found`], not as an error. `job_state` maps to a
//! [`SchedulerState`] as [`scheduler_state`] says: waiting, held and in-transit jobs are
//! queued, running, exiting and suspended ones are running (a suspended job is not a
//! failed one), and a finished job (`C` on Torque, `F` or `X` on OpenPBS) completed or
//! failed according to its `exit_status`.
//!
//! ```
//! use std::path::Path;
//! use std::time::Duration;
//!
//! use current::long_running::pbs::{self, Flavour, Lookup, PbsOptions};
//! use current::long_running::{Failure, SchedulerState};
//!
//! let options = PbsOptions {
//!     queue: Some("batch".into()),
//!     wall_time: Some(Duration::from_secs(90 * 60)),
//!     ppn: Some(4),
//!     ..PbsOptions::default()
//! };
//! let script = options.script(
//!     "#!/bin/bash\necho hello\n",
//!     Path::new("/scratch/run/job.out"),
//!     Path::new("/scratch/run/job.err"),
//! )?;
//! assert!(script.starts_with("#!/bin/bash\n#PBS -S /bin/bash\n"));
//! assert!(script.contains("\n#PBS -l walltime=01:30:00,nodes=1:ppn=4\n"));
//! assert!(script.ends_with("\necho hello\n"));
//!
//! let submit = options.submit_command(Path::new("/scratch/run/job.pbs"))?;
//! assert_eq!(submit.to_string(), "qsub /scratch/run/job.pbs");
//! let id = pbs::parse_submit("1234.head.example.org\n")?;
//!
//! let status = pbs::status_command(Flavour::Torque, [id.as_str(), "1200.head.example.org"]);
//! assert_eq!(status.args, ["-f1", "1234.head.example.org", "1200.head.example.org"]);
//! let report = pbs::parse_status(
//!     "Job Id: 1234.head.example.org\n    job_state = C\n    exit_status = 2\n",
//!     "qstat: Unknown Job Id Error 1200.head.example.org\n",
//! );
//! match report.lookup(&id) {
//!     Lookup::Found(job) => {
//!         assert_eq!(job.state, SchedulerState::Failed(Failure::ExitCode(Some(2))))
//!     }
//!     other => panic!("{other:?}"),
//! }
//! assert_eq!(report.lookup("1200.head.example.org"), Lookup::NotFound);
//! # Ok::<(), pbs::PbsError>(())
//! ```

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use super::command::CommandLine;
use super::scheduler::{Failure, SchedulerState};

/// Which PBS: the commands differ in a few options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Flavour {
    /// Torque (Adaptive Computing, up to 6.x): `qstat -f1`; a finished job stays in
    /// state `C` for the server's `keep_completed` seconds.
    #[default]
    Torque,
    /// OpenPBS or PBS Professional: `qstat -x -f` (`-x` shows finished jobs, in state
    /// `F`, while the server keeps job history).
    OpenPbs,
}

/// What a PBS job asks for: rendered as `#PBS` lines in front of its script.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PbsOptions {
    /// The queue (`-q`); the server's default queue when `None`.
    pub queue: Option<String>,
    /// The job's name (`-N`): printable, without white space.
    pub name: Option<String>,
    /// Where to mail when the job aborts, begins and ends (`-m abe -M <address>`).
    pub email: Option<String>,
    /// The wall-time limit (`-l walltime=HH:MM:SS`, rounded up to a second).
    pub wall_time: Option<Duration>,
    /// How many nodes (`-l nodes=N`); 1 when only `ppn` is given.
    pub nodes: Option<u32>,
    /// Processors per node (`-l nodes=N:ppn=P`).
    pub ppn: Option<u32>,
    /// Memory for the whole job, in megabytes (`-l mem=<N>mb`).
    pub memory_mb: Option<u64>,
    /// The shell PBS runs the script with (`-S`; `/bin/bash` when `None`): Torque does
    /// not read the script's `#!` line.
    pub shell: Option<String>,
    /// More arguments for `qsub`, put before the script's path (`-A project`,
    /// `-l gres=gpu:1`, ...).
    pub extra_args: Vec<String>,
}

impl PbsOptions {
    /// The batch script: `body`'s `#!` line (or `#!/bin/bash`), the `#PBS` lines, then
    /// the rest of `body`. The scheduler writes the script's own standard output and
    /// error to `stdout` and `stderr` (`-o`, `-e`).
    ///
    /// An option that cannot be written on a `#PBS` line is an error: a line break,
    /// white space (a directive's words are separated by it) or, in a path, a colon
    /// (PBS reads `host:path`).
    pub fn script(&self, body: &str, stdout: &Path, stderr: &Path) -> Result<String, PbsError> {
        let mut lines = Vec::new();
        let shell = self.shell.as_deref().unwrap_or("/bin/bash");
        lines.push(format!("-S {}", word("-S", shell)?));
        if let Some(name) = &self.name {
            lines.push(format!("-N {}", word("-N", name)?));
        }
        if let Some(queue) = &self.queue {
            lines.push(format!("-q {}", word("-q", queue)?));
        }
        lines.push(format!("-o {}", path_word("-o", stdout)?));
        lines.push(format!("-e {}", path_word("-e", stderr)?));
        if let Some(email) = &self.email {
            lines.push("-m abe".to_string());
            lines.push(format!("-M {}", word("-M", email)?));
        }
        let resources = self.resources();
        if !resources.is_empty() {
            lines.push(format!("-l {}", resources.join(",")));
        }

        let (shebang, rest) = match body.strip_prefix("#!") {
            Some(_) => match body.split_once('\n') {
                Some((first, rest)) => (first, rest),
                None => (body, ""),
            },
            None => ("#!/bin/bash", body),
        };
        let mut out = String::with_capacity(body.len() + 256);
        out.push_str(shebang);
        out.push('\n');
        for line in lines {
            out.push_str("#PBS ");
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The resource list of the `-l` line: `walltime`, `nodes[:ppn]`, `mem`.
    fn resources(&self) -> Vec<String> {
        let mut resources = Vec::new();
        if let Some(wall) = self.wall_time {
            resources.push(format!("walltime={}", wall_time(wall)));
        }
        match (self.nodes, self.ppn) {
            (None, None) => {}
            (nodes, None) => resources.push(format!("nodes={}", nodes.unwrap_or(1))),
            (nodes, Some(ppn)) => resources.push(format!("nodes={}:ppn={ppn}", nodes.unwrap_or(1))),
        }
        if let Some(mb) = self.memory_mb {
            resources.push(format!("mem={mb}mb"));
        }
        resources
    }

    /// `qsub [extra args] <script>`: submit the script written at `script`.
    pub fn submit_command(&self, script: &Path) -> Result<CommandLine, PbsError> {
        let mut args = self.extra_args.clone();
        args.push(utf8("script", script)?.to_string());
        Ok(CommandLine::new("qsub", args))
    }
}

/// `qstat` for all of `ids` at once: `qstat -f1 <ids...>` (Torque) or
/// `qstat -x -f <ids...>` (OpenPBS). With no id, `qstat` would list every job: callers
/// ask only when they have jobs in flight.
pub fn status_command<I, S>(flavour: Flavour, ids: I) -> CommandLine
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut args: Vec<String> = match flavour {
        Flavour::Torque => vec!["-f1".to_string()],
        Flavour::OpenPbs => vec!["-x".to_string(), "-f".to_string()],
    };
    args.extend(ids.into_iter().map(|id| id.as_ref().to_string()));
    CommandLine::new("qstat", args)
}

/// `qdel <ids...>`: delete (kill) all of `ids` at once.
pub fn kill_command<I, S>(ids: I) -> CommandLine
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    CommandLine::new(
        "qdel",
        ids.into_iter().map(|id| id.as_ref().to_string()).collect(),
    )
}

/// `qselect -N <name>` (with `-x` on OpenPBS, to see finished jobs too): the ids of the
/// jobs named `name`, one per line (see [`parse_find`]).
pub fn find_command(flavour: Flavour, name: &str) -> CommandLine {
    let mut args = Vec::new();
    if flavour == Flavour::OpenPbs {
        args.push("-x".to_string());
    }
    args.push("-N".to_string());
    args.push(name.to_string());
    CommandLine::new("qselect", args)
}

/// `HH:MM:SS` for PBS's `walltime`, rounded up to a whole second; hours go past 24
/// (`100:00:00`).
pub fn wall_time(d: Duration) -> String {
    let mut secs = d.as_secs();
    if d.subsec_nanos() > 0 {
        secs = secs.saturating_add(1);
    }
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// The job id `qsub` printed: its last non-empty line, trimmed, if it looks like a PBS
/// job id (`1234.server`, `1234[].server`; lines before it, a site's banner, are
/// ignored). Anything else is an error naming the output.
pub fn parse_submit(stdout: &str) -> Result<String, PbsError> {
    stdout
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .filter(|l| is_job_id(l))
        .map(str::to_string)
        .ok_or_else(|| PbsError::NoJobId {
            output: excerpt(stdout),
        })
}

/// The job ids `qselect` printed, one per line (lines that are not job ids are left out).
pub fn parse_find(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(str::trim)
        .filter(|l| is_job_id(l))
        .map(str::to_string)
        .collect()
}

/// Whether `s` looks like a PBS job id: a sequence number, maybe an array index, maybe
/// a server name.
fn is_job_id(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-[]@".contains(c))
}

/// One job in a scheduler's status output (PBS and LSF share this type).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobStatus {
    /// The job id, as the scheduler printed it.
    pub id: String,
    /// Its name (PBS `Job_Name`, LSF `Job Name`), when printed.
    pub name: Option<String>,
    /// The scheduler's word for its state (PBS `job_state`: `R`; LSF `Status`: `RUN`).
    pub raw_state: String,
    /// That state, in common words (see each scheduler's `scheduler_state`).
    pub state: SchedulerState,
    /// The job's exit status, once it has ended and when the scheduler prints it.
    pub exit_status: Option<i32>,
    /// Why it is in that state, when the scheduler says (PBS `comment`; LSF's pending
    /// or suspending reasons, or its `TERM_*` reason).
    pub reason: Option<String>,
}

/// What one status command said about the jobs it was asked about (PBS and LSF share
/// this type).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusReport {
    /// The jobs it printed, in its order.
    pub jobs: Vec<JobStatus>,
    /// The ids it says it does not know (PBS `Unknown Job Id`, LSF `is not found`):
    /// never submitted, or forgotten since they ended.
    pub not_found: Vec<String>,
    /// Whatever else it printed that is not understood (an error, a job without a
    /// state), line by line: a job it says nothing else about is [`Lookup::Missing`].
    pub messages: Vec<String>,
}

/// What a [`StatusReport`] says about one job id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// The scheduler printed the job.
    Found(&'a JobStatus),
    /// The scheduler said it does not know the job.
    NotFound,
    /// The output says nothing about the job: the query failed (see
    /// [`StatusReport::messages`]) and is worth trying again.
    Missing,
}

impl StatusReport {
    /// What the report says about `id`. Ids match exactly or, failing that, when one is
    /// the other followed by a PBS server name (`1234.head` is `1234.head.example.org`,
    /// and `1234`); an LSF array element `1234[2]` is not its array `1234`.
    pub fn lookup(&self, id: &str) -> Lookup<'_> {
        let exact = |a: &str| a == id;
        let loose = |a: &str| same_job(a, id);
        for matches in [&exact as &dyn Fn(&str) -> bool, &loose] {
            if let Some(job) = self.jobs.iter().find(|j| matches(&j.id)) {
                return Lookup::Found(job);
            }
            if self.not_found.iter().any(|n| matches(n)) {
                return Lookup::NotFound;
            }
        }
        Lookup::Missing
    }
}

/// Whether two PBS job ids name the same job: equal, or one is the other with more of
/// the server's name (`1234` / `1234.head` / `1234.head.example.org`).
fn same_job(a: &str, b: &str) -> bool {
    let longer = |short: &str, long: &str| {
        long.strip_prefix(short)
            .is_some_and(|rest| rest.starts_with('.'))
    };
    a == b || longer(a, b) || longer(b, a)
}

/// Read the standard output and error of a `qstat -f` (Torque's `qstat -f1`, OpenPBS's
/// `qstat -x -f`): one [`JobStatus`] per `Job Id:` block, the ids it does not know, and
/// the lines it does not understand. It never fails: what cannot be read is left in
/// [`StatusReport::messages`].
pub fn parse_status(stdout: &str, stderr: &str) -> StatusReport {
    let mut report = StatusReport::default();
    let mut block: Option<Block> = None;
    for line in stdout.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(id) = line.strip_prefix("Job Id:") {
            if let Some(done) = block.take() {
                done.finish(&mut report);
            }
            block = Some(Block {
                id: id.trim().to_string(),
                attrs: Vec::new(),
            });
        } else if line.trim().is_empty() && !line.starts_with('\t') {
            // The empty line after a block (a lone tab continues a value that filled
            // its line).
            if let Some(done) = block.take() {
                done.finish(&mut report);
            }
        } else if let Some(current) = block.as_mut().filter(|_| line.starts_with([' ', '\t'])) {
            current.line(line);
        } else {
            if let Some(done) = block.take() {
                done.finish(&mut report);
            }
            message(line, &mut report);
        }
    }
    if let Some(done) = block.take() {
        done.finish(&mut report);
    }
    for line in stderr.lines() {
        message(line, &mut report);
    }
    report
}

/// A `Job Id:` block being read.
struct Block {
    id: String,
    attrs: Vec<(String, String)>,
}

impl Block {
    /// An attribute line (`    key = value`) or the continuation of the last value (a
    /// line that starts with a tab, or has no `key =`).
    fn line(&mut self, line: &str) {
        let continued = match line.strip_prefix('\t') {
            Some(rest) => Some(rest),
            None => match line.split_once('=') {
                Some((key, value))
                    if !key.trim().is_empty() && !key.trim().contains(char::is_whitespace) =>
                {
                    self.attrs
                        .push((key.trim().to_string(), value.trim_start().to_string()));
                    None
                }
                _ => Some(line.trim_start()),
            },
        };
        if let (Some(rest), Some((_, value))) = (continued, self.attrs.last_mut()) {
            value.push_str(rest);
        }
    }

    /// The last value of attribute `key` (compared without case: Torque's `exit_status`
    /// is OpenPBS's `Exit_status`).
    fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.trim())
    }

    fn finish(self, report: &mut StatusReport) {
        let Some(raw_state) = self.attr("job_state").filter(|s| !s.is_empty()) else {
            report
                .messages
                .push(format!("job {}: no job_state in qstat's output", self.id));
            return;
        };
        let exit_status = self.attr("exit_status").and_then(|s| s.parse().ok());
        report.jobs.push(JobStatus {
            name: self.attr("Job_Name").map(str::to_string),
            raw_state: raw_state.to_string(),
            state: scheduler_state(raw_state, exit_status),
            exit_status,
            reason: self
                .attr("comment")
                .filter(|c| !c.is_empty())
                .map(str::to_string),
            id: self.id,
        });
    }
}

/// A line outside the job blocks: an unknown job, a finished job (OpenPBS without
/// `-x`), or something else.
fn message(line: &str, report: &mut StatusReport) {
    let line = line.trim();
    if line.is_empty() {
        return;
    }
    if let Some((_, rest)) = line.split_once("Unknown Job Id") {
        let rest = rest.trim_start();
        let rest = rest.strip_prefix("Error").unwrap_or(rest);
        if let Some(id) = rest.split_whitespace().next() {
            report.not_found.push(id.to_string());
            return;
        }
    }
    if let Some((before, _)) = line.split_once(" Job has finished") {
        if let Some(id) = before.split_whitespace().last().filter(|id| is_job_id(id)) {
            report.jobs.push(JobStatus {
                id: id.to_string(),
                name: None,
                raw_state: "F".to_string(),
                state: SchedulerState::Completed,
                exit_status: None,
                reason: Some(line.to_string()),
            });
            return;
        }
    }
    report.messages.push(line.to_string());
}

/// A PBS `job_state` in common words, given the job's `exit_status` when it has one:
///
/// | `job_state` | meaning | state |
/// |---|---|---|
/// | `Q` | queued | `Queued` |
/// | `H` | held | `Queued` |
/// | `W` | waiting for its start time | `Queued` |
/// | `T` | being moved | `Queued` |
/// | `M` | moved to another server (OpenPBS) | `Queued` |
/// | `R` | running | `Running` |
/// | `E` | exiting after having run | `Running` |
/// | `S` | suspended | `Running` |
/// | `U` | suspended by workstation activity (OpenPBS) | `Running` |
/// | `B` | array job with subjobs started (OpenPBS) | `Running` |
/// | `C` | completed (Torque) | by `exit_status`, Torque's codes |
/// | `F`, `X` | finished job, finished subjob (OpenPBS) | by `exit_status`, OpenPBS's codes |
/// | other | | `Unrecognised` |
///
/// A finished job with no `exit_status` or 0 is `Completed` (the exit marker decides);
/// a positive status is `Failed(ExitCode)`; a negative one is PBS's own reason for
/// ending it: a memory limit (Torque -10, OpenPBS -26 and -27) is `OutOfMemory`, the
/// wall time (Torque -11, OpenPBS -29) is `Timeout`, the others are `Other` with the
/// code's name.
pub fn scheduler_state(job_state: &str, exit_status: Option<i32>) -> SchedulerState {
    match job_state {
        "Q" | "H" | "W" | "T" | "M" => SchedulerState::Queued,
        "R" | "E" | "S" | "U" | "B" => SchedulerState::Running,
        "C" => finished(exit_status, Flavour::Torque),
        "F" | "X" => finished(exit_status, Flavour::OpenPbs),
        other => SchedulerState::Unrecognised(other.to_string()),
    }
}

fn finished(exit_status: Option<i32>, flavour: Flavour) -> SchedulerState {
    match exit_status {
        None | Some(0) => SchedulerState::Completed,
        Some(code) if code > 0 => SchedulerState::Failed(Failure::ExitCode(Some(code))),
        Some(code) => SchedulerState::Failed(negative_exit_status(code, flavour)),
    }
}

/// Why PBS ended a job, from one of its own (negative) exit codes. The codes past -9
/// differ between Torque (6.1) and OpenPBS (`src/include/job.h`).
fn negative_exit_status(code: i32, flavour: Flavour) -> Failure {
    let name = match (code, flavour) {
        (-1, _) => "JOB_EXEC_FAIL1: failed before its files were set up",
        (-2, _) => "JOB_EXEC_FAIL2: failed after its files were set up",
        (-3, _) => "JOB_EXEC_RETRY: failed to start, to be retried",
        (-4, _) => "JOB_EXEC_INITABT: aborted while its execution host started",
        (-5, _) => "JOB_EXEC_INITRST: aborted while its execution host started",
        (-6, _) => "JOB_EXEC_INITRMG: aborted while its execution host started",
        (-7, _) => "JOB_EXEC_BADRESRT: restart failed",
        (-8, Flavour::Torque) => "JOB_EXEC_CMDFAIL: its command could not be executed",
        (-9, Flavour::Torque) => "JOB_EXEC_STDOUTFAIL: its output files could not be opened",
        (-10, Flavour::Torque) => return Failure::OutOfMemory,
        (-11, Flavour::Torque) => return Failure::Timeout,
        (-12, Flavour::Torque) => "JOB_EXEC_OVERLIMIT_CPUT: CPU time limit exceeded",
        (-13, Flavour::Torque) => "JOB_EXEC_RETRY_CGROUP: cgroup setup failed, to be retried",
        (-14, Flavour::Torque) => "JOB_EXEC_RETRY_PROLOGUE: prologue failed, to be retried",
        (-10, Flavour::OpenPbs) => "JOB_EXEC_FAILUID: invalid user or group",
        (-11, Flavour::OpenPbs) => "JOB_EXEC_RERUN: rerun",
        (-12, Flavour::OpenPbs) => "JOB_EXEC_CHKP: killed after a checkpoint",
        (-13, Flavour::OpenPbs) => "JOB_EXEC_FAIL_PASSWORD: bad password",
        (-14, Flavour::OpenPbs) => "JOB_EXEC_RERUN_ON_SIS_FAIL: a sister host failed",
        (-15, Flavour::OpenPbs) => "JOB_EXEC_QUERST: requeued to restart from a checkpoint",
        (-16, Flavour::OpenPbs) => "JOB_EXEC_FAILHOOK_RERUN: rejected by a hook, requeued",
        (-17, Flavour::OpenPbs) => "JOB_EXEC_FAILHOOK_DELETE: rejected by a hook, deleted",
        (-18, Flavour::OpenPbs) => "JOB_EXEC_HOOK_RERUN: requeued by a hook",
        (-19, Flavour::OpenPbs) => "JOB_EXEC_HOOK_DELETE: deleted by a hook",
        (-20, Flavour::OpenPbs) => "JOB_EXEC_RERUN_MS_FAIL: its primary execution host failed",
        (-24, Flavour::OpenPbs) => "JOB_EXEC_KILL_NCPUS_BURST: used more CPUs than requested",
        (-25, Flavour::OpenPbs) => "JOB_EXEC_KILL_NCPUS_SUM: used more CPUs than requested",
        (-26 | -27, Flavour::OpenPbs) => return Failure::OutOfMemory,
        (-28, Flavour::OpenPbs) => "JOB_EXEC_KILL_CPUT: CPU time limit exceeded",
        (-29, Flavour::OpenPbs) => return Failure::Timeout,
        _ => "PBS ended the job",
    };
    Failure::Other(format!("{name} (exit status {code})"))
}

/// Why a PBS command could not be built, or its output not read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PbsError {
    /// `qsub` did not print a job id.
    #[error("qsub printed no job id: {output:?}")]
    NoJobId {
        /// What it printed (its first 2000 characters).
        output: String,
    },
    /// An option cannot be written on a `#PBS` line.
    #[error("PBS option {option} {value:?}: {reason}")]
    InvalidOption {
        /// The option (`-N`, `-o`, ...).
        option: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// `value` if it can be one word of a `#PBS` line.
fn word<'a>(option: &'static str, value: &'a str) -> Result<&'a str, PbsError> {
    let reason = if value.is_empty() {
        Some("is empty")
    } else if value.contains(char::is_whitespace) {
        Some("contains white space or a line break")
    } else if value.chars().any(char::is_control) {
        Some("contains a control character")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(PbsError::InvalidOption {
            option,
            value: value.to_string(),
            reason,
        }),
        None => Ok(value),
    }
}

/// `path` if it can be one word of a `#PBS` line (and not be read as `host:path`).
fn path_word<'a>(option: &'static str, path: &'a Path) -> Result<&'a str, PbsError> {
    let text = utf8(option, path)?;
    if text.contains(':') {
        return Err(PbsError::InvalidOption {
            option,
            value: text.to_string(),
            reason: "contains a colon (PBS would read host:path)",
        });
    }
    word(option, text)
}

fn utf8<'a>(option: &'static str, path: &'a Path) -> Result<&'a str, PbsError> {
    path.to_str().ok_or_else(|| PbsError::InvalidOption {
        option,
        value: path.to_string_lossy().into_owned(),
        reason: "is not UTF-8",
    })
}

/// The first 2000 characters of a command's output, for an error message.
pub(crate) fn excerpt(output: &str) -> String {
    const MAX: usize = 2000;
    match output.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}...", output.get(..end).unwrap_or(output)),
        None => output.to_string(),
    }
}
