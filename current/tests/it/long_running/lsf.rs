//! The LSF command builders and parsers, on hand-written outputs of LSF 10.1
//! (`tests/fixtures/lsf/`; no LSF cluster is available to the tests).

use std::path::{Path, PathBuf};
use std::time::Duration;

use current::long_running::lsf::{
    self, CommandLine, Lookup, LsfError, LsfOptions, Processors, StatusReport,
};
use current::long_running::{Failure, SchedulerState};
use proptest::prelude::*;

use super::{failed, job};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../fixtures/lsf/", $name))
    };
}

fn submit(options: &LsfOptions) -> Result<CommandLine, LsfError> {
    options.submit_command(
        Path::new("/scratch/run/job.lsf"),
        Path::new("/scratch/run/scheduler.out"),
        Path::new("/scratch/run/scheduler.err"),
    )
}

#[test]
fn bsub_gets_every_option_and_reads_the_script_on_stdin() {
    let options = LsfOptions {
        queue: Some("normal".into()),
        name: Some("current-align-s1".into()),
        wall_limit: Some(Duration::from_secs(2 * 3600 + 1)),
        project: Some("genomics".into()),
        processors: Some(Processors::range(2, 8)),
        memory_mb: Some(4096),
        extra_args: vec!["-G".into(), "lab".into()],
    };
    let command = submit(&options).unwrap();
    assert_eq!(
        command,
        CommandLine {
            program: "bsub".into(),
            args: [
                "-o",
                "/scratch/run/scheduler.out",
                "-e",
                "/scratch/run/scheduler.err",
                "-q",
                "normal",
                "-J",
                "current-align-s1",
                "-W",
                "2:01",
                "-P",
                "genomics",
                "-n",
                "2,8",
                "-R",
                "span[hosts=1] rusage[mem=4096]",
                "-G",
                "lab",
            ]
            .map(String::from)
            .to_vec(),
            stdin: Some(PathBuf::from("/scratch/run/job.lsf")),
        }
    );
    assert_eq!(
        command.to_string(),
        "bsub -o /scratch/run/scheduler.out -e /scratch/run/scheduler.err -q normal \
         -J current-align-s1 -W 2:01 -P genomics -n 2,8 -R 'span[hosts=1] rusage[mem=4096]' \
         -G lab < /scratch/run/job.lsf"
    );
}

#[test]
fn bsub_without_options_only_names_the_output_files() {
    let command = submit(&LsfOptions::default()).unwrap();
    assert_eq!(
        command.to_string(),
        "bsub -o /scratch/run/scheduler.out -e /scratch/run/scheduler.err < /scratch/run/job.lsf"
    );
    let exactly = LsfOptions {
        processors: Some(Processors::exactly(4)),
        ..LsfOptions::default()
    };
    assert_eq!(
        &submit(&exactly).unwrap().args[4..],
        ["-n", "4", "-R", "span[hosts=1]"]
    );
    let same_bounds = LsfOptions {
        processors: Some(Processors::range(4, 4)),
        memory_mb: Some(512),
        ..LsfOptions::default()
    };
    assert_eq!(
        &submit(&same_bounds).unwrap().args[4..],
        ["-n", "4", "-R", "span[hosts=1] rusage[mem=512]"]
    );
}

#[test]
fn options_bsub_cannot_take_are_errors() {
    let named = |name: &str| LsfOptions {
        name: Some(name.into()),
        ..LsfOptions::default()
    };
    assert_eq!(
        submit(&named("sweep[1-10]")),
        Err(LsfError::InvalidOption {
            option: "-J",
            value: "sweep[1-10]".into(),
            reason: "contains [ or ] (a job array)",
        })
    );
    assert!(submit(&named("a\nb")).is_err());
    assert!(submit(&named("")).is_err());
    let processors = |p: Processors| LsfOptions {
        processors: Some(p),
        ..LsfOptions::default()
    };
    assert_eq!(
        submit(&processors(Processors::range(8, 2)))
            .unwrap_err()
            .to_string(),
        "LSF option -n \"8,2\": has its maximum below its minimum"
    );
    assert!(submit(&processors(Processors::exactly(0))).is_err());
}

