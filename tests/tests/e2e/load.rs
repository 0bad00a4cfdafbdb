//! Tests: load. 200 concurrent clients against the web page of `wide_pipeline` (a binary
//! of this package: 1,000 cached steps, 20 of them slow, held until the test releases
//! them), reading the pages, the JSON API, the metrics and the jobs' logs, live ones
//! streamed to their end. Every answer must be the expected one, every log stream must
//! end with the job's last line and match the log on disk, and the server must still be
//! up afterwards, then shut down cleanly on SIGTERM with no panic on its stderr.
//!
//! The work is fixed, not timed: 100 clients make 20 requests each, in turn over the
//! routes (10 of them first ask for `/pipeline.svg`); 50 clients follow a live job's log page (`/job/<id>`, streamed) and 50 its log
//! through the API (`/api/job/<id>/log?start=N`, polled), then each reads a finished
//! job's log. The slow jobs log a line every 50 ms while held; the test releases them
//! once every follower has seen its job running and the other clients are halfway, so
//! that the logs end during the load. Every wait polls for a condition until a deadline,
//! then fails showing what it saw. At the end it prints the requests, the bytes, the time,
//! and the slowest request of each route.
//!
//! The HTTP client is a small HTTP/1.1 client over a tokio `TcpStream`, one request per
//! connection, that reads chunked bodies chunk by chunk.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The steps of the pipeline.
const NODES: usize = 1000;
/// One step in this many is slow: 20 slow jobs.
const SLOW_EVERY: usize = 50;
const SLOW: usize = NODES.div_ceil(SLOW_EVERY);
/// The lines a slow job logs once released.
const LINES: usize = 10;

/// Clients in all: a quarter follow a live log page, a quarter a live log through the
/// API, half make [`REQUESTS`] requests each over the routes.
const CLIENTS: usize = 200;
const REQUESTS: usize = 20;
/// One client in this many (a general one) first asks for `/pipeline.svg` (the engine
/// draws the whole diagram, graphviz lays it out: the costliest request).
const SVG_EVERY: usize = 20;

/// Deadlines: starting, the whole load, one read of a socket, shutting down.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const LOAD_TIMEOUT: Duration = Duration::from_secs(120);
const IO_TIMEOUT: Duration = Duration::from_secs(30);
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);
/// How often an API follower asks again when the log has not grown, and how often the
/// test polls a condition.
const FOLLOW_POLL: Duration = Duration::from_millis(50);
const POLL: Duration = Duration::from_millis(10);

