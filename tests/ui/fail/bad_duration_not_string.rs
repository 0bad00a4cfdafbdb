// A duration written as a number instead of a string (`timeout = 10`).
use current::job::Job;
use current::primitive;

#[primitive(timeout = 10)]
async fn build(_job: &Job, commit: String) -> Result<String, String> {
    Ok(commit)
}

fn main() {}
