//! A job's long-running part on its page, in the API and in `current-ctl`: the backend's
//! description, the handle's state, and the backend's queries.

use std::process::Command;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use current::job::Job;
use current::long_running::local::Local;
use current::long_running::{self, Script, Settings};
use current::term::Term;
use current::web::Renderer;
use current::{primitive, Config};

use super::http::{Served, DEADLINE};

static LOCAL: LazyLock<Arc<Local>> = LazyLock::new(|| {
    Arc::new(Local {
        settings: Settings {
            poll_min: Duration::from_millis(50),
            poll_max: Duration::from_millis(200),
            grace: Duration::from_secs(1),
            error_budget: 10,
        },
        ..Local::default()
    })
});

#[primitive]
async fn detached(job: &Job, script: String) -> Result<String, String> {
    let done = long_running::run(job, &LOCAL, &Script::new(script), ())
        .await
        .map_err(|e| e.to_string())?;
    std::fs::read_to_string(done.run_dir.stdout()).map_err(|e| e.to_string())
}

#[test]
fn a_long_running_job_shows_its_backend_and_answers_its_queries() {
    let s = Served::start("web-long", Config::new(None), Renderer::Builtin, || {
        detached(&Term::value("echo out; echo err >&2".to_string()))
    });
    let snap = s
        .engine()
        .wait_until(|snap| snap.result == Ok("out\n".to_string()), DEADLINE)
        .expect("the job succeeds");
    let job = snap.jobs[0].clone();

    let status = s.get(&format!("/api/job/{job}"));
    assert_eq!(status.status, 200, "{status:?}");
    for part in [
        "\"backend\":\"local\"",
        "\"state\":\"succeeded\"",
        "\"queries\":[\"stdout\",\"stderr\",\"processes\"]",
        "\"name\":\"current-",
    ] {
        assert!(status.body.contains(part), "{part} in {}", status.body);
    }

    let page = s.get(&format!("/job/{job}"));
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("<h2>Long-running job</h2>"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("<tr><th>State</th><td>succeeded</td></tr>"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(&format!("<a href=\"/job/{job}/backend/stderr\">stderr</a>")),
        "{}",
        page.body
    );

    let stderr = s.get(&format!("/api/job/{job}/backend/stderr"));
    assert_eq!((stderr.status, stderr.body.as_str()), (200, "err\n"));
    let page = s.get(&format!("/job/{job}/backend/stdout"));
    assert!(
        page.body.contains("<pre id=\"answer\">out\n</pre>"),
        "{}",
        page.body
    );
    assert_eq!(
        s.get(&format!("/api/job/{job}/backend/nothing")).status,
        404
    );

    let ctl = Command::new(env!("CARGO_BIN_EXE_current-ctl"))
        .args(["--url", &format!("http://{}", s.addr)])
        .args(["backend-query", &job, "stdout"])
        .output()
        .expect("current-ctl runs");
    assert!(
        ctl.status.success(),
        "{}",
        String::from_utf8_lossy(&ctl.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ctl.stdout), "out\n");
}
