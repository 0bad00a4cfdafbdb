//! Long-running jobs outliving their engine: `long_pipeline` (a binary of this package)
//! is killed with SIGKILL, or aborts between submitting a job and recording it, and a new
//! `long_pipeline` over the same state directory finishes the pipeline with the same
//! job, submitted once; with the `local` backend and with a real Slurm cluster.
//!
//! Slurm tests have `slurm` in their names. Outside CI they skip, saying why, when
//! `sbatch` is not on the PATH; in CI (`CI` set) they run, and fail without a cluster.
//! Submissions and status calls are counted by wrappers on the PATH that log each call
//! and then run the real command. Every wait polls for a condition until a deadline.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use current::long_running::{local::Local, slurm::Slurm, Handle, HandleState};
use current::store::Store;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

/// Slurm's first job after the controller starts takes about 5 s; a time limit takes a
/// minute and more to be enforced.
const DEADLINE: Duration = Duration::from_secs(180);

/// Whether Slurm's commands are here; without them (outside CI) the test says so.
pub(crate) fn slurm_available(test: &str) -> bool {
    let found = Command::new("sbatch")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: sbatch is not on the PATH and CI is set: run scripts/slurm/slurm-up.sh"
        );
        eprintln!("skipping {test}: sbatch is not on the PATH (run scripts/slurm/slurm-up.sh)");
    }
    found
}

/// A scratch directory: the state directory, marker files, and counting wrappers.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        // Under the state directory's parent, which Slurm's node (this machine) shares.
        let dir = std::env::temp_dir().join(format!(
            "current-e2e-long-{name}-{}-{:08x}",
            std::process::id(),
            fastrand_u32()
        ));
        std::fs::create_dir_all(dir.join("bin")).expect("a scratch directory");
        let s = Scratch(dir);
        for cmd in ["sbatch", "squeue", "sacct", "scancel"] {
            s.counting_wrapper(cmd);
        }
        s
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn state(&self) -> PathBuf {
        self.path("state")
    }

    /// `bin/<cmd>`: appends a line to `calls/<cmd>`, then runs the real command.
    fn counting_wrapper(&self, cmd: &str) {
        let real = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|d| d.join(cmd))
            .find(|p| p.exists());
        let Some(real) = real else { return };
        std::fs::create_dir_all(self.path("calls")).expect("calls dir");
        let wrapper = self.path("bin").join(cmd);
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\necho \"$*\" >> {calls}\nexec {real} \"$@\"\n",
                calls = self.path("calls").join(cmd).display(),
                real = real.display()
            ),
        )
        .expect("a wrapper");
        let mut perms = std::fs::metadata(&wrapper).expect("wrapper").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&wrapper, perms).expect("wrapper mode");
    }

    /// How many times `cmd` was called.
    fn calls(&self, cmd: &str) -> usize {
        std::fs::read_to_string(self.path("calls").join(cmd))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    /// Start `long_pipeline` over the state directory.
    fn spawn(&self, backend: &str, script: &str, extra: &[&str], env: &[(&str, &str)]) -> Running {
        let path = format!(
            "{}:{}",
            self.path("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_long_pipeline"));
        cmd.arg(self.state())
            .args(["--backend", backend, "--script", script])
            .args(extra)
            .env("PATH", path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Running {
            child: cmd.spawn().expect("long_pipeline starts"),
        }
    }

    /// The stored handles (the program must have exited).
    fn handles(&self) -> Vec<Handle> {
        let store = Store::open(&self.state()).expect("the store opens");
        let tree = store.tree::<Handle>().expect("the handles' tree");
        tree.iter().filter_map(Result::ok).map(|(_, h)| h).collect()
    }

    /// The pid files the wrappers wrote, one per job started.
    fn run_dirs(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.state().join("run")) else {
            return Vec::new();
        };
        entries.filter_map(Result::ok).map(|e| e.path()).collect()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fastrand_u32() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    t ^ std::process::id()
}

/// A running `long_pipeline`, killed if the test ends first.
struct Running {
    child: Child,
}

impl Running {
    /// Wait for it to exit; its status and stdout.
    fn finish(mut self) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                let (mut out, mut err) = (String::new(), String::new());
                if let Some(mut o) = self.child.stdout.take() {
                    let _ = o.read_to_string(&mut out);
                }
                if let Some(mut e) = self.child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                return (status, out, err);
            }
            assert!(
                Instant::now() < deadline,
                "long_pipeline did not finish within {DEADLINE:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn sigkill(mut self) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool, show: impl Fn() -> String) {
    let deadline = Instant::now() + DEADLINE;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {}",
            show()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A script that records its start in `runs`, waits for `release`, and prints `done-N`.
fn waiting_script(s: &Scratch) -> String {
    format!(
        "echo run >> {runs}; while [ ! -e {release} ]; do sleep 0.1; done; echo done-$STEP",
        runs = s.path("runs").display(),
        release = s.path("release").display()
    )
}

fn runs(s: &Scratch) -> String {
    std::fs::read_to_string(s.path("runs")).unwrap_or_default()
}

/// A new pipeline over the state directory, the job released: it ends with the job's
/// result, the job having run once; the stored handles then.
fn finish_in_a_new_pipeline(s: &Scratch, backend: &str) -> Vec<Handle> {
    let second = s.spawn(backend, &waiting_script(s), &[], &[]);
    std::fs::write(s.path("release"), "").expect("the release file");
    let (status, out, err) = second.finish();
    assert!(status.success(), "{status}\nstdout:\n{out}\nstderr:\n{err}");
    assert_eq!(
        out.lines().next(),
        Some("result: ok done-0"),
        "stderr:\n{err}"
    );
    assert_eq!(runs(s), "run\n", "the job ran once");
    s.handles()
}

/// Kill the pipeline with SIGKILL while its job runs; a new one finishes it with the
/// same job, submitted once. The handle's running parameters, before and after.
fn re_attach_after_sigkill(s: &Scratch, backend: &str) -> (Handle, Handle) {
    let first = s.spawn(backend, &waiting_script(s), &[], &[]);
    wait_for(
        "the job to start",
        || !runs(s).is_empty(),
        || format!("runs: {:?}", runs(s)),
    );
    first.sigkill();
    if backend == "local" {
        // The job's process group outlived the engine.
        let dirs = s.run_dirs();
        assert_eq!(dirs.len(), 1, "{dirs:?}");
        let pid: i32 = std::fs::read_to_string(dirs[0].join("pid"))
            .expect("the wrapper's pid file")
            .trim()
            .parse()
            .expect("a pid");
        assert!(
            killpg(Pid::from_raw(pid), None).is_ok(),
            "group {pid} is alive"
        );
    }
    let before = s.handles();
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0].state, HandleState::Running, "{before:?}");

    let after = finish_in_a_new_pipeline(s, backend);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].state, HandleState::Succeeded);
    assert_eq!(after[0].name, before[0].name);
    (
        before.into_iter().next().unwrap(),
        after.into_iter().next().unwrap(),
    )
}

