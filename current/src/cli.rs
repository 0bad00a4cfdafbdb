//! What every pipeline binary shares on its command line (behind the `cli` feature): a
//! `clap` struct of options, and how to run an engine with them: until a signal, or with
//! `--once` until the pipeline has no more work, as CI and tests do.
//!
//! ```no_run
//! use std::process::ExitCode;
//! use clap::Parser;
//! use current::cli::PipelineOptions;
//! use current::term::Term;
//!
//! #[derive(Parser)]
//! struct Args {
//!     #[command(flatten)]
//!     pipeline: PipelineOptions,
//! }
//!
//! fn main() -> ExitCode {
//!     let args = Args::parse();
//!     let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
//!     args.pipeline.run(rt.handle(), || Term::value("hello".to_string()))
//! }
//! ```

use std::fmt::Debug;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::engine::{Engine, EngineOptions, Snapshot};
use crate::job::Phase;
use crate::term::{analysis, Active, ErrorKind, Term};
use crate::{Config, Level};

/// The options of every pipeline binary.
#[derive(Clone, Debug, clap::Args)]
pub struct PipelineOptions {
    /// Where the database, the job logs and the work directories are kept.
    #[arg(long, value_name = "DIR", default_value = "./var")]
    pub state_dir: PathBuf,

    /// Jobs at or above this level wait for a user's confirmation: harmless,
    /// mostly-harmless, average, above-average, dangerous, or none.
    #[arg(long, value_name = "LEVEL", default_value = "none", value_parser = parse_confirm)]
    pub confirm: Confirm,

    /// Lift the confirmation threshold this many seconds after it was set.
    #[arg(long, value_name = "SECONDS")]
    pub confirm_auto_release: Option<u64>,

    /// Evaluate until the pipeline has no more work, print its result and its text form,
    /// and exit: 0 on success, 1 on failure, 2 when the only work left waits for
    /// confirmation.
    #[arg(long)]
    pub once: bool,
}

/// The confirmation threshold of `--confirm`: a level, or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Confirm(pub Option<Level>);

fn parse_confirm(s: &str) -> Result<Confirm, String> {
    if s == "none" {
        return Ok(Confirm(None));
    }
    s.parse::<Level>()
        .map(|l| Confirm(Some(l)))
        .map_err(|e| format!("{e}, or none"))
}

/// How a `--once` run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// The pipeline succeeded: exit 0.
    Ok,
    /// It failed with this message: exit 1.
    Failed(String),
    /// Only work waiting for confirmation is left: exit 2.
    WaitingForConfirmation,
}

impl Settled {
    /// The exit code `--once` gives it.
    pub fn exit_code(&self) -> u8 {
        match self {
            Settled::Ok => 0,
            Settled::Failed(_) => 1,
            Settled::WaitingForConfirmation => 2,
        }
    }

    /// Whether `snapshot` has no work left (nothing running or ready), and how it ended.
    pub fn of<T>(snapshot: &Snapshot<T>) -> Option<Settled> {
        let s = &snapshot.stats;
        if snapshot.step == 0 || s.running > 0 || s.ready > 0 {
            return None;
        }
        match &snapshot.result {
            Ok(_) => Some(Settled::Ok),
            Err(ErrorKind::Msg(m)) => Some(Settled::Failed(m.to_string())),
            Err(ErrorKind::Active(Active::WaitingForConfirmation)) => {
                Some(Settled::WaitingForConfirmation)
            }
            Err(ErrorKind::Active(_)) => None,
        }
    }
}

impl PipelineOptions {
    /// The engine's options: the state directory and the confirmation settings.
    pub fn engine_options(&self, runtime: &tokio::runtime::Handle) -> EngineOptions {
        let mut options = EngineOptions::new(&self.state_dir, runtime.clone());
        options.config = Config::with_auto_release(
            self.confirm.0,
            self.confirm_auto_release.map(Duration::from_secs),
        );
        options
    }