#[test]
fn wall_limits_are_minutes_or_hours_and_minutes_rounded_up() {
    assert_eq!(lsf::wall_limit(Duration::ZERO), "1");
    assert_eq!(lsf::wall_limit(Duration::from_secs(1)), "1");
    assert_eq!(lsf::wall_limit(Duration::from_secs(60)), "1");
    assert_eq!(lsf::wall_limit(Duration::from_millis(60_001)), "2");
    assert_eq!(lsf::wall_limit(Duration::from_secs(45 * 60)), "45");
    assert_eq!(lsf::wall_limit(Duration::from_secs(3600)), "1:00");
    assert_eq!(lsf::wall_limit(Duration::from_secs(90 * 60)), "1:30");
    assert_eq!(
        lsf::wall_limit(Duration::from_secs(100 * 3600 + 5)),
        "100:01"
    );
}

#[test]
fn commands_are_bjobs_bkill_with_every_id_in_one_call() {
    let ids = ["4521", "4522", "4540[2]"];
    let status = lsf::status_command(ids);
    assert_eq!(status.program, "bjobs");
    assert_eq!(status.args, ["-l", "4521", "4522", "4540[2]"]);
    assert_eq!(status.stdin, None);
    assert_eq!(
        lsf::kill_command(ids).to_string(),
        "bkill 4521 4522 '4540[2]'"
    );
    assert_eq!(
        lsf::find_command("current-align-s1").to_string(),
        "bjobs -a -l -J current-align-s1"
    );
}

#[test]
fn bsub_prints_the_job_id() {
    assert_eq!(
        lsf::parse_submit(fixture!("bsub_submitted.stdout")),
        Ok("4521".to_string())
    );
    assert_eq!(
        lsf::parse_submit(fixture!("bsub_default_queue.stdout")),
        Ok("4522".to_string())
    );
    assert_eq!(
        lsf::parse_submit(
            "Warning: project <x> is not valid.\nJob <77> is submitted to queue <short>.\n"
        ),
        Ok("77".to_string())
    );
    let rejected = fixture!("bsub_rejected.stderr");
    assert_eq!(
        lsf::parse_submit(rejected),
        Err(LsfError::NoJobId {
            output: rejected.to_string()
        })
    );
    assert_eq!(
        lsf::parse_submit("").unwrap_err().to_string(),
        "bsub printed no job id: \"\""
    );
    assert!(lsf::parse_submit("Job <abc> is submitted to queue <normal>.").is_err());
    assert!(lsf::parse_submit("Job <4521> is not found").is_err());
}

#[test]
fn wrapped_lines_are_joined_and_empty_lines_kept() {
    let text = "\nJob <1>, Job Name <x>, Stat\n                     us <RUN>, Queue <q>\n\
                Thu May  2 10:15:03: Started on <h>;\n\n PENDING REASONS:\n One;\n Two;\n";
    assert_eq!(
        lsf::logical_lines(text),
        [
            "",
            "Job <1>, Job Name <x>, Status <RUN>, Queue <q>",
            "Thu May  2 10:15:03: Started on <h>;",
            "",
            " PENDING REASONS:",
            " One;",
            " Two;",
        ]
    );
}

#[test]
fn running_pending_and_suspended_jobs_and_an_unknown_one() {
    let report = lsf::parse_status(
        fixture!("bjobs_l_run_pend_ssusp.stdout"),
        fixture!("bjobs_l_run_pend_ssusp.stderr"),
    );
    assert_eq!(
        report,
        StatusReport {
            jobs: vec![
                job(
                    "4521",
                    "current-align-s1",
                    "RUN",
                    SchedulerState::Running,
                    None,
                    None
                ),
                job(
                    "4522",
                    "current-align-s2",
                    "PEND",
                    SchedulerState::Queued,
                    None,
                    Some(
                        "Job's resource requirements not satisfied: 38 hosts; \
                         Not enough job slot(s): 12 hosts;"
                    ),
                ),
                job(
                    "4523",
                    "current-align-s3",
                    "SSUSP",
                    SchedulerState::Running,
                    None,
                    Some("Load index <r1m> exceeded its stop threshold on the execution host;"),
                ),
            ],
            not_found: vec!["4400".into()],
            messages: vec![],
        }
    );
    assert_eq!(report.lookup("4400"), Lookup::NotFound);
    assert_eq!(report.lookup("4399"), Lookup::Missing);
}

