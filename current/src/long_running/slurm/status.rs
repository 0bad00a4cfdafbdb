//! Asking about jobs (`squeue`, `sacct`) and cancelling them (`scancel`), in batches.

use std::process::Output;
use std::time::Duration;

use super::error::{excerpt, ParseError, QueryError, ScriptError};
use super::sbatch::{valid_job_name, JobId};
use super::state::{classify, ExitStatus, SlurmState};
use crate::long_running::scheduler::SchedulerState;
use crate::long_running::CommandLine;

/// The most ids one `scancel` is given ([`scancel_commands`] makes several calls for
/// more).
pub const MAX_IDS_PER_CALL: usize = 100;

/// The columns `squeue` is asked for (`--Format`): job id, state, reason, exit status
/// (a raw wait status), node list, name. `:` without a width means "as wide as
/// needed" (no truncation, checked with 60-character names), and `|` after it is the
/// separator. The name comes last, so that nothing in it can shift the other columns.
pub const SQUEUE_FORMAT: &str = "JobID:|,State:|,Reason:|,exit_code:|,NodeList:|,Name:";

/// The columns `sacct` is asked for (`--format`, with `--parsable2`: `|`-separated,
/// never truncated): those of [`SQUEUE_FORMAT`], with the exit code (`code:signal`)
/// before the reason.
pub const SACCT_FORMAT: &str = "JobIDRaw,State,ExitCode,Reason,NodeList,JobName";

/// What `squeue` or `sacct` says about one job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobStatus {
    /// The job's id: the plain number `sbatch --parsable` gave (`squeue`'s `JobID` and
    /// `sacct`'s `JobIDRaw` number each element of an array job on its own; a pending
    /// array is listed once, under the array's id).
    pub id: JobId,
    /// Its name (`--job-name`).
    pub name: String,
    /// The state as printed: `RUNNING`, `CANCELLED by 0`, `CA`, `CANCELLED+`.
    pub raw_state: String,
    /// That state, when it is one Slurm documents (exactly, or truncated without
    /// ambiguity).
    pub slurm_state: Option<SlurmState>,
    /// What it means for the engine (see [`SlurmState::scheduler_state`]).
    pub state: SchedulerState,
    /// How it ended, once it has (`None` while it is queued or running, and when the
    /// field does not read).
    pub exit: Option<ExitStatus>,
    /// Why it is in that state (`Resources`, `JobHeldUser`, `NonZeroExitCode`,
    /// `TimeLimit`, `OutOfMemory`); `None` for Slurm's `None` or nothing.
    pub reason: Option<String>,
    /// The nodes it runs or ran on (`node[01-04]`); `None` before it started.
    pub nodes: Option<String>,
}

/// Where `sacct` finds jobs that have ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SacctSource {
    /// The accounting database (slurmdbd): plain `sacct`. A cluster without one
    /// answers [`QueryError::AccountingDisabled`].
    Accounting,
    /// The job completion log (`JobCompType=jobcomp/filetxt`): `sacct --completion`,
    /// which works without a database. It lists each job once it has ended, with its
    /// state, exit code and nodes but no reason, and (Slurm 22.05) ignores
    /// `--starttime` and `--name`: only `--jobs` filters it.
    Completion,
}

/// One `squeue` for all of `ids`, finished jobs included (`--states=all`): finished
/// jobs stay listed for the controller's `MinJobAge` (300 s by default) after they end,
/// then vanish. `None` when there is no id (`squeue` would list every job).
///
/// Read its output with [`squeue_outcome`].
pub fn squeue_by_ids(ids: &[JobId]) -> Option<CommandLine> {
    (!ids.is_empty()).then(|| squeue(format!("--jobs={}", join(ids))))
}

/// One `squeue` for the jobs named `names` (to find a job whose id was never recorded),
/// finished ones included. `None` when there is no name.
pub fn squeue_by_names<S: AsRef<str>>(names: &[S]) -> Result<Option<CommandLine>, ScriptError> {
    Ok(names_list(names)?.map(|names| squeue(format!("--name={names}"))))
}

fn squeue(select: String) -> CommandLine {
    CommandLine::new(
        "squeue",
        vec![
            "--noheader".to_string(),
            "--states=all".to_string(),
            select,
            format!("--Format={SQUEUE_FORMAT}"),
        ],
    )
}

