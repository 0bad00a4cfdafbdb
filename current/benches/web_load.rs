//! Benchmark of the engine under load on its web page: the evaluation time of a pipeline
//! of 1,000 cached steps, idle and while 200 clients read the pages, the JSON API and the
//! jobs' logs.
//!
//! ```text
//! cargo bench -p current --bench web_load [-- --changes N] [--clients C] [--nodes K]
//!     [--interval-ms I] [--client-threads T] [--web-threads W] [--no-svg] [--pin-engine]
//! ```
//!
//! The pipeline is the one of the end-to-end load test (`tests/src/bin/wide_pipeline.rs`)
//! with an input: `K` (1,000) cached steps keyed by `0..K`, one in 50 of them slow (it logs
//! `waiting <n>` every 50 ms until the benchmark releases it, then ten lines and `done`),
//! each step's state paired with a [`Var`] `round`, all of them gathered by `list_seq`.
//! Setting `round` re-evaluates the 1,000 branches: that is the work measured. The web page
//! is served in-process on a loopback port, on the engine's tokio runtime (where the jobs
//! run too), as `PipelineOptions::run` serves it.
//!
//! Three phases of `N` (200) changes each: **idle**, then under **load**, then **idle**
//! again. A change sets `round`, waits for the snapshot that shows it, then waits `I` ms
//! (20). For each phase it prints the engine's own measure, [`Metrics::evaluation`]
//! (its count and mean, from the deltas over the phase: evaluations the web page asks
//! for, to draw the diagram, are counted too), the engine's evaluation time per change
//! (the sum over the phase divided by `N`), and the latency of a change (from setting the
//! input to the published snapshot; it includes the time the engine's thread spends
//! drawing diagrams for the page). Then, per change, the engine thread's time on a CPU
//! and its time runnable but waiting for a CPU (from `/proc/self/task/<tid>/schedstat`):
//! the first is the work the engine did, the second what CPU contention cost it.
//!
//! The load: `C` (200) clients on a tokio runtime of their own with `T` (2) threads, one
//! request per connection, HTTP/1.1 written by hand. A quarter follow a slow job's log
//! page (`/job/<id>`, streamed while the job runs), a quarter its log through the API
//! (`/api/job/<id>/log?start=N`, asked again every 50 ms when it has not grown), half go
//! round `/`, `/jobs`, `/api/state`, `/api/jobs`, `/api/job/<id>` (a running and a
//! finished job), `/metrics`, a finished job's page and its log through the API; one in
//! ten of these also asks for `/pipeline.svg` once a round (`--no-svg`: none does). They run from before the loaded
//! phase until its end; then the slow jobs are released and every log stream must end.
//! Errors (a status other than 200, a connection that fails, a stream that does not end)
//! are counted and printed; the benchmark fails if there are any.
//!
//! Experiments: `--web-threads W` serves the page on a tokio runtime of its own with `W`
//! threads instead of the engine's; `--pin-engine` pins the engine's thread to CPU 0 and
//! every other thread of the process to the other CPUs (with `taskset`), so that a
//! slowdown that remains is not this process's clients and web server taking the engine's
//! CPU (other processes of the machine may still run on CPU 0).
//!
//! The last line compares the mean evaluation time under load with the idle one, e.g.
//! `evaluation: 1.23 ms idle, 1.41 ms under load (x1.15)`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use current::engine::{Engine, EngineOptions};
use current::job::Job;
use current::metrics::Metrics;
use current::primitive;
use current::term::{Outcome, Term};
use current::var::Var;
use current::web::{self, Renderer, Site};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// How long anything may take before the benchmark gives up.
const TIMEOUT: Duration = Duration::from_secs(60);
/// One step in this many is slow.
const SLOW_EVERY: u64 = 50;
/// How often a slow step logs, and an API follower asks again when the log has not grown.
const TICK: Duration = Duration::from_millis(50);
/// Changes before the first phase, not measured.
const WARM_UP: u64 = 20;

