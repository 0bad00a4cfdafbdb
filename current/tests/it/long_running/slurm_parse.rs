//! The Slurm parsers against verbatim outputs of a real cluster (Slurm 22.05.8, captured
//! by `scripts/slurm/capture-fixtures.sh` into `current/tests/fixtures/slurm/`, each with
//! a `.meta` file naming the command and its exit status) and hand-written ones for
//! states the test cluster cannot reach (`synthetic-*`); arbitrary input for each parser;
//! and the command builders on the cluster itself, when there is one.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output};
use std::time::{Duration, Instant};

use current::long_running::slurm::{
    self, JobId, JobStatus, ParseError, QueryError, SacctSource, SbatchOptions, SlurmState,
};
use current::long_running::{Failure, SchedulerState};
use proptest::prelude::*;

use super::slurm_available;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/slurm");

/// One capture: its standard output and error, and the exit status its `.meta` file
/// records.
struct Fixture {
    stdout: String,
    stderr: String,
    exit: i32,
}

impl Fixture {
    fn load(name: &str) -> Fixture {
        let read =
            |ext: &str| std::fs::read_to_string(Path::new(DIR).join(format!("{name}.{ext}")));
        let meta = read("meta").unwrap_or_else(|e| panic!("{name}.meta: {e}"));
        let exit = meta
            .lines()
            .find_map(|l| l.strip_prefix("exit: "))
            .and_then(|e| e.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name}.meta has no exit status"));
        Fixture {
            stdout: read("stdout").unwrap_or_else(|e| panic!("{name}.stdout: {e}")),
            stderr: read("stderr").unwrap_or_default(),
            exit,
        }
    }

    /// As `std::process::Command::output` would have returned it.
    fn output(&self) -> Output {
        Output {
            status: ExitStatus::from_raw(self.exit << 8),
            stdout: self.stdout.clone().into_bytes(),
            stderr: self.stderr.clone().into_bytes(),
        }
    }
}

/// A job as one line: id|name|raw state|Slurm state|engine state|exit|reason|nodes.
fn row(j: &JobStatus) -> String {
    format!(
        "{}|{}|{}|{}|{:?}|{}|{}|{}",
        j.id,
        j.name,
        j.raw_state,
        j.slurm_state.map_or("?", |s| s.long_name()),
        j.state,
        j.exit.map_or("-".to_string(), |e| e.to_string()),
        j.reason.as_deref().unwrap_or("-"),
        j.nodes.as_deref().unwrap_or("-"),
    )
}

fn rows(jobs: &[JobStatus]) -> Vec<String> {
    jobs.iter().map(row).collect()
}

fn squeue_rows(name: &str) -> Vec<String> {
    let f = Fixture::load(name);
    assert_eq!(f.exit, 0, "{name}");
    rows(&slurm::squeue_outcome(&f.output()).unwrap_or_else(|e| panic!("{name}: {e}")))
}

fn sacct_rows(name: &str) -> Vec<String> {
    let f = Fixture::load(name);
    assert_eq!(f.exit, 0, "{name}");
    rows(&slurm::sacct_outcome(&f.output()).unwrap_or_else(|e| panic!("{name}: {e}")))
}

/// One test per fixture, and the list of those fixtures (every capture is tested).
macro_rules! fixtures {
    ($($test:ident: $name:literal => $check:expr;)*) => {
        $(
            #[test]
            fn $test() {
                let check: fn(&str) = $check;
                check($name);
            }
        )*
        const TESTED: &[&str] = &[$($name),*];
    };
}

/// The first squeue answer by ids: finished and live jobs mixed.
const SQUEUE_BY_ID: [&str; 14] = [
    "64|current-fx-cancel|CANCELLED|CANCELLED|Failed(Cancelled { by: None })|0:15|-|localhost",
    "60|current-fx-ok|COMPLETED|COMPLETED|Completed|0:0|-|localhost",
    "61|current-fx-exit3|FAILED|FAILED|Failed(ExitCode(Some(3)))|3:0|NonZeroExitCode|localhost",
    "62|current-fx-signal|FAILED|FAILED|Failed(ExitCode(Some(137)))|0:9|JobLaunchFailure|localhost",
    "63|current-fx-oom|OUT_OF_MEMORY|OUT_OF_MEMORY|Failed(OutOfMemory)|0:125|OutOfMemory|localhost",
    "67|current-fx-begin|PENDING|PENDING|Queued|-|BeginTime|-",
    "68|current-fx-dep|PENDING|PENDING|Queued|-|DependencyNeverSatisfied|-",
    "70|current-fx-wide|PENDING|PENDING|Queued|-|Resources|-",
    "71|current-fx-array|PENDING|PENDING|Queued|-|Priority|-",
    "72|current-fx-arrayheld|PENDING|PENDING|Queued|-|JobHeldUser|-",
    "66|current-fx-held|PENDING|PENDING|Queued|-|JobHeldUser|-",
    "59|current-fx-timeout|RUNNING|RUNNING|Running|-|-|localhost",
    "65|current-fx-running|RUNNING|RUNNING|Running|-|-|localhost",
    "69|current-fx-hog|RUNNING|RUNNING|Running|-|-|localhost",
];

