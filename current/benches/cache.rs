//! Benchmark of the cache: a pipeline of N trivial cached builds, first on an empty
//! database, then again over the same database, where every build is a cache hit — the
//! benchmark of OCurrent's issue on crash safety and performance, with its figures.
//!
//! ```text
//! cargo bench -p current --bench cache -- [N ...] [--state-dir DIR] [--runs R] [--slots K] [--keep] [--macro]
//! ```
//!
//! For each N (by default 1,000, 10,000 and 30,000, and 100,000 too if `CACHE_BENCH_100K`
//! is set), each of R runs (by default 3 up to 10,000 and 1 above) measures:
//!
//! - **cold**: a fresh state directory; from `Engine::start` to the first snapshot whose
//!   result is `Ok`, of a pipeline that is `Term::all` of N `cache::build`s (keys `0..N`).
//!   Each build is a job: it gets its log file (`New job: ...`, a line of its own, `Job
//!   succeeded`), starts, and returns a value; the cache records each result durably
//!   before it shows it.
//! - **warm**: the first engine is shut down and dropped with its tokio runtime (so that
//!   nothing holds its store any more), then a **new engine, in the same process, on a new
//!   runtime**, over the same state directory: from `Engine::start` to `Ok` again, every
//!   build a cache hit (checked: N hits, no build). This stands for the restart of a new
//!   process; what a new process adds (loading the binary, starting tokio) is not counted,
//!   and the database's files are in the page cache, as they would be for a restart.
//! - **open**: after the warm engine is dropped too, `Store::open` and `CacheDb::open` on
//!   that database (after a 50 ms pause, as sled's threads may hold its lock for a moment
//!   after its last handle goes).
//!
//! Medians are printed in a table, with the ratios to OCurrent's figures (OCaml: 1,000 jobs
//! 0.12 s cold and 12 ms warm; 10,000: 2.76 s and 0.22 s; 30,000: 13.6 s and 0.99 s) and to
//! the target, ten times better: 0.3 s cold and 25 ms warm for 10,000 jobs, in proportion
//! to N.
//!
//! Each run has its own state directory under `--state-dir` (by default a new directory in
//! the system's temporary directory); they are all deleted at the end (not between runs:
//! deleting many files slows the creation of files that follows on ext4), unless `--keep`.
//! `--slots K` makes the builds share a pool of K slots (by default they all run at once,
//! as OCurrent's do). A run that does not finish within its time limit (30 s + 2 ms per
//! build) ends the benchmark with the engine's last snapshot.
//!
//! # `--macro`: the same builds written with `#[primitive]`
//!
//! By default each build is the hand-written [`Builder`] `Trivial`. With `--macro` it is
//! the `#[primitive]` function `trivial` instead, which does what `Trivial` does: level
//! `Harmless`, no timeout, the log line `building <key>`, the value `2 * key`. The first
//! line of the output says which variant ran. What the macro does differently:
//!
//! - the body runs inside `job.cancellable(..)` (a `tokio::select!` on the job's cancel
//!   signal, which subscribes to a watch channel once per job);
//! - the key's digest covers the function's token digest too (`(TOKENS, key)` rather than
//!   `key`: 64 bytes more to encode and hash per digest);
//! - the step's function makes its own `Arc` of the (empty) operation at each call,
//!   where the hand-written pipeline shares one;
//! - it is given `Trivial`'s id, `bench-trivial` (`id = ...`), so that the store's keys and
//!   the job ids are the same; without it the id would be the module path,
//!   `cache::by_macro::unpooled::trivial`, whose 21 more bytes in every store key and
//!   digest cost more than everything else here (under callgrind, N = 200: 4.7% more
//!   instructions than `Trivial` with that id, 2.0% with this one). With an id, the macro
//!   labels the jobs and the box with the id: the text of a job is `New job: bench-trivial
//!   <key>` where `Trivial` writes `New job: trivial <key>` (the macro writes
//!   `"<label> <key>"`, the key rendered by `current::describe`);
//! - `pool = ...` of `#[primitive]` takes a `Pool`, not an `Option<Pool>`: with `--slots`
//!   the builds are a second primitive (id `bench-trivial-pooled`, the same body) whose
//!   pool is one process-wide pool of K slots made at the start, where the
//!   hand-written builder takes a new pool of K slots for each engine.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use current::cache::db::CacheDb;
use current::cache::{self, Builder};
use current::engine::{Engine, EngineOptions};
use current::job::{Job, StartOptions};
use current::pool::Pool;
use current::store::Store;
use current::term::Term;
use current::Level;