#[test]
fn two_hundred_clients_against_a_thousand_nodes() {
    let started = Instant::now();
    let mut server = Server::spawn();
    let addr = server.address();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("cannot start the clients' tokio runtime");

    // The pipeline has its 1,000 steps: all done but the slow ones, held running.
    let state = rt.block_on(wait_state(addr, &mut server, |s| {
        stat(s, "ok") == NODES - SLOW && stat(s, "running") == SLOW
    }));
    let ready_after = started.elapsed();
    let all_jobs: Vec<String> = state["jobs"]
        .as_array()
        .expect("/api/state has a list of jobs")
        .iter()
        .map(|j| j.as_str().expect("a job id is a string").to_string())
        .collect();
    assert_eq!(all_jobs.len(), NODES, "/api/state: {state}");
    let open = rt
        .block_on(get(addr, "/api/jobs", |_| {}))
        .expect("GET /api/jobs");
    let open: Value = serde_json::from_slice(&open.body).expect("/api/jobs is JSON");
    let live: Vec<String> = open
        .as_array()
        .expect("/api/jobs is a list")
        .iter()
        .map(|j| {
            assert_eq!(j["phase"], "running", "/api/jobs: {open}");
            j["id"].as_str().expect("a job id is a string").to_string()
        })
        .collect();
    assert_eq!(live.len(), SLOW, "/api/jobs: {open}");
    let live_set: BTreeSet<&String> = live.iter().collect();
    let finished: Vec<String> = all_jobs
        .iter()
        .filter(|j| !live_set.contains(j))
        .cloned()
        .collect();
    assert_eq!(finished.len(), NODES - SLOW);

    let shared = Arc::new(Shared {
        addr,
        state_dir: server.dir.clone(),
        live,
        finished,
        tally: Tally::default(),
        streamed: Mutex::new(Vec::new()),
    });
    let load_started = Instant::now();
    let outcome = rt.block_on(run_load(shared.clone(), &mut server));
    let load_time = load_started.elapsed();
    let tally = &shared.tally;
    let errors = tally.errors.lock().expect("the error list").clone();
    assert!(
        outcome.is_ok() && errors.is_empty(),
        "the load failed: {outcome:?}\n{} errors, the first ones:\n{}\n{}\nserver:\n{}",
        errors.len(),
        errors
            .iter()
            .take(20)
            .map(|e| head(e, 600))
            .collect::<Vec<_>>()
            .join("\n"),
        tally.describe(),
        server.describe()
    );

    // Every slow job has finished, and the pipeline with it.
    let state = rt.block_on(wait_state(addr, &mut server, |s| {
        stat(s, "ok") == NODES && s["result"] == "Success!"
    }));
    assert_eq!(stat(&state, "running"), 0, "/api/state: {state}");

    // Every live log stream ended with its job's last lines and is the log on disk.
    let streamed = shared.streamed.lock().expect("the streamed logs").clone();
    assert_eq!(streamed.len(), CLIENTS / 2, "one live stream per follower");
    for (how, id, text) in &streamed {
        let on_disk = read_log(&shared.state_dir, id);
        assert_eq!(text, &on_disk, "{how} of {id}: not the log on disk");
        check_slow_log(id, text);
    }

    assert!(
        server.try_wait().is_none(),
        "the server exited under load\n{}",
        server.describe()
    );
    server.wait_until_catching_sigterm();
    server.signal(Signal::SIGTERM);
    let status = server.wait_exit(EXIT_TIMEOUT);
    assert!(
        status.success(),
        "wide_pipeline did not exit cleanly on SIGTERM\n{}",
        server.describe()
    );
    let stderr = server.stderr.lock().expect("the server's stderr").clone();
    for bad in ["panicked", "ERROR"] {
        assert!(
            !stderr.contains(bad),
            "{bad} on the server's stderr:\n{stderr}"
        );
    }

    println!(
        "load: {CLIENTS} clients against {NODES} nodes: {} requests, {} bytes in {:.2} s \
         (ready after {:.2} s); slowest first byte of a live stream {:.1} ms; whole test \
         {:.2} s",
        tally.requests.load(Ordering::Relaxed),
        tally.bytes.load(Ordering::Relaxed),
        load_time.as_secs_f64(),
        ready_after.as_secs_f64(),
        tally.max_first_byte_us.load(Ordering::Relaxed) as f64 / 1000.0,
        started.elapsed().as_secs_f64(),
    );
    for (route, (n, max)) in tally.routes.lock().expect("the routes' counts").iter() {
        println!(
            "  {route:<22} {n:>5} requests, slowest {:>8.1} ms",
            max.as_secs_f64() * 1000.0
        );
    }
}

/// What every client shares.
struct Shared {
    addr: SocketAddr,
    state_dir: PathBuf,
    /// The slow jobs, running until released.
    live: Vec<String>,
    /// The finished jobs.
    finished: Vec<String>,
    tally: Tally,
    /// Each live log as a follower read it: how (`page` or `api`), the job, the text.
    streamed: Mutex<Vec<(&'static str, String, String)>>,
}

/// Counts, and what went wrong.
#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    bytes: AtomicU64,
    /// By route (job ids as `<id>`): requests that are not live streams, and the
    /// slowest one.
    routes: Mutex<BTreeMap<String, (u64, Duration)>>,
    /// The slowest first byte of a live stream.
    max_first_byte_us: AtomicU64,
    /// Followers that have seen their job running.
    live_seen: AtomicUsize,
    /// Requests of the general clients done.
    general_done: AtomicUsize,
    /// Clients finished.
    clients_done: AtomicUsize,
    errors: Mutex<Vec<String>>,
}

impl Tally {
    fn error(&self, e: String) {
        self.errors.lock().expect("the error list").push(e);
    }

    fn describe(&self) -> String {
        format!(
            "requests {}, bytes {}, followers that saw their job live {}/{}, general \
             requests done {}/{}, clients done {}/{CLIENTS}",
            self.requests.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
            self.live_seen.load(Ordering::Relaxed),
            CLIENTS / 2,
            self.general_done.load(Ordering::Relaxed),
            CLIENTS / 2 * REQUESTS,
            self.clients_done.load(Ordering::Relaxed),
        )
    }
}

