// A context that is not `Clone`: the primitive keeps its own copy of the context.
use current::job::Job;
use current::primitive;

struct Toolchain {
    name: String,
}

#[primitive]
async fn build(_job: &Job, #[context] tools: &Toolchain, commit: String) -> Result<String, String> {
    Ok(format!("{}:{commit}", tools.name))
}

fn main() {}
