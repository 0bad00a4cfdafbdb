//! The local CI end to end: real git repositories, the real `local_ci` binary, `--once`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `local_ci` example, built by `cargo test -p examples` (not by `--test local_ci`
/// alone) next to this test's binary.
fn local_ci() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    let debug = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    debug.join("examples").join("local_ci")
}

/// A scratch directory with a repository in `repo/` and state in `state/`.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "current-local-ci-{name}-{}-{:08x}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::create_dir_all(dir.join("repo")).expect("a scratch directory");
        let s = Scratch(dir);
        s.git(&["init", "--quiet", "--initial-branch=main"]);
        s
    }

    fn repo(&self) -> PathBuf {
        self.0.join("repo")
    }

    fn git(&self, args: &[&str]) {
        let out = Command::new("git")
            .arg("-C")
            .arg(self.repo())
            .args(["-c", "user.name=test", "-c", "user.email=test@localhost"])
            .args(args)
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn write(&self, file: &str, text: &str) {
        std::fs::write(self.repo().join(file), text).expect("a file of the repository");
    }

    fn commit(&self, message: &str) {
        self.git(&["add", "."]);
        self.git(&["commit", "--quiet", "-m", message]);
    }

    fn run(&self, extra: &[&str]) -> Output {
        let out = Command::new(local_ci())
            .arg("--repo")
            .arg(self.repo())
            .arg("--state-dir")
            .arg(self.0.join("state"))
            .arg("--once")
            .args(extra)
            .output()
            .expect("local_ci runs (built by cargo test)");
        out
    }

    /// The logs of the step jobs, with the text after `New job: `, in the order of their
    /// ids (jobs started in one second are in no particular order).
    fn step_logs(&self) -> Vec<(String, String)> {
        let mut logs: Vec<(String, String, String)> = Vec::new();
        let jobs = self.0.join("state").join("job");
        let Ok(days) = std::fs::read_dir(&jobs) else {
            return Vec::new();
        };
        for day in days.flatten() {
            for job in std::fs::read_dir(day.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = job.file_name().to_string_lossy().into_owned();
                if !name.contains("-step-") {
                    continue;
                }
                let text = std::fs::read_to_string(job.path()).unwrap_or_default();
                let title = text
                    .lines()
                    .next()
                    .and_then(|l| l.split("New job: ").nth(1))
                    .unwrap_or("?")
                    .to_string();
                logs.push((
                    format!("{}/{name}", day.file_name().to_string_lossy()),
                    title,
                    text,
                ));
            }
        }
        logs.sort();
        logs.into_iter()
            .map(|(_, title, text)| (title, text))
            .collect()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn explain(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const TWO_STEPS: &str = r#"
[[step]]
name = "build"
command = "echo built from $(cat src.txt)"
reads = ["src.txt"]

[[step]]
name = "docs"
command = "echo docs from $(cat docs.txt)"
reads = ["docs.txt"]
"#;

#[test]
fn steps_run_once_and_a_change_reruns_only_what_it_touches() {
    let s = Scratch::new("two-steps");
    s.write(".current-ci.toml", TWO_STEPS);
    s.write("src.txt", "v1");
    s.write("docs.txt", "d1");
    s.commit("first");

    let out = s.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    assert!(
        stdout(&out).starts_with("local_ci: following "),
        "{}",
        explain(&out)
    );
    assert!(
        stdout(&out).contains("\nresult: Ok: ()\n"),
        "{}",
        explain(&out)
    );
    let logs = s.step_logs();
    let titles: Vec<&str> = logs.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(titles.len(), 2, "{titles:?}");
    assert!(
        titles.contains(&"build") && titles.contains(&"docs"),
        "{titles:?}"
    );
    let build = &logs
        .iter()
        .find(|(t, _)| t == "build")
        .expect("the build")
        .1;
    assert!(build.contains("\nbuilt from v1\n"), "{build}");
    assert!(build.ends_with("Job succeeded\n"), "{build}");

    // The same commit again: nothing runs.
    let out = s.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    assert_eq!(s.step_logs().len(), 2, "a restart reruns nothing");

    // A change to the build's input only: only the build runs.
    s.write("src.txt", "v2");
    s.commit("second");
    let out = s.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let logs = s.step_logs();
    assert_eq!(
        logs.len(),
        3,
        "{:?}",
        logs.iter().map(|l| &l.0).collect::<Vec<_>>()
    );
    let newest_build = logs
        .iter()
        .filter(|(t, _)| t == "build")
        .map(|(_, text)| text)
        .find(|text| text.contains("built from v2"));
    assert!(newest_build.is_some(), "the build ran again for v2");
}

#[test]
fn a_failing_step_exits_1_with_the_log_rule_message_and_is_not_rerun() {
    let s = Scratch::new("failing");
    s.write(
        ".current-ci.toml",
        r#"
[[step]]
name = "check"
command = "echo 'FAILED: the widget is broken'; exit 3"

[[step]]
name = "after"
command = "echo never"
needs = ["check"]
"#,
    );
    s.commit("broken");
    let out = s.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
    assert!(
        stdout(&out).contains("\nresult: Error: check, after failed: the widget is broken\n"),
        "{}",
        explain(&out)
    );
    let logs = s.step_logs();
    assert_eq!(logs.len(), 1, "the step that needs it does not run");
    assert!(logs[0].1.contains("exited with status 3"), "{}", logs[0].1);

    let out = s.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
    assert_eq!(
        s.step_logs().len(),
        1,
        "a failure is not rerun for the same key"
    );
}

#[test]
fn a_step_that_waits_for_confirmation_exits_2() {
    let s = Scratch::new("confirm");
    s.write(
        ".current-ci.toml",
        r#"
[[step]]
name = "deploy"
command = "echo deploying"
level = "dangerous"
"#,
    );
    s.commit("deploy");
    let out = s.run(&["--confirm", "above-average"]);
    assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
    assert!(
        stdout(&out).contains("\nresult: Waiting for confirmation"),
        "{}",
        explain(&out)
    );
}

#[test]
fn a_cargo_project_without_a_steps_file_gets_build_and_test() {
    let s = Scratch::new("cargo");
    s.write(
        "Cargo.toml",
        "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    );
    std::fs::create_dir_all(s.repo().join("src")).expect("src");
    s.write(
        "src/lib.rs",
        "#[test]\nfn works() { assert_eq!(1 + 1, 2); }\n",
    );
    s.commit("a crate");
    let out = s.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let logs = s.step_logs();
    let mut titles: Vec<&str> = logs.iter().map(|(t, _)| t.as_str()).collect();
    titles.sort();
    assert_eq!(titles, ["build", "test"], "{titles:?}");
    let test = &logs.iter().find(|(t, _)| t == "test").expect("the tests").1;
    assert!(test.contains("test works ... ok"), "{test}");
    assert!(
        s.0.join("state/target/repo/debug").is_dir(),
        "the steps share one CARGO_TARGET_DIR per repository"
    );
}

#[test]
fn a_bad_steps_file_is_a_failure_that_names_it() {
    let s = Scratch::new("bad");
    s.write(".current-ci.toml", "[[step]]\nname = \"x\"\n");
    s.commit("bad");
    let out = s.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
    assert!(
        stdout(&out)
            .contains("\nresult: Error: .current-ci.toml, line 1: missing field `command`\n"),
        "{}",
        explain(&out)
    );
}

/// Whether Slurm's commands are here; outside CI the test says so and skips.
fn slurm_available(test: &str) -> bool {
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

/// The steps on a long-running backend: each in its own checkout in its run directory,
/// its output in its log, a failure's exit code in the result.
fn steps_on_a_backend(s: &Scratch, backend: &str) {
    s.write(".current-ci.toml", TWO_STEPS);
    s.write("src.txt", "v1");
    s.write("docs.txt", "d1");
    s.commit("first");
    let out = s.run(&["--backend", backend]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let logs = s.step_logs();
    assert_eq!(logs.len(), 2, "{logs:?}");
    let build = &logs
        .iter()
        .find(|(t, _)| t == "build")
        .expect("the build")
        .1;
    assert!(
        build.contains("Submitting long-running job current-"),
        "{build}"
    );
    assert!(build.contains("\nbuilt from v1\n"), "{build}");
    assert!(build.ends_with("Job succeeded\n"), "{build}");
    // The checkouts were removed; the run directories keep the output.
    let runs: Vec<_> = std::fs::read_dir(s.0.join("state").join("run"))
        .expect("run directories")
        .flatten()
        .collect();
    assert_eq!(runs.len(), 2);
    for run in &runs {
        assert!(!run.path().join("checkout").exists());
        assert_eq!(
            std::fs::read_to_string(run.path().join("exit")).unwrap(),
            "0\n"
        );
    }

    s.write(
        ".current-ci.toml",
        &TWO_STEPS.replace("echo built from $(cat src.txt)", "echo broken; exit 3"),
    );
    s.commit("broken");
    let out = s.run(&["--backend", backend]);
    assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
    assert!(stdout(&out).contains("exit code 3"), "{}", explain(&out));
}

#[test]
fn steps_run_detached_with_the_local_backend() {
    let s = Scratch::new("backend-local");
    steps_on_a_backend(&s, "local");
}

#[test]
fn steps_run_on_slurm_with_the_slurm_backend() {
    if !slurm_available("steps_run_on_slurm_with_the_slurm_backend") {
        return;
    }
    let s = Scratch::new("backend-slurm");
    steps_on_a_backend(&s, "slurm");
}