fn stat(state: &Value, name: &str) -> usize {
    state["stats"][name].as_u64().unwrap_or(0) as usize
}

/// Poll `/api/state` until `done` holds; its last answer.
async fn wait_state(addr: SocketAddr, server: &mut Server, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let last = match get(addr, "/api/state", |_| {}).await {
            Ok(r) if r.status == 200 => match serde_json::from_slice::<Value>(&r.body) {
                Ok(state) if done(&state) => return state,
                Ok(state) => state.to_string(),
                Err(e) => format!("not JSON ({e}): {}", r.text()),
            },
            Ok(r) => format!("status {}: {}", r.status, r.text()),
            Err(e) => e,
        };
        if server.try_wait().is_some() || Instant::now() > deadline {
            panic!(
                "/api/state never showed the state waited for within {START_TIMEOUT:?}; the \
                 last answer: {last}\nserver:\n{}",
                server.describe()
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Start every client; release the slow jobs once every follower has seen its job running
/// and the general clients are halfway; wait for every client.
async fn run_load(shared: Arc<Shared>, server: &mut Server) -> Result<(), String> {
    let mut clients = Vec::with_capacity(CLIENTS);
    for c in 0..CLIENTS {
        let shared = shared.clone();
        clients.push(tokio::spawn(async move {
            match c % 4 {
                0 => page_follower(&shared, c).await,
                1 => api_follower(&shared, c).await,
                _ => general(&shared, c).await,
            }
            shared.tally.clients_done.fetch_add(1, Ordering::Relaxed);
        }));
    }
    let deadline = Instant::now() + LOAD_TIMEOUT;
    let tally = &shared.tally;
    loop {
        let seen = tally.live_seen.load(Ordering::Relaxed);
        let general = tally.general_done.load(Ordering::Relaxed);
        if seen == CLIENTS / 2 && general >= CLIENTS / 2 * REQUESTS / 2 {
            break;
        }
        if Instant::now() > deadline {
            server.release();
            return Err(format!(
                "the followers did not all see their job running, or the general clients \
                 were not halfway, within {LOAD_TIMEOUT:?}: {}",
                tally.describe()
            ));
        }
        tokio::time::sleep(POLL).await;
    }
    server.release();
    for (c, client) in clients.into_iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, client).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tally.error(format!("client {c} panicked: {e}")),
            Err(_) => {
                return Err(format!(
                    "client {c} (and maybe others) not done within {LOAD_TIMEOUT:?}: {}",
                    tally.describe()
                ))
            }
        }
    }
    Ok(())
}

/// Where the log starts in a job's page.
const LOG_START: &[u8] = b"<pre id=\"log\">";

/// Follow the log page of a live job to its end, then read a finished job's page.
async fn page_follower(shared: &Shared, c: usize) {
    let id = &shared.live[c / 4 % SLOW];
    let path = format!("/job/{id}");
    let started = Instant::now();
    let mut seen = false;
    let reply = get(shared.addr, &path, |so_far| {
        if !seen && so_far.windows(LOG_START.len()).any(|w| w == LOG_START) {
            seen = true;
            shared.tally.live_seen.fetch_add(1, Ordering::Relaxed);
            shared
                .tally
                .max_first_byte_us
                .fetch_max(micros(started.elapsed()), Ordering::Relaxed);
        }
    })
    .await;
    let checked = reply.and_then(|r| {
        count(shared, &r, None);
        expect_html(&r)?;
        let body = r.text();
        let cancel = format!("action=\"/job/{id}/cancel\"");
        if !body.contains(&cancel) {
            return Err("no Cancel button: the job was not running".into());
        }
        html_log_text(&body)
    });
    match checked {
        Ok(text) => {
            shared
                .streamed
                .lock()
                .expect("the streamed logs")
                .push(("page", id.clone(), text))
        }
        Err(e) => {
            if !seen {
                // Let the release go on: the error fails the test anyway.
                shared.tally.live_seen.fetch_add(1, Ordering::Relaxed);
            }
            shared.tally.error(format!("client {c}: GET {path}: {e}"));
        }
    }
    let id = &shared.finished[c % shared.finished.len()];
    if let Err(e) = finished_page(shared, id).await {
        shared
            .tally
            .error(format!("client {c}: GET /job/{id}: {e}"));
    }
}

