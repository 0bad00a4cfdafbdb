//! What every pipeline binary shares on its command line (behind the `cli` feature): a
//! `clap` struct of options, and how to run an engine with them: until a signal, or with
//! `--once` until the pipeline has no more work, as CI and tests do.
//!
//! ```no_run
//! use std::process::ExitCode;
//! use clap::Parser;
//! use current::cli::PipelineOptions;
//! use current::term::Term;
//!
//! #[derive(Parser)]
//! struct Args {
//!     #[command(flatten)]
//!     pipeline: PipelineOptions,
//! }
//!
//! fn main() -> ExitCode {
//!     let args = Args::parse();
//!     let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
//!     args.pipeline.run(rt.handle(), || Term::value("hello".to_string()))
//! }
//! ```

use std::fmt::Debug;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::engine::{Engine, EngineOptions, Snapshot};
use crate::job::Phase;
use crate::term::{analysis, Active, ErrorKind, Term};
use crate::{Config, Level};

/// The options of every pipeline binary.
#[derive(Clone, Debug, clap::Args)]
pub struct PipelineOptions {
    /// Where the database, the job logs and the work directories are kept.
    #[arg(long, value_name = "DIR", default_value = "./var")]
    pub state_dir: PathBuf,

    /// Jobs at or above this level wait for a user's confirmation: harmless,
    /// mostly-harmless, average, above-average, dangerous, or none.
    #[arg(long, value_name = "LEVEL", default_value = "none", value_parser = parse_confirm)]
    pub confirm: Confirm,

    /// Lift the confirmation threshold this many seconds after it was set.
    #[arg(long, value_name = "SECONDS")]
    pub confirm_auto_release: Option<u64>,

    /// Evaluate until the pipeline has no more work, print its result and its text form,
    /// and exit: 0 on success, 1 on failure, 2 when the only work left waits for
    /// confirmation. No web server is started.
    #[arg(long)]
    pub once: bool,

    /// The web page's port (0: any free port, printed once bound).
    #[cfg(feature = "web")]
    #[arg(long, default_value_t = 8080)]
    pub port: u16,

    /// The address the web page listens on. Anything but a loopback address shows the
    /// pipeline, and without --auth-users or --auth-token-file lets anyone cancel and
    /// rebuild its jobs, to whoever can reach it.
    #[cfg(feature = "web")]
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,

    /// The users who may log in to the web page: a file of lines `NAME:HASH:ROLES`, HASH
    /// an argon2 PHC string (`current-ctl hash-password` makes one), ROLES some of viewer,
    /// builder, monitor, admin separated by commas. With it, or --auth-token-file, the
    /// page needs a login for more than --anonymous-role.
    #[cfg(feature = "web")]
    #[arg(long, value_name = "FILE")]
    pub auth_users: Option<PathBuf>,

    /// The bearer tokens of API clients: a file of lines `NAME:TOKEN:ROLES`, each token at
    /// least 16 characters. Keep it readable by this user only.
    #[cfg(feature = "web")]
    #[arg(long, value_name = "FILE")]
    pub auth_token_file: Option<PathBuf>,

    /// What someone who has not logged in may do when a login is required: none, or
    /// viewer (see the pipeline, the jobs and their logs).
    #[cfg(feature = "web")]
    #[arg(long, value_enum, value_name = "ROLE", default_value = "viewer")]
    pub anonymous_role: crate::web::Anonymous,

    /// Mark the session cookies Secure: for a page served over HTTPS (through a proxy).
    #[cfg(feature = "web")]
    #[arg(long)]
    pub secure_cookies: bool,

    /// How the web page draws the diagram: graphviz's `dot`, or builtin (no clusters).
    /// Default: graphviz if `dot` is installed.
    #[cfg(feature = "web")]
    #[arg(long, value_enum)]
    pub renderer: Option<crate::web::Renderer>,
}

/// The confirmation threshold of `--confirm`: a level, or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Confirm(pub Option<Level>);

fn parse_confirm(s: &str) -> Result<Confirm, String> {
    if s == "none" {
        return Ok(Confirm(None));
    }
    s.parse::<Level>()
        .map(|l| Confirm(Some(l)))
        .map_err(|e| format!("{e}, or none"))
}

/// How a `--once` run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// The pipeline succeeded: exit 0.
    Ok,
    /// It failed with this message: exit 1.
    Failed(String),
    /// Only work waiting for confirmation is left: exit 2.
    WaitingForConfirmation,
}

