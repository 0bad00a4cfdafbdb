//! The web page of an engine (behind the `web` feature): the live pipeline diagram, the
//! active jobs, each job's log streamed as it is written with its actions (rebuild,
//! cancel, start now), a JSON API under `/api/` for all of it, and Prometheus metrics.
//!
//! It reads the engine through a [`View`]: it never blocks the engine. It binds to
//! 127.0.0.1 by default. HTML pages carry `X-Frame-Options: DENY` and a
//! content-security policy; job ids are validated before any path is made of them.
//!
//! Who may do what is the [`Auth`] of the [`Site`] ([`Site::with_auth`]): by default
//! ([`Auth::open`]) everyone holds every [`Role`], which is right only on a loopback
//! address; [`Auth::required`] makes users log in (`/login`) or send a bearer token to
//! hold more than the anonymous role. The role each route needs is in the README's web
//! section (and `access::needed`). Every form carries a CSRF token, and a form `POST`
//! without a valid one is refused; API requests that change something must carry a
//! bearer token or the header `X-Current-Request: 1`, which a cross-site form cannot send.
//!
//! | route | what |
//! |---|---|
//! | `GET /` | the pipeline: result, confirmation setting, diagram (`/pipeline.svg`) |
//! | `POST /set/confirm` | the confirmation level, from the form of `/` (`level=none` or a level) |
//! | `GET, POST /login`, `POST /logout` | log in (user name and password), log out |
//! | `GET /pipeline.svg` | the diagram; boxes link to their jobs |
//! | `GET /jobs` | the active jobs |
//! | `GET /job/<date>/<name>` | a job: status, its key's builds, actions, log (streamed while it runs; `#L10`, `#L11-L15` highlight lines) |
//! | `GET /js/line-numbers.js` | the script that highlights those lines |
//! | `POST /job/<date>/<name>/{rebuild,cancel,start}` | its actions (form buttons) |
//! | `GET /api/state` | `{"step", "result", "stats", "jobs"}` |
//! | `GET /api/dot` | the diagram's dot text |
//! | `GET /api/jobs` | the active jobs |
//! | `GET /api/job/<date>/<name>` | a job's status: can it be cancelled, rebuilt, approved |
//! | `GET /api/job/<date>/<name>/log?start=N` | its log from byte N (negative: from the end) |
//! | `POST /api/job/<date>/<name>/{cancel,rebuild,approve}` | its actions |
//! | `GET, POST /api/confirm` | the confirmation threshold (`{"level": "average"}` or `null`) |
//! | `GET /query?op=&ok=&rebuild=&date=` | finished results, filtered |
//! | `GET /api/ops` | the operations with stored results |
//! | `GET /api/query?op=&ok=&rebuild=&date=` | finished results as JSON |
//! | `POST /api/rebuild-all` | `{"jobs": [...]}`: rebuild those still live |
//! | `GET, POST /log-rules`, `POST /log-rules/remove` | the log rules: list, add, remove |
//! | `GET, POST /api/log-rules` | list; add `{"pattern", "report", "score"}` |
//! | `POST /api/log-rules/remove` | `{"pattern"}` |
//! | `POST /api/log-rules/test` | `{"pattern"}`: the jobs of the last 10,000 results whose logs it matches |
//! | `GET /metrics` | Prometheus text |

mod access;
mod api;
pub mod auth;
mod backend;
mod html;
mod jobs;
mod login;
mod metrics;
mod pages;
mod query;
pub mod render;
mod rules;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::engine::View;

pub use auth::{hash_password, Anonymous, Auth, AuthError, Role, Roles, Tokens, Users};
pub use render::Renderer;

/// What a web server shows and how.
#[derive(Clone)]
pub struct Site {
    view: View,
    renderer: Renderer,
    /// The page's name.
    name: Arc<str>,
    auth: Arc<Auth>,
}

impl Site {
    /// A site over the engine behind `view`, drawing with `renderer`, with no login
    /// ([`Auth::open`]: serve it on a loopback address only).
    pub fn new(view: View, renderer: Renderer) -> Site {
        Site {
            view,
            renderer,
            name: Arc::from("current"),
            auth: Arc::new(Auth::open()),
        }
    }

    /// The same site, with `auth` deciding who may do what.
    pub fn with_auth(mut self, auth: Auth) -> Site {
        self.auth = Arc::new(auth);
        self
    }

