//! The PBS command builders and parsers, on hand-written outputs of Torque 6 and
//! OpenPBS 22 (`tests/fixtures/pbs/`; no PBS cluster is available to the tests).

use std::path::Path;
use std::time::Duration;

use current::long_running::pbs::{
    self, CommandLine, Flavour, JobStatus, Lookup, PbsError, PbsOptions, StatusReport,
};
use current::long_running::{Failure, SchedulerState};
use proptest::prelude::*;

use super::{failed, job};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../fixtures/pbs/", $name))
    };
}

const OUT: &str = "/scratch/alice/var/run/job-1/scheduler.out";
const ERR: &str = "/scratch/alice/var/run/job-1/scheduler.err";

#[test]
fn the_script_has_every_option_as_a_pbs_line_after_the_bodys_shebang() {
    let options = PbsOptions {
        queue: Some("batch".into()),
        name: Some("current-align-s1".into()),
        email: Some("alice@example.org".into()),
        wall_time: Some(Duration::from_secs(2 * 3600 + 30)),
        nodes: Some(2),
        ppn: Some(8),
        memory_mb: Some(16384),
        shell: None,
        extra_args: vec!["-A".into(), "genomics".into()],
    };
    let script = options
        .script(
            "#!/bin/bash\n# Written by current\necho hello\n",
            Path::new(OUT),
            Path::new(ERR),
        )
        .unwrap();
    assert_eq!(
        script,
        "#!/bin/bash\n\
         #PBS -S /bin/bash\n\
         #PBS -N current-align-s1\n\
         #PBS -q batch\n\
         #PBS -o /scratch/alice/var/run/job-1/scheduler.out\n\
         #PBS -e /scratch/alice/var/run/job-1/scheduler.err\n\
         #PBS -m abe\n\
         #PBS -M alice@example.org\n\
         #PBS -l walltime=02:00:30,nodes=2:ppn=8,mem=16384mb\n\
         # Written by current\n\
         echo hello\n"
    );
}

#[test]
fn a_script_without_options_gets_a_shebang_the_shell_and_its_output_files() {
    let script = PbsOptions::default()
        .script("echo hello\n", Path::new(OUT), Path::new(ERR))
        .unwrap();
    assert_eq!(
        script,
        "#!/bin/bash\n\
         #PBS -S /bin/bash\n\
         #PBS -o /scratch/alice/var/run/job-1/scheduler.out\n\
         #PBS -e /scratch/alice/var/run/job-1/scheduler.err\n\
         echo hello\n"
    );
    let only_ppn = PbsOptions {
        ppn: Some(4),
        shell: Some("/bin/sh".into()),
        ..PbsOptions::default()
    };
    let script = only_ppn
        .script("#!/bin/sh", Path::new(OUT), Path::new(ERR))
        .unwrap();
    assert_eq!(
        script,
        "#!/bin/sh\n\
         #PBS -S /bin/sh\n\
         #PBS -o /scratch/alice/var/run/job-1/scheduler.out\n\
         #PBS -e /scratch/alice/var/run/job-1/scheduler.err\n\
         #PBS -l nodes=1:ppn=4\n"
    );
}

#[test]
fn options_that_cannot_be_written_on_a_pbs_line_are_errors() {
    let render =
        |options: PbsOptions, out: &str| options.script("true\n", Path::new(out), Path::new(ERR));
    let named = |name: &str| PbsOptions {
        name: Some(name.into()),
        ..PbsOptions::default()
    };
    assert_eq!(
        render(named("two words"), OUT),
        Err(PbsError::InvalidOption {
            option: "-N",
            value: "two words".into(),
            reason: "contains white space or a line break",
        })
    );
    let injected = render(named("x\n#PBS -l nodes=99"), OUT).unwrap_err();
    assert!(
        matches!(injected, PbsError::InvalidOption { option: "-N", .. }),
        "{injected}"
    );
    assert!(render(named(""), OUT).is_err());
    let queue = PbsOptions {
        queue: Some("batch\r".into()),
        ..PbsOptions::default()
    };
    assert!(render(queue, OUT).is_err());
    let colon = render(PbsOptions::default(), "/scratch/a:b/out").unwrap_err();
    assert_eq!(
        colon.to_string(),
        "PBS option -o \"/scratch/a:b/out\": contains a colon (PBS would read host:path)"
    );
    assert!(render(PbsOptions::default(), "/scratch/my runs/out").is_err());
}

