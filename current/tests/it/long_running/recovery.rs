//! What the supervisor does when things go wrong: recoverable errors within and beyond
//! a job's budget, and a stored job whose backend this program does not have.
//!
//! `Flaky` and `Elsewhere` are real backends: they run jobs as the `local` backend does,
//! the first failing its first status calls, the second under another name.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use current::engine::{Engine, EngineOptions};
use current::job::Job;
use current::long_running::local::{Local, LocalRunning};
use current::long_running::{
    self, Backend, BackendError, HandleState, Liveness, Script, Settings, Submission, Tracked,
};
use current::store::Store;
use current::term::{ErrorKind, Term};

use super::{log_of, Scratch};
use crate::support::runtime;

const DEADLINE: Duration = Duration::from_secs(30);

fn quick(budget: u32) -> Settings {
    Settings {
        poll_min: Duration::from_millis(20),
        poll_max: Duration::from_millis(100),
        grace: Duration::from_secs(1),
        error_budget: budget,
    }
}

/// The local backend, whose first `failures` status calls fail as a scheduler that
/// does not answer would.
struct Flaky {
    local: Local,
    failures: AtomicU32,
}

impl Backend for Flaky {
    const NAME: &'static str = "flaky";
    type Spec = ();
    type Running = LocalRunning;

    fn settings(&self) -> Settings {
        self.local.settings
    }

    async fn start(&self, job: &Submission<'_, ()>) -> Result<LocalRunning, BackendError> {
        self.local.start(job).await
    }

    async fn find(&self, job: &Submission<'_, ()>) -> Result<Option<LocalRunning>, BackendError> {
        self.local.find(job).await
    }

