// A generic primitive: its stored results need one key type and one value type.
use current::job::Job;
use current::primitive;

#[primitive]
async fn build<T: ToString>(_job: &Job, commit: T) -> Result<String, String> {
    Ok(commit.to_string())
}

fn main() {}
