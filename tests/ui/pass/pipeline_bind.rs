// `let*` with and without `component`, and `and*`.
use current::pipeline;
use current::term::Term;

fn platforms() -> Term<Vec<String>> {
    Term::value(vec!["linux".to_string(), "macos".to_string()])
}

fn unlabelled() -> Term<usize> {
    pipeline! {
        let list = platforms();
        let* ps = list;
        Term::value(ps.len())
    }
}

fn labelled() -> Term<String> {
    pipeline! {
        let list = platforms();
        let suffix = Term::value("!".to_string());
        component "choose";
        let* ps = list
        and* s = suffix;
        let first = ps.first().cloned().unwrap_or_default();
        Term::value(format!("{first}{s}"))
    }
}

fn main() {
    let _ = (unlabelled(), labelled());
}
