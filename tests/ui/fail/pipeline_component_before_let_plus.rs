// `component` before a `let+`: only a `let>` or a `let*` is a box that can be labelled.
use current::pipeline;
use current::term::Term;

fn double() -> Term<u32> {
    pipeline! {
        let a = Term::value(1u32);
        component "double";
        let+ x = a;
        x * 2
    }
}

fn main() {
    let _ = double();
}
