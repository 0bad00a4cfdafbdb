//! Tests: monitor. The life cycle of a monitor, step by step, under a real engine.
//!
//! The monitor's `read` and `watch` (and the unwatch that `watch` returns) are test doubles
//! that record each call in a shared log and then block until the test releases them, so
//! the test can look at every intermediate state: each call is handed to the test over a
//! channel, with the means to answer it.

use std::fmt::Debug;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use current::engine::{Engine, EngineOptions, Snapshot};
use current::incr::Graph;
use current::monitor::{BoxFuture, Monitor, Refresh, Unwatch};
use current::term::{analysis, Active, ErrorKind, Executor, Metadata, Observed, Term};
use current::var::Var;
use tokio::sync::oneshot;

const TIMEOUT: Duration = Duration::from_secs(10);

const RUNNING: Result<i32, ErrorKind> = Err(ErrorKind::Active(Active::Running));

/// The test's answer to a call of a double.
enum Reply {
    /// `read` returns this value; `watch` and `unwatch` succeed.
    Value(i32),
    /// `read` or `watch` fails with this message.
    Fail(&'static str),
    /// `read` panics with this message.
    Panic(&'static str),
}

/// A call of a double, blocked until the test answers it.
struct Call {
    name: &'static str,
    reply: oneshot::Sender<Reply>,
}

impl Call {
    fn answer(self, reply: Reply) {
        // The monitor may have been dropped meanwhile: nobody waits for the answer then.
        let _ = self.reply.send(reply);
    }

    fn done(self) {
        self.answer(Reply::Value(0));
    }
}

/// The doubles of one monitor and what they record.
#[derive(Clone)]
struct Doubles(Arc<Shared>);

struct Shared {
    log: Mutex<Vec<&'static str>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    refresh: Mutex<Option<Refresh>>,
    calls: Mutex<mpsc::Sender<Call>>,
}

/// Counts a call as under way until dropped (when its future ends, or unwinds).
struct InFlight(Doubles);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0 .0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Doubles {
    fn new() -> (Doubles, mpsc::Receiver<Call>) {
        let (tx, rx) = mpsc::channel();
        let doubles = Doubles(Arc::new(Shared {
            log: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            refresh: Mutex::new(None),
            calls: Mutex::new(tx),
        }));
        (doubles, rx)
    }

    fn monitor(&self, name: &str) -> Monitor<i32> {
        let (r, w) = (self.clone(), self.clone());
        Monitor::new(name, move || r.read(), move |refresh| w.watch(refresh))
    }

    /// Record a call and hand it to the test.
    fn begin(&self, name: &'static str) -> (InFlight, oneshot::Receiver<Reply>) {
        self.0.log.lock().unwrap().push(name);
        let now = self.0.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.0.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let (reply, answer) = oneshot::channel();
        // The test may be over: then the answer never comes and the call fails.
        let _ = self.0.calls.lock().unwrap().send(Call { name, reply });
        (InFlight(self.clone()), answer)
    }

    fn read(&self) -> impl Future<Output = Result<i32, String>> + Send + 'static {
        let (in_flight, answer) = self.begin("read");
        async move {
            let _in_flight = in_flight;
            match answer.await {
                Ok(Reply::Value(v)) => Ok(v),
                Ok(Reply::Fail(msg)) => Err(msg.to_string()),
                Ok(Reply::Panic(msg)) => panic!("{msg}"),
                Err(_) => Err("the test is over".to_string()),
            }
        }
    }

    fn watch(
        &self,
        refresh: Refresh,
    ) -> impl Future<Output = Result<Unwatch, String>> + Send + 'static {
        *self.0.refresh.lock().unwrap() = Some(refresh);
        let (in_flight, answer) = self.begin("watch");
        let doubles = self.clone();
        async move {
            let _in_flight = in_flight;
            match answer.await {
                Ok(Reply::Fail(msg)) => Err(msg.to_string()),
                Ok(Reply::Panic(msg)) => panic!("{msg}"),
                Ok(Reply::Value(_)) => Ok(doubles.unwatch()),
                Err(_) => Err("the test is over".to_string()),
            }
        }
    }

