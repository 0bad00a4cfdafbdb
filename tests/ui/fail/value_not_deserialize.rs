// A primitive whose value is not `Deserialize`: finished results are stored and read back.
use current::job::Job;
use current::primitive;
use serde::Serialize;

#[derive(Clone, Serialize)]
struct Image(String);

#[primitive]
async fn build(_job: &Job, commit: String) -> Result<Image, String> {
    Ok(Image(commit))
}

fn main() {}
