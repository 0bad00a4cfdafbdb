//! Tests: confirm.
//!
//! Levels, the confirmation threshold, jobs waiting for it, explicit approval and the
//! auto-release of the threshold (on a `ManualClock`).

use std::sync::Arc;
use std::time::Duration;

use current::engine::{Engine, EngineOptions};
use current::job::{Job, JobError, Phase, StartOptions};
use current::level::UnknownLevel;
use current::pool::Pool;
use current::term::Term;
use current::{Config, Level};

use super::job::{log_of, wait_for, Fixture, StateDir, DEADLINE};

/// Wait until `job` waits for confirmation and has said so in its log (the phase changes
/// just before the line is written).
fn waiting(job: &Job) {
    wait_for(
        format_args!("{job:?} to wait for confirmation"),
        || {
            job.phase() == Phase::WaitingForConfirmation
                && log_of(job).contains("Waiting for confirm-threshold > ")
        },
        || format!("phase {:?}, log:\n{}", job.phase(), log_of(job)),
    );
}

#[test]
fn levels_parse_print_and_order() {
    let names = [
        "harmless",
        "mostly-harmless",
        "average",
        "above-average",
        "dangerous",
    ];
    assert_eq!(Level::ALL.map(Level::name), names);
    for (level, name) in Level::ALL.into_iter().zip(names) {
        assert_eq!(level.to_string(), name);
        assert_eq!(name.parse::<Level>(), Ok(level));
    }
    assert!(
        Level::ALL.windows(2).all(|w| w[0] < w[1]),
        "least dangerous first"
    );
    assert_eq!(
        "risky".parse::<Level>().unwrap_err().to_string(),
        r#"Unknown level "risky"; expected one of harmless, mostly-harmless, average, above-average, dangerous"#
    );
    // Names are exact: no other case, no spaces, and `none` is not a level.
    for bad in [
        "Dangerous",
        " average",
        "average ",
        "mostly_harmless",
        "none",
        "",
    ] {
        assert_eq!(bad.parse::<Level>(), Err(UnknownLevel(bad.to_string())));
    }
    assert_eq!(
        "say \"hi\"".parse::<Level>().unwrap_err().to_string(),
        r#"Unknown level "say \"hi\""; expected one of harmless, mostly-harmless, average, above-average, dangerous"#
    );
}

#[test]
fn the_threshold_applies_at_and_above_its_level() {
    let config = Config::new(Some(Level::Average));
    let shared = config.clone();
    assert_eq!(config.confirm(), Some(Level::Average));
    let needs: Vec<bool> = Level::ALL.map(|l| config.needs_confirmation(l)).to_vec();
    assert_eq!(needs, [false, false, true, true, true]);
    shared.set_confirm(Some(Level::Harmless));
    assert!(
        Level::ALL.iter().all(|&l| config.needs_confirmation(l)),
        "clones share the threshold"
    );
    shared.set_confirm(None);
    assert!(Level::ALL.iter().all(|&l| !config.needs_confirmation(l)));
    assert_eq!(
        format!("{config:?}"),
        "Config { confirm: None, auto_release: None }"
    );
}

