//! The LSF scheduler (IBM Spectrum LSF, and openlava): command builders and status
//! parsers.
//!
//! Nothing here runs a command: the `*_command` functions build argument vectors
//! ([`CommandLine`]) and the `parse_*` functions read what the commands printed.
//!
//! - submit: `bsub -o <out> -e <err> [-q] [-J] [-W] [-P] [-n] [-R] < <script>`
//!   ([`LsfOptions::submit_command`]): the script is fed on standard input
//!   ([`CommandLine::stdin`]); `Job <1234> is submitted to queue <normal>.` gives the
//!   id ([`parse_submit`]);
//! - status: one `bjobs -l <ids...>` for every job ([`status_command`]), read by
//!   [`parse_status`];
//! - kill: `bkill <ids...>` ([`kill_command`]);
//! - find a job by name: `bjobs -a -l -J <name>` ([`find_command`]), read by
//!   [`parse_status`] too.
//!
//! `bjobs -l` prints a block per job, `Job <id>, Job Name <name>, User <user>, ...,
//! Status <RUN>, Queue <q>, Command <...>` then dated events (`Exited with exit code 3.`,
//! `Completed <exit>; TERM_RUNLIMIT: ...`) and sections (`PENDING REASONS:`). It wraps
//! lines at 80 columns, even in the middle of a word, and indents the rest with 21
//! spaces, dropping a space that falls on the break: the parser joins the pieces first,
//! and matches its keywords with or without their spaces (`Status <` or `Status<`). A job
//! LSF does not know is named on standard error (`Job <1234> is not found`); it is
//! reported in [`StatusReport::not_found`], not as an error.
//!
//! States map as [`scheduler_state`] says: pending ones are queued, running and
//! suspended ones running (a suspended job has not failed: Ketrew's LSF backend failed
//! them, a known source of false failures), `DONE` completed, and `EXIT` failed for its
//! `TERM_*` reason.
//!
//! ```
//! use std::path::Path;
//! use std::time::Duration;
//!
//! use current::long_running::lsf::{self, LsfOptions, Lookup, Processors};
//! use current::long_running::{Failure, SchedulerState};
//!
//! let options = LsfOptions {
//!     queue: Some("normal".into()),
//!     wall_limit: Some(Duration::from_secs(90 * 60)),
//!     processors: Some(Processors::exactly(4)),
//!     memory_mb: Some(4096),
//!     ..LsfOptions::default()
//! };
//! let submit = options.submit_command(
//!     Path::new("/scratch/run/job.lsf"),
//!     Path::new("/scratch/run/job.out"),
//!     Path::new("/scratch/run/job.err"),
//! )?;
//! assert_eq!(
//!     submit.to_string(),
//!     "bsub -o /scratch/run/job.out -e /scratch/run/job.err -q normal -W 1:30 -n 4 \
//!      -R 'span[hosts=1] rusage[mem=4096]' < /scratch/run/job.lsf"
//! );
//! let id = lsf::parse_submit("Job <4521> is submitted to queue <normal>.\n")?;
//! assert_eq!(id, "4521");
//!
//! let report = lsf::parse_status(
//!     "\nJob <4521>, Job Name <align>, User <alice>, Project <default>, Status <EXIT>, Qu\n                     eue <normal>, Command <bash wrapper.sh>\n\
//!      Thu May  2 12:15:07: Completed <exit>; TERM_RUNLIMIT: job killed after reaching\n                      LSF run time limit.\n",
//!     "Job <4400> is not found\n",
//! );
//! match report.lookup("4521") {
//!     Lookup::Found(job) => assert_eq!(job.state, SchedulerState::Failed(Failure::Timeout)),
//!     other => panic!("{other:?}"),
//! }
//! assert_eq!(report.lookup("4400"), Lookup::NotFound);
//! # Ok::<(), lsf::LsfError>(())
//! ```

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::pbs::excerpt;
pub use super::pbs::{CommandLine, JobStatus, Lookup, StatusReport};
use super::scheduler::{Failure, SchedulerState};

/// How many processors (job slots) a job asks for: `bsub -n min[,max]`, all on one host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Processors {
    /// At least this many.
    pub min: u32,
    /// At most this many, when the job can use a range.
    pub max: Option<u32>,
}