/// One `sacct` for all of `ids`, over the jobs that were eligible, running or ended in
/// the last `since` (`--starttime=now-<seconds>seconds`): pass at least the time since
/// the oldest of them was submitted (a job that ended before the window is not listed,
/// and sacct's default window starts at midnight). Only jobs, not their steps
/// (`--allocations`). `None` when there is no id.
///
/// Read its output with [`sacct_outcome`].
pub fn sacct_by_ids(source: SacctSource, since: Duration, ids: &[JobId]) -> Option<CommandLine> {
    (!ids.is_empty()).then(|| sacct(source, since, format!("--jobs={}", join(ids))))
}

/// One `sacct` for the jobs named `names`, over the last `since`. With
/// [`SacctSource::Accounting`], jobs that never started (cancelled while pending) are
/// not listed by name (Slurm 22.05); with [`SacctSource::Completion`] the names do not
/// filter at all: every job of the log is listed, so look for the names in the answer.
/// `None` when there is no name.
pub fn sacct_by_names<S: AsRef<str>>(
    source: SacctSource,
    since: Duration,
    names: &[S],
) -> Result<Option<CommandLine>, ScriptError> {
    Ok(names_list(names)?.map(|names| sacct(source, since, format!("--name={names}"))))
}

fn sacct(source: SacctSource, since: Duration, select: String) -> CommandLine {
    let mut args = Vec::with_capacity(7);
    if source == SacctSource::Completion {
        args.push("--completion".to_string());
    }
    args.extend([
        "--noheader".to_string(),
        "--parsable2".to_string(),
        "--allocations".to_string(),
        format!("--starttime=now-{}seconds", since.as_secs()),
        select,
        format!("--format={SACCT_FORMAT}"),
    ]);
    CommandLine::new("sacct", args)
}

/// `scancel <ids...>`, in calls of at most [`MAX_IDS_PER_CALL`] ids; none for no id.
///
/// `scancel` succeeds, silently, for ids that are unknown or already ended (Slurm
/// 22.05): a failure ([`scancel_outcome`]) means the controller did not answer, and the
/// call is worth repeating.
pub fn scancel_commands(ids: &[JobId]) -> Vec<CommandLine> {
    ids.chunks(MAX_IDS_PER_CALL)
        .map(|chunk| {
            CommandLine::new(
                "scancel",
                chunk.iter().map(|id| id.as_str().to_string()).collect(),
            )
        })
        .collect()
}

fn join(ids: &[JobId]) -> String {
    ids.iter().map(JobId::as_str).collect::<Vec<_>>().join(",")
}

fn names_list<S: AsRef<str>>(names: &[S]) -> Result<Option<String>, ScriptError> {
    if let Some(bad) = names.iter().find(|n| !valid_job_name(n.as_ref())) {
        return Err(ScriptError::JobName(excerpt(bad.as_ref(), 200)));
    }
    Ok((!names.is_empty()).then(|| {
        names
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join(",")
    }))
}

/// The jobs in the standard output of `squeue --noheader --Format=`[`SQUEUE_FORMAT`].
///
/// Empty lines are skipped; any other line that is not six `|`-separated fields with a
/// job id first is an error naming it ([`ParseError::Line`]): a status query that is not
/// understood is retried, not taken to mean that its jobs are gone. A state that is not
/// known is not an error: it is [`SchedulerState::Unrecognised`].
pub fn parse_squeue(stdout: &str) -> Result<Vec<JobStatus>, ParseError> {
    parse_lines("squeue", stdout)
}

/// The jobs in the standard output of `sacct --noheader --parsable2
/// --format=`[`SACCT_FORMAT`] (with or without `--completion`), in its order: the same
/// rules as [`parse_squeue`]. Without `--allocations`, steps are listed too, under ids
/// such as `1234.batch`.
pub fn parse_sacct(stdout: &str) -> Result<Vec<JobStatus>, ParseError> {
    parse_lines("sacct", stdout)
}

