//! Run commands inside a job (OCaml's `Current.Process`).
//!
//! [`exec`] logs `Exec: "prog" "arg" ...` to the job's log, runs the command in its own
//! process group and streams everything it writes, stdout and stderr through one shared
//! pipe so their order is kept, into the log as it comes. [`check_output`] returns the
//! command's stdout instead and logs only its stderr. Cancelling the job kills the whole
//! process group, grandchildren included; so does completing the job while the command
//! runs, and dropping the future.
//!
//! ```
//! use std::sync::Arc;
//! use current::{clock::ManualClock, Config, Context, Level};
//! use current::job::{Job, StartOptions};
//! use current::pool::Priority;
//! use current::process::{self, Command};
//!
//! # let dir = std::env::temp_dir().join(format!("current-doc-process-{}", std::process::id()));
//! let rt = tokio::runtime::Runtime::new()?;
//! let clock = Arc::new(ManualClock::new(std::time::UNIX_EPOCH));
//! let (ctx, _updates) = Context::new(&dir, clock, Config::new(None), rt.handle().clone());
//! let job = Job::create(&ctx, "hello", Priority::Low)?;
//! rt.block_on(async {
//!     job.start(Level::Average, StartOptions::default()).await?;
//!     process::exec(&job, &Command::new("echo").args(["Hello", "world"])).await?;
//!     let out = process::check_output(&job, &Command::new("echo").arg("captured")).await?;
//!     assert_eq!(out, "captured\n");
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })?;
//! job.complete();
//! let log = std::fs::read_to_string(job.log_path())?;
//! assert_eq!(
//!     log,
//!     "1970-01-01 00:00.00: Exec: \"echo\" \"Hello\" \"world\"\n\
//!      Hello world\n\
//!      1970-01-01 00:00.00: Exec: \"echo\" \"captured\"\n"
//! );
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A command whose arguments hold a secret is shown with a text of its own, in the log and
//! in its errors alike:
//!
//! ```
//! use current::process::Command;
//!
//! let token = "s3cr3t";
//! let cmd = Command::new("curl")
//!     .args(["-H", &format!("Authorization: {token}"), "https://example.org"])
//!     .display_as(r#""curl" "-H" "Authorization: <hidden>" "https://example.org""#);
//! assert!(!cmd.to_string().contains(token));
//! assert!(!format!("{cmd:?}").contains(token));
//! ```

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::future::Future;
use std::io::{self, ErrorKind};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

use crate::job::Job;

/// Why a command failed.
///
/// Every message names the command in its printed form (see [`Command`]'s `Display`), so
/// a command with a custom text ([`Command::display_as`]) never shows its real arguments
/// in an error either.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The command exited with a status other than 0 (and 127).
    #[error("Command {command} exited with status {status}")]
    Exit {
        /// The command, as printed.
        command: String,
        /// Its exit status.
        status: i32,
    },
    /// The command exited with status 127, the shell's "command not found".
    #[error("Command {command} exited with status 127. Is {program} installed?")]
    NotInstalled {
        /// The command, as printed.
        command: String,
        /// The program it ran.
        program: String,
    },
    /// The command was killed by a signal (`SIGKILL`, `SIGSEGV`, ...).
    #[error("Command {command} failed with signal {signal}")]
    Signal {
        /// The command, as printed.
        command: String,
        /// The signal's name, or `signal N` for a number without one.
        signal: String,
    },
    /// The program could not be started (not found, not executable, bad working
    /// directory, ...).
    #[error("Command {command} could not be started: {source}")]
    Spawn {
        /// The command, as printed.
        command: String,
        /// The error of the operating system.
        source: io::Error,
    },
    /// [`check_output`]: the command succeeded but its stdout is not UTF-8.
    #[error("Command {command} wrote output that is not valid UTF-8: {source}")]
    NotUtf8 {
        /// The command, as printed.
        command: String,
        /// Where the output stops being UTF-8.
        source: std::string::FromUtf8Error,
    },
    /// Reading the command's output or writing its stdin failed.
    #[error("Command {command}: I/O error: {source}")]
    Io {
        /// The command, as printed.
        command: String,
        /// The error.
        source: io::Error,
    },
    /// The job was cancelled (or completed) while the command ran, or before it could
    /// start; the command's process group was killed. The text is `Cancelled: <reason>`,
    /// the reason given to [`Job::cancel`] (`Job complete` when the job completed).
    #[error("Cancelled: {reason}")]
    Cancelled {
        /// The command, as printed.
        command: String,
        /// Why the job was cancelled.
        reason: String,
    },
}

