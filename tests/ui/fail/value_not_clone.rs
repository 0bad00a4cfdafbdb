// A primitive whose value (the `Ok` type) is not `Clone`: a term's value is shared.
use current::job::Job;
use current::primitive;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Image(String);

#[primitive]
async fn build(_job: &Job, commit: String) -> Result<Image, String> {
    Ok(Image(commit))
}

fn main() {}
