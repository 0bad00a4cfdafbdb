//! A pipeline with one running job, stopped by a signal: what `tests/e2e/signals.rs` runs.
//!
//! ```text
//! signal_pipeline STATE_DIR [--ignore-cancel] [--grace-ms N]
//! ```
//!
//! It starts an engine over `STATE_DIR` whose pipeline is one job step. By default the job
//! runs `sleep 120` with `current::process::exec`, so cancelling the job kills it; with
//! `--ignore-cancel` the job waits for ever and takes no notice of being cancelled, so a
//! shutdown waits out its grace period (`--grace-ms` sets `EngineOptions::shutdown_grace`).
//!
//! Once the job runs (and, by default, its `sleep` is a child of this process) it prints
//!
//! ```text
//! ready <job id> <sleep pid, or 0> <log path>
//! ```
//!
//! then calls `Engine::run_until_signal` and exits with what it returns. Anything wrong
//! before that is printed to stderr and exits with status 2.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use current::engine::{Engine, EngineOptions};
use current::job::{self, Job, Phase, StartOptions};
use current::process::{self, Command};
use current::term::Term;
use current::Level;

/// How long to wait for the job to be running before giving up.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

const IGNORING: &str = "Ignoring cancellation";

struct Args {
    state_dir: PathBuf,
    ignore_cancel: bool,
    grace: Option<Duration>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut state_dir = None;
    let mut ignore_cancel = false;
    let mut grace = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--ignore-cancel" => ignore_cancel = true,
            "--grace-ms" => {
                let ms = args.next().ok_or("--grace-ms needs a value")?;
                let ms: u64 = ms.parse().map_err(|e| format!("--grace-ms {ms}: {e}"))?;
                grace = Some(Duration::from_millis(ms));
            }
            _ if state_dir.is_none() && !arg.starts_with("--") => state_dir = Some(arg.into()),
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    Ok(Args {
        state_dir: state_dir
            .ok_or("usage: signal_pipeline STATE_DIR [--ignore-cancel] [--grace-ms N]")?,
        ignore_cancel,
        grace,
    })
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("signal_pipeline: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<ExitCode, String> {
    let args = parse_args()?;
    let rt = tokio::runtime::Runtime::new().map_err(|e| format!("cannot start tokio: {e}"))?;
    let mut options = EngineOptions::new(&args.state_dir, rt.handle().clone());
    if let Some(grace) = args.grace {
        options.shutdown_grace = grace;
    }
    let ignore_cancel = args.ignore_cancel;
    let engine = Engine::start(options, move || {
        job::step(
            &Term::value(()),
            "sleep",
            Level::Harmless,
            StartOptions::default(),
            move |job, ()| async move {
                if ignore_cancel {
                    job.log(IGNORING);
                    std::future::pending::<()>().await;
                    Ok(())
                } else {
                    let sleep = Command::new("sleep").arg("120");
                    process::exec(&job, &sleep).await.map_err(|e| e.to_string())
                }
            },
        )
    })
    .map_err(|e| e.to_string())?;

    let (job, pid) = wait_ready(&engine, ignore_cancel)?;
    println!("ready {} {pid} {}", job.id(), job.log_path().display());
    std::io::stdout()
        .flush()
        .map_err(|e| format!("cannot write to stdout: {e}"))?;
    Ok(engine.run_until_signal())
}

/// Poll until the job runs (and its `sleep` exists): the job and the pid of `sleep` (0
/// with `--ignore-cancel`).
fn wait_ready(engine: &Engine<()>, ignore_cancel: bool) -> Result<(Job, u32), String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let jobs = engine.context().jobs();
        if let Some(job) = jobs.iter().find(|j| j.phase() == Phase::Running) {
            let log = std::fs::read_to_string(job.log_path()).unwrap_or_default();
            if ignore_cancel {
                if log.contains(IGNORING) {
                    return Ok((job.clone(), 0));
                }
            } else if log.contains("Exec: \"sleep\" \"120\"") {
                if let Some(pid) = child_named("sleep") {
                    return Ok((job.clone(), pid));
                }
            }
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the job was not running after {READY_TIMEOUT:?}: jobs {jobs:?}, snapshot {:?}",
                engine.snapshot()
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A child process of this one running `name`, from `/proc`.
fn child_named(name: &str) -> Option<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let (comm, ppid) = comm_and_ppid(&entry.path())?;
            (ppid == me && comm == name).then_some(pid)
        })
}

/// The command name and parent pid in `/proc/<pid>/stat`: `pid (comm) state ppid ...`,
/// where `comm` may itself hold spaces and parentheses.
fn comm_and_ppid(proc_dir: &Path) -> Option<(String, u32)> {
    let stat = std::fs::read_to_string(proc_dir.join("stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let mut rest = stat.get(close + 1..)?.split_whitespace();
    let _state = rest.next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((comm, ppid))
}
