//! Tests: crash safety. `crash_pipeline` (a binary of this package) runs a pipeline of `N`
//! cached builds over one state directory; it is killed with SIGKILL at random points, many
//! times, then run to completion, and the test checks the durability rules:
//!
//! - a build the pipeline *reported finished* is never built again: every `done <key>`
//!   line the binary printed (it prints one from a `Term::map` over the build's output,
//!   which the cache shows only once its record is durable) is a promise, and the
//!   builder's own log of runs (`built <key> <pid>` lines in `built.txt`) must show no
//!   build of that key by a later process, nor a second one by the same process;
//! - nothing finished is lost: the final run reports every key done, with its value;
//! - the database opens every time: no run ever fails (only SIGKILL ends one early);
//! - no job is left running for ever: the final run completes with no job open, and the
//!   store holds exactly one record per key, `Ok`, with the right value, started and
//!   finished, whose job log ends with `Job succeeded`.
//!
//! The builds of the killed runs share a pool of two slots, so that results keep coming in
//! over a while and a kill often falls while some are running or being recorded (with
//! every build at once they all finish in one burst). A second test runs every build at
//! once, to the end and once more: the burst of results is recorded together (group
//! commit), every one is reported, and the restart builds nothing.
//!
//! Randomness: the seed is printed at the start (and in every failure); set `CRASH_SEED`
//! to choose the same kill points again (what a process has done by then still depends on
//! timing). The state directory is kept if the test fails.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use current::cache::db::{CacheDb, Outcome};
use current::job::JobId;
use current::store::Store;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Builds in the pipeline.
const N: u64 = 500;
/// Runs killed before the final one.
const KILLS: usize = 40;
/// The builder's id (`crash_pipeline`'s `Trivial::ID`).
const OP: &str = "crash-trivial";
/// How long one killed run may take to reach its kill point.
const RUN_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the final run may take.
const FINAL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a run with every build at once may take (it takes well under a second).
const BURST_TIMEOUT: Duration = Duration::from_secs(20);

/// What the build of `key` makes (`crash_pipeline`'s `value_of`).
fn value_of(key: u64) -> u64 {
    key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20
}

/// splitmix64: a small, seedable generator, so that a seed gives the same kill points.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// The seed: `CRASH_SEED`, or one from the clock.
fn seed() -> u64 {
    match std::env::var("CRASH_SEED") {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("CRASH_SEED={s:?}: {e}")),
        Err(_) => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            nanos ^ (u64::from(std::process::id()) << 32)
        }
    }
}

/// Where a run was killed.
#[derive(Clone, Copy, Debug)]
enum KillAt {
    /// After this many `done` lines.
    Lines(usize),
    /// After this many `done` lines of keys that no earlier run built: keys built by
    /// this run (no earlier one could have recorded them).
    New(usize),
    /// This long after the spawn, whatever it was doing (opening the store, say).
    Delay(Duration),
    /// Not killed: the final run.
    Never,
}

/// What one run of `crash_pipeline` did.
struct Run {
    pid: u32,
    kill_at: KillAt,
    status: Option<ExitStatus>,
    /// Every line of stdout, in order.
    stdout: Vec<String>,
    stderr: Arc<Mutex<String>>,
}

impl Run {
    /// The keys the run reported done, with their values, in order.
    fn done(&self) -> Vec<(u64, u64)> {
        self.stdout
            .iter()
            .filter_map(|l| {
                let mut w = l.strip_prefix("done ")?.split(' ');
                let key = w.next()?.parse().ok()?;
                let value = w.next()?.parse().ok()?;
                Some((key, value))
            })
            .collect()
    }

    fn said(&self, line: &str) -> bool {
        self.stdout.iter().any(|l| l == line)
    }

    fn summary(&self) -> String {
        let stderr = self.stderr.lock().unwrap();
        format!(
            "pid {}, kill point {:?}: status {:?}, {} done lines, store opened: {}, all done: {}{}",
            self.pid,
            self.kill_at,
            self.status,
            self.done().len(),
            self.said("store opened"),
            self.said("all done"),
            if stderr.is_empty() {
                String::new()
            } else {
                format!("\n    stderr: {}", stderr.trim_end())
            },
        )
    }
}

