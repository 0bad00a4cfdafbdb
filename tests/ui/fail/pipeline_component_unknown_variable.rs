// A `component` label whose format string names a variable that does not exist.
use current::pipeline;
use current::term::Term;

fn checked() -> Term<u32> {
    pipeline! {
        let n = Term::value(3u32);
        component "check {platform}";
        let> x = n;
        Ok::<u32, String>(x + 1)
    }
}

fn main() {
    let _ = checked();
}