#[test]
fn a_job_at_or_above_the_threshold_waits_until_the_threshold_is_cleared() {
    let fx = Fixture::with_config("confirm-clear", Config::new(Some(Level::Average)));
    let average = fx.job("average");
    let dangerous = fx.job("dangerous");
    let start_average = fx.spawn_start(&average, Level::Average, StartOptions::default());
    let start_dangerous = fx.spawn_start(&dangerous, Level::Dangerous, StartOptions::default());
    waiting(&average);
    waiting(&dangerous);
    assert!(average.is_waiting_for_confirmation());
    assert!(dangerous.is_waiting_for_confirmation());
    assert!(!start_average.is_finished() && !start_dangerous.is_finished());
    assert_eq!(average.start_time(), None);
    assert_eq!(
        log_of(&average),
        "2022-02-09 11:57.53: Waiting for confirm-threshold > average\n"
    );
    assert_eq!(
        log_of(&dangerous),
        "2022-02-09 11:57.53: Waiting for confirm-threshold > dangerous\n"
    );

    fx.clock.advance(Duration::from_secs(7));
    fx.ctx.config().set_confirm(None);
    fx.start_result(&average, start_average).expect("released");
    fx.start_result(&dangerous, start_dangerous)
        .expect("released");
    for job in [&average, &dangerous] {
        assert_eq!(job.phase(), Phase::Running);
        assert!(!job.is_waiting_for_confirmation());
        assert_eq!(
            job.start_time(),
            Some(super::job::t0() + Duration::from_secs(7))
        );
    }
    assert_eq!(
        log_of(&average),
        "2022-02-09 11:57.53: Waiting for confirm-threshold > average\n\
         2022-02-09 11:58.00: Confirm-threshold now disabled\n"
    );
    assert_eq!(
        log_of(&dangerous),
        "2022-02-09 11:57.53: Waiting for confirm-threshold > dangerous\n\
         2022-02-09 11:58.00: Confirm-threshold now disabled\n"
    );
}

#[test]
fn the_lowest_threshold_holds_even_harmless_jobs() {
    let fx = Fixture::with_config("confirm-harmless", Config::new(Some(Level::Harmless)));
    let job = fx.job("harmless");
    let start = fx.spawn_start(&job, Level::Harmless, StartOptions::default());
    waiting(&job);
    assert_eq!(
        log_of(&job),
        "2022-02-09 11:57.53: Waiting for confirm-threshold > harmless\n"
    );
    fx.ctx.config().set_confirm(None);
    fx.start_result(&job, start).expect("released");
}

#[test]
fn lowering_the_threshold_keeps_jobs_waiting() {
    let fx = Fixture::with_config("confirm-lower", Config::new(Some(Level::Dangerous)));
    let job = fx.job("deploy");
    let start = fx.spawn_start(&job, Level::Dangerous, StartOptions::default());
    waiting(&job);
    fx.ctx.config().set_confirm(Some(Level::Average));
    fx.ctx.config().set_confirm(Some(Level::Dangerous));
    assert!(job.is_waiting_for_confirmation());
    assert!(!start.is_finished());
    assert_eq!(
        log_of(&job),
        "2022-02-09 11:57.53: Waiting for confirm-threshold > dangerous\n"
    );
    fx.ctx.config().set_confirm(None);
    fx.start_result(&job, start).expect("released");
    assert_eq!(
        log_of(&job),
        "2022-02-09 11:57.53: Waiting for confirm-threshold > dangerous\n\
         2022-02-09 11:57.53: Confirm-threshold now disabled\n"
    );
}

#[test]
fn raising_the_threshold_releases_only_the_jobs_below_it() {
    let fx = Fixture::with_config("confirm-raise", Config::new(Some(Level::Average)));
    let build = fx.job("build");
    let deploy = fx.job("deploy");
    let start_build = fx.spawn_start(&build, Level::Average, StartOptions::default());
    let start_deploy = fx.spawn_start(&deploy, Level::Dangerous, StartOptions::default());
    waiting(&build);
    waiting(&deploy);

    fx.ctx.config().set_confirm(Some(Level::Dangerous));
    fx.start_result(&build, start_build)
        .expect("the build is released");
    assert_eq!(build.phase(), Phase::Running);
    let log = log_of(&build);
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert_eq!(
        lines[0],
        "2022-02-09 11:57.53: Waiting for confirm-threshold > average"
    );
    assert!(
        lines[1].starts_with("2022-02-09 11:57.53: Confirm-threshold now > "),
        "{log}"
    );

    assert!(deploy.is_waiting_for_confirmation());
    assert!(!start_deploy.is_finished());
    assert_eq!(
        log_of(&deploy),
        "2022-02-09 11:57.53: Waiting for confirm-threshold > dangerous\n"
    );
    fx.ctx.config().set_confirm(None);
    fx.start_result(&deploy, start_deploy)
        .expect("the deploy is released");
}

