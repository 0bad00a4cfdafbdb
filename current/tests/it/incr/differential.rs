//! Differential property test: random programs built incrementally agree with a
//! from-scratch evaluation, and exactly the right readers re-run, in timeline order.
//!
//! # The programs
//!
//! An expression over a few integer vars:
//!
//! - `Var(i)`, `Const(c)`: no reader of their own.
//! - `Map(k, e)`: `map(e, |v| v + k)`; one reader, `(id, 0)`.
//! - `Add(a, b)`: `a` and `b` are built first, then `of_cc(read a (fun x -> read b (fun y
//!   -> write (x + y))))`; readers `(id, 1)` (outer) and `(id, 2)` (inner, nested in it).
//! - `Branch(c, even, odd)`: `c` is built first, then `of_cc(read c (fun v -> build the
//!   arm chosen by v's parity; read it (fun w -> write w)))`; readers `(id, 1)` (outer)
//!   and `(id, 2)` (inner); the arm and its readers are nested in the outer reader, so
//!   they exist only while that arm is chosen, and are rebuilt whenever it re-runs.
//!
//! Every `Map`, `Add` and `Branch` either writes with `==` as its equality (an equal result
//! is no change) or with the default (every write is a change). A step applies a few
//! changes to the vars, each either with `change_eq(==)` (an equal value is no change) or
//! with `change` (always a change), then propagates.
//!
//! # The oracle
//!
//! Every dependency points backwards on the timeline (a value is read only after the reader
//! that writes it, or the var, was made), so propagation is one pass in timeline order: the
//! walk below visits nodes in exactly the order their readers were created and, for a node
//! that existed before the step, decides from its inputs whether each of its readers runs:
//!
//! - a reader that existed before the step re-runs iff its input was *written as a change*
//!   in this step: a var changed by `change`, or by `change_eq` to a different value; or a
//!   node whose writing reader re-ran and wrote with the default equality, or with `==` and
//!   a different value;
//! - a re-running outer reader first discards what it made (the inner reader, a branch's
//!   arm): those readers do not run in this step even if their inputs changed, and instead
//!   the re-run makes new ones, which run exactly once, as they are made (`fresh`);
//! - an inner reader whose outer reader did not re-run is an ordinary existing reader.
//!
//! The walk yields the expected sequence of reader ids (a set would be the weaker claim; the
//! order is the timeline's, so we check the sequence), and the test also checks that the
//! result equals a from-scratch evaluation, and that the graph holds exactly as many
//! points, edges and cells as a graph built from scratch on the current values.

use std::cell::RefCell;
use std::rc::Rc;

use current::incr::{Cc, Changeable, Graph, Var, Written};
use proptest::prelude::*;
use proptest::test_runner::Config;

const VARS: usize = 4;

/// The shape of an expression, as generated.
#[derive(Clone, Debug)]
enum Shape {
    Var(usize),
    Const(i64),
    Map(i64, bool, Box<Shape>),
    Add(bool, Box<Shape>, Box<Shape>),
    Branch(bool, Box<Shape>, Box<Shape>, Box<Shape>),
}

/// An expression with an id per node, shared with the closures that build its parts.
enum Node {
    Var(usize),
    Const(i64),
    Map {
        id: u32,
        k: i64,
        eq: bool,
        e: Rc<Node>,
    },
    Add {
        id: u32,
        eq: bool,
        a: Rc<Node>,
        b: Rc<Node>,
    },
    Branch {
        id: u32,
        eq: bool,
        cond: Rc<Node>,
        even: Rc<Node>,
        odd: Rc<Node>,
    },
}

fn number(shape: &Shape, next: &mut u32) -> Rc<Node> {
    let mut id = || {
        *next += 1;
        *next
    };
    Rc::new(match shape {
        Shape::Var(i) => Node::Var(*i),
        Shape::Const(c) => Node::Const(*c),
        Shape::Map(k, eq, e) => {
            let id = id();
            Node::Map {
                id,
                k: *k,
                eq: *eq,
                e: number(e, next),
            }
        }
        Shape::Add(eq, a, b) => {
            let id = id();
            Node::Add {
                id,
                eq: *eq,
                a: number(a, next),
                b: number(b, next),
            }
        }
        Shape::Branch(eq, c, even, odd) => {
            let id = id();
            Node::Branch {
                id,
                eq: *eq,
                cond: number(c, next),
                even: number(even, next),
                odd: number(odd, next),
            }
        }
    })
}

