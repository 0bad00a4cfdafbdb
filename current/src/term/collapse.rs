//! Collapsible groups: parts of a diagram shown as one `+` box until expanded.

use std::panic::Location;

use super::node::{NodeKind, Term};

impl<T: Clone + 'static> Term<T> {
    /// The same value; in diagrams, everything between `input` and this term is drawn as
    /// one `+` box unless the diagram's environment maps `key` to `value` (the box links
    /// there, to expand it).
    #[track_caller]
    pub fn collapse<I: Clone + 'static>(
        &self,
        key: impl Into<String>,
        value: impl Into<String>,
        input: &Term<I>,
    ) -> Term<T> {
        collapse_at(
            Location::caller(),
            key.into(),
            value.into(),
            input,
            self,
            None,
        )
    }

    /// Collapse a list of terms as one group. Returns a term for each element (while
    /// collapsed, their consumers are drawn connected to the group's `+` box) and a term
    /// for the group as a whole.
    #[track_caller]
    pub fn collapse_list<I: Clone + 'static>(
        key: impl Into<String>,
        value: impl Into<String>,
        input: &Term<I>,
        terms: Vec<Term<T>>,
    ) -> (Vec<Term<T>>, Term<()>) {
        let location = Location::caller();
        let (key, value) = (key.into(), value.into());
        let all = Term::all(terms.iter().map(|t| t.map_at(location, |_| (), None)));
        let group = collapse_at(location, key.clone(), value.clone(), input, &all, None);
        let members = terms
            .iter()
            .map(|t| {
                collapse_at(
                    location,
                    key.clone(),
                    value.clone(),
                    input,
                    t,
                    Some(group.any()),
                )
            })
            .collect();
        (members, group)
    }
}

pub(crate) fn collapse_at<I: Clone + 'static, T: Clone + 'static>(
    location: &'static Location<'static>,
    key: String,
    value: String,
    input: &Term<I>,
    output: &Term<T>,
    group: Option<super::node::AnyTerm>,
) -> Term<T> {
    let out = output.clone();
    Term::make(
        NodeKind::Collapse {
            key,
            value,
            input: input.any(),
            output: output.any(),
            group,
        },
        location,
        move |_, env, g| out.instance(env, g),
    )
}
