//! The web page in a real browser: headless Chromium, driven through `chromedriver` with
//! `fantoccini`, against a running `local_ci` (the example binary, built next to this
//! test by `cargo test -p examples`) following a scratch git repository.
//!
//! - With `--renderer graphviz`: the pipeline page `/` shows the diagram (an `<svg>` in the
//!   page's `<object>`) with its boxes, a box links to `/job/<id>`; following it opens the
//!   job's page, whose log streams in while the job runs; its Cancel button ends the job as
//!   cancelled and comes back to the job's page (the log says so, the pipeline's result
//!   too); a running job has no Rebuild button; Rebuild on that finished job
//!   starts a new job, whose page it opens and to which the diagram's box then links.
//! - With `--renderer builtin`: the pipeline page shows the diagram with its boxes, which
//!   link to their jobs, and labels that show their characters (`✔`, not `&#x2714;`).
//!
//! Screenshots of the pipeline page and of the job page are kept under
//! `target/browser-artifacts/`.
//!
//! Skipping: outside CI (the environment variable `CI` unset), a test prints why and
//! returns when `chromedriver` or `/usr/bin/chromium` (Debian's `chromium-driver` and
//! `chromium`) is missing, or, for the graphviz renderer, graphviz's `dot`. Under CI,
//! where `.ci/run` installs them, they must be there and the tests run.
//!
//! Nothing here sleeps to wait for something: every wait polls a condition until a
//! deadline, and prints what it saw last when the deadline passes.
//!
//! Run with `cargo test -p examples --test browser -- --nocapture` after `cargo build -p
//! examples --example local_ci` (`--test browser` alone does not build, nor rebuild, the
//! example), or as part of `cargo test -p examples`, which builds it.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

/// How long any one condition is waited for.
const DEADLINE: Duration = Duration::from_secs(60);

/// How often a condition is checked again while waiting.
const POLL: Duration = Duration::from_millis(100);

/// The browser Debian's `chromium` package installs.
const CHROMIUM: &str = "/usr/bin/chromium";

/// How many numbered lines the slow step prints, one every 0.2 s: far longer than the
/// test, which cancels it.
const TICKS: u32 = 600;

/// The steps of the scratch repository: a quick step, and a slow one that prints
/// `tick N of 600` lines to watch stream in and to cancel.
fn steps() -> String {
    format!(
        r#"
[[step]]
name = "quick"
command = "echo quick done"

[[step]]
name = "slow"
command = "i=1; while [ $i -le {TICKS} ]; do echo \"tick $i of {TICKS}\"; i=$((i + 1)); sleep 0.2; done"
"#
    )
}

/// The `local_ci` example, built by `cargo test -p examples` (not by `--test browser`
/// alone) next to this test's binary.
fn local_ci() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    let debug = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    debug.join("examples").join("local_ci")
}

/// `target/browser-artifacts/`, where the screenshots are kept.
fn artifacts() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("target/<profile>/deps/<test>");
    let dir = target.join("browser-artifacts");
    std::fs::create_dir_all(&dir).expect("creating target/browser-artifacts");
    dir
}

/// Whether the browser (and, with `needs_dot`, graphviz) is there. Under CI it must be:
/// a missing one is a failure. Elsewhere, `false` after printing why the test skips.
fn can_run(test: &str, needs_dot: bool) -> bool {
    let mut missing = Vec::new();
    let runs = |program: &str, arg: &str| {
        Command::new(program)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !runs("chromedriver", "--version") {
        missing.push("chromedriver (Debian package chromium-driver)");
    }
    if !Path::new(CHROMIUM).is_file() {
        missing.push("/usr/bin/chromium (Debian package chromium)");
    }
    if needs_dot && !runs("dot", "-V") {
        missing.push("graphviz's dot (Debian package graphviz)");
    }
    if missing.is_empty() {
        return true;
    }
    let missing = missing.join(", ");
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: under CI the browser test must run, but these are missing (.ci/run installs them): {missing}"
    );
    eprintln!("{test}: skipped: not installed: {missing}");
    false
}

