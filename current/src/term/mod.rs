//! Pipelines as terms: OCaml's `Current_term`.
//!
//! A [`Term<T>`] is a node of a pipeline that evaluates to a `T`. Combinators build new
//! terms from old ones ([`Term::map`], [`Term::pair`], [`Term::bind`], [`Term::gate`],
//! [`Term::list_map`], ...). Building a term does no work; an [`Executor`] evaluates it
//! in an [incremental graph](crate::incr) and keeps it up to date. A term's output is
//! `Ok`, or an [`Error`] that is a failure message or a pending state ([`Active`]) and
//! that remembers the node that produced it: a node showing its own error *failed*, a
//! node showing another's is *blocked*.
//!
//! [`analysis`] renders a pipeline as text ([`analysis::pp`]) and as a graphviz diagram
//! ([`analysis::dot`]), and counts its stages by state.
//!
//! ```
//! use current::incr::Graph;
//! use current::term::{analysis, Executor, Observed, Term};
//!
//! let mut g = Graph::new();
//! let exec = Executor::run(&mut g, || {
//!     let source = Term::labelled("source", 20);
//!     let tests = source.map(|x| x + 1);
//!     let approve = Term::labelled("approve", ());
//!     tests.gate(&approve).map(|x| x * 2)
//! });
//! assert_eq!(exec.observe(&g), Observed::Ok(42));
//! assert_eq!(analysis::pp(exec.term(), &g), "source >> gate (approve)");
//! # Ok::<(), current::incr::Error>(())
//! ```

/// A description of a pipeline stage (OCaml's `component`): the label of a
/// [`bind`](Term::bind) or [`primitive`](Term::primitive), formatted like `format!`.
///
/// ```
/// use current::component;
/// use current::term::Term;
///
/// let target = "x86_64";
/// let built = Term::value(1).bind(component!("build for {target}"), |n| Term::value(n + 1));
/// # let _ = built;
/// ```
#[macro_export]
macro_rules! component {
    ($($arg:tt)*) => {
        ::std::format!($($arg)*)
    };
}

pub mod analysis;
mod bind;
mod collapse;
mod combinators;
mod executor;
mod input;
mod list;
mod node;
mod option;
mod output;
mod stats;

pub use bind::with_context;
pub use executor::Executor;
pub use list::ListMapOptions;
pub use node::Term;
pub use output::{
    pp_output, Active, Error, ErrorKind, Metadata, NodeId, Observed, Outcome, Output,
};
pub use stats::Stats;
