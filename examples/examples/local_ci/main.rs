//! A local CI: follows a branch of a git repository on this machine and, for each new
//! head commit, runs the repository's steps in a checkout of it.
//!
//! ```text
//! cargo run --example local_ci -- --demo                     # a sample repository that changes now and then
//! cargo run --example local_ci -- --repo PATH [--branch B]   # your own repository
//! cargo run --example local_ci -- --repo PATH --once         # run what is to run, then exit (0 ok, 1 failed, 2 waiting)
//! ```
//!
//! The steps come from `.current-ci.toml` at the root of the repository (see `steps.rs`),
//! or, for a Cargo project without one, are a build and then the tests. Each step is a
//! cached step keyed by the git hash of the paths it reads, its command and the keys of
//! the steps it needs: a commit that touches only one step's inputs reruns that step and
//! what needs it, and a restart reruns nothing that finished. A failed step is not rerun
//! for the same key. State (the database, job logs, checkouts, the shared
//! `CARGO_TARGET_DIR`) is kept under `--state-dir` (default `./var`).

mod demo;
mod plan;
mod run;
mod steps;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use current::cache;
use current::cli::PipelineOptions;
use current::log_rules::Rule;
use current::plugins::git::{Commit, Local};
use current::term::Term;
use current::{pipeline, Context};

use plan::Plan;
use run::{Backend, RunStep, StepKey};

/// A local CI for a git repository.
#[derive(Parser)]
#[command(name = "local_ci")]
struct Args {
    /// The repository to follow.
    #[arg(long, value_name = "PATH", required_unless_present = "demo")]
    repo: Option<PathBuf>,

    /// The branch to follow (default: the one checked out).
    #[arg(long)]
    branch: Option<String>,

    /// Make a sample repository under the state directory (on the first run), follow it,
    /// and add a commit to it now and then.
    #[arg(long, conflicts_with = "repo")]
    demo: bool,

    /// Where steps run: `inline` (jobs of this process), `local` (detached processes
    /// that outlive a restart) or `slurm` (a Slurm cluster sharing the state directory).
    #[arg(long, value_enum, default_value = "inline")]
    backend: BackendArg,

    #[command(flatten)]
    pipeline: PipelineOptions,
}

/// The values of `--backend`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum BackendArg {
    Inline,
    Local,
    Slurm,
}

/// The log rules a fresh state directory starts with: what makes a failure's message.
const DEFAULT_RULES: &[(&str, &str, i64)] = &[
    (r"(?m)^error(\[E[0-9]+\])?: (.*)$", r"error\1: \2", 10),
    (
        r"(?m)^test result: FAILED\. ([0-9]+) passed; ([0-9]+) failed",
        r"\2 tests failed",
        20,
    ),
    (r"(?m)^FAILED: (.*)$", r"\1", 15),
];

fn main() -> ExitCode {
    tracing_init();
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("local_ci: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn tracing_init() {
    // Warnings and errors of the library go to stderr.
    let _ = tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_max_level(tracing::Level::WARN)
            .finish(),
    );
}

fn run() -> anyhow::Result<ExitCode> {
    let mut args = Args::parse();
    let rt = tokio::runtime::Runtime::new().context("starting tokio")?;
    std::fs::create_dir_all(&args.pipeline.state_dir)
        .with_context(|| format!("creating {}", args.pipeline.state_dir.display()))?;
    let state_dir = args
        .pipeline
        .state_dir
        .canonicalize()
        .with_context(|| format!("finding {}", args.pipeline.state_dir.display()))?;
    args.pipeline.state_dir = state_dir.clone();
    let repo = match (&args.repo, args.demo) {
        (_, true) => {
            let repo = demo::create(&state_dir)?;
            if !args.pipeline.once {
                demo::keep_committing(repo.clone());
            }
            if args.pipeline.confirm.0.is_none() {
                args.pipeline.confirm.0 = Some(current::Level::AboveAverage);
            }
            repo
        }
        (Some(repo), false) => repo
            .canonicalize()
            .with_context(|| format!("the repository {}", repo.display()))?,
        (None, false) => anyhow::bail!("give --repo PATH or --demo"),
    };
    let dirs = Dirs::new(&state_dir, &repo, args.backend);
    let branch = args.branch.clone();
    println!(
        "local_ci: following {} (state in {})",
        repo.display(),
        state_dir.display()
    );
    Ok(args.pipeline.run(rt.handle(), move || {
        seed_rules();
        ci(&Local::new(&repo), branch.as_deref(), dirs)
    }))
}

