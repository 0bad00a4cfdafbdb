//! Two primitives that claim the same id: the engine must refuse to start, naming both.
//! Used by `tests/e2e/registry.rs`.

use std::process::ExitCode;

use current::engine::{Engine, EngineOptions};
use current::job::Job;
use current::primitive;
use current::term::Term;

mod first {
    use super::*;

    /// Claims the id `shared-step`.
    #[primitive(id = "shared-step")]
    pub async fn step(_job: &Job, n: u64) -> Result<u64, String> {
        Ok(n)
    }
}

mod second {
    use super::*;

    /// Claims it too.
    #[primitive(id = "shared-step")]
    pub async fn step(_job: &Job, n: u64) -> Result<u64, String> {
        Ok(n + 1)
    }
}

fn main() -> ExitCode {
    let dir = std::env::temp_dir().join(format!("current-duplicates-{}", std::process::id()));
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("no runtime: {e}");
            return ExitCode::from(3);
        }
    };
    let started = Engine::start(EngineOptions::new(&dir, rt.handle().clone()), || {
        let n = Term::value(1);
        first::step(&n).pair(&second::step(&n))
    });
    let _ = std::fs::remove_dir_all(&dir);
    match started {
        Ok(engine) => {
            let _ = engine.shutdown("unexpected start");
            eprintln!("the engine started");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
