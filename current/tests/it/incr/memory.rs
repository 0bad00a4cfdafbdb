//! No leaks: what is discarded is freed, and repeating a change does not grow the graph.

use current::incr::{Changeable, Graph, Stats, Var};

/// Points, edges, cells and the queue: everything but the arenas' size, which never
/// shrinks.
fn live(s: Stats) -> (usize, usize, usize, usize) {
    (s.points, s.edges, s.cells, s.queued)
}

#[test]
fn change_and_propagate_without_structural_change_does_not_grow() {
    let mut g = Graph::new();
    let x = g.var(0i64);
    let mut c = x.changeable();
    for _ in 0..10 {
        c = g.map(&c, |v| v + 1);
    }
    let y = g.var(0i64);
    let both = g.of_cc(|cc| {
        cc.read(&c, move |cc, a| {
            cc.read(&y.changeable(), move |cc, b| {
                cc.write_eq(a + b, |p, q| p == q)
            })
        })
    });
    let before = g.stats();
    for i in 1..=1000 {
        g.change(&x, i).expect("change");
        if i % 3 == 0 {
            g.change(&y, i).expect("change");
        }
        g.propagate().expect("propagate");
        assert_eq!(g.stats(), before, "after cycle {i}");
    }
    assert_eq!(g.observe(&both), Ok(&(1000 + 10 + 999)));
}

/// A bind: the read of `sel` builds, inside itself, a chain over `x` of a length given by
/// `sel`, plus release hooks, constants and a nested `of_cc`.
fn bind(g: &mut Graph, sel: Var<usize>, x: Var<i64>) -> Changeable<i64> {
    g.of_cc(|cc| {
        cc.read(&sel.changeable(), move |mut cc, n| {
            let g = cc.graph();
            g.on_release(|| ());
            let k = g.constant(n as i64);
            let mut c = x.changeable();
            for _ in 0..n {
                c = g.map(&c, |v| v + 1);
            }
            let inner =
                g.of_cc(|cc| cc.read(&k, move |cc, k| cc.read(&c, move |cc, v| cc.write(v + k))));
            cc.read(&inner, |cc, v| cc.write(v))
        })
    })
}

#[test]
fn rebuilding_nested_reads_on_every_change_does_not_grow() {
    let mut g = Graph::new();
    let sel = g.var(5usize);
    let x = g.var(0i64);
    let out = bind(&mut g, sel, x);
    let before = g.stats();
    for i in 1..=1000i64 {
        // Same structure (sel keeps its value, but every write is a change): rebuilt.
        g.change(&sel, 5).expect("change");
        if i % 2 == 0 {
            g.change(&x, i).expect("change");
        }
        g.propagate().expect("propagate");
        assert_eq!(g.stats(), before, "after cycle {i}");
    }
    assert_eq!(g.observe(&out), Ok(&(1000 + 5 + 5)));

    // Alternating between two shapes: the arenas reach the larger one and stay there.
    g.change(&sel, 50).expect("change");
    g.propagate().expect("propagate");
    let large = g.stats();
    for i in 0..1000 {
        g.change(&sel, if i % 2 == 0 { 5 } else { 50 })
            .expect("change");
        g.propagate().expect("propagate");
        let s = g.stats();
        assert_eq!(s.arena_slots, large.arena_slots, "after cycle {i}");
        if i % 2 == 0 {
            assert_eq!(live(s), live(before));
        } else {
            assert_eq!(s, large);
        }
    }
    assert_eq!(g.observe(&out), Ok(&(1000 + 50 + 50)));
}

fn hundred_readers(g: &mut Graph, x: Var<i64>) -> Vec<Changeable<i64>> {
    (0..100)
        .map(|i| {
            if i % 2 == 0 {
                g.map(&x.changeable(), move |v| v + i)
            } else {
                g.of_cc(|cc| {
                    cc.read(&x.changeable(), move |mut cc, v| {
                        cc.on_release(|| ());
                        let k = cc.graph().constant(i);
                        cc.read(&k, move |cc, k| cc.write(v + k))
                    })
                })
            }
        })
        .collect()
}

#[test]
fn disposed_readers_return_the_graph_to_its_baseline() {
    let mut g = Graph::new();
    let x = g.var(1i64);
    let baseline = g.stats();
    let mut slots = None;
    for round in 0..3 {
        let readers = hundred_readers(&mut g, x);
        let xv = *g.observe(&x.changeable()).expect("observe");
        assert_eq!(g.observe(&readers[99]), Ok(&(xv + 99)));
        assert_eq!(g.stats().edges, baseline.edges + 150);
        g.change(&x, round).expect("change");
        g.propagate().expect("propagate");
        for r in readers.iter().rev() {
            g.dispose(*r).expect("dispose");
        }
        g.change(&x, round + 1).expect("change");
        g.propagate().expect("propagate");
        let s = g.stats();
        assert_eq!(live(s), live(baseline), "round {round}");
        // The arenas grew once, for the first round, and are reused after.
        assert_eq!(*slots.get_or_insert(s.arena_slots), s.arena_slots);
        for r in &readers {
            assert_eq!(g.observe(r), Err(current::incr::Error::Released));
        }
    }
}

#[test]
fn readers_left_behind_by_a_branch_return_the_graph_to_its_baseline() {
    let mut g = Graph::new();
    let x = g.var(1i64);
    let with = g.var(false);
    let out = g.of_cc(|cc| {
        cc.read(&with.changeable(), move |mut cc, with| {
            if !with {
                return cc.write(-1);
            }
            let readers = hundred_readers(cc.graph(), x);
            let last = readers[99];
            cc.read(&last, |cc, v| cc.write(v))
        })
    });
    let baseline = g.stats();
    let mut large = None;
    for round in 0..3i64 {
        g.change(&with, true).expect("change");
        g.propagate().expect("propagate");
        assert_eq!(g.observe(&out), Ok(&(round + 100)));
        let s = g.stats();
        assert_eq!(s.edges, baseline.edges + 151);
        assert_eq!(*large.get_or_insert(s), s);
        g.change(&x, round + 2).expect("change");
        g.change(&with, false).expect("change");
        g.propagate().expect("propagate");
        assert_eq!(g.observe(&out), Ok(&-1));
        assert_eq!(live(g.stats()), live(baseline), "round {round}");
    }
}