/// OCaml logs `Confirm-threshold now > <the job's level>`, which is true when the job is
/// released (the threshold is now above its level). The new threshold, as logged now, is
/// not above anything: "Confirm-threshold now > dangerous" for a threshold *at* dangerous.
#[test]
fn the_release_line_says_the_threshold_is_now_above_the_jobs_level() {
    let fx = Fixture::with_config("confirm-raise-text", Config::new(Some(Level::Average)));
    let build = fx.job("build");
    let start = fx.spawn_start(&build, Level::Average, StartOptions::default());
    waiting(&build);
    fx.ctx.config().set_confirm(Some(Level::Dangerous));
    fx.start_result(&build, start)
        .expect("the build is released");
    assert_eq!(
        log_of(&build),
        "2022-02-09 11:57.53: Waiting for confirm-threshold > average\n\
         2022-02-09 11:57.53: Confirm-threshold now > average\n"
    );
}

#[test]
fn approve_early_start_releases_only_that_job() {
    let fx = Fixture::with_config("confirm-approve", Config::new(Some(Level::Average)));
    let first = fx.job("first");
    let second = fx.job("second");
    let start_first = fx.spawn_start(&first, Level::Dangerous, StartOptions::default());
    let start_second = fx.spawn_start(&second, Level::Dangerous, StartOptions::default());
    waiting(&first);
    waiting(&second);

    fx.clock.advance(Duration::from_secs(60));
    first.approve_early_start();
    fx.start_result(&first, start_first).expect("approved");
    assert_eq!(first.phase(), Phase::Running);
    assert_eq!(
        log_of(&first),
        "2022-02-09 11:57.53: Waiting for confirm-threshold > dangerous\n\
         2022-02-09 11:58.53: Explicit approval received for this job\n"
    );
    assert!(second.is_waiting_for_confirmation());
    assert!(!start_second.is_finished());
    assert_eq!(
        fx.ctx.config().confirm(),
        Some(Level::Average),
        "the threshold is unchanged"
    );
    // Approving twice, or a running job, changes nothing.
    first.approve_early_start();
    assert_eq!(log_of(&first).lines().count(), 2);

    second.approve_early_start();
    fx.start_result(&second, start_second).expect("approved");
    assert_eq!(
        log_of(&second),
        "2022-02-09 11:57.53: Waiting for confirm-threshold > dangerous\n\
         2022-02-09 11:58.53: Explicit approval received for this job\n"
    );
}

#[test]
fn a_job_approved_before_it_starts_does_not_wait() {
    let fx = Fixture::with_config("confirm-approve-first", Config::new(Some(Level::Average)));
    let job = fx.job("approved");
    job.approve_early_start();
    let start = fx.spawn_start(&job, Level::Dangerous, StartOptions::default());
    fx.start_result(&job, start).expect("approved");
    assert_eq!(
        log_of(&job),
        "2022-02-09 11:57.53: Waiting for confirm-threshold > dangerous\n\
         2022-02-09 11:57.53: Explicit approval received for this job\n"
    );
}

#[test]
fn a_job_below_the_threshold_does_not_wait() {
    let fx = Fixture::with_config("confirm-below", Config::new(Some(Level::AboveAverage)));
    for level in [Level::Harmless, Level::MostlyHarmless, Level::Average] {
        let job = fx.job(level.name());
        let start = fx.spawn_start(&job, level, StartOptions::default());
        fx.start_result(&job, start).expect("starts at once");
        assert_eq!(job.phase(), Phase::Running);
        assert!(!job.is_waiting_for_confirmation());
        assert_eq!(log_of(&job), "", "nothing about confirmation is logged");
    }
    // With no threshold, nothing waits.
    fx.ctx.config().set_confirm(None);
    let job = fx.job("dangerous");
    let start = fx.spawn_start(&job, Level::Dangerous, StartOptions::default());
    fx.start_result(&job, start).expect("starts at once");
    assert_eq!(log_of(&job), "");
}

