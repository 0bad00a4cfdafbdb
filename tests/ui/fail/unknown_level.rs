// A level that `current::Level` does not have (`Risky`): the message lists the levels.
use current::job::Job;
use current::primitive;

#[primitive(level = Risky)]
async fn build(_job: &Job, commit: String) -> Result<String, String> {
    Ok(commit)
}

fn main() {}
