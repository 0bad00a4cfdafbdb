//! Tests: signals. `Engine::run_until_signal` in a real process (`signal_pipeline`, a
//! binary of this package) whose pipeline has a job running: SIGTERM shuts the engine down
//! cleanly, cancelling the job and killing its process; a second SIGINT during the shutdown
//! exits at once with status 130.
//!
//! Every wait polls for a condition (a line on stdout, a line in the job's log, the exit
//! of the process, an entry of `/proc`) until a deadline, then fails showing what it saw.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(5);

/// What the binary prints once its job runs.
struct Ready {
    job_id: String,
    /// The pid of the job's `sleep`, 0 with `--ignore-cancel`.
    sleep_pid: i32,
    log: PathBuf,
}

/// A running `signal_pipeline`, killed (with its `sleep`) if the test ends before it does.
struct Pipeline {
    child: Child,
    status: Option<ExitStatus>,
    lines: mpsc::Receiver<String>,
    stdout: Vec<String>,
    stderr: Arc<Mutex<String>>,
    dir: PathBuf,
    sleep: Option<ProcStat>,
    log: Option<PathBuf>,
}

impl Pipeline {
    fn spawn(name: &str, args: &[&str]) -> Pipeline {
        let dir =
            std::env::temp_dir().join(format!("current-e2e-signals-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut child = Command::new(env!("CARGO_BIN_EXE_signal_pipeline"))
            .arg(&dir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start signal_pipeline");
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
        Pipeline {
            child,
            status: None,
            lines,
            stdout: Vec::new(),
            stderr,
            dir,
            sleep: None,
            log: None,
        }
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    /// What the process has shown so far, for failure messages.
    fn describe(&self) -> String {
        let log = self
            .log
            .as_ref()
            .map(|p| std::fs::read_to_string(p).unwrap_or_else(|e| format!("({e})")))
            .unwrap_or_default();
        format!(
            "exit status: {:?}\nstdout: {:?}\nstderr:\n{}\njob log:\n{log}",
            self.status,
            self.stdout,
            self.stderr.lock().unwrap()
        )
    }

    /// Wait for the `ready` line.
    fn ready(&mut self) -> Ready {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stdout.push(line.clone());
                    let Some(rest) = line.strip_prefix("ready ") else {
                        continue;
                    };
                    let mut words = rest.splitn(3, ' ');
                    let (Some(job_id), Some(pid), Some(log)) =
                        (words.next(), words.next(), words.next())
                    else {
                        panic!("bad ready line {line:?}");
                    };
                    let ready = Ready {
                        job_id: job_id.to_string(),
                        sleep_pid: pid.parse().expect("a pid"),
                        log: PathBuf::from(log),
                    };
                    self.log = Some(ready.log.clone());
                    if ready.sleep_pid != 0 {
                        self.sleep = ProcStat::read(ready.sleep_pid);
                    }
                    return ready;
                }
                Err(_) => {
                    let _ = self.try_wait();
                    panic!("no ready line within {TIMEOUT:?}\n{}", self.describe());
                }
            }
        }
    }

    /// Wait until the process catches SIGINT and SIGTERM: `run_until_signal` listens.
    ///
    /// Tokio installs a signal's handler and, at once after, subscribes the listener;
    /// `shutdown_signal` does SIGINT first, then SIGTERM. So once both are caught, a
    /// SIGINT reaches its listener, and a SIGTERM does too (its listener subscribes in the
    /// same call that installed the handler, before tokio's driver can deliver anything).
    fn wait_until_listening(&mut self) {
        let mask = (1u64 << (signo(Signal::SIGINT) - 1)) | (1u64 << (signo(Signal::SIGTERM) - 1));
        let path = format!("/proc/{}/status", self.child.id());
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let status = std::fs::read_to_string(&path).unwrap_or_default();
            let caught = status
                .lines()
                .find_map(|l| l.strip_prefix("SigCgt:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
                .unwrap_or(0);
            if caught & mask == mask {
                return;
            }
            if self.try_wait().is_some() || Instant::now() > deadline {
                panic!(
                    "the process does not catch SIGINT and SIGTERM (SigCgt {caught:x})\n{}",
                    self.describe()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    fn signal(&self, signal: Signal) {
        // The child is reaped only by `try_wait`: until then its pid cannot be reused.
        if self.status.is_none() {
            kill(self.pid(), signal).expect("cannot signal signal_pipeline");
        }
    }

    fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self
                .child
                .try_wait()
                .expect("cannot wait for signal_pipeline");
        }
        self.status
    }

    /// Wait for the process to exit, for at most `timeout`; `each` is called between polls.
    fn wait_exit_with(&mut self, timeout: Duration, mut each: impl FnMut(&Self)) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                panic!(
                    "signal_pipeline did not exit within {timeout:?}\n{}",
                    self.describe()
                );
            }
            each(self);
            std::thread::sleep(POLL);
        }
    }

    fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        self.wait_exit_with(timeout, |_| {})
    }

