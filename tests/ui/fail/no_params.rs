// A primitive with no parameters at all: the first one must be the job, `job: &Job`.
use current::primitive;

#[primitive]
async fn build() -> Result<String, String> {
    Ok("built".to_string())
}

fn main() {}
