//! Reading, writing and propagating: which readers re-run, in which order, and what is
//! discarded before they do.

use current::incr::{Changeable, Graph};

use super::Log;

#[test]
fn constants_vars_maps_and_of_cc_have_their_values() {
    let mut g = Graph::new();
    let k = g.constant(7);
    let x = g.var(2);
    let s = g.var("ab".to_string());
    let doubled = g.map(&x.changeable(), |v| v * 2);
    let len = g.map(&s.changeable(), |s: String| s.len());
    let from_const = g.map(&k, |v| v - 1);
    let written = g.of_cc(|cc| cc.write(vec![1, 2, 3]));
    let sum = g.of_cc(|cc| cc.read(&doubled, move |cc, d| cc.write(d + 100)));
    let both = g.of_cc(|cc| {
        cc.read(&x.changeable(), move |cc, a| {
            cc.read(&k, move |cc, b| cc.write(format!("{a}+{b}")))
        })
    });

    assert_eq!(g.observe(&k), Ok(&7));
    assert_eq!(g.observe(&x.changeable()), Ok(&2));
    assert_eq!(g.observe(&doubled), Ok(&4));
    assert_eq!(g.observe(&len), Ok(&2));
    assert_eq!(g.observe(&from_const), Ok(&6));
    assert_eq!(g.observe(&written), Ok(&vec![1, 2, 3]));
    assert_eq!(g.observe(&sum), Ok(&104));
    assert_eq!(g.observe(&both).map(String::as_str), Ok("2+7"));

    g.change(&x, 10).expect("change");
    g.change(&s, "abcde".to_string()).expect("change");
    // Stale until propagate.
    assert_eq!(g.observe(&x.changeable()), Ok(&10));
    assert_eq!(g.observe(&doubled), Ok(&4));
    assert_eq!(g.observe(&both).map(String::as_str), Ok("2+7"));
    g.propagate().expect("propagate");
    assert_eq!(g.observe(&doubled), Ok(&20));
    assert_eq!(g.observe(&len), Ok(&5));
    assert_eq!(g.observe(&from_const), Ok(&6));
    assert_eq!(g.observe(&sum), Ok(&120));
    assert_eq!(g.observe(&both).map(String::as_str), Ok("10+7"));
    assert_eq!(g.stats().queued, 0);
}

#[test]
fn propagate_with_nothing_changed_runs_nothing() {
    let log = Log::default();
    let mut g = Graph::new();
    let x = g.var(1);
    let l = log.clone();
    let m = g.map(&x.changeable(), move |v| {
        l.push(format!("m {v}"));
        v
    });
    assert_eq!(log.take(), ["m 1"]);
    g.propagate().expect("propagate");
    g.propagate().expect("propagate");
    assert_eq!(log.take(), Vec::<String>::new());
    assert_eq!(g.observe(&m), Ok(&1));
}

/// A map that records `name value` each time it runs.
fn logged(
    g: &mut Graph,
    log: &Log,
    name: &'static str,
    input: &Changeable<i32>,
) -> Changeable<i32> {
    let log = log.clone();
    g.map(input, move |v| {
        log.push(format!("{name} {v}"));
        v + 1
    })
}

#[test]
fn only_readers_of_changed_values_rerun_earliest_first() {
    let log = Log::default();
    let mut g = Graph::new();
    let x = g.var(0);
    let y = g.var(100);
    let z = g.var(1000);
    // Timeline order: a, b, c, d, e, f.
    let a = logged(&mut g, &log, "a", &x.changeable());
    let b = logged(&mut g, &log, "b", &y.changeable());
    let c = logged(&mut g, &log, "c", &a);
    let d = logged(&mut g, &log, "d", &z.changeable());
    let e = logged(&mut g, &log, "e", &b);
    let f = logged(&mut g, &log, "f", &c);
    assert_eq!(
        log.take(),
        ["a 0", "b 100", "c 1", "d 1000", "e 101", "f 2"]
    );

    // Changed in the opposite order to the timeline: readers still run earliest first.
    g.change(&y, 200).expect("change");
    g.change(&x, 10).expect("change");
    assert_eq!(g.stats().queued, 2);
    g.propagate().expect("propagate");
    assert_eq!(log.take(), ["a 10", "b 200", "c 11", "e 201", "f 12"]);
    assert_eq!(g.observe(&f), Ok(&13));
    assert_eq!(g.observe(&e), Ok(&202));
    assert_eq!(g.observe(&d), Ok(&1001));

    g.change(&z, 0).expect("change");
    g.propagate().expect("propagate");
    assert_eq!(log.take(), ["d 0"]);
    assert_eq!(g.observe(&d), Ok(&1));
    assert_eq!(g.observe(&f), Ok(&13));
}