    /// Wait until the job's log contains `text`.
    fn wait_log(&mut self, log: &Path, text: &str) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if std::fs::read_to_string(log).is_ok_and(|l| l.contains(text)) {
                return;
            }
            if self.try_wait().is_some() || Instant::now() > deadline {
                panic!("the job's log never showed {text:?}\n{}", self.describe());
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        if self.try_wait().is_none() {
            let _ = kill(self.pid(), Signal::SIGKILL);
            let _ = self.child.wait();
        }
        if let Some(sleep) = &self.sleep {
            if sleep.still_running() {
                let _ = kill(Pid::from_raw(sleep.pid), Signal::SIGKILL);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn signo(signal: Signal) -> u32 {
    signal as i32 as u32
}

/// A process as `/proc/<pid>/stat` shows it: enough to tell it from a later process that
/// reuses its pid.
struct ProcStat {
    pid: i32,
    state: char,
    start_time: u64,
}

impl ProcStat {
    fn read(pid: i32) -> Option<ProcStat> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
        let rest = stat.get(stat.rfind(')')? + 1..)?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        Some(ProcStat {
            pid,
            state: fields.first()?.chars().next()?,
            // Field 22 of the whole line; the first after the comm is field 3.
            start_time: fields.get(22 - 3)?.parse().ok()?,
        })
    }

    /// Whether the same process is still there and not a zombie.
    fn still_running(&self) -> bool {
        ProcStat::read(self.pid)
            .is_some_and(|now| now.start_time == self.start_time && now.state != 'Z')
    }
}

/// Poll until `sleep` is gone (or a zombie).
fn wait_gone(sleep: &ProcStat, p: &Pipeline) {
    let deadline = Instant::now() + TIMEOUT;
    while sleep.still_running() {
        if Instant::now() > deadline {
            panic!(
                "the job's sleep (pid {}) is still running\n{}",
                sleep.pid,
                p.describe()
            );
        }
        std::thread::sleep(POLL);
    }
}

#[test]
fn sigterm_cancels_the_running_job_kills_its_process_and_exits_cleanly() {
    let mut p = Pipeline::spawn("sigterm", &[]);
    let ready = p.ready();
    assert!(
        ready.job_id.contains("-sleep-"),
        "job id {:?}",
        ready.job_id
    );
    assert_ne!(ready.sleep_pid, 0);
    let sleep = ProcStat::read(ready.sleep_pid).expect("the job's sleep runs");
    assert!(sleep.still_running());

    p.wait_until_listening();
    p.signal(Signal::SIGTERM);
    let status = p.wait_exit(TIMEOUT);
    assert_eq!(status.code(), Some(0), "{}", p.describe());

    let log = std::fs::read_to_string(&ready.log).unwrap();
    assert!(
        log.contains(": Cancelling: Engine shutting down (SIGTERM)\n"),
        "{}",
        p.describe()
    );
    assert!(
        log.contains(": Job failed: Cancelled: Engine shutting down (SIGTERM)\n"),
        "the job ends before the engine stops\n{}",
        p.describe()
    );
    wait_gone(&sleep, &p);
}

#[test]
fn a_second_sigint_during_the_shutdown_exits_at_once_with_130() {
    // The job takes no notice of its cancellation, so the first shutdown waits (for its
    // grace period, 10 s) for a job that never ends.
    let mut p = Pipeline::spawn("sigint-twice", &["--ignore-cancel"]);
    let ready = p.ready();
    p.wait_until_listening();
    p.signal(Signal::SIGINT);
    p.wait_log(&ready.log, ": Cancelling: Engine shutting down (SIGINT)\n");
    assert!(p.try_wait().is_none(), "{}", p.describe());

    // The shutdown is under way; the listeners were installed before the first signal, so
    // one more signal is enough.
    p.signal(Signal::SIGINT);
    let status = p.wait_exit(TIMEOUT);
    assert_eq!(status.code(), Some(130), "{}", p.describe());
    assert!(
        p.stderr
            .lock()
            .unwrap()
            .contains("second signal (SIGINT): exiting at once"),
        "{}",
        p.describe()
    );
}

#[test]
fn the_shutdown_waits_no_longer_than_its_grace_period() {
    let mut p = Pipeline::spawn("grace", &["--ignore-cancel", "--grace-ms", "0"]);
    let ready = p.ready();
    p.wait_until_listening();
    p.signal(Signal::SIGTERM);
    p.wait_log(&ready.log, ": Cancelling: Engine shutting down (SIGTERM)\n");
    // With no grace the engine stops at once; the default grace is 10 s.
    let status = p.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "{}", p.describe());
}
