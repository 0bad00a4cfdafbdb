//! Tests of `current::incr`, one module per topic.

mod basics;
mod deep;
mod differential;
mod errors;
mod memory;
mod separate;

use std::cell::RefCell;
use std::rc::Rc;

/// A shared record of what user functions did, in the order they did it.
#[derive(Clone, Default)]
pub(crate) struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    pub(crate) fn push(&self, event: impl Into<String>) {
        self.0.borrow_mut().push(event.into());
    }

    /// Everything recorded since the last call, emptying the log.
    pub(crate) fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.borrow_mut())
    }
}