#[test]
fn cancelling_a_job_waiting_for_confirmation_fails_its_start() {
    let fx = Fixture::with_config("confirm-cancel", Config::new(Some(Level::Average)));
    let job = fx.job("waiting");
    let start = fx.spawn_start(&job, Level::Average, StartOptions::default());
    waiting(&job);
    fx.clock.advance(Duration::from_secs(1));
    job.cancel("Not today");
    let err = fx.start_result(&job, start).unwrap_err();
    assert!(
        matches!(&err, JobError::Cancelled(r) if r == "Not today"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "Not today");
    assert_eq!(job.start_time(), None);
    // Releasing the threshold afterwards changes nothing.
    fx.ctx.config().set_confirm(None);
    job.complete();
    assert_eq!(
        log_of(&job),
        "2022-02-09 11:57.53: Waiting for confirm-threshold > average\n\
         2022-02-09 11:57.54: Cancelling: Not today\n"
    );
}

/// `is_waiting_for_confirmation` answers "is approving this job useful?" (OCaml's comment
/// on the field): not once its start has failed.
#[test]
fn a_cancelled_job_is_no_longer_waiting_for_confirmation() {
    let fx = Fixture::with_config("confirm-cancel-phase", Config::new(Some(Level::Average)));
    let job = fx.job("waiting");
    let start = fx.spawn_start(&job, Level::Average, StartOptions::default());
    waiting(&job);
    job.cancel("Not today");
    fx.start_result(&job, start).unwrap_err();
    assert!(!job.is_waiting_for_confirmation());
    assert_ne!(job.phase(), Phase::WaitingForConfirmation);
}

#[test]
fn confirmation_comes_before_the_pool() {
    let fx = Fixture::with_config("confirm-pool", Config::new(Some(Level::Average)));
    let pool = Pool::new("deployers", 1);
    let job = fx.job("deploy");
    let start = fx.spawn_start(
        &job,
        Level::Dangerous,
        StartOptions {
            pool: Some(pool.clone()),
            ..StartOptions::default()
        },
    );
    waiting(&job);
    assert_eq!(
        pool.stats().in_use + pool.stats().queued,
        0,
        "no slot is taken while waiting for confirmation"
    );
    fx.clock.advance(Duration::from_secs(2));
    job.approve_early_start();
    fx.start_result(&job, start).expect("starts");
    assert_eq!(pool.stats().in_use, 1);
    assert_eq!(
        log_of(&job),
        // The slot was free: as in OCurrent, nothing is logged about the pool.
        "2022-02-09 11:57.53: Waiting for confirm-threshold > dangerous\n\
         2022-02-09 11:57.55: Explicit approval received for this job\n"
    );
    job.complete();
    assert_eq!(pool.stats().in_use, 0);
}

#[test]
fn auto_release_clears_the_threshold_after_its_period() {
    let config = Config::with_auto_release(Some(Level::Average), Some(Duration::from_secs(600)));
    assert_eq!(config.auto_release(), Some(Duration::from_secs(600)));
    let fx = Fixture::with_config("confirm-auto-release", config.clone());
    let job = fx.job("build");
    let start = fx.spawn_start(&job, Level::Average, StartOptions::default());
    waiting(&job);

    let release = fx.rt.spawn({
        let (config, clock) = (config.clone(), fx.clock.clone());
        async move { config.run_auto_release(&clock).await }
    });
    wait_for(
        "the auto-release to sleep",
        || fx.clock.sleepers() == 1,
        || format!("{config:?}"),
    );
    fx.clock.advance(Duration::from_secs(599));
    assert_eq!(config.confirm(), Some(Level::Average), "not yet");
    assert!(job.is_waiting_for_confirmation());
    fx.clock.advance(Duration::from_secs(1));
    wait_for(
        "the auto-release",
        || release.is_finished(),
        || format!("{config:?}"),
    );
    assert_eq!(config.confirm(), None);
    fx.start_result(&job, start).expect("released");
    assert_eq!(
        log_of(&job),
        "2022-02-09 11:57.53: Waiting for confirm-threshold > average\n\
         2022-02-09 12:07.53: Confirm-threshold now disabled\n"
    );
}

#[test]
fn a_threshold_set_by_a_user_is_not_auto_released() {
    let config = Config::with_auto_release(Some(Level::Average), Some(Duration::from_secs(600)));
    let fx = Fixture::with_config("confirm-auto-release-user", config.clone());
    let release = fx.rt.spawn({
        let (config, clock) = (config.clone(), fx.clock.clone());
        async move { config.run_auto_release(&clock).await }
    });
    wait_for(
        "the auto-release to sleep",
        || fx.clock.sleepers() == 1,
        || format!("{config:?}"),
    );
    fx.clock.advance(Duration::from_secs(300));
    config.set_confirm(Some(Level::Dangerous));
    fx.clock.advance(Duration::from_secs(300));
    wait_for(
        "the auto-release to end",
        || release.is_finished(),
        || format!("{config:?}"),
    );
    assert_eq!(config.confirm(), Some(Level::Dangerous));

    // Setting the same value as before counts as a user's choice too.
    let config = Config::with_auto_release(Some(Level::Average), Some(Duration::from_secs(10)));
    let release = fx.rt.spawn({
        let (config, clock) = (config.clone(), fx.clock.clone());
        async move { config.run_auto_release(&clock).await }
    });
    wait_for(
        "the auto-release to sleep",
        || fx.clock.sleepers() == 1,
        || format!("{config:?}"),
    );
    config.set_confirm(Some(Level::Average));
    fx.clock.advance(Duration::from_secs(10));
    wait_for(
        "the auto-release to end",
        || release.is_finished(),
        || format!("{config:?}"),
    );
    assert_eq!(config.confirm(), Some(Level::Average));
}

#[test]
fn without_a_period_auto_release_does_nothing() {
    let fx = Fixture::new("confirm-no-auto-release");
    let config = Config::new(Some(Level::Average));
    assert_eq!(config.auto_release(), None);
    let clock = fx.clock.clone();
    fx.rt.block_on(config.run_auto_release(&clock));
    assert_eq!(config.confirm(), Some(Level::Average));
    assert_eq!(fx.clock.sleepers(), 0);
}

#[test]
fn an_engine_runs_the_auto_release_of_its_config() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = StateDir::new("confirm-engine-auto-release");
    let clock = current::clock::ManualClock::new(super::job::t0());
    let config = Config::with_auto_release(Some(Level::Average), Some(Duration::from_secs(3600)));
    let mut options = EngineOptions::new(&dir.0, rt.handle().clone());
    options.clock = Arc::new(clock.clone());
    options.config = config.clone();
    let engine = Engine::start(options, || Term::labelled("x", 1)).expect("the engine starts");
    engine
        .wait_until(|s| s.result == Ok(1), DEADLINE)
        .expect("a result");
    wait_for(
        "the auto-release to sleep",
        || clock.sleepers() == 1,
        || format!("{config:?}"),
    );
    assert_eq!(engine.context().config().confirm(), Some(Level::Average));
    clock.advance(Duration::from_secs(3600));
    wait_for(
        "the auto-release",
        || config.confirm().is_none(),
        || format!("{config:?}"),
    );
    assert_eq!(engine.context().config().confirm(), None);
    engine.shutdown("test over").expect("a clean shutdown");
}
