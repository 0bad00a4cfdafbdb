//! `current-ctl`: the control client of a pipeline's web API (OCurrent's `ocurrent_ctl`).
//!
//! ```text
//! current-ctl [--url http://127.0.0.1:8080] [--token-file FILE] COMMAND
//! ```
//!
//! Commands: `state`, `stats`, `dot`, `jobs`, `ops`, `job-status ID`, `log ID [--follow]`,
//! `cancel ID`, `rebuild ID`, `approve ID`, `confirm [LEVEL|none]`,
//! `query [--op OP] [--ok true|false] [--rebuild true|false] [--date PREFIX]`,
//! `rebuild-all ID...`, `backend-query ID QUERY`. Answers are printed as JSON (the log as text); a refusal is
//! printed to stderr with exit status 1.
//!
//! Against a page that needs a login, it sends a bearer token: the first line of
//! `--token-file FILE`, or else the variable `CURRENT_TOKEN`. `hash-password` reads a
//! password from its standard input and prints its argon2 hash, for a line of the file of
//! `--auth-users`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::Value;

#[derive(Parser)]
#[command(
    name = "current-ctl",
    about = "Control a running pipeline through its web API"
)]
struct Args {
    /// The pipeline's web address.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// A file whose first line is a bearer token to send (default: the variable
    /// CURRENT_TOKEN, if set).
    #[arg(long, value_name = "FILE")]
    token_file: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The pipeline's result, stage counts and jobs.
    State,
    /// The stage counts.
    Stats,
    /// The pipeline's diagram (graphviz dot).
    Dot,
    /// The open jobs.
    Jobs,
    /// The operations with stored results.
    Ops,
    /// A job's status: can it be cancelled, rebuilt, approved.
    JobStatus { id: String },
    /// A job's log; with --follow, until the job ends.
    Log {
        id: String,
        #[arg(long)]
        follow: bool,
    },
    /// Cancel a job.
    Cancel { id: String },
    /// Build a job's key again.
    Rebuild { id: String },
    /// Let a job that waits for confirmation start.
    Approve { id: String },
    /// Show the confirmation threshold, or set it (a level, or none).
    Confirm { level: Option<String> },
    /// Finished results.
    Query {
        #[arg(long)]
        op: Option<String>,
        #[arg(long)]
        ok: Option<bool>,
        #[arg(long)]
        rebuild: Option<bool>,
        #[arg(long)]
        date: Option<String>,
    },
    /// Rebuild these jobs' keys (those still live).
    RebuildAll { ids: Vec<String> },
    /// Ask a job's long-running backend: `stdout`, `stderr`, or one of the queries its
    /// `job-status` lists (`squeue`, `sacct`, `processes`, ...).
    BackendQuery { id: String, query: String },
    /// Read a password from standard input (its first line) and print its argon2 hash.
    HashPassword,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("current-ctl: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The bearer token of `--token-file`, or of `CURRENT_TOKEN`.
fn token(args: &Args) -> Result<Option<String>, String> {
    let token = match &args.token_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let first = text.lines().next().unwrap_or("").trim().to_string();
            if first.is_empty() {
                return Err(format!("{}: the first line has no token", path.display()));
            }
            Some(first)
        }
        None => std::env::var("CURRENT_TOKEN")
            .ok()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty()),
    };
    if token
        .as_ref()
        .is_some_and(|t| t.chars().any(|c| c.is_control() || c.is_whitespace()))
    {
        return Err("the token has a space or a control character in it".into());
    }
    Ok(token)
}

fn hash_password() -> Result<(), String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err("no password on standard input".into());
    }
    let hash = current::web::hash_password(password).map_err(|e| e.to_string())?;
    println!("{hash}");
    Ok(())
}

