//! Self-adjusting computation: OCaml's `Current_incr`, after Acar et al.'s *Adaptive
//! Functional Programming*.
//!
//! A [`Graph`] holds changeable values ([`Changeable`]). Inputs are [`Var`]s; everything
//! else is computed from them by [`Graph::map`] or, more generally, by a computation
//! ([`Cc`]) evaluated with [`Graph::of_cc`], which [`read`](Cc::read)s changeable values
//! and ends in exactly one [`write`](Cc::write). After inputs change,
//! [`Graph::propagate`] re-runs only the reads of values that really changed, earliest
//! first, and discards what a read built last time (running its
//! [`on_release`](Cc::on_release) hooks) before running it again.
//!
//! ```
//! use current::incr::Graph;
//!
//! let mut g = Graph::new();
//! let x = g.var(2);
//! let doubled = g.map(&x.changeable(), |x| x * 2);
//! // Which value to read is itself decided by a read: a dynamic dependency.
//! let flag = g.var(true);
//! let out = g.of_cc(|cc| {
//!     cc.read(&flag.changeable(), move |cc, flag| {
//!         if flag {
//!             cc.read(&doubled, |cc, d| cc.write(format!("doubled: {d}")))
//!         } else {
//!             cc.write("off".to_string())
//!         }
//!     })
//! });
//! assert_eq!(g.observe(&out)?, "doubled: 4");
//!
//! g.change(&x, 5)?;
//! g.propagate()?;
//! assert_eq!(g.observe(&out)?, "doubled: 10");
//!
//! g.change(&flag, false)?;
//! g.propagate()?;
//! assert_eq!(g.observe(&out)?, "off");
//! # Ok::<(), current::incr::Error>(())
//! ```
//!
//! # Semantics
//!
//! - Reads are points on a totally ordered timeline; the work a read does is nested inside
//!   it. A write that changes a value queues its readers; `propagate` takes them earliest
//!   first, so a reader that an earlier re-run discards is never called.
//! - By default every write is a change (OCaml's physical equality). [`Graph::map_eq`],
//!   [`Cc::write_eq`] and [`Graph::change_eq`] take an equality that turns an equal value
//!   into no change at all.
//! - [`Graph::separate`] computes per key of a set: adding keys computes only those,
//!   removing one discards its work.
//! - Changing an input while propagating is an error ([`Error::ChangeDuringPropagate`]),
//!   never a panic, and leaves the graph intact.
//! - Nothing recurses with the size of the graph: a chain of a million reads propagates,
//!   is torn down and dropped on an ordinary thread stack.
//! - Values are cloned out of the graph when read (`A: Clone`); keep large values behind an
//!   `Rc` or `Arc`.

mod cells;
mod graph;
mod separate;
mod timeline;

pub use graph::{Cc, Changeable, Graph, Stats, Var, Written};
pub use timeline::panic_message;

/// Misuse of a [`Graph`], reported instead of a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// OCaml: `Current_incr.change called within propagate!`.
    #[error(
        "incr::Graph::change called within propagate: inputs may only change between propagations"
    )]
    ChangeDuringPropagate,
    /// `propagate` was called from inside a computation (a read's continuation).
    #[error("incr::Graph::propagate called within propagate")]
    PropagateDuringPropagate,
    /// The handle's value was freed (its computation was discarded or disposed).
    #[error("the changeable value was released: its computation was discarded")]
    Released,
    /// The value's computation has not written it yet (it panicked before writing).
    #[error("the changeable value has no value yet: its computation did not write one")]
    NoValue,
    /// `dispose` of a value that something still reads.
    #[error("the changeable value is still read by another computation")]
    InUse,
    /// `dispose` inside a computation or during propagation.
    #[error("dispose is only allowed at the top level, outside propagate")]
    DisposeInsideComputation,
}