#[test]
fn finished_jobs_eight_ways() {
    let report = lsf::parse_status(fixture!("bjobs_l_finished_eight_ways.stdout"), "");
    assert_eq!(
        report.jobs,
        vec![
            job(
                "4530",
                "current-index",
                "DONE",
                SchedulerState::Completed,
                Some(0),
                None
            ),
            job(
                "4531",
                "current-call-variants",
                "EXIT",
                failed(Failure::ExitCode(Some(3))),
                Some(3),
                None,
            ),
            // bjobs dropped the space on which it wrapped the line: "reaching LSF".
            job(
                "4532",
                "current-assemble",
                "EXIT",
                failed(Failure::Timeout),
                Some(140),
                Some("TERM_RUNLIMIT: job killed after reachingLSF run time limit."),
            ),
            job(
                "4533",
                "current-sort",
                "EXIT",
                failed(Failure::OutOfMemory),
                Some(137),
                Some("TERM_MEMLIMIT: job killed after reachingLSF memory usage limit."),
            ),
            job(
                "4534",
                "current-plot",
                "EXIT",
                failed(Failure::Cancelled {
                    by: Some("alice".into()),
                }),
                Some(130),
                Some("TERM_OWNER: job killed by owner."),
            ),
            job(
                "4535",
                "current-report",
                "EXIT",
                failed(Failure::Cancelled { by: None }),
                None,
                Some("TERM_ADMIN: job killed by root or LSF administrator."),
            ),
            job(
                "4536",
                "current-fetch",
                "EXIT",
                failed(Failure::ExitCode(None)),
                None,
                Some("Exited by signal 9."),
            ),
            job(
                "4537",
                "current-upload",
                "ZOMBI",
                failed(Failure::Other(
                    "ZOMBI: killed while its execution host was unreachable".into(),
                )),
                None,
                Some("Termination request issued; the job will be killed once the host is ok;"),
            ),
        ]
    );
    assert!(report.not_found.is_empty() && report.messages.is_empty());
}

#[test]
fn an_array_job_has_an_entry_per_element() {
    let report = lsf::parse_status(fixture!("bjobs_l_array_three_elements.stdout"), "");
    assert_eq!(
        report.jobs,
        vec![
            job(
                "4540[1]",
                "current-sweep[1]",
                "DONE",
                SchedulerState::Completed,
                Some(0),
                None
            ),
            job(
                "4540[2]",
                "current-sweep[2]",
                "RUN",
                SchedulerState::Running,
                None,
                None
            ),
            job(
                "4540[3]",
                "current-sweep[3]",
                "PEND",
                SchedulerState::Queued,
                None,
                Some("Job slot limit reached for the job array;"),
            ),
        ]
    );
    assert!(matches!(report.lookup("4540[2]"), Lookup::Found(j) if j.raw_state == "RUN"));
    // The array's own id names none of its elements.
    assert_eq!(report.lookup("4540"), Lookup::Missing);
}

#[test]
fn a_long_name_wrapped_in_the_middle_is_read_whole() {
    let report = lsf::parse_status(fixture!("bjobs_l_long_name_unkwn.stdout"), "");
    assert_eq!(
        report.jobs,
        vec![job(
            "4550",
            "current-align-sample-HG00096-chromosome-21-attempt-2-9f3b2c1d7e5a",
            "UNKWN",
            SchedulerState::Running,
            None,
            None,
        )]
    );
}

#[test]
fn unknown_jobs_are_not_errors_and_a_down_daemon_says_nothing() {
    let report = lsf::parse_status("", fixture!("bjobs_not_found.stderr"));
    assert_eq!(
        report,
        StatusReport {
            jobs: vec![],
            not_found: vec!["4400".into(), "4401[3]".into()],
            messages: vec![],
        }
    );
    let down = lsf::parse_status("", fixture!("bjobs_lsf_down.stderr"));
    assert_eq!(
        down.messages,
        [
            "LSF is down. Please wait...",
            "batch system daemon not responding ... still trying"
        ]
    );
    assert_eq!(down.lookup("4521"), Lookup::Missing);
}

#[test]
fn keywords_are_found_with_or_without_their_spaces() {
    // An openlava header (`Job Id <...>`), and a status whose space fell on a wrap.
    let report = lsf::parse_status(
        "Job Id <12>, JobName <n>, User<bob>, Status<EXIT>, Queue <q>\n\
         Thu May  2 10:15:03: Exited with exitcode 2.\n\
         Thu May  2 10:15:03: Completed <exit>; TERM_FORCE_OWNER: job killed by owner without time for cleanup.\n",
        "",
    );
    assert_eq!(
        report.jobs,
        vec![job(
            "12",
            "n",
            "EXIT",
            failed(Failure::Cancelled {
                by: Some("bob".into())
            }),
            Some(2),
            Some("TERM_FORCE_OWNER: job killed by owner without time for cleanup."),
        )]
    );
    let no_status = lsf::parse_status("Job <13>, Job Name <n>, Queue <q>\n", "");
    assert_eq!(
        no_status.messages,
        ["job 13: no Status <...> in bjobs's output"]
    );
    assert_eq!(no_status.lookup("13"), Lookup::Missing);
}

