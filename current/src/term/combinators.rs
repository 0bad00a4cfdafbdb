//! The basic combinators: constants, maps, pairs, gates, `catch` and `state`.

use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::rc::Rc;

use crate::incr::{panic_message, Changeable, Graph};

use super::node::{NodeKind, Term};
use super::output::{Active, Error, ErrorKind, NodeId, Outcome, Output};
use super::stats::counted;

/// An equality of values, shared between instantiations.
pub(crate) type Equality<T> = dyn Fn(&T, &T) -> bool;

/// Equality of outputs given an equality of values: errors are equal when they have the
/// same source and the same kind.
pub(crate) fn output_eq<T>(a: &Output<T>, b: &Output<T>, eq: &dyn Fn(&T, &T) -> bool) -> bool {
    match (a, b) {
        (Ok(a), Ok(b)) => eq(a, b),
        (Err(a), Err(b)) => a == b,
        _ => false,
    }
}

/// Apply `f` to an `Ok` value; a panic in `f` becomes a message error owned by `id`.
fn apply<A, B>(id: NodeId, f: &dyn Fn(A) -> B, o: Output<A>) -> Output<B> {
    let v = o?;
    catch_unwind(AssertUnwindSafe(|| f(v))).map_err(|panic| Error {
        source: id,
        kind: ErrorKind::msg(panic_message(panic.as_ref())),
    })
}

/// Combine two outputs as `pair` does: a failure beats pending work, left before right.
pub(crate) fn pair_outputs<A, B>(a: Output<A>, b: Output<B>) -> Output<(A, B)> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (
            Err(
                e @ Error {
                    kind: ErrorKind::Msg(_),
                    ..
                },
            ),
            _,
        )
        | (
            _,
            Err(
                e @ Error {
                    kind: ErrorKind::Msg(_),
                    ..
                },
            ),
        ) => Err(e),
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