impl Processors {
    /// Exactly `n` processors.
    pub fn exactly(n: u32) -> Processors {
        Processors { min: n, max: None }
    }

    /// Between `min` and `max` processors.
    pub fn range(min: u32, max: u32) -> Processors {
        Processors {
            min,
            max: Some(max),
        }
    }
}

/// What an LSF job asks for: rendered as `bsub` options.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LsfOptions {
    /// The queue (`-q`); the cluster's default queue when `None`.
    pub queue: Option<String>,
    /// The job's name (`-J`), without `[` or `]` (which would make it a job array).
    pub name: Option<String>,
    /// The run limit (`-W [hours:]minutes`, rounded up to a minute).
    pub wall_limit: Option<Duration>,
    /// The project to charge (`-P`).
    pub project: Option<String>,
    /// Processors (`-n min[,max]`), all on one host (`-R span[hosts=1]`).
    pub processors: Option<Processors>,
    /// Memory to reserve, in megabytes (`-R rusage[mem=N]`; a site whose
    /// `LSF_UNIT_FOR_LIMITS` is not MB reads N in its own unit).
    pub memory_mb: Option<u64>,
    /// More arguments for `bsub`, put last (`-G group`, `-M 8000`, ...).
    pub extra_args: Vec<String>,
}

impl LsfOptions {
    /// `bsub -o <stdout> -e <stderr> [options] < <script>`: submit the script written at
    /// `script`, which `bsub` reads on its standard input; the scheduler writes the
    /// script's own output and error to `stdout` and `stderr`.
    pub fn submit_command(
        &self,
        script: &Path,
        stdout: &Path,
        stderr: &Path,
    ) -> Result<CommandLine, LsfError> {
        let mut args = vec![
            "-o".to_string(),
            utf8("-o", stdout)?.to_string(),
            "-e".to_string(),
            utf8("-e", stderr)?.to_string(),
        ];
        if let Some(queue) = &self.queue {
            args.push("-q".to_string());
            args.push(word("-q", queue)?.to_string());
        }
        if let Some(name) = &self.name {
            let name = word("-J", name)?;
            if name.contains(['[', ']']) {
                return Err(invalid("-J", name, "contains [ or ] (a job array)"));
            }
            args.push("-J".to_string());
            args.push(name.to_string());
        }
        if let Some(limit) = self.wall_limit {
            args.push("-W".to_string());
            args.push(wall_limit(limit));
        }
        if let Some(project) = &self.project {
            args.push("-P".to_string());
            args.push(word("-P", project)?.to_string());
        }
        let mut requirements = Vec::new();
        if let Some(p) = self.processors {
            let n = match p.max {
                _ if p.min == 0 => {
                    return Err(invalid(
                        "-n",
                        &p.min.to_string(),
                        "is not a positive number",
                    ))
                }
                Some(max) if max < p.min => {
                    let range = format!("{},{max}", p.min);
                    return Err(invalid("-n", &range, "has its maximum below its minimum"));
                }
                Some(max) if max > p.min => format!("{},{max}", p.min),
                _ => p.min.to_string(),
            };
            args.push("-n".to_string());
            args.push(n);
            requirements.push("span[hosts=1]".to_string());
        }
        if let Some(mb) = self.memory_mb {
            requirements.push(format!("rusage[mem={mb}]"));
        }
        if !requirements.is_empty() {
            args.push("-R".to_string());
            args.push(requirements.join(" "));
        }
        args.extend(self.extra_args.iter().cloned());
        let mut command = CommandLine::new("bsub", args);
        command.stdin = Some(script.to_path_buf());
        Ok(command)
    }
}

/// `bjobs -l <ids...>`: the status of all of `ids` at once (finished jobs too, while
/// LSF keeps them). With no id, `bjobs` would list every unfinished job: callers ask
/// only when they have jobs in flight.
pub fn status_command<I, S>(ids: I) -> CommandLine
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut args = vec!["-l".to_string()];
    args.extend(ids.into_iter().map(|id| id.as_ref().to_string()));
    CommandLine::new("bjobs", args)
}

/// `bkill <ids...>`: kill all of `ids` at once.
pub fn kill_command<I, S>(ids: I) -> CommandLine
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    CommandLine::new(
        "bkill",
        ids.into_iter().map(|id| id.as_ref().to_string()).collect(),
    )
}

