//! The HTML pages.

use std::collections::{BTreeMap, HashMap};

use axum::body::Body;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Extension;
use futures_util::stream;
use serde::Deserialize;

use crate::cache::db::{format_time, Outcome};
use crate::cache::{self};
use crate::term::analysis::DotOptions;
use crate::term::{Active, ErrorKind};

use super::access::Identity;
use super::auth::Role;
use super::html::{ansi_to_html, csrf_input, escape, head, TAIL};
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

pub(crate) fn refusal(who: &Identity, r: Refusal) -> Response {
    let (status, msg) = r;
    let page = format!(
        "{}<h1>{}</h1><p>{}</p>{TAIL}",
        head(who, "Error", None),
        status,
        escape(&msg)
    );
    (status, Html(page)).into_response()
}

pub(crate) async fn index(
    State(site): State<Site>,
    Extension(who): Extension<Identity>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let summary = site.view.summary();
    let current = site.view.context().config().confirm();
    let confirm = match current {
        Some(level) => format!("Jobs at level {level} or above wait for confirmation."),
        None => "No confirmation required.".into(),
    };
    let settings = if who.holds(Role::Admin) {
        confirm_form(&who, current)
    } else {
        String::new()
    };
    let query: String = query
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let s = &summary.stats;
    let page = format!(
        "{}<h1>{}</h1><p id=\"result\">Result: {}</p><p id=\"stats\">{} ok, {} running, {} ready, \
         {} waiting for confirmation, {} failed, {} blocked</p><p id=\"confirm\">{}</p>{settings}\
         <object id=\"pipeline\" type=\"image/svg+xml\" data=\"/pipeline.svg?{}\"></object>{TAIL}",
        head(&who, "Pipeline", Some(5)),
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

/// The form that sets the confirmation level: none, or a level (the most dangerous
/// first), the current one selected.
fn confirm_form(who: &Identity, current: Option<crate::Level>) -> String {
    let option = |value: &str, text: &str, selected: bool| {
        format!(
            "<option value=\"{value}\"{}>{}</option>",
            if selected { " selected" } else { "" },
            escape(text)
        )
    };
    let mut options = option("none", "No confirmation required", current.is_none());
    for level in crate::Level::ALL.iter().rev() {
        options.push_str(&option(
            level.name(),
            &format!("Confirm if level >= {level}"),
            current == Some(*level),
        ));
    }
    format!(
        "<h2>Settings</h2><form id=\"settings\" method=\"post\" action=\"/set/confirm\">{}\
         <select name=\"level\">{options}</select> <button>Save</button></form>",
        csrf_input(who)
    )
}

/// The form of `/set/confirm`.
#[derive(Deserialize)]
pub(crate) struct ConfirmForm {
    level: String,
}

/// Set the confirmation level from the `/` page's form: `none` or a level.
pub(crate) async fn set_confirm(
    State(site): State<Site>,
    Extension(who): Extension<Identity>,
    Form(form): Form<ConfirmForm>,
) -> Response {
    let level = match form.level.as_str() {
        "none" => None,
        name => match name.parse::<crate::Level>() {
            Ok(level) => Some(level),
            Err(e) => return refusal(&who, (StatusCode::BAD_REQUEST, e.to_string())),
        },
    };
    tracing::info!(
        "{} set the confirmation level to {}",
        who.user.as_deref().unwrap_or("a user"),
        level.map_or("none", |l| l.name())
    );
    site.view.context().config().set_confirm(level);
    Redirect::to("/").into_response()
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

pub(crate) async fn jobs(
    State(site): State<Site>,
    Extension(who): Extension<Identity>,
) -> Response {
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
        head(&who, "Jobs", Some(5))
    ))
    .into_response()
}

pub(crate) async fn job(
    State(site): State<Site>,
    Extension(who): Extension<Identity>,
    Path((date, name)): Path<(String, String)>,
) -> Response {
    let found = match jobs::find(&site, &date, &name) {
        Ok(f) => f,
        Err(r) => return refusal(&who, r),
    };
    let id = escape(found.id.as_str());
    let csrf = csrf_input(&who);
    let mut buttons = String::new();
    let mut button = |shown: bool, role: Role, action: &str, text: &str| {
        if shown && who.holds(role) {
            buttons.push_str(&format!(
                "<form method=\"post\" action=\"/job/{id}/{action}\">{csrf}<button>{text}</button></form> "
            ));
        }
    };
    button(found.can_rebuild(), Role::Builder, "rebuild", "Rebuild");
    button(found.can_cancel(), Role::Builder, "cancel", "Cancel");
    button(
        found.waiting_for_confirmation(),
        Role::Admin,
        "start",
        "Start now",
    );
    let top = format!(
        "{}<script src=\"/js/line-numbers.js\" defer></script><h1>{id}</h1><p id=\"description\">{}</p>\
         {}{}<p id=\"actions\">{buttons}</p><pre id=\"log\">",
        head(&who, found.id.as_str(), None),
        escape(&found.description()),
        history(&site, found.id.as_str()),
        super::backend::section(&site, found.id.as_str()),
    );
    log_stream(top, found)
}

/// How many earlier builds of a key a job's page lists.
const HISTORY: usize = 50;

/// The builds of the key of job `id`, newest first, each linking to its job with its
/// result and when it finished; `id`'s own in bold (a running job's own is not listed
/// until it finishes). Empty for a job of no cached key.
fn history(site: &Site, id: &str) -> String {
    let ctx = site.view.context();
    // A running job has no record yet: its origin names its key.
    let running = id
        .parse()
        .ok()
        .and_then(|job_id| ctx.lookup_running(&job_id))
        .and_then(|job| job.origin().map(|o| (o.op.to_string(), o.key)));
    let records = cache::database(ctx).and_then(|db| {
        let key = match running {
            Some(key) => Some(key),
            None => db
                .lookup_job(id)
                .map_err(|e| e.to_string())?
                .map(|r| (r.op, r.key)),
        };
        match key {
            Some((op, key)) => db.history(&op, &key, HISTORY).map_err(|e| e.to_string()),
            None => Ok(Vec::new()),
        }
    });
    let records = match records {
        Ok(r) if !r.is_empty() => r,
        Ok(_) => return String::new(),
        Err(e) => {
            tracing::warn!("cannot read the history of job {id}: {e}");
            return String::new();
        }
    };
    let mut out = String::from("<h2>Builds</h2><ol id=\"history\">");
    for r in &records {
        let result = match &r.outcome {
            Outcome::Ok(_) => "OK".to_string(),
            Outcome::Err(e) => format!("failed: {e}"),
        };
        let text = format!(
            "#{} {} {} (finished {})",
            r.build,
            r.job_id,
            result,
            format_time(r.finished)
        );
        if r.job_id == id {
            out.push_str(&format!("<li><b>{}</b></li>", escape(&text)));
        } else {
            out.push_str(&format!(
                "<li><a href=\"/job/{}\">{}</a></li>",
                escape(&r.job_id),
                escape(&text)
            ));
        }
    }
    out.push_str("</ol>");
    out
}

/// `/js/line-numbers.js`: highlights the lines of a log named by the page's fragment,
/// `#L10` or `#L11-L15` (shift-click a line number to choose a range).
pub(crate) async fn line_numbers_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        LINE_NUMBERS_JS,
    )
        .into_response()
}

