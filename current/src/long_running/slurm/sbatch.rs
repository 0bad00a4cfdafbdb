//! Submitting: the batch script's `#SBATCH` header, `sbatch --parsable`, and its answer.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::{excerpt, ParseError, QueryError, ScriptError};
use crate::long_running::CommandLine;

/// A Slurm job id, as Slurm prints it: `1234`, or for array jobs and steps `1234_5`,
/// `1234_[1-3]`, `1234.batch`.
///
/// It starts with a digit and holds no whitespace, `,` or `|` (which would break the
/// id lists of the commands and the columns of their output); apart from that it is
/// kept as Slurm wrote it. [`parse_sbatch`] only gives plain numbers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobId(String);

impl JobId {
    /// The id `id`, if it is one.
    pub fn new(id: impl Into<String>) -> Result<JobId, ParseError> {
        let id = id.into();
        let valid = id.starts_with(|c: char| c.is_ascii_digit())
            && !id.contains(|c: char| c.is_whitespace() || c == ',' || c == '|');
        if valid {
            Ok(JobId(id))
        } else {
            Err(ParseError::JobId(excerpt(&id, 200)))
        }
    }

    /// The id as Slurm prints it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for JobId {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<JobId, ParseError> {
        JobId::new(s)
    }
}

impl TryFrom<String> for JobId {
    type Error = ParseError;
    fn try_from(s: String) -> Result<JobId, ParseError> {
        JobId::new(s)
    }
}

impl From<JobId> for String {
    fn from(id: JobId) -> String {
        id.0
    }
}

impl AsRef<str> for JobId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// What a batch job asks of Slurm, written as `#SBATCH` lines at the top of its script
/// by [`SbatchOptions::render_script`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SbatchOptions {
    /// `--job-name`: unique per job, so that a job whose id was never recorded can be
    /// found again (`squeue --name`). ASCII letters, digits, `-`, `_`, `.` and `+` only.
    pub job_name: String,
    /// `--output`: the file the script's standard output goes to.
    pub output: PathBuf,
    /// `--error`: the file its standard error goes to.
    pub error: PathBuf,
    /// `--chdir`: the directory the script starts in (Slurm's default: the directory
    /// `sbatch` was run in).
    pub workdir: Option<PathBuf>,
    /// `--partition`: the queue (the cluster's default partition if `None`).
    pub partition: Option<String>,
    /// `--time`: the wall-clock limit, rounded up to whole minutes (see
    /// [`format_time_limit`]); the partition's limit if `None`.
    pub time_limit: Option<Duration>,
    /// `--cpus-per-task`: CPUs for the script (1 if `None`). Must not be 0.
    pub cpus: Option<u32>,
    /// `--mem`: memory in megabytes. Must not be 0 (which Slurm reads as "all the
    /// node's memory"). Without cgroups on the node, it is only checked against the
    /// node's size at submission.
    pub memory_mb: Option<u64>,
    /// `--requeue` (`Some(true)`) or `--no-requeue` (`Some(false)`): whether Slurm may
    /// run the job again after a node failure or a preemption; the cluster's default
    /// (`JobRequeue`) if `None`.
    pub requeue: Option<bool>,
    /// More options, one per `#SBATCH` line, in order (`--qos=high`, `--account=lab`).
    pub extra_args: Vec<String>,
}

impl SbatchOptions {
    /// A job named `job_name` writing its standard output and error to these files, with
    /// the cluster's defaults for everything else.
    pub fn new(
        job_name: impl Into<String>,
        output: impl Into<PathBuf>,
        error: impl Into<PathBuf>,
    ) -> SbatchOptions {
        SbatchOptions {
            job_name: job_name.into(),
            output: output.into(),
            error: error.into(),
            workdir: None,
            partition: None,
            time_limit: None,
            cpus: None,
            memory_mb: None,
            requeue: None,
            extra_args: Vec::new(),
        }
    }

