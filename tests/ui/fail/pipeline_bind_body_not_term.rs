// The body of a `let*` must make a `Term` (the pipeline to run next); this one makes a
// plain value.
use current::pipeline;
use current::term::Term;

fn next() -> Term<u32> {
    pipeline! {
        let a = Term::value(1u32);
        let* x = a;
        x + 1
    }
}

fn main() {
    let _ = next();
}
