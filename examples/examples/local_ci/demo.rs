//! `--demo`: a small sample repository under the state directory, with a few steps, a gate
//! (steps that need others), a list of variants and a step that needs confirmation, and a
//! thread that adds a commit to it now and then.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context as _};

/// How often the demo adds a commit.
const EVERY: Duration = Duration::from_secs(45);

const STEPS: &str = r#"# The demo's steps: see the local_ci example's steps.rs for the format.
[[step]]
name = "lint"
command = "echo checking the style; sleep 1; grep -q 'fn main' src/main.rs"
reads = ["src"]

[[step]]
name = "build"
command = "echo building; sleep 3; wc -c src/*.rs"
reads = ["src"]

[[step]]
name = "test"
command = "echo testing on $CI_VARIANT; sleep 2; test -s src/main.rs"
reads = ["src", "tests"]
needs = ["build"]
variants = ["linux", "macos", "windows"]

[[step]]
name = "docs"
command = "echo building the docs; sleep 2; cat docs/*.md | wc -l"
reads = ["docs"]

[[step]]
name = "deploy"
command = "echo deploying $CI_COMMIT; sleep 1"
needs = ["lint", "test"]
level = "dangerous"
"#;

/// The demo repository, made on the first run.
pub fn create(state_dir: &Path) -> anyhow::Result<PathBuf> {
    let repo = state_dir.join("demo-repo");
    if repo.join(".git").exists() {
        return Ok(repo);
    }
    std::fs::create_dir_all(repo.join("src"))?;
    std::fs::create_dir_all(repo.join("docs"))?;
    std::fs::create_dir_all(repo.join("tests"))?;
    std::fs::write(repo.join(".current-ci.toml"), STEPS)?;
    std::fs::write(
        repo.join("src/main.rs"),
        "fn main() {\n    println!(\"hello\");\n}\n",
    )?;
    std::fs::write(repo.join("docs/index.md"), "# The demo\n")?;
    std::fs::write(repo.join("tests/smoke.sh"), "test -f src/main.rs\n")?;
    git(&repo, &["init", "--quiet", "--initial-branch=main"])?;
    git(&repo, &["add", "."])?;
    git(&repo, &["commit", "--quiet", "-m", "The demo"])?;
    Ok(repo)
}

/// Add a commit every [`EVERY`], touching the docs or the source in turn.
pub fn keep_committing(repo: PathBuf) {
    std::thread::spawn(move || {
        for n in 1u64.. {
            std::thread::sleep(EVERY);
            let (file, line) = if n % 2 == 1 {
                ("docs/index.md", format!("Change {n} to the docs.\n"))
            } else {
                ("src/main.rs", format!("// change {n}\n"))
            };
            let added = std::fs::OpenOptions::new()
                .append(true)
                .open(repo.join(file))
                .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
            let committed = added
                .map_err(anyhow::Error::from)
                .and_then(|()| git(&repo, &["commit", "--quiet", "-am", &format!("Change {n}")]));
            if let Err(e) = committed {
                eprintln!("demo: cannot add a commit: {e:#}");
                return;
            }
        }
    });
}

fn git(repo: &Path, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args([
            "-c",
            "user.name=current demo",
            "-c",
            "user.email=demo@localhost",
        ])
        .args(args)
        .output()
        .with_context(|| format!("running git {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "git {} in {}: {}",
            args.join(" "),
            repo.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
