//! `Graph::separate`: per-key computations over a changing set of keys.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use current::incr::{Changeable, Graph, Var};

use super::Log;

type Counts = Rc<RefCell<BTreeMap<i32, usize>>>;

fn entries<V: Clone + 'static>(g: &Graph, m: &Changeable<Rc<BTreeMap<i32, V>>>) -> Vec<(i32, V)> {
    g.observe(m)
        .expect("observe")
        .iter()
        .map(|(k, v)| (*k, v.clone()))
        .collect()
}

fn set(keys: &[i32]) -> BTreeSet<i32> {
    keys.iter().copied().collect()
}

/// `keys` mapped to `k * 10`, counting calls per key and logging releases.
fn tens(
    g: &mut Graph,
    keys: &Var<BTreeSet<i32>>,
    counts: &Counts,
    log: &Log,
) -> Changeable<Rc<BTreeMap<i32, i32>>> {
    let counts = counts.clone();
    let log = log.clone();
    g.separate(&keys.changeable(), move |mut cc, k| {
        *counts.borrow_mut().entry(k).or_default() += 1;
        let l = log.clone();
        cc.on_release(move || l.push(format!("release {k}")));
        cc.write(k * 10)
    })
}

#[test]
fn adding_keys_computes_only_the_new_keys() {
    let counts = Counts::default();
    let log = Log::default();
    let mut g = Graph::new();
    let keys = g.var(set(&[1, 2]));
    let m = tens(&mut g, &keys, &counts, &log);
    assert_eq!(entries(&g, &m), [(1, 10), (2, 20)]);
    assert_eq!(*counts.borrow(), BTreeMap::from([(1, 1), (2, 1)]));

    g.change(&keys, set(&[1, 2, 3, 4])).expect("change");
    g.propagate().expect("propagate");
    assert_eq!(entries(&g, &m), [(1, 10), (2, 20), (3, 30), (4, 40)]);
    assert_eq!(
        *counts.borrow(),
        BTreeMap::from([(1, 1), (2, 1), (3, 1), (4, 1)])
    );
    assert_eq!(log.take(), Vec::<String>::new());
}

#[test]
fn removing_a_key_releases_its_work_and_drops_it_from_the_map() {
    let counts = Counts::default();
    let log = Log::default();
    let mut g = Graph::new();
    let keys = g.var(set(&[1, 2, 3]));
    let m = tens(&mut g, &keys, &counts, &log);
    let l = log.clone();
    let total = g.map(&m, move |m| {
        let s: i32 = m.values().sum();
        l.push(format!("total {s}"));
        s
    });
    assert_eq!(log.take(), ["total 60"]);
    let full = g.stats();

    g.change(&keys, set(&[1, 3])).expect("change");
    g.propagate().expect("propagate");
    assert_eq!(log.take(), ["release 2", "total 40"]);
    assert_eq!(entries(&g, &m), [(1, 10), (3, 30)]);
    assert_eq!(*counts.borrow(), BTreeMap::from([(1, 1), (2, 1), (3, 1)]));
    assert_eq!(g.observe(&total), Ok(&40));

    // Add one and remove two in one step.
    g.change(&keys, set(&[2])).expect("change");
    g.propagate().expect("propagate");
    let mut events = log.take();
    events.sort();
    assert_eq!(events, ["release 1", "release 3", "total 20"]);
    assert_eq!(entries(&g, &m), [(2, 20)]);
    assert_eq!(*counts.borrow(), BTreeMap::from([(1, 1), (2, 2), (3, 1)]));

    // Back to where we started: the same amount of graph.
    g.change(&keys, set(&[1, 2, 3])).expect("change");
    g.propagate().expect("propagate");
    assert_eq!(log.take(), ["total 60"]);
    let now = g.stats();
    assert_eq!(
        (now.points, now.edges, now.cells),
        (full.points, full.edges, full.cells)
    );

    // Emptied.
    g.change(&keys, set(&[])).expect("change");
    g.propagate().expect("propagate");
    let mut events = log.take();
    events.sort();
    assert_eq!(events, ["release 1", "release 2", "release 3", "total 0"]);
    assert_eq!(entries(&g, &m), []);
}

