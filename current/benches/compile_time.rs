//! Compile time of a crate of 100 cached steps written with `#[primitive]`, against the
//! same crate with the 100 steps written by hand (a `Builder` or an `Operation` impl and
//! the function that makes the step, as in the example of `current::cache`).
//!
//! ```text
//! cargo bench -p current --bench compile_time -- [--primitives N] [--runs R]
//! ```
//!
//! It writes two crates under `$CARGO_TARGET_TMPDIR/compile-time/` (`macro/` and `hand/`),
//! each depending on `current` by path (without its default features) and on serde, with
//! a copy of the workspace's `Cargo.lock` (so the same versions), and builds them with
//! `cargo build` (debug) into a target directory of their own there, so that the
//! workspace's is not locked. The first build of each compiles the dependencies too and is
//! not counted. Then, R times (3 by default), alternating between the two crates, it
//! touches the crate's `lib.rs` and times `cargo build`: only that crate is compiled
//! again. A build that compiled anything else (`current` was edited meanwhile) is not
//! counted but done again, up to 3 times. The builds are not incremental
//! (`CARGO_INCREMENTAL=0`), so each one compiles the whole crate, and use no compiler
//! wrapper (`RUSTC_WRAPPER` is cleared). The times are wall clock, with cargo's own
//! start-up (a no-op `cargo build` is timed too, for reference), and, on Linux, the CPU
//! time (user + system) of cargo and the compilers it ran, which depends less on what else
//! the machine is doing.
//!
//! The steps vary with `i % 5`, i in `0..N` (100 by default):
//!
//! 0. one `u64` key, level `Harmless`, a log line;
//! 1. a context by value and two `String` keys (one by reference), an `id` and a `version`;
//! 2. a context by reference and a struct key, `valid_for` and level `MostlyHarmless`;
//! 3. a publish step (`publish, auto_cancel, latched`) with a context, a key and a value;
//! 4. a `Vec<String>` key, a `pool`, a `timeout`, level `Dangerous`, another error type.
//!
//! It prints the median of each crate, the ratio, and every run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context as _, Result};

/// Where the crates are written (set by cargo for benches).
const TMP: &str = env!("CARGO_TARGET_TMPDIR");
/// The `current` crate.
const CURRENT: &str = env!("CARGO_MANIFEST_DIR");

/// One of the two crates.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    Macro,
    Hand,
}

impl Variant {
    fn dir_name(self) -> &'static str {
        match self {
            Variant::Macro => "macro",
            Variant::Hand => "hand",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Variant::Macro => "#[primitive]",
            Variant::Hand => "hand-written",
        }
    }
}

struct Args {
    primitives: usize,
    runs: usize,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        primitives: 100,
        runs: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> Result<usize> {
            let value = it.next().with_context(|| format!("{name} needs a value"))?;
            let n: usize = value.parse().with_context(|| format!("{name} {value:?}"))?;
            if n == 0 {
                bail!("{name} must be at least 1");
            }
            Ok(n)
        };
        match arg.as_str() {
            "--primitives" => args.primitives = number("--primitives")?,
            "--runs" => args.runs = number("--runs")?,
            // What `cargo bench` passes (`--bench`), and filters meant for other benches.
            _ => {}
        }
    }
    Ok(args)
}

/// What both crates start with: the types of the keys, values and contexts.
fn prelude(title: &str) -> String {
    format!(
        r#"//! Written by `current/benches/compile_time.rs`: {title}.
#![allow(dead_code, unused_imports)]

use std::sync::atomic::{{AtomicUsize, Ordering}};
use std::sync::{{Arc, OnceLock}};
use std::time::Duration;

use current::cache::{{self, Builder, Operation, Schedule}};
use current::job::{{Job, StartOptions}};
use current::pool::Pool;
use current::primitive;
use current::term::Term;
use current::Level;
use serde::{{Deserialize, Serialize}};

/// Counts the runs of a step.
#[derive(Clone, Default)]
pub struct Counter(pub Arc<AtomicUsize>);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Commit {{
    pub repo: String,
    pub hash: String,
}}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Image {{
    pub tag: String,
    pub size: u64,
}}

/// The pool of the steps that need one.
pub fn pool() -> Pool {{
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool::new("builders", 2)).clone()
}}
"#
    )
}

