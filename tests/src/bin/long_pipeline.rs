//! A pipeline of long-running jobs, for the re-attach tests of `tests/e2e/long_running.rs`.
//!
//! ```text
//! long_pipeline STATE_DIR --backend local|slurm --script TEXT [--jobs N] [--time-limit SECS]
//! ```
//!
//! The pipeline has `N` (default 1) cached steps; step `i` runs `TEXT` on the backend
//! with `STEP=i` in its environment and yields its stdout, trimmed. The program runs
//! until the pipeline has a result, prints `result: ok <outputs joined by ,>` or
//! `result: failed <message>`, and exits with 0 or 1 (2 for bad arguments or an engine
//! that cannot start). Polling is quick and the grace period short, as tests want.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use current::engine::{Engine, EngineOptions};
use current::job::Job;
use current::long_running::{self, local::Local, slurm::Slurm, Script, Settings};
use current::primitive;
use current::term::{ErrorKind, Term};

/// The backend chosen on the command line.
enum Backend {
    Local(Arc<Local>),
    Slurm(Arc<Slurm>),
}

static BACKEND: OnceLock<Backend> = OnceLock::new();
static TIME_LIMIT: OnceLock<Option<Duration>> = OnceLock::new();

/// Runs the script on the chosen backend; its stdout, trimmed.
#[primitive]
async fn step(job: &Job, script: String, n: u32) -> Result<String, String> {
    let script = Script::new(script).env("STEP", n.to_string());
    let done = match BACKEND.get() {
        Some(Backend::Local(b)) => long_running::run(job, b, &script, ()).await,
        Some(Backend::Slurm(b)) => {
            let spec = current::long_running::slurm::SlurmSpec {
                time_limit: TIME_LIMIT.get().copied().flatten(),
                ..Default::default()
            };
            long_running::run(job, b, &script, spec).await
        }
        None => return Err("no backend chosen".into()),
    }
    .map_err(|e| e.to_string())?;
    let out = std::fs::read_to_string(done.run_dir.stdout()).map_err(|e| e.to_string())?;
    Ok(out.trim().to_string())
}

struct Args {
    state_dir: PathBuf,
    backend: String,
    script: String,
    jobs: u32,
    time_limit: Option<Duration>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut state_dir = None;
    let (mut backend, mut script, mut jobs, mut time_limit) = (None, None, 1, None);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--backend" => backend = Some(value("--backend")?),
            "--script" => script = Some(value("--script")?),
            "--jobs" => {
                let v = value("--jobs")?;
                jobs = v.parse().map_err(|e| format!("--jobs {v}: {e}"))?;
            }
            "--time-limit" => {
                let v = value("--time-limit")?;
                let secs: u64 = v.parse().map_err(|e| format!("--time-limit {v}: {e}"))?;
                time_limit = Some(Duration::from_secs(secs));
            }
            _ if state_dir.is_none() && !arg.starts_with("--") => state_dir = Some(arg.into()),
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    Ok(Args {
        state_dir: state_dir.ok_or("a state directory is needed")?,
        backend: backend.ok_or("--backend is needed")?,
        script: script.ok_or("--script is needed")?,
        jobs,
        time_limit,
    })
}

fn quick() -> Settings {
    Settings {
        poll_min: Duration::from_millis(200),
        poll_max: Duration::from_secs(1),
        grace: Duration::from_secs(5),
        error_budget: 10,
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("long_pipeline: {e}");
            return ExitCode::from(2);
        }
    };
    let backend = match args.backend.as_str() {
        "local" => Backend::Local(Arc::new(Local {
            settings: quick(),
            ..Local::default()
        })),
        "slurm" => Backend::Slurm(Arc::new(Slurm::new().settings(quick()))),
        other => {
            eprintln!("long_pipeline: unknown backend {other:?}");
            return ExitCode::from(2);
        }
    };
    let _ = BACKEND.set(backend);
    let _ = TIME_LIMIT.set(args.time_limit);
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("long_pipeline: no tokio runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let (script, jobs, args_backend) = (args.script, args.jobs, args.backend);
    let engine = Engine::start(
        EngineOptions::new(&args.state_dir, rt.handle().clone()),
        move || {
            let steps: Vec<Term<String>> = (0..jobs)
                .map(|n| step(&Term::value(script.clone()), &Term::value(n)))
                .collect();
            Term::list_seq(steps).map(|outs| outs.join(","))
        },
    );
    let engine = match engine {
        Ok(e) => e,
        Err(e) => {
            eprintln!("long_pipeline: {e}");
            return ExitCode::from(2);
        }
    };
    let settled = engine.wait_until(
        |s| !matches!(s.result, Err(ErrorKind::Active(_))),
        Duration::from_secs(3600),
    );
    let code = match settled.map(|s| s.result) {
        Ok(Ok(out)) => {
            println!("result: ok {out}");
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            println!("result: failed {e}");
            ExitCode::from(1)
        }
        Err(e) => {
            println!("result: failed {e:?}");
            ExitCode::from(1)
        }
    };
    println!(
        "poll cycles: {}",
        long_running::poll_cycles(engine.context(), &args_backend)
    );
    let _ = engine.shutdown("done");
    code
}