impl Settled {
    /// The exit code `--once` gives it.
    pub fn exit_code(&self) -> u8 {
        match self {
            Settled::Ok => 0,
            Settled::Failed(_) => 1,
            Settled::WaitingForConfirmation => 2,
        }
    }

    /// Whether `snapshot` has no work left (nothing running or ready), and how it ended.
    pub fn of<T>(snapshot: &Snapshot<T>) -> Option<Settled> {
        let s = &snapshot.stats;
        if snapshot.step == 0 || s.running > 0 || s.ready > 0 {
            return None;
        }
        match &snapshot.result {
            Ok(_) => Some(Settled::Ok),
            Err(ErrorKind::Msg(m)) => Some(Settled::Failed(m.to_string())),
            Err(ErrorKind::Active(Active::WaitingForConfirmation)) => {
                Some(Settled::WaitingForConfirmation)
            }
            Err(ErrorKind::Active(_)) => None,
        }
    }
}

impl PipelineOptions {
    /// The engine's options: the state directory and the confirmation settings.
    pub fn engine_options(&self, runtime: &tokio::runtime::Handle) -> EngineOptions {
        let mut options = EngineOptions::new(&self.state_dir, runtime.clone());
        options.config = Config::with_auto_release(
            self.confirm.0,
            self.confirm_auto_release.map(Duration::from_secs),
        );
        options
    }

