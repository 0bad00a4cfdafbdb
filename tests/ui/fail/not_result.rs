// A primitive that returns a plain value, not a `Result`.
use current::job::Job;
use current::primitive;

#[primitive]
async fn build(_job: &Job, commit: String) -> String {
    commit
}

fn main() {}