    /// Who may do what.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The router of every page and API route.
    pub fn router(self) -> Router {
        Router::new()
            .route("/", get(pages::index))
            .route("/index.html", get(pages::index))
            .route("/set/confirm", post(pages::set_confirm))
            .route("/login", get(login::page).post(login::login))
            .route("/logout", post(login::logout))
            .route("/pipeline.svg", get(pages::pipeline_svg))
            .route("/jobs", get(pages::jobs))
            .route("/js/line-numbers.js", get(pages::line_numbers_js))
            .route("/job/{date}/{name}", get(pages::job))
            .route("/job/{date}/{name}/{action}", post(pages::job_action))
            .route(
                "/job/{date}/{name}/backend/{query}",
                get(backend::page_query),
            )
            .route("/api/state", get(api::state))
            .route("/api/dot", get(api::dot))
            .route("/api/jobs", get(api::jobs))
            .route("/api/job/{date}/{name}", get(api::job))
            .route("/api/job/{date}/{name}/log", get(api::log))
            .route(
                "/api/job/{date}/{name}/backend/{query}",
                get(backend::api_query),
            )
            .route("/api/job/{date}/{name}/{action}", post(api::job_action))
            .route("/api/confirm", get(api::confirm_get).post(api::confirm_set))
            .route("/query", get(query::page))
            .route("/api/ops", get(query::ops))
            .route("/api/query", get(query::query))
            .route("/api/rebuild-all", post(query::rebuild_all))
            .route("/log-rules", get(rules::page).post(rules::page_add))
            .route("/log-rules/remove", post(rules::page_remove))
            .route("/api/log-rules", get(rules::api_list).post(rules::api_add))
            .route("/api/log-rules/remove", post(rules::api_remove))
            .route("/api/log-rules/test", post(rules::api_test))
            .route("/metrics", get(api::metrics))
            .fallback(api::not_found)
            .layer(DefaultBodyLimit::max(access::BODY_LIMIT))
            .layer(middleware::from_fn_with_state(self.clone(), access::guard))
            .layer(middleware::from_fn(security_headers))
            .with_state(self)
    }
}

/// Refuse a POST whose `Origin` (or, without one, `Referer`) names another site than the
/// `Host` it was sent to: a cross-site form. Then put `X-Frame-Options` and a
/// content-security policy on every HTML page.
async fn security_headers(request: Request<axum::body::Body>, next: Next) -> Response {
    if request.method() == axum::http::Method::POST && cross_site(request.headers()) {
        return (
            axum::http::StatusCode::FORBIDDEN,
            "Cross-site request refused",
        )
            .into_response();
    }
    let mut response = next.run(request).await;
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html {
        let h = response.headers_mut();
        h.insert("x-frame-options", HeaderValue::from_static("DENY"));
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
            ),
        );
        h.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
    }
    response
}

fn cross_site(headers: &axum::http::HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let from = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|h| h.to_str().ok());
    match (from, host) {
        (None, _) => false,
        (Some(from), Some(host)) => {
            let rest = from.split_once("://").map_or(from, |(_, r)| r);
            let origin_host = rest.split('/').next().unwrap_or("");
            origin_host != host
        }
        (Some(_), None) => true,
    }
}

/// Bind `addr` and serve `site` until `shutdown` completes. Returns the address bound
/// (useful with port 0) once listening, through `bound`. Serve a site without a login
/// ([`Auth::open`]) on a loopback address only: anyone who reaches it may do anything
/// (the command line's options print a warning when told otherwise).
pub async fn serve(
    addr: SocketAddr,
    site: Site,
    bound: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let named = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            std::io::Error::new(
                e.kind(),
                format!("cannot listen on {addr}: another program is already using this port"),
            )
        } else {
            std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"))
        }
    };
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(named)?;
    socket.set_reuseaddr(true).map_err(named)?;
    socket.bind(addr).map_err(named)?;
    // A deep accept queue: with the default (128), a burst of clients connecting at once
    // overflows it and each dropped connection is retried a second later.
    let listener = socket.listen(1024).map_err(named)?;
    bound(listener.local_addr()?);
    axum::serve(listener, site.router())
        .with_graceful_shutdown(shutdown)
        .await
}
