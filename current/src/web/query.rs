//! Finished results: the `/query` page and its API (`/api/ops`, `/api/query`,
//! `/api/rebuild-all`), over the cache's records.

use std::collections::HashMap;

use axum::extract::{Query as QueryParams, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};

use crate::cache::db::{CacheRecord, Outcome, Query};
use crate::cache::{self};

use super::access::Identity;
use super::html::{escape, head, TAIL};
use super::Site;

/// The filters of a query, from `op`, `ok` (`true`/`false`), `rebuild` and `date` (a job
/// id prefix such as `2026-11-22`).
fn filters(params: &HashMap<String, String>) -> Result<Query, String> {
    let flag = |name: &str| -> Result<Option<bool>, String> {
        match params.get(name).map(String::as_str) {
            None | Some("") => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(format!("{name} must be true or false, not {other:?}")),
        }
    };
    let text = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();
    Ok(Query {
        op: text("op"),
        ok: flag("ok")?,
        rebuild: flag("rebuild")?,
        job_prefix: text("date"),
        ..Query::default()
    })
}

fn records(site: &Site, query: &Query) -> Result<Vec<CacheRecord>, (StatusCode, String)> {
    let db =
        cache::database(site.view.context()).map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e))?;
    db.query(query)
        .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))
}

fn record_json(r: &CacheRecord) -> Value {
    let stamp = |t: std::time::SystemTime| {
        crate::clock::log_stamp(t)
            .trim_end_matches(": ")
            .to_string()
    };
    json!({
        "job": r.job_id,
        "op": r.op,
        "build": r.build,
        "ok": matches!(r.outcome, Outcome::Ok(_)),
        "error": match &r.outcome { Outcome::Err(e) => Some(e.clone()), Outcome::Ok(_) => None },
        "rebuild": r.rebuild,
        "ready": stamp(r.ready),
        "running": r.running.map(stamp),
        "finished": stamp(r.finished),
    })
}

pub(crate) async fn ops(State(site): State<Site>) -> Response {
    let ops =
        cache::database(site.view.context()).and_then(|db| db.ops().map_err(|e| e.to_string()));
    match ops {
        Ok(ops) => Json(json!(ops)).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": e })),
        )
            .into_response(),
    }
}

pub(crate) async fn query(
    State(site): State<Site>,
    QueryParams(params): QueryParams<HashMap<String, String>>,
) -> Response {
    let found = filters(&params)
        .map_err(|e| (StatusCode::BAD_REQUEST, e))
        .and_then(|q| records(&site, &q));
    match found {
        Ok(rs) => Json(Value::Array(rs.iter().map(record_json).collect())).into_response(),
        Err((status, e)) => (status, Json(json!({ "error": e }))).into_response(),
    }
}

/// Rebuild the jobs named in the body (`{"jobs": ["<id>", ...]}`) that are still live:
/// `{"rebuilt": [...], "not_rebuilt": [...]}`.
pub(crate) async fn rebuild_all(State(site): State<Site>, body: axum::body::Bytes) -> Response {
    let jobs: Vec<String> = match serde_json::from_slice::<Value>(&body) {
        Ok(v) => match v["jobs"].as_array() {
            Some(a) => a
                .iter()
                .filter_map(|j| j.as_str().map(str::to_string))
                .collect(),
            None => Vec::new(),
        },
        Err(_) => Vec::new(),
    };
    if jobs.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "No jobs selected!" })),
        )
            .into_response();
    }
    let (rebuilt, not_rebuilt) = rebuild_each(&site, &jobs);
    Json(json!({ "rebuilt": rebuilt, "not_rebuilt": not_rebuilt })).into_response()
}

fn rebuild_each(site: &Site, jobs: &[String]) -> (Vec<String>, Vec<String>) {
    let mut rebuilt = Vec::new();
    let mut not_rebuilt = Vec::new();
    for job in jobs {
        let new = cache::job_actions(site.view.context(), job)
            .filter(|a| a.is_live())
            .and_then(|a| a.rebuild());
        match new {
            Some(new) => rebuilt.push(new),
            None => not_rebuilt.push(job.clone()),
        }
    }
    (rebuilt, not_rebuilt)
}

pub(crate) async fn page(
    State(site): State<Site>,
    Extension(who): Extension<Identity>,
    QueryParams(params): QueryParams<HashMap<String, String>>,
) -> Response {
    let found = filters(&params)
        .map_err(|e| (StatusCode::BAD_REQUEST, e))
        .and_then(|q| records(&site, &q));
    let ops = cache::database(site.view.context())
        .and_then(|db| db.ops().map_err(|e| e.to_string()))
        .unwrap_or_default();
    let selected = |name: &str, value: &str| {
        if params.get(name).map(String::as_str) == Some(value) {
            " selected"
        } else {
            ""
        }
    };
    let mut form = String::from("<form method=\"get\" action=\"/query\">Operation <select name=\"op\"><option value=\"\">(any)</option>");
    for op in &ops {
        form.push_str(&format!(
            "<option value=\"{o}\"{}>{o}</option>",
            selected("op", op),
            o = escape(op)
        ));
    }
    form.push_str(&format!(
        "</select> Result <select name=\"ok\"><option value=\"\">(any)</option><option value=\"true\"{}>Passed</option><option value=\"false\"{}>Failed</option></select> \
         Needs rebuild <select name=\"rebuild\"><option value=\"\">(any)</option><option value=\"true\"{}>Yes</option><option value=\"false\"{}>No</option></select> \
         Date <input name=\"date\" placeholder=\"YYYY-MM-DD\" value=\"{}\"> <button>Search</button></form>",
        selected("ok", "true"),
        selected("ok", "false"),
        selected("rebuild", "true"),
        selected("rebuild", "false"),
        escape(params.get("date").map(String::as_str).unwrap_or("")),
    ));
    let table = match found {
        Err((status, e)) => {
            return (
                status,
                Html(format!(
                    "{}<h1>Query</h1>{form}<p>{}</p>{TAIL}",
                    head(&who, "Query", None),
                    escape(&e)
                )),
            )
                .into_response()
        }
        Ok(rs) if rs.is_empty() => "<p>No results.</p>".to_string(),
        Ok(rs) => {
            let mut t = String::from("<table><tr><th>Job</th><th>Build #</th><th>Result</th><th>Rebuild?</th><th>Finished</th></tr>");
            for r in &rs {
                let v = record_json(r);
                t.push_str(&format!(
                    "<tr><td><a href=\"/job/{j}\">{j}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    r.build,
                    escape(&match &r.outcome {
                        Outcome::Ok(_) => "OK".to_string(),
                        Outcome::Err(e) => e.clone(),
                    }),
                    if r.rebuild { "Needs rebuild" } else { "-" },
                    escape(v["finished"].as_str().unwrap_or("")),
                    j = escape(&r.job_id),
                ));
            }
            t.push_str("</table>");
            t
        }
    };
    Html(format!(
        "{}<h1>Query</h1>{form}{table}{TAIL}",
        head(&who, "Query", None)
    ))
    .into_response()
}
