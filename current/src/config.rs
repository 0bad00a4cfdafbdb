//! The engine's settings that users change while it runs: the confirmation threshold.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::clock::{pp_duration, Clock};
use crate::level::Level;

/// The confirmation threshold: jobs whose level is at or above it wait for a user to
/// confirm them. Cloning shares it; changing it wakes every waiting job.
///
/// ```
/// use current::{Config, Level};
///
/// let config = Config::new(Some(Level::Average));
/// assert!(config.needs_confirmation(Level::Dangerous));
/// assert!(!config.needs_confirmation(Level::Harmless));
/// config.set_confirm(None);
/// assert!(!config.needs_confirmation(Level::Dangerous));
/// ```
#[derive(Clone)]
pub struct Config(Arc<Inner>);

struct Inner {
    confirm: watch::Sender<Option<Level>>,
    auto_release: Option<Duration>,
    changed_by_user: AtomicBool,
}

impl Config {
    /// A configuration with the threshold `confirm` (`None`: nothing needs confirmation).
    pub fn new(confirm: Option<Level>) -> Config {
        Config::with_auto_release(confirm, None)
    }

    /// A configuration whose threshold is cleared after `auto_release`, unless a user has
    /// changed it before then (a slow start: dangerous jobs wait only while the service is
    /// young). The period starts when an engine starts with this configuration.
    pub fn with_auto_release(confirm: Option<Level>, auto_release: Option<Duration>) -> Config {
        Config(Arc::new(Inner {
            confirm: watch::Sender::new(confirm),
            auto_release,
            changed_by_user: AtomicBool::new(false),
        }))
    }

    /// The current threshold.
    pub fn confirm(&self) -> Option<Level> {
        *self.0.confirm.borrow()
    }

    /// Whether a job of `level` must wait for confirmation now.
    pub fn needs_confirmation(&self, level: Level) -> bool {
        self.confirm().is_some_and(|threshold| level >= threshold)
    }

    /// Change the threshold (a user's action: it also stops the auto-release), logging it
    /// and waking jobs waiting for confirmation.
    pub fn set_confirm(&self, level: Option<Level>) {
        self.0.changed_by_user.store(true, Ordering::SeqCst);
        self.set(level);
    }

    fn set(&self, level: Option<Level>) {
        match level {
            Some(l) => tracing::info!("Confirmation threshold is now {l}"),
            None => tracing::info!("Confirmation threshold is now disabled"),
        }
        self.0.confirm.send_replace(level);
    }

    /// Watch the threshold.
    pub fn subscribe(&self) -> watch::Receiver<Option<Level>> {
        self.0.confirm.subscribe()
    }

    /// The auto-release period, if any.
    pub fn auto_release(&self) -> Option<Duration> {
        self.0.auto_release
    }

    /// Run the auto-release: after the period, clear the threshold unless a user has set it.
    /// Returns at once if there is no period.
    pub async fn run_auto_release(&self, clock: &dyn Clock) {
        let Some(period) = self.0.auto_release else {
            return;
        };
        tracing::info!(
            "Confirmation threshold will be removed in {} unless changed",
            pp_duration(period)
        );
        clock.sleep(period).await;
        if !self.0.changed_by_user.load(Ordering::SeqCst) {
            tracing::info!("Slow start period over; removing limiter");
            self.set(None);
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("confirm", &self.confirm())
            .field("auto_release", &self.0.auto_release)
            .finish()
    }
}
