// The body of a `let+` makes a `u32`, but the pipeline is declared to make a `Term<String>`.
use current::pipeline;
use current::term::Term;

fn length() -> Term<String> {
    pipeline! {
        let name = Term::value("main".to_string());
        let+ n = name;
        n.len() as u32
    }
}

fn main() {
    let _ = length();
}