    async fn status(
        &self,
        jobs: &[Tracked<'_, Self>],
    ) -> Result<Vec<Liveness<LocalRunning>>, BackendError> {
        let left = self.failures.load(Ordering::SeqCst);
        if left > 0 {
            self.failures.store(left - 1, Ordering::SeqCst);
            return Err(BackendError::Recoverable(
                "the scheduler did not answer".into(),
            ));
        }
        let local = as_local(jobs);
        self.local.status(&local).await
    }

    async fn kill(&self, jobs: &[Tracked<'_, Self>]) -> Result<(), BackendError> {
        let local = as_local(jobs);
        self.local.kill(&local).await
    }

    fn describe(&self, _job: &Tracked<'_, Self>) -> Vec<(String, String)> {
        vec![("Backend".into(), "flaky".into())]
    }

    async fn query(&self, _job: &Tracked<'_, Self>, name: &str) -> Result<String, BackendError> {
        Err(BackendError::Fatal(format!("no query {name:?}")))
    }
}

/// The same jobs, as the local backend's (both backends' parameters are the local one's).
fn as_local<'a, B>(jobs: &'a [Tracked<'a, B>]) -> Vec<Tracked<'a, Local>>
where
    B: Backend<Spec = (), Running = LocalRunning>,
{
    jobs.iter()
        .map(|j| Tracked::new(j.name(), j.run_dir(), j.spec(), j.running()))
        .collect()
}

/// Where the pipeline's backend is kept, for the primitive below.
static FLAKY: Mutex<Option<Arc<Flaky>>> = Mutex::new(None);

#[current::primitive]
async fn flaky_job(job: &Job, script: String) -> Result<String, String> {
    let backend = FLAKY.lock().unwrap().clone().ok_or("no backend")?;
    let done = long_running::run(job, &backend, &Script::new(script), ())
        .await
        .map_err(|e| e.to_string())?;
    std::fs::read_to_string(done.run_dir.stdout()).map_err(|e| e.to_string())
}

/// Both recoverable-error tests, one after the other (they share the backend's slot).
#[test]
fn recoverable_errors_are_survived_within_the_budget_and_fail_the_job_beyond_it() {
    let rt = runtime();

    // Three errors, a budget of ten: the job goes on and succeeds.
    let s = Scratch::new("within");
    *FLAKY.lock().unwrap() = Some(Arc::new(Flaky {
        local: Local {
            settings: quick(10),
            ..Local::default()
        },
        failures: AtomicU32::new(3),
    }));
    let engine = Engine::start(EngineOptions::new(&s.0, rt.handle().clone()), || {
        flaky_job(&Term::value("sleep 0.3; echo fine".to_string()))
    })
    .expect("the engine starts");
    engine
        .wait_until(|s| s.result == Ok("fine\n".to_string()), DEADLINE)
        .unwrap_or_else(|e| panic!("{e:?}\n{}", log_of(&engine)));
    let log = log_of(&engine);
    for n in 1..=3 {
        assert!(
            log.contains(&format!(
                "Recoverable error ({n} of 10): the scheduler did not answer"
            )),
            "{log}"
        );
    }
    engine.shutdown("next").expect("a clean shutdown");

    // Two in a row with a budget of two: the job fails, saying why.
    let s = Scratch::new("beyond");
    *FLAKY.lock().unwrap() = Some(Arc::new(Flaky {
        local: Local {
            settings: quick(2),
            ..Local::default()
        },
        failures: AtomicU32::new(100),
    }));
    let engine = Engine::start(EngineOptions::new(&s.0, rt.handle().clone()), || {
        flaky_job(&Term::value("sleep 30".to_string()))
    })
    .expect("the engine starts");
    let snap = engine
        .wait_until(|s| s.stats.failed == 1, DEADLINE)
        .unwrap_or_else(|e| panic!("{e:?}\n{}", log_of(&engine)));
    assert_eq!(
        snap.result,
        Err(ErrorKind::msg(
            "gave up after 2 errors in a row: the scheduler did not answer (will try again)"
        ))
    );
    engine.shutdown("test over").expect("a clean shutdown");
}

/// The local backend under another name.
struct Elsewhere(Local);

impl Backend for Elsewhere {
    const NAME: &'static str = "elsewhere";
    type Spec = ();
    type Running = LocalRunning;

    fn settings(&self) -> Settings {
        self.0.settings
    }

    async fn start(&self, job: &Submission<'_, ()>) -> Result<LocalRunning, BackendError> {
        self.0.start(job).await
    }

    async fn find(&self, job: &Submission<'_, ()>) -> Result<Option<LocalRunning>, BackendError> {
        self.0.find(job).await
    }

    async fn status(
        &self,
        jobs: &[Tracked<'_, Self>],
    ) -> Result<Vec<Liveness<LocalRunning>>, BackendError> {
        let local = as_local(jobs);
        self.0.status(&local).await
    }

    async fn kill(&self, jobs: &[Tracked<'_, Self>]) -> Result<(), BackendError> {
        let local = as_local(jobs);
        self.0.kill(&local).await
    }

    fn describe(&self, _job: &Tracked<'_, Self>) -> Vec<(String, String)> {
        vec![("Backend".into(), "elsewhere".into())]
    }

    async fn query(&self, _job: &Tracked<'_, Self>, name: &str) -> Result<String, BackendError> {
        Err(BackendError::Fatal(format!("no query {name:?}")))
    }
}

static ELSEWHERE: std::sync::LazyLock<Arc<Elsewhere>> = std::sync::LazyLock::new(|| {
    Arc::new(Elsewhere(Local {
        settings: quick(10),
        ..Local::default()
    }))
});

/// Whether `moved` uses the local backend (as a program without `elsewhere` would).
static USE_LOCAL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Runs its script on `elsewhere`, or on the local backend while [`USE_LOCAL`] is set.
#[current::primitive]
async fn moved(job: &Job, script: String) -> Result<String, String> {
    let script = Script::new(script);
    let done = if USE_LOCAL.load(Ordering::SeqCst) {
        let backend = Arc::new(Local {
            settings: quick(10),
            ..Local::default()
        });
        long_running::run(job, &backend, &script, ()).await
    } else {
        long_running::run(job, &ELSEWHERE, &script, ()).await
    }
    .map_err(|e| e.to_string())?;
    std::fs::read_to_string(done.run_dir.stdout()).map_err(|e| e.to_string())
}

#[test]
fn a_job_whose_backend_is_missing_waits_for_a_program_that_has_it() {
    let rt = runtime();
    let s = Scratch::new("orphan");
    let release = s.0.join("release");
    let script = format!(
        "while [ ! -e {} ]; do sleep 0.05; done; echo picked up",
        release.display()
    );
    let start = |local: bool| {
        USE_LOCAL.store(local, Ordering::SeqCst);
        let script = script.clone();
        Engine::start(
            EngineOptions::new(s.0.join("state"), rt.handle().clone()),
            move || moved(&Term::value(script)),
        )
        .expect("the engine starts")
    };

    // Started on `elsewhere`, then the engine stops.
    let first = start(false);
    let deadline = Instant::now() + DEADLINE;
    while !log_of(&first).contains("elsewhere") {
        assert!(Instant::now() < deadline, "{}", log_of(&first));
        std::thread::sleep(Duration::from_millis(20));
    }
    first.shutdown("restart").expect("a clean shutdown");

    // A program without `elsewhere`: the job stays alive, saying why.
    let second = start(true);
    let deadline = Instant::now() + DEADLINE;
    while !log_of(&second).contains("which this program does not have") {
        assert!(Instant::now() < deadline, "{}", log_of(&second));
        std::thread::sleep(Duration::from_millis(20));
    }
    let job = second.snapshot().jobs[0].clone();
    let status = long_running::status(second.context(), &job).expect("a status");
    assert_eq!(status.handle.backend, "elsewhere");
    assert_eq!(
        status.handle.last_error.as_deref(),
        Some("the backend \"elsewhere\" is not registered")
    );
    assert_eq!(
        status.description,
        [(
            "backend".to_string(),
            "\"elsewhere\" is not registered in this program".to_string()
        )]
    );
    assert!(matches!(
        second.snapshot().result,
        Err(ErrorKind::Active(_))
    ));
    second.shutdown("restart").expect("a clean shutdown");

    // A program with it registered at start-up picks the job up and finishes it.
    let third = start(true);
    long_running::register(third.context(), &ELSEWHERE).expect("registered");
    std::fs::write(&release, "").expect("the release file");
    third
        .wait_until(|s| s.result == Ok("picked up\n".to_string()), DEADLINE)
        .unwrap_or_else(|e| panic!("{e:?}\n{}", log_of(&third)));
    third.shutdown("test over").expect("a clean shutdown");
    let store = Store::open(&s.0.join("state")).expect("the store");
    let handles: Vec<_> = store
        .tree::<long_running::Handle>()
        .expect("handles")
        .iter()
        .filter_map(Result::ok)
        .map(|(_, h)| h)
        .collect();
    assert_eq!(handles.len(), 1);
    assert_eq!(handles[0].state, HandleState::Succeeded);
}
