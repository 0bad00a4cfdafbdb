// The same option given twice.
use current::job::Job;
use current::primitive;

#[primitive(timeout = "10m", level = Harmless, timeout = "1h")]
async fn build(_job: &Job, commit: String) -> Result<String, String> {
    Ok(commit)
}

fn main() {}
