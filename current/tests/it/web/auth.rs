//! Logins, sessions, roles, bearer tokens and CSRF tokens, over a real engine and socket.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use argon2::password_hash::{PasswordHasher, SaltString};
use current::clock::ManualClock;
use current::web::auth::SESSION_LIFETIME;
use current::web::{Anonymous, Auth, Renderer, Tokens, Users};

use super::http::{Response, Served, Setup};
use super::pages::{job_of, served_with, Out};

/// A cheap argon2id hash, so that the tests are quick (the parameters are in the hash).
fn cheap(password: &str) -> String {
    let params = argon2::Params::new(64, 1, 1, None).expect("parameters");
    let salt = SaltString::encode_b64(b"0123456789abcdef").expect("a salt");
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .expect("a hash")
        .to_string()
}

const PROM: &str = "prom-token-0123456789";
const CI: &str = "ci-token-0123456789ab";

fn auth(anonymous: Anonymous) -> Auth {
    let users = format!(
        "# the test's users\nalice:{}:admin\nbob:{}:builder\n",
        cheap("alice-pw"),
        cheap("bob-pw")
    );
    let users = Users::parse(&users, Path::new("users")).expect("the users");
    let tokens = Tokens::parse(
        &format!("prom:{PROM}:monitor\nci:{CI}:builder\n"),
        Path::new("tokens"),
    )
    .expect("the tokens");
    Auth::required(users, tokens).with_anonymous(anonymous)
}

/// The pipeline of the pages' tests (a job done, one waiting for confirmation) behind a
/// login, on a clock that moves only when told to.
fn served(name: &str, anonymous: Anonymous) -> (Served<Out>, ManualClock) {
    let clock = ManualClock::new(SystemTime::now());
    let setup = Setup {
        auth: Some(auth(anonymous)),
        clock: Some(Arc::new(clock.clone())),
    };
    (served_with(name, Renderer::Builtin, setup), clock)
}

/// Log in as `user`: the `Cookie:` header of the session.
fn login(s: &Served<Out>, user: &str, password: &str) -> String {
    let r = try_login(s, user, password, "/jobs");
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(r.header("location"), Some("/jobs"));
    let cookie = r.cookie("__session").expect("a session cookie");
    format!("Cookie: {cookie}\r\n")
}

fn try_login(s: &Served<Out>, user: &str, password: &str, next: &str) -> Response {
    let (cookie, token) = s.form_token("/login", "");
    s.post_form(
        "/login",
        &cookie,
        &format!("user={user}&password={password}&next={next}&csrf={token}"),
    )
}

#[test]
fn a_login_with_the_right_password_opens_a_session_with_the_users_roles() {
    let (s, _clock) = served("web-auth-login", Anonymous::Viewer);
    let page = s.get("/login");
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page
        .body
        .contains("<form id=\"login-form\" method=\"post\" action=\"/login\">"));
    assert!(page.csrf().is_some(), "{}", page.body);
    let set = page
        .headers
        .iter()
        .find(|(n, v)| n == "set-cookie" && v.starts_with("__csrf="))
        .map(|(_, v)| v.clone())
        .expect("a CSRF cookie");
    assert!(
        set.ends_with("; Path=/; HttpOnly; SameSite=Strict"),
        "{set}"
    );

    let wrong = try_login(&s, "bob", "alice-pw", "/jobs");
    assert_eq!(wrong.status, 403, "{wrong:?}");
    assert!(wrong
        .body
        .contains("<p id=\"message\">Wrong user name or password.</p>"));
    assert_eq!(wrong.cookie("__session"), None);
    let nobody = try_login(&s, "carol", "x", "/jobs");
    assert_eq!(nobody.status, 403, "{nobody:?}");
    let offsite = try_login(&s, "bob", "bob-pw", "//evil.example/");
    assert_eq!(offsite.header("location"), Some("/"), "{offsite:?}");

    let right = try_login(&s, "bob", "bob-pw", "/jobs");
    assert_eq!(right.status, 303, "{right:?}");
    let set = right
        .headers
        .iter()
        .find(|(n, v)| n == "set-cookie" && v.starts_with("__session="))
        .map(|(_, v)| v.clone())
        .expect("a session cookie");
    assert!(
        set.ends_with("; Path=/; HttpOnly; SameSite=Strict; Max-Age=604800"),
        "{set}"
    );
    let bob = format!("Cookie: {}\r\n", right.cookie("__session").expect("set"));

    // Bob is a builder: he may rebuild, not start a job that waits for confirmation.
    let greet = job_of(&s, "greet");
    let deploy = job_of(&s, "deploy");
    let page = s.get_with(&format!("/job/{greet}"), &bob);
    assert!(
        page.body.contains("<button>Log out bob</button>"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("<button>Rebuild</button>"),
        "{}",
        page.body
    );
    let (_, token) = s.form_token(&format!("/job/{greet}"), &bob);
    let start = s.post_form(
        &format!("/job/{deploy}/start"),
        &bob,
        &format!("csrf={token}"),
    );
    assert_eq!(start.status, 403, "{start:?}");
    assert!(start
        .body
        .contains("<p>Permission denied - this needs the admin role</p>"));
    let rebuilt = s.post_form(
        &format!("/job/{greet}/rebuild"),
        &bob,
        &format!("csrf={token}"),
    );
    assert_eq!(rebuilt.status, 303, "{rebuilt:?}");
    assert!(rebuilt
        .header("location")
        .is_some_and(|l| l.starts_with("/job/") && !l.ends_with(&greet)));

    // Alice is an admin.
    let alice = login(&s, "alice", "alice-pw");
    let (_, token) = s.form_token("/", &alice);
    let started = s.post_form(
        &format!("/job/{deploy}/start"),
        &alice,
        &format!("csrf={token}"),
    );
    assert_eq!(started.status, 303, "{started:?}");
}

