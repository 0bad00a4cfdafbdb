//! Stopping on SIGINT and SIGTERM.

use tokio::signal::unix::{signal, Signal, SignalKind};

/// Listeners for SIGINT and SIGTERM, installed when made: a signal that arrives after
/// [`Signals::new`] is never lost.
pub struct Signals {
    int: Signal,
    term: Signal,
}

impl Signals {
    /// Start listening. Needs a tokio runtime context (e.g. inside `Handle::enter`).
    pub fn new() -> std::io::Result<Signals> {
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    /// Wait for the next SIGINT or SIGTERM; the signal's name.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
        }
    }
}

/// Wait for SIGINT or SIGTERM; the signal's name.
pub async fn shutdown_signal() -> std::io::Result<&'static str> {
    Ok(Signals::new()?.recv().await)
}
