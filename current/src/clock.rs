//! Time, read through an injectable clock so that timeouts, expiry, auto-release and
//! polling can be tested without sleeping.
//!
//! The engine and everything it runs read the time and sleep only through a [`Clock`]:
//! [`SystemClock`] in production, [`ManualClock`] in tests, where time moves only when the
//! test calls [`ManualClock::advance`].
//!
//! ```
//! use std::time::Duration;
//! use current::clock::{Clock, ManualClock};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let clock = ManualClock::new(std::time::UNIX_EPOCH);
//! // The deadline is fixed when the sleep is made: now + 60 s.
//! let sleeper = tokio::spawn(clock.sleep(Duration::from_secs(60)));
//! clock.advance(Duration::from_secs(59));
//! tokio::task::yield_now().await;
//! assert!(!sleeper.is_finished());
//! clock.advance(Duration::from_secs(1));
//! sleeper.await.unwrap();
//! # });
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::sync::oneshot;

/// A future that completes at a point in time.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A source of time.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;

    /// Complete at `deadline` (at once if it has passed).
    fn sleep_until(&self, deadline: SystemTime) -> Sleep;

    /// Complete after `duration`.
    fn sleep(&self, duration: Duration) -> Sleep {
        self.sleep_until(self.now() + duration)
    }
}

/// The system's clock; sleeping uses tokio's timer, so it needs a tokio runtime.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep_until(&self, deadline: SystemTime) -> Sleep {
        let wait = deadline
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock that moves only when told to: for tests.
#[derive(Clone)]
pub struct ManualClock(Arc<Mutex<Manual>>);

struct Manual {
    now: SystemTime,
    sleepers: Vec<(SystemTime, oneshot::Sender<()>)>,
}

impl ManualClock {
    /// A clock stopped at `now`.
    pub fn new(now: SystemTime) -> Self {
        ManualClock(Arc::new(Mutex::new(Manual {
            now,
            sleepers: Vec::new(),
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Manual> {
        // A panic while holding this lock cannot leave it inconsistent: every update is a
        // single assignment or push.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Move time forward by `d`, waking every sleeper whose deadline has come.
    pub fn advance(&self, d: Duration) {
        let now = self.lock().now + d;
        self.set(now);
    }

    /// Set the time (it may go backwards; sleepers wake only when their deadline passes).
    pub fn set(&self, now: SystemTime) {
        let due = {
            let mut m = self.lock();
            m.now = now;
            let (due, waiting): (Vec<_>, Vec<_>) = m
                .sleepers
                .drain(..)
                .partition(|(deadline, _)| *deadline <= now);
            m.sleepers = waiting;
            due
        };
        for (_, wake) in due {
            let _ = wake.send(());
        }
    }

    /// How many sleepers are waiting: lets a test wait until a task has gone to sleep
    /// before it advances the clock.
    pub fn sleepers(&self) -> usize {
        let mut m = self.lock();
        m.sleepers.retain(|(_, tx)| !tx.is_closed());
        m.sleepers.len()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        self.lock().now
    }

    fn sleep_until(&self, deadline: SystemTime) -> Sleep {
        let mut m = self.lock();
        if deadline <= m.now {
            return Box::pin(std::future::ready(()));
        }
        let (tx, rx) = oneshot::channel();
        m.sleepers.push((deadline, tx));
        Box::pin(async move {
            // The sender is dropped only with the clock; then nobody can wake us.
            if rx.await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

/// OCurrent's duration format, used in messages such as `Timeout (2.5 minutes)`: minutes
/// over two minutes, seconds over two seconds, else milliseconds.
pub fn pp_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s > 120.0 {
        format!("{:.1} minutes", s / 60.0)
    } else if s > 2.0 {
        format!("{s:.1} seconds")
    } else {
        format!("{:.0} ms", s * 1000.0)
    }
}

/// `t` as a UTC date and time. Times outside what can be shown (before 1970 or after the
/// year 9999) are clamped to those bounds rather than refused.
pub(crate) fn utc(t: SystemTime) -> time::OffsetDateTime {
    let nanos = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i128::try_from(d.as_nanos()).unwrap_or(i128::MAX),
        Err(_) => 0,
    };
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .unwrap_or_else(|_| time::PrimitiveDateTime::MAX.assume_utc())
}

/// `YYYY-MM-DD HH:MM<sep>SS` in UTC.
fn stamp(t: SystemTime, minute_second: char) -> String {
    let t = utc(t);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}{minute_second}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `YYYY-MM-DD HH:MM.SS` in UTC: the stamp of job log lines (note `MM.SS`, as OCurrent).
pub fn log_stamp(t: SystemTime) -> String {
    stamp(t, '.')
}

/// `YYYY-MM-DD HH:MM:SS` in UTC: how times are shown (OCurrent's database format).
pub fn utc_datetime(t: SystemTime) -> String {
    stamp(t, ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(pp_duration(Duration::from_secs(150)), "2.5 minutes");
        assert_eq!(pp_duration(Duration::from_secs(120)), "120.0 seconds");
        assert_eq!(pp_duration(Duration::from_millis(2500)), "2.5 seconds");
        assert_eq!(pp_duration(Duration::from_millis(1500)), "1500 ms");
    }

    #[test]
    fn stamps() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_644_407_873);
        assert_eq!(log_stamp(t), "2022-02-09 11:57.53");
    }
}
