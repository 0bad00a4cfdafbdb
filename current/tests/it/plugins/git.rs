//! `plugins::git`: following a branch as commits land, checkouts, tree hashes, errors.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use current::engine::{Engine, EngineOptions};
use current::job::Job;
use current::plugins::git::{self, Commit, Local};
use current::term::ErrorKind;

use crate::store::StateDir;
use crate::support::runtime;

const DEADLINE: Duration = Duration::from_secs(30);

fn run_git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["-c", "user.name=test", "-c", "user.email=test@localhost"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A repository with one commit on `main`; returns it and the commit's hash.
fn repo(dir: &StateDir) -> (PathBuf, String) {
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("src")).expect("the repository's directory");
    run_git(&repo, &["init", "--quiet", "--initial-branch=main"]);
    std::fs::write(repo.join("src/a.txt"), "a1").expect("a file");
    std::fs::write(repo.join("b.txt"), "b1").expect("a file");
    run_git(&repo, &["add", "."]);
    run_git(&repo, &["commit", "--quiet", "-m", "first"]);
    let hash = run_git(&repo, &["rev-parse", "HEAD"]);
    (repo, hash)
}

fn commit_file(repo: &Path, file: &str, text: &str) -> String {
    std::fs::write(repo.join(file), text).expect("a file");
    run_git(repo, &["commit", "--quiet", "-am", "change"]);
    run_git(repo, &["rev-parse", "HEAD"])
}

#[test]
fn the_head_follows_new_commits_and_branches() {
    let dir = StateDir::new("git-head");
    let (repo, first) = repo(&dir);
    run_git(&repo, &["branch", "other"]);
    let rt = runtime();
    let local = Local::new(&repo);
    let engine = Engine::start(
        EngineOptions::new(dir.path().join("state"), rt.handle().clone()),
        {
            let local = local.clone();
            move || local.head(None).pair(&local.head(Some("other")))
        },
    )
    .expect("the engine starts");
    let commit = |hash: &str, gref: &str| Commit {
        repo: repo.clone(),
        gref: gref.to_string(),
        hash: hash.to_string(),
    };
    engine
        .wait_until(
            |s| {
                s.result
                    == Ok((
                        commit(&first, "refs/heads/main"),
                        commit(&first, "refs/heads/other"),
                    ))
            },
            DEADLINE,
        )
        .expect("both heads");

    // A commit on main is seen (the refs are watched).
    let second = commit_file(&repo, "b.txt", "b2");
    engine
        .wait_until(
            |s| matches!(&s.result, Ok((main, _)) if main.hash == second),
            DEADLINE,
        )
        .expect("the new head of main");

    // Checking out the other branch changes what `head(None)` follows.
    run_git(&repo, &["checkout", "--quiet", "other"]);
    let third = commit_file(&repo, "b.txt", "b3");
    engine
        .wait_until(
            |s| {
                s.result
                    == Ok((
                        commit(&third, "refs/heads/other"),
                        commit(&third, "refs/heads/other"),
                    ))
            },
            DEADLINE,
        )
        .expect("the checked-out branch");
    assert_eq!(commit(&third, "refs/heads/other").short(), &third[..8]);
    engine.shutdown("done").expect("a clean shutdown");
}

#[test]
fn a_missing_branch_or_repository_is_a_failure_that_names_it() {
    let dir = StateDir::new("git-missing");
    let (repo, _) = repo(&dir);
    let rt = runtime();
    let missing = dir.path().join("nowhere");
    let engine = Engine::start(
        EngineOptions::new(dir.path().join("state"), rt.handle().clone()),
        {
            let (repo, missing) = (repo.clone(), missing.clone());
            move || {
                Local::new(&repo)
                    .head(Some("nope"))
                    .pair(&Local::new(&missing).head(None))
            }
        },
    )
    .expect("the engine starts");
    let snap = engine
        .wait_until(
            |s| matches!(&s.result, Err(ErrorKind::Msg(m)) if m.contains("nope")),
            DEADLINE,
        )
        .expect("a failure");
    let Err(ErrorKind::Msg(msg)) = &snap.result else {
        unreachable!()
    };
    assert!(
        msg.starts_with(&format!(
            "git in {}: `git -C {} rev-parse --verify --quiet refs/heads/nope^{{commit}}` failed: there is no branch \"nope\".",
            repo.display(),
            repo.display()
        )),
        "{msg}"
    );
    engine.shutdown("done").expect("a clean shutdown");

    let err = rt
        .block_on(git::head_of(&missing, None))
        .expect_err("no repository there");
    assert_eq!(err.repo, missing);
    assert_eq!(
        err.command,
        format!("git -C {} rev-parse --absolute-git-dir", missing.display())
    );
    assert!(err.message.contains("cannot change to"), "{err}");
}

#[test]
fn tree_hashes_change_only_with_the_paths_read() {
    let dir = StateDir::new("git-tree");
    let (repo, first) = repo(&dir);
    let second = commit_file(&repo, "b.txt", "b2");
    let rt = runtime();
    let at = |hash: &str| Commit {
        repo: repo.clone(),
        gref: "refs/heads/main".into(),
        hash: hash.into(),
    };
    let src = vec!["src".to_string()];
    let (src1, src2) = rt.block_on(async {
        (
            git::tree_hash(&at(&first), &src).await.expect("a hash"),
            git::tree_hash(&at(&second), &src).await.expect("a hash"),
        )
    });
    assert_eq!(src1, src2, "src did not change");
    assert!(src1.starts_with("src "), "{src1}");
    let (all1, all2, none) = rt.block_on(async {
        (
            git::tree_hash(&at(&first), &[]).await.expect("a hash"),
            git::tree_hash(&at(&second), &[]).await.expect("a hash"),
            git::tree_hash(&at(&second), &["missing".to_string()])
                .await
                .expect("a hash"),
        )
    });
    assert_ne!(all1, all2, "the whole tree changed");
    assert_eq!(none, "missing -");
}

#[test]
fn a_checkout_has_the_commits_files_and_is_reset_when_reused() {
    let dir = StateDir::new("git-checkout");
    let (repo, first) = repo(&dir);
    let second = commit_file(&repo, "b.txt", "b2");
    let rt = runtime();
    let work = dir.path().join("work").join("checkout");
    let at = |hash: &str| Commit {
        repo: repo.clone(),
        gref: "refs/heads/main".into(),
        hash: hash.into(),
    };
    rt.block_on(async {
        let job = Job::standalone(dir.path().join("state"), "checkout").expect("a job");
        git::checkout(&job, &at(&first), &work)
            .await
            .expect("a checkout");
        assert_eq!(
            std::fs::read_to_string(work.join("b.txt")).expect("b.txt"),
            "b1"
        );
        std::fs::write(work.join("junk.txt"), "left over").expect("junk");
        git::checkout(&job, &at(&second), &work)
            .await
            .expect("a checkout");
        assert_eq!(
            std::fs::read_to_string(work.join("b.txt")).expect("b.txt"),
            "b2"
        );
        assert!(!work.join("junk.txt").exists(), "cleaned");
        job.complete();
        let log = std::fs::read_to_string(job.log_path()).expect("the log");
        assert!(
            log.contains("\"git\" \"clone\" \"--quiet\" \"--shared\""),
            "{log}"
        );
    });
}
