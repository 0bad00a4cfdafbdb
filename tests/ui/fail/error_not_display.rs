// A primitive whose error type does not implement `Display`: a failed job shows its error.
use current::job::Job;
use current::primitive;

#[derive(Debug)]
struct BuildError;

#[primitive]
async fn build(_job: &Job, commit: String) -> Result<String, BuildError> {
    Ok(commit)
}

fn main() {}
