// A `publish` primitive with no parameter after the job: it needs the value to publish
// (its last parameter).
use current::job::Job;
use current::primitive;

#[primitive(publish)]
async fn push(_job: &Job) -> Result<(), String> {
    Ok(())
}

fn main() {}
