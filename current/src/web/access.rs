//! Every request passes here first: who asks (a bearer token, a session cookie, or
//! nobody), whether the route lets them (the table of [`needed`]), and whether a `POST`
//! is forged: an API `POST` needs the header [`REQUEST_HEADER`] or a bearer token, a form
//! `POST` a CSRF token.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Json;
use serde_json::json;

use super::api::REQUEST_HEADER;
use super::auth::{self, Role, Roles, Session, CSRF_COOKIE, SESSION_COOKIE};
use super::html::{escape, head, TAIL};
use super::Site;

/// The most of a form's body read to find its CSRF token (as much as any request may
/// send).
pub(crate) const BODY_LIMIT: usize = 64 * 1024;

/// Who made a request, and what they may do: handlers read it from the request's
/// extensions.
#[derive(Clone, Debug)]
pub(crate) struct Identity {
    /// The user logged in, or the bearer token's name.
    pub(crate) user: Option<String>,
    pub(crate) roles: Roles,
    /// The CSRF token forms shown to them carry.
    pub(crate) csrf: String,
    /// Whether the site has a login (the navigation bar offers it).
    pub(crate) login: bool,
    pub(crate) session: Option<Session>,
    /// Whether they sent a valid bearer token.
    bearer: bool,
}

impl Identity {
    /// Whether they hold `role`.
    pub(crate) fn holds(&self, role: Role) -> bool {
        self.roles.holds(role)
    }
}

/// The role a request needs, `None` for the login pages anyone may use. This is the table
/// of the README's web section; what it does not name needs admin.
pub(crate) fn needed(method: &Method, path: &str) -> Option<Role> {
    use Role::{Admin, Builder, Monitor, Viewer};
    let read = method == Method::GET || method == Method::HEAD;
    let post = method == Method::POST;
    let parts: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let role = match parts.as_slice() {
        ["login"] | ["logout"] => return None,
        ["" | "index.html" | "pipeline.svg" | "jobs" | "query" | "log-rules"] if read => Viewer,
        ["js", "line-numbers.js"] if read => Viewer,
        ["job", _, _] if read => Viewer,
        ["job", _, _, "rebuild" | "cancel"] if post => Builder,
        ["metrics"] if read => Monitor,
        ["api", "state" | "dot" | "jobs" | "confirm" | "ops" | "query" | "log-rules"] if read => {
            Viewer
        }
        ["api", "job", _, _] | ["api", "job", _, _, "log"] if read => Viewer,
        ["job", _, _, "backend", _] | ["api", "job", _, _, "backend", _] if read => Viewer,
        ["api", "job", _, _, "rebuild" | "cancel"] if post => Builder,
        ["api", "rebuild-all"] if post => Builder,
        // POST /job/../start, /api/job/../approve, /set/confirm, /api/confirm, the log
        // rules' changes and tests, and anything else.
        _ => Admin,
    };
    Some(role)
}

/// Whether `path` answers in JSON (or plain text): refusals there are JSON, not pages.
fn is_api(path: &str) -> bool {
    path.starts_with("/api/") || path == "/metrics"
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// The token of an `Authorization: Bearer TOKEN` header; `Some("")` for another kind of
/// authorization, which is refused.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?;
    let text = value.to_str().unwrap_or("");
    Some(
        text.strip_prefix("Bearer ")
            .or_else(|| text.strip_prefix("bearer "))
            .map(str::trim)
            .unwrap_or(""),
    )
}