    /// The `#SBATCH` lines, each ending with a line break.
    ///
    /// Values are written as they are when they hold nothing but letters, digits and
    /// `-_./:=,+@%`, else in double quotes with `"` and `\` escaped by a backslash
    /// (sbatch's own rule: a `#` outside quotes starts a comment). A `%` in the output
    /// and error paths is doubled (`%%`), since sbatch reads `%j` and the like there, and
    /// a backslash there is refused (sbatch drops it). Line breaks and NUL bytes cannot
    /// be written, nor paths that are not UTF-8.
    pub fn header(&self) -> Result<String, ScriptError> {
        if !valid_job_name(&self.job_name) {
            return Err(ScriptError::JobName(excerpt(&self.job_name, 200)));
        }
        let mut lines = vec![
            format!("--job-name={}", self.job_name),
            format!(
                "--output={}",
                quote(&filename_pattern("--output", &self.output)?)
            ),
            format!(
                "--error={}",
                quote(&filename_pattern("--error", &self.error)?)
            ),
        ];
        if let Some(dir) = &self.workdir {
            lines.push(format!(
                "--chdir={}",
                quote(value("--chdir", utf8("--chdir", dir)?)?)
            ));
        }
        if let Some(partition) = &self.partition {
            lines.push(format!(
                "--partition={}",
                quote(value("--partition", partition)?)
            ));
        }
        if let Some(limit) = self.time_limit {
            lines.push(format!("--time={}", format_time_limit(limit)));
        }
        if let Some(cpus) = self.cpus {
            if cpus == 0 {
                return Err(invalid("--cpus-per-task", "0", "at least 1 CPU"));
            }
            lines.push(format!("--cpus-per-task={cpus}"));
        }
        if let Some(mb) = self.memory_mb {
            if mb == 0 {
                return Err(invalid(
                    "--mem",
                    "0",
                    "Slurm reads 0 as all of a node's memory",
                ));
            }
            lines.push(format!("--mem={mb}M"));
        }
        match self.requeue {
            Some(true) => lines.push("--requeue".to_string()),
            Some(false) => lines.push("--no-requeue".to_string()),
            None => {}
        }
        for arg in &self.extra_args {
            lines.push(quote(value("extra argument", arg)?));
        }
        Ok(lines
            .iter()
            .map(|line| format!("#SBATCH {line}\n"))
            .collect())
    }

    /// The batch script: `#!/bin/bash`, the [`header`](Self::header), then `body`.
    ///
    /// sbatch reads `#SBATCH` lines up to the first line that is not a comment, so the
    /// body may start with anything (even its own `#!` line, which bash then ignores).
    pub fn render_script(&self, body: &str) -> Result<String, ScriptError> {
        let mut script = String::from("#!/bin/bash\n");
        script.push_str(&self.header()?);
        script.push_str(body);
        if !body.ends_with('\n') {
            script.push('\n');
        }
        Ok(script)
    }
}

/// `sbatch --parsable <script>`: submit the batch script written at `script` (rendered
/// by [`SbatchOptions::render_script`]). Its standard output, read by
/// [`parse_sbatch`], holds the job id.
pub fn sbatch_command(script: &Path) -> Result<CommandLine, ScriptError> {
    let script = utf8("script", script)?.to_string();
    Ok(CommandLine::new(
        "sbatch",
        vec!["--parsable".to_string(), script],
    ))
}

/// The job id in `sbatch --parsable`'s standard output.
///
/// `--parsable` prints `1234`, or `1234;cluster` on a multi-cluster setup (the cluster
/// is dropped). Sites may print banners before it, so the last line that is a number
/// (optionally followed by `;cluster`) is taken; other lines are ignored.
pub fn parse_sbatch(stdout: &str) -> Result<JobId, ParseError> {
    stdout
        .lines()
        .rev()
        .filter_map(|line| {
            let line = line.trim();
            let id = match line.split_once(';') {
                Some((id, cluster)) if !cluster.is_empty() && !cluster.contains(';') => id,
                Some(_) => return None,
                None => line,
            };
            (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then_some(id)
        })
        .next()
        .map(|id| JobId(id.to_string()))
        .ok_or_else(|| ParseError::NoJobId(excerpt(stdout, 2000)))
}

/// What sbatch says when the controller is busy or unreachable: the submission is
/// worth trying again (after looking the job up by name: it may have been submitted).
const TRANSIENT: [&str; 8] = [
    "Socket timed out",
    "Unable to contact slurm controller",
    "Unexpected message received",
    "Resource temporarily unavailable",
    "temporarily unable to accept job",
    "Connection refused",
    "Zero Bytes were transmitted or received",
    "Transport endpoint is not connected",
];

/// The job id of a finished `sbatch --parsable` call ([`sbatch_command`]).
///
/// A failure is [`QueryError::Failed`] (recoverable) when its standard error says the
/// controller is busy or unreachable (`Socket timed out on send/recv operation`,
/// `Unable to contact slurm controller (connect failure)`, ...): the job may or may
/// not have been submitted, so look it up by name before submitting it again. Any
/// other failure is [`QueryError::Rejected`] (`invalid partition specified`,
/// `Requested node configuration is not available`).
pub fn sbatch_outcome(output: &Output) -> Result<JobId, QueryError> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        return Ok(parse_sbatch(&String::from_utf8_lossy(&output.stdout))?);
    }
    let stderr = excerpt(stderr.trim(), 2000);
    if TRANSIENT.iter().any(|t| stderr.contains(t)) {
        Err(QueryError::Failed {
            command: "sbatch",
            code: output.status.code(),
            stderr,
        })
    } else {
        Err(QueryError::Rejected { stderr })
    }
}

