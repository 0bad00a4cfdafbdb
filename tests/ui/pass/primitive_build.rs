// Build primitives: without a context, with a context by reference and by value, with
// no key, one key and several keys (by reference and by value), and a doc comment.
use current::job::Job;
use current::primitive;
use current::term::Term;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Commit(String);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Image {
    name: String,
    size: u64,
}

#[derive(Clone)]
pub struct Toolchain {
    name: String,
}

/// No context, one key.
#[primitive]
async fn fetch(job: &Job, url: String) -> Result<Commit, String> {
    job.log(format_args!("fetching {url}"));
    Ok(Commit(url))
}

/// No key at all.
#[primitive]
async fn today(_job: &Job) -> Result<String, String> {
    Ok("2024-01-01".to_string())
}

/// A context by reference, several keys, one by reference.
#[primitive]
pub async fn build(
    job: &Job,
    #[context] tools: &Toolchain,
    commit: &Commit,
    platform: String,
    release: bool,
) -> Result<Image, anyhow::Error> {
    job.log(format_args!("building {} on {platform} with {}", commit.0, tools.name));
    Ok(Image {
        name: format!("{}-{platform}-{release}", commit.0),
        size: 42,
    })
}

/// A context by value, and two contexts.
#[primitive]
async fn test(
    _job: &Job,
    #[context] tools: Toolchain,
    #[context] retries: &u32,
    image: Image,
) -> Result<(), std::io::Error> {
    let _ = (tools.name, retries, image.size);
    Ok(())
}

fn pipeline(tools: &Toolchain) -> Term<()> {
    let commit = fetch(&Term::value("https://example.org/repo".to_string()));
    let _date: Term<String> = today();
    let image: Term<Image> = build(
        tools,
        &commit,
        &Term::value("linux".to_string()),
        &Term::value(true),
    );
    test(tools.clone(), &3, &image)
}

fn main() {
    let _ = pipeline(&Toolchain {
        name: "rustc".to_string(),
    });
    // The body as written stays callable, for tests without the cache.
    let _ = build::body;
}
