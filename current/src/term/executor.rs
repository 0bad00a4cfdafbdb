//! Running a term: instantiating it into an incremental graph and observing its output.

use std::rc::Rc;

use crate::incr::{Changeable, Graph};

use super::node::{build_frame, instantiate_static, Env, Term};
use super::output::{ErrorKind, Observed, Outcome, Output};
use super::stats::Stats;

/// A term being evaluated in a [`Graph`] (OCaml's `Executor.run`).
///
/// ```
/// use current::incr::{Graph, Var};
/// use current::term::{Executor, Observed, Outcome, Term};
///
/// let mut g = Graph::new();
/// let input: Var<Outcome<i32>> = g.var(Ok(2));
/// let exec = Executor::run(&mut g, || {
///     Term::of_changeable("input", input.changeable()).map(|x: i32| x * 10)
/// });
/// assert_eq!(exec.observe(&g), Observed::Ok(20));
///
/// g.change(&input, Ok(3))?;
/// g.propagate()?;
/// assert_eq!(exec.observe(&g), Observed::Ok(30));
/// # Ok::<(), current::incr::Error>(())
/// ```
pub struct Executor<T: 'static> {
    term: Term<T>,
    output: Changeable<Output<T>>,
    env: Rc<Env>,
}

impl<T: Clone + 'static> Executor<T> {
    /// Build the pipeline with `pipeline` and evaluate it in `g`.
    ///
    /// Terms made by `pipeline` are evaluated in the order they were made, and the terms the
    /// root reads are evaluated before it, so each term exists at the top level before
    /// anything (a `bind` included) uses it. Build the pipeline inside `pipeline`: a term
    /// made elsewhere and reached only through a `bind`'s function would be evaluated
    /// inside that bind, and discarded whenever it re-runs.
    pub fn run(g: &mut Graph, pipeline: impl FnOnce() -> Term<T>) -> Executor<T> {
        let env = Rc::new(Env::default());
        let term = build_frame(&env, g, pipeline);
        instantiate_static(&term.any(), &env, g);
        let output = term.instance(&env, g);
        Executor { term, output, env }
    }

    /// The root term.
    pub fn term(&self) -> &Term<T> {
        &self.term
    }

    /// The pipeline's output as a changeable value of `g`.
    pub fn output(&self) -> Changeable<Output<T>> {
        self.output
    }

    /// The pipeline's current result, whichever node produced it (OCaml's
    /// `Executor.run`): what an engine reports.
    pub fn result(&self, g: &Graph) -> Outcome<T> {
        match g.observe(&self.output) {
            Ok(o) => o.clone().map_err(|e| e.kind),
            Err(e) => Err(ErrorKind::msg(format!("pipeline output unavailable: {e}"))),
        }
    }

    /// The root term's current result as seen by the root: a failure from an upstream node
    /// is [`Observed::Blocked`] (OCaml's `observe`).
    pub fn observe(&self, g: &Graph) -> Observed<T> {
        match g.observe(&self.output) {
            Ok(o) => Observed::of_output(self.term.id(), o.clone()),
            Err(e) => Observed::Msg(format!("pipeline output unavailable: {e}").into()),
        }
    }

    /// The jobs of the pipeline's primitives now, sorted (kept up to date as primitives
    /// come and go, without walking the pipeline).
    pub fn job_ids(&self) -> Vec<String> {
        let jobs: std::collections::BTreeSet<String> =
            self.env.jobs.borrow().values().cloned().collect();
        jobs.into_iter().collect()
    }

    /// Counts of binds, primitives and `of_output` terms by state, kept up to date as
    /// they change, without walking the graph (OCaml's `quick_stat`, without its habit of
    /// counting stages waiting for confirmation as blocked too).
    pub fn quick_stats(&self) -> Stats {
        *self.env.counts.borrow()
    }
}