#[test]
fn wall_times_are_hours_minutes_seconds_rounded_up() {
    assert_eq!(pbs::wall_time(Duration::ZERO), "00:00:00");
    assert_eq!(pbs::wall_time(Duration::from_millis(1500)), "00:00:02");
    assert_eq!(pbs::wall_time(Duration::from_secs(59)), "00:00:59");
    assert_eq!(pbs::wall_time(Duration::from_secs(90 * 60)), "01:30:00");
    assert_eq!(
        pbs::wall_time(Duration::from_secs(24 * 3600 - 1)),
        "23:59:59"
    );
    assert_eq!(pbs::wall_time(Duration::from_secs(100 * 3600)), "100:00:00");
}

#[test]
fn commands_are_qsub_qstat_qdel_and_qselect_with_every_id_in_one_call() {
    let options = PbsOptions {
        extra_args: vec!["-A".into(), "genomics".into()],
        ..PbsOptions::default()
    };
    let submit = options
        .submit_command(Path::new("/scratch/run/job 1.pbs"))
        .unwrap();
    assert_eq!(
        submit,
        CommandLine {
            program: "qsub".into(),
            args: vec![
                "-A".into(),
                "genomics".into(),
                "/scratch/run/job 1.pbs".into()
            ],
            stdin: None,
        }
    );
    assert_eq!(
        submit.to_string(),
        "qsub -A genomics '/scratch/run/job 1.pbs'"
    );

    let ids = ["1234.head", "1235.head", "1236[].head"];
    let torque = pbs::status_command(Flavour::Torque, ids);
    assert_eq!(torque.program, "qstat");
    assert_eq!(
        torque.args,
        ["-f1", "1234.head", "1235.head", "1236[].head"]
    );
    assert_eq!(torque.stdin, None);
    let openpbs = pbs::status_command(Flavour::OpenPbs, ids);
    assert_eq!(
        openpbs.args,
        ["-x", "-f", "1234.head", "1235.head", "1236[].head"]
    );

    let kill = pbs::kill_command(ids);
    assert_eq!(kill.to_string(), "qdel 1234.head 1235.head '1236[].head'");

    let find = pbs::find_command(Flavour::Torque, "current-align-s1");
    assert_eq!(find.to_string(), "qselect -N current-align-s1");
    let find = pbs::find_command(Flavour::OpenPbs, "current-align-s1");
    assert_eq!(find.to_string(), "qselect -x -N current-align-s1");
}

#[test]
fn qsub_prints_the_job_id() {
    assert_eq!(
        pbs::parse_submit(fixture!("qsub_torque.stdout")),
        Ok("1234.torque-head.example.org".to_string())
    );
    assert_eq!(
        pbs::parse_submit(fixture!("qsub_openpbs.stdout")),
        Ok("1251.pbs-server".to_string())
    );
    assert_eq!(
        pbs::parse_submit("Welcome to the cluster.\n\n  1300[].head  \n"),
        Ok("1300[].head".to_string())
    );
    // A rejected submission prints nothing on stdout (its reason is on stderr).
    assert_eq!(
        pbs::parse_submit(""),
        Err(PbsError::NoJobId { output: "".into() })
    );
    let rejected = fixture!("qsub_rejected.stderr");
    assert_eq!(
        pbs::parse_submit(rejected).unwrap_err().to_string(),
        format!("qsub printed no job id: {rejected:?}")
    );
    let long = "x".repeat(5000);
    let PbsError::NoJobId { output } = pbs::parse_submit(&long).unwrap_err() else {
        panic!("not NoJobId");
    };
    assert_eq!(output, format!("{}...", "x".repeat(2000)));
}

