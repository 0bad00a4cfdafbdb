//! The JSON API, the metrics, and the answers to requests that match no route.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::job::Phase;
use crate::term::ErrorKind;

use super::jobs::{self, Refusal};
use super::pages::{dot_options, result_text};
use super::Site;

/// The header an API request that changes something must carry unless it has a bearer
/// token: a cross-site form cannot send it. `access::guard` checks it.
pub const REQUEST_HEADER: &str = "x-current-request";

pub(crate) fn error(r: Refusal) -> Response {
    let (status, msg) = r;
    (status, Json(json!({ "error": msg }))).into_response()
}

pub(crate) async fn state(State(site): State<Site>) -> Response {
    let s = site.view.summary();
    let (ok, error) = match &s.result {
        Ok(()) => (true, None),
        Err(ErrorKind::Msg(m)) => (false, Some(m.to_string())),
        Err(_) => (false, None),
    };
    Json(json!({
        "step": s.step,
        "result": result_text(&s.result),
        "ok": ok,
        "error": error,
        "stats": {
            "ok": s.stats.ok,
            "waiting_for_confirmation": s.stats.waiting_for_confirmation,
            "ready": s.stats.ready,
            "running": s.stats.running,
            "failed": s.stats.failed,
            "blocked": s.stats.blocked,
        },
        "jobs": s.jobs,
    }))
    .into_response()
}

pub(crate) async fn dot(State(site): State<Site>) -> Response {
    match site.view.dot(dot_options(Default::default())).await {
        Ok(dot) => ([(header::CONTENT_TYPE, "text/vnd.graphviz")], dot).into_response(),
        Err(e) => error((StatusCode::SERVICE_UNAVAILABLE, e.to_string())),
    }
}

pub(crate) async fn jobs(State(site): State<Site>) -> Response {
    let mut jobs: Vec<Value> = site
        .view
        .context()
        .jobs()
        .iter()
        .map(|j| {
            json!({
                "id": j.id().as_str(),
                "phase": phase_name(j.phase()),
                "started": j.start_time().map(|t| crate::clock::log_stamp(t).trim_end_matches(": ").to_string()),
            })
        })
        .collect();
    jobs.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    Json(Value::Array(jobs)).into_response()
}

fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Created => "created",
        Phase::WaitingForConfirmation => "waiting-for-confirmation",
        Phase::WaitingForPool => "waiting-for-pool",
        Phase::Running => "running",
        Phase::Complete => "complete",
    }
}

pub(crate) async fn job(
    State(site): State<Site>,
    Path((date, name)): Path<(String, String)>,
) -> Response {
    match jobs::find(&site, &date, &name) {
        Ok(f) => Json(json!({
            "id": f.id.as_str(),
            "description": f.description(),
            "can_cancel": f.can_cancel(),
            "can_rebuild": f.can_rebuild(),
            "waiting_for_confirmation": f.waiting_for_confirmation(),
            "running": f.running.is_some(),
            "long_running": super::backend::json(&site, f.id.as_str()),
        }))
        .into_response(),
        Err(r) => error(r),
    }
}

pub(crate) async fn log(
    State(site): State<Site>,
    Path((date, name)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let start: i64 = match query.get("start").map(|s| s.parse::<i64>()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return error((
                StatusCode::BAD_REQUEST,
                "start must be a whole number".into(),
            ))
        }
    };
    let found = match jobs::find(&site, &date, &name) {
        Ok(f) => f,
        Err(r) => return error(r),
    };
    match found.read(start) {
        Ok((data, next)) => Json(json!({
            "data": String::from_utf8_lossy(&data),
            "next": next,
            "complete": found.running.is_none() && data.is_empty(),
        }))
        .into_response(),
        Err(r) => error(r),
    }
}

pub(crate) async fn job_action(
    State(site): State<Site>,
    Path((date, name, action)): Path<(String, String, String)>,
) -> Response {
    let found = match jobs::find(&site, &date, &name) {
        Ok(f) => f,
        Err(r) => return error(r),
    };
    let done = match action.as_str() {
        "cancel" => found
            .cancel()
            .map(|()| json!({ "cancelled": found.id.as_str() })),
        "rebuild" => found.rebuild().map(|new| json!({ "job": new })),
        "approve" => found
            .approve()
            .map(|()| json!({ "approved": found.id.as_str() })),
        _ => Err((StatusCode::NOT_FOUND, format!("No action {action:?}"))),
    };
    match done {
        Ok(v) => Json(v).into_response(),
        Err(r) => error(r),
    }
}

pub(crate) async fn confirm_get(State(site): State<Site>) -> Response {
    let level = site.view.context().config().confirm().map(|l| l.name());
    Json(json!({ "level": level })).into_response()
}

pub(crate) async fn confirm_set(State(site): State<Site>, body: axum::body::Bytes) -> Response {
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    let level = match parsed.as_ref().map(|v| &v["level"]) {
        Ok(Value::Null) => None,
        Ok(Value::String(s)) => match s.parse::<crate::Level>() {
            Ok(l) => Some(l),
            Err(e) => return error((StatusCode::BAD_REQUEST, e.to_string())),
        },
        _ => {
            return error((
                StatusCode::BAD_REQUEST,
                "expected {\"level\": \"<level>\"} or {\"level\": null}".into(),
            ))
        }
    };
    site.view.context().config().set_confirm(level);
    Json(json!({ "level": level.map(|l| l.name()) })).into_response()
}

/// Prometheus text (version 0.0.4), with OCurrent's metric names (`current_` for
/// `ocurrent_`).
pub(crate) async fn metrics(State(site): State<Site>) -> Response {
    let out = super::metrics::render(&site);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

pub(crate) async fn not_found(method: Method) -> Response {
    if method != Method::GET && method != Method::POST && method != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, "Bad method").into_response();
    }
    (StatusCode::NOT_FOUND, "Not found").into_response()
}
