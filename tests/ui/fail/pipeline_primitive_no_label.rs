// A `let>` without `component "label";` before it: each `let>` is a labelled box.
use current::pipeline;
use current::term::Term;

fn checked() -> Term<u32> {
    pipeline! {
        let n = Term::value(3u32);
        let> x = n;
        Ok::<u32, String>(x + 1)
    }
}

fn main() {
    let _ = checked();
}