#[test]
fn torque_qstat_f1_of_seven_jobs_and_an_unknown_one() {
    let report = pbs::parse_status(
        fixture!("qstat_f1_torque_seven_jobs.stdout"),
        fixture!("qstat_f1_torque_seven_jobs.stderr"),
    );
    let id = |n: u32| format!("{n}.torque-head.example.org");
    assert_eq!(
        report,
        StatusReport {
            jobs: vec![
                job(
                    &id(1234),
                    "current-align-s1",
                    "R",
                    SchedulerState::Running,
                    None,
                    None
                ),
                job(
                    &id(1235),
                    "current-align-s2",
                    "Q",
                    SchedulerState::Queued,
                    None,
                    None
                ),
                job(
                    &id(1236),
                    "current-align-s3",
                    "H",
                    SchedulerState::Queued,
                    None,
                    Some("job held, too many failed attempts to run"),
                ),
                job(
                    &id(1237),
                    "current-index",
                    "C",
                    SchedulerState::Completed,
                    Some(0),
                    None
                ),
                job(
                    &id(1238),
                    "current-call-variants",
                    "C",
                    failed(Failure::ExitCode(Some(3))),
                    Some(3),
                    None,
                ),
                job(
                    &id(1239),
                    "current-assemble",
                    "C",
                    failed(Failure::Timeout),
                    Some(-11),
                    None,
                ),
                job(
                    &id(1241),
                    "current-merge",
                    "E",
                    SchedulerState::Running,
                    None,
                    None
                ),
            ],
            not_found: vec![id(1200)],
            messages: vec![],
        }
    );
    assert_eq!(report.lookup(&id(1200)), Lookup::NotFound);
    assert_eq!(
        report.lookup("1300.torque-head.example.org"),
        Lookup::Missing
    );
}

#[test]
fn openpbs_qstat_x_f_with_wrapped_values_finished_jobs_and_an_unknown_one() {
    let report = pbs::parse_status(
        fixture!("qstat_xf_openpbs_five_jobs.stdout"),
        fixture!("qstat_xf_openpbs_five_jobs.stderr"),
    );
    let ran = "Job run at Thu May 02 at 09:10 on (cn101:ncpus=4:mem=8388608kb)";
    assert_eq!(
        report,
        StatusReport {
            jobs: vec![
                job(
                    "1250.pbs-server",
                    "current-fit",
                    "F",
                    SchedulerState::Completed,
                    Some(0),
                    Some(&format!("{ran} and finished")),
                ),
                job(
                    "1251.pbs-server",
                    "current-fit-large",
                    "F",
                    failed(Failure::Timeout),
                    Some(-29),
                    Some(&format!("{ran} and failed")),
                ),
                job(
                    "1252.pbs-server",
                    "current-evaluate",
                    "F",
                    failed(Failure::ExitCode(Some(271))),
                    Some(271),
                    Some(&format!("{ran} and terminated")),
                ),
                job(
                    "1253.pbs-server",
                    "current-train-model-resnet50-imagenet-subset-lr0.01-batch256-seed42-attempt1",
                    "R",
                    SchedulerState::Running,
                    None,
                    Some(ran),
                ),
                job(
                    "1254.pbs-server",
                    "current-report",
                    "Q",
                    SchedulerState::Queued,
                    None,
                    Some("Not Running: Insufficient amount of resource: ncpus (R: 4 A: 0 T: 256)"),
                ),
            ],
            not_found: vec!["1249.pbs-server".into()],
            messages: vec![],
        }
    );
}

#[test]
fn an_openpbs_array_job_and_its_subjobs() {
    let report = pbs::parse_status(fixture!("qstat_xf_openpbs_array.stdout"), "");
    let ran = "Job run at Thu May 02 at 09:10 on (cn101:ncpus=4:mem=8388608kb)";
    assert_eq!(
        report.jobs,
        vec![
            job(
                "1260[].pbs-server",
                "current-sweep",
                "B",
                SchedulerState::Running,
                None,
                Some("Job Array Began at Thu May 02 at 09:10"),
            ),
            job(
                "1260[1].pbs-server",
                "current-sweep",
                "X",
                SchedulerState::Completed,
                Some(0),
                Some(&format!("{ran} and finished")),
            ),
            job(
                "1260[2].pbs-server",
                "current-sweep",
                "R",
                SchedulerState::Running,
                None,
                Some(ran),
            ),
        ]
    );
    assert!(report.not_found.is_empty() && report.messages.is_empty());
}