struct Args {
    changes: u64,
    clients: usize,
    nodes: u64,
    interval: Duration,
    client_threads: usize,
    /// Serve the page on a runtime of its own with this many threads (0: the engine's).
    web_threads: usize,
    svg: bool,
    pin_engine: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        changes: 200,
        clients: 200,
        nodes: 1000,
        interval: Duration::from_millis(20),
        client_threads: 2,
        web_threads: 0,
        svg: true,
        pin_engine: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            let v = it.next().ok_or_else(|| format!("{name} needs a value"))?;
            v.parse().map_err(|e| format!("{name} {v}: {e}"))
        };
        match arg.as_str() {
            "--changes" => args.changes = number("--changes")?.max(1),
            "--clients" => args.clients = number("--clients")? as usize,
            "--nodes" => args.nodes = number("--nodes")?.max(1),
            "--interval-ms" => args.interval = Duration::from_millis(number("--interval-ms")?),
            "--client-threads" => args.client_threads = number("--client-threads")?.max(1) as usize,
            "--web-threads" => args.web_threads = number("--web-threads")? as usize,
            "--no-svg" => args.svg = false,
            "--pin-engine" => args.pin_engine = true,
            // What `cargo bench` passes to every benchmark binary.
            "--bench" => {}
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    Ok(args)
}

/// What the steps share that is not part of their keys.
#[derive(Clone)]
struct Plan {
    released: watch::Receiver<bool>,
}

/// One step: logs `done <i>`; a slow one first logs `waiting <n>` every tick until
/// released, then ten lines.
#[primitive(level = Harmless)]
async fn item(job: &Job, #[context] plan: &Plan, i: u64) -> Result<(), String> {
    if i.is_multiple_of(SLOW_EVERY) {
        let mut released = plan.released.clone();
        let mut n = 0u64;
        while !*released.borrow_and_update() {
            n += 1;
            job.log(format_args!("waiting {n}"));
            if let Ok(Err(_)) = tokio::time::timeout(TICK, released.changed()).await {
                break;
            }
        }
        for k in 1..=10 {
            job.log(format_args!("line {k} of 10"));
            tokio::time::sleep(TICK).await;
        }
    }
    job.log(format_args!("done {i}"));
    Ok(())
}

/// `(round, steps done)`.
type Value = (u64, usize);

fn pipeline(plan: &Plan, round: &Var<u64>, nodes: u64) -> Term<Value> {
    let round = round.get();
    let branches = (0..nodes).map(|i| {
        item(plan, &Term::value(i))
            .state()
            .pair(&round)
            .map(|(state, round): (Outcome<()>, u64)| (round, state.is_ok()))
    });
    Term::list_seq(branches).map(|all: Vec<(u64, bool)>| {
        let round = all.first().map_or(0, |(r, _)| *r);
        (round, all.iter().filter(|(_, ok)| *ok).count())
    })
}

/// What one phase measured.
struct Phase {
    name: &'static str,
    evaluations: u64,
    evaluation_sum: Duration,
    changes: u64,
    latencies: Vec<Duration>,
    /// The engine thread's time on a CPU, and waiting for one, over the phase.
    on_cpu: Duration,
    waiting: Duration,
}

impl Phase {
    fn mean_evaluation(&self) -> Duration {
        self.evaluation_sum / self.evaluations.max(1) as u32
    }

    fn print(&self) {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let pct = |p: usize| sorted[(sorted.len() - 1) * p / 100];
        println!(
            "{:<7} {:>5} evaluations, mean {:>8.3} ms; per change {:>8.3} ms; change latency \
             median {:>8.3} ms, p95 {:>8.3} ms, max {:>8.3} ms",
            self.name,
            self.evaluations,
            ms(self.mean_evaluation()),
            ms(self.evaluation_sum / self.changes as u32),
            ms(pct(50)),
            ms(pct(95)),
            ms(pct(100)),
        );
        println!(
            "        engine thread per change: {:>8.3} ms on a CPU, {:>8.3} ms waiting for one",
            ms(self.on_cpu / self.changes as u32),
            ms(self.waiting / self.changes as u32),
        );
    }
}