/// The jobs of the capture run in the job completion log, as `sacct --completion` lists
/// them (no reason there; cancelled and timed-out jobs have exit code 0:0).
const SACCT_COMPLETION: [&str; 14] = [
    "62|current-fx-signal|FAILED|FAILED|Failed(ExitCode(Some(137)))|0:9|-|localhost",
    "61|current-fx-exit3|FAILED|FAILED|Failed(ExitCode(Some(3)))|3:0|-|localhost",
    "64|current-fx-cancel|CANCELLED|CANCELLED|Failed(Cancelled { by: None })|0:0|-|localhost",
    "63|current-fx-oom|OUT_OF_MEMORY|OUT_OF_MEMORY|Failed(OutOfMemory)|0:125|-|localhost",
    "60|current-fx-ok|COMPLETED|COMPLETED|Completed|0:0|-|localhost",
    "71|current-fx-array|COMPLETED|COMPLETED|Completed|0:0|-|localhost",
    "59|current-fx-timeout|TIMEOUT|TIMEOUT|Failed(Timeout)|0:0|-|localhost",
    "65|current-fx-running|CANCELLED|CANCELLED|Failed(Cancelled { by: None })|0:0|-|localhost",
    "66|current-fx-held|CANCELLED|CANCELLED|Failed(Cancelled { by: None })|0:0|-|-",
    "68|current-fx-dep|CANCELLED|CANCELLED|Failed(Cancelled { by: None })|0:0|-|-",
    "69|current-fx-hog|CANCELLED|CANCELLED|Failed(Cancelled { by: None })|0:0|-|localhost",
    "67|current-fx-begin|CANCELLED|CANCELLED|Failed(Cancelled { by: None })|0:0|-|-",
    "70|current-fx-wide|CANCELLED|CANCELLED|Failed(Cancelled { by: None })|0:0|-|-",
    "72|current-fx-arrayheld|CANCELLED|CANCELLED|Failed(Cancelled { by: None })|0:0|-|-",
];

/// Plain sacct (slurmdbd) for the second capture run: `CANCELLED by 0`, reasons.
const SACCT_DBD: [&str; 16] = [
    "40|current-dbd-timeout|TIMEOUT|TIMEOUT|Failed(Timeout)|0:0|-|localhost",
    "41|current-dbd-ok|COMPLETED|COMPLETED|Completed|0:0|-|localhost",
    "42|current-dbd-exit3|FAILED|FAILED|Failed(ExitCode(Some(3)))|3:0|-|localhost",
    "43|current-dbd-signal|FAILED|FAILED|Failed(ExitCode(Some(137)))|0:9|-|localhost",
    "44|current-dbd-oom|OUT_OF_MEMORY|OUT_OF_MEMORY|Failed(OutOfMemory)|0:125|-|localhost",
    "45|current-dbd-cancel|CANCELLED by 0|CANCELLED|Failed(Cancelled { by: Some(\"0\") })|0:0|-|localhost",
    "46|current-dbd-running|CANCELLED by 0|CANCELLED|Failed(Cancelled { by: Some(\"0\") })|0:0|-|localhost",
    "47|current-dbd-held|CANCELLED by 0|CANCELLED|Failed(Cancelled { by: Some(\"0\") })|0:0|JobHeldUser|-",
    "48|current-dbd-begin|CANCELLED by 0|CANCELLED|Failed(Cancelled { by: Some(\"0\") })|0:0|BeginTime|-",
    "49|current-dbd-dep|CANCELLED by 0|CANCELLED|Failed(Cancelled { by: Some(\"0\") })|0:0|Dependency|-",
    "50|current-dbd-hog|CANCELLED by 0|CANCELLED|Failed(Cancelled { by: Some(\"0\") })|0:0|-|localhost",
    "51|current-dbd-wide|CANCELLED by 0|CANCELLED|Failed(Cancelled { by: Some(\"0\") })|0:0|-|-",
    "55|current-dbd-array|COMPLETED|COMPLETED|Completed|0:0|-|localhost",
    "56|current-dbd-array|COMPLETED|COMPLETED|Completed|0:0|-|localhost",
    "52|current-dbd-array|COMPLETED|COMPLETED|Completed|0:0|-|localhost",
    "53|current-dbd-arrayheld|CANCELLED by 0|CANCELLED|Failed(Cancelled { by: Some(\"0\") })|0:0|JobHeldUser|-",
];

