// `publish = true`: `publish` is a flag written alone.
use current::job::Job;
use current::primitive;

#[primitive(publish = true)]
async fn push(_job: &Job, tag: String, image: String) -> Result<(), String> {
    let _ = (tag, image);
    Ok(())
}

fn main() {}