impl<T: Clone + 'static> Term<T> {
    pub(crate) fn constant_at(
        location: &'static Location<'static>,
        label: Option<String>,
        value: Outcome<T>,
        count: bool,
    ) -> Term<T> {
        Term::make(
            NodeKind::Constant { label },
            location,
            move |node, env, g| {
                let v = value.clone().map_err(|kind| Error {
                    source: node.id,
                    kind,
                });
                let c = g.constant(v);
                if count {
                    counted(env, node.id, c, g)
                } else {
                    c
                }
            },
        )
    }

    /// A constant (OCaml's `return`). Unlabelled constants are not drawn in diagrams.
    #[track_caller]
    pub fn value(x: T) -> Term<T> {
        Self::constant_at(Location::caller(), None, Ok(x), false)
    }

    /// A constant drawn as a box with `label` (OCaml's `return ~label`).
    #[track_caller]
    pub fn labelled(label: impl Into<String>, x: T) -> Term<T> {
        Self::constant_at(Location::caller(), Some(label.into()), Ok(x), false)
    }

    /// A term that has failed with `msg`.
    #[track_caller]
    pub fn fail(msg: impl Into<String>) -> Term<T> {
        Self::constant_at(Location::caller(), None, Err(ErrorKind::msg(msg)), false)
    }

    /// A term that is pending in state `a`.
    #[track_caller]
    pub fn active(a: Active) -> Term<T> {
        Self::constant_at(Location::caller(), None, Err(ErrorKind::Active(a)), false)
    }

    /// A constant from an outcome; counted in the quick statistics.
    #[track_caller]
    pub fn of_output(o: Outcome<T>) -> Term<T> {
        Self::constant_at(Location::caller(), None, o, true)
    }

    pub(crate) fn map_at<U: Clone + 'static>(
        &self,
        location: &'static Location<'static>,
        f: impl Fn(T) -> U + 'static,
        eq: Option<Rc<Equality<U>>>,
    ) -> Term<U> {
        let source = self.clone();
        let f: Rc<dyn Fn(T) -> U> = Rc::new(f);
        Term::make(
            NodeKind::Map { source: self.any() },
            location,
            move |node, env, g| {
                let c = source.instance(env, g);
                let (id, f) = (node.id, f.clone());
                let run = move |o: Output<T>| apply(id, &*f, o);
                match &eq {
                    None => g.map(&c, run),
                    Some(eq) => {
                        let eq = eq.clone();
                        g.map_eq(&c, run, move |a, b| output_eq(a, b, &*eq))
                    }
                }
            },
        )
    }

    /// `f` applied to the value. A panic in `f` becomes a failure of this node carrying the
    /// panic message; the rest of the pipeline keeps running.
    #[track_caller]
    pub fn map<U: Clone + 'static>(&self, f: impl Fn(T) -> U + 'static) -> Term<U> {
        self.map_at(Location::caller(), f, None)
    }

    /// Like [`Term::map`], but a result `eq` to the previous one does not update consumers.
    #[track_caller]
    pub fn map_eq<U: Clone + 'static>(
        &self,
        f: impl Fn(T) -> U + 'static,
        eq: impl Fn(&U, &U) -> bool + 'static,
    ) -> Term<U> {
        self.map_at(Location::caller(), f, Some(Rc::new(eq)))
    }

    /// The same value, but consumers are only updated when it changes by `eq`.
    #[track_caller]
    pub fn cutoff(&self, eq: impl Fn(&T, &T) -> bool + 'static) -> Term<T> {
        self.map_at(Location::caller(), |x| x, Some(Rc::new(eq)))
    }

    /// Forget the value.
    #[track_caller]
    pub fn ignore_value(&self) -> Term<()> {
        self.map_at(Location::caller(), |_| (), None)
    }

    /// Rewrite failure messages with `f`; the rewritten failure belongs to this node.
    /// Pending states pass through.
    #[track_caller]
    pub fn map_error(&self, f: impl Fn(&str) -> String + 'static) -> Term<T> {
        let source = self.clone();
        let f: Rc<dyn Fn(&str) -> String> = Rc::new(f);
        Term::make(
            NodeKind::Map { source: self.any() },
            Location::caller(),
            move |node, env, g| {
                let c = source.instance(env, g);
                let (id, f) = (node.id, f.clone());
                g.map(&c, move |o: Output<T>| match o {
                    Err(Error {
                        kind: ErrorKind::Msg(m),
                        ..
                    }) => {
                        let msg = catch_unwind(AssertUnwindSafe(|| f(&m)))
                            .unwrap_or_else(|panic| panic_message(panic.as_ref()));
                        Err(Error {
                            source: id,
                            kind: ErrorKind::msg(msg),
                        })
                    }
                    other => other,
                })
            },
        )
    }

    /// Both values. If either failed, the failure (the left one first) beats pending work.
    #[track_caller]
    pub fn pair<U: Clone + 'static>(&self, other: &Term<U>) -> Term<(T, U)> {
        pair_at(Location::caller(), self, other)
    }

    /// This term's value, but only once `on` is `Ok`; until then, `on`'s error or pending
    /// state. The value is still computed meanwhile: only its consumers wait.
    #[track_caller]
    pub fn gate(&self, on: &Term<()>) -> Term<T> {
        let (ctrl, value) = (on.clone(), self.clone());
        Term::make(
            NodeKind::Gate {
                ctrl: on.any(),
                value: self.any(),
            },
            Location::caller(),
            move |_, env, g| {
                let (cc_ctrl, cc_value) = (ctrl.instance(env, g), value.instance(env, g));
                g.of_cc(move |cc| {
                    cc.read(&cc_ctrl, move |cc, o| match o {
                        Ok(()) => cc.read(&cc_value, |cc, v| cc.write(v)),
                        Err(e) => cc.write(Err(e)),
                    })
                })
            },
        )
    }

    fn catch_at(
        &self,
        location: &'static Location<'static>,
        hidden: bool,
    ) -> Term<Result<T, String>> {
        let source = self.clone();
        Term::make(
            NodeKind::Catch {
                source: self.any(),
                hidden,
            },
            location,
            move |_, env, g| {
                let c = source.instance(env, g);
                g.map(&c, |o: Output<T>| match o {
                    Ok(v) => Ok(Ok(v)),
                    Err(Error {
                        kind: ErrorKind::Msg(m),
                        ..
                    }) => Ok(Err(m.to_string())),
                    Err(e) => Err(e),
                })
            },
        )
    }

    /// A failure as a value: `Ok(Ok(v))`, or `Ok(Err(message))`; pending stays pending.
    /// Drawn as a `catch` box.
    #[track_caller]
    pub fn catch(&self) -> Term<Result<T, String>> {
        self.catch_at(Location::caller(), false)
    }

    /// [`Term::catch`], not drawn in diagrams.
    #[track_caller]
    pub fn catch_hidden(&self) -> Term<Result<T, String>> {
        self.catch_at(Location::caller(), true)
    }

    fn state_at(&self, location: &'static Location<'static>, hidden: bool) -> Term<Outcome<T>> {
        let source = self.clone();
        Term::make(
            NodeKind::State {
                source: self.any(),
                hidden,
            },
            location,
            move |_, env, g| {
                let c = source.instance(env, g);
                g.map(&c, |o: Output<T>| Ok(o.map_err(|e| e.kind)))
            },
        )
    }

    /// Always `Ok`: the whole outcome of this term, pending states included. Drawn as a
    /// `state` box.
    #[track_caller]
    pub fn state(&self) -> Term<Outcome<T>> {
        self.state_at(Location::caller(), false)
    }

    /// [`Term::state`], not drawn in diagrams.
    #[track_caller]
    pub fn state_hidden(&self) -> Term<Outcome<T>> {
        self.state_at(Location::caller(), true)
    }
}