fixtures! {
    slurm_fixture_sbatch_ok: "fx-sbatch-ok" => |name| {
        let f = Fixture::load(name);
        assert_eq!(f.stdout, "60\n");
        assert_eq!(slurm::parse_sbatch(&f.stdout).map(String::from), Ok("60".into()));
        assert_eq!(slurm::sbatch_outcome(&f.output()).map(String::from), Ok("60".into()));
    };
    slurm_fixture_sbatch_too_much_memory: "fx-sbatch-too-much-memory" => |name| {
        let f = Fixture::load(name);
        assert_eq!(f.exit, 1);
        let err = slurm::sbatch_outcome(&f.output()).unwrap_err();
        assert_eq!(
            err,
            QueryError::Rejected {
                stderr: "sbatch: error: Memory specification can not be satisfied\n\
                         sbatch: error: Batch job submission failed: Requested node configuration is not available"
                    .into()
            }
        );
        assert!(!err.is_recoverable());
    };
    slurm_fixture_sbatch_bad_partition: "fx-sbatch-bad-partition" => |name| {
        let err = slurm::sbatch_outcome(&Fixture::load(name).output()).unwrap_err();
        assert!(matches!(&err, QueryError::Rejected { stderr } if stderr.contains("invalid partition specified: nosuch")), "{err}");
    };
    slurm_fixture_sbatch_controller_down: "fx-sbatch-controller-down" => |name| {
        let err = slurm::sbatch_outcome(&Fixture::load(name).output()).unwrap_err();
        assert_eq!(
            err,
            QueryError::Failed {
                command: "sbatch",
                code: Some(1),
                stderr: "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)".into(),
            }
        );
        assert!(err.is_recoverable());
    };
    slurm_fixture_synthetic_sbatch_banner: "synthetic-sbatch-banner" => |name| {
        let f = Fixture::load(name);
        assert_eq!(slurm::sbatch_outcome(&f.output()).map(String::from), Ok("4242".into()));
    };
    slurm_fixture_synthetic_sbatch_socket_timeout: "synthetic-sbatch-socket-timeout" => |name| {
        let err = slurm::sbatch_outcome(&Fixture::load(name).output()).unwrap_err();
        assert!(matches!(err, QueryError::Failed { command: "sbatch", code: Some(1), .. }), "{err}");
    };

    slurm_fixture_squeue_just_submitted: "fx-squeue-just-submitted" => |name| {
        assert_eq!(squeue_rows(name), [
            "59|current-fx-timeout|PENDING|PENDING|Queued|-|-|-",
            "60|current-fx-ok|PENDING|PENDING|Queued|-|Priority|-",
            "61|current-fx-exit3|PENDING|PENDING|Queued|-|Priority|-",
            "62|current-fx-signal|PENDING|PENDING|Queued|-|Priority|-",
            "63|current-fx-oom|PENDING|PENDING|Queued|-|Priority|-",
            "64|current-fx-cancel|PENDING|PENDING|Queued|-|Priority|-",
            "65|current-fx-running|PENDING|PENDING|Queued|-|Priority|-",
            "67|current-fx-begin|PENDING|PENDING|Queued|-|BeginTime|-",
            "68|current-fx-dep|PENDING|PENDING|Queued|-|Dependency|-",
            "69|current-fx-hog|PENDING|PENDING|Queued|-|Priority|-",
            "70|current-fx-wide|PENDING|PENDING|Queued|-|Priority|-",
            "71|current-fx-array|PENDING|PENDING|Queued|-|-|-",
            "72|current-fx-arrayheld|PENDING|PENDING|Queued|-|JobHeldUser|-",
            "66|current-fx-held|PENDING|PENDING|Queued|-|JobHeldUser|-",
        ]);
    };
    slurm_fixture_squeue_by_id: "fx-squeue-by-id" => |name| {
        assert_eq!(squeue_rows(name), SQUEUE_BY_ID);
    };
    slurm_fixture_squeue_by_name: "fx-squeue-by-name" => |name| {
        assert_eq!(squeue_rows(name), SQUEUE_BY_ID);
    };
    slurm_fixture_squeue_compact: "fx-squeue-compact" => |name| {
        let jobs = slurm::parse_squeue(&Fixture::load(name).stdout).unwrap();
        let codes: Vec<&str> = jobs.iter().map(|j| j.raw_state.as_str()).collect();
        assert_eq!(codes, ["CA", "CD", "F", "F", "OOM", "PD", "PD", "PD", "PD", "PD", "PD", "R", "R", "R"]);
        // the same jobs as by long names, once the state words are swapped
        let long: Vec<String> = jobs
            .iter()
            .map(|j| {
                let state = j.slurm_state.expect("a known code");
                assert_eq!(state.short_code(), j.raw_state);
                row(&JobStatus { raw_state: state.long_name().to_string(), ..j.clone() })
            })
            .collect();
        assert_eq!(long, SQUEUE_BY_ID);
    };
    slurm_fixture_squeue_percent_format: "fx-squeue-percent-format" => |name| {
        // `-o '%i|%T|%r|%N|%j'`: no exit column, and array ids in their `%i` form;
        // with an empty exit column put in, it reads like SQUEUE_FORMAT's output
        let f = Fixture::load(name);
        let six: String = f
            .stdout
            .lines()
            .map(|l| {
                let (head, tail) = l.split_at(l.match_indices('|').nth(2).map_or(0, |(i, _)| i));
                format!("{head}|{tail}\n")
            })
            .collect();
        let jobs = slurm::parse_squeue(&six).unwrap();
        let ids: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
        assert_eq!(ids, ["64", "60", "61", "62", "63", "67", "68", "70", "71_[1-3]", "72_[1-4]", "66", "59", "65", "69"]);
        assert_eq!(jobs[8].state, SchedulerState::Queued);
        assert_eq!(jobs[8].reason.as_deref(), Some("Priority"));
        assert_eq!(jobs[9].name, "current-fx-arrayheld");
        // without the exit status, FAILED has no code
        assert_eq!(jobs[2].state, SchedulerState::Failed(Failure::ExitCode(None)));
        // as it is, the line has five fields: refused, naming the line
        assert!(matches!(
            slurm::parse_squeue(&f.stdout),
            Err(ParseError::Line { command: "squeue", line_no: 1, .. })
        ));
    };
    slurm_fixture_squeue_timeout: "fx-squeue-timeout" => |name| {
        assert_eq!(squeue_rows(name), [
            "59|current-fx-timeout|TIMEOUT|TIMEOUT|Failed(Timeout)|0:15|TimeLimit|localhost",
        ]);
    };
    slurm_fixture_squeue_final: "fx-squeue-final" => |name| {
        assert_eq!(squeue_rows(name), [
            "64|current-fx-cancel|CANCELLED|CANCELLED|Failed(Cancelled { by: None })|0:15|-|localhost",
            "65|current-fx-running|CANCELLED|CANCELLED|Failed(Cancelled { by: None })|0:15|-|localhost",
            "67|current-fx-begin|CANCELLED|CANCELLED|Failed(Cancelled { by: None })|0:0|BeginTime|-",
            "68|current-fx-dep|CANCELLED|CANCELLED|Failed(Cancelled { by: None })|0:0|DependencyNeverSatisfied|-",
            "69|current-fx-hog|CANCELLED|CANCELLED|Failed(Cancelled { by: None })|0:15|-|localhost",
            "70|current-fx-wide|CANCELLED|CANCELLED|Failed(Cancelled { by: None })|0:0|Resources|-",
            "66|current-fx-held|CANCELLED|CANCELLED|Failed(Cancelled { by: None })|0:0|JobHeldUser|-",
            "72|current-fx-arrayheld|CANCELLED|CANCELLED|Failed(Cancelled { by: None })|0:0|JobHeldUser|-",
            "60|current-fx-ok|COMPLETED|COMPLETED|Completed|0:0|-|localhost",
            "74|current-fx-array|COMPLETED|COMPLETED|Completed|0:0|-|localhost",
            "75|current-fx-array|COMPLETED|COMPLETED|Completed|0:0|-|localhost",
            "71|current-fx-array|COMPLETED|COMPLETED|Completed|0:0|-|localhost",
            "61|current-fx-exit3|FAILED|FAILED|Failed(ExitCode(Some(3)))|3:0|NonZeroExitCode|localhost",
            "62|current-fx-signal|FAILED|FAILED|Failed(ExitCode(Some(137)))|0:9|JobLaunchFailure|localhost",
            "63|current-fx-oom|OUT_OF_MEMORY|OUT_OF_MEMORY|Failed(OutOfMemory)|0:125|OutOfMemory|localhost",
            "59|current-fx-timeout|TIMEOUT|TIMEOUT|Failed(Timeout)|0:15|TimeLimit|localhost",
        ]);
    };
    slurm_fixture_squeue_some_unknown: "fx-squeue-some-unknown" => |name| {
        assert_eq!(squeue_rows(name), [
            "60|current-fx-ok|COMPLETED|COMPLETED|Completed|0:0|-|localhost",
            "61|current-fx-exit3|FAILED|FAILED|Failed(ExitCode(Some(3)))|3:0|NonZeroExitCode|localhost",
        ]);
    };
    slurm_fixture_squeue_unknown_id: "fx-squeue-unknown-id" => |name| {
        let f = Fixture::load(name);
        assert_eq!((f.exit, f.stdout.as_str()), (1, ""));
        assert_eq!(f.stderr, "slurm_load_jobs error: Invalid job id specified\n");
        assert_eq!(slurm::squeue_outcome(&f.output()), Ok(vec![]));
    };
    slurm_fixture_squeue_unknown_ids: "fx-squeue-unknown-ids" => |name| {
        assert_eq!(squeue_rows(name), Vec::<String>::new());
    };
    slurm_fixture_squeue_unknown_name: "fx-squeue-unknown-name" => |name| {
        assert_eq!(squeue_rows(name), Vec::<String>::new());
    };
    slurm_fixture_squeue_controller_down: "fx-squeue-controller-down" => |name| {
        let err = slurm::squeue_outcome(&Fixture::load(name).output()).unwrap_err();
        assert_eq!(err, QueryError::Failed {
            command: "squeue",
            code: Some(1),
            stderr: "slurm_load_jobs error: Unable to contact slurm controller (connect failure)".into(),
        });
        assert!(err.is_recoverable());
    };
    slurm_fixture_synthetic_squeue_states: "synthetic-squeue-states" => |name| {
        assert_eq!(squeue_rows(name), [
            "101|current-syn-configuring|CONFIGURING|CONFIGURING|Queued|-|-|node01",
            "102|current-syn-requeued|REQUEUED|REQUEUED|Queued|-|BeginTime|-",
            "103|current-syn-requeue-hold|REQUEUE_HOLD|REQUEUE_HOLD|Queued|-|JobHoldMaxRequeue|-",
            "104|current-syn-requeue-fed|REQUEUE_FED|REQUEUE_FED|Queued|-|-|-",
            "105|current-syn-resv-del-hold|RESV_DEL_HOLD|RESV_DEL_HOLD|Queued|-|ReservationDeleted|-",
            "106|current-syn-preempted|PREEMPTED|PREEMPTED|Queued|-|-|node02",
            "107|current-syn-completing|COMPLETING|COMPLETING|Running|-|-|node03",
            "108|current-syn-stage-out|STAGE_OUT|STAGE_OUT|Running|-|-|node03",
            "109|current-syn-signaling|SIGNALING|SIGNALING|Running|-|-|node03",
            "110|current-syn-resizing|RESIZING|RESIZING|Running|-|-|node[04-05]",
            "111|current-syn-suspended|SUSPENDED|SUSPENDED|Running|-|-|node06",
            "112|current-syn-stopped|STOPPED|STOPPED|Running|-|-|node06",
            "113|current-syn-node-fail|NODE_FAIL|NODE_FAIL|Failed(NodeFail)|0:0|NodeDown|node07",
            "114|current-syn-boot-fail|BOOT_FAIL|BOOT_FAIL|Failed(NodeFail)|0:0|NodeDown|node08",
            "115|current-syn-deadline|DEADLINE|DEADLINE|Failed(Other(\"DEADLINE\"))|0:0|DeadLine|-",
            "116|current-syn-revoked|REVOKED|REVOKED|Failed(Other(\"REVOKED\"))|0:0|-|-",
            "117|current-syn-special-exit|SPECIAL_EXIT|SPECIAL_EXIT|Failed(Other(\"SPECIAL_EXIT\"))|0:0|-|-",
            "118|current-syn-unknown-state|ERROR|?|Unrecognised(\"ERROR\")|-|-|-",
        ]);
    };
    slurm_fixture_synthetic_squeue_compact: "synthetic-squeue-compact" => |name| {
        let short = slurm::parse_squeue(&Fixture::load(name).stdout).unwrap();
        let long = slurm::parse_squeue(&Fixture::load("synthetic-squeue-states").stdout).unwrap();
        assert_eq!(short.len(), 18);
        for (s, l) in short.iter().zip(&long) {
            assert_eq!((&s.id, s.slurm_state, &s.exit), (&l.id, l.slurm_state, &l.exit));
            if l.slurm_state.is_some() {
                assert_eq!(s.state, l.state, "{}", s.raw_state);
            }
        }
        assert_eq!(short.last().map(|j| &j.state), Some(&SchedulerState::Unrecognised("ER".into())));
    };
    slurm_fixture_synthetic_squeue_garbage: "synthetic-squeue-garbage" => |name| {
        let err = slurm::squeue_outcome(&Fixture::load(name).output()).unwrap_err();
        assert_eq!(err, QueryError::Parse(ParseError::Line {
            command: "squeue",
            line_no: 2,
            line: "slurm_load_jobs: some warning printed on standard output".into(),
            why: "fewer than 6 fields",
        }));
        assert!(err.is_recoverable());
    };
    slurm_fixture_synthetic_squeue_socket_timeout: "synthetic-squeue-socket-timeout" => |name| {
        let err = slurm::squeue_outcome(&Fixture::load(name).output()).unwrap_err();
        assert!(matches!(&err, QueryError::Failed { command: "squeue", code: Some(1), stderr }
            if stderr == "slurm_load_jobs error: Socket timed out on send/recv operation"), "{err}");
    };

    slurm_fixture_sacct_completion_by_id: "fx-sacct-c-by-id" => |name| {
        let f = Fixture::load(name);
        // warnings on standard error, exit status 0: the answer stands
        assert!(f.stderr.contains("Unknown type ArrayJobId"));
        assert_eq!(sacct_rows(name), SACCT_COMPLETION);
    };
    slurm_fixture_sacct_completion_by_name: "fx-sacct-c-by-name" => |name| {
        // --name does not filter the job completion log: every job in it is listed,
        // jobs of earlier runs included (ids reused by no one here)
        let rows = sacct_rows(name);
        assert_eq!(rows.len(), 75);
        assert_eq!(rows[0], "1|wrap|COMPLETED|COMPLETED|Completed|0:0|-|localhost");
        // a job whose name had spaces broke the log's `key=value` line: no state
        assert_eq!(rows[21], "22|a||?|Unrecognised(\"\")|-|-|localhost");
        // a submission sbatch rejected is in the log too
        assert!(rows.contains(&"73|current-fx-toomuch|FAILED|FAILED|Failed(ExitCode(Some(129)))|0:1|-|-".to_string()));
        // the ids of this run, in the log's order, as by ids plus the array's elements
        let this_run: Vec<&str> = rows
            .iter()
            .map(String::as_str)
            .filter(|r| r.split('|').next().and_then(|id| id.parse::<u32>().ok()).is_some_and(|id| (59..=75).contains(&id)))
            .filter(|r| !r.contains("toomuch"))
            .collect();
        let mut expected: Vec<&str> = SACCT_COMPLETION.to_vec();
        expected.insert(6, "74|current-fx-array|COMPLETED|COMPLETED|Completed|0:0|-|localhost");
        expected.insert(7, "75|current-fx-array|COMPLETED|COMPLETED|Completed|0:0|-|localhost");
        assert_eq!(this_run, expected);
    };
    slurm_fixture_sacct_completion_jobid: "fx-sacct-c-jobid" => |name| {
        // JobID and JobIDRaw agree in the log: it knows nothing of arrays
        let f = Fixture::load(name);
        for line in f.stdout.lines() {
            let mut fields = line.split('|');
            assert_eq!(fields.next(), fields.next(), "{line}");
        }
        assert_eq!(f.stdout.lines().count(), 14);
    };
    slurm_fixture_sacct_completion_unknown: "fx-sacct-c-unknown" => |name| {
        assert_eq!(sacct_rows(name), Vec::<String>::new());
    };
    slurm_fixture_sacct_completion_controller_down: "fx-sacct-c-controller-down" => |name| {
        // it reads a file: the controller is not needed
        assert_eq!(sacct_rows(name), [
            "61|current-fx-exit3|FAILED|FAILED|Failed(ExitCode(Some(3)))|3:0|-|localhost",
            "60|current-fx-ok|COMPLETED|COMPLETED|Completed|0:0|-|localhost",
        ]);
    };
    slurm_fixture_sacct_disabled: "fx-sacct-disabled" => |name| {
        let f = Fixture::load(name);
        assert_eq!((f.exit, f.stdout.as_str(), f.stderr.as_str()), (1, "", "Slurm accounting storage is disabled\n"));
        let err = slurm::sacct_outcome(&f.output()).unwrap_err();
        assert_eq!(err, QueryError::AccountingDisabled);
        assert!(!err.is_recoverable());
        // as the shared notes saw it once, with exit status 0: the same
        let zero = Output { status: ExitStatus::from_raw(0), ..f.output() };
        assert_eq!(slurm::sacct_outcome(&zero), Err(QueryError::AccountingDisabled));
    };
    slurm_fixture_sacct_dbd_by_id: "dbd-sacct-by-id" => |name| {
        assert_eq!(sacct_rows(name), SACCT_DBD);
    };
    slurm_fixture_sacct_dbd_right_after: "dbd-sacct-right-after" => |name| {
        assert_eq!(sacct_rows(name), SACCT_DBD);
    };
    slurm_fixture_sacct_dbd_by_name: "dbd-sacct-by-name" => |name| {
        // by name, jobs that never started are missing (held, begin, dep, arrayheld)
        let expected: Vec<&str> = SACCT_DBD
            .iter()
            .copied()
            .filter(|r| !["47|", "48|", "49|", "53|"].iter().any(|id| r.starts_with(id)))
            .collect();
        assert_eq!(sacct_rows(name), expected);
    };
    slurm_fixture_sacct_dbd_steps: "dbd-sacct-steps" => |name| {
        // JobIDRaw,JobID,...: without --allocations, the batch steps follow their jobs;
        // with the JobID column taken out it reads like SACCT_FORMAT's output
        let f = Fixture::load(name);
        let mut job_ids = Vec::new();
        let six: String = f
            .stdout
            .lines()
            .map(|l| {
                let (raw, rest) = l.split_once('|').unwrap();
                let (job_id, rest) = rest.split_once('|').unwrap();
                job_ids.push(job_id.to_string());
                format!("{raw}|{rest}\n")
            })
            .collect();
        let jobs = slurm::parse_sacct(&six).unwrap();
        assert_eq!(jobs.len(), 27);
        assert_eq!(job_ids[20..23], ["52_1", "52_1.batch", "52_2"]);
        assert_eq!(job_ids[26], "53_[1-4]");
        let steps: Vec<String> = rows(&jobs).into_iter().filter(|r| r.contains(".batch|")).collect();
        assert_eq!(steps, [
            "40.batch|batch|CANCELLED|CANCELLED|Failed(Cancelled { by: None })|0:15|-|localhost",
            "41.batch|batch|COMPLETED|COMPLETED|Completed|0:0|-|localhost",
            "42.batch|batch|FAILED|FAILED|Failed(ExitCode(Some(3)))|3:0|-|localhost",
            "43.batch|batch|CANCELLED|CANCELLED|Failed(Cancelled { by: None })|0:9|-|localhost",
            "44.batch|batch|OUT_OF_MEMORY|OUT_OF_MEMORY|Failed(OutOfMemory)|0:125|-|localhost",
            "45.batch|batch|CANCELLED|CANCELLED|Failed(Cancelled { by: None })|0:15|-|localhost",
            "46.batch|batch|CANCELLED|CANCELLED|Failed(Cancelled { by: None })|0:15|-|localhost",
            "50.batch|batch|CANCELLED|CANCELLED|Failed(Cancelled { by: None })|0:15|-|localhost",
            "55.batch|batch|COMPLETED|COMPLETED|Completed|0:0|-|localhost",
            "56.batch|batch|COMPLETED|COMPLETED|Completed|0:0|-|localhost",
            "52.batch|batch|COMPLETED|COMPLETED|Completed|0:0|-|localhost",
        ]);
        let allocations: Vec<String> = rows(&jobs).into_iter().filter(|r| !r.contains(".batch|")).collect();
        assert_eq!(allocations, SACCT_DBD);
    };
    slurm_fixture_sacct_dbd_truncated: "dbd-sacct-truncated" => |name| {
        // without --parsable2 the columns are 10 wide: `OUT_OF_ME+`, `CANCELLED+`
        let f = Fixture::load(name);
        let states: Vec<(String, SchedulerState)> = f
            .stdout
            .lines()
            .map(|l| {
                let word = l.split_whitespace().nth(1).unwrap().to_string();
                let state = slurm::classify(&word, None).1;
                (word, state)
            })
            .collect();
        let cancelled = SchedulerState::Failed(Failure::Cancelled { by: None });
        assert_eq!(states.len(), 16);
        assert_eq!(states[4], ("OUT_OF_ME+".into(), SchedulerState::Failed(Failure::OutOfMemory)));
        assert_eq!(states[5], ("CANCELLED+".into(), cancelled.clone()));
        assert_eq!(states.iter().filter(|(_, s)| *s == cancelled).count(), 8);
        assert_eq!(states[0].1, SchedulerState::Failed(Failure::Timeout));
        // and the parsable parser refuses the fixed-width lines
        assert!(matches!(slurm::parse_sacct(&f.stdout), Err(ParseError::Line { line_no: 1, .. })));
    };
    slurm_fixture_sacct_dbd_unknown: "dbd-sacct-unknown" => |name| {
        assert_eq!(sacct_rows(name), Vec::<String>::new());
    };
    slurm_fixture_synthetic_sacct_states: "synthetic-sacct-states" => |name| {
        assert_eq!(sacct_rows(name), [
            "201|current-syn-cancelled-by-user|CANCELLED by 1000|CANCELLED|Failed(Cancelled { by: Some(\"1000\") })|0:0|-|node01",
            "202|current-syn-cancelled-after-restart|CANCELLED|CANCELLED|Failed(Cancelled { by: None })|0:15|-|node01",
            "203|current-syn-cancelled-truncated|CANCELLED+|CANCELLED|Failed(Cancelled { by: None })|0:0|-|node01",
            "204|current-syn-oom|OUT_OF_MEMORY|OUT_OF_MEMORY|Failed(OutOfMemory)|0:125|OutOfMemory|node02",
            "205|current-syn-oom-truncated|OUT_OF_ME+|OUT_OF_MEMORY|Failed(OutOfMemory)|0:125|-|node02",
            "206|current-syn-node-fail|NODE_FAIL|NODE_FAIL|Failed(NodeFail)|1:0|NodeDown|node03",
            "207|current-syn-preempted|PREEMPTED|PREEMPTED|Queued|-|-|node04",
            "208|current-syn-requeued|REQUEUED|REQUEUED|Queued|-|-|-",
            "209|current-syn-timeout|TIMEOUT|TIMEOUT|Failed(Timeout)|0:15|TimeLimit|node05",
            "210|current-syn-failed|FAILED|FAILED|Failed(ExitCode(Some(2)))|2:0|NonZeroExitCode|node05",
            "211|current-syn-deadline|DEADLINE|DEADLINE|Failed(Other(\"DEADLINE\"))|0:0|DeadLine|-",
            "212_4|current-syn-array-element|COMPLETED|COMPLETED|Completed|0:0|-|node06",
            "213_[5-7]|current-syn-array-pending|PENDING|PENDING|Queued|-|JobArrayTaskLimit|-",
            "214.batch|batch|CANCELLED|CANCELLED|Failed(Cancelled { by: None })|0:15|-|node07",
            "214.extern|extern|COMPLETED|COMPLETED|Completed|0:0|-|node07",
            "215|current-syn-name|with|bars|RUNNING|RUNNING|Running|-|-|node08",
        ]);
        let jobs = slurm::parse_sacct(&Fixture::load(name).stdout).unwrap();
        let id = |s: &str| JobId::new(s).unwrap();
        assert_eq!(slurm::find(&jobs, &id("212_4")).map(|j| j.state.clone()), Some(SchedulerState::Completed));
        assert_eq!(slurm::find(&jobs, &id("212")), None);
    };

    slurm_fixture_scancel_unknown: "fx-scancel-unknown" => |name| {
        let f = Fixture::load(name);
        assert_eq!((f.exit, f.stdout.as_str(), f.stderr.as_str()), (0, "", ""));
        assert_eq!(slurm::scancel_outcome(&f.output()), Ok(()));
    };
    slurm_fixture_scancel_unknown_verbose: "fx-scancel-unknown-verbose" => |name| {
        let f = Fixture::load(name);
        assert_eq!(slurm::scancel_outcome(&f.output()), Ok(()));
        assert_eq!(
            slurm::scancel_errors(&f.stderr),
            [(JobId::new("999999").unwrap(), "Invalid job id specified".to_string())]
        );
    };
    slurm_fixture_scancel_finished: "fx-scancel-finished" => |name| {
        let f = Fixture::load(name);
        assert_eq!((f.exit, f.stderr.as_str()), (0, ""));
        assert_eq!(slurm::scancel_outcome(&f.output()), Ok(()));
    };
    slurm_fixture_scancel_finished_verbose: "fx-scancel-finished-verbose" => |name| {
        let f = Fixture::load(name);
        assert_eq!(slurm::scancel_outcome(&f.output()), Ok(()));
        assert_eq!(
            slurm::scancel_errors(&f.stderr),
            [(JobId::new("60").unwrap(), "Job/step already completing or completed".to_string())]
        );
    };
    slurm_fixture_scancel_batch: "fx-scancel-batch" => |name| {
        // live, ended and unknown ids at once: silent success
        let f = Fixture::load(name);
        assert_eq!((f.exit, f.stdout.as_str(), f.stderr.as_str()), (0, "", ""));
        assert_eq!(slurm::scancel_outcome(&f.output()), Ok(()));
    };
    slurm_fixture_scancel_controller_down: "fx-scancel-controller-down" => |name| {
        let f = Fixture::load(name);
        let err = slurm::scancel_outcome(&f.output()).unwrap_err();
        assert!(matches!(&err, QueryError::Failed { command: "scancel", code: Some(8), .. }), "{err}");
        assert!(err.is_recoverable());
        assert_eq!(
            slurm::scancel_errors(&f.stderr),
            [(JobId::new("60").unwrap(), "Unable to contact slurm controller (connect failure)".to_string())]
        );
    };
}

