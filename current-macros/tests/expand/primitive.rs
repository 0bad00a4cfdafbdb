use current::job::Job;

/// Build a commit; cached per commit, rebuilt when the commit changes.
#[primitive(level = Average, timeout = "10m", valid_for = "1d")]
pub async fn build(job: &Job, #[context] tools: &Toolchain, commit: Commit, target: &String) -> Result<Image, BuildError> {
    job.log(format_args!("building {} for {target}", commit.hash));
    tools.build(&commit, target).await
}

/// Publish an image under a tag.
#[primitive(publish, auto_cancel)]
async fn push(_job: &Job, tag: String, image: Image) -> anyhow::Result<String> {
    Ok(format!("{tag}@{}", image.digest))
}
