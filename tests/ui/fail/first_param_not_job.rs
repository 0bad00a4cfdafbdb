// A primitive whose first parameter is a key, not the job: `job: &Job` comes first.
use current::job::Job;
use current::primitive;

#[primitive]
async fn build(commit: String, _job: &Job) -> Result<String, String> {
    Ok(commit)
}

fn main() {}
