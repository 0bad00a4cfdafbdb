//! A small HTTP/1.1 client for the tests (one request per connection), and a running
//! engine with its web server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use current::clock::Clock;
use current::engine::{Engine, EngineOptions};
use current::term::Term;
use current::web::{self, Auth, Renderer, Site};
use current::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::store::StateDir;

pub const DEADLINE: Duration = Duration::from_secs(30);

/// A response: status, headers (names lower-case), body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `name=value` of the cookie `name` this response sets.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .filter_map(|(_, v)| v.split(';').next())
            .find(|c| c.split_once('=').is_some_and(|(n, _)| n == name))
            .map(str::to_string)
    }

    /// The value of the hidden field `csrf` of the first form of the page.
    pub fn csrf(&self) -> Option<String> {
        let (_, rest) = self
            .body
            .split_once("<input type=\"hidden\" name=\"csrf\" value=\"")?;
        rest.split_once('"').map(|(token, _)| token.to_string())
    }
}

/// Send `request` (a whole HTTP/1.1 request) and read the response to its end.
pub async fn raw(addr: SocketAddr, request: &[u8]) -> Response {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    stream.write_all(request).await.expect("sends");
    let mut bytes = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut bytes))
        .await
        .expect("a response within the deadline")
        .expect("reads");
    parse(&bytes)
}

pub async fn get(addr: SocketAddr, path: &str) -> Response {
    get_with(addr, path, "").await
}

/// A GET with more headers (each ending in `\r\n`).
pub async fn get_with(addr: SocketAddr, path: &str, headers: &str) -> Response {
    raw(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}\r\n")
            .as_bytes(),
    )
    .await
}

pub async fn post(addr: SocketAddr, path: &str, headers: &str, body: &str) -> Response {
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    raw(addr, request.as_bytes()).await
}

fn parse(bytes: &[u8]) -> Response {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// How a [`Served`] engine and site are set up beyond the defaults.
#[derive(Default)]
pub struct Setup {
    pub auth: Option<Auth>,
    pub clock: Option<Arc<dyn Clock>>,
}

/// An engine over `pipeline` with its web server on a free port.
pub struct Served<T: Clone + std::fmt::Debug + Send + Sync + 'static> {
    pub engine: Option<Engine<T>>,
    pub addr: SocketAddr,
    pub rt: tokio::runtime::Runtime,
    pub _dir: StateDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl<T: Clone + std::fmt::Debug + PartialEq + Send + Sync + 'static> Served<T> {
    pub fn start(
        name: &str,
        config: Config,
        renderer: Renderer,
        pipeline: impl FnOnce() -> Term<T> + Send + 'static,
    ) -> Served<T> {
        Served::start_with(name, config, renderer, Setup::default(), pipeline)
    }

    /// [`start`](Served::start), with an [`Auth`] or a clock of the test's own.
    pub fn start_with(
        name: &str,
        config: Config,
        renderer: Renderer,
        setup: Setup,
        pipeline: impl FnOnce() -> Term<T> + Send + 'static,
    ) -> Served<T> {
        let dir = StateDir::new(name);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let mut options = EngineOptions::new(dir.path(), rt.handle().clone());
        options.config = config;
        if let Some(clock) = setup.clock {
            options.clock = clock;
        }
        let engine = Engine::start(options, pipeline).expect("the engine starts");
        let mut site = Site::new(engine.view(), renderer);
        if let Some(auth) = setup.auth {
            site = site.with_auth(auth);
        }
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (tx, rx) = std::sync::mpsc::channel();
        rt.spawn(async move {
            let served = web::serve(
                "127.0.0.1:0".parse().expect("an address"),
                site,
                move |a| {
                    let _ = tx.send(a);
                },
                async {
                    let _ = stopped.await;
                },
            )
            .await;
            if let Err(e) = served {
                panic!("the server failed: {e}");
            }
        });
        let addr = rx.recv_timeout(DEADLINE).expect("the server listens");
        Served {
            engine: Some(engine),
            addr,
            rt,
            _dir: dir,
            stop: Some(stop),
        }
    }

    pub fn engine(&self) -> &Engine<T> {
        self.engine.as_ref().expect("the engine runs")
    }

    pub fn get(&self, path: &str) -> Response {
        self.rt.block_on(get(self.addr, path))
    }

    pub fn get_with(&self, path: &str, headers: &str) -> Response {
        self.rt.block_on(get_with(self.addr, path, headers))
    }

    /// A form's POST: url-encoded `body`, with more `headers`.
    pub fn post_form(&self, path: &str, headers: &str, body: &str) -> Response {
        let headers = format!("{headers}Content-Type: application/x-www-form-urlencoded\r\n");
        self.post(path, &headers, body)
    }

    /// The `Cookie:` header and the CSRF token of the forms of page `path` (it must have
    /// one), as a browser with cookie header `cookie` (empty for none) sees them.
    pub fn form_token(&self, path: &str, cookie: &str) -> (String, String) {
        let page = self.get_with(path, cookie);
        let token = page
            .csrf()
            .unwrap_or_else(|| panic!("no CSRF token on {path}: {page:?}"));
        let cookie = match page.cookie("__csrf") {
            Some(c) => format!("Cookie: {c}\r\n"),
            None => cookie.to_string(),
        };
        (cookie, token)
    }

    pub fn post(&self, path: &str, headers: &str, body: &str) -> Response {
        self.rt.block_on(post(self.addr, path, headers, body))
    }
}

impl<T: Clone + std::fmt::Debug + Send + Sync + 'static> Drop for Served<T> {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(engine) = self.engine.take() {
            let _ = engine.shutdown("test over");
        }
    }
}
