//! Misuse is reported as an `Error`, and a panic in user code leaves a working graph.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use current::incr::{panic_message, Error, Graph};

use super::Log;

#[test]
fn change_during_propagate_is_an_error_and_leaves_the_graph_intact() {
    let results: Rc<RefCell<Vec<Result<(), Error>>>> = Default::default();
    let mut g = Graph::new();
    let x = g.var(0);
    let y = g.var(100);
    let r = results.clone();
    let a = g.of_cc(|cc| {
        cc.read(&x.changeable(), move |mut cc, v| {
            if v > 0 {
                let res = cc.graph().change(&y, v);
                r.borrow_mut().push(res);
            }
            cc.write(v + 1)
        })
    });
    let b = g.map(&y.changeable(), |v| v * 2);
    let sum = g.of_cc(|cc| cc.read(&a, move |cc, a| cc.read(&b, move |cc, b| cc.write(a + b))));
    assert_eq!(g.observe(&sum), Ok(&201));
    let before = g.stats();

    g.change(&x, 7).expect("change");
    assert!(!g.is_propagating());
    g.propagate().expect("propagate");
    assert!(!g.is_propagating());
    assert_eq!(*results.borrow(), [Err(Error::ChangeDuringPropagate)]);
    // The refused change did not happen.
    assert_eq!(g.observe(&y.changeable()), Ok(&100));
    assert_eq!(g.observe(&sum), Ok(&208));
    assert_eq!(g.stats(), before);

    // Changes after propagate work.
    g.change(&y, 1).expect("change");
    g.propagate().expect("propagate");
    assert_eq!(g.observe(&sum), Ok(&10));
    g.change(&x, 0).expect("change");
    g.propagate().expect("propagate");
    assert_eq!(g.observe(&sum), Ok(&3));
    assert_eq!(results.borrow().len(), 1);
}

#[test]
fn propagate_inside_a_computation_is_an_error() {
    let results: Rc<RefCell<Vec<Result<(), Error>>>> = Default::default();
    let mut g = Graph::new();
    let x = g.var(0);
    let r = results.clone();
    let a = g.of_cc(|cc| {
        cc.read(&x.changeable(), move |mut cc, v| {
            r.borrow_mut().push(cc.graph().propagate());
            // Work created after the refused call still belongs to this read.
            let k = cc.graph().constant(v * 2);
            cc.read(&k, |cc, k| cc.write(k))
        })
    });
    // On the first evaluation, outside any propagation, as well as during one.
    assert_eq!(*results.borrow(), [Err(Error::PropagateDuringPropagate)]);
    let before = g.stats();
    g.change(&x, 4).expect("change");
    g.propagate().expect("propagate");
    assert_eq!(
        *results.borrow(),
        [
            Err(Error::PropagateDuringPropagate),
            Err(Error::PropagateDuringPropagate)
        ]
    );
    assert_eq!(g.observe(&a), Ok(&8));
    assert_eq!(g.stats(), before);
}

#[test]
fn dispose_errors() {
    let results: Rc<RefCell<Vec<Result<(), Error>>>> = Default::default();
    let mut g = Graph::new();
    let x = g.var(1);
    let m = g.map(&x.changeable(), |v| v + 1);
    let r = results.clone();
    let out = g.of_cc(|cc| {
        cc.read(&m, move |mut cc, v| {
            // Inside a computation, whether first run or re-run.
            r.borrow_mut().push(cc.graph().dispose(x.changeable()));
            cc.write(v)
        })
    });
    assert_eq!(*results.borrow(), [Err(Error::DisposeInsideComputation)]);
    g.change(&x, 2).expect("change");
    g.propagate().expect("propagate");
    assert_eq!(
        *results.borrow(),
        [
            Err(Error::DisposeInsideComputation),
            Err(Error::DisposeInsideComputation)
        ]
    );
    assert_eq!(g.observe(&out), Ok(&3));

    // Still read by someone.
    assert_eq!(g.dispose(x.changeable()), Err(Error::InUse));
    assert_eq!(g.dispose(m), Err(Error::InUse));
    // Readers first, then what they read.
    g.dispose(out).expect("dispose out");
    g.dispose(m).expect("dispose m");
    g.dispose(x.changeable()).expect("dispose x");
    // Twice, and every use of a released handle.
    assert_eq!(g.dispose(out), Err(Error::Released));
    assert_eq!(g.observe(&out), Err(Error::Released));
    assert_eq!(g.observe(&m), Err(Error::Released));
    assert_eq!(g.observe(&x.changeable()), Err(Error::Released));
    assert_eq!(g.change(&x, 3), Err(Error::Released));
    assert_eq!(g.change_eq(&x, 3, |a, b| a == b), Err(Error::Released));
    g.propagate().expect("propagate");
}

#[test]
fn a_released_handle_is_not_confused_with_a_new_value_in_its_slot() {
    let mut g = Graph::new();
    let a = g.var(1);
    g.dispose(a.changeable()).expect("dispose");
    // The slot is reused by the next cell of the same type.
    let b = g.var(2);
    assert_eq!(g.observe(&a.changeable()), Err(Error::Released));
    assert_eq!(g.change(&a, 5), Err(Error::Released));
    assert_eq!(g.observe(&b.changeable()), Ok(&2));
}