    fn unwatch(&self) -> Unwatch {
        let doubles = self.clone();
        Box::new(move || {
            let (in_flight, answer) = doubles.begin("unwatch");
            Box::pin(async move {
                let _in_flight = in_flight;
                let _ = answer.await;
            })
        })
    }

    /// Call the `Refresh` handed to the latest watch.
    fn refresh(&self) {
        let refresh = self.0.refresh.lock().unwrap().clone();
        refresh.expect("no watch was installed").refresh();
    }

    fn log(&self) -> Vec<&'static str> {
        self.0.log.lock().unwrap().clone()
    }

    fn max_in_flight(&self) -> usize {
        self.0.max_in_flight.load(Ordering::SeqCst)
    }
}

/// An engine running a pipeline over one monitor made of doubles.
struct Fixture<T: Clone + Debug + Send + Sync + 'static> {
    engine: Option<Engine<T>>,
    calls: mpsc::Receiver<Call>,
    doubles: Doubles,
    monitor: Monitor<i32>,
    dir: PathBuf,
    // Last: the engine stops before its runtime goes.
    rt: tokio::runtime::Runtime,
}

impl<T: Clone + Debug + Send + Sync + 'static> Fixture<T> {
    /// Start an engine whose pipeline `pipeline` makes from the monitor.
    fn start(
        name: &str,
        pipeline: impl FnOnce(Monitor<i32>) -> Term<T> + Send + 'static,
    ) -> Fixture<T> {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let dir = std::env::temp_dir().join(format!(
            "current-it-monitor-{}-{name}-{}",
            std::process::id(),
            unique_suffix()
        ));
        let (doubles, calls) = Doubles::new();
        let monitor = doubles.monitor("monitored");
        let engine = {
            let monitor = monitor.clone();
            Engine::start(EngineOptions::new(&dir, rt.handle().clone()), move || {
                pipeline(monitor)
            })
            .unwrap()
        };
        Fixture {
            engine: Some(engine),
            calls,
            doubles,
            monitor,
            dir,
            rt,
        }
    }

    fn engine(&self) -> &Engine<T> {
        self.engine.as_ref().unwrap()
    }

    /// The next call of a double, which must be of `name`.
    fn expect(&self, name: &str) -> Call {
        match self.calls.recv_timeout(TIMEOUT) {
            Ok(call) if call.name == name => call,
            Ok(call) => panic!(
                "expected a call of {name}, got one of {}; calls so far: {:?}; last snapshot: {:?}",
                call.name,
                self.doubles.log(),
                self.engine().snapshot()
            ),
            Err(_) => panic!(
                "no call of {name} within {TIMEOUT:?}; calls so far: {:?}; last snapshot: {:?}",
                self.doubles.log(),
                self.engine().snapshot()
            ),
        }
    }

    /// Wait for a snapshot satisfying `done` (the engine's own polling, with a deadline).
    fn wait(&self, what: &str, done: impl FnMut(&Snapshot<T>) -> bool + Send) -> Snapshot<T> {
        self.engine().wait_until(done, TIMEOUT).unwrap_or_else(|e| {
            panic!(
                "waiting for {what}: {e}; calls so far: {:?}",
                self.doubles.log()
            )
        })
    }

    /// Wait until the pipeline has been evaluated and shows `result`.
    fn wait_result(&self, result: Result<T, ErrorKind>) -> Snapshot<T>
    where
        T: PartialEq,
    {
        let what = format!("the result {result:?}");
        self.wait(&what, move |s| s.step >= 1 && s.result == result)
    }

    /// Poll what `probe` finds on the engine's thread until `ok` holds, with a deadline.
    fn poll_engine<R: Debug + Send + 'static>(
        &self,
        what: &str,
        probe: impl Fn(&Graph, &Term<T>) -> R + Send + Sync + 'static,
        ok: impl Fn(&R) -> bool,
    ) -> R {
        let probe = Arc::new(probe);
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let p = probe.clone();
            let found = self.engine().inspect(move |g, t| p(g, t)).unwrap();
            if ok(&found) {
                return found;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; last found: {found:?}; calls so far: {:?}",
                    self.doubles.log()
                );
            }
            // Each probe is a round trip through the engine's thread: no need to sleep.
        }
    }

    /// Wait until the runtime runs no task any more: the monitor's driver has stopped.
    /// (The engine itself keeps no task alive when no auto-release is configured.)
    fn wait_driver_stopped(&self) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let alive = self.rt.metrics().num_alive_tasks();
            if alive == 0 {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{alive} tasks still alive after {TIMEOUT:?}: the monitor's driver did not stop; calls so far: {:?}",
                    self.doubles.log()
                );
            }
            std::thread::yield_now();
        }
    }

    fn assert_log(&self, expected: &[&str]) {
        assert_eq!(self.doubles.log(), expected, "the calls of the doubles");
        assert_eq!(
            self.doubles.max_in_flight(),
            1,
            "only one of watch, read and unwatch runs at a time"
        );
    }
}

