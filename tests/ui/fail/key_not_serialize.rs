// A key parameter whose type is not `Serialize`: keys are stored, so they must serialize.
// The error points at the type of that parameter.
use current::job::Job;
use current::primitive;

#[derive(Clone)]
struct Commit(String);

#[primitive]
async fn build(_job: &Job, name: String, commit: Commit) -> Result<String, String> {
    Ok(format!("{name}:{}", commit.0))
}

fn main() {}
