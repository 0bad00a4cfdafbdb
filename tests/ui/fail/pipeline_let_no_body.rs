// A `let+` with nothing after its `;`: the rest of the block is its body, and there is none.
use current::pipeline;
use current::term::Term;

fn nothing() -> Term<u32> {
    pipeline! {
        let a = Term::value(1u32);
        let+ x = a;
    }
}

fn main() {
    let _ = nothing();
}