/// Check a condition every [`POLL`] until it gives a value; past [`DEADLINE`], fail with
/// what it saw last. `check` gives `Err(what it sees now)` while the condition does not
/// hold.
async fn wait_until<T>(what: &str, mut check: impl AsyncFnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(seen) if Instant::now() >= deadline => {
                panic!("waited {DEADLINE:?} for {what}; last seen:\n{seen}")
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

/// A scratch directory: the repository in `repo/`, the pipeline's state in `state/`, the
/// browser's profile in `chromium/`, and the processes' output.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "current-browser-{name}-{}-{:08x}",
            std::process::id(),
            fastrand::u32(..)
        ));
        for sub in ["repo", "chromium"] {
            std::fs::create_dir_all(dir.join(sub)).expect("a scratch directory");
        }
        let s = Scratch(dir);
        s.git(&["init", "--quiet", "--initial-branch=main"]);
        std::fs::write(s.repo().join(".current-ci.toml"), steps()).expect("the steps file");
        s.git(&["add", "."]);
        s.git(&["commit", "--quiet", "-m", "first"]);
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

    /// A file for a process's output.
    fn output(&self, name: &str) -> std::fs::File {
        std::fs::File::create(self.0.join(name)).expect("an output file in the scratch dir")
    }

    /// The end of a process's output, for failure messages.
    fn tail(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.0.join(name)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process, in a process group of its own, stopped when dropped: SIGTERM to its
/// group, then SIGKILL to what is left of it (chromedriver's browser is in its group).
struct Process {
    name: &'static str,
    child: Child,
}

impl Process {
    fn spawn(name: &'static str, command: &mut Command) -> Process {
        let child = command
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Process { name, child }
    }

    fn group(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).expect("a pid"))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = signal::killpg(self.group(), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() >= deadline => {
                    eprintln!("{} did not stop on SIGTERM: killing it", self.name);
                    break;
                }
                Ok(None) => std::thread::sleep(POLL),
            }
        }
        let _ = signal::killpg(self.group(), Signal::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `local_ci` on the scratch repository with `renderer`, on a free port; its
/// address (`http://127.0.0.1:PORT`), once it prints it.
fn start_local_ci(scratch: &Scratch, renderer: &str) -> (Process, String) {
    let binary = local_ci();
    assert!(
        binary.is_file(),
        "no {}: `cargo test -p examples` builds it, `cargo test -p examples --test browser` \
         alone does not (run `cargo build -p examples --example local_ci` first)",
        binary.display()
    );
    let mut process = Process::spawn(
        "local_ci",
        Command::new(binary)
            .arg("--repo")
            .arg(scratch.repo())
            .arg("--state-dir")
            .arg(scratch.0.join("state"))
            .args(["--port", "0", "--renderer", renderer])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(scratch.output("local_ci.stderr")),
    );
    let stdout = process.child.stdout.take().expect("local_ci's stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // It prints `web: http://ADDR/ (diagrams: Renderer)` once it listens.
    let deadline = Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(rest) = line.strip_prefix("web: ") {
                    let url = rest.split('/').take(3).collect::<Vec<_>>().join("/");
                    assert!(
                        rest.to_lowercase()
                            .ends_with(&format!("(diagrams: {renderer})")),
                        "local_ci draws with another renderer than {renderer}: {line}"
                    );
                    return (process, url);
                }
                seen.push(line);
            }
            Err(_) => panic!(
                "local_ci did not print its address within {DEADLINE:?}; stdout:\n{}\nstderr:\n{}",
                seen.join("\n"),
                scratch.tail("local_ci.stderr")
            ),
        }
    }
}

/// Start `chromedriver` on a free port and a headless Chromium session through it.
async fn start_browser(scratch: &Scratch) -> (Process, Client) {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port for chromedriver")
        .port();
    let driver = Process::spawn(
        "chromedriver",
        Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(scratch.output("chromedriver.log"))
            .stderr(Stdio::inherit()),
    );
    let profile = scratch.0.join("chromium");
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    .iter()
    .map(|a| a.to_string())
    .chain([
        format!("--window-size={},{}", WINDOW.0, WINDOW.1),
        format!("--user-data-dir={}", profile.display()),
    ])
    .collect::<Vec<_>>();
    let capabilities = serde_json::json!({
        "browserName": "chrome",
        // The job page streams its log in one response that ends with the job: a command
        // must not wait for the page to finish loading.
        "pageLoadStrategy": "none",
        "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
    });
    let serde_json::Value::Object(capabilities) = capabilities else {
        unreachable!("an object")
    };
    let url = format!("http://127.0.0.1:{port}");
    let client = wait_until("chromedriver to start a Chromium session", async || {
        let mut builder =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder
            .capabilities(capabilities.clone())
            .connect(&url)
            .await
            .map_err(|e| {
                format!(
                    "{e}\nchromedriver.log:\n{}",
                    scratch.tail("chromedriver.log")
                )
            })
    })
    .await;
    (driver, client)
}

/// What the diagram of the pipeline page shows: its boxes, the text in it, and its links.
#[derive(Debug)]
struct Diagram {
    boxes: usize,
    text: String,
    /// Each link's text and target.
    links: Vec<(String, String)>,
}