#[test]
fn slurm_every_fixture_is_tested() {
    let mut captures: Vec<String> = std::fs::read_dir(DIR)
        .expect("the fixtures directory")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            Some(name.rsplit_once('.')?.0.to_string())
        })
        .collect();
    captures.sort();
    captures.dedup();
    let mut tested: Vec<String> = TESTED.iter().map(|s| s.to_string()).collect();
    tested.sort();
    assert_eq!(captures, tested);
}

#[test]
fn slurm_every_fixture_has_its_command_and_slurm_version() {
    for name in TESTED {
        let meta = std::fs::read_to_string(Path::new(DIR).join(format!("{name}.meta"))).unwrap();
        for key in ["command: ", "exit: ", "slurm: ", "note: "] {
            assert!(
                meta.lines().any(|l| l.starts_with(key)),
                "{name}.meta lacks {key:?}"
            );
        }
        let real = !name.starts_with("synthetic-");
        assert_eq!(meta.contains("slurm: 22.05.8"), real, "{name}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn slurm_parsers_never_panic(text in any::<String>()) {
        let _ = slurm::parse_sbatch(&text);
        let _ = slurm::parse_squeue(&text);
        let _ = slurm::parse_sacct(&text);
        let _ = slurm::classify(&text, None);
        let _ = slurm::scancel_errors(&text);
        let _ = JobId::new(text.clone());
        let _ = slurm::ExitStatus::parse_pair(&text);
        let _ = slurm::ExitStatus::parse_wait_status(&text);
        let output = Output {
            status: ExitStatus::from_raw(256),
            stdout: text.clone().into_bytes(),
            stderr: text.into_bytes(),
        };
        let _ = slurm::squeue_outcome(&output);
        let _ = slurm::sacct_outcome(&output);
        let _ = slurm::scancel_outcome(&output);
        let _ = slurm::sbatch_outcome(&output);
    }

    #[test]
    fn slurm_parsers_never_panic_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300), code in any::<i32>()) {
        let output = Output {
            status: ExitStatus::from_raw(code),
            stdout: bytes.clone(),
            stderr: bytes,
        };
        let _ = slurm::squeue_outcome(&output);
        let _ = slurm::sacct_outcome(&output);
        let _ = slurm::scancel_outcome(&output);
        let _ = slurm::sbatch_outcome(&output);
    }

    /// Lines shaped like the real ones, with arbitrary fields: each reads back as
    /// written, or is refused naming its line.
    #[test]
    fn slurm_squeue_lines_read_back(
        id in "[0-9]{1,7}(_[0-9]{1,3})?",
        state in "[A-Z_+]{0,14}( by [0-9]{1,5})?",
        reason in "[A-Za-z]{0,20}",
        exit in "[0-9]{0,5}",
        nodes in "[a-z0-9\\[\\],-]{0,12}",
        name in "[ -~]{0,30}",
    ) {
        let line = format!("{id}|{state}|{reason}|{exit}|{nodes}|{name}\n");
        let jobs = slurm::parse_squeue(&line).unwrap();
        prop_assert_eq!(jobs.len(), 1);
        prop_assert_eq!(jobs[0].id.as_str(), id.as_str());
        prop_assert_eq!(&jobs[0].name, &name);
        prop_assert_eq!(&jobs[0].raw_state, state.trim());
        let again = slurm::classify(&state, jobs[0].exit);
        prop_assert_eq!(&jobs[0].state, &again.1);
    }

    #[test]
    fn slurm_time_limits_never_round_down(secs in 0u64..10_000_000, nanos in 0u32..1_000_000_000) {
        let limit = Duration::new(secs, nanos);
        let text = slurm::format_time_limit(limit);
        let (days, hms) = text.split_once('-').map_or((0, text.as_str()), |(d, r)| (d.parse().unwrap(), r));
        let parts: Vec<u64> = hms.split(':').map(|p| p.parse().unwrap()).collect();
        prop_assert_eq!(parts.len(), 3);
        prop_assert_eq!(parts[2], 0);
        prop_assert!(parts[0] < 24 && parts[1] < 60);
        let minutes = days * 1440 + parts[0] * 60 + parts[1];
        prop_assert!(Duration::from_secs(minutes * 60) >= limit);
        prop_assert!(minutes >= 1);
        prop_assert!(minutes == 1 || Duration::from_secs((minutes - 1) * 60) < limit);
    }
}