/// Follow the log of a live job through the API to its end, then read a finished job's.
async fn api_follower(shared: &Shared, c: usize) {
    let id = &shared.live[c / 4 % SLOW];
    let mut seen = false;
    let followed = follow_api_log(shared, id, |first_complete| {
        seen = true;
        shared.tally.live_seen.fetch_add(1, Ordering::Relaxed);
        if first_complete {
            Err("the first answer says the log is complete: the job was not running".into())
        } else {
            Ok(())
        }
    })
    .await;
    match followed {
        Ok(text) => {
            shared
                .streamed
                .lock()
                .expect("the streamed logs")
                .push(("api", id.clone(), text))
        }
        Err(e) => {
            if !seen {
                shared.tally.live_seen.fetch_add(1, Ordering::Relaxed);
            }
            shared
                .tally
                .error(format!("client {c}: following /api/job/{id}/log: {e}"));
        }
    }
    let id = &shared.finished[(c * 7) % shared.finished.len()];
    if let Err(e) = finished_api_log(shared, id).await {
        shared
            .tally
            .error(format!("client {c}: following /api/job/{id}/log: {e}"));
    }
}

/// Make [`REQUESTS`] requests in turn over the routes (starting at a route that depends
/// on `c`).
async fn general(shared: &Shared, c: usize) {
    if c % SVG_EVERY == 2 {
        if let Err(e) = svg(shared).await {
            shared
                .tally
                .error(format!("client {c}: GET /pipeline.svg: {e}"));
        }
    }
    for j in 0..REQUESTS {
        let live = &shared.live[(c + j) % SLOW];
        let finished = &shared.finished[(c * REQUESTS + j) % shared.finished.len()];
        let (what, done) = match (c + j) % 9 {
            0 => ("GET /".to_string(), index(shared).await),
            1 => ("GET /jobs".to_string(), jobs_page(shared).await),
            2 => ("GET /api/state".to_string(), api_state(shared).await),
            3 => ("GET /api/jobs".to_string(), api_jobs(shared).await),
            4 => (
                format!("GET /api/job/{live}"),
                api_job(shared, live, None).await,
            ),
            5 => (
                format!("GET /api/job/{finished}"),
                api_job(shared, finished, Some(false)).await,
            ),
            6 => ("GET /metrics".to_string(), metrics(shared).await),
            7 => (
                format!("GET /job/{finished}"),
                finished_page(shared, finished).await,
            ),
            _ => (
                format!("following /api/job/{finished}/log"),
                finished_api_log(shared, finished).await,
            ),
        };
        if let Err(e) = done {
            shared.tally.error(format!("client {c}: {what}: {e}"));
        }
        shared.tally.general_done.fetch_add(1, Ordering::Relaxed);
    }
}

/// GET `path`, timed and counted: the reply if its status is 200.
async fn get_ok(shared: &Shared, path: &str) -> Result<Reply, String> {
    let started = Instant::now();
    let reply = get(shared.addr, path, |_| {}).await?;
    count(shared, &reply, Some((path, started.elapsed())));
    if reply.status != 200 {
        return Err(format!("status {}: {}", reply.status, reply.text()));
    }
    Ok(reply)
}

/// Count a reply, and the time its request took (a request that is not a live stream).
fn count(shared: &Shared, reply: &Reply, latency: Option<(&str, Duration)>) {
    let tally = &shared.tally;
    tally.requests.fetch_add(1, Ordering::Relaxed);
    tally
        .bytes
        .fetch_add(reply.body.len() as u64, Ordering::Relaxed);
    if let Some((path, latency)) = latency {
        let mut routes = tally.routes.lock().expect("the routes' counts");
        let (n, max) = routes.entry(route(path)).or_default();
        *n += 1;
        *max = (*max).max(latency);
    }
}

/// `path` without its job id and query.
fn route(path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    for prefix in ["/api/job/", "/job/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            // A job id is `date/name`; what follows is an action or `log`.
            let after: Vec<&str> = rest.splitn(3, '/').collect();
            return match after.get(2) {
                Some(tail) => format!("{prefix}<id>/{tail}"),
                None => format!("{prefix}<id>"),
            };
        }
    }
    path.to_string()
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn json(reply: &Reply) -> Result<Value, String> {
    if reply.header("content-type") != Some("application/json") {
        return Err(format!(
            "content type {:?}, not JSON",
            reply.header("content-type")
        ));
    }
    serde_json::from_slice(&reply.body).map_err(|e| format!("not JSON ({e}): {}", reply.text()))
}

