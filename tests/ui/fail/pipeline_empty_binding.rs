// A `let+` that binds nothing (`let+ ;`).
use current::pipeline;
use current::term::Term;

fn nothing() -> Term<u32> {
    pipeline! {
        let+ ;
        1
    }
}

fn main() {
    let _ = nothing();
}