/// OCurrent's figures: N, cold seconds, warm seconds.
const OCAML: [(usize, f64, f64); 3] = [
    (1_000, 0.12, 0.012),
    (10_000, 2.76, 0.22),
    (30_000, 13.6, 0.99),
];

/// The target for 10,000 builds (cold, warm, in seconds), in proportion to N.
const TARGET_10K: (f64, f64) = (0.3, 0.025);

/// A build that does nothing but start its job and write a line to its log.
///
/// It is also written with `#[primitive]` in [`by_macro`] (`--macro`).
struct Trivial {
    pool: Option<Pool>,
}

impl Builder for Trivial {
    const ID: &'static str = "bench-trivial";
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
        job.log(format_args!("building {key}"));
        Ok(key.wrapping_mul(2))
    }
}

/// `Trivial` written with `#[primitive]` (`--macro`): twice, as a primitive's pool is a
/// `Pool` and not an `Option<Pool>`.
mod by_macro {
    use std::sync::OnceLock;

    use current::pool::Pool;

    /// The pool of `--slots K` builds: made once, by `main`.
    pub static POOL: OnceLock<Pool> = OnceLock::new();

    fn bench_pool() -> Pool {
        POOL.get_or_init(|| Pool::new("bench", 1)).clone()
    }

    /// Without a pool (no `--slots`).
    pub mod unpooled {
        use current::job::Job;
        use current::primitive;

        /// A build that does nothing but start its job and write a line to its log.
        #[primitive(id = "bench-trivial", level = Harmless)]
        pub async fn trivial(job: &Job, key: u64) -> Result<u64, String> {
            job.log(format_args!("building {key}"));
            Ok(key.wrapping_mul(2))
        }
    }

    /// With the pool of `--slots`.
    pub mod pooled {
        use super::bench_pool;
        use current::job::Job;
        use current::primitive;

        /// A build that does nothing but start its job and write a line to its log.
        #[primitive(id = "bench-trivial-pooled", level = Harmless, pool = bench_pool())]
        pub async fn trivial(job: &Job, key: u64) -> Result<u64, String> {
            job.log(format_args!("building {key}"));
            Ok(key.wrapping_mul(2))
        }
    }
}

/// Which builds the pipeline is made of.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// The hand-written `Trivial`.
    Hand,
    /// `#[primitive] trivial` (`--macro`).
    Macro,
}

impl Variant {
    fn describe(self) -> &'static str {
        match self {
            Variant::Hand => "hand-written Builder `Trivial`",
            Variant::Macro => "#[primitive] fn `trivial` (--macro)",
        }
    }
}

struct Args {
    ns: Vec<usize>,
    base: PathBuf,
    runs: Option<usize>,
    slots: Option<usize>,
    keep: bool,
    variant: Variant,
}

fn parse_args() -> Result<Args, String> {
    let mut ns = Vec::new();
    let mut base = None;
    let mut runs = None;
    let mut slots = None;
    let mut keep = false;
    let mut variant = Variant::Hand;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--state-dir" => base = Some(PathBuf::from(value("--state-dir")?)),
            "--runs" => {
                runs = Some(
                    value("--runs")?
                        .parse()
                        .map_err(|e| format!("--runs: {e}"))?,
                )
            }
            "--slots" => {
                slots = Some(
                    value("--slots")?
                        .parse()
                        .map_err(|e| format!("--slots: {e}"))?,
                )
            }
            "--keep" => keep = true,
            "--macro" => variant = Variant::Macro,
            // What `cargo bench` passes (`--bench`), and filters meant for other benches.
            _ if arg.starts_with("--") => {}
            _ => ns.push(
                arg.replace(['_', ','], "")
                    .parse()
                    .map_err(|e| format!("N {arg:?}: {e}"))?,
            ),
        }
    }
    if ns.is_empty() {
        ns = vec![1_000, 10_000, 30_000];
        if std::env::var_os("CACHE_BENCH_100K").is_some() {
            ns.push(100_000);
        }
    }
    let base = base.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("current-bench-cache-{}", std::process::id()))
    });
    Ok(Args {
        ns,
        base,
        runs,
        slots,
        keep,
        variant,
    })
}