/// The test's state: the seed, the state directory and every run so far, to print when a
/// check fails.
struct Crash {
    seed: u64,
    dir: PathBuf,
    /// Arguments after `STATE_DIR N`.
    args: Vec<String>,
    /// How long a run that is not killed may take.
    final_timeout: Duration,
    runs: Vec<Run>,
    passed: bool,
}

impl Crash {
    fn describe(&self) -> String {
        let mut s = format!(
            "seed {} (CRASH_SEED={} repeats it), N = {N}, arguments {:?}, state directory {} \
             (kept)\n",
            self.seed,
            self.seed,
            self.args,
            self.dir.display()
        );
        let builds = self.builds_lenient();
        for (i, run) in self.runs.iter().enumerate() {
            let built = builds
                .values()
                .map(|pids| pids.iter().filter(|&&p| p == run.pid).count())
                .sum::<usize>();
            let _ = writeln!(s, "  run {i}: {}, {built} builds", run.summary());
        }
        if let Some(last) = self.runs.last() {
            let tail: Vec<&String> = last.stdout.iter().rev().take(5).collect();
            let _ = writeln!(s, "  last run's last lines: {tail:?}");
        }
        s
    }

    /// Run `crash_pipeline` until `kill_at`, or to its end; the run is added to `runs`.
    fn run(&mut self, kill_at: KillAt) {
        let built_before = self.builds_lenient();
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash_pipeline"))
            .arg(&self.dir)
            .arg(N.to_string())
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start crash_pipeline");
        let lines = read_lines(&mut child);
        let stderr = Arc::new(Mutex::new(String::new()));
        {
            let (mut pipe, stderr) = (child.stderr.take().unwrap(), stderr.clone());
            std::thread::spawn(move || {
                let mut buf = [0; 4096];
                while let Ok(n @ 1..) = pipe.read(&mut buf) {
                    stderr
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        self.runs.push(Run {
            pid: child.id(),
            kill_at,
            status: None,
            stdout: Vec::new(),
            stderr,
        });
        let started = Instant::now();
        let timeout = match kill_at {
            KillAt::Never => self.final_timeout,
            _ => RUN_TIMEOUT,
        };
        let deadline = started + timeout;
        let (mut done_lines, mut new_lines) = (0, 0);
        // Read lines until the kill point, the end of stdout (the process exited) or the
        // deadline.
        let reached = loop {
            let now = Instant::now();
            let wait_until = match kill_at {
                KillAt::Delay(d) => (started + d).min(deadline),
                _ => deadline,
            };
            if now >= wait_until {
                break matches!(kill_at, KillAt::Delay(_)) && now < deadline;
            }
            match lines.recv_timeout(wait_until - now) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("done ") {
                        done_lines += 1;
                        let key = rest.split(' ').next().and_then(|k| k.parse().ok());
                        if key.is_some_and(|k| !built_before.contains_key(&k)) {
                            new_lines += 1;
                        }
                    }
                    self.runs.last_mut().unwrap().stdout.push(line);
                    let kill_now = match kill_at {
                        KillAt::Lines(n) => done_lines >= n,
                        KillAt::New(n) => new_lines >= n,
                        KillAt::Delay(_) | KillAt::Never => false,
                    };
                    if kill_now {
                        break true;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                // The process closed its stdout: it has exited.
                Err(mpsc::RecvTimeoutError::Disconnected) => break true,
            }
        };
        if !matches!(kill_at, KillAt::Never) {
            // On a zombie this is harmless; the child is reaped only below.
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
        }
        let status = if reached || !matches!(kill_at, KillAt::Never) {
            child.wait().expect("cannot wait for crash_pipeline")
        } else {
            // The final run did not finish in time: kill it to show what it did.
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            child.wait().expect("cannot wait for crash_pipeline")
        };
        // What the process printed before it died was shown too: read it to the end.
        let run = self.runs.last_mut().unwrap();
        while let Ok(line) = lines.recv_timeout(Duration::from_secs(5)) {
            run.stdout.push(line);
        }
        run.status = Some(status);
        // Let the stderr reader finish.
        std::thread::sleep(Duration::from_millis(5));
        if !reached {
            let what = match kill_at {
                KillAt::Never => "finish".to_string(),
                _ => format!("reach its kill point {kill_at:?}"),
            };
            panic!(
                "run {} did not {what} within {timeout:?} (it was killed then)\n{}",
                self.runs.len() - 1,
                self.describe()
            );
        }
    }

    /// The keys reported done by the runs so far.
    fn reported(&self) -> BTreeSet<u64> {
        self.runs
            .iter()
            .flat_map(|r| r.done().into_iter().map(|(k, _)| k))
            .collect()
    }

    /// The builds `built.txt` lists: the pids that built each key, in order.
    fn builds(&self) -> BTreeMap<u64, Vec<u32>> {
        match read_builds(&self.dir) {
            Ok(builds) => builds,
            Err(line) => panic!("bad line in built.txt: {line:?}\n{}", self.describe()),
        }
    }

    /// [`builds`](Crash::builds), skipping bad lines (for [`describe`](Crash::describe)).
    fn builds_lenient(&self) -> BTreeMap<u64, Vec<u32>> {
        read_builds(&self.dir).unwrap_or_default()
    }

    /// The checks that hold after every run.
    fn check(&self) {
        let last = self.runs.last().unwrap();
        let i = self.runs.len() - 1;
        let fail = |what: String| -> ! { panic!("run {i}: {what}\n{}", self.describe()) };

        // Only SIGKILL ends a run early; a run that ended by itself succeeded.
        let status = last.status.unwrap();
        let killed = std::os::unix::process::ExitStatusExt::signal(&status) == Some(9);
        if !killed && !status.success() {
            fail(format!("crash_pipeline failed ({status})"));
        }
        if last.stderr.lock().unwrap().contains("crash_pipeline:") {
            fail("crash_pipeline reported an error".into());
        }
        // A run that reported anything had opened its store.
        if !last.done().is_empty() && !last.said("store opened") {
            fail("done lines before `store opened`".into());
        }
        for (key, value) in last.done() {
            if key >= N || value != value_of(key) {
                fail(format!("reported done {key} {value}: wrong key or value"));
            }
        }

        // No key reported done is built again, by a later run or by the same one.
        let pid_run: BTreeMap<u32, usize> = self
            .runs
            .iter()
            .enumerate()
            .map(|(i, r)| (r.pid, i))
            .collect();
        let mut first_done: BTreeMap<u64, usize> = BTreeMap::new();
        for (i, run) in self.runs.iter().enumerate() {
            for (key, _) in run.done() {
                first_done.entry(key).or_insert(i);
            }
        }
        for (key, pids) in self.builds() {
            let runs: Vec<usize> = pids
                .iter()
                .map(|pid| {
                    *pid_run.get(pid).unwrap_or_else(|| {
                        fail(format!("built.txt names pid {pid}, not one of our runs"))
                    })
                })
                .collect();
            let unique: BTreeSet<usize> = runs.iter().copied().collect();
            if unique.len() != runs.len() {
                fail(format!("key {key} built twice by one run (runs {runs:?})"));
            }
            if let Some(&reported) = first_done.get(&key) {
                if let Some(&later) = runs.iter().find(|&&r| r > reported) {
                    fail(format!(
                        "key {key} was reported done by run {reported} and built again by run \
                         {later} (it was built by runs {runs:?})"
                    ));
                }
            }
        }
        // A key reported done was built by some run up to then (or it is a cache hit of
        // a build whose process died before reporting it).
        for (&key, &reported) in &first_done {
            let built_before = self
                .builds()
                .get(&key)
                .is_some_and(|pids| pids.iter().any(|p| pid_run[p] <= reported));
            if !built_before {
                fail(format!(
                    "key {key} reported done by run {reported} was never built"
                ));
            }
        }
    }

    /// The records in the store after the final run.
    fn check_store(&self) {
        let fail = |what: String| -> ! { panic!("store: {what}\n{}", self.describe()) };
        let store = Store::open(&self.dir)
            .unwrap_or_else(|e| fail(format!("the store does not open: {e}")));
        let db = CacheDb::open(&store).unwrap_or_else(|e| fail(format!("{e}")));
        for key in 0..N {
            let digest = current::digest::key_digest(OP, 1, &key).unwrap();
            let history = db
                .history(OP, &digest, 10)
                .unwrap_or_else(|e| fail(format!("history of key {key}: {e}")));
            let [record] = history.as_slice() else {
                fail(format!(
                    "key {key} has {} records, not one: {history:?}",
                    history.len()
                ));
            };
            let Outcome::Ok(bytes) = &record.outcome else {
                fail(format!("key {key}: not Ok: {record:?}"));
            };
            if decode_varint(bytes) != Some(value_of(key)) || record.rebuild {
                fail(format!("key {key}: wrong value or flagged: {record:?}"));
            }
            let finished_after_start = record
                .running
                .is_some_and(|r| r >= record.ready && r <= record.finished);
            if !finished_after_start {
                fail(format!("key {key}: times out of order: {record:?}"));
            }
            let job: JobId = record
                .job_id
                .parse()
                .unwrap_or_else(|e| fail(format!("key {key}: job id: {e}")));
            let log = std::fs::read_to_string(job.log_path(&self.dir))
                .unwrap_or_else(|e| fail(format!("key {key}: the job log: {e}")));
            if !log.trim_end().ends_with(": Job succeeded") {
                fail(format!("key {key}: the job log does not end well:\n{log}"));
            }
        }
        let all = db
            .query(&current::cache::db::Query {
                op: Some(OP.into()),
                limit: 10 * N as usize,
                ..Default::default()
            })
            .unwrap_or_else(|e| fail(format!("query: {e}")));
        if all.len() != N as usize {
            fail(format!("the query finds {} records, not {N}", all.len()));
        }
    }
}

impl Drop for Crash {
    fn drop(&mut self) {
        if self.passed {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The `built <key> <pid>` lines of `built.txt`: the pids that built each key, in order;
/// or the first line that is not one.
fn read_builds(dir: &std::path::Path) -> Result<BTreeMap<u64, Vec<u32>>, String> {
    let text = std::fs::read_to_string(dir.join("built.txt")).unwrap_or_default();
    let mut builds: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
    for line in text.lines() {
        let parsed = line.strip_prefix("built ").and_then(|rest| {
            let mut w = rest.split(' ');
            Some((w.next()?.parse().ok()?, w.next()?.parse().ok()?))
        });
        let Some((key, pid)) = parsed else {
            return Err(line.to_string());
        };
        builds.entry(key).or_default().push(pid);
    }
    Ok(builds)
}

/// The lines of the child's stdout, as they come; the channel closes at its end.
fn read_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    lines
}

/// A `u64` as postcard encodes it (LEB128), the whole of `bytes`.
fn decode_varint(bytes: &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (i, b) in bytes.iter().enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return (i + 1 == bytes.len()).then_some(value);
        }
    }
    None
}

fn state_dir(name: &str, seed: u64) -> PathBuf {
    std::env::temp_dir().join(format!(
        "current-e2e-crash-{name}-{}-{seed:x}",
        std::process::id()
    ))
}

impl Crash {
    fn new(name: &str, args: &[&str], final_timeout: Duration) -> Crash {
        let seed = seed();
        eprintln!("crash test {name}: seed {seed} (set CRASH_SEED={seed} to repeat)");
        let dir = state_dir(name, seed);
        let _ = std::fs::remove_dir_all(&dir);
        Crash {
            seed,
            dir,
            args: args.iter().map(|a| a.to_string()).collect(),
            final_timeout,
            runs: Vec::new(),
            passed: false,
        }
    }

    /// Run to the end: every key reported done, no job left open, exit 0; then check the
    /// store.
    fn finish(&mut self) {
        self.run(KillAt::Never);
        self.check();
        let last = self.runs.last().unwrap();
        let done: BTreeSet<u64> = last.done().into_iter().map(|(k, _)| k).collect();
        assert!(
            done.len() == N as usize && last.said("all done") && last.said("jobs open: 0"),
            "the final run did not finish every build ({} done)\n{}",
            done.len(),
            self.describe()
        );
        assert_eq!(
            last.status.and_then(|s| s.code()),
            Some(0),
            "{}",
            self.describe()
        );
        self.check_store();
    }
}

#[test]
fn killed_runs_never_lose_or_redo_a_reported_build() {
    let mut crash = Crash::new("kill", &[], FINAL_TIMEOUT);
    let seed = crash.seed;
    let mut rng = Rng(seed);
    let began = Instant::now();

    for _ in 0..KILLS {
        let known = crash.reported().len() as u64;
        let unbuilt = N - crash.builds().len() as u64;
        // A run reports the keys already built (cache hits) and builds the others. One
        // run in four is killed at a random moment (starting, opening the store, loading
        // the records, building: the store opens some 60 ms after the spawn); one in
        // eight after a random number of `done` lines, most of them cache hits; the
        // others after a few `done` lines of keys this run built, right after new
        // results were shown, with other builds running or being recorded: when a result
        // shown before its record is durable would be lost.
        let kill_at = match rng.range(0, 7) {
            0 | 1 => KillAt::Delay(Duration::from_micros(rng.range(0, 150_000))),
            2 if known > 0 => KillAt::Lines(rng.range(1, known) as usize),
            _ if unbuilt > 0 => KillAt::New(rng.range(1, unbuilt.min(N / 32)) as usize),
            _ => KillAt::Lines(rng.range(1, N) as usize),
        };
        crash.run(kill_at);
        crash.check();
    }
    crash.finish();

    let builds: usize = crash.builds().values().map(Vec::len).sum();
    // Runs killed with a build of theirs not reported yet (running, or finished and
    // being recorded).
    let cut_short = crash.runs[..KILLS]
        .iter()
        .filter(|run| {
            let reported: BTreeSet<u64> = run.done().into_iter().map(|(k, _)| k).collect();
            crash
                .builds()
                .iter()
                .any(|(key, pids)| pids.contains(&run.pid) && !reported.contains(key))
        })
        .count();
    let reported_early: BTreeSet<u64> = crash.runs[..KILLS]
        .iter()
        .flat_map(|r| r.done().into_iter().map(|(k, _)| k))
        .collect();
    eprintln!(
        "crash test: seed {seed}: {} runs in {:.1} s; {cut_short} of {KILLS} killed with builds \
         unreported; {} of {N} keys reported done before the final run; {builds} builds ({} \
         redone after a kill before being reported)",
        crash.runs.len(),
        began.elapsed().as_secs_f64(),
        reported_early.len(),
        builds - N as usize,
    );
    crash.passed = true;
}

/// Every build at once (no pool): the results finish together and are recorded together
/// (group commit); all are reported, and a restart reports them all again without
/// building anything.
#[test]
fn builds_finishing_together_are_all_reported_and_kept() {
    let mut crash = Crash::new("burst", &["--slots", "0"], BURST_TIMEOUT);
    crash.finish();
    crash.finish();
    let restart = crash.runs.last().unwrap();
    let rebuilt = crash
        .builds()
        .values()
        .filter(|pids| pids.contains(&restart.pid))
        .count();
    assert_eq!(rebuilt, 0, "the restart built again\n{}", crash.describe());
    crash.passed = true;
}

#[test]
fn the_varint_decoder_reads_postcard_u64s() {
    assert_eq!(decode_varint(&[0]), Some(0));
    assert_eq!(decode_varint(&[0x7f]), Some(127));
    assert_eq!(decode_varint(&[0x80, 0x01]), Some(128));
    assert_eq!(decode_varint(&[0x80]), None);
    assert_eq!(decode_varint(&[1, 2]), None);
}