#[test]
fn a_tampered_expired_or_logged_out_session_is_refused() {
    let (s, clock) = served("web-auth-session", Anonymous::Viewer);
    let greet = job_of(&s, "greet");
    let bob = login(&s, "bob", "bob-pw");
    let rebuild = format!("/api/job/{greet}/rebuild");
    let anonymous = "{\"error\":\"Permission denied - you need to log in or send a bearer token\"}";
    let h = "X-Current-Request: 1\r\n";

    // Another user's name under Bob's signature; a changed expiry.
    let value = bob
        .trim_end()
        .strip_prefix("Cookie: __session=")
        .expect("a session");
    let (_, rest) = value.split_once('.').expect("dots");
    use base64::Engine as _;
    let alice = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("alice");
    let mut parts: Vec<String> = value.split('.').map(str::to_string).collect();
    let expiry: u64 = parts[1].parse().expect("an expiry");
    parts[1] = (expiry + 1000).to_string();
    for forged in [format!("{alice}.{rest}"), parts.join(".")] {
        let r = s.post(&rebuild, &format!("{h}Cookie: __session={forged}\r\n"), "");
        assert_eq!(r.status, 401, "{forged}: {r:?}");
        assert_eq!(r.body, anonymous);
    }
    let ok = s.get_with(&format!("/job/{greet}"), &bob);
    assert!(ok.body.contains("<button>Rebuild</button>"), "{}", ok.body);

    // A second before the end of its life it is good; then it is not.
    clock.advance(SESSION_LIFETIME - Duration::from_secs(1));
    let ok = s.get_with(&format!("/job/{greet}"), &bob);
    assert!(
        ok.body.contains("<button>Log out bob</button>"),
        "{}",
        ok.body
    );
    clock.advance(Duration::from_secs(1));
    let late = s.get_with(&format!("/job/{greet}"), &bob);
    assert!(late
        .body
        .contains("<a id=\"login\" href=\"/login\">Log in</a>"));
    assert!(
        !late.body.contains("<button>Rebuild</button>"),
        "{}",
        late.body
    );
    let r = s.post(&rebuild, &format!("{h}{bob}"), "");
    assert_eq!(r.status, 401, "{r:?}");

    // Logging out ends a session even though the browser might keep its cookie.
    let bob = login(&s, "bob", "bob-pw");
    let (_, token) = s.form_token("/", &bob);
    let out = s.post_form("/logout", &bob, &format!("csrf={token}"));
    assert_eq!(out.status, 303, "{out:?}");
    assert_eq!(out.header("location"), Some("/"));
    assert_eq!(out.cookie("__session").as_deref(), Some("__session="));
    let r = s.post(&rebuild, &format!("{h}{bob}"), "");
    assert_eq!(r.status, 401, "{r:?}");
}

