// A parameter taken as `&mut T`: parameters are shared, so `&T` or `T`.
use current::job::Job;
use current::primitive;

#[primitive]
async fn build(_job: &Job, commit: &mut String) -> Result<String, String> {
    Ok(commit.clone())
}

fn main() {}