/// Where a repository's checkouts and build products go, and where its steps run.
#[derive(Clone)]
struct Dirs {
    work: PathBuf,
    target: PathBuf,
    backend: Backend,
}

impl Dirs {
    fn new(state_dir: &Path, repo: &Path, backend: BackendArg) -> Dirs {
        let name = repo
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "repo".into());
        let backend = match backend {
            BackendArg::Inline => Backend::Inline,
            BackendArg::Local => {
                Backend::Local(Arc::new(current::long_running::local::Local::default()))
            }
            BackendArg::Slurm => {
                Backend::Slurm(Arc::new(current::long_running::slurm::Slurm::default()))
            }
        };
        Dirs {
            work: state_dir.join("work").join(&name),
            target: state_dir.join("target").join(&name),
            backend,
        }
    }
}

/// Add the default log rules if there are none (a user's edits are kept).
fn seed_rules() {
    let Some(ctx) = Context::current() else {
        return;
    };
    let seeded = ctx
        .store()
        .map_err(|e| e.to_string())
        .and_then(|store| cache::rules::RulesDb::open(&store).map_err(|e| e.to_string()))
        .and_then(|rules| {
            if rules.list().map_err(|e| e.to_string())?.is_empty() {
                for (pattern, report, score) in DEFAULT_RULES {
                    rules
                        .add(Rule::new(*pattern, *report, *score))
                        .map_err(|e| e.to_string())?;
                }
                rules.flush().map_err(|e| e.to_string())?;
            }
            Ok(())
        });
    if let Err(e) = seeded {
        tracing::warn!("cannot add the default log rules: {e}");
    }
}

/// The pipeline: the head of the branch, its plan, and its steps.
fn ci(repo: &Local, branch: Option<&str>, dirs: Dirs) -> Term<()> {
    let head = repo.head(branch);
    let planned = plan::plan(&head);
    pipeline! {
        let dirs = dirs.clone();

        component "steps";
        let* plan = planned and* commit = head;
        steps(&plan, &commit, &dirs)
    }
}

/// The terms of a plan's steps, each gated on the steps it needs.
fn steps(plan: &Plan, commit: &Commit, dirs: &Dirs) -> Term<()> {
    let op = Arc::new(RunStep {
        backend: dirs.backend.clone(),
        commit: commit.clone(),
        work: dirs.work.clone(),
        target: dirs.target.clone(),
    });
    // For each step: its term, and the digests of its keys (one per variant).
    let mut made: BTreeMap<String, (Term<()>, Vec<String>)> = BTreeMap::new();
    let mut order = Vec::new();
    for step in &plan.steps {
        let mut gates = Vec::new();
        let mut needs = Vec::new();
        for need in &step.needs {
            if let Some((term, digests)) = made.get(need) {
                gates.push(term.clone());
                needs.extend(digests.iter().cloned());
            }
        }
        let variants: Vec<Option<String>> = if step.variants.is_empty() {
            vec![None]
        } else {
            step.variants.iter().cloned().map(Some).collect()
        };
        let keys: Vec<StepKey> = variants
            .into_iter()
            .map(|variant| StepKey {
                name: step.name.clone(),
                variant,
                command: step.command.clone(),
                inputs: step.inputs.clone(),
                needs: needs.clone(),
                level: step.level,
                timeout: step.timeout,
            })
            .collect();
        let digests = keys
            .iter()
            .map(|k| k.digest().map(|d| d.to_string()).unwrap_or_default())
            .collect();
        let ready = Term::all(gates);
        let term = if step.variants.is_empty() {
            let key = Term::value(keys[0].clone()).gate(&ready);
            cache::build(&op, &key)
        } else {
            let op = op.clone();
            Term::labelled(step.name.clone(), keys)
                .list_map(move |key| cache::build(&op, &key.gate(&ready)))
                .ignore_value()
        };
        made.insert(step.name.clone(), (term, digests));
        order.push(step.name.clone());
    }
    Term::all_labelled(order.into_iter().filter_map(|name| {
        let term = made.get(&name)?.0.clone();
        Some((name, term))
    }))
}