#[test]
fn anonymous_users_are_viewers_at_most() {
    let (s, _clock) = served("web-auth-anonymous", Anonymous::Viewer);
    let greet = job_of(&s, "greet");
    let page = s.get("/");
    assert_eq!(page.status, 200, "{page:?}");
    assert!(
        !page.body.contains("action=\"/set/confirm\""),
        "an admin's form"
    );
    let job = s.get(&format!("/job/{greet}"));
    assert_eq!(job.status, 200);
    assert!(
        !job.body.contains("<button>Rebuild</button>"),
        "{}",
        job.body
    );
    assert_eq!(s.get("/log-rules").status, 200);
    assert_eq!(s.get("/api/state").status, 200);

    // A form: refused with a link to log in.
    let (cookie, token) = s.form_token("/login", "");
    let r = s.post_form(
        &format!("/job/{greet}/rebuild"),
        &cookie,
        &format!("csrf={token}"),
    );
    assert_eq!(r.status, 403, "{r:?}");
    assert!(
        r.body.contains(&format!(
            "<p>Permission denied - you need to <a href=\"/login?next=/job/{greet}/rebuild\">log in</a></p>"
        )),
        "{}",
        r.body
    );
    // The API and the metrics: 401.
    let r = s.post(
        "/api/confirm",
        "X-Current-Request: 1\r\n",
        "{\"level\": null}",
    );
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let m = s.get("/metrics");
    assert_eq!(m.status, 401, "{m:?}");

    // With no anonymous role, every page asks for a login.
    let (s, _clock) = served("web-auth-none", Anonymous::None);
    let r = s.get("/jobs?x=1");
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(r.header("location"), Some("/login?next=/jobs%3Fx%3D1"));
    assert_eq!(s.get("/api/state").status, 401);
    assert_eq!(s.get("/login").status, 200);
    let alice = login(&s, "alice", "alice-pw");
    assert_eq!(s.get_with("/jobs", &alice).status, 200);
}

#[test]
fn bearer_tokens_open_the_api_and_the_metrics() {
    let (s, _clock) = served("web-auth-bearer", Anonymous::Viewer);
    let greet = job_of(&s, "greet");
    let prom = format!("Authorization: Bearer {PROM}\r\n");
    let ci = format!("Authorization: Bearer {CI}\r\n");

    let m = s.get_with("/metrics", &prom);
    assert_eq!(m.status, 200, "{m:?}");
    assert!(m.body.contains("current_core_pipeline_stage_total"));
    let m = s.get_with("/metrics", &ci);
    assert_eq!(m.status, 403, "{m:?}");
    assert_eq!(
        m.body,
        "{\"error\":\"Permission denied - this needs the monitor role\"}"
    );
    let bad = s.get_with("/metrics", "Authorization: Bearer nope-nope-nope-nope\r\n");
    assert_eq!(bad.status, 401, "{bad:?}");
    assert_eq!(bad.body, "{\"error\":\"The bearer token is not valid\"}");
    assert_eq!(bad.header("www-authenticate"), Some("Bearer"));
    let basic = s.get_with("/api/state", "Authorization: Basic YTpi\r\n");
    assert_eq!(basic.status, 401, "{basic:?}");

    // A token needs no request header: a cross-site form cannot send one either.
    let rebuild = format!("/api/job/{greet}/rebuild");
    let r = s.post(&rebuild, &prom, "");
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(
        r.body,
        "{\"error\":\"Permission denied - this needs the builder role\"}"
    );
    let r = s.post(&rebuild, &ci, "");
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.starts_with("{\"job\":\""), "{}", r.body);

    // A session needs the request header on the API.
    let bob = login(&s, "bob", "bob-pw");
    let r = s.post(
        "/api/rebuild-all",
        &bob,
        &format!("{{\"jobs\": [\"{greet}\"]}}"),
    );
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(
        r.body,
        "{\"error\":\"a request that changes something needs the header x-current-request: 1 or a bearer token\"}"
    );
}