/// A wall-clock limit in a form `--time` reads: `HH:MM:SS`, or `D-HH:MM:SS` from one
/// day on.
///
/// Slurm keeps limits in whole minutes and rounds seconds up (`--time=0:30` becomes
/// `00:01:00`, checked on Slurm 22.05), so the limit is rounded up to whole minutes
/// here: what is written is what Slurm enforces. `0` would mean "no limit" to Slurm, so
/// a zero duration gives the smallest limit, one minute.
///
/// ```
/// use std::time::Duration;
/// use current::long_running::slurm::format_time_limit;
///
/// assert_eq!(format_time_limit(Duration::from_secs(90)), "00:02:00");
/// assert_eq!(format_time_limit(Duration::from_secs(3600)), "01:00:00");
/// assert_eq!(format_time_limit(Duration::from_secs(2 * 86400 + 3661)), "2-01:02:00");
/// ```
pub fn format_time_limit(limit: Duration) -> String {
    let secs = limit
        .as_secs()
        .saturating_add(u64::from(limit.subsec_nanos() > 0));
    let minutes = secs.div_ceil(60).max(1);
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    if days > 0 {
        format!("{days}-{hours:02}:{mins:02}:00")
    } else {
        format!("{hours:02}:{mins:02}:00")
    }
}

/// Whether `name` is a job name this module writes: non-empty, ASCII letters, digits,
/// `-`, `_`, `.`, `+`.
pub(crate) fn valid_job_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.+".contains(c))
}

fn invalid(option: &'static str, value: &str, why: &'static str) -> ScriptError {
    ScriptError::Value {
        option,
        value: excerpt(value, 200),
        why,
    }
}

fn utf8<'a>(option: &'static str, path: &'a Path) -> Result<&'a str, ScriptError> {
    path.to_str()
        .ok_or_else(|| invalid(option, &path.to_string_lossy(), "not UTF-8"))
}

/// `v` if it can go on an `#SBATCH` line.
fn value<'a>(option: &'static str, v: &'a str) -> Result<&'a str, ScriptError> {
    if v.contains(['\n', '\r', '\0']) {
        Err(invalid(option, v, "a line break or a NUL byte"))
    } else if v.is_empty() {
        Err(invalid(option, v, "empty"))
    } else {
        Ok(v)
    }
}

/// A path for `--output`/`--error`, with its `%` doubled. A backslash is refused:
/// sbatch's filename patterns drop it (`e\rr` names the file `err`, Slurm 22.05).
fn filename_pattern(option: &'static str, path: &Path) -> Result<String, ScriptError> {
    let path = value(option, utf8(option, path)?)?;
    if path.contains('\\') {
        return Err(invalid(
            option,
            path,
            "sbatch drops backslashes from file names",
        ));
    }
    Ok(path.replace('%', "%%"))
}

