// A key parameter whose type is `Serialize` but not `Clone`.
use current::job::Job;
use current::primitive;
use serde::Serialize;

#[derive(Serialize)]
struct Commit(String);

#[primitive]
async fn build(_job: &Job, commit: &Commit) -> Result<String, String> {
    Ok(commit.0.clone())
}

fn main() {}
