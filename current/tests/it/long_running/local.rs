//! The `local` backend under a real engine: detached process groups, their output in the
//! job's log, exit codes, cancellation, and re-attaching after the engine restarts.

use std::path::Path;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use current::engine::{Engine, EngineOptions};
use current::job::Job;
use current::long_running::{self, local::Local, HandleState, Script, Settings};
use current::primitive;
use current::store::Store;
use current::term::{ErrorKind, Term};

use super::{cancel, log_of, wait_for, wait_for_the_end, Scratch};
use crate::support::runtime;

const DEADLINE: Duration = Duration::from_secs(30);

/// Quick polling, a short grace: the tests wait for real processes.
static LOCAL: LazyLock<Arc<Local>> = LazyLock::new(|| {
    Arc::new(Local {
        start_timeout: Duration::from_secs(10),
        settings: Settings {
            poll_min: Duration::from_millis(50),
            poll_max: Duration::from_millis(200),
            grace: Duration::from_secs(1),
            error_budget: 10,
        },
    })
});

/// Runs `script` detached; its stdout.
#[primitive]
async fn detached(job: &Job, script: String) -> Result<String, String> {
    let done = long_running::run(job, &LOCAL, &Script::new(script), ())
        .await
        .map_err(|e| e.to_string())?;
    std::fs::read_to_string(done.run_dir.stdout()).map_err(|e| e.to_string())
}

fn start(scratch: &Scratch, rt: &tokio::runtime::Runtime, script: String) -> Engine<String> {
    Engine::start(
        EngineOptions::new(scratch.state(), rt.handle().clone()),
        move || detached(&Term::value(script)),
    )
    .expect("the engine starts")
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

/// The stored handles, by state.
fn handles(state: &Path) -> Vec<long_running::Handle> {
    let store = Store::open(state).expect("the store opens");
    let tree = store.tree::<long_running::Handle>().expect("the tree");
    tree.iter().filter_map(Result::ok).map(|(_, h)| h).collect()
}

#[test]
fn a_local_job_runs_detached_and_its_output_reaches_the_log() {
    let scratch = Scratch::new("ok");
    let rt = runtime();
    let engine = start(&scratch, &rt, "echo hello; echo oops >&2".into());
    engine
        .wait_until(|s| s.result == Ok("hello\n".to_string()), DEADLINE)
        .expect("the job's stdout as the result");
    let log = log_of(&engine);
    assert!(
        log.contains("Submitting long-running job current-"),
        "{log}"
    );
    assert!(log.contains("\nhello\n"), "{log}");
    assert!(log.contains("\noops\n"), "{log}");
    assert!(log.contains("The exit marker says 0"), "{log}");
    let job = engine.snapshot().jobs[0].clone();
    let status = long_running::status(engine.context(), &job).expect("a long-running status");
    assert_eq!(status.handle.state, HandleState::Succeeded);
    assert_eq!(status.handle.backend, "local");
    assert_eq!(
        status
            .queries
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        ["stdout", "stderr", "processes"]
    );
    let stderr = rt
        .block_on(long_running::query(engine.context(), &job, "stderr"))
        .expect("the stderr query");
    assert_eq!(stderr, "oops\n");
    let run_dir = status.handle.run_dir.clone();
    assert_eq!(std::fs::read_to_string(run_dir.exit_file()).unwrap(), "0\n");
    assert!(run_dir.start_marker().exists());
    engine.shutdown("test over").expect("a clean shutdown");
}

#[test]
fn a_failing_local_job_fails_with_its_exit_code() {
    let scratch = Scratch::new("exit3");
    let rt = runtime();
    let engine = start(&scratch, &rt, "echo about to fail; exit 3".into());
    let snap = engine
        .wait_until(|s| s.result.is_err() && s.stats.failed == 1, DEADLINE)
        .expect("the job fails");
    assert_eq!(snap.result, Err(ErrorKind::msg("exit code 3")));
    assert!(log_of(&engine).contains("\nabout to fail\n"));
    engine.shutdown("test over").expect("a clean shutdown");
}

#[test]
fn cancelling_a_local_job_kills_its_whole_process_group() {
    let scratch = Scratch::new("cancel");
    let rt = runtime();
    let child = scratch.file("child");
    let script = format!(
        "sleep 300 & echo $! > {}; echo started; wait",
        child.display()
    );
    let engine = start(&scratch, &rt, script);
    wait_for(
        "the job's child to start",
        DEADLINE,
        || std::fs::read_to_string(&child).is_ok_and(|s| s.ends_with('\n')),
        || log_of(&engine),
    );
    let pid: i32 = std::fs::read_to_string(&child)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(pid));
    let job = engine.snapshot().jobs[0].clone();
    cancel(&engine, &job, "Cancelled by test");
    let snap = engine
        .wait_until(|s| s.stats.failed == 1, DEADLINE)
        .expect("the job ends cancelled");
    assert_eq!(snap.result, Err(ErrorKind::msg("Cancelled")));
    wait_for(
        "the child to die",
        DEADLINE,
        || !alive(pid),
        || log_of(&engine),
    );
    wait_for_the_end(&engine, &job, DEADLINE);
    engine.shutdown("test over").expect("a clean shutdown");
    let stored = handles(&scratch.state());
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].kill.as_deref(), Some("Cancelled by test"));
    assert_eq!(
        stored[0].state,
        HandleState::Failed("Cancelled by test".into())
    );
}

#[test]
fn a_restarted_engine_re_attaches_to_a_running_local_job() {
    let scratch = Scratch::new("reattach");
    let rt = runtime();
    let (runs, release) = (scratch.file("runs"), scratch.file("release"));
    let script = format!(
        "echo run >> {runs}; while [ ! -e {release} ]; do sleep 0.05; done; echo finished",
        runs = runs.display(),
        release = release.display()
    );
    let first = start(&scratch, &rt, script.clone());
    wait_for(
        "the job to start",
        DEADLINE,
        || std::fs::read_to_string(&runs).is_ok(),
        || log_of(&first),
    );
    first.shutdown("restarting").expect("a clean shutdown");
    let before = handles(&scratch.state());
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0].state, HandleState::Running, "{before:?}");

    // The job outlived its engine; a new engine takes it over.
    let second = start(&scratch, &rt, script);
    wait_for(
        "the new engine to re-attach",
        DEADLINE,
        || log_of(&second).contains("Re-attached to long-running job"),
        || log_of(&second),
    );
    std::fs::write(&release, "").unwrap();
    second
        .wait_until(|s| s.result == Ok("finished\n".to_string()), DEADLINE)
        .expect("the job's result reaches the new engine");
    assert_eq!(
        std::fs::read_to_string(&runs).unwrap(),
        "run\n",
        "started once"
    );
    let log = log_of(&second);
    assert!(
        log.contains(&format!(
            "Re-attached to long-running job {}",
            before[0].name
        )),
        "{log}"
    );
    second.shutdown("test over").expect("a clean shutdown");
}