fn json_refusal(status: StatusCode, msg: &str) -> Response {
    let mut response = (status, Json(json!({ "error": msg }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

fn page_refusal(who: &Identity, status: StatusCode, msg: &str) -> Response {
    let page = format!(
        "{}<h1>{status}</h1><p>{msg}</p>{TAIL}",
        head(who, "Error", None)
    );
    (status, Html(page)).into_response()
}

/// The answer to a request for something `who` may not do.
fn denied(who: &Identity, role: Role, method: &Method, path_and_query: &str) -> Response {
    let anonymous = who.login && who.user.is_none();
    let path = path_and_query.split('?').next().unwrap_or("");
    if is_api(path) {
        return if anonymous {
            json_refusal(
                StatusCode::UNAUTHORIZED,
                "Permission denied - you need to log in or send a bearer token",
            )
        } else {
            json_refusal(
                StatusCode::FORBIDDEN,
                &format!("Permission denied - this needs the {role} role"),
            )
        };
    }
    if anonymous && (method == Method::GET || method == Method::HEAD) {
        return Redirect::to(&format!("/login?next={}", urlencode(path_and_query))).into_response();
    }
    if anonymous {
        let next = escape(&urlencode(path_and_query));
        return page_refusal(
            who,
            StatusCode::FORBIDDEN,
            &format!("Permission denied - you need to <a href=\"/login?next={next}\">log in</a>"),
        );
    }
    page_refusal(
        who,
        StatusCode::FORBIDDEN,
        &format!("Permission denied - this needs the {role} role"),
    )
}

/// `s` with everything but unreserved characters and `/` percent-encoded.
pub(crate) fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The value of field `name` of a url-encoded form, if it needs no decoding (CSRF tokens
/// do not).
fn form_field<'a>(body: &'a [u8], name: &str) -> Option<&'a str> {
    std::str::from_utf8(body)
        .ok()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// Identify the requester, refuse what they may not do and forged `POST`s, and hand the
/// rest on with their [`Identity`] in the request's extensions.
pub(crate) async fn guard(State(site): State<Site>, request: Request, next: Next) -> Response {
    let auth = site.auth.clone();
    let now = site.view.context().clock().now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or(path.clone(), |p| p.to_string());
    let headers = request.headers();

    let token = bearer(headers).filter(|_| auth.is_required());
    let (user, roles, session, is_bearer) = match token {
        Some(token) => match auth.token(token) {
            Some((name, roles)) => (Some(name.to_string()), roles, None, true),
            None => {
                tracing::info!("{method} {path}: refused a bad bearer token");
                return json_refusal(StatusCode::UNAUTHORIZED, "The bearer token is not valid");
            }
        },
        None => match cookie(headers, SESSION_COOKIE).and_then(|c| auth.session(c, now)) {
            Some(s) => (Some(s.user.clone()), s.roles, Some(s), false),
            None => (None, auth.anonymous_roles(), None, false),
        },
    };
    let mut new_nonce = None;
    let nonce = match (&session, cookie(headers, CSRF_COOKIE)) {
        (Some(s), _) => s.nonce.clone(),
        (None, Some(n)) if !n.is_empty() && n.len() <= 64 => n.to_string(),
        (None, _) => {
            let n = auth::nonce();
            new_nonce = Some(n.clone());
            n
        }
    };
    let who = Identity {
        user,
        roles,
        csrf: auth.csrf_token(&nonce),
        login: auth.is_required(),
        session,
        bearer: is_bearer,
    };

    if let Some(role) = needed(&method, &path) {
        if !who.holds(role) {
            return denied(&who, role, &method, &path_and_query);
        }
    }

    let mut request = request;
    if method == Method::POST && !who.bearer {
        if is_api(&path) {
            if !request.headers().contains_key(REQUEST_HEADER) {
                return json_refusal(
                    StatusCode::FORBIDDEN,
                    &format!(
                        "a request that changes something needs the header {REQUEST_HEADER}: 1 \
                         or a bearer token"
                    ),
                );
            }
        } else {
            let (parts, body) = request.into_parts();
            let bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
                Ok(b) => b,
                Err(_) => {
                    return (StatusCode::PAYLOAD_TOO_LARGE, "The form is too large").into_response()
                }
            };
            let token_ok =
                form_field(&bytes, "csrf").is_some_and(|token| auth.csrf_ok(&nonce, token));
            if !token_ok {
                tracing::info!("{method} {path}: refused a form without a valid CSRF token");
                return page_refusal(&who, StatusCode::FORBIDDEN, "Bad CSRF token");
            }
            request = Request::from_parts(parts, Body::from(bytes));
        }
    }

    request.extensions_mut().insert(who);
    let mut response = next.run(request).await;
    if let Some(nonce) = new_nonce {
        let is_html = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        if is_html {
            if let Ok(v) = HeaderValue::from_str(&auth.csrf_cookie(&nonce)) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_of_roles() {
        let get = Method::GET;
        let post = Method::POST;
        for (method, path, role) in [
            (&get, "/", Some(Role::Viewer)),
            (&get, "/jobs", Some(Role::Viewer)),
            (&get, "/job/2026-11-22/010203-x-abc", Some(Role::Viewer)),
            (
                &post,
                "/job/2026-11-22/010203-x-abc/rebuild",
                Some(Role::Builder),
            ),
            (
                &post,
                "/job/2026-11-22/010203-x-abc/cancel",
                Some(Role::Builder),
            ),
            (
                &post,
                "/job/2026-11-22/010203-x-abc/start",
                Some(Role::Admin),
            ),
            (
                &get,
                "/api/job/2026-11-22/010203-x-abc/log",
                Some(Role::Viewer),
            ),
            (
                &post,
                "/api/job/2026-11-22/010203-x-abc/approve",
                Some(Role::Admin),
            ),
            (&post, "/api/rebuild-all", Some(Role::Builder)),
            (&get, "/api/confirm", Some(Role::Viewer)),
            (&post, "/api/confirm", Some(Role::Admin)),
            (&post, "/set/confirm", Some(Role::Admin)),
            (&post, "/log-rules", Some(Role::Admin)),
            (&post, "/api/log-rules/test", Some(Role::Admin)),
            (&get, "/metrics", Some(Role::Monitor)),
            (&post, "/login", None),
            (&post, "/logout", None),
            (&get, "/jobs/", Some(Role::Admin)),
            (&Method::PUT, "/", Some(Role::Admin)),
        ] {
            assert_eq!(needed(method, path), role, "{method} {path}");
        }
    }

    #[test]
    fn cookies_and_form_fields_are_found() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; __csrf=xyz"));
        h.append(
            header::COOKIE,
            HeaderValue::from_static("__session=s.1.n.m"),
        );
        assert_eq!(cookie(&h, "__csrf"), Some("xyz"));
        assert_eq!(cookie(&h, "__session"), Some("s.1.n.m"));
        assert_eq!(cookie(&h, "b"), None);
        assert_eq!(form_field(b"pattern=x&csrf=abc", "csrf"), Some("abc"));
        assert_eq!(form_field(b"xcsrf=abc", "csrf"), None);
    }
}