#[test]
fn forms_need_the_csrf_token_of_their_session() {
    // No login: the token comes with a cookie of its own.
    let s = served_with("web-auth-csrf", Renderer::Builtin, Setup::default());
    let form = "pattern=x&report=y&score=1";
    let r = s.post_form("/log-rules", "", form);
    assert_eq!(r.status, 403, "{r:?}");
    assert!(r.body.contains("<p>Bad CSRF token</p>"), "{}", r.body);
    let (cookie, token) = s.form_token("/log-rules", "");
    let (other, _) = s.form_token("/log-rules", "");
    assert_ne!(cookie, other, "each browser its own");
    let r = s.post_form("/log-rules", &other, &format!("{form}&csrf={token}"));
    assert_eq!(r.status, 403, "another browser's token: {r:?}");
    let r = s.post_form("/log-rules", &cookie, &format!("{form}&csrf={token}"));
    assert_eq!(r.status, 303, "{r:?}");

    // With a login, the token of a session is that session's.
    let (s, _clock) = served("web-auth-csrf-session", Anonymous::Viewer);
    let (before, token) = s.form_token("/login", "");
    let alice = login(&s, "alice", "alice-pw");
    let both = format!(
        "{}; {}\r\n",
        alice.trim_end(),
        before.trim_start_matches("Cookie: ").trim_end()
    );
    let r = s.post_form("/log-rules", &both, &format!("{form}&csrf={token}"));
    assert_eq!(r.status, 403, "the token from before the login: {r:?}");
    let (_, token) = s.form_token("/log-rules", &alice);
    let r = s.post_form("/log-rules", &alice, &format!("{form}&csrf={token}"));
    assert_eq!(r.status, 303, "{r:?}");
}

#[test]
fn the_confirmation_level_is_set_from_the_pipeline_page_by_admins() {
    let s = served_with("web-auth-confirm", Renderer::Builtin, Setup::default());
    let page = s.get("/");
    assert!(
        page.body.contains(
            "<option value=\"above-average\" selected>Confirm if level &gt;= above-average</option>"
        ),
        "{}",
        page.body
    );
    assert!(page
        .body
        .contains("<option value=\"none\">No confirmation required</option>"));
    let (cookie, token) = s.form_token("/", "");
    let r = s.post_form(
        "/set/confirm",
        &cookie,
        &format!("level=dangerous&csrf={token}"),
    );
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(r.header("location"), Some("/"));
    assert_eq!(s.get("/api/confirm").body, "{\"level\":\"dangerous\"}");
    let r = s.post_form(
        "/set/confirm",
        &cookie,
        &format!("level=risky&csrf={token}"),
    );
    assert_eq!(r.status, 400, "{r:?}");
    let r = s.post_form("/set/confirm", &cookie, &format!("level=none&csrf={token}"));
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(s.get("/api/confirm").body, "{\"level\":null}");

    let (s, _clock) = served("web-auth-confirm-builder", Anonymous::Viewer);
    let bob = login(&s, "bob", "bob-pw");
    let page = s.get_with("/", &bob);
    assert!(!page.body.contains("action=\"/set/confirm\""));
    let (_, token) = s.form_token("/", &bob);
    let r = s.post_form("/set/confirm", &bob, &format!("level=none&csrf={token}"));
    assert_eq!(r.status, 403, "{r:?}");
    let alice = login(&s, "alice", "alice-pw");
    let (_, token) = s.form_token("/", &alice);
    let r = s.post_form("/set/confirm", &alice, &format!("level=none&csrf={token}"));
    assert_eq!(r.status, 303, "{r:?}");
}

#[test]
fn bad_job_ids_are_refused_behind_a_login_too() {
    let (s, _clock) = served("web-auth-bad", Anonymous::Viewer);
    let alice = login(&s, "alice", "alice-pw");
    for path in [
        "/job/../../etc/passwd",
        "/job/..%2F..%2Fetc/passwd",
        "/job/2026-11-22/..%2F..%2F..%2Fetc%2Fpasswd",
        "/api/job/2026-11-22/..%2Fx/log",
    ] {
        for who in ["", alice.as_str()] {
            let r = s.get_with(path, who);
            assert!(
                [303, 400, 404].contains(&r.status),
                "{path} as {who:?}: {r:?}"
            );
            assert!(!r.body.contains("root:"), "{path}");
        }
    }
}