const LINE_NUMBERS_JS: &str = r##"// Highlight the lines of a job's log named by the fragment: #L10 or #L11-L15.
(function () {
  "use strict";
  var RANGE = /^#L(\d+)(?:-L?(\d+))?$/;
  function isLine(node) {
    return node && node.nodeName === "A" && /^L\d+$/.test(node.id);
  }
  function clear() {
    document.querySelectorAll("#log span.hl").forEach(function (span) {
      while (span.firstChild) span.parentNode.insertBefore(span.firstChild, span);
      span.remove();
    });
  }
  function highlight() {
    clear();
    var m = RANGE.exec(location.hash);
    if (!m) return;
    var from = +m[1], to = m[2] ? +m[2] : from;
    if (to < from) { var t = from; from = to; to = t; }
    var first = null;
    for (var n = from; n <= to; n++) {
      var anchor = document.getElementById("L" + n);
      if (!anchor) break;
      first = first || anchor;
      var span = document.createElement("span");
      span.className = "hl";
      var node = anchor.nextSibling;
      anchor.parentNode.insertBefore(span, node);
      while (node && !isLine(node) && node.id !== "end") {
        var next = node.nextSibling;
        span.appendChild(node);
        node = next;
      }
    }
    if (first) first.scrollIntoView({ block: "center" });
  }
  document.addEventListener("click", function (e) {
    var m = RANGE.exec(location.hash);
    if (!e.shiftKey || !m || !isLine(e.target)) return;
    e.preventDefault();
    var a = +m[1], b = +e.target.id.slice(1);
    location.hash = "#L" + Math.min(a, b) + "-L" + Math.max(a, b);
  });
  window.addEventListener("hashchange", highlight);
  highlight();
})();
"##;

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
    Extension(who): Extension<Identity>,
    Path((date, name, action)): Path<(String, String, String)>,
) -> Response {
    let found = match jobs::find(&site, &date, &name) {
        Ok(f) => f,
        Err(r) => return refusal(&who, r),
    };
    let done = match action.as_str() {
        "rebuild" => found.rebuild().map(|new| format!("/job/{new}")),
        "cancel" => found.cancel().map(|()| format!("/job/{}", found.id)),
        "start" => found.approve().map(|()| format!("/job/{}", found.id)),
        _ => Err((StatusCode::NOT_FOUND, format!("No action {action:?}"))),
    };
    match done {
        Ok(to) => Redirect::to(&to).into_response(),
        Err(r) => refusal(&who, r),
    }
}