impl Diagram {
    /// The target of the link of the box whose label starts with `label`.
    fn link(&self, label: &str) -> Option<&str> {
        self.links
            .iter()
            .find(|(text, _)| text.trim().starts_with(label))
            .map(|(_, href)| href.as_str())
    }
}

/// Read the diagram of the pipeline page the browser shows: into the `<object>`'s
/// document, and back out. `boxes` selects the boxes.
async fn read_diagram(client: &Client, boxes: &str) -> Result<Diagram, String> {
    let object = client
        .find(Locator::Css("object#pipeline"))
        .await
        .map_err(|e| format!("no object#pipeline: {e}"))?;
    object
        .enter_frame()
        .await
        .map_err(|e| format!("cannot enter the diagram's <object>: {e}"))?;
    let read = read_svg(client, boxes).await;
    let _ = client.enter_parent_frame().await;
    read
}

/// The diagram, read in the document of the `<object>` the client is in.
async fn read_svg(client: &Client, boxes: &str) -> Result<Diagram, String> {
    let svg = client
        .find(Locator::Css("svg"))
        .await
        .map_err(|e| format!("no <svg> in the <object>: {e}"))?;
    let text = svg
        .prop("textContent")
        .await
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    let boxes = client
        .find_all(Locator::Css(boxes))
        .await
        .map_err(|e| e.to_string())?
        .len();
    let mut links = Vec::new();
    for a in client
        .find_all(Locator::Css("svg a"))
        .await
        .map_err(|e| e.to_string())?
    {
        let label = a
            .prop("textContent")
            .await
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        let mut href = None;
        for name in ["href", "xlink:href"] {
            href = href.or(a.attr(name).await.map_err(|e| e.to_string())?);
        }
        if let Some(href) = href {
            links.push((label, href));
        }
    }
    Ok(Diagram { boxes, text, links })
}

/// The path of the page the browser shows.
async fn path(client: &Client) -> Result<String, String> {
    client
        .current_url()
        .await
        .map(|u| u.path().to_string())
        .map_err(|e| e.to_string())
}

/// The text of the first element `css` selects.
async fn text_of(client: &Client, css: &str) -> Result<String, String> {
    let element = client
        .find(Locator::Css(css))
        .await
        .map_err(|e| format!("no {css}: {e}"))?;
    element.text().await.map_err(|e| e.to_string())
}

/// The ticks of the slow step in a log: the `N` of each `tick N of 600` line.
fn ticks(log: &str) -> Vec<u32> {
    let suffix = format!(" of {TICKS}");
    log.lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("tick ")?
                .strip_suffix(&suffix)?
                .parse()
                .ok()
        })
        .collect()
}

/// The browser window's size, but for screenshots of wide diagrams.
const WINDOW: (u32, u32) = (1600, 1000);

/// Save a screenshot of what the browser shows as `target/browser-artifacts/NAME.png`,
/// in a window large enough for the whole diagram, if the page has one.
async fn screenshot(client: &Client, name: &str) {
    let diagram = match client.find(Locator::Css("object#pipeline")).await {
        Ok(object) => object.rectangle().await.ok(),
        Err(_) => None,
    };
    if let Some((x, y, width, height)) = diagram {
        let fit = |size: f64, at: f64, least: u32| ((at + size + 40.0) as u32).clamp(least, 4000);
        client
            .set_window_size(fit(width, x, WINDOW.0), fit(height, y, WINDOW.1))
            .await
            .expect("resizing the window to the diagram");
    }
    let png = client.screenshot().await.expect("a screenshot");
    if diagram.is_some() {
        client
            .set_window_size(WINDOW.0, WINDOW.1)
            .await
            .expect("resizing the window back");
    }
    let path = artifacts().join(format!("{name}.png"));
    std::fs::write(&path, png).expect("writing the screenshot");
    eprintln!("screenshot: {}", path.display());
}

/// Open the pipeline page and wait for its diagram to show the box of `label` linking to
/// a job (to `want`, if given); that job's path.
async fn wait_for_box_link(
    client: &Client,
    base: &str,
    label: &str,
    boxes: &str,
    want: Option<&str>,
) -> String {
    client.goto(&format!("{base}/")).await.expect("opening /");
    let what = match want {
        Some(job) => format!("the box of {label} to link to {job}"),
        None => format!("the box of {label} to link to a job"),
    };
    wait_until(&what, async || {
        let diagram = read_diagram(client, boxes).await?;
        if diagram.boxes < 3 {
            return Err(format!("fewer than 3 boxes ({boxes}): {diagram:#?}"));
        }
        match diagram.link(label) {
            Some(href) if href.starts_with("/job/") && want.is_none_or(|w| w == href) => {
                Ok(href.to_string())
            }
            _ => Err(format!("{diagram:#?}")),
        }
    })
    .await
}

