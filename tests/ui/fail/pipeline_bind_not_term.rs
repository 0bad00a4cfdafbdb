// `let+` binds a plain value (a `String`), not a `Term`: the error points at that
// expression.
use current::pipeline;
use current::term::Term;

fn label() -> Term<String> {
    let name = "main".to_string();
    pipeline! {
        let+ n = name;
        n.len().to_string()
    }
}

fn main() {
    let _ = label();
}