fn shape() -> impl Strategy<Value = Shape> {
    let leaf = prop_oneof![
        3 => (0..VARS).prop_map(Shape::Var),
        1 => (-3i64..=3).prop_map(Shape::Const),
    ];
    leaf.prop_recursive(5, 40, 3, |inner| {
        prop_oneof![
            3 => (-2i64..=2, any::<bool>(), inner.clone())
                .prop_map(|(k, eq, e)| Shape::Map(k, eq, Box::new(e))),
            2 => (any::<bool>(), inner.clone(), inner.clone())
                .prop_map(|(eq, a, b)| Shape::Add(eq, Box::new(a), Box::new(b))),
            2 => (any::<bool>(), inner.clone(), inner.clone(), inner)
                .prop_map(|(eq, c, a, b)| Shape::Branch(eq, Box::new(c), Box::new(a), Box::new(b))),
        ]
    })
}

/// One change of a var: `(var, value, with_eq)`.
type Op = (usize, i64, bool);

fn steps() -> impl Strategy<Value = Vec<Vec<Op>>> {
    let op = (0..VARS, 0i64..4, any::<bool>());
    prop::collection::vec(prop::collection::vec(op, 0..4), 1..8)
}

type Reader = (u32, u8);

/// What the closures built in the graph share.
#[derive(Clone)]
struct Cx {
    vars: Rc<[Var<i64>]>,
    ran: Rc<RefCell<Vec<Reader>>>,
}

impl Cx {
    fn ran(&self, id: u32, role: u8) {
        self.ran.borrow_mut().push((id, role));
    }
}

fn write(cc: Cc<'_, i64>, v: i64, eq: bool) -> Written {
    if eq {
        cc.write_eq(v, |a, b| a == b)
    } else {
        cc.write(v)
    }
}

/// Build `n` in the graph, in the order the oracle walks it.
fn build(g: &mut Graph, n: &Rc<Node>, cx: &Cx) -> Changeable<i64> {
    match &**n {
        Node::Var(i) => cx.vars[*i].changeable(),
        Node::Const(c) => g.constant(*c),
        Node::Map { id, k, eq, e } => {
            let input = build(g, e, cx);
            let (id, k, cx) = (*id, *k, cx.clone());
            let f = move |v: i64| {
                cx.ran(id, 0);
                v + k
            };
            if *eq {
                g.map_eq(&input, f, |a, b| a == b)
            } else {
                g.map(&input, f)
            }
        }
        Node::Add { id, eq, a, b } => {
            let a = build(g, a, cx);
            let b = build(g, b, cx);
            let (id, eq, cx) = (*id, *eq, cx.clone());
            g.of_cc(|cc| {
                cc.read(&a, move |cc, x| {
                    cx.ran(id, 1);
                    let cx = cx.clone();
                    cc.read(&b, move |cc, y| {
                        cx.ran(id, 2);
                        write(cc, x + y, eq)
                    })
                })
            })
        }
        Node::Branch {
            id,
            eq,
            cond,
            even,
            odd,
        } => {
            let c = build(g, cond, cx);
            let (id, eq, cx) = (*id, *eq, cx.clone());
            let (even, odd) = (even.clone(), odd.clone());
            g.of_cc(|cc| {
                cc.read(&c, move |mut cc, v| {
                    cx.ran(id, 1);
                    let arm = if v.rem_euclid(2) == 0 { &even } else { &odd };
                    let arm = build(cc.graph(), arm, &cx);
                    let cx = cx.clone();
                    cc.read(&arm, move |cc, w| {
                        cx.ran(id, 2);
                        write(cc, w, eq)
                    })
                })
            })
        }
    }
}