#[test]
fn error_messages_say_what_went_wrong() {
    assert_eq!(
        Error::ChangeDuringPropagate.to_string(),
        "incr::Graph::change called within propagate: inputs may only change between propagations"
    );
    assert_eq!(
        Error::Released.to_string(),
        "the changeable value was released: its computation was discarded"
    );
}

#[test]
fn reading_a_released_handle_panics_with_a_message() {
    let mut g = Graph::new();
    let x = g.var(1);
    g.dispose(x.changeable()).expect("dispose");
    let err = catch_unwind(AssertUnwindSafe(|| {
        g.map(&x.changeable(), |v| v + 1);
    }))
    .expect_err("reading a released value panics");
    assert!(
        panic_message(err.as_ref()).contains("released"),
        "{}",
        panic_message(err.as_ref())
    );
}

#[test]
fn a_panicking_reader_is_passed_on_and_the_graph_keeps_working() {
    let log = Log::default();
    let mut g = Graph::new();
    let x = g.var(1);
    let l = log.clone();
    let fragile = g.map(&x.changeable(), move |v| {
        l.push(format!("fragile {v}"));
        assert!(v != 13, "unlucky {v}");
        v * 2
    });
    let l = log.clone();
    let after = g.map(&fragile, move |v| {
        l.push(format!("after {v}"));
        v + 1
    });
    // A second reader of x, later on the timeline than the one that panics.
    let l = log.clone();
    let later = g.map(&x.changeable(), move |v| {
        l.push(format!("later {v}"));
        v
    });
    log.take();
    let before = g.stats();

    g.change(&x, 13).expect("change");
    let err = catch_unwind(AssertUnwindSafe(|| g.propagate())).expect_err("the panic is passed on");
    assert_eq!(panic_message(err.as_ref()), "unlucky 13");
    assert!(!g.is_propagating());
    assert_eq!(log.take(), ["fragile 13"]);
    // The failed read keeps its previous result; what was not reached yet stays queued.
    assert_eq!(g.observe(&fragile), Ok(&2));
    assert_eq!(g.observe(&after), Ok(&3));
    assert_eq!(g.observe(&later), Ok(&1));
    assert_eq!(g.stats().queued, 1);
    g.propagate().expect("propagate");
    assert_eq!(log.take(), ["later 13"]);
    assert_eq!(g.observe(&later), Ok(&13));

    g.change(&x, 5).expect("change");
    g.propagate().expect("propagate");
    assert_eq!(log.take(), ["fragile 5", "after 10", "later 5"]);
    assert_eq!(g.observe(&after), Ok(&11));
    assert_eq!(g.stats(), before);
}

#[test]
fn a_panicking_reader_with_nested_work_is_cleaned_up_by_its_next_run() {
    let log = Log::default();
    let mut g = Graph::new();
    let x = g.var(0);
    let l = log.clone();
    let out = g.of_cc(|cc| {
        cc.read(&x.changeable(), move |mut cc, v| {
            let l2 = l.clone();
            cc.on_release(move || l2.push(format!("release {v}")));
            let nested = cc.graph().constant(v);
            assert!(v >= 0, "negative");
            cc.read(&nested, |cc, v| cc.write(v))
        })
    });
    let before = g.stats();
    g.change(&x, -1).expect("change");
    catch_unwind(AssertUnwindSafe(|| g.propagate())).expect_err("the panic is passed on");
    assert_eq!(log.take(), ["release 0"]);
    assert_eq!(g.observe(&out), Ok(&0));
    g.change(&x, 2).expect("change");
    g.propagate().expect("propagate");
    // What the panicking run made before it panicked is discarded like any other run.
    assert_eq!(log.take(), ["release -1"]);
    assert_eq!(g.observe(&out), Ok(&2));
    assert_eq!(g.stats(), before);
}

#[test]
fn a_panicking_release_hook_does_not_stop_teardown() {
    let log = Log::default();
    let mut g = Graph::new();
    let sel = g.var(true);
    let baseline = g.stats();
    let l = log.clone();
    let out = g.of_cc(|cc| {
        cc.read(&sel.changeable(), move |mut cc, on| {
            if !on {
                return cc.write(0);
            }
            let l1 = l.clone();
            cc.on_release(move || l1.push("first"));
            cc.on_release(|| panic!("hook failed"));
            let l3 = l.clone();
            cc.on_release(move || l3.push("third"));
            let inner = cc.graph().map(&sel.changeable(), i32::from);
            let l4 = l.clone();
            let inner2 = cc.graph().of_cc(|cc| {
                cc.read(&inner, move |mut cc, v| {
                    let l4 = l4.clone();
                    cc.on_release(move || l4.push("nested"));
                    cc.write(v)
                })
            });
            cc.read(&inner2, |cc, v| cc.write(v))
        })
    });
    assert_eq!(g.observe(&out), Ok(&1));
    g.change(&sel, false).expect("change");
    g.propagate().expect("propagate");
    let mut events = log.take();
    events.sort();
    assert_eq!(events, ["first", "nested", "third"]);
    assert_eq!(g.observe(&out), Ok(&0));
    let after = g.stats();
    // Only `out` and its read remain beyond the baseline.
    assert_eq!(
        (after.points, after.edges, after.cells),
        (baseline.points + 1, baseline.edges + 1, baseline.cells + 1)
    );
}
