// A primitive that takes its job by value: the job is borrowed, `job: &Job`.
use current::job::Job;
use current::primitive;

#[primitive]
async fn build(_job: Job, commit: String) -> Result<String, String> {
    Ok(commit)
}

fn main() {}