// ---------------------------------------------------------------- on a real cluster

fn run(cmd: &slurm::CommandLine) -> Output {
    Command::new(&cmd.program)
        .args(&cmd.args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

/// Polls `squeue` for `id` until `done` holds (60 s at most).
fn wait_for(id: &JobId, done: impl Fn(&JobStatus) -> bool) -> JobStatus {
    let query = slurm::squeue_by_ids(std::slice::from_ref(id)).expect("an id");
    let start = Instant::now();
    loop {
        let jobs = slurm::squeue_outcome(&run(&query)).expect("squeue answers");
        if let Some(job) = slurm::find(&jobs, id).filter(|j| done(j)) {
            return job.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "job {id}: {jobs:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn scontrol(id: &JobId) -> String {
    let out = Command::new("scontrol")
        .args(["show", "job", "--oneliner", id.as_str()])
        .output()
        .expect("scontrol");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A scratch directory whose path has a space and a `%` in it.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every builder and reader on the cluster: a rendered script (quoted values, a `%` in
/// the output path, a time limit rounded up) submitted with `sbatch --parsable`, found
/// by id and by name with `squeue`, in the job completion log with `sacct
/// --completion`; a held job cancelled with `scancel` along with an unknown id.
#[test]
fn slurm_commands_on_the_cluster() {
    if !slurm_available("slurm_commands_on_the_cluster") {
        return;
    }
    let dir = Scratch(std::env::temp_dir().join(format!(
        "current-it slurm %cmds-{}-{:08x}",
        std::process::id(),
        fastrand::u32(..)
    )));
    std::fs::create_dir_all(&dir.0).unwrap();
    let name = format!(
        "current-it-cmds-{}-{:08x}",
        std::process::id(),
        fastrand::u32(..)
    );
    let options = SbatchOptions {
        workdir: Some(dir.0.clone()),
        time_limit: Some(Duration::from_secs(61)),
        cpus: Some(1),
        memory_mb: Some(100),
        requeue: Some(false),
        extra_args: vec!["--comment=a \"b\" #c".to_string()],
        ..SbatchOptions::new(&name, dir.0.join("out %j.txt"), dir.0.join("err.txt"))
    };
    let script = dir.0.join("job.sbatch");
    let body = "pwd; echo \"$SLURM_JOB_NAME\"; echo oops >&2; exit 3";
    std::fs::write(&script, options.render_script(body).unwrap()).unwrap();
    let submitted = Instant::now();
    let id = slurm::sbatch_outcome(&run(&slurm::sbatch_command(&script).unwrap()))
        .expect("sbatch accepts the rendered script");
    assert!(id.as_str().bytes().all(|b| b.is_ascii_digit()), "{id}");

    let shown = scontrol(&id);
    for field in [
        "TimeLimit=00:02:00",
        "Requeue=0",
        "Comment=a \"b\" #c",
        "MinMemoryNode=100M",
    ] {
        assert!(shown.contains(field), "{field} not in {shown}");
    }
    assert!(
        shown.contains(&format!("WorkDir={}", dir.0.display())),
        "{shown}"
    );

    let job = wait_for(&id, |j| j.state.is_finished());
    eprintln!("job {id} ended in {:?}", submitted.elapsed());
    assert_eq!(job.name, name);
    assert_eq!(
        job.state,
        SchedulerState::Failed(Failure::ExitCode(Some(3)))
    );
    assert_eq!(job.reason.as_deref(), Some("NonZeroExitCode"));
    assert!(job.nodes.is_some());
    let stdout = std::fs::read_to_string(dir.0.join("out %j.txt")).expect("the %-named output");
    assert_eq!(stdout, format!("{}\n{name}\n", dir.0.display()));
    assert_eq!(
        std::fs::read_to_string(dir.0.join("err.txt")).unwrap(),
        "oops\n"
    );

    let by_name = slurm::squeue_by_names(&[name.as_str()])
        .unwrap()
        .expect("a name");
    let jobs = slurm::squeue_outcome(&run(&by_name)).unwrap();
    assert_eq!(jobs.iter().map(|j| &j.id).collect::<Vec<_>>(), [&id]);

    let hour = Duration::from_secs(3600);
    let log =
        slurm::sacct_by_ids(SacctSource::Completion, hour, std::slice::from_ref(&id)).unwrap();
    let start = Instant::now();
    let entry = loop {
        let ended =
            slurm::sacct_outcome(&run(&log)).expect("the job completion log (jobcomp/filetxt)");
        if let Some(entry) = slurm::find(&ended, &id) {
            break entry.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "job {id} not in the completion log"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        entry.state,
        SchedulerState::Failed(Failure::ExitCode(Some(3)))
    );
    let accounting =
        slurm::sacct_by_ids(SacctSource::Accounting, hour, std::slice::from_ref(&id)).unwrap();
    match slurm::sacct_outcome(&run(&accounting)) {
        Err(QueryError::AccountingDisabled) => {}
        Ok(jobs) => assert!(jobs.iter().all(|j| j.id == id), "{jobs:?}"),
        Err(e) => panic!("sacct: {e}"),
    }

    let unknown = JobId::new("999999999").unwrap();
    let none = slurm::squeue_outcome(&run(
        &slurm::squeue_by_ids(std::slice::from_ref(&unknown)).unwrap()
    ));
    assert_eq!(none, Ok(vec![]));

    let held = SbatchOptions {
        extra_args: vec!["--hold".to_string()],
        ..SbatchOptions::new(
            format!("{name}-held"),
            dir.0.join("held.out"),
            dir.0.join("held.err"),
        )
    };
    std::fs::write(&script, held.render_script("true").unwrap()).unwrap();
    let held = slurm::sbatch_outcome(&run(&slurm::sbatch_command(&script).unwrap())).unwrap();
    let pending = wait_for(&held, |_| true);
    assert_eq!(
        (pending.state, pending.reason.as_deref()),
        (SchedulerState::Queued, Some("JobHeldUser"))
    );
    let cancels = slurm::scancel_commands(&[held.clone(), unknown]);
    assert_eq!(cancels.len(), 1);
    assert_eq!(slurm::scancel_outcome(&run(&cancels[0])), Ok(()));
    let cancelled = wait_for(&held, |j| j.state.is_finished());
    assert_eq!(cancelled.slurm_state, Some(SlurmState::Cancelled));
    assert!(matches!(
        cancelled.state,
        SchedulerState::Failed(Failure::Cancelled { .. })
    ));
}