/// Step `i` written with `#[primitive]`.
fn with_macro(out: &mut String, i: usize) {
    let _ = match i % 5 {
        0 => write!(
            out,
            r#"
/// Step {i}: one key.
#[primitive(level = Harmless)]
pub async fn step_{i}(job: &Job, n: u64) -> Result<u64, String> {{
    job.log(format_args!("step {i}: {{n}}"));
    Ok(n.wrapping_mul({i} + 1))
}}
"#
        ),
        1 => write!(
            out,
            r#"
/// Step {i}: a context by value, two keys, an id and a version.
#[primitive(id = "step-{i}", version = 2)]
pub async fn step_{i}(_job: &Job, #[context] sep: String, a: &String, b: String) -> Result<String, String> {{
    Ok(format!("{{a}}{{sep}}{{b}}{i}"))
}}
"#
        ),
        2 => write!(
            out,
            r#"
/// Step {i}: a context by reference, a struct key, an expiry.
#[primitive(valid_for = "1h", level = MostlyHarmless)]
pub async fn step_{i}(job: &Job, #[context] builds: &Counter, commit: Commit) -> Result<Image, String> {{
    builds.0.fetch_add(1, Ordering::Relaxed);
    job.log(format_args!("building {{}}", commit.hash));
    Ok(Image {{
        tag: format!("{{}}-{i}", commit.hash),
        size: commit.repo.len() as u64,
    }})
}}
"#
        ),
        3 => write!(
            out,
            r#"
/// Step {i}: a publish step.
#[primitive(publish, auto_cancel, latched)]
pub async fn step_{i}(_job: &Job, #[context] published: &Counter, name: String, image: Image) -> Result<usize, String> {{
    published.0.fetch_add(1, Ordering::Relaxed);
    Ok(name.len() + image.tag.len() + {i})
}}
"#
        ),
        _ => write!(
            out,
            r#"
/// Step {i}: a pool, a timeout, another error type.
#[primitive(pool = pool(), timeout = "10m", level = Dangerous)]
pub async fn step_{i}(job: &Job, names: Vec<String>) -> Result<Vec<u64>, std::fmt::Error> {{
    job.log(format_args!("{{}} names", names.len()));
    Ok(names.iter().map(|s| s.len() as u64 + {i}).collect())
}}
"#
        ),
    };
}

