// Primitives called inside a pipeline, with a context from outside, their terms used by
// `let*`, and a publish step at the end (the shape of `examples/scratch.rs`).
use current::job::Job;
use current::term::Term;
use current::{pipeline, primitive};
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize, Debug, PartialEq)]
pub struct Image(String);

#[derive(Clone)]
pub struct Toolchain {
    pub name: String,
}

#[primitive(level = Harmless, timeout = "10m")]
pub async fn build(job: &Job, #[context] tools: &Toolchain, commit: String) -> Result<Image, String> {
    job.log(format_args!("building {commit} with {}", tools.name));
    Ok(Image(format!("{}:{commit}", tools.name)))
}

#[primitive(publish)]
async fn push(_job: &Job, tag: String, image: Image) -> anyhow::Result<u32> {
    Ok(tag.len() as u32 + image.0.len() as u32)
}

pub fn ci(tools: &Toolchain) -> Term<u32> {
    pipeline! {
        let tools = tools.clone();
        let commit = Term::value("abc".to_string());
        let image = build(&tools, &commit);
        let* i = image;
        let tag = Term::value(format!("{}-tag", i.0));
        push(&tag, &image)
    }
}

fn main() {
    let _ = ci(&Toolchain {
        name: "rustc".into(),
    });
}