#[test]
fn every_status_maps_as_the_reference_table_says() {
    use SchedulerState::*;
    for (status, state) in [
        ("PEND", Queued),
        ("PSUSP", Queued),
        ("WAIT", Queued),
        ("PROV", Queued),
        ("RUN", Running),
        ("USUSP", Running),
        ("SSUSP", Running),
        ("UNKWN", Running),
        ("DONE", Completed),
        ("EXIT", Failed(Failure::ExitCode(None))),
        (
            "ZOMBI",
            Failed(Failure::Other(
                "ZOMBI: killed while its execution host was unreachable".into(),
            )),
        ),
        ("NULL", Unrecognised("NULL".into())),
    ] {
        assert_eq!(
            lsf::scheduler_state(status, None, None, None),
            state,
            "{status}"
        );
    }
    let exit = |term: &str| lsf::scheduler_state("EXIT", Some(1), Some(term), Some("alice"));
    assert_eq!(exit("TERM_RUNLIMIT"), Failed(Failure::Timeout));
    assert_eq!(exit("TERM_MEMLIMIT"), Failed(Failure::OutOfMemory));
    assert_eq!(exit("TERM_SWAP"), Failed(Failure::OutOfMemory));
    let by_alice = Failed(Failure::Cancelled {
        by: Some("alice".into()),
    });
    assert_eq!(exit("TERM_OWNER"), by_alice);
    assert_eq!(exit("TERM_FORCE_OWNER"), by_alice);
    assert_eq!(exit("TERM_ADMIN"), Failed(Failure::Cancelled { by: None }));
    assert_eq!(
        exit("TERM_FORCE_ADMIN"),
        Failed(Failure::Cancelled { by: None })
    );
    assert_eq!(exit("TERM_PREEMPT"), Failed(Failure::Preempted));
    assert_eq!(exit("TERM_CPULIMIT"), Failed(Failure::ExitCode(Some(1))));
    // A suspended job is never failed, whatever else its block says.
    for status in ["USUSP", "SSUSP", "PSUSP"] {
        assert!(!lsf::scheduler_state(status, Some(1), Some("TERM_OWNER"), None).is_finished());
    }
}

/// Fragments of `bjobs -l` output, so that random inputs reach past the first line.
fn bjobs_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("Job <".to_string()),
        Just("Job Id <".to_string()),
        Just(">, ".to_string()),
        Just("Job Name <".to_string()),
        Just("Status <".to_string()),
        Just("User <".to_string()),
        Just("Exited with exit code ".to_string()),
        Just("Exited by signal ".to_string()),
        Just("Done successfully".to_string()),
        Just("Completed <exit>; TERM_".to_string()),
        Just("Termination request issued".to_string()),
        Just(" PENDING REASONS:".to_string()),
        Just(" SUSPENDING REASONS:".to_string()),
        Just("> is not found".to_string()),
        Just("> is submitted to queue <".to_string()),
        Just("\n                     ".to_string()),
        Just("\n".to_string()),
        Just("-".repeat(78)),
        "[A-Z_]{1,8}",
        "[0-9]{1,12}",
        "\\PC{0,8}",
        "[\\p{L}\\p{M}\\p{N} \t\r\n<>;.\\[\\]]{0,6}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_parsers_never_panic_on_arbitrary_text(stdout in "\\PC*", stderr in "\\PC*") {
        let _ = lsf::parse_submit(&stdout);
        let _ = lsf::logical_lines(&stdout);
        let report = lsf::parse_status(&stdout, &stderr);
        let _ = report.lookup(&stdout);
    }

    #[test]
    fn the_parsers_never_panic_on_bjobs_like_text(stdout in bjobs_like(), stderr in bjobs_like()) {
        let _ = lsf::parse_submit(&stdout);
        let report = lsf::parse_status(&stdout, &stderr);
        for job in &report.jobs {
            let _ = report.lookup(&job.id);
        }
    }

    #[test]
    fn the_state_mapping_never_panics(
        status in "\\PC{0,6}",
        code in any::<Option<i32>>(),
        term in proptest::option::of("\\PC{0,12}"),
        owner in proptest::option::of("\\PC{0,6}"),
    ) {
        let _ = lsf::scheduler_state(&status, code, term.as_deref(), owner.as_deref());
    }
}
