// A primitive with no return type at all.
use current::job::Job;
use current::primitive;

#[primitive]
async fn build(_job: &Job, commit: String) {
    let _ = commit;
}

fn main() {}
