// The body of a `let>` must be a `Result` (its error fails the box); this one is a number.
use current::pipeline;
use current::term::Term;

fn checked() -> Term<u32> {
    pipeline! {
        let n = Term::value(3u32);
        component "check";
        let> x = n;
        x + 1
    }
}

fn main() {
    let _ = checked();
}