impl<T: Clone + Debug + Send + Sync + 'static> Drop for Fixture<T> {
    fn drop(&mut self) {
        if let Some(engine) = self.engine.take() {
            let _ = engine.shutdown("test over");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn unique_suffix() -> String {
    use std::sync::atomic::AtomicU64;
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed).to_string()
}

/// The monitor's metadata (its `update` field draws the gradient).
fn metadata(g: &Graph, t: &Term<i32>) -> Option<Metadata> {
    analysis::metadata(t, g).expect("the root is the monitor's primitive")
}

fn updating(m: &Option<Metadata>) -> Option<Active> {
    m.as_ref().and_then(|m| m.update)
}

/// A pipeline over a switch: the monitor while `on` is true, the constant -1 otherwise.
fn switched(on: &Var<bool>) -> impl FnOnce(Monitor<i32>) -> Term<i32> + Send + 'static {
    let on = on.clone();
    move |monitor| {
        on.get().bind("select", move |use_it| {
            if use_it {
                monitor.get()
            } else {
                Term::value(-1)
            }
        })
    }
}

#[test]
fn outside_an_engine_a_monitor_is_ready_and_never_watched() {
    let (doubles, _calls) = Doubles::new();
    let monitor = doubles.monitor("monitored");
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || monitor.get());
    assert_eq!(exec.observe(&g), Observed::Active(Active::Ready));
    assert_eq!(monitor.users(), 0);
    assert_eq!(doubles.log(), Vec::<&str>::new());
    assert_eq!(monitor.name(), "monitored");
}

#[test]
fn first_use_watches_then_reads_and_shows_running_until_the_value() {
    let f = Fixture::start("first-use", |m| m.get());
    let watch = f.expect("watch");
    f.wait_result(RUNNING);
    assert_eq!(f.monitor.users(), 1);
    watch.done();

    let read = f.expect("read");
    f.wait_result(RUNNING);
    read.answer(Reply::Value(1));
    f.wait_result(Ok(1));
    f.assert_log(&["watch", "read"]);
}

#[test]
fn a_refresh_reads_again() {
    let f = Fixture::start("refresh", |m| m.get());
    f.expect("watch").done();
    f.expect("read").answer(Reply::Value(1));
    f.wait_result(Ok(1));

    f.doubles.refresh();
    let read = f.expect("read");
    // The previous value stays shown while the new one is read.
    f.wait_result(Ok(1));
    read.answer(Reply::Value(2));
    f.wait_result(Ok(2));
    f.assert_log(&["watch", "read", "read"]);
}