/// The value of `n` from scratch.
fn eval(n: &Node, env: &[i64]) -> i64 {
    match n {
        Node::Var(i) => env[*i],
        Node::Const(c) => *c,
        Node::Map { k, e, .. } => eval(e, env) + k,
        Node::Add { a, b, .. } => eval(a, env) + eval(b, env),
        Node::Branch {
            cond, even, odd, ..
        } => {
            if eval(cond, env).rem_euclid(2) == 0 {
                eval(even, env)
            } else {
                eval(odd, env)
            }
        }
    }
}

/// Does a write of `new` over `old` count as a change?
fn is_change(eq: bool, old: i64, new: i64) -> bool {
    !eq || old != new
}

/// The oracle's view of one step.
struct Step<'a> {
    old: &'a [i64],
    new: &'a [i64],
    /// Vars written as a change in this step.
    changed: &'a [bool],
    ran: Vec<Reader>,
}

impl Step<'_> {
    /// `n` is made now: each of its readers runs once, as it is made. Returns its value.
    fn fresh(&mut self, n: &Node) -> i64 {
        match n {
            Node::Var(i) => self.new[*i],
            Node::Const(c) => *c,
            Node::Map { id, k, e, .. } => {
                let v = self.fresh(e);
                self.ran.push((*id, 0));
                v + k
            }
            Node::Add { id, a, b, .. } => {
                let (x, y) = (self.fresh(a), self.fresh(b));
                self.ran.push((*id, 1));
                self.ran.push((*id, 2));
                x + y
            }
            Node::Branch {
                id,
                cond,
                even,
                odd,
                ..
            } => {
                let c = self.fresh(cond);
                self.ran.push((*id, 1));
                let w = self.fresh(if c.rem_euclid(2) == 0 { even } else { odd });
                self.ran.push((*id, 2));
                w
            }
        }
    }

    /// `n` existed before the step. Returns its new value and whether its value was written
    /// as a change (which schedules its readers).
    fn update(&mut self, n: &Node) -> (i64, bool) {
        match n {
            Node::Var(i) => (self.new[*i], self.changed[*i]),
            Node::Const(c) => (*c, false),
            Node::Map { id, k, eq, e } => {
                let (v, changed) = self.update(e);
                if !changed {
                    return (eval(n, self.old), false);
                }
                self.ran.push((*id, 0));
                (v + k, is_change(*eq, eval(n, self.old), v + k))
            }
            Node::Add { id, eq, a, b } => {
                let (x, a_changed) = self.update(a);
                let (y, b_changed) = self.update(b);
                if a_changed {
                    // The outer read re-runs; the inner one is discarded and made anew.
                    self.ran.push((*id, 1));
                    self.ran.push((*id, 2));
                } else if b_changed {
                    self.ran.push((*id, 2));
                } else {
                    return (eval(n, self.old), false);
                }
                (x + y, is_change(*eq, eval(n, self.old), x + y))
            }
            Node::Branch {
                id,
                eq,
                cond,
                even,
                odd,
            } => {
                let (c, c_changed) = self.update(cond);
                let w = if c_changed {
                    // The outer read re-runs: the old arm is discarded unvisited, and the
                    // arm chosen now is made afresh.
                    self.ran.push((*id, 1));
                    let w = self.fresh(if c.rem_euclid(2) == 0 { even } else { odd });
                    self.ran.push((*id, 2));
                    w
                } else {
                    // Same condition value, same arm, still alive.
                    let (w, arm_changed) =
                        self.update(if c.rem_euclid(2) == 0 { even } else { odd });
                    if !arm_changed {
                        return (eval(n, self.old), false);
                    }
                    self.ran.push((*id, 2));
                    w
                };
                (w, is_change(*eq, eval(n, self.old), w))
            }
        }
    }
}

fn live(g: &Graph) -> (usize, usize, usize, usize) {
    let s = g.stats();
    (s.points, s.edges, s.cells, s.queued)
}

/// A graph with `env` as its vars and `root` built in it.
fn from_scratch(root: &Rc<Node>, env: &[i64]) -> (Graph, Changeable<i64>, Cx) {
    let mut g = Graph::new();
    let cx = Cx {
        vars: env.iter().map(|v| g.var(*v)).collect(),
        ran: Rc::default(),
    };
    let out = build(&mut g, root, &cx);
    (g, out, cx)
}