#[tokio::test]
async fn pipeline_page_job_page_log_cancel_and_rebuild() {
    const TEST: &str = "pipeline_page_job_page_log_cancel_and_rebuild";
    if !can_run(TEST, true) {
        return;
    }
    let scratch = Scratch::new("graphviz");
    let (_local_ci, base) = start_local_ci(&scratch, "graphviz");
    let (_driver, client) = start_browser(&scratch).await;
    let boxes = "svg g.node";

    // The pipeline page: the diagram, its boxes, the running slow step's box linking to its
    // job.
    let job = wait_for_box_link(&client, &base, "slow", boxes, None).await;
    let diagram = read_diagram(&client, boxes).await.expect("the diagram");
    for label in ["quick", "slow", "steps"] {
        assert!(diagram.text.contains(label), "no {label} box: {diagram:#?}");
    }
    assert!(
        diagram
            .link("quick")
            .is_some_and(|l| l.starts_with("/job/")),
        "the quick step's box links to its job: {diagram:#?}"
    );
    screenshot(&client, "pipeline").await;

    // Follow the box, as a user clicks it: the link leaves the <object> for the page.
    wait_until("a click on the slow box to open its job page", async || {
        let now = path(&client).await?;
        if now == job {
            return Ok(());
        }
        if now != "/" {
            return Err(format!("the browser is at {now}"));
        }
        let object = client
            .find(Locator::Css("object#pipeline"))
            .await
            .map_err(|e| e.to_string())?;
        object.enter_frame().await.map_err(|e| e.to_string())?;
        let clicked = async {
            let xpath = format!("//*[local-name()='a'][@*[local-name()='href']='{job}']");
            let link = client
                .find(Locator::XPath(&xpath))
                .await
                .map_err(|e| e.to_string())?;
            link.click().await.map_err(|e| e.to_string())
        }
        .await;
        let _ = client.enter_parent_frame().await;
        clicked?;
        Err("clicked; the page has not changed yet".to_string())
    })
    .await;

    // The job page: its id, a Cancel button, and the log streaming in.
    let id = job.trim_start_matches("/job/");
    wait_until("the job page's title", async || {
        let h1 = text_of(&client, "h1").await?;
        if h1 == id {
            Ok(())
        } else {
            Err(h1)
        }
    })
    .await;
    let first = wait_until("tick 3 in the job's log", async || {
        let log = text_of(&client, "pre#log").await?;
        match ticks(&log).last() {
            Some(&n) if n >= 3 => Ok(n),
            _ => Err(log),
        }
    })
    .await;
    let later = wait_until(
        "later ticks in the job's log, on the same page",
        async || {
            let log = text_of(&client, "pre#log").await?;
            match ticks(&log).last() {
                Some(&n) if n >= first + 3 => Ok(n),
                _ => Err(log),
            }
        },
    )
    .await;
    let log = text_of(&client, "pre#log").await.expect("the log");
    assert_eq!(
        ticks(&log),
        (1..=ticks(&log).len() as u32).collect::<Vec<_>>(),
        "the log shows each line once, in order: {log}"
    );
    assert!(
        client.find(Locator::Css("a#end")).await.is_err(),
        "the page is still loading: the log is streamed"
    );
    screenshot(&client, "job").await;
    assert!(
        client
            .find(Locator::Css("form[action$='/rebuild'] button"))
            .await
            .is_err(),
        "a running job has no Rebuild button"
    );
    eprintln!("the log streamed from tick {first} to tick {later}");

    // Cancel: back to the job's own page, then the pipeline page's result says the step
    // was cancelled.
    client
        .find(Locator::Css("form[action$='/cancel'] button"))
        .await
        .expect("a Cancel button on the running job's page")
        .click()
        .await
        .expect("pressing Cancel");
    let job_path = job.clone();
    wait_until("Cancel to lead back to the job's page", async || {
        let now = path(&client).await?;
        if now == job_path {
            Ok(())
        } else {
            Err(format!("the browser is at {now}, not {job_path}"))
        }
    })
    .await;
    client
        .goto(&format!("{base}/"))
        .await
        .expect("the pipeline page");
    wait_until(
        "the pipeline's result to say the step was cancelled",
        async || {
            // The page reloads itself every 5 seconds.
            let result = text_of(&client, "p#result").await?;
            if result.contains("slow failed: Cancelled") {
                Ok(())
            } else {
                Err(result)
            }
        },
    )
    .await;

    // The job's page: the log ends with the cancellation, no Cancel button any more.
    client
        .goto(&format!("{base}{job}"))
        .await
        .expect("the job page again");
    let log = wait_until("the whole log of the cancelled job", async || {
        client
            .find(Locator::Css("a#end"))
            .await
            .map_err(|e| format!("no end of the log yet: {e}"))?;
        text_of(&client, "pre#log").await
    })
    .await;
    assert!(log.contains("Cancelled: Cancelled by user"), "{log}");
    assert!(log.trim_end().ends_with("Job failed: Cancelled"), "{log}");
    let ticked = ticks(&log).len() as u32;
    assert!(
        (later..TICKS).contains(&ticked),
        "the step stopped when cancelled: {ticked} ticks"
    );
    let description = text_of(&client, "p#description")
        .await
        .expect("a description");
    assert!(description.contains("Cancelled"), "{description}");
    assert!(
        client
            .find(Locator::Css("form[action$='/cancel'] button"))
            .await
            .is_err(),
        "a finished job has no Cancel button"
    );

    // Rebuild the finished job: a new job, whose page the browser opens.
    client
        .find(Locator::Css("form[action$='/rebuild'] button"))
        .await
        .expect("a Rebuild button on the finished job's page")
        .click()
        .await
        .expect("pressing Rebuild");
    let rebuilt = wait_until("Rebuild to open a new job's page", async || {
        let now = path(&client).await?;
        if now.starts_with("/job/") && now != job {
            Ok(now)
        } else {
            Err(format!("the browser is at {now}"))
        }
    })
    .await;
    wait_until("the new job's log to stream in", async || {
        let h1 = text_of(&client, "h1").await?;
        let log = text_of(&client, "pre#log").await?;
        if h1 == rebuilt.trim_start_matches("/job/") && !ticks(&log).is_empty() {
            Ok(())
        } else {
            Err(format!("{h1}\n{log}"))
        }
    })
    .await;
    assert!(
        client
            .find(Locator::Css("form[action$='/cancel'] button"))
            .await
            .is_ok(),
        "the new job runs: it has a Cancel button"
    );
    // The pipeline page's box now leads to the new job.
    wait_for_box_link(&client, &base, "slow", boxes, Some(&rebuilt)).await;

    client.close().await.expect("closing the browser");
}

