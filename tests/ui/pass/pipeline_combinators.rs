// A tail expression built with `Term`'s combinators, and the pipeline's variables (a term,
// an outer value) used in several closures, each of which gets its own copy.
use current::pipeline;
use current::term::Term;

fn pipeline(prefix: &str) -> Term<()> {
    pipeline! {
        let prefix = prefix.to_string();
        let commit = Term::value("abc".to_string());
        let approved = Term::labelled("approval", ());
        let tagged = {
            let+ c = commit;
            format!("{prefix}-{c}")
        };
        let sized = {
            let+ c = commit;
            format!("{prefix}{}", c.len())
        };
        let deployed = {
            let* t = tagged;
            let again = commit.map(move |c| format!("{t}{c}"));
            again.pair(&sized).map(|_| ())
        };
        Term::all_labelled([("deploy", deployed.gate(&approved)), ("commit", commit.map(|_| ()))])
            .catch()
            .map(|r| r.unwrap_or(()))
    }
}

fn main() {
    let _ = pipeline("v");
}