/// `squeue`'s lines (`id|state|reason|wait status|nodes|name`) or `sacct`'s
/// (`id|state|code:signal|reason|nodes|name`).
fn parse_lines(command: &'static str, stdout: &str) -> Result<Vec<JobStatus>, ParseError> {
    let mut jobs = Vec::new();
    for (n, line) in stdout.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why| ParseError::Line {
            command,
            line_no: n + 1,
            line: excerpt(line, 200),
            why,
        };
        let mut fields = line.splitn(6, '|');
        let mut next = || fields.next();
        let (Some(id), Some(raw_state), Some(third), Some(fourth), Some(nodes), Some(name)) =
            (next(), next(), next(), next(), next(), next())
        else {
            return Err(bad("fewer than 6 fields"));
        };
        let id = JobId::new(id.trim()).map_err(|_| bad("no job id in the first field"))?;
        let (reason, exit) = if command == "squeue" {
            (third, ExitStatus::parse_wait_status(fourth))
        } else {
            (fourth, ExitStatus::parse_pair(third))
        };
        let (slurm_state, state) = classify(raw_state, exit);
        let finished = state.is_finished();
        jobs.push(JobStatus {
            id,
            name: name.trim_end_matches(['\r', '\n']).to_string(),
            raw_state: raw_state.trim().to_string(),
            slurm_state,
            state,
            exit: exit.filter(|_| finished),
            reason: Some(reason.trim())
                .filter(|r| !r.is_empty() && *r != "None")
                .map(str::to_string),
            nodes: Some(nodes.trim())
                .filter(|n| !n.is_empty() && *n != "(null)" && *n != "None assigned")
                .map(str::to_string),
        });
    }
    Ok(jobs)
}

/// The jobs of a finished `squeue` call ([`squeue_by_ids`], [`squeue_by_names`]).
///
/// `squeue --jobs=<one unknown id>` fails with `slurm_load_jobs error: Invalid job id
/// specified` (while several ids, some unknown, succeed and list the known ones): that
/// is an empty answer, not an error. Any other failure (`Socket timed out on
/// send/recv operation`, `Unable to contact slurm controller`) is
/// [`QueryError::Failed`]; ids absent from the answer are unknown to Slurm (never
/// submitted, or ended more than `MinJobAge` ago).
pub fn squeue_outcome(output: &Output) -> Result<Vec<JobStatus>, QueryError> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        if stderr.contains("Invalid job id specified") {
            return Ok(Vec::new());
        }
        return Err(failed("squeue", output, &stderr));
    }
    Ok(parse_squeue(&String::from_utf8_lossy(&output.stdout))?)
}

/// The jobs of a finished `sacct` call ([`sacct_by_ids`], [`sacct_by_names`]).
///
/// `Slurm accounting storage is disabled` (on standard error; exit status 1 on Slurm
/// 22.05) is [`QueryError::AccountingDisabled`]. When it succeeds, what it says on
/// standard error is ignored (`sacct --completion` warns `Unknown type ArrayJobId` for
/// array jobs in the log).
pub fn sacct_outcome(output: &Output) -> Result<Vec<JobStatus>, QueryError> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let disabled = "accounting storage is disabled";
    if stderr.contains(disabled) || stdout.contains(disabled) {
        return Err(QueryError::AccountingDisabled);
    }
    if !output.status.success() {
        return Err(failed("sacct", output, &stderr));
    }
    Ok(parse_sacct(&stdout)?)
}

/// Whether a finished `scancel` call ([`scancel_commands`]) did its work. Cancelling an
/// unknown or ended job succeeds; a failure is [`QueryError::Failed`], worth repeating.
pub fn scancel_outcome(output: &Output) -> Result<(), QueryError> {
    if output.status.success() {
        Ok(())
    } else {
        Err(failed(
            "scancel",
            output,
            &String::from_utf8_lossy(&output.stderr),
        ))
    }
}

/// The per-job errors `scancel` printed on standard error (`scancel: error: Kill job
/// error on job id 1234: Invalid job id specified`): id and message. Without
/// `--verbose`, Slurm 22.05 prints none for unknown or ended jobs.
pub fn scancel_errors(stderr: &str) -> Vec<(JobId, String)> {
    const MARK: &str = "Kill job error on job id ";
    stderr
        .lines()
        .filter_map(|line| {
            let (_, rest) = line.split_once(MARK)?;
            let (id, message) = rest.split_once(':')?;
            Some((JobId::new(id.trim()).ok()?, message.trim().to_string()))
        })
        .collect()
}

/// The entry for `id` in an answer, the last one if there are several (`sacct
/// --completion` lists a job again when ids were reused after the controller's state
/// was wiped).
pub fn find<'a>(jobs: &'a [JobStatus], id: &JobId) -> Option<&'a JobStatus> {
    jobs.iter().rev().find(|j| &j.id == id)
}

