//! Git, by running `git`: the head commit of a branch of a local repository as an input
//! that follows the branch, checkouts of commits into work directories, and the hashes of
//! the parts of a commit's tree that a step reads.
//!
//! ```no_run
//! use current::plugins::git::Local;
//! use current::term::Term;
//!
//! # fn pipeline() -> Term<String> {
//! let repo = Local::new("/src/my-project");
//! // The head of the branch checked out now; `Some("main")` follows `main` instead.
//! let head = repo.head(None);
//! head.map(|commit| format!("testing {}", commit.short()))
//! # }
//! ```
//!
//! Every error names the repository and the command that failed, with what git printed.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::job::Job;
use crate::monitor::{BoxFuture, Monitor, Refresh, Unwatch};
use crate::process::{self, Command};
use crate::term::Term;

use super::watch;

/// A commit of a repository: where it is, the ref it was found at, and its hash.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Commit {
    /// The repository (its work tree, or a bare repository).
    pub repo: PathBuf,
    /// The ref it was the head of, as `refs/heads/main`.
    pub gref: String,
    /// The full hash.
    pub hash: String,
}

impl Commit {
    /// The first 8 digits of the hash.
    pub fn short(&self) -> &str {
        self.hash.get(..8).unwrap_or(&self.hash)
    }
}

impl fmt::Display for Commit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.repo.display(), self.gref, self.short())
    }
}

/// A failed `git` command.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("git in {repo}: `{command}` failed: {message}")]
pub struct GitError {
    /// The repository.
    pub repo: PathBuf,
    /// The command, as it would be typed.
    pub command: String,
    /// Why: git's own message, or how it could not be run.
    pub message: String,
}

/// A repository on this machine.
#[derive(Clone)]
pub struct Local(Arc<LocalInner>);

struct LocalInner {
    repo: PathBuf,
    /// One monitor per branch followed (`None`: whatever is checked out).
    heads: Mutex<HashMap<Option<String>, Monitor<Commit>>>,
}

impl Local {
    /// The repository at `repo` (not read until a pipeline needs it).
    pub fn new(repo: impl Into<PathBuf>) -> Local {
        Local(Arc::new(LocalInner {
            repo: repo.into(),
            heads: Mutex::new(HashMap::new()),
        }))
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.0.repo
    }

    /// The head commit of `branch`, or, with `None`, of the branch checked out now. It
    /// is read again whenever the repository's refs change (a commit, a checkout, a
    /// fetch).
    #[track_caller]
    pub fn head(&self, branch: Option<&str>) -> Term<Commit> {
        let mut heads = self.0.heads.lock().unwrap_or_else(|e| e.into_inner());
        let key = branch.map(str::to_string);
        let monitor = heads
            .entry(key.clone())
            .or_insert_with(|| {
                let name = match &key {
                    Some(b) => format!("{} {b}", self.0.repo.display()),
                    None => format!("{} head", self.0.repo.display()),
                };
                let (read_repo, watch_repo) = (self.0.repo.clone(), self.0.repo.clone());
                Monitor::new(
                    name,
                    move || -> BoxFuture<Result<Commit, String>> {
                        let (repo, branch) = (read_repo.clone(), key.clone());
                        Box::pin(async move {
                            head_of(&repo, branch.as_deref())
                                .await
                                .map_err(|e| e.to_string())
                        })
                    },
                    move |refresh: Refresh| -> BoxFuture<Result<Unwatch, String>> {
                        let repo = watch_repo.clone();
                        Box::pin(async move {
                            let git_dir = git_dir(&repo).await.map_err(|e| e.to_string())?;
                            let paths = vec![
                                git_dir.join("HEAD"),
                                git_dir.join("refs").join("heads"),
                                git_dir.join("packed-refs"),
                            ];
                            Ok(watch::watch_paths(paths, refresh))
                        })
                    },
                )
            })
            .clone();
        drop(heads);
        monitor.get()
    }
}

