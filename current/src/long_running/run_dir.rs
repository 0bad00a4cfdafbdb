//! A long-running job's run directory and the wrapper script that runs in it.
//!
//! Every job, whatever its backend, runs `wrapper.sh` in its own directory under
//! `<state dir>/run/`. The wrapper writes its pid, a start marker, the command's stdout
//! and stderr, and last the command's exit code into `exit` (written to a temporary
//! file and renamed, so a reader never sees half of it). The exit marker, not the
//! scheduler, says whether the job succeeded.
//!
//! ```
//! use current::long_running::{RunDir, Script};
//!
//! # let dir = std::env::temp_dir().join(format!("current-run-dir-doc-{}", std::process::id()));
//! let run = RunDir::new(dir.join("run").join("job-1"));
//! run.prepare(&Script::new("echo hello; exit 3"))?;
//! let status = std::process::Command::new("bash").arg(run.wrapper()).status()?;
//! assert_eq!(status.code(), Some(3));
//! assert_eq!(run.exit_marker()?, Some(3));
//! assert_eq!(std::fs::read_to_string(run.stdout())?, "hello\n");
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::process::quote;

/// What a long-running job runs: a bash script, in a directory, with extra environment
/// variables.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Script {
    /// The script's text, run by bash.
    pub body: String,
    /// The directory it runs in (by default, its run directory).
    pub cwd: Option<PathBuf>,
    /// Variables added to its environment.
    pub env: Vec<(String, String)>,
}

impl Script {
    /// The script `body`, run in its run directory.
    pub fn new(body: impl Into<String>) -> Script {
        Script {
            body: body.into(),
            cwd: None,
            env: Vec::new(),
        }
    }

    /// Run it in `dir`.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Script {
        self.cwd = Some(dir.into());
        self
    }

    /// Add `key=value` to its environment.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Script {
        self.env.push((key.into(), value.into()));
        self
    }
}

/// The directory of one long-running job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunDir(PathBuf);

impl RunDir {
    /// The run directory at `path`.
    pub fn new(path: impl Into<PathBuf>) -> RunDir {
        RunDir(path.into())
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The user's script.
    pub fn script(&self) -> PathBuf {
        self.0.join("script.sh")
    }

    /// The wrapper that runs the script and writes the markers.
    pub fn wrapper(&self) -> PathBuf {
        self.0.join("wrapper.sh")
    }

    /// The script's standard output.
    pub fn stdout(&self) -> PathBuf {
        self.0.join("stdout")
    }

    /// The script's standard error.
    pub fn stderr(&self) -> PathBuf {
        self.0.join("stderr")
    }

    /// The wrapper's pid (its process group when started with `setsid`).
    pub fn pid_file(&self) -> PathBuf {
        self.0.join("pid")
    }

    /// Written when the wrapper starts: the Unix time.
    pub fn start_marker(&self) -> PathBuf {
        self.0.join("started")
    }

    /// Written last: the script's exit code.
    pub fn exit_file(&self) -> PathBuf {
        self.0.join("exit")
    }

    /// Create the directory and write the script and its wrapper, replacing any earlier
    /// ones (and removing the markers of an earlier attempt).
    pub fn prepare(&self, script: &Script) -> io::Result<()> {
        std::fs::create_dir_all(&self.0)?;
        for marker in [self.exit_file(), self.pid_file(), self.start_marker()] {
            match std::fs::remove_file(&marker) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        std::fs::write(self.script(), &script.body)?;
        std::fs::write(self.wrapper(), self.wrapper_text(script))?;
        Ok(())
    }

    /// The wrapper script's text: what a scheduler's batch script runs after its own
    /// header lines.
    pub fn wrapper_text(&self, script: &Script) -> String {
        let dir = quote(&self.0);
        let cwd = quote(script.cwd.as_deref().unwrap_or(&self.0));
        let mut env = String::new();
        for (k, v) in &script.env {
            env.push_str(&format!("export {k}={}\n", quote(v)));
        }
        format!(
            r#"#!/bin/bash
# Written by current: runs script.sh and records how it went. Do not edit.
run_dir={dir}
echo $$ > "$run_dir/pid.tmp" && mv -f "$run_dir/pid.tmp" "$run_dir/pid"
date -u +%s > "$run_dir/started"
export CURRENT_RUN_DIR="$run_dir"
{env}if cd {cwd}; then
  bash "$run_dir/script.sh" > "$run_dir/stdout" 2> "$run_dir/stderr" < /dev/null
  code=$?
else
  echo "cannot enter the directory" {cwd} > "$run_dir/stderr"
  code=127
fi
echo "$code" > "$run_dir/exit.tmp" && mv -f "$run_dir/exit.tmp" "$run_dir/exit"
exit "$code"
"#
        )
    }

    /// The exit code in the marker; `None` until the wrapper has written it. A marker
    /// that is not a number is an error naming the file.
    pub fn exit_marker(&self) -> io::Result<Option<i32>> {
        let path = self.exit_file();
        match std::fs::read_to_string(&path) {
            Ok(text) => text.trim().parse().map(Some).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: not an exit code: {:?}", path.display(), text.trim()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The pid the wrapper wrote; `None` until it has.
    pub fn pid(&self) -> io::Result<Option<i32>> {
        let path = self.pid_file();
        match std::fs::read_to_string(&path) {
            Ok(text) => text.trim().parse().map(Some).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: not a pid: {:?}", path.display(), text.trim()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether the wrapper has started.
    pub fn started(&self) -> bool {
        self.start_marker().exists()
    }
}
