//! The HTML pages.

use std::collections::{BTreeMap, HashMap};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use futures_util::stream;

use crate::term::analysis::DotOptions;
use crate::term::{Active, ErrorKind};

use super::html::{ansi_to_html, escape, head, TAIL};
use super::jobs::{self, Found, Refusal};
use super::Site;

/// `Success!`, `ERROR: ...` and the pending states, as OCurrent's page says them.
pub(crate) fn result_text(result: &Result<(), ErrorKind>) -> String {
    match result {
        Ok(()) => "Success!".into(),
        Err(ErrorKind::Active(Active::WaitingForConfirmation)) => {
            "Waiting for confirmation...".into()
        }
        Err(ErrorKind::Active(Active::Ready)) => "Ready...".into(),
        Err(ErrorKind::Active(Active::Running)) => "Running...".into(),
        Err(ErrorKind::Msg(m)) => format!("ERROR: {m}"),
    }
}

fn refusal(r: Refusal) -> Response {
    let (status, msg) = r;
    let page = format!(
        "{}<h1>{}</h1><p>{}</p>{TAIL}",
        head("Error", None),
        status,
        escape(&msg)
    );
    (status, Html(page)).into_response()
}

pub(crate) async fn index(
    State(site): State<Site>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let summary = site.view.summary();
    let confirm = match site.view.context().config().confirm() {
        Some(level) => format!("Jobs at level {level} or above wait for confirmation."),
        None => "No confirmation required.".into(),
    };
    let query: String = query
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let s = &summary.stats;
    let page = format!(
        "{}<h1>{}</h1><p id=\"result\">Result: {}</p><p id=\"stats\">{} ok, {} running, {} ready, \
         {} waiting for confirmation, {} failed, {} blocked</p><p id=\"confirm\">{}</p>\
         <object id=\"pipeline\" type=\"image/svg+xml\" data=\"/pipeline.svg?{}\"></object>{TAIL}",
        head("Pipeline", Some(5)),
        escape(&site.name),
        escape(&result_text(&summary.result)),
        s.ok,
        s.running,
        s.ready,
        s.waiting_for_confirmation,
        s.failed,
        s.blocked,
        escape(&confirm),
        escape(&query),
    );
    Html(page).into_response()
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The options of the page's diagram: boxes link to their jobs, collapsed groups to the
/// page that expands them.
pub(crate) fn dot_options(env: BTreeMap<String, String>) -> impl FnOnce() -> DotOptions + Send {
    move || DotOptions {
        env,
        collapse_link: Some(Box::new(|k: &str, v: &str| {
            format!("/?{}={}", urlencode(k), urlencode(v))
        })),
        job_info: Some(Box::new(|m| {
            (m.update, m.job_id.as_ref().map(|j| format!("/job/{j}")))
        })),
    }
}

pub(crate) async fn pipeline_svg(
    State(site): State<Site>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let env: BTreeMap<String, String> = query.into_iter().collect();
    let dot = match site.view.dot(dot_options(env)).await {
        Ok(dot) => dot,
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    };
    match site.renderer.render(&dot).await {
        Ok(svg) => ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}

pub(crate) async fn jobs(State(site): State<Site>) -> Response {
    let mut rows = String::new();
    let mut jobs = site.view.context().jobs();
    jobs.sort_by(|a, b| a.id().as_str().cmp(b.id().as_str()));
    for job in &jobs {
        let start = match job.start_time() {
            Some(t) => crate::clock::log_stamp(t)
                .trim_end_matches(": ")
                .to_string(),
            None => "(ready to start)".into(),
        };
        rows.push_str(&format!(
            "<tr><td><a href=\"/job/{id}\">{id}</a></td><td>{}</td></tr>",
            escape(&start),
            id = escape(job.id().as_str())
        ));
    }
    let body = if jobs.is_empty() {
        "<p>There are no active jobs.</p>".to_string()
    } else {
        format!("<table><tr><th>Job</th><th>Start time</th></tr>{rows}</table>")
    };
    Html(format!(
        "{}<h1>Jobs</h1>{body}{TAIL}",
        head("Jobs", Some(5))
    ))
    .into_response()
}

pub(crate) async fn job(
    State(site): State<Site>,
    Path((date, name)): Path<(String, String)>,
) -> Response {
    let found = match jobs::find(&site, &date, &name) {
        Ok(f) => f,
        Err(r) => return refusal(r),
    };
    let id = escape(found.id.as_str());
    let mut buttons = String::new();
    if found.can_rebuild() {
        buttons.push_str(&format!(
            "<form method=\"post\" action=\"/job/{id}/rebuild\"><button>Rebuild</button></form> "
        ));
    }
    if found.can_cancel() {
        buttons.push_str(&format!(
            "<form method=\"post\" action=\"/job/{id}/cancel\"><button>Cancel</button></form> "
        ));
    }
    if found.waiting_for_confirmation() {
        buttons.push_str(&format!(
            "<form method=\"post\" action=\"/job/{id}/start\"><button>Start now</button></form>"
        ));
    }
    let top = format!(
        "{}<h1>{id}</h1><p id=\"description\">{}</p><p id=\"actions\">{buttons}</p><pre id=\"log\">",
        head(found.id.as_str(), None),
        escape(&found.description()),
    );
    log_stream(top, found)
}

/// The page's top, then the log as it grows (while the job runs), then the page's end.
fn log_stream(top: String, found: Found) -> Response {
    struct Streaming {
        found: Found,
        offset: u64,
        line: u64,
        at_line_start: bool,
        spans: Vec<String>,
        progress: Option<tokio::sync::watch::Receiver<crate::job::LogProgress>>,
        done: bool,
    }
    let progress = found.running.as_ref().map(|j| j.log_progress());
    let state = Streaming {
        found,
        offset: 0,
        line: 0,
        at_line_start: true,
        spans: Vec::new(),
        progress,
        done: false,
    };
    let head_chunk = stream::once(async move { Ok::<_, std::io::Error>(top.into_bytes()) });
    let body = stream::unfold(state, |mut s| async move {
        if s.done {
            return None;
        }
        loop {
            let (data, next) = match jobs::read_log(&s.found.log, s.offset as i64) {
                Ok(read) => read,
                Err(e) => {
                    s.done = true;
                    let msg = format!(
                        "\n(cannot read the log: {})</pre>{TAIL}",
                        escape(&e.to_string())
                    );
                    return Some((Ok(msg.into_bytes()), s));
                }
            };
            if !data.is_empty() {
                s.offset = next;
                let text = String::from_utf8_lossy(&data);
                let mut html = String::new();
                for piece in text.split_inclusive('\n') {
                    if s.at_line_start {
                        s.line += 1;
                        html.push_str(&format!("<a id=\"L{n}\" href=\"#L{n}\"></a>", n = s.line));
                    }
                    html.push_str(&ansi_to_html(piece, &mut s.spans));
                    s.at_line_start = piece.ends_with('\n');
                }
                return Some((Ok(html.into_bytes()), s));
            }
            // Nothing new: wait while the job writes, or finish.
            let closed = match &mut s.progress {
                Some(rx) => {
                    let seen = s.offset;
                    let waited = rx
                        .wait_for(|p| p.closed || p.len > seen)
                        .await
                        .map(|p| p.closed && p.len <= seen);
                    waited.unwrap_or(true)
                }
                None => true,
            };
            if closed {
                // One last read: the log may have grown before it closed.
                if let Ok((rest, _)) = jobs::read_log(&s.found.log, s.offset as i64) {
                    if !rest.is_empty() {
                        continue;
                    }
                }
                s.done = true;
                return Some((
                    Ok(format!("<a id=\"end\"></a></pre>{TAIL}").into_bytes()),
                    s,
                ));
            }
        }
    });
    let body = Body::from_stream(futures_util::StreamExt::chain(head_chunk, body));
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        body,
    )
        .into_response()
}

pub(crate) async fn job_action(
    State(site): State<Site>,
    Path((date, name, action)): Path<(String, String, String)>,
) -> Response {
    let found = match jobs::find(&site, &date, &name) {
        Ok(f) => f,
        Err(r) => return refusal(r),
    };
    let done = match action.as_str() {
        "rebuild" => found.rebuild().map(|new| format!("/job/{new}")),
        "cancel" => found.cancel().map(|()| "/".to_string()),
        "start" => found.approve().map(|()| format!("/job/{}", found.id)),
        _ => Err((StatusCode::NOT_FOUND, format!("No action {action:?}"))),
    };
    match done {
        Ok(to) => Redirect::to(&to).into_response(),
        Err(r) => refusal(r),
    }
}