fn check(shape: &Shape, init: &[i64], steps: &[Vec<Op>]) -> Result<(), TestCaseError> {
    let root = number(shape, &mut 0);
    let (mut g, out, cx) = from_scratch(&root, init);
    let mut env = init.to_vec();

    // The first evaluation runs every reader it makes, once, in timeline order.
    let first = Step {
        old: &env,
        new: &env,
        changed: &[false; VARS],
        ran: Vec::new(),
    }
    .fresh_all(&root);
    prop_assert_eq!(std::mem::take(&mut *cx.ran.borrow_mut()), first);
    prop_assert_eq!(g.observe(&out).copied(), Ok(eval(&root, &env)));

    for ops in steps {
        let old = env.clone();
        let mut changed = [false; VARS];
        for &(i, v, with_eq) in ops {
            if with_eq {
                g.change_eq(&cx.vars[i], v, |a, b| a == b)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                changed[i] |= env[i] != v;
            } else {
                g.change(&cx.vars[i], v)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                changed[i] = true;
            }
            env[i] = v;
        }
        let mut step = Step {
            old: &old,
            new: &env,
            changed: &changed,
            ran: Vec::new(),
        };
        let (expected_value, _) = step.update(&root);
        g.propagate()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let ran = std::mem::take(&mut *cx.ran.borrow_mut());
        prop_assert_eq!(&ran, &step.ran, "readers run by {:?} from {:?}", ops, old);
        prop_assert_eq!(expected_value, eval(&root, &env));
        prop_assert_eq!(g.observe(&out).copied(), Ok(eval(&root, &env)));

        // No leak, nothing left over: the same amount of graph as a fresh build.
        let (fresh, fresh_out, _) = from_scratch(&root, &env);
        prop_assert_eq!(fresh.observe(&fresh_out).copied(), Ok(eval(&root, &env)));
        prop_assert_eq!(live(&g), live(&fresh));
    }
    Ok(())
}

impl Step<'_> {
    fn fresh_all(mut self, root: &Node) -> Vec<Reader> {
        self.fresh(root);
        self.ran
    }
}

/// At most 64 cases unless `PROPTEST_CASES` asks for more (or fewer).
fn config() -> Config {
    if std::env::var_os("PROPTEST_CASES").is_some() {
        Config::default()
    } else {
        Config::with_cases(64)
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn incremental_evaluation_matches_from_scratch(
        shape in shape(),
        init in prop::collection::vec(0i64..4, VARS),
        steps in steps(),
    ) {
        check(&shape, &init, &steps)?;
    }
}

/// The property on a few hand-written programs, each with a step that exercises one rule
/// of the oracle.
#[test]
fn the_oracle_on_hand_written_programs() {
    use Shape::*;
    let var = |i| Box::new(Var(i));
    let cases: Vec<(Shape, Vec<Vec<Op>>)> = vec![
        // A branch whose condition and both arms read changing vars.
        (
            Branch(true, var(0), Box::new(Map(1, true, var(1))), var(2)),
            vec![
                vec![(1, 3, true), (0, 1, true)],
                vec![(2, 2, false)],
                vec![(0, 3, true), (2, 1, true)],
                vec![(0, 3, false)],
            ],
        ),
        // Add, whose inner read re-runs alone when only its own input changes.
        (
            Add(
                true,
                Box::new(Map(0, true, var(0))),
                Box::new(Add(false, var(1), var(0))),
            ),
            vec![vec![(1, 2, true)], vec![(0, 2, true)], vec![(0, 2, false)]],
        ),
        // A nested branch under a map with `==`: an arm change that leaves the value equal
        // stops at the map, and the outer branch (default equality) passes everything on.
        (
            Branch(
                false,
                Box::new(Map(0, true, Box::new(Branch(true, var(0), var(1), var(1))))),
                Box::new(Const(1)),
                Box::new(Add(true, var(3), var(3))),
            ),
            vec![vec![(0, 1, true)], vec![(1, 1, true)], vec![(3, 0, false)]],
        ),
    ];
    for (shape, steps) in cases {
        if let Err(e) = check(&shape, &[0, 0, 0, 0], &steps) {
            panic!("{shape:?}: {e}");
        }
    }
}