/// A command to run: a program, its arguments, and optionally a working directory,
/// environment changes, and bytes for its stdin.
///
/// It prints (`Display`) as its program and arguments each quoted like OCaml's `%S`:
/// `"git" "clone" "https://..."`; [`Command::display_as`] replaces that text, which then
/// also stands for the command in `Debug` output and in every [`ProcessError`].
#[derive(Clone)]
pub struct Command {
    program: OsString,
    args: Vec<OsString>,
    cwd: Option<PathBuf>,
    env_clear: bool,
    env: Vec<(OsString, Option<OsString>)>,
    stdin: Option<Vec<u8>>,
    display: Option<String>,
}

impl Command {
    /// A command running `program` (looked up in `PATH` if it has no `/`) with no
    /// arguments, in the current directory, with this process's environment and an empty
    /// stdin (`/dev/null`).
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            cwd: None,
            env_clear: false,
            env: Vec::new(),
            stdin: None,
            display: None,
        }
    }

    /// Add an argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Command {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Add arguments.
    pub fn args<I, S>(mut self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Run in this directory.
    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Command {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Set an environment variable for the command.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Command {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// Remove an environment variable for the command.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Command {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Start the command with an empty environment, plus the variables set with
    /// [`Command::env`] after this call (OCaml's `?env`).
    pub fn env_clear(mut self) -> Command {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// Write these bytes to the command's stdin, then close it.
    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Command {
        self.stdin = Some(data.into());
        self
    }

    /// Show the command as `text` (in the `Exec:` line of the log, in errors and in
    /// `Debug`) instead of its quoted program and arguments: how to keep a secret argument
    /// out of logs. [`quote`] helps build such a text.
    pub fn display_as(mut self, text: impl Into<String>) -> Command {
        self.display = Some(text.into());
        self
    }

    /// The program.
    pub fn program(&self) -> &OsStr {
        &self.program
    }

    /// The arguments, after the program.
    pub fn get_args(&self) -> impl Iterator<Item = &OsStr> {
        self.args.iter().map(OsString::as_os_str)
    }

    fn printed(&self) -> String {
        self.to_string()
    }

    fn build(&self) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(&self.program);
        c.args(&self.args);
        if let Some(dir) = &self.cwd {
            c.current_dir(dir);
        }
        if self.env_clear {
            c.env_clear();
        }
        for (key, value) in &self.env {
            match value {
                Some(value) => c.env(key, value),
                None => c.env_remove(key),
            };
        }
        c.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        c.process_group(0);
        c.kill_on_drop(false);
        c
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(text) = &self.display {
            return f.write_str(text);
        }
        f.write_str(&quote(&self.program))?;
        for arg in &self.args {
            write!(f, " {}", quote(arg))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Command {
    /// Only the printed form: neither hidden arguments nor environment values nor stdin.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Command({self})")
    }
}

/// `s` quoted like OCaml's `%S`: in double quotes, with `"` and `\` escaped by a backslash,
/// newline, tab, carriage return and backspace as `\n`, `\t`, `\r`, `\b`, and every other
/// byte outside printable ASCII (so each byte of a non-ASCII character too) as `\DDD`, its
/// decimal value.
///
/// ```
/// assert_eq!(current::process::quote("a \"b\"\n"), r#""a \"b\"\n""#);
/// assert_eq!(current::process::quote("\u{1}é"), r#""\001\195\169""#);
/// ```
pub fn quote(s: impl AsRef<OsStr>) -> String {
    let bytes = s.as_ref().as_bytes();
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\r' => out.push_str("\\r"),
            b'\x08' => out.push_str("\\b"),
            b' '..=b'~' => out.push(char::from(b)),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out.push('"');
    out
}

/// Run `cmd` as part of `job`: log `Exec: <cmd>`, then stream its stdout and stderr, which
/// share one pipe so their order is kept, into the job's log as raw bytes as they come.
/// Returns once the command has exited and its output is closed (a background process
/// that keeps the output open is waited for).
///
/// The command runs in a new process group. If the job is cancelled, or completed, while
/// the command runs, the whole group is killed with `SIGKILL` and the result is
/// [`ProcessError::Cancelled`]; if the job was already cancelled or complete, the command
/// is not started. Dropping the future also kills the group.
pub async fn exec(job: &Job, cmd: &Command) -> Result<(), ProcessError> {
    run(job, cmd, Capture::Merged).await.map(drop)
}

/// Run `cmd` as part of `job` and return its stdout, which must be UTF-8; its stderr is
/// streamed into the job's log. Otherwise like [`exec`]: the `Exec:` line, the process
/// group, cancellation and errors.
pub async fn check_output(job: &Job, cmd: &Command) -> Result<String, ProcessError> {
    let stdout = run(job, cmd, Capture::Stdout).await?;
    String::from_utf8(stdout).map_err(|source| ProcessError::NotUtf8 {
        command: cmd.printed(),
        source,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Capture {
    /// stdout and stderr to the log, through one pipe.
    Merged,
    /// stdout returned, stderr to the log.
    Stdout,
}

/// A spawned child whose process group is killed on drop unless the child has been reaped
/// (tokio's `Child::id` is `None` from then on). While the child is not reaped its pid,
/// which is the group's id, cannot be reused, so the kill cannot hit another group.
struct Group {
    child: tokio::process::Child,
}

impl Group {
    fn kill(&self) {
        if let Some(pid) = self.child.id() {
            kill_group(pid);
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

fn kill_group(pid: u32) {
    let Ok(pgid) = i32::try_from(pid) else {
        tracing::warn!(pid, "process id out of range: cannot kill its group");
        return;
    };
    match killpg(Pid::from_raw(pgid), Signal::SIGKILL) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => tracing::warn!(pgid, "cannot kill process group: {e}"),
    }
}

async fn run(job: &Job, cmd: &Command, capture: Capture) -> Result<Vec<u8>, ProcessError> {
    let command = cmd.printed();
    let io_error = |source| ProcessError::Io {
        command: command.clone(),
        source,
    };

    // The hook only sends the reason: the kill is done here, by the one task that also
    // reaps the child, so it can never signal a process group id that has been reused.
    // The hook is removed when this command is done.
    let (cancel_tx, mut cancelled) = oneshot::channel::<String>();
    let _hook = job.cancel_hook(move |reason| {
        let _ = cancel_tx.send(reason.to_string());
    });
    if let Ok(reason) = cancelled.try_recv() {
        return Err(ProcessError::Cancelled { command, reason });
    }

    job.log(format_args!("Exec: {command}"));

    let mut builder = cmd.build();
    let merged = match capture {
        Capture::Merged => {
            let (reader, stdout, stderr) = shared_pipe().map_err(io_error)?;
            builder.stdout(stdout).stderr(stderr);
            Some(reader)
        }
        Capture::Stdout => {
            builder.stdout(Stdio::piped()).stderr(Stdio::piped());
            None
        }
    };
    let spawned = builder.spawn();
    // The builder holds the parent's copies of the pipe's writing end: close them now, or
    // the output would never reach its end.
    drop(builder);
    let mut group = Group {
        child: spawned.map_err(|source| ProcessError::Spawn {
            command: command.clone(),
            source,
        })?,
    };

    let stdin = group.child.stdin.take();
    let (output, log_only) = match merged {
        Some(reader) => {
            let reader = std::process::ChildStdout::from(std::os::fd::OwnedFd::from(reader));
            let reader = tokio::process::ChildStdout::from_std(reader).map_err(io_error)?;
            (Output::Log(reader), None)
        }
        None => {
            let (Some(stdout), Some(stderr)) =
                (group.child.stdout.take(), group.child.stderr.take())
            else {
                return Err(io_error(io::Error::other(
                    "the child's output pipes are missing",
                )));
            };
            (Output::Capture(stdout), Some(stderr))
        }
    };

    let io = async {
        let write_stdin = async {
            match (stdin, &cmd.stdin) {
                (Some(mut pipe), Some(data)) => match pipe.write_all(data).await {
                    // The command need not read all its input.
                    Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
                    other => other,
                },
                _ => Ok(()),
            }
            // The pipe is dropped, so closed, here.
        };
        let read_output = async {
            match output {
                Output::Log(reader) => to_log(job, reader).await.map(|()| Vec::new()),
                Output::Capture(mut stdout) => {
                    let mut buf = Vec::new();
                    stdout.read_to_end(&mut buf).await.map(|_| buf)
                }
            }
        };
        let read_stderr = async {
            match log_only {
                Some(stderr) => to_log(job, stderr).await,
                None => Ok(()),
            }
        };
        let (w, out, err) = tokio::join!(write_stdin, read_output, read_stderr);
        w?;
        err?;
        out
    };

    // First the output to its end, then the exit status: the child is reaped only after
    // that, so a cancel meanwhile still finds its process group id reserved.
    let stdout = tokio::select! {
        out = io => out.map_err(io_error)?,
        reason = &mut cancelled => {
            return Err(cancel(group, command, reason).await);
        }
    };
    let status = tokio::select! {
        status = group.child.wait() => status.map_err(io_error)?,
        reason = &mut cancelled => {
            return Err(cancel(group, command, reason).await);
        }
    };
    check_status(cmd, command, status).map(|()| stdout)
}

/// One pipe, both ends close-on-exec (so no other child inherits them): its reading end,
/// and two handles on its writing end, for a child's stdout and stderr.
fn shared_pipe() -> io::Result<(io::PipeReader, Stdio, Stdio)> {
    let (reader, writer) = io::pipe()?;
    let writer2 = writer.try_clone()?;
    Ok((reader, Stdio::from(writer), Stdio::from(writer2)))
}

enum Output {
    Log(tokio::process::ChildStdout),
    Capture(tokio::process::ChildStdout),
}

/// Kill the group, reap the child, and say why.
async fn cancel(
    mut group: Group,
    command: String,
    reason: Result<String, oneshot::error::RecvError>,
) -> ProcessError {
    // The sender is dropped unsent only if the job drops its hooks without running them;
    // stop the command all the same.
    let reason = reason.unwrap_or_else(|_| "the job dropped its cancel hook".to_string());
    group.kill();
    if let Err(e) = group.child.wait().await {
        tracing::warn!(command = %command, "cannot reap a killed command: {e}");
    }
    ProcessError::Cancelled { command, reason }
}

async fn to_log(job: &Job, mut reader: impl AsyncRead + Unpin) -> io::Result<()> {
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        job.write(&buf[..n]);
    }
}

fn check_status(cmd: &Command, command: String, status: ExitStatus) -> Result<(), ProcessError> {
    if let Some(code) = status.code() {
        return match code {
            0 => Ok(()),
            127 => Err(ProcessError::NotInstalled {
                command,
                program: cmd.program.to_string_lossy().into_owned(),
            }),
            status => Err(ProcessError::Exit { command, status }),
        };
    }
    let name = match status.signal() {
        Some(n) => match Signal::try_from(n) {
            Ok(sig) => sig.as_str().to_string(),
            Err(_) => format!("signal {n}"),
        },
        None => format!("unknown status {}", status.into_raw()),
    };
    Err(ProcessError::Signal {
        command,
        signal: name,
    })
}

/// A temporary directory, `$TMPDIR/<prefix><random hex>` with mode 0700, removed with
/// everything in it when dropped (a failure to remove it is reported through `tracing`).
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Create a new temporary directory in [`std::env::temp_dir`] (`$TMPDIR`, else
    /// `/tmp`), named `prefix` followed by 16 random hex digits (OCaml's default prefix is
    /// `tmp-`).
    pub fn new(prefix: &str) -> io::Result<TempDir> {
        TempDir::new_in(std::env::temp_dir(), prefix)
    }

    /// Like [`TempDir::new`], in `parent` instead of `$TMPDIR`.
    pub fn new_in(parent: impl AsRef<Path>, prefix: &str) -> io::Result<TempDir> {
        let parent = parent.as_ref();
        let mut attempts = 0;
        loop {
            let path = parent.join(format!("{prefix}{:016x}", fastrand::u64(..)));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => {
                    let dir = TempDir { path };
                    // The mode given to mkdir is cut by the umask; make it exactly 0700.
                    std::fs::set_permissions(&dir.path, std::fs::Permissions::from_mode(0o700))?;
                    return Ok(dir);
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists && attempts < 10 => {
                    attempts += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        match std::fs::remove_dir_all(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("cannot remove {}: {e}", self.path.display()),
        }
    }
}

/// Run `f` with a fresh temporary directory (see [`TempDir::new`]) and remove the
/// directory afterwards, whatever `f` returns, and also if it panics or its future is
/// dropped. The outer error is a failure to create the directory.
///
/// ```
/// # let rt = tokio::runtime::Runtime::new()?;
/// # rt.block_on(async {
/// let mut seen = None;
/// let n = current::process::with_tmpdir("tmp-", |dir| {
///     seen = Some(dir.clone());
///     async move {
///         std::fs::write(dir.join("data"), "42")?;
///         std::fs::read_to_string(dir.join("data"))?.parse::<u32>().map_err(io::Error::other)
///     }
/// })
/// .await??;
/// assert_eq!(n, 42);
/// assert!(!seen.unwrap().exists());
/// # Ok::<(), std::io::Error>(())
/// # })?;
/// # use std::io;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn with_tmpdir<F, Fut, T>(prefix: &str, f: F) -> io::Result<T>
where
    F: FnOnce(PathBuf) -> Fut,
    Fut: Future<Output = T>,
{
    let dir = TempDir::new(prefix)?;
    let result = f(dir.path().to_owned()).await;
    // Remove it off the async threads when there is a tokio runtime to do it.
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            if let Err(e) = handle.spawn_blocking(move || drop(dir)).await {
                tracing::warn!("removing a temporary directory failed: {e}");
            }
        }
        Err(_) => drop(dir),
    }
    Ok(result)
}
