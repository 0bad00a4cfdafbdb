//! Log analysis: the `/log-rules` page and its API, over the rules kept in the store.

use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::cache::rules::RulesDb;
use crate::log_rules::{Rule, RuleSet};

use super::access::Identity;
use super::auth::Role;
use super::html::{csrf_input, escape, head, TAIL};
use super::Site;

fn rules_db(site: &Site) -> Result<RulesDb, String> {
    let store = site.view.context().store().map_err(|e| e.to_string())?;
    RulesDb::open(&store).map_err(|e| e.to_string())
}

/// A rule as forms and the API give it.
#[derive(Deserialize)]
pub(crate) struct RuleForm {
    pattern: String,
    #[serde(default)]
    report: String,
    #[serde(default)]
    score: Option<i64>,
}

fn add(site: &Site, form: &RuleForm) -> Result<(), String> {
    let db = rules_db(site)?;
    db.add(Rule::new(
        &form.pattern,
        &form.report,
        form.score.unwrap_or(1),
    ))
    .map_err(|e| e.to_string())?;
    db.flush().map_err(|e| e.to_string())?;
    Ok(())
}

fn remove(site: &Site, pattern: &str) -> Result<(), String> {
    let db = rules_db(site)?;
    db.remove(pattern).map_err(|e| e.to_string())?;
    db.flush().map_err(|e| e.to_string())?;
    Ok(())
}

/// The jobs of the last `limit` cache records whose logs the rule matches, and how many
/// logs were read.
fn test(
    site: &Site,
    pattern: &str,
    limit: usize,
) -> Result<(Vec<(String, String)>, usize), String> {
    let rule = Rule::new(pattern, "match", 1);
    rule.check().map_err(|e| e.to_string())?;
    let set = RuleSet::from_rules([rule]).map_err(|e| e.to_string())?;
    let db = crate::cache::database(site.view.context())?;
    let records = db
        .query(&crate::cache::db::Query {
            limit,
            ..Default::default()
        })
        .map_err(|e| e.to_string())?;
    let state_dir = site.view.context().state_dir().to_path_buf();
    let mut matches = Vec::new();
    let mut read = 0;
    for r in &records {
        let Ok(id) = r.job_id.parse::<crate::job::JobId>() else {
            continue;
        };
        let Ok(log) = std::fs::read_to_string(id.log_path(&state_dir)) else {
            continue;
        };
        read += 1;
        if let Some(found) = set.analyse(&log).best {
            matches.push((r.job_id.clone(), found.text.to_string()));
        }
    }
    Ok((matches, read))
}

fn list_json(site: &Site) -> Result<Value, String> {
    let rules = rules_db(site)?.list().map_err(|e| e.to_string())?;
    Ok(Value::Array(
        rules
            .iter()
            .map(|r| json!({ "pattern": r.pattern, "report": r.report, "score": r.score }))
            .collect(),
    ))
}

fn failed(status: StatusCode, e: String) -> Response {
    (status, Json(json!({ "error": e }))).into_response()
}

pub(crate) async fn api_list(State(site): State<Site>) -> Response {
    match list_json(&site) {
        Ok(v) => Json(v).into_response(),
        Err(e) => failed(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(body)
        .map_err(|e| Box::new(failed(StatusCode::BAD_REQUEST, e.to_string())))
}

pub(crate) async fn api_add(State(site): State<Site>, body: axum::body::Bytes) -> Response {
    let form: RuleForm = match parse(&body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    match add(&site, &form) {
        Ok(()) => api_list(State(site)).await,
        Err(e) => failed(StatusCode::BAD_REQUEST, e),
    }
}

#[derive(Deserialize)]
pub(crate) struct PatternForm {
    pattern: String,
}

pub(crate) async fn api_remove(State(site): State<Site>, body: axum::body::Bytes) -> Response {
    let form: PatternForm = match parse(&body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    match remove(&site, &form.pattern) {
        Ok(()) => api_list(State(site)).await,
        Err(e) => failed(StatusCode::BAD_REQUEST, e),
    }
}

pub(crate) async fn api_test(State(site): State<Site>, body: axum::body::Bytes) -> Response {
    let form: PatternForm = match parse(&body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    match test(&site, &form.pattern, 10_000) {
        Ok((matches, read)) => Json(json!({
            "read": read,
            "matches": matches.iter().map(|(job, m)| json!({ "job": job, "match": m })).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e) => failed(StatusCode::BAD_REQUEST, e),
    }
}

pub(crate) async fn page(
    State(site): State<Site>,
    Extension(who): Extension<Identity>,
) -> Response {
    let admin = who.holds(Role::Admin);
    let csrf = csrf_input(&who);
    let rows = match rules_db(&site).and_then(|db| db.list().map_err(|e| e.to_string())) {
        Ok(rules) if rules.is_empty() => "<p>There are no rules.</p>".to_string(),
        Ok(rules) => {
            let mut t = String::from(
                "<table><tr><th>Pattern</th><th>Report</th><th>Score</th><th></th></tr>",
            );
            for r in &rules {
                let p = escape(&r.pattern);
                let remove = if admin {
                    format!(
                        "<form method=\"post\" action=\"/log-rules/remove\">{csrf}\
                         <input type=\"hidden\" name=\"pattern\" value=\"{p}\"><button>Remove</button></form>"
                    )
                } else {
                    String::new()
                };
                t.push_str(&format!(
                    "<tr><td><code>{p}</code></td><td>{}</td><td>{}</td><td>{remove}</td></tr>",
                    escape(&r.report),
                    r.score,
                ));
            }
            t.push_str("</table>");
            t
        }
        Err(e) => format!("<p>{}</p>", escape(&e)),
    };
    let add = if admin {
        format!(
            "<h2>Add a rule</h2><form method=\"post\" action=\"/log-rules\">{csrf}Pattern <input name=\"pattern\"> \
             Report <input name=\"report\"> Score <input name=\"score\" value=\"1\" size=\"4\"> <button>Add</button></form>"
        )
    } else {
        String::new()
    };
    Html(format!(
        "{}<h1>Log analysis</h1>{rows}{add}{TAIL}",
        head(&who, "Log analysis", None)
    ))
    .into_response()
}

#[derive(Deserialize)]
pub(crate) struct PageRuleForm {
    pattern: String,
    #[serde(default)]
    report: String,
    #[serde(default)]
    score: String,
}

pub(crate) async fn page_add(State(site): State<Site>, Form(form): Form<PageRuleForm>) -> Response {
    let score = match form.score.trim() {
        "" => None,
        s => match s.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                return (StatusCode::BAD_REQUEST, "The score must be a whole number")
                    .into_response()
            }
        },
    };
    let rule = RuleForm {
        pattern: form.pattern,
        report: form.report,
        score,
    };
    match add(&site, &rule) {
        Ok(()) => Redirect::to("/log-rules").into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e).into_response(),
    }
}

pub(crate) async fn page_remove(
    State(site): State<Site>,
    Form(form): Form<PatternForm>,
) -> Response {
    match remove(&site, &form.pattern) {
        Ok(()) => Redirect::to("/log-rules").into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e).into_response(),
    }
}
