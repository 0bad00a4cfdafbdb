//! Tests: process.
//!
//! Each test runs real commands in a real job: a `Context` on a `ManualClock` stopped at
//! the epoch (so every log line is stamped `1970-01-01 00:00.00: `) with its own state
//! directory, removed at the end.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use current::clock::ManualClock;
use current::context::Update;
use current::job::{Job, StartOptions};
use current::pool::Priority;
use current::process::{self, check_output, exec, quote, Command, ProcessError, TempDir};
use current::{Config, Context, Level};

const STAMP: &str = "1970-01-01 00:00.00: ";
const DEADLINE: Duration = Duration::from_secs(10);

/// A state directory of its own, removed when the test ends.
struct Fixture {
    dir: PathBuf,
    ctx: Context,
    _updates: Receiver<Update>,
}

impl Fixture {
    fn new(name: &str) -> Fixture {
        let dir = std::env::temp_dir().join(format!(
            "current-test-process-{name}-{}-{:08x}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::create_dir_all(&dir).expect("create the test directory");
        let clock = Arc::new(ManualClock::new(UNIX_EPOCH));
        let (ctx, updates) = Context::new(
            dir.join("var"),
            clock,
            Config::new(None),
            tokio::runtime::Handle::current(),
        );
        Fixture {
            dir,
            ctx,
            _updates: updates,
        }
    }

    /// A started job.
    async fn job(&self, label: &str) -> Job {
        let job = Job::create(&self.ctx, label, Priority::Low).expect("create a job");
        job.start(Level::Average, StartOptions::default())
            .await
            .expect("start the job");
        job
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn log_of(job: &Job) -> String {
    std::fs::read_to_string(job.log_path()).expect("read the job log")
}

/// Wait until the job's log contains `needle`; the whole log.
async fn wait_for_log(job: &Job, needle: &str) -> String {
    let deadline = Instant::now() + DEADLINE;
    let mut progress = job.log_progress();
    loop {
        progress.borrow_and_update();
        let log = log_of(job);
        if log.contains(needle) {
            return log;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, progress.changed()).await {
            Ok(Ok(())) => {}
            _ => panic!("{needle:?} never appeared in the log:\n{log}"),
        }
    }
}

/// The processes of group `pgid` that are still alive (zombies count as gone): pid,
/// state and name, from `/proc`.
fn group_members(pgid: i32) -> Vec<(i32, char, String)> {
    let mut members = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return members;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        // The process may exit while we look: skip what cannot be read.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid pgrp ...`; comm may hold spaces and parentheses.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_string();
        let mut fields = stat[close + 1..].split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let _ppid = fields.next();
        let pgrp = fields.next().and_then(|s| s.parse::<i32>().ok());
        if pgrp == Some(pgid) && state != 'Z' && state != 'X' {
            members.push((pid, state, name));
        }
    }
    members
}

/// Poll `/proc` until no process of group `pgid` is left alive.
async fn wait_group_gone(pgid: i32) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let left = group_members(pgid);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes of group {pgid} still alive after {DEADLINE:?}: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The `pgid N` line a test command prints (its shell's `$$`). Wait for it with the
/// needle `"\npgid "`: the `Exec:` line holds `pgid` too.
fn pgid_in(log: &str) -> i32 {
    log.lines()
        .find_map(|l| l.strip_prefix("pgid "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pgid line in the log:\n{log}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_logs_stdout_and_stderr_in_order() {
    let fx = Fixture::new("order");
    let job = fx.job("order").await;
    let cmd = Command::new("sh").args(["-c", "echo out1; echo >&2 out2; echo out3"]);
    exec(&job, &cmd).await.expect("the command succeeds");
    job.complete();
    assert_eq!(
        log_of(&job),
        format!(
            "{STAMP}Exec: \"sh\" \"-c\" \"echo out1; echo >&2 out2; echo out3\"\nout1\nout2\nout3\n"
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_streams_output_while_the_command_runs() {
    let fx = Fixture::new("stream");
    let job = fx.job("stream").await;
    let flag = fx.dir.join("flag");
    let cmd = Command::new("sh")
        .args([
            "-c",
            "printf first; while [ ! -e \"$1\" ]; do sleep 0.01; done; echo second",
            "sh",
        ])
        .arg(&flag);
    let running = tokio::spawn({
        let job = job.clone();
        async move { exec(&job, &cmd).await }
    });
    // The partial line is in the log before the command goes on.
    let log = wait_for_log(&job, "\nfirst").await;
    assert!(!log.contains("\nfirstsecond"), "{log}");
    std::fs::write(&flag, "").expect("create the flag");
    running
        .await
        .expect("the task ends")
        .expect("the command succeeds");
    job.complete();
    assert!(
        log_of(&job).ends_with("\nfirstsecond\n"),
        "{}",
        log_of(&job)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_output_returns_stdout_and_logs_stderr() {
    let fx = Fixture::new("check-output");
    let job = fx.job("check-output").await;
    let cmd = Command::new("sh").args(["-c", "echo to-stdout; echo >&2 to-stderr; echo more"]);
    let out = check_output(&job, &cmd)
        .await
        .expect("the command succeeds");
    assert_eq!(out, "to-stdout\nmore\n");
    job.complete();
    assert_eq!(
        log_of(&job),
        format!("{STAMP}Exec: \"sh\" \"-c\" \"echo to-stdout; echo >&2 to-stderr; echo more\"\nto-stderr\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_output_rejects_output_that_is_not_utf8() {
    let fx = Fixture::new("utf8");
    let job = fx.job("utf8").await;
    let cmd = Command::new("printf").arg("ok\\377");
    let err = check_output(&job, &cmd).await.expect_err("not UTF-8");
    assert!(matches!(err, ProcessError::NotUtf8 { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("Command \"printf\" \"ok\\\\377\" wrote output that is not valid UTF-8"),
        "{err}"
    );
    job.complete();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_custom_text_hides_a_secret_from_log_and_errors() {
    let fx = Fixture::new("secret");
    let job = fx.job("secret").await;
    let secret = "s3cr3t-t0k3n";
    // Exits with 3 only if it really got the secret.
    let cmd = Command::new("sh")
        .args(["-c", "test \"$1\" = s3cr3t-t0k3n && exit 3", "sh", secret])
        .display_as(format!(
            "{} {} {} \"<hidden>\"",
            quote("sh"),
            quote("-c"),
            quote("check the token")
        ));
    let err = exec(&job, &cmd).await.expect_err("exits with 3");
    assert_eq!(
        err.to_string(),
        "Command \"sh\" \"-c\" \"check the token\" \"<hidden>\" exited with status 3"
    );
    assert!(!format!("{err:?}").contains(secret));
    assert!(!format!("{cmd:?}").contains(secret));
    job.complete();
    let log = log_of(&job);
    assert_eq!(
        log,
        format!("{STAMP}Exec: \"sh\" \"-c\" \"check the token\" \"<hidden>\"\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_status_errors() {
    let fx = Fixture::new("status");
    let job = fx.job("status").await;

    let err = exec(&job, &Command::new("sh").args(["-c", "exit 2"]))
        .await
        .expect_err("status 2");
    assert!(
        matches!(err, ProcessError::Exit { status: 2, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "Command \"sh\" \"-c\" \"exit 2\" exited with status 2"
    );

    let err = check_output(&job, &Command::new("false"))
        .await
        .expect_err("status 1");
    assert_eq!(err.to_string(), "Command \"false\" exited with status 1");

    let err = exec(&job, &Command::new("sh").args(["-c", "exit 127"]))
        .await
        .expect_err("status 127");
    assert_eq!(
        err.to_string(),
        "Command \"sh\" \"-c\" \"exit 127\" exited with status 127. Is sh installed?"
    );

    // A shell that cannot find a program exits with 127.
    let err = exec(
        &job,
        &Command::new("sh").args(["-c", "current-no-such-program-xyz"]),
    )
    .await
    .expect_err("not found");
    assert_eq!(
        err.to_string(),
        "Command \"sh\" \"-c\" \"current-no-such-program-xyz\" exited with status 127. Is sh installed?"
    );
    job.complete();
}

#[tokio::test(flavor = "multi_thread")]
async fn signal_errors() {
    let fx = Fixture::new("signal");
    let job = fx.job("signal").await;
    let err = exec(&job, &Command::new("sh").args(["-c", "kill -9 $$"]))
        .await
        .expect_err("killed");
    assert_eq!(
        err.to_string(),
        "Command \"sh\" \"-c\" \"kill -9 $$\" failed with signal SIGKILL"
    );
    let err = check_output(&job, &Command::new("sh").args(["-c", "kill -TERM $$"]))
        .await
        .expect_err("terminated");
    assert_eq!(
        err.to_string(),
        "Command \"sh\" \"-c\" \"kill -TERM $$\" failed with signal SIGTERM"
    );
    job.complete();
}

#[tokio::test(flavor = "multi_thread")]
async fn programs_that_cannot_start() {
    let fx = Fixture::new("spawn");
    let job = fx.job("spawn").await;

    let err = exec(&job, &Command::new("current-no-such-program-xyz").arg("a"))
        .await
        .expect_err("not found");
    assert!(matches!(err, ProcessError::Spawn { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "Command \"current-no-such-program-xyz\" \"a\" could not be started: {}",
            std::io::Error::from_raw_os_error(2)
        )
    );

    let script = fx.dir.join("not-executable");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").expect("write the script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644))
        .expect("chmod the script");
    let err = check_output(&job, &Command::new(&script))
        .await
        .expect_err("not executable");
    assert_eq!(
        err.to_string(),
        format!(
            "Command {} could not be started: {}",
            quote(&script),
            std::io::Error::from_raw_os_error(13)
        )
    );
    job.complete();
}

#[tokio::test(flavor = "multi_thread")]
async fn cwd_env_and_stdin() {
    let fx = Fixture::new("cwd-env");
    let job = fx.job("cwd-env").await;
    let work = fx.dir.join("work dir");
    std::fs::create_dir(&work).expect("create the work directory");
    let work = work.canonicalize().expect("canonical work directory");
    let cmd = Command::new("sh")
        .args([
            "-c",
            "pwd -P; echo \"$GREETING\"; echo \"[${CURRENT_TEST_PROCESS_REMOVED-unset}]\"; cat",
        ])
        .cwd(&work)
        .env("GREETING", "hello there")
        .env("CURRENT_TEST_PROCESS_REMOVED", "still here")
        .env_remove("CURRENT_TEST_PROCESS_REMOVED")
        .stdin("line one\nline two\n");
    let out = check_output(&job, &cmd)
        .await
        .expect("the command succeeds");
    assert_eq!(
        out,
        format!(
            "{}\nhello there\n[unset]\nline one\nline two\n",
            work.display()
        )
    );

    // With a cleared environment only what is set afterwards is there.
    let out = check_output(&job, &Command::new("env").env_clear().env("ONLY", "1"))
        .await
        .expect("env runs");
    assert_eq!(out, "ONLY=1\n");

    // Without stdin the command reads an empty input, not the test's.
    let out = check_output(&job, &Command::new("cat"))
        .await
        .expect("cat runs");
    assert_eq!(out, "");
    job.complete();
}

#[tokio::test(flavor = "multi_thread")]
async fn large_stdin_and_output_do_not_deadlock() {
    let fx = Fixture::new("large");
    let job = fx.job("large").await;
    let data: Vec<u8> = (0..4 * 1024 * 1024)
        .map(|i| b'a' + (i % 26) as u8)
        .collect();
    let out = check_output(&job, &Command::new("cat").stdin(data.clone()))
        .await
        .expect("cat runs");
    assert_eq!(out.as_bytes(), &data[..]);

    // Through the log, stdout and stderr both.
    exec(
        &job,
        &Command::new("sh")
            .args(["-c", "cat; cat >&2 </dev/null"])
            .stdin(data.clone()),
    )
    .await
    .expect("sh runs");

    // A command need not read its input.
    exec(&job, &Command::new("true").stdin(data.clone()))
        .await
        .expect("true runs");
    job.complete();
    let log = log_of(&job);
    assert!(log.contains(std::str::from_utf8(&data).expect("ASCII")));
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_stops_a_running_command_promptly() {
    let fx = Fixture::new("cancel");
    let job = fx.job("cancel").await;
    let cmd = Command::new("sh").args(["-c", "echo \"pgid $$\"; exec sleep 120"]);
    let running = tokio::spawn({
        let job = job.clone();
        async move { exec(&job, &cmd).await }
    });
    let log = wait_for_log(&job, "\npgid ").await;
    let pgid = pgid_in(&log);
    let started = Instant::now();
    job.cancel("test cancel");
    let result = tokio::time::timeout(DEADLINE, running)
        .await
        .expect("exec returns promptly")
        .expect("the task ends");
    assert!(started.elapsed() < DEADLINE);
    let err = result.expect_err("cancelled");
    assert!(
        matches!(&err, ProcessError::Cancelled { reason, .. } if reason == "test cancel"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "Cancelled: test cancel");
    wait_group_gone(pgid).await;
    job.complete();
    assert!(
        log_of(&job).ends_with(&format!("{STAMP}Cancelling: test cancel\n")),
        "{}",
        log_of(&job)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_kills_the_whole_process_tree() {
    let fx = Fixture::new("tree");
    let job = fx.job("tree").await;
    // A background grandchild, and one more in the foreground.
    let cmd = Command::new("sh").args(["-c", "sleep 100 & echo \"pgid $$\"; sleep 100"]);
    let running = tokio::spawn({
        let job = job.clone();
        async move { exec(&job, &cmd).await }
    });
    let log = wait_for_log(&job, "\npgid ").await;
    let pgid = pgid_in(&log);
    let members = group_members(pgid);
    assert!(
        members.iter().any(|(pid, _, _)| *pid == pgid),
        "the shell leads its own group: {members:?}"
    );
    assert!(members.len() >= 2, "{members:?}");
    job.cancel("stop the tree");
    let err = tokio::time::timeout(DEADLINE, running)
        .await
        .expect("exec returns promptly")
        .expect("the task ends")
        .expect_err("cancelled");
    assert_eq!(err.to_string(), "Cancelled: stop the tree");
    wait_group_gone(pgid).await;
    job.complete();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_background_process_holding_the_output_is_killed_on_cancel() {
    let fx = Fixture::new("background");
    let job = fx.job("background").await;
    // The shell exits at once; its child keeps the output pipe open.
    let cmd = Command::new("sh").args(["-c", "echo \"pgid $$\"; sleep 100 &"]);
    let running = tokio::spawn({
        let job = job.clone();
        async move { exec(&job, &cmd).await }
    });
    let log = wait_for_log(&job, "\npgid ").await;
    let pgid = pgid_in(&log);
    job.cancel("stop the background");
    let err = tokio::time::timeout(DEADLINE, running)
        .await
        .expect("exec returns promptly")
        .expect("the task ends")
        .expect_err("cancelled");
    assert_eq!(err.to_string(), "Cancelled: stop the background");
    wait_group_gone(pgid).await;
    job.complete();
}

#[tokio::test(flavor = "multi_thread")]
async fn completing_the_job_kills_a_running_command() {
    let fx = Fixture::new("complete");
    let job = fx.job("complete").await;
    let cmd = Command::new("sh").args(["-c", "echo \"pgid $$\"; sleep 100"]);
    let running = tokio::spawn({
        let job = job.clone();
        async move {
            check_output(&job, &Command::new("true")).await?;
            exec(&job, &cmd).await
        }
    });
    let log = wait_for_log(&job, "\npgid ").await;
    let pgid = pgid_in(&log);
    job.complete();
    let err = tokio::time::timeout(DEADLINE, running)
        .await
        .expect("exec returns promptly")
        .expect("the task ends")
        .expect_err("killed");
    assert_eq!(err.to_string(), "Cancelled: Job complete");
    wait_group_gone(pgid).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_the_future_kills_the_process_group() {
    let fx = Fixture::new("drop");
    let job = fx.job("drop").await;
    let cmd = Command::new("sh").args(["-c", "sleep 100 & echo \"pgid $$\"; sleep 100"]);
    let running = tokio::spawn({
        let job = job.clone();
        async move { exec(&job, &cmd).await }
    });
    let log = wait_for_log(&job, "\npgid ").await;
    let pgid = pgid_in(&log);
    running.abort();
    let joined = running.await;
    assert!(joined.is_err_and(|e| e.is_cancelled()));
    wait_group_gone(pgid).await;
    // The job itself goes on.
    assert_eq!(job.cancelled(), None);
    exec(&job, &Command::new("true")).await.expect("true runs");
    job.complete();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_job_starts_no_command() {
    let fx = Fixture::new("cancelled-first");
    let job = fx.job("cancelled-first").await;
    job.cancel("too late");
    let marker = fx.dir.join("marker");
    let err = exec(&job, &Command::new("touch").arg(&marker))
        .await
        .expect_err("cancelled");
    assert_eq!(err.to_string(), "Cancelled: too late");
    assert!(!marker.exists());
    job.complete();
    assert_eq!(log_of(&job), format!("{STAMP}Cancelling: too late\n"));
}

#[test]
fn commands_print_like_ocaml_percent_s() {
    assert_eq!(
        Command::new("git")
            .args(["commit", "-m", "say \"hi\"\\n", "tab\there", "\u{7}é"])
            .to_string(),
        r#""git" "commit" "-m" "say \"hi\"\\n" "tab\there" "\007\195\169""#
    );
    assert_eq!(quote("a\nb\rc\u{8}d"), r#""a\nb\rc\bd""#);
    assert_eq!(quote(""), r#""""#);
    assert_eq!(quote("\u{7f}~ "), r#""\127~ ""#);
    let hidden = Command::new("curl")
        .arg("secret")
        .display_as("curl <hidden>");
    assert_eq!(hidden.to_string(), "curl <hidden>");
    assert_eq!(format!("{hidden:?}"), "Command(curl <hidden>)");
    assert_eq!(hidden.program(), "curl");
    assert_eq!(hidden.get_args().collect::<Vec<_>>(), ["secret"]);
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("the directory exists")
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test(flavor = "multi_thread")]
async fn with_tmpdir_makes_a_private_directory_and_removes_it() {
    let seen = Arc::new(Mutex::new(None::<PathBuf>));
    let result = process::with_tmpdir("current-test-", |dir| {
        let seen = seen.clone();
        async move {
            *seen.lock().expect("lock") = Some(dir.clone());
            assert_eq!(mode_of(&dir), 0o700);
            assert_eq!(dir.parent(), Some(std::env::temp_dir().as_path()));
            let name = dir.file_name().and_then(|n| n.to_str()).expect("a name");
            let hex = name.strip_prefix("current-test-").expect("the prefix");
            assert!(
                !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()),
                "{name}"
            );
            std::fs::create_dir_all(dir.join("a/b")).expect("mkdir");
            std::fs::write(dir.join("a/b/file"), "data").expect("write");
            42
        }
    })
    .await
    .expect("the directory is created");
    assert_eq!(result, 42);
    let dir = seen.lock().expect("lock").clone().expect("the closure ran");
    assert!(!dir.exists(), "{} is left", dir.display());
}

#[tokio::test(flavor = "multi_thread")]
async fn with_tmpdir_removes_the_directory_on_error_and_panic() {
    let seen = Arc::new(Mutex::new(Vec::<PathBuf>::new()));

    let result: Result<(), String> = process::with_tmpdir("current-test-", |dir| {
        let seen = seen.clone();
        async move {
            std::fs::write(dir.join("file"), "data").map_err(|e| e.to_string())?;
            seen.lock().expect("lock").push(dir);
            Err("it failed".to_string())
        }
    })
    .await
    .expect("the directory is created");
    assert_eq!(result, Err("it failed".to_string()));

    let panicking = tokio::spawn({
        let seen = seen.clone();
        async move {
            process::with_tmpdir("current-test-", |dir| async move {
                seen.lock().expect("lock").push(dir);
                panic!("the closure panics");
            })
            .await
        }
    });
    assert!(panicking.await.is_err_and(|e| e.is_panic()));

    let dirs = seen.lock().expect("lock").clone();
    assert_eq!(dirs.len(), 2);
    for dir in dirs {
        assert!(!dir.exists(), "{} is left", dir.display());
    }
}

#[test]
fn temp_dir_guard() {
    let fx_parent = std::env::temp_dir();
    let dir = TempDir::new("current-test-guard-").expect("create");
    let path = dir.path().to_owned();
    assert_eq!(path.parent(), Some(fx_parent.as_path()));
    assert_eq!(mode_of(&path), 0o700);
    std::fs::write(path.join("file"), "x").expect("write");
    drop(dir);
    assert!(!path.exists());
}
