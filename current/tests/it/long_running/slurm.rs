//! The `slurm` backend on a real single-node cluster (`scripts/slurm/slurm-up.sh`):
//! a job that succeeds, one that exits 3, one cancelled from the engine, one that runs
//! past its time limit. Outside CI these tests skip, saying why, when `sbatch` is not on
//! the PATH; in CI they fail without a cluster.

use std::process::Command;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use current::engine::{Engine, EngineOptions};
use current::job::Job;
use current::long_running::slurm::{Slurm, SlurmSpec};
use current::long_running::{self, Script, Settings};
use current::primitive;
use current::term::{ErrorKind, Term};

use super::{cancel, log_of, slurm_available, wait_for, wait_for_the_end, Scratch};
use crate::support::runtime;

/// The time-limit test waits for Slurm to enforce a one-minute limit.
const DEADLINE: Duration = Duration::from_secs(240);

static SLURM: LazyLock<Arc<Slurm>> = LazyLock::new(|| {
    Arc::new(Slurm::new().settings(Settings {
        poll_min: Duration::from_millis(250),
        poll_max: Duration::from_secs(2),
        grace: Duration::from_secs(5),
        error_budget: 10,
    }))
});

/// Runs `script` on Slurm with an optional time limit (seconds); its stdout.
#[primitive]
async fn on_slurm(job: &Job, script: String, limit: Option<u64>) -> Result<String, String> {
    let spec = SlurmSpec {
        time_limit: limit.map(Duration::from_secs),
        ..SlurmSpec::default()
    };
    let done = long_running::run(job, &SLURM, &Script::new(script), spec)
        .await
        .map_err(|e| e.to_string())?;
    std::fs::read_to_string(done.run_dir.stdout()).map_err(|e| e.to_string())
}

fn start(
    s: &Scratch,
    rt: &tokio::runtime::Runtime,
    script: &str,
    limit: Option<u64>,
) -> Engine<String> {
    let script = script.to_string();
    Engine::start(
        EngineOptions::new(s.0.join("state"), rt.handle().clone()),
        move || on_slurm(&Term::value(script), &Term::value(limit)),
    )
    .expect("the engine starts")
}

fn slurm_id(engine: &Engine<String>) -> String {
    let job = engine.snapshot().jobs.first().cloned().unwrap_or_default();
    long_running::status(engine.context(), &job)
        .and_then(|s| s.handle.running_as::<Slurm>())
        .map(|r| r.job_id)
        .unwrap_or_default()
}

/// What `squeue` says of job `id` (empty once it has left the queue).
fn squeue_state(id: &str) -> String {
    Command::new("squeue")
        .args(["--noheader", "--format=%T", "--jobs", id])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

#[test]
fn a_slurm_job_that_succeeds() {
    if !slurm_available("a_slurm_job_that_succeeds") {
        return;
    }
    let s = Scratch::new("ok");
    let rt = runtime();
    let engine = start(&s, &rt, "echo hello from $SLURM_JOB_ID", None);
    let snap = engine
        .wait_until(|s| !matches!(s.result, Err(ErrorKind::Active(_))), DEADLINE)
        .expect("the job ends");
    let id = slurm_id(&engine);
    assert!(!id.is_empty(), "{}", log_of(&engine));
    assert_eq!(
        snap.result,
        Ok(format!("hello from {id}\n")),
        "{}",
        log_of(&engine)
    );
    let log = log_of(&engine);
    assert!(log.contains(&format!("hello from {id}")), "{log}");
    engine.shutdown("test over").expect("a clean shutdown");
}

#[test]
fn a_slurm_job_that_exits_3_fails_with_its_exit_code() {
    if !slurm_available("a_slurm_job_that_exits_3_fails_with_its_exit_code") {
        return;
    }
    let s = Scratch::new("exit3");
    let rt = runtime();
    let engine = start(&s, &rt, "echo failing; exit 3", None);
    let snap = engine
        .wait_until(|s| !matches!(s.result, Err(ErrorKind::Active(_))), DEADLINE)
        .expect("the job ends");
    assert_eq!(
        snap.result,
        Err(ErrorKind::msg("exit code 3")),
        "{}",
        log_of(&engine)
    );
    engine.shutdown("test over").expect("a clean shutdown");
}

#[test]
fn a_slurm_job_cancelled_from_the_engine_leaves_the_queue_and_its_processes_die() {
    if !slurm_available(
        "a_slurm_job_cancelled_from_the_engine_leaves_the_queue_and_its_processes_die",
    ) {
        return;
    }
    let s = Scratch::new("cancel");
    let rt = runtime();
    let pid_file = s.0.join("child");
    let script = format!("sleep 300 & echo $! > {}; wait", pid_file.display());
    let engine = start(&s, &rt, &script, None);
    wait_for(
        "the job's child to start",
        DEADLINE,
        || std::fs::read_to_string(&pid_file).is_ok_and(|t| t.ends_with('\n')),
        || log_of(&engine),
    );
    let child: i32 = std::fs::read_to_string(&pid_file)
        .expect("the pid")
        .trim()
        .parse()
        .expect("a pid");
    let id = slurm_id(&engine);
    assert_eq!(squeue_state(&id), "RUNNING");
    let job = engine.snapshot().jobs[0].clone();
    cancel(&engine, &job, "Cancelled by test");
    wait_for(
        "the job to leave squeue",
        DEADLINE,
        || {
            let state = squeue_state(&id);
            state.is_empty() || state == "CANCELLED"
        },
        || squeue_state(&id),
    );
    wait_for(
        "the job's processes to die",
        DEADLINE,
        || !std::path::Path::new(&format!("/proc/{child}")).exists(),
        || log_of(&engine),
    );
    wait_for_the_end(&engine, &job, DEADLINE);
    let status = long_running::status(engine.context(), &job).expect("a status");
    assert_eq!(status.handle.kill.as_deref(), Some("Cancelled by test"));
    assert_eq!(
        status.handle.state,
        long_running::HandleState::Failed("Cancelled by test".into())
    );
    engine.shutdown("test over").expect("a clean shutdown");
}

#[test]
fn a_slurm_job_past_its_time_limit_fails_with_a_typed_timeout() {
    if !slurm_available("a_slurm_job_past_its_time_limit_fails_with_a_typed_timeout") {
        return;
    }
    let s = Scratch::new("timeout");
    let rt = runtime();
    let engine = start(&s, &rt, "echo sleeping; sleep 600", Some(60));
    let snap = engine
        .wait_until(|s| !matches!(s.result, Err(ErrorKind::Active(_))), DEADLINE)
        .expect("the job ends");
    assert_eq!(
        snap.result,
        Err(ErrorKind::msg("time limit reached")),
        "{}",
        log_of(&engine)
    );
    engine.shutdown("test over").expect("a clean shutdown");
}
