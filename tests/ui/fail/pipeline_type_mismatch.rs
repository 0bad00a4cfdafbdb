// A binding's value is used as the wrong type: `n` is a `u32` (from a `Term<u32>`) but
// is used as a `String`.
use current::pipeline;
use current::term::Term;

fn shout(s: String) -> String {
    s.to_uppercase()
}

fn loud() -> Term<String> {
    pipeline! {
        let count = Term::value(3u32);
        let+ n = count;
        shout(n)
    }
}

fn main() {
    let _ = loud();
}