#[test]
fn a_value_changed_twice_before_propagate_reruns_its_reader_once() {
    let log = Log::default();
    let mut g = Graph::new();
    let x = g.var(0);
    let a = logged(&mut g, &log, "a", &x.changeable());
    log.take();
    g.change(&x, 1).expect("change");
    g.change(&x, 2).expect("change");
    g.propagate().expect("propagate");
    assert_eq!(log.take(), ["a 2"]);
    assert_eq!(g.observe(&a), Ok(&3));
}

#[test]
fn the_order_of_reads_inside_one_computation_is_the_timeline_order() {
    let log = Log::default();
    let mut g = Graph::new();
    let x = g.var(1);
    let y = g.var(2);
    let l = log.clone();
    // The read of y is nested inside the read of x; a reader of y made later at the top
    // level comes after both.
    let pair = g.of_cc(|cc| {
        cc.read(&x.changeable(), move |cc, a| {
            l.push(format!("outer {a}"));
            let l = l.clone();
            cc.read(&y.changeable(), move |cc, b| {
                l.push(format!("inner {b}"));
                cc.write((a, b))
            })
        })
    });
    let later = logged(&mut g, &log, "later", &y.changeable());
    assert_eq!(log.take(), ["outer 1", "inner 2", "later 2"]);

    // Only y changed: the inner read re-runs alone, then the later reader.
    g.change(&y, 3).expect("change");
    g.propagate().expect("propagate");
    assert_eq!(log.take(), ["inner 3", "later 3"]);
    assert_eq!(g.observe(&pair), Ok(&(1, 3)));

    // Both changed: the outer read discards the queued inner read and makes a new one,
    // which runs once.
    g.change(&y, 4).expect("change");
    g.change(&x, 5).expect("change");
    g.propagate().expect("propagate");
    assert_eq!(log.take(), ["outer 5", "inner 4", "later 4"]);
    assert_eq!(g.observe(&pair), Ok(&(5, 4)));
    assert_eq!(g.observe(&later), Ok(&5));
}

#[test]
fn change_eq_with_an_equal_value_is_no_change() {
    let log = Log::default();
    let mut g = Graph::new();
    let x = g.var(5);
    let a = logged(&mut g, &log, "a", &x.changeable());
    log.take();

    g.change_eq(&x, 5, |a, b| a == b).expect("change_eq");
    assert_eq!(g.stats().queued, 0);
    g.propagate().expect("propagate");
    assert_eq!(log.take(), Vec::<String>::new());

    g.change_eq(&x, 6, |a, b| a == b).expect("change_eq");
    g.propagate().expect("propagate");
    assert_eq!(log.take(), ["a 6"]);
    assert_eq!(g.observe(&a), Ok(&7));

    // The equality is the caller's: one that ignores the value makes nothing a change.
    g.change_eq(&x, 60, |_, _| true).expect("change_eq");
    g.propagate().expect("propagate");
    assert_eq!(log.take(), Vec::<String>::new());
    assert_eq!(g.observe(&x.changeable()), Ok(&6));
}

#[test]
fn default_equality_counts_every_write_as_a_change() {
    let log = Log::default();
    let mut g = Graph::new();
    let x = g.var(5);
    let l = log.clone();
    // A map whose result does not depend on its input: still a change each time it runs.
    let constant_result = g.map(&x.changeable(), move |v| {
        l.push(format!("m {v}"));
        0
    });
    let _after = logged(&mut g, &log, "after", &constant_result);
    log.take();

    g.change(&x, 5).expect("change");
    g.propagate().expect("propagate");
    assert_eq!(log.take(), ["m 5", "after 0"]);

    let l = log.clone();
    let w = g.of_cc(|cc| {
        cc.read(&x.changeable(), move |cc, v| {
            l.push(format!("w {v}"));
            cc.write(v / 100)
        })
    });
    let after_w = logged(&mut g, &log, "after_w", &w);
    log.take();
    g.change(&x, 6).expect("change");
    g.propagate().expect("propagate");
    assert_eq!(log.take(), ["m 6", "after 0", "w 6", "after_w 0"]);
    assert_eq!(g.observe(&after_w), Ok(&1));
}