    /// Start an engine over `pipeline` and run it: with `--once`, until it settles (see
    /// [`Settled`]); otherwise until SIGINT or SIGTERM. Progress goes to stderr, a line
    /// whenever the counts of stages change (at most one a second); the result and the
    /// pipeline's text form go to stdout.
    pub fn run<T>(
        &self,
        runtime: &tokio::runtime::Handle,
        pipeline: impl FnOnce() -> Term<T> + Send + 'static,
    ) -> ExitCode
    where
        T: Clone + Debug + PartialEq + Send + Sync + 'static,
    {
        let engine = match Engine::start(self.engine_options(runtime), pipeline) {
            Ok(engine) => engine,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let progress = Progress::spawn(&engine);
        let code = if self.once {
            run_once(engine)
        } else {
            engine.run_until_signal()
        };
        drop(progress);
        code
    }
}

fn run_once<T>(engine: Engine<T>) -> ExitCode
where
    T: Clone + Debug + PartialEq + Send + Sync + 'static,
{
    let mut rx = engine.subscribe();
    let handle = engine.context().runtime().clone();
    let settled = std::thread::scope(|s| {
        s.spawn(|| {
            handle.block_on(async {
                loop {
                    if let Some(done) = Settled::of(&rx.borrow_and_update()) {
                        return Some(done);
                    }
                    if rx.changed().await.is_err() {
                        return None;
                    }
                }
            })
        })
        .join()
        .ok()
        .flatten()
    });
    let snapshot = engine.snapshot();
    let text = engine
        .inspect(|g, t| analysis::pp(t, g))
        .unwrap_or_default();
    let mut out = std::io::stdout().lock();
    let result = match &snapshot.result {
        Ok(v) => format!("Ok: {v:?}"),
        Err(e) => e.to_string(),
    };
    let _ = writeln!(out, "result: {result}");
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
    drop(out);
    if let Err(e) = engine.shutdown("--once: the pipeline has no more work") {
        eprintln!("error: {e}");
    }
    match settled {
        Some(done) => ExitCode::from(done.exit_code()),
        None => {
            eprintln!("error: the engine stopped before the pipeline settled");
            ExitCode::FAILURE
        }
    }
}

/// A thread that prints the counts of stages when they change.
struct Progress {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn spawn<T: Clone + Debug + PartialEq + Send + Sync + 'static>(engine: &Engine<T>) -> Progress {
        let mut rx = engine.subscribe();
        let ctx = engine.context().clone();
        let handle = ctx.runtime().clone();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("current-progress".into())
            .spawn(move || {
                handle.block_on(async move {
                    let mut last = String::new();
                    let mut printed = Instant::now() - Duration::from_secs(1);
                    loop {
                        let mut line = {
                            let s = rx.borrow_and_update();
                            let t = &s.stats;
                            format!(
                                "[current] ok {}, running {}, ready {}, waiting for confirmation {}, failed {}, blocked {}",
                                t.ok, t.running, t.ready, t.waiting_for_confirmation, t.failed, t.blocked
                            )
                        };
                        let running: Vec<String> = ctx
                            .jobs()
                            .iter()
                            .filter(|j| j.phase() == Phase::Running)
                            .map(|j| j.id().to_string())
                            .collect();
                        if !running.is_empty() {
                            let shown = running.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
                            let more = running.len().saturating_sub(5);
                            line.push_str(&format!("; running: {shown}"));
                            if more > 0 {
                                line.push_str(&format!(" and {more} more"));
                            }
                        }
                        if line != last && printed.elapsed() >= Duration::from_secs(1) {
                            eprintln!("{line}");
                            last = line;
                            printed = Instant::now();
                        }
                        let tick = tokio::time::sleep(Duration::from_secs(1));
                        tokio::select! {
                            _ = &mut stopped => return,
                            changed = rx.changed() => if changed.is_err() { return },
                            _ = tick => {}
                        }
                    }
                })
            })
            .ok();
        Progress {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