pub(crate) fn pair_at<T: Clone + 'static, U: Clone + 'static>(
    location: &'static Location<'static>,
    a: &Term<T>,
    b: &Term<U>,
) -> Term<(T, U)> {
    let (ta, tb) = (a.clone(), b.clone());
    Term::make(
        NodeKind::Pair(a.any(), b.any()),
        location,
        move |_, env, g| {
            let (ca, cb) = (ta.instance(env, g), tb.instance(env, g));
            pair_changeables(g, ca, cb)
        },
    )
}

fn pair_changeables<T: Clone + 'static, U: Clone + 'static>(
    g: &mut Graph,
    ca: Changeable<Output<T>>,
    cb: Changeable<Output<U>>,
) -> Changeable<Output<(T, U)>> {
    g.of_cc(move |cc| {
        cc.read(&ca, move |cc, oa| {
            cc.read(&cb, move |cc, ob| cc.write(pair_outputs(oa.clone(), ob)))
        })
    })
}

/// Combine `terms` pairwise in a balanced tree (depth log n, so nothing that walks the
/// pipeline recurses deeply), merging values with `merge`. Pairs keep their order, so the
/// first failure in `terms` still beats any pending term, as with a chain of `pair`s.
fn balanced<T: Clone + 'static>(
    location: &'static Location<'static>,
    mut terms: Vec<Term<T>>,
    merge: Rc<dyn Fn(T, T) -> T>,
) -> Option<Term<T>> {
    if terms.len() <= 1 {
        return terms.pop();
    }
    let right = terms.split_off(terms.len() / 2);
    let left = balanced(location, terms, merge.clone())?;
    let right = balanced(location, right, merge.clone())?;
    Some(pair_at(location, &left, &right).map_at(location, move |(a, b)| merge(a, b), None))
}

impl Term<()> {
    /// All of `terms` (OCaml's `all`): `Ok` when all are; otherwise the first failure, or
    /// else the first pending state. `[]` is `Ok(())` and `[t]` is `t` itself.
    #[track_caller]
    pub fn all(terms: impl IntoIterator<Item = Term<()>>) -> Term<()> {
        let location = Location::caller();
        balanced(location, terms.into_iter().collect(), Rc::new(|(), ()| ()))
            .unwrap_or_else(|| Term::constant_at(location, None, Ok(()), false))
    }

    /// All of `terms`, naming the failed ones: `"a, b failed: <msg>"` when all failures
    /// share one message, otherwise `"a, b failed"`. Drawn as a bind labelled `all`.
    #[track_caller]
    pub fn all_labelled<L: Into<String>>(
        terms: impl IntoIterator<Item = (L, Term<()>)>,
    ) -> Term<()> {
        #[derive(Clone)]
        enum Failed {
            Same(Vec<String>, String),
            Diff(Vec<String>),
        }
        fn merge(a: Result<(), Failed>, b: Result<(), Failed>) -> Result<(), Failed> {
            match (a, b) {
                (Ok(()), x) | (x, Ok(())) => x,
                (Err(Failed::Same(mut l1, e1)), Err(Failed::Same(l2, e2))) if e1 == e2 => {
                    l1.extend(l2);
                    Err(Failed::Same(l1, e1))
                }
                (
                    Err(Failed::Same(mut l1, _) | Failed::Diff(mut l1)),
                    Err(Failed::Same(l2, _) | Failed::Diff(l2)),
                ) => {
                    l1.extend(l2);
                    Err(Failed::Diff(l1))
                }
            }
        }
        let location = Location::caller();
        let caught: Vec<Term<Result<(), Failed>>> = terms
            .into_iter()
            .map(|(label, t)| {
                let label: String = label.into();
                t.catch_at(location, true).map_at(
                    location,
                    move |r| r.map_err(|e| Failed::Same(vec![label.clone()], e)),
                    None,
                )
            })
            .collect();
        let Some(acc) = balanced(location, caught, Rc::new(merge)) else {
            return Term::constant_at(location, None, Ok(()), false);
        };
        acc.bind_at(location, "all".to_string(), move |r| {
            let outcome = match r {
                Ok(()) => Ok(()),
                Err(Failed::Same(ls, e)) => {
                    Err(ErrorKind::msg(format!("{} failed: {e}", ls.join(", "))))
                }
                Err(Failed::Diff(ls)) => Err(ErrorKind::msg(format!("{} failed", ls.join(", ")))),
            };
            Term::constant_at(location, None, outcome, true)
        })
    }
}

impl<T: Clone + 'static> Term<T> {
    /// The values of `terms`, in order (OCaml's `list_seq`).
    #[track_caller]
    pub fn list_seq(terms: impl IntoIterator<Item = Term<T>>) -> Term<Vec<T>> {
        let location = Location::caller();
        let singletons: Vec<Term<Vec<T>>> = terms
            .into_iter()
            .map(|t| t.map_at(location, |x| vec![x], None))
            .collect();
        let concat = |mut a: Vec<T>, b: Vec<T>| {
            a.extend(b);
            a
        };
        balanced(location, singletons, Rc::new(concat))
            .unwrap_or_else(|| Term::constant_at(location, None, Ok(Vec::new()), false))
    }
}
