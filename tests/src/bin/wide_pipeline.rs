//! A wide pipeline served on the web page: what `tests/e2e/load.rs` puts under load.
//!
//! ```text
//! wide_pipeline [--nodes N] [--slow-every K] [--lines L] [--tick-ms T] [--hold] [PIPELINE OPTIONS]
//! ```
//!
//! The pipeline is `Term::all` of `N` (1,000 by default) cached steps `item`, keyed by
//! `0..N`; it runs through [`PipelineOptions::run`], the normal entry point of a pipeline
//! binary, so `--state-dir DIR --port 0` serves the web page on a free port and prints
//! `web: http://127.0.0.1:<port>/ (diagrams: ...)` on stdout.
//!
//! Every item logs `done <i>` and succeeds. One item in `K` (50 by default: keys 0, K,
//! 2K, ...) is *slow*: with `--hold` it first logs `waiting <n>` every `T` ms (50 by
//! default) until a line `release` arrives on stdin (or stdin ends), then, held or not,
//! logs `line <k> of <L>` every `T` ms for `k` in `1..=L` (10 by default) before its
//! `done <i>`. So the logs of the slow items are written over a while and then complete:
//! the live log streams of the web page have something to follow, and with `--hold` the
//! caller decides when they end.
//!
//! The library's warnings and errors are printed on stderr.

use std::io::BufRead as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use current::cli::PipelineOptions;
use current::job::Job;
use current::primitive;
use current::term::Term;
use tokio::sync::watch;

/// A pipeline of many cached steps, some of them slow, with its web page.
#[derive(Parser)]
#[command(name = "wide_pipeline")]
struct Args {
    /// How many steps.
    #[arg(long, default_value_t = 1000)]
    nodes: u64,

    /// One step in this many is slow (0: none).
    #[arg(long, default_value_t = 50)]
    slow_every: u64,

    /// How many lines a slow step logs after its wait.
    #[arg(long, default_value_t = 10)]
    lines: u64,

    /// The interval between the lines of a slow step, in milliseconds.
    #[arg(long, default_value_t = 50)]
    tick_ms: u64,

    /// Slow steps wait for a line `release` on stdin (or its end) before their lines.
    #[arg(long)]
    hold: bool,

    #[command(flatten)]
    pipeline: PipelineOptions,
}

/// What the steps share that is not part of their keys.
#[derive(Clone)]
struct Plan {
    slow_every: u64,
    lines: u64,
    tick: Duration,
    /// `true` once the slow steps may go on.
    released: watch::Receiver<bool>,
}

impl Plan {
    fn is_slow(&self, i: u64) -> bool {
        self.slow_every != 0 && i.is_multiple_of(self.slow_every)
    }
}

/// One step of the pipeline: logs `done <i>`, after a while if `i` is slow.
#[primitive(level = Harmless)]
async fn item(job: &Job, #[context] plan: &Plan, i: u64) -> Result<(), String> {
    if plan.is_slow(i) {
        let mut released = plan.released.clone();
        let mut n = 0u64;
        while !*released.borrow_and_update() {
            n += 1;
            job.log(format_args!("waiting {n}"));
            // Waits at most one tick: the end of the sender (the stdin reader is gone)
            // counts as a release too.
            if let Ok(Err(_)) = tokio::time::timeout(plan.tick, released.changed()).await {
                break;
            }
        }
        for k in 1..=plan.lines {
            job.log(format_args!("line {k} of {}", plan.lines));
            tokio::time::sleep(plan.tick).await;
        }
    }
    job.log(format_args!("done {i}"));
    Ok(())
}

fn main() -> ExitCode {
    // The library's warnings and errors go to stderr.
    let _ = tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_max_level(tracing::Level::WARN)
            .finish(),
    );
    let args = Args::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wide_pipeline: cannot start tokio: {e}");
            return ExitCode::from(2);
        }
    };
    let (release, released) = watch::channel(!args.hold);
    if args.hold {
        // `release` on stdin, or its end, lets the slow steps go on.
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                match line {
                    Ok(line) if line.trim() == "release" => break,
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            let _ = release.send(true);
            // Keep the sender, so that a step's `changed()` does not see it dropped.
            std::mem::forget(release);
        });
    }
    let plan = Plan {
        slow_every: args.slow_every,
        lines: args.lines,
        tick: Duration::from_millis(args.tick_ms),
        released,
    };
    let nodes = args.nodes;
    args.pipeline.run(rt.handle(), move || {
        Term::all((0..nodes).map(|i| item(&plan, &Term::value(i))))
    })
}
