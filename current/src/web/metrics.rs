//! `/metrics`: the engine's measurements as Prometheus text (version 0.0.4), named as
//! OCurrent names them with `current_` for `ocurrent_`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use crate::metrics::{Metrics, Timings};
use crate::pool;

use super::Site;

/// The whole text of `/metrics`.
pub(crate) fn render(site: &Site) -> String {
    let s = site.view.summary();
    let ctx = site.view.context();
    let metrics = Metrics::of(ctx);
    let mut out = Text(String::new());

    out.help(
        "current_core_evaluation_time_seconds",
        "summary",
        "Time taken by each evaluation of the pipeline.",
    );
    let evaluation = metrics.evaluation();
    out.summary(
        "current_core_evaluation_time_seconds",
        "",
        evaluation.sum(),
        evaluation.count(),
    );
    out.help(
        "current_core_evaluations_total",
        "counter",
        "Evaluations of the pipeline.",
    );
    out.line("current_core_evaluations_total", "", s.step);
    out.help(
        "current_core_pipeline_stage_total",
        "gauge",
        "Stages of the pipeline by state.",
    );
    for (state, n) in [
        ("ok", s.stats.ok),
        ("waiting_for_confirmation", s.stats.waiting_for_confirmation),
        ("ready", s.stats.ready),
        ("running", s.stats.running),
        ("failed", s.stats.failed),
        ("blocked", s.stats.blocked),
    ] {
        out.line(
            "current_core_pipeline_stage_total",
            &label("state", state),
            n,
        );
    }
    out.help("current_core_active_jobs", "gauge", "Jobs open now.");
    out.line("current_core_active_jobs", "", ctx.jobs().len());

    let ops = metrics.operations();
    for (name, help, pick) in [
        (
            "current_cache_hits_total",
            "Wanted keys whose stored result could be used, by operation.",
            (|c| c.hits) as fn(&crate::metrics::OperationCounts) -> u64,
        ),
        (
            "current_cache_misses_total",
            "Wanted keys that needed a job, by operation.",
            |c| c.misses,
        ),
        (
            "current_cache_builds_total",
            "Jobs started, by operation.",
            |c| c.builds,
        ),
    ] {
        out.help(name, "counter", help);
        for (id, counts) in &ops {
            out.line(name, &label("id", id), pick(counts));
        }
    }

    // Pools that share a name are shown as one.
    let mut pools: BTreeMap<String, Vec<pool::Pool>> = BTreeMap::new();
    for p in pool::all() {
        pools.entry(p.name().to_string()).or_default().push(p);
    }
    type Gauge = fn(&pool::PoolStats) -> usize;
    for (metric, help, pick) in [
        (
            "current_pool_qlen",
            "Jobs waiting for a slot of the pool.",
            (|s| s.queued) as Gauge,
        ),
        (
            "current_pool_resources_in_use",
            "Slots of the pool held now.",
            |s| s.in_use,
        ),
        ("current_pool_capacity", "Slots of the pool.", |s| {
            s.capacity
        }),
    ] {
        out.help(metric, "gauge", help);
        for (name, ps) in &pools {
            let n: usize = ps.iter().map(|p| pick(&p.stats())).sum();
            out.line(metric, &label("name", name), n);
        }
    }
    type Times = fn(&pool::Pool) -> &Timings;
    for (metric, help, pick) in [
        (
            "current_pool_wait_time_seconds",
            "Time spent waiting for a slot of the pool.",
            pool::Pool::wait_time as Times,
        ),
        (
            "current_pool_use_time_seconds",
            "Time a slot of the pool was held.",
            pool::Pool::use_time,
        ),
    ] {
        out.help(metric, "summary", help);
        for (name, ps) in &pools {
            let sum = ps.iter().map(|p| pick(p).sum()).sum();
            let count = ps.iter().map(|p| pick(p).count()).sum();
            out.summary(metric, &label("name", name), sum, count);
        }
    }
    out.0
}

/// `{name="value"}`, the value escaped as the text format asks.
fn label(name: &str, value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    format!("{{{name}=\"{escaped}\"}}")
}

struct Text(String);

impl Text {
    fn help(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn line(&mut self, name: &str, labels: &str, value: impl std::fmt::Display) {
        let _ = writeln!(self.0, "{name}{labels} {value}");
    }

    fn summary(&mut self, name: &str, labels: &str, sum: Duration, count: u64) {
        let _ = writeln!(self.0, "{name}_sum{labels} {}", sum.as_secs_f64());
        let _ = writeln!(self.0, "{name}_count{labels} {count}");
    }
}
