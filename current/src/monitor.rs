//! Watched external state (OCaml's `Current.Monitor`): a value read from the outside world
//! and read again whenever a watch says it changed.
//!
//! A monitor is started when a pipeline first needs it and stopped when none does:
//!
//! 1. the first time it is needed, it installs its watch (`watch(refresh)`, which returns
//!    how to remove it), then reads the value;
//! 2. each `refresh` marks the value out of date and it is read again; refreshes that come
//!    while a read is under way are coalesced into one more read;
//! 3. when no pipeline needs it any more (counted after each propagation, so a step that is
//!    replaced in the same evaluation keeps it running), the watch is removed; if it is
//!    needed again meanwhile, it is watched again once the removal is done;
//! 4. after a full stop its value is forgotten (`Running` again): nothing stale is served.
//!
//! Only one of watch, read and unwatch runs at a time. While a read is under way the node
//! is drawn with the running gradient; a failed read (or a panic in it) becomes a failure.

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tokio::sync::Notify;

use crate::context::Context;
use crate::incr::panic_message;
use crate::subscribers::{Shown, Subscribers};
use crate::term::{Active, ErrorKind, Metadata, Outcome, Term};

/// A boxed future, as the functions of a monitor return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// How to remove a watch.
pub type Unwatch = Box<dyn FnOnce() -> BoxFuture<()> + Send>;

type ReadFn<T> = Arc<dyn Fn() -> BoxFuture<Result<T, String>> + Send + Sync>;
type WatchFn = Arc<dyn Fn(Refresh) -> BoxFuture<Result<Unwatch, String>> + Send + Sync>;

/// Given to a monitor's watch: call [`Refresh::refresh`] when the value may have changed.
#[derive(Clone)]
pub struct Refresh(Arc<dyn Fn() + Send + Sync>);

impl Refresh {
    /// A refresh that calls `f`: to drive a watch outside a monitor (in a test, say).
    pub fn new(f: impl Fn() + Send + Sync + 'static) -> Refresh {
        Refresh(Arc::new(f))
    }

    /// The value is out of date: read it again.
    pub fn refresh(&self) {
        (self.0)()
    }
}

/// A monitor of a `T`. Cloning shares it.
pub struct Monitor<T>(Arc<Inner<T>>);

impl<T> Clone for Monitor<T> {
    fn clone(&self) -> Self {
        Monitor(self.0.clone())
    }
}

struct Inner<T> {
    name: String,
    read: ReadFn<T>,
    watch: WatchFn,
    wake: Notify,
    state: Mutex<State<T>>,
}

struct State<T> {
    /// Pipelines using the monitor now.
    users: usize,
    need_refresh: bool,
    /// The watch is installed (its removal is held here until it is removed).
    watched: bool,
    unwatch: Option<Unwatch>,
    /// The task that performs watch, read and unwatch, one at a time, is alive.
    driving: bool,
    reading: bool,
    value: Outcome<T>,
    readers: Subscribers<T>,
}

/// What the driver does next.
enum Action {
    Again,
    Watch,
    Read,
    Unwatch(Unwatch),
    Wait,
    Stop,
}

