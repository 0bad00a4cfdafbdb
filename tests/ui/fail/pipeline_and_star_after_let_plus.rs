// `and*` after a `let+`: the bindings of one `let+` are joined with `and+`.
use current::pipeline;
use current::term::Term;

fn sum() -> Term<u32> {
    pipeline! {
        let a = Term::value(1u32);
        let b = Term::value(2u32);
        let+ x = a
        and* y = b;
        x + y
    }
}

fn main() {
    let _ = sum();
}
