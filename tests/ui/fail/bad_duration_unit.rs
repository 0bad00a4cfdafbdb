// A duration with a unit that is not one of ms, s, m, h, d (`valid_for = "5 minutes"`).
use current::job::Job;
use current::primitive;

#[primitive(valid_for = "5 minutes")]
async fn build(_job: &Job, commit: String) -> Result<String, String> {
    Ok(commit)
}

fn main() {}
