//! Two primitives with one id in a binary: the engine refuses to start and names both.

use std::process::Command;

#[test]
fn two_primitives_with_one_id_stop_the_engine_with_both_locations() {
    let out = Command::new(env!("CARGO_BIN_EXE_duplicate_primitives"))
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim(),
        "two primitives have the id \"shared-step\", at tests/src/bin/duplicate_primitives.rs:16 \
         and at tests/src/bin/duplicate_primitives.rs:26; give one of them another name or an \
         `id = \"...\"` option"
    );
}