fn expect_html(reply: &Reply) -> Result<(), String> {
    if reply.status != 200 {
        return Err(format!("status {}: {}", reply.status, reply.text()));
    }
    match reply.header("content-type") {
        Some("text/html; charset=utf-8") => Ok(()),
        other => Err(format!("content type {other:?}, not HTML")),
    }
}

fn expect(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

async fn index(shared: &Shared) -> Result<(), String> {
    let r = get_ok(shared, "/").await?;
    expect_html(&r)?;
    let body = r.text();
    // `<p id="stats">{ok} ok, {running} running, 0 ready, ...`: all steps, none failed.
    let stats = body
        .split_once("<p id=\"stats\">")
        .and_then(|(_, rest)| rest.split_once("</p>"))
        .map(|(stats, _)| stats);
    let counts = stats.and_then(|s| {
        let (ok, rest) = s.split_once(" ok, ")?;
        let (running, rest) = rest.split_once(" running, ")?;
        Some((
            ok.parse::<usize>().ok()?,
            running.parse::<usize>().ok()?,
            rest,
        ))
    });
    expect(
        body.contains("<p id=\"result\">Result: ")
            && body.contains("data=\"/pipeline.svg?\"")
            && counts.is_some_and(|(ok, running, rest)| {
                ok + running == NODES
                    && ok >= NODES - SLOW
                    && rest == "0 ready, 0 waiting for confirmation, 0 failed, 0 blocked"
            }),
        || format!("not the pipeline's page of {NODES} steps, none failed: {stats:?}"),
    )
}

async fn svg(shared: &Shared) -> Result<(), String> {
    let r = get_ok(shared, "/pipeline.svg").await?;
    expect(r.header("content-type") == Some("image/svg+xml"), || {
        format!("content type {:?}", r.header("content-type"))
    })?;
    let body = r.text();
    // Every step's box links to its job.
    let links = body.matches("xlink:href=\"/job/").count();
    expect(
        body.contains("<svg") && body.trim_end().ends_with("</svg>") && links >= NODES,
        || format!("not the diagram of {NODES} steps ({links} links to jobs)"),
    )
}

async fn jobs_page(shared: &Shared) -> Result<(), String> {
    let r = get_ok(shared, "/jobs").await?;
    expect_html(&r)?;
    let body = r.text();
    let rows = body.matches("<tr><td><a href=\"/job/").count();
    expect(body.contains("<h1>Jobs</h1>") && rows <= SLOW, || {
        format!("not the page of at most {SLOW} jobs: {body}")
    })
}

async fn api_state(shared: &Shared) -> Result<(), String> {
    let r = get_ok(shared, "/api/state").await?;
    let s = json(&r)?;
    let total: usize = [
        "ok",
        "running",
        "ready",
        "waiting_for_confirmation",
        "failed",
        "blocked",
    ]
    .iter()
    .map(|k| stat(&s, k))
    .sum();
    let jobs = s["jobs"].as_array().map_or(0, Vec::len);
    expect(
        total == NODES
            && stat(&s, "ok") >= NODES - SLOW
            && stat(&s, "failed") == 0
            && jobs == NODES,
        || format!("not {NODES} steps and jobs, none failed: {s}"),
    )
}

async fn api_jobs(shared: &Shared) -> Result<(), String> {
    let r = get_ok(shared, "/api/jobs").await?;
    let jobs = json(&r)?;
    let list = jobs
        .as_array()
        .ok_or_else(|| format!("not a list: {jobs}"))?;
    let only_live = list.iter().all(|j| {
        j["id"]
            .as_str()
            .is_some_and(|id| shared.live.iter().any(|l| l == id))
            && matches!(j["phase"].as_str(), Some("running" | "complete"))
    });
    expect(list.len() <= SLOW && only_live, || {
        format!("not some of the slow jobs: {jobs}")
    })
}

/// `running`: what the job's status must say, if known.
async fn api_job(shared: &Shared, id: &str, running: Option<bool>) -> Result<(), String> {
    let r = get_ok(shared, &format!("/api/job/{id}")).await?;
    let j = json(&r)?;
    expect(
        j["id"] == id
            && j["description"]
                .as_str()
                .is_some_and(|d| d.starts_with("item "))
            && j["waiting_for_confirmation"] == false
            && j["running"].is_boolean()
            && running.is_none_or(|r| j["running"] == r && j["can_cancel"] == r),
        || format!("not the status of {id} (running: {running:?}): {j}"),
    )
}

async fn metrics(shared: &Shared) -> Result<(), String> {
    let r = get_ok(shared, "/metrics").await?;
    let body = r.text();
    let evaluations = body
        .lines()
        .find_map(|l| l.strip_prefix("current_core_evaluation_time_seconds_count "))
        .and_then(|n| n.parse::<u64>().ok());
    expect(
        evaluations.is_some_and(|n| n > 0)
            && body.contains("current_core_pipeline_stage_total{state=\"failed\"} 0\n"),
        || format!("not the metrics of a working pipeline: {body}"),
    )
}

/// The page of a finished job: its whole log, as on disk.
async fn finished_page(shared: &Shared, id: &str) -> Result<(), String> {
    let r = get_ok(shared, &format!("/job/{id}")).await?;
    expect_html(&r)?;
    let body = r.text();
    if body.contains(&format!("action=\"/job/{id}/cancel\"")) {
        return Err("a Cancel button on a finished job".into());
    }
    let text = html_log_text(&body)?;
    let on_disk = read_log(&shared.state_dir, id);
    expect(text == on_disk, || {
        format!("the page shows {text:?}, the log on disk is {on_disk:?}")
    })
}

/// The log of a finished job through the API: whole, as on disk.
async fn finished_api_log(shared: &Shared, id: &str) -> Result<(), String> {
    let text = follow_api_log(shared, id, |_| Ok(())).await?;
    let on_disk = read_log(&shared.state_dir, id);
    expect(text == on_disk, || {
        format!("the API gave {text:?}, the log on disk is {on_disk:?}")
    })
}

/// Read `/api/job/<id>/log?start=N` from 0 until it says complete, asking again after
/// [`FOLLOW_POLL`] when the log has not grown; the whole log. `first` sees whether the
/// first answer said complete.
async fn follow_api_log(
    shared: &Shared,
    id: &str,
    mut first: impl FnMut(bool) -> Result<(), String>,
) -> Result<String, String> {
    let mut start = 0usize;
    let mut text = String::new();
    let mut is_first = true;
    loop {
        let r = get_ok(shared, &format!("/api/job/{id}/log?start={start}")).await?;
        let page = json(&r)?;
        let (Some(data), Some(next), Some(complete)) = (
            page["data"].as_str(),
            page["next"].as_u64(),
            page["complete"].as_bool(),
        ) else {
            return Err(format!("not a piece of log: {page}"));
        };
        if is_first {
            is_first = false;
            first(complete)?;
        }
        if next as usize != start + data.len() {
            return Err(format!("from {start}, {} bytes, next {next}", data.len()));
        }
        text.push_str(data);
        start = next as usize;
        if complete {
            return Ok(text);
        }
        if data.is_empty() {
            tokio::time::sleep(FOLLOW_POLL).await;
        }
    }
}

/// The text of the log in a job's page: between `<pre id="log">` and the end marker,
/// without the line anchors (checked to number the lines from 1), unescaped.
fn html_log_text(page: &str) -> Result<String, String> {
    const END: &str = "<a id=\"end\"></a></pre></main></body></html>\n";
    let start =
        page.find("<pre id=\"log\">").ok_or("no <pre id=\"log\">")? + "<pre id=\"log\">".len();
    if !page.ends_with(END) {
        let tail = &page[page.len().saturating_sub(200)..];
        return Err(format!(
            "the page does not end with the log's end: ...{tail:?}"
        ));
    }
    let mut log = &page[start..page.len() - END.len()];
    let mut text = String::new();
    let mut line = 0;
    while !log.is_empty() {
        line += 1;
        let anchor = format!("<a id=\"L{line}\" href=\"#L{line}\"></a>");
        log = log
            .strip_prefix(&anchor)
            .ok_or_else(|| format!("line {line} does not start with {anchor}: {log:?}"))?;
        let end = log.find('\n').map_or(log.len(), |i| i + 1);
        text.push_str(&log[..end]);
        log = &log[end..];
    }
    Ok(text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&"))
}

fn read_log(state_dir: &Path, id: &str) -> String {
    let path = state_dir.join("job").join(format!("{id}.log"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the log {}: {e}", path.display()))
}

/// A slow job's log: `New job: item <i>`, `waiting <n>` lines, `line <k> of 10` for k in
/// 1..=10, `done <i>`, `Job succeeded`, each after a time stamp.
fn check_slow_log(id: &str, text: &str) {
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.split_once(": ").map_or(l, |(_stamp, rest)| rest))
        .collect();
    let item = lines
        .first()
        .and_then(|l| l.strip_prefix("New job: item "))
        .unwrap_or_else(|| panic!("{id}: no first line `New job: item <i>`:\n{text}"));
    let waiting = lines.iter().filter(|l| l.starts_with("waiting ")).count();
    let mut expected = vec![format!("New job: item {item}")];
    expected.extend((1..=waiting).map(|n| format!("waiting {n}")));
    expected.extend((1..=LINES).map(|k| format!("line {k} of {LINES}")));
    expected.push(format!("done {item}"));
    expected.push("Job succeeded".into());
    assert_eq!(lines, expected, "{id}: the log of a slow job:\n{text}");
    assert!(waiting > 0, "{id}: never held:\n{text}");
}

/// A response: status, headers (names lower-case), body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// GET `path` over a new connection and read the response to its end; `progress` sees
/// the body received so far after each piece of it.
async fn get(
    addr: SocketAddr,
    path: &str,
    mut progress: impl FnMut(&[u8]),
) -> Result<Reply, String> {
    let stream = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| format!("no connection within {IO_TIMEOUT:?}"))?
        .map_err(|e| format!("cannot connect: {e}"))?;
    let mut conn = Conn {
        stream,
        buf: Vec::new(),
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    conn.stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("cannot send: {e}"))?;

    let head = conn.take_through(b"\r\n\r\n").await?;
    let head = String::from_utf8(head).map_err(|e| format!("a head that is not UTF-8: {e}"))?;
    let mut lines = head.trim_end().split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut reply = Reply {
        status,
        headers,
        body: Vec::new(),
    };
    if reply
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let size_line = conn.take_through(b"\r\n").await?;
            let size_text = String::from_utf8_lossy(&size_line);
            let size_text = size_text.trim_end().split(';').next().unwrap_or_default();
            let size = usize::from_str_radix(size_text.trim(), 16)
                .map_err(|e| format!("bad chunk size {size_text:?}: {e}"))?;
            if size == 0 {
                // Trailers, if any, up to an empty line.
                while conn.take_through(b"\r\n").await? != b"\r\n" {}
                break;
            }
            let chunk = conn.take(size + 2).await?;
            if !chunk.ends_with(b"\r\n") {
                return Err(format!("a chunk of {size} bytes not followed by CRLF"));
            }
            reply.body.extend_from_slice(&chunk[..size]);
            progress(&reply.body);
        }
    } else if let Some(len) = reply.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|e| format!("bad content length {len:?}: {e}"))?;
        reply.body = conn.take(len).await?;
        progress(&reply.body);
    } else {
        reply.body = conn.take_to_end().await?;
        progress(&reply.body);
    }
    Ok(reply)
}