/// Abort right after the backend accepted the job, before its answer is stored; a new
/// pipeline finds the job by its name and does not submit it again.
fn crash_after_submit(s: &Scratch, backend: &str) -> Handle {
    let first = s.spawn(
        backend,
        &waiting_script(s),
        &[],
        &[(current::long_running::CRASH_AFTER_SUBMIT, "1")],
    );
    let (status, out, err) = first.finish();
    assert!(!status.success(), "it aborted: {status}\n{out}\n{err}");
    let stored = s.handles();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].state, HandleState::Submitting, "{stored:?}");
    assert_eq!(stored[0].running, None);
    wait_for(
        "the job to start",
        || !runs(s).is_empty(),
        || format!("runs: {:?}", runs(s)),
    );

    let after = finish_in_a_new_pipeline(s, backend);
    assert_eq!(after[0].state, HandleState::Succeeded);
    after.into_iter().next().unwrap()
}

#[test]
fn a_local_job_survives_sigkill_of_its_engine_and_is_re_attached() {
    let s = Scratch::new("local-reattach");
    let (before, after) = re_attach_after_sigkill(&s, "local");
    let started = |h: &Handle| h.running_as::<Local>().map(|r| r.started);
    assert!(started(&before).is_some(), "{before:?}");
    assert_eq!(
        started(&before),
        started(&after),
        "the job started by the first engine"
    );
    assert_eq!(s.run_dirs().len(), 1);
}

#[test]
fn a_local_job_submitted_just_before_a_crash_is_found_by_name() {
    let s = Scratch::new("local-crash");
    let after = crash_after_submit(&s, "local");
    assert!(after.running_as::<Local>().is_some(), "{after:?}");
}

#[test]
fn a_slurm_job_survives_sigkill_of_its_engine_and_is_re_attached() {
    if !slurm_available("a_slurm_job_survives_sigkill_of_its_engine_and_is_re_attached") {
        return;
    }
    let s = Scratch::new("slurm-reattach");
    let (before, after) = re_attach_after_sigkill(&s, "slurm");
    let id = |h: &Handle| h.running_as::<Slurm>().map(|r| r.job_id);
    assert!(id(&before).is_some(), "{before:?}");
    assert_eq!(id(&before), id(&after), "the same Slurm job");
    assert_eq!(s.calls("sbatch"), 1, "sbatch was called once");
}

#[test]
fn a_slurm_job_submitted_just_before_a_crash_is_found_by_name() {
    if !slurm_available("a_slurm_job_submitted_just_before_a_crash_is_found_by_name") {
        return;
    }
    let s = Scratch::new("slurm-crash");
    let after = crash_after_submit(&s, "slurm");
    assert!(after.running_as::<Slurm>().is_some(), "{after:?}");
    assert_eq!(s.calls("sbatch"), 1, "sbatch was called once");
}

#[test]
fn two_hundred_slurm_jobs_are_polled_with_one_squeue_per_cycle() {
    if !slurm_available("two_hundred_slurm_jobs_are_polled_with_one_squeue_per_cycle") {
        return;
    }
    let s = Scratch::new("slurm-200");
    let script = "sleep 2; echo $STEP";
    let run = s.spawn("slurm", script, &["--jobs", "200"], &[]);
    let (status, out, err) = run.finish();
    assert!(status.success(), "{status}\nstdout:\n{out}\nstderr:\n{err}");
    let want: Vec<String> = (0..200).map(|n| n.to_string()).collect();
    assert_eq!(
        out.lines().next(),
        Some(format!("result: ok {}", want.join(",")).as_str())
    );
    let cycles: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("poll cycles: "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no poll cycle count in\n{out}"));
    assert_eq!(s.calls("sbatch"), 200);
    let (squeue, sacct) = (s.calls("squeue"), s.calls("sacct"));
    assert!(cycles > 0);
    assert!(squeue <= cycles, "{squeue} squeue calls in {cycles} cycles");
    assert!(sacct <= cycles, "{sacct} sacct calls in {cycles} cycles");
    let handles = s.handles();
    assert_eq!(handles.len(), 200);
    assert!(handles.iter().all(|h| h.state == HandleState::Succeeded));
}
