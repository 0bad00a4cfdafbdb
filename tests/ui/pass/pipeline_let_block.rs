// A plain `let` of a nested pipeline block (with and without a type), whose bindings
// stay inside it, and ordinary Rust statements between bindings.
use current::pipeline;
use current::term::Term;

fn pipeline() -> Term<String> {
    pipeline! {
        let base = Term::value(10u32);
        let doubled = {
            let+ b = base;
            b * 2
        };
        let named: Term<String> = {
            let name = Term::value("n".to_string());
            let+ n = name
            and+ b = base;
            format!("{n}{b}")
        };
        let unused = 5;
        let _ = unused;
        let+ d = doubled
        and+ n = named;
        format!("{n}={d}")
    }
}

fn main() {
    let _ = pipeline();
}
