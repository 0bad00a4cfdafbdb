// The second binding of a `let+ ... and+` is a plain number, not a `Term`.
use current::pipeline;
use current::term::Term;

fn sum() -> Term<u32> {
    pipeline! {
        let a = Term::value(1u32);
        let+ x = a
        and+ y = 2u32;
        x + y
    }
}

fn main() {
    let _ = sum();
}