/// A connection and what was read from it but not yet taken.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// Read more; an error at the end of the stream.
    async fn fill(&mut self) -> Result<(), String> {
        let mut piece = [0u8; 16 * 1024];
        let n = tokio::time::timeout(IO_TIMEOUT, self.stream.read(&mut piece))
            .await
            .map_err(|_| format!("nothing received for {IO_TIMEOUT:?}"))?
            .map_err(|e| format!("cannot read: {e}"))?;
        if n == 0 {
            return Err(format!(
                "the connection closed early ({} bytes unread: {:?})",
                self.buf.len(),
                String::from_utf8_lossy(&self.buf)
            ));
        }
        self.buf.extend_from_slice(&piece[..n]);
        Ok(())
    }

    /// Everything up to and including the first `end`.
    async fn take_through(&mut self, end: &[u8]) -> Result<Vec<u8>, String> {
        loop {
            if let Some(i) = self.buf.windows(end.len()).position(|w| w == end) {
                return Ok(self.buf.drain(..i + end.len()).collect());
            }
            self.fill().await?;
        }
    }

    /// The next `n` bytes.
    async fn take(&mut self, n: usize) -> Result<Vec<u8>, String> {
        while self.buf.len() < n {
            self.fill().await?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Everything until the connection closes.
    async fn take_to_end(&mut self) -> Result<Vec<u8>, String> {
        let mut rest = std::mem::take(&mut self.buf);
        tokio::time::timeout(IO_TIMEOUT, self.stream.read_to_end(&mut rest))
            .await
            .map_err(|_| format!("the body did not end within {IO_TIMEOUT:?}"))?
            .map_err(|e| format!("cannot read: {e}"))?;
        Ok(rest)
    }
}

/// A running `wide_pipeline` over a state directory of its own, killed if the test ends
/// before it does.
struct Server {
    child: Child,
    status: Option<ExitStatus>,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    stdout: Vec<String>,
    stderr: Arc<Mutex<String>>,
    dir: PathBuf,
}

impl Server {
    fn spawn() -> Server {
        let dir = std::env::temp_dir().join(format!("current-e2e-load-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut child = Command::new(env!("CARGO_BIN_EXE_wide_pipeline"))
            .args(["--state-dir".as_ref(), dir.as_os_str()])
            .args(["--port", "0", "--hold"])
            .args(["--nodes", &NODES.to_string()])
            .args(["--slow-every", &SLOW_EVERY.to_string()])
            .args(["--lines", &LINES.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start wide_pipeline");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("wide_pipeline's stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        {
            let mut pipe = child.stderr.take().expect("wide_pipeline's stderr");
            let stderr = stderr.clone();
            std::thread::spawn(move || {
                let mut buf = [0; 4096];
                while let Ok(n @ 1..) = pipe.read(&mut buf) {
                    stderr
                        .lock()
                        .expect("the server's stderr")
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        Server {
            stdin: child.stdin.take(),
            child,
            status: None,
            lines,
            stdout: Vec::new(),
            stderr,
            dir,
        }
    }

    /// The address of the web page, from the line `web: http://<addr>/ ...`.
    fn address(&mut self) -> SocketAddr {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stdout.push(line.clone());
                    if let Some(rest) = line.strip_prefix("web: http://") {
                        let addr = rest.split('/').next().unwrap_or_default();
                        return addr
                            .parse()
                            .unwrap_or_else(|e| panic!("bad address in {line:?}: {e}"));
                    }
                }
                Err(_) => {
                    let _ = self.try_wait();
                    panic!(
                        "no line `web: http://...` within {START_TIMEOUT:?}\n{}",
                        self.describe()
                    );
                }
            }
        }
    }

    /// Let the slow jobs go on.
    fn release(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            stdin
                .write_all(b"release\n")
                .and_then(|()| stdin.flush())
                .expect("cannot write `release` to wide_pipeline");
        }
    }

    fn describe(&self) -> String {
        format!(
            "exit status: {:?}\nstdout: {:?}\nstderr (the end):\n{}",
            self.status,
            self.stdout,
            tail(&self.stderr.lock().expect("the server's stderr"), 4000)
        )
    }

    fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self
                .child
                .try_wait()
                .expect("cannot wait for wide_pipeline");
        }
        self.status
    }

    fn signal(&self, signal: Signal) {
        // The child is reaped only by `try_wait`: until then its pid cannot be reused.
        if self.status.is_none() {
            let pid = Pid::from_raw(self.child.id() as i32);
            kill(pid, signal).expect("cannot signal wide_pipeline");
        }
    }

    /// Wait until the process catches SIGTERM (`run_until_signal` listens).
    fn wait_until_catching_sigterm(&mut self) {
        let bit = 1u64 << (Signal::SIGTERM as i32 - 1);
        let path = format!("/proc/{}/status", self.child.id());
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let status = std::fs::read_to_string(&path).unwrap_or_default();
            let caught = status
                .lines()
                .find_map(|l| l.strip_prefix("SigCgt:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
                .unwrap_or(0);
            if caught & bit != 0 {
                return;
            }
            if self.try_wait().is_some() || Instant::now() > deadline {
                panic!("wide_pipeline does not catch SIGTERM\n{}", self.describe());
            }
            std::thread::sleep(POLL);
        }
    }

    fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                panic!(
                    "wide_pipeline did not exit within {timeout:?}\n{}",
                    self.describe()
                );
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.try_wait().is_none() {
            let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The first `n` bytes of `s` (at a character boundary).
fn head(s: &str, n: usize) -> &str {
    let mut to = n.min(s.len());
    while !s.is_char_boundary(to) {
        to -= 1;
    }
    &s[..to]
}

/// The last `n` bytes of `s` (at a character boundary).
fn tail(s: &str, n: usize) -> &str {
    let mut from = s.len().saturating_sub(n);
    while !s.is_char_boundary(from) {
        from += 1;
    }
    &s[from..]
}