#[test]
fn refreshes_during_a_read_coalesce_into_one_more_read() {
    let on = Var::new("on", Ok(true));
    let f = Fixture::start("coalesce", switched(&on));
    f.expect("watch").done();
    f.expect("read").answer(Reply::Value(1));
    f.wait_result(Ok(1));

    f.doubles.refresh();
    let read = f.expect("read");
    for _ in 0..3 {
        f.doubles.refresh();
    }
    read.answer(Reply::Value(2));
    // Exactly one more read for the three refreshes.
    f.expect("read").answer(Reply::Value(3));
    f.wait_result(Ok(3));
    // Nothing else was pending: the next call is the unwatch when the monitor is dropped.
    on.set(Ok(false));
    f.wait_result(Ok(-1));
    f.expect("unwatch").done();
    f.assert_log(&["watch", "read", "read", "read", "unwatch"]);
}

#[test]
fn a_refresh_during_the_watch_is_covered_by_the_first_read() {
    let on = Var::new("on", Ok(true));
    let f = Fixture::start("refresh-in-watch", switched(&on));
    let watch = f.expect("watch");
    f.doubles.refresh();
    watch.done();
    f.expect("read").answer(Reply::Value(1));
    f.wait_result(Ok(1));
    on.set(Ok(false));
    f.wait_result(Ok(-1));
    f.expect("unwatch").done();
    f.assert_log(&["watch", "read", "unwatch"]);
}

#[test]
fn while_reading_again_the_monitor_shows_the_running_gradient() {
    let f = Fixture::start("gradient", |m| m.get());
    f.expect("watch").done();
    let read = f.expect("read");
    f.poll_engine("the first read to show as updating", metadata, |m| {
        updating(m) == Some(Active::Running)
    });
    read.answer(Reply::Value(1));
    f.wait_result(Ok(1));
    f.poll_engine("the update mark to go", metadata, |m| updating(m).is_none());
    let dot = f.engine().inspect(|g, t| analysis::dot(t, g)).unwrap();
    assert!(
        !dot.contains("#ffa500:"),
        "no gradient once the value is read:\n{dot}"
    );

    f.doubles.refresh();
    let read = f.expect("read");
    let meta = f.poll_engine("the re-read to show as updating", metadata, |m| {
        updating(m) == Some(Active::Running)
    });
    assert_eq!(meta.unwrap().job_id, None);
    assert_eq!(
        f.engine().snapshot().result,
        Ok(1),
        "the old value stays shown"
    );
    let dot = f.engine().inspect(|g, t| analysis::dot(t, g)).unwrap();
    assert!(
        dot.contains("fillcolor=\"#ffa500:#90ee90\""),
        "the monitor is drawn green with the running gradient:\n{dot}"
    );

    read.answer(Reply::Value(2));
    f.wait_result(Ok(2));
    f.poll_engine("the update mark to go", metadata, |m| updating(m).is_none());
}

#[test]
fn a_read_error_is_the_failure_message() {
    let f = Fixture::start("read-error", |m| m.get());
    f.expect("watch").done();
    f.expect("read")
        .answer(Reply::Fail("cannot read the thing"));
    let s = f.wait_result(Err(ErrorKind::msg("cannot read the thing")));
    assert_eq!(s.stats.failed, 1, "the monitor itself failed: {s:?}");

    // A later read recovers.
    f.doubles.refresh();
    f.expect("read").answer(Reply::Value(2));
    f.wait_result(Ok(2));
    f.assert_log(&["watch", "read", "read"]);
}

#[test]
fn a_read_error_is_the_monitors_own_failure_and_blocks_what_follows() {
    let f = Fixture::start("read-error-blocks", |m| m.get().map(|x| x + 1));
    f.expect("watch").done();
    f.expect("read").answer(Reply::Fail("boom"));
    let s = f.wait_result(Err(ErrorKind::msg("boom")));
    assert_eq!(s.stats.failed, 1, "{s:?}");
}

