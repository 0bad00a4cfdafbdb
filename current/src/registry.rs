//! The registry of the primitives in a binary: every `#[primitive]` registers its
//! operation's id and where it was written, so that two primitives that would share
//! stored results are reported when an engine starts, with both source locations.
//!
//! Hand-written operations can register too, with [`inventory::submit!`]:
//!
//! ```
//! use current::registry::{self, Registration};
//!
//! current::inventory::submit! {
//!     Registration { id: "my-crate::compile", file: file!(), line: line!() }
//! }
//!
//! assert!(registry::registered().any(|r| r.id == "my-crate::compile"));
//! registry::check_unique()?;
//! # Ok::<(), current::registry::DuplicatePrimitive>(())
//! ```

use std::collections::BTreeMap;

/// One operation of the binary: its stored id and where it was defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Registration {
    /// The operation's id ([`Operation::ID`](crate::cache::Operation::ID)).
    pub id: &'static str,
    /// The source file that defines it.
    pub file: &'static str,
    /// The line of its definition.
    pub line: u32,
}

inventory::collect!(Registration);

/// Every registered operation of this binary, in no particular order.
pub fn registered() -> impl Iterator<Item = &'static Registration> {
    inventory::iter::<Registration>.into_iter()
}

/// Two operations with the same id: their results would be mixed up in the store.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("two primitives have the id {id:?}, at {first} and at {second}; give one of them another name or an `id = \"...\"` option")]
pub struct DuplicatePrimitive {
    /// The shared id.
    pub id: &'static str,
    /// Where the first was defined (`file:line`).
    pub first: String,
    /// Where the second was defined.
    pub second: String,
}

/// Check that no two registered operations share an id. The engine does this when it
/// starts. Of several clashes, the one with the smallest id is reported, its locations in
/// order, so that the message is the same at every run.
pub fn check_unique() -> Result<(), DuplicatePrimitive> {
    let mut by_id: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for r in registered() {
        by_id
            .entry(r.id)
            .or_default()
            .push(format!("{}:{}", r.file, r.line));
    }
    for (id, mut places) in by_id {
        if places.len() > 1 {
            places.sort();
            let second = places.swap_remove(1);
            let first = places.swap_remove(0);
            return Err(DuplicatePrimitive { id, first, second });
        }
    }
    Ok(())
}
