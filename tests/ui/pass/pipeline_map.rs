// `let+` with one binding, and `let+ ... and+ ...` with several, including a tuple pattern.
use current::pipeline;
use current::term::Term;

fn one() -> Term<usize> {
    pipeline! {
        let name = Term::value("main".to_string());
        let+ n = name;
        n.len()
    }
}

fn three() -> Term<String> {
    pipeline! {
        let a = Term::value(1u32);
        let b = Term::value("b".to_string());
        let c = Term::value((true, 'c'));
        let+ x = a
        and+ y = b
        and+ (flag, letter) = c;
        format!("{x}{y}{flag}{letter}")
    }
}

fn nested() -> Term<u32> {
    pipeline! {
        let a = Term::value(1u32);
        let+ x = a.map(|v| v + 1);
        let y = x * 10;
        y + 1
    }
}

fn main() {
    let _ = (one(), three(), nested());
}
