//! Benchmarks of `current::incr`, in the scenarios OCaml's `current_incr` was measured in.
//! Every user function is `v + 1` and every change is a real change.
//!
//! - S1 chain: a var, then `n` maps each reading the previous: build, and change +
//!   propagate (`n` re-runs).
//! - S2 fan-out: a var read directly by `n` maps: change + propagate (`n` re-runs).
//! - S3 sparse: `n` vars, each with its own chain of 10 maps: change one var (a different one
//!   each time) and propagate (10 re-runs); and the build.
//! - S4 dynamic: `out` reads a selector, then the end of chain A or chain B: flip the
//!   selector, with the chains built outside the read (`flip`) or inside it, so a flip
//!   tears one chain down and builds the other (`rebuild`).
//! - Memory per map node at n = 1e6, from a counting global allocator (printed; criterion
//!   cannot report it).
//!
//! Throughput is set to the number of nodes each iteration builds or re-runs, so criterion's
//! `thrpt` is nodes per second; time per iteration divided by that count is the time per
//! node. `cargo bench -p current --bench incr -- s1` runs one scenario.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use current::incr::{Changeable, Graph, Var};

// ----- a counting allocator -------------------------------------------------------------------

/// `System`, counting the bytes live and the allocations made.
struct Counting;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` with the same arguments; the counters are
// only statistics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

// ----- the scenarios --------------------------------------------------------------------------

const SIZES: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];

/// S1: `n` maps, each reading the previous.
fn chain(g: &mut Graph, from: &Changeable<i64>, n: usize) -> Changeable<i64> {
    let mut c = *from;
    for _ in 0..n {
        c = g.map(&c, |v| v + 1);
    }
    c
}

/// Criterion settings for a benchmark whose iteration does `n` nodes' worth of work.
fn sized(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, n: usize) {
    group.throughput(Throughput::Elements(n as u64));
    if n >= 100_000 {
        group.sample_size(10);
        group.sampling_mode(SamplingMode::Flat);
    } else {
        group.sample_size(20);
        group.sampling_mode(SamplingMode::Auto);
    }
}

fn s1_chain(c: &mut Criterion) {
    let mut group = c.benchmark_group("s1_chain");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for n in SIZES {
        sized(&mut group, n);
        group.bench_with_input(BenchmarkId::new("build", n), &n, |b, &n| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let mut g = Graph::new();
                    let x = g.var(0i64);
                    let start = Instant::now();
                    let end = chain(&mut g, &x.changeable(), n);
                    total += start.elapsed();
                    black_box(g.observe(&end).ok());
                    drop(g);
                }
                total
            });
        });
        group.bench_with_input(BenchmarkId::new("propagate", n), &n, |b, &n| {
            let mut g = Graph::new();
            let x = g.var(0i64);
            let end = chain(&mut g, &x.changeable(), n);
            let mut v = 0;
            b.iter(|| {
                v += 1;
                g.change(&x, v).expect("change");
                g.propagate().expect("propagate");
            });
            assert_eq!(g.observe(&end), Ok(&(v + n as i64)));
        });
    }
    group.finish();
}

fn s2_fan_out(c: &mut Criterion) {
    let mut group = c.benchmark_group("s2_fan_out");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for n in SIZES {
        sized(&mut group, n);
        group.bench_with_input(BenchmarkId::new("propagate", n), &n, |b, &n| {
            let mut g = Graph::new();
            let x = g.var(0i64);
            let readers: Vec<_> = (0..n).map(|_| g.map(&x.changeable(), |v| v + 1)).collect();
            let mut v = 0;
            b.iter(|| {
                v += 1;
                g.change(&x, v).expect("change");
                g.propagate().expect("propagate");
            });
            assert_eq!(g.observe(&readers[n - 1]), Ok(&(v + 1)));
        });
    }
    group.finish();
}

/// S3: `n` vars, each with its own chain of 10 maps.
fn sparse(g: &mut Graph, n: usize) -> (Vec<Var<i64>>, Vec<Changeable<i64>>) {
    (0..n)
        .map(|_| {
            let x = g.var(0i64);
            let end = chain(g, &x.changeable(), 10);
            (x, end)
        })
        .unzip()
}

fn s3_sparse(c: &mut Criterion) {
    let mut group = c.benchmark_group("s3_sparse");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for n in [1_000, 1_000_000] {
        // One propagate re-runs 10 maps, whatever `n`.
        group.throughput(Throughput::Elements(10));
        group.sample_size(50);
        group.sampling_mode(SamplingMode::Auto);
        group.bench_with_input(BenchmarkId::new("propagate", n), &n, |b, &n| {
            let mut g = Graph::new();
            let (vars, ends) = sparse(&mut g, n);
            let mut i = 0usize;
            b.iter(|| {
                i += 1;
                // A different var each time, spread over the whole graph.
                let k = i.wrapping_mul(7_919) % n;
                g.change(&vars[k], i as i64).expect("change");
                g.propagate().expect("propagate");
            });
            let k = i.wrapping_mul(7_919) % n;
            assert_eq!(g.observe(&ends[k]), Ok(&(i as i64 + 10)));
        });
        // The build: `n` vars and `10 n` maps.
        sized(&mut group, 10 * n);
        group.bench_with_input(BenchmarkId::new("build", n), &n, |b, &n| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let mut g = Graph::new();
                    let start = Instant::now();
                    let built = sparse(&mut g, n);
                    total += start.elapsed();
                    black_box(&built);
                    drop(g);
                }
                total
            });
        });
    }
    group.finish();
}

/// S4: `out` reads `sel`, then the end of chain A (`true`) or chain B (`false`).
fn s4_dynamic(c: &mut Criterion) {
    let mut group = c.benchmark_group("s4_dynamic");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for n in [1_000, 1_000_000] {
        // Chains built outside the read: a flip re-runs `out`'s read, whatever `n`.
        group.throughput(Throughput::Elements(1));
        group.sample_size(50);
        group.sampling_mode(SamplingMode::Auto);
        group.bench_with_input(BenchmarkId::new("flip", n), &n, |b, &n| {
            let mut g = Graph::new();
            let sel = g.var(true);
            let xa = g.var(0i64);
            let xb = g.var(1_000i64);
            let a = chain(&mut g, &xa.changeable(), n);
            let b_end = chain(&mut g, &xb.changeable(), n);
            let out = g.of_cc(|cc| {
                cc.read(&sel.changeable(), move |cc, s| {
                    cc.read(if s { &a } else { &b_end }, |cc, v| cc.write(v + 1))
                })
            });
            let mut s = true;
            b.iter(|| {
                s = !s;
                g.change(&sel, s).expect("change");
                g.propagate().expect("propagate");
            });
            let expected = if s { n as i64 + 1 } else { n as i64 + 1_001 };
            assert_eq!(g.observe(&out), Ok(&expected));
        });
    }
    for n in [1_000, 100_000, 1_000_000] {
        // Chains built inside the read: a flip tears `n` maps down and builds `n`.
        sized(&mut group, n);
        group.bench_with_input(BenchmarkId::new("rebuild", n), &n, |b, &n| {
            let mut g = Graph::new();
            let sel = g.var(true);
            let xa = g.var(0i64);
            let xb = g.var(1_000i64);
            let out = g.of_cc(|cc| {
                cc.read(&sel.changeable(), move |mut cc, s| {
                    let x = if s { xa } else { xb };
                    let end = chain(cc.graph(), &x.changeable(), n);
                    cc.read(&end, |cc, v| cc.write(v + 1))
                })
            });
            let mut s = true;
            b.iter(|| {
                s = !s;
                g.change(&sel, s).expect("change");
                g.propagate().expect("propagate");
            });
            let expected = if s { n as i64 + 1 } else { n as i64 + 1_001 };
            assert_eq!(g.observe(&out), Ok(&expected));
        });
    }
    group.finish();
}

/// Bytes and allocations per map node of an S1 chain, from the counting allocator.
fn memory(_: &mut Criterion) {
    for n in [1_000, 1_000_000] {
        let mut g = Graph::new();
        let x = g.var(0i64);
        let bytes = LIVE_BYTES.load(Ordering::Relaxed);
        let allocations = ALLOCATIONS.load(Ordering::Relaxed);
        let end = chain(&mut g, &x.changeable(), n);
        let bytes = LIVE_BYTES.load(Ordering::Relaxed) - bytes;
        let allocations = ALLOCATIONS.load(Ordering::Relaxed) - allocations;
        black_box(g.observe(&end).ok());
        println!(
            "memory/s1_chain/{n}: {:.1} bytes per map node live, {:.2} allocations per node",
            bytes as f64 / n as f64,
            allocations as f64 / n as f64,
        );
        drop(g);
    }
}

criterion_group!(benches, memory, s1_chain, s2_fan_out, s3_sparse, s4_dynamic);
criterion_main!(benches);
