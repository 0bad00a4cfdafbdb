// A primitive written as a method (with `self`): a primitive is a free function.
use current::job::Job;
use current::primitive;

struct Builder;

impl Builder {
    #[primitive]
    async fn build(&self, _job: &Job, commit: String) -> Result<String, String> {
        Ok(commit)
    }
}

fn main() {}