#[test]
fn an_unchanged_key_set_runs_no_key_and_no_reader_of_the_map() {
    let counts = Counts::default();
    let log = Log::default();
    let mut g = Graph::new();
    let keys = g.var(set(&[1, 2]));
    let m = tens(&mut g, &keys, &counts, &log);
    let l = log.clone();
    let _total = g.map(&m, move |m| {
        l.push(format!("total {}", m.len()));
        m.len()
    });
    log.take();
    // Every write of a var is a change: the key set is re-examined, but nothing is added or
    // removed, so the map does not change.
    g.change(&keys, set(&[1, 2])).expect("change");
    g.propagate().expect("propagate");
    assert_eq!(log.take(), Vec::<String>::new());
    assert_eq!(*counts.borrow(), BTreeMap::from([(1, 1), (2, 1)]));
}

#[test]
fn a_key_rerunning_its_own_read_updates_only_that_key() {
    let log = Log::default();
    let mut g = Graph::new();
    let keys = g.var(set(&[1, 2, 3]));
    let inputs: Vec<Var<i32>> = (0..4).map(|i| g.var(i * 100)).collect();
    let ins = inputs.clone();
    let l = log.clone();
    let m = g.separate(&keys.changeable(), move |cc, k: i32| {
        l.push(format!("key {k}"));
        let l = l.clone();
        cc.read(&ins[k as usize].changeable(), move |mut cc, v| {
            l.push(format!("read {k} {v}"));
            let l = l.clone();
            cc.on_release(move || l.push(format!("release {k} {v}")));
            cc.write_eq(v + k, |a, b| a == b)
        })
    });
    let l = log.clone();
    let _total = g.map(&m, move |m| {
        l.push(format!("total {}", m.values().sum::<i32>()));
    });
    assert_eq!(
        log.take(),
        [
            "key 1",
            "read 1 100",
            "key 2",
            "read 2 200",
            "key 3",
            "read 3 300",
            "total 606"
        ]
    );
    let before = g.stats();

    g.change(&inputs[2], 250).expect("change");
    g.propagate().expect("propagate");
    assert_eq!(log.take(), ["release 2 200", "read 2 250", "total 656"]);
    assert_eq!(entries(&g, &m), [(1, 101), (2, 252), (3, 303)]);

    // An equal result (written with write_eq) is not a change of the map.
    g.change(&inputs[3], 300).expect("change");
    g.propagate().expect("propagate");
    assert_eq!(log.take(), ["release 3 300", "read 3 300"]);
    assert_eq!(g.stats(), before);

    // A var read only by a removed key changes in the same step: never read again.
    g.change(&inputs[1], 111).expect("change");
    g.change(&keys, set(&[2, 3])).expect("change");
    g.propagate().expect("propagate");
    assert_eq!(log.take(), ["release 1 100", "total 555"]);
    assert_eq!(entries(&g, &m), [(2, 252), (3, 303)]);

    // A key that comes back is computed afresh with the current value.
    g.change(&keys, set(&[1, 2, 3])).expect("change");
    g.propagate().expect("propagate");
    assert_eq!(log.take(), ["key 1", "read 1 111", "total 667"]);
    assert_eq!(g.observe(&m).map(|m| m.len()), Ok(3));
}

#[test]
fn separate_nested_in_a_read_is_torn_down_with_it() {
    let log = Log::default();
    let mut g = Graph::new();
    let on = g.var(true);
    let keys = g.var(set(&[1, 2]));
    let baseline = g.stats();
    let l = log.clone();
    let out = g.of_cc(|cc| {
        cc.read(&on.changeable(), move |mut cc, on| {
            if !on {
                return cc.write(0);
            }
            let l = l.clone();
            let m = cc
                .graph()
                .separate(&keys.changeable(), move |mut cc, k: i32| {
                    let l = l.clone();
                    cc.on_release(move || l.push(format!("release {k}")));
                    cc.write(k)
                });
            cc.read(&m, |cc, m| cc.write(m.len()))
        })
    });
    assert_eq!(g.observe(&out), Ok(&2));
    g.change(&on, false).expect("change");
    g.propagate().expect("propagate");
    let mut events = log.take();
    events.sort();
    assert_eq!(events, ["release 1", "release 2"]);
    assert_eq!(g.observe(&out), Ok(&0));
    let after = g.stats();
    assert_eq!(
        (after.points, after.edges, after.cells),
        (baseline.points + 1, baseline.edges + 1, baseline.cells + 1)
    );
}
