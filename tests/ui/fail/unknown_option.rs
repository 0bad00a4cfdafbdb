// An option #[primitive] does not have (`retries`): the message lists the ones it has.
use current::job::Job;
use current::primitive;

#[primitive(level = Harmless, retries = 3)]
async fn build(_job: &Job, commit: String) -> Result<String, String> {
    Ok(commit)
}

fn main() {}