    /// Start an engine over `pipeline` and run it: with `--once`, until it settles (see
    /// [`Settled`]); otherwise until SIGINT or SIGTERM. Progress goes to stderr, a line
    /// whenever the counts of stages change (at most one a second); the result and the
    /// pipeline's text form go to stdout.
    pub fn run<T>(
        &self,
        runtime: &tokio::runtime::Handle,
        pipeline: impl FnOnce() -> Term<T> + Send + 'static,
    ) -> ExitCode
    where
        T: Clone + Debug + PartialEq + Send + Sync + 'static,
    {
        // A bad users or tokens file stops us before any job starts.
        #[cfg(feature = "web")]
        let auth = match self.auth() {
            Ok(auth) => auth,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let engine = match Engine::start(self.engine_options(runtime), pipeline) {
            Ok(engine) => engine,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let progress = Progress::spawn(&engine);
        let code = if self.once {
            run_once(engine)
        } else {
            #[cfg(feature = "web")]
            let web = match self.start_web(&engine, auth) {
                Ok(web) => Some(web),
                Err(e) => {
                    eprintln!("error: {e}");
                    let _ = engine.shutdown("the web server could not start");
                    return ExitCode::FAILURE;
                }
            };
            let code = engine.run_until_signal();
            #[cfg(feature = "web")]
            drop(web);
            code
        };
        drop(progress);
        code
    }
}

#[cfg(feature = "web")]
impl PipelineOptions {
    /// Who may do what on the web page: [`Auth::open`](crate::web::Auth::open) without
    /// --auth-users and --auth-token-file, a login otherwise. A file that cannot be read,
    /// or has a bad line, is an error naming it and the line.
    pub fn auth(&self) -> Result<crate::web::Auth, crate::web::AuthError> {
        use crate::web::{Auth, Tokens, Users};
        if self.auth_users.is_none() && self.auth_token_file.is_none() {
            return Ok(Auth::open());
        }
        let users = match &self.auth_users {
            Some(path) => Users::load(path)?,
            None => Users::new(),
        };
        let tokens = match &self.auth_token_file {
            Some(path) => Tokens::load(path)?,
            None => Tokens::new(),
        };
        Ok(Auth::required(users, tokens)
            .with_anonymous(self.anonymous_role)
            .with_secure_cookies(self.secure_cookies))
    }

    /// Start the web server on the engine's runtime; it stops when the returned guard is
    /// dropped. Prints the address it listens on.
    fn start_web<T>(&self, engine: &Engine<T>, auth: crate::web::Auth) -> Result<WebGuard, String>
    where
        T: Clone + Debug + Send + Sync + 'static,
    {
        use crate::web::{Renderer, Site};
        let renderer = self.renderer.unwrap_or_else(Renderer::detect);
        let addr = std::net::SocketAddr::new(self.host, self.port);
        if !self.host.is_loopback() && !auth.is_required() {
            eprintln!(
                "WARNING: the web page listens on {addr}, which is not a loopback address, and \
                 has no login: anyone who can reach it can see the pipeline and cancel and \
                 rebuild its jobs. Give --auth-users (and --auth-token-file) to require one."
            );
        }
        let site = Site::new(engine.view(), renderer).with_auth(auth);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (bound_tx, bound_rx) = std::sync::mpsc::channel();
        let handle = engine.context().runtime().clone();
        let server = handle.spawn(async move {
            let bound_err = bound_tx.clone();
            let served = crate::web::serve(
                addr,
                site,
                move |a| {
                    let _ = bound_tx.send(Ok(a));
                },
                async {
                    let _ = stopped.await;
                },
            )
            .await;
            if let Err(e) = served {
                let _ = bound_err.send(Err(e.to_string()));
            }
        });
        match bound_rx.recv() {
            Ok(Ok(a)) => {
                println!("web: http://{a}/ (diagrams: {renderer:?})");
                Ok(WebGuard {
                    stop: Some(stop),
                    server: Some(server),
                    handle,
                })
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err("the web server stopped before listening".into()),
        }
    }
}

/// Stops the web server when dropped.
#[cfg(feature = "web")]
struct WebGuard {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    handle: tokio::runtime::Handle,
}

#[cfg(feature = "web")]
impl Drop for WebGuard {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let handle = self.handle.clone();
            std::thread::scope(|s| {
                s.spawn(|| {
                    let _ = handle.block_on(async {
                        tokio::time::timeout(Duration::from_secs(5), server).await
                    });
                });
            });
        }
    }
}

fn run_once<T>(engine: Engine<T>) -> ExitCode
where
    T: Clone + Debug + PartialEq + Send + Sync + 'static,
{
    let mut rx = engine.subscribe();
    let handle = engine.context().runtime().clone();
    let settled = std::thread::scope(|s| {
        s.spawn(|| {
            handle.block_on(async {
                loop {
                    if let Some(done) = Settled::of(&rx.borrow_and_update()) {
                        return Some(done);
                    }
                    if rx.changed().await.is_err() {
                        return None;
                    }
                }
            })
        })
        .join()
        .ok()
        .flatten()
    });
    let snapshot = engine.snapshot();
    let text = engine
        .inspect(|g, t| analysis::pp(t, g))
        .unwrap_or_default();
    let mut out = std::io::stdout().lock();
    let result = match &snapshot.result {
        Ok(v) => format!("Ok: {v:?}"),
        Err(e) => e.to_string(),
    };
    let _ = writeln!(out, "result: {result}");
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
    drop(out);
    if let Err(e) = engine.shutdown("--once: the pipeline has no more work") {
        eprintln!("error: {e}");
    }
    match settled {
        Some(done) => ExitCode::from(done.exit_code()),
        None => {
            eprintln!("error: the engine stopped before the pipeline settled");
            ExitCode::FAILURE
        }
    }
}

/// A thread that prints the counts of stages when they change.
struct Progress {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn spawn<T: Clone + Debug + PartialEq + Send + Sync + 'static>(engine: &Engine<T>) -> Progress {
        let mut rx = engine.subscribe();
        let ctx = engine.context().clone();
        let handle = ctx.runtime().clone();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("current-progress".into())
            .spawn(move || {
                handle.block_on(async move {
                    let mut last = String::new();
                    let mut printed = Instant::now() - Duration::from_secs(1);
                    loop {
                        let mut line = {
                            let s = rx.borrow_and_update();
                            let t = &s.stats;
                            format!(
                                "[current] ok {}, running {}, ready {}, waiting for confirmation {}, failed {}, blocked {}",
                                t.ok, t.running, t.ready, t.waiting_for_confirmation, t.failed, t.blocked
                            )
                        };
                        let running: Vec<String> = ctx
                            .jobs()
                            .iter()
                            .filter(|j| j.phase() == Phase::Running)
                            .map(|j| j.id().to_string())
                            .collect();
                        if !running.is_empty() {
                            let shown = running.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
                            let more = running.len().saturating_sub(5);
                            line.push_str(&format!("; running: {shown}"));
                            if more > 0 {
                                line.push_str(&format!(" and {more} more"));
                            }
                        }
                        if line != last && printed.elapsed() >= Duration::from_secs(1) {
                            eprintln!("{line}");
                            last = line;
                            printed = Instant::now();
                        }
                        let tick = tokio::time::sleep(Duration::from_secs(1));
                        tokio::select! {
                            _ = &mut stopped => return,
                            changed = rx.changed() => if changed.is_err() { return },
                            _ = tick => {}
                        }
                    }
                })
            })
            .ok();
        Progress {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