#[test]
fn map_eq_and_write_eq_stop_propagation_at_an_equal_result() {
    let log = Log::default();
    let mut g = Graph::new();
    let x = g.var(4);
    let l = log.clone();
    let parity = g.map_eq(
        &x.changeable(),
        move |v| {
            l.push(format!("parity {v}"));
            v % 2
        },
        |a, b| a == b,
    );
    let after_parity = logged(&mut g, &log, "after_parity", &parity);
    let l = log.clone();
    let halved = g.of_cc(|cc| {
        cc.read(&x.changeable(), move |cc, v| {
            l.push(format!("halved {v}"));
            cc.write_eq(v / 2, |a, b| a == b)
        })
    });
    let after_halved = logged(&mut g, &log, "after_halved", &halved);
    assert_eq!(
        log.take(),
        ["parity 4", "after_parity 0", "halved 4", "after_halved 2"]
    );

    // 4 -> 5: parity changes, the half does not.
    g.change(&x, 5).expect("change");
    g.propagate().expect("propagate");
    assert_eq!(log.take(), ["parity 5", "after_parity 1", "halved 5"]);
    // 5 -> 7: parity does not change, the half does.
    g.change(&x, 7).expect("change");
    g.propagate().expect("propagate");
    assert_eq!(log.take(), ["parity 7", "halved 7", "after_halved 3"]);
    assert_eq!(g.observe(&after_parity), Ok(&2));
    assert_eq!(g.observe(&after_halved), Ok(&4));
}

#[test]
fn a_rerun_reader_discards_its_nested_work_first() {
    let log = Log::default();
    let mut g = Graph::new();
    let x = g.var(1);
    let y = g.var(10);
    let l = log.clone();
    let out = g.of_cc(|cc| {
        cc.read(&x.changeable(), move |mut cc, v| {
            l.push(format!("run {v}"));
            let l2 = l.clone();
            cc.on_release(move || l2.push(format!("release {v}")));
            // A nested map: it belongs to this run and is discarded with it.
            let l3 = l.clone();
            let nested = cc.graph().map(&y.changeable(), move |w| {
                l3.push(format!("nested {v} {w}"));
                v + w
            });
            let l4 = l.clone();
            cc.graph()
                .on_release(move || l4.push(format!("nested release {v}")));
            cc.read(&nested, |cc, s| cc.write(s))
        })
    });
    assert_eq!(log.take(), ["run 1", "nested 1 10"]);
    let before = g.stats();

    g.change(&x, 2).expect("change");
    g.propagate().expect("propagate");
    let events = log.take();
    assert_eq!(events.len(), 4, "{events:?}");
    // Both hooks of the discarded run fire before the read runs again.
    let mut releases = events[..2].to_vec();
    releases.sort();
    assert_eq!(releases, ["nested release 1", "release 1"]);
    assert_eq!(events[2..], ["run 2", "nested 2 10"]);
    assert_eq!(g.observe(&out), Ok(&12));
    assert_eq!(g.stats(), before);

    // The nested map re-runs on its own when only y changes; nothing is released.
    g.change(&y, 20).expect("change");
    g.propagate().expect("propagate");
    assert_eq!(log.take(), ["nested 2 20"]);
    assert_eq!(g.observe(&out), Ok(&22));
    assert_eq!(g.stats(), before);
}

#[test]
fn a_handle_made_inside_a_discarded_run_is_released() {
    let mut g = Graph::new();
    let x = g.var(1);
    let escaped: std::rc::Rc<std::cell::Cell<Option<Changeable<i32>>>> = Default::default();
    let e = escaped.clone();
    let _out = g.of_cc(|cc| {
        cc.read(&x.changeable(), move |mut cc, v| {
            let inner = cc.graph().constant(v * 3);
            e.set(Some(inner));
            cc.write(v)
        })
    });
    let first = escaped.get().expect("the read ran");
    assert_eq!(g.observe(&first), Ok(&3));
    g.change(&x, 2).expect("change");
    g.propagate().expect("propagate");
    let second = escaped.get().expect("the read ran");
    assert_eq!(g.observe(&first), Err(current::incr::Error::Released));
    assert_eq!(g.observe(&second), Ok(&6));
}