/// `v` as sbatch reads it on an `#SBATCH` line.
fn quote(v: &str) -> String {
    let plain = v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c));
    if plain {
        v.to_string()
    } else {
        format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurm_time_limits_round_up_to_minutes() {
        let t = |s| format_time_limit(Duration::from_secs(s));
        assert_eq!(t(0), "00:01:00");
        assert_eq!(t(1), "00:01:00");
        assert_eq!(t(30), "00:01:00");
        assert_eq!(t(60), "00:01:00");
        assert_eq!(t(61), "00:02:00");
        assert_eq!(t(90 * 60), "01:30:00");
        assert_eq!(t(3601), "01:01:00");
        assert_eq!(t(86_399), "1-00:00:00");
        assert_eq!(t(86_400), "1-00:00:00");
        assert_eq!(t(86_401), "1-00:01:00");
        assert_eq!(t(2 * 86_400 + 3 * 3600 + 4 * 60 + 5), "2-03:05:00");
        assert_eq!(format_time_limit(Duration::from_millis(60_001)), "00:02:00");
        assert_eq!(format_time_limit(Duration::from_nanos(1)), "00:01:00");
        // no overflow at the extremes
        assert!(format_time_limit(Duration::MAX).contains('-'));
    }

    #[test]
    fn slurm_header_of_the_plain_options() {
        let opts = SbatchOptions::new("current-abc.1", "/run/j/stdout", "/run/j/stderr");
        assert_eq!(
            opts.render_script("exec bash wrapper.sh").unwrap(),
            "#!/bin/bash\n\
             #SBATCH --job-name=current-abc.1\n\
             #SBATCH --output=/run/j/stdout\n\
             #SBATCH --error=/run/j/stderr\n\
             exec bash wrapper.sh\n"
        );
    }

    #[test]
    fn slurm_header_of_every_option() {
        let opts = SbatchOptions {
            workdir: Some("/scratch/my \\run".into()),
            partition: Some("debug".into()),
            time_limit: Some(Duration::from_secs(90)),
            cpus: Some(4),
            memory_mb: Some(2048),
            requeue: Some(false),
            extra_args: vec!["--qos=high".into(), "--comment=a \"b\" #c".into()],
            ..SbatchOptions::new("j", "/out dir/o%j.txt", "/e rr")
        };
        assert_eq!(
            opts.header().unwrap(),
            "#SBATCH --job-name=j\n\
             #SBATCH --output=\"/out dir/o%%j.txt\"\n\
             #SBATCH --error=\"/e rr\"\n\
             #SBATCH --chdir=\"/scratch/my \\\\run\"\n\
             #SBATCH --partition=debug\n\
             #SBATCH --time=00:02:00\n\
             #SBATCH --cpus-per-task=4\n\
             #SBATCH --mem=2048M\n\
             #SBATCH --no-requeue\n\
             #SBATCH --qos=high\n\
             #SBATCH \"--comment=a \\\"b\\\" #c\"\n"
        );
        let requeue = SbatchOptions {
            requeue: Some(true),
            ..SbatchOptions::new("j", "o", "e")
        };
        assert!(requeue.header().unwrap().ends_with("#SBATCH --requeue\n"));
    }

    #[test]
    fn slurm_header_refuses_what_sbatch_cannot_read() {
        let base = SbatchOptions::new("ok", "o", "e");
        for name in ["", "a b", "a,b", "a|b", "a\nb", "é", "a#b"] {
            let opts = SbatchOptions {
                job_name: name.into(),
                ..base.clone()
            };
            assert!(
                matches!(opts.header(), Err(ScriptError::JobName(_))),
                "{name:?}"
            );
        }
        let bad = [
            SbatchOptions {
                output: "a\nb".into(),
                ..base.clone()
            },
            SbatchOptions {
                error: "".into(),
                ..base.clone()
            },
            SbatchOptions {
                error: "a\\b".into(),
                ..base.clone()
            },
            SbatchOptions {
                partition: Some("p\r".into()),
                ..base.clone()
            },
            SbatchOptions {
                cpus: Some(0),
                ..base.clone()
            },
            SbatchOptions {
                memory_mb: Some(0),
                ..base.clone()
            },
            SbatchOptions {
                extra_args: vec!["--x=\0".into()],
                ..base.clone()
            },
        ];
        for opts in bad {
            assert!(
                matches!(opts.render_script("true"), Err(ScriptError::Value { .. })),
                "{opts:?}"
            );
        }
    }

    #[test]
    fn slurm_header_refuses_paths_that_are_not_utf8() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let opts = SbatchOptions::new("j", OsStr::from_bytes(b"/a\xff"), "e");
        assert!(matches!(opts.header(), Err(ScriptError::Value { .. })));
        assert!(sbatch_command(Path::new(OsStr::from_bytes(b"\xff"))).is_err());
    }

    #[test]
    fn slurm_sbatch_command_passes_the_script_as_a_file() {
        let cmd = sbatch_command(Path::new("/run/j/job.sbatch")).unwrap();
        assert_eq!(cmd.program, "sbatch");
        assert_eq!(cmd.args, ["--parsable", "/run/j/job.sbatch"]);
        assert_eq!(cmd.stdin, None);
    }

    #[test]
    fn slurm_parse_sbatch_forms() {
        let id = |s| parse_sbatch(s).map(|id| id.to_string());
        assert_eq!(id("24\n"), Ok("24".into()));
        assert_eq!(id("24"), Ok("24".into()));
        assert_eq!(id("  24  \r\n"), Ok("24".into()));
        assert_eq!(id("24;localci\n"), Ok("24".into()));
        assert_eq!(
            id("Welcome to the cluster!\nYour quota: 12 GB\n24\n\n"),
            Ok("24".into())
        );
        for bad in [
            "",
            "\n",
            "Submitted batch job 24\n",
            "24;\n",
            "24;a;b\n",
            ";x",
            "-24",
            "2 4",
            "２４",
        ] {
            assert!(
                matches!(parse_sbatch(bad), Err(ParseError::NoJobId(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn slurm_job_ids() {
        for ok in ["1", "1234", "123_4", "123_[1-3]", "123.batch", "12+0"] {
            assert_eq!(
                JobId::new(ok).map(|j| j.as_str().to_string()),
                Ok(ok.to_string())
            );
        }
        for bad in ["", "x1", " 1", "1 ", "1,2", "1|2", "_1"] {
            assert!(JobId::new(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            "77".parse::<JobId>().map(String::from),
            Ok("77".to_string())
        );
    }
}
