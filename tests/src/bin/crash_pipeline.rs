//! A pipeline of many cached builds, to be killed: what `tests/e2e/crash.rs` runs.
//!
//! ```text
//! crash_pipeline STATE_DIR N [--slots K]
//! ```
//!
//! It starts an engine over `STATE_DIR` whose pipeline is `Term::all` of `N`
//! `cache::build`s of a trivial builder, key `0..N`. A build starts its job (taking one of
//! the `K` slots of a pool, [`SLOTS`] by default, so that results keep coming over a while
//! rather than all at once; `--slots 0`: no pool, every build at once), appends
//! `built <key> <pid>` to `STATE_DIR/built.txt`, works for a few hundred microseconds,
//! waits a couple of milliseconds (as if for a process) and returns [`value_of`]`(key)`.
//!
//! It prints to stdout (each line written out at once):
//!
//! - `store opened` once the engine's store is open (before the pipeline is built);
//! - `done <key> <value>` for each build the pipeline reports finished: a `Term::map` over
//!   the build's output, which runs on the engine thread when the `Ok` value reaches the
//!   graph. The cache shows a result only once its record is durable, so each such line
//!   is a promise that the key is never built again;
//! - `all done` once the pipeline's result is `Ok`, then `jobs open: <n>` once the jobs
//!   have all completed (or the deadline passed), and exits 0.
//!
//! Anything wrong (bad arguments, an engine or store that cannot be opened, a pipeline
//! that fails) is printed to stderr as `crash_pipeline: <what>`, exit status 2.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use current::cache::{self, Builder};
use current::engine::{Engine, EngineOptions};
use current::job::{Job, StartOptions};
use current::pool::Pool;
use current::term::{ErrorKind, Term};
use current::{Context, Level};

/// How long a whole run may take before the binary gives up.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// The work of one build.
const WORK: Duration = Duration::from_micros(300);
/// How long a build waits after its work.
const WAIT: Duration = Duration::from_millis(2);
/// How many builds run at once, by default.
const SLOTS: usize = 2;

/// The value the build of `key` makes (the test checks it).
fn value_of(key: u64) -> u64 {
    key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20
}

/// The builder: records each build it runs in `built.txt`.
struct Trivial {
    built: Mutex<File>,
    pool: Option<Pool>,
}

impl Builder for Trivial {
    const ID: &'static str = "crash-trivial";
    type Key = u64;
    type Value = u64;

    fn pp(&self, key: &u64) -> String {
        format!("trivial {key}")
    }

    fn level(&self, _key: &u64) -> Level {
        Level::Harmless
    }

    async fn build(&self, job: Job, key: u64) -> Result<u64, String> {
        let options = StartOptions {
            pool: self.pool.clone(),
            timeout: None,
        };
        job.start(Level::Harmless, options)
            .await
            .map_err(|e| e.to_string())?;
        // One write(2) per line, on an O_APPEND file: the line is whole in the file
        // whatever moment the process is killed at.
        let line = format!("built {key} {}\n", std::process::id());
        self.built
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .write_all(line.as_bytes())
            .map_err(|e| format!("cannot write built.txt: {e}"))?;
        job.log(format_args!("building {key}"));
        let start = Instant::now();
        let mut x = key;
        while start.elapsed() < WORK {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        std::hint::black_box(x);
        tokio::time::sleep(WAIT).await;
        Ok(value_of(key))
    }
}

/// Print a line and write it out at once (a killed process loses nothing it printed).
fn say(line: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    // If the test stopped reading there is no one to tell.
    let _ = out.write_fmt(line);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crash_pipeline: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: crash_pipeline STATE_DIR N [--slots K]";
    let state_dir: PathBuf = args.next().ok_or(usage)?.into();
    let n: u64 = args
        .next()
        .ok_or(usage)?
        .parse()
        .map_err(|e| format!("N: {e}"))?;
    let slots = match (args.next().as_deref(), args.next()) {
        (None, _) => SLOTS,
        (Some("--slots"), Some(k)) => k.parse().map_err(|e| format!("--slots {k}: {e}"))?,
        _ => return Err(usage.into()),
    };
    if args.next().is_some() {
        return Err(usage.into());
    }
    std::fs::create_dir_all(&state_dir)
        .map_err(|e| format!("cannot create {}: {e}", state_dir.display()))?;
    let built = OpenOptions::new()
        .create(true)
        .append(true)
        .open(state_dir.join("built.txt"))
        .map_err(|e| format!("cannot open built.txt: {e}"))?;
    let builder = Arc::new(Trivial {
        built: Mutex::new(built),
        pool: (slots > 0).then(|| Pool::new("crash", slots)),
    });

    let rt = tokio::runtime::Runtime::new().map_err(|e| format!("cannot start tokio: {e}"))?;
    let options = EngineOptions::new(&state_dir, rt.handle().clone());
    let engine = Engine::start(options, move || {
        // The cache opens the engine's store when it first needs it; open it first (the
        // same one: the context keeps it) so that a store that cannot be opened is
        // reported as such, and before any `done` line.
        let opened = Context::current()
            .ok_or_else(|| "no engine context".to_string())
            .and_then(|ctx| ctx.store().map_err(|e| e.to_string()));
        if let Err(e) = opened {
            return Term::fail(format!("cannot open the store: {e}"));
        }
        say(format_args!("store opened"));
        Term::all((0..n).map(|key| {
            cache::build(&builder, &Term::value(key))
                .map(move |value| say(format_args!("done {key} {value}")))
        }))
    })
    .map_err(|e| format!("cannot start the engine: {e}"))?;

    let last = engine
        .wait_until(
            |s| matches!(&s.result, Ok(()) | Err(ErrorKind::Msg(_))),
            RUN_TIMEOUT,
        )
        .map_err(|e| e.to_string())?;
    if let Err(e) = last.result {
        return Err(format!("the pipeline failed: {e}"));
    }
    say(format_args!("all done"));

    // Every job has completed once its result is shown; wait a little for the registry
    // to say so.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !engine.context().jobs().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    say(format_args!("jobs open: {}", engine.context().jobs().len()));
    engine
        .shutdown("all done")
        .map_err(|e| format!("cannot shut down: {e}"))
}
