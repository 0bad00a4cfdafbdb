// A binding not ended by `;` before its body.
use current::pipeline;
use current::term::Term;

fn double() -> Term<u32> {
    pipeline! {
        let a = Term::value(1u32);
        let+ x = a
        x * 2
    }
}

fn main() {
    let _ = double();
}