/// `bjobs -a -l -J <name>`: the jobs named `name`, finished or not, in the format
/// [`parse_status`] reads.
pub fn find_command(name: &str) -> CommandLine {
    CommandLine::new(
        "bjobs",
        ["-a", "-l", "-J", name].map(str::to_string).to_vec(),
    )
}

/// LSF's `-W [hours:]minutes`, rounded up to a whole minute and at least one:
/// `45`, `1:30`, `100:00`.
pub fn wall_limit(d: Duration) -> String {
    let secs = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
    let minutes = secs.div_ceil(60).max(1);
    match minutes / 60 {
        0 => minutes.to_string(),
        hours => format!("{hours}:{:02}", minutes % 60),
    }
}

/// The job id in what `bsub` printed (`Job <1234> is submitted to queue <normal>.`, or
/// `... to default queue <normal>.`), on whichever line it is. Anything else is an
/// error naming the output.
pub fn parse_submit(stdout: &str) -> Result<String, LsfError> {
    stdout
        .lines()
        .find_map(|line| {
            let rest = line.trim().strip_prefix("Job <")?;
            let (id, after) = rest.split_once('>')?;
            let id_ok = !id.is_empty() && id.chars().all(|c| c.is_ascii_digit());
            (id_ok && after.trim_start().starts_with("is submitted")).then(|| id.to_string())
        })
        .ok_or_else(|| LsfError::NoJobId {
            output: excerpt(stdout),
        })
}

/// Read the standard output and error of a `bjobs -l`: one [`JobStatus`] per job block,
/// the ids LSF does not know (`Job <1234> is not found`), and the lines it does not
/// understand. It never fails: what cannot be read is left in
/// [`StatusReport::messages`].
pub fn parse_status(stdout: &str, stderr: &str) -> StatusReport {
    let mut report = StatusReport::default();
    let mut block: Option<Block> = None;
    for line in logical_lines(stdout) {
        if let Some(id) = not_found(&line) {
            report.not_found.push(id);
        } else if let Some(id) = header_id(&line) {
            if let Some(done) = block.take() {
                done.finish(&mut report);
            }
            block = Some(Block {
                id,
                header: line,
                lines: Vec::new(),
            });
        } else if is_separator(&line) {
            if let Some(done) = block.take() {
                done.finish(&mut report);
            }
        } else if let Some(current) = block.as_mut() {
            current.lines.push(line);
        } else if !line.trim().is_empty() {
            report.messages.push(line.trim().to_string());
        }
    }
    if let Some(done) = block.take() {
        done.finish(&mut report);
    }
    for line in stderr.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match not_found(line) {
            Some(id) => report.not_found.push(id),
            None => report.messages.push(line.to_string()),
        }
    }
    report
}

/// The lines of `bjobs -l`'s output with the wrapped ones joined: a line that starts
/// with two spaces or more (or a tab) after a non-empty one continues it, and is
/// appended without its indentation. Empty lines are kept (they end sections).
pub fn logical_lines(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut after_blank = true;
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            out.push(String::new());
            after_blank = true;
            continue;
        }
        let continues = !after_blank && (line.starts_with("  ") || line.starts_with('\t'));
        match out.last_mut() {
            Some(last) if continues => last.push_str(line.trim_start()),
            _ => out.push(line.to_string()),
        }
        after_blank = false;
    }
    out
}

/// The id of a `Job <id> is not found` line.
fn not_found(line: &str) -> Option<String> {
    let rest = line.trim().strip_prefix("Job <")?;
    let (id, after) = rest.split_once('>')?;
    (after.trim() == "is not found" && !id.is_empty()).then(|| id.to_string())
}

/// The id of a job block's first line, `Job <id>, ...` (openlava: `Job Id <id>, ...`).
fn header_id(line: &str) -> Option<String> {
    let bytes = line.as_bytes();
    let after = match_at(bytes, b"Job <").or_else(|| match_at(bytes, b"Job Id <"))?;
    let (id, _) = line.get(after..)?.split_once('>')?;
    let id = id.trim();
    (!id.is_empty() && !id.contains(char::is_whitespace)).then(|| id.to_string())
}