/// The figures of one run.
#[derive(Clone, Copy)]
struct Figures {
    cold: Duration,
    warm: Duration,
    open: Duration,
    db_bytes: u64,
}

/// Why a run could not be measured (the benchmark stops there).
type Failure = String;

/// Start an engine over `dir` with the pipeline of `n` builds on a runtime of its own,
/// wait for `Ok`, and return the time from start to `Ok` and the cache's counters; the
/// engine is shut down and dropped, with its runtime, before this returns.
fn run_engine(
    dir: &Path,
    n: usize,
    slots: Option<usize>,
    variant: Variant,
    what: &str,
) -> Result<(Duration, u64, u64), Failure> {
    let rt = tokio::runtime::Runtime::new().map_err(|e| format!("tokio: {e}"))?;
    let limit = Duration::from_secs(30) + Duration::from_millis(2) * n as u32;
    let options = EngineOptions::new(dir, rt.handle().clone());
    let (start, engine) = match variant {
        Variant::Hand => {
            let builder = Arc::new(Trivial {
                pool: slots.map(|k| Pool::new("bench", k)),
            });
            let start = Instant::now();
            let engine = Engine::start(options, move || {
                Term::all(
                    (0..n as u64)
                        .map(|key| cache::build(&builder, &Term::value(key)).ignore_value()),
                )
            });
            (start, engine)
        }
        Variant::Macro => {
            let start = Instant::now();
            let engine = Engine::start(options, move || {
                Term::all((0..n as u64).map(|key| {
                    let key = Term::value(key);
                    match slots {
                        None => by_macro::unpooled::trivial(&key).ignore_value(),
                        Some(_) => by_macro::pooled::trivial(&key).ignore_value(),
                    }
                }))
            });
            (start, engine)
        }
    };
    let engine = engine.map_err(|e| format!("{what}: cannot start the engine: {e}"))?;
    let done = engine.wait_until(|s| s.result.is_ok() || s.stats.failed > 0, limit);
    let elapsed = start.elapsed();
    let snapshot = match done {
        Ok(snapshot) => snapshot,
        Err(_) => {
            let last = engine.snapshot();
            return Err(format!(
                "{what}, N = {n}: no `Ok` within {limit:?}: step {}, stats {:?}, result {:?} \
                 (the engine cannot be shut down cleanly in this state: exiting)",
                last.step, last.stats, last.result
            ));
        }
    };
    if let Err(e) = snapshot.result {
        return Err(format!("{what}, N = {n}: the pipeline failed: {e}"));
    }
    let counters = match (variant, slots) {
        (Variant::Hand, _) => cache::counters::<cache::Build<Trivial>>(engine.context()),
        (Variant::Macro, None) => {
            cache::counters::<cache::Build<by_macro::unpooled::trivial::Op>>(engine.context())
        }
        (Variant::Macro, Some(_)) => {
            cache::counters::<cache::Build<by_macro::pooled::trivial::Op>>(engine.context())
        }
    };
    let hits = counters.hits.load(Ordering::Relaxed);
    let builds = counters.builds.load(Ordering::Relaxed);
    engine
        .shutdown("bench over")
        .map_err(|e| format!("{what}: shutdown: {e}"))?;
    rt.shutdown_timeout(Duration::from_secs(10));
    Ok((elapsed, hits, builds))
}