#[test]
fn a_panic_in_read_is_a_failure_with_the_panic_message() {
    let f = Fixture::start("read-panic", |m| m.get());
    f.expect("watch").done();
    f.expect("read").answer(Reply::Panic("read exploded"));
    f.wait_result(Err(ErrorKind::msg("read exploded")));

    // The monitor survives the panic.
    f.doubles.refresh();
    f.expect("read").answer(Reply::Value(3));
    f.wait_result(Ok(3));
    f.assert_log(&["watch", "read", "read"]);
}

#[test]
fn a_monitor_no_longer_needed_is_unwatched() {
    let on = Var::new("on", Ok(true));
    let f = Fixture::start("unwatch", switched(&on));
    f.expect("watch").done();
    f.expect("read").answer(Reply::Value(1));
    f.wait_result(Ok(1));

    on.set(Ok(false));
    f.wait_result(Ok(-1));
    assert_eq!(f.monitor.users(), 0);
    f.expect("unwatch").done();
    f.wait_driver_stopped();
    f.assert_log(&["watch", "read", "unwatch"]);
}

#[test]
fn a_step_replaced_in_the_same_evaluation_keeps_the_watch() {
    let n = Var::new("n", Ok(1));
    // The monitor's users as each new step is made, inside the propagation.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let f = Fixture::start("replaced", {
        let (n, seen) = (n.clone(), seen.clone());
        move |monitor| {
            n.get().bind("offset", move |n| {
                seen.lock().unwrap().push(monitor.users());
                monitor.get().map(move |v| v * 10 + n)
            })
        }
    });
    f.expect("watch").done();
    f.expect("read").answer(Reply::Value(5));
    f.wait_result(Ok(51));

    // The old step is released only after the propagation that made the new one: the
    // count never drops to 0, and the new step shows the current value at once.
    n.set(Ok(2));
    f.wait_result(Ok(52));
    assert_eq!(
        *seen.lock().unwrap(),
        [0, 1],
        "the old step still counts while the new one is made"
    );
    assert_eq!(f.monitor.users(), 1);
    f.doubles.refresh();
    f.expect("read").answer(Reply::Value(6));
    f.wait_result(Ok(62));
    f.assert_log(&["watch", "read", "read"]);
}

#[test]
fn needed_again_during_the_unwatch_it_watches_again_after_it() {
    let on = Var::new("on", Ok(true));
    let f = Fixture::start("rewatch", switched(&on));
    f.expect("watch").done();
    f.expect("read").answer(Reply::Value(1));
    f.wait_result(Ok(1));

    on.set(Ok(false));
    f.wait_result(Ok(-1));
    let unwatch = f.expect("unwatch");
    on.set(Ok(true));
    f.wait("the monitor to be used again", |s| s.result != Ok(-1));
    assert_eq!(f.monitor.users(), 1);
    // The watch waits for the unwatch to finish (the in-flight count would show it).
    unwatch.done();
    f.expect("watch").done();
    f.expect("read").answer(Reply::Value(2));
    f.wait_result(Ok(2));
    f.assert_log(&["watch", "read", "unwatch", "watch", "read"]);
}

#[test]
fn after_a_full_stop_the_first_value_shown_is_running_not_the_stale_one() {
    let on = Var::new("on", Ok(true));
    let f = Fixture::start("restart", switched(&on));
    f.expect("watch").done();
    f.expect("read").answer(Reply::Value(7));
    f.wait_result(Ok(7));

    on.set(Ok(false));
    f.wait_result(Ok(-1));
    f.expect("unwatch").done();
    f.wait_driver_stopped();

    on.set(Ok(true));
    let watch = f.expect("watch");
    // Nothing can change until the watch is released: this is the first value shown.
    let s = f.wait("the monitor to be used again", |s| s.result != Ok(-1));
    assert_eq!(s.result, RUNNING, "no stale value after a full stop");
    watch.done();
    let read = f.expect("read");
    f.wait_result(RUNNING);
    read.answer(Reply::Value(8));
    f.wait_result(Ok(8));
    f.assert_log(&["watch", "read", "unwatch", "watch", "read"]);
}