/// A line of dashes, between two jobs.
fn is_separator(line: &str) -> bool {
    let line = line.trim();
    line.len() >= 10 && line.chars().all(|c| c == '-')
}

/// A job block being read: its first (joined) line and the lines after it.
struct Block {
    id: String,
    header: String,
    lines: Vec<String>,
}

impl Block {
    fn finish(self, report: &mut StatusReport) {
        let Some(raw_state) = field(&self.header, "Status <").map(str::trim) else {
            report.messages.push(format!(
                "job {}: no Status <...> in bjobs's output",
                self.id
            ));
            return;
        };
        let owner = field(&self.header, "User <");
        let mut exit_code = None;
        let mut done = false;
        let mut term: Option<&str> = None;
        let mut signal: Option<&str> = None;
        let mut zombie: Option<&str> = None;
        for line in &self.lines {
            if let Some(code) = number_after(line, "Exited with exit code ") {
                exit_code = Some(code);
            }
            if let Some(at) = find_loose(line, "Exited by signal ") {
                signal = sentence(line, at.0);
            }
            if find_loose(line, "Done successfully").is_some() {
                done = true;
            }
            if find_loose(line, "Completed <exit>").is_some() {
                if let Some(at) = line.find("TERM_") {
                    term = line.get(at..).map(str::trim);
                }
            }
            if let Some(at) = find_loose(line, "Termination request issued") {
                zombie = line.get(at.0..).map(str::trim);
            }
        }
        let term_code = term.map(|t| {
            let end = t
                .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
                .unwrap_or(t.len());
            t.get(..end).unwrap_or(t)
        });
        let reason = term
            .or(signal)
            .or(zombie)
            .map(str::to_string)
            .or_else(|| self.section("PENDING REASONS:"))
            .or_else(|| self.section("SUSPENDING REASONS:"));
        let exit_status = exit_code.or(done.then_some(0));
        report.jobs.push(JobStatus {
            name: field(&self.header, "Job Name <").map(str::to_string),
            raw_state: raw_state.to_string(),
            state: scheduler_state(raw_state, exit_code, term_code, owner),
            exit_status,
            reason,
            id: self.id,
        });
    }

    /// The lines of a section (`PENDING REASONS:`) up to the next empty line, joined.
    fn section(&self, title: &str) -> Option<String> {
        let mut lines = self.lines.iter().map(|l| l.trim());
        let first = lines.find_map(|l| l.strip_prefix(title))?;
        let text: Vec<&str> = std::iter::once(first.trim())
            .chain(lines.take_while(|l| !l.is_empty()))
            .filter(|l| !l.is_empty())
            .collect();
        (!text.is_empty()).then(|| text.join(" "))
    }
}

/// An LSF job status in common words, given what its events say: its exit code
/// (`Exited with exit code N.`), its `TERM_*` reason (`Completed <exit>; TERM_...`) and
/// its owner (`User <...>`).
///
/// | `Status` | meaning | state |
/// |---|---|---|
/// | `PEND` | pending | `Queued` |
/// | `PSUSP` | suspended while pending | `Queued` |
/// | `WAIT` | chunk job member waiting to run | `Queued` |
/// | `PROV` | waiting for its host to be provisioned | `Queued` |
/// | `RUN` | running | `Running` |
/// | `USUSP`, `SSUSP` | suspended by its user, by LSF | `Running` (not failed) |
/// | `UNKWN` | LSF lost contact with its host | `Running` (the exit marker decides) |
/// | `DONE` | ended with status 0 | `Completed` |
/// | `EXIT` | ended otherwise | `Failed`, for its reason (below) |
/// | `ZOMBI` | killed while its host was unreachable | `Failed(Other)` |
/// | other | | `Unrecognised` |
///
/// `EXIT`'s reason: `TERM_RUNLIMIT` is `Timeout`; `TERM_MEMLIMIT` and `TERM_SWAP` are
/// `OutOfMemory`; `TERM_OWNER` and `TERM_FORCE_OWNER` are `Cancelled` by the owner,
/// `TERM_ADMIN` and `TERM_FORCE_ADMIN` `Cancelled` by an administrator (unnamed);
/// `TERM_PREEMPT` is `Preempted`; anything else is `ExitCode` with the exit code, if
/// any.
pub fn scheduler_state(
    status: &str,
    exit_code: Option<i32>,
    term: Option<&str>,
    owner: Option<&str>,
) -> SchedulerState {
    match status {
        "PEND" | "PSUSP" | "WAIT" | "PROV" => SchedulerState::Queued,
        "RUN" | "USUSP" | "SSUSP" | "UNKWN" => SchedulerState::Running,
        "DONE" => SchedulerState::Completed,
        "EXIT" => SchedulerState::Failed(match term {
            Some("TERM_RUNLIMIT") => Failure::Timeout,
            Some("TERM_MEMLIMIT" | "TERM_SWAP") => Failure::OutOfMemory,
            Some("TERM_OWNER" | "TERM_FORCE_OWNER") => Failure::Cancelled {
                by: owner.map(str::to_string),
            },
            Some("TERM_ADMIN" | "TERM_FORCE_ADMIN") => Failure::Cancelled { by: None },
            Some("TERM_PREEMPT") => Failure::Preempted,
            _ => Failure::ExitCode(exit_code),
        }),
        "ZOMBI" => SchedulerState::Failed(Failure::Other(
            "ZOMBI: killed while its execution host was unreachable".to_string(),
        )),
        other => SchedulerState::Unrecognised(other.to_string()),
    }
}

