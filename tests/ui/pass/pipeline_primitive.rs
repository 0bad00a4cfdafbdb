// `let>` with `component`: a plain label, a label whose format string captures a
// variable, and one with explicit format arguments; bodies returning `Ok` and `Err`.
use current::pipeline;
use current::term::Term;

fn check(platform: &str) -> Term<u32> {
    pipeline! {
        let platform = platform.to_string();
        let n = Term::value(3u32);
        component "check {platform}";
        let> x = n;
        if x > 2 {
            Ok(x)
        } else {
            Err(format!("{x} is too small on {platform}"))
        }
    }
}

fn plain() -> Term<String> {
    pipeline! {
        let a = Term::value(1u32);
        let b = Term::value(2u32);
        component "add"
        let> x = a
        and> y = b;
        Ok::<_, std::io::Error>(format!("{}", x + y))
    }
}

fn with_args(n: usize) -> Term<usize> {
    pipeline! {
        let n = n;
        let list = Term::value(vec![1, 2, 3]);
        component "count {} of {}", n, "list";
        let> items = list;
        anyhow::Ok(items.len() + n)
    }
}

fn main() {
    let _ = (check("linux"), plain(), with_args(2));
}
