//! `plugins::fs`: a file's contents follow the file; `save` writes only what changed.

use std::sync::atomic::Ordering;
use std::time::Duration;

use current::cache;
use current::engine::{Engine, EngineOptions};
use current::plugins::fs;
use current::term::{ErrorKind, Term};
use current::var::Var;

use crate::store::StateDir;
use crate::support::runtime;

const DEADLINE: Duration = Duration::from_secs(30);

#[test]
fn contents_follow_the_file() {
    let dir = StateDir::new("fs-contents");
    std::fs::create_dir_all(dir.path()).expect("a directory");
    let file = dir.path().join("settings.txt");
    std::fs::write(&file, "one").expect("the file");
    let rt = runtime();
    let engine = Engine::start(
        EngineOptions::new(dir.path().join("state"), rt.handle().clone()),
        {
            let file = file.clone();
            move || fs::contents(&file)
        },
    )
    .expect("the engine starts");
    engine
        .wait_until(|s| s.result == Ok("one".to_string()), DEADLINE)
        .expect("the first contents");
    // An atomic save (a rename over the file) is seen too.
    fs::write_atomically(&file, b"two").expect("a save");
    engine
        .wait_until(|s| s.result == Ok("two".to_string()), DEADLINE)
        .expect("the new contents");
    std::fs::remove_file(&file).expect("removed");
    let snap = engine
        .wait_until(|s| matches!(s.result, Err(ErrorKind::Msg(_))), DEADLINE)
        .expect("a failure");
    let Err(ErrorKind::Msg(msg)) = &snap.result else {
        unreachable!()
    };
    assert!(
        msg.starts_with(&format!("cannot read {}: ", file.display())),
        "{msg}"
    );
    engine.shutdown("done").expect("a clean shutdown");
}

#[test]
fn save_writes_atomically_and_only_when_the_contents_differ() {
    let dir = StateDir::new("fs-save");
    std::fs::create_dir_all(dir.path()).expect("a directory");
    let file = dir.path().join("out.txt");
    std::fs::write(&file, "same").expect("the file");
    let rt = runtime();
    let contents = Var::new("contents", Ok(b"same".to_vec()));
    let engine = Engine::start(
        EngineOptions::new(dir.path().join("state"), rt.handle().clone()),
        {
            let (file, contents) = (file.clone(), contents.clone());
            move || fs::save(&Term::value(file.clone()), &contents.get())
        },
    )
    .expect("the engine starts");
    engine
        .wait_until(|s| s.result == Ok(false), DEADLINE)
        .expect("already up to date");
    contents.set(Ok(b"new".to_vec()));
    engine
        .wait_until(|s| s.result == Ok(true), DEADLINE)
        .expect("written");
    assert_eq!(std::fs::read(&file).expect("the file"), b"new");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("the directory")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary file is left: {leftovers:?}"
    );
    let counters = cache::counters::<fs::save::Op>(engine.context());
    assert_eq!(
        counters.builds.load(Ordering::SeqCst),
        2,
        "one job per value"
    );
    engine.shutdown("done").expect("a clean shutdown");
}

#[test]
fn polling_sees_a_change_where_watching_is_not_possible() {
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    let dir = StateDir::new("fs-poll");
    std::fs::create_dir_all(dir.path()).expect("a directory");
    let file = dir.path().join("polled.txt");
    std::fs::write(&file, "one").expect("the file");
    let rt = runtime();
    let seen = Arc::new(AtomicUsize::new(0));
    let refresh = {
        let seen = seen.clone();
        current::monitor::Refresh::new(move || {
            seen.fetch_add(1, Ordering::SeqCst);
        })
    };
    let unwatch = {
        let _entered = rt.enter();
        current::plugins::watch::poll(
            vec![dir.path().to_path_buf()],
            Duration::from_millis(10),
            refresh,
        )
    };
    // A new file in the directory, and a longer file.
    std::fs::write(dir.path().join("new.txt"), "x").expect("a new file");
    let deadline = std::time::Instant::now() + DEADLINE;
    while seen.load(Ordering::SeqCst) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no refresh after {DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    rt.block_on(unwatch());
}