#[test]
fn a_finished_job_queried_without_x_is_completed_with_no_exit_status() {
    let stderr = fixture!("qstat_openpbs_finished_without_x.stderr");
    let report = pbs::parse_status("", stderr);
    assert_eq!(
        report.jobs,
        vec![JobStatus {
            id: "1250.pbs-server".into(),
            name: None,
            raw_state: "F".into(),
            state: SchedulerState::Completed,
            exit_status: None,
            reason: Some(stderr.trim().to_string()),
        }]
    );
}

#[test]
fn an_unreachable_server_says_nothing_about_any_job() {
    let report = pbs::parse_status("", fixture!("qstat_torque_server_down.stderr"));
    assert_eq!(
        report,
        StatusReport {
            jobs: vec![],
            not_found: vec![],
            messages: vec![
                "Connection refused".into(),
                "qstat: cannot connect to server torque-head.example.org (errno=111) Connection refused"
                    .into(),
            ],
        }
    );
    assert_eq!(
        report.lookup("1234.torque-head.example.org"),
        Lookup::Missing
    );
}

#[test]
fn a_block_without_a_state_is_reported_and_its_job_missing() {
    let report = pbs::parse_status(
        "Job Id: 7.head\n    Job_Name = x\n\nJob Id: 8.head\n    job_state = R\n",
        "",
    );
    assert_eq!(
        report.messages,
        ["job 7.head: no job_state in qstat's output"]
    );
    assert_eq!(report.lookup("7.head"), Lookup::Missing);
    assert!(matches!(report.lookup("8.head"), Lookup::Found(j) if j.raw_state == "R"));
}

#[test]
fn a_value_that_ends_its_line_is_followed_by_a_lone_tab_not_the_end_of_the_block() {
    // OpenPBS's `prt_attr` breaks after the 78th column even when nothing follows.
    let report = pbs::parse_status(
        "Job Id: 9.head\n    Submit_arguments = /a/very/long/path\n\t\n    job_state = Q\n\n",
        "",
    );
    assert!(report.messages.is_empty(), "{:?}", report.messages);
    assert!(matches!(report.lookup("9.head"), Lookup::Found(j) if j.raw_state == "Q"));
}

#[test]
fn ids_match_with_or_without_the_servers_domain() {
    let report = pbs::parse_status(
        "Job Id: 1234.head.example.org\n    job_state = R\n",
        "qstat: Unknown Job Id 1235.head\n",
    );
    for id in ["1234.head.example.org", "1234.head", "1234"] {
        assert!(matches!(report.lookup(id), Lookup::Found(_)), "{id}");
    }
    assert_eq!(report.lookup("1235.head.example.org"), Lookup::NotFound);
    assert_eq!(report.lookup("1235"), Lookup::NotFound);
    for other in ["123", "12345.head", "1234.other", "1234[1].head"] {
        assert_eq!(report.lookup(other), Lookup::Missing, "{other}");
    }
}

#[test]
fn every_job_state_maps_as_the_reference_table_says() {
    use SchedulerState::*;
    for (letter, state) in [
        ("Q", Queued),
        ("H", Queued),
        ("W", Queued),
        ("T", Queued),
        ("M", Queued),
        ("R", Running),
        ("E", Running),
        ("S", Running),
        ("U", Running),
        ("B", Running),
        ("C", Completed),
        ("F", Completed),
        ("X", Completed),
        ("Z", Unrecognised("Z".into())),
        ("", Unrecognised("".into())),
    ] {
        assert_eq!(pbs::scheduler_state(letter, None), state, "{letter}");
    }
    // Suspended or held jobs are never failed, whatever their exit status says.
    for letter in ["S", "H", "U"] {
        assert!(
            !pbs::scheduler_state(letter, Some(1)).is_finished(),
            "{letter}"
        );
    }
}

