//! A job's long-running part on its page and in the API: the backend's description,
//! the handle's state, and the backend's queries (`stdout`, `stderr`, `squeue`, ...).

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;
use serde_json::{json, Value};

use crate::long_running::{self, HandleState, QueryError};

use super::access::Identity;
use super::api::error;
use super::html::{escape, head, TAIL};
use super::jobs;
use super::pages::refusal;
use super::Site;

fn state_text(state: &HandleState) -> String {
    match state {
        HandleState::Submitting => "submitting".into(),
        HandleState::Running => "running".into(),
        HandleState::Succeeded => "succeeded".into(),
        HandleState::Failed(reason) => format!("failed: {reason}"),
    }
}

/// The long-running part of job `id` for `/api/job/<id>` (`null` when it has none).
pub(crate) fn json(site: &Site, id: &str) -> Value {
    let Some(s) = long_running::status(site.view.context(), id) else {
        return Value::Null;
    };
    let h = &s.handle;
    json!({
        "backend": h.backend,
        "name": h.name,
        "state": state_text(&h.state),
        "run_dir": h.run_dir.path().display().to_string(),
        "kill": h.kill,
        "last_error": h.last_error,
        "scheduler": h.scheduler,
        "description": s.description,
        "queries": s.queries.iter().map(|(n, _)| n).collect::<Vec<_>>(),
    })
}

/// The long-running part of job `id` on its page (empty when it has none).
pub(crate) fn section(site: &Site, id: &str) -> String {
    let Some(s) = long_running::status(site.view.context(), id) else {
        return String::new();
    };
    let h = &s.handle;
    let mut rows = vec![
        ("Name".to_string(), h.name.clone()),
        ("State".to_string(), state_text(&h.state)),
    ];
    rows.extend(s.description.iter().cloned());
    if let Some(said) = &h.scheduler {
        rows.push(("Scheduler".into(), said.clone()));
    }
    if let Some(e) = &h.last_error {
        rows.push(("Last error".into(), e.clone()));
    }
    if let Some(k) = &h.kill {
        rows.push(("Kill asked".into(), k.clone()));
    }
    let mut out = String::from("<h2>Long-running job</h2><table id=\"long-running\">");
    for (title, text) in rows {
        out.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(&title),
            escape(&text)
        ));
    }
    out.push_str("</table><ul id=\"backend-queries\">");
    for (name, what) in &s.queries {
        out.push_str(&format!(
            "<li><a href=\"/job/{}/backend/{}\">{}</a>: {}</li>",
            escape(id),
            escape(name),
            escape(name),
            escape(what)
        ));
    }
    out.push_str("</ul>");
    out
}

/// Answer query `q` about the long-running part of job `date/name`.
async fn answer(site: &Site, date: &str, name: &str, q: &str) -> Result<String, jobs::Refusal> {
    let found = jobs::find(site, date, name)?;
    long_running::query(site.view.context(), found.id.as_str(), q)
        .await
        .map_err(|e| {
            let status = match e {
                QueryError::NoSuchJob(_) | QueryError::NoSuchQuery(_) => StatusCode::NOT_FOUND,
                QueryError::Backend(_) => StatusCode::BAD_GATEWAY,
            };
            (status, e.to_string())
        })
}

/// `GET /api/job/<id>/backend/<query>`: the answer as text.
pub(crate) async fn api_query(
    State(site): State<Site>,
    Path((date, name, q)): Path<(String, String, String)>,
) -> Response {
    match answer(&site, &date, &name, &q).await {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response(),
        Err(r) => error(r),
    }
}

/// `GET /job/<id>/backend/<query>`: the answer in a page.
pub(crate) async fn page_query(
    State(site): State<Site>,
    Extension(who): Extension<Identity>,
    Path((date, name, q)): Path<(String, String, String)>,
) -> Response {
    match answer(&site, &date, &name, &q).await {
        Ok(text) => {
            let id = format!("{date}/{name}");
            Html(format!(
                "{}<h1>{} of <a href=\"/job/{}\">{}</a></h1><pre id=\"answer\">{}</pre>{TAIL}",
                head(&who, &q, None),
                escape(&q),
                escape(&id),
                escape(&id),
                escape(&text)
            ))
            .into_response()
        }
        Err(r) => refusal(&who, r),
    }
}