fn failed(command: &'static str, output: &Output, stderr: &str) -> QueryError {
    QueryError::Failed {
        command,
        code: output.status.code(),
        stderr: excerpt(stderr.trim(), 2000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::long_running::scheduler::Failure;

    fn ids(list: &[&str]) -> Vec<JobId> {
        list.iter().map(|i| JobId::new(*i).unwrap()).collect()
    }

    #[test]
    fn slurm_squeue_commands() {
        assert_eq!(squeue_by_ids(&[]), None);
        let cmd = squeue_by_ids(&ids(&["23", "24"])).unwrap();
        assert_eq!(
            cmd.to_string(),
            "squeue --noheader --states=all --jobs=23,24 \
             '--Format=JobID:|,State:|,Reason:|,exit_code:|,NodeList:|,Name:'"
        );
        let cmd = squeue_by_names(&["current-a", "current-b"])
            .unwrap()
            .unwrap();
        assert_eq!(cmd.args[2], "--name=current-a,current-b");
        assert_eq!(squeue_by_names::<&str>(&[]), Ok(None));
        assert!(squeue_by_names(&["a,b"]).is_err());
    }

    #[test]
    fn slurm_sacct_commands() {
        let day = Duration::from_secs(86_400);
        assert_eq!(sacct_by_ids(SacctSource::Accounting, day, &[]), None);
        let cmd = sacct_by_ids(SacctSource::Accounting, day, &ids(&["1", "2"])).unwrap();
        assert_eq!(cmd.program, "sacct");
        assert_eq!(
            cmd.args,
            [
                "--noheader",
                "--parsable2",
                "--allocations",
                "--starttime=now-86400seconds",
                "--jobs=1,2",
                "--format=JobIDRaw,State,ExitCode,Reason,NodeList,JobName",
            ]
        );
        let cmd = sacct_by_names(SacctSource::Completion, day, &["x"])
            .unwrap()
            .unwrap();
        assert_eq!(cmd.args[0], "--completion");
        assert_eq!(cmd.args[5], "--name=x");
        assert!(sacct_by_names(SacctSource::Completion, day, &["x y"]).is_err());
    }

    #[test]
    fn slurm_scancel_commands_in_batches() {
        assert!(scancel_commands(&[]).is_empty());
        let many: Vec<JobId> = (1..=250)
            .map(|i| JobId::new(i.to_string()).unwrap())
            .collect();
        let cmds = scancel_commands(&many);
        assert_eq!(cmds.len(), 3);
        assert!(cmds.iter().all(|c| c.program == "scancel"));
        assert_eq!(
            cmds.iter().map(|c| c.args.len()).collect::<Vec<_>>(),
            [100, 100, 50]
        );
        assert_eq!(cmds[2].args.last().map(String::as_str), Some("250"));
    }

    #[test]
    fn slurm_parse_squeue_line_fields() {
        let jobs = parse_squeue("7|CANCELLED|None|15|node[1-2]|a|b\n\n").unwrap();
        assert_eq!(
            jobs,
            [JobStatus {
                id: JobId::new("7").unwrap(),
                name: "a|b".into(),
                raw_state: "CANCELLED".into(),
                slurm_state: Some(SlurmState::Cancelled),
                state: SchedulerState::Failed(Failure::Cancelled { by: None }),
                exit: Some(ExitStatus {
                    code: 0,
                    signal: 15
                }),
                reason: None,
                nodes: Some("node[1-2]".into()),
            }]
        );
        assert_eq!(parse_squeue(""), Ok(vec![]));
        assert!(matches!(
            parse_squeue("7|RUNNING|None|0|n|x\ngarbage\n"),
            Err(ParseError::Line { line_no: 2, .. })
        ));
        assert!(matches!(
            parse_squeue("JOBID|STATE|REASON|EXIT_CODE|NODELIST|NAME\n"),
            Err(ParseError::Line { line_no: 1, .. })
        ));
    }

    #[test]
    fn slurm_scancel_error_lines() {
        let stderr = "scancel: Terminating job 999999\n\
                      scancel: error: Kill job error on job id 999999: Invalid job id specified\n\
                      scancel: error: Kill job error on job id x: nonsense\n";
        assert_eq!(
            scancel_errors(stderr),
            [(
                JobId::new("999999").unwrap(),
                "Invalid job id specified".to_string()
            )]
        );
    }
}