impl<T: Clone + Send + 'static> Monitor<T> {
    /// A monitor named `name` (its label in diagrams): `read` fetches the value, `watch`
    /// installs a watch that calls the given [`Refresh`] on changes and returns how to
    /// remove it.
    pub fn new<R, RF, W, WF>(name: impl Into<String>, read: R, watch: W) -> Monitor<T>
    where
        R: Fn() -> RF + Send + Sync + 'static,
        RF: Future<Output = Result<T, String>> + Send + 'static,
        W: Fn(Refresh) -> WF + Send + Sync + 'static,
        WF: Future<Output = Result<Unwatch, String>> + Send + 'static,
    {
        Monitor(Arc::new(Inner {
            name: name.into(),
            read: Arc::new(move || Box::pin(read())),
            watch: Arc::new(move |refresh| Box::pin(watch(refresh))),
            wake: Notify::new(),
            state: Mutex::new(State {
                users: 0,
                need_refresh: false,
                watched: false,
                unwatch: None,
                driving: false,
                reading: false,
                value: Err(ErrorKind::Active(Active::Running)),
                readers: Subscribers::new(),
            }),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        lock(&self.0)
    }

    /// The monitor's name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// How many pipeline steps use the monitor now.
    pub fn users(&self) -> usize {
        self.lock().users
    }

    /// The monitored value as a term of a pipeline, drawn as a box labelled with the
    /// monitor's name.
    #[track_caller]
    pub fn get(&self) -> Term<T> {
        let location = Location::caller();
        let monitor = self.clone();
        Term::<()>::constant_at(location, None, Ok(()), false).primitive_at(
            location,
            self.0.name.clone(),
            move |g, ()| {
                let Some(ctx) = Context::current() else {
                    return g.constant((Err(ErrorKind::Active(Active::Ready)), None));
                };
                let mut state = monitor.lock();
                let cell = g.var(shown(&state));
                let id = state.readers.add(ctx.clone(), cell);
                state.users += 1;
                let start = !state.driving;
                state.driving = true;
                drop(state);
                if start {
                    ctx.runtime().spawn(drive(monitor.clone()));
                } else {
                    monitor.0.wake.notify_one();
                }
                let (monitor, release_ctx) = (monitor.clone(), ctx);
                g.on_release(move || {
                    release_ctx.after_propagation(move || {
                        let mut state = monitor.lock();
                        state.users = state.users.saturating_sub(1);
                        state.readers.remove(id);
                        drop(state);
                        monitor.0.wake.notify_one();
                    });
                });
                cell.changeable()
            },
            None,
            None,
        )
    }

    fn refresh_handle(&self) -> Refresh {
        let weak: Weak<Inner<T>> = Arc::downgrade(&self.0);
        Refresh(Arc::new(move || {
            if let Some(inner) = weak.upgrade() {
                lock(&inner).need_refresh = true;
                inner.wake.notify_one();
            }
        }))
    }

    /// Send the current value to every pipeline using the monitor.
    fn publish(&self, state: &State<T>) {
        state.readers.send(&shown(state));
    }
}

fn lock<T>(inner: &Inner<T>) -> MutexGuard<'_, State<T>> {
    // Every update of the state is a few assignments made under the lock.
    inner.state.lock().unwrap_or_else(|e| e.into_inner())
}

/// The value with its metadata: the running gradient while a read is under way.
fn shown<T: Clone>(state: &State<T>) -> Shown<T> {
    let meta = state.reading.then_some(Metadata {
        job_id: None,
        update: Some(Active::Running),
    });
    (state.value.clone(), meta)
}

/// Watch, read and unwatch, one at a time, until nobody needs the monitor.
async fn drive<T: Clone + Send + 'static>(m: Monitor<T>) {
    loop {
        let wait = m.0.wake.notified();
        let action = {
            let mut state = m.lock();
            if state.users == 0 {
                match state.unwatch.take() {
                    Some(unwatch) => Action::Unwatch(unwatch),
                    // The watch could not be installed: nothing to remove.
                    None if state.watched => {
                        state.watched = false;
                        state.value = Err(ErrorKind::Active(Active::Running));
                        Action::Again
                    }
                    None => {
                        state.driving = false;
                        Action::Stop
                    }
                }
            } else if !state.watched {
                Action::Watch
            } else if state.need_refresh {
                state.need_refresh = false;
                state.reading = true;
                m.publish(&state);
                Action::Read
            } else {
                Action::Wait
            }
        };
        match action {
            Action::Stop => return,
            Action::Again => {}
            Action::Wait => wait.await,
            Action::Watch => {
                let (watch, refresh) = (m.0.watch.clone(), m.refresh_handle());
                let installed = isolated(async move { watch(refresh).await }).await;
                let mut state = m.lock();
                state.watched = true;
                state.need_refresh = true;
                match installed {
                    Ok(unwatch) => state.unwatch = Some(unwatch),
                    Err(e) => {
                        tracing::warn!("monitor {}: cannot watch: {e}", m.0.name);
                    }
                }
            }
            Action::Read => {
                let read = m.0.read.clone();
                let value = isolated(async move { read().await })
                    .await
                    .map_err(ErrorKind::msg);
                let mut state = m.lock();
                state.value = value;
                state.reading = false;
                m.publish(&state);
            }
            Action::Unwatch(unwatch) => {
                let removed = isolated(async move {
                    unwatch().await;
                    Ok(())
                });
                if let Err(e) = removed.await {
                    tracing::warn!("monitor {}: unwatch failed: {e}", m.0.name);
                }
                let mut state = m.lock();
                state.watched = false;
                // No stale value after a full stop.
                state.value = Err(ErrorKind::Active(Active::Running));
                m.publish(&state);
            }
        }
    }
}

/// Run `f` as a task of its own, so that a panic anywhere in it (even before its first
/// await) is an error rather than the end of the monitor's driver.
async fn isolated<T: Send + 'static>(
    f: impl Future<Output = Result<T, String>> + Send + 'static,
) -> Result<T, String> {
    match tokio::spawn(f).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => Err(panic_message(e.into_panic().as_ref())),
        Err(e) => Err(e.to_string()),
    }
}
