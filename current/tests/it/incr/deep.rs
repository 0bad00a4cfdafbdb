//! Nothing recurses with the size of the graph: chains of a million reads are built,
//! propagated, torn down and dropped on a 2 MiB thread stack (the main thread's stack may
//! be bigger, so every test here runs on a thread of its own with an explicit size).

use std::rc::Rc;

use current::incr::{Cc, Graph, Var, Written};

const N: usize = 1_000_000;

/// Run `f` on a new thread with a 2 MiB stack, passing on its panic.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    let handle = std::thread::Builder::new()
        .name("small-stack".into())
        .stack_size(2 * 1024 * 1024)
        .spawn(f)
        .expect("spawn a thread");
    if let Err(panic) = handle.join() {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn a_million_maps_build_propagate_and_drop() {
    on_small_stack(|| {
        let mut g = Graph::new();
        let x = g.var(0i64);
        let mut c = x.changeable();
        for _ in 0..N {
            c = g.map(&c, |v| v + 1);
        }
        assert_eq!(g.observe(&c), Ok(&(N as i64)));
        let s = g.stats();
        assert_eq!((s.edges, s.cells), (N, N + 1));

        g.change(&x, 5).expect("change");
        g.propagate().expect("propagate");
        assert_eq!(g.observe(&c), Ok(&(N as i64 + 5)));
        assert_eq!(g.stats(), s);
        drop(g);
    });
}

/// `out` reads `sel`; while it is true, the read builds a chain of `N` maps over `x` and
/// reads its end. A top-level reader of `out` comes after it, so the chain is built in the
/// middle of the timeline, not appended at its end.
#[test]
fn a_million_maps_built_inside_a_read_are_torn_down() {
    on_small_stack(|| {
        let mut g = Graph::new();
        let sel = g.var(false);
        let x = g.var(0i64);
        let out = g.of_cc(|cc| {
            cc.read(&sel.changeable(), move |mut cc, on| {
                if !on {
                    return cc.write(-1);
                }
                let g = cc.graph();
                let mut c = x.changeable();
                for _ in 0..N {
                    c = g.map(&c, |v| v + 1);
                }
                cc.read(&c, |cc, v| cc.write(v))
            })
        });
        let after = g.map(&out, |v| v * 2);
        let baseline = g.stats();

        for round in 0..2i64 {
            g.change(&sel, true).expect("change");
            g.propagate().expect("propagate");
            assert_eq!(g.observe(&after), Ok(&((N as i64 + round) * 2)));
            assert_eq!(g.stats().edges, baseline.edges + N + 1);

            g.change(&x, round + 1).expect("change");
            g.propagate().expect("propagate");
            assert_eq!(g.observe(&after), Ok(&((N as i64 + round + 1) * 2)));

            g.change(&sel, false).expect("change");
            g.propagate().expect("propagate");
            assert_eq!(g.observe(&after), Ok(&-2));
            let s = g.stats();
            assert_eq!(
                (s.points, s.edges, s.cells, s.queued),
                (
                    baseline.points,
                    baseline.edges,
                    baseline.cells,
                    baseline.queued
                ),
                "round {round}"
            );
        }
        // Dropped with the chain built.
        g.change(&sel, true).expect("change");
        g.propagate().expect("propagate");
        drop(g);
    });
}

/// Level `i` of a chain of nested reads: read `vars[i]`; a negative value ends the chain
/// there, otherwise the continuation adds it up and reads the next level.
fn level(cc: Cc<'_, i64>, vars: Rc<Vec<Var<i64>>>, i: usize, acc: i64) -> Written {
    let v = vars[i];
    cc.read(&v.changeable(), move |cc, x| {
        if x < 0 {
            cc.write(acc)
        } else if i + 1 == vars.len() {
            cc.write(acc + x)
        } else {
            level(cc, vars.clone(), i + 1, acc + x)
        }
    })
}

/// A chain of a million reads, each nested in the continuation of the one before.
///
/// Evaluating such a chain in one go needs a native stack as deep as the chain (each read
/// runs its continuation at once, and that continuation makes the next read), so it is
/// grown one level per propagation instead: switching level `i` on re-runs read `i` alone,
/// which makes read `i + 1`. The result is the same structure, and everything else —
/// propagating a change at the innermost level, tearing the chain down from the middle and
/// from the top, dropping the graph — happens on the small stack.
#[test]
fn a_million_nested_reads_propagate_and_tear_down() {
    on_small_stack(|| {
        let mut g = Graph::new();
        let vars: Rc<Vec<Var<i64>>> = Rc::new((0..N).map(|_| g.var(-1i64)).collect());
        let baseline = g.stats();
        let vs = vars.clone();
        let out = g.of_cc(|cc| level(cc, vs, 0, 0));
        assert_eq!(g.observe(&out), Ok(&0));
        for (i, v) in vars.iter().enumerate() {
            g.change(v, 1).expect("change");
            g.propagate().expect("propagate");
            assert_eq!(g.observe(&out), Ok(&(i as i64 + 1)));
        }
        assert_eq!(g.observe(&out), Ok(&(N as i64)));
        let full = g.stats();
        assert_eq!(full.edges, N);
        assert_eq!(full.points, baseline.points + N);

        // The innermost read re-runs alone.
        g.change(&vars[N - 1], 5).expect("change");
        g.propagate().expect("propagate");
        assert_eq!(g.observe(&out), Ok(&(N as i64 - 1 + 5)));
        assert_eq!(g.stats(), full);

        // Cut in the middle: the second half is discarded.
        g.change(&vars[N / 2], -1).expect("change");
        g.propagate().expect("propagate");
        assert_eq!(g.observe(&out), Ok(&(N as i64 / 2)));
        assert_eq!(g.stats().edges, N / 2 + 1);

        // And a change below the cut is not read by anyone any more.
        g.change(&vars[N - 1], 7).expect("change");
        assert_eq!(g.stats().queued, 0);

        // Cut at the top: everything but the outermost read is gone.
        g.change(&vars[0], -1).expect("change");
        g.propagate().expect("propagate");
        assert_eq!(g.observe(&out), Ok(&0));
        let s = g.stats();
        assert_eq!((s.points, s.edges), (baseline.points + 1, 1));
        assert_eq!(s.cells, baseline.cells + 1);

        // Grow it again to a quarter and drop the graph with the chain in place. (Levels
        // are switched off first, so that each propagation adds one level.)
        for v in &vars[1..] {
            g.change(v, -1).expect("change");
        }
        assert_eq!(g.stats().queued, 0);
        for v in &vars[..N / 4] {
            g.change(v, 1).expect("change");
            g.propagate().expect("propagate");
        }
        assert_eq!(g.observe(&out), Ok(&(N as i64 / 4)));
        assert_eq!(g.stats().edges, N / 4 + 1);
        drop(g);
    });
}
