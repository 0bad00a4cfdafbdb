//! `/metrics`: evaluation time, stage totals, jobs, cache counts per operation and pool
//! use, in Prometheus text.

use std::sync::LazyLock;

use current::job::Job;
use current::pool::Pool;
use current::term::Term;
use current::web::Renderer;
use current::{primitive, Config};

use super::http::{Served, DEADLINE};

/// One slot: the second job waits for the first, which never ends.
static SLOTS: LazyLock<Pool> = LazyLock::new(|| Pool::new("it-metrics-slots", 1));

#[primitive(pool = SLOTS.clone())]
async fn hold(_job: &Job, n: u32) -> Result<u32, String> {
    std::future::pending::<()>().await;
    Ok(n)
}

#[primitive]
async fn count(_job: &Job, n: u32) -> Result<u32, String> {
    Ok(n)
}

/// The value of the series `name` (with its labels) in `text`.
fn series(text: &str, name: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .map(str::to_string)
}

#[test]
fn metrics_count_evaluations_cache_use_and_pool_waits() {
    let s = Served::start("web-metrics", Config::new(None), Renderer::Builtin, || {
        let counted = Term::all([1, 2, 1].map(|n| count(&Term::value(n)).map(|_| ())));
        let held = Term::all([1, 2].map(|n| hold(&Term::value(n)).map(|_| ())));
        counted.pair(&held)
    });
    s.engine()
        .wait_until(
            |snap| snap.stats.ok == 3 && snap.stats.running == 1 && snap.stats.ready == 1,
            DEADLINE,
        )
        .expect("the counts done, one hold running and one waiting for the pool");
    let m = s.get("/metrics");
    assert_eq!(m.status, 200, "{m:?}");
    assert_eq!(m.header("content-type"), Some("text/plain; version=0.0.4"));
    let text = &m.body;

    for (name, value) in [
        (
            "current_cache_hits_total{id=\"it::web::metrics::count\"}",
            "0",
        ),
        (
            "current_cache_misses_total{id=\"it::web::metrics::count\"}",
            "2",
        ),
        (
            "current_cache_builds_total{id=\"it::web::metrics::count\"}",
            "2",
        ),
        (
            "current_cache_builds_total{id=\"it::web::metrics::hold\"}",
            "2",
        ),
        ("current_pool_qlen{name=\"it-metrics-slots\"}", "1"),
        (
            "current_pool_resources_in_use{name=\"it-metrics-slots\"}",
            "1",
        ),
        ("current_pool_capacity{name=\"it-metrics-slots\"}", "1"),
        (
            "current_pool_wait_time_seconds_count{name=\"it-metrics-slots\"}",
            "1",
        ),
        (
            "current_pool_use_time_seconds_count{name=\"it-metrics-slots\"}",
            "0",
        ),
        ("current_core_active_jobs", "2"),
        ("current_core_pipeline_stage_total{state=\"ok\"}", "3"),
        ("current_core_pipeline_stage_total{state=\"running\"}", "1"),
        ("current_core_pipeline_stage_total{state=\"ready\"}", "1"),
    ] {
        assert_eq!(
            series(text, name).as_deref(),
            Some(value),
            "{name} in\n{text}"
        );
    }
    let evaluations: u64 = series(text, "current_core_evaluation_time_seconds_count")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no evaluation count in\n{text}"));
    assert!(evaluations >= 1, "{text}");
    let total: f64 = series(text, "current_core_evaluation_time_seconds_sum")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no evaluation time in\n{text}"));
    assert!(total > 0.0, "{text}");
    for kind in ["summary", "counter", "gauge"] {
        assert!(text.contains(&format!(" {kind}\n")), "{kind} in\n{text}");
    }
    // Every sample line is `name[{labels}] value`, and each name is declared once.
    let mut declared = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap_or_default();
            assert!(declared.insert(name.to_string()), "{name} twice in\n{text}");
        } else if !line.starts_with('#') {
            let value = line.rsplit(' ').next().unwrap_or_default();
            assert!(value.parse::<f64>().is_ok(), "bad sample line {line:?}");
        }
    }
}
