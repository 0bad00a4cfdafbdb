// An empty `id`.
use current::job::Job;
use current::primitive;

#[primitive(id = "  ")]
async fn build(_job: &Job, commit: String) -> Result<String, String> {
    Ok(commit)
}

fn main() {}
