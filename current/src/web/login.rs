//! `/login` (a form of user name and password) and `/logout`. `access::guard` has checked
//! the CSRF token of their `POST`s.

use std::collections::HashMap;

use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Extension;
use serde::Deserialize;

use super::access::Identity;
use super::html::{csrf_input, escape, head, TAIL};
use super::Site;

/// `next` if it is a path of this site, `/` otherwise: a login never sends anyone
/// elsewhere.
pub(crate) fn local_path(next: &str) -> &str {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 2048
        && next.chars().all(|c| c.is_ascii_graphic() && c != '\\');
    if local {
        next
    } else {
        "/"
    }
}

fn form(who: &Identity, next: &str, message: &str) -> String {
    let message = if message.is_empty() {
        String::new()
    } else {
        format!("<p id=\"message\">{}</p>", escape(message))
    };
    let current = match &who.user {
        Some(user) if who.session.is_some() => {
            format!("<p>You are logged in as {}.</p>", escape(user))
        }
        _ => String::new(),
    };
    format!(
        "{}<h1>Log in</h1>{current}{message}<form id=\"login-form\" method=\"post\" action=\"/login\">{}\
         <input type=\"hidden\" name=\"next\" value=\"{}\">\
         <p><label>User <input name=\"user\" autocomplete=\"username\" required></label></p>\
         <p><label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label></p>\
         <p><button>Log in</button></p></form>{TAIL}",
        head(who, "Log in", None),
        csrf_input(who),
        escape(local_path(next)),
    )
}

fn no_login(who: &Identity) -> Response {
    let page = format!(
        "{}<h1>No login</h1><p>This site has no login: everyone may do everything.</p>{TAIL}",
        head(who, "No login", None)
    );
    (StatusCode::NOT_FOUND, Html(page)).into_response()
}

/// The login form; `next` is where a successful login goes.
pub(crate) async fn page(
    State(site): State<Site>,
    Extension(who): Extension<Identity>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !site.auth.is_required() {
        return no_login(&who);
    }
    let next = query.get("next").map_or("/", String::as_str);
    Html(form(&who, next, "")).into_response()
}

/// The login form's fields.
#[derive(Deserialize)]
pub(crate) struct LoginForm {
    user: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// Check the password; on success set the session cookie and go to `next`.
pub(crate) async fn login(
    State(site): State<Site>,
    Extension(who): Extension<Identity>,
    Form(login): Form<LoginForm>,
) -> Response {
    if !site.auth.is_required() {
        return no_login(&who);
    }
    let auth = site.auth.clone();
    let user = login.user.clone();
    // argon2 is slow on purpose: not on the async threads.
    let checked =
        tokio::task::spawn_blocking(move || auth.users().check_password(&user, &login.password))
            .await
            .ok()
            .flatten();
    if checked.is_none() {
        tracing::warn!("a login as {:?} failed", login.user);
        let page = form(&who, &login.next, "Wrong user name or password.");
        return (StatusCode::FORBIDDEN, Html(page)).into_response();
    }
    tracing::info!("{} logged in", login.user);
    let now = site.view.context().clock().now();
    let (cookie, _) = site.auth.new_session(&login.user, now);
    let mut response = Redirect::to(local_path(&login.next)).into_response();
    if let Ok(v) = HeaderValue::from_str(&site.auth.session_cookie(&cookie)) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// End the session: its cookie is refused from now on, and removed.
pub(crate) async fn logout(
    State(site): State<Site>,
    Extension(who): Extension<Identity>,
) -> Response {
    if let Some(session) = &who.session {
        tracing::info!("{} logged out", session.user);
        site.auth.revoke(session, site.view.context().clock().now());
    }
    let mut response = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&site.auth.clear_session_cookie()) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed() {
        for (next, to) in [
            ("/job/2026-11-22/x?a=1", "/job/2026-11-22/x?a=1"),
            ("/", "/"),
            ("//evil.example/x", "/"),
            ("/\\evil.example", "/"),
            ("https://evil.example/", "/"),
            ("javascript:alert(1)", "/"),
            ("/a\r\nSet-Cookie: x=1", "/"),
            ("", "/"),
            ("/caf\u{e9}", "/"),
        ] {
            assert_eq!(local_path(next), to, "{next:?}");
        }
    }
}