#[test]
fn a_reader_discarded_before_its_turn_is_never_called() {
    let log = Log::default();
    let mut g = Graph::new();
    let sel = g.var(true);
    let x = g.var(0);
    let l = log.clone();
    let out = g.of_cc(|cc| {
        cc.read(&sel.changeable(), move |mut cc, on| {
            l.push(format!("sel {on}"));
            if on {
                let l = l.clone();
                let inner = cc.graph().map(&x.changeable(), move |v| {
                    l.push(format!("inner {v}"));
                    v * 10
                });
                cc.read(&inner, |cc, v| cc.write(v))
            } else {
                cc.write(-1)
            }
        })
    });
    assert_eq!(log.take(), ["sel true", "inner 0"]);

    // x changes first, then the selector: the inner map is queued but the selector's read
    // comes first on the timeline and discards it.
    g.change(&x, 1).expect("change");
    g.change(&sel, false).expect("change");
    assert_eq!(g.stats().queued, 2);
    g.propagate().expect("propagate");
    assert_eq!(log.take(), ["sel false"]);
    assert_eq!(g.observe(&out), Ok(&-1));

    // Switching back builds a new inner map, which runs once with the current value.
    g.change(&x, 2).expect("change");
    g.change(&sel, true).expect("change");
    g.propagate().expect("propagate");
    assert_eq!(log.take(), ["sel true", "inner 2"]);
    assert_eq!(g.observe(&out), Ok(&20));

    // Re-selecting the same branch still rebuilds it, and the old inner map is not called.
    g.change(&x, 3).expect("change");
    g.change(&sel, true).expect("change");
    g.propagate().expect("propagate");
    assert_eq!(log.take(), ["sel true", "inner 3"]);
    assert_eq!(g.observe(&out), Ok(&30));
}

#[test]
fn top_level_values_can_be_disposed_of() {
    let log = Log::default();
    let mut g = Graph::new();
    let baseline = g.stats();
    let x = g.var(1);
    let l = log.clone();
    let m = g.of_cc(|cc| {
        cc.read(&x.changeable(), move |mut cc, v| {
            let l = l.clone();
            cc.on_release(move || l.push(format!("release {v}")));
            cc.write(v)
        })
    });
    let w = g.of_cc(|cc| cc.write(5));
    let k = g.constant(3);
    g.dispose(m).expect("dispose m");
    assert_eq!(log.take(), ["release 1"]);
    g.dispose(w).expect("dispose w");
    g.dispose(k).expect("dispose k");
    g.dispose(x.changeable()).expect("dispose x");
    let after = g.stats();
    assert_eq!(
        (after.points, after.edges, after.cells, after.queued),
        (
            baseline.points,
            baseline.edges,
            baseline.cells,
            baseline.queued
        )
    );
    g.propagate().expect("propagate");
    assert_eq!(log.take(), Vec::<String>::new());
}

#[test]
fn values_of_any_clone_type_flow_through() {
    let mut g = Graph::new();
    let names = g.var(vec!["b".to_string(), "a".to_string()]);
    let sorted = g.map(&names.changeable(), |mut v: Vec<String>| {
        v.sort();
        v
    });
    let joined = g.map(&sorted, |v| v.join(","));
    let rc = g.var(std::rc::Rc::new(41));
    let unwrapped = g.map(&rc.changeable(), |r: std::rc::Rc<i32>| *r + 1);
    assert_eq!(g.observe(&joined).map(String::as_str), Ok("a,b"));
    assert_eq!(g.observe(&unwrapped), Ok(&42));
    g.change(&names, vec!["c".into(), "a".into(), "b".into()])
        .expect("change");
    g.propagate().expect("propagate");
    assert_eq!(g.observe(&joined).map(String::as_str), Ok("a,b,c"));
}

#[test]
fn readers_made_by_a_rerun_in_the_middle_still_run_in_timeline_order() {
    let log = Log::default();
    let mut g = Graph::new();
    let sel = g.var(0);
    let x = g.var(0);
    let l = log.clone();
    // `early` is re-made inside a read near the start of the timeline; `late` is made once,
    // at the top level, after it. After a rebuild `early` is the newest reader of x but
    // still comes first.
    let early = g.of_cc(|cc| {
        cc.read(&sel.changeable(), move |mut cc, s| {
            let l = l.clone();
            let m = cc.graph().map(&x.changeable(), move |v| {
                l.push(format!("early {s} {v}"));
                v
            });
            cc.read(&m, |cc, v| cc.write(v))
        })
    });
    let late = logged(&mut g, &log, "late", &x.changeable());
    let later = logged(&mut g, &log, "later", &early);
    assert_eq!(log.take(), ["early 0 0", "late 0", "later 0"]);
    for i in 1..4 {
        g.change(&sel, i).expect("change");
        g.propagate().expect("propagate");
        let before = i - 1;
        assert_eq!(
            log.take(),
            [format!("early {i} {before}"), format!("later {before}")]
        );
        g.change(&x, i).expect("change");
        g.propagate().expect("propagate");
        assert_eq!(
            log.take(),
            [
                format!("early {i} {i}"),
                format!("late {i}"),
                format!("later {i}")
            ]
        );
    }
    assert_eq!(g.observe(&late), Ok(&4));
    assert_eq!(g.observe(&early), Ok(&3));
    assert_eq!(g.observe(&later), Ok(&4));
}
