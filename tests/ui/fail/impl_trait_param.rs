// A parameter of type `impl Trait`: parameters need concrete types.
use current::job::Job;
use current::primitive;

#[primitive]
async fn build(_job: &Job, commit: impl ToString) -> Result<String, String> {
    Ok(commit.to_string())
}

fn main() {}
