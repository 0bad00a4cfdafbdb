//! Inputs: terms whose value comes from outside the pipeline.

use std::panic::Location;

use crate::incr::Changeable;

use super::node::Term;
use super::output::Outcome;

impl<T: Clone + 'static> Term<T> {
    /// An input whose outcome is held in a changeable value of the graph (set it through a
    /// [`Var`](crate::incr::Var) and propagate). Drawn as a box labelled `label`.
    #[track_caller]
    pub fn of_changeable(label: impl Into<String>, c: Changeable<Outcome<T>>) -> Term<T> {
        let location = Location::caller();
        Term::<()>::constant_at(location, None, Ok(()), false).primitive_at(
            location,
            label.into(),
            move |g, ()| g.map(&c, |o| (o, None)),
            None,
            None,
        )
    }
}