/// The engine thread's time on a CPU and waiting for one so far, from
/// `/proc/self/task/<tid>/schedstat` (zero if it cannot be read).
fn engine_schedstat() -> (Duration, Duration) {
    let read = || -> Option<(Duration, Duration)> {
        for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
            if comm.trim() == "current-engine" {
                let stat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
                let mut fields = stat.split_whitespace().map(|f| f.parse::<u64>().ok());
                let on_cpu = fields.next()??;
                let waiting = fields.next()??;
                return Some((Duration::from_nanos(on_cpu), Duration::from_nanos(waiting)));
            }
        }
        None
    };
    read().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Make `n` changes of `round`, each waited for; the engine's measures over them.
fn measure(
    name: &'static str,
    engine: &Engine<Value>,
    round: &Var<u64>,
    n: u64,
    interval: Duration,
) -> Result<Phase, String> {
    let metrics = Metrics::of(engine.context());
    let (count0, sum0) = (metrics.evaluation().count(), metrics.evaluation().sum());
    let (cpu0, wait0) = engine_schedstat();
    let mut latencies = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let next = match round.value() {
            Ok(r) => r + 1,
            Err(_) => 1,
        };
        let started = Instant::now();
        round.set(Ok(next));
        engine
            .wait_until(|s| matches!(&s.result, Ok((r, _)) if *r == next), TIMEOUT)
            .map_err(|e| format!("round {next}: {e}"))?;
        latencies.push(started.elapsed());
        std::thread::sleep(interval);
    }
    let (cpu1, wait1) = engine_schedstat();
    Ok(Phase {
        on_cpu: cpu1.saturating_sub(cpu0),
        waiting: wait1.saturating_sub(wait0),
        name,
        evaluations: metrics.evaluation().count() - count0,
        evaluation_sum: metrics.evaluation().sum() - sum0,
        changes: n,
        latencies,
    })
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("web_load: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let dir = std::env::temp_dir().join(format!("current-bench-web-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let result = bench(&args, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn bench(args: &Args, dir: &PathBuf) -> Result<(), String> {
    let rt = tokio::runtime::Runtime::new().map_err(|e| format!("tokio: {e}"))?;
    let (release, released) = watch::channel(false);
    let plan = Plan { released };
    let round = Var::new("round", Ok(0u64));
    let nodes = args.nodes;
    let slow = nodes.div_ceil(SLOW_EVERY) as usize;
    let engine = Engine::start(EngineOptions::new(dir, rt.handle().clone()), {
        let round = round.clone();
        move || pipeline(&plan, &round, nodes)
    })
    .map_err(|e| e.to_string())?;
    let ready = nodes as usize - slow;
    engine
        .wait_until(
            |s| matches!(&s.result, Ok((0, done)) if *done == ready),
            TIMEOUT,
        )
        .map_err(|e| format!("the pipeline never had {ready} steps done: {e}"))?;

    let renderer = Renderer::detect();
    let web_rt = match args.web_threads {
        0 => None,
        n => Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(n)
                .enable_all()
                .build()
                .map_err(|e| format!("tokio: {e}"))?,
        ),
    };
    let web_handle = web_rt
        .as_ref()
        .map_or_else(|| rt.handle().clone(), |r| r.handle().clone());
    let addr = serve(&engine, renderer, &web_handle)?;
    let clients_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio: {e}"))?;
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    if args.pin_engine {
        pin_engine()?;
    }
    println!(
        "web_load: {nodes} steps ({slow} slow), {} changes a phase {} ms apart, {} clients \
         on {} threads, the page on {}, diagrams by {renderer:?}{}{}; {} CPUs",
        args.changes,
        args.interval.as_millis(),
        args.clients,
        args.client_threads,
        match args.web_threads {
            0 => "the engine's runtime".to_string(),
            n => format!("a runtime of its own with {n} threads"),
        },
        if args.svg { "" } else { ", no /pipeline.svg" },
        if args.pin_engine {
            ", the engine's thread alone on CPU 0"
        } else {
            ""
        },
        cpus,
    );

    measure("warm-up", &engine, &round, WARM_UP, args.interval)?;
    let idle = measure("idle", &engine, &round, args.changes, args.interval)?;
    idle.print();

    let snapshot = engine.snapshot();
    let live: Vec<String> = engine
        .context()
        .jobs()
        .iter()
        .map(|j| j.id().to_string())
        .collect();
    let finished: Vec<String> = snapshot
        .jobs
        .iter()
        .filter(|j| !live.contains(j))
        .cloned()
        .collect();
    if live.len() != slow || finished.is_empty() {
        return Err(format!(
            "expected {slow} running jobs and some finished, got {live:?} and {} finished",
            finished.len()
        ));
    }
    let load = Arc::new(Load {
        addr,
        live,
        finished,
        svg: args.svg,
        stop: AtomicBool::new(false),
        requests: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        streams_live: AtomicUsize::new(0),
        streams_done: AtomicUsize::new(0),
        errors: Mutex::new(Vec::new()),
    });
    let clients: Vec<_> = (0..args.clients)
        .map(|c| {
            let load = load.clone();
            clients_rt.spawn(async move { client(&load, c).await })
        })
        .collect();
    // The load is on once every follower has its stream open.
    let followers = args.clients.div_ceil(4) + (args.clients + 2) / 4;
    wait_for("every follower to see its job running", || {
        load.streams_live.load(Ordering::Relaxed) >= followers
    })?;
    let requests0 = load.requests.load(Ordering::Relaxed);
    let started = Instant::now();
    let loaded = measure("load", &engine, &round, args.changes, args.interval)?;
    let load_time = started.elapsed();
    let requests = load.requests.load(Ordering::Relaxed) - requests0;
    load.stop.store(true, Ordering::Relaxed);
    loaded.print();

    // The general clients stop; the followers' streams end once the slow jobs do.
    let _ = release.send(true);
    wait_for("every log stream to end", || {
        load.streams_done.load(Ordering::Relaxed) >= followers
    })?;
    clients_rt.block_on(async {
        for client in clients {
            if let Err(e) = client.await {
                load.error(format!("a client panicked: {e}"));
            }
        }
    });

    let idle_again = measure("idle", &engine, &round, args.changes, args.interval)?;
    idle_again.print();
    println!(
        "load: {requests} requests in {:.2} s ({:.0}/s), {} bytes in all; {followers} log \
         streams, all ended",
        load_time.as_secs_f64(),
        requests as f64 / load_time.as_secs_f64(),
        load.bytes.load(Ordering::Relaxed),
    );
    let errors = load.errors.lock().map(|e| e.clone()).unwrap_or_default();
    let (idle_mean, load_mean) = (idle.mean_evaluation(), loaded.mean_evaluation());
    println!(
        "evaluation: {:.3} ms idle, {:.3} ms under load (x{:.2}); per change {:.3} ms idle, \
         {:.3} ms under load (x{:.2})",
        ms(idle_mean),
        ms(load_mean),
        load_mean.as_secs_f64() / idle_mean.as_secs_f64(),
        ms(idle.evaluation_sum / idle.changes as u32),
        ms(loaded.evaluation_sum / loaded.changes as u32),
        loaded.evaluation_sum.as_secs_f64() / idle.evaluation_sum.as_secs_f64(),
    );
    engine
        .shutdown("benchmark over")
        .map_err(|e| e.to_string())?;
    if !errors.is_empty() {
        return Err(format!(
            "{} errors under load, the first ones:\n{}",
            errors.len(),
            errors[..errors.len().min(10)].join("\n")
        ));
    }
    Ok(())
}

/// Serve the engine's web page on a free loopback port, on `runtime`; its address.
fn serve(
    engine: &Engine<Value>,
    renderer: Renderer,
    runtime: &tokio::runtime::Handle,
) -> Result<std::net::SocketAddr, String> {
    let site = Site::new(engine.view(), renderer);
    let (bound_tx, bound_rx) = std::sync::mpsc::channel();
    runtime.spawn(async move {
        let failed = bound_tx.clone();
        let served = web::serve(
            ([127, 0, 0, 1], 0).into(),
            site,
            move |a| {
                let _ = bound_tx.send(Ok(a));
            },
            std::future::pending(),
        )
        .await;
        if let Err(e) = served {
            let _ = failed.send(Err(e.to_string()));
        }
    });
    bound_rx
        .recv_timeout(TIMEOUT)
        .map_err(|e| format!("the web server did not start: {e}"))?
}

/// Poll `done` until it holds, for at most [`TIMEOUT`].
fn wait_for(what: &str, done: impl Fn() -> bool) -> Result<(), String> {
    let deadline = Instant::now() + TIMEOUT;
    while !done() {
        if Instant::now() > deadline {
            return Err(format!("waited {TIMEOUT:?} for {what}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Pin the thread `current-engine` to CPU 0 and every other thread of this process to the
/// other CPUs (threads made later inherit their maker's CPUs).
fn pin_engine() -> Result<(), String> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 2 {
        return Err("--pin-engine needs at least two CPUs".into());
    }
    let others = format!("1-{}", cpus - 1);
    let tasks = std::fs::read_dir("/proc/self/task").map_err(|e| format!("/proc: {e}"))?;
    let mut engine = 0;
    for task in tasks.flatten() {
        let tid = task.file_name().to_string_lossy().into_owned();
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        let is_engine = comm.trim() == "current-engine";
        engine += usize::from(is_engine);
        let cpus = if is_engine { "0" } else { others.as_str() };
        let status = std::process::Command::new("taskset")
            .args(["-p", "-c", cpus, &tid])
            .stdout(std::process::Stdio::null())
            .status()
            .map_err(|e| format!("taskset: {e}"))?;
        if !status.success() {
            return Err(format!("taskset -p -c {cpus} {tid}: {status}"));
        }
    }
    if engine != 1 {
        return Err(format!("{engine} threads named current-engine"));
    }
    Ok(())
}

/// What the clients share.
struct Load {
    addr: std::net::SocketAddr,
    live: Vec<String>,
    finished: Vec<String>,
    svg: bool,
    /// Set at the end of the loaded phase: the general clients stop.
    stop: AtomicBool,
    requests: AtomicU64,
    bytes: AtomicU64,
    /// Followers whose stream is open on a running job, and whose stream ended.
    streams_live: AtomicUsize,
    streams_done: AtomicUsize,
    errors: Mutex<Vec<String>>,
}

impl Load {
    fn error(&self, e: String) {
        if let Ok(mut errors) = self.errors.lock() {
            errors.push(e);
        }
    }

    async fn get(&self, path: &str, progress: impl FnMut(&[u8])) -> Result<Reply, String> {
        let reply = get(self.addr, path, progress).await?;
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes
            .fetch_add(reply.body.len() as u64, Ordering::Relaxed);
        if reply.status != 200 {
            return Err(format!(
                "status {}: {}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            ));
        }
        Ok(reply)
    }
}

/// A quarter follow a log page, a quarter a log through the API, half go round the routes
/// until told to stop.
async fn client(load: &Load, c: usize) {
    let live = &load.live[c / 4 % load.live.len()];
    match c % 4 {
        0 => {
            let path = format!("/job/{live}");
            let mut seen = false;
            let reply = load
                .get(&path, |body| {
                    if !seen && body.windows(LOG_START.len()).any(|w| w == LOG_START) {
                        seen = true;
                        load.streams_live.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .await;
            if !seen {
                load.streams_live.fetch_add(1, Ordering::Relaxed);
            }
            match reply {
                Ok(r) if r.body.ends_with(PAGE_END) => {}
                Ok(_) => load.error(format!("GET {path}: the page does not end the log")),
                Err(e) => load.error(format!("GET {path}: {e}")),
            }
            load.streams_done.fetch_add(1, Ordering::Relaxed);
        }
        1 => {
            let mut seen = false;
            if let Err(e) = follow_log(load, live, || {
                seen = true;
                load.streams_live.fetch_add(1, Ordering::Relaxed);
            })
            .await
            {
                load.error(format!("following the log of {live}: {e}"));
            }
            if !seen {
                load.streams_live.fetch_add(1, Ordering::Relaxed);
            }
            load.streams_done.fetch_add(1, Ordering::Relaxed);
        }
        _ => {
            let mut j = c;
            while !load.stop.load(Ordering::Relaxed) {
                j += 1;
                let finished = &load.finished[j % load.finished.len()];
                let path = match j % 10 {
                    0 => "/".to_string(),
                    1 => "/jobs".to_string(),
                    2 => "/api/state".to_string(),
                    3 => "/api/jobs".to_string(),
                    4 => format!("/api/job/{live}"),
                    5 => format!("/api/job/{finished}"),
                    6 => "/metrics".to_string(),
                    7 => format!("/job/{finished}"),
                    8 => {
                        if let Err(e) = follow_log(load, finished, || {}).await {
                            load.error(format!("following the log of {finished}: {e}"));
                        }
                        continue;
                    }
                    _ if load.svg && c % 20 == 2 => "/pipeline.svg".to_string(),
                    _ => continue,
                };
                if let Err(e) = load.get(&path, |_| {}).await {
                    load.error(format!("GET {path}: {e}"));
                }
            }
        }
    }
}

/// Where the log starts in a job's page, and how the page ends once the log has.
const LOG_START: &[u8] = b"<pre id=\"log\">";
const PAGE_END: &[u8] = b"<a id=\"end\"></a></pre></main></body></html>\n";

/// Read `/api/job/<id>/log?start=N` until it says complete; `live` is called if the
/// first answer says the job is running.
async fn follow_log(load: &Load, id: &str, mut live: impl FnMut()) -> Result<(), String> {
    let mut start = 0u64;
    let mut first = true;
    loop {
        let reply = load
            .get(&format!("/api/job/{id}/log?start={start}"), |_| {})
            .await?;
        let page: serde_json::Value =
            serde_json::from_slice(&reply.body).map_err(|e| format!("not JSON: {e}"))?;
        let (Some(next), Some(complete)) = (page["next"].as_u64(), page["complete"].as_bool())
        else {
            return Err(format!("not a piece of log: {page}"));
        };
        if first && !complete {
            live();
        }
        first = false;
        if complete {
            return Ok(());
        }
        if next == start {
            tokio::time::sleep(TICK).await;
        }
        start = next;
    }
}

/// A response: status, body.
struct Reply {
    status: u16,
    body: Vec<u8>,
}

/// GET `path` over a new connection and read the response to its end (chunked or not);
/// `progress` sees the body so far after each piece.
async fn get(
    addr: std::net::SocketAddr,
    path: &str,
    mut progress: impl FnMut(&[u8]),
) -> Result<Reply, String> {
    let io = |e: std::io::Error| e.to_string();
    let mut stream = tokio::time::timeout(TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| "no connection".to_string())?
        .map_err(io)?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.map_err(io)?;
    let mut buf = Vec::new();
    let mut piece = vec![0u8; 16 * 1024];
    let mut fill = async |buf: &mut Vec<u8>| -> Result<(), String> {
        let n = tokio::time::timeout(TIMEOUT, stream.read(&mut piece))
            .await
            .map_err(|_| "nothing received for a minute".to_string())?
            .map_err(io)?;
        if n == 0 {
            return Err("the connection closed early".into());
        }
        buf.extend_from_slice(&piece[..n]);
        Ok(())
    };
    let find = |buf: &[u8], from: usize, what: &[u8]| {
        buf.get(from..)?
            .windows(what.len())
            .position(|w| w == what)
            .map(|i| i + from)
    };
    let head_end = loop {
        if let Some(i) = find(&buf, 0, b"\r\n\r\n") {
            break i + 4;
        }
        fill(&mut buf).await?;
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad head {head:?}"))?;
    let mut body = Vec::new();
    let mut at = head_end;
    if head.contains("\r\ntransfer-encoding: chunked\r\n") {
        loop {
            let line_end = loop {
                if let Some(i) = find(&buf, at, b"\r\n") {
                    break i;
                }
                fill(&mut buf).await?;
            };
            let size_text = String::from_utf8_lossy(&buf[at..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|e| format!("chunk size {size_text:?}: {e}"))?;
            at = line_end + 2;
            while buf.len() < at + size + 2 {
                fill(&mut buf).await?;
            }
            if size == 0 {
                break;
            }
            body.extend_from_slice(&buf[at..at + size]);
            at += size + 2;
            progress(&body);
        }
    } else if let Some(len) = head
        .split("\r\n")
        .find_map(|l| l.strip_prefix("content-length:"))
    {
        let len: usize = len.trim().parse().map_err(|e| format!("length: {e}"))?;
        while buf.len() < at + len {
            fill(&mut buf).await?;
        }
        body.extend_from_slice(&buf[at..at + len]);
        progress(&body);
    } else {
        return Err(format!("neither chunked nor a length: {head:?}"));
    }
    Ok(Reply { status, body })
}