/// If `s` starts with `key`, matched loosely (each space of `key` may be missing, since
/// LSF drops the space on which it wraps a line), how many bytes of `s` it covers.
fn match_at(s: &[u8], key: &[u8]) -> Option<usize> {
    let mut i = 0;
    for &k in key {
        match s.get(i) {
            Some(&c) if c == k => i += 1,
            _ if k == b' ' => {}
            _ => return None,
        }
    }
    Some(i)
}

/// Where `key` (matched loosely, see [`match_at`]) first is in `text`: its start and end.
fn find_loose(text: &str, key: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    (0..bytes.len()).find_map(|start| {
        let len = match_at(bytes.get(start..)?, key.as_bytes())?;
        Some((start, start + len))
    })
}

/// The value of `key <value>` in `text` (`key` ends with `<`).
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let (_, end) = find_loose(text, key)?;
    let (value, _) = text.get(end..)?.split_once('>')?;
    Some(value)
}

/// The number right after `key` in `text`.
fn number_after(text: &str, key: &str) -> Option<i32> {
    let (_, end) = find_loose(text, key)?;
    let rest = text.get(end..)?.trim_start();
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .map_or(rest, |n| rest.get(..n).unwrap_or(rest));
    digits.parse().ok()
}

/// The sentence of `text` that starts at byte `start` (up to and with its full stop).
fn sentence(text: &str, start: usize) -> Option<&str> {
    let rest = text.get(start..)?;
    Some(match rest.find(". ") {
        Some(end) => rest.get(..=end).unwrap_or(rest),
        None => rest.trim_end(),
    })
}

/// Why an LSF command could not be built, or its output not read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LsfError {
    /// `bsub` did not print a job id.
    #[error("bsub printed no job id: {output:?}")]
    NoJobId {
        /// What it printed (its first 2000 characters).
        output: String,
    },
    /// An option `bsub` cannot be given.
    #[error("LSF option {option} {value:?}: {reason}")]
    InvalidOption {
        /// The option (`-J`, `-n`, ...).
        option: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

fn invalid(option: &'static str, value: &str, reason: &'static str) -> LsfError {
    LsfError::InvalidOption {
        option,
        value: value.to_string(),
        reason,
    }
}

/// `value` if it can be an option's value: not empty, no control character.
fn word<'a>(option: &'static str, value: &'a str) -> Result<&'a str, LsfError> {
    if value.is_empty() {
        Err(invalid(option, value, "is empty"))
    } else if value.chars().any(char::is_control) {
        Err(invalid(
            option,
            value,
            "contains a line break or control character",
        ))
    } else {
        Ok(value)
    }
}

fn utf8<'a>(option: &'static str, path: &'a Path) -> Result<&'a str, LsfError> {
    let text = path
        .to_str()
        .ok_or_else(|| invalid(option, &path.to_string_lossy(), "is not UTF-8"))?;
    word(option, text)
}