fn measure(
    dir: &Path,
    n: usize,
    slots: Option<usize>,
    variant: Variant,
) -> Result<Figures, Failure> {
    let (cold, _, builds) = run_engine(dir, n, slots, variant, "cold")?;
    if builds != n as u64 {
        return Err(format!("cold, N = {n}: {builds} builds, not {n}"));
    }
    let (warm, hits, builds) = run_engine(dir, n, slots, variant, "warm")?;
    if builds != 0 || hits != n as u64 {
        return Err(format!(
            "warm, N = {n}: {builds} builds and {hits} hits, not 0 and {n}"
        ));
    }
    std::thread::sleep(Duration::from_millis(50));
    let start = Instant::now();
    let store = Store::open(dir).map_err(|e| format!("open: {e}"))?;
    let db = CacheDb::open(&store).map_err(|e| format!("open: {e}"))?;
    let open = start.elapsed();
    drop((db, store));
    Ok(Figures {
        cold,
        warm,
        open,
        db_bytes: dir_size(&dir.join("db")),
    })
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => dir_size(&e.path()),
                    _ => e.metadata().map_or(0, |m| m.len()),
                })
                .sum()
        })
        .unwrap_or(0)
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn group(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `x faster` (or slower) of `ours` against `reference`.
fn ratio(reference: f64, ours: Duration) -> String {
    let r = reference / ours.as_secs_f64().max(1e-9);
    if r >= 1.0 {
        format!("{r:.1}x faster")
    } else {
        format!("{:.1}x slower", 1.0 / r)
    }
}

fn table(rows: &[(usize, usize, Figures)]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>8} | {:>4} | {:>9} | {:>9} | {:>9} | {:>8} | {:>14} | {:>14} | {:>18}",
        "N",
        "runs",
        "cold (s)",
        "warm (ms)",
        "open (ms)",
        "db (MiB)",
        "cold vs OCaml",
        "warm vs OCaml",
        "target cold / warm"
    );
    for &(n, runs, f) in rows {
        let ocaml = OCAML.iter().find(|(m, _, _)| *m == n);
        let scale = n as f64 / 10_000.0;
        let (tc, tw) = (TARGET_10K.0 * scale, TARGET_10K.1 * scale);
        let meets = |ours: Duration, target: f64| {
            if ours.as_secs_f64() <= target {
                "ok"
            } else {
                "MISSED"
            }
        };
        let _ = writeln!(
            out,
            "{:>8} | {:>4} | {:>9.3} | {:>9.1} | {:>9.1} | {:>8.1} | {:>14} | {:>14} | {:>7.3} s {:<6} / {:>5.1} ms {}",
            group(n),
            runs,
            f.cold.as_secs_f64(),
            f.warm.as_secs_f64() * 1e3,
            f.open.as_secs_f64() * 1e3,
            f.db_bytes as f64 / (1 << 20) as f64,
            ocaml.map_or("-".into(), |o| ratio(o.1, f.cold)),
            ocaml.map_or("-".into(), |o| ratio(o.2, f.warm)),
            tc,
            meets(f.cold, tc),
            tw * 1e3,
            meets(f.warm, tw),
        );
    }
    out
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("cache bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let (Variant::Macro, Some(k)) = (args.variant, args.slots) {
        let _ = by_macro::POOL.set(Pool::new("bench", k));
    }
    println!(
        "cache bench: N trivial cached builds, cold (empty database) then warm (new engine, \
         every build a cache hit); builds: {}; state under {}{}",
        args.variant.describe(),
        args.base.display(),
        args.slots.map_or(String::new(), |k| format!(
            "; builds share a pool of {k} slots"
        ))
    );
    let mut rows = Vec::new();
    let mut failed = None;
    'all: for &n in &args.ns {
        let runs = args.runs.unwrap_or(if n <= 10_000 { 3 } else { 1 });
        let mut all = Vec::new();
        for run in 0..runs {
            let dir = args.base.join(format!("n{n}-run{run}"));
            match measure(&dir, n, args.slots, args.variant) {
                Ok(f) => {
                    println!(
                        "N = {:>7}, run {run}: cold {:.3} s, warm {:.1} ms, open {:.1} ms",
                        group(n),
                        f.cold.as_secs_f64(),
                        f.warm.as_secs_f64() * 1e3,
                        f.open.as_secs_f64() * 1e3
                    );
                    all.push(f);
                }
                Err(e) => {
                    failed = Some(e);
                    break 'all;
                }
            }
        }
        let f = Figures {
            cold: median(all.iter().map(|f| f.cold).collect()),
            warm: median(all.iter().map(|f| f.warm).collect()),
            open: median(all.iter().map(|f| f.open).collect()),
            db_bytes: all.iter().map(|f| f.db_bytes).max().unwrap_or(0),
        };
        rows.push((n, runs, f));
    }
    println!("\nmedians, {} (OCaml: 1,000: 0.12 s / 12 ms; 10,000: 2.76 s / 0.22 s; 30,000: 13.6 s / 0.99 s; target: 10x better)",
        args.variant.describe()
    );
    print!("{}", table(&rows));
    if let Some(e) = failed {
        eprintln!("cache bench: {e}");
        println!("state kept in {}", args.base.display());
        // An engine stuck in this state may not shut down: leave at once.
        std::process::exit(1);
    }
    if args.keep {
        println!("state kept in {}", args.base.display());
    } else {
        let _ = std::fs::remove_dir_all(&args.base);
    }
    ExitCode::SUCCESS
}
