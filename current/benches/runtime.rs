//! Benchmarks of the runtime.
//!
//! - `job_overhead/{job,spawn}/{1,10,100}us`: one trivial job (create, start, log a line,
//!   work for N µs, complete) against a plain `tokio::spawn` of the same work.
//! - `engine/10000_jobs`: an engine evaluating a pipeline of 10,000 trivial job steps, from
//!   start until the result is `Ok` (each job writes its log file). The peak memory of one
//!   such run is printed before the measurements.
//!
//! `cargo bench -p current --bench runtime`

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use current::clock::SystemClock;
use current::engine::{Engine, EngineOptions};
use current::job::{self, Job, StartOptions};
use current::pool::Priority;
use current::term::Term;
use current::{Config, Context, Level};

/// Counts live and peak heap bytes, to report the engine's peak memory.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the counters are
// only statistics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Spin for `d`: the work of a trivial job, without sleeping.
fn work(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

fn state_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "current-bench-{name}-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn job_overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let dir = state_dir("jobs");
    let (ctx, _updates) = Context::new(
        &dir,
        Arc::new(SystemClock),
        Config::new(None),
        rt.handle().clone(),
    );
    let mut group = c.benchmark_group("job_overhead");
    for micros in [1u64, 10, 100] {
        let d = Duration::from_micros(micros);
        group.bench_with_input(
            BenchmarkId::new("job", format!("{micros}us")),
            &d,
            |b, &d| {
                b.to_async(&rt).iter(|| {
                    let ctx = ctx.clone();
                    async move {
                        let job = Job::create(&ctx, "bench", Priority::Low).expect("job");
                        job.start(Level::Harmless, StartOptions::default())
                            .await
                            .expect("start");
                        let job2 = job.clone();
                        tokio::spawn(async move {
                            job2.log("working");
                            work(d);
                        })
                        .await
                        .expect("join");
                        job.complete();
                    }
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("spawn", format!("{micros}us")),
            &d,
            |b, &d| {
                b.to_async(&rt).iter(|| async move {
                    tokio::spawn(async move { work(d) }).await.expect("join")
                })
            },
        );
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Start an engine over a pipeline of `n` trivial job steps and wait for `Ok`; the time
/// from start to `Ok`.
fn run_engine(rt: &tokio::runtime::Runtime, n: usize) -> Duration {
    let dir = state_dir("engine");
    let options = EngineOptions::new(&dir, rt.handle().clone());
    let start = Instant::now();
    let engine = Engine::start(options, move || {
        let steps = (0..n).map(|i| {
            job::step(
                &Term::value(i),
                "trivial",
                Level::Harmless,
                StartOptions::default(),
                |job, i| async move {
                    job.log(format_args!("step {i}"));
                    Ok(())
                },
            )
        });
        Term::all(steps)
    })
    .expect("engine");
    engine
        .wait_until(|s| s.result.is_ok(), Duration::from_secs(600))
        .expect("pipeline finished");
    let elapsed = start.elapsed();
    if std::env::var_os("BENCH_VERBOSE").is_some() {
        println!("evaluations: {}", engine.snapshot().step);
    }
    engine.shutdown("bench over").expect("shutdown");
    let _ = std::fs::remove_dir_all(&dir);
    black_box(elapsed)
}

fn engine(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let n = 10_000;
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let once = run_engine(&rt, n);
    let peak = PEAK.load(Ordering::Relaxed) - before;
    println!(
        "engine/{n}_jobs: one run {:.3} s, peak heap {:.1} MiB ({} bytes per job)",
        once.as_secs_f64(),
        peak as f64 / (1 << 20) as f64,
        peak / n
    );
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function(format!("{n}_jobs"), |b| {
        b.iter_custom(|iters| (0..iters).map(|_| run_engine(&rt, n)).sum())
    });
    group.finish();
}

criterion_group!(benches, job_overhead, engine);
criterion_main!(benches);
