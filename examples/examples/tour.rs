//! The README's tour pipeline: run it, then write its diagram (graphviz dot) to stdout.
//!
//! ```text
//! cargo run --example tour | dot -Tsvg > docs/tour.svg
//! ```

use std::time::Duration;

use current::engine::{Engine, EngineOptions};
use current::job::Job;
use current::process::{check_output, Command, ProcessError};
use current::term::analysis;
use current::var::Var;
use current::{pipeline, primitive};

/// Echo `text` in a real process: cached per text.
#[primitive(level = Harmless, timeout = "1m")]
async fn echo(job: &Job, text: String) -> Result<String, ProcessError> {
    let out = check_output(job, &Command::new("echo").arg(&text)).await?;
    Ok(out.trim().to_string())
}

fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("current-tour-{}", std::process::id()));
    let rt = tokio::runtime::Runtime::new()?;
    let message = Var::new("message", Ok("again".to_string()));
    let input = message.clone();
    let engine = Engine::start(EngineOptions::new(&dir, rt.handle().clone()), move || {
        pipeline! {
            let echoed = echo(&input.get());

            component "shout";
            let> text = echoed;
            if text.is_empty() { Err("nothing to shout") } else { Ok(text.to_uppercase()) }
        }
    })?;
    engine.wait_until(|s| s.result == Ok("AGAIN".into()), Duration::from_secs(30))?;
    let dot = engine.inspect(|g, t| analysis::dot(t, g))?;
    engine.shutdown("example over")?;
    std::fs::remove_dir_all(&dir)?;
    print!("{dot}");
    Ok(())
}
