//! The UI tests of `#[primitive]` and `pipeline!`, run by trybuild: every file in
//! `tests/ui/fail` must fail to compile with exactly the errors in its `.stderr` file, and
//! every file in `tests/ui/pass` must compile and run.
//!
//! The errors rustc prints change between compiler versions, so the `.stderr` files are
//! written for one: stable 1.95, the toolchain of CI. On any other compiler both tests say
//! so and return. After a change to the macros, regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test -p tests --test macros` and read each one.

/// Whether this is the compiler the `.stderr` files were written for.
#[rustversion::stable(1.95)]
const PINNED: bool = true;
#[rustversion::not(stable(1.95))]
const PINNED: bool = false;

/// True if the UI tests can run here; otherwise says why not.
fn on_pinned_compiler(test: &str) -> bool {
    if !PINNED {
        println!(
            "skipping {test}: the expected compiler errors are written for stable rustc 1.95, and this is another compiler"
        );
    }
    PINNED
}

#[test]
fn ui_compile_fail() {
    if !on_pinned_compiler("ui_compile_fail") {
        return;
    }
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/fail/*.rs");
}

#[test]
fn ui_pass() {
    if !on_pinned_compiler("ui_pass") {
        return;
    }
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
}