#[tokio::test]
async fn builtin_renderer_draws_the_boxes() {
    const TEST: &str = "builtin_renderer_draws_the_boxes";
    if !can_run(TEST, false) {
        return;
    }
    let scratch = Scratch::new("builtin");
    let (_local_ci, base) = start_local_ci(&scratch, "builtin");
    let (_driver, client) = start_browser(&scratch).await;
    client.goto(&format!("{base}/")).await.expect("opening /");
    let diagram = wait_until("the diagram's boxes", async || {
        let diagram = read_diagram(&client, "svg rect, svg ellipse").await?;
        let labels: BTreeSet<&str> = ["quick", "slow", "steps", "head"]
            .into_iter()
            .filter(|l| diagram.text.contains(l))
            .collect();
        if diagram.boxes >= 6 && labels.len() == 4 {
            Ok(diagram)
        } else {
            Err(format!("{diagram:#?}"))
        }
    })
    .await;
    eprintln!("the builtin renderer drew {} boxes", diagram.boxes);
    screenshot(&client, "pipeline-builtin").await;
    client.close().await.expect("closing the browser");
}

#[tokio::test]
async fn builtin_renderer_boxes_link_to_jobs() {
    const TEST: &str = "builtin_renderer_boxes_link_to_jobs";
    if !can_run(TEST, false) {
        return;
    }
    let scratch = Scratch::new("builtin-links");
    let (_local_ci, base) = start_local_ci(&scratch, "builtin");
    let (_driver, client) = start_browser(&scratch).await;
    let job = wait_for_box_link(&client, &base, "quick", "svg rect, svg ellipse", None).await;
    let diagram = read_diagram(&client, "svg rect, svg ellipse")
        .await
        .expect("the diagram");
    assert!(
        !diagram.text.contains("&#x"),
        "labels show characters, not their escapes: {diagram:#?}"
    );
    client
        .goto(&format!("{base}{job}"))
        .await
        .expect("the job page");
    let log = wait_until("the quick job's log", async || {
        let log = text_of(&client, "pre#log").await?;
        if log.contains("quick done") {
            Ok(log)
        } else {
            Err(log)
        }
    })
    .await;
    eprintln!("{log}");
    client.close().await.expect("closing the browser");
}