#[test]
fn two_steps_using_one_monitor_share_one_watch() {
    let on = Var::new("on", Ok(true));
    let f = Fixture::start("shared", {
        let on = on.clone();
        move |monitor| {
            let a = monitor.get();
            let b = on.get().bind("second", move |use_it| {
                if use_it {
                    monitor.get().map(|x| x * 2)
                } else {
                    Term::value(-1)
                }
            });
            a.pair(&b)
        }
    });
    f.expect("watch").done();
    f.expect("read").answer(Reply::Value(3));
    f.wait_result(Ok((3, 6)));
    assert_eq!(f.monitor.users(), 2);

    // One refresh, one read, for both.
    f.doubles.refresh();
    f.expect("read").answer(Reply::Value(4));
    f.wait_result(Ok((4, 8)));

    // One user left: still watched.
    on.set(Ok(false));
    f.wait_result(Ok((4, -1)));
    assert_eq!(f.monitor.users(), 1);
    f.doubles.refresh();
    f.expect("read").answer(Reply::Value(5));
    f.wait_result(Ok((5, -1)));
    f.assert_log(&["watch", "read", "read", "read"]);
}

/// What the monitor does today when its watch fails: it logs a warning and reads all the
/// same (so the value is never refreshed); when no longer needed there is nothing to
/// unwatch.
#[test]
fn a_failed_watch_has_nothing_to_unwatch() {
    let on = Var::new("on", Ok(true));
    let f = Fixture::start("watch-error", switched(&on));
    f.expect("watch").answer(Reply::Fail("cannot watch"));
    f.expect("read").answer(Reply::Value(1));
    f.wait_result(Ok(1));
    on.set(Ok(false));
    f.wait_result(Ok(-1));
    f.wait_driver_stopped();
    f.assert_log(&["watch", "read"]);
}

/// A read whose closure panics before it even makes its future (`|| { check(); async {..} }`)
/// is a panic in read all the same.
#[test]
fn a_panic_in_the_read_closure_is_a_failure_too() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = std::env::temp_dir().join(format!(
        "current-it-monitor-{}-sync-panic",
        std::process::id()
    ));
    let monitor: Monitor<i32> = Monitor::new(
        "sync-panic",
        || -> std::future::Ready<Result<i32, String>> { panic!("read exploded early") },
        |_refresh| async {
            let unwatch: Unwatch = Box::new(|| -> BoxFuture<()> { Box::pin(async {}) });
            Ok(unwatch)
        },
    );
    let engine = Engine::start(EngineOptions::new(&dir, rt.handle().clone()), {
        let monitor = monitor.clone();
        move || monitor.get()
    })
    .unwrap();
    let result = engine.wait_until(
        |s| s.result == Err(ErrorKind::msg("read exploded early")),
        TIMEOUT,
    );
    let _ = engine.shutdown("test over");
    let _ = std::fs::remove_dir_all(&dir);
    result.unwrap();
}

/// Shutting an engine down lets go of what its pipeline used: a monitor is unwatched.
#[test]
fn shutting_the_engine_down_unwatches_its_monitors() {
    let mut f = Fixture::start("shutdown", |m| m.get());
    f.expect("watch").done();
    f.expect("read").answer(Reply::Value(1));
    f.wait_result(Ok(1));
    f.engine.take().unwrap().shutdown("test over").unwrap();
    let unwatch = f.calls.recv_timeout(TIMEOUT);
    assert_eq!(f.monitor.users(), 0, "calls so far: {:?}", f.doubles.log());
    assert_eq!(unwatch.map(|c| c.name).ok(), Some("unwatch"));
}
