//! `current-ctl` against a running engine's web API.

use std::process::{Command, Output};

use current::term::{Active, ErrorKind};
use current::web::Renderer;

use super::http::{Served, DEADLINE};
use super::pages::{job_of, served, Out};

fn ctl(s: &Served<Out>, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_current-ctl"))
        .arg("--url")
        .arg(format!("http://{}", s.addr))
        .args(args)
        .output()
        .expect("current-ctl runs")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn the_control_client_reads_and_acts() {
    let s = served("web-ctl", Renderer::Builtin);
    let greet = job_of(&s, "greet");
    let deploy = job_of(&s, "deploy");

    let state = ctl(&s, &["state"]);
    assert!(state.status.success(), "{}", err(&state));
    assert!(
        out(&state).contains("\"result\": \"Waiting for confirmation...\""),
        "{}",
        out(&state)
    );
    let stats = ctl(&s, &["stats"]);
    assert!(
        out(&stats).contains("\"waiting_for_confirmation\": 1"),
        "{}",
        out(&stats)
    );
    assert!(out(&ctl(&s, &["dot"])).starts_with("digraph pipeline {"));
    assert!(out(&ctl(&s, &["jobs"])).contains(&deploy));
    assert_eq!(
        out(&ctl(&s, &["ops"])).trim(),
        "[\n  \"it::web::pages::greet\"\n]"
    );
    assert!(out(&ctl(&s, &["job-status", &deploy])).contains("\"waiting_for_confirmation\": true"));
    let log = ctl(&s, &["log", &greet, "--follow"]);
    assert!(out(&log).ends_with("Job succeeded\n"), "{}", out(&log));
    let query = ctl(
        &s,
        &["query", "--ok", "true", "--op", "it::web::pages::greet"],
    );
    assert!(
        out(&query).contains(&format!("\"job\": \"{greet}\"")),
        "{}",
        out(&query)
    );

    let refused = ctl(&s, &["cancel", &greet]);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        err(&refused).trim(),
        format!(
            "current-ctl: POST /api/job/{greet}/cancel: 400: Job does not support cancel (already finished?)"
        )
    );
    let approved = ctl(&s, &["approve", &deploy]);
    assert!(approved.status.success(), "{}", err(&approved));
    s.engine()
        .wait_until(
            |snap| snap.result == Err(ErrorKind::Active(Active::Running)),
            DEADLINE,
        )
        .expect("running once approved");
    assert!(ctl(&s, &["cancel", &deploy]).status.success());
    s.engine()
        .wait_until(
            |snap| snap.result == Err(ErrorKind::msg("Cancelled")),
            DEADLINE,
        )
        .expect("cancelled");

    assert_eq!(
        out(&ctl(&s, &["confirm", "dangerous"])).trim(),
        "{\n  \"level\": \"dangerous\"\n}"
    );
    assert_eq!(
        out(&ctl(&s, &["confirm"])).trim(),
        "{\n  \"level\": \"dangerous\"\n}"
    );
    assert_eq!(
        out(&ctl(&s, &["confirm", "none"])).trim(),
        "{\n  \"level\": null\n}"
    );
    let rebuilt = ctl(&s, &["rebuild-all", &greet]);
    assert!(
        out(&rebuilt).contains("\"not_rebuilt\": []"),
        "{}",
        out(&rebuilt)
    );

    let nowhere = Command::new(env!("CARGO_BIN_EXE_current-ctl"))
        .args(["--url", "ftp://x", "state"])
        .output()
        .expect("runs");
    assert_eq!(
        err(&nowhere).trim(),
        "current-ctl: the url \"ftp://x\" must start with http://"
    );
}