/// Run `git -C repo args...` and return its standard output.
pub async fn git(repo: &Path, args: &[&str]) -> Result<String, GitError> {
    let command = format!("git -C {} {}", repo.display(), args.join(" "));
    let error = |message: String| GitError {
        repo: repo.to_path_buf(),
        command: command.clone(),
        message,
    };
    let out = tokio::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| error(format!("cannot run git: {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let status = match out.status.code() {
            Some(code) => format!("exit code {code}"),
            None => "killed by a signal".to_string(),
        };
        return Err(error(if stderr.is_empty() {
            status
        } else {
            format!("{stderr} ({status})")
        }));
    }
    String::from_utf8(out.stdout).map_err(|_| error("its output is not UTF-8".to_string()))
}

/// The repository's git directory, absolute.
pub async fn git_dir(repo: &Path) -> Result<PathBuf, GitError> {
    let dir = git(repo, &["rev-parse", "--absolute-git-dir"]).await?;
    Ok(PathBuf::from(dir.trim()))
}

/// The head commit of `branch` (or of the branch checked out) in `repo`.
pub async fn head_of(repo: &Path, branch: Option<&str>) -> Result<Commit, GitError> {
    let branch = match branch {
        Some(b) => b.to_string(),
        None => {
            // Not a repository at all: git's own message says so.
            git_dir(repo).await?;
            git(repo, &["symbolic-ref", "--quiet", "--short", "HEAD"])
                .await
                .map_err(|e| GitError {
                    message: format!(
                        "no branch is checked out (a detached HEAD?); name one to follow. {}",
                        e.message
                    ),
                    ..e
                })?
                .trim()
                .to_string()
        }
    };
    let gref = format!("refs/heads/{branch}");
    let hash = git(
        repo,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{gref}^{{commit}}"),
        ],
    )
    .await
    .map_err(|e| GitError {
        message: format!("there is no branch {branch:?}. {}", e.message),
        ..e
    })?;
    Ok(Commit {
        repo: repo.to_path_buf(),
        gref,
        hash: hash.trim().to_string(),
    })
}

/// What `paths` are in `commit`: one line per path, with its object's hash (`-` for a
/// path the commit does not have). With no paths, the hash of the whole tree. Two commits
/// whose lines are equal have the same contents at those paths.
pub async fn tree_hash(commit: &Commit, paths: &[String]) -> Result<String, GitError> {
    if paths.is_empty() {
        let tree = git(
            &commit.repo,
            &["rev-parse", &format!("{}^{{tree}}", commit.hash)],
        )
        .await?;
        return Ok(tree.trim().to_string());
    }
    let mut lines = Vec::with_capacity(paths.len());
    for path in paths {
        let clean = path.trim_matches('/');
        let spec = format!("{}:{clean}", commit.hash);
        let hash = match git(&commit.repo, &["rev-parse", "--verify", "--quiet", &spec]).await {
            Ok(h) => h.trim().to_string(),
            Err(_) => "-".to_string(),
        };
        lines.push(format!("{clean} {hash}"));
    }
    Ok(lines.join("\n"))
}

/// Check `commit` out into `dir` (created if needed; a previous checkout there is reused
/// and reset), logging the commands in `job`'s log. The work directory shares the
/// repository's objects (`git clone --shared`), so a checkout costs only the files.
pub async fn checkout(job: &Job, commit: &Commit, dir: &Path) -> Result<(), process::ProcessError> {
    if !dir.join(".git").exists() {
        // git makes the missing directories.
        let clone = Command::new("git")
            .args(["clone", "--quiet", "--shared", "--no-checkout"])
            .arg(commit.repo.display().to_string())
            .arg(dir.display().to_string());
        process::exec(job, &clone).await?;
    }
    let git_in = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(dir.display().to_string())
            .args(args.iter().copied())
    };
    process::exec(
        job,
        &git_in(&["checkout", "--quiet", "--force", "--detach", &commit.hash]),
    )
    .await?;
    process::exec(job, &git_in(&["clean", "--quiet", "-fdx"])).await?;
    Ok(())
}