#[test]
fn exit_statuses_of_finished_jobs_say_how_they_ended() {
    let cases: &[(&str, i32, SchedulerState)] = &[
        ("C", 0, SchedulerState::Completed),
        ("F", 0, SchedulerState::Completed),
        ("C", 1, failed(Failure::ExitCode(Some(1)))),
        ("F", 137, failed(Failure::ExitCode(Some(137)))),
        ("C", -10, failed(Failure::OutOfMemory)),
        ("C", -11, failed(Failure::Timeout)),
        ("F", -26, failed(Failure::OutOfMemory)),
        ("F", -27, failed(Failure::OutOfMemory)),
        ("X", -29, failed(Failure::Timeout)),
        (
            "C",
            -1,
            failed(Failure::Other(
                "JOB_EXEC_FAIL1: failed before its files were set up (exit status -1)".into(),
            )),
        ),
        (
            "C",
            -12,
            failed(Failure::Other(
                "JOB_EXEC_OVERLIMIT_CPUT: CPU time limit exceeded (exit status -12)".into(),
            )),
        ),
        (
            "F",
            -11,
            failed(Failure::Other(
                "JOB_EXEC_RERUN: rerun (exit status -11)".into(),
            )),
        ),
        (
            "F",
            -10,
            failed(Failure::Other(
                "JOB_EXEC_FAILUID: invalid user or group (exit status -10)".into(),
            )),
        ),
        (
            "C",
            -99,
            failed(Failure::Other("PBS ended the job (exit status -99)".into())),
        ),
    ];
    for (letter, code, state) in cases {
        assert_eq!(
            &pbs::scheduler_state(letter, Some(*code)),
            state,
            "{letter} {code}"
        );
    }
}

#[test]
fn qselect_prints_job_ids() {
    assert_eq!(
        pbs::parse_find(fixture!("qselect_torque.stdout")),
        [
            "1234.torque-head.example.org",
            "1302.torque-head.example.org"
        ]
    );
    assert!(pbs::parse_find("").is_empty());
    assert!(pbs::parse_find("qselect: illegal -N value\n").is_empty());
}

/// Fragments of `qstat` output, so that random inputs reach past the first line.
fn qstat_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("Job Id: ".to_string()),
        Just("Job Id:".to_string()),
        Just("    job_state = ".to_string()),
        Just("    exit_status = ".to_string()),
        Just("    Exit_status = -".to_string()),
        Just("    comment = ".to_string()),
        Just("    Job_Name = ".to_string()),
        Just("\n\t".to_string()),
        Just("\n".to_string()),
        Just(" = ".to_string()),
        Just("qstat: Unknown Job Id Error ".to_string()),
        Just(" Job has finished, use -x".to_string()),
        "[A-Z]",
        "-?[0-9]{1,12}",
        "\\PC{0,8}",
        "[\\p{L}\\p{M}\\p{N} \t\r\n=:.\\[\\]]{0,6}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_parsers_never_panic_on_arbitrary_text(stdout in "\\PC*", stderr in "\\PC*") {
        let _ = pbs::parse_submit(&stdout);
        let _ = pbs::parse_find(&stdout);
        let report = pbs::parse_status(&stdout, &stderr);
        let _ = report.lookup(&stdout);
    }

    #[test]
    fn the_parsers_never_panic_on_qstat_like_text(stdout in qstat_like(), stderr in qstat_like()) {
        let _ = pbs::parse_submit(&stdout);
        let _ = pbs::parse_find(&stdout);
        let report = pbs::parse_status(&stdout, &stderr);
        for job in &report.jobs {
            let _ = report.lookup(&job.id);
        }
    }

    #[test]
    fn the_state_mapping_never_panics(letter in "\\PC{0,3}", code in any::<Option<i32>>()) {
        let _ = pbs::scheduler_state(&letter, code);
    }
}
