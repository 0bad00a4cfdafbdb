// A primitive that is not `async`: its body runs as a job, so it must be an `async fn`.
use current::job::Job;
use current::primitive;

#[primitive]
fn build(_job: &Job, commit: String) -> Result<String, String> {
    Ok(commit)
}

fn main() {}