/// Step `i` written by hand: what `with_macro` makes, as a user would write it with the
/// public API (no registry entry, no token digest, no cancellable body).
fn by_hand(out: &mut String, i: usize) {
    let _ = match i % 5 {
        0 => write!(
            out,
            r#"
/// Step {i}: one key.
pub struct Step{i};

impl Builder for Step{i} {{
    const ID: &'static str = "step_{i}";
    type Key = u64;
    type Value = u64;

    fn level(&self, _key: &u64) -> Level {{
        Level::Harmless
    }}

    fn pp(&self, n: &u64) -> String {{
        format!("step_{i} {{n}}")
    }}

    async fn build(&self, job: Job, n: u64) -> Result<u64, String> {{
        job.start(Level::Harmless, StartOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        job.log(format_args!("step {i}: {{n}}"));
        Ok(n.wrapping_mul({i} + 1))
    }}
}}

#[track_caller]
pub fn step_{i}(n: &Term<u64>) -> Term<u64> {{
    cache::build(&Arc::new(Step{i}), n)
}}
"#
        ),
        1 => write!(
            out,
            r#"
/// Step {i}: a context, two keys, an id and a version.
pub struct Step{i} {{
    pub sep: String,
}}

impl Builder for Step{i} {{
    const ID: &'static str = "step-{i}";
    const VERSION: u32 = 2;
    type Key = (String, String);
    type Value = String;

    fn pp(&self, (a, b): &(String, String)) -> String {{
        format!("step-{i} {{a}} {{b}}")
    }}

    async fn build(&self, job: Job, (a, b): (String, String)) -> Result<String, String> {{
        job.start(Level::Average, StartOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        Ok(format!("{{a}}{{}}{{b}}{i}", self.sep))
    }}
}}

#[track_caller]
pub fn step_{i}(sep: String, a: &Term<String>, b: &Term<String>) -> Term<String> {{
    cache::build(&Arc::new(Step{i} {{ sep }}), &a.pair(b))
}}
"#
        ),
        2 => write!(
            out,
            r#"
/// Step {i}: a context, a struct key, an expiry.
pub struct Step{i} {{
    pub builds: Counter,
}}

impl Builder for Step{i} {{
    const ID: &'static str = "step_{i}";
    type Key = Commit;
    type Value = Image;

    fn level(&self, _key: &Commit) -> Level {{
        Level::MostlyHarmless
    }}

    fn pp(&self, commit: &Commit) -> String {{
        format!("step_{i} {{}} {{}}", commit.repo, commit.hash)
    }}

    async fn build(&self, job: Job, commit: Commit) -> Result<Image, String> {{
        job.start(Level::MostlyHarmless, StartOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        self.builds.0.fetch_add(1, Ordering::Relaxed);
        job.log(format_args!("building {{}}", commit.hash));
        Ok(Image {{
            tag: format!("{{}}-{i}", commit.hash),
            size: commit.repo.len() as u64,
        }})
    }}
}}

#[track_caller]
pub fn step_{i}(builds: &Counter, commit: &Term<Commit>) -> Term<Image> {{
    let schedule = Schedule {{
        valid_for: Some(Duration::from_secs(3600)),
    }};
    cache::build_with(&Arc::new(Step{i} {{ builds: builds.clone() }}), commit, schedule)
}}
"#
        ),
        3 => write!(
            out,
            r#"
/// Step {i}: a publish step.
pub struct Step{i} {{
    pub published: Counter,
}}

impl Operation for Step{i} {{
    const ID: &'static str = "step_{i}";
    type Key = String;
    type Value = Image;
    type Outcome = usize;

    fn auto_cancel(&self) -> bool {{
        true
    }}

    fn latched(&self) -> bool {{
        true
    }}

    fn pp(&self, name: &String, _image: &Image) -> String {{
        format!("step_{i} {{name}}")
    }}

    async fn run(&self, job: Job, name: String, image: Image) -> Result<usize, String> {{
        job.start(Level::Average, StartOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        self.published.0.fetch_add(1, Ordering::Relaxed);
        Ok(name.len() + image.tag.len() + {i})
    }}
}}

#[track_caller]
pub fn step_{i}(published: &Counter, name: &Term<String>, image: &Term<Image>) -> Term<usize> {{
    cache::run(&Arc::new(Step{i} {{ published: published.clone() }}), name, image)
}}
"#
        ),
        _ => write!(
            out,
            r#"
/// Step {i}: a pool, a timeout.
pub struct Step{i};

impl Builder for Step{i} {{
    const ID: &'static str = "step_{i}";
    type Key = Vec<String>;
    type Value = Vec<u64>;

    fn level(&self, _key: &Vec<String>) -> Level {{
        Level::Dangerous
    }}

    fn pp(&self, names: &Vec<String>) -> String {{
        format!("step_{i} {{names:?}}")
    }}

    async fn build(&self, job: Job, names: Vec<String>) -> Result<Vec<u64>, String> {{
        let options = StartOptions {{
            pool: Some(pool()),
            timeout: Some(Duration::from_secs(600)),
        }};
        job.start(Level::Dangerous, options)
            .await
            .map_err(|e| e.to_string())?;
        job.log(format_args!("{{}} names", names.len()));
        Ok(names.iter().map(|s| s.len() as u64 + {i}).collect())
    }}
}}

#[track_caller]
pub fn step_{i}(names: &Term<Vec<String>>) -> Term<Vec<u64>> {{
    cache::build(&Arc::new(Step{i}), names)
}}
"#
        ),
    };
}

fn lib_rs(variant: Variant, primitives: usize) -> String {
    let mut out = prelude(&format!(
        "{primitives} cached steps, {}",
        match variant {
            Variant::Macro => "written with #[primitive]",
            Variant::Hand => "written by hand",
        }
    ));
    for i in 0..primitives {
        match variant {
            Variant::Macro => with_macro(&mut out, i),
            Variant::Hand => by_hand(&mut out, i),
        }
    }
    out
}

fn cargo_toml(variant: Variant, current: &Path) -> String {
    // A TOML basic string, escaped as TOML wants it.
    let path = current
        .display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    format!(
        r#"# Written by `current/benches/compile_time.rs`.
[package]
name = "primitives-{name}"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
current = {{ path = "{path}", default-features = false }}
serde = {{ version = "1", features = ["derive"] }}

# Not a member of the workspace this directory is in.
[workspace]
"#,
        name = variant.dir_name()
    )
}

/// Write `text` to `path` unless it holds it already (so that an unchanged file keeps its
/// time stamp).
fn write_if_changed(path: &Path, text: &str) -> Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Write the crate of `variant` under `root`; its directory.
fn write_crate(root: &Path, variant: Variant, primitives: usize) -> Result<PathBuf> {
    let dir = root.join(variant.dir_name());
    let src = dir.join("src");
    std::fs::create_dir_all(&src).with_context(|| format!("cannot create {}", src.display()))?;
    let current = Path::new(CURRENT)
        .canonicalize()
        .with_context(|| format!("cannot find the current crate at {CURRENT}"))?;
    write_if_changed(&dir.join("Cargo.toml"), &cargo_toml(variant, &current))?;
    write_if_changed(&src.join("lib.rs"), &lib_rs(variant, primitives))?;
    // The workspace's lock file: the same versions as the workspace.
    let lock = current.join("..").join("Cargo.lock");
    let target = dir.join("Cargo.lock");
    if lock.is_file() {
        std::fs::copy(&lock, &target)
            .with_context(|| format!("cannot copy {} to {}", lock.display(), target.display()))?;
    }
    Ok(dir)
}

/// The time of one build: wall clock, and CPU time if it can be read.
#[derive(Clone, Copy)]
struct Time {
    wall: Duration,
    cpu: Option<Duration>,
}

/// A build: how long it took, and the packages it compiled.
struct Build {
    time: Time,
    compiled: Vec<String>,
}

/// The CPU time (user + system) of the children this process has waited for, from
/// `/proc/self/stat` (Linux; `None` elsewhere).
fn children_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // After the command's name (in parentheses, which may hold spaces), the fields from
    // the third on: `cutime` and `cstime` are the 16th and 17th, in clock ticks
    // (`USER_HZ`, 100 on Linux).
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some(Duration::from_millis((ticks(13)? + ticks(14)?) * 10))
}

/// `cargo build` of the crate in `dir` into `target_dir`.
fn cargo_build(dir: &Path, target_dir: &Path) -> Result<Build> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = dir.join("Cargo.toml");
    let mut cmd = Command::new(&cargo);
    cmd.arg("build")
        .arg("--color")
        .arg("never")
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(dir)
        .env("CARGO_INCREMENTAL", "0")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR");
    let cpu_before = children_cpu();
    let start = Instant::now();
    let output = cmd
        .output()
        .with_context(|| format!("cannot run {}", Path::new(&cargo).display()))?;
    let wall = start.elapsed();
    let cpu = match (cpu_before, children_cpu()) {
        (Some(before), Some(after)) => after.checked_sub(before),
        _ => None,
    };
    if !output.status.success() {
        bail!(
            "`cargo build --manifest-path {}` failed ({}):\n{}",
            manifest.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // `   Compiling name vX.Y.Z (...)`, on stderr.
    let compiled = String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("Compiling "))
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect();
    Ok(Build {
        time: Time { wall, cpu },
        compiled,
    })
}

/// Touch the crate in `dir` and build it: the time of a build that compiled that crate
/// alone (builds that compiled other packages too are done again, up to 3 times).
fn time_crate(dir: &Path, variant: Variant, target_dir: &Path) -> Result<Time> {
    let name = format!("primitives-{}", variant.dir_name());
    for _ in 0..3 {
        // Whatever changed outside the crate is built first, not timed.
        cargo_build(dir, target_dir)?;
        touch(dir)?;
        let build = cargo_build(dir, target_dir)?;
        if build.compiled == [name.as_str()] {
            return Ok(build.time);
        }
        println!(
            "  (not counted: compiled {}; done again)",
            build.compiled.join(", ")
        );
    }
    bail!("{name}: every build compiled other packages too (is `current` being edited?)")
}

/// Give `lib.rs` of the crate in `dir` a new modification time, so that cargo builds the
/// crate again (and only it).
fn touch(dir: &Path) -> Result<()> {
    let lib = dir.join("src").join("lib.rs");
    std::fs::File::options()
        .write(true)
        .open(&lib)
        .and_then(|f| f.set_modified(SystemTime::now()))
        .with_context(|| format!("cannot touch {}", lib.display()))
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn show(t: Time) -> String {
    match t.cpu {
        Some(cpu) => format!("{} ({} CPU)", secs(t.wall), secs(cpu)),
        None => secs(t.wall),
    }
}

/// The medians of `times`, wall clock and CPU.
fn median_time(times: &[Time]) -> Time {
    let cpu: Option<Vec<Duration>> = times.iter().map(|t| t.cpu).collect();
    Time {
        wall: median(times.iter().map(|t| t.wall).collect()),
        cpu: cpu.map(median),
    }
}

/// `a / b`.
fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let root = Path::new(TMP).join("compile-time");
    let target_dir = root.join("target");
    let variants = [Variant::Macro, Variant::Hand];
    println!(
        "compile time: a crate of {} cached steps, #[primitive] against hand-written; \
         crates and target directory under {}",
        args.primitives,
        root.display()
    );
    let mut dirs = Vec::new();
    for variant in variants {
        let dir = write_crate(&root, variant, args.primitives)?;
        // The dependencies, and a first build of the crate: not counted.
        let first = cargo_build(&dir, &target_dir)
            .with_context(|| format!("the first build of the {} crate", variant.dir_name()))?;
        println!(
            "{:>12}: first build (dependencies too, unless built before): {}",
            variant.describe(),
            show(first.time)
        );
        dirs.push((variant, dir));
    }
    let mut times: Vec<Vec<Time>> = vec![Vec::new(); variants.len()];
    let mut noop = Vec::new();
    for run in 0..args.runs {
        for (k, (variant, dir)) in dirs.iter().enumerate() {
            let t = time_crate(dir, *variant, &target_dir)?;
            println!("run {run}: {:>12}: {}", variant.describe(), show(t));
            times[k].push(t);
        }
        // Nothing to do: what cargo itself costs.
        noop.push(cargo_build(&dirs[0].1, &target_dir)?.time);
    }
    let medians: Vec<Time> = times.iter().map(|t| median_time(t)).collect();
    println!(
        "\nmedians of {} builds of the crate alone (debug, not incremental), wall clock (CPU):",
        args.runs
    );
    for (k, variant) in variants.iter().enumerate() {
        println!("{:>12}: {}", variant.describe(), show(medians[k]));
    }
    println!("{:>12}: {}", "no-op cargo", show(median_time(&noop)));
    let (m, h) = (medians[0], medians[1]);
    print!(
        "ratio #[primitive] / hand-written: {:.2} wall clock",
        ratio(m.wall, h.wall)
    );
    if let (Some(mc), Some(hc)) = (m.cpu, h.cpu) {
        print!(", {:.2} CPU", ratio(mc, hc));
    }
    println!();
    Ok(())
}