fn run(args: &Args) -> Result<(), String> {
    let api = Api::new(&args.url, token(args)?)?;
    let print = |v: Value| println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    match &args.command {
        Command::State => print(api.get("/api/state")?),
        Command::Stats => print(api.get("/api/state")?["stats"].clone()),
        Command::Dot => print!("{}", api.get_text("/api/dot")?),
        Command::Jobs => print(api.get("/api/jobs")?),
        Command::Ops => print(api.get("/api/ops")?),
        Command::JobStatus { id } => print(api.get(&format!("/api/job/{id}"))?),
        Command::BackendQuery { id, query } => {
            print!(
                "{}",
                api.get_text(&format!("/api/job/{id}/backend/{query}"))?
            )
        }
        Command::Cancel { id } => print(api.post(&format!("/api/job/{id}/cancel"), "")?),
        Command::Rebuild { id } => print(api.post(&format!("/api/job/{id}/rebuild"), "")?),
        Command::Approve { id } => print(api.post(&format!("/api/job/{id}/approve"), "")?),
        Command::Confirm { level: None } => print(api.get("/api/confirm")?),
        Command::Confirm { level: Some(l) } => {
            let level = if l == "none" {
                Value::Null
            } else {
                Value::String(l.clone())
            };
            let body = serde_json::json!({ "level": level }).to_string();
            print(api.post("/api/confirm", &body)?)
        }
        Command::Query {
            op,
            ok,
            rebuild,
            date,
        } => {
            let mut params = Vec::new();
            if let Some(op) = op {
                params.push(format!("op={}", encode(op)));
            }
            if let Some(ok) = ok {
                params.push(format!("ok={ok}"));
            }
            if let Some(r) = rebuild {
                params.push(format!("rebuild={r}"));
            }
            if let Some(d) = date {
                params.push(format!("date={}", encode(d)));
            }
            print(api.get(&format!("/api/query?{}", params.join("&")))?)
        }
        Command::RebuildAll { ids } => {
            let body = serde_json::json!({ "jobs": ids }).to_string();
            print(api.post("/api/rebuild-all", &body)?)
        }
        Command::HashPassword => hash_password()?,
        Command::Log { id, follow } => {
            let mut start = 0u64;
            loop {
                let chunk = api.get(&format!("/api/job/{id}/log?start={start}"))?;
                let data = chunk["data"].as_str().unwrap_or("");
                print!("{data}");
                let _ = std::io::stdout().flush();
                start = chunk["next"].as_u64().unwrap_or(start);
                if !data.is_empty() {
                    continue;
                }
                if !*follow || chunk["complete"].as_bool().unwrap_or(true) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
    Ok(())
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~:".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A minimal HTTP/1.1 client of the API (one request per connection).
struct Api {
    host: String,
    token: Option<String>,
}

impl Api {
    fn new(url: &str, token: Option<String>) -> Result<Api, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("the url {url:?} must start with http://"))?;
        let host = rest.trim_end_matches('/').to_string();
        if host.is_empty() || host.contains('/') {
            return Err(format!("the url {url:?} must be http://HOST:PORT"));
        }
        Ok(Api { host, token })
    }

    fn request(&self, method: &str, path: &str, body: &str) -> Result<(u16, String), String> {
        let mut stream = TcpStream::connect(&self.host)
            .map_err(|e| format!("cannot connect to {}: {e}", self.host))?;
        let authorization = self
            .token
            .as_ref()
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nX-Current-Request: 1\r\n{authorization}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        stream
            .write_all(request.as_bytes())
            .map_err(|e| format!("cannot send to {}: {e}", self.host))?;
        let mut bytes = Vec::new();
        stream
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read from {}: {e}", self.host))?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("{} did not answer in HTTP", self.host))?;
        let chunked = head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked");
        let body = if chunked {
            dechunk(body)
        } else {
            body.to_string()
        };
        Ok((status, body))
    }

    fn checked(&self, method: &str, path: &str, body: &str) -> Result<String, String> {
        let (status, text) = self.request(method, path, body)?;
        if status >= 400 {
            let msg = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or(text);
            return Err(format!("{method} {path}: {status}: {msg}"));
        }
        Ok(text)
    }

    fn get_text(&self, path: &str) -> Result<String, String> {
        self.checked("GET", path, "")
    }

    fn get(&self, path: &str) -> Result<Value, String> {
        let text = self.checked("GET", path, "")?;
        serde_json::from_str(&text).map_err(|e| format!("GET {path}: not JSON: {e}"))
    }

    fn post(&self, path: &str, body: &str) -> Result<Value, String> {
        let text = self.checked("POST", path, body)?;
        serde_json::from_str(&text).map_err(|e| format!("POST {path}: not JSON: {e}"))
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