fn ctl(s: &Served<Out>, args: &[&str], token: Option<&str>) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_current-ctl"));
    cmd.arg("--url")
        .arg(format!("http://{}", s.addr))
        .args(args);
    cmd.env_remove("CURRENT_TOKEN");
    if let Some(t) = token {
        cmd.env("CURRENT_TOKEN", t);
    }
    cmd.output().expect("current-ctl runs")
}

#[test]
fn the_control_client_sends_a_token_and_hashes_passwords() {
    let (s, _clock) = served("web-auth-ctl", Anonymous::Viewer);
    let greet = job_of(&s, "greet");
    let deploy = job_of(&s, "deploy");
    let refused = ctl(&s, &["rebuild", &greet], None);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr).trim(),
        format!(
            "current-ctl: POST /api/job/{greet}/rebuild: 401: Permission denied - you need to log in or send a bearer token"
        )
    );
    let rebuilt = ctl(&s, &["rebuild", &greet], Some(CI));
    assert!(
        rebuilt.status.success(),
        "{}",
        String::from_utf8_lossy(&rebuilt.stderr)
    );
    let file = s._dir.path().join("token");
    std::fs::write(&file, format!("{CI}\n")).expect("written");
    let file = file.to_str().expect("a path");
    let cancel = ctl(&s, &["--token-file", file, "cancel", &deploy], Some(PROM));
    assert!(
        cancel.status.success(),
        "the file's token, not the variable's: {}",
        String::from_utf8_lossy(&cancel.stderr)
    );
    let monitor = ctl(&s, &["rebuild", &greet], Some(PROM));
    assert_eq!(
        String::from_utf8_lossy(&monitor.stderr).trim(),
        format!(
            "current-ctl: POST /api/job/{greet}/rebuild: 403: Permission denied - this needs the builder role"
        )
    );

    // hash-password: a hash a users file takes, of the password on standard input.
    let mut child = Command::new(env!("CARGO_BIN_EXE_current-ctl"))
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"s3cret\n").expect("written");
    }
    let out = child.wait_with_output().expect("done");
    assert!(out.status.success());
    let hash = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    let users = Users::parse(&format!("dora:{hash}:viewer"), Path::new("u")).expect("taken");
    assert!(users.check_password("dora", "s3cret").is_some());
    assert!(users.check_password("dora", "s3cret\n").is_none());
}

#[test]
fn the_command_line_reads_the_files_and_names_a_bad_line() {
    use clap::Parser;
    use current::cli::PipelineOptions;

    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        pipeline: PipelineOptions,
    }
    let dir = crate::store::StateDir::new("web-auth-cli");
    std::fs::create_dir_all(dir.path()).expect("a directory");
    let users = dir.path().join("users");
    let tokens = dir.path().join("tokens");
    std::fs::write(&users, format!("alice:{}:admin\n", cheap("pw"))).expect("written");
    std::fs::write(
        &tokens,
        format!("# scrapers\nprom:{PROM}:monitor\nci:short:builder\n"),
    )
    .expect("written");
    let parse = |args: &[&str]| {
        Args::try_parse_from(["pipeline"].iter().chain(args))
            .map(|a| a.pipeline)
            .map_err(|e| e.to_string())
    };
    let path = |p: &std::path::Path| p.to_str().expect("a path").to_string();

    let open = parse(&[]).expect("parsed").auth().expect("no files");
    assert!(!open.is_required());
    let required = parse(&["--auth-users", &path(&users), "--anonymous-role", "none"])
        .expect("parsed")
        .auth()
        .expect("read");
    assert!(required.is_required());
    let bad = parse(&[
        "--auth-users",
        &path(&users),
        "--auth-token-file",
        &path(&tokens),
    ])
    .expect("parsed")
    .auth()
    .err()
    .map(|e| e.to_string());
    assert_eq!(
        bad,
        Some(format!(
            "{}:3: the token of \"ci\" is too short: it needs at least 16 characters",
            tokens.display()
        ))
    );
    assert!(parse(&["--anonymous-role", "builder"])
        .err()
        .is_some_and(|e| e.contains("invalid value 'builder' for '--anonymous-role <ROLE>'")));
}
